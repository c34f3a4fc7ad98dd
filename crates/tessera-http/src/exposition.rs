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

/// Figures read at scrape time (the store's totals, the rooms' counters, the gates' last
/// syncs), gathered by each capability and then written by the Prometheus exporter like every
/// other metric: no exposition text is written by hand.
#[derive(Default)]
pub struct Scrape {
    samples: Vec<Sample>,
}

struct Sample {
    name: &'static str,
    help: &'static str,
    counter: bool,
    labels: Vec<(&'static str, String)>,
    value: f64,
}

impl Scrape {
    pub fn gauge(&mut self, name: &'static str, help: &'static str, value: f64) {
        self.labelled_gauge(name, help, vec![], value);
    }

    pub fn labelled_gauge(
        &mut self,
        name: &'static str,
        help: &'static str,
        labels: Vec<(&'static str, String)>,
        value: f64,
    ) {
        self.samples.push(Sample { name, help, counter: false, labels, value });
    }

    /// A total kept elsewhere (an atomic of the app), reported as the counter's value.
    pub fn counter(&mut self, name: &'static str, help: &'static str, labels: Vec<(&'static str, String)>, value: u64) {
        self.samples.push(Sample { name, help, counter: true, labels, value: value as f64 });
    }

    /// The samples in Prometheus' text format, through a recorder of their own: the
    /// process-wide one keeps what the request path counts, and these are this scrape's.
    fn render(self) -> String {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            for Sample { name, help, counter, labels, value } in self.samples {
                let labels: Vec<metrics::Label> = labels.into_iter().map(|(k, v)| metrics::Label::new(k, v)).collect();
                if counter {
                    metrics::describe_counter!(name, help);
                    metrics::counter!(name, labels).absolute(value as u64);
                } else {
                    metrics::describe_gauge!(name, help);
                    metrics::gauge!(name, labels).set(value);
                }
            }
        });
        handle.render()
    }
}

/// The whole exposition: the recorder's counters and histograms, then figures read now.
pub async fn render(s: &AppState) -> String {
    let mut out = s.metrics.render();
    let mut scrape = Scrape::default();
    if let (Ok(f), Ok(c)) = (s.app.store.sales_figures(s.app.now()).await, s.app.store.catalogue_stats().await) {
        scrape.gauge("tessera_accounts", "Registered accounts.", f.accounts as f64);
        scrape.gauge("tessera_orders_paid", "Paid orders in the store.", f.paid_orders as f64);
        scrape.gauge("tessera_tickets_sold", "Tickets sold.", f.tickets_sold as f64);
        scrape.gauge("tessera_revenue_cents", "Revenue of paid orders, in cents.", f.revenue.0 as f64);
        scrape.gauge("tessera_seats_held", "Seats held in carts.", f.seats_held_in_carts as f64);
        scrape.gauge("tessera_carts_open", "Live carts.", f.open_carts as f64);
        scrape.gauge("tessera_seats_total", "Seats in the catalogue.", c.seats as f64);
    }
    payments_samples(s, &mut scrape).await;
    crate::security::samples(s, &mut scrape);
    crate::queue::samples(s, &mut scrape);
    crate::gates::samples(s, &mut scrape).await;
    crate::results::samples(s, &mut scrape);
    out.push_str(&scrape.render());
    out
}

/// The payment records by state, the work still owed to the provider, and the last
/// reconciliation: zero disagreements is the normal state, anything else is worth an alert.
async fn payments_samples(s: &AppState, scrape: &mut Scrape) {
    if let Ok(f) = s.app.store.payment_figures().await {
        for state in tessera_store::PaymentState::ALL {
            let labels = vec![("state", state.as_str().to_string())];
            scrape.labelled_gauge("tessera_payments", "Payment records by state.", labels, f.count(state) as f64);
        }
        scrape.gauge("tessera_payments_pending", "Payments still owed a capture, void or refund.", f.pending() as f64);
        let age = f.oldest_pending_at.map_or(0, |t| (s.app.now().0 - t.0).max(0));
        scrape.gauge("tessera_payments_oldest_pending_seconds", "Age of the oldest pending payment.", age as f64);
    }
    if let Some(r) = s.app.last_reconciliation() {
        scrape.gauge(
            "tessera_reconcile_disagreements",
            "Disagreements between the store and the payment provider at the last reconciliation.",
            r.disagreements.len() as f64,
        );
        scrape.gauge("tessera_reconcile_last_run_timestamp_seconds", "When the last reconciliation ran.", r.at as f64);
    }
}
