//! Contingency switches: the documented degraded modes, each turned on or off by one audited
//! action (who, when, why, for which incident), each with its runbook text.
//!
//! The registry only records and answers "is this mode on?"; each capability reads it and
//! behaves accordingly (the shop refuses writes in read-only mode, gates trust their offline
//! lists first…). Conflicting modes cannot both be on (the shop is either read-only or
//! queue-only). The audit is bounded to [`MAX_AUDIT`] entries in memory; the store keeps
//! them all.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

/// Audit entries kept in memory at most (the oldest go first, counted).
pub const MAX_AUDIT: usize = 10_000;
/// Longest reason, in characters.
pub const MAX_WHY_CHARS: usize = 500;

/// A documented degraded mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    ShopReadOnly,
    ShopQueueOnly,
    WaitingRoomPaused,
    GatesOfflineFirst,
    DesksOfflineLists,
    ResultsFromLastState,
}

impl Mode {
    /// Every mode.
    pub const ALL: [Mode; 6] = [
        Mode::ShopReadOnly,
        Mode::ShopQueueOnly,
        Mode::WaitingRoomPaused,
        Mode::GatesOfflineFirst,
        Mode::DesksOfflineLists,
        Mode::ResultsFromLastState,
    ];

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::ShopReadOnly => "shop_read_only",
            Mode::ShopQueueOnly => "shop_queue_only",
            Mode::WaitingRoomPaused => "waiting_room_paused",
            Mode::GatesOfflineFirst => "gates_offline_first",
            Mode::DesksOfflineLists => "desks_offline_lists",
            Mode::ResultsFromLastState => "results_from_last_state",
        }
    }

    /// Modes that cannot be on at the same time as this one.
    pub fn conflicts(self) -> &'static [Mode] {
        match self {
            Mode::ShopReadOnly => &[Mode::ShopQueueOnly],
            Mode::ShopQueueOnly => &[Mode::ShopReadOnly],
            _ => &[],
        }
    }

    /// The components (of the demo model) whose loss this mode answers.
    pub fn answers(self) -> &'static [&'static str] {
        match self {
            Mode::ShopReadOnly => &["postgres", "payment-provider"],
            Mode::ShopQueueOnly => &["payment-provider"],
            Mode::WaitingRoomPaused => &["shop", "tessera-cluster"],
            Mode::GatesOfflineFirst => &["gate-service", "nats"],
            Mode::DesksOfflineLists => &["accreditation", "postgres"],
            Mode::ResultsFromLastState => &["nats", "results"],
        }
    }

    /// The runbook page: when to switch it, what it does, how to leave it.
    pub fn runbook(self) -> &'static str {
        match self {
            Mode::ShopReadOnly => {
                "Shop read-only. When: the database or the payment provider is down and orders \
                 cannot complete. Effect: the catalogue, availability and existing orders are \
                 served from the last state; basket and checkout show a banner and take no \
                 writes; nothing is sold twice because nothing is sold. Leave: when the \
                 dependency has been up for 5 minutes, switch off, then watch checkout errors."
            }
            Mode::ShopQueueOnly => {
                "Shop queue-only. When: payments time out but the shop itself is healthy. \
                 Effect: fans keep their place in the waiting room; admission to checkout \
                 stops; held baskets keep their hold. Leave: switch off once the payment \
                 provider answers; admission resumes at the paced rate."
            }
            Mode::WaitingRoomPaused => {
                "Waiting room paused. When: the shop behind it is down or overloaded. Effect: \
                 admission stops, places are kept, the page says the sale is paused and why, \
                 no one loses their place. Leave: switch off; admission resumes at the paced \
                 rate, not in a burst."
            }
            Mode::GatesOfflineFirst => {
                "Gates offline-first. When: the gate service, NATS or a venue network is down \
                 or slow. Effect: gate agents verify signed credentials locally and check their \
                 local revocation and replay lists first; scans are queued and uploaded later. \
                 Leave: switch off when the venue has synchronised; review the conflicts list."
            }
            Mode::DesksOfflineLists => {
                "Desks on offline lists. When: accreditation or its database is down. Effect: \
                 desks admit from the last signed list of names with an identity check, and log \
                 every manual admission for later reconciliation. Leave: switch off, upload the \
                 manual log, reconcile."
            }
            Mode::ResultsFromLastState => {
                "Results from last state. When: NATS or a result source is down. Effect: feeds \
                 and pages serve the last published state with its time and a notice; nothing \
                 is invented. Leave: switch off when the sequence has caught up without gaps."
            }
        }
    }
}

/// A mode's current position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Switch {
    pub mode: Mode,
    pub on: bool,
    pub since_ms: i64,
    pub by: String,
    pub why: String,
    pub incident: Option<u64>,
}

/// One audited switch action.
pub type AuditEntry = Switch;

/// Why a switch was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContingencyError {
    #[error("who switched is 1 to 200 characters")]
    NoActor,
    #[error("a switch needs a reason of 1 to {MAX_WHY_CHARS} characters")]
    NoReason,
    #[error("{} is already {}", .0.as_str(), if *.1 { "on" } else { "off" })]
    Already(Mode, bool),
    #[error("{} cannot be on while {} is", .0.as_str(), .1.as_str())]
    Conflicts(Mode, Mode),
}

/// The switches and their audit.
#[derive(Debug, Clone, Default)]
pub struct Contingency {
    switches: BTreeMap<Mode, Switch>,
    audit: VecDeque<AuditEntry>,
    audit_dropped: u64,
}

impl Contingency {
    /// Every mode off.
    pub fn new() -> Contingency {
        Contingency::default()
    }

    /// Turns `mode` on or off: `by` and `why` are required, turning on a mode whose
    /// conflicting mode is on is refused, and so is a switch to the position it is in.
    pub fn switch(
        &mut self,
        mode: Mode,
        on: bool,
        by: &str,
        why: &str,
        incident: Option<u64>,
        now_ms: i64,
    ) -> Result<&AuditEntry, ContingencyError> {
        let by = by.trim();
        if by.is_empty() || by.chars().count() > 200 || by.chars().any(char::is_control) {
            return Err(ContingencyError::NoActor);
        }
        let why = why.trim();
        if why.is_empty() || why.chars().count() > MAX_WHY_CHARS {
            return Err(ContingencyError::NoReason);
        }
        if self.is_on(mode) == on {
            return Err(ContingencyError::Already(mode, on));
        }
        if on {
            if let Some(&other) = mode.conflicts().iter().find(|&&m| self.is_on(m)) {
                return Err(ContingencyError::Conflicts(mode, other));
            }
        }
        let s = Switch { mode, on, since_ms: now_ms, by: by.into(), why: why.into(), incident };
        self.switches.insert(mode, s.clone());
        if self.audit.len() == MAX_AUDIT {
            self.audit.pop_front();
            self.audit_dropped += 1;
        }
        self.audit.push_back(s);
        Ok(self.audit.back().expect("just pushed"))
    }

    /// Whether `mode` is on.
    pub fn is_on(&self, mode: Mode) -> bool {
        self.switches.get(&mode).is_some_and(|s| s.on)
    }

    /// The modes on, with who turned them on and why.
    pub fn active(&self) -> Vec<&Switch> {
        self.switches.values().filter(|s| s.on).collect()
    }

    /// Every switch action kept, oldest first, and how many older ones were dropped.
    pub fn audit(&self) -> (impl Iterator<Item = &AuditEntry>, u64) {
        (self.audit.iter(), self.audit_dropped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_switch_is_audited_and_needs_a_reason() {
        let mut c = Contingency::new();
        assert_eq!(c.switch(Mode::ShopReadOnly, true, "ana", " ", None, 0).unwrap_err(), ContingencyError::NoReason);
        assert_eq!(c.switch(Mode::ShopReadOnly, true, "", "db down", None, 0).unwrap_err(), ContingencyError::NoActor);
        let e = c.switch(Mode::ShopReadOnly, true, "ana", "postgres down", Some(7), 1_000).unwrap().clone();
        assert_eq!((e.by.as_str(), e.why.as_str(), e.incident, e.since_ms), ("ana", "postgres down", Some(7), 1_000));
        assert!(c.is_on(Mode::ShopReadOnly));
        assert_eq!(
            c.switch(Mode::ShopReadOnly, true, "bob", "again", None, 2_000).unwrap_err(),
            ContingencyError::Already(Mode::ShopReadOnly, true)
        );
        assert_eq!(
            c.switch(Mode::ShopQueueOnly, true, "bob", "payments", None, 2_000).unwrap_err(),
            ContingencyError::Conflicts(Mode::ShopQueueOnly, Mode::ShopReadOnly)
        );
        c.switch(Mode::GatesOfflineFirst, true, "bob", "nats down", None, 3_000).unwrap();
        c.switch(Mode::ShopReadOnly, false, "ana", "postgres back", Some(7), 4_000).unwrap();
        assert_eq!(c.active().iter().map(|s| s.mode).collect::<Vec<_>>(), [Mode::GatesOfflineFirst]);
        let (audit, dropped) = c.audit();
        let log: Vec<(Mode, bool, &str)> = audit.map(|a| (a.mode, a.on, a.by.as_str())).collect();
        assert_eq!(
            log,
            [
                (Mode::ShopReadOnly, true, "ana"),
                (Mode::GatesOfflineFirst, true, "bob"),
                (Mode::ShopReadOnly, false, "ana")
            ]
        );
        assert_eq!(dropped, 0);
    }

    #[test]
    fn every_mode_has_a_runbook_and_the_audit_is_bounded() {
        for m in Mode::ALL {
            assert!(m.runbook().contains("When:") && m.runbook().contains("Leave:"), "{m:?}");
            assert!(!m.answers().is_empty());
        }
        let mut c = Contingency::new();
        for i in 0..(MAX_AUDIT + 10) {
            c.switch(Mode::WaitingRoomPaused, i % 2 == 0, "ana", "drill", None, i as i64).unwrap();
        }
        let (audit, dropped) = c.audit();
        assert_eq!((audit.count(), dropped), (MAX_AUDIT, 10));
    }
}
