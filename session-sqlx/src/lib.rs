//! PostgreSQL and SQLite session stores for `session-core`, on sqlx 0.8
//! (Tokio, rustls).
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
//! let config = SessionConfig::builder().key([7u8; 32]).build()?;
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
//!
//! Schema and table names are checked when set (lowercase letters, digits
//! and `_`; see [`Error::InvalidName`]) and always double-quoted; they are
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
//! | `0003_login_at` | a nullable `login_at` column (`TIMESTAMPTZ`; SQLite: Unix ms `INTEGER`), no index: the login time [`admit`](session_core::UserIndex::admit) writes, which orders the sessions a per-user cap revokes |
//!
//! Every migration is idempotent: 0001 by `IF NOT EXISTS`, 0002 and 0003
//! because each runs only while the table lacks its column (SQLite has no
//! `ADD COLUMN IF NOT EXISTS`, and on PostgreSQL even a no-op `ALTER TABLE`
//! would take an `ACCESS EXCLUSIVE` lock, queueing every request behind
//! it). Several instances starting at once are safe: on PostgreSQL all
//! migrations run in one transaction behind `pg_advisory_xact_lock`, on
//! SQLite in one `BEGIN IMMEDIATE` transaction, and the column check runs
//! inside it.
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
//! Both stores implement [`UserIndex`](session_core::UserIndex) and return
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
//! per-user cap) is, for now, three steps in order and **not yet atomic
//! per user** (issue 15: one transaction per user): a `SELECT` of the
//! user's other live rows, oldest `login_at` first (rows without one, then
//! by expiry); under `RefuseLogin` with `max` or more of them, nothing
//! else; otherwise the record's `INSERT` (or its compare-and-swap save)
//! with its `login_at`, then under `RevokeOldest` one `DELETE` per row
//! beyond the cap. Sequential logins keep the cap exactly; simultaneous
//! logins of one user can both pass a `RefuseLogin` count, or both revoke.
//! A plain `save` keeps a row's `login_at` while its user stays the same
//! (and clears it when another user takes the row).
//!
//! # Operator calls
//!
//! Both stores implement [`StoreAdmin`](session_core::StoreAdmin)
//! (`store.admin()`): `count` is one
//! `SELECT count(*) ... WHERE expires_at > $now`, O(live rows); `clear` deletes every row (the user index and
//! login times are columns, so they go with them) and returns how many were
//! live: on PostgreSQL one `WITH del AS (DELETE ... RETURNING) SELECT`
//! statement, on SQLite a count and a `DELETE` in one `BEGIN IMMEDIATE`
//! transaction. `clear` is O(rows) and holds its locks (PostgreSQL: every
//! row; SQLite: the write lock) until it commits; it is for operators and
//! tests, not request paths.
//! # Statements per request
//!
//! Every [`Store`](session_core::Store) method is one SQL statement, so a
//! request costs (measured from sqlx's statement log by
//! `tests/statements.rs`; PostgreSQL's compare-and-swap statements are
//! `WITH ... SELECT`, see below):
//!
//! | request | statements |
//! |---|---|
//! | session never touched | none |
//! | new session | 1 `INSERT` (insert-if-absent: `ON CONFLICT DO UPDATE ... WHERE expired`) |
//! | read-only | 1 `SELECT` |
//! | write to an existing session | `SELECT` + `UPDATE` (compare-and-swap on the version) |
//! | read past the touch threshold | `SELECT` + `UPDATE` of `expires_at` (compare-and-swap on the version) |
//! | regenerate | `SELECT` + `DELETE` (retire: compare-and-delete of the old id) + `INSERT` |
//! | destroy | 1 `DELETE` |
//! | login (`regenerate` + `set_user`) | `SELECT` + `DELETE` (retire) + `INSERT` (with `user_id`) |
//! | "your devices" (`devices`) | `SELECT` (the session) + `SELECT` (the user's live rows) |
//! | revoke one device (`revoke`) | `SELECT` + listing `SELECT` + `DELETE` |
//! | revoke *n* other devices (`revoke_others`) | `SELECT` + listing `SELECT` + *n* × `DELETE` |
//! | login of a new visitor, per-user cap, revoke oldest | `SELECT` (the user's other rows by login time) + `INSERT` (with `login_at`) + `DELETE` per session over the cap |
//! | login of a new visitor, per-user cap, refused | `SELECT` |
//!
//! On PostgreSQL each compare-and-swap (`save`'s and `touch`'s `UPDATE`,
//! `retire`'s `DELETE`) is wrapped in one `WITH ... SELECT` statement that
//! also tells a lost race (`Conflict`, `MovedOn`) from a missing row
//! (`Gone`), in the same snapshot; on SQLite a compare-and-swap that
//! changes nothing adds one `SELECT` for that answer.
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
#![cfg_attr(not(any(feature = "postgres", feature = "sqlite")), allow(dead_code))]

mod admit;
mod cleanup;
mod error;
mod migration;
mod name;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;

#[cfg(feature = "testing")]
pub mod testing;

pub use cleanup::{CleanupHandle, MIN_CLEANUP_PERIOD};

/// Records a statement that sqlx sends without its own `sqlx::query` event
/// (a transaction's `BEGIN`, SQLite's `COMMIT`): a debug event, target
/// `session_sqlx::statement`, field `summary`, so that a statement log
/// (`tests/statements.rs` counts them) sees every statement of a request.
#[cfg(any(feature = "postgres", feature = "sqlite"))]
pub(crate) fn log_statement(summary: &'static str) {
    tracing::debug!(target: "session_sqlx::statement", summary);
}
pub use error::Error;
#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;
#[cfg(feature = "sqlite")]
pub use sqlite::{DEFAULT_BUSY_TIMEOUT, SqliteStore};
pub use sqlx;
