//! The request lifecycle as a pure state machine, in the shape of
//! quinn-proto's `poll` / `handle`: from the first store call to the
//! response, every decision is made here, with `now` and the config as
//! parameters. The driver (`session.rs`) only performs the [`Call`] that
//! [`Lifecycle::poll`] hands it and gives the store's answer back to
//! [`Lifecycle::handle`]; it never looks at an answer itself. No `.await`
//! and no clock in this module.
//!
//! One flush of a request runs these phases, each a store call:
//!
//! 1. `Deletes`: the unconditional deletions `destroy` asked for.
//! 2. `Retire`: a pending id rotation compare-and-deletes the record it was
//!    loaded from. Moved on: reload, replay, retire again. Gone: the session
//!    was destroyed, revoked or expired meanwhile; the request ends with a
//!    fresh, empty session and a removal cookie (never the old data).
//! 3. `Write`: [`decide`] picks create / save / touch / delete; a login under
//!    a per-user cap is written with [`UserIndex::admit`](crate::UserIndex).
//!    A conflict reloads and replays the change log (`Rebase`), a vanished
//!    record ends the session as above.

use time::OffsetDateTime;

use crate::config::{SessionCap, SessionConfig};
use crate::cookie::Verdict;
use crate::decision::{CookieAction, Decision, StoreAction, decide};
use crate::error::SessionError;
use crate::events::EventKind;
use crate::expiry::Lifetime;
use crate::id::{SessionId, StoreKey};
use crate::state::State;
use crate::store::{Admission, Cap, Created, Record, Retired, Saved, StoreError, Touched, Version};

/// How many fresh ids a create tries before giving up on collisions.
const CREATE_ATTEMPTS: u32 = 8;

/// A store call the driver must perform next.
#[derive(Debug)]
pub(crate) enum Call {
    /// [`Store::load`](crate::Store::load).
    Load(StoreKey),
    /// [`Store::create`](crate::Store::create).
    Create(Record),
    /// [`Store::save`](crate::Store::save) from the expected version.
    Save(Record, Version),
    /// [`Store::touch`](crate::Store::touch).
    Touch(StoreKey, Version, OffsetDateTime),
    /// [`Store::retire`](crate::Store::retire).
    Retire(StoreKey, Version),
    /// [`Store::delete`](crate::Store::delete).
    Delete(StoreKey),
    /// [`UserIndex::admit`](crate::UserIndex::admit).
    Admit(Record, Option<Version>, OffsetDateTime, Cap),
}

/// The store's answer to a [`Call`].
#[derive(Debug)]
pub(crate) enum Reply {
    Loaded(Option<Record>),
    Created(Created),
    Saved(Saved),
    Touched(Touched),
    Retired(Retired),
    Deleted,
    Admitted(Admission),
}

/// What the driver must do next.
#[derive(Debug)]
pub(crate) enum Step {
    /// Perform this call and hand its result to [`Lifecycle::handle`].
    Call(Call),
    /// The operation is over.
    Done(Result<(), SessionError>),
}

/// A lifecycle event for the driver to emit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Note {
    pub(crate) kind: EventKind,
    pub(crate) id: Option<SessionId>,
    pub(crate) user: Option<String>,
    /// How many times (revocations by a login's cap).
    pub(crate) count: usize,
    /// For a conflict replay: its number within the request (1 first).
    pub(crate) retry: Option<u32>,
}

/// Where the machine is.
#[derive(Debug)]
enum Phase {
    /// Nothing under way.
    Idle,
    /// Load the stored session for first use or `reload`.
    Load(SessionId),
    /// Flush: perform `destroy`'s deletions.
    Deletes,
    /// Flush: retire the record a pending rotation moves away from.
    Retire,
    /// Flush: decide and write.
    Write,
    /// Flush: reload `SessionId` to replay the change log on it.
    Rebase(SessionId),
    /// A call is with the store; its reply is read as this says.
    Awaiting(Pending),
    /// Over; `poll` hands the result out once.
    Finished(Result<(), SessionError>),
}

/// How to read the reply of the call in flight.
#[derive(Debug)]
enum Pending {
    Load(SessionId),
    Delete,
    Retire,
    Rebase(SessionId),
    Write {
        decision: Decision,
        record: Option<(Version, OffsetDateTime)>,
    },
}

/// One request's session, from its cookie verdict to its response.
#[derive(Debug)]
pub(crate) struct Lifecycle {
    verdict: Verdict,
    has_index: bool,
    /// Someone listens to events (a hook, or `tracing`): only then are
    /// notes kept.
    listening: bool,
    /// `None` until first use.
    state: Option<State>,
    /// Stored records `destroy` asked to delete.
    deletes: Vec<StoreKey>,
    /// Emit `Destroyed` once the deletions are done.
    destroyed: bool,
    /// A retire succeeded in this flush: the next stored record is the
    /// rotated session.
    retired: bool,
    /// The cookie outcome of the flushes so far.
    cookie: Option<(SessionId, CookieAction, OffsetDateTime)>,
    phase: Phase,
    conflicts: u32,
    collisions: u32,
    failed: bool,
    events: Vec<Note>,
    /// Changes recorded before the session was loaded (`set_label`,
    /// `set_expiry`): applied when it loads.
    deferred: Vec<Deferred>,
    /// The store key of the last id asked for: deriving one hashes the id
    /// (SHA-256), and a request asks for the same id's key at load and
    /// again at flush.
    last_key: Option<(SessionId, StoreKey)>,
}

/// A change a handler made before its session was loaded, recorded without
/// a store call and applied once the session loads.
#[derive(Debug, Clone)]
pub(crate) enum Deferred {
    /// `set_label`.
    Label(String),
    /// `set_expiry` (already validated).
    Expiry(crate::expiry::Expiry),
}

impl Deferred {
    fn apply(self, s: &mut State, config: &SessionConfig) {
        match self {
            Deferred::Label(label) => {
                if s.label.as_deref() != Some(label.as_str()) {
                    s.label = Some(label);
                    s.label_changed = true;
                }
            }
            Deferred::Expiry(expiry) => {
                s.lifetime = s.lifetime.with_override(config, expiry);
                s.expiry_changed = true;
            }
        }
    }
}

/// The store key of `id`, through the one-entry cache `last`.
fn key_of(
    last: &mut Option<(SessionId, StoreKey)>, config: &SessionConfig, id: &SessionId,
) -> StoreKey {
    match last {
        Some((cached, key)) if cached == id => *key,
        _ => {
            let key = config.store_key(id);
            *last = Some((*id, key));
            key
        }
    }
}

impl Lifecycle {
    /// A request's lifecycle; `has_index`: the store has a user index.
    /// `listening`: keep event notes for the driver to emit.
    pub(crate) fn new(verdict: Verdict, has_index: bool, listening: bool) -> Self {
        Self {
            verdict,
            has_index,
            listening,
            state: None,
            deletes: Vec::new(),
            destroyed: false,
            retired: false,
            cookie: None,
            phase: Phase::Idle,
            conflicts: 0,
            collisions: 0,
            failed: false,
            events: Vec::new(),
            deferred: Vec::new(),
            last_key: None,
        }
    }

    /// Records `change`: applied at once when the session is loaded, else
    /// when it loads (no store call now).
    pub(crate) fn defer(&mut self, change: Deferred, config: &SessionConfig) {
        self.deferred.push(change);
        self.apply_deferred(config);
    }

    /// Whether changes wait for the session to load.
    pub(crate) fn has_deferred(&self) -> bool {
        !self.deferred.is_empty()
    }

    /// Applies the recorded changes, if the session is loaded.
    pub(crate) fn apply_deferred(&mut self, config: &SessionConfig) {
        if let Some(s) = self.state.as_mut() {
            for change in self.deferred.drain(..) {
                change.apply(s, config);
            }
        }
    }

    /// The session state, once loaded.
    pub(crate) fn state(&self) -> Option<&State> {
        self.state.as_ref()
    }

    /// The session state, once loaded.
    pub(crate) fn state_mut(&mut self) -> Option<&mut State> {
        self.state.as_mut()
    }

    /// The verdict on the request's cookie.
    pub(crate) fn verdict(&self) -> Verdict {
        self.verdict
    }

    /// Whether a store call of this request failed.
    pub(crate) fn failed(&self) -> bool {
        self.failed
    }

    /// The events produced so far (drained).
    pub(crate) fn take_events(&mut self) -> Vec<Note> {
        std::mem::take(&mut self.events)
    }

    /// The cookie outcome of the flushes so far (taken).
    pub(crate) fn take_cookie(&mut self) -> Option<(SessionId, CookieAction, OffsetDateTime)> {
        self.cookie.take()
    }

    fn note(&mut self, kind: EventKind, id: Option<SessionId>, user: Option<String>) {
        if !self.listening {
            return;
        }
        self.events.push(Note {
            kind,
            id,
            user,
            count: 1,
            retry: None,
        });
    }

    fn fresh(config: &SessionConfig, now: OffsetDateTime) -> State {
        State::fresh(config.new_id(), Lifetime::from_config(config, now), now)
    }

    /// Starts loading the session for first use (a no-op when it is
    /// loaded): a request with a valid cookie loads its record, any other
    /// starts a fresh session without a store call.
    pub(crate) fn begin_load(&mut self, config: &SessionConfig, now: OffsetDateTime) {
        if self.state.is_some() {
            self.phase = Phase::Finished(Ok(()));
            return;
        }
        match self.verdict {
            Verdict::Valid { id, .. } => self.phase = Phase::Load(id),
            _ => {
                self.state = Some(Self::fresh(config, now));
                self.phase = Phase::Finished(Ok(()));
            }
        }
    }

    /// The id the session is stored under, if any: the loaded record's
    /// (before a pending rotation), else the cookie's valid id when the
    /// session has not loaded.
    fn stored_id(&self) -> Option<SessionId> {
        match &self.state {
            Some(s) => s.rotate_from.map(|(id, _)| id).or(s.version.map(|_| s.id)),
            None => match self.verdict {
                Verdict::Valid { id, .. } => Some(id),
                _ => None,
            },
        }
    }

    /// Starts `reload`: drops this request's unsaved changes (a pending id
    /// rotation included) and reads the stored session again. A session
    /// that was never stored (or was destroyed in this request) becomes a
    /// fresh one without a store call.
    pub(crate) fn begin_reload(&mut self, config: &SessionConfig, now: OffsetDateTime) {
        let stored = self.stored_id();
        match stored {
            Some(id) => self.phase = Phase::Load(id),
            None => {
                self.state = Some(Self::fresh(config, now));
                self.phase = Phase::Finished(Ok(()));
            }
        }
    }

    /// Gives the (loaded) session a new id. A stored session's old record
    /// is retired at the next flush, before the new id is stored.
    pub(crate) fn regenerate(&mut self, new_id: SessionId) {
        if let Some(s) = self.state.as_mut() {
            if s.rotate_from.is_none()
                && let Some(v) = s.version.take()
            {
                s.rotate_from = Some((s.id, v));
            }
            s.id = new_id;
            s.force_save = true;
        }
    }

    /// Ties the (loaded) session to `user`. Returns whether the session
    /// must be flushed at once: under [`SessionCap::RefuseLogin`] the
    /// login is admitted (or refused) before the handler goes on.
    pub(crate) fn set_user(&mut self, user: String, config: &SessionConfig) -> bool {
        let Some(s) = self.state.as_mut() else {
            return false;
        };
        if s.user.as_deref() == Some(user.as_str()) {
            return false;
        }
        if !s.user_changed {
            s.prev_user = s.user.take();
        }
        s.user = Some(user);
        s.user_changed = true;
        matches!(config.max_per_user, Some((_, SessionCap::RefuseLogin)))
    }

    /// Ends the session (logout): its stored record, if any, is deleted
    /// unconditionally at the next flush, and the state becomes a fresh,
    /// destroyed one (the response removes the cookie unless a new session
    /// is written afterwards).
    pub(crate) fn destroy(&mut self, config: &SessionConfig, now: OffsetDateTime) {
        let stored = self.stored_id();
        if let Some(id) = stored {
            let key = key_of(&mut self.last_key, config, &id);
            self.deletes.push(key);
            self.destroyed = true;
        }
        let mut fresh = Self::fresh(config, now);
        fresh.destroyed = true;
        self.state = Some(fresh);
        // Changes recorded for the ended session do not carry over.
        self.deferred.clear();
    }

    /// The 5xx rule: drops what this request would still store (data,
    /// label, expiry, user, a touch, a new session, the new id of a
    /// rotation) and keeps its deletions: a `destroy` still deletes, and a
    /// pending rotation still deletes the id it rotates away from (the
    /// client's cookie then names nothing and is removed). Revocations
    /// were done when they were asked for.
    pub(crate) fn discard_unsaved(&mut self, config: &SessionConfig, now: OffsetDateTime) {
        self.deferred.clear();
        let Some(s) = self.state.take() else {
            return;
        };
        if let Some((old, _)) = s.rotate_from {
            let key = key_of(&mut self.last_key, config, &old);
            self.deletes.push(key);
            self.destroyed = true;
        }
        if (self.destroyed || s.destroyed) && self.verdict.is_present() {
            self.cookie = Some((s.id, CookieAction::Remove, now));
        }
    }

    /// Starts a flush: the store calls that make the stored session match
    /// this request's state, then the cookie outcome.
    pub(crate) fn begin_flush(&mut self) {
        self.conflicts = 0;
        self.collisions = 0;
        self.retired = false;
        self.phase = self.next_flush_phase();
    }

    fn next_flush_phase(&self) -> Phase {
        match &self.state {
            _ if !self.deletes.is_empty() => Phase::Deletes,
            None => Phase::Finished(Ok(())),
            Some(s) if s.rotate_from.is_some() => Phase::Retire,
            Some(_) => Phase::Write,
        }
    }

    fn finish(&mut self, result: Result<(), SessionError>) {
        self.phase = Phase::Finished(result);
    }

    /// The next thing the driver must do.
    pub(crate) fn poll(&mut self, config: &SessionConfig, now: OffsetDateTime) -> Step {
        let phase = std::mem::replace(&mut self.phase, Phase::Idle);
        let (call, pending) = match phase {
            Phase::Idle => return Step::Done(Ok(())),
            Phase::Finished(result) => return Step::Done(result),
            Phase::Awaiting(pending) => {
                // The driver polled without handing back the reply: a bug
                // in the driver, reported as a failed store call.
                self.phase = Phase::Awaiting(pending);
                self.failed = true;
                return Step::Done(Err(SessionError::Store(StoreError::Malformed(
                    "lifecycle polled while a call was in flight",
                ))));
            }
            Phase::Load(id) => (
                Call::Load(key_of(&mut self.last_key, config, &id)),
                Pending::Load(id),
            ),
            Phase::Rebase(id) => (
                Call::Load(key_of(&mut self.last_key, config, &id)),
                Pending::Rebase(id),
            ),
            Phase::Deletes => match self.deletes.first() {
                Some(key) => (Call::Delete(*key), Pending::Delete),
                None => {
                    self.phase = self.next_flush_phase();
                    return self.poll(config, now);
                }
            },
            Phase::Retire => match self.state.as_ref().and_then(|s| s.rotate_from) {
                Some((old, version)) => (
                    Call::Retire(key_of(&mut self.last_key, config, &old), version),
                    Pending::Retire,
                ),
                None => {
                    self.phase = Phase::Write;
                    return self.poll(config, now);
                }
            },
            Phase::Write => match self.write_call(config, now) {
                Ok(Some(call)) => call,
                Ok(None) => return Step::Done(Ok(())),
                Err(e) => return Step::Done(Err(e)),
            },
        };
        self.phase = Phase::Awaiting(pending);
        Step::Call(call)
    }

    /// The write the decision asks for, or `None` when the flush is over.
    fn write_call(
        &mut self, config: &SessionConfig, now: OffsetDateTime,
    ) -> Result<Option<(Call, Pending)>, SessionError> {
        let Some(s) = self.state.as_mut() else {
            return Ok(None);
        };
        let mut decision = decide(self.verdict, Some(&*s), config, now);
        let login = s.user_changed && s.user.is_some();
        let record_version = match decision.store {
            StoreAction::Create { expires_at } => Some((Version::FIRST, None, expires_at)),
            StoreAction::Save {
                expected,
                expires_at,
            } => Some((expected.next(), Some(expected), expires_at)),
            StoreAction::Nothing => {
                if self.retired && decision.cookie == CookieAction::Nothing {
                    // The rotated session holds nothing worth storing: the
                    // client's cookie names a retired id.
                    decision.cookie = CookieAction::Remove;
                }
                self.record_cookie(decision.cookie, now);
                return Ok(None);
            }
            StoreAction::Touch { expires_at } => {
                let Some(version) = s.version else {
                    return Ok(None);
                };
                let key = key_of(&mut self.last_key, config, &s.id);
                let call = Call::Touch(key, version, expires_at);
                return Ok(Some((
                    call,
                    Pending::Write {
                        decision,
                        record: None,
                    },
                )));
            }
            StoreAction::Delete => {
                let Some(version) = s.version else {
                    return Ok(None);
                };
                let key = key_of(&mut self.last_key, config, &s.id);
                return Ok(Some((
                    Call::Retire(key, version),
                    Pending::Write {
                        decision,
                        record: None,
                    },
                )));
            }
        };
        let Some((version, expected, expires_at)) = record_version else {
            return Ok(None);
        };
        // Under a cap, every write that adds a live session to a user (a
        // login, or the new id of a rotated logged-in session) goes through
        // the index's atomic admission.
        let cap = config.max_per_user.map(|(max, policy)| Cap { max, policy });
        let admit = cap.is_some() && s.user.is_some() && (login || expected.is_none());
        if admit && !self.has_index {
            return Err(SessionError::NoUserIndex);
        }
        s.last_write = now;
        if login {
            s.login_at = Some(now);
        }
        let login_at = s.login_at.unwrap_or(now);
        let record = Record {
            key: key_of(&mut self.last_key, config, &s.id),
            version,
            expires_at,
            payload: s.encode(),
            user: s.user.clone(),
        };
        let call = match (admit, cap, expected) {
            (true, Some(cap), expected) => Call::Admit(record, expected, login_at, cap),
            (_, _, Some(expected)) => Call::Save(record, expected),
            (_, _, None) => Call::Create(record),
        };
        Ok(Some((
            call,
            Pending::Write {
                decision,
                record: Some((version, expires_at)),
            },
        )))
    }

    fn record_cookie(&mut self, action: CookieAction, now: OffsetDateTime) {
        if action != CookieAction::Nothing
            && let Some(s) = &self.state
        {
            self.cookie = Some((s.id, action, now));
        }
    }

    /// Hands the result of the call [`poll`](Self::poll) asked for back to
    /// the machine. Every row of this match is a row of the transition
    /// table test.
    pub(crate) fn handle(
        &mut self, reply: Result<Reply, StoreError>, config: &SessionConfig, now: OffsetDateTime,
    ) {
        let Phase::Awaiting(pending) = std::mem::replace(&mut self.phase, Phase::Idle) else {
            return;
        };
        let reply = match reply {
            Ok(reply) => reply,
            Err(e) => {
                self.failed = true;
                return self.finish(Err(SessionError::Store(e)));
            }
        };
        match (pending, reply) {
            (Pending::Load(id), Reply::Loaded(record)) => {
                if record.is_none() {
                    self.note(EventKind::UnknownId, Some(id), None);
                }
                let state = self.read_record(id, record, now);
                self.state = Some(state.unwrap_or_else(|| Self::fresh(config, now)));
                self.finish(Ok(()));
            }
            (Pending::Delete, Reply::Deleted) => {
                self.deletes.remove(0);
                if self.deletes.is_empty() && std::mem::take(&mut self.destroyed) {
                    self.note(EventKind::Destroyed, None, None);
                }
                self.phase = Phase::Deletes;
            }
            (Pending::Retire, Reply::Retired(Retired::Ok)) => {
                if let Some(s) = self.state.as_mut() {
                    s.rotate_from = None;
                }
                self.retired = true;
                self.phase = Phase::Write;
            }
            (Pending::Retire, Reply::Retired(Retired::MovedOn)) => self.conflict(config),
            (Pending::Retire, Reply::Retired(Retired::Gone)) => {
                self.vanish(config, now, EventKind::RotationRefused)
            }
            (Pending::Rebase(id), Reply::Loaded(record)) => {
                match self.read_record(id, record, now) {
                    Some(fresh) => {
                        let Some(s) = self.state.as_mut() else {
                            return self.finish(Ok(()));
                        };
                        match s.rebase(fresh, config.max_payload_bytes) {
                            Ok(()) => self.phase = self.next_flush_phase(),
                            Err(e) => self.finish(Err(SessionError::Data(e))),
                        }
                    }
                    None => self.vanish(config, now, EventKind::Vanished),
                }
            }
            (Pending::Write { decision, record }, reply) => {
                self.handle_write(decision, record, reply, config, now)
            }
            (_, _) => {
                self.failed = true;
                self.finish(Err(SessionError::Store(StoreError::Malformed(
                    "store answered a different call",
                ))));
            }
        }
    }

    fn handle_write(
        &mut self, decision: Decision, record: Option<(Version, OffsetDateTime)>, reply: Reply,
        config: &SessionConfig, now: OffsetDateTime,
    ) {
        match (&reply, record) {
            (
                Reply::Created(Created::Ok)
                | Reply::Saved(Saved::Ok)
                | Reply::Admitted(Admission::Admitted { .. }),
                Some((version, expires_at)),
            ) => {
                let revoked = match &reply {
                    Reply::Admitted(Admission::Admitted { revoked }) => *revoked,
                    _ => 0,
                };
                self.stored(decision, version, expires_at, revoked, now)
            }
            (Reply::Created(Created::Collision) | Reply::Admitted(Admission::Collision), _) => {
                self.collisions += 1;
                if self.collisions >= CREATE_ATTEMPTS {
                    self.failed = true;
                    return self.finish(Err(SessionError::IdCollision));
                }
                if let Some(s) = self.state.as_mut() {
                    s.id = config.new_id();
                }
                self.phase = Phase::Write;
            }
            (
                Reply::Saved(Saved::Conflict)
                | Reply::Admitted(Admission::Conflict)
                | Reply::Retired(Retired::MovedOn),
                _,
            ) => self.conflict(config),
            (
                Reply::Saved(Saved::Gone)
                | Reply::Admitted(Admission::Gone)
                | Reply::Touched(Touched::Gone)
                | Reply::Retired(Retired::Gone),
                _,
            ) => self.vanish(config, now, EventKind::Vanished),
            (Reply::Admitted(Admission::Refused { live }), _) => {
                let Some(s) = self.state.as_mut().filter(|s| s.user_changed) else {
                    // The new id of a rotated session, refused because
                    // newer logins took the user's places: it ends.
                    return self.vanish(config, now, EventKind::Vanished);
                };
                s.user = s.prev_user.take();
                s.user_changed = false;
                s.login_at = None;
                self.finish(Err(SessionError::TooManySessions(*live)));
            }
            (Reply::Touched(Touched::Ok), _) => {
                if let (StoreAction::Touch { expires_at }, Some(s)) =
                    (decision.store, self.state.as_mut())
                {
                    s.expires_at = expires_at;
                }
                self.record_cookie(decision.cookie, now);
                self.finish(Ok(()));
            }
            (Reply::Touched(Touched::MovedOn), _) => {
                // Another request wrote the session since it was loaded:
                // its expiry stands, and the response must not advertise
                // the one this touch wanted (it was never stored).
                self.finish(Ok(()));
            }
            (Reply::Retired(Retired::Ok), _) => {
                // `unset = Destroy`: the emptied session is deleted.
                let user = self.state.as_ref().and_then(|s| s.user.clone());
                let mut fresh = Self::fresh(config, now);
                fresh.destroyed = true;
                self.state = Some(fresh);
                self.note(EventKind::Destroyed, None, user);
                self.record_cookie(decision.cookie, now);
                self.finish(Ok(()));
            }
            (_, _) => {
                self.failed = true;
                self.finish(Err(SessionError::Store(StoreError::Malformed(
                    "store answered a different call",
                ))));
            }
        }
    }

    /// A write was stored at `version`.
    fn stored(
        &mut self, decision: Decision, version: Version, expires_at: OffsetDateTime,
        revoked: usize, now: OffsetDateTime,
    ) {
        let retired = std::mem::take(&mut self.retired);
        let Some(s) = self.state.as_mut() else {
            return self.finish(Ok(()));
        };
        let created = s.version.is_none();
        s.version = Some(version);
        s.expires_at = expires_at;
        s.changes.clear();
        s.expiry_changed = false;
        s.force_save = false;
        s.destroyed = false;
        s.user_changed = false;
        s.label_changed = false;
        s.prev_user = None;
        let (id, user) = (s.id, s.user.clone());
        if retired {
            self.note(EventKind::IdRotated, Some(id), user.clone());
        } else if created {
            self.note(EventKind::Created, Some(id), user.clone());
        }
        if revoked > 0 && self.listening {
            self.events.push(Note {
                kind: EventKind::Revoked,
                id: None,
                user,
                count: revoked,
                retry: None,
            });
        }
        self.record_cookie(decision.cookie, now);
        self.finish(Ok(()));
    }

    /// The record moved on since it was loaded: reload and replay.
    fn conflict(&mut self, config: &SessionConfig) {
        self.conflicts += 1;
        if self.conflicts > config.max_retries {
            self.failed = true;
            return self.finish(Err(SessionError::Conflict(self.conflicts)));
        }
        let target = self
            .state
            .as_ref()
            .map(|s| s.rotate_from.map_or(s.id, |(old, _)| old));
        match target {
            Some(id) => {
                if self.listening {
                    self.events.push(Note {
                        kind: EventKind::ConflictReplayed,
                        id: Some(id),
                        user: None,
                        count: 1,
                        retry: Some(self.conflicts),
                    });
                }
                self.phase = Phase::Rebase(id);
            }
            None => self.finish(Ok(())),
        }
    }

    /// The session was destroyed, revoked or expired by someone else while
    /// this request held it: never write its data again. The request goes
    /// on with a fresh, empty session, and the response removes the
    /// client's cookie.
    fn vanish(&mut self, config: &SessionConfig, now: OffsetDateTime, kind: EventKind) {
        let user = self.state.as_ref().and_then(|s| s.user.clone());
        let mut fresh = Self::fresh(config, now);
        fresh.destroyed = true;
        let id = fresh.id;
        self.state = Some(fresh);
        self.retired = false;
        if self.verdict.is_present() || self.cookie.is_some() {
            self.cookie = Some((id, CookieAction::Remove, now));
        }
        self.note(kind, None, user);
        self.finish(Ok(()));
    }

    /// The state of a loaded record, or `None` when there is no live,
    /// readable one.
    fn read_record(
        &mut self, id: SessionId, record: Option<Record>, now: OffsetDateTime,
    ) -> Option<State> {
        let r = record?;
        if r.is_expired(now) {
            self.note(EventKind::ExpiredOnLoad, Some(id), None);
            return None;
        }
        match State::from_payload(id, r.payload, r.version, r.expires_at, r.user) {
            Ok(state) => {
                if self.listening {
                    self.note(EventKind::Loaded, Some(id), state.user.clone());
                }
                Some(state)
            }
            Err(_) => {
                self.note(EventKind::Undecodable, Some(id), None);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! The transition table: every (phase, store answer) row of `handle`,
    //! with the call or outcome that follows.

    use super::*;
    use crate::keys::KeyMatch;
    use serde_json::json;
    use time::Duration;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2030-01-01 12:00 UTC);
    const A: SessionId = SessionId::from_bytes([1; 32]);

    fn config(cap: Option<(usize, SessionCap)>) -> SessionConfig {
        let b = SessionConfig::builder()
            .key(crate::test_key("key 1"))
            .max_conflict_retries(2)
            .touch_policy(crate::TouchPolicy::Always);
        match cap {
            Some((max, policy)) => b.max_sessions_per_user(max, policy),
            None => b,
        }
        .build()
        .unwrap()
    }

    /// The table's config under `TouchPolicy::Never`.
    fn never_touches() -> SessionConfig {
        SessionConfig::builder()
            .key(crate::test_key("key 1"))
            .touch_policy(crate::TouchPolicy::Never)
            .build()
            .unwrap()
    }

    fn record(c: &SessionConfig, version: u64, data: serde_json::Value) -> Record {
        let mut s = State::fresh(A, Lifetime::from_config(c, NOW), NOW - Duration::minutes(5));
        for (k, v) in data.as_object().unwrap() {
            s.apply(crate::state::Change::Set(k.clone(), v.clone()), usize::MAX)
                .unwrap();
        }
        Record {
            key: c.store_key(&A),
            version: Version(version),
            expires_at: NOW + Duration::minutes(10),
            payload: s.encode(),
            user: None,
        }
    }

    /// A request holding stored session A at version 3, loaded.
    fn loaded(c: &SessionConfig, has_index: bool) -> Lifecycle {
        let mut lc = Lifecycle::new(
            Verdict::Valid {
                id: A,
                key: KeyMatch::Current,
            },
            has_index,
            true,
        );
        lc.begin_load(c, NOW);
        assert!(matches!(lc.poll(c, NOW), Step::Call(Call::Load(_))));
        lc.handle(
            Ok(Reply::Loaded(Some(record(c, 3, json!({"k": 1}))))),
            c,
            NOW,
        );
        assert!(matches!(lc.poll(c, NOW), Step::Done(Ok(()))));
        lc
    }

    fn write(lc: &mut Lifecycle, c: &SessionConfig) {
        lc.state_mut()
            .unwrap()
            .apply(crate::state::Change::Set("x".into(), json!(2)), usize::MAX)
            .unwrap();
        lc.begin_flush();
        let _ = c;
    }

    /// What comes next, as a short word: the call's name or the outcome.
    fn next(lc: &mut Lifecycle, c: &SessionConfig) -> String {
        match lc.poll(c, NOW) {
            Step::Call(Call::Load(_)) => "load".into(),
            Step::Call(Call::Create(r)) => format!("create v{}", r.version.0),
            Step::Call(Call::Save(r, v)) => format!("save v{}->v{}", v.0, r.version.0),
            Step::Call(Call::Touch(_, v, _)) => format!("touch v{}", v.0),
            Step::Call(Call::Retire(_, v)) => format!("retire v{}", v.0),
            Step::Call(Call::Delete(_)) => "delete".into(),
            Step::Call(Call::Admit(_, v, _, cap)) => {
                format!("admit {:?} {:?}", v.map(|v| v.0), cap.policy)
            }
            Step::Done(Ok(())) => {
                let cookie = match lc.take_cookie() {
                    None => "no cookie",
                    Some((_, CookieAction::Set { .. }, _)) => "set cookie",
                    Some((_, CookieAction::Remove, _)) => "remove cookie",
                    Some((_, CookieAction::Nothing, _)) => "no cookie",
                };
                let fresh = lc.state().is_some_and(|s| s.version.is_none());
                format!("done, {cookie}{}", if fresh { ", fresh" } else { "" })
            }
            Step::Done(Err(e)) => format!("error: {e}"),
        }
    }

    fn answer(lc: &mut Lifecycle, c: &SessionConfig, reply: Reply) {
        lc.handle(Ok(reply), c, NOW);
    }

    #[test]
    fn transition_table() {
        let c = config(None);
        type Row<'a> = (
            &'static str,
            Box<dyn Fn() -> (Lifecycle, SessionConfig) + 'a>,
            Vec<Reply>,
            &'static str,
        );
        let saving = |c: SessionConfig| {
            let mut lc = loaded(&c, true);
            write(&mut lc, &c);
            (lc, c)
        };
        let touching = |c: SessionConfig| {
            let mut lc = loaded(&c, true);
            lc.begin_flush();
            (lc, c)
        };
        let rotating = |c: SessionConfig| {
            let mut lc = loaded(&c, true);
            lc.regenerate(SessionId::from_bytes([2; 32]));
            lc.begin_flush();
            (lc, c)
        };
        let login = |c: SessionConfig| {
            let mut lc = loaded(&c, true);
            lc.regenerate(SessionId::from_bytes([2; 32]));
            let _ = lc.set_user("ada".into(), &c);
            lc.begin_flush();
            (lc, c)
        };
        // `touch()` under `TouchPolicy::Never`.
        let touch_asked = || {
            let c = never_touches();
            let mut lc = loaded(&c, true);
            lc.state_mut().unwrap().touch_requested = true;
            lc.begin_flush();
            (lc, c)
        };
        let cc = c.clone();
        // A row's setup on the table's config.
        let with = |setup: fn(SessionConfig) -> (Lifecycle, SessionConfig)| -> Box<dyn Fn() -> (Lifecycle, SessionConfig)> {
            let c = cc.clone();
            Box::new(move || setup(c.clone()))
        };
        let rows: Vec<Row<'_>> = vec![
            (
                "save ok",
                with(saving),
                vec![Reply::Saved(Saved::Ok)],
                "done, set cookie",
            ),
            (
                "save conflict reloads",
                with(saving),
                vec![Reply::Saved(Saved::Conflict)],
                "load",
            ),
            (
                "save conflict replays on the fresh version",
                with(saving),
                vec![
                    Reply::Saved(Saved::Conflict),
                    Reply::Loaded(Some(record(&cc, 4, json!({"k": 9})))),
                ],
                "save v4->v5",
            ),
            (
                "save conflict, record gone on reload",
                with(saving),
                vec![Reply::Saved(Saved::Conflict), Reply::Loaded(None)],
                "done, remove cookie, fresh",
            ),
            (
                "save gone",
                with(saving),
                vec![Reply::Saved(Saved::Gone)],
                "done, remove cookie, fresh",
            ),
            (
                "conflicts past the bound",
                with(saving),
                vec![
                    Reply::Saved(Saved::Conflict),
                    Reply::Loaded(Some(record(&cc, 4, json!({})))),
                    Reply::Saved(Saved::Conflict),
                    Reply::Loaded(Some(record(&cc, 5, json!({})))),
                    Reply::Saved(Saved::Conflict),
                ],
                "error: session save conflicted 3 times",
            ),
            (
                "touch ok",
                with(touching),
                vec![Reply::Touched(Touched::Ok)],
                "done, set cookie",
            ),
            (
                "touch() under TouchPolicy::Never",
                Box::new(touch_asked),
                vec![Reply::Touched(Touched::Ok)],
                "done, set cookie",
            ),
            (
                "touch() moved on: nothing written",
                Box::new(touch_asked),
                vec![Reply::Touched(Touched::MovedOn)],
                "done, no cookie",
            ),
            (
                "touch moved on: no unstored expiry",
                with(touching),
                vec![Reply::Touched(Touched::MovedOn)],
                "done, no cookie",
            ),
            (
                "touch gone",
                with(touching),
                vec![Reply::Touched(Touched::Gone)],
                "done, remove cookie, fresh",
            ),
            (
                "rotation: retire first",
                with(rotating),
                vec![],
                "retire v3",
            ),
            (
                "rotation: retired, then create",
                with(rotating),
                vec![Reply::Retired(Retired::Ok)],
                "create v1",
            ),
            (
                "rotation: created",
                with(rotating),
                vec![Reply::Retired(Retired::Ok), Reply::Created(Created::Ok)],
                "done, set cookie",
            ),
            (
                "rotation: moved on reloads",
                with(rotating),
                vec![Reply::Retired(Retired::MovedOn)],
                "load",
            ),
            (
                "rotation: moved on, retire the fresh version",
                with(rotating),
                vec![
                    Reply::Retired(Retired::MovedOn),
                    Reply::Loaded(Some(record(&cc, 4, json!({"n": 2})))),
                ],
                "retire v4",
            ),
            (
                "rotation: gone never resurrects",
                with(rotating),
                vec![Reply::Retired(Retired::Gone)],
                "done, remove cookie, fresh",
            ),
            (
                "rotation: collision takes a new id",
                with(rotating),
                vec![
                    Reply::Retired(Retired::Ok),
                    Reply::Created(Created::Collision),
                ],
                "create v1",
            ),
            (
                "rotation: 8 collisions",
                with(rotating),
                std::iter::once(Reply::Retired(Retired::Ok))
                    .chain((0..8).map(|_| Reply::Created(Created::Collision)))
                    .collect(),
                "error: could not find an unused session id",
            ),
            (
                "login without a cap is a plain write",
                with(login),
                vec![Reply::Retired(Retired::Ok)],
                "create v1",
            ),
            (
                "login under a cap is admitted",
                Box::new(|| login(config(Some((1, SessionCap::RevokeOldest))))),
                vec![Reply::Retired(Retired::Ok)],
                "admit None RevokeOldest",
            ),
            (
                "login admitted",
                Box::new(|| login(config(Some((1, SessionCap::RevokeOldest))))),
                vec![
                    Reply::Retired(Retired::Ok),
                    Reply::Admitted(Admission::Admitted { revoked: 2 }),
                ],
                "done, set cookie",
            ),
            (
                "login refused",
                Box::new(|| login(config(Some((1, SessionCap::RefuseLogin))))),
                vec![
                    Reply::Retired(Retired::Ok),
                    Reply::Admitted(Admission::Refused { live: 1 }),
                ],
                "error: the user already has 1 sessions",
            ),
            (
                "login conflict reloads",
                Box::new(|| {
                    let c = config(Some((1, SessionCap::RefuseLogin)));
                    let mut lc = loaded(&c, true);
                    let _ = lc.set_user("ada".into(), &c);
                    lc.begin_flush();
                    (lc, c)
                }),
                vec![Reply::Admitted(Admission::Conflict)],
                "load",
            ),
            (
                "login under a cap without an index",
                Box::new(|| {
                    let c = config(Some((1, SessionCap::RefuseLogin)));
                    let mut lc = loaded(&c, false);
                    let _ = lc.set_user("ada".into(), &c);
                    lc.begin_flush();
                    (lc, c)
                }),
                vec![],
                "error: the session store has no user index",
            ),
            (
                "destroy deletes first",
                Box::new({
                    let c = cc.clone();
                    move || {
                        let mut lc = loaded(&c, true);
                        lc.destroy(&c, NOW);
                        lc.begin_flush();
                        (lc, c.clone())
                    }
                }),
                vec![],
                "delete",
            ),
            (
                "destroy: deleted, cookie removed",
                Box::new({
                    let c = cc.clone();
                    move || {
                        let mut lc = loaded(&c, true);
                        lc.destroy(&c, NOW);
                        lc.begin_flush();
                        (lc, c.clone())
                    }
                }),
                vec![Reply::Deleted],
                "done, remove cookie, fresh",
            ),
            (
                "a store error fails the flush",
                with(saving),
                vec![],
                "save v3->v4",
            ),
        ];
        for (name, setup, replies, want) in rows {
            let (mut lc, c) = setup();
            for reply in replies {
                let _ = lc.poll(&c, NOW);
                answer(&mut lc, &c, reply);
            }
            assert_eq!(next(&mut lc, &c), want, "row: {name}");
        }
        // A store error: the flush fails, the change log stays.
        let (mut lc, c) = saving(cc.clone());
        let _ = lc.poll(&c, NOW);
        lc.handle(Err(StoreError::Timeout), &c, NOW);
        assert_eq!(next(&mut lc, &c), "error: session store failed");
        assert!(lc.failed());
        assert!(lc.state().unwrap().is_modified());
        let _ = c;
    }

    #[test]
    fn loading() {
        let c = config(None);
        let start = || {
            let mut lc = Lifecycle::new(
                Verdict::Valid {
                    id: A,
                    key: KeyMatch::Current,
                },
                true,
                true,
            );
            lc.begin_load(&c, NOW);
            assert_eq!(next(&mut lc, &c), "load");
            lc
        };
        let mut expired = record(&c, 3, json!({}));
        expired.expires_at = NOW - Duration::seconds(1);
        let mut garbage = record(&c, 3, json!({}));
        garbage.payload = b"\xff not a payload".to_vec();
        for (name, reply, want_stored) in [
            ("live record", Some(record(&c, 3, json!({"k": 1}))), true),
            ("no record", None, false),
            ("expired record", Some(expired), false),
            ("undecodable record", Some(garbage), false),
        ] {
            let mut lc = start();
            answer(&mut lc, &c, Reply::Loaded(reply));
            assert!(matches!(lc.poll(&c, NOW), Step::Done(Ok(()))), "{name}");
            assert_eq!(lc.state().unwrap().version.is_some(), want_stored, "{name}");
        }
        // No valid cookie: a fresh session without a store call.
        let mut lc = Lifecycle::new(Verdict::Invalid, true, true);
        lc.begin_load(&c, NOW);
        assert_eq!(next(&mut lc, &c), "done, no cookie, fresh");
        // Reload after regenerate reloads the original id.
        let mut lc = loaded(&c, true);
        lc.regenerate(SessionId::from_bytes([2; 32]));
        lc.begin_reload(&c, NOW);
        assert_eq!(next(&mut lc, &c), "load");
    }

    /// The 5xx rule: only deletions are stored.
    #[test]
    fn discard_unsaved_keeps_only_deletions() {
        let c = config(None);
        let discarded = |lc: &mut Lifecycle| {
            lc.discard_unsaved(&c, NOW);
            lc.begin_flush();
        };
        let only_the_delete = |lc: &mut Lifecycle| {
            assert_eq!(next(lc, &c), "delete");
            answer(lc, &c, Reply::Deleted);
            assert_eq!(next(lc, &c), "done, remove cookie");
        };
        // A write, a touch: nothing.
        let mut lc = loaded(&c, true);
        write(&mut lc, &c);
        discarded(&mut lc);
        assert_eq!(next(&mut lc, &c), "done, no cookie");
        // A new session with data: nothing.
        let mut lc = Lifecycle::new(Verdict::Absent, true, true);
        lc.begin_load(&c, NOW);
        let _ = lc.poll(&c, NOW);
        write(&mut lc, &c);
        discarded(&mut lc);
        assert_eq!(next(&mut lc, &c), "done, no cookie");
        // A login (rotation): the old id is deleted, no new one written.
        let mut lc = loaded(&c, true);
        lc.regenerate(SessionId::from_bytes([2; 32]));
        let _ = lc.set_user("ada".into(), &c);
        discarded(&mut lc);
        only_the_delete(&mut lc);
        // A logout: still deleted.
        let mut lc = loaded(&c, true);
        lc.destroy(&c, NOW);
        discarded(&mut lc);
        only_the_delete(&mut lc);
    }
}
