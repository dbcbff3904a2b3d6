//! A framework-free test app for the HTTP scenario suite: it calls
//! `SessionManager` directly, as every adapter does (see
//! `session_core::testing::http` for the routes).

use async_trait::async_trait;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use serde_json::Value;
use session_core::testing::http::{Client, TestApp};
use session_core::{DataError, Expiry, RequestMeta, Session, SessionError, SessionManager};

/// The test app factory.
pub(crate) struct PlainApp;

struct PlainClient(SessionManager);

fn reply(status: StatusCode, body: impl Into<String>) -> Response<Vec<u8>> {
    let mut res = Response::new(body.into().into_bytes());
    *res.status_mut() = status;
    res
}

fn failure(m: &SessionManager) -> Response<Vec<u8>> {
    let f = m.config().failure_response();
    reply(f.status, f.body.to_string())
}

fn error(e: &SessionError) -> Response<Vec<u8>> {
    match e {
        SessionError::Data(DataError::PayloadTooLarge { .. }) => {
            reply(StatusCode::PAYLOAD_TOO_LARGE, "too large")
        }
        _ => reply(StatusCode::INTERNAL_SERVER_ERROR, "error"),
    }
}

/// The routes of the test app (see `session_core::testing::http`).
async fn handle(
    s: &Session,
    method: &Method,
    path: &str,
    body: &[u8],
) -> Result<Response<Vec<u8>>, SessionError> {
    let ok = || reply(StatusCode::OK, "ok");
    let seg: Vec<&str> = path.trim_start_matches('/').splitn(2, '/').collect();
    let key = seg.get(1).copied().unwrap_or_default();
    Ok(match (method.as_str(), seg[0]) {
        ("GET", "get") => {
            let v: Option<Value> = s.get(key).await?;
            reply(StatusCode::OK, v.unwrap_or_default().to_string())
        }
        ("POST", "set") => match serde_json::from_slice::<Value>(body) {
            Ok(v) => {
                s.insert(key, v).await?;
                ok()
            }
            Err(_) => reply(StatusCode::BAD_REQUEST, "bad json"),
        },
        ("POST", "remove") => {
            s.remove::<Value>(key).await?;
            ok()
        }
        ("POST", "incr") => {
            let n = s.update(key, |n: Option<i64>| n.unwrap_or(0) + 1).await?;
            reply(StatusCode::OK, n.to_string())
        }
        ("POST", "regenerate") => {
            s.regenerate().await?;
            ok()
        }
        ("POST", "destroy") => {
            s.destroy().await?;
            ok()
        }
        ("GET", "id") => reply(StatusCode::OK, s.id().await?.to_string()),
        ("POST", "expiry") => {
            let text = String::from_utf8_lossy(body);
            let e = match text.as_ref() {
                "browser" => Expiry::BrowserSession,
                "default" => Expiry::Default,
                other => match other
                    .strip_prefix("idle:")
                    .and_then(|n| n.parse::<i64>().ok())
                {
                    Some(secs) => Expiry::Idle(time::Duration::seconds(secs)),
                    None => return Ok(reply(StatusCode::BAD_REQUEST, "bad expiry")),
                },
            };
            s.set_expiry(e).await?;
            ok()
        }
        ("GET", "untouched") => ok(),
        ("GET", "entries") => reply(
            StatusCode::OK,
            Value::Object(s.entries().await?).to_string(),
        ),
        ("POST", "with-cookie") => {
            s.insert(key, true).await?;
            let mut res = ok();
            res.headers_mut().append(
                header::SET_COOKIE,
                HeaderValue::from_static("app=1; Path=/"),
            );
            res
        }
        ("POST", "login") => {
            s.regenerate().await?;
            s.set_user(key).await?;
            s.insert("user", key).await?;
            ok()
        }
        ("GET", "devices") => {
            let list: Vec<Value> = s
                .devices()
                .await?
                .into_iter()
                .map(|d| serde_json::json!({"handle": d.handle, "current": d.current}))
                .collect();
            reply(StatusCode::OK, Value::Array(list).to_string())
        }
        ("POST", "revoke-others") => reply(StatusCode::OK, s.revoke_others().await?.to_string()),
        ("POST", "revoke") => reply(StatusCode::OK, s.revoke(key).await?.to_string()),
        _ => reply(StatusCode::NOT_FOUND, "not found"),
    })
}

#[async_trait(?Send)]
impl Client for PlainClient {
    async fn send(&self, request: Request<Vec<u8>>) -> Response<Vec<u8>> {
        let m = &self.0;
        let session = m.start(
            request
                .headers()
                .get_all(m.request_header())
                .iter()
                .map(HeaderValue::as_bytes),
            RequestMeta {
                https: request.uri().scheme_str() == Some("https"),
                forwarded_proto: request
                    .headers()
                    .get("x-forwarded-proto")
                    .map(HeaderValue::as_bytes),
            },
        );
        let path = request.uri().path().to_owned();
        let mut res = match handle(&session, request.method(), &path, request.body()).await {
            Ok(res) => res,
            Err(e) => error(&e),
        };
        if session.store_failed() {
            return failure(m);
        }
        match m.finish(&session).await {
            Ok(None) => res,
            Ok(Some(h)) => match HeaderValue::try_from(h.value) {
                Ok(v) => {
                    res.headers_mut().append(h.name, v);
                    res
                }
                Err(_) => failure(m),
            },
            Err(_) => failure(m),
        }
    }
}

#[async_trait(?Send)]
impl TestApp for PlainApp {
    async fn client(&self, manager: SessionManager) -> Box<dyn Client> {
        Box::new(PlainClient(manager))
    }
}
