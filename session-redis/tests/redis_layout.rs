//! What the store leaves in Redis: key layout, value encoding, native TTL,
//! past expiries, shared prefixes, malformed values, script cache loss.

mod common;

use redis::AsyncCommands;
use session_core::{Created, Record, Saved, SessionId, Store, StoreError, Touched, Version};
use session_redis::RedisStore;
use time::{Duration, OffsetDateTime};

use common::record;

fn ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

async fn store(case: &str) -> RedisStore {
    RedisStore::connect(common::redis_url().as_str())
        .await
        .expect("connect")
        .with_prefix(format!("{}:", session_core::testing::namespace(case)))
}

async fn raw() -> redis::aio::MultiplexedConnection {
    redis::Client::open(common::redis_url().as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

#[tokio::test]
async fn records_are_plain_strings_with_native_expiry() {
    let store = store("layout").await;
    let mut con = raw().await;
    let r = record(Duration::hours(1), br#"{"a":1}"#);
    assert_eq!(store.create(&r).await.unwrap(), Created::Ok);
    let key = store.redis_key(&r.key);
    assert_eq!(key, format!("{}{{{}}}", store.prefix(), r.key.as_str()));
    let value: Vec<u8> = con.get(&key).await.unwrap();
    assert_eq!(value, br#"1:{"a":1}"#);
    let at = pexpiretime(&mut con, &key).await;
    assert_eq!(at, ms(r.expires_at));

    let later = r.expires_at + Duration::hours(3);
    assert_eq!(
        store.touch(&r.key, Version::FIRST, later).await.unwrap(),
        Touched::Ok
    );
    let at = pexpiretime(&mut con, &key).await;
    assert_eq!(at, ms(later));
    let value: Vec<u8> = con.get(&key).await.unwrap();
    assert_eq!(value, br#"1:{"a":1}"#, "touch leaves the value alone");

    let mut next = r.clone();
    next.version = Version(2);
    next.payload = b"v2".to_vec();
    next.expires_at = later + Duration::hours(1);
    assert_eq!(store.save(&next, Version::FIRST).await.unwrap(), Saved::Ok);
    let value: Vec<u8> = con.get(&key).await.unwrap();
    assert_eq!(value, b"2:v2");
    let at = pexpiretime(&mut con, &key).await;
    assert_eq!(at, ms(next.expires_at));

    store.delete(&r.key).await.unwrap();
    let exists: u64 = con.exists(&key).await.unwrap();
    assert_eq!(exists, 0);
}

#[tokio::test]
async fn past_expiries_leave_no_live_record() {
    let store = store("past").await;
    let mut con = raw().await;
    // create in the past: nothing live (Redis may report Ok, but no key).
    let dead = record(-Duration::seconds(5), b"dead");
    store.create(&dead).await.unwrap();
    assert_eq!(store.load(&dead.key).await.unwrap(), None);
    let exists: u64 = con.exists(store.redis_key(&dead.key)).await.unwrap();
    assert_eq!(exists, 0);
    // ... and it does not block a later create.
    let mut again = dead.clone();
    again.expires_at = OffsetDateTime::now_utc() + Duration::hours(1);
    assert_eq!(store.create(&again).await.unwrap(), Created::Ok);

    // save with an expiry in the past: the record is gone afterwards.
    let mut past = again.clone();
    past.version = Version(2);
    past.expires_at = OffsetDateTime::now_utc() - Duration::seconds(1);
    store.save(&past, Version::FIRST).await.unwrap();
    assert_eq!(store.load(&again.key).await.unwrap(), None);
    let exists: u64 = con.exists(store.redis_key(&again.key)).await.unwrap();
    assert_eq!(exists, 0);

    // touch into the past ends the record too.
    let live = record(Duration::hours(1), b"x");
    store.create(&live).await.unwrap();
    store
        .touch(&live.key, Version::FIRST, OffsetDateTime::UNIX_EPOCH)
        .await
        .unwrap();
    assert_eq!(store.load(&live.key).await.unwrap(), None);
}

#[tokio::test]
async fn instances_with_one_prefix_share_sessions_and_others_do_not() {
    let a = store("shared").await;
    // A second instance (its own connection) with the same prefix: another
    // app server behind the same load balancer.
    let b = RedisStore::from_client(redis::Client::open(common::redis_url().as_str()).unwrap())
        .await
        .unwrap()
        .with_prefix(a.prefix().to_owned());
    let other = store("other_app").await;
    let r = record(Duration::hours(1), b"shared");
    assert_eq!(a.create(&r).await.unwrap(), Created::Ok);
    assert_eq!(b.load(&r.key).await.unwrap().unwrap().payload, b"shared");
    assert_eq!(other.load(&r.key).await.unwrap(), None);
    assert_eq!(b.create(&r).await.unwrap(), Created::Collision);
    let mut next = r.clone();
    next.version = Version(2);
    assert_eq!(b.save(&next, Version::FIRST).await.unwrap(), Saved::Ok);
    assert_eq!(
        a.save(&next, Version::FIRST).await.unwrap(),
        Saved::Conflict
    );
}

#[tokio::test]
async fn foreign_values_are_malformed_not_panics() {
    let store = store("malformed").await;
    let mut con = raw().await;
    let id = SessionId::random();
    let key = id.hashed_key();
    let rkey = store.redis_key(&key);
    for bad in [&b"not a record"[..], b"x1:payload", b""] {
        let _: () = con.set_ex(&rkey, bad, 60).await.unwrap();
        assert!(
            matches!(store.load(&key).await, Err(StoreError::Malformed(_))),
            "{bad:?}"
        );
        let r = Record {
            key: id.hashed_key(),
            version: Version(2),
            expires_at: OffsetDateTime::now_utc() + Duration::hours(1),
            payload: b"p".to_vec(),
            user: None,
        };
        assert!(matches!(
            store.save(&r, Version::FIRST).await,
            Err(StoreError::Malformed(_))
        ));
    }
    // A value without expiry (not written by this store).
    let _: () = con.set(&rkey, b"1:p").await.unwrap();
    assert!(matches!(
        store.load(&key).await,
        Err(StoreError::Malformed(_))
    ));
    let _: () = con.del(&rkey).await.unwrap();
    // A wrong type answers with a backend error.
    let _: () = con.hset(&rkey, "f", "v").await.unwrap();
    assert!(matches!(
        store.load(&key).await,
        Err(StoreError::Backend(_))
    ));
    let _: () = con.del(&rkey).await.unwrap();
}

#[tokio::test]
async fn lost_script_cache_is_reloaded_on_noscript() {
    // SCRIPT FLUSH on a private server, so no one else is disturbed.
    let server = common::RedisServer::start();
    let client = redis::Client::open(server.url().as_str()).unwrap();
    let manager = redis::aio::ConnectionManager::new_with_config(
        client.clone(),
        RedisStore::manager_config(std::time::Duration::from_secs(2)),
    )
    .await
    .unwrap();
    let store = RedisStore::from_connection_manager(manager);
    let r = record(Duration::hours(1), b"x");
    store.create(&r).await.unwrap();
    assert!(store.load(&r.key).await.unwrap().is_some());
    let mut con = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut con)
        .await
        .unwrap();
    assert!(store.load(&r.key).await.unwrap().is_some());
    let mut next = r.clone();
    next.version = Version(2);
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(store.save(&next, Version::FIRST).await.unwrap(), Saved::Ok);
    // The index scripts too.
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut con)
        .await
        .unwrap();
    let mut mine = record(Duration::hours(1), b"x");
    mine.user = Some("ada".to_owned());
    assert_eq!(store.create(&mine).await.unwrap(), Created::Ok);
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(common::listed_keys(&store, "ada").await, [mine.key]);
}

const GRID_MS: i64 = 3_600_000;

fn bound(t: OffsetDateTime) -> i64 {
    (ms(t) + GRID_MS - 1).div_euclid(GRID_MS) * GRID_MS
}

async fn score(
    con: &mut redis::aio::MultiplexedConnection, set: &str, member: &str,
) -> Option<i64> {
    let s: Option<f64> = con.zscore(set, member).await.unwrap();
    s.map(|s| s as i64)
}

/// The Redis type of `key`.
/// A store for `case`, a raw connection, and the key of `user`'s index.
async fn with_index_key(
    case: &str, user: &str,
) -> (RedisStore, redis::aio::MultiplexedConnection, String) {
    let store = store(case).await;
    let set = store.user_key(user);
    (store, raw().await, set)
}

async fn key_type(con: &mut redis::aio::MultiplexedConnection, key: &str) -> String {
    redis::cmd("TYPE").arg(key).query_async(con).await.unwrap()
}

async fn pexpiretime(con: &mut redis::aio::MultiplexedConnection, key: &str) -> i64 {
    redis::cmd("PEXPIRETIME")
        .arg(key)
        .query_async(con)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_user_is_kept_in_the_value_and_indexed_in_a_sorted_set() {
    let store = store("user_layout").await;
    let index = store.user_index().expect("RedisStore has a user index");
    let mut con = raw().await;
    let mut r = record(Duration::hours(1), br#"{"a":1}"#);
    r.user = Some("ada:{x}".to_owned());
    assert_eq!(store.create(&r).await.unwrap(), Created::Ok);
    let key = store.redis_key(&r.key);
    let value: Vec<u8> = con.get(&key).await.unwrap();
    assert_eq!(value, br#"1u7:ada:{x}:{"a":1}"#);
    assert_eq!(
        store.load(&r.key).await.unwrap(),
        Some(Record {
            expires_at: OffsetDateTime::from_unix_timestamp_nanos(
                i128::from(ms(r.expires_at)) * 1_000_000
            )
            .unwrap(),
            ..r.clone()
        })
    );

    // The index: a sorted set on the user's hash tag, scored with the
    // session's expiry rounded up to the hour, expiring with its highest
    // score.
    let set = store.user_key("ada:{x}");
    assert_eq!(set, format!("{}user:{{ada:{{x}}}}", store.prefix()));
    assert_eq!(key_type(&mut con, &set).await, "zset");
    assert_eq!(
        score(&mut con, &set, r.key.as_str()).await,
        Some(bound(r.expires_at))
    );
    assert_eq!(pexpiretime(&mut con, &set).await, bound(r.expires_at));
    let listed = index.user_records("ada:{x}").await.unwrap();
    assert_eq!(listed.iter().map(|r| r.key).collect::<Vec<_>>(), [r.key]);

    // A touch within the hour cell writes nothing to the index; one past it
    // raises the entry's score and the set's expiry first.
    let cell_end =
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(bound(r.expires_at)) * 1_000_000)
            .unwrap();
    assert_eq!(
        store.touch(&r.key, Version::FIRST, cell_end).await.unwrap(),
        Touched::Ok
    );
    assert_eq!(
        score(&mut con, &set, r.key.as_str()).await,
        Some(bound(r.expires_at))
    );
    let later = r.expires_at + Duration::hours(5);
    assert_eq!(
        store.touch(&r.key, Version::FIRST, later).await.unwrap(),
        Touched::Ok
    );
    assert_eq!(pexpiretime(&mut con, &key).await, ms(later));
    assert_eq!(
        score(&mut con, &set, r.key.as_str()).await,
        Some(bound(later))
    );
    assert_eq!(pexpiretime(&mut con, &set).await, bound(later));
    let value: Vec<u8> = con.get(&key).await.unwrap();
    assert_eq!(
        value, br#"1u7:ada:{x}:{"a":1}"#,
        "touch leaves the value alone"
    );

    // A save that moves the session to another user: the old entry goes,
    // the new one comes (before the write).
    let mut moved = r.clone();
    moved.version = Version(2);
    moved.user = Some("bob".to_owned());
    moved.expires_at = later;
    assert_eq!(store.save(&moved, Version::FIRST).await.unwrap(), Saved::Ok);
    assert_eq!(score(&mut con, &set, r.key.as_str()).await, None);
    let exists: u64 = con.exists(&set).await.unwrap();
    assert_eq!(exists, 0, "an empty index is no key");
    let bobs = store.user_key("bob");
    assert_eq!(
        score(&mut con, &bobs, r.key.as_str()).await,
        Some(bound(later))
    );
    assert!(index.user_records("ada:{x}").await.unwrap().is_empty());
    assert_eq!(index.user_records("bob").await.unwrap().len(), 1);

    // A save back to no user, then a delete: no entry left anywhere.
    let mut anonymous = moved.clone();
    anonymous.version = Version(3);
    anonymous.user = None;
    assert_eq!(store.save(&anonymous, Version(2)).await.unwrap(), Saved::Ok);
    let value: Vec<u8> = con.get(&key).await.unwrap();
    assert_eq!(value, br#"3:{"a":1}"#);
    let exists: u64 = con.exists(&bobs).await.unwrap();
    assert_eq!(exists, 0);
    let mut again = anonymous.clone();
    again.version = Version(4);
    again.user = Some("bob".to_owned());
    assert_eq!(store.save(&again, Version(3)).await.unwrap(), Saved::Ok);
    assert_eq!(index.user_records("bob").await.unwrap().len(), 1);
    store.delete(&r.key).await.unwrap();
    let exists: u64 = con.exists(&[&key, &bobs]).await.unwrap();
    assert_eq!(exists, 0, "delete removes the record and its index entry");
}

#[tokio::test]
async fn values_written_before_the_user_index_still_load() {
    let store = store("old_values").await;
    let mut con = raw().await;
    let key = SessionId::random().hashed_key();
    let rkey = store.redis_key(&key);
    let at = OffsetDateTime::now_utc() + Duration::hours(1);
    let _: () = redis::cmd("SET")
        .arg(&rkey)
        .arg(br#"5:{"f":1}"#)
        .arg("PXAT")
        .arg(ms(at))
        .query_async(&mut con)
        .await
        .unwrap();
    let got = store.load(&key).await.unwrap().expect("record");
    assert_eq!(
        (got.version, got.user.clone(), &got.payload[..]),
        (Version(5), None, &br#"{"f":1}"#[..])
    );
    // Saving it with a user (a login without regenerate) links it.
    let mut next = got.clone();
    next.version = Version(6);
    next.user = Some("ada".to_owned());
    assert_eq!(store.save(&next, Version(5)).await.unwrap(), Saved::Ok);
    let listed = store
        .user_index()
        .unwrap()
        .user_records("ada")
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].version, Version(6));
}

#[tokio::test]
async fn stale_index_entries_are_skipped_and_leave_with_their_bound() {
    let (store, mut con, set) = with_index_key("stale_entries", "eve").await;
    let index = store.user_index().unwrap();
    // Entries the store would leave after a failed ZREM or a crash between
    // LINK and the session write: a missing record, another user's record,
    // a record without user, a member that is no store key.
    let mut other = record(Duration::hours(1), b"x");
    other.user = Some("mallory".to_owned());
    store.create(&other).await.unwrap();
    let anonymous = record(Duration::hours(1), b"y");
    store.create(&anonymous).await.unwrap();
    let far = ms(OffsetDateTime::now_utc() + Duration::hours(2));
    let missing = SessionId::random().hashed_key();
    for member in [
        missing.as_str(),
        other.key.as_str(),
        anonymous.key.as_str(),
        "not a key!",
    ] {
        let _: () = con.zadd(&set, member, far).await.unwrap();
    }
    // An entry whose bound has passed.
    let _: () = con
        .zadd(
            &set,
            "gone",
            ms(OffsetDateTime::now_utc() - Duration::minutes(2)),
        )
        .await
        .unwrap();
    let mut mine = record(Duration::hours(1), b"z");
    mine.user = Some("eve".to_owned());
    store.create(&mine).await.unwrap();
    let listed = index.user_records("eve").await.unwrap();
    assert_eq!(listed.iter().map(|r| r.key).collect::<Vec<_>>(), [mine.key]);
    let n: u64 = con.zcard(&set).await.unwrap();
    assert_eq!(n, 5, "only the entry past its bound is dropped");
}

#[tokio::test]
async fn logins_under_a_cap_keep_their_time_in_the_index_and_clear_removes_all() {
    use session_core::{Admission, Cap, Login, SessionCap};
    let (store, mut con, set) = with_index_key("login_times", "ada").await;
    let index = store.user_index().unwrap();
    let t0 = OffsetDateTime::now_utc();
    let cap = Cap {
        max: 2,
        policy: SessionCap::RevokeOldest,
    };
    let mut records = Vec::new();
    // Login times out of creation order: the second record is the oldest
    // login, so it is the one the third login revokes.
    for offset in [10, 0, 20] {
        let mut r = record(Duration::hours(1), b"x");
        r.user = Some("ada".to_owned());
        let admitted = index
            .admit(Login::new(&r, t0 + Duration::seconds(offset), cap))
            .await
            .unwrap();
        records.push((r, admitted));
    }
    assert_eq!(records[2].1, Admission::Admitted { revoked: 1 });
    assert_eq!(store.load(&records[1].0.key).await.unwrap(), None);
    assert!(store.load(&records[0].0.key).await.unwrap().is_some());
    // No second key: the login times live in the index itself, as one
    // admission record per admitted session, scored 2^52.
    assert_eq!(key_type(&mut con, &set).await, "zset");
    let logins_key = format!("{set}:login");
    let old: u64 = con.exists(&logins_key).await.unwrap();
    assert_eq!(old, 0, "no separate login set");
    let members: Vec<(String, f64)> = con.zrange_withscores(&set, 0, -1).await.unwrap();
    for (i, offset) in [(0, 10), (2, 20)] {
        let key = records[i].0.key.as_str();
        let admission: Vec<&(String, f64)> = members
            .iter()
            .filter(|(m, _)| m.starts_with(&format!("{key}:")))
            .collect();
        assert_eq!(admission.len(), 1, "one admission record: {members:?}");
        let (m, score) = admission[0];
        assert_eq!(*score, 4_503_599_627_370_496.0);
        let fields: Vec<&str> = m.split(':').collect();
        assert_eq!(fields[1], ms(t0 + Duration::seconds(offset)).to_string());
        assert_eq!(fields[2], "c", "confirmed: {m}");
        assert!(
            members.iter().any(|(m, _)| m == key),
            "the entry itself is listed"
        );
    }
    // Listings return store keys only.
    let mut want = vec![records[0].0.key, records[2].0.key];
    want.sort();
    assert_eq!(common::listed_keys(&store, "ada").await, want);

    let admin = store
        .admin()
        .expect("RedisStore has the operator capability");
    assert_eq!(admin.count().await.unwrap(), 2);
    assert_eq!(admin.clear().await.unwrap(), 2);
    let exists: u64 = con
        .exists(&[store.redis_key(&records[0].0.key), store.user_key("ada")])
        .await
        .unwrap();
    assert_eq!(exists, 0, "clear leaves no session or index");
    assert_eq!(admin.count().await.unwrap(), 0);
}

/// The counting rules of a login under a cap, on hand-made admission
/// records: a pending login within its lease counts as live though its
/// record is not written yet; a pending one past its lease whose record
/// does not exist is left out and revoked (it can never confirm); a
/// revoked key is never admitted again.
#[tokio::test]
async fn pending_logins_count_by_their_lease_and_revoked_ones_never_return() {
    use session_core::{Admission, Cap, Login, SessionCap};
    let (store, mut con, set) = with_index_key("admission_states", "ada").await;
    let index = store.user_index().unwrap();
    let now_ms = ms(OffsetDateTime::now_utc());
    let bound = now_ms + 7_200_000;
    // Two logins in flight elsewhere: `fresh` within its lease, `lapsed`
    // past it; neither has written its record.
    let fresh = record(Duration::hours(1), b"x").key;
    let lapsed = record(Duration::hours(1), b"x").key;
    for (key, lease) in [(fresh, now_ms + 60_000), (lapsed, now_ms - 1_000)] {
        let k = key.as_str();
        let _: () = con.zadd(&set, k, bound).await.unwrap();
        let meta = format!("{k}:{now_ms}:p:{lease}:other");
        let _: () = con
            .zadd(&set, meta, 4_503_599_627_370_496i64)
            .await
            .unwrap();
    }
    let refuse = Cap {
        max: 1,
        policy: SessionCap::RefuseLogin,
    };
    let mut mine = record(Duration::hours(1), b"x");
    mine.user = Some("ada".to_owned());
    assert_eq!(
        index
            .admit(Login::new(&mine, OffsetDateTime::now_utc(), refuse))
            .await
            .unwrap(),
        Admission::Refused { live: 1 },
        "the login within its lease counts, the lapsed one does not"
    );
    assert_eq!(
        store.load(&mine.key).await.unwrap(),
        None,
        "refused: written"
    );
    let members: Vec<String> = con.zrange(&set, 0, -1).await.unwrap();
    assert!(
        members
            .iter()
            .any(|m| m.starts_with(&format!("{}:", lapsed.as_str())) && m.contains(":r:")),
        "the lapsed login is revoked: {members:?}"
    );
    assert!(
        !members.iter().any(|m| m.starts_with(mine.key.as_str())),
        "a refused login is not listed: {members:?}"
    );
    // Under RevokeOldest the login in flight is the victim...
    let revoke = Cap {
        max: 1,
        policy: SessionCap::RevokeOldest,
    };
    assert_eq!(
        index
            .admit(Login::new(&mine, OffsetDateTime::now_utc(), revoke))
            .await
            .unwrap(),
        Admission::Admitted { revoked: 1 }
    );
    assert!(store.load(&mine.key).await.unwrap().is_some());
    // ...and when it writes its record and tries again, it is gone.
    let mut late = record(Duration::hours(1), b"x");
    late.key = fresh;
    late.user = Some("ada".to_owned());
    assert_eq!(
        index
            .admit(Login::new(&late, OffsetDateTime::now_utc(), revoke))
            .await
            .unwrap(),
        Admission::Gone
    );
    assert_eq!(store.load(&fresh).await.unwrap(), None);
    assert_eq!(common::listed_keys(&store, "ada").await, [mine.key]);
}
