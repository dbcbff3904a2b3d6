//! The store conformance suite: one `async fn` per case of the [`Store`]
//! contract. Run it with [`store_conformance_tests!`](crate::store_conformance_tests).

use std::sync::Arc;

use serde_json::json;
use time::{Duration, OffsetDateTime};

use crate::clock::{Clock, SystemClock};
use crate::manager::RequestMeta;
use crate::store::{Created, Record, Retired, Saved, Store, Touched, Version};
use crate::{SessionConfig, SessionId, SessionManager};

pub use super::exactness::*;
pub use super::store_races::*;

/// The payload limit the payload cases use (the default config's).
pub const MAX_PAYLOAD: usize = 64 * 1024;

fn now() -> OffsetDateTime {
    SystemClock.now()
}

fn record(expires_in: Duration, payload: &[u8]) -> Record {
    Record {
        key: SessionId::random().hashed_key(),
        version: Version::FIRST,
        expires_at: now() + expires_in,
        payload: payload.to_vec(),
        user: None,
    }
}

/// Store precision differs (ms in Redis, µs in Postgres): compare to 1 ms.
fn assert_same_instant(a: OffsetDateTime, b: OffsetDateTime) {
    assert!((a - b).abs() <= Duration::milliseconds(1), "{a} != {b}");
}

fn manager(store: Arc<dyn Store>) -> SessionManager {
    let config = SessionConfig::builder()
        .key(crate::test_key("key 3"))
        .max_conflict_retries(10_000)
        .build()
        .unwrap_or_else(|e| panic!("test config: {e}"));
    SessionManager::from_arc(config, store)
}

/// Runs one request: `cookie` in, the handler `f`, and the cookie out.
async fn request<F, Fut>(m: &SessionManager, cookie: Option<&str>, f: F) -> Option<String>
where
    F: FnOnce(crate::Session) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let header = cookie.map(|c| format!("{}={c}", m.config().cookie_name()));
    let session = m.start(header.iter().map(|h| h.as_bytes()), RequestMeta::default());
    f(session.clone()).await;
    let out = m
        .finish(&session)
        .await
        .unwrap_or_else(|e| panic!("finish: {e}"));
    out.and_then(|h| {
        let first = h.value.split(';').next()?.to_owned();
        let (_, v) = first.split_once('=')?;
        (!v.is_empty()).then(|| v.to_owned())
    })
}

/// `load` of an unknown key is `None`.
pub async fn load_missing_returns_none(store: Arc<dyn Store>) {
    let key = SessionId::random().hashed_key();
    assert_eq!(store.load(&key).await.unwrap(), None);
}

/// A created record loads back with its version, expiry and payload.
pub async fn create_then_load_round_trips(store: Arc<dyn Store>) {
    let r = record(Duration::hours(1), br#"{"f":1,"c":0,"d":{"a":1}}"#);
    assert_eq!(store.create(&r).await.unwrap(), Created::Ok);
    let got = store.load(&r.key).await.unwrap().expect("record");
    assert_eq!(got.key, r.key);
    assert_eq!(got.version, Version::FIRST);
    assert_eq!(got.payload, r.payload);
    assert_same_instant(got.expires_at, r.expires_at);
}

/// `create` on a live key reports a collision and writes nothing.
pub async fn create_never_overwrites(store: Arc<dyn Store>) {
    let r = record(Duration::hours(1), b"first");
    assert_eq!(store.create(&r).await.unwrap(), Created::Ok);
    let mut other = r.clone();
    other.payload = b"second".to_vec();
    other.expires_at += Duration::hours(1);
    assert_eq!(store.create(&other).await.unwrap(), Created::Collision);
    let got = store.load(&r.key).await.unwrap().expect("record");
    assert_eq!(got.payload, b"first");
    assert_same_instant(got.expires_at, r.expires_at);
}

/// An expired record does not block `create` under its key.
pub async fn create_over_expired_record_succeeds(store: Arc<dyn Store>) {
    let r = record(Duration::milliseconds(300), b"old");
    assert_eq!(store.create(&r).await.unwrap(), Created::Ok);
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    let mut fresh = r.clone();
    fresh.expires_at = now() + Duration::hours(1);
    fresh.payload = b"new".to_vec();
    assert_eq!(store.create(&fresh).await.unwrap(), Created::Ok);
    assert_eq!(
        store.load(&r.key).await.unwrap().expect("record").payload,
        b"new"
    );
}

/// Expired records never load, save or touch, even before eviction.
pub async fn expired_records_are_never_loaded(store: Arc<dyn Store>) {
    let r = record(Duration::milliseconds(300), b"x");
    assert_eq!(store.create(&r).await.unwrap(), Created::Ok);
    assert!(store.load(&r.key).await.unwrap().is_some());
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    assert_eq!(store.load(&r.key).await.unwrap(), None);
    let mut next = r.clone();
    next.version = Version(2);
    next.expires_at = now() + Duration::hours(1);
    assert_eq!(
        store.save(&next, Version::FIRST).await.unwrap(),
        Saved::Gone
    );
    assert_eq!(
        store
            .touch(&r.key, Version::FIRST, now() + Duration::hours(1))
            .await
            .unwrap(),
        Touched::Gone
    );
    assert_eq!(
        store.retire(&r.key, Version::FIRST).await.unwrap(),
        Retired::Gone
    );
    assert_eq!(store.load(&r.key).await.unwrap(), None);
}

/// `save` with the stored version replaces the record.
pub async fn save_with_expected_version_succeeds(store: Arc<dyn Store>) {
    let r = record(Duration::hours(1), b"v1");
    store.create(&r).await.unwrap();
    let mut next = r.clone();
    next.version = Version(2);
    next.payload = b"v2".to_vec();
    next.expires_at = now() + Duration::hours(2);
    assert_eq!(store.save(&next, Version::FIRST).await.unwrap(), Saved::Ok);
    let got = store.load(&r.key).await.unwrap().expect("record");
    assert_eq!(got.version, Version(2));
    assert_eq!(got.payload, b"v2");
    assert_same_instant(got.expires_at, next.expires_at);
}

/// `save` with a stale version reports a conflict and writes nothing.
pub async fn save_with_stale_version_writes_nothing(store: Arc<dyn Store>) {
    let r = record(Duration::hours(1), b"v1");
    store.create(&r).await.unwrap();
    let mut a = r.clone();
    a.version = Version(2);
    a.payload = b"a".to_vec();
    assert_eq!(store.save(&a, Version::FIRST).await.unwrap(), Saved::Ok);
    let mut b = r.clone();
    b.version = Version(2);
    b.payload = b"b".to_vec();
    assert_eq!(
        store.save(&b, Version::FIRST).await.unwrap(),
        Saved::Conflict
    );
    let got = store.load(&r.key).await.unwrap().expect("record");
    assert_eq!(got.payload, b"a");
    assert_eq!(got.version, Version(2));
}

/// `save` of a missing record reports `Gone` and creates nothing.
pub async fn save_of_missing_record_is_gone(store: Arc<dyn Store>) {
    let mut r = record(Duration::hours(1), b"x");
    r.version = Version(2);
    assert_eq!(store.save(&r, Version::FIRST).await.unwrap(), Saved::Gone);
    assert_eq!(store.load(&r.key).await.unwrap(), None);
}

/// `touch` at the loaded version changes the expiry only (not the
/// version).
pub async fn touch_moves_only_the_expiry(store: Arc<dyn Store>) {
    let r = record(Duration::hours(1), b"keep");
    store.create(&r).await.unwrap();
    let later = now() + Duration::hours(5);
    assert_eq!(
        store.touch(&r.key, Version::FIRST, later).await.unwrap(),
        Touched::Ok
    );
    let got = store.load(&r.key).await.unwrap().expect("record");
    assert_same_instant(got.expires_at, later);
    assert_eq!(got.payload, b"keep");
    assert_eq!(got.version, Version::FIRST);
}

/// `touch` at a version the record has moved past writes nothing and says
/// so.
pub async fn touch_after_a_write_moves_on_and_writes_nothing(store: Arc<dyn Store>) {
    let r = record(Duration::hours(1), b"v1");
    store.create(&r).await.unwrap();
    let mut next = r.clone();
    next.version = Version(2);
    next.payload = b"v2".to_vec();
    next.expires_at = now() + Duration::minutes(10);
    assert_eq!(store.save(&next, Version::FIRST).await.unwrap(), Saved::Ok);
    assert_eq!(
        store
            .touch(&r.key, Version::FIRST, now() + Duration::hours(5))
            .await
            .unwrap(),
        Touched::MovedOn
    );
    let got = store.load(&r.key).await.unwrap().expect("record");
    assert_same_instant(got.expires_at, next.expires_at);
    assert_eq!(got.version, Version(2));
}

/// `touch` of a missing record is `Gone` and creates nothing.
pub async fn touch_of_missing_record_creates_nothing(store: Arc<dyn Store>) {
    let key = SessionId::random().hashed_key();
    assert_eq!(
        store
            .touch(&key, Version::FIRST, now() + Duration::hours(1))
            .await
            .unwrap(),
        Touched::Gone
    );
    assert_eq!(store.load(&key).await.unwrap(), None);
}

/// `retire` at the loaded version deletes the record (and its index
/// entry).
pub async fn retire_at_loaded_version_deletes(store: Arc<dyn Store>) {
    let mut r = record(Duration::hours(1), br#"{"f":1,"c":0,"d":{}}"#);
    let user = format!("u{}", &SessionId::random().to_string()[..12]);
    r.user = Some(user.clone());
    store.create(&r).await.unwrap();
    assert_eq!(
        store.retire(&r.key, Version::FIRST).await.unwrap(),
        Retired::Ok
    );
    assert_eq!(store.load(&r.key).await.unwrap(), None);
    if let Some(index) = store.user_index() {
        assert!(index.user_records(&user).await.unwrap().is_empty());
    }
    assert_eq!(
        store.retire(&r.key, Version::FIRST).await.unwrap(),
        Retired::Gone
    );
}

/// `retire` at a version the record has moved past deletes nothing.
pub async fn retire_after_a_write_moves_on_and_keeps_the_record(store: Arc<dyn Store>) {
    let r = record(Duration::hours(1), b"v1");
    store.create(&r).await.unwrap();
    let mut next = r.clone();
    next.version = Version(2);
    next.payload = b"v2".to_vec();
    assert_eq!(store.save(&next, Version::FIRST).await.unwrap(), Saved::Ok);
    assert_eq!(
        store.retire(&r.key, Version::FIRST).await.unwrap(),
        Retired::MovedOn
    );
    let got = store.load(&r.key).await.unwrap().expect("record");
    assert_eq!(got.payload, b"v2");
    assert_eq!(store.retire(&r.key, Version(2)).await.unwrap(), Retired::Ok);
}

/// Payloads are opaque bytes: not UTF-8, not JSON, NUL bytes included.
pub async fn payloads_are_opaque_bytes(store: Arc<dyn Store>) {
    let bytes: Vec<u8> = (0..=255u8).chain([0xff, 0xfe, 0x00, 0xc3]).collect();
    let r = record(Duration::hours(1), &bytes);
    assert_eq!(store.create(&r).await.unwrap(), Created::Ok);
    assert_eq!(
        store.load(&r.key).await.unwrap().expect("record").payload,
        bytes
    );
    let mut next = r.clone();
    next.version = Version(2);
    next.payload = bytes.iter().rev().copied().collect();
    assert_eq!(store.save(&next, Version::FIRST).await.unwrap(), Saved::Ok);
    assert_eq!(
        store.load(&r.key).await.unwrap().expect("record").payload,
        next.payload
    );
}

/// `delete` removes the record and may be repeated.
pub async fn delete_is_idempotent(store: Arc<dyn Store>) {
    let r = record(Duration::hours(1), b"x");
    store.create(&r).await.unwrap();
    store.delete(&r.key).await.unwrap();
    assert_eq!(store.load(&r.key).await.unwrap(), None);
    store.delete(&r.key).await.unwrap();
    store
        .delete(&SessionId::random().hashed_key())
        .await
        .unwrap();
}

/// After `delete_expired`, expired records are gone and live ones stay.
pub async fn delete_expired_leaves_no_expired_record(store: Arc<dyn Store>) {
    let dying: Vec<Record> = (0..3)
        .map(|_| record(Duration::milliseconds(300), b"x"))
        .collect();
    for r in &dying {
        store.create(r).await.unwrap();
    }
    let live = record(Duration::hours(1), b"live");
    store.create(&live).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    store.delete_expired().await.unwrap();
    for r in &dying {
        assert_eq!(store.load(&r.key).await.unwrap(), None);
        // A new record can take the key again.
        let mut again = r.clone();
        again.expires_at = now() + Duration::hours(1);
        assert_eq!(store.create(&again).await.unwrap(), Created::Ok);
    }
    assert!(store.load(&live.key).await.unwrap().is_some());
}

/// Payloads of 0 bytes and of the maximum session size round-trip exactly.
pub async fn empty_and_maximum_payloads_round_trip(store: Arc<dyn Store>) {
    let empty = record(Duration::hours(1), b"");
    store.create(&empty).await.unwrap();
    assert_eq!(
        store
            .load(&empty.key)
            .await
            .unwrap()
            .expect("record")
            .payload,
        b""
    );
    // The largest payload the driver writes: data at the limit plus framing.
    let body = "é".repeat(MAX_PAYLOAD / 2 - 64);
    let payload = format!(r#"{{"f":1,"c":0,"d":{{"k":"{body}"}}}}"#).into_bytes();
    let big = record(Duration::hours(1), &payload);
    store.create(&big).await.unwrap();
    assert_eq!(
        store.load(&big.key).await.unwrap().expect("record").payload,
        payload
    );
}

/// Unicode keys and values survive a trip through the driver and the store.
pub async fn unicode_keys_and_values_round_trip(store: Arc<dyn Store>) {
    let m = manager(store);
    let value = json!({"naïve": "日本語 🎉", "emoji🔑": ["ß", "\u{0}", "\"quoted\""]});
    let cookie = request(&m, None, |s| {
        let value = value.clone();
        async move {
            s.insert("ключ🗝", value).await.unwrap();
        }
    })
    .await
    .expect("cookie");
    request(&m, Some(&cookie), |s| async move {
        let got: serde_json::Value = s.get("ключ🗝").await.unwrap().expect("value");
        assert_eq!(
            got,
            json!({"naïve": "日本語 🎉", "emoji🔑": ["ß", "\u{0}", "\"quoted\""]})
        );
    })
    .await;
}

/// A dropped (cancelled) call leaves either no record or a whole one.
pub async fn cancelled_calls_leave_no_partial_record(store: Arc<dyn Store>) {
    use std::task::{Context, Poll, Waker};
    let r = record(Duration::hours(1), br#"{"whole":true}"#);
    {
        let mut fut = store.create(&r);
        // Poll once, then drop mid-flight.
        let mut cx = Context::from_waker(Waker::noop());
        let _ = fut.as_mut().poll(&mut cx);
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    match store.load(&r.key).await.unwrap() {
        None => {}
        Some(got) => {
            assert_eq!(got.payload, r.payload);
            assert_eq!(got.version, r.version);
        }
    }
    // The store still works afterwards.
    let again = record(Duration::hours(1), b"x");
    assert_eq!(store.create(&again).await.unwrap(), Created::Ok);
    let mut poll_save = again.clone();
    poll_save.version = Version(2);
    poll_save.payload = b"y".to_vec();
    {
        let mut fut = store.save(&poll_save, Version::FIRST);
        let mut cx = Context::from_waker(Waker::noop());
        if let Poll::Ready(r) = fut.as_mut().poll(&mut cx) {
            r.unwrap();
        }
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let got = store.load(&again.key).await.unwrap().expect("record");
    assert!(
        (got.version == Version::FIRST && got.payload == b"x")
            || (got.version == Version(2) && got.payload == b"y"),
        "partial record: {got:?}"
    );
}

/// The store only ever sees a hash of the session id.
pub async fn ids_are_hashed_at_rest(store: Arc<dyn Store>) {
    let m = manager(store.clone());
    let mut id = None;
    let cookie = request(&m, None, |s| {
        let id = &mut id;
        async move {
            s.insert("k", 1).await.unwrap();
            *id = Some(s.id().await.unwrap());
        }
    })
    .await
    .expect("cookie");
    let id = id.expect("id");
    assert!(cookie.starts_with(&id.to_string()));
    assert_eq!(store.load(&id.plain_key()).await.unwrap(), None);
    let r = store.load(&id.hashed_key()).await.unwrap().expect("record");
    let payload = String::from_utf8_lossy(&r.payload);
    assert!(!payload.contains(&id.to_string()));
}

/// Two tasks racing `update` on one key 500 times each end at exactly 1000.
pub async fn racing_updates_are_exact(store: Arc<dyn Store>) {
    let m = manager(store);
    let cookie = request(&m, None, |s| async move { s.insert("n", 0).await.unwrap() })
        .await
        .expect("cookie");
    let mut tasks = Vec::new();
    for _ in 0..2 {
        let m = m.clone();
        let cookie = cookie.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..500 {
                request(&m, Some(&cookie), |s| async move {
                    s.update("n", |n: Option<u64>| n.unwrap_or(0) + 1)
                        .await
                        .unwrap();
                })
                .await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    request(&m, Some(&cookie), |s| async move {
        assert_eq!(s.get::<u64>("n").await.unwrap(), Some(1000));
    })
    .await;
}

/// Sixteen tasks writing different keys of one session all land.
pub async fn concurrent_distinct_keys_all_land(store: Arc<dyn Store>) {
    let m = manager(store);
    let cookie = request(&m, None, |s| async move {
        s.insert("seed", true).await.unwrap()
    })
    .await
    .expect("cookie");
    let mut tasks = Vec::new();
    for t in 0..16 {
        let m = m.clone();
        let cookie = cookie.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..10 {
                request(&m, Some(&cookie), |s| async move {
                    s.insert(&format!("k{t}_{i}"), i).await.unwrap();
                })
                .await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    request(&m, Some(&cookie), |s| async move {
        let all = s.entries().await.unwrap();
        assert_eq!(all.len(), 16 * 10 + 1, "keys lost: {}", 161 - all.len());
    })
    .await;
}

/// A destroy during concurrent saves stays destroyed: no late save brings
/// the data back.
pub async fn destroy_wins_over_concurrent_saves(store: Arc<dyn Store>) {
    let m = manager(store.clone());
    let mut id = None;
    let cookie = request(&m, None, |s| {
        let id = &mut id;
        async move {
            s.insert("secret", "before").await.unwrap();
            *id = Some(s.id().await.unwrap());
        }
    })
    .await
    .expect("cookie");
    let key = id.expect("id").hashed_key();
    let mut writers = Vec::new();
    for w in 0..4 {
        let m = m.clone();
        let cookie = cookie.clone();
        writers.push(tokio::spawn(async move {
            for i in 0..50 {
                request(&m, Some(&cookie), |s| async move {
                    s.insert(&format!("w{w}"), i).await.unwrap();
                })
                .await;
            }
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    request(&m, Some(&cookie), |s| async move { s.destroy() }).await;
    for w in writers {
        w.await.unwrap();
    }
    assert_eq!(
        store.load(&key).await.unwrap(),
        None,
        "destroyed session came back"
    );
    request(&m, Some(&cookie), |s| async move {
        assert_eq!(s.get::<String>("secret").await.unwrap(), None);
        assert!(s.is_new().await.unwrap());
    })
    .await;
}

/// `regenerate` moves the data to a new id and the old id stops loading.
pub async fn regenerate_moves_data_and_retires_the_old_id(store: Arc<dyn Store>) {
    let m = manager(store.clone());
    let old = request(&m, None, |s| async move {
        s.insert("user", "ada").await.unwrap()
    })
    .await
    .expect("cookie");
    let new = request(
        &m,
        Some(&old),
        |s| async move { s.regenerate().await.unwrap() },
    )
    .await
    .expect("new cookie");
    assert_ne!(old, new);
    request(&m, Some(&new), |s| async move {
        assert_eq!(
            s.get::<String>("user").await.unwrap().as_deref(),
            Some("ada")
        );
    })
    .await;
    request(&m, Some(&old), |s| async move {
        assert_eq!(s.get::<String>("user").await.unwrap(), None);
    })
    .await;
}

fn has_index(store: &Arc<dyn Store>) -> bool {
    let has = store.user_index().is_some();
    if !has {
        eprintln!("this store has no user index: user-index case skipped");
    }
    has
}

/// Logs a new session in as `user` and returns its cookie value.
async fn login(m: &SessionManager, user: &'static str, label: &'static str) -> String {
    request(m, None, move |s| async move {
        s.regenerate().await.unwrap();
        s.set_user(user).await.unwrap();
        s.set_label(label).await.unwrap();
        s.insert("user", user).await.unwrap();
    })
    .await
    .expect("cookie")
}

/// The index lists exactly the live sessions of a user, with their labels.
pub async fn user_index_lists_live_sessions_of_a_user(store: Arc<dyn Store>) {
    if !has_index(&store) {
        return;
    }
    let m = manager(store);
    for label in ["laptop", "phone", "tablet"] {
        login(&m, "ada", label).await;
    }
    login(&m, "bob", "desktop").await;
    request(&m, None, |s| async move {
        s.insert("anonymous", true).await.unwrap()
    })
    .await;
    let ada = m.user_sessions("ada").await.unwrap();
    assert_eq!(ada.len(), 3, "{ada:?}");
    let mut labels: Vec<_> = ada.iter().filter_map(|i| i.label.clone()).collect();
    labels.sort();
    assert_eq!(labels, ["laptop", "phone", "tablet"]);
    assert!(
        ada.iter()
            .all(|i| i.expires_at > i.created_at && i.last_seen >= i.created_at)
    );
    assert_eq!(m.user_sessions("bob").await.unwrap().len(), 1);
    assert!(m.user_sessions("nobody").await.unwrap().is_empty());
}

/// Expired, deleted and re-assigned records never appear in a listing.
pub async fn user_index_never_lists_expired_deleted_or_moved(store: Arc<dyn Store>) {
    let Some(index) = store.user_index() else {
        return;
    };
    let user = format!("u{}", &SessionId::random().to_string()[..12]);
    let mut short = record(Duration::milliseconds(300), br#"{"f":1,"c":0,"d":{}}"#);
    short.user = Some(user.clone());
    let mut kept = record(Duration::hours(1), br#"{"f":1,"c":0,"d":{}}"#);
    kept.user = Some(user.clone());
    let mut deleted = kept.clone();
    deleted.key = SessionId::random().hashed_key();
    let mut moved = kept.clone();
    moved.key = SessionId::random().hashed_key();
    for r in [&short, &kept, &deleted, &moved] {
        assert_eq!(store.create(r).await.unwrap(), Created::Ok);
    }
    assert_eq!(index.user_records(&user).await.unwrap().len(), 4);
    store.delete(&deleted.key).await.unwrap();
    let mut to_other = moved.clone();
    to_other.version = Version(2);
    to_other.user = Some(format!("{user}-other"));
    assert_eq!(
        store.save(&to_other, Version::FIRST).await.unwrap(),
        Saved::Ok
    );
    assert_eq!(
        store.load(&moved.key).await.unwrap().and_then(|r| r.user),
        to_other.user
    );
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    let listed = index.user_records(&user).await.unwrap();
    assert_eq!(
        listed.iter().map(|r| r.key).collect::<Vec<_>>(),
        [kept.key],
        "{listed:?}"
    );
    assert_eq!(listed[0].user.as_deref(), Some(user.as_str()));
    let other = index.user_records(&format!("{user}-other")).await.unwrap();
    assert_eq!(other.len(), 1);
}

/// "Log out other devices": the other sessions' next requests get fresh,
/// empty sessions at once.
pub async fn revoke_others_is_immediate(store: Arc<dyn Store>) {
    if !has_index(&store) {
        return;
    }
    let m = manager(store);
    let a = login(&m, "carol", "a").await;
    let b = login(&m, "carol", "b").await;
    let c = login(&m, "carol", "c").await;
    let mut revoked = 0;
    request(&m, Some(&a), |s| {
        let revoked = &mut revoked;
        async move {
            let devices = s.devices().await.unwrap();
            assert_eq!(devices.len(), 3);
            assert_eq!(devices.iter().filter(|d| d.current).count(), 1);
            *revoked = s.revoke_others().await.unwrap();
        }
    })
    .await;
    assert_eq!(revoked, 2);
    for cookie in [&b, &c] {
        request(&m, Some(cookie), |s| async move {
            assert_eq!(s.get::<String>("user").await.unwrap(), None);
            assert_eq!(s.user().await.unwrap(), None);
        })
        .await;
    }
    request(&m, Some(&a), |s| async move {
        assert_eq!(
            s.get::<String>("user").await.unwrap().as_deref(),
            Some("carol")
        );
    })
    .await;
    assert_eq!(m.user_sessions("carol").await.unwrap().len(), 1);
    assert_eq!(m.revoke_all("carol").await.unwrap(), 1);
    assert!(m.user_sessions("carol").await.unwrap().is_empty());
}

/// A per-user cap revokes the oldest session at a login beyond it, or
/// refuses the login, by option.
pub async fn session_cap_revokes_oldest_or_refuses(store: Arc<dyn Store>) {
    if !has_index(&store) {
        return;
    }
    let config = |policy| {
        SessionConfig::builder()
            .key(crate::test_key("key 3"))
            .max_sessions_per_user(2, policy)
            .build()
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let m = SessionManager::from_arc(config(crate::SessionCap::RevokeOldest), store.clone());
    let first = login(&m, "dan", "1").await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    login(&m, "dan", "2").await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    login(&m, "dan", "3").await;
    let left = m.user_sessions("dan").await.unwrap();
    let mut labels: Vec<_> = left.iter().filter_map(|i| i.label.clone()).collect();
    labels.sort();
    assert_eq!(labels, ["2", "3"]);
    request(&m, Some(&first), |s| async move {
        assert_eq!(
            s.user().await.unwrap(),
            None,
            "the oldest session was not revoked"
        );
    })
    .await;
    let m = SessionManager::from_arc(config(crate::SessionCap::RefuseLogin), store);
    let mut refused = None;
    request(&m, None, |s| {
        let refused = &mut refused;
        async move {
            *refused = Some(s.set_user("dan").await);
        }
    })
    .await;
    assert!(
        matches!(refused, Some(Err(crate::SessionError::TooManySessions(2)))),
        "{refused:?}"
    );
    assert_eq!(m.user_sessions("dan").await.unwrap().len(), 2);
}
