//! `cargo +nightly fuzz run verify` (from `crates/tessera-credential`): any byte string gets a
//! decision, never a panic, and nothing but the genuine code is ever admitted.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tessera_credential::fixture::{verify_with, Fixture};

struct Setup {
    fixture: Fixture,
    genuine: Vec<u8>,
}

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let fixture = Fixture::new(1);
        let genuine = fixture.code();
        assert!(verify_with(&fixture, &genuine).is_valid());
        Setup { fixture, genuine }
    })
}

fuzz_target!(|data: &[u8]| {
    let s = setup();

    // 1. The input as a scanned code, with the fixed key set.
    let decision = verify_with(&s.fixture, data);
    assert!(!decision.is_valid() || data == s.genuine.as_slice(), "forged code admitted");

    // 2. The input as an xor patch over the genuine code (explores near-valid codes); input bytes
    //    past the code's end extend it.
    let mut mutated = s.genuine.clone();
    for (i, b) in data.iter().enumerate() {
        match mutated.get_mut(i) {
            Some(m) => *m ^= b,
            None => mutated.push(*b),
        }
    }
    let decision = verify_with(&s.fixture, &mutated);
    assert!(!decision.is_valid() || mutated == s.genuine, "mutated code admitted");
});
