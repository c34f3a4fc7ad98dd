//! Hostile scanner input: nothing but a genuine, fresh, unused code opens the gate, and nothing
//! panics. These run on `Engine::decide`, the pure part of `Device::scan` (which only adds the
//! log append), so thousands of cases cost no disk syncs.

use std::sync::OnceLock;

use proptest::prelude::*;
use tessera_gate::fixture::GateFixture;
use tessera_gate::*;

const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

struct Setup {
    f: GateFixture,
    engine: Engine,
    line: Vec<u8>,
}

fn setup() -> &'static Setup {
    static S: OnceLock<Setup> = OnceLock::new();
    S.get_or_init(|| {
        let f = GateFixture::new(1);
        let engine = f.engine("A1");
        let line = f.line(42, 1, 1, f.now);
        assert!(engine.decide(&line, f.now_ms()).admitted());
        Setup { f, engine, line }
    })
}

fn admitted(line: &[u8]) -> bool {
    let s = setup();
    s.engine.decide(line, s.f.now_ms()).admitted()
}

/// Every one-character substitution of a valid line, with every Base45 character and a few
/// others, is refused.
#[test]
fn every_single_character_substitution_is_refused() {
    let s = setup();
    for i in 0..s.line.len() {
        for &c in ALPHABET.iter().chain(b"a\r\n\x00\xff") {
            if c == s.line[i] {
                continue;
            }
            let mut m = s.line.clone();
            m[i] = c;
            assert!(!admitted(&m), "byte {i} replaced by {c:#x} was admitted");
        }
    }
}

#[test]
fn every_deletion_and_truncation_is_refused() {
    let s = setup();
    for i in 0..s.line.len() {
        let mut m = s.line.clone();
        m.remove(i);
        assert!(!admitted(&m), "byte {i} deleted was admitted");
        assert!(!admitted(&s.line[..i]), "truncated to {i} was admitted");
    }
}

#[test]
fn a_line_ending_is_the_only_harmless_addition() {
    let s = setup();
    for tail in [&b"\r\n"[..], b"\n", b"\r", b"   "] {
        assert!(admitted(&[&s.line[..], tail].concat()));
    }
    for tail in [&b"0"[..], b"00", b"000", b"\t", b"\0"] {
        assert!(!admitted(&[&s.line[..], tail].concat()));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_are_never_admitted(line in proptest::collection::vec(any::<u8>(), 0..1200)) {
        prop_assert!(!admitted(&line));
    }

    #[test]
    fn arbitrary_ticket_text_is_never_admitted(body in "[0-9A-Z $%*+./:-]{0,700}") {
        let line = format!("T1:{body}");
        prop_assert!(!admitted(line.as_bytes()));
    }

    #[test]
    fn arbitrary_codes_are_never_admitted(code in proptest::collection::vec(any::<u8>(), 0..600)) {
        prop_assert!(!admitted(tessera_credential::qr_text(&code).as_bytes()));
    }

    #[test]
    fn mutations_of_a_valid_line_are_never_admitted(
        edits in proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>(), 0u8..3), 1..4)
    ) {
        let s = setup();
        let mut m = s.line.clone();
        for (at, byte, op) in edits {
            // Edits stay before the end, so no edit is a line ending added after the code.
            let i = at.index(m.len().max(1));
            match op {
                0 if i < m.len() => m[i] = byte,
                1 if i < m.len() => { m.remove(i); }
                _ => m.insert(i.min(m.len().saturating_sub(1)), byte),
            }
        }
        prop_assume!(m != s.line);
        prop_assert!(!admitted(&m), "{:?}", String::from_utf8_lossy(&m));
    }

    #[test]
    fn a_valid_line_for_a_used_ticket_is_never_admitted(ticket in 1i64..1000, dt in 0i64..30) {
        let s = setup();
        let mut engine = s.f.engine("A1");
        let t = s.f.now_ms();
        let first = engine.decide(&s.f.line(ticket, 1, 1, s.f.now), t);
        prop_assert!(first.admitted());
        engine.commit(&first);
        let second = engine.decide(&s.f.line(ticket, 1, 1, s.f.now + dt), t + dt * 1000);
        prop_assert_eq!(second.reason, "already_used");
    }
}
