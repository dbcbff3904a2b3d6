//! `SessionManager`: the async driver that turns request headers into a lazy
//! [`Session`] and, after the handler, into store calls and a response
//! header. Framework adapters call exactly two methods: [`SessionManager::start`]
//! and [`SessionManager::finish`].

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use http::HeaderName;
use time::{Duration, OffsetDateTime};

use std::future::Future;
use std::time::Instant;

use crate::config::SessionConfig;
use crate::cookie;
use crate::events::{self, Event, EventHook, EventKind};
use crate::id::{SessionId, StoreKey};
use crate::session::{Session, SessionError, SessionInfo};
use crate::store::{Store, StoreError};

/// The source of the current time. Only the driver reads a clock; the pure
/// core takes `now` as a parameter. Tests replace it with [`ManualClock`].
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> OffsetDateTime;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> OffsetDateTime {
        use std::cell::Cell;
        use std::time::{SystemTime, UNIX_EPOCH};
        // Turning a Unix time into a calendar date is most of the cost of
        // `now_utc`; requests read the clock several times a second, so each
        // thread keeps the date of the current second and only sets the
        // sub-second part.
        thread_local! {
            static SECOND: Cell<Option<(u64, OffsetDateTime)>> = const { Cell::new(None) };
        }
        let Ok(since) = SystemTime::now().duration_since(UNIX_EPOCH) else {
            return OffsetDateTime::now_utc();
        };
        let secs = since.as_secs();
        let base = match SECOND.with(Cell::get) {
            Some((s, t)) if s == secs => t,
            _ => match i64::try_from(secs)
                .ok()
                .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
            {
                Some(t) => {
                    SECOND.with(|c| c.set(Some((secs, t))));
                    t
                }
                None => return OffsetDateTime::now_utc(),
            },
        };
        base.replace_nanosecond(since.subsec_nanos())
            .unwrap_or(base)
    }
}

/// A clock that moves only when told (for tests of expiry).
#[derive(Debug)]
pub struct ManualClock(Mutex<OffsetDateTime>);

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn new(start: OffsetDateTime) -> Self {
        Self(Mutex::new(start))
    }

    /// A clock stopped at the current system time.
    pub fn starting_now() -> Self {
        Self::new(SystemClock.now())
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let mut t = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *t += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> OffsetDateTime {
        (**self).now()
    }
}

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
    /// The connection is HTTPS as far as the adapter knows.
    pub https: bool,
    /// The raw `X-Forwarded-Proto` value, if any (trusted only when the
    /// config says so).
    pub forwarded_proto: Option<&'a [u8]>,
}

/// Holds the configuration, the store and the clock; cheap to clone.
#[derive(Clone)]
pub struct SessionManager {
    pub(crate) inner: Arc<ManagerInner>,
}

pub(crate) struct ManagerInner {
    pub(crate) config: SessionConfig,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) hook: Option<Arc<dyn EventHook>>,
    request_header: HeaderName,
    response_header: HeaderName,
}

impl ManagerInner {
    /// Emits a lifecycle event to `tracing` and the hook.
    pub(crate) fn emit(&self, kind: EventKind, id: Option<&SessionId>, user: Option<&str>) {
        let listening = self.hook.is_some()
            || match kind {
                EventKind::StoreError => {
                    tracing::enabled!(target: "session", tracing::Level::ERROR)
                }
                EventKind::StoreCall => tracing::enabled!(target: "session", tracing::Level::DEBUG),
                _ => tracing::enabled!(target: "session", tracing::Level::INFO),
            };
        if !listening {
            return;
        }
        let mut buf = [0u8; crate::id::ID_TEXT_LEN];
        let prefix = id.map(|id| {
            let text = id.encode_into(&mut buf);
            text.get(..6).unwrap_or(text)
        });
        let event = Event {
            session: prefix,
            user,
            ..Event::new(kind)
        };
        events::trace(&event);
        if let Some(h) = &self.hook {
            h.on_event(&event);
        }
    }

    /// Runs a store call, reporting its latency and outcome when anybody
    /// listens (a hook, or `tracing` at debug level for target `session`).
    pub(crate) async fn timed<T>(
        &self,
        op: &'static str,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        if self.hook.is_none() && !tracing::enabled!(target: "session", tracing::Level::DEBUG) {
            return call.await;
        }
        let start = Instant::now();
        let result = call.await;
        let event = Event {
            op: Some(op),
            latency: Some(start.elapsed()),
            ok: Some(result.is_ok()),
            ..Event::new(EventKind::StoreCall)
        };
        events::trace(&event);
        if let Some(h) = &self.hook {
            h.on_event(&event);
            if result.is_err() {
                h.on_event(&Event {
                    op: Some(op),
                    ..Event::new(EventKind::StoreError)
                });
            }
        }
        result
    }
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

    /// The live sessions of `user`, oldest first (needs a store with a
    /// [`UserIndex`](crate::UserIndex)).
    pub async fn user_sessions(&self, user: &str) -> Result<Vec<SessionInfo>, SessionError> {
        crate::session::list_user(&self.inner, user, None).await
    }

    /// Revokes one session of `user` by the handle shown in its
    /// [`SessionInfo`]; `false` when `user` has no such session. Immediate:
    /// the revoked session's next request gets a fresh, empty session.
    pub async fn revoke(&self, user: &str, handle: &str) -> Result<bool, SessionError> {
        let sessions = self.user_sessions(user).await?;
        let Some(info) = sessions.iter().find(|s| s.handle == handle) else {
            return Ok(false);
        };
        let Some(key) = StoreKey::from_stored(&info.handle) else {
            return Ok(false);
        };
        self.inner
            .timed("delete", self.inner.store.delete(&key))
            .await?;
        self.inner.emit(EventKind::Revoked, None, Some(user));
        Ok(true)
    }

    /// Revokes every session of `user` ("log out everywhere"); returns how
    /// many.
    pub async fn revoke_all(&self, user: &str) -> Result<usize, SessionError> {
        let sessions = self.user_sessions(user).await?;
        for info in &sessions {
            if let Some(key) = StoreKey::from_stored(&info.handle) {
                self.inner
                    .timed("delete", self.inner.store.delete(&key))
                    .await?;
                self.inner.emit(EventKind::Revoked, None, Some(user));
            }
        }
        Ok(sessions.len())
    }

    fn build(config: SessionConfig, store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        let request_header = cookie::request_header(&config);
        let response_header = cookie::response_header(&config);
        Self {
            inner: Arc::new(ManagerInner {
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
    /// use.
    pub fn start<'a, I>(&self, values: I, meta: RequestMeta<'_>) -> Session
    where
        I: IntoIterator<Item = &'a [u8]>,
    {
        let verdict = cookie::verdict(&self.inner.config, values);
        let secure = self
            .inner
            .config
            .is_secure_request(meta.https, meta.forwarded_proto);
        Session::new(self.clone(), verdict, secure)
    }

    /// Ends a request: performs the store calls the core decided and
    /// returns the header the response must carry, if any.
    ///
    /// On `Err` the adapter must send the configured failure response
    /// without the store's error text and without a session header.
    pub async fn finish(&self, session: &Session) -> Result<Option<ResponseHeader>, SessionError> {
        session.flush().await?;
        Ok(session.take_response_value().map(|value| ResponseHeader {
            name: self.inner.response_header.clone(),
            value,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::disallowed_methods)]
    fn system_clock_agrees_with_now_utc() {
        for _ in 0..1000 {
            let before = OffsetDateTime::now_utc();
            let ours = SystemClock.now();
            let after = OffsetDateTime::now_utc();
            assert!(before <= ours && ours <= after, "{before} {ours} {after}");
        }
    }
}
