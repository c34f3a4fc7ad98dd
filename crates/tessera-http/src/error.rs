//! The one error type of the API: a status, a stable machine-readable code, a human message.

use axum::http::{HeaderValue, StatusCode};

/// How long a client should wait before retrying after a 503: a store or a provider that
/// failed usually answers again within seconds, and a shorter wait would only add load.
pub const RETRY_AFTER_SECS: &str = "2";
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use tessera_app::AppError;
use tessera_store::StoreError;
use utoipa::ToSchema;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds to wait before retrying, sent as `Retry-After` (every 503 gets one anyway).
    pub retry_after: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable: clients branch on this, never on the message.
    pub code: String,
    /// For humans; may change between releases.
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), retry_after: None }
    }
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", format!("{what} not found"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            metrics::counter!("tessera_http_server_errors_total").increment(1);
        }
        let unavailable = self.status == StatusCode::SERVICE_UNAVAILABLE;
        let retry_after = self.retry_after;
        let body = ErrorBody { error: ErrorDetail { code: self.code.to_string(), message: self.message } };
        let mut response = (self.status, Json(body)).into_response();
        let retry = axum::http::header::RETRY_AFTER;
        if response.status() == StatusCode::UNAUTHORIZED {
            // RFC 9110, 11.6.1: a 401 says how to authenticate.
            response.headers_mut().insert(axum::http::header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(secs) = retry_after {
            response.headers_mut().insert(retry, HeaderValue::from(secs.max(1)));
        } else if unavailable {
            // A 503 is a fault, not an answer: say when to try again (RFC 9110, 10.2.3).
            response.headers_mut().insert(retry, HeaderValue::from_static(RETRY_AFTER_SECS));
        }
        response
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        use StatusCode as S;
        match e {
            AppError::Invalid { .. } => ApiError::new(S::UNPROCESSABLE_ENTITY, "invalid_input", e.to_string()),
            AppError::Unauthenticated => ApiError::new(S::UNAUTHORIZED, "unauthenticated", e.to_string()),
            AppError::Forbidden(m) => ApiError::new(S::FORBIDDEN, "forbidden", m),
            AppError::EmailNotVerified => ApiError::new(S::FORBIDDEN, "email_not_verified", e.to_string()),
            AppError::BadCredentials => ApiError::new(S::UNAUTHORIZED, "bad_credentials", e.to_string()),
            AppError::BadToken(_) => ApiError::new(S::BAD_REQUEST, "bad_token", e.to_string()),
            AppError::NotFound(m) => ApiError::new(S::NOT_FOUND, "not_found", format!("{m} not found")),
            AppError::Conflict(m) => ApiError::new(S::CONFLICT, "conflict", m),
            AppError::IdempotencyKeyReused => {
                ApiError::new(S::UNPROCESSABLE_ENTITY, "idempotency_key_reused", e.to_string())
            }
            AppError::CheckoutInProgress => ApiError::new(S::CONFLICT, "checkout_in_progress", e.to_string()),
            AppError::PaymentRefused { status, code, message } => ApiError {
                status: StatusCode::from_u16(status).unwrap_or(S::PAYMENT_REQUIRED),
                code: payment_code(&code),
                message,
                retry_after: None,
            },
            AppError::PaymentUnavailable(_) => {
                ApiError::new(S::SERVICE_UNAVAILABLE, "payment_unavailable", e.to_string())
            }
            AppError::Airlock { code, message } => ApiError::new(airlock_status(code), code, message),
            AppError::SignInThrottled { retry_after_secs } => ApiError {
                retry_after: Some(retry_after_secs),
                ..ApiError::new(S::TOO_MANY_REQUESTS, "signin_throttled", e.to_string())
            },
            AppError::Store(s) => s.into(),
            AppError::Internal(m) => {
                tracing::error!(error = %m, "internal error");
                ApiError::new(
                    S::INTERNAL_SERVER_ERROR,
                    "internal",
                    "something went wrong on our side; it has been logged",
                )
            }
        }
    }
}

/// Remembered refusals come back as strings; the codes are a closed set, so they can be
/// `&'static str` like every other code.
fn payment_code(code: &str) -> &'static str {
    const KNOWN: &[&str] = &[
        "insufficient_funds",
        "expired_card",
        "incorrect_cvc",
        "invalid_card",
        "invalid_payment",
        "sold_out",
        "cap_exceeded",
        "outside_slot",
        "not_found",
        "invalid_state",
        "conflict",
        "cart_expired",
        "cart_empty",
    ];
    KNOWN.iter().find(|k| **k == code).copied().unwrap_or("card_declined")
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match tessera_app::error::refusal(&e) {
            Some((status, code)) => {
                let message = match &e {
                    StoreError::NotFound(m) => format!("{m} not found"),
                    other => other.to_string(),
                };
                ApiError::new(StatusCode::from_u16(status).unwrap_or(StatusCode::CONFLICT), code, message)
            }
            None => {
                tracing::error!(error = %e, "storage failure");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage_unavailable",
                    "the store is unavailable; retry shortly",
                )
            }
        }
    }
}

/// The status of each airlock refusal: 429 asks to slow down, 428 to solve a challenge first,
/// 403 says the token or the client is not allowed, whatever it retries.
pub fn airlock_status(code: &str) -> StatusCode {
    match code {
        "rate_limited_address"
        | "rate_limited_network"
        | "rate_limited_gate"
        | "throttled"
        | "too_many_connections" => StatusCode::TOO_MANY_REQUESTS,
        "headers_too_large" => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "pow_required" => StatusCode::PRECONDITION_REQUIRED,
        "pow_failed" => StatusCode::BAD_REQUEST,
        "pow_replayed" => StatusCode::CONFLICT,
        _ => StatusCode::FORBIDDEN,
    }
}
