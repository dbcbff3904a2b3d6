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

/// A store call, as a [`Wrapped`] store's hook sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreCall {
    /// `load`.
    Load,
    /// `create`.
    Create,
    /// `save`.
    Save,
    /// `touch`.
    Touch,
    /// `retire`.
    Retire,
    /// `delete`.
    Delete,
    /// `delete_expired`.
    DeleteExpired,
    /// `user_records`.
    UserRecords,
    /// `admit`.
    Admit,
}

impl StoreCall {
    /// Whether the call reads only.
    pub fn is_read(self) -> bool {
        matches!(self, StoreCall::Load | StoreCall::UserRecords)
    }
}

/// What a [`Wrapped`] store does before each call it passes on: count it,
/// or fail it.
pub trait Hook: std::fmt::Debug + Send + Sync + 'static {
    /// Runs before `call`; an error is returned instead of calling the
    /// wrapped store.
    fn before(&self, call: StoreCall) -> Result<(), StoreError>;
}

/// A store that runs its hook `H` before passing each call to the wrapped
/// store; `Deref`s to the hook, whose methods are the wrapper's.
#[derive(Debug, Clone)]
pub struct Wrapped<H> {
    inner: Arc<dyn Store>,
    hook: H,
}

impl<H> std::ops::Deref for Wrapped<H> {
    type Target = H;
    fn deref(&self) -> &H {
        &self.hook
    }
}

/// Wraps a store and counts its calls (in `counts`).
pub type CountingStore = Wrapped<Counting>;

/// The hook of a [`CountingStore`].
#[derive(Debug, Clone, Default)]
pub struct Counting {
    /// The counts.
    pub counts: Arc<CallCounts>,
}

impl CountingStore {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Store>) -> Self {
        Wrapped {
            inner,
            hook: Counting::default(),
        }
    }
}

impl Hook for Counting {
    fn before(&self, call: StoreCall) -> Result<(), StoreError> {
        let c = &self.counts;
        let counter = match call {
            StoreCall::Load => &c.load,
            StoreCall::Create => &c.create,
            StoreCall::Save => &c.save,
            StoreCall::Touch => &c.touch,
            StoreCall::Retire => &c.retire,
            StoreCall::Delete => &c.delete,
            StoreCall::Admit => &c.admit,
            StoreCall::DeleteExpired | StoreCall::UserRecords => return Ok(()),
        };
        counter.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// Wraps a store and fails reads and/or writes while told to, with a
/// backend error whose text ("secret-backend-detail") must never reach a
/// response body.
pub type FailingStore = Wrapped<Failing>;

/// The hook of a [`FailingStore`].
#[derive(Debug, Clone, Default)]
pub struct Failing {
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
        Wrapped {
            inner,
            hook: Failing::default(),
        }
    }
}

impl Failing {
    /// Makes `load` and `user_records` fail (or succeed again).
    pub fn fail_reads(&self, on: bool) {
        self.fail_reads.store(on, Ordering::SeqCst);
    }
    /// Makes every write (`create`, `save`, `touch`, `retire`, `delete`,
    /// `delete_expired`, `admit`) fail (or succeed again).
    pub fn fail_writes(&self, on: bool) {
        self.fail_writes.store(on, Ordering::SeqCst);
    }
}

impl Hook for Failing {
    fn before(&self, call: StoreCall) -> Result<(), StoreError> {
        let flag = if call.is_read() {
            &self.fail_reads
        } else {
            &self.fail_writes
        };
        if flag.load(Ordering::SeqCst) {
            Err(StoreError::backend(Injected))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl<H: Hook> Store for Wrapped<H> {
    async fn load(&self, key: &StoreKey) -> Result<Option<Record>, StoreError> {
        self.hook.before(StoreCall::Load)?;
        self.inner.load(key).await
    }
    async fn create(&self, record: &Record) -> Result<Created, StoreError> {
        self.hook.before(StoreCall::Create)?;
        self.inner.create(record).await
    }
    async fn save(&self, record: &Record, expected: Version) -> Result<Saved, StoreError> {
        self.hook.before(StoreCall::Save)?;
        self.inner.save(record, expected).await
    }
    async fn touch(
        &self, key: &StoreKey, expected: Version, expires_at: OffsetDateTime,
    ) -> Result<Touched, StoreError> {
        self.hook.before(StoreCall::Touch)?;
        self.inner.touch(key, expected, expires_at).await
    }
    async fn retire(&self, key: &StoreKey, expected: Version) -> Result<Retired, StoreError> {
        self.hook.before(StoreCall::Retire)?;
        self.inner.retire(key, expected).await
    }
    async fn delete(&self, key: &StoreKey) -> Result<(), StoreError> {
        self.hook.before(StoreCall::Delete)?;
        self.inner.delete(key).await
    }
    async fn delete_expired(&self) -> Result<u64, StoreError> {
        self.hook.before(StoreCall::DeleteExpired)?;
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
impl<H: Hook> UserIndex for Wrapped<H> {
    async fn user_records(&self, user: &str) -> Result<Vec<Record>, StoreError> {
        self.hook.before(StoreCall::UserRecords)?;
        match self.inner.user_index() {
            Some(i) => i.user_records(user).await,
            None => Ok(Vec::new()),
        }
    }
    async fn admit(&self, login: Login<'_>) -> Result<Admission, StoreError> {
        self.hook.before(StoreCall::Admit)?;
        let index = self.inner.user_index();
        index
            .ok_or(StoreError::Malformed("the store has no user index"))?
            .admit(login)
            .await
    }
}
