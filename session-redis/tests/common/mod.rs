//! Test helpers: the shared Redis URL, throwaway `redis-server` processes
//! (killed by PID when dropped, and by the kernel when the test binary
//! dies), a throwaway 3-master cluster, and `INFO commandstats`.
#![allow(dead_code)]

use std::collections::HashMap;
use std::ffi::OsString;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

pub(crate) mod tls;

pub(crate) const REDIS_SERVER: &str = "redis-server";
pub(crate) const REDIS_CLI: &str = "redis-cli";

/// `REDIS_URL`, or the local default.
pub(crate) fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A few random bytes (from the session id generator: no extra dependency).
fn random_u32() -> u32 {
    let id = session_core::SessionId::random();
    let b = id.as_bytes();
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

fn port_is_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// A free loopback port (the OS picks it; racing processes are unlikely to
/// take it before the server binds it).
pub(crate) fn free_port() -> u16 {
    for _ in 0..100 {
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind loopback");
        let port = listener.local_addr().expect("local addr").port();
        drop(listener);
        // Keep clear of the cluster bus range (port + 10000) problems: the
        // plain server needs only its own port.
        if port_is_free(port) {
            return port;
        }
    }
    panic!("no free loopback port");
}

/// Spawns processes from one thread that lives as long as the test binary.
///
/// Children run under `setpriv --pdeathsig KILL` when `setpriv` exists
/// (util-linux, present on every Debian). The kernel delivers that signal
/// when the *thread* that forked the child ends, so all children are forked
/// by this never-ending thread: they die exactly when the test binary does,
/// even when it panics or is killed.
struct Spawner {
    tx: Mutex<mpsc::Sender<SpawnRequest>>,
}

/// An argv to spawn, and where to send the child.
type SpawnRequest = (Vec<OsString>, mpsc::Sender<std::io::Result<Child>>);

fn spawner() -> &'static Spawner {
    static SPAWNER: OnceLock<Spawner> = OnceLock::new();
    SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("redis-spawner".into())
            .spawn(move || {
                let setpriv = Path::new("/usr/bin/setpriv").exists();
                for (argv, reply) in rx {
                    let mut cmd = if setpriv {
                        let mut c = Command::new("/usr/bin/setpriv");
                        c.arg("--pdeathsig").arg("KILL").arg("--");
                        c.args(&argv);
                        c
                    } else {
                        let mut c = Command::new(&argv[0]);
                        c.args(&argv[1..]);
                        c
                    };
                    cmd.stdin(Stdio::null())
                        .stdout(Stdio::null())
                        .stderr(Stdio::null());
                    let _ = reply.send(cmd.spawn());
                }
                // The sender lives in a static: this loop never ends, and
                // the thread must not end either (see above).
                loop {
                    std::thread::park();
                }
            })
            .expect("spawn thread");
        Spawner { tx: Mutex::new(tx) }
    })
}

fn spawn_guarded(argv: Vec<OsString>) -> Child {
    let (reply_tx, reply_rx) = mpsc::channel();
    spawner()
        .tx
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .send((argv, reply_tx))
        .expect("spawner thread alive");
    reply_rx
        .recv()
        .expect("spawner reply")
        .unwrap_or_else(|e| panic!("cannot start {REDIS_SERVER}: {e}"))
}

/// Sends `signal` (such as "KILL", "STOP", "CONT") to `pid`, with the
/// shell's builtin `kill` (`/bin/sh` is on every Debian; the `kill` binary
/// of procps is not on minimal images). Returns whether it was delivered.
pub(crate) fn signal(pid: u32, signal: &str) -> bool {
    Command::new("/bin/sh")
        .args(["-c", "kill -s \"$0\" \"$1\"", signal, &pid.to_string()])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Waits (bounded) until a server answers PING on `port`.
pub(crate) fn wait_for_ping(port: u16) {
    let url = format!("redis://127.0.0.1:{port}");
    for _ in 0..200 {
        let pong = redis::Client::open(url.as_str())
            .and_then(|c| c.get_connection_with_timeout(Duration::from_millis(200)))
            .and_then(|mut con| redis::cmd("PING").query::<String>(&mut con));
        if pong.is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("redis-server on port {port} did not answer PING");
}

/// A throwaway `redis-server` on its own loopback port; killed (SIGKILL by
/// PID) on drop.
pub(crate) struct RedisServer {
    pub(crate) port: u16,
    child: Option<Child>,
    extra: Vec<String>,
    /// `port` is the TLS port (`--tls-port`; no plain port).
    tls: bool,
}

impl RedisServer {
    /// Starts a server on a free port and waits until it answers.
    pub(crate) fn start() -> Self {
        Self::start_on(free_port(), Vec::new())
    }

    /// Starts a server on `port` with extra arguments.
    pub(crate) fn start_on(port: u16, extra: Vec<String>) -> Self {
        let mut server = Self {
            port,
            child: None,
            extra,
            tls: false,
        };
        server.restart();
        server
    }

    /// Starts a server that speaks only TLS, on a free port (`--port 0
    /// --tls-port <port>`), with the certificate and key of `ca`'s server,
    /// no client certificates required; waits until it listens.
    pub(crate) fn start_tls(ca: &tls::TestCa) -> Self {
        let port = free_port();
        let path = |p: &Path| p.display().to_string();
        let extra = vec![
            "--port".into(),
            "0".into(),
            "--tls-port".into(),
            port.to_string(),
            "--tls-cert-file".into(),
            path(&ca.server_cert),
            "--tls-key-file".into(),
            path(&ca.server_key),
            "--tls-ca-cert-file".into(),
            path(&ca.ca_cert),
            "--tls-auth-clients".into(),
            "no".into(),
        ];
        let mut server = Self {
            port,
            child: None,
            extra,
            tls: true,
        };
        server.restart();
        server
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.as_ref().expect("server running").id()
    }

    /// SIGKILL by PID, and reap.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // `Child::kill` is SIGKILL to this PID.
            child.kill().expect("SIGKILL redis-server");
            let _ = child.wait();
        }
    }

    /// (Re)starts the server on the same port.
    pub(crate) fn restart(&mut self) {
        self.kill();
        let mut argv: Vec<OsString> = vec![
            REDIS_SERVER.into(),
            "--bind".into(),
            "127.0.0.1".into(),
            "--save".into(),
            "".into(),
            "--appendonly".into(),
            "no".into(),
        ];
        if !self.tls {
            argv.extend(["--port".into(), self.port.to_string().into()]);
        }
        argv.extend(self.extra.iter().map(OsString::from));
        self.child = Some(spawn_guarded(argv));
        if self.tls {
            self.wait_for_tls_listener();
        } else {
            wait_for_ping(self.port);
        }
    }

    /// Waits (bounded) until the TLS port accepts connections; fails
    /// clearly when the server exited (a `redis-server` built without TLS
    /// refuses the TLS options and exits).
    fn wait_for_tls_listener(&mut self) {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], self.port));
        for _ in 0..200 {
            let child = self.child.as_mut().expect("server running");
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "{REDIS_SERVER} exited ({status}) instead of listening on TLS port {}: \
                     is it built with TLS support (`{REDIS_SERVER} --tls-port` needs BUILD_TLS=yes)?",
                    self.port
                );
            }
            if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("{REDIS_SERVER} did not listen on TLS port {}", self.port);
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `INFO commandstats` as command name -> calls.
pub(crate) async fn commandstats(url: &str) -> HashMap<String, u64> {
    let client = redis::Client::open(url).expect("url");
    let mut con = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect for INFO");
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut con)
        .await
        .expect("INFO commandstats");
    parse_commandstats(&info)
}

fn parse_commandstats(info: &str) -> HashMap<String, u64> {
    let mut out = HashMap::new();
    for line in info.lines() {
        let Some(rest) = line.strip_prefix("cmdstat_") else {
            continue;
        };
        let Some((name, fields)) = rest.split_once(':') else {
            continue;
        };
        let calls = fields
            .split(',')
            .find_map(|f| f.strip_prefix("calls="))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0);
        out.insert(name.to_owned(), calls);
    }
    out
}

/// `after - before`, without zero entries and without the `info` call made
/// by [`commandstats`] itself.
pub(crate) fn delta(
    before: &HashMap<String, u64>, after: &HashMap<String, u64>,
) -> HashMap<String, u64> {
    let mut out = HashMap::new();
    for (k, v) in after {
        let d = v - before.get(k).copied().unwrap_or(0);
        if d > 0 {
            out.insert(k.clone(), d);
        }
    }
    // One INFO per snapshot.
    if let Some(n) = out.get_mut("info") {
        *n -= 1;
        if *n == 0 {
            out.remove("info");
        }
    }
    out
}

/// A throwaway 3-master Redis Cluster on loopback, started once per test
/// binary and shared by its tests.
///
/// Teardown, in order of reliability: the servers run under
/// `setpriv --pdeathsig KILL` forked by a thread that lives as long as the
/// test binary, so the kernel kills them when the binary exits, passes or
/// fails, or is killed; and each start first kills the servers recorded by
/// earlier runs whose test binary is gone (PID files under the temp dir,
/// checked against `/proc/<pid>/cmdline` so a reused PID is never hit).
pub(crate) struct Cluster {
    pub(crate) ports: [u16; 3],
    servers: Vec<Child>,
    pub(crate) dir: PathBuf,
    pid_file: PathBuf,
}

impl Cluster {
    pub(crate) fn urls(&self) -> Vec<String> {
        self.ports
            .iter()
            .map(|p| format!("redis://127.0.0.1:{p}"))
            .collect()
    }

    /// SIGKILL to the master on `ports[i]`.
    pub(crate) fn kill_node(&mut self, i: usize) {
        let child = &mut self.servers[i];
        child.kill().expect("SIGKILL redis-server");
        let _ = child.wait();
    }
}

/// A cluster owned by one test (the shared one lives in a static and is
/// never dropped) is killed by PID when dropped, also when the test fails.
impl Drop for Cluster {
    fn drop(&mut self) {
        for child in &mut self.servers {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = std::fs::remove_file(&self.pid_file);
    }
}

fn pid_dir() -> PathBuf {
    std::env::temp_dir().join("session-redis-test-clusters")
}

fn is_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

fn is_redis_server(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| String::from_utf8_lossy(&c).contains(REDIS_SERVER))
        .unwrap_or(false)
}

/// Kills clusters left by test binaries that no longer run.
fn kill_stale_clusters() {
    let Ok(entries) = std::fs::read_dir(pid_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "pids") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let mut lines = text.lines();
        let owner: Option<u32> = lines.next().and_then(|l| l.trim().parse().ok());
        if owner.is_some_and(is_alive) {
            continue;
        }
        let mut data_dir = None;
        for line in lines {
            if let Ok(pid) = line.trim().parse::<u32>() {
                if is_alive(pid) && is_redis_server(pid) {
                    signal(pid, "KILL");
                }
            } else if let Some(d) = line.strip_prefix("dir ") {
                data_dir = Some(PathBuf::from(d));
            }
        }
        if let Some(d) = data_dir {
            let _ = std::fs::remove_dir_all(d);
        }
        let _ = std::fs::remove_file(&path);
    }
}

fn cluster_base_port() -> u16 {
    for _ in 0..200 {
        // Ports 20000..44997; cluster bus ports (+10000) 30000..54997.
        let base = 20_000 + (random_u32() % 24_998) as u16;
        let all_free = (0..3).all(|i| port_is_free(base + i) && port_is_free(base + i + 10_000));
        if all_free {
            return base;
        }
    }
    panic!("no free port range for a test cluster");
}

fn redis_cli(args: &[String]) -> std::process::Output {
    Command::new(REDIS_CLI)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {REDIS_CLI}: {e}"))
}

fn cluster_info(port: u16) -> String {
    String::from_utf8_lossy(
        &redis_cli(&[
            "-h".into(),
            "127.0.0.1".into(),
            "-p".into(),
            port.to_string(),
            "cluster".into(),
            "info".into(),
        ])
        .stdout,
    )
    .into_owned()
}

/// Starts a 3-master cluster on free loopback ports and waits until every
/// node reports `cluster_state:ok`.
pub(crate) fn start_cluster() -> Cluster {
    kill_stale_clusters();
    let base = cluster_base_port();
    let ports = [base, base + 1, base + 2];
    let owner = std::process::id();
    let dir = std::env::temp_dir().join(format!("session-redis-cluster-{owner}-{base}"));
    std::fs::create_dir_all(&dir).expect("cluster dir");
    std::fs::create_dir_all(pid_dir()).expect("pid dir");
    let pid_file = pid_dir().join(format!("{owner}-{base}.pids"));
    let mut record = format!("{owner}\ndir {}\n", dir.display());
    std::fs::write(&pid_file, &record).expect("pid file");

    let mut servers = Vec::new();
    for port in ports {
        let argv: Vec<OsString> = vec![
            REDIS_SERVER.into(),
            "--port".into(),
            port.to_string().into(),
            "--bind".into(),
            "127.0.0.1".into(),
            "--cluster-enabled".into(),
            "yes".into(),
            "--cluster-config-file".into(),
            dir.join(format!("nodes-{port}.conf")).into(),
            "--dir".into(),
            dir.clone().into(),
            "--save".into(),
            "".into(),
            "--appendonly".into(),
            "no".into(),
        ];
        let child = spawn_guarded(argv);
        record.push_str(&format!("{}\n", child.id()));
        std::fs::write(&pid_file, &record).expect("pid file");
        servers.push(child);
    }
    for port in ports {
        wait_for_ping(port);
    }
    let mut args: Vec<String> = vec!["--cluster".into(), "create".into()];
    args.extend(ports.iter().map(|p| format!("127.0.0.1:{p}")));
    args.extend(["--cluster-replicas", "0", "--cluster-yes"].map(String::from));
    let out = redis_cli(&args);
    assert!(
        out.status.success(),
        "redis-cli --cluster create failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut ok = false;
    for _ in 0..300 {
        ok = ports.iter().all(|p| {
            let info = cluster_info(*p);
            info.contains("cluster_state:ok")
                && info.contains("cluster_slots_ok:16384")
                && info.contains("cluster_known_nodes:3")
        });
        if ok {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(ok, "cluster did not reach cluster_state:ok");
    Cluster {
        ports,
        servers,
        dir,
        pid_file,
    }
}

/// The test binary's cluster, started on first use.
pub(crate) fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(start_cluster)
}

/// The keys of `user`'s live sessions as the store's user index lists
/// them, sorted.
pub(crate) async fn listed_keys(
    store: &dyn session_core::Store, user: &str,
) -> Vec<session_core::StoreKey> {
    let index = store.user_index().expect("a user index");
    let records = index.user_records(user).await.expect("user_records");
    let mut keys: Vec<_> = records.into_iter().map(|r| r.key).collect();
    keys.sort();
    keys
}

/// A session record without a user, expiring `expires_in` from now.
pub(crate) fn record(expires_in: time::Duration, payload: &[u8]) -> session_core::Record {
    session_core::Record {
        key: session_core::SessionId::random().hashed_key(),
        version: session_core::Version::FIRST,
        expires_at: time::OffsetDateTime::now_utc() + expires_in,
        payload: payload.to_vec(),
        user: None,
    }
}
