//! The `Expires` attribute of a `Set-Cookie`, written by hand.
//!
//! The `cookie` crate writes `Expires` through the `time` crate's general
//! formatter (a format description interpreted at run time), the largest
//! part of the cost of rendering a `Set-Cookie`. [`render`] writes the one
//! fixed format instead (RFC 9110's IMF-fixdate), byte for byte what the
//! `cookie` crate writes (the proptest below checks every second from year 0
//! to 9999 at any offset), and leaves the years it cannot write the same way
//! to the `cookie` crate.
//!
//! It pays, so it stays. Instructions per `render_set` call with an expiry
//! (callgrind, `examples/fast_paths_ir.rs`, exact): 5.5k by hand against
//! 7.8k with the `cookie` crate writing `Expires` (-30%). Wall clock
//! (`benches/fast_paths.rs`, five runs on a shared 2-core machine at load
//! 5 to 8, so wide ranges): 0.62-1.5 µs against 0.78-3.5 µs, 0.24-0.97 of
//! the `cookie` crate's time within a run.

use cookie::CookieBuilder;
use time::OffsetDateTime;

/// Renders `b` with `Expires=at` (written by hand), then the cookie.
pub(super) fn render(b: CookieBuilder<'_>, at: OffsetDateTime) -> String {
    let mut expires = String::new();
    if !http_date(at, &mut expires) {
        return plain(b, at);
    }
    // The cookie crate writes Expires last: appending it gives its output.
    let mut out = b.build().encoded().to_string();
    out.push_str("; Expires=");
    out.push_str(&expires);
    out
}

/// [`render`] done by the `cookie` crate alone: the plain version.
pub(super) fn plain(b: CookieBuilder<'_>, at: OffsetDateTime) -> String {
    b.expires(at).build().encoded().to_string()
}

/// Writes `at` as an IMF-fixdate (RFC 9110), `Tue, 01 Jan 2030 00:01:30
/// GMT`; `false` (nothing written) for years outside 1000..=9999, which
/// the cookie crate writes with fewer digits.
fn http_date(at: OffsetDateTime, out: &mut String) -> bool {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let at = at.to_offset(time::UtcOffset::UTC);
    let Ok(year) = u16::try_from(at.year()) else {
        return false;
    };
    if !(1000..=9999).contains(&year) {
        return false;
    }
    let digits = |out: &mut String, n: u16, width: u32| {
        for i in (0..width).rev() {
            let d = (n / 10u16.pow(i)) % 10;
            out.push(char::from(b'0' + d as u8));
        }
    };
    let day = DAYS
        .get(usize::from(at.weekday().number_days_from_monday()))
        .copied()
        .unwrap_or("Mon");
    let month = MONTHS
        .get(usize::from(u8::from(at.month())).saturating_sub(1))
        .copied()
        .unwrap_or("Jan");
    out.push_str(day);
    out.push_str(", ");
    digits(out, u16::from(at.day()), 2);
    out.push(' ');
    out.push_str(month);
    out.push(' ');
    digits(out, year, 4);
    out.push(' ');
    digits(out, u16::from(at.hour()), 2);
    out.push(':');
    digits(out, u16::from(at.minute()), 2);
    out.push(':');
    digits(out, u16::from(at.second()), 2);
    out.push_str(" GMT");
    true
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use time::macros::datetime;

    use super::super::{base, render_set};
    use super::*;
    use crate::SessionConfig;

    fn config() -> SessionConfig {
        crate::config::test_config("key 1")
    }

    fn signed(c: &SessionConfig) -> String {
        c.keys.sign(&crate::SessionId::random())
    }

    proptest::proptest! {
        /// The hand-written Expires is byte for byte what the cookie crate
        /// writes, for any second from year 0 to 9999 and any offset.
        #[test]
        fn set_cookie_matches_the_cookie_crates_rendering(
            secs in -62_167_219_200i64..253_402_300_799,
            offset_h in -12i8..=12,
            browser in proptest::prelude::any::<bool>(),
        ) {
            let c = config();
            let s = signed(&c);
            let offset = time::UtcOffset::from_hms(offset_h, 0, 0).unwrap();
            let at = OffsetDateTime::from_unix_timestamp(secs).unwrap().to_offset(offset);
            let now = at - time::Duration::hours(1);
            let expires = (!browser).then_some(at);
            let ours = render_set(&c, &s, expires, now, true);
            let mut b = base(&c, Cow::Borrowed(s.as_str()), true);
            if let Some(at) = expires {
                b = b.max_age(time::Duration::seconds(3600)).expires(at);
            }
            proptest::prop_assert_eq!(ours, b.build().encoded().to_string());
        }
    }

    #[test]
    fn early_dates_fall_back_to_the_cookie_crate() {
        let c = config();
        let s = signed(&c);
        let early = datetime!(0999-12-31 23:59:59 UTC);
        let out = render_set(&c, &s, Some(early), early, true);
        assert!(
            out.ends_with("; Expires=Tue, 31 Dec 999 23:59:59 GMT"),
            "{out}"
        );
        let usual = datetime!(2030-01-01 00:01:30 UTC);
        let out = render_set(&c, &s, Some(usual), usual, true);
        assert!(
            out.ends_with("; Max-Age=0; Expires=Tue, 01 Jan 2030 00:01:30 GMT"),
            "{out}"
        );
    }
}
