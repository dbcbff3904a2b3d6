//! Proptest mirrors of the cargo-fuzz targets in `session-core/fuzz`
//! (`cookie_header`, `session_id`, `record_decode`): the same properties,
//! checked on every `cargo test` with generated inputs shaped like the
//! fuzzers' seeds (signed values, near-misses, junk, non-UTF-8 bytes).
//!
//! Also the regression test of a finding next to the fuzzed code:
//! `decoded_lifetime_never_panics_the_request` (a huge stored idle window
//! used to panic the expiry arithmetic).

use proptest::prelude::*;
use serde_json::Value;
use session_core::__private::{KeyMatch, State, Verdict, decode, map_len, verdict};
use session_core::{Clock as _, Lifetime, SessionConfig, SessionId};
use time::OffsetDateTime;

const CURRENT: [u8; 32] = [0x11; 32];
const PREVIOUS: [u8; 32] = [0x22; 32];

fn configs() -> (SessionConfig, SessionConfig) {
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

/// Header bytes: junk, cookie pairs, and signed values (ours, the previous
/// key's, a stranger's), some of them damaged.
fn header() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..64),
        "[a-z_]{1,8}=[ -~]{0,40}".prop_map(String::into_bytes),
        (any::<[u8; 32]>(), 0u8..3, any::<u16>(), any::<bool>()).prop_map(
            |(raw, which, flip, damage)| {
                let (config, old) = configs();
                let stranger = SessionConfig::builder()
                    .key([0x33; 32])
                    .build()
                    .expect("fixed config");
                let id = SessionId::from_bytes(raw);
                let mut value = match which {
                    0 => config.keys().sign(&id),
                    1 => old.keys().sign(&id),
                    _ => stranger.keys().sign(&id),
                }
                .into_bytes();
                if damage {
                    let bit = usize::from(flip) % (value.len() * 8);
                    value[bit / 8] ^= 1 << (bit % 8);
                }
                [b"id=".as_slice(), &value].concat()
            }
        ),
        Just(b"id=".to_vec()),
        Just(vec![b'A'; 5000]),
    ];
    proptest::collection::vec(piece, 0..6).prop_map(|pieces| pieces.join(&b"; "[..]))
}

fn has_float(v: &Value) -> bool {
    match v {
        Value::Number(n) => n.is_f64(),
        Value::Array(a) => a.iter().any(has_float),
        Value::Object(m) => m.values().any(has_float),
        _ => false,
    }
}

/// Payload-shaped JSON with arbitrary field values, plus raw bytes.
fn payload() -> impl Strategy<Value = Vec<u8>> {
    let json_value = prop_oneof![
        Just("null".to_owned()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<bool>().prop_map(|b| b.to_string()),
        "[a-z]{0,8}".prop_map(|s| format!("{s:?}")),
        Just("[1,2,{\"a\":null}]".to_owned()),
    ];
    let shaped = (
        0u32..4,
        any::<i64>(),
        proptest::option::of(any::<i64>()),
        proptest::option::of(any::<i64>()),
        proptest::option::of(-1i64..4_102_444_800_000),
        any::<bool>(),
        proptest::collection::btree_map("[a-z]{0,4}", json_value, 0..4),
    )
        .prop_map(|(f, c, i, cap, at, b, d)| {
            let mut s = format!("{{\"f\":{f},\"c\":{c}");
            if let Some(i) = i {
                s.push_str(&format!(",\"i\":{i}"));
            }
            if let Some(cap) = cap {
                s.push_str(&format!(",\"cap\":{cap}"));
            }
            if let Some(at) = at {
                s.push_str(&format!(",\"at\":{at}"));
            }
            if b {
                s.push_str(",\"b\":true");
            }
            let d: Vec<String> = d.iter().map(|(k, v)| format!("{k:?}:{v}")).collect();
            s.push_str(&format!(",\"d\":{{{}}}}}", d.join(",")));
            s.into_bytes()
        });
    prop_oneof![shaped, proptest::collection::vec(any::<u8>(), 0..128)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    /// Mirror of the `cookie_header` fuzz target.
    #[test]
    fn cookie_header(data in header(), extra in proptest::collection::vec(any::<u8>(), 0..16)) {
        let (config, old) = configs();
        let mut data = data;
        data.extend_from_slice(&extra);
        let values: Vec<&[u8]> = data.split(|b| *b == b'\n').collect();
        if let Verdict::Valid { id, key } = verdict(&config, values.iter().copied()) {
            let signed = match key {
                KeyMatch::Current => config.keys().sign(&id),
                KeyMatch::Previous => old.keys().sign(&id),
            };
            prop_assert!(contains(&data, signed.as_bytes()), "a value verified that is not in the input");
        }

        let mut raw = [0u8; 32];
        for (slot, b) in raw.iter_mut().zip(&data) {
            *slot = *b;
        }
        let id = SessionId::from_bytes(raw);
        let signed = config.keys().sign(&id);
        prop_assert_eq!(config.keys().verify(signed.as_bytes()), Some((id, KeyMatch::Current)));
        prop_assert_eq!(
            config.keys().verify(old.keys().sign(&id).as_bytes()),
            Some((id, KeyMatch::Previous))
        );
        let mut header = format!("id={signed}; ").into_bytes();
        header.extend_from_slice(data.split(|b| *b == b'\n').next().unwrap_or_default());
        prop_assert_eq!(
            verdict(&config, [header.as_slice()]),
            Verdict::Valid { id, key: KeyMatch::Current }
        );

        let bit = data.get(32).map_or(0, |b| usize::from(*b))
            + 256 * data.get(33).map_or(0, |b| usize::from(*b));
        let bit = bit % (signed.len() * 8);
        let mut flipped = signed.into_bytes();
        flipped[bit / 8] ^= 1 << (bit % 8);
        prop_assert_eq!(config.keys().verify(&flipped), None);
        let mut header = b"id=".to_vec();
        header.extend_from_slice(&flipped);
        let valid = matches!(verdict(&config, [header.as_slice()]), Verdict::Valid { .. });
        prop_assert!(!valid, "a flipped bit verified");
    }

    /// Mirror of the `session_id` fuzz target.
    #[test]
    fn session_id(
        data in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..64),
            "[A-Za-z0-9_=+/-]{43}".prop_map(String::into_bytes),
            any::<[u8; 32]>().prop_map(|b| SessionId::from_bytes(b).to_string().into_bytes()),
        ]
    ) {
        let parsed = SessionId::parse_bytes(&data);
        if let Ok(id) = &parsed {
            let text = id.to_string();
            prop_assert_eq!(text.as_bytes(), data.as_slice(), "parse is not canonical");
        }
        if let Ok(text) = std::str::from_utf8(&data) {
            prop_assert_eq!(SessionId::parse(text), parsed);
        }
        let mut raw = [0u8; 32];
        for (slot, b) in raw.iter_mut().zip(&data) {
            *slot = *b;
        }
        let id = SessionId::from_bytes(raw);
        let text = id.to_string();
        prop_assert_eq!(text.len(), 43);
        prop_assert_eq!(SessionId::parse(&text), Ok(id));
        let key = id.hashed_key();
        prop_assert!(key.as_str().bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        prop_assert_ne!(key.as_str(), text.as_str());
        let plain = id.plain_key();
        prop_assert_eq!(plain.as_str(), text.as_str());
    }

    /// Mirror of the `record_decode` fuzz target.
    #[test]
    fn record_decode(data in payload()) {
        // The lazy path of a request: accepts what `decode` accepts and
        // reads the same values; never panics on anything.
        let lazy = State::from_payload(
            SessionId::from_bytes([7; 32]),
            data.clone(),
            session_core::Version::FIRST,
            OffsetDateTime::UNIX_EPOCH,
            None,
        );
        let Ok(decoded) = decode(&data) else {
            if let Ok(mut lazy) = lazy {
                let _ = lazy.get::<Value>("a");
                let _ = lazy.encode();
                let _ = lazy.materialize();
            }
            return Ok(());
        };
        prop_assert!(lazy.is_ok(), "decode accepted a payload the lazy path refused");
        let mut lazy = lazy.unwrap_or_else(|e| panic!("{e}"));
        prop_assert_eq!(lazy.is_data_empty(), decoded.data.is_empty());
        for (k, v) in &decoded.data {
            let got = lazy.get::<Value>(k);
            prop_assert!(matches!(got, Ok(Some(_))), "key {:?} not read back", k);
            if !has_float(v) {
                let got = got.ok().flatten();
                prop_assert_eq!(got.as_ref(), Some(v));
            }
        }
        let rewritten = decode(&lazy.encode());
        prop_assert!(rewritten.is_ok(), "an unchanged lazy state does not re-encode");
        let rewritten = rewritten.unwrap_or_else(|e| panic!("{e}"));
        prop_assert!(rewritten.data.keys().eq(decoded.data.keys()));
        prop_assert!(lazy.materialize().is_ok());
        prop_assert!(lazy.data.keys().eq(decoded.data.keys()));
        let neutral = Lifetime {
            idle: None,
            cap: None,
            at: Some(OffsetDateTime::UNIX_EPOCH),
            browser_session: false,
        };
        let mut state = State::fresh(SessionId::from_bytes([7; 32]), neutral, OffsetDateTime::UNIX_EPOCH);
        state.created_at = decoded.created_at;
        state.lifetime = decoded.lifetime;
        state.data = decoded.data.clone();
        state.payload_len = map_len(&state.data);
        let again = decode(&state.encode());
        prop_assert!(again.is_ok(), "a re-encoded payload does not decode");
        let again = again.unwrap_or_else(|e| panic!("{e}"));
        prop_assert_eq!(again.created_at, decoded.created_at);
        prop_assert_eq!(again.lifetime, decoded.lifetime);
        prop_assert!(again.data.keys().eq(decoded.data.keys()));
        if !decoded.data.values().any(has_float) {
            prop_assert_eq!(again.data, decoded.data);
        }
    }
}

/// A stored payload whose idle window is huge (decode accepts any positive
/// millisecond count) must not panic the request that loads it: the
/// expiry arithmetic (`last_active + idle`) has to saturate or the record
/// has to be refused as undecodable.
#[tokio::test]
async fn decoded_lifetime_never_panics_the_request() {
    use std::sync::Arc;

    use session_core::{MemoryStore, RequestMeta, SessionManager, Store, Version};

    let store = Arc::new(MemoryStore::new());
    let config = SessionConfig::builder()
        .key(CURRENT)
        .build()
        .expect("config");
    let manager = Arc::new(SessionManager::from_arc(config, store.clone()));
    let session = manager.start([], RequestMeta::default());
    session.insert("k", 1).await.expect("insert");
    let header = manager
        .finish(&session)
        .await
        .expect("finish")
        .expect("cookie");
    let cookie = header.value.split(';').next().expect("pair").to_owned();
    let key = session.id().await.expect("id").hashed_key();
    let mut record = store.load(&key).await.expect("load").expect("record");
    let expected = record.version;
    let created = session_core::SystemClock.now().unix_timestamp() * 1000;
    record.payload =
        format!(r#"{{"f":1,"c":{created},"i":9000000000000000000,"d":{{"k":1}}}}"#).into_bytes();
    record.version = Version(expected.0 + 1);
    store.save(&record, expected).await.expect("save");

    let outcome = tokio::spawn(async move {
        let session = manager.start([cookie.as_bytes()], RequestMeta::default());
        let _ = session.get::<i64>("k").await;
        let _ = manager.finish(&session).await;
    })
    .await;
    assert!(
        outcome.is_ok(),
        "loading a stored record with a huge idle window panicked"
    );
}
