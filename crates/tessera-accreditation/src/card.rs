//! The printable accreditation card: what it shows ([`CardFace`]), its QR code ([`qr_matrix`])
//! and a one-page PDF at ID-1 size for the card printer ([`card_pdf`]).
//!
//! The card is the badge's human-readable half. Its QR code holds the signed badge's Base45
//! text, so a gate checks the card without trusting anything printed next to it; what is
//! printed (name, category colour, zone numbers, photo) is for the people at the gate.
//!
//! Everything is produced in memory: the PDF is returned as bytes, and the crate still does no
//! I/O. Text is set in the PDF standard fonts with WinAnsiEncoding; [`fold_text`] documents how
//! text outside that encoding is folded.

use time::{OffsetDateTime, UtcOffset};

use crate::application::Application;
use crate::badge::Badge;
use crate::codes::{CategoryCode, PersonId, PrivilegeCode, VenueCode, ZoneCode};

mod pdf;
mod qr;
mod text;

#[cfg(test)]
mod tests;

pub use pdf::{card_pdf, CARD_HEIGHT_PT, CARD_WIDTH_PT, MAX_PHOTO_BYTES, MIN_MODULE_MM, QR_SIDE_PT};
pub use qr::{qr_matrix, QrMatrix, QUIET_ZONE};
pub use text::fold as fold_text;

/// Why a card cannot be produced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    /// The QR payload is longer than the largest QR code holds.
    #[error("the QR payload ({len} bytes) is too long for a QR code")]
    QrTooLong {
        /// Length of the payload, bytes.
        len: usize,
    },
    /// The QR code would need modules too small to print and scan on the card.
    #[error("the QR code would have {modules} modules per side; the card prints at most {max}")]
    QrTooDense {
        /// Modules per side the payload needs.
        modules: usize,
        /// Most modules per side the card's QR area prints legibly.
        max: usize,
    },
    /// The QR encoder refused the payload for another reason.
    #[error("cannot encode the QR code: {0}")]
    Qr(String),
    /// The photo cannot be placed on the card.
    #[error("the card photo is unusable: {0}")]
    PhotoUnusable(String),
}

/// What the card shows. Free text (names, function, validity) may be any Unicode: it is folded
/// for the card's fonts ([`fold_text`]) and shrunk or cut to fit, never refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardFace {
    /// Name as printed (given names, then the family name in capitals).
    pub holder: String,
    /// Responsible organisation: its code or its name.
    pub organisation: String,
    /// Category; its code is printed big and chooses the band's colour.
    pub category: CategoryCode,
    /// Function (`Photographer`, `Coach`, ...).
    pub function: String,
    /// Zones, printed big: the numbers stewards look for.
    pub zones: Vec<ZoneCode>,
    /// Venues (`ALL` for every venue).
    pub venues: Vec<VenueCode>,
    /// Privileges (transport, dining...).
    pub privileges: Vec<PrivilegeCode>,
    /// Card serial (0 for the first card, +1 per reprint).
    pub serial: u16,
    /// The person's accreditation id.
    pub person: PersonId,
    /// Validity as printed, e.g. `26 Jul – 11 Aug 2024` (see [`validity_text`]).
    pub valid: String,
}

impl CardFace {
    /// The face of a badge: its holder, codes, person, serial and validity (as dates at the
    /// event's UTC offset). The badge has the organisation's code only: set
    /// [`CardFace::organisation`] afterwards to print its name instead.
    pub fn from_badge(badge: &Badge, function: &str, offset: UtcOffset) -> Self {
        Self {
            holder: badge.holder.clone(),
            organisation: badge.organisation.to_string(),
            category: badge.category.clone(),
            function: function.to_owned(),
            zones: badge.zones.clone(),
            venues: badge.venues.clone(),
            privileges: badge.privileges.clone(),
            serial: badge.serial,
            person: badge.person,
            valid: validity_text(badge.valid_from, badge.valid_until, offset),
        }
    }

    /// The face for an approved application, before or without a badge (a preview for the
    /// organisation's officer, say).
    pub fn for_application(application: &Application, person: PersonId, serial: u16, valid: &str) -> Self {
        Self {
            holder: application.display_name(),
            organisation: application.organisation().to_string(),
            category: application.category().clone(),
            function: application.function().as_str().to_owned(),
            zones: application.zones().to_vec(),
            venues: application.venues().to_vec(),
            privileges: application.privileges().to_vec(),
            serial,
            person,
            valid: valid.to_owned(),
        }
    }
}

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// The days of a validity window as printed: `26 Jul – 11 Aug 2024`, `30 Dec 2024 – 2 Jan
/// 2025`, or `26 Jul 2024` for one day. `valid_until` is exclusive (the badge's convention), so
/// a window ending at midnight ends the day before. Dates are taken at `offset`, the event's
/// offset from UTC. Timestamps outside the calendar give an empty text.
pub fn validity_text(valid_from: i64, valid_until: i64, offset: UtcOffset) -> String {
    let day = |t: i64| OffsetDateTime::from_unix_timestamp(t).ok().map(|d| d.to_offset(offset).date());
    let last = valid_until.checked_sub(1).filter(|l| *l > valid_from).unwrap_or(valid_from);
    let (Some(first), Some(last)) = (day(valid_from), day(last)) else {
        return String::new();
    };
    let month = |d: time::Date| MONTHS[usize::from(u8::from(d.month())) - 1];
    if first == last {
        format!("{} {} {}", first.day(), month(first), first.year())
    } else if first.year() == last.year() {
        format!("{} {} \u{2013} {} {} {}", first.day(), month(first), last.day(), month(last), last.year())
    } else {
        format!(
            "{} {} {} \u{2013} {} {} {}",
            first.day(),
            month(first),
            first.year(),
            last.day(),
            month(last),
            last.year()
        )
    }
}

/// The band colour of a category, as 8-bit RGB: one of twelve strong print colours, picked by
/// a hash (FNV-1a) of the code, so a category has the same colour on every card, in every
/// run and on every machine, with no table to keep in step with the access matrix.
pub fn category_colour(category: &CategoryCode) -> [u8; 3] {
    const PALETTE: [[u8; 3]; 12] = [
        [0xC8, 0x10, 0x2E], // red
        [0x00, 0x5B, 0xAC], // blue
        [0x00, 0x8C, 0x45], // green
        [0xF2, 0x8C, 0x00], // orange
        [0x70, 0x30, 0x9A], // purple
        [0x00, 0x8C, 0x8C], // teal
        [0xF5, 0xC8, 0x00], // yellow
        [0xC8, 0x1E, 0x78], // magenta
        [0x8B, 0x55, 0x2A], // brown
        [0x1A, 0x26, 0x66], // navy
        [0x8C, 0xBE, 0x28], // lime
        [0x60, 0x66, 0x6E], // slate
    ];
    let hash = category.as_str().bytes().fold(0x811C_9DC5u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    PALETTE[(hash % PALETTE.len() as u32) as usize]
}
