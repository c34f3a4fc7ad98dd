//! The JSON API under `/api/v1`. Handlers extract, call a use case, map the answer.

use crate::error::{ApiError, ErrorBody};
use crate::extract::{Admitted, ApiJson, ApiPath, ApiQuery, Authed, Operator};
use crate::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tessera_app::sale::CheckoutRequest;
use tessera_domain::{CartId, CategoryId, Timestamp};
use tessera_payments::Card;
use tessera_store::{PhaseSettings, SessionFilter};
use utoipa::{IntoParams, OpenApi, ToSchema};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/accounts", post(register))
        .route("/api/v1/accounts/verify", post(verify_email))
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/logout", post(logout))
        .route("/api/v1/auth/password-reset", post(request_reset))
        .route("/api/v1/auth/password-reset/confirm", post(confirm_reset))
        .route("/api/v1/me", get(me))
        .route("/api/v1/sessions", get(list_sessions))
        .route("/api/v1/sessions/{code}", get(session))
        .route("/api/v1/phases", get(list_phases))
        .route("/api/v1/phases/{code}", get(phase))
        .route("/api/v1/phases/{code}/commitment.json", get(commitment_file))
        .route("/api/v1/phases/{code}/entries.txt", get(entries_file))
        .route("/api/v1/phases/{code}/result.json", get(result_file))
        .route("/api/v1/phases/{code}/entry", post(enter_lottery))
        .route("/api/v1/phases/{code}/me", get(my_phase))
        .route("/api/v1/phases/{code}/cart", get(cart))
        .route("/api/v1/phases/{code}/cart/items", post(add_to_cart))
        .route("/api/v1/phases/{code}/cart/items/{category_id}", delete(remove_from_cart))
        .route("/api/v1/phases/{code}/checkout", post(checkout))
        .route("/api/v1/phases/{code}/orders", post(buy_now))
        .route("/api/v1/orders", get(orders))
        .route("/api/v1/admin/phases", post(create_phase))
        .route("/api/v1/admin/phases/{code}/open", post(open_phase))
        .route("/api/v1/admin/phases/{code}/close", post(close_phase))
        .route("/api/v1/admin/phases/{code}/draw", post(draw_phase))
        .route("/api/v1/admin/sales", get(sales))
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Tessera API", version = "1", description = "The official ticket shop of a mega-event: accounts, the verifiable lottery, purchase slots, carts and checkout."),
    paths(register, verify_email, login, logout, request_reset, confirm_reset, me, list_sessions, session,
          list_phases, phase, commitment_file, entries_file, result_file, enter_lottery, my_phase, cart,
          add_to_cart, remove_from_cart, checkout, buy_now, orders, create_phase, open_phase, close_phase, draw_phase, sales,
          crate::queue::requirements, crate::queue::join, crate::queue::status, crate::queue::events,
          crate::queue::airlock_figures, crate::queue::configure, crate::queue::remove, crate::queue::decisions,
          crate::queue::decide, crate::queue::revoke,
          crate::wallet::wallet, crate::wallet::activate, crate::wallet::offer_transfer, crate::wallet::transfers,
          crate::wallet::cancel_transfer, crate::wallet::accept_transfer, crate::wallet::list_for_resale,
          crate::wallet::cancel_listing, crate::wallet::listings, crate::wallet::buy_resale,
          crate::gates::bundle, crate::gates::sync, crate::gates::enroll, crate::gates::bundle_key,
          crate::gates::overview, crate::gates::annul, crate::gates::revoke, crate::payments::overview, crate::payments::reconcile,
          crate::security::recent),
    components(schemas(ErrorBody)),
    modifiers(&BearerAuth, &CommonResponses),
    tags((name = "accounts"), (name = "catalogue"), (name = "lottery"), (name = "waiting room"), (name = "purchase"), (name = "tickets"), (name = "gates"), (name = "operators"))
)]
pub struct ApiDoc;

struct BearerAuth;
impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The answers any operation may give besides its own, added to every operation so that the
/// document lists every status a client can meet: the edge may refuse any request (403
/// `blocked`, 429 rate limits, 431 an over-large head), any request may time out (408) or meet
/// a store fault (503); a body may be malformed (400), too large (413), of another type (415)
/// or of the wrong shape (422); a path parameter may be malformed (400) or name nothing (404);
/// a query may be malformed (400); a bearer route refuses a missing or bad sign-in (401).
/// An operation's own description of a status is kept.
struct CommonResponses;
impl utoipa::Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::ParameterIn;
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let error = |why: &str| {
            ResponseBuilder::new()
                .description(why)
                .content(
                    "application/json",
                    ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build(),
                )
                .build()
        };
        for item in openapi.paths.paths.values_mut() {
            let ops = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
            for op in ops.into_iter().flatten() {
                let params = op.parameters.as_deref().unwrap_or_default();
                let in_path = params.iter().any(|p| matches!(p.parameter_in, ParameterIn::Path));
                let in_query = params.iter().any(|p| matches!(p.parameter_in, ParameterIn::Query));
                let mut add: Vec<(&str, &str)> = vec![
                    ("403", "refused: not allowed, or blocked at the edge"),
                    ("408", "the request took too long"),
                    ("429", "too many requests; see Retry-After"),
                    ("431", "the request head is too large"),
                    ("503", "the store is unavailable; see Retry-After"),
                ];
                if op.request_body.is_some() {
                    add.extend([
                        ("400", "the body is not valid JSON"),
                        ("413", "the body is too large"),
                        ("415", "the body is not JSON"),
                        ("422", "the body is not of the expected shape"),
                    ]);
                }
                if in_path {
                    add.extend([("400", "a path parameter is malformed"), ("404", "not found")]);
                }
                if in_query {
                    add.push(("400", "the query is malformed"));
                }
                if op.security.is_some() {
                    add.push(("401", "sign in first (or the token is invalid)"));
                }
                for (status, why) in add {
                    op.responses.responses.entry(status.to_string()).or_insert_with(|| error(why).into());
                }
            }
        }
    }
}

type ApiResult<T> = Result<T, ApiError>;

// ---- accounts ---------------------------------------------------------------------------

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterBody {
    pub email: String,
    /// At least 10 characters; long passphrases welcome.
    pub password: String,
    pub display_name: String,
}

#[derive(Serialize, ToSchema)]
pub struct AccountDto {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub role: String,
    pub email_verified: bool,
}

impl From<&tessera_store::Account> for AccountDto {
    fn from(a: &tessera_store::Account) -> Self {
        AccountDto {
            id: a.id.0,
            email: a.email.to_string(),
            display_name: a.display_name.clone(),
            role: a.role.as_str().into(),
            email_verified: a.email_verified,
        }
    }
}

/// Register a fan account; a confirmation link is mailed. The answer is the same for an
/// address that already has an account (its owner is mailed instead), so that it does not
/// tell who is a customer.
#[utoipa::path(post, path = "/api/v1/accounts", tag = "accounts", request_body = RegisterBody,
    responses((status = 202, body = RegisteredDto), (status = 422, body = ErrorBody)))]
async fn register(State(s): State<AppState>, ApiJson(b): ApiJson<RegisterBody>) -> ApiResult<impl IntoResponse> {
    let r = s.app.register(&b.email, &b.password, &b.display_name).await?;
    Ok((StatusCode::ACCEPTED, Json(RegisteredDto { email: r.email().to_string(), next: "confirm_email".into() })))
}

#[derive(Serialize, ToSchema)]
pub struct RegisteredDto {
    /// The address, normalised, to which the confirmation link was mailed.
    pub email: String,
    /// What to do next: `confirm_email` (open the link in the mail, then sign in).
    pub next: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    pub token: String,
}

/// Confirm an email address with the token from the mail.
#[utoipa::path(post, path = "/api/v1/accounts/verify", tag = "accounts", request_body = TokenBody,
    responses((status = 204), (status = 400, body = ErrorBody)))]
async fn verify_email(State(s): State<AppState>, ApiJson(b): ApiJson<TokenBody>) -> ApiResult<StatusCode> {
    s.app.verify_email(&b.token).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    pub email: String,
    pub password: String,
    /// The `device` token an earlier sign-in to this account returned: this device's attempts
    /// then draw on a budget of their own, which strangers' failed guesses cannot exhaust.
    #[serde(default)]
    pub device: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct LoginDto {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    pub expires_at: String,
    pub account: AccountDto,
    /// Keep it and send it with the next sign-in (see `LoginBody::device`).
    pub device: String,
}

/// Sign in; returns a bearer token. After a few failures on one account each attempt must wait
/// longer (429 `signin_throttled`, with `Retry-After`), from whatever address it comes, except
/// from a device that signed in to it before and sends its `device` token.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "accounts", request_body = LoginBody,
    responses((status = 200, body = LoginDto), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn login(State(s): State<AppState>, ApiJson(b): ApiJson<LoginBody>) -> ApiResult<Json<LoginDto>> {
    let signed = s.app.login_from(&b.email, &b.password, b.device.as_deref()).await?;
    Ok(Json(LoginDto {
        token: signed.token,
        expires_at: signed.expires_at.to_rfc3339(),
        account: AccountDto::from(&signed.account),
        device: signed.device,
    }))
}

/// End this sign-in session.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "accounts", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody)))]
async fn logout(State(s): State<AppState>, Authed(p): Authed) -> ApiResult<StatusCode> {
    s.app.logout(&p).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequestBody {
    pub email: String,
}

/// Mail a password-reset link, if the address has an account (the answer is the same either way).
#[utoipa::path(post, path = "/api/v1/auth/password-reset", tag = "accounts", request_body = ResetRequestBody,
    responses((status = 202)))]
async fn request_reset(State(s): State<AppState>, ApiJson(b): ApiJson<ResetRequestBody>) -> ApiResult<StatusCode> {
    s.app.request_password_reset(&b.email).await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetConfirmBody {
    pub token: String,
    pub password: String,
}

/// Set a new password with the token from the reset mail; signs out every session.
#[utoipa::path(post, path = "/api/v1/auth/password-reset/confirm", tag = "accounts", request_body = ResetConfirmBody,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn confirm_reset(State(s): State<AppState>, ApiJson(b): ApiJson<ResetConfirmBody>) -> ApiResult<StatusCode> {
    s.app.reset_password(&b.token, &b.password).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct MeDto {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub role: String,
    pub email_verified: bool,
}

/// Who am I?
#[utoipa::path(get, path = "/api/v1/me", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, body = MeDto), (status = 401, body = ErrorBody)))]
async fn me(Authed(p): Authed) -> Json<MeDto> {
    Json(MeDto {
        id: p.account_id.0,
        email: p.email.to_string(),
        display_name: p.display_name.clone(),
        role: p.role.as_str().into(),
        email_verified: p.email_verified,
    })
}

// ---- catalogue --------------------------------------------------------------------------

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SessionQuery {
    /// Words found (case aside) in the title, sport, code, venue or city.
    pub q: Option<String>,
    pub sport: Option<String>,
    /// A venue's code.
    pub venue: Option<String>,
    /// Sessions starting at or after this instant (RFC 3339).
    pub from: Option<String>,
    /// Sessions starting before this instant (RFC 3339).
    pub until: Option<String>,
    /// Sessions with a price category at or under this price, in cents.
    pub max_price_cents: Option<i64>,
    /// Only sessions with seats left.
    #[serde(default)]
    pub available: bool,
    /// 1 to 1000, default 100.
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct SessionDto {
    pub code: String,
    pub sport: String,
    pub title: String,
    pub venue_code: String,
    pub venue_name: String,
    pub city: String,
    pub starts_at: String,
    pub ends_at: String,
    pub ceremony: bool,
    pub quota: i64,
    pub available: i64,
    pub min_price_cents: i64,
}

impl From<&tessera_store::SessionSummary> for SessionDto {
    fn from(s: &tessera_store::SessionSummary) -> Self {
        SessionDto {
            code: s.code.clone(),
            sport: s.sport.clone(),
            title: s.title.clone(),
            venue_code: s.venue_code.clone(),
            venue_name: s.venue_name.clone(),
            city: s.city.clone(),
            starts_at: s.starts_at.to_rfc3339(),
            ends_at: s.ends_at.to_rfc3339(),
            ceremony: s.ceremony,
            quota: s.quota,
            available: s.available,
            min_price_cents: s.min_price.0,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CategoryDto {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub price_cents: i64,
    pub quota: i64,
    pub available: i64,
}

#[derive(Serialize, ToSchema)]
pub struct SessionDetailDto {
    #[serde(flatten)]
    pub session: SessionDto,
    pub entrances: Vec<String>,
    pub categories: Vec<CategoryDto>,
}

/// Sessions with live availability.
#[utoipa::path(get, path = "/api/v1/sessions", tag = "catalogue", params(SessionQuery),
    responses((status = 200, body = [SessionDto]), (status = 400, body = ErrorBody)))]
async fn list_sessions(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<SessionQuery>,
) -> ApiResult<Json<Vec<SessionDto>>> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) || q.offset.is_some_and(|o| o < 0) {
        return Err(ApiError::bad_request("invalid_query", "limit must be 1 to 1000 and offset not negative"));
    }
    let instant = |name: &str, v: Option<String>| -> ApiResult<Option<tessera_domain::Timestamp>> {
        v.map(|t| {
            tessera_domain::Timestamp::parse_rfc3339(&t).map_err(|_| {
                ApiError::bad_request("invalid_query", format!("{name} must be an RFC 3339 instant, got {t:?}"))
            })
        })
        .transpose()
    };
    if q.max_price_cents.is_some_and(|p| p < 0) || q.q.as_ref().is_some_and(|t| t.chars().count() > 100) {
        return Err(ApiError::bad_request(
            "invalid_query",
            "max_price_cents must not be negative and q at most 100 characters",
        ));
    }
    let f = SessionFilter {
        sport: q.sport,
        venue: q.venue,
        available_only: q.available,
        from: instant("from", q.from)?,
        until: instant("until", q.until)?,
        max_price: q.max_price_cents.map(tessera_domain::Cents),
        text: q.q.filter(|t| !t.trim().is_empty()),
        limit,
        offset: q.offset.unwrap_or(0),
    };
    let list = s.app.store.list_sessions(&f).await?;
    Ok(Json(list.iter().map(SessionDto::from).collect()))
}

/// One session, its entrances and its price categories with seats left.
#[utoipa::path(get, path = "/api/v1/sessions/{code}", tag = "catalogue", params(("code" = String, Path)),
    responses((status = 200, body = SessionDetailDto), (status = 404, body = ErrorBody)))]
async fn session(State(s): State<AppState>, ApiPath(code): ApiPath<String>) -> ApiResult<Json<SessionDetailDto>> {
    let d = s.app.store.session(&code).await?.ok_or_else(|| ApiError::not_found(&format!("session {code}")))?;
    Ok(Json(SessionDetailDto {
        session: SessionDto::from(&d.summary),
        entrances: d.zones.clone(),
        categories: d
            .categories
            .iter()
            .map(|c| CategoryDto {
                id: c.id.0,
                code: c.code.clone(),
                name: c.name.clone(),
                price_cents: c.price.0,
                quota: c.quota,
                available: c.available,
            })
            .collect(),
    }))
}

// ---- phases and the lottery -------------------------------------------------------------

#[derive(Serialize, ToSchema)]
pub struct PhaseDto {
    pub code: String,
    pub name: String,
    /// draft, registration, closed or drawn.
    pub status: String,
    pub entries: i64,
    pub seed_sha256: Option<String>,
    pub entries_sha256: Option<String>,
    pub registration_opened_at: Option<String>,
    pub registration_closed_at: Option<String>,
    pub drawn_at: Option<String>,
    pub max_tickets_per_account: i64,
    pub max_tickets_per_session: i64,
    pub max_tickets_per_ceremony: i64,
    pub min_sessions_per_order: i64,
    pub cart_minutes: i64,
    pub slot_hours: i64,
}

impl From<&tessera_store::Phase> for PhaseDto {
    fn from(p: &tessera_store::Phase) -> Self {
        let t = |t: Option<Timestamp>| t.map(|t| t.to_rfc3339());
        PhaseDto {
            code: p.code.clone(),
            name: p.name.clone(),
            status: p.status.as_str().into(),
            entries: p.entries,
            seed_sha256: p.seed_sha256.clone(),
            entries_sha256: p.entries_sha256.clone(),
            registration_opened_at: t(p.registration_opened_at),
            registration_closed_at: t(p.registration_closed_at),
            drawn_at: t(p.drawn_at),
            max_tickets_per_account: p.settings.caps.per_account,
            max_tickets_per_session: p.settings.caps.per_session,
            max_tickets_per_ceremony: p.settings.caps.per_ceremony,
            min_sessions_per_order: p.settings.caps.min_sessions_per_order,
            cart_minutes: p.settings.cart_ttl_secs / 60,
            slot_hours: p.settings.slot_secs / 3600,
        }
    }
}

/// Every sales phase.
#[utoipa::path(get, path = "/api/v1/phases", tag = "lottery", responses((status = 200, body = [PhaseDto])))]
async fn list_phases(State(s): State<AppState>) -> ApiResult<Json<Vec<PhaseDto>>> {
    Ok(Json(s.app.store.list_phases().await?.iter().map(PhaseDto::from).collect()))
}

/// One sales phase.
#[utoipa::path(get, path = "/api/v1/phases/{code}", tag = "lottery", params(("code" = String, Path)),
    responses((status = 200, body = PhaseDto), (status = 404, body = ErrorBody)))]
async fn phase(State(s): State<AppState>, ApiPath(code): ApiPath<String>) -> ApiResult<Json<PhaseDto>> {
    Ok(Json(PhaseDto::from(&s.app.phase(&code).await?)))
}

/// The seed commitment, published when registration opened.
#[utoipa::path(get, path = "/api/v1/phases/{code}/commitment.json", tag = "lottery", params(("code" = String, Path)),
    responses((status = 200, description = "commitment.json"), (status = 409, body = ErrorBody)))]
async fn commitment_file(State(s): State<AppState>, ApiPath(code): ApiPath<String>) -> ApiResult<impl IntoResponse> {
    let p = s.app.publication(&code).await?;
    Ok(Json(p.commitment))
}

/// The frozen entry list, published when registration closed.
#[utoipa::path(get, path = "/api/v1/phases/{code}/entries.txt", tag = "lottery", params(("code" = String, Path)),
    responses((status = 200, description = "entries.txt, one entry code per line, sorted"), (status = 409, body = ErrorBody)))]
async fn entries_file(State(s): State<AppState>, ApiPath(code): ApiPath<String>) -> ApiResult<impl IntoResponse> {
    let p = s.app.publication(&code).await?;
    let text =
        p.entries.ok_or_else(|| ApiError::new(StatusCode::CONFLICT, "not_published", "registration is still open"))?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text))
}

/// The revealed seed and the order of every entry, published at the draw.
#[utoipa::path(get, path = "/api/v1/phases/{code}/result.json", tag = "lottery", params(("code" = String, Path)),
    responses((status = 200, description = "result.json"), (status = 409, body = ErrorBody)))]
async fn result_file(State(s): State<AppState>, ApiPath(code): ApiPath<String>) -> ApiResult<impl IntoResponse> {
    let p = s.app.publication(&code).await?;
    let r = p
        .result
        .ok_or_else(|| ApiError::new(StatusCode::CONFLICT, "not_published", "the draw has not happened yet"))?;
    Ok(Json(r))
}

#[derive(Serialize, ToSchema)]
pub struct EntryDto {
    /// Find it in the published entries.txt and result.json.
    pub entry_code: String,
    pub entered_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct SlotDto {
    pub rank: i64,
    pub wave: i64,
    pub starts_at: String,
    pub ends_at: String,
    pub open_now: bool,
}

#[derive(Serialize, ToSchema)]
pub struct MyPhaseDto {
    pub phase: PhaseDto,
    pub entry: Option<EntryDto>,
    pub slot: Option<SlotDto>,
}

/// Enter the phase's lottery (once per account; entering again returns the same entry).
#[utoipa::path(post, path = "/api/v1/phases/{code}/entry", tag = "lottery", params(("code" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = EntryDto), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn enter_lottery(
    State(s): State<AppState>,
    Authed(p): Authed,
    ApiPath(code): ApiPath<String>,
) -> ApiResult<Json<EntryDto>> {
    let e = s.app.enter_lottery(&p, &code).await?;
    Ok(Json(EntryDto { entry_code: e.entry_code, entered_at: e.created_at.to_rfc3339() }))
}

/// My entry and purchase slot in a phase.
#[utoipa::path(get, path = "/api/v1/phases/{code}/me", tag = "lottery", params(("code" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = MyPhaseDto), (status = 404, body = ErrorBody)))]
async fn my_phase(
    State(s): State<AppState>,
    Authed(p): Authed,
    ApiPath(code): ApiPath<String>,
) -> ApiResult<Json<MyPhaseDto>> {
    let phase = s.app.phase(&code).await?;
    let entry = s.app.store.entry(phase.id, p.account_id).await?;
    let slot = s.app.store.slot(phase.id, p.account_id).await?;
    let now = s.app.now();
    Ok(Json(MyPhaseDto {
        phase: PhaseDto::from(&phase),
        entry: entry.map(|e| EntryDto { entry_code: e.entry_code, entered_at: e.created_at.to_rfc3339() }),
        slot: slot.map(|sl| SlotDto {
            rank: sl.rank,
            wave: sl.wave,
            starts_at: sl.starts_at.to_rfc3339(),
            ends_at: sl.ends_at.to_rfc3339(),
            open_now: sl.is_open(now),
        }),
    }))
}

// ---- purchase ---------------------------------------------------------------------------

#[derive(Serialize, ToSchema)]
pub struct CartLineDto {
    pub category_id: i64,
    pub category_code: String,
    pub category_name: String,
    pub session_code: String,
    pub session_title: String,
    pub unit_price_cents: i64,
    pub quantity: i64,
}

#[derive(Serialize, ToSchema)]
pub struct CartDto {
    pub id: i64,
    /// open or paying.
    pub status: String,
    /// The seats are released at this instant unless paid.
    pub expires_at: String,
    pub total_cents: i64,
    pub lines: Vec<CartLineDto>,
}

impl From<&tessera_store::Cart> for CartDto {
    fn from(c: &tessera_store::Cart) -> Self {
        CartDto {
            id: c.id.0,
            status: c.status.as_str().into(),
            expires_at: c.expires_at.to_rfc3339(),
            total_cents: c.total().0,
            lines: c
                .lines
                .iter()
                .map(|l| CartLineDto {
                    category_id: l.category_id.0,
                    category_code: l.category_code.clone(),
                    category_name: l.category_name.clone(),
                    session_code: l.session_code.clone(),
                    session_title: l.session_title.clone(),
                    unit_price_cents: l.unit_price.0,
                    quantity: l.qty,
                })
                .collect(),
        }
    }
}

/// My live cart in the phase, if any.
#[utoipa::path(get, path = "/api/v1/phases/{code}/cart", tag = "purchase", params(("code" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = CartDto), (status = 404, body = ErrorBody)))]
async fn cart(
    State(s): State<AppState>,
    Authed(p): Authed,
    ApiPath(code): ApiPath<String>,
) -> ApiResult<Json<CartDto>> {
    let c = s.app.cart(&p, &code).await?.ok_or_else(|| ApiError::not_found("cart"))?;
    Ok(Json(CartDto::from(&c)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddItemBody {
    pub category_id: i64,
    /// 1 or more; caps apply.
    pub quantity: i64,
}

/// Hold seats in my cart (inside my purchase slot, within the caps).
#[utoipa::path(post, path = "/api/v1/phases/{code}/cart/items", tag = "purchase", params(("code" = String, Path)),
    request_body = AddItemBody, security(("bearer" = [])),
    responses((status = 200, body = CartDto), (status = 403, body = ErrorBody, description = "outside the slot, or `not_admitted` by the waiting room"), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn add_to_cart(
    State(s): State<AppState>,
    Admitted(p): Admitted,
    ApiPath(code): ApiPath<String>,
    ApiJson(b): ApiJson<AddItemBody>,
) -> ApiResult<Json<CartDto>> {
    let c = s.app.add_to_cart(&p, &code, CategoryId(b.category_id), b.quantity).await?;
    Ok(Json(CartDto::from(&c)))
}

/// Give back the seats of one category.
#[utoipa::path(delete, path = "/api/v1/phases/{code}/cart/items/{category_id}", tag = "purchase",
    params(("code" = String, Path), ("category_id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = CartDto), (status = 404, body = ErrorBody)))]
async fn remove_from_cart(
    State(s): State<AppState>,
    Authed(p): Authed,
    ApiPath((code, category)): ApiPath<(String, i64)>,
) -> ApiResult<Json<CartDto>> {
    let c = s.app.cart(&p, &code).await?.ok_or_else(|| ApiError::not_found("cart"))?;
    let c = s.app.remove_from_cart(&p, c.id, CategoryId(category)).await?;
    Ok(Json(CartDto::from(&c)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CardBody {
    /// Sandbox test cards: see the payments crate's README.
    pub number: String,
    pub exp_month: u32,
    pub exp_year: u32,
    pub cvc: String,
    pub holder: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutBody {
    pub cart_id: i64,
    pub card: CardBody,
}

#[derive(Serialize, ToSchema)]
pub struct TicketDto {
    pub code: String,
    pub session_code: String,
    pub session_title: String,
    pub venue: String,
    pub starts_at: String,
    pub category: String,
    pub price_cents: i64,
}

#[derive(Serialize, ToSchema)]
pub struct OrderDto {
    pub code: String,
    pub total_cents: i64,
    pub created_at: String,
    pub tickets: Vec<TicketDto>,
}

impl From<&tessera_store::Order> for OrderDto {
    fn from(o: &tessera_store::Order) -> Self {
        OrderDto {
            code: o.code.clone(),
            total_cents: o.total.0,
            created_at: o.created_at.to_rfc3339(),
            tickets: o
                .tickets
                .iter()
                .map(|t| TicketDto {
                    code: t.code.clone(),
                    session_code: t.session_code.clone(),
                    session_title: t.session_title.clone(),
                    venue: t.venue_name.clone(),
                    starts_at: t.starts_at.to_rfc3339(),
                    category: t.category_name.clone(),
                    price_cents: t.price.0,
                })
                .collect(),
        }
    }
}

/// Pay for the cart. Requires an `Idempotency-Key` header: retrying with the same key and body
/// never charges or issues twice; the same key with another body is refused.
#[utoipa::path(post, path = "/api/v1/phases/{code}/checkout", tag = "purchase",
    params(("code" = String, Path), ("Idempotency-Key" = String, Header, description = "1-64 of [A-Za-z0-9_-], one per purchase attempt")),
    request_body = CheckoutBody, security(("bearer" = [])),
    responses((status = 201, body = OrderDto), (status = 402, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 410, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn checkout(
    State(s): State<AppState>,
    Admitted(p): Admitted,
    ApiPath(code): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(b): ApiJson<CheckoutBody>,
) -> ApiResult<impl IntoResponse> {
    let req = CheckoutRequest {
        cart: CartId(b.cart_id),
        idempotency_key: idempotency_key(&headers)?.to_string(),
        card: b.card.into(),
    };
    let order = s.app.checkout(&p, &code, &req).await?;
    metrics::counter!("tessera_orders_paid_total").increment(1);
    Ok((StatusCode::CREATED, Json(OrderDto::from(&order))))
}

fn idempotency_key(headers: &HeaderMap) -> ApiResult<&str> {
    headers.get("idempotency-key").and_then(|v| v.to_str().ok()).ok_or_else(|| {
        ApiError::bad_request("idempotency_key_missing", "send an Idempotency-Key header with each purchase")
    })
}

impl From<CardBody> for Card {
    fn from(c: CardBody) -> Card {
        Card { number: c.number, exp_month: c.exp_month, exp_year: c.exp_year, cvc: c.cvc, holder: c.holder }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BuyNowBody {
    /// 1 to 10 items; they join what the cart already holds, and the whole cart is paid.
    pub items: Vec<AddItemBody>,
    pub card: CardBody,
}

/// Buy now: hold the seats and pay in one request (inside my slot, within the caps). Requires an
/// `Idempotency-Key` header: a retry with the same key and body never charges or issues twice.
#[utoipa::path(post, path = "/api/v1/phases/{code}/orders", tag = "purchase",
    params(("code" = String, Path), ("Idempotency-Key" = String, Header, description = "1-64 of [A-Za-z0-9_-], one per purchase attempt")),
    request_body = BuyNowBody, security(("bearer" = [])),
    responses((status = 201, body = OrderDto), (status = 402, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn buy_now(
    State(s): State<AppState>,
    Admitted(p): Admitted,
    ApiPath(code): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(b): ApiJson<BuyNowBody>,
) -> ApiResult<impl IntoResponse> {
    let key = idempotency_key(&headers)?;
    let items: Vec<(CategoryId, i64)> = b.items.iter().map(|i| (CategoryId(i.category_id), i.quantity)).collect();
    let order = s.app.buy_now(&p, &code, &items, key, &b.card.into()).await?;
    metrics::counter!("tessera_orders_paid_total").increment(1);
    Ok((StatusCode::CREATED, Json(OrderDto::from(&order))))
}

/// My paid orders and their tickets.
#[utoipa::path(get, path = "/api/v1/orders", tag = "purchase", security(("bearer" = [])),
    responses((status = 200, body = [OrderDto]), (status = 401, body = ErrorBody)))]
async fn orders(State(s): State<AppState>, Authed(p): Authed) -> ApiResult<Json<Vec<OrderDto>>> {
    Ok(Json(s.app.orders(&p).await?.iter().map(OrderDto::from).collect()))
}

// ---- operators --------------------------------------------------------------------------

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePhaseBody {
    pub code: String,
    pub name: String,
    pub max_tickets_per_account: Option<i64>,
    pub max_tickets_per_session: Option<i64>,
    pub max_tickets_per_ceremony: Option<i64>,
    pub min_sessions_per_order: Option<i64>,
    pub cart_minutes: Option<i64>,
    pub slot_hours: Option<i64>,
    pub wave_size: Option<i64>,
    pub wave_interval_hours: Option<i64>,
    pub announce_ahead_hours: Option<i64>,
    pub winners: Option<i64>,
}

impl CreatePhaseBody {
    pub fn settings(&self) -> PhaseSettings {
        let d = PhaseSettings::default();
        PhaseSettings {
            caps: tessera_domain::caps::Caps {
                per_account: self.max_tickets_per_account.unwrap_or(d.caps.per_account),
                per_session: self.max_tickets_per_session.unwrap_or(d.caps.per_session),
                per_ceremony: self.max_tickets_per_ceremony.unwrap_or(d.caps.per_ceremony),
                min_sessions_per_order: self.min_sessions_per_order.unwrap_or(d.caps.min_sessions_per_order),
            },
            cart_ttl_secs: self.cart_minutes.map_or(d.cart_ttl_secs, |m| m.saturating_mul(60)),
            slot_secs: self.slot_hours.map_or(d.slot_secs, |h| h.saturating_mul(3600)),
            wave_size: self.wave_size.unwrap_or(d.wave_size),
            wave_interval_secs: self.wave_interval_hours.map_or(d.wave_interval_secs, |h| h.saturating_mul(3600)),
            announce_ahead_secs: self.announce_ahead_hours.map_or(d.announce_ahead_secs, |h| h.saturating_mul(3600)),
            winners: self.winners,
        }
    }
}

/// Create a sales phase (operators).
#[utoipa::path(post, path = "/api/v1/admin/phases", tag = "operators", request_body = CreatePhaseBody, security(("bearer" = [])),
    responses((status = 201, body = PhaseDto), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_phase(
    State(s): State<AppState>,
    Operator(_op): Operator,
    ApiJson(b): ApiJson<CreatePhaseBody>,
) -> ApiResult<impl IntoResponse> {
    let p = s.app.create_phase(&b.code, &b.name, &b.settings()).await?;
    Ok((StatusCode::CREATED, Json(PhaseDto::from(&p))))
}

/// Open registration: publishes the seed commitment (operators).
#[utoipa::path(post, path = "/api/v1/admin/phases/{code}/open", tag = "operators", params(("code" = String, Path)), security(("bearer" = [])),
    responses((status = 200, description = "commitment.json"), (status = 409, body = ErrorBody)))]
async fn open_phase(
    State(s): State<AppState>,
    Operator(_op): Operator,
    ApiPath(code): ApiPath<String>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(s.app.open_registration(&code).await?))
}

/// Close registration: freezes and publishes the entry list (operators).
#[utoipa::path(post, path = "/api/v1/admin/phases/{code}/close", tag = "operators", params(("code" = String, Path)), security(("bearer" = [])),
    responses((status = 200, description = "entries.txt"), (status = 409, body = ErrorBody)))]
async fn close_phase(
    State(s): State<AppState>,
    Operator(_op): Operator,
    ApiPath(code): ApiPath<String>,
) -> ApiResult<impl IntoResponse> {
    let text = s.app.close_registration(&code).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct DrawBody {
    /// When the first wave of slots opens (RFC 3339); default: now + the phase's announce time.
    pub first_wave_at: Option<String>,
}

/// Draw: reveals the seed, assigns slots, notifies every entrant (operators).
#[utoipa::path(post, path = "/api/v1/admin/phases/{code}/draw", tag = "operators", params(("code" = String, Path)),
    request_body = DrawBody, security(("bearer" = [])),
    responses((status = 200, description = "result.json"), (status = 409, body = ErrorBody)))]
async fn draw_phase(
    State(s): State<AppState>,
    Operator(_op): Operator,
    ApiPath(code): ApiPath<String>,
    ApiJson(b): ApiJson<DrawBody>,
) -> ApiResult<impl IntoResponse> {
    let first = match b.first_wave_at {
        Some(t) => Some(Timestamp::parse_rfc3339(&t).map_err(|m| {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", format!("first_wave_at: {m}"))
        })?),
        None => None,
    };
    Ok(Json(s.app.draw(&code, first).await?))
}

#[derive(Serialize, ToSchema)]
pub struct SalesDto {
    pub accounts: i64,
    pub paid_orders: i64,
    pub tickets_sold: i64,
    pub revenue_cents: i64,
    pub seats_held_in_carts: i64,
    pub open_carts: i64,
    pub seats_total: i64,
}

/// Sales figures (operators).
#[utoipa::path(get, path = "/api/v1/admin/sales", tag = "operators", security(("bearer" = [])),
    responses((status = 200, body = SalesDto), (status = 403, body = ErrorBody)))]
async fn sales(State(s): State<AppState>, Operator(_op): Operator) -> ApiResult<Json<SalesDto>> {
    let f = s.app.store.sales_figures(s.app.now()).await?;
    let c = s.app.store.catalogue_stats().await?;
    Ok(Json(SalesDto {
        accounts: f.accounts,
        paid_orders: f.paid_orders,
        tickets_sold: f.tickets_sold,
        revenue_cents: f.revenue.0,
        seats_held_in_carts: f.seats_held_in_carts,
        open_carts: f.open_carts,
        seats_total: c.seats,
    }))
}
