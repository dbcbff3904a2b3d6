//! The five stores of the matrix, each isolated by a fresh namespace.

use std::sync::Arc;

use session_core::{MemoryStore, SessionId, Store};

/// The stores of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StoreKind {
    Memory,
    Redis,
    Postgres,
    Sqlite,
    Mysql,
}

impl StoreKind {
    pub(crate) const ALL: [StoreKind; 5] = [
        StoreKind::Memory,
        StoreKind::Redis,
        StoreKind::Postgres,
        StoreKind::Sqlite,
        StoreKind::Mysql,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            StoreKind::Memory => "memory",
            StoreKind::Redis => "redis",
            StoreKind::Postgres => "postgres",
            StoreKind::Sqlite => "sqlite",
            StoreKind::Mysql => "mysql",
        }
    }

    /// A fresh, isolated store (the same builders the test matrix uses).
    pub(crate) async fn build(self, case: &str) -> Arc<dyn Store> {
        let ns = session_core::testing::namespace(case);
        match self {
            StoreKind::Memory => Arc::new(MemoryStore::new()),
            StoreKind::Redis => Arc::new(session_redis::testing::store(ns).await),
            StoreKind::Postgres => Arc::new(session_sqlx::testing::postgres(ns).await),
            StoreKind::Sqlite => Arc::new(session_sqlx::testing::sqlite(ns).await),
            StoreKind::Mysql => Arc::new(session_sqlx::testing::mysql(ns).await),
        }
    }
}

/// Whether the store holds a live record for the session id `id_text`
/// (ids are hashed at rest, the default).
pub(crate) async fn has_record(store: &dyn Store, id_text: &str) -> Result<bool, String> {
    let id = SessionId::parse(id_text.trim()).map_err(|e| format!("id {id_text:?}: {e}"))?;
    store
        .load(&id.hashed_key())
        .await
        .map(|r| r.is_some())
        .map_err(|e| e.to_string())
}
