//! `PostgresStore` against the real local PostgreSQL: the store conformance
//! suite (one schema per case) and the PostgreSQL specifics.

mod common;

use std::time::Duration;

use common::Instance as _;
use common::{created_row, drop_schema, instances_of, pg_store, pg_url, record};
use session_core::testing::namespace;
use session_core::{Created, Record, Store, Version};
use session_sqlx::sqlx::Executor;
use session_sqlx::sqlx::postgres::PgPoolOptions;
use session_sqlx::{Error, PostgresStore, sqlx};
use time::OffsetDateTime;

shared_store_tests!(
    PostgresStore, make: pg_store, unmigrated: common::pg_unmigrated, drop: drop_schema,
    url: &pg_url(), bad_url: "postgres://postgres@127.0.0.1:1/none"
);

fn lazy_pool() -> sqlx::PgPool {
    PgPoolOptions::new()
        .max_connections(1)
        .connect_lazy(&pg_url())
        .expect("url")
}

#[tokio::test]
async fn invalid_names_are_rejected() {
    for bad in [
        "",
        "Sessions",
        "a-b",
        "x\"; DROP TABLE y; --",
        "pg_temp",
        "1a",
    ] {
        assert!(
            matches!(
                PostgresStore::new(lazy_pool()).with_schema(bad),
                Err(Error::InvalidName { what: "schema", .. })
            ),
            "{bad:?}"
        );
    }
    for bad in ["", "S", "a b", "t;", &"t".repeat(49)] {
        assert!(
            matches!(
                PostgresStore::new(lazy_pool()).with_table(bad),
                Err(Error::InvalidName { what: "table", .. })
            ),
            "{bad:?}"
        );
    }
    let ok = PostgresStore::new(lazy_pool())
        .with_schema("auth")
        .and_then(|s| s.with_table("web_sessions"))
        .expect("valid names");
    assert_eq!((ok.schema(), ok.table()), ("auth", "web_sessions"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_migrations_from_four_instances_all_succeed() {
    let ns = namespace("pg_concurrent_migrate");
    let first = common::pg_unmigrated(ns.clone()).await;
    let stores = instances_of(4, &first.with_table("shared").expect("name")).await;
    let s = &stores[0];
    let indexes: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_indexes WHERE schemaname = $1 AND tablename = 'shared'",
    )
    .bind(&ns)
    .fetch_one(s.pool())
    .await
    .expect("pg_indexes");
    assert_eq!(indexes, 3, "primary key, expiry index and user index");
    drop_schema(s).await;
}

#[tokio::test]
async fn delete_expired_deletes_every_batch_and_keeps_live_rows() {
    let store = pg_store(namespace("pg_delete_expired_batches")).await;
    let bulk = format!(
        "INSERT INTO \"{}\".sessions (id, version, expires_at, payload) \
         SELECT 'old' || g, 1, now() - interval '1 minute', '\\x7b7d' FROM generate_series(1, 2500) g",
        store.schema()
    );
    common::expired_rows_go_in_batches(&store, &bulk, common::count_rows).await;
    drop_schema(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_upgrades_a_previous_version_table_keeping_its_rows() {
    let (ns, stores, loaded) =
        common::upgrade_from_0001("pg_upgrade_0001", common::pg_unmigrated).await;
    let store = &stores[0];
    let columns = store
        .strings(&format!(
            "SELECT concat_ws(' ', column_name, data_type, is_nullable) \
             FROM information_schema.columns WHERE table_schema = '{ns}' \
             AND table_name = 'sessions' AND column_name IN ('user_id', 'login_at') \
             ORDER BY column_name"
        ))
        .await;
    let want = ["login_at timestamp with time zone YES", "user_id text YES"];
    assert_eq!(columns, want, "migrations 0002 and 0003");
    let index: Option<String> = sqlx::query_scalar(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND indexname = 'sessions_user_id_idx'",
    )
    .bind(&ns)
    .fetch_optional(store.pool())
    .await
    .expect("pg_indexes");
    // The listing's WHERE clause can use the partial index.
    let mut tx = store.pool().begin().await.expect("begin");
    tx.execute("SET LOCAL enable_seqscan = off")
        .await
        .expect("set");
    let plan: Vec<String> = sqlx::query_scalar(&format!(
        "EXPLAIN SELECT id, version, expires_at, payload FROM \"{ns}\".sessions \
         WHERE user_id = $1 AND expires_at > $2"
    ))
    .bind("ada")
    .bind(OffsetDateTime::now_utc())
    .fetch_all(&mut *tx)
    .await
    .expect("plan");
    tx.rollback().await.expect("rollback");
    common::user_index_in_use(index, "(user_id) WHERE (user_id IS NOT NULL)", &plan);

    // The old row joins a user through the new code.
    common::old_row_joins_a_user(&stores, loaded).await;
    drop_schema(store).await;
}

/// Once applied, migration 0002 is skipped, so a restart's `migrate` takes
/// no lock that waits for (or blocks) readers of the table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_on_restart_does_not_wait_for_readers() {
    let store = pg_store(namespace("pg_migrate_no_lock")).await;
    let r = record(time::Duration::hours(1));
    store.create(&r).await.expect("create");
    // A reader holds ACCESS SHARE on the table until it commits.
    let mut reader = store.pool().begin().await.expect("begin");
    sqlx::query(&format!(
        "SELECT count(*) FROM \"{}\".sessions",
        store.schema()
    ))
    .execute(&mut *reader)
    .await
    .expect("read");
    // A restart whose lock waits fail instead of queueing.
    let options = PostgresStore::options(&pg_url(), None)
        .expect("url")
        .options([("lock_timeout", "1s")]);
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .expect("connect");
    let restarted = PostgresStore::new(pool)
        .with_schema(store.schema())
        .expect("schema name");
    restarted
        .migrate()
        .await
        .expect("migrate takes no lock that conflicts with a reader");
    assert!(restarted.load(&r.key).await.expect("load").is_some());
    reader.commit().await.expect("commit");
    drop_schema(&store).await;
}

/// Runs `op` while another transaction holds the row's lock with `change`
/// (a statement on the row whose id is `$1`), and commits that transaction
/// once `op`'s statement waits for the lock: `op`'s snapshot still shows
/// the row as it was, but the row it can write is gone or moved on.
async fn against_a_committing<T, F>(store: &PostgresStore, r: &Record, change: &str, op: F) -> T
where
    T: Send + 'static,
    F: std::future::Future<Output = T> + Send + 'static,
{
    let mut other = store.pool().begin().await.expect("begin");
    sqlx::query(change)
        .bind(r.key.as_str())
        .execute(&mut *other)
        .await
        .expect("change");
    let task = tokio::spawn(op);
    // Wait (bounded) until the store's statement waits for the row lock.
    let pattern = format!("%\"{}\".%", store.schema());
    let mut waiting = false;
    for _ in 0..1000 {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE wait_event_type = 'Lock' AND query LIKE $1 AND pid <> pg_backend_pid()",
        )
        .bind(&pattern)
        .fetch_one(store.pool())
        .await
        .expect("pg_stat_activity");
        if n > 0 {
            waiting = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(
        waiting,
        "the store's statement never waited for the row lock"
    );
    other.commit().await.expect("commit");
    task.await.expect("task")
}

/// A compare-and-swap that waits for a concurrent writer of its row
/// answers by what that writer left, not by its own (older) snapshot: a
/// row deleted meanwhile is gone, a row written meanwhile has moved on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cas_waiting_on_a_concurrent_writer_answers_by_its_outcome() {
    let store = pg_store(namespace("pg_cas_concurrent")).await;
    let t = format!("\"{}\".sessions", store.schema());
    let later = OffsetDateTime::now_utc() + time::Duration::hours(2);
    for (change, gone) in [
        (format!("DELETE FROM {t} WHERE id = $1"), true),
        (
            format!("UPDATE {t} SET version = version + 1 WHERE id = $1"),
            false,
        ),
    ] {
        // `call` on a fresh row, against the change: the row, and the
        // call's outcome by name.
        let verdict = async |call: &'static str| {
            let r = created_row(&store).await;
            let (s, key, mut next) = (store.clone(), r.key, r.clone());
            next.version = Version(2);
            next.payload = b"mine".to_vec();
            let outcome = against_a_committing(&store, &r, &change, async move {
                match call {
                    "touch" => format!("{:?}", s.touch(&key, Version::FIRST, later).await),
                    "retire" => format!("{:?}", s.retire(&key, Version::FIRST).await),
                    _ => format!("{:?}", s.save(&next, Version::FIRST).await),
                }
            })
            .await;
            (r, outcome)
        };
        let (_, touched) = verdict("touch").await;
        let (retired_row, retired) = verdict("retire").await;
        let (saved_row, saved) = verdict("save").await;
        let want = if gone {
            ["Ok(Gone)", "Ok(Gone)", "Ok(Gone)"]
        } else {
            ["Ok(MovedOn)", "Ok(MovedOn)", "Ok(Conflict)"]
        };
        assert_eq!([touched, retired, saved], want, "against {change}");
        if !gone {
            assert!(store.load(&retired_row.key).await.expect("load").is_some());
            let stored = common::loaded(&store, &saved_row.key).await;
            assert_eq!(
                (stored.version, stored.payload),
                (Version(2), saved_row.payload)
            );
        }
    }
    drop_schema(&store).await;
}

/// `connect_with_statement_timeout`: a save blocked by another
/// transaction's row lock is cancelled by the server at the timeout and
/// fails with the typed timeout error; it did not commit, and the store
/// works again once the lock is gone.
#[tokio::test]
async fn a_statement_past_the_timeout_is_a_typed_error_and_commits_nothing() {
    let ns = namespace("pg_statement_timeout");
    let store =
        PostgresStore::connect_with_statement_timeout(&pg_url(), Some(Duration::from_millis(300)))
            .await
            .expect("connect")
            .with_schema(&ns)
            .expect("schema name");
    store.migrate().await.expect("migrate");
    let r = record(time::Duration::hours(1));
    assert_eq!(store.create(&r).await.expect("create"), Created::Ok);

    // Another connection holds the row in an open transaction.
    let mut locker = store.pool().begin().await.expect("begin");
    sqlx::query(&format!(
        "SELECT id FROM \"{}\".sessions WHERE id = $1 FOR UPDATE",
        store.schema()
    ))
    .bind(r.key.as_str())
    .fetch_one(&mut *locker)
    .await
    .expect("lock the row");

    let newer = Record {
        version: Version(2),
        payload: b"{\"n\":2}".to_vec(),
        ..r.clone()
    };
    let err = store
        .save(&newer, Version::FIRST)
        .await
        .expect_err("the save waits past the statement timeout");
    assert!(
        matches!(err, session_core::StoreError::Timeout),
        "not the typed timeout: {err:?}"
    );
    locker.rollback().await.expect("release the row");

    let stored = common::loaded(&store, &r.key).await;
    assert_eq!(
        stored.version,
        Version::FIRST,
        "the timed-out save committed"
    );
    assert_eq!(stored.payload, r.payload);
    assert!(matches!(
        store.save(&newer, Version::FIRST).await.expect("save"),
        session_core::Saved::Ok
    ));
    drop_schema(&store).await;
}
