//! The HTTP scenario suite against axum, one module per store: the axum
//! row of `cargo xtask test-matrix`.

use session_axum::testing::AxumApp;

mod cell_memory {
    use super::*;
    use session_core::MemoryStore;

    session_core::http_scenarios!(#[tokio::test] app: AxumApp, store: |_namespace: String| async move { MemoryStore::new() });
}

mod cell_redis {
    use super::*;

    session_core::http_scenarios!(#[tokio::test] app: AxumApp, store: session_redis::testing::store);
}

mod cell_postgres {
    use super::*;

    session_core::http_scenarios!(#[tokio::test] app: AxumApp, store: session_sqlx::testing::postgres);
}

mod cell_sqlite {
    use super::*;

    session_core::http_scenarios!(#[tokio::test] app: AxumApp, store: session_sqlx::testing::sqlite);
}
