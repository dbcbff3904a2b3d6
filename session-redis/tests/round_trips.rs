//! Round trips per request kind, counted with `INFO commandstats` deltas on
//! a private `redis-server` (nothing else talks to it).
//!
//! Every store call is one `EVALSHA` (plus a `SCRIPT LOAD` when the server
//! lacks the script), the removal of an index entry included (`UNLINK`, a
//! `ZREM` in a script); so the top-level commands of a request are
//! `evalsha + script|load`. Commands run inside a script (`GET`,
//! `PEXPIRETIME`, `SET`, `ZADD`, ...) are counted by Redis too, so each
//! expected delta lists them. Commands are sent one after another, except
//! the `load`s of a user's sessions in a listing, which go out together
//! (one round trip of latency for all of them).

mod common;

use std::collections::HashMap;

use common::{RedisServer, commandstats, delta};
use session_core::{Expiry, RequestMeta, SessionConfig, SessionManager, Store, TouchPolicy};
use session_redis::RedisStore;

/// Command counts written as `"name=calls name=calls ..."` (as `INFO
/// commandstats` names commands), for the expectations below.
fn stats(spec: &str) -> HashMap<String, u64> {
    spec.split_whitespace()
        .map(|pair| {
            let (name, calls) = pair.split_once('=').expect("name=calls");
            (name.to_owned(), calls.parse().expect("calls"))
        })
        .collect()
}

/// Asserts the command counts of a measured request against `spec` (see
/// [`stats`]).
#[track_caller]
fn expect_calls(measured: &HashMap<String, u64>, spec: &str, what: &str) {
    assert_eq!(*measured, stats(spec), "{what}");
}

/// Runs one request through the manager; returns the `name=value` pair of
/// the response's cookie, if any (`id=` for a removal).
async fn request<F, Fut>(m: &SessionManager, cookie: Option<&str>, f: F) -> Option<String>
where
    F: FnOnce(session_core::Session) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let session = m.start(cookie.map(str::as_bytes), RequestMeta::default());
    f(session.clone()).await;
    let header = m.finish(&session).await.expect("finish")?;
    header.value.split(';').next().map(str::to_owned)
}

/// Measures the commands of one request.
async fn measure<F, Fut>(
    url: &str, m: &SessionManager, cookie: Option<&str>, f: F,
) -> (HashMap<String, u64>, Option<String>)
where
    F: FnOnce(session_core::Session) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let before = commandstats(url).await;
    let out = request(m, cookie, f).await;
    let after = commandstats(url).await;
    (delta(&before, &after), out)
}

/// A request that reads `n`, which is 1.
async fn reads_one(s: session_core::Session) {
    assert_eq!(s.get::<u64>("n").await.unwrap(), Some(1));
}

/// A request that writes `n = 1`.
async fn writes_one(s: session_core::Session) {
    s.insert("n", 1).await.unwrap();
}

/// A manager over `store` with a per-user cap of 2 that revokes the
/// oldest session.
fn capped(store: &RedisStore) -> SessionManager {
    let config = SessionConfig::builder()
        .key(session_core::test_key("key 9"))
        .max_sessions_per_user(2, session_core::SessionCap::RevokeOldest)
        .build()
        .unwrap();
    SessionManager::new(config, store.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trips_per_request_kind() {
    let server = RedisServer::start();
    let url = server.url();
    let store = RedisStore::connect(url.as_str()).await.unwrap();
    let config = SessionConfig::builder()
        .key(session_core::test_key("key 9"))
        .build()
        .unwrap();
    let m = SessionManager::new(config, store.clone());

    // Cold start: the first EVALSHA of each script meets NOSCRIPT and loads
    // it (once per server, for its lifetime).
    let (cold_new, cookie) = measure(&url, &m, None, |s| async move {
        s.insert("user", "ada").await.unwrap();
    })
    .await;
    let cookie = cookie.expect("new session sets a cookie");
    let (cold_read, _) = measure(&url, &m, Some(&cookie), |s| async move {
        assert_eq!(
            s.get::<String>("user").await.unwrap().as_deref(),
            Some("ada")
        );
    })
    .await;
    expect_calls(
        &cold_read,
        "evalsha=2 script|load=1 get=1 pexpiretime=1",
        "cold read",
    );
    let (cold_write, _) = measure(&url, &m, Some(&cookie), writes_one).await;
    expect_calls(
        &cold_write,
        "evalsha=3 script|load=1 get=2 pexpiretime=1 set=1",
        "cold write",
    );

    expect_calls(&cold_new, "evalsha=2 script|load=1 set=1", "cold create");

    // Load the other scripts (touch, delete, the index's) on another
    // prefix, so that every measurement below is warm.
    warm_up(&store.clone().with_prefix("warm-up:")).await;

    // Warm: what every later request costs.
    let (untouched, out) = measure(&url, &m, Some(&cookie), |_| async {}).await;
    expect_calls(&untouched, "", "a request that never uses its session");
    assert_eq!(out, None);

    let (new_session, new_cookie) = measure(&url, &m, None, |s| async move {
        s.insert("user", "grace").await.unwrap();
    })
    .await;
    assert!(new_cookie.is_some());
    expect_calls(
        &new_session,
        "evalsha=1 set=1",
        "new session: EVALSHA (SET NX PXAT inside)",
    );

    let (read, out) = measure(&url, &m, Some(&cookie), reads_one).await;
    expect_calls(
        &read,
        "evalsha=1 get=1 pexpiretime=1",
        "read-only: one EVALSHA (GET + PEXPIRETIME inside)",
    );
    assert_eq!(out, None);

    let (write, _) = measure(&url, &m, Some(&cookie), |s| async move {
        s.update("n", |n: Option<u64>| n.unwrap_or(0) + 1)
            .await
            .unwrap();
    })
    .await;
    expect_calls(
        &write,
        "evalsha=2 get=2 pexpiretime=1 set=1",
        "write: load EVALSHA + save EVALSHA (GET + SET inside)",
    );

    // Touch: a read-only request that extends the idle window.
    let rolling = SessionConfig::builder()
        .key(session_core::test_key("key 9"))
        .touch_policy(TouchPolicy::Always)
        .build()
        .unwrap();
    let rm = SessionManager::new(rolling, store.clone());
    let (touch, _) = measure(&url, &rm, Some(&cookie), |s| async move {
        assert_eq!(s.get::<u64>("n").await.unwrap(), Some(2));
    })
    .await;
    expect_calls(
        &touch,
        "evalsha=2 get=2 pexpiretime=1 pexpireat=1",
        "touch: load + touch EVALSHA (GET + PEXPIREAT inside)",
    );

    let (destroy, out) = measure(&url, &m, Some(&cookie), |s| async move {
        s.destroy();
    })
    .await;
    expect_calls(
        &destroy,
        "evalsha=1 get=1 del=1",
        "destroy: one EVALSHA (GET + DEL inside; no user, so no ZREM)",
    );
    assert_eq!(out.as_deref(), Some("id="), "destroy removes the cookie");

    let new_cookie = new_cookie.unwrap();
    let (regenerate, regenerated) = measure(&url, &m, Some(&new_cookie), |s| async move {
        s.regenerate().await.unwrap();
    })
    .await;
    expect_calls(
        &regenerate,
        "evalsha=3 get=2 pexpiretime=1 set=1 del=1",
        "regenerate: load + retire (old id: GET + DEL inside) + create (new id)",
    );

    // The user index. Every expiry below is about now + 24 h; keep the
    // whole sequence inside one cell of the index grid (1 h), so that only
    // the writes meant to cross into the next cell link again.
    wait_clear_of_grid_boundary();
    let login = |user: &'static str| {
        move |s: session_core::Session| async move {
            s.regenerate().await.unwrap();
            s.set_user(user).await.unwrap();
            s.insert("user", user).await.unwrap();
        }
    };
    let anon = regenerated.expect("regenerate sets a cookie");
    let (login_anon, ada) = measure(&url, &m, Some(&anon), login("ada")).await;
    let ada = ada.expect("login sets a cookie");
    expect_calls(
        &login_anon,
        "evalsha=4 get=2 pexpiretime=2 zadd=1 zremrangebyscore=1 pexpireat=1 set=1 del=1",
        "login from an anonymous session: load + retire (old id, no user) + LINK + create",
    );
    let (login_fresh, phone) = measure(&url, &m, None, login("ada")).await;
    let phone = phone.expect("login sets a cookie");
    expect_calls(
        &login_fresh,
        "evalsha=2 zadd=1 zremrangebyscore=1 pexpiretime=1 set=1",
        "login without a session: LINK + create (the set's expiry already covers it)",
    );
    let (_, tablet) = measure(&url, &m, None, login("ada")).await;
    let tablet = tablet.expect("login sets a cookie");

    let (user_read, _) = measure(&url, &m, Some(&ada), |s| async move {
        assert_eq!(s.user().await.unwrap().as_deref(), Some("ada"));
    })
    .await;
    assert_eq!(
        user_read, read,
        "read-only, logged in: the same single EVALSHA"
    );
    let (user_write, _) = measure(&url, &m, Some(&ada), writes_one).await;
    expect_calls(
        &user_write,
        "evalsha=2 get=2 pexpiretime=2 set=1",
        "write, logged in, expiry in the same grid cell: load + save",
    );
    let (user_touch, _) = measure(&url, &rm, Some(&ada), reads_one).await;
    expect_calls(
        &user_touch,
        "evalsha=2 get=2 pexpiretime=2 pexpireat=1",
        "touch, logged in, expiry in the same grid cell: load + touch",
    );
    let (user_write_far, _) = measure(&url, &m, Some(&ada), |s| async move {
        s.set_expiry(Expiry::Idle(time::Duration::hours(48)))
            .await
            .unwrap();
    })
    .await;
    expect_calls(
        &user_write_far,
        "evalsha=4 get=3 pexpiretime=3 zadd=1 zremrangebyscore=1 pexpireat=1 set=1",
        "write, logged in, expiry into a later grid cell: load + save (asks to link) + LINK + save",
    );

    let (devices, _) = measure(&url, &m, Some(&ada), |s| async move {
        assert_eq!(s.devices().await.unwrap().len(), 3);
    })
    .await;
    expect_calls(
        &devices,
        "evalsha=5 get=4 pexpiretime=4 zremrangebyscore=1 zrange=1",
        "\"your devices\" (3 sessions): load + LIST + 3 loads sent together",
    );

    let (revoke_one, _) = measure(&url, &m, Some(&ada), move |s| async move {
        let devices = s.devices().await.unwrap();
        let other = devices.iter().find(|d| !d.current).unwrap();
        assert!(s.revoke(&other.handle).await.unwrap());
    })
    .await;
    let (revoke_others, _) = measure(&url, &m, Some(&ada), |s| async move {
        assert_eq!(s.revoke_others().await.unwrap(), 1);
    })
    .await;
    let (logout, out) = measure(&url, &m, Some(&ada), |s| async move {
        s.destroy();
    })
    .await;
    assert_eq!(out.as_deref(), Some("id="));
    expect_calls(
        &logout,
        "evalsha=2 get=1 del=1 zrem=1",
        "logout, logged in: delete EVALSHA + UNLINK EVALSHA (ZREM inside) from the user's index",
    );
    for c in [&phone, &tablet] {
        let (_, _) = measure(&url, &m, Some(c), |s| async move {
            assert_eq!(s.user().await.unwrap(), None, "revoked");
        })
        .await;
    }

    // Touch moving a logged-in session's expiry into a later grid cell, at
    // the store level (the touch policy never moves it that far at once).
    let (_, bob) = measure(&url, &m, None, login("bob")).await;
    let bob = bob.expect("cookie");
    let id: session_core::SessionId = bob
        .trim_start_matches("id=")
        .split('.')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let key = id.hashed_key();
    let record = store.load(&key).await.unwrap().expect("bob's record");
    let before = commandstats(&url).await;
    assert_eq!(
        store
            .touch(
                &key,
                record.version,
                record.expires_at + time::Duration::hours(2)
            )
            .await
            .unwrap(),
        session_core::Touched::Ok
    );
    let user_touch_far = delta(&before, &commandstats(&url).await);
    expect_calls(
        &user_touch_far,
        "evalsha=3 get=2 pexpiretime=2 zadd=1 zremrangebyscore=1 pexpireat=2",
        "touch into a later grid cell: touch (asks to link) + LINK + touch",
    );

    // set_user on an existing session, without regenerate.
    let (_, carl) = measure(&url, &m, None, writes_one).await;
    let (set_user, _) = measure(&url, &m, carl.as_deref(), |s| async move {
        s.set_user("carl").await.unwrap();
    })
    .await;
    expect_calls(
        &set_user,
        "evalsha=4 get=3 pexpiretime=2 zadd=1 zremrangebyscore=1 pexpireat=1 set=1",
        "set_user without regenerate: load + save (asks to link) + LINK + save",
    );

    // A login beyond a per-user cap of 2 that revokes the oldest session.
    let cm = capped(&store);
    measure(&url, &cm, None, login("dora")).await;
    measure(&url, &cm, None, login("dora")).await;
    let (login_cap, _) = measure(&url, &cm, None, login("dora")).await;
    assert_eq!(cm.user_sessions("dora").await.unwrap().len(), 2);
    // A login under the cap with no other session of the user.
    let (login_cap_first, erin) = measure(&url, &cm, None, login("erin")).await;
    let erin = erin.expect("login sets a cookie");
    // The id rotation of a logged-in session, under the cap and without.
    let (rotate_cap, _) = measure(&url, &cm, Some(&erin), |s| async move {
        s.regenerate().await.unwrap();
    })
    .await;
    let (_, fred) = measure(&url, &m, None, login("fred")).await;
    let (rotate_user, _) = measure(&url, &m, fred.as_deref(), |s| async move {
        s.regenerate().await.unwrap();
    })
    .await;
    let table = [
        ("read-only", &read, 1),
        ("write", &write, 2),
        ("new session", &new_session, 1),
        ("touch", &touch, 2),
        ("destroy", &destroy, 1),
        ("regenerate", &regenerate, 3),
        ("login (from anonymous)", &login_anon, 4),
        ("login (no session)", &login_fresh, 2),
        ("read, logged in", &user_read, 1),
        ("write, logged in", &user_write, 2),
        ("touch, logged in", &user_touch, 2),
        ("write, logged in, next grid cell", &user_write_far, 4),
        ("touch call, next grid cell", &user_touch_far, 3),
        ("your devices (3)", &devices, 5),
        // The handler lists the devices to pick one, then `Session::revoke`
        // lists once more to check the handle (11 = load + 2 x (LIST + 3
        // loads) + delete + ZREM); `revoke_others` lists once (load + LIST +
        // 2 loads + delete + ZREM).
        ("revoke one (of 3)", &revoke_one, 11),
        ("revoke others (1 of 2)", &revoke_others, 6),
        ("logout, logged in", &logout, 2),
        ("set_user without regenerate", &set_user, 4),
        // admit: ADMIT (answers the roster: revoking depends on the
        // others' liveness) + 2 loads (sent together) + ADMIT (decides,
        // lists the login as pending) + create + CONFIRM + delete + UNLINK
        // of the oldest. Before issue 15: 7 (no CONFIRM).
        ("login beyond a cap of 2", &login_cap, 8),
        // ADMIT (fits the cap: decided at once) + create + CONFIRM. Before
        // issue 15: 3 (LIST + ENROL + create).
        ("login under a cap, first session", &login_cap_first, 3),
        // load + retire + UNLINK (the old id) + ADMIT + create + CONFIRM.
        // Before issue 15: 6 (LIST + ENROL instead of ADMIT + CONFIRM).
        ("rotation, logged in, under a cap", &rotate_cap, 6),
        // load + retire + UNLINK + LINK + create.
        ("rotation, logged in", &rotate_user, 5),
    ];
    for (kind, d, expected) in table {
        let mut cmds: Vec<_> = d.iter().map(|(k, v)| format!("{k}={v}")).collect();
        cmds.sort();
        let top = top_level(d);
        println!(
            "{kind:34} commands {top:2}  commandstats delta: {}",
            cmds.join(" ")
        );
        assert_eq!(top, expected, "{kind}");
    }
}

/// Runs every kind of store call once.
async fn warm_up(store: &RedisStore) {
    let rolling = SessionConfig::builder()
        .key(session_core::test_key("key 9"))
        .touch_policy(TouchPolicy::Always)
        .build()
        .unwrap();
    let m = SessionManager::new(rolling, store.clone());
    let cookie = request(&m, None, |s| async move {
        s.set_user("warm").await.unwrap();
        s.insert("user", "warm").await.unwrap();
    })
    .await
    .expect("cookie");
    // A read with the rolling policy: a touch.
    request(&m, Some(&cookie), |s| async move {
        assert_eq!(s.user().await.unwrap().as_deref(), Some("warm"));
    })
    .await;
    // A regenerate: retire (compare-and-delete) + create.
    let cookie = request(&m, Some(&cookie), |s| async move {
        s.regenerate().await.unwrap();
    })
    .await
    .expect("cookie");
    request(&m, Some(&cookie), |s| async move {
        assert_eq!(s.devices().await.unwrap().len(), 1);
        s.destroy();
    })
    .await;
    // A login under a cap: admit (ADMIT, CONFIRM).
    let cm = capped(store);
    let cookie = request(&cm, None, |s| async move {
        s.set_user("warm").await.unwrap();
    })
    .await
    .expect("cookie");
    request(&cm, Some(&cookie), |s| async move {
        s.destroy();
    })
    .await;
}

/// Sleeps past the next boundary of the index grid (a whole hour, UTC) of
/// `now + 24 h` when it is less than a minute away, so that the expiries
/// the test writes (about now + 24 h) stay in one grid cell.
fn wait_clear_of_grid_boundary() {
    const GRID_MS: i128 = 3_600_000;
    let ms = (time::OffsetDateTime::now_utc() + time::Duration::hours(24)).unix_timestamp_nanos()
        / 1_000_000;
    let left = GRID_MS - ms.rem_euclid(GRID_MS);
    if left < 60_000 {
        std::thread::sleep(std::time::Duration::from_millis(
            u64::try_from(left).unwrap_or(60_000) + 200,
        ));
    }
}

/// Top-level commands of a delta: every `EVALSHA` and `SCRIPT LOAD` (the
/// store sends nothing outside a script).
fn top_level(d: &HashMap<String, u64>) -> u64 {
    let get = |k: &str| d.get(k).copied().unwrap_or(0);
    get("evalsha") + get("script|load")
}
