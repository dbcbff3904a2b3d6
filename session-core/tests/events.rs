//! Lifecycle events reach the hook with stable names, and store calls are
//! measured.

use std::sync::{Arc, Mutex};

use session_core::{
    Event, EventHook, EventKind, MemoryStore, RequestMeta, SessionConfig, SessionManager,
};

/// (kind, user, op, ok) of one event.
type Seen = (
    EventKind,
    Option<String>,
    Option<&'static str>,
    Option<bool>,
);

#[derive(Default)]
struct Recorder(Mutex<Vec<Seen>>);

impl EventHook for Recorder {
    fn on_event(&self, e: &Event<'_>) {
        self.0
            .lock()
            .unwrap()
            .push((e.kind, e.user.map(str::to_owned), e.op, e.ok));
    }
}

impl Recorder {
    fn take(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
    fn kinds(&self) -> Vec<EventKind> {
        self.take()
            .into_iter()
            .map(|e| e.0)
            .filter(|k| *k != EventKind::StoreCall)
            .collect()
    }
}

async fn run(
    m: &SessionManager,
    cookie: Option<&str>,
    f: impl AsyncFnOnce(&session_core::Session),
) -> Option<String> {
    let header = cookie.map(|c| format!("id={c}"));
    let s = m.start(header.iter().map(|h| h.as_bytes()), RequestMeta::default());
    f(&s).await;
    let h = m.finish(&s).await.unwrap()?;
    let v = h.value.split(';').next()?.split_once('=')?.1.to_owned();
    (!v.is_empty()).then_some(v)
}

#[tokio::test]
async fn lifecycle_events_reach_the_hook() {
    let hook = Arc::new(Recorder::default());
    let config = SessionConfig::builder().key([1u8; 32]).build().unwrap();
    let m = SessionManager::new(config, MemoryStore::new()).with_event_hook(hook.clone());

    let cookie = run(&m, None, async |s| s.insert("a", 1).await.unwrap())
        .await
        .unwrap();
    assert_eq!(hook.kinds(), [EventKind::Created]);

    run(&m, Some(&cookie), async |s| {
        s.get::<u32>("a").await.unwrap();
    })
    .await;
    let events = hook.take();
    assert!(
        events.contains(&(EventKind::Loaded, None, None, None)),
        "{events:?}"
    );
    assert!(
        events.contains(&(EventKind::StoreCall, None, Some("load"), Some(true))),
        "store call not measured: {events:?}"
    );

    let cookie = run(&m, Some(&cookie), async |s| {
        s.regenerate().await.unwrap();
        s.set_user("ada").await.unwrap();
    })
    .await
    .unwrap();
    assert_eq!(hook.kinds(), [EventKind::Loaded, EventKind::IdRotated]);

    let other = run(&m, None, async |s| {
        s.set_user("ada").await.unwrap();
        s.insert("b", 2).await.unwrap();
    })
    .await
    .unwrap();
    let events = hook.take();
    assert!(
        events.contains(&(EventKind::Created, Some("ada".into()), None, None)),
        "{events:?}"
    );
    assert_eq!(m.revoke_all("ada").await.unwrap(), 2);
    assert_eq!(hook.kinds(), [EventKind::Revoked, EventKind::Revoked]);

    let fresh = run(&m, None, async |s| s.insert("c", 3).await.unwrap())
        .await
        .unwrap();
    hook.take();
    run(&m, Some(&fresh), async |s| s.destroy()).await;
    assert_eq!(hook.kinds(), [EventKind::Destroyed]);
    assert_eq!(EventKind::IdRotated.as_str(), "id_rotated");
    let _ = (cookie, other);
}
