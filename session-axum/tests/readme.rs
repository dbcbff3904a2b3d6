//! The README's quick start is this crate's `counter` example, and its
//! per-user snippet the `devices` example.

session_core::readme_shows_counter_example!();

#[test]
fn the_readme_shows_the_devices_example() {
    session_core::testing::assert_readme_shows(
        include_str!("../examples/devices.rs"),
        include_str!("../../README.md"),
    );
}
