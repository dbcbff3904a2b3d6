//! The `Store` trait: what a storage backend must do, and nothing more.

use std::error::Error as StdError;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::id::StoreKey;

/// The version of a stored record, for compare-and-swap. A new record has
/// version 1; every successful save increments it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(pub u64);

impl Version {
    /// The version of a record that was just created.
    pub const FIRST: Version = Version(1);

    /// The next version.
    pub fn next(self) -> Version {
        Version(self.0.wrapping_add(1))
    }
}

/// One stored session, as a store sees it: a key, a version, an expiry
/// instant and an opaque payload. A store never interprets the payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The storage key (a hash of the session id by default).
    pub key: StoreKey,
    /// The record's version.
    pub version: Version,
    /// When the store may forget the record; `load` must never return a
    /// record at or past this instant.
    pub expires_at: OffsetDateTime,
    /// The encoded session (format number, expiry policy and data); opaque
    /// to stores. Always UTF-8 JSON, so a text column can hold it.
    pub payload: Vec<u8>,
    /// The user the session belongs to (`Session::set_user`), if any: the
    /// key of the optional [`UserIndex`]. Stores keep it with the record and
    /// return it from `load`.
    pub user: Option<String>,
}

impl Record {
    /// Whether the record has expired at `now`.
    pub fn is_expired(&self, now: OffsetDateTime) -> bool {
        self.expires_at <= now
    }
}

/// Outcome of [`Store::create`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    /// The record was stored.
    Ok,
    /// A live record with that key exists; nothing was written.
    Collision,
}

/// Outcome of [`Store::save`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saved {
    /// The record was replaced.
    Ok,
    /// The stored version differs from the expected one; nothing was
    /// written.
    Conflict,
    /// No live record has that key (deleted or expired); nothing was
    /// written.
    Gone,
}

/// A store failure. The cause is kept, never flattened into a string, and
/// never shown to clients.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend failed (connection, protocol, query).
    #[error("session store backend error")]
    Backend(#[source] Box<dyn StdError + Send + Sync>),
    /// The backend did not answer in time.
    #[error("session store timed out")]
    Timeout,
    /// The backend returned data this store cannot read.
    #[error("session store returned malformed data: {0}")]
    Malformed(&'static str),
}

impl StoreError {
    /// Wraps a backend error.
    pub fn backend(e: impl StdError + Send + Sync + 'static) -> Self {
        Self::Backend(Box::new(e))
    }
}

/// A session storage backend.
///
/// The contract (checked by the conformance suite in
/// `session_core::testing`, feature `testing`):
/// - `load` never returns an expired record, even one the backend has not
///   evicted yet;
/// - `create` is insert-if-absent: it never overwrites a live record and
///   reports [`Created::Collision`] instead;
/// - `save` writes only if the stored version equals `expected`, else it
///   reports [`Saved::Conflict`] (or [`Saved::Gone`]) and writes nothing;
///   the saved record carries its new version in `record.version`;
/// - `touch` changes only the expiry of a live record and returns whether
///   one existed; it never creates a record;
/// - `delete` is idempotent;
/// - every method is cancellation-safe: it leaves no partial record;
/// - errors carry the backend's cause and never panic the request path.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The live record under `key`, if any.
    async fn load(&self, key: &StoreKey) -> Result<Option<Record>, StoreError>;

    /// Inserts a new record unless a live one has its key.
    async fn create(&self, record: &Record) -> Result<Created, StoreError>;

    /// Replaces the record if its stored version equals `expected`.
    async fn save(&self, record: &Record, expected: Version) -> Result<Saved, StoreError>;

    /// Moves the expiry of a live record; `false` when there is none.
    async fn touch(&self, key: &StoreKey, expires_at: OffsetDateTime) -> Result<bool, StoreError>;

    /// Removes the record, if any.
    async fn delete(&self, key: &StoreKey) -> Result<(), StoreError>;

    /// Removes expired records and returns how many; stores with native
    /// expiry may keep the default, which does nothing.
    async fn delete_expired(&self) -> Result<u64, StoreError> {
        Ok(0)
    }

    /// The store's user index, if it has one. The default (`None`) keeps
    /// custom stores working: only the per-user features ("your devices",
    /// revoke, the per-user cap) need an index.
    fn user_index(&self) -> Option<&dyn UserIndex> {
        None
    }
}

/// An optional index of sessions by user, beside [`Store`]: "log out other
/// devices", revoke a session, cap concurrent sessions per user.
///
/// Contract (checked by the conformance suite): `user_records` returns every
/// live record whose `user` is `user` and nothing else: never an expired,
/// deleted, or re-assigned record. Revocation is [`Store::delete`] of a
/// listed key, so it is immediate on every app instance.
#[async_trait]
pub trait UserIndex: Send + Sync {
    /// The live records of `user`.
    async fn user_records(&self, user: &str) -> Result<Vec<Record>, StoreError>;
}

impl std::fmt::Debug for dyn Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("dyn Store")
    }
}
