//! The security events the shop recorded, for the operators and the security operations
//! centre (`/api/v1/admin/security-events`), and their counts for the metrics.

use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiQuery, Operator};
use crate::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub(crate) fn api_routes() -> Router<AppState> {
    Router::new().route("/api/v1/admin/security-events", get(recent))
}

#[derive(Serialize, ToSchema)]
pub struct SecurityEventDto {
    /// Unix seconds.
    pub at: i64,
    /// `signin_throttled`, `signin_failure_burst`, `gate_token_revoked`.
    pub kind: String,
    /// `account:42`, `address:<keyed hash of what was typed>`, `gate:BRC-1`.
    pub subject: String,
    pub detail: String,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecentQuery {
    /// At most this many, newest first (1 to 1000; 100 when absent).
    pub limit: Option<usize>,
}

/// The most recent security events, newest first (operators).
#[utoipa::path(get, path = "/api/v1/admin/security-events", tag = "operators", params(RecentQuery),
    security(("bearer" = [])),
    responses((status = 200, body = [SecurityEventDto]), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn recent(
    State(s): State<AppState>,
    Operator(_op): Operator,
    ApiQuery(q): ApiQuery<RecentQuery>,
) -> Result<Json<Vec<SecurityEventDto>>, ApiError> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(tessera_app::AppError::invalid("limit", "give 1 to 1000").into());
    }
    let events = s.app.security.recent(limit);
    Ok(Json(
        events
            .into_iter()
            .map(|e| SecurityEventDto { at: e.at.0, kind: e.kind.into(), subject: e.subject, detail: e.detail })
            .collect(),
    ))
}

/// `tessera_security_events_total{kind}` and the sign-ins refused without a password check.
pub(crate) fn samples(s: &AppState, scrape: &mut crate::exposition::Scrape) {
    for (kind, n) in s.app.security.counts() {
        let help = "Security events recorded since start-up.";
        scrape.counter("tessera_security_events_total", help, vec![("kind", kind.to_string())], n);
    }
    let refused = s.app.signin_refusals.load(std::sync::atomic::Ordering::Relaxed);
    let help = "Sign-in attempts refused by the per-account throttle.";
    scrape.counter("tessera_signin_throttled_total", help, vec![], refused);
}
