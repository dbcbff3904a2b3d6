#![allow(missing_docs)] // criterion_group! generates undocumented items
//! Criterion benches of the core: ids, signing, cookie parsing and whole
//! request lifecycles on MemoryStore. Allocation counts per lifecycle are
//! printed by the `alloc_counts` bench.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use session_core::__private::Keys;
use session_core::{Key, MemoryStore, RequestMeta, SessionId, SessionManager};

mod support;
use support::{block_on, setup_session};

fn ids_and_keys(c: &mut Criterion) {
    c.bench_function("id_generate", |b| b.iter(SessionId::random));
    let keys = Keys::new(Key::new(&session_core::test_key("key 1")).unwrap());
    let id = SessionId::random();
    c.bench_function("sign", |b| b.iter(|| keys.sign(black_box(&id))));
    let signed = keys.sign(&id);
    c.bench_function("verify_current_key", |b| {
        b.iter(|| keys.verify(black_box(signed.as_bytes())))
    });
    let rotated = Keys::new(Key::new(&session_core::test_key("key 9")).unwrap())
        .with_previous(Key::new(&session_core::test_key("key 8")).unwrap())
        .with_previous(Key::new(&session_core::test_key("key 7")).unwrap())
        .with_previous(Key::new(&session_core::test_key("key 1")).unwrap());
    c.bench_function("verify_previous_key_among_4", |b| {
        b.iter(|| rotated.verify(black_box(signed.as_bytes())))
    });
    c.bench_function("store_key_hash", |b| b.iter(|| black_box(&id).hashed_key()));
}

fn cookie_parse(c: &mut Criterion) {
    let config = session_core::testing::config("key 1");
    let others: String = (0..10)
        .map(|i| format!("other_cookie_{i}=value-{i}-abcdefghijklmnop; "))
        .collect();
    let header = format!("{others}id={}", config.keys().sign(&SessionId::random()));
    c.bench_function("cookie_parse_and_verify_10_others", |b| {
        b.iter(|| session_core::__private::verdict(&config, [black_box(header.as_bytes())]))
    });
}

fn lifecycles(c: &mut Criterion) {
    let config = session_core::testing::config("key 1");
    let manager = SessionManager::new(config, MemoryStore::new());
    let cookie = setup_session(&manager);
    let header = cookie.as_bytes();

    c.bench_function("lifecycle_untouched", |b| {
        b.iter(|| {
            block_on(async {
                let s = manager.start([black_box(header)], RequestMeta::default());
                manager.finish(&s).await.unwrap()
            })
        })
    });
    c.bench_function("lifecycle_unmodified_loaded", |b| {
        b.iter(|| {
            block_on(async {
                let s = manager.start([black_box(header)], RequestMeta::default());
                let v: Option<u64> = s.get("n").await.unwrap();
                black_box(v);
                manager.finish(&s).await.unwrap()
            })
        })
    });
    c.bench_function("lifecycle_modified", |b| {
        b.iter(|| {
            block_on(async {
                let s = manager.start([black_box(header)], RequestMeta::default());
                s.update("n", |n: Option<u64>| n.unwrap_or(0) + 1)
                    .await
                    .unwrap();
                manager.finish(&s).await.unwrap()
            })
        })
    });
    c.bench_function("lifecycle_new_session", |b| {
        b.iter(|| {
            block_on(async {
                let s = manager.start([], RequestMeta::default());
                s.insert("n", 1u64).await.unwrap();
                manager.finish(&s).await.unwrap()
            })
        })
    });
}

criterion_group!(benches, ids_and_keys, cookie_parse, lifecycles);
criterion_main!(benches);
