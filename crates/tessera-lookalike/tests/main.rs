//! Integration tests of the lookalike detector: dnstwist's own output through it (when
//! `TESSERA_TEST_DNSTWIST` names a dnstwist executable), zero alerts on ten thousand unrelated
//! names, and a rough throughput figure (ignored; run it with `--release`).

mod dnstwist;
mod false_positives;
mod throughput;

use std::sync::OnceLock;

use tessera_lookalike::{Detector, DetectorConfig};

/// The official domains and brands of the issue: Paris 2024 and the IOC.
pub const OFFICIAL: [&str; 2] = ["paris2024.org", "olympics.com"];

/// One detector for every test, built once (it fuzzes both domains).
pub fn detector() -> &'static Detector {
    static DETECTOR: OnceLock<Detector> = OnceLock::new();
    DETECTOR.get_or_init(|| {
        let mut config = DetectorConfig::new(OFFICIAL);
        config.brands = vec!["paris2024".into(), "olympics".into(), "jo2024".into()];
        Detector::new(&config).expect("detector")
    })
}
