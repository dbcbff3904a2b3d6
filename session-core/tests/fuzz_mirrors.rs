//! Proptest mirrors of the cargo-fuzz targets in `session-core/fuzz`
//! (`cookie_header`, `session_id`, `record_decode`): the same properties,
//! checked on every `cargo test` with generated inputs shaped like the
//! fuzzers' seeds (signed values, near-misses, junk, non-UTF-8 bytes).
//!
//! Also the regression test of a finding next to the fuzzed code:
//! `decoded_lifetime_never_panics_the_request` (a huge stored idle window
//! used to panic the expiry arithmetic).

use proptest::prelude::*;
use session_core::testing::fuzz::{self, CURRENT, configs};
use session_core::{SessionConfig, SessionId};

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
                    .key(session_core::test_key("key 51"))
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
        fuzz::cookie_header(&[data, extra].concat());
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
        fuzz::session_id(&data);
    }

    /// Mirror of the `record_decode` fuzz target.
    #[test]
    fn record_decode(data in payload()) {
        fuzz::record_decode(&data);
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
    let created = session_core::Clock::now(&session_core::SystemClock).unix_timestamp() * 1000;
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
