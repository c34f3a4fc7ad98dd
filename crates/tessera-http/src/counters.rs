//! Connection-level counters, kept by the accept loop and read by `/metrics` and the airlock's
//! operator page: apart from both, so that neither imports the other for them.

use std::sync::atomic::{AtomicU64, AtomicUsize};

/// Connection-level events, for `/metrics` and the operator page.
#[derive(Default)]
pub struct ConnectionCounters {
    pub accepted: AtomicU64,
    pub slow_requests: AtomicU64,
    pub open: AtomicUsize,
}

pub fn connection_counters() -> &'static ConnectionCounters {
    static C: std::sync::OnceLock<ConnectionCounters> = std::sync::OnceLock::new();
    C.get_or_init(ConnectionCounters::default)
}
