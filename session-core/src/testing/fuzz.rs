//! The properties of the cargo-fuzz targets in `session-core/fuzz`, one
//! function per target. The targets call them with the fuzzer's bytes and
//! `tests/fuzz_mirrors.rs` calls them on every `cargo test` with generated
//! inputs, so the two can never check different things. Each function
//! panics on a violated property.

use serde_json::Value;
use time::OffsetDateTime;

use crate::__private::{KeyMatch, State, Verdict, decode, map_len, verdict};
use crate::{Lifetime, SessionConfig, SessionId, Version};

/// The current key of [`cookie_header`]'s fixed config.
pub const CURRENT: [u8; 32] = *b"fuzz current key: Hq7v2LmX9pR4tZ";
/// The previous key of [`cookie_header`]'s fixed config.
pub const PREVIOUS: [u8; 32] = *b"fuzz previous key: 3nWb8KdY1sJ6c";

/// The fixed configs of [`cookie_header`]: the current key with the
/// previous one still accepted, and a config signing with the previous key.
pub fn configs() -> (SessionConfig, SessionConfig) {
    let config = SessionConfig::builder()
        .key(CURRENT)
        .previous_key(PREVIOUS)
        .build()
        .expect("fixed config");
    let old = SessionConfig::builder()
        .key(PREVIOUS)
        .build()
        .expect("fixed config");
    (config, old)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The first 32 bytes of `data`, zero-padded: an id drawn from the input.
fn id_from(data: &[u8]) -> SessionId {
    let mut raw = [0u8; 32];
    for (slot, b) in raw.iter_mut().zip(data) {
        *slot = *b;
    }
    SessionId::from_bytes(raw)
}

/// The cookie header parser plus signature verification, over arbitrary
/// header bytes (split on newlines into several `Cookie` headers): no
/// panic; a `Valid` verdict only for a value that is literally in the input
/// and was signed by one of the two keys; a freshly signed value always
/// verifies, whatever junk follows it; one flipped bit never does.
pub fn cookie_header(data: &[u8]) {
    let (config, old) = configs();
    let values: Vec<&[u8]> = data.split(|b| *b == b'\n').collect();
    if let Verdict::Valid { id, key } = verdict(&config, values.iter().copied()) {
        let signed = match key {
            KeyMatch::Current => config.keys().sign(&id),
            KeyMatch::Previous => old.keys().sign(&id),
        };
        assert!(
            contains(data, signed.as_bytes()),
            "a value verified that is not in the input"
        );
    }

    // Round trip: an id from the input, signed, in front of the input.
    let id = id_from(data);
    let signed = config.keys().sign(&id);
    assert_eq!(
        config.keys().verify(signed.as_bytes()),
        Some((id, KeyMatch::Current))
    );
    assert_eq!(
        config.keys().verify(old.keys().sign(&id).as_bytes()),
        Some((id, KeyMatch::Previous))
    );
    let mut header = format!("id={signed}; ").into_bytes();
    header.extend_from_slice(values[0]);
    assert_eq!(
        verdict(&config, [header.as_slice()]),
        Verdict::Valid {
            id,
            key: KeyMatch::Current
        }
    );

    // One flipped bit anywhere in the signed value never verifies.
    let bit = data.get(32).map_or(0, |b| usize::from(*b))
        + 256 * data.get(33).map_or(0, |b| usize::from(*b));
    let bit = bit % (signed.len() * 8);
    let mut flipped = signed.into_bytes();
    flipped[bit / 8] ^= 1 << (bit % 8);
    assert_eq!(config.keys().verify(&flipped), None);
    let mut header = b"id=".to_vec();
    header.extend_from_slice(&flipped);
    let valid = matches!(verdict(&config, [header.as_slice()]), Verdict::Valid { .. });
    assert!(!valid, "a flipped bit verified");
}

/// `SessionId` parsing: whatever parses re-encodes to exactly the input
/// (43 characters of canonical base64url); the `&str` and byte parsers
/// agree; ids made from any 32 bytes round-trip; storage keys are ASCII and
/// hide the id.
pub fn session_id(data: &[u8]) {
    let parsed = SessionId::parse_bytes(data);
    if let Ok(id) = &parsed {
        assert_eq!(id.to_string().as_bytes(), data, "parse is not canonical");
    }
    if let Ok(text) = std::str::from_utf8(data) {
        assert_eq!(SessionId::parse(text), parsed);
    }
    let id = id_from(data);
    let text = id.to_string();
    assert_eq!(text.len(), 43);
    assert_eq!(SessionId::parse(&text), Ok(id));
    let key = id.hashed_key();
    let url_safe = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    assert!(key.as_str().bytes().all(url_safe));
    assert_ne!(key.as_str(), text);
    assert_eq!(id.plain_key().as_str(), text);
}

/// Record payload decoding, over whatever bytes a store hands back: no
/// panic; a payload that decodes re-encodes (through `State`) to a payload
/// that decodes to the same creation time, expiry policy and data. The
/// lazy path a request takes (`State::from_payload`, which keeps the bytes
/// and reads keys without decoding the data) accepts every payload
/// `decode` accepts and reads the same values, and never panics on the
/// others.
pub fn record_decode(data: &[u8]) {
    let id = SessionId::from_bytes([7; 32]);
    let epoch = OffsetDateTime::UNIX_EPOCH;
    let lazy = State::from_payload(id, data.to_vec(), Version::FIRST, epoch, None);
    let Ok(decoded) = decode(data) else {
        // Not decodable as a whole (e.g. nested deeper than serde_json's
        // limit): the lazy path may still accept it; nothing may panic.
        if let Ok(mut lazy) = lazy {
            let _ = lazy.get::<Value>("a");
            let _ = lazy.encode();
            let _ = lazy.materialize();
        }
        return;
    };
    let mut lazy = lazy.expect("the lazy path accepts what decode accepts");
    assert_eq!(lazy.is_data_empty(), decoded.data.is_empty());
    for (k, v) in &decoded.data {
        let got = lazy.get::<Value>(k).expect("a decoded value reads back");
        assert!(got.is_some(), "key {k:?} not read back");
        if !has_float(v) {
            assert_eq!(got.as_ref(), Some(v));
        }
    }
    let rewritten = decode(&lazy.encode()).expect("an unchanged lazy state re-encodes");
    assert!(rewritten.data.keys().eq(decoded.data.keys()));
    lazy.materialize()
        .expect("materializes what decode decoded");
    assert!(lazy.data.keys().eq(decoded.data.keys()));
    // A neutral fresh state (no expiry arithmetic on the decoded times),
    // then the decoded fields.
    let neutral = Lifetime {
        idle: None,
        cap: None,
        at: Some(epoch),
        browser_session: false,
    };
    let mut state = State::fresh(id, neutral, epoch);
    state.created_at = decoded.created_at;
    state.lifetime = decoded.lifetime;
    state.data = decoded.data.clone();
    state.payload_len = map_len(&state.data);
    let again = decode(&state.encode()).expect("a re-encoded payload decodes");
    assert_eq!(again.created_at, decoded.created_at);
    assert_eq!(again.lifetime, decoded.lifetime);
    // serde_json's default float parser is not always correctly rounded,
    // so a float may move by one unit in the last place; everything else
    // must be exact.
    assert!(again.data.keys().eq(decoded.data.keys()));
    if !decoded.data.values().any(has_float) {
        assert_eq!(again.data, decoded.data);
    }
}

/// Whether a JSON value holds a float anywhere.
pub fn has_float(v: &Value) -> bool {
    match v {
        Value::Number(n) => n.is_f64(),
        Value::Array(a) => a.iter().any(has_float),
        Value::Object(m) => m.values().any(has_float),
        _ => false,
    }
}
