//! The login admission both SQL stores share, for now in sequence.

use async_trait::async_trait;
use session_core::{
    Admission, Cap, Created, Record, Saved, SessionCap, Store, StoreError, StoreKey, Version,
};
use time::OffsetDateTime;

/// What [`admit_in_order`] needs from a SQL store beyond [`Store`].
#[async_trait]
pub(crate) trait Logins: Store {
    /// The live sessions of `user` other than `except`, oldest login
    /// first: rows without a login time (written without `admit`) first,
    /// then by `login_at`, then by expiry. One `SELECT` through the
    /// `user_id` index.
    async fn other_logins(
        &self,
        user: &str,
        except: &StoreKey,
    ) -> Result<Vec<StoreKey>, StoreError>;

    /// `create`, also writing `login_at`.
    async fn create_login(
        &self,
        record: &Record,
        login_at: OffsetDateTime,
    ) -> Result<Created, StoreError>;

    /// `save`, also writing `login_at`.
    async fn save_login(
        &self,
        record: &Record,
        expected: Version,
        login_at: OffsetDateTime,
    ) -> Result<Saved, StoreError>;
}

/// Writes a login under `cap`: lists the user's other live sessions
/// (oldest login first), refuses or writes the record with its login time,
/// then deletes the oldest others beyond the cap.
///
/// Statements: `SELECT` + `INSERT` (or the save's) + one `DELETE` per
/// revoked session; a refused login is the `SELECT` alone.
///
/// Not yet atomic per user (issue 15 makes it one transaction): two
/// concurrent logins of one user can both pass a `RefuseLogin` count, or
/// both revoke; the conformance case for concurrent logins is marked as a
/// known failure of these stores until then.
pub(crate) async fn admit_in_order<S: Logins>(
    store: &S,
    record: &Record,
    expected: Option<Version>,
    login_at: OffsetDateTime,
    cap: Cap,
) -> Result<Admission, StoreError> {
    let Some(user) = record.user.as_deref() else {
        return Err(StoreError::Malformed("a login record has no user"));
    };
    let others = store.other_logins(user, &record.key).await?;
    if cap.policy == SessionCap::RefuseLogin && others.len() >= cap.max {
        return Ok(Admission::Refused { live: others.len() });
    }
    match expected {
        None => {
            if store.create_login(record, login_at).await? == Created::Collision {
                return Ok(Admission::Collision);
            }
        }
        Some(v) => match store.save_login(record, v, login_at).await? {
            Saved::Ok => {}
            Saved::Conflict => return Ok(Admission::Conflict),
            Saved::Gone => return Ok(Admission::Gone),
        },
    }
    if cap.policy != SessionCap::RevokeOldest {
        return Ok(Admission::Admitted { revoked: 0 });
    }
    let excess = (others.len() + 1).saturating_sub(cap.max.max(1));
    for key in others.iter().take(excess) {
        store.delete(key).await?;
    }
    Ok(Admission::Admitted { revoked: excess })
}
