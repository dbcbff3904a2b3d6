//! Fault tests of `MySqlStore`: its connections killed with `KILL` while in
//! use (on the shared server, only the test's own connections), and a
//! throwaway `mariadbd` (own data dir and port, started by the test) stopped
//! and started again under use. Calls fail with a typed `StoreError`, never
//! a panic, and the pool recovers by itself.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use common::{
    Server, assert_typed, blocked_calls_fail_typed_when_killed, created_row, drop_database,
    fault_record, lock_row_sql, poll_until, pool_of_two, store_with_a_row, until_recovered,
};
use session_core::testing::namespace;
use session_core::{Created, Record, Store, Version};
use session_sqlx::MySqlStore;
use std::str::FromStr;

use session_sqlx::sqlx::mysql::MySqlConnectOptions;
use session_sqlx::sqlx::{self, Connection, Executor};
use session_sqlx::testing::mysql_url;

/// A store in database `db` (not migrated yet) on `url`, on a pool of 2
/// connections that waits at most 2 s for one.
async fn store(url: &str, db: &str) -> MySqlStore {
    let options = MySqlConnectOptions::from_str(url).expect("url");
    let pool = pool_of_two(options, Duration::from_secs(2)).await;
    MySqlStore::new(pool)
        .with_database(db)
        .expect("database name")
}

/// A store on the shared server in its own database (for `case`), with
/// one row, and a connection outside its pool.
async fn shared_server_store(case: &str) -> (MySqlStore, Record, sqlx::MySqlConnection) {
    let (_, store, r, other) = store_with_a_row(
        case,
        async |db: &str| store(&mysql_url(), db).await,
        async || {
            sqlx::MySqlConnection::connect(&mysql_url())
                .await
                .expect("another connection")
        },
    )
    .await;
    (store, r, other)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_blocked_in_the_database_fail_typed_when_their_connections_are_killed() {
    let (store, r, mut locker) = shared_server_store("my_fault_killed").await;
    let db = store.database().unwrap_or_default().to_owned();

    // Another connection locks the row, so the store's save and touch
    // block inside the server: their connections are mid-statement.
    let lock = lock_row_sql(&store, &r);
    sqlx::raw_sql(&lock)
        .execute(&mut locker)
        .await
        .expect("lock");

    // The store's two connections, each waiting in an UPDATE.
    let mut admin = sqlx::MySqlConnection::connect(&mysql_url())
        .await
        .expect("admin");
    blocked_calls_fail_typed_when_killed(&store, &r, async || {
        let waiting: Vec<i64> = poll_until(
            250,
            Duration::from_millis(20),
            async || {
                sqlx::query_scalar(
                    "SELECT id FROM information_schema.processlist \
                 WHERE command IN ('Query', 'Execute') AND info LIKE ? AND id <> CONNECTION_ID()",
                )
                .bind(format!("UPDATE `{db}`.%"))
                .fetch_all(&mut admin)
                .await
                .expect("processlist")
            },
            |w: &Vec<i64>| w.len() == 2,
        )
        .await;
        for id in &waiting {
            admin
                .execute(format!("KILL {id}").as_str())
                .await
                .expect("kill");
        }
        waiting.len()
    })
    .await;
    locker.execute("ROLLBACK").await.expect("rollback");

    // The pool replaces the dead connections by itself.
    let loaded = until_recovered(&store, &r.key).await.expect("the row");
    assert_eq!(loaded.version, Version::FIRST, "nothing was written");
    drop_database(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_killed_between_calls_are_replaced() {
    let (store, r, mut admin) = shared_server_store("my_fault_idle").await;
    for _ in 0..3 {
        // The ids of the pool's two connections, which then go back idle.
        let mut ids: Vec<u64> = Vec::new();
        {
            let mut a = store.pool().acquire().await.expect("acquire");
            let mut b = store.pool().acquire().await.expect("acquire");
            for conn in [&mut *a, &mut *b] {
                let id: u64 = sqlx::query_scalar("SELECT CONNECTION_ID()")
                    .fetch_one(conn)
                    .await
                    .expect("id");
                ids.push(id);
            }
        }
        for id in ids {
            let _ = admin.execute(format!("KILL {id}").as_str()).await;
        }
        // Each call either fails typed or works; the row is never lost.
        match store.load(&r.key).await {
            Ok(found) => assert!(found.is_some()),
            Err(e) => assert_typed(&e),
        }
        assert!(until_recovered(&store, &r.key).await.is_some());
    }
    drop_database(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_stopped_and_started_under_use_fails_typed_then_recovers() {
    let mut server =
        Server::start().expect("a throwaway mariadbd (.ci/run installs mariadb-server)");
    let store = store(&server.url(), "sessions_db").await;
    store.migrate().await.expect("migrate");
    let r = created_row(&store).await;

    // Load: a bounded stream of reads and writes that counts typed errors.
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let load = {
        let (store, stop, ok, failed) = (store.clone(), stop.clone(), ok.clone(), failed.clone());
        tokio::spawn(async move {
            for i in 0..100_000u64 {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let mut fresh = fault_record();
                fresh.payload = format!("{{\"i\":{i}}}").into_bytes();
                match store.create(&fresh).await.and(store.load(&r.key).await) {
                    Ok(_) => ok.fetch_add(1, Ordering::SeqCst),
                    Err(e) => {
                        assert_typed(&e);
                        failed.fetch_add(1, Ordering::SeqCst)
                    }
                };
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    // Some successful work, then the outage.
    for _ in 0..500 {
        if ok.load(Ordering::SeqCst) >= 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.stop();
    let during = fault_record();
    let err = store.create(&during).await.expect_err("the server is down");
    assert_typed(&err);
    assert_typed(&store.load(&r.key).await.expect_err("the server is down"));
    for _ in 0..500 {
        if failed.load(Ordering::SeqCst) >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        failed.load(Ordering::SeqCst) >= 1,
        "the load never saw the outage"
    );

    // Back up: the pool reconnects alone and the committed row survived.
    server.run();
    let loaded = until_recovered(&store, &r.key)
        .await
        .expect("the row survived");
    assert_eq!(loaded.payload, r.payload);
    let before = ok.load(Ordering::SeqCst);
    for _ in 0..500 {
        if ok.load(Ordering::SeqCst) > before + 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        ok.load(Ordering::SeqCst) > before,
        "the load never recovered"
    );
    stop.store(true, Ordering::SeqCst);
    load.await.expect("the load task never panicked");
    assert_eq!(store.create(&during).await.expect("create"), Created::Ok);
}

/// A throwaway server leaves other servers' temporary files alone: at
/// startup `mariadbd` deletes every `#sql*` file in its tmpdir, and under
/// the default (the shared temp dir) it once deleted the shared server's
/// temporary tables while this file's restart test ran.
#[tokio::test]
async fn a_throwaway_server_leaves_the_shared_tmpdir_alone() {
    let probe = std::env::temp_dir().join(format!("#sql-probe-{}", namespace("tmp")));
    std::fs::write(&probe, b"another server's temporary table").expect("probe file");
    let server = Server::start();
    if server.is_none() {
        let _ = std::fs::remove_file(&probe);
    }
    let server = server.expect("a throwaway mariadbd (.ci/run installs mariadb-server)");
    // Listening: its startup cleanup has run.
    let kept = probe.exists();
    drop(server);
    let _ = std::fs::remove_file(&probe);
    assert!(kept, "the throwaway mariadbd deleted {}", probe.display());
}

/// Boot while the database is down (`common::boots_while_down`) on a
/// throwaway MariaDB, started only after the app served its 503s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_booted_while_mysql_is_down_serves_once_it_is_up() {
    let server = Server::mariadb().expect("a throwaway mariadbd");
    let lazy = MySqlStore::connect_lazy(&server.url()).expect("no server needed");
    let store = lazy.with_database(&namespace("my_boot_down")).unwrap();
    common::boots_while_down(server, store, async |s: &MySqlStore| {
        s.migrate().await.unwrap()
    })
    .await;
}
