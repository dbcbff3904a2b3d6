//! `Session` as an actix-web extractor, and the error type handlers return.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};
use session_core::SessionError;

session_core::adapter::session_newtype! {
    /// The request's session; derefs to [`session_core::Session`] (`get`,
    /// `insert`, `update`, `regenerate`, `destroy`, ...). Cheap to clone.
    ///
    /// Needs [`SessionMiddleware`](crate::SessionMiddleware) on the route;
    /// without it, extraction fails with [`MissingSessionMiddleware`] (a 500).
    pub struct Session;
}

impl Session {
    /// The session of `req`, if [`SessionMiddleware`](crate::SessionMiddleware)
    /// installed one (for code that holds an `HttpRequest`, such as other
    /// middleware or guards).
    pub fn of(req: &HttpRequest) -> Option<Self> {
        req.extensions()
            .get::<session_core::Session>()
            .cloned()
            .map(Session)
    }
}

impl FromRequest for Session {
    type Error = MissingSessionMiddleware;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        ready(Session::of(req).ok_or(MissingSessionMiddleware))
    }
}

session_core::adapter::missing_layer_error! {
    /// Extraction error when [`Session`] is used on a route without
    /// [`SessionMiddleware`](crate::SessionMiddleware): a 500 whose body names
    /// the missing middleware.
    pub struct MissingSessionMiddleware = "the Session extractor needs session_actix::SessionMiddleware on this route (add it with App::wrap or Scope::wrap)";
}

impl ResponseError for MissingSessionMiddleware {
    fn status_code(&self) -> StatusCode {
        StatusCode::INTERNAL_SERVER_ERROR
    }

    fn error_response(&self) -> HttpResponse {
        tracing::error!(target: "session", "Session extractor used without SessionMiddleware");
        HttpResponse::InternalServerError()
            .content_type("text/plain; charset=utf-8")
            .body(self.to_string())
    }
}

/// A session error as a handler's error type: `?` on any session call in a
/// handler returning `Result<_, session_actix::Error>`.
///
/// Answers with the core's table ([`session_core::adapter::error_response`]): store
/// failures 503 (the middleware replaces it with the configured failure
/// response), too-large data 413, a login refused by the per-user cap 409,
/// anything else 500. No error text reaches the body.
#[derive(Debug)]
pub struct Error(pub SessionError);

session_core::adapter::session_error_newtype!(Error);

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(session_core::adapter::error_status(&self.0).as_u16())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The core's one table of statuses ([`session_core::adapter::error_response`]).
    fn error_response(&self) -> HttpResponse {
        crate::middleware::plain(session_core::adapter::error_response(&self.0))
    }
}
