//! Page-view counter, the "hello world" of every express-session tutorial,
//! and the README's axum quick start: a test (`xtask/readme/tests/readme.rs`) checks the
//! README shows this file's items and the body of `main`.
//!
//! `SESSION_KEY=$(openssl rand -base64 48) cargo run -p session-axum --example counter`,
//! then open http://127.0.0.1:3000/ and reload; `curl -c jar -b jar http://127.0.0.1:3000/`
//! counts too. The cookie is `Secure` (the default), which browsers and curl
//! accept from `localhost` and `127.0.0.1` over plain HTTP.

// README items: begin
use axum::{Router, routing::get};
use session_axum::{MemoryStore, Session, SessionConfig, SessionLayer};

async fn counter(session: Session) -> Result<String, session_axum::Error> {
    let views = session
        .update("views", |n: Option<u64>| n.unwrap_or(0) + 1)
        .await?;
    Ok(format!("You have seen this page {views} times"))
}
// README items: end

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // README body: begin
    let config = SessionConfig::builder()
        .key(std::env::var("SESSION_KEY")?)
        .build()?;
    let app = Router::new()
        .route("/", get(counter))
        .layer(SessionLayer::new(config, MemoryStore::new()));
    axum::serve(tokio::net::TcpListener::bind("127.0.0.1:3000").await?, app).await?;
    // README body: end
    Ok(())
}
