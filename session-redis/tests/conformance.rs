//! The session-core store conformance suite against one Redis server
//! (`REDIS_URL`, default `redis://127.0.0.1:6379`), one key prefix per case.
//! The closure is the one the HTTP matrix uses to build an isolated store.
//!
//! No known failures: every case of the suite passes.

use session_redis::RedisStore;

session_core::store_conformance_tests!(|namespace: String| async move {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    RedisStore::connect(&url)
        .await
        .expect("connect to REDIS_URL")
        .with_prefix(namespace)
});
