//! The scenarios of the HTTP suite, one `pub async fn` each, expanded by
//! [`http_scenarios!`](crate::http_scenarios) (the race scenarios are in
//! `testing/races.rs`, the hostile cookies in `hostile.rs`).

use std::sync::Arc;

use http::{Method, Request, StatusCode, header};
use serde_json::json;
use time::Duration;

use super::harness::{
    Browser, KEY, OLD_KEY, Reply, TestApp, app, assert_ok, base_config, build, clocked_app,
    cookie_value, send_raw, send_with,
};
use crate::testing::{CountingStore, FailingStore, wrappers::SECRET_DETAIL};
use crate::{SameSite, SessionConfig, Store, TouchPolicy, Transport};

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
    assert_eq!(b.value("user").await, "null");
    assert_eq!(b.get("/entries").await.json(), json!({"views": 2}));
    // Another browser does not see it.
    let mut other = Browser::new(&*c);
    assert_eq!(other.value("views").await, "null");
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
    let (c, clock) = clocked_app(
        a,
        base_config().idle_timeout(Some(Duration::minutes(10))),
        store,
    )
    .await;
    let mut b = Browser::new(&*c);
    b.post("/set/k", "1").await;
    let old = b.cookie.clone().expect("cookie");
    clock.advance(Duration::minutes(11));
    assert_eq!(b.value("k").await, "null");
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
    let other = build(SessionConfig::builder().key(crate::test_key("key 9")));
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
    assert_eq!(owner.value("mine").await, "null");
}

/// A cookie signed with a rotated-out previous key still works and comes
/// back signed with the current key.
pub async fn previous_key_cookie_is_reissued_with_current_key(
    a: &impl TestApp, store: Arc<dyn Store>,
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
    let (c, clock) = clocked_app(
        a,
        base_config()
            .idle_timeout(Some(Duration::minutes(30)))
            .absolute_timeout(None),
        store,
    )
    .await;
    let mut b = Browser::new(&*c);
    b.post("/set/k", "1").await;
    clock.advance(Duration::minutes(29));
    assert_eq!(b.value("k").await, "1");
    // That read was past the touch threshold: the window restarted.
    clock.advance(Duration::minutes(29));
    assert_eq!(b.value("k").await, "1");
    clock.advance(Duration::minutes(31));
    assert_eq!(b.value("k").await, "null");
}

/// Activity never extends a session past the absolute timeout.
pub async fn absolute_timeout_caps_active_session(a: &impl TestApp, store: Arc<dyn Store>) {
    let (c, clock) = clocked_app(
        a,
        base_config()
            .idle_timeout(Some(Duration::minutes(30)))
            .absolute_timeout(Some(Duration::hours(2))),
        store,
    )
    .await;
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
    assert_eq!(b.value("k").await, "null");
}

/// Reads do not write to the store until less than the threshold of the
/// idle window remains; then one touch extends the session.
pub async fn reads_touch_only_past_threshold(a: &impl TestApp, store: Arc<dyn Store>) {
    let counting = CountingStore::new(store);
    let counts = counting.counts.clone();
    let config = base_config()
        .idle_timeout(Some(Duration::minutes(100)))
        .touch_policy(TouchPolicy::Threshold(0.8));
    let (c, clock) = clocked_app(a, config, Arc::new(counting)).await;
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
    assert_eq!(b.value("k").await, "1");
}

/// `rolling` re-sends the cookie with a fresh expiry on every response.
pub async fn rolling_resends_cookie_every_response(a: &impl TestApp, store: Arc<dyn Store>) {
    let (c, clock) = clocked_app(
        a,
        base_config()
            .rolling(true)
            .idle_timeout(Some(Duration::minutes(10))),
        store,
    )
    .await;
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
    let (c, clock) = clocked_app(
        a,
        base_config()
            .idle_timeout(Some(Duration::minutes(30)))
            .absolute_timeout(Some(Duration::days(60))),
        store,
    )
    .await;
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
    assert_eq!(b.value("user").await, "null");
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
    assert_eq!(b.value("k").await, "true");
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
    assert_eq!(b.value("k").await, "1");
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
    assert_eq!(b.value("k").await, "1");
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
    assert_eq!(b.value("n").await, "160");
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

/// A custom header transport round trip (`X-Session-Id` both ways).
pub async fn header_transport_round_trip(a: &impl TestApp, store: Arc<dyn Store>) {
    let name = header::HeaderName::from_static("x-session-id");
    let c = app(
        a,
        build(base_config().transport(Transport::Header(name.clone()))),
        store,
    )
    .await;
    token_round_trip(&*c, &name, name.clone(), |t| t.as_bytes().to_vec()).await;
}

/// The Bearer transport over HTTP: the token comes in `X-Session-Token`,
/// goes back in `Authorization: Bearer <token>`, and no cookie is ever
/// set; a tampered token gets a fresh session.
pub async fn bearer_transport_round_trip(a: &impl TestApp, store: Arc<dyn Store>) {
    let c = app(a, build(base_config().transport(Transport::Bearer)), store).await;
    let out = header::HeaderName::from_static("x-session-token");
    token_round_trip(&*c, &out, header::AUTHORIZATION, |t| {
        format!("Bearer {t}").into_bytes()
    })
    .await;
}

/// A session over a token transport: a write answers with the token in
/// header `out` and no cookie; the token sent back in header `back` (as
/// `wrap` writes it) carries the session; a tampered token gets a fresh
/// one.
async fn token_round_trip(
    c: &dyn super::Client, out: &header::HeaderName, back: header::HeaderName,
    wrap: impl Fn(&str) -> Vec<u8>,
) {
    let req = Request::builder()
        .method(Method::POST)
        .uri("/set/k")
        .header(header::CONTENT_TYPE, "application/json")
        .body(b"7".to_vec())
        .unwrap_or_else(|e| panic!("{e}"));
    let res = c.send(req).await;
    assert!(res.status().is_success(), "status {}", res.status());
    assert!(
        res.headers().get(header::SET_COOKIE).is_none(),
        "a token transport set a cookie"
    );
    let token = res
        .headers()
        .get(out)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_else(|| panic!("{out} in the response"));
    let r = send_with(
        c,
        Method::GET,
        "/get/k",
        "",
        Some((back.clone(), &wrap(&token))),
        "id",
    )
    .await;
    assert_eq!(r.body, "7", "the token carries the session");
    assert!(r.set_cookies.is_empty(), "a token transport set a cookie");
    let mut tampered = token;
    let last = if tampered.pop() == Some('A') {
        'B'
    } else {
        'A'
    };
    tampered.push(last);
    let r = send_with(
        c,
        Method::GET,
        "/get/k",
        "",
        Some((back, &wrap(&tampered))),
        "id",
    )
    .await;
    assert_eq!(r.body, "null", "a tampered token reached the session");
}

/// Inserting past the payload limit is refused (413 from the test app) and
/// the stored session is unchanged.
pub async fn oversized_insert_is_rejected_and_data_unchanged(
    a: &impl TestApp, store: Arc<dyn Store>,
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
        phone.value("user").await,
        "null",
        "revoked session still works"
    );
    assert_eq!(
        tablet.value("user").await,
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
    assert_eq!(phone.value("user").await, "null");
    // A handle of another user's session is refused.
    let bobs = bob.get("/devices").await.json();
    let bob_handle = bobs[0]["handle"].as_str().unwrap_or_default().to_owned();
    assert_eq!(
        laptop.post(&format!("/revoke/{bob_handle}"), "").await.body,
        "false"
    );
    assert_eq!(bob.get("/get/user").await.json(), json!("bob"));
}
