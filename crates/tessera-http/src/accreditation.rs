//! Accreditation over HTTP: organisations (staff), applications from officers (one by one, or
//! a CSV import followed by its progress), vetting decisions, badges and their printable card,
//! the gates' revocation list, and the collection desks' encrypted lists and hand-overs. The
//! staff console is `/operator/accreditation`.

use crate::error::{ApiError, ErrorBody};
use crate::extract::{AccreditationStaff, ApiJson, ApiPath, ApiQuery, Authed, DeskOperator, Vetter};
use crate::pages::i18n::tr;
use crate::pages::{layout, PageError};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use maud::{html, PreEscaped};
use serde::{Deserialize, Serialize};
use tessera_accreditation::{Action, RawApplication};
use tessera_app::accreditation::{Decision, OrgRecord, MAX_IMPORT_BYTES};
use tessera_app::AppError;
use tessera_store::{AccreditationQuery, Added};
use utoipa::{IntoParams, ToSchema};

/// A photo is at most this large before it is checked (the photo policy refuses more).
const MAX_APPLICATION_BODY: usize = 8 << 20;

pub(crate) fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/accreditation/organisations", get(organisations).post(put_organisation))
        .route(
            "/api/v1/accreditation/applications",
            get(list).post(submit).layer(axum::extract::DefaultBodyLimit::max(MAX_APPLICATION_BODY)),
        )
        .route("/api/v1/accreditation/applications/{id}", get(show))
        .route("/api/v1/accreditation/applications/{id}/decision", post(decide))
        .route("/api/v1/accreditation/applications/{id}/officer", post(officer))
        .route("/api/v1/accreditation/applications/{id}/hit", post(hit))
        .route("/api/v1/accreditation/applications/{id}/badge", post(badge).get(current_badge))
        .route("/api/v1/accreditation/applications/{id}/card", get(card))
        .route(
            "/api/v1/accreditation/imports",
            post(import).layer(axum::extract::DefaultBodyLimit::max(MAX_IMPORT_BYTES)),
        )
        .route("/api/v1/accreditation/imports/{id}", get(import_status))
        .route("/api/v1/accreditation/figures", get(figures))
        .route("/api/v1/accreditation/revocations", get(revocations))
        .route("/api/v1/accreditation/desks/{desk}/list", get(desk_list))
        .route("/api/v1/accreditation/desks/{desk}/hand-overs", post(hand_overs))
        .route("/api/v1/accreditation/desks/{desk}/mode", post(desk_mode))
}

pub(crate) fn page_routes() -> Router<AppState> {
    Router::new().route("/operator/accreditation", get(console))
}

/// An organisation: its officers (account ids) and quotas per category.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgBody {
    /// `FRA`, `AFP`, `OBS`: letters and digits.
    pub code: String,
    pub name: String,
    /// `Noc`, `InternationalFederation`, `MediaOutlet`, `RightsHoldingBroadcaster`,
    /// `HostBroadcaster`, `Workforce`, `Volunteers`, `Security` or `Other`.
    #[schema(value_type = String)]
    pub kind: tessera_accreditation::OrgKind,
    #[serde(default)]
    pub officers: Vec<i64>,
    /// Category code → most applications holding a place.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub quotas: std::collections::BTreeMap<String, u32>,
}

/// Every organisation (accreditation staff).
#[utoipa::path(get, path = "/api/v1/accreditation/organisations", operation_id = "accreditation_organisations", tag = "accreditation", security(("bearer" = [])),
    responses((status = 200, body = Vec<OrgBody>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn organisations(
    State(s): State<AppState>,
    Authed(who): Authed,
) -> Result<Json<Vec<OrgBody>>, ApiError> {
    let all = s.app.organisations().await?;
    let mine = matches!(who.role, tessera_store::Role::Operator | tessera_store::Role::Accreditation);
    Ok(Json(
        all.into_iter()
            .filter(|o| mine || o.officers.contains(&who.account_id.0))
            .map(|o| OrgBody { code: o.code, name: o.name, kind: o.kind, officers: o.officers, quotas: o.quotas })
            .collect(),
    ))
}

/// Creates or replaces an organisation (accreditation staff).
#[utoipa::path(post, path = "/api/v1/accreditation/organisations", operation_id = "accreditation_put_organisation", tag = "accreditation", request_body = OrgBody, security(("bearer" = [])),
    responses((status = 200, body = OrgBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn put_organisation(
    State(s): State<AppState>,
    AccreditationStaff(who): AccreditationStaff,
    ApiJson(b): ApiJson<OrgBody>,
) -> Result<Json<OrgBody>, ApiError> {
    let o = s
        .app
        .put_organisation(
            &who,
            OrgRecord { code: b.code, name: b.name, kind: b.kind, officers: b.officers, quotas: b.quotas },
        )
        .await?;
    Ok(Json(OrgBody { code: o.code, name: o.name, kind: o.kind, officers: o.officers, quotas: o.quotas }))
}

/// An application as an officer submits it.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationBody {
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub application: RawApplication,
    /// The photo, JPEG or PNG, Base64.
    #[serde(default)]
    pub photo: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SubmittedDto {
    /// `added`, `duplicate` or `over_quota`.
    pub outcome: String,
    /// The application's id (`added`), or the earlier one of the same person (`duplicate`).
    pub id: Option<i64>,
}

/// Submits an application (an officer of the organisation it names).
#[utoipa::path(post, path = "/api/v1/accreditation/applications", operation_id = "accreditation_submit", tag = "accreditation", request_body = ApplicationBody, security(("bearer" = [])),
    responses((status = 200, body = SubmittedDto), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn submit(
    State(s): State<AppState>,
    Authed(who): Authed,
    ApiJson(b): ApiJson<ApplicationBody>,
) -> Result<Json<SubmittedDto>, ApiError> {
    let photo = match &b.photo {
        Some(p) => Some(
            base64::engine::general_purpose::STANDARD
                .decode(p.trim())
                .map_err(|e| AppError::invalid("photo", format!("not Base64: {e}")))?,
        ),
        None => None,
    };
    let added = s.app.submit_application(&who, &b.application, photo.as_deref()).await?;
    Ok(Json(match added {
        Added::Added(id) => SubmittedDto { outcome: "added".into(), id: Some(id) },
        Added::Duplicate(id) => SubmittedDto { outcome: "duplicate".into(), id: Some(id) },
        Added::OverQuota => SubmittedDto { outcome: "over_quota".into(), id: None },
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// An organisation's code (an officer must give their own).
    pub org: Option<String>,
    /// `submitted`, `screening`, `approved`, `refused`, `appealed`, `revoked` or `withdrawn`.
    pub state: Option<String>,
    /// The last id of the previous page.
    pub after: Option<i64>,
    /// At most 1,000.
    pub limit: Option<i64>,
}

/// Applications in id order, without personal data (staff; an officer, their organisation's).
#[utoipa::path(get, path = "/api/v1/accreditation/applications", operation_id = "accreditation_list", tag = "accreditation", params(ListQuery), security(("bearer" = [])),
    responses((status = 200, body = Vec<Object>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn list(
    State(s): State<AppState>,
    Authed(who): Authed,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Vec<tessera_app::accreditation::ApplicationRow>>, ApiError> {
    if let Some(st) = &q.state {
        if !tessera_accreditation::State::ALL.iter().any(|x| x.as_str() == st) {
            return Err(AppError::invalid(
                "state",
                "one of submitted, screening, approved, refused, appealed, revoked, withdrawn",
            )
            .into());
        }
    }
    let query = AccreditationQuery {
        org: q.org,
        state: q.state,
        after: q.after.unwrap_or(0).max(0),
        limit: q.limit.unwrap_or(100),
    };
    Ok(Json(s.app.list_applications(&who, &query).await?))
}

#[derive(Deserialize, IntoParams)]
pub struct IdPath {
    pub id: i64,
}

/// One application with its personal data and its vetting trail (staff, vetting officers, or
/// an officer of its organisation). Each read is logged.
#[utoipa::path(get, path = "/api/v1/accreditation/applications/{id}", operation_id = "accreditation_show", tag = "accreditation", params(IdPath), security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn show(
    State(s): State<AppState>,
    Authed(who): Authed,
    ApiPath(p): ApiPath<IdPath>,
) -> Result<Json<tessera_app::accreditation::ApplicationView>, ApiError> {
    Ok(Json(s.app.application(&who, p.id).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    /// `approve`, `refuse` or `revoke`.
    #[schema(value_type = String)]
    pub decision: Decision,
    /// Required to refuse or revoke.
    #[serde(default)]
    pub reason: String,
}

#[derive(Serialize, ToSchema)]
pub struct StateDto {
    pub state: String,
}

/// A staff decision: approve (screening must have passed), refuse or revoke (with a reason).
#[utoipa::path(post, path = "/api/v1/accreditation/applications/{id}/decision", operation_id = "accreditation_decide", tag = "accreditation", params(IdPath), request_body = DecisionBody, security(("bearer" = [])),
    responses((status = 200, body = StateDto), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn decide(
    State(s): State<AppState>,
    AccreditationStaff(who): AccreditationStaff,
    ApiPath(p): ApiPath<IdPath>,
    ApiJson(b): ApiJson<DecisionBody>,
) -> Result<Json<StateDto>, ApiError> {
    let st = s.app.decide_application(&who, p.id, b.decision, &b.reason).await?;
    Ok(Json(StateDto { state: st.as_str().into() }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OfficerBody {
    /// `appeal` (a refusal, with a reason) or `withdraw`.
    pub action: String,
    #[serde(default)]
    pub reason: String,
}

/// An officer appeals a refusal or withdraws an application of their organisation.
#[utoipa::path(post, path = "/api/v1/accreditation/applications/{id}/officer", operation_id = "accreditation_officer", tag = "accreditation", params(IdPath), request_body = OfficerBody, security(("bearer" = [])),
    responses((status = 200, body = StateDto), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn officer(
    State(s): State<AppState>,
    Authed(who): Authed,
    ApiPath(p): ApiPath<IdPath>,
    ApiJson(b): ApiJson<OfficerBody>,
) -> Result<Json<StateDto>, ApiError> {
    let action = match b.action.as_str() {
        "appeal" => Action::Appeal,
        "withdraw" => Action::Withdraw,
        _ => return Err(AppError::invalid("action", "appeal or withdraw").into()),
    };
    let st = s.app.officer_action(&who, p.id, action, &b.reason).await?;
    Ok(Json(StateDto { state: st.as_str().into() }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HitBody {
    /// The authority's stated reason.
    pub reason: String,
}

/// A vetting officer records a later hit: refused during screening, revoked once approved
/// (every card void at the gates).
#[utoipa::path(post, path = "/api/v1/accreditation/applications/{id}/hit", operation_id = "accreditation_hit", tag = "accreditation", params(IdPath), request_body = HitBody, security(("bearer" = [])),
    responses((status = 200, body = StateDto), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn hit(
    State(s): State<AppState>,
    Vetter(who): Vetter,
    ApiPath(p): ApiPath<IdPath>,
    ApiJson(b): ApiJson<HitBody>,
) -> Result<Json<StateDto>, ApiError> {
    let st = s.app.record_hit(&who, p.id, &b.reason).await?;
    Ok(Json(StateDto { state: st.as_str().into() }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BadgeBody {
    /// A replacement for a lost card: the new card voids every earlier one.
    #[serde(default)]
    pub reprint: bool,
}

#[derive(Serialize, ToSchema)]
pub struct BadgeDto {
    pub person: i64,
    pub serial: u16,
    /// The signed badge as the QR code carries it (Base45).
    pub text: String,
    pub holder: String,
    pub organisation: String,
    pub category: String,
    pub zones: Vec<String>,
    pub venues: Vec<String>,
    pub privileges: Vec<String>,
    pub valid_from: i64,
    pub valid_until: i64,
}

fn strings<T: ToString>(v: &[T]) -> Vec<String> {
    v.iter().map(ToString::to_string).collect()
}

fn badge_dto(b: &tessera_app::accreditation::IssuedBadge) -> BadgeDto {
    BadgeDto {
        person: b.person,
        serial: b.serial,
        text: b.text.clone(),
        holder: b.badge.holder.clone(),
        organisation: b.badge.organisation.to_string(),
        category: b.badge.category.to_string(),
        zones: strings(&b.badge.zones),
        venues: strings(&b.badge.venues),
        privileges: strings(&b.badge.privileges),
        valid_from: b.badge.valid_from,
        valid_until: b.badge.valid_until,
    }
}

/// Issues the card (accreditation staff): approved, screening passed. Once; a reprint
/// (`reprint: true`) voids the earlier cards.
#[utoipa::path(post, path = "/api/v1/accreditation/applications/{id}/badge", operation_id = "accreditation_badge", tag = "accreditation", params(IdPath), request_body = BadgeBody, security(("bearer" = [])),
    responses((status = 200, body = BadgeDto), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn badge(
    State(s): State<AppState>,
    AccreditationStaff(who): AccreditationStaff,
    ApiPath(p): ApiPath<IdPath>,
    ApiJson(b): ApiJson<BadgeBody>,
) -> Result<Json<BadgeDto>, ApiError> {
    Ok(Json(badge_dto(&s.app.issue_badge(&who, p.id, b.reprint).await?)))
}

/// The card issued last (accreditation staff), to print it again.
#[utoipa::path(get, path = "/api/v1/accreditation/applications/{id}/badge", operation_id = "accreditation_current_badge", tag = "accreditation", params(IdPath), security(("bearer" = [])),
    responses((status = 200, body = BadgeDto), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn current_badge(
    State(s): State<AppState>,
    AccreditationStaff(who): AccreditationStaff,
    ApiPath(p): ApiPath<IdPath>,
) -> Result<Json<BadgeDto>, ApiError> {
    Ok(Json(badge_dto(&s.app.current_badge(&who, p.id).await?)))
}

/// The current card as a PDF at ID-1 size (85.60 × 53.98 mm): photo, name, category,
/// organisation, zones and privileges, and the QR code gates read (accreditation staff).
#[utoipa::path(get, path = "/api/v1/accreditation/applications/{id}/card", operation_id = "accreditation_card", tag = "accreditation", params(IdPath), security(("bearer" = [])),
    responses((status = 200, description = "the card", content_type = "application/pdf", body = Vec<u8>), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn card(
    State(s): State<AppState>,
    AccreditationStaff(who): AccreditationStaff,
    ApiPath(p): ApiPath<IdPath>,
) -> Result<Response, ApiError> {
    let pdf = s.app.badge_card_pdf(&who, p.id).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (header::CACHE_CONTROL, "no-store".to_string()),
            (header::CONTENT_DISPOSITION, format!("inline; filename=\"card-{}.pdf\"", p.id)),
        ],
        pdf,
    )
        .into_response())
}

#[derive(Serialize, ToSchema)]
pub struct ImportDto {
    /// Follow it at `/api/v1/accreditation/imports/{id}`.
    pub id: u64,
}

/// Starts a CSV import (officers, for their organisations; staff, for any): the header names
/// the columns (`given_name, family_name, date_of_birth, nationality, document_number,
/// category, function, organisation, venues, zones, privileges`). Each line is checked; good
/// lines are stored in chunks; the status reports every bad line.
#[utoipa::path(post, path = "/api/v1/accreditation/imports", operation_id = "accreditation_import", tag = "accreditation", request_body(content = String, content_type = "text/csv"), security(("bearer" = [])),
    responses((status = 202, body = ImportDto), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn import(State(s): State<AppState>, Authed(who): Authed, body: Bytes) -> Result<Response, ApiError> {
    if body.is_empty() {
        return Err(AppError::invalid("file", "empty").into());
    }
    let id = s.app.start_import(&who, body.to_vec()).await?;
    Ok((axum::http::StatusCode::ACCEPTED, Json(ImportDto { id })).into_response())
}

#[derive(Deserialize, IntoParams)]
pub struct ImportPath {
    pub id: u64,
}

/// Where an import stands: records read, bytes, added, duplicates, over quota, rejected, the
/// line errors, done.
#[utoipa::path(get, path = "/api/v1/accreditation/imports/{id}", operation_id = "accreditation_import_status", tag = "accreditation", params(ImportPath), security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn import_status(
    State(s): State<AppState>,
    Authed(who): Authed,
    ApiPath(p): ApiPath<ImportPath>,
) -> Result<Json<tessera_app::accreditation::ImportStatus>, ApiError> {
    s.app.import_status(&who, p.id).map(Json).ok_or_else(|| AppError::NotFound(format!("import {}", p.id)).into())
}

/// Applications by state and by organisation against its quotas (staff, vetting officers).
#[utoipa::path(get, path = "/api/v1/accreditation/figures", operation_id = "accreditation_figures", tag = "accreditation", security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn figures(
    State(s): State<AppState>,
    Vetter(who): Vetter,
) -> Result<Json<tessera_app::accreditation::AccreditationFigures>, ApiError> {
    Ok(Json(s.app.accreditation_figures(&who).await?))
}

#[derive(Serialize, ToSchema)]
pub struct RevocationsDto {
    /// The badge key gates trust (Ed25519, hex).
    pub public_key: String,
    /// Grows with every change.
    pub version: u64,
    /// Persons whose every card is void.
    pub revoked: Vec<u64>,
    /// Persons and their current card serial, `[person, serial]`: lower serials are void.
    #[schema(value_type = Vec<Vec<u64>>)]
    pub current_serial: Vec<(u64, u16)>,
}

/// What gates need to refuse badges: the badge key, revoked people, voided earlier cards
/// (accreditation staff and vetting officers; gates get the same in their bundle and sync).
#[utoipa::path(get, path = "/api/v1/accreditation/revocations", operation_id = "accreditation_revocations", tag = "accreditation", security(("bearer" = [])),
    responses((status = 200, body = RevocationsDto), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn revocations(
    State(s): State<AppState>,
    Vetter(_who): Vetter,
) -> Result<Json<RevocationsDto>, ApiError> {
    let list = s.app.badge_revocations().await?;
    Ok(Json(RevocationsDto {
        public_key: hex::encode(s.app.badge_signer().public().as_bytes()),
        version: list.version,
        revoked: list.revoked.clone(),
        current_serial: list.current_serial.clone(),
    }))
}

#[derive(Deserialize, IntoParams)]
pub struct DeskPath {
    /// The desk's code (`PDV1`).
    pub desk: String,
}

/// The desk's offline list (desk operators, staff): every approved person with a card to hand
/// over, signed with the badge key and encrypted under the desk's key; the key itself is in
/// the `Tessera-Desk-Key` header (hex), for the desk to keep.
#[utoipa::path(get, path = "/api/v1/accreditation/desks/{desk}/list", operation_id = "accreditation_desk_list", tag = "accreditation", params(DeskPath), security(("bearer" = [])),
    responses((status = 200, description = "the sealed list", content_type = "application/octet-stream", body = Vec<u8>),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn desk_list(
    State(s): State<AppState>,
    DeskOperator(who): DeskOperator,
    ApiPath(p): ApiPath<DeskPath>,
) -> Result<Response, ApiError> {
    let bytes = s.app.desk_list(&who, &p.desk).await?;
    let code = tessera_accreditation::DeskCode::parse(&p.desk).map_err(|e| AppError::invalid("desk", e.to_string()))?;
    let key = hex::encode(s.app.desk_key(&code).to_bytes());
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CACHE_CONTROL, "no-store".to_string()),
            (header::HeaderName::from_static("tessera-desk-key"), key),
        ],
        bytes,
    )
        .into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HandOverItem {
    pub person: i64,
    pub serial: i64,
    /// Unix seconds, when the card was handed over.
    pub at: i64,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HandOversBody {
    pub cards: Vec<HandOverItem>,
}

#[derive(Serialize, ToSchema)]
pub struct HandOversDto {
    /// Hand-overs not known before (a sync sent twice counts them once).
    pub new: u64,
    /// The desk is switched to its offline list (by itself or by staff on the console).
    pub offline_mode: bool,
}

/// Cards handed over at this desk (desk operators): online, or an offline desk's sync.
#[utoipa::path(post, path = "/api/v1/accreditation/desks/{desk}/hand-overs", operation_id = "accreditation_hand_overs", tag = "accreditation", params(DeskPath), request_body = HandOversBody, security(("bearer" = [])),
    responses((status = 200, body = HandOversDto), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn hand_overs(
    State(s): State<AppState>,
    DeskOperator(who): DeskOperator,
    ApiPath(p): ApiPath<DeskPath>,
    ApiJson(b): ApiJson<HandOversBody>,
) -> Result<Json<HandOversDto>, ApiError> {
    let cards: Vec<(i64, i64, i64)> = b.cards.iter().map(|c| (c.person, c.serial, c.at)).collect();
    let new = s.app.record_hand_overs(&who, &p.desk, &cards).await?;
    // The code parsed in `record_hand_overs`: the same text names the desk here.
    Ok(Json(HandOversDto { new, offline_mode: s.app.desk_offline_mode(&p.desk) }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeskModeBody {
    /// `true`: the desk works from its downloaded list and sends its hand-overs later.
    pub offline: bool,
}

/// Switches a desk to its offline list, or back (the desk, accreditation staff): one audited
/// action, shown on the console.
#[utoipa::path(post, path = "/api/v1/accreditation/desks/{desk}/mode", operation_id = "accreditation_desk_mode", tag = "accreditation", params(DeskPath), request_body = DeskModeBody, security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn desk_mode(
    State(s): State<AppState>,
    DeskOperator(who): DeskOperator,
    ApiPath(p): ApiPath<DeskPath>,
    ApiJson(b): ApiJson<DeskModeBody>,
) -> Result<Json<tessera_app::accreditation::DeskStatus>, ApiError> {
    Ok(Json(s.app.set_desk_mode(&who, &p.desk, b.offline).await?))
}

/// The accreditation console (staff, vetting officers): applications by state, organisations
/// against their quotas, the queue, and a CSV import with its progress bar.
async fn console(
    State(s): State<AppState>,
    crate::pages::AccreditationPage(who): crate::pages::AccreditationPage,
) -> Result<Response, PageError> {
    let figure = crate::pages::console::figure;
    let body = html! {
        div.card {
            h2 { (tr("Accreditation", "Accréditation")) }
            p.stale #stale role="status" hidden {}
            div.figures {
                (figure(tr("Submitted", "Soumises"), "a-submitted"))
                (figure(tr("In screening", "En criblage"), "a-screening"))
                (figure(tr("Approved", "Approuvées"), "a-approved"))
                (figure(tr("Refused", "Refusées"), "a-refused"))
                (figure(tr("Appealed", "En appel"), "a-appealed"))
                (figure(tr("Revoked", "Révoquées"), "a-revoked"))
                (figure(tr("Screening batches open", "Lots de criblage ouverts"), "a-batches"))
                (figure(tr("Screening time p50 / p90", "Durée de criblage p50 / p90"), "a-screen-time"))
            }
            h3 { (tr("Organisations and quotas", "Organisations et quotas")) }
            table #a-orgs tabindex="0" { thead { tr {
                th { (tr("Organisation", "Organisation")) } th { (tr("Category", "Catégorie")) } th { (tr("Holding a place", "Places prises")) } th { (tr("Quota", "Quota")) }
            } } tbody {} }
            h3 { (tr("Queue", "File")) }
            table #a-queue tabindex="0" { thead { tr {
                th { "#" } th { (tr("Organisation", "Organisation")) } th { (tr("Category", "Catégorie")) } th { (tr("State", "État")) } th { (tr("Decision", "Décision")) }
            } } tbody {} }
            h3 { (tr("Approved, with their cards", "Approuvées, avec leur carte")) }
            table #a-approved tabindex="0" { thead { tr {
                th { "#" } th { (tr("Organisation", "Organisation")) } th { (tr("Category", "Catégorie")) } th { (tr("Cards issued", "Cartes émises")) } th { (tr("Card", "Carte")) }
            } } tbody {} }
            h3 { (tr("Collection desks", "Guichets de retrait")) }
            p.muted {
                (tr("Cards are printed centrally, not at a desk: cards issued in total ", "Les cartes sont imprimées au centre, pas au guichet : cartes émises en tout "))
                strong #a-cards-issued { "–" }
                (tr("; hand-overs per desk as recorded.", " ; remises par guichet telles qu'enregistrées."))
            }
            table #a-desks tabindex="0" { thead { tr {
                th { (tr("Desk", "Guichet")) } th { (tr("Mode", "Mode")) } th { (tr("List", "Liste")) } th { (tr("Cards handed over (flagged)", "Cartes remises (signalées)")) }
                th { (tr("Last contact", "Dernier contact")) } th { (tr("Switch", "Bascule")) }
            } } tbody {} }
            h3 { (tr("Import applications (CSV)", "Importer des candidatures (CSV)")) }
            form #a-import {
                label for="a-file" { (tr("File", "Fichier")) }
                input #a-file type="file" accept=".csv,text/csv";
                button type="submit" { (tr("Import", "Importer")) }
            }
            progress #a-progress max="100" value="0" hidden aria-label=(tr("Import progress", "Progression de l'import")) {}
            p #a-import-status role="status" {}
        }
        (crate::pages::console::head())
        script { (PreEscaped(CONSOLE_JS)) }
    };
    Ok(layout(tr("Accreditation", "Accréditation"), Some(&who), None, s.demo, body).into_response())
}

pub(crate) const CONSOLE_JS: &str = r#"
(function () {
  const { $, esc, T, poll } = window.TesseraConsole;
  poll('/api/v1/accreditation/figures', 2000, (f) => {
    for (const st of ['submitted', 'screening', 'approved', 'refused', 'appealed', 'revoked']) {
      $('a-' + st).textContent = (f.by_state[st] || 0).toLocaleString();
    }
    $('a-batches').textContent = f.screening_batches_open;
    const t = f.screening_seconds;
    $('a-screen-time').textContent = t.count ? t.p50 + ' s / ' + t.p90 + ' s' : '–';
    const rows = [];
    for (const o of f.by_org) for (const [c, [n, q]] of Object.entries(o.categories)) {
      rows.push('<tr><td>' + esc(o.org + ' · ' + (o.name || '')) + '</td><td>' + esc(c) + '</td><td>' + n + '</td><td>' + q + '</td></tr>');
    }
    $('a-orgs').tBodies[0].innerHTML = rows.join('');
    $('a-cards-issued').textContent = f.cards_issued.toLocaleString();
    const now = Date.now() / 1000;
    $('a-desks').tBodies[0].innerHTML = f.desks.map((d) => '<tr><td class="mono">' + esc(d.desk) + '</td><td>' +
      (d.offline_mode ? '<span class="error">' + T('offline list', 'liste hors ligne') + '</span>' : '<span class="ok">' + T('online', 'en ligne') + '</span>') +
      (d.switched_by ? ' <span class="muted">(' + esc(d.switched_by) + ')</span>' : '') + '</td><td>' +
      (d.list_at ? d.list_people.toLocaleString() + ' · ' + new Date(d.list_at * 1000).toLocaleTimeString() : T('none', 'aucune')) + '</td><td>' + d.handed_over.toLocaleString() + (d.flagged ? ' <span class="error">(' + d.flagged + ')</span>' : '') +
      '</td><td>' + (d.last_contact ? Math.round(now - d.last_contact) + ' s' : '–') + '</td><td><button type="button" data-desk="' + esc(d.desk) + '" data-offline="' + (!d.offline_mode) + '">' +
      (d.offline_mode ? T('Back online', 'Revenir en ligne') : T('Switch to offline list', 'Passer sur liste hors ligne')) + '</button></td></tr>').join('');
  });
  $('a-desks').addEventListener('click', async (e) => {
    const desk = e.target && e.target.dataset && e.target.dataset.desk;
    if (!desk) return;
    await fetch('/api/v1/accreditation/desks/' + encodeURIComponent(desk) + '/mode', { method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ offline: e.target.dataset.offline === 'true' }) });
  });
  async function queue() {
    const r = await fetch('/api/v1/accreditation/applications?state=screening&limit=20');
    if (!r.ok) return;
    const rows = await r.json();
    $('a-queue').tBodies[0].innerHTML = rows.map((a) => '<tr><td>' + a.id + '</td><td>' + esc(a.org) + '</td><td>' + esc(a.category) +
      '</td><td>' + esc(a.state) + '</td><td><button type="button" data-id="' + a.id + '">' + T('Approve', 'Approuver') + '</button></td></tr>').join('');
  }
  $('a-queue').addEventListener('click', async (e) => {
    const id = e.target && e.target.dataset && e.target.dataset.id;
    if (!id) return;
    const r = await fetch('/api/v1/accreditation/applications/' + id + '/decision', { method: 'POST', credentials: 'same-origin', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ decision: 'approve' }) });
    const b = await r.json();
    e.target.parentNode.textContent = r.ok ? b.state : ((b.error && b.error.message) || T('failed', 'échec'));
  });
  async function approved() {
    const r = await fetch('/api/v1/accreditation/applications?state=approved&limit=20');
    if (!r.ok) return;
    const rows = await r.json();
    $('a-approved').tBodies[0].innerHTML = rows.map((a) => '<tr><td>' + a.id + '</td><td>' + esc(a.org) + '</td><td>' + esc(a.category) + '</td><td>' + a.cards +
      '</td><td>' + (a.cards > 0 ? '<a href="/api/v1/accreditation/applications/' + a.id + '/card">' + T('PDF card', 'Carte PDF') + '</a>' : '') + '</td></tr>').join('');
  }
  queue(); setInterval(queue, 5000);
  approved(); setInterval(approved, 5000);
  $('a-import').addEventListener('submit', async (e) => {
    e.preventDefault();
    const file = $('a-file').files[0];
    if (!file) return;
    const r = await fetch('/api/v1/accreditation/imports', { method: 'POST', credentials: 'same-origin', headers: { 'Content-Type': 'text/csv' }, body: file });
    const b = await r.json();
    if (!r.ok) { $('a-import-status').textContent = (b.error && b.error.message) || T('failed', 'échec'); return; }
    const bar = $('a-progress'); bar.hidden = false;
    const timer = setInterval(async () => {
      const s = await (await fetch('/api/v1/accreditation/imports/' + b.id)).json();
      bar.value = s.total_bytes ? Math.round(100 * s.bytes / s.total_bytes) : 0;
      $('a-import-status').textContent = T('Read', 'Lues') + ' ' + s.records.toLocaleString() + ' · ' + T('added', 'ajoutées') + ' ' + s.added.toLocaleString() +
        ' · ' + T('duplicates', 'doublons') + ' ' + s.duplicates + ' · ' + T('over quota', 'hors quota') + ' ' + s.over_quota + ' · ' + T('refused lines', 'lignes refusées') + ' ' + s.rejected +
        (s.failed ? ' · ' + s.failed : '') + (s.errors.length ? ' · ' + T('first error', 'première erreur') + ': ' + T('line', 'ligne') + ' ' + s.errors[0].line + ': ' + s.errors[0].message : '');
      if (s.done) { clearInterval(timer); bar.value = 100; }
    }, 500);
  });
})();
"#;
