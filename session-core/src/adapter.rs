//! The adapter contract: what a framework adapter hands the core at the end
//! of a request, and the whole verdict it gets back. An adapter calls
//! [`SessionManager::start`](crate::SessionManager::start) before the
//! handler and [`SessionManager::respond`](crate::SessionManager::respond)
//! after it, and only translates between its framework's types and these;
//! every response-side rule (the store-failure rule, the session header,
//! the status and body of each [`SessionError`]) lives here, once.

use std::borrow::Cow;

use http::{HeaderName, HeaderValue, StatusCode};

pub use crate::manager::{RequestMeta, ResponseHeader, SessionManager};
pub use crate::{missing_layer_error, session_error_newtype, session_middleware, session_newtype};

use crate::error::SessionError;
use crate::state::DataError;

/// What the response-side rules need to know of the handler's response.
/// The request path and the response's caching headers are inputs of the
/// rules that decide which cookie and cache headers a response carries.
#[derive(Debug, Clone, Copy)]
pub struct ResponseParts<'a> {
    /// The handler's response status.
    pub status: StatusCode,
    /// The request's path (without the query).
    pub path: &'a str,
    /// The response's `Cache-Control` value, if it has one.
    pub cache_control: Option<&'a HeaderValue>,
    /// The response's `Vary` value, if it has one.
    pub vary: Option<&'a HeaderValue>,
}

impl<'a> ResponseParts<'a> {
    /// The parts of a response with `status` to a request for `path`, with
    /// no caching headers.
    ///
    /// ```
    /// use session_core::adapter::ResponseParts;
    /// let parts = ResponseParts::new(http::StatusCode::OK, "/cart");
    /// assert_eq!(parts.path, "/cart");
    /// ```
    pub fn new(status: StatusCode, path: &'a str) -> Self {
        Self {
            status,
            path,
            cache_control: None,
            vary: None,
        }
    }
}

/// A whole response the adapter sends instead of the handler's: plain
/// text, no session header, no error text from the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlainResponse {
    /// Status code.
    pub status: StatusCode,
    /// Plain-text body.
    pub body: Cow<'static, str>,
}

impl PlainResponse {
    /// The `Content-Type` of every plain response.
    pub const CONTENT_TYPE: &'static str = "text/plain; charset=utf-8";
}

/// One edit of the handler's response headers, applied in order.
///
/// ```
/// use session_core::adapter::HeaderEdit;
/// let mut headers = http::HeaderMap::new();
/// headers.insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("public"));
/// let edit = HeaderEdit::Set(http::header::CACHE_CONTROL, http::HeaderValue::from_static("no-store"));
/// edit.apply(&mut headers);
/// assert_eq!(headers[http::header::CACHE_CONTROL], "no-store");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderEdit {
    /// Add this value beside any others of the same name (the session's
    /// `Set-Cookie` beside the handler's own, a `Vary` field line).
    Append(HeaderName, HeaderValue),
    /// Replace every value of this name with this one (`Cache-Control:
    /// no-store` over a handler's `public`).
    Set(HeaderName, HeaderValue),
}

impl HeaderEdit {
    /// Applies the edit to an `http` header map (adapters over other
    /// header types match on the variants).
    pub fn apply(self, headers: &mut http::HeaderMap) {
        match self {
            HeaderEdit::Append(name, value) => {
                headers.append(name, value);
            }
            HeaderEdit::Set(name, value) => {
                headers.insert(name, value);
            }
        }
    }
}

/// The verdict for a response, from
/// [`SessionManager::respond`](crate::SessionManager::respond).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseVerdict {
    /// Send the handler's response as it is.
    Unchanged,
    /// Send the handler's response with these header edits, in order.
    Headers(Vec<HeaderEdit>),
    /// Send this response instead (the configured failure response when
    /// the store failed).
    Replace(PlainResponse),
}

/// The response for an error a handler returned from a session call: the
/// one table of statuses, shared by every adapter's handler error type.
///
/// | error | status | body |
/// |---|---|---|
/// | a store failure (also conflicts past the retry bound) | 503 | `session store unavailable` (replaced by the configured failure response at the end of the request) |
/// | data over the payload limit, a user id or label over its bound | 413 | `too large` |
/// | `TooManySessions` (a login refused by the per-user cap) | 409 | `too many sessions` |
/// | anything else | 500 | `error` (the cause goes to `tracing`, never to the body) |
///
/// ```
/// use session_core::SessionError;
/// use session_core::adapter::error_response;
/// let r = error_response(&SessionError::TooManySessions(3));
/// assert_eq!(r.status, http::StatusCode::CONFLICT);
/// ```
pub fn error_response(error: &SessionError) -> PlainResponse {
    let (status, body) = table(error);
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::error!(target: "session", error = error as &dyn std::error::Error, "session error in handler");
    }
    PlainResponse {
        status,
        body: Cow::Borrowed(body),
    }
}

/// The status of [`error_response`], without its log line (for frameworks
/// that ask an error for its status separately).
pub fn error_status(error: &SessionError) -> StatusCode {
    table(error).0
}

fn table(error: &SessionError) -> (StatusCode, &'static str) {
    match error {
        e if e.is_store() => (StatusCode::SERVICE_UNAVAILABLE, "session store unavailable"),
        SessionError::Data(DataError::PayloadTooLarge { .. } | DataError::TooLong { .. }) => {
            (StatusCode::PAYLOAD_TOO_LARGE, "too large")
        }
        SessionError::TooManySessions(_) => (StatusCode::CONFLICT, "too many sessions"),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "error"),
    }
}

/// Implements `Display`, `std::error::Error` (whose `source` is the
/// [`SessionError`](crate::SessionError)) and `From<SessionError>` for an
/// adapter's handler error type, a newtype `pub struct Error(pub
/// SessionError)` that the adapter defines itself so it can implement its
/// framework's response trait for it (with
/// [`error_response`](crate::adapter::error_response)).
///
/// ```
/// use session_core::SessionError;
///
/// #[derive(Debug)]
/// pub struct Error(pub SessionError);
/// session_core::adapter::session_error_newtype!(Error);
///
/// fn handler() -> Result<(), Error> {
///     Err(SessionError::NoUser)?
/// }
/// assert_eq!(handler().unwrap_err().to_string(), SessionError::NoUser.to_string());
/// ```
#[macro_export]
macro_rules! session_error_newtype {
    ($name:ident) => {
        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Display::fmt(&self.0, f)
            }
        }

        impl ::std::error::Error for $name {
            fn source(&self) -> ::std::option::Option<&(dyn ::std::error::Error + 'static)> {
                ::std::option::Option::Some(&self.0)
            }
        }

        impl ::std::convert::From<$crate::SessionError> for $name {
            fn from(e: $crate::SessionError) -> Self {
                Self(e)
            }
        }
    };
}

/// Defines an adapter's `Session` type: a newtype over
/// [`Session`](crate::Session) that derefs to it, so the adapter can
/// implement its framework's extractor trait for it.
///
/// ```
/// session_core::adapter::session_newtype! {
///     /// The request's session.
///     pub struct Session;
/// }
///
/// fn core_session(session: &Session) -> &session_core::Session {
///     session // through Deref
/// }
/// # let _ = core_session;
/// ```
#[macro_export]
macro_rules! session_newtype {
    ($(#[$meta:meta])* $vis:vis struct $name:ident;) => {
        $(#[$meta])*
        #[derive(Debug, Clone)]
        $vis struct $name(pub $crate::Session);

        impl ::std::ops::Deref for $name {
            type Target = $crate::Session;
            fn deref(&self) -> &$crate::Session {
                &self.0
            }
        }
    };
}

/// Defines the error an adapter's extractor fails with when the session
/// layer is not installed on the route: a unit struct whose `Display` is
/// `$message` (the adapter implements its framework's response trait for
/// it, a 500).
///
/// ```
/// session_core::adapter::missing_layer_error! {
///     /// The layer is missing.
///     pub struct MissingLayer = "the Session extractor needs the layer";
/// }
/// assert_eq!(MissingLayer.to_string(), "the Session extractor needs the layer");
/// ```
#[macro_export]
macro_rules! missing_layer_error {
    ($(#[$meta:meta])* $vis:vis struct $name:ident = $message:literal;) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        $vis struct $name;

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str($message)
            }
        }

        impl ::std::error::Error for $name {}
    };
}

/// Defines an adapter's session middleware type (a layer, a middleware, a
/// fairing): a struct holding the [`SessionManager`](crate::SessionManager),
/// with `new(config, store)`, `from_manager(manager)` and `manager()`; the
/// adapter implements its framework's middleware trait for it.
///
/// ```
/// session_core::adapter::session_middleware! {
///     /// The session layer.
///     pub struct SessionLayer, a "layer";
/// }
///
/// let config = session_core::SessionConfig::builder().random_key().build().unwrap();
/// let layer = SessionLayer::new(config, session_core::MemoryStore::new());
/// assert_eq!(layer.manager().config().cookie_name(), "id");
/// ```
#[macro_export]
macro_rules! session_middleware {
    ($(#[$meta:meta])* $vis:vis struct $name:ident, a $what:literal;) => {
        $(#[$meta])*
        #[derive(Debug, Clone)]
        $vis struct $name {
            manager: $crate::SessionManager,
        }

        impl $name {
            #[doc = concat!("A ", $what, " over `store` with `config`.")]
            pub fn new(config: $crate::SessionConfig, store: impl $crate::Store) -> Self {
                Self::from_manager($crate::SessionManager::new(config, store))
            }

            #[doc = concat!("A ", $what, " over an existing manager (shared store, custom clock).")]
            pub fn from_manager(manager: $crate::SessionManager) -> Self {
                Self { manager }
            }

            /// The manager.
            pub fn manager(&self) -> &$crate::SessionManager {
                &self.manager
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StoreError;

    #[test]
    fn error_table() {
        let too_large = SessionError::Data(DataError::PayloadTooLarge { size: 2, limit: 1 });
        for (e, status, body) in [
            (
                SessionError::Store(StoreError::Timeout),
                503,
                "session store unavailable",
            ),
            (SessionError::Conflict(3), 503, "session store unavailable"),
            (too_large, 413, "too large"),
            (
                SessionError::Data(DataError::TooLong {
                    field: "label",
                    len: 2,
                    limit: 1,
                }),
                413,
                "too large",
            ),
            (SessionError::TooManySessions(1), 409, "too many sessions"),
            (SessionError::NoUser, 500, "error"),
        ] {
            let r = error_response(&e);
            assert_eq!(
                (r.status.as_u16(), r.body.as_ref()),
                (status, body),
                "{e:?}"
            );
        }
    }
}
