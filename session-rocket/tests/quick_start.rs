//! The README's rocket quick start, compiled, and checked to be the text the
//! README shows (the items, then the body of `main` unindented).
#![allow(missing_docs)]

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

#[allow(dead_code)]
async fn quick_start() -> Result<(), Box<dyn std::error::Error>> {
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

#[test]
fn the_readme_shows_this_file() {
    session_core::testing::assert_readme_shows(
        include_str!("quick_start.rs"),
        include_str!("../../README.md"),
    );
}
