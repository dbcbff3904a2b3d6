//! The scenarios of the HTTP edge: where `Secure` comes from, the cache
//! headers of a session response, the 5xx rule, cookie-path scoping and
//! `touch`, one `pub async fn` each, expanded by
//! [`http_scenarios!`](crate::http_scenarios).

use std::sync::Arc;

use http::Method;
use time::Duration;

use super::harness::{
    Browser, TestApp, app, assert_ok, base_config, build, clocked_app, send_with,
};
use crate::testing::CountingStore;
use crate::{SessionManager, Store, TouchPolicy};

/// Whether a `Set-Cookie` value has the `Secure` attribute.
fn has_secure(set_cookie: &str) -> bool {
    set_cookie
        .split(';')
        .skip(1)
        .any(|a| a.trim().eq_ignore_ascii_case("secure"))
}

/// Under [`Secure::Auto`](crate::Secure::Auto), a request over plain HTTP
/// whose request-target is absolute-form with `https`
/// (`POST https://host/set/k HTTP/1.1`) gets a cookie without `Secure`: the
/// scheme of the target is the client's choice, not the connection's.
pub async fn absolute_https_target_gets_no_secure(a: &impl TestApp, store: Arc<dyn Store>) {
    let c = app(a, build(base_config()), store).await;
    let r = send_with(
        &*c,
        Method::POST,
        "https://example.com/set/k",
        "1",
        None,
        "id",
    )
    .await;
    assert_ok(&r);
    let ours = r.ours.expect("a session cookie");
    assert!(!has_secure(&ours), "Secure from the request-target: {ours}");
}

/// For an adapter's own tests (not a scenario): with
/// [`tls_connections(true)`](crate::SessionConfigBuilder::tls_connections),
/// `Secure::Auto` gives `Secure` to a request the adapter's in-process
/// client sends (over no TLS), so the adapter passes the setting through.
pub async fn tls_connections_give_secure(a: &impl TestApp) {
    let config = build(base_config().tls_connections(true));
    let c = a
        .client(SessionManager::new(config, crate::MemoryStore::new()))
        .await;
    let r = Browser::new(&*c).post("/set/k", "1").await;
    assert_ok(&r);
    let ours = r.ours.expect("a session cookie");
    assert!(has_secure(&ours), "no Secure with tls_connections: {ours}");
}

/// The cache rules: a response that sets or clears the session cookie gets
/// `Cache-Control: no-store` over the handler's `public, max-age`; a
/// response that used the session gets `Vary: Cookie` beside the
/// handler's `Vary`; an untouched request gets neither; `cache_headers(false)`
/// turns both off.
pub async fn session_responses_are_not_cached(a: &impl TestApp, store: Arc<dyn Store>) {
    let c = app(a, build(base_config()), store.clone()).await;
    let mut b = Browser::new(&*c);
    let r = b.post("/public/k", "").await;
    assert_ok(&r);
    assert!(r.ours.is_some(), "no cookie");
    assert_eq!(r.header("cache-control"), "no-store");
    let vary = r.header("vary").to_ascii_lowercase();
    assert!(
        vary.contains("accept-encoding") && vary.contains("cookie"),
        "{vary}"
    );
    // A read sets no cookie: the handler's caching stays, with Vary.
    let r = b.get("/public/k").await;
    assert_eq!(r.ours, None);
    assert_eq!(r.header("cache-control"), "public, max-age=3600");
    assert!(
        r.header("vary").to_ascii_lowercase().contains("cookie"),
        "{r:?}"
    );
    // A request that never used its session is left alone.
    let r = b.get("/untouched").await;
    assert_eq!(r.header("cache-control"), "");
    assert_eq!(r.header("vary"), "");
    // Clearing the cookie (logout) is not cacheable either.
    let r = b.post("/destroy", "").await;
    assert!(
        r.ours.as_deref().is_some_and(|c| c.contains("Max-Age=0")),
        "{r:?}"
    );
    assert_eq!(r.header("cache-control"), "no-store");
    // Off: the handler's headers as they were.
    let c = app(a, build(base_config().cache_headers(false)), store).await;
    let r = Browser::new(&*c).post("/public/k", "").await;
    assert!(r.ours.is_some(), "no cookie");
    assert_eq!(r.header("cache-control"), "public, max-age=3600");
    assert_eq!(r.header("vary"), "Accept-Encoding");
}

/// `route` answers 500 with a removal cookie, and the session the browser
/// held (with `a` set) is gone.
async fn fails_and_ends_the_session(b: &mut Browser<'_>, route: &str) {
    let held = b.cookie.clone();
    let r = b.post(route, "").await;
    assert_eq!(r.status.as_u16(), 500, "{route}");
    let removal = r.ours.as_deref().is_some_and(|c| c.contains("Max-Age=0"));
    assert!(removal, "{route}: {r:?}");
    b.cookie = held;
    assert_eq!(b.value("a").await, "null", "{route}: the session lives");
}

/// The 5xx rule: a handler that writes and then answers 500 stores nothing
/// and issues no cookie, whether the session existed or not; its
/// deletions still happen (a logout, the old id of a failed login); with
/// `save_on_server_error(true)` the write is kept.
pub async fn server_error_stores_only_deletions(a: &impl TestApp, store: Arc<dyn Store>) {
    let c = app(a, build(base_config()), store.clone()).await;
    let mut b = Browser::new(&*c);
    assert_ok(&b.post("/set/a", "1").await);
    let r = b.post("/fail/set/b", "2").await;
    assert_eq!(r.status, http::StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(r.ours, None, "a cookie on a 500");
    assert_eq!(b.value("b").await, "null", "half-done write stored");
    assert_eq!(b.value("a").await, "1");
    // A new session is not created either.
    let mut fresh = Browser::new(&*c);
    let r = fresh.post("/fail/set/k", "1").await;
    assert_eq!((r.status.as_u16(), r.ours), (500, None));
    // A failed login still retires the old id and stores no new one; a
    // logout that then fails still logs out.
    fails_and_ends_the_session(&mut b, "/fail/login/alice").await;
    assert_ok(&b.post("/set/a", "1").await);
    fails_and_ends_the_session(&mut b, "/fail/destroy").await;
    // Switched off: the write is kept.
    let c = app(a, build(base_config().save_on_server_error(true)), store).await;
    let mut b = Browser::new(&*c);
    let r = b.post("/fail/set/k", "1").await;
    assert_eq!(r.status.as_u16(), 500);
    assert!(r.ours.is_some(), "no cookie with save_on_server_error");
    assert_eq!(b.value("k").await, "1");
}

/// An identity switch: `set_user(bob)` on a session bound to alice, without
/// `regenerate`, gives a new id and drops alice's data; alice's id stops
/// working; `set_user` with the same user changes nothing.
pub async fn identity_switch_rotates_and_drops_data(a: &impl TestApp, store: Arc<dyn Store>) {
    let c = app(a, build(base_config()), store).await;
    let mut b = Browser::new(&*c);
    assert_ok(&b.post("/as/alice", "").await);
    assert_ok(&b.post("/set/secret", r#""alice-data""#).await);
    let alice_id = b.get("/id").await.body;
    let alice_cookie = b.cookie.clone();
    // The same user: a no-op.
    let r = b.post("/as/alice", "").await;
    assert_ok(&r);
    assert_eq!(r.ours, None, "same user re-issued the cookie");
    assert_eq!(b.get("/id").await.body, alice_id);
    // Another user: new id, no data.
    let r = b.post("/as/bob", "").await;
    assert_ok(&r);
    assert!(r.ours.is_some(), "no new cookie on an identity switch");
    assert_ne!(b.get("/id").await.body, alice_id);
    assert_eq!(b.value("secret").await, "null", "alice's data kept");
    // Alice's id is retired.
    b.cookie = alice_cookie;
    assert_eq!(b.value("secret").await, "null", "alice's id lives");
}

/// `touch()` resets the idle window even under `TouchPolicy::Never`, and
/// re-sends the cookie with a full `Max-Age`; a read alone does not.
pub async fn touch_resets_the_idle_window(a: &impl TestApp, store: Arc<dyn Store>) {
    let (c, clock) = clocked_app(
        a,
        base_config()
            .idle_timeout(Some(Duration::minutes(10)))
            .touch_policy(TouchPolicy::Never),
        store,
    )
    .await;
    let mut b = Browser::new(&*c);
    assert_ok(&b.post("/set/k", "1").await);
    clock.advance(Duration::minutes(6));
    let r = b.get("/get/k").await;
    assert_eq!((r.body.as_str(), r.ours.as_deref()), ("1", None));
    let r = b.post("/touch", "").await;
    assert_ok(&r);
    let ours = r.ours.expect("touch re-sends the cookie");
    assert!(ours.contains("Max-Age=600"), "{ours}");
    // 12 minutes after the write, 6 after the touch: alive.
    clock.advance(Duration::minutes(6));
    assert_eq!(b.value("k").await, "1");
    // 11 minutes after the touch: gone.
    clock.advance(Duration::minutes(5));
    assert_eq!(b.value("k").await, "null");
}

/// Cookie-path scoping (RFC 6265 path-match, not a string prefix): a
/// request outside the cookie's `Path` gets an empty session that refuses
/// writes, with no store call and no `Set-Cookie`, even when it carries a
/// valid cookie.
pub async fn requests_outside_the_cookie_path_get_no_session(
    a: &impl TestApp, store: Arc<dyn Store>,
) {
    let counting = CountingStore::new(store);
    let counts = counting.counts.clone();
    let counting: Arc<dyn Store> = Arc::new(counting);
    // `/se` is a string prefix of `/set/k`, not a path-match.
    let c = app(a, build(base_config().path("/se")), counting.clone()).await;
    let before = counts.snapshot();
    let r = Browser::new(&*c).post("/set/k", "1").await;
    assert_eq!(
        r.status.as_u16(),
        500,
        "a write outside the path: {}",
        r.body
    );
    assert!(r.set_cookies.is_empty(), "{:?}", r.set_cookies);
    assert_eq!(counts.snapshot(), before, "a store call outside the path");
    // Inside the path: a session, scoped to it.
    let c = app(a, build(base_config().path("/set")), counting).await;
    let mut b = Browser::new(&*c);
    let r = b.post("/set/k", "1").await;
    assert_ok(&r);
    let ours = r.ours.expect("a cookie inside the path");
    assert!(ours.contains("Path=/set"), "{ours}");
    // Outside it, even with the cookie: empty, untouched, no store call.
    let before = counts.snapshot();
    let r = b.get("/get/k").await;
    assert_eq!((r.body.as_str(), r.set_cookies.len()), ("null", 0));
    assert_eq!(counts.snapshot(), before, "a store call outside the path");
}
