//! `cargo xtask reliability`: proves the promises of DESIGN.md under load,
//! faults and hostile input, on loopback only, bounded in time, and writes
//! the figures to `RELIABILITY.md` at the workspace root.
//!
//! ```text
//! reliability [--quick] [--only concurrency|faults|memory|payload|headers] [--store NAME] [--out PATH]
//! ```
//!
//! - exact concurrency over real TCP servers, every framework x store cell;
//! - store faults under load (Redis killed and restarted, Postgres
//!   connections terminated, MySQL connections killed, SQLite
//!   write-locked), every adapter;
//! - bounded memory of `MemoryStore` under a stream of new sessions, and
//!   the payload limit;
//! - the fuzzing figures from `xtask/reliability/fuzz-results.md`.
//!
//! Needs Redis on `REDIS_URL` (default 127.0.0.1:6379), PostgreSQL on
//! `DATABASE_URL` (default postgres://postgres@127.0.0.1:5432/test),
//! MySQL/MariaDB on `MYSQL_URL` (default mysql://root@127.0.0.1:3306/test) and a
//! `redis-server` binary for the Redis fault cells.

mod apps;
mod client;
mod concurrency;
mod faults;
mod headers;
mod memory;
mod metrics;
mod payload;
mod report;
mod stores;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use apps::Framework;
use stores::StoreKind;

/// Command-line options.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub(crate) quick: bool,
    pub(crate) only: Option<String>,
    /// `--store NAME`: the concurrency and fault runs of that store only
    /// (no report is written).
    pub(crate) store: Option<String>,
    pub(crate) out: std::path::PathBuf,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .and_then(std::path::Path::parent)
        .map_or_else(
            || std::path::PathBuf::from("."),
            std::path::Path::to_path_buf,
        );
    let mut o = Options {
        quick: false,
        only: None,
        store: None,
        out: root.join("RELIABILITY.md"),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => o.quick = true,
            "--only" => o.only = Some(it.next().ok_or("--only needs a part")?.clone()),
            "--out" => o.out = it.next().ok_or("--out needs a path")?.into(),
            "--store" => {
                let name = it.next().ok_or("--store needs a store name")?;
                if !StoreKind::ALL.iter().any(|s| s.name() == name) {
                    return Err(format!("unknown store {name:?}"));
                }
                o.store = Some(name.clone());
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(o)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    if args.first().map(String::as_str) == Some("--memory-child") {
        let n = args
            .get(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or(1_000_000);
        let rate = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(100_000);
        return match runtime.block_on(memory::child(n, rate)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("memory child: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let options = match parse(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(run(options))
}

fn wanted(options: &Options, part: &str) -> bool {
    options.only.as_deref().is_none_or(|p| p == part)
        && (options.store.is_none() || matches!(part, "concurrency" | "faults"))
}

fn store_wanted(options: &Options, store: StoreKind) -> bool {
    options.store.as_deref().is_none_or(|s| s == store.name())
}

async fn run(options: Options) -> ExitCode {
    metrics::install();
    let start = Instant::now();
    let mut r = report::Report {
        quick: options.quick,
        ..report::Report::default()
    };

    if wanted(&options, "memory") {
        // Paced so the stream spans many idle windows (10 in full mode).
        let (n, rate) = if options.quick {
            (200_000, 50_000)
        } else {
            (1_000_000, 100_000)
        };
        println!(
            "memory: {n} new sessions at {rate}/s through SessionManager + MemoryStore (1 s idle timeout)"
        );
        r.memory = Some(memory::run(n, rate));
        report::print_memory(r.memory.as_ref());
    }
    if wanted(&options, "payload") {
        r.payload = Some(payload::check().await);
        println!("payload limit: {:?}", r.payload);
    }
    if wanted(&options, "headers") {
        for framework in Framework::ALL {
            let cell = headers::run_cell(framework).await;
            report::print_headers(&cell);
            r.headers.push(cell);
        }
    }
    if wanted(&options, "concurrency") {
        let shape = if options.quick {
            concurrency::Shape {
                clients: 8,
                per_client: 25,
            }
        } else {
            concurrency::Shape {
                clients: 32,
                per_client: 100,
            }
        };
        r.shape = Some(shape);
        for store in StoreKind::ALL
            .into_iter()
            .filter(|s| store_wanted(&options, *s))
        {
            for framework in Framework::ALL {
                let cell = concurrency::run_cell(framework, store, shape).await;
                report::print_concurrency(&cell);
                r.concurrency.push(cell);
            }
        }
    }
    if wanted(&options, "faults") {
        let plan = if options.quick {
            faults::Plan {
                clients: 8,
                duration: Duration::from_secs(5),
                outage_at: Duration::from_millis(1_500),
                outage: Duration::from_secs(2),
            }
        } else {
            faults::Plan {
                clients: 32,
                duration: Duration::from_secs(20),
                outage_at: Duration::from_secs(5),
                outage: Duration::from_secs(5),
            }
        };
        r.plan = Some(plan);
        let faulty = [
            StoreKind::Redis,
            StoreKind::Postgres,
            StoreKind::Sqlite,
            StoreKind::Mysql,
        ];
        for store in faulty.into_iter().filter(|s| store_wanted(&options, *s)) {
            for framework in Framework::ALL {
                let cell = faults::run_cell(framework, store, plan).await;
                report::print_fault(&cell);
                r.faults.push(cell);
            }
        }
    }
    r.elapsed = start.elapsed();
    let passed = r.passed();
    let fuzz = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz-results.md"),
    )
    .unwrap_or_else(|_| "(xtask/reliability/fuzz-results.md is missing)\n".to_owned());
    let text = report::markdown(&r, &fuzz);
    if options.only.is_none() && options.store.is_none() {
        match std::fs::write(&options.out, text) {
            Ok(()) => println!("wrote {}", options.out.display()),
            Err(e) => eprintln!("error: writing {}: {e}", options.out.display()),
        }
    } else {
        println!("(--only or --store: {} not written)", options.out.display());
    }
    println!(
        "reliability: {} in {:.0} s",
        if passed { "PASS" } else { "FAIL" },
        r.elapsed.as_secs_f64()
    );
    if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
