//! Lifecycle events and store-call metrics: every event is a `tracing` event
//! (target `session`, field `event`), and is also handed to an optional
//! [`EventHook`] the app registers with
//! [`SessionManager::with_event_hook`](crate::SessionManager::with_event_hook),
//! to audit logins or count sessions.
//!
//! Levels: a failed store call is logged at `ERROR` with its operation
//! only; every other event (they name the session and the user) at
//! `DEBUG`, so nothing above `DEBUG` records who was online. With no
//! `tracing` subscriber installed, events go to the `log` facade
//! (tracing's `log` feature), so `env_logger` and Rocket's logger see them.
//!
//! Stable `tracing` field names: `event` (the [`EventKind`] name), `session`
//! (a keyed hash prefix of the id: 12 hex characters of HMAC-SHA256 under
//! the current signing key, never any character of the id itself), `user`,
//! `op` (store method), `latency_us`, `ok`, `retry` (the number of a
//! conflict replay within its request).
//!
//! Spans, at `DEBUG` on target `session`: a request whose session makes a
//! store call gets one `session` span (opened by its first store call,
//! under whatever span is current then, closed when the request's
//! `Session` is dropped), and each of its store calls a child
//! `session_store_call` span with `op`, `ok` and `latency_us`.
//!
//! Metrics: with the `metrics` feature, counters and a latency histogram
//! go to the [`metrics`](https://docs.rs/metrics) facade:
//! `session_created_total`, `session_loaded_total`,
//! `session_destroyed_total`, `session_revoked_total`,
//! `session_regenerated_total`, `session_conflicts_replayed_total`,
//! `session_store_errors_total` (label `op`) and the histogram
//! `session_store_call_seconds` (labels `op`, `outcome`: `ok` or `error`).
//!
//! The security events ([`EventKind::InvalidSignature`],
//! [`EventKind::MalformedValue`], [`EventKind::UnknownId`],
//! [`EventKind::DuplicateCookie`]) are routine on the internet (stale
//! cookies, scanners), so `tracing` gets them at `debug`; they are only
//! computed when a hook is registered or `debug` is enabled for target
//! `session`.

use std::fmt;
use std::time::Duration;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventKind {
    /// A new session was stored.
    Created,
    /// A stored session was loaded.
    Loaded,
    /// `regenerate` gave the session a new id.
    IdRotated,
    /// `destroy` removed the session.
    Destroyed,
    /// A session was revoked through the user index.
    Revoked,
    /// A record was found but had expired by the manager's clock.
    ExpiredOnLoad,
    /// A stored record could not be decoded; the request got a fresh
    /// session.
    Undecodable,
    /// The session was destroyed, revoked or expired by another request
    /// while this one held it; this request's writes were dropped, it went
    /// on with a fresh session and the response removes the cookie.
    Vanished,
    /// A write met a newer version of the record (another request of the
    /// same session saved first) and is replayed on it.
    ConflictReplayed,
    /// `regenerate` found its old record gone (a logout or revocation won):
    /// the new id was never stored, the response removes the cookie.
    RotationRefused,
    /// A value under our name had the shape of a signed id but no key made
    /// its MAC (tampered, forged, or signed with a retired key); `session`
    /// names the id it claimed. The request got a fresh session.
    InvalidSignature,
    /// A value under our name was not a signed id at all (garbage, cut,
    /// oversized). The request got a fresh session.
    MalformedValue,
    /// A validly signed id named no live record (expired and evicted,
    /// destroyed, revoked, or never stored). The request got a fresh
    /// session.
    UnknownId,
    /// The request carried more than one value under our name (a cookie
    /// set for another path or domain, or cookie tossing); the first that
    /// verifies wins.
    DuplicateCookie,
    /// A store call failed.
    StoreError,
    /// A store call finished (see `op`, `latency`, `ok`).
    StoreCall,
}

impl EventKind {
    /// Whether this is a security event (routine on the internet, traced at
    /// `debug`).
    pub fn is_security(self) -> bool {
        matches!(
            self,
            EventKind::InvalidSignature
                | EventKind::MalformedValue
                | EventKind::UnknownId
                | EventKind::DuplicateCookie
        )
    }

    /// The stable name used as the `event` field.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Created => "created",
            EventKind::Loaded => "loaded",
            EventKind::IdRotated => "id_rotated",
            EventKind::Destroyed => "destroyed",
            EventKind::Revoked => "revoked",
            EventKind::ExpiredOnLoad => "expired_on_load",
            EventKind::Undecodable => "undecodable",
            EventKind::Vanished => "vanished",
            EventKind::ConflictReplayed => "conflict_replayed",
            EventKind::RotationRefused => "rotation_refused",
            EventKind::InvalidSignature => "invalid_signature",
            EventKind::MalformedValue => "malformed_value",
            EventKind::UnknownId => "unknown_id",
            EventKind::DuplicateCookie => "duplicate_cookie",
            EventKind::StoreError => "store_error",
            EventKind::StoreCall => "store_call",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One event.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Event<'a> {
    /// What happened.
    pub kind: EventKind,
    /// The session, when there is one: a keyed hash prefix of its id (12
    /// hex characters), never the id's own characters.
    pub session: Option<&'a str>,
    /// The user the session belongs to, when known.
    pub user: Option<&'a str>,
    /// The store method, for store events (`load`, `create`, ...).
    pub op: Option<&'static str>,
    /// How long the store call took, for [`EventKind::StoreCall`].
    pub latency: Option<Duration>,
    /// Whether the store call succeeded, for [`EventKind::StoreCall`].
    pub ok: Option<bool>,
    /// For [`EventKind::ConflictReplayed`]: the replay's number within its
    /// request (1 for the first; a request gives up past
    /// `max_conflict_retries`).
    pub retry: Option<u32>,
}

impl<'a> Event<'a> {
    /// An event of `kind` with no details.
    pub fn new(kind: EventKind) -> Self {
        Self {
            kind,
            session: None,
            user: None,
            op: None,
            latency: None,
            ok: None,
            retry: None,
        }
    }
}

/// Receives every event. Called inline on the request path: keep it cheap
/// (count, or hand off to a channel).
pub trait EventHook: Send + Sync + 'static {
    /// Called once per event.
    fn on_event(&self, event: &Event<'_>);
}

/// Whether an event of target `session` at `level` would be recorded: by
/// the `tracing` subscriber, or, when the app installed none, by the `log`
/// logger (tracing forwards to it then).
pub(crate) fn logged(level: tracing::Level) -> bool {
    use tracing::Level;
    if tracing::dispatcher::has_been_set() {
        // `enabled!` needs its level as a constant (one callsite each).
        return match level {
            Level::ERROR => tracing::enabled!(target: "session", Level::ERROR),
            Level::WARN => tracing::enabled!(target: "session", Level::WARN),
            Level::INFO => tracing::enabled!(target: "session", Level::INFO),
            Level::DEBUG => tracing::enabled!(target: "session", Level::DEBUG),
            _ => tracing::enabled!(target: "session", Level::TRACE),
        };
    }
    let level = match level {
        Level::ERROR => log::Level::Error,
        Level::WARN => log::Level::Warn,
        Level::INFO => log::Level::Info,
        Level::DEBUG => log::Level::Debug,
        _ => log::Level::Trace,
    };
    log::log_enabled!(target: "session", level)
}

pub(crate) fn trace(event: &Event<'_>) {
    match event.kind {
        EventKind::StoreCall => tracing::debug!(
            target: "session",
            event = event.kind.as_str(),
            op = event.op,
            latency_us = event.latency.map(|d| d.as_micros() as u64),
            ok = event.ok,
        ),
        EventKind::ConflictReplayed => tracing::debug!(
            target: "session",
            event = event.kind.as_str(),
            session = event.session,
            retry = event.retry,
        ),
        EventKind::InvalidSignature
        | EventKind::MalformedValue
        | EventKind::UnknownId
        | EventKind::DuplicateCookie => tracing::debug!(
            target: "session",
            event = event.kind.as_str(),
            session = event.session,
        ),
        // Above debug, no session and no user: an error log is for the
        // operator, and must not become a record of who was online.
        EventKind::StoreError => tracing::error!(
            target: "session",
            event = event.kind.as_str(),
            op = event.op,
        ),
        // Per-request lifecycle events: routine, and they name the session
        // and the user, so debug.
        _ => tracing::debug!(
            target: "session",
            event = event.kind.as_str(),
            session = event.session,
            user = event.user,
        ),
    }
}
