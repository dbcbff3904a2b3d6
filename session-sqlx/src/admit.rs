//! The login admission both SQL stores share: one transaction serialized
//! per user, the same steps and the same decision in both.
//!
//! Each store opens an [`AdmitTx`] (PostgreSQL: a `READ COMMITTED`
//! transaction holding a transaction-scoped advisory lock keyed by the
//! table and the user; SQLite: a `BEGIN IMMEDIATE` transaction, which holds
//! the database's single write lock), and [`admit`] runs in it:
//!
//! 1. read the user's other live sessions, oldest login first;
//! 2. [`decide`]: refuse, or write and revoke the oldest beyond the cap;
//! 3. write the record (insert-if-absent or compare-and-swap) and, only if
//!    it was written, delete the chosen sessions;
//! 4. commit (also after a refusal or a lost compare-and-swap, which wrote
//!    nothing, to release the lock at once).
//!
//! Since every admission of one user runs these steps under one lock, no
//! two of them interleave: the cap is decided on a list that cannot change
//! under it, except by writes that are not logins (a `delete` of a logout
//! or revocation, which only lowers the count, or a plain `save` that sets
//! a user without a cap). A dropped future leaves the transaction to be
//! rolled back by sqlx: nothing of the admission is stored.

use async_trait::async_trait;
use session_core::{Admission, Cap, Login, Record, SessionCap, StoreError, StoreKey, Version};
use time::OffsetDateTime;

/// What the write step of an admission found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Written {
    /// The record was written, and the chosen sessions deleted.
    Ok,
    /// `expected` was `None` and a live record has the key: nothing written.
    Collision,
    /// The stored version differs from `expected`: nothing written.
    Conflict,
    /// No live record has the key (`expected` was `Some`): nothing written.
    Gone,
}

/// One admission's transaction, serialized per user (see the module docs).
#[async_trait]
pub(crate) trait AdmitTx: Send + Sized {
    /// The live sessions of `user` other than `except`, oldest login first:
    /// rows without a login time (written without `admit`) first, then by
    /// `login_at`, then by expiry, then by key. One `SELECT` through the
    /// `user_id` index.
    async fn others(&mut self, user: &str, except: &StoreKey) -> Result<Vec<StoreKey>, StoreError>;

    /// Writes `record` with `login_at`: insert-if-absent when `expected` is
    /// `None`, else compare-and-swap from `expected`; then, only if it was
    /// written, deletes `revoke`.
    async fn write(
        &mut self, record: &Record, expected: Option<Version>, login_at: OffsetDateTime,
        revoke: &[StoreKey],
    ) -> Result<Written, StoreError>;

    /// Commits (releasing the per-user lock).
    async fn commit(self) -> Result<(), StoreError>;
}

/// The cap's verdict on a login, given how many other live sessions the
/// user has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// [`SessionCap::RefuseLogin`] and `others >= cap.max`: write nothing.
    Refuse,
    /// Write the login and revoke this many of the oldest others.
    Write {
        /// How many of the oldest other sessions to delete.
        revoke: usize,
    },
}

/// The cap's decision: `RefuseLogin` refuses when the user already has
/// `max` other live sessions; `RevokeOldest` keeps `max - 1` others (at
/// least 0, so the login itself always stays).
pub(crate) fn decide(others: usize, cap: Cap) -> Decision {
    let max = cap.max.max(1);
    match cap.policy {
        SessionCap::RefuseLogin if others >= max => Decision::Refuse,
        SessionCap::RefuseLogin => Decision::Write { revoke: 0 },
        SessionCap::RevokeOldest => Decision::Write {
            revoke: (others + 1).saturating_sub(max),
        },
    }
}

/// Runs one admission in `tx` (see the module docs) and commits it.
pub(crate) async fn admit<T: AdmitTx>(
    mut tx: T, login: Login<'_>,
) -> Result<Admission, StoreError> {
    let user = login.user()?;
    let (record, cap) = (login.record, login.cap);
    let others = tx.others(user, &record.key).await?;
    let outcome = match decide(others.len(), cap) {
        Decision::Refuse => Admission::Refused { live: others.len() },
        Decision::Write { revoke } => {
            let victims = &others[..revoke.min(others.len())];
            match tx.write(record, login.expected, login.at, victims).await? {
                Written::Ok => Admission::Admitted {
                    revoked: victims.len(),
                },
                Written::Collision => Admission::Collision,
                Written::Conflict => Admission::Conflict,
                Written::Gone => Admission::Gone,
            }
        }
    };
    tx.commit().await?;
    Ok(outcome)
}

/// FNV-1a, 64 bits: the PostgreSQL advisory lock key of one user of one
/// table. Fixed here (not `std`'s hasher, whose algorithm may change
/// between Rust releases) because every instance of every version must
/// derive the same key for the lock to exclude. Two users that share a key
/// only serialize each other's logins.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) fn lock_key(table: &str, user: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in table.bytes().chain([0u8]).chain(user.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cap(max: usize, policy: SessionCap) -> Cap {
        Cap { max, policy }
    }

    #[test]
    fn decisions() {
        use Decision::*;
        use SessionCap::*;
        // (others, max, policy, decision)
        let rows = [
            (0, 1, RefuseLogin, Write { revoke: 0 }),
            (1, 1, RefuseLogin, Refuse),
            (2, 3, RefuseLogin, Write { revoke: 0 }),
            (3, 3, RefuseLogin, Refuse),
            (7, 3, RefuseLogin, Refuse),
            (0, 1, RevokeOldest, Write { revoke: 0 }),
            (1, 1, RevokeOldest, Write { revoke: 1 }),
            (7, 1, RevokeOldest, Write { revoke: 7 }),
            (2, 3, RevokeOldest, Write { revoke: 0 }),
            (3, 3, RevokeOldest, Write { revoke: 1 }),
            (7, 3, RevokeOldest, Write { revoke: 5 }),
            // A cap of 0 acts as 1: the login itself always stays.
            (2, 0, RevokeOldest, Write { revoke: 2 }),
            (0, 0, RefuseLogin, Write { revoke: 0 }),
        ];
        for (others, max, policy, want) in rows {
            assert_eq!(
                decide(others, cap(max, policy)),
                want,
                "{others} others, cap {max} {policy:?}"
            );
        }
    }

    #[test]
    fn lock_keys_are_fixed_and_separate_tables_and_users() {
        // Pinned: a change would let two versions of the crate lock
        // different keys for one user during a rolling deploy.
        assert_eq!(lock_key("", ""), 0xaf63_bd4c_8601_b7df_u64 as i64);
        assert_ne!(
            lock_key("public.sessions", "ada"),
            lock_key("public.sessions", "bob")
        );
        assert_ne!(lock_key("a.b", "c"), lock_key("a", "b.c"));
        assert_ne!(lock_key("ab", "c"), lock_key("a", "bc"));
    }
}
