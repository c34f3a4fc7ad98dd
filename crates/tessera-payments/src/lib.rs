//! Tessera's payments: this crate owns the interface to payment service providers (authorise,
//! capture and refund a card payment, idempotently) and a sandbox provider that behaves like a
//! provider's test mode. It owns no orders, tickets or storage: callers keep those and pass an
//! idempotency key per attempt.
#![doc = include_str!("../README.md")]

mod card;
mod sandbox;

pub use sandbox::{SandboxConfig, SandboxProvider, AUTHORIZATION_LIFETIME_SECS};
pub use tessera_domain::Cents;

use std::fmt;

/// Card numbers of the sandbox's documented test cards (see the table above).
pub mod test_cards {
    /// Authorised.
    pub const SUCCESS: &str = "4242 4242 4242 4242";
    /// Declined with [`DeclineCode::Generic`](crate::DeclineCode::Generic).
    pub const DECLINED: &str = "4000 0000 0000 0002";
    /// Declined with [`DeclineCode::InsufficientFunds`](crate::DeclineCode::InsufficientFunds).
    pub const INSUFFICIENT_FUNDS: &str = "4000 0000 0000 9995";
    /// Declined with [`DeclineCode::ExpiredCard`](crate::DeclineCode::ExpiredCard).
    pub const EXPIRED: &str = "4000 0000 0000 0069";
    /// Declined with [`DeclineCode::IncorrectCvc`](crate::DeclineCode::IncorrectCvc).
    pub const INCORRECT_CVC: &str = "4000 0000 0000 0127";
    /// Declined with [`DeclineCode::Fraudulent`](crate::DeclineCode::Fraudulent).
    pub const FRAUDULENT: &str = "4100 0000 0000 0019";
    /// Authorised after [`SandboxConfig::slow_delay`](crate::SandboxConfig::slow_delay).
    pub const SLOW: &str = "4000 0000 0000 0077";
    /// Authorisation recorded, but the call returns
    /// [`PaymentError::Timeout`](crate::PaymentError::Timeout) after
    /// [`SandboxConfig::timeout`](crate::SandboxConfig::timeout).
    pub const LOST_ANSWER: &str = "4000 0000 0000 0101";
    /// [`PaymentError::Unavailable`](crate::PaymentError::Unavailable); nothing recorded.
    pub const PROCESSING_ERROR: &str = "4000 0000 0000 0119";
}

/// A payment service provider, real or sandbox.
#[async_trait::async_trait]
pub trait PaymentProvider: Send + Sync + 'static {
    /// Short name for logs and metrics, e.g. `"sandbox"`.
    fn name(&self) -> &'static str;

    /// Authorise `amount` on the card. Idempotent on `req.idempotency_key`: the same key with the
    /// same request returns the first result (same authorization id) without charging again; the
    /// same key with a different request (amount, card, reference) is
    /// [`PaymentError::IdempotencyConflict`].
    async fn authorize(&self, req: &AuthorizeRequest) -> Result<Authorization, PaymentError>;

    /// Capture a previous authorisation in full. Idempotent: capturing twice returns the same
    /// capture.
    async fn capture(&self, authorization_id: &str) -> Result<Capture, PaymentError>;

    /// Release an authorisation that will not be captured (the sale it was for was refused):
    /// the buyer's money is no longer held. Idempotent; a captured payment cannot be voided.
    async fn void(&self, authorization_id: &str) -> Result<(), PaymentError>;

    /// Refund a capture (full or partial, total refunds never above the captured amount).
    /// Idempotent on `idempotency_key`.
    async fn refund(
        &self,
        authorization_id: &str,
        amount: Cents,
        idempotency_key: &str,
    ) -> Result<Refund, PaymentError>;

    /// The provider's own records of the authorisations made at or after `since` (Unix
    /// seconds), oldest first, at most `limit`: what reconciliation holds the merchant's
    /// records against (a real provider's list API, or its settlement reports).
    async fn authorizations_since(&self, since: i64, limit: usize) -> Result<Vec<ProviderRecord>, PaymentError>;
}

/// One authorisation as the provider sees it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderRecord {
    pub id: String,
    pub amount: Cents,
    /// Unix seconds.
    pub authorized_at: i64,
    pub captured: bool,
    pub refunded: Cents,
    pub voided: bool,
}

/// A request to authorise a card payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizeRequest {
    /// One key per payment attempt; reuse it (and only it) when retrying that attempt.
    pub idempotency_key: String,
    pub amount: Cents,
    /// The caller's reference, e.g. an order id.
    pub reference: String,
    pub card: Card,
}

/// Card details as typed by the buyer. `Debug` shows only the last four digits of the number
/// and never the CVC.
#[derive(Clone, PartialEq, Eq)]
pub struct Card {
    /// Digits, optionally grouped with spaces.
    pub number: String,
    /// 1–12.
    pub exp_month: u32,
    /// Four digits, or two meaning 20YY.
    pub exp_year: u32,
    pub cvc: String,
    pub holder: String,
}

impl Card {
    /// The last four digits of the number (spaces ignored), or fewer if it has fewer.
    pub fn last4(&self) -> String {
        let digits: Vec<char> = self.number.chars().filter(|c| !c.is_whitespace()).collect();
        digits[digits.len().saturating_sub(4)..].iter().collect()
    }
}

impl fmt::Debug for Card {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Card")
            .field("number", &format_args!("**** {}", self.last4()))
            .field("exp_month", &self.exp_month)
            .field("exp_year", &self.exp_year)
            .field("cvc", &format_args!("***"))
            .field("holder", &self.holder)
            .finish()
    }
}

/// A successful authorisation: the money is reserved on the card until captured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub id: String,
    pub amount: Cents,
    pub card_last4: String,
}

/// A capture of an authorisation: the money is taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capture {
    pub id: String,
    pub authorization_id: String,
    pub amount: Cents,
}

/// A (partial or full) refund of a captured authorisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub id: String,
    pub authorization_id: String,
    pub amount: Cents,
}

/// Why a payment call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentError {
    /// The card issuer refused. `message` is fit to show the buyer.
    #[error("card declined ({code}): {message}")]
    Declined { code: DeclineCode, message: String },
    /// The card details are malformed; the message says which field and why.
    #[error("invalid card: {0}")]
    InvalidCard(String),
    /// No answer in time: the outcome is unknown. Retry with the same idempotency key.
    #[error("the payment provider did not answer in time; retry with the same idempotency key")]
    Timeout,
    /// The provider could not process the request; nothing was charged. Retryable.
    #[error("payment provider unavailable: {0}")]
    Unavailable(String),
    /// The idempotency key was already used with a different request.
    #[error("idempotency key already used with a different request")]
    IdempotencyConflict,
    /// No such authorisation.
    #[error("no such authorization")]
    NotFound,
    /// The idempotency key names an authorisation that was voided since: the attempt is over.
    #[error("the authorization under this idempotency key was voided")]
    AuthorizationVoided,
    /// The request itself is wrong (amount, key, refund limit, state).
    #[error("invalid payment request: {0}")]
    InvalidRequest(String),
}

impl PaymentError {
    /// Whether retrying the same call with the same idempotency key may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, PaymentError::Timeout | PaymentError::Unavailable(_))
    }
}

/// Why an issuer declined a card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeclineCode {
    Generic,
    InsufficientFunds,
    ExpiredCard,
    IncorrectCvc,
    Fraudulent,
}

impl DeclineCode {
    /// Stable machine-readable code: `card_declined`, `insufficient_funds`, `expired_card`,
    /// `incorrect_cvc` or `fraudulent`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeclineCode::Generic => "card_declined",
            DeclineCode::InsufficientFunds => "insufficient_funds",
            DeclineCode::ExpiredCard => "expired_card",
            DeclineCode::IncorrectCvc => "incorrect_cvc",
            DeclineCode::Fraudulent => "fraudulent",
        }
    }

    /// A message fit to show the buyer. A fraud decline is worded like a generic one, as
    /// providers do, so as not to tell a fraudster why.
    pub fn buyer_message(self) -> &'static str {
        match self {
            DeclineCode::Generic | DeclineCode::Fraudulent => "Your card was declined.",
            DeclineCode::InsufficientFunds => "Your card has insufficient funds.",
            DeclineCode::ExpiredCard => "Your card has expired.",
            DeclineCode::IncorrectCvc => "Your card's security code is incorrect.",
        }
    }
}

impl fmt::Display for DeclineCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_debug_redacts_number_and_cvc() {
        let card = Card {
            number: "4242 4242 4242 4242".into(),
            exp_month: 12,
            exp_year: 2099,
            cvc: "987".into(),
            holder: "Ada".into(),
        };
        let shown = format!("{card:?}");
        assert!(shown.contains("**** 4242"), "{shown}");
        assert!(!shown.contains("4242 4242"), "{shown}");
        assert!(!shown.contains("424242"), "{shown}");
        assert!(!shown.contains("987"), "{shown}");
        let req = AuthorizeRequest { idempotency_key: "k".into(), amount: Cents(1), reference: "r".into(), card };
        let shown = format!("{req:?}");
        assert!(!shown.contains("987") && !shown.contains("424242"), "{shown}");
    }

    #[test]
    fn last4_handles_short_numbers() {
        let mut card =
            Card { number: "12".into(), exp_month: 1, exp_year: 2099, cvc: "123".into(), holder: String::new() };
        assert_eq!(card.last4(), "12");
        card.number = "4000 0000 0000 0077".into();
        assert_eq!(card.last4(), "0077");
    }

    #[test]
    fn decline_codes_are_stable() {
        assert_eq!(DeclineCode::Generic.as_str(), "card_declined");
        assert_eq!(DeclineCode::InsufficientFunds.as_str(), "insufficient_funds");
        assert_eq!(DeclineCode::ExpiredCard.as_str(), "expired_card");
        assert_eq!(DeclineCode::IncorrectCvc.as_str(), "incorrect_cvc");
        assert_eq!(DeclineCode::Fraudulent.as_str(), "fraudulent");
        assert_eq!(DeclineCode::Fraudulent.to_string(), "fraudulent");
    }

    #[test]
    fn retryable_errors() {
        assert!(PaymentError::Timeout.is_retryable());
        assert!(PaymentError::Unavailable("x".into()).is_retryable());
        assert!(!PaymentError::IdempotencyConflict.is_retryable());
        assert!(!PaymentError::NotFound.is_retryable());
    }
}
