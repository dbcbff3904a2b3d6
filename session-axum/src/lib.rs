//! axum adapter for [`session_core`]: server-side sessions behind a signed
//! cookie, like express-session.
//!
//! Add [`SessionLayer`] with a config and a store, then take [`Session`] in
//! handlers:
//!
//! ```
//! use axum::{Router, routing::get};
//! use session_axum::{Session, SessionLayer};
//! use session_core::{MemoryStore, SessionConfig};
//!
//! async fn counter(session: Session) -> Result<String, session_axum::Error> {
//!     let views = session.update("views", |n: Option<u64>| n.unwrap_or(0) + 1).await?;
//!     Ok(format!("You have seen this page {views} times"))
//! }
//!
//! # fn main() -> Result<(), session_core::ConfigError> {
//! let config = SessionConfig::builder()
//!     // `openssl rand -base64 48` makes a key; without one, a random key
//!     // (sessions then end with the process).
//!     .key_from_env_or_random("SESSION_KEY")
//!     .build()?;
//! let app: Router = Router::new()
//!     .route("/", get(counter))
//!     .layer(SessionLayer::new(config, MemoryStore::new()));
//! # let _ = app;
//! # Ok(())
//! # }
//! ```
//!
//! The layer reads the `Cookie` header, hands handlers a lazy session (no
//! store call unless the handler uses it), and after the handler performs
//! the store calls and appends its `Set-Cookie` beside any the handler set.
//! When the store fails it answers with the configured failure response
//! (503 by default) without the error text and without a session cookie,
//! and logs the cause with `tracing`. Using [`Session`] on a route without
//! the layer answers 500 naming the missing layer.
//!
//! Works with `Router::layer`, `Router::route_layer`, nested routers,
//! `State` and other extractors. The session is saved when the handler
//! returns, before the response body streams: write to the session in the
//! handler, not from inside a streaming body.

mod extract;
mod layer;
mod service;

pub use extract::{Error, MissingSessionLayer, Session};
pub use layer::SessionLayer;
pub use service::SessionService;
pub use session_core;
#[cfg(feature = "testing")]
pub mod testing;
/// What a hello-world needs, so an app imports from this crate alone.
pub use session_core::{Expiry, MemoryStore, SameSite, Secure, SessionConfig, SessionError, time};
