//! The shared test app of `session_core::testing::http` in axum (feature
//! `testing`): the layer around one catch-all route that calls the core's
//! route table; used by the scenario suite (every store), the store crates'
//! matrix cells and `xtask/reliability`.
#![allow(missing_docs, clippy::missing_errors_doc)]

use crate::{Error, Session, SessionLayer};
use async_trait::async_trait;
use axum::Router;
use axum::body::{Body, Bytes, to_bytes};
use axum::http::{Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use session_core::SessionManager;
use session_core::testing::http::{self as http_suite, Client, TestApp};
use tower::ServiceExt;

/// Every request: the shared route table, with this adapter's session and
/// its error type (so a handler error takes axum's `IntoResponse` path).
async fn app(session: Session, method: Method, uri: Uri, body: Bytes) -> Result<Response, Error> {
    let res = http_suite::route(&session, &method, uri.path(), &body).await?;
    Ok(res.map(Body::from).into_response())
}

/// The test app's routes (one catch-all), without the layer.
pub fn routes() -> Router {
    Router::new().fallback(app)
}

/// The counter routes of `cargo xtask bench` and of the in-process
/// overhead bench, with a [`Session`] (add the layer): `/read` reads `n`,
/// `/incr` increments it, `/new` starts a session holding `n = 0`. The
/// bench's peer servers answer the same routes the same way.
pub fn bench_routes() -> Router {
    session_core::bench_handlers!(Session, Error);
    Router::new()
        .route("/read", get(read))
        .route("/incr", get(incr))
        .route("/new", get(new))
}

/// The same routes with fixed answers and no session: the baseline the
/// benches subtract.
pub fn bare_bench_routes() -> Router {
    Router::new()
        .route("/read", get(|| async { "n=0" }))
        .route("/incr", get(|| async { "n=1" }))
        .route("/new", get(|| async { "new" }))
}

/// The axum test app factory.
#[derive(Debug, Clone, Copy)]
pub struct AxumApp;

struct AxumClient(Router);

#[async_trait(?Send)]
impl Client for AxumClient {
    async fn send(&self, request: http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
        let res = self
            .0
            .clone()
            .oneshot(request.map(Body::from))
            .await
            .unwrap_or_else(|e| match e {});
        let (parts, body) = res.into_parts();
        let bytes = to_bytes(body, usize::MAX).await.unwrap_or_default();
        http::Response::from_parts(parts, bytes.to_vec())
    }
}

#[async_trait(?Send)]
impl TestApp for AxumApp {
    async fn client(&self, manager: SessionManager) -> Box<dyn Client> {
        Box::new(AxumClient(
            routes().layer(SessionLayer::from_manager(manager)),
        ))
    }
}
