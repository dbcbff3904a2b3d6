//! `bench-server <server> <store> <port> [redis-url]`: one HTTP server of
//! the `cargo xtask bench` comparison, with one worker thread, on
//! 127.0.0.1:<port>.
//!
//! Routes, the same on every server:
//! - `GET /read`: reads key `n` of the request's session;
//! - `GET /incr`: increments key `n`;
//! - `GET /new`: writes `n = 0` (the client sends no cookie, so a new
//!   session is created).
//!
//! Bare servers answer the same routes without sessions (the baselines).

mod actix;
mod axum_servers;
mod rocket_server;

/// The session key of every server (64 bytes: actix-session's `Key` needs
/// 64, ours 32 or more).
pub(crate) const KEY: [u8; 64] = *b"bench servers key (a test key, public): 5Rk9Tq2Wm7Xv4Zb8Nc1Lp6Hd";

/// Prefix of our Redis keys.
pub(crate) const PREFIX: &str = "bench:";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Store {
    Memory,
    Redis,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: bench-server <server> <memory|redis> <port> [redis-url]\n\
        servers: axum axum-ours axum-tower actix actix-ours actix-peer rocket rocket-ours";
    let (Some(server), Some(store), Some(port)) = (args.first(), args.get(1), args.get(2)) else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let store = match store.as_str() {
        "memory" => Store::Memory,
        "redis" => Store::Redis,
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    };
    let Ok(port) = port.parse::<u16>() else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let redis_url = args
        .get(3)
        .cloned()
        .unwrap_or_else(|| "redis://127.0.0.1:6379".to_owned());
    let result = match server.as_str() {
        "axum" | "axum-ours" | "axum-tower" => axum_servers::run(server, store, port, &redis_url),
        "actix" | "actix-ours" | "actix-peer" => actix::run(server, store, port, &redis_url),
        "rocket" | "rocket-ours" => rocket_server::run(server, store, port, &redis_url),
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    };
    if let Err(e) = result {
        eprintln!("bench-server {server}: {e}");
        std::process::exit(1);
    }
}

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub(crate) fn our_config() -> Result<session_core::SessionConfig, BoxError> {
    Ok(session_core::SessionConfig::builder().key(KEY).build()?)
}
