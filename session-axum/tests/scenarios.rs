//! The HTTP scenario suite against axum, one module `cell_<store>` per
//! store: the axum row of `cargo xtask test-matrix`. Redis and PostgreSQL
//! come from `REDIS_URL` / `DATABASE_URL`, else the local defaults; every
//! case gets its own key prefix, schema or file.

session_core::http_scenario_cells!(#[tokio::test] app: session_axum::testing::AxumApp);

/// `tls_connections(true)` (an app terminating TLS in process) reaches
/// this adapter: `Secure::Auto` then gives `Secure`.
#[tokio::test]
async fn tls_connections_give_secure() {
    session_core::testing::http::tls_connections_give_secure(&session_axum::testing::AxumApp).await;
}
