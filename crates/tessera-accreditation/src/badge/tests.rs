use super::*;
use crate::codes::AccountId;
use crate::vetting::{Action, Actor, ScreeningAnswer, Vetting};
use proptest::prelude::*;
use tessera_credential::device_public_key;

const DAY: i64 = 86_400;
const T0: i64 = 1_721_865_600; // 2024-07-25

pub(crate) fn cleared(person: PersonId) -> Clearance {
    let mut v = Vetting::submit(person, AccountId(1), 0);
    v.apply(Action::StartScreening, Actor::Account(AccountId(2)), 1, "").unwrap();
    v.record_answer(&ScreeningAnswer::Clear, 2).unwrap();
    v.apply(Action::Approve, Actor::Account(AccountId(2)), 3, "").unwrap();
    v.clearance().unwrap()
}

pub(crate) fn signer() -> BadgeSigner {
    BadgeSigner::new(&IssuerKey::from_secret_bytes(1, &[7; 32]))
}

pub(crate) fn trusted(signer: &BadgeSigner) -> TrustedKeys {
    let mut k = TrustedKeys::new();
    k.insert(1, signer.public(), i64::MIN, i64::MAX).unwrap();
    k
}

fn v(s: &str) -> VenueCode {
    VenueCode::parse(s).unwrap()
}
fn z(s: &str) -> ZoneCode {
    ZoneCode::parse(s).unwrap()
}

pub(crate) fn journalist() -> Badge {
    Badge {
        key_id: 1,
        person: PersonId(42),
        serial: 0,
        holder: "Anne DUPONT".into(),
        organisation: OrgCode::parse("AFP").unwrap(),
        category: CategoryCode::parse("E").unwrap(),
        venues: vec![v("STA"), v("MPC")],
        zones: vec![z("4"), z("9")],
        privileges: vec![PrivilegeCode::parse("TM").unwrap()],
        valid_from: T0,
        valid_until: T0 + 30 * DAY,
        grants: vec![],
        photo_sha256: [9; 32],
        device_key: None,
    }
}

fn never(_: PersonId, _: u16) -> bool {
    false
}

fn at<'a>(venue: &'a VenueCode, zone: &'a ZoneCode, now: i64) -> GateContext<'a> {
    GateContext { venue, zone, now, policy: Policy::default() }
}

#[test]
fn a_badge_admits_in_its_zones_and_again() {
    let s = signer();
    let text = s.sign(&journalist(), &cleared(PersonId(42))).unwrap().to_text();
    let (sta, four) = (v("STA"), z("4"));
    let d = verify(&text, &trusted(&s), &at(&sta, &four, T0 + DAY), &never);
    assert!(d.is_admitted(), "{d:?}");
    assert!(d.re_entry_allowed());
    assert_eq!(d.as_str(), "admitted");
    // Again: badges are not consumed.
    assert!(verify(&text, &trusted(&s), &at(&sta, &four, T0 + DAY + 60), &never).is_admitted());
    let Decision::Admitted(b) = d else { unreachable!() };
    assert_eq!((b.person, b.serial, b.holder.as_str(), b.photo_sha256), (PersonId(42), 0, "Anne DUPONT", [9; 32]));
    assert!(text.len() < 300, "fits an easily scanned QR code: {} characters", text.len());
}

#[test]
fn refusals_have_stable_reasons() {
    let s = signer();
    let keys = trusted(&s);
    let text = s.sign(&journalist(), &cleared(PersonId(42))).unwrap().to_text();
    let (sta, olv, four, one) = (v("STA"), v("OLV"), z("4"), z("1"));
    let check = |ctx: GateContext<'_>| verify(&text, &keys, &ctx, &never).as_str();
    assert_eq!(check(at(&sta, &one, T0)), "no_zone_access");
    assert_eq!(check(at(&olv, &four, T0)), "no_venue_access");
    assert_eq!(check(at(&sta, &four, T0 - 1)), "not_yet_valid");
    assert_eq!(check(at(&sta, &four, T0 + 30 * DAY)), "expired");
    let revoked = |p: PersonId, _| p == PersonId(42);
    assert_eq!(verify(&text, &keys, &at(&sta, &four, T0), &revoked).reason(), Some(Reason::Revoked));
    assert_eq!(verify("not base45!", &keys, &at(&sta, &four, T0), &never).as_str(), "malformed");
    let other = BadgeSigner::new(&IssuerKey::from_secret_bytes(1, &[8; 32]));
    let forged = other.sign(&journalist(), &cleared(PersonId(42))).unwrap().to_text();
    assert_eq!(
        verify(&forged, &keys, &at(&sta, &four, T0), &never).reason(),
        Some(Reason::Forged(Forgery::BadSignature))
    );
    assert_eq!(
        verify(&text, &TrustedKeys::new(), &at(&sta, &four, T0), &never).reason(),
        Some(Reason::Forged(Forgery::UnknownKey))
    );
    let mut rotated = TrustedKeys::new();
    rotated.insert(1, s.public(), 0, T0 - 1).unwrap();
    assert_eq!(
        verify(&text, &rotated, &at(&sta, &four, T0), &never).reason(),
        Some(Reason::Forged(Forgery::KeyNotValidNow))
    );
}

#[test]
fn a_reprint_supersedes_the_lost_card() {
    let s = signer();
    let keys = trusted(&s);
    let first = journalist();
    let second = first.reprint().unwrap();
    assert_eq!(second.serial, 1);
    let old = s.sign(&first, &cleared(PersonId(42))).unwrap().to_text();
    let new = s.sign(&second, &cleared(PersonId(42))).unwrap().to_text();
    let mut list = RevocationList::new();
    list.reissue(PersonId(42), 1);
    list.reissue(PersonId(42), 0); // late, out-of-order update: ignored
    let check = |p: PersonId, s: u16| list.is_revoked(p, s);
    let (sta, four) = (v("STA"), z("4"));
    assert_eq!(verify(&old, &keys, &at(&sta, &four, T0), &check).reason(), Some(Reason::Revoked));
    assert!(verify(&new, &keys, &at(&sta, &four, T0), &check).is_admitted());
    list.revoke(PersonId(42));
    let check = |p: PersonId, s: u16| list.is_revoked(p, s);
    assert_eq!(verify(&new, &keys, &at(&sta, &four, T0), &check).reason(), Some(Reason::Revoked));
    assert_eq!(Badge { serial: u16::MAX, ..first }.reprint(), Err(EncodeError::SerialExhausted));
}

#[test]
fn day_passes_and_upgrades_admit_only_in_their_window() {
    let s = signer();
    let keys = trusted(&s);
    let mut b = journalist();
    b.grants = vec![
        TimedGrant {
            kind: GrantKind::Upgrade,
            venues: vec![],
            zones: vec![z("1")],
            from: T0 + DAY,
            until: T0 + 2 * DAY,
        },
        TimedGrant { kind: GrantKind::DayPass, venues: vec![v("OLV")], zones: vec![z("6")], from: T0, until: T0 + DAY },
    ];
    let text = s.sign(&b, &cleared(PersonId(42))).unwrap().to_text();
    let (sta, olv, one, six) = (v("STA"), v("OLV"), z("1"), z("6"));
    let d = verify(&text, &keys, &at(&sta, &one, T0 + DAY), &never);
    assert!(matches!(d, Decision::Admitted(VerifiedBadge { via_grant: Some(GrantKind::Upgrade), .. })), "{d:?}");
    assert_eq!(verify(&text, &keys, &at(&sta, &one, T0 + 2 * DAY), &never).reason(), Some(Reason::NoZoneAccess));
    assert!(verify(&text, &keys, &at(&olv, &six, T0 + 10), &never).is_admitted());
    assert_eq!(verify(&text, &keys, &at(&olv, &six, T0 + DAY), &never).reason(), Some(Reason::NoVenueAccess));
    // The upgrade's zone at a venue the badge does not cover is still refused by venue.
    assert_eq!(verify(&text, &keys, &at(&olv, &one, T0 + DAY), &never).reason(), Some(Reason::NoVenueAccess));
}

#[test]
fn signing_needs_the_right_clearance_and_valid_fields() {
    let s = signer();
    assert_eq!(
        s.sign(&journalist(), &cleared(PersonId(7))),
        Err(EncodeError::ClearanceMismatch { badge: PersonId(42), cleared: PersonId(7) })
    );
    let wrong_key = Badge { key_id: 2, ..journalist() };
    assert!(matches!(s.sign(&wrong_key, &cleared(PersonId(42))), Err(EncodeError::KeyIdMismatch { .. })));
    let long = Badge { holder: "x".repeat(49), ..journalist() };
    assert!(matches!(s.sign(&long, &cleared(PersonId(42))), Err(EncodeError::InvalidField { field: "holder", .. })));
    let empty = Badge { valid_until: T0, ..journalist() };
    assert!(s.sign(&empty, &cleared(PersonId(42))).is_err());
    let outside = Badge {
        grants: vec![TimedGrant {
            kind: GrantKind::Upgrade,
            venues: vec![],
            zones: vec![],
            from: T0 - 1,
            until: T0 + 1,
        }],
        ..journalist()
    };
    assert!(s.sign(&outside, &cleared(PersonId(42))).is_err());
}

#[test]
fn every_single_byte_change_is_refused() {
    let s = signer();
    let keys = trusted(&s);
    let mut b = journalist();
    b.grants =
        vec![TimedGrant { kind: GrantKind::Upgrade, venues: vec![], zones: vec![z("1")], from: T0, until: T0 + DAY }];
    let signed = s.sign(&b, &cleared(PersonId(42))).unwrap();
    let (sta, one) = (v("STA"), z("1"));
    assert!(verify_bytes(signed.as_bytes(), &keys, &at(&sta, &one, T0), &never).is_admitted());
    for i in 0..signed.as_bytes().len() {
        for mask in [0x01u8, 0x80, 0xFF] {
            let mut t = signed.as_bytes().to_vec();
            t[i] ^= mask;
            let d = verify_bytes(&t, &keys, &at(&sta, &one, T0), &never);
            assert!(
                matches!(d.reason(), Some(Reason::Forged(_) | Reason::Malformed(_))),
                "byte {i} ^ {mask:#x}: {d:?}"
            );
        }
    }
    let mut longer = signed.as_bytes().to_vec();
    longer.push(0);
    assert_eq!(verify_bytes(&longer, &keys, &at(&sta, &one, T0), &never).as_str(), "malformed");
    let shorter = &signed.as_bytes()[..signed.as_bytes().len() - 1];
    assert_eq!(verify_bytes(shorter, &keys, &at(&sta, &one, T0), &never).as_str(), "malformed");
}

#[test]
fn the_largest_badge_fits_the_bounds() {
    let codes = |n: usize, p: &str| (0..n).map(|i| format!("{p}{i:07}")).collect::<Vec<_>>();
    let b = Badge {
        holder: "é".repeat(24),
        organisation: OrgCode::parse("ABCDEFGH").unwrap(),
        category: CategoryCode::parse("ABCDEFGH").unwrap(),
        venues: codes(16, "V").iter().map(|c| v(c)).collect(),
        zones: codes(16, "Z").iter().map(|c| z(c)).collect(),
        privileges: codes(16, "P").iter().map(|c| PrivilegeCode::parse(c).unwrap()).collect(),
        grants: vec![
            TimedGrant {
                kind: GrantKind::Upgrade,
                venues: codes(4, "V").iter().map(|c| v(c)).collect(),
                zones: codes(4, "Z").iter().map(|c| z(c)).collect(),
                from: T0,
                until: T0 + 1,
            };
            2
        ],
        ..journalist()
    };
    let card = signer().sign(&b, &cleared(PersonId(42))).unwrap();
    assert_eq!(card.as_bytes().len(), MAX_CARD_LEN);
    assert!(card.to_text().len() <= MAX_CARD_TEXT_LEN);
    // The largest is a phone badge; its code, the longest text a gate reads, fits too.
    let b = b.on_phone(device_public_key(&phone(1))).unwrap();
    let signed = signer().sign(&b, &cleared(PersonId(42))).unwrap();
    assert_eq!(signed.as_bytes().len(), MAX_BADGE_LEN);
    assert_eq!(Badge::parse_unverified(signed.as_bytes()).unwrap(), b);
    let code = phone_code(signed.as_bytes(), &phone(1), u64::MAX);
    assert!(code.len() <= MAX_TEXT_LEN && code.len() > MAX_TEXT_LEN - 3, "{}", code.len());
    assert_eq!(Badge::parse_scanned_unverified(&base45::decode(&code).unwrap()).unwrap(), b);
}

fn phone(seed: u64) -> p256::ecdsa::SigningKey {
    tessera_credential::fixture::device_key(seed, b"phone")
}

const STEP: u32 = 15;

/// The phone's code for the step `now` falls in.
fn code_at(signed: &SignedBadge, device: &p256::ecdsa::SigningKey, now: i64) -> String {
    phone_code(signed.as_bytes(), device, tessera_credential::step_at(now, STEP))
}

#[test]
fn a_phone_badge_admits_a_fresh_code_from_its_own_phone_only() {
    let s = signer();
    let keys = trusted(&s);
    let card = journalist();
    let on_phone = card.on_phone(device_public_key(&phone(1))).unwrap();
    let signed = s.sign(&on_phone, &cleared(PersonId(42))).unwrap();
    assert_eq!(signed.as_bytes()[0], PHONE_FORMAT_VERSION);
    let (sta, four, one) = (v("STA"), z("4"), z("1"));
    let now = T0 + DAY + 7;
    let check = |text: &str, now: i64| verify(text, &keys, &at(&sta, &four, now), &never);

    // The current step, and the one before while the window lasts (the tickets' policy).
    let d = check(&code_at(&signed, &phone(1), now), now);
    assert!(d.is_admitted(), "{d:?}");
    let Decision::Admitted(b) = d else { unreachable!() };
    assert_eq!((b.person, b.serial, b.holder.as_str()), (PersonId(42), 0, "Anne DUPONT"));
    assert!(check(&code_at(&signed, &phone(1), now - 15), now).is_admitted(), "one step of skew");
    // Again a minute later, with that minute's code: badges re-enter.
    assert!(check(&code_at(&signed, &phone(1), now + 60), now + 60).re_entry_allowed());
    // A screenshot of an old step, a code from the future, another phone's signature.
    assert_eq!(check(&code_at(&signed, &phone(1), now - 60), now).reason(), Some(Reason::ExpiredCode));
    assert_eq!(check(&code_at(&signed, &phone(1), now - 60), now).as_str(), "expired_code");
    assert_eq!(check(&code_at(&signed, &phone(1), now + 60), now).reason(), Some(Reason::FutureCode));
    assert_eq!(check(&code_at(&signed, &phone(2), now), now).reason(), Some(Reason::BadDeviceSignature));
    assert_eq!(check(&code_at(&signed, &phone(2), now), now).as_str(), "bad_device_signature");
    // The signed phone badge alone, without the renewing part, is no code.
    assert_eq!(
        check(&signed.to_text(), now).reason(),
        Some(Reason::Malformed("a phone badge without its renewing code"))
    );
    // The card's own checks still hold: zone, venue, dates, revocation.
    let fresh = code_at(&signed, &phone(1), now);
    assert_eq!(verify(&fresh, &keys, &at(&sta, &one, now), &never).reason(), Some(Reason::NoZoneAccess));
    assert_eq!(verify(&fresh, &keys, &at(&v("OLV"), &four, now), &never).reason(), Some(Reason::NoVenueAccess));
    let late = T0 + 30 * DAY;
    assert_eq!(check(&code_at(&signed, &phone(1), late), late).reason(), Some(Reason::Expired));
    let revoked = |p: PersonId, _| p == PersonId(42);
    assert_eq!(verify(&fresh, &keys, &at(&sta, &four, now), &revoked).reason(), Some(Reason::Revoked));

    // A reprint of the card voids the phone badge: they share the serial.
    let mut list = RevocationList::new();
    list.reissue(PersonId(42), card.reprint().unwrap().serial);
    let reprinted = |p: PersonId, s: u16| list.is_revoked(p, s);
    assert_eq!(verify(&fresh, &keys, &at(&sta, &four, now), &reprinted).reason(), Some(Reason::Revoked));
    let again =
        s.sign(&card.reprint().unwrap().on_phone(device_public_key(&phone(1))).unwrap(), &cleared(PersonId(42)));
    assert!(verify(&code_at(&again.unwrap(), &phone(1), now), &keys, &at(&sta, &four, now), &reprinted).is_admitted());

    // Cards are unchanged: version 1, and nothing may follow them.
    let printed = s.sign(&card, &cleared(PersonId(42))).unwrap();
    assert_eq!(printed.as_bytes()[0], FORMAT_VERSION);
    assert!(check(&printed.to_text(), now).is_admitted());
    let mut with_tail = printed.as_bytes().to_vec();
    with_tail.extend_from_slice(&[0; CODE_TAIL_LEN]);
    assert_eq!(check(&base45::encode(&with_tail), now).as_str(), "malformed");
    // A code cut short, or with more after it.
    let bytes = base45::decode(&fresh).unwrap();
    assert_eq!(check(&base45::encode(&bytes[..bytes.len() - 1]), now).as_str(), "malformed");
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(check(&base45::encode(&longer), now).as_str(), "malformed");
    // A device key that is no P-256 point (x beyond the field) is refused before signing.
    let mut not_a_point = [0xFF; 33];
    not_a_point[0] = 2;
    assert!(matches!(card.on_phone(not_a_point), Err(EncodeError::InvalidField { field: "device_key", .. })));
}

fn code_strategy() -> impl Strategy<Value = String> {
    "[A-Za-z0-9-]{1,8}"
}

prop_compose! {
    fn any_badge()(
        person in any::<u64>(),
        serial in any::<u16>(),
        holder in "[A-Za-zÀ-ÿ' -]{0,20}[A-Za-z]",
        org in code_strategy(),
        cat in code_strategy(),
        venues in proptest::collection::vec(code_strategy(), 0..=MAX_CODES),
        zones in proptest::collection::vec(code_strategy(), 0..=MAX_CODES),
        privileges in proptest::collection::vec(code_strategy(), 0..=MAX_CODES),
        from in -1_000_000_000_000i64..1_000_000_000_000,
        len in 1i64..1_000_000_000,
        grant in proptest::option::of((any::<bool>(), proptest::collection::vec(code_strategy(), 0..=4),
            proptest::collection::vec(code_strategy(), 0..=4))),
        photo in any::<[u8; 32]>(),
    ) -> Badge {
        let grants = grant.map(|(day, gv, gz)| TimedGrant {
            kind: if day { GrantKind::DayPass } else { GrantKind::Upgrade },
            venues: gv.iter().map(|c| v(c)).collect(),
            zones: gz.iter().map(|c| z(c)).collect(),
            from,
            until: from + len,
        }).into_iter().collect();
        Badge {
            key_id: 1,
            person: PersonId(person),
            serial,
            holder,
            organisation: OrgCode::parse(&org).unwrap(),
            category: CategoryCode::parse(&cat).unwrap(),
            venues: venues.iter().map(|c| v(c)).collect(),
            zones: zones.iter().map(|c| z(c)).collect(),
            privileges: privileges.iter().map(|c| PrivilegeCode::parse(c).unwrap()).collect(),
            valid_from: from,
            valid_until: from + len,
            grants,
            photo_sha256: photo,
            device_key: None,
        }
    }
}

proptest! {
    /// sign → text → verify admits at any venue and zone the badge itself lists, and the
    /// decoded badge equals the original.
    #[test]
    fn round_trip(b in any_badge()) {
        let s = signer();
        let signed = s.sign(&b, &cleared(b.person)).unwrap();
        prop_assert_eq!(Badge::parse_unverified(signed.as_bytes()).unwrap(), b.clone());
        let text = signed.to_text();
        prop_assert!(text.len() <= MAX_TEXT_LEN);
        if let (Some(venue), Some(zone)) = (b.venues.first(), b.zones.first()) {
            let d = verify(&text, &trusted(&s), &at(venue, zone, b.valid_from), &never);
            prop_assert!(d.is_admitted(), "{:?}", d);
        }
    }

    /// Flipping any bit of any badge is never admitted.
    #[test]
    fn tampering_is_never_admitted(b in any_badge(), pos in any::<prop::sample::Index>(), bit in 0u8..8) {
        let s = signer();
        let mut bytes = s.sign(&b, &cleared(b.person)).unwrap().as_bytes().to_vec();
        let i = pos.index(bytes.len());
        bytes[i] ^= 1 << bit;
        let (venue, zone) = (v("ALL"), z("1"));
        let d = verify_bytes(&bytes, &trusted(&s), &at(&venue, &zone, b.valid_from), &never);
        prop_assert!(matches!(d.reason(), Some(Reason::Forged(_) | Reason::Malformed(_))), "{:?}", d);
    }

    /// Flipping any bit of a phone's code (badge, step or device signature) is never admitted.
    #[test]
    fn a_tampered_phone_code_is_never_admitted(b in any_badge(), pos in any::<prop::sample::Index>(), bit in 0u8..8) {
        let s = signer();
        let b = b.on_phone(device_public_key(&phone(3))).unwrap();
        let signed = s.sign(&b, &cleared(b.person)).unwrap();
        let now = b.valid_from;
        let code = code_at(&signed, &phone(3), now);
        let (venue, zone) = (v("ALL"), z("1"));
        let ctx = at(&venue, &zone, now);
        let mut bytes = base45::decode(&code).unwrap();
        let i = pos.index(bytes.len());
        bytes[i] ^= 1 << bit;
        let d = verify_bytes(&bytes, &trusted(&s), &ctx, &never);
        prop_assert!(!d.is_admitted(), "{:?}", d);
    }

    /// Any bytes and any text: no panic, never admitted.
    #[test]
    fn garbage_never_panics_or_admits(bytes in proptest::collection::vec(any::<u8>(), 0..1200), text in "\\PC{0,400}") {
        let s = signer();
        let (venue, zone) = (v("STA"), z("4"));
        prop_assert!(!verify_bytes(&bytes, &trusted(&s), &at(&venue, &zone, T0), &never).is_admitted());
        prop_assert!(!verify(&text, &trusted(&s), &at(&venue, &zone, T0), &never).is_admitted());
        let _ = Badge::parse_unverified(&bytes);
    }
}
