//! `SessionLayer`: the tower layer that installs sessions.

use tower_layer::Layer;

use crate::service::SessionService;

session_core::adapter::session_middleware! {
    /// A tower [`Layer`] that gives every request a lazy [`Session`](crate::Session)
    /// and, after the handler, performs the store calls and adds the
    /// `Set-Cookie` header the core decided.
    pub struct SessionLayer, a "layer";
}

impl<S> Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService::new(inner, self.manager.clone())
    }
}
