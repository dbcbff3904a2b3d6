//! Page-view counter, the "hello world" of every express-session tutorial,
//! and the README's rocket quick start: a test (`xtask/readme/tests/readme.rs`) checks the
//! README shows this file's items and the body of `main`.
//!
//! `SESSION_KEY=$(openssl rand -base64 48) cargo run -p session-rocket --example counter`,
//! then open http://127.0.0.1:8000/ and reload; `curl -c jar -b jar http://127.0.0.1:8000/`
//! counts too. The cookie is `Secure` (the default), which browsers and curl
//! accept from `localhost` and `127.0.0.1` over plain HTTP.

// README items: begin
use rocket::{get, routes};
use session_rocket::{MemoryStore, Session, SessionConfig, SessionFairing};

#[get("/")]
async fn counter(session: Session) -> Result<String, session_rocket::Error> {
    let views = session
        .update("views", |n: Option<u64>| n.unwrap_or(0) + 1)
        .await?;
    Ok(format!("You have seen this page {views} times"))
}
// README items: end

#[rocket::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // README body: begin
    let config = SessionConfig::builder()
        .key(std::env::var("SESSION_KEY")?)
        .build()?;
    rocket::build()
        .mount("/", routes![counter])
        .attach(SessionFairing::new(config, MemoryStore::new()))
        .launch()
        .await?;
    // README body: end
    Ok(())
}
