//! Sales phases and their verifiable lottery: phases, the draw files, entering, my phase.

use super::*;
use tessera_domain::ErrorCode;

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
pub(super) async fn list_phases(State(s): State<AppState>) -> ApiResult<Json<Vec<PhaseDto>>> {
    Ok(Json(s.app.store.list_phases().await?.iter().map(PhaseDto::from).collect()))
}

/// One sales phase.
#[utoipa::path(get, path = "/api/v1/phases/{code}", tag = "lottery", params(("code" = String, Path)),
    responses((status = 200, body = PhaseDto), (status = 404, body = ErrorBody)))]
pub(super) async fn phase(State(s): State<AppState>, ApiPath(code): ApiPath<String>) -> ApiResult<Json<PhaseDto>> {
    Ok(Json(PhaseDto::from(&s.app.phase(&code).await?)))
}

/// The seed commitment, published when registration opened.
#[utoipa::path(get, path = "/api/v1/phases/{code}/commitment.json", tag = "lottery", params(("code" = String, Path)),
    responses((status = 200, description = "commitment.json", body = CommitmentDoc), (status = 409, body = ErrorBody)))]
pub(super) async fn commitment_file(
    State(s): State<AppState>,
    ApiPath(code): ApiPath<String>,
) -> ApiResult<impl IntoResponse> {
    let p = s.app.publication(&code).await?;
    Ok(Json(p.commitment))
}

/// The frozen entry list, published when registration closed.
#[utoipa::path(get, path = "/api/v1/phases/{code}/entries.txt", tag = "lottery", params(("code" = String, Path)),
    responses((status = 200, description = "entries.txt, one entry code per line, sorted", content_type = "text/plain", body = String),
              (status = 409, body = ErrorBody)))]
pub(super) async fn entries_file(
    State(s): State<AppState>,
    ApiPath(code): ApiPath<String>,
) -> ApiResult<impl IntoResponse> {
    let p = s.app.publication(&code).await?;
    let text = p.entries.ok_or_else(|| ApiError::new(ErrorCode::NotPublished, "registration is still open"))?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text))
}

/// The revealed seed and the order of every entry, published at the draw.
#[utoipa::path(get, path = "/api/v1/phases/{code}/result.json", tag = "lottery", params(("code" = String, Path)),
    responses((status = 200, description = "result.json", body = ResultDoc), (status = 409, body = ErrorBody)))]
pub(super) async fn result_file(
    State(s): State<AppState>,
    ApiPath(code): ApiPath<String>,
) -> ApiResult<impl IntoResponse> {
    let p = s.app.publication(&code).await?;
    let r = p.result.ok_or_else(|| ApiError::new(ErrorCode::NotPublished, "the draw has not happened yet"))?;
    Ok(Json(r))
}

// The draw's files are the domain's published formats (`docs/lottery.md`), served as they
// are written so that anyone can check them byte for byte; these types describe them.

/// `commitment.json`: the SHA-256 of the seed, published when registration opens.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct CommitmentDoc {
    phase: String,
    /// Lowercase hex.
    seed_sha256: String,
    /// Unix seconds.
    published_at: i64,
}

/// `result.json`: the revealed seed and the order of every entry.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ResultDoc {
    phase: String,
    /// The seed, hex; its SHA-256 is the commitment's.
    seed: String,
    seed_sha256: String,
    /// SHA-256 of `entries.txt`.
    entries_sha256: String,
    /// Unix seconds.
    drawn_at: i64,
    /// Every entry code, in the drawn order.
    order: Vec<String>,
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
pub(super) async fn enter_lottery(
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
pub(super) async fn my_phase(
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
