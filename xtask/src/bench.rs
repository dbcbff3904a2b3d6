//! `cargo xtask bench`: the HTTP comparison of BENCHMARKS.md.
//!
//! Builds the servers of `xtask/bench-servers` (a standalone package: it
//! depends on the peer libraries, the workspace does not) in release into
//! `target/bench-servers`, starts a throwaway `redis-server`, then for
//! several rounds runs every server in turn, pinned to core 0 with one
//! worker thread, and loads each route with `wrk` pinned to core 1. All
//! cells run in one process so the ratios compare figures taken minutes
//! apart on the same machine; ratios are taken within a round, then the
//! median over rounds is reported. Writes `BENCHMARKS.md` and
//! `BENCHMARKS-ratios.svg` at the root. Every process it starts is killed
//! by PID when its guard drops (also on failure).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use crate::services;
use crate::toolbox::{Guard, cargo, find_binary, free_port, root};
use std::time::{Duration, Instant};

const HELP: &str = "\
cargo xtask bench [--rounds N] [--duration SECS] [--connections N] [--warmup SECS]
  [--server-bin PATH]
  defaults: 3 rounds, 4 s per cell after a 1 s warm-up, 16 connections;
  --server-bin runs a bench-server built elsewhere instead of building it";

/// Options of `cargo xtask bench`.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    rounds: usize,
    duration: u64,
    warmup: u64,
    connections: u32,
    server_bin: Option<PathBuf>,
}

impl Options {
    pub(crate) fn parse(args: &[String]) -> Result<Options, String> {
        let mut o = Options {
            rounds: 3,
            duration: 4,
            warmup: 1,
            connections: 16,
            server_bin: None,
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let mut value = |name: &str| -> Result<u64, String> {
                it.next()
                    .and_then(|v| v.parse::<u64>().ok())
                    .filter(|v| *v > 0 || name == "--warmup")
                    .ok_or_else(|| format!("{name} needs a number\n{HELP}"))
            };
            match a.as_str() {
                "--rounds" => o.rounds = value("--rounds")? as usize,
                "--duration" => o.duration = value("--duration")?,
                "--warmup" => o.warmup = value("--warmup")?,
                "--connections" => o.connections = value("--connections")? as u32,
                "--server-bin" => {
                    o.server_bin = Some(
                        it.next()
                            .map(PathBuf::from)
                            .ok_or_else(|| format!("--server-bin needs a path\n{HELP}"))?,
                    )
                }
                other => return Err(format!("unknown option {other:?}\n{HELP}")),
            }
        }
        Ok(o)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Store {
    Memory,
    Redis,
}

impl Store {
    fn arg(self) -> &'static str {
        match self {
            Store::Memory => "memory",
            Store::Redis => "redis",
        }
    }
}

/// One server of the comparison.
#[derive(Debug, Clone, Copy)]
struct Server {
    /// The `bench-server` argument.
    name: &'static str,
    framework: &'static str,
    /// The session library ("" for a bare framework).
    library: &'static str,
    /// Whether the session library is ours.
    ours: bool,
}

const SERVERS: [Server; 8] = [
    Server {
        name: "axum",
        framework: "axum",
        library: "",
        ours: false,
    },
    Server {
        name: "axum-ours",
        framework: "axum",
        library: "session-axum",
        ours: true,
    },
    Server {
        name: "axum-tower",
        framework: "axum",
        library: "tower-sessions",
        ours: false,
    },
    Server {
        name: "actix",
        framework: "actix-web",
        library: "",
        ours: false,
    },
    Server {
        name: "actix-ours",
        framework: "actix-web",
        library: "session-actix",
        ours: true,
    },
    Server {
        name: "actix-peer",
        framework: "actix-web",
        library: "actix-session",
        ours: false,
    },
    Server {
        name: "rocket",
        framework: "rocket",
        library: "",
        ours: false,
    },
    Server {
        name: "rocket-ours",
        framework: "rocket",
        library: "session-rocket",
        ours: true,
    },
];

const ROUTES: [&str; 3] = ["read", "incr", "new"];

/// Sessions the `/incr` load rotates through, so that concurrent requests
/// write different sessions (as different users would).
const INCR_SESSIONS: usize = 64;

impl Server {
    fn bare(self) -> bool {
        self.library.is_empty()
    }

    fn store_label(self, store: Store) -> String {
        match (self.name, store) {
            (_, Store::Memory) if self.bare() => "-".into(),
            ("actix-peer", Store::Memory) => "cookie (CookieSessionStore)".into(),
            ("actix-peer", Store::Redis) => "redis (RedisSessionStore)".into(),
            ("axum-tower", Store::Memory) => "memory (MemoryStore)".into(),
            ("axum-tower", Store::Redis) => "redis (tower-sessions-redis-store)".into(),
            (_, Store::Memory) => "memory (MemoryStore)".into(),
            (_, Store::Redis) => "redis (session-redis)".into(),
        }
    }

    fn label(self) -> String {
        if self.bare() {
            format!("{} (bare)", self.framework)
        } else {
            format!("{} + {}", self.framework, self.library)
        }
    }

    /// The peer of one of our servers, in the same framework.
    fn peer(self) -> Option<Server> {
        let name = match self.name {
            "axum-ours" => "axum-tower",
            "actix-ours" => "actix-peer",
            _ => return None,
        };
        SERVERS.iter().copied().find(|s| s.name == name)
    }

    fn base(self) -> Server {
        SERVERS
            .iter()
            .copied()
            .find(|s| s.bare() && s.framework == self.framework)
            .unwrap_or(self)
    }
}

/// What the bench runs: (server, store) pairs, in the order of a round.
fn plan() -> Vec<(Server, Store)> {
    let mut plan: Vec<(Server, Store)> = SERVERS.iter().map(|s| (*s, Store::Memory)).collect();
    plan.extend(
        SERVERS
            .iter()
            .filter(|s| !s.bare())
            .map(|s| (*s, Store::Redis)),
    );
    plan
}

/// One wrk run.
#[derive(Debug, Clone, Default)]
struct Measure {
    rps: f64,
    p99_ms: f64,
    requests: u64,
    bad: u64,
    /// Redis commands during the run, by command name.
    redis: BTreeMap<String, u64>,
    /// The server's CPU time per request (all its threads, user + system),
    /// in microseconds: unlike req/s, it does not depend on how much of
    /// core 0 other processes of the machine took during the run.
    cpu_us: f64,
    /// Commands the server sent per request (not counting those a script
    /// ran), from `MONITOR` over a short sequential sample.
    client_commands: Option<f64>,
}

type Key = (&'static str, Store, &'static str);

/// Prefix of a command with `taskset -c CPU` when taskset is there.
fn pinned(cpu: &str, program: &Path, taskset: Option<&Path>) -> Command {
    match taskset {
        Some(t) => {
            let mut c = Command::new(t);
            c.arg("-c").arg(cpu).arg(program);
            c
        }
        None => Command::new(program),
    }
}

// ---------------------------------------------------------------- redis

/// Sends one command over a fresh connection and returns the reply as text.
fn redis_cmd(port: u16, args: &[&str]) -> Result<String, String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("redis: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let mut req = format!("*{}\r\n", args.len());
    for a in args {
        let _ = write!(req, "${}\r\n{a}\r\n", a.len());
    }
    s.write_all(req.as_bytes())
        .map_err(|e| format!("redis: {e}"))?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = s.read(&mut chunk).map_err(|e| format!("redis: {e}"))?;
        if n == 0 {
            return Err("redis closed the connection".into());
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf);
        let Some(line_end) = text.find("\r\n") else {
            continue;
        };
        let head = &text[..line_end];
        match head.as_bytes().first() {
            Some(b'+') | Some(b':') => return Ok(head[1..].to_owned()),
            Some(b'-') => return Err(format!("redis error: {}", &head[1..])),
            Some(b'$') => {
                let len: usize = head[1..].parse().map_err(|_| "bad redis reply")?;
                let start = line_end + 2;
                if buf.len() >= start + len {
                    return Ok(String::from_utf8_lossy(&buf[start..start + len]).into_owned());
                }
            }
            _ => return Err(format!("unexpected redis reply {head:?}")),
        }
    }
}

/// Requests of the `MONITOR` sample.
const MONITOR_REQUESTS: usize = 50;

/// Commands per request that the server sends to Redis itself (a command a
/// Lua script runs shows as `[0 lua]` in `MONITOR` and is not counted), over
/// [`MONITOR_REQUESTS`] sequential requests.
fn client_commands(
    redis_port: u16, port: u16, route: &str, cookies: &[String],
) -> Result<f64, String> {
    let mut mon =
        TcpStream::connect(("127.0.0.1", redis_port)).map_err(|e| format!("redis: {e}"))?;
    mon.write_all(b"*1\r\n$7\r\nMONITOR\r\n")
        .map_err(|e| format!("redis: {e}"))?;
    mon.set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    while !buf.starts_with(b"+OK\r\n") {
        let n = mon
            .read(&mut chunk)
            .map_err(|e| format!("redis MONITOR: {e}"))?;
        if n == 0 {
            return Err("redis closed the MONITOR connection".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    for i in 0..MONITOR_REQUESTS {
        let cookie = if cookies.is_empty() {
            None
        } else {
            Some(cookies[i % cookies.len()].as_str())
        };
        let (status, _, _) = http_get(port, &format!("/{route}"), cookie)?;
        if status != 200 {
            return Err(format!("MONITOR sample: /{route} answered {status}"));
        }
    }
    // Everything the sample caused has reached the monitor once the
    // responses are in; read until the line goes quiet.
    mon.set_read_timeout(Some(Duration::from_millis(300)))
        .map_err(|e| e.to_string())?;
    loop {
        match mon.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let text = String::from_utf8_lossy(&buf);
    let sent = text
        .split("\r\n")
        .filter(|l| l.starts_with('+') && l.contains("] \"") && !l.contains(" lua] "))
        .count();
    Ok(sent as f64 / MONITOR_REQUESTS as f64)
}

/// `INFO commandstats` as command name -> calls, without the bench's own
/// commands.
fn command_stats(port: u16) -> Result<BTreeMap<String, u64>, String> {
    let info = redis_cmd(port, &["INFO", "commandstats"])?;
    let mut out = BTreeMap::new();
    for line in info.lines() {
        let Some(rest) = line.strip_prefix("cmdstat_") else {
            continue;
        };
        let Some((name, fields)) = rest.split_once(':') else {
            continue;
        };
        if matches!(name, "info" | "config|resetstat" | "config" | "flushall") {
            continue;
        }
        let calls = fields
            .split(',')
            .find_map(|f| f.strip_prefix("calls="))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        out.insert(name.to_uppercase(), calls);
    }
    Ok(out)
}

/// The bench's `redis-server` on core 1 with the load generator (core 0
/// is the server's alone), its directory under `target/`: (guard, port,
/// directory).
fn start_redis(taskset: Option<&Path>) -> Result<(Guard, u16, PathBuf), String> {
    let bin = find_binary("redis-server", &[])
        .ok_or("redis-server not found: install it with `apt-get install -y redis-server`")?;
    let dir = root().join("target").join("bench-redis");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let (port, guard) = services::start_redis(pinned("1", &bin, taskset), dir.clone())?;
    Ok((guard, port, dir))
}

// ---------------------------------------------------------------- http

/// One HTTP/1.1 request with `Connection: close`: (status, set-cookie
/// pairs, body).
fn http_get(
    port: u16, path: &str, cookie: Option<&str>,
) -> Result<(u16, Vec<String>, String), String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("GET {path}: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let cookie = cookie
        .map(|c| format!("Cookie: {c}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n{cookie}\r\n"
    );
    s.write_all(req.as_bytes())
        .map_err(|e| format!("GET {path}: {e}"))?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)
        .map_err(|e| format!("GET {path}: {e}"))?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or(format!("GET {path}: no header end"))?;
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or(format!("GET {path}: no status"))?;
    let cookies = lines
        .filter_map(|l| l.split_once(':'))
        .filter(|(name, _)| name.trim().eq_ignore_ascii_case("set-cookie"))
        .map(|(_, v)| v.trim().split(';').next().unwrap_or("").trim().to_owned())
        .collect();
    Ok((status, cookies, body.to_owned()))
}

/// A new session with `n` set: the cookie header value to send.
fn new_session(port: u16) -> Result<String, String> {
    let (status, cookies, _) = http_get(port, "/new", None)?;
    if status != 200 || cookies.is_empty() {
        return Err(format!(
            "GET /new answered {status} with {} cookies",
            cookies.len()
        ));
    }
    Ok(cookies.join("; "))
}

/// Checks that the server keeps state through the cookie: /incr then /read
/// see n = 1.
fn check_session(port: u16, cookie: &str) -> Result<String, String> {
    let (status, cookies, body) = http_get(port, "/incr", Some(cookie))?;
    if status != 200 || !body.contains("n=1") {
        return Err(format!("priming: /incr answered {status} {body:?}"));
    }
    // A cookie store sends the new state back.
    let cookie = if cookies.is_empty() {
        cookie.to_owned()
    } else {
        cookies.join("; ")
    };
    let (status, _, body) = http_get(port, "/read", Some(&cookie))?;
    if status != 200 || !body.contains("n=1") {
        return Err(format!(
            "priming: /read after /incr answered {status} {body:?}"
        ));
    }
    Ok(cookie)
}

/// CPU time used so far by every thread of `pid`, in nanoseconds (from
/// `/proc/<pid>/task/*/schedstat`; 0 where not readable).
fn cpu_ns(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .filter_map(Result::ok)
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| {
            s.split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
        })
        .sum()
}

// ---------------------------------------------------------------- wrk

fn duration_ms(text: &str) -> Option<f64> {
    let text = text.trim();
    let (num, factor) = if let Some(v) = text.strip_suffix("us") {
        (v, 0.001)
    } else if let Some(v) = text.strip_suffix("ms") {
        (v, 1.0)
    } else if let Some(v) = text.strip_suffix('m') {
        (v, 60_000.0)
    } else if let Some(v) = text.strip_suffix('s') {
        (v, 1000.0)
    } else {
        return None;
    };
    num.trim().parse::<f64>().ok().map(|v| v * factor)
}

fn parse_wrk(out: &str) -> Result<Measure, String> {
    let mut m = Measure::default();
    for line in out.lines() {
        let t = line.trim();
        if let Some(v) = t.strip_prefix("Requests/sec:") {
            m.rps = v
                .trim()
                .parse()
                .map_err(|_| format!("bad wrk line {t:?}"))?;
        } else if let Some(v) = t.strip_prefix("99%") {
            m.p99_ms = duration_ms(v).ok_or_else(|| format!("bad wrk line {t:?}"))?;
        } else if t.contains(" requests in ") {
            m.requests = t
                .split_whitespace()
                .next()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
        } else if let Some(v) = t.strip_prefix("Non-2xx or 3xx responses:") {
            m.bad += v.trim().parse::<u64>().unwrap_or(0);
        } else if let Some(v) = t.strip_prefix("Socket errors:") {
            m.bad += v
                .split(',')
                .filter_map(|f| f.split_whitespace().last())
                .filter_map(|n| n.parse::<u64>().ok())
                .sum::<u64>();
        }
    }
    if m.rps <= 0.0 || m.requests == 0 {
        return Err(format!("no requests in wrk's output:\n{out}"));
    }
    Ok(m)
}

struct Wrk<'a> {
    bin: &'a Path,
    taskset: Option<&'a Path>,
    connections: u32,
    script: PathBuf,
}

impl Wrk<'_> {
    /// Loads `route` for `secs`; `/incr` rotates through `cookies`, other
    /// routes send the first one (or none).
    fn run(
        &self, port: u16, route: &str, cookies: &[String], secs: u64,
    ) -> Result<Measure, String> {
        let mut cmd = pinned("1", self.bin, self.taskset);
        cmd.args(["-t1", "--latency", "--timeout", "5s"])
            .arg(format!("-c{}", self.connections))
            .arg(format!("-d{secs}s"));
        if cookies.len() > 1 {
            let mut lua = String::from("local cookies = {\n");
            for c in cookies {
                let _ = writeln!(lua, "  {:?},", c);
            }
            lua.push_str(
                "}\nlocal i = 0\nrequest = function()\n  i = i % #cookies + 1\n  \
                 return wrk.format(nil, nil, { [\"Cookie\"] = cookies[i] })\nend\n",
            );
            std::fs::write(&self.script, lua).map_err(|e| e.to_string())?;
            cmd.arg("-s").arg(&self.script);
        } else if let Some(c) = cookies.first() {
            cmd.arg("-H").arg(format!("Cookie: {c}"));
        }
        cmd.arg(format!("http://127.0.0.1:{port}/{route}"));
        let out = cmd
            .output()
            .map_err(|e| format!("could not run wrk: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() {
            return Err(format!(
                "wrk failed: {}\n{text}{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        parse_wrk(&text)
    }
}

// ---------------------------------------------------------------- run

fn capture(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .map(|o| {
            let mut s = String::from_utf8_lossy(&o.stdout).into_owned();
            s.push_str(&String::from_utf8_lossy(&o.stderr));
            s.lines().next().unwrap_or("").trim().to_owned()
        })
        .unwrap_or_else(|| "?".into())
}

fn build_servers() -> Result<PathBuf, String> {
    let root = root();
    let target = root.join("target").join("bench-servers");
    eprintln!("bench: building xtask/bench-servers in release (target/bench-servers)...");
    let status = cargo()
        .args(["build", "--release", "--manifest-path"])
        .arg(root.join("xtask").join("bench-servers").join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .map_err(|e| format!("could not run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("building bench-servers failed: {status}"));
    }
    Ok(target.join("release").join("bench-server"))
}

pub(crate) fn run(options: &Options) -> ExitCode {
    match bench(options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn bench(o: &Options) -> Result<(), String> {
    let started = Instant::now();
    let Some(wrk) = find_binary("wrk", &[]) else {
        return Err("wrk not found: the bench needs the wrk load generator; \
                    install it with `apt-get install -y wrk` (Debian's package) and run again"
            .into());
    };
    let taskset = find_binary("taskset", &[]);
    if taskset.is_none() {
        eprintln!(
            "bench: warning: taskset not found (util-linux): running unpinned, figures are noisier"
        );
    }
    let server_bin = match &o.server_bin {
        Some(path) => path.clone(),
        None => build_servers()?,
    };
    let (_redis, redis_port, redis_dir) = start_redis(taskset.as_deref())?;
    let redis_url = format!("redis://127.0.0.1:{redis_port}");
    let wrk = Wrk {
        bin: &wrk,
        taskset: taskset.as_deref(),
        connections: o.connections,
        script: redis_dir.join("incr.lua"),
    };
    let plan = plan();
    let total = o.rounds * plan.len() * ROUTES.len();
    let mut done = 0;
    let mut results: BTreeMap<Key, Vec<Measure>> = BTreeMap::new();
    for round in 0..o.rounds {
        for &(server, store) in &plan {
            let port = free_port()?;
            let child = pinned("0", &server_bin, taskset.as_deref())
                .args([server.name, store.arg(), &port.to_string(), &redis_url])
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .map_err(|e| format!("could not start bench-server: {e}"))?;
            let mut guard = Guard::new(
                format!("bench-server {} {}", server.name, store.arg()),
                child,
            );
            guard.wait_port(port, Duration::from_secs(20))?;
            for route in ROUTES {
                if store == Store::Redis {
                    redis_cmd(redis_port, &["FLUSHALL"])?;
                }
                let cookies: Vec<String> = match (route, server.bare()) {
                    (_, true) | ("new", _) => Vec::new(),
                    ("read", false) => vec![check_session(port, &new_session(port)?)?],
                    _ => (0..INCR_SESSIONS)
                        .map(|_| new_session(port))
                        .collect::<Result<_, _>>()?,
                };
                // Bare servers get the same request shape as the others.
                let cookies = if server.bare() && route == "incr" {
                    (0..INCR_SESSIONS).map(|i| format!("id=bare{i}")).collect()
                } else {
                    cookies
                };
                if o.warmup > 0 {
                    wrk.run(port, route, &cookies, o.warmup)?;
                }
                if store == Store::Redis {
                    redis_cmd(redis_port, &["CONFIG", "RESETSTAT"])?;
                }
                let pid = guard.child().id();
                let cpu_before = cpu_ns(pid);
                let mut m = wrk.run(port, route, &cookies, o.duration)?;
                m.cpu_us =
                    (cpu_ns(pid).saturating_sub(cpu_before)) as f64 / 1000.0 / m.requests as f64;
                if store == Store::Redis {
                    m.redis = command_stats(redis_port)?;
                    if round == 0 {
                        m.client_commands =
                            Some(client_commands(redis_port, port, route, &cookies)?);
                    }
                }
                done += 1;
                eprintln!(
                    "bench: [{done}/{total}] round {} {:<12} {:<6} /{:<4} {:>9.0} req/s  p99 {:>7.2} ms  cpu {:>6.2} us/req{}",
                    round + 1,
                    server.name,
                    store.arg(),
                    route,
                    m.rps,
                    m.p99_ms,
                    m.cpu_us,
                    if m.bad > 0 {
                        format!("  {} errors", m.bad)
                    } else {
                        String::new()
                    }
                );
                results
                    .entry((server.name, store, route))
                    .or_default()
                    .push(m);
            }
            drop(guard);
        }
    }
    let elapsed = started.elapsed();
    let report = Report {
        o,
        results: &results,
        elapsed,
    };
    let root = root();
    std::fs::write(root.join("BENCHMARKS-ratios.svg"), report.svg())
        .map_err(|e| format!("writing BENCHMARKS-ratios.svg: {e}"))?;
    std::fs::write(root.join("BENCHMARKS.md"), report.markdown())
        .map_err(|e| format!("writing BENCHMARKS.md: {e}"))?;
    let _ = std::fs::remove_file(&wrk.script);
    eprintln!(
        "bench: wrote BENCHMARKS.md and BENCHMARKS-ratios.svg in {:.0} s",
        elapsed.as_secs_f64()
    );
    Ok(())
}

// ---------------------------------------------------------------- report

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

struct Report<'a> {
    o: &'a Options,
    results: &'a BTreeMap<Key, Vec<Measure>>,
    elapsed: Duration,
}

/// The figures of one session cell.
struct Row {
    server: Server,
    store: Store,
    route: &'static str,
    rps: f64,
    p99: f64,
    bad: u64,
    to_bare: f64,
    to_peer: Option<f64>,
    cpu_us: f64,
    /// Bare framework's CPU per request over this one's (same round, median).
    cpu_to_bare: f64,
    cpu_to_peer: Option<f64>,
    /// All commands per request (scripts' included), by command, and the
    /// commands the server sent per request.
    redis: Option<(f64, String, f64)>,
}

impl Report<'_> {
    fn cell(&self, server: Server, store: Store, route: &'static str) -> &[Measure] {
        let store = if server.bare() { Store::Memory } else { store };
        self.results
            .get(&(server.name, store, route))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Median over rounds of a / b, each pair from the same round.
    fn ratio(&self, a: &[Measure], b: &[Measure]) -> f64 {
        median(a.iter().zip(b).map(|(a, b)| a.rps / b.rps).collect())
    }

    /// Median over rounds of b's CPU per request over a's.
    fn cpu_ratio(&self, a: &[Measure], b: &[Measure]) -> f64 {
        median(a.iter().zip(b).map(|(a, b)| b.cpu_us / a.cpu_us).collect())
    }

    fn rows(&self) -> Vec<Row> {
        let mut rows = Vec::new();
        for store in [Store::Memory, Store::Redis] {
            for route in ROUTES {
                for server in SERVERS {
                    if server.bare() && store == Store::Redis {
                        continue;
                    }
                    let ms = self.cell(server, store, route);
                    if ms.is_empty() {
                        continue;
                    }
                    let redis = (store == Store::Redis).then(|| {
                        let requests: u64 = ms.iter().map(|m| m.requests).sum();
                        let mut by_cmd: BTreeMap<&str, u64> = BTreeMap::new();
                        for m in ms {
                            for (k, v) in &m.redis {
                                *by_cmd.entry(k).or_default() += v;
                            }
                        }
                        let total: u64 = by_cmd.values().sum();
                        let per = |n: u64| n as f64 / requests.max(1) as f64;
                        let detail = by_cmd
                            .iter()
                            .filter(|(_, v)| per(**v) >= 0.005)
                            .map(|(k, v)| format!("{k} {:.2}", per(*v)))
                            .collect::<Vec<_>>()
                            .join(", ");
                        let client = ms
                            .iter()
                            .find_map(|m| m.client_commands)
                            .unwrap_or(f64::NAN);
                        (per(total), detail, client)
                    });
                    rows.push(Row {
                        server,
                        store,
                        route,
                        rps: median(ms.iter().map(|m| m.rps).collect()),
                        p99: median(ms.iter().map(|m| m.p99_ms).collect()),
                        bad: ms.iter().map(|m| m.bad).sum(),
                        to_bare: self.ratio(ms, self.cell(server.base(), store, route)),
                        to_peer: server
                            .peer()
                            .map(|p| self.ratio(ms, self.cell(p, store, route))),
                        cpu_us: median(ms.iter().map(|m| m.cpu_us).collect()),
                        cpu_to_bare: self.cpu_ratio(ms, self.cell(server.base(), store, route)),
                        cpu_to_peer: server
                            .peer()
                            .map(|p| self.cpu_ratio(ms, self.cell(p, store, route))),
                        redis,
                    });
                }
            }
        }
        rows
    }

    fn markdown(&self) -> String {
        let o = self.o;
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|c| {
                c.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, v)| v.trim().to_owned())
            })
            .unwrap_or_else(|| "?".into());
        let mut s = String::new();
        let _ = writeln!(s, "# Benchmarks\n");
        let _ = writeln!(
            s,
            "Written by `cargo xtask bench` (xtask/src/bench.rs); the servers are in \
             `xtask/bench-servers/`. Do not edit by hand: run the bench again.\n"
        );
        let _ = writeln!(s, "## Machine and method\n");
        let _ = writeln!(s, "- CPU: {cpu}, {} cores (`nproc`)", capture("nproc", &[]));
        let _ = writeln!(s, "- {}", capture("rustc", &["--version"]));
        let _ = writeln!(
            s,
            "- {}; {}",
            capture("wrk", &["-v"]),
            capture("redis-server", &["--version"])
        );
        let _ = writeln!(
            s,
            "- Reproduce: `cargo xtask bench` (needs `wrk` and `redis-server`: \
             `apt-get install -y wrk redis-server`); options `--rounds {} --duration {} --warmup {} --connections {}` \
             were used; the whole run took {:.0} s.",
            o.rounds,
            o.duration,
            o.warmup,
            o.connections,
            self.elapsed.as_secs_f64()
        );
        let _ = writeln!(
            s,
            "- Every server is a release build with one worker thread (tokio `current_thread` for axum, \
             `workers(1)` for actix-web and Rocket), pinned to core 0 (`taskset -c 0`); `wrk -t1 -c{}` and a \
             throwaway `redis-server` run on core 1. Loopback only.",
            o.connections
        );
        let _ = writeln!(
            s,
            "- Routes: `GET /read` reads key `n` of an existing session (the cookie of a session made \
             before the run); `GET /incr` increments `n` (the requests rotate over {INCR_SESSIONS} existing \
             sessions, so that concurrent requests write different sessions, as different users would); \
             `GET /new` sends no cookie and writes `n`, so every request creates a session. Bare servers \
             answer the same routes without sessions.",
        );
        let _ = writeln!(
            s,
            "- {} rounds; in each round every server runs in turn (A B C ... A B C ...), each route with \
             a {} s warm-up then {} s measured. Figures are the median over rounds; ratios are taken within \
             a round (same minute, same machine load) and then the median over rounds.",
            o.rounds, o.warmup, o.duration
        );
        let _ = writeln!(
            s,
            "- Peers run with their defaults except `Secure` off (plain HTTP): tower-sessions' cookie \
             is not signed by default (its id is random), ours and actix-session's are signed (HMAC). \
             actix-session has no memory store: its memory cell is its `CookieSessionStore` (the whole \
             session in the signed cookie). tower-sessions' Redis cell uses tower-sessions 0.14, the \
             newest version tower-sessions-redis-store 0.16 supports, with a fred pool of one connection; \
             its memory cell uses the latest tower-sessions. Versions: see \
             `xtask/bench-servers/Cargo.lock`.\n"
        );
        let _ = writeln!(
            s,
            "![ratios to the bare framework](BENCHMARKS-ratios.svg)\n"
        );
        let rows = self.rows();
        let _ = writeln!(s, "## Bare frameworks\n");
        let _ = writeln!(
            s,
            "| framework | route | req/s (median) | p99 ms | CPU µs / req |"
        );
        let _ = writeln!(s, "|---|---|---:|---:|---:|");
        for route in ROUTES {
            for server in SERVERS.iter().filter(|s| s.bare()) {
                let ms = self.cell(*server, Store::Memory, route);
                if ms.is_empty() {
                    continue;
                }
                let _ = writeln!(
                    s,
                    "| {} | /{route} | {:.0} | {:.2} | {:.1} |",
                    server.framework,
                    median(ms.iter().map(|m| m.rps).collect()),
                    median(ms.iter().map(|m| m.p99_ms).collect()),
                    median(ms.iter().map(|m| m.cpu_us).collect())
                );
            }
        }
        for store in [Store::Memory, Store::Redis] {
            let title = match store {
                Store::Memory => "In-process stores",
                Store::Redis => "Redis stores",
            };
            let _ = writeln!(s, "\n## {title}\n");
            let redis_cols = store == Store::Redis;
            let _ = writeln!(
                s,
                "| route | server | store | req/s (median) | p99 ms | x bare | x peer | CPU µs / req | x bare (CPU) | x peer (CPU) |{}",
                if redis_cols {
                    " Redis commands sent / request | all Redis commands / request (incl. inside scripts) |"
                } else {
                    ""
                }
            );
            let _ = writeln!(
                s,
                "|---|---|---|---:|---:|---:|---:|---:|---:|---:|{}",
                if redis_cols { "---:|---|" } else { "" }
            );
            for r in rows.iter().filter(|r| r.store == store) {
                let name = if r.server.ours {
                    format!("**{}**", r.server.label())
                } else {
                    r.server.label()
                };
                let peer = r
                    .to_peer
                    .map(|v| format!("{v:.2}"))
                    .unwrap_or_else(|| "-".into());
                let errors = if r.bad > 0 {
                    format!(" ({} errors)", r.bad)
                } else {
                    String::new()
                };
                let cpu_peer = r
                    .cpu_to_peer
                    .map(|v| format!("{v:.2}"))
                    .unwrap_or_else(|| "-".into());
                let _ = write!(
                    s,
                    "| /{} | {name} | {} | {:.0}{errors} | {:.2} | {:.2} | {peer} | {:.1} | {:.2} | {cpu_peer} |",
                    r.route,
                    r.server.store_label(store),
                    r.rps,
                    r.p99,
                    r.to_bare,
                    r.cpu_us,
                    r.cpu_to_bare
                );
                if let Some((per, detail, client)) = &r.redis {
                    let _ = write!(s, " {client:.2} | {per:.2} ({detail}) |");
                }
                s.push('\n');
            }
        }
        let _ = writeln!(
            s,
            "\n`x bare`: req/s over the bare framework's on the same route in the same round. \
             `CPU µs / req`: the server's CPU time (all threads, user + system, from \
             `/proc/<pid>/task/*/schedstat`) over the measured run divided by the requests wrk counted; \
             `x bare (CPU)` / `x peer (CPU)`: the bare framework's (the peer's) CPU per request over this \
             server's, same round, median: the req/s ratio each would reach with core 0 to itself. On a \
             shared machine other processes also run on core 0 (taskset keeps the server on it, not the \
             others off it), so the CPU ratios are the steadier figures. `x peer`: \
             session-axum over tower-sessions, session-actix over actix-session, same store kind, same route, \
             same round (session-rocket has no peer). Redis commands sent per request: the commands the \
             server sent, from `MONITOR` over {MONITOR_REQUESTS} sequential requests after the first round's run \
             (commands a Lua script runs inside Redis are not sent; pipelined commands would share a round trip, \
             so this is an upper bound on round trips). All Redis commands per request: `INFO commandstats` deltas \
             over the measured runs (every round) divided by the requests wrk counted, including the commands \
             scripts run (EVALSHA's GET, SET, PEXPIRETIME...).\n"
        );
        let _ = writeln!(s, "## Targets (issue 9)\n");
        let find = |name: &str, store: Store, route: &str| {
            rows.iter()
                .find(|r| r.server.name == name && r.store == store && r.route == route)
        };
        for name in ["axum-ours", "actix-ours", "rocket-ours"] {
            if let Some(r) = find(name, Store::Memory, "read") {
                let _ = writeln!(
                    s,
                    "- {} /read, memory: {:.2}x bare by req/s, {:.2}x by CPU per request (target >= 0.90){}.",
                    r.server.label(),
                    r.to_bare,
                    r.cpu_to_bare,
                    r.to_peer
                        .zip(r.cpu_to_peer)
                        .map(|(p, c)| format!(
                            "; {p:.2}x its peer by req/s, {c:.2}x by CPU (target >= 1.3)"
                        ))
                        .unwrap_or_default()
                );
            }
        }
        for name in ["axum-ours", "actix-ours"] {
            if let Some(r) = find(name, Store::Redis, "read") {
                let _ = writeln!(
                    s,
                    "- {} /read, Redis: {:.2}x its peer's Redis store by req/s, {:.2}x by CPU (target >= 1.3).",
                    r.server.label(),
                    r.to_peer.unwrap_or(f64::NAN),
                    r.cpu_to_peer.unwrap_or(f64::NAN)
                );
            }
        }
        s.push_str("\n## session-core micro-benchmarks (criterion)\n\n");
        match std::fs::read_to_string(root().join("xtask").join("bench-core.md")) {
            Ok(text) => s.push_str(&text),
            Err(_) => s.push_str(
                "Not recorded: run `cargo bench -p session-core` and put the figures in \
                 `xtask/bench-core.md`.\n",
            ),
        }
        s
    }

    /// A horizontal bar chart of every session cell's ratio to its bare
    /// framework, drawn by hand.
    fn svg(&self) -> String {
        let rows: Vec<Row> = self
            .rows()
            .into_iter()
            .filter(|r| !r.server.bare())
            .collect();
        let bar_h = 16.0;
        let gap = 4.0;
        let left = 330.0;
        let width = 900.0;
        let plot_w = width - left - 60.0;
        let top = 50.0;
        let max = rows
            .iter()
            .flat_map(|r| [r.to_bare, r.cpu_to_bare])
            .filter(|v| v.is_finite())
            .fold(1.1f64, f64::max)
            .ceil()
            .min(3.0);
        let x = |v: f64| left + plot_w * (v / max).clamp(0.0, 1.0);
        let mut groups = 0usize;
        let mut last = None;
        for r in &rows {
            if last != Some((r.store, r.route)) {
                groups += 1;
                last = Some((r.store, r.route));
            }
        }
        let height = top + rows.len() as f64 * (bar_h + gap) + groups as f64 * 22.0 + 40.0;
        let mut s = String::new();
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height:.0}" viewBox="0 0 {width} {height:.0}" font-family="sans-serif" font-size="12">"#
        );
        let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
        let _ = writeln!(
            s,
            r#"<text x="{}" y="22" font-size="15" font-weight="bold" text-anchor="middle">ratio to the bare framework: req/s and CPU per request (median of {} rounds; higher is better)</text>"#,
            width / 2.0,
            self.o.rounds
        );
        let mut y = top;
        let mut last = None;
        for r in &rows {
            if last != Some((r.store, r.route)) {
                last = Some((r.store, r.route));
                y += 6.0;
                let _ = writeln!(
                    s,
                    r#"<text x="10" y="{:.1}" font-weight="bold">/{} - {} stores</text>"#,
                    y + 10.0,
                    r.route,
                    r.store.arg()
                );
                y += 16.0;
            }
            let color = if r.server.ours { "#1f6feb" } else { "#9a9a9a" };
            let label = format!("{} [{}]", r.server.label(), r.server.store_label(r.store));
            let _ = writeln!(
                s,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
                left - 6.0,
                y + bar_h - 4.0,
                label
            );
            let finite = |v: f64| if v.is_finite() { v } else { 0.0 };
            let (v, c) = (finite(r.to_bare), finite(r.cpu_to_bare));
            let half = bar_h / 2.0;
            let light = if r.server.ours { "#8db7f5" } else { "#cfcfcf" };
            let _ = writeln!(
                s,
                r#"<rect x="{left}" y="{y:.1}" width="{:.1}" height="{half}" fill="{color}"/>"#,
                x(v) - left
            );
            let _ = writeln!(
                s,
                r#"<rect x="{left}" y="{:.1}" width="{:.1}" height="{half}" fill="{light}"/>"#,
                y + half,
                x(c) - left
            );
            let _ = writeln!(
                s,
                r#"<text x="{:.1}" y="{:.1}">{v:.2} req/s, {c:.2} CPU</text>"#,
                x(v.max(c)) + 4.0,
                y + bar_h - 4.0
            );
            y += bar_h + gap;
        }
        // Reference lines: 1.0 (bare) and 0.9 (the read target).
        for (v, dash, label) in [
            (1.0, "", "bare = 1.0"),
            (0.9, r#" stroke-dasharray="4 3""#, "0.9"),
        ] {
            let _ = writeln!(
                s,
                r##"<line x1="{0:.1}" y1="{top}" x2="{0:.1}" y2="{y:.1}" stroke="#d73a49"{dash}/>"##,
                x(v)
            );
            let _ = writeln!(
                s,
                r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#d73a49">{label}</text>"##,
                x(v),
                y + 14.0
            );
        }
        let _ = writeln!(
            s,
            r##"<rect x="{left}" y="{:.1}" width="10" height="10" fill="#1f6feb"/><text x="{:.1}" y="{:.1}">ours</text><rect x="{:.1}" y="{:.1}" width="10" height="10" fill="#9a9a9a"/><text x="{:.1}" y="{:.1}">peers (dark: req/s ratio; light: CPU-per-request ratio)</text>"##,
            y + 22.0,
            left + 14.0,
            y + 31.0,
            left + 60.0,
            y + 22.0,
            left + 74.0,
            y + 31.0
        );
        s.push_str("</svg>\n");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_wrk_output() {
        let out = "Running 4s test @ http://127.0.0.1:1/read
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   180.00us   50.00us   2.00ms   90.00%
    Req/Sec    80.00k     2.00k   85.00k    90.00%
  Latency Distribution
     50%  170.00us
     75%  190.00us
     90%  210.00us
     99%    1.40ms
  320000 requests in 4.00s, 30.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 5
Requests/sec:  80000.50
Transfer/sec:      7.50MB
";
        let m = parse_wrk(out).expect("parses");
        assert_eq!(m.requests, 320_000);
        assert_eq!(m.bad, 8);
        assert!((m.rps - 80000.5).abs() < 1e-9);
        assert!((m.p99_ms - 1.4).abs() < 1e-9);
        assert_eq!(duration_ms("250.00us"), Some(0.25));
        assert_eq!(duration_ms("1.50s"), Some(1500.0));
    }

    #[test]
    fn median_of_even_and_odd() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
