//! The harness of the HTTP scenario suite: the [`TestApp`] and [`Client`]
//! an adapter implements, a cookie-keeping [`Browser`], raw senders, and the
//! app builders the scenarios start from.

use std::sync::Arc;

use async_trait::async_trait;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use serde_json::Value;
use time::Duration;

use crate::clock::ManualClock;
use crate::{SessionConfig, SessionConfigBuilder, SessionManager, Store};

/// One in-process client of an app.
#[async_trait(?Send)]
pub trait Client {
    /// Sends a request and returns the whole response.
    async fn send(&self, request: Request<Vec<u8>>) -> Response<Vec<u8>>;
}

/// An adapter's test app factory.
#[async_trait(?Send)]
pub trait TestApp {
    /// Builds the test app (see the module docs) on `manager`.
    async fn client(&self, manager: SessionManager) -> Box<dyn Client>;
}

/// The expiry a `POST /expiry` body asks for: `idle:<secs>`,
/// `at:<unix secs>`, `browser` or `default`; `None` for anything else
/// (the route answers 400 `bad expiry`).
pub fn expiry_from_body(body: &str) -> Option<crate::Expiry> {
    use crate::Expiry;
    let number = |prefix: &str| body.strip_prefix(prefix)?.parse::<i64>().ok();
    match body {
        "browser" => Some(Expiry::BrowserSession),
        "default" => Some(Expiry::Default),
        _ => match (number("idle:"), number("at:")) {
            (Some(secs), _) => Some(Expiry::Idle(Duration::seconds(secs))),
            (_, Some(at)) => time::OffsetDateTime::from_unix_timestamp(at)
                .ok()
                .map(Expiry::At),
            _ => None,
        },
    }
}

/// The key every scenario signs with (a test key: never use a key that
/// appears in source code).
pub const KEY: [u8; 32] = *b"scenario key: Vt4qN8xR2mK6wP0zJy";
/// A previous key, for rotation scenarios.
pub const OLD_KEY: [u8; 32] = *b"scenario old key: Lc5yH1gT7bE3sD";

/// The config builder scenarios start from: the defaults with a test key
/// and Secure off (the in-process clients speak plain HTTP).
pub fn base_config() -> SessionConfigBuilder {
    SessionConfig::builder()
        .key(KEY)
        .secure(crate::Secure::Auto)
}

pub(in crate::testing) fn build(b: SessionConfigBuilder) -> SessionConfig {
    b.build().unwrap_or_else(|e| panic!("scenario config: {e}"))
}

/// A browser: one cookie jar (our cookie only) over a client.
pub struct Browser<'a> {
    client: &'a dyn Client,
    name: String,
    /// The cookie value the browser holds.
    pub cookie: Option<String>,
}

impl std::fmt::Debug for Browser<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browser")
            .field("cookie", &self.cookie)
            .finish()
    }
}

/// A response, with our `Set-Cookie` picked out.
#[derive(Debug)]
pub struct Reply {
    /// Status.
    pub status: StatusCode,
    /// Body as text.
    pub body: String,
    /// Every `Set-Cookie` header.
    pub set_cookies: Vec<String>,
    /// Our `Set-Cookie` header, if any.
    pub ours: Option<String>,
    /// Every response header.
    pub headers: http::HeaderMap,
}

impl Reply {
    /// Every value of the header `name`, joined with `, ` (how a cache
    /// reads a header sent as several field lines).
    pub fn header(&self, name: &str) -> String {
        let values: Vec<&str> = self
            .headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap_or("<not text>"))
            .collect();
        values.join(", ")
    }
}

impl Reply {
    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body {:?} is not JSON: {e}", self.body))
    }
}

impl<'a> Browser<'a> {
    /// A browser with an empty jar, for the default cookie name.
    pub fn new(client: &'a dyn Client) -> Self {
        Self::named(client, "id")
    }

    /// A browser for another cookie name.
    pub fn named(client: &'a dyn Client, name: &str) -> Self {
        Self {
            client,
            name: name.to_owned(),
            cookie: None,
        }
    }

    /// Sends a request with the jar's cookie and updates the jar.
    pub async fn send(&mut self, method: Method, path: &str, body: &str) -> Reply {
        let cookie = self.cookie.as_ref().map(|c| format!("{}={c}", self.name));
        let header = cookie.as_deref().map(|c| (header::COOKIE, c.as_bytes()));
        let reply = send_with(self.client, method, path, body, header, &self.name).await;
        if let Some(sc) = &reply.ours {
            let value = cookie_value(sc);
            let removal = sc.contains("Max-Age=0") || value.is_empty();
            self.cookie = if removal { None } else { Some(value) };
        }
        reply
    }

    /// `GET path`.
    pub async fn get(&mut self, path: &str) -> Reply {
        self.send(Method::GET, path, "").await
    }

    /// The body of `GET /get/<key>`: the session's value under `key` as
    /// JSON (`null` when absent).
    pub async fn value(&mut self, key: &str) -> String {
        self.get(&format!("/get/{key}")).await.body
    }

    /// `POST path` with `body`.
    pub async fn post(&mut self, path: &str, body: &str) -> Reply {
        self.send(Method::POST, path, body).await
    }
}

/// The value of a `Set-Cookie` header's first pair.
pub fn cookie_value(set_cookie: &str) -> String {
    let pair = set_cookie.split(';').next().unwrap_or_default();
    pair.split_once('=')
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_default()
}

/// Sends one request with a raw `Cookie` header (any bytes).
pub async fn send_raw(
    client: &dyn Client, method: Method, path: &str, body: &str, cookie: Option<&[u8]>,
) -> Reply {
    send_with(
        client,
        method,
        path,
        body,
        cookie.map(|c| (header::COOKIE, c)),
        "id",
    )
    .await
}

pub(super) async fn send_with(
    client: &dyn Client, method: Method, path: &str, body: &str,
    header: Option<(header::HeaderName, &[u8])>, name: &str,
) -> Reply {
    let mut req = Request::builder().method(method).uri(path);
    if let Some((h, v)) = header {
        let v = HeaderValue::from_bytes(v).unwrap_or_else(|e| panic!("header value: {e}"));
        req = req.header(h, v);
    }
    if !body.is_empty() {
        req = req.header(header::CONTENT_TYPE, "application/json");
    }
    let req = req
        .body(body.as_bytes().to_vec())
        .unwrap_or_else(|e| panic!("request: {e}"));
    let res = client.send(req).await;
    let set_cookies: Vec<String> = res
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect();
    let prefix = format!("{name}=");
    let ours = set_cookies.iter().find(|c| c.starts_with(&prefix)).cloned();
    Reply {
        status: res.status(),
        body: String::from_utf8_lossy(res.body()).into_owned(),
        set_cookies,
        ours,
        headers: res.headers().clone(),
    }
}

pub(in crate::testing) async fn app(
    app: &dyn TestApp, config: SessionConfig, store: Arc<dyn Store>,
) -> Box<dyn Client> {
    app.client(SessionManager::from_arc(config, store)).await
}

/// An app on a manual clock (starting now) with the configuration `b`
/// builds; the app and its clock.
pub(in crate::testing) async fn clocked_app(
    app: &dyn TestApp, b: SessionConfigBuilder, store: Arc<dyn Store>,
) -> (Box<dyn Client>, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::starting_now());
    let manager = SessionManager::from_arc(build(b), store).with_clock(clock.clone());
    (app.client(manager).await, clock)
}

pub(in crate::testing) fn assert_ok(r: &Reply) {
    assert_eq!(r.status, StatusCode::OK, "body: {}", r.body);
}
