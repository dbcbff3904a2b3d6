//! The shared test app of `session_core::testing::http` in rocket (feature
//! `testing`): the fairing around two catch-all routes (GET and POST) that
//! call the core's route table; used by the scenario suite (every store),
//! the store crates' matrix cells and `xtask/reliability`.
#![allow(missing_docs, clippy::missing_errors_doc)]

use std::str::FromStr;

use std::io::Cursor;

use crate::{Error, Session, SessionFairing};
use async_trait::async_trait;
use rocket::http::uri::Origin;
use rocket::http::{Header, Method, Status};
use rocket::local::asynchronous::Client as LocalClient;
use rocket::response::{self, Responder, Response};
use rocket::{Build, Request, Rocket, get, post, routes};
use session_core::SessionManager;
use session_core::testing::http::{self as http_suite, Client, TestApp};

/// The shared route table's response, as a Rocket response.
struct Reply(http::Response<Vec<u8>>);

impl<'r> Responder<'r, 'static> for Reply {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        let (parts, body) = self.0.into_parts();
        let mut out = Response::build();
        out.status(Status::new(parts.status.as_u16()));
        for (name, value) in &parts.headers {
            if let Ok(value) = value.to_str() {
                out.raw_header_adjoin(name.as_str().to_owned(), value.to_owned());
            }
        }
        out.sized_body(body.len(), Cursor::new(body)).ok()
    }
}

/// Every request: the shared route table, with this adapter's session and
/// its error type (so a handler error takes Rocket's `Responder` path).
async fn app(
    session: &Session, method: http::Method, uri: &Origin<'_>, body: &[u8],
) -> Result<Reply, Error> {
    Ok(Reply(
        http_suite::route(session, &method, uri.path().as_str(), body).await?,
    ))
}

#[get("/<_..>")]
async fn get_any(session: Session, uri: &Origin<'_>) -> Result<Reply, Error> {
    app(&session, http::Method::GET, uri, &[]).await
}

#[post("/<_..>", data = "<body>")]
async fn post_any(session: Session, uri: &Origin<'_>, body: Vec<u8>) -> Result<Reply, Error> {
    app(&session, http::Method::POST, uri, &body).await
}

/// A quiet Rocket (no logging).
pub fn quiet() -> Rocket<Build> {
    let figment = rocket::Config::figment()
        .merge(("log_level", "off"))
        .merge(("cli_colors", false));
    rocket::custom(figment)
}

/// The test app's routes, mounted on a quiet Rocket, without the fairing.
pub fn routes() -> Rocket<Build> {
    quiet().mount("/", route_list())
}

/// The test app's route table (two catch-alls, GET and POST), to mount on
/// a Rocket of one's own.
pub fn route_list() -> Vec<rocket::Route> {
    routes![get_any, post_any]
}

/// The Rocket test app factory.
#[derive(Debug, Clone, Copy)]
pub struct RocketApp;

/// The scenario client over Rocket's local client. Untracked: the scenario
/// suite manages cookies itself.
pub struct RocketClient(pub LocalClient);

impl std::fmt::Debug for RocketClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RocketClient")
    }
}

/// Converts an `http` request to a local Rocket request, dispatches it and
/// converts the response back. Header values that are not UTF-8 are
/// dropped, as Rocket's own server does (`Request::from_hyp`: "Rocket only
/// supports UTF-8 header values. Dropping header.").
#[async_trait(?Send)]
impl Client for RocketClient {
    async fn send(&self, request: http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
        let (parts, body) = request.into_parts();
        let method = Method::from_str(parts.method.as_str())
            .unwrap_or_else(|()| panic!("method {}", parts.method));
        let uri = parts
            .uri
            .path_and_query()
            .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned());
        let mut req = self.0.req(method, uri);
        for (name, value) in &parts.headers {
            if let Ok(value) = std::str::from_utf8(value.as_bytes()) {
                req.add_header(Header::new(name.as_str().to_owned(), value.to_owned()));
            }
        }
        req.set_body(body);
        let res = req.dispatch().await;
        let mut out = http::Response::builder().status(res.status().code);
        for h in res.headers().iter() {
            out = out.header(h.name().as_str(), h.value());
        }
        let body = res.into_bytes().await.unwrap_or_default();
        out.body(body).unwrap_or_else(|e| panic!("response: {e}"))
    }
}

#[async_trait(?Send)]
impl TestApp for RocketApp {
    async fn client(&self, manager: SessionManager) -> Box<dyn Client> {
        let rocket = routes().attach(SessionFairing::from_manager(manager));
        let client = LocalClient::untracked(rocket)
            .await
            .unwrap_or_else(|e| panic!("rocket failed to ignite: {e}"));
        Box::new(RocketClient(client))
    }
}
