//! `Session`: the handle handlers use, in the spirit of `req.session`.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::config::SessionCap;
use crate::cookie::{self, Verdict};
use crate::decision::{CookieAction, StoreAction, decide};
use crate::events::EventKind;
use crate::expiry::{Expiry, Lifetime};
use crate::id::{SessionId, StoreKey};
use crate::manager::{ManagerInner, SessionManager};
use crate::state::{self, Change, DataError, State};
use crate::store::{Created, Record, Saved, StoreError, Version};

/// How many fresh ids `create` tries before giving up on collisions.
const CREATE_ATTEMPTS: u32 = 8;

/// Why a session operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The store failed; the adapter answers with the configured failure
    /// response.
    #[error("session store failed")]
    Store(#[from] StoreError),
    /// The data would be too large, or a value is not JSON-compatible; the
    /// session is unchanged.
    #[error(transparent)]
    Data(#[from] DataError),
    /// A save kept conflicting with concurrent requests past the retry
    /// bound.
    #[error("session save conflicted {0} times")]
    Conflict(u32),
    /// Every fresh id collided with an existing record (a broken id
    /// generator).
    #[error("could not find an unused session id")]
    IdCollision,
    /// The user already has the maximum number of sessions and the cap's
    /// policy is to refuse the login.
    #[error("the user already has {0} sessions")]
    TooManySessions(usize),
    /// The store has no user index (per-user features are unavailable).
    #[error("the session store has no user index")]
    NoUserIndex,
    /// The session has no user (call `set_user` first).
    #[error("the session has no user")]
    NoUser,
}

/// One of a user's live sessions, for a "your devices" page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// An opaque handle (the storage key: a hash of the id, useless as a
    /// cookie) to pass to `revoke`.
    pub handle: String,
    /// When the session was created.
    pub created_at: OffsetDateTime,
    /// When it was last active, as far as the store knows (last write or
    /// touch).
    pub last_seen: OffsetDateTime,
    /// When it expires.
    pub expires_at: OffsetDateTime,
    /// The label the app chose (`Session::set_label`), e.g. a browser name.
    pub label: Option<String>,
    /// Whether this is the session of the request that asked.
    pub current: bool,
}

/// Lists `user`'s live sessions, oldest first.
pub(crate) async fn list_user(
    m: &ManagerInner,
    user: &str,
    current: Option<&StoreKey>,
) -> Result<Vec<SessionInfo>, SessionError> {
    let Some(index) = m.store.user_index() else {
        return Err(SessionError::NoUserIndex);
    };
    let records = m.timed("user_records", index.user_records(user)).await?;
    let now = m.clock.now();
    let mut out: Vec<SessionInfo> = records
        .into_iter()
        .filter(|r| !r.is_expired(now) && r.user.as_deref() == Some(user))
        .filter_map(|r| {
            let d = state::decode(&r.payload).ok()?;
            let touched = match (d.lifetime.idle, d.lifetime.deadline()) {
                (Some(idle), deadline) if deadline.is_none_or(|dl| r.expires_at < dl) => {
                    r.expires_at.checked_sub(idle)
                }
                _ => None,
            };
            let last_write = d.last_write.unwrap_or(d.created_at);
            Some(SessionInfo {
                handle: r.key.as_str().to_owned(),
                created_at: d.created_at,
                last_seen: touched.map_or(last_write, |t| t.max(last_write)),
                expires_at: r.expires_at,
                label: d.label,
                current: current == Some(&r.key),
            })
        })
        .collect();
    out.sort_by_key(|i| (i.created_at, i.handle.clone()));
    Ok(out)
}

impl SessionError {
    /// Whether this is a store failure (the adapter's failure response).
    pub fn is_store(&self) -> bool {
        matches!(
            self,
            SessionError::Store(_) | SessionError::Conflict(_) | SessionError::IdCollision
        )
    }
}

/// A request's session: a cheap, clonable handle. Loads lazily: a request
/// that never touches its session makes no store call.
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

struct Inner {
    manager: SessionManager,
    verdict: Verdict,
    secure_request: bool,
    slot: Mutex<Slot>,
}

#[derive(Default)]
struct Slot {
    /// `None` until first use.
    state: Option<State>,
    /// Records to delete at the next flush (old ids after `regenerate`,
    /// `destroy`).
    deletes: Vec<StoreKey>,
    /// The cookie outcome of the flushes so far.
    cookie: Option<(SessionId, CookieAction, OffsetDateTime)>,
    /// A store call failed during this request.
    failed: bool,
    /// `regenerate` / `destroy` were called: emit their events once the
    /// pending deletions are done.
    rotated: bool,
    destroyed: bool,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let slot = self.lock();
        f.debug_struct("Session")
            .field("verdict", &self.inner.verdict)
            .field("loaded", &slot.state.is_some())
            .finish_non_exhaustive()
    }
}

impl Session {
    pub(crate) fn new(manager: SessionManager, verdict: Verdict, secure_request: bool) -> Self {
        Self {
            inner: Arc::new(Inner {
                manager,
                verdict,
                secure_request,
                slot: Mutex::new(Slot::default()),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Slot> {
        self.inner
            .slot
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn config(&self) -> &crate::SessionConfig {
        &self.inner.manager.inner.config
    }

    fn now(&self) -> OffsetDateTime {
        self.inner.manager.inner.clock.now()
    }

    fn fresh_state(&self, now: OffsetDateTime) -> State {
        let config = self.config();
        State::fresh(config.new_id(), Lifetime::from_config(config, now), now)
    }

    fn fail<T>(&self, e: StoreError) -> Result<T, SessionError> {
        self.lock().failed = true;
        tracing::error!(target: "session", event = "store_error", error = &e as &dyn std::error::Error, "session store call failed");
        Err(SessionError::Store(e))
    }

    fn manager_inner(&self) -> &ManagerInner {
        &self.inner.manager.inner
    }

    /// Loads the stored state for `id`, or `None` when there is no live,
    /// readable record.
    async fn load_stored(&self, id: SessionId) -> Result<Option<State>, SessionError> {
        let m = &self.inner.manager.inner;
        let key = m.config.store_key(&id);
        let record = match m.timed("load", m.store.load(&key)).await {
            Ok(r) => r,
            Err(e) => return self.fail(e),
        };
        let now = m.clock.now();
        Ok(match record {
            Some(r) if !r.is_expired(now) => {
                match State::from_payload(id, r.payload, r.version, r.expires_at, r.user) {
                    Ok(state) => {
                        m.emit(EventKind::Loaded, Some(&id), state.user.as_deref());
                        Some(state)
                    }
                    Err(e) => {
                        tracing::warn!(target: "session", event = "undecodable", error = &e as &dyn std::error::Error, "stored session could not be decoded; starting a fresh one");
                        None
                    }
                }
            }
            Some(_) => {
                m.emit(EventKind::ExpiredOnLoad, Some(&id), None);
                None
            }
            None => None,
        })
    }

    /// Locks the slot with the state loaded.
    async fn loaded(&self) -> Result<MutexGuard<'_, Slot>, SessionError> {
        if self.lock().state.is_some() {
            return Ok(self.lock());
        }
        let state = match self.inner.verdict {
            Verdict::Valid { id, .. } => self.load_stored(id).await?,
            _ => None,
        };
        let mut slot = self.lock();
        if slot.state.is_none() {
            let state = match state {
                Some(s) => s,
                None => self.fresh_state(self.now()),
            };
            slot.state = Some(state);
        }
        Ok(slot)
    }

    async fn with_state<R>(
        &self,
        f: impl FnOnce(&mut State, &crate::SessionConfig) -> R,
    ) -> Result<R, SessionError> {
        let mut slot = self.loaded().await?;
        match slot.state.as_mut() {
            Some(state) => Ok(f(state, self.config())),
            None => Err(SessionError::IdCollision),
        }
    }

    /// The value under `key`, deserialized as `T`.
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, SessionError> {
        self.with_state(|s, _| s.get(key))
            .await?
            .map_err(|e| SessionError::Data(DataError::Json(e)))
    }

    /// The raw JSON value under `key`.
    pub async fn get_value(&self, key: &str) -> Result<Option<Value>, SessionError> {
        self.with_state(|s, _| s.get(key))
            .await?
            .map_err(|e| SessionError::Data(DataError::Json(e)))
    }

    /// Sets `key` to `value`. Setting a key to the value it already has is
    /// not a modification. Fails with [`DataError::PayloadTooLarge`] (and
    /// changes nothing) past the configured limit.
    pub async fn insert<T: Serialize>(&self, key: &str, value: T) -> Result<(), SessionError> {
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
    pub async fn remove<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, SessionError> {
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

    /// Removes every key.
    pub async fn clear(&self) -> Result<(), SessionError> {
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
    pub async fn update<T, F>(&self, key: &str, f: F) -> Result<T, SessionError>
    where
        T: Serialize + DeserializeOwned,
        F: Fn(Option<T>) -> T + Send + Sync + 'static,
    {
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
    pub async fn id(&self) -> Result<SessionId, SessionError> {
        self.with_state(|s, _| s.id).await
    }

    /// Whether the session is not (yet) in the store.
    pub async fn is_new(&self) -> Result<bool, SessionError> {
        self.with_state(|s, _| s.version.is_none()).await
    }

    /// A copy of all data (for debug pages).
    pub async fn entries(&self) -> Result<Map<String, Value>, SessionError> {
        self.with_state(|s, _| s.materialize().map(|()| s.data.clone()))
            .await?
            .map_err(SessionError::Data)
    }

    /// Whether the session holds no data.
    pub async fn is_empty(&self) -> Result<bool, SessionError> {
        self.with_state(|s, _| s.is_data_empty()).await
    }

    /// Gives the session a new id and keeps its data; the old id stops
    /// working. Call it at login (session fixation defence).
    pub async fn regenerate(&self) -> Result<(), SessionError> {
        let new_id = self.config().new_id();
        let mut slot = self.loaded().await?;
        let slot = &mut *slot;
        if let Some(s) = slot.state.as_mut() {
            if s.version.is_some() {
                slot.deletes.push(self.config().store_key(&s.id));
            }
            s.id = new_id;
            s.version = None;
            s.force_save = true;
            slot.rotated = true;
        }
        Ok(())
    }

    /// Ends the session (logout): its record is deleted and the response
    /// removes the cookie. Writing afterwards starts a new session with a
    /// new id. Makes no store call before the flush, and never loads.
    pub async fn destroy(&self) -> Result<(), SessionError> {
        let now = self.now();
        let mut fresh = self.fresh_state(now);
        fresh.destroyed = true;
        let key = {
            let slot = self.lock();
            match (&slot.state, self.inner.verdict) {
                (Some(s), _) => s.version.map(|_| s.id),
                (None, Verdict::Valid { id, .. }) => Some(id),
                (None, _) => None,
            }
        };
        let mut slot = self.lock();
        if let Some(id) = key {
            slot.deletes.push(self.config().store_key(&id));
            slot.destroyed = true;
        }
        slot.state = Some(fresh);
        Ok(())
    }

    /// Discards this request's unsaved changes and reloads from the store.
    pub async fn reload(&self) -> Result<(), SessionError> {
        let id = {
            let slot = self.lock();
            match (&slot.state, self.inner.verdict) {
                (Some(s), _) if s.version.is_some() => Some(s.id),
                (Some(_), _) => None,
                (None, Verdict::Valid { id, .. }) => Some(id),
                (None, _) => None,
            }
        };
        let state = match id {
            Some(id) => self.load_stored(id).await?,
            None => None,
        };
        let now = self.now();
        let mut slot = self.lock();
        slot.state = Some(state.unwrap_or_else(|| self.fresh_state(now)));
        Ok(())
    }

    /// Writes the session now instead of at the end of the request.
    pub async fn save(&self) -> Result<(), SessionError> {
        self.loaded().await.map(drop)?;
        self.flush().await
    }

    /// When the session expires (as of now, counting this request's
    /// activity if it writes).
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
    pub async fn lifetime(&self) -> Result<Lifetime, SessionError> {
        self.with_state(|s, _| s.lifetime).await
    }

    /// Overrides the expiry policy of this session ("remember me"); stored
    /// with the session, so it survives reloads.
    pub async fn set_expiry(&self, expiry: Expiry) -> Result<(), SessionError> {
        self.with_state(|s, c| {
            s.lifetime = s.lifetime.with_override(c, expiry);
            s.expiry_changed = true;
        })
        .await
    }

    /// Ties the session to a user (typically right after `regenerate` at
    /// login), so the store's user index can list and revoke the user's
    /// sessions. With a per-user cap whose policy is
    /// [`SessionCap::RefuseLogin`], fails with
    /// [`SessionError::TooManySessions`] when the user has no room left.
    pub async fn set_user(&self, user: impl Into<String>) -> Result<(), SessionError> {
        let user = user.into();
        if let Some((max, SessionCap::RefuseLogin)) = self.config().max_per_user {
            let current = self
                .with_state(|s, c| (s.version.is_some()).then(|| c.store_key(&s.id)))
                .await?;
            let others = list_user(self.manager_inner(), &user, current.as_ref())
                .await?
                .into_iter()
                .filter(|i| !i.current)
                .count();
            if others >= max {
                return Err(SessionError::TooManySessions(others));
            }
        }
        self.with_state(|s, _| {
            if s.user.as_deref() != Some(user.as_str()) {
                s.user = Some(user);
                s.user_changed = true;
            }
        })
        .await
    }

    /// The user the session belongs to, if any.
    pub async fn user(&self) -> Result<Option<String>, SessionError> {
        self.with_state(|s, _| s.user.clone()).await
    }

    /// Sets the label shown for this session in "your devices" lists (for
    /// example the browser and OS from the `User-Agent`).
    pub async fn set_label(&self, label: impl Into<String>) -> Result<(), SessionError> {
        let label = label.into();
        self.with_state(|s, _| {
            if s.label.as_deref() != Some(label.as_str()) {
                s.label = Some(label);
                s.force_save = true;
            }
        })
        .await
    }

    /// The live sessions of this session's user, oldest first; the current
    /// one is marked. Needs a store with a user index.
    pub async fn devices(&self) -> Result<Vec<SessionInfo>, SessionError> {
        let (user, current) = self
            .with_state(|s, c| (s.user.clone(), s.version.map(|_| c.store_key(&s.id))))
            .await?;
        let user = user.ok_or(SessionError::NoUser)?;
        list_user(self.manager_inner(), &user, current.as_ref()).await
    }

    /// Revokes another session of this session's user by its handle;
    /// `false` when the user has no such session. Revoking the current
    /// session is `destroy`.
    pub async fn revoke(&self, handle: &str) -> Result<bool, SessionError> {
        let user = self.user().await?.ok_or(SessionError::NoUser)?;
        // One listing: it both checks that the handle is the user's and
        // tells whether it is this session.
        let devices = self.devices().await?;
        let Some(device) = devices.iter().find(|d| d.handle == handle) else {
            return Ok(false);
        };
        if device.current {
            self.destroy().await?;
            return Ok(true);
        }
        let Some(key) = StoreKey::from_stored(handle) else {
            return Ok(false);
        };
        let m = self.manager_inner();
        if let Err(e) = m.timed("delete", m.store.delete(&key)).await {
            return self.fail(e);
        }
        m.emit(EventKind::Revoked, None, Some(&user));
        Ok(true)
    }

    /// "Log out other devices": revokes every other session of this
    /// session's user; returns how many.
    pub async fn revoke_others(&self) -> Result<usize, SessionError> {
        let user = self.user().await?.ok_or(SessionError::NoUser)?;
        let m = self.manager_inner();
        let mut n = 0;
        // One listing, then one delete per other session.
        for d in self.devices().await?.into_iter().filter(|d| !d.current) {
            if let Some(key) = StoreKey::from_stored(&d.handle) {
                if let Err(e) = m.timed("delete", m.store.delete(&key)).await {
                    return self.fail(e);
                }
                m.emit(EventKind::Revoked, None, Some(&user));
                n += 1;
            }
        }
        Ok(n)
    }

    /// After a login was stored: with [`SessionCap::RevokeOldest`], revokes
    /// the user's oldest other sessions beyond the cap.
    async fn enforce_cap(&self, user: &str, current: &StoreKey) -> Result<(), SessionError> {
        let Some((max, SessionCap::RevokeOldest)) = self.config().max_per_user else {
            return Ok(());
        };
        let m = self.manager_inner();
        let sessions = match list_user(m, user, Some(current)).await {
            Ok(s) => s,
            Err(SessionError::NoUserIndex) => return Ok(()),
            Err(e) => return Err(e),
        };
        let excess = sessions.len().saturating_sub(max);
        for info in sessions.iter().filter(|i| !i.current).take(excess) {
            if let Some(key) = StoreKey::from_stored(&info.handle) {
                if let Err(e) = m.timed("delete", m.store.delete(&key)).await {
                    return self.fail(e);
                }
                m.emit(EventKind::Revoked, None, Some(user));
            }
        }
        Ok(())
    }

    /// Whether a store call of this request failed (adapters then answer
    /// with the failure response even if the handler swallowed the error).
    pub fn store_failed(&self) -> bool {
        self.lock().failed
    }

    /// Performs the store calls decided for the current state, and records
    /// the cookie outcome for the response.
    pub(crate) async fn flush(&self) -> Result<(), SessionError> {
        let m = &self.inner.manager.inner;
        let config = &m.config;
        let now = m.clock.now();
        let mut conflicts = 0u32;
        let mut collisions = 0u32;
        loop {
            let (decision, record, key) = {
                let mut slot = self.lock();
                let decision = decide(self.inner.verdict, slot.state.as_ref(), config, now);
                // The common read-only case: nothing to write, nothing to
                // send, nothing to delete.
                if decision.store == StoreAction::Nothing
                    && decision.cookie == CookieAction::Nothing
                    && slot.deletes.is_empty()
                {
                    return Ok(());
                }
                let Some(s) = slot.state.as_mut() else {
                    return Ok(());
                };
                if matches!(
                    decision.store,
                    StoreAction::Create { .. } | StoreAction::Save { .. }
                ) {
                    s.last_write = now;
                }
                let s = &*s;
                let key = config.store_key(&s.id);
                let record = match decision.store {
                    StoreAction::Create { expires_at } => Some(Record {
                        key,
                        version: Version::FIRST,
                        expires_at,
                        payload: s.encode(),
                        user: s.user.clone(),
                    }),
                    StoreAction::Save {
                        expected,
                        expires_at,
                    } => Some(Record {
                        key,
                        version: expected.next(),
                        expires_at,
                        payload: s.encode(),
                        user: s.user.clone(),
                    }),
                    _ => None,
                };
                (decision, record, key)
            };
            let outcome = match (decision.store, record) {
                (StoreAction::Nothing, _) => Outcome::Done,
                (StoreAction::Create { .. }, Some(r)) => {
                    match m.timed("create", m.store.create(&r)).await {
                        Ok(Created::Ok) => Outcome::Stored(r.version, r.expires_at),
                        Ok(Created::Collision) => {
                            collisions += 1;
                            if collisions >= CREATE_ATTEMPTS {
                                self.lock().failed = true;
                                return Err(SessionError::IdCollision);
                            }
                            let mut slot = self.lock();
                            if let Some(s) = slot.state.as_mut() {
                                s.id = config.new_id();
                            }
                            continue;
                        }
                        Err(e) => return self.fail(e),
                    }
                }
                (StoreAction::Save { expected, .. }, Some(r)) => {
                    match m.timed("save", m.store.save(&r, expected)).await {
                        Ok(Saved::Ok) => Outcome::Stored(r.version, r.expires_at),
                        Ok(Saved::Conflict | Saved::Gone) => {
                            conflicts += 1;
                            if conflicts > config.max_retries {
                                self.lock().failed = true;
                                return Err(SessionError::Conflict(conflicts));
                            }
                            let id = self.lock().state.as_ref().map(|s| s.id);
                            let fresh = match id {
                                Some(id) => self.load_stored(id).await?,
                                None => None,
                            };
                            match fresh {
                                Some(fresh) => {
                                    tracing::debug!(target: "session", event = "conflict", retry = conflicts);
                                    let mut slot = self.lock();
                                    if let Some(s) = slot.state.as_mut() {
                                        s.rebase(fresh, config.max_payload_bytes)?;
                                    }
                                    continue;
                                }
                                None => Outcome::Vanished,
                            }
                        }
                        Err(e) => return self.fail(e),
                    }
                }
                (StoreAction::Touch { expires_at }, _) => {
                    match m.timed("touch", m.store.touch(&key, expires_at)).await {
                        Ok(true) => Outcome::Touched(expires_at),
                        Ok(false) => Outcome::Vanished,
                        Err(e) => return self.fail(e),
                    }
                }
                (StoreAction::Delete, _) => match m.timed("delete", m.store.delete(&key)).await {
                    Ok(()) => Outcome::Deleted,
                    Err(e) => return self.fail(e),
                },
                // Create/Save always come with a record.
                (_, None) => Outcome::Done,
            };
            let mut login: Option<(String, StoreKey)> = None;
            let mut created: Option<(SessionId, Option<String>)> = None;
            let (deletes, rotated, destroyed) = {
                let mut slot = self.lock();
                let slot = &mut *slot;
                let cookie = match outcome {
                    Outcome::Vanished => {
                        // Destroyed (or expired) concurrently: never resurrect
                        // it; this request's writes are dropped.
                        tracing::debug!(target: "session", event = "vanished");
                        slot.state = Some(self.fresh_state(now));
                        CookieAction::Nothing
                    }
                    Outcome::Deleted => {
                        let mut fresh = self.fresh_state(now);
                        fresh.destroyed = true;
                        slot.state = Some(fresh);
                        decision.cookie
                    }
                    _ => decision.cookie,
                };
                if let Some(s) = slot.state.as_mut() {
                    match outcome {
                        Outcome::Stored(version, expires_at) => {
                            if s.user_changed
                                && let Some(user) = &s.user
                            {
                                login = Some((user.clone(), key));
                            }
                            if version == Version::FIRST && !slot.rotated {
                                created = Some((s.id, s.user.clone()));
                            }
                            s.user_changed = false;
                            s.version = Some(version);
                            s.expires_at = expires_at;
                            s.changes.clear();
                            s.expiry_changed = false;
                            s.force_save = false;
                            s.destroyed = false;
                        }
                        Outcome::Touched(expires_at) => s.expires_at = expires_at,
                        _ => {}
                    }
                    if cookie != CookieAction::Nothing {
                        slot.cookie = Some((s.id, cookie, now));
                    }
                }
                let deleting = !slot.deletes.is_empty();
                (
                    std::mem::take(&mut slot.deletes),
                    std::mem::take(&mut slot.rotated) && deleting,
                    std::mem::take(&mut slot.destroyed),
                )
            };
            for key in deletes {
                if let Err(e) = m.timed("delete", m.store.delete(&key)).await {
                    return self.fail(e);
                }
            }
            let (id, user) = {
                let slot = self.lock();
                let s = slot.state.as_ref();
                (s.map(|s| s.id), s.and_then(|s| s.user.clone()))
            };
            if let Some((cid, cuser)) = &created {
                m.emit(EventKind::Created, Some(cid), cuser.as_deref());
            }
            if rotated {
                m.emit(EventKind::IdRotated, id.as_ref(), user.as_deref());
            }
            if destroyed {
                m.emit(EventKind::Destroyed, None, None);
            }
            if let Some((user, current)) = login {
                self.enforce_cap(&user, &current).await?;
            }
            return Ok(());
        }
    }

    /// The response header value decided by the flushes, if any.
    pub(crate) fn take_response_value(&self) -> Option<String> {
        let (id, action, now) = self.lock().cookie.take()?;
        let config = self.config();
        match action {
            CookieAction::Nothing => None,
            CookieAction::Set { expires_at } => Some(cookie::render_set(
                config,
                &config.keys.sign(&id),
                expires_at,
                now,
                self.inner.secure_request,
            )),
            CookieAction::Remove => Some(cookie::render_removal(config, self.inner.secure_request)),
        }
    }
}

enum Outcome {
    Done,
    Stored(Version, OffsetDateTime),
    Touched(OffsetDateTime),
    Deleted,
    Vanished,
}
