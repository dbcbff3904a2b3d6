//! The deterministic simulation of concurrent requests (issue 14): every
//! interleaving of every pair of requests, then seeded schedules of three.
//! `SIMULATE_SEEDS=N` (as `cargo xtask simulate --seeds N` sets it) runs N
//! seeds instead of the default 10,000.

use session_core::testing::simulation;

#[test]
fn simulation_exhaustive_pairs_and_seeded_triples() {
    let pairs = simulation::exhaustive_pairs().unwrap_or_else(|f| panic!("{f}"));
    let seeds: u64 = std::env::var("SIMULATE_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let first: u64 = std::env::var("SIMULATE_FIRST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let triples = simulation::run_seeds(first, seeds).unwrap_or_else(|f| panic!("{f}"));
    // The count the matrix prints.
    println!(
        "simulation: {} schedules explored ({} exhaustive pairs, {} seeded triples from seed {first}), {} store calls, 0 invariant violations",
        pairs.schedules + triples.schedules,
        pairs.schedules,
        triples.schedules,
        pairs.steps + triples.steps,
    );
    assert!(pairs.schedules > 1_000, "{pairs:?}");
    assert_eq!(triples.schedules, seeds);
}
