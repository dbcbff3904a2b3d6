//! Store wrappers for tests: one that counts calls, one that fails on demand.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::id::StoreKey;
use crate::store::{
    Admission, Created, Login, Record, Retired, Saved, Store, StoreAdmin, StoreError, Touched,
    UserIndex, Version,
};

/// Calls made to a [`CountingStore`], per method.
#[derive(Debug, Default)]
pub struct CallCounts {
    /// `load` calls.
    pub load: AtomicU64,
    /// `create` calls.
    pub create: AtomicU64,
    /// `save` calls.
    pub save: AtomicU64,
    /// `touch` calls.
    pub touch: AtomicU64,
    /// `delete` calls.
    pub delete: AtomicU64,
    /// `retire` calls.
    pub retire: AtomicU64,
    /// `admit` calls (through the wrapper's user index).
    pub admit: AtomicU64,
}

impl CallCounts {
    /// (load, create, save, touch, delete).
    pub fn snapshot(&self) -> (u64, u64, u64, u64, u64) {
        (
            self.load.load(Ordering::SeqCst),
            self.create.load(Ordering::SeqCst),
            self.save.load(Ordering::SeqCst),
            self.touch.load(Ordering::SeqCst),
            self.delete.load(Ordering::SeqCst),
        )
    }

    /// Calls that write (create, save, touch, delete, retire, admit).
    pub fn writes(&self) -> u64 {
        let (_, c, s, t, d) = self.snapshot();
        c + s + t + d + self.retire.load(Ordering::SeqCst) + self.admit.load(Ordering::SeqCst)
    }
}

/// Wraps a store and counts its calls.
#[derive(Debug, Clone)]
pub struct CountingStore {
    inner: Arc<dyn Store>,
    /// The counts.
    pub counts: Arc<CallCounts>,
}

impl CountingStore {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Store>) -> Self {
        Self {
            inner,
            counts: Arc::default(),
        }
    }
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::SeqCst);
}

#[async_trait]
impl Store for CountingStore {
    async fn load(&self, key: &StoreKey) -> Result<Option<Record>, StoreError> {
        bump(&self.counts.load);
        self.inner.load(key).await
    }
    async fn create(&self, record: &Record) -> Result<Created, StoreError> {
        bump(&self.counts.create);
        self.inner.create(record).await
    }
    async fn save(&self, record: &Record, expected: Version) -> Result<Saved, StoreError> {
        bump(&self.counts.save);
        self.inner.save(record, expected).await
    }
    async fn touch(
        &self,
        key: &StoreKey,
        expected: Version,
        expires_at: OffsetDateTime,
    ) -> Result<Touched, StoreError> {
        bump(&self.counts.touch);
        self.inner.touch(key, expected, expires_at).await
    }
    async fn retire(&self, key: &StoreKey, expected: Version) -> Result<Retired, StoreError> {
        bump(&self.counts.retire);
        self.inner.retire(key, expected).await
    }
    async fn delete(&self, key: &StoreKey) -> Result<(), StoreError> {
        bump(&self.counts.delete);
        self.inner.delete(key).await
    }
    async fn delete_expired(&self) -> Result<u64, StoreError> {
        self.inner.delete_expired().await
    }
    fn user_index(&self) -> Option<&dyn UserIndex> {
        self.inner.user_index().map(|_| self as &dyn UserIndex)
    }
    fn admin(&self) -> Option<&dyn StoreAdmin> {
        self.inner.admin()
    }
}

#[async_trait]
impl UserIndex for CountingStore {
    async fn user_records(&self, user: &str) -> Result<Vec<Record>, StoreError> {
        match self.inner.user_index() {
            Some(i) => i.user_records(user).await,
            None => Ok(Vec::new()),
        }
    }
    async fn admit(&self, login: Login<'_>) -> Result<Admission, StoreError> {
        bump(&self.counts.admit);
        index_of(&*self.inner)?.admit(login).await
    }
}

/// Wraps a store and fails reads and/or writes while told to, with a
/// backend error whose text ("secret-backend-detail") must never reach a
/// response body.
#[derive(Debug, Clone)]
pub struct FailingStore {
    inner: Arc<dyn Store>,
    fail_reads: Arc<AtomicBool>,
    fail_writes: Arc<AtomicBool>,
}

/// The text of the error a [`FailingStore`] returns.
pub const SECRET_DETAIL: &str = "secret-backend-detail";

#[derive(Debug, thiserror::Error)]
#[error("{SECRET_DETAIL}: connection refused")]
struct Injected;

impl FailingStore {
    /// Wraps `inner`; nothing fails until told.
    pub fn new(inner: Arc<dyn Store>) -> Self {
        Self {
            inner,
            fail_reads: Arc::default(),
            fail_writes: Arc::default(),
        }
    }
    /// Makes `load` fail (or succeed again).
    pub fn fail_reads(&self, on: bool) {
        self.fail_reads.store(on, Ordering::SeqCst);
    }
    /// Makes every write (`create`, `save`, `touch`, `retire`, `delete`,
    /// `admit`) fail (or succeed again).
    pub fn fail_writes(&self, on: bool) {
        self.fail_writes.store(on, Ordering::SeqCst);
    }
    fn check(&self, flag: &AtomicBool) -> Result<(), StoreError> {
        if flag.load(Ordering::SeqCst) {
            Err(StoreError::backend(Injected))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl Store for FailingStore {
    async fn load(&self, key: &StoreKey) -> Result<Option<Record>, StoreError> {
        self.check(&self.fail_reads)?;
        self.inner.load(key).await
    }
    async fn create(&self, record: &Record) -> Result<Created, StoreError> {
        self.check(&self.fail_writes)?;
        self.inner.create(record).await
    }
    async fn save(&self, record: &Record, expected: Version) -> Result<Saved, StoreError> {
        self.check(&self.fail_writes)?;
        self.inner.save(record, expected).await
    }
    async fn touch(
        &self,
        key: &StoreKey,
        expected: Version,
        expires_at: OffsetDateTime,
    ) -> Result<Touched, StoreError> {
        self.check(&self.fail_writes)?;
        self.inner.touch(key, expected, expires_at).await
    }
    async fn retire(&self, key: &StoreKey, expected: Version) -> Result<Retired, StoreError> {
        self.check(&self.fail_writes)?;
        self.inner.retire(key, expected).await
    }
    async fn delete(&self, key: &StoreKey) -> Result<(), StoreError> {
        self.check(&self.fail_writes)?;
        self.inner.delete(key).await
    }
    async fn delete_expired(&self) -> Result<u64, StoreError> {
        self.check(&self.fail_writes)?;
        self.inner.delete_expired().await
    }
    fn user_index(&self) -> Option<&dyn UserIndex> {
        self.inner.user_index().map(|_| self as &dyn UserIndex)
    }
    fn admin(&self) -> Option<&dyn StoreAdmin> {
        self.inner.admin()
    }
}

#[async_trait]
impl UserIndex for FailingStore {
    async fn user_records(&self, user: &str) -> Result<Vec<Record>, StoreError> {
        self.check(&self.fail_reads)?;
        match self.inner.user_index() {
            Some(i) => i.user_records(user).await,
            None => Ok(Vec::new()),
        }
    }
    async fn admit(&self, login: Login<'_>) -> Result<Admission, StoreError> {
        self.check(&self.fail_writes)?;
        index_of(&*self.inner)?.admit(login).await
    }
}

/// The user index of a wrapped store, for the wrappers' `admit`.
fn index_of(inner: &dyn Store) -> Result<&dyn UserIndex, StoreError> {
    inner
        .user_index()
        .ok_or(StoreError::Malformed("the store has no user index"))
}
