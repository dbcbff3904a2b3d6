//! Lifecycle events and store-call metrics: every event is a `tracing` event
//! (target `session`, field `event`), and is also handed to an optional
//! [`EventHook`] the app registers with
//! [`SessionManager::with_event_hook`](crate::SessionManager::with_event_hook),
//! to audit logins or count sessions.
//!
//! Stable `tracing` field names: `event` (the [`EventKind`] name), `session`
//! (a 6-character id prefix, never the whole id), `user`, `op` (store
//! method), `latency_us`, `ok`.

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
    /// `regenerate` found its old record gone (a logout or revocation won):
    /// the new id was never stored, the response removes the cookie.
    RotationRefused,
    /// A store call failed.
    StoreError,
    /// A store call finished (see `op`, `latency`, `ok`).
    StoreCall,
}

impl EventKind {
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
            EventKind::RotationRefused => "rotation_refused",
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
    /// A 6-character prefix of the session id, when there is a session.
    pub session: Option<&'a str>,
    /// The user the session belongs to, when known.
    pub user: Option<&'a str>,
    /// The store method, for store events (`load`, `create`, ...).
    pub op: Option<&'static str>,
    /// How long the store call took, for [`EventKind::StoreCall`].
    pub latency: Option<Duration>,
    /// Whether the store call succeeded, for [`EventKind::StoreCall`].
    pub ok: Option<bool>,
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
        }
    }
}

/// Receives every event. Called inline on the request path: keep it cheap
/// (count, or hand off to a channel).
pub trait EventHook: Send + Sync + 'static {
    /// Called once per event.
    fn on_event(&self, event: &Event<'_>);
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
        EventKind::StoreError => tracing::error!(
            target: "session",
            event = event.kind.as_str(),
            op = event.op,
            session = event.session,
        ),
        _ => tracing::info!(
            target: "session",
            event = event.kind.as_str(),
            session = event.session,
            user = event.user,
        ),
    }
}
