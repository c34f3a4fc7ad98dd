//! Every machine-readable code a client can be told, as one closed set.
//!
//! Clients branch on these codes, never on messages, so the set is a contract: a code is added
//! here (and documented) or it does not exist. The HTTP status of each code is chosen in the HTTP
//! crate alone; the store and the application speak in codes, and a refusal remembered under an
//! idempotency key is stored as its code.

use std::fmt;

macro_rules! codes {
    ($($(#[$doc:meta])* $variant:ident = $text:literal,)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)*
        }

        impl ErrorCode {
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $text,)*
                }
            }

            /// The code a stored text names; `None` for a text no release ever wrote.
            pub fn parse(text: &str) -> Option<ErrorCode> {
                match text {
                    $($text => Some(ErrorCode::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

codes! {
    // The request itself.
    /// A field is wrong; the message names it.
    InvalidInput = "invalid_input",
    InvalidQuery = "invalid_query",
    InvalidPath = "invalid_path",
    InvalidJson = "invalid_json",
    InvalidForm = "invalid_form",
    InvalidBody = "invalid_body",
    BodyTooLarge = "body_too_large",
    UnsupportedMediaType = "unsupported_media_type",
    MethodNotAllowed = "method_not_allowed",
    NoSuchEndpoint = "no_such_endpoint",
    /// The route speaks only WebSocket and the request was no handshake.
    UpgradeRequired = "upgrade_required",
    IdempotencyKeyMissing = "idempotency_key_missing",
    IdempotencyKeyReused = "idempotency_key_reused",
    CheckoutInProgress = "checkout_in_progress",

    // Who is asking.
    Unauthenticated = "unauthenticated",
    BadCredentials = "bad_credentials",
    BadToken = "bad_token",
    Forbidden = "forbidden",
    EmailNotVerified = "email_not_verified",
    /// A page form without its anti-forgery token.
    BadCsrf = "bad_csrf",
    SigninThrottled = "signin_throttled",
    MetricsTokenRequired = "metrics_token_required",

    // The sale's rules.
    NotFound = "not_found",
    Conflict = "conflict",
    InvalidState = "invalid_state",
    SoldOut = "sold_out",
    CapExceeded = "cap_exceeded",
    OutsideSlot = "outside_slot",
    CartExpired = "cart_expired",
    CartEmpty = "cart_empty",
    NotPublished = "not_published",
    NoTicket = "no_ticket",

    // The payment provider's answers, as a buyer may read them.
    CardDeclined = "card_declined",
    InsufficientFunds = "insufficient_funds",
    ExpiredCard = "expired_card",
    IncorrectCvc = "incorrect_cvc",
    InvalidCard = "invalid_card",
    InvalidPayment = "invalid_payment",

    // The edge and the waiting room.
    RateLimitedAddress = "rate_limited_address",
    RateLimitedNetwork = "rate_limited_network",
    RateLimitedGate = "rate_limited_gate",
    Throttled = "throttled",
    Blocked = "blocked",
    TooManyConnections = "too_many_connections",
    HeadersTooLarge = "headers_too_large",
    TokenForged = "token_forged",
    TokenExpired = "token_expired",
    TokenOtherAccount = "token_other_account",
    NotAdmitted = "not_admitted",
    PowRequired = "pow_required",
    PowFailed = "pow_failed",
    PowReplayed = "pow_replayed",
    GateRevoked = "gate_revoked",

    // Faults: no answer about the request, which may be retried as it is.
    /// The store cannot commit now (disk full, database unreachable, stopping).
    StorageUnavailable = "storage_unavailable",
    /// The payment provider did not answer in time.
    PaymentUnavailable = "payment_unavailable",
    /// The bus between nodes (NATS) is unreachable, and the answer needs the other nodes.
    BusUnavailable = "bus_unavailable",
    /// A degraded mode of the operations centre is in force (the shop read-only, checkout
    /// paused): retry later.
    ContingencyMode = "contingency_mode",
    Internal = "internal",
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_reads_back_and_is_unique() {
        let mut seen = std::collections::HashSet::new();
        for &c in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(c.as_str()), Some(c));
            assert!(seen.insert(c.as_str()), "{c} twice");
            assert!(c.as_str().bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{c} is not snake_case");
        }
        assert_eq!(ErrorCode::parse("no_such_code"), None);
    }
}
