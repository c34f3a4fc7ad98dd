//! The operators' phase and sales API.

use super::*;
use tessera_domain::ErrorCode;

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
pub(super) async fn create_phase(
    State(s): State<AppState>,
    Operator(_op): Operator,
    ApiJson(b): ApiJson<CreatePhaseBody>,
) -> ApiResult<impl IntoResponse> {
    let p = s.app.create_phase(&b.code, &b.name, &b.settings()).await?;
    Ok((StatusCode::CREATED, Json(PhaseDto::from(&p))))
}

/// Open registration: publishes the seed commitment (operators).
#[utoipa::path(post, path = "/api/v1/admin/phases/{code}/open", tag = "operators", params(("code" = String, Path)), security(("bearer" = [])),
    responses((status = 200, description = "commitment.json", body = CommitmentDoc), (status = 409, body = ErrorBody)))]
pub(super) async fn open_phase(
    State(s): State<AppState>,
    Operator(_op): Operator,
    ApiPath(code): ApiPath<String>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(s.app.open_registration(&code).await?))
}

/// Close registration: freezes and publishes the entry list (operators).
#[utoipa::path(post, path = "/api/v1/admin/phases/{code}/close", tag = "operators", params(("code" = String, Path)), security(("bearer" = [])),
    responses((status = 200, description = "entries.txt, one entry code per line, sorted", content_type = "text/plain", body = String), (status = 409, body = ErrorBody)))]
pub(super) async fn close_phase(
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
    responses((status = 200, description = "result.json", body = ResultDoc), (status = 409, body = ErrorBody)))]
pub(super) async fn draw_phase(
    State(s): State<AppState>,
    Operator(_op): Operator,
    ApiPath(code): ApiPath<String>,
    ApiJson(b): ApiJson<DrawBody>,
) -> ApiResult<impl IntoResponse> {
    let first = match b.first_wave_at {
        Some(t) => Some(
            Timestamp::parse_rfc3339(&t)
                .map_err(|m| ApiError::new(ErrorCode::InvalidInput, format!("first_wave_at: {m}")))?,
        ),
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
pub(super) async fn sales(State(s): State<AppState>, Operator(_op): Operator) -> ApiResult<Json<SalesDto>> {
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
