//! Per-user listing and revocation through the store's optional
//! [`UserIndex`](crate::UserIndex): "your devices", "log out other
//! devices", "log out everywhere".

use time::OffsetDateTime;

use crate::driver::Driver;
use crate::error::SessionError;
use crate::events::EventKind;
use crate::id::StoreKey;
use crate::state;

/// One of a user's live sessions, for a "your devices" page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// An opaque handle (the storage key: a hash of the id, useless as a
    /// cookie) to pass to `revoke`.
    pub handle: String,
    /// When the session was created.
    pub created_at: OffsetDateTime,
    /// When its user logged in (the commit of `set_user`); "oldest" and
    /// "newest" for the per-user cap.
    pub login_at: Option<OffsetDateTime>,
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

/// Lists `user`'s live sessions, oldest login first.
pub(crate) async fn list(
    m: &Driver, user: &str, current: Option<&StoreKey>,
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
                login_at: d.login_at,
                last_seen: touched.map_or(last_write, |t| t.max(last_write)),
                expires_at: r.expires_at,
                label: d.label,
                current: current == Some(&r.key),
            })
        })
        .collect();
    out.sort_by(|a, b| {
        (a.login_at.unwrap_or(a.created_at), &a.handle)
            .cmp(&(b.login_at.unwrap_or(b.created_at), &b.handle))
    });
    Ok(out)
}

/// Revokes `sessions` of `user` (a store `delete` of each: unconditional,
/// so a request holding one of them can never write it again) and returns
/// how many.
pub(crate) async fn revoke(
    m: &Driver, user: &str, sessions: &[SessionInfo],
) -> Result<usize, SessionError> {
    let mut n = 0;
    for info in sessions {
        if let Some(key) = StoreKey::from_stored(&info.handle) {
            m.timed("delete", m.store.delete(&key)).await?;
            m.emit(EventKind::Revoked, None, Some(user));
            n += 1;
        }
    }
    Ok(n)
}
