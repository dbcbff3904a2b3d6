//! Store wrappers for tests: one that counts calls, one that fails on demand.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::id::StoreKey;
use crate::store::{Created, Record, Saved, Store, StoreError, UserIndex, Version};

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

    /// Calls that write (create, save, touch, delete).
    pub fn writes(&self) -> u64 {
        let (_, c, s, t, d) = self.snapshot();
        c + s + t + d
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
    async fn touch(&self, key: &StoreKey, expires_at: OffsetDateTime) -> Result<bool, StoreError> {
        bump(&self.counts.touch);
        self.inner.touch(key, expires_at).await
    }
    async fn delete(&self, key: &StoreKey) -> Result<(), StoreError> {
        bump(&self.counts.delete);
        self.inner.delete(key).await
    }
    async fn delete_expired(&self) -> Result<u64, StoreError> {
        self.inner.delete_expired().await
    }
    fn user_index(&self) -> Option<&dyn UserIndex> {
        self.inner.user_index()
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
    /// Makes `create`, `save`, `touch` and `delete` fail (or succeed again).
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
    async fn touch(&self, key: &StoreKey, expires_at: OffsetDateTime) -> Result<bool, StoreError> {
        self.check(&self.fail_writes)?;
        self.inner.touch(key, expires_at).await
    }
    async fn delete(&self, key: &StoreKey) -> Result<(), StoreError> {
        self.check(&self.fail_writes)?;
        self.inner.delete(key).await
    }
    fn user_index(&self) -> Option<&dyn UserIndex> {
        self.inner.user_index()
    }
}
