//! Rocket adapter for [`session_core`]: server-side sessions behind a signed
//! cookie, like express-session.
//!
//! Attach [`SessionFairing`] with a config and a store, then take
//! [`Session`] as a request guard:
//!
//! ```no_run
//! use rocket::{get, routes};
//! use session_core::{MemoryStore, SessionConfig};
//! use session_rocket::{Session, SessionFairing};
//!
//! #[get("/")]
//! async fn counter(session: Session) -> Result<String, session_rocket::Error> {
//!     let views = session.update("views", |n: Option<u64>| n.unwrap_or(0) + 1).await?;
//!     Ok(format!("You have seen this page {views} times"))
//! }
//!
//! #[rocket::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let config = SessionConfig::builder()
//!         .key(std::env::var("SESSION_KEY")?)
//!         .build()?;
//!     rocket::build()
//!         .mount("/", routes![counter])
//!         .attach(SessionFairing::new(config, MemoryStore::new()))
//!         .launch()
//!         .await?;
//!     Ok(())
//! }
//! ```
//!
//! # How it works
//!
//! Rocket has no around-middleware (nothing wraps a handler's future), so
//! the adapter has two halves that meet in request-local state:
//!
//! 1. The [`Session`] guard starts the request's session the first time a
//!    guard asks for it, from the `Cookie` header (all its values) and
//!    whether the request came over TLS or, with
//!    `SessionConfigBuilder::trust_proxy`, `X-Forwarded-Proto: https`. This
//!    only verifies the cookie's signature: the session loads from the store
//!    lazily, on the handler's first `get`/`insert`/..., so a route that
//!    takes the guard but never touches it makes no store call. Every guard
//!    of one request gets the same session. (Requests of Rocket's local
//!    test client carry their cookies in the jar instead of a `Cookie`
//!    header; when there is no header the guard reads the session cookie
//!    from the jar, so `Client::tracked` works as usual.)
//! 2. The fairing's response callback runs after the handler and any error
//!    catcher, and after Rocket added the cookies of its own
//!    [`CookieJar`](rocket::http::CookieJar). If a session was started for
//!    the request it is flushed there: the store calls the core decided
//!    (create, save, touch, delete), then the session's `Set-Cookie` is
//!    *appended*, so the handler's own cookies, private cookies included,
//!    stay in the same response.
//!
//! The response leaves only after the store write finished, so the next
//! request of the same client sees this one's changes. A write is kept
//! whatever the handler answered: an error status, an `Err(Status)` that
//! went through a catcher, or a streaming responder (the flush happens
//! before the body streams; write to the session in the handler, not from
//! inside the stream).
//!
//! # Failures
//!
//! When a store call of the request failed (while loading inside the
//! handler, or while saving in the fairing) the whole response is replaced
//! by the configured failure response (503 `session store unavailable` by
//! default): no error text, no session cookie; the cause is logged with
//! `tracing`. Handlers that return [`Error`] (`?` on session calls) answer
//! 503 / 413 `too large` / 500 `error` themselves.
//!
//! Rocket drops request header values that are not UTF-8 before any guard
//! sees them: a `Cookie` header with such bytes is as good as absent, and
//! the request gets a fresh session.
//!
//! Using [`Session`] without the fairing attached fails the guard with a
//! 500 and [`MissingFairing`], whose message names `SessionFairing` (Rocket
//! logs it); it never panics.

mod fairing;
mod guard;

pub use fairing::SessionFairing;
pub use guard::{Error, MissingFairing, Session};
pub use session_core;
#[cfg(feature = "testing")]
pub mod testing;
/// What a hello-world needs, so an app imports from this crate alone.
pub use session_core::{Expiry, MemoryStore, SameSite, Secure, SessionConfig, SessionError, time};
