//! The README's quick start is this crate's `counter` example.

session_core::readme_shows_counter_example!();
