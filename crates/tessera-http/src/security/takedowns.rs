//! Lookalike domains over HTTP (`/api/v1/admin/soc/domains`, `/api/v1/admin/soc/takedowns`):
//! names posted by a feed follower (one per line, or certstream's JSON lines), and the
//! takedown workflow of each lookalike found. Analysts and operators only.

use crate::error::{ApiError, ErrorBody};
use crate::extract::{Analyst, ApiJson, ApiPath, ApiQuery};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use tessera_app::soc::takedowns::{NamesReport, Takedown, TakedownState};
use tessera_app::AppError;
use utoipa::{IntoParams, ToSchema};

/// A feed's post: 10,000 names of up to 253 characters, with room for certstream's JSON.
const MAX_NAMES_BODY: usize = 8 << 20;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/soc/domains", post(names).layer(axum::extract::DefaultBodyLimit::max(MAX_NAMES_BODY)))
        .route("/api/v1/admin/soc/takedowns", get(list))
        .route("/api/v1/admin/soc/takedowns/{domain}", post(step))
}

/// Newly seen names, one a line, or certificate-transparency JSON lines as certstream sends
/// them: each new lookalike of the official domains opens a takedown case.
#[utoipa::path(post, path = "/api/v1/admin/soc/domains", operation_id = "soc_domains", tag = "security",
    request_body(content = String, content_type = "text/plain"), security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn names(
    State(s): State<AppState>,
    _analyst: Analyst,
    body: Bytes,
) -> Result<Json<NamesReport>, ApiError> {
    let text = std::str::from_utf8(&body).map_err(|_| AppError::invalid("body", "names are UTF-8 text"))?;
    Ok(Json(s.app.check_domain_names(text).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TakedownQuery {
    /// `found`, `confirmed`, `notice_sent`, `taken_down` or `dismissed`.
    pub state: Option<String>,
}

fn state_of(s: &str) -> Result<TakedownState, ApiError> {
    Ok(match s {
        "found" => TakedownState::Found,
        "confirmed" => TakedownState::Confirmed,
        "notice_sent" => TakedownState::NoticeSent,
        "taken_down" => TakedownState::TakenDown,
        "dismissed" => TakedownState::Dismissed,
        _ => return Err(AppError::invalid("state", "found, confirmed, notice_sent, taken_down or dismissed").into()),
    })
}

/// The lookalikes found, newest first (at most 500).
#[utoipa::path(get, path = "/api/v1/admin/soc/takedowns", operation_id = "soc_takedowns", tag = "security", params(TakedownQuery), security(("bearer" = [])),
    responses((status = 200, body = Vec<Object>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn list(
    State(s): State<AppState>,
    _analyst: Analyst,
    ApiQuery(q): ApiQuery<TakedownQuery>,
) -> Result<Json<Vec<Takedown>>, ApiError> {
    let state = q.state.as_deref().map(state_of).transpose()?;
    Ok(Json(s.app.takedowns(state, 500)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct DomainPath {
    pub domain: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepBody {
    /// The next state: `confirmed`, `notice_sent`, `taken_down` or `dismissed`.
    pub state: String,
    /// What was done (the registrar written to, the notice's reference), up to 2,000
    /// characters.
    #[serde(default)]
    pub note: String,
}

/// Moves a lookalike along its takedown: found → confirmed → notice sent → taken down, or
/// dismissed before the notice.
#[utoipa::path(post, path = "/api/v1/admin/soc/takedowns/{domain}", operation_id = "soc_takedown_step", tag = "security", params(DomainPath), request_body = StepBody, security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn step(
    State(s): State<AppState>,
    Analyst(who): Analyst,
    ApiPath(p): ApiPath<DomainPath>,
    ApiJson(b): ApiJson<StepBody>,
) -> Result<Json<Takedown>, ApiError> {
    let to = state_of(&b.state)?;
    Ok(Json(s.app.move_takedown(&who, &p.domain, to, &b.note).await?))
}

pub(crate) const TAKEDOWNS_JS: &str = r#"
(function () {
  const { $, esc, T, poll } = window.TesseraConsole;
  const next = { found: ['confirmed', 'dismissed'], confirmed: ['notice_sent', 'dismissed'], notice_sent: ['taken_down'] };
  const words = { confirmed: T('Confirm', 'Confirmer'), dismissed: T('Dismiss', 'Écarter'), notice_sent: T('Notice sent', 'Notification envoyée'), taken_down: T('Taken down', 'Retiré') };
  poll('/api/v1/admin/soc/takedowns', 3000, (list) => {
    $('s-takedowns').tBodies[0].innerHTML = list.slice(0, 50).map((x) => '<tr><td class="mono">' + esc(x.domain) + '</td><td>' + x.hit.score +
      '</td><td>' + esc(x.hit.techniques.map((t) => t.technique + (t.class ? ' (' + t.class + ')' : '')).join(', ')) + '</td><td>' + esc(x.state.replace('_', ' ')) + '</td><td>' + esc(x.source) + '</td><td>' +
      (next[x.state] || []).map((n) => '<button type="button" data-domain="' + esc(x.domain) + '" data-to="' + n + '">' + words[n] + '</button>').join(' ') + '</td></tr>').join('');
  });
  $('s-takedowns').addEventListener('click', async (e) => {
    const d = e.target && e.target.dataset;
    if (!d || !d.domain) return;
    await fetch('/api/v1/admin/soc/takedowns/' + encodeURIComponent(d.domain), { method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ state: d.to, note: '' }) });
  });
})();
"#;
