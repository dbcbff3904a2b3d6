//! The change log of one request: applying a change under the payload limit
//! while keeping the exact JSON length of the data up to date without
//! re-serializing it, and replaying the log onto fresh data after a
//! compare-and-swap conflict.

use std::fmt;
use std::io;
use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value};

use super::State;

/// A read-modify-write function recorded by `Session::update`, re-run on the
/// fresh value when a save conflicts.
pub(crate) type UpdateFn =
    Arc<dyn Fn(Option<&Value>) -> Result<Value, serde_json::Error> + Send + Sync>;

/// One entry of a request's change log.
#[derive(Clone)]
pub enum Change {
    /// A key was set to a value.
    Set(String, Value),
    /// A key was removed.
    Remove(String),
    /// All keys were removed.
    Clear,
    /// A key was updated with a function of its previous value.
    Update(String, UpdateFn),
}

impl fmt::Debug for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::Set(k, _) => write!(f, "Set({k:?})"),
            Change::Remove(k) => write!(f, "Remove({k:?})"),
            Change::Clear => f.write_str("Clear"),
            Change::Update(k, _) => write!(f, "Update({k:?})"),
        }
    }
}

/// Why a session operation failed (other than the store).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The data would exceed the configured maximum payload size; the
    /// session is unchanged.
    #[error("session data would be {size} bytes, the limit is {limit}")]
    PayloadTooLarge {
        /// The size the data would have had.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// A user id or label is longer than its bound
    /// ([`Session::MAX_USER_BYTES`](crate::Session::MAX_USER_BYTES),
    /// [`Session::MAX_LABEL_BYTES`](crate::Session::MAX_LABEL_BYTES)); the
    /// session is unchanged.
    #[error("session {field} is {len} bytes, the limit is {limit}")]
    TooLong {
        /// `user` or `label`.
        field: &'static str,
        /// Its length in bytes.
        len: usize,
        /// The bound.
        limit: usize,
    },
    /// A value could not be converted to or from JSON.
    #[error("session value could not be (de)serialized")]
    Json(#[from] serde_json::Error),
}

impl State {
    /// Applies a change, enforcing the payload limit; on error the state is
    /// unchanged. Returns the key's new value (for `Set`/`Update`).
    pub fn apply(&mut self, change: Change, limit: usize) -> Result<Option<Value>, DataError> {
        self.materialize()?;
        let (key, new_value) = match &change {
            Change::Clear => {
                self.data.clear();
                self.payload_len = 2;
                self.changes.push(change);
                return Ok(None);
            }
            Change::Remove(key) => {
                if let Some(old) = self.data.remove(key) {
                    self.payload_len = self.len_without(key, &old, self.data.len() + 1);
                }
                self.changes.push(change);
                return Ok(None);
            }
            Change::Set(key, value) => (key, value.clone()),
            Change::Update(key, f) => (key, f(self.data.get(key))?),
        };
        let mut len = match self.data.get(key) {
            Some(old) => self.len_without(key, old, self.data.len()),
            None => self.payload_len,
        };
        len += entry_len(key, &new_value) + usize::from(len > 2);
        if len > limit {
            return Err(DataError::PayloadTooLarge { size: len, limit });
        }
        self.payload_len = len;
        self.data.insert(key.clone(), new_value.clone());
        self.changes.push(change);
        Ok(Some(new_value))
    }

    /// The JSON length once the entry `key: old` is gone from a map of
    /// `entries` entries.
    fn len_without(&self, key: &str, old: &Value, entries: usize) -> usize {
        // Removing one entry also removes one comma unless it was the only one.
        let comma = usize::from(entries > 1);
        self.payload_len
            .saturating_sub(entry_len(key, old) + comma)
            .max(2)
    }

    /// Replays this request's change log onto a fresh copy of the stored
    /// data (after a compare-and-swap conflict). `Update` functions re-run
    /// on the fresh values; what this request set (expiry policy, user,
    /// label, pending rotation) wins over the fresh record's. On error
    /// (the replay would pass the payload limit) `self` is unchanged, its
    /// change log included.
    pub fn rebase(&mut self, fresh: State, limit: usize) -> Result<(), DataError> {
        let mut next = State {
            id: self.id,
            lifetime: if self.expiry_changed {
                self.lifetime
            } else {
                fresh.lifetime
            },
            expiry_changed: self.expiry_changed,
            force_save: self.force_save,
            touch_requested: self.touch_requested,
            destroyed: self.destroyed,
            user: if self.user_changed {
                self.user.clone()
            } else {
                fresh.user.clone()
            },
            user_changed: self.user_changed,
            prev_user: if self.user_changed {
                fresh.user.clone()
            } else {
                None
            },
            login_at: if self.user_changed {
                self.login_at
            } else {
                fresh.login_at
            },
            label: if self.label_changed {
                self.label.clone()
            } else {
                fresh.label.clone()
            },
            label_changed: self.label_changed,
            changes: Vec::with_capacity(self.changes.len()),
            ..fresh
        };
        // The limit holds for the result, not for each step of the replay:
        // a request that set a large value and removed it again replays.
        for change in &self.changes {
            next.apply(change.clone(), usize::MAX)?;
        }
        if next.payload_len > limit {
            return Err(DataError::PayloadTooLarge {
                size: next.payload_len,
                limit,
            });
        }
        if let Some((old, _)) = self.rotate_from {
            // Still rotating away from the record just reloaded.
            next.rotate_from = next.version.take().map(|v| (old, v));
        }
        *self = next;
        Ok(())
    }
}

struct Counter(usize);

impl io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn json_len<T: Serialize + ?Sized>(v: &T) -> usize {
    let mut c = Counter(0);
    let _ = serde_json::to_writer(&mut c, v);
    c.0
}

fn entry_len(key: &str, value: &Value) -> usize {
    json_len(key) + 1 + json_len(value)
}

/// The exact JSON length of a map.
pub fn map_len(map: &Map<String, Value>) -> usize {
    json_len(map)
}

#[cfg(test)]
mod tests {
    use super::super::sample as state;
    use super::*;
    use crate::store::Version;
    use serde_json::json;

    #[test]
    fn payload_len_is_exact_through_every_change() {
        let mut s = state();
        let steps = vec![
            Change::Set("a".into(), json!(1)),
            Change::Set("b".into(), json!("two")),
            Change::Set("a".into(), json!({"x": [1, 2, 3]})),
            Change::Set("ü".into(), json!("é\"\n")),
            Change::Remove("b".into()),
            Change::Remove("missing".into()),
            Change::Update(
                "n".into(),
                Arc::new(|v| Ok(json!(v.and_then(Value::as_i64).unwrap_or(0) + 1))),
            ),
            Change::Remove("a".into()),
            Change::Remove("ü".into()),
            Change::Remove("n".into()),
            Change::Set("z".into(), json!(null)),
            Change::Clear,
            Change::Set("q".into(), json!([])),
        ];
        for step in steps {
            let label = format!("{step:?}");
            s.apply(step, usize::MAX).unwrap();
            assert_eq!(s.payload_len, map_len(&s.data), "after {label}");
        }
    }

    #[test]
    fn limit_rejects_and_leaves_state_unchanged() {
        let mut s = state();
        s.apply(Change::Set("k".into(), json!("v")), 20).unwrap();
        let before = s.data.clone();
        let err = s
            .apply(Change::Set("big".into(), json!("x".repeat(30))), 20)
            .unwrap_err();
        assert!(matches!(err, DataError::PayloadTooLarge { limit: 20, .. }));
        assert_eq!(s.data, before);
        assert_eq!(s.changes.len(), 1);
        // Exactly at the limit is accepted.
        let mut s = state();
        let exact =
            map_len(&serde_json::from_value::<Map<String, Value>>(json!({"k": "vv"})).unwrap());
        s.apply(Change::Set("k".into(), json!("vv")), exact)
            .unwrap();
    }

    #[test]
    fn rebase_replays_changes_on_fresh_data() {
        let mut mine = state();
        mine.version = Some(Version(1));
        mine.apply(Change::Set("mine".into(), json!(1)), usize::MAX)
            .unwrap();
        mine.apply(
            Change::Update(
                "n".into(),
                Arc::new(|v| Ok(json!(v.and_then(Value::as_i64).unwrap_or(0) + 1))),
            ),
            usize::MAX,
        )
        .unwrap();
        let mut theirs = state();
        theirs.id = mine.id;
        theirs.version = Some(Version(2));
        theirs.data.insert("n".into(), json!(41));
        theirs.data.insert("theirs".into(), json!(true));
        theirs.payload_len = map_len(&theirs.data);
        mine.rebase(theirs, usize::MAX).unwrap();
        assert_eq!(mine.version, Some(Version(2)));
        assert_eq!(mine.data.get("n"), Some(&json!(42)));
        assert_eq!(mine.data.get("theirs"), Some(&json!(true)));
        assert_eq!(mine.data.get("mine"), Some(&json!(1)));
        assert_eq!(mine.changes.len(), 2);
        assert_eq!(mine.payload_len, map_len(&mine.data));
    }
}
