//! Rocket: bare, with session-rocket.

use rocket::{get, routes};

use crate::{BoxError, PREFIX, Store};

pub(crate) fn run(server: &str, store: Store, port: u16, redis_url: &str) -> Result<(), BoxError> {
    let figment = rocket::Config::figment()
        .merge(("address", "127.0.0.1"))
        .merge(("port", port))
        .merge(("workers", 1))
        .merge(("log_level", rocket::config::LogLevel::Off))
        .merge(("cli_colors", false));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let server = server.to_owned();
    let redis_url = redis_url.to_owned();
    rt.block_on(async move {
        let rocket = rocket::custom(figment);
        let rocket = match (server.as_str(), store) {
            ("rocket", _) => rocket.mount("/", routes![bare_read, bare_incr, bare_new]),
            ("rocket-ours", Store::Memory) => rocket.mount("/", routes![read, incr, new]).attach(
                session_rocket::SessionFairing::new(
                    crate::our_config()?,
                    session_core::MemoryStore::new(),
                ),
            ),
            ("rocket-ours", Store::Redis) => {
                let store = session_redis::RedisStore::connect(&redis_url)
                    .await?
                    .with_prefix(PREFIX);
                rocket.mount("/", routes![read, incr, new]).attach(
                    session_rocket::SessionFairing::new(crate::our_config()?, store),
                )
            }
            (other, _) => return Err(format!("unknown server {other}").into()),
        };
        let _ = rocket.launch().await?;
        Ok(())
    })
}

#[get("/read")]
fn bare_read() -> &'static str {
    "n=0"
}
#[get("/incr")]
fn bare_incr() -> &'static str {
    "n=1"
}
#[get("/new")]
fn bare_new() -> &'static str {
    "new"
}

#[get("/read")]
async fn read(s: session_rocket::Session) -> Result<String, session_rocket::Error> {
    let n: Option<u64> = s.get("n").await?;
    Ok(format!("n={}", n.unwrap_or(0)))
}
#[get("/incr")]
async fn incr(s: session_rocket::Session) -> Result<String, session_rocket::Error> {
    let n = s.update("n", |n: Option<u64>| n.unwrap_or(0) + 1).await?;
    Ok(format!("n={n}"))
}
#[get("/new")]
async fn new(s: session_rocket::Session) -> Result<String, session_rocket::Error> {
    s.insert("n", 0u64).await?;
    Ok("new".to_owned())
}
