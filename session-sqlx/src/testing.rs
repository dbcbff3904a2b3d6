//! Isolated, migrated stores for test suites (feature `testing`): each call
//! gets its own schema (Postgres), database (MySQL) or file (SQLite), named after the
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
        .await;
    let pool = setup(pool, || format!("connect to PostgreSQL at {url}"));
    let store = setup(
        crate::PostgresStore::new(pool).with_schema(&namespace),
        || format!("schema name {namespace:?}"),
    );
    setup(store.migrate().await, || "migrate".to_owned());
    store
}

/// The value of a test-setup step, or a panic naming the step.
#[cfg(any(feature = "postgres", feature = "sqlite", feature = "mysql"))]
fn setup<T, E: std::fmt::Display>(r: Result<T, E>, step: impl FnOnce() -> String) -> T {
    r.unwrap_or_else(|e| panic!("{}: {e}", step()))
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
    let store = setup(crate::SqliteStore::connect(&url).await, || {
        format!("open {url}")
    });
    setup(store.migrate().await, || "migrate".to_owned());
    store
}

/// `MYSQL_URL`, or the local test server
/// (`mysql://root@127.0.0.1:3306/test`).
///
/// ```
/// assert!(session_sqlx::testing::mysql_url().starts_with("mysql://"));
/// ```
#[cfg(feature = "mysql")]
pub fn mysql_url() -> String {
    std::env::var("MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".to_owned())
}

/// A `MySqlStore` in its own database `namespace`, migrated, on
/// [`mysql_url`], with a pool of at most 9 connections (one for each of
/// the conformance suite's 8 racing logins and one more). Once per process
/// it drops the test databases (`sc_*`) whose tables are more than an hour
/// old, so the server does not fill up with them.
///
/// # Panics
///
/// When MySQL is unreachable or the namespace is not a valid database
/// name: this is test setup.
///
/// ```no_run
/// # async fn run() {
/// let store = session_sqlx::testing::mysql("sc_example_0123".to_owned()).await;
/// assert_eq!(store.database(), Some("sc_example_0123"));
/// # }
/// ```
#[cfg(feature = "mysql")]
pub async fn mysql(namespace: String) -> crate::MySqlStore {
    let url = mysql_url();
    let pool = sqlx::mysql::MySqlPoolOptions::new()
        .max_connections(9)
        .connect(&url)
        .await;
    let pool = setup(pool, || format!("connect to MySQL at {url}"));
    sweep_old_mysql_databases(&pool).await;
    let store = setup(
        crate::MySqlStore::new(pool).with_database(&namespace),
        || format!("database name {namespace:?}"),
    );
    setup(store.migrate().await, || "migrate".to_owned());
    store
}

/// Drops (once per process, best effort) the `sc_*` databases whose
/// newest table was created more than an hour ago.
#[cfg(feature = "mysql")]
async fn sweep_old_mysql_databases(pool: &sqlx::MySqlPool) {
    use std::sync::atomic::{AtomicBool, Ordering};
    static SWEPT: AtomicBool = AtomicBool::new(false);
    if SWEPT.swap(true, Ordering::SeqCst) {
        return;
    }
    let old: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(table_schema AS CHAR) FROM information_schema.tables \
         WHERE table_schema LIKE 'sc\\_%' GROUP BY table_schema \
         HAVING MAX(create_time) < NOW() - INTERVAL 1 HOUR",
    )
    .fetch_all(pool)
    .await
    .unwrap_or_default();
    for db in old {
        if crate::name::database(&db).is_ok() {
            let _ = sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS `{db}`"))
                .execute(pool)
                .await;
        }
    }
}
