//! Finds or starts the Redis and PostgreSQL servers the tests need, and stops
//! the ones it started (by PID, when dropped).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A service the tests can use, or why not.
pub(crate) enum Service {
    /// Reachable at this URL (given or found).
    Ready {
        url: String,
        how: String,
        _guard: Option<Guard>,
    },
    /// Not available; the message says what to install.
    Missing(String),
}

impl Service {
    pub(crate) fn url(&self) -> Option<&str> {
        match self {
            Service::Ready { url, .. } => Some(url),
            Service::Missing(_) => None,
        }
    }

    pub(crate) fn describe(&self) -> String {
        match self {
            Service::Ready { url, how, .. } => format!("{url} ({how})"),
            Service::Missing(why) => format!("MISSING: {why}"),
        }
    }
}

/// Kills a child server and removes its directory when dropped. A Ctrl-C
/// reaches the children too: they run in the same process group.
pub(crate) struct Guard {
    child: Child,
    dir: PathBuf,
}

impl Drop for Guard {
    fn drop(&mut self) {
        // SIGINT first: a fast, clean shutdown for both servers.
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn reachable(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_ok()
}

fn free_port() -> Option<u16> {
    TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()
        .map(|a| a.port())
}

fn wait_for(port: u16, child: &mut Child, limit: Duration) -> Result<(), String> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if reachable(port) {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("exited early with {status}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!("not listening after {limit:?}"))
}

fn temp_dir(name: &str) -> Result<PathBuf, String> {
    let dir = std::env::temp_dir().join(format!("xtask-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    Ok(dir)
}

fn find_binary(name: &str, extra_dirs: &[PathBuf]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(extra_dirs.iter().cloned())
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Redis: `REDIS_URL`, else 127.0.0.1:6379, else a throwaway `redis-server`
/// (always a throwaway one when `fresh`).
pub(crate) fn redis(fresh: bool) -> Service {
    if let Some(url) = std::env::var("REDIS_URL").ok().filter(|_| !fresh) {
        return Service::Ready {
            url,
            how: "from REDIS_URL".into(),
            _guard: None,
        };
    }
    if !fresh && reachable(6379) {
        return Service::Ready {
            url: "redis://127.0.0.1:6379".into(),
            how: "running on the default port".into(),
            _guard: None,
        };
    }
    let Some(bin) = find_binary("redis-server", &[]) else {
        return Service::Missing(
            "no Redis on 127.0.0.1:6379 and no redis-server binary: apt-get install redis-server"
                .into(),
        );
    };
    match start_redis(&bin) {
        Ok((url, guard)) => Service::Ready {
            url,
            how: "throwaway redis-server".into(),
            _guard: Some(guard),
        },
        Err(e) => Service::Missing(format!("could not start {}: {e}", bin.display())),
    }
}

fn start_redis(bin: &Path) -> Result<(String, Guard), String> {
    let dir = temp_dir("redis")?;
    let port = free_port().ok_or("no free port")?;
    let mut child = Command::new(bin)
        .args([
            "--bind",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .arg("--dir")
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    wait_for(port, &mut child, Duration::from_secs(10))?;
    Ok((format!("redis://127.0.0.1:{port}"), Guard { child, dir }))
}

/// PostgreSQL: `DATABASE_URL`, else 127.0.0.1:5432 (database `test`, user
/// `postgres`), else a throwaway cluster from `initdb` + `postgres` (always a
/// throwaway one when `fresh`).
pub(crate) fn postgres(fresh: bool) -> Service {
    if let Some(url) = std::env::var("DATABASE_URL").ok().filter(|_| !fresh) {
        return Service::Ready {
            url,
            how: "from DATABASE_URL".into(),
            _guard: None,
        };
    }
    if !fresh && reachable(5432) {
        return Service::Ready {
            url: "postgres://postgres@127.0.0.1:5432/test".into(),
            how: "running on the default port".into(),
            _guard: None,
        };
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| rd.flatten().map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    dirs.sort();
    dirs.reverse();
    let (Some(initdb), Some(server)) =
        (find_binary("initdb", &dirs), find_binary("postgres", &dirs))
    else {
        return Service::Missing(
            "no PostgreSQL on 127.0.0.1:5432 and no initdb/postgres binaries: apt-get install postgresql".into(),
        );
    };
    match start_postgres(&initdb, &server) {
        Ok((url, guard)) => Service::Ready {
            url,
            how: "throwaway postgres cluster".into(),
            _guard: Some(guard),
        },
        Err(e) => Service::Missing(format!("could not start {}: {e}", server.display())),
    }
}

fn id_of(args: &[&str]) -> Option<u32> {
    let out = Command::new("id").args(args).output().ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// The uid and gid of the `postgres` user when running as root (PostgreSQL
/// refuses to run as root); `None` otherwise.
fn postgres_user() -> Result<Option<(u32, u32)>, String> {
    if id_of(&["-u"]) != Some(0) {
        return Ok(None);
    }
    match (id_of(&["-u", "postgres"]), id_of(&["-g", "postgres"])) {
        (Some(uid), Some(gid)) => Ok(Some((uid, gid))),
        _ => Err("running as root and there is no postgres user".into()),
    }
}

/// `bin`, run as the `postgres` user when we are root. The child is the
/// server itself, so it can be stopped by its PID.
fn as_postgres(bin: &Path, user: Option<(u32, u32)>) -> Command {
    use std::os::unix::process::CommandExt;
    let mut c = Command::new(bin);
    if let Some((uid, gid)) = user {
        c.uid(uid).gid(gid);
    }
    c
}

fn start_postgres(initdb: &Path, server: &Path) -> Result<(String, Guard), String> {
    let user = postgres_user()?;
    let dir = temp_dir("postgres")?;
    let data = dir.join("data");
    if user.is_some() {
        let ok = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&dir)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            return Err("cannot chown the data directory to the postgres user".into());
        }
    }
    let out = as_postgres(initdb, user)
        .args(["-A", "trust", "-U", "postgres", "-D"])
        .arg(&data)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let port = free_port().ok_or("no free port")?;
    let mut child = as_postgres(server, user)
        .arg("-D")
        .arg(&data)
        .args([
            "-p",
            &port.to_string(),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
            "-k",
        ])
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    wait_for(port, &mut child, Duration::from_secs(30))?;
    // Give the server a moment to accept connections after it listens.
    std::thread::sleep(Duration::from_millis(300));
    Ok((
        format!("postgres://postgres@127.0.0.1:{port}/postgres"),
        Guard { child, dir },
    ))
}
