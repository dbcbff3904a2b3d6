//! Page-view counter, the "hello world" of every express-session tutorial,
//! and the README's actix quick start: a test (`xtask/readme/tests/readme.rs`) checks the
//! README shows this file's items and the body of `main`.
//!
//! `SESSION_KEY=$(openssl rand -base64 48) cargo run -p session-actix --example counter`,
//! then open http://127.0.0.1:8080/ and reload; `curl -c jar -b jar http://127.0.0.1:8080/`
//! counts too. The cookie is `Secure` (the default), which browsers and curl
//! accept from `localhost` and `127.0.0.1` over plain HTTP.

// README items: begin
use actix_web::{App, HttpResponse, HttpServer, web};
use session_actix::{MemoryStore, Session, SessionConfig, SessionMiddleware};

async fn counter(session: Session) -> Result<HttpResponse, session_actix::Error> {
    let views = session
        .update("views", |n: Option<u64>| n.unwrap_or(0) + 1)
        .await?;
    Ok(HttpResponse::Ok().body(format!("You have seen this page {views} times")))
}
// README items: end

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // README body: begin
    let config = SessionConfig::builder()
        .key(std::env::var("SESSION_KEY")?)
        .build()?;
    let sessions = SessionMiddleware::new(config, MemoryStore::new());
    HttpServer::new(move || {
        App::new()
            .wrap(sessions.clone())
            .route("/", web::get().to(counter))
    })
    .bind(("127.0.0.1", 8080))?
    .run()
    .await?;
    // README body: end
    Ok(())
}
