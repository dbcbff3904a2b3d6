//! `cargo xtask reliability`: finds (or starts) Redis and PostgreSQL like
//! the test matrix does, then runs the `reliability` package in release mode
//! with the same arguments (`--quick`, `--only PART`, `--out PATH`).
//! `--dev` runs it in the dev profile instead, reusing the test matrix's
//! build (CI runs `--quick --dev` right after the matrix).

use std::path::Path;
use std::process::{Command, ExitCode};

use crate::services;

pub(crate) fn run(args: &[String]) -> ExitCode {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let redis = services::redis(false);
    let postgres = services::postgres(false);
    println!("redis:    {}", redis.describe());
    println!("postgres: {}", postgres.describe());
    let (Some(redis_url), Some(database_url)) = (redis.url(), postgres.url()) else {
        eprintln!("error: reliability needs Redis and PostgreSQL (see above)");
        return ExitCode::FAILURE;
    };
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let dev = args.iter().any(|a| a == "--dev");
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&root).args(["run", "--quiet"]);
    if !dev {
        cmd.arg("--release");
    }
    let status = cmd
        .args(["--package", "reliability", "--"])
        .args(args.iter().filter(|a| *a != "--dev"))
        .env("REDIS_URL", redis_url)
        .env("DATABASE_URL", database_url)
        .status();
    // The services (if this process started them) stop when dropped, after
    // the run.
    match status {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: cargo run -p reliability: {e}");
            ExitCode::FAILURE
        }
    }
}
