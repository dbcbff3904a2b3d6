//! Bounded memory: a `MemoryStore` with a 1-second idle timeout under a
//! stream of new sessions, driven through `SessionManager` (no HTTP). Runs
//! in a child process so its peak RSS is its own.

use std::sync::Arc;
use std::time::{Duration, Instant};

use session_core::{MemoryStore, RequestMeta, SessionConfig, SessionManager, Store};

/// The figures of one run.
#[derive(Debug, Default)]
pub(crate) struct Figures {
    pub(crate) sessions: u64,
    pub(crate) rate: u64,
    pub(crate) seconds: f64,
    pub(crate) baseline_rss_kib: u64,
    pub(crate) peak_rss_kib: u64,
    /// (sessions so far, records held, VmRSS KiB) every tenth of the run.
    pub(crate) checkpoints: Vec<(u64, usize, u64)>,
    pub(crate) held_at_end: usize,
    pub(crate) live_after_ttl: usize,
    pub(crate) held_after_sweep: usize,
    pub(crate) swept: u64,
}

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

/// Runs in the child: `sessions` new sessions, then the TTL passes and a
/// sweep runs. Prints one line of figures.
pub(crate) async fn child(sessions: u64, rate: u64) -> Result<(), Box<dyn std::error::Error>> {
    let baseline = status_kib("VmRSS:");
    let store = MemoryStore::new();
    let config = SessionConfig::builder()
        .key(session_core::test_key("key 66"))
        .idle_timeout(Some(time::Duration::seconds(1)))
        .absolute_timeout(None)
        .build()?;
    let manager = SessionManager::new(config, store.clone());
    let start = Instant::now();
    let mut checkpoints = Vec::new();
    let step = (sessions / 10).max(1);
    for i in 0..sessions {
        let session = manager.start([], RequestMeta::default());
        session.insert("n", i).await?;
        manager.finish(&session).await?;
        // Paced to `rate` sessions per second, so the stream spans many
        // idle windows.
        if (i + 1) % 1_000 == 0 {
            let due = Duration::from_secs_f64((i + 1) as f64 / rate.max(1) as f64);
            if let Some(ahead) = due.checked_sub(start.elapsed()) {
                tokio::time::sleep(ahead).await;
            }
        }
        if (i + 1) % step == 0 {
            checkpoints.push((i + 1, store.len(), status_kib("VmRSS:")));
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let held_at_end = store.len();
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    // Live records: those a load would still return (none, after the TTL).
    let live_after_ttl = {
        let mut live = 0;
        let probe: Arc<dyn Store> = Arc::new(store.clone());
        for (key, _) in &store.dump() {
            if let Some(k) = session_core::StoreKey::from_stored(key)
                && probe.load(&k).await?.is_some()
            {
                live += 1;
            }
        }
        live
    };
    let swept = store.delete_expired().await?;
    let held_after_sweep = store.len();
    let peak = status_kib("VmHWM:");
    let cps: Vec<String> = checkpoints
        .iter()
        .map(|(n, held, rss)| format!("{n}:{held}:{rss}"))
        .collect();
    println!(
        "MEMORY sessions={sessions} rate={rate} seconds={seconds:.2} baseline={baseline} peak={peak} held_at_end={held_at_end} live_after_ttl={live_after_ttl} swept={swept} held_after_sweep={held_after_sweep} checkpoints={}",
        cps.join(",")
    );
    Ok(())
}

/// Runs the child and parses its figures.
pub(crate) fn run(sessions: u64, rate: u64) -> Result<Figures, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = std::process::Command::new(exe)
        .args(["--memory-child", &sessions.to_string(), &rate.to_string()])
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("MEMORY "))
        .ok_or_else(|| {
            format!(
                "memory child failed: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        })?;
    let mut f = Figures::default();
    for part in line.split_whitespace().skip(1) {
        let Some((k, v)) = part.split_once('=') else {
            continue;
        };
        let n = || v.parse::<u64>().unwrap_or(0);
        match k {
            "sessions" => f.sessions = n(),
            "rate" => f.rate = n(),
            "seconds" => f.seconds = v.parse().unwrap_or(0.0),
            "baseline" => f.baseline_rss_kib = n(),
            "peak" => f.peak_rss_kib = n(),
            "held_at_end" => f.held_at_end = n() as usize,
            "live_after_ttl" => f.live_after_ttl = n() as usize,
            "swept" => f.swept = n(),
            "held_after_sweep" => f.held_after_sweep = n() as usize,
            "checkpoints" => {
                f.checkpoints = v
                    .split(',')
                    .filter_map(|c| {
                        let mut it = c.split(':').map(|x| x.parse::<u64>().unwrap_or(0));
                        Some((it.next()?, it.next()? as usize, it.next()?))
                    })
                    .collect();
            }
            _ => {}
        }
    }
    Ok(f)
}
