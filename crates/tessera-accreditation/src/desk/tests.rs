use super::*;
use crate::application::tests::{ctx, raw};
use crate::application::RawApplication;
use crate::matrix::AccessMatrix;
use proptest::prelude::*;
use rand::SeedableRng as _;

fn rng() -> rand_chacha::ChaCha20Rng {
    rand_chacha::ChaCha20Rng::seed_from_u64(5)
}

fn issuer() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[3; 32])
}

fn desk() -> DeskCode {
    DeskCode::parse("PDV1").unwrap()
}

fn entries(n: u64) -> Vec<ListEntry> {
    let m = AccessMatrix::demo_default();
    let app = Application::parse(&raw(), &ctx(&m)).unwrap();
    let mut out = vec![ListEntry::for_application(PersonId(1), 0, &app, [1; 32])];
    for i in 2..=n {
        let r = RawApplication {
            given_name: format!("Given{}", (b'a' + (i % 26) as u8) as char),
            document_number: format!("DOC{i:08}"),
            ..raw()
        };
        let app = Application::parse(&r, &ctx(&m)).unwrap();
        out.push(ListEntry::for_application(PersonId(i), (i % 3) as u16, &app, [i as u8; 32]));
    }
    out
}

fn built(n: u64) -> (Vec<u8>, DeskKey) {
    let key = DeskKey::generate(&mut rng());
    let bytes = build(&desk(), 1_000, &entries(n), &issuer(), &key, &mut rng()).unwrap();
    (bytes, key)
}

#[test]
fn a_list_opens_with_its_key_and_finds_people() {
    let (bytes, key) = built(50);
    assert_eq!(bytes.len(), DeskList::encoded_len(&desk(), &entries(50)));
    let list = open(&bytes, &key, &issuer().verifying_key()).unwrap();
    assert_eq!((list.desk(), list.issued_at(), list.entries().len()), (&desk(), 1_000, 50));
    // By document, as typed at the desk (spaces, lowercase).
    let found = list.by_document("12ab 34567");
    assert_eq!(found.iter().map(|e| e.person).collect::<Vec<_>>(), [PersonId(1)]);
    // By name in another order and without accents, with the date of birth.
    let dob = time::macros::date!(1968 - 05 - 09);
    let found = list.by_name("PEREC", "marie jose", dob);
    assert_eq!(found.iter().map(|e| e.person).collect::<Vec<_>>(), [PersonId(1)]);
    assert!(list.by_name("Marie-José", "Pérec", dob.previous_day().unwrap()).is_empty());
    assert!(list.by_document("NOPE0000").is_empty());
    assert!(list.by_document("bad!").is_empty());
    // The organisation rides with each person, for the clerk to check.
    assert!(list.entries()[0].organisation.is_some());
    assert_eq!(list.entries()[0].organisation, entries(1)[0].organisation);
}

/// A list of the first version, kept by a desk from before the organisation was added, still
/// opens: its entries say no organisation.
#[test]
fn a_first_version_list_still_parses_without_organisations() {
    let e = &entries(1)[0];
    let short = |out: &mut Vec<u8>, s: &str| {
        out.push(s.len() as u8);
        out.extend_from_slice(s.as_bytes());
    };
    let mut body = vec![1u8];
    short(&mut body, "PDV1");
    body.extend_from_slice(&7i64.to_be_bytes());
    body.extend_from_slice(&1u32.to_be_bytes());
    body.extend_from_slice(&e.person.0.to_be_bytes());
    body.extend_from_slice(&e.serial.to_be_bytes());
    short(&mut body, &e.name);
    body.extend_from_slice(&e.date_of_birth.to_julian_day().to_be_bytes());
    short(&mut body, &e.document);
    short(&mut body, e.category.as_str());
    body.extend_from_slice(&e.photo_sha256);
    let (code, issued_at, parsed) = wire::decode(&body).unwrap();
    assert_eq!((code, issued_at), (desk(), 7));
    assert_eq!(parsed, vec![ListEntry { organisation: None, ..e.clone() }]);
    body[0] = 3;
    assert_eq!(wire::decode(&body).unwrap_err(), DeskError::Malformed("unsupported version"));
}

#[test]
fn no_personal_data_is_readable_without_the_key() {
    let (bytes, _) = built(20);
    for needle in [&b"perec"[..], b"12AB34567", b"jose"] {
        assert!(!bytes.windows(needle.len()).any(|w| w == needle), "{:?} visible", String::from_utf8_lossy(needle));
    }
}

#[test]
fn a_wrong_key_a_tampered_byte_or_another_signer_is_refused() {
    let (bytes, key) = built(10);
    let issuer_pub = issuer().verifying_key();
    let other_key = DeskKey::from_bytes([0x42; 32]);
    assert_eq!(open(&bytes, &other_key, &issuer_pub).unwrap_err(), DeskError::Undecryptable);
    let other_issuer = ed25519_dalek::SigningKey::from_bytes(&[4; 32]).verifying_key();
    assert_eq!(open(&bytes, &key, &other_issuer).unwrap_err(), DeskError::BadSignature);
    for i in 0..bytes.len() {
        let mut t = bytes.clone();
        t[i] ^= 0x01;
        assert!(open(&t, &key, &issuer_pub).is_err(), "byte {i} flipped and accepted");
    }
    assert!(open(&bytes[..bytes.len() - 1], &key, &issuer_pub).is_err());
    assert_eq!(open(b"TDL", &key, &issuer_pub).unwrap_err(), DeskError::Malformed("not a desk list file"));
}

#[test]
fn a_list_for_another_desk_is_refused() {
    let key = DeskKey::from_bytes([9; 32]);
    let bytes = build(&desk(), 0, &entries(3), &issuer(), &key, &mut rng()).unwrap();
    // Re-wrap the same signed plaintext under another desk's header: the desk code is signed.
    let outer = wire::split_outer(&bytes).unwrap();
    let nonce = outer.nonce;
    let mut plain = outer.sealed.to_vec();
    let plain = wire::open_sealed(&key, nonce, outer.aad, &mut plain).unwrap().to_vec();
    let other = DeskCode::parse("IBC2").unwrap();
    let mut forged = wire::outer_header(&other);
    let aad = forged.clone();
    forged.extend_from_slice(&nonce);
    let mut sealed = plain;
    wire::seal(&key, nonce, &aad, &mut sealed);
    forged.extend_from_slice(&sealed);
    assert_eq!(open(&forged, &key, &issuer().verifying_key()).unwrap_err(), DeskError::OtherDesk(desk()));
}

#[test]
fn entries_out_of_bounds_are_refused_when_building() {
    let mut e = entries(1);
    e[0].document = "lower1234".into();
    let r = build(&desk(), 0, &e, &issuer(), &DeskKey::from_bytes([0; 32]), &mut rng());
    assert!(matches!(r, Err(DeskError::BadEntry { person: PersonId(1), .. })));
    let mut e = entries(1);
    e[0].organisation = None;
    let r = build(&desk(), 0, &e, &issuer(), &DeskKey::from_bytes([0; 32]), &mut rng());
    assert!(matches!(r, Err(DeskError::BadEntry { problem: "no organisation", .. })), "{r:?}");
}

#[test]
fn the_size_per_person_is_about_eighty_bytes() {
    let e = entries(1_000);
    let per_person = DeskList::encoded_len(&desk(), &e) as f64 / 1_000.0;
    assert!((60.0..100.0).contains(&per_person), "{per_person}");
}

#[test]
fn a_desk_hands_a_card_over_once() {
    let (bytes, key) = built(5);
    let list = open(&bytes, &key, &issuer().verifying_key()).unwrap();
    let mut log = HandOverLog::new();
    let h = list.hand_over(&log, PersonId(2), 2, AccountId(77), 5_000).unwrap();
    assert_eq!(log.merge([h.clone()]).recorded, 1);
    assert_eq!(
        list.hand_over(&log, PersonId(2), 2, AccountId(78), 5_100),
        Err(HandOverError::AlreadyHandedOver { desk: desk(), at: 5_000 })
    );
    assert_eq!(
        list.hand_over(&log, PersonId(3), 2, AccountId(77), 0),
        Err(HandOverError::WrongSerial { listed: 0, card: 2 })
    );
    assert_eq!(list.hand_over(&log, PersonId(99), 0, AccountId(77), 0), Err(HandOverError::NotOnList(PersonId(99))));
}

fn handover(person: u64, at: i64, desk: &str) -> HandOver {
    HandOver { person: PersonId(person), serial: 0, at, desk: DeskCode::parse(desk).unwrap(), staff: AccountId(1) }
}

#[test]
fn syncing_twice_records_once_and_a_second_hand_over_is_flagged() {
    let mut central = HandOverLog::new();
    let desk_a = vec![handover(1, 10, "A"), handover(2, 20, "A")];
    let first = central.merge(desk_a.clone());
    assert_eq!((first.recorded, first.already_known, first.flagged.len()), (2, 0, 0));
    let again = central.merge(desk_a);
    assert_eq!((again.recorded, again.already_known, again.flagged.len()), (0, 2, 0));
    // Desk B handed person 1's same card over too, while both were offline.
    let b = central.merge([handover(1, 15, "B")]);
    assert_eq!(b.flagged, [handover(1, 15, "B")]);
    assert_eq!(central.get(PersonId(1), 0), Some(&handover(1, 10, "A")));
    let b_again = central.merge([handover(1, 15, "B")]);
    assert!(b_again.flagged.is_empty());
    assert_eq!(central.flagged().count(), 1);
}

proptest! {
    /// Any order, any repetition, any split into syncs: the same final log.
    #[test]
    fn merge_is_idempotent_and_order_free(
        records in proptest::collection::vec((0u64..5, 0i64..4, prop_oneof![Just("A"), Just("B")]), 0..20),
        seed in any::<u64>(),
    ) {
        let records: Vec<_> = records.into_iter().map(|(p, t, d)| handover(p, t, d)).collect();
        let mut once = HandOverLog::new();
        once.merge(records.clone());
        let mut shuffled = records.clone();
        shuffled.extend(records.iter().cloned());
        let mut s = seed;
        for i in (1..shuffled.len()).rev() {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            shuffled.swap(i, (s >> 33) as usize % (i + 1));
        }
        let mut many = HandOverLog::new();
        for chunk in shuffled.chunks(3) {
            many.merge(chunk.iter().cloned());
        }
        prop_assert_eq!(&once, &many);
        let again = many.merge(records);
        prop_assert_eq!(again.recorded, 0);
        prop_assert!(again.flagged.is_empty());
    }

    /// Any bytes: an error, never a panic.
    #[test]
    fn garbage_never_opens(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut b = LIST_MAGIC.to_vec();
        b.extend_from_slice(&bytes);
        prop_assert!(open(&b, &DeskKey::from_bytes([0; 32]), &issuer().verifying_key()).is_err());
        prop_assert!(open(&bytes, &DeskKey::from_bytes([0; 32]), &issuer().verifying_key()).is_err());
    }
}
