//! The race scenarios of the HTTP suite: a request held open between
//! loading its session and finishing, while other requests log out, revoke,
//! write or shorten the expiry; and concurrent logins under a cap. Every
//! framework runs them with every store (they are expanded by
//! [`http_scenarios!`](crate::http_scenarios)).
//!
//! Holding a request open needs one route in the test app,
//! `POST /held/{gate}/{then}`, whose handler is [`held`]: it loads the
//! session, waits at the named [`Gate`] until the scenario releases it,
//! then does `then`.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use futures_util::future::join_all;
use http::StatusCode;
use serde_json::json;
use time::Duration;
use tokio::sync::Notify;

use super::http::{
    Browser, Client, Reply, TestApp, app, assert_ok, base_config, build, clocked_app,
};
use crate::clock::Clock;
use crate::{Session, SessionCap, SessionError, SessionId, Store, TouchPolicy};

/// A meeting point between a held request and its scenario: the handler
/// says it has loaded its session ([`Gate::reached`]), then waits until
/// the scenario has raced it and lets it go on ([`Gate::release`]).
#[derive(Debug, Default)]
pub struct Gate {
    reached: Notify,
    released: Notify,
}

impl Gate {
    /// Waits until the held request has loaded its session.
    pub async fn reached(&self) {
        self.reached.notified().await;
    }

    /// Lets the held request go on.
    pub fn release(&self) {
        self.released.notify_one();
    }
}

static GATES: LazyLock<Mutex<HashMap<String, Arc<Gate>>>> = LazyLock::new(Default::default);

/// The gate named `name` (made on first use; names are unique per
/// scenario run).
pub fn gate(name: &str) -> Arc<Gate> {
    let mut gates = GATES.lock().unwrap_or_else(|e| e.into_inner());
    gates.entry(name.to_owned()).or_default().clone()
}

fn forget(name: &str) {
    GATES.lock().unwrap_or_else(|e| e.into_inner()).remove(name);
}

/// The handler of `POST /held/{gate}/{then}`: loads the session, waits at
/// `gate` until released, then does `then`: `rotate` (`regenerate` and
/// `insert("step_up", true)`) or `read` (nothing more: the end of the
/// request may touch). Answers `ok`.
pub async fn held(session: &Session, gate_name: &str, then: &str) -> Result<String, SessionError> {
    session.user().await?;
    let gate = gate(gate_name);
    gate.reached.notify_one();
    gate.released.notified().await;
    if then == "rotate" {
        session.regenerate().await?;
        session.insert("step_up", true).await?;
    }
    Ok("ok".to_owned())
}

fn gate_name() -> String {
    format!("g{}", &SessionId::random().to_string()[..16])
}

fn user_name() -> String {
    format!("u{}", &SessionId::random().to_string()[..12])
}

/// Runs `path` as a held request of `held` while `race` runs, and returns
/// the held request's reply (its cookie lands in `held`'s jar).
async fn hold_while<F>(held: &mut Browser<'_>, then: &str, race: F) -> Reply
where
    F: std::future::Future<Output = ()>,
{
    let name = gate_name();
    let g = gate(&name);
    let path = format!("/held/{name}/{then}");
    let racer = async {
        g.reached().await;
        race.await;
        g.release();
    };
    let (reply, ()) = futures_util::join!(held.post(&path, ""), racer);
    forget(&name);
    reply
}

/// The live sessions of `user` as the store's index reports them (`None`
/// when the store has no user index).
async fn live(store: &Arc<dyn Store>, user: &str) -> Option<usize> {
    let index = store.user_index()?;
    let records = index
        .user_records(user)
        .await
        .unwrap_or_else(|e| panic!("user_records: {e}"));
    Some(records.len())
}

async fn assert_ended(
    c: &dyn Client, store: &Arc<dyn Store>, cookie: Option<String>, user: &str, how: &str,
) {
    if let Some(cookie) = cookie {
        let mut b = Browser::new(c);
        b.cookie = Some(cookie);
        assert_eq!(
            b.value("user").await,
            "null",
            "{how}: the held request's new cookie carries the user"
        );
    }
    assert_eq!(
        live(store, user).await.unwrap_or(0),
        0,
        "{how}: the user has a live session again"
    );
}

/// A request held between loading a logged-in session and rotating its
/// id, while another request of the same browser logs out: the rotated
/// cookie carries no user, and the user has no live session.
pub async fn rotation_racing_a_logout_never_resurrects(a: &impl TestApp, store: Arc<dyn Store>) {
    let c = app(a, build(base_config()), store.clone()).await;
    let user = user_name();
    let mut tab = Browser::new(&*c);
    assert_ok(&tab.post(&format!("/login/{user}"), "").await);
    let mut other_tab = Browser::new(&*c);
    other_tab.cookie = tab.cookie.clone();
    let reply = hold_while(&mut tab, "rotate", async {
        assert_ok(&other_tab.post("/destroy", "").await);
    })
    .await;
    // The logout wins quietly: the held request ends with a fresh session.
    assert_ok(&reply);
    assert_ended(&*c, &store, tab.cookie.clone(), &user, "logout").await;
}

/// A request held between loading a logged-in session and rotating its
/// id, while another device of the user revokes it ("log out other
/// devices"): the rotated cookie carries no user, and only the other
/// device's session is live.
pub async fn rotation_racing_a_revocation_never_resurrects(
    a: &impl TestApp, store: Arc<dyn Store>,
) {
    if store.user_index().is_none() {
        eprintln!("this store has no user index: scenario skipped");
        return;
    }
    let c = app(a, build(base_config()), store.clone()).await;
    let user = user_name();
    let mut laptop = Browser::new(&*c);
    assert_ok(&laptop.post(&format!("/login/{user}"), "").await);
    let mut phone = Browser::new(&*c);
    assert_ok(&phone.post(&format!("/login/{user}"), "").await);
    hold_while(&mut laptop, "rotate", async {
        assert_eq!(phone.post("/revoke-others", "").await.body, "1");
    })
    .await;
    if let Some(cookie) = laptop.cookie.clone() {
        let mut b = Browser::new(&*c);
        b.cookie = Some(cookie);
        assert_eq!(
            b.value("user").await,
            "null",
            "the revoked session came back"
        );
    }
    assert_eq!(live(&store, &user).await, Some(1), "only the phone stays");
    assert_eq!(phone.get("/get/user").await.json(), json!(user));
}

/// A rotation racing another tab's write: both are kept (the rotated
/// session holds the other tab's increment and the rotation's own write),
/// and the old id no longer loads.
pub async fn rotation_racing_a_write_keeps_both(a: &impl TestApp, store: Arc<dyn Store>) {
    let c = app(a, build(base_config()), store).await;
    let mut tab = Browser::new(&*c);
    assert_ok(&tab.post("/set/n", "1").await);
    let old = tab.cookie.clone();
    let mut other_tab = Browser::new(&*c);
    other_tab.cookie = old.clone();
    let reply = hold_while(&mut tab, "rotate", async {
        assert_eq!(other_tab.post("/incr/n", "").await.body, "2");
    })
    .await;
    assert_ok(&reply);
    assert_ne!(tab.cookie, old, "the rotation set no new cookie");
    assert_eq!(tab.value("n").await, "2", "the other tab's write was lost");
    assert_eq!(
        tab.value("step_up").await,
        "true",
        "the rotation's write was lost"
    );
    let mut stale = Browser::new(&*c);
    stale.cookie = old;
    assert_eq!(stale.value("n").await, "null", "the old id still loads");
}

/// Eight concurrent logins of one user, from eight browsers, under a cap
/// of 1 and of 3 with each policy (a few rounds each): `RefuseLogin`
/// admits exactly the cap; `RevokeOldest` admits all and leaves exactly
/// the cap, never 0.
pub async fn concurrent_logins_keep_the_cap(a: &impl TestApp, store: Arc<dyn Store>) {
    if store.user_index().is_none() {
        eprintln!("this store has no user index: scenario skipped");
        return;
    }
    for policy in [SessionCap::RevokeOldest, SessionCap::RefuseLogin] {
        for cap in [1usize, 3] {
            let c = app(
                a,
                build(base_config().max_sessions_per_user(cap, policy)),
                store.clone(),
            )
            .await;
            for round in 0..5 {
                let user = user_name();
                let path = format!("/login/{user}");
                let logins = (0..8).map(|_| {
                    let (c, path) = (&*c, path.as_str());
                    async move {
                        let mut b = Browser::new(c);
                        let r = b.post(path, "").await;
                        (r.status, b)
                    }
                });
                let done = join_all(logins).await;
                let admitted = done.iter().filter(|(s, _)| *s == StatusCode::OK).count();
                // A refused login is the client's conflict, not a server fault.
                let refused = done
                    .iter()
                    .filter(|(s, _)| *s == StatusCode::CONFLICT)
                    .count();
                assert_eq!(admitted + refused, 8, "every login answers 200 or 409");
                let what = format!("{policy:?}, cap {cap}, round {round}");
                let n = live(&store, &user).await;
                assert_eq!(n, Some(cap), "{what}: live sessions");
                let mut logged_in = 0;
                for (_, mut b) in done {
                    if b.cookie.is_some() && b.get("/get/user").await.json() == json!(user) {
                        logged_in += 1;
                    }
                }
                assert_eq!(logged_in, cap, "{what}: browsers still logged in");
                if policy == SessionCap::RefuseLogin {
                    assert_eq!(admitted, cap, "{what}: logins admitted");
                }
            }
        }
    }
}

/// A read that would touch (idle window 1 h, touch always), held while
/// another request sets a shorter `Expiry::At` (40 s from now): the
/// session still ends at that deadline.
pub async fn touch_racing_a_shorter_expiry(a: &impl TestApp, store: Arc<dyn Store>) {
    let (c, clock) = clocked_app(
        a,
        base_config()
            .idle_timeout(Some(Duration::hours(1)))
            .touch_policy(TouchPolicy::Always),
        store,
    )
    .await;
    let mut tab = Browser::new(&*c);
    assert_ok(&tab.post("/set/k", "1").await);
    clock.advance(Duration::seconds(30));
    let deadline = clock.now() + Duration::seconds(40);
    let mut other_tab = Browser::new(&*c);
    other_tab.cookie = tab.cookie.clone();
    let body = format!("at:{}", deadline.unix_timestamp());
    let reply = hold_while(&mut tab, "read", async {
        assert_ok(&other_tab.post("/expiry", &body).await);
    })
    .await;
    assert_ok(&reply);
    clock.advance(Duration::seconds(20));
    assert_eq!(tab.value("k").await, "1", "expired too early");
    clock.advance(Duration::seconds(30));
    assert_eq!(
        tab.value("k").await,
        "null",
        "the touch undid the shorter expiry"
    );
}
