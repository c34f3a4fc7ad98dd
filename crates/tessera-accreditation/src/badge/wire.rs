//! The badge's bytes: encoding a validated badge, and bounded, panic-free parsing.

use super::{
    code_from_bytes, Badge, CODE_TAIL_LEN, FORMAT_VERSION, MAX_BADGE_LEN, MAX_CODES, MAX_GRANTS, MAX_GRANT_CODES,
    MAX_HOLDER_LEN, PHONE_FORMAT_VERSION, SIGNATURE_LEN,
};
use crate::codes::{CategoryCode, CodeError, OrgCode, PersonId, PrivilegeCode, VenueCode, ZoneCode, MAX_CODE_LEN};
use crate::matrix::{GrantKind, TimedGrant};
use tessera_credential::reader::{Malformed, Reader};
use tessera_credential::DEVICE_KEY_LEN;

/// Why bytes are not a well-formed badge (signatures aside).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The version byte is neither [`FORMAT_VERSION`] nor [`PHONE_FORMAT_VERSION`].
    #[error("unsupported badge format version")]
    WrongVersion,
    /// The bytes do not follow the layout.
    #[error("malformed badge: {0}")]
    Malformed(&'static str),
}

impl ParseError {
    /// A short detail for logs.
    pub fn detail(&self) -> &'static str {
        match self {
            ParseError::WrongVersion => "unsupported format version",
            ParseError::Malformed(d) => d,
        }
    }
}

/// The bytes the issuer signs: `BADGE_TAG || body`.
pub(super) fn message(body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(super::BADGE_TAG.len() + body.len());
    m.extend_from_slice(super::BADGE_TAG);
    m.extend_from_slice(body);
    m
}

fn push_code(out: &mut Vec<u8>, code: &str) {
    // Codes are at most MAX_CODE_LEN bytes by construction.
    out.push(code.len() as u8);
    out.extend_from_slice(code.as_bytes());
}

fn push_list<'a>(out: &mut Vec<u8>, codes: impl ExactSizeIterator<Item = &'a str>) {
    // List lengths are bounded by `Badge::validate`.
    out.push(codes.len() as u8);
    for c in codes {
        push_code(out, c);
    }
}

/// The unsigned body of a badge that passed [`Badge::validate`]: version 1 for a card, 2 (the
/// same fields and the device key) for a phone badge.
pub(super) fn encode_body(b: &Badge) -> Vec<u8> {
    let mut out = Vec::with_capacity(MAX_BADGE_LEN);
    out.push(if b.device_key.is_some() { PHONE_FORMAT_VERSION } else { FORMAT_VERSION });
    out.extend_from_slice(&b.key_id.to_be_bytes());
    out.extend_from_slice(&b.person.0.to_be_bytes());
    out.extend_from_slice(&b.serial.to_be_bytes());
    out.push(b.holder.len() as u8);
    out.extend_from_slice(b.holder.as_bytes());
    push_code(&mut out, b.organisation.as_str());
    push_code(&mut out, b.category.as_str());
    push_list(&mut out, b.venues.iter().map(VenueCode::as_str));
    push_list(&mut out, b.zones.iter().map(ZoneCode::as_str));
    push_list(&mut out, b.privileges.iter().map(PrivilegeCode::as_str));
    out.extend_from_slice(&b.valid_from.to_be_bytes());
    out.extend_from_slice(&b.valid_until.to_be_bytes());
    out.push(b.grants.len() as u8);
    for g in &b.grants {
        out.push(match g.kind {
            GrantKind::DayPass => 0,
            GrantKind::Upgrade => 1,
        });
        push_list(&mut out, g.venues.iter().map(VenueCode::as_str));
        push_list(&mut out, g.zones.iter().map(ZoneCode::as_str));
        out.extend_from_slice(&g.from.to_be_bytes());
        out.extend_from_slice(&g.until.to_be_bytes());
    }
    out.extend_from_slice(&b.photo_sha256);
    if let Some(key) = &b.device_key {
        out.extend_from_slice(key);
    }
    out
}

/// A parsed badge with the slices the signature checks need.
pub(super) struct RawBadge<'a> {
    pub badge: Badge,
    pub body: &'a [u8],
    pub signature: [u8; SIGNATURE_LEN],
    /// Body and signature: what a phone's code signs the hash of.
    pub whole: &'a [u8],
}

impl From<Malformed> for ParseError {
    fn from(m: Malformed) -> Self {
        ParseError::Malformed(m.0)
    }
}

/// A code after its one-byte length.
fn code<T>(
    r: &mut Reader<'_>,
    what: &'static str,
    make: impl Fn(&str) -> Result<T, CodeError>,
) -> Result<T, ParseError> {
    code_from_bytes(r.prefixed(MAX_CODE_LEN, what)?, make).ok_or(ParseError::Malformed(what))
}

/// At most `max` codes after their one-byte count.
fn list<T>(
    r: &mut Reader<'_>,
    max: usize,
    what: &'static str,
    make: impl Fn(&str) -> Result<T, CodeError> + Copy,
) -> Result<Vec<T>, ParseError> {
    let n = usize::from(r.u8(what)?);
    if n > max {
        return Err(ParseError::Malformed(what));
    }
    (0..n).map(|_| code(r, what, make)).collect()
}

/// Parses a complete signed badge; trailing bytes are refused.
pub(super) fn parse(buf: &[u8]) -> Result<RawBadge<'_>, ParseError> {
    if buf.len() > MAX_BADGE_LEN {
        return Err(ParseError::Malformed("badge too long"));
    }
    let (raw, rest) = parse_prefix(buf)?;
    if !rest.is_empty() {
        return Err(ParseError::Malformed("trailing bytes"));
    }
    Ok(raw)
}

/// What a scanner read: a card's signed badge (nothing after it), or a phone's code (the
/// signed phone badge, then exactly the step and the device's signature).
pub(super) fn parse_scanned(buf: &[u8]) -> Result<(RawBadge<'_>, Option<&[u8]>), ParseError> {
    if buf.len() > MAX_BADGE_LEN + CODE_TAIL_LEN {
        return Err(ParseError::Malformed("code too long"));
    }
    let (raw, rest) = parse_prefix(buf)?;
    match (raw.badge.device_key.is_some(), rest.len()) {
        (false, 0) => Ok((raw, None)),
        (false, _) => Err(ParseError::Malformed("trailing bytes")),
        // The signed phone badge alone is not a code: shown as it is, it would be a
        // screenshot that never goes stale.
        (true, 0) => Err(ParseError::Malformed("a phone badge without its renewing code")),
        (true, n) if n < CODE_TAIL_LEN => Err(ParseError::Malformed("code truncated")),
        (true, n) if n > CODE_TAIL_LEN => Err(ParseError::Malformed("trailing bytes after the code")),
        (true, _) => Ok((raw, Some(rest))),
    }
}

/// Parses a signed badge at the start of `buf`; returns it and the bytes after it.
fn parse_prefix(buf: &[u8]) -> Result<(RawBadge<'_>, &[u8]), ParseError> {
    let mut r = Reader::new(buf);
    let version = r.u8("empty input")?;
    if version != FORMAT_VERSION && version != PHONE_FORMAT_VERSION {
        return Err(ParseError::WrongVersion);
    }
    let key_id = u32::from_be_bytes(r.array("key id")?);
    let person = PersonId(u64::from_be_bytes(r.array("person")?));
    let serial = u16::from_be_bytes(r.array("serial")?);
    let holder_len = usize::from(r.u8("holder")?);
    if holder_len == 0 || holder_len > MAX_HOLDER_LEN {
        return Err(ParseError::Malformed("holder"));
    }
    let holder = std::str::from_utf8(r.take(holder_len, "holder")?).map_err(|_| ParseError::Malformed("holder"))?;
    if holder.chars().any(char::is_control) {
        return Err(ParseError::Malformed("holder"));
    }
    let organisation = code(&mut r, "organisation", OrgCode::parse)?;
    let category = code(&mut r, "category", CategoryCode::parse)?;
    let venues = list(&mut r, MAX_CODES, "venues", VenueCode::parse)?;
    let zones = list(&mut r, MAX_CODES, "zones", ZoneCode::parse)?;
    let privileges = list(&mut r, MAX_CODES, "privileges", PrivilegeCode::parse)?;
    let valid_from = r.i64("valid from")?;
    let valid_until = r.i64("valid until")?;
    if valid_until <= valid_from {
        return Err(ParseError::Malformed("empty validity"));
    }
    let n_grants = usize::from(r.u8("grants")?);
    if n_grants > MAX_GRANTS {
        return Err(ParseError::Malformed("grants"));
    }
    let mut grants = Vec::with_capacity(n_grants);
    for _ in 0..n_grants {
        let kind = match r.u8("grant kind")? {
            0 => GrantKind::DayPass,
            1 => GrantKind::Upgrade,
            _ => return Err(ParseError::Malformed("grant kind")),
        };
        let venues = list(&mut r, MAX_GRANT_CODES, "grant venues", VenueCode::parse)?;
        let zones = list(&mut r, MAX_GRANT_CODES, "grant zones", ZoneCode::parse)?;
        let from = r.i64("grant from")?;
        let until = r.i64("grant until")?;
        grants.push(TimedGrant { kind, venues, zones, from, until });
    }
    let photo_sha256 = r.array("photo hash")?;
    let device_key = if version == PHONE_FORMAT_VERSION {
        let key: [u8; DEVICE_KEY_LEN] = r.array("device key")?;
        // Only the compressed form is ever signed; the point itself is checked with the
        // device's signature.
        if !matches!(key[0], 2 | 3) {
            return Err(ParseError::Malformed("device key not compressed"));
        }
        Some(key)
    } else {
        None
    };
    let body_end = r.position();
    let signature = r.array("signature")?;
    let end = r.position();
    let badge = Badge {
        key_id,
        person,
        serial,
        holder: holder.to_owned(),
        organisation,
        category,
        venues,
        zones,
        privileges,
        valid_from,
        valid_until,
        grants,
        photo_sha256,
        device_key,
    };
    Ok((RawBadge { badge, body: &buf[..body_end], signature, whole: &buf[..end] }, &buf[end..]))
}
