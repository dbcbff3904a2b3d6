//! Conformance cases for the rules of the revised Store contract that make
//! the lifecycle exact under concurrency: id rotation that never
//! resurrects and keeps concurrent writes, a versioned touch, the per-user
//! cap admitted atomically, the operator capability, and the driver's
//! replay rules. Each runs through a real [`SessionManager`] over the store
//! under test, with the racing requests interleaved by hand (a request is
//! held open between loading its session and finishing).

use std::sync::Arc;

use time::{Duration, OffsetDateTime};

use crate::clock::{Clock, SystemClock};
use crate::config::SessionCap;
use crate::store::{Admission, Cap, Created, Login, Record, Store, Version};
use crate::{Expiry, SessionError, SessionId, SessionManager, TouchPolicy};

use super::held::{close, close_removes, login, manager_with, open, stored, user_name};

fn now() -> OffsetDateTime {
    SystemClock.now()
}

/// What a cookie loads: (user, secret), or `None` for a fresh session.
async fn what(m: &SessionManager, cookie: &str) -> Option<(Option<String>, Option<String>)> {
    let s = open(m, Some(cookie));
    let out = if s.is_new().await.unwrap() {
        None
    } else {
        Some((s.user().await.unwrap(), s.get("secret").await.unwrap()))
    };
    close(m, &s).await;
    out
}

async fn rotation_after<F, Fut>(store: Arc<dyn Store>, needs_index: bool, end: F)
where
    F: FnOnce(SessionManager, String, String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    if needs_index && store.user_index().is_none() {
        eprintln!("this store has no user index: case skipped");
        return;
    }
    let m = manager_with(store.clone(), |b| b);
    let user = user_name();
    let cookie = login(&m, &user).await;
    // Request A (a second login, or a step-up) loads the session...
    let a = open(&m, Some(&cookie));
    assert_eq!(a.user().await.unwrap().as_deref(), Some(user.as_str()));
    // ...meanwhile the session ends...
    end(m.clone(), cookie.clone(), user.clone()).await;
    // ...then A rotates the id and finishes.
    a.regenerate().await.unwrap();
    a.insert("step_up", true).await.unwrap();
    assert!(
        close_removes(&m, &a).await,
        "a rotation of an ended session must remove the cookie"
    );
    assert_eq!(what(&m, &cookie).await, None, "the old id came back");
    if store.user_index().is_some() {
        let listed = m.user_sessions(&user).await.unwrap();
        assert!(listed.is_empty(), "the ended session came back: {listed:?}");
    }
}

/// Issue 14, case 1: a logout during a request that then rotates the id
/// never resurrects the session under the new id.
pub async fn rotation_after_logout_never_resurrects(store: Arc<dyn Store>) {
    rotation_after(store, false, |m, cookie, _| async move {
        let b = open(&m, Some(&cookie));
        b.destroy();
        close(&m, &b).await;
    })
    .await;
}

/// Issue 14, case 1: `revoke_all` during a request that then rotates the
/// id never resurrects the session.
pub async fn rotation_after_revoke_all_never_resurrects(store: Arc<dyn Store>) {
    rotation_after(store, true, |m, _, user| async move {
        assert_eq!(m.revoke_all(&user).await.unwrap(), 1);
    })
    .await;
}

/// Issue 14, case 1: another device's `revoke_others` during a request
/// that then rotates the id never resurrects the session.
pub async fn rotation_after_revoke_others_never_resurrects(store: Arc<dyn Store>) {
    rotation_after(store, true, |m, _, user| async move {
        let other = login(&m, &user).await;
        let b = open(&m, Some(&other));
        assert_eq!(b.revoke_others().await.unwrap(), 1);
        close(&m, &b).await;
        m.revoke_all(&user).await.unwrap();
    })
    .await;
}

/// Issue 14, case 2: a rotation keeps another tab's concurrent write.
pub async fn rotation_keeps_a_concurrent_write(store: Arc<dyn Store>) {
    let m = manager_with(store, |b| b);
    let cookie = stored(&m, "n", 1).await;
    let a = open(&m, Some(&cookie));
    assert_eq!(a.get::<u64>("n").await.unwrap(), Some(1));
    let b = open(&m, Some(&cookie));
    b.update("n", |n: Option<u64>| n.unwrap_or(0) + 1)
        .await
        .unwrap();
    close(&m, &b).await;
    a.regenerate().await.unwrap();
    a.insert("login", true).await.unwrap();
    let rotated = close(&m, &a).await.expect("rotated cookie");
    assert_ne!(rotated, cookie);
    let s = open(&m, Some(&rotated));
    assert_eq!(
        s.get::<u64>("n").await.unwrap(),
        Some(2),
        "the increment was lost"
    );
    assert_eq!(s.get::<bool>("login").await.unwrap(), Some(true));
    close(&m, &s).await;
    assert_eq!(what(&m, &cookie).await, None, "the old id still loads");
}

/// Issue 14, case 4: a read-only request's touch never undoes a concurrent,
/// shorter expiry, and its response advertises no expiry it did not store.
pub async fn touch_never_undoes_a_shorter_expiry(store: Arc<dyn Store>) {
    let m = manager_with(store.clone(), |b| {
        b.idle_timeout(Some(Duration::hours(1)))
            .touch_policy(TouchPolicy::Always)
    });
    let s0 = open(&m, None);
    s0.insert("k", 1).await.unwrap();
    let id = s0.id().await.unwrap();
    let cookie = close(&m, &s0).await.expect("cookie");
    // A touch needs time to have passed since the write.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let a = open(&m, Some(&cookie));
    assert_eq!(a.get::<u64>("k").await.unwrap(), Some(1));
    let deadline = now() + Duration::seconds(40);
    let b = open(&m, Some(&cookie));
    b.set_expiry(Expiry::At(deadline)).await.unwrap();
    close(&m, &b).await;
    assert_eq!(
        close(&m, &a).await,
        None,
        "an unstored expiry was advertised"
    );
    let r = store
        .load(&m.config().store_key(&id))
        .await
        .unwrap()
        .expect("record");
    assert!(
        r.expires_at <= deadline + Duration::milliseconds(1),
        "the touch undid the shorter expiry: {} > {deadline}",
        r.expires_at
    );
}

/// Issue 14, case 5: a label set by a request whose save conflicts is
/// kept.
pub async fn label_survives_a_conflicting_save(store: Arc<dyn Store>) {
    let m = manager_with(store.clone(), |b| b);
    let s0 = open(&m, None);
    s0.insert("k", 1).await.unwrap();
    let id = s0.id().await.unwrap();
    let cookie = close(&m, &s0).await.expect("cookie");
    let a = open(&m, Some(&cookie));
    a.set_label("laptop").await.unwrap();
    let b = open(&m, Some(&cookie));
    b.insert("other", 2).await.unwrap();
    close(&m, &b).await;
    close(&m, &a).await;
    let r = store
        .load(&m.config().store_key(&id))
        .await
        .unwrap()
        .expect("record");
    let d = crate::state::decode(&r.payload).unwrap();
    assert_eq!(d.label.as_deref(), Some("laptop"), "the label was lost");
    assert_eq!(d.data.get("other"), Some(&serde_json::json!(2)));
}

/// Issue 14, case 7: `reload` after `regenerate` drops the rotation: the
/// stored session and the client's cookie stay as they were.
pub async fn reload_discards_a_pending_rotation(store: Arc<dyn Store>) {
    let m = manager_with(store, |b| b);
    let cookie = stored(&m, "k", 1).await;
    let a = open(&m, Some(&cookie));
    a.regenerate().await.unwrap();
    a.insert("dropped", true).await.unwrap();
    assert!(a.reload().await.unwrap(), "the stored session exists");
    assert_eq!(a.get::<bool>("dropped").await.unwrap(), None);
    let out = m.finish(&a).await.unwrap();
    assert!(out.is_none(), "reload kept the rotation: {out:?}");
    let s = open(&m, Some(&cookie));
    assert_eq!(
        s.get::<u64>("k").await.unwrap(),
        Some(1),
        "the session was lost"
    );
    close(&m, &s).await;
    // A session that was never stored reloads as a fresh one.
    let fresh = open(&m, None);
    fresh.insert("x", 1).await.unwrap();
    assert!(!fresh.reload().await.unwrap());
    assert!(fresh.is_empty().await.unwrap());
}

/// Issue 14, case 7: a replay that fails (over the payload limit) keeps
/// the change log, so a handler that catches the error and goes on loses
/// nothing.
pub async fn failed_replay_keeps_the_change_log(store: Arc<dyn Store>) {
    let m = manager_with(store, |b| b.max_payload_bytes(1024));
    let cookie = stored(&m, "seed", 0).await;
    let a = open(&m, Some(&cookie));
    a.insert("small", 1).await.unwrap();
    a.insert("big", "a".repeat(600)).await.unwrap();
    let b = open(&m, Some(&cookie));
    b.insert("other", "b".repeat(600)).await.unwrap();
    close(&m, &b).await;
    let err = a.save().await.unwrap_err();
    assert!(matches!(err, SessionError::Data(_)), "{err:?}");
    let _: Option<String> = a.remove("big").await.unwrap();
    close(&m, &a).await;
    let s = open(&m, Some(&cookie));
    assert_eq!(
        s.get::<u64>("small").await.unwrap(),
        Some(1),
        "a write was lost"
    );
    assert_eq!(s.get::<String>("big").await.unwrap(), None);
    assert_eq!(
        s.get::<String>("other").await.unwrap().map(|v| v.len()),
        Some(600)
    );
    close(&m, &s).await;
}

/// Issue 14, case 6: an idle window that is not positive or is unbounded
/// is refused with a typed error, and the session stays readable.
pub async fn unbounded_or_empty_idle_windows_are_refused(store: Arc<dyn Store>) {
    let m = manager_with(store, |b| b);
    let s0 = open(&m, None);
    s0.insert("k", 1).await.unwrap();
    for bad in [
        Duration::MAX,
        Duration::days(401),
        Duration::ZERO,
        -Duration::SECOND,
    ] {
        let err = s0.set_expiry(Expiry::Idle(bad)).await.unwrap_err();
        assert!(matches!(err, SessionError::Expiry(_)), "{bad}: {err:?}");
    }
    s0.set_expiry(Expiry::Idle(Duration::days(400)))
        .await
        .unwrap();
    let cookie = close(&m, &s0).await.expect("cookie");
    let s = open(&m, Some(&cookie));
    assert_eq!(s.get::<u64>("k").await.unwrap(), Some(1), "logged out");
    close(&m, &s).await;
}

pub(super) fn login_record(user: &str) -> Record {
    Record {
        key: SessionId::random().hashed_key(),
        version: Version::FIRST,
        expires_at: now() + Duration::hours(1),
        payload: br#"{"f":1,"c":0,"d":{}}"#.to_vec(),
        user: Some(user.to_owned()),
    }
}

/// `admit` lists the login, refuses past the cap or revokes the oldest
/// logins, by policy.
pub async fn admit_applies_the_cap(store: Arc<dyn Store>) {
    let Some(index) = store.user_index() else {
        eprintln!("this store has no user index: case skipped");
        return;
    };
    let t0 = now();
    let refuse = Cap {
        max: 2,
        policy: SessionCap::RefuseLogin,
    };
    let user = user_name();
    let (r1, r2, r3) = (
        login_record(&user),
        login_record(&user),
        login_record(&user),
    );
    for (i, r) in [&r1, &r2].into_iter().enumerate() {
        let at = t0 + Duration::seconds(i as i64);
        assert_eq!(
            index.admit(Login::new(r, at, refuse)).await.unwrap(),
            Admission::Admitted { revoked: 0 }
        );
    }
    assert_eq!(
        index.admit(Login::new(&r3, t0, refuse)).await.unwrap(),
        Admission::Refused { live: 2 }
    );
    assert_eq!(
        store.load(&r3.key).await.unwrap(),
        None,
        "a refused login was written"
    );
    let revoke = Cap {
        max: 2,
        policy: SessionCap::RevokeOldest,
    };
    assert_eq!(
        index
            .admit(Login::new(&r3, t0 + Duration::seconds(5), revoke))
            .await
            .unwrap(),
        Admission::Admitted { revoked: 1 }
    );
    assert_eq!(
        store.load(&r1.key).await.unwrap(),
        None,
        "the oldest login was kept"
    );
    assert!(store.load(&r2.key).await.unwrap().is_some());
    assert!(store.load(&r3.key).await.unwrap().is_some());
    let mut listed: Vec<_> = index
        .user_records(&user)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.key)
        .collect();
    listed.sort();
    let mut want = vec![r2.key, r3.key];
    want.sort();
    assert_eq!(listed, want);
    // A collision is reported as such, and writes nothing.
    assert_eq!(
        index.admit(Login::new(&r3, t0, revoke)).await.unwrap(),
        Admission::Collision
    );
}

/// The operator capability counts live sessions and deletes them all.
pub async fn admin_counts_and_clears(store: Arc<dyn Store>) {
    let Some(admin) = store.admin() else {
        eprintln!("this store has no operator capability: case skipped");
        return;
    };
    assert_eq!(admin.count().await.unwrap(), 0);
    let mut keys = Vec::new();
    for i in 0..3 {
        let mut r = login_record(&user_name());
        if i == 0 {
            r.user = None;
        }
        assert_eq!(store.create(&r).await.unwrap(), Created::Ok);
        keys.push(r);
    }
    let mut short = login_record(&user_name());
    short.expires_at = now() + Duration::milliseconds(300);
    store.create(&short).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    assert_eq!(admin.count().await.unwrap(), 3);
    assert!(admin.clear().await.unwrap() >= 3);
    assert_eq!(admin.count().await.unwrap(), 0);
    for r in &keys {
        assert_eq!(store.load(&r.key).await.unwrap(), None);
        if let (Some(index), Some(user)) = (store.user_index(), &r.user) {
            assert!(index.user_records(user).await.unwrap().is_empty());
        }
    }
}
