//! What can go wrong in a use case, in terms a caller can act on.

use tessera_domain::ErrorCode;
use tessera_store::{Refusal, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request itself is wrong; `field` names what to fix.
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    #[error("sign in first")]
    Unauthenticated,
    #[error("{0}")]
    Forbidden(String),
    #[error("confirm your email address first: follow the link in the mail we sent you")]
    EmailNotVerified,
    #[error("the email or the password is wrong")]
    BadCredentials,
    #[error("this link or token is invalid or has expired ({0})")]
    BadToken(&'static str),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("this idempotency key was already used with a different request")]
    IdempotencyKeyReused,
    #[error("a checkout with this idempotency key is still running; retry in a moment")]
    CheckoutInProgress,
    /// The purchase was refused on its merits (the provider's reason, or the sale's rules), as
    /// remembered under its idempotency key.
    #[error("{}", .0.message)]
    PaymentRefused(Refusal),
    #[error("the payment provider did not answer in time; retry with the same idempotency key: you will not be charged twice")]
    PaymentUnavailable(String),
    /// The bus between nodes is down and this answer needs the other nodes (a place in a
    /// shared waiting room): retry shortly.
    #[error("the nodes cannot reach each other right now; retry in a few seconds ({0})")]
    BusUnavailable(String),
    /// The waiting room or the edge refused; `code` is a stable reason (`not_admitted`,
    /// `token_other_account`, `pow_replayed`...).
    #[error("{message}")]
    Airlock { code: ErrorCode, message: String },
    /// Too many failed sign-ins on this account from this device (or from unknown devices):
    /// no password is checked until the wait is over.
    #[error("too many failed sign-ins on this account; try again in {retry_after_secs} s")]
    SignInThrottled { retry_after_secs: i64 },
    /// A degraded mode switched by the operations centre refuses this (the shop read-only):
    /// retry later; `mode` names it.
    #[error("{message}")]
    Contingency { mode: &'static str, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        AppError::Invalid { field, message: message.into() }
    }
}

impl From<tessera_store::Refusal> for AppError {
    fn from(r: tessera_store::Refusal) -> Self {
        AppError::PaymentRefused(r)
    }
}

/// The code of a store's refusal. `None` for a failure of the store itself, which is no
/// answer about the request. Shared by the HTTP layer and by the purchase path, which
/// remembers refusals under idempotency keys.
pub fn refusal(e: &StoreError) -> Option<ErrorCode> {
    Some(match e {
        StoreError::NotFound(_) => ErrorCode::NotFound,
        StoreError::Conflict(_) => ErrorCode::Conflict,
        StoreError::SoldOut { .. } => ErrorCode::SoldOut,
        StoreError::Cap(_) => ErrorCode::CapExceeded,
        StoreError::CartExpired => ErrorCode::CartExpired,
        StoreError::CartEmpty => ErrorCode::CartEmpty,
        StoreError::OutsideSlot(_) => ErrorCode::OutsideSlot,
        StoreError::State(_) => ErrorCode::InvalidState,
        StoreError::Unavailable(_) | StoreError::Backend(_) => return None,
    })
}

/// A store's refusal as remembered and shown: its code and its message.
pub fn refusal_of(e: &StoreError) -> Option<Refusal> {
    let message = match e {
        StoreError::NotFound(m) => format!("{m} not found"),
        other => other.to_string(),
    };
    refusal(e).map(|code| Refusal { code, message })
}
