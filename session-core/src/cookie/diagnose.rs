//! What was wrong with the request's session values, for the security
//! events: run only when someone listens, after the fast verdict, so the
//! request path pays nothing otherwise.

use super::MAX_VALUE_BYTES;
use crate::config::{SessionConfig, Transport};
use crate::id::{ID_TEXT_LEN, SessionId};

/// One value under our name that did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Finding {
    /// Not the shape of a signed id (`<id>.<mac>`), or oversized.
    Malformed,
    /// The shape of a signed id whose MAC no key made: tampered, forged,
    /// or signed with a retired key. The id it claims.
    BadSignature(SessionId),
}

/// Every value under our name (in every header value of the transport).
fn ours<'a>(config: &'a SessionConfig, raw: &'a [u8]) -> Vec<&'a [u8]> {
    match &config.transport {
        Transport::Cookie => {
            let name = config.cookie_name.as_bytes();
            raw.split(|b| *b == b';')
                .filter_map(|pair| {
                    let (n, v) = pair.split_at_checked(pair.iter().position(|b| *b == b'=')?)?;
                    (n.trim_ascii() == name).then(|| v[1..].trim_ascii())
                })
                .collect()
        }
        Transport::Header(_) => vec![raw.trim_ascii()],
        Transport::Bearer => {
            let raw = raw.trim_ascii();
            match raw.split_at_checked(7) {
                Some((scheme, token)) if scheme.eq_ignore_ascii_case(b"bearer ") => {
                    vec![token.trim_ascii()]
                }
                _ => Vec::new(),
            }
        }
    }
}

/// How many values carry our name, and what was wrong with each that did
/// not verify.
pub(crate) fn diagnose(config: &SessionConfig, values: &[&[u8]]) -> (usize, Vec<Finding>) {
    let mut count = 0;
    let mut findings = Vec::new();
    for raw in values {
        for value in ours(config, raw) {
            count += 1;
            let value = value
                .strip_prefix(b"\"")
                .and_then(|v| v.strip_suffix(b"\""))
                .unwrap_or(value);
            if value.len() > MAX_VALUE_BYTES || config.keys.verify(value).is_some() {
                if value.len() > MAX_VALUE_BYTES {
                    findings.push(Finding::Malformed);
                }
                continue;
            }
            let claimed = value
                .get(..ID_TEXT_LEN)
                .filter(|_| value.get(ID_TEXT_LEN) == Some(&b'.'))
                .and_then(|id| SessionId::parse_bytes(id).ok());
            findings.push(match claimed {
                Some(id) => Finding::BadSignature(id),
                None => Finding::Malformed,
            });
        }
    }
    (count, findings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings() {
        let config = crate::config::test_config("diagnose");
        let other = crate::config::test_config("other");
        let id = SessionId::random();
        let good = config.keys.sign(&id);
        let forged = other.keys.sign(&id);
        let header = format!("a=1; id={good}; id={forged}; id=garbage; b=id");
        let (count, found) = diagnose(&config, &[header.as_bytes()]);
        assert_eq!(count, 3);
        assert_eq!(found, vec![Finding::BadSignature(id), Finding::Malformed]);
        let (count, found) = diagnose(&config, &[b"a=1; ids=2".as_slice()]);
        assert_eq!((count, found), (0, vec![]));
    }
}
