//! The HTTP scenario suite on both SQL stores, through a framework-free
//! test app that drives `SessionManager` directly (exactly what an adapter
//! does), so the store side of every matrix cell is checked here. The
//! store closures are the ones the framework adapters' matrix cells use.

mod common;

use async_trait::async_trait;
use http::{Method, Request, Response, StatusCode, header};
use session_core::testing::http::{Client, TestApp};
use session_core::{DataError, Expiry, RequestMeta, Session, SessionError, SessionManager};

/// The test app of `session_core::testing::http`, without a framework.
struct DirectApp;

struct DirectClient(SessionManager);

type Handled = Result<(StatusCode, String, Option<&'static str>), SessionError>;

fn ok() -> Handled {
    Ok((StatusCode::OK, "ok".to_owned(), None))
}

async fn route(s: &Session, method: &Method, path: &str, body: &str) -> Handled {
    let (first, key) = match path.trim_start_matches('/').split_once('/') {
        Some((a, b)) => (a, b),
        None => (path.trim_start_matches('/'), ""),
    };
    match (method.as_str(), first) {
        ("GET", "get") => {
            let v: Option<serde_json::Value> = s.get(key).await?;
            Ok((StatusCode::OK, v.unwrap_or_default().to_string(), None))
        }
        ("POST", "set") => match serde_json::from_str::<serde_json::Value>(body) {
            Ok(v) => {
                s.insert(key, v).await?;
                ok()
            }
            Err(_) => Ok((StatusCode::BAD_REQUEST, "bad json".to_owned(), None)),
        },
        ("POST", "remove") => {
            s.remove::<serde_json::Value>(key).await?;
            ok()
        }
        ("POST", "incr") => {
            let n = s.update(key, |n: Option<i64>| n.unwrap_or(0) + 1).await?;
            Ok((StatusCode::OK, n.to_string(), None))
        }
        ("POST", "regenerate") => {
            s.regenerate().await?;
            ok()
        }
        ("POST", "destroy") => {
            s.destroy().await?;
            ok()
        }
        ("GET", "id") => Ok((StatusCode::OK, s.id().await?.to_string(), None)),
        ("POST", "expiry") => {
            let e = match body {
                "browser" => Expiry::BrowserSession,
                "default" => Expiry::Default,
                other => match other
                    .strip_prefix("idle:")
                    .and_then(|v| v.parse::<i64>().ok())
                {
                    Some(secs) => Expiry::Idle(time::Duration::seconds(secs)),
                    None => return Ok((StatusCode::BAD_REQUEST, "bad expiry".to_owned(), None)),
                },
            };
            s.set_expiry(e).await?;
            ok()
        }
        ("GET", "untouched") => ok(),
        ("GET", "entries") => Ok((
            StatusCode::OK,
            serde_json::Value::Object(s.entries().await?).to_string(),
            None,
        )),
        ("POST", "with-cookie") => {
            s.insert(key, true).await?;
            Ok((StatusCode::OK, "ok".to_owned(), Some("app=1; Path=/")))
        }
        ("POST", "login") => {
            s.regenerate().await?;
            s.set_user(key).await?;
            s.insert("user", key).await?;
            ok()
        }
        ("GET", "devices") => {
            let list: Vec<serde_json::Value> = s
                .devices()
                .await?
                .into_iter()
                .map(|d| serde_json::json!({"handle": d.handle, "current": d.current}))
                .collect();
            Ok((
                StatusCode::OK,
                serde_json::Value::Array(list).to_string(),
                None,
            ))
        }
        ("POST", "revoke-others") => {
            Ok((StatusCode::OK, s.revoke_others().await?.to_string(), None))
        }
        ("POST", "revoke") => Ok((StatusCode::OK, s.revoke(key).await?.to_string(), None)),
        _ => Ok((StatusCode::NOT_FOUND, "not found".to_owned(), None)),
    }
}

fn response(
    status: StatusCode,
    body: String,
    headers: Vec<(http::HeaderName, String)>,
) -> Response<Vec<u8>> {
    let mut r = Response::builder().status(status);
    for (name, value) in headers {
        r = r.header(name, value);
    }
    r.body(body.into_bytes())
        .unwrap_or_else(|e| panic!("response: {e}"))
}

#[async_trait(?Send)]
impl Client for DirectClient {
    async fn send(&self, request: Request<Vec<u8>>) -> Response<Vec<u8>> {
        let m = &self.0;
        let values = request.headers().get_all(m.request_header());
        let meta = RequestMeta {
            https: false,
            forwarded_proto: request
                .headers()
                .get("x-forwarded-proto")
                .map(|v| v.as_bytes()),
        };
        let session = m.start(values.iter().map(|v| v.as_bytes()), meta);
        let body = String::from_utf8_lossy(request.body()).into_owned();
        let handled = route(&session, request.method(), request.uri().path(), &body).await;
        let failure = || {
            let f = m.config().failure_response();
            response(f.status, f.body.to_string(), Vec::new())
        };
        let (status, text, extra) = match handled {
            Ok(h) => h,
            Err(SessionError::Data(DataError::PayloadTooLarge { .. })) => {
                (StatusCode::PAYLOAD_TOO_LARGE, "too large".to_owned(), None)
            }
            Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "error".to_owned(), None),
        };
        if session.store_failed() {
            return failure();
        }
        let mut headers = Vec::new();
        if let Some(c) = extra {
            headers.push((header::SET_COOKIE, c.to_owned()));
        }
        match m.finish(&session).await {
            Ok(Some(h)) => headers.push((h.name, h.value)),
            Ok(None) => {}
            Err(_) => return failure(),
        }
        response(status, text, headers)
    }
}

#[async_trait(?Send)]
impl TestApp for DirectApp {
    async fn client(&self, manager: SessionManager) -> Box<dyn Client> {
        Box::new(DirectClient(manager))
    }
}

mod postgres {
    session_core::http_scenarios!(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        app: super::DirectApp,
        store: |namespace: String| async move {
            let url = std::env::var("DATABASE_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
            let pool = session_sqlx::sqlx::postgres::PgPoolOptions::new()
                .max_connections(4)
                .connect(&url)
                .await
                .expect("connect to PostgreSQL");
            let store = session_sqlx::PostgresStore::new(pool)
                .with_schema(&namespace)
                .expect("the namespace is a valid schema name");
            store.migrate().await.expect("migrate");
            // Test-only: label the schema so later runs can drop it.
            super::common::mark_and_sweep(&store).await;
            store
        },
    );
}

mod sqlite {
    session_core::http_scenarios!(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        app: super::DirectApp,
        store: |namespace: String| async move {
            let dir = std::env::temp_dir().join("session-sqlx-matrix");
            std::fs::create_dir_all(&dir).expect("temp dir");
            let url = format!("sqlite://{}?mode=rwc", dir.join(format!("{namespace}.db")).display());
            let store = session_sqlx::SqliteStore::connect(&url)
                .await
                .expect("open the SQLite file");
            store.migrate().await.expect("migrate");
            store
        },
    );
}
