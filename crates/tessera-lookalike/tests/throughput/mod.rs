//! A rough names-per-second figure for the detector on one core. Ignored by default and never
//! asserted (timing targets belong in benchmarks): run it with
//! `cargo test -p tessera-lookalike --release --test main -- --ignored --nocapture throughput`.

use std::time::Instant;

use tessera_lookalike::fuzz::{fuzz, FuzzOptions};

use crate::detector;
use crate::false_positives::unrelated_names;

#[test]
#[ignore = "rough timing, run with --release"]
fn throughput() {
    let d = detector();
    // Mostly unrelated names, as in the certificate-transparency stream, and some lookalikes.
    let mut names = unrelated_names(50_000);
    names.extend(fuzz("paris2024.org", &FuzzOptions::default()).unwrap().into_iter().take(500).map(|c| c.ascii));
    let rounds = 10;
    let start = Instant::now();
    let mut hits = 0;
    for _ in 0..rounds {
        hits += d.count_hits(&names);
    }
    let secs = start.elapsed().as_secs_f64();
    let total = names.len() * rounds;
    eprintln!("ROUGH: {total} names in {secs:.2} s = {:.0} names/s on one core ({hits} hits)", total as f64 / secs);
}
