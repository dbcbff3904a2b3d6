//! Isolated, migrated stores for test suites (feature `testing`): each call
//! gets its own schema (Postgres) or file (SQLite), named after the
//! namespace the suites hand out (`session_core::testing::namespace`).

/// A `PostgresStore` in its own schema `namespace`, migrated, on
/// `DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`), with a
/// pool of at most 4 connections.
///
/// # Panics
///
/// When PostgreSQL is unreachable or the namespace is not a valid schema
/// name: this is test setup.
#[cfg(feature = "postgres")]
pub async fn postgres(namespace: String) -> crate::PostgresStore {
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        .connect(&url)
        .await
        .unwrap_or_else(|e| panic!("connect to PostgreSQL at {url}: {e}"));
    let store = crate::PostgresStore::new(pool)
        .with_schema(&namespace)
        .unwrap_or_else(|e| panic!("schema name {namespace:?}: {e}"));
    store
        .migrate()
        .await
        .unwrap_or_else(|e| panic!("migrate: {e}"));
    store
}

/// A `SqliteStore` on its own file `<tmp>/session-sqlx-matrix/<namespace>.db`,
/// migrated.
///
/// # Panics
///
/// When the file cannot be created: this is test setup.
#[cfg(feature = "sqlite")]
pub async fn sqlite(namespace: String) -> crate::SqliteStore {
    let dir = std::env::temp_dir().join("session-sqlx-matrix");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.join(format!("{namespace}.db")).display()
    );
    let store = crate::SqliteStore::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("open {url}: {e}"));
    store
        .migrate()
        .await
        .unwrap_or_else(|e| panic!("migrate: {e}"));
    store
}
