//! `SessionService`: the middleware service behind [`SessionLayer`](crate::SessionLayer).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::OriginalUri;
use axum::response::{IntoResponse, Response};
use http::Request;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue, VARY};
use session_core::adapter::{RequestMeta, ResponseParts, ResponseVerdict, SessionManager};
use tower_service::Service;

/// The service [`SessionLayer`](crate::SessionLayer) wraps around the inner
/// service.
#[derive(Debug, Clone)]
pub struct SessionService<S> {
    inner: S,
    manager: SessionManager,
}

impl<S> SessionService<S> {
    pub(crate) fn new(inner: S, manager: SessionManager) -> Self {
        Self { inner, manager }
    }
}

const X_FORWARDED_PROTO: &str = "x-forwarded-proto";

/// A plain response from the core (the failure response, or a handler
/// error's status and body) as an axum response.
pub(crate) fn plain(p: session_core::adapter::PlainResponse) -> Response {
    let mut res = (p.status, p.body.into_owned()).into_response();
    res.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static(session_core::adapter::PlainResponse::CONTENT_TYPE),
    );
    res
}

impl<S, B> Service<Request<B>> for SessionService<S>
where
    S: Service<Request<B>, Response = Response, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send + 'static>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let manager = self.manager.clone();
        let session = {
            let headers = req.headers();
            // A tower layer cannot see the connection, and the
            // request-target's scheme is the client's choice: an app that
            // terminates TLS in process says so with `tls_connections`.
            // The path the client sent: a router that nests this layer
            // strips its prefix from the URI and keeps the original in
            // `OriginalUri`.
            let path = req
                .extensions()
                .get::<OriginalUri>()
                .map_or_else(|| req.uri().path(), |o| o.0.path());
            let meta = RequestMeta {
                https: false,
                forwarded_proto: headers.get(X_FORWARDED_PROTO).map(HeaderValue::as_bytes),
                path: Some(path),
            };
            let values = headers
                .get_all(manager.request_header())
                .iter()
                .map(HeaderValue::as_bytes);
            manager.start(values, meta)
        };
        // A cheap clone (shared bytes), not a copy of the path.
        let uri = req.uri().clone();
        req.extensions_mut().insert(session.clone());
        // Everything before the handler is synchronous, so the service that
        // was polled ready is called right here: no clone of the inner
        // service per request.
        let response = self.inner.call(req);
        Box::pin(async move {
            let Ok(mut res) = response.await;
            let parts = ResponseParts {
                status: res.status(),
                path: uri.path(),
                cache_control: res.headers().get(CACHE_CONTROL),
                vary: res.headers().get(VARY),
            };
            match manager.respond(&session, parts).await {
                ResponseVerdict::Unchanged => {}
                ResponseVerdict::Headers(edits) => {
                    for edit in edits {
                        edit.apply(res.headers_mut());
                    }
                }
                ResponseVerdict::Replace(p) => return Ok(plain(p)),
            }
            Ok(res)
        })
    }
}
