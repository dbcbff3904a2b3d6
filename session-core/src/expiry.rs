//! Expiry policy: idle timeout, absolute cap, fixed deadlines and the touch
//! threshold. Pure: every function takes `now`.

use time::{Duration, OffsetDateTime};

use crate::config::{SessionConfig, TouchPolicy};

/// A per-session expiry override, set with `Session::set_expiry`
/// ("remember me", or a short-lived session).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// The configured policy.
    Default,
    /// This idle window instead of the configured one (the absolute cap
    /// still applies).
    Idle(Duration),
    /// A fixed deadline with no idle extension (the absolute cap still
    /// applies).
    At(OffsetDateTime),
    /// The configured server-side policy, with a browser-session cookie (no
    /// Max-Age/Expires: the browser drops it when it closes).
    BrowserSession,
}

/// The longest idle window or absolute lifetime: 400 days, the longest
/// browsers keep a cookie (RFC 6265bis caps `Max-Age` and `Expires` there).
/// Bounding it also keeps every window representable in a record.
pub(crate) const MAX_WINDOW: Duration = Duration::days(400);

/// Why an expiry setting was refused (by `Session::set_expiry`; the
/// builder reports the same as `ConfigError::Expiry`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExpiryError {
    /// An idle window or timeout of zero or less.
    #[error("an idle window must be positive")]
    NotPositive,
    /// An idle window or timeout longer than 400 days.
    #[error("an idle window or lifetime must be at most 400 days")]
    TooLong,
}

/// Checks that `d` is a usable idle window or lifetime: in
/// `(0, MAX_WINDOW]`.
pub(crate) fn check_window(d: Duration) -> Result<(), ExpiryError> {
    if !d.is_positive() {
        Err(ExpiryError::NotPositive)
    } else if d > MAX_WINDOW {
        Err(ExpiryError::TooLong)
    } else {
        Ok(())
    }
}

impl Expiry {
    /// Checks the override: an [`Expiry::Idle`] window must be in
    /// `(0, MAX_WINDOW]`.
    ///
    /// ```
    /// use session_core::Expiry;
    /// use time::Duration;
    ///
    /// assert!(Expiry::Idle(Duration::hours(1)).validate().is_ok());
    /// assert!(Expiry::Idle(Duration::ZERO).validate().is_err());
    /// assert!(Expiry::Idle(Duration::MAX).validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), ExpiryError> {
        match self {
            Expiry::Idle(d) => check_window(*d),
            Expiry::Default | Expiry::At(_) | Expiry::BrowserSession => Ok(()),
        }
    }
}

/// The expiry policy stored in a session's record, so it survives reloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetime {
    /// Idle window, if any.
    pub idle: Option<Duration>,
    /// Absolute cap: creation time plus the configured absolute timeout.
    pub cap: Option<OffsetDateTime>,
    /// A fixed deadline set with [`Expiry::At`].
    pub at: Option<OffsetDateTime>,
    /// Whether the cookie is a browser-session cookie.
    pub browser_session: bool,
}

/// Where a session with no idle window and no deadline would end; never
/// reached with a validated config, kept as a safe bound.
const FALLBACK: Duration = Duration::days(400);

/// `t + d`, saturating at the largest representable instant instead of
/// panicking (a stored record may carry any duration).
fn add(t: OffsetDateTime, d: Duration) -> OffsetDateTime {
    t.checked_add(d).unwrap_or(if d.is_negative() {
        time::PrimitiveDateTime::MIN.assume_utc()
    } else {
        time::PrimitiveDateTime::MAX.assume_utc()
    })
}

impl Lifetime {
    /// The configured policy for a session created at `created`.
    pub fn from_config(config: &SessionConfig, created: OffsetDateTime) -> Self {
        Self {
            idle: config.idle_timeout,
            cap: config.absolute_timeout.map(|d| add(created, d)),
            at: None,
            browser_session: config.browser_session_cookie,
        }
    }

    /// Applies an override (keeping the absolute cap).
    pub fn with_override(self, config: &SessionConfig, expiry: Expiry) -> Self {
        let base = Self {
            idle: config.idle_timeout,
            cap: self.cap,
            at: None,
            browser_session: config.browser_session_cookie,
        };
        match expiry {
            Expiry::Default => base,
            Expiry::Idle(d) => Self {
                idle: Some(d),
                ..base
            },
            Expiry::At(t) => Self {
                idle: None,
                at: Some(t),
                ..base
            },
            Expiry::BrowserSession => Self {
                browser_session: true,
                ..base
            },
        }
    }

    /// The fixed end, if any: the earlier of the cap and the deadline.
    pub fn deadline(&self) -> Option<OffsetDateTime> {
        match (self.cap, self.at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// When a session last active at `last_active` expires.
    pub fn expires_at(&self, last_active: OffsetDateTime) -> OffsetDateTime {
        let idle_end = self.idle.map(|i| add(last_active, i));
        match (idle_end, self.deadline()) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => add(last_active, FALLBACK),
        }
    }

    /// For a read-only request at `now` on a session expiring at
    /// `expires_at`: the new expiry to write, if the touch policy says the
    /// session should be extended.
    pub fn touch(
        &self, policy: TouchPolicy, expires_at: OffsetDateTime, now: OffsetDateTime,
    ) -> Option<OffsetDateTime> {
        let idle = self.idle?;
        let candidate = self.expires_at(now);
        if candidate <= expires_at {
            return None;
        }
        match policy {
            TouchPolicy::Never => None,
            TouchPolicy::Always => Some(candidate),
            TouchPolicy::Threshold(t) => {
                let remaining = expires_at - now;
                (remaining.as_seconds_f64() < idle.as_seconds_f64() * t).then_some(candidate)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2030-01-01 00:00 UTC);

    fn config(idle: Option<i64>, abs: Option<i64>) -> SessionConfig {
        SessionConfig::builder()
            .key(crate::test_key("key 1"))
            .idle_timeout(idle.map(Duration::seconds))
            .absolute_timeout(abs.map(Duration::seconds))
            .build()
            .unwrap()
    }

    #[test]
    fn idle_and_absolute_together() {
        let c = config(Some(100), Some(250));
        let l = Lifetime::from_config(&c, T0);
        assert_eq!(l.expires_at(T0), T0 + Duration::seconds(100));
        // Activity extends the idle window but never past the cap.
        assert_eq!(
            l.expires_at(T0 + Duration::seconds(200)),
            T0 + Duration::seconds(250)
        );
    }

    #[test]
    fn only_idle_or_only_absolute() {
        let l = Lifetime::from_config(&config(Some(10), None), T0);
        assert_eq!(
            l.expires_at(T0 + Duration::seconds(5)),
            T0 + Duration::seconds(15)
        );
        let l = Lifetime::from_config(&config(None, Some(10)), T0);
        assert_eq!(
            l.expires_at(T0 + Duration::seconds(5)),
            T0 + Duration::seconds(10)
        );
        assert_eq!(
            l.touch(TouchPolicy::Always, T0 + Duration::seconds(10), T0),
            None
        );
    }

    #[test]
    fn overrides_keep_the_cap() {
        let c = config(Some(100), Some(1000));
        let l = Lifetime::from_config(&c, T0);
        let remember = l.with_override(&c, Expiry::Idle(Duration::seconds(5000)));
        assert_eq!(remember.expires_at(T0), T0 + Duration::seconds(1000));
        let fixed = l.with_override(&c, Expiry::At(T0 + Duration::seconds(30)));
        assert_eq!(
            fixed.expires_at(T0 + Duration::seconds(20)),
            T0 + Duration::seconds(30)
        );
        assert_eq!(fixed.idle, None);
        let browser = l.with_override(&c, Expiry::BrowserSession);
        assert!(browser.browser_session);
        assert_eq!(browser.with_override(&c, Expiry::Default), l);
    }

    #[test]
    fn touch_threshold_table() {
        let c = config(Some(100), None);
        let l = Lifetime::from_config(&c, T0);
        let exp = T0 + Duration::seconds(100);
        let cases = [
            // (policy, seconds elapsed, touched?)
            (TouchPolicy::Threshold(0.8), 0, false),
            (TouchPolicy::Threshold(0.8), 19, false),
            (TouchPolicy::Threshold(0.8), 21, true),
            (TouchPolicy::Threshold(0.5), 49, false),
            (TouchPolicy::Threshold(0.5), 51, true),
            (TouchPolicy::Always, 1, true),
            (TouchPolicy::Always, 0, false),
            (TouchPolicy::Never, 99, false),
        ];
        for (policy, elapsed, touched) in cases {
            let now = T0 + Duration::seconds(elapsed);
            let got = l.touch(policy, exp, now);
            assert_eq!(got.is_some(), touched, "{policy:?} at {elapsed}s");
            if let Some(new) = got {
                assert_eq!(new, now + Duration::seconds(100));
            }
        }
    }
}
