//! The test app's route table, written once: each framework's test app
//! (and the reference adapter) forwards every request to [`route`].

use http::{HeaderValue, Method, Response, StatusCode, header};
use serde_json::{Value, json};

use super::{expiry_from_body, held};
use crate::{Session, SessionError};

fn reply(status: StatusCode, body: impl Into<String>) -> Response<Vec<u8>> {
    let mut res = Response::new(body.into().into_bytes());
    *res.status_mut() = status;
    res
}

/// The test app's routes (the table in [the module docs](crate::testing::http)), for
/// one request: what every framework's test app and
/// [`DirectApp`](crate::testing::direct::DirectApp) call from a catch-all
/// route with the request's session, method, path and body. A
/// `SessionError` is returned for the adapter's own error path to answer.
pub async fn route(
    s: &Session, method: &Method, path: &str, body: &[u8],
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
        (method, "public") => {
            if method == "POST" {
                s.insert(key, true).await?;
            } else {
                s.get::<Value>(key).await?;
            }
            let mut res = ok();
            let h = res.headers_mut();
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            );
            h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
            res
        }
        (_, "fail") => {
            // The route after `/fail`, then a 500 (a handler that fails
            // halfway).
            let inner = format!("/{key}");
            Box::pin(route(s, method, &inner, body)).await?;
            reply(StatusCode::INTERNAL_SERVER_ERROR, "failed")
        }
        ("POST", "touch") => {
            s.touch().await?;
            ok()
        }
        ("POST", "as") => {
            s.set_user(key).await?;
            ok()
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
