//! The in-memory state of one session during one request: data, change log,
//! version and flags; and the record payload codec.

use std::fmt;
use std::io;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::{Duration, OffsetDateTime};

use crate::expiry::Lifetime;
use crate::id::SessionId;
use crate::store::Version;

/// The storage format number written into every record payload.
pub const FORMAT: u32 = 1;

/// A read-modify-write function recorded by `Session::update`, re-run on the
/// fresh value when a save conflicts.
pub type UpdateFn = Arc<dyn Fn(Option<&Value>) -> Result<Value, serde_json::Error> + Send + Sync>;

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
    /// A value could not be converted to or from JSON.
    #[error("session value could not be (de)serialized")]
    Json(#[from] serde_json::Error),
}

/// The state of a session within one request.
#[derive(Debug, Clone)]
pub struct State {
    /// The session id the response will carry.
    pub id: SessionId,
    /// The data.
    pub data: Map<String, Value>,
    /// The stored version; `None` while the session is not in the store.
    pub version: Option<Version>,
    /// When the session was created.
    pub created_at: OffsetDateTime,
    /// The stored expiry instant (for a stored session), used for the touch
    /// decision.
    pub expires_at: OffsetDateTime,
    /// The expiry policy.
    pub lifetime: Lifetime,
    /// This request's change log since the last flush.
    pub changes: Vec<Change>,
    /// The policy was changed by this request.
    pub expiry_changed: bool,
    /// Store the session even if unmodified (after `regenerate`).
    pub force_save: bool,
    /// The session was destroyed in this request (the response removes the
    /// client's cookie unless a new session is started afterwards).
    pub destroyed: bool,
    /// The exact JSON size of `data`, in bytes.
    pub payload_len: usize,
    /// The user the session belongs to (`Session::set_user`), stored beside
    /// the payload so stores can index it.
    pub user: Option<String>,
    /// The user changed in this request (a login).
    pub user_changed: bool,
    /// A label the app chose for the "your devices" list (stored in the
    /// payload).
    pub label: Option<String>,
    /// When the session was last written (stored in the payload).
    pub last_write: OffsetDateTime,
}

impl State {
    /// A new, empty, unstored session.
    pub fn fresh(id: SessionId, lifetime: Lifetime, now: OffsetDateTime) -> Self {
        Self {
            id,
            data: Map::new(),
            version: None,
            created_at: now,
            expires_at: lifetime.expires_at(now),
            lifetime,
            changes: Vec::new(),
            expiry_changed: false,
            force_save: false,
            destroyed: false,
            payload_len: 2,
            user: None,
            user_changed: false,
            label: None,
            last_write: now,
        }
    }

    /// A session rebuilt from a stored payload.
    pub fn from_stored(
        id: SessionId,
        decoded: Decoded,
        version: Version,
        expires_at: OffsetDateTime,
        user: Option<String>,
    ) -> Self {
        let payload_len = map_len(&decoded.data);
        Self {
            id,
            data: decoded.data,
            version: Some(version),
            created_at: decoded.created_at,
            expires_at,
            lifetime: decoded.lifetime,
            changes: Vec::new(),
            expiry_changed: false,
            force_save: false,
            destroyed: false,
            payload_len,
            user,
            user_changed: false,
            label: decoded.label,
            last_write: decoded.last_write.unwrap_or(decoded.created_at),
        }
    }

    /// Whether the request changed anything that must be written.
    pub fn is_modified(&self) -> bool {
        !self.changes.is_empty() || self.expiry_changed || self.force_save || self.user_changed
    }

    /// Applies a change, enforcing the payload limit; on error the state is
    /// unchanged. Returns the key's new value (for `Set`/`Update`).
    pub fn apply(&mut self, change: Change, limit: usize) -> Result<Option<Value>, DataError> {
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
    /// on the fresh values.
    pub fn rebase(&mut self, fresh: State, limit: usize) -> Result<(), DataError> {
        let changes = std::mem::take(&mut self.changes);
        let mut next = State {
            id: self.id,
            lifetime: if self.expiry_changed {
                self.lifetime
            } else {
                fresh.lifetime
            },
            expiry_changed: self.expiry_changed,
            force_save: self.force_save,
            destroyed: self.destroyed,
            user: if self.user_changed {
                self.user.take()
            } else {
                fresh.user.clone()
            },
            user_changed: self.user_changed,
            label: if self.user_changed {
                self.label.take()
            } else {
                fresh.label.clone()
            },
            ..fresh
        };
        for change in changes {
            next.apply(change, limit)?;
        }
        *self = next;
        Ok(())
    }

    /// Encodes the state as a record payload.
    pub fn encode(&self) -> Vec<u8> {
        let payload = PayloadRef {
            f: FORMAT,
            c: unix_ms(self.created_at),
            i: self.lifetime.idle.map(|d| d.whole_milliseconds() as i64),
            cap: self.lifetime.cap.map(unix_ms),
            at: self.lifetime.at.map(unix_ms),
            b: self.lifetime.browser_session,
            s: Some(unix_ms(self.last_write)),
            l: self.label.as_deref(),
            d: &self.data,
        };
        let mut out = Vec::with_capacity(self.payload_len + 64);
        // Serializing a map of JSON values into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut out, &payload);
        out
    }
}

/// A decoded record payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Expiry policy.
    pub lifetime: Lifetime,
    /// Data.
    pub data: Map<String, Value>,
    /// The app's label for this session, if any.
    pub label: Option<String>,
    /// When the session was last written, if recorded.
    pub last_write: Option<OffsetDateTime>,
}

/// Why a payload could not be decoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Not the JSON shape of a payload.
    #[error("record payload is not valid")]
    Invalid(#[from] serde_json::Error),
    /// Written by a newer version of this library.
    #[error("record format {0} is newer than this library's {FORMAT}")]
    Format(u32),
    /// A timestamp or duration is out of range.
    #[error("record payload has an out-of-range time")]
    Time,
}

/// Decodes a record payload. Never panics, whatever the bytes.
pub fn decode(bytes: &[u8]) -> Result<Decoded, DecodeError> {
    let p: Payload = serde_json::from_slice(bytes)?;
    if p.f > FORMAT || p.f == 0 {
        return Err(DecodeError::Format(p.f));
    }
    let t = |ms: i64| from_unix_ms(ms).ok_or(DecodeError::Time);
    let idle = match p.i {
        Some(ms) if ms > 0 => Some(Duration::milliseconds(ms)),
        Some(_) => return Err(DecodeError::Time),
        None => None,
    };
    Ok(Decoded {
        created_at: t(p.c)?,
        lifetime: Lifetime {
            idle,
            cap: p.cap.map(t).transpose()?,
            at: p.at.map(t).transpose()?,
            browser_session: p.b,
        },
        data: p.d,
        label: p.l,
        last_write: p.s.map(t).transpose()?,
    })
}

#[derive(Serialize)]
struct PayloadRef<'a> {
    f: u32,
    c: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    i: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cap: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    at: Option<i64>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    b: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    s: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    l: Option<&'a str>,
    d: &'a Map<String, Value>,
}

#[derive(Deserialize)]
struct Payload {
    f: u32,
    c: i64,
    #[serde(default)]
    i: Option<i64>,
    #[serde(default)]
    cap: Option<i64>,
    #[serde(default)]
    at: Option<i64>,
    #[serde(default)]
    b: bool,
    #[serde(default)]
    s: Option<i64>,
    #[serde(default)]
    l: Option<String>,
    d: Map<String, Value>,
}

fn unix_ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

fn from_unix_ms(ms: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
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
    use super::*;
    use serde_json::json;
    use time::macros::datetime;

    fn state() -> State {
        let lifetime = Lifetime {
            idle: Some(Duration::seconds(60)),
            cap: Some(datetime!(2030-01-02 00:00 UTC)),
            at: None,
            browser_session: false,
        };
        State::fresh(
            SessionId::random(),
            lifetime,
            datetime!(2030-01-01 00:00 UTC),
        )
    }

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
    fn encode_decode_round_trip() {
        let mut s = state();
        s.apply(
            Change::Set("user".into(), json!({"name": "Lindani", "ü": [1, 2]})),
            usize::MAX,
        )
        .unwrap();
        let d = decode(&s.encode()).unwrap();
        assert_eq!(d.data, s.data);
        assert_eq!(d.lifetime, s.lifetime);
        assert_eq!(d.created_at, s.created_at);
    }

    #[test]
    fn decode_rejects_bad_payloads() {
        assert!(decode(b"").is_err());
        assert!(decode(b"{}").is_err());
        assert!(decode(b"\xff\xfe").is_err());
        assert!(matches!(
            decode(br#"{"f":99,"c":0,"d":{}}"#),
            Err(DecodeError::Format(99))
        ));
        assert!(matches!(
            decode(br#"{"f":1,"c":9223372036854775807,"d":{}}"#),
            Err(DecodeError::Time)
        ));
        assert!(matches!(
            decode(br#"{"f":1,"c":0,"i":-5,"d":{}}"#),
            Err(DecodeError::Time)
        ));
        assert!(decode(br#"{"f":1,"c":0,"d":{},"future":true}"#).is_ok());
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

    proptest::proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            let _ = decode(&bytes);
        }
    }
}
