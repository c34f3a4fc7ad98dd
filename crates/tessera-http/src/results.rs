//! Results over HTTP: venue sources post documents (`POST /api/v1/results/documents`, ODF's
//! own transport: one message per request, its key in `X-API-KEY`); subscribers follow the
//! feed as server-sent events (`GET /api/v1/results/stream`) from their last position; the
//! current documents and the medal table for anyone; tokens and figures for operators; the
//! public results page (`/results`).

use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery, MaybeAuthed, Operator};
use crate::pages::i18n::tr;
use crate::pages::{layout, OperatorPage, PageError};
use crate::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use maud::{html, PreEscaped};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use tessera_app::results::Subscription;
use tessera_results::coalesce::Coalescer;
use tessera_results::{Catchup, Change, Filter, Position};
use utoipa::{IntoParams, ToSchema};

pub(crate) mod socket;

/// ODF caps a message at 10 MB.
pub const MAX_DOCUMENT_BODY: usize = tessera_results::document::MAX_DOCUMENT_BYTES;

pub(crate) fn api_routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/results/documents",
            post(publish).get(documents).layer(axum::extract::DefaultBodyLimit::max(MAX_DOCUMENT_BODY)),
        )
        .route("/api/v1/results/stream", get(stream))
        .route("/api/v1/results/socket", get(socket))
        .route("/api/v1/results/medals", get(medals))
        .route("/api/v1/results/token/refresh", post(refresh))
        .route("/api/v1/admin/results", get(figures))
        .route("/api/v1/admin/results/sources", post(issue_source))
        .route("/api/v1/admin/results/sources/{id}/revoke", post(revoke_source))
        .route("/api/v1/admin/results/subscribers", post(issue_subscriber))
}

pub(crate) fn page_routes() -> Router<AppState> {
    Router::new().route("/results", get(results_page)).route("/operator/results", get(operator_page))
}

#[derive(Serialize, ToSchema)]
pub struct PublishedDto {
    /// `created`, `replaced`, `withdrawn` or `duplicate` (the same version again: nothing changed).
    pub outcome: String,
    pub epoch: u64,
    /// The change's position in the feed.
    pub seq: u64,
}

/// A venue result system publishes one ODF document: ODF XML (`Content-Type: application/xml`)
/// or its JSON form. The key (`X-API-KEY`, or `Authorization: Bearer`) names the source and its
/// disciplines. A higher version replaces, the same version is a duplicate (200, nothing
/// changes), the same version without its `<Competition>` element (JSON `body: null`)
/// withdraws, an older version is refused (409) and the stored one stays.
#[utoipa::path(post, path = "/api/v1/results/documents", tag = "results",
    request_body(content = String, content_type = "application/xml"),
    responses((status = 200, body = PublishedDto), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub(crate) async fn publish(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<PublishedDto>, ApiError> {
    let key = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .or_else(|| crate::extract::token_of(&headers))
        .ok_or(tessera_app::AppError::Unauthenticated)?;
    let source = s.app.results_source(key.trim()).map_err(key_error)?;
    let xml = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|t| t.contains("xml"));
    let p = s.app.publish_result(&source, xml, &body).await?;
    Ok(Json(PublishedDto { outcome: p.outcome.into(), epoch: p.epoch, seq: p.seq }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedQuery {
    /// Comma-separated disciplines (`ATH,SWM`); all when absent.
    pub sports: Option<String>,
    /// Comma-separated competition codes.
    pub competitions: Option<String>,
    /// Comma-separated document types (`DT_RESULT,DT_MEDALS`).
    pub types: Option<String>,
    /// A subscriber's token (media, broadcaster, internal), here or in the `X-Results-Token`
    /// header; the public's entitlement without.
    pub token: Option<String>,
    /// `EPOCH:SEQ`, the last position received: what followed it comes first. The
    /// `Last-Event-ID` header says the same (a browser's `EventSource` sends it by itself).
    pub since: Option<String>,
    /// `true`: bursts of versions of one document at most every 250 ms, the last winning.
    pub coalesce: Option<bool>,
}

fn list(s: &Option<String>, field: &'static str) -> Result<Vec<String>, ApiError> {
    let Some(s) = s else { return Ok(Vec::new()) };
    let items: Vec<String> = s.split(',').map(|x| x.trim().to_string()).filter(|x| !x.is_empty()).collect();
    if items.len() > 50
        || items.iter().any(|x| x.len() > 34 || !x.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
    {
        return Err(tessera_app::AppError::invalid(field, "up to 50 codes of letters, digits and _").into());
    }
    Ok(items)
}

impl FeedQuery {
    fn filter(&self) -> Result<Filter, ApiError> {
        Ok(Filter {
            sports: list(&self.sports, "sports")?,
            competitions: list(&self.competitions, "competitions")?,
            types: list(&self.types, "types")?,
        })
    }
}

fn position(s: &str) -> Result<Position, ApiError> {
    let bad =
        || ApiError::from(tessera_app::AppError::invalid("since", "EPOCH:SEQ, as the feed's events are numbered"));
    let (e, q) = s.trim().split_once(':').ok_or_else(bad)?;
    Ok(Position { epoch: e.parse().map_err(|_| bad())?, seq: q.parse().map_err(|_| bad())? })
}

/// A subscriber's token: the `token` parameter (a browser's `EventSource` sets no header) or
/// the `X-Results-Token` header. Not the sign-in: a signed-in fan reading the public page is
/// the public.
fn results_token<'a>(q: &'a FeedQuery, headers: &'a HeaderMap) -> Option<&'a str> {
    q.token.as_deref().or_else(|| headers.get("x-results-token").and_then(|v| v.to_str().ok()))
}

/// A wrong key or token is a 401, as ODF's transport answers it (FND §8), with the reason.
fn key_error(e: tessera_app::AppError) -> ApiError {
    match e {
        tessera_app::AppError::BadToken(why) => {
            ApiError::new(tessera_domain::ErrorCode::Unauthenticated, format!("the key or token is not valid ({why})"))
        }
        e => e.into(),
    }
}

/// One thing a subscriber is sent, whatever the transport.
enum Out {
    /// The advised reconnection delay (ms), with jitter.
    Retry(u64),
    Change(Box<Change>),
    /// A live change, already in JSON (one serialisation for every subscriber).
    Live(Arc<tessera_app::results::LiveChange>),
    /// The position could not be continued: the current state follows.
    Reset {
        reason: &'static str,
        at: Position,
    },
    /// Where the reader stands after a reset's state.
    Position(Position),
    /// Fell too far behind: reconnect with the last position.
    Cut(String),
}

impl Out {
    fn sse(&self) -> Event {
        let id = |p: &Position| format!("{}:{}", p.epoch, p.seq);
        match self {
            Out::Retry(ms) => Event::default().retry(std::time::Duration::from_millis(*ms)).comment("tessera results"),
            Out::Change(c) => {
                Event::default().event("change").id(format!("{}:{}", c.epoch, c.seq)).json_data(c).unwrap_or_default()
            }
            Out::Live(l) => {
                Event::default().event("change").id(format!("{}:{}", l.change.epoch, l.change.seq)).data(&l.json)
            }
            Out::Reset { reason, at } => Event::default()
                .event("reset")
                .id(id(at))
                .json_data(serde_json::json!({"reason": reason, "epoch": at.epoch, "seq": at.seq}))
                .unwrap_or_default(),
            Out::Position(at) => Event::default().event("position").id(id(at)).data(""),
            Out::Cut(reason) => {
                Event::default().event("cut").json_data(serde_json::json!({"reason": reason})).unwrap_or_default()
            }
        }
    }

    /// The same as one WebSocket text message: `{"event", "id", "data"}`.
    fn ws_text(&self) -> bytes::Bytes {
        let (event, id, data) = match self {
            // Encoded once for every subscriber: this takes a reference to its bytes.
            Out::Live(l) => return l.ws.clone(),
            Out::Retry(ms) => ("retry", String::new(), serde_json::json!({"ms": ms})),
            Out::Change(c) => ("change", format!("{}:{}", c.epoch, c.seq), serde_json::to_value(c).unwrap_or_default()),
            Out::Reset { reason, at } => (
                "reset",
                format!("{}:{}", at.epoch, at.seq),
                serde_json::json!({"reason": reason, "epoch": at.epoch, "seq": at.seq}),
            ),
            Out::Position(at) => ("position", format!("{}:{}", at.epoch, at.seq), serde_json::Value::Null),
            Out::Cut(reason) => ("cut", String::new(), serde_json::json!({"reason": reason})),
        };
        serde_json::json!({"event": event, "id": id, "data": data}).to_string().into()
    }
}

/// What a subscriber's connection holds between two sends.
struct Follow {
    queue: VecDeque<Out>,
    sub: Subscription,
    filter: Filter,
    /// The last position sent: live changes at or before it were in the catch-up.
    last: u64,
    coalescer: Option<Coalescer>,
    app: tessera_app::App,
    ended: bool,
}

impl Follow {
    /// Checks the request, subscribes, and queues the catch-up.
    fn open(s: &AppState, q: &FeedQuery, headers: &HeaderMap) -> Result<Follow, ApiError> {
        Ok(Follow::open_with(s, q, headers, |_, _, _| ())?.0)
    }

    /// As [`Follow::open`], with `register` called under the feed's lock with the subscriber's
    /// entitlement, filter and the position its catch-up covers
    /// ([`tessera_app::App::results_subscribe_with`]).
    fn open_with<T>(
        s: &AppState,
        q: &FeedQuery,
        headers: &HeaderMap,
        register: impl FnOnce(tessera_results::Entitlement, &Filter, Position) -> T,
    ) -> Result<(Follow, T), ApiError> {
        let entitlement = s.app.results_entitlement(results_token(q, headers)).map_err(key_error)?;
        let filter = q.filter()?;
        let since = match q.since.as_deref().or_else(|| headers.get("last-event-id").and_then(|v| v.to_str().ok())) {
            Some(p) => Some(position(p)?),
            None => None,
        };
        let (sub, registered) =
            s.app.results_subscribe_with(entitlement, &filter, since, |at| register(entitlement, &filter, at))?;
        let mut queue = VecDeque::new();
        queue.push_back(Out::Retry(1000 + rand::random::<u64>() % 4000));
        let last = match &sub.catchup {
            Catchup::Changes(v) => {
                queue.extend(v.iter().cloned().map(|c| Out::Change(Box::new(c))));
                v.last().map_or(since.map_or(0, |p| p.seq), |c| c.seq)
            }
            Catchup::Reset { reason, state, at } => {
                queue.push_back(Out::Reset { reason, at: *at });
                queue.extend(state.iter().cloned().map(|c| Out::Change(Box::new(c))));
                // The state's own positions are older: the reader stands at the feed's now.
                queue.push_back(Out::Position(*at));
                at.seq
            }
        };
        let follow = Follow {
            queue,
            sub,
            filter,
            last,
            coalescer: q.coalesce.unwrap_or(false).then(Coalescer::default),
            app: s.app.clone(),
            ended: false,
        };
        Ok((follow, registered))
    }

    /// The next thing to send; `None` once the connection is to end.
    async fn pop(&mut self) -> Option<Out> {
        loop {
            if let Some(o) = self.queue.pop_front() {
                if let Out::Live(l) = &o {
                    self.app.results_delivered(l.change.at_ms);
                }
                return Some(o);
            }
            if self.ended {
                return None;
            }
            self.next().await;
        }
    }

    /// Waits for the next live change (or a coalesced one falling due) and queues what to send.
    async fn next(&mut self) {
        use tokio::sync::broadcast::error::RecvError;
        let due_in = self.coalescer.as_ref().and_then(Coalescer::next_due).map(|t| (t - self.app.now_ms()).max(0));
        let received = tokio::select! {
            r = self.sub.live.recv() => Some(r),
            _ = tokio::time::sleep(std::time::Duration::from_millis(due_in.unwrap_or(0) as u64)), if due_in.is_some() => None,
        };
        // The clock only when coalescing: a live change to 10,000 subscribers reads it 10,000
        // times otherwise.
        let now = if self.coalescer.is_some() { self.app.now_ms() } else { 0 };
        match received {
            None => {}
            Some(Ok(c)) => {
                if c.change.seq <= self.last || !c.for_subscriber(self.sub.entitlement, &self.filter) {
                    return;
                }
                self.last = c.change.seq;
                match self.coalescer.as_mut() {
                    Some(co) => self.queue.extend(co.offer(c.change.clone(), now).map(|c| Out::Change(Box::new(c)))),
                    None => self.queue.push_back(Out::Live(c)),
                }
            }
            Some(Err(RecvError::Lagged(n))) => {
                self.app.results_cut_off();
                self.queue
                    .push_back(Out::Cut(format!("too slow: {n} changes behind; reconnect with your last position")));
                self.ended = true;
            }
            Some(Err(RecvError::Closed)) => self.ended = true,
        }
        if let Some(co) = self.coalescer.as_mut() {
            self.queue.extend(co.due(now).into_iter().map(|c| Out::Change(Box::new(c))));
        }
    }
}

/// One server-sent event as a client reads it: `event` (`change`, `reset`, `position`, `cut`),
/// `id` (`EPOCH:SEQ`), `data` (the JSON text of the change, or of the reset's or cut's reason),
/// `retry` (the advised reconnection delay, ms).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SseEventDoc {
    pub event: Option<String>,
    pub id: Option<String>,
    pub data: Option<String>,
    pub retry: Option<u64>,
}

/// The feed as server-sent events: the catch-up from `since` (or the current state), then
/// every change as it is accepted, each event's id its `EPOCH:SEQ`. A `reset` event says the
/// position could not be continued (another epoch, or too old) and the current state follows;
/// a `cut` event says this reader fell too far behind and must reconnect with its position.
/// The `retry` field advises a reconnection delay with jitter, so that a network blip does not
/// bring every client back in the same second.
#[utoipa::path(get, path = "/api/v1/results/stream", tag = "results", params(FeedQuery),
    responses((status = 200, description = "server-sent events: change, reset, position, cut", content_type = "text/event-stream", body = SseEventDoc),
              (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn stream(
    State(s): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<FeedQuery>,
) -> Result<Response, ApiError> {
    let follow = Follow::open(&s, &q, &headers)?;
    let events = futures_util::stream::unfold(follow, |mut f| async move {
        let o = f.pop().await?;
        Some((Ok::<_, Infallible>(o.sse()), f))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()).into_response())
}

/// The feed over a WebSocket: the same as the event stream, one JSON text message each
/// (`{"event": "change", "id": "EPOCH:SEQ", "data": {...}}`). What a client sends is ignored;
/// a closed or failed connection ends it.
#[utoipa::path(get, path = "/api/v1/results/socket", operation_id = "results_socket", tag = "results", params(FeedQuery),
    responses((status = 101, description = "a WebSocket of JSON messages"), (status = 401, body = ErrorBody),
              (status = 422, body = ErrorBody), (status = 426, body = ErrorBody)))]
pub(crate) async fn socket(
    State(s): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<FeedQuery>,
    handshake: socket::Handshake,
    slot: Option<axum::Extension<crate::serve::ConnectionSlot>>,
) -> Result<Response, ApiError> {
    let hub = s.results_hub.get_or_init(|| socket::Hub::start(&s.app)).clone();
    let coalesce = q.coalesce.unwrap_or(false);
    // Registered with the fan-out under the feed's lock, after the catch-up it is sent first.
    let (follow, registration) = Follow::open_with(&s, &q, &headers, |entitlement, filter, at| {
        let conn = hub.conn(entitlement, filter.clone(), at.seq);
        if !coalesce {
            hub.add(conn.clone());
        }
        socket::Registration(conn)
    })?;
    let source = if coalesce {
        socket::Source::Own(Box::new(follow))
    } else {
        let Follow { queue, sub, .. } = follow;
        let Subscription { guard, .. } = sub;
        let catchup = queue.iter().map(|o| socket::text_frame(o.ws_text())).collect();
        socket::Source::Hub { catchup, connected: guard }
    };
    handshake.upgrade(move |stream, read| async move {
        // The connection keeps its place in the per-address limits while it lives.
        let _slot = slot;
        socket::serve(registration, stream, read, source).await
    })
}

/// Live changes waiting in this node's WebSocket queues, and their bytes (none before the
/// first WebSocket subscriber starts the hub).
fn waiting(s: &AppState) -> (usize, usize) {
    s.results_hub.get().map_or((0, 0), |h| h.waiting())
}

/// The feed's figures for `/metrics`: what the operators' page shows, for an alerting system,
/// and what waits in the WebSocket subscribers' queues.
pub(crate) fn samples(s: &AppState, scrape: &mut crate::exposition::Scrape) {
    let f = s.app.results_figures();
    let counters = [
        ("tessera_results_accepted_total", "Documents the feed's rules accepted.", f.accepted),
        ("tessera_results_duplicates_total", "Documents resent with a version already held.", f.duplicates),
        ("tessera_results_refused_total", "Documents refused (bad input, rights, a version regression).", f.refused),
        ("tessera_results_delivered_total", "Changes handed to subscribers' connections.", f.delivered),
        ("tessera_results_cut_off_total", "Subscribers cut off for falling behind.", f.cut_off),
        ("tessera_results_resets_total", "Catch-ups that started again from the current state.", f.resets),
    ];
    for (name, help, v) in counters {
        scrape.counter(name, help, vec![], v);
    }
    for (entitlement, n) in &f.connected {
        let labels = vec![("entitlement", entitlement.to_string())];
        scrape.labelled_gauge(
            "tessera_results_subscribers",
            "Subscribers connected, by entitlement.",
            labels,
            *n as f64,
        );
    }
    scrape.gauge("tessera_results_position", "The feed's last position in its epoch.", f.seq as f64);
    // Two gauges rather than a summary: the percentiles are of a sample the node keeps, with
    // no count or sum a summary would need.
    let help = "From acceptance to the hand-over to a subscriber's connection, recent sampled deliveries.";
    if let Some(ms) = f.delivery_p50_ms {
        scrape.gauge("tessera_results_delivery_p50_seconds", help, f64::from(ms) / 1e3);
    }
    if let Some(ms) = f.delivery_p99_ms {
        scrape.gauge("tessera_results_delivery_p99_seconds", help, f64::from(ms) / 1e3);
    }
    let (changes, bytes) = waiting(s);
    scrape.gauge(
        "tessera_results_waiting_changes",
        "Live changes waiting in WebSocket subscribers' queues.",
        changes as f64,
    );
    scrape.gauge("tessera_results_waiting_bytes", "Their bytes, counted per queue.", bytes as f64);
}

#[derive(Serialize, ToSchema)]
pub struct DocumentsDto {
    pub epoch: u64,
    /// The feed's position: follow the stream from here.
    pub seq: u64,
    /// Each document's latest version, oldest change first.
    #[schema(value_type = Vec<Object>)]
    pub documents: Vec<Change>,
}

/// The current documents, within the caller's entitlement and filter.
#[utoipa::path(get, path = "/api/v1/results/documents", tag = "results", params(FeedQuery),
    responses((status = 200, body = DocumentsDto), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn documents(
    State(s): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<FeedQuery>,
) -> Result<Json<DocumentsDto>, ApiError> {
    let entitlement = s.app.results_entitlement(results_token(&q, &headers)).map_err(key_error)?;
    let (p, documents) = s.app.results_documents(entitlement, &q.filter()?);
    Ok(Json(DocumentsDto { epoch: p.epoch, seq: p.seq, documents }))
}

#[derive(Serialize, ToSchema)]
pub struct MedalsDto {
    pub epoch: u64,
    pub seq: u64,
    /// Events whose official result is in.
    pub events: u32,
    #[schema(value_type = Vec<Object>)]
    pub rows: Vec<tessera_results::medals::Row>,
}

/// The medal table, derived from the official results (a correction moves it).
#[utoipa::path(get, path = "/api/v1/results/medals", tag = "results", responses((status = 200, body = MedalsDto)))]
pub(crate) async fn medals(State(s): State<AppState>) -> Json<MedalsDto> {
    let (p, t) = s.app.results_medals();
    Json(MedalsDto { epoch: p.epoch, seq: p.seq, events: t.events, rows: t.rows })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshBody {
    pub token: String,
}

#[derive(Serialize, ToSchema)]
pub struct TokenDto {
    pub token: String,
    /// Unix seconds.
    pub expires: i64,
}

/// A subscriber's token for another hour, given the one it holds (before that one runs out).
#[utoipa::path(post, path = "/api/v1/results/token/refresh", tag = "results", request_body = RefreshBody,
    responses((status = 200, body = TokenDto), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn refresh(
    State(s): State<AppState>,
    ApiJson(b): ApiJson<RefreshBody>,
) -> Result<Json<TokenDto>, ApiError> {
    let (token, expires) = s.app.refresh_results_token(&b.token).map_err(key_error)?;
    Ok(Json(TokenDto { token, expires: expires.0 }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceBody {
    /// The source's ODF code (`ATHOLY1`): it may publish only documents saying `Source` is this.
    pub id: String,
    /// Three-letter discipline codes it publishes for (`ATH`), or `*` for a central system.
    pub disciplines: Vec<String>,
}

/// A key for a venue's result system (operators). Shown once; it lasts 120 days.
#[utoipa::path(post, path = "/api/v1/admin/results/sources", tag = "results", request_body = SourceBody, security(("bearer" = [])),
    responses((status = 200, body = TokenDto), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn issue_source(
    State(s): State<AppState>,
    Operator(_op): Operator,
    ApiJson(b): ApiJson<SourceBody>,
) -> Result<Json<TokenDto>, ApiError> {
    let (token, expires) = s.app.issue_results_source(&b.id, &b.disciplines)?;
    Ok(Json(TokenDto { token, expires: expires.0 }))
}

/// Revoke every key issued so far to a source (a venue system lost, a key leaked): refused at
/// once on this node and within seconds on the others. A key issued after works.
#[utoipa::path(post, path = "/api/v1/admin/results/sources/{id}/revoke", operation_id = "revoke_results_source", tag = "results",
    params(("id" = String, Path, description = "The source's ODF code")), request_body = crate::gates::RevokeBody, security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn revoke_source(
    State(s): State<AppState>,
    Operator(p): Operator,
    ApiPath(id): ApiPath<String>,
    ApiJson(b): ApiJson<crate::gates::RevokeBody>,
) -> Result<StatusCode, ApiError> {
    s.app.revoke_results_source(&id, &b.reason).await?;
    tracing::info!(source = %id, operator = p.account_id.0, "results source key revoked");
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriberBody {
    /// Who it is for (`afp`, `obs-main`): letters, digits, - and _.
    pub name: String,
    /// `public`, `media`, `broadcaster` or `internal`.
    pub entitlement: String,
}

/// A subscriber's token (operators): an hour, refreshed by the subscriber itself.
#[utoipa::path(post, path = "/api/v1/admin/results/subscribers", tag = "results", request_body = SubscriberBody, security(("bearer" = [])),
    responses((status = 200, body = TokenDto), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn issue_subscriber(
    State(s): State<AppState>,
    Operator(_op): Operator,
    ApiJson(b): ApiJson<SubscriberBody>,
) -> Result<Json<TokenDto>, ApiError> {
    let e = tessera_results::Entitlement::parse(&b.entitlement).ok_or_else(|| {
        ApiError::from(tessera_app::AppError::invalid("entitlement", "one of public, media, broadcaster, internal"))
    })?;
    let (token, expires) = s.app.issue_results_subscriber(&b.name, e)?;
    Ok(Json(TokenDto { token, expires: expires.0 }))
}

/// The feed's figures with what waits in this node's WebSocket queues.
#[derive(Serialize)]
pub(crate) struct FiguresDto {
    #[serde(flatten)]
    feed: tessera_app::results::ResultsFigures,
    /// Live changes waiting in the WebSocket subscribers' queues, and their bytes (counted per
    /// queue): past a million changes every queue's bound tightens.
    waiting_changes: usize,
    waiting_bytes: usize,
}

/// The feed's figures (operators): position, documents, accepted, duplicates, refused,
/// subscribers by entitlement, cut-offs, resets, each source's last message, what waits.
#[utoipa::path(get, path = "/api/v1/admin/results", tag = "results", security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn figures(State(s): State<AppState>, Operator(_op): Operator) -> Json<FiguresDto> {
    let (waiting_changes, waiting_bytes) = waiting(&s);
    Json(FiguresDto { feed: s.app.results_figures(), waiting_changes, waiting_bytes })
}

/// The public results page: the medal table and the latest results, live.
async fn results_page(State(s): State<AppState>, MaybeAuthed(who): MaybeAuthed) -> Response {
    let body = html! {
        div.card {
            h1 { (tr("Results", "Résultats")) }
            (crate::pages::contingency_notice(&s, &[tessera_app::toc::Mode::ResultsFromLastState]))
            p.muted #r-status role="status" data-live=(tr("Live", "En direct")) data-again=(tr("Reconnecting…", "Reconnexion…")) { (tr("Connecting…", "Connexion…")) }
            h2 { (tr("Medal table", "Tableau des médailles")) }
            table #r-medals tabindex="0" { thead { tr {
                th { "#" } th { (tr("Team", "Équipe")) } th { (tr("Gold", "Or")) } th { (tr("Silver", "Argent")) } th { (tr("Bronze", "Bronze")) } th { (tr("Total", "Total")) }
            } } tbody {} }
            h2 { (tr("Latest results", "Derniers résultats")) }
            table #r-latest tabindex="0" { thead { tr {
                th { (tr("Event", "Épreuve")) } th { (tr("Status", "Statut")) } th { (tr("Podium", "Podium")) } th { (tr("Version", "Version")) }
            } } tbody {} }
        }
        script { (PreEscaped(RESULTS_JS)) }
    };
    let csrf = who.as_ref().map(|p| crate::pages::csrf_for(&s, p));
    layout(tr("Results", "Résultats"), who.as_deref(), csrf.as_deref(), s.demo, body).into_response()
}

pub(crate) const RESULTS_JS: &str = r#"
(function () {
  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
  const docs = new Map();
  function showLatest() {
    const rows = [...docs.values()].filter((c) => c.header.document_type === 'DT_RESULT').sort((a, b) => b.seq - a.seq).slice(0, 30);
    $('r-latest').tBodies[0].innerHTML = rows.map((c) => {
      const podium = ((c.body && c.body.ranked) || []).filter((r) => r.rank <= 3).map((r) => r.rank + '. ' + esc(r.organisation) + (r.name ? ' ' + esc(r.name) : '')).join(' · ');
      return '<tr><td class="mono">' + esc(c.header.document_code) + '</td><td>' + esc(c.header.result_status || '') + '</td><td>' + podium + '</td><td>' + c.header.version + '</td></tr>';
    }).join('');
  }
  async function medals() {
    const r = await fetch('/api/v1/results/medals'); if (!r.ok) return;
    const t = await r.json();
    $('r-medals').tBodies[0].innerHTML = t.rows.map((m) => '<tr><td>' + m.rank + '</td><td>' + esc(m.organisation) + '</td><td>' + m.gold + '</td><td>' + m.silver + '</td><td>' + m.bronze + '</td><td>' + (m.gold + m.silver + m.bronze) + '</td></tr>').join('');
  }
  const es = new EventSource('/api/v1/results/stream?types=DT_RESULT,DT_MEDALS');
  let pending = null;
  es.addEventListener('reset', () => { docs.clear(); });
  es.addEventListener('change', (ev) => {
    const c = JSON.parse(ev.data);
    const key = c.header.document_type + '/' + c.header.document_code;
    if (c.kind === 'withdrawn') docs.delete(key); else docs.set(key, c);
    showLatest();
    if (!pending) pending = setTimeout(() => { pending = null; medals(); }, 200);
  });
  const status = $('r-status');
  es.addEventListener('cut', () => { status.textContent = status.dataset.again; });
  es.onopen = () => { status.textContent = status.dataset.live; medals(); };
  es.onerror = () => { status.textContent = status.dataset.again; };
})();
"#;

/// The operators' view of the feed: its position, what sources sent and what became of it,
/// subscribers by entitlement, delivery times, cut-offs and resets; refreshed every 2 seconds.
async fn operator_page(State(s): State<AppState>, OperatorPage(who): OperatorPage) -> Result<Response, PageError> {
    let figure = crate::pages::console::figure;
    let body = html! {
        div.card {
            h2 { (tr("Results · distribution", "Résultats · diffusion")) }
            p.stale #stale role="status" hidden {}
            div.figures {
                (figure(tr("Position", "Position"), "r-seq"))
                (figure(tr("Documents", "Documents"), "r-docs"))
                (figure(tr("Accepted", "Acceptés"), "r-accepted"))
                (figure(tr("Duplicates", "Doublons"), "r-dups"))
                (figure(tr("Refused", "Refusés"), "r-refused"))
                (figure(tr("Subscribers", "Abonnés"), "r-subs"))
                (figure(tr("Delivery p50 (ms)", "Livraison p50 (ms)"), "r-p50"))
                (figure(tr("Delivery p99 (ms)", "Livraison p99 (ms)"), "r-p99"))
                (figure(tr("Cut off (too slow)", "Coupés (trop lents)"), "r-cut"))
                (figure(tr("Gaps recovered by reset", "Écarts rattrapés par reprise"), "r-resets"))
                (figure(tr("Waiting in subscribers' queues", "En attente chez les abonnés"), "r-waiting"))
            }
            h3 { (tr("Changes and deliveries per second, last 10 minutes", "Changements et livraisons par seconde, 10 dernières minutes")) }
            div.chart #r-chart {}
            h3 { (tr("Subscribers by entitlement", "Abonnés par droit")) }
            table #r-ent tabindex="0" { thead { tr { th { (tr("Entitlement", "Droit")) } th { (tr("Connected", "Connectés")) } } } tbody {} }
            h3 { (tr("Sources", "Sources")) }
            table #r-sources tabindex="0" { thead { tr {
                th { (tr("Source", "Source")) } th { (tr("Last message", "Dernier message")) } th { (tr("Accepted", "Acceptés")) }
                th { (tr("Duplicates", "Doublons")) } th { (tr("Refused", "Refusés")) }
            } } tbody {} }
            h3 { (tr("Revoke a source's keys", "Révoquer les clés d’une source")) }
            p.muted { (tr("A venue system lost or a key leaked: every key issued to the source so far is refused at once; issue it a new one.", "Un système de site perdu ou une clé divulguée : toutes les clés émises jusqu’ici pour la source sont refusées aussitôt ; émettez-en une nouvelle.")) }
            form #r-revoke { input name="source" placeholder=(tr("source code (ATHOLY1)", "code de la source (ATHOLY1)")) aria-label=(tr("source code", "code de la source")) required; input name="reason" placeholder=(tr("reason", "motif")) aria-label=(tr("reason", "motif")) required; button.danger { (tr("Revoke", "Révoquer")) } }
            p #r-revoke-msg role="status" {}
        }
        (crate::pages::console::head())
        script { (PreEscaped(OPERATOR_JS)) }
    };
    Ok(layout(tr("Results", "Résultats"), Some(&who), None, s.demo, body).into_response())
}

pub(crate) const OPERATOR_JS: &str = r#"
(function () {
  const { $, esc, T, poll, timeChart, rolling } = window.TesseraConsole;
  const chart = timeChart('r-chart', [{ label: T('changes/s', 'changements/s'), color: '#1f4e9c' }, { label: T('deliveries/s', 'livraisons/s'), color: '#2e7d32' }], '/s', { windowSecs: 600 });
  const series = rolling(300, 2);
  let last = null;
  poll('/api/v1/admin/results', 2000, (o) => {
    const now = Date.now() / 1000;
    if (last) {
      const dt = Math.max(0.001, now - last.t);
      series.push(now, [Math.max(0, (o.accepted - last.accepted) / dt), Math.max(0, (o.delivered - last.delivered) / dt)]);
      chart.set(series.times, series.cols);
    }
    last = { t: now, accepted: o.accepted, delivered: o.delivered };
    const subs = Object.values(o.connected).reduce((a, b) => a + b, 0);
    $('r-seq').textContent = o.seq.toLocaleString();
    $('r-docs').textContent = o.documents.toLocaleString();
    $('r-accepted').textContent = o.accepted.toLocaleString();
    $('r-dups').textContent = o.duplicates.toLocaleString();
    $('r-refused').textContent = o.refused.toLocaleString();
    $('r-subs').textContent = subs.toLocaleString();
    $('r-p50').textContent = o.delivery_p50_ms == null ? '–' : o.delivery_p50_ms.toLocaleString();
    $('r-p99').textContent = o.delivery_p99_ms == null ? '–' : o.delivery_p99_ms.toLocaleString();
    $('r-cut').textContent = o.cut_off.toLocaleString();
    $('r-resets').textContent = o.resets.toLocaleString();
    $('r-waiting').textContent = o.waiting_changes.toLocaleString();
    $('r-ent').tBodies[0].innerHTML = Object.entries(o.connected).map(([k, v]) => '<tr><td>' + esc(k) + '</td><td>' + v.toLocaleString() + '</td></tr>').join('');
    $('r-sources').tBodies[0].innerHTML = Object.entries(o.sources).map(([k, v]) => '<tr><td class="mono">' + esc(k) + '</td><td>' +
      (v.last_ms ? new Date(v.last_ms).toLocaleTimeString() : '–') + '</td><td>' + v.accepted.toLocaleString() + '</td><td>' +
      v.duplicates.toLocaleString() + '</td><td>' + v.refused.toLocaleString() + '</td></tr>').join('');
  });
  $('r-revoke').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const f = new FormData(ev.target);
    const r = await fetch('/api/v1/admin/results/sources/' + encodeURIComponent(f.get('source')) + '/revoke', { method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ reason: f.get('reason') }) });
    const v = await r.json().catch(() => ({}));
    $('r-revoke-msg').textContent = r.ok ? T('Revoked: the source needs a new key.', 'Révoquée : la source a besoin d’une nouvelle clé.') : ((v.error && v.error.message) || T('failed', 'échec'));
  });
})();
"#;
