//! The numbered cases of issue 14, through the public `SessionManager` API
//! only (its request helpers are now `session_core::testing::held`), on
//! `MemoryStore`. As of commit 53ca546 the file compiled
//! unchanged against main at 6f649d4 (before the lifecycle state machine),
//! where every test here failed (since then `destroy` is synchronous); the
//! store-level versions of the same cases are in the
//! conformance suite (`session_core::testing`), which every store runs.

use std::sync::Arc;

use session_core::Clock as _;
use session_core::testing::held::{finish as close, login, manager_with, open, stored, user_name};
use session_core::{Expiry, MemoryStore, SessionCap, SessionConfig, SessionManager, TouchPolicy};
use time::Duration;

fn manager(
    f: impl FnOnce(session_core::SessionConfigBuilder) -> session_core::SessionConfigBuilder,
) -> SessionManager {
    manager_with(Arc::new(MemoryStore::new()), f)
}

/// Whether `cookie` loads a stored session.
async fn loads(m: &SessionManager, cookie: &str) -> bool {
    let s = open(m, Some(cookie));
    let stored = !s.is_new().await.unwrap();
    drop(m.finish(&s).await);
    stored
}

/// Case 1: a logout, `revoke_all` or another device's `revoke_others`
/// during a request that then rotates the id: the response carries no
/// valid session and the user lists nothing.
#[tokio::test]
async fn case1_rotation_after_the_session_ended_never_resurrects() {
    for how in ["logout", "revoke_all", "revoke_others"] {
        let m = manager(|b| b);
        let user = user_name();
        let cookie = login(&m, &user).await;
        let a = open(&m, Some(&cookie));
        assert_eq!(a.user().await.unwrap().as_deref(), Some(user.as_str()));
        match how {
            "logout" => {
                let b = open(&m, Some(&cookie));
                b.destroy();
                close(&m, &b).await;
            }
            "revoke_all" => {
                m.revoke_all(&user).await.unwrap();
            }
            _ => {
                let other = login(&m, &user).await;
                let b = open(&m, Some(&other));
                b.revoke_others().await.unwrap();
                close(&m, &b).await;
                m.revoke_all(&user).await.unwrap();
            }
        }
        a.regenerate().await.unwrap();
        a.insert("step_up", true).await.unwrap();
        let out = close(&m, &a).await;
        if let Some(new) = out.as_deref().filter(|v| !v.is_empty()) {
            assert!(
                !loads(&m, new).await,
                "{how}: the ended session came back under a new id"
            );
        }
        assert!(
            m.user_sessions(&user).await.unwrap().is_empty(),
            "{how}: the user lists a session again"
        );
    }
}

/// Case 2: a rotation keeps another tab's concurrent increment.
#[tokio::test]
async fn case2_rotation_keeps_a_concurrent_write() {
    let m = manager(|b| b);
    let cookie = stored(&m, "n", 1u64).await;
    let a = open(&m, Some(&cookie));
    assert_eq!(a.get::<u64>("n").await.unwrap(), Some(1));
    let b = open(&m, Some(&cookie));
    b.update("n", |n: Option<u64>| n.unwrap_or(0) + 1)
        .await
        .unwrap();
    close(&m, &b).await;
    a.regenerate().await.unwrap();
    let rotated = close(&m, &a).await.unwrap();
    let s = open(&m, Some(&rotated));
    assert_eq!(
        s.get::<u64>("n").await.unwrap(),
        Some(2),
        "the increment was lost"
    );
}

/// Case 3: 8 simultaneous logins of one user under caps 1 and 3, both
/// policies, 200 rounds each: never more than the cap, never 0, and
/// `RefuseLogin` admits exactly the cap.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn case3_concurrent_logins_keep_the_cap() {
    for policy in [SessionCap::RevokeOldest, SessionCap::RefuseLogin] {
        for cap in [1usize, 3] {
            let m = manager(|b| b.max_sessions_per_user(cap, policy));
            for round in 0..200 {
                let user = user_name();
                let tasks: Vec<_> = (0..8)
                    .map(|_| {
                        let (m, user) = (m.clone(), user.clone());
                        tokio::spawn(async move {
                            let s = open(&m, None);
                            s.regenerate().await.unwrap();
                            let ok = s.set_user(user.as_str()).await.is_ok();
                            s.insert("x", 1).await.unwrap();
                            let _ = m.finish(&s).await;
                            ok
                        })
                    })
                    .collect();
                let mut admitted = 0;
                for t in tasks {
                    admitted += usize::from(t.await.unwrap());
                }
                let live = m.user_sessions(&user).await.unwrap().len();
                assert!(
                    live <= cap,
                    "{policy:?} cap {cap} round {round}: {live} live"
                );
                assert!(live >= 1, "{policy:?} cap {cap} round {round}: 0 live");
                if policy == SessionCap::RefuseLogin {
                    assert_eq!(
                        admitted, cap,
                        "{policy:?} cap {cap} round {round}: admitted"
                    );
                    assert_eq!(live, cap, "{policy:?} cap {cap} round {round}");
                }
            }
        }
    }
}

/// Case 4: a read-only request's touch never undoes a concurrent, shorter
/// `Expiry::At`.
#[tokio::test]
async fn case4_touch_never_undoes_a_shorter_expiry() {
    let m = manager(|b| {
        b.idle_timeout(Some(Duration::hours(1)))
            .touch_policy(TouchPolicy::Always)
    });
    let cookie = stored(&m, "k", 1).await;
    // A touch needs time to have passed since the write.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let a = open(&m, Some(&cookie));
    assert_eq!(a.get::<u64>("k").await.unwrap(), Some(1));
    let deadline = session_core::SystemClock.now() + Duration::seconds(40);
    let b = open(&m, Some(&cookie));
    b.set_expiry(Expiry::At(deadline)).await.unwrap();
    close(&m, &b).await;
    close(&m, &a).await;
    let s = open(&m, Some(&cookie));
    let stored = s.expires_at().await.unwrap();
    assert!(
        stored <= deadline + Duration::milliseconds(1),
        "the touch undid the shorter expiry: {stored} > {deadline}"
    );
}

/// Case 5: a label set by a request whose save conflicts is kept.
#[tokio::test]
async fn case5_label_survives_a_conflicting_save() {
    let m = manager(|b| b);
    let user = user_name();
    let cookie = login(&m, &user).await;
    let a = open(&m, Some(&cookie));
    a.set_label("laptop").await.unwrap();
    let b = open(&m, Some(&cookie));
    b.insert("other", 2).await.unwrap();
    close(&m, &b).await;
    close(&m, &a).await;
    let listed = m.user_sessions(&user).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        listed[0].label.as_deref(),
        Some("laptop"),
        "the label was lost"
    );
}

/// Case 6: unbounded or empty idle windows are refused, and the session
/// stays readable.
#[tokio::test]
async fn case6_unbounded_or_empty_idle_windows_are_refused() {
    let m = manager(|b| b);
    let s0 = open(&m, None);
    s0.insert("k", 1).await.unwrap();
    for bad in [Duration::MAX, Duration::ZERO, -Duration::SECOND] {
        assert!(
            s0.set_expiry(Expiry::Idle(bad)).await.is_err(),
            "Idle({bad}) was accepted"
        );
    }
    let cookie = close(&m, &s0).await.unwrap();
    let s = open(&m, Some(&cookie));
    assert_eq!(s.get::<u64>("k").await.unwrap(), Some(1), "logged out");
    assert!(
        SessionConfig::builder()
            .key(session_core::test_key("key 5"))
            .idle_timeout(Some(Duration::MAX))
            .build()
            .is_err(),
        "an unbounded idle timeout was accepted"
    );
}

/// Case 7: `reload` after `regenerate` drops the rotation (the stored
/// session and the client's cookie stay as they were); a failed replay
/// keeps the change log.
#[tokio::test]
async fn case7_reload_and_failed_replay_lose_nothing() {
    let m = manager(|b| b);
    let cookie = stored(&m, "k", 1).await;
    let a = open(&m, Some(&cookie));
    a.regenerate().await.unwrap();
    let _ = a.reload().await.unwrap();
    let out = close(&m, &a).await;
    assert!(out.is_none(), "reload kept the rotation: {out:?}");
    assert!(loads(&m, &cookie).await, "the session was lost");

    let m = manager(|b| b.max_payload_bytes(1024));
    let cookie = stored(&m, "seed", 0).await;
    let a = open(&m, Some(&cookie));
    a.insert("small", 1).await.unwrap();
    a.insert("big", "a".repeat(600)).await.unwrap();
    let b = open(&m, Some(&cookie));
    b.insert("other", "b".repeat(600)).await.unwrap();
    close(&m, &b).await;
    assert!(
        a.save().await.is_err(),
        "the replay fits: the case needs it not to"
    );
    let _: Option<String> = a.remove("big").await.unwrap();
    close(&m, &a).await;
    let s = open(&m, Some(&cookie));
    assert_eq!(
        s.get::<u64>("small").await.unwrap(),
        Some(1),
        "a write was lost"
    );
}
