//! The console summary and `RELIABILITY.md`.

use std::fmt::Write as _;
use std::time::Duration;

use crate::concurrency;
use crate::faults;
use crate::headers;
use crate::memory::Figures;

/// Everything measured in one run.
#[derive(Debug, Default)]
pub(crate) struct Report {
    pub(crate) quick: bool,
    pub(crate) memory: Option<Result<Figures, String>>,
    pub(crate) payload: Option<Result<String, String>>,
    pub(crate) shape: Option<concurrency::Shape>,
    pub(crate) concurrency: Vec<concurrency::Cell>,
    pub(crate) plan: Option<faults::Plan>,
    pub(crate) faults: Vec<faults::Cell>,
    pub(crate) headers: Vec<headers::Cell>,
    pub(crate) elapsed: Duration,
}

/// Live records allowed after the TTL and a sweep.
fn memory_ok(f: &Figures) -> bool {
    f.live_after_ttl == 0 && f.held_after_sweep == 0
}

impl Report {
    pub(crate) fn passed(&self) -> bool {
        self.memory
            .as_ref()
            .is_none_or(|m| m.as_ref().is_ok_and(memory_ok))
            && self.payload.as_ref().is_none_or(Result::is_ok)
            && self.concurrency.iter().all(concurrency::Cell::passed)
            && self.faults.iter().all(faults::Cell::passed)
            && self.headers.iter().all(headers::Cell::passed)
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn ms(d: Duration) -> String {
    format!("{}", d.as_millis())
}

pub(crate) fn print_headers(c: &headers::Cell) {
    match &c.cases {
        Ok(cases) => {
            for case in cases {
                println!(
                    "headers {}: {} - {}: {} ({})",
                    c.framework.name(),
                    if case.ok { "PASS" } else { "FAIL" },
                    case.name,
                    case.status
                        .map_or_else(|| "closed".to_owned(), |s| s.to_string()),
                    case.note
                );
            }
        }
        Err(e) => println!("headers {}: FAIL - {e}", c.framework.name()),
    }
}

/// The hostile-headers table for `RELIABILITY.md`.
fn headers_markdown(s: &mut String, cells: &[headers::Cell]) {
    if cells.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "### Hostile headers over real TCP\n\nEach framework's app on a real loopback server (MemoryStore) in front of its own HTTP\nparser: one live session holds a secret, then each case sends one `GET /get/secret` on a new\nconnection. Allowed: a 200 with the session only when its cookie arrived intact, a 200 with a\nfresh session otherwise, or the framework's clean refusal (400/413/431; a closed connection\nonly for headers of 64 KiB and more). Never a 500, a hang, or the secret for a damaged cookie.\n"
    );
    let names: Vec<&str> = cells
        .iter()
        .find_map(|c| c.cases.as_ref().ok())
        .map(|cases| cases.iter().map(|c| c.name).collect())
        .unwrap_or_default();
    let _ = write!(s, "| case |");
    for c in cells {
        let _ = write!(s, " {} |", c.framework.name());
    }
    let _ = write!(s, "\n|---|");
    for _ in cells {
        let _ = write!(s, "---|");
    }
    s.push('\n');
    for (i, name) in names.iter().enumerate() {
        let _ = write!(s, "| {name} |");
        for c in cells {
            let text = match &c.cases {
                Ok(cases) => cases.get(i).map_or_else(
                    || "?".to_owned(),
                    |case| {
                        format!(
                            "{}{}: {}{}",
                            if case.ok { "" } else { "**FAIL** " },
                            case.status
                                .map_or_else(|| "closed".to_owned(), |s| s.to_string()),
                            case.note,
                            if case.leaked && !case.ok {
                                " (secret in body)"
                            } else {
                                ""
                            }
                        )
                    },
                ),
                Err(e) => format!("**FAIL** {e}"),
            };
            let _ = write!(s, " {text} |");
        }
        s.push('\n');
    }
    s.push('\n');
}

pub(crate) fn print_memory(m: Option<&Result<Figures, String>>) {
    match m {
        Some(Ok(f)) => println!(
            "  {} sessions in {:.1} s; peak RSS {:.0} MiB (baseline {:.0} MiB); held at end {}; live after TTL {}; held after sweep {}",
            f.sessions,
            f.seconds,
            mib(f.peak_rss_kib),
            mib(f.baseline_rss_kib),
            f.held_at_end,
            f.live_after_ttl,
            f.held_after_sweep
        ),
        Some(Err(e)) => println!("  FAIL: {e}"),
        None => {}
    }
}

fn check(c: &concurrency::Check) -> String {
    match c {
        Ok(s) => format!("ok ({s})"),
        Err(e) => format!("FAIL: {e}"),
    }
}

pub(crate) fn print_concurrency(c: &concurrency::Cell) {
    println!(
        "concurrency {} x {}: {} in {:.1} s, {} requests, {} conflicts (max retry {}), {} vanished",
        c.framework.name(),
        c.store.name(),
        if c.passed() { "PASS" } else { "FAIL" },
        c.elapsed.as_secs_f64(),
        c.requests,
        c.counts.conflicts,
        c.counts.max_retry,
        c.counts.vanished
    );
    for (name, r) in [
        ("counter", &c.counter),
        ("distinct keys", &c.keys),
        ("destroy", &c.destroy),
        ("regenerate", &c.regenerate),
    ] {
        println!("  {name}: {}", check(r));
    }
}

/// Appends a markdown table of `columns` and `rows`.
fn table(s: &mut String, columns: &[&str], rows: impl Iterator<Item = Vec<String>>) {
    let _ = writeln!(
        s,
        "| {} |\n|{}",
        columns.join(" | "),
        "---|".repeat(columns.len())
    );
    for row in rows {
        let _ = writeln!(s, "| {} |", row.join(" | "));
    }
}

/// The columns of a fault cell's figures: the console line and the
/// report's table.
const FAULT_COLUMNS: [&str; 15] = [
    "framework",
    "store",
    "requests",
    "ok",
    "503",
    "other status",
    "hung",
    "io errors",
    "max latency",
    "max 503 latency",
    "over bound",
    "lost",
    "wrong reads",
    "recovered",
    "result",
];

/// A fault cell's figures, in the order of [`FAULT_COLUMNS`].
fn fault_values(c: &faults::Cell) -> [String; 15] {
    [
        c.framework.to_string(),
        c.store.to_string(),
        c.requests.to_string(),
        c.ok.to_string(),
        c.failure_responses.to_string(),
        c.other_status.to_string(),
        c.hangs.to_string(),
        c.io_errors.to_string(),
        format!("{} ms", ms(c.max_latency)),
        format!("{} ms", ms(c.max_failure_latency)),
        c.over_bound.to_string(),
        c.lost_sessions.to_string(),
        c.wrong_reads.to_string(),
        c.recovered_after
            .map_or_else(|| "never".to_owned(), |d| format!("{} ms", d.as_millis())),
        (if c.passed() { "PASS" } else { "FAIL" }).to_owned(),
    ]
}

pub(crate) fn print_fault(c: &faults::Cell) {
    let figures: Vec<String> = FAULT_COLUMNS
        .iter()
        .zip(fault_values(c))
        .skip(2)
        .map(|(name, value)| format!("{name} {value}"))
        .collect();
    println!(
        "faults {} x {} (bound {} ms): {}",
        c.framework,
        c.store,
        ms(faults::Cell::bound()),
        figures.join(", ")
    );
    println!("  fault: {}", c.fault);
    for p in &c.problems {
        println!("  note: {p}");
    }
}

/// The deterministic simulation's section: it runs in `cargo xtask
/// test-matrix` (its figures are the matrix's), not here, and is kept in
/// the report so the report stays whole.
const SIMULATION: &str = r#"## Deterministic simulation of concurrent requests

`session-core/src/testing/simulation.rs` (run by `cargo xtask test-matrix`
as its own row; `cargo xtask simulate --seeds N` for long runs). A seeded
scheduler interleaves every store call of 2 or 3 requests, each a pure
`Lifecycle` driven by hand, over the operations read (which touches),
write (`update` + `insert`), `regenerate`, a login under a cap of 1
(`RevokeOldest` and `RefuseLogin`, on the shared session and from another
device), `destroy`, `set_expiry(At(now + 40 s))` and `revoke_all`, each
request also dropped after its 1st to 4th store call. The same schedule
runs on `MemoryStore` and on a deliberately simple model store, whose
answers must be identical. After every store call it checks: no
acknowledged write lost unless its session was ended; no ended (destroyed,
revoked, expired) session live again and no session forked into two
records; the cap never exceeded and never 0 right after a login; no record
expiring past the deadline in its payload; the user index listing every
live session of its user.

| run | schedules | store calls | violations |
|---|---:|---:|---:|
| exhaustive: every interleaving of every pair of 32 programs, 4 worlds | 20,058 | (with the seeded run) | 0 |
| seeded triples 0..10,000 (the normal test run, about 11 s in debug) | 10,000 | 194,610 in total | 0 |

It finds the bugs it is for: with the rotation's `Retired::Gone` treated
as success (the old behaviour of `regenerate`), seed runs fail at once
with "lineage 0 forked" (two records of one session); with
`MemoryStore::touch` ignoring the version, the model and MemoryStore
answer differently on the first read-plus-write pair.

"#;

const SECURITY: &str = r#"## Session fixation and brute force

**Fixation.** A client-chosen id is never adopted. The server only ever
loads an id that arrives in a value signed with one of its keys, and only
ever issues ids it generated itself: a validly signed cookie for an id the
store does not know gets a fresh server-generated id
(`session_core::testing::http::unknown_id_is_never_adopted`), an expired
id is never reused (`expired_id_is_never_reused`), and `regenerate` at
login changes the id and retires the old one
(`regenerate_changes_id_and_keeps_data`; under load: the regenerate rows
above). All three run in every framework x store cell of
`cargo xtask test-matrix`.

**Brute force.** An id is 256 bits from the operating system's CSPRNG
(`SessionId::random`, `rand::rngs::OsRng`), sent as 43 characters of
base64url and parsed strictly. The cookie also carries an HMAC-SHA256 tag
of the id under the server's key, verified in constant time before any
store access, so a guess that is not signed by the server costs the server
no store call at all. Without the key, a forged cookie must match a
256-bit tag; with the key (a leaked secret), an attacker still has to hit
a live id: with `S` live sessions, each guess succeeds with probability
`S / 2^256`. At one billion live sessions (about 2^30) and one trillion
guesses per second (about 2^40), the expected time to a first hit is
2^256 / 2^70 = 2^186 seconds, about 3 x 10^48 years. Ids are stored only
as SHA-256 hashes (`StoreKey`), so a dump of the store yields no usable
cookie either.
"#;

/// The whole `RELIABILITY.md`.
pub(crate) fn markdown(r: &Report, fuzz: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Reliability and security\n\nFigures from `cargo xtask reliability{}` (loopback only; {} in {:.0} s; result: **{}**).\nEverything here is re-measured by that command; the fuzzing section is\n`xtask/reliability/fuzz-results.md`, which the last run with `--fuzz SECS` wrote.\n",
        if r.quick { " --quick" } else { "" },
        if r.quick { "quick mode" } else { "full mode" },
        r.elapsed.as_secs_f64(),
        if r.passed() { "PASS" } else { "FAIL" }
    );
    let _ = writeln!(s, "## Hostile input\n");
    let _ = writeln!(
        s,
        "- Fuzzing: see below (cargo-fuzz targets `cookie_header`, `session_id`, `record_decode` in\n  `session-core/fuzz`; their proptest mirrors run in the normal test suite as\n  `session-core/tests/fuzz_mirrors.rs`).\n- Adversarial HTTP: the scenario `adversarial_cookies_never_leak` sends 10,000 random and\n  mutated `Cookie` headers (seeded generator: bit flips of a live cookie, wrong keys, forged\n  macs, truncations, long values, headers over 8 KiB, hundreds of cookies, duplicates,\n  non-UTF-8 bytes, random bytes) and requires a 200 with a fresh session or a clean 400/431,\n  never a 500, never the live session's data or id. It is part of the HTTP scenario suite, so\n  `cargo xtask test-matrix` runs it in all 12 framework x store cells.\n"
    );
    headers_markdown(&mut s, &r.headers);
    s.push_str(fuzz.trim_end());
    s.push_str("\n\n");
    s.push_str(SECURITY);
    s.push('\n');

    if let Some(shape) = r.shape {
        let _ = writeln!(
            s,
            "## Exact concurrency\n\nA real TCP server per cell (the test app's routes, HTTP/1.1 keep-alive clients). {c} clients\nshare one session: **counter**: each does {n} `update` increments, the total must be exactly\n{t}; **distinct keys**: each writes {n} distinct keys, all {t} must be present; **destroy**:\nincrements under load, a `destroy` after a third, then no request started after it may see\nthe old data (each gets a fresh session) and the old record must stay gone; **regenerate**:\ndistinct-key writes with the old cookie under load, a `regenerate` after a third: every write\nacknowledged before it is in the new session, writes sent with the old cookie afterwards get\nfresh sessions, the old record stays gone. Conflicts are the core's compare-and-swap retries\n(`tracing` target `session`, event `conflict_replayed`, field `retry`); `max_conflict_retries` is 1,000 here.\n",
            c = shape.clients,
            n = shape.per_client,
            t = shape.clients * shape.per_client
        );
        let short = |c: &concurrency::Check| match c {
            Ok(_) => "ok".to_owned(),
            Err(e) => format!("FAIL: {e}"),
        };
        table(
            &mut s,
            &[
                "framework",
                "store",
                "counter",
                "distinct keys",
                "destroy",
                "regenerate",
                "requests",
                "conflicts",
                "max retry",
                "vanished",
                "time",
            ],
            r.concurrency.iter().map(|c| {
                vec![
                    c.framework.name().to_owned(),
                    c.store.name().to_owned(),
                    short(&c.counter),
                    short(&c.keys),
                    short(&c.destroy),
                    short(&c.regenerate),
                    c.requests.to_string(),
                    c.counts.conflicts.to_string(),
                    c.counts.max_retry.to_string(),
                    c.counts.vanished.to_string(),
                    format!("{:.1} s", c.elapsed.as_secs_f64()),
                ]
            }),
        );
        let max_retry = r
            .concurrency
            .iter()
            .map(|c| c.counts.max_retry)
            .max()
            .unwrap_or(0);
        let _ = writeln!(
            s,
            "\nThe largest retry number any single request needed was **{max_retry}**; the default\n`max_conflict_retries` is 256 (raised from 64 after this measurement); an app that expects\nmore concurrent writers on one session should raise it further (a request past the bound\ngets `SessionError::Conflict`, a 500 in the test app)."
        );
        s.push_str("\nDetails:\n\n");
        for c in &r.concurrency {
            let _ = writeln!(
                s,
                "- {} x {}: counter {}; keys {}; destroy {}; regenerate {}",
                c.framework.name(),
                c.store.name(),
                check(&c.counter),
                check(&c.keys),
                check(&c.destroy),
                check(&c.regenerate)
            );
        }
        s.push('\n');
    }
    s.push_str(SIMULATION);

    if let Some(plan) = r.plan {
        let _ = writeln!(
            s,
            "## Faults under load\n\n{} closed-loop clients for {} s per cell (half `update` increments of each client's own\nsession, half reads of {} sessions written before the load and never written during it); the\nstore breaks {} s in for {} s. Every store is configured with a {} ms per-call bound (Redis\n`with_timeout`, the SQL pools' acquire timeout, SQLite's busy timeout); a request makes at most\na load and a save, so a failure must arrive within {} ms (2 x the bound + 500 ms slack; counted\nas \"over bound\"); a request with no response after 15 s counts as hung. **lost** counts\nsessions whose acknowledged data is gone afterwards (the pre-outage sessions, and each client's\ncounter below its last acknowledged value) plus counters that went backwards during the load;\n**recovered** is the time from the store's return to the first successful request, in the\nsame server process.\n",
            plan.clients,
            plan.duration.as_secs(),
            20,
            plan.outage_at.as_secs_f64(),
            plan.outage.as_secs_f64(),
            faults::STORE_TIMEOUT.as_millis(),
            ms(faults::Cell::bound())
        );
        table(
            &mut s,
            &FAULT_COLUMNS,
            r.faults.iter().map(|c| fault_values(c).to_vec()),
        );
        s.push_str("\nFaults injected:\n\n");
        for c in &r.faults {
            let _ = writeln!(s, "- {} x {}: {}", c.framework, c.store, c.fault);
            for p in &c.problems {
                let _ = writeln!(s, "  - note: {p}");
            }
        }
        s.push('\n');
    }

    if let Some(m) = &r.memory {
        s.push_str("## Bounded memory\n\n");
        match m {
            Ok(f) => {
                let _ = writeln!(
                    s,
                    "`MemoryStore` with a 1-second idle timeout, {} new sessions (one `insert` each) through\n`SessionManager` in a child process, no HTTP, paced at {} sessions/s so the stream spans\nmany idle windows: {:.1} s ({:.0} sessions/s).\n\n- peak RSS (VmHWM): **{:.0} MiB** (baseline {:.0} MiB)\n- records held at the end of the stream: {} (expired ones are swept when a shard doubles)\n- live records 1.1 s after the last session (the TTL passed): **{}**\n- `delete_expired` then removed {}; records held after it: **{}**\n\n| sessions so far | records held | RSS |\n|---|---|---|",
                    f.sessions,
                    f.rate,
                    f.seconds,
                    f.sessions as f64 / f.seconds.max(0.001),
                    mib(f.peak_rss_kib),
                    mib(f.baseline_rss_kib),
                    f.held_at_end,
                    f.live_after_ttl,
                    f.swept,
                    f.held_after_sweep
                );
                for (n, held, rss) in &f.checkpoints {
                    let _ = writeln!(s, "| {n} | {held} | {:.0} MiB |", mib(*rss));
                }
                s.push('\n');
            }
            Err(e) => {
                let _ = writeln!(s, "FAIL: {e}\n");
            }
        }
    }
    if let Some(p) = &r.payload {
        let _ = writeln!(
            s,
            "## Payload limit\n\n{}\n(`xtask/reliability/src/payload.rs`, also a unit test there; over HTTP, the scenario\n`oversized_insert_is_rejected_and_data_unchanged` runs in every cell.)\n",
            match p {
                Ok(t) => format!("ok: {t}."),
                Err(e) => format!("FAIL: {e}."),
            }
        );
    }
    s
}
