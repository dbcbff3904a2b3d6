//! [`DirectApp`]: the reference adapter. It drives [`SessionManager`] with
//! `http` types exactly as a framework adapter must (`start` before the
//! handler, `respond` after it, [`error_response`] for a handler's error),
//! so it is the executable spec for a fourth adapter, and it lets a store
//! crate check its store against every scenario without depending on a
//! framework (the adapters run the same suite in their matrix cells).

use async_trait::async_trait;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use serde_json::{Value, json};

use super::http::{Client, TestApp, expiry_from_body, held};
use crate::adapter::{PlainResponse, ResponseParts, ResponseVerdict, error_response};
use crate::{RequestMeta, Session, SessionError, SessionManager};

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

fn reply(status: StatusCode, body: impl Into<String>) -> Response<Vec<u8>> {
    let mut res = Response::new(body.into().into_bytes());
    *res.status_mut() = status;
    res
}

fn plain(p: PlainResponse) -> Response<Vec<u8>> {
    let mut res = reply(p.status, p.body.into_owned());
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(PlainResponse::CONTENT_TYPE),
    );
    res
}

/// The routes of the test app.
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
            s.destroy();
            ok()
        }
        ("GET", "id") => reply(StatusCode::OK, s.id().await?.to_string()),
        ("POST", "expiry") => match expiry_from_body(&String::from_utf8_lossy(body)) {
            Some(e) => {
                s.set_expiry(e).await?;
                ok()
            }
            None => reply(StatusCode::BAD_REQUEST, "bad expiry"),
        },
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
                .map(|d| json!({"handle": d.handle, "current": d.current}))
                .collect();
            reply(StatusCode::OK, Value::Array(list).to_string())
        }
        ("POST", "revoke-others") => reply(StatusCode::OK, s.revoke_others().await?.to_string()),
        ("POST", "revoke") => reply(StatusCode::OK, s.revoke(key).await?.to_string()),
        ("POST", "held") => {
            let (gate, then) = key.split_once('/').unwrap_or((key, ""));
            reply(StatusCode::OK, held(s, gate, then).await?)
        }
        _ => reply(StatusCode::NOT_FOUND, "not found"),
    })
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
            ResponseVerdict::AddHeaders(headers) => {
                for (name, value) in headers {
                    res.headers_mut().append(name, value);
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
