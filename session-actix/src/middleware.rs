//! `SessionMiddleware`: the actix-web middleware that installs sessions, and
//! its builder.

use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, HeaderName, HeaderValue, VARY};
use actix_web::{HttpMessage, HttpResponse};
use session_core::adapter::{HeaderEdit, ResponseParts, ResponseVerdict};
use session_core::{
    ConfigError, RequestMeta, SameSite, Secure, SessionConfig, SessionConfigBuilder,
    SessionManager, Store,
};
use time::Duration;

const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

session_core::adapter::session_middleware! {
    /// An actix-web middleware ([`Transform`]) that gives every request a lazy
    /// [`Session`](crate::Session) and, after the handler, performs the store
    /// calls and appends the `Set-Cookie` header the core decided.
    ///
    /// ```
    /// use actix_web::{App, web};
    /// use session_actix::SessionMiddleware;
    /// use session_core::{MemoryStore, SessionConfig};
    ///
    /// # fn main() -> Result<(), session_core::ConfigError> {
    /// let config = SessionConfig::builder().key_from_env_or_random("SESSION_KEY").build()?;
    /// let middleware = SessionMiddleware::new(config, MemoryStore::new());
    /// // Cheap to clone: build it once, outside `HttpServer::new`.
    /// let app = App::new()
    ///     .wrap(middleware.clone())
    ///     .route("/", web::get().to(|| async { "hello" }));
    /// # let _ = app;
    /// # Ok(())
    /// # }
    /// ```
    pub struct SessionMiddleware, a "middleware";
}

impl SessionMiddleware {
    /// A builder named like `actix_session::SessionMiddleware::builder`, for
    /// migration: a store and a signing key (at least 32 bytes), then
    /// `cookie_*` setters and [`build`](SessionMiddlewareBuilder::build).
    pub fn builder(store: impl Store, key: impl AsRef<[u8]>) -> SessionMiddlewareBuilder {
        SessionMiddlewareBuilder {
            store: Arc::new(store),
            config: SessionConfig::builder().key(key),
        }
    }
}

impl<S, B> Transform<S, ServiceRequest> for SessionMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    S::Future: 'static,
    B: MessageBody,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = SessionService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        // actix-web has its own `HeaderName` type: convert the core's once
        // here, not on every request. The core's names are valid header
        // names, so this cannot fail.
        let request_header =
            HeaderName::from_bytes(self.manager.request_header().as_str().as_bytes())
                .unwrap_or(actix_web::http::header::COOKIE);
        ready(Ok(SessionService {
            service,
            manager: self.manager.clone(),
            request_header,
        }))
    }
}

/// The service [`SessionMiddleware`] wraps around the inner service.
#[derive(Debug)]
pub struct SessionService<S> {
    service: S,
    manager: SessionManager,
    request_header: HeaderName,
}

/// A plain response from the core (the failure response, or a handler
/// error's status and body) as an actix-web response (`http` 0.2 types
/// inside, so converted by number).
pub(crate) fn plain(p: session_core::adapter::PlainResponse) -> HttpResponse {
    let status =
        StatusCode::from_u16(p.status.as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    HttpResponse::build(status)
        .content_type(session_core::adapter::PlainResponse::CONTENT_TYPE)
        .body(p.body.into_owned())
}

/// The core's header (`http` 1.x types) as actix-web's (`http` 0.2), by
/// bytes.
fn header_pair(
    name: &http::HeaderName, value: &http::HeaderValue,
) -> Option<(HeaderName, HeaderValue)> {
    let name = HeaderName::from_bytes(name.as_str().as_bytes()).ok()?;
    let value = HeaderValue::from_bytes(value.as_bytes()).ok()?;
    Some((name, value))
}

impl<S, B> Service<ServiceRequest> for SessionService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    S::Future: 'static,
    B: MessageBody,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    // Not `Send`: actix-web runs each worker on a single-threaded runtime.
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>>>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let manager = self.manager.clone();
        let session = {
            let headers = req.headers();
            // The connection's own TLS only (the server's `bind_rustls`/
            // `bind_openssl` set `secure`): `ConnectionInfo::scheme` believes
            // `Forwarded`/`X-Forwarded-Proto` from anyone, and the
            // request-target's scheme (`GET https://host/ HTTP/1.1`) is the
            // client's choice; the core trusts `X-Forwarded-Proto` only when
            // the config says so.
            let https = req.app_config().secure();
            let meta = RequestMeta {
                https,
                forwarded_proto: headers.get(&X_FORWARDED_PROTO).map(HeaderValue::as_bytes),
                // The whole path, also inside a `web::scope`.
                path: Some(req.path()),
            };
            let values = headers
                .get_all(&self.request_header)
                .map(HeaderValue::as_bytes);
            manager.start(values, meta)
        };
        // A cheap clone (shared bytes), not a copy of the path.
        let uri = req.uri().clone();
        req.extensions_mut().insert(session.clone());
        let fut = self.service.call(req);
        Box::pin(async move {
            // An `Err` here comes from a middleware inside this one (handler
            // errors are already responses): it carries no response to add a
            // cookie to, so the session is not saved, like a failed request.
            let mut res = fut.await?;
            let (cache_control, vary) = (
                core_header(res.headers().get(CACHE_CONTROL)),
                core_header(res.headers().get(VARY)),
            );
            let parts = ResponseParts {
                status: http::StatusCode::from_u16(res.status().as_u16())
                    .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR),
                path: uri.path(),
                cache_control: cache_control.as_ref(),
                vary: vary.as_ref(),
            };
            match manager.respond(&session, parts).await {
                ResponseVerdict::Unchanged => {}
                ResponseVerdict::Headers(edits) => {
                    for edit in &edits {
                        let (append, name, value) = match edit {
                            HeaderEdit::Append(name, value) => (true, name, value),
                            HeaderEdit::Set(name, value) => (false, name, value),
                        };
                        match header_pair(name, value) {
                            // Append: the handler's own `Set-Cookie`s stay.
                            Some((name, value)) if append => res.headers_mut().append(name, value),
                            Some((name, value)) => {
                                res.headers_mut().insert(name, value);
                            }
                            None => {
                                tracing::error!(target: "session", header = %name, "session header is not a valid actix-web header");
                                let failure = plain(manager.failure_response());
                                return Ok(res.into_response(failure).map_into_right_body());
                            }
                        }
                    }
                }
                ResponseVerdict::Replace(p) => {
                    return Ok(res.into_response(plain(p)).map_into_right_body());
                }
            }
            Ok(res.map_into_left_body())
        })
    }
}

/// Builds a [`SessionMiddleware`] with setters named like
/// `actix_session::SessionMiddlewareBuilder`. Every other setting of
/// [`SessionConfigBuilder`] is reachable through [`config`](Self::config).
pub struct SessionMiddlewareBuilder {
    store: Arc<dyn Store>,
    config: SessionConfigBuilder,
}

impl std::fmt::Debug for SessionMiddlewareBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionMiddlewareBuilder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl SessionMiddlewareBuilder {
    /// The cookie name (default `id`; actix-session's default was `id` too).
    pub fn cookie_name(self, name: impl Into<String>) -> Self {
        self.config(|c| c.cookie_name(name))
    }

    /// `true`: always `Secure` (the default); `false`: never. See
    /// [`Secure::Auto`] (through [`config`](Self::config)) for "when the
    /// request came over HTTPS".
    pub fn cookie_secure(self, secure: bool) -> Self {
        let secure = if secure {
            Secure::Always
        } else {
            Secure::Never
        };
        self.config(|c| c.secure(secure))
    }

    /// The `HttpOnly` attribute (default on).
    pub fn cookie_http_only(self, http_only: bool) -> Self {
        self.config(|c| c.http_only(http_only))
    }

    /// The `SameSite` attribute (default `Lax`).
    pub fn cookie_same_site(self, same_site: SameSite) -> Self {
        self.config(|c| c.same_site(same_site))
    }

    /// The cookie path (default `/`).
    pub fn cookie_path(self, path: impl Into<String>) -> Self {
        self.config(|c| c.path(path))
    }

    /// The cookie domain (default none: host-only).
    pub fn cookie_domain(self, domain: Option<String>) -> Self {
        match domain {
            Some(d) => self.config(|c| c.domain(d)),
            None => self,
        }
    }

    /// The idle timeout (actix-session's `PersistentSession::session_ttl`);
    /// `None` for no idle timeout.
    pub fn idle_timeout(self, timeout: Option<Duration>) -> Self {
        self.config(|c| c.idle_timeout(timeout))
    }

    /// The absolute lifetime cap no activity extends; `None` for none.
    pub fn absolute_timeout(self, timeout: Option<Duration>) -> Self {
        self.config(|c| c.absolute_timeout(timeout))
    }

    /// A browser-session cookie (no `Max-Age`), like actix-session's
    /// `BrowserSession` lifecycle; server-side timeouts still apply.
    pub fn browser_session_cookie(self, on: bool) -> Self {
        self.config(|c| c.browser_session_cookie(on))
    }

    /// Any other setting of the core's [`SessionConfigBuilder`]:
    /// `.config(|c| c.rolling(true).hash_ids_at_rest(true))`.
    pub fn config(mut self, f: impl FnOnce(SessionConfigBuilder) -> SessionConfigBuilder) -> Self {
        self.config = f(self.config);
        self
    }

    /// Validates the configuration and builds the middleware.
    pub fn build(self) -> Result<SessionMiddleware, ConfigError> {
        let config = self.config.build()?;
        Ok(SessionMiddleware::from_manager(SessionManager::from_arc(
            config, self.store,
        )))
    }
}

/// An actix-web (`http` 0.2) header value as the core's (`http` 1.x).
fn core_header(value: Option<&HeaderValue>) -> Option<http::HeaderValue> {
    value.and_then(|v| http::HeaderValue::from_bytes(v.as_bytes()).ok())
}
