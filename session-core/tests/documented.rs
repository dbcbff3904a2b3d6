//! Documented behaviours that no other test exercised end to end: a
//! custom id generator, `Session::save` mid-request and `Session::reload`
//! seeing another request's write.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use session_core::testing::held::{close, manager_with, open, stored};
use session_core::{MemoryStore, SessionId};

#[tokio::test]
async fn a_custom_id_generator_makes_every_new_id() {
    let counter = Arc::new(AtomicU8::new(1));
    let next = counter.clone();
    let m = manager_with(Arc::new(MemoryStore::new()), |b| {
        b.id_generator(Arc::new(move || {
            SessionId::from_bytes([next.fetch_add(1, Ordering::Relaxed); 32])
        }))
    });
    let s = open(&m, None);
    s.insert("k", 1).await.unwrap();
    assert_eq!(s.id().await.unwrap(), SessionId::from_bytes([1; 32]));
    s.regenerate().await.unwrap();
    assert_eq!(s.id().await.unwrap(), SessionId::from_bytes([2; 32]));
    close(&m, &s).await.expect("cookie");
    assert_eq!(
        counter.load(Ordering::Relaxed),
        3,
        "one id per new id, no more"
    );
}

#[tokio::test]
async fn save_writes_before_the_end_of_the_request() {
    let m = manager_with(Arc::new(MemoryStore::new()), |b| b);
    let cookie = stored(&m, "n", 1).await;
    let a = open(&m, Some(&cookie));
    a.insert("n", 2).await.unwrap();
    a.save().await.unwrap();
    // Another request sees the save while `a` is still open.
    let b = open(&m, Some(&cookie));
    assert_eq!(b.get::<u32>("n").await.unwrap(), Some(2));
    close(&m, &b).await;
    // A change after the save is written at the end of the request.
    a.insert("n", 3).await.unwrap();
    close(&m, &a).await;
    let c = open(&m, Some(&cookie));
    assert_eq!(c.get::<u32>("n").await.unwrap(), Some(3));
}

#[tokio::test]
async fn reload_sees_another_requests_write_and_drops_local_changes() {
    let m = manager_with(Arc::new(MemoryStore::new()), |b| b);
    let cookie = stored(&m, "n", 1).await;
    let a = open(&m, Some(&cookie));
    assert_eq!(a.get::<u32>("n").await.unwrap(), Some(1));
    a.insert("mine", true).await.unwrap();
    let b = open(&m, Some(&cookie));
    b.insert("n", 5).await.unwrap();
    close(&m, &b).await;
    assert!(a.reload().await.unwrap(), "still stored");
    assert_eq!(a.get::<u32>("n").await.unwrap(), Some(5));
    assert_eq!(
        a.get::<bool>("mine").await.unwrap(),
        None,
        "the unsaved change is gone"
    );
}
