//! `Session` as a Rocket request guard, and the error type handlers return.

use rocket::http::Status;
use rocket::request::{FromRequest, Outcome, Request};
use rocket::response::{self, Responder};
use session_core::SessionError;

use crate::fairing::{Installed, RequestSession};

session_core::adapter::session_newtype! {
    /// The request's session; derefs to [`session_core::Session`] (`get`,
    /// `insert`, `update`, `regenerate`, `destroy`, ...). Cheap to clone: every
    /// guard of one request gets the same session.
    ///
    /// Needs [`SessionFairing`](crate::SessionFairing) attached; without it
    /// the guard fails with a 500 and [`MissingFairing`].
    pub struct Session;
}

session_core::adapter::missing_layer_error! {
    /// The guard's error when [`Session`] is used but
    /// [`SessionFairing`](crate::SessionFairing) is not attached: the request
    /// fails with a 500.
    pub struct MissingFairing = "the Session request guard needs session_rocket::SessionFairing (attach it with Rocket::attach)";
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Session {
    type Error = MissingFairing;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        match request.rocket().state::<Installed>() {
            Some(Installed(manager)) => {
                Outcome::Success(Session(RequestSession::get_or_start(request, manager)))
            }
            None => {
                tracing::error!(target: "session", "{MissingFairing}");
                Outcome::Error((Status::InternalServerError, MissingFairing))
            }
        }
    }
}

/// A session error as a handler's error type: `?` on any session call in a
/// handler returning `Result<_, session_rocket::Error>`.
///
/// Answers with the core's table ([`session_core::adapter::error_response`]): store
/// failures 503 (the fairing replaces it with the configured failure
/// response), too-large data 413, a login refused by the per-user cap 409,
/// anything else 500. No error text reaches the body.
#[derive(Debug)]
pub struct Error(pub SessionError);

session_core::adapter::session_error_newtype!(Error);

impl<'r> Responder<'r, 'static> for Error {
    /// The core's one table of statuses ([`session_core::adapter::error_response`]).
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        Ok(crate::fairing::plain(
            session_core::adapter::error_response(&self.0),
        ))
    }
}
