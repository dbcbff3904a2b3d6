//! The server-side payload limit: an insert past `max_payload_bytes`
//! returns the typed error and the stored session is unchanged.

use std::sync::Arc;

use session_core::DataError;
use session_core::{MemoryStore, RequestMeta, SessionConfig, SessionError, SessionManager, Store};

/// Runs the check; `Ok` carries the figures for the report.
pub(crate) async fn check() -> Result<String, String> {
    let limit = 1024;
    let store = Arc::new(MemoryStore::new());
    let config = SessionConfig::builder()
        .key(session_core::test_key("key 66"))
        .max_payload_bytes(limit)
        .build()
        .map_err(|e| e.to_string())?;
    let manager = SessionManager::from_arc(config, store.clone());
    let e = |e: SessionError| e.to_string();

    let first = manager.start([], RequestMeta::default());
    first.insert("small", "ok").await.map_err(e)?;
    let header = manager
        .finish(&first)
        .await
        .map_err(e)?
        .ok_or("no cookie")?;
    let cookie = header
        .value
        .split(';')
        .next()
        .unwrap_or_default()
        .to_owned();
    let key = first.id().await.map_err(e)?.hashed_key();
    let before = store
        .load(&key)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("not stored")?;

    let second = manager.start([cookie.as_bytes()], RequestMeta::default());
    let big = "x".repeat(2 * limit);
    let size = match second.insert("big", &big).await {
        Err(SessionError::Data(DataError::PayloadTooLarge { size, limit: l })) if l == limit => {
            size
        }
        other => return Err(format!("insert past the limit returned {other:?}")),
    };
    // The handler may carry on; the rejected insert is not in the session.
    if second.get::<String>("big").await.map_err(e)?.is_some() {
        return Err("the rejected value is visible in the session".to_owned());
    }
    manager.finish(&second).await.map_err(e)?;
    let after = store
        .load(&key)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("record gone")?;
    if after.payload != before.payload || after.version != before.version {
        return Err("the stored record changed".to_owned());
    }
    let third = manager.start([cookie.as_bytes()], RequestMeta::default());
    let entries = third.entries().await.map_err(e)?;
    if entries.len() != 1 || entries.get("small").and_then(|v| v.as_str()) != Some("ok") {
        return Err(format!("the session reads {entries:?}"));
    }
    Ok(format!(
        "insert of a {size}-byte payload past the {limit}-byte limit: SessionError::Data(DataError::PayloadTooLarge), stored record byte-for-byte unchanged (version {})",
        before.version.0
    ))
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn insert_past_the_limit_is_a_typed_error_and_changes_nothing() {
        let r = super::check().await;
        assert!(r.is_ok(), "{r:?}");
    }
}
