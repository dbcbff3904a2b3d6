//! Boot while Redis is down: an app built on a lazy store
//! ([`RedisStore::connect_lazy`]) starts with nothing listening on its
//! Redis port, answers the failure response (503) while Redis is
//! unreachable, and serves sessions once a server comes up on that port,
//! with the same app and store (no restart). The app is the core's
//! framework-free reference adapter (`session_core::testing::direct`, the
//! one every adapter's contract is checked against), driven in-process; Redis is a throwaway
//! `redis-server` started by the test on a free loopback port and killed by
//! PID.

mod common;

use std::time::Duration;

use common::RedisServer;
use http::StatusCode;
use session_core::testing::direct::DirectApp;
use session_core::testing::http::{Browser, TestApp, base_config};
use session_core::{SessionManager, Store, StoreError};
use session_redis::RedisStore;

/// A bound on any single call: calls while Redis is down must fail, not
/// hang (the store's own timeout is 2 s).
const BOUND: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_boots_while_redis_is_down_and_serves_once_it_is_up() {
    let port = common::free_port();
    let url = format!("redis://127.0.0.1:{port}");
    let store = RedisStore::connect_lazy(&url)
        .expect("a valid URL")
        .with_prefix("boot-while-down:");
    let config = base_config().build().expect("config");
    let client = DirectApp
        .client(SessionManager::new(config, store.clone()))
        .await;
    let mut browser = Browser::new(&*client);

    // Down: the request that needs the store gets the failure response,
    // without a cookie, and in bounded time.
    let reply = tokio::time::timeout(BOUND, browser.post("/set/n", "41"))
        .await
        .expect("request hung while Redis is down");
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        reply.body
    );
    assert_eq!(reply.ours, None, "a cookie was issued while Redis is down");
    // The store's own answer is the typed outage error.
    let key = session_core::SessionId::random().hashed_key();
    match tokio::time::timeout(BOUND, store.load(&key)).await {
        Ok(Err(StoreError::Backend(cause))) => {
            assert!(
                cause.downcast_ref::<redis::RedisError>().is_some(),
                "{cause:?}"
            )
        }
        Ok(Err(StoreError::Timeout)) => {}
        other => panic!("expected an outage error, got {other:?}"),
    }

    // Up: a server on that port; the same app serves a working session.
    let _server = RedisServer::start_on(port, Vec::new());
    let mut reply = None;
    for _ in 0..40 {
        let r = tokio::time::timeout(BOUND, browser.post("/set/n", "41"))
            .await
            .expect("request hung");
        if r.status == StatusCode::OK {
            reply = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let reply = reply.expect("the app never served the session after Redis came up");
    assert!(reply.ours.is_some(), "no session cookie after the write");
    assert_eq!(browser.post("/incr/n", "").await.body, "42");
    let read = browser.get("/get/n").await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.body, "42");
}

#[tokio::test]
async fn connect_lazy_rejects_a_bad_url_at_once() {
    assert!(RedisStore::connect_lazy("not a url").is_err());
    assert!(RedisStore::connect_lazy("http://127.0.0.1:6379").is_err());
}
