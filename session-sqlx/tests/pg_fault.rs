//! Fault tests: the store's PostgreSQL backends are killed with
//! `pg_terminate_backend` while in use. Calls fail with a typed
//! `StoreError` (never a panic) and the pool recovers by itself. And an
//! app booted while its PostgreSQL (a throwaway server the test starts)
//! is down answers 503, then serves once the server is up.

mod common;

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use common::{
    assert_typed, blocked_calls_fail_typed_when_killed, drop_schema, fault_record, lock_row_sql,
    pg_url, poll_until, pool_of_two, store_with_a_row, until_recovered,
};
use session_core::testing::namespace;
use session_core::{Created, Saved, Store, Version};
use session_sqlx::PostgresStore;
use session_sqlx::sqlx::postgres::PgConnectOptions;
use session_sqlx::sqlx::{self, Connection, Executor};
use time::OffsetDateTime;

/// A store in schema `app` (not migrated yet) on a pool of 2
/// connections named `app`.
async fn store(app: &str) -> PostgresStore {
    let options = PgConnectOptions::from_str(&pg_url())
        .expect("url")
        .application_name(app);
    let pool = pool_of_two(options, Duration::from_secs(5)).await;
    PostgresStore::new(pool)
        .with_schema(app)
        .expect("schema name")
}

/// A connection outside the store's pool.
async fn admin() -> sqlx::PgConnection {
    sqlx::PgConnection::connect(&pg_url())
        .await
        .expect("admin connection")
}

/// Terminates every backend of `app`; returns how many.
async fn kill(admin: &mut sqlx::PgConnection, app: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = $1) k",
    )
    .bind(app)
    .fetch_one(admin)
    .await
    .expect("terminate")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_blocked_in_the_database_fail_typed_when_their_backend_dies() {
    let (app, store, r, mut locker) = store_with_a_row("pg_fault_blocked", store, admin).await;

    // Another session locks the row: the store's save and touch block in it.
    sqlx::raw_sql(&lock_row_sql(&store, &r))
        .execute(&mut locker)
        .await
        .expect("lock");

    let mut admin = admin().await;
    blocked_calls_fail_typed_when_killed(&store, &r, async || {
        let waiting = poll_until(
            100,
            Duration::from_millis(20),
            async || {
                sqlx::query_scalar::<_, i64>(
                    "SELECT count(*) FROM pg_stat_activity \
                 WHERE application_name = $1 AND wait_event_type = 'Lock'",
                )
                .bind(&app)
                .fetch_one(&mut admin)
                .await
                .expect("pg_stat_activity")
            },
            |n| *n == 2,
        )
        .await;
        assert!(kill(&mut admin, &app).await >= waiting);
        usize::try_from(waiting).unwrap_or(0)
    })
    .await;
    locker.execute("ROLLBACK").await.expect("rollback");
    let mut next = r.clone();
    next.version = Version(2);

    // The pool opens new connections by itself; nothing was written.
    let got = until_recovered(&store, &r.key).await.expect("record");
    assert_eq!(got.version, Version::FIRST);
    assert_eq!(
        store.save(&next, Version::FIRST).await.expect("save"),
        Saved::Ok
    );
    assert_eq!(
        store
            .touch(
                &r.key,
                next.version,
                OffsetDateTime::now_utc() + time::Duration::hours(2)
            )
            .await
            .expect("touch"),
        session_core::Touched::Ok
    );
    drop_schema(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backends_killed_repeatedly_under_load_give_typed_errors_then_recover() {
    let app = namespace("pg_fault_load");
    let store = store(&app).await;
    store.migrate().await.expect("migrate");
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));

    let mut workers = Vec::new();
    for _ in 0..6 {
        let (store, stop, ok, failed) = (store.clone(), stop.clone(), ok.clone(), failed.clone());
        workers.push(tokio::spawn(async move {
            let mut i = 0u32;
            while !stop.load(Ordering::SeqCst) && i < 2000 {
                i += 1;
                let r = fault_record();
                let results = [
                    store.create(&r).await.map(|_| ()),
                    store.load(&r.key).await.map(|_| ()),
                    store.delete(&r.key).await,
                ];
                for res in results {
                    match res {
                        Ok(()) => ok.fetch_add(1, Ordering::SeqCst),
                        Err(e) => {
                            assert_typed(&e);
                            failed.fetch_add(1, Ordering::SeqCst)
                        }
                    };
                }
            }
        }));
    }

    let mut admin = admin().await;
    let mut killed = 0;
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(60)).await;
        killed += kill(&mut admin, &app).await;
    }
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.await.expect("a worker panicked");
    }
    assert!(killed > 0, "no backend was ever killed");
    assert!(ok.load(Ordering::SeqCst) > 0);
    println!(
        "killed {killed} backends; {} calls ok, {} failed with a typed error",
        ok.load(Ordering::SeqCst),
        failed.load(Ordering::SeqCst)
    );

    // Afterwards the same pool serves every call again, without help.
    let r = fault_record();
    until_recovered(&store, &r.key).await;
    for _ in 0..20 {
        let r = fault_record();
        assert_eq!(store.create(&r).await.expect("create"), Created::Ok);
        assert!(store.load(&r.key).await.expect("load").is_some());
    }
    drop_schema(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_killed_between_requests_are_replaced() {
    let (app, store, r, mut admin) = store_with_a_row("pg_fault_idle", store, admin).await;
    for _ in 0..3 {
        assert!(kill(&mut admin, &app).await >= 1, "no idle backend to kill");
        // The next calls may fail (typed) until the dead connections are
        // noticed; within a bounded number of tries they succeed.
        assert!(until_recovered(&store, &r.key).await.is_some());
    }
    drop_schema(&store).await;
}

/// An app whose store was built lazily while PostgreSQL was down boots,
/// answers 503 (with no cookie) while the server is down and while its
/// table is missing, and serves sessions once the server is up and
/// migrated, without a restart. The server is a throwaway one on its own
/// port and data dir, stopped by its PID when the test ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_booted_while_postgres_is_down_serves_once_it_is_up() {
    let server =
        common::Server::postgres().expect("a throwaway postgres (.ci/run installs postgresql)");
    // Nothing listens on the port yet: building the store connects nothing.
    let store = PostgresStore::connect_lazy(&server.url())
        .expect("a lazy store needs no server")
        .with_schema(&namespace("pg_boot_down"))
        .expect("schema name");
    common::boots_while_down(server, store, async |s: &PostgresStore| {
        s.migrate().await.expect("migrate, as a deploy step")
    })
    .await;
}
