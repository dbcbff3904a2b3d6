//! The `session_id` target: the properties are
//! `session_core::testing::fuzz::session_id` (documented there), which
//! `session-core/tests/fuzz_mirrors.rs` also checks on every `cargo test`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| session_core::testing::fuzz::session_id(data));
