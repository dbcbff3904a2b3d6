//! `MySqlStore` against the real local MariaDB (`MYSQL_URL`, default
//! `mysql://root@127.0.0.1:3306/test`): the store conformance suite (one
//! database per case) and the MySQL specifics.

mod common;

use std::time::Duration;

use common::{drop_database, instances_of, my_store, record};
use session_core::testing::namespace;
use session_core::{Admission, Cap, Created, Login, SessionCap, Store, StoreError, Version};
use session_sqlx::sqlx::Connection as _;
use session_sqlx::sqlx::mysql::MySqlPoolOptions;
use session_sqlx::testing::mysql_url;
use session_sqlx::{Error, MySqlStore, sqlx};

shared_store_tests!(
    MySqlStore, make: my_store, unmigrated: common::my_unmigrated, drop: drop_database,
    url: &mysql_url(), bad_url: "mysql://root@127.0.0.1:1/none"
);

/// The strings `sql` (an `information_schema` query whose one parameter
/// is the database) answers about the store's database.
async fn about_the_table(store: &MySqlStore, sql: &str) -> Vec<String> {
    sqlx::query_scalar(sql)
        .bind(store.database())
        .fetch_all(store.pool())
        .await
        .expect("information_schema")
}

fn lazy_store() -> MySqlStore {
    let pool = MySqlPoolOptions::new()
        .max_connections(1)
        .connect_lazy(&mysql_url())
        .expect("url");
    MySqlStore::new(pool)
}

#[tokio::test]
async fn invalid_names_are_rejected() {
    for bad in [
        "",
        "Db",
        "a-b",
        "x`; DROP TABLE y; --",
        "1a",
        &"d".repeat(65),
    ] {
        assert!(
            matches!(
                lazy_store().with_database(bad),
                Err(Error::InvalidName {
                    what: "database",
                    ..
                })
            ),
            "{bad:?}"
        );
    }
    for bad in ["", "S", "a b", "t`", &"t".repeat(49)] {
        assert!(
            matches!(
                lazy_store().with_table(bad),
                Err(Error::InvalidName { what: "table", .. })
            ),
            "{bad:?}"
        );
    }
    let ok = lazy_store()
        .with_database("auth")
        .and_then(|s| s.with_table("web_sessions"))
        .expect("valid names");
    assert_eq!((ok.database(), ok.table()), (Some("auth"), "web_sessions"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_migrations_from_four_instances_all_succeed() {
    let ns = namespace("my_concurrent_migrate");
    let first = common::my_unmigrated(ns.clone()).await;
    let stores = instances_of(4, &first.with_table("shared").expect("name")).await;
    let indexes: Vec<String> = about_the_table(
        &stores[0],
        "SELECT DISTINCT CAST(index_name AS CHAR) FROM information_schema.statistics \
         WHERE table_schema = ? AND table_name = 'shared' ORDER BY 1",
    )
    .await;
    assert_eq!(
        indexes,
        ["PRIMARY", "shared_expires_at_idx", "shared_user_id_idx"],
        "primary key, expiry index and user index"
    );
    drop_database(&stores[0]).await;
}

#[tokio::test]
async fn delete_expired_deletes_every_batch_and_keeps_live_rows() {
    let store = my_store(namespace("my_delete_expired_batches")).await;
    // 2500 expired rows (3 batches) inserted in one statement, plus live ones.
    // MariaDB's sequence engine.
    let bulk = format!(
        "INSERT INTO `{}`.sessions (id, version, expires_at, payload) \
         SELECT CONCAT('old', seq), 1, 1000, '{{}}' FROM seq_1_to_2500",
        store.database().unwrap_or_default()
    );
    common::expired_rows_go_in_batches(&store, &bulk, common::count_rows).await;
    drop_database(&store).await;
}

/// `VARBINARY` user ids compare byte for byte: a trailing space or a
/// different case is another user (a padding or case-insensitive collation
/// would merge them). Ids longer than 255 bytes are refused, typed.
#[tokio::test]
async fn user_ids_are_exact_and_bounded() {
    let store = my_store(namespace("my_user_exact")).await;
    let index = store.user_index().expect("index");
    for user in ["bob", "bob ", "Bob", "bób"] {
        let mut r = record(time::Duration::hours(1));
        r.user = Some(user.to_owned());
        assert_eq!(store.create(&r).await.expect("create"), Created::Ok);
    }
    for user in ["bob", "bob ", "Bob", "bób"] {
        let listed = index.user_records(user).await.expect("list");
        assert_eq!(listed.len(), 1, "{user:?}");
        assert_eq!(listed[0].user.as_deref(), Some(user));
    }
    let long = "x".repeat(256);
    let mut r = record(time::Duration::hours(1));
    r.user = Some(long.clone());
    assert!(matches!(
        store.create(&r).await,
        Err(StoreError::Malformed(_))
    ));
    r.user = Some("x".repeat(255));
    assert_eq!(store.create(&r).await.expect("255 bytes fit"), Created::Ok);
    let mut saved = r.clone();
    saved.version = Version(2);
    saved.user = Some(long.clone());
    assert!(matches!(
        store.save(&saved, Version::FIRST).await,
        Err(StoreError::Malformed(_))
    ));
    let mut login = record(time::Duration::hours(1));
    login.user = Some(long.clone());
    let cap = Cap {
        max: 1,
        policy: SessionCap::RevokeOldest,
    };
    let at = time::OffsetDateTime::now_utc();
    assert!(matches!(
        index.admit(Login::new(&login, at, cap)).await,
        Err(StoreError::Malformed(_))
    ));
    assert!(index.user_records(&long).await.expect("list").is_empty());
    // Keys are byte-exact too: base64url is case-sensitive.
    let stored = store.load(&r.key).await.expect("load").expect("row");
    assert_eq!(stored.user.as_deref(), Some("x".repeat(255).as_str()));
    drop_database(&store).await;
}

/// An expired row with the same key is taken over by `create`, and a live
/// one is a collision that changes nothing (the insert id marks it).
#[tokio::test]
async fn create_takes_over_expired_rows_only() {
    let store = my_store(namespace("my_create_takeover")).await;
    let old = record(time::Duration::seconds(-5));
    assert_eq!(store.create(&old).await.expect("create"), Created::Ok);
    let mut new = old.clone();
    new.expires_at = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    new.payload = b"new".to_vec();
    assert_eq!(store.create(&new).await.expect("takeover"), Created::Ok);
    let mut again = new.clone();
    again.payload = b"again".to_vec();
    assert_eq!(
        store.create(&again).await.expect("live"),
        Created::Collision
    );
    // The same values again: still a collision, not an insert.
    assert_eq!(store.create(&new).await.expect("same"), Created::Collision);
    let stored = store.load(&new.key).await.expect("load").expect("row");
    assert_eq!(stored.payload, b"new");
    // A capped login onto a live key collides too.
    let mut login = again.clone();
    login.user = Some("ada".to_owned());
    let cap = Cap {
        max: 2,
        policy: SessionCap::RefuseLogin,
    };
    let at = time::OffsetDateTime::now_utc();
    assert!(matches!(
        store
            .user_index()
            .expect("index")
            .admit(Login::new(&login, at, cap))
            .await,
        Ok(Admission::Collision) | Err(_)
    ));
    drop_database(&store).await;
}

/// A statement stuck behind a lock is a typed error once the server's
/// lock wait timeout (here 1 s, set per connection) passes: the request
/// fails closed instead of hanging.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_wait_past_the_timeout_is_a_typed_error() {
    let store = my_store(namespace("my_lock_timeout")).await;
    let r = common::created_row(&store).await;
    // A connection outside the pools holds the row.
    let mut holder = sqlx::MySqlConnection::connect(&mysql_url())
        .await
        .expect("connect");
    let lock = common::lock_row_sql(&store, &r);
    sqlx::raw_sql(&lock)
        .execute(&mut holder)
        .await
        .expect("lock");
    let pool = MySqlPoolOptions::new()
        .max_connections(1)
        .after_connect(|conn, _| {
            Box::pin(async move {
                use session_sqlx::sqlx::Executor;
                conn.execute("SET SESSION innodb_lock_wait_timeout = 1")
                    .await?;
                Ok(())
            })
        })
        .connect(&mysql_url())
        .await
        .expect("connect");
    let waiting = MySqlStore::new(pool)
        .with_database(store.database().unwrap_or_default())
        .expect("name");
    let mut next = r.clone();
    next.version = Version(2);
    let err = tokio::time::timeout(Duration::from_secs(60), waiting.save(&next, Version::FIRST))
        .await
        .expect("bounded")
        .expect_err("the row stays locked");
    assert!(matches!(err, StoreError::Backend(_)), "{err:?}");
    sqlx::raw_sql("ROLLBACK")
        .execute(&mut holder)
        .await
        .expect("rollback");
    assert_eq!(
        waiting.save(&next, Version::FIRST).await.expect("save"),
        session_core::Saved::Ok
    );
    drop_database(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_upgrades_a_previous_version_table_keeping_its_rows() {
    let (_, stores, loaded) =
        common::upgrade_from_0001("my_upgrade_0001", common::my_unmigrated).await;
    let columns: Vec<String> = about_the_table(
        &stores[0],
        "SELECT CAST(CONCAT_WS(' ', column_name, column_type, is_nullable) AS CHAR) \
         FROM information_schema.columns WHERE table_schema = ? AND table_name = 'sessions' \
         AND column_name IN ('user_id', 'login_at') ORDER BY column_name",
    )
    .await;
    assert_eq!(
        columns,
        ["login_at bigint(20) YES", "user_id varbinary(255) YES"],
        "migrations 0002 and 0003"
    );
    common::old_row_joins_a_user(&stores, loaded).await;
    drop_database(&stores[0]).await;
}
