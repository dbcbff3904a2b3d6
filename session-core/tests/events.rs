//! Lifecycle events reach the hook with stable names, and store calls are
//! measured.

use std::sync::{Arc, Mutex};

use session_core::{Event, EventHook, EventKind, MemoryStore, RequestMeta, SessionManager};

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
    m: &SessionManager, cookie: Option<&str>, f: impl AsyncFnOnce(&session_core::Session),
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
    let config = session_core::testing::config("key 1");
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

/// (kind, session) of every security event a request's values cause.
#[derive(Default)]
struct Sessions(Mutex<Vec<(EventKind, Option<String>)>>);

impl EventHook for Sessions {
    fn on_event(&self, e: &Event<'_>) {
        if e.kind != EventKind::StoreCall {
            self.0
                .lock()
                .unwrap()
                .push((e.kind, e.session.map(str::to_owned)));
        }
    }
}

/// An invalid signature, a malformed value, an unknown id and a duplicate
/// cookie name each give their event; every event names its session by a
/// keyed hash prefix that shares nothing with the id.
#[tokio::test]
async fn security_events_name_sessions_by_a_keyed_hash() {
    let hook = Arc::new(Sessions::default());
    let config = session_core::testing::config("events");
    let other = session_core::testing::config("another app");
    let m = SessionManager::new(config.clone(), MemoryStore::new()).with_event_hook(hook.clone());
    let take = || std::mem::take(&mut *hook.0.lock().unwrap());
    let id = session_core::SessionId::random();
    let id_text = id.to_string();

    let forged = other.keys().sign(&id);
    run(&m, Some(&forged), async |s| drop(s.get::<i32>("a").await)).await;
    let seen = take();
    assert_eq!(seen[0].0, EventKind::InvalidSignature, "{seen:?}");
    let tag = seen[0].1.clone().expect("a session tag");

    run(&m, Some("garbage"), async |_| {}).await;
    assert_eq!(take(), vec![(EventKind::MalformedValue, None)]);

    // A validly signed id the store does not know.
    let unknown = config.keys().sign(&id);
    run(&m, Some(&unknown), async |s| drop(s.get::<i32>("a").await)).await;
    let seen = take();
    assert_eq!(seen, vec![(EventKind::UnknownId, Some(tag.clone()))]);

    // Two cookies with our name.
    let s = m.start(
        [format!("id={unknown}; id=other").as_bytes()],
        RequestMeta::default(),
    );
    drop(s);
    let kinds: Vec<EventKind> = take().into_iter().map(|e| e.0).collect();
    assert!(kinds.contains(&EventKind::DuplicateCookie), "{kinds:?}");

    // The tag: 12 hex characters, the same for the same id, sharing no
    // 6-character run with the id text.
    assert_eq!(tag.len(), 12);
    assert!(tag.bytes().all(|b| b.is_ascii_hexdigit()), "{tag}");
    for window in tag.as_bytes().windows(6) {
        let w = std::str::from_utf8(window).unwrap();
        assert!(!id_text.contains(w), "{tag} shares {w} with {id_text}");
    }
    // A created session's events use a tag too, never the id's prefix.
    let cookie = run(&m, None, async |s| s.insert("a", 1).await.unwrap())
        .await
        .expect("cookie");
    for (kind, session) in take() {
        if let Some(session) = session {
            assert!(!cookie.starts_with(&session[..6]), "{kind:?}: {session}");
            assert_eq!(session.len(), 12);
        }
    }
}

/// A write that meets a newer version is replayed, and the hook hears it
/// with the replay's number.
#[tokio::test]
async fn a_conflict_replay_is_an_event_with_its_number() {
    #[derive(Default)]
    struct Replays(Mutex<Vec<Option<u32>>>);
    impl EventHook for Replays {
        fn on_event(&self, e: &Event<'_>) {
            if e.kind == EventKind::ConflictReplayed {
                self.0.lock().unwrap().push(e.retry);
            }
        }
    }
    let hook = Arc::new(Replays::default());
    let m = SessionManager::new(session_core::testing::config("events"), MemoryStore::new())
        .with_event_hook(hook.clone());
    let cookie = run(&m, None, async |s| s.insert("n", 0).await.unwrap())
        .await
        .expect("a new session sets its cookie");
    let open = || m.start([format!("id={cookie}").as_bytes()], RequestMeta::default());
    let (a, b) = (open(), open());
    assert_eq!(a.get::<i32>("n").await.unwrap(), Some(0));
    assert_eq!(b.get::<i32>("n").await.unwrap(), Some(0));
    b.insert("b", 1).await.unwrap();
    m.finish(&b).await.unwrap();
    assert!(hook.0.lock().unwrap().is_empty(), "no conflict yet");
    a.insert("a", 1).await.unwrap();
    m.finish(&a).await.unwrap();
    assert_eq!(*hook.0.lock().unwrap(), [Some(1)]);
}
