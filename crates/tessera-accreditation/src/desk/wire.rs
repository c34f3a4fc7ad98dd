//! The desk list's bytes: plaintext encoding, the AEAD envelope, bounded parsing.

use ring::aead;
use time::Date;

use super::{code_from_bytes, DeskError, DeskKey, ListEntry, LIST_MAGIC, LIST_TAG, MAX_ENTRIES, MAX_ENTRY_NAME_LEN};
use crate::application::DOCUMENT_LEN;
use crate::codes::{CategoryCode, DeskCode, OrgCode, PersonId, MAX_CODE_LEN};
use tessera_credential::reader::{Malformed, Reader};

/// Version 2 adds each entry's organisation; version 1 lists (kept by a desk from before)
/// still open, without it.
const VERSION: u8 = 2;
const VERSION_WITHOUT_ORGANISATION: u8 = 1;
const NONCE_LEN: usize = 12;

fn push_short(out: &mut Vec<u8>, s: &str) {
    // Callers bound every short field far below 256 bytes.
    out.push(s.len() as u8);
    out.extend_from_slice(s.as_bytes());
}

fn entry_len(e: &ListEntry) -> usize {
    let organisation = e.organisation.as_ref().map_or(0, |o| o.as_str().len());
    8 + 2 + 1 + e.name.len() + 4 + 1 + e.document.len() + 1 + e.category.as_str().len() + 1 + organisation + 32
}

/// Plaintext length without the signature.
pub(super) fn plain_len(desk: &DeskCode, entries: &[ListEntry]) -> usize {
    1 + 1 + desk.as_str().len() + 8 + 4 + entries.iter().map(entry_len).sum::<usize>()
}

/// The plaintext body (without the signature).
pub(super) fn encode(desk: &DeskCode, issued_at: i64, entries: &[ListEntry]) -> Result<Vec<u8>, DeskError> {
    let mut out = Vec::with_capacity(plain_len(desk, entries) + 64 + 16);
    out.push(VERSION);
    push_short(&mut out, desk.as_str());
    out.extend_from_slice(&issued_at.to_be_bytes());
    // Bounded by MAX_ENTRIES, checked by the caller.
    out.extend_from_slice(&(entries.len() as u32).to_be_bytes());
    for e in entries {
        let bad = |problem| DeskError::BadEntry { person: e.person, problem };
        if e.name.is_empty() || e.name.len() > MAX_ENTRY_NAME_LEN {
            return Err(bad("name empty or too long"));
        }
        if !DOCUMENT_LEN.contains(&e.document.len())
            || !e.document.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        {
            return Err(bad("document number not normalised"));
        }
        out.extend_from_slice(&e.person.0.to_be_bytes());
        out.extend_from_slice(&e.serial.to_be_bytes());
        push_short(&mut out, &e.name);
        out.extend_from_slice(&e.date_of_birth.to_julian_day().to_be_bytes());
        push_short(&mut out, &e.document);
        push_short(&mut out, e.category.as_str());
        let Some(organisation) = &e.organisation else { return Err(bad("no organisation")) };
        push_short(&mut out, organisation.as_str());
        out.extend_from_slice(&e.photo_sha256);
    }
    Ok(out)
}

/// What the issuer signs: `LIST_TAG || body`.
pub(super) fn signed_message(body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(LIST_TAG.len() + body.len());
    m.extend_from_slice(LIST_TAG);
    m.extend_from_slice(body);
    m
}

/// `"TDL1" | desk code`: the start of the file, and the AEAD's associated data.
pub(super) fn outer_header(desk: &DeskCode) -> Vec<u8> {
    let mut out = LIST_MAGIC.to_vec();
    push_short(&mut out, desk.as_str());
    out
}

fn key(desk_key: &DeskKey) -> aead::LessSafeKey {
    // A 32-byte key always suits ChaCha20-Poly1305.
    let unbound = aead::UnboundKey::new(&aead::CHACHA20_POLY1305, &desk_key.0).expect("32-byte key");
    aead::LessSafeKey::new(unbound)
}

/// Encrypts `data` in place and appends the tag.
pub(super) fn seal(desk_key: &DeskKey, nonce: [u8; NONCE_LEN], aad: &[u8], data: &mut Vec<u8>) {
    key(desk_key)
        .seal_in_place_append_tag(aead::Nonce::assume_unique_for_key(nonce), aead::Aad::from(aad), data)
        .expect("ChaCha20-Poly1305 seals any length a list can have");
}

/// The parts of a list file.
pub(super) struct Outer<'a> {
    /// The desk code in the clear header.
    pub desk: DeskCode,
    /// The clear header, authenticated as associated data.
    pub aad: &'a [u8],
    /// The AEAD nonce.
    pub nonce: [u8; NONCE_LEN],
    /// Ciphertext and tag.
    pub sealed: &'a [u8],
}

/// Splits a file into its parts.
pub(super) fn split_outer(bytes: &[u8]) -> Result<Outer<'_>, DeskError> {
    if !bytes.starts_with(LIST_MAGIC) {
        return Err(DeskError::Malformed("not a desk list file"));
    }
    let len = usize::from(*bytes.get(4).ok_or(DeskError::Malformed("truncated header"))?);
    let code = bytes.get(5..5 + len).and_then(code_from_bytes).ok_or(DeskError::Malformed("desk code"))?;
    let desk = DeskCode::parse(code).map_err(|_| DeskError::Malformed("desk code"))?;
    let aad_end = 5 + len;
    let nonce: [u8; NONCE_LEN] = bytes
        .get(aad_end..aad_end + NONCE_LEN)
        .and_then(|n| n.try_into().ok())
        .ok_or(DeskError::Malformed("truncated header"))?;
    Ok(Outer { desk, aad: &bytes[..aad_end], nonce, sealed: &bytes[aad_end + NONCE_LEN..] })
}

/// Decrypts in place; the plaintext is the returned prefix.
pub(super) fn open_sealed<'a>(
    desk_key: &DeskKey,
    nonce: [u8; NONCE_LEN],
    aad: &[u8],
    data: &'a mut [u8],
) -> Result<&'a [u8], DeskError> {
    key(desk_key)
        .open_in_place(aead::Nonce::assume_unique_for_key(nonce), aead::Aad::from(aad), data)
        .map(|p| &*p)
        .map_err(|_| DeskError::Undecryptable)
}

impl From<Malformed> for DeskError {
    fn from(m: Malformed) -> Self {
        DeskError::Malformed(m.0)
    }
}

/// Parses a verified plaintext body (it is signed, but parsing stays strict all the same).
pub(super) fn decode(body: &[u8]) -> Result<(DeskCode, i64, Vec<ListEntry>), DeskError> {
    let mut r = Reader::new(body);
    let version = r.array::<1>("version")?[0];
    if version != VERSION && version != VERSION_WITHOUT_ORGANISATION {
        return Err(DeskError::Malformed("unsupported version"));
    }
    let desk = DeskCode::parse(r.text(8, "desk code")?).map_err(|_| DeskError::Malformed("desk code"))?;
    let issued_at = i64::from_be_bytes(r.array("issued at")?);
    let count = u32::from_be_bytes(r.array("count")?) as usize;
    if count > MAX_ENTRIES {
        return Err(DeskError::Malformed("too many entries"));
    }
    // Never trust a count for an allocation larger than the input could hold.
    let mut entries = Vec::with_capacity(count.min(body.len() / 50));
    for _ in 0..count {
        let person = PersonId(u64::from_be_bytes(r.array("person")?));
        let serial = u16::from_be_bytes(r.array("serial")?);
        let name = r.text(MAX_ENTRY_NAME_LEN, "name")?.to_owned();
        let day = i32::from_be_bytes(r.array("date of birth")?);
        let date_of_birth = Date::from_julian_day(day).map_err(|_| DeskError::Malformed("date of birth"))?;
        let document = r.text(*DOCUMENT_LEN.end(), "document")?.to_owned();
        let category = CategoryCode::parse(r.text(8, "category")?).map_err(|_| DeskError::Malformed("category"))?;
        let organisation = match version {
            VERSION_WITHOUT_ORGANISATION => None,
            _ => Some(
                OrgCode::parse(r.text(MAX_CODE_LEN, "organisation")?)
                    .map_err(|_| DeskError::Malformed("organisation"))?,
            ),
        };
        let photo_sha256 = r.array("photo hash")?;
        entries.push(ListEntry { person, serial, name, date_of_birth, document, category, organisation, photo_sha256 });
    }
    if !r.is_done() {
        return Err(DeskError::Malformed("trailing bytes"));
    }
    Ok((desk, issued_at, entries))
}
