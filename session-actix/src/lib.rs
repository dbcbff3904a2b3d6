//! actix-web adapter for [`session_core`]: server-side sessions behind a
//! signed cookie, like express-session.
//!
//! Wrap the app in [`SessionMiddleware`] with a config and a store, then
//! take [`Session`] in handlers:
//!
//! ```
//! use actix_web::{App, HttpResponse, test, web};
//! use session_actix::{Session, SessionMiddleware};
//! use session_core::{MemoryStore, SessionConfig};
//!
//! async fn counter(session: Session) -> Result<String, session_actix::Error> {
//!     let views = session.update("views", |n: Option<u64>| n.unwrap_or(0) + 1).await?;
//!     Ok(format!("You have seen this page {views} times"))
//! }
//!
//! # #[actix_web::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = SessionConfig::builder()
//!     // `openssl rand -base64 48` makes a key; without one, a random key
//!     // (sessions then end with the process).
//!     .key_from_env_or_random("SESSION_KEY")
//!     .build()?;
//! // Build the middleware once and clone it into every worker's App.
//! let sessions = SessionMiddleware::new(config, MemoryStore::new());
//! let app = test::init_service(
//!     App::new()
//!         .wrap(sessions.clone())
//!         .route("/", web::get().to(counter)),
//! )
//! .await;
//!
//! let res = test::call_service(&app, test::TestRequest::get().uri("/").to_request()).await;
//! assert!(res.headers().contains_key("set-cookie"));
//! assert_eq!(test::read_body(res).await, "You have seen this page 1 times");
//! # Ok(())
//! # }
//! ```
//!
//! With a real server: `HttpServer::new(move || App::new().wrap(sessions.clone())...)`.
//!
//! # What the middleware does
//!
//! Per request it reads the `Cookie` header (or the configured header
//! transport) and puts a lazy [`session_core::Session`] in the request
//! extensions: a request whose handler never touches the session makes no
//! store call. After the handler it performs the store calls the core
//! decided and *appends* its `Set-Cookie` beside any the handler set; the
//! response leaves only once the store write has finished, so the client's
//! next request sees this one's changes.
//!
//! When the store fails it answers with the configured failure response
//! (503 `session store unavailable` by default) without the error text and
//! without a session cookie, and logs the cause with `tracing`. Using
//! [`Session`] on a route without the middleware answers 500 naming
//! [`SessionMiddleware`] ([`MissingSessionMiddleware`]).
//!
//! Works with `App::wrap`, `Scope::wrap` (`web::scope`), `web::Data`, other
//! extractors and streaming bodies. The session is saved when the handler
//! returns, before the response body streams: write to the session in the
//! handler, not from inside a streaming body. Nothing in the adapter blocks
//! the worker or needs `Send` beyond what actix-web gives; the middleware's
//! future is a local one, as actix-web's workers are single-threaded.
//!
//! A handler's error is a response in actix-web, so the session is saved and
//! the cookie rides on the error response. Only when a middleware *inside*
//! [`SessionMiddleware`] returns `Err` (no response to carry a cookie) is the
//! request's session left unsaved, like a failed request.
//!
//! `Secure::Auto` treats a request as HTTPS when the server itself speaks
//! TLS (`HttpServer::bind_rustls`/`bind_openssl`), or when
//! `trust_proxy(true)` is set and `X-Forwarded-Proto` says `https`. Unlike
//! actix-web's `ConnectionInfo::scheme`, forwarding headers from untrusted
//! clients are ignored.
//!
//! # Migrating from `actix-session`
//!
//! | actix-session | here |
//! |---|---|
//! | `SessionMiddleware::new(store, key)` | [`SessionMiddleware::new(config, store)`](SessionMiddleware::new) with `SessionConfig::builder().key(..)` |
//! | `SessionMiddleware::builder(store, key)` `.cookie_name` `.cookie_secure` `.cookie_http_only` `.cookie_same_site` `.cookie_path` `.cookie_domain` `.build()` | [`SessionMiddleware::builder(store, key)`](SessionMiddleware::builder) with the same setters; `build()` returns `Result` (a bad key or an invalid cookie setting is a typed [`ConfigError`](session_core::ConfigError)); everything else through `.config(\|c\| ..)` |
//! | `Key` (64 bytes) | any secret of 32 bytes or more (`key.master()` works); `previous_key(..)` for rotation |
//! | `session.insert(k, v)?` / `session.get::<T>(k)?` | `session.insert(k, v).await?` / `session.get::<T>(k).await?` |
//! | `session.remove(k)` / `session.clear()` | `session.remove::<T>(k).await?` / `session.clear().await?` |
//! | `session.renew()` | `session.regenerate().await?` (new id, same data: call it at login) |
//! | `session.purge()` | `session.destroy()` (record deleted, cookie removed) |
//! | `SessionLength` / `PersistentSession::session_ttl` | `idle_timeout` plus an `absolute_timeout` cap, per app; per session `session.set_expiry(Expiry::Idle(..))` ("remember me", stored with the session) |
//! | `BrowserSession` | `browser_session_cookie(true)` or `Expiry::BrowserSession` |
//! | `TtlExtensionPolicy::OnEveryRequest` / `OnStateChanges` | `rolling(true)` (`TouchPolicy::Always`) / `TouchPolicy::Never`; the default `TouchPolicy::Threshold(0.8)` extends a read-only session only when less than 80% of its idle window remains |
//! | `SessionExt::get_session` | [`Session::of(&req)`](Session::of) |
//! | `CookieSessionStore`, `RedisSessionStore` | `MemoryStore`, `session-redis`, `session-sqlx` (no cookie-only store: data stays on the server) |
//!
//! Differences to expect:
//!
//! - **Lazy load.** Nothing is read from the store until the handler uses
//!   the session; every accessor is `async` and returns `Result`.
//! - **No lost updates.** Saves are compare-and-swap on a version; on a
//!   conflict the request's changes are replayed on the fresh record, so
//!   concurrent requests writing different keys both land and
//!   `session.update(k, |n| ..)` counters are exact. actix-session saves the
//!   whole state, last writer wins.
//! - **Store failures fail closed.** A store error while loading or saving
//!   answers the configured failure response (503 by default), never a
//!   fresh empty session and never the error text. actix-session answers
//!   500 from the middleware.
//! - **No unknown ids adopted.** A validly signed cookie for an id the store
//!   does not know gets a new id; ids are hashed at rest.
//! - **New empty sessions are not stored** (`save_uninitialized(false)`), and
//!   the cookie defaults are `HttpOnly`, `SameSite=Lax`, `Secure`: for plain
//!   HTTP during development use `Secure::Auto`.

mod extract;
mod middleware;

pub use extract::{Error, MissingSessionMiddleware, Session};
pub use middleware::{SessionMiddleware, SessionMiddlewareBuilder, SessionService};
pub use session_core;
#[cfg(feature = "testing")]
pub mod testing;
/// What a hello-world needs, so an app imports from this crate alone.
pub use session_core::{Expiry, MemoryStore, SameSite, Secure, SessionConfig, SessionError, time};
