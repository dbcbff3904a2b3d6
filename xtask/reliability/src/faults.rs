//! Store faults under load: Redis killed (SIGKILL) and restarted on its own
//! port, Postgres connections terminated, MySQL connections `KILL`ed,
//! SQLite write-locked by another connection past the busy timeout; with
//! every adapter.

use std::error::Error;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::str::FromStr as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use session_core::{Secure, SessionConfig, SessionManager, Store};
use sqlx::Connection as _;

use crate::apps::{self, Framework};
use crate::client::{Conn, Outcome};
use crate::metrics;
use crate::stores::StoreKind;

type BoxError = Box<dyn Error + Send + Sync>;

/// A request with no response after this long counts as hung.
const HANG: Duration = Duration::from_secs(15);
/// The per-call store timeout configured for every store here.
pub(crate) const STORE_TIMEOUT: Duration = Duration::from_secs(1);

/// The SQL stores' pool under faults: 8 connections, each call bounded by
/// [`STORE_TIMEOUT`] while it waits for one.
fn pool_options<DB: sqlx::Database>() -> sqlx::pool::PoolOptions<DB> {
    sqlx::pool::PoolOptions::new()
        .max_connections(8)
        .acquire_timeout(STORE_TIMEOUT)
}
/// Sessions written before the load and only read during it.
const KEEPERS: usize = 20;

/// Load shape and outage schedule.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    pub(crate) clients: usize,
    pub(crate) duration: Duration,
    pub(crate) outage_at: Duration,
    pub(crate) outage: Duration,
}

/// Figures of one cell.
#[derive(Debug, Default)]
pub(crate) struct Cell {
    pub(crate) framework: &'static str,
    pub(crate) store: &'static str,
    pub(crate) fault: String,
    pub(crate) requests: u64,
    pub(crate) ok: u64,
    pub(crate) failure_responses: u64,
    pub(crate) other_status: u64,
    pub(crate) hangs: u64,
    pub(crate) io_errors: u64,
    pub(crate) max_latency: Duration,
    pub(crate) max_failure_latency: Duration,
    pub(crate) over_bound: u64,
    pub(crate) lost_sessions: u64,
    pub(crate) wrong_reads: u64,
    pub(crate) recovered_after: Option<Duration>,
    pub(crate) store_errors: u64,
    pub(crate) problems: Vec<String>,
}

impl Cell {
    /// The latency bound for a failure: a request makes at most a load and
    /// a save, each bounded by the store timeout; plus scheduling slack.
    pub(crate) fn bound() -> Duration {
        STORE_TIMEOUT * 2 + Duration::from_millis(500)
    }

    pub(crate) fn passed(&self) -> bool {
        self.other_status == 0
            && self.hangs == 0
            && self.lost_sessions == 0
            && self.wrong_reads == 0
            && self.recovered_after.is_some()
            && self.problems.is_empty()
    }
}

/// What breaks the store.
enum Injector {
    Redis(RedisServer),
    Postgres {
        url: String,
        app: String,
    },
    Sqlite {
        url: String,
    },
    /// The pool's connections (those on database `db`) are `KILL`ed.
    Mysql {
        url: String,
        db: String,
    },
}

impl Injector {
    fn describe(&self, outage: Duration) -> String {
        match self {
            Injector::Redis(_) => {
                format!("redis-server SIGKILLed, restarted after {outage:?} (AOF)")
            }
            Injector::Postgres { .. } => {
                format!("pg_terminate_backend of the pool's connections every 50 ms for {outage:?}")
            }
            Injector::Sqlite { .. } => {
                format!("BEGIN IMMEDIATE held {outage:?} (busy timeout {STORE_TIMEOUT:?})")
            }
            Injector::Mysql { .. } => {
                format!("KILL of the pool's connections every 50 ms for {outage:?}")
            }
        }
    }

    /// Breaks the store for `outage`, then restores it.
    async fn outage(&mut self, outage: Duration) -> Result<String, BoxError> {
        match self {
            Injector::Redis(server) => {
                server.kill();
                tokio::time::sleep(outage).await;
                server.start().await?;
                Ok("killed and restarted".to_owned())
            }
            Injector::Postgres { url, app } => {
                let mut admin = sqlx::PgConnection::connect(url).await?;
                let end = Instant::now() + outage;
                let mut terminated = 0i64;
                while Instant::now() < end {
                    let n: i64 = sqlx::query_scalar(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
                    )
                    .bind(&*app)
                    .fetch_one(&mut admin)
                    .await?;
                    terminated += n;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Ok(format!("{terminated} connections terminated"))
            }
            Injector::Sqlite { url } => {
                let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)?
                    .busy_timeout(Duration::from_secs(10));
                let mut locker = sqlx::SqliteConnection::connect_with(&options).await?;
                sqlx::query("BEGIN IMMEDIATE").execute(&mut locker).await?;
                tokio::time::sleep(outage).await;
                sqlx::query("ROLLBACK").execute(&mut locker).await?;
                Ok("write lock held and released".to_owned())
            }
            Injector::Mysql { url, db } => {
                let mut admin = sqlx::MySqlConnection::connect(url).await?;
                let end = Instant::now() + outage;
                let mut killed = 0u64;
                while Instant::now() < end {
                    let ids: Vec<i64> = sqlx::query_scalar(
                        "SELECT id FROM information_schema.processlist \
                         WHERE db = ? AND id <> CONNECTION_ID()",
                    )
                    .bind(&*db)
                    .fetch_all(&mut admin)
                    .await?;
                    for id in ids {
                        // A connection may end by itself meanwhile.
                        if sqlx::query(&format!("KILL {id}"))
                            .execute(&mut admin)
                            .await
                            .is_ok()
                        {
                            killed += 1;
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Ok(format!("{killed} connections killed"))
            }
        }
    }
}

/// A throwaway `redis-server` on its own port with an append-only file
/// fsynced on every write, so a SIGKILL loses nothing acknowledged.
pub(crate) struct RedisServer {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl RedisServer {
    async fn new() -> Result<Self, BoxError> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let dir = std::env::temp_dir().join(format!("session-reliability-redis-{port}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let mut s = Self {
            port,
            dir,
            child: None,
        };
        s.start().await?;
        Ok(s)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn start(&mut self) -> Result<(), BoxError> {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        self.child = Some(child);
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        for _ in 0..200 {
            if let Ok(mut s) = tokio::net::TcpStream::connect(addr).await {
                use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
                let mut buf = [0u8; 64];
                if s.write_all(b"PING\r\n").await.is_ok()
                    && let Ok(n) = s.read(&mut buf).await
                    && buf[..n].starts_with(b"+PONG")
                {
                    return Ok(());
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        Err("redis-server did not start".into())
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A store of `kind` configured with [`STORE_TIMEOUT`], and its injector.
async fn faulty_store(kind: StoreKind) -> Result<(Arc<dyn Store>, Injector), BoxError> {
    let ns = session_core::testing::namespace("rel_faults");
    match kind {
        StoreKind::Redis => {
            let server = RedisServer::new().await?;
            let store = session_redis::RedisStore::connect(&server.url())
                .await?
                .with_prefix(format!("{ns}:"))
                .with_timeout(STORE_TIMEOUT);
            Ok((Arc::new(store), Injector::Redis(server)))
        }
        StoreKind::Postgres => {
            let url = std::env::var("DATABASE_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
            let app = format!("reliability_{ns}");
            let options = sqlx::postgres::PgConnectOptions::from_str(&url)?.application_name(&app);
            let pool = pool_options().connect_with(options).await?;
            let store = session_sqlx::PostgresStore::new(pool).with_schema(&ns)?;
            store.migrate().await?;
            Ok((Arc::new(store), Injector::Postgres { url, app }))
        }
        StoreKind::Sqlite => {
            let dir = std::env::temp_dir().join("session-reliability");
            std::fs::create_dir_all(&dir)?;
            let url = format!(
                "sqlite://{}?mode=rwc",
                dir.join(format!("{ns}.db")).display()
            );
            let options = session_sqlx::SqliteStore::options(&url)?.busy_timeout(STORE_TIMEOUT);
            let pool = pool_options().connect_with(options).await?;
            let store = session_sqlx::SqliteStore::new(pool);
            store.migrate().await?;
            Ok((Arc::new(store), Injector::Sqlite { url }))
        }
        StoreKind::Mysql => {
            let url = session_sqlx::testing::mysql_url();
            // The database exists (migrated) before the pool opens on it,
            // so the pool's connections are the ones whose `db` it is.
            let setup = session_sqlx::MySqlStore::connect(&url)
                .await?
                .with_database(&ns)?;
            setup.migrate().await?;
            setup.pool().close().await;
            let options = sqlx::mysql::MySqlConnectOptions::from_str(&url)?.database(&ns);
            let pool = pool_options().connect_with(options).await?;
            let store = session_sqlx::MySqlStore::new(pool).with_database(&ns)?;
            Ok((Arc::new(store), Injector::Mysql { url, db: ns }))
        }
        StoreKind::Memory => Err("the memory store has no outage".into()),
    }
}

#[derive(Debug, Default)]
struct Tally {
    requests: u64,
    ok: u64,
    failure: u64,
    other: u64,
    hangs: u64,
    io: u64,
    max_latency: Duration,
    max_failure_latency: Duration,
    over_bound: u64,
    lost: u64,
    wrong_reads: u64,
    examples: Vec<String>,
}

impl Tally {
    fn add(&mut self, o: &Tally) {
        self.requests += o.requests;
        self.ok += o.ok;
        self.failure += o.failure;
        self.other += o.other;
        self.hangs += o.hangs;
        self.io += o.io;
        self.max_latency = self.max_latency.max(o.max_latency);
        self.max_failure_latency = self.max_failure_latency.max(o.max_failure_latency);
        self.over_bound += o.over_bound;
        self.lost += o.lost;
        self.wrong_reads += o.wrong_reads;
        for e in &o.examples {
            if self.examples.len() < 5 {
                self.examples.push(e.clone());
            }
        }
    }

    fn note(&mut self, e: String) {
        if self.examples.len() < 5 {
            self.examples.push(e);
        }
    }
}

/// Runs one cell: `framework` over a store of `kind` broken mid-load.
pub(crate) async fn run_cell(framework: Framework, kind: StoreKind, plan: Plan) -> Cell {
    let mut cell = Cell {
        framework: framework.name(),
        store: kind.name(),
        ..Cell::default()
    };
    if let Err(e) = run(framework, kind, plan, &mut cell).await {
        cell.problems.push(format!("setup: {e}"));
    }
    cell
}

async fn run(
    framework: Framework, kind: StoreKind, plan: Plan, cell: &mut Cell,
) -> Result<(), BoxError> {
    let (store, mut injector) = faulty_store(kind).await?;
    cell.fault = injector.describe(plan.outage);
    let config = SessionConfig::builder()
        .key(session_core::test_key("key 66"))
        .secure(Secure::Never)
        .max_conflict_retries(1_000)
        .build()?;
    let failure_body = config.failure_response().body.to_string();
    let failure_status = config.failure_response().status.as_u16();
    let server = apps::serve(framework, SessionManager::from_arc(config, store)).await?;
    let addr = server.addr;
    let _ = metrics::take();

    // Keepers: written before the outage, never written during it.
    let mut keepers = Vec::new();
    let mut c = Conn::new(addr, HANG);
    for k in 0..KEEPERS {
        match c
            .send("POST", "/set/v", None, &format!("\"keeper-{k}\""))
            .await
        {
            Outcome::Reply(r, _) if r.status == 200 => {
                keepers.push(
                    r.cookie
                        .filter(|c| !c.is_empty())
                        .ok_or("keeper: no cookie")?,
                );
            }
            other => return Err(format!("keeper setup: {other:?}").into()),
        }
    }
    // Each client's own counter session.
    let mut own = Vec::new();
    for _ in 0..plan.clients {
        match c.send("POST", "/incr/c", None, "").await {
            Outcome::Reply(r, _) if r.status == 200 && r.body == "1" => {
                own.push(
                    r.cookie
                        .filter(|c| !c.is_empty())
                        .ok_or("client: no cookie")?,
                );
            }
            other => return Err(format!("client setup: {other:?}").into()),
        }
    }

    let start = Instant::now();
    let deadline = start + plan.duration;
    let keepers = &keepers;
    let failure_body = &failure_body;
    let restored = std::sync::OnceLock::<Instant>::new();
    let restored = &restored;
    let load = join_all(own.iter().enumerate().map(|(w, cookie)| async move {
        let mut t = Tally::default();
        let mut conn = Conn::new(addr, HANG);
        let mut acked = 1u64;
        let mut i = 0usize;
        let mut first_ok_after: Option<Duration> = None;
        while Instant::now() < deadline {
            i += 1;
            let incr = i.is_multiple_of(2);
            let (method, path, cookie) = if incr {
                ("POST", "/incr/c", cookie)
            } else {
                ("GET", "/get/v", &keepers[(w + i) % keepers.len()])
            };
            t.requests += 1;
            match conn.send(method, path, Some(cookie), "").await {
                Outcome::Reply(r, latency) => {
                    t.max_latency = t.max_latency.max(latency);
                    if r.status == 200 {
                        t.ok += 1;
                        if first_ok_after.is_none()
                            && let Some(at) = restored.get()
                        {
                            first_ok_after = Some(at.elapsed());
                        }
                        if incr {
                            match r.body.parse::<u64>() {
                                Ok(n) if n > acked => acked = n,
                                _ => {
                                    t.lost += 1;
                                    t.note(format!("incr after {acked} answered {}", r.body));
                                }
                            }
                        } else if !r.body.starts_with("\"keeper-") {
                            t.wrong_reads += 1;
                            t.note(format!("keeper read answered {}", r.body));
                        }
                    } else if r.status == failure_status && r.body == *failure_body {
                        t.failure += 1;
                        t.max_failure_latency = t.max_failure_latency.max(latency);
                        if latency > Cell::bound() {
                            t.over_bound += 1;
                        }
                        if r.cookie.is_some() {
                            t.other += 1;
                            t.note("a failure response set a session cookie".to_owned());
                        }
                    } else {
                        t.other += 1;
                        t.note(format!("status {} body {:?}", r.status, r.body));
                    }
                }
                Outcome::Hang => {
                    t.hangs += 1;
                    t.note(format!("{method} {path}: no response within {HANG:?}"));
                }
                Outcome::Io(e) => {
                    t.io += 1;
                    t.note(format!("{method} {path}: {e}"));
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
        (t, acked, first_ok_after)
    }));
    let fault = async {
        tokio::time::sleep(plan.outage_at).await;
        let r = injector.outage(plan.outage).await;
        let _ = restored.set(Instant::now());
        r
    };
    let (results, fault) = tokio::join!(load, fault);
    cell.recovered_after = results.iter().filter_map(|(_, _, f)| *f).min();
    match fault {
        Ok(what) => cell.fault.push_str(&format!(": {what}")),
        Err(e) => cell.problems.push(format!("fault injection: {e}")),
    }

    // The same server process serves sessions again.
    let mut probe = Conn::new(addr, HANG);
    for _ in 0..300 {
        if let Outcome::Reply(r, _) = probe.send("GET", "/get/v", Some(&keepers[0]), "").await
            && r.status == 200
        {
            if cell.recovered_after.is_none() {
                cell.recovered_after = restored.get().map(Instant::elapsed);
            }
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    match probe.send("POST", "/set/after", None, "true").await {
        Outcome::Reply(r, _)
            if r.status == 200 && r.cookie.as_deref().is_some_and(|c| !c.is_empty()) =>
        {
            let cookie = r.cookie.unwrap_or_default();
            match probe.send("GET", "/get/after", Some(&cookie), "").await {
                Outcome::Reply(r, _) if r.body == "true" => {}
                other => cell
                    .problems
                    .push(format!("new session after the outage: {other:?}")),
            }
        }
        other => cell
            .problems
            .push(format!("new session after the outage: {other:?}")),
    }

    let mut total = Tally::default();
    let mut lost_sessions = 0u64;
    for (k, cookie) in keepers.iter().enumerate() {
        match probe.send("GET", "/get/v", Some(cookie), "").await {
            Outcome::Reply(r, _) if r.body == format!("\"keeper-{k}\"") => {}
            other => {
                lost_sessions += 1;
                total.note(format!("keeper {k} after the outage: {other:?}"));
            }
        }
    }
    for ((t, acked, _), cookie) in results.iter().zip(&own) {
        total.add(t);
        match probe.send("GET", "/get/c", Some(cookie), "").await {
            Outcome::Reply(r, _) if r.body.parse::<u64>().is_ok_and(|n| n >= *acked) => {}
            other => {
                lost_sessions += 1;
                total.note(format!(
                    "counter acked {acked}, after the outage: {other:?}"
                ));
            }
        }
    }
    server.stop().await;
    drop(injector);

    cell.requests = total.requests;
    cell.ok = total.ok;
    cell.failure_responses = total.failure;
    cell.other_status = total.other;
    cell.hangs = total.hangs;
    cell.io_errors = total.io;
    cell.max_latency = total.max_latency;
    cell.max_failure_latency = total.max_failure_latency;
    cell.over_bound = total.over_bound;
    cell.lost_sessions = lost_sessions + total.lost;
    cell.wrong_reads = total.wrong_reads;
    cell.store_errors = metrics::take().store_errors;
    if !cell.passed() || total.io > 0 {
        cell.problems.extend(total.examples);
    }
    Ok(())
}
