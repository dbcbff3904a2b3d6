//! Session ids and the storage keys derived from them.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::TryRngCore as _;
use sha2::{Digest as _, Sha256};

/// Number of random bytes in a [`SessionId`]: 256 bits of CSPRNG output.
pub(crate) const ID_BYTES: usize = 32;

/// Length of the base64url (no padding) text form of a [`SessionId`].
pub(crate) const ID_TEXT_LEN: usize = 43;

/// A session id: 256 bits from the operating system's CSPRNG.
///
/// Its text form is 43 characters of base64url without padding. Parsing is
/// strict: anything that is not exactly that shape (and that does not
/// re-encode to the same text) is rejected.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionId([u8; ID_BYTES]);

/// Why a string is not a [`SessionId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdError {
    /// The text is not 43 characters long.
    #[error("session id has the wrong length")]
    Length,
    /// The text is not canonical base64url without padding.
    #[error("session id is not canonical base64url")]
    Encoding,
}

impl SessionId {
    /// A new id from the operating system's CSPRNG.
    ///
    /// # Panics
    ///
    /// Only if the operating system cannot provide randomness at all, which
    /// leaves no safe way to issue a session id.
    pub fn random() -> Self {
        let mut bytes = [0u8; ID_BYTES];
        #[allow(clippy::expect_used)]
        rand::rngs::OsRng
            .try_fill_bytes(&mut bytes)
            .expect("the operating system CSPRNG is unavailable");
        Self(bytes)
    }

    /// An id from raw bytes (for id generator hooks and tests).
    pub const fn from_bytes(bytes: [u8; ID_BYTES]) -> Self {
        Self(bytes)
    }

    /// The raw bytes.
    pub const fn as_bytes(&self) -> &[u8; ID_BYTES] {
        &self.0
    }

    /// Strict parse of the 43-character base64url form.
    pub fn parse(text: &str) -> Result<Self, IdError> {
        Self::parse_bytes(text.as_bytes())
    }

    /// Strict parse from bytes (header values need not be UTF-8).
    pub fn parse_bytes(text: &[u8]) -> Result<Self, IdError> {
        if text.len() != ID_TEXT_LEN {
            return Err(IdError::Length);
        }
        let mut out = [0u8; ID_BYTES];
        // The base64 crate rejects non-canonical trailing bits by default.
        match URL_SAFE_NO_PAD.decode_slice(text, &mut out) {
            Ok(ID_BYTES) => Ok(Self(out)),
            _ => Err(IdError::Encoding),
        }
    }

    /// Writes the 43-character text form into `buf` and returns it as `&str`.
    pub fn encode_into<'b>(&self, buf: &'b mut [u8; ID_TEXT_LEN]) -> &'b str {
        let written = URL_SAFE_NO_PAD
            .encode_slice(self.0, buf)
            .unwrap_or_default();
        std::str::from_utf8(&buf[..written]).unwrap_or_default()
    }

    /// The storage key a store sees for this id when ids are hashed at rest:
    /// base64url(SHA-256(id bytes)).
    pub fn hashed_key(&self) -> StoreKey {
        let digest = Sha256::digest(self.0);
        let mut buf = [0u8; ID_TEXT_LEN];
        let n = URL_SAFE_NO_PAD
            .encode_slice(digest, &mut buf)
            .unwrap_or_default();
        StoreKey::from_ascii(&buf[..n])
    }

    /// The storage key when ids are not hashed at rest: the id text itself.
    pub fn plain_key(&self) -> StoreKey {
        let mut buf = [0u8; ID_TEXT_LEN];
        StoreKey::from_ascii(self.encode_into(&mut buf).as_bytes())
    }

    /// A short, non-secret prefix of the id for logs and debug pages
    /// (6 characters, 36 bits: never enough to hijack the session).
    pub fn short(&self) -> String {
        let mut buf = [0u8; ID_TEXT_LEN];
        self.encode_into(&mut buf)[..6].to_owned()
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; ID_TEXT_LEN];
        f.write_str(self.encode_into(&mut buf))
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print a whole live id.
        write!(f, "SessionId({}…)", self.short())
    }
}

impl std::str::FromStr for SessionId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The key under which a store files a record.
///
/// By default this is a hash of the session id, so a dump of the store holds
/// no live cookie value. Stores treat it as an opaque ASCII string of at most
/// 64 characters (`[A-Za-z0-9_-]`). Stored inline: making or copying one
/// never allocates.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct StoreKey {
    len: u8,
    bytes: [u8; 64],
}

impl std::hash::Hash for StoreKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // The text only: the padding after it is always zero.
        state.write(self.as_bytes());
    }
}

impl StoreKey {
    fn from_ascii(text: &[u8]) -> Self {
        let mut bytes = [0u8; 64];
        let len = text.len().min(64);
        bytes[..len].copy_from_slice(&text[..len]);
        Self {
            len: len as u8,
            bytes,
        }
    }

    /// The key's ASCII bytes (the text of [`as_str`](Self::as_str),
    /// without a UTF-8 check).
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or_default()
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        // Only ASCII is ever stored.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }

    /// Rebuilds a key read back from a store (for store implementations
    /// that list records). Returns `None` unless the text has the shape of a
    /// key: 1 to 64 characters of `[A-Za-z0-9_-]`.
    pub fn from_stored(text: &str) -> Option<Self> {
        let ok = !text.is_empty()
            && text.len() <= 64
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        ok.then(|| Self::from_ascii(text.as_bytes()))
    }
}

impl fmt::Display for StoreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.as_str();
        write!(f, "StoreKey({}…)", s.get(..6).unwrap_or(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_ids_round_trip_and_differ() {
        let a = SessionId::random();
        let b = SessionId::random();
        assert_ne!(a, b);
        let text = a.to_string();
        assert_eq!(text.len(), ID_TEXT_LEN);
        assert_eq!(SessionId::parse(&text), Ok(a));
    }

    #[test]
    fn parse_rejects_wrong_shapes() {
        let good = SessionId::random().to_string();
        assert_eq!(SessionId::parse(""), Err(IdError::Length));
        assert_eq!(SessionId::parse(&good[..42]), Err(IdError::Length));
        assert_eq!(SessionId::parse(&format!("{good}A")), Err(IdError::Length));
        let mut bad = good.clone().into_bytes();
        bad[10] = b'+';
        assert_eq!(SessionId::parse_bytes(&bad), Err(IdError::Encoding));
        bad[10] = 0xff;
        assert_eq!(SessionId::parse_bytes(&bad), Err(IdError::Encoding));
        // Padding and standard-alphabet characters are not accepted.
        let mut padded = good[..42].to_owned();
        padded.push('=');
        assert_eq!(SessionId::parse(&padded), Err(IdError::Encoding));
    }

    #[test]
    fn parse_rejects_non_canonical_trailing_bits() {
        // 43 chars encode 258 bits; the last 2 must be zero.
        let text = "A".repeat(42) + "B";
        assert_eq!(SessionId::parse(&text), Err(IdError::Encoding));
        let text = "A".repeat(42) + "E";
        assert!(SessionId::parse(&text).is_ok());
    }

    #[test]
    fn hashed_key_hides_the_id() {
        let id = SessionId::random();
        let key = id.hashed_key();
        assert_eq!(key.as_str().len(), 43);
        assert!(!key.as_str().contains(&id.to_string()));
        assert_eq!(key, id.hashed_key());
        assert_eq!(id.plain_key().as_str(), id.to_string());
    }

    #[test]
    fn debug_does_not_print_the_whole_id() {
        let id = SessionId::random();
        let dbg = format!("{id:?}");
        assert!(!dbg.contains(&id.to_string()));
    }

    #[test]
    fn store_key_from_stored_validates() {
        assert!(StoreKey::from_stored("abc-_09").is_some());
        assert!(StoreKey::from_stored("").is_none());
        assert!(StoreKey::from_stored("a b").is_none());
        assert!(StoreKey::from_stored(&"a".repeat(65)).is_none());
    }
}
