//! The sans-IO core of a framework-agnostic, server-side session system: what
//! express-session gives Node apps, for any Rust web framework.
//!
//! # Sessions, from a handler's side
//!
//! HTTP forgets everything between two requests. A session remembers for
//! one browser: the server keeps a small map of values (who is logged in, a
//! cart, a page-view count) in a store, and gives the browser a cookie that
//! names it. The cookie holds only a random id and its signature
//! (`<id>.<HMAC>`); the data never leaves the server.
//!
//! An app adds one adapter to its framework (`session-axum`'s
//! `SessionLayer`, `session-actix`'s `SessionMiddleware` or
//! `session-rocket`'s `SessionFairing`) with a [`SessionConfig`] and a
//! store ([`MemoryStore`] here, `RedisStore` from `session-redis`,
//! `PostgresStore`, `SqliteStore` or `MySqlStore` from `session-sqlx`).
//! Handlers then take a [`Session`], the counterpart of `req.session`:
//!
//! - [`get`](Session::get), [`insert`](Session::insert),
//!   [`remove`](Session::remove), [`clear`](Session::clear): typed values,
//!   any `serde` type, stored as JSON;
//! - [`update`](Session::update): a read-modify-write that stays exact when
//!   requests of one session run at the same time (counters);
//! - [`regenerate`](Session::regenerate) at login: a new id for the same
//!   data, so an id planted before the login is worthless (session
//!   fixation); [`set_user`](Session::set_user) ties the session to a user
//!   for [`devices`](Session::devices) and
//!   [`revoke_others`](Session::revoke_others);
//! - [`destroy`](Session::destroy) at logout: the record is deleted and the
//!   response removes the cookie;
//! - [`set_expiry`](Session::set_expiry) ("remember me"),
//!   [`reload`](Session::reload), [`save`](Session::save),
//!   [`touch`](Session::touch), [`id`](Session::id).
//!
//! The session loads lazily, on the first call: a request that never uses
//! it costs no store round trip. Changes are written once, after the
//! handler, before the response leaves. The login / dashboard / logout app
//! of every express-session tutorial, with the requests an adapter would
//! drive (each adapter does the `start` / `finish` part for you):
//!
//! ```
//! use session_core::{MemoryStore, RequestMeta, Session, SessionConfig, SessionError, SessionManager};
//!
//! async fn login(session: &Session, user: &str) -> Result<(), SessionError> {
//!     // Once the password checked out:
//!     session.regenerate().await?; // a new id: session fixation defence
//!     session.insert("user", user).await?;
//!     Ok(())
//! }
//!
//! async fn dashboard(session: &Session) -> Result<String, SessionError> {
//!     Ok(match session.get::<String>("user").await? {
//!         Some(user) => format!("Hello, {user}"),
//!         None => "Please log in".to_owned(),
//!     })
//! }
//!
//! fn logout(session: &Session) {
//!     session.destroy(); // record deleted, cookie removed
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // `openssl rand -base64 48` makes a key; without one, a random key
//! // (sessions then end with the process).
//! let config = SessionConfig::builder().key_from_env_or_random("SESSION_KEY").build()?;
//! let manager = SessionManager::new(config, MemoryStore::new());
//!
//! // POST /login, no cookie yet.
//! let session = manager.start([], RequestMeta::default());
//! login(&session, "ada").await?;
//! let set_cookie = manager.finish(&session).await?.expect("a new session sets a cookie");
//! assert!(set_cookie.value.contains("HttpOnly"));
//! let cookie = set_cookie.value.split(';').next().unwrap().to_owned();
//!
//! // GET /dashboard with the cookie; then POST /logout.
//! let session = manager.start([cookie.as_bytes()], RequestMeta::default());
//! assert_eq!(dashboard(&session).await?, "Hello, ada");
//! logout(&session);
//! let removal = manager.finish(&session).await?.expect("a logout removes the cookie");
//! assert!(removal.value.contains("Max-Age=0"));
//!
//! // The old cookie no longer names a session.
//! let session = manager.start([cookie.as_bytes()], RequestMeta::default());
//! assert_eq!(dashboard(&session).await?, "Please log in");
//! # Ok(())
//! # }
//! ```
//!
//! [`SessionConfig::builder`] holds every policy (cookie attributes, idle
//! and absolute timeouts, key rotation, the store-failure response, ...),
//! validated when built. A store failure answers 503 by default, never a
//! silently empty session.
//!
//! # Writing a store
//!
//! A custom store is one trait, [`Store`]: its docs state every rule, and
//! open with a complete store over a `Mutex<HashMap>`. The `testing`
//! feature's conformance suite checks a store against them.
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
