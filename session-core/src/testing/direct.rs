//! [`DirectApp`]: the reference adapter. It drives [`SessionManager`] with
//! `http` types exactly as a framework adapter must (`start` before the
//! handler, `respond` after it, [`error_response`] for a handler's error),
//! so it is the executable spec for a fourth adapter, and it lets a store
//! crate check its store against every scenario without depending on a
//! framework (the adapters run the same suite in their matrix cells).

use async_trait::async_trait;
use http::{HeaderValue, Request, Response, header};

use super::http::{Client, TestApp, route};
use crate::adapter::{PlainResponse, ResponseParts, ResponseVerdict, error_response};
use crate::{RequestMeta, SessionManager};

/// The framework-free test app (see [`super::http`] for its routes).
///
/// ```ignore
/// session_core::http_scenarios!(
///     #[tokio::test]
///     app: session_core::testing::direct::DirectApp,
///     store: |namespace: String| async move { MyStore::new(namespace) },
/// );
/// ```
#[derive(Debug, Clone, Copy)]
pub struct DirectApp;

struct DirectClient(SessionManager);

fn plain(p: PlainResponse) -> Response<Vec<u8>> {
    let mut res = Response::new(p.body.into_owned().into_bytes());
    *res.status_mut() = p.status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(PlainResponse::CONTENT_TYPE),
    );
    res
}

#[async_trait(?Send)]
impl Client for DirectClient {
    async fn send(&self, request: Request<Vec<u8>>) -> Response<Vec<u8>> {
        let m = &self.0;
        let session = m.start(
            request
                .headers()
                .get_all(m.request_header())
                .iter()
                .map(HeaderValue::as_bytes),
            RequestMeta {
                // An in-process client has no TLS connection; the
                // request-target's scheme is the client's choice.
                https: false,
                forwarded_proto: request
                    .headers()
                    .get("x-forwarded-proto")
                    .map(HeaderValue::as_bytes),
                path: Some(request.uri().path()),
            },
        );
        let path = request.uri().path().to_owned();
        let mut res = match route(&session, request.method(), &path, request.body()).await {
            Ok(res) => res,
            Err(e) => plain(error_response(&e)),
        };
        let parts = ResponseParts {
            status: res.status(),
            path: &path,
            cache_control: res.headers().get(header::CACHE_CONTROL),
            vary: res.headers().get(header::VARY),
        };
        match m.respond(&session, parts).await {
            ResponseVerdict::Unchanged => res,
            ResponseVerdict::Headers(edits) => {
                for edit in edits {
                    edit.apply(res.headers_mut());
                }
                res
            }
            ResponseVerdict::Replace(p) => plain(p),
        }
    }
}

#[async_trait(?Send)]
impl TestApp for DirectApp {
    async fn client(&self, manager: SessionManager) -> Box<dyn Client> {
        Box::new(DirectClient(manager))
    }
}
