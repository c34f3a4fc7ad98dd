//! A store that fails on demand, as a full disk or a database gone away does: every write
//! either fails before it reaches the store (nothing written), or is written and then answers
//! a fault (the commit happened but its answer was lost, as when a connection drops after
//! `COMMIT`). Reads pass. The forwarding (below, and in `store/` for the other traits) was
//! generated from the store's traits; only `before` and `after` decide anything.

mod capabilities;
mod shop;

use async_trait::async_trait;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use tessera_domain::*;
use tessera_store::*;

/// No fault.
pub const NONE: u8 = 0;
/// Writes fail before they are made.
pub const BEFORE: u8 = 1;
/// Writes are made, then answer a fault.
pub const AFTER: u8 = 2;
/// The store is unreachable: every call fails, pings and reads too.
pub const DOWN: u8 = 3;

pub struct FaultyStore {
    pub inner: Arc<dyn Store>,
    pub fault: Arc<AtomicU8>,
    /// Probe writes that reached the store.
    pub pings: AtomicU64,
}

/// The operations that change something; reads are never failed here (a failing read is a
/// refusal-free 503 already covered by the HTTP tests).
fn writes(op: &str) -> bool {
    !(op.starts_with("ping")
        || matches!(
            op,
            "catalogue_stats"
                | "switch_log"
                | "toc_documents"
                | "list_sessions"
                | "session"
                | "account"
                | "account_by_email"
                | "auth_session"
                | "session_account"
                | "recent_mail"
                | "phase"
                | "phase_by_id"
                | "list_phases"
                | "entry"
                | "entries"
                | "slot"
                | "current_cart"
                | "known_key"
                | "category_price"
                | "orders"
                | "sales_figures"
                | "waiting_rooms"
                | "edge_decisions"
                | "holdings"
                | "holding"
                | "transfers"
                | "listing"
                | "open_listings"
                | "gate_feed"
                | "venue_gate_data"
                | "gates"
                | "gate_figures"
                | "security_events"
                | "payments_since"
                | "payment_figures"
                | "payment"
                | "key_revocations"
                | "organisations"
                | "accreditation"
                | "accreditations"
                | "accreditation_counts"
                | "hand_overs"
                | "badge_revocations"
                | "volunteer_application"
                | "volunteer_application_of"
                | "volunteer_applications"
                | "volunteer_programme"
                | "latest_volunteer_run"
                | "volunteer_run"
                | "volunteer_offers"
                | "volunteer_overrides"
                | "volunteer_roster"
                | "volunteer_counts"
        ))
}

impl FaultyStore {
    pub fn new(inner: Arc<dyn Store>, fault: Arc<AtomicU8>) -> FaultyStore {
        FaultyStore { inner, fault, pings: AtomicU64::new(0) }
    }

    fn before(&self, op: &str) -> Result<()> {
        if self.fault.load(Ordering::SeqCst) == DOWN {
            return Err(StoreError::Unavailable(format!("injected: {op}: the store is unreachable").into()));
        }
        if self.fault.load(Ordering::SeqCst) == BEFORE && writes(op) {
            return Err(StoreError::Unavailable(format!("injected: {op} failed before writing").into()));
        }
        Ok(())
    }

    fn after<T>(&self, op: &str, r: Result<T>) -> Result<T> {
        if r.is_ok() && self.fault.load(Ordering::SeqCst) == AFTER && writes(op) {
            return Err(StoreError::Unavailable(format!("injected: {op} was written, its answer lost").into()));
        }
        r
    }
}

#[async_trait]
impl Store for FaultyStore {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    async fn ping(&self) -> Result<()> {
        self.before("ping")?;
        let r = self.inner.ping().await;
        self.after("ping", r)
    }

    async fn ping_write(&self, now: Timestamp) -> Result<()> {
        self.before("ping_write")?;
        self.pings.fetch_add(1, Ordering::SeqCst);
        let r = self.inner.ping_write(now).await;
        self.after("ping_write", r)
    }
}
