//! `SessionConfig`: every policy of the session system, validated once by
//! its builder (`builder.rs`).

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use http::StatusCode;
use time::Duration;

use crate::id::SessionId;
use crate::keys::Keys;

mod builder;

pub use builder::{ConfigError, SessionConfigBuilder};

/// Whether the cookie carries the `Secure` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secure {
    /// Always (the default).
    Always,
    /// Never (plain-HTTP development only).
    Never,
    /// When the request came over HTTPS, as far as the server knows: the
    /// connection itself is TLS (the adapter knows it from its server, or
    /// [`SessionConfigBuilder::tls_connections`] says every connection is),
    /// or [`SessionConfigBuilder::trust_proxy`] is on and
    /// `X-Forwarded-Proto` says `https`. Under `Auto` a request over plain
    /// HTTP gets a cookie without `Secure`. The request-target's scheme
    /// (`GET https://host/ HTTP/1.1`) is chosen by the client and never
    /// counts.
    ///
    /// The default, [`Secure::Always`], is not this rule: it sends a
    /// `Secure` cookie even in answer to a plain-HTTP request, as Django,
    /// Rails and tower-sessions do. That avoids express-session's trap of
    /// "no session behind a TLS proxy" (the app sees plain HTTP), and it is
    /// safe: the browser never returns a `Secure` cookie over HTTP.
    Auto,
}

/// The `SameSite` cookie attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    /// `SameSite=Strict`.
    Strict,
    /// `SameSite=Lax` (the default).
    Lax,
    /// `SameSite=None` (requires `Secure`).
    None,
}

/// How the signed session id travels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// In a cookie (the default).
    Cookie,
    /// In a request header such as `X-Session-Id` (for API clients); the
    /// response carries the new value in the same header when it changes.
    Header(http::HeaderName),
    /// In `Authorization: Bearer <value>`; the response carries a new value
    /// in the `X-Session-Token` header when it changes.
    Bearer,
}

/// When a read-only request extends an idle-timeout session in the store.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TouchPolicy {
    /// Extend when less than this fraction of the idle window remains
    /// (default 0.8: a session read continuously is written at most about
    /// once per fifth of its idle window).
    Threshold(f64),
    /// Extend on every request that loads the session (express-session's
    /// `resave`/`rolling` behaviour).
    Always,
    /// Never extend without a write: the idle window counts from the last
    /// modification.
    Never,
}

/// What happens to a session whose data becomes empty (express-session's
/// `unset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unset {
    /// Keep the (empty) record (the default, like express-session's `keep`).
    Keep,
    /// Destroy the session when its last key is removed.
    Destroy,
}

/// What happens at login when a user already has the maximum number of
/// sessions ([`SessionConfigBuilder::max_sessions_per_user`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionCap {
    /// The new session is kept and the user's oldest sessions are revoked.
    RevokeOldest,
    /// `Session::set_user` fails with `SessionError::TooManySessions`.
    RefuseLogin,
}

/// The response an adapter sends when the store fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureResponse {
    /// Status code (default 503).
    pub status: StatusCode,
    /// Plain-text body (default "session store unavailable"). Never contains
    /// the store's error.
    pub body: Cow<'static, str>,
}

impl Default for FailureResponse {
    fn default() -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            body: Cow::Borrowed("session store unavailable"),
        }
    }
}

/// A hook that makes session ids (express-session's `genid`). It must return
/// unpredictable ids; the default draws 256 bits from the OS CSPRNG.
pub type IdGenerator = Arc<dyn Fn() -> SessionId + Send + Sync>;

/// The validated configuration. Build it with [`SessionConfig::builder`].
#[derive(Clone)]
pub struct SessionConfig {
    // Each field is written here, and set by the builder's setter on its
    // draft `SessionConfig`; its default is in `SessionConfigBuilder::default`.
    pub(crate) cookie_name: String,
    pub(crate) path: String,
    pub(crate) domain: Option<String>,
    pub(crate) secure: Secure,
    pub(crate) trust_proxy: bool,
    pub(crate) tls_connections: bool,
    pub(crate) http_only: bool,
    pub(crate) same_site: SameSite,
    pub(crate) partitioned: bool,
    pub(crate) keys: Keys,
    pub(crate) transport: Transport,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) absolute_timeout: Option<Duration>,
    pub(crate) browser_session_cookie: bool,
    pub(crate) touch: TouchPolicy,
    pub(crate) rolling: bool,
    pub(crate) save_uninitialized: bool,
    pub(crate) unset: Unset,
    pub(crate) max_payload_bytes: usize,
    pub(crate) id_generator: Option<IdGenerator>,
    pub(crate) failure: FailureResponse,
    pub(crate) hash_ids: bool,
    pub(crate) max_retries: u32,
    pub(crate) max_per_user: Option<(usize, SessionCap)>,
    pub(crate) cache_headers: bool,
    pub(crate) save_on_server_error: bool,
}

impl fmt::Debug for SessionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionConfig")
            .field("cookie_name", &self.cookie_name)
            .field("path", &self.path)
            .field("domain", &self.domain)
            .field("secure", &self.secure)
            .field("trust_proxy", &self.trust_proxy)
            .field("tls_connections", &self.tls_connections)
            .field("http_only", &self.http_only)
            .field("same_site", &self.same_site)
            .field("partitioned", &self.partitioned)
            .field("transport", &self.transport)
            .field("idle_timeout", &self.idle_timeout)
            .field("absolute_timeout", &self.absolute_timeout)
            .field("browser_session_cookie", &self.browser_session_cookie)
            .field("touch", &self.touch)
            .field("rolling", &self.rolling)
            .field("save_uninitialized", &self.save_uninitialized)
            .field("unset", &self.unset)
            .field("max_payload_bytes", &self.max_payload_bytes)
            .field("failure", &self.failure)
            .field("hash_ids", &self.hash_ids)
            .field("cache_headers", &self.cache_headers)
            .field("save_on_server_error", &self.save_on_server_error)
            .finish_non_exhaustive()
    }
}

impl SessionConfig {
    /// A builder with the secure defaults.
    pub fn builder() -> SessionConfigBuilder {
        SessionConfigBuilder::default()
    }

    /// The cookie name.
    pub fn cookie_name(&self) -> &str {
        &self.cookie_name
    }
    /// The cookie path.
    pub fn path(&self) -> &str {
        &self.path
    }
    /// The cookie domain, if any.
    pub fn domain(&self) -> Option<&str> {
        self.domain.as_deref()
    }
    /// The Secure policy.
    pub fn secure(&self) -> Secure {
        self.secure
    }
    /// Whether `X-Forwarded-Proto` is trusted.
    pub fn trust_proxy(&self) -> bool {
        self.trust_proxy
    }
    /// Whether every connection is TLS (the app terminates TLS in process).
    pub fn tls_connections(&self) -> bool {
        self.tls_connections
    }
    /// Whether the cookie is HttpOnly.
    pub fn http_only(&self) -> bool {
        self.http_only
    }
    /// The SameSite attribute.
    pub fn same_site(&self) -> SameSite {
        self.same_site
    }
    /// Whether the cookie is Partitioned (CHIPS).
    pub fn partitioned(&self) -> bool {
        self.partitioned
    }
    /// How the id travels.
    pub fn transport(&self) -> &Transport {
        &self.transport
    }
    /// The idle timeout.
    pub fn idle_timeout(&self) -> Option<Duration> {
        self.idle_timeout
    }
    /// The absolute lifetime cap.
    pub fn absolute_timeout(&self) -> Option<Duration> {
        self.absolute_timeout
    }
    /// The touch policy.
    pub fn touch_policy(&self) -> TouchPolicy {
        self.touch
    }
    /// The largest serialized session data accepted, in bytes.
    pub fn max_payload_bytes(&self) -> usize {
        self.max_payload_bytes
    }
    /// The response adapters send when the store fails.
    pub fn failure_response(&self) -> &FailureResponse {
        &self.failure
    }
    /// The per-user session cap, if any.
    pub fn max_sessions_per_user(&self) -> Option<(usize, SessionCap)> {
        self.max_per_user
    }
    /// Whether responses get the cache rules (`Cache-Control: no-store`,
    /// `Vary`).
    pub fn cache_headers(&self) -> bool {
        self.cache_headers
    }
    /// Whether a request answered 5xx still stores its writes.
    pub fn save_on_server_error(&self) -> bool {
        self.save_on_server_error
    }
    /// The signing keys.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// Whether a request is a secure context for the `Secure` attribute:
    /// `connection_tls` is what the adapter's server says of the connection
    /// (never the request-target's scheme, which the client chooses),
    /// `forwarded_proto` the raw `X-Forwarded-Proto` value, if any.
    pub fn is_secure_request(&self, connection_tls: bool, forwarded_proto: Option<&[u8]>) -> bool {
        connection_tls
            || self.tls_connections
            || (self.trust_proxy
                && forwarded_proto
                    .and_then(|v| v.split(|b| *b == b',').next())
                    .is_some_and(|v| v.trim_ascii().eq_ignore_ascii_case(b"https")))
    }

    pub(crate) fn new_id(&self) -> SessionId {
        match &self.id_generator {
            Some(g) => g(),
            None => SessionId::random(),
        }
    }

    pub(crate) fn store_key(&self, id: &SessionId) -> crate::StoreKey {
        if self.hash_ids {
            id.hashed_key()
        } else {
            id.plain_key()
        }
    }
}

/// The defaults with the test key of `label`: what most tests configure.
#[cfg(any(test, feature = "testing"))]
pub(crate) fn test_config(label: &str) -> SessionConfig {
    SessionConfig::builder()
        .key(crate::test_key(label))
        .build()
        .unwrap_or_else(|e| panic!("test config: {e}"))
}

#[cfg(test)]
mod tests {
    use super::Secure;
    use super::builder::tests::b;

    #[test]
    fn secure_request_detection() {
        let c = b().secure(Secure::Auto).build().unwrap();
        assert!(c.is_secure_request(true, None));
        assert!(!c.is_secure_request(false, Some(b"https")));
        let c = b().secure(Secure::Auto).trust_proxy(true).build().unwrap();
        assert!(c.is_secure_request(false, Some(b"HTTPS")));
        assert!(c.is_secure_request(false, Some(b" https , http")));
        assert!(!c.is_secure_request(false, Some(b"http")));
        assert!(!c.is_secure_request(false, Some(b"\xff")));
        let c = b()
            .secure(Secure::Auto)
            .tls_connections(true)
            .build()
            .unwrap();
        assert!(c.is_secure_request(false, None));
    }
}
