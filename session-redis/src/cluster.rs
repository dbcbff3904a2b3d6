//! Redis Cluster constructors (feature `cluster`). The store logic is the
//! same as on one server: every command names exactly one key (a session's
//! key on the session's slot, a user index on the user's slot), so every
//! command goes to one node.

use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::{IntoConnectionInfo, RedisResult};

use crate::conn::Conn;
use crate::lazy::Handle;
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

    /// A Cluster store that connects on first use, so the application
    /// boots while the cluster is unreachable: nothing is contacted here.
    /// As with [`lazy`](Self::lazy), every call until a connection is made
    /// tries to make it (bounded by the per-call timeout) and fails with a
    /// [`StoreError`](session_core::StoreError) while no node answers; the
    /// first call after one does connects (the client then learns the
    /// slots from that node, as [`from_cluster_client`](Self::from_cluster_client)
    /// does) and the store works from then on.
    ///
    /// # Example
    ///
    /// ```
    /// use redis::cluster::ClusterClient;
    /// use session_redis::RedisStore;
    ///
    /// # fn main() -> Result<(), redis::RedisError> {
    /// let client = ClusterClient::new(vec!["redis://10.0.0.1:7000", "redis://10.0.0.2:7000"])?;
    /// let store = RedisStore::lazy_cluster(client).with_prefix("myapp:session:");
    /// # let _ = store;
    /// # Ok(())
    /// # }
    /// ```
    pub fn lazy_cluster(client: ClusterClient) -> Self {
        Self::from_handle(Handle::lazy(move |_timeout| {
            let client = client.clone();
            Box::pin(async move { Ok(Conn::Cluster(client.get_async_connection().await?)) })
        }))
    }

    /// Uses an existing cluster connection.
    pub fn from_cluster_connection(conn: ClusterConnection) -> Self {
        Self::from_cluster(conn)
    }
}
