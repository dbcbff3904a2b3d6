//! The store conformance suite against a throwaway 3-master Redis Cluster
//! started from the local `redis-server` (see `common::Cluster`).
#![cfg(feature = "cluster")]

mod common;

use session_core::{Created, Record, Store, StoreError, Version};
use session_redis::RedisStore;
use time::{Duration, OffsetDateTime};

async fn cluster_store(namespace: String) -> RedisStore {
    let cluster = tokio::task::block_in_place(common::cluster);
    RedisStore::connect_cluster(cluster.urls())
        .await
        .expect("connect to the test cluster")
        .with_prefix(format!("{namespace}:"))
}

// No known failures: every case of the suite passes on the cluster too.
session_core::store_conformance_tests!(cluster_store);

/// The HTTP scenario suite on the cluster.
mod http {
    use super::cluster_store;
    use session_core::testing::direct::DirectApp;

    session_core::http_scenarios!(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        app: DirectApp,
        store: cluster_store,
    );
}

/// Records land on all three masters, each on the slot of its hash tag.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_spread_over_masters_and_keep_their_slot() {
    let namespace = session_core::testing::namespace("spread");
    let store = cluster_store(namespace).await;
    let cluster = common::cluster();
    let mut keys = Vec::new();
    for _ in 0..60 {
        let r = common::record(Duration::hours(1), b"{}");
        assert_eq!(store.create(&r).await.unwrap(), Created::Ok);
        keys.push(r.key);
    }
    let mut per_node = Vec::new();
    for url in cluster.urls() {
        let client = redis::Client::open(url.as_str()).unwrap();
        let mut con = client.get_multiplexed_async_connection().await.unwrap();
        let mut here = 0;
        for key in &keys {
            let rkey = store.redis_key(key);
            let slot: u16 = redis::cmd("CLUSTER")
                .arg("KEYSLOT")
                .arg(&rkey)
                .query_async(&mut con)
                .await
                .unwrap();
            let tag_slot: u16 = redis::cmd("CLUSTER")
                .arg("KEYSLOT")
                .arg(key.as_str())
                .query_async(&mut con)
                .await
                .unwrap();
            assert_eq!(slot, tag_slot, "the hash tag decides the slot");
            // Only the node owning the slot answers; the others reply MOVED.
            let exists: u64 = redis::cmd("EXISTS")
                .arg(&rkey)
                .query_async(&mut con)
                .await
                .unwrap_or(0);
            here += exists;
        }
        per_node.push(here);
    }
    assert_eq!(per_node.iter().sum::<u64>(), 60, "{per_node:?}");
    assert!(per_node.iter().all(|n| *n > 0), "{per_node:?}");
    for key in &keys {
        assert!(store.load(key).await.unwrap().is_some());
    }
}

/// A user's sessions live on many slots (their own keys); the user's index
/// lives on the user's slot; listing, moving and deleting work across them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_index_spans_slots() {
    let namespace = session_core::testing::namespace("user_slots");
    let store = cluster_store(namespace).await;
    let index = store.user_index().expect("index");
    let cluster = common::cluster();
    let client = redis::Client::open(cluster.urls()[0].as_str()).unwrap();
    let con = client.get_multiplexed_async_connection().await.unwrap();
    let slot = |key: String| {
        let mut con = con.clone();
        async move {
            redis::cmd("CLUSTER")
                .arg("KEYSLOT")
                .arg(key)
                .query_async::<u16>(&mut con)
                .await
                .unwrap()
        }
    };
    assert_eq!(
        slot(store.user_key("ada")).await,
        slot("ada".to_owned()).await,
        "the index lives on the user's slot"
    );
    let mut records = Vec::new();
    let mut slots = std::collections::HashSet::new();
    for i in 0..12 {
        let mut r = common::record(Duration::hours(1), format!("{i}").as_bytes());
        r.user = Some("ada".to_owned());
        assert_eq!(store.create(&r).await.unwrap(), Created::Ok);
        slots.insert(slot(store.redis_key(&r.key)).await);
        records.push(r);
    }
    assert!(slots.len() > 1, "sessions on several slots: {slots:?}");
    let mut want: Vec<_> = records.iter().map(|r| r.key).collect();
    want.sort();
    assert_eq!(common::listed_keys(&store, "ada").await, want);
    // Move one to another user, delete the others.
    let mut moved = records[0].clone();
    moved.version = Version(2);
    moved.user = Some("bob".to_owned());
    assert_eq!(
        store.save(&moved, Version::FIRST).await.unwrap(),
        session_core::Saved::Ok
    );
    for r in &records[1..] {
        store.delete(&r.key).await.unwrap();
    }
    assert!(index.user_records("ada").await.unwrap().is_empty());
    assert_eq!(index.user_records("bob").await.unwrap().len(), 1);
}

/// A master dies: calls for keys on its slots fail with a typed error
/// within the bound (no panic, no hang); keys on the other masters keep
/// working. Runs on a cluster of its own, killed by PID when dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_master_gives_typed_errors_and_others_keep_working() {
    let mut cluster = tokio::task::block_in_place(common::start_cluster);
    let store = RedisStore::connect_cluster(cluster.urls())
        .await
        .expect("connect")
        .with_prefix("fault:")
        .with_timeout(std::time::Duration::from_millis(500));
    // Which master holds each key.
    let mut by_node: [Vec<Record>; 3] = Default::default();
    let client = redis::Client::open(cluster.urls()[0].as_str()).unwrap();
    let mut con = client.get_multiplexed_async_connection().await.unwrap();
    let slots: Vec<(u16, u16, (String, u16))> = {
        let raw: Vec<redis::Value> = redis::cmd("CLUSTER")
            .arg("SLOTS")
            .query_async(&mut con)
            .await
            .unwrap();
        raw.into_iter()
            .map(|v| redis::from_redis_value(v).unwrap())
            .map(|(a, b, node): (u16, u16, Vec<redis::Value>)| {
                let host: String = redis::from_redis_value(node[0].clone()).unwrap();
                let port: u16 = redis::from_redis_value(node[1].clone()).unwrap();
                (a, b, (host, port))
            })
            .collect()
    };
    while by_node.iter().any(|v| v.len() < 3) {
        let r = common::record(Duration::hours(1), b"x");
        let slot: u16 = redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(store.redis_key(&r.key))
            .query_async(&mut con)
            .await
            .unwrap();
        let port = slots
            .iter()
            .find(|(a, b, _)| (*a..=*b).contains(&slot))
            .map(|(_, _, (_, p))| *p)
            .expect("slot owner");
        let i = cluster.ports.iter().position(|p| *p == port).expect("node");
        assert_eq!(store.create(&r).await.unwrap(), Created::Ok);
        by_node[i].push(r);
    }
    drop(con);

    cluster.kill_node(2);
    for r in &by_node[2] {
        let got = tokio::time::timeout(std::time::Duration::from_secs(10), store.load(&r.key))
            .await
            .expect("load hung on a dead master");
        match got {
            Err(StoreError::Backend(_) | StoreError::Timeout) => {}
            other => panic!("expected a typed error, got {other:?}"),
        }
    }
    for r in by_node[0].iter().chain(&by_node[1]) {
        let got = tokio::time::timeout(std::time::Duration::from_secs(10), store.load(&r.key))
            .await
            .expect("load hung");
        assert_eq!(
            got.expect("live master answers").expect("record").payload,
            b"x"
        );
    }
}

/// `StoreAdmin` on the cluster walks every master: `count` sees the
/// sessions of all three, and `clear` leaves no session key and no user
/// index (admission records included) on any of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_walks_every_master_and_clears_the_indexes() {
    use redis::AsyncCommands;
    use session_core::{Cap, Login, SessionCap, UserIndex};
    let namespace = session_core::testing::namespace("admin_masters");
    let store = cluster_store(namespace).await;
    let cluster = common::cluster();
    let admin = store.admin().expect("operator capability");
    let cap = Cap {
        max: 2,
        policy: SessionCap::RevokeOldest,
    };
    // 30 sessions of 10 users, 2 kept per user by the cap: 20 live.
    for u in 0..10 {
        let user = format!("user{u}");
        for i in 0..3 {
            let mut r = common::record(Duration::hours(1), b"{}");
            r.user = Some(user.clone());
            let at = OffsetDateTime::now_utc() + Duration::milliseconds(i);
            assert!(matches!(
                store.admit(Login::new(&r, at, cap)).await.unwrap(),
                session_core::Admission::Admitted { .. }
            ));
        }
    }
    // Keys of this store on each master, by SCAN on that master.
    let keys_per_master = || async {
        let mut out = Vec::new();
        for url in cluster.urls() {
            let client = redis::Client::open(url.as_str()).unwrap();
            let mut con = client.get_multiplexed_async_connection().await.unwrap();
            let mut iter: redis::AsyncIter<String> = con
                .scan_match(format!("{}*", store.prefix()))
                .await
                .unwrap();
            let mut n = 0;
            while let Some(key) = iter.next_item().await {
                key.unwrap();
                n += 1;
            }
            out.push(n);
        }
        out
    };
    let before = keys_per_master().await;
    assert!(
        before.iter().all(|n| *n > 0),
        "keys on every master: {before:?}"
    );
    // 20 sessions and 10 indexes.
    assert_eq!(before.iter().sum::<usize>(), 30, "{before:?}");
    assert_eq!(admin.count().await.unwrap(), 20);
    assert_eq!(admin.clear().await.unwrap(), 20);
    assert_eq!(keys_per_master().await, [0, 0, 0], "clear left keys behind");
    assert_eq!(admin.count().await.unwrap(), 0);
}

/// A lazy Cluster store builds with no node reachable and fails its calls
/// with a typed error, in bounded time; one on the running cluster
/// connects on first use and works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lazy_cluster_store_fails_while_unreachable_and_connects_on_first_use() {
    use redis::cluster::ClusterClient;
    let bound = std::time::Duration::from_secs(10);
    let dead = format!("redis://127.0.0.1:{}", common::free_port());
    let down = RedisStore::lazy_cluster(ClusterClient::new(vec![dead]).expect("client"))
        .with_prefix("lazy-cluster-down:");
    let r = common::record(Duration::hours(1), b"lazy");
    match tokio::time::timeout(bound, down.load(&r.key)).await {
        Ok(Err(StoreError::Backend(_) | StoreError::Timeout)) => {}
        other => panic!("expected an outage error, got {other:?}"),
    }

    let cluster = tokio::task::block_in_place(common::cluster);
    let namespace = session_core::testing::namespace("lazy-cluster");
    let up = RedisStore::lazy_cluster(ClusterClient::new(cluster.urls()).expect("client"))
        .with_prefix(format!("{namespace}:"));
    assert_eq!(up.create(&r).await.unwrap(), Created::Ok);
    let got = up.load(&r.key).await.unwrap().expect("record");
    assert_eq!(got.payload, b"lazy");
}
