//! The shared test app of `session_core::testing::http` in actix (feature
//! `testing`): the middleware around one catch-all route that calls the
//! core's route table; used by the scenario suite (every store), the store
//! crates' matrix cells and `xtask/reliability`.
#![allow(missing_docs, clippy::missing_errors_doc)]

use crate::{Error, Session, SessionMiddleware};
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::{App, HttpRequest, HttpResponse, test, web};
use async_trait::async_trait;
use session_core::SessionManager;
use session_core::testing::http::{self as http_suite, Client, TestApp};

/// The counter routes of `cargo xtask bench`, with a [`Session`] (wrap the
/// middleware around them): `/read` reads `n`, `/incr` increments it,
/// `/new` starts a session holding `n = 0`; for `App::configure`.
pub fn bench_routes(cfg: &mut web::ServiceConfig) {
    session_core::bench_handlers!(Session, Error);
    cfg.route("/read", web::get().to(read))
        .route("/incr", web::get().to(incr))
        .route("/new", web::get().to(new));
}

/// Every request: the shared route table, with this adapter's session and
/// its error type (so a handler error takes actix's `ResponseError` path).
async fn app(session: Session, req: HttpRequest, body: web::Bytes) -> Result<HttpResponse, Error> {
    let method = http::Method::from_bytes(req.method().as_str().as_bytes()).unwrap_or_default();
    let res = http_suite::route(&session, &method, req.path(), &body).await?;
    let status = StatusCode::from_u16(res.status().as_u16()).unwrap_or(StatusCode::OK);
    let mut out = HttpResponse::build(status);
    for (name, value) in res.headers() {
        out.append_header((name.as_str(), value.as_bytes()));
    }
    Ok(out.body(res.into_body()))
}

/// The test app's routes (one catch-all), without the middleware.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.default_service(web::to(app));
}

/// The actix-web test app factory.
#[derive(Debug, Clone, Copy)]
pub struct ActixApp;

struct ActixClient<S>(S);

/// Converts a scenario request (`http` 1.x) to an actix test request
/// (`http` 0.2 inside), by bytes.
pub fn to_actix(request: http::Request<Vec<u8>>) -> actix_http::Request {
    let (parts, body) = request.into_parts();
    let method = actix_web::http::Method::from_bytes(parts.method.as_str().as_bytes())
        .unwrap_or_else(|e| panic!("method: {e}"));
    let mut req = test::TestRequest::default()
        .method(method)
        .uri(&parts.uri.to_string());
    for (name, value) in &parts.headers {
        let name = header::HeaderName::from_bytes(name.as_str().as_bytes())
            .unwrap_or_else(|e| panic!("header name: {e}"));
        let value = header::HeaderValue::from_bytes(value.as_bytes())
            .unwrap_or_else(|e| panic!("header value: {e}"));
        req = req.append_header((name, value));
    }
    req.set_payload(body).to_request()
}

/// Converts an actix response to a scenario response, reading the body.
pub async fn from_actix<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> http::Response<Vec<u8>> {
    from_http_response(res.into_parts().1.map_into_boxed_body()).await
}

async fn from_http_response(res: HttpResponse<BoxBody>) -> http::Response<Vec<u8>> {
    let mut out = http::Response::builder().status(res.status().as_u16());
    for (name, value) in res.headers() {
        out = out.header(name.as_str(), value.as_bytes());
    }
    let body = actix_web::body::to_bytes(res.into_body())
        .await
        .unwrap_or_default();
    out.body(body.to_vec())
        .unwrap_or_else(|e| panic!("response: {e}"))
}

#[async_trait(?Send)]
impl<S, B> Client for ActixClient<S>
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody + 'static,
{
    async fn send(&self, request: http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
        match self.0.call(to_actix(request)).await {
            Ok(res) => from_actix(res).await,
            Err(e) => from_http_response(e.error_response()).await,
        }
    }
}

#[async_trait(?Send)]
impl TestApp for ActixApp {
    async fn client(&self, manager: SessionManager) -> Box<dyn Client> {
        let app = test::init_service(
            App::new()
                .wrap(SessionMiddleware::from_manager(manager))
                .configure(routes),
        )
        .await;
        Box::new(ActixClient(app))
    }
}
