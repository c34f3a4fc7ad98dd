//! Focused tests: one per refusal reason, the round trip, and the threats of the design.

use tessera_credential::fixture::{device_key, verify_with, Fixture};
use tessera_credential::*;

fn refused(d: Decision) -> Reason {
    match d {
        Decision::Refused(r) => r,
        Decision::Valid(t) => panic!("unexpectedly valid: {t:?}"),
    }
}

#[test]
fn round_trip_is_valid() {
    let f = Fixture::new(1);
    let code = f.code();
    assert!(code.len() <= MAX_CODE_LEN);
    match verify_with(&f, &code) {
        Decision::Valid(t) => {
            assert_eq!(t.ticket_id, f.pass.ticket_id);
            assert_eq!(t.key_id, 7);
            assert_eq!(t.session, "S01");
            assert_eq!(t.entrance, "G4");
            assert_eq!(t.seat, f.pass.seat);
            assert_eq!(t.holder, "Zoé Martin");
            assert_eq!(t.step, step_at(f.now, 15));
        }
        d => panic!("{d:?}"),
    }
    assert_eq!(Pass::parse_unverified(&f.signed_pass), Ok(f.pass.clone()));
}

#[test]
fn generated_keys_work() {
    let mut rng = rand::thread_rng();
    let issuer = IssuerKey::generate(42, &mut rng);
    let device = p256::ecdsa::SigningKey::random(&mut rng);
    let pass = Pass {
        key_id: 42,
        ticket_id: [9; 16],
        session: "FOOT-F".into(),
        entrance: String::new(),
        seat: String::new(),
        holder: String::new(),
        valid_from: 0,
        valid_until: 2_000_000_000,
        device_key: device_public_key(&device),
    };
    let signed = pass.sign(&issuer).unwrap();
    let mut keys = TrustedKeys::new();
    keys.insert_bytes(42, &issuer.public().to_bytes(), 0, i64::MAX).unwrap();
    let now = 1_800_000_000;
    let code = make_code(&signed, &device, now, 15);
    // An empty entrance in the pass admits at any entrance.
    let ctx = GateContext { session: "FOOT-F", entrance: Some("N3"), now };
    assert!(verify(&code, &keys, &Policy::default(), &ctx).is_valid());
    let restored = IssuerKey::from_secret_bytes(42, &issuer.secret_bytes());
    assert_eq!(restored.public(), issuer.public());
    assert!(!format!("{issuer:?}").contains(&format!("{:?}", issuer.secret_bytes())));
}

#[test]
fn malformed_too_long_refused_before_parsing() {
    let f = Fixture::new(1);
    let mut code = f.code();
    code.resize(MAX_CODE_LEN + 1, 0);
    assert_eq!(refused(verify_with(&f, &code)), Reason::Malformed("code too long"));
}

#[test]
fn malformed_truncated_and_trailing() {
    let f = Fixture::new(1);
    let code = f.code();
    assert_eq!(refused(verify_with(&f, &[])).as_str(), "malformed");
    assert_eq!(refused(verify_with(&f, &code[..code.len() - 1])), Reason::Malformed("code truncated"));
    let mut longer = code.clone();
    longer.push(0);
    assert_eq!(refused(verify_with(&f, &longer)), Reason::Malformed("trailing bytes after code"));
    // The bare pass, without step and device signature.
    assert_eq!(refused(verify_with(&f, &f.signed_pass)), Reason::Malformed("code truncated"));
}

#[test]
fn wrong_version() {
    let f = Fixture::new(1);
    let mut code = f.code();
    code[0] = 2;
    assert_eq!(refused(verify_with(&f, &code)), Reason::WrongVersion);
}

#[test]
fn unknown_key_id() {
    let f = Fixture::new(1);
    let other = IssuerKey::from_secret_bytes(99, &[5; 32]);
    let pass = Pass { key_id: 99, ..f.pass.clone() };
    let code = make_code(&pass.sign(&other).unwrap(), &f.device, f.now, 15);
    assert_eq!(refused(verify_with(&f, &code)), Reason::UnknownKey);
}

#[test]
fn pass_signed_by_wrong_key_is_a_forgery() {
    // A forger who knows the key id but not the secret, and who holds their own device key.
    let f = Fixture::new(1);
    let forger = IssuerKey::from_secret_bytes(7, &[6; 32]);
    let signed = f.pass.sign(&forger).unwrap();
    let code = make_code(&signed, &f.device, f.now, 15);
    assert_eq!(refused(verify_with(&f, &code)), Reason::BadSignature);
}

#[test]
fn altered_pass_field_is_bad_signature() {
    let f = Fixture::new(1);
    // Change the seat of a genuine pass, then make a fresh device signature over it.
    let mut signed = f.signed_pass.clone();
    let at = signed.windows(5).position(|w| w == b"Block").unwrap();
    signed[at] = b'X';
    let code = make_code(&signed, &f.device, f.now, 15);
    assert_eq!(refused(verify_with(&f, &code)), Reason::BadSignature);
}

#[test]
fn sign_refuses_key_id_mismatch_and_bad_fields() {
    let f = Fixture::new(1);
    let other = IssuerKey::from_secret_bytes(8, &[5; 32]);
    assert_eq!(f.pass.sign(&other), Err(EncodeError::KeyIdMismatch { pass: 7, key: 8 }));
    let too_long = Pass { holder: "x".repeat(MAX_HOLDER_LEN + 1), ..f.pass.clone() };
    assert!(matches!(too_long.sign(&f.issuer), Err(EncodeError::InvalidField { field: "holder", .. })));
    let empty_session = Pass { session: String::new(), ..f.pass.clone() };
    assert!(matches!(empty_session.sign(&f.issuer), Err(EncodeError::InvalidField { field: "session", .. })));
    let spaced = Pass { entrance: "G 4".into(), ..f.pass.clone() };
    assert!(matches!(spaced.sign(&f.issuer), Err(EncodeError::InvalidField { field: "entrance", .. })));
    let empty = Pass { valid_until: f.pass.valid_from, ..f.pass.clone() };
    assert_eq!(empty.sign(&f.issuer), Err(EncodeError::EmptyValidity));
    let mut bad_point = f.pass.device_key;
    bad_point[0] = 4;
    let bad = Pass { device_key: bad_point, ..f.pass.clone() };
    assert_eq!(bad.sign(&f.issuer), Err(EncodeError::InvalidDeviceKey));
}

#[test]
fn copied_wallet_on_another_phone_is_refused() {
    // The pass bytes are copied, but the other phone has its own key pair.
    let f = Fixture::new(1);
    let thief = device_key(1, b"another phone");
    let code = make_code(&f.signed_pass, &thief, f.now, 15);
    assert_eq!(refused(verify_with(&f, &code)), Reason::BadDeviceSignature);
}

#[test]
fn device_signature_over_another_step_is_refused() {
    let f = Fixture::new(1);
    let mut code = f.code();
    let step_at_pos = f.signed_pass.len() + 7;
    code[step_at_pos] ^= 1;
    assert_eq!(refused(verify_with(&f, &code)), Reason::BadDeviceSignature);
}

#[test]
fn screenshot_older_than_window_is_refused() {
    let f = Fixture::new(1);
    let p = f.policy;
    let step = step_at(f.now, p.step_secs);
    let start = step as i64 * i64::from(p.step_secs);
    let code = make_code_for_step(&f.signed_pass, &f.device, step);
    let at = |now: i64| verify(&code, &f.keys, &p, &GateContext { now, ..f.context() });
    // Accepted from (start - skew) up to (start + window + skew), exclusive.
    let last = start + i64::from(p.window_secs + p.max_clock_skew_secs) - 1;
    assert!(at(start).is_valid());
    assert!(at(last).is_valid());
    assert_eq!(refused(at(last + 1)), Reason::ExpiredCode);
    assert_eq!(refused(at(start + 600)), Reason::ExpiredCode);
    // A screenshot taken a minute ago.
    let old = f.code_at(f.now - 60);
    assert_eq!(refused(verify_with(&f, &old)), Reason::ExpiredCode);
}

#[test]
fn future_code_is_refused() {
    let f = Fixture::new(1);
    let p = f.policy;
    let step = step_at(f.now, p.step_secs) + 1;
    let start = step as i64 * i64::from(p.step_secs);
    let code = make_code_for_step(&f.signed_pass, &f.device, step);
    let at = |now: i64| verify(&code, &f.keys, &p, &GateContext { now, ..f.context() });
    assert!(at(start - i64::from(p.max_clock_skew_secs)).is_valid());
    assert_eq!(refused(at(start - i64::from(p.max_clock_skew_secs) - 1)), Reason::FutureCode);
    let huge = make_code_for_step(&f.signed_pass, &f.device, u64::MAX);
    assert_eq!(refused(verify_with(&f, &huge)), Reason::FutureCode);
}

#[test]
fn pass_not_yet_valid_and_expired() {
    let f = Fixture::new(1);
    let before = f.pass.valid_from - 1;
    let code = f.code_at(before);
    let ctx = GateContext { now: before, ..f.context() };
    assert_eq!(refused(verify(&code, &f.keys, &f.policy, &ctx)), Reason::NotYetValid);

    let after = f.pass.valid_until;
    let code = f.code_at(after);
    let ctx = GateContext { now: after, ..f.context() };
    assert_eq!(refused(verify(&code, &f.keys, &f.policy, &ctx)), Reason::Expired);

    let last = f.pass.valid_until - 1;
    let code = f.code_at(last);
    let ctx = GateContext { now: last, ..f.context() };
    assert!(verify(&code, &f.keys, &f.policy, &ctx).is_valid());
}

#[test]
fn wrong_session() {
    let f = Fixture::new(1);
    let ctx = GateContext { session: "S02", ..f.context() };
    assert_eq!(refused(verify(&f.code(), &f.keys, &f.policy, &ctx)), Reason::WrongSession);
}

#[test]
fn wrong_entrance_and_any_entrance() {
    let f = Fixture::new(1);
    let code = f.code();
    let ctx = GateContext { entrance: Some("G5"), ..f.context() };
    assert_eq!(refused(verify(&code, &f.keys, &f.policy, &ctx)), Reason::WrongEntrance);
    let ctx = GateContext { entrance: None, ..f.context() };
    assert!(verify(&code, &f.keys, &f.policy, &ctx).is_valid());
}

#[test]
fn key_outside_its_window_is_refused() {
    let f = Fixture::new(1);
    let mut keys = TrustedKeys::new();
    keys.insert(7, f.issuer.public(), f.now + 1, f.now + 100).unwrap();
    assert_eq!(refused(verify(&f.code(), &keys, &f.policy, &f.context())), Reason::KeyNotValidNow);
    keys.insert(7, f.issuer.public(), f.now - 100, f.now - 1).unwrap();
    assert_eq!(refused(verify(&f.code(), &keys, &f.policy, &f.context())), Reason::KeyNotValidNow);
    keys.insert(7, f.issuer.public(), f.now, f.now).unwrap();
    assert!(verify(&f.code(), &keys, &f.policy, &f.context()).is_valid());
    assert_eq!(keys.insert(8, f.issuer.public(), 2, 1), Err(KeyError::EmptyWindow));
}

#[test]
fn rotation_two_keys_side_by_side() {
    let f = Fixture::new(1);
    let next = IssuerKey::from_secret_bytes(8, &[8; 32]);
    let mut keys = f.keys.clone();
    keys.insert(8, next.public(), 0, i64::MAX).unwrap();
    let pass = Pass { key_id: 8, ..f.pass.clone() };
    let code = make_code(&pass.sign(&next).unwrap(), &f.device, f.now, 15);
    assert!(verify(&code, &keys, &f.policy, &f.context()).is_valid());
    assert!(verify(&f.code(), &keys, &f.policy, &f.context()).is_valid());
    // A pass naming key 8 but signed by key 7's secret is a forgery.
    let forged = Pass { key_id: 8, ..f.pass.clone() };
    let as7 = IssuerKey::from_secret_bytes(8, &f.issuer.secret_bytes());
    let code = make_code(&forged.sign(&as7).unwrap(), &f.device, f.now, 15);
    assert_eq!(refused(verify(&code, &keys, &f.policy, &f.context())), Reason::BadSignature);
    keys.remove(8);
    assert_eq!(keys.len(), 1);
}

#[test]
fn another_events_code_is_unknown_or_forged() {
    let f = Fixture::new(1);
    let other_event = Fixture::new(2);
    // Same key id (7), different secret: the other event's genuine code is a bad signature here.
    assert_eq!(refused(verify_with(&f, &other_event.code())), Reason::BadSignature);
    assert_eq!(refused(verify(&f.code(), &TrustedKeys::new(), &f.policy, &f.context())), Reason::UnknownKey);
}

#[test]
fn reason_codes_are_stable_and_distinct() {
    let codes: Vec<_> = Reason::ALL.iter().map(Reason::as_str).collect();
    assert_eq!(
        codes,
        [
            "malformed",
            "wrong_version",
            "unknown_key",
            "bad_signature",
            "bad_device_signature",
            "expired_code",
            "future_code",
            "not_yet_valid",
            "expired",
            "wrong_session",
            "wrong_entrance",
            "key_not_valid_now"
        ]
    );
    assert_eq!(Reason::Malformed("code truncated").to_string(), "malformed (code truncated)");
    assert_eq!(Reason::ExpiredCode.to_string(), "expired_code");
}

#[test]
fn layout_matches_the_spec() {
    let f = Fixture::new(1);
    let s = &f.signed_pass;
    assert_eq!(s[0], 1);
    assert_eq!(&s[1..5], &7u32.to_be_bytes());
    assert_eq!(&s[5..21], b"ticket-000000001");
    assert_eq!(s[21], 3);
    assert_eq!(&s[22..25], b"S01");
    assert_eq!(s[25], 2);
    assert_eq!(&s[26..28], b"G4");
    let code = f.code();
    let tail = &code[s.len()..];
    assert_eq!(tail.len(), CODE_TAIL_LEN);
    assert_eq!(&tail[..8], &step_at(f.now, 15).to_be_bytes());
    let msg = code_message(s, step_at(f.now, 15));
    assert_eq!(&msg[..15], b"tessera-code-v1");
    assert_eq!(MAX_PASS_LEN, 266);
    let minimal = Pass {
        session: "S".into(),
        entrance: String::new(),
        seat: String::new(),
        holder: String::new(),
        ..f.pass.clone()
    };
    assert_eq!(minimal.sign(&f.issuer).unwrap().len(), 139);
    assert_eq!(step_at(-1, 15), 0);
    assert_eq!(step_at(29, 15), 1);
    assert_eq!(step_at(30, 0), 30);
}
