//! Finding our signed value in request headers, and rendering `Set-Cookie`.
//!
//! Where the `cookie` crate is used and where not:
//!
//! - Reading: `Cookie` headers are split at `;` by hand, and a value of the
//!   shape we issue is taken as it is (`split.rs`); every other value with
//!   our name, and every header with bytes the two would trim differently,
//!   goes through the `cookie` crate's parser. The header and bearer
//!   transports have no cookie grammar: their value is trimmed and checked.
//! - Writing: the `Set-Cookie` value (name, value, Path, Domain, Secure,
//!   HttpOnly, SameSite, Partitioned, Max-Age; the removal cookie whole) is
//!   the `cookie` crate's; only `Expires` is written by hand (`expires.rs`).
//!
//! Each hand-written part is a fast path: it is in its own module, next to
//! the proptest that proves it equal to the `cookie` crate's result, with
//! the figure that keeps it (`benches/fast_paths.rs` measures both). The
//! plain versions are reachable as [`plain`] for that bench.

use std::borrow::Cow;

use cookie::Cookie;
use time::OffsetDateTime;

use crate::config::{SameSite, Secure, SessionConfig, Transport};
use crate::id::SessionId;
use crate::keys::KeyMatch;

mod diagnose;
mod expires;
mod path;
mod split;

pub(crate) use diagnose::{Finding, diagnose};
pub(crate) use path::path_matches;

/// A search of one `Cookie` header for our value (see `verdict_with`).
type Find = fn(&SessionConfig, &[u8], &mut bool) -> Option<Verdict>;

/// Renders a cookie with Max-Age and Expires (see `render_set_with`).
type Render = fn(cookie::CookieBuilder<'_>, OffsetDateTime) -> String;

/// The hand-written fast paths' plain equivalents, for the benches that
/// measure the fast paths (`benches/fast_paths.rs`). Not part of the API.
#[doc(hidden)]
pub mod plain {
    use time::OffsetDateTime;

    use super::{Verdict, expires, render_set_with, split, verdict_with};
    use crate::config::SessionConfig;

    /// [`super::verdict`] for one `Cookie` header, split by the `cookie`
    /// crate.
    pub fn verdict(config: &SessionConfig, header: &[u8]) -> Verdict {
        verdict_with(config, [header], split::plain)
    }

    /// [`super::render_set`] of a cookie expiring at `at`, on a secure
    /// request, with the `cookie` crate writing `Expires`.
    pub fn render_set(
        config: &SessionConfig, signed: &str, at: OffsetDateTime, now: OffsetDateTime,
    ) -> String {
        render_set_with(config, signed, Some(at), now, true, expires::plain)
    }
}

/// What the request said about its session, before any store access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// No value with our name (or in our header).
    Absent,
    /// Values were present but none verified (tampered, wrong key,
    /// truncated, oversized, garbage). The request gets a fresh session.
    Invalid,
    /// A value verified.
    Valid {
        /// The id it carries.
        id: SessionId,
        /// Which key verified it.
        key: KeyMatch,
    },
}

impl Verdict {
    /// Whether the client sent something under our name.
    pub fn is_present(&self) -> bool {
        !matches!(self, Verdict::Absent)
    }
}

/// Reads the verdict from the values of the transport's header (all `Cookie`
/// headers for the cookie transport). Bytes need not be UTF-8. Among several
/// values with our name, the first that verifies wins; a value longer than
/// 4096 bytes is ignored.
pub fn verdict<'a, I>(config: &SessionConfig, values: I) -> Verdict
where
    I: IntoIterator<Item = &'a [u8]>,
{
    verdict_with(config, values, split::find)
}

/// [`verdict`], with `find` looking for our value in one `Cookie` header:
/// the first value with our name that verifies, noting in `seen` whether
/// there was a value with our name at all.
fn verdict_with<'a, I>(config: &SessionConfig, values: I, find: Find) -> Verdict
where
    I: IntoIterator<Item = &'a [u8]>,
{
    let mut seen = false;
    for raw in values {
        match &config.transport {
            Transport::Cookie => {
                if let Some(v) = find(config, raw, &mut seen) {
                    return v;
                }
            }
            Transport::Header(_) => {
                seen = true;
                if let Some(v) = check(config, raw.trim_ascii()) {
                    return v;
                }
            }
            Transport::Bearer => {
                let raw = raw.trim_ascii();
                let Some((scheme, token)) = raw.split_at_checked(7) else {
                    continue;
                };
                if !scheme.eq_ignore_ascii_case(b"bearer ") {
                    continue;
                }
                seen = true;
                if let Some(v) = check(config, token.trim_ascii()) {
                    return v;
                }
            }
        }
    }
    if seen {
        Verdict::Invalid
    } else {
        Verdict::Absent
    }
}

/// The longest value looked at, in bytes: 4096, the size browsers allow a
/// whole cookie (RFC 6265 §6.1). A signed id is far shorter, so a longer
/// value is rejected before any MAC work.
const MAX_VALUE_BYTES: usize = 4096;

fn check(config: &SessionConfig, value: &[u8]) -> Option<Verdict> {
    if value.len() > MAX_VALUE_BYTES {
        return None;
    }
    config
        .keys
        .verify(value)
        .map(|(id, key)| Verdict::Valid { id, key })
}

/// The name of the request header the transport reads.
pub(crate) fn request_header(config: &SessionConfig) -> http::HeaderName {
    match &config.transport {
        Transport::Cookie => http::header::COOKIE,
        Transport::Header(name) => name.clone(),
        Transport::Bearer => http::header::AUTHORIZATION,
    }
}

/// The name of the response header the transport writes.
pub(crate) fn response_header(config: &SessionConfig) -> http::HeaderName {
    match &config.transport {
        Transport::Cookie => http::header::SET_COOKIE,
        Transport::Header(name) => name.clone(),
        Transport::Bearer => http::HeaderName::from_static("x-session-token"),
    }
}

fn base<'c>(
    config: &'c SessionConfig, value: Cow<'c, str>, secure_request: bool,
) -> cookie::CookieBuilder<'c> {
    let secure = match config.secure {
        Secure::Always => true,
        Secure::Never => false,
        Secure::Auto => secure_request,
    };
    let mut b = Cookie::build((config.cookie_name.as_str(), value))
        .path(config.path.as_str())
        .http_only(config.http_only)
        .secure(secure)
        .same_site(match config.same_site {
            SameSite::Strict => cookie::SameSite::Strict,
            SameSite::Lax => cookie::SameSite::Lax,
            SameSite::None => cookie::SameSite::None,
        });
    if config.partitioned {
        b = b.partitioned(true);
    }
    if let Some(d) = &config.domain {
        b = b.domain(d.as_str());
    }
    b
}

/// Renders the response header value that hands the client `signed`.
/// For the cookie transport, `expires_at` adds Max-Age and Expires (a
/// browser-session cookie has neither).
pub fn render_set(
    config: &SessionConfig, signed: &str, expires_at: Option<OffsetDateTime>, now: OffsetDateTime,
    secure_request: bool,
) -> String {
    render_set_with(
        config,
        signed,
        expires_at,
        now,
        secure_request,
        expires::render,
    )
}

/// [`render_set`], with `render` writing a cookie with Max-Age and Expires.
fn render_set_with(
    config: &SessionConfig, signed: &str, expires_at: Option<OffsetDateTime>, now: OffsetDateTime,
    secure_request: bool, render: Render,
) -> String {
    if !matches!(config.transport, Transport::Cookie) {
        return signed.to_owned();
    }
    let b = base(config, Cow::Borrowed(signed), secure_request);
    match expires_at {
        Some(at) => {
            let max_age = (at - now).max(time::Duration::ZERO);
            render(
                b.max_age(time::Duration::seconds(max_age.whole_seconds())),
                at,
            )
        }
        None => b.build().encoded().to_string(),
    }
}

/// Renders the header value that removes the client's session cookie
/// (`Max-Age=0`, an Expires in the past); empty for header transports.
pub(crate) fn render_removal(config: &SessionConfig, secure_request: bool) -> String {
    if !matches!(config.transport, Transport::Cookie) {
        return String::new();
    }
    let mut c = base(config, Cow::Borrowed(""), secure_request).build();
    c.make_removal();
    c.encoded().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{Key, Keys};
    use time::macros::datetime;

    fn config() -> SessionConfig {
        crate::config::test_config("key 1")
    }

    fn signed(c: &SessionConfig) -> (SessionId, String) {
        let id = SessionId::random();
        (id, c.keys.sign(&id))
    }

    fn v(c: &SessionConfig, headers: &[&[u8]]) -> Verdict {
        verdict(c, headers.iter().copied())
    }

    /// The verdict on a cookie signed with the current key.
    fn current(id: SessionId) -> Verdict {
        Verdict::Valid {
            id,
            key: KeyMatch::Current,
        }
    }

    #[test]
    fn plain_quoted_and_spaced_values_agree() {
        let c = config();
        let (id, s) = signed(&c);
        let valid = current(id);
        for h in [
            format!("id={s}"),
            format!("id=\"{s}\""),
            format!("id = {s} "),
            format!("x=1;id=\t{s}"),
        ] {
            assert_eq!(v(&c, &[h.as_bytes()]), valid, "{h}");
        }
        // Neither path accepts a value with anything appended.
        for h in [format!("id={s}x"), format!("id=\"{s}"), format!("id={s}=")] {
            assert_eq!(v(&c, &[h.as_bytes()]), Verdict::Invalid, "{h}");
        }
    }

    #[test]
    fn finds_our_cookie_among_others() {
        let c = config();
        let (id, s) = signed(&c);
        let h = format!("a=1; theme=dark;id={s} ;  z=\"q\"");
        assert_eq!(v(&c, &[h.as_bytes()]), current(id));
        // In the second of two Cookie headers.
        assert_eq!(v(&c, &[b"a=1", h.as_bytes()]), current(id));
        // Quoted value.
        let q = format!("id=\"{s}\"");
        assert_eq!(v(&c, &[q.as_bytes()]), current(id));
    }

    #[test]
    fn absent_and_invalid() {
        let c = config();
        assert_eq!(v(&c, &[]), Verdict::Absent);
        assert_eq!(v(&c, &[b"other=1; idx=2"]), Verdict::Absent);
        assert_eq!(v(&c, &[b";;;==;"]), Verdict::Absent);
        assert_eq!(v(&c, &[b"id="]), Verdict::Invalid);
        assert_eq!(v(&c, &[b"id=garbage"]), Verdict::Invalid);
        let (_, s) = signed(&c);
        let truncated = format!("id={}", &s[..s.len() - 1]);
        assert_eq!(v(&c, &[truncated.as_bytes()]), Verdict::Invalid);
        let other = crate::config::test_config("key 2");
        let (_, wrong_key) = signed(&other);
        assert_eq!(
            v(&c, &[format!("id={wrong_key}").as_bytes()]),
            Verdict::Invalid
        );
        // Non-UTF-8 bytes around a valid cookie still find it; inside it, not.
        let (id, s) = signed(&c);
        let mut raw = b"x=\xff\xfe; ".to_vec();
        raw.extend_from_slice(format!("id={s}").as_bytes());
        assert_eq!(v(&c, &[&raw]), current(id));
        let mut bad = format!("id={s}").into_bytes();
        bad[10] = 0xff;
        assert_eq!(v(&c, &[&bad]), Verdict::Invalid);
    }

    #[test]
    fn duplicate_names_the_valid_one_wins() {
        let c = config();
        let (id, s) = signed(&c);
        let h = format!("id=forged; id={s}; id=also-forged");
        assert_eq!(v(&c, &[h.as_bytes()]), current(id));
    }

    #[test]
    fn oversized_values_are_ignored() {
        let c = config();
        let h = format!("id={}", "a".repeat(5000));
        assert_eq!(v(&c, &[h.as_bytes()]), Verdict::Invalid);
        let (id, s) = signed(&c);
        let h = format!("pad={}; id={s}", "b".repeat(10_000));
        assert_eq!(v(&c, &[h.as_bytes()]), current(id));
    }

    #[test]
    fn header_and_bearer_transports() {
        let name = http::HeaderName::from_static("x-session-id");
        let c = SessionConfig::builder()
            .key(crate::test_key("key 1"))
            .transport(Transport::Header(name.clone()))
            .build()
            .unwrap();
        let (id, s) = signed(&c);
        assert_eq!(v(&c, &[format!(" {s} ").as_bytes()]), current(id));
        assert_eq!(v(&c, &[b"nope"]), Verdict::Invalid);
        assert_eq!(request_header(&c), name);
        assert_eq!(
            render_set(&c, &s, None, datetime!(2030-01-01 0:00 UTC), false),
            s
        );
        let c = SessionConfig::builder()
            .key(crate::test_key("key 1"))
            .transport(Transport::Bearer)
            .build()
            .unwrap();
        assert_eq!(v(&c, &[format!("Bearer {s}").as_bytes()]), current(id));
        assert_eq!(v(&c, &[format!("Basic {s}").as_bytes()]), Verdict::Absent);
        assert_eq!(v(&c, &[b"Bearer"]), Verdict::Absent);
    }

    #[test]
    fn previous_key_is_reported() {
        let old = crate::config::test_config("key 1");
        let new = SessionConfig::builder()
            .key(crate::test_key("key 2"))
            .previous_key(crate::test_key("key 1"))
            .build()
            .unwrap();
        let (id, s) = signed(&old);
        assert_eq!(
            v(&new, &[format!("id={s}").as_bytes()]),
            Verdict::Valid {
                id,
                key: KeyMatch::Previous
            }
        );
        let _ = Keys::new(Key::generate());
    }

    #[test]
    fn set_cookie_has_every_attribute() {
        let c = SessionConfig::builder()
            .key(crate::test_key("key 1"))
            .cookie_name("sid")
            .path("/app")
            .domain("example.com")
            .same_site(SameSite::Strict)
            .partitioned(true)
            .build()
            .unwrap();
        let now = datetime!(2030-01-01 0:00 UTC);
        let h = render_set(
            &c,
            "v.x",
            Some(now + time::Duration::seconds(90)),
            now,
            false,
        );
        for part in [
            "sid=v.x",
            "HttpOnly",
            "SameSite=Strict",
            "Secure",
            "Partitioned",
            "Path=/app",
            "Domain=example.com",
            "Max-Age=90",
            "Expires=Tue, 01 Jan 2030 00:01:30 GMT",
        ] {
            assert!(h.contains(part), "{part} missing in {h}");
        }
        let browser = render_set(&c, "v.x", None, now, false);
        assert!(!browser.contains("Max-Age") && !browser.contains("Expires"));
        let removal = render_removal(&c, false);
        assert!(removal.starts_with("sid=;"), "{removal}");
        assert!(removal.contains("Max-Age=0"));
    }

    #[test]
    fn secure_auto_follows_the_request() {
        let c = SessionConfig::builder()
            .key(crate::test_key("key 1"))
            .secure(Secure::Auto)
            .build()
            .unwrap();
        let now = datetime!(2030-01-01 0:00 UTC);
        assert!(!render_set(&c, "v", None, now, false).contains("Secure"));
        assert!(render_set(&c, "v", None, now, true).contains("Secure"));
        let c = SessionConfig::builder()
            .key(crate::test_key("key 1"))
            .secure(Secure::Never)
            .build()
            .unwrap();
        assert!(!render_set(&c, "v", None, now, true).contains("Secure"));
    }
}
