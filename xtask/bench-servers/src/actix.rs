//! actix-web: bare, with session-actix, with actix-session.

use actix_web::{App, HttpResponse, HttpServer, web};

use crate::{BoxError, KEY, PREFIX, Store};

pub(crate) fn run(server: &str, store: Store, port: u16, redis_url: &str) -> Result<(), BoxError> {
    let server = server.to_owned();
    let redis_url = redis_url.to_owned();
    actix_web::rt::System::new().block_on(async move {
        let addr = ("127.0.0.1", port);
        match (server.as_str(), store) {
            ("actix", _) => {
                HttpServer::new(|| {
                    App::new()
                        .route("/read", web::get().to(|| async { "n=0" }))
                        .route("/incr", web::get().to(|| async { "n=1" }))
                        .route("/new", web::get().to(|| async { "new" }))
                })
                .workers(1)
                .bind(addr)?
                .run()
                .await?
            }
            ("actix-ours", Store::Memory) => {
                let mw = session_actix::SessionMiddleware::new(
                    crate::our_config()?,
                    session_core::MemoryStore::new(),
                );
                HttpServer::new(move || ours(App::new().wrap(mw.clone())))
                    .workers(1)
                    .bind(addr)?
                    .run()
                    .await?
            }
            ("actix-ours", Store::Redis) => {
                let store = session_redis::RedisStore::connect(&redis_url)
                    .await?
                    .with_prefix(PREFIX);
                let mw = session_actix::SessionMiddleware::new(crate::our_config()?, store);
                HttpServer::new(move || ours(App::new().wrap(mw.clone())))
                    .workers(1)
                    .bind(addr)?
                    .run()
                    .await?
            }
            ("actix-peer", Store::Memory) => {
                let key = actix_web::cookie::Key::from(&KEY);
                HttpServer::new(move || {
                    peer(
                        App::new().wrap(
                            actix_session::SessionMiddleware::builder(
                                actix_session::storage::CookieSessionStore::default(),
                                key.clone(),
                            )
                            .cookie_secure(false)
                            .build(),
                        ),
                    )
                })
                .workers(1)
                .bind(addr)?
                .run()
                .await?
            }
            ("actix-peer", Store::Redis) => {
                let key = actix_web::cookie::Key::from(&KEY);
                let store = actix_session::storage::RedisSessionStore::new(redis_url.clone())
                    .await
                    .map_err(|e| format!("{e}"))?;
                HttpServer::new(move || {
                    peer(
                        App::new().wrap(
                            actix_session::SessionMiddleware::builder(store.clone(), key.clone())
                                .cookie_secure(false)
                                .build(),
                        ),
                    )
                })
                .workers(1)
                .bind(addr)?
                .run()
                .await?
            }
            (other, _) => return Err(format!("unknown server {other}").into()),
        }
        Ok(())
    })
}

fn ours<T>(app: App<T>) -> App<T>
where
    T: actix_web::dev::ServiceFactory<
            actix_web::dev::ServiceRequest,
            Config = (),
            Error = actix_web::Error,
            InitError = (),
        >,
{
    use session_actix::Session;
    async fn read(s: Session) -> Result<String, session_actix::Error> {
        let n: Option<u64> = s.get("n").await?;
        Ok(format!("n={}", n.unwrap_or(0)))
    }
    async fn incr(s: Session) -> Result<String, session_actix::Error> {
        let n = s.update("n", |n: Option<u64>| n.unwrap_or(0) + 1).await?;
        Ok(format!("n={n}"))
    }
    async fn new(s: Session) -> Result<String, session_actix::Error> {
        s.insert("n", 0u64).await?;
        Ok("new".to_owned())
    }
    app.route("/read", web::get().to(read))
        .route("/incr", web::get().to(incr))
        .route("/new", web::get().to(new))
}

fn peer<T>(app: App<T>) -> App<T>
where
    T: actix_web::dev::ServiceFactory<
            actix_web::dev::ServiceRequest,
            Config = (),
            Error = actix_web::Error,
            InitError = (),
        >,
{
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
    app.route("/read", web::get().to(read))
        .route("/incr", web::get().to(incr))
        .route("/new", web::get().to(new))
}
