//! The record payload: a compact JSON object with the format number, the
//! times, the expiry policy, the label and the data under `d`.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use time::{Duration, OffsetDateTime};

use super::State;
use crate::expiry::Lifetime;

/// The storage format number written into every record payload.
pub(crate) const FORMAT: u32 = 1;

impl State {
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
pub(super) fn invalid(why: &'static str) -> DecodeError {
    DecodeError::Invalid(<serde_json::Error as serde::de::Error>::custom(why))
}

/// A payload's fields other than the data.
pub(super) struct Meta {
    pub(super) created_at: OffsetDateTime,
    pub(super) lifetime: Lifetime,
    pub(super) label: Option<String>,
    pub(super) last_write: Option<OffsetDateTime>,
    pub(super) login_at: Option<OffsetDateTime>,
}

impl<D> Payload<D> {
    /// Checks the format number and converts the times.
    pub(super) fn meta(&mut self) -> Result<Meta, DecodeError> {
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

#[derive(Deserialize)]
pub(super) struct Payload<D> {
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
    pub(super) d: D,
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

#[cfg(test)]
mod tests {
    use super::super::{Change, sample as state};
    use super::*;
    use serde_json::json;

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
}
