//! Exact concurrency over a real TCP server, per framework x store cell:
//! shared counters, distinct keys, destroy and regenerate under load.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use session_core::{Secure, SessionConfig, SessionManager, Store};

use crate::apps::{self, Framework};
use crate::client::{Conn, Outcome, Reply};
use crate::metrics;
use crate::stores::{self, StoreKind};

/// A request that takes longer than this counts as hung.
const HANG: Duration = Duration::from_secs(30);

/// Load shape.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    pub(crate) clients: usize,
    pub(crate) per_client: usize,
}

/// One check's outcome: `Ok(detail)` or `Err(what went wrong)`.
pub(crate) type Check = Result<String, String>;

/// The results of one cell.
#[derive(Debug)]
pub(crate) struct Cell {
    pub(crate) framework: Framework,
    pub(crate) store: StoreKind,
    pub(crate) counter: Check,
    pub(crate) keys: Check,
    pub(crate) destroy: Check,
    pub(crate) regenerate: Check,
    pub(crate) requests: u64,
    pub(crate) counts: metrics::Counts,
    pub(crate) elapsed: Duration,
}

impl Cell {
    pub(crate) fn passed(&self) -> bool {
        self.counter.is_ok() && self.keys.is_ok() && self.destroy.is_ok() && self.regenerate.is_ok()
    }
}

pub(crate) fn config() -> SessionConfig {
    SessionConfig::builder()
        .key(session_core::test_key("key 66"))
        .secure(Secure::Never)
        .max_conflict_retries(1_000)
        .build()
        .unwrap_or_else(|e| panic!("fixed config: {e}"))
}

fn reply(o: Outcome, what: &str) -> Result<Reply, String> {
    match o {
        Outcome::Reply(r, _) => Ok(r),
        Outcome::Hang => Err(format!("{what}: no response within {HANG:?}")),
        Outcome::Io(e) => Err(format!("{what}: {e}")),
    }
}

fn ok(o: Outcome, what: &str) -> Result<Reply, String> {
    let r = reply(o, what)?;
    if r.status == 200 {
        Ok(r)
    } else {
        Err(format!("{what}: status {} body {:?}", r.status, r.body))
    }
}

/// Runs the four checks for one cell.
pub(crate) async fn run_cell(framework: Framework, store_kind: StoreKind, shape: Shape) -> Cell {
    let start = Instant::now();
    let _ = metrics::take();
    let requests = Arc::new(AtomicU64::new(0));
    let store = store_kind.build("rel_concurrency").await;
    let manager = SessionManager::from_arc(config(), store.clone());
    let (counter, keys, destroy, regenerate) = match apps::serve(framework, manager).await {
        Ok(server) => {
            let addr = server.addr;
            let counter = counter(addr, shape, &requests).await;
            let keys = distinct_keys(addr, shape, &requests).await;
            let destroy = destroy(addr, shape, &requests, &*store).await;
            let regenerate = regenerate(addr, shape, &requests, &*store).await;
            server.stop().await;
            (counter, keys, destroy, regenerate)
        }
        Err(e) => {
            let e = format!("server did not start: {e}");
            (Err(e.clone()), Err(e.clone()), Err(e.clone()), Err(e))
        }
    };
    Cell {
        framework,
        store: store_kind,
        counter,
        keys,
        destroy,
        regenerate,
        requests: requests.load(Ordering::SeqCst),
        counts: metrics::take(),
        elapsed: start.elapsed(),
    }
}

async fn seed(addr: SocketAddr, key: &str, body: &str) -> Result<(String, String), String> {
    let mut c = Conn::new(addr, HANG);
    let r = ok(
        c.send("POST", &format!("/set/{key}"), None, body).await,
        "seed",
    )?;
    let cookie = r
        .cookie
        .filter(|c| !c.is_empty())
        .ok_or("seed: no cookie")?;
    let id = ok(c.send("GET", "/id", Some(&cookie), "").await, "id")?.body;
    Ok((cookie, id))
}

/// 32 clients x 100 `update` increments of one key of one session.
async fn counter(addr: SocketAddr, shape: Shape, requests: &AtomicU64) -> Check {
    let (cookie, _) = seed(addr, "n", "0").await?;
    let cookie = &cookie;
    let failures = join_all((0..shape.clients).map(|_| async move {
        let mut c = Conn::new(addr, HANG);
        for _ in 0..shape.per_client {
            requests.fetch_add(1, Ordering::Relaxed);
            if let Err(e) = ok(c.send("POST", "/incr/n", Some(cookie), "").await, "incr") {
                return Some(e);
            }
        }
        None
    }))
    .await;
    if let Some(e) = failures.into_iter().flatten().next() {
        return Err(e);
    }
    let expected = shape.clients * shape.per_client;
    let mut c = Conn::new(addr, HANG);
    let got = ok(c.send("GET", "/get/n", Some(cookie), "").await, "read")?.body;
    if got == expected.to_string() {
        Ok(format!("{got} = {} x {}", shape.clients, shape.per_client))
    } else {
        Err(format!("counter is {got}, expected {expected}"))
    }
}

/// 32 clients x 100 distinct keys in one session.
async fn distinct_keys(addr: SocketAddr, shape: Shape, requests: &AtomicU64) -> Check {
    let (cookie, _) = seed(addr, "seed", "true").await?;
    let cookie = &cookie;
    let failures = join_all((0..shape.clients).map(|w| async move {
        let mut c = Conn::new(addr, HANG);
        for i in 0..shape.per_client {
            requests.fetch_add(1, Ordering::Relaxed);
            let path = format!("/set/k{w}_{i}");
            if let Err(e) = ok(
                c.send("POST", &path, Some(cookie), &i.to_string()).await,
                "set",
            ) {
                return Some(e);
            }
        }
        None
    }))
    .await;
    if let Some(e) = failures.into_iter().flatten().next() {
        return Err(e);
    }
    let mut c = Conn::new(addr, HANG);
    let body = ok(c.send("GET", "/entries", Some(cookie), "").await, "entries")?.body;
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&body).map_err(|e| format!("entries: {e}"))?;
    let missing = (0..shape.clients)
        .flat_map(|w| (0..shape.per_client).map(move |i| format!("k{w}_{i}")))
        .filter(|k| !map.contains_key(k))
        .count();
    let expected = shape.clients * shape.per_client;
    if missing == 0 && map.contains_key("seed") {
        Ok(format!("{} of {expected} keys present", expected - missing))
    } else {
        Err(format!("{missing} of {expected} keys missing"))
    }
}

/// Increments under load, a `destroy` after a third of them: no request
/// started after the destroy sees the old data, and the old record stays
/// gone.
async fn destroy(addr: SocketAddr, shape: Shape, requests: &AtomicU64, store: &dyn Store) -> Check {
    let (cookie, old_id) = seed(addr, "data", "\"precious\"").await?;
    let cookie = &cookie;
    let done = AtomicU64::new(0);
    let destroyed = AtomicBool::new(false);
    let (done, destroyed) = (&done, &destroyed);
    let old_prefix = format!("{old_id}.");
    let old_prefix = &old_prefix;
    let total = (shape.clients * shape.per_client) as u64;
    let workers = join_all((0..shape.clients).map(|_| async move {
        let mut c = Conn::new(addr, HANG);
        let mut after = 0u64;
        for _ in 0..shape.per_client {
            let started_after = destroyed.load(Ordering::SeqCst);
            requests.fetch_add(1, Ordering::Relaxed);
            let r = match ok(c.send("POST", "/incr/n", Some(cookie), "").await, "incr") {
                Ok(r) => r,
                Err(e) => return Err(e),
            };
            done.fetch_add(1, Ordering::SeqCst);
            if started_after {
                after += 1;
                if r.body != "1" {
                    return Err(format!("after the destroy, incr answered {}", r.body));
                }
                if r.cookie
                    .as_deref()
                    .is_some_and(|c| c.starts_with(old_prefix))
                {
                    return Err("after the destroy, the old id was re-issued".to_owned());
                }
            }
        }
        Ok(after)
    }));
    let controller = async move {
        a_third_done(done, total).await;
        let r = post(addr, requests, cookie, "destroy").await;
        destroyed.store(true, Ordering::SeqCst);
        r
    };
    let (results, destroy_reply) = tokio::join!(workers, controller);
    let r = destroy_reply?;
    if r.cookie.as_deref() != Some("") {
        return Err(format!("destroy sent no removal cookie: {:?}", r.cookie));
    }
    let mut after = 0;
    for res in results {
        after += res?;
    }
    let mut c = Conn::new(addr, HANG);
    let data = ok(c.send("GET", "/get/data", Some(cookie), "").await, "read")?.body;
    if data != "null" {
        return Err(format!("the destroyed session still reads {data}"));
    }
    if stores::has_record(store, &old_id).await? {
        return Err("the destroyed session's record is back in the store".to_owned());
    }
    Ok(format!(
        "{after} requests after the destroy all got fresh sessions; old record gone"
    ))
}

/// Distinct-key writes with the old cookie under load, a `regenerate` after
/// a third of them: every write acknowledged before the regenerate is in
/// the new session, the old id no longer loads and is not re-created.
async fn regenerate(
    addr: SocketAddr, shape: Shape, requests: &AtomicU64, store: &dyn Store,
) -> Check {
    let (cookie, old_id) = seed(addr, "data", "\"precious\"").await?;
    let cookie = &cookie;
    let done = AtomicU64::new(0);
    let started = AtomicBool::new(false);
    let finished = AtomicBool::new(false);
    let (done, started, finished) = (&done, &started, &finished);
    let old_prefix = format!("{old_id}.");
    let old_prefix = &old_prefix;
    let total = (shape.clients * shape.per_client) as u64;
    let workers = join_all((0..shape.clients).map(|w| async move {
        let mut c = Conn::new(addr, HANG);
        let mut before = Vec::new();
        let mut after = Vec::new();
        for i in 0..shape.per_client {
            let key = format!("k{w}_{i}");
            let started_after = finished.load(Ordering::SeqCst);
            requests.fetch_add(1, Ordering::Relaxed);
            let r = ok(c.send("POST", &format!("/set/{key}"), Some(cookie), "1").await, "set")?;
            done.fetch_add(1, Ordering::SeqCst);
            if !started.load(Ordering::SeqCst) {
                before.push(key);
            } else if started_after {
                // The old id no longer works: a fresh session, new id.
                match r.cookie.as_deref() {
                    Some(c) if !c.is_empty() && !c.starts_with(old_prefix.as_str()) => {}
                    other => {
                        return Err(format!(
                            "a write with the regenerated-away cookie did not get a fresh session: {other:?}"
                        ));
                    }
                }
                after.push(key);
            }
        }
        Ok::<_, String>((before, after))
    }));
    let controller = async move {
        a_third_done(done, total).await;
        started.store(true, Ordering::SeqCst);
        let r = post(addr, requests, cookie, "regenerate").await;
        finished.store(true, Ordering::SeqCst);
        r
    };
    let (results, regen) = tokio::join!(workers, controller);
    let new_cookie = regen?
        .cookie
        .filter(|c| !c.is_empty())
        .ok_or("regenerate set no cookie")?;
    if new_cookie == *cookie {
        return Err("regenerate kept the cookie".to_owned());
    }
    let mut before = BTreeSet::new();
    let mut after = BTreeSet::new();
    for res in results {
        let (b, a) = res?;
        before.extend(b);
        after.extend(a);
    }
    let mut c = Conn::new(addr, HANG);
    let body = ok(
        c.send("GET", "/entries", Some(&new_cookie), "").await,
        "entries",
    )?
    .body;
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&body).map_err(|e| format!("entries: {e}"))?;
    let lost = before.iter().filter(|k| !map.contains_key(*k)).count();
    if lost > 0 || map.get("data").and_then(|v| v.as_str()) != Some("precious") {
        return Err(format!(
            "{lost} of {} writes acknowledged before the regenerate are missing from the new session",
            before.len()
        ));
    }
    let leaked = after.iter().filter(|k| map.contains_key(*k)).count();
    if leaked > 0 {
        return Err(format!(
            "{leaked} writes sent with the old cookie after the regenerate reached the new session"
        ));
    }
    let old = ok(
        c.send("GET", "/get/data", Some(cookie), "").await,
        "old read",
    )?
    .body;
    if old != "null" {
        return Err(format!("the old id still reads {old}"));
    }
    if stores::has_record(store, &old_id).await? {
        return Err("the old id's record is back in the store".to_owned());
    }
    let in_flight = total as usize - before.len() - after.len();
    let landed = map.len() - 1 - before.len();
    Ok(format!(
        "{} writes before: all kept; {} after: fresh sessions; {in_flight} in flight ({landed} landed in the new session)",
        before.len(),
        after.len()
    ))
}

/// Waits until a third of `total` requests are done (at most a minute).
async fn a_third_done(done: &AtomicU64, total: u64) {
    for _ in 0..60_000 {
        if done.load(Ordering::SeqCst) >= total / 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// `POST /<route>` with `cookie` on a connection of its own, counted in
/// `requests`.
async fn post(
    addr: SocketAddr, requests: &AtomicU64, cookie: &str, route: &str,
) -> Result<Reply, String> {
    let mut c = Conn::new(addr, HANG);
    requests.fetch_add(1, Ordering::Relaxed);
    ok(
        c.send("POST", &format!("/{route}"), Some(cookie), "").await,
        route,
    )
}
