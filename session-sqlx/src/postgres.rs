//! `PostgresStore`: sessions in a PostgreSQL table.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use session_core::{
    Admission, Clock, Created, Login, Record, Retired, Saved, Store, StoreAdmin, StoreError,
    StoreKey, Touched, UserIndex, Version,
};
use std::str::FromStr as _;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Executor, Row};
use time::OffsetDateTime;

use crate::Statements;
use crate::admit::{self, AdmitTx, Written};
use crate::cleanup::{self, CleanupHandle};
use crate::common::{
    self, Cas, apply_migrations, count_live, created, delete_row, load_record, other_logins,
    sweep_expired, user_records,
};
use crate::error::{Error, store_error, version_to_db};
use crate::migration::{Migration, migrations, script};
use crate::name::{self, Ident};

/// The migrations, in order. Each is idempotent.
const MIGRATIONS: &[Migration] = migrations!("postgres");

/// Whether the table (the first parameter) has the column (the second).
const HAS_COLUMN: &str = "SELECT EXISTS (SELECT 1 FROM pg_attribute \
    WHERE attrelid = to_regclass($1) AND attname = $2 AND NOT attisdropped)";

/// The statement that creates `schema`.
fn create_schema(schema: &Ident) -> String {
    format!("CREATE SCHEMA IF NOT EXISTS {}", schema.quoted())
}

/// Key of the transaction-scoped advisory lock that serializes migrations
/// of every `PostgresStore` on a database ("sessions" in ASCII).
const MIGRATION_LOCK: i64 = 0x7365_7373_696f_6e73;

/// The SQL of one store, built once from validated names.
#[derive(Debug)]
struct Queries {
    schema: Ident,
    table: Ident,
    common: Statements,
    admit_create: String,
}

common::statements_of!(Queries);

impl Queries {
    /// The quoted, schema-qualified table.
    fn target(&self) -> String {
        format!("{}.{}", self.schema.quoted(), self.table.quoted())
    }

    fn new(schema: Ident, table: Ident) -> Self {
        let t = format!("{}.{}", schema.quoted(), table.quoted());
        Self {
            common: Statements {
                load: format!(
                    "SELECT version, expires_at, payload, user_id FROM {t} \
                     WHERE id = $1 AND expires_at > $2"
                ),
                // Insert-if-absent that also takes over an expired row: the
                // conditional DO UPDATE affects 0 rows when a live row exists.
                // No login time: only `admit` writes one.
                create: format!(
                    "INSERT INTO {t} AS s (id, version, expires_at, payload, user_id, login_at) \
                     VALUES ($1, $2, $3, $4, $5, NULL) \
                     ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version, \
                     expires_at = EXCLUDED.expires_at, payload = EXCLUDED.payload, \
                     user_id = EXCLUDED.user_id, login_at = EXCLUDED.login_at \
                     WHERE s.expires_at <= $6"
                ),
                // Compare-and-swap and, when it wrote nothing, the live row's
                // version in the statement's snapshot (see `cas_verdict`), in
                // one statement: the outer SELECT sees the row as it was before
                // the UPDATE. The row keeps its login time while its
                // user stays the same.
                save: format!(
                    "WITH upd AS (UPDATE {t} SET version = $3, expires_at = $4, payload = $5, \
                     user_id = $6, login_at = CASE \
                     WHEN user_id IS DISTINCT FROM $6 THEN NULL ELSE login_at END \
                     WHERE id = $1 AND version = $2 AND expires_at > $7 RETURNING 1) \
                     SELECT (SELECT count(*) FROM upd) AS updated, \
                     (SELECT version FROM {t} WHERE id = $1 AND expires_at > $7) AS stored"
                ),
                touch: format!(
                    "WITH upd AS (UPDATE {t} SET expires_at = $3 WHERE id = $1 AND version = $2 \
                     AND expires_at > $4 RETURNING 1) \
                     SELECT (SELECT count(*) FROM upd) AS updated, \
                     (SELECT version FROM {t} WHERE id = $1 AND expires_at > $4) AS stored"
                ),
                retire: format!(
                    "WITH del AS (DELETE FROM {t} WHERE id = $1 AND version = $2 \
                     AND expires_at > $3 RETURNING 1) \
                     SELECT (SELECT count(*) FROM del) AS deleted, \
                     (SELECT version FROM {t} WHERE id = $1 AND expires_at > $3) AS stored"
                ),
                count: format!("SELECT count(*) FROM {t} WHERE expires_at > $1"),
                clear: format!(
                    "WITH del AS (DELETE FROM {t} RETURNING expires_at) \
                     SELECT count(*) FILTER (WHERE expires_at > $1) FROM del"
                ),
                delete: format!("DELETE FROM {t} WHERE id = $1"),
                // One batch; rows locked by another cleaner are skipped.
                delete_expired: format!(
                    "DELETE FROM {t} WHERE ctid = ANY(ARRAY(SELECT ctid FROM {t} \
                     WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED))"
                ),
                // Served by the partial index on user_id (`=` implies NOT NULL).
                user_records: format!(
                    "SELECT id, version, expires_at, payload FROM {t} \
                     WHERE user_id = $1 AND expires_at > $2"
                ),
                // The cap's victims, oldest login first (no login time first).
                other_logins: format!(
                    "SELECT id FROM {t} WHERE user_id = $1 AND expires_at > $2 AND id <> $3 \
                     ORDER BY login_at ASC NULLS FIRST, expires_at, id"
                ),
                // `admit`'s write from a loaded session: the save's
                // compare-and-swap with its login time and, only if it wrote,
                // the deletion of the cap's victims ($9), in one statement.
                admit_save: format!(
                    "WITH upd AS (UPDATE {t} SET version = $3, expires_at = $4, payload = $5, \
                     user_id = $6, login_at = $8 \
                     WHERE id = $1 AND version = $2 AND expires_at > $7 RETURNING 1), \
                     del AS (DELETE FROM {t} WHERE id = ANY($9) \
                     AND EXISTS (SELECT 1 FROM upd) RETURNING 1) \
                     SELECT (SELECT count(*) FROM upd) AS written, \
                     (SELECT version FROM {t} WHERE id = $1 AND expires_at > $7) AS stored, \
                     (SELECT count(*) FROM del) AS revoked"
                ),
            },
            // `admit`'s write: the create's insert-if-absent with its login
            // time and, only if it wrote, the deletion of the cap's victims
            // ($8), in one statement. Result: (written, live, revoked).
            admit_create: format!(
                "WITH ins AS (INSERT INTO {t} AS s \
                 (id, version, expires_at, payload, user_id, login_at) \
                 VALUES ($1, $2, $3, $4, $5, $7) \
                 ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version, \
                 expires_at = EXCLUDED.expires_at, payload = EXCLUDED.payload, \
                 user_id = EXCLUDED.user_id, login_at = EXCLUDED.login_at \
                 WHERE s.expires_at <= $6 RETURNING 1), \
                 del AS (DELETE FROM {t} WHERE id = ANY($8) \
                 AND EXISTS (SELECT 1 FROM ins) RETURNING 1) \
                 SELECT (SELECT count(*) FROM ins) AS written, NULL::bigint AS stored, \
                 (SELECT count(*) FROM del) AS revoked"
            ),
            schema,
            table,
        }
    }
}

common::store_type! {
    /// A [`Store`] over a PostgreSQL table (default `public.sessions`).
    ///
    /// One row per session: `id TEXT PRIMARY KEY` (the [`StoreKey`]),
    /// `version BIGINT`, `expires_at TIMESTAMPTZ` (indexed), `payload BYTEA`
    /// (opaque bytes), `user_id TEXT` (nullable, indexed where not null: the
    /// [`UserIndex`]) and `login_at TIMESTAMPTZ` (nullable: the login time
    /// [`UserIndex::admit`] writes). Every [`Store`] and
    /// [`UserIndex::user_records`] method is one SQL statement; `admit` is one
    /// transaction serialized per user by an advisory lock, 4 round trips (see
    /// there). Expiry is judged by the application's clock (`now` is a bound
    /// parameter), the same clock that computed `expires_at`, never by the
    /// database server's clock.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), session_sqlx::Error> {
    /// use session_sqlx::PostgresStore;
    ///
    /// let store = PostgresStore::connect("postgres://postgres@127.0.0.1:5432/app")
    ///     .await?
    ///     .with_schema("auth")?
    ///     .with_table("sessions")?;
    /// store.migrate().await?;
    /// let cleanup = store.spawn_cleanup(std::time::Duration::from_secs(600));
    /// // ... serve ...
    /// cleanup.shutdown().await;
    /// # Ok(())
    /// # }
    /// ```
    PostgresStore(PgPool), debug: [schema, table]
}

impl PostgresStore {
    /// A store on an existing pool, table `public.sessions`.
    pub fn new(pool: PgPool) -> Self {
        let sql = Queries::new(Ident::trusted("public"), Ident::trusted("sessions"));
        Self::on_pool(pool, sql)
    }

    /// The server-side statement timeout [`connect`](Self::connect) sets on
    /// every connection: 2 seconds, like the Redis store's per-call bound.
    pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(2);

    /// Connects a pool of up to 10 connections (waiting at most 5 seconds
    /// for a free one) to `url`, for example
    /// `postgres://user:pass@host:5432/db?application_name=web`, with a
    /// server-side `statement_timeout` of
    /// [`DEFAULT_STATEMENT_TIMEOUT`](Self::DEFAULT_STATEMENT_TIMEOUT).
    pub async fn connect(url: &str) -> Result<Self, Error> {
        Self::connect_with_statement_timeout(url, Some(Self::DEFAULT_STATEMENT_TIMEOUT)).await
    }

    /// [`connect`](Self::connect) with another statement timeout (`None`:
    /// the server's, usually none). PostgreSQL cancels a statement that
    /// runs longer, for example one waiting for a row another transaction
    /// holds: the store call then fails with [`StoreError::Timeout`], and
    /// a write that timed out did not commit (the next request sees the
    /// session as it was). A pool built by the app and given to
    /// [`new`](Self::new) keeps its own settings: set `statement_timeout`
    /// in its connect options (`PgConnectOptions::options`).
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), session_sqlx::Error> {
    /// use std::time::Duration;
    /// let store = session_sqlx::PostgresStore::connect_with_statement_timeout(
    ///     "postgres://postgres@127.0.0.1:5432/app",
    ///     Some(Duration::from_millis(500)),
    /// )
    /// .await?;
    /// store.migrate().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect_with_statement_timeout(
        url: &str, timeout: Option<Duration>,
    ) -> Result<Self, Error> {
        let pool = Self::pool_options()
            .connect_with(Self::options(url, timeout)?)
            .await?;
        Ok(Self::new(pool))
    }

    /// A store whose pool connects on first use, so the app starts while
    /// PostgreSQL is down or unreachable: the same pool and statement
    /// timeout as [`connect`](Self::connect) (up to 10 connections,
    /// [`DEFAULT_STATEMENT_TIMEOUT`](Self::DEFAULT_STATEMENT_TIMEOUT)),
    /// and no connection opened here. Fails only on a malformed `url`.
    ///
    /// While the server cannot be reached, every store call keeps trying
    /// to connect for at most 5 seconds (the pool's `acquire_timeout`),
    /// then fails with [`StoreError::Timeout`] (the adapters answer their
    /// failure response, 503 by default); once the server is back, the
    /// next call connects and serves, with no restart. A call on a
    /// database without the table (migrations never ran) fails with
    /// [`Error::MissingTable`] as its cause. Run [`migrate`](Self::migrate)
    /// separately, for example at deploy time. For other pool settings,
    /// build the pool with `PgPoolOptions::connect_lazy_with` and
    /// [`options`](Self::options), and hand it to [`new`](Self::new).
    ///
    /// Must be called inside a Tokio runtime (the pool starts its
    /// maintenance task).
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_sqlx::Error> {
    /// // Nothing is connected yet: this succeeds with the database down.
    /// let store = session_sqlx::PostgresStore::connect_lazy("postgres://postgres@127.0.0.1:5432/app")?
    ///     .with_schema("auth")?;
    /// // ... serve (503 while the database is down) ...
    /// # Ok(())
    /// # }
    /// ```
    pub fn connect_lazy(url: &str) -> Result<Self, Error> {
        let options = Self::options(url, Some(Self::DEFAULT_STATEMENT_TIMEOUT))?;
        Ok(Self::new(Self::pool_options().connect_lazy_with(options)))
    }

    /// The connect options [`connect`](Self::connect) and
    /// [`connect_lazy`](Self::connect_lazy) use for `url`: those of the
    /// URL, with the server-side `statement_timeout` set to `timeout` on
    /// every connection (`None`: the server's).
    ///
    /// ```
    /// use std::time::Duration;
    /// use session_sqlx::PostgresStore;
    /// use session_sqlx::sqlx::postgres::PgPoolOptions;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_sqlx::Error> {
    /// let options = PostgresStore::options(
    ///     "postgres://postgres@127.0.0.1:5432/app",
    ///     Some(Duration::from_millis(500)),
    /// )?;
    /// // A lazy pool that gives up on a connection after 1 second.
    /// let pool = PgPoolOptions::new()
    ///     .acquire_timeout(Duration::from_secs(1))
    ///     .connect_lazy_with(options);
    /// let store = PostgresStore::new(pool);
    /// # Ok(())
    /// # }
    /// ```
    pub fn options(url: &str, timeout: Option<Duration>) -> Result<PgConnectOptions, Error> {
        let options = PgConnectOptions::from_str(url)?;
        Ok(match timeout {
            Some(t) => options.options([("statement_timeout", format!("{}ms", t.as_millis()))]),
            None => options,
        })
    }

    /// The pool of [`connect`](Self::connect): up to 10 connections, at
    /// most 5 seconds' wait for one.
    fn pool_options() -> PgPoolOptions {
        PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(Duration::from_secs(5))
    }

    /// Uses the schema `name` (created by [`migrate`](Self::migrate) if
    /// missing). Names are 1 to 63 of `[a-z0-9_]`, not starting with a
    /// digit or `pg_`.
    pub fn with_schema(self, name: &str) -> Result<Self, Error> {
        let schema = name::schema(name)?;
        let table = self.sql.table.clone();
        Ok(self.with_names(schema, table))
    }

    /// Uses the table `name`: 1 to 48 of `[a-z0-9_]`, not starting with a
    /// digit.
    pub fn with_table(self, name: &str) -> Result<Self, Error> {
        let table = name::table(name)?;
        let schema = self.sql.schema.clone();
        Ok(self.with_names(schema, table))
    }

    /// Judges expiry by `clock` instead of the system clock (give it the
    /// clock of the `SessionManager`).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    fn with_names(mut self, schema: Ident, table: Ident) -> Self {
        self.sql = Arc::new(Queries::new(schema, table));
        self
    }

    /// The pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The schema name.
    pub fn schema(&self) -> &str {
        self.sql.schema.as_str()
    }

    /// The table name.
    pub fn table(&self) -> &str {
        self.sql.table.as_str()
    }

    /// `schema.table`, unquoted: the table part of admission lock keys.
    fn qualified(&self) -> String {
        format!("{}.{}", self.schema(), self.table())
    }

    /// Creates the schema, the table and its expiry index if missing, and
    /// adds the `user_id` column and its index (migration 0002) to tables
    /// created by earlier versions. Idempotent: call it on every start.
    /// Concurrent calls (several instances starting at once) are serialized
    /// by a transaction-scoped advisory lock, so they never race on
    /// `CREATE ... IF NOT EXISTS`; all migrations commit together or not at
    /// all.
    pub async fn migrate(&self) -> Result<(), Error> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *tx)
            .await?;
        // CREATE SCHEMA needs the CREATE privilege on the database even
        // with IF NOT EXISTS: skip it when the schema exists (`public`).
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
                .bind(self.sql.schema.as_str())
                .fetch_one(&mut *tx)
                .await?;
        if !exists {
            let sql = create_schema(&self.sql.schema);
            (&mut *tx).execute(sqlx::raw_sql(&sql)).await?;
        }
        let table = self.sql.target();
        // Skipped once applied: ALTER TABLE locks the table even when the
        // column exists.
        apply_migrations!(
            tx,
            MIGRATIONS,
            HAS_COLUMN,
            &table,
            &table,
            &self.sql.table,
            '"'
        );
        Ok(())
    }

    /// The SQL [`migrate`](Self::migrate) runs on a fresh database for the
    /// table `table` in the schema `schema` (the defaults are `public` and
    /// `sessions`), for a DBA to review or for another migration tool
    /// (`sqlx migrate`, Flyway): the schema's `CREATE SCHEMA IF NOT EXISTS`,
    /// then every migration file, rendered with the same validated, quoted
    /// names. Every statement is idempotent. `migrate` itself skips the
    /// `CREATE SCHEMA` when the schema exists and a column's migration
    /// once the table has the column, and takes an advisory lock; a
    /// script applied by hand runs unlocked. `cargo xtask migration-sql`
    /// prints it.
    ///
    /// ```
    /// let sql = session_sqlx::PostgresStore::migration_sql("auth", "sessions")?;
    /// assert!(sql.starts_with("CREATE SCHEMA IF NOT EXISTS \"auth\";"));
    /// assert!(sql.contains("CREATE TABLE IF NOT EXISTS \"auth\".\"sessions\""));
    /// # Ok::<(), session_sqlx::Error>(())
    /// ```
    pub fn migration_sql(schema: &str, table: &str) -> Result<String, Error> {
        let sql = Queries::new(name::schema(schema)?, name::table(table)?);
        let prelude = create_schema(&sql.schema);
        Ok(script(&prelude, MIGRATIONS, &sql.target(), &sql.table, '"'))
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
}

#[async_trait]
impl Store for PostgresStore {
    async fn load(&self, key: &StoreKey) -> Result<Option<Record>, StoreError> {
        load_record!(self, key, self.clock.now(), as_is)
    }

    async fn create(&self, record: &Record) -> Result<Created, StoreError> {
        let done = record_query(&self.sql.create, record, None)?
            .bind(self.clock.now())
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(created(done.rows_affected()))
    }

    /// One statement: the compare-and-swap `UPDATE` and, in the same
    /// snapshot, the live row's version, which tells a lost race
    /// (`Conflict`) from a missing row (`Gone`). When the two disagree (a
    /// writer of the row committed between the snapshot and the `UPDATE`'s
    /// row lock, so the snapshot shows the row at the expected version but
    /// the `UPDATE` found it deleted or moved on), nothing was written and
    /// the statement runs again, to see which (at most 4 runs; the same
    /// for `touch` and `retire`).
    async fn save(&self, record: &Record, expected: Version) -> Result<Saved, StoreError> {
        let outcome = cas_retry(expected, || async {
            let row = record_query(&self.sql.save, record, Some(expected))?
                .bind(self.clock.now())
                .fetch_one(&self.pool)
                .await
                .map_err(store_error)?;
            written_and_stored(&row)
        })
        .await?;
        Ok(outcome.saved())
    }

    async fn touch(
        &self, key: &StoreKey, expected: Version, expires_at: OffsetDateTime,
    ) -> Result<Touched, StoreError> {
        let outcome = self.cas(&self.sql.touch, key, expected, Some(expires_at));
        Ok(outcome.await?.touched())
    }

    /// One statement: a compare-and-delete and, in the same snapshot,
    /// the live row's version (run again when they disagree, as `save`).
    async fn retire(&self, key: &StoreKey, expected: Version) -> Result<Retired, StoreError> {
        Ok(self
            .cas(&self.sql.retire, key, expected, None)
            .await?
            .retired())
    }

    async fn delete(&self, key: &StoreKey) -> Result<(), StoreError> {
        delete_row!(self, key)
    }

    /// Deletes expired rows in batches of 1000 (one short statement each,
    /// skipping rows another cleaner holds) until a batch comes back short.
    async fn delete_expired(&self) -> Result<u64, StoreError> {
        let now = self.clock.now();
        sweep_expired!(self, now)
    }

    fn user_index(&self) -> Option<&dyn UserIndex> {
        Some(self)
    }

    fn admin(&self) -> Option<&dyn StoreAdmin> {
        Some(self)
    }
}

impl PostgresStore {
    /// Runs a versioned statement (touch or retire) until it has a
    /// verdict (see [`cas_retry`]).
    async fn cas(
        &self, sql: &str, key: &StoreKey, expected: Version, expires_at: Option<OffsetDateTime>,
    ) -> Result<Cas, StoreError> {
        cas_retry(expected, || async {
            let q = sqlx::query(sql)
                .bind(key.as_str())
                .bind(version_to_db(expected)?);
            let q = match expires_at {
                Some(at) => q.bind(at),
                None => q,
            };
            let row = q
                .bind(self.clock.now())
                .fetch_one(&self.pool)
                .await
                .map_err(store_error)?;
            written_and_stored(&row)
        })
        .await
    }
}

/// A `TIMESTAMPTZ` column as an instant: as it is.
fn as_is(t: OffsetDateTime) -> Result<OffsetDateTime, StoreError> {
    Ok(t)
}

type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

/// `sql` with the record bound in the order of the columns of `create`,
/// `save` and `admit`'s statements: key, the version it expects (a
/// compare-and-swap), then version, expiry, payload and user.
fn record_query<'q>(
    sql: &'q str, record: &'q Record, expected: Option<Version>,
) -> Result<PgQuery<'q>, StoreError> {
    let mut query = sqlx::query(sql).bind(record.key.as_str());
    if let Some(v) = expected {
        query = query.bind(version_to_db(v)?);
    }
    Ok(query
        .bind(version_to_db(record.version)?)
        .bind(record.expires_at)
        .bind(&record.payload)
        .bind(record.user.as_deref()))
}

/// Times a compare-and-swap statement runs before [`cas_retry`] settles
/// for [`Cas::MovedOn`].
const CAS_ATTEMPTS: usize = 4;

/// The first two columns of a compare-and-swap statement: rows written,
/// and the live row's version in the statement's snapshot.
fn written_and_stored(row: &sqlx::postgres::PgRow) -> Result<(i64, Option<i64>), StoreError> {
    Ok((
        row.try_get(0).map_err(store_error)?,
        row.try_get(1).map_err(store_error)?,
    ))
}

/// The verdict of one run of a compare-and-swap statement, from the rows
/// it wrote and the live row's version in its snapshot; `None` when they
/// disagree. They disagree when a writer of the row committed after the
/// statement's snapshot was taken and before its `UPDATE`/`DELETE` got the
/// row lock: under `READ COMMITTED` the write then re-checks the newest
/// row (gone, or at another version) and skips it, while the snapshot
/// still shows the row at the expected version. Whether it was deleted or
/// moved on, only a new snapshot tells.
fn cas_verdict(written: i64, stored: Option<i64>, expected: i64) -> Option<Cas> {
    match (written, stored) {
        (1, _) => Some(Cas::Done),
        (_, None) => Some(Cas::Gone),
        (_, Some(v)) if v != expected => Some(Cas::MovedOn),
        (_, Some(_)) => None,
    }
}

/// Runs a compare-and-swap statement (`attempt`, which wrote nothing when
/// it has no verdict, so running it again is safe) until [`cas_verdict`]
/// has one: at most [`CAS_ATTEMPTS`] times. Each further run needs another
/// writer of the same row to commit inside the same window; should that
/// happen every time, the answer is [`Cas::MovedOn`], the safe one (the
/// caller reloads, and finds the row or its absence).
async fn cas_retry<F, Fut>(expected: Version, mut attempt: F) -> Result<Cas, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(i64, Option<i64>), StoreError>>,
{
    let expected = version_to_db(expected)?;
    for _ in 0..CAS_ATTEMPTS {
        let (written, stored) = attempt().await?;
        if let Some(verdict) = cas_verdict(written, stored, expected) {
            return Ok(verdict);
        }
    }
    Ok(Cas::MovedOn)
}

#[async_trait]
impl StoreAdmin for PostgresStore {
    /// One `SELECT count(*)` over the live rows: O(live rows) (through the
    /// `expires_at` index, or a sequential scan, as the planner decides).
    async fn count(&self) -> Result<u64, StoreError> {
        count_live!(self, self.clock.now())
    }

    /// One `DELETE` of every row (the user index is a column, so it goes
    /// with them); returns how many were live. O(rows), in one
    /// transaction: it locks every row until it commits (concurrent writes
    /// to those sessions wait), and leaves dead tuples for autovacuum.
    async fn clear(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(&self.sql.clear)
            .bind(self.clock.now())
            .fetch_one(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

/// An admission in progress: a transaction that holds the user's advisory
/// lock (see [`UserIndex::admit`] on [`PostgresStore`]).
struct PgAdmit<'a> {
    tx: sqlx::Transaction<'static, sqlx::Postgres>,
    sql: &'a Queries,
    now: OffsetDateTime,
}

impl PgAdmit<'_> {
    /// Runs the admission's write: the create (`expected` is `None`) or
    /// the compare-and-swap save, with the revocations; the row's
    /// `(written, stored version)`.
    async fn admit_row(
        &mut self, record: &Record, expected: Option<Version>, login_at: OffsetDateTime,
        victims: &[&str],
    ) -> Result<(i64, Option<i64>), StoreError> {
        let sql = match expected {
            None => &self.sql.admit_create,
            Some(_) => &self.sql.admit_save,
        };
        let row = record_query(sql, record, expected)?
            .bind(self.now)
            .bind(login_at)
            .bind(victims)
            .fetch_one(&mut *self.tx)
            .await
            .map_err(store_error)?;
        written_and_stored(&row)
    }
}

#[async_trait]
impl AdmitTx for PgAdmit<'_> {
    async fn others(&mut self, user: &str, except: &StoreKey) -> Result<Vec<StoreKey>, StoreError> {
        other_logins!(&self.sql.other_logins, self.tx, user, self.now, except)
    }

    async fn write(
        &mut self, record: &Record, expected: Option<Version>, login_at: OffsetDateTime,
        revoke: &[StoreKey],
    ) -> Result<Written, StoreError> {
        let victims: Vec<&str> = revoke.iter().map(StoreKey::as_str).collect();
        let Some(v) = expected else {
            let (written, _) = self.admit_row(record, None, login_at, &victims).await?;
            return Ok(if written == 1 {
                Written::Ok
            } else {
                Written::Collision
            });
        };
        let expected = version_to_db(v)?;
        let mut outcome = Cas::MovedOn;
        for _ in 0..CAS_ATTEMPTS {
            let (written, stored) = self.admit_row(record, Some(v), login_at, &victims).await?;
            if let Some(verdict) = cas_verdict(written, stored, expected) {
                outcome = verdict;
                break;
            }
        }
        Ok(outcome.written())
    }

    async fn commit(self) -> Result<(), StoreError> {
        self.tx.commit().await.map_err(store_error)
    }
}

#[async_trait]
impl UserIndex for PostgresStore {
    /// One `READ COMMITTED` transaction serialized per user by a
    /// transaction-scoped advisory lock, in three round trips:
    ///
    /// 1. `BEGIN; SELECT pg_advisory_xact_lock(k)`, sent together as one
    ///    simple query (`k` is a 64-bit FNV-1a hash of the schema-qualified
    ///    table and the user, computed here so the statement needs no
    ///    parameter); it waits while another login of the same user holds
    ///    the lock;
    /// 2. the `SELECT` of the user's other live rows, oldest `login_at`
    ///    first (rows without one first, then by expiry). A statement
    ///    started after the lock was granted, so under `READ COMMITTED` it
    ///    sees every admission of this user that committed before (each
    ///    one commits before it releases the lock);
    /// 3. unless the cap refuses: one statement that inserts the record
    ///    (insert-if-absent) or saves it (compare-and-swap from
    ///    `expected`) with its `login_at` and, only if that wrote, deletes
    ///    the chosen victims (those still listed under the user);
    /// 4. `COMMIT` (also after a refusal or a lost compare-and-swap, to
    ///    release the lock at once).
    ///
    /// So a login under a cap costs 4 round trips whatever the policy
    /// (before issue 15: 2 + one per revoked session, and 1 when refused,
    /// but not atomic). The extra ones are the transaction's frame, which
    /// the per-user lock needs: the lock must be taken in a statement
    /// before the one that reads the user's sessions (a statement's
    /// snapshot is taken when it starts, so a read in the locking
    /// statement could miss a login that committed while it waited), and
    /// held until the write commits. Why an advisory lock rather than
    /// `SERIALIZABLE` or `FOR UPDATE`: there is no row to lock for a user's
    /// first login (no users table), `FOR UPDATE` on the user's session
    /// rows does not stop a concurrent insert, and `SERIALIZABLE` would
    /// abort concurrent logins of one user with serialization failures to
    /// retry, where the lock just queues them. Logins of different users
    /// (different keys) never wait for each other, and no other call takes
    /// the lock. A dropped future leaves the transaction to sqlx, which
    /// rolls it back (and so releases the lock) before the connection is
    /// used again: nothing of the admission is stored.
    async fn admit(&self, login: Login<'_>) -> Result<Admission, StoreError> {
        let user = login.user()?;
        let key = admit::lock_key(&self.qualified(), user);
        crate::log_statement("BEGIN + SELECT pg_advisory_xact_lock");
        let tx = self
            .pool
            .begin_with(format!("BEGIN; SELECT pg_advisory_xact_lock({key})"))
            .await
            .map_err(store_error)?;
        let tx = PgAdmit {
            tx,
            sql: &self.sql,
            now: self.clock.now(),
        };
        admit::admit(tx, login).await
    }

    /// One `SELECT` of the user's live rows, through the partial index on
    /// `user_id`.
    async fn user_records(&self, user: &str) -> Result<Vec<Record>, StoreError> {
        user_records!(self, user, self.clock.now(), as_is)
    }
}
