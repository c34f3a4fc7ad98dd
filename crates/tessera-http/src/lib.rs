//! Tessera over HTTP: the JSON API under `/api/v1` with its OpenAPI document, the fan pages,
//! `/healthz`, `/readyz` and `/metrics`.
//!
//! Only this crate knows HTTP and JSON. Handlers extract, call a use case of `tessera-app`,
//! and map the answer; every error leaves as [`error::ApiError`] with a stable code.

pub mod accreditation;
pub mod accreditation_phone;
pub mod api;
pub mod counters;
pub mod error;
pub mod exposition;
pub mod extract;
pub mod gates;
pub mod pages;
pub mod payments;
pub mod queue;
pub mod results;
pub mod security;
pub mod serve;
pub mod toc;
pub mod volunteers;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use error::RETRY_AFTER_SECS;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tessera_app::airlock::Refused;
use tessera_app::App;
use tessera_domain::ErrorCode;
use utoipa::OpenApi;

/// Largest request body accepted anywhere; the API's bodies are a few hundred bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Largest request head the router accepts (hyper closes the connection at twice this).
pub const MAX_HEADER_BYTES: usize = 8 * 1024;
/// A request must be answered within this time, its body read included; an event stream's
/// body is not bound by it, only its first answer.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// What every handler shares. Cloned for every extractor of every request, so it is one
/// reference count, not a copy of its fields.
#[derive(Clone)]
pub struct AppState(Arc<SharedState>);

pub struct SharedState {
    pub app: App,
    pub metrics: PrometheusHandle,
    /// Demo mode: the mail outbox is readable at `/mailbox`, since no real mail leaves.
    pub demo: bool,
    /// Where the demo's file transport writes mails, shown on the mailbox page.
    pub mail_dir: Option<PathBuf>,
    /// Cookies get `Secure` when the public URL is https.
    pub secure_cookies: bool,
    pub metrics_access: exposition::MetricsAccess,
    /// The results feed's WebSocket fan-out, started by its first subscriber.
    pub(crate) results_hub: std::sync::OnceLock<Arc<results::socket::Hub>>,
}

impl std::ops::Deref for AppState {
    type Target = SharedState;
    fn deref(&self) -> &SharedState {
        &self.0
    }
}

impl AppState {
    pub fn new(app: App, demo: bool, mail_dir: Option<PathBuf>) -> Self {
        let secure_cookies = app.config.public_url.starts_with("https://");
        let metrics_access = exposition::MetricsAccess::default();
        AppState(Arc::new(SharedState {
            app,
            metrics: metrics_handle(),
            demo,
            mail_dir,
            secure_cookies,
            results_hub: std::sync::OnceLock::new(),
            metrics_access,
        }))
    }

    /// Sets who may read `/metrics`; at start-up, before the state is shared.
    pub fn with_metrics_access(mut self, access: exposition::MetricsAccess) -> Self {
        match Arc::get_mut(&mut self.0) {
            Some(shared) => shared.metrics_access = access,
            None => panic!("with_metrics_access is for start-up, before the state is shared"),
        }
        self
    }
}

/// The process-wide Prometheus recorder; installed once however many servers a test starts.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0])
                .expect("static buckets")
                .build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics will be empty");
            }
            handle
        })
        .clone()
}

/// The whole HTTP application as the server runs it: the router, with the body limit and the
/// request timeout around it once (as `Router::layer` they would wrap, and box, every route
/// on every request). The edge runs before it, in the accept loop.
pub fn app_service(
    state: AppState,
) -> impl tower::Service<
    axum::http::Request<hyper::body::Incoming>,
    Response = Response,
    Error = std::convert::Infallible,
    Future = impl Send,
> + Clone
       + Send
       + 'static {
    use tower::Layer;
    let timeout = tower_http::timeout::TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, REQUEST_TIMEOUT);
    DefaultBodyLimit::max(MAX_BODY_BYTES).layer(timeout.layer(router(state)))
}

/// The routes and the per-route metrics, without the limits of [`app_service`].
pub fn router(state: AppState) -> Router {
    let openapi = api::ApiDoc::openapi();
    let openapi_json = openapi.to_pretty_json().expect("openapi serialises");
    Router::new()
        // The API's routes carry their `/api/v1` prefix themselves: a nested router would strip
        // and match the prefix again on every request.
        .merge(api::routes())
        .merge(queue::api_routes())
        .merge(gates::api_routes())
        .merge(payments::api_routes())
        .merge(security::api_routes())
        .merge(results::api_routes())
        .merge(accreditation::api_routes())
        .merge(accreditation_phone::api_routes())
        .merge(toc::api_routes())
        .merge(volunteers::api_routes())
        .route("/api/v1", axum::routing::any(api_not_found))
        .route("/api/v1/{*rest}", axum::routing::any(api_not_found))
        .route(
            "/api/openapi.json",
            get(move || async move { ([(header::CONTENT_TYPE, "application/json")], openapi_json.clone()) }),
        )
        // Alive: the process answers (no dependency asked, so that a database outage does not
        // get the node restarted). `/healthz` is the older name.
        .route("/livez", get(|| async { "ok\n" }))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(exposition::guarded))
        .merge(pages::routes())
        .merge(queue::page_routes())
        .merge(gates::page_routes())
        .merge(payments::page_routes())
        .merge(security::page_routes())
        .merge(results::page_routes())
        .merge(accreditation::page_routes())
        .merge(accreditation_phone::page_routes())
        .merge(toc::page_routes())
        .merge(volunteers::page_routes())
        // Last: it applies to the routes registered before it.
        .method_not_allowed_fallback(method_not_allowed)
        .layer(Track)
        .with_state(state)
}

/// A known path with another method: the JSON error every other refusal uses, not axum's
/// empty 405.
async fn method_not_allowed(method: axum::http::Method) -> error::ApiError {
    error::ApiError::new(ErrorCode::MethodNotAllowed, format!("{method} is not allowed here; see /api/openapi.json"))
}

async fn api_not_found() -> error::ApiError {
    error::ApiError::new(ErrorCode::NoSuchEndpoint, "no such endpoint; see /api/openapi.json")
}

/// Ready means able to sell: the store must take a write now, not just answer a read (a full
/// disk or a read-only database still answers reads), so the check writes one row. The body
/// is the node's health report (`application/health+json`: every check, its observed value,
/// the worst status), 503 with `Retry-After` when a check fails.
async fn readyz(State(s): State<AppState>) -> Response {
    let report = s.app.health_report().await;
    let status = StatusCode::from_u16(report.status.http_status()).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let mut resp =
        (status, [(header::CONTENT_TYPE, tessera_ops::health::MEDIA_TYPE)], report.to_json()).into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        tracing::warn!(output = report.output.as_deref().unwrap_or(""), "readiness check failed");
        resp.headers_mut().insert(header::RETRY_AFTER, axum::http::HeaderValue::from_static(RETRY_AFTER_SECS));
    }
    resp
}

/// The edge: every request from the network passes here first, in the accept loop
/// ([`serve::serve_with`]), before routing. Over-large heads, block-listed clients and clients
/// over their address's or network's rate are refused before any handler or store work, each
/// with a reason code that is counted for the security view. `None` lets the request through
/// (with the block list's verdict, if any, in its extensions); `Some` is the refusal.
pub(crate) fn edge<B>(app: &App, peer: std::net::SocketAddr, req: &mut axum::http::Request<B>) -> Option<Response> {
    let airlock = &app.airlock;
    let head: usize = req.headers().iter().map(|(k, v)| k.as_str().len() + v.len() + 4).sum::<usize>()
        + req.uri().path().len()
        + req.uri().query().map_or(0, str::len);
    if head > MAX_HEADER_BYTES {
        airlock.count(Refused::HeadersTooLarge);
        return Some(refusal(Refused::HeadersTooLarge, "the request head is too large"));
    }
    // Enrolled gates sync several times a second, often many behind one venue address: their
    // signed token (checked here, one HMAC) trades the per-address limits meant for anonymous
    // crowds for a budget of the gate's own, so a stolen token buys no flood either. Nothing
    // else on these paths does. The identity rides on to the handler, which need not check
    // the token again; a revoked token is counted and meets the ordinary limits, then the
    // handler's refusal.
    if req.uri().path().starts_with("/api/v1/gate/") {
        match gate_token(req.headers()).map(|t| app.gate_identity(t)) {
            Some(Ok(gate)) => {
                if airlock.per_gate.check(&gate.gate_id, tessera_app::airlock::monotonic_ns()).is_err() {
                    airlock.count(Refused::RateLimitedGate);
                    return Some(refusal(Refused::RateLimitedGate, "slow down: this gate syncs too often"));
                }
                req.extensions_mut().insert(gate);
                return None;
            }
            Some(Err(tessera_app::AppError::BadToken("revoked"))) => airlock.count(Refused::GateRevoked),
            _ => {}
        }
    }
    let ip = tessera_airlock::net::canonical(peer.ip());
    // Operators steer the sale while a flood is on: by role (an operator's sign-in this node
    // knows), not by address, they pass the rate limits meant for the public; blocks still apply.
    let operator = extract::token_of(req.headers()).is_some_and(|t| app.is_known_operator(t));
    let screened = if operator {
        airlock.screen_blocks_only(ip, app.now_ms())
    } else {
        airlock.screen(ip, app.now_ms(), tessera_app::airlock::monotonic_ns())
    };
    match screened {
        Ok(verdict) => {
            if let Some(v) = verdict {
                req.extensions_mut().insert(v);
            }
            None
        }
        Err(r) => {
            airlock.count(r);
            let resp = refusal(r, "slow down: too many requests from your address or network");
            let path = req.uri().path();
            app.observe_edge_refusal(ip, r == Refused::Blocked, req.method().as_str(), path, resp.status().as_u16());
            Some(resp)
        }
    }
}

fn gate_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ").map(str::trim)
}

/// The headers every answer leaves with, set in one place, the accept loop, so that routed
/// answers, the status shortcut and the edge's refusals all carry them:
///
/// - `nosniff` everywhere: a browser must not run a JSON answer or an upload as a script;
/// - `Cache-Control: no-store` unless the route chose otherwise (the static assets do): nearly
///   every answer is about one account (a queue position, a cart, a ticket), and a shared
///   cache between the fan and Tessera must not hand it to the next fan;
/// - on HTML pages, the content security policy of [`page_policy`], no framing by another
///   site (clickjacking of the purchase and sign-in forms), and no full URL in the `Referer`
///   sent elsewhere;
/// - HSTS when the public URL is https, as its cookies are then `Secure`.
///
/// A page that brings its own policy (the gate agent's page) keeps it.
pub fn secure_headers(resp: &mut Response, https: bool) {
    use axum::http::HeaderValue;
    let h = resp.headers_mut();
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if h.get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"text/html")) {
        if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
            h.insert(header::CONTENT_SECURITY_POLICY, page_policy().clone());
        }
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    }
    if https {
        h.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    }
}

/// Every inline script of every page, by file and name. A page's script runs only if it is
/// here: the policy allows these by hash and no other inline script, so markup that an
/// attacker slips into a page (a display name, an e-mail) cannot run. A test checks that
/// every inline script block (a `PreEscaped` constant) in this crate's sources is listed.
const INLINE_SCRIPTS: [(&str, &str, &str); 18] = [
    ("security.rs", "TAKEDOWNS_JS", security::takedowns::TAKEDOWNS_JS),
    ("toc.rs", "CONSOLE_JS", toc::CONSOLE_JS),
    ("toc.rs", "STATUS_JS", toc::STATUS_JS),
    ("accreditation.rs", "CONSOLE_JS", accreditation::CONSOLE_JS),
    ("accreditation_phone.rs", "PHONE_BADGE_JS", accreditation_phone::PHONE_BADGE_JS),
    ("gates.rs", "OPERATOR_JS", gates::OPERATOR_JS),
    ("payments.rs", "OPERATOR_JS", payments::OPERATOR_JS),
    ("security.rs", "SOC_JS", security::SOC_JS),
    ("results.rs", "RESULTS_JS", results::RESULTS_JS),
    ("results.rs", "OPERATOR_JS", results::OPERATOR_JS),
    ("pages/catalogue.rs", "LIVE_AVAILABILITY_JS", pages::LIVE_AVAILABILITY_JS),
    ("pages/shop.rs", "COUNTDOWN_JS", pages::COUNTDOWN_JS),
    ("queue.rs", "QUEUE_JS", queue::QUEUE_JS),
    ("queue.rs", "OPERATOR_JS", queue::OPERATOR_JS),
    ("pages/wallet.rs", "WALLET_JS", pages::wallet::WALLET_JS),
    ("pages/wallet.rs", "RESALE_JS", pages::wallet::RESALE_JS),
    ("volunteers.rs", "APPLICANT_JS", volunteers::APPLICANT_JS),
    ("volunteers.rs", "CONSOLE_JS", volunteers::CONSOLE_JS),
];

/// The pages' content security policy: [`content_policy`] of [`INLINE_SCRIPTS`], made once.
pub(crate) fn page_policy() -> &'static axum::http::HeaderValue {
    static POLICY: OnceLock<axum::http::HeaderValue> = OnceLock::new();
    POLICY.get_or_init(|| content_policy(INLINE_SCRIPTS.iter().map(|(_, _, js)| *js)))
}

/// A page's content security policy: everything from this origin only; scripts from this
/// origin's files or, inline, only `inline_scripts` (by SHA-256 of their exact text); inline
/// styles allowed (the pages use a few `style` attributes, and a style cannot run code); no
/// plugins, no `<base>`, forms post only here, and no other site may frame the page.
pub fn content_policy<'a>(inline_scripts: impl IntoIterator<Item = &'a str>) -> axum::http::HeaderValue {
    use base64::Engine;
    use sha2::Digest;
    let hashes: String = inline_scripts
        .into_iter()
        .map(|js| format!(" 'sha256-{}'", base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(js))))
        .collect();
    let policy = format!(
        "default-src 'self'; script-src 'self'{hashes}; style-src 'self' 'unsafe-inline'; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    );
    axum::http::HeaderValue::from_str(&policy).expect("base64 and ASCII")
}

/// A refusal at the edge: small, fixed, cheap to send a million times.
fn refusal(r: Refused, message: &str) -> Response {
    let mut resp = error::ApiError::new(r.code(), message).into_response();
    if resp.status() == StatusCode::TOO_MANY_REQUESTS {
        resp.headers_mut().insert(header::RETRY_AFTER, axum::http::HeaderValue::from_static("1"));
    }
    resp
}

/// Request counts and latencies by route and status: the one layer on every route. A plain
/// tower service rather than `from_fn`, which would clone the route and box a future more on
/// every request.
#[derive(Clone, Copy)]
struct Track;

impl<S> tower::Layer<S> for Track {
    type Service = Tracked<S>;
    fn layer(&self, inner: S) -> Tracked<S> {
        Tracked { inner, memo: Arc::default() }
    }
}

/// axum applies a route layer to each method of each route once, so each `Tracked` (and its
/// clones, one per request) serves one route and, but for HEAD answered by GET, one method:
/// it remembers that route's handles instead of looking them up.
#[derive(Clone)]
struct Tracked<S> {
    inner: S,
    memo: Arc<OnceLock<Arc<RouteHandles>>>,
}

impl<S> tower::Service<Request> for Tracked<S>
where
    S: tower::Service<Request, Response = Response> + Send,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = std::pin::Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let method = method_label(req.method());
        let handles = match self.memo.get() {
            Some(h) if h.method == method => h.clone(),
            memo => {
                let h =
                    route_handles(req.extensions().get::<MatchedPath>().map_or("unmatched", |p| p.as_str()), method);
                if memo.is_none() {
                    let _ = self.memo.set(h.clone());
                }
                h
            }
        };
        let start = Instant::now();
        // Pages render in the visitor's language; the API has none.
        let lang = (!req.uri().path().starts_with("/api/")).then(|| pages::i18n::lang_of(req.headers()));
        let fut = self.inner.call(req);
        // At debug level: off by default, so the hot paths pay nothing for it.
        let span = tracing::debug_span!("request", method, route = %handles.route, status = tracing::field::Empty);
        Box::pin(tracing::Instrument::instrument(
            async move {
                let resp = match lang {
                    Some(l) => pages::i18n::scoped(l, fut).await?,
                    None => fut.await?,
                };
                handles.record(start, resp.status());
                tracing::Span::current().record("status", resp.status().as_u16());
                Ok(resp)
            },
            span,
        ))
    }
}

/// An answer made in the accept loop, before routing ([`serve`]), with what the router puts
/// around its routes: the request timeout, the error mapping and the route's metrics.
pub(crate) async fn answer_unrouted(
    route: &RouteHandles,
    answer: impl Future<Output = Result<Response, error::ApiError>>,
) -> Response {
    let start = Instant::now();
    let span =
        tracing::debug_span!("request", method = route.method, route = %route.route, status = tracing::field::Empty);
    // As in the router, the timer is armed only if the answer is not ready at once.
    let answer = tracing::Instrument::instrument(answer, span.clone());
    let resp = match tokio::time::timeout(REQUEST_TIMEOUT, answer).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => e.into_response(),
        Err(_) => StatusCode::REQUEST_TIMEOUT.into_response(),
    };
    route.record(start, resp.status());
    span.record("status", resp.status().as_u16());
    resp
}

/// The metric handles of one route and method, made once: building a labelled key and finding
/// it in the registry on every request would cost more than serving a queue status.
pub(crate) struct RouteHandles {
    method: &'static str,
    route: String,
    duration: metrics::Histogram,
    /// One counter per status code 100 to 599, made on first use; no lock on the way.
    by_status: Box<[OnceLock<metrics::Counter>]>,
}

impl RouteHandles {
    fn record(&self, start: Instant, status: StatusCode) {
        self.duration.record(start.elapsed().as_secs_f64());
        self.counter(status.as_u16()).increment(1);
    }

    fn counter(&self, status: u16) -> &metrics::Counter {
        let slot = &self.by_status[usize::from(status.clamp(100, 599) - 100)];
        slot.get_or_init(|| {
            metrics::counter!("tessera_http_requests_total", "method" => self.method, "route" => self.route.clone(), "status" => status.to_string())
        })
    }
}

fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "OTHER",
    }
}

pub(crate) fn route_handles(route: &str, method: &'static str) -> Arc<RouteHandles> {
    type Cache = std::sync::RwLock<HashMap<String, Vec<Arc<RouteHandles>>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(v) = cache.read().unwrap_or_else(|e| e.into_inner()).get(route) {
        if let Some(h) = v.iter().find(|h| h.method == method) {
            return h.clone();
        }
    }
    let h = Arc::new(RouteHandles {
        method,
        route: route.to_string(),
        duration: metrics::histogram!("tessera_http_request_duration_seconds", "method" => method, "route" => route.to_string()),
        by_status: (100..600).map(|_| OnceLock::new()).collect(),
    });
    let mut w = cache.write().unwrap_or_else(|e| e.into_inner());
    let v = w.entry(route.to_string()).or_default();
    match v.iter().find(|x| x.method == method) {
        Some(existing) => existing.clone(),
        None => {
            v.push(h.clone());
            h
        }
    }
}

/// Serves with the default connection limits until `shutdown` resolves, then lets requests in
/// flight finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve::serve_with(listener, state, serve::ServeLimits::default(), shutdown).await
}

#[cfg(test)]
mod contract;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_answers_ask_for_https_from_then_on() {
        let mut resp = "ok".into_response();
        secure_headers(&mut resp, true);
        assert_eq!(resp.headers()[header::STRICT_TRANSPORT_SECURITY], "max-age=31536000");
        let mut resp = "ok".into_response();
        secure_headers(&mut resp, false);
        assert!(!resp.headers().contains_key(header::STRICT_TRANSPORT_SECURITY));
        assert_eq!(resp.headers()[header::CACHE_CONTROL], "no-store");
    }

    /// A page script missing from [`INLINE_SCRIPTS`] would be blocked by the browser: every
    /// inline script in the sources must be listed, and be a constant (hashed once).
    #[test]
    fn every_inline_script_is_allowed_by_the_page_policy() {
        // Every source file of the crate (a new one joins this list; `sources_are_all_listed`
        // checks that none is missing).
        let sources = [
            ("accreditation.rs", include_str!("accreditation.rs")),
            ("accreditation_phone.rs", include_str!("accreditation_phone.rs")),
            ("api/accounts.rs", include_str!("api/accounts.rs")),
            ("api/catalogue.rs", include_str!("api/catalogue.rs")),
            ("api/lottery.rs", include_str!("api/lottery.rs")),
            ("api/mod.rs", include_str!("api/mod.rs")),
            ("api/operators.rs", include_str!("api/operators.rs")),
            ("api/purchase.rs", include_str!("api/purchase.rs")),
            ("api/tickets.rs", include_str!("api/tickets.rs")),
            ("contract.rs", include_str!("contract.rs")),
            ("counters.rs", include_str!("counters.rs")),
            ("error.rs", include_str!("error.rs")),
            ("exposition.rs", include_str!("exposition.rs")),
            ("extract.rs", include_str!("extract.rs")),
            ("gates.rs", include_str!("gates.rs")),
            ("lib.rs", include_str!("lib.rs")),
            ("pages/accounts.rs", include_str!("pages/accounts.rs")),
            ("pages/catalogue.rs", include_str!("pages/catalogue.rs")),
            ("pages/console.rs", include_str!("pages/console.rs")),
            ("pages/i18n.rs", include_str!("pages/i18n.rs")),
            ("pages/mod.rs", include_str!("pages/mod.rs")),
            ("pages/shop.rs", include_str!("pages/shop.rs")),
            ("pages/wallet.rs", include_str!("pages/wallet.rs")),
            ("payments.rs", include_str!("payments.rs")),
            ("queue.rs", include_str!("queue.rs")),
            ("results.rs", include_str!("results.rs")),
            ("security.rs", include_str!("security.rs")),
            ("security/cases.rs", include_str!("security/cases.rs")),
            ("security/intel.rs", include_str!("security/intel.rs")),
            ("security/takedowns.rs", include_str!("security/takedowns.rs")),
            ("serve.rs", include_str!("serve.rs")),
            ("toc.rs", include_str!("toc.rs")),
            ("volunteers.rs", include_str!("volunteers.rs")),
        ];
        let src = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src"));
        let mut on_disk: Vec<String> = Vec::new();
        for dir in [src.to_path_buf(), src.join("api"), src.join("pages"), src.join("security")] {
            for e in std::fs::read_dir(&dir).unwrap().filter_map(Result::ok) {
                let path = e.path();
                if path.extension().is_some_and(|x| x == "rs") {
                    on_disk.push(path.strip_prefix(src).unwrap().to_string_lossy().into_owned());
                }
            }
        }
        on_disk.sort();
        let listed: Vec<String> = sources.iter().map(|(f, _)| f.to_string()).collect();
        assert_eq!(listed, on_disk, "list every source file here");
        let mut found = Vec::new();
        for (file, text) in sources {
            // The code, not its tests (this one names what it looks for).
            let text = text.split("#[cfg(test)]").next().unwrap_or_default();
            for (i, _) in text.match_indices("script {") {
                let rest = text[i + "script {".len()..].trim_start();
                let name = rest
                    .strip_prefix("(PreEscaped(")
                    .and_then(|r| r.split(')').next())
                    .unwrap_or_else(|| panic!("{file}: an inline script that is not a PreEscaped constant"));
                found.push((file, name));
            }
        }
        let mut expected: Vec<(&str, &str)> = INLINE_SCRIPTS.iter().map(|(f, n, _)| (*f, *n)).collect();
        found.sort();
        expected.sort();
        assert_eq!(found, expected);
        let policy = page_policy().to_str().unwrap();
        assert_eq!(policy.matches("'sha256-").count(), INLINE_SCRIPTS.len(), "{policy}");
        assert!(!policy.split(';').any(|d| d.trim().starts_with("script-src") && d.contains("unsafe")), "{policy}");
    }
}
