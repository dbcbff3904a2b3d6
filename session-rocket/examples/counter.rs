//! Page-view counter, the "hello world" of every express-session tutorial.
//!
//! `cargo run -p session-rocket --example counter`, then open the printed
//! URL and reload. `curl -c jar -b jar http://127.0.0.1:8000/` counts too.
//! The port is 8000, or `PORT` (or Rocket's own `ROCKET_PORT`).

use rocket::fairing::AdHoc;
use rocket::response::Redirect;
use rocket::response::content::RawHtml;
use rocket::{get, post, routes};
use session_rocket::{MemoryStore, Secure, Session, SessionConfig, SessionFairing};

#[get("/")]
async fn index(session: Session) -> Result<RawHtml<String>, session_rocket::Error> {
    let views = session
        .update("views", |n: Option<u64>| n.unwrap_or(0) + 1)
        .await?;
    let times = if views == 1 { "time" } else { "times" };
    Ok(RawHtml(format!(
        "<!doctype html><title>Counter</title><h1>You have viewed this page {views} {times}</h1>\
         <p>Reload to count. <form method=post action=/reset><button>Reset</button></form>"
    )))
}

#[post("/reset")]
async fn reset(session: Session) -> Result<Redirect, session_rocket::Error> {
    session.destroy();
    Ok(Redirect::to("/"))
}

#[rocket::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = SessionConfig::builder()
        .key_from_env_or_random("SESSION_KEY")
        // Plain HTTP on localhost: send the Secure attribute only over HTTPS.
        .secure(Secure::Auto)
        .build()?;
    let mut figment = rocket::Config::figment();
    if let Ok(port) = std::env::var("PORT") {
        figment = figment.merge(("port", port.parse::<u16>()?));
    }
    rocket::custom(figment)
        .mount("/", routes![index, reset])
        .attach(SessionFairing::new(config, MemoryStore::new()))
        .attach(AdHoc::on_liftoff("print URL", |rocket| {
            Box::pin(async move {
                let config = rocket.config();
                println!(
                    "counter listening on http://{}:{}/",
                    config.address, config.port
                );
            })
        }))
        .launch()
        .await?;
    Ok(())
}
