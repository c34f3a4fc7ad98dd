//! Opening a signed bundle: every refusal, with its stable code.

use base64::Engine as _;
use ed25519_dalek::Signer as _;
use tessera_gate::bundle::{BUNDLE_TAG, MAX_KEYS, MAX_PAYLOAD_LEN, MAX_REVOKED, MAX_SESSIONS};
use tessera_gate::fixture::{GateFixture, BUNDLE_KEY_ID};
use tessera_gate::*;

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Signs arbitrary payload bytes with the fixture's bundle key, as a buggy or hostile central
/// system could.
fn sign_raw(f: &GateFixture, json: &[u8]) -> SignedBundle {
    let mut m = BUNDLE_TAG.to_vec();
    m.extend_from_slice(json);
    SignedBundle { key_id: BUNDLE_KEY_ID, payload: b64(json), signature: hex::encode(f.bundle_key.sign(&m).to_bytes()) }
}

fn open(f: &GateFixture, s: &SignedBundle) -> Result<Bundle, BundleError> {
    s.open(&f.trust, f.now, None)
}

#[test]
fn a_signed_bundle_opens_to_itself() {
    let f = GateFixture::new(1);
    let s = f.signed_bundle();
    assert_eq!(open(&f, &s), Ok(f.bundle.clone()));
    assert_eq!(SignedBundle::from_json(&s.to_json()), Ok(s.clone()));
    let b = open(&f, &s).unwrap();
    assert_eq!(b.trusted_keys().unwrap().len(), 1);
    assert_eq!(b.credential_policy(), tessera_credential::Policy::default());
    // The same bundle again is not stale (a restart reopens what it stored).
    assert!(s.open(&f.trust, f.now, Some(f.bundle.issued_at)).is_ok());
}

#[test]
fn a_tampered_payload_is_a_bad_signature() {
    let f = GateFixture::new(1);
    let s = f.signed_bundle();
    let json = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(&s.payload).unwrap()).unwrap();
    let tampered = json.replace("\"revoked\":[]", "\"revoked\":[[1,1]]").replace("Final", "Finale");
    assert_ne!(tampered, json);
    let bad = SignedBundle { payload: b64(tampered.as_bytes()), ..s.clone() };
    assert_eq!(open(&f, &bad), Err(BundleError::BadSignature));
    assert_eq!(open(&f, &bad).unwrap_err().code(), "bad_signature");
    let mut sig = hex::decode(&s.signature).unwrap();
    sig[10] ^= 1;
    let bad = SignedBundle { signature: hex::encode(sig), ..s };
    assert_eq!(open(&f, &bad), Err(BundleError::BadSignature));
}

#[test]
fn a_bundle_signed_by_another_key_is_refused() {
    let f = GateFixture::new(1);
    let other = GateFixture::new(2);
    let s = f.signed_bundle();
    assert_eq!(s.open(&other.trust, f.now, None), Err(BundleError::BadSignature));
    let unknown = SignedBundle { key_id: 42, ..s };
    assert_eq!(open(&f, &unknown), Err(BundleError::UnknownKey(42)));
    assert_eq!(open(&f, &unknown).unwrap_err().code(), "unknown_key");
}

#[test]
fn an_expired_bundle_is_refused() {
    let f = GateFixture::new(1);
    let s = f.signed_bundle();
    let e = s.open(&f.trust, f.bundle.expires_at, None).unwrap_err();
    assert_eq!(e, BundleError::Expired { expires_at: f.bundle.expires_at });
    assert_eq!(e.code(), "expired");
    assert!(s.open(&f.trust, f.bundle.expires_at - 1, None).is_ok());
}

#[test]
fn an_older_bundle_is_stale() {
    let f = GateFixture::new(1);
    let s = f.signed_bundle();
    let e = s.open(&f.trust, f.now, Some(f.bundle.issued_at + 1)).unwrap_err();
    assert_eq!(e, BundleError::Stale { issued_at: f.bundle.issued_at, current: f.bundle.issued_at + 1 });
    assert_eq!(e.code(), "stale");
}

#[test]
fn malformed_payloads_are_refused() {
    let f = GateFixture::new(1);
    let malformed = |s: &SignedBundle| match open(&f, s) {
        Err(e @ BundleError::Malformed(_)) => assert_eq!(e.code(), "malformed"),
        other => panic!("{other:?}"),
    };
    malformed(&sign_raw(&f, b"{not json"));
    malformed(&sign_raw(&f, b"{}"));
    malformed(&sign_raw(&f, b"[1,2,3]"));
    let s = f.signed_bundle();
    malformed(&SignedBundle { payload: "***".into(), ..s.clone() });
    malformed(&SignedBundle { signature: "zz".into(), ..s.clone() });
    malformed(&SignedBundle { signature: s.signature[..126].into(), ..s });

    let mut b = f.bundle.clone();
    b.format = 2;
    malformed(&f.sign(&b));
    let mut b = f.bundle.clone();
    b.keys[0].public_key = "00".into();
    malformed(&f.sign(&b));
    let mut b = f.bundle.clone();
    b.keys.push(b.keys[0].clone());
    malformed(&f.sign(&b));
    let mut b = f.bundle.clone();
    b.keys[0].not_after = b.keys[0].not_before - 1;
    malformed(&f.sign(&b));
    let mut b = f.bundle.clone();
    b.expires_at = b.issued_at;
    malformed(&f.sign(&b));
    let mut b = f.bundle.clone();
    b.sessions[0].ends_at = b.sessions[0].starts_at;
    malformed(&f.sign(&b));
}

#[test]
fn oversized_bundles_are_refused() {
    let f = GateFixture::new(1);
    let s = f.signed_bundle();
    // Refused on length alone: neither decoded nor verified.
    let huge = SignedBundle { payload: "A".repeat(MAX_PAYLOAD_LEN + 4), signature: String::new(), ..s };
    let e = open(&f, &huge).unwrap_err();
    assert!(matches!(e, BundleError::TooLarge(_)), "{e}");
    assert_eq!(e.code(), "too_large");

    let too_large = |b: &Bundle| assert!(matches!(open(&f, &f.sign(b)), Err(BundleError::TooLarge(_))));
    let mut b = f.bundle.clone();
    b.sessions = vec![b.sessions[0].clone(); MAX_SESSIONS + 1];
    too_large(&b);
    let mut b = f.bundle.clone();
    b.keys = (0..=MAX_KEYS as u32).map(|id| BundleKey { id, ..b.keys[0].clone() }).collect();
    too_large(&b);
    // Checked on the content too (signing 2 000 001 pairs is not needed to show it).
    let mut b = f.bundle.clone();
    b.revoked = vec![(1, 1); MAX_REVOKED + 1];
    assert!(matches!(b.validate(), Err(BundleError::TooLarge(_))));
}

#[test]
fn the_engine_checks_a_bundle_built_in_code() {
    let f = GateFixture::new(1);
    let mut b = f.bundle.clone();
    b.format = 9;
    assert!(matches!(Engine::new(b, f.config("A1")), Err(EngineError::Bundle(BundleError::Malformed(_)))));
    let mut engine = f.engine("A1");
    let mut b = f.bundle.clone();
    b.keys[0].public_key = "nothex".into();
    assert!(engine.replace_bundle(b).is_err());
    // The engine keeps its bundle on error.
    assert_eq!(engine.bundle().venue_code, "STADE");
    assert!(Engine::new(f.bundle.clone(), GateConfig::new("", None)).is_err());
    assert!(Engine::new(f.bundle.clone(), GateConfig::new("A1", Some("Gate A"))).is_err());
}
