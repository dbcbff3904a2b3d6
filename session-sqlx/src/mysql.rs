//! `MySqlStore`: sessions in a MySQL 8 or MariaDB 10.11+ table.
//!
//! The SQL stays in the subset both servers run: no row alias in
//! `ON DUPLICATE KEY UPDATE` (`AS new`, MySQL only), no `RETURNING`
//! (MariaDB only), no `VALUES()` there (deprecated in MySQL 8.0.20), and
//! assignments ordered knowing they run left to right. Only MariaDB is
//! tested here.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use session_core::{
    Admission, Clock, Created, Login, Record, Retired, Saved, Store, StoreAdmin, StoreError,
    StoreKey, Touched, UserIndex, Version,
};
use sqlx::mysql::{
    MySql, MySqlArguments, MySqlConnectOptions, MySqlPool, MySqlPoolOptions, MySqlQueryResult,
};
use sqlx::{Connection, Executor};
use time::OffsetDateTime;

use crate::Statements;
use crate::admit;
use crate::cleanup::{self, CleanupHandle};
use crate::common::{
    self, Cas, CasOp, apply_migrations, count_live, from_millis, to_millis, user_records,
};
use crate::error::{Error, store_error, version_to_db};
use crate::migration::{Migration, migrations, script};
use crate::name::{self, Ident};

/// The migrations, in order. Each is idempotent (0002 and 0003 through
/// their `adds_column` guard).
const MIGRATIONS: &[Migration] = migrations!(
    "mysql",
    Migration {
        sql: include_str!("../migrations/mysql/0004_login_locks.sql"),
        adds_column: None,
    }
);

/// Whether the table (the first parameter, `database.table` unquoted) has
/// the column (the second).
const HAS_COLUMN: &str = "SELECT EXISTS (SELECT 1 FROM information_schema.columns \
    WHERE CONCAT(table_schema, '.', table_name) = ? AND column_name = ?)";

/// The statement that creates `database`.
fn create_database(database: &Ident) -> String {
    format!(
        "CREATE DATABASE IF NOT EXISTS {}",
        database.quoted_with("", '`')
    )
}

/// The named lock (`GET_LOCK`) that serializes migrations on a server.
const MIGRATION_LOCK: &str = "session_sqlx.migrate";

/// How long `migrate` waits for another instance's migration, in seconds.
const MIGRATION_LOCK_WAIT: i64 = 60;

/// The longest user id the `user_id VARBINARY(255)` column holds, in bytes
/// of UTF-8. A longer one is refused with [`StoreError::Malformed`], never
/// truncated.
///
/// ```
/// assert_eq!(session_sqlx::MAX_USER_ID_BYTES, 255);
/// ```
pub const MAX_USER_ID_BYTES: usize = 255;

/// How many times a write runs when InnoDB picks it as a deadlock victim
/// (which rolled it back, so it wrote nothing).
const DEADLOCK_ATTEMPTS: usize = 16;

/// The SQL of one store, built once from validated names.
#[derive(Debug)]
struct Queries {
    database: Option<Ident>,
    table: Ident,
    /// The table as SQL names it: backquoted, database-qualified if set.
    target: String,
    common: Statements,
    /// The live row's version, locked (`FOR UPDATE`): why a
    /// compare-and-swap changed nothing.
    version_of: String,
    /// One victim of the cap, if it still belongs to the user.
    revoke: String,
    /// `clear`'s first step: the live rows.
    clear_live: String,
    /// `admit`'s first statement: the user's lock row, locked.
    lock_user: String,
}

common::statements_of!(Queries);

impl Queries {
    fn new(database: Option<Ident>, table: Ident) -> Self {
        let t = match &database {
            Some(db) => format!("{}.{}", db.quoted_with("", '`'), table.quoted_with("", '`')),
            None => table.quoted_with("", '`'),
        };
        // Insert-if-absent that also takes over an expired row. The new
        // values are bound a second time for the update branch (neither
        // `VALUES()` nor a row alias runs on both servers), and `expires_at`
        // is assigned last, so every `IF` still sees the old expiry. A live
        // row is left as it is, and the statement's insert id becomes 1
        // (`LAST_INSERT_ID(1)`, evaluated only then): with the found-rows
        // flag sqlx sets, the row count alone cannot tell an untouched row
        // from an insert.
        let upsert = |login_at: &str| {
            format!(
                "INSERT INTO {t} (id, version, expires_at, payload, user_id, login_at) \
                 VALUES (?, ?, ?, ?, ?, {login_at}) ON DUPLICATE KEY UPDATE \
                 version = IF(expires_at > ?, version + 0 * LAST_INSERT_ID(1), ?), \
                 payload = IF(expires_at > ?, payload, ?), \
                 user_id = IF(expires_at > ?, user_id, ?), \
                 login_at = IF(expires_at > ?, login_at, {login_at}), \
                 expires_at = IF(expires_at > ?, expires_at, ?)"
            )
        };
        let user_index = table.quoted_with("_user_id_idx", '`');
        let cas_update = |login_at: &str| {
            format!(
                "UPDATE {t} SET {login_at}, version = ?, expires_at = ?, payload = ?, \
                 user_id = ? WHERE id = ? AND version = ? AND expires_at > ?"
            )
        };
        Self {
            common: Statements {
                load: format!(
                    "SELECT version, expires_at, payload, CAST(user_id AS CHAR) FROM {t} \
                     WHERE id = ? AND expires_at > ?"
                ),
                create: upsert("?"),
                // The row keeps its login time while its user stays the same
                // (`<=>`: NULL-safe equality), judged before `user_id` is
                // assigned.
                save: cas_update("login_at = IF(user_id <=> ?, login_at, NULL)"),
                admit_save: cas_update("login_at = ?"),
                touch: format!(
                    "UPDATE {t} SET expires_at = ? WHERE id = ? AND version = ? AND expires_at > ?"
                ),
                retire: format!("DELETE FROM {t} WHERE id = ? AND version = ? AND expires_at > ?"),
                count: format!("SELECT count(*) FROM {t} WHERE expires_at > ?"),
                clear: format!("DELETE FROM {t}"),
                delete: format!("DELETE FROM {t} WHERE id = ?"),
                delete_expired: format!(
                    "DELETE FROM {t} WHERE expires_at <= ? ORDER BY expires_at LIMIT ?"
                ),
                user_records: format!(
                    "SELECT CAST(id AS CHAR), version, expires_at, payload FROM {t} \
                     WHERE user_id = ? AND expires_at > ?"
                ),
                // The cap's victims, oldest login first (NULL, no login
                // time, sorts first on both servers). A plain read: the
                // snapshot is taken here, after the user's lock row (see
                // `admit`); a locking read would take gap locks that
                // logins of neighbouring users share.
                other_logins: format!(
                    "SELECT CAST(id AS CHAR) FROM {t} FORCE INDEX ({user_index}) \
                     WHERE user_id = ? AND expires_at > ? \
                     AND id <> ? ORDER BY login_at, expires_at, id"
                ),
            },
            version_of: format!(
                "SELECT version FROM {t} WHERE id = ? AND expires_at > ? FOR UPDATE"
            ),
            revoke: format!("DELETE FROM {t} WHERE id = ? AND user_id = ?"),
            clear_live: format!("DELETE FROM {t} WHERE expires_at > ?"),
            lock_user: format!(
                "INSERT INTO {} (user_id) VALUES (?) ON DUPLICATE KEY UPDATE user_id = user_id",
                crate::migration::beside(&t, &table, "_login_locks", '`')
            ),
            target: t,
            database,
            table,
        }
    }
}

/// A user id as the `user_id` column takes it: at most
/// [`MAX_USER_ID_BYTES`], else a typed error (never truncated).
fn user_arg(user: Option<&str>) -> Result<Option<&str>, StoreError> {
    match user {
        Some(u) if u.len() > MAX_USER_ID_BYTES => Err(StoreError::Malformed(
            "user id longer than 255 bytes (the MySQL store's user_id column)",
        )),
        other => Ok(other),
    }
}

common::store_type! {
    /// A [`Store`] over a MySQL 8 or MariaDB 10.11+ table (default `sessions`
    /// in the connection's database).
    ///
    /// One InnoDB row per session: `id VARBINARY(64) PRIMARY KEY` (the
    /// [`StoreKey`]), `version BIGINT`, `expires_at BIGINT` (Unix
    /// milliseconds, indexed; not `TIMESTAMP`, which ends in 2038),
    /// `payload LONGBLOB` (opaque bytes), `user_id VARBINARY(255)` (nullable,
    /// indexed: the [`UserIndex`]; byte-exact, so `"bob"` and `"bob "` are two
    /// users; longer ids are refused, see [`MAX_USER_ID_BYTES`]) and
    /// `login_at BIGINT` (nullable: the login time [`UserIndex::admit`]
    /// writes). Every [`Store`] and [`UserIndex::user_records`] method is one
    /// statement, except a compare-and-swap (`save`, `touch`, `retire`) that
    /// changed nothing, which asks why (lost race or gone?) in one transaction
    /// that locks the row (`SELECT ... FOR UPDATE`); `admit` is one
    /// transaction (see there). Expiry is judged by the application's clock.
    ///
    /// The SQL runs on MySQL 8 and MariaDB 10.11 (the common subset; this
    /// workspace tests MariaDB). Transactions rely on InnoDB's default
    /// `REPEATABLE READ` isolation (locking reads take gap locks).
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), session_sqlx::Error> {
    /// use session_sqlx::MySqlStore;
    ///
    /// let store = MySqlStore::connect("mysql://root@127.0.0.1:3306/test")
    ///     .await?
    ///     .with_database("auth")?
    ///     .with_table("sessions")?;
    /// store.migrate().await?;
    /// let cleanup = store.spawn_cleanup(std::time::Duration::from_secs(600));
    /// // ... serve ...
    /// cleanup.shutdown().await;
    /// # Ok(())
    /// # }
    /// ```
    MySqlStore(MySqlPool), debug: [database, table]
}

impl MySqlStore {
    /// A store on an existing pool, table `sessions` in the connection's
    /// database.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), session_sqlx::Error> {
    /// use session_sqlx::{MySqlStore, sqlx::mysql::MySqlPoolOptions};
    ///
    /// let pool = MySqlPoolOptions::new().connect("mysql://root@127.0.0.1/app").await?;
    /// let store = MySqlStore::new(pool);
    /// assert_eq!(store.table(), "sessions");
    /// # Ok(())
    /// # }
    /// ```
    pub fn new(pool: MySqlPool) -> Self {
        Self::on_pool(pool, Queries::new(None, Ident::trusted("sessions")))
    }

    /// Connects a pool of up to 10 connections (waiting at most 5 seconds
    /// for a free one) to `url`, for example
    /// `mysql://user:pass@host:3306/db`.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), session_sqlx::Error> {
    /// let store = session_sqlx::MySqlStore::connect("mysql://root@127.0.0.1:3306/test").await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect(url: &str) -> Result<Self, Error> {
        Ok(Self::new(Self::pool_options().connect(url).await?))
    }

    /// A store whose pool connects on first use, so the app starts while
    /// the server is down or unreachable: the same pool as
    /// [`connect`](Self::connect), and no connection opened here. Fails
    /// only on a malformed `url`.
    ///
    /// While the server cannot be reached, every store call keeps trying
    /// to connect for at most 5 seconds (the pool's `acquire_timeout`),
    /// then fails with [`StoreError::Timeout`](session_core::StoreError::Timeout)
    /// (the adapters answer their failure response, 503 by default); once
    /// the server is back, the next call connects and serves, with no
    /// restart. Until [`migrate`](Self::migrate) has run, calls fail with
    /// [`Error::MissingTable`] as their cause. Must be called inside a
    /// Tokio runtime (the pool starts its maintenance task).
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_sqlx::Error> {
    /// // Nothing is connected yet: this succeeds with the database down.
    /// let store = session_sqlx::MySqlStore::connect_lazy("mysql://root@127.0.0.1:3306/app")?;
    /// // ... serve (503 while the database is down) ...
    /// # Ok(())
    /// # }
    /// ```
    pub fn connect_lazy(url: &str) -> Result<Self, Error> {
        let options: MySqlConnectOptions = url.parse()?;
        Ok(Self::new(Self::pool_options().connect_lazy_with(options)))
    }

    /// Up to 10 connections, waiting at most 5 seconds for one.
    fn pool_options() -> MySqlPoolOptions {
        MySqlPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(Duration::from_secs(5))
    }

    /// Uses the database `name` (created by [`migrate`](Self::migrate) if
    /// missing) instead of the connection's: 1 to 64 of `[a-z0-9_]`, not
    /// starting with a digit.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), session_sqlx::Error> {
    /// let store = session_sqlx::MySqlStore::connect("mysql://root@127.0.0.1/test")
    ///     .await?
    ///     .with_database("auth")?;
    /// assert_eq!(store.database(), Some("auth"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_database(mut self, name: &str) -> Result<Self, Error> {
        let database = name::database(name)?;
        self.sql = Arc::new(Queries::new(Some(database), self.sql.table.clone()));
        Ok(self)
    }

    /// Uses the table `name`: 1 to 48 of `[a-z0-9_]`, not starting with a
    /// digit.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), session_sqlx::Error> {
    /// let store = session_sqlx::MySqlStore::connect("mysql://root@127.0.0.1/test")
    ///     .await?
    ///     .with_table("web_sessions")?;
    /// assert_eq!(store.table(), "web_sessions");
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_table(mut self, name: &str) -> Result<Self, Error> {
        let table = name::table(name)?;
        self.sql = Arc::new(Queries::new(self.sql.database.clone(), table));
        Ok(self)
    }

    /// Judges expiry by `clock` instead of the system clock (give it the
    /// clock of the `SessionManager`).
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), session_sqlx::Error> {
    /// use std::sync::Arc;
    /// let clock = Arc::new(session_core::ManualClock::new(time::OffsetDateTime::UNIX_EPOCH));
    /// let store = session_sqlx::MySqlStore::connect("mysql://root@127.0.0.1/test")
    ///     .await?
    ///     .with_clock(clock);
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The pool.
    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }

    /// The database name, if one was set with
    /// [`with_database`](Self::with_database).
    pub fn database(&self) -> Option<&str> {
        self.sql.database.as_ref().map(Ident::as_str)
    }

    /// The table name.
    pub fn table(&self) -> &str {
        self.sql.table.as_str()
    }

    /// Creates the database (if set and missing), the table and its expiry
    /// index if missing, and adds the `user_id` and `login_at` columns
    /// (migrations 0002, 0003) to tables created by earlier versions.
    /// Idempotent: call it on every start. MySQL commits every DDL
    /// statement on its own, so concurrent calls (several instances
    /// starting at once) are serialized by a named lock instead
    /// (`GET_LOCK`, waiting up to 60 s, then
    /// [`Error::MigrationLockTimeout`]), under which the column checks and
    /// the `ALTER TABLE`s they guard run.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), session_sqlx::Error> {
    /// let store = session_sqlx::MySqlStore::connect("mysql://root@127.0.0.1/test").await?;
    /// store.migrate().await?;
    /// store.migrate().await?; // a no-op the second time
    /// # Ok(())
    /// # }
    /// ```
    pub async fn migrate(&self) -> Result<(), Error> {
        let mut conn = self.pool.acquire().await?;
        let got: Option<i64> = sqlx::query_scalar("SELECT GET_LOCK(?, ?)")
            .bind(MIGRATION_LOCK)
            .bind(MIGRATION_LOCK_WAIT)
            .fetch_one(&mut *conn)
            .await?;
        if got != Some(1) {
            return Err(Error::MigrationLockTimeout);
        }
        let outcome = self.migrate_locked(&mut conn).await;
        let released = sqlx::query("DO RELEASE_LOCK(?)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *conn)
            .await;
        if released.is_err() {
            // Never hand a connection that may hold the lock back to the pool.
            let _ = conn.detach();
        }
        outcome
    }

    async fn migrate_locked(&self, conn: &mut sqlx::MySqlConnection) -> Result<(), Error> {
        let database: String = match &self.sql.database {
            Some(db) => {
                let sql = create_database(db);
                let exists: bool = sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM information_schema.schemata \
                     WHERE schema_name = ?)",
                )
                .bind(db.as_str())
                .fetch_one(&mut *conn)
                .await?;
                if !exists {
                    conn.execute(sqlx::raw_sql(&sql)).await?;
                }
                db.as_str().to_owned()
            }
            None => sqlx::query_scalar::<_, Option<String>>("SELECT DATABASE()")
                .fetch_one(&mut *conn)
                .await?
                .unwrap_or_default(),
        };
        let qualified = format!("{database}.{}", self.table());
        let table = self.sql.target.clone();
        let mut tx = conn.begin().await?;
        apply_migrations!(
            tx,
            MIGRATIONS,
            HAS_COLUMN,
            qualified.as_str(),
            &table,
            &self.sql.table,
            '`'
        );
        Ok(())
    }

    /// The SQL [`migrate`](Self::migrate) runs on a fresh server for the
    /// table `table` in the database `database` (`None`: the
    /// connection's; the default table is `sessions`), for a DBA to review
    /// or for another migration tool: the database's `CREATE DATABASE IF
    /// NOT EXISTS` (when named), then every migration file, rendered with
    /// the same validated, backquoted names. Apply it where the table does
    /// not exist yet: MySQL has no `ADD COLUMN IF NOT EXISTS`, so the
    /// column migrations (0002, 0003) fail on a table that has them, where
    /// `migrate` skips them (under its `GET_LOCK`). `cargo xtask
    /// migration-sql --store mysql` prints it.
    ///
    /// ```
    /// let sql = session_sqlx::MySqlStore::migration_sql(Some("auth"), "sessions")?;
    /// assert!(sql.starts_with("CREATE DATABASE IF NOT EXISTS `auth`;"));
    /// assert!(sql.contains("CREATE TABLE IF NOT EXISTS `auth`.`sessions`"));
    /// # Ok::<(), session_sqlx::Error>(())
    /// ```
    pub fn migration_sql(database: Option<&str>, table: &str) -> Result<String, Error> {
        let database = database.map(name::database).transpose()?;
        let prelude = database.as_ref().map(create_database).unwrap_or_default();
        let sql = Queries::new(database, name::table(table)?);
        Ok(script(&prelude, MIGRATIONS, &sql.target, &sql.table, '`'))
    }

    /// Starts a task that runs [`Store::delete_expired`] every `period`
    /// (at least [`MIN_CLEANUP_PERIOD`](crate::MIN_CLEANUP_PERIOD)).
    ///
    /// # Panics
    ///
    /// When called outside a Tokio runtime.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), session_sqlx::Error> {
    /// let store = session_sqlx::MySqlStore::connect("mysql://root@127.0.0.1/test").await?;
    /// let cleanup = store.spawn_cleanup(std::time::Duration::from_secs(600));
    /// cleanup.shutdown().await;
    /// # Ok(())
    /// # }
    /// ```
    pub fn spawn_cleanup(&self, period: Duration) -> CleanupHandle {
        cleanup::spawn(self.clone(), period)
    }

    fn now_ms(&self) -> i64 {
        to_millis(self.clock.now())
    }
}

type MySqlQuery<'q> = sqlx::query::Query<'q, MySql, MySqlArguments>;

impl MySqlStore {
    /// The insert-if-absent of `create` (with the login time when `admit`
    /// writes it): see [`Queries::new`] for the two bindings of each value.
    fn create_query<'q>(
        &'q self, record: &'q Record, login_at: Option<OffsetDateTime>, now: i64,
    ) -> Result<MySqlQuery<'q>, StoreError> {
        let version = version_to_db(record.version)?;
        let expires = to_millis(record.expires_at);
        let user = user_arg(record.user.as_deref())?;
        let login = login_at.map(to_millis);
        Ok(sqlx::query(&self.sql.create)
            .bind(record.key.as_str())
            .bind(version)
            .bind(expires)
            .bind(&record.payload)
            .bind(user)
            .bind(login)
            .bind(now)
            .bind(version)
            .bind(now)
            .bind(&record.payload)
            .bind(now)
            .bind(user)
            .bind(now)
            .bind(login)
            .bind(now)
            .bind(expires))
    }

    /// The versioned statement of `op`, its values bound in the order of
    /// the placeholders.
    fn cas_query<'q>(&'q self, op: CasOp<'q>, now: i64) -> Result<MySqlQuery<'q>, StoreError> {
        Ok(match op {
            CasOp::Save(record, expected) | CasOp::Login(record, expected, _) => {
                let user = user_arg(record.user.as_deref())?;
                let query = match op {
                    CasOp::Login(_, _, at) => sqlx::query(&self.sql.admit_save).bind(to_millis(at)),
                    _ => sqlx::query(&self.sql.save).bind(user),
                };
                query
                    .bind(version_to_db(record.version)?)
                    .bind(to_millis(record.expires_at))
                    .bind(&record.payload)
                    .bind(user)
                    .bind(record.key.as_str())
                    .bind(version_to_db(expected)?)
                    .bind(now)
            }
            CasOp::Touch(key, expected, expires_at) => sqlx::query(&self.sql.touch)
                .bind(to_millis(expires_at))
                .bind(key.as_str())
                .bind(version_to_db(expected)?)
                .bind(now),
            CasOp::Retire(key, expected) => sqlx::query(&self.sql.retire)
                .bind(key.as_str())
                .bind(version_to_db(expected)?)
                .bind(now),
        })
    }

    /// Runs a compare-and-swap atomically. The common case is one
    /// statement, the `UPDATE` or `DELETE` with the version check, which
    /// matches one row. When it matches none, the answer (moved on or
    /// gone?) is taken in one transaction: `SELECT ... FOR UPDATE` of the
    /// live row's version (a locking read, so it sees the latest commit and
    /// holds the row), and if it is (again) the expected one the statement
    /// runs once more before `COMMIT`. So the outcome is true at one
    /// instant even if the row was written between the two.
    async fn cas(&self, op: CasOp<'_>) -> Result<Cas, StoreError> {
        retry_deadlocks(|| self.cas_once(op)).await
    }

    common::cas_methods!(sqlx::MySqlConnection, begin: begin, commit: commit);

    /// A transaction on a pooled connection (sqlx logs its `BEGIN` on
    /// MySQL, unlike on PostgreSQL and SQLite).
    async fn begin(&self) -> Result<sqlx::Transaction<'static, MySql>, StoreError> {
        self.pool.begin().await.map_err(store_error)
    }
}

/// `create`'s outcome: 1 row is an insert, 2 a takeover of an expired row;
/// a live row is left alone and marks the statement with insert id 1.
fn created(done: &MySqlQueryResult) -> Created {
    if done.last_insert_id() == 1 || done.rows_affected() == 0 {
        Created::Collision
    } else {
        Created::Ok
    }
}

common::cas_store!(MySqlStore, retry: retry_deadlocks);

#[async_trait]
impl StoreAdmin for MySqlStore {
    /// One `SELECT count(*)` over the live rows, through the `expires_at`
    /// index.
    async fn count(&self) -> Result<u64, StoreError> {
        count_live!(self, self.now_ms())
    }

    /// One transaction (no `RETURNING` on MySQL): `DELETE` of the live
    /// rows (its count is the answer; its next-key locks keep new sessions
    /// out until the commit), `DELETE` of the rest, `COMMIT`. O(rows).
    async fn clear(&self) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        let live = sqlx::query(&self.sql.clear_live)
            .bind(self.now_ms())
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        sqlx::query(&self.sql.clear)
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        tx.commit().await.map_err(store_error)?;
        Ok(live.rows_affected())
    }
}

common::cas_admit!(
    /// An admission in progress (see [`UserIndex::admit`] on [`MySqlStore`]).
    MySqlAdmit(MySqlStore, MySql),
    created: created,
    commit: commit
);

/// Commits.
async fn commit(tx: sqlx::Transaction<'static, MySql>) -> Result<(), StoreError> {
    tx.commit().await.map_err(store_error)
}

/// Whether `e` is InnoDB choosing this transaction as a deadlock victim
/// (1213), which rolled it back: safe to run again.
fn is_deadlock(e: &StoreError) -> bool {
    let StoreError::Backend(b) = e else {
        return false;
    };
    matches!(
        b.downcast_ref::<sqlx::Error>(),
        Some(sqlx::Error::Database(d)) if d.code().as_deref() == Some("40001")
    )
}

/// Runs `op` again (at most [`DEADLOCK_ATTEMPTS`] times in all) while
/// InnoDB picks it as a deadlock victim: a rolled-back victim wrote
/// nothing, and the other transaction has gone on, so the next run finds
/// its result.
async fn retry_deadlocks<T, F, Fut>(mut op: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let mut attempt = 1;
    loop {
        match op().await {
            Err(e) if is_deadlock(&e) && attempt < DEADLOCK_ATTEMPTS => attempt += 1,
            outcome => return outcome,
        }
    }
}

#[async_trait]
impl UserIndex for MySqlStore {
    /// One transaction, serialized per user by the user's lock row
    /// (`<table>_login_locks`, migration 0004), the MySQL stand-in for
    /// PostgreSQL's transaction-scoped advisory lock:
    ///
    /// 1. `BEGIN`;
    /// 2. `INSERT ... ON DUPLICATE KEY UPDATE` of the user's lock row: an
    ///    exclusive record lock, held until the transaction ends, for which
    ///    another login of the same user waits; logins of different users
    ///    lock different rows and never wait for each other;
    /// 3. the `SELECT` of the user's other live rows, oldest `login_at`
    ///    first (rows without one first, then by expiry), through the
    ///    `user_id` index: a plain read, whose `REPEATABLE READ` snapshot
    ///    is taken here, after the lock was granted, so it sees every
    ///    earlier login of the user (each commits before it releases the
    ///    lock). No locking read: its gap locks would be shared by
    ///    neighbouring users and deadlock their inserts;
    /// 4. unless the cap refuses: the `INSERT` (insert-if-absent) or the
    ///    compare-and-swap `UPDATE` of the record with its `login_at` (after
    ///    an `UPDATE` that matched nothing, the locked `SELECT` that tells a
    ///    conflict from a vanished row) and, only if it wrote, one `DELETE`
    ///    per revoked session (those still listed under the user);
    /// 5. `COMMIT` (also after a refusal, to release the lock at once).
    ///
    /// Statements: `BEGIN` + lock + `SELECT` + `INSERT` + one `DELETE` per
    /// revoked session + `COMMIT`, one round trip each (refused: `BEGIN` +
    /// lock + `SELECT` + `COMMIT`). Should InnoDB still pick it as a
    /// deadlock victim, it runs again (at most 16 times in all). A dropped
    /// future leaves the transaction to sqlx, which rolls it back (and so
    /// releases the lock row) before the connection is used again: nothing
    /// of the admission is stored.
    async fn admit(&self, login: Login<'_>) -> Result<Admission, StoreError> {
        let user = user_arg(Some(login.user()?))?;
        retry_deadlocks(|| async {
            let mut tx = self.begin().await?;
            sqlx::query(&self.sql.lock_user)
                .bind(user)
                .execute(&mut *tx)
                .await
                .map_err(store_error)?;
            let tx = MySqlAdmit {
                tx,
                store: self,
                now: self.now_ms(),
            };
            admit::admit(tx, login).await
        })
        .await
    }

    /// One `SELECT` of the user's live rows, through the index on
    /// `user_id`. A user id longer than [`MAX_USER_ID_BYTES`] has none.
    async fn user_records(&self, user: &str) -> Result<Vec<Record>, StoreError> {
        if user.len() > MAX_USER_ID_BYTES {
            return Ok(Vec::new());
        }
        user_records!(self, user, self.now_ms(), from_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_are_bounded_not_truncated() {
        let long = "é".repeat(128); // 256 bytes
        assert!(matches!(
            user_arg(Some(&long)),
            Err(StoreError::Malformed(_))
        ));
        let max = "a".repeat(MAX_USER_ID_BYTES);
        assert_eq!(user_arg(Some(&max)).unwrap(), Some(max.as_str()));
        assert_eq!(user_arg(None).unwrap(), None);
    }

    #[test]
    fn statements_are_backquoted_and_database_qualified() {
        let q = Queries::new(Some(Ident::trusted("auth")), Ident::trusted("web"));
        assert!(q.load.contains("FROM `auth`.`web` WHERE"), "{}", q.load);
        assert!(!q.create.contains("VALUES(") && !q.create.contains(" AS new"));
        assert_eq!(q.create.matches('?').count(), 16);
    }
}
