#![allow(missing_docs)] // criterion_group! generates undocumented items
//! Each hand-written fast path of the core against its plain version (the
//! `cookie` crate alone), so that each keeps its place only while it pays:
//! `Cookie` header splitting (`cookie/split.rs`) and `Expires` writing
//! (`cookie/expires.rs`). Run with
//! `cargo bench -p session-core --bench fast_paths -- --warm-up-time 1 --measurement-time 3`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use session_core::__private as cookie;
use session_core::SessionId;
use time::{Duration, OffsetDateTime};

fn cookie_split(c: &mut Criterion) {
    let config = session_core::testing::config("key 1");
    let signed = config.keys().sign(&SessionId::random());
    let others: String = (0..10)
        .map(|i| format!("other_cookie_{i}=value-{i}-abcdefghijklmnop; "))
        .collect();
    let cases = [
        ("10_others_and_ours", format!("{others}id={signed}")),
        ("ours_only", format!("id={signed}")),
        (
            "10_others_none_ours",
            others.trim_end_matches("; ").to_owned(),
        ),
    ];
    let mut g = c.benchmark_group("cookie_split");
    for (name, header) in &cases {
        let header = header.as_bytes();
        assert_eq!(
            cookie::verdict(&config, [header]),
            cookie::plain::verdict(&config, header)
        );
        g.bench_function(format!("{name}/hand"), |b| {
            b.iter(|| cookie::verdict(&config, [black_box(header)]))
        });
        g.bench_function(format!("{name}/cookie_crate"), |b| {
            b.iter(|| cookie::plain::verdict(&config, black_box(header)))
        });
    }
    g.finish();
}

fn set_cookie_expires(c: &mut Criterion) {
    let config = session_core::testing::config("key 1");
    let signed = config.keys().sign(&SessionId::random());
    let now = OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap();
    let at = now + Duration::hours(24);
    assert_eq!(
        cookie::render_set(&config, &signed, Some(at), now, true),
        cookie::plain::render_set(&config, &signed, at, now)
    );
    let mut g = c.benchmark_group("set_cookie_expires");
    g.bench_function("hand", |b| {
        b.iter(|| cookie::render_set(&config, black_box(&signed), black_box(Some(at)), now, true))
    });
    g.bench_function("cookie_crate", |b| {
        b.iter(|| cookie::plain::render_set(&config, black_box(&signed), black_box(at), now))
    });
    g.finish();
}

criterion_group!(benches, cookie_split, set_cookie_expires);
criterion_main!(benches);
