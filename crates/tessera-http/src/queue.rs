//! The waiting room over HTTP: join, status (JSON, or a live event stream), the page a fan
//! sees while waiting, and the operator's controls and figures.
//!
//! The status answer is computed from the room's counters and the signed ticket alone: no
//! store read, so that it can be served tens of thousands of times a second.

use crate::error::{ApiError, ErrorBody};
use crate::extract::{
    cookie_in, Analyst, ApiJson, ApiPath, Authed, ConnectPeer, MaybeAuthed, Operator, ADMISSION_COOKIE, QUEUE_COOKIE,
};
use crate::pages::i18n::tr;
use crate::pages::OperatorPage;
use crate::pages::{layout, PageError};
use crate::AppState;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use maud::{html, PreEscaped};
use serde::{Deserialize, Serialize};
use std::convert::Infallible;
use std::time::Duration;
use tessera_app::airlock::RoomSettings;
use tessera_domain::ErrorCode;
use utoipa::ToSchema;

pub fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/phases/{code}/queue", get(requirements).post(join))
        .route("/api/v1/phases/{code}/queue/status", get(status))
        .route("/api/v1/phases/{code}/queue/events", get(events))
        .route("/api/v1/phases/{code}/queue/ws", get(socket))
        .route("/api/v1/admin/airlock", get(airlock_figures))
        .route("/api/v1/admin/phases/{code}/waiting-room", put(configure).delete(remove))
        .route("/api/v1/admin/edge/decisions", get(decisions).post(decide).delete(revoke))
}

pub fn page_routes() -> Router<AppState> {
    Router::new().route("/phases/{code}/queue", get(queue_page)).route("/operator/airlock", get(operator_page))
}

type ApiResult<T> = Result<T, ApiError>;

/// The queue ticket of a request: the `Tessera-Queue` header, else the cookie; 404 without.
/// Read from the request head in place (taking the whole `HeaderMap` would copy it, on the
/// busiest request of a sale).
pub struct Ticket(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Ticket {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, ApiError> {
        ticket_of(&parts.headers).map(|t| Ticket(t.to_string()))
    }
}

fn ticket_of(headers: &HeaderMap) -> Result<&str, ApiError> {
    match headers.get("tessera-queue").and_then(|v| v.to_str().ok()) {
        Some(v) => Some(v.trim()),
        None => cookie_in(headers, QUEUE_COOKIE),
    }
    .ok_or_else(|| ApiError::new(ErrorCode::NoTicket, "join the queue first"))
}

fn set_cookie(state: &AppState, name: &str, value: &str, max_age: i64) -> HeaderValue {
    let secure = if state.secure_cookies { "; Secure" } else { "" };
    HeaderValue::from_str(&format!("{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}"))
        .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// What joining needs now: a proof-of-work challenge while it is on for this fan.
#[utoipa::path(get, path = "/api/v1/phases/{code}/queue", tag = "waiting room", params(("code" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, description = "`pow_required` and, if so, an ALTCHA-style `challenge`", body = RequirementsDoc),
              (status = 404, body = ErrorBody)))]
async fn requirements(
    State(s): State<AppState>,
    Authed(p): Authed,
    ApiPath(code): ApiPath<String>,
    ConnectPeer(ip): ConnectPeer,
) -> ApiResult<Response> {
    let r = s.app.join_requirements(&p, &code, ip)?;
    Ok(Json(r).into_response())
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct JoinBody {
    /// The solved challenge, base64 of its JSON (ALTCHA's format), when proof-of-work is on.
    pub pow: Option<String>,
}

/// Join the phase's waiting room. One place per account: joining again returns the same place.
#[utoipa::path(post, path = "/api/v1/phases/{code}/queue", tag = "waiting room", params(("code" = String, Path)),
    request_body = JoinBody, security(("bearer" = [])),
    responses((status = 200, description = "the queue ticket (also set as a cookie) and the fan's view", body = QueueTicketDoc),
              (status = 400, body = ErrorBody), (status = 409, body = ErrorBody), (status = 428, body = ErrorBody)))]
async fn join(
    State(s): State<AppState>,
    Authed(p): Authed,
    ApiPath(code): ApiPath<String>,
    ConnectPeer(ip): ConnectPeer,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    // The body is optional: without proof-of-work there is nothing to send.
    let body: JoinBody = if body.iter().all(u8::is_ascii_whitespace) {
        JoinBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::new(ErrorCode::InvalidJson, e.to_string()))?
    };
    let t = s.app.join_queue(&p, &code, body.pow.as_deref(), ip).await?;
    let cookie = set_cookie(&s, QUEUE_COOKIE, &t.ticket, 24 * 3600);
    let mut resp = Json(&t).into_response();
    resp.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(resp)
}

/// Where I stand: position, people ahead, estimated wait, progress; the admission pass (also
/// set as a cookie) once it is my turn. Send the ticket as `Tessera-Queue` or the cookie.
#[utoipa::path(get, path = "/api/v1/phases/{code}/queue/status", tag = "waiting room", params(("code" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, description = "the fan's view of the queue", body = QueueViewDoc), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
async fn status(State(s): State<AppState>, ApiPath(code): ApiPath<String>, req: Request) -> ApiResult<Response> {
    status_answer(&s, req.headers(), &code).await
}

/// The route of [`status`], for its metrics.
pub(crate) const STATUS_ROUTE: &str = "/api/v1/phases/{code}/queue/status";

/// The phase of `GET /api/v1/phases/{code}/queue/status` with a plain code (letters, digits,
/// `-`, `_`; no query): the request that every waiting fan repeats, answered by the accept loop
/// without routing ([`crate::serve`]). Anything else, a percent-encoded code included, takes
/// the router, which gives the same answer more slowly.
pub(crate) fn fast_status_phase<B>(req: &axum::http::Request<B>) -> Option<&str> {
    if req.method() != axum::http::Method::GET || req.uri().query().is_some() {
        return None;
    }
    let code = req.uri().path().strip_prefix("/api/v1/phases/")?.strip_suffix("/queue/status")?;
    let plain = !code.is_empty() && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    plain.then_some(code)
}

/// What [`status`] answers, from the request head alone. Signed in first (401), then the
/// ticket (404), as the route's extractors check them.
pub(crate) async fn status_answer(s: &AppState, headers: &HeaderMap, code: &str) -> ApiResult<Response> {
    let p = crate::extract::authed(s, headers).await?;
    let ticket = ticket_of(headers)?;
    let v = s.app.queue_status(&p, code, ticket)?;
    let mut resp = Json(&v).into_response();
    if let (Some(pass), Some(exp)) = (&v.pass, v.pass_expires_at) {
        let age = (exp.0 - s.app.now().0).max(0);
        resp.headers_mut().append(header::SET_COOKIE, set_cookie(s, ADMISSION_COOKIE, pass, age));
    }
    if let Some(t) = &v.ticket {
        resp.headers_mut().append(header::SET_COOKIE, set_cookie(s, QUEUE_COOKIE, t, 24 * 3600));
    }
    Ok(resp)
}

/// The same view as a server-sent event stream, one event a second, ending at my turn
/// (then fetch `status` once for the pass).
#[utoipa::path(get, path = "/api/v1/phases/{code}/queue/events", tag = "waiting room", params(("code" = String, Path)),
    security(("bearer" = [])), responses((status = 200, description = "one `view` event a second (data: the JSON of `QueueViewDoc`), ending at the fan's turn", content_type = "text/event-stream", body = String)))]
async fn events(
    State(s): State<AppState>,
    Authed(p): Authed,
    ApiPath(code): ApiPath<String>,
    Ticket(ticket): Ticket,
) -> ApiResult<Response> {
    // Refuse a bad ticket now, with a status, rather than inside the stream.
    s.app.peek_queue(&p, &code, &ticket)?;
    // 0: first event, at once; 1: one event a second; 2: ended (my turn, or an error).
    let stream = futures_util::stream::unfold((s, p, code, ticket, 0u8), |(s, p, code, ticket, step)| async move {
        match step {
            2 => return None,
            1 => tokio::time::sleep(Duration::from_secs(1)).await,
            _ => {}
        }
        let (event, last) = match s.app.peek_queue(&p, &code, &ticket) {
            Ok(v) => {
                let last = is_last(&v);
                (Event::default().event("status").json_data(&v).unwrap_or_default(), last)
            }
            Err(e) => (Event::default().event("error").data(ApiError::from(e).code.as_str()), true),
        };
        Some((Ok::<_, Infallible>(event), (s, p, code, ticket, if last { 2 } else { 1 })))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()).into_response())
}

/// The view after which a stream of views ends: the fan's turn, or a new ticket to present
/// (pre-queue numbers are given at opening), which the client must store before going on.
fn is_last(v: &tessera_app::airlock::QueueView) -> bool {
    v.state == "your_turn" || v.ticket.is_some()
}

/// The same views over a WebSocket, for apps that keep one open: a text message with the view's
/// JSON at once and then every second, closed after my turn (or a refusal's code).
#[utoipa::path(get, path = "/api/v1/phases/{code}/queue/ws", tag = "waiting room", params(("code" = String, Path)),
    security(("bearer" = [])),
    responses((status = 101, description = "a WebSocket of text messages, each the JSON of `QueueViewDoc`, closed at the fan's turn"),
              (status = 404, body = ErrorBody), (status = 426, body = ErrorBody)))]
async fn socket(
    State(s): State<AppState>,
    Authed(p): Authed,
    ApiPath(code): ApiPath<String>,
    Ticket(ticket): Ticket,
    upgrade: Result<axum::extract::ws::WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    use axum::extract::ws::{CloseFrame, Message};
    s.app.peek_queue(&p, &code, &ticket)?;
    let upgrade =
        upgrade.map_err(|r| ApiError::new(ErrorCode::UpgradeRequired, format!("open a WebSocket here ({r})")))?;
    Ok(upgrade.max_message_size(1024).on_upgrade(move |mut ws| async move {
        loop {
            let (message, last) = match s.app.peek_queue(&p, &code, &ticket) {
                Ok(v) => {
                    let last = is_last(&v);
                    (Message::Text(serde_json::to_string(&v).unwrap_or_default().into()), last)
                }
                Err(e) => {
                    let reason = ApiError::from(e).code.as_str();
                    (Message::Close(Some(CloseFrame { code: 4000, reason: reason.into() })), true)
                }
            };
            if ws.send(message).await.is_err() || last {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let _ = ws.send(Message::Close(None)).await;
    }))
}

// ---- what the waiting room's routes answer, for the API document --------------------------
//
// The status answer is the hottest path of all (it is served from the accept loop at nginx's
// rate), so the handlers serialise the app's own views rather than copying them into DTOs;
// these types describe that JSON, and a test holds each to the view it describes.

/// A proof-of-work challenge (ALTCHA v1 field names).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ChallengeDoc {
    /// Always `SHA-256`.
    algorithm: String,
    /// Lowercase hex of `SHA-256(salt || decimal(number))`.
    challenge: String,
    /// The secret number lies in `0..=maxnumber`.
    maxnumber: u64,
    salt: String,
    signature: String,
}

/// What joining needs now.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RequirementsDoc {
    pow_required: bool,
    challenge: Option<ChallengeDoc>,
}

/// A fan's view of the queue; a field that does not apply in the current state is left out.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct QueueViewDoc {
    phase: String,
    /// `pre_queue` before opening, `waiting`, then `your_turn`.
    state: String,
    number: Option<u64>,
    position: Option<u64>,
    ahead: Option<u64>,
    eta_secs: Option<u64>,
    /// 0 to 1.
    progress: f64,
    opens_in_secs: Option<i64>,
    /// Once admitted: send it as `Tessera-Admission` (or the cookie) to the shop.
    pass: Option<String>,
    /// Unix seconds.
    pass_expires_at: Option<i64>,
    /// Present when the ticket changed (pre-queue numbers are given at opening).
    ticket: Option<String>,
}

/// A place in the queue: the ticket to present and where it stands.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct QueueTicketDoc {
    ticket: String,
    /// `true` when this account had joined already (same place).
    again: bool,
    view: QueueViewDoc,
}

/// One room's settings and counters.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RoomFiguresDoc {
    phase: String,
    /// As set with `PUT /api/v1/admin/phases/{code}/waiting-room`.
    #[schema(value_type = Object)]
    settings: (),
    /// Joined, served, admitted, the serving rate and the like.
    #[schema(value_type = Object)]
    stats: (),
}

/// The live figures of the waiting rooms and the edge.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AirlockFiguresDoc {
    now_ms: i64,
    rooms: Vec<RoomFiguresDoc>,
    /// Cumulative refusals, as `[reason, count]` pairs.
    #[schema(value_type = Vec<Vec<Value>>)]
    refused: (),
    /// Refusals per second over the last 10 s, as `[reason, rate]` pairs.
    #[schema(value_type = Vec<Vec<Value>>)]
    refused_per_sec: (),
    passes_issued: u64,
    connections_open: u64,
    connections_accepted: u64,
    slow_requests: u64,
    decisions: u64,
}

/// A decision of the edge in force.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct DecisionDoc {
    /// `{"type": "address"|"network"|"account", "value": ...}`.
    #[schema(value_type = Object)]
    scope: (),
    /// `throttle`, `challenge` or `block`.
    kind: String,
    /// Unix milliseconds at which it stops applying.
    expires_ms: i64,
    reason: String,
    origin: String,
}

// ---- operators ----------------------------------------------------------------------------

#[derive(Serialize)]
struct RoomFigures {
    phase: String,
    settings: RoomSettings,
    stats: tessera_airlock::room::RoomStats,
}

#[derive(Serialize)]
struct AirlockFigures {
    now_ms: i64,
    rooms: Vec<RoomFigures>,
    /// Cumulative refusals by reason; rates are their differences over time.
    refused: Vec<(&'static str, u64)>,
    /// Refusals per second by reason over the last 10 s, from the same counters as `refused`.
    refused_per_sec: Vec<(&'static str, f64)>,
    passes_issued: u64,
    connections_open: usize,
    connections_accepted: u64,
    slow_requests: u64,
    decisions: usize,
}

/// Live figures of the waiting rooms and the edge, for the operator page.
#[utoipa::path(get, path = "/api/v1/admin/airlock", tag = "operators", security(("bearer" = [])),
    responses((status = 200, description = "rooms, refusals by reason, connections", body = AirlockFiguresDoc)))]
async fn airlock_figures(State(s): State<AppState>, Operator(_op): Operator) -> Response {
    Json(figures(&s)).into_response()
}

fn figures(s: &AppState) -> AirlockFigures {
    let now = s.app.now_ms();
    let a = &s.app.airlock;
    let c = crate::counters::connection_counters();
    use std::sync::atomic::Ordering::Relaxed;
    AirlockFigures {
        now_ms: now,
        rooms: a
            .rooms()
            .into_iter()
            .map(|(phase, e)| RoomFigures { phase, settings: e.settings(), stats: s.app.room_stats(&e) })
            .collect(),
        refused: a.refusals(),
        refused_per_sec: a.refusal_rates(now),
        passes_issued: a.passes_issued(),
        connections_open: c.open.load(Relaxed),
        connections_accepted: c.accepted.load(Relaxed),
        slow_requests: c.slow_requests.load(Relaxed),
        decisions: a.blocklist.len(),
    }
}

/// The waiting-room part of `/metrics`.
pub fn samples(s: &AppState, scrape: &mut crate::exposition::Scrape) {
    let f = figures(s);
    let phase = |r: &RoomFigures| vec![("phase", r.phase.clone())];
    type Gauge = (&'static str, &'static str, fn(&tessera_airlock::room::RoomStats) -> f64);
    let gauges: [Gauge; 6] = [
        ("tessera_queue_waiting", "Fans in a waiting room not yet admitted.", |s| s.waiting as f64),
        ("tessera_queue_joined", "Places handed out, pre-queue included.", |s| s.joined as f64),
        ("tessera_queue_serving", "The serving counter: numbers below it are admitted.", |s| s.serving as f64),
        ("tessera_queue_active", "Admitted fans still shopping.", |s| s.active as f64),
        ("tessera_queue_admission_rate", "Admissions per second the room allows now.", |s| s.effective_rate),
        ("tessera_queue_joins_per_second", "Joins per second, recent.", |s| s.joins_per_sec),
    ];
    for (name, help, get) in gauges {
        for r in &f.rooms {
            scrape.labelled_gauge(name, help, phase(r), get(&r.stats));
        }
    }
    for (reason, n) in &f.refused {
        let help = "Requests refused by the edge and the airlock.";
        scrape.counter("tessera_edge_refused_total", help, vec![("reason", reason.to_string())], *n);
    }
    let counters = [
        ("tessera_queue_passes_issued_total", "Admission passes handed out.", f.passes_issued),
        ("tessera_edge_connections_accepted_total", "Connections accepted.", f.connections_accepted),
        ("tessera_edge_slow_requests_total", "Connections closed for sending headers too slowly.", f.slow_requests),
    ];
    for (name, help, v) in counters {
        scrape.counter(name, help, vec![], v);
    }
    scrape.gauge("tessera_edge_connections_open", "Open connections.", f.connections_open as f64);
    scrape.gauge("tessera_edge_decisions", "Live block-list decisions.", f.decisions as f64);
}

/// The waiting room's settings as the document describes them (the app's `RoomSettings`,
/// which knows no OpenAPI, is what is parsed).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RoomSettingsDoc {
    /// When the room opens, unix milliseconds; fans arriving before are shuffled at opening.
    opens_at_ms: i64,
    /// Admissions a second, at most and at least (the rate follows the shop's latency between them when `auto_rate`).
    max_rate_per_sec: f64,
    min_rate_per_sec: f64,
    /// Fans in the shop at once, at most.
    max_active: u64,
    /// How long an admission pass is valid, in milliseconds.
    pass_ttl_ms: i64,
    auto_rate: bool,
    /// The checkout latency the automatic rate aims for, in milliseconds.
    latency_target_ms: f64,
    /// Places in the queue, at most.
    max_entries: u64,
    /// Proof-of-work for joining: `off`, `on` or `auto` (on when joins exceed `calm_joins_per_sec`).
    pow: Option<String>,
    calm_joins_per_sec: Option<f64>,
}

/// Create or change a phase's waiting room (rates, pass lifetime, proof-of-work mode).
#[utoipa::path(put, path = "/api/v1/admin/phases/{code}/waiting-room", tag = "operators", params(("code" = String, Path)),
    request_body = RoomSettingsDoc, security(("bearer" = [])),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn configure(
    State(s): State<AppState>,
    Operator(_op): Operator,
    ApiPath(code): ApiPath<String>,
    ApiJson(settings): ApiJson<RoomSettings>,
) -> ApiResult<StatusCode> {
    s.app.configure_waiting_room(&code, &settings).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Remove a phase's waiting room: its shop opens to every signed-in fan with a slot.
#[utoipa::path(delete, path = "/api/v1/admin/phases/{code}/waiting-room", tag = "operators", params(("code" = String, Path)),
    security(("bearer" = [])), responses((status = 204), (status = 404, body = ErrorBody)))]
async fn remove(
    State(s): State<AppState>,
    Operator(_op): Operator,
    ApiPath(code): ApiPath<String>,
) -> ApiResult<StatusCode> {
    s.app.remove_waiting_room(&code).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The block list in force.
#[utoipa::path(get, path = "/api/v1/admin/edge/decisions", tag = "operators", security(("bearer" = [])),
    responses((status = 200, description = "live decisions", body = Vec<DecisionDoc>)))]
async fn decisions(State(s): State<AppState>, Analyst(_who): Analyst) -> Response {
    Json(s.app.airlock.blocklist.list(s.app.now_ms())).into_response()
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    /// `address`, `network` or `account`.
    pub scope: String,
    /// `1.2.3.4`, `1.2.3.0/24`, `2001:db8:1::/48` or an account id.
    pub value: String,
    /// `block`, `challenge` or `throttle`.
    pub kind: String,
    /// Seconds from now, 1 to 30 days.
    pub duration_secs: i64,
    pub reason: String,
}

/// Add a decision to the block list (replaces the decision on the same scope).
#[utoipa::path(post, path = "/api/v1/admin/edge/decisions", tag = "operators", request_body = DecisionBody,
    security(("bearer" = [])), responses((status = 204), (status = 422, body = ErrorBody)))]
async fn decide(
    State(s): State<AppState>,
    Analyst(who): Analyst,
    ApiJson(b): ApiJson<DecisionBody>,
) -> ApiResult<StatusCode> {
    s.app
        .decide_from_text(
            &b.scope,
            &b.value,
            &b.kind,
            b.duration_secs,
            &b.reason,
            format!("{}:{}", who.role.as_str(), who.account_id),
        )
        .await?;
    s.app.audit(&who, format!("decided {} on {} {} for {} s: {}", b.kind, b.scope, b.value, b.duration_secs, b.reason));
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScopeBody {
    pub scope: String,
    pub value: String,
}

/// Lift the decision on a scope.
#[utoipa::path(delete, path = "/api/v1/admin/edge/decisions", tag = "operators", request_body = ScopeBody,
    security(("bearer" = [])), responses((status = 204), (status = 404, body = ErrorBody)))]
async fn revoke(
    State(s): State<AppState>,
    Analyst(who): Analyst,
    ApiJson(b): ApiJson<ScopeBody>,
) -> ApiResult<StatusCode> {
    let scope = tessera_app::airlock::parse_scope(&b.scope, &b.value)?;
    if s.app.revoke_decision(&scope).await? {
        s.app.audit(&who, format!("lifted the decision on {} {}", b.scope, b.value));
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("decision"))
    }
}

// ---- pages --------------------------------------------------------------------------------

async fn queue_page(
    State(s): State<AppState>,
    MaybeAuthed(who): MaybeAuthed,
    Path(code): Path<String>,
) -> Result<Response, PageError> {
    let phase = s.app.phase(&code).await?;
    let Some(who) = who else {
        return Ok(axum::response::Redirect::to("/login").into_response());
    };
    if s.app.airlock.room(&code).is_none() {
        return Ok(axum::response::Redirect::to(&format!("/phases/{code}")).into_response());
    }
    let body = html! {
        div.card #queue data-phase=(code) {
            h2 { "Waiting room · " (phase.name) }
            p.muted #q-intro { "You are in line for the shop. Keep this page open: it updates by itself." }
            div #q-pre hidden {
                p.big { "The queue opens in " strong #q-opens { "…" } }
                p.muted { "Everyone who arrives before the opening gets a random place at the opening: arriving early, or with many tabs, gives no advantage." }
            }
            div #q-wait hidden {
                p.big { "Your place in line: " strong #q-position { "…" } }
                p { strong #q-ahead { "…" } " people ahead of you · estimated wait " strong #q-eta { "…" } }
                div.progress { div.bar #q-bar style="width:0%" {} }
            }
            div #q-pow hidden { p { "Checking your browser (a short computation, no data leaves your device)… " span #q-pow-progress {} } }
            div #q-turn hidden {
                p.big.ok { "It is your turn!" }
                p { "Your admission to the shop is valid until " strong #q-until {} "." }
                p { a.button href={ "/phases/" (code) } { "Go to the shop" } }
            }
            p.error #q-error hidden {}
        }
        script { (PreEscaped(QUEUE_JS)) }
    };
    Ok(layout("Waiting room", Some(&who), None, s.demo, body).into_response())
}

async fn operator_page(State(s): State<AppState>, OperatorPage(who): OperatorPage) -> Result<Response, PageError> {
    let body = html! {
        div.card {
            h2 { (tr("Airlock · waiting rooms and edge", "Sas · files d’attente et bordure")) }
            p.stale #stale role="status" hidden {}
            p.muted { (tr("Live figures, refreshed every second. Rates are per second over the last sample.", "Chiffres en direct, rafraîchis chaque seconde. Les débits sont par seconde sur le dernier relevé.")) }
            div.figures {
                (crate::pages::console::figure(tr("Waiting", "En attente"), "a-waiting"))
                (crate::pages::console::figure(tr("Admissions/s allowed", "Admissions/s permises"), "a-rate"))
                (crate::pages::console::figure(tr("Passes/s", "Laissez-passer/s"), "a-passes"))
                (crate::pages::console::figure(tr("Throttled/s", "Ralentis/s"), "a-throttled"))
                (crate::pages::console::figure(tr("Blocked/s", "Bloqués/s"), "a-blocked"))
                (crate::pages::console::figure(tr("Open connections", "Connexions ouvertes"), "a-conns"))
            }
            h3 { (tr("Queue length", "Longueur de la file")) }
            div.chart #c-queue {}
            h3 { (tr("Admissions per second", "Admissions par seconde")) }
            div.chart #c-admit {}
            h3 { (tr("Refused requests per second (throttled, blocked, tokens, proof-of-work)", "Requêtes refusées par seconde (ralenties, bloquées, jetons, preuve de travail)")) }
            div.chart #c-refused {}
            h3 { (tr("Rooms", "Files")) }
            table #a-rooms tabindex="0" { thead { tr { th { (tr("Phase", "Phase")) } th { (tr("Opened", "Ouverte")) } th { (tr("Joined", "Entrés")) } th { (tr("Serving", "Servis")) } th { (tr("Waiting", "En attente")) } th { (tr("Active", "Actifs")) } th { (tr("Rate", "Débit")) } th { (tr("Joins/s", "Entrées/s")) } } } tbody {} }
            h3 { (tr("Refusals by reason", "Refus par motif")) }
            table #a-reasons tabindex="0" { thead { tr { th { (tr("Reason", "Motif")) } th { (tr("Since start", "Depuis le démarrage")) } th { (tr("Per second (last 10 s)", "Par seconde (10 dernières s)")) } } } tbody {} }
        }
        (crate::pages::console::head())
        script { (PreEscaped(OPERATOR_JS)) }
    };
    Ok(layout(tr("Airlock", "Sas"), Some(&who), None, s.demo, body).into_response())
}

pub(crate) const QUEUE_JS: &str = r#"
(function () {
  const root = document.getElementById('queue');
  const phase = root.dataset.phase;
  const api = '/api/v1/phases/' + encodeURIComponent(phase) + '/queue';
  const $ = (id) => document.getElementById(id);
  const show = (id) => { for (const x of ['q-pre', 'q-wait', 'q-turn', 'q-pow']) $(x).hidden = x !== id; };
  const fail = (m) => { $('q-error').hidden = false; $('q-error').textContent = m; };
  const dur = (s) => s == null ? 'unknown' : s < 60 ? s + ' s' : Math.floor(s / 60) + ' min ' + (s % 60) + ' s';
  let finished = false;
  function render(v) {
    if (v.state === 'pre_queue') {
      show('q-pre'); $('q-opens').textContent = dur(v.opens_in_secs);
    } else if (v.state === 'waiting') {
      show('q-wait');
      $('q-position').textContent = v.position.toLocaleString();
      $('q-ahead').textContent = v.ahead.toLocaleString();
      $('q-eta').textContent = dur(v.eta_secs);
      $('q-bar').style.width = Math.round(v.progress * 100) + '%';
    } else if (v.state === 'your_turn') {
      show('q-turn');
      if (v.pass_expires_at) $('q-until').textContent = new Date(v.pass_expires_at * 1000).toLocaleTimeString();
    }
  }
  async function poll() {
    const r = await fetch(api + '/status', { credentials: 'same-origin' });
    if (!r.ok) { const e = await r.json().catch(() => ({})); throw Object.assign(new Error(), { status: r.status, body: e }); }
    const v = await r.json(); render(v);
    if (v.state === 'your_turn') finished = true;
    return v;
  }
  async function solve(c) {
    const enc = new TextEncoder();
    for (let n = 0; n <= c.maxnumber; n++) {
      const h = await crypto.subtle.digest('SHA-256', enc.encode(c.salt + n));
      const hex = Array.from(new Uint8Array(h), (b) => b.toString(16).padStart(2, '0')).join('');
      if (hex === c.challenge) return n;
      if (n % 5000 === 0) $('q-pow-progress').textContent = Math.min(99, Math.round(100 * n / c.maxnumber)) + '%';
    }
    return null;
  }
  async function join() {
    let body = {};
    const req = await (await fetch(api, { credentials: 'same-origin' })).json();
    if (req.pow_required && req.challenge) {
      show('q-pow');
      const c = req.challenge;
      const number = await solve(c);
      const sol = { algorithm: c.algorithm, challenge: c.challenge, number, salt: c.salt, signature: c.signature };
      body.pow = btoa(JSON.stringify(sol));
    }
    const r = await fetch(api, { method: 'POST', credentials: 'same-origin', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    const v = await r.json();
    if (!r.ok) throw Object.assign(new Error(), { status: r.status, body: v });
    render(v.view);
  }
  function listen() {
    if (finished) return;
    if (!window.EventSource) return setTimeout(loop, 2000);
    const es = new EventSource(api + '/events');
    es.addEventListener('status', (e) => {
      const v = JSON.parse(e.data);
      // The turn is shown only from the status answer, which also sets the pass's cookie:
      // a click on "Go to the shop" must never come before it.
      if (v.state === 'your_turn' || v.ticket) { es.close(); poll().then(listen).catch(() => setTimeout(loop, 2000)); return; }
      render(v);
    });
    es.onerror = () => { es.close(); setTimeout(loop, 2000); };
  }
  async function loop() {
    try { await poll(); } catch (e) { return fail((e.body && e.body.error && e.body.error.message) || 'Connection problem; retrying.'); }
    if (!finished) setTimeout(listen, 0);
  }
  (async function start() {
    try { await poll(); }
    catch (e) {
      if (e.status !== 404 && e.status !== 403) return fail((e.body && e.body.error && e.body.error.message) || 'error');
      try { await join(); } catch (e2) { return fail((e2.body && e2.body.error && e2.body.error.message) || 'Could not join the queue.'); }
    }
    listen();
  })();
})();
"#;

pub(crate) const OPERATOR_JS: &str = r#"
(function () {
  const { $, esc, T, poll, timeChart, rolling } = window.TesseraConsole;
  const perSecond = T('per second', 'par seconde');
  // The last two minutes, one sample a second.
  const queue = timeChart('c-queue', [{ label: T('waiting', 'en attente'), color: '#1f4e9c' }], T('fans', 'fans'));
  const admit = timeChart('c-admit', [{ label: T('passes issued', 'laissez-passer émis'), color: '#1a7f37' }, { label: T('allowed', 'permises'), color: '#8250df' }], perSecond);
  const refused = timeChart('c-refused', [{ label: T('throttled', 'ralentis'), color: '#bf8700' }, { label: T('blocked', 'bloqués'), color: '#b42318' }, { label: T('all refusals', 'tous les refus'), color: '#555555' }], perSecond);
  const q = rolling(120, 1), a = rolling(120, 2), r = rolling(120, 3);
  const sum = (rs, names) => rs.filter(([k]) => !names || names.includes(k)).reduce((s, [, n]) => s + n, 0);
  const THROTTLED = ['rate_limited_address', 'rate_limited_network', 'throttled', 'too_many_connections'];
  let last = null;
  poll('/api/v1/admin/airlock', 1000, (f) => {
    const t = f.now_ms / 1000;
    const waiting = f.rooms.reduce((s, x) => s + x.stats.waiting, 0);
    const rate = f.rooms.reduce((s, x) => s + x.stats.effective_rate, 0);
    // Refusal rates come from the server, over its last 10 s of the same counters as the
    // reason table: they do not depend on this page's polls getting through a flood.
    const rates = f.refused_per_sec;
    const throttled = sum(rates, THROTTLED), blocked = sum(rates, ['blocked']);
    $('a-throttled').textContent = throttled.toFixed(1);
    $('a-blocked').textContent = blocked.toFixed(1);
    r.push(t, [throttled, blocked, sum(rates)]);
    if (last) {
      const passes = Math.max(0, (f.passes_issued - last.passes_issued) / Math.max(0.001, (f.now_ms - last.now_ms) / 1000));
      $('a-passes').textContent = passes.toFixed(1);
      a.push(t, [passes, rate]);
    }
    q.push(t, [waiting]);
    $('a-waiting').textContent = waiting.toLocaleString();
    $('a-rate').textContent = rate.toFixed(1);
    $('a-conns').textContent = f.connections_open.toLocaleString();
    $('a-rooms').tBodies[0].innerHTML = f.rooms.map((x) => '<tr><td>' + esc(x.phase) + '</td><td>' + (x.stats.opened ? T('yes', 'oui') : T('not yet', 'pas encore')) +
      '</td><td>' + x.stats.joined + '</td><td>' + x.stats.serving + '</td><td>' + x.stats.waiting + '</td><td>' + x.stats.active +
      '</td><td>' + x.stats.effective_rate.toFixed(1) + '</td><td>' + x.stats.joins_per_sec.toFixed(1) + '</td></tr>').join('');
    $('a-reasons').tBodies[0].innerHTML = f.refused.map(([k, n], i) => '<tr><td class="mono">' + esc(k) + '</td><td>' + n.toLocaleString('en') +
      '</td><td>' + rates[i][1].toFixed(1) + '</td></tr>').join('');
    queue.set(q.times, q.cols); admit.set(a.times, a.cols); refused.set(r.times, r.cols);
    last = { now_ms: f.now_ms, passes_issued: f.passes_issued };
  });
})();
"#;

#[cfg(test)]
mod tests {
    use super::fast_status_phase;

    #[test]
    fn only_plain_status_requests_take_the_fast_path() {
        let req = |method: &str, uri: &str| axum::http::Request::builder().method(method).uri(uri).body(()).unwrap();
        assert_eq!(fast_status_phase(&req("GET", "/api/v1/phases/P-1_x/queue/status")), Some("P-1_x"));
        for (method, uri) in [
            ("POST", "/api/v1/phases/P1/queue/status"),
            ("HEAD", "/api/v1/phases/P1/queue/status"),
            ("GET", "/api/v1/phases/P%31/queue/status"),
            ("GET", "/api/v1/phases/P1/queue/status?x=1"),
            ("GET", "/api/v1/phases//queue/status"),
            ("GET", "/api/v1/phases/P1/x/queue/status"),
            ("GET", "/api/v1/phases/P1/queue/status/"),
            ("GET", "/api/v1/phases/P1/queue/events"),
        ] {
            assert_eq!(fast_status_phase(&req(method, uri)), None, "{method} {uri}");
        }
    }
}
