//! Conformance cases for the per-user rules under real concurrency (issue
//! 15), each repeated [`ROUNDS`] times on the store under test:
//!
//! - [`concurrent_logins_keep_the_cap`]: 8 simultaneous logins of one user
//!   through [`UserIndex::admit`](crate::store::UserIndex::admit), caps 1
//!   and 3, each policy: the cap holds, `RevokeOldest` leaves exactly
//!   `min(8, cap)` sessions (never 0), all of them admitted logins;
//!   `RefuseLogin` admits exactly `min(8, cap)`; nothing refused or revoked
//!   can be loaded;
//! - [`logout_racing_a_rotation_never_resurrects`]: a logout
//!   ([`Store::delete`]) racing the id rotation of the same logged-in
//!   session (`regenerate` + finish, through the manager): the old id never
//!   loads again; when the logout won, no session of the user loads and the
//!   index lists none; when the rotation won, the new id is the user's only
//!   session.
//!
//! The conformance macro runs them on a multi-thread runtime; the racing
//! tasks start together (a barrier), every loop is bounded, and nothing
//! asserts on timing.

use std::collections::HashSet;
use std::sync::Arc;

use time::Duration;

use super::exactness::login_record;
use super::held::{close, manager_with, open, user_name};
use crate::StoreKey;
use crate::clock::{Clock, SystemClock};
use crate::config::SessionCap;
use crate::store::{Admission, Cap, Login, Store, UserIndex};

/// Rounds of each race.
pub const ROUNDS: usize = 200;

/// Simultaneous logins per round.
const LOGINS: usize = 8;

/// One round: `LOGINS` tasks admit a fresh record each, at once; returns
/// each record's key and outcome.
async fn simultaneous_logins(
    store: &Arc<dyn Store>, user: &str, cap: Cap,
) -> Vec<(StoreKey, Admission)> {
    let barrier = Arc::new(tokio::sync::Barrier::new(LOGINS));
    let t0 = SystemClock.now();
    let tasks: Vec<_> = (0..LOGINS)
        .map(|i| {
            let (store, barrier, record) = (store.clone(), barrier.clone(), login_record(user));
            tokio::spawn(async move {
                barrier.wait().await;
                // Distinct login times, so "oldest" is well defined.
                let at = t0 + Duration::milliseconds(i as i64);
                let index = store.user_index().expect("user index");
                let outcome = index
                    .admit(Login::new(&record, at, cap))
                    .await
                    .unwrap_or_else(|e| panic!("admit: {e}"));
                (record.key, outcome)
            })
        })
        .collect();
    let mut out = Vec::with_capacity(LOGINS);
    for t in tasks {
        out.push(t.await.expect("login task"));
    }
    out
}

/// 8 simultaneous logins of one user, caps 1 and 3, both policies, each
/// [`ROUNDS`] times: `RefuseLogin` admits exactly the cap, `RevokeOldest`
/// leaves exactly the cap (never 0), and only what is listed loads.
pub async fn concurrent_logins_keep_the_cap(store: Arc<dyn Store>) {
    let Some(index) = store.user_index() else {
        eprintln!("this store has no user index: case skipped");
        return;
    };
    for policy in [SessionCap::RevokeOldest, SessionCap::RefuseLogin] {
        for max in [1usize, 3] {
            let cap = Cap { max, policy };
            for round in 0..ROUNDS {
                let ctx = format!("{policy:?}, cap {max}, round {round}");
                let user = user_name();
                let outcomes = simultaneous_logins(&store, &user, cap).await;
                logins_kept_the_cap(&*store, index, &user, cap, &outcomes, &ctx).await;
            }
        }
    }
}

/// The assertions on one round of [`concurrent_logins_keep_the_cap`].
async fn logins_kept_the_cap(
    store: &dyn Store, index: &dyn UserIndex, user: &str, Cap { max, policy }: Cap,
    outcomes: &[(StoreKey, Admission)], ctx: &str,
) {
    let want = LOGINS.min(max);
    let live: HashSet<StoreKey> = index
        .user_records(user)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.key)
        .collect();
    let admitted: HashSet<StoreKey> = outcomes
        .iter()
        .filter(|(_, a)| matches!(a, Admission::Admitted { .. }))
        .map(|(k, _)| *k)
        .collect();
    assert!(
        (1..=max).contains(&live.len()),
        "{ctx}: {} live sessions",
        live.len()
    );
    assert!(
        live.is_subset(&admitted),
        "{ctx}: a live session whose login was not admitted: {outcomes:?}"
    );
    // Loadable exactly when listed: nothing refused, revoked or ended comes
    // back, and every live session is listed.
    for (key, outcome) in outcomes {
        let loaded = store.load(key).await.unwrap();
        assert_eq!(
            loaded.is_some(),
            live.contains(key),
            "{ctx}: {outcome:?}: loadable {}, listed {}",
            loaded.is_some(),
            live.contains(key)
        );
    }
    match policy {
        SessionCap::RevokeOldest => {
            assert_eq!(live.len(), want, "{ctx}: live sessions: {outcomes:?}");
            // Every login was admitted, or revoked before it was confirmed
            // (`Gone`, on a store whose logins race lock-free).
            for (_, outcome) in outcomes {
                assert!(
                    matches!(outcome, Admission::Admitted { .. } | Admission::Gone),
                    "{ctx}: {outcome:?}"
                );
            }
        }
        SessionCap::RefuseLogin => {
            assert_eq!(admitted.len(), want, "{ctx}: admitted: {outcomes:?}");
            assert_eq!(live.len(), want, "{ctx}: live sessions");
            for (_, outcome) in outcomes {
                match outcome {
                    Admission::Admitted { revoked: 0 } => {}
                    Admission::Refused { live } => {
                        assert!(live >= &max, "{ctx}: refused at {live}")
                    }
                    other => panic!("{ctx}: {other:?}"),
                }
            }
        }
    }
}

/// A logout ([`Store::delete`]) racing the id rotation of the same
/// logged-in session, [`ROUNDS`] times, every other round under a cap: the
/// old id never loads again, and whichever won, the user is left with
/// nothing or with the rotated session alone.
pub async fn logout_racing_a_rotation_never_resurrects(store: Arc<dyn Store>) {
    let Some(index) = store.user_index() else {
        eprintln!("this store has no user index: case skipped");
        return;
    };
    let plain = manager_with(store.clone(), |b| b);
    let capped = manager_with(store.clone(), |b| {
        b.max_sessions_per_user(3, SessionCap::RevokeOldest)
    });
    let (mut logout_won, mut rotation_won) = (0, 0);
    for round in 0..ROUNDS {
        // Every other round under a cap: the new id is then admitted.
        let m = if round % 2 == 0 { &plain } else { &capped };
        let ctx = format!("round {round}, capped {}", round % 2 == 1);
        let user = user_name();
        let s = open(m, None);
        s.regenerate().await.unwrap();
        s.set_user(user.as_str()).await.unwrap();
        s.insert("secret", round).await.unwrap();
        let cookie = close(m, &s).await.expect("login cookie");
        // Request A (a step-up) has loaded the logged-in session...
        let a = open(m, Some(&cookie));
        assert_eq!(a.user().await.unwrap().as_deref(), Some(user.as_str()));
        let old = a.id().await.unwrap().hashed_key();
        // ...and rotates its id while a logout deletes the session.
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let logout = {
            let (store, barrier) = (store.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                store.delete(&old).await.unwrap();
            })
        };
        let rotation = {
            let (m, barrier) = (m.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                // A varying head start for the logout, so that both orders
                // happen (no outcome is asserted on).
                for _ in 0..round % 4 {
                    tokio::task::yield_now().await;
                }
                a.regenerate().await.unwrap();
                a.insert("step_up", true).await.unwrap();
                close(&m, &a).await
            })
        };
        logout.await.expect("logout task");
        let response = rotation.await.expect("rotation task");
        assert_eq!(store.load(&old).await.unwrap(), None, "{ctx}: old id loads");
        let listed = index.user_records(&user).await.unwrap();
        if let Some(new) = response {
            // The retire came first: the logout found nothing to delete, and
            // the rotated session is the user's only one.
            rotation_won += 1;
            let b = open(m, Some(&new));
            assert_eq!(
                b.user().await.unwrap().as_deref(),
                Some(user.as_str()),
                "{ctx}"
            );
            assert_eq!(b.get::<usize>("secret").await.unwrap(), Some(round));
            let key = b.id().await.unwrap().hashed_key();
            close(m, &b).await;
            assert_eq!(
                listed.iter().map(|r| r.key).collect::<Vec<_>>(),
                [key],
                "{ctx}: the user's sessions"
            );
        } else {
            // The logout came first: the rotation found the session gone and
            // ended with a removal cookie; nothing of the user is left.
            logout_won += 1;
            assert!(listed.is_empty(), "{ctx}: the user came back: {listed:?}");
            assert!(
                m.user_sessions(&user).await.unwrap().is_empty(),
                "{ctx}: the index lists a live session"
            );
        }
    }
    eprintln!("logout won {logout_won} rounds, the rotation won {rotation_won}");
    assert_eq!(logout_won + rotation_won, ROUNDS);
}
