//! `MemoryStore`: the embedded store for tests and single-process apps.
//! Unlike express-session's MemoryStore it does not leak: expired records are
//! evicted as new ones arrive, so memory stays bounded.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::clock::{Clock, SystemClock};
use crate::config::SessionCap;
use crate::id::StoreKey;
use crate::store::{
    Admission, Created, Login, Record, Retired, Saved, Store, StoreAdmin, StoreError, Touched,
    UserIndex, Version,
};

const SHARDS: usize = 16;

#[derive(Default)]
struct Shard {
    map: HashMap<StoreKey, Entry, KeyHash>,
    /// Sweep this shard when it grows past this many records.
    sweep_at: usize,
}

struct Entry {
    version: Version,
    expires_at: OffsetDateTime,
    payload: Vec<u8>,
    user: Option<String>,
    /// The login time given to `admit` (orders the cap's victims).
    login_at: OffsetDateTime,
}

/// Which keys belong to which user. Lock order: the logins lock, a shard,
/// then this.
type Users = Mutex<HashMap<String, HashSet<StoreKey>>>;

fn unlink(users: &Users, user: Option<&str>, key: &StoreKey) {
    let Some(user) = user else { return };
    let mut users = users.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(set) = users.get_mut(user) {
        set.remove(key);
        if set.is_empty() {
            users.remove(user);
        }
    }
}

fn link(users: &Users, user: Option<&str>, key: &StoreKey) {
    if let Some(user) = user {
        let mut users = users.lock().unwrap_or_else(PoisonError::into_inner);
        users.entry(user.to_owned()).or_default().insert(*key);
    }
}

/// An in-process store: 16 mutex-guarded shards of a hash map. Expired
/// records are never returned and are swept whenever a shard doubles in
/// size since its last sweep, and by [`Store::delete_expired`].
///
/// The user index is a map from user to keys, updated under the shard's
/// lock by every write, so it lists a session no later than the session
/// can be loaded. Logins under a cap ([`UserIndex::admit`]) are serialized
/// by one lock, which makes the cap's choice atomic per user.
///
/// [`StoreAdmin`] costs: `count` and `clear` lock each of the 16 shards in
/// turn, O(records).
#[derive(Clone)]
pub struct MemoryStore {
    shards: Arc<[Mutex<Shard>; SHARDS]>,
    users: Arc<Users>,
    logins: Arc<Mutex<()>>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("len", &self.len())
            .finish()
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// An empty store on the system clock.
    pub fn new() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }

    /// An empty store that judges expiry by `clock`.
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        Self {
            shards: Arc::new(std::array::from_fn(|_| {
                Mutex::new(Shard {
                    map: HashMap::with_hasher(KeyHash),
                    sweep_at: 64,
                })
            })),
            users: Arc::default(),
            logins: Arc::default(),
            clock,
        }
    }

    /// Number of records held, expired or not.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).map.len()).sum()
    }

    /// Whether the store holds no records.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every record's raw bytes (key and payload), for tests that check what
    /// reaches a store.
    pub fn dump(&self) -> Vec<(String, Vec<u8>)> {
        self.shards
            .iter()
            .flat_map(|s| {
                lock(s)
                    .map
                    .iter()
                    .map(|(k, e)| (k.as_str().to_owned(), e.payload.clone()))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    fn shard(&self, key: &StoreKey) -> MutexGuard<'_, Shard> {
        // Keys are hashes or random ids: their first byte is uniform.
        let i = key.as_bytes().first().copied().unwrap_or(0) as usize % SHARDS;
        lock(&self.shards[i])
    }
}

/// The shards' hasher. Keys are SHA-256 hashes of CSPRNG ids (or the ids
/// themselves), never chosen by a client, so a multiply-rotate hash of
/// their text is enough; SipHash spent more on each lookup than the rest
/// of it.
#[derive(Clone, Copy, Default)]
struct KeyHash;

impl std::hash::BuildHasher for KeyHash {
    type Hasher = KeyHasher;
    fn build_hasher(&self) -> KeyHasher {
        KeyHasher(0)
    }
}

struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word))
                .wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

fn lock(m: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn sweep(shard: &mut Shard, users: &Users, now: OffsetDateTime) -> u64 {
    let before = shard.map.len();
    shard.map.retain(|k, e| {
        let live = e.expires_at > now;
        if !live {
            unlink(users, e.user.as_deref(), k);
        }
        live
    });
    shard.sweep_at = (shard.map.len() * 2).max(64);
    (before - shard.map.len()) as u64
}

#[async_trait]
impl Store for MemoryStore {
    async fn load(&self, key: &StoreKey) -> Result<Option<Record>, StoreError> {
        let now = self.clock.now();
        let shard = self.shard(key);
        Ok(shard
            .map
            .get(key)
            .filter(|e| e.expires_at > now)
            .map(|e| Record {
                key: *key,
                version: e.version,
                expires_at: e.expires_at,
                payload: e.payload.clone(),
                user: e.user.clone(),
            }))
    }

    async fn create(&self, record: &Record) -> Result<Created, StoreError> {
        Ok(self.create_now(record))
    }

    async fn save(&self, record: &Record, expected: Version) -> Result<Saved, StoreError> {
        Ok(self.save_now(record, expected))
    }

    async fn touch(
        &self, key: &StoreKey, expected: Version, expires_at: OffsetDateTime,
    ) -> Result<Touched, StoreError> {
        let now = self.clock.now();
        let mut shard = self.shard(key);
        match shard.map.get_mut(key) {
            Some(e) if e.expires_at > now => {
                if e.version != expected {
                    return Ok(Touched::MovedOn);
                }
                e.expires_at = expires_at;
                Ok(Touched::Ok)
            }
            _ => Ok(Touched::Gone),
        }
    }

    async fn retire(&self, key: &StoreKey, expected: Version) -> Result<Retired, StoreError> {
        let now = self.clock.now();
        let mut shard = self.shard(key);
        match shard.map.get(key) {
            Some(e) if e.expires_at > now => {
                if e.version != expected {
                    return Ok(Retired::MovedOn);
                }
                if let Some(old) = shard.map.remove(key) {
                    unlink(&self.users, old.user.as_deref(), key);
                }
                Ok(Retired::Ok)
            }
            _ => Ok(Retired::Gone),
        }
    }

    async fn delete(&self, key: &StoreKey) -> Result<(), StoreError> {
        self.delete_now(key);
        Ok(())
    }

    async fn delete_expired(&self) -> Result<u64, StoreError> {
        let now = self.clock.now();
        Ok(self
            .shards
            .iter()
            .map(|s| sweep(&mut lock(s), &self.users, now))
            .sum())
    }

    fn user_index(&self) -> Option<&dyn UserIndex> {
        Some(self)
    }

    fn admin(&self) -> Option<&dyn StoreAdmin> {
        Some(self)
    }
}

impl MemoryStore {
    fn create_now(&self, record: &Record) -> Created {
        let now = self.clock.now();
        let mut shard = self.shard(&record.key);
        if shard
            .map
            .get(&record.key)
            .is_some_and(|e| e.expires_at > now)
        {
            return Created::Collision;
        }
        if shard.map.len() >= shard.sweep_at {
            sweep(&mut shard, &self.users, now);
        }
        let old = shard.map.insert(
            record.key,
            Entry {
                version: record.version,
                expires_at: record.expires_at,
                payload: record.payload.clone(),
                user: record.user.clone(),
                login_at: now,
            },
        );
        if let Some(old) = old {
            unlink(&self.users, old.user.as_deref(), &record.key);
        }
        link(&self.users, record.user.as_deref(), &record.key);
        Created::Ok
    }

    fn save_now(&self, record: &Record, expected: Version) -> Saved {
        let now = self.clock.now();
        let mut shard = self.shard(&record.key);
        match shard.map.get_mut(&record.key) {
            Some(e) if e.expires_at > now => {
                if e.version != expected {
                    return Saved::Conflict;
                }
                e.version = record.version;
                e.expires_at = record.expires_at;
                e.payload.clone_from(&record.payload);
                if e.user != record.user {
                    // Linked before the shard's lock is released: the new
                    // user's index lists the record before it can load.
                    unlink(&self.users, e.user.as_deref(), &record.key);
                    link(&self.users, record.user.as_deref(), &record.key);
                    e.user.clone_from(&record.user);
                }
                Saved::Ok
            }
            _ => Saved::Gone,
        }
    }

    fn delete_now(&self, key: &StoreKey) {
        let mut shard = self.shard(key);
        if let Some(old) = shard.map.remove(key) {
            unlink(&self.users, old.user.as_deref(), key);
        }
    }

    /// The live records of `user` other than `except`, with their login
    /// times (for the cap).
    fn other_logins(
        &self, user: &str, except: &StoreKey, now: OffsetDateTime,
    ) -> Vec<(OffsetDateTime, StoreKey)> {
        let keys: Vec<StoreKey> = {
            let users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
            users
                .get(user)
                .map(|s| s.iter().filter(|k| *k != except).copied().collect())
                .unwrap_or_default()
        };
        keys.into_iter()
            .filter_map(|k| {
                let shard = self.shard(&k);
                let e = shard.map.get(&k)?;
                (e.expires_at > now && e.user.as_deref() == Some(user)).then_some((e.login_at, k))
            })
            .collect()
    }
}

#[async_trait]
impl StoreAdmin for MemoryStore {
    async fn count(&self) -> Result<u64, StoreError> {
        let now = self.clock.now();
        Ok(self
            .shards
            .iter()
            .map(|s| lock(s).map.values().filter(|e| e.expires_at > now).count() as u64)
            .sum())
    }

    async fn clear(&self) -> Result<u64, StoreError> {
        let now = self.clock.now();
        let mut n = 0;
        for s in self.shards.iter() {
            let mut shard = lock(s);
            n += shard.map.values().filter(|e| e.expires_at > now).count() as u64;
            for (k, e) in shard.map.drain() {
                unlink(&self.users, e.user.as_deref(), &k);
            }
        }
        Ok(n)
    }
}

#[async_trait]
impl UserIndex for MemoryStore {
    async fn admit(&self, login: Login<'_>) -> Result<Admission, StoreError> {
        let user = login.user()?;
        let (record, cap) = (login.record, login.cap);
        // One login at a time: the choice below is atomic per user.
        let _logins = self.logins.lock().unwrap_or_else(PoisonError::into_inner);
        let now = self.clock.now();
        let mut others = self.other_logins(user, &record.key, now);
        if cap.policy == SessionCap::RefuseLogin && others.len() >= cap.max {
            return Ok(Admission::Refused { live: others.len() });
        }
        let written = match login.expected {
            None => match self.create_now(record) {
                Created::Ok => None,
                Created::Collision => Some(Admission::Collision),
            },
            Some(v) => match self.save_now(record, v) {
                Saved::Ok => None,
                Saved::Conflict => Some(Admission::Conflict),
                Saved::Gone => Some(Admission::Gone),
            },
        };
        if let Some(refusal) = written {
            return Ok(refusal);
        }
        self.shard(&record.key)
            .map
            .entry(record.key)
            .and_modify(|e| e.login_at = login.at);
        let excess = (others.len() + 1).saturating_sub(cap.max);
        others.sort();
        let mut revoked = 0;
        for (_, key) in others.into_iter().take(excess) {
            self.delete_now(&key);
            revoked += 1;
        }
        Ok(Admission::Admitted { revoked })
    }

    async fn user_records(&self, user: &str) -> Result<Vec<Record>, StoreError> {
        let keys: Vec<StoreKey> = {
            let users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
            users
                .get(user)
                .map(|s| s.iter().copied().collect())
                .unwrap_or_default()
        };
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            if let Some(r) = self.load(&key).await?
                && r.user.as_deref() == Some(user)
            {
                out.push(r);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::id::SessionId;
    use time::Duration;

    fn record(expires_at: OffsetDateTime) -> Record {
        Record {
            key: SessionId::random().hashed_key(),
            version: Version::FIRST,
            expires_at,
            payload: b"{}".to_vec(),
            user: None,
        }
    }

    #[tokio::test]
    async fn memory_stays_bounded_under_a_stream_of_short_sessions() {
        let clock = Arc::new(ManualClock::starting_now());
        let store = MemoryStore::with_clock(clock.clone());
        let mut peak = 0;
        for round in 0..50 {
            for _ in 0..2_000 {
                let r = record(clock.now() + Duration::seconds(1));
                assert_eq!(store.create(&r).await.unwrap(), Created::Ok);
            }
            peak = peak.max(store.len());
            clock.advance(Duration::seconds(2));
            let _ = round;
        }
        // 100,000 sessions created; at most about two rounds' worth live at once.
        assert!(peak <= 2 * 2_000 * 2 + SHARDS * 64, "peak {peak}");
        store.delete_expired().await.unwrap();
        assert_eq!(store.len(), 0);
    }
}
