//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;

use session_core::testing::namespace;

#[cfg(feature = "postgres")]
use session_sqlx::PostgresStore;
#[cfg(feature = "sqlite")]
use session_sqlx::SqliteStore;
#[cfg(feature = "postgres")]
use session_sqlx::sqlx::postgres::PgPoolOptions;

#[cfg(feature = "postgres")]
/// `DATABASE_URL`, or the local test server.
pub fn pg_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

#[cfg(feature = "postgres")]
/// A migrated Postgres store whose table lives in the schema `namespace`,
/// with a connection for each of the conformance suite's 8 racing logins
/// and one more (so the logins really wait on each other in the server).
pub async fn pg_store(namespace: String) -> PostgresStore {
    let store = pg_unmigrated(namespace).await;
    store.migrate().await.expect("migrate");
    mark_and_sweep(&store).await;
    store
}

#[cfg(feature = "postgres")]
/// [`pg_store`] before `migrate`: the schema does not exist yet.
pub async fn pg_unmigrated(namespace: String) -> PostgresStore {
    let pool = PgPoolOptions::new()
        .max_connections(9)
        .connect(&pg_url())
        .await
        .expect("connect to PostgreSQL");
    PostgresStore::new(pool)
        .with_schema(&namespace)
        .expect("valid schema name")
}

/// Marks the schema as a test schema with its creation time, and once per
/// process drops the test schemas of runs more than an hour old, so the
/// test database does not grow without bound.
#[cfg(feature = "postgres")]
pub async fn mark_and_sweep(store: &PostgresStore) {
    use std::sync::atomic::{AtomicBool, Ordering};
    static SWEPT: AtomicBool = AtomicBool::new(false);
    const MARK: &str = "session-sqlx test schema, created at unix ";
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let _ = session_sqlx::sqlx::raw_sql(&format!(
        "COMMENT ON SCHEMA \"{}\" IS '{MARK}{now}'",
        store.schema()
    ))
    .execute(store.pool())
    .await;
    if SWEPT.swap(true, Ordering::SeqCst) {
        return;
    }
    let old: Vec<String> = session_sqlx::sqlx::query_scalar(
        "SELECT n.nspname FROM pg_namespace n \
         CROSS JOIN LATERAL (SELECT obj_description(n.oid, 'pg_namespace') AS d) c \
         WHERE CASE WHEN c.d LIKE $1 || '%' AND substr(c.d, length($1) + 1) ~ '^[0-9]{1,18}$' \
         THEN substr(c.d, length($1) + 1)::bigint < $2 ELSE false END",
    )
    .bind(MARK)
    .bind(now - 3600)
    .fetch_all(store.pool())
    .await
    .unwrap_or_default();
    for schema in old {
        let _ = session_sqlx::sqlx::raw_sql(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
            .execute(store.pool())
            .await;
    }
}

#[cfg(feature = "postgres")]
/// Drops a test schema (best effort).
pub async fn drop_schema(store: &PostgresStore) {
    let _ = session_sqlx::sqlx::raw_sql(&format!(
        "DROP SCHEMA IF EXISTS \"{}\" CASCADE",
        store.schema()
    ))
    .execute(store.pool())
    .await;
}

/// A fresh SQLite file path for `namespace` in the temp dir.
pub fn sqlite_path(namespace: &str) -> PathBuf {
    let dir = std::env::temp_dir().join("session-sqlx-tests");
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(format!("{namespace}.db"))
}

/// The `sqlite://` URL that creates `path`.
pub fn sqlite_url(path: &std::path::Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}

#[cfg(feature = "sqlite")]
/// A migrated SQLite store on its own file.
pub async fn sqlite_store(namespace: String) -> SqliteStore {
    let store = sqlite_unmigrated(namespace).await;
    store.migrate().await.expect("migrate");
    store
}

#[cfg(feature = "sqlite")]
/// [`sqlite_store`] before `migrate`: a new, empty file.
pub async fn sqlite_unmigrated(namespace: String) -> SqliteStore {
    SqliteStore::connect(&sqlite_url(&sqlite_path(&namespace)))
        .await
        .expect("open SQLite file")
}

#[cfg(feature = "sqlite")]
/// Removes a test's SQLite file (best effort).
pub async fn drop_file(store: &SqliteStore) {
    let path: Option<PathBuf> = store
        .pool()
        .connect_options()
        .get_filename()
        .to_str()
        .map(PathBuf::from);
    if let Some(path) = path {
        let _ = std::fs::remove_file(path);
    }
}

/// Whether `e` is the typed error of a table `migrate()` never created.
pub fn is_missing_table(e: &session_core::StoreError) -> bool {
    matches!(
        e,
        session_core::StoreError::Backend(cause)
            if matches!(
                cause.downcast_ref::<session_sqlx::Error>(),
                Some(session_sqlx::Error::MissingTable(_))
            )
    )
}

/// Store calls on a table `migrate()` never created fail with the typed
/// missing-table error, whose message says to run `migrate()`.
pub async fn missing_table_is_typed(store: &dyn session_core::Store) {
    let r = record(time::Duration::hours(1));
    let failures = [
        store.load(&r.key).await.map(drop).expect_err("load"),
        store.create(&r).await.map(drop).expect_err("create"),
        store
            .delete_expired()
            .await
            .map(drop)
            .expect_err("delete_expired"),
    ];
    for e in failures {
        assert!(is_missing_table(&e), "not the missing-table error: {e:?}");
        let cause = std::error::Error::source(&e).expect("a cause").to_string();
        assert!(cause.contains("migrate()"), "{cause}");
    }
}

/// The store's `migration_sql` applied by hand (one `raw_sql`, as a DBA's
/// tool would) makes a table the store works with, on which `migrate`
/// then has nothing to do.
pub async fn hand_migrated_table_works<S: Instance>(store: &S) {
    store.raw(&store.migration_sql()).await;
    create_then_load(store).await;
    store.migrate_now().await.expect("migrate after the script");
    create_then_load(store).await;
}

/// A record created in `store` loads back as written.
pub async fn create_then_load(store: &dyn session_core::Store) {
    let r = fault_record();
    assert_eq!(
        store.create(&r).await.expect("create"),
        session_core::Created::Ok
    );
    let loaded = store.load(&r.key).await.expect("load").expect("the record");
    assert_eq!(
        (loaded.version, loaded.payload, loaded.user),
        (r.version, r.payload, r.user)
    );
}

/// The user column through every `Store` method: `create` and `save` write
/// it (`save` may change or clear it), `load` returns it, `touch` keeps it,
/// and the index follows.
pub async fn user_column_follows_every_method(store: &dyn session_core::Store) {
    use session_core::{Created, Record, Saved, SessionId, Version};
    let index = store
        .user_index()
        .expect("the SQL stores have a user index");
    let user = format!("u{}", &SessionId::random().to_string()[..12]);
    let mut r = Record {
        key: SessionId::random().hashed_key(),
        version: Version::FIRST,
        expires_at: time::OffsetDateTime::now_utc() + time::Duration::hours(1),
        payload: b"{}".to_vec(),
        user: Some(user.clone()),
    };
    assert_eq!(store.create(&r).await.expect("create"), Created::Ok);
    let loaded = store.load(&r.key).await.expect("load").expect("record");
    assert_eq!(loaded.user.as_deref(), Some(user.as_str()));
    assert_eq!(
        store
            .touch(&r.key, r.version, r.expires_at + time::Duration::hours(1))
            .await
            .expect("touch"),
        session_core::Touched::Ok
    );
    let loaded = store.load(&r.key).await.expect("load").expect("record");
    assert_eq!(loaded.user.as_deref(), Some(user.as_str()), "touch kept it");
    assert_eq!(index.user_records(&user).await.expect("list").len(), 1);
    // A non-ASCII user id round-trips as is.
    let other = format!("{user}-é漢");
    r.version = Version(2);
    r.user = Some(other.clone());
    assert_eq!(
        store.save(&r, Version::FIRST).await.expect("save"),
        Saved::Ok
    );
    assert!(index.user_records(&user).await.expect("list").is_empty());
    let listed = index.user_records(&other).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].key, listed[0].version), (r.key, Version(2)));
    assert_eq!(listed[0].payload, r.payload);
    // Logout without destroy: the user is cleared.
    r.version = Version(3);
    r.user = None;
    assert_eq!(store.save(&r, Version(2)).await.expect("save"), Saved::Ok);
    assert!(index.user_records(&other).await.expect("list").is_empty());
    let loaded = store.load(&r.key).await.expect("load").expect("record");
    assert_eq!((loaded.user, loaded.version), (None, Version(3)));
}

/// `UserIndex::admit` revokes by login time (the `login_at` column), not by
/// expiry: a row written without `admit` (no login time) counts as the
/// oldest, and a plain `save` keeps a row's login time.
pub async fn admit_revokes_the_oldest_login(store: &dyn session_core::Store) {
    use session_core::{
        Admission, Cap, Created, Login, Record, Saved, SessionCap, SessionId, Version,
    };
    use time::Duration;
    let index = store
        .user_index()
        .expect("the SQL stores have a user index");
    let user = format!("u{}", &SessionId::random().to_string()[..12]);
    let now = time::OffsetDateTime::now_utc();
    let record = |expires_in: Duration| Record {
        key: SessionId::random().hashed_key(),
        version: Version::FIRST,
        expires_at: now + expires_in,
        payload: b"{}".to_vec(),
        user: Some(user.clone()),
    };
    let cap = Cap {
        max: 3,
        policy: SessionCap::RevokeOldest,
    };
    let plain = record(Duration::hours(4));
    assert_eq!(store.create(&plain).await.expect("create"), Created::Ok);
    // Login `at` seconds from now, under `cap`.
    let admit = async |r: &Record, at: i64, cap: Cap| {
        let login = Login::new(r, now + Duration::seconds(at), cap);
        index.admit(login).await.expect("admit")
    };
    let gone = async |r: &Record| store.load(&r.key).await.expect("load").is_none();
    // Login order a, b, c; expiry order the other way round.
    let (a, b, c) = (
        record(Duration::hours(3)),
        record(Duration::hours(2)),
        record(Duration::hours(1)),
    );
    let admitted = |revoked| Admission::Admitted { revoked };
    assert_eq!(admit(&a, 1, cap).await, admitted(0));
    assert_eq!(admit(&b, 2, cap).await, admitted(0));
    assert_eq!(admit(&c, 3, cap).await, admitted(1));
    assert!(
        gone(&plain).await,
        "the row without a login time is the oldest"
    );
    // A plain save keeps a's login time.
    let mut a2 = a.clone();
    a2.version = Version(2);
    assert_eq!(
        store.save(&a2, Version::FIRST).await.expect("save"),
        Saved::Ok
    );
    let refuse = Cap {
        max: 3,
        policy: SessionCap::RefuseLogin,
    };
    let d = record(Duration::hours(5));
    assert_eq!(admit(&d, 4, refuse).await, Admission::Refused { live: 3 });
    assert!(gone(&d).await);
    assert_eq!(admit(&d, 4, cap).await, admitted(1));
    assert!(
        gone(&a).await,
        "the oldest login goes, though it expires last"
    );
    let mut left: Vec<_> = index
        .user_records(&user)
        .await
        .expect("list")
        .into_iter()
        .map(|r| r.key)
        .collect();
    left.sort();
    let mut want = vec![b.key, c.key, d.key];
    want.sort();
    assert_eq!(left, want);
}

/// The live record of `key` in `store`, which must be there.
pub async fn loaded(
    store: &dyn session_core::Store, key: &session_core::StoreKey,
) -> session_core::Record {
    let found = store.load(key).await.expect("load");
    found.unwrap_or_else(|| panic!("no live record {key:?}"))
}

/// A session record without a user, expiring `expires_in` from now.
pub fn record(expires_in: time::Duration) -> session_core::Record {
    session_core::Record {
        key: session_core::SessionId::random().hashed_key(),
        version: session_core::Version::FIRST,
        expires_at: time::OffsetDateTime::now_utc() + expires_in,
        payload: b"{}".to_vec(),
        user: None,
    }
}

/// A session record for the fault tests: live for an hour, payload `{"n":1}`.
pub fn fault_record() -> session_core::Record {
    let mut r = record(time::Duration::hours(1));
    r.payload = br#"{"n":1}"#.to_vec();
    r
}

/// A [`fault_record`] created in `store`.
pub async fn created_row(store: &dyn session_core::Store) -> session_core::Record {
    let r = fault_record();
    assert_eq!(
        store.create(&r).await.expect("create"),
        session_core::Created::Ok
    );
    r
}

/// A fault test's start: a migrated store from `open` on the namespace of
/// `case`, with a row, and a connection outside its pool from `connect`.
pub async fn store_with_a_row<S: Instance, C>(
    case: &str, open: impl AsyncFnOnce(&str) -> S, connect: impl AsyncFnOnce() -> C,
) -> (String, S, session_core::Record, C) {
    let ns = namespace(case);
    let store = open(&ns).await;
    store.migrate_now().await.expect("migrate");
    let r = created_row(&store).await;
    (ns, store, r, connect().await)
}

/// A pool of 2 connections that waits at most `wait` for one (the fault
/// tests).
pub async fn pool_of_two<DB: session_sqlx::sqlx::Database>(
    options: <DB::Connection as session_sqlx::sqlx::Connection>::Options, wait: std::time::Duration,
) -> session_sqlx::sqlx::Pool<DB> {
    session_sqlx::sqlx::pool::PoolOptions::<DB>::new()
        .max_connections(2)
        .acquire_timeout(wait)
        .connect_with(options)
        .await
        .expect("connect")
}

/// Calls `probe` up to `tries` times, `pause` apart, until `done` holds
/// for its answer; returns the last answer.
pub async fn poll_until<T>(
    tries: usize, pause: std::time::Duration, mut probe: impl AsyncFnMut() -> T,
    done: impl Fn(&T) -> bool,
) -> T {
    let mut last = probe().await;
    for _ in 1..tries {
        if done(&last) {
            break;
        }
        tokio::time::sleep(pause).await;
        last = probe().await;
    }
    last
}

/// The fault test of calls blocked inside the server: while another
/// connection holds the row `r` (from [`created_row`]), a save and a touch
/// of it (from version 1) block; `kill` (given the blocked calls are
/// running) kills their connections and says how many calls it saw
/// waiting. Both calls fail typed, never panic.
pub async fn blocked_calls_fail_typed_when_killed<S>(
    store: &S, r: &session_core::Record, kill: impl AsyncFnOnce() -> usize,
) where
    S: session_core::Store + Clone,
{
    use session_core::Version;
    let mut next = r.clone();
    next.version = Version(2);
    let save = {
        let store = store.clone();
        tokio::spawn(async move { store.save(&next, Version::FIRST).await.map(drop) })
    };
    let touch = {
        let (store, key) = (store.clone(), r.key);
        tokio::spawn(async move {
            let later = time::OffsetDateTime::now_utc() + time::Duration::hours(2);
            store.touch(&key, Version::FIRST, later).await.map(drop)
        })
    };
    assert_eq!(kill().await, 2, "the save and the touch never blocked");
    for (call, task) in [("save", save), ("touch", touch)] {
        let outcome = task
            .await
            .unwrap_or_else(|e| panic!("the {call} task: {e}"));
        assert_typed(&outcome.expect_err("its connection was killed"));
    }
}

/// A failure under a fault must be typed, with the sqlx error as its cause.
pub fn assert_typed(e: &session_core::StoreError) {
    use session_core::StoreError;
    match e {
        StoreError::Backend(cause) => assert!(
            cause.downcast_ref::<session_sqlx::sqlx::Error>().is_some(),
            "cause is not a sqlx error: {cause}"
        ),
        StoreError::Timeout => {}
        other => panic!("unexpected error kind: {other:?}"),
    }
}

/// Retries a load until it succeeds (bounded: 300 tries 100 ms apart):
/// the pool must recover alone. Every failure on the way is typed.
pub async fn until_recovered(
    store: &dyn session_core::Store, key: &session_core::StoreKey,
) -> Option<session_core::Record> {
    let mut last = None;
    for _ in 0..300 {
        match store.load(key).await {
            Ok(r) => return r,
            Err(e) => {
                assert_typed(&e);
                last = Some(e);
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
    panic!("the pool never recovered: {last:?}");
}

/// A store of either dialect, migrated as an instance does it: on start,
/// and again on a restart.
pub trait Instance: session_core::Store + Qualified + Sized + 'static {
    /// Runs `migrate`.
    fn migrate_now(
        &self,
    ) -> impl std::future::Future<Output = Result<(), session_sqlx::Error>> + Send;

    /// Starts the expiry cleanup task (see `spawn_cleanup`).
    fn cleanup(&self, period: std::time::Duration) -> session_sqlx::CleanupHandle;

    /// The store's `migration_sql` for its own names.
    fn migration_sql(&self) -> String;

    /// Runs `sql` (any number of statements) on the store's pool.
    fn raw(&self, sql: &str) -> impl std::future::Future<Output = ()> + Send;

    /// The strings the query `sql` answers, one per row.
    fn strings(&self, sql: &str) -> impl std::future::Future<Output = Vec<String>> + Send;

    /// The number the query `sql` answers.
    fn number(&self, sql: &str) -> impl std::future::Future<Output = i64> + Send;

    /// Another instance's store on the same table: its own pool.
    fn reopen(
        &self,
    ) -> impl std::future::Future<Output = Result<Self, session_sqlx::Error>> + Send + 'static;

    /// The `INSERT` of the row the previous version wrote (see
    /// [`upgrade_from_0001`]).
    fn old_row_sql(&self) -> String;
}

macro_rules! instance {
    ($store:ty, sql: |$s:ident| $sql:expr, reopen: $reopen:expr, old_row: $old:literal) => {
        impl Instance for $store {
            fn migration_sql(&self) -> String {
                let $s = self;
                $sql.expect("migration SQL")
            }

            async fn raw(&self, sql: &str) {
                session_sqlx::sqlx::raw_sql(sql)
                    .execute(self.pool())
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
            }

            async fn strings(&self, sql: &str) -> Vec<String> {
                session_sqlx::sqlx::query_scalar(sql)
                    .fetch_all(self.pool())
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"))
            }

            async fn number(&self, sql: &str) -> i64 {
                session_sqlx::sqlx::query_scalar(sql)
                    .fetch_one(self.pool())
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"))
            }

            fn reopen(
                &self,
            ) -> impl std::future::Future<Output = Result<Self, session_sqlx::Error>> + Send + 'static
            {
                $reopen(self.clone())
            }

            fn old_row_sql(&self) -> String {
                $old.replace("{table}", &self.migration_sql_table())
            }

            async fn migrate_now(&self) -> Result<(), session_sqlx::Error> {
                self.migrate().await
            }

            fn cleanup(&self, period: std::time::Duration) -> session_sqlx::CleanupHandle {
                self.spawn_cleanup(period)
            }
        }
    };
}

/// The table as the dialect's SQL names it.
pub trait Qualified {
    /// The quoted, qualified table name.
    fn migration_sql_table(&self) -> String;
}

/// The rows of the store's table, expired ones included.
pub async fn count_rows<S: Instance>(store: &S) -> i64 {
    let sql = format!("SELECT count(*) FROM {}", store.migration_sql_table());
    store.number(&sql).await
}

/// The statements that open a transaction and lock the row of `r` in
/// `store`'s table, for another connection to run.
pub fn lock_row_sql<S: Instance>(store: &S, r: &session_core::Record) -> String {
    let (table, key) = (store.migration_sql_table(), r.key.as_str());
    format!("BEGIN; SELECT 1 FROM {table} WHERE id = '{key}' FOR UPDATE")
}

#[cfg(feature = "postgres")]
impl Qualified for PostgresStore {
    fn migration_sql_table(&self) -> String {
        format!("\"{}\".\"{}\"", self.schema(), self.table())
    }
}

#[cfg(feature = "postgres")]
instance!(
    PostgresStore,
    sql: |s| PostgresStore::migration_sql(s.schema(), s.table()),
    reopen: async |s: PostgresStore| {
        PostgresStore::connect(&pg_url()).await?.with_schema(s.schema())?.with_table(s.table())
    },
    old_row: "INSERT INTO {table} (id, version, expires_at, payload) \
              VALUES ('old_row', 7, now() + interval '1 hour', '\\x7b7d')"
);

#[cfg(feature = "mysql")]
impl Qualified for session_sqlx::MySqlStore {
    fn migration_sql_table(&self) -> String {
        let db = self
            .database()
            .map(|d| format!("`{d}`."))
            .unwrap_or_default();
        format!("{db}`{}`", self.table())
    }
}

#[cfg(feature = "mysql")]
instance!(
    session_sqlx::MySqlStore,
    sql: |s| session_sqlx::MySqlStore::migration_sql(s.database(), s.table()),
    reopen: async |s: session_sqlx::MySqlStore| {
        let store = session_sqlx::MySqlStore::connect(&session_sqlx::testing::mysql_url()).await?;
        match s.database() {
            Some(db) => store.with_database(db)?.with_table(s.table()),
            None => store.with_table(s.table()),
        }
    },
    old_row: "INSERT INTO {table} (id, version, expires_at, payload) \
              VALUES ('old_row', 7, 99999999999999, '{}')"
);

#[cfg(feature = "sqlite")]
impl Qualified for SqliteStore {
    fn migration_sql_table(&self) -> String {
        format!("\"{}\"", self.table())
    }
}

#[cfg(feature = "sqlite")]
instance!(
    SqliteStore,
    sql: |s| SqliteStore::migration_sql(s.table()),
    reopen: async |s: SqliteStore| {
        let path = s.pool().connect_options().get_filename().to_owned();
        SqliteStore::connect(&sqlite_url(&path)).await?.with_table(s.table())
    },
    old_row: "INSERT INTO {table} (id, version, expires_at, payload) VALUES \
              ('old_row', 7, (CAST(strftime('%s', 'now') AS INTEGER) + 3600) * 1000, x'7b7d')"
);

/// `n` instances of `store` start at once (see [`start_at_once`]).
pub async fn instances_of<S: Instance>(n: usize, store: &S) -> Vec<S> {
    start_at_once(n, || store.reopen()).await
}

/// `n` instances start at once, each opening its store with `open` and
/// migrating it on start and on a restart; all of them succeed, and share
/// one table (a record one creates, another loads).
pub async fn start_at_once<S, F, Fut>(n: usize, open: F) -> Vec<S>
where
    S: Instance,
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<S, session_sqlx::Error>> + Send + 'static,
{
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let opened = open();
            tokio::spawn(async move {
                let store = opened.await?;
                store.migrate_now().await?;
                store.migrate_now().await?;
                Ok::<S, session_sqlx::Error>(store)
            })
        })
        .collect();
    let mut stores = Vec::with_capacity(n);
    for t in tasks {
        stores.push(t.await.expect("task").expect("migrate"));
    }
    let r = record(time::Duration::hours(1));
    let (first, last) = (&stores[n / 2], &stores[n - 1]);
    assert_eq!(
        first.create(&r).await.expect("create"),
        session_core::Created::Ok
    );
    assert!(last.load(&r.key).await.expect("load").is_some());
    stores
}

/// Upgrade from the previous version: `old` (from `unmigrated`, on the
/// namespace of `case`: a store whose table does not exist yet) gets that version's table (migration 0001, the head of
/// its `migration_sql`, run by hand) and a row it wrote (`old_row_sql`:
/// id `old_row`, version 7, payload `{}`, no user, live for a while); then
/// 4 instances of the new version (`reopen`) start at once and migrate.
/// Returns the namespace, the instances, and the old row as the new
/// version loads it.
pub async fn upgrade_from_0001<S: Instance>(
    case: &str, unmigrated: impl AsyncFnOnce(String) -> S,
) -> (String, Vec<S>, session_core::Record) {
    let ns = namespace(case);
    let old = unmigrated(ns.clone()).await;
    let script = old.migration_sql();
    let second = script
        .find("migration 2:")
        .and_then(|i| script[..i].rfind("-- "))
        .expect("the script has a migration 2");
    old.raw(&script[..second]).await;
    old.raw(&old.old_row_sql()).await;
    let stores = instances_of(4, &old).await;
    let loaded = old_row(&stores[0]).await;
    (ns, stores, loaded)
}

/// A store (from `open`, given a table name of its own for `case`) on a
/// table beside the default one, in the connection's schema or database:
/// migrated, it holds a row; then the table is dropped.
pub async fn custom_table_round_trips<S: Instance>(
    case: &str, open: impl AsyncFnOnce(&str) -> Result<S, session_sqlx::Error>,
) {
    let ns = namespace(case);
    let store = open(&ns[..ns.len().min(48)]).await.expect("open");
    store.migrate_now().await.expect("migrate");
    created_row(&store).await;
    assert_eq!(count_rows(&store).await, 1);
    store
        .raw(&format!("DROP TABLE {}", store.migration_sql_table()))
        .await;
}

/// The user index exists with `definition` in its SQL (`index`), and the
/// plan of the user listing (`plan`, one line per step) goes through it.
pub fn user_index_in_use(index: Option<String>, definition: &str, plan: &[String]) {
    let index = index.expect("the user index exists");
    assert!(index.contains(definition), "{index}");
    assert!(
        plan.iter().any(|l| l.contains("sessions_user_id_idx")),
        "{plan:?}"
    );
}

/// The cleanup task deletes expired rows (`rows` counts the table's rows)
/// and keeps live ones; once shut down, or once its handle is dropped, it
/// deletes nothing more.
pub async fn cleanup_task_runs_until_shutdown<S: Instance>(
    store: &S, rows: impl AsyncFn(&S) -> i64,
) {
    use std::time::Duration;
    for _ in 0..3 {
        store
            .create(&record(time::Duration::seconds(-1)))
            .await
            .expect("create");
    }
    let live = record(time::Duration::hours(1));
    store.create(&live).await.expect("create");
    let handle = store.cleanup(Duration::from_millis(100));
    let mut left = rows(store).await;
    for _ in 0..100 {
        if left == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        left = rows(store).await;
    }
    assert_eq!(left, 1, "the cleanup task never deleted the expired rows");
    assert!(!handle.is_finished());
    handle.shutdown().await;

    // Stopped: a new expired row survives several periods.
    store
        .create(&record(time::Duration::seconds(-1)))
        .await
        .expect("create");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(rows(store).await, 2, "the task still runs");

    // Dropping the handle stops the task too.
    drop(store.cleanup(Duration::from_millis(100)));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(rows(store).await, 2, "the dropped task still runs");
}

/// After an upgrade, the row `loaded` (version 7, no user) that the
/// previous version wrote joins a user through the new code on every
/// instance, and the new rules hold on the upgraded table.
pub async fn old_row_joins_a_user<S: session_core::Store>(
    stores: &[S], loaded: session_core::Record,
) {
    use session_core::Version;
    let key = loaded.key;
    let mut r = loaded;
    r.version = Version(8);
    r.user = Some("ada".to_owned());
    assert_eq!(
        stores[1].save(&r, Version(7)).await.expect("save"),
        session_core::Saved::Ok
    );
    let index = stores[2].user_index().expect("index");
    let listed = index.user_records("ada").await.expect("list");
    assert_eq!(listed.iter().map(|r| r.key).collect::<Vec<_>>(), [key]);
    user_column_follows_every_method(&stores[3]).await;
    admit_revokes_the_oldest_login(&stores[0]).await;
}

/// After 2500 expired rows (3 batches) were inserted by `bulk_insert` (one
/// statement): with 5 live rows beside them (`rows` counts the table's
/// rows), `delete_expired` deletes every batch and keeps the live rows,
/// then finds nothing more.
pub async fn expired_rows_go_in_batches<S: Instance>(
    store: &S, bulk_insert: &str, rows: impl AsyncFn(&S) -> i64,
) {
    store.raw(bulk_insert).await;
    let live: Vec<_> = (0..5).map(|_| record(time::Duration::hours(1))).collect();
    for r in &live {
        store.create(r).await.expect("create");
    }
    assert_eq!(store.delete_expired().await.expect("delete_expired"), 2500);
    assert_eq!(rows(store).await, 5);
    assert_eq!(store.delete_expired().await.expect("again"), 0);
    for r in &live {
        assert!(store.load(&r.key).await.expect("load").is_some());
    }
}

/// The row `old_row` the previous version wrote (version 7, payload `{}`,
/// no user), as the new version loads it.
pub async fn old_row(store: &dyn session_core::Store) -> session_core::Record {
    let key = session_core::StoreKey::from_stored("old_row").expect("key");
    let loaded = store.load(&key).await.expect("load").expect("old row");
    assert_eq!(
        (
            loaded.version,
            loaded.payload.as_slice(),
            loaded.user.clone()
        ),
        (session_core::Version(7), &b"{}"[..], None)
    );
    loaded
}

/// A migrated MySQL store in its own database `namespace` (see
/// `session_sqlx::testing::mysql`, which also drops test databases more
/// than an hour old).
#[cfg(feature = "mysql")]
pub async fn my_store(namespace: String) -> session_sqlx::MySqlStore {
    session_sqlx::testing::mysql(namespace).await
}

/// [`my_store`] before `migrate`: the database does not exist yet.
#[cfg(feature = "mysql")]
pub async fn my_unmigrated(namespace: String) -> session_sqlx::MySqlStore {
    session_sqlx::MySqlStore::connect(&session_sqlx::testing::mysql_url())
        .await
        .expect("connect to MySQL")
        .with_database(&namespace)
        .expect("valid database name")
}

/// Drops a MySQL test database (best effort).
#[cfg(feature = "mysql")]
pub async fn drop_database(store: &session_sqlx::MySqlStore) {
    if let Some(db) = store.database() {
        let _ = session_sqlx::sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS `{db}`"))
            .execute(store.pool())
            .await;
    }
}

use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A throwaway database server (`mariadbd` or `postgres`) on its own data
/// dir and loopback port, started by the test and stopped by its PID.
pub struct Server {
    dir: PathBuf,
    port: u16,
    url: String,
    /// The server's command line for the data dir and port.
    launch: fn(&Path, u16) -> Command,
    /// Stopped by SIGINT (PostgreSQL's fast shutdown) rather than SIGKILL.
    graceful: bool,
    child: Option<Child>,
}

/// The MariaDB executable `name`, from the usual system folders.
fn mariadb_bin(name: &str) -> Option<PathBuf> {
    ["/usr/sbin", "/usr/bin", "/usr/local/bin", "/usr/local/sbin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

/// The PostgreSQL executable `name`, from the newest
/// `/usr/lib/postgresql/*/bin` that has it.
fn pg_bin(name: &str) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.flatten()
                .map(|e| e.path().join("bin").join(name))
                .collect()
        })
        .unwrap_or_default();
    found.retain(|p| p.is_file());
    found.sort_by_key(|p| {
        let version = p
            .iter()
            .rev()
            .nth(2)
            .and_then(|v| v.to_str()?.parse::<u32>().ok());
        version.unwrap_or(0)
    });
    found.pop()
}

/// A fresh data dir and a free loopback port for a throwaway server.
fn data_dir_and_port(what: &str) -> (PathBuf, u16) {
    let dir = std::env::temp_dir().join(namespace(what));
    std::fs::create_dir_all(dir.join("tmp")).expect("data dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    (dir, port)
}

/// Runs `command` to its end, quietly; panics unless it succeeds.
fn run_quietly(command: &mut Command, what: &str) {
    let status = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(status.success(), "{what} failed");
}

/// PostgreSQL refuses to run as root: as root, its commands run as the
/// `postgres` user (uid, gid from `/etc/passwd`), which then owns `dir`.
fn as_postgres_user(command: &mut Command, dir: &Path) {
    use std::os::unix::fs::MetadataExt;
    use std::os::unix::process::CommandExt;
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    if !root {
        return;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").expect("/etc/passwd");
    let ids = passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.first() == Some(&"postgres")).then(|| (f[2].parse().ok(), f[3].parse().ok()))
    });
    let Some((Some(uid), Some(gid))) = ids else {
        panic!("running as root, and no postgres user to run PostgreSQL as");
    };
    for entry in [dir.to_owned(), dir.join("tmp")] {
        std::os::unix::fs::chown(&entry, Some(uid), Some(gid)).expect("chown data dir");
    }
    command.uid(uid).gid(gid);
}

impl Server {
    /// Initialises a MariaDB data dir and starts the server, or `None`
    /// (with a note) when this machine has no MariaDB binaries.
    pub fn start() -> Option<Server> {
        let mut server = Self::mariadb()?;
        server.run();
        Some(server)
    }

    /// Initialises a MariaDB data dir on a free port, without starting the
    /// server (see [`run`](Self::run)), or `None` (with a note) when this
    /// machine has no MariaDB binaries.
    pub fn mariadb() -> Option<Server> {
        let (Some(install), Some(_)) = (mariadb_bin("mariadb-install-db"), mariadb_bin("mariadbd"))
        else {
            eprintln!("SKIPPED: no mariadb-install-db / mariadbd (apt-get install mariadb-server)");
            return None;
        };
        let (dir, port) = data_dir_and_port("mariadbd");
        // Its own tmpdir for the bootstrap too (see `mariadbd`).
        let mut install = Command::new(install);
        install.arg("--no-defaults");
        for (option, name) in [("datadir", "data"), ("tmpdir", "tmp")] {
            install.arg(format!("--{option}={}", dir.join(name).display()));
        }
        install.args(["--auth-root-authentication-method=normal", "--user=root"]);
        run_quietly(&mut install, "mariadb-install-db");
        let url = format!("mysql://root@127.0.0.1:{port}/test");
        Some(Server::stopped(url, dir, port, mariadbd, false))
    }

    /// Initialises a PostgreSQL data dir (`initdb`, user `postgres`, trust
    /// authentication) on a free port, without starting the server (see
    /// [`run`](Self::run)), or `None` (with a note) when this machine has
    /// no PostgreSQL binaries (`/usr/lib/postgresql/*/bin`).
    pub fn postgres() -> Option<Server> {
        let Some(initdb) = pg_bin("initdb") else {
            eprintln!("SKIPPED: no initdb under /usr/lib/postgresql (apt-get install postgresql)");
            return None;
        };
        let (dir, port) = data_dir_and_port("postgres");
        let mut init = Command::new(&initdb);
        init.arg("-D")
            .arg(dir.join("data"))
            .args(["-U", "postgres", "-A", "trust", "--no-sync"]);
        as_postgres_user(&mut init, &dir);
        run_quietly(&mut init, "initdb");
        let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
        Some(Server::stopped(url, dir, port, postgres, true))
    }

    /// A server on `dir` and `port`, not started; `graceful`: stopped by
    /// SIGINT rather than SIGKILL.
    fn stopped(
        url: String, dir: PathBuf, port: u16, launch: fn(&Path, u16) -> Command, graceful: bool,
    ) -> Server {
        Server {
            dir,
            port,
            url,
            launch,
            graceful,
            child: None,
        }
    }

    /// The URL of the server (its superuser, no password).
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// Starts the server on the data dir and waits (bounded) until it listens.
    pub fn run(&mut self) {
        let child = (self.launch)(&self.dir, self.port)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the server");
        self.child = Some(child);
        for _ in 0..600 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("the server never listened on port {}", self.port);
    }

    /// Stops the server by its PID: MariaDB by SIGKILL (a crash, recovered
    /// on start), PostgreSQL by SIGINT (fast shutdown, which also removes
    /// its shared memory), then SIGKILL if it is still there after 10 s.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if self.graceful {
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
            for _ in 0..100 {
                if matches!(child.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// `mariadbd` on `dir` and `port`. Its temporary files go to its own
/// directory: at startup `mariadbd` deletes every `#sql*` file in its
/// tmpdir, which under the default `/tmp` took the shared server's
/// temporary tables from under it.
fn mariadbd(dir: &Path, port: u16) -> Command {
    let mut command = Command::new(mariadb_bin("mariadbd").expect("mariadbd"));
    let inside = |option: &str, name: &str| format!("--{option}={}", dir.join(name).display());
    command.arg("--no-defaults").args([
        inside("datadir", "data"),
        inside("tmpdir", "tmp"),
        inside("socket", "sock"),
        format!("--port={port}"),
    ]);
    command.args([
        "--bind-address=127.0.0.1",
        "--skip-grant-tables",
        "--skip-log-bin",
        "--user=root",
    ]);
    command
}

/// `postgres` on `dir` and `port`, listening on loopback only, its socket
/// in `dir`.
fn postgres(dir: &Path, port: u16) -> Command {
    let mut command = Command::new(pg_bin("postgres").expect("postgres"));
    command
        .arg("-D")
        .arg(dir.join("data"))
        .args(["-p", &port.to_string(), "-k"])
        .arg(dir)
        .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"]);
    as_postgres_user(&mut command, dir);
    command
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The setup tests every SQL store runs, each on a fresh store from
/// `$unmigrated` (a namespace in, a store whose table does not exist yet
/// out), dropped by `$drop`: store calls before `migrate` fail with the
/// typed missing-table error, and the store's `migration_sql` applied by
/// hand (one `raw_sql`, as a DBA's tool would) makes a table the store
/// works with, on which `migrate` then has nothing to do.
#[macro_export]
macro_rules! setup_tests {
    ($store:ty, unmigrated: $unmigrated:path, drop: $drop:path) => {
        store_case!(#[tokio::test] a_missing_table_is_a_typed_error:
            $unmigrated, $drop, "no_table", common::missing_table_is_typed);
        store_case!(#[tokio::test] the_migration_sql_applied_by_hand_makes_a_working_table:
            $unmigrated, $drop, "migration_sql", common::hand_migrated_table_works);
    };
}

/// One test, `$name`: `$case` on a fresh store from `$make` (given a
/// namespace for `$ns`), dropped by `$drop` afterwards.
#[macro_export]
macro_rules! store_case {
    (#[$attr:meta] $name:ident: $make:path, $drop:path, $ns:literal, $case:path) => {
        #[$attr]
        async fn $name() {
            let store = $make(namespace($ns)).await;
            $case(&store).await;
            $drop(&store).await;
        }
    };
}

/// The store-level tests every networked SQL store runs the same way (the
/// store conformance suite among them), each
/// on a fresh store from `$make` (a namespace in, a migrated store out),
/// or from `$unmigrated` for the [`setup_tests`],
/// dropped by `$drop`; `$store` connects
/// to `$url` (the shared server), and to `$bad_url`, where nothing listens.
#[macro_export]
macro_rules! shared_store_tests {
    ($store:ty, make: $make:path, unmigrated: $unmigrated:path, drop: $drop:path, url: $url:expr, bad_url: $bad_url:expr) => {
        // No known failures: every case of the suite passes (issue 15).
        mod conformance {
            use super::*;
            session_core::store_conformance_tests!(|namespace: String| async move {
                $make(namespace).await
            });
        }

        #[tokio::test]
        async fn custom_table_in_the_default_namespace_round_trips() {
            common::custom_table_round_trips("custom_table", async |table: &str| {
                <$store>::connect($url).await?.with_table(table)
            })
            .await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn cleanup_task_deletes_expired_rows_and_stops_on_shutdown() {
            let store = $make(namespace("cleanup_task")).await;
            common::cleanup_task_runs_until_shutdown(&store, common::count_rows).await;
            $drop(&store).await;
        }

        setup_tests!($store, unmigrated: $unmigrated, drop: $drop);

        #[tokio::test]
        async fn connect_to_a_bad_url_is_a_typed_error() {
            let err = <$store>::connect($bad_url)
                .await
                .expect_err("nothing listens on port 1");
            assert!(matches!(err, session_sqlx::Error::Database(_)), "{err:?}");
        }

        store_case!(#[tokio::test] user_column_follows_every_method:
            $make, $drop, "user_column", common::user_column_follows_every_method);
        store_case!(#[tokio::test] admit_revokes_the_oldest_login:
            $make, $drop, "login_at", common::admit_revokes_the_oldest_login);
    };
}

/// An app whose store was built lazily (`store`, on `server`'s URL) while
/// the server was down boots, answers 503 (with no cookie) while the
/// server is down and while its table is missing, and serves sessions once
/// the server is up and `migrate` has run, without a restart.
pub async fn boots_while_down<S>(mut server: Server, store: S, migrate: impl AsyncFn(&S))
where
    S: session_core::Store + Clone + 'static,
{
    use session_core::testing::direct::DirectApp;
    use session_core::testing::http::{Browser, TestApp, base_config};
    use session_core::{SessionManager, StoreError};

    let config = base_config().build().expect("config");
    let client = DirectApp
        .client(SessionManager::new(config, store.clone()))
        .await;
    let mut browser = Browser::new(&*client);

    let down = browser.post("/set/user", r#""ada""#).await;
    assert_eq!(down.status, 503, "{}", down.body);
    assert!(down.ours.is_none(), "no cookie while the store is down");
    let r = fault_record();
    let err = store.load(&r.key).await.expect_err("the server is down");
    assert!(matches!(err, StoreError::Timeout), "{err:?}");

    server.run();
    // Up, but `migrate` has not run: still 503, and a typed error.
    assert_eq!(browser.post("/set/user", r#""ada""#).await.status, 503);
    let err = store.load(&r.key).await.expect_err("no table yet");
    assert!(is_missing_table(&err), "{err:?}");

    migrate(&store).await;
    let up = browser.post("/set/user", r#""ada""#).await;
    assert_eq!(up.status, 200, "{}", up.body);
    assert!(browser.cookie.is_some(), "the session's cookie");
    let read = browser.get("/get/user").await;
    assert_eq!(
        (read.status.as_u16(), read.body.as_str()),
        (200, r#""ada""#)
    );
}
