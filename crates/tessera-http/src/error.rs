//! The one error type of the API: a status, a stable machine-readable code, a human message.

use axum::http::{HeaderValue, StatusCode};

/// How long a client should wait before retrying after a 503: a store or a provider that
/// failed usually answers again within seconds, and a shorter wait would only add load.
pub const RETRY_AFTER_SECS: &str = "2";
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use tessera_app::AppError;
use tessera_domain::ErrorCode;
use tessera_store::StoreError;
use utoipa::ToSchema;

#[derive(Debug)]
pub struct ApiError {
    /// Always [`status_of`] the code: kept beside it so that pages and middleware read it.
    pub status: StatusCode,
    pub code: ErrorCode,
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
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError { status: status_of(code), code, message: message.into(), retry_after: None }
    }
    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} not found"))
    }
}

/// The HTTP status of every code, chosen here and nowhere else: the store and the application
/// speak in codes.
pub fn status_of(code: ErrorCode) -> StatusCode {
    use ErrorCode as C;
    use StatusCode as S;
    match code {
        C::InvalidQuery | C::InvalidPath | C::InvalidJson | C::InvalidBody | C::IdempotencyKeyMissing => S::BAD_REQUEST,
        C::BadToken | C::PowFailed => S::BAD_REQUEST,
        C::InvalidInput | C::InvalidForm | C::IdempotencyKeyReused => S::UNPROCESSABLE_ENTITY,
        C::CapExceeded | C::CartEmpty | C::InvalidCard | C::InvalidPayment => S::UNPROCESSABLE_ENTITY,
        C::BodyTooLarge => S::PAYLOAD_TOO_LARGE,
        C::UnsupportedMediaType => S::UNSUPPORTED_MEDIA_TYPE,
        C::MethodNotAllowed => S::METHOD_NOT_ALLOWED,
        C::UpgradeRequired => S::UPGRADE_REQUIRED,
        C::NoSuchEndpoint | C::NotFound | C::NoTicket => S::NOT_FOUND,
        C::Unauthenticated | C::BadCredentials | C::MetricsTokenRequired => S::UNAUTHORIZED,
        C::Forbidden | C::BadCsrf | C::EmailNotVerified | C::OutsideSlot => S::FORBIDDEN,
        C::Blocked | C::TokenForged | C::TokenExpired | C::TokenOtherAccount | C::NotAdmitted => S::FORBIDDEN,
        C::GateRevoked => S::FORBIDDEN,
        C::Conflict | C::InvalidState | C::SoldOut | C::CheckoutInProgress | C::NotPublished => S::CONFLICT,
        C::PowReplayed => S::CONFLICT,
        C::CartExpired => S::GONE,
        C::CardDeclined | C::InsufficientFunds | C::ExpiredCard | C::IncorrectCvc => S::PAYMENT_REQUIRED,
        C::SigninThrottled | C::RateLimitedAddress | C::RateLimitedNetwork | C::RateLimitedGate => S::TOO_MANY_REQUESTS,
        C::Throttled | C::TooManyConnections => S::TOO_MANY_REQUESTS,
        C::HeadersTooLarge => S::REQUEST_HEADER_FIELDS_TOO_LARGE,
        C::PowRequired => S::PRECONDITION_REQUIRED,
        C::StorageUnavailable | C::PaymentUnavailable | C::BusUnavailable | C::ContingencyMode => {
            S::SERVICE_UNAVAILABLE
        }
        C::Internal => S::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            metrics::counter!("tessera_http_server_errors_total").increment(1);
        }
        let unavailable = self.status == StatusCode::SERVICE_UNAVAILABLE;
        let retry_after = self.retry_after;
        let body = ErrorBody { error: ErrorDetail { code: self.code.as_str().to_string(), message: self.message } };
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
        use ErrorCode as C;
        match e {
            AppError::Invalid { .. } => ApiError::new(C::InvalidInput, e.to_string()),
            AppError::Unauthenticated => ApiError::new(C::Unauthenticated, e.to_string()),
            AppError::Forbidden(m) => ApiError::new(C::Forbidden, m),
            AppError::EmailNotVerified => ApiError::new(C::EmailNotVerified, e.to_string()),
            AppError::BadCredentials => ApiError::new(C::BadCredentials, e.to_string()),
            AppError::BadToken(_) => ApiError::new(C::BadToken, e.to_string()),
            AppError::NotFound(m) => ApiError::new(C::NotFound, format!("{m} not found")),
            AppError::Conflict(m) => ApiError::new(C::Conflict, m),
            AppError::IdempotencyKeyReused => ApiError::new(C::IdempotencyKeyReused, e.to_string()),
            AppError::CheckoutInProgress => ApiError::new(C::CheckoutInProgress, e.to_string()),
            AppError::PaymentRefused(r) => ApiError::new(r.code, r.message),
            AppError::PaymentUnavailable(_) => ApiError::new(C::PaymentUnavailable, e.to_string()),
            AppError::BusUnavailable(_) => ApiError::new(C::BusUnavailable, e.to_string()),
            AppError::Contingency { message, .. } => {
                ApiError { retry_after: Some(60), ..ApiError::new(C::ContingencyMode, message) }
            }
            AppError::Airlock { code, message } => ApiError::new(code, message),
            AppError::SignInThrottled { retry_after_secs } => {
                ApiError { retry_after: Some(retry_after_secs), ..ApiError::new(C::SigninThrottled, e.to_string()) }
            }
            AppError::Store(s) => s.into(),
            AppError::Internal(m) => {
                tracing::error!(error = %m, "internal error");
                ApiError::new(C::Internal, "something went wrong on our side; it has been logged")
            }
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match tessera_app::error::refusal_of(&e) {
            Some(r) => ApiError::new(r.code, r.message),
            None => {
                tracing::error!(error = %e, "storage failure");
                ApiError::new(ErrorCode::StorageUnavailable, "the store is unavailable; retry shortly")
            }
        }
    }
}
