//! Each framework's shared test app (its adapter's `testing` module: the
//! routes of `session_core::testing::http`), served over real loopback TCP.
//! The load uses these routes of it:
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
    framework: Framework, manager: SessionManager,
) -> Result<Server, BoxError> {
    match framework {
        Framework::Axum => axum_app::serve(manager).await,
        Framework::Actix => actix_app::serve(manager).await,
        Framework::Rocket => rocket_app::serve(manager).await,
    }
}

mod axum_app {
    use session_axum::SessionLayer;

    use super::*;

    pub(super) async fn serve(manager: SessionManager) -> Result<Server, BoxError> {
        let app = session_axum::testing::routes().layer(SessionLayer::from_manager(manager));
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
    use actix_web::{App, HttpServer};
    use session_actix::SessionMiddleware;

    use super::*;

    pub(super) async fn serve(manager: SessionManager) -> Result<Server, BoxError> {
        let listener = StdListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let server = HttpServer::new(move || {
            App::new()
                .wrap(SessionMiddleware::from_manager(manager.clone()))
                .configure(session_actix::testing::routes)
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
    use session_rocket::SessionFairing;

    use super::*;

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
            .mount("/", session_rocket::testing::route_list())
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
