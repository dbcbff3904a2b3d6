//! `SessionError`: why a session operation failed.

use crate::expiry::ExpiryError;
use crate::state::DataError;
use crate::store::StoreError;

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
    /// An expiry override was refused (an idle window that is not
    /// positive, or longer than 400 days); the session is unchanged.
    #[error(transparent)]
    Expiry(#[from] ExpiryError),
    /// The request's path is outside the cookie's `Path` (RFC 6265
    /// path-match), where the browser never sends the cookie: its session
    /// is empty and refuses writes, like express-session, which skips such
    /// requests.
    #[error("the request is outside the session cookie's path")]
    OutsideCookiePath,
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
