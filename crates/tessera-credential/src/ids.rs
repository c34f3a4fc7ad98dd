//! Ticket ids, entrance codes and the QR text form of a code.

use crate::*;

/// The ticket number and credential serial packed in a pass's 16-byte ticket id (both i64
/// big-endian): "already used" is keyed on the ticket, revocation on the pair, so a re-issued
/// credential (transfer, resale) gets a new serial while a used ticket stays used.
pub fn split_ticket_id(id: &[u8; 16]) -> (i64, i64) {
    let mut ticket = [0u8; 8];
    let mut serial = [0u8; 8];
    ticket.copy_from_slice(&id[..8]);
    serial.copy_from_slice(&id[8..]);
    (i64::from_be_bytes(ticket), i64::from_be_bytes(serial))
}

/// The 16-byte ticket id of a pass for `ticket`'s credential number `serial`; inverse of
/// [`split_ticket_id`].
pub fn ticket_id_bytes(ticket: i64, serial: i64) -> [u8; 16] {
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&ticket.to_be_bytes());
    id[8..].copy_from_slice(&serial.to_be_bytes());
    id
}

/// The entrance code for a venue zone name ("Gate A" -> "Gate-A"): spaces become '-', anything
/// else outside printable ASCII is dropped, and the result is cut to [`MAX_ENTRANCE_LEN`]. The
/// central system and the gates both derive codes with this function, so they agree without
/// storing a second name per zone. Distinct zone names may collide once cut or stripped; the
/// venue's zone list should be checked for that when it is set up.
pub fn entrance_code(zone: &str) -> String {
    zone.chars()
        .map(|c| if c == ' ' { '-' } else { c })
        .filter(|c| c.is_ascii_graphic())
        .take(MAX_ENTRANCE_LEN)
        .collect()
}

/// Prefix of a ticket code's text form in a QR code. It names the kind of credential (other
/// kinds, such as staff badges, get their own prefix) and its version; ':' is in the QR
/// alphanumeric alphabet, so the whole text stays in that mode.
pub const QR_PREFIX: &str = "T1:";

/// Why scanned text is not a ticket code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum QrError {
    /// The text does not start with [`QR_PREFIX`]: another kind of QR code.
    #[error("not a ticket code (no `T1:` prefix)")]
    WrongPrefix,
    /// Longer than any code can be; refused before decoding.
    #[error("text too long for a ticket code")]
    TooLong,
    /// The part after the prefix is not Base45.
    #[error(transparent)]
    Base45(#[from] base45::Base45Error),
}

/// The text a QR code carries for `code`: [`QR_PREFIX`] and the code in Base45 (to be encoded in
/// QR alphanumeric mode).
pub fn qr_text(code: &[u8]) -> String {
    let mut text = String::with_capacity(QR_PREFIX.len() + code.len().div_ceil(2) * 3);
    text.push_str(QR_PREFIX);
    text.push_str(&base45::encode(code));
    text
}

/// The code bytes in scanned QR text, as a keyboard-wedge scanner types it. Trailing CR, LF and
/// spaces are dropped (scanners end lines with them; a Base45 text never ends in a space). Text
/// longer than `2 * MAX_CODE_LEN` is refused before decoding, so hostile input costs no more
/// than a genuine code. The bytes still have to pass [`verify`].
pub fn code_from_qr_text(text: &str) -> Result<Vec<u8>, QrError> {
    let text = text.trim_end_matches(['\r', '\n', ' ']);
    if text.len() > 2 * MAX_CODE_LEN {
        return Err(QrError::TooLong);
    }
    let body = text.strip_prefix(QR_PREFIX).ok_or(QrError::WrongPrefix)?;
    Ok(base45::decode(body)?)
}
