//! The response-side cache rules, pure: which `Cache-Control` and `Vary`
//! edits a response gets from what the session did and what the handler
//! already set. [`SessionManager::respond`](crate::SessionManager::respond)
//! adds them to its verdict; no adapter holds them.

use http::header::{CACHE_CONTROL, VARY};
use http::{HeaderName, HeaderValue};

use crate::adapter::{HeaderEdit, ResponseParts};

/// The directives of a comma-separated header value, trimmed, without
/// their arguments (`max-age=60` gives `max-age`).
fn directives(value: &HeaderValue) -> impl Iterator<Item = &[u8]> {
    value.as_bytes().split(|b| *b == b',').map(|d| {
        let name = d.split(|b| *b == b'=').next().unwrap_or_default();
        name.trim_ascii()
    })
}

fn lists(value: &HeaderValue, name: &[u8]) -> bool {
    directives(value).any(|d| d.eq_ignore_ascii_case(name))
}

/// The cache edits of a response.
///
/// - `session_header`: the response sets or clears the session (a
///   `Set-Cookie`, or the header transport's new value): it gets
///   `Cache-Control: no-store`, replacing the handler's value unless that
///   already says `no-store` without `public` (a shared cache must never
///   keep one user's cookie for another).
/// - `used`: the response depends on the session: it gets `Vary` naming
///   `transport_header` (`Cookie`, the custom header, or `Authorization`),
///   unless the handler's `Vary` lists it or `*`. The edit appends a field
///   line, which a cache combines with the handler's (RFC 9110, 5.3).
pub(crate) fn cache_edits(
    parts: &ResponseParts<'_>, session_header: bool, used: bool, transport_header: &HeaderName,
    edits: &mut Vec<HeaderEdit>,
) {
    if session_header {
        let kept = parts
            .cache_control
            .is_some_and(|v| lists(v, b"no-store") && !lists(v, b"public"));
        if !kept {
            edits.push(HeaderEdit::Set(
                CACHE_CONTROL,
                HeaderValue::from_static("no-store"),
            ));
        }
    }
    if used || session_header {
        let listed = parts
            .vary
            .is_some_and(|v| lists(v, b"*") || lists(v, transport_header.as_str().as_bytes()));
        if !listed {
            edits.push(HeaderEdit::Append(
                VARY,
                HeaderValue::from_name(transport_header.clone()),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use http::StatusCode;
    use http::header::{AUTHORIZATION, COOKIE};

    use super::*;

    fn run(
        cache_control: Option<&str>, vary: Option<&str>, header: bool, used: bool,
        transport: &HeaderName,
    ) -> Vec<HeaderEdit> {
        let cc = cache_control.map(|v| HeaderValue::from_str(v).unwrap());
        let vary = vary.map(|v| HeaderValue::from_str(v).unwrap());
        let parts = ResponseParts {
            status: StatusCode::OK,
            path: "/",
            cache_control: cc.as_ref(),
            vary: vary.as_ref(),
        };
        let mut edits = Vec::new();
        cache_edits(&parts, header, used, transport, &mut edits);
        edits
    }

    fn no_store() -> HeaderEdit {
        HeaderEdit::Set(CACHE_CONTROL, HeaderValue::from_static("no-store"))
    }

    fn vary(name: &HeaderName) -> HeaderEdit {
        HeaderEdit::Append(VARY, HeaderValue::from_name(name.clone()))
    }

    #[test]
    fn table() {
        let custom = HeaderName::from_static("x-session-id");
        let (c, a, x) = (&COOKIE, &AUTHORIZATION, &custom);
        let (ns, vc, va, vx) = (no_store(), vary(c), vary(a), vary(x));
        #[rustfmt::skip]
        let rows = [
            // Untouched session: nothing.
            (None, None, false, false, c, vec![]),
            // Read only: Vary only, the handler's caching stays.
            (None, None, false, true, c, vec![vc.clone()]),
            (Some("public, max-age=60"), None, false, true, c, vec![vc.clone()]),
            // Sets the cookie: no-store overrides public and max-age.
            (None, None, true, true, c, vec![ns.clone(), vc.clone()]),
            (Some("public, max-age=3600"), None, true, true, c, vec![ns.clone(), vc.clone()]),
            (Some("max-age=3600"), None, true, false, c, vec![ns.clone(), vc.clone()]),
            (Some("no-store, public"), None, true, true, c, vec![ns.clone(), vc.clone()]),
            // The handler's own no-store stays.
            (Some("private, No-Store"), None, true, true, c, vec![vc.clone()]),
            // Vary already lists it (any case) or `*`.
            (None, Some("Accept-Encoding, Cookie"), false, true, c, vec![]),
            (None, Some("*"), true, true, c, vec![ns.clone()]),
            (None, Some("Accept-Encoding"), false, true, c, vec![vc.clone()]),
            // Other transports name their header.
            (None, None, false, true, a, vec![va]),
            (None, Some("X-Session-Id"), false, true, x, vec![]),
            (None, None, true, true, x, vec![ns, vx]),
        ];
        for (cc, v, header, used, transport, expected) in rows {
            assert_eq!(
                run(cc, v, header, used, transport),
                expected,
                "{cc:?} {v:?} {header} {used}"
            );
        }
    }
}
