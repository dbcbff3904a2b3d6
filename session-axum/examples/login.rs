//! Login / dashboard / logout, as in the express-session tutorials.
//!
//! `cargo run -p session-axum --example login`, then open the printed URL.
//! The id is regenerated at login (session fixation defence) and logout
//! destroys the session on the server.

use axum::extract::Path;
use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use session_axum::{MemoryStore, Secure, Session, SessionConfig, SessionLayer};

type Result<T> = std::result::Result<T, session_axum::Error>;

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><meta charset=utf-8><title>{title}</title><h1>{title}</h1>{body}"
    ))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn home(session: Session) -> Result<Html<String>> {
    Ok(match session.get::<String>("user").await? {
        Some(user) => page(
            &format!("Hello, {}", escape(&user)),
            "<p><a href=/dashboard>Dashboard</a></p>",
        ),
        None => page("Hello, guest", "<p><a href=/login>Log in</a></p>"),
    })
}

async fn login_form() -> Html<String> {
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
}

/// A short device label from the `User-Agent` header.
fn device_label(headers: &HeaderMap) -> String {
    let ua = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("unknown client");
    ua.chars().take(60).collect()
}

async fn login(session: Session, headers: HeaderMap, Form(form): Form<Login>) -> Result<Response> {
    let name = form.username.trim();
    if name.is_empty() {
        return Ok(Redirect::to("/login").into_response());
    }
    // A new id at login: an id planted before login is worthless after it.
    session.regenerate().await?;
    // Tie the session to the user: "your devices" lists and revokes by user.
    session.set_user(name).await?;
    session.set_label(device_label(&headers)).await?;
    session.insert("user", name).await?;
    Ok(Redirect::to("/dashboard").into_response())
}

async fn dashboard(session: Session) -> Result<Response> {
    let Some(user) = session.get::<String>("user").await? else {
        return Ok(Redirect::to("/login").into_response());
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
    )
    .into_response())
}

async fn devices(session: Session) -> Result<Response> {
    if session.get::<String>("user").await?.is_none() {
        return Ok(Redirect::to("/login").into_response());
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
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{action}</td></tr>",
            escape(d.label.as_deref().unwrap_or("?")),
            d.created_at.date(),
            {
                let t = d.last_seen.time();
                format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second())
            },
        ));
    }
    Ok(page(
        "Your devices",
        &format!(
            "<table><tr><th>device</th><th>since</th><th>last seen (UTC)</th><th></th></tr>{rows}</table>\
             <form method=post action=/devices/revoke-others><button>Log out all other devices</button></form>\
             <p><a href=/dashboard>Dashboard</a></p>"
        ),
    )
    .into_response())
}

async fn revoke_device(session: Session, Path(handle): Path<String>) -> Result<Redirect> {
    session.revoke(&handle).await?;
    Ok(Redirect::to("/devices"))
}

async fn revoke_others(session: Session) -> Result<Redirect> {
    session.revoke_others().await?;
    Ok(Redirect::to("/devices"))
}

async fn logout(session: Session) -> Result<Redirect> {
    session.destroy();
    Ok(Redirect::to("/login"))
}

#[tokio::main]
async fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let config = SessionConfig::builder()
        .key_from_env_or_random("SESSION_KEY")
        // Plain HTTP on localhost: send the Secure attribute only over HTTPS.
        .secure(Secure::Auto)
        .build()?;
    let app = Router::new()
        .route("/", get(home))
        .route("/login", get(login_form).post(login))
        .route("/dashboard", get(dashboard))
        .route("/devices", get(devices))
        .route("/devices/{handle}/revoke", post(revoke_device))
        .route("/devices/revoke-others", post(revoke_others))
        .route("/logout", post(logout))
        .layer(SessionLayer::new(config, MemoryStore::new()));
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".into());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!(
        "login example listening on http://{}/",
        listener.local_addr()?
    );
    axum::serve(listener, app).await?;
    Ok(())
}
