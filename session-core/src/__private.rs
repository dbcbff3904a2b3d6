//! Internals reached by the fuzz targets, the benches and the fuzz mirrors
//! (as axum does for its test helpers). Not part of the API: no semver
//! promise, hidden from the docs.

pub use crate::cookie::plain;
pub use crate::cookie::{Verdict, render_set, verdict};
pub use crate::decision::{CookieAction, Decision, StoreAction, decide};
pub use crate::keys::{KeyMatch, Keys};
pub use crate::state::{Change, DecodeError, State, decode, map_len};
