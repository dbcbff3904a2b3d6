//! A minimal HTTP/1.1 client over a kept-alive loopback `TcpStream`: enough
//! for the test app's routes (small bodies, `Content-Length` or chunked
//! responses) without pulling an HTTP client stack into the workspace.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;

/// One response.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    /// Status code.
    pub(crate) status: u16,
    /// The body as text.
    pub(crate) body: String,
    /// The value of our session cookie if the response set it (`None` for
    /// no cookie; `Some("")` for a removal).
    pub(crate) cookie: Option<String>,
}

/// How one request ended.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// A response arrived.
    Reply(Reply, Duration),
    /// No response within the client timeout: a hung request.
    Hang,
    /// The connection failed (refused, reset, closed early).
    Io(io::Error),
}

/// One client connection (re-opened when the server closes it).
#[derive(Debug)]
pub(crate) struct Conn {
    addr: SocketAddr,
    stream: Option<BufReader<TcpStream>>,
    timeout: Duration,
}

impl Conn {
    /// A client of `addr` whose requests count as hung after `timeout`.
    pub(crate) fn new(addr: SocketAddr, timeout: Duration) -> Self {
        Self {
            addr,
            stream: None,
            timeout,
        }
    }

    /// Sends one request with an optional session cookie value.
    pub(crate) async fn send(
        &mut self, method: &str, path: &str, cookie: Option<&str>, body: &str,
    ) -> Outcome {
        let start = Instant::now();
        let timeout = self.timeout;
        match tokio::time::timeout(timeout, self.send_retrying(method, path, cookie, body)).await {
            Ok(Ok(reply)) => Outcome::Reply(reply, start.elapsed()),
            Ok(Err(e)) => {
                self.stream = None;
                Outcome::Io(e)
            }
            Err(_) => {
                self.stream = None;
                Outcome::Hang
            }
        }
    }

    async fn send_retrying(
        &mut self, method: &str, path: &str, cookie: Option<&str>, body: &str,
    ) -> io::Result<Reply> {
        // A kept-alive connection the server closed in the meantime fails
        // before any byte of the response: retry once on a fresh one.
        let reused = self.stream.is_some();
        match self.send_once(method, path, cookie, body).await {
            Err(e) if reused && e.kind() != io::ErrorKind::InvalidData => {
                self.stream = None;
                self.send_once(method, path, cookie, body).await
            }
            other => other,
        }
    }

    async fn send_once(
        &mut self, method: &str, path: &str, cookie: Option<&str>, body: &str,
    ) -> io::Result<Reply> {
        if self.stream.is_none() {
            let s = TcpStream::connect(self.addr).await?;
            s.set_nodelay(true)?;
            self.stream = Some(BufReader::new(s));
        }
        let Some(stream) = self.stream.as_mut() else {
            return Err(io::Error::other("no connection"));
        };
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n",
            body.len()
        );
        if !body.is_empty() {
            req.push_str("Content-Type: application/json\r\n");
        }
        if let Some(c) = cookie {
            req.push_str("Cookie: id=");
            req.push_str(c);
            req.push_str("\r\n");
        }
        req.push_str("\r\n");
        req.push_str(body);
        stream.get_mut().write_all(req.as_bytes()).await?;
        let result = read_reply(stream).await;
        if matches!(&result, Ok((_, true)) | Err(_)) {
            self.stream = None;
        }
        result.map(|(r, _)| r)
    }
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

/// Reads one response; the flag says the server will close the connection.
async fn read_reply(stream: &mut BufReader<TcpStream>) -> io::Result<(Reply, bool)> {
    let mut line = String::new();
    if stream.read_line(&mut line).await? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed before the response",
        ));
    }
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("bad status line"))?;
    let mut length = None;
    let mut chunked = false;
    let mut close = false;
    let mut cookie = None;
    loop {
        line.clear();
        if stream.read_line(&mut line).await? == 0 {
            return Err(bad("connection closed in the headers"));
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let Some((name, value)) = l.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.to_ascii_lowercase().as_str() {
            "content-length" => length = value.parse::<usize>().ok(),
            "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
            "connection" => close = value.eq_ignore_ascii_case("close"),
            "set-cookie" if value.starts_with("id=") => {
                let pair = value.split(';').next().unwrap_or_default();
                let v = pair.trim_start_matches("id=").trim().to_owned();
                let removal = value.contains("Max-Age=0");
                cookie = Some(if removal { String::new() } else { v });
            }
            _ => {}
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            line.clear();
            stream.read_line(&mut line).await?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16)
                .map_err(|_| bad("bad chunk size"))?;
            if size == 0 {
                line.clear();
                stream.read_line(&mut line).await?;
                break;
            }
            let mut chunk = vec![0; size + 2];
            stream.read_exact(&mut chunk).await?;
            chunk.truncate(size);
            body.extend_from_slice(&chunk);
        }
    } else if let Some(n) = length {
        body.resize(n, 0);
        stream.read_exact(&mut body).await?;
    } else {
        stream.read_to_end(&mut body).await?;
        close = true;
    }
    Ok((
        Reply {
            status,
            body: String::from_utf8_lossy(&body).into_owned(),
            cookie,
        },
        close,
    ))
}
