//! Issue 16's API frictions: `destroy` is synchronous; `set_label` and
//! `set_expiry` record a change without a store call at the time of the
//! call (total store calls per request unchanged); `remove_value` needs no
//! type parameter.

use std::sync::Arc;

use session_core::testing::CountingStore;
use session_core::{Expiry, MemoryStore, RequestMeta, Session, SessionConfig, SessionManager};

fn manager() -> (SessionManager, Arc<session_core::testing::CallCounts>) {
    let counting = CountingStore::new(Arc::new(MemoryStore::new()));
    let counts = counting.counts.clone();
    let config = SessionConfig::builder()
        .key(session_core::test_key("key 9"))
        .build()
        .expect("config");
    (SessionManager::from_arc(config, Arc::new(counting)), counts)
}

fn open(m: &SessionManager, cookie: Option<&str>) -> Session {
    let header = cookie.map(|c| format!("id={c}"));
    m.start(header.iter().map(|h| h.as_bytes()), RequestMeta::default())
}

async fn close(m: &SessionManager, s: &Session) -> Option<String> {
    let h = m.finish(s).await.expect("finish")?;
    let first = h.value.split(';').next()?.to_owned();
    Some(first.split_once('=')?.1.to_owned())
}

async fn stored(m: &SessionManager) -> String {
    let s = open(m, None);
    s.insert("k", 1).await.unwrap();
    close(m, &s).await.expect("cookie")
}

#[tokio::test]
async fn set_label_and_set_expiry_make_no_store_call_until_the_end() {
    let (m, counts) = manager();
    let cookie = stored(&m).await;
    let before = counts.snapshot();
    let s = open(&m, Some(&cookie));
    s.set_label("laptop").await.unwrap();
    s.set_expiry(Expiry::BrowserSession).await.unwrap();
    assert_eq!(counts.snapshot(), before, "a store call before the end");
    close(&m, &s).await;
    let (load, _, save, ..) = counts.snapshot();
    assert_eq!(
        (load - before.0, save - before.2),
        (1, 1),
        "one load, one save"
    );
    // Both changes were stored.
    let s = open(&m, Some(&cookie));
    assert!(s.lifetime().await.unwrap().browser_session);
    assert_eq!(s.get::<u64>("k").await.unwrap(), Some(1));
}

#[tokio::test]
async fn a_label_set_before_a_read_is_seen_by_it() {
    let (m, _) = manager();
    let cookie = stored(&m).await;
    let s = open(&m, Some(&cookie));
    s.set_expiry(Expiry::BrowserSession).await.unwrap();
    assert!(s.lifetime().await.unwrap().browser_session);
}

#[tokio::test]
async fn destroy_is_synchronous_and_wins_over_deferred_changes() {
    let (m, counts) = manager();
    let cookie = stored(&m).await;
    let s = open(&m, Some(&cookie));
    s.set_label("laptop").await.unwrap();
    let before = counts.snapshot();
    s.destroy();
    assert_eq!(counts.snapshot(), before, "destroy made a store call");
    assert!(
        s.is_new().await.unwrap(),
        "a destroyed session reads as fresh"
    );
    let out = m.finish(&s).await.unwrap().expect("removal cookie");
    assert!(out.value.starts_with("id=;"), "{}", out.value);
    let again = open(&m, Some(&cookie));
    assert!(
        again.is_new().await.unwrap(),
        "the destroyed session still loads"
    );
}

#[tokio::test]
async fn remove_value_needs_no_type() {
    let (m, _) = manager();
    let s = open(&m, None);
    s.insert("k", "v").await.unwrap();
    assert_eq!(
        s.remove_value("k").await.unwrap(),
        Some(serde_json::json!("v"))
    );
    assert_eq!(s.remove_value("k").await.unwrap(), None);
}
