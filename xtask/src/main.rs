//! Workspace automation. `cargo xtask test-matrix` runs every framework with
//! every store and prints a table; see `cargo xtask help`.

mod bench;
mod e2e;
mod fuzz;
mod matrix;
mod reliability;
mod services;
mod toolbox;

use std::process::ExitCode;

/// The `cargo test` arguments of the deterministic simulation (`simulate`
/// and the matrix run it).
const SIMULATION_TEST: &[&str] = &[
    "-p",
    "session-core",
    "--all-features",
    "--test",
    "simulation",
    "--",
    "--nocapture",
];

const HELP: &str = "\
cargo xtask <command> [options]

commands:
  test-matrix [--only NAME[,NAME...]]... [--fresh-services]
      Builds the workspace tests once, then runs the HTTP scenario suite for
      every framework (axum, actix, rocket) with every store (memory, redis,
      postgres, sqlite, mysql), the store conformance suite per store, and
      every other test. NAME filters rows or columns (e.g. --only axum, --only
      mysql). Finds Redis, Postgres and MariaDB from REDIS_URL / DATABASE_URL /
      MYSQL_URL, else on the default local ports, else starts throwaway
      servers from local binaries
      (--fresh-services: always throwaway servers, as on a fresh machine).
  e2e
      Starts the demo and drives headless Chromium (Debian's chromium and
      chromium-driver) through home, counter, login, dashboard and logout;
      saves a screenshot of the dashboard under target/e2e/.
  bench [--rounds N] [--duration SECS] [--warmup SECS] [--connections N]
      HTTP comparison on loopback (needs wrk and redis-server): bare axum,
      actix-web and Rocket, each with our adapter and with its peer
      (tower-sessions, actix-session), memory and Redis stores, routes
      read / incr / new; servers on core 0 with one worker, wrk on core 1.
      Writes BENCHMARKS.md and BENCHMARKS-ratios.svg (about 12 minutes).
  reliability [--quick] [--dev] [--fuzz SECS] [--only concurrency|faults|memory|payload|fuzz] [--store NAME] [--out PATH]
      Exact concurrency over real TCP servers in every framework x store
      cell, store faults under load (Redis killed and restarted, Postgres
      connections terminated, MySQL connections killed, SQLite
      write-locked; --store NAME: only that store's concurrency and fault
      cells, no report written), bounded MemoryStore
      memory and the payload limit; loopback only (needs redis-server).
      Writes RELIABILITY.md (about 10 minutes; --quick: under 3). --dev:
      the dev profile, reusing the test matrix's build (CI: --quick --dev).
      --fuzz SECS: first the three cargo-fuzz targets, SECS seconds each,
      side by side (needs cargo-fuzz); --only fuzz: just them (600 s).
  simulate [--seeds N] [--first SEED]
      The deterministic simulation of concurrent requests (session-core,
      release build): every interleaving of every pair of requests, then N
      seeded schedules of three requests (default 1,000,000) from SEED
      (default 0). A failure prints its seed and scheduler choices, which
      replay it exactly (--first SEED --seeds 1).
  migration-sql --store postgres|sqlite|mysql [--schema NAME] [--table NAME]
      Prints the SQL the store's migrate() runs for that schema (PostgreSQL)
      or database (MySQL) and table (default: public / the connection's,
      sessions), for a DBA or another migration tool (session-sqlx's
      example migration_sql).
  help
      This text.
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("test-matrix") => match matrix::Options::parse(&args[1..]) {
            Ok(options) => matrix::run(&options),
            Err(e) => {
                eprintln!("error: {e}\n\n{HELP}");
                ExitCode::from(2)
            }
        },
        Some("e2e") => e2e::run(),
        Some("simulate") => simulate(&args[1..]),
        Some("reliability") => reliability::run(&args[1..]),
        Some("bench") => match bench::Options::parse(&args[1..]) {
            Ok(options) => bench::run(&options),
            Err(e) => {
                eprintln!("error: {e}\n\n{HELP}");
                ExitCode::from(2)
            }
        },
        Some("migration-sql") => run_ok(
            toolbox::cargo()
                .args([
                    "run",
                    "-q",
                    "-p",
                    "session-sqlx",
                    "--example",
                    "migration_sql",
                    "--",
                ])
                .args(&args[1..]),
        ),
        Some("help" | "--help" | "-h") | None => {
            print!("{HELP}");
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("error: unknown command {other:?}\n\n{HELP}");
            ExitCode::from(2)
        }
    }
}

/// `cargo xtask simulate`: the simulation test with many seeds, in release.
fn simulate(args: &[String]) -> ExitCode {
    let mut seeds = "1000000".to_owned();
    let mut first = "0".to_owned();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match (a.as_str(), it.next()) {
            ("--seeds", Some(n)) if n.parse::<u64>().is_ok() => seeds.clone_from(n),
            ("--first", Some(n)) if n.parse::<u64>().is_ok() => first.clone_from(n),
            _ => {
                eprintln!("usage: cargo xtask simulate [--seeds N] [--first SEED]");
                return ExitCode::from(2);
            }
        }
    }
    run_ok(
        toolbox::cargo()
            .args(["test", "--release"])
            .args(SIMULATION_TEST)
            .env("SIMULATE_SEEDS", &seeds)
            .env("SIMULATE_FIRST_SEED", &first),
    )
}

/// Runs `command`: success when it exits 0.
fn run_ok(command: &mut std::process::Command) -> ExitCode {
    match command.status() {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    }
}
