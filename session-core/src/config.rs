//! `SessionConfig`: every policy of the session system, validated once.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use http::StatusCode;
use time::Duration;

use crate::id::SessionId;
use crate::keys::{Key, KeyError, Keys};

/// Whether the cookie carries the `Secure` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secure {
    /// Always (the default).
    Always,
    /// Never (plain-HTTP development only).
    Never,
    /// When the request came over HTTPS: its scheme was `https`, or
    /// [`SessionConfigBuilder::trust_proxy`] is on and `X-Forwarded-Proto`
    /// says `https`. A Secure cookie is never sent over plain HTTP.
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

/// A configuration error, reported by [`SessionConfigBuilder::build`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No signing key was given.
    #[error("no signing key: call `key(..)` with at least 32 secret bytes")]
    MissingKey,
    /// A signing key is unusable (`index` 0 is the current key, then the
    /// previous keys in order).
    #[error("signing key {index} is unusable")]
    Key {
        /// Which key.
        index: usize,
        /// Why.
        #[source]
        source: KeyError,
    },
    /// The cookie name is empty or has characters a cookie name cannot have.
    #[error("invalid cookie name {0:?}")]
    CookieName(String),
    /// The cookie path does not start with `/` or has forbidden characters.
    #[error("invalid cookie path {0:?}")]
    CookiePath(String),
    /// The cookie domain has forbidden characters.
    #[error("invalid cookie domain {0:?}")]
    CookieDomain(String),
    /// `SameSite=None`, `Partitioned` and the `__Secure-`/`__Host-` prefixes
    /// need `Secure`.
    #[error("{0} requires the Secure attribute")]
    NeedsSecure(&'static str),
    /// A `__Host-` cookie must have `Path=/` and no `Domain`.
    #[error("a __Host- cookie must have Path=/ and no Domain")]
    HostPrefix,
    /// Neither an idle timeout nor an absolute lifetime was set, or one is
    /// not positive.
    #[error("invalid expiry: {0}")]
    Expiry(&'static str),
    /// The touch threshold is not in (0, 1].
    #[error("touch threshold must be in (0, 1]")]
    TouchThreshold,
    /// The maximum payload size is zero.
    #[error("max payload bytes must be positive")]
    MaxPayload,
    /// The failure status is not a 4xx or 5xx status.
    #[error("failure status must be 4xx or 5xx")]
    FailureStatus,
}

/// The validated configuration. Build it with [`SessionConfig::builder`].
#[derive(Clone)]
pub struct SessionConfig {
    pub(crate) cookie_name: String,
    pub(crate) path: String,
    pub(crate) domain: Option<String>,
    pub(crate) secure: Secure,
    pub(crate) trust_proxy: bool,
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
    pub(crate) max_cookie_bytes: usize,
    pub(crate) id_generator: Option<IdGenerator>,
    pub(crate) failure: FailureResponse,
    pub(crate) hash_ids: bool,
    pub(crate) max_retries: u32,
    pub(crate) max_per_user: Option<(usize, SessionCap)>,
}

impl fmt::Debug for SessionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionConfig")
            .field("cookie_name", &self.cookie_name)
            .field("path", &self.path)
            .field("domain", &self.domain)
            .field("secure", &self.secure)
            .field("trust_proxy", &self.trust_proxy)
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
    /// The signing keys.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// Whether a request is a secure context for the `Secure` attribute:
    /// `scheme_https` is what the adapter knows of its own connection,
    /// `forwarded_proto` the raw `X-Forwarded-Proto` value, if any.
    pub fn is_secure_request(&self, scheme_https: bool, forwarded_proto: Option<&[u8]>) -> bool {
        scheme_https
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

/// Builder for [`SessionConfig`]; every setter is optional except a key.
#[derive(Clone)]
pub struct SessionConfigBuilder {
    cookie_name: String,
    path: String,
    domain: Option<String>,
    secure: Secure,
    trust_proxy: bool,
    http_only: bool,
    same_site: SameSite,
    partitioned: bool,
    key: Option<Vec<u8>>,
    previous_keys: Vec<Vec<u8>>,
    transport: Transport,
    idle_timeout: Option<Duration>,
    absolute_timeout: Option<Duration>,
    browser_session_cookie: bool,
    touch: TouchPolicy,
    rolling: bool,
    save_uninitialized: bool,
    unset: Unset,
    max_payload_bytes: usize,
    id_generator: Option<IdGenerator>,
    failure: FailureResponse,
    hash_ids: bool,
    max_retries: u32,
    max_per_user: Option<(usize, SessionCap)>,
}

impl fmt::Debug for SessionConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionConfigBuilder")
            .field("cookie_name", &self.cookie_name)
            .finish_non_exhaustive()
    }
}

impl Default for SessionConfigBuilder {
    fn default() -> Self {
        Self {
            cookie_name: "id".to_owned(),
            path: "/".to_owned(),
            domain: None,
            secure: Secure::Always,
            trust_proxy: false,
            http_only: true,
            same_site: SameSite::Lax,
            partitioned: false,
            key: None,
            previous_keys: Vec::new(),
            transport: Transport::Cookie,
            idle_timeout: Some(Duration::hours(24)),
            absolute_timeout: Some(Duration::days(7)),
            browser_session_cookie: false,
            touch: TouchPolicy::Threshold(0.8),
            rolling: false,
            save_uninitialized: false,
            unset: Unset::Keep,
            max_payload_bytes: 64 * 1024,
            id_generator: None,
            failure: FailureResponse::default(),
            hash_ids: true,
            max_retries: 256,
            max_per_user: None,
        }
    }
}

impl SessionConfigBuilder {
    /// Cookie name (default `id`). Names starting with `__Host-` or
    /// `__Secure-` get their prefix rules checked.
    pub fn cookie_name(mut self, name: impl Into<String>) -> Self {
        self.cookie_name = name.into();
        self
    }
    /// Cookie path (default `/`).
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }
    /// Cookie domain (default none: host-only).
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }
    /// Secure policy (default [`Secure::Always`]).
    pub fn secure(mut self, secure: Secure) -> Self {
        self.secure = secure;
        self
    }
    /// Trust `X-Forwarded-Proto` for [`Secure::Auto`] (default false; turn on
    /// only behind a proxy that sets it).
    pub fn trust_proxy(mut self, trust: bool) -> Self {
        self.trust_proxy = trust;
        self
    }
    /// HttpOnly (default true).
    pub fn http_only(mut self, on: bool) -> Self {
        self.http_only = on;
        self
    }
    /// SameSite (default Lax).
    pub fn same_site(mut self, same_site: SameSite) -> Self {
        self.same_site = same_site;
        self
    }
    /// Partitioned, for third-party contexts (default false).
    pub fn partitioned(mut self, on: bool) -> Self {
        self.partitioned = on;
        self
    }
    /// The current signing key (express-session's `secret`); at least 32
    /// bytes, checked by [`build`](Self::build).
    pub fn key(mut self, secret: impl AsRef<[u8]>) -> Self {
        self.key = Some(secret.as_ref().to_vec());
        self
    }
    /// A random 64-byte key, for development: sessions do not survive a
    /// restart of the process, nor work across several instances.
    pub fn random_key(mut self) -> Self {
        let mut secret = Vec::with_capacity(64);
        secret.extend_from_slice(SessionId::random().as_bytes());
        secret.extend_from_slice(SessionId::random().as_bytes());
        self.key = Some(secret);
        self
    }
    /// A previous signing key, still accepted (key rotation). Values signed
    /// with it are re-issued with the current key.
    pub fn previous_key(mut self, secret: impl AsRef<[u8]>) -> Self {
        self.previous_keys.push(secret.as_ref().to_vec());
        self
    }
    /// How the signed id travels (default a cookie).
    pub fn transport(mut self, transport: Transport) -> Self {
        self.transport = transport;
        self
    }
    /// Idle timeout: a session unused this long expires (default 24 hours;
    /// `None` for no idle timeout).
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_timeout = timeout;
        self
    }
    /// Absolute lifetime cap from creation that no activity extends (default
    /// 7 days; `None` for none).
    pub fn absolute_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.absolute_timeout = timeout;
        self
    }
    /// Send a browser-session cookie (no Max-Age/Expires) while the store
    /// still enforces the timeouts (default false).
    pub fn browser_session_cookie(mut self, on: bool) -> Self {
        self.browser_session_cookie = on;
        self
    }
    /// When a read-only request extends the session (default
    /// `Threshold(0.8)`).
    pub fn touch_policy(mut self, policy: TouchPolicy) -> Self {
        self.touch = policy;
        self
    }
    /// express-session's `rolling`: re-send the cookie with a fresh expiry on
    /// every response of a request that has a session, and extend the
    /// session in the store every time (implies [`TouchPolicy::Always`]).
    pub fn rolling(mut self, on: bool) -> Self {
        self.rolling = on;
        if on {
            self.touch = TouchPolicy::Always;
        }
        self
    }
    /// Store new sessions that hold no data (default false).
    pub fn save_uninitialized(mut self, on: bool) -> Self {
        self.save_uninitialized = on;
        self
    }
    /// What to do when a session's data becomes empty (default keep).
    pub fn unset(mut self, unset: Unset) -> Self {
        self.unset = unset;
        self
    }
    /// Largest serialized session data, in bytes (default 64 KiB).
    pub fn max_payload_bytes(mut self, bytes: usize) -> Self {
        self.max_payload_bytes = bytes;
        self
    }
    /// Id generator hook (express-session's `genid`).
    pub fn id_generator(mut self, generator: IdGenerator) -> Self {
        self.id_generator = Some(generator);
        self
    }
    /// Status and body sent when the store fails (default 503).
    pub fn failure_response(
        mut self,
        status: StatusCode,
        body: impl Into<Cow<'static, str>>,
    ) -> Self {
        self.failure = FailureResponse {
            status,
            body: body.into(),
        };
        self
    }
    /// Hash ids at rest (default true): stores see SHA-256 of the id only.
    pub fn hash_ids_at_rest(mut self, on: bool) -> Self {
        self.hash_ids = on;
        self
    }
    /// At most `max` concurrent sessions per user (needs a store with a user
    /// index); `policy` says what happens at a login beyond it. Default: no
    /// cap.
    pub fn max_sessions_per_user(mut self, max: usize, policy: SessionCap) -> Self {
        self.max_per_user = Some((max.max(1), policy));
        self
    }
    /// Bound on compare-and-swap retries after a conflict (default 256: enough for 32 concurrent writers on one session, see RELIABILITY.md).
    pub fn max_conflict_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// Validates and builds the configuration.
    pub fn build(self) -> Result<SessionConfig, ConfigError> {
        let secret = self.key.as_deref().ok_or(ConfigError::MissingKey)?;
        let mut keys =
            Keys::new(Key::new(secret).map_err(|source| ConfigError::Key { index: 0, source })?);
        for (i, k) in self.previous_keys.iter().enumerate() {
            keys = keys.with_previous(Key::new(k).map_err(|source| ConfigError::Key {
                index: i + 1,
                source,
            })?);
        }
        let tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
        if self.cookie_name.is_empty() || !self.cookie_name.bytes().all(tchar) {
            return Err(ConfigError::CookieName(self.cookie_name));
        }
        let attr_ok = |s: &str| s.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b';');
        if !self.path.starts_with('/') || !attr_ok(&self.path) {
            return Err(ConfigError::CookiePath(self.path));
        }
        if let Some(d) = &self.domain
            && (d.is_empty() || !attr_ok(d) || d.contains(' '))
        {
            return Err(ConfigError::CookieDomain(d.clone()));
        }
        let secure_possible = self.secure != Secure::Never;
        if self.same_site == SameSite::None && !secure_possible {
            return Err(ConfigError::NeedsSecure("SameSite=None"));
        }
        if self.partitioned && !secure_possible {
            return Err(ConfigError::NeedsSecure("Partitioned"));
        }
        let host = self.cookie_name.starts_with("__Host-");
        if (host || self.cookie_name.starts_with("__Secure-")) && self.secure != Secure::Always {
            return Err(ConfigError::NeedsSecure(
                "a __Host- or __Secure- cookie name",
            ));
        }
        if host && (self.path != "/" || self.domain.is_some()) {
            return Err(ConfigError::HostPrefix);
        }
        if self.idle_timeout.is_none() && self.absolute_timeout.is_none() {
            return Err(ConfigError::Expiry(
                "set an idle timeout, an absolute timeout, or both",
            ));
        }
        for d in [self.idle_timeout, self.absolute_timeout]
            .into_iter()
            .flatten()
        {
            match crate::expiry::check_window(d) {
                Ok(()) => {}
                Err(crate::expiry::ExpiryError::NotPositive) => {
                    return Err(ConfigError::Expiry("timeouts must be positive"));
                }
                Err(_) => return Err(ConfigError::Expiry("timeouts must be at most 400 days")),
            }
        }
        if let TouchPolicy::Threshold(t) = self.touch
            && !(t > 0.0 && t <= 1.0)
        {
            return Err(ConfigError::TouchThreshold);
        }
        if self.max_payload_bytes == 0 {
            return Err(ConfigError::MaxPayload);
        }
        if !(self.failure.status.is_client_error() || self.failure.status.is_server_error()) {
            return Err(ConfigError::FailureStatus);
        }
        Ok(SessionConfig {
            cookie_name: self.cookie_name,
            path: self.path,
            domain: self.domain,
            secure: self.secure,
            trust_proxy: self.trust_proxy,
            http_only: self.http_only,
            same_site: self.same_site,
            partitioned: self.partitioned,
            keys,
            transport: self.transport,
            idle_timeout: self.idle_timeout,
            absolute_timeout: self.absolute_timeout,
            browser_session_cookie: self.browser_session_cookie,
            touch: self.touch,
            rolling: self.rolling,
            save_uninitialized: self.save_uninitialized,
            unset: self.unset,
            max_payload_bytes: self.max_payload_bytes,
            max_cookie_bytes: 4096,
            id_generator: self.id_generator,
            failure: self.failure,
            hash_ids: self.hash_ids,
            max_retries: self.max_retries,
            max_per_user: self.max_per_user,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b() -> SessionConfigBuilder {
        SessionConfig::builder().key([7u8; 32])
    }

    #[test]
    fn defaults_are_secure() {
        let c = b().build().unwrap();
        assert_eq!(c.secure(), Secure::Always);
        assert!(c.http_only());
        assert_eq!(c.same_site(), SameSite::Lax);
        assert!(!c.save_uninitialized);
        assert!(c.hash_ids);
        assert!(c.idle_timeout().is_some() && c.absolute_timeout().is_some());
        assert_eq!(c.failure_response().status, StatusCode::SERVICE_UNAVAILABLE);
    }

    #[test]
    fn validation_errors_are_typed() {
        assert_eq!(
            SessionConfig::builder().build().unwrap_err(),
            ConfigError::MissingKey
        );
        assert!(matches!(
            SessionConfig::builder().key([1u8; 31]).build().unwrap_err(),
            ConfigError::Key { index: 0, .. }
        ));
        assert!(matches!(
            b().previous_key([1u8; 40])
                .previous_key([1u8; 3])
                .build()
                .unwrap_err(),
            ConfigError::Key { index: 2, .. }
        ));
        assert!(matches!(
            b().cookie_name("a b").build().unwrap_err(),
            ConfigError::CookieName(_)
        ));
        assert!(matches!(
            b().cookie_name("").build().unwrap_err(),
            ConfigError::CookieName(_)
        ));
        assert!(matches!(
            b().cookie_name("a;b").build().unwrap_err(),
            ConfigError::CookieName(_)
        ));
        assert!(matches!(
            b().path("x").build().unwrap_err(),
            ConfigError::CookiePath(_)
        ));
        assert!(matches!(
            b().path("/a;b").build().unwrap_err(),
            ConfigError::CookiePath(_)
        ));
        assert!(matches!(
            b().domain("a;b").build().unwrap_err(),
            ConfigError::CookieDomain(_)
        ));
        assert_eq!(
            b().secure(Secure::Never)
                .same_site(SameSite::None)
                .build()
                .unwrap_err(),
            ConfigError::NeedsSecure("SameSite=None")
        );
        assert_eq!(
            b().secure(Secure::Never)
                .partitioned(true)
                .build()
                .unwrap_err(),
            ConfigError::NeedsSecure("Partitioned")
        );
        assert!(matches!(
            b().cookie_name("__Host-id")
                .secure(Secure::Auto)
                .build()
                .unwrap_err(),
            ConfigError::NeedsSecure(_)
        ));
        assert_eq!(
            b().cookie_name("__Host-id")
                .path("/app")
                .build()
                .unwrap_err(),
            ConfigError::HostPrefix
        );
        assert!(b().cookie_name("__Host-id").build().is_ok());
        assert!(matches!(
            b().idle_timeout(None)
                .absolute_timeout(None)
                .build()
                .unwrap_err(),
            ConfigError::Expiry(_)
        ));
        assert!(matches!(
            b().idle_timeout(Some(Duration::ZERO)).build().unwrap_err(),
            ConfigError::Expiry(_)
        ));
        assert!(matches!(
            b().absolute_timeout(Some(Duration::seconds(-1)))
                .build()
                .unwrap_err(),
            ConfigError::Expiry(_)
        ));
        // Issue 14, case 6: an unbounded idle window used to wrap when
        // encoded, so the record no longer decoded.
        for huge in [Duration::MAX, Duration::days(401)] {
            assert!(matches!(
                b().idle_timeout(Some(huge)).build().unwrap_err(),
                ConfigError::Expiry(_)
            ));
            assert!(matches!(
                b().absolute_timeout(Some(huge)).build().unwrap_err(),
                ConfigError::Expiry(_)
            ));
        }
        assert!(b().idle_timeout(Some(Duration::days(400))).build().is_ok());
        assert_eq!(
            b().touch_policy(TouchPolicy::Threshold(1.5))
                .build()
                .unwrap_err(),
            ConfigError::TouchThreshold
        );
        assert_eq!(
            b().max_payload_bytes(0).build().unwrap_err(),
            ConfigError::MaxPayload
        );
        assert_eq!(
            b().failure_response(StatusCode::OK, "x")
                .build()
                .unwrap_err(),
            ConfigError::FailureStatus
        );
    }

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
    }
}
