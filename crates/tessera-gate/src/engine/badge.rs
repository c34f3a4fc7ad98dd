//! Accreditation badges at the gate: `tessera_accreditation::verify` with the gate's venue and
//! zone, the badge key and the revocations the bundle and the syncs bring. A printed card's
//! QR code and a phone badge's renewing code come the same way (Base45, no prefix); the phone's
//! code is judged in time by the bundle's ticket policy, as a ticket's is.

use super::*;
use tessera_accreditation::PersonId;

impl Engine {
    /// An accreditation badge: the badge's own checks (signature, for a phone badge the phone's
    /// signature and the code's step, revocation, dates, venue, zone), no entry record (badges
    /// may enter again). Text that is no badge at all stays
    /// [`Kind::Unknown`] and [`MALFORMED`].
    pub(super) fn decide_badge(&self, text: &str, mut d: GateDecision) -> GateDecision {
        use tessera_accreditation::badge::{Decision as BadgeDecision, Forgery, Reason as BadgeReason};
        let (venue, zone) = match &self.badge_access {
            Some((v, z)) => (v.clone(), z.clone()),
            // A gate without badge access still tells a badge from noise.
            None => (VenueCode::all(), ZoneCode::parse("0").unwrap_or_else(|_| unreachable!("a valid code"))),
        };
        let now = d.at_ms.div_euclid(1000);
        let ctx = tessera_accreditation::GateContext { venue: &venue, zone: &zone, now, policy: self.policy };
        let revoked = |p: PersonId, s: u16| self.badge_revoked.is_revoked(p, s);
        let decision = tessera_accreditation::verify(text, &self.badge_keys, &ctx, &revoked);
        if let BadgeDecision::Refused(BadgeReason::Malformed(_)) = decision {
            return d;
        }
        d.kind = Kind::Badge;
        match decision {
            BadgeDecision::Admitted(v) if self.badge_access.is_some() => {
                d.outcome = Outcome::Admitted;
                d.reason = VALID;
                d.ticket_id = v.person.0 as i64;
                d.serial = i64::from(v.serial);
                d.holder = v.holder;
                d.session = v.category.to_string();
                d.entrance = zone.to_string();
            }
            BadgeDecision::Admitted(_) => d.reason = NOT_A_BADGE_GATE,
            BadgeDecision::Refused(r) => {
                d.reason = match r {
                    BadgeReason::Forged(Forgery::UnknownKey) => "unknown_key",
                    BadgeReason::Forged(Forgery::BadSignature) => "bad_signature",
                    BadgeReason::Forged(Forgery::KeyNotValidNow) => "key_not_valid_now",
                    BadgeReason::Revoked => REVOKED,
                    BadgeReason::NotYetValid => "not_yet_valid",
                    BadgeReason::Expired => "expired",
                    BadgeReason::NoVenueAccess if self.badge_access.is_none() => NOT_A_BADGE_GATE,
                    BadgeReason::NoZoneAccess if self.badge_access.is_none() => NOT_A_BADGE_GATE,
                    BadgeReason::NoVenueAccess => "no_venue_access",
                    BadgeReason::NoZoneAccess => "no_zone_access",
                    BadgeReason::BadDeviceSignature => "bad_device_signature",
                    BadgeReason::ExpiredCode => "expired_code",
                    BadgeReason::FutureCode => "future_code",
                    BadgeReason::Malformed(_) => MALFORMED,
                };
                // Genuine badges (signature verified) show who was refused.
                if !matches!(r, BadgeReason::Forged(_)) {
                    if let Ok(b) = tessera_accreditation::Badge::parse_scanned_unverified(
                        &tessera_credential::base45::decode(text).unwrap_or_default(),
                    ) {
                        d.ticket_id = b.person.0 as i64;
                        d.serial = i64::from(b.serial);
                        d.holder = b.holder;
                        d.session = b.category.to_string();
                    }
                }
            }
        }
        d
    }

    /// Applies a badge revocation list (from a bundle or a sync) unless an equal or newer one
    /// is in force already. Revocations are merged, never lifted.
    pub fn apply_badge_revocations(&mut self, list: &tessera_wire::BadgeRevocations) {
        if list.version <= self.badges_version {
            return;
        }
        if list.revoked.len() + list.current_serial.len() > crate::bundle::MAX_REVOKED {
            // More than the gate holds: it no longer knows every revocation, so it admits no one.
            self.overflowed = true;
            return;
        }
        for p in &list.revoked {
            self.badge_revoked.revoke(PersonId(*p));
        }
        for (p, s) in &list.current_serial {
            self.badge_revoked.reissue(PersonId(*p), *s);
        }
        self.badges_version = list.version;
    }

    /// The version of the badge revocations in force (0: none), for the next sync.
    pub fn badges_version(&self) -> u64 {
        self.badges_version
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::GateFixture;

    fn badge_gate(bundle: &Bundle, venue: &str, zone: &str) -> Engine {
        let mut config = GateConfig::new("G-BADGE", None);
        config.badge_access = Some((venue.into(), zone.into()));
        Engine::new(bundle.clone(), config).unwrap()
    }

    #[test]
    fn badges_enter_by_venue_and_zone_again_and_again_until_revoked() {
        let f = GateFixture::new(11);
        let (text, bundle) = (f.journalist_badge(7), f.badge_bundle());
        let mut gate = badge_gate(&bundle, "STA", "4");
        let d = gate.decide(text.as_bytes(), f.now_ms());
        assert_eq!((d.kind, d.outcome, d.reason, d.ticket_id), (Kind::Badge, Outcome::Admitted, VALID, 7), "{d:?}");
        assert_eq!(d.holder, "Ana UNO");
        gate.commit(&d);
        // Re-entry: badges go out and in all day, where a ticket is refused as already used.
        assert!(gate.decide(format!("{text}\r\n").as_bytes(), f.now_ms() + 60_000).admitted());

        let refused =
            |venue: &str, zone: &str| badge_gate(&bundle, venue, zone).decide(text.as_bytes(), f.now_ms()).reason;
        assert_eq!(refused("STA", "2"), "no_zone_access");
        assert_eq!(refused("OLV", "4"), "no_venue_access");
        let no_badges = Engine::new(bundle.clone(), GateConfig::new("G-TICKETS", None)).unwrap();
        assert_eq!(no_badges.decide(text.as_bytes(), f.now_ms()).reason, NOT_A_BADGE_GATE);
        assert_eq!(gate.decide(text.as_bytes(), f.now_ms() + 2 * 86_400_000).reason, "expired");

        // Altered, or signed by another key: refused, and nothing about the holder shown.
        let mut altered = text.clone().into_bytes();
        let last = altered.len() - 1;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        let d = gate.decide(&altered, f.now_ms());
        assert!(!d.admitted(), "{d:?}");
        let mut stranger = f.bundle.clone();
        stranger.badges = bundle.badges.clone().map(|mut b| {
            b.public_key = hex::encode(
                tessera_accreditation::BadgeSigner::new(&tessera_credential::IssuerKey::from_secret_bytes(
                    0xB0, &[9; 32],
                ))
                .public()
                .as_bytes(),
            );
            b
        });
        let d = badge_gate(&stranger, "STA", "4").decide(text.as_bytes(), f.now_ms());
        assert_eq!((d.reason, d.holder.as_str()), ("bad_signature", ""));
        // Not a badge at all: as any unknown code.
        let d = gate.decide(b"hello", f.now_ms());
        assert_eq!((d.kind, d.reason), (Kind::Unknown, MALFORMED));

        // A revocation from the sync; an older list changes nothing, and none lifts it.
        gate.apply_badge_revocations(&tessera_wire::BadgeRevocations::new(vec![7], vec![]));
        assert_eq!(gate.decide(text.as_bytes(), f.now_ms()).reason, REVOKED);
        let version = gate.badges_version();
        gate.apply_badge_revocations(&tessera_wire::BadgeRevocations {
            version: 1,
            revoked: vec![],
            current_serial: vec![],
        });
        assert_eq!((gate.badges_version(), gate.decide(text.as_bytes(), f.now_ms()).reason), (version, REVOKED));
        // A reprint: serial 0 is void once serial 1 is current, carried by the bundle too.
        let mut reprinted = bundle.clone();
        reprinted.issued_at += 1;
        reprinted.badges.as_mut().unwrap().revocations = tessera_wire::BadgeRevocations::new(vec![], vec![(7, 1)]);
        assert_eq!(badge_gate(&reprinted, "STA", "4").decide(text.as_bytes(), f.now_ms()).reason, REVOKED);
    }

    #[test]
    fn a_phone_badge_enters_with_the_current_code_of_its_own_phone() {
        let f = GateFixture::new(12);
        let bundle = f.badge_bundle();
        let mut gate = badge_gate(&bundle, "STA", "4");
        let (now, now_ms) = (f.now, f.now_ms());
        let code = f.journalist_phone_code(7, 1, 1, now);
        let d = gate.decide(format!("{code}\r\n").as_bytes(), now_ms);
        assert_eq!((d.kind, d.outcome, d.reason, d.ticket_id), (Kind::Badge, Outcome::Admitted, VALID, 7), "{d:?}");
        assert_eq!(d.holder, "Ana UNO");
        gate.commit(&d);
        // Again later with that moment's code; the step before still passes (clock skew).
        assert!(gate.decide(f.journalist_phone_code(7, 1, 1, now + 600).as_bytes(), now_ms + 600_000).admitted());
        assert!(gate.decide(f.journalist_phone_code(7, 1, 1, now - 15).as_bytes(), now_ms).admitted());

        // A screenshot from a minute ago, and a code signed by another phone: refused, by name,
        // with the genuine holder shown to the steward.
        let d = gate.decide(f.journalist_phone_code(7, 1, 1, now - 60).as_bytes(), now_ms);
        assert_eq!((d.kind, d.reason, d.holder.as_str()), (Kind::Badge, "expired_code", "Ana UNO"), "{d:?}");
        let d = gate.decide(f.journalist_phone_code(7, 1, 2, now).as_bytes(), now_ms);
        assert_eq!((d.kind, d.reason), (Kind::Badge, "bad_device_signature"), "{d:?}");
        assert_eq!(gate.decide(f.journalist_phone_code(7, 1, 1, now + 60).as_bytes(), now_ms).reason, "future_code");
        // The card's access: another zone of the venue refuses it.
        assert_eq!(badge_gate(&bundle, "STA", "2").decide(code.as_bytes(), now_ms).reason, "no_zone_access");
        // A reprint of the card voids the phone badge (the same serial), a revocation too.
        let mut reprinted = bundle.clone();
        reprinted.issued_at += 1;
        reprinted.badges.as_mut().unwrap().revocations = tessera_wire::BadgeRevocations::new(vec![], vec![(7, 1)]);
        assert_eq!(badge_gate(&reprinted, "STA", "4").decide(code.as_bytes(), now_ms).reason, REVOKED);
        gate.apply_badge_revocations(&tessera_wire::BadgeRevocations::new(vec![7], vec![]));
        assert_eq!(gate.decide(code.as_bytes(), now_ms).reason, REVOKED);
        assert!(code.len() < MAX_LINE_LEN, "a phone code fits a scanner line: {} characters", code.len());
    }
}
