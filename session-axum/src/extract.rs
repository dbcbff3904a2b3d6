//! `Session` as an axum extractor, and the error type handlers return.

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;
use session_core::SessionError;

session_core::adapter::session_newtype! {
    /// The request's session; derefs to [`session_core::Session`] (`get`,
    /// `insert`, `update`, `regenerate`, `destroy`, ...). Cheap to clone.
    pub struct Session;
}

session_core::adapter::missing_layer_error! {
    /// Rejection when the [`Session`] extractor is used on a route without
    /// [`SessionLayer`](crate::SessionLayer): a 500 naming the missing layer.
    pub struct MissingSessionLayer = "the Session extractor needs session_axum::SessionLayer on this route (add it with Router::layer)";
}

impl IntoResponse for MissingSessionLayer {
    fn into_response(self) -> Response {
        tracing::error!(target: "session", "Session extractor used without SessionLayer");
        (StatusCode::INTERNAL_SERVER_ERROR, self.to_string()).into_response()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = MissingSessionLayer;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<session_core::Session>()
            .cloned()
            .map(Session)
            .ok_or(MissingSessionLayer)
    }
}

/// A session error as a handler's error type: `?` on any session call in a
/// handler returning `Result<_, session_axum::Error>`.
///
/// Answers with the core's table ([`session_core::adapter::error_response`]): store
/// failures 503 (the layer replaces it with the configured failure
/// response), too-large data 413, a login refused by the per-user cap 409,
/// anything else 500. No error text reaches the body.
#[derive(Debug)]
pub struct Error(pub SessionError);

session_core::adapter::session_error_newtype!(Error);

impl IntoResponse for Error {
    /// The core's one table of statuses ([`session_core::adapter::error_response`]).
    fn into_response(self) -> Response {
        crate::service::plain(session_core::adapter::error_response(&self.0))
    }
}
