//! The shared test app of `session_core::testing::http` in actix (feature
//! `testing`): the one route table for this framework, used by the scenario
//! suite (every store), the store crates' matrix cells and
//! `xtask/reliability`.
#![allow(missing_docs, clippy::missing_errors_doc)]

use crate::{Session, SessionMiddleware};
use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::header;
use actix_web::{App, HttpResponse, test, web};
use async_trait::async_trait;
use session_core::SessionManager;
use session_core::testing::http::{self as http_suite, Client, TestApp};

type R = Result<HttpResponse, crate::Error>;

fn ok() -> HttpResponse {
    HttpResponse::Ok().body("ok")
}

async fn get_key(session: Session, key: web::Path<String>) -> R {
    let v: Option<serde_json::Value> = session.get(&key).await?;
    Ok(HttpResponse::Ok().body(serde_json::to_string(&v.unwrap_or_default()).unwrap_or_default()))
}

async fn set_key(session: Session, key: web::Path<String>, body: String) -> R {
    let value: serde_json::Value = match serde_json::from_str(&body) {
        Ok(v) => v,
        Err(_) => return Ok(HttpResponse::BadRequest().body("bad json")),
    };
    session.insert(&key, value).await?;
    Ok(ok())
}

async fn remove_key(session: Session, key: web::Path<String>) -> R {
    session.remove::<serde_json::Value>(&key).await?;
    Ok(ok())
}

async fn incr(session: Session, key: web::Path<String>) -> R {
    let n = session
        .update(&key, |n: Option<i64>| n.unwrap_or(0) + 1)
        .await?;
    Ok(HttpResponse::Ok().body(n.to_string()))
}

async fn regenerate(session: Session) -> R {
    session.regenerate().await?;
    Ok(ok())
}

async fn destroy(session: Session) -> R {
    session.destroy();
    Ok(ok())
}

async fn id(session: Session) -> R {
    Ok(HttpResponse::Ok().body(session.id().await?.to_string()))
}

async fn expiry(session: Session, body: String) -> R {
    let Some(e) = http_suite::expiry_from_body(&body) else {
        return Ok(HttpResponse::BadRequest().body("bad expiry"));
    };
    session.set_expiry(e).await?;
    Ok(ok())
}

async fn held(session: Session, path: web::Path<(String, String)>) -> R {
    let (gate, then) = path.into_inner();
    Ok(HttpResponse::Ok().body(http_suite::held(&session, &gate, &then).await?))
}

async fn entries(session: Session) -> R {
    Ok(HttpResponse::Ok().body(serde_json::Value::Object(session.entries().await?).to_string()))
}

async fn with_cookie(session: Session, key: web::Path<String>) -> R {
    session.insert(&key, true).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::SET_COOKIE, "app=1; Path=/"))
        .body("ok"))
}

async fn login(session: Session, user: web::Path<String>) -> R {
    session.regenerate().await?;
    session.set_user(user.as_str()).await?;
    session.insert("user", user.as_str()).await?;
    Ok(ok())
}

async fn devices(session: Session) -> R {
    let list: Vec<serde_json::Value> = session
        .devices()
        .await?
        .into_iter()
        .map(|d| serde_json::json!({"handle": d.handle, "current": d.current}))
        .collect();
    Ok(HttpResponse::Ok().body(serde_json::Value::Array(list).to_string()))
}

async fn revoke_others(session: Session) -> R {
    Ok(HttpResponse::Ok().body(session.revoke_others().await?.to_string()))
}

async fn revoke(session: Session, handle: web::Path<String>) -> R {
    Ok(HttpResponse::Ok().body(session.revoke(&handle).await?.to_string()))
}

/// The test app's routes, without the middleware.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/get/{key}", web::get().to(get_key))
        .route("/set/{key}", web::post().to(set_key))
        .route("/remove/{key}", web::post().to(remove_key))
        .route("/incr/{key}", web::post().to(incr))
        .route("/regenerate", web::post().to(regenerate))
        .route("/destroy", web::post().to(destroy))
        .route("/id", web::get().to(id))
        .route("/expiry", web::post().to(expiry))
        .route("/untouched", web::get().to(|| async { "ok" }))
        .route("/entries", web::get().to(entries))
        .route("/with-cookie/{key}", web::post().to(with_cookie))
        .route("/login/{user}", web::post().to(login))
        .route("/devices", web::get().to(devices))
        .route("/revoke-others", web::post().to(revoke_others))
        .route("/revoke/{handle}", web::post().to(revoke))
        .route("/held/{gate}/{then}", web::post().to(held));
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
pub async fn from_actix<B: MessageBody>(res: ServiceResponse<B>) -> http::Response<Vec<u8>> {
    let mut out = http::Response::builder().status(res.status().as_u16());
    for (name, value) in res.headers() {
        out = out.header(name.as_str(), value.as_bytes());
    }
    let body = test::read_body(res).await;
    out.body(body.to_vec())
        .unwrap_or_else(|e| panic!("response: {e}"))
}

#[async_trait(?Send)]
impl<S, B> Client for ActixClient<S>
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    async fn send(&self, request: http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
        match self.0.call(to_actix(request)).await {
            Ok(res) => from_actix(res).await,
            Err(e) => {
                let res = e.error_response();
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
