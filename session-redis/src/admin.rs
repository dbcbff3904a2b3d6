//! [`StoreAdmin`] for [`RedisStore`]: count and delete every session of
//! the store's prefix, by `SCAN` (never `KEYS`, which blocks the server).

use std::collections::HashSet;
use std::hash::{Hash, Hasher};

use async_trait::async_trait;
use session_core::{StoreAdmin, StoreError};

use crate::store::RedisStore;

/// Keys asked for per `SCAN` page (a hint to Redis; pages may differ).
const SCAN_COUNT: usize = 1000;

/// `text` as a literal inside a Redis glob pattern: `*`, `?`, `[`, `]` and
/// `\` escaped.
fn glob_literal(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 4);
    for b in text.bytes() {
        if matches!(b, b'*' | b'?' | b'[' | b']' | b'\\') {
            out.push(b'\\');
        }
        out.push(b);
    }
    out
}

impl RedisStore {
    /// The pattern of this store's session keys: `{prefix}{*`.
    fn session_pattern(&self) -> Vec<u8> {
        let mut p = glob_literal(self.prefix());
        p.extend_from_slice(b"{*");
        p
    }

    /// The pattern of this store's user index keys: `{prefix}user:{*`.
    fn user_pattern(&self) -> Vec<u8> {
        let mut p = glob_literal(self.prefix());
        p.extend_from_slice(b"user:{*");
        p
    }

    /// Walks every key matching `pattern` on every node (the server, or
    /// each master of a cluster), one `SCAN` page at a time (each under the
    /// per-call timeout). Without `delete`, returns how many distinct keys
    /// it saw (remembering a 64-bit hash of each: 8 bytes per key);
    /// with it, deletes each page (`DEL`; a cluster connection splits it by
    /// slot) before asking for the next, and returns how many existed.
    async fn walk(&self, pattern: &[u8], delete: bool) -> Result<u64, StoreError> {
        let nodes = self.run(|mut c| async move { c.nodes().await }).await?;
        let mut n = 0;
        let mut seen = HashSet::new();
        for node in &nodes {
            let mut cursor = 0;
            loop {
                let (next, keys) = self
                    .run(
                        |mut c| async move { c.scan_page(node, cursor, pattern, SCAN_COUNT).await },
                    )
                    .await?;
                if delete && !keys.is_empty() {
                    let keys = &keys;
                    n += self
                        .run(|mut c| async move {
                            redis::cmd("DEL").arg(keys).query_async::<u64>(&mut c).await
                        })
                        .await?;
                } else if !delete {
                    // SCAN may return a key twice (while the server's table
                    // is resized): count each once, by a 64-bit hash.
                    for key in &keys {
                        let mut h = std::collections::hash_map::DefaultHasher::new();
                        key.hash(&mut h);
                        seen.insert(h.finish());
                    }
                }
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        Ok(if delete { n } else { seen.len() as u64 })
    }
}

/// Both calls walk the whole keyspace of every node with `SCAN` (pages of
/// about 1000 keys, `MATCH` on the store's prefix): O(keys in the
/// database, all prefixes) work on the server, spread over
/// O(keys / 1000) round trips per node, each under the per-call timeout;
/// Redis stays responsive in between (unlike `KEYS`). On a Cluster the
/// masters are found with one `PING` routed to all of them, and each is
/// walked in turn (replicas hold copies, so they are skipped). Meant for
/// operators and tests, not for request paths.
///
/// Semantics: exact on an idle store; approximate while writes go on.
/// Neither call is atomic: a session created, deleted or expiring during
/// the walk may or may not be seen, and on a Cluster being resharded a key
/// moving between masters may be missed or seen twice (`count` counts a
/// key seen twice once: it keeps an 8-byte hash per session key, since
/// `SCAN` may repeat keys).
///
/// Index keys: `count` counts session keys only (`{prefix}{*`), never the
/// user indexes; `clear` deletes the session keys, then every user index
/// (`{prefix}user:{*`, which also matches the login-time sets of versions
/// before issue 15). A login running during `clear` can leave its session,
/// or its index entry, behind; stop traffic first for an empty store.
///
/// A prefix that is another store's prefix followed by `{` or `user:{`
/// would make the two stores' keys indistinguishable here.
#[async_trait]
impl StoreAdmin for RedisStore {
    /// The session keys (`{prefix}{*`) Redis reports live (`SCAN` skips
    /// expired keys).
    async fn count(&self) -> Result<u64, StoreError> {
        self.walk(&self.session_pattern(), false).await
    }

    /// `DEL` of every session key (`{prefix}{*`), a `SCAN` page at a time,
    /// then of every user index (`{prefix}user:{*`). Returns how many
    /// session keys existed when deleted.
    async fn clear(&self) -> Result<u64, StoreError> {
        let n = self.walk(&self.session_pattern(), true).await?;
        self.walk(&self.user_pattern(), true).await?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_specials_are_escaped() {
        assert_eq!(glob_literal("session:"), b"session:");
        assert_eq!(glob_literal(r"a*b?c[d]e\f"), br"a\*b\?c\[d\]e\\f");
    }
}
