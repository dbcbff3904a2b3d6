//! Page-view counter, the "hello world" of every express-session tutorial.
//!
//! `cargo run -p session-actix --example counter`, then open the printed URL
//! and reload. `curl -c jar -b jar http://127.0.0.1:8080/` counts too.
//! `PORT` picks another port; `SESSION_KEY` (32 bytes or more) keeps
//! sessions valid across restarts.

use actix_web::http::header;
use actix_web::{App, HttpResponse, HttpServer, web};
use session_actix::{MemoryStore, Secure, Session, SessionConfig, SessionMiddleware};

async fn index(session: Session) -> Result<HttpResponse, session_actix::Error> {
    let views = session
        .update("views", |n: Option<u64>| n.unwrap_or(0) + 1)
        .await?;
    let times = if views == 1 { "time" } else { "times" };
    Ok(HttpResponse::Ok().content_type("text/html; charset=utf-8").body(format!(
        "<!doctype html><title>Counter</title><h1>You have viewed this page {views} {times}</h1>\
         <p>Reload to count. <form method=post action=/reset><button>Reset</button></form>\n"
    )))
}

async fn reset(session: Session) -> Result<HttpResponse, session_actix::Error> {
    session.destroy();
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/"))
        .finish())
}

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = SessionConfig::builder()
        .key_from_env_or_random("SESSION_KEY")
        // Plain HTTP on localhost: send the Secure attribute only over HTTPS.
        .secure(Secure::Auto)
        .build()?;
    // One middleware (one store) shared by every worker.
    let sessions = SessionMiddleware::new(config, MemoryStore::new());
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8080);
    let server = HttpServer::new(move || {
        App::new()
            .wrap(sessions.clone())
            .route("/", web::get().to(index))
            .route("/reset", web::post().to(reset))
    })
    .bind(("127.0.0.1", port))?;
    for addr in server.addrs() {
        println!("counter listening on http://{addr}/");
    }
    server.run().await?;
    Ok(())
}
