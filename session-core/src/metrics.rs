//! Figures for the [`metrics`](https://docs.rs/metrics) facade (feature
//! `metrics`): whatever recorder the app installs (Prometheus exporter,
//! StatsD...) receives them. Without the feature none of this is compiled.
//!
//! | name | kind | labels | counts |
//! |---|---|---|---|
//! | `session_created_total` | counter | | new sessions stored |
//! | `session_loaded_total` | counter | | stored sessions loaded |
//! | `session_destroyed_total` | counter | | `destroy` calls that removed a session |
//! | `session_revoked_total` | counter | | sessions revoked through the user index |
//! | `session_regenerated_total` | counter | | id rotations (`regenerate`) |
//! | `session_conflicts_replayed_total` | counter | | writes replayed on a newer version after a conflict |
//! | `session_store_errors_total` | counter | `op` | failed store calls |
//! | `session_store_call_seconds` | histogram | `op`, `outcome` (`ok`, `error`) | store call latency |

use std::time::Duration;

use crate::events::EventKind;

/// Counts one lifecycle event.
pub(crate) fn event(kind: EventKind) {
    let name = match kind {
        EventKind::Created => "session_created_total",
        EventKind::Loaded => "session_loaded_total",
        EventKind::Destroyed => "session_destroyed_total",
        EventKind::Revoked => "session_revoked_total",
        EventKind::IdRotated => "session_regenerated_total",
        EventKind::ConflictReplayed => "session_conflicts_replayed_total",
        _ => return,
    };
    ::metrics::counter!(name).increment(1);
}

/// Records one store call's latency and outcome.
pub(crate) fn store_call(op: &'static str, ok: bool, latency: Duration) {
    let outcome = if ok { "ok" } else { "error" };
    ::metrics::histogram!("session_store_call_seconds", "op" => op, "outcome" => outcome)
        .record(latency.as_secs_f64());
}

/// Counts one failed store call.
pub(crate) fn store_error(op: &'static str) {
    ::metrics::counter!("session_store_errors_total", "op" => op).increment(1);
}
