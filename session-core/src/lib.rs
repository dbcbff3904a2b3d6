//! The sans-IO core of a framework-agnostic, server-side session system: what
//! express-session gives Node apps, for any Rust web framework.
//!
//! A custom store is one trait impl; the [`SessionManager`] drives it. This
//! whole example is a store over a `Mutex<HashMap>` and one request's
//! lifecycle:
//!
//! ```
//! use std::collections::HashMap;
//! use std::sync::Mutex;
//!
//! use session_core::{
//!     async_trait, Created, Record, RequestMeta, Retired, Saved, SessionConfig, SessionManager,
//!     Store, StoreAdmin, StoreError, StoreKey, Touched, UserIndex, Version,
//! };
//! use time::OffsetDateTime;
//!
//! #[derive(Default)]
//! struct MapStore(Mutex<HashMap<StoreKey, Record>>);
//!
//! #[async_trait]
//! impl Store for MapStore {
//!     async fn load(&self, key: &StoreKey) -> Result<Option<Record>, StoreError> {
//!         let now = OffsetDateTime::now_utc();
//!         Ok(self.0.lock().unwrap().get(key).filter(|r| !r.is_expired(now)).cloned())
//!     }
//!     async fn create(&self, record: &Record) -> Result<Created, StoreError> {
//!         let now = OffsetDateTime::now_utc();
//!         let mut map = self.0.lock().unwrap();
//!         if map.get(&record.key).is_some_and(|r| !r.is_expired(now)) {
//!             return Ok(Created::Collision);
//!         }
//!         map.insert(record.key.clone(), record.clone());
//!         Ok(Created::Ok)
//!     }
//!     async fn save(&self, record: &Record, expected: Version) -> Result<Saved, StoreError> {
//!         let now = OffsetDateTime::now_utc();
//!         let mut map = self.0.lock().unwrap();
//!         match map.get_mut(&record.key) {
//!             Some(r) if r.is_expired(now) => Ok(Saved::Gone),
//!             Some(r) if r.version != expected => Ok(Saved::Conflict),
//!             Some(r) => {
//!                 *r = record.clone();
//!                 Ok(Saved::Ok)
//!             }
//!             None => Ok(Saved::Gone),
//!         }
//!     }
//!     async fn touch(
//!         &self,
//!         key: &StoreKey,
//!         expected: Version,
//!         at: OffsetDateTime,
//!     ) -> Result<Touched, StoreError> {
//!         let now = OffsetDateTime::now_utc();
//!         match self.0.lock().unwrap().get_mut(key) {
//!             Some(r) if r.is_expired(now) => Ok(Touched::Gone),
//!             Some(r) if r.version != expected => Ok(Touched::MovedOn),
//!             Some(r) => {
//!                 r.expires_at = at;
//!                 Ok(Touched::Ok)
//!             }
//!             None => Ok(Touched::Gone),
//!         }
//!     }
//!     async fn retire(&self, key: &StoreKey, expected: Version) -> Result<Retired, StoreError> {
//!         let now = OffsetDateTime::now_utc();
//!         let mut map = self.0.lock().unwrap();
//!         match map.get(key) {
//!             Some(r) if r.is_expired(now) => Ok(Retired::Gone),
//!             Some(r) if r.version != expected => Ok(Retired::MovedOn),
//!             Some(_) => {
//!                 map.remove(key);
//!                 Ok(Retired::Ok)
//!             }
//!             None => Ok(Retired::Gone),
//!         }
//!     }
//!     async fn delete(&self, key: &StoreKey) -> Result<(), StoreError> {
//!         self.0.lock().unwrap().remove(key);
//!         Ok(())
//!     }
//!     async fn delete_expired(&self) -> Result<u64, StoreError> {
//!         let now = OffsetDateTime::now_utc();
//!         let mut map = self.0.lock().unwrap();
//!         let before = map.len();
//!         map.retain(|_, r| !r.is_expired(now));
//!         Ok((before - map.len()) as u64)
//!     }
//!     // No user index (no per-user features) and no operator capability.
//!     fn user_index(&self) -> Option<&dyn UserIndex> {
//!         None
//!     }
//!     fn admin(&self) -> Option<&dyn StoreAdmin> {
//!         None
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = SessionConfig::builder().key_from_env_or_random("SESSION_KEY").build()?;
//! let manager = SessionManager::new(config, MapStore::default());
//!
//! // Request 1: no cookie. The handler counts a page view.
//! let session = manager.start([], RequestMeta::default());
//! let views = session.update("views", |n: Option<u64>| n.unwrap_or(0) + 1).await?;
//! assert_eq!(views, 1);
//! let set_cookie = manager.finish(&session).await?.expect("a new session sets a cookie");
//! assert!(set_cookie.value.contains("HttpOnly"));
//!
//! // Request 2: the browser sends the cookie back.
//! let cookie = set_cookie.value.split(';').next().unwrap().to_owned();
//! let session = manager.start([cookie.as_bytes()], RequestMeta::default());
//! assert_eq!(session.get::<u64>("views").await?, Some(1));
//! # Ok(())
//! # }
//! ```
//!
//! # Map
//!
//! - At the root, what apps use: [`Session`], [`SessionConfig`] and its
//!   builder, [`Expiry`], [`Secure`], [`SameSite`], [`TouchPolicy`],
//!   [`SessionCap`], [`Key`], [`MemoryStore`], the event types, the error
//!   types, [`Clock`] and [`ManualClock`], and [`time`]; and what store
//!   authors use: the [`Store`] family ([`Record`], [`Version`], the
//!   outcome enums, [`StoreError`], [`StoreKey`]), [`UserIndex`],
//!   [`StoreAdmin`].
//! - [`adapter`]: for adapter authors: [`SessionManager`] (per request:
//!   [`SessionManager::start`], then [`SessionManager::respond`]), the
//!   request metadata and the response verdict.
//! - `testing` (feature): the store conformance suite and the HTTP scenario
//!   suite every adapter and store in this workspace runs, and the
//!   reference adapter.
//! - Everything else (cookie parsing, the pure lifecycle, the payload
//!   codec) is private.
//!
//! # Concurrency
//!
//! Saves are compare-and-swap on the record's version. On a conflict the
//! driver reloads, replays this request's change log (re-running
//! [`Session::update`] closures on the fresh values) and retries, so two
//! requests writing different keys both land and concurrent counters are
//! exact. A destroyed or regenerated-away session is never resurrected.

mod clock;
mod config;
mod cookie;
mod decision;
mod driver;
mod error;
mod events;
mod expiry;
mod id;
mod keys;
mod lifecycle;
mod manager;
mod memory;
#[cfg(feature = "metrics")]
mod metrics;
mod response;
mod session;
mod state;
mod store;
mod users;

#[doc(hidden)]
pub mod __private;
pub mod adapter;
#[cfg(feature = "testing")]
pub mod testing;

// What apps use.
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{
    ConfigError, FailureResponse, IdGenerator, SameSite, Secure, SessionCap, SessionConfig,
    SessionConfigBuilder, TouchPolicy, Transport, Unset,
};
pub use error::SessionError;
pub use events::{Event, EventHook, EventKind};
pub use expiry::{Expiry, ExpiryError, Lifetime};
pub use id::{IdError, SessionId};
pub use keys::{Key, KeyError, test_key};
pub use manager::{RequestMeta, SessionManager};
pub use memory::MemoryStore;
pub use session::Session;
pub use state::DataError;
/// The date and time crate of the config's durations and the store's
/// instants, re-exported so apps need no `time` dependency of their own.
pub use time;
pub use users::SessionInfo;

// Internal paths kept short for the crate's own modules.
#[allow(unused_imports)]
pub(crate) use cookie::Verdict;
#[allow(unused_imports)]
pub(crate) use keys::{KeyMatch, Keys};
#[allow(unused_imports)]
pub(crate) use state::State;

// What store authors use.
pub use async_trait::async_trait;
pub use id::StoreKey;
pub use store::{
    Admission, Cap, Created, Login, Record, Retired, Saved, Store, StoreAdmin, StoreError, Touched,
    UserIndex, Version,
};
