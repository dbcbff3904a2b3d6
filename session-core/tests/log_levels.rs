//! What the library logs above `debug` names no session and no user, and
//! its events reach a `log` logger when the app installs no `tracing`
//! subscriber (actix-web apps with env_logger, Rocket).

use std::sync::{Arc, Mutex};

use session_core::testing::FailingStore;
use session_core::{MemoryStore, RequestMeta, SessionConfig, SessionManager};

/// Every record the `log` facade receives, as `level message`.
struct Capture(Mutex<Vec<String>>);

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        self.0
            .lock()
            .unwrap()
            .push(format!("{} {}", record.level(), record.args()));
    }
    fn flush(&self) {}
}

static CAPTURE: Capture = Capture(Mutex::new(Vec::new()));

#[tokio::test]
async fn above_debug_no_session_or_user_and_log_loggers_see_failures() {
    log::set_logger(&CAPTURE).expect("the only logger of this test binary");
    log::set_max_level(log::LevelFilter::Trace);

    let store = Arc::new(FailingStore::new(Arc::new(MemoryStore::new())));
    let config = SessionConfig::builder().random_key().build().unwrap();
    let m = SessionManager::from_arc(config, store.clone());
    let user = "alice-the-user";

    // A login, a read, a failing save, a logout.
    let s = m.start(std::iter::empty::<&[u8]>(), RequestMeta::default());
    s.regenerate().await.unwrap();
    s.set_user(user).await.unwrap();
    let header = m
        .finish(&s)
        .await
        .unwrap()
        .expect("a login sets the cookie");
    let cookie = header.value.split(';').next().unwrap().to_owned();
    let id_text = cookie.split_once('=').unwrap().1.to_owned();
    let open = || m.start([cookie.as_bytes()], RequestMeta::default());
    let s = open();
    assert_eq!(s.user().await.unwrap().as_deref(), Some(user));
    m.finish(&s).await.unwrap();
    store.fail_writes(true);
    let s = open();
    s.insert("k", 1).await.unwrap();
    assert!(m.finish(&s).await.is_err(), "the save fails");
    store.fail_writes(false);
    let s = open();
    s.destroy();
    m.finish(&s).await.unwrap();

    let records = CAPTURE.0.lock().unwrap().clone();
    assert!(
        records
            .iter()
            .any(|r| r.starts_with("ERROR") && r.contains("session store call failed")),
        "the store failure reached the log logger: {records:#?}"
    );
    assert!(
        records
            .iter()
            .any(|r| r.starts_with("DEBUG") && r.contains(user)),
        "the lifecycle events are there, at debug: {records:#?}"
    );
    for r in records
        .iter()
        .filter(|r| !r.starts_with("DEBUG") && !r.starts_with("TRACE"))
    {
        assert!(!r.contains(user), "a user id above debug: {r}");
        assert!(!r.contains(&id_text[..6]), "a session id above debug: {r}");
    }
}
