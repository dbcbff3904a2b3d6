//! Runs one of the cookie fast paths, or its plain version, `N` times: the
//! noise-free companion of `benches/fast_paths.rs`, for instruction counts
//! under callgrind. Per call: (Ir with `N` - Ir with 0) / `N`.
//!
//! `valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!   target/release/examples/fast_paths_ir <case> <N>`, case one of
//! `split_hand`, `split_crate`, `split_none_hand`, `split_none_crate`,
//! `expires_hand`, `expires_crate`.

use std::hint::black_box;

use session_core::__private as cookie;
use session_core::SessionId;
use time::{Duration, OffsetDateTime};

fn main() {
    let mut args = std::env::args().skip(1);
    let case = args.next().unwrap_or_default();
    let n: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(0);
    let config = session_core::testing::config("key 1");
    let signed = config.keys().sign(&SessionId::from_bytes([3; 32]));
    let mut others = String::new();
    for i in 0..10 {
        others.push_str(&format!("other_cookie_{i}=value-{i}-abcdefghijklmnop; "));
    }
    let with_ours = format!("{others}id={signed}");
    let none_ours = others.trim_end_matches("; ").to_owned();
    let now = OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap();
    let at = now + Duration::hours(24);
    let (with_ours, none_ours) = (with_ours.as_bytes(), none_ours.as_bytes());
    for _ in 0..n {
        let (signed, at) = (black_box(signed.as_str()), black_box(at));
        match case.as_str() {
            "split_hand" => drop(black_box(cookie::verdict(&config, [black_box(with_ours)]))),
            "split_crate" => drop(black_box(cookie::plain::verdict(
                &config,
                black_box(with_ours),
            ))),
            "split_none_hand" => drop(black_box(cookie::verdict(&config, [black_box(none_ours)]))),
            "split_none_crate" => drop(black_box(cookie::plain::verdict(
                &config,
                black_box(none_ours),
            ))),
            "expires_hand" => drop(black_box(cookie::render_set(
                &config,
                signed,
                Some(at),
                now,
                true,
            ))),
            "expires_crate" => drop(black_box(cookie::plain::render_set(
                &config, signed, at, now,
            ))),
            other => panic!("unknown case {other:?}"),
        }
    }
}
