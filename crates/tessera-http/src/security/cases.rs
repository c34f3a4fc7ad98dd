//! The case queue's API (`/api/v1/admin/soc/cases`): list, read with the events behind a case,
//! acknowledge, assign, annotate, close; and the suppressions false positives became.
//! Analysts and operators only; every action is audited by the application.

use crate::error::{ApiError, ErrorBody};
use crate::extract::{Analyst, ApiJson, ApiPath, ApiQuery};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tessera_app::soc::Closing;
use tessera_app::soc::{Case, CaseState};
use utoipa::{IntoParams, ToSchema};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/soc/cases", get(list))
        .route("/api/v1/admin/soc/cases/{id}", get(show))
        .route("/api/v1/admin/soc/cases/{id}/acknowledge", post(acknowledge))
        .route("/api/v1/admin/soc/cases/{id}/assign", post(assign))
        .route("/api/v1/admin/soc/cases/{id}/notes", post(note))
        .route("/api/v1/admin/soc/cases/{id}/close", post(close))
        .route("/api/v1/admin/soc/suppressions", get(suppressions))
        .route("/api/v1/admin/soc/suppressions/{id}", delete(lift_suppression))
}

#[derive(Serialize, ToSchema)]
pub struct CaseDto {
    pub id: u64,
    /// What the case is about: the grouping (`source`, `network`, `account`, `all`, ...) and
    /// its key (`203.0.113.7`, `203.0.113.0/24`, `42`, `*`).
    pub group_by: String,
    pub key: String,
    pub title: String,
    /// `low`, `medium`, `high`, `critical`: the highest of its alerts.
    pub severity: String,
    /// `new`, `acknowledged`, `resolved`, `false_positive`.
    pub state: String,
    pub owner: Option<String>,
    /// The rules whose alerts it holds.
    pub rules: Vec<String>,
    pub alerts: u64,
    /// Unix milliseconds: the first and the last alert.
    pub first_ms: i64,
    pub last_ms: i64,
    /// A decision was taken on one of its alerts.
    pub decided: bool,
    /// Events seen behind it (the last 50 are in `events`).
    pub events_seen: u64,
    pub notes: Vec<NoteDto>,
    /// Only in the answer about one case: its last 20 alerts and last 50 events (ECS).
    #[schema(value_type = Vec<Object>)]
    pub recent_alerts: Vec<serde_json::Value>,
    #[schema(value_type = Vec<Object>)]
    pub events: Vec<serde_json::Value>,
}

#[derive(Serialize, ToSchema)]
pub struct NoteDto {
    pub at_ms: i64,
    pub author: String,
    pub text: String,
}

impl From<Case> for CaseDto {
    fn from(c: Case) -> Self {
        CaseDto {
            id: c.id,
            group_by: c.group_by.as_str().into(),
            key: c.key,
            title: c.title,
            severity: c.severity.as_str().into(),
            state: c.state.as_str().into(),
            owner: c.owner,
            rules: c.rules,
            alerts: c.alerts,
            first_ms: c.first_ms,
            last_ms: c.last_ms,
            decided: c.decided,
            events_seen: c.events_seen,
            notes: c.notes.into_iter().map(|n| NoteDto { at_ms: n.at_ms, author: n.author, text: n.text }).collect(),
            recent_alerts: c.recent_alerts.iter().rev().map(|a| serde_json::to_value(a).unwrap_or_default()).collect(),
            events: c.events.iter().rev().map(|e| e.to_ecs()).collect(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CaseListDto {
    pub new: usize,
    pub acknowledged: usize,
    pub resolved: usize,
    pub false_positive: usize,
    /// Suppressions in the book, and the alerts they silenced.
    pub suppressions: usize,
    pub suppressed_alerts: u64,
    /// Newest first.
    pub cases: Vec<CaseDto>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CaseQuery {
    /// Only cases in this state: `new`, `acknowledged`, `resolved`, `false_positive`.
    pub state: Option<String>,
    /// At most this many, newest first (1 to 1000; 200 when absent).
    pub limit: Option<usize>,
}

/// The case queue: related alerts grouped by target (same source, network, account...) within
/// an hour, newest first, with the counts per state (analysts and operators).
#[utoipa::path(get, path = "/api/v1/admin/soc/cases", tag = "security", params(CaseQuery), security(("bearer" = [])),
    responses((status = 200, body = CaseListDto), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub(crate) async fn list(
    State(s): State<AppState>,
    Analyst(_who): Analyst,
    ApiQuery(q): ApiQuery<CaseQuery>,
) -> Result<Json<CaseListDto>, ApiError> {
    let state = match q.state.as_deref() {
        None => None,
        Some(v) => Some(CaseState::parse(v).ok_or_else(|| {
            tessera_app::AppError::invalid("state", "one of new, acknowledged, resolved, false_positive")
        })?),
    };
    let limit = q.limit.unwrap_or(200);
    if !(1..=1000).contains(&limit) {
        return Err(tessera_app::AppError::invalid("limit", "give 1 to 1000").into());
    }
    let n = s.app.soc_case_counts();
    Ok(Json(CaseListDto {
        new: n.new,
        acknowledged: n.acknowledged,
        resolved: n.resolved,
        false_positive: n.false_positive,
        suppressions: n.suppressions,
        suppressed_alerts: n.suppressed_alerts,
        cases: s.app.soc_cases(state, limit).into_iter().map(CaseDto::from).collect(),
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct CaseId {
    /// The case's number.
    pub id: u64,
}

/// One case with its last alerts and the events behind it (ECS), newest first.
#[utoipa::path(get, path = "/api/v1/admin/soc/cases/{id}", tag = "security", params(CaseId), security(("bearer" = [])),
    responses((status = 200, body = CaseDto), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub(crate) async fn show(
    State(s): State<AppState>,
    Analyst(_who): Analyst,
    ApiPath(p): ApiPath<CaseId>,
) -> Result<Json<CaseDto>, ApiError> {
    Ok(Json(s.app.soc_case(p.id)?.into()))
}

/// Takes a new case: acknowledged, and the caller's unless someone owns it.
#[utoipa::path(post, path = "/api/v1/admin/soc/cases/{id}/acknowledge", tag = "security", params(CaseId), security(("bearer" = [])),
    responses((status = 200, body = CaseDto), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn acknowledge(
    State(s): State<AppState>,
    Analyst(who): Analyst,
    ApiPath(p): ApiPath<CaseId>,
) -> Result<Json<CaseDto>, ApiError> {
    Ok(Json(s.app.acknowledge_case(&who, p.id)?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignBody {
    /// Who owns the case now (an analyst's e-mail or name, 1 to 200 characters).
    pub owner: String,
}

/// Gives an open case to an analyst.
#[utoipa::path(post, path = "/api/v1/admin/soc/cases/{id}/assign", tag = "security", params(CaseId), request_body = AssignBody,
    security(("bearer" = [])),
    responses((status = 200, body = CaseDto), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn assign(
    State(s): State<AppState>,
    Analyst(who): Analyst,
    ApiPath(p): ApiPath<CaseId>,
    ApiJson(b): ApiJson<AssignBody>,
) -> Result<Json<CaseDto>, ApiError> {
    Ok(Json(s.app.assign_case(&who, p.id, &b.owner)?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    /// 1 to 2,000 characters.
    pub text: String,
}

/// Adds a note to a case (open or closed; at most 200 per case).
#[utoipa::path(post, path = "/api/v1/admin/soc/cases/{id}/notes", tag = "security", params(CaseId), request_body = NoteBody,
    security(("bearer" = [])),
    responses((status = 200, body = CaseDto), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn note(
    State(s): State<AppState>,
    Analyst(who): Analyst,
    ApiPath(p): ApiPath<CaseId>,
    ApiJson(b): ApiJson<NoteBody>,
) -> Result<Json<CaseDto>, ApiError> {
    Ok(Json(s.app.note_case(&who, p.id, &b.text)?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseBody {
    /// `resolved` (an attack, dealt with) or `false_positive`.
    #[serde(rename = "as")]
    pub as_: String,
    /// For a false positive: silence its rules on its target for this many minutes (1 to
    /// 43,200, 30 days). Matching alerts then open no case and decide nothing.
    pub suppress_minutes: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct ClosedDto {
    pub case: CaseDto,
    /// The suppression made, if one was asked for.
    pub suppression: Option<u64>,
}

/// Closes an open case. A false positive lifts the decision the engine took on its target
/// and may become a suppression.
#[utoipa::path(post, path = "/api/v1/admin/soc/cases/{id}/close", tag = "security", params(CaseId), request_body = CloseBody,
    security(("bearer" = [])),
    responses((status = 200, body = ClosedDto), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn close(
    State(s): State<AppState>,
    Analyst(who): Analyst,
    ApiPath(p): ApiPath<CaseId>,
    ApiJson(b): ApiJson<CloseBody>,
) -> Result<Json<ClosedDto>, ApiError> {
    let closing = match (b.as_.as_str(), b.suppress_minutes) {
        ("resolved", None) => Closing::Resolved,
        ("resolved", Some(_)) => {
            return Err(tessera_app::AppError::invalid("suppress_minutes", "only a false positive is suppressed").into())
        }
        ("false_positive", m) => Closing::FalsePositive { suppress_minutes: m },
        _ => return Err(tessera_app::AppError::invalid("as", "one of resolved, false_positive").into()),
    };
    let (case, suppression) = s.app.close_case(&who, p.id, closing).await?;
    Ok(Json(ClosedDto { case: case.into(), suppression }))
}

#[derive(Serialize, ToSchema)]
pub struct SuppressionDto {
    pub id: u64,
    pub rules: Vec<String>,
    pub group_by: String,
    pub key: String,
    /// Unix milliseconds.
    pub until_ms: i64,
    pub by: String,
    pub reason: String,
    /// The case it came from, and the alerts it has silenced.
    pub case: u64,
    pub hits: u64,
}

/// The suppressions in force or run out (newest last).
#[utoipa::path(get, path = "/api/v1/admin/soc/suppressions", tag = "security", security(("bearer" = [])),
    responses((status = 200, body = [SuppressionDto]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn suppressions(State(s): State<AppState>, Analyst(_who): Analyst) -> Json<Vec<SuppressionDto>> {
    Json(
        s.app
            .soc_suppressions()
            .into_iter()
            .map(|x| SuppressionDto {
                id: x.id,
                rules: x.rules,
                group_by: x.group_by.as_str().into(),
                key: x.key,
                until_ms: x.until_ms,
                by: x.by,
                reason: x.reason,
                case: x.case,
                hits: x.hits,
            })
            .collect(),
    )
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct SuppressionId {
    pub id: u64,
}

/// Ends a suppression before its time.
#[utoipa::path(delete, path = "/api/v1/admin/soc/suppressions/{id}", tag = "security", params(SuppressionId),
    security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn lift_suppression(
    State(s): State<AppState>,
    Analyst(who): Analyst,
    ApiPath(p): ApiPath<SuppressionId>,
) -> Result<StatusCode, ApiError> {
    s.app.lift_suppression(&who, p.id)?;
    Ok(StatusCode::NO_CONTENT)
}
