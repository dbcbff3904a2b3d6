//! The README's actix quick start, compiled, and checked to be the text the
//! README shows (the items, then the body of `main` unindented).
#![allow(missing_docs)]

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

#[allow(dead_code)]
async fn quick_start() -> Result<(), Box<dyn std::error::Error>> {
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

#[test]
fn the_readme_shows_this_file() {
    session_core::testing::assert_readme_shows(
        include_str!("quick_start.rs"),
        include_str!("../../README.md"),
    );
}
