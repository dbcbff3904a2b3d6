//! What every xtask command uses: the project root (computed once), cargo,
//! binaries on `PATH`, a free loopback port, and a guard that stops a child
//! process by its PID when dropped (also when a step fails).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The workspace root: the parent of `xtask/`.
pub(crate) fn root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        manifest.parent().map(Path::to_path_buf).unwrap_or(manifest)
    })
}

/// `$CARGO` (the cargo that runs xtask), else `cargo`, run at the root.
pub(crate) fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    c
}

/// The first file called `name` in a `PATH` directory, then in `extra_dirs`.
pub(crate) fn find_binary(name: &str, extra_dirs: &[PathBuf]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(extra_dirs.iter().cloned())
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// A loopback port nothing listens on now.
pub(crate) fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// Whether something accepts connections on a loopback port.
pub(crate) fn reachable(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_ok()
}

/// Stops a child process when dropped: SIGKILL, or for a server started
/// with [`Guard::graceful`], SIGINT first (a fast, clean shutdown) and its
/// data directory removed. A Ctrl-C reaches the children too: they run in
/// the same process group.
pub(crate) struct Guard {
    what: String,
    child: Child,
    /// `Some` for a graceful stop: the directory to remove afterwards.
    dir: Option<PathBuf>,
    /// The signal of a graceful stop.
    signal: &'static str,
}

impl Guard {
    /// Guards `child`; `what` names it in errors.
    pub(crate) fn new(what: impl Into<String>, child: Child) -> Self {
        Self {
            what: what.into(),
            child,
            dir: None,
            signal: "-INT",
        }
    }

    /// Stops the child with SIGINT (SIGKILL after 10 s), then removes `dir`.
    pub(crate) fn graceful(mut self, dir: PathBuf) -> Self {
        self.dir = Some(dir);
        self
    }

    /// A graceful stop with SIGTERM instead of SIGINT (`mariadbd` shuts
    /// down on SIGTERM).
    pub(crate) fn by_sigterm(mut self) -> Self {
        self.signal = "-TERM";
        self
    }

    /// The child process.
    pub(crate) fn child(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Waits until the child listens on `port`, at most `limit`.
    pub(crate) fn wait_port(&mut self, port: u16, limit: Duration) -> Result<(), String> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if reachable(port) {
                return Ok(());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("{} exited early: {status}", self.what));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!(
            "{} did not listen on port {port} in {limit:?}",
            self.what
        ))
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if self.dir.is_some() {
            let _ = Command::new("kill")
                .args([self.signal, &self.child.id().to_string()])
                .status();
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(10) {
                if let Ok(Some(_)) = self.child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
