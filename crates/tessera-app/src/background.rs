//! Duties that run beside the requests: sending the mail outbox, releasing expired carts.
//! Each loop stops when the shutdown signal flips, so the server owns every task it starts.

use crate::App;
use std::sync::Arc;
use std::time::Duration;
use tessera_domain::Timestamp;
use tessera_mail::{Mail, Transport};
use tokio::sync::watch;

/// How long a claimed mail stays with the sender that claimed it.
pub const MAIL_LEASE_SECS: i64 = 300;

/// Sends due mails through the transport; retries transient failures with a growing delay
/// (1 min, 2 min, 4 min ... up to 6 hours), gives up on permanent ones after recording why.
pub async fn drain_outbox_once(app: &App, transport: &dyn Transport) -> usize {
    let now = app.now();
    // A lease long enough for a hundred slow sends; a sender that dies mid-batch leaves the
    // rest to be claimed again after it.
    let due = match app.store.claim_mail(now, Timestamp(now.0 + MAIL_LEASE_SECS), 100).await {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "outbox read failed");
            return 0;
        }
    };
    let mut sent = 0;
    for m in due {
        let mail = Mail::new(m.to.clone(), m.subject.clone(), m.body.clone());
        let result = match transport.send(&mail).await {
            Ok(()) => {
                sent += 1;
                app.store.mark_mail_sent(m.id, app.now()).await
            }
            Err(e) => {
                let retry = e.is_transient().then(|| {
                    let backoff = 60i64.saturating_mul(1 << m.attempts.clamp(0, 9)).min(6 * 3600);
                    Timestamp(now.0 + backoff)
                });
                tracing::warn!(mail = m.id, error = %e, retry = retry.is_some(), "mail not sent");
                app.store.mark_mail_failed(m.id, &e.to_string(), retry).await
            }
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "outbox update failed");
        }
    }
    sent
}

/// Every background loop of a node, spawned: the outbox, the cart sweeper, the waiting rooms'
/// pacing and the payments worker. Each stops when `shutdown` turns true; await the handles.
/// A new loop joins here, so that every way of starting a node runs it.
pub fn spawn_all(
    app: &App,
    transport: Arc<dyn Transport>,
    shutdown: &watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    vec![
        tokio::spawn(outbox_loop(app.clone(), transport, shutdown.clone())),
        tokio::spawn(sweeper_loop(app.clone(), shutdown.clone())),
        tokio::spawn(airlock_loop(app.clone(), shutdown.clone())),
        tokio::spawn(payments_loop(app.clone(), shutdown.clone())),
        tokio::spawn(crate::soc::soc_loop(app.clone(), shutdown.clone())),
        tokio::spawn(crate::accreditation::screening_loop(app.clone(), shutdown.clone())),
        tokio::spawn(crate::toc::toc_loop(app.clone(), shutdown.clone())),
        // These three return at once on a node alone.
        tokio::spawn(crate::cluster::events_loop(app.clone(), shutdown.clone())),
        tokio::spawn(crate::airlock::rooms_loop(app.clone(), shutdown.clone())),
        tokio::spawn(crate::results::results_loop(app.clone(), shutdown.clone())),
    ]
}

pub async fn outbox_loop(app: App, transport: Arc<dyn Transport>, mut shutdown: watch::Receiver<bool>) {
    loop {
        drain_outbox_once(&app, &*transport).await;
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = shutdown.changed() => break,
        }
    }
}

/// Gives the seats of expired carts back to sale, once a second.
pub async fn sweeper_loop(app: App, mut shutdown: watch::Receiver<bool>) {
    loop {
        match app.store.release_expired(app.now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(carts = n, "expired carts released"),
            Err(e) => tracing::warn!(error = %e, "cart sweep failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = shutdown.changed() => break,
        }
    }
}

/// The payment worker: every second, settles the payments that requests left pending (a
/// crash, a client that hung up, a provider that did not answer); every minute, reconciles
/// with the provider and fixes what it may.
pub async fn payments_loop(app: App, mut shutdown: watch::Receiver<bool>) {
    let mut ticks: u64 = 0;
    loop {
        match app.drive_payments().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(payments = n, "pending payments settled"),
            Err(e) => tracing::warn!(error = %e, "payment worker pass failed"),
        }
        if ticks.is_multiple_of(60) {
            if let Err(e) = app.reconcile(true).await {
                tracing::warn!(error = %e, "payment reconciliation failed");
            }
        }
        ticks += 1;
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = shutdown.changed() => break,
        }
    }
}

/// Moves the waiting rooms' serving counters ten times a second, reloads the operator's
/// settings and the block list every two seconds, and forgets stale limiter cells.
pub async fn airlock_loop(app: App, mut shutdown: watch::Receiver<bool>) {
    let mut ticks: u64 = 0;
    loop {
        app.step_waiting_rooms().await;
        if ticks.is_multiple_of(20) {
            if let Err(e) = app.refresh_airlock().await {
                tracing::warn!(error = %e, "airlock refresh failed");
            }
        }
        if ticks.is_multiple_of(100) {
            app.airlock.sweep(app.now_ms(), crate::airlock::monotonic_ns());
        }
        ticks += 1;
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            _ = shutdown.changed() => break,
        }
    }
}
