//! Security events: what the shop saw that a security operations centre should know about
//! (an account's sign-in throttled, a burst of failed guesses, a gate token revoked...).
//!
//! Kept in a bounded ring in memory, logged under the `security` tracing target (where a log
//! shipper picks them up) and counted per kind; the operators read the recent ones through the
//! API. Personal data stays out: an account is named by its id when it has one, an address
//! typed at sign-in only by a keyed hash (the same address hashes alike, so bursts can be
//! correlated without keeping what strangers typed).

use serde::Serialize;
use std::collections::VecDeque;
use std::sync::Mutex;
use tessera_domain::Timestamp;

/// The most recent events kept.
pub const CAPACITY: usize = 10_000;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SecurityEvent {
    pub at: Timestamp,
    /// Stable: `signin_throttled`, `signin_failure_burst`, `signin_refused_while_throttled`,
    /// `gate_token_revoked`.
    pub kind: &'static str,
    /// Whom or what it is about: `account:42`, `address:<hash>`, `gate:BRC-1`.
    pub subject: String,
    pub detail: String,
}

#[derive(Debug, Default)]
pub struct SecurityLog {
    ring: Mutex<VecDeque<SecurityEvent>>,
    counts: Mutex<std::collections::BTreeMap<&'static str, u64>>,
}

impl SecurityLog {
    pub fn record(&self, event: SecurityEvent) {
        tracing::warn!(target: "security", kind = event.kind, subject = %event.subject, detail = %event.detail, "security event");
        *self.counts.lock().unwrap_or_else(|e| e.into_inner()).entry(event.kind).or_default() += 1;
        let mut ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        if ring.len() == CAPACITY {
            ring.pop_front();
        }
        ring.push_back(event);
    }

    /// The newest `limit` events, newest first.
    pub fn recent(&self, limit: usize) -> Vec<SecurityEvent> {
        self.ring.lock().unwrap_or_else(|e| e.into_inner()).iter().rev().take(limit).cloned().collect()
    }

    /// Events recorded since start-up, per kind (for the metrics).
    pub fn counts(&self) -> Vec<(&'static str, u64)> {
        self.counts.lock().unwrap_or_else(|e| e.into_inner()).iter().map(|(k, v)| (*k, *v)).collect()
    }
}
