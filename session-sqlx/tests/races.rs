//! The per-user rules under real concurrency (issue 15), each repeated
//! [`ROUNDS`] times, on PostgreSQL (one schema per test) and on an SQLite
//! file (one file per test); the same races as session-redis's
//! `tests/races.rs`:
//!
//! - 8 simultaneous logins of one user through `UserIndex::admit`, caps 1
//!   and 3, each policy: the cap holds, `RevokeOldest` leaves exactly
//!   `min(8, cap)` sessions (never 0), all of them admitted logins,
//!   `RefuseLogin` admits exactly `min(8, cap)`, and nothing refused or
//!   revoked can be loaded;
//! - a logout (`Store::delete`) racing the id rotation of the same
//!   logged-in session (`regenerate` + finish, through the manager): the
//!   old id never loads again; when the logout won, no session of the user
//!   loads and the index lists none; when the rotation won, the new id is
//!   the user's only session.
//!
//! Tasks run on a multi-thread runtime and start together (a barrier);
//! every loop is bounded, and nothing asserts on timing.

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use session_core::{
    Admission, Cap, Record, RequestMeta, SessionCap, SessionConfig, SessionId, SessionManager,
    Store, StoreKey, Version,
};
use time::{Duration, OffsetDateTime};

/// Rounds of each race.
const ROUNDS: usize = 200;

/// Simultaneous logins per round.
const LOGINS: usize = 8;

fn user_name(tag: &str) -> String {
    format!("{tag}-{}", &SessionId::random().to_string()[..12])
}

fn login_record(user: &str) -> Record {
    Record {
        key: SessionId::random().hashed_key(),
        version: Version::FIRST,
        expires_at: OffsetDateTime::now_utc() + Duration::hours(1),
        payload: br#"{"f":1,"c":0,"d":{}}"#.to_vec(),
        user: Some(user.to_owned()),
    }
}

/// One round: `LOGINS` tasks admit a fresh record each, at once; returns
/// each record's key and outcome.
async fn simultaneous_logins(
    store: &Arc<dyn Store>,
    user: &str,
    cap: Cap,
) -> Vec<(StoreKey, Admission)> {
    let barrier = Arc::new(tokio::sync::Barrier::new(LOGINS));
    let t0 = OffsetDateTime::now_utc();
    let tasks: Vec<_> = (0..LOGINS)
        .map(|i| {
            let (store, barrier, record) = (store.clone(), barrier.clone(), login_record(user));
            tokio::spawn(async move {
                barrier.wait().await;
                // Distinct login times, so "oldest" is well defined.
                let at = t0 + Duration::milliseconds(i as i64);
                let index = store.user_index().expect("user index");
                let outcome = index
                    .admit(&record, None, at, cap)
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

async fn logins_keep_the_cap(store: Arc<dyn Store>) {
    let index = store
        .user_index()
        .expect("the SQL stores have a user index");
    for policy in [SessionCap::RevokeOldest, SessionCap::RefuseLogin] {
        for max in [1usize, 3] {
            let cap = Cap { max, policy };
            let want = LOGINS.min(max);
            for round in 0..ROUNDS {
                let ctx = format!("{policy:?}, cap {max}, round {round}");
                let user = user_name("login");
                let outcomes = simultaneous_logins(&store, &user, cap).await;
                let live: HashSet<StoreKey> = index
                    .user_records(&user)
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
                // Loadable exactly when listed: nothing refused, revoked or
                // ended comes back, and every live session is listed.
                for (key, outcome) in &outcomes {
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
                        // Every login was admitted (the survivors among
                        // them), and each one revoked was revoked once.
                        let mut revoked = 0;
                        for (_, outcome) in &outcomes {
                            match outcome {
                                Admission::Admitted { revoked: n } => revoked += n,
                                other => panic!("{ctx}: {other:?}"),
                            }
                        }
                        assert_eq!(revoked, LOGINS - want, "{ctx}: revoked: {outcomes:?}");
                    }
                    SessionCap::RefuseLogin => {
                        assert_eq!(admitted.len(), want, "{ctx}: admitted: {outcomes:?}");
                        assert_eq!(live.len(), want, "{ctx}: live sessions");
                        for (_, outcome) in &outcomes {
                            match outcome {
                                Admission::Admitted { revoked: 0 } => {}
                                Admission::Refused { live } => {
                                    assert_eq!(*live, max, "{ctx}: refused at {live}")
                                }
                                other => panic!("{ctx}: {other:?}"),
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Finishes a request: the cookie value it sets (`Some("")` for a
/// removal), `None` when it sets no cookie.
async fn finish(m: &SessionManager, s: &session_core::Session) -> Option<String> {
    let out = m.finish(s).await.unwrap_or_else(|e| panic!("finish: {e}"));
    out.map(|h| {
        let first = h.value.split(';').next().unwrap_or_default().to_owned();
        first
            .split_once('=')
            .map(|(_, v)| v.to_owned())
            .unwrap_or_default()
    })
}

fn open(m: &SessionManager, cookie: Option<&str>) -> session_core::Session {
    let header = cookie.map(|c| format!("{}={c}", m.config().cookie_name()));
    m.start(header.iter().map(|h| h.as_bytes()), RequestMeta::default())
}

async fn logout_racing_a_rotation(store: Arc<dyn Store>) {
    let index = store
        .user_index()
        .expect("the SQL stores have a user index");
    let plain = SessionConfig::builder().key([5u8; 32]).build().unwrap();
    let capped = SessionConfig::builder()
        .key([5u8; 32])
        .max_sessions_per_user(3, SessionCap::RevokeOldest)
        .build()
        .unwrap();
    let (mut logout_won, mut rotation_won) = (0, 0);
    for round in 0..ROUNDS {
        // Every other round under a cap: the new id is then admitted.
        let config = if round % 2 == 0 { &plain } else { &capped };
        let m = SessionManager::from_arc(config.clone(), store.clone());
        let ctx = format!("round {round}, capped {}", round % 2 == 1);
        let user = user_name("rotation");
        let s = open(&m, None);
        s.regenerate().await.unwrap();
        s.set_user(user.as_str()).await.unwrap();
        s.insert("secret", round).await.unwrap();
        let cookie = finish(&m, &s).await.expect("login cookie");
        // Request A (a step-up) has loaded the logged-in session...
        let a = open(&m, Some(&cookie));
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
                // A varying head start for the logout, so that both
                // orders happen (no outcome is asserted on).
                for _ in 0..round % 4 {
                    tokio::task::yield_now().await;
                }
                a.regenerate().await.unwrap();
                a.insert("step_up", true).await.unwrap();
                finish(&m, &a).await
            })
        };
        logout.await.expect("logout task");
        let response = rotation.await.expect("rotation task");
        assert_eq!(store.load(&old).await.unwrap(), None, "{ctx}: old id loads");
        let listed = index.user_records(&user).await.unwrap();
        match response.as_deref() {
            Some(new) if !new.is_empty() => {
                // The retire came first: the logout found nothing to delete,
                // and the rotated session is the user's only one.
                rotation_won += 1;
                let b = open(&m, Some(new));
                assert_eq!(
                    b.user().await.unwrap().as_deref(),
                    Some(user.as_str()),
                    "{ctx}"
                );
                assert_eq!(b.get::<usize>("secret").await.unwrap(), Some(round));
                let key = b.id().await.unwrap().hashed_key();
                finish(&m, &b).await;
                assert_eq!(
                    listed.iter().map(|r| r.key).collect::<Vec<_>>(),
                    [key],
                    "{ctx}: the user's sessions"
                );
            }
            _ => {
                // The logout came first: the rotation found the session
                // gone and ended with a removal cookie; nothing of the user
                // is left.
                logout_won += 1;
                assert!(listed.is_empty(), "{ctx}: the user came back: {listed:?}");
                assert!(
                    m.user_sessions(&user).await.unwrap().is_empty(),
                    "{ctx}: the index lists a live session"
                );
            }
        }
    }
    eprintln!("logout won {logout_won} rounds, the rotation won {rotation_won}");
    assert_eq!(logout_won + rotation_won, ROUNDS);
}

/// A migrated PostgreSQL store in its own schema, with a connection per
/// racing task (so the logins really wait on each other in the server).
async fn pg(case: &str) -> session_sqlx::PostgresStore {
    let pool = session_sqlx::sqlx::postgres::PgPoolOptions::new()
        .max_connections(LOGINS as u32 + 1)
        .connect(&common::pg_url())
        .await
        .expect("connect to PostgreSQL");
    let store = session_sqlx::PostgresStore::new(pool)
        .with_schema(&session_core::testing::namespace(case))
        .expect("valid schema name");
    store.migrate().await.expect("migrate");
    common::mark_and_sweep(&store).await;
    store
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_simultaneous_logins_keep_the_cap() {
    let store = pg("races_pg_logins").await;
    logins_keep_the_cap(Arc::new(store.clone())).await;
    common::drop_schema(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_a_logout_racing_a_rotation_never_resurrects() {
    let store = pg("races_pg_rotation").await;
    logout_racing_a_rotation(Arc::new(store.clone())).await;
    common::drop_schema(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_simultaneous_logins_keep_the_cap() {
    let store = common::sqlite_store(session_core::testing::namespace("races_sqlite_logins")).await;
    logins_keep_the_cap(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_a_logout_racing_a_rotation_never_resurrects() {
    let store =
        common::sqlite_store(session_core::testing::namespace("races_sqlite_rotation")).await;
    logout_racing_a_rotation(Arc::new(store)).await;
}
