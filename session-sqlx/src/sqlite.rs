//! `SqliteStore`: sessions in an SQLite table.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use session_core::{
    Admission, Clock, Created, Login, Record, Retired, Saved, Store, StoreAdmin, StoreError,
    StoreKey, Touched, UserIndex, Version,
};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
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

/// The migrations, in order. Each is idempotent (0002 through its
/// `adds_column` guard).
const MIGRATIONS: &[Migration] = migrations!("sqlite");

/// Whether the table (the first parameter) has the column (the second).
const HAS_COLUMN: &str = "SELECT EXISTS (SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2)";

/// The busy timeout [`SqliteStore::connect`] sets.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The SQL of one store, built once from a validated name.
#[derive(Debug)]
struct Queries {
    table: Ident,
    common: Statements,
    version_of: String,
    revoke: String,
}

common::statements_of!(Queries);

impl Queries {
    fn new(table: Ident) -> Self {
        let t = table.quoted();
        Self {
            common: Statements {
                load: format!(
                    "SELECT version, expires_at, payload, user_id FROM {t} \
                     WHERE id = ?1 AND expires_at > ?2"
                ),
                // Insert-if-absent that also takes over an expired row: the
                // conditional DO UPDATE changes 0 rows when a live row exists.
                // ?7: the login time (`admit`), NULL for a plain create.
                create: format!(
                    "INSERT INTO {t} AS s (id, version, expires_at, payload, user_id, login_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?7) \
                     ON CONFLICT (id) DO UPDATE SET version = excluded.version, \
                     expires_at = excluded.expires_at, payload = excluded.payload, \
                     user_id = excluded.user_id, login_at = excluded.login_at \
                     WHERE s.expires_at <= ?6"
                ),
                // The row keeps its login time while its user stays the same
                // (`IS`: NULL-safe equality).
                save: format!(
                    "UPDATE {t} SET version = ?3, expires_at = ?4, payload = ?5, user_id = ?6, \
                     login_at = CASE WHEN user_id IS ?6 THEN login_at ELSE NULL END \
                     WHERE id = ?1 AND version = ?2 AND expires_at > ?7"
                ),
                // `admit`'s save: the same compare-and-swap, with the login time.
                admit_save: format!(
                    "UPDATE {t} SET version = ?3, expires_at = ?4, payload = ?5, user_id = ?6, \
                     login_at = ?8 WHERE id = ?1 AND version = ?2 AND expires_at > ?7"
                ),
                touch: format!(
                    "UPDATE {t} SET expires_at = ?3 WHERE id = ?1 AND version = ?2 AND expires_at > ?4"
                ),
                retire: format!(
                    "DELETE FROM {t} WHERE id = ?1 AND version = ?2 AND expires_at > ?3"
                ),
                count: format!("SELECT count(*) FROM {t} WHERE expires_at > ?1"),
                // Every row goes; each tells whether it was live.
                clear: format!("DELETE FROM {t} RETURNING expires_at > ?1"),
                delete: format!("DELETE FROM {t} WHERE id = ?1"),
                delete_expired: format!(
                    "DELETE FROM {t} WHERE rowid IN \
                     (SELECT rowid FROM {t} WHERE expires_at <= ?1 LIMIT ?2)"
                ),
                // Served by the partial index on user_id (`=` implies NOT NULL).
                user_records: format!(
                    "SELECT id, version, expires_at, payload FROM {t} \
                     WHERE user_id = ?1 AND expires_at > ?2"
                ),
                // The cap's victims, oldest login first (SQLite sorts NULL, no
                // login time, first).
                other_logins: format!(
                    "SELECT id FROM {t} WHERE user_id = ?1 AND expires_at > ?2 AND id <> ?3 \
                     ORDER BY login_at, expires_at, id"
                ),
            },
            // After a compare-and-swap changed nothing, inside the write
            // lock: the live row's version (moved on), or none (gone).
            version_of: format!("SELECT version FROM {t} WHERE id = ?1 AND expires_at > ?2"),
            // One victim of the cap, if it still belongs to the user.
            revoke: format!("DELETE FROM {t} WHERE id = ?1 AND user_id = ?2"),
            table,
        }
    }
}

common::store_type! {
    /// A [`Store`] over an SQLite table (default `sessions`): the embedded,
    /// persistent store.
    ///
    /// One row per session: `id TEXT PRIMARY KEY` (the [`StoreKey`]),
    /// `version INTEGER`, `expires_at INTEGER` (Unix milliseconds, indexed),
    /// `payload BLOB` (opaque bytes), `user_id TEXT` (nullable, indexed where
    /// not null: the [`UserIndex`]) and `login_at INTEGER` (Unix milliseconds,
    /// nullable: the login time [`UserIndex::admit`] writes). Every [`Store`]
    /// and [`UserIndex::user_records`] method is one SQL statement, except a
    /// compare-and-swap (`save`, `touch`, `retire`) that changed nothing,
    /// which asks why (lost race or gone?) in one `BEGIN IMMEDIATE`
    /// transaction; `admit` is one `BEGIN IMMEDIATE` transaction (see there).
    /// Expiry is judged by the application's clock.
    ///
    /// [`SqliteStore::connect`] sets WAL journal mode, `synchronous = NORMAL`
    /// and a 5 s busy timeout, so concurrent requests wait for the write lock
    /// instead of failing with "database is locked"; with `sqlite::memory:` it
    /// uses a one-connection pool plus an idle connection held by the store,
    /// so the database is shared by every request and lives as long as the
    /// store, even when the pool replaces its connection.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use session_core::{Created, Record, SessionId, Store, Version};
    /// use session_sqlx::SqliteStore;
    ///
    /// let store = SqliteStore::connect("sqlite::memory:").await?;
    /// store.migrate().await?;
    /// let record = Record {
    ///     key: SessionId::random().hashed_key(),
    ///     version: Version::FIRST,
    ///     expires_at: time::OffsetDateTime::now_utc() + time::Duration::hours(1),
    ///     payload: br#"{"views":1}"#.to_vec(),
    ///     user: Some("ada".to_owned()),
    /// };
    /// assert_eq!(store.create(&record).await?, Created::Ok);
    /// assert_eq!(store.load(&record.key).await?.unwrap().payload, record.payload);
    /// // The user index: the live sessions of a user.
    /// let ada = store.user_index().unwrap().user_records("ada").await?;
    /// assert_eq!(ada.len(), 1);
    /// assert_eq!((&ada[0].key, ada[0].user.as_deref()), (&record.key, Some("ada")));
    /// # Ok(())
    /// # }
    /// ```
    SqliteStore(SqlitePool), debug: [table],
    /// For an in-memory database: a connection of its own that is never
    /// used, so the database outlives the pool's connection (which sqlx
    /// closes and replaces when a query is cancelled mid-flight).
    _keeper: Option<Arc<std::sync::Mutex<sqlx::SqliteConnection>>> = None
}

impl SqliteStore {
    /// A store on an existing pool, table `sessions`. The pool's connect
    /// options are used as given: set a busy timeout (and WAL) yourself,
    /// or start from [`SqliteStore::options`].
    pub fn new(pool: SqlitePool) -> Self {
        Self::on_pool(pool, Queries::new(Ident::trusted("sessions")))
    }

    /// The connect options [`connect`](Self::connect) uses for `url`: WAL,
    /// `synchronous = NORMAL`, busy timeout [`DEFAULT_BUSY_TIMEOUT`].
    pub fn options(url: &str) -> Result<SqliteConnectOptions, Error> {
        Ok(SqliteConnectOptions::from_str(url)?
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(DEFAULT_BUSY_TIMEOUT))
    }

    /// Opens `url` with [`SqliteStore::options`]: a file
    /// (`sqlite://sessions.db?mode=rwc` creates it if missing; without
    /// `mode=rwc` it must exist) or `sqlite::memory:` (one connection).
    pub async fn connect(url: &str) -> Result<Self, Error> {
        let options = Self::options(url)?;
        let memory = url.contains(":memory:") || url.contains("mode=memory");
        // sqlx names `sqlite::memory:` databases and opens them with a
        // shared cache: the database lives while any connection to it is
        // open. The keeper is that connection, whatever the pool does.
        let (keeper, pool) = if memory {
            let conn = sqlx::ConnectOptions::connect(&options).await?;
            // Shared-cache connections fail with "table is locked" instead
            // of waiting for each other: the pool keeps one connection.
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None);
            (Some(Arc::new(std::sync::Mutex::new(conn))), pool)
        } else {
            (None, SqlitePoolOptions::new().max_connections(8))
        };
        // Turning a new file into WAL needs the write lock, and SQLite
        // answers SQLITE_BUSY at once (no busy handler) when another
        // connection converts it at the same moment, e.g. two processes
        // starting on a fresh file. Retry within the busy timeout.
        let started = std::time::Instant::now();
        loop {
            match pool.clone().connect_with(options.clone()).await {
                Ok(pool) => {
                    return Ok(Self {
                        _keeper: keeper,
                        ..Self::new(pool)
                    });
                }
                Err(e) if is_busy(&e) && started.elapsed() < DEFAULT_BUSY_TIMEOUT => {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Uses the table `name`: 1 to 48 of `[a-z0-9_]`, not starting with a
    /// digit.
    pub fn with_table(mut self, name: &str) -> Result<Self, Error> {
        self.sql = Arc::new(Queries::new(name::table(name)?));
        Ok(self)
    }

    /// Judges expiry by `clock` instead of the system clock (give it the
    /// clock of the `SessionManager`).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The pool.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The table name.
    pub fn table(&self) -> &str {
        self.sql.table.as_str()
    }

    /// Creates the table and its expiry index if missing, and adds the
    /// `user_id` column and its index (migration 0002) to tables created by
    /// earlier versions. Idempotent: call it on every start. Runs in one
    /// `BEGIN IMMEDIATE` transaction, so concurrent calls wait for each
    /// other (busy timeout) instead of racing, and the column check and
    /// the `ALTER TABLE` it guards see the same table.
    pub async fn migrate(&self) -> Result<(), Error> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let table = self.sql.table.quoted();
        // SQLite has no ADD COLUMN IF NOT EXISTS.
        apply_migrations!(
            tx,
            MIGRATIONS,
            HAS_COLUMN,
            self.sql.table.as_str(),
            &table,
            &self.sql.table,
            '"'
        );
        Ok(())
    }

    /// The SQL [`migrate`](Self::migrate) runs on a fresh database for the
    /// table `table` (the default is `sessions`), for a DBA to review or
    /// for another migration tool (`sqlx migrate`, Flyway): every
    /// migration file, rendered with the same validated, quoted name.
    /// Apply it to a database without the table: SQLite has no
    /// `ADD COLUMN IF NOT EXISTS`, so the column migrations (0002, 0003)
    /// fail on a table that has them, where `migrate` skips them (and runs
    /// all of them in one `BEGIN IMMEDIATE` transaction). `cargo xtask
    /// migration-sql --store sqlite` prints it.
    ///
    /// ```
    /// let sql = session_sqlx::SqliteStore::migration_sql("web_sessions")?;
    /// assert!(sql.contains("CREATE TABLE IF NOT EXISTS \"web_sessions\""));
    /// # Ok::<(), session_sqlx::Error>(())
    /// ```
    pub fn migration_sql(table: &str) -> Result<String, Error> {
        let table = name::table(table)?;
        Ok(script("", MIGRATIONS, &table.quoted(), &table, '"'))
    }

    /// Starts a task that runs [`Store::delete_expired`] every `period`
    /// (at least [`MIN_CLEANUP_PERIOD`](crate::MIN_CLEANUP_PERIOD)).
    ///
    /// # Panics
    ///
    /// When called outside a Tokio runtime.
    pub fn spawn_cleanup(&self, period: Duration) -> CleanupHandle {
        cleanup::spawn(self.clone(), period)
    }

    fn now_ms(&self) -> i64 {
        to_millis(self.clock.now())
    }
}

/// Whether `e` is SQLite's `SQLITE_BUSY` ("database is locked").
fn is_busy(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.code().as_deref() == Some("5"))
}

common::cas_store!(SqliteStore, retry: common::once);

type SqliteQuery<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>;

impl SqliteStore {
    /// The insert-if-absent of `create`, with the login time when `admit`
    /// writes it.
    fn create_query<'q>(
        &'q self, record: &'q Record, login_at: Option<OffsetDateTime>, now: i64,
    ) -> Result<SqliteQuery<'q>, StoreError> {
        Ok(sqlx::query(&self.sql.create)
            .bind(record.key.as_str())
            .bind(version_to_db(record.version)?)
            .bind(to_millis(record.expires_at))
            .bind(&record.payload)
            .bind(record.user.as_deref())
            .bind(now)
            .bind(login_at.map(to_millis)))
    }

    /// A compare-and-swap save (`sql`: the plain save, or the admission's,
    /// which binds the login time after these).
    fn save_query<'q>(
        &'q self, sql: &'q str, record: &'q Record, expected: Version, now: i64,
    ) -> Result<SqliteQuery<'q>, StoreError> {
        Ok(sqlx::query(sql)
            .bind(record.key.as_str())
            .bind(version_to_db(expected)?)
            .bind(version_to_db(record.version)?)
            .bind(to_millis(record.expires_at))
            .bind(&record.payload)
            .bind(record.user.as_deref())
            .bind(now))
    }

    /// The versioned statement of `op`.
    fn cas_query<'q>(&'q self, op: CasOp<'q>, now: i64) -> Result<SqliteQuery<'q>, StoreError> {
        Ok(match op {
            CasOp::Save(record, expected) => {
                self.save_query(&self.sql.save, record, expected, now)?
            }
            CasOp::Touch(key, expected, expires_at) => sqlx::query(&self.sql.touch)
                .bind(key.as_str())
                .bind(version_to_db(expected)?)
                .bind(to_millis(expires_at))
                .bind(now),
            CasOp::Retire(key, expected) => sqlx::query(&self.sql.retire)
                .bind(key.as_str())
                .bind(version_to_db(expected)?)
                .bind(now),
            CasOp::Login(record, expected, login_at) => self
                .save_query(&self.sql.admit_save, record, expected, now)?
                .bind(to_millis(login_at)),
        })
    }

    /// Runs a compare-and-swap atomically. The common case is one
    /// statement: the `UPDATE` or `DELETE` with the version check, which
    /// changes one row. When it changes none, the answer (moved on or
    /// gone?) is taken in one `BEGIN IMMEDIATE` transaction, under the
    /// database's write lock: the live row's version is read, and if it is
    /// (again) the expected one the statement runs once more. So the
    /// outcome is always true at one instant, even if the row was deleted
    /// or written between the first statement and the question.
    async fn cas(&self, op: CasOp<'_>) -> Result<Cas, StoreError> {
        self.cas_once(op).await
    }

    common::cas_methods!(sqlx::SqliteConnection, begin: begin_immediate, commit: commit);

    /// A `BEGIN IMMEDIATE` transaction on a pooled connection: it holds the
    /// database's write lock (waiting for it up to the busy timeout).
    async fn begin_immediate(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, StoreError> {
        crate::log_statement("BEGIN IMMEDIATE");
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(store_error)
    }
}

/// Commits (sqlx logs no statement for SQLite's `COMMIT`).
async fn commit(tx: sqlx::Transaction<'static, sqlx::Sqlite>) -> Result<(), StoreError> {
    crate::log_statement("COMMIT");
    tx.commit().await.map_err(store_error)
}

common::cas_admit!(
    /// An admission in progress: a `BEGIN IMMEDIATE` transaction, which
    /// holds the database's write lock (see [`UserIndex::admit`] on
    /// [`SqliteStore`]).
    SqliteAdmit(SqliteStore, sqlx::Sqlite),
    created: created,
    commit: commit
);

/// `create`'s outcome: a row written is an insert (or the takeover of an
/// expired row), none a live row left alone.
fn created(done: &sqlx::sqlite::SqliteQueryResult) -> Created {
    common::created(done.rows_affected())
}

#[async_trait]
impl StoreAdmin for SqliteStore {
    /// One `SELECT count(*)` over the live rows: O(live rows), through the
    /// `expires_at` index.
    async fn count(&self) -> Result<u64, StoreError> {
        count_live!(self, self.now_ms())
    }

    /// One `DELETE` of every row (the user index and login times are
    /// columns, so they go with them), `RETURNING` for each row whether it
    /// was live; returns how many were. O(rows): each deleted row's flag
    /// crosses to the caller (in process), and the write lock is held for
    /// the whole statement, so other writers wait (busy timeout) that long.
    /// (The `RETURNING` clause costs SQLite's truncate optimization, which
    /// would drop the table's pages without visiting the rows.)
    async fn clear(&self) -> Result<u64, StoreError> {
        let live: Vec<bool> = sqlx::query_scalar(&self.sql.clear)
            .bind(self.now_ms())
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(live.into_iter().filter(|l| *l).count() as u64)
    }
}

#[async_trait]
impl UserIndex for SqliteStore {
    /// One `BEGIN IMMEDIATE` transaction: it takes the database's write
    /// lock when it begins (waiting up to the busy timeout), so admissions,
    /// like every other write, run one at a time, and what it reads cannot
    /// change before it commits. In it: the `SELECT` of the user's other
    /// live rows, oldest `login_at` first (rows without one first, then by
    /// expiry); unless the cap refuses, the `INSERT` (insert-if-absent) or
    /// the compare-and-swap `UPDATE` of the record with its `login_at` (and
    /// after an `UPDATE` that changed nothing, the `SELECT` that tells a
    /// conflict from a vanished row); only if the record was written, one
    /// `DELETE` per revoked session; then `COMMIT` (also after a refusal,
    /// to release the lock at once).
    ///
    /// Statements: `BEGIN IMMEDIATE` + `SELECT` + `INSERT` + one `DELETE`
    /// per revoked session + `COMMIT` (refused: `BEGIN IMMEDIATE` +
    /// `SELECT` + `COMMIT`). Before issue 15 the same without the `BEGIN`
    /// and `COMMIT`, which the write lock needs; SQLite runs in process, so
    /// a statement is a call into the library on sqlx's worker thread, not
    /// a network round trip. A dropped future leaves the transaction to
    /// sqlx, which rolls it back: nothing of the admission is stored.
    async fn admit(&self, login: Login<'_>) -> Result<Admission, StoreError> {
        login.user()?;
        let tx = self.begin_immediate().await?;
        let tx = SqliteAdmit {
            tx,
            store: self,
            now: self.now_ms(),
        };
        admit::admit(tx, login).await
    }

    /// One `SELECT` of the user's live rows, through the partial index on
    /// `user_id`.
    async fn user_records(&self, user: &str) -> Result<Vec<Record>, StoreError> {
        user_records!(self, user, self.now_ms(), from_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millis_round_trip_and_floor() {
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_999_999).unwrap();
        assert_eq!(to_millis(t), 1_700_000_000_123);
        assert_eq!(
            from_millis(to_millis(t)).unwrap().unix_timestamp_nanos(),
            1_700_000_000_123_000_000
        );
        assert!(from_millis(i64::MAX).is_err());
    }
}
