//! `SessionManager`: the async driver that turns request headers into a lazy
//! [`Session`] and, after the handler, into store calls and a response
//! header. Framework adapters call exactly two methods: [`SessionManager::start`]
//! and [`SessionManager::respond`].

use std::fmt;
use std::sync::Arc;

use http::HeaderName;
use time::OffsetDateTime;

use crate::adapter::{HeaderEdit, PlainResponse, ResponseParts, ResponseVerdict};
use crate::clock::{Clock, SystemClock};
use crate::config::SessionConfig;
use crate::cookie;
use crate::driver::Driver;
use crate::error::SessionError;
use crate::events::{EventHook, EventKind};
use crate::response;
use crate::session::Session;
use crate::store::Store;
use crate::users::{self, SessionInfo};

/// A response header an adapter must add (never replacing others of the
/// same name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHeader {
    /// Header name (`set-cookie` for the cookie transport).
    pub name: HeaderName,
    /// Header value.
    pub value: String,
}

/// What an adapter needs to know of a request to start its session.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestMeta<'a> {
    /// The connection is TLS, as the adapter's server says (never from the
    /// request-target's scheme, which the client chooses).
    pub https: bool,
    /// The raw `X-Forwarded-Proto` value, if any (trusted only when the
    /// config says so).
    pub forwarded_proto: Option<&'a [u8]>,
    /// The request's path as the client sent it (before any router strips
    /// a prefix), for the cookie-path scoping of the cookie transport;
    /// `None` counts as inside the cookie's path.
    pub path: Option<&'a str>,
}

/// Holds the configuration, the store and the clock; cheap to clone.
#[derive(Clone)]
pub struct SessionManager {
    pub(crate) inner: Arc<Driver>,
}

impl fmt::Debug for SessionManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionManager")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl SessionManager {
    /// A manager over `store` with the system clock.
    pub fn new(config: SessionConfig, store: impl Store) -> Self {
        Self::from_arc(config, Arc::new(store))
    }

    /// A manager over a shared store.
    pub fn from_arc(config: SessionConfig, store: Arc<dyn Store>) -> Self {
        Self::build(config, store, Arc::new(SystemClock))
    }

    /// The same manager with another clock (for tests of expiry).
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> Self {
        let hook = self.inner.hook.clone();
        let mut m = Self::build(self.inner.config.clone(), self.inner.store.clone(), clock);
        if let Some(inner) = Arc::get_mut(&mut m.inner) {
            inner.hook = hook;
        }
        m
    }

    /// The same manager with an [`EventHook`] that receives every lifecycle
    /// event and store-call measurement.
    pub fn with_event_hook(self, hook: Arc<dyn EventHook>) -> Self {
        let mut m = Self::build(
            self.inner.config.clone(),
            self.inner.store.clone(),
            self.inner.clock.clone(),
        );
        if let Some(inner) = Arc::get_mut(&mut m.inner) {
            inner.hook = Some(hook);
        }
        m
    }

    /// The live sessions of `user`, oldest login first (needs a store with
    /// a [`UserIndex`](crate::UserIndex)).
    pub async fn user_sessions(&self, user: &str) -> Result<Vec<SessionInfo>, SessionError> {
        users::list(&self.inner, user, None).await
    }

    /// Revokes one session of `user` by the handle shown in its
    /// [`SessionInfo`]; `false` when `user` has no such session. Immediate:
    /// the revoked session's next request gets a fresh, empty session, and
    /// a request holding it concurrently can never store its data again.
    pub async fn revoke(&self, user: &str, handle: &str) -> Result<bool, SessionError> {
        let sessions = self.user_sessions(user).await?;
        let found: Vec<_> = sessions
            .into_iter()
            .filter(|s| s.handle == handle)
            .collect();
        Ok(users::revoke(&self.inner, user, &found).await? > 0)
    }

    /// Revokes every session of `user` ("log out everywhere"); returns how
    /// many.
    pub async fn revoke_all(&self, user: &str) -> Result<usize, SessionError> {
        let sessions = self.user_sessions(user).await?;
        users::revoke(&self.inner, user, &sessions).await
    }

    /// The number of live sessions (express-session's `store.length()`),
    /// for stores with the [`StoreAdmin`](crate::StoreAdmin) capability;
    /// `None` without it. Each store documents the cost.
    pub async fn session_count(&self) -> Result<Option<u64>, SessionError> {
        match self.inner.store.admin() {
            Some(admin) => Ok(Some(self.inner.timed("count", admin.count()).await?)),
            None => Ok(None),
        }
    }

    /// Deletes every session (express-session's `store.clear()`) and
    /// returns how many there were, for stores with the
    /// [`StoreAdmin`](crate::StoreAdmin) capability; `None` without it.
    pub async fn clear_sessions(&self) -> Result<Option<u64>, SessionError> {
        match self.inner.store.admin() {
            Some(admin) => Ok(Some(self.inner.timed("clear", admin.clear()).await?)),
            None => Ok(None),
        }
    }

    fn build(config: SessionConfig, store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        let request_header = cookie::request_header(&config);
        let response_header = cookie::response_header(&config);
        Self {
            inner: Arc::new(Driver {
                config,
                store,
                clock,
                hook: None,
                request_header,
                response_header,
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &SessionConfig {
        &self.inner.config
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// The current time on the manager's clock.
    pub fn now(&self) -> OffsetDateTime {
        self.inner.clock.now()
    }

    /// The request header the adapter must pass to [`start`](Self::start)
    /// (all its values): `cookie` for the cookie transport.
    pub fn request_header(&self) -> &HeaderName {
        &self.inner.request_header
    }

    /// Starts a request's session from the values of
    /// [`request_header`](Self::request_header). Pure and cheap: verifies
    /// the signature but makes no store call; the session loads on first
    /// use. A request whose `meta.path` is outside the cookie's `Path`
    /// (RFC 6265 path-match) gets an empty session that refuses writes
    /// ([`SessionError::OutsideCookiePath`]) and never touches the store.
    pub fn start<'a, I>(&self, values: I, meta: RequestMeta<'_>) -> Session
    where
        I: IntoIterator<Item = &'a [u8]>,
    {
        let config = &self.inner.config;
        let in_scope = *config.transport() != crate::Transport::Cookie
            || meta
                .path
                .is_none_or(|p| cookie::path_matches(&config.path, p));
        // Outside the cookie's path the browser never sends the cookie:
        // no session work at all (the header is not even parsed).
        let verdict = if !in_scope {
            cookie::Verdict::Absent
        } else if self.inner.observed(EventKind::InvalidSignature) {
            // A hook or a logger, not the metrics (which count no
            // security event): the diagnosis verifies every value again.
            let values: Vec<&[u8]> = values.into_iter().collect();
            let verdict = cookie::verdict(config, values.iter().copied());
            self.report_values(&values);
            verdict
        } else {
            cookie::verdict(config, values)
        };
        let secure = config.is_secure_request(meta.https, meta.forwarded_proto);
        Session::new(self.inner.clone(), verdict, secure, in_scope)
    }

    /// The security events of a request's session values (only computed
    /// when someone listens).
    fn report_values(&self, values: &[&[u8]]) {
        let (count, findings) = cookie::diagnose(&self.inner.config, values);
        if count > 1 {
            self.inner.emit(EventKind::DuplicateCookie, None, None);
        }
        for finding in findings {
            match finding {
                cookie::Finding::Malformed => {
                    self.inner.emit(EventKind::MalformedValue, None, None);
                }
                cookie::Finding::BadSignature(id) => {
                    self.inner
                        .emit(EventKind::InvalidSignature, Some(&id), None);
                }
            }
        }
    }

    /// Ends a request, for an adapter: performs the store calls the core
    /// decided and returns the whole verdict for the response: unchanged,
    /// header edits (the session header, and the cache rules of
    /// [`cache_headers`](crate::SessionConfigBuilder::cache_headers)), or the configured failure response instead (when
    /// a store call of this request failed, even if the handler swallowed
    /// the error, or the flush failed). The adapter only translates the
    /// verdict into its framework's response.
    ///
    /// ```
    /// # async fn demo() {
    /// use session_core::adapter::{HeaderEdit, RequestMeta, ResponseParts, ResponseVerdict, SessionManager};
    /// use session_core::{MemoryStore, SessionConfig};
    /// let config = SessionConfig::builder().key(session_core::test_key("docs")).build().unwrap();
    /// let manager = SessionManager::new(config, MemoryStore::new());
    /// let session = manager.start([], RequestMeta::default());
    /// session.insert("n", 1).await.unwrap();
    /// let parts = ResponseParts::new(http::StatusCode::OK, "/");
    /// match manager.respond(&session, parts).await {
    ///     ResponseVerdict::Headers(edits) => assert!(matches!(
    ///         &edits[0],
    ///         HeaderEdit::Append(name, _) if name == http::header::SET_COOKIE
    ///     )),
    ///     other => panic!("{other:?}"),
    /// }
    /// # }
    /// ```
    pub async fn respond(&self, session: &Session, response: ResponseParts<'_>) -> ResponseVerdict {
        if session.store_failed() {
            return ResponseVerdict::Replace(self.failure_response());
        }
        let discard = response.status.is_server_error() && !self.inner.config.save_on_server_error;
        let finished = match session.finish(discard).await {
            Ok(finished) => finished,
            Err(e) => {
                tracing::error!(target: "session", error = &e as &dyn std::error::Error, "session could not be saved");
                return ResponseVerdict::Replace(self.failure_response());
            }
        };
        let mut edits = Vec::new();
        if let Some(value) = &finished.header {
            match http::HeaderValue::try_from(value.as_str()) {
                Ok(value) => edits.push(HeaderEdit::Append(
                    self.inner.response_header.clone(),
                    value,
                )),
                Err(e) => {
                    tracing::error!(target: "session", error = %e, "session header value is not a valid header");
                    return ResponseVerdict::Replace(self.failure_response());
                }
            }
        }
        if self.inner.config.cache_headers {
            response::cache_edits(
                &response,
                finished.header.is_some(),
                finished.used,
                &self.inner.request_header,
                &mut edits,
            );
        }
        if edits.is_empty() {
            ResponseVerdict::Unchanged
        } else {
            ResponseVerdict::Headers(edits)
        }
    }

    /// The configured failure response, as the adapter sends it.
    pub fn failure_response(&self) -> PlainResponse {
        let f = self.inner.config.failure_response();
        PlainResponse {
            status: f.status,
            body: f.body.clone(),
        }
    }

    /// Ends a request without an HTTP response at hand (tests, non-HTTP
    /// uses): performs the store calls the core decided and returns the
    /// header the response must carry, if any. Adapters use
    /// [`respond`](Self::respond), which applies the response-side rules
    /// on top of this.
    ///
    /// On `Err` the caller must send the configured failure response
    /// without the store's error text and without a session header.
    pub async fn finish(&self, session: &Session) -> Result<Option<ResponseHeader>, SessionError> {
        Ok(session
            .finish(false)
            .await?
            .header
            .map(|value| ResponseHeader {
                name: self.inner.response_header.clone(),
                value,
            }))
    }
}
