//! [`RedisStore`]: the [`Store`] implementation, its key layout and its
//! record encoding.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, RedisResult, Value};
use session_core::{
    Created, Record, Retired, Saved, Store, StoreAdmin, StoreError, StoreKey, Touched, UserIndex,
    Version,
};
use time::OffsetDateTime;

use crate::conn::Conn;
use crate::error::from_redis;
use crate::lazy::Handle;
use crate::scripts::{CREATE, DELETE, LOAD, RETIRE, SAVE, TOUCH};

/// The key prefix used unless [`RedisStore::with_prefix`] sets another.
pub const DEFAULT_PREFIX: &str = "session:";

/// The per-call timeout used unless [`RedisStore::with_timeout`] sets
/// another.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// The grid of the user index's bounds: an index entry stays until its
/// session's expiry rounded up to a multiple of this (ms). A session whose
/// expiry moves within one grid cell needs no index write; crossing into the
/// next cell costs one `LINK` (see the crate docs, "User index").
pub(crate) const INDEX_GRID_MS: i64 = 3_600_000;

/// A session [`Store`] on Redis: one server (through a reconnecting
/// [`ConnectionManager`]) or, with the `cluster` feature, a Redis Cluster.
///
/// See the [crate docs](crate) for the key layout, the record encoding and
/// the number of round trips per call. Cloning is cheap and shares the
/// connection.
#[derive(Debug, Clone)]
pub struct RedisStore {
    conn: Handle,
    prefix: Arc<str>,
    timeout: Duration,
}

impl RedisStore {
    fn from_conn(conn: Conn) -> Self {
        Self::from_handle(Handle::Ready(conn))
    }

    pub(crate) fn from_handle(conn: Handle) -> Self {
        Self {
            conn,
            prefix: Arc::from(DEFAULT_PREFIX),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Connects to one Redis server, such as `redis://127.0.0.1:6379` or
    /// `redis://user:pass@host:6380/2`, through a [`ConnectionManager`]
    /// that reconnects by itself. (For a [`redis::ConnectionInfo`] built in
    /// code, use [`from_client`](Self::from_client) with
    /// `Client::open(info)`.)
    ///
    /// # Errors
    ///
    /// The URL is invalid, or the server cannot be reached (after a few
    /// quick retries).
    pub async fn connect(url: &str) -> RedisResult<Self> {
        Self::from_client(Client::open(url)?).await
    }

    /// Connects through an existing [`Client`], with this crate's
    /// reconnection settings (see [`manager_config`](Self::manager_config)).
    ///
    /// # Errors
    ///
    /// The server cannot be reached (after a few quick retries).
    pub async fn from_client(client: Client) -> RedisResult<Self> {
        let manager =
            ConnectionManager::new_with_config(client, Self::manager_config(DEFAULT_TIMEOUT))
                .await?;
        Ok(Self::from_connection_manager(manager))
    }

    /// A store on one Redis server that connects on first use, so the
    /// application boots while Redis is down: nothing is contacted here.
    ///
    /// Until a connection is made, every store call tries to make it (one
    /// short round of attempts, bounded by the per-call timeout) and, while
    /// Redis is unreachable, fails with the error an outage gives a
    /// connected store ([`StoreError::Backend`] with the
    /// [`redis::RedisError`], or [`StoreError::Timeout`]): the request gets
    /// the configured failure response (503 by default). The first call
    /// after Redis is reachable connects, and from then on the store is
    /// exactly what [`connect`](Self::connect) returns (it reconnects by
    /// itself after later outages). Nothing needs restarting.
    ///
    /// # Errors
    ///
    /// The URL is invalid (checked now, not on first use).
    ///
    /// # Example
    ///
    /// ```
    /// use session_redis::RedisStore;
    ///
    /// # fn main() -> Result<(), redis::RedisError> {
    /// // Builds even when nothing listens on the port.
    /// let store = RedisStore::connect_lazy("redis://127.0.0.1:6379")?.with_prefix("myapp:session:");
    /// # let _ = store;
    /// # Ok(())
    /// # }
    /// ```
    pub fn connect_lazy(url: &str) -> RedisResult<Self> {
        Ok(Self::lazy(Client::open(url)?))
    }

    /// [`connect_lazy`](Self::connect_lazy) with an existing [`Client`]
    /// (credentials, a [`redis::ConnectionInfo`] built in code, or TLS:
    /// with the `tls-rustls` feature, a client from
    /// `Client::build_with_tls` trusting your CA). The connection, once
    /// made, uses [`manager_config`](Self::manager_config) with the store's
    /// per-call timeout.
    ///
    /// # Example
    ///
    /// ```
    /// use session_redis::RedisStore;
    ///
    /// # fn main() -> Result<(), redis::RedisError> {
    /// let client = redis::Client::open("redis://user:secret@127.0.0.1:6379/2")?;
    /// let store = RedisStore::lazy(client);
    /// # let _ = store;
    /// # Ok(())
    /// # }
    /// ```
    pub fn lazy(client: Client) -> Self {
        Self::from_handle(Handle::lazy(move |timeout| {
            let client = client.clone();
            Box::pin(async move {
                let config = Self::manager_config(timeout);
                Ok(Conn::Single(
                    ConnectionManager::new_with_config(client, config).await?,
                ))
            })
        }))
    }

    /// Connects to one Redis server over TLS (`rediss://host:port`),
    /// trusting the CA certificate `root_cert_pem` (PEM) instead of the
    /// system's roots: what a private CA, such as a managed Redis's or
    /// your own, needs. (For a server whose certificate the system trusts,
    /// [`connect`](Self::connect) with a `rediss://` URL is enough. For a
    /// client certificate too, build the client with
    /// [`Client::build_with_tls`] and use [`from_client`](Self::from_client),
    /// or [`lazy`](Self::lazy).) Feature `tls-rustls`.
    ///
    /// # Errors
    ///
    /// The URL is invalid or not `rediss://`, the PEM holds no certificate,
    /// or the server cannot be reached or fails the TLS handshake.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use session_redis::RedisStore;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let ca = std::fs::read("/etc/redis/tls/ca.crt")?;
    /// let store = RedisStore::connect_tls("rediss://redis.internal:6380", ca)
    ///     .await?
    ///     .with_prefix("myapp:session:");
    /// # let _ = store;
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "tls-rustls")]
    pub async fn connect_tls(url: &str, root_cert_pem: impl Into<Vec<u8>>) -> RedisResult<Self> {
        let certs = redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(root_cert_pem.into()),
        };
        Self::from_client(Client::build_with_tls(url, certs)?).await
    }

    /// Uses an existing [`ConnectionManager`] (shared with the rest of the
    /// application, or built with your own [`ConnectionManagerConfig`]).
    pub fn from_connection_manager(manager: ConnectionManager) -> Self {
        Self::from_conn(Conn::Single(manager))
    }

    /// The [`ConnectionManagerConfig`] that [`connect`](Self::connect) and
    /// [`from_client`](Self::from_client) use: connection attempts time out
    /// after `timeout`; a lost connection is re-established in the
    /// background, a short round of attempts at a time (100 ms doubling,
    /// at most 500 ms apart, 3 retries), and the next call after a failed
    /// round starts a new one, so calls during an outage fail within about
    /// a second and the first call after Redis is back reconnects; no
    /// response timeout of the client's own: the store's per-call timeout
    /// governs.
    pub fn manager_config(timeout: Duration) -> ConnectionManagerConfig {
        ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(None)
            .set_min_delay(Duration::from_millis(100))
            .set_max_delay(Duration::from_millis(500))
            .set_number_of_retries(3)
    }

    #[cfg(feature = "cluster")]
    pub(crate) fn from_cluster(conn: redis::cluster_async::ClusterConnection) -> Self {
        Self::from_conn(Conn::Cluster(conn))
    }

    /// The same store with another key prefix (default
    /// [`DEFAULT_PREFIX`], `session:`). Application instances that share
    /// sessions must use the same prefix; unrelated applications (or
    /// tests) sharing one Redis use different ones.
    ///
    /// The prefix should not contain `{`: Redis Cluster would then hash
    /// the prefix instead of the session's key and put every session on
    /// one slot.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Arc::from(prefix.into());
        self
    }

    /// The same store with another per-call timeout (default
    /// [`DEFAULT_TIMEOUT`], 2 s). A call that gets no answer in time fails
    /// with [`StoreError::Timeout`].
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The per-call timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The Redis key of a record: `{prefix}{<key>}`, the store key in a
    /// hash tag so that everything of one session stays on one Cluster
    /// slot.
    pub fn redis_key(&self, key: &StoreKey) -> String {
        self.tagged("", key.as_str())
    }

    /// The Redis key of a user's index: `{prefix}user:{<user>}`, the user
    /// in a hash tag, so that on a Cluster the index lives on the user's
    /// slot (a session's own key stays on its own slot).
    pub fn user_key(&self, user: &str) -> String {
        self.tagged("user:", user)
    }

    /// `{prefix}{infix}{<tag>}`: `tag` in a Cluster hash tag.
    fn tagged(&self, infix: &str, tag: &str) -> String {
        let mut out = String::with_capacity(self.prefix.len() + infix.len() + tag.len() + 2);
        out.push_str(&self.prefix);
        out.push_str(infix);
        out.push('{');
        out.push_str(tag);
        out.push('}');
        out
    }

    /// Runs one call against Redis under the per-call timeout.
    pub(crate) async fn run<T, F, Fut>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(Conn) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let call = async { f(self.conn.conn(self.timeout).await?).await };
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(from_redis(e)),
            Err(_) => Err(StoreError::Timeout),
        }
    }
}

/// The stored value: the version in decimal ASCII, then `:` and the
/// payload bytes unchanged (no user: the format from before the user
/// index), or `u<len>:<user>:` and the payload (`len` = the user's length in
/// bytes, so any user string fits).
pub(crate) fn encode(version: Version, user: Option<&str>, payload: &[u8]) -> Vec<u8> {
    let v = version.0.to_string();
    let mut out =
        Vec::with_capacity(v.len() + 1 + payload.len() + user.map_or(0, |u| u.len() + 24));
    out.extend_from_slice(v.as_bytes());
    if let Some(user) = user {
        out.push(b'u');
        out.extend_from_slice(user.len().to_string().as_bytes());
        out.push(b':');
        out.extend_from_slice(user.as_bytes());
    }
    out.push(b':');
    out.extend_from_slice(payload);
    out
}

/// A stored value, split.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Decoded<'a> {
    pub(crate) version: Version,
    pub(crate) user: Option<&'a str>,
    pub(crate) payload: &'a [u8],
}

const BAD_VALUE: StoreError =
    StoreError::Malformed("stored value is not <version>[u<len>:<user>]:<payload>");

/// Splits a leading run of ASCII digits off `bytes` and parses it.
fn number(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let end = bytes
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(bytes.len());
    if end == 0 {
        return None;
    }
    let (digits, rest) = bytes.split_at(end);
    let n = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some((n, rest))
}

/// Splits a stored value into version, user and payload.
pub(crate) fn decode(value: &[u8]) -> Result<Decoded<'_>, StoreError> {
    let (v, rest) = number(value).ok_or(BAD_VALUE)?;
    let (user, rest) = match rest.split_first() {
        Some((b':', rest)) => (None, rest),
        Some((b'u', rest)) => {
            let (len, rest) = number(rest).ok_or(BAD_VALUE)?;
            let rest = rest.strip_prefix(b":").ok_or(BAD_VALUE)?;
            let len = usize::try_from(len).map_err(|_| BAD_VALUE)?;
            if rest.len() <= len {
                return Err(BAD_VALUE);
            }
            let (user, rest) = rest.split_at(len);
            let rest = rest.strip_prefix(b":").ok_or(BAD_VALUE)?;
            let user = std::str::from_utf8(user).map_err(|_| BAD_VALUE)?;
            (Some(user), rest)
        }
        _ => return Err(BAD_VALUE),
    };
    Ok(Decoded {
        version: Version(v),
        user,
        payload: rest,
    })
}

/// The index bound of an expiry: rounded up to the index grid.
pub(crate) fn index_bound(expires_ms: i64) -> i64 {
    expires_ms
        .saturating_add(INDEX_GRID_MS - 1)
        .div_euclid(INDEX_GRID_MS)
        .saturating_mul(INDEX_GRID_MS)
}

/// Milliseconds since the epoch, rounded down (a record never outlives its
/// `expires_at`), and at least 1 (Redis rejects 0 and negative instants; any
/// such instant is long past, so the record is not live either way).
pub(crate) fn unix_ms(t: OffsetDateTime) -> i64 {
    let ms = t.unix_timestamp_nanos().div_euclid(1_000_000);
    i64::try_from(ms).unwrap_or(i64::MAX).max(1)
}

fn from_unix_ms(ms: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map_err(|_| StoreError::Malformed("record expiry out of range"))
}

pub(crate) fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

#[async_trait]
impl Store for RedisStore {
    /// One round trip: `EVALSHA` of a script doing `GET` + `PEXPIRETIME`.
    async fn load(&self, key: &StoreKey) -> Result<Option<Record>, StoreError> {
        let rkey = self.redis_key(key);
        let found: Option<(Vec<u8>, i64)> = self
            .run(|mut c| async move { LOAD.key(&rkey).invoke_async(&mut c).await })
            .await?;
        let Some((value, expires_ms)) = found else {
            return Ok(None);
        };
        if expires_ms < 0 {
            return Err(StoreError::Malformed("record has no expiry"));
        }
        let expires_at = from_unix_ms(expires_ms)?;
        // Redis evicts at its own clock; never hand out a record that is
        // expired by ours.
        if expires_at <= now() {
            return Ok(None);
        }
        let d = decode(&value)?;
        Ok(Some(Record {
            key: *key,
            version: d.version,
            expires_at,
            payload: d.payload.to_vec(),
            user: d.user.map(str::to_owned),
        }))
    }

    /// One round trip, `EVALSHA` of `SET key value NX PXAT expires_at`; a
    /// record with a user first adds it to the user's index (`LINK`, one
    /// more round trip), so a live record is never missing from its index.
    async fn create(&self, record: &Record) -> Result<Created, StoreError> {
        self.create_record(record, false).await
    }

    /// One round trip: `EVALSHA` of a compare-and-swap script (`GET`, then
    /// `SET ... PXAT` when the version matches). When the record's user is
    /// new, or its expiry leaves the cell of the index grid the user's
    /// index entry covers, the script writes nothing and asks for a `LINK`
    /// first (then runs again); when the user changed from another, the
    /// old user's entry is removed afterwards (`ZREM`).
    async fn save(&self, record: &Record, expected: Version) -> Result<Saved, StoreError> {
        self.save_record(record, expected, false).await
    }

    /// One round trip: `EVALSHA` of a compare-and-swap script doing
    /// `PEXPIREAT key expires_at` when the key exists and its value carries
    /// the expected version (the value itself, version included, is left
    /// alone). For a session with a user whose new expiry leaves the cell of
    /// the index grid its index entry covers, the script first asks for a
    /// `LINK` (then runs again). A key Redis has expired is [`Touched::Gone`].
    async fn touch(
        &self, key: &StoreKey, expected: Version, expires_at: OffsetDateTime,
    ) -> Result<Touched, StoreError> {
        let rkey = self.redis_key(key);
        let ms = unix_ms(expires_at);
        let expected = expected.0.to_string();
        let mut linked = String::new();
        // The user can change between the attempts only through a
        // concurrent save, which changes the version too (the next attempt
        // then reports MovedOn); a few rounds are plenty.
        for _ in 0..4 {
            let (rkey, expected, linked_arg) = (&rkey, &expected, &linked);
            let reply: Value = self
                .run(|mut c| async move {
                    TOUCH
                        .key(rkey)
                        .arg(expected)
                        .arg(ms)
                        .arg(linked_arg)
                        .arg(INDEX_GRID_MS)
                        .invoke_async(&mut c)
                        .await
                })
                .await?;
            match reply {
                Value::Int(0) => return Ok(Touched::Gone),
                Value::Int(1) => return Ok(Touched::Ok),
                Value::Int(2) => return Ok(Touched::MovedOn),
                Value::Int(-1) => return Err(BAD_VALUE),
                Value::Array(items) => match items.as_slice() {
                    [Value::BulkString(user)] => {
                        let user = String::from_utf8_lossy(user).into_owned();
                        self.link(&user, key, ms).await?;
                        linked = format!("={user}");
                    }
                    _ => {
                        return Err(StoreError::Malformed(
                            "unexpected reply to the touch script",
                        ));
                    }
                },
                _ => {
                    return Err(StoreError::Malformed(
                        "unexpected reply to the touch script",
                    ));
                }
            }
        }
        Err(StoreError::Malformed(
            "the session's user kept changing during touch",
        ))
    }

    /// One round trip: `EVALSHA` of a compare-and-delete script (`GET`,
    /// then `DEL` when the version matches), which answers whose the record
    /// was; for a record with a user, one more (`ZREM` from the user's
    /// index).
    async fn retire(&self, key: &StoreKey, expected: Version) -> Result<Retired, StoreError> {
        let rkey = self.redis_key(key);
        let expected = expected.0.to_string();
        let (rkey, expected) = (&rkey, &expected);
        let reply: Value = self
            .run(|mut c| async move { RETIRE.key(rkey).arg(expected).invoke_async(&mut c).await })
            .await?;
        match reply {
            Value::Int(0) => Ok(Retired::Gone),
            Value::Int(1) => Ok(Retired::Ok),
            Value::Int(2) => Ok(Retired::MovedOn),
            Value::Int(-1) => Err(BAD_VALUE),
            Value::Array(items) => match items.as_slice() {
                [Value::BulkString(user)] => {
                    self.unlink(&String::from_utf8_lossy(user), key).await;
                    Ok(Retired::Ok)
                }
                _ => Err(StoreError::Malformed(
                    "unexpected reply to the retire script",
                )),
            },
            _ => Err(StoreError::Malformed(
                "unexpected reply to the retire script",
            )),
        }
    }

    /// One round trip: `EVALSHA` of a script doing `GET` + `DEL`, which
    /// answers whose the record was; for a record with a user, one more
    /// (`ZREM` from the user's index).
    async fn delete(&self, key: &StoreKey) -> Result<(), StoreError> {
        let rkey = self.redis_key(key);
        let reply: Value = self
            .run(|mut c| async move { DELETE.key(&rkey).invoke_async(&mut c).await })
            .await?;
        if let Value::Array(items) = reply
            && let [Value::BulkString(user)] = items.as_slice()
        {
            self.unlink(&String::from_utf8_lossy(user), key).await;
        }
        Ok(())
    }

    /// Nothing to do: Redis expires records natively, and index entries
    /// leave with their bounds. Always `Ok(0)`, without a round trip.
    async fn delete_expired(&self) -> Result<u64, StoreError> {
        Ok(0)
    }

    fn user_index(&self) -> Option<&dyn UserIndex> {
        Some(self)
    }

    fn admin(&self) -> Option<&dyn StoreAdmin> {
        Some(self)
    }
}

impl RedisStore {
    /// `create`; `linked` when the caller has already added the record to
    /// its user's index for this expiry (`admit`).
    pub(crate) async fn create_record(
        &self, record: &Record, linked: bool,
    ) -> Result<Created, StoreError> {
        let ms = unix_ms(record.expires_at);
        if let Some(user) = &record.user
            && !linked
        {
            self.link(user, &record.key, ms).await?;
        }
        let rkey = self.redis_key(&record.key);
        let value = encode(record.version, record.user.as_deref(), &record.payload);
        let stored: i64 = self
            .run(|mut c| async move {
                CREATE
                    .key(&rkey)
                    .arg(value)
                    .arg(ms)
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        // On a collision a linked entry points at someone else's record:
        // listings skip it (its user differs or it is not this user's), and
        // it leaves the index with its bound.
        Ok(if stored == 1 {
            Created::Ok
        } else {
            Created::Collision
        })
    }

    /// `save`; `linked` when the caller has already added the record to
    /// its user's index for this expiry (`admit`).
    pub(crate) async fn save_record(
        &self, record: &Record, expected: Version, linked: bool,
    ) -> Result<Saved, StoreError> {
        let rkey = self.redis_key(&record.key);
        let value = encode(record.version, record.user.as_deref(), &record.payload);
        let ms = unix_ms(record.expires_at);
        let expected = expected.0.to_string();
        let (rkey, value, expected) = (&rkey, &value, &expected);
        let mut linked = linked;
        loop {
            let outcome: Value = self
                .run(|mut c| async move {
                    SAVE.key(rkey)
                        .arg(expected)
                        .arg(value)
                        .arg(ms)
                        .arg(if linked { "1" } else { "0" })
                        .arg(INDEX_GRID_MS)
                        .invoke_async(&mut c)
                        .await
                })
                .await?;
            return match outcome {
                Value::Int(0) => Ok(Saved::Gone),
                Value::Int(1) => Ok(Saved::Conflict),
                Value::Int(2) => Ok(Saved::Ok),
                Value::Int(3) if !linked => match &record.user {
                    Some(user) => {
                        self.link(user, &record.key, ms).await?;
                        linked = true;
                        continue;
                    }
                    None => Err(StoreError::Malformed(
                        "save asked to link a record without user",
                    )),
                },
                Value::Array(items) => match items.as_slice() {
                    [Value::Int(2), Value::BulkString(old)] => {
                        let old = String::from_utf8_lossy(old);
                        self.unlink(&old, &record.key).await;
                        Ok(Saved::Ok)
                    }
                    _ => Err(StoreError::Malformed("unexpected reply to the save script")),
                },
                Value::Int(-1) => Err(BAD_VALUE),
                _ => Err(StoreError::Malformed("unexpected reply to the save script")),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_round_trips() {
        for (v, p) in [
            (1u64, &b""[..]),
            (2, b"{\"a\":1}"),
            (u64::MAX, b"x:y:z"),
            (7, "é🎉".as_bytes()),
            (8, b"12:u3:abc"),
        ] {
            for user in [None, Some(""), Some("ada"), Some("a:b}{u9:"), Some("ü🎉")] {
                let enc = encode(Version(v), user, p);
                let d = decode(&enc).unwrap();
                assert_eq!(d.version, Version(v));
                assert_eq!(d.user, user);
                assert_eq!(d.payload, p);
            }
        }
    }

    #[test]
    fn values_without_user_keep_the_old_format() {
        assert_eq!(encode(Version(3), None, b"{\"f\":1}"), b"3:{\"f\":1}");
        assert_eq!(
            encode(Version(3), Some("ada"), b"{\"f\":1}"),
            b"3u3:ada:{\"f\":1}"
        );
        // A value written before the user index (any payload) has no user.
        let d = decode(b"12:u3:abc:x").unwrap();
        assert_eq!(
            (d.version, d.user, d.payload),
            (Version(12), None, &b"u3:abc:x"[..])
        );
    }

    #[test]
    fn decode_rejects_foreign_values() {
        for bad in [
            &b""[..],
            b"abc",
            b":x",
            b"1a:x",
            b"-1:x",
            b"99999999999999999999999:x",
            b"1u",
            b"1u3",
            b"1u3:ab",
            b"1u3:abc",
            b"1u3:abcd",
            b"1ux:abc:",
            b"1u2:\xff\xfe:x",
            b"1u99999999999999999999999:x",
        ] {
            assert!(
                matches!(decode(bad), Err(StoreError::Malformed(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn index_bounds_round_up_to_the_grid() {
        assert_eq!(index_bound(0), 0);
        assert_eq!(index_bound(1), INDEX_GRID_MS);
        assert_eq!(index_bound(INDEX_GRID_MS), INDEX_GRID_MS);
        assert_eq!(index_bound(INDEX_GRID_MS + 1), 2 * INDEX_GRID_MS);
        assert!(index_bound(i64::MAX) >= i64::MAX - INDEX_GRID_MS);
    }

    #[test]
    fn millisecond_conversion_rounds_down_and_stays_positive() {
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_999_999).unwrap();
        assert_eq!(unix_ms(t), 1_700_000_000_123);
        assert_eq!(
            from_unix_ms(1_700_000_000_123).unwrap(),
            OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_000_000).unwrap()
        );
        assert_eq!(unix_ms(OffsetDateTime::UNIX_EPOCH), 1);
        assert_eq!(
            unix_ms(OffsetDateTime::UNIX_EPOCH - time::Duration::days(1)),
            1
        );
    }

    #[tokio::test]
    async fn key_layout_uses_a_hash_tag() {
        // A lazy manager makes no connection, so this needs no server.
        let client = Client::open("redis://127.0.0.1:1").unwrap();
        let manager = ConnectionManager::new_lazy_with_config(
            client,
            RedisStore::manager_config(DEFAULT_TIMEOUT),
        )
        .unwrap();
        let store = RedisStore::from_connection_manager(manager).with_prefix("app:");
        let key = StoreKey::from_stored("abc_DEF-123").unwrap();
        assert_eq!(store.redis_key(&key), "app:{abc_DEF-123}");
        assert_eq!(store.user_key("ada"), "app:user:{ada}");
        assert_eq!(store.prefix(), "app:");
        assert_eq!(store.timeout(), DEFAULT_TIMEOUT);
        let store = store.with_timeout(Duration::from_millis(5));
        assert_eq!(store.timeout(), Duration::from_millis(5));
    }
}
