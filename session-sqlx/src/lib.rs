//! PostgreSQL, SQLite and MySQL / MariaDB session stores for
//! `session-core`, on sqlx 0.8 (Tokio; TLS by feature).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use session_core::{RequestMeta, SessionConfig, SessionManager};
//! use session_sqlx::SqliteStore;
//!
//! // `sqlite://sessions.db?mode=rwc` for a file; in memory for this example.
//! let store = SqliteStore::connect("sqlite::memory:").await?;
//! store.migrate().await?; // idempotent: run it on every start
//!
//! let config = SessionConfig::builder().key_from_env_or_random("SESSION_KEY").build()?;
//! let manager = SessionManager::new(config, store);
//! let session = manager.start([], RequestMeta::default());
//! session.insert("user", "ada").await?;
//! let set_cookie = manager.finish(&session).await?.expect("a new session sets a cookie");
//!
//! let cookie = set_cookie.value.split(';').next().unwrap_or_default().to_owned();
//! let session = manager.start([cookie.as_bytes()], RequestMeta::default());
//! assert_eq!(session.get::<String>("user").await?.as_deref(), Some("ada"));
//! # Ok(())
//! # }
//! ```
//!
//! # Stores
//!
//! | store | feature | built from | names |
//! |---|---|---|---|
//! | [`PostgresStore`] | `postgres` (default) | [`PostgresStore::new`]`(PgPool)`, [`PostgresStore::connect`]`(url)` | [`with_schema`](PostgresStore::with_schema), [`with_table`](PostgresStore::with_table) |
//! | [`SqliteStore`] | `sqlite` (default) | [`SqliteStore::new`]`(SqlitePool)`, [`SqliteStore::connect`]`(url)` | [`with_table`](SqliteStore::with_table) |
//! | [`MySqlStore`] | `mysql` (default) | [`MySqlStore::new`]`(MySqlPool)`, [`MySqlStore::connect`]`(url)` | [`with_database`](MySqlStore::with_database), [`with_table`](MySqlStore::with_table) |
//!
//! [`MySqlStore`] runs on MySQL 8 and MariaDB 10.11+: its SQL stays in the
//! subset both servers share (no row alias in `ON DUPLICATE KEY UPDATE`, no
//! `RETURNING`, no `VALUES()` there), instants are `BIGINT` Unix
//! milliseconds (never `TIMESTAMP`, which ends in 2038), keys and user ids
//! are `VARBINARY` (byte-exact: no collation pads or folds them; user ids
//! are at most [`MAX_USER_ID_BYTES`], longer ones are a typed error). This
//! workspace tests it on MariaDB 10.11 only.//!
//!
//! # Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `postgres` | yes | [`PostgresStore`] (sqlx's PostgreSQL driver) |
//! | `sqlite` | yes | [`SqliteStore`] (sqlx's SQLite driver, with a bundled SQLite C build) |
//! | `mysql` | yes | [`MySqlStore`] (sqlx's MySQL driver) |
//! | `tls-rustls` | no | TLS to PostgreSQL and MySQL with rustls (`sslmode=require` and up in the URL) |
//! | `tls-native-tls` | no | TLS with the platform's library (OpenSSL, SChannel, Security.framework) |
//! | `testing` | no | [`testing`]: isolated, migrated stores for test suites |
//!
//! Pick only the store you use: `default-features = false, features =
//! ["postgres"]` builds no SQLite and no sqlx macros (sqlx's `macros` and
//! `migrate` features are never enabled by this crate). Without a TLS
//! feature a URL that requires TLS fails to connect with
//! [`Error::Database`].
//!
//! # Booting while the database is down
//!
//! [`PostgresStore::connect`] fails when PostgreSQL cannot be reached, so
//! an app that calls it at start cannot boot during an outage.
//! [`PostgresStore::connect_lazy`] connects nothing: the app starts, every
//! store call made while the server is unreachable fails within the
//! pool's acquire timeout (5 s) with [`StoreError::Timeout`](session_core::StoreError::Timeout),
//! which the adapters answer with their failure response (503 by
//! default), and the first call after the server is back connects and
//! serves, with no restart. Run [`migrate`](PostgresStore::migrate) as a
//! separate step (at deploy time, or in a retry loop at start); until it
//! has run, store calls fail with the missing-table error below. For
//! other pool settings, build a lazy pool yourself
//! (`PgPoolOptions::connect_lazy_with` and [`PostgresStore::options`],
//! which keeps the statement timeout) and give it to
//! [`PostgresStore::new`]. [`MySqlStore::connect_lazy`] does the same for
//! MySQL and MariaDB. [`SqliteStore::new`] takes a lazy pool too, though
//! SQLite is a local file, with no outage to ride out.
//!
//! ```no_run
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use session_core::{SessionConfig, SessionManager};
//! use session_sqlx::PostgresStore;
//!
//! // Succeeds with PostgreSQL down: nothing is connected yet.
//! let store = PostgresStore::connect_lazy("postgres://app@db:5432/app")?;
//! let config = SessionConfig::builder().key_from_env_or_random("SESSION_KEY").build()?;
//! let manager = SessionManager::new(config, store.clone());
//! // ... hand `manager` (or `config` and `store`) to the adapter and serve;
//! // at deploy time, once: `store.migrate().await?`.
//! # Ok(())
//! # }
//! ```
//!
//! # A missing table
//!
//! A store call on a table that [`migrate`](PostgresStore::migrate) never
//! created (PostgreSQL SQLSTATE `42P01`, SQLite `no such table`, MySQL
//! error 1146) fails with
//! [`StoreError::Backend`](session_core::StoreError::Backend) whose cause
//! is [`Error::MissingTable`] ("the sessions table is missing: run the
//! store's migrate() first"), and logs one line at ERROR (target
//! `session_sqlx`) saying so, with the database's message, which names the
//! table. `session-core`'s `StoreError` has no variant of its own for it;
//! match the cause:
//!
//! ```
//! use session_core::StoreError;
//!
//! fn needs_migrate(e: &StoreError) -> bool {
//!     matches!(e, StoreError::Backend(cause)
//!         if matches!(cause.downcast_ref::<session_sqlx::Error>(), Some(session_sqlx::Error::MissingTable(_))))
//! }
//! assert!(!needs_migrate(&StoreError::Timeout));
//! ```
//!
//! Schema, database and table names are checked when set (lowercase
//! letters, digits and `_`; see [`Error::InvalidName`]) and always quoted
//! (double quotes; backquotes on MySQL); they are
//! never spliced into SQL unchecked. All SQL is built once, when the store
//! is built. The crate re-exports [`sqlx`], so you can build pools without
//! depending on sqlx yourself.
//!
//! # Quick start with each framework
//!
//! Build the store, migrate, start the cleanup task, hand the store to the
//! adapter:
//!
//! ```ignore
//! // axum (session-axum)
//! let store = PostgresStore::connect(&std::env::var("DATABASE_URL")?).await?;
//! store.migrate().await?;
//! let cleanup = store.spawn_cleanup(Duration::from_secs(600));
//! let app = Router::new()
//!     .route("/", get(handler))
//!     .layer(SessionLayer::new(config, store));
//! axum::serve(listener, app).await?;
//! cleanup.shutdown().await;
//! ```
//!
//! ```ignore
//! // actix-web (session-actix)
//! let store = SqliteStore::connect("sqlite://sessions.db?mode=rwc").await?;
//! store.migrate().await?;
//! let cleanup = store.spawn_cleanup(Duration::from_secs(600));
//! HttpServer::new(move || {
//!     App::new()
//!         .wrap(SessionMiddleware::new(config.clone(), store.clone()))
//!         .route("/", web::get().to(handler))
//! })
//! .bind(("127.0.0.1", 8080))?
//! .run()
//! .await?;
//! cleanup.shutdown().await;
//! ```
//!
//! ```ignore
//! // rocket (session-rocket)
//! let store = PostgresStore::connect(&url).await?.with_schema("web")?;
//! store.migrate().await?;
//! let _cleanup = store.spawn_cleanup(Duration::from_secs(600)); // stops when dropped
//! rocket::build()
//!     .attach(SessionFairing::new(config, store))
//!     .mount("/", routes![index])
//!     .launch()
//!     .await?;
//! ```
//!
//! # Migrations
//!
//! `store.migrate().await` brings the table up to date; call it on every
//! start. The SQL ships in the crate (`migrations/`), as templates whose
//! only holes are the validated, quoted names:
//!
//! | migration | what it does |
//! |---|---|
//! | `0001_create_sessions` | the schema (PostgreSQL), the table and an index on `expires_at`, if missing |
//! | `0002_user_id` | a nullable `user_id TEXT` column and a partial index `<table>_user_id_idx ON (user_id) WHERE user_id IS NOT NULL` (the [user index](#sessions-per-user)) |
//! | `0003_login_at` | a nullable `login_at` column (`TIMESTAMPTZ`; SQLite: Unix ms `INTEGER`; MySQL: Unix ms `BIGINT`), no index: the login time [`admit`](session_core::UserIndex::admit) writes, which orders the sessions a per-user cap revokes |
//! | `0004_login_locks` | MySQL only: the `<table>_login_locks` table, one row per user that logged in under a cap, whose record lock serializes that user's admissions |
//!
//! To apply the schema with your own tools (a DBA's review, `sqlx
//! migrate`, Flyway), print it: [`PostgresStore::migration_sql`]`(schema,
//! table)`, [`SqliteStore::migration_sql`]`(table)` and
//! [`MySqlStore::migration_sql`]`(database, table)` return the exact SQL
//! `migrate` runs for those names (the same files, rendered the same way),
//! and `cargo xtask migration-sql --store postgres|sqlite|mysql [--schema
//! S] [--table T]` prints it. The script is for a database without the
//! table: on SQLite and MySQL its column migrations (no `ADD COLUMN IF NOT
//! EXISTS` there) fail on a table that has them, where `migrate` skips
//! them; a store on a table made by the script works, and `migrate` on it
//! later has nothing to do.
//!
//! ```
//! let sql = session_sqlx::PostgresStore::migration_sql("auth", "sessions")?;
//! assert!(sql.contains("CREATE TABLE IF NOT EXISTS \"auth\".\"sessions\""));
//! # Ok::<(), session_sqlx::Error>(())
//! ```
//!
//! Every migration is idempotent: 0001 by `IF NOT EXISTS`, 0002 and 0003
//! because each runs only while the table lacks its column (SQLite has no
//! `ADD COLUMN IF NOT EXISTS`, and on PostgreSQL even a no-op `ALTER TABLE`
//! would take an `ACCESS EXCLUSIVE` lock, queueing every request behind
//! it). Several instances starting at once are safe: on PostgreSQL all
//! migrations run in one transaction behind `pg_advisory_xact_lock`, on
//! SQLite in one `BEGIN IMMEDIATE` transaction, on MySQL (where every DDL
//! statement commits on its own) under a named lock (`GET_LOCK`), and the
//! column check runs inside it. On MySQL the user index is a plain index
//! on `user_id` (no partial indexes), and the expiry index is part of the
//! `CREATE TABLE` (MySQL 8 has no `CREATE INDEX IF NOT EXISTS`).
//!
//! Upgrading from a version without the user index: `migrate` adds the
//! column to the existing table (existing rows keep `user_id` NULL: those
//! sessions belong to no user until their next login) and builds the
//! partial index once, which only scans the table since no row has a user
//! yet. Instances of the previous version keep working against the
//! upgraded table during a rolling deploy (they never name `user_id`; a
//! session one of them saves keeps its user). The same holds for
//! `login_at` (0003): rows written before it, or by an instance that does
//! not know it, have none and count as the oldest logins; the new code
//! needs the column, so run `migrate` before it serves requests.
//!
//! # Sessions per user
//!
//! All three stores implement [`UserIndex`](session_core::UserIndex) and return
//! it from [`Store::user_index`](session_core::Store::user_index), so
//! `Session::set_user`, `devices`, `revoke`, `revoke_others`,
//! `SessionManager::user_sessions` / `revoke_all` and the per-user cap
//! work with them. The user is the `user_id` column: `create` and `save`
//! write it (a save may change or clear it), `load` returns it, `touch`
//! leaves it alone. [`UserIndex::user_records`](session_core::UserIndex::user_records)
//! is one `SELECT ... WHERE user_id = $1 AND expires_at > $now` through
//! the partial index, so expired rows never appear even before cleanup
//! deletes them, and a revoked (deleted) session is gone at once for every
//! instance.
//!
//! [`UserIndex::admit`](session_core::UserIndex::admit) (a login under a
//! per-user cap) is atomic per user: one transaction, serialized per user,
//! in which the user's other live rows are read (oldest `login_at` first;
//! rows without one, written by a plain `create`/`save`, count as the
//! oldest, then by expiry), the cap decided (`RefuseLogin`: refuse and
//! write nothing when the user already has `max` others; `RevokeOldest`:
//! keep the newest `max - 1` others), the record inserted
//! (insert-if-absent, `Collision` on a live key) or saved (compare-and-swap
//! from `expected`: `Conflict` / `Gone`) with its `login_at`, and, only if
//! it was written, the victims deleted. All three stores run the same steps
//! and the same decision (the crate's `admit` module); what serializes them
//! differs:
//!
//! - PostgreSQL: a `READ COMMITTED` transaction whose `BEGIN` also takes
//!   `pg_advisory_xact_lock` on a 64-bit key derived from the table and
//!   the user (one simple query), so logins of one user queue and logins
//!   of different users never wait for each other; the read is a statement
//!   started after the lock was granted, so it sees every earlier login of
//!   the user; the write and the revocations are one statement. See
//!   [`PostgresStore`]'s `admit` for why a lock rather than `SERIALIZABLE`
//!   or `FOR UPDATE`.
//! - SQLite: a `BEGIN IMMEDIATE` transaction, which takes the database's
//!   single write lock before the read, so nothing it reads changes before
//!   it commits.
//! - MySQL: a `REPEATABLE READ` transaction whose first statement is an
//!   `INSERT ... ON DUPLICATE KEY UPDATE` of the user's row in
//!   `<table>_login_locks` (an exclusive record lock held to the commit,
//!   for which other logins of the user wait); the read that follows takes
//!   its snapshot after the lock was granted. See [`MySqlStore`]'s `admit`
//!   for why not a locking read of the user's rows (gap locks shared by
//!   neighbouring users deadlock their inserts).
//!
//! A plain `save` keeps a row's `login_at` while its user stays the same
//! (and clears it when another user takes the row). A dropped `admit`
//! leaves its transaction to sqlx, which rolls it back: nothing of it is
//! stored, and (PostgreSQL) the lock goes with the transaction.
//!
//! # Operator calls
//!
//! All three stores implement [`StoreAdmin`](session_core::StoreAdmin)
//! (`store.admin()`), each call one statement (MySQL's `clear`: one
//! transaction, `DELETE` of the live rows, which counts them, then of the
//! rest, as MySQL has no `RETURNING`):
//!
//! - `count` is `SELECT count(*) ... WHERE expires_at > $now`: the live
//!   rows at one snapshot (PostgreSQL) or under one read transaction
//!   (SQLite), O(live rows) through the `expires_at` index or a scan, as
//!   the planner decides. Expired rows that cleanup has not deleted yet
//!   are not counted.
//! - `clear` deletes every row, expired ones included (the user index and
//!   the login times are columns, so they go with them), and returns how
//!   many of them were live: on PostgreSQL
//!   `WITH del AS (DELETE ... RETURNING expires_at) SELECT count(*) FILTER
//!   (WHERE live)`, on SQLite `DELETE ... RETURNING expires_at > $now`
//!   (one flag per row comes back, in process). O(rows); it holds its
//!   locks until it commits (PostgreSQL: every row, so concurrent writes
//!   to those sessions wait, and a session created meanwhile survives;
//!   SQLite: the write lock, so every writer waits up to its busy
//!   timeout). For operators and tests, not request paths.
//!
//! # Statements per request
//!
//! Every [`Store`](session_core::Store) method is one SQL statement, so a
//! request costs (measured by `tests/statements.rs` from sqlx's statement
//! log, plus the crate's own debug event for the `BEGIN` and SQLite
//! `COMMIT` that sqlx does not log; PostgreSQL's compare-and-swap
//! statements are `WITH ... SELECT`, see below). On PostgreSQL and MySQL
//! each statement is one network round trip; SQLite runs in process. On
//! MySQL the same test checks every count against the server's own
//! counters (`SHOW GLOBAL STATUS LIKE 'Com\_%'`, on a throwaway `mariadbd`
//! only it uses): a new session is 1 `INSERT`, a read 1 `SELECT`, a write
//! `SELECT` + `UPDATE`, a login without a cap `SELECT` + `DELETE` +
//! `INSERT`, and a capped login that revokes one `BEGIN` + `INSERT` (the
//! user's lock row) + `SELECT` + `INSERT` + `DELETE` + `COMMIT` = 6 (a
//! refused one: `BEGIN` + `INSERT` + `SELECT` + `COMMIT`).
//!
//! | request | statements | before issue 15 |
//! |---|---|---|
//! | session never touched | none | same |
//! | new session | 1 `INSERT` (insert-if-absent: `ON CONFLICT DO UPDATE ... WHERE expired`) | same |
//! | read-only | 1 `SELECT` | same |
//! | write to an existing session | `SELECT` + `UPDATE` (compare-and-swap on the version) | same |
//! | read past the touch threshold | `SELECT` + `UPDATE` of `expires_at` (compare-and-swap on the version) | same |
//! | regenerate (id rotation) | `SELECT` + `DELETE` (retire: compare-and-delete of the old id) + `INSERT` | same |
//! | destroy | 1 `DELETE` | same |
//! | login (`regenerate` + `set_user`), no cap | `SELECT` + `DELETE` (retire) + `INSERT` (with `user_id`) | same |
//! | "your devices" (`devices`) | `SELECT` (the session) + `SELECT` (the user's live rows) | same |
//! | revoke one device (`revoke`) | `SELECT` + listing `SELECT` + `DELETE` | same |
//! | revoke *n* other devices (`revoke_others`) | `SELECT` + listing `SELECT` + *n* × `DELETE` | same |
//! | login of a new visitor, per-user cap, revoke oldest | PostgreSQL: `BEGIN` (+ lock) + `SELECT` (the user's other rows by login time) + `WITH` (`INSERT` with `login_at` and the `DELETE` of every session over the cap) + `COMMIT` = 4; SQLite: `BEGIN IMMEDIATE` + `SELECT` + `INSERT` + `DELETE` per session over the cap + `COMMIT` | `SELECT` + `INSERT` + `DELETE` per session over the cap (not atomic) |
//! | login of a new visitor, per-user cap, refused | `BEGIN` + `SELECT` + `COMMIT` | `SELECT` |
//! | login of a visitor with a session, per-user cap, revoke oldest | `SELECT` + `DELETE` (retire) + the capped login's statements (PostgreSQL: 6 in all) | `SELECT` + `DELETE` + `SELECT` + `INSERT` + `DELETE` per session over the cap |
//!
//! The extra statements of a capped login are the transaction's frame,
//! the price of atomicity: the lock (PostgreSQL) or the write lock (SQLite)
//! must be taken before the user's rows are read and held until the write
//! commits, and a refused login must end its transaction to release the
//! lock. On PostgreSQL the `BEGIN` and the lock share one round trip, and
//! the write and the revocations another, so a capped login costs 4 round
//! trips whatever the number revoked (before: 2 + one per revoked
//! session). Requests without a cap are unchanged.
//!
//! On PostgreSQL each compare-and-swap (`save`'s and `touch`'s `UPDATE`,
//! `retire`'s `DELETE`) is one `WITH ... SELECT` statement that also tells
//! a lost race (`Conflict`, `MovedOn`) from a missing row (`Gone`), by the
//! live row's version in the same snapshot. Should a writer of the row
//! commit between that snapshot and the write's row lock (the write then
//! skips the row, deleted or moved on, that the snapshot still shows at
//! the expected version), the statement, which wrote nothing, runs again
//! to tell which (before issue 15 such a race answered "moved on" for a
//! row that was gone). On SQLite the compare-and-swap is one `UPDATE` or
//! `DELETE`; only when it changes nothing (a lost race, or a missing row)
//! does the store ask why, in one `BEGIN IMMEDIATE` transaction (`BEGIN` +
//! `SELECT` of the live version + `COMMIT`, and the write again if the row
//! is at the expected version after all), so the answer holds at one
//! instant under the write lock (before issue 15: a bare `SELECT`, which a
//! concurrent write could make stale).
//! The revoke rows are what `session-core` asks for (it lists the user's
//! sessions again before each revocation, to check the handle belongs to
//! the user); each store call is still one statement.
//!
//! # Expiry and cleanup
//!
//! Expired rows are never returned (`load`, `save` and `touch` all filter
//! on `expires_at > now`) and never block a new session with the same key.
//! `now` comes from the application's clock, the one that computed
//! `expires_at` ([`SystemClock`](session_core::SystemClock) unless you call
//! `with_clock`), never from the database server.
//!
//! Expired rows stay until deleted: [`Store::delete_expired`](session_core::Store::delete_expired)
//! deletes them 1000 per statement (short transactions, no long table
//! lock) and returns the count, and `store.spawn_cleanup(period)` runs it
//! periodically in a Tokio task. [`CleanupHandle::shutdown`] stops the task
//! and waits for it; dropping the handle stops it too.
//!
//! # SQLite defaults
//!
//! [`SqliteStore::connect`] turns on WAL (readers never block the writer),
//! `synchronous = NORMAL` (durable across application crashes, the usual
//! WAL setting) and a 5 s busy timeout (writers queue for the lock rather
//! than fail with "database is locked"); a lock held longer than that is a
//! [`StoreError::Backend`](session_core::StoreError::Backend), never a
//! panic. `sqlite::memory:` gets a one-connection pool, and the store holds
//! one more idle connection that keeps the database alive, for tests.

// Without a database feature the crate is empty; keep that warning-free.
#![cfg_attr(
    not(any(feature = "postgres", feature = "sqlite", feature = "mysql")),
    allow(dead_code, unused_macros, unused_imports)
)]

mod admit;
mod cleanup;
mod common;
mod error;
mod migration;
#[cfg(feature = "mysql")]
mod mysql;
mod name;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;

#[cfg(feature = "testing")]
pub mod testing;

pub use cleanup::{CleanupHandle, MIN_CLEANUP_PERIOD};

/// The statements both stores run, each written in its dialect and built
/// once per store from validated names. Defined at the crate root: its
/// fields are private to the root, and so visible to both stores' modules.
#[derive(Debug)]
pub(crate) struct Statements {
    /// `(version, expires_at, payload, user_id)` of a live row.
    load: String,
    /// Insert-if-absent, taking over an expired row.
    create: String,
    /// The compare-and-swap of `save`.
    save: String,
    /// The compare-and-swap of `touch`.
    touch: String,
    /// The compare-and-delete of `retire`.
    retire: String,
    /// The live rows' count.
    count: String,
    /// Deletes every row, telling how many were live.
    clear: String,
    /// Deletes one row.
    delete: String,
    /// One batch of the expiry sweep.
    delete_expired: String,
    /// A user's live rows.
    user_records: String,
    /// The cap's victims, oldest login first.
    other_logins: String,
    /// `admit`'s compare-and-swap, with the login time.
    admit_save: String,
}

/// Records a statement that sqlx sends without its own `sqlx::query` event
/// (a transaction's `BEGIN`, SQLite's `COMMIT`): a debug event, target
/// `session_sqlx::statement`, field `summary`, so that a statement log
/// (`tests/statements.rs` counts them) sees every statement of a request.
#[cfg(any(feature = "postgres", feature = "sqlite"))]
pub(crate) fn log_statement(summary: &'static str) {
    tracing::debug!(target: "session_sqlx::statement", summary);
}
pub use error::Error;
#[cfg(feature = "mysql")]
pub use mysql::{MAX_USER_ID_BYTES, MySqlStore};
#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;
#[cfg(feature = "sqlite")]
pub use sqlite::{DEFAULT_BUSY_TIMEOUT, SqliteStore};
pub use sqlx;
