//! The test app (the routes of `session_core::testing::http` that the load
//! uses) in each framework, served over real loopback TCP.
//!
//! | route | handler |
//! |---|---|
//! | `GET /get/{key}` | `get`: the JSON value or `null` |
//! | `POST /set/{key}` (JSON body) | `insert`: `ok` |
//! | `POST /incr/{key}` | `update(key, n + 1)`: the new value |
//! | `POST /regenerate`, `POST /destroy` | `ok` |
//! | `GET /id`, `GET /entries` | the id, the JSON map |

use std::error::Error;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::time::Duration;

use session_core::SessionManager;

type BoxError = Box<dyn Error + Send + Sync>;

/// The three adapters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framework {
    Axum,
    Actix,
    Rocket,
}

impl Framework {
    pub(crate) const ALL: [Framework; 3] = [Framework::Axum, Framework::Actix, Framework::Rocket];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Framework::Axum => "axum",
            Framework::Actix => "actix",
            Framework::Rocket => "rocket",
        }
    }
}

/// A running server; stopped on `stop` (or drop, for axum and rocket).
pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    stop: Stop,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("addr", &self.addr).finish()
    }
}

enum Stop {
    Axum(Option<tokio::sync::oneshot::Sender<()>>),
    Actix(
        actix_web::dev::ServerHandle,
        Option<std::thread::JoinHandle<()>>,
    ),
    Rocket(rocket::Shutdown),
}

impl Server {
    /// Stops the server and waits (boundedly) for it to go.
    pub(crate) async fn stop(mut self) {
        match &mut self.stop {
            Stop::Axum(tx) => {
                if let Some(tx) = tx.take() {
                    let _ = tx.send(());
                }
            }
            Stop::Actix(handle, thread) => {
                let _ = tokio::time::timeout(Duration::from_secs(5), handle.stop(false)).await;
                if let Some(t) = thread.take() {
                    let _ = tokio::task::spawn_blocking(move || t.join()).await;
                }
            }
            Stop::Rocket(shutdown) => shutdown.clone().notify(),
        }
    }
}

/// Starts `framework`'s app on a free loopback port.
pub(crate) async fn serve(
    framework: Framework,
    manager: SessionManager,
) -> Result<Server, BoxError> {
    match framework {
        Framework::Axum => axum_app::serve(manager).await,
        Framework::Actix => actix_app::serve(manager).await,
        Framework::Rocket => rocket_app::serve(manager).await,
    }
}

mod axum_app {
    use axum::Router;
    use axum::extract::Path;
    use axum::http::StatusCode;
    use axum::response::{IntoResponse, Response};
    use axum::routing::{get, post};
    use session_axum::{Session, SessionLayer};

    use super::*;

    type R = Result<Response, session_axum::Error>;

    async fn get_key(session: Session, Path(key): Path<String>) -> R {
        let v: Option<serde_json::Value> = session.get(&key).await?;
        Ok(serde_json::Value::from(v).to_string().into_response())
    }

    async fn set_key(session: Session, Path(key): Path<String>, body: String) -> R {
        let Ok(value) = serde_json::from_str::<serde_json::Value>(&body) else {
            return Ok((StatusCode::BAD_REQUEST, "bad json").into_response());
        };
        session.insert(&key, value).await?;
        Ok("ok".into_response())
    }

    async fn incr(session: Session, Path(key): Path<String>) -> R {
        let n = session
            .update(&key, |n: Option<i64>| n.unwrap_or(0) + 1)
            .await?;
        Ok(n.to_string().into_response())
    }

    async fn regenerate(session: Session) -> R {
        session.regenerate().await?;
        Ok("ok".into_response())
    }

    async fn destroy(session: Session) -> R {
        session.destroy();
        Ok("ok".into_response())
    }

    async fn id(session: Session) -> R {
        Ok(session.id().await?.to_string().into_response())
    }

    async fn entries(session: Session) -> R {
        Ok(serde_json::Value::Object(session.entries().await?)
            .to_string()
            .into_response())
    }

    pub(super) async fn serve(manager: SessionManager) -> Result<Server, BoxError> {
        let app = Router::new()
            .route("/get/{key}", get(get_key))
            .route("/set/{key}", post(set_key))
            .route("/incr/{key}", post(incr))
            .route("/regenerate", post(regenerate))
            .route("/destroy", post(destroy))
            .route("/id", get(id))
            .route("/entries", get(entries))
            .layer(SessionLayer::from_manager(manager));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(Server {
            addr,
            stop: Stop::Axum(Some(tx)),
        })
    }
}

mod actix_app {
    use actix_web::{App, HttpResponse, HttpServer, web};
    use session_actix::{Session, SessionMiddleware};

    use super::*;

    type R = Result<HttpResponse, session_actix::Error>;

    async fn get_key(session: Session, key: web::Path<String>) -> R {
        let v: Option<serde_json::Value> = session.get(&key).await?;
        Ok(HttpResponse::Ok().body(serde_json::Value::from(v).to_string()))
    }

    async fn set_key(session: Session, key: web::Path<String>, body: String) -> R {
        let Ok(value) = serde_json::from_str::<serde_json::Value>(&body) else {
            return Ok(HttpResponse::BadRequest().body("bad json"));
        };
        session.insert(&key, value).await?;
        Ok(HttpResponse::Ok().body("ok"))
    }

    async fn incr(session: Session, key: web::Path<String>) -> R {
        let n = session
            .update(&key, |n: Option<i64>| n.unwrap_or(0) + 1)
            .await?;
        Ok(HttpResponse::Ok().body(n.to_string()))
    }

    async fn regenerate(session: Session) -> R {
        session.regenerate().await?;
        Ok(HttpResponse::Ok().body("ok"))
    }

    async fn destroy(session: Session) -> R {
        session.destroy();
        Ok(HttpResponse::Ok().body("ok"))
    }

    async fn id(session: Session) -> R {
        Ok(HttpResponse::Ok().body(session.id().await?.to_string()))
    }

    async fn entries(session: Session) -> R {
        Ok(
            HttpResponse::Ok()
                .body(serde_json::Value::Object(session.entries().await?).to_string()),
        )
    }

    pub(super) async fn serve(manager: SessionManager) -> Result<Server, BoxError> {
        let listener = StdListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let server = HttpServer::new(move || {
            App::new()
                .wrap(SessionMiddleware::from_manager(manager.clone()))
                .route("/get/{key}", web::get().to(get_key))
                .route("/set/{key}", web::post().to(set_key))
                .route("/incr/{key}", web::post().to(incr))
                .route("/regenerate", web::post().to(regenerate))
                .route("/destroy", web::post().to(destroy))
                .route("/id", web::get().to(id))
                .route("/entries", web::get().to(entries))
        })
        .workers(2)
        .disable_signals()
        .shutdown_timeout(1)
        .listen(listener)?
        .run();
        let handle = server.handle();
        let thread = std::thread::spawn(move || {
            let _ = actix_web::rt::System::new().block_on(server);
        });
        Ok(Server {
            addr,
            stop: Stop::Actix(handle, Some(thread)),
        })
    }
}

mod rocket_app {
    use rocket::http::Status;
    use rocket::{get, post, routes};
    use session_rocket::{Session, SessionFairing};

    use super::*;

    type R<T = String> = Result<T, session_rocket::Error>;

    #[get("/get/<key>")]
    async fn get_key(session: Session, key: &str) -> R {
        let v: Option<serde_json::Value> = session.get(key).await?;
        Ok(serde_json::Value::from(v).to_string())
    }

    #[post("/set/<key>", data = "<body>")]
    async fn set_key(session: Session, key: &str, body: String) -> R<(Status, &'static str)> {
        let Ok(value) = serde_json::from_str::<serde_json::Value>(&body) else {
            return Ok((Status::BadRequest, "bad json"));
        };
        session.insert(key, value).await?;
        Ok((Status::Ok, "ok"))
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

    #[get("/entries")]
    async fn entries(session: Session) -> R {
        Ok(serde_json::Value::Object(session.entries().await?).to_string())
    }

    pub(super) async fn serve(manager: SessionManager) -> Result<Server, BoxError> {
        // Rocket binds itself: take a free port, release it, hand it over.
        let port = StdListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let figment = rocket::Config::figment()
            .merge(("address", "127.0.0.1"))
            .merge(("port", port))
            .merge(("log_level", "off"))
            .merge(("cli_colors", false))
            .merge(("shutdown.ctrlc", false))
            .merge(("shutdown.signals", Vec::<String>::new()))
            .merge(("shutdown.grace", 1))
            .merge(("shutdown.mercy", 1));
        let rocket = rocket::custom(figment)
            .mount(
                "/",
                routes![get_key, set_key, incr, regenerate, destroy, id, entries],
            )
            .attach(SessionFairing::from_manager(manager))
            .ignite()
            .await?;
        let shutdown = rocket.shutdown();
        tokio::spawn(async move {
            let _ = rocket.launch().await;
        });
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        // Wait (boundedly) until it accepts connections.
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        Ok(Server {
            addr,
            stop: Stop::Rocket(shutdown),
        })
    }
}
