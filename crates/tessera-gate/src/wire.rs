//! The device's decisions and the venue's feed in the wire form it shares with the central
//! system (`tessera-wire`).

use crate::engine::{FeedEvent, GateDecision};

/// A decision as this gate reports it.
pub fn report(gate_id: &str, d: &GateDecision) -> tessera_wire::ScanReport {
    tessera_wire::ScanReport {
        gate_id: gate_id.to_string(),
        device_seq: d.seq,
        ticket_id: d.ticket_id,
        serial: d.serial,
        session_code: d.session.clone(),
        entrance: d.entrance.clone(),
        admitted: d.admitted(),
        reason: d.reason.to_string(),
        at_ms: d.at_ms,
        kind: d.kind.as_str().to_string(),
    }
}

/// What a feed event tells the gate `gate_id`; `None` for its own admissions, which its log
/// holds already.
pub fn feed_event(e: &tessera_wire::FeedEvent, gate_id: &str) -> Option<FeedEvent> {
    use tessera_wire::FeedKind;
    match e.kind {
        FeedKind::Entered if e.gate_id == gate_id => None,
        FeedKind::Entered => Some(FeedEvent::Entry {
            ticket_id: e.ticket_id,
            serial: e.serial,
            gate_id: e.gate_id.clone(),
            at_ms: e.at_ms,
        }),
        FeedKind::Annulled => Some(FeedEvent::Annulment { ticket_id: e.ticket_id }),
        FeedKind::Revoked => Some(FeedEvent::Revocation { ticket_id: e.ticket_id, serial: e.serial }),
    }
}
