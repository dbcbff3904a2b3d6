//! The HTTP scenario suite against actix-web, one module per store named
//! `cell_<store>`: the actix row of `cargo xtask test-matrix`. Redis and
//! PostgreSQL come from `REDIS_URL` / `DATABASE_URL`, else the local
//! defaults; every case gets its own key prefix, schema or file.

use session_actix::testing::ActixApp;

mod cell_memory {
    use super::*;
    use session_core::MemoryStore;

    session_core::http_scenarios!(#[actix_web::test] app: ActixApp, store: |_ns: String| async move { MemoryStore::new() });
}

mod cell_redis {
    use super::*;

    session_core::http_scenarios!(#[actix_web::test] app: ActixApp, store: session_redis::testing::store);
}

mod cell_postgres {
    use super::*;

    session_core::http_scenarios!(#[actix_web::test] app: ActixApp, store: session_sqlx::testing::postgres);
}

mod cell_sqlite {
    use super::*;

    session_core::http_scenarios!(#[actix_web::test] app: ActixApp, store: session_sqlx::testing::sqlite);
}
