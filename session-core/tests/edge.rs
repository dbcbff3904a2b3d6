//! Issue 17's core-side rules that need no HTTP: the bounds of the label
//! and the user id.

use session_core::{
    DataError, MemoryStore, RequestMeta, Session, SessionConfig, SessionError, SessionManager,
};

fn manager() -> SessionManager {
    let config = SessionConfig::builder()
        .key(session_core::test_key("edge"))
        .max_payload_bytes(1024)
        .build()
        .expect("config");
    SessionManager::new(config, MemoryStore::new())
}

fn too_long(r: Result<(), SessionError>) -> (&'static str, usize) {
    match r {
        Err(SessionError::Data(DataError::TooLong { field, len, .. })) => (field, len),
        other => panic!("expected TooLong, got {other:?}"),
    }
}

/// A 1 MB label (a client's `User-Agent`) and an over-long user id are
/// refused, whatever the payload limit, and change nothing; the bounds
/// themselves are accepted.
#[tokio::test]
async fn label_and_user_id_are_bounded() {
    let m = manager();
    let s = m.start([], RequestMeta::default());
    let huge = "u".repeat(1_000_000);
    assert_eq!(
        too_long(s.set_label(huge.clone()).await),
        ("label", 1_000_000)
    );
    let long_user = "a".repeat(Session::MAX_USER_BYTES + 1);
    assert_eq!(too_long(s.set_user(long_user).await), ("user", 256));
    assert_eq!(s.user().await.unwrap(), None);
    s.set_label("l".repeat(Session::MAX_LABEL_BYTES))
        .await
        .unwrap();
    s.set_user("a".repeat(Session::MAX_USER_BYTES))
        .await
        .unwrap();
    let header = m.finish(&s).await.unwrap().expect("a cookie");
    // Stored with the bounded values: the next request sees the user.
    let cookie = header.value.split(';').next().unwrap().to_owned();
    let s = m.start([cookie.as_bytes()], RequestMeta::default());
    assert_eq!(
        s.user().await.unwrap().map(|u| u.len()),
        Some(Session::MAX_USER_BYTES)
    );
    assert_eq!(
        session_core::adapter::error_status(&SessionError::Data(DataError::TooLong {
            field: "label",
            len: 2,
            limit: 1
        })),
        http::StatusCode::PAYLOAD_TOO_LARGE
    );
}
