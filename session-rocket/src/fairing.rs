//! `SessionFairing`: installs sessions and flushes them after the handler.

use std::io::Cursor;
use std::sync::OnceLock;

use rocket::fairing::{self, Fairing, Info, Kind};
use rocket::http::{ContentType, Status};
use rocket::{Build, Request, Response, Rocket};
use session_core::adapter::{HeaderEdit, ResponseParts, ResponseVerdict};
use session_core::{RequestMeta, SessionConfig, SessionManager, Transport};

const X_FORWARDED_PROTO: &str = "X-Forwarded-Proto";

session_core::adapter::session_middleware! {
    /// A Rocket [`Fairing`] that gives every request a lazy
    /// [`Session`](crate::Session) and, in its response callback, performs the
    /// store calls and adds the `Set-Cookie` header the core decided.
    ///
    /// Rocket has no around-middleware, so the work is split:
    /// - on ignite, the fairing puts its [`SessionManager`] into managed state;
    /// - the [`Session`](crate::Session) request guard starts the request's
    ///   session in request-local state the first time a guard asks for it
    ///   (verifying the cookie, no store call);
    /// - on response, after the handler (and any catcher) ran and after
    ///   Rocket added the [`CookieJar`](rocket::http::CookieJar)'s cookies, the
    ///   fairing flushes the session and appends its header beside the others.
    ///
    /// A request that never used the guard costs nothing. The flush happens
    /// before the response body is sent, whatever the status or the responder
    /// (streams included).
    pub struct SessionFairing, a "fairing";
}

/// The manager, as managed state (only the fairing puts it there).
pub(crate) struct Installed(pub(crate) SessionManager);

/// The request's session, started by the first guard that asks.
pub(crate) struct RequestSession(OnceLock<session_core::Session>);

impl RequestSession {
    fn cached<'r>(request: &'r Request<'_>) -> &'r OnceLock<session_core::Session> {
        &request.local_cache(|| RequestSession(OnceLock::new())).0
    }

    /// The request's session, started from its headers on first call.
    pub(crate) fn get_or_start(
        request: &Request<'_>, manager: &SessionManager,
    ) -> session_core::Session {
        Self::cached(request)
            .get_or_init(|| {
                let headers = request.headers();
                let meta = RequestMeta {
                    https: request.rocket().config().tls_enabled(),
                    forwarded_proto: headers.get_one(X_FORWARDED_PROTO).map(str::as_bytes),
                    path: Some(request.uri().path().as_str()),
                };
                let mut values: Vec<&[u8]> = headers
                    .get(manager.request_header().as_str())
                    .map(str::as_bytes)
                    .collect();
                // Rocket's local client (`Client::tracked`, `LocalRequest::cookie`)
                // puts cookies into the request's jar without a `Cookie` header.
                let from_jar = jar_cookie(request, manager.config(), values.is_empty());
                values.extend(from_jar.as_deref().map(str::as_bytes));
                manager.start(values, meta)
            })
            .clone()
    }
}

/// `name=value` of the session cookie from Rocket's jar, when the request
/// has no `Cookie` header at all (requests of Rocket's local client).
fn jar_cookie(request: &Request<'_>, config: &SessionConfig, no_header: bool) -> Option<String> {
    if !no_header || *config.transport() != Transport::Cookie {
        return None;
    }
    let cookie = request.cookies().get(config.cookie_name())?;
    Some(format!("{}={}", cookie.name(), cookie.value()))
}

/// A plain response from the core (the failure response, or a handler
/// error's status and body) as a Rocket response.
pub(crate) fn plain<'r>(p: session_core::adapter::PlainResponse) -> Response<'r> {
    let body = p.body.into_owned();
    Response::build()
        .status(Status::new(p.status.as_u16()))
        .header(ContentType::Plain)
        .sized_body(body.len(), Cursor::new(body))
        .finalize()
}

/// A Rocket header value as the core's (`http`) type.
fn core_header(response: &Response<'_>, name: &str) -> Option<http::HeaderValue> {
    let value = response.headers().get_one(name)?;
    http::HeaderValue::from_str(value).ok()
}

#[rocket::async_trait]
impl Fairing for SessionFairing {
    fn info(&self) -> Info {
        Info {
            name: "SessionFairing",
            kind: Kind::Ignite | Kind::Response | Kind::Singleton,
        }
    }

    async fn on_ignite(&self, rocket: Rocket<Build>) -> fairing::Result {
        Ok(rocket.manage(Installed(self.manager.clone())))
    }

    async fn on_response<'r>(&self, request: &'r Request<'_>, response: &mut Response<'r>) {
        let Some(session) = RequestSession::cached(request).get() else {
            return;
        };
        let (cache_control, vary) = (
            core_header(response, "Cache-Control"),
            core_header(response, "Vary"),
        );
        let parts = ResponseParts {
            status: http::StatusCode::from_u16(response.status().code)
                .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR),
            path: request.uri().path().as_str(),
            cache_control: cache_control.as_ref(),
            vary: vary.as_ref(),
        };
        match self.manager.respond(session, parts).await {
            ResponseVerdict::Unchanged => {}
            ResponseVerdict::Headers(edits) => {
                for edit in edits {
                    let (append, name, value) = match edit {
                        HeaderEdit::Append(name, value) => (true, name, value),
                        HeaderEdit::Set(name, value) => (false, name, value),
                    };
                    match value.to_str() {
                        Ok(v) if append => {
                            response.adjoin_raw_header(name.as_str().to_owned(), v.to_owned());
                        }
                        Ok(v) => {
                            response.set_raw_header(name.as_str().to_owned(), v.to_owned());
                        }
                        Err(_) => {
                            tracing::error!(target: "session", header = %name, "session header is not a valid Rocket header");
                            *response = plain(self.manager.failure_response());
                            return;
                        }
                    }
                }
            }
            ResponseVerdict::Replace(p) => *response = plain(p),
        }
    }
}
