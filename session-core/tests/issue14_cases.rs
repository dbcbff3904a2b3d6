//! The numbered cases of issue 14, through the public `SessionManager` API
//! only (its request helpers are now `session_core::testing::held`), on
//! `MemoryStore`. As of commit 53ca546 the file compiled
//! unchanged against main at 6f649d4 (before the lifecycle state machine),
//! where every test here failed (since then `destroy` is synchronous).
//! Cases 2 and 4 to 7 were since moved into the conformance suite
//! (`session_core::testing::store`), which every store runs; the last test
//! here calls them on `MemoryStore`.

use std::sync::Arc;

use session_core::testing::held::{finish as close, login, manager_with, open, user_name};
use session_core::{MemoryStore, SessionCap, SessionManager};

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

/// Cases 2, 4, 5, 6 and 7 as the conformance suite states them (every
/// store runs the same functions), here on `MemoryStore`.
#[tokio::test]
async fn cases_2_and_4_to_7_as_the_conformance_suite_states_them() {
    use session_core::testing::store as suite;
    let fresh = || Arc::new(MemoryStore::new()) as Arc<dyn session_core::Store>;
    suite::rotation_keeps_a_concurrent_write(fresh()).await;
    suite::touch_never_undoes_a_shorter_expiry(fresh()).await;
    suite::label_survives_a_conflicting_save(fresh()).await;
    suite::unbounded_or_empty_idle_windows_are_refused(fresh()).await;
    suite::reload_discards_a_pending_rotation(fresh()).await;
    suite::failed_replay_keeps_the_change_log(fresh()).await;
}
