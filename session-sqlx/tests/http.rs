//! The HTTP scenario suite on the three SQL stores, through a framework-free
//! test app that drives `SessionManager` directly (exactly what an adapter
//! does), so the store side of every matrix cell is checked here, on the
//! stores of the other tests (`common`).

mod common;

mod postgres {
    session_core::http_scenarios!(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        app: session_core::testing::direct::DirectApp,
        store: super::common::pg_store,
    );
}

mod sqlite {
    session_core::http_scenarios!(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        app: session_core::testing::direct::DirectApp,
        store: super::common::sqlite_store,
    );
}

mod mysql {
    session_core::http_scenarios!(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        app: session_core::testing::direct::DirectApp,
        store: session_sqlx::testing::mysql,
    );
}
