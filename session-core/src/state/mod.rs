//! The in-memory state of one session during one request: data, change log,
//! version and flags. One idea per submodule:
//!
//! - `changes`: the change log ([`Change`]), applying it under the payload
//!   limit with incremental JSON length accounting, and replaying it after a
//!   conflict ([`State::rebase`]);
//! - `codec`: the record payload format ([`FORMAT`], [`decode`],
//!   [`State::encode`]);
//! - `raw`: the lazy path for a loaded session, which reads keys from the
//!   stored bytes without decoding the rest ([`State::from_payload`],
//!   [`State::get`]).

use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::expiry::Lifetime;
use crate::id::SessionId;
use crate::store::Version;

mod changes;
mod codec;
mod raw;

pub(crate) use changes::UpdateFn;
pub use changes::{Change, DataError, map_len};
pub use codec::{DecodeError, decode};
#[allow(unused_imports)]
pub(crate) use codec::{Decoded, FORMAT};

use raw::RawData;

/// The state of a session within one request.
#[derive(Debug, Clone)]
pub struct State {
    /// The session id the response will carry.
    pub id: SessionId,
    /// The data. For a session loaded from the store this map is empty
    /// until the first change: reads ([`State::get`]) scan the stored bytes
    /// instead of decoding them. Call [`State::materialize`] before reading
    /// this field directly.
    pub data: Map<String, Value>,
    /// The stored payload bytes whose `d` object `data` has not been
    /// decoded from yet.
    raw: Option<RawData>,
    /// The stored version; `None` while the session is not in the store.
    pub version: Option<Version>,
    /// When the session was created.
    pub created_at: OffsetDateTime,
    /// The stored expiry instant (for a stored session), used for the touch
    /// decision.
    pub expires_at: OffsetDateTime,
    /// The expiry policy.
    pub lifetime: Lifetime,
    /// This request's change log since the last flush.
    pub changes: Vec<Change>,
    /// The policy was changed by this request.
    pub expiry_changed: bool,
    /// Store the session even if unmodified (after `regenerate`).
    pub force_save: bool,
    /// `Session::touch` asked to reset the idle window, whatever the touch
    /// policy.
    pub touch_requested: bool,
    /// The session was destroyed in this request (the response removes the
    /// client's cookie unless a new session is started afterwards).
    pub destroyed: bool,
    /// The exact JSON size of `data`, in bytes.
    pub payload_len: usize,
    /// The user the session belongs to (`Session::set_user`), stored beside
    /// the payload so stores can index it.
    pub user: Option<String>,
    /// The user changed in this request (a login).
    pub user_changed: bool,
    /// A label the app chose for the "your devices" list (stored in the
    /// payload).
    pub label: Option<String>,
    /// When the session was last written (stored in the payload).
    pub last_write: OffsetDateTime,
    /// The label changed in this request.
    pub label_changed: bool,
    /// When the current user logged in: the commit of `set_user` (stored
    /// in the payload). Orders "oldest" and "newest" for the per-user cap.
    pub login_at: Option<OffsetDateTime>,
    /// The user before this request's `set_user` (restored if the login is
    /// refused).
    pub prev_user: Option<String>,
    /// A pending id rotation: the stored session (id and loaded version)
    /// that `regenerate` moves away from. It is retired (compare-and-delete)
    /// before the new id is stored.
    pub rotate_from: Option<(SessionId, Version)>,
}

impl State {
    /// A new, empty, unstored session.
    pub fn fresh(id: SessionId, lifetime: Lifetime, now: OffsetDateTime) -> Self {
        Self {
            id,
            data: Map::new(),
            raw: None,
            version: None,
            created_at: now,
            expires_at: lifetime.expires_at(now),
            lifetime,
            changes: Vec::new(),
            expiry_changed: false,
            force_save: false,
            touch_requested: false,
            destroyed: false,
            payload_len: 2,
            user: None,
            user_changed: false,
            label: None,
            last_write: now,
            label_changed: false,
            login_at: None,
            prev_user: None,
            rotate_from: None,
        }
    }

    /// Whether the request changed anything that must be written.
    pub fn is_modified(&self) -> bool {
        !self.changes.is_empty()
            || self.expiry_changed
            || self.force_save
            || self.user_changed
            || self.label_changed
    }
}

/// A fresh state with an idle window and a cap, for the submodules' tests.
#[cfg(test)]
fn sample() -> State {
    use time::Duration;
    use time::macros::datetime;
    let lifetime = Lifetime {
        idle: Some(Duration::seconds(60)),
        cap: Some(datetime!(2030-01-02 00:00 UTC)),
        at: None,
        browser_session: false,
    };
    State::fresh(
        SessionId::random(),
        lifetime,
        datetime!(2030-01-01 00:00 UTC),
    )
}
