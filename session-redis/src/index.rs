//! The user index: a sorted set per user, `{prefix}user:{<user>}`, whose
//! members are the store keys of the user's sessions, each scored with the
//! instant (ms) until which it must stay: its session's expiry rounded up
//! to the index grid. See the crate docs, "User index". Beside it, for
//! [`UserIndex::admit`], a sorted set of login times per user,
//! `{prefix}user:{<user>}:login`.

use std::collections::HashMap;

use async_trait::async_trait;
use futures_util::future::join_all;
use redis::Value;
use session_core::{
    Admission, Cap, Created, Record, Saved, SessionCap, Store, StoreError, StoreKey, UserIndex,
    Version,
};
use time::OffsetDateTime;

use crate::scripts::{ENROL, LINK, LIST};
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

impl RedisStore {
    /// Links `key` to `user`'s index until at least `expires_ms` (as
    /// [`link`](Self::link)) and records its login time, `login_ms`, in the
    /// user's login set, in one script on the user's slot (`ENROL`).
    /// Returns the login times of the user's indexed sessions (the new one
    /// included). Without a login set for this user (see
    /// [`RedisStore::login_key`]), only links, and returns no login times.
    async fn enrol(
        &self,
        user: &str,
        key: &StoreKey,
        expires_ms: i64,
        login_ms: i64,
    ) -> Result<HashMap<String, i64>, StoreError> {
        let Some(logins) = self.login_key(user) else {
            self.link(user, key, expires_ms).await?;
            return Ok(HashMap::new());
        };
        let ukey = self.user_key(user);
        let member = key.as_str();
        let bound = index_bound(expires_ms);
        let now = passed_before();
        let (ukey, logins) = (&ukey, &logins);
        let reply: Vec<Value> = self
            .run(|mut c| async move {
                ENROL
                    .key(ukey)
                    .key(logins)
                    .arg(member)
                    .arg(bound)
                    .arg(now)
                    .arg(login_ms)
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        let mut out = HashMap::with_capacity(reply.len() / 2);
        for pair in reply.chunks(2) {
            if let [member, score] = pair {
                let member: String = redis::from_redis_value(member.clone())
                    .map_err(|_| StoreError::Malformed("unexpected reply to the enrol script"))?;
                let score: f64 = redis::from_redis_value(score.clone())
                    .map_err(|_| StoreError::Malformed("unexpected reply to the enrol script"))?;
                out.insert(member, score as i64);
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl UserIndex for RedisStore {
    /// A login, in steps that are each atomic but **not yet atomic per
    /// user as a whole** (issue 15): two logins of one user at the same
    /// moment can both pass a [`SessionCap::RefuseLogin`] cap, or revoke
    /// more sessions than needed. Sequential logins keep the cap exactly.
    ///
    /// 1. `user_records` of the user (`LIST` + one `load` per entry, sent
    ///    together): the user's other live sessions; with
    ///    [`SessionCap::RefuseLogin`] and `cap.max` or more of them, the
    ///    login is refused here and nothing is written.
    /// 2. `ENROL` (one script on the user's slot): the record's `LINK` and
    ///    its login time (ms) in the user's login set,
    ///    `{prefix}user:{<user>}:login`, which answers the login times of
    ///    the user's indexed sessions.
    /// 3. The record's `create` or `save` (compare-and-swap), already
    ///    linked: one `EVALSHA` (+1 `ZREM` when a save moves the session
    ///    from another user).
    /// 4. With [`SessionCap::RevokeOldest`], a `delete` (`EVALSHA` +
    ///    `ZREM`) of each other session beyond `cap.max - 1`, oldest login
    ///    first; sessions without a login time (written without `admit`, or
    ///    whose login set expired) count as the oldest, then by expiry.
    ///
    /// Round trips: 4 + 2 per revoked session (the loads of step 1 go out
    /// together).
    async fn admit(
        &self,
        record: &Record,
        expected: Option<Version>,
        login_at: OffsetDateTime,
        cap: Cap,
    ) -> Result<Admission, StoreError> {
        let Some(user) = record.user.as_deref() else {
            return Err(StoreError::Malformed("a login record has no user"));
        };
        let others: Vec<Record> = self
            .user_records(user)
            .await?
            .into_iter()
            .filter(|r| r.key != record.key)
            .collect();
        if cap.policy == SessionCap::RefuseLogin && others.len() >= cap.max {
            return Ok(Admission::Refused { live: others.len() });
        }
        let logins = self
            .enrol(
                user,
                &record.key,
                unix_ms(record.expires_at),
                unix_ms(login_at),
            )
            .await?;
        match expected {
            None => match self.create_record(record, true).await? {
                Created::Ok => {}
                Created::Collision => return Ok(Admission::Collision),
            },
            Some(v) => match self.save_record(record, v, true).await? {
                Saved::Ok => {}
                Saved::Conflict => return Ok(Admission::Conflict),
                Saved::Gone => return Ok(Admission::Gone),
            },
        }
        let excess = (others.len() + 1).saturating_sub(cap.max.max(1));
        if cap.policy != SessionCap::RevokeOldest || excess == 0 {
            return Ok(Admission::Admitted { revoked: 0 });
        }
        let mut victims: Vec<(i64, OffsetDateTime, StoreKey)> = others
            .iter()
            .map(|r| {
                let login = logins.get(r.key.as_str()).copied().unwrap_or(i64::MIN);
                (login, r.expires_at, r.key)
            })
            .collect();
        victims.sort_by(|a, b| (a.0, a.1, a.2.as_str()).cmp(&(b.0, b.1, b.2.as_str())));
        let mut revoked = 0;
        for (_, _, key) in victims.into_iter().take(excess) {
            self.delete(&key).await?;
            revoked += 1;
        }
        Ok(Admission::Admitted { revoked })
    }

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
