//! `SessionLayer`: the tower layer that installs sessions.

use session_core::{SessionConfig, SessionManager, Store};
use tower_layer::Layer;

use crate::service::SessionService;

/// A tower [`Layer`] that gives every request a lazy [`Session`](crate::Session)
/// and, after the handler, performs the store calls and adds the
/// `Set-Cookie` header the core decided.
#[derive(Debug, Clone)]
pub struct SessionLayer {
    manager: SessionManager,
}

impl SessionLayer {
    /// A layer over `store` with `config`.
    pub fn new(config: SessionConfig, store: impl Store) -> Self {
        Self::from_manager(SessionManager::new(config, store))
    }

    /// A layer over an existing manager (shared store, custom clock).
    pub fn from_manager(manager: SessionManager) -> Self {
        Self { manager }
    }

    /// The manager.
    pub fn manager(&self) -> &SessionManager {
        &self.manager
    }
}

impl<S> Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService::new(inner, self.manager.clone())
    }
}
