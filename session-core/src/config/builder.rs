//! [`SessionConfigBuilder`]: setters on a draft [`SessionConfig`], checked
//! once by [`SessionConfigBuilder::build`]. The calls commute: the outcome
//! never depends on their order.

use std::borrow::Cow;
use std::fmt;

use http::StatusCode;
use time::Duration;

use super::{
    FailureResponse, IdGenerator, SameSite, Secure, SessionCap, SessionConfig, TouchPolicy,
    Transport, Unset,
};
use crate::id::SessionId;
use crate::keys::{Key, KeyError, Keys};

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
    /// `rolling(true)` extends the session on every request
    /// ([`TouchPolicy::Always`]), and a different touch policy was set.
    #[error("rolling(true) needs TouchPolicy::Always; another touch policy was set")]
    RollingTouchPolicy,
    /// `max_sessions_per_user(0, ..)`: no user could ever log in.
    #[error("max sessions per user must be at least 1")]
    SessionCapZero,
}

/// Builder for [`SessionConfig`]; every setter is optional except a key.
#[derive(Clone)]
pub struct SessionConfigBuilder {
    /// The configuration being built. Its `keys` are a random placeholder
    /// until [`build`](Self::build) replaces them with the keys given (or
    /// refuses the build with [`ConfigError::MissingKey`]); its `touch` is
    /// decided by `build` from `touch` and `rolling`.
    draft: SessionConfig,
    key: Option<Vec<u8>>,
    previous_keys: Vec<Vec<u8>>,
    /// The touch policy set explicitly, if any.
    touch: Option<TouchPolicy>,
}

impl fmt::Debug for SessionConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionConfigBuilder")
            .field("draft", &self.draft)
            .field("touch", &self.touch)
            .finish_non_exhaustive()
    }
}

/// The touch policy without `rolling` or an explicit policy.
const DEFAULT_TOUCH: TouchPolicy = TouchPolicy::Threshold(0.8);

impl Default for SessionConfigBuilder {
    fn default() -> Self {
        Self {
            draft: SessionConfig {
                cookie_name: "id".to_owned(),
                path: "/".to_owned(),
                domain: None,
                secure: Secure::Always,
                trust_proxy: false,
                tls_connections: false,
                http_only: true,
                same_site: SameSite::Lax,
                partitioned: false,
                keys: Keys::new(Key::generate()),
                transport: Transport::Cookie,
                idle_timeout: Some(Duration::hours(24)),
                absolute_timeout: Some(Duration::days(7)),
                browser_session_cookie: false,
                touch: DEFAULT_TOUCH,
                rolling: false,
                save_uninitialized: false,
                unset: Unset::Keep,
                max_payload_bytes: 64 * 1024,
                id_generator: None,
                failure: FailureResponse::default(),
                hash_ids: true,
                max_retries: 256,
                max_per_user: None,
                cache_headers: true,
                save_on_server_error: false,
            },
            key: None,
            previous_keys: Vec::new(),
            touch: None,
        }
    }
}

impl SessionConfigBuilder {
    /// Cookie name (default `id`). Names starting with `__Host-` or
    /// `__Secure-` get their prefix rules checked.
    pub fn cookie_name(mut self, name: impl Into<String>) -> Self {
        self.draft.cookie_name = name.into();
        self
    }
    /// Cookie path (default `/`).
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.draft.path = path.into();
        self
    }
    /// Cookie domain (default none: host-only).
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.draft.domain = Some(domain.into());
        self
    }
    /// Every connection is TLS (default false): for an app that terminates
    /// TLS in process (axum-server, hyper-rustls, a TLS acceptor of its
    /// own), whose adapter cannot see the connection. Under [`Secure::Auto`]
    /// every cookie then gets `Secure`. Behind a TLS proxy use
    /// [`trust_proxy`](Self::trust_proxy) instead.
    ///
    /// ```
    /// use session_core::{Secure, SessionConfig};
    /// let config = SessionConfig::builder()
    ///     .key(session_core::test_key("docs"))
    ///     .secure(Secure::Auto)
    ///     .tls_connections(true)
    ///     .build()?;
    /// assert!(config.is_secure_request(false, None));
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    pub fn tls_connections(mut self, on: bool) -> Self {
        self.draft.tls_connections = on;
        self
    }
    /// The cache rules (default on): a response that sets or clears the
    /// session cookie gets `Cache-Control: no-store` (overriding a
    /// handler's `public` or `max-age`, the combination that lets a shared
    /// cache serve one user's cookie to another), and a response of a
    /// request that used its session gets `Vary` naming the transport's
    /// header (`Cookie`, the custom header, or `Authorization`). Turn off
    /// only if something else sets these headers.
    ///
    /// ```
    /// use session_core::SessionConfig;
    /// let config = SessionConfig::builder()
    ///     .key(session_core::test_key("docs"))
    ///     .cache_headers(false)
    ///     .build()?;
    /// assert!(!config.cache_headers());
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    pub fn cache_headers(mut self, on: bool) -> Self {
        self.draft.cache_headers = on;
        self
    }
    /// Store a request's writes even when the handler answers 5xx (default
    /// false). By default a 5xx response stores no data write, no touch and
    /// no new session, and issues no new cookie, so a handler that fails
    /// halfway leaves no half-done change (like tower-sessions and
    /// Django); its deletions still happen (a logout that then fails still
    /// logs out, an id rotated away stays deleted). A `save()` called
    /// before the failure has already stored its changes.
    ///
    /// ```
    /// use session_core::SessionConfig;
    /// let config = SessionConfig::builder()
    ///     .key(session_core::test_key("docs"))
    ///     .save_on_server_error(true)
    ///     .build()?;
    /// assert!(config.save_on_server_error());
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    pub fn save_on_server_error(mut self, on: bool) -> Self {
        self.draft.save_on_server_error = on;
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
    /// For examples and development: the key from the environment variable
    /// `var` when it is set (checked by [`build`](Self::build) as
    /// [`key`](Self::key) is), else a [`random_key`](Self::random_key) with
    /// a `WARN` log saying so (sessions then end with the process). A
    /// production app should call [`key`](Self::key) and fail when the
    /// secret is missing.
    ///
    /// ```
    /// use session_core::SessionConfig;
    ///
    /// let config = SessionConfig::builder()
    ///     .key_from_env_or_random("SESSION_KEY")
    ///     .build()?;
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    pub fn key_from_env_or_random(self, var: &str) -> Self {
        match std::env::var_os(var) {
            Some(secret) => self.key(secret.as_encoded_bytes()),
            None => {
                tracing::warn!(
                    "{var} is not set; using a random session key (sessions end with the process)"
                );
                self.random_key()
            }
        }
    }
    /// A previous signing key, still accepted (key rotation). Values signed
    /// with it are re-issued with the current key.
    pub fn previous_key(mut self, secret: impl AsRef<[u8]>) -> Self {
        self.previous_keys.push(secret.as_ref().to_vec());
        self
    }
    /// When a read-only request extends the session (default
    /// `Threshold(0.8)`).
    pub fn touch_policy(mut self, policy: TouchPolicy) -> Self {
        self.touch = Some(policy);
        self
    }
    /// Id generator hook (express-session's `genid`).
    pub fn id_generator(mut self, generator: IdGenerator) -> Self {
        self.draft.id_generator = Some(generator);
        self
    }
    /// Status and body sent when the store fails (default 503).
    pub fn failure_response(
        mut self, status: StatusCode, body: impl Into<Cow<'static, str>>,
    ) -> Self {
        self.draft.failure = FailureResponse {
            status,
            body: body.into(),
        };
        self
    }
    /// At most `max` concurrent sessions per user (needs a store with a user
    /// index); `policy` says what happens at a login beyond it. Default: no
    /// cap. A `max` of 0 is refused by [`build`](Self::build) with
    /// [`ConfigError::SessionCapZero`].
    pub fn max_sessions_per_user(mut self, max: usize, policy: SessionCap) -> Self {
        self.draft.max_per_user = Some((max, policy));
        self
    }
}

/// Setters that store their argument in one field of the draft.
macro_rules! plain_setters {
    ($($(#[$doc:meta])* $name:ident($arg:ident: $ty:ty) => $field:ident;)*) => {
        impl SessionConfigBuilder {
            $(
                $(#[$doc])*
                pub fn $name(mut self, $arg: $ty) -> Self {
                    self.draft.$field = $arg;
                    self
                }
            )*
        }
    };
}

plain_setters! {
    /// Secure policy (default [`Secure::Always`]).
    secure(secure: Secure) => secure;
    /// Trust `X-Forwarded-Proto` for [`Secure::Auto`] (default false; turn on
    /// only behind a proxy that sets it).
    trust_proxy(trust: bool) => trust_proxy;
    /// HttpOnly (default true).
    http_only(on: bool) => http_only;
    /// SameSite (default Lax).
    same_site(same_site: SameSite) => same_site;
    /// Partitioned, for third-party contexts (default false).
    partitioned(on: bool) => partitioned;
    /// How the signed id travels (default a cookie).
    transport(transport: Transport) => transport;
    /// Idle timeout: a session unused this long expires (default 24 hours;
    /// `None` for no idle timeout).
    idle_timeout(timeout: Option<Duration>) => idle_timeout;
    /// Absolute lifetime cap from creation that no activity extends (default
    /// 7 days; `None` for none).
    absolute_timeout(timeout: Option<Duration>) => absolute_timeout;
    /// Send a browser-session cookie (no Max-Age/Expires) while the store
    /// still enforces the timeouts (default false).
    browser_session_cookie(on: bool) => browser_session_cookie;
    /// express-session's `rolling`: re-send the cookie with a fresh expiry on
    /// every response of a request that has a session, and extend the
    /// session in the store every time (implies [`TouchPolicy::Always`];
    /// [`build`](Self::build) refuses any other explicit touch policy with
    /// [`ConfigError::RollingTouchPolicy`], whatever the order of the calls).
    rolling(on: bool) => rolling;
    /// Store new sessions that hold no data (default false).
    save_uninitialized(on: bool) => save_uninitialized;
    /// What to do when a session's data becomes empty (default keep).
    unset(unset: Unset) => unset;
    /// Largest serialized session data, in bytes (default 64 KiB).
    max_payload_bytes(bytes: usize) => max_payload_bytes;
    /// Hash ids at rest (default true): stores see SHA-256 of the id only.
    hash_ids_at_rest(on: bool) => hash_ids;
    /// Bound on compare-and-swap retries after a conflict (default 256: enough for 32 concurrent writers on one session, see RELIABILITY.md).
    max_conflict_retries(retries: u32) => max_retries;
}

impl SessionConfigBuilder {
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
        let mut c = self.draft;
        let tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
        if c.cookie_name.is_empty() || !c.cookie_name.bytes().all(tchar) {
            return Err(ConfigError::CookieName(c.cookie_name));
        }
        let attr_ok = |s: &str| s.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b';');
        if !c.path.starts_with('/') || !attr_ok(&c.path) {
            return Err(ConfigError::CookiePath(c.path));
        }
        if let Some(d) = &c.domain
            && (d.is_empty() || !attr_ok(d) || d.contains(' '))
        {
            return Err(ConfigError::CookieDomain(d.clone()));
        }
        let secure_possible = c.secure != Secure::Never;
        if c.same_site == SameSite::None && !secure_possible {
            return Err(ConfigError::NeedsSecure("SameSite=None"));
        }
        if c.partitioned && !secure_possible {
            return Err(ConfigError::NeedsSecure("Partitioned"));
        }
        let host = c.cookie_name.starts_with("__Host-");
        if (host || c.cookie_name.starts_with("__Secure-")) && c.secure != Secure::Always {
            return Err(ConfigError::NeedsSecure(
                "a __Host- or __Secure- cookie name",
            ));
        }
        if host && (c.path != "/" || c.domain.is_some()) {
            return Err(ConfigError::HostPrefix);
        }
        if c.idle_timeout.is_none() && c.absolute_timeout.is_none() {
            return Err(ConfigError::Expiry(
                "set an idle timeout, an absolute timeout, or both",
            ));
        }
        for d in [c.idle_timeout, c.absolute_timeout].into_iter().flatten() {
            match crate::expiry::check_window(d) {
                Ok(()) => {}
                Err(crate::expiry::ExpiryError::NotPositive) => {
                    return Err(ConfigError::Expiry("timeouts must be positive"));
                }
                Err(_) => return Err(ConfigError::Expiry("timeouts must be at most 400 days")),
            }
        }
        c.touch = match (c.rolling, self.touch) {
            (true, None | Some(TouchPolicy::Always)) => TouchPolicy::Always,
            (true, Some(_)) => return Err(ConfigError::RollingTouchPolicy),
            (false, policy) => policy.unwrap_or(DEFAULT_TOUCH),
        };
        if let TouchPolicy::Threshold(t) = c.touch
            && !(t > 0.0 && t <= 1.0)
        {
            return Err(ConfigError::TouchThreshold);
        }
        if c.max_payload_bytes == 0 {
            return Err(ConfigError::MaxPayload);
        }
        if !(c.failure.status.is_client_error() || c.failure.status.is_server_error()) {
            return Err(ConfigError::FailureStatus);
        }
        if matches!(c.max_per_user, Some((0, _))) {
            return Err(ConfigError::SessionCapZero);
        }
        c.keys = keys;
        Ok(c)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A builder with a key: the defaults.
    pub(in crate::config) fn b() -> SessionConfigBuilder {
        SessionConfig::builder().key(crate::test_key("key 7"))
    }

    #[test]
    fn key_from_env_or_random_reads_the_variable_when_set() {
        // Cargo sets CARGO_PKG_NAME for test binaries; no test sets or
        // clears environment variables (that needs `unsafe`).
        let set = SessionConfig::builder().key_from_env_or_random("CARGO_PKG_NAME");
        assert_eq!(set.key.as_deref(), Some(&b"session-core"[..]));
        let unset = SessionConfig::builder().key_from_env_or_random("SESSION_CORE_TEST_UNSET_VAR");
        let random = unset.key.clone().expect("a random key");
        assert_eq!(random.len(), 64);
        assert!(unset.build().is_ok());
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
            b().previous_key(crate::test_key("key 1"))
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
    fn rolling_and_touch_policy_do_not_depend_on_call_order() {
        for policy in [
            TouchPolicy::Always,
            TouchPolicy::Never,
            TouchPolicy::Threshold(0.5),
        ] {
            let one = b().rolling(true).touch_policy(policy).build();
            let other = b().touch_policy(policy).rolling(true).build();
            match (one, other) {
                (Ok(one), Ok(other)) => {
                    assert_eq!(policy, TouchPolicy::Always);
                    assert_eq!(one.touch_policy(), other.touch_policy());
                    assert!(one.rolling && other.rolling);
                }
                (Err(one), Err(other)) => {
                    assert_ne!(policy, TouchPolicy::Always);
                    assert_eq!(one, ConfigError::RollingTouchPolicy);
                    assert_eq!(other, ConfigError::RollingTouchPolicy);
                }
                (one, other) => panic!("{policy:?}: {one:?} against {other:?}"),
            }
            // Without rolling, the policy set is the policy built.
            let plain = b().rolling(false).touch_policy(policy).build().unwrap();
            assert_eq!(plain.touch_policy(), policy);
            let plain = b().touch_policy(policy).rolling(true).rolling(false);
            assert_eq!(plain.build().unwrap().touch_policy(), policy);
        }
        // Rolling alone implies Always; no rolling keeps the default.
        let rolling = b().rolling(true).build().unwrap();
        assert_eq!(rolling.touch_policy(), TouchPolicy::Always);
        assert_eq!(
            b().build().unwrap().touch_policy(),
            TouchPolicy::Threshold(0.8)
        );
    }

    #[test]
    fn a_session_cap_of_zero_is_refused() {
        assert_eq!(
            b().max_sessions_per_user(0, SessionCap::RevokeOldest)
                .build()
                .unwrap_err(),
            ConfigError::SessionCapZero
        );
        let c = b()
            .max_sessions_per_user(1, SessionCap::RefuseLogin)
            .build()
            .unwrap();
        assert_eq!(
            c.max_sessions_per_user(),
            Some((1, SessionCap::RefuseLogin))
        );
    }
}
