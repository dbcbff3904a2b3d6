//! The source of time: the ground floor of the crate. Only the driver reads
//! a [`Clock`]; the pure core takes `now` as a parameter, and tests replace
//! the clock with a [`ManualClock`].

use std::sync::{Arc, Mutex, PoisonError};

use time::{Duration, OffsetDateTime};

/// The source of the current time. Only the driver reads a clock; the pure
/// core takes `now` as a parameter. Tests replace it with [`ManualClock`].
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> OffsetDateTime;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> OffsetDateTime {
        use std::cell::Cell;
        use std::time::{SystemTime, UNIX_EPOCH};
        // Turning a Unix time into a calendar date is most of the cost of
        // `now_utc`; requests read the clock several times a second, so each
        // thread keeps the date of the current second and only sets the
        // sub-second part.
        thread_local! {
            static SECOND: Cell<Option<(u64, OffsetDateTime)>> = const { Cell::new(None) };
        }
        let Ok(since) = SystemTime::now().duration_since(UNIX_EPOCH) else {
            return OffsetDateTime::now_utc();
        };
        let secs = since.as_secs();
        let base = match SECOND.with(Cell::get) {
            Some((s, t)) if s == secs => t,
            _ => match i64::try_from(secs)
                .ok()
                .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
            {
                Some(t) => {
                    SECOND.with(|c| c.set(Some((secs, t))));
                    t
                }
                None => return OffsetDateTime::now_utc(),
            },
        };
        base.replace_nanosecond(since.subsec_nanos())
            .unwrap_or(base)
    }
}

/// A clock that moves only when told (for tests of expiry).
#[derive(Debug)]
pub struct ManualClock(Mutex<OffsetDateTime>);

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn new(start: OffsetDateTime) -> Self {
        Self(Mutex::new(start))
    }

    /// A clock stopped at the current system time.
    pub fn starting_now() -> Self {
        Self::new(SystemClock.now())
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let mut t = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *t += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> OffsetDateTime {
        (**self).now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::disallowed_methods)]
    fn system_clock_agrees_with_now_utc() {
        for _ in 0..1000 {
            let before = OffsetDateTime::now_utc();
            let ours = SystemClock.now();
            let after = OffsetDateTime::now_utc();
            assert!(before <= ours && ours <= after, "{before} {ours} {after}");
        }
    }
}
