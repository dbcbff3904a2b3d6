//! The shared test app of `session_core::testing::http` in axum (feature
//! `testing`): the one route table for this framework, used by the scenario
//! suite (every store), the store crates' matrix cells and
//! `xtask/reliability`.
#![allow(missing_docs, clippy::missing_errors_doc)]

use crate::{Session, SessionLayer};
use async_trait::async_trait;
use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use session_core::SessionManager;
use session_core::testing::http::{self as http_suite, Client, TestApp};
use tower::ServiceExt;

type R = Result<Response, crate::Error>;

fn ok() -> Response {
    "ok".into_response()
}

async fn get_key(session: Session, Path(key): Path<String>) -> R {
    let v: Option<serde_json::Value> = session.get(&key).await?;
    Ok(serde_json::to_string(&v.unwrap_or_default())
        .unwrap_or_default()
        .into_response())
}

async fn set_key(session: Session, Path(key): Path<String>, body: String) -> R {
    let value: serde_json::Value = match serde_json::from_str(&body) {
        Ok(v) => v,
        Err(_) => return Ok((StatusCode::BAD_REQUEST, "bad json").into_response()),
    };
    session.insert(&key, value).await?;
    Ok(ok())
}

async fn remove_key(session: Session, Path(key): Path<String>) -> R {
    session.remove::<serde_json::Value>(&key).await?;
    Ok(ok())
}

async fn incr(session: Session, Path(key): Path<String>) -> R {
    let n = session
        .update(&key, |n: Option<i64>| n.unwrap_or(0) + 1)
        .await?;
    Ok(n.to_string().into_response())
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
    Ok(session.id().await?.to_string().into_response())
}

async fn expiry(session: Session, body: String) -> R {
    let Some(e) = http_suite::expiry_from_body(&body) else {
        return Ok((StatusCode::BAD_REQUEST, "bad expiry").into_response());
    };
    session.set_expiry(e).await?;
    Ok(ok())
}

async fn held(session: Session, Path((gate, then)): Path<(String, String)>) -> R {
    Ok(http_suite::held(&session, &gate, &then)
        .await?
        .into_response())
}

async fn entries(session: Session) -> R {
    Ok(serde_json::Value::Object(session.entries().await?)
        .to_string()
        .into_response())
}

async fn with_cookie(session: Session, Path(key): Path<String>) -> R {
    session.insert(&key, true).await?;
    Ok(([(header::SET_COOKIE, "app=1; Path=/")], "ok").into_response())
}

async fn login(session: Session, Path(user): Path<String>) -> R {
    session.regenerate().await?;
    session.set_user(&user).await?;
    session.insert("user", &user).await?;
    Ok(ok())
}

async fn devices(session: Session) -> R {
    let list: Vec<serde_json::Value> = session
        .devices()
        .await?
        .into_iter()
        .map(|d| serde_json::json!({"handle": d.handle, "current": d.current}))
        .collect();
    Ok(serde_json::Value::Array(list).to_string().into_response())
}

async fn revoke_others(session: Session) -> R {
    Ok(session.revoke_others().await?.to_string().into_response())
}

async fn revoke(session: Session, Path(handle): Path<String>) -> R {
    Ok(session.revoke(&handle).await?.to_string().into_response())
}

/// The test app's routes, without the layer.
pub fn routes() -> Router {
    Router::new()
        .route("/get/{key}", get(get_key))
        .route("/set/{key}", post(set_key))
        .route("/remove/{key}", post(remove_key))
        .route("/incr/{key}", post(incr))
        .route("/regenerate", post(regenerate))
        .route("/destroy", post(destroy))
        .route("/id", get(id))
        .route("/expiry", post(expiry))
        .route("/untouched", get(|| async { "ok" }))
        .route("/entries", get(entries))
        .route("/with-cookie/{key}", post(with_cookie))
        .route("/login/{user}", post(login))
        .route("/devices", get(devices))
        .route("/revoke-others", post(revoke_others))
        .route("/revoke/{handle}", post(revoke))
        .route("/held/{gate}/{then}", post(held))
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
