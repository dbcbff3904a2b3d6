//! `Session`: the handle handlers use, in the spirit of `req.session`, and
//! the async driver of the pure `Lifecycle` (`lifecycle.rs`): a loop that performs the
//! store calls the lifecycle asks for.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use futures_util::lock::{Mutex, MutexGuard};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::config::SessionConfig;
use crate::cookie::{self, Verdict};
use crate::decision::CookieAction;
use crate::driver::Driver;
use crate::error::SessionError;
use crate::expiry::{Expiry, Lifetime};
use crate::id::{SessionId, StoreKey};
use crate::lifecycle::{Deferred, Lifecycle, Step};
use crate::state::{self, Change, DataError, State};
use crate::users::{self, SessionInfo};

/// A request's session: a cheap, clonable handle. Loads lazily: a request
/// that never touches its session makes no store call. Clones share one
/// lifecycle; their store calls never overlap.
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

struct Inner {
    driver: Arc<Driver>,
    secure_request: bool,
    lifecycle: Mutex<Lifecycle>,
    /// A store call of this request failed (readable without the lock).
    failed: AtomicBool,
    /// `destroy` was called: applied by the next holder of the lifecycle
    /// (so `destroy` needs no lock and no `.await`).
    destroy: AtomicBool,
    /// The request path is inside the cookie's path: outside it the
    /// session is empty, refuses writes and is never flushed.
    in_scope: bool,
    /// The request's `session` span, made by its first store call traced
    /// at debug level (see the `events` docs).
    span: OnceLock<tracing::Span>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Session");
        if let Some(lc) = self.inner.lifecycle.try_lock() {
            d.field("verdict", &lc.verdict())
                .field("loaded", &lc.state().is_some());
        }
        d.finish_non_exhaustive()
    }
}

/// `DataError::TooLong` when `value` is longer than `limit` bytes.
fn bounded(field: &'static str, value: &str, limit: usize) -> Result<(), SessionError> {
    if value.len() > limit {
        return Err(SessionError::Data(DataError::TooLong {
            field,
            len: value.len(),
            limit,
        }));
    }
    Ok(())
}

impl Session {
    /// The longest user id [`set_user`](Self::set_user) accepts, in bytes
    /// (a store indexes it: MySQL's index needs a bounded column).
    ///
    /// ```
    /// assert_eq!(session_core::Session::MAX_USER_BYTES, 255);
    /// ```
    pub const MAX_USER_BYTES: usize = 255;

    /// The longest label [`set_label`](Self::set_label) accepts, in bytes.
    ///
    /// ```
    /// assert_eq!(session_core::Session::MAX_LABEL_BYTES, 256);
    /// ```
    pub const MAX_LABEL_BYTES: usize = 256;

    pub(crate) fn new(
        driver: Arc<Driver>, verdict: Verdict, secure_request: bool, in_scope: bool,
    ) -> Self {
        let has_index = driver.store.user_index().is_some();
        let listening = driver.listening(crate::events::EventKind::Loaded);
        Self {
            inner: Arc::new(Inner {
                driver,
                secure_request,
                lifecycle: Mutex::new(Lifecycle::new(verdict, has_index, listening)),
                failed: AtomicBool::new(false),
                destroy: AtomicBool::new(false),
                in_scope,
                span: OnceLock::new(),
            }),
        }
    }

    /// `OutsideCookiePath` for a write outside the cookie's path.
    fn writable(&self) -> Result<(), SessionError> {
        if self.inner.in_scope {
            Ok(())
        } else {
            Err(SessionError::OutsideCookiePath)
        }
    }

    fn config(&self) -> &SessionConfig {
        &self.inner.driver.config
    }

    fn now(&self) -> OffsetDateTime {
        self.inner.driver.clock.now()
    }

    /// Runs the lifecycle until it is done: performs each store call it
    /// asks for and hands the answer back. No decision is made here.
    /// `now`: one instant per operation, so the expiry a write stores and
    /// the cookie's Max-Age are computed from the same instant, whatever
    /// the store's latency.
    async fn drive(&self, lc: &mut Lifecycle, now: OffsetDateTime) -> Result<(), SessionError> {
        let d = &*self.inner.driver;
        loop {
            match lc.poll(&d.config, now) {
                Step::Call(call) => {
                    let reply = d.perform(call, &self.inner.span).await;
                    lc.handle(reply, &d.config, now);
                }
                Step::Done(result) => {
                    for note in lc.take_events() {
                        for _ in 0..note.count {
                            d.emit_retry(
                                note.kind,
                                note.id.as_ref(),
                                note.user.as_deref(),
                                note.retry,
                            );
                        }
                    }
                    if lc.failed() {
                        self.inner.failed.store(true, Ordering::Relaxed);
                    }
                    return result;
                }
            }
        }
    }

    /// Locks the lifecycle, applying a `destroy` called meanwhile.
    async fn lock(&self) -> MutexGuard<'_, Lifecycle> {
        let mut lc = self.inner.lifecycle.lock().await;
        if self.inner.destroy.swap(false, Ordering::AcqRel) {
            lc.destroy(self.config(), self.now());
        }
        lc
    }

    /// Locks the lifecycle with the session loaded (and the changes
    /// recorded before it loaded applied).
    async fn loaded(&self) -> Result<MutexGuard<'_, Lifecycle>, SessionError> {
        let mut lc = self.lock().await;
        if lc.state().is_none() {
            let now = self.now();
            lc.begin_load(self.config(), now);
            self.drive(&mut lc, now).await?;
            lc.apply_deferred(self.config());
        }
        Ok(lc)
    }

    async fn with_state<R>(
        &self, f: impl FnOnce(&mut State, &SessionConfig) -> R,
    ) -> Result<R, SessionError> {
        let mut lc = self.loaded().await?;
        match lc.state_mut() {
            Some(state) => Ok(f(state, self.config())),
            None => Err(SessionError::IdCollision),
        }
    }

    /// The value under `key`, deserialized as `T`.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # let config = session_core::SessionConfig::builder().random_key().build().unwrap();
    /// # let manager = session_core::SessionManager::new(config, session_core::MemoryStore::new());
    /// # let session = manager.start(std::iter::empty::<&[u8]>(), session_core::RequestMeta::default());
    /// session.insert("theme", "dark").await?;
    /// let theme: Option<String> = session.get("theme").await?;
    /// assert_eq!(theme.as_deref(), Some("dark"));
    /// assert_eq!(session.get::<u32>("missing").await?, None);
    /// # Ok::<(), session_core::SessionError>(())
    /// # }).unwrap();
    /// ```
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, SessionError> {
        self.with_state(|s, _| s.get(key))
            .await?
            .map_err(|e| SessionError::Data(DataError::Json(e)))
    }

    /// The raw JSON value under `key`.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # let config = session_core::SessionConfig::builder().random_key().build().unwrap();
    /// # let manager = session_core::SessionManager::new(config, session_core::MemoryStore::new());
    /// # let session = manager.start(std::iter::empty::<&[u8]>(), session_core::RequestMeta::default());
    /// session.insert("cart", serde_json::json!({"items": 2})).await?;
    /// let cart = session.get_value("cart").await?;
    /// assert_eq!(cart, Some(serde_json::json!({"items": 2})));
    /// # Ok::<(), session_core::SessionError>(())
    /// # }).unwrap();
    /// ```
    pub async fn get_value(&self, key: &str) -> Result<Option<Value>, SessionError> {
        self.get(key).await
    }

    /// Sets `key` to `value`. Setting a key to the value it already has is
    /// not a modification. Fails with [`DataError::PayloadTooLarge`] (and
    /// changes nothing) past the configured limit.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # let config = session_core::SessionConfig::builder().random_key().build().unwrap();
    /// # let manager = session_core::SessionManager::new(config, session_core::MemoryStore::new());
    /// # let session = manager.start(std::iter::empty::<&[u8]>(), session_core::RequestMeta::default());
    /// session.insert("user_id", 42).await?;
    /// assert_eq!(session.get::<u64>("user_id").await?, Some(42));
    /// # Ok::<(), session_core::SessionError>(())
    /// # }).unwrap();
    /// ```
    pub async fn insert<T: Serialize>(&self, key: &str, value: T) -> Result<(), SessionError> {
        self.writable()?;
        let value = serde_json::to_value(value).map_err(DataError::Json)?;
        self.with_state(|s, c| {
            if s.get::<Value>(key)?.as_ref() == Some(&value) {
                return Ok(());
            }
            s.apply(Change::Set(key.to_owned(), value), c.max_payload_bytes)
                .map(drop)
        })
        .await?
        .map_err(SessionError::Data)
    }

    /// Removes `key` and returns its value.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # let config = session_core::SessionConfig::builder().random_key().build().unwrap();
    /// # let manager = session_core::SessionManager::new(config, session_core::MemoryStore::new());
    /// # let session = manager.start(std::iter::empty::<&[u8]>(), session_core::RequestMeta::default());
    /// session.insert("flash", "Saved!").await?;
    /// // A flash message: read once.
    /// let flash: Option<String> = session.remove("flash").await?;
    /// assert_eq!(flash.as_deref(), Some("Saved!"));
    /// assert_eq!(session.get::<String>("flash").await?, None);
    /// # Ok::<(), session_core::SessionError>(())
    /// # }).unwrap();
    /// ```
    pub async fn remove<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, SessionError> {
        self.writable()?;
        let old = self
            .with_state(|s, c| {
                let old = s.get::<Value>(key)?;
                if old.is_some() {
                    s.apply(Change::Remove(key.to_owned()), c.max_payload_bytes)?;
                }
                Ok::<_, DataError>(old)
            })
            .await??;
        old.map(serde_json::from_value)
            .transpose()
            .map_err(|e| DataError::Json(e).into())
    }

    /// Removes `key`, whatever its type (no type parameter to name), and
    /// returns its raw JSON value.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # let config = session_core::SessionConfig::builder().random_key().build().unwrap();
    /// # let manager = session_core::SessionManager::new(config, session_core::MemoryStore::new());
    /// # let session = manager.start(std::iter::empty::<&[u8]>(), session_core::RequestMeta::default());
    /// session.insert("draft", vec![1, 2]).await?;
    /// assert_eq!(session.remove_value("draft").await?, Some(serde_json::json!([1, 2])));
    /// # Ok::<(), session_core::SessionError>(())
    /// # }).unwrap();
    /// ```
    pub async fn remove_value(&self, key: &str) -> Result<Option<Value>, SessionError> {
        self.remove(key).await
    }

    /// Removes every key.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # let config = session_core::SessionConfig::builder().random_key().build().unwrap();
    /// # let manager = session_core::SessionManager::new(config, session_core::MemoryStore::new());
    /// # let session = manager.start(std::iter::empty::<&[u8]>(), session_core::RequestMeta::default());
    /// session.insert("a", 1).await?;
    /// session.clear().await?;
    /// assert!(session.is_empty().await?);
    /// # Ok::<(), session_core::SessionError>(())
    /// # }).unwrap();
    /// ```
    pub async fn clear(&self) -> Result<(), SessionError> {
        self.writable()?;
        self.with_state(|s, c| {
            if !s.is_data_empty() {
                s.apply(Change::Clear, c.max_payload_bytes).map(drop)
            } else {
                Ok(())
            }
        })
        .await?
        .map_err(SessionError::Data)
    }

    /// Read-modify-write of `key`: `f` gets the current value (if any) and
    /// returns the new one. When the save conflicts with a concurrent
    /// request, `f` re-runs on the fresh value, so concurrent counters are
    /// exact. Returns the value as of this request.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # let config = session_core::SessionConfig::builder().random_key().build().unwrap();
    /// # let manager = session_core::SessionManager::new(config, session_core::MemoryStore::new());
    /// # let session = manager.start(std::iter::empty::<&[u8]>(), session_core::RequestMeta::default());
    /// // A page-view counter, exact under concurrent requests of one session.
    /// let views = session.update("views", |n: Option<u64>| n.unwrap_or(0) + 1).await?;
    /// assert_eq!(views, 1);
    /// # Ok::<(), session_core::SessionError>(())
    /// # }).unwrap();
    /// ```
    pub async fn update<T, F>(&self, key: &str, f: F) -> Result<T, SessionError>
    where
        T: Serialize + DeserializeOwned,
        F: Fn(Option<T>) -> T + Send + Sync + 'static,
    {
        self.writable()?;
        let func: state::UpdateFn = Arc::new(move |current: Option<&Value>| {
            let current = current.map(T::deserialize).transpose()?;
            serde_json::to_value(f(current))
        });
        let new = self
            .with_state(|s, c| s.apply(Change::Update(key.to_owned(), func), c.max_payload_bytes))
            .await??;
        let new = new.unwrap_or(Value::Null);
        Ok(T::deserialize(&new).map_err(DataError::Json)?)
    }

    /// The session id (for a new session: the id it will be stored under).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # let config = session_core::SessionConfig::builder().random_key().build().unwrap();
    /// # let manager = session_core::SessionManager::new(config, session_core::MemoryStore::new());
    /// # let session = manager.start(std::iter::empty::<&[u8]>(), session_core::RequestMeta::default());
    /// let before = session.id().await?;
    /// session.regenerate().await?;
    /// assert_ne!(session.id().await?, before);
    /// # Ok::<(), session_core::SessionError>(())
    /// # }).unwrap();
    /// ```
    pub async fn id(&self) -> Result<SessionId, SessionError> {
        self.with_state(|s, _| s.id).await
    }

    /// Whether the session is not (yet) in the store.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # let config = session_core::SessionConfig::builder().random_key().build().unwrap();
    /// # let manager = session_core::SessionManager::new(config, session_core::MemoryStore::new());
    /// # let session = manager.start(std::iter::empty::<&[u8]>(), session_core::RequestMeta::default());
    /// // This request came without a cookie.
    /// assert!(session.is_new().await?);
    /// # Ok::<(), session_core::SessionError>(())
    /// # }).unwrap();
    /// ```
    pub async fn is_new(&self) -> Result<bool, SessionError> {
        self.with_state(|s, _| s.version.is_none()).await
    }

    /// A copy of all data (for debug pages).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # let config = session_core::SessionConfig::builder().random_key().build().unwrap();
    /// # let manager = session_core::SessionManager::new(config, session_core::MemoryStore::new());
    /// # let session = manager.start(std::iter::empty::<&[u8]>(), session_core::RequestMeta::default());
    /// session.insert("a", 1).await?;
    /// let all = session.entries().await?;
    /// assert_eq!(all.get("a"), Some(&serde_json::json!(1)));
    /// # Ok::<(), session_core::SessionError>(())
    /// # }).unwrap();
    /// ```
    pub async fn entries(&self) -> Result<Map<String, Value>, SessionError> {
        self.with_state(|s, _| s.materialize().map(|()| s.data.clone()))
            .await?
            .map_err(SessionError::Data)
    }

    /// Whether the session holds no data.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # let config = session_core::SessionConfig::builder().random_key().build().unwrap();
    /// # let manager = session_core::SessionManager::new(config, session_core::MemoryStore::new());
    /// # let session = manager.start(std::iter::empty::<&[u8]>(), session_core::RequestMeta::default());
    /// assert!(session.is_empty().await?);
    /// session.insert("a", 1).await?;
    /// assert!(!session.is_empty().await?);
    /// # Ok::<(), session_core::SessionError>(())
    /// # }).unwrap();
    /// ```
    pub async fn is_empty(&self) -> Result<bool, SessionError> {
        self.with_state(|s, _| s.is_data_empty()).await
    }

    /// Gives the session a new id and keeps its data; the old id stops
    /// working. Call it at login (session fixation defence).
    ///
    /// Nothing is written before the end of the request (or
    /// [`save`](Self::save)). Then the old record is retired first, by a
    /// compare-and-delete at the version this request loaded: if another
    /// request wrote it meanwhile, this one reloads, replays its changes
    /// and retires again, so both requests' writes are kept; if it was
    /// destroyed, revoked or expired meanwhile, nothing is stored under the
    /// new id and the response removes the cookie (the request ends with a
    /// fresh, empty session: a login then has to be tried again).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # let config = session_core::SessionConfig::builder().random_key().build().unwrap();
    /// # let manager = session_core::SessionManager::new(config, session_core::MemoryStore::new());
    /// # let session = manager.start(std::iter::empty::<&[u8]>(), session_core::RequestMeta::default());
    /// // At login: a new id (session fixation), then the user.
    /// session.regenerate().await?;
    /// session.set_user("ada").await?;
    /// assert_eq!(session.user().await?.as_deref(), Some("ada"));
    /// # Ok::<(), session_core::SessionError>(())
    /// # }).unwrap();
    /// ```
    pub async fn regenerate(&self) -> Result<(), SessionError> {
        self.writable()?;
        let new_id = self.config().new_id();
        let mut lc = self.loaded().await?;
        lc.regenerate(new_id);
        Ok(())
    }

    /// Resets the idle window now, without a change (express-session's
    /// `req.session.touch()`): at the end of the request the stored expiry
    /// is extended to a full idle window from now, whatever the
    /// [`touch_policy`](crate::SessionConfigBuilder::touch_policy), and the
    /// response re-sends the cookie when the cookie carries an expiry.
    /// Loads the session. The touch is versioned: if another request wrote
    /// the session meanwhile, nothing is written (that write already set
    /// the expiry). The absolute lifetime still caps it.
    ///
    /// ```
    /// # async fn demo() -> Result<(), session_core::SessionError> {
    /// use session_core::{MemoryStore, RequestMeta, SessionConfig, SessionManager};
    /// let config = SessionConfig::builder().key(session_core::test_key("docs")).build().unwrap();
    /// let manager = SessionManager::new(config, MemoryStore::new());
    /// let session = manager.start([], RequestMeta::default());
    /// session.touch().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn touch(&self) -> Result<(), SessionError> {
        self.writable()?;
        self.with_state(|s, _| s.touch_requested = true).await
    }

    /// Ends the session (logout): its record is deleted and the response
    /// removes the cookie. Writing afterwards starts a new session with a
    /// new id. Makes no store call before the flush, and never loads.
    ///
    /// Synchronous: it only records the logout, applied before this
    /// request's next session call and at the end of the request. Outside
    /// the cookie's path (where no cookie arrives) it ends nothing.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # let config = session_core::SessionConfig::builder().random_key().build().unwrap();
    /// # let manager = session_core::SessionManager::new(config, session_core::MemoryStore::new());
    /// # let session = manager.start(std::iter::empty::<&[u8]>(), session_core::RequestMeta::default());
    /// session.insert("cart", 3).await?;
    /// session.destroy(); // logout
    /// // The request goes on with a fresh, empty session.
    /// assert!(session.is_empty().await?);
    /// # Ok::<(), session_core::SessionError>(())
    /// # }).unwrap();
    /// ```
    pub fn destroy(&self) {
        self.inner.destroy.store(true, Ordering::Release);
    }

    /// Discards this request's unsaved changes (a pending `regenerate`
    /// included) and reads the stored session again. Returns whether the
    /// session still exists in the store; when it does not (never saved,
    /// destroyed, revoked or expired), the request goes on with a fresh,
    /// empty session. A `destroy` is not undone.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # let config = session_core::SessionConfig::builder().random_key().build().unwrap();
    /// # let manager = session_core::SessionManager::new(config, session_core::MemoryStore::new());
    /// # let session = manager.start(std::iter::empty::<&[u8]>(), session_core::RequestMeta::default());
    /// session.insert("a", 1).await?;
    /// // Never saved: reloading drops the change and finds nothing stored.
    /// assert!(!session.reload().await?);
    /// assert_eq!(session.get::<u32>("a").await?, None);
    /// # Ok::<(), session_core::SessionError>(())
    /// # }).unwrap();
    /// ```
    pub async fn reload(&self) -> Result<bool, SessionError> {
        let mut lc = self.lock().await;
        let now = self.now();
        lc.begin_reload(self.config(), now);
        self.drive(&mut lc, now).await?;
        Ok(lc.state().is_some_and(|s| s.version.is_some()))
    }

    /// Writes the session now instead of at the end of the request. On
    /// error nothing of this request's changes is lost: they are written
    /// again by the next save or at the end of the request.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # let config = session_core::SessionConfig::builder().random_key().build().unwrap();
    /// # let manager = session_core::SessionManager::new(config, session_core::MemoryStore::new());
    /// # let session = manager.start(std::iter::empty::<&[u8]>(), session_core::RequestMeta::default());
    /// session.insert("step", 1).await?;
    /// session.save().await?; // stored now, not at the end of the request
    /// assert!(!session.is_new().await?);
    /// # Ok::<(), session_core::SessionError>(())
    /// # }).unwrap();
    /// ```
    pub async fn save(&self) -> Result<(), SessionError> {
        self.writable()?;
        let mut lc = self.loaded().await?;
        lc.begin_flush();
        self.drive(&mut lc, self.now()).await
    }

    /// When the session expires (as of now, counting this request's
    /// activity if it writes).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # let config = session_core::SessionConfig::builder().random_key().build().unwrap();
    /// # let manager = session_core::SessionManager::new(config, session_core::MemoryStore::new());
    /// # let session = manager.start(std::iter::empty::<&[u8]>(), session_core::RequestMeta::default());
    /// let when = session.expires_at().await?;
    /// assert!(when > time::OffsetDateTime::now_utc());
    /// # Ok::<(), session_core::SessionError>(())
    /// # }).unwrap();
    /// ```
    pub async fn expires_at(&self) -> Result<OffsetDateTime, SessionError> {
        let now = self.now();
        self.with_state(|s, _| {
            if s.is_modified() || s.version.is_none() {
                s.lifetime.expires_at(now)
            } else {
                s.expires_at
            }
        })
        .await
    }

    /// The session's expiry policy.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # let config = session_core::SessionConfig::builder().random_key().build().unwrap();
    /// # let manager = session_core::SessionManager::new(config, session_core::MemoryStore::new());
    /// # let session = manager.start(std::iter::empty::<&[u8]>(), session_core::RequestMeta::default());
    /// session.set_expiry(session_core::Expiry::Idle(time::Duration::days(30))).await?;
    /// assert_eq!(session.lifetime().await?.idle, Some(time::Duration::days(30)));
    /// # Ok::<(), session_core::SessionError>(())
    /// # }).unwrap();
    /// ```
    pub async fn lifetime(&self) -> Result<Lifetime, SessionError> {
        self.with_state(|s, _| s.lifetime).await
    }

    /// Overrides the expiry policy of this session ("remember me"); stored
    /// with the session, so it survives reloads. An [`Expiry::Idle`]
    /// window must be positive and at most 400 days, else this fails with
    /// [`SessionError::Expiry`] and changes nothing.
    ///
    /// Makes no store call: the change is applied when the session loads
    /// (at once if it has).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # let config = session_core::SessionConfig::builder().random_key().build().unwrap();
    /// # let manager = session_core::SessionManager::new(config, session_core::MemoryStore::new());
    /// # let session = manager.start(std::iter::empty::<&[u8]>(), session_core::RequestMeta::default());
    /// // "Remember me": 30 days of inactivity instead of the default window.
    /// session.set_expiry(session_core::Expiry::Idle(time::Duration::days(30))).await?;
    /// // Too long a window is refused and changes nothing.
    /// assert!(session.set_expiry(session_core::Expiry::Idle(time::Duration::days(401))).await.is_err());
    /// # Ok::<(), session_core::SessionError>(())
    /// # }).unwrap();
    /// ```
    pub async fn set_expiry(&self, expiry: Expiry) -> Result<(), SessionError> {
        self.writable()?;
        expiry.validate()?;
        self.lock()
            .await
            .defer(Deferred::Expiry(expiry), self.config());
        Ok(())
    }

    /// Ties the session to a user (typically right after `regenerate` at
    /// login), so the store's user index can list and revoke the user's
    /// sessions. The login time is the commit of this call: the end of the
    /// request, or at once under [`SessionCap::RefuseLogin`](crate::SessionCap::RefuseLogin), where the
    /// session is written right away so that the cap's verdict is atomic
    /// and reaches the handler: [`SessionError::TooManySessions`] when the
    /// user has no room left (the session then keeps its previous user).
    ///
    /// A user id is at most [`MAX_USER_BYTES`](Self::MAX_USER_BYTES)
    /// (stores index it); a longer one fails with
    /// [`DataError::TooLong`](crate::DataError::TooLong) (413 through the
    /// adapters' error table) and changes nothing.
    ///
    /// This is where login semantics are defined. `set_user` with the
    /// session's own user is a no-op. On a session already bound to a
    /// *different* user (an identity switch without a logout), the session
    /// gets a new id (as [`regenerate`](Self::regenerate)) and its data is
    /// dropped (as [`clear`](Self::clear)) before the new user is bound, so
    /// nothing of the previous user's session reaches the next user and the
    /// previous id stops working (OWASP: renew the id and discard the data
    /// on a change of privilege). A rotation and a clear rather than an
    /// error: a shared-device login form works without a logout step, and a
    /// handler cannot forget the data that must go.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use session_core::{MemoryStore, RequestMeta, SessionConfig, SessionManager};
    /// let config = SessionConfig::builder().key(session_core::test_key("docs")).build().unwrap();
    /// let manager = SessionManager::new(config, MemoryStore::new());
    /// let session = manager.start(std::iter::empty::<&[u8]>(), RequestMeta::default());
    /// session.set_user("alice").await?;
    /// session.insert("cart", 3).await?;
    /// let id = session.id().await?;
    /// // Another identity: a new id, and alice's data is gone.
    /// session.set_user("bob").await?;
    /// assert_ne!(session.id().await?, id);
    /// assert_eq!(session.get::<i32>("cart").await?, None);
    /// // The same user again changes nothing.
    /// let id = session.id().await?;
    /// session.set_user("bob").await?;
    /// assert_eq!(session.id().await?, id);
    /// # Ok::<(), session_core::SessionError>(())
    /// # }).unwrap();
    /// ```
    pub async fn set_user(&self, user: impl Into<String>) -> Result<(), SessionError> {
        self.writable()?;
        let user = user.into();
        bounded("user", &user, Self::MAX_USER_BYTES)?;
        let new_id = self.config().new_id();
        let mut lc = self.loaded().await?;
        let switch = lc
            .state()
            .and_then(|s| s.user.as_deref())
            .is_some_and(|current| current != user);
        if switch {
            lc.regenerate(new_id);
            if let Some(s) = lc.state_mut().filter(|s| !s.is_data_empty()) {
                s.apply(Change::Clear, usize::MAX)
                    .map_err(SessionError::Data)?;
            }
        }
        if lc.set_user(user, self.config()) {
            lc.begin_flush();
            self.drive(&mut lc, self.now()).await?;
        }
        Ok(())
    }

    /// The user the session belongs to, if any.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # let config = session_core::SessionConfig::builder().random_key().build().unwrap();
    /// # let manager = session_core::SessionManager::new(config, session_core::MemoryStore::new());
    /// # let session = manager.start(std::iter::empty::<&[u8]>(), session_core::RequestMeta::default());
    /// assert_eq!(session.user().await?, None);
    /// session.set_user("ada").await?;
    /// assert_eq!(session.user().await?.as_deref(), Some("ada"));
    /// # Ok::<(), session_core::SessionError>(())
    /// # }).unwrap();
    /// ```
    pub async fn user(&self) -> Result<Option<String>, SessionError> {
        self.with_state(|s, _| s.user.clone()).await
    }

    /// Sets the label shown for this session in "your devices" lists (for
    /// example the browser and OS from the `User-Agent`).
    ///
    /// Makes no store call: the change is applied when the session loads
    /// (at once if it has).
    ///
    /// A label is at most [`MAX_LABEL_BYTES`](Self::MAX_LABEL_BYTES) (it is
    /// stored beside the data, outside
    /// [`max_payload_bytes`](crate::SessionConfigBuilder::max_payload_bytes));
    /// a longer one fails with
    /// [`DataError::TooLong`](crate::DataError::TooLong) and changes
    /// nothing. Truncate a `User-Agent` before passing it.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # let config = session_core::SessionConfig::builder().random_key().build().unwrap();
    /// # let manager = session_core::SessionManager::new(config, session_core::MemoryStore::new());
    /// # let session = manager.start(std::iter::empty::<&[u8]>(), session_core::RequestMeta::default());
    /// let user_agent = "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0";
    /// session.set_user("ada").await?;
    /// session.set_label(user_agent).await?;
    /// session.save().await?;
    /// let devices = session.devices().await?;
    /// assert_eq!(devices[0].label.as_deref(), Some(user_agent));
    /// // Too long a label is refused.
    /// assert!(session.set_label("x".repeat(300)).await.is_err());
    /// # Ok::<(), session_core::SessionError>(())
    /// # }).unwrap();
    /// ```
    pub async fn set_label(&self, label: impl Into<String>) -> Result<(), SessionError> {
        self.writable()?;
        let label = label.into();
        bounded("label", &label, Self::MAX_LABEL_BYTES)?;
        self.lock()
            .await
            .defer(Deferred::Label(label), self.config());
        Ok(())
    }

    /// The user and stored key of this session.
    async fn owner(&self) -> Result<(String, Option<StoreKey>), SessionError> {
        let (user, current) = self
            .with_state(|s, c| (s.user.clone(), s.version.map(|_| c.store_key(&s.id))))
            .await?;
        Ok((user.ok_or(SessionError::NoUser)?, current))
    }

    /// The live sessions of this session's user, oldest login first; the
    /// current one is marked. Needs a store with a user index.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # let config = session_core::SessionConfig::builder().random_key().build().unwrap();
    /// # let manager = session_core::SessionManager::new(config, session_core::MemoryStore::new());
    /// # let session = manager.start(std::iter::empty::<&[u8]>(), session_core::RequestMeta::default());
    /// # session.set_user("ada").await?;
    /// # session.save().await?;
    /// # let phone = manager.start(std::iter::empty::<&[u8]>(), session_core::RequestMeta::default());
    /// # phone.set_user("ada").await?;
    /// # phone.save().await?;
    /// // ada is logged in here and on her phone.
    /// let devices = session.devices().await?;
    /// assert_eq!(devices.len(), 2);
    /// assert_eq!(devices.iter().filter(|d| d.current).count(), 1);
    /// # Ok::<(), session_core::SessionError>(())
    /// # }).unwrap();
    /// ```
    pub async fn devices(&self) -> Result<Vec<SessionInfo>, SessionError> {
        let (user, current) = self.owner().await?;
        self.track(users::list(&self.inner.driver, &user, current.as_ref()).await)
    }

    /// Revokes another session of this session's user by its handle;
    /// `false` when the user has no such session. Revoking the current
    /// session is `destroy`.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # let config = session_core::SessionConfig::builder().random_key().build().unwrap();
    /// # let manager = session_core::SessionManager::new(config, session_core::MemoryStore::new());
    /// # let session = manager.start(std::iter::empty::<&[u8]>(), session_core::RequestMeta::default());
    /// # session.set_user("ada").await?;
    /// # session.save().await?;
    /// # let phone = manager.start(std::iter::empty::<&[u8]>(), session_core::RequestMeta::default());
    /// # phone.set_user("ada").await?;
    /// # phone.save().await?;
    /// let phone_handle = session.devices().await?.into_iter().find(|d| !d.current).unwrap().handle;
    /// assert!(session.revoke(&phone_handle).await?);
    /// assert_eq!(session.devices().await?.len(), 1);
    /// # Ok::<(), session_core::SessionError>(())
    /// # }).unwrap();
    /// ```
    pub async fn revoke(&self, handle: &str) -> Result<bool, SessionError> {
        self.writable()?;
        // One listing: it both checks that the handle is the user's and
        // tells whether it is this session.
        let devices = self.devices().await?;
        let found: Vec<_> = devices.into_iter().filter(|d| d.handle == handle).collect();
        if found.iter().any(|d| d.current) {
            self.destroy();
            return Ok(true);
        }
        let user = self.owner().await?.0;
        let n = self.track(users::revoke(&self.inner.driver, &user, &found).await)?;
        Ok(n > 0)
    }

    /// "Log out other devices": revokes every other session of this
    /// session's user; returns how many.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # let config = session_core::SessionConfig::builder().random_key().build().unwrap();
    /// # let manager = session_core::SessionManager::new(config, session_core::MemoryStore::new());
    /// # let session = manager.start(std::iter::empty::<&[u8]>(), session_core::RequestMeta::default());
    /// # session.set_user("ada").await?;
    /// # session.save().await?;
    /// # let phone = manager.start(std::iter::empty::<&[u8]>(), session_core::RequestMeta::default());
    /// # phone.set_user("ada").await?;
    /// # phone.save().await?;
    /// // "Log out other devices".
    /// assert_eq!(session.revoke_others().await?, 1);
    /// # Ok::<(), session_core::SessionError>(())
    /// # }).unwrap();
    /// ```
    pub async fn revoke_others(&self) -> Result<usize, SessionError> {
        self.writable()?;
        let others: Vec<_> = self
            .devices()
            .await?
            .into_iter()
            .filter(|d| !d.current)
            .collect();
        let user = self.owner().await?.0;
        self.track(users::revoke(&self.inner.driver, &user, &others).await)
    }

    /// Notes a store failure of a per-user call.
    fn track<T>(&self, result: Result<T, SessionError>) -> Result<T, SessionError> {
        if let Err(SessionError::Store(_)) = &result {
            self.inner.failed.store(true, Ordering::Relaxed);
        }
        result
    }

    /// Whether a store call of this request failed (adapters then answer
    /// with the failure response even if the handler swallowed the error).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # let config = session_core::SessionConfig::builder().random_key().build().unwrap();
    /// # let manager = session_core::SessionManager::new(config, session_core::MemoryStore::new());
    /// # let session = manager.start(std::iter::empty::<&[u8]>(), session_core::RequestMeta::default());
    /// session.insert("a", 1).await?;
    /// assert!(!session.store_failed()); // MemoryStore does not fail
    /// # Ok::<(), session_core::SessionError>(())
    /// # }).unwrap();
    /// ```
    pub fn store_failed(&self) -> bool {
        self.inner.failed.load(Ordering::Relaxed)
    }

    /// Flushes, and returns the response header value decided by this
    /// request's flushes, if any, and whether the request used its session.
    /// `discard`: the 5xx rule, only deletions are stored.
    pub(crate) async fn finish(&self, discard: bool) -> Result<Finished, SessionError> {
        if !self.inner.in_scope {
            // Outside the cookie's path: no store call, no header.
            return Ok(Finished {
                header: None,
                used: false,
            });
        }
        let mut lc = if discard {
            let mut lc = self.lock().await;
            lc.discard_unsaved(self.config(), self.now());
            lc
        } else if self.inner.lifecycle.lock().await.has_deferred() {
            // Changes recorded without a load: load now to write them.
            self.loaded().await?
        } else {
            self.lock().await
        };
        let used = lc.state().is_some() || discard;
        lc.begin_flush();
        self.drive(&mut lc, self.now()).await?;
        let Some((id, action, now)) = lc.take_cookie() else {
            return Ok(Finished { header: None, used });
        };
        let config = self.config();
        let header = match action {
            CookieAction::Nothing => None,
            CookieAction::Set { expires_at } => Some(cookie::render_set(
                config,
                &config.keys.sign(&id),
                expires_at,
                now,
                self.inner.secure_request,
            )),
            CookieAction::Remove => Some(cookie::render_removal(config, self.inner.secure_request)),
        };
        Ok(Finished {
            used: used || header.is_some(),
            header,
        })
    }
}

/// What the end of a request's session left for the response.
#[derive(Debug)]
pub(crate) struct Finished {
    /// The session header's value (a `Set-Cookie`), if any.
    pub(crate) header: Option<String>,
    /// The request used its session: the response depends on it.
    pub(crate) used: bool,
}
