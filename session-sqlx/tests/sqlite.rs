//! `SqliteStore` against real SQLite files: the store conformance suite
//! (one file per case), the SQLite defaults, and lock contention.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::Instance as _;
use common::{record, sqlite_path, sqlite_store, sqlite_url};
use session_core::testing::namespace;
use session_core::{Created, Store, StoreError, Version};
use session_sqlx::sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use session_sqlx::sqlx::{self, Connection, Executor, Row};
use session_sqlx::{Error, SqliteStore};
use time::OffsetDateTime;

// No known failures: every case of the suite passes (issue 15).
mod conformance {
    session_core::store_conformance_tests!(|namespace: String| async move {
        super::common::sqlite_store(namespace).await
    });
}

mod conformance_in_memory {
    session_core::store_conformance_tests!(|_namespace: String| async move {
        super::memory_store().await
    });
}

/// A migrated store on a new in-memory database.
async fn memory_store() -> SqliteStore {
    let store = SqliteStore::connect("sqlite::memory:")
        .await
        .expect("open in-memory database");
    store.migrate().await.expect("migrate");
    store
}

setup_tests!(
    SqliteStore,
    unmigrated: common::sqlite_unmigrated,
    drop: common::drop_file
);

#[tokio::test]
async fn connect_creates_the_file_and_turns_on_wal_and_busy_timeout() {
    let path = sqlite_path(&namespace("sqlite_defaults"));
    assert!(!path.exists());
    let store = SqliteStore::connect(&sqlite_url(&path))
        .await
        .expect("connect");
    store.migrate().await.expect("migrate");
    assert!(path.exists());
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(store.pool())
        .await
        .expect("journal_mode");
    assert_eq!(mode, "wal");
    let timeout: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
        .fetch_one(store.pool())
        .await
        .expect("busy_timeout");
    assert_eq!(timeout, 5000);
    // Data persists across stores on the same file.
    let r = record(time::Duration::hours(1));
    store.create(&r).await.expect("create");
    store.pool().close().await;
    let again = SqliteStore::connect(&sqlite_url(&path))
        .await
        .expect("reopen");
    again.migrate().await.expect("migrate again");
    let got = again.load(&r.key).await.expect("load").expect("record");
    assert_eq!((got.version, &got.payload), (r.version, &r.payload));
    assert!((got.expires_at - r.expires_at).abs() < time::Duration::milliseconds(1));
}

#[tokio::test]
async fn without_mode_rwc_a_missing_file_is_a_typed_error() {
    let path = sqlite_path(&namespace("sqlite_missing"));
    let err = SqliteStore::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect_err("the file does not exist");
    assert!(matches!(err, Error::Database(_)), "{err:?}");
    assert!(!path.exists());
}

/// sqlx closes and replaces a pool connection whose query was cancelled
/// mid-flight (a client disconnect). The in-memory database must survive
/// that: it used to vanish with its only connection ("no such table").
#[tokio::test]
async fn in_memory_database_survives_the_pool_replacing_its_connection() {
    let store = memory_store().await;
    let r = record(time::Duration::hours(1));
    assert_eq!(store.create(&r).await.expect("create"), Created::Ok);
    // Take the pool's only connection out of it and close it.
    let conn = store.pool().acquire().await.expect("acquire").detach();
    conn.close().await.expect("close");
    assert!(store.load(&r.key).await.expect("load").is_some());
    // And the cancelled-call way, many times.
    for _ in 0..50 {
        let other = record(time::Duration::hours(1));
        {
            let mut fut = store.create(&other);
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            let _ = fut.as_mut().poll(&mut cx);
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
        assert!(store.load(&r.key).await.expect("load").is_some());
    }
}

#[tokio::test]
async fn in_memory_database_is_shared_by_all_calls() {
    let store = memory_store().await;
    let store = Arc::new(store);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let r = record(time::Duration::hours(1));
            assert_eq!(store.create(&r).await.expect("create"), Created::Ok);
            r
        }));
    }
    for t in tasks {
        let r = t.await.expect("task");
        assert!(store.load(&r.key).await.expect("load").is_some());
    }
    assert_eq!(common::count_rows(&*store).await, 8);
}

#[tokio::test]
async fn invalid_table_names_are_rejected() {
    let store = SqliteStore::connect("sqlite::memory:")
        .await
        .expect("connect");
    for bad in ["", "Sessions", "x\"; DROP TABLE y; --", "a.b", "9"] {
        assert!(
            matches!(
                store.clone().with_table(bad),
                Err(Error::InvalidName { what: "table", .. })
            ),
            "{bad:?}"
        );
    }
    let custom = store.with_table("my_sessions").expect("valid");
    custom.migrate().await.expect("migrate");
    let r = record(time::Duration::hours(1));
    assert_eq!(custom.create(&r).await.expect("create"), Created::Ok);
    assert_eq!(common::count_rows(&custom).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_migrations_on_one_file_all_succeed() {
    // Connecting converts the new file to WAL; SQLite answers the racing
    // connections SQLITE_BUSY without waiting, which `connect` retries.
    let url = sqlite_url(&sqlite_path(&namespace("sqlite_concurrent_migrate")));
    common::start_at_once(8, || {
        let url = url.clone();
        async move { SqliteStore::connect(&url).await }
    })
    .await;
}

#[tokio::test]
async fn delete_expired_deletes_every_batch_and_keeps_live_rows() {
    let store = sqlite_store(namespace("sqlite_delete_expired_batches")).await;
    let bulk = "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 2500) \
                INSERT INTO sessions (id, version, expires_at, payload) \
                SELECT 'old' || n, 1, 1000, x'7b7d' FROM g";
    common::expired_rows_go_in_batches(&store, bulk, common::count_rows).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleanup_task_deletes_expired_rows_and_stops_on_shutdown() {
    let store = sqlite_store(namespace("sqlite_cleanup_task")).await;
    common::cleanup_task_runs_until_shutdown(&store, common::count_rows).await;
}

/// Opens a second connection to the store's file and takes the write lock.
async fn hold_write_lock(path: &std::path::Path) -> sqlx::SqliteConnection {
    let mut conn =
        sqlx::SqliteConnection::connect_with(&SqliteConnectOptions::new().filename(path))
            .await
            .expect("second connection");
    conn.execute("BEGIN IMMEDIATE").await.expect("write lock");
    conn.execute(
        "INSERT INTO sessions (id, version, expires_at, payload) VALUES ('locker', 1, 1, x'')",
    )
    .await
    .expect("write under the lock");
    conn
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_briefly_held_write_lock_makes_writers_wait_not_fail() {
    let ns = namespace("sqlite_brief_lock");
    let path = sqlite_path(&ns);
    let store = sqlite_store(ns).await;
    let existing = record(time::Duration::hours(1));
    store.create(&existing).await.expect("create");

    let mut locker = hold_write_lock(&path).await;
    let released = Arc::new(AtomicBool::new(false));
    let flag = released.clone();
    let release = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        flag.store(true, Ordering::SeqCst);
        locker.execute("COMMIT").await.expect("commit");
    });

    // Every kind of write, while another connection holds the write lock.
    let fresh = record(time::Duration::hours(1));
    let mut next = existing.clone();
    next.version = Version(2);
    let (c, s, t) = tokio::join!(
        store.create(&fresh),
        store.save(&next, Version::FIRST),
        store.touch(
            &existing.key,
            Version::FIRST,
            OffsetDateTime::now_utc() + time::Duration::hours(2)
        ),
    );
    assert!(
        released.load(Ordering::SeqCst),
        "the writes finished while the lock was held"
    );
    assert_eq!(c.expect("create waits for the lock"), Created::Ok);
    assert_eq!(s.expect("save waits"), session_core::Saved::Ok);
    // The touch races the save: it lands first, or finds the record moved on.
    assert!(matches!(
        t.expect("touch waits"),
        session_core::Touched::Ok | session_core::Touched::MovedOn
    ));
    // Reads never waited on the writer (WAL); they see the committed state.
    release.await.expect("release");
    assert_eq!(
        store
            .load(&existing.key)
            .await
            .expect("load")
            .expect("record")
            .version,
        Version(2)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_held_past_the_busy_timeout_is_a_typed_error() {
    let ns = namespace("sqlite_long_lock");
    let path = sqlite_path(&ns);
    let options = SqliteStore::options(&sqlite_url(&path))
        .expect("options")
        .busy_timeout(Duration::from_millis(200));
    let pool = SqlitePoolOptions::new()
        .max_connections(2)
        .connect_with(options)
        .await
        .expect("pool");
    let store = SqliteStore::new(pool);
    store.migrate().await.expect("migrate");
    let existing = record(time::Duration::hours(1));
    store.create(&existing).await.expect("create");

    let mut locker = hold_write_lock(&path).await;
    let err = store
        .create(&record(time::Duration::hours(1)))
        .await
        .expect_err("the lock outlives the busy timeout");
    let StoreError::Backend(cause) = &err else {
        panic!("not a backend error: {err:?}")
    };
    let cause = cause
        .downcast_ref::<sqlx::Error>()
        .expect("the cause is the sqlx error");
    let code = cause
        .as_database_error()
        .and_then(|d| d.code())
        .map(|c| c.into_owned());
    assert_eq!(code.as_deref(), Some("5"), "SQLITE_BUSY: {cause}");
    // Reads still work under the lock (WAL).
    assert!(store.load(&existing.key).await.expect("read").is_some());

    locker.execute("COMMIT").await.expect("commit");
    let r = record(time::Duration::hours(1));
    assert_eq!(store.create(&r).await.expect("after release"), Created::Ok);
}

/// Tests that run a case of `common` on a file database (in namespace
/// `$ns`) and on an in-memory one.
macro_rules! on_file_and_memory {
    ($($case:ident: $ns:literal;)*) => {$(
        #[tokio::test]
        async fn $case() {
            common::$case(&sqlite_store(namespace($ns)).await).await;
            common::$case(&memory_store().await).await;
        }
    )*};
}

on_file_and_memory! {
    user_column_follows_every_method: "sqlite_user_column";
    admit_revokes_the_oldest_login: "sqlite_login_at";
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_upgrades_a_previous_version_table_keeping_its_rows() {
    let (_, stores, loaded) =
        common::upgrade_from_0001("sqlite_upgrade_0001", common::sqlite_unmigrated).await;
    let store = &stores[0];
    let index: Option<String> = sqlx::query_scalar(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = 'sessions_user_id_idx'",
    )
    .fetch_optional(store.pool())
    .await
    .expect("sqlite_master");
    // The listing's WHERE clause can use the partial index.
    let plan: Vec<String> = sqlx::query(
        "EXPLAIN QUERY PLAN SELECT id, version, expires_at, payload FROM \"sessions\" \
         WHERE user_id = ?1 AND expires_at > ?2",
    )
    .bind("ada")
    .bind(0_i64)
    .fetch_all(store.pool())
    .await
    .expect("plan")
    .iter()
    .map(|row| row.try_get::<String, _>(3).expect("detail"))
    .collect();
    common::user_index_in_use(index, "(user_id) WHERE user_id IS NOT NULL", &plan);
    let columns = "SELECT name || ' ' || type || ' ' || \"notnull\" \
                   FROM pragma_table_info('sessions') WHERE name IN ('user_id', 'login_at') \
                   ORDER BY name";
    let want = ["login_at INTEGER 0", "user_id TEXT 0"];
    assert_eq!(
        store.strings(columns).await,
        want,
        "migrations 0002 and 0003"
    );

    // The old row joins a user through the new code.
    common::old_row_joins_a_user(&stores, loaded).await;
}
