//! Record payload decoding (`session_core::__private::decode`): whatever bytes
//! a store hands back.
//!
//! Checked: no panic; a payload that decodes re-encodes (through `State`)
//! to a payload that decodes to the same creation time, expiry policy and
//! data. The lazy path a request takes (`State::from_payload`, which keeps
//! the bytes and reads keys without decoding the data) accepts every
//! payload `decode` accepts and reads the same values, and never panics on
//! the others.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use session_core::{SessionId, Version};
use session_core::Lifetime;
use session_core::__private::{State, decode, map_len};
use time::OffsetDateTime;

fuzz_target!(|data: &[u8]| {
    let lazy = State::from_payload(
        SessionId::from_bytes([7; 32]),
        data.to_vec(),
        Version::FIRST,
        OffsetDateTime::UNIX_EPOCH,
        None,
    );
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
        assert!(got.is_some());
        if !has_float(v) {
            assert_eq!(got.as_ref(), Some(v));
        }
    }
    let rewritten = decode(&lazy.encode()).expect("an unchanged lazy state re-encodes");
    assert!(rewritten.data.keys().eq(decoded.data.keys()));
    lazy.materialize().expect("materializes what decode decoded");
    assert!(lazy.data.keys().eq(decoded.data.keys()));
    // A neutral fresh state (no expiry arithmetic on the decoded times),
    // then the decoded fields.
    let neutral = Lifetime {
        idle: None,
        cap: None,
        at: Some(OffsetDateTime::UNIX_EPOCH),
        browser_session: false,
    };
    let mut state = State::fresh(
        SessionId::from_bytes([7; 32]),
        neutral,
        OffsetDateTime::UNIX_EPOCH,
    );
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
});

fn has_float(v: &Value) -> bool {
    match v {
        Value::Number(n) => n.is_f64(),
        Value::Array(a) => a.iter().any(has_float),
        Value::Object(m) => m.values().any(has_float),
        _ => false,
    }
}
