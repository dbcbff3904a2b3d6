//! actix-web: bare, with session-actix, with actix-session.

use actix_web::{App, HttpResponse, HttpServer, web};

use session_actix::testing::bench_routes;

use crate::{BoxError, KEY, PREFIX, Store};

/// One worker on `addr` serving the apps `factory` builds, until stopped.
macro_rules! serve {
    ($addr:expr, $factory:expr) => {
        HttpServer::new($factory)
            .workers(1)
            .bind($addr)?
            .run()
            .await?
    };
}

pub(crate) fn run(server: &str, store: Store, port: u16, redis_url: &str) -> Result<(), BoxError> {
    let server = server.to_owned();
    let redis_url = redis_url.to_owned();
    actix_web::rt::System::new().block_on(async move {
        let addr = ("127.0.0.1", port);
        match (server.as_str(), store) {
            ("actix", _) => serve!(addr, || {
                App::new()
                    .route("/read", web::get().to(|| async { "n=0" }))
                    .route("/incr", web::get().to(|| async { "n=1" }))
                    .route("/new", web::get().to(|| async { "new" }))
            }),
            ("actix-ours", Store::Memory) => {
                let store = session_core::MemoryStore::new();
                let mw = session_actix::SessionMiddleware::new(crate::our_config()?, store);
                serve!(addr, move || App::new()
                    .wrap(mw.clone())
                    .configure(bench_routes))
            }
            ("actix-ours", Store::Redis) => {
                let store = session_redis::RedisStore::connect(&redis_url)
                    .await?
                    .with_prefix(PREFIX);
                let mw = session_actix::SessionMiddleware::new(crate::our_config()?, store);
                serve!(addr, move || App::new()
                    .wrap(mw.clone())
                    .configure(bench_routes))
            }
            ("actix-peer", Store::Memory) => serve!(addr, || {
                let store = actix_session::storage::CookieSessionStore::default();
                App::new().wrap(peer_middleware(store)).configure(peer)
            }),
            ("actix-peer", Store::Redis) => {
                let store = actix_session::storage::RedisSessionStore::new(redis_url.clone())
                    .await
                    .map_err(|e| format!("{e}"))?;
                serve!(addr, move || {
                    App::new()
                        .wrap(peer_middleware(store.clone()))
                        .configure(peer)
                })
            }
            (other, _) => return Err(format!("unknown server {other}").into()),
        }
        Ok(())
    })
}

/// actix-session's middleware over `store`, configured as in its docs
/// (plain HTTP on loopback, so not `Secure`).
fn peer_middleware<S: actix_session::storage::SessionStore>(
    store: S,
) -> actix_session::SessionMiddleware<S> {
    let key = actix_web::cookie::Key::from(&KEY);
    actix_session::SessionMiddleware::builder(store, key)
        .cookie_secure(false)
        .build()
}

/// The bench routes with actix-session, written as its docs show.
fn peer(cfg: &mut web::ServiceConfig) {
    use actix_session::Session;
    async fn read(s: Session) -> HttpResponse {
        match s.get::<u64>("n") {
            Ok(n) => HttpResponse::Ok().body(format!("n={}", n.unwrap_or(0))),
            Err(_) => HttpResponse::InternalServerError().finish(),
        }
    }
    async fn incr(s: Session) -> HttpResponse {
        let n = match s.get::<u64>("n") {
            Ok(n) => n.unwrap_or(0) + 1,
            Err(_) => return HttpResponse::InternalServerError().finish(),
        };
        match s.insert("n", n) {
            Ok(()) => HttpResponse::Ok().body(format!("n={n}")),
            Err(_) => HttpResponse::InternalServerError().finish(),
        }
    }
    async fn new(s: Session) -> HttpResponse {
        match s.insert("n", 0u64) {
            Ok(()) => HttpResponse::Ok().body("new"),
            Err(_) => HttpResponse::InternalServerError().finish(),
        }
    }
    cfg.route("/read", web::get().to(read))
        .route("/incr", web::get().to(incr))
        .route("/new", web::get().to(new));
}
