//! The login admission both SQL stores share, for now in sequence.

use session_core::{
    Admission, Cap, Created, Record, Saved, SessionCap, Store, StoreError, UserIndex, Version,
};

/// Writes a login under `cap`: lists the user's other live sessions,
/// refuses or writes, then deletes the oldest others beyond the cap (oldest
/// by expiry, the store's view of activity). Not yet atomic per user: two
/// concurrent logins can both pass the count (issue 15 makes it one
/// transaction); the conformance case for concurrent logins is marked as a
/// known failure of these stores until then.
pub(crate) async fn admit_in_order<S: Store + UserIndex>(
    store: &S,
    record: &Record,
    expected: Option<Version>,
    cap: Cap,
) -> Result<Admission, StoreError> {
    let Some(user) = record.user.as_deref() else {
        return Err(StoreError::Malformed("a login record has no user"));
    };
    let mut others: Vec<Record> = store
        .user_records(user)
        .await?
        .into_iter()
        .filter(|r| r.key != record.key)
        .collect();
    if cap.policy == SessionCap::RefuseLogin && others.len() >= cap.max {
        return Ok(Admission::Refused { live: others.len() });
    }
    match expected {
        None => {
            if store.create(record).await? == Created::Collision {
                return Ok(Admission::Collision);
            }
        }
        Some(v) => match store.save(record, v).await? {
            Saved::Ok => {}
            Saved::Conflict => return Ok(Admission::Conflict),
            Saved::Gone => return Ok(Admission::Gone),
        },
    }
    others.sort_by_key(|r| (r.expires_at, r.key));
    let excess = (others.len() + 1).saturating_sub(cap.max);
    for r in others.iter().take(excess) {
        store.delete(&r.key).await?;
    }
    Ok(Admission::Admitted { revoked: excess })
}
