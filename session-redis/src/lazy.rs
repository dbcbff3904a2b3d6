//! The connection handle a [`RedisStore`](crate::RedisStore) holds: a
//! connection made at construction, or one made on first use (the lazy
//! constructors), so an application can boot while Redis is down.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use redis::RedisResult;
use tokio::sync::OnceCell;

use crate::conn::Conn;

/// Makes the connection of a lazy store; gets the store's per-call timeout
/// (the connection timeout of the attempt).
type Connect = Box<dyn Fn(Duration) -> BoxFuture<'static, RedisResult<Conn>> + Send + Sync>;

/// A connection made on first use. A failed attempt leaves it unmade, so
/// the next call tries again; once made, it is shared by every call (and
/// reconnects by itself, as any other connection of the store).
pub(crate) struct Lazy {
    connect: Connect,
    conn: OnceCell<Conn>,
}

/// What the store calls through.
#[derive(Clone)]
pub(crate) enum Handle {
    /// Connected at construction.
    Ready(Conn),
    /// Connected on first use.
    Lazy(Arc<Lazy>),
}

impl Handle {
    /// A handle that connects on first use with `connect`.
    pub(crate) fn lazy<F>(connect: F) -> Self
    where
        F: Fn(Duration) -> BoxFuture<'static, RedisResult<Conn>> + Send + Sync + 'static,
    {
        Handle::Lazy(Arc::new(Lazy {
            connect: Box::new(connect),
            conn: OnceCell::new(),
        }))
    }

    /// The connection, made now if it is lazy and not made yet. Concurrent
    /// first calls share one attempt; the caller bounds the wait (the
    /// store's per-call timeout), and a cancelled or failed attempt is
    /// started again by the next call.
    pub(crate) async fn conn(&self, timeout: Duration) -> RedisResult<Conn> {
        match self {
            Handle::Ready(conn) => Ok(conn.clone()),
            Handle::Lazy(lazy) => lazy
                .conn
                .get_or_try_init(|| (lazy.connect)(timeout))
                .await
                .cloned(),
        }
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Handle::Ready(conn) => f.debug_tuple("Ready").field(conn).finish(),
            Handle::Lazy(lazy) => f
                .debug_struct("Lazy")
                .field("conn", &lazy.conn.get())
                .finish_non_exhaustive(),
        }
    }
}
