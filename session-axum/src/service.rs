//! `SessionService`: the middleware service behind [`SessionLayer`](crate::SessionLayer).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::response::{IntoResponse, Response};
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Request, uri::Scheme};
use session_core::{RequestMeta, SessionManager};
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

/// The configured failure response (503 by default), with no store
/// internals.
pub(crate) fn failure_response(manager: &SessionManager) -> Response {
    let failure = manager.config().failure_response();
    let mut res = (failure.status, failure.body.to_string()).into_response();
    res.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
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
            let meta = RequestMeta {
                https: req.uri().scheme() == Some(&Scheme::HTTPS),
                forwarded_proto: headers.get(X_FORWARDED_PROTO).map(HeaderValue::as_bytes),
            };
            let values = headers
                .get_all(manager.request_header())
                .iter()
                .map(HeaderValue::as_bytes);
            manager.start(values, meta)
        };
        req.extensions_mut().insert(session.clone());
        // Everything before the handler is synchronous, so the service that
        // was polled ready is called right here: no clone of the inner
        // service per request.
        let response = self.inner.call(req);
        Box::pin(async move {
            let Ok(mut res) = response.await;
            if session.store_failed() {
                return Ok(failure_response(&manager));
            }
            match manager.finish(&session).await {
                Ok(None) => {}
                Ok(Some(header)) => match HeaderValue::try_from(header.value) {
                    Ok(value) => {
                        res.headers_mut().append(header.name, value);
                    }
                    Err(e) => {
                        tracing::error!(target: "session", error = %e, "session header value is not a valid header");
                        return Ok(failure_response(&manager));
                    }
                },
                Err(e) => {
                    tracing::error!(target: "session", error = &e as &dyn std::error::Error, "session could not be saved");
                    return Ok(failure_response(&manager));
                }
            }
            Ok(res)
        })
    }
}
