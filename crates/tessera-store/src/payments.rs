//! The merchant's own record of every payment (issue: money and tickets that can never
//! disagree). A purchase writes its payment in the transaction that writes what it pays for,
//! in a state that says what is still owed to the provider (`capture_pending`,
//! `void_pending`, `refund_pending`); a worker drives every pending row to its end state, so
//! neither a client that hangs up nor a crash leaves one behind; reconciliation compares the
//! rows with the provider's own records.

use async_trait::async_trait;
use serde::Serialize;
use tessera_domain::{AccountId, Cents, Timestamp};

use crate::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentState {
    /// The order is written; the authorisation must be captured.
    CapturePending,
    Captured,
    /// The purchase was refused or abandoned; the authorisation must be released.
    VoidPending,
    Voided,
    /// Captured for something that was not delivered; the money must go back.
    RefundPending,
    Refunded,
}

impl PaymentState {
    pub const ALL: [PaymentState; 6] = [
        PaymentState::CapturePending,
        PaymentState::Captured,
        PaymentState::VoidPending,
        PaymentState::Voided,
        PaymentState::RefundPending,
        PaymentState::Refunded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PaymentState::CapturePending => "capture_pending",
            PaymentState::Captured => "captured",
            PaymentState::VoidPending => "void_pending",
            PaymentState::Voided => "voided",
            PaymentState::RefundPending => "refund_pending",
            PaymentState::Refunded => "refunded",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        PaymentState::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// Work is still owed to the provider.
    pub fn is_pending(self) -> bool {
        matches!(self, PaymentState::CapturePending | PaymentState::VoidPending | PaymentState::RefundPending)
    }

    /// The state that follows a pending one once the provider has done it.
    pub fn done(self) -> Self {
        match self {
            PaymentState::CapturePending => PaymentState::Captured,
            PaymentState::VoidPending => PaymentState::Voided,
            PaymentState::RefundPending => PaymentState::Refunded,
            other => other,
        }
    }

    /// Whether a row may move from `self` to `to`. The worker and reconciliation only move
    /// forward: a captured payment is never voided (it is refunded), a voided one never
    /// captured; reconciliation may send a `captured` row back to `capture_pending` when the
    /// provider says the capture never happened, and a voided one to `refund_pending` when the
    /// provider says it was captured after all.
    pub fn may_become(self, to: PaymentState) -> bool {
        use PaymentState as S;
        matches!(
            (self, to),
            (S::CapturePending, S::Captured | S::RefundPending | S::VoidPending)
                | (S::Captured, S::RefundPending | S::CapturePending)
                | (S::VoidPending, S::Voided | S::RefundPending)
                | (S::Voided, S::RefundPending)
                | (S::RefundPending, S::Refunded)
        )
    }
}

/// What a payment paid for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentKind {
    /// A shop order (buy-now or cart checkout).
    Order,
    /// A ticket bought on the official resale.
    Resale,
    /// An attempt that sold nothing (refused, or its order could not be written).
    Attempt,
}

impl PaymentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentKind::Order => "order",
            PaymentKind::Resale => "resale",
            PaymentKind::Attempt => "attempt",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "order" => PaymentKind::Order,
            "resale" => PaymentKind::Resale,
            "attempt" => PaymentKind::Attempt,
            _ => return None,
        })
    }
}

/// Which payment row. A sale's row is found by what it paid for, a refused attempt's by its
/// authorisation, any row by its id: each has an index of its own that grows only at its end
/// on the hot path (order ids, row ids), where an index of random authorisation ids would
/// cost every sale a write at a random place (measured: about 13 % of the shop's throughput).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PaymentKey {
    Id(i64),
    /// The row of an order (`PaymentKind::Order`) or a resale listing (`PaymentKind::Resale`).
    Sale {
        kind: PaymentKind,
        subject_id: i64,
    },
    /// The row of an attempt that sold nothing, by its authorisation.
    Attempt {
        provider_ref: String,
    },
}

/// A payment as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PaymentRecord {
    pub id: i64,
    /// The provider's authorisation id.
    pub provider_ref: String,
    pub account_id: AccountId,
    pub kind: PaymentKind,
    pub amount: Cents,
    /// The order or the listing it paid for.
    pub subject_id: Option<i64>,
    pub state: PaymentState,
    pub attempts: i64,
    pub next_attempt_at: Timestamp,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// An attempt whose authorisation must be released (a refused sale, an order that could not
/// be written), recorded outside the purchase's transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPaymentIntent {
    pub provider_ref: String,
    pub account_id: AccountId,
    pub amount: Cents,
    pub state: PaymentState,
    pub now: Timestamp,
}

/// What the worker learnt from the provider about one claimed row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    /// The pending step is done: the row takes [`PaymentState::done`].
    Done,
    /// The step failed; try again at `retry_at`.
    Failed { error: String, retry_at: Timestamp },
}

/// How many payments are in each state, and how old the oldest pending one is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PaymentFigures {
    pub by_state: Vec<(PaymentState, i64)>,
    pub oldest_pending_at: Option<Timestamp>,
}

impl PaymentFigures {
    pub fn count(&self, state: PaymentState) -> i64 {
        self.by_state.iter().find(|(s, _)| *s == state).map_or(0, |(_, n)| *n)
    }

    pub fn pending(&self) -> i64 {
        self.by_state.iter().filter(|(s, _)| s.is_pending()).map(|(_, n)| n).sum()
    }
}

/// How long the request that wrote a payment keeps its own first try before the worker may
/// take the row: the request captures at once, and the worker is for what it left behind.
pub const REQUEST_GRACE_SECS: i64 = 10;
/// How long a claimed row is left to the worker that claimed it before another may take it.
pub const LEASE_SECS: i64 = 30;

/// The payment records: the merchant's side of every payment. A purchase's own operation
/// (`sell_now`, `complete_checkout`, `buy_resale`) writes its row; these are the rest.
#[async_trait]
pub trait PaymentRecords: Send + Sync {
    /// Records an attempt that sold nothing and whose authorisation must be released. An
    /// attempt already recorded for this authorisation is left as it is.
    async fn record_payment_intent(&self, intent: &NewPaymentIntent) -> Result<()>;
    /// Claims up to `limit` pending rows due at `now` (leasing them for [`LEASE_SECS`], so
    /// that workers on several nodes never take the same row at once), oldest first.
    async fn claim_due_payments(&self, now: Timestamp, limit: i64) -> Result<Vec<PaymentRecord>>;
    /// Records what the provider did with a row that was pending in `from`; a row no longer
    /// in `from` (another worker finished it) is left alone.
    async fn settle_payment(
        &self,
        key: &PaymentKey,
        from: PaymentState,
        settlement: &Settlement,
        now: Timestamp,
    ) -> Result<()>;
    /// Records many steps done at once (`from` → [`PaymentState::done`]), in one transaction:
    /// the requests' captures, gathered, so that recording them costs the hot path no write
    /// of its own. Rows no longer in their `from` are left alone.
    async fn settle_payments_done(&self, done: &[(PaymentKey, PaymentState)], now: Timestamp) -> Result<()>;
    /// Moves a row to another state (reconciliation), due at once; `false` if the row is not
    /// in `from` any more, or the move is not allowed ([`PaymentState::may_become`]).
    async fn move_payment(
        &self,
        key: &PaymentKey,
        from: PaymentState,
        to: PaymentState,
        now: Timestamp,
    ) -> Result<bool>;
    /// Every payment created at or after `since`, at most `limit`, oldest first.
    async fn payments_since(&self, since: Timestamp, limit: i64) -> Result<Vec<PaymentRecord>>;
    async fn payment(&self, key: &PaymentKey) -> Result<Option<PaymentRecord>>;
    async fn payment_figures(&self) -> Result<PaymentFigures>;
}
