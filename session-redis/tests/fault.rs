//! Fault tests against a throwaway `redis-server` on its own port: a killed
//! server gives typed errors (no panic, no hang), a restarted one is used
//! again by the same store instance; a frozen server gives `Timeout`.

mod common;

use std::time::Duration as StdDuration;

use common::RedisServer;
use session_core::{Created, Record, Store, StoreError, Version};
use session_redis::RedisStore;
use time::{Duration, OffsetDateTime};

const BOUND: StdDuration = StdDuration::from_secs(10);

fn record(payload: &[u8]) -> Record {
    common::record(Duration::hours(1), payload)
}

/// Every store method, each under a 10 s bound; returns the errors.
async fn all_calls_fail(store: &RedisStore, r: &Record) -> Vec<StoreError> {
    let mut errors = Vec::new();
    let mut next = r.clone();
    next.version = Version(2);
    macro_rules! expect_err {
        ($name:literal, $call:expr) => {
            match tokio::time::timeout(BOUND, $call).await {
                Err(_) => panic!("{} hung past {:?}", $name, BOUND),
                Ok(Ok(v)) => panic!("{} succeeded against a dead server: {v:?}", $name),
                Ok(Err(e)) => errors.push(e),
            }
        };
    }
    expect_err!("load", store.load(&r.key));
    expect_err!("create", store.create(&record(b"new")));
    expect_err!("save", store.save(&next, Version::FIRST));
    expect_err!(
        "touch",
        store.touch(
            &r.key,
            Version::FIRST,
            OffsetDateTime::now_utc() + Duration::hours(2)
        )
    );
    expect_err!("retire", store.retire(&r.key, Version::FIRST));
    expect_err!("delete", store.delete(&r.key));
    errors
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_server_gives_errors_and_restarted_server_is_used_again() {
    let mut server = RedisServer::start();
    let store = RedisStore::connect(server.url().as_str())
        .await
        .expect("connect")
        .with_prefix("fault:");
    let r = record(b"before");
    assert_eq!(store.create(&r).await.unwrap(), Created::Ok);
    assert!(store.load(&r.key).await.unwrap().is_some());

    server.kill();
    let errors = all_calls_fail(&store, &r).await;
    assert_eq!(errors.len(), 6);
    for e in &errors {
        eprintln!("while down: {e:?}");
        // Typed: a backend error carrying the client's cause, or a timeout.
        match e {
            StoreError::Backend(cause) => {
                assert!(cause.downcast_ref::<redis::RedisError>().is_some(), "{e:?}")
            }
            StoreError::Timeout => {}
            other => panic!("unexpected error {other:?}"),
        }
    }
    // Still failing a little later (the reconnect loop is running), and
    // still not hanging.
    tokio::time::sleep(StdDuration::from_millis(300)).await;
    let again = tokio::time::timeout(BOUND, store.load(&r.key))
        .await
        .expect("load hung");
    assert!(again.is_err(), "load succeeded against a dead server");

    server.restart();
    // The same store instance recovers on its own (bounded retries).
    let mut recovered = None;
    for _ in 0..60 {
        match tokio::time::timeout(BOUND, store.load(&r.key)).await {
            Ok(Ok(found)) => {
                recovered = Some(found);
                break;
            }
            Ok(Err(_)) | Err(_) => tokio::time::sleep(StdDuration::from_millis(250)).await,
        }
    }
    // The server keeps nothing across restarts (--save ""): the old record
    // is gone, and the store works again.
    assert_eq!(recovered.expect("store never recovered"), None);
    let fresh = record(b"after");
    assert_eq!(store.create(&fresh).await.unwrap(), Created::Ok);
    let got = store.load(&fresh.key).await.unwrap().expect("record");
    assert_eq!(got.payload, b"after");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frozen_server_gives_timeout_then_recovers() {
    let server = RedisServer::start();
    let store = RedisStore::connect(server.url().as_str())
        .await
        .expect("connect")
        .with_prefix("frozen:")
        .with_timeout(StdDuration::from_millis(300));
    let r = record(b"x");
    assert_eq!(store.create(&r).await.unwrap(), Created::Ok);

    assert!(common::signal(server.pid(), "STOP"), "SIGSTOP failed");
    let result = tokio::time::timeout(BOUND, store.load(&r.key)).await;
    // Resume before asserting, so a failure leaves no frozen process.
    assert!(common::signal(server.pid(), "CONT"), "SIGCONT failed");
    assert!(
        matches!(result, Ok(Err(StoreError::Timeout))),
        "expected StoreError::Timeout, got {result:?}"
    );
    let mut loaded = None;
    for _ in 0..40 {
        if let Ok(Ok(Some(got))) = tokio::time::timeout(BOUND, store.load(&r.key)).await {
            loaded = Some(got);
            break;
        }
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    assert_eq!(loaded.expect("store never recovered").payload, b"x");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_server_fails_to_connect_without_hanging() {
    let port = common::free_port();
    let result = tokio::time::timeout(
        StdDuration::from_secs(30),
        RedisStore::connect(format!("redis://127.0.0.1:{port}").as_str()),
    )
    .await
    .expect("connect hung");
    assert!(result.is_err());
}
