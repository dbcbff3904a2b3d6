#![doc = include_str!("../../../README.md")]
//!
//! ---
//!
//! *This crate (`readme-check`, never published) exists for its doctests:
//! `cargo test -p readme-check --doc` compiles every Rust snippet of the
//! README above and of each page under `docs/` (the modules below), and
//! runs those that need no server. Its `tests/` check that the README
//! shows the adapters' `counter` and `devices` examples verbatim.*

/// `docs/migrating-from-express-session.md`
#[doc = include_str!("../../../docs/migrating-from-express-session.md")]
pub mod migrating_from_express_session {}

/// `docs/migrating-from-tower-sessions.md`
#[doc = include_str!("../../../docs/migrating-from-tower-sessions.md")]
pub mod migrating_from_tower_sessions {}

/// `docs/choosing-a-store.md`
#[doc = include_str!("../../../docs/choosing-a-store.md")]
pub mod choosing_a_store {}

/// `docs/behind-a-proxy.md`
#[doc = include_str!("../../../docs/behind-a-proxy.md")]
pub mod behind_a_proxy {}

/// `docs/several-instances.md`
#[doc = include_str!("../../../docs/several-instances.md")]
pub mod several_instances {}
