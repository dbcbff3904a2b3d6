//! actix-web specific behaviour of the adapter: what the shared scenario
//! suite cannot see (missing middleware, scopes, `web::Data`, other
//! extractors, streaming bodies, a real `HttpServer` on a loopback port).

use std::rc::Rc;

use actix_web::http::{StatusCode, header};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, test, web};
use futures_util::stream;
use session_actix::{Session, SessionMiddleware};
use session_core::testing::http::KEY;
use session_core::{MemoryStore, Secure, SessionConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

type R = Result<HttpResponse, session_actix::Error>;

fn config() -> SessionConfig {
    SessionConfig::builder()
        .key(KEY)
        .secure(Secure::Auto)
        .build()
        .expect("config")
}

fn sessions() -> SessionMiddleware {
    SessionMiddleware::new(config(), MemoryStore::new())
}

/// Our `Set-Cookie` (`id=...`) of a response, if any.
fn our_cookie(headers: &actix_web::http::header::HeaderMap) -> Option<String> {
    headers
        .get_all(header::SET_COOKIE)
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("id="))
        .map(str::to_owned)
}

/// The `name=value` pair of a `Set-Cookie` value, to send back as `Cookie`.
fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap_or_default().to_owned()
}

async fn incr(session: Session) -> R {
    let n = session
        .update("n", |n: Option<u64>| n.unwrap_or(0) + 1)
        .await?;
    Ok(HttpResponse::Ok().body(n.to_string()))
}

async fn read_n(session: Session) -> R {
    let n: Option<u64> = session.get("n").await?;
    Ok(HttpResponse::Ok().body(serde_json::to_string(&n).unwrap_or_default()))
}

#[actix_web::test]
async fn missing_middleware_is_a_500_naming_it() {
    let app = test::init_service(App::new().route("/", web::post().to(incr))).await;
    let res = test::call_service(&app, test::TestRequest::post().uri("/").to_request()).await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(our_cookie(res.headers()).is_none());
    let body = test::read_body(res).await;
    let body = String::from_utf8_lossy(&body);
    assert!(body.contains("SessionMiddleware"), "{body}");
}

#[derive(serde::Deserialize, serde::Serialize)]
struct Login {
    name: String,
}

struct AppState {
    greeting: &'static str,
}

async fn login(
    session: Session, state: web::Data<AppState>, tenant: web::Path<String>, body: web::Json<Login>,
) -> R {
    session.insert("user", &body.name).await?;
    session.insert("tenant", tenant.as_str()).await?;
    Ok(HttpResponse::Ok().body(format!("{}, {}", state.greeting, body.name)))
}

async fn whoami(session: Session, state: web::Data<AppState>) -> R {
    let user: Option<String> = session.get("user").await?;
    let tenant: Option<String> = session.get("tenant").await?;
    Ok(HttpResponse::Ok().body(format!(
        "{} {}@{}",
        state.greeting,
        user.unwrap_or_default(),
        tenant.unwrap_or_default()
    )))
}

/// Cookie-path scoping inside a `web::scope`: the middleware sees the
/// whole path, so `path("/scoped")` works in a scope at `/scoped`, and an
/// app-wide middleware gives no session outside it (nor at `/scopedx`).
#[actix_web::test]
async fn cookie_path_scoping_in_a_scope() {
    let scoped = || {
        SessionMiddleware::builder(MemoryStore::new(), session_core::test_key("actix scoping"))
            .cookie_secure(false)
            .cookie_path("/scoped")
            .build()
            .unwrap()
    };
    let app = test::init_service(
        App::new().service(
            web::scope("/scoped")
                .wrap(scoped())
                .route("/incr", web::post().to(incr)),
        ),
    )
    .await;
    let res = test::call_service(
        &app,
        test::TestRequest::post().uri("/scoped/incr").to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let set = our_cookie(res.headers()).expect("a cookie in the scope");
    assert!(set.contains("Path=/scoped"), "{set}");

    let app = test::init_service(
        App::new()
            .wrap(scoped())
            .route("/scoped/incr", web::post().to(incr))
            .route("/scopedx/incr", web::post().to(incr))
            .route("/other/incr", web::post().to(incr)),
    )
    .await;
    for path in ["/other/incr", "/scopedx/incr"] {
        let res = test::call_service(&app, test::TestRequest::post().uri(path).to_request()).await;
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR, "{path}");
        assert!(our_cookie(res.headers()).is_none(), "{path}");
    }
}

#[actix_web::test]
async fn works_in_a_scope_with_data_json_and_path() {
    let app = test::init_service(
        App::new()
            .app_data(web::Data::new(AppState { greeting: "hello" }))
            .service(
                web::scope("/api")
                    .wrap(sessions())
                    .route("/{tenant}/login", web::post().to(login))
                    .route("/whoami", web::get().to(whoami)),
            )
            // Outside the scope: no middleware.
            .route("/whoami", web::get().to(whoami)),
    )
    .await;
    let req = test::TestRequest::post()
        .uri("/api/acme/login")
        .set_json(Login { name: "ada".into() })
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = pair(&our_cookie(res.headers()).expect("session cookie"));
    assert_eq!(test::read_body(res).await, "hello, ada");

    let req = test::TestRequest::get()
        .uri("/api/whoami")
        .insert_header((header::COOKIE, cookie.clone()))
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(test::read_body(res).await, "hello ada@acme");

    // A bad JSON body is rejected by the Json extractor; nothing is stored.
    let req = test::TestRequest::post()
        .uri("/api/acme/login")
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .set_payload("{")
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(our_cookie(res.headers()).is_none());

    // Outside the wrapped scope the extractor names the missing middleware.
    let req = test::TestRequest::get()
        .uri("/whoami")
        .insert_header((header::COOKIE, cookie))
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = test::read_body(res).await;
    assert!(String::from_utf8_lossy(&body).contains("SessionMiddleware"));
}

async fn streaming(session: Session) -> R {
    session.insert("streamed", true).await?;
    let chunks = ["one ", "two ", "three"]
        .into_iter()
        .map(|c| Ok::<_, actix_web::Error>(web::Bytes::from_static(c.as_bytes())));
    Ok(HttpResponse::Ok().streaming(stream::iter(chunks)))
}

async fn read_streamed(session: Session) -> R {
    let v: Option<bool> = session.get("streamed").await?;
    Ok(HttpResponse::Ok().body(serde_json::to_string(&v).unwrap_or_default()))
}

#[actix_web::test]
async fn streaming_body_keeps_the_session_write() {
    let app = test::init_service(
        App::new()
            .wrap(sessions())
            .route("/stream", web::get().to(streaming))
            .route("/read", web::get().to(read_streamed)),
    )
    .await;
    let res = test::call_service(&app, test::TestRequest::get().uri("/stream").to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = pair(&our_cookie(res.headers()).expect("session cookie"));
    assert_eq!(test::read_body(res).await, "one two three");
    let req = test::TestRequest::get()
        .uri("/read")
        .insert_header((header::COOKIE, cookie))
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(test::read_body(res).await, "true");
}

/// A handler holding a non-`Send` value across session awaits: actix-web
/// handlers need not be `Send`, and the adapter asks for nothing more.
async fn not_send(session: Session) -> R {
    let local = Rc::new(41u64);
    session.insert("local", *local + 1).await?;
    let v: Option<u64> = session.get("local").await?;
    Ok(HttpResponse::Ok().body(format!(
        "{}/{}",
        v.unwrap_or_default(),
        Rc::strong_count(&local)
    )))
}

async fn fails_after_write(session: Session) -> Result<HttpResponse, actix_web::Error> {
    session
        .insert("written", true)
        .await
        .map_err(session_actix::Error::from)?;
    Err(actix_web::error::ErrorBadRequest("handler said no"))
}

async fn written(session: Session) -> R {
    let v: Option<bool> = session.get("written").await?;
    Ok(HttpResponse::Ok().body(serde_json::to_string(&v).unwrap_or_default()))
}

async fn via_request(req: HttpRequest) -> R {
    let Some(session) = Session::of(&req) else {
        return Ok(HttpResponse::InternalServerError().body("no session"));
    };
    session.insert("via", "request").await?;
    Ok(HttpResponse::Ok().body("ok"))
}

#[actix_web::test]
async fn non_send_handlers_handler_errors_and_session_of_request() {
    let app = test::init_service(
        App::new()
            .wrap(sessions())
            .route("/local", web::post().to(not_send))
            .route("/fail", web::post().to(fails_after_write))
            .route("/written", web::get().to(written))
            .route("/via", web::post().to(via_request)),
    )
    .await;
    let res = test::call_service(&app, test::TestRequest::post().uri("/local").to_request()).await;
    assert!(our_cookie(res.headers()).is_some());
    assert_eq!(test::read_body(res).await, "42/1");

    // A handler error is a response in actix-web: the session write before
    // it is kept and the cookie rides on the error response.
    let res = test::call_service(&app, test::TestRequest::post().uri("/fail").to_request()).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let cookie = pair(&our_cookie(res.headers()).expect("cookie on the error response"));
    let req = test::TestRequest::get()
        .uri("/written")
        .insert_header((header::COOKIE, cookie))
        .to_request();
    assert_eq!(
        test::read_body(test::call_service(&app, req).await).await,
        "true"
    );

    let res = test::call_service(&app, test::TestRequest::post().uri("/via").to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(our_cookie(res.headers()).is_some());
}

#[actix_web::test]
async fn builder_mirrors_actix_session_names() {
    let middleware = SessionMiddleware::builder(MemoryStore::new(), KEY)
        .cookie_name("sid")
        .cookie_secure(false)
        .cookie_http_only(true)
        .cookie_same_site(session_core::SameSite::Strict)
        .cookie_path("/")
        .cookie_domain(None)
        .idle_timeout(Some(time::Duration::minutes(5)))
        .config(|c| c.rolling(true))
        .build()
        .expect("valid builder");
    assert!(middleware.manager().config().touch_policy() == session_core::TouchPolicy::Always);
    let app =
        test::init_service(App::new().wrap(middleware).route("/", web::post().to(incr))).await;
    let res = test::call_service(&app, test::TestRequest::post().uri("/").to_request()).await;
    let sc = res
        .headers()
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .expect("cookie")
        .to_owned();
    assert!(sc.starts_with("sid="), "{sc}");
    assert!(
        sc.contains("SameSite=Strict") && sc.contains("HttpOnly"),
        "{sc}"
    );
    assert!(sc.contains("Max-Age=300") && !sc.contains("Secure"), "{sc}");

    // A short key is a typed configuration error, not a panic.
    let err = SessionMiddleware::builder(MemoryStore::new(), [1u8; 8])
        .build()
        .expect_err("short key");
    assert!(
        matches!(err, session_core::ConfigError::Key { .. }),
        "{err:?}"
    );
}

#[actix_web::test]
async fn forwarded_proto_is_trusted_only_when_configured() {
    for trust in [false, true] {
        let config = SessionConfig::builder()
            .key(KEY)
            .secure(Secure::Auto)
            .trust_proxy(trust)
            .build()
            .expect("config");
        let app = test::init_service(
            App::new()
                .wrap(SessionMiddleware::new(config, MemoryStore::new()))
                .route("/", web::post().to(incr)),
        )
        .await;
        let req = test::TestRequest::post()
            .uri("/")
            .insert_header(("x-forwarded-proto", "https"))
            .to_request();
        let res = test::call_service(&app, req).await;
        let sc = our_cookie(res.headers()).expect("cookie");
        assert_eq!(sc.contains("Secure"), trust, "trust_proxy={trust}: {sc}");
        // actix's `Forwarded` header is not a trust signal for the core.
        let req = test::TestRequest::post()
            .uri("/")
            .insert_header(("forwarded", "proto=https"))
            .to_request();
        let res = test::call_service(&app, req).await;
        let sc = our_cookie(res.headers()).expect("cookie");
        assert!(!sc.contains("Secure"), "Forwarded trusted: {sc}");
    }
}

/// One raw HTTP/1.1 exchange over loopback; returns (status line, headers,
/// body).
async fn raw_request(
    addr: std::net::SocketAddr, request: &str,
) -> (String, Vec<(String, String)>, String) {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut buf = Vec::new();
        stream.read_to_end(&mut buf).await.expect("read");
        buf
    };
    // A guard against a hung server, not a timing assertion.
    let buf = tokio::time::timeout(std::time::Duration::from_secs(30), exchange)
        .await
        .expect("server answered");
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("HTTP response");
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or_default().to_owned();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

#[actix_web::test]
async fn real_http_server_on_a_loopback_port() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    let sessions = sessions();
    let server = HttpServer::new(move || {
        App::new()
            .wrap(sessions.clone())
            .route("/incr", web::post().to(incr))
            .route("/n", web::get().to(read_n))
    })
    .workers(2)
    .disable_signals()
    .listen(listener)
    .expect("listen")
    .run();
    let handle = server.handle();
    let running = actix_web::rt::spawn(server);

    let (status, headers, body) = raw_request(
        addr,
        &format!(
            "POST /incr HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        ),
    )
    .await;
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    assert_eq!(body, "1");
    let set_cookie = headers
        .iter()
        .find(|(n, v)| n == "set-cookie" && v.starts_with("id="))
        .map(|(_, v)| v.clone())
        .expect("Set-Cookie from the real server");
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    assert!(
        !set_cookie.contains("Secure"),
        "plain http with Secure::Auto: {set_cookie}"
    );
    let cookie = pair(&set_cookie);

    let (status, headers, body) = raw_request(
        addr,
        &format!(
            "GET /n HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
        ),
    )
    .await;
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    assert_eq!(body, "1", "second request did not read the value back");
    assert!(
        !headers.iter().any(|(n, _)| n == "set-cookie"),
        "a read re-sent the cookie: {headers:?}"
    );

    handle.stop(true).await;
    running.await.expect("server task").expect("server exit");
}

#[actix_web::test]
async fn an_inner_middleware_error_saves_nothing() {
    use actix_web::dev::Service as _;
    let app = test::init_service(
        App::new()
            // Inside the session middleware (`wrap` order: last is outermost).
            .wrap_fn(|req, srv| {
                let fail = req.path() == "/fail";
                let fut = srv.call(req);
                async move {
                    let res = fut.await?;
                    if fail {
                        return Err(actix_web::error::ErrorForbidden("inner middleware said no"));
                    }
                    Ok(res)
                }
            })
            .wrap(sessions())
            .route("/fail", web::post().to(incr))
            .route("/incr", web::post().to(incr))
            .route("/n", web::get().to(read_n)),
    )
    .await;
    let res = test::call_service(&app, test::TestRequest::post().uri("/incr").to_request()).await;
    let cookie = pair(&our_cookie(res.headers()).expect("cookie"));
    let req = test::TestRequest::post()
        .uri("/fail")
        .insert_header((header::COOKIE, cookie.clone()))
        .to_request();
    let Err(err) = test::try_call_service(&app, req).await else {
        panic!("the inner error was not passed on");
    };
    assert_eq!(err.as_response_error().status_code(), StatusCode::FORBIDDEN);
    let req = test::TestRequest::get()
        .uri("/n")
        .insert_header((header::COOKIE, cookie))
        .to_request();
    assert_eq!(
        test::read_body(test::call_service(&app, req).await).await,
        "1"
    );
}
