//! The operators' view of the money: payment records by state and reconciliation with the
//! provider (`/api/v1/admin/payments`), and its live page (`/operator/payments`).

use crate::error::ApiError;
use crate::extract::Operator;
use crate::pages::i18n::tr;
use crate::pages::OperatorPage;
use crate::pages::{layout, PageError};
use crate::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use maud::{html, PreEscaped};
use serde::Serialize;
use tessera_app::payments::ReconcileReport;
use utoipa::ToSchema;

pub(crate) fn page_routes() -> Router<AppState> {
    Router::new().route("/operator/payments", get(operator_page))
}

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
#[utoipa::path(get, path = "/api/v1/admin/payments", operation_id = "payments_overview", tag = "operators", security(("bearer" = [])),
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

/// Money and tickets side by side: what the provider still owes a step, and whether the last
/// reconciliation agreed. Zero disagreements is the normal state; anything else is shown first.
async fn operator_page(State(s): State<AppState>, OperatorPage(who): OperatorPage) -> Result<Response, PageError> {
    let body = html! {
        div.card {
            h2 { (tr("Payments · money and tickets", "Paiements · argent et billets")) }
            p.stale #stale role="status" hidden {}
            p.muted { (tr("Live, refreshed every 3 seconds. Captures, voids and refunds are driven by a worker; ", "En direct, rafraîchi toutes les 3 secondes. Encaissements, annulations et remboursements sont menés par un processus ; "))
                (tr("reconciliation with the payment provider runs every minute.", "le rapprochement avec le prestataire de paiement a lieu chaque minute.")) }
            div.figures {
                (crate::pages::console::figure(tr("Disagreements", "Désaccords"), "p-disagree"))
                (crate::pages::console::figure(tr("Pending", "En suspens"), "p-pending"))
                (crate::pages::console::figure(tr("Oldest pending", "Le plus ancien en suspens"), "p-oldest"))
                (crate::pages::console::figure(tr("Captured", "Encaissés"), "p-captured"))
            }
            h3 { (tr("Pending payments, last 10 minutes", "Paiements en suspens, 10 dernières minutes")) }
            div.chart #p-pending-chart {}
            h3 { (tr("Payment records by state", "Paiements par état")) }
            canvas #p-states width="640" height="160" {}
            h3 { (tr("Last reconciliation", "Dernier rapprochement")) }
            p #p-last.muted { (tr("not run yet", "pas encore lancé")) }
            table #p-dis tabindex="0" { thead { tr { th { (tr("Kind", "Nature")) } th { (tr("Provider reference", "Référence du prestataire")) } th { (tr("Detail", "Détail")) } th { (tr("Fix", "Correction")) } } } tbody {} }
            p { button #p-run { (tr("Reconcile now", "Rapprocher maintenant")) } " " span #p-msg {} }
        }
        (crate::pages::console::head())
        script { (PreEscaped(OPERATOR_JS)) }
    };
    Ok(layout(tr("Payments", "Paiements"), Some(&who), None, s.demo, body).into_response())
}

pub(crate) const OPERATOR_JS: &str = r#"
(function () {
  const { $, esc, T, poll, timeChart, rolling } = window.TesseraConsole;
  // Owed captures, voids and refunds over the last ten minutes: a line that does not come
  // back to zero is a provider that stopped answering.
  const pendingChart = timeChart('p-pending-chart', [{ label: T('pending', 'en suspens'), color: '#bf8700' }], T('payments', 'paiements'), { windowSecs: 600 });
  const pending = rolling(200, 1);
  function bars(pairs) {
    const c = $('p-states'), g = c.getContext('2d'), w = c.width, h = c.height;
    g.clearRect(0, 0, w, h);
    const max = Math.max(1, ...pairs.map((p) => p.count)), bw = w / Math.max(1, pairs.length);
    pairs.forEach((p, i) => {
      const bh = (h - 30) * p.count / max;
      g.fillStyle = p.state.endsWith('_pending') ? '#bf8700' : '#1f4e9c';
      g.fillRect(i * bw + 6, h - 16 - bh, bw - 12, bh);
      g.fillStyle = '#333'; g.fillText(p.state, i * bw + 6, h - 4); g.fillText(p.count.toLocaleString(), i * bw + 6, h - 20 - bh);
    });
  }
  function show(o) {
    bars(o.by_state);
    pending.push(Date.now() / 1000, [o.pending]);
    pendingChart.set(pending.times, pending.cols);
    const captured = o.by_state.find((p) => p.state === 'captured');
    $('p-captured').textContent = captured ? captured.count.toLocaleString() : '0';
    $('p-pending').textContent = o.pending.toLocaleString();
    $('p-oldest').textContent = o.oldest_pending_at ? Math.max(0, Math.round(Date.now() / 1000 - o.oldest_pending_at)) + ' s' : '–';
    const r = o.last_reconciliation;
    if (r) {
      $('p-disagree').textContent = r.disagreements.length;
      $('p-disagree').className = r.disagreements.length ? 'error' : 'ok';
      $('p-last').textContent = new Date(r.at * 1000).toLocaleTimeString() + ': ' + r.provider_authorizations.toLocaleString() +
        ' provider authorisations against ' + r.store_payments.toLocaleString() + ' payment records, ' +
        r.disagreements.length + ' disagreements.';
      $('p-dis').tBodies[0].innerHTML = r.disagreements.map((d) => '<tr><td>' + esc(d.kind) + '</td><td class="mono">' + esc(d.provider_ref) +
        '</td><td>' + esc(d.detail) + '</td><td>' + esc(d.fix || '') + '</td></tr>').join('');
    }
  }
  $('p-run').addEventListener('click', async () => {
    $('p-msg').textContent = T('reconciling…', 'rapprochement…');
    const r = await fetch('/api/v1/admin/payments/reconcile', { method: 'POST', credentials: 'same-origin' });
    const v = await r.json().catch(() => ({}));
    $('p-msg').textContent = r.ok ? v.disagreements.length + T(' disagreements', ' désaccords') : ((v.error && v.error.message) || T('failed', 'échec'));
  });
  poll('/api/v1/admin/payments', 3000, show);
})();
"#;
