//! Setup errors of the SQL stores, and the mapping of sqlx errors to
//! [`StoreError`].

use session_core::StoreError;

/// An error while building or migrating a store. Request-path failures are
/// [`StoreError`]s instead.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A schema, database or table name is not a plain lowercase SQL
    /// identifier.
    #[error("invalid {what} name {name:?}: expected {rule}")]
    InvalidName {
        /// `"schema"`, `"database"` or `"table"`.
        what: &'static str,
        /// The rejected name.
        name: String,
        /// The rule it broke.
        rule: &'static str,
    },
    /// `migrate` waited too long for another instance's migration
    /// (MySQL: the `GET_LOCK` that serializes them).
    #[error("timed out waiting for another instance's migration")]
    MigrationLockTimeout,
    /// Connecting, or running a migration, failed.
    #[error("database error")]
    Database(#[source] sqlx::Error),
    /// The sessions table does not exist: [`migrate`] never ran against
    /// this schema / database / table name (PostgreSQL SQLSTATE `42P01`,
    /// SQLite `no such table`, MySQL error 1146). A store call that meets
    /// it fails with [`StoreError::Backend`] whose cause is this variant
    /// (and logs one line at ERROR); the cause's own cause names the
    /// table.
    ///
    /// [`migrate`]: crate#migrations
    ///
    /// ```
    /// use session_core::StoreError;
    ///
    /// /// Whether a store call failed because `migrate()` never ran.
    /// fn table_missing(e: &StoreError) -> bool {
    ///     matches!(
    ///         e,
    ///         StoreError::Backend(cause)
    ///             if matches!(cause.downcast_ref::<session_sqlx::Error>(), Some(session_sqlx::Error::MissingTable(_)))
    ///     )
    /// }
    /// assert!(!table_missing(&StoreError::Timeout));
    /// ```
    #[error("the sessions table is missing: run the store's migrate() first")]
    MissingTable(#[source] sqlx::Error),
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Self::Database(e)
    }
}

/// Maps a sqlx error on the request path: a pool that hands out no
/// connection in time (the server is down or unreachable: the pool keeps
/// trying to connect until its `acquire_timeout`), or a statement
/// PostgreSQL cancelled at its `statement_timeout` (SQLSTATE 57014), is a
/// [`StoreError::Timeout`]; a missing table is [`StoreError::Backend`] of
/// [`Error::MissingTable`], logged at ERROR; the rest keep their cause as
/// [`StoreError::Backend`].
pub(crate) fn store_error(e: sqlx::Error) -> StoreError {
    let code = e.as_database_error().and_then(|d| d.code());
    let cancelled = code.as_deref() == Some("57014");
    match e {
        sqlx::Error::PoolTimedOut => StoreError::Timeout,
        _ if cancelled => StoreError::Timeout,
        e if is_missing_table(&e) => {
            tracing::error!(
                target: "session_sqlx",
                cause = %e,
                "the sessions table is missing: run the store's migrate() (at deploy time or on start)"
            );
            StoreError::backend(Error::MissingTable(e))
        }
        other => StoreError::backend(other),
    }
}

/// Whether `e` says the table does not exist: PostgreSQL SQLSTATE `42P01`
/// (undefined table, also when the schema is missing), MySQL / MariaDB
/// SQLSTATE `42S02` (error 1146), SQLite's `no such table` (its only
/// sign: the code is the generic `SQLITE_ERROR`).
fn is_missing_table(e: &sqlx::Error) -> bool {
    let Some(d) = e.as_database_error() else {
        return false;
    };
    matches!(d.code().as_deref(), Some("42P01" | "42S02"))
        || d.message().starts_with("no such table")
}

/// A stored version (BIGINT / INTEGER) as a [`session_core::Version`].
pub(crate) fn version_from_db(v: i64) -> Result<session_core::Version, StoreError> {
    u64::try_from(v)
        .map(session_core::Version)
        .map_err(|_| StoreError::Malformed("negative version"))
}

/// A [`session_core::Version`] as a BIGINT / INTEGER.
pub(crate) fn version_to_db(v: session_core::Version) -> Result<i64, StoreError> {
    i64::try_from(v.0).map_err(|_| StoreError::Malformed("version out of range"))
}

/// A stored `id` as a [`session_core::StoreKey`].
pub(crate) fn key_from_db(id: &str) -> Result<session_core::StoreKey, StoreError> {
    session_core::StoreKey::from_stored(id).ok_or(StoreError::Malformed("stored key"))
}
