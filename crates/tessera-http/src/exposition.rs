//! `/metrics` in the Prometheus text format, and who may read it.
//!
//! The figures are operational data (revenue, accounts, gate ids), not public: on the shop's
//! own listener they need a bearer token, the scrape token (`--metrics-token-file`, for
//! Prometheus's `authorization.credentials_file`) or an operator's sign-in. With
//! `--metrics-listen` they are served on a separate address instead, for a private network,
//! and the shop's listener no longer serves them at all.

use crate::error::ApiError;
use crate::extract::token_of;
use crate::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;
use tessera_domain::ErrorCode;
use tessera_store::Role;

/// Who may read `/metrics` on the shop's listener.
#[derive(Clone, Default)]
pub enum MetricsAccess {
    /// A bearer token: this scrape token (if any) or an operator's sign-in.
    #[default]
    OperatorsOnly,
    ScrapeToken(SecretString),
    /// Not on the shop's listener: served by [`private_router`] on its own address.
    Elsewhere,
}

/// `/metrics` on the shop's listener.
pub(crate) async fn guarded(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let token = token_of(&headers);
    let allowed = match (&s.metrics_access, token) {
        (MetricsAccess::Elsewhere, _) => {
            return ApiError::new(ErrorCode::NoSuchEndpoint, "metrics are served on the metrics address")
                .into_response()
        }
        (_, None) => false,
        (MetricsAccess::ScrapeToken(t), Some(given))
            if bool::from(t.expose_secret().as_bytes().ct_eq(given.as_bytes())) =>
        {
            true
        }
        (_, Some(given)) => matches!(s.app.authenticate(given).await, Ok(p) if p.role == Role::Operator),
    };
    if !allowed {
        let mut resp = ApiError::new(
            ErrorCode::MetricsTokenRequired,
            "metrics need the scrape token or an operator's sign-in as a bearer token",
        )
        .into_response();
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, "Bearer".parse().expect("static"));
        return resp;
    }
    exposition(&s).await
}

async fn exposition(s: &AppState) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], render(s).await).into_response()
}

/// The router of the private metrics address (`--metrics-listen`): `/metrics` for anyone who
/// can reach it, so put it on a network only Prometheus reaches.
pub fn private_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(|State(s): State<AppState>| async move { exposition(&s).await }))
        .with_state(state)
}

/// The whole exposition: the recorder's counters and histograms, then gauges read now.
pub async fn render(s: &AppState) -> String {
    let mut out = s.metrics.render();
    if let (Ok(f), Ok(c)) = (s.app.store.sales_figures(s.app.now()).await, s.app.store.catalogue_stats().await) {
        use std::fmt::Write;
        let gauges = [
            ("tessera_accounts", "Registered accounts.", f.accounts),
            ("tessera_orders_paid", "Paid orders in the store.", f.paid_orders),
            ("tessera_tickets_sold", "Tickets sold.", f.tickets_sold),
            ("tessera_revenue_cents", "Revenue of paid orders, in cents.", f.revenue.0),
            ("tessera_seats_held", "Seats held in carts.", f.seats_held_in_carts),
            ("tessera_carts_open", "Live carts.", f.open_carts),
            ("tessera_seats_total", "Seats in the catalogue.", c.seats),
        ];
        for (name, help, v) in gauges {
            let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}\n");
        }
    }
    payments_metrics_text(s, &mut out).await;
    crate::security::metrics_text(s, &mut out);
    crate::queue::metrics_text(s, &mut out);
    crate::gates::metrics_text(s, &mut out).await;
    out
}

/// The payment records by state, the work still owed to the provider, and the last
/// reconciliation: zero disagreements is the normal state, anything else is worth an alert.
async fn payments_metrics_text(s: &AppState, out: &mut String) {
    use std::fmt::Write;
    if let Ok(f) = s.app.store.payment_figures().await {
        let _ = write!(out, "# HELP tessera_payments Payment records by state.\n# TYPE tessera_payments gauge\n");
        for state in tessera_store::PaymentState::ALL {
            let _ = writeln!(out, "tessera_payments{{state=\"{}\"}} {}", state.as_str(), f.count(state));
        }
        let _ = write!(
            out,
            "# HELP tessera_payments_pending Payments still owed a capture, void or refund.\n\
             # TYPE tessera_payments_pending gauge\ntessera_payments_pending {}\n",
            f.pending()
        );
        let age = f.oldest_pending_at.map_or(0, |t| (s.app.now().0 - t.0).max(0));
        let _ = write!(
            out,
            "# HELP tessera_payments_oldest_pending_seconds Age of the oldest pending payment.\n\
             # TYPE tessera_payments_oldest_pending_seconds gauge\ntessera_payments_oldest_pending_seconds {age}\n"
        );
    }
    if let Some(r) = s.app.last_reconciliation() {
        let _ = write!(
            out,
            "# HELP tessera_reconcile_disagreements Disagreements between the store and the payment provider at the last reconciliation.\n\
             # TYPE tessera_reconcile_disagreements gauge\ntessera_reconcile_disagreements {}\n\
             # HELP tessera_reconcile_last_run_timestamp_seconds When the last reconciliation ran.\n\
             # TYPE tessera_reconcile_last_run_timestamp_seconds gauge\ntessera_reconcile_last_run_timestamp_seconds {}\n",
            r.disagreements.len(),
            r.at
        );
    }
}
