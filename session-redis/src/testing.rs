//! Stores isolated by key prefix, for test suites (feature `testing`).

/// A `RedisStore` on `REDIS_URL` (default `redis://127.0.0.1:6379`) whose
/// keys all start with `namespace` (as handed out by
/// `session_core::testing::namespace`), so tests run in parallel and rerun
/// cleanly.
///
/// # Panics
///
/// When Redis is unreachable: this is test setup.
pub async fn store(namespace: String) -> crate::RedisStore {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    crate::RedisStore::connect(url.as_str())
        .await
        .unwrap_or_else(|e| panic!("connect to Redis at {url}: {e}"))
        .with_prefix(format!("{namespace}:"))
}
