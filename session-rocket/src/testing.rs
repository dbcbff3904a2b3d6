//! The shared test app of `session_core::testing::http` in rocket (feature
//! `testing`): the one route table for this framework, used by the scenario
//! suite (every store), the store crates' matrix cells and
//! `xtask/reliability`.
#![allow(missing_docs, clippy::missing_errors_doc)]

use std::str::FromStr;

use crate::{Session, SessionFairing};
use async_trait::async_trait;
use rocket::http::{Header, Method, Status};
use rocket::local::asynchronous::Client as LocalClient;
use rocket::{Build, Responder, Rocket, get, post, routes};
use session_core::SessionManager;
use session_core::testing::http::{self as http_suite, Client, TestApp};

type R<T = String> = Result<T, crate::Error>;

#[get("/get/<key>")]
async fn get_key(session: Session, key: &str) -> R {
    let v: Option<serde_json::Value> = session.get(key).await?;
    Ok(serde_json::to_string(&v.unwrap_or_default()).unwrap_or_default())
}

#[post("/set/<key>", data = "<body>")]
async fn set_key(session: Session, key: &str, body: String) -> R<(Status, &'static str)> {
    let value: serde_json::Value = match serde_json::from_str(&body) {
        Ok(v) => v,
        Err(_) => return Ok((Status::BadRequest, "bad json")),
    };
    session.insert(key, value).await?;
    Ok((Status::Ok, "ok"))
}

#[post("/remove/<key>")]
async fn remove_key(session: Session, key: &str) -> R<&'static str> {
    session.remove::<serde_json::Value>(key).await?;
    Ok("ok")
}

#[post("/incr/<key>")]
async fn incr(session: Session, key: &str) -> R {
    let n = session
        .update(key, |n: Option<i64>| n.unwrap_or(0) + 1)
        .await?;
    Ok(n.to_string())
}

#[post("/regenerate")]
async fn regenerate(session: Session) -> R<&'static str> {
    session.regenerate().await?;
    Ok("ok")
}

#[post("/destroy")]
async fn destroy(session: Session) -> R<&'static str> {
    session.destroy();
    Ok("ok")
}

#[get("/id")]
async fn id(session: Session) -> R {
    Ok(session.id().await?.to_string())
}

#[post("/expiry", data = "<body>")]
async fn expiry(session: Session, body: String) -> R<(Status, &'static str)> {
    let Some(e) = http_suite::expiry_from_body(&body) else {
        return Ok((Status::BadRequest, "bad expiry"));
    };
    session.set_expiry(e).await?;
    Ok((Status::Ok, "ok"))
}

#[post("/held/<gate>/<then>")]
async fn held(session: Session, gate: &str, then: &str) -> R {
    Ok(http_suite::held(&session, gate, then).await?)
}

#[get("/untouched")]
fn untouched() -> &'static str {
    "ok"
}

#[get("/entries")]
async fn entries(session: Session) -> R {
    Ok(serde_json::Value::Object(session.entries().await?).to_string())
}

/// `ok` with the handler's own `Set-Cookie` header.
#[derive(Responder)]
struct WithCookie {
    body: &'static str,
    cookie: Header<'static>,
}

#[post("/with-cookie/<key>")]
async fn with_cookie(session: Session, key: &str) -> R<WithCookie> {
    session.insert(key, true).await?;
    Ok(WithCookie {
        body: "ok",
        cookie: Header::new("Set-Cookie", "app=1; Path=/"),
    })
}

/// A quiet Rocket (no logging).
pub fn quiet() -> Rocket<Build> {
    let figment = rocket::Config::figment()
        .merge(("log_level", "off"))
        .merge(("cli_colors", false));
    rocket::custom(figment)
}

#[post("/login/<user>")]
async fn login(session: Session, user: &str) -> R<&'static str> {
    session.regenerate().await?;
    session.set_user(user).await?;
    session.insert("user", user).await?;
    Ok("ok")
}

#[get("/devices")]
async fn devices(session: Session) -> R {
    let list: Vec<serde_json::Value> = session
        .devices()
        .await?
        .into_iter()
        .map(|d| serde_json::json!({"handle": d.handle, "current": d.current}))
        .collect();
    Ok(serde_json::Value::Array(list).to_string())
}

#[post("/revoke-others")]
async fn revoke_others(session: Session) -> R {
    Ok(session.revoke_others().await?.to_string())
}

#[post("/revoke/<handle>")]
async fn revoke(session: Session, handle: &str) -> R {
    Ok(session.revoke(handle).await?.to_string())
}

/// The test app's routes, mounted on a quiet Rocket, without the fairing.
pub fn routes() -> Rocket<Build> {
    quiet().mount("/", route_list())
}

/// The test app's route table, to mount on a Rocket of one's own.
pub fn route_list() -> Vec<rocket::Route> {
    routes![
        get_key,
        set_key,
        remove_key,
        incr,
        regenerate,
        destroy,
        id,
        expiry,
        untouched,
        entries,
        with_cookie,
        login,
        devices,
        revoke_others,
        revoke,
        held
    ]
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
