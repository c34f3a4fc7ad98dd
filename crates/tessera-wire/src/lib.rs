//! What gates and the central system say to each other, version 1.
//!
//! These types are the contract between a device at an entrance (which may run an older
//! release for the whole Games) and the central system: they change only by adding optional
//! fields, and a breaking change is a new version beside this one. They are plain serde
//! values, no store row and no HTTP type, so that the gate device, the gate agent and the
//! server share them without sharing anything else.

use serde::{Deserialize, Serialize};

/// The version of these types. A breaking change is a new version beside this one (a new
/// module and route), never a change to these.
pub const VERSION: u32 = 1;

/// One decision of a gate, as it reports it to the central system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ScanReport {
    pub gate_id: String,
    /// The gate's own sequence number, from 1: `(gate_id, device_seq)` is unique, so a batch
    /// sent twice is recorded once.
    pub device_seq: i64,
    /// 0 when the scan named no readable ticket (malformed, forged...).
    pub ticket_id: i64,
    pub serial: i64,
    pub session_code: String,
    pub entrance: String,
    /// `true` for an admission.
    pub admitted: bool,
    /// `valid` for an admission, else the refusal's reason code.
    pub reason: String,
    /// The gate's clock, Unix milliseconds.
    pub at_ms: i64,
    /// `ticket` (the default, as gates before badges sent it), `badge` (an accreditation
    /// badge: `ticket_id` is the person, `session_code` the category; no ticket entry), or
    /// `unknown`.
    #[serde(default = "ticket_kind")]
    pub kind: String,
}

fn ticket_kind() -> String {
    "ticket".into()
}

/// A gate's sync: its decisions not yet reported, and how far it has read its venue's feed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SyncRequest {
    #[serde(default)]
    pub scans: Vec<ScanReport>,
    /// The last feed event the gate has seen (0: none).
    #[serde(default)]
    pub after_seq: i64,
    /// The version of the badge revocations the gate holds (0: none); the reply carries the
    /// list only when it changed since.
    #[serde(default)]
    pub badges_version: u64,
}

/// Accreditation badges no gate may admit: people revoked, and people whose card was
/// reprinted (their earlier serials). Revocations are never lifted and serials only grow, so
/// `version` (revoked people plus the sum of current serials) grows with every change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BadgeRevocations {
    pub version: u64,
    /// Persons whose every card is void.
    pub revoked: Vec<u64>,
    /// Persons and their current card serial, `[person, serial]`: lower serials are void.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Vec<u64>>))]
    pub current_serial: Vec<(u64, u16)>,
}

impl BadgeRevocations {
    /// The list, its version computed from it.
    pub fn new(revoked: Vec<u64>, current_serial: Vec<(u64, u16)>) -> Self {
        let version = revoked.len() as u64 + current_serial.iter().map(|(_, s)| u64::from(*s)).sum::<u64>() + 1;
        BadgeRevocations { version, revoked, current_serial }
    }
}

/// What happened to a ticket elsewhere at the venue, in the order the central system learnt it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FeedEvent {
    /// The event's place in the venue's feed: strictly increasing, never reused.
    pub seq: i64,
    pub kind: FeedKind,
    pub ticket_id: i64,
    /// The credential for `revoked`; the admitted credential for `entered`; 0 for `annulled`.
    pub serial: i64,
    /// The gate for `entered`; empty otherwise.
    pub gate_id: String,
    pub at_ms: i64,
}

impl FeedEvent {
    /// Before the central system gives it its place (`seq`) in the venue's feed.
    pub fn entered(scan: &ScanReport) -> Self {
        FeedEvent {
            seq: 0,
            kind: FeedKind::Entered,
            ticket_id: scan.ticket_id,
            serial: scan.serial,
            gate_id: scan.gate_id.clone(),
            at_ms: scan.at_ms,
        }
    }

    pub fn annulled(ticket_id: i64, at_ms: i64) -> Self {
        FeedEvent { seq: 0, kind: FeedKind::Annulled, ticket_id, serial: 0, gate_id: String::new(), at_ms }
    }

    pub fn revoked(ticket_id: i64, serial: i64, at_ms: i64) -> Self {
        FeedEvent { seq: 0, kind: FeedKind::Revoked, ticket_id, serial, gate_id: String::new(), at_ms }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FeedKind {
    /// The ticket entered (the first admission recorded centrally).
    Entered,
    /// An operator annulled the ticket's admission: it may enter again.
    Annulled,
    /// The credential `(ticket_id, serial)` is withdrawn.
    Revoked,
}

impl FeedKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FeedKind::Entered => "entered",
            FeedKind::Annulled => "annulled",
            FeedKind::Revoked => "revoked",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "entered" => FeedKind::Entered,
            "annulled" => FeedKind::Annulled,
            "revoked" => FeedKind::Revoked,
            _ => return None,
        })
    }
}

/// A second admission of a ticket already admitted elsewhere: the earliest stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DoubleEntry {
    pub ticket_id: i64,
    /// The admission that stands.
    pub first_gate_id: String,
    pub first_at_ms: i64,
    /// The later one.
    pub second_gate_id: String,
    pub second_at_ms: i64,
}

/// The central system's answer to a sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SyncReply {
    /// Scans written now (not seen before).
    pub recorded: u64,
    /// Scans already recorded from an earlier batch.
    pub duplicates: u64,
    /// Double entries this batch revealed.
    pub double_entries: Vec<DoubleEntry>,
    /// The venue's feed after `after_seq`, at most a page of it.
    pub feed: Vec<FeedEvent>,
    /// The feed's last sequence number the gate has now seen: its next `after_seq`.
    pub feed_seq: i64,
    /// The central system's clock, Unix milliseconds, for the gate to check its own.
    pub server_time_ms: i64,
    /// The badge revocations, when they changed since the version the gate said it holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub badges: Option<BadgeRevocations>,
    /// The operations centre switched gates offline-first: decide locally (as always), and
    /// send scans in batches every few seconds instead of after each one, to spare a central
    /// system or a venue link that struggles.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub offline_first: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The version-1 form on the wire, as gates in the field send and read it.
    #[test]
    fn version_one_reads_as_written() {
        let text = r#"{"scans":[{"gate_id":"G1","device_seq":1,"ticket_id":7,"serial":1,"session_code":"ATH01",
            "entrance":"Gate-A","admitted":true,"reason":"valid","at_ms":1722000000000}],"after_seq":3}"#;
        let req: SyncRequest = serde_json::from_str(text).unwrap();
        assert_eq!(req.scans[0].device_seq, 1);
        assert_eq!(req.after_seq, 3);
        assert!(serde_json::from_str::<SyncRequest>(r#"{"scans":[],"extra":1}"#).is_err(), "unknown fields refused");
        assert_eq!(serde_json::from_str::<SyncRequest>("{}").unwrap(), SyncRequest::default());
        let e =
            FeedEvent { seq: 4, kind: FeedKind::Revoked, ticket_id: 7, serial: 1, gate_id: String::new(), at_ms: 5 };
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(json, r#"{"seq":4,"kind":"revoked","ticket_id":7,"serial":1,"gate_id":"","at_ms":5}"#);
        assert_eq!(serde_json::from_str::<FeedEvent>(&json).unwrap(), e);
    }
}
