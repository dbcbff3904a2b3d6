//! `cargo xtask reliability`: finds (or starts) Redis, PostgreSQL and
//! MariaDB like
//! the test matrix does, then runs the `reliability` package in release mode
//! with the same arguments (`--quick`, `--only PART`, `--out PATH`).
//! `--dev` runs it in the dev profile instead, reusing the test matrix's
//! build (CI runs `--quick --dev` right after the matrix). `--fuzz SECS`
//! first runs the cargo-fuzz targets for SECS seconds each (`fuzz.rs`),
//! whose figures `RELIABILITY.md` then embeds; `--only fuzz` runs just
//! them.

use std::process::ExitCode;

use crate::services;
use crate::toolbox::cargo;

pub(crate) fn run(args: &[String]) -> ExitCode {
    // `--fuzz SECS` is this wrapper's; the rest goes to the package.
    let mut fuzz_secs = None;
    let mut rest = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--fuzz" {
            match it.next().and_then(|v| v.parse::<u64>().ok()) {
                Some(secs) if secs > 0 => fuzz_secs = Some(secs),
                _ => {
                    eprintln!("error: --fuzz needs a number of seconds");
                    return ExitCode::FAILURE;
                }
            }
        } else {
            rest.push(a.clone());
        }
    }
    let only_fuzz = rest.windows(2).any(|w| w[0] == "--only" && w[1] == "fuzz");
    let mut fuzz_clean = true;
    if let Some(secs) = fuzz_secs.or(only_fuzz.then_some(600)) {
        match crate::fuzz::run(secs) {
            Ok(clean) => fuzz_clean = clean,
            Err(e) => {
                eprintln!("error: fuzz: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    if only_fuzz {
        return if fuzz_clean {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    let args = rest.as_slice();
    let redis = services::redis(false);
    let postgres = services::postgres(false);
    let mysql = services::mysql(false);
    println!("redis:    {}", redis.describe());
    println!("postgres: {}", postgres.describe());
    println!("mysql:    {}", mysql.describe());
    let (Some(redis_url), Some(database_url), Some(mysql_url)) =
        (redis.url(), postgres.url(), mysql.url())
    else {
        eprintln!("error: reliability needs Redis, PostgreSQL and MySQL/MariaDB (see above)");
        return ExitCode::FAILURE;
    };
    let dev = args.iter().any(|a| a == "--dev");
    let mut cmd = cargo();
    cmd.args(["run", "--quiet"]);
    if !dev {
        cmd.arg("--release");
    }
    let status = cmd
        .args(["--package", "reliability", "--"])
        .args(args.iter().filter(|a| *a != "--dev"))
        .env("REDIS_URL", redis_url)
        .env("DATABASE_URL", database_url)
        .env("MYSQL_URL", mysql_url)
        .status();
    // The services (if this process started them) stop when dropped, after
    // the run.
    match status {
        Ok(s) if s.success() && fuzz_clean => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: cargo run -p reliability: {e}");
            ExitCode::FAILURE
        }
    }
}
