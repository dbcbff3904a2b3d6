//! Login / dashboard / logout, as in the express-session tutorials.
//!
//! `cargo run -p session-rocket --example login`, then open the printed URL.
//! Any non-empty username logs in. The id is regenerated at login (session
//! fixation defence) and logout destroys the session on the server. The
//! port is 8000, or `PORT` (or Rocket's own `ROCKET_PORT`).

use rocket::fairing::AdHoc;
use rocket::form::{Form, FromForm};
use rocket::request::{FromRequest, Outcome, Request};
use rocket::response::Redirect;
use rocket::response::content::RawHtml;
use rocket::{Either, get, post, routes};
use session_rocket::{MemoryStore, Secure, Session, SessionConfig, SessionFairing};

type Result<T> = std::result::Result<T, session_rocket::Error>;

fn page(title: &str, body: &str) -> RawHtml<String> {
    RawHtml(format!(
        "<!doctype html><meta charset=utf-8><title>{title}</title><h1>{title}</h1>{body}"
    ))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[get("/")]
async fn home(session: Session) -> Result<RawHtml<String>> {
    Ok(match session.get::<String>("user").await? {
        Some(user) => page(
            &format!("Hello, {}", escape(&user)),
            "<p><a href=/dashboard>Dashboard</a></p>",
        ),
        None => page("Hello, guest", "<p><a href=/login>Log in</a></p>"),
    })
}

#[get("/login")]
fn login_form() -> RawHtml<String> {
    page(
        "Log in",
        "<form method=post action=/login>\
         <label>Username <input name=username required></label> \
         <label>Password <input name=password type=password></label> \
         <button>Log in</button></form>",
    )
}

#[derive(FromForm)]
struct Login<'r> {
    username: &'r str,
}

/// A short device label from the `User-Agent` header.
struct Device(String);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Device {
    type Error = std::convert::Infallible;
    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        let ua = req
            .headers()
            .get_one("User-Agent")
            .unwrap_or("unknown client");
        Outcome::Success(Device(ua.chars().take(60).collect()))
    }
}

#[post("/login", data = "<form>")]
async fn login(session: Session, device: Device, form: Form<Login<'_>>) -> Result<Redirect> {
    let name = form.username.trim();
    if name.is_empty() {
        return Ok(Redirect::to("/login"));
    }
    // A new id at login: an id planted before login is worthless after it.
    session.regenerate().await?;
    // Tie the session to the user: "your devices" lists and revokes by user.
    session.set_user(name).await?;
    session.set_label(device.0).await?;
    session.insert("user", name).await?;
    Ok(Redirect::to("/dashboard"))
}

#[get("/dashboard")]
async fn dashboard(session: Session) -> Result<Either<RawHtml<String>, Redirect>> {
    let Some(user) = session.get::<String>("user").await? else {
        return Ok(Either::Right(Redirect::to("/login")));
    };
    let visits = session
        .update("dashboard_visits", |n: Option<u64>| n.unwrap_or(0) + 1)
        .await?;
    Ok(Either::Left(page(
        "Dashboard",
        &format!(
            "<p>Welcome, <b id=user>{}</b>. Dashboard visits this session: {visits}.</p>\
             <p><a href=/devices>Your devices</a></p>\
             <form method=post action=/logout><button>Log out</button></form>",
            escape(&user)
        ),
    )))
}

#[get("/devices")]
async fn devices(session: Session) -> Result<Either<RawHtml<String>, Redirect>> {
    if session.get::<String>("user").await?.is_none() {
        return Ok(Either::Right(Redirect::to("/login")));
    }
    let mut rows = String::new();
    for d in session.devices().await? {
        let action = if d.current {
            "this device".to_owned()
        } else {
            format!(
                "<form method=post action=/devices/{}/revoke><button>Log out</button></form>",
                d.handle
            )
        };
        let t = d.last_seen.time();
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{:02}:{:02}:{:02}</td><td>{action}</td></tr>",
            escape(d.label.as_deref().unwrap_or("?")),
            d.created_at.date(),
            t.hour(),
            t.minute(),
            t.second(),
        ));
    }
    Ok(Either::Left(page(
        "Your devices",
        &format!(
            "<table><tr><th>device</th><th>since</th><th>last seen (UTC)</th><th></th></tr>{rows}</table>\
             <form method=post action=/devices/revoke-others><button>Log out all other devices</button></form>\
             <p><a href=/dashboard>Dashboard</a></p>"
        ),
    )))
}

#[post("/devices/<handle>/revoke")]
async fn revoke_device(session: Session, handle: &str) -> Result<Redirect> {
    session.revoke(handle).await?;
    Ok(Redirect::to("/devices"))
}

#[post("/devices/revoke-others")]
async fn revoke_others(session: Session) -> Result<Redirect> {
    session.revoke_others().await?;
    Ok(Redirect::to("/devices"))
}

#[post("/logout")]
async fn logout(session: Session) -> Result<Redirect> {
    session.destroy();
    Ok(Redirect::to("/login"))
}

#[rocket::main]
async fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
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
        .mount(
            "/",
            routes![
                home,
                login_form,
                login,
                dashboard,
                devices,
                revoke_device,
                revoke_others,
                logout
            ],
        )
        .attach(SessionFairing::new(config, MemoryStore::new()))
        .attach(AdHoc::on_liftoff("print URL", |rocket| {
            Box::pin(async move {
                let config = rocket.config();
                println!(
                    "login example listening on http://{}:{}/",
                    config.address, config.port
                );
            })
        }))
        .launch()
        .await?;
    Ok(())
}
