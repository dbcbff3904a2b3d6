//! Requests held open by hand: a test starts a request's session, lets
//! other requests run, then finishes it, to interleave racing requests
//! through a real [`SessionManager`] in an exact order.
//!
//! ```
//! # session_core::testing::tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use session_core::testing::held::{close, manager_with, open};
//! use session_core::MemoryStore;
//! use std::sync::Arc;
//!
//! let m = manager_with(Arc::new(MemoryStore::new()), |b| b);
//! let first = open(&m, None);
//! first.insert("n", 1).await.unwrap();
//! let cookie = close(&m, &first).await.expect("a new session sets its cookie");
//! let second = open(&m, Some(&cookie));
//! assert_eq!(second.get::<i32>("n").await.unwrap(), Some(1));
//! # });
//! ```

use std::sync::Arc;

use crate::config::SessionConfigBuilder;
use crate::manager::RequestMeta;
use crate::store::Store;
use crate::{Session, SessionConfig, SessionId, SessionManager};

/// A manager over `store` with a fixed test key and a conflict bound no
/// test reaches; `f` sets the rest of the configuration.
pub fn manager_with(
    store: Arc<dyn Store>, f: impl FnOnce(SessionConfigBuilder) -> SessionConfigBuilder,
) -> SessionManager {
    let config = f(SessionConfig::builder()
        .key(crate::test_key("key 3"))
        .max_conflict_retries(10_000))
    .build()
    .unwrap_or_else(|e| panic!("test config: {e}"));
    SessionManager::from_arc(config, store)
}

/// A request's session, held open (the handler has not returned), with
/// `cookie` as the value of the session cookie, if any.
pub fn open(m: &SessionManager, cookie: Option<&str>) -> Session {
    let header = cookie.map(|c| format!("{}={c}", m.config().cookie_name()));
    m.start(header.iter().map(|h| h.as_bytes()), RequestMeta::default())
}

/// Finishes a held request: `Some(value)` when the response sets the
/// cookie, `Some("")` when it removes it, `None` when it sends none.
pub async fn finish(m: &SessionManager, s: &Session) -> Option<String> {
    let out = m.finish(s).await.unwrap_or_else(|e| panic!("finish: {e}"));
    out.map(|h| {
        let first = h.value.split(';').next().unwrap_or_default();
        first
            .split_once('=')
            .map(|(_, v)| v.to_owned())
            .unwrap_or_default()
    })
}

/// Finishes a held request: the cookie value it sets, `None` when it sets
/// none or removes it.
pub async fn close(m: &SessionManager, s: &Session) -> Option<String> {
    finish(m, s).await.filter(|v| !v.is_empty())
}

/// Whether a held request's response removes the cookie.
pub async fn close_removes(m: &SessionManager, s: &Session) -> bool {
    finish(m, s).await.is_some_and(|v| v.is_empty())
}

/// A new session holding `value` under `key`, stored; its cookie value.
pub async fn stored(m: &SessionManager, key: &str, value: impl serde::Serialize) -> String {
    let s = open(m, None);
    s.insert(key, value).await.unwrap();
    close(m, &s)
        .await
        .expect("a new session with data sets its cookie")
}

/// A fresh user id (`u` and 12 random characters).
pub fn user_name() -> String {
    format!("u{}", &SessionId::random().to_string()[..12])
}

/// Logs a fresh session in as `user` (regenerate, `set_user`), with `user`
/// stored under `secret`; the new session's cookie value.
pub async fn login(m: &SessionManager, user: &str) -> String {
    let s = open(m, None);
    s.regenerate().await.unwrap();
    s.set_user(user).await.unwrap();
    s.insert("secret", user).await.unwrap();
    close(m, &s).await.expect("login cookie")
}
