//! Login / dashboard / logout, as in the express-session tutorials.
//!
//! `cargo run -p session-actix --example login`, then open the printed URL.
//! Any non-empty username logs in (the password field is optional: this is
//! about sessions, not credentials). The id is regenerated at login (session
//! fixation defence) and logout destroys the session on the server.
//! `PORT` picks another port; `SESSION_KEY` (32 bytes or more) keeps
//! sessions valid across restarts.

use actix_web::http::header;
use actix_web::{App, HttpResponse, HttpServer, web};
use serde::Deserialize;
use session_actix::{MemoryStore, Secure, Session, SessionConfig, SessionMiddleware};

type Result<T> = std::result::Result<T, session_actix::Error>;

fn page(title: &str, body: &str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(format!(
            "<!doctype html><meta charset=utf-8><title>{title}</title><h1>{title}</h1>{body}\n"
        ))
}

fn redirect(to: &'static str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .finish()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn home(session: Session) -> Result<HttpResponse> {
    Ok(match session.get::<String>("user").await? {
        Some(user) => page(
            &format!("Hello, {}", escape(&user)),
            "<p><a href=/dashboard>Dashboard</a></p>",
        ),
        None => page("Hello, guest", "<p><a href=/login>Log in</a></p>"),
    })
}

async fn login_form() -> HttpResponse {
    page(
        "Log in",
        "<form method=post action=/login>\
         <label>Username <input name=username required></label> \
         <label>Password <input name=password type=password></label> \
         <button>Log in</button></form>",
    )
}

#[derive(Deserialize)]
struct Login {
    username: String,
    /// Accepted and ignored: any non-empty username logs in.
    #[allow(dead_code)]
    password: Option<String>,
}

async fn login(
    session: Session, req: actix_web::HttpRequest, form: web::Form<Login>,
) -> Result<HttpResponse> {
    let name = form.username.trim();
    if name.is_empty() {
        return Ok(redirect("/login"));
    }
    // A new id at login: an id planted before login is worthless after it.
    session.regenerate().await?;
    // Tie the session to the user: "your devices" lists and revokes by user.
    session.set_user(name).await?;
    let device = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("unknown client");
    session
        .set_label(device.chars().take(60).collect::<String>())
        .await?;
    session.insert("user", name).await?;
    Ok(redirect("/dashboard"))
}

async fn dashboard(session: Session) -> Result<HttpResponse> {
    let Some(user) = session.get::<String>("user").await? else {
        return Ok(redirect("/login"));
    };
    let visits = session
        .update("dashboard_visits", |n: Option<u64>| n.unwrap_or(0) + 1)
        .await?;
    Ok(page(
        "Dashboard",
        &format!(
            "<p>Welcome, <b id=user>{}</b>. Dashboard visits this session: {visits}.</p>\
             <p><a href=/devices>Your devices</a></p>\
             <form method=post action=/logout><button>Log out</button></form>",
            escape(&user)
        ),
    ))
}

async fn devices(session: Session) -> Result<HttpResponse> {
    if session.get::<String>("user").await?.is_none() {
        return Ok(redirect("/login"));
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
    Ok(page(
        "Your devices",
        &format!(
            "<table><tr><th>device</th><th>since</th><th>last seen (UTC)</th><th></th></tr>{rows}</table>\
             <form method=post action=/devices/revoke-others><button>Log out all other devices</button></form>\
             <p><a href=/dashboard>Dashboard</a></p>"
        ),
    ))
}

async fn revoke_device(session: Session, handle: web::Path<String>) -> Result<HttpResponse> {
    session.revoke(&handle).await?;
    Ok(redirect("/devices"))
}

async fn revoke_others(session: Session) -> Result<HttpResponse> {
    session.revoke_others().await?;
    Ok(redirect("/devices"))
}

async fn logout(session: Session) -> Result<HttpResponse> {
    session.destroy();
    Ok(redirect("/login"))
}

#[actix_web::main]
async fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
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
            .route("/", web::get().to(home))
            .route("/login", web::get().to(login_form))
            .route("/login", web::post().to(login))
            .route("/dashboard", web::get().to(dashboard))
            .route("/devices", web::get().to(devices))
            .route("/devices/{handle}/revoke", web::post().to(revoke_device))
            .route("/devices/revoke-others", web::post().to(revoke_others))
            .route("/logout", web::post().to(logout))
    })
    .bind(("127.0.0.1", port))?;
    for addr in server.addrs() {
        println!("login example listening on http://{addr}/");
    }
    server.run().await?;
    Ok(())
}
