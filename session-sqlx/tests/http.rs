//! The HTTP scenario suite on the three SQL stores, through a framework-free
//! test app that drives `SessionManager` directly (exactly what an adapter
//! does), so the store side of every matrix cell is checked here. The
//! store closures are the ones the framework adapters' matrix cells use.

mod common;

mod postgres {
    session_core::http_scenarios!(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        app: session_core::testing::direct::DirectApp,
        store: |namespace: String| async move {
            let url = std::env::var("DATABASE_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
            let pool = session_sqlx::sqlx::postgres::PgPoolOptions::new()
                .max_connections(4)
                .connect(&url)
                .await
                .expect("connect to PostgreSQL");
            let store = session_sqlx::PostgresStore::new(pool)
                .with_schema(&namespace)
                .expect("the namespace is a valid schema name");
            store.migrate().await.expect("migrate");
            // Test-only: label the schema so later runs can drop it.
            super::common::mark_and_sweep(&store).await;
            store
        },
    );
}

mod sqlite {
    session_core::http_scenarios!(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        app: session_core::testing::direct::DirectApp,
        store: |namespace: String| async move {
            let dir = std::env::temp_dir().join("session-sqlx-matrix");
            std::fs::create_dir_all(&dir).expect("temp dir");
            let url = format!("sqlite://{}?mode=rwc", dir.join(format!("{namespace}.db")).display());
            let store = session_sqlx::SqliteStore::connect(&url)
                .await
                .expect("open the SQLite file");
            store.migrate().await.expect("migrate");
            store
        },
    );
}

mod mysql {
    session_core::http_scenarios!(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        app: session_core::testing::direct::DirectApp,
        store: session_sqlx::testing::mysql,
    );
}
