//! The user index: a sorted set per user, `{prefix}user:{<user>}`, whose
//! members are the store keys of the user's sessions, each scored with the
//! instant (ms) until which it must stay: its session's expiry rounded up
//! to the index grid. See the crate docs, "User index".

use async_trait::async_trait;
use futures_util::future::join_all;
use session_core::{Record, Store, StoreError, StoreKey, UserIndex};

use crate::scripts::{LINK, LIST};
use crate::store::{RedisStore, index_bound, now, unix_ms};

/// Entries whose score is at or before this instant (ms) are dropped: a
/// minute before now, so that a Redis clock behind ours by less than that
/// never sees a live session lose its entry.
fn passed_before() -> i64 {
    unix_ms(now()).saturating_sub(60_000)
}

impl RedisStore {
    /// Adds `key` to `user`'s index until at least `expires_ms` (rounded up
    /// to the index grid). One round trip (`EVALSHA`), on the user's slot.
    /// Always runs before the session write that needs it: a failure or a
    /// cancellation in between leaves an extra entry (skipped by listings,
    /// gone with its bound), never a live session missing from its index.
    pub(crate) async fn link(
        &self,
        user: &str,
        key: &StoreKey,
        expires_ms: i64,
    ) -> Result<(), StoreError> {
        let ukey = self.user_key(user);
        let member = key.as_str();
        let bound = index_bound(expires_ms);
        let now = passed_before();
        let (ukey, member) = (&ukey, member);
        self.run(|mut c| async move {
            LINK.key(ukey)
                .arg(member)
                .arg(bound)
                .arg(now)
                .invoke_async::<i64>(&mut c)
                .await
        })
        .await
        .map(drop)
    }

    /// Removes `key` from `user`'s index (`ZREM`), after the session write
    /// that made the entry stale. A failure only leaves an extra entry
    /// (skipped by listings, gone with its bound), so it is logged, not
    /// returned: the session write itself succeeded.
    pub(crate) async fn unlink(&self, user: &str, key: &StoreKey) {
        let ukey = self.user_key(user);
        let (ukey, member) = (&ukey, key.as_str());
        let done = self
            .run(|mut c| async move {
                redis::cmd("ZREM")
                    .arg(ukey)
                    .arg(member)
                    .query_async::<i64>(&mut c)
                    .await
            })
            .await;
        if let Err(error) = done {
            tracing::warn!(
                target: "session",
                store = "redis",
                %error,
                "could not remove a session from its user index; the stale entry is skipped by listings and expires with its bound"
            );
        }
    }
}

#[async_trait]
impl UserIndex for RedisStore {
    /// One round trip for the index (`EVALSHA`: drop the entries whose
    /// bound has passed, `ZRANGE` the rest), then one `load` per entry, all
    /// sent at once (on a Cluster each goes to its own slot's node). Only
    /// live records that still belong to `user` are returned.
    async fn user_records(&self, user: &str) -> Result<Vec<Record>, StoreError> {
        let ukey = self.user_key(user);
        let now = passed_before();
        let ukey = &ukey;
        let members: Vec<String> = self
            .run(|mut c| async move { LIST.key(ukey).arg(now).invoke_async(&mut c).await })
            .await?;
        let keys: Vec<StoreKey> = members
            .iter()
            .filter_map(|m| StoreKey::from_stored(m))
            .collect();
        let loaded = join_all(keys.iter().map(|k| self.load(k))).await;
        let mut out = Vec::with_capacity(loaded.len());
        for record in loaded {
            match record {
                Ok(Some(r)) if r.user.as_deref() == Some(user) => out.push(r),
                // Deleted, expired, re-assigned: an entry whose removal
                // failed or raced; it leaves with its bound. (Removing it
                // here could race a login that linked it a moment before
                // writing the session.)
                Ok(_) => {}
                // Not a value this store wrote: not one of the user's.
                Err(StoreError::Malformed(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }
}
