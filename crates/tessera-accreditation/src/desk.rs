//! The collection desk's offline list, and the hand-overs it records.
//!
//! On 19 July 2024 a faulty security update stopped the Paris 2024 collection desks, which fell
//! back to paper lists of names. Here a desk downloads, while it is online, the list of approved
//! people it may hand cards to, and keeps working from it when the network or the central
//! system is gone.
//!
//! The list is **signed, then encrypted**. The event's key signs the list (domain tag
//! [`LIST_TAG`]) so a desk trusts only lists the central system made; ChaCha20-Poly1305 with the
//! desk's own 256-bit [`DeskKey`] (random, held by the desk, derived from nothing in the data)
//! encrypts it, so a copied file reveals no personal data without that key. [`open`] refuses a
//! list under a wrong key or altered in any byte ([`DeskError::Undecryptable`]), signed by
//! another key ([`DeskError::BadSignature`]), or made for another desk.
//!
//! # Layout
//!
//! ```text
//! file      = "TDL1" | desk code | nonce [12] | ChaCha20-Poly1305(plaintext), AAD = "TDL1" | desk code
//! plaintext = version u8 = 1 | desk code | issued_at i64 | count u32 | entry* | Ed25519 signature [64]
//! entry     = person u64 | serial u16 | name: len u8 + UTF-8 | date of birth (Julian day) i32
//!             | document: len u8 + ASCII | category code | photo SHA-256 [32]
//! ```
//!
//! (codes are `len u8 + ASCII`.) An entry takes about 80 bytes for a typical name
//! ([`DeskList::encoded_len`] gives the exact size), so a list of 500,000 people is about 40 MB.
//!
//! Hand-overs ([`HandOver`]) are recorded at the desk in a [`HandOverLog`] and merged into the
//! central one when the desk reconnects; [`HandOverLog::merge`] is idempotent and independent of
//! order, and flags a second hand-over of the same card.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use ed25519_dalek::Signer as _;
use time::Date;

use crate::application::duplicates::normalise_name;
use crate::application::{Application, DocumentNumber};
use crate::codes::{check_code, AccountId, CategoryCode, DeskCode, OrgCode, PersonId};

mod wire;

/// First bytes of a list file.
pub const LIST_MAGIC: &[u8; 4] = b"TDL1";
/// Domain-separation tag of the list signature.
pub const LIST_TAG: &[u8] = b"tessera-desk-list-v1";
/// Longest normalised name in an entry, in bytes.
pub const MAX_ENTRY_NAME_LEN: usize = 128;
/// Most entries in one list.
pub const MAX_ENTRIES: usize = 2_000_000;

/// A desk's list key: 32 random bytes the desk holds. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct DeskKey([u8; 32]);

impl DeskKey {
    /// A fresh key from a cryptographic random number generator.
    pub fn generate<R: rand_core::CryptoRng + rand_core::RngCore + ?Sized>(rng: &mut R) -> Self {
        let mut k = [0u8; 32];
        rng.fill_bytes(&mut k);
        Self(k)
    }

    /// A key from its bytes (as stored on the desk).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The key's bytes, to store on the desk.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0
    }
}

impl fmt::Debug for DeskKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DeskKey(<redacted>)")
    }
}

/// One approved person on a desk's list.
#[derive(Clone, PartialEq, Eq)]
pub struct ListEntry {
    /// Person (badge id).
    pub person: PersonId,
    /// The card serial to hand over.
    pub serial: u16,
    /// Normalised name (see [`normalise_name`]).
    pub name: String,
    /// Date of birth.
    pub date_of_birth: Date,
    /// Normalised document number.
    pub document: String,
    /// Category.
    pub category: CategoryCode,
    /// The responsible organisation, for the clerk to check against what the person says;
    /// `None` on a list of the first version, which did not carry it.
    pub organisation: Option<OrgCode>,
    /// SHA-256 of the card photo, to show the photo the desk holds.
    pub photo_sha256: [u8; 32],
}

impl fmt::Debug for ListEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Personal fields stay out of logs.
        write!(f, "ListEntry({}, serial {}, {})", self.person, self.serial, self.category)
    }
}

impl ListEntry {
    /// The entry for an approved application's card.
    pub fn for_application(person: PersonId, serial: u16, application: &Application, photo_sha256: [u8; 32]) -> Self {
        let key = application.duplicate_key();
        let mut name = key.name;
        if name.len() > MAX_ENTRY_NAME_LEN {
            let mut end = MAX_ENTRY_NAME_LEN;
            while !name.is_char_boundary(end) {
                end -= 1;
            }
            name.truncate(end);
        }
        Self {
            person,
            serial,
            name,
            date_of_birth: key.date_of_birth,
            document: key.document,
            category: application.category().clone(),
            organisation: Some(application.organisation().clone()),
            photo_sha256,
        }
    }
}

/// Why a list cannot be built or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeskError {
    /// Not a list file (magic, header).
    #[error("not a desk list: {0}")]
    Malformed(&'static str),
    /// Decryption failed: the wrong desk key, or the file was altered.
    #[error("the list cannot be decrypted: wrong desk key or altered file")]
    Undecryptable,
    /// Decrypted, but not signed by the trusted key.
    #[error("the list's signature does not verify")]
    BadSignature,
    /// Made for another desk.
    #[error("the list was made for desk `{0}`")]
    OtherDesk(DeskCode),
    /// An entry breaks the format's bounds (when building).
    #[error("entry for {person} cannot be listed: {problem}")]
    BadEntry {
        /// The person.
        person: PersonId,
        /// What is wrong.
        problem: &'static str,
    },
    /// More than [`MAX_ENTRIES`] entries.
    #[error("too many entries")]
    TooManyEntries,
}

/// An opened list, indexed for look-ups.
#[derive(Debug, Clone)]
pub struct DeskList {
    desk: DeskCode,
    issued_at: i64,
    entries: Vec<ListEntry>,
    by_person: HashMap<PersonId, usize>,
    by_document: HashMap<String, Vec<usize>>,
    by_name_birth: HashMap<(String, Date), Vec<usize>>,
}

/// Builds the encrypted, signed list for `desk` (see the module documentation). The nonce is
/// drawn from `rng`; the key never depends on the data.
pub fn build<R: rand_core::CryptoRng + rand_core::RngCore + ?Sized>(
    desk: &DeskCode,
    issued_at: i64,
    entries: &[ListEntry],
    signer: &ed25519_dalek::SigningKey,
    desk_key: &DeskKey,
    rng: &mut R,
) -> Result<Vec<u8>, DeskError> {
    if entries.len() > MAX_ENTRIES {
        return Err(DeskError::TooManyEntries);
    }
    let mut plain = wire::encode(desk, issued_at, entries)?;
    let signature = signer.sign(&wire::signed_message(&plain));
    plain.extend_from_slice(&signature.to_bytes());
    let mut nonce = [0u8; 12];
    rng.fill_bytes(&mut nonce);
    let mut out = wire::outer_header(desk);
    let aad = out.clone();
    out.extend_from_slice(&nonce);
    wire::seal(desk_key, nonce, &aad, &mut plain);
    out.extend_from_slice(&plain);
    Ok(out)
}

/// Decrypts, verifies and indexes a list. Refuses a wrong key, any altered byte, another
/// signer and a list made for another desk than the file says.
pub fn open(bytes: &[u8], desk_key: &DeskKey, issuer: &ed25519_dalek::VerifyingKey) -> Result<DeskList, DeskError> {
    let outer = wire::split_outer(bytes)?;
    let mut plain = outer.sealed.to_vec();
    let plain = wire::open_sealed(desk_key, outer.nonce, outer.aad, &mut plain)?;
    let body_len = plain.len().checked_sub(64).ok_or(DeskError::Malformed("too short"))?;
    let (body, sig) = plain.split_at(body_len);
    let sig = ed25519_dalek::Signature::from_slice(sig).map_err(|_| DeskError::BadSignature)?;
    issuer.verify_strict(&wire::signed_message(body), &sig).map_err(|_| DeskError::BadSignature)?;
    let (desk, issued_at, entries) = wire::decode(body)?;
    if desk != outer.desk {
        return Err(DeskError::OtherDesk(desk));
    }
    Ok(DeskList::index(desk, issued_at, entries))
}

impl DeskList {
    fn index(desk: DeskCode, issued_at: i64, entries: Vec<ListEntry>) -> Self {
        let mut by_person = HashMap::with_capacity(entries.len());
        let mut by_document: HashMap<String, Vec<usize>> = HashMap::with_capacity(entries.len());
        let mut by_name_birth: HashMap<(String, Date), Vec<usize>> = HashMap::with_capacity(entries.len());
        for (i, e) in entries.iter().enumerate() {
            by_person.insert(e.person, i);
            by_document.entry(e.document.clone()).or_default().push(i);
            by_name_birth.entry((e.name.clone(), e.date_of_birth)).or_default().push(i);
        }
        Self { desk, issued_at, entries, by_person, by_document, by_name_birth }
    }

    /// The desk the list is for.
    pub fn desk(&self) -> &DeskCode {
        &self.desk
    }

    /// When the central system made it (unix seconds).
    pub fn issued_at(&self) -> i64 {
        self.issued_at
    }

    /// Every entry.
    pub fn entries(&self) -> &[ListEntry] {
        &self.entries
    }

    /// The entry of a person.
    pub fn person(&self, person: PersonId) -> Option<&ListEntry> {
        self.by_person.get(&person).map(|i| &self.entries[*i])
    }

    /// Entries with this document number (as typed: it is normalised first).
    pub fn by_document(&self, document: &str) -> Vec<&ListEntry> {
        let Ok(doc) = DocumentNumber::parse(document) else { return Vec::new() };
        self.by_document.get(doc.as_str()).map_or_else(Vec::new, |ix| ix.iter().map(|i| &self.entries[*i]).collect())
    }

    /// Entries with this name (normalised first) and date of birth.
    pub fn by_name(&self, given: &str, family: &str, date_of_birth: Date) -> Vec<&ListEntry> {
        let key = (normalise_name(given, family), date_of_birth);
        self.by_name_birth.get(&key).map_or_else(Vec::new, |ix| ix.iter().map(|i| &self.entries[*i]).collect())
    }

    /// Size in bytes of the encrypted file for these entries.
    pub fn encoded_len(desk: &DeskCode, entries: &[ListEntry]) -> usize {
        wire::outer_header(desk).len() + 12 + wire::plain_len(desk, entries) + 64 + 16
    }

    /// Checks a card can be handed over now: the person is on the list with this serial and no
    /// hand-over of this card is known. Returns the record to add to the desk's log.
    pub fn hand_over(
        &self,
        log: &HandOverLog,
        person: PersonId,
        serial: u16,
        staff: AccountId,
        now: i64,
    ) -> Result<HandOver, HandOverError> {
        let entry = self.person(person).ok_or(HandOverError::NotOnList(person))?;
        if entry.serial != serial {
            return Err(HandOverError::WrongSerial { listed: entry.serial, card: serial });
        }
        if let Some(h) = log.get(person, serial) {
            return Err(HandOverError::AlreadyHandedOver { desk: h.desk.clone(), at: h.at });
        }
        Ok(HandOver { person, serial, at: now, desk: self.desk.clone(), staff })
    }
}

/// A card handed to its holder.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct HandOver {
    /// The person (badge id).
    pub person: PersonId,
    /// The card's serial.
    pub serial: u16,
    /// When (unix seconds, the desk's clock).
    pub at: i64,
    /// Which desk.
    pub desk: DeskCode,
    /// Which staff member checked the identity.
    pub staff: AccountId,
}

/// Why a desk refuses a hand-over.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandOverError {
    /// The person is not on this desk's list (not approved, or not for this desk).
    #[error("{0} is not on this desk's list")]
    NotOnList(PersonId),
    /// The card is not the one the list expects (an old card, or a reprint the list predates).
    #[error("the list expects card serial {listed}, not {card}")]
    WrongSerial {
        /// Serial on the list.
        listed: u16,
        /// Serial of the card.
        card: u16,
    },
    /// Already handed over.
    #[error("this card was already handed over at desk `{desk}` (at {at})")]
    AlreadyHandedOver {
        /// Desk that handed it over.
        desk: DeskCode,
        /// When.
        at: i64,
    },
}

/// What a merge did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MergeReport {
    /// New hand-overs recorded.
    pub recorded: usize,
    /// Records already known (a second sync of the same records).
    pub already_known: usize,
    /// Newly flagged second hand-overs of a card already handed over.
    pub flagged: Vec<HandOver>,
}

/// Hand-overs, one per card, and the flagged second hand-overs. The merge is a join: for each
/// card the earliest record (by time, then desk, then staff) stands and every other is flagged,
/// so the result does not depend on the order or the number of syncs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HandOverLog {
    records: BTreeMap<(PersonId, u16), HandOver>,
    flagged: BTreeSet<HandOver>,
}

impl HandOverLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// The hand-over of a card.
    pub fn get(&self, person: PersonId, serial: u16) -> Option<&HandOver> {
        self.records.get(&(person, serial))
    }

    /// Every hand-over, by card.
    pub fn records(&self) -> impl Iterator<Item = &HandOver> {
        self.records.values()
    }

    /// Every flagged second hand-over.
    pub fn flagged(&self) -> impl Iterator<Item = &HandOver> {
        self.flagged.iter()
    }

    /// Merges records (from a desk's sync, or a single new hand-over).
    pub fn merge(&mut self, incoming: impl IntoIterator<Item = HandOver>) -> MergeReport {
        let mut report = MergeReport::default();
        for h in incoming {
            let key = (h.person, h.serial);
            let Some(current) = self.records.get_mut(&key) else {
                self.records.insert(key, h);
                report.recorded += 1;
                continue;
            };
            if *current == h {
                report.already_known += 1;
                continue;
            }
            // The earliest record stands; the other one is flagged.
            let flag = if h < *current { std::mem::replace(current, h) } else { h };
            if self.flagged.insert(flag.clone()) {
                report.flagged.push(flag);
            } else {
                report.already_known += 1;
            }
        }
        report
    }
}

/// Checks the code rules on bytes read from a list.
fn code_from_bytes(bytes: &[u8]) -> Option<&str> {
    let s = std::str::from_utf8(bytes).ok()?;
    check_code(s).ok().map(|()| s)
}

#[cfg(test)]
mod tests;
