//! Hostile `Cookie` headers over real loopback TCP, so each framework's own
//! HTTP parser (and its header limits) sits in front of the session layer:
//! headers past 8 KiB, up to 1 MiB, hundreds of `Cookie` lines, non-UTF-8
//! bytes. The in-process scenario suite cannot show this: its clients have
//! no size limits.
//!
//! Every case must end in a defined outcome: a 200 (with the live session
//! only when its cookie arrived intact), or the framework's clean refusal
//! (400, 413 or 431, or a closed connection for a header past the parser's
//! buffer). Never a 500, never a hang, never the live session's data for a
//! damaged cookie.

use std::net::SocketAddr;
use std::time::Duration;

use session_core::{MemoryStore, SessionManager};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::apps::{self, Framework};
use crate::client::{Conn, Outcome};

/// The secret the live session holds; no damaged cookie may read it.
const SECRET: &str = "s3cret-7f1c";

/// How long a case may take before it counts as hung.
const HANG: Duration = Duration::from_secs(10);

/// What one case got.
#[derive(Debug, Clone)]
pub(crate) struct Case {
    /// The case.
    pub(crate) name: &'static str,
    /// The response status; `None` when the server closed the connection
    /// without one.
    pub(crate) status: Option<u16>,
    /// The body held the live session's secret.
    pub(crate) leaked: bool,
    /// Whether the outcome is one the case allows.
    pub(crate) ok: bool,
    /// Why not, or how it went.
    pub(crate) note: String,
}

/// One framework's cases.
#[derive(Debug, Clone)]
pub(crate) struct Cell {
    /// The framework.
    pub(crate) framework: Framework,
    /// The cases, or why the cell could not run.
    pub(crate) cases: Result<Vec<Case>, String>,
}

impl Cell {
    /// Every case ended in an allowed outcome.
    pub(crate) fn passed(&self) -> bool {
        self.cases
            .as_ref()
            .is_ok_and(|cases| cases.iter().all(|c| c.ok))
    }
}

/// What a case allows besides "never a 500, never a hang".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// The cookie is intact: 200 with the secret, or a clean refusal.
    Session,
    /// The cookie is damaged or absent: 200 without the secret, or a clean
    /// refusal.
    Fresh,
    /// The cookie is intact but other bytes of the header are not UTF-8: a
    /// framework may drop the whole header (Rocket does), so a fresh session
    /// is allowed too.
    SessionOrFresh,
}

/// `n` bytes of other cookies: `c0=aaaa...; c1=...`.
fn filler(n: usize) -> String {
    let mut s = String::with_capacity(n + 32);
    let mut i = 0;
    while s.len() < n {
        s.push_str(&format!("c{i}={}; ", "a".repeat(60)));
        i += 1;
    }
    s
}

fn cases(live: &str) -> Vec<(&'static str, Expect, Vec<u8>)> {
    let mut flipped = live.as_bytes().to_vec();
    if let Some(b) = flipped.get_mut(10) {
        *b = if *b == b'A' { b'B' } else { b'A' };
    }
    let flipped = String::from_utf8_lossy(&flipped).into_owned();
    let line = |v: &str| format!("Cookie: {v}\r\n").into_bytes();
    let mut many = Vec::new();
    for i in 0..300 {
        many.extend(format!("Cookie: m{i}=x\r\n").into_bytes());
    }
    many.extend(line(&format!("id={live}")));
    let mut non_utf8 = b"Cookie: a=\xff\xfe\x80; id=".to_vec();
    non_utf8.extend_from_slice(live.as_bytes());
    non_utf8.extend_from_slice(b"; b=\xc3\x28\r\n");
    vec![
        (
            "9 KiB header, our cookie intact at its end",
            Expect::Session,
            line(&format!("{}id={live}", filler(9 * 1024))),
        ),
        (
            "9 KiB header, our cookie with one character changed",
            Expect::Fresh,
            line(&format!("{}id={flipped}", filler(9 * 1024))),
        ),
        (
            "64 KiB value under our name",
            Expect::Fresh,
            line(&format!("id={}", "A".repeat(64 * 1024))),
        ),
        (
            "1 MiB header",
            Expect::Fresh,
            line(&format!("{}id={flipped}", filler(1024 * 1024))),
        ),
        ("300 Cookie header lines, ours last", Expect::Session, many),
        (
            "non-UTF-8 bytes in other cookies around ours",
            Expect::SessionOrFresh,
            non_utf8,
        ),
    ]
}

/// Sends `GET /get/secret` with the raw header lines `headers` on a new
/// connection and reads until the server closes it.
async fn raw_get(addr: SocketAddr, headers: &[u8]) -> Result<(Option<u16>, String), String> {
    let exchange = async {
        let mut s = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        let mut req =
            b"GET /get/secret HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n".to_vec();
        req.extend_from_slice(headers);
        req.extend_from_slice(b"\r\n");
        // The server may refuse and close before reading it all.
        let _ = s.write_all(&req).await;
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out).await;
        Ok::<_, String>(out)
    };
    let out = tokio::time::timeout(HANG, exchange)
        .await
        .map_err(|_| format!("no response within {HANG:?}"))??;
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .lines()
        .next()
        .filter(|l| l.starts_with("HTTP/1."))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok());
    Ok((status, text))
}

/// Runs the cases against `framework`'s app on a MemoryStore.
pub(crate) async fn run_cell(framework: Framework) -> Cell {
    let manager = SessionManager::new(crate::concurrency::config(), MemoryStore::new());
    let server = match apps::serve(framework, manager).await {
        Ok(s) => s,
        Err(e) => {
            return Cell {
                framework,
                cases: Err(format!("server did not start: {e}")),
            };
        }
    };
    let cases = run_cases(server.addr).await;
    server.stop().await;
    Cell { framework, cases }
}

async fn run_cases(addr: SocketAddr) -> Result<Vec<Case>, String> {
    let mut conn = Conn::new(addr, HANG);
    let live = match conn
        .send("POST", "/set/secret", None, &format!("\"{SECRET}\""))
        .await
    {
        Outcome::Reply(r, _) if r.status == 200 => r.cookie.filter(|c| !c.is_empty()),
        other => return Err(format!("seeding the live session: {other:?}")),
    }
    .ok_or("seeding the live session: no cookie")?;
    let mut out = Vec::new();
    for (name, expect, headers) in cases(&live) {
        let huge = headers.len() >= 64 * 1024;
        let (status, text) = match raw_get(addr, &headers).await {
            Ok(r) => r,
            Err(e) => {
                out.push(Case {
                    name,
                    status: None,
                    leaked: false,
                    ok: false,
                    note: e,
                });
                continue;
            }
        };
        let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
        let leaked = body.contains(SECRET);
        let refused = matches!(status, Some(400 | 413 | 431));
        let (ok, note) = match (status, expect) {
            (Some(500..), _) => (false, "server error".to_owned()),
            (Some(200), Expect::Session) if leaked => (true, "the session, intact".to_owned()),
            (Some(200), Expect::Session) => {
                (false, "the intact cookie lost its session".to_owned())
            }
            (Some(200), Expect::Fresh) if leaked => {
                (false, "the live session's data leaked".to_owned())
            }
            (Some(200), Expect::Fresh) => (true, "a fresh session".to_owned()),
            (Some(200), Expect::SessionOrFresh) if leaked => {
                (true, "the session, intact".to_owned())
            }
            (Some(200), Expect::SessionOrFresh) => {
                (true, "a fresh session (the header was dropped)".to_owned())
            }
            (None, _) if huge => (true, "connection closed without a response".to_owned()),
            (None, _) => (false, "connection closed without a response".to_owned()),
            _ if refused => (true, "refused by the framework".to_owned()),
            (Some(s), _) => (false, format!("unexpected status {s}")),
        };
        out.push(Case {
            name,
            status,
            leaked,
            ok,
            note,
        });
    }
    Ok(out)
}
