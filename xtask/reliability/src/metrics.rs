//! Counts the core's `tracing` events (target `session`): compare-and-swap
//! conflicts (with the largest retry number seen), vanished records and
//! store errors.

use std::sync::atomic::{AtomicU64, Ordering};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;

static CONFLICTS: AtomicU64 = AtomicU64::new(0);
static MAX_RETRY: AtomicU64 = AtomicU64::new(0);
static VANISHED: AtomicU64 = AtomicU64::new(0);
static STORE_ERRORS: AtomicU64 = AtomicU64::new(0);

/// A snapshot of the counters.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Counts {
    pub(crate) conflicts: u64,
    pub(crate) max_retry: u64,
    pub(crate) vanished: u64,
    pub(crate) store_errors: u64,
}

/// Reads the counters and resets them.
pub(crate) fn take() -> Counts {
    Counts {
        conflicts: CONFLICTS.swap(0, Ordering::SeqCst),
        max_retry: MAX_RETRY.swap(0, Ordering::SeqCst),
        vanished: VANISHED.swap(0, Ordering::SeqCst),
        store_errors: STORE_ERRORS.swap(0, Ordering::SeqCst),
    }
}

/// Installs the counting layer as the global subscriber (nothing is
/// printed).
pub(crate) fn install() {
    use tracing_subscriber::layer::SubscriberExt as _;
    let filter =
        tracing_subscriber::filter::Targets::new().with_target("session", tracing::Level::DEBUG);
    let subscriber = tracing_subscriber::registry().with(Counter.with_filter(filter));
    let _ = tracing::subscriber::set_global_default(subscriber);
}

struct Counter;

#[derive(Default)]
struct Fields {
    event: Option<String>,
    retry: Option<u64>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "event" {
            self.event = Some(value.to_owned());
        }
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "retry" {
            self.retry = Some(value);
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        if field.name() == "retry" {
            self.retry = u64::try_from(value).ok();
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "event" {
            self.event = Some(format!("{value:?}").trim_matches('"').to_owned());
        }
    }
}

impl<S: Subscriber> Layer<S> for Counter {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut f = Fields::default();
        event.record(&mut f);
        match f.event.as_deref() {
            Some("conflict_replayed") => {
                CONFLICTS.fetch_add(1, Ordering::SeqCst);
                if let Some(r) = f.retry {
                    MAX_RETRY.fetch_max(r, Ordering::SeqCst);
                }
            }
            Some("vanished") => {
                VANISHED.fetch_add(1, Ordering::SeqCst);
            }
            Some("store_error") => {
                STORE_ERRORS.fetch_add(1, Ordering::SeqCst);
            }
            _ => {}
        }
    }
}
