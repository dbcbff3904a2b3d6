//! The demo app: what the express-session tutorials show, in axum.
//!
//! ```sh
//! cargo run -p session-axum --example demo                 # SQLite file (default)
//! cargo run -p session-axum --example demo -- --store memory
//! cargo run -p session-axum --example demo -- --store redis --port 8080
//! cargo run -p session-axum --example demo -- --store postgres
//! cargo run -p session-axum --example demo -- --store mysql
//! ```
//!
//! Pages: `/` (greeting and page-view counter), `/login` (form, POST),
//! `/dashboard` (redirects to `/login` without a session), `/logout`
//! (POST, destroys the session), `/session` (the session's data, id prefix,
//! expiry and the cookie attributes in use). Plain HTML, no JavaScript.
//!
//! The SQLite store and the signing key live under `target/demo/`, so a
//! restart keeps users logged in. `REDIS_URL`, `DATABASE_URL` and
//! `MYSQL_URL` choose the servers for the other stores; `SESSION_KEY` overrides the key.

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use session_axum::{Session, SessionLayer};
use session_core::{MemoryStore, SameSite, Secure, SessionConfig, SessionManager, Store};

type Result<T> = std::result::Result<T, session_axum::Error>;

struct Demo {
    store_name: String,
    config: SessionConfig,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page(title: &str, user: Option<&str>, body: &str) -> Html<String> {
    let nav = match user {
        Some(_) => {
            "<a href=/>Home</a> · <a href=/dashboard>Dashboard</a> · <a href=/session>Session</a> · \
                    <form method=post action=/logout style=display:inline><button>Log out</button></form>"
        }
        None => {
            "<a href=/>Home</a> · <a href=/login>Log in</a> · <a href=/dashboard>Dashboard</a> · <a href=/session>Session</a>"
        }
    };
    Html(format!(
        "<!doctype html><html><head><meta charset=utf-8><title>{title}</title>\
         <style>body{{font-family:sans-serif;max-width:40em;margin:2em auto}}td,th{{padding:2px 8px;text-align:left}}</style>\
         </head><body><nav>{nav}</nav><h1>{title}</h1>{body}</body></html>"
    ))
}

async fn home(session: Session) -> Result<Html<String>> {
    let views = session
        .update("views", |n: Option<u64>| n.unwrap_or(0) + 1)
        .await?;
    let user = session.get::<String>("user").await?;
    let greeting = match &user {
        Some(name) => format!("Hello, {}!", escape(name)),
        None => "Hello, guest!".to_owned(),
    };
    let times = if views == 1 { "time" } else { "times" };
    Ok(page(
        &greeting,
        user.as_deref(),
        &format!("<p id=views>You have viewed this page {views} {times}.</p>"),
    ))
}

async fn login_form(session: Session) -> Result<Response> {
    if session.get::<String>("user").await?.is_some() {
        return Ok(Redirect::to("/dashboard").into_response());
    }
    Ok(page(
        "Log in",
        None,
        "<form method=post action=/login>\
         <p><label>Username <input id=username name=username required autofocus></label></p>\
         <p><label>Password <input id=password name=password type=password></label></p>\
         <p><button id=submit>Log in</button></p></form>\
         <p>Any name works; the password is not checked in this demo.</p>",
    )
    .into_response())
}

#[derive(Deserialize)]
struct Login {
    username: String,
}

async fn login(session: Session, Form(form): Form<Login>) -> Result<Redirect> {
    let name = form.username.trim();
    if name.is_empty() || name.len() > 100 {
        return Ok(Redirect::to("/login"));
    }
    // A new id at login: an id planted before login is worthless after it.
    session.regenerate().await?;
    session.insert("user", name).await?;
    Ok(Redirect::to("/dashboard"))
}

async fn dashboard(session: Session) -> Result<Response> {
    let Some(user) = session.get::<String>("user").await? else {
        return Ok(Redirect::to("/login").into_response());
    };
    Ok(page(
        "Dashboard",
        Some(&user),
        &format!(
            "<p>Welcome, <b id=user>{}</b>. Only logged-in users see this page.</p>",
            escape(&user)
        ),
    )
    .into_response())
}

async fn logout(session: Session) -> Result<Redirect> {
    session.destroy();
    Ok(Redirect::to("/login"))
}

async fn session_page(State(demo): State<Arc<Demo>>, session: Session) -> Result<Html<String>> {
    let data = session.entries().await?;
    let user = data.get("user").and_then(|v| v.as_str()).map(str::to_owned);
    let id = session.id().await?;
    let stored = !session.is_new().await?;
    let expires = session.expires_at().await?;
    let mut rows = String::new();
    for (k, v) in &data {
        rows.push_str(&format!(
            "<tr><td>{}</td><td><code>{}</code></td></tr>",
            escape(k),
            escape(&v.to_string())
        ));
    }
    if rows.is_empty() {
        rows.push_str("<tr><td colspan=2>(empty)</td></tr>");
    }
    let c = &demo.config;
    let same_site = match c.same_site() {
        SameSite::Strict => "Strict",
        SameSite::Lax => "Lax",
        SameSite::None => "None",
    };
    let body = format!(
        "<h2>Data</h2><table id=data><tr><th>key</th><th>value</th></tr>{rows}</table>\
         <h2>Session</h2><table>\
         <tr><td>id prefix</td><td><code id=idprefix>{}</code> (the full id is never shown)</td></tr>\
         <tr><td>stored</td><td>{}</td></tr>\
         <tr><td>expires</td><td id=expires>{}</td></tr>\
         <tr><td>store</td><td>{}</td></tr></table>\
         <h2>Cookie</h2><table>\
         <tr><td>name</td><td><code>{}</code></td></tr><tr><td>Path</td><td>{}</td></tr>\
         <tr><td>HttpOnly</td><td>{}</td></tr><tr><td>Secure</td><td>{:?}</td></tr>\
         <tr><td>SameSite</td><td>{same_site}</td></tr>\
         <tr><td>idle timeout</td><td>{}</td></tr><tr><td>absolute timeout</td><td>{}</td></tr></table>",
        id.short(),
        if stored {
            "yes"
        } else {
            "no (nothing to store yet)"
        },
        expires,
        escape(&demo.store_name),
        escape(c.cookie_name()),
        escape(c.path()),
        c.http_only(),
        c.secure(),
        c.idle_timeout().map_or("none".into(), |d| d.to_string()),
        c.absolute_timeout()
            .map_or("none".into(), |d| d.to_string()),
    );
    Ok(page("Your session", user.as_deref(), &body))
}

struct Args {
    store: String,
    port: u16,
}

fn parse_args() -> std::result::Result<Args, String> {
    let mut args = Args {
        store: "sqlite".into(),
        port: 3000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--store" => {
                args.store = it
                    .next()
                    .ok_or("--store needs memory|sqlite|redis|postgres|mysql")?
            }
            "--port" => {
                args.port = it
                    .next()
                    .and_then(|p| p.parse().ok())
                    .ok_or("--port needs a number (0 picks a free port)")?
            }
            "-h" | "--help" => {
                return Err(
                    "usage: demo [--store memory|sqlite|redis|postgres|mysql] [--port N]".into(),
                );
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(args)
}

fn data_dir() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    std::fs::canonicalize(&root)
        .unwrap_or(root)
        .join("target")
        .join("demo")
}

/// The signing key: `SESSION_KEY`, else a key kept in `target/demo/` so a
/// restart keeps sessions valid.
fn key() -> std::io::Result<Vec<u8>> {
    if let Ok(k) = std::env::var("SESSION_KEY") {
        return Ok(k.into_bytes());
    }
    let path = data_dir().join("session.key");
    if let Ok(k) = std::fs::read(&path)
        && k.len() >= 32
    {
        return Ok(k);
    }
    std::fs::create_dir_all(data_dir())?;
    let mut k = Vec::new();
    for _ in 0..2 {
        k.extend_from_slice(session_core::SessionId::random().to_string().as_bytes());
    }
    std::fs::write(&path, &k)?;
    Ok(k)
}

async fn store(
    name: &str,
) -> std::result::Result<(Arc<dyn Store>, String), Box<dyn std::error::Error>> {
    Ok(match name {
        "memory" => (
            Arc::new(MemoryStore::new()),
            "memory (lost on restart)".into(),
        ),
        "sqlite" => {
            std::fs::create_dir_all(data_dir())?;
            let path = data_dir().join("sessions.db");
            let store = session_sqlx::SqliteStore::connect(&format!(
                "sqlite://{}?mode=rwc",
                path.display()
            ))
            .await?;
            store.migrate().await?;
            (Arc::new(store), format!("SQLite file {}", path.display()))
        }
        "redis" => {
            let url =
                std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
            let store = session_redis::RedisStore::connect(url.as_str())
                .await?
                .with_prefix("demo:");
            (Arc::new(store), format!("Redis {url}"))
        }
        "postgres" => {
            let url = std::env::var("DATABASE_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
            let store = session_sqlx::PostgresStore::connect(&url).await?;
            store.migrate().await?;
            (Arc::new(store), format!("PostgreSQL {url}"))
        }
        "mysql" => {
            let url = std::env::var("MYSQL_URL")
                .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into());
            let store = session_sqlx::MySqlStore::connect(&url)
                .await?
                .with_table("demo_sessions")?;
            store.migrate().await?;
            (Arc::new(store), format!("MySQL/MariaDB {url}"))
        }
        other => {
            return Err(
                format!("unknown store {other:?}: memory|sqlite|redis|postgres|mysql").into(),
            );
        }
    })
}

#[tokio::main]
async fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let config = SessionConfig::builder()
        .key(key()?)
        // Plain HTTP on localhost: the Secure attribute only over HTTPS.
        .secure(Secure::Auto)
        .build()?;
    let (store, store_name) = store(&args.store).await?;
    let manager = SessionManager::from_arc(config.clone(), store);
    let demo = Arc::new(Demo { store_name, config });
    let app = Router::new()
        .route("/", get(home))
        .route("/login", get(login_form).post(login))
        .route("/dashboard", get(dashboard))
        .route("/logout", post(logout))
        .route("/session", get(session_page))
        .with_state(demo.clone())
        .layer(SessionLayer::from_manager(manager));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await?;
    println!(
        "demo ({}) listening on http://{}/",
        demo.store_name,
        listener.local_addr()?
    );
    axum::serve(listener, app).await?;
    Ok(())
}
