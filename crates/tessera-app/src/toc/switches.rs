//! Contingency switches across nodes: an audited action goes to the store's append-only log,
//! then into this node's modes, then to the other nodes over the bus; every node also folds
//! the log every two seconds, so a node that missed the bus, or started later, catches up.
//! The last action per mode wins, in the log's order, and a refused action (no reason, a
//! conflicting mode on) never reaches the log.
//!
//! The modes exist for outages, the store's included: the shop goes read-only *because* the
//! database is down. So a switch the store cannot take now is not refused: it is in force on
//! this node at once, sent to the other nodes over the bus with its record, and written to the
//! log by the refresh as soon as the store takes writes again (its audit is late, not lost,
//! unless this node dies before; the console shows it as not yet logged).
//!
//! The modes are read on hot paths (every basket write asks whether the shop is read-only):
//! a bitmask answers without a lock.

use super::Mode;
use crate::error::AppError;
use crate::App;
use crate::Result;
use serde::Serialize;
use std::sync::atomic::{AtomicI64, AtomicU8, Ordering};
use std::sync::Mutex;
use tessera_ops::Contingency;
use tessera_store::SwitchRecord;

/// Actions read from the log at once.
const LOG_PAGE: i64 = 500;

/// The modes in force on this node.
#[derive(Default)]
pub(crate) struct Modes {
    bits: AtomicU8,
    position: AtomicI64,
    registry: Mutex<Contingency>,
    /// Switches in force here that the store has not taken yet, oldest first.
    unlogged: Mutex<Vec<SwitchRecord>>,
}

fn bit(mode: Mode) -> u8 {
    1 << Mode::ALL.iter().position(|m| *m == mode).unwrap_or(0)
}

/// One mode as the console shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ModeView {
    pub mode: Mode,
    pub on: bool,
    pub since_ms: i64,
    pub by: String,
    pub why: String,
    pub incident: Option<u64>,
    pub runbook: &'static str,
    /// The components whose loss this mode answers.
    pub answers: &'static [&'static str],
    /// Switched while the store could not take it: not in the audit log yet.
    pub unlogged: bool,
}

/// What the public status page says while `mode` is on.
pub fn public_notice(mode: Mode) -> &'static str {
    match mode {
        Mode::ShopReadOnly => "Ticket sales are paused; your tickets and orders are safe and shown as usual.",
        Mode::ShopQueueOnly => "Checkout is paused; everyone in the queue keeps their place.",
        Mode::WaitingRoomPaused => "The waiting room is paused; everyone keeps their place.",
        Mode::GatesOfflineFirst => "Venue gates check tickets locally; entry continues.",
        Mode::DesksOfflineLists => "Accreditation desks work from their offline lists.",
        Mode::ResultsFromLastState => "Live results show the last published state and may be late.",
    }
}

impl Modes {
    pub(crate) fn is_on(&self, mode: Mode) -> bool {
        self.bits.load(Ordering::Acquire) & bit(mode) != 0
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, Contingency> {
        self.registry.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies one logged action (already checked when it was taken; an action that no
    /// longer fits, such as a repeat, changes nothing).
    fn apply(&self, r: &SwitchRecord) {
        let Some(mode) = Mode::ALL.iter().copied().find(|m| m.as_str() == r.mode) else {
            tracing::warn!(mode = %r.mode, "unknown mode in the switch log");
            return;
        };
        let mut reg = self.registry();
        if reg.is_on(mode) != r.on {
            if r.on {
                // The log's order is the truth: a conflicting mode still on here was switched
                // off by an action this node has not applied yet, or the log says otherwise.
                for other in mode.conflicts() {
                    if reg.is_on(*other) {
                        let _ = reg.switch(*other, false, &r.by, "superseded in the switch log", None, r.at.0 * 1000);
                    }
                }
            }
            let _ = reg.switch(mode, r.on, &r.by, &r.why, r.incident.map(|i| i as u64), r.at.0 * 1000);
        }
        let bits = Mode::ALL.iter().filter(|m| reg.is_on(**m)).fold(0u8, |b, m| b | bit(*m));
        self.bits.store(bits, Ordering::Release);
        self.position.fetch_max(r.id, Ordering::AcqRel);
    }

    pub(crate) fn view(&self) -> Vec<ModeView> {
        let unlogged: Vec<String> =
            self.unlogged.lock().unwrap_or_else(|e| e.into_inner()).iter().map(|r| r.mode.clone()).collect();
        let reg = self.registry();
        let active = reg.active();
        Mode::ALL
            .iter()
            .map(|&mode| {
                let s = active.iter().find(|s| s.mode == mode);
                ModeView {
                    mode,
                    on: s.is_some(),
                    since_ms: s.map_or(0, |s| s.since_ms),
                    by: s.map(|s| s.by.clone()).unwrap_or_default(),
                    why: s.map(|s| s.why.clone()).unwrap_or_default(),
                    incident: s.and_then(|s| s.incident),
                    runbook: mode.runbook(),
                    answers: mode.answers(),
                    unlogged: unlogged.iter().any(|m| m == mode.as_str()),
                }
            })
            .collect()
    }
}

impl App {
    /// Whether a degraded mode is in force on this node.
    pub fn mode_on(&self, mode: Mode) -> bool {
        self.toc.modes.is_on(mode)
    }

    /// Refuses a sale's write while the shop is read-only or queue-only: a 503 the fan can
    /// retry, with the reason, never a business refusal.
    pub(crate) fn shop_takes_writes(&self) -> Result<()> {
        for mode in [Mode::ShopReadOnly, Mode::ShopQueueOnly] {
            if self.mode_on(mode) {
                return Err(AppError::Contingency { mode: mode.as_str(), message: public_notice(mode).to_string() });
            }
        }
        Ok(())
    }

    /// Turns `mode` on or off: checked against the modes in force, written to the log, then
    /// in force here and told to the other nodes.
    pub async fn toc_switch(
        &self,
        who: &crate::auth::Principal,
        mode: Mode,
        on: bool,
        why: &str,
        incident: Option<u64>,
    ) -> Result<ModeView> {
        // The latest log first, when the store answers; when it does not, the modes as this
        // node knows them (see the module's documentation).
        if let Err(e) = self.refresh_switches().await {
            tracing::warn!(error = %e, "switch log not read before a switch");
        }
        let now_ms = self.now_ms();
        {
            // A dry run on a copy: the real registry changes only from the log.
            let mut probe = self.toc.modes.registry().clone();
            probe
                .switch(mode, on, who.email.as_str(), why, incident, now_ms)
                .map_err(|e| AppError::Conflict(e.to_string()))?;
        }
        let record = SwitchRecord {
            id: 0,
            mode: mode.as_str().to_string(),
            on,
            by: who.email.as_str().to_string(),
            why: why.trim().to_string(),
            incident: incident.map(|i| i as i64),
            at: self.now(),
        };
        match self.store.record_switch(&record).await {
            Ok(id) => {
                let record = SwitchRecord { id, ..record };
                self.toc.modes.apply(&record);
                if self.cluster.is_some() {
                    self.tell_nodes(crate::cluster::NodeEvent::Switched { unlogged: None }).await;
                }
            }
            Err(e) if e.is_fault() => {
                tracing::warn!(error = %e, "switch in force before the store logged it");
                self.toc.modes.apply(&record);
                self.toc.modes.unlogged.lock().unwrap_or_else(|e| e.into_inner()).push(record.clone());
                if self.cluster.is_some() {
                    self.tell_nodes(crate::cluster::NodeEvent::Switched { unlogged: Some(record.into()) }).await;
                }
            }
            Err(e) => return Err(e.into()),
        }
        self.toc.acted(who.email.as_str(), tessera_ops::rehearsal::OperatorAction::SwitchedMode(mode), now_ms);
        if mode == Mode::DesksOfflineLists {
            self.all_desks_offline(who, on).await;
        }
        tracing::warn!(mode = mode.as_str(), on, by = %who.email, "contingency switch");
        self.toc
            .modes
            .view()
            .into_iter()
            .find(|m| m.mode == mode)
            .ok_or_else(|| AppError::Internal("a mode without a view".into()))
    }

    /// Writes the switches the store could not take, then reads the log past what this node
    /// applied.
    pub async fn refresh_switches(&self) -> Result<()> {
        let pending: Vec<SwitchRecord> = self.toc.modes.unlogged.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for r in pending {
            self.store.record_switch(&r).await?;
            self.toc.modes.unlogged.lock().unwrap_or_else(|e| e.into_inner()).retain(|x| x != &r);
        }
        loop {
            let after = self.toc.modes.position.load(Ordering::Acquire);
            let page = self.store.switch_log(after, LOG_PAGE).await?;
            for r in &page {
                self.toc.modes.apply(r);
            }
            if (page.len() as i64) < LOG_PAGE {
                return Ok(());
            }
        }
    }

    /// Every desk this node knows to its offline list (or back), audited as the desks'
    /// own switch is.
    async fn all_desks_offline(&self, who: &crate::auth::Principal, offline: bool) {
        let desks: Vec<String> =
            self.accreditations.desks.lock().unwrap_or_else(|e| e.into_inner()).keys().cloned().collect();
        for desk in desks {
            if let Err(e) = self.set_desk_mode(who, &desk, offline).await {
                tracing::warn!(error = %e, desk = %desk, "desk not switched");
            }
        }
    }
}

/// A switch as it travels between nodes before the store logged it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct UnloggedSwitch {
    pub mode: String,
    pub on: bool,
    pub by: String,
    pub why: String,
    pub incident: Option<i64>,
    pub at: i64,
}

impl From<SwitchRecord> for UnloggedSwitch {
    fn from(r: SwitchRecord) -> Self {
        UnloggedSwitch { mode: r.mode, on: r.on, by: r.by, why: r.why, incident: r.incident, at: r.at.0 }
    }
}

impl App {
    /// A switch another node made while the store could not log it: in force here too (the
    /// node that made it writes it to the log).
    pub(crate) fn apply_unlogged_switch(&self, s: UnloggedSwitch) {
        let r = SwitchRecord {
            id: 0,
            mode: s.mode,
            on: s.on,
            by: s.by,
            why: s.why,
            incident: s.incident,
            at: tessera_domain::Timestamp(s.at),
        };
        self.toc.modes.apply(&r);
    }
}
