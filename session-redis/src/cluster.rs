//! Redis Cluster constructors (feature `cluster`). The store logic is the
//! same as on one server: every command names exactly one key (a session's
//! key on the session's slot, a user index on the user's slot), so every
//! command goes to one node.

use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::{IntoConnectionInfo, RedisResult};

use crate::store::{DEFAULT_TIMEOUT, RedisStore};

impl RedisStore {
    /// Connects to a Redis Cluster through some of its nodes (any subset
    /// of the masters is enough: the client discovers the rest and follows
    /// slot moves), such as
    /// `["redis://10.0.0.1:7000", "redis://10.0.0.2:7000"]`.
    ///
    /// # Errors
    ///
    /// A URL is invalid, or no node can be reached.
    pub async fn connect_cluster<T: IntoConnectionInfo>(
        nodes: impl IntoIterator<Item = T>,
    ) -> RedisResult<Self> {
        let client = ClusterClientBuilder::new(nodes)
            .connection_timeout(DEFAULT_TIMEOUT)
            .response_timeout(DEFAULT_TIMEOUT)
            .build()?;
        Self::from_cluster_client(&client).await
    }

    /// Connects through an existing [`ClusterClient`] (your own timeouts,
    /// TLS, credentials, read-from-replica policy).
    ///
    /// # Errors
    ///
    /// No node can be reached.
    pub async fn from_cluster_client(client: &ClusterClient) -> RedisResult<Self> {
        Ok(Self::from_cluster_connection(
            client.get_async_connection().await?,
        ))
    }

    /// Uses an existing cluster connection.
    pub fn from_cluster_connection(conn: ClusterConnection) -> Self {
        Self::from_cluster(conn)
    }
}
