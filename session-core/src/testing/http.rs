//! The HTTP scenario suite: framework-neutral scenarios, sequences of
//! `http::Request`s and checks on `http::Response`s, run against every
//! adapter with every store.
//!
//! An adapter implements [`TestApp`]: given a [`SessionManager`], it builds
//! its framework's version of the tiny test app below and returns a
//! [`Client`] over the framework's in-process test client.
//!
//! | route | what the handler does | response body |
//! |---|---|---|
//! | `GET /get/{key}` | `get` | the JSON value, or `null` |
//! | `POST /set/{key}` (JSON body) | `insert` | `ok` (or the failure) |
//! | `POST /remove/{key}` | `remove` | `ok` |
//! | `POST /incr/{key}` | `update(key, n + 1)` | the new value |
//! | `POST /regenerate` | `regenerate` | `ok` |
//! | `POST /destroy` | `destroy` | `ok` |
//! | `GET /id` | `id` | the session id |
//! | `POST /expiry` (body `idle:<secs>`, `at:<unix secs>`, `browser` or `default`, read by [`expiry_from_body`]) | `set_expiry` | `ok`, or 400 `bad expiry` |
//! | `GET /untouched` | nothing | `ok` |
//! | `GET /entries` | `entries` | the JSON map |
//! | `POST /with-cookie/{key}` | `insert(key, true)` and adds its own `Set-Cookie: app=1` | `ok` |
//! | `POST /login/{user}` | `regenerate`, `set_user(user)`, `insert("user", user)` | `ok` |
//! | `GET /devices` | `devices` | JSON array of `{"handle": .., "current": ..}` |
//! | `POST /revoke-others` | `revoke_others` | the number revoked |
//! | `POST /revoke/{handle}` | `revoke(handle)` | `true` or `false` |
//! | `POST /held/{gate}/{then}` | [`held`]: load, wait at the gate, then `rotate` or `read` | `ok` |
//!
//! A handler that gets a `SessionError` answers 500 with body `error`,
//! except a payload-too-large error, answered 413 with body `too large`;
//! the adapter turns store failures into the configured failure response
//! whatever the handler answered.

use std::sync::Arc;

use async_trait::async_trait;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use serde_json::{Value, json};
use time::Duration;

use crate::clock::ManualClock;
pub use crate::testing::races::{
    Gate, concurrent_logins_keep_the_cap, gate, held, rotation_racing_a_logout_never_resurrects,
    rotation_racing_a_revocation_never_resurrects, rotation_racing_a_write_keeps_both,
    touch_racing_a_shorter_expiry,
};
use crate::testing::{CountingStore, FailingStore, wrappers::SECRET_DETAIL};
use crate::{
    SameSite, SessionConfig, SessionConfigBuilder, SessionManager, Store, TouchPolicy, Transport,
};

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

/// The key every scenario signs with.
pub const KEY: [u8; 32] = [0x5a; 32];
/// A previous key, for rotation scenarios.
pub const OLD_KEY: [u8; 32] = [0xa5; 32];

/// The config builder scenarios start from: the defaults with a test key
/// and Secure off (the in-process clients speak plain HTTP).
pub fn base_config() -> SessionConfigBuilder {
    SessionConfig::builder()
        .key(KEY)
        .secure(crate::Secure::Auto)
}

pub(super) fn build(b: SessionConfigBuilder) -> SessionConfig {
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
    client: &dyn Client,
    method: Method,
    path: &str,
    body: &str,
    cookie: Option<&[u8]>,
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

async fn send_with(
    client: &dyn Client,
    method: Method,
    path: &str,
    body: &str,
    header: Option<(header::HeaderName, &[u8])>,
    name: &str,
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
    }
}

pub(super) async fn app(
    app: &dyn TestApp,
    config: SessionConfig,
    store: Arc<dyn Store>,
) -> Box<dyn Client> {
    app.client(SessionManager::from_arc(config, store)).await
}

pub(super) async fn app_with_clock(
    app: &dyn TestApp,
    config: SessionConfig,
    store: Arc<dyn Store>,
    clock: Arc<ManualClock>,
) -> Box<dyn Client> {
    app.client(SessionManager::from_arc(config, store).with_clock(clock))
        .await
}

pub(super) fn assert_ok(r: &Reply) {
    assert_eq!(r.status, StatusCode::OK, "body: {}", r.body);
}

/// A request that never touches its session sets no cookie and makes no
/// store call.
pub async fn untouched_session_sets_no_cookie(a: &impl TestApp, store: Arc<dyn Store>) {
    let counting = CountingStore::new(store);
    let counts = counting.counts.clone();
    let c = app(a, build(base_config()), Arc::new(counting)).await;
    let mut b = Browser::new(&*c);
    let r = b.get("/untouched").await;
    assert_ok(&r);
    assert_eq!(r.ours, None);
    // A read of an empty new session does not set one either.
    let r = b.get("/get/x").await;
    assert_eq!(r.body, "null");
    assert_eq!(r.ours, None);
    // With a cookie, an untouched request still makes no store call.
    b.post("/set/x", "1").await;
    let before = counts.snapshot();
    let r = b.get("/untouched").await;
    assert_ok(&r);
    assert_eq!(r.ours, None);
    assert_eq!(counts.snapshot(), before);
}

/// With `save_uninitialized`, a touched new session is stored and gets a
/// cookie.
pub async fn save_uninitialized_sets_a_cookie(a: &impl TestApp, store: Arc<dyn Store>) {
    let c = app(a, build(base_config().save_uninitialized(true)), store).await;
    let mut b = Browser::new(&*c);
    let r = b.get("/get/x").await;
    assert!(r.ours.is_some(), "no cookie with save_uninitialized");
    let id = b.get("/id").await.body;
    assert!(b.cookie.as_deref().is_some_and(|c| c.starts_with(&id)));
    let r = b.get("/untouched").await;
    assert_eq!(r.ours, None);
}

/// A write sets the cookie and the next request reads the value.
pub async fn write_then_read_back(a: &impl TestApp, store: Arc<dyn Store>) {
    let c = app(a, build(base_config()), store).await;
    let mut b = Browser::new(&*c);
    let r = b.post("/set/user", r#"{"name":"Lindani","n":[1,2]}"#).await;
    assert_ok(&r);
    assert!(r.ours.is_some(), "write did not set a cookie");
    let r = b.get("/get/user").await;
    assert_eq!(r.json(), json!({"name": "Lindani", "n": [1, 2]}));
    assert_eq!(b.post("/incr/views", "").await.body, "1");
    assert_eq!(b.post("/incr/views", "").await.body, "2");
    assert_ok(&b.post("/remove/user", "").await);
    assert_eq!(b.get("/get/user").await.body, "null");
    assert_eq!(b.get("/entries").await.json(), json!({"views": 2}));
    // Another browser does not see it.
    let mut other = Browser::new(&*c);
    assert_eq!(other.get("/get/views").await.body, "null");
}

/// A validly signed cookie for an id the store does not know is never
/// adopted: the server issues its own id.
pub async fn unknown_id_is_never_adopted(a: &impl TestApp, store: Arc<dyn Store>) {
    let config = build(base_config());
    let chosen = crate::SessionId::random();
    let forged = config.keys().sign(&chosen);
    let c = app(a, config, store).await;
    let mut b = Browser::new(&*c);
    b.cookie = Some(forged.clone());
    let r = b.post("/set/k", "1").await;
    assert_ok(&r);
    let issued = b.cookie.clone().expect("a new cookie");
    assert_ne!(issued, forged);
    assert!(!issued.starts_with(&chosen.to_string()));
    assert_ne!(b.get("/id").await.body, chosen.to_string());
}

/// An expired id is not reused either.
pub async fn expired_id_is_never_reused(a: &impl TestApp, store: Arc<dyn Store>) {
    let clock = Arc::new(ManualClock::starting_now());
    let config = build(base_config().idle_timeout(Some(Duration::minutes(10))));
    let c = app_with_clock(a, config, store, clock.clone()).await;
    let mut b = Browser::new(&*c);
    b.post("/set/k", "1").await;
    let old = b.cookie.clone().expect("cookie");
    clock.advance(Duration::minutes(11));
    assert_eq!(b.get("/get/k").await.body, "null");
    b.post("/set/k", "2").await;
    let new = b.cookie.clone().expect("cookie");
    assert_ne!(old, new);
    assert_ne!(old.split('.').next(), new.split('.').next());
}

/// Tampered, wrong-key, truncated, empty, garbage, oversized, duplicated and
/// non-UTF-8 cookies all yield a fresh, empty session.
pub async fn bad_cookies_get_a_fresh_session(a: &impl TestApp, store: Arc<dyn Store>) {
    let c = app(a, build(base_config()), store).await;
    let mut owner = Browser::new(&*c);
    owner.post("/set/secret", r#""owner-data""#).await;
    let good = owner.cookie.clone().expect("cookie");
    let other = build(SessionConfig::builder().key([9u8; 32]));
    let (id_part, mac) = good.split_once('.').expect("signed value");
    let mut flipped = good.clone().into_bytes();
    flipped[5] ^= 0x04;
    let wrong_key = other
        .keys()
        .sign(&crate::SessionId::parse(id_part).expect("id"));
    let mut non_utf8 = b"id=".to_vec();
    non_utf8.extend_from_slice(&good.as_bytes()[..20]);
    non_utf8.push(0xff);
    non_utf8.extend_from_slice(&good.as_bytes()[21..]);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("bit flip", [b"id=".to_vec(), flipped].concat()),
        ("wrong key", format!("id={wrong_key}").into_bytes()),
        (
            "truncated",
            format!("id={}", &good[..good.len() - 3]).into_bytes(),
        ),
        ("id only", format!("id={id_part}").into_bytes()),
        ("mac only", format!("id={mac}").into_bytes()),
        ("empty", b"id=".to_vec()),
        ("garbage", b"id=%%%;;;===".to_vec()),
        (
            "oversized",
            format!("id={}{}", good, "A".repeat(5000)).into_bytes(),
        ),
        (
            "duplicated forged",
            format!("id={wrong_key}; id=x.{mac}").into_bytes(),
        ),
        ("non-utf8", non_utf8),
    ];
    for (name, cookie) in cases {
        let r = send_raw(&*c, Method::GET, "/get/secret", "", Some(&cookie)).await;
        assert_eq!(r.status, StatusCode::OK, "{name}: {}", r.body);
        assert_eq!(r.body, "null", "{name}: leaked session data");
        let r = send_raw(&*c, Method::POST, "/set/mine", "1", Some(&cookie)).await;
        assert_eq!(r.status, StatusCode::OK, "{name}");
        let issued = cookie_value(
            r.ours
                .as_deref()
                .unwrap_or_else(|| panic!("{name}: no fresh cookie")),
        );
        assert_ne!(issued.split('.').next(), Some(id_part), "{name}: id reused");
    }
    // Duplicated cookies where one verifies: the valid one wins.
    let dup = format!("id=forged.value; id={good}; id={wrong_key}");
    let r = send_raw(&*c, Method::GET, "/get/secret", "", Some(dup.as_bytes())).await;
    assert_eq!(r.json(), json!("owner-data"));
    // The owner's session is intact.
    assert_eq!(owner.get("/get/secret").await.json(), json!("owner-data"));
    assert_eq!(owner.get("/get/mine").await.body, "null");
}

/// A cookie signed with a rotated-out previous key still works and comes
/// back signed with the current key.
pub async fn previous_key_cookie_is_reissued_with_current_key(
    a: &impl TestApp,
    store: Arc<dyn Store>,
) {
    let old_app = app(
        a,
        build(
            SessionConfig::builder()
                .key(OLD_KEY)
                .secure(crate::Secure::Auto),
        ),
        store.clone(),
    )
    .await;
    let mut b = Browser::new(&*old_app);
    b.post("/set/user", r#""ada""#).await;
    let old_cookie = b.cookie.clone().expect("cookie");
    let rotated = build(base_config().previous_key(OLD_KEY));
    let current_keys = build(base_config()).keys().clone();
    let new_app = app(a, rotated, store).await;
    let mut b = Browser::new(&*new_app);
    b.cookie = Some(old_cookie.clone());
    let r = b.get("/get/user").await;
    assert_eq!(r.json(), json!("ada"));
    let reissued = cookie_value(r.ours.as_deref().expect("re-issued cookie"));
    assert_ne!(reissued, old_cookie);
    assert_eq!(
        reissued.split('.').next(),
        old_cookie.split('.').next(),
        "same id"
    );
    assert!(
        current_keys.verify(reissued.as_bytes()).is_some(),
        "not signed with the current key"
    );
    assert_eq!(b.get("/get/user").await.ours, None, "re-issued twice");
}

/// `regenerate` changes the id and keeps the data; the old id no longer
/// loads.
pub async fn regenerate_changes_id_and_keeps_data(a: &impl TestApp, store: Arc<dyn Store>) {
    let c = app(a, build(base_config()), store).await;
    let mut b = Browser::new(&*c);
    b.post("/set/cart", "[1,2,3]").await;
    let old = b.cookie.clone().expect("cookie");
    let old_id = b.get("/id").await.body;
    let r = b.post("/regenerate", "").await;
    assert_ok(&r);
    assert!(r.ours.is_some());
    let new = b.cookie.clone().expect("cookie");
    assert_ne!(old, new);
    assert_ne!(b.get("/id").await.body, old_id);
    assert_eq!(b.get("/get/cart").await.json(), json!([1, 2, 3]));
    let r = send_raw(
        &*c,
        Method::GET,
        "/get/cart",
        "",
        Some(format!("id={old}").as_bytes()),
    )
    .await;
    assert_eq!(r.body, "null", "old id still loads");
}

/// `destroy` deletes the record and sends a removal cookie.
pub async fn destroy_removes_record_and_cookie(a: &impl TestApp, store: Arc<dyn Store>) {
    let c = app(a, build(base_config()), store).await;
    let mut b = Browser::new(&*c);
    b.post("/set/user", r#""ada""#).await;
    let old = b.cookie.clone().expect("cookie");
    let r = b.post("/destroy", "").await;
    assert_ok(&r);
    let removal = r.ours.expect("removal cookie");
    assert!(removal.contains("Max-Age=0"), "{removal}");
    assert_eq!(b.cookie, None);
    let r = send_raw(
        &*c,
        Method::GET,
        "/get/user",
        "",
        Some(format!("id={old}").as_bytes()),
    )
    .await;
    assert_eq!(r.body, "null", "destroyed session still loads");
}

/// An idle session expires after the idle timeout (controllable clock).
pub async fn idle_timeout_expires_session(a: &impl TestApp, store: Arc<dyn Store>) {
    let clock = Arc::new(ManualClock::starting_now());
    let config = build(
        base_config()
            .idle_timeout(Some(Duration::minutes(30)))
            .absolute_timeout(None),
    );
    let c = app_with_clock(a, config, store, clock.clone()).await;
    let mut b = Browser::new(&*c);
    b.post("/set/k", "1").await;
    clock.advance(Duration::minutes(29));
    assert_eq!(b.get("/get/k").await.body, "1");
    // That read was past the touch threshold: the window restarted.
    clock.advance(Duration::minutes(29));
    assert_eq!(b.get("/get/k").await.body, "1");
    clock.advance(Duration::minutes(31));
    assert_eq!(b.get("/get/k").await.body, "null");
}

/// Activity never extends a session past the absolute timeout.
pub async fn absolute_timeout_caps_active_session(a: &impl TestApp, store: Arc<dyn Store>) {
    let clock = Arc::new(ManualClock::starting_now());
    let config = build(
        base_config()
            .idle_timeout(Some(Duration::minutes(30)))
            .absolute_timeout(Some(Duration::hours(2))),
    );
    let c = app_with_clock(a, config, store, clock.clone()).await;
    let mut b = Browser::new(&*c);
    b.post("/set/k", "0").await;
    for i in 1..=7 {
        clock.advance(Duration::minutes(16));
        assert_eq!(
            b.post("/incr/k", "").await.body,
            i.to_string(),
            "expired too early"
        );
    }
    clock.advance(Duration::minutes(16)); // 128 minutes after creation
    assert_eq!(b.get("/get/k").await.body, "null");
}

/// Reads do not write to the store until less than the threshold of the
/// idle window remains; then one touch extends the session.
pub async fn reads_touch_only_past_threshold(a: &impl TestApp, store: Arc<dyn Store>) {
    let clock = Arc::new(ManualClock::starting_now());
    let counting = CountingStore::new(store);
    let counts = counting.counts.clone();
    let config = build(
        base_config()
            .idle_timeout(Some(Duration::minutes(100)))
            .touch_policy(TouchPolicy::Threshold(0.8)),
    );
    let c = app_with_clock(a, config, Arc::new(counting), clock.clone()).await;
    let mut b = Browser::new(&*c);
    b.post("/set/k", "1").await;
    let writes = counts.writes();
    for _ in 0..5 {
        clock.advance(Duration::minutes(3));
        let r = b.get("/get/k").await;
        assert_eq!(r.body, "1");
        assert_eq!(r.ours, None, "cookie re-sent without a touch");
    }
    assert_eq!(counts.writes(), writes, "a read below the threshold wrote");
    clock.advance(Duration::minutes(10)); // 25 of 100 minutes elapsed
    let r = b.get("/get/k").await;
    assert!(
        r.ours.is_some(),
        "a touch re-sends the cookie with the new expiry"
    );
    assert_eq!(counts.snapshot().3, 1, "exactly one touch");
    assert_eq!(counts.writes(), writes + 1);
    clock.advance(Duration::minutes(90)); // past the original window, inside the touched one
    assert_eq!(b.get("/get/k").await.body, "1");
}

/// `rolling` re-sends the cookie with a fresh expiry on every response.
pub async fn rolling_resends_cookie_every_response(a: &impl TestApp, store: Arc<dyn Store>) {
    let clock = Arc::new(ManualClock::starting_now());
    let config = build(
        base_config()
            .rolling(true)
            .idle_timeout(Some(Duration::minutes(10))),
    );
    let c = app_with_clock(a, config, store, clock.clone()).await;
    let mut b = Browser::new(&*c);
    b.post("/set/k", "1").await;
    for _ in 0..3 {
        clock.advance(Duration::minutes(6));
        let r = b.get("/get/k").await;
        assert_eq!(r.body, "1");
        let sc = r.ours.expect("rolling cookie");
        assert!(sc.contains("Max-Age=600"), "{sc}");
    }
}

/// A per-session expiry override ("remember me") is stored with the
/// session and survives reloads.
pub async fn remember_me_expiry_survives_reload(a: &impl TestApp, store: Arc<dyn Store>) {
    let clock = Arc::new(ManualClock::starting_now());
    let config = build(
        base_config()
            .idle_timeout(Some(Duration::minutes(30)))
            .absolute_timeout(Some(Duration::days(60))),
    );
    let c = app_with_clock(a, config, store, clock.clone()).await;
    let mut b = Browser::new(&*c);
    b.post("/set/user", r#""ada""#).await;
    let r = b.post("/expiry", &format!("idle:{}", 30 * 24 * 3600)).await;
    assert_ok(&r);
    assert!(
        r.ours
            .as_deref()
            .is_some_and(|c| c.contains("Max-Age=2592000")),
        "{:?}",
        r.ours
    );
    clock.advance(Duration::days(2));
    assert_eq!(b.get("/get/user").await.json(), json!("ada"));
    // Browser-session cookie: no Max-Age, server-side timeouts still apply.
    let r = b.post("/expiry", "browser").await;
    let sc = r.ours.expect("cookie");
    assert!(!sc.contains("Max-Age") && !sc.contains("Expires"), "{sc}");
    clock.advance(Duration::minutes(31));
    assert_eq!(b.get("/get/user").await.body, "null");
}

/// Every cookie attribute in the config appears in `Set-Cookie`.
pub async fn cookie_attributes_follow_config(a: &impl TestApp, store: Arc<dyn Store>) {
    let config = build(
        SessionConfig::builder()
            .key(KEY)
            .cookie_name("__Host-sid")
            .same_site(SameSite::Strict)
            .partitioned(true)
            .idle_timeout(Some(Duration::minutes(20)))
            .absolute_timeout(None),
    );
    let c = app(a, config, store.clone()).await;
    let mut b = Browser::named(&*c, "__Host-sid");
    let r = b.post("/set/k", "1").await;
    let sc = r
        .ours
        .unwrap_or_else(|| panic!("no cookie: {} {} {:?}", r.status, r.body, r.set_cookies));
    for attr in [
        "HttpOnly",
        "Secure",
        "SameSite=Strict",
        "Partitioned",
        "Path=/",
        "Max-Age=1200",
        "Expires=",
    ] {
        assert!(sc.contains(attr), "{attr} missing: {sc}");
    }
    assert!(!sc.contains("Domain"), "{sc}");
    let config = build(
        base_config()
            .cookie_name("app_session")
            .path("/")
            .domain("example.test")
            .http_only(false)
            .same_site(SameSite::Lax)
            .secure(crate::Secure::Never),
    );
    let c = app(a, config, store).await;
    let mut b = Browser::named(&*c, "app_session");
    let sc = b.post("/set/k", "1").await.ours.expect("cookie");
    assert!(
        sc.contains("Domain=example.test") && sc.contains("SameSite=Lax"),
        "{sc}"
    );
    assert!(!sc.contains("HttpOnly") && !sc.contains("Secure"), "{sc}");
}

/// The adapter adds its `Set-Cookie` beside the handler's own.
pub async fn handler_set_cookie_headers_are_kept(a: &impl TestApp, store: Arc<dyn Store>) {
    let c = app(a, build(base_config()), store).await;
    let mut b = Browser::new(&*c);
    let r = b.post("/with-cookie/k", "").await;
    assert_ok(&r);
    assert!(
        r.ours.is_some(),
        "session cookie missing: {:?}",
        r.set_cookies
    );
    assert!(
        r.set_cookies.iter().any(|c| c.starts_with("app=1")),
        "handler cookie lost: {:?}",
        r.set_cookies
    );
    assert_eq!(b.get("/get/k").await.body, "true");
}

fn assert_failure(r: &Reply, what: &str) {
    assert_eq!(
        r.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{what}: {}",
        r.body
    );
    assert!(
        !r.body.contains(SECRET_DETAIL),
        "{what}: store internals in body"
    );
    assert!(
        !r.body.contains("connection refused"),
        "{what}: store internals in body"
    );
    assert_eq!(r.ours, None, "{what}: a session cookie was issued");
}

/// A store that fails on load gives the failure response (503 by default)
/// without internals and without a cookie.
pub async fn store_failure_on_load_gives_failure_response(a: &impl TestApp, store: Arc<dyn Store>) {
    let failing = FailingStore::new(store);
    let c = app(a, build(base_config()), Arc::new(failing.clone())).await;
    let mut b = Browser::new(&*c);
    b.post("/set/k", "1").await;
    failing.fail_reads(true);
    assert_failure(&b.get("/get/k").await, "load");
    assert_failure(&b.post("/incr/k", "").await, "load before write");
    // Untouched requests do not notice.
    assert_ok(&b.get("/untouched").await);
    failing.fail_reads(false);
    assert_eq!(b.get("/get/k").await.body, "1");
    // A custom failure response.
    let c = app(
        a,
        build(base_config().failure_response(StatusCode::INTERNAL_SERVER_ERROR, "try later")),
        Arc::new(failing.clone()),
    )
    .await;
    let mut b = Browser::new(&*c);
    b.post("/set/k", "1").await;
    failing.fail_reads(true);
    let r = b.get("/get/k").await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(r.body, "try later");
    failing.fail_reads(false);
}

/// A store that fails on save gives the failure response; the next request
/// sees the data as it was.
pub async fn store_failure_on_save_gives_failure_response(a: &impl TestApp, store: Arc<dyn Store>) {
    let failing = FailingStore::new(store);
    let c = app(a, build(base_config()), Arc::new(failing.clone())).await;
    let mut b = Browser::new(&*c);
    b.post("/set/k", "1").await;
    failing.fail_writes(true);
    assert_failure(&b.post("/set/k", "2").await, "save");
    let mut fresh = Browser::new(&*c);
    assert_failure(&fresh.post("/set/k", "1").await, "create");
    assert_eq!(fresh.cookie, None);
    failing.fail_writes(false);
    assert_eq!(b.get("/get/k").await.body, "1");
}

/// 16 concurrent requests of one session, each doing `update` +1 ten
/// times, end at exactly 160.
pub async fn concurrent_updates_are_exact(a: &impl TestApp, store: Arc<dyn Store>) {
    let c = app(a, build(base_config().max_conflict_retries(1_000)), store).await;
    let mut b = Browser::new(&*c);
    b.post("/set/n", "0").await;
    let cookie = format!("id={}", b.cookie.clone().expect("cookie"));
    let client = &*c;
    let cookie = cookie.as_bytes();
    let workers = (0..16).map(|_| async move {
        for _ in 0..10 {
            let r = send_raw(client, Method::POST, "/incr/n", "", Some(cookie)).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        }
    });
    futures_util::future::join_all(workers).await;
    assert_eq!(b.get("/get/n").await.body, "160");
}

/// Concurrent writes of different keys all survive.
pub async fn concurrent_distinct_keys_all_survive(a: &impl TestApp, store: Arc<dyn Store>) {
    let c = app(a, build(base_config().max_conflict_retries(1_000)), store).await;
    let mut b = Browser::new(&*c);
    b.post("/set/seed", "true").await;
    let cookie = format!("id={}", b.cookie.clone().expect("cookie"));
    let client = &*c;
    let cookie = cookie.as_bytes();
    let workers = (0..16).map(|w| async move {
        for i in 0..5 {
            let r = send_raw(
                client,
                Method::POST,
                &format!("/set/k{w}_{i}"),
                &i.to_string(),
                Some(cookie),
            )
            .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        }
    });
    futures_util::future::join_all(workers).await;
    let all = b.get("/entries").await.json();
    assert_eq!(all.as_object().map(|m| m.len()), Some(81), "{all}");
}

/// The header transport (`X-Session-Id`) works end to end.
pub async fn header_transport_round_trip(a: &impl TestApp, store: Arc<dyn Store>) {
    let name = header::HeaderName::from_static("x-session-id");
    let c = app(
        a,
        build(base_config().transport(Transport::Header(name.clone()))),
        store,
    )
    .await;
    let r = send_with(&*c, Method::POST, "/set/k", "7", None, "id").await;
    assert_ok(&r);
    assert!(r.set_cookies.is_empty(), "header transport set a cookie");
    let req = Request::builder()
        .method(Method::POST)
        .uri("/set/k")
        .header(header::CONTENT_TYPE, "application/json")
        .body(b"7".to_vec())
        .unwrap_or_else(|e| panic!("{e}"));
    let res = c.send(req).await;
    let token = res
        .headers()
        .get(&name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .expect("session header in response");
    let r = send_with(
        &*c,
        Method::GET,
        "/get/k",
        "",
        Some((name, token.as_bytes())),
        "id",
    )
    .await;
    assert_eq!(r.body, "7");
}

/// Inserting past the payload limit is refused (413 from the test app) and
/// the stored session is unchanged.
pub async fn oversized_insert_is_rejected_and_data_unchanged(
    a: &impl TestApp,
    store: Arc<dyn Store>,
) {
    let c = app(a, build(base_config().max_payload_bytes(1024)), store).await;
    let mut b = Browser::new(&*c);
    b.post("/set/small", r#""ok""#).await;
    let big = format!("\"{}\"", "x".repeat(2000));
    let r = b.post("/set/big", &big).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.body);
    assert_eq!(b.get("/entries").await.json(), json!({"small": "ok"}));
}

/// "Log out other devices": a user logged in from three browsers revokes
/// the other two from one of them; their next requests get fresh, empty
/// sessions at once, and another user's session is untouched. Then one
/// session is revoked by its handle.
pub async fn revoke_other_devices(a: &impl TestApp, store: Arc<dyn Store>) {
    let c = app(a, build(base_config()), store).await;
    let mut laptop = Browser::new(&*c);
    let mut phone = Browser::new(&*c);
    let mut tablet = Browser::new(&*c);
    let mut bob = Browser::new(&*c);
    for (b, user) in [
        (&mut laptop, "ada"),
        (&mut phone, "ada"),
        (&mut tablet, "ada"),
        (&mut bob, "bob"),
    ] {
        let r = b.post(&format!("/login/{user}"), "").await;
        assert_ok(&r);
        assert!(r.ours.is_some(), "login set no cookie");
    }
    let devices = laptop.get("/devices").await.json();
    let list = devices
        .as_array()
        .unwrap_or_else(|| panic!("devices: {devices}"));
    assert_eq!(list.len(), 3, "{devices}");
    assert_eq!(
        list.iter().filter(|d| d["current"] == json!(true)).count(),
        1,
        "{devices}"
    );
    assert_eq!(laptop.post("/revoke-others", "").await.body, "2");
    assert_eq!(
        phone.get("/get/user").await.body,
        "null",
        "revoked session still works"
    );
    assert_eq!(
        tablet.get("/get/user").await.body,
        "null",
        "revoked session still works"
    );
    assert_eq!(laptop.get("/get/user").await.json(), json!("ada"));
    assert_eq!(bob.get("/get/user").await.json(), json!("bob"));
    assert_eq!(
        laptop.get("/devices").await.json().as_array().map(Vec::len),
        Some(1)
    );
    // Revoke one session by its handle.
    assert_ok(&phone.post("/login/ada", "").await);
    let devices = laptop.get("/devices").await.json();
    let other = devices
        .as_array()
        .and_then(|l| l.iter().find(|d| d["current"] == json!(false)))
        .and_then(|d| d["handle"].as_str())
        .unwrap_or_else(|| panic!("no other device: {devices}"))
        .to_owned();
    assert_eq!(
        laptop.post(&format!("/revoke/{other}"), "").await.body,
        "true"
    );
    assert_eq!(phone.get("/get/user").await.body, "null");
    // A handle of another user's session is refused.
    let bobs = bob.get("/devices").await.json();
    let bob_handle = bobs[0]["handle"].as_str().unwrap_or_default().to_owned();
    assert_eq!(
        laptop.post(&format!("/revoke/{bob_handle}"), "").await.body,
        "false"
    );
    assert_eq!(bob.get("/get/user").await.json(), json!("bob"));
}

/// The seed of [`adversarial_cookies_never_leak`]'s generator (fixed, so a
/// failure reproduces; the failure message names the request number).
pub const ADVERSARIAL_SEED: u64 = 0x5E55_10C0_0C1E;

/// How many hostile `Cookie` headers [`adversarial_cookies_never_leak`]
/// sends.
pub const ADVERSARIAL_REQUESTS: usize = 10_000;

/// 10,000 random and mutated `Cookie` headers (bit flips of a live cookie,
/// wrong keys, forged macs, truncations, long values, headers over 8 KiB,
/// hundreds of cookies, duplicates, non-UTF-8 bytes, random bytes) from a
/// seeded generator. Every response is a 200 with a fresh session, or a
/// clean 400 / 431 from the framework: never a 500 or 503, never the data
/// of the live session seeded first, never its id. (Rocket drops header
/// values that are not UTF-8; such requests are simply cookie-less.)
pub async fn adversarial_cookies_never_leak(a: &impl TestApp, store: Arc<dyn Store>) {
    use rand::{Rng as _, RngCore as _, SeedableRng as _};

    let c = app(a, build(base_config()), store).await;
    let secret = format!("owner-secret-{}", crate::SessionId::random().short());
    let mut owner = Browser::new(&*c);
    assert_ok(&owner.post("/set/secret", &format!("{secret:?}")).await);
    let good = owner.cookie.clone().expect("cookie");
    let (id_part, mac_part) = good.split_once('.').expect("signed value");
    let owner_id = crate::SessionId::parse(id_part).expect("id");
    let mut rng = rand::rngs::StdRng::seed_from_u64(ADVERSARIAL_SEED);
    // Header values may hold any byte but controls (the `http` crate refuses
    // those, and so does every client): map them to printable ones.
    let clean = |bytes: &mut Vec<u8>| {
        for b in bytes.iter_mut() {
            if (*b < 0x20 && *b != b'\t') || *b == 0x7f {
                *b |= 0x40;
                if *b == 0x7f {
                    *b = b'~';
                }
            }
        }
    };
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for n in 0..ADVERSARIAL_REQUESTS {
        let mut cookie: Vec<u8> = match rng.random_range(0..10u8) {
            // One flipped bit of the live cookie.
            0 => {
                let mut v = good.clone().into_bytes();
                let bit = rng.random_range(0..v.len() * 8);
                v[bit / 8] ^= 1 << (bit % 8);
                [b"id=".as_slice(), &v].concat()
            }
            // The owner's id signed with a random key.
            1 => {
                let mut k = [0u8; 32];
                rng.fill_bytes(&mut k);
                let keys = crate::Keys::new(crate::Key::new(&k).expect("32-byte key"));
                format!("id={}", keys.sign(&owner_id)).into_bytes()
            }
            // The owner's id with a random mac, or the owner's mac on a random id.
            2 => {
                let mut m = [0u8; 32];
                rng.fill_bytes(&mut m);
                let forged = crate::SessionId::from_bytes(m).to_string();
                if rng.random_bool(0.5) {
                    format!("id={id_part}.{forged}").into_bytes()
                } else {
                    format!("id={forged}.{mac_part}").into_bytes()
                }
            }
            // Truncated or extended live cookie.
            3 => {
                let cut = rng.random_range(0..good.len());
                let tail: String = (0..rng.random_range(0..4))
                    .map(|_| char::from(rng.random_range(b'#'..=b'+')))
                    .collect();
                format!("id={}{tail}", &good[..cut]).into_bytes()
            }
            // Long values, sometimes a header over 8 KiB.
            4 => {
                let len = rng.random_range(100..12_000);
                let fill = char::from(rng.random_range(b'a'..=b'z'));
                format!("id={}{}", good, fill.to_string().repeat(len)).into_bytes()
            }
            // Hundreds of cookies, with broken ones of ours among them.
            5 => {
                let count = rng.random_range(10..400);
                let mut pairs: Vec<String> = (0..count)
                    .map(|i| format!("c{i}=v{}", rng.next_u32()))
                    .collect();
                let at = rng.random_range(0..pairs.len());
                pairs.insert(at, format!("id={id_part}.{}", &mac_part[1..]));
                pairs.join("; ").into_bytes()
            }
            // Non-UTF-8 bytes in and around a live-looking cookie.
            6 => {
                let mut v = format!("id={good}").into_bytes();
                for _ in 0..rng.random_range(1..4) {
                    let at = rng.random_range(0..=v.len());
                    v.insert(at, rng.random_range(0x80..=0xffu8));
                }
                v
            }
            // Random bytes.
            7 => {
                let mut v = vec![0u8; rng.random_range(0..300)];
                rng.fill_bytes(&mut v);
                v
            }
            // Duplicates: several forged values under our name.
            8 => {
                let mut k = [0u8; 32];
                rng.fill_bytes(&mut k);
                let keys = crate::Keys::new(crate::Key::new(&k).expect("32-byte key"));
                format!(
                    "id=; id={}; id=\"{id_part}\"; ID={good}; id ={id_part}.",
                    keys.sign(&owner_id)
                )
                .into_bytes()
            }
            // Cookie grammar edge cases around a broken value.
            _ => {
                let pick = [
                    "id==",
                    "id=\"\"",
                    ";;;;",
                    "=id",
                    "id",
                    "id=%00",
                    "id=\u{1F36A}",
                    "\tid\t=\t",
                ];
                let p = pick[rng.random_range(0..pick.len())];
                format!("{p}; id={}", &good[..good.len() - 1]).into_bytes()
            }
        };
        clean(&mut cookie);
        if cookie == format!("id={good}").as_bytes() {
            // A flip undone by the cleaning: still a hostile value.
            cookie.pop();
        }
        let write = n % 8 == 0;
        let (method, path, body) = if write {
            (Method::POST, "/set/mine", "1")
        } else {
            (Method::GET, "/get/secret", "")
        };
        let r = send_raw(&*c, method, path, body, Some(&cookie)).await;
        *statuses.entry(r.status.as_u16()).or_default() += 1;
        let shown = String::from_utf8_lossy(&cookie[..cookie.len().min(120)]).into_owned();
        let what = format!("request {n} (seed {ADVERSARIAL_SEED:#x}), cookie {shown:?}");
        assert!(
            matches!(r.status.as_u16(), 200 | 400 | 431),
            "{what}: status {} body {:?}",
            r.status,
            r.body
        );
        assert!(
            !r.body.contains(&secret),
            "{what}: leaked the live session's data"
        );
        assert!(
            !r.body.contains(id_part),
            "{what}: leaked the live session's id"
        );
        if r.status != StatusCode::OK {
            continue;
        }
        if write {
            let issued = r
                .ours
                .as_deref()
                .map(cookie_value)
                .unwrap_or_else(|| panic!("{what}: no fresh cookie"));
            assert_ne!(issued.split('.').next(), Some(id_part), "{what}: id reused");
        } else {
            assert_eq!(r.body, "null", "{what}: not a fresh session");
            assert_eq!(r.ours, None, "{what}: a read set a cookie");
        }
    }
    assert!(
        statuses.get(&200).copied().unwrap_or(0) >= ADVERSARIAL_REQUESTS / 2,
        "most hostile requests should be served: {statuses:?}"
    );
    // The live session is intact and never saw the others' writes.
    assert_eq!(owner.get("/get/secret").await.json(), json!(secret));
    assert_eq!(owner.get("/get/mine").await.body, "null");
}
