//! Rocket-specific behaviour of the adapter: the guard without the fairing,
//! Rocket's own cookie jar, error statuses, streaming responders, Rocket's
//! tracked local client, and a real server on loopback.

use rocket::fairing::AdHoc;
use rocket::http::{ContentType, Cookie, CookieJar, Header, Status};
use rocket::local::asynchronous::{Client, LocalResponse};
use rocket::response::stream::{ByteStream, TextStream};
use rocket::{Build, Rocket, get, post, routes};
use session_core::{MemoryStore, SessionConfig};
use session_rocket::{MissingFairing, Session, SessionFairing};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

type R<T> = Result<T, session_rocket::Error>;

fn config() -> SessionConfig {
    session_core::testing::http::base_config()
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

#[post("/jar")]
async fn jar(session: Session, cookies: &CookieJar<'_>) -> R<&'static str> {
    cookies.add(("plain", "p"));
    cookies.add_private(("secret", "s"));
    session.insert("k", 1).await?;
    Ok("ok")
}

#[get("/jar")]
async fn read_jar(session: Session, cookies: &CookieJar<'_>) -> R<String> {
    let plain = cookies.get("plain").map(|c| c.value().to_owned());
    let secret = cookies.get_private("secret").map(|c| c.value().to_owned());
    let k: Option<i64> = session.get("k").await?;
    Ok(format!("{plain:?} {secret:?} {k:?}"))
}

#[post("/not-found")]
async fn not_found(session: Session) -> Result<&'static str, Status> {
    session
        .insert("a", 1)
        .await
        .map_err(|_| Status::InternalServerError)?;
    Err(Status::NotFound)
}

#[post("/bad-request")]
async fn bad_request(session: Session) -> R<(Status, &'static str)> {
    session.insert("b", 2).await?;
    Ok((Status::BadRequest, "nope"))
}

#[post("/text-stream")]
async fn text_stream(session: Session) -> R<TextStream![&'static str]> {
    session.insert("text", "streamed").await?;
    Ok(TextStream! {
        yield "a";
        yield "b";
    })
}

#[post("/byte-stream")]
async fn byte_stream(session: Session) -> R<ByteStream![Vec<u8>]> {
    session.insert("bytes", "streamed").await?;
    Ok(ByteStream! {
        yield b"x".to_vec();
        yield b"y".to_vec();
    })
}

#[post("/two-guards")]
async fn two_guards(a: Session, b: Session) -> R<String> {
    a.insert("shared", 5).await?;
    let v: Option<i64> = b.get("shared").await?;
    Ok(format!("{v:?}"))
}

/// The shared test app plus this file's routes, without the fairing.
/// A route without the session guard.
#[get("/untouched")]
fn untouched() -> &'static str {
    "ok"
}

fn bare() -> Rocket<Build> {
    session_rocket::testing::routes().mount(
        "/t",
        routes![
            untouched,
            jar,
            read_jar,
            not_found,
            bad_request,
            text_stream,
            byte_stream,
            two_guards
        ],
    )
}

fn with_fairing() -> Rocket<Build> {
    bare().attach(SessionFairing::new(config(), MemoryStore::new()))
}

async fn untracked(rocket: Rocket<Build>) -> Client {
    Client::untracked(rocket)
        .await
        .unwrap_or_else(|e| panic!("ignite: {e}"))
}

fn set_cookies(res: &LocalResponse<'_>) -> Vec<String> {
    res.headers().get("Set-Cookie").map(str::to_owned).collect()
}

/// The `name=value` pair of our session cookie in a response.
fn session_pair(res: &LocalResponse<'_>) -> String {
    let all = set_cookies(res);
    all.iter()
        .find(|c| c.starts_with("id="))
        .and_then(|c| c.split(';').next())
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("no session cookie in {all:?}"))
}

async fn get_with(client: &Client, path: &str, cookie: &str) -> String {
    let res = client
        .get(path.to_owned())
        .header(Header::new("Cookie", cookie.to_owned()))
        .dispatch()
        .await;
    assert_eq!(res.status(), Status::Ok);
    res.into_string().await.unwrap_or_default()
}

#[tokio::test]
async fn guard_without_fairing_is_a_500_naming_the_fairing() {
    let client = untracked(bare()).await;
    let res = client.get("/get/k").dispatch().await;
    assert_eq!(res.status(), Status::InternalServerError);
    assert!(set_cookies(&res).is_empty());
    // Routes without the guard still work.
    let res = client.get("/t/untouched").dispatch().await;
    assert_eq!(res.status(), Status::Ok);
    assert!(MissingFairing.to_string().contains("SessionFairing"));
}

#[tokio::test]
async fn cookie_jar_cookies_coexist_with_the_session_cookie() {
    let client = untracked(with_fairing()).await;
    let res = client.post("/t/jar").dispatch().await;
    assert_eq!(res.status(), Status::Ok);
    let all = set_cookies(&res);
    assert_eq!(all.len(), 3, "{all:?}");
    assert!(all.iter().any(|c| c.starts_with("plain=p")), "{all:?}");
    let secret = all
        .iter()
        .find(|c| c.starts_with("secret="))
        .unwrap_or_else(|| panic!("private cookie lost: {all:?}"));
    assert!(
        !secret.starts_with("secret=s;"),
        "private cookie not encrypted"
    );
    // Send all three back through Rocket's local client, which puts them
    // into the request's jar (it does not parse a raw `Cookie` header into
    // the jar; the real-server test below sends the header).
    let cookies = all
        .iter()
        .filter_map(|c| Cookie::parse_encoded(c.clone()).ok());
    let res = client.get("/t/jar").cookies(cookies).dispatch().await;
    assert_eq!(res.status(), Status::Ok);
    let body = res.into_string().await.unwrap_or_default();
    assert_eq!(body, r#"Some("p") Some("s") Some(1)"#);
}

#[tokio::test]
async fn store_failure_replaces_the_whole_response() {
    let failing = session_core::testing::FailingStore::new(std::sync::Arc::new(MemoryStore::new()));
    let rocket = bare().attach(SessionFairing::new(config(), failing.clone()));
    let client = untracked(rocket).await;
    failing.fail_writes(true);
    let res = client.post("/t/jar").dispatch().await;
    assert_eq!(res.status(), Status::ServiceUnavailable);
    assert_eq!(res.content_type(), Some(ContentType::Plain));
    assert!(set_cookies(&res).is_empty(), "{:?}", set_cookies(&res));
    assert_eq!(
        res.into_string().await.as_deref(),
        Some("session store unavailable")
    );
}

#[tokio::test]
async fn error_statuses_keep_the_session_write() {
    let client = untracked(with_fairing()).await;
    // `Err(Status::NotFound)`: Rocket's 404 catcher answers.
    let res = client.post("/t/not-found").dispatch().await;
    assert_eq!(res.status(), Status::NotFound);
    let cookie = session_pair(&res);
    assert_eq!(get_with(&client, "/get/a", &cookie).await, "1");
    // A responder with an error status.
    let res = client
        .post("/t/bad-request")
        .header(Header::new("Cookie", cookie.clone()))
        .dispatch()
        .await;
    assert_eq!(res.status(), Status::BadRequest);
    assert_eq!(res.into_string().await.as_deref(), Some("nope"));
    assert_eq!(get_with(&client, "/get/b", &cookie).await, "2");
}

#[tokio::test]
async fn streaming_responders_keep_the_session_write() {
    let client = untracked(with_fairing()).await;
    let res = client.post("/t/text-stream").dispatch().await;
    assert_eq!(res.status(), Status::Ok);
    let cookie = session_pair(&res);
    assert_eq!(res.into_string().await.as_deref(), Some("ab"));
    assert_eq!(
        get_with(&client, "/get/text", &cookie).await,
        r#""streamed""#
    );

    let res = client.post("/t/byte-stream").dispatch().await;
    assert_eq!(res.status(), Status::Ok);
    let cookie = session_pair(&res);
    assert_eq!(res.into_bytes().await.as_deref(), Some(&b"xy"[..]));
    assert_eq!(
        get_with(&client, "/get/bytes", &cookie).await,
        r#""streamed""#
    );
}

#[tokio::test]
async fn guards_of_one_request_share_the_session() {
    let client = untracked(with_fairing()).await;
    let res = client.post("/t/two-guards").dispatch().await;
    assert_eq!(set_cookies(&res).len(), 1);
    assert_eq!(res.into_string().await.as_deref(), Some("Some(5)"));
}

#[tokio::test]
async fn attaching_the_fairing_twice_keeps_one() {
    let rocket = with_fairing().attach(SessionFairing::new(config(), MemoryStore::new()));
    let client = untracked(rocket).await;
    let res = client
        .post("/set/k")
        .header(ContentType::JSON)
        .body("1")
        .dispatch()
        .await;
    assert_eq!(res.status(), Status::Ok);
    assert_eq!(set_cookies(&res).len(), 1, "{:?}", set_cookies(&res));
    let cookie = session_pair(&res);
    assert_eq!(get_with(&client, "/get/k", &cookie).await, "1");
}

#[tokio::test]
async fn rocket_tracked_client_and_local_cookies_work() {
    // Rocket's tracked client keeps cookies in its jar, not in a header.
    let client = Client::tracked(with_fairing())
        .await
        .unwrap_or_else(|e| panic!("ignite: {e}"));
    let res = client.post("/incr/n").dispatch().await;
    assert_eq!(res.into_string().await.as_deref(), Some("1"));
    let res = client.post("/incr/n").dispatch().await;
    assert_eq!(res.into_string().await.as_deref(), Some("2"));
    let res = client.get("/t/jar").dispatch().await;
    assert_eq!(res.into_string().await.as_deref(), Some("None None None"));
    // `LocalRequest::cookie` on an untracked client.
    let other = untracked(with_fairing()).await;
    let res = other.post("/incr/n").dispatch().await;
    let pair = session_pair(&res);
    let (name, value) = pair.split_once('=').unwrap_or_default();
    let res = other
        .get("/get/n")
        .cookie(Cookie::new(name.to_owned(), value.to_owned()))
        .dispatch()
        .await;
    assert_eq!(res.into_string().await.as_deref(), Some("1"));
}

/// One raw HTTP/1.1 exchange; returns (status, headers, body).
async fn raw_http(port: u16, request: &[u8]) -> (u16, Vec<(String, String)>, String) {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    stream
        .write_all(request)
        .await
        .unwrap_or_else(|e| panic!("write: {e}"));
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .await
        .unwrap_or_else(|e| panic!("read: {e}"));
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end: {text:?}"));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("status line: {head:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

fn header_values<'a>(headers: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    headers
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_server_on_loopback() {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let figment = rocket::Config::figment()
        .merge(("address", "127.0.0.1"))
        .merge(("port", 0))
        .merge(("log_level", "off"))
        .merge(("shutdown.ctrlc", false));
    let rocket = rocket::custom(figment)
        .mount("/", routes![jar, read_jar])
        .attach(SessionFairing::new(config(), MemoryStore::new()))
        .attach(AdHoc::on_liftoff("report port", move |r| {
            Box::pin(async move {
                let _ = tx.send(r.config().port);
            })
        }));
    let rocket = rocket
        .ignite()
        .await
        .unwrap_or_else(|e| panic!("ignite: {e}"));
    let shutdown = rocket.shutdown();
    let server = tokio::spawn(rocket.launch());
    let port = tokio::time::timeout(std::time::Duration::from_secs(30), rx)
        .await
        .unwrap_or_else(|_| panic!("no liftoff"))
        .unwrap_or_else(|_| panic!("liftoff channel closed"));
    assert_ne!(port, 0);

    let (status, headers, body) = raw_http(
        port,
        b"POST /jar HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!((status, body.as_str()), (200, "ok"));
    let cookies = header_values(&headers, "set-cookie");
    assert_eq!(cookies.len(), 3, "{cookies:?}");
    let pairs: Vec<&str> = cookies.iter().filter_map(|c| c.split(';').next()).collect();
    let request = format!(
        "GET /jar HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {}\r\nConnection: close\r\n\r\n",
        pairs.join("; ")
    );
    let (status, headers, body) = raw_http(port, request.as_bytes()).await;
    assert_eq!(status, 200);
    assert_eq!(body, r#"Some("p") Some("s") Some(1)"#);
    assert!(header_values(&headers, "set-cookie").is_empty());

    // A Cookie header that is not UTF-8: Rocket drops the whole header
    // (with a warning) and the request carries on without a session.
    let mut request = b"GET /jar HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: ".to_vec();
    request.extend_from_slice(pairs.join("; ").as_bytes());
    request.extend_from_slice(b"; x=\xff\r\nConnection: close\r\n\r\n");
    let (status, _, body) = raw_http(port, &request).await;
    assert_eq!(status, 200);
    assert_eq!(body, "None None None");

    shutdown.notify();
    match tokio::time::timeout(std::time::Duration::from_secs(60), server).await {
        Ok(Ok(Ok(_))) => {}
        Ok(Ok(Err(e))) => panic!("server error: {e}"),
        Ok(Err(e)) => panic!("server task: {e}"),
        Err(_) => panic!("server did not shut down"),
    }
}
