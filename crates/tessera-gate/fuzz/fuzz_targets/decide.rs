//! `cargo fuzz run decide` (from `crates/tessera-gate/fuzz`, with nightly or `RUSTC_BOOTSTRAP=1`):
//! any scanner line gets a decision, never a panic, and nothing but the genuine line is ever
//! admitted. A trailing run of CR, LF and spaces after the genuine line is admitted by design
//! (keyboard-wedge scanners end lines with them; `code_from_qr_text` drops them).

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tessera_gate::fixture::GateFixture;
use tessera_gate::{Engine, GateDecision, REASONS};

struct Setup {
    engine: Engine,
    now_ms: i64,
    genuine: Vec<u8>,
}

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let f = GateFixture::new(1);
        let engine = f.engine("A1");
        let genuine = f.line(42, 1, 1, f.now);
        let now_ms = f.now_ms();
        assert!(engine.decide(&genuine, now_ms).admitted(), "the genuine line must be admitted");
        Setup { engine, now_ms, genuine }
    })
}

/// The genuine line followed only by scanner line-ending bytes (CR, LF, space), or nothing.
fn is_genuine(s: &Setup, line: &[u8]) -> bool {
    line.strip_prefix(s.genuine.as_slice()).is_some_and(|tail| tail.iter().all(|b| matches!(b, b'\r' | b'\n' | b' ')))
}

fn check(s: &Setup, line: &[u8], d: &GateDecision, what: &str) {
    assert_eq!(d.at_ms, s.now_ms);
    if d.admitted() {
        assert!(is_genuine(s, line), "{what} admitted: {:?}", String::from_utf8_lossy(line));
        assert_eq!(d.reason, "valid");
        assert_eq!((d.ticket_id, d.serial), (42, 1));
    } else {
        assert!(REASONS.contains(&d.reason), "unknown refusal reason {:?}", d.reason);
    }
}

fuzz_target!(|data: &[u8]| {
    let s = setup();

    // 1. The input as a scanner line.
    let d = s.engine.decide(data, s.now_ms);
    check(s, data, &d, "arbitrary line");

    // 2. The input as an xor patch over the genuine line (explores near-valid lines: Base45
    //    groups, the prefix, line endings); input bytes past the line's end extend it.
    let mut mutated = s.genuine.clone();
    for (i, b) in data.iter().enumerate() {
        match mutated.get_mut(i) {
            Some(m) => *m ^= b,
            None => mutated.push(*b),
        }
    }
    let d = s.engine.decide(&mutated, s.now_ms);
    check(s, &mutated, &d, "mutated line");
});
