//! The connection a [`RedisStore`](crate::RedisStore) talks through: one
//! enum over a single node and a cluster, so every store method is written
//! once.

use std::fmt;

use redis::aio::{ConnectionLike, ConnectionManager};
use redis::{Cmd, Pipeline, RedisFuture, RedisResult, Value};

/// A cheap-to-clone handle to Redis.
#[derive(Clone)]
pub(crate) enum Conn {
    /// One Redis server behind a reconnecting [`ConnectionManager`].
    Single(ConnectionManager),
    /// A Redis Cluster; the connection follows slot moves and reconnects
    /// to nodes by itself.
    #[cfg(feature = "cluster")]
    Cluster(redis::cluster_async::ClusterConnection),
}

impl fmt::Debug for Conn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Conn::Single(m) => f.debug_tuple("Single").field(m).finish(),
            #[cfg(feature = "cluster")]
            Conn::Cluster(_) => f.write_str("Cluster"),
        }
    }
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            #[cfg(feature = "cluster")]
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self, cmd: &'a Pipeline, offset: usize, count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(cmd, offset, count),
            #[cfg(feature = "cluster")]
            Conn::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            #[cfg(feature = "cluster")]
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

/// A node whose keys a `SCAN` walks: the one server, or one master of a
/// cluster (by address).
#[derive(Debug, Clone)]
pub(crate) enum Node {
    /// The one server behind a [`ConnectionManager`].
    Single,
    /// A cluster master, `host` and `port` as the cluster reports them.
    #[cfg(feature = "cluster")]
    Master(String, u16),
}

impl Conn {
    /// The nodes that hold keys: the server, or every master of the
    /// cluster (one `PING` to all masters, which answers their addresses).
    pub(crate) async fn nodes(&mut self) -> RedisResult<Vec<Node>> {
        match self {
            Conn::Single(_) => Ok(vec![Node::Single]),
            #[cfg(feature = "cluster")]
            Conn::Cluster(c) => {
                use redis::cluster_routing::{MultipleNodeRoutingInfo, RoutingInfo};
                let reply = c
                    .route_command(
                        redis::cmd("PING"),
                        RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None)),
                    )
                    .await?;
                let Value::Map(entries) = reply else {
                    return Err(redis::RedisError::from((
                        redis::ErrorKind::Client,
                        "unexpected reply to PING on all masters",
                    )));
                };
                let mut out = Vec::with_capacity(entries.len());
                for (addr, _) in entries {
                    let addr: String = redis::from_redis_value(addr)?;
                    let parsed = addr
                        .rsplit_once(':')
                        .and_then(|(h, p)| Some((h.to_owned(), p.parse().ok()?)));
                    let Some((host, port)) = parsed else {
                        return Err(redis::RedisError::from((
                            redis::ErrorKind::Client,
                            "unexpected cluster node address",
                            addr,
                        )));
                    };
                    out.push(Node::Master(host, port));
                }
                Ok(out)
            }
        }
    }

    /// One `SCAN cursor MATCH pattern COUNT count` on `node`: the next
    /// cursor (0 when done) and the keys of this page.
    pub(crate) async fn scan_page(
        &mut self, node: &Node, cursor: u64, pattern: &[u8], count: usize,
    ) -> RedisResult<(u64, Vec<Vec<u8>>)> {
        let mut cmd = redis::cmd("SCAN");
        cmd.arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(count);
        let reply = match (&mut *self, node) {
            (Conn::Single(c), Node::Single) => cmd.query_async::<Value>(c).await?,
            #[cfg(feature = "cluster")]
            (Conn::Cluster(c), Node::Master(host, port)) => {
                use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
                c.route_command(
                    cmd,
                    RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
                        host: host.clone(),
                        port: *port,
                    }),
                )
                .await?
            }
            #[cfg(feature = "cluster")]
            _ => {
                return Err(redis::RedisError::from((
                    redis::ErrorKind::Client,
                    "SCAN of a node of another connection",
                )));
            }
        };
        Ok(redis::from_redis_value(reply)?)
    }
}
