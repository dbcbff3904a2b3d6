//! The store conformance suite against `MemoryStore`.

use session_core::MemoryStore;

session_core::store_conformance_tests!(|_namespace: String| async move { MemoryStore::new() });
