//! axum: bare, with session-axum, with tower-sessions.

use axum::{Router, http::StatusCode, routing::get};

use session_axum::testing::{bare_bench_routes as bare, bench_routes as ours};

use crate::{BoxError, PREFIX, Store};

pub(crate) fn run(server: &str, store: Store, port: u16, redis_url: &str) -> Result<(), BoxError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let app = match (server, store) {
            ("axum", _) => bare(),
            ("axum-ours", Store::Memory) => ours().layer(session_axum::SessionLayer::new(
                crate::our_config()?,
                session_core::MemoryStore::new(),
            )),
            ("axum-ours", Store::Redis) => {
                let store = session_redis::RedisStore::connect(redis_url)
                    .await?
                    .with_prefix(PREFIX);
                ours().layer(session_axum::SessionLayer::new(crate::our_config()?, store))
            }
            ("axum-tower", Store::Memory) => tower().layer(
                tower_sessions::SessionManagerLayer::new(tower_sessions::MemoryStore::default())
                    .with_secure(false),
            ),
            ("axum-tower", Store::Redis) => {
                use tower_sessions_redis_store::fred::prelude::{ClientLike, Config, Pool};
                let pool = Pool::new(Config::from_url(redis_url)?, None, None, None, 1)?;
                let _connection = pool.connect();
                pool.wait_for_connect().await?;
                let store = tower_sessions_redis_store::RedisStore::new(pool);
                tower014()
                    .layer(tower_sessions_014::SessionManagerLayer::new(store).with_secure(false))
            }
            _ => return Err(format!("unknown server {server}").into()),
        };
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        axum::serve(listener, app).await?;
        Ok(())
    })
}

type Res = Result<String, StatusCode>;

/// The tower-sessions handlers, for the latest release and for the one
/// the Redis store supports (same code, two crate versions).
macro_rules! tower_router {
    ($krate:ident) => {{
        use $krate::Session;
        async fn read(s: Session) -> Res {
            let n: Option<u64> = s
                .get("n")
                .await
                .map_err(|_| StatusCode::SERVICE_UNAVAILABLE)?;
            Ok(format!("n={}", n.unwrap_or(0)))
        }
        async fn incr(s: Session) -> Res {
            let n: Option<u64> = s
                .get("n")
                .await
                .map_err(|_| StatusCode::SERVICE_UNAVAILABLE)?;
            let n = n.unwrap_or(0) + 1;
            s.insert("n", n)
                .await
                .map_err(|_| StatusCode::SERVICE_UNAVAILABLE)?;
            Ok(format!("n={n}"))
        }
        async fn new(s: Session) -> Res {
            s.insert("n", 0u64)
                .await
                .map_err(|_| StatusCode::SERVICE_UNAVAILABLE)?;
            Ok("new".to_owned())
        }
        Router::new()
            .route("/read", get(read))
            .route("/incr", get(incr))
            .route("/new", get(new))
    }};
}

fn tower() -> Router {
    tower_router!(tower_sessions)
}

fn tower014() -> Router {
    tower_router!(tower_sessions_014)
}
