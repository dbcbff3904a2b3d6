//! The cookie header parser plus signature verification: `verdict` over
//! arbitrary header bytes with a fixed config (current and previous key),
//! and a sign / verify round trip.
//!
//! Checked: no panic; a `Valid` verdict only for a value that is literally
//! in the input and was signed by one of the two keys; a freshly signed value
//! always verifies, whatever junk follows it; one flipped bit never does.
#![no_main]

use libfuzzer_sys::fuzz_target;
use session_core::__private::{KeyMatch, Verdict, verdict};
use session_core::{SessionConfig, SessionId};

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

fuzz_target!(|data: &[u8]| {
    let (config, old) = configs();
    // Several header values: the input split on newlines (a request may
    // carry several `Cookie` headers).
    let values: Vec<&[u8]> = data.split(|b| *b == b'\n').collect();
    match verdict(&config, values.iter().copied()) {
        Verdict::Valid { id, key } => {
            let signed = match key {
                KeyMatch::Current => config.keys().sign(&id),
                KeyMatch::Previous => old.keys().sign(&id),
            };
            assert!(
                contains(data, signed.as_bytes()),
                "a value verified that is not in the input"
            );
        }
        Verdict::Absent | Verdict::Invalid => {}
    }

    // Round trip: an id from the input, signed, in front of the input.
    let mut raw = [0u8; 32];
    for (slot, b) in raw.iter_mut().zip(data) {
        *slot = *b;
    }
    let id = SessionId::from_bytes(raw);
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
    header.extend_from_slice(data.split(|b| *b == b'\n').next().unwrap_or_default());
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
    assert!(!matches!(
        verdict(&config, [header.as_slice()]),
        Verdict::Valid { .. }
    ));
});
