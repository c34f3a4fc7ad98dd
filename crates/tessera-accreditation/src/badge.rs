//! The badge credential and the gate's decision on it.
//!
//! A badge is the accreditation card's machine-readable half, on the model of the ticket pass in
//! `tessera-credential`: a compact binary body signed once with the event's Ed25519 issuer key
//! (domain-separated by [`BADGE_TAG`], so a ticket signature can never pass for a badge), shown
//! as Base45 text in a QR code, and verified offline by [`verify`] into a [`Decision`] with a
//! stable [`Reason`]. Unlike a ticket, a badge admits again and again ([`Decision::re_entry_allowed`]).
//!
//! # Layout (version 1, the printed card; integers big-endian)
//!
//! ```text
//! version u8 = 1 | key id u32 | person (badge id) u64 | card serial u16
//! holder: len u8 + UTF-8 (1..=48) | organisation: code | category: code
//! venues, zones, privileges: count u8 (<= 16) + codes   (code = len u8 + 1..=8 ASCII)
//! valid_from i64 | valid_until i64 (exclusive)
//! grants: count u8 (<= 2) + { kind u8 (0 day pass, 1 upgrade) | venues (<= 4) | zones (<= 4)
//!                             | from i64 | until i64 }
//! photo SHA-256 [32] | Ed25519 signature [64] over BADGE_TAG || everything before it
//! ```
//!
//! # The phone badge (version 2) and its renewing code
//!
//! The same fields with version 2 and, after the photo hash, the holder's phone's P-256 public
//! key (SEC1 compressed, 33 bytes), signed the same way. It never admits on its own: the phone
//! shows `base45(signed phone badge || step u64 || device signature [64])`, the ticket code's
//! tail, where the device signs `BADGE_CODE_TAG || sha256(signed phone badge) || step`, a new
//! code every step. The gate checks the issuer's signature, then the device's and the step's
//! freshness with `tessera-credential`'s own checks and the bundle's ticket [`Policy`], then
//! revocation, dates, venue and zone as for a card. The serial is the current card's, so a
//! reprint voids the phone badge with the card. Version 1 cards verify as before.
//!
//! A reprint keeps the person id and takes the next serial; the gate's revocation callback
//! refuses superseded serials ([`RevocationList`]), so a lost card stops working when its
//! replacement is printed.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use ed25519_dalek::Signer as _;
use sha2::{Digest, Sha256};
use tessera_credential::{base45, IssuerKey, Policy, TrustedKeys, DEVICE_KEY_LEN};

use crate::application::Application;
use crate::codes::{check_code, CategoryCode, OrgCode, PersonId, PrivilegeCode, VenueCode, ZoneCode, MAX_CODE_LEN};
use crate::matrix::{GrantKind, TimedGrant};
use crate::vetting::Clearance;

mod wire;

#[cfg(test)]
mod tests;

pub use wire::ParseError;

/// Format version carried in the first byte of a card's badge.
pub const FORMAT_VERSION: u8 = 1;
/// Format version of a phone badge: a card's fields and the phone's device key.
pub const PHONE_FORMAT_VERSION: u8 = 2;
/// Domain-separation tag prefixed to the body before signing (tickets use `tessera-pass-v1`).
/// The version byte is inside the body, so a card and a phone badge never share a signature.
pub const BADGE_TAG: &[u8] = b"tessera-badge-v1";
/// Domain-separation tag of what a phone's device key signs for each step (tickets use
/// `tessera-code-v1`), so a ticket's code can never pass for a badge's, even on one phone.
pub const BADGE_CODE_TAG: &[u8] = b"tessera-badge-code-v1";
/// Bytes after a phone badge in its code: the step (u64 big-endian) and the device signature,
/// as in a ticket's code.
pub const CODE_TAIL_LEN: usize = tessera_credential::CODE_TAIL_LEN;
/// Longest holder name on a badge, in bytes of UTF-8.
pub const MAX_HOLDER_LEN: usize = 48;
/// Most codes in each of the venue, zone and privilege lists.
pub const MAX_CODES: usize = 16;
/// Most time-bound grants on one badge.
pub const MAX_GRANTS: usize = 2;
/// Most venue or zone codes in one grant.
pub const MAX_GRANT_CODES: usize = 4;
/// Length of the Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;
const CODE_MAX: usize = 1 + MAX_CODE_LEN;
const GRANT_MAX: usize = 1 + 2 * (1 + MAX_GRANT_CODES * CODE_MAX) + 16;
/// Longest possible signed card badge (version 1), in bytes.
pub const MAX_CARD_LEN: usize = 1
    + 4
    + 8
    + 2
    + (1 + MAX_HOLDER_LEN)
    + 2 * CODE_MAX
    + 3 * (1 + MAX_CODES * CODE_MAX)
    + 16
    + (1 + MAX_GRANTS * GRANT_MAX)
    + 32
    + SIGNATURE_LEN;
/// Longest possible signed badge (a phone badge: a card's and the device key), in bytes;
/// longer input is refused before parsing.
pub const MAX_BADGE_LEN: usize = MAX_CARD_LEN + DEVICE_KEY_LEN;
/// Longest Base45 text a printed card's QR code carries.
pub const MAX_CARD_TEXT_LEN: usize = MAX_CARD_LEN.div_ceil(2) * 3;
/// Longest Base45 text a badge's QR code carries (a phone's code, the longest kind).
pub const MAX_TEXT_LEN: usize = (MAX_BADGE_LEN + CODE_TAIL_LEN).div_ceil(2) * 3;

/// The content of a badge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Badge {
    /// Id of the issuer key that signs it.
    pub key_id: u32,
    /// The person's accreditation id, which is the badge id.
    pub person: PersonId,
    /// Card serial: 0 for the first card, +1 per reprint.
    pub serial: u16,
    /// Name as printed.
    pub holder: String,
    /// Responsible organisation.
    pub organisation: OrgCode,
    /// Category.
    pub category: CategoryCode,
    /// Venues (`ALL` for every venue).
    pub venues: Vec<VenueCode>,
    /// Zones, at each of the venues.
    pub zones: Vec<ZoneCode>,
    /// Privileges (transport, dining, ...): printed and shown, not checked by gates.
    pub privileges: Vec<PrivilegeCode>,
    /// First second of validity.
    pub valid_from: i64,
    /// First second after validity.
    pub valid_until: i64,
    /// Day passes and upgrades.
    pub grants: Vec<TimedGrant>,
    /// SHA-256 of the cropped photo, so a gate can show the photo it holds for this hash.
    pub photo_sha256: [u8; 32],
    /// A phone badge's device key (P-256, SEC1 compressed): only codes signed by the phone
    /// holding its private half admit. `None` for a printed card.
    pub device_key: Option<[u8; DEVICE_KEY_LEN]>,
}

/// Why a badge cannot be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// A field breaks the format's bounds.
    #[error("invalid badge field `{field}`: {problem}")]
    InvalidField {
        /// The field.
        field: &'static str,
        /// What is wrong.
        problem: &'static str,
    },
    /// The clearance is for another person.
    #[error("the clearance is for {cleared}, the badge for {badge}")]
    ClearanceMismatch {
        /// Person on the badge.
        badge: PersonId,
        /// Person cleared.
        cleared: PersonId,
    },
    /// The badge names another key than the signer's.
    #[error("the badge names key {badge} but the signer is key {signer}")]
    KeyIdMismatch {
        /// Key id on the badge.
        badge: u32,
        /// Signer's key id.
        signer: u32,
    },
    /// No further serial (65,535 reprints).
    #[error("no serial left for a reprint")]
    SerialExhausted,
}

fn field(field: &'static str, problem: &'static str) -> EncodeError {
    EncodeError::InvalidField { field, problem }
}

/// Cuts `s` to at most `max` bytes at a character boundary.
fn truncate(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

impl Badge {
    /// The badge for an approved application: the requested access, the display name cut to
    /// [`MAX_HOLDER_LEN`], serial 0.
    pub fn for_application(
        key_id: u32,
        person: PersonId,
        application: &Application,
        valid_from: i64,
        valid_until: i64,
        photo_sha256: [u8; 32],
    ) -> Self {
        Self {
            key_id,
            person,
            serial: 0,
            holder: truncate(&application.display_name(), MAX_HOLDER_LEN),
            organisation: application.organisation().clone(),
            category: application.category().clone(),
            venues: application.venues().to_vec(),
            zones: application.zones().to_vec(),
            privileges: application.privileges().to_vec(),
            valid_from,
            valid_until,
            grants: Vec::new(),
            photo_sha256,
            device_key: None,
        }
    }

    /// The same badge on a phone: bound to `device_key` (the phone's P-256 public key, SEC1
    /// compressed), with the same person and serial, so that what voids the card (a reprint,
    /// a revocation) voids the phone badge too.
    pub fn on_phone(&self, device_key: [u8; DEVICE_KEY_LEN]) -> Result<Self, EncodeError> {
        if !tessera_credential::is_device_key(&device_key) {
            return Err(field("device_key", "not a compressed P-256 public key"));
        }
        Ok(Self { device_key: Some(device_key), ..self.clone() })
    }

    /// The same badge for a replacement card: next serial. Revoke the old serial at the gates
    /// with [`RevocationList::reissue`].
    pub fn reprint(&self) -> Result<Self, EncodeError> {
        let serial = self.serial.checked_add(1).ok_or(EncodeError::SerialExhausted)?;
        Ok(Self { serial, ..self.clone() })
    }

    /// Checks every field against the format's bounds.
    pub fn validate(&self) -> Result<(), EncodeError> {
        if self.holder.trim().is_empty() {
            return Err(field("holder", "empty"));
        }
        if self.holder.len() > MAX_HOLDER_LEN {
            return Err(field("holder", "too long"));
        }
        if self.holder.chars().any(char::is_control) {
            return Err(field("holder", "control characters"));
        }
        if self.venues.len() > MAX_CODES || self.zones.len() > MAX_CODES || self.privileges.len() > MAX_CODES {
            return Err(field("codes", "too many codes in a list"));
        }
        if self.valid_until <= self.valid_from {
            return Err(field("valid_until", "not after valid_from"));
        }
        if self.grants.len() > MAX_GRANTS {
            return Err(field("grants", "too many grants"));
        }
        if self.device_key.as_ref().is_some_and(|k| !tessera_credential::is_device_key(k)) {
            return Err(field("device_key", "not a compressed P-256 public key"));
        }
        for g in &self.grants {
            if g.venues.len() > MAX_GRANT_CODES || g.zones.len() > MAX_GRANT_CODES {
                return Err(field("grants", "too many codes in a grant"));
            }
            if g.until <= g.from || g.from < self.valid_from || g.until > self.valid_until {
                return Err(field("grants", "window empty or outside the badge's validity"));
            }
        }
        Ok(())
    }

    /// Decodes a signed badge **without checking its signature** (for display and tests).
    pub fn parse_unverified(signed: &[u8]) -> Result<Badge, ParseError> {
        wire::parse(signed).map(|raw| raw.badge)
    }

    /// Decodes what a scanner read (a card's badge, or a phone's code) **without checking any
    /// signature**: for showing who a refused genuine badge belongs to.
    pub fn parse_scanned_unverified(scanned: &[u8]) -> Result<Badge, ParseError> {
        wire::parse_scanned(scanned).map(|(raw, _)| raw.badge)
    }
}

/// The issuer's signing half for badges (made once from the event's [`IssuerKey`]).
pub struct BadgeSigner {
    key_id: u32,
    secret: ed25519_dalek::SigningKey,
}

impl BadgeSigner {
    /// A signer from the event's issuer key.
    pub fn new(key: &IssuerKey) -> Self {
        Self { key_id: key.id, secret: ed25519_dalek::SigningKey::from_bytes(&key.secret_bytes()) }
    }

    /// The public key gates trust.
    pub fn public(&self) -> ed25519_dalek::VerifyingKey {
        self.secret.verifying_key()
    }

    /// Encodes and signs a badge for a cleared person: `body || ed25519(BADGE_TAG || body)`.
    pub fn sign(&self, badge: &Badge, clearance: &Clearance) -> Result<SignedBadge, EncodeError> {
        if clearance.person() != badge.person {
            return Err(EncodeError::ClearanceMismatch { badge: badge.person, cleared: clearance.person() });
        }
        if badge.key_id != self.key_id {
            return Err(EncodeError::KeyIdMismatch { badge: badge.key_id, signer: self.key_id });
        }
        badge.validate()?;
        let mut out = wire::encode_body(badge);
        let signature = self.secret.sign(&wire::message(&out));
        out.extend_from_slice(&signature.to_bytes());
        Ok(SignedBadge(out))
    }
}

impl fmt::Debug for BadgeSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BadgeSigner").field("key_id", &self.key_id).field("secret", &"<redacted>").finish()
    }
}

/// A signed badge's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedBadge(Vec<u8>);

impl SignedBadge {
    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The Base45 text for the QR code (alphanumeric mode). A phone badge's text is not a code
    /// by itself: the phone shows [`phone_code`]'s.
    pub fn to_text(&self) -> String {
        base45::encode(&self.0)
    }
}

/// What a phone's device key signs for `step`: `BADGE_CODE_TAG || sha256(signed phone badge) ||
/// step (u64 big-endian)`. The hash covers the person and the serial, so a code is for this
/// badge only; the phone page builds the same bytes and signs them with WebCrypto.
pub fn phone_code_message(signed_badge: &[u8], step: u64) -> Vec<u8> {
    let mut m = Vec::with_capacity(BADGE_CODE_TAG.len() + 32 + 8);
    m.extend_from_slice(BADGE_CODE_TAG);
    m.extend_from_slice(&Sha256::digest(signed_badge));
    m.extend_from_slice(&step.to_be_bytes());
    m
}

/// The text a phone shows for `step` (`tessera_credential::step_at` of its clock): the signed
/// phone badge's bytes, the step and the device's signature, in Base45. The phone page does the
/// same in the browser; this is for tests, simulators and the demo.
pub fn phone_code(signed_badge: &[u8], device: &p256::ecdsa::SigningKey, step: u64) -> String {
    let signature = tessera_credential::sign_device_message(device, &phone_code_message(signed_badge, step));
    let mut out = Vec::with_capacity(signed_badge.len() + CODE_TAIL_LEN);
    out.extend_from_slice(signed_badge);
    out.extend_from_slice(&step.to_be_bytes());
    out.extend_from_slice(&signature);
    base45::encode(&out)
}

/// Where and when a gate checks a badge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GateContext<'a> {
    /// The venue the gate is at.
    pub venue: &'a VenueCode,
    /// The zone the gate lets into.
    pub zone: &'a ZoneCode,
    /// The gate's clock, unix seconds.
    pub now: i64,
    /// How a phone's code is judged in time: the tickets' policy (the same step, window and
    /// clock skew), from the gate's bundle. Printed cards ignore it.
    pub policy: Policy,
}

/// How a badge fails the cryptographic check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forgery {
    /// Signed with a key id the gate does not trust.
    UnknownKey,
    /// The signature does not verify: forged or altered.
    BadSignature,
    /// A trusted key, but outside its validity window.
    KeyNotValidNow,
}

/// Why a badge is refused. [`Reason::as_str`] gives stable codes for logs and the gate screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Not a badge: bad text, bad layout, bad version. The detail is for logs.
    Malformed(&'static str),
    /// Not signed by a trusted key.
    Forged(Forgery),
    /// The person's accreditation is revoked, or this card was superseded by a reprint.
    Revoked,
    /// Before its validity.
    NotYetValid,
    /// After its validity.
    Expired,
    /// Valid, but not for this venue.
    NoVenueAccess,
    /// Valid for this venue, but not this zone.
    NoZoneAccess,
    /// A phone badge's code not signed by the phone it is bound to: copied to another phone,
    /// or forged.
    BadDeviceSignature,
    /// A phone badge's code from a step the window no longer accepts: a screenshot.
    ExpiredCode,
    /// A phone badge's code from a step ahead of the gate's clock.
    FutureCode,
}

impl Reason {
    /// Stable snake_case code.
    pub fn as_str(&self) -> &'static str {
        match self {
            Reason::Malformed(_) => "malformed",
            Reason::Forged(_) => "forged",
            Reason::Revoked => "revoked",
            Reason::NotYetValid => "not_yet_valid",
            Reason::Expired => "expired",
            Reason::NoVenueAccess => "no_venue_access",
            Reason::NoZoneAccess => "no_zone_access",
            // The ticket code's reasons: one meaning, one code for gates and their metrics.
            Reason::BadDeviceSignature => "bad_device_signature",
            Reason::ExpiredCode => "expired_code",
            Reason::FutureCode => "future_code",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Malformed(d) => write!(f, "malformed ({d})"),
            Reason::Forged(k) => write!(f, "forged ({k:?})"),
            other => f.write_str(other.as_str()),
        }
    }
}

/// What an admitted badge proves, for the gate's screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedBadge {
    /// The person (badge id).
    pub person: PersonId,
    /// Card serial.
    pub serial: u16,
    /// Name as printed.
    pub holder: String,
    /// Organisation.
    pub organisation: OrgCode,
    /// Category.
    pub category: CategoryCode,
    /// Hash of the photo to show.
    pub photo_sha256: [u8; 32],
    /// The time-bound grant that admitted, if the badge's own access did not.
    pub via_grant: Option<GrantKind>,
}

/// The gate's decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Let in.
    Admitted(VerifiedBadge),
    /// Refused, with the first reason found.
    Refused(Reason),
}

impl Decision {
    /// Whether admitted.
    pub fn is_admitted(&self) -> bool {
        matches!(self, Decision::Admitted(_))
    }

    /// The refusal reason.
    pub fn reason(&self) -> Option<Reason> {
        match self {
            Decision::Admitted(_) => None,
            Decision::Refused(r) => Some(*r),
        }
    }

    /// Badges may re-enter: an admission does not consume anything (unlike a ticket, which the
    /// gate marks used). True for every admission.
    pub fn re_entry_allowed(&self) -> bool {
        self.is_admitted()
    }

    /// `admitted` or the reason's code.
    pub fn as_str(&self) -> &'static str {
        match self {
            Decision::Admitted(_) => "admitted",
            Decision::Refused(r) => r.as_str(),
        }
    }
}

/// Verifies the QR text of a badge offline. Pure and panic-free on any input.
///
/// Checks in order: length and Base45; layout and version (a phone badge must come with its
/// code, a card without anything after it); key trusted; signature; key in force at `ctx.now`;
/// for a phone badge, the device's signature over the step and the step's freshness under
/// `ctx.policy`; `revoked(person, serial)`; validity window; venue; zone (the badge's own
/// access, then any time-bound grant in force).
pub fn verify(
    text: &str,
    keys: &TrustedKeys,
    ctx: &GateContext<'_>,
    revoked: &impl Fn(PersonId, u16) -> bool,
) -> Decision {
    if text.len() > MAX_TEXT_LEN {
        return Decision::Refused(Reason::Malformed("code too long"));
    }
    match base45::decode(text) {
        Ok(bytes) => verify_bytes(&bytes, keys, ctx, revoked),
        Err(_) => Decision::Refused(Reason::Malformed("not base45")),
    }
}

/// Like [`verify`], on the signed bytes.
pub fn verify_bytes(
    signed: &[u8],
    keys: &TrustedKeys,
    ctx: &GateContext<'_>,
    revoked: &impl Fn(PersonId, u16) -> bool,
) -> Decision {
    match verify_inner(signed, keys, ctx, revoked) {
        Ok(v) => Decision::Admitted(v),
        Err(r) => Decision::Refused(r),
    }
}

/// A phone badge's code: the ticket's checks (`tessera-credential`'s own) on the badge's
/// message, so that the phone bound to the badge made this code, for a step still fresh.
fn check_phone_code(
    device_key: &[u8; DEVICE_KEY_LEN],
    signed_badge: &[u8],
    tail: &[u8],
    ctx: &GateContext<'_>,
) -> Result<(), Reason> {
    let (step_bytes, device_signature) = tail.split_at(8.min(tail.len()));
    let step = u64::from_be_bytes(step_bytes.try_into().map_err(|_| Reason::Malformed("code truncated"))?);
    tessera_credential::check_device_signature(device_key, &phone_code_message(signed_badge, step), device_signature)
        .and_then(|()| tessera_credential::check_freshness(step, &ctx.policy, ctx.now))
        .map_err(|r| match r {
            tessera_credential::Reason::ExpiredCode => Reason::ExpiredCode,
            tessera_credential::Reason::FutureCode => Reason::FutureCode,
            tessera_credential::Reason::Malformed(d) => Reason::Malformed(d),
            _ => Reason::BadDeviceSignature,
        })
}

fn covers(venues: &[VenueCode], venue: &VenueCode) -> bool {
    venues.iter().any(|v| v == venue || v.is_all())
}

fn verify_inner(
    signed: &[u8],
    keys: &TrustedKeys,
    ctx: &GateContext<'_>,
    revoked: &impl Fn(PersonId, u16) -> bool,
) -> Result<VerifiedBadge, Reason> {
    let (raw, code) = wire::parse_scanned(signed).map_err(|e| Reason::Malformed(e.detail()))?;
    let b = raw.badge;
    let trusted = keys.get(b.key_id).ok_or(Reason::Forged(Forgery::UnknownKey))?;
    let signature = ed25519_dalek::Signature::from_bytes(&raw.signature);
    trusted
        .key
        .verify_strict(&wire::message(raw.body), &signature)
        .map_err(|_| Reason::Forged(Forgery::BadSignature))?;
    if ctx.now < trusted.not_before || ctx.now > trusted.not_after {
        return Err(Reason::Forged(Forgery::KeyNotValidNow));
    }
    match (&b.device_key, code) {
        (None, None) => {}
        (Some(device_key), Some(tail)) => check_phone_code(device_key, raw.whole, tail, ctx)?,
        // `parse_scanned` gives a code exactly to a phone badge; kept as a refusal all the same.
        _ => return Err(Reason::Malformed("a code without a phone badge, or the reverse")),
    }
    if revoked(b.person, b.serial) {
        return Err(Reason::Revoked);
    }
    if ctx.now < b.valid_from {
        return Err(Reason::NotYetValid);
    }
    if ctx.now >= b.valid_until {
        return Err(Reason::Expired);
    }
    let own_venue = covers(&b.venues, ctx.venue);
    let mut via_grant = None;
    if !(own_venue && b.zones.contains(ctx.zone)) {
        let mut venue_seen = own_venue;
        for g in b.grants.iter().filter(|g| g.is_active(ctx.now)) {
            let grant_venue = if g.venues.is_empty() { own_venue } else { covers(&g.venues, ctx.venue) };
            venue_seen |= grant_venue;
            if grant_venue && g.zones.contains(ctx.zone) {
                via_grant = Some(g.kind);
                break;
            }
        }
        if via_grant.is_none() {
            return Err(if venue_seen { Reason::NoZoneAccess } else { Reason::NoVenueAccess });
        }
    }
    Ok(VerifiedBadge {
        person: b.person,
        serial: b.serial,
        holder: b.holder,
        organisation: b.organisation,
        category: b.category,
        photo_sha256: b.photo_sha256,
        via_grant,
    })
}

/// What a gate knows about revocations: people whose accreditation is revoked, and the current
/// card serial of people whose card was reprinted (older serials are refused). Its size is
/// bounded by the number of accredited people.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RevocationList {
    revoked: BTreeSet<PersonId>,
    current_serial: BTreeMap<PersonId, u16>,
}

impl RevocationList {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Revokes every card of `person`.
    pub fn revoke(&mut self, person: PersonId) {
        self.revoked.insert(person);
    }

    /// Records that `person`'s current card is `serial`: every lower serial is refused from now.
    /// A lower serial than one already recorded is ignored (updates may arrive out of order).
    pub fn reissue(&mut self, person: PersonId, serial: u16) {
        let current = self.current_serial.entry(person).or_insert(serial);
        *current = (*current).max(serial);
    }

    /// Revoked people, in order (for sending the list to gates).
    pub fn revoked(&self) -> impl Iterator<Item = PersonId> + '_ {
        self.revoked.iter().copied()
    }

    /// People with a reprinted card and their current serial, in order.
    pub fn reissued(&self) -> impl Iterator<Item = (PersonId, u16)> + '_ {
        self.current_serial.iter().map(|(p, s)| (*p, *s))
    }

    /// Whether a card is refused: its person is revoked, or a later serial supersedes it.
    pub fn is_revoked(&self, person: PersonId, serial: u16) -> bool {
        self.revoked.contains(&person) || self.current_serial.get(&person).is_some_and(|c| serial < *c)
    }
}

/// Checks the code rules on bytes read from a badge.
fn code_from_bytes<T>(bytes: &[u8], make: impl Fn(&str) -> Result<T, crate::codes::CodeError>) -> Option<T> {
    let s = std::str::from_utf8(bytes).ok()?;
    check_code(s).ok()?;
    make(s).ok()
}
