//! Redis store for [`session_core`]: sessions in one Redis server or a
//! Redis Cluster, with native expiry, compare-and-swap saves and one round
//! trip per read.
//!
//! ```no_run
//! use session_core::{RequestMeta, SessionConfig, SessionManager};
//! use session_redis::RedisStore;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = RedisStore::connect("redis://127.0.0.1:6379")
//!     .await?
//!     .with_prefix("myapp:session:");
//! let config = SessionConfig::builder().key_from_env_or_random("SESSION_KEY").build()?;
//! let manager = SessionManager::new(config, store);
//!
//! // What an adapter does per request (the adapters below do it for you).
//! let session = manager.start([], RequestMeta::default());
//! session.insert("user", "ada").await?;
//! let set_cookie = manager.finish(&session).await?.expect("a new session sets a cookie");
//! assert!(set_cookie.value.starts_with("id="));
//! # Ok(())
//! # }
//! ```
//!
//! # Quick start with each adapter
//!
//! The store is built once, at startup, and handed to the adapter with a
//! [`SessionConfig`](session_core::SessionConfig); handlers take `Session`
//! as usual. (These blocks are not compiled here: the adapters are separate
//! crates.)
//!
//! axum (`session-axum`):
//!
//! ```ignore
//! let store = RedisStore::connect(&redis_url).await?.with_prefix("myapp:session:");
//! let app = Router::new()
//!     .route("/", get(counter))
//!     .layer(session_axum::SessionLayer::new(config, store));
//! ```
//!
//! actix-web (`session-actix`): build the middleware once, clone it into
//! every worker's `App`; all workers share the store's connection.
//!
//! ```ignore
//! let store = RedisStore::connect(&redis_url).await?.with_prefix("myapp:session:");
//! let sessions = session_actix::SessionMiddleware::new(config, store);
//! HttpServer::new(move || App::new().wrap(sessions.clone()).route("/", web::get().to(counter)))
//!     .bind(("127.0.0.1", 8080))?
//!     .run()
//!     .await?;
//! ```
//!
//! Rocket (`session-rocket`):
//!
//! ```ignore
//! let store = RedisStore::connect(&redis_url).await?.with_prefix("myapp:session:");
//! rocket::build()
//!     .mount("/", routes![counter])
//!     .attach(session_rocket::SessionFairing::new(config, store))
//!     .launch()
//!     .await?;
//! ```
//!
//! # Connecting
//!
//! - [`RedisStore::connect`] takes a URL (`redis://`, `rediss://` with a
//!   TLS feature, see "TLS" below, `redis+unix://`);
//!   [`RedisStore::from_client`] takes a [`redis::Client`];
//!   [`RedisStore::from_connection_manager`] takes a
//!   [`redis::aio::ConnectionManager`] you already have (for example one the
//!   rest of the application shares, or one built with your own
//!   [`ConnectionManagerConfig`](redis::aio::ConnectionManagerConfig)).
//! - The connection manager multiplexes every request of the process over
//!   one connection and reconnects by itself: when Redis goes away, calls
//!   fail with an error (the request gets the configured failure response,
//!   503 by default) while the manager reconnects in the background; when
//!   Redis is back, the same store works again. Nothing needs rebuilding.
//! - Every call runs under a timeout ([`DEFAULT_TIMEOUT`], 2 s; change it
//!   with [`RedisStore::with_timeout`]): a Redis that does not answer gives
//!   [`StoreError::Timeout`](session_core::StoreError::Timeout), never a
//!   hung request. Other failures are
//!   [`StoreError::Backend`](session_core::StoreError::Backend) with the
//!   [`redis::RedisError`] as its cause.
//! - The store needs a tokio runtime (axum, actix-web and Rocket all run on
//!   one). Requires Redis 7.0 or later (`PEXPIRETIME`).
//!
//! # Booting while Redis is down
//!
//! [`RedisStore::connect`] fails when Redis cannot be reached, so an app
//! that builds its store with it cannot start during a Redis outage. The
//! lazy constructors build the store without contacting Redis:
//! [`RedisStore::connect_lazy`] (a URL; only its syntax is checked) and
//! [`RedisStore::lazy`] (a [`redis::Client`], for example one built with
//! TLS). Such a store connects on its first call. While Redis is
//! unreachable every call tries again and fails like a call during an
//! outage does ([`StoreError::Backend`](session_core::StoreError::Backend)
//! with the [`redis::RedisError`], or
//! [`StoreError::Timeout`](session_core::StoreError::Timeout); never longer
//! than the per-call timeout), so requests that need their session get the
//! failure response (503 by default) and the others are served. Once Redis
//! answers, the next call connects and the app serves sessions, with no
//! restart; from then on the store behaves as one from `connect`.
//!
//! ```
//! use session_core::{SessionConfig, SessionManager};
//! use session_redis::RedisStore;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Nothing is contacted here: the app starts even if Redis is down.
//! let store = RedisStore::connect_lazy("redis://127.0.0.1:6379")?.with_prefix("myapp:session:");
//! let config = SessionConfig::builder().key_from_env_or_random("SESSION_KEY").build()?;
//! let manager = SessionManager::new(config, store);
//! # let _ = manager;
//! # Ok(())
//! # }
//! ```
//!
//! A Redis Cluster store can be lazy too (`RedisStore::lazy_cluster`,
//! feature `cluster`): its first call (and every call until one succeeds)
//! connects to the listed nodes and learns the slots from the first that
//! answers; until a node answers, calls fail as above. `tests/boot_while_down.rs`
//! checks the whole story (503 while down, 200 and a working session once a
//! server is up) with a single server and the axum test app; the Cluster
//! test (`tests/cluster.rs`) checks only that a lazy Cluster store fails
//! while no node is reachable and connects on first use.
//!
//! # TLS
//!
//! `rediss://` URLs need one of two features (both off by default):
//!
//! - `tls-rustls`: rustls, with the `ring` crypto provider, trusting the
//!   system's root certificates (from the OS store). A private CA (a
//!   managed Redis's, or your own) is trusted with
//!   `RedisStore::connect_tls(url, ca_pem)`; client certificates (mTLS)
//!   go through `redis::Client::build_with_tls` and
//!   [`RedisStore::from_client`] or [`RedisStore::lazy`].
//! - `tls-native-tls`: the platform's TLS library (OpenSSL on Linux, which
//!   then needs its headers to build), trusting the system's roots;
//!   `connect_tls` is not available with this backend alone.
//!
//! With both features on, the `redis` crate uses rustls. `tests/tls.rs`
//! makes a CA and a server certificate with `openssl` at test time, starts
//! a `redis-server` that speaks only TLS, and makes a round trip over
//! `rediss://` trusting that CA.
//!
//! # What is stored
//!
//! One Redis string per session:
//!
//! - key: `{prefix}{<store key>}`, such as
//!   `session:{q2Vb0g6sX...}`; the store key is a SHA-256 hash of the
//!   session id by default, so a dump of Redis yields no live cookie. The
//!   braces are a Cluster hash tag: everything of one session hashes to one
//!   slot.
//! - value: the record's version in decimal, `:`, then the payload bytes
//!   unchanged (opaque: any bytes, not necessarily UTF-8; today the core
//!   writes JSON), for example `3:{"f":1,...}`; for a
//!   session tied to a user (`Session::set_user`), the version, `u`, the
//!   user's length in bytes, `:`, the user, `:`, then the payload, for
//!   example `3u3:ada:{"f":1,...}`. Values written before the user index
//!   (always the first form) load as sessions without a user.
//! - expiry: the key's own expiry, set to the record's `expires_at`
//!   (millisecond precision, rounded down). Redis deletes expired sessions
//!   by itself, so [`Store::delete_expired`](session_core::Store::delete_expired)
//!   has nothing to do and no cleanup task is needed.
//!
//! and one sorted set per user with sessions, the user index (see below):
//! key `{prefix}user:{<user>}`, members the store keys of the user's
//! sessions; for sessions admitted under a per-user cap
//! ([`UserIndex::admit`](session_core::UserIndex::admit)), one more member
//! each in the same set, its admission record (login time and state; see
//! "Logins under a cap").
//!
//! Every call is one `EVALSHA` of a small Lua script that names exactly
//! one key, so it runs atomically on the one node that owns the key:
//!
//! | store call | Redis | round trips |
//! | --- | --- | --- |
//! | `load` | `GET` + `PEXPIRETIME` | 1 |
//! | `create` | `SET key value NX PXAT expires_at` | 1; 2 with a user (`LINK` first) |
//! | `save` | compare the version, then `SET ... PXAT` | 1; 3 when it must `LINK` first, +1 `UNLINK` when the user changed from another |
//! | `touch` | compare the version, then `PEXPIREAT` | 1; 3 when it must `LINK` first |
//! | `retire` | compare the version, then `DEL`, answering whose it was | 1; 2 with a user (`UNLINK`) |
//! | `delete` | `GET` + `DEL`, answering whose it was | 1; 2 with a user (`UNLINK`) |
//! | `user_records` | `LIST`, then one `load` per entry, sent together | 1 + N commands, 2 round trips of latency |
//! | `admit` | `ADMIT` (the decision, atomic per user), `create` or `save`, `CONFIRM`; beyond the cap first `ADMIT` answers the roster, one `load` per entry (together), `ADMIT` again; then `delete` per victim (together) | 3 within the cap; 4 + N beyond it (+2 per victim, 2 round trips of latency for all) |
//! | `count`, `clear` ([`StoreAdmin`](session_core::StoreAdmin)) | `SCAN` of the prefix on every master (+ `DEL` per page for `clear`) | O(keys in the database / 1000) |
//!
//! The scripts run with `EVALSHA`; when Redis does not have a script (after
//! a restart or `SCRIPT FLUSH`) the client loads it and retries, once per
//! server. Per request, measured with `INFO commandstats` in
//! `tests/round_trips.rs` (commands, each one round trip, sent one after
//! another unless noted):
//!
//! | request | commands |
//! | --- | --- |
//! | never touches its session | 0 |
//! | read-only (logged in or not) | 1 (load) |
//! | write (logged in or not) | 2 (load + save) |
//! | new session | 1 (create) |
//! | read that extends the idle window | 2 (load + touch) |
//! | logout, anonymous / logged in | 1 / 2 (delete, + `UNLINK`) |
//! | `regenerate` | 3 (load + retire of the old id + create) |
//! | login: `regenerate` + `set_user`, from an anonymous session | 4 (load + retire + `LINK` + create) |
//! | login without a prior session | 2 (`LINK` + create) |
//! | `set_user` without `regenerate` | 4 (load + save + `LINK` + save) |
//! | a logged-in write or touch whose expiry enters a later hour | +2 (`LINK` + the write again), at most once an hour per session |
//! | "your devices" with N sessions | 2 + N (load + `LIST` + N loads sent together: 3 round trips of latency) |
//! | "log out other devices", N sessions | 2 + N + 2 per revoked session (load + `LIST` + N loads + delete and `UNLINK` each) |
//! | `Session::revoke` of one of 3 sessions, after listing them | 11 (the handler's listing, one more to check the handle, `DEL`, `UNLINK`) |
//! | login under a per-user cap, within it | 3 (admit: `ADMIT` + create + `CONFIRM`; was 3 before issue 15: `LIST` + `ENROL` + create) |
//! | login beyond a per-user cap (revoke oldest), cap 2 | 8 (admit: `ADMIT` + 2 loads + `ADMIT` + create + `CONFIRM` + delete + `UNLINK`; was 7 before issue 15: `CONFIRM` is the one more, see "Logins under a cap") |
//! | id rotation of a logged-in session, no cap / under a cap | 5 (load + retire + `UNLINK` + `LINK` + create) / 6 (load + retire + `UNLINK` + `ADMIT` + create + `CONFIRM`; 6 before issue 15 too) |
//!
//! `load` never returns a record whose expiry has passed by the
//! application's clock, even if Redis (on its clock) still holds it.
//! `create` and `save` with an expiry already in the past leave no live
//! record.
//!
//! # User index
//!
//! [`RedisStore`] implements [`UserIndex`](session_core::UserIndex)
//! ("your devices", revoke one, log out other devices, the per-user cap):
//!
//! - A sorted set per user, `{prefix}user:{<user>}`: members are the store
//!   keys of the user's sessions, each scored with an instant (ms) until
//!   which it must stay: its session's expiry rounded up to a whole hour
//!   (UTC). The set's own expiry is its highest score, so a user's set
//!   disappears by itself an hour or less after the last of the user's
//!   sessions expired; entries whose score passed more than a minute ago
//!   (a margin for clock skew between Redis and the application) are
//!   dropped whenever the set is listed or linked to.
//! - An entry is added (`LINK`: `ZADD GT`, the set's expiry raised to the
//!   score if lower) **before** the session write that needs it: when a
//!   session with a user is created, when a save gives it another user, and
//!   when a save or touch moves its expiry into a later hour than its entry
//!   covers (the session's script sees that, writes nothing, and asks for
//!   the link first; at most once an hour per active session). So a live
//!   session is never missing from its user's index, nor outlived by its
//!   entry, even if a call fails or is cancelled halfway.
//! - An entry is removed (`UNLINK`, a `ZREM`) **after** the write that made it stale:
//!   a delete (the delete script answers whose the record was, so an
//!   anonymous delete stays one round trip) or a save that moved the
//!   session to another user. When that removal fails, or a call is
//!   cancelled between the two commands, the extra entry is harmless:
//!   listings load every entry and keep only live records that still
//!   belong to the user, and the entry leaves with its score. (Listings do
//!   not delete such entries: one may belong to a login that linked it an
//!   instant before writing its session.)
//! - `user_records` runs `LIST` (drop passed entries, `ZRANGE`) on the
//!   user's set, then loads every entry with the ordinary `load`, all
//!   requests sent at once. An expired session is never listed: `load`
//!   filters it, on the application's clock.
//! - `admit` (a login under a per-user cap) is atomic per user without a
//!   lock: see "Logins under a cap" below.
//!
//! On a Redis Cluster the user's set hashes by the user (its hash tag) and
//! each session by its own key, so they usually live on different nodes;
//! no script spans a session and an index. That is why the index is kept with separate
//! commands in the order above (index first when adding, session first
//! when removing) instead of one atomic script, and why a listing's loads
//! go to the nodes of their own slots. A user id containing `}` still
//! works: the hash tag then ends at that brace (and an empty user, or one
//! starting with `}`, hashes the whole key: still one key per script).
//!
//! # Logins under a cap
//!
//! [`UserIndex::admit`](session_core::UserIndex::admit) writes a login
//! under a per-user cap. The choice it makes (refuse the login, or which
//! sessions to revoke) is atomic per user: one script, `ADMIT`, on the
//! user's index alone, so logins of one user are decided one after the
//! other by the node that owns the user's slot, on a single server and on a
//! Cluster alike. No lock is taken, so nothing waits and no lease of a lock
//! can lapse under a slow holder.
//!
//! Beside its entry, every session admitted under a cap has an *admission
//! record* in the same sorted set (member
//! `<store key>:<login ms>:<state>:<lease ms>:<nonce>`, scored 2^52 so the
//! dropping of passed entries leaves it; the next `ADMIT` removes it once
//! its entry is gone, and it goes with the set's own expiry). Its state:
//!
//! - *pending*: the decision listed the login; its record may not be
//!   written yet. It counts as live until its lease passes (three per-call
//!   timeouts, at least 1 s, on Redis's clock), whatever a load says, so a
//!   login in flight is never overlooked.
//! - *confirmed*: the record was written and the login stands. Counted as
//!   live unless a load found it gone.
//! - *revoked*: a victim. Its login, if still pending, can no longer
//!   confirm; it is deleted by the login that chose it.
//! - *aborted*: the login's write failed (collision, conflict, gone);
//!   counted by loading, as an entry written without `admit` is.
//!
//! A login, step by step (each step one call, each call whole or not at
//! all), and what a request dropped right after that step leaves:
//!
//! 1. `ADMIT`, first without liveness reports: every other entry counts as
//!    live. If the login fits the cap even so, it is decided now (the
//!    common case: no loads). If refusing or revoking would depend on an
//!    entry whose liveness is unknown, the script decides and writes
//!    nothing and answers the entries with their tokens (the admission
//!    record, or none); the client loads them (all at once) and runs
//!    `ADMIT` again with those found not live, each with the token it had
//!    when listed: an entry that changed since (a pending login that got
//!    confirmed) is counted after all. A pending entry past its lease found
//!    not live becomes revoked in the same script, so it can never confirm
//!    after being left out of a count. Then, atomically: refuse
//!    (`RefuseLogin`, at `max` others; nothing written), or mark the
//!    victims revoked (`RevokeOldest`: revoked entries first, then oldest
//!    login first; entries without a login time count as the oldest) and
//!    list the login (its entry and a pending admission record). *Dropped
//!    here:* the login is listed before its record exists (the index stays
//!    a superset); its pending record counts as live until the lease
//!    passes (a `RefuseLogin` user can be refused meanwhile), then by
//!    loading; the victims are still alive and listed, and the next login
//!    revokes them first.
//! 2. `create` (or `save`, compare-and-swap) of the record, already
//!    listed: index first, so a live session is never missing from its
//!    user's index. *Dropped here:* a live, listed session whose cookie no
//!    client got; it counts at later logins and idles out. On a collision,
//!    conflict or gone, `ABORT` marks the admission aborted and `admit`
//!    returns that outcome (the lifecycle retries with a new id, replays,
//!    or ends the session); the victims stay alive, marked revoked.
//! 3. `CONFIRM`: pending becomes confirmed, unless a later login revoked
//!    this one meanwhile (or the entry is gone): then this login deletes
//!    its own record and returns [`Admission::Gone`](session_core::Admission),
//!    and the lifecycle ends the session (a fresh one and a removal
//!    cookie), so a revoked login never stays live. *Dropped here:* the
//!    login stands; the victims are alive, marked revoked, and revoked
//!    first at the next login.
//! 4. `delete` of each victim (all at once; each its `EVALSHA` and
//!    `UNLINK`, session first, as any delete). Only now, after the login
//!    stands: a login dropped earlier never leaves the user with fewer
//!    sessions, let alone 0.
//!
//! Hence: `RefuseLogin` never lets the user's live sessions exceed the cap
//! (every admitted login is counted from its decision on, pending or not);
//! `RevokeOldest` keeps the login being admitted unless a *later* login
//! revoked it before it confirmed (that later login then stands, so the
//! user never ends with 0 sessions) and, once the logins in flight have
//! finished, leaves at most `max` live sessions. While a login is between
//! its write and the deletion of its victims the user has, for that
//! moment, up to `max` plus the victims (two slots cannot change at once;
//! a request dropped there leaves them until the next login). A revoked or
//! refused session never becomes loadable again: a refused login writes
//! nothing, and a revoked key can never be admitted again (`ADMIT` answers
//! gone).
//!
//! The one round trip this costs beyond the earlier, non-atomic `admit` is
//! `CONFIRM`: without it, a login revoked between its decision and its
//! write would be live but uncounted. A per-user lock (`SET NX PX`) was the
//! other option; it was not chosen because a holder whose lock lapsed
//! still writes its record on another slot, which no check on the user's
//! slot can stop, so it would need these pending and confirmed states
//! anyway, plus waiting and a timeout for every contender.
//!
//! # Several application instances on one Redis
//!
//! Instances of one application behind a load balancer share sessions by
//! using the same Redis, the same key prefix and the same
//! [`SessionConfig`](session_core::SessionConfig) keys (the cookie signing
//! key and the key that hashes ids at rest). Any instance can then serve
//! any request: a session written by one is read by the next, and
//! concurrent writes from different instances are merged by the core's
//! compare-and-swap retry (the version check runs inside Redis), so none
//! is lost. Different applications (or environments) on one Redis use
//! different prefixes, such as `shop:session:` and `admin:session:`. A
//! prefix should not contain `{` (it would replace the hash tag).
//!
//! # TTL and the touch policy
//!
//! The core computes each record's `expires_at` from the expiry policy
//! (idle timeout, absolute deadline, lifetime cap); this store only writes
//! it as the key's expiry. A write (`create`, `save`) sets the expiry to
//! the new `expires_at`. A read-only request does not write the record; it
//! extends the idle window with `touch` (a `PEXPIREAT` in a script), only
//! when the [`TouchPolicy`](session_core::TouchPolicy) says so: with the
//! default `Threshold(0.8)` when less than 80% of the idle window remains,
//! so a session read continuously costs one extra round trip about once
//! per fifth of its idle timeout (for a logged-in session with the default
//! 24 h idle timeout, such a touch moves the expiry by hours, so it also
//! links the user index first: 3 commands instead of 1); `Always` (rolling sessions) touches on every
//! request that loads the session; `Never` lets the idle window count from
//! the last write. The absolute deadline is part of `expires_at`, so no
//! touch moves a key's expiry past it. A `touch` is a compare-and-swap on
//! the version the request loaded: a session written in between (its
//! version moved on) keeps the expiry that write gave it, and one that has
//! expired or was deleted in between is not found; neither creates nor
//! changes anything.
//!
//! # Redis Cluster
//!
//! With the `cluster` feature, `RedisStore::connect_cluster` takes the
//! URLs of some cluster nodes (the client discovers the others and follows
//! `MOVED`/`ASK` redirections and failovers); `from_cluster_client` and
//! `from_cluster_connection` take a client or connection you configured
//! yourself (TLS, credentials; leave reads on the masters: replicas lag,
//! and a lagging read would hand out stale sessions). Every command names
//! exactly one key, so it goes to one node in one round
//! trip, exactly as on a single server (except the operator calls of
//! [`StoreAdmin`](session_core::StoreAdmin), which `SCAN` every master); sessions spread evenly over the masters by their hashed keys,
//! and each user's index lives on its user's slot (see "User index").
//!
//! ```ignore
//! let store = RedisStore::connect_cluster([
//!     "redis://10.0.0.1:7000",
//!     "redis://10.0.0.2:7000",
//!     "redis://10.0.0.3:7000",
//! ])
//! .await?
//! .with_prefix("myapp:session:");
//! ```
//!
//! The tests start a throwaway 3-master cluster from the local
//! `redis-server` (`--cluster-enabled yes`, then
//! `redis-cli --cluster create ... --cluster-replicas 0`) and run the
//! store conformance suite (user index cases included) and the HTTP
//! scenarios against it.
//!
//! # Features
//!
//! All off by default; without any, the `redis` crate is built with only
//! its async (tokio) client, the connection manager and scripts.
//!
//! - `cluster`: `RedisStore::connect_cluster`, `from_cluster_client`,
//!   `from_cluster_connection`, `lazy_cluster`; builds `redis`'s cluster
//!   client (`redis/cluster-async`), which a single-server build leaves out.
//! - `tls-rustls`: `rediss://` through rustls, and
//!   `RedisStore::connect_tls` (see "TLS").
//! - `tls-native-tls`: `rediss://` through the platform's TLS library.
//! - `testing`: `session_redis::testing::store(namespace)`, a store on
//!   `REDIS_URL` isolated by key prefix, for test suites (the HTTP matrix).
//!
//! # Durability
//!
//! Redis acknowledges a write before it reaches a replica or the disk:
//! a crash or failover can lose the last writes, which logs users out or
//! undoes their last change, as with every Redis session store. Turn on
//! persistence (`appendonly yes`) if a restart must not log everyone out.
//! Either way the store never serves a record past its expiry.

mod admin;
mod conn;
mod error;
mod index;
mod lazy;
mod scripts;
mod store;

#[cfg(feature = "cluster")]
mod cluster;

#[cfg(feature = "testing")]
pub mod testing;

pub use store::{DEFAULT_PREFIX, DEFAULT_TIMEOUT, RedisStore};

/// The `redis` client crate this store is built on (for its `Client`,
/// `ConnectionManager` and cluster types).
pub use redis;
