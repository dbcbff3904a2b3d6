//! Page-view counter, the "hello world" of every express-session tutorial.
//!
//! `cargo run -p session-axum --example counter`, then open the printed URL
//! and reload. `curl -c jar -b jar http://127.0.0.1:3000/` counts too.

use axum::{Router, response::Html, routing::get};
use session_axum::{MemoryStore, Secure, Session, SessionConfig, SessionLayer};

async fn index(session: Session) -> Result<Html<String>, session_axum::Error> {
    let views = session
        .update("views", |n: Option<u64>| n.unwrap_or(0) + 1)
        .await?;
    let times = if views == 1 { "time" } else { "times" };
    Ok(Html(format!(
        "<!doctype html><title>Counter</title><h1>You have viewed this page {views} {times}</h1>\
         <p>Reload to count. <form method=post action=/reset><button>Reset</button></form>"
    )))
}

async fn reset(session: Session) -> Result<axum::response::Redirect, session_axum::Error> {
    session.destroy();
    Ok(axum::response::Redirect::to("/"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = SessionConfig::builder()
        .key_from_env_or_random("SESSION_KEY")
        // Plain HTTP on localhost: send the Secure attribute only over HTTPS.
        .secure(Secure::Auto)
        .build()?;
    let app = Router::new()
        .route("/", get(index))
        .route("/reset", axum::routing::post(reset))
        .layer(SessionLayer::new(config, MemoryStore::new()));
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".into());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!("counter listening on http://{}/", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
