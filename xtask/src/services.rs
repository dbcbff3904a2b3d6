//! Finds or starts the Redis, PostgreSQL and MariaDB servers the tests and
//! the bench need, and stops the ones it started (by PID, when dropped).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::toolbox::{Guard, find_binary, free_port, reachable};

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

fn temp_dir(name: &str) -> Result<PathBuf, String> {
    let dir = std::env::temp_dir().join(format!("xtask-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    Ok(dir)
}

/// Unless `fresh`: the URL in the environment variable `var`, else `local`
/// when something listens on its default `port`.
fn given_or_running(fresh: bool, var: &str, port: u16, local: &str) -> Option<Service> {
    if fresh {
        return None;
    }
    if let Ok(url) = std::env::var(var) {
        return Some(Service::Ready {
            url,
            how: format!("from {var}"),
            _guard: None,
        });
    }
    reachable(port).then(|| Service::Ready {
        url: local.into(),
        how: "running on the default port".into(),
        _guard: None,
    })
}

/// Redis: `REDIS_URL`, else 127.0.0.1:6379, else a throwaway `redis-server`
/// (always a throwaway one when `fresh`).
pub(crate) fn redis(fresh: bool) -> Service {
    if let Some(found) = given_or_running(fresh, "REDIS_URL", 6379, "redis://127.0.0.1:6379") {
        return found;
    }
    let Some(bin) = find_binary("redis-server", &[]) else {
        return Service::Missing(
            "no Redis on 127.0.0.1:6379 and no redis-server binary: apt-get install redis-server"
                .into(),
        );
    };
    let started = temp_dir("redis").and_then(|dir| start_redis(Command::new(&bin), dir));
    match started {
        Ok((port, guard)) => Service::Ready {
            url: format!("redis://127.0.0.1:{port}"),
            how: "throwaway redis-server".into(),
            _guard: Some(guard),
        },
        Err(e) => Service::Missing(format!("could not start {}: {e}", bin.display())),
    }
}

/// Starts a throwaway `redis-server` without persistence on a free loopback
/// port, with its directory `dir`; `server` runs the binary (directly, or
/// pinned to a core). The guard stops it and removes `dir`.
pub(crate) fn start_redis(mut server: Command, dir: PathBuf) -> Result<(u16, Guard), String> {
    let port = free_port()?;
    let child = server
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args([
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "yes",
        ])
        .arg("--dir")
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("could not start redis-server: {e}"))?;
    let mut guard = Guard::new("redis-server", child).graceful(dir);
    guard.wait_port(port, Duration::from_secs(20))?;
    Ok((port, guard))
}

/// PostgreSQL: `DATABASE_URL`, else 127.0.0.1:5432 (database `test`, user
/// `postgres`), else a throwaway cluster from `initdb` + `postgres` (always a
/// throwaway one when `fresh`).
pub(crate) fn postgres(fresh: bool) -> Service {
    let local = "postgres://postgres@127.0.0.1:5432/test";
    if let Some(found) = given_or_running(fresh, "DATABASE_URL", 5432, local) {
        return found;
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

/// Runs `command` to its end; its stderr in the error when it fails.
fn succeeds(command: &mut Command, what: &str) -> Result<(), String> {
    let out = command.output().map_err(|e| format!("{what}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
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
    succeeds(
        as_postgres(initdb, user)
            .args(["-A", "trust", "-U", "postgres", "-D"])
            .arg(&data),
        "initdb",
    )?;
    let port = free_port()?;
    let child = as_postgres(server, user)
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
    let mut guard = Guard::new("postgres", child).graceful(dir);
    guard.wait_port(port, Duration::from_secs(30))?;
    // Give the server a moment to accept connections after it listens.
    std::thread::sleep(Duration::from_millis(300));
    Ok((
        format!("postgres://postgres@127.0.0.1:{port}/postgres"),
        guard,
    ))
}

/// MySQL / MariaDB: `MYSQL_URL`, else 127.0.0.1:3306 (user `root` without a
/// password, database `test`), else a throwaway `mariadbd` from
/// `mariadb-install-db` + `mariadbd` (always a throwaway one when `fresh`).
pub(crate) fn mysql(fresh: bool) -> Service {
    let local = "mysql://root@127.0.0.1:3306/test";
    if let Some(found) = given_or_running(fresh, "MYSQL_URL", 3306, local) {
        return found;
    }
    let dirs = [PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")];
    let (Some(install), Some(server)) = (
        find_binary("mariadb-install-db", &dirs),
        find_binary("mariadbd", &dirs),
    ) else {
        return Service::Missing(
            "no MySQL/MariaDB on 127.0.0.1:3306 and no mariadb-install-db/mariadbd binaries: apt-get install mariadb-server".into(),
        );
    };
    match temp_dir("mariadb").and_then(|dir| start_mariadb(&install, &server, dir)) {
        Ok((url, guard)) => Service::Ready {
            url,
            how: "throwaway mariadbd".into(),
            _guard: Some(guard),
        },
        Err(e) => Service::Missing(format!("could not start {}: {e}", server.display())),
    }
}

/// Initialises a data directory under `dir` and starts a throwaway
/// `mariadbd` on a free loopback port, without grant tables (anyone on
/// loopback is root: a test server only) and without the binary log. The
/// guard stops it (SIGTERM) and removes `dir`.
pub(crate) fn start_mariadb(
    install: &Path, server: &Path, dir: PathBuf,
) -> Result<(String, Guard), String> {
    let data = dir.join("data");
    let user = if id_of(&["-u"]) == Some(0) {
        vec!["--user=root".to_owned()]
    } else {
        Vec::new()
    };
    // Its own tmpdir, for the bootstrap and the server: at startup mariadbd
    // deletes every `#sql*` file in its tmpdir, which must not be another
    // server's.
    let tmp = dir.join("tmp");
    std::fs::create_dir_all(&tmp).map_err(|e| e.to_string())?;
    succeeds(
        Command::new(install)
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--tmpdir={}", tmp.display()))
            .args([
                "--auth-root-authentication-method=normal",
                "--skip-name-resolve",
            ])
            .args(&user),
        "mariadb-install-db",
    )?;
    let port = free_port()?;
    let child = Command::new(server)
        .arg("--no-defaults")
        .arg(format!("--datadir={}", data.display()))
        .arg(format!("--tmpdir={}", tmp.display()))
        .arg(format!("--socket={}", dir.join("mariadb.sock").display()))
        .arg(format!("--port={port}"))
        .args([
            "--bind-address=127.0.0.1",
            "--skip-grant-tables",
            "--skip-log-bin",
            "--innodb-flush-log-at-trx-commit=0",
        ])
        .args(&user)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut guard = Guard::new("mariadbd", child).graceful(dir).by_sigterm();
    guard.wait_port(port, Duration::from_secs(60))?;
    Ok((format!("mysql://root@127.0.0.1:{port}/test"), guard))
}
