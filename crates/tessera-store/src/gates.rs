//! What the store keeps for phone tickets and gates (issue 4): the credentials issued to
//! phones, transfers and the official resale, the scans the gates report, the admissions they
//! imply, and the feed the gates of a venue follow.
//!
//! A credential names a ticket by `(ticket_id, serial)`: the ticket's row id and a random
//! serial drawn by the app at each issuance. Gates key "already used" on the ticket and
//! revocation on the pair, so a re-issued ticket cannot enter twice under two credentials.

use serde::Serialize;
use tessera_domain::*;

/// A ticket as its holder's wallet and the issuer see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Holding {
    pub ticket_id: TicketId,
    pub code: String,
    pub account_id: AccountId,
    pub holder_name: String,
    pub session_code: String,
    pub session_title: String,
    pub venue_code: String,
    pub venue_name: String,
    /// The venue's entrances, in catalogue order.
    pub zones: Vec<String>,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub category_code: String,
    pub category_name: String,
    pub price: Cents,
    /// 0-based rank of this ticket among its category's tickets, by ticket id: the seat.
    pub seat_rank: i64,
    /// The credential in force, if the ticket was activated on a phone.
    pub credential: Option<CredentialRecord>,
    /// A transfer offered and not yet accepted or cancelled.
    pub pending_transfer: Option<Transfer>,
    /// An open resale listing.
    pub listing: Option<Listing>,
    /// When it entered (the admission that stands), unix ms; `None` before.
    pub entered_at_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CredentialRecord {
    pub serial: i64,
    /// SEC1 compressed P-256 public key of the phone (33 bytes).
    #[serde(skip)]
    pub device_key: Vec<u8>,
    pub key_id: u32,
    /// The signed pass, byte for byte as given to the phone.
    #[serde(skip)]
    pub pass: Vec<u8>,
    pub issued_at: Timestamp,
}

/// Why a credential was withdrawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RevokeReason {
    /// Activated again on another phone.
    Reissued,
    Transferred,
    Resold,
    /// An operator withdrew it.
    Operator,
}

impl RevokeReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RevokeReason::Reissued => "reissued",
            RevokeReason::Transferred => "transferred",
            RevokeReason::Resold => "resold",
            RevokeReason::Operator => "operator",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "reissued" => RevokeReason::Reissued,
            "transferred" => RevokeReason::Transferred,
            "resold" => RevokeReason::Resold,
            "operator" => RevokeReason::Operator,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone)]
pub struct IssueCredential {
    pub ticket_id: TicketId,
    /// Must hold the ticket, and it must be neither listed nor offered in a transfer.
    pub account: AccountId,
    pub record: CredentialRecord,
    /// `false`: refuse with `Conflict` if a credential is in force. `true`: revoke it
    /// (`Reissued`, with a feed event) and install the new one, at most `max_issues` times
    /// per ticket and holder in all (`State` error beyond).
    pub replace: bool,
    pub max_issues: i64,
    pub now: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferStatus {
    Pending,
    Accepted,
    Cancelled,
}

impl TransferStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TransferStatus::Pending => "pending",
            TransferStatus::Accepted => "accepted",
            TransferStatus::Cancelled => "cancelled",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => TransferStatus::Pending,
            "accepted" => TransferStatus::Accepted,
            "cancelled" => TransferStatus::Cancelled,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Transfer {
    pub id: i64,
    pub ticket_id: TicketId,
    pub ticket_code: String,
    pub session_code: String,
    pub from_account: AccountId,
    pub from_name: String,
    pub to_account: AccountId,
    pub to_email: String,
    pub status: TransferStatus,
    pub created_at: Timestamp,
    pub closed_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ListingStatus {
    Open,
    Sold,
    Cancelled,
}

impl ListingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ListingStatus::Open => "open",
            ListingStatus::Sold => "sold",
            ListingStatus::Cancelled => "cancelled",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "open" => ListingStatus::Open,
            "sold" => ListingStatus::Sold,
            "cancelled" => ListingStatus::Cancelled,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Listing {
    pub id: i64,
    pub ticket_id: TicketId,
    pub ticket_code: String,
    pub session_code: String,
    pub session_title: String,
    pub category_name: String,
    pub starts_at: Timestamp,
    pub seller: AccountId,
    /// Face value.
    pub price: Cents,
    /// What the buyer pays on top of the price, and what the seller gives up from it.
    pub buyer_fee: Cents,
    pub seller_fee: Cents,
    pub status: ListingStatus,
    pub buyer: Option<AccountId>,
    pub payment_ref: Option<String>,
    pub created_at: Timestamp,
    pub closed_at: Option<Timestamp>,
}

#[derive(Debug, Clone)]
pub struct BuyResale {
    pub listing: i64,
    pub buyer: AccountId,
    /// The buyer's payment, already authorised for price + buyer fee.
    pub payment_ref: String,
    pub now: Timestamp,
}

// A scan as a gate reports it, and the venue feed's events, are the gates' own wire types:
// the store records and replays them as they are.
pub use tessera_wire::{FeedEvent, FeedKind, ScanReport as ScanRecord};

/// A scan as stored, with its central id.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredScan {
    pub id: i64,
    #[serde(flatten)]
    pub scan: ScanRecord,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SyncOutcome {
    /// Scans written now (not seen before).
    pub recorded: u64,
    /// Scans already recorded from an earlier batch.
    pub duplicates: u64,
    /// Double entries found by this batch (also kept as security events).
    pub double_entries: Vec<SecurityEvent>,
}

/// Something the security operations view must see. Today only double entries.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SecurityEvent {
    pub id: i64,
    /// `double_entry`.
    pub kind: String,
    pub ticket_id: i64,
    /// The admission that stands (earliest `at_ms`) and the later one.
    pub first: StoredScan,
    pub second: StoredScan,
    pub created_at: Timestamp,
}

/// What a venue's bundle is built from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VenueGateData {
    pub venue_code: String,
    pub venue_name: String,
    pub zones: Vec<String>,
    /// Sessions at the venue overlapping `[from, until)`: (code, title, starts_at, ends_at).
    pub sessions: Vec<(String, String, Timestamp, Timestamp)>,
    /// Every credential of those sessions ever revoked: (ticket_id, serial).
    pub revoked: Vec<(i64, i64)>,
    /// The venue feed's last sequence number at the time of reading (0 if none).
    pub feed_seq: i64,
}

/// A gate as the central system last heard from it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateRecord {
    pub gate_id: String,
    pub venue_code: String,
    pub entrance: String,
    pub last_sync_at_ms: i64,
    pub admitted: i64,
    pub refused: i64,
}

/// Figures for the operator's gate view since a time.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct GateFigures {
    /// (gate_id, minute as Unix seconds, admissions).
    pub entries_per_minute: Vec<(String, i64, i64)>,
    /// (reason, count) of refusals.
    pub refusals: Vec<(String, i64)>,
    pub security_events: i64,
}
