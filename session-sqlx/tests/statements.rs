//! Counts the SQL statements each kind of request costs, on PostgreSQL,
//! SQLite and MySQL, from sqlx's own statement log (every statement sqlx
//! executes is one `sqlx::query` tracing event), and the `Store` calls
//! behind them (`CountingStore`). On MySQL the server's own counters
//! (`SHOW GLOBAL STATUS LIKE 'Com\_%'`, on a throwaway `mariadbd` that only
//! this test uses) must agree with the log. One test: the statement
//! counter is process-global.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use session_core::testing::{CountingStore, namespace};
use session_core::{
    Created, ManualClock, Record, RequestMeta, Saved, SessionCap, SessionConfig, SessionManager,
    Store, StoreError, StoreKey, TouchPolicy, UserIndex, Version,
};
use time::{Duration, OffsetDateTime};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// The first word of every statement sqlx logged while `on`.
static LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());
static ON: AtomicBool = AtomicBool::new(false);

struct StatementLog;

struct Summary(Option<String>);

impl Visit for Summary {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "summary" {
            self.0 = Some(value.to_owned());
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "summary" && self.0.is_none() {
            self.0 = Some(format!("{value:?}").trim_matches('"').to_owned());
        }
    }
}

impl<S: Subscriber> Layer<S> for StatementLog {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        // sqlx's own statement events, and the crate's for the statements
        // sqlx sends without one (a transaction's BEGIN, SQLite's COMMIT).
        let target = event.metadata().target();
        if !matches!(target, "sqlx::query" | "session_sqlx::statement")
            || !ON.load(Ordering::SeqCst)
        {
            return;
        }
        let mut s = Summary(None);
        event.record(&mut s);
        let first =
            s.0.and_then(|t| t.split_whitespace().next().map(str::to_uppercase))
                .unwrap_or_else(|| "?".to_owned());
        // Connection setup (SQLite sets its PRAGMAs, MySQL its `SET`
        // sql_mode, time zone and names, on every new connection) is not a
        // statement of the request.
        if first == "PRAGMA" || first == "SET" {
            return;
        }
        LOG.lock().unwrap_or_else(|e| e.into_inner()).push(first);
    }
}

/// `CountingStore` (which counts the `Store` calls) with the wrapped
/// store's user index, which it does not forward.
struct Indexed {
    counting: CountingStore,
    inner: Arc<dyn Store>,
}

#[async_trait]
impl Store for Indexed {
    async fn load(&self, key: &StoreKey) -> Result<Option<Record>, StoreError> {
        self.counting.load(key).await
    }
    async fn create(&self, record: &Record) -> Result<Created, StoreError> {
        self.counting.create(record).await
    }
    async fn save(&self, record: &Record, expected: Version) -> Result<Saved, StoreError> {
        self.counting.save(record, expected).await
    }
    async fn touch(
        &self, key: &StoreKey, expected: Version, expires_at: OffsetDateTime,
    ) -> Result<session_core::Touched, StoreError> {
        self.counting.touch(key, expected, expires_at).await
    }
    async fn retire(
        &self, key: &StoreKey, expected: Version,
    ) -> Result<session_core::Retired, StoreError> {
        self.counting.retire(key, expected).await
    }
    async fn delete(&self, key: &StoreKey) -> Result<(), StoreError> {
        self.counting.delete(key).await
    }
    async fn delete_expired(&self) -> Result<u64, StoreError> {
        self.counting.delete_expired().await
    }
    fn user_index(&self) -> Option<&dyn UserIndex> {
        self.inner.user_index()
    }
    fn admin(&self) -> Option<&dyn session_core::StoreAdmin> {
        self.inner.admin()
    }
}

/// The statement counters of a MySQL server that only this test uses.
struct ServerCounters(tokio::sync::Mutex<session_sqlx::sqlx::MySqlConnection>);

/// The counters compared with the statement log (prepares, and the
/// `SHOW STATUS` that reads them, are not statements of the request).
const COUNTED: [&str; 7] = [
    "Com_begin",
    "Com_commit",
    "Com_delete",
    "Com_insert",
    "Com_rollback",
    "Com_select",
    "Com_update",
];

impl ServerCounters {
    async fn snapshot(&self) -> std::collections::BTreeMap<String, i64> {
        let rows: Vec<(String, String)> = session_sqlx::sqlx::query_as(
            // A SHOW (counted as Com_show_status), not a SELECT, which
            // would count itself.
            "SHOW GLOBAL STATUS LIKE 'Com\\_%'",
        )
        .fetch_all(&mut *self.0.lock().await)
        .await
        .expect("global status");
        rows.into_iter()
            .map(|(k, v)| (k.to_lowercase(), v.parse().unwrap_or(0)))
            .collect()
    }
}

/// The server-counted statements between two snapshots, by kind (first
/// word, as in the log), sorted.
fn server_delta(
    before: &std::collections::BTreeMap<String, i64>,
    after: &std::collections::BTreeMap<String, i64>,
) -> Vec<String> {
    let mut out = Vec::new();
    for name in COUNTED {
        let key = name.to_lowercase();
        let n = after.get(&key).unwrap_or(&0) - before.get(&key).unwrap_or(&0);
        for _ in 0..n {
            out.push(name["Com_".len()..].to_uppercase());
        }
    }
    out
}

static SERVER: Mutex<Option<Arc<ServerCounters>>> = Mutex::new(None);

/// Runs one request and returns (its cookie out, statements, store calls).
async fn request<F, Fut>(
    m: &SessionManager, counts: &session_core::testing::CallCounts, cookie: Option<&str>, f: F,
) -> (Option<String>, Vec<String>, (u64, u64, u64, u64, u64))
where
    F: FnOnce(session_core::Session) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let server = SERVER.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let server_before = match &server {
        Some(s) => Some(s.snapshot().await),
        None => None,
    };
    let before = counts.snapshot();
    LOG.lock().unwrap_or_else(|e| e.into_inner()).clear();
    ON.store(true, Ordering::SeqCst);
    let header = cookie.map(|c| format!("{}={c}", m.config().cookie_name()));
    let session = m.start(header.iter().map(|h| h.as_bytes()), RequestMeta::default());
    f(session.clone()).await;
    let out = m.finish(&session).await.expect("finish");
    ON.store(false, Ordering::SeqCst);
    let statements = std::mem::take(&mut *LOG.lock().unwrap_or_else(|e| e.into_inner()));
    if let (Some(server), Some(before)) = (&server, &server_before) {
        let counted = server_delta(before, &server.snapshot().await);
        let mut logged = statements.clone();
        logged.sort();
        let mut sorted = counted.clone();
        sorted.sort();
        println!("mysql    server counters: {}", counted.join(" + "));
        assert_eq!(
            sorted, logged,
            "the server's counters and the statement log"
        );
    }
    let after = counts.snapshot();
    let calls = (
        after.0 - before.0,
        after.1 - before.1,
        after.2 - before.2,
        after.3 - before.3,
        after.4 - before.4,
    );
    let cookie = out.and_then(|h| {
        let (_, v) = h.value.split(';').next()?.split_once('=')?;
        (!v.is_empty()).then(|| v.to_owned())
    });
    (cookie, statements, calls)
}

/// Every request kind on `store`; returns rows of (kind, statements).
async fn measure(db: &str, store: Arc<dyn Store>) -> Vec<(String, Vec<String>)> {
    // Warm the pool so no request opens the first connection.
    store
        .load(&session_core::SessionId::random().hashed_key())
        .await
        .expect("warm-up");
    let counting = CountingStore::new(store.clone());
    let counts = counting.counts.clone();
    let indexed = Arc::new(Indexed {
        counting,
        inner: store,
    });
    let clock = Arc::new(ManualClock::starting_now());
    let config = |cap: Option<SessionCap>| {
        let b = SessionConfig::builder()
            .key(session_core::test_key("key 1"))
            .idle_timeout(Some(Duration::minutes(100)))
            .touch_policy(TouchPolicy::Threshold(0.8));
        match cap {
            Some(cap) => b.max_sessions_per_user(3, cap),
            None => b,
        }
        .build()
        .expect("config")
    };
    let m = SessionManager::from_arc(config(None), indexed.clone()).with_clock(clock.clone());
    let mut rows = Vec::new();
    let mut row = |kind: &str, statements: Vec<String>, calls: (u64, u64, u64, u64, u64)| {
        println!(
            "{db:<8} {kind:<26} statements {:<24} store calls (load, create, save, touch, delete) {calls:?}",
            statements.join(" + ")
        );
        rows.push((kind.to_owned(), statements));
    };

    let (cookie, st, calls) = request(&m, &counts, None, |s| async move {
        s.insert("user", "ada").await.expect("insert");
    })
    .await;
    let cookie = cookie.expect("cookie");
    row("new session", st, calls);

    let (_, st, calls) = request(&m, &counts, Some(&cookie), |_| async {}).await;
    row("session untouched", st, calls);

    let (_, st, calls) = request(&m, &counts, Some(&cookie), |s| async move {
        assert_eq!(
            s.get::<String>("user").await.expect("get").as_deref(),
            Some("ada")
        );
    })
    .await;
    row("read-only", st, calls);

    let (_, st, calls) = request(&m, &counts, Some(&cookie), |s| async move {
        s.insert("views", 1).await.expect("insert");
    })
    .await;
    row("write", st, calls);

    clock.advance(Duration::minutes(25));
    let (_, st, calls) = request(&m, &counts, Some(&cookie), |s| async move {
        assert!(s.get::<String>("user").await.expect("get").is_some());
    })
    .await;
    row("read past threshold", st, calls);

    let (new_cookie, st, calls) = request(&m, &counts, Some(&cookie), |s| async move {
        s.regenerate().await.expect("regenerate");
    })
    .await;
    row("regenerate", st, calls);
    let cookie = new_cookie.expect("new cookie");

    let (_, st, calls) = request(&m, &counts, Some(&cookie), |s| async move {
        s.destroy();
    })
    .await;
    row("destroy", st, calls);

    // Sessions per user. An anonymous visitor logs in.
    let (cookie, _, _) = request(&m, &counts, None, |s| async move {
        s.insert("cart", 1).await.expect("insert");
    })
    .await;
    let (cookie, st, calls) = request(&m, &counts, cookie.as_deref(), |s| async move {
        s.regenerate().await.expect("regenerate");
        s.set_user("ada").await.expect("set_user");
        s.insert("user", "ada").await.expect("insert");
    })
    .await;
    row("login", st, calls);
    let laptop = cookie.expect("cookie");
    // Two more devices (a login from a fresh browser).
    for _ in 0..2 {
        request(&m, &counts, None, |s| async move {
            s.regenerate().await.expect("regenerate");
            s.set_user("ada").await.expect("set_user");
            s.insert("user", "ada").await.expect("insert");
        })
        .await;
    }
    let mut handles = Vec::new();
    let (_, st, calls) = request(&m, &counts, Some(&laptop), |s| {
        let handles = &mut handles;
        async move {
            let devices = s.devices().await.expect("devices");
            assert_eq!(devices.len(), 3);
            handles.extend(devices.into_iter().filter(|d| !d.current).map(|d| d.handle));
        }
    })
    .await;
    row("your devices", st, calls);
    let handle = handles.first().cloned().expect("another device");
    let (_, st, calls) = request(&m, &counts, Some(&laptop), |s| async move {
        assert!(s.revoke(&handle).await.expect("revoke"));
    })
    .await;
    row("revoke one device", st, calls);
    let device = |s: session_core::Session| async move {
        s.regenerate().await.expect("regenerate");
        s.set_user("ada").await.expect("set_user");
        s.insert("user", "ada").await.expect("insert");
    };
    request(&m, &counts, None, device).await;
    let (_, st, calls) = request(&m, &counts, Some(&laptop), |s| async move {
        assert_eq!(s.revoke_others().await.expect("revoke_others"), 2);
    })
    .await;
    row("revoke others (2)", st, calls);

    // A per-user cap of 3, with 3 sessions: the login beyond it.
    for _ in 0..2 {
        request(&m, &counts, None, device).await;
    }
    let login = |s: session_core::Session| async move {
        s.regenerate().await.expect("regenerate");
        if s.set_user("ada").await.is_ok() {
            s.insert("user", "ada").await.expect("insert");
        }
    };
    let capped = SessionManager::from_arc(config(Some(SessionCap::RevokeOldest)), indexed.clone())
        .with_clock(clock.clone());
    let (_, st, calls) = request(&capped, &counts, None, login).await;
    row("login, cap: revoke oldest", st, calls);
    // A visitor with a session logs in under the cap: the rotation retires
    // the old id, and the new one is admitted.
    let (visitor, _, _) = request(&capped, &counts, None, |s| async move {
        s.insert("cart", 1).await.expect("insert");
    })
    .await;
    let (_, st, calls) = request(&capped, &counts, visitor.as_deref(), login).await;
    row("rotation + login, cap", st, calls);
    let capped = SessionManager::from_arc(config(Some(SessionCap::RefuseLogin)), indexed)
        .with_clock(clock.clone());
    let (_, st, calls) = request(&capped, &counts, None, login).await;
    row("login, cap: refused", st, calls);
    rows
}

fn words(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_per_request_kind() {
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(StatementLog))
        .expect("global subscriber");

    let pg = common::pg_store(namespace("pg_statements")).await;
    let pg_rows = measure("postgres", Arc::new(pg.clone())).await;
    common::drop_schema(&pg).await;
    let sqlite = common::sqlite_store(namespace("sqlite_statements")).await;
    let sqlite_rows = measure("sqlite", Arc::new(sqlite)).await;

    // MySQL on a throwaway server of its own, so its global counters count
    // only this test's statements (else on the shared one, by the log only).
    let server = common::Server::start();
    let url = server
        .as_ref()
        .map_or_else(session_sqlx::testing::mysql_url, common::Server::url);
    let pool = session_sqlx::sqlx::mysql::MySqlPoolOptions::new()
        .max_connections(2)
        .connect(&url)
        .await
        .expect("connect to MySQL");
    let my = session_sqlx::MySqlStore::new(pool)
        .with_database(&namespace("my_statements"))
        .expect("name");
    my.migrate().await.expect("migrate");
    if server.is_some() {
        let admin =
            <session_sqlx::sqlx::MySqlConnection as session_sqlx::sqlx::Connection>::connect(&url)
                .await
                .expect("admin connection");
        *SERVER.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(Arc::new(ServerCounters(tokio::sync::Mutex::new(admin))));
    }
    let my_rows = measure("mysql", Arc::new(my.clone())).await;
    SERVER.lock().unwrap_or_else(|e| e.into_inner()).take();
    common::drop_database(&my).await;

    // PostgreSQL's save, touch and retire are each one `WITH ... SELECT`
    // (the write and, in the same snapshot, whether a live row was there);
    // SQLite's are an `UPDATE` or `DELETE` (plus a `SELECT` only when it
    // changed nothing).
    let expected = |update: &str, delete: &str, admit: Vec<String>| {
        vec![
            ("new session", words(&["INSERT"])),
            ("session untouched", words(&[])),
            ("read-only", words(&["SELECT"])),
            ("write", words(&["SELECT", update])),
            ("read past threshold", words(&["SELECT", update])),
            // Rotation retires the old id (compare-and-delete) before it
            // creates the new one.
            ("regenerate", words(&["SELECT", delete, "INSERT"])),
            ("destroy", words(&["DELETE"])),
            ("login", words(&["SELECT", delete, "INSERT"])),
            ("your devices", words(&["SELECT", "SELECT"])),
            // Session::revoke lists the devices once (to check the handle),
            // then deletes.
            ("revoke one device", words(&["SELECT", "SELECT", "DELETE"])),
            // One listing, then one DELETE per other device.
            (
                "revoke others (2)",
                words(&["SELECT", "SELECT", "DELETE", "DELETE"]),
            ),
            // admit, one transaction serialized per user: its BEGIN (on
            // PostgreSQL with the user's advisory lock), the user's other
            // sessions by login time, the write (and the revocations),
            // COMMIT.
            ("login, cap: revoke oldest", admit.clone()),
            (
                "rotation + login, cap",
                [words(&["SELECT", delete]), admit].concat(),
            ),
            ("login, cap: refused", words(&["BEGIN", "SELECT", "COMMIT"])),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect::<Vec<_>>()
    };
    // PostgreSQL: the INSERT and the DELETE of the session over the cap
    // are one `WITH` statement. SQLite: one DELETE per revoked session.
    let pg_admit = words(&["BEGIN", "SELECT", "WITH", "COMMIT"]);
    let sqlite_admit = words(&["BEGIN", "SELECT", "INSERT", "DELETE", "COMMIT"]);
    assert_eq!(pg_rows, expected("WITH", "WITH", pg_admit));
    assert_eq!(sqlite_rows, expected("UPDATE", "DELETE", sqlite_admit));
    // MySQL: the user's lock row (an INSERT) after BEGIN; one DELETE per
    // revoked session, as on SQLite.
    let my_admit = words(&["BEGIN", "INSERT", "SELECT", "INSERT", "DELETE", "COMMIT"]);
    let mut my_expected = expected("UPDATE", "DELETE", my_admit);
    if let Some(refused) = my_expected.last_mut() {
        refused.1 = words(&["BEGIN", "INSERT", "SELECT", "COMMIT"]);
    }
    assert_eq!(my_rows, my_expected);
}
