//! The lazy path for a loaded session: the stored payload bytes are kept,
//! and a read finds its key in them without decoding the other values; the
//! data is decoded only when the request changes the session. Most requests
//! only read.

use std::fmt;

use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::codec::{DecodeError, Payload, invalid};
use super::{DataError, State, map_len};
use crate::id::SessionId;
use crate::store::Version;

impl State {
    /// A session rebuilt from a stored payload without decoding its data:
    /// the bytes are kept, checked to hold a JSON object under `d`, and
    /// decoded only when the request changes the session. The cheap path
    /// for the common request that only reads.
    pub fn from_payload(
        id: SessionId, payload: Vec<u8>, version: Version, expires_at: OffsetDateTime,
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
        let payload_len = range.len();
        Ok(Self {
            raw: Some(RawData {
                bytes: payload,
                range,
                empty,
            }),
            version: Some(version),
            expires_at,
            payload_len,
            user,
            label: meta.label,
            last_write: meta.last_write.unwrap_or(meta.created_at),
            login_at: meta.login_at,
            ..Self::fresh(id, meta.lifetime, meta.created_at)
        })
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
}

/// Stored payload bytes and where their data object lies.
#[derive(Debug, Clone)]
pub(super) struct RawData {
    bytes: Vec<u8>,
    range: std::ops::Range<usize>,
    empty: bool,
}

impl RawData {
    pub(super) fn text(&self) -> &str {
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

#[cfg(test)]
mod tests {
    use super::super::{Change, decode, sample as state};
    use super::*;
    use serde_json::json;
    use time::macros::datetime;

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
