//! The session-core HTTP scenario suite with `RedisStore`, through a
//! framework-free test app that calls `SessionManager` directly (what every
//! adapter does), so the store is checked against every scenario without
//! depending on an adapter. The adapters run the same suite with this store
//! in their own `cell_redis` modules.

use session_core::testing::direct::DirectApp;
use session_redis::RedisStore;

session_core::http_scenarios!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    app: DirectApp,
    store: |namespace: String| async move {
        let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
        RedisStore::connect(&url).await.unwrap().with_prefix(namespace)
    },
);
