//! The operators' view of the money: payment records by state and reconciliation with the
//! provider (`/api/v1/admin/payments`).

use crate::error::ApiError;
use crate::extract::Operator;
use crate::AppState;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use tessera_app::payments::ReconcileReport;
use utoipa::ToSchema;

pub(crate) fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/payments", get(overview))
        .route("/api/v1/admin/payments/reconcile", post(reconcile))
}

#[derive(Serialize, ToSchema)]
pub struct PaymentStateCount {
    /// `capture_pending`, `captured`, `void_pending`, `voided`, `refund_pending`, `refunded`.
    pub state: String,
    pub count: i64,
}

#[derive(Serialize, ToSchema)]
pub struct DisagreementDto {
    /// `orphan_authorization`, `captured_without_order`, `capture_lost`, `captured_after_void`,
    /// `amount_mismatch`, `unknown_to_provider`, `stuck_pending`.
    pub kind: String,
    pub provider_ref: String,
    pub detail: String,
    /// What reconciliation did about it, if it did anything.
    pub fix: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ReconcileDto {
    /// Unix seconds.
    pub at: i64,
    pub provider_authorizations: usize,
    pub store_payments: usize,
    pub disagreements: Vec<DisagreementDto>,
}

impl From<ReconcileReport> for ReconcileDto {
    fn from(r: ReconcileReport) -> Self {
        ReconcileDto {
            at: r.at,
            provider_authorizations: r.provider_authorizations,
            store_payments: r.store_payments,
            disagreements: r
                .disagreements
                .into_iter()
                .map(|d| DisagreementDto {
                    kind: d.kind.into(),
                    provider_ref: d.provider_ref,
                    detail: d.detail,
                    fix: d.fix,
                })
                .collect(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct PaymentsDto {
    pub by_state: Vec<PaymentStateCount>,
    /// Payments still owed a capture, a void or a refund.
    pub pending: i64,
    /// Unix seconds; none when nothing is pending.
    pub oldest_pending_at: Option<i64>,
    /// The last reconciliation (the server runs one a minute).
    pub last_reconciliation: Option<ReconcileDto>,
}

/// Payment records by state, pending work and the last reconciliation (operators).
#[utoipa::path(get, path = "/api/v1/admin/payments", tag = "operators", security(("bearer" = [])),
    responses((status = 200, body = PaymentsDto), (status = 401, body = crate::error::ErrorBody),
              (status = 403, body = crate::error::ErrorBody), (status = 503, body = crate::error::ErrorBody)))]
pub(crate) async fn overview(
    State(s): State<AppState>,
    Operator(_op): Operator,
) -> Result<Json<PaymentsDto>, ApiError> {
    let f = s.app.store.payment_figures().await?;
    Ok(Json(PaymentsDto {
        by_state: tessera_store::PaymentState::ALL
            .into_iter()
            .map(|st| PaymentStateCount { state: st.as_str().into(), count: f.count(st) })
            .collect(),
        pending: f.pending(),
        oldest_pending_at: f.oldest_pending_at.map(|t| t.0),
        last_reconciliation: s.app.last_reconciliation().map(Into::into),
    }))
}

/// Reconciles now with the payment provider, fixing what may be fixed (operators).
#[utoipa::path(post, path = "/api/v1/admin/payments/reconcile", tag = "operators", security(("bearer" = [])),
    responses((status = 200, body = ReconcileDto), (status = 401, body = crate::error::ErrorBody),
              (status = 403, body = crate::error::ErrorBody), (status = 503, body = crate::error::ErrorBody)))]
pub(crate) async fn reconcile(
    State(s): State<AppState>,
    Operator(_op): Operator,
) -> Result<Json<ReconcileDto>, ApiError> {
    Ok(Json(s.app.reconcile(true).await?.into()))
}
