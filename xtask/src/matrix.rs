//! `cargo xtask test-matrix`: every framework with every store, the store
//! conformance suites, and every other test; one build, a table at the end.
//!
//! Test-target conventions the matrix relies on:
//! - `session-<framework>/tests/scenarios.rs` holds one module per store,
//!   `mod cell_<store>` (from `session_core::http_scenario_cells!`), each expanding `session_core::http_scenarios!`;
//! - the store conformance suites are the targets listed in [`CONFORMANCE`];
//! - every other test target, unit test and doctest runs in the "other
//!   tests" part.

use std::collections::BTreeSet;
use std::process::{ExitCode, Stdio};
use std::time::Instant;

use crate::services::{self, Service};
use crate::toolbox::{cargo, root};

const FRAMEWORKS: [&str; 3] = ["axum", "actix", "rocket"];
const STORES: [&str; 5] = ["memory", "redis", "postgres", "sqlite", "mysql"];
const PACKAGES: [&str; 7] = [
    "session-core",
    "session-axum",
    "session-actix",
    "session-rocket",
    "session-redis",
    "session-sqlx",
    // Every Rust snippet of README.md and docs/*.md (its doctests), and the
    // README showing the adapters' examples (its tests).
    "readme-check",
];

/// Where a package of [`PACKAGES`] lives, relative to the workspace root.
fn package_dir(package: &str) -> &str {
    match package {
        "readme-check" => "xtask/readme",
        other => other,
    }
}

/// The conformance-suite test targets of each store: (store, package, target).
const CONFORMANCE: [(&str, &str, &str); 6] = [
    ("memory", "session-core", "memory_store"),
    ("redis", "session-redis", "conformance"),
    ("redis", "session-redis", "cluster"),
    ("postgres", "session-sqlx", "postgres"),
    ("sqlite", "session-sqlx", "sqlite"),
    ("mysql", "session-sqlx", "mysql"),
];

/// Parsed command-line options.
pub(crate) struct Options {
    only: BTreeSet<String>,
    /// Ignore REDIS_URL, DATABASE_URL, MYSQL_URL and the default ports: start
    /// throwaway servers (what a fresh machine gets).
    fresh_services: bool,
}

impl Options {
    pub(crate) fn parse(args: &[String]) -> Result<Self, String> {
        let mut only = BTreeSet::new();
        let mut fresh_services = false;
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let value = match a.as_str() {
                "--fresh-services" => {
                    fresh_services = true;
                    continue;
                }
                "--only" => it.next().ok_or("--only needs a value")?.clone(),
                s if s.starts_with("--only=") => s["--only=".len()..].to_owned(),
                other => return Err(format!("unknown option {other:?}")),
            };
            for name in value.split(',').filter(|s| !s.is_empty()) {
                let known = FRAMEWORKS.contains(&name) || STORES.contains(&name) || name == "other";
                if !known {
                    return Err(format!(
                        "unknown name {name:?} for --only (frameworks: {FRAMEWORKS:?}, stores: {STORES:?}, or \"other\")"
                    ));
                }
                only.insert(name.to_owned());
            }
        }
        Ok(Self {
            only,
            fresh_services,
        })
    }

    fn frameworks(&self) -> Vec<&'static str> {
        self.selected(&FRAMEWORKS)
    }

    fn stores(&self) -> Vec<&'static str> {
        self.selected(&STORES)
    }

    /// The members of `all` that `--only` names, or all when it names none.
    fn selected(&self, all: &[&'static str]) -> Vec<&'static str> {
        let any = all.iter().any(|x| self.only.contains(*x));
        all.iter()
            .copied()
            .filter(|x| !any || self.only.contains(*x))
            .collect()
    }

    fn other(&self) -> bool {
        self.only.is_empty() || self.only.contains("other")
    }

    fn conformance(&self) -> bool {
        // Conformance suites belong to stores: run them unless the filter
        // names only frameworks.
        self.only.is_empty() || STORES.iter().any(|s| self.only.contains(*s))
    }
}

#[derive(Clone, Debug)]
enum Outcome {
    /// The crate that would hold this cell is not a workspace member yet.
    NotBuilt,
    Pass(u64),
    Fail {
        passed: u64,
        failed: u64,
    },
    Missing(String),
}

impl Outcome {
    fn ok(&self) -> bool {
        matches!(self, Outcome::Pass(n) if *n > 0) || matches!(self, Outcome::NotBuilt)
    }
    fn cell(&self) -> String {
        match self {
            Outcome::NotBuilt => "not built".into(),
            Outcome::Pass(0) => "FAIL (0 tests)".into(),
            Outcome::Pass(n) => format!("pass ({n})"),
            Outcome::Fail { passed, failed } => format!("FAIL ({failed}/{})", passed + failed),
            Outcome::Missing(_) => "FAIL (missing)".into(),
        }
    }
}

/// Runs `cargo test <args>`, logs its output to `target/xtask-logs/<log>.log`
/// and counts the results.
fn cargo_test(args: &[String], env: &[(&str, String)], log: &str) -> Outcome {
    let logs = root().join("target").join("xtask-logs");
    let _ = std::fs::create_dir_all(&logs);
    let log_path = logs.join(format!("{log}.log"));
    let mut cmd = cargo();
    cmd.arg("test").args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let start = Instant::now();
    let out = match cmd.stdin(Stdio::null()).output() {
        Ok(o) => o,
        Err(e) => return Outcome::Missing(format!("cannot run cargo: {e}")),
    };
    let text = format!(
        "$ cargo test {}\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::write(&log_path, &text);
    let (mut passed, mut failed) = (0u64, 0u64);
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("test result: ") {
            passed += number_before(rest, " passed");
            failed += number_before(rest, " failed");
        }
    }
    let secs = start.elapsed().as_secs_f32();
    if out.status.success() && failed == 0 {
        println!("  ok    {log} ({passed} tests, {secs:.1}s)");
        Outcome::Pass(passed)
    } else {
        println!(
            "  FAIL  {log} ({failed} failed, {passed} passed, {secs:.1}s); log: {}",
            log_path.display()
        );
        // Show the failures, not the whole log.
        let mut shown = 0;
        for line in text.lines() {
            if shown < 60
                && (line.contains("FAILED")
                    || line.contains("panicked")
                    || line.starts_with("error"))
            {
                println!("        {line}");
                shown += 1;
            }
        }
        if failed == 0 {
            failed = 1;
        }
        Outcome::Fail { passed, failed }
    }
}

fn number_before(text: &str, marker: &str) -> u64 {
    text.find(marker)
        .and_then(|end| {
            text[..end]
                .rsplit(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

/// Whether `package` is a member of the workspace (crates are added as
/// they are built).
fn is_member(package: &str) -> bool {
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).unwrap_or_default();
    let dir = package_dir(package);
    manifest
        .lines()
        .find(|l| l.trim_start().starts_with("members"))
        .is_some_and(|l| l.contains(&format!("\"{dir}\"")))
}

fn store_package(store: &str) -> &'static str {
    match store {
        "redis" => "session-redis",
        "postgres" | "sqlite" | "mysql" => "session-sqlx",
        _ => "session-core",
    }
}

fn has_cell(framework: &str, store: &str) -> bool {
    let path = root()
        .join(format!("session-{framework}"))
        .join("tests")
        .join("scenarios.rs");
    let Ok(source) = std::fs::read_to_string(path) else {
        return false;
    };
    if source.contains("http_scenario_cells!") {
        // The cells come from session-core's macro.
        let cells = root().join("session-core/src/testing/mod.rs");
        return std::fs::read_to_string(cells)
            .is_ok_and(|s| s.contains(&format!("__http_cell!(cell_{store};")));
    }
    source.contains(&format!("mod cell_{store}"))
}

fn test_targets(package: &str) -> Vec<String> {
    let dir = root().join(package_dir(package)).join("tests");
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| {
                    let p = e.path();
                    if p.extension().is_some_and(|x| x == "rs") {
                        p.file_stem().map(|s| s.to_string_lossy().into_owned())
                    } else if p.join("main.rs").is_file() {
                        p.file_name().map(|s| s.to_string_lossy().into_owned())
                    } else {
                        None
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

fn strings(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| (*s).to_owned()).collect()
}

pub(crate) fn run(options: &Options) -> ExitCode {
    let started = Instant::now();
    let frameworks = options.frameworks();
    let stores = options.stores();

    println!("== building every test target once (cargo test --workspace --all-features --no-run)");
    let build = cargo()
        .args(["test", "--workspace", "--all-features", "--no-run"])
        .stdin(Stdio::null())
        .status();
    if !build.is_ok_and(|s| s.success()) {
        eprintln!("test-matrix: the workspace does not build");
        return ExitCode::FAILURE;
    }

    println!("== services");
    let redis = if stores.contains(&"redis") {
        Some(services::redis(options.fresh_services))
    } else {
        None
    };
    let postgres = if stores.contains(&"postgres") {
        Some(services::postgres(options.fresh_services))
    } else {
        None
    };
    let mysql = if stores.contains(&"mysql") {
        Some(services::mysql(options.fresh_services))
    } else {
        None
    };
    let mut env: Vec<(&str, String)> = Vec::new();
    for (name, var, svc) in [
        ("redis", "REDIS_URL", &redis),
        ("postgres", "DATABASE_URL", &postgres),
        ("mysql", "MYSQL_URL", &mysql),
    ] {
        if let Some(s) = svc {
            println!("  {name}: {}", s.describe());
            if let Some(url) = s.url() {
                env.push((var, url.to_owned()));
            }
        }
    }
    let missing = |store: &str| -> Option<String> {
        let svc: &Option<Service> = match store {
            "redis" => &redis,
            "postgres" => &postgres,
            "mysql" => &mysql,
            _ => return None,
        };
        match svc {
            Some(Service::Missing(why)) => Some(why.clone()),
            _ => None,
        }
    };

    println!("== HTTP scenario suite, framework x store");
    let mut grid: Vec<(String, Vec<Outcome>)> = Vec::new();
    for fw in &frameworks {
        let mut row = Vec::new();
        for store in &stores {
            let outcome = if !is_member(&format!("session-{fw}"))
                || !is_member(store_package(store))
            {
                println!("  --    {fw} x {store}: not built yet");
                Outcome::NotBuilt
            } else if let Some(why) = missing(store) {
                println!("  FAIL  {fw} x {store}: {why}");
                Outcome::Missing(why)
            } else if !has_cell(fw, store) {
                let why = format!(
                    "session-{fw}/tests/scenarios.rs has no `mod cell_{store}` (nor does `http_scenario_cells!`)"
                );
                println!("  FAIL  {fw} x {store}: {why}");
                Outcome::Missing(why)
            } else {
                let args = strings(&[
                    "-p",
                    &format!("session-{fw}"),
                    "--all-features",
                    "--test",
                    "scenarios",
                    "--",
                    &format!("cell_{store}::"),
                ]);
                cargo_test(&args, &env, &format!("{fw}-{store}"))
            };
            row.push(outcome);
        }
        grid.push(((*fw).to_owned(), row));
    }

    let mut conformance: Vec<Outcome> = Vec::new();
    if options.conformance() {
        println!("== store conformance suite");
        for store in &stores {
            let outcome = if !is_member(store_package(store)) {
                Outcome::NotBuilt
            } else if let Some(why) = missing(store) {
                Outcome::Missing(why)
            } else {
                let mut total = Outcome::Pass(0);
                for (s, package, target) in CONFORMANCE {
                    if s != *store || !test_targets(package).iter().any(|t| t == target) {
                        continue;
                    }
                    let args = strings(&["-p", package, "--all-features", "--test", target]);
                    let o = cargo_test(&args, &env, &format!("conformance-{store}-{target}"));
                    total = merge(total, o);
                }
                total
            };
            conformance.push(outcome);
        }
    }

    let mut simulation: Option<(Outcome, String)> = None;
    if options.other() {
        println!("== deterministic simulation of concurrent requests");
        let args = strings(crate::SIMULATION_TEST);
        let o = cargo_test(&args, &env, "simulation");
        let log = std::fs::read_to_string(root().join("target/xtask-logs/simulation.log"))
            .unwrap_or_default();
        let explored = log
            .lines()
            .find(|l| l.starts_with("simulation: "))
            .map(|l| l.trim_start_matches("simulation: ").to_owned())
            .unwrap_or_else(|| "no schedule count printed".into());
        println!("  {explored}");
        simulation = Some((o, explored));
    }

    let mut others: Vec<(String, Outcome)> = Vec::new();
    if options.other() {
        println!(
            "== other tests (unit, adapter, fault, examples, doctests, README and docs snippets)"
        );
        for package in PACKAGES {
            if !is_member(package) {
                continue;
            }
            let mut args = strings(&[
                "-p",
                package,
                "--all-features",
                "--lib",
                "--bins",
                "--examples",
            ]);
            for t in test_targets(package) {
                let is_cell = t == "scenarios" || (package == "session-core" && t == "simulation");
                let is_conf = CONFORMANCE
                    .iter()
                    .any(|(_, p, tt)| *p == package && *tt == t);
                if !is_cell && !is_conf {
                    args.push("--test".into());
                    args.push(t);
                }
            }
            let unit = cargo_test(&args, &env, &format!("{package}-tests"));
            let doc = cargo_test(
                &strings(&["-p", package, "--all-features", "--doc"]),
                &env,
                &format!("{package}-doc"),
            );
            others.push((package.to_owned(), merge(unit, doc)));
        }
    }

    // The table.
    let w = 18;
    println!();
    println!("test-matrix: HTTP scenario suite (rows: frameworks, columns: stores)");
    print!("{:<w$}", "");
    for s in &stores {
        print!("{s:<w$}");
    }
    println!();
    let mut ok = true;
    for (fw, row) in &grid {
        print!("{fw:<w$}");
        for o in row {
            ok &= o.ok();
            print!("{:<w$}", o.cell());
        }
        println!();
    }
    if !conformance.is_empty() {
        print!("{:<w$}", "store conformance");
        for o in &conformance {
            ok &= o.ok();
            print!("{:<w$}", o.cell());
        }
        println!();
    }
    if let Some((o, explored)) = &simulation {
        ok &= o.ok();
        println!("{:<w$}{:<w$}{explored}", "simulation", o.cell());
    }
    if !others.is_empty() {
        println!();
        println!("other tests (unit, adapter, fault, doctests)");
        for (p, o) in &others {
            ok &= o.ok();
            println!("{p:<w$}{}", o.cell());
        }
    }
    for (fw, row) in &grid {
        for (o, s) in row.iter().zip(&stores) {
            if let Outcome::Missing(why) = o {
                println!("missing {fw} x {s}: {why}");
            }
        }
    }
    let outcomes = || {
        grid.iter()
            .flat_map(|(_, r)| r.iter())
            .chain(conformance.iter())
            .chain(simulation.iter().map(|(o, _)| o))
            .chain(others.iter().map(|(_, o)| o))
    };
    let total: u64 = outcomes()
        .map(|o| match o {
            Outcome::NotBuilt => 0,
            Outcome::Pass(n) => *n,
            Outcome::Fail { passed, .. } => *passed,
            Outcome::Missing(_) => 0,
        })
        .sum();
    let failed: u64 = outcomes()
        .map(|o| match o {
            Outcome::Fail { failed, .. } => *failed,
            Outcome::Missing(_) | Outcome::Pass(0) => 1,
            Outcome::Pass(_) | Outcome::NotBuilt => 0,
        })
        .sum();
    println!();
    println!("{total} passed, {failed} failed");
    println!(
        "test-matrix finished in {:.0}s",
        started.elapsed().as_secs_f32()
    );
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn merge(a: Outcome, b: Outcome) -> Outcome {
    let parts = |o: &Outcome| match o {
        Outcome::NotBuilt => (0, 0, false),
        Outcome::Pass(n) => (*n, 0, false),
        Outcome::Fail { passed, failed } => (*passed, *failed, false),
        Outcome::Missing(_) => (0, 1, true),
    };
    let (pa, fa, ma) = parts(&a);
    let (pb, fb, mb) = parts(&b);
    if ma {
        return a;
    }
    if mb {
        return b;
    }
    if fa + fb == 0 {
        Outcome::Pass(pa + pb)
    } else {
        Outcome::Fail {
            passed: pa + pb,
            failed: fa + fb,
        }
    }
}
