//! A real TLS round trip (feature `tls-rustls`): a throwaway
//! `redis-server` that speaks only TLS, with a CA and a server certificate
//! made by `openssl` at test time, reached over `rediss://` by a store that
//! trusts that CA.
#![cfg(feature = "tls-rustls")]

mod common;

use common::RedisServer;
use common::tls::TestCa;
use session_core::{Created, Saved, Store, Version};
use session_redis::RedisStore;
use time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rediss_round_trip_trusting_a_private_ca() {
    let ca = TestCa::new();
    let server = RedisServer::start_tls(&ca);
    let url = format!("rediss://127.0.0.1:{}", server.port);
    let store = RedisStore::connect_tls(&url, ca.ca_pem())
        .await
        .unwrap_or_else(|e| panic!("connect over TLS to {url}: {e}"))
        .with_prefix("tls-round-trip:");

    let r = common::record(Duration::hours(1), b"over tls");
    assert_eq!(store.create(&r).await.unwrap(), Created::Ok);
    let loaded = store.load(&r.key).await.unwrap().expect("record");
    assert_eq!(loaded.payload, b"over tls");
    assert_eq!(loaded.version, Version::FIRST);

    let mut next = loaded.clone();
    next.version = Version(2);
    next.payload = b"saved over tls".to_vec();
    assert_eq!(store.save(&next, Version::FIRST).await.unwrap(), Saved::Ok);
    let reloaded = store.load(&r.key).await.unwrap().expect("record");
    assert_eq!(reloaded.payload, b"saved over tls");
    assert_eq!(reloaded.version, Version(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rediss_with_an_untrusted_ca_fails_to_connect() {
    let ca = TestCa::new();
    let other = TestCa::new();
    let server = RedisServer::start_tls(&ca);
    let url = format!("rediss://127.0.0.1:{}", server.port);
    let result = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        RedisStore::connect_tls(&url, other.ca_pem()),
    )
    .await
    .expect("connect hung");
    assert!(result.is_err(), "a server signed by another CA was trusted");
}
