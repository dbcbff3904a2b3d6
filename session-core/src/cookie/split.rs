//! Finding our value in a `Cookie` header, split by hand.
//!
//! The plain version ([`plain`]) has the `cookie` crate parse every pair of
//! the header. [`find`] splits the header at `;` itself and looks only at
//! pairs that start with our name: the others (often most of the header)
//! are skipped unparsed, and a value of the shape we issue
//! (`<base64url>.<base64url>`) is verified as it is; any other value with
//! our name (quoted, spaced, odd bytes) still goes through the `cookie`
//! crate. The two agree on every header (the proptest below): a header
//! with a byte the two trim differently (non-ASCII, where the `cookie`
//! crate trims Unicode whitespace, or a vertical tab) is searched by the
//! plain version.
//!
//! It pays, so it stays. Instructions per `verdict` call (callgrind,
//! `examples/fast_paths_ir.rs`, exact): a header of ten other cookies and
//! ours, 14.3k by hand against 25.4k with the `cookie` crate (-44%, most of
//! what is left is the MAC check); ten other cookies and not ours (the
//! split alone), 3.8k against 14.9k (-74%). Wall clock
//! (`benches/fast_paths.rs`, five runs on a shared 2-core machine at load
//! 5 to 8, so wide ranges): ten others and ours, 0.77-6.2 µs by hand
//! against 2.1-8.2 µs, 0.22-0.83 of the `cookie` crate's time within a run;
//! the split alone 0.46-1.8 µs against 2.0-3.4 µs (0.15-0.55); a header
//! holding only our cookie, no difference beyond the noise (0.67-1.07).

use cookie::Cookie;

use super::{Verdict, check};
use crate::config::SessionConfig;

/// The first value with our name in the `Cookie` header `raw` that
/// verifies; `seen` is set if there was a value with our name at all.
pub(super) fn find(config: &SessionConfig, raw: &[u8], seen: &mut bool) -> Option<Verdict> {
    if !raw.is_ascii() || raw.contains(&0x0b) {
        return plain(config, raw, seen);
    }
    let name = config.cookie_name.as_bytes();
    for piece in raw.split(|b| *b == b';') {
        let piece = piece.trim_ascii_start();
        let Some(rest) = piece.strip_prefix(name) else {
            continue;
        };
        let Some(value) = rest.trim_ascii_start().strip_prefix(b"=") else {
            continue;
        };
        let value = value.trim_ascii();
        if value
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            *seen = true;
            if let Some(v) = check(config, value) {
                return Some(v);
            }
            continue;
        }
        if let Some(v) = parse_pair(config, &String::from_utf8_lossy(piece), seen) {
            return Some(v);
        }
    }
    None
}

/// [`find`] with the `cookie` crate splitting and parsing the whole header.
pub(super) fn plain(config: &SessionConfig, raw: &[u8], seen: &mut bool) -> Option<Verdict> {
    for cookie in Cookie::split_parse(String::from_utf8_lossy(raw)).flatten() {
        if cookie.name() != config.cookie_name {
            continue;
        }
        *seen = true;
        if let Some(v) = check(config, cookie.value_trimmed().as_bytes()) {
            return Some(v);
        }
    }
    None
}

/// Parses one `name=value` pair with the `cookie` crate: the verdict if it
/// is ours and verifies.
fn parse_pair(config: &SessionConfig, pair: &str, seen: &mut bool) -> Option<Verdict> {
    let cookie = Cookie::parse(pair.trim()).ok()?;
    if cookie.name() != config.cookie_name {
        return None;
    }
    *seen = true;
    check(config, cookie.value_trimmed().as_bytes())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::SessionId;

    fn config() -> SessionConfig {
        crate::config::test_config("key 1")
    }

    /// Header pieces: our name, its look-alikes, separators, every kind of
    /// whitespace the two versions might trim differently, quotes, bytes
    /// that are not UTF-8, and a valid or nearly valid signed value.
    fn piece(signed: String) -> impl Strategy<Value = Vec<u8>> {
        let broken = {
            let mut b = signed.clone().into_bytes();
            b[3] ^= 1;
            b
        };
        prop_oneof![
            Just(b"id".to_vec()),
            Just(b"idx".to_vec()),
            Just(b"Id".to_vec()),
            Just(b"=".to_vec()),
            Just(b";".to_vec()),
            Just(b"; ".to_vec()),
            Just(b" ".to_vec()),
            Just(b"\t".to_vec()),
            Just(b"\x0b".to_vec()),
            Just(b"\x0c".to_vec()),
            Just("\u{a0}".as_bytes().to_vec()),
            Just("\u{3000}".as_bytes().to_vec()),
            Just(b"\"".to_vec()),
            Just(b"\xff".to_vec()),
            Just(b"\xc2".to_vec()),
            Just(b"a=1".to_vec()),
            Just(signed.into_bytes()),
            Just(broken),
            proptest::collection::vec(any::<u8>(), 0..4),
        ]
    }

    fn header() -> impl Strategy<Value = Vec<u8>> {
        let c = config();
        let signed = c.keys.sign(&SessionId::from_bytes([3; 32]));
        proptest::collection::vec(piece(signed), 0..12).prop_map(|p| p.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]
        /// The hand split finds what the cookie crate finds, and sees a
        /// value with our name exactly when it does.
        #[test]
        fn hand_split_agrees_with_the_cookie_crate(raw in header()) {
            let c = config();
            let (mut fast_seen, mut plain_seen) = (false, false);
            let fast = find(&c, &raw, &mut fast_seen);
            let plain = plain(&c, &raw, &mut plain_seen);
            prop_assert_eq!(fast, plain, "{:?}", String::from_utf8_lossy(&raw));
            prop_assert_eq!(fast_seen, plain_seen, "{:?}", String::from_utf8_lossy(&raw));
        }
    }
}
