//! Money after the sale: settling each payment with the provider, the worker that finishes
//! what a request left undone, and reconciliation against the provider's own records.
//!
//! The rule: a purchase writes its payment row (`capture_pending`) in the transaction that
//! writes what it pays for; a refused attempt writes `void_pending` once its refusal is
//! remembered. The request then settles its own row at once ([`App::settle`]), in a task of
//! its own so that a client hanging up does not stop it; whatever is left pending (a crash,
//! a provider that did not answer) the worker ([`App::drive_payments`]) takes after a grace,
//! claimed so that several nodes never take the same row. [`App::reconcile`] holds the rows
//! against the provider and reports (and fixes what it may of) every disagreement.

use crate::{App, Result};
use serde::Serialize;
use tessera_domain::{AccountId, Cents, Timestamp};
use tessera_payments::{PaymentError, ProviderRecord};
use tessera_store::{NewPaymentIntent, PaymentKey, PaymentRecord, PaymentState, Settlement};

/// How long an authorisation may stay unknown to the store before reconciliation calls it an
/// orphan: a purchase in flight authorises first and writes its row a moment later.
pub const ORPHAN_GRACE_SECS: i64 = 5 * 60;
/// How far back reconciliation looks (an authorisation lapses after a week anyway).
pub const RECONCILE_WINDOW_SECS: i64 = 8 * 86_400;
/// Most rows one reconciliation compares on each side.
const RECONCILE_LIMIT: usize = 200_000;

/// One thing the provider and the store disagree on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Disagreement {
    /// `orphan_authorization`, `captured_without_order`, `capture_lost`, `captured_after_void`,
    /// `amount_mismatch`, `unknown_to_provider`, `stuck_pending`.
    pub kind: &'static str,
    pub provider_ref: String,
    pub detail: String,
    /// What reconciliation did about it, if anything.
    pub fix: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReconcileReport {
    pub at: i64,
    pub provider_authorizations: usize,
    pub store_payments: usize,
    pub disagreements: Vec<Disagreement>,
}

/// Settlements done by requests, waiting to be recorded together: one write for many
/// captures instead of one each on the hottest path.
#[derive(Default)]
pub(crate) struct SettledQueue {
    done: std::sync::Mutex<Vec<(PaymentKey, PaymentState)>>,
    flushing: std::sync::atomic::AtomicBool,
}

/// How long the first settlement of a batch waits for others before they are written.
const SETTLED_FLUSH_DELAY: std::time::Duration = std::time::Duration::from_millis(20);
/// Most settlements one write records.
const SETTLED_BATCH: usize = 1024;

impl SettledQueue {
    fn push(&self, app: &App, key: PaymentKey, from: PaymentState) {
        use std::sync::atomic::Ordering;
        self.done.lock().unwrap_or_else(|e| e.into_inner()).push((key, from));
        if !self.flushing.swap(true, Ordering::AcqRel) {
            let app = app.clone();
            tokio::spawn(async move { app.settled.flush(&app).await });
        }
    }

    async fn flush(&self, app: &App) {
        use std::sync::atomic::Ordering;
        loop {
            tokio::time::sleep(SETTLED_FLUSH_DELAY).await;
            loop {
                let batch: Vec<_> = {
                    let mut done = self.done.lock().unwrap_or_else(|e| e.into_inner());
                    let n = done.len().min(SETTLED_BATCH);
                    done.drain(..n).collect()
                };
                if batch.is_empty() {
                    break;
                }
                if let Err(e) = app.store.settle_payments_done(&batch, app.now()).await {
                    // The rows stay pending: the worker does the steps again (idempotent).
                    tracing::warn!(error = %e, payments = batch.len(), "could not record settlements");
                }
            }
            self.flushing.store(false, Ordering::Release);
            // A settlement pushed while the flag was still up would wait for the next one.
            let more = !self.done.lock().unwrap_or_else(|e| e.into_inner()).is_empty();
            if !more || self.flushing.swap(true, Ordering::AcqRel) {
                break;
            }
        }
    }
}

impl App {
    /// Does what a row owes the provider and records the outcome; a failure leaves the row
    /// pending for the worker. Runs in a task of its own, awaited: the request's future is
    /// dropped when its client hangs up, and the money must move all the same.
    pub(crate) async fn settle(&self, key: PaymentKey, provider_ref: String, from: PaymentState, amount: Cents) {
        let app = self.clone();
        let task = tokio::spawn(async move {
            match app.settle_with_provider(&provider_ref, from, amount).await {
                // Recorded with others shortly: until then the row stays pending, and a crash
                // meanwhile only makes the worker do an idempotent step again.
                Ok(()) => app.settled.push(&app, key, from),
                Err(e) => {
                    tracing::warn!(error = %e, payment = %provider_ref, state = from.as_str(), "settling failed; the worker will retry");
                    let failed = Settlement::Failed { error: e.to_string(), retry_at: app.now().plus_secs(5) };
                    if let Err(e) = app.store.settle_payment(&key, from, &failed, app.now()).await {
                        tracing::warn!(error = %e, payment = %provider_ref, "could not record a failed settlement");
                    }
                }
            }
        });
        if let Err(e) = task.await {
            tracing::error!(error = %e, "settling task failed");
        }
    }

    /// The last reconciliation's report, for `/metrics` and the operators.
    pub fn last_reconciliation(&self) -> Option<ReconcileReport> {
        self.reconciled.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    async fn settle_with_provider(
        &self,
        provider_ref: &str,
        from: PaymentState,
        amount: Cents,
    ) -> std::result::Result<(), PaymentError> {
        match from {
            PaymentState::CapturePending => self.payments.capture(provider_ref).await.map(drop),
            PaymentState::VoidPending => self.payments.void(provider_ref).await,
            PaymentState::RefundPending => {
                self.payments.refund(provider_ref, amount, &format!("{provider_ref}-refund")).await.map(drop)
            }
            _ => Ok(()),
        }
    }

    /// A refused attempt's authorisation: recorded as owed a void (after its refusal was
    /// remembered), then voided. If even the record cannot be written, reconciliation will
    /// find the authorisation as an orphan and void it.
    pub(crate) async fn release_authorization(&self, account: AccountId, provider_ref: String, amount: Cents) {
        let intent = NewPaymentIntent {
            provider_ref: provider_ref.clone(),
            account_id: account,
            amount,
            state: PaymentState::VoidPending,
            now: self.now(),
        };
        match self.store.record_payment_intent(&intent).await {
            Ok(()) => {
                let key = PaymentKey::Attempt { provider_ref: provider_ref.clone() };
                self.settle(key, provider_ref, PaymentState::VoidPending, amount).await
            }
            Err(e) => {
                tracing::warn!(error = %e, payment = %provider_ref, "could not record a void; reconciliation will release it");
            }
        }
    }

    /// One pass of the payment worker: claims the rows that are due and settles each.
    /// Returns how many it settled.
    pub async fn drive_payments(&self) -> Result<usize> {
        let now = self.now();
        let due = self.store.claim_due_payments(now, 256).await?;
        let mut done = 0;
        for p in due {
            let settlement = match self.settle_with_provider(&p.provider_ref, p.state, p.amount).await {
                Ok(()) => {
                    done += 1;
                    Settlement::Done
                }
                Err(e) => {
                    // 5 s, 10 s, 20 s ... up to an hour: a provider that is down is not hammered.
                    let backoff = 5i64.saturating_mul(1 << p.attempts.clamp(0, 10)).min(3600);
                    tracing::warn!(error = %e, payment = %p.provider_ref, attempts = p.attempts, "payment step failed");
                    Settlement::Failed { error: e.to_string(), retry_at: now.plus_secs(backoff) }
                }
            };
            self.store.settle_payment(&PaymentKey::Id(p.id), p.state, &settlement, self.now()).await?;
        }
        Ok(done)
    }

    /// Holds the store's payment records against the provider's and reports every
    /// disagreement; with `fix`, voids orphan authorisations, refunds captures that paid for
    /// nothing, and sends lost captures back to the worker. Zero disagreements is the normal
    /// state.
    pub async fn reconcile(&self, fix: bool) -> Result<ReconcileReport> {
        let now = self.now();
        let since = now.0 - RECONCILE_WINDOW_SECS;
        let provider = self
            .payments
            .authorizations_since(since, RECONCILE_LIMIT)
            .await
            .map_err(|e| crate::AppError::PaymentUnavailable(e.to_string()))?;
        // The store's side starts a little earlier: a row is written after its authorisation.
        let rows = self.store.payments_since(Timestamp(since - 3600), RECONCILE_LIMIT as i64).await?;
        let by_ref: std::collections::HashMap<&str, &PaymentRecord> =
            rows.iter().map(|r| (r.provider_ref.as_str(), r)).collect();
        let mut report = ReconcileReport {
            at: now.0,
            provider_authorizations: provider.len(),
            store_payments: rows.len(),
            ..Default::default()
        };
        for p in &provider {
            let found = by_ref.get(p.id.as_str()).copied();
            if let Some(d) = self.compare(p, found, now, fix).await {
                report.disagreements.push(d);
            }
        }
        let known: std::collections::HashSet<&str> = provider.iter().map(|p| p.id.as_str()).collect();
        for r in &rows {
            if !known.contains(r.provider_ref.as_str()) && r.created_at.0 >= since {
                report.disagreements.push(Disagreement {
                    kind: "unknown_to_provider",
                    provider_ref: r.provider_ref.clone(),
                    detail: format!(
                        "the store has a {} payment of {} the provider does not know",
                        r.state.as_str(),
                        r.amount
                    ),
                    fix: None,
                });
            }
        }
        *self.reconciled.lock().unwrap_or_else(|e| e.into_inner()) = Some(report.clone());
        if !report.disagreements.is_empty() {
            tracing::warn!(disagreements = report.disagreements.len(), "payment reconciliation found disagreements");
        }
        Ok(report)
    }

    async fn compare(
        &self,
        p: &ProviderRecord,
        row: Option<&PaymentRecord>,
        now: Timestamp,
        fix: bool,
    ) -> Option<Disagreement> {
        let d = |kind, detail: String| Disagreement { kind, provider_ref: p.id.clone(), detail, fix: None };
        let found = match row {
            None if p.captured && p.refunded < p.amount => {
                let mut d =
                    d("captured_without_order", format!("{} captured, no order or listing paid by it", p.amount));
                if fix {
                    let left = Cents(p.amount.0 - p.refunded.0);
                    d.fix = Some(match self.payments.refund(&p.id, left, &format!("{}-reconcile", p.id)).await {
                        Ok(_) => format!("refunded {left}"),
                        Err(e) => format!("refund failed: {e}"),
                    });
                }
                d
            }
            None if !p.captured && !p.voided && now.0 - p.authorized_at > ORPHAN_GRACE_SECS => {
                let mut d = d("orphan_authorization", format!("{} authorised, never used", p.amount));
                if fix {
                    d.fix = Some(match self.payments.void(&p.id).await {
                        Ok(()) => "voided".into(),
                        Err(e) => format!("void failed: {e}"),
                    });
                }
                d
            }
            None => return None,
            Some(r) if r.amount != p.amount => {
                d("amount_mismatch", format!("the store says {}, the provider {}", r.amount, p.amount))
            }
            Some(r) if r.state == PaymentState::Captured && !p.captured => {
                let mut d = d("capture_lost", "the store records a capture the provider never made".into());
                if fix
                    && matches!(
                        self.store
                            .move_payment(&PaymentKey::Id(r.id), r.state, PaymentState::CapturePending, now)
                            .await,
                        Ok(true)
                    )
                {
                    d.fix = Some("sent back to the worker to capture".into());
                }
                d
            }
            Some(r) if r.state == PaymentState::Voided && p.captured && p.refunded < p.amount => {
                let mut d = d("captured_after_void", "voided in the store, captured at the provider".into());
                if fix
                    && matches!(
                        self.store.move_payment(&PaymentKey::Id(r.id), r.state, PaymentState::RefundPending, now).await,
                        Ok(true)
                    )
                {
                    d.fix = Some("sent to the worker to refund".into());
                }
                d
            }
            Some(r) if r.state.is_pending() && now.0 - r.updated_at.0 > ORPHAN_GRACE_SECS => d(
                "stuck_pending",
                format!(
                    "{} for {} s; last error: {}",
                    r.state.as_str(),
                    now.0 - r.created_at.0,
                    r.last_error.as_deref().unwrap_or("none")
                ),
            ),
            Some(_) => return None,
        };
        Some(found)
    }
}
