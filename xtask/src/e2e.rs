//! `cargo xtask e2e`: the demo app in headless Chromium, driven over the
//! WebDriver protocol (Debian's chromium + chromium-driver). Loopback only.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

use crate::toolbox::{Guard, cargo, find_binary, free_port, root};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A WebDriver session.
struct Driver {
    base: String,
    session: String,
}

impl Driver {
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        send(method, &url, body)
    }

    fn goto(&self, url: &str) -> Result<(), String> {
        self.call("POST", "/url", Some(json!({ "url": url })))
            .map(drop)
    }

    fn url(&self) -> Result<String, String> {
        Ok(self
            .call("GET", "/url", None)?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    fn element(&self, css: &str) -> Result<String, String> {
        let v = self.call(
            "POST",
            "/element",
            Some(json!({ "using": "css selector", "value": css })),
        )?;
        v.get(ELEMENT)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| format!("no element {css}"))
    }

    fn text(&self, css: &str) -> Result<String, String> {
        let e = self.element(css)?;
        Ok(self
            .call("GET", &format!("/element/{e}/text"), None)?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    fn type_into(&self, css: &str, text: &str) -> Result<(), String> {
        let e = self.element(css)?;
        self.call(
            "POST",
            &format!("/element/{e}/value"),
            Some(json!({ "text": text })),
        )
        .map(drop)
    }

    fn click(&self, css: &str) -> Result<(), String> {
        let e = self.element(css)?;
        self.call("POST", &format!("/element/{e}/click"), Some(json!({})))
            .map(drop)
    }

    fn script(&self, script: &str) -> Result<Value, String> {
        self.call(
            "POST",
            "/execute/sync",
            Some(json!({ "script": script, "args": [] })),
        )
    }

    /// The session cookie as the browser holds it (WebDriver sees HttpOnly
    /// cookies; page scripts do not).
    fn session_cookie(&self) -> Result<Option<(String, bool)>, String> {
        let cookies = self.call("GET", "/cookie", None)?;
        Ok(cookies.as_array().and_then(|list| {
            list.iter().find(|c| c["name"] == "id").map(|c| {
                (
                    c["value"].as_str().unwrap_or_default().to_owned(),
                    c["httpOnly"].as_bool().unwrap_or(false),
                )
            })
        }))
    }

    fn screenshot(&self, path: &Path) -> Result<(), String> {
        let b64 = self.call("GET", "/screenshot", None)?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap_or_default())
            .map_err(|e| format!("screenshot: {e}"))?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        }
        std::fs::write(path, png).map_err(|e| e.to_string())
    }
}

fn send(method: &str, url: &str, body: Option<Value>) -> Result<Value, String> {
    let req = ureq::request(method, url).timeout(Duration::from_secs(60));
    let res = match body {
        Some(b) => req.send_json(b),
        None => req.call(),
    };
    let v: Value = match res {
        Ok(r) => r.into_json().map_err(|e| e.to_string())?,
        Err(ureq::Error::Status(code, r)) => {
            let text = r.into_string().unwrap_or_default();
            return Err(format!("{method} {url}: HTTP {code}: {text}"));
        }
        Err(e) => return Err(format!("{method} {url}: {e}")),
    };
    Ok(v.get("value").cloned().unwrap_or(Value::Null))
}

fn wait_until<F: FnMut() -> bool>(what: &str, mut f: F) -> Result<(), String> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if f() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!("timed out waiting for {what}"))
}

fn check(ok: bool, what: &str) -> Result<(), String> {
    println!("  {} {what}", if ok { "ok  " } else { "FAIL" });
    if ok { Ok(()) } else { Err(what.to_owned()) }
}

pub(crate) fn run() -> ExitCode {
    match steps() {
        Ok(()) => {
            println!("e2e: 1 passed, 0 failed");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("e2e failed: {e}");
            println!("e2e: 0 passed, 1 failed");
            ExitCode::FAILURE
        }
    }
}

fn steps() -> Result<(), String> {
    let chromium =
        find_binary("chromium", &[]).ok_or("chromium not found: apt-get install chromium")?;
    let chromedriver = find_binary("chromedriver", &[])
        .ok_or("chromedriver not found: apt-get install chromium-driver")?;

    println!("== building the demo");
    let built = cargo()
        .args(["build", "-p", "session-axum", "--example", "demo"])
        .status()
        .map_err(|e| e.to_string())?;
    if !built.success() {
        return Err("the demo does not build".into());
    }
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from);
    let demo_bin = target.join("debug/examples/demo");
    let mut demo = Guard::new(
        "demo",
        Command::new(&demo_bin)
            .args(["--port", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("start demo: {e}"))?,
    );
    let mut line = String::new();
    if let Some(out) = demo.child().stdout.take() {
        BufReader::new(out)
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
    }
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .ok_or_else(|| format!("demo did not print its URL: {line:?}"))?
        .trim_end_matches('/')
        .to_owned();
    println!("== demo at {base}");

    let port = free_port()?;
    let _driver_proc = Guard::new(
        "chromedriver",
        Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("start chromedriver: {e}"))?,
    );
    let driver_base = format!("http://127.0.0.1:{port}");
    wait_until("chromedriver", || {
        send("GET", &format!("{driver_base}/status"), None).is_ok()
    })?;
    let profile = std::env::temp_dir().join(format!("xtask-e2e-profile-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&profile);
    let caps = json!({ "capabilities": { "alwaysMatch": {
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": chromium.to_string_lossy(),
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic",
                "--window-size=1000,700", format!("--user-data-dir={}", profile.display()),
            ]
        }
    }}});
    let created = send("POST", &format!("{driver_base}/session"), Some(caps))?;
    let session = created["sessionId"]
        .as_str()
        .ok_or("no WebDriver session id")?
        .to_owned();
    let d = Driver {
        base: driver_base,
        session,
    };
    let result = browse(&d, &base);
    let _ = send("DELETE", &format!("{}/session/{}", d.base, d.session), None);
    let _ = std::fs::remove_dir_all(&profile);
    result
}

fn browse(d: &Driver, base: &str) -> Result<(), String> {
    println!("== browsing");
    d.goto(&format!("{base}/"))?;
    check(d.text("h1")? == "Hello, guest!", "home greets a guest")?;
    check(
        d.text("#views")?.contains("1 time."),
        "first visit counts 1",
    )?;
    d.goto(&format!("{base}/"))?;
    d.goto(&format!("{base}/"))?;
    check(
        d.text("#views")?.contains("3 times"),
        "the counter increments across reloads",
    )?;
    let (before, http_only) = d
        .session_cookie()?
        .ok_or("no session cookie after visiting home")?;
    check(http_only, "the session cookie is HttpOnly")?;

    d.goto(&format!("{base}/dashboard"))?;
    check(
        d.url()?.ends_with("/login"),
        "dashboard redirects a guest to /login",
    )?;
    d.type_into("#username", "Lindani")?;
    d.type_into("#password", "secret")?;
    d.click("#submit")?;
    wait_until("the dashboard", || {
        d.url().is_ok_and(|u| u.ends_with("/dashboard"))
    })?;
    check(
        d.text("#user")? == "Lindani",
        "the dashboard shows the name",
    )?;
    let cookie_js = d.script("return document.cookie")?;
    let visible = cookie_js.as_str().unwrap_or_default().to_owned();
    check(
        !visible.split(';').any(|c| c.trim().starts_with("id=")),
        "document.cookie does not expose the session cookie",
    )?;
    let (after, _) = d.session_cookie()?.ok_or("no session cookie after login")?;
    let id = |v: &str| v.split('.').next().unwrap_or_default().to_owned();
    check(id(&before) != id(&after), "the session id changed at login")?;
    let shot = root().join("target/e2e/dashboard.png");
    d.screenshot(&shot)?;
    check(
        std::fs::metadata(&shot).is_ok_and(|m| m.len() > 1000),
        "dashboard screenshot saved",
    )?;
    println!("       {}", shot.display());

    d.goto(&format!("{base}/session"))?;
    check(
        d.text("#idprefix")? == id(&after)[..6],
        "the session page shows the id prefix",
    )?;
    d.goto(&format!("{base}/dashboard"))?;
    d.click("nav button")?;
    wait_until("the login page", || {
        d.url().is_ok_and(|u| u.ends_with("/login"))
    })?;
    check(
        d.session_cookie()?.is_none(),
        "logout removed the session cookie",
    )?;
    d.goto(&format!("{base}/dashboard"))?;
    check(
        d.url()?.ends_with("/login"),
        "after logout the dashboard redirects to /login",
    )?;
    d.goto(&format!("{base}/"))?;
    check(
        d.text("h1")? == "Hello, guest!",
        "home greets a guest again",
    )?;
    Ok(())
}
