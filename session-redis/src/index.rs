//! The user index: a sorted set per user, `{prefix}user:{<user>}`, whose
//! members are the store keys of the user's sessions, each scored with the
//! instant (ms) until which it must stay: its session's expiry rounded up
//! to the index grid. See the crate docs, "User index". In the same sorted
//! set, for [`UserIndex::admit`], one admission record per session admitted
//! under a cap (its login time and state; see the crate docs, "Logins under
//! a cap").

use async_trait::async_trait;
use futures_util::future::join_all;
use redis::Value;
use session_core::{
    Admission, Cap, Created, Login, Record, Saved, SessionCap, SessionId, Store, StoreError,
    StoreKey, UserIndex,
};

use crate::scripts::{ABORT, ADMIT, CONFIRM, LINK, LIST, UNLINK};
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
        &self, user: &str, key: &StoreKey, expires_ms: i64,
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

    /// Removes `key` from `user`'s index (`UNLINK`, a `ZREM`), after the session write
    /// that made the entry stale. A failure only leaves an extra entry
    /// (skipped by listings, gone with its bound), so it is logged, not
    /// returned: the session write itself succeeded.
    pub(crate) async fn unlink(&self, user: &str, key: &StoreKey) {
        let ukey = self.user_key(user);
        let (ukey, member) = (&ukey, key.as_str());
        let done = self
            .run(|mut c| async move {
                UNLINK
                    .key(ukey)
                    .arg(member)
                    .invoke_async::<i64>(&mut c)
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

/// The reply of [`ADMIT`].
enum Decision {
    /// The new key was revoked by another login: nothing written.
    Gone,
    /// [`SessionCap::RefuseLogin`]: so many other live sessions; nothing
    /// written.
    Refused(usize),
    /// Listed as pending; these victims are marked revoked.
    Admitted(Vec<StoreKey>),
    /// Liveness reports needed: the other entries and their tokens.
    Roster(Vec<(String, String)>),
}

fn bad_admit() -> StoreError {
    StoreError::Malformed("unexpected reply to the admit script")
}

fn text(v: &Value) -> Result<String, StoreError> {
    match v {
        Value::BulkString(b) => String::from_utf8(b.clone()).map_err(|_| bad_admit()),
        Value::SimpleString(s) => Ok(s.clone()),
        _ => Err(bad_admit()),
    }
}

fn decision(reply: Vec<Value>) -> Result<Decision, StoreError> {
    let (head, rest) = reply.split_first().ok_or_else(bad_admit)?;
    match head {
        Value::Int(0) => Ok(Decision::Gone),
        Value::Int(1) => match rest {
            [Value::Int(live)] => Ok(Decision::Refused(
                usize::try_from(*live).map_err(|_| bad_admit())?,
            )),
            _ => Err(bad_admit()),
        },
        Value::Int(2) => rest
            .iter()
            .map(|v| StoreKey::from_stored(&text(v)?).ok_or_else(bad_admit))
            .collect::<Result<_, _>>()
            .map(Decision::Admitted),
        Value::Int(3) => rest
            .chunks(2)
            .map(|pair| match pair {
                [k, t] => Ok((text(k)?, text(t)?)),
                _ => Err(bad_admit()),
            })
            .collect::<Result<_, _>>()
            .map(Decision::Roster),
        _ => Err(bad_admit()),
    }
}

/// A login's nonce: tells its own pending admission from another request's
/// admission of the same key.
fn nonce() -> String {
    SessionId::random().to_string().chars().take(16).collect()
}

impl RedisStore {
    /// How long a pending admission counts as live without a record: three
    /// per-call timeouts, and at least a second. The steps between the
    /// decision and the write (one call) fit well inside it.
    fn lease_ms(&self) -> u64 {
        u64::try_from(self.timeout().as_millis().saturating_mul(3))
            .unwrap_or(u64::MAX)
            .max(1_000)
    }

    /// One run of [`ADMIT`] on the user's index.
    #[allow(clippy::too_many_arguments)]
    async fn decide(
        &self, ukey: &str, record: &Record, login_ms: i64, cap: Cap, nonce: &str,
        reports: Option<&[(String, String)]>,
    ) -> Result<Decision, StoreError> {
        let bound = index_bound(unix_ms(record.expires_at));
        let before = passed_before();
        let lease = self.lease_ms();
        let policy = match cap.policy {
            SessionCap::RefuseLogin => "refuse",
            SessionCap::RevokeOldest => "revoke",
        };
        let key = record.key.as_str();
        let reply: Vec<Value> = self
            .run(|mut c| async move {
                let mut inv = ADMIT.key(ukey);
                inv.arg(key)
                    .arg(bound)
                    .arg(before)
                    .arg(login_ms)
                    .arg(cap.max)
                    .arg(policy)
                    .arg(lease)
                    .arg(nonce)
                    .arg(if reports.is_some() { "1" } else { "0" });
                for (k, token) in reports.unwrap_or_default() {
                    inv.arg(k).arg(token);
                }
                inv.invoke_async(&mut c).await
            })
            .await?;
        decision(reply)
    }

    /// Runs [`CONFIRM`] or [`ABORT`] (`script`) for `key` and `nonce` on
    /// the user's index: 1 or 0.
    async fn settle(
        &self, script: &redis::Script, ukey: &str, key: &StoreKey, nonce: &str,
    ) -> Result<i64, StoreError> {
        let key = key.as_str();
        self.run(|mut c| async move {
            script
                .key(ukey)
                .arg(key)
                .arg(nonce)
                .invoke_async(&mut c)
                .await
        })
        .await
    }
}

#[async_trait]
impl UserIndex for RedisStore {
    /// A login under a cap, atomic per user with no lock: the choice of
    /// victims (or the refusal) is one script on the user's index
    /// (`ADMIT`), and the steps that touch other slots are ordered so that
    /// every invariant holds between any two of them. See the crate docs,
    /// "Logins under a cap", for the states of an entry and why each order
    /// is safe when the request is dropped between two steps.
    ///
    /// 1. `ADMIT` on the user's index (one script, the user's slot): count
    ///    the user's other sessions (an entry pending within its lease
    ///    counts as live; every other entry of unknown liveness counts as
    ///    live too). When the login fits the cap even so, the decision is
    ///    made here; when refusing or revoking would depend on an entry of
    ///    unknown liveness, the script writes nothing and answers the
    ///    entries with their tokens.
    /// 2. Only then: one `load` of each such entry, all sent at once, and
    ///    `ADMIT` again with the entries found not live (each at the token
    ///    it had when listed, so an entry that changed since is counted).
    ///    The script refuses ([`SessionCap::RefuseLogin`], nothing written),
    ///    or marks the victims revoked (oldest login first; revoked entries
    ///    first, entries without a login time next) and lists the login as
    ///    *pending*, with its login time and a nonce.
    /// 3. The record's `create` or `save` (compare-and-swap), already
    ///    listed (+1 `ZREM` when a save moves the session from another
    ///    user). On a collision, conflict or gone, `ABORT` marks the
    ///    pending entry aborted (it then counts by loading) and the outcome
    ///    is returned; the victims stay alive, marked revoked.
    /// 4. `CONFIRM` on the user's index: the pending entry becomes
    ///    confirmed, unless a later login revoked it meanwhile; then this
    ///    login deletes its own record and returns [`Admission::Gone`] (the
    ///    lifecycle ends the session: a fresh one and a removal cookie).
    /// 5. A `delete` (`EVALSHA` + `ZREM`) of each victim, all sent at once.
    ///
    /// Round trips: 3 when the login fits the cap (`ADMIT`, the write,
    /// `CONFIRM`); beyond the cap, 4 + 2 of latency for the loads and the
    /// deletes (`ADMIT`, N loads together, `ADMIT`, the write, `CONFIRM`,
    /// then `EVALSHA` + `ZREM` per victim, the victims together). The one
    /// round trip more than before issue 15 is `CONFIRM`: without it a
    /// login revoked between its decision and its write would stay live,
    /// uncounted, and the cap would not hold.
    async fn admit(&self, login: Login<'_>) -> Result<Admission, StoreError> {
        let user = login.user()?;
        let (record, cap) = (login.record, login.cap);
        let ukey = self.user_key(user);
        let nonce = nonce();
        let login_ms = unix_ms(login.at);
        let mut decided = self
            .decide(&ukey, record, login_ms, cap, &nonce, None)
            .await?;
        if let Decision::Roster(roster) = &decided {
            let loaded = join_all(roster.iter().map(|(k, _)| async move {
                match StoreKey::from_stored(k) {
                    Some(key) => self.load(&key).await,
                    None => Ok(None),
                }
            }))
            .await;
            let mut dead = Vec::new();
            for ((k, token), r) in roster.iter().zip(loaded) {
                match r {
                    Ok(Some(r)) if r.user.as_deref() == Some(user) => {}
                    Ok(_) | Err(StoreError::Malformed(_)) => dead.push((k.clone(), token.clone())),
                    Err(e) => return Err(e),
                }
            }
            decided = self
                .decide(&ukey, record, login_ms, cap, &nonce, Some(&dead))
                .await?;
        }
        let victims = match decided {
            Decision::Gone => return Ok(Admission::Gone),
            Decision::Refused(live) => return Ok(Admission::Refused { live }),
            Decision::Admitted(victims) => victims,
            Decision::Roster(_) => return Err(bad_admit()),
        };
        let failed = match login.expected {
            None => match self.create_record(record, true).await? {
                Created::Ok => None,
                Created::Collision => Some(Admission::Collision),
            },
            Some(v) => match self.save_record(record, v, true).await? {
                Saved::Ok => None,
                Saved::Conflict => Some(Admission::Conflict),
                Saved::Gone => Some(Admission::Gone),
            },
        };
        if let Some(failed) = failed {
            // Best effort: a pending entry left as it is counts as live
            // only until its lease passes.
            if let Err(error) = self.settle(&ABORT, &ukey, &record.key, &nonce).await {
                tracing::warn!(
                    target: "session",
                    store = "redis",
                    %error,
                    "could not abort a failed login's admission; it counts as live until its lease passes"
                );
            }
            return Ok(failed);
        }
        let stands = self.settle(&CONFIRM, &ukey, &record.key, &nonce).await? == 1;
        let deleted = join_all(victims.iter().map(|k| self.delete(k))).await;
        if !stands {
            self.delete(&record.key).await?;
        }
        for d in deleted {
            d?;
        }
        if !stands {
            return Ok(Admission::Gone);
        }
        Ok(Admission::Admitted {
            revoked: victims.len(),
        })
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
