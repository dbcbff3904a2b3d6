//! RFC 6265 path-match (section 5.1.4): whether a request path is inside
//! the cookie's `Path`, so the browser sends the cookie there.

/// Whether `request_path` path-matches `cookie_path`: they are equal, or
/// `cookie_path` is a prefix of `request_path` that ends with `/` or is
/// followed by `/` in it. A string prefix is not enough: `/scoped` matches
/// `/scoped/x` but not `/scopedx`.
pub(crate) fn path_matches(cookie_path: &str, request_path: &str) -> bool {
    let Some(rest) = request_path.strip_prefix(cookie_path) else {
        return false;
    };
    rest.is_empty() || cookie_path.ends_with('/') || rest.starts_with('/')
}

#[cfg(test)]
mod tests {
    use super::path_matches;

    #[test]
    fn rfc6265_path_match() {
        for (cookie, request, expected) in [
            ("/", "/", true),
            ("/", "/anything/x", true),
            ("/scoped", "/scoped", true),
            ("/scoped", "/scoped/", true),
            ("/scoped", "/scoped/x", true),
            ("/scoped", "/scopedx", false),
            ("/scoped", "/other", false),
            ("/scoped", "/", false),
            ("/scoped/", "/scoped/x", true),
            ("/scoped/", "/scoped", false),
            ("/scoped", "/Scoped/x", false),
            ("/a/b", "/a", false),
            ("/scoped", "", false),
        ] {
            assert_eq!(
                path_matches(cookie, request),
                expected,
                "{cookie} {request}"
            );
        }
    }
}
