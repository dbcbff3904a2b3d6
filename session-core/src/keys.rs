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
}

/// One HMAC-SHA256 key, with its keyed state prepared once.
#[derive(Clone)]
pub struct Key {
    prepared: HmacSha256,
}

impl Key {
    /// A key from secret bytes; at least 32 bytes.
    pub fn new(secret: &[u8]) -> Result<Self, KeyError> {
        if secret.len() < MIN_KEY_BYTES {
            return Err(KeyError::TooShort(secret.len()));
        }
        // HMAC accepts keys of any length; this cannot fail.
        let prepared = HmacSha256::new_from_slice(secret).map_err(|_| KeyError::TooShort(0))?;
        Ok(Self { prepared })
    }

    /// A fresh random 64-byte key (for development and tests).
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
        Key::new(&[b; 32]).unwrap()
    }

    #[test]
    fn short_keys_are_rejected() {
        assert_eq!(Key::new(&[0; 31]).unwrap_err(), KeyError::TooShort(31));
        assert!(Key::new(&[0; 32]).is_ok());
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

        #[test]
        fn sign_verify_round_trips(raw in any::<[u8; 32]>(), secret in proptest::collection::vec(any::<u8>(), 32..80)) {
            let keys = Keys::new(Key::new(&secret).unwrap());
            let id = SessionId::from_bytes(raw);
            let signed = keys.sign(&id);
            prop_assert_eq!(keys.verify(signed.as_bytes()), Some((id, KeyMatch::Current)));
        }
    }
}
