//! The in-memory state of one session during one request: data, change log,
//! version and flags; and the record payload codec.

use std::fmt;
use std::io;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use time::{Duration, OffsetDateTime};

use crate::expiry::Lifetime;
use crate::id::SessionId;
use crate::store::Version;

/// The storage format number written into every record payload.
pub(crate) const FORMAT: u32 = 1;

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
    /// A value could not be converted to or from JSON.
    #[error("session value could not be (de)serialized")]
    Json(#[from] serde_json::Error),
}

/// The state of a session within one request.
#[derive(Debug, Clone)]
pub struct State {
    /// The session id the response will carry.
    pub id: SessionId,
    /// The data. For a session loaded from the store this map is empty
    /// until the first change: reads ([`State::get`]) scan the stored bytes
    /// instead of decoding them. Call [`State::materialize`] before reading
    /// this field directly.
    pub data: Map<String, Value>,
    /// The stored payload bytes whose `d` object `data` has not been
    /// decoded from yet.
    raw: Option<RawData>,
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
    /// The label changed in this request.
    pub label_changed: bool,
    /// When the current user logged in: the commit of `set_user` (stored
    /// in the payload). Orders "oldest" and "newest" for the per-user cap.
    pub login_at: Option<OffsetDateTime>,
    /// The user before this request's `set_user` (restored if the login is
    /// refused).
    pub prev_user: Option<String>,
    /// A pending id rotation: the stored session (id and loaded version)
    /// that `regenerate` moves away from. It is retired (compare-and-delete)
    /// before the new id is stored.
    pub rotate_from: Option<(SessionId, Version)>,
}

impl State {
    /// A new, empty, unstored session.
    pub fn fresh(id: SessionId, lifetime: Lifetime, now: OffsetDateTime) -> Self {
        Self {
            id,
            data: Map::new(),
            raw: None,
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
            label_changed: false,
            login_at: None,
            prev_user: None,
            rotate_from: None,
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
        Self::stored(id, decoded, None, payload_len, version, expires_at, user)
    }

    /// A session rebuilt from a stored payload without decoding its data:
    /// the bytes are kept, checked to hold a JSON object under `d`, and
    /// decoded only when the request changes the session. The cheap path
    /// for the common request that only reads.
    pub fn from_payload(
        id: SessionId,
        payload: Vec<u8>,
        version: Version,
        expires_at: OffsetDateTime,
        user: Option<String>,
    ) -> Result<Self, DecodeError> {
        let (meta, range) = {
            let mut p: Payload<&RawValue> = serde_json::from_slice(&payload)?;
            let text = p.d.get();
            if !text.starts_with('{') {
                return Err(invalid("session data is not a JSON object"));
            }
            // `text` borrows from `payload`: its offset locates it (checked,
            // so a wrong range can never write back other bytes).
            let start = (text.as_ptr() as usize).saturating_sub(payload.as_ptr() as usize);
            let range = start..start + text.len();
            if payload.get(range.clone()) != Some(text.as_bytes()) {
                return Err(invalid("session data could not be located"));
            }
            (p.meta()?, range)
        };
        let empty = payload
            .get(range.start + 1..range.end)
            .is_some_and(|inner| inner.iter().all(|b| b.is_ascii_whitespace() || *b == b'}'));
        let decoded = Decoded {
            created_at: meta.created_at,
            lifetime: meta.lifetime,
            data: Map::new(),
            label: meta.label,
            last_write: meta.last_write,
            login_at: meta.login_at,
        };
        let payload_len = range.len();
        let raw = RawData {
            bytes: payload,
            range,
            empty,
        };
        Ok(Self::stored(
            id,
            decoded,
            Some(raw),
            payload_len,
            version,
            expires_at,
            user,
        ))
    }

    /// The one constructor of a stored session's state.
    fn stored(
        id: SessionId,
        decoded: Decoded,
        raw: Option<RawData>,
        payload_len: usize,
        version: Version,
        expires_at: OffsetDateTime,
        user: Option<String>,
    ) -> Self {
        Self {
            id,
            data: decoded.data,
            raw,
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
            label_changed: false,
            login_at: decoded.login_at,
            prev_user: None,
            rotate_from: None,
        }
    }

    /// Decodes the stored data into [`State::data`] if that has not
    /// happened yet (and makes `payload_len` exact).
    pub fn materialize(&mut self) -> Result<(), DataError> {
        if let Some(raw) = &self.raw {
            let data: Map<String, Value> = serde_json::from_str(raw.text())?;
            self.payload_len = map_len(&data);
            self.data = data;
            self.raw = None;
        }
        Ok(())
    }

    /// The value under `key`, deserialized as `T`, without decoding the
    /// rest of the data.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, serde_json::Error> {
        match &self.raw {
            Some(raw) => raw_get(raw.text(), key),
            None => self.data.get(key).map(T::deserialize).transpose(),
        }
    }

    /// Whether the session holds no data.
    pub fn is_data_empty(&self) -> bool {
        match &self.raw {
            Some(raw) => raw.empty,
            None => self.data.is_empty(),
        }
    }

    /// Whether the request changed anything that must be written.
    pub fn is_modified(&self) -> bool {
        !self.changes.is_empty()
            || self.expiry_changed
            || self.force_save
            || self.user_changed
            || self.label_changed
    }

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

    /// Encodes the state as a record payload.
    pub fn encode(&self) -> Vec<u8> {
        let data = match &self.raw {
            Some(raw) => DataRef::Raw(raw.text()),
            None => DataRef::Map(&self.data),
        };
        let payload = PayloadRef {
            f: FORMAT,
            c: unix_ms(self.created_at),
            // Idle windows are bounded (`expiry::MAX_WINDOW`); saturate
            // rather than wrap if a bound is ever lifted.
            i: self
                .lifetime
                .idle
                .map(|d| i64::try_from(d.whole_milliseconds()).unwrap_or(i64::MAX)),
            cap: self.lifetime.cap.map(unix_ms),
            at: self.lifetime.at.map(unix_ms),
            b: self.lifetime.browser_session,
            s: Some(unix_ms(self.last_write)),
            l: self.label.as_deref(),
            u: self.login_at.map(unix_ms),
            d: data,
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
    /// When the session's user logged in, if it has one.
    pub login_at: Option<OffsetDateTime>,
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
    let mut p: Payload<Map<String, Value>> = serde_json::from_slice(bytes)?;
    let meta = p.meta()?;
    Ok(Decoded {
        created_at: meta.created_at,
        lifetime: meta.lifetime,
        data: p.d,
        label: meta.label,
        last_write: meta.last_write,
        login_at: meta.login_at,
    })
}

/// A payload that is JSON but not the shape of one.
fn invalid(why: &'static str) -> DecodeError {
    DecodeError::Invalid(<serde_json::Error as serde::de::Error>::custom(why))
}

/// A payload's fields other than the data.
struct Meta {
    created_at: OffsetDateTime,
    lifetime: Lifetime,
    label: Option<String>,
    last_write: Option<OffsetDateTime>,
    login_at: Option<OffsetDateTime>,
}

impl<D> Payload<D> {
    /// Checks the format number and converts the times.
    fn meta(&mut self) -> Result<Meta, DecodeError> {
        if self.f > FORMAT || self.f == 0 {
            return Err(DecodeError::Format(self.f));
        }
        let t = |ms: i64| from_unix_ms(ms).ok_or(DecodeError::Time);
        let idle = match self.i {
            Some(ms) if ms > 0 => Some(Duration::milliseconds(ms)),
            Some(_) => return Err(DecodeError::Time),
            None => None,
        };
        Ok(Meta {
            created_at: t(self.c)?,
            lifetime: Lifetime {
                idle,
                cap: self.cap.map(t).transpose()?,
                at: self.at.map(t).transpose()?,
                browser_session: self.b,
            },
            label: self.l.take(),
            last_write: self.s.map(t).transpose()?,
            login_at: self.u.map(t).transpose()?,
        })
    }
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
    #[serde(skip_serializing_if = "Option::is_none")]
    u: Option<i64>,
    d: DataRef<'a>,
}

/// The data as `encode` writes it: decoded, or the stored bytes as they
/// were (already compact JSON, written by `encode`).
enum DataRef<'a> {
    Map(&'a Map<String, Value>),
    Raw(&'a str),
}

impl Serialize for DataRef<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            DataRef::Map(m) => m.serialize(serializer),
            DataRef::Raw(text) => {
                let raw: &RawValue =
                    serde_json::from_str(text).map_err(<S::Error as serde::ser::Error>::custom)?;
                raw.serialize(serializer)
            }
        }
    }
}

/// Stored payload bytes and where their data object lies.
#[derive(Debug, Clone)]
struct RawData {
    bytes: Vec<u8>,
    range: std::ops::Range<usize>,
    empty: bool,
}

impl RawData {
    fn text(&self) -> &str {
        // The range was cut from a `&str` that serde_json checked.
        self.bytes
            .get(self.range.clone())
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or("{}")
    }
}

/// The value under `key` of the JSON object `object`, deserialized as `T`;
/// the other values are skipped unparsed and nothing is allocated for
/// them. With duplicate keys the last wins, as when decoding into a map.
fn raw_get<T: DeserializeOwned>(object: &str, key: &str) -> Result<Option<T>, serde_json::Error> {
    use serde::de::{DeserializeSeed, Deserializer as _, IgnoredAny, MapAccess, Visitor};

    struct Find<'k>(&'k str);
    struct IsKey<'k>(&'k str);

    impl<'de> DeserializeSeed<'de> for IsKey<'_> {
        type Value = bool;
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
            d.deserialize_str(self)
        }
    }
    impl Visitor<'_> for IsKey<'_> {
        type Value = bool;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string key")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<bool, E> {
            Ok(v == self.0)
        }
    }
    impl<'de> Visitor<'de> for Find<'_> {
        type Value = Option<&'de RawValue>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut found = None;
            while let Some(is_key) = map.next_key_seed(IsKey(self.0))? {
                if is_key {
                    found = Some(map.next_value::<&'de RawValue>()?);
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(found)
        }
    }

    let mut de = serde_json::Deserializer::from_str(object);
    let found = (&mut de).deserialize_map(Find(key))?;
    de.end()?;
    found.map(|raw| serde_json::from_str(raw.get())).transpose()
}

#[derive(Deserialize)]
struct Payload<D> {
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
    #[serde(default)]
    u: Option<i64>,
    d: D,
}

fn unix_ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

fn from_unix_ms(ms: i64) -> Option<OffsetDateTime> {
    // Seconds and milliseconds apart: no 128-bit arithmetic on every load.
    OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .ok()?
        .replace_millisecond(ms.rem_euclid(1000) as u16)
        .ok()
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

    fn loaded(payload: &[u8]) -> Result<State, DecodeError> {
        State::from_payload(
            SessionId::random(),
            payload.to_vec(),
            Version(1),
            datetime!(2030-01-01 00:00 UTC),
            None,
        )
    }

    #[test]
    fn loaded_state_reads_without_decoding_and_matches_a_full_decode() {
        let mut s = state();
        s.apply(Change::Set("n".into(), json!(7)), usize::MAX)
            .unwrap();
        s.apply(
            Change::Set("user".into(), json!({"name": "Ada", "roles": [1, 2]})),
            usize::MAX,
        )
        .unwrap();
        s.label = Some("Firefox".into());
        let payload = s.encode();
        let mut l = loaded(&payload).unwrap();
        assert!(l.data.is_empty(), "not decoded yet");
        assert!(!l.is_data_empty());
        assert_eq!(l.get::<u64>("n").unwrap(), Some(7));
        assert_eq!(
            l.get::<Value>("user").unwrap(),
            Some(json!({"name": "Ada", "roles": [1, 2]}))
        );
        assert_eq!(l.get::<u64>("missing").unwrap(), None);
        assert!(
            l.get::<u64>("user").is_err(),
            "wrong type is an error, not None"
        );
        assert_eq!(l.label.as_deref(), Some("Firefox"));
        assert_eq!(l.lifetime, s.lifetime);
        // Unchanged data is written back byte for byte.
        assert_eq!(l.encode(), payload);
        l.materialize().unwrap();
        assert_eq!(l.data, s.data);
        assert_eq!(l.payload_len, map_len(&s.data));
        assert_eq!(l.get::<u64>("n").unwrap(), Some(7));
    }

    #[test]
    fn loaded_state_edge_cases() {
        // Duplicate keys: the last wins, as in a full decode.
        let l = loaded(br#"{"f":1,"c":0,"d":{"n":1,"n":2}}"#).unwrap();
        assert_eq!(l.get::<u64>("n").unwrap(), Some(2));
        assert_eq!(
            decode(br#"{"f":1,"c":0,"d":{"n":1,"n":2}}"#).unwrap().data["n"],
            json!(2)
        );
        // Escaped keys compare by their text.
        let l = loaded(br#"{"f":1,"c":0,"d":{"\u006e":3}}"#).unwrap();
        assert_eq!(l.get::<u64>("n").unwrap(), Some(3));
        // Empty objects, with or without whitespace.
        assert!(loaded(br#"{"f":1,"c":0,"d":{}}"#).unwrap().is_data_empty());
        assert!(loaded(br#"{"f":1,"c":0,"d":{ }}"#).unwrap().is_data_empty());
        assert!(
            !loaded(br#"{"f":1,"c":0,"d":{"":0}}"#)
                .unwrap()
                .is_data_empty()
        );
        // Data that is not an object, and bad payloads, are refused.
        assert!(loaded(br#"{"f":1,"c":0,"d":[1]}"#).is_err());
        assert!(loaded(br#"{"f":1,"c":0,"d":"x"}"#).is_err());
        assert!(loaded(br#"{"f":1,"c":0,"d":{"a":}}"#).is_err());
        assert!(matches!(
            loaded(br#"{"f":9,"c":0,"d":{}}"#),
            Err(DecodeError::Format(9))
        ));
        // A change decodes first, then applies on the stored data.
        let mut l = loaded(br#"{"f":1,"c":0,"d":{"a":1}}"#).unwrap();
        l.apply(Change::Set("b".into(), json!(2)), usize::MAX)
            .unwrap();
        assert_eq!(l.data.len(), 2);
        assert_eq!(l.payload_len, map_len(&l.data));
        // The limit holds for loaded sessions too.
        let mut l = loaded(br#"{"f":1,"c":0,"d":{"a":1}}"#).unwrap();
        assert!(matches!(
            l.apply(Change::Set("b".into(), json!("long")), 10),
            Err(DataError::PayloadTooLarge { .. })
        ));
    }

    proptest::proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            let _ = decode(&bytes);
            if let Ok(l) = loaded(&bytes) {
                let _ = l.get::<Value>("a");
            }
        }

        #[test]
        fn lazy_reads_agree_with_a_full_decode(
            entries in proptest::collection::btree_map("[a-c\u{e9}\"]{0,3}", proptest::prelude::any::<i64>(), 0..6),
            probe in "[a-c\u{e9}\"]{0,3}",
        ) {
            let mut s = state();
            for (k, v) in &entries {
                s.apply(Change::Set(k.clone(), json!(v)), usize::MAX).unwrap();
            }
            let payload = s.encode();
            let l = loaded(&payload).unwrap();
            let full = decode(&payload).unwrap();
            proptest::prop_assert_eq!(l.get::<Value>(&probe).unwrap(), full.data.get(&probe).cloned());
            proptest::prop_assert_eq!(l.is_data_empty(), full.data.is_empty());
            proptest::prop_assert_eq!(l.payload_len, map_len(&full.data));
        }
    }
}
