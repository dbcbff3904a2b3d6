//! The HTTP scenario suite against Rocket, one module per store.

use session_rocket::testing::RocketApp;

mod cell_memory {
    use super::*;
    use session_core::MemoryStore;

    session_core::http_scenarios!(#[tokio::test] app: RocketApp, store: |_namespace: String| async move { MemoryStore::new() });
}

mod cell_redis {
    use super::*;

    session_core::http_scenarios!(#[tokio::test] app: RocketApp, store: session_redis::testing::store);
}

mod cell_postgres {
    use super::*;

    session_core::http_scenarios!(#[tokio::test] app: RocketApp, store: session_sqlx::testing::postgres);
}

mod cell_sqlite {
    use super::*;

    session_core::http_scenarios!(#[tokio::test] app: RocketApp, store: session_sqlx::testing::sqlite);
}
