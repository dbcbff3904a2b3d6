//! The `metrics` feature: a recorder installed by the app receives the
//! lifecycle counters and the store-call histogram, with exact figures for
//! a scripted run (one test: the recorder is global to this binary).

use std::collections::BTreeMap;
use std::sync::Arc;

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use session_core::MemoryStore;
use session_core::testing::FailingStore;
use session_core::testing::held::{close, close_removes, manager_with, open, stored};

/// Every figure as `name{label=value,...}`: a counter's value, or a
/// histogram's number of samples.
fn figures(snapshotter: &metrics_util::debugging::Snapshotter) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let key = key.key();
        let labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        let name = format!("{}{{{}}}", key.name(), labels.join(","));
        let n = match value {
            DebugValue::Counter(n) => n,
            DebugValue::Histogram(samples) => samples.len() as u64,
            DebugValue::Gauge(_) => continue,
        };
        out.insert(name, n);
    }
    out
}

#[tokio::test]
async fn a_recorder_sees_the_lifecycle_and_every_store_call() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder
        .install()
        .expect("the only recorder of this test binary");

    let store = Arc::new(FailingStore::new(Arc::new(MemoryStore::new())));
    let m = manager_with(store.clone(), |b| b);

    // A new session (create), then two requests of it at once: both load,
    // the second to save meets the first's version and replays (load, save).
    let cookie = stored(&m, "n", 0).await;
    let a = open(&m, Some(&cookie));
    let b = open(&m, Some(&cookie));
    assert_eq!(a.get::<i32>("n").await.unwrap(), Some(0));
    assert_eq!(b.get::<i32>("n").await.unwrap(), Some(0));
    b.insert("b", 1).await.unwrap();
    close(&m, &b).await;
    a.insert("a", 1).await.unwrap();
    close(&m, &a).await;
    let s = open(&m, Some(&cookie));
    assert_eq!(s.get::<i32>("a").await.unwrap(), Some(1));
    assert_eq!(
        s.get::<i32>("b").await.unwrap(),
        Some(1),
        "the replay kept b"
    );
    // A login on that session: a new id.
    s.regenerate().await.unwrap();
    let cookie = close(&m, &s).await.expect("a new id sets the cookie");
    // A logout.
    let s = open(&m, Some(&cookie));
    s.destroy();
    assert!(close_removes(&m, &s).await);
    // A failing write.
    store.fail_writes(true);
    let s = open(&m, None);
    s.insert("n", 1).await.unwrap();
    assert!(m.finish(&s).await.is_err(), "the create fails");
    store.fail_writes(false);

    let got = figures(&snapshotter);
    let want: BTreeMap<String, u64> = [
        ("session_created_total{}", 1),
        // a, b, the replay's reload of a, and the login's request.
        ("session_loaded_total{}", 4),
        ("session_conflicts_replayed_total{}", 1),
        ("session_regenerated_total{}", 1),
        ("session_destroyed_total{}", 1),
        ("session_store_errors_total{op=create}", 1),
        // the new session, and the login's new id (stored before the old
        // one is retired).
        ("session_store_call_seconds{op=create,outcome=ok}", 2),
        ("session_store_call_seconds{op=create,outcome=error}", 1),
        // a, b, the replay, the login's request (a logout deletes by key,
        // unloaded).
        ("session_store_call_seconds{op=load,outcome=ok}", 4),
        // b's save, a's refused save and its replay.
        ("session_store_call_seconds{op=save,outcome=ok}", 3),
        // the login's rotation retires the old id; the logout deletes.
        ("session_store_call_seconds{op=retire,outcome=ok}", 1),
        ("session_store_call_seconds{op=delete,outcome=ok}", 1),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(got, want);
}
