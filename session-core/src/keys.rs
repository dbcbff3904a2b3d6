//! Signing keys, key rotation and the signed cookie value `<id>.<mac>`.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac as _};
use sha2::Sha256;

use crate::id::{ID_TEXT_LEN, SessionId};

type HmacSha256 = Hmac<Sha256>;

/// Minimum key length in bytes.
pub(crate) const MIN_KEY_BYTES: usize = 32;

/// Length of the base64url text of an HMAC-SHA256 tag.
pub(crate) const MAC_TEXT_LEN: usize = 43;

/// Length of a signed value: `<43 id chars>.<43 mac chars>`.
pub(crate) const SIGNED_LEN: usize = ID_TEXT_LEN + 1 + MAC_TEXT_LEN;

/// Why a key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key is shorter than 32 bytes.
    #[error("signing key is {0} bytes, at least 32 are required")]
    TooShort(usize),
    /// The key contains a well-known placeholder (`changeme`, `keyboard
    /// cat`, `your-secret-key`, ...): copied from an example, not secret.
    #[error("signing key contains the placeholder {0:?}: generate a key (openssl rand -base64 48)")]
    Placeholder(&'static str),
    /// The key is one byte repeated (`[0u8; 32]`, `"xxxx..."`).
    #[error("signing key is one byte repeated: generate a key (openssl rand -base64 48)")]
    RepeatedByte,
    /// The key repeats a block shorter than 32 bytes (`"secret"` or
    /// `"keyboard cat"` repeated to length): it holds no more secret than
    /// that block.
    #[error("signing key repeats a {0}-byte block: generate a key (openssl rand -base64 48)")]
    ShortPeriod(usize),
}

/// Phrases of examples and tutorials that mark a key as a placeholder,
/// matched case-insensitively anywhere in the key. None can occur in hex
/// text, and in random base64 text only with negligible chance (the
/// shortest is 8 letters: 2^-48 per position).
const PLACEHOLDERS: &[&str] = &[
    "changeme",
    "change-me",
    "change_me",
    "change me",
    "changethis",
    "change-this",
    "change_this",
    "keyboard cat",
    "keyboardcat",
    "your-secret",
    "your_secret",
    "yoursecret",
    "your secret",
    "secret-key",
    "secret_key",
    "secretkey",
    "placeholder",
    "replaceme",
    "replace-me",
    "replace_me",
    "insecure",
    "not-a-secret",
    "notasecret",
];

/// The smallest `p` such that `secret[i] == secret[i % p]` for every `i`
/// (the last block may be cut short) and the block occurs at least twice
/// in full; else the length. (A longer "period" would rest on a few
/// chance equalities: a random 32-byte key has `secret[0] == secret[31]`
/// once in 256.)
fn period(secret: &[u8]) -> usize {
    (1..=secret.len() / 2)
        .find(|&p| secret.iter().zip(&secret[p..]).all(|(a, b)| a == b))
        .unwrap_or(secret.len())
}

/// Why `secret` is not a usable key, if it is not.
fn weakness(secret: &[u8]) -> Option<KeyError> {
    if secret.len() < MIN_KEY_BYTES {
        return Some(KeyError::TooShort(secret.len()));
    }
    let lower = secret.to_ascii_lowercase();
    if let Some(p) = PLACEHOLDERS
        .iter()
        .find(|p| lower.windows(p.len()).any(|w| w == p.as_bytes()))
    {
        return Some(KeyError::Placeholder(p));
    }
    match period(secret) {
        1 => Some(KeyError::RepeatedByte),
        p if p < MIN_KEY_BYTES => Some(KeyError::ShortPeriod(p)),
        _ => None,
    }
}

/// One HMAC-SHA256 key, with its keyed state prepared once.
#[derive(Clone)]
pub struct Key {
    prepared: HmacSha256,
}

impl Key {
    /// A key from secret bytes: at least 32 bytes, and not an obvious
    /// non-secret: a well-known placeholder ([`KeyError::Placeholder`]), one
    /// byte repeated ([`KeyError::RepeatedByte`]) or a block shorter than
    /// 32 bytes repeated ([`KeyError::ShortPeriod`]). Every random key
    /// passes, raw or as hex or base64 text. Produce one with
    /// `openssl rand -base64 48` (64 characters) or [`Key::generate`].
    ///
    /// ```
    /// use session_core::{Key, KeyError};
    /// assert_eq!(Key::new(&[0u8; 32]).unwrap_err(), KeyError::RepeatedByte);
    /// assert!(matches!(Key::new(b"keyboard cat keyboard cat keyboard cat"), Err(KeyError::Placeholder(_))));
    /// assert!(Key::new(b"q3Jx0mZ1Vb8sN4uR7tYe2WcK9pLhA6dF5gHjS0kQwE1rT").is_ok());
    /// ```
    pub fn new(secret: &[u8]) -> Result<Self, KeyError> {
        if let Some(e) = weakness(secret) {
            return Err(e);
        }
        // HMAC accepts keys of any length; this cannot fail.
        let prepared = HmacSha256::new_from_slice(secret).map_err(|_| KeyError::TooShort(0))?;
        Ok(Self { prepared })
    }

    /// A fresh random 64-byte key from the OS CSPRNG. Sessions signed with
    /// it end when the process does; a production key comes from a secret
    /// store (`openssl rand -base64 48`).
    ///
    /// ```
    /// let key = session_core::Key::generate();
    /// assert_eq!(format!("{key:?}"), "Key(..)");
    /// ```
    pub fn generate() -> Self {
        let mut secret = [0u8; 64];
        for chunk in secret.chunks_mut(32) {
            chunk.copy_from_slice(SessionId::random().as_bytes());
        }
        Self {
            prepared: HmacSha256::new_from_slice(&secret).unwrap_or_else(|_| unreachable_key()),
        }
    }

    fn mac(&self, id_text: &[u8]) -> HmacSha256 {
        let mut mac = self.prepared.clone();
        mac.update(id_text);
        mac
    }
}

/// A deterministic 64-byte key for tests, doctests and examples: the
/// SHA-256 of `label` and of its first digest, so different labels give
/// unrelated keys and none is a repeated byte or a placeholder. Never use
/// it in production: anyone who reads the label has the key. A production
/// key comes from a secret store or `openssl rand -base64 48`.
///
/// ```
/// use session_core::{SessionConfig, test_key};
/// assert_ne!(test_key("a"), test_key("b"));
/// let config = SessionConfig::builder().key(test_key("docs")).build()?;
/// # let _ = config;
/// # Ok::<(), session_core::ConfigError>(())
/// ```
pub fn test_key(label: &str) -> [u8; 64] {
    use sha2::Digest as _;
    let first = Sha256::digest(label.as_bytes());
    let second = Sha256::digest(first);
    let mut key = [0u8; 64];
    key[..32].copy_from_slice(&first);
    key[32..].copy_from_slice(&second);
    key
}

#[allow(clippy::panic)]
fn unreachable_key() -> HmacSha256 {
    panic!("HMAC accepts keys of every length")
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(..)")
    }
}

/// The signing keys: one current key and any number of previous keys.
///
/// Values are signed with the current key and verified against all keys, so
/// a key can be rotated without logging everybody out; a value signed with a
/// previous key is re-issued signed with the current one.
#[derive(Clone, Debug)]
pub struct Keys {
    current: Key,
    previous: Vec<Key>,
}

/// Which key verified a signed value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyMatch {
    /// The current key.
    Current,
    /// A previous key: the value must be re-issued with the current key.
    Previous,
}

impl Keys {
    /// Keys with only a current key.
    pub fn new(current: Key) -> Self {
        Self {
            current,
            previous: Vec::new(),
        }
    }

    /// Adds a previous key, still accepted for verification.
    pub fn with_previous(mut self, key: Key) -> Self {
        self.previous.push(key);
        self
    }

    /// Signs an id: `<id>.<mac>`.
    pub fn sign(&self, id: &SessionId) -> String {
        let mut id_buf = [0u8; ID_TEXT_LEN];
        let id_text = id.encode_into(&mut id_buf);
        let tag = self.current.mac(id_text.as_bytes()).finalize().into_bytes();
        let mut out = String::with_capacity(SIGNED_LEN);
        out.push_str(id_text);
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(tag, &mut out);
        out
    }

    /// The keyed hash prefix that names a session in events and logs: the
    /// first 6 bytes, as 12 hex characters, of HMAC-SHA256 under the
    /// current key of a domain-separated id text (so it is neither a part
    /// of the id nor of the cookie's MAC). Stable for one id while the key
    /// is unchanged; useless to anyone without the key.
    pub(crate) fn event_tag<'b>(&self, id_text: &[u8], buf: &'b mut [u8; 12]) -> &'b str {
        let mut mac = self.current.prepared.clone();
        mac.update(b"session-core event\0");
        mac.update(id_text);
        let tag = mac.finalize().into_bytes();
        const HEX: &[u8; 16] = b"0123456789abcdef";
        for (i, b) in tag.iter().take(6).enumerate() {
            buf[2 * i] = HEX[usize::from(b >> 4)];
            buf[2 * i + 1] = HEX[usize::from(b & 0xf)];
        }
        std::str::from_utf8(buf).unwrap_or_default()
    }

    /// Verifies a signed value in constant time (per key) and returns the id.
    ///
    /// Returns `None` for anything that is not exactly `<id>.<mac>` with a
    /// valid id and a tag made by one of the keys.
    pub fn verify(&self, value: &[u8]) -> Option<(SessionId, KeyMatch)> {
        if value.len() != SIGNED_LEN || value.get(ID_TEXT_LEN) != Some(&b'.') {
            return None;
        }
        let (id_text, rest) = value.split_at(ID_TEXT_LEN);
        let mac_text = rest.get(1..)?;
        let id = SessionId::parse_bytes(id_text).ok()?;
        let mut tag = [0u8; 32];
        match URL_SAFE_NO_PAD.decode_slice(mac_text, &mut tag) {
            Ok(32) => {}
            _ => return None,
        }
        if self.current.mac(id_text).verify_slice(&tag).is_ok() {
            return Some((id, KeyMatch::Current));
        }
        for key in &self.previous {
            if key.mac(id_text).verify_slice(&tag).is_ok() {
                return Some((id, KeyMatch::Previous));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(b: u8) -> Key {
        Key::new(&crate::test_key(&format!("key {b}"))).unwrap()
    }

    #[test]
    fn short_keys_are_rejected() {
        assert_eq!(Key::new(&[0; 31]).unwrap_err(), KeyError::TooShort(31));
        assert!(Key::new(&crate::test_key("32")[..32]).is_ok());
    }

    #[test]
    fn weak_keys_are_rejected() {
        for (secret, expected) in [
            (vec![0u8; 32], KeyError::RepeatedByte),
            (vec![7u8; 64], KeyError::RepeatedByte),
            (b"x".repeat(64), KeyError::RepeatedByte),
            (b"secret".repeat(6), KeyError::ShortPeriod(6)),
            (
                b"abcdefghijklmnopqrstuvwxyz0123".repeat(3),
                KeyError::ShortPeriod(30),
            ),
            (
                b"keyboard cat".repeat(3),
                KeyError::Placeholder("keyboard cat"),
            ),
            (
                b"KEYBOARD CAT 0123456789 abcdefghij".to_vec(),
                KeyError::Placeholder("keyboard cat"),
            ),
            (
                b"changeme-0123456789-abcdefghijklmnop".to_vec(),
                KeyError::Placeholder("changeme"),
            ),
            (
                b"your-secret-key-goes-here-0123456789".to_vec(),
                KeyError::Placeholder("your-secret"),
            ),
            (
                b"django-insecure-0123456789abcdefghijkl".to_vec(),
                KeyError::Placeholder("insecure"),
            ),
        ] {
            assert_eq!(
                Key::new(&secret).unwrap_err(),
                expected,
                "{:?}",
                String::from_utf8_lossy(&secret)
            );
        }
        // A repeated 32-byte block is as strong as the block.
        assert!(Key::new(&crate::test_key("block")[..32].repeat(2)).is_ok());
        assert_eq!(period(b"abcabcab"), 3);
        assert_eq!(period(b"abcd"), 4);
        // One chance equality is no period.
        assert_eq!(period(b"abcda"), 5);
    }

    #[test]
    fn sign_verify_round_trip() {
        let keys = Keys::new(key(1));
        let id = SessionId::random();
        let signed = keys.sign(&id);
        assert_eq!(signed.len(), SIGNED_LEN);
        assert_eq!(
            keys.verify(signed.as_bytes()),
            Some((id, KeyMatch::Current))
        );
    }

    #[test]
    fn rotation_accepts_previous_keys_and_reports_them() {
        let old = Keys::new(key(1));
        let id = SessionId::random();
        let signed = old.sign(&id);
        let rotated = Keys::new(key(2))
            .with_previous(key(3))
            .with_previous(key(1));
        assert_eq!(
            rotated.verify(signed.as_bytes()),
            Some((id, KeyMatch::Previous))
        );
        let other = Keys::new(key(2));
        assert_eq!(other.verify(signed.as_bytes()), None);
    }

    #[test]
    fn tampering_is_rejected() {
        let keys = Keys::new(key(1));
        let signed = keys.sign(&SessionId::random()).into_bytes();
        for i in 0..signed.len() {
            let mut t = signed.clone();
            t[i] ^= 0x01;
            assert_eq!(keys.verify(&t), None, "bit flip at {i} accepted");
        }
        assert_eq!(keys.verify(&signed[..SIGNED_LEN - 1]), None);
        assert_eq!(keys.verify(b""), None);
        assert_eq!(keys.verify(&[b'.'; SIGNED_LEN]), None);
    }

    proptest! {
        #[test]
        fn verify_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let keys = Keys::new(key(7));
            prop_assert_eq!(keys.verify(&bytes), None);
        }

        /// Every random key passes, as raw bytes or as the hex or base64
        /// text a generator prints, at every accepted length.
        #[test]
        fn random_keys_pass(raw in proptest::collection::vec(any::<u8>(), 32..97)) {
            use base64::engine::general_purpose::STANDARD;
            prop_assert!(Key::new(&raw).is_ok());
            let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
            prop_assert!(Key::new(hex.as_bytes()).is_ok(), "hex {}", hex);
            let b64 = STANDARD.encode(&raw);
            prop_assert!(Key::new(b64.as_bytes()).is_ok(), "base64 {}", b64);
            let b64url = URL_SAFE_NO_PAD.encode(&raw);
            prop_assert!(Key::new(b64url.as_bytes()).is_ok(), "base64url {}", b64url);
        }

        #[test]
        fn sign_verify_round_trips(raw in any::<[u8; 32]>(), secret in proptest::collection::vec(any::<u8>(), 32..80)) {
            let keys = Keys::new(Key::new(&secret).unwrap());
            let id = SessionId::from_bytes(raw);
            let signed = keys.sign(&id);
            prop_assert_eq!(keys.verify(signed.as_bytes()), Some((id, KeyMatch::Current)));
        }
    }
}
