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
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Self::Database(e)
    }
}

/// Maps a sqlx error on the request path: a pool that hands out no
/// connection in time, or a statement PostgreSQL cancelled at its
/// `statement_timeout` (SQLSTATE 57014), is a [`StoreError::Timeout`];
/// the rest keep their cause as [`StoreError::Backend`].
pub(crate) fn store_error(e: sqlx::Error) -> StoreError {
    let cancelled = e
        .as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|code| code == "57014");
    match e {
        sqlx::Error::PoolTimedOut => StoreError::Timeout,
        _ if cancelled => StoreError::Timeout,
        other => StoreError::backend(other),
    }
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
