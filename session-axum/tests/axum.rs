//! axum-specific behaviour: missing layer, route_layer, nesting, State,
//! other extractors, streaming bodies and a real TCP server.

use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::extract::{Path, State};
use axum::http::{Request, StatusCode, header};
use axum::routing::{get, post};
use axum::{Json, Router};
use session_axum::{Session, SessionLayer};
use session_core::{MemoryStore, Secure, SessionConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt;

fn config() -> SessionConfig {
    SessionConfig::builder()
        .key(session_core::test_key("key 7"))
        .secure(Secure::Auto)
        .build()
        .unwrap()
}

async fn call(app: &Router, req: Request<Body>) -> (StatusCode, Vec<String>, String) {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let cookies = res
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let body = String::from_utf8(
        to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec(),
    )
    .unwrap();
    (status, cookies, body)
}

fn get_req(path: &str, cookie: Option<&str>) -> Request<Body> {
    let mut b = Request::get(path);
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, c);
    }
    b.body(Body::empty()).unwrap()
}

fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

async fn count(session: Session) -> Result<String, session_axum::Error> {
    Ok(session
        .update("n", |n: Option<u64>| n.unwrap_or(0) + 1)
        .await?
        .to_string())
}

#[tokio::test]
async fn extractor_without_layer_is_a_500_naming_the_layer() {
    let app = Router::new().route("/", get(count));
    let (status, cookies, body) = call(&app, get_req("/", None)).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(body.contains("SessionLayer"), "{body}");
    assert!(cookies.is_empty());
}

#[tokio::test]
async fn route_layer_and_nested_routers() {
    let store = MemoryStore::new();
    let inner = Router::new().route("/count", get(count));
    let app = Router::new()
        .nest("/api", inner)
        .route("/plain", get(|| async { "plain" }))
        .route_layer(SessionLayer::new(config(), store));
    let (status, cookies, body) = call(&app, get_req("/api/count", None)).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "1"));
    let cookie = pair(&cookies[0]);
    let (_, _, body) = call(&app, get_req("/api/count", Some(&cookie))).await;
    assert_eq!(body, "2");
    // Unmatched routes do not reach the route layer.
    let (status, cookies, _) = call(&app, get_req("/missing", None)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(cookies.is_empty());
}

/// Cookie-path scoping sees the path the client sent: a layer inside a
/// router nested at `/scoped` (which strips the prefix) with
/// `path("/scoped")` still works there, and a layer over the whole app
/// gives no session outside `/scoped` (nor at `/scopedx`).
#[tokio::test]
async fn cookie_path_scoping_sees_the_original_path() {
    let scoped = || {
        SessionConfig::builder()
            .key(session_core::test_key("axum scoping"))
            .secure(Secure::Auto)
            .path("/scoped")
            .build()
            .unwrap()
    };
    let inner = Router::new()
        .route("/count", get(count))
        .layer(SessionLayer::new(scoped(), MemoryStore::new()));
    let app = Router::new().nest("/scoped", inner);
    let (status, cookies, body) = call(&app, get_req("/scoped/count", None)).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "1"));
    assert!(cookies[0].contains("Path=/scoped"), "{cookies:?}");
    let cookie = pair(&cookies[0]);
    let (_, _, body) = call(&app, get_req("/scoped/count", Some(&cookie))).await;
    assert_eq!(body, "2");

    let app = Router::new()
        .route("/scoped/count", get(count))
        .route("/scopedx/count", get(count))
        .route("/other/count", get(count))
        .layer(SessionLayer::new(scoped(), MemoryStore::new()));
    for path in ["/other/count", "/scopedx/count"] {
        let (status, cookies, _) = call(&app, get_req(path, None)).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{path}");
        assert!(cookies.is_empty(), "{path}: {cookies:?}");
    }
    let (status, cookies, _) = call(&app, get_req("/scoped/count", None)).await;
    assert_eq!((status, cookies.len()), (StatusCode::OK, 1));
}

#[derive(Clone)]
struct AppState {
    greeting: Arc<str>,
}

#[tokio::test]
async fn state_and_other_extractors() {
    async fn handler(
        State(state): State<AppState>, session: Session, Path(name): Path<String>,
        Json(body): Json<serde_json::Value>,
    ) -> Result<String, session_axum::Error> {
        session.insert("name", &name).await?;
        session.insert("body", body).await?;
        Ok(format!("{} {name}", state.greeting))
    }
    async fn read(session: Session) -> Result<Json<serde_json::Value>, session_axum::Error> {
        Ok(Json(serde_json::Value::Object(session.entries().await?)))
    }
    let app = Router::new()
        .route("/hello/{name}", post(handler))
        .route("/read", get(read))
        .with_state(AppState {
            greeting: "hello".into(),
        })
        .layer(SessionLayer::new(config(), MemoryStore::new()));
    let req = Request::post("/hello/ada")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(r#"{"x":1}"#))
        .unwrap();
    let (status, cookies, body) = call(&app, req).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "hello ada"));
    let (_, _, body) = call(&app, get_req("/read", Some(&pair(&cookies[0])))).await;
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap(),
        serde_json::json!({"name": "ada", "body": {"x": 1}})
    );
}

#[tokio::test]
async fn streaming_body_keeps_the_session_write() {
    async fn stream(session: Session) -> Result<Body, session_axum::Error> {
        session.insert("streamed", true).await?;
        let chunks = ["a", "b", "c"].map(|c| Ok::<_, std::io::Error>(c.to_owned()));
        Ok(Body::from_stream(futures_util::stream::iter(chunks)))
    }
    async fn read(session: Session) -> Result<String, session_axum::Error> {
        Ok(format!("{:?}", session.get::<bool>("streamed").await?))
    }
    let app = Router::new()
        .route("/stream", get(stream))
        .route("/read", get(read))
        .layer(SessionLayer::new(config(), MemoryStore::new()));
    let (status, cookies, body) = call(&app, get_req("/stream", None)).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "abc"));
    let (_, _, body) = call(&app, get_req("/read", Some(&pair(&cookies[0])))).await;
    assert_eq!(body, "Some(true)");
}

async fn raw_http(addr: std::net::SocketAddr, request: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    stream.read_to_end(&mut out).await.unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn serves_sessions_over_a_real_tcp_listener() {
    let app = Router::new()
        .route("/", get(count))
        .layer(SessionLayer::new(config(), MemoryStore::new()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await
            .unwrap();
    });
    let first = raw_http(
        addr,
        "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    assert!(first.ends_with("\r\n\r\n1"), "{first}");
    let set_cookie = first
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .expect("set-cookie");
    assert!(set_cookie.contains("HttpOnly"));
    let cookie = pair(set_cookie);
    let second = raw_http(
        addr,
        &format!(
            "GET / HTTP/1.1\r\nHost: localhost\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
        ),
    )
    .await;
    assert!(second.ends_with("\r\n\r\n2"), "{second}");
    tx.send(()).unwrap();
    server.await.unwrap();
}

#[tokio::test]
async fn secure_auto_trusts_forwarded_proto_only_when_configured() {
    let trusting = SessionConfig::builder()
        .key(session_core::test_key("key 7"))
        .secure(Secure::Auto)
        .trust_proxy(true)
        .build()
        .unwrap();
    for (config, secure) in [(config(), false), (trusting, true)] {
        let app = Router::new()
            .route("/", get(count))
            .layer(SessionLayer::new(config, MemoryStore::new()));
        let req = Request::get("/")
            .header("x-forwarded-proto", "https")
            .body(Body::empty())
            .unwrap();
        let (_, cookies, _) = call(&app, req).await;
        assert_eq!(cookies[0].contains("Secure"), secure, "{}", cookies[0]);
    }
}
