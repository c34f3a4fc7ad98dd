//! What a purchase takes and gives back: carts, checkout, buy-now, the outcomes remembered under
//! idempotency keys, orders and their tickets (the trait is `PurchaseStore`, in the crate root).

use crate::*;

#[derive(Debug, Clone)]
pub struct ReserveRequest {
    pub account: AccountId,
    pub phase: PhaseId,
    pub category: CategoryId,
    pub qty: i64,
    pub caps: Caps,
    pub cart_ttl_secs: i64,
    pub now: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CartStatus {
    Open,
    Paying,
    Paid,
    Expired,
}

impl CartStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CartStatus::Open => "open",
            CartStatus::Paying => "paying",
            CartStatus::Paid => "paid",
            CartStatus::Expired => "expired",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "open" => CartStatus::Open,
            "paying" => CartStatus::Paying,
            "paid" => CartStatus::Paid,
            "expired" => CartStatus::Expired,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CartLine {
    pub category_id: CategoryId,
    pub category_code: String,
    pub category_name: String,
    pub session_id: SessionId,
    pub session_code: String,
    pub session_title: String,
    pub unit_price: Cents,
    pub qty: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cart {
    pub id: CartId,
    pub account_id: AccountId,
    pub phase_id: PhaseId,
    pub status: CartStatus,
    pub expires_at: Timestamp,
    pub lines: Vec<CartLine>,
}

impl Cart {
    pub fn total(&self) -> Cents {
        Cents(self.lines.iter().map(|l| l.unit_price.0 * l.qty).sum())
    }
    pub fn ticket_count(&self) -> i64 {
        self.lines.iter().map(|l| l.qty).sum()
    }
    pub fn distinct_sessions(&self) -> i64 {
        let mut s: Vec<SessionId> = self.lines.iter().map(|l| l.session_id).collect();
        s.sort();
        s.dedup();
        s.len() as i64
    }
}

#[derive(Debug, Clone)]
pub struct BeginCheckout {
    pub account: AccountId,
    pub cart: CartId,
    /// The phase the buyer was admitted to. A cart of another phase is not found: otherwise a
    /// cart filled behind one phase's waiting room could be paid through a phase without one.
    pub phase: PhaseId,
    pub idempotency_key: String,
    /// A keyed hash of the request, so a reused key with another body is caught.
    pub request_hash: String,
    /// How long the cart may stay in payment before its seats are released anyway.
    pub pay_window_secs: i64,
    pub min_sessions_per_order: i64,
    pub now: Timestamp,
}

/// The one-request purchase ("buy now"), written after the card was authorised: sell the
/// seats and write the paid order in one transaction, or refuse and change nothing. No cart
/// and no hold: the seats go straight from the quota to the order.
#[derive(Debug, Clone)]
pub struct SellNow {
    pub account: AccountId,
    pub phase: PhaseId,
    /// (category, quantity) pairs, each category once.
    pub items: Vec<(CategoryId, i64)>,
    pub caps: Caps,
    pub idempotency_key: String,
    pub request_hash: String,
    /// What the card was authorised for; the sale is refused if the prices say otherwise.
    pub total: Cents,
    pub order_code: String,
    pub payment_ref: String,
    /// One fresh code per ticket, at least as many as the items' quantities add up to.
    pub ticket_codes: Vec<String>,
    pub now: Timestamp,
}

impl SellNow {
    /// What every backend checks once it has priced the items, inside its transaction: the
    /// pack rule over the distinct sessions, the total the card was authorised for, and a
    /// ticket code for every seat.
    pub fn check_priced(&self, distinct_sessions: usize, total: i64, seats: i64) -> Result<()> {
        tessera_domain::caps::check_pack(&self.caps, distinct_sessions as i64).map_err(StoreError::Cap)?;
        if total != self.total.0 {
            return Err(StoreError::State(format!(
                "the prices changed: the order costs {} but {} was authorised",
                Cents(total),
                self.total
            )));
        }
        if self.ticket_codes.len() < seats as usize {
            return Err(StoreError::State(format!("{} ticket codes given for {seats} seats", self.ticket_codes.len())));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum SellOutcome {
    Sold(Order),
    /// This key was used before with this very request: answer as then.
    Replay(Remembered),
    /// This key was used before with another request.
    KeyReused,
    /// A cart checkout with this key is running right now.
    InProgress,
}

/// A purchase refused, as a client was told: a stable code and a message. The HTTP status is
/// the HTTP crate's choice, from the code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: ErrorCode,
    pub message: String,
}

impl Refusal {
    /// A refusal read back from the store, as it was written: an unknown code is a fault of the
    /// stored data, not something to show a buyer.
    pub fn stored(code: Option<String>, message: Option<String>) -> Result<Refusal> {
        let text = code.unwrap_or_default();
        let code = ErrorCode::parse(&text).ok_or_else(|| {
            StoreError::backend(std::io::Error::other(format!("a remembered refusal has an unknown code {text:?}")))
        })?;
        Ok(Refusal { code, message: message.unwrap_or_default() })
    }
}

/// What the purchase path needs to know about a price category before paying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CategoryPrice {
    pub id: CategoryId,
    pub price: Cents,
    pub available: i64,
}

/// A checkout outcome remembered under its idempotency key.
#[derive(Debug, Clone, PartialEq)]
pub enum Remembered {
    Paid(Order),
    Failed(Refusal),
}

#[derive(Debug, Clone, PartialEq)]
pub enum BeginOutcome {
    /// The cart is now in payment; go and charge it.
    Started(Cart),
    /// This key was used before with this very request: answer as then.
    Replay(Remembered),
    /// This key was used before with another request.
    KeyReused,
    /// A checkout with this key is running right now.
    InProgress,
}

#[derive(Debug, Clone)]
pub struct CompleteCheckout {
    pub account: AccountId,
    pub cart: CartId,
    pub idempotency_key: String,
    pub order_code: String,
    pub payment_ref: String,
    /// One fresh code per ticket, at least as many as the cart holds seats.
    pub ticket_codes: Vec<String>,
    pub now: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ticket {
    pub id: TicketId,
    pub code: String,
    pub session_code: String,
    pub session_title: String,
    pub venue_name: String,
    pub starts_at: Timestamp,
    pub category_code: String,
    pub category_name: String,
    pub price: Cents,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Order {
    pub id: OrderId,
    pub code: String,
    pub account_id: AccountId,
    pub phase_id: PhaseId,
    pub total: Cents,
    pub payment_ref: String,
    pub created_at: Timestamp,
    pub tickets: Vec<Ticket>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SalesFigures {
    pub accounts: i64,
    pub paid_orders: i64,
    pub tickets_sold: i64,
    pub revenue: Cents,
    pub seats_held_in_carts: i64,
    pub open_carts: i64,
}

/// What an idempotency key seen before says about a new request, from its stored row alone:
/// the one verdict both backends give (they then read the order of a paid one).
#[derive(Debug, Clone, PartialEq)]
pub enum KeyVerdict {
    /// The key was used with another request.
    Reused,
    /// A checkout with this key is still running.
    InProgress,
    /// This very request was paid: answer with order `0`.
    Paid(OrderId),
    /// This very request was refused: answer as then.
    Failed(Refusal),
}

/// The verdict on a request under a key whose stored row holds `stored_hash`, `state`
/// (`pending`, `paid` or `failed`), the paid order, and the remembered refusal's code and message.
pub fn key_verdict(
    request_hash: &str,
    stored_hash: &str,
    state: &str,
    order: Option<i64>,
    code: Option<String>,
    message: Option<String>,
) -> Result<KeyVerdict> {
    Ok(if stored_hash != request_hash {
        KeyVerdict::Reused
    } else if state == "pending" {
        KeyVerdict::InProgress
    } else {
        match (state, order) {
            ("paid", Some(order)) => KeyVerdict::Paid(OrderId(order)),
            _ => KeyVerdict::Failed(Refusal::stored(code, message)?),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_seen_before_answers_by_its_row() {
        assert_eq!(key_verdict("h", "other", "paid", Some(1), None, None).unwrap(), KeyVerdict::Reused);
        assert_eq!(key_verdict("h", "h", "pending", None, None, None).unwrap(), KeyVerdict::InProgress);
        assert_eq!(key_verdict("h", "h", "paid", Some(7), None, None).unwrap(), KeyVerdict::Paid(OrderId(7)));
        let failed = key_verdict("h", "h", "failed", None, Some("sold_out".into()), Some("gone".into())).unwrap();
        assert_eq!(failed, KeyVerdict::Failed(Refusal { code: ErrorCode::SoldOut, message: "gone".into() }));
        assert!(
            key_verdict("h", "h", "failed", None, Some("made_up".into()), None).is_err(),
            "an unknown code is a fault"
        );
    }
}
