//! Heap allocations per request lifecycle on MemoryStore, counted by a
//! counting global allocator (`stats_alloc`). Prints one line per
//! lifecycle; run with `cargo bench -p session-core --bench alloc_counts`.

use std::alloc::System;

use session_core::{MemoryStore, RequestMeta, SessionManager};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

mod support;
use support::{block_on, setup_session};

fn count<F: FnMut()>(name: &str, mut f: F) {
    // Warm up (first-use allocations such as lazy statics).
    for _ in 0..10 {
        f();
    }
    const N: usize = 1000;
    let region = Region::new(GLOBAL);
    for _ in 0..N {
        f();
    }
    let stats = region.change();
    println!(
        "{name:<32} {:>6.1} allocations/request {:>8.0} bytes/request",
        stats.allocations as f64 / N as f64,
        stats.bytes_allocated as f64 / N as f64
    );
}

fn main() {
    let config = session_core::testing::config("key 1");
    let manager = SessionManager::new(config, MemoryStore::new());
    let cookie = setup_session(&manager);
    let header = cookie.as_bytes();
    count("lifecycle_untouched", || {
        block_on(async {
            let s = manager.start([header], RequestMeta::default());
            manager.finish(&s).await.unwrap();
        })
    });
    count("lifecycle_unmodified_loaded", || {
        block_on(async {
            let s = manager.start([header], RequestMeta::default());
            let _: Option<u64> = s.get("n").await.unwrap();
            manager.finish(&s).await.unwrap();
        })
    });
    count("lifecycle_modified", || {
        block_on(async {
            let s = manager.start([header], RequestMeta::default());
            s.update("n", |n: Option<u64>| n.unwrap_or(0) + 1)
                .await
                .unwrap();
            manager.finish(&s).await.unwrap();
        })
    });
}
