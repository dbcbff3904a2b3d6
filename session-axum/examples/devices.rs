//! Sessions per user: log in with a label, list "your devices", revoke one,
//! the others, or all of them from a handler that holds the manager. The
//! README's per-user snippet is this file (`xtask/readme/tests/readme.rs` checks it).
//!
//! `SESSION_KEY=$(openssl rand -base64 48) cargo run -p session-axum --example devices`,
//! then `curl -c jar -b jar -X POST localhost:3000/login`,
//! `curl -b jar localhost:3000/devices`.

// README items: begin
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::routing::{get, post};
use session_axum::session_core::SessionManager;
use session_axum::{MemoryStore, Session, SessionConfig, SessionLayer};

type Result<T> = std::result::Result<T, session_axum::Error>;

async fn login(session: Session, headers: HeaderMap) -> Result<&'static str> {
    let user_id = "ada"; // once the password checked out
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let label: String = agent.unwrap_or("unknown").chars().take(100).collect();
    session.regenerate().await?; // new id: fixation defence
    session.set_user(user_id).await?; // index the session under the user
    session.set_label(label).await?; // what "your devices" shows
    Ok("logged in\n")
}

async fn devices(session: Session) -> Result<String> {
    let mut page = String::new();
    for device in session.devices().await? {
        let (label, since) = (device.label.unwrap_or_default(), device.created_at);
        let current = if device.current { " (this one)" } else { "" };
        page += &format!("{} {label} since {since}{current}\n", device.handle);
    }
    Ok(page)
}

async fn revoke(session: Session, Path(handle): Path<String>) -> Result<&'static str> {
    session.revoke(&handle).await?; // one device
    Ok("revoked\n")
}

async fn revoke_others(session: Session) -> Result<String> {
    let n = session.revoke_others().await?; // log out other devices
    Ok(format!("{n} other sessions ended\n"))
}

async fn password_changed(
    State(manager): State<SessionManager>, session: Session,
) -> Result<&'static str> {
    if let Some(user) = session.user().await? {
        manager.revoke_all(&user).await?; // everywhere, this session included
    }
    Ok("logged out everywhere\n")
}
// README items: end

#[tokio::main]
async fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    // README body: begin
    let config = SessionConfig::builder()
        .key_from_env_or_random("SESSION_KEY")
        .build()?;
    let layer = SessionLayer::new(config, MemoryStore::new());
    // Handlers that act beyond their own session get the manager as state.
    let manager = layer.manager().clone();
    let app = Router::new()
        .route("/login", post(login))
        .route("/devices", get(devices))
        .route("/devices/{handle}/revoke", post(revoke))
        .route("/devices/revoke-others", post(revoke_others))
        .route("/password-changed", post(password_changed))
        .with_state(manager)
        .layer(layer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    axum::serve(listener, app).await?;
    // README body: end
    Ok(())
}
