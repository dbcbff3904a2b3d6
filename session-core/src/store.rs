//! The `Store` trait: what a storage backend must do, and nothing more.

use std::error::Error as StdError;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::config::SessionCap;
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
    /// The encoded session (format number, expiry policy and data): opaque
    /// bytes to stores, which must not assume UTF-8 or JSON (a later
    /// encrypted payload needs no new contract).
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

/// Outcome of [`Store::touch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Touched {
    /// The record was at the expected version; its expiry moved.
    Ok,
    /// The record was written since it was loaded (its version changed);
    /// nothing was written. The response must not advertise the expiry the
    /// touch wanted: it was never stored.
    MovedOn,
    /// No live record has that key; nothing was written.
    Gone,
}

/// Outcome of [`Store::retire`], the compare-and-delete that opens an id
/// rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retired {
    /// The record was at the expected version and is deleted.
    Ok,
    /// The record was written since it was loaded; nothing was deleted.
    MovedOn,
    /// No live record has that key (destroyed, revoked or expired).
    Gone,
}

/// The per-user cap a login is admitted under (see
/// [`UserIndex::admit`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cap {
    /// The most live sessions the user may have, the new one included
    /// (at least 1).
    pub max: usize,
    /// What happens to a login beyond `max`.
    pub policy: SessionCap,
}

/// A login to write with [`UserIndex::admit`]: the record, how to write
/// it, when the user logged in, and the cap to apply.
///
/// ```
/// use session_core::{Cap, Login, Record, SessionCap, SessionId, Version};
/// use session_core::time::OffsetDateTime;
///
/// let now = OffsetDateTime::now_utc();
/// let record = Record {
///     key: SessionId::random().hashed_key(),
///     version: Version(1),
///     expires_at: now + session_core::time::Duration::hours(1),
///     payload: Vec::new(),
///     user: Some("alice".into()),
/// };
/// let login = Login {
///     record: &record,
///     expected: None,
///     at: now,
///     cap: Cap { max: 3, policy: SessionCap::RevokeOldest },
/// };
/// assert_eq!(login.user().unwrap(), "alice");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Login<'a> {
    /// The record to write; its `user` is set.
    pub record: &'a Record,
    /// `None`: create it (insert-if-absent); `Some(v)`: save it
    /// (compare-and-swap from `v`).
    pub expected: Option<Version>,
    /// The login time, by which "oldest" is decided.
    pub at: OffsetDateTime,
    /// The cap to apply.
    pub cap: Cap,
}

impl<'a> Login<'a> {
    /// The login of a new record, created insert-if-absent (`expected` is
    /// `None`), at `at` under `cap`.
    pub fn new(record: &'a Record, at: OffsetDateTime, cap: Cap) -> Self {
        Login {
            record,
            expected: None,
            at,
            cap,
        }
    }

    /// The user the record is bound to; a record without one is
    /// [`StoreError::Malformed`].
    pub fn user(&self) -> Result<&str, StoreError> {
        self.record
            .user
            .as_deref()
            .ok_or(StoreError::Malformed("a login record has no user"))
    }
}

/// Outcome of [`UserIndex::admit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// The record was written and listed under its user; `revoked` of the
    /// user's other sessions (the oldest logins) were deleted to keep the
    /// cap.
    Admitted {
        /// How many other sessions were revoked.
        revoked: usize,
    },
    /// [`SessionCap::RefuseLogin`]: the user already has `live` other live
    /// sessions, `max` or more; nothing was written.
    Refused {
        /// The user's other live sessions.
        live: usize,
    },
    /// As [`Created::Collision`] (when `expected` is `None`).
    Collision,
    /// As [`Saved::Conflict`].
    Conflict,
    /// As [`Saved::Gone`].
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
/// A store keeps `(key, version, expires_at, payload, user)` and honours
/// `expires_at`; it never interprets the payload (opaque bytes, not
/// necessarily UTF-8 or JSON) and decides no policy. The contract below is
/// checked case by case by the conformance suite in `session_core::testing`
/// (feature `testing`), which every store in this workspace runs: a test
/// file of one line, `session_core::store_conformance_tests!(|namespace|
/// async move { MyStore::connect(..).await.unwrap().with_prefix(namespace) });`
/// (`known_failures: [..]` lists the cases a store does not keep yet).
///
/// A custom store is one impl of this trait, and the [`SessionManager`](crate::SessionManager)
/// drives it. This whole example is a store over a `Mutex<HashMap>` and one
/// request's lifecycle through it:
///
/// ```
/// use std::collections::HashMap;
/// use std::sync::Mutex;
///
/// use session_core::{
///     async_trait, Created, Record, RequestMeta, Retired, Saved, SessionConfig, SessionManager,
///     Store, StoreAdmin, StoreError, StoreKey, Touched, UserIndex, Version,
/// };
/// use time::OffsetDateTime;
///
/// #[derive(Default)]
/// struct MapStore(Mutex<HashMap<StoreKey, Record>>);
///
/// #[async_trait]
/// impl Store for MapStore {
///     async fn load(&self, key: &StoreKey) -> Result<Option<Record>, StoreError> {
///         let now = OffsetDateTime::now_utc();
///         Ok(self.0.lock().unwrap().get(key).filter(|r| !r.is_expired(now)).cloned())
///     }
///     async fn create(&self, record: &Record) -> Result<Created, StoreError> {
///         let now = OffsetDateTime::now_utc();
///         let mut map = self.0.lock().unwrap();
///         if map.get(&record.key).is_some_and(|r| !r.is_expired(now)) {
///             return Ok(Created::Collision);
///         }
///         map.insert(record.key.clone(), record.clone());
///         Ok(Created::Ok)
///     }
///     async fn save(&self, record: &Record, expected: Version) -> Result<Saved, StoreError> {
///         let now = OffsetDateTime::now_utc();
///         let mut map = self.0.lock().unwrap();
///         match map.get_mut(&record.key) {
///             Some(r) if r.is_expired(now) => Ok(Saved::Gone),
///             Some(r) if r.version != expected => Ok(Saved::Conflict),
///             Some(r) => {
///                 *r = record.clone();
///                 Ok(Saved::Ok)
///             }
///             None => Ok(Saved::Gone),
///         }
///     }
///     async fn touch(
///         &self,
///         key: &StoreKey,
///         expected: Version,
///         at: OffsetDateTime,
///     ) -> Result<Touched, StoreError> {
///         let now = OffsetDateTime::now_utc();
///         match self.0.lock().unwrap().get_mut(key) {
///             Some(r) if r.is_expired(now) => Ok(Touched::Gone),
///             Some(r) if r.version != expected => Ok(Touched::MovedOn),
///             Some(r) => {
///                 r.expires_at = at;
///                 Ok(Touched::Ok)
///             }
///             None => Ok(Touched::Gone),
///         }
///     }
///     async fn retire(&self, key: &StoreKey, expected: Version) -> Result<Retired, StoreError> {
///         let now = OffsetDateTime::now_utc();
///         let mut map = self.0.lock().unwrap();
///         match map.get(key) {
///             Some(r) if r.is_expired(now) => Ok(Retired::Gone),
///             Some(r) if r.version != expected => Ok(Retired::MovedOn),
///             Some(_) => {
///                 map.remove(key);
///                 Ok(Retired::Ok)
///             }
///             None => Ok(Retired::Gone),
///         }
///     }
///     async fn delete(&self, key: &StoreKey) -> Result<(), StoreError> {
///         self.0.lock().unwrap().remove(key);
///         Ok(())
///     }
///     async fn delete_expired(&self) -> Result<u64, StoreError> {
///         let now = OffsetDateTime::now_utc();
///         let mut map = self.0.lock().unwrap();
///         let before = map.len();
///         map.retain(|_, r| !r.is_expired(now));
///         Ok((before - map.len()) as u64)
///     }
///     // No user index (no per-user features) and no operator capability.
///     fn user_index(&self) -> Option<&dyn UserIndex> {
///         None
///     }
///     fn admin(&self) -> Option<&dyn StoreAdmin> {
///         None
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let config = SessionConfig::builder().key_from_env_or_random("SESSION_KEY").build()?;
/// let manager = SessionManager::new(config, MapStore::default());
///
/// // Request 1: no cookie. The handler counts a page view.
/// let session = manager.start([], RequestMeta::default());
/// let views = session.update("views", |n: Option<u64>| n.unwrap_or(0) + 1).await?;
/// assert_eq!(views, 1);
/// let set_cookie = manager.finish(&session).await?.expect("a new session sets a cookie");
/// assert!(set_cookie.value.contains("HttpOnly"));
///
/// // Request 2: the browser sends the cookie back.
/// let cookie = set_cookie.value.split(';').next().unwrap().to_owned();
/// let session = manager.start([cookie.as_bytes()], RequestMeta::default());
/// assert_eq!(session.get::<u64>("views").await?, Some(1));
/// # Ok(())
/// # }
/// ```
///
/// # Rules
///
/// - `load` never returns an expired record, even one the backend has not
///   evicted yet.
/// - `create` is insert-if-absent: it never overwrites a live record and
///   reports [`Created::Collision`] instead.
/// - `save`, `touch` and `retire` are compare-and-swap on the version the
///   request loaded: each writes only if the stored version equals
///   `expected`, else it reports that the record moved on (or is gone) and
///   writes nothing. `save` stores the record's new version
///   (`record.version`); `touch` changes the expiry and nothing else (not
///   the version); `retire` deletes.
/// - `delete` is unconditional and idempotent (logout and revocation win
///   over any concurrent write).
/// - A record with a `user` is listed under that user in the store's
///   [`UserIndex`] (if it has one) no later than the record becomes
///   loadable: the index is always a superset of the user's live sessions.
///
/// # Id rotation
///
/// `regenerate` never writes the new id before the old record is retired:
/// the driver calls `retire(old, loaded_version)` and, only on
/// [`Retired::Ok`], `create`s (or, for a login under a cap,
/// [`UserIndex::admit`]s) the new record. On [`Retired::MovedOn`] it reloads,
/// replays the request's changes and retires again, so a concurrent benign
/// write is kept; on [`Retired::Gone`] the session was destroyed, revoked or
/// expired meanwhile, and the request ends with a fresh, empty session and
/// a removal cookie: the old data never reaches a new id. No call names two
/// keys, so this works where the keys live on different nodes (Redis
/// Cluster).
///
/// # Cancellation
///
/// Every method must leave either the whole effect or none of it when its
/// future is dropped mid-flight. What a request dropped *between* two calls
/// leaves (never a resurrection, never a lost acknowledged write, since a
/// write is acknowledged only when the response is sent):
/// - after `load`: nothing changed;
/// - after `retire` and before `create`/`admit` of the new id: the session
///   is gone (the user is logged out), the new id was never stored;
/// - after a `delete` of `destroy` and before the next call: the session is
///   gone, which is what was asked;
/// - after `admit` (which revokes inside the same atomic step): the login
///   is stored and the cap holds; the client never got the cookie, so the
///   session idles out;
/// - after `create`, `save` or `touch`: the write is stored, the client did
///   not learn of it (its cookie still names the same id, or, for a new
///   session, nothing), and the next request loads what was stored.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The live record under `key`, if any.
    async fn load(&self, key: &StoreKey) -> Result<Option<Record>, StoreError>;

    /// Inserts a new record unless a live one has its key.
    async fn create(&self, record: &Record) -> Result<Created, StoreError>;

    /// Replaces the record if its stored version equals `expected`.
    async fn save(&self, record: &Record, expected: Version) -> Result<Saved, StoreError>;

    /// Moves the expiry of the live record under `key` if its stored
    /// version equals `expected`; changes nothing else and never creates a
    /// record.
    async fn touch(
        &self, key: &StoreKey, expected: Version, expires_at: OffsetDateTime,
    ) -> Result<Touched, StoreError>;

    /// Deletes the live record under `key` if its stored version equals
    /// `expected` (compare-and-delete, the first step of an id rotation).
    async fn retire(&self, key: &StoreKey, expected: Version) -> Result<Retired, StoreError>;

    /// Removes the record, if any, whatever its version.
    async fn delete(&self, key: &StoreKey) -> Result<(), StoreError>;

    /// Removes expired records and returns how many. A store whose backend
    /// expires records natively (Redis TTLs) returns `Ok(0)`.
    async fn delete_expired(&self) -> Result<u64, StoreError>;

    /// The store's user index, if it has one. `None` turns off only the
    /// per-user features ("your devices", revocation, the per-user cap,
    /// which then fails with `SessionError::NoUserIndex`).
    fn user_index(&self) -> Option<&dyn UserIndex>;

    /// The operator capability (count and delete all sessions), if the
    /// store has it.
    fn admin(&self) -> Option<&dyn StoreAdmin>;
}

/// An index of sessions by user, beside [`Store`]: "log out other
/// devices", revoke a session, cap concurrent sessions per user.
///
/// Invariants any implementation keeps at every step, also when a request
/// is dropped between two calls:
/// - the index lists every live session of a user (it may also list dead
///   ones; liveness is checked by loading), so revocation, a
///   [`Store::delete`] of each listed key, always reaches every session;
/// - the choice of which sessions a login revokes, or whether it is
///   refused, is atomic per user (one lock, statement or script per user):
///   [`SessionCap::RevokeOldest`] keeps the login being admitted and never
///   leaves the user with 0 sessions, [`SessionCap::RefuseLogin`] never lets
///   the number of live sessions exceed the cap;
/// - "oldest" is by login time, the [`Login::at`] given to `admit`.
#[async_trait]
pub trait UserIndex: Send + Sync {
    /// The live records whose `user` is `user`: every one of them, and
    /// never an expired, deleted or re-assigned record.
    async fn user_records(&self, user: &str) -> Result<Vec<Record>, StoreError>;

    /// Writes a login: its `record` (whose `user` is set) is created (when
    /// `expected` is `None`, insert-if-absent) or saved (compare-and-swap
    /// from `expected`), listed under its user with the login time `at`,
    /// and the cap is applied, all as one atomic step per user. With
    /// [`SessionCap::RevokeOldest`] the user's other live sessions beyond
    /// `cap.max - 1`, oldest login first, are deleted; with
    /// [`SessionCap::RefuseLogin`] nothing is written when the user already
    /// has `cap.max` other live sessions.
    async fn admit(&self, login: Login<'_>) -> Result<Admission, StoreError>;
}

/// The operator capability: how many sessions there are, and delete them
/// all (express-session's `store.length()` and `store.clear()`). Each store
/// documents the cost of each call.
#[async_trait]
pub trait StoreAdmin: Send + Sync {
    /// The number of live sessions.
    async fn count(&self) -> Result<u64, StoreError>;

    /// Deletes every session (and every user index entry) and returns how
    /// many sessions there were.
    async fn clear(&self) -> Result<u64, StoreError>;
}

impl std::fmt::Debug for dyn Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("dyn Store")
    }
}
