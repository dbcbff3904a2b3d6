//! `SessionId` parsing: strict, canonical, never panics.
//!
//! Checked: whatever parses re-encodes to exactly the input (43 characters
//! of canonical base64url); the `&str` and byte parsers agree; ids made
//! from any 32 bytes round-trip; storage keys are ASCII and hide the id.
#![no_main]

use libfuzzer_sys::fuzz_target;
use session_core::SessionId;

fuzz_target!(|data: &[u8]| {
    let parsed = SessionId::parse_bytes(data);
    if let Ok(id) = &parsed {
        assert_eq!(id.to_string().as_bytes(), data, "parse is not canonical");
    }
    if let Ok(text) = std::str::from_utf8(data) {
        assert_eq!(SessionId::parse(text), parsed);
    }

    let mut raw = [0u8; 32];
    for (slot, b) in raw.iter_mut().zip(data) {
        *slot = *b;
    }
    let id = SessionId::from_bytes(raw);
    let text = id.to_string();
    assert_eq!(text.len(), 43);
    assert_eq!(SessionId::parse(&text), Ok(id));
    let key = id.hashed_key();
    assert!(
        key.as_str()
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    assert_ne!(key.as_str(), text);
    assert_eq!(id.plain_key().as_str(), text);
});
