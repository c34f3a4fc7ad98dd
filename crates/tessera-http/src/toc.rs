//! The operations centre over HTTP: the wall (operators), observations from devices and probe
//! agents (each with its own key), incidents and their actions, the contingency switches with
//! their runbooks, rehearsals, and the public status page at `/status`.

use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, Operator};
use crate::pages::i18n::tr;
use crate::pages::{layout, PageError};
use crate::AppState;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use maud::{html, PreEscaped};
use serde::{Deserialize, Serialize};
use tessera_app::toc::{Mode, Observed, Toc};
use tessera_app::AppError;
use tessera_ops::{HealthStatus, Severity};
use utoipa::{IntoParams, ToSchema};

pub(crate) fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/toc/wall", get(wall))
        .route("/api/v1/toc/observations", post(observe))
        .route("/api/v1/toc/incidents", post(open_incident))
        .route("/api/v1/toc/incidents/{id}/acknowledge", post(acknowledge))
        .route("/api/v1/toc/incidents/{id}/resolve", post(resolve))
        .route("/api/v1/toc/incidents/{id}/notes", post(note))
        .route("/api/v1/toc/modes/{mode}", post(switch))
        .route("/api/v1/toc/silences", post(silence))
        .route("/api/v1/toc/silences/{id}", axum::routing::delete(expire_silence))
        .route("/api/v1/toc/maintenance", post(maintenance))
        .route("/api/v1/toc/scenarios", get(scenarios))
        .route("/api/v1/toc/rehearsals", post(rehearse))
        .route("/api/v1/toc/rehearsals/stop", post(stop_rehearsal))
        .route("/api/v1/status", get(status))
}

pub(crate) fn page_routes() -> Router<AppState> {
    Router::new()
        .route("/operator/toc", get(console))
        .route("/operator/toc/runbooks", get(runbooks))
        .route("/status", get(status_page))
}

/// A device or probe agent, by the key of the component or vantage point it speaks for
/// (`Authorization: Observer <name>:<key>`; `tessera admin toc-key <name>` prints it).
pub struct Observer(pub String);

impl FromRequestParts<AppState> for Observer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts.headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        let Some(rest) = header.and_then(|h| h.strip_prefix("Observer ")) else {
            return Err(AppError::Unauthenticated.into());
        };
        let Some((name, key)) = rest.trim().split_once(':') else {
            return Err(AppError::BadToken("the observer header is Observer <name>:<key>").into());
        };
        if name.is_empty() || name.len() > 200 || !Toc::check_observer_key(&state.app, name, key) {
            return Err(AppError::BadToken("observer key").into());
        }
        Ok(Observer(name.to_string()))
    }
}

/// The wall: every component's state and why, redundancy headroom, the status page's services,
/// incidents, the contingency modes, the rehearsal in progress and past runs.
#[utoipa::path(get, path = "/api/v1/toc/wall", operation_id = "toc_wall", tag = "toc", security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn wall(State(s): State<AppState>, _operator: Operator) -> Json<tessera_app::toc::Wall> {
    Json(s.app.toc_wall())
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HealthDto {
    Pass,
    Warn,
    Fail,
}

/// One observation; the receiving node's clock dates it.
#[derive(Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ObservationDto {
    /// The speaker is alive; `device_time_ms` is its own clock (Unix ms), if it says.
    Heartbeat { component: String, device_time_ms: Option<i64> },
    /// A probe of `component` from the speaker's vantage point.
    Probe { component: String, ok: bool, detail: Option<String> },
    /// The speaker's health report's overall status.
    Health { component: String, status: HealthDto, output: Option<String> },
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ObservationsBody {
    /// 1 to 1,000 observations.
    pub observations: Vec<ObservationDto>,
}

#[derive(Serialize, ToSchema)]
pub struct ObservedDto {
    pub taken: usize,
}

/// Heartbeats, health and probe results from a device or a probe agent: a device speaks for
/// itself, a probe agent for its vantage point only.
#[utoipa::path(post, path = "/api/v1/toc/observations", operation_id = "toc_observe", tag = "toc", request_body = ObservationsBody,
    responses((status = 200, body = ObservedDto), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn observe(
    State(s): State<AppState>,
    Observer(name): Observer,
    ApiJson(b): ApiJson<ObservationsBody>,
) -> Result<Json<ObservedDto>, ApiError> {
    let now = s.app.now_ms();
    let text = |t: Option<String>| t.map(|t| t.chars().take(200).collect());
    let batch = b
        .observations
        .into_iter()
        .map(|o| match o {
            ObservationDto::Heartbeat { component, device_time_ms } => {
                Observed::Heartbeat { component, at_ms: now, device_time_ms }
            }
            ObservationDto::Probe { component, ok, detail } => {
                Observed::Probe { component, vantage: name.clone(), ok, at_ms: now, detail: text(detail) }
            }
            ObservationDto::Health { component, status, output } => Observed::Health {
                component,
                status: match status {
                    HealthDto::Pass => HealthStatus::Pass,
                    HealthDto::Warn => HealthStatus::Warn,
                    HealthDto::Fail => HealthStatus::Fail,
                },
                at_ms: now,
                output: text(output),
            },
        })
        .collect();
    Ok(Json(ObservedDto { taken: s.app.toc_observe(&name, batch).await? }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewIncidentBody {
    /// 1 to 200 characters.
    pub title: String,
    /// `sev1` (worst) to `sev4`.
    pub severity: String,
}

/// Opens an incident by hand (something no monitor saw).
#[utoipa::path(post, path = "/api/v1/toc/incidents", operation_id = "toc_open_incident", tag = "toc", request_body = NewIncidentBody, security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn open_incident(
    State(s): State<AppState>,
    Operator(who): Operator,
    ApiJson(b): ApiJson<NewIncidentBody>,
) -> Result<Json<tessera_ops::Incident>, ApiError> {
    let severity =
        Severity::parse(&b.severity).ok_or_else(|| AppError::invalid("severity", "one of sev1, sev2, sev3, sev4"))?;
    Ok(Json(s.app.toc_open_incident(&who, &b.title, severity).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct IncidentPath {
    /// The incident's number on this node.
    pub id: u64,
}

/// Acknowledges an incident: escalation stops.
#[utoipa::path(post, path = "/api/v1/toc/incidents/{id}/acknowledge", operation_id = "toc_acknowledge", tag = "toc", params(IncidentPath), security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn acknowledge(
    State(s): State<AppState>,
    Operator(who): Operator,
    ApiPath(p): ApiPath<IncidentPath>,
) -> Result<Json<tessera_ops::Incident>, ApiError> {
    Ok(Json(s.app.toc_acknowledge(&who, p.id).await?))
}

/// Resolves an incident.
#[utoipa::path(post, path = "/api/v1/toc/incidents/{id}/resolve", operation_id = "toc_resolve", tag = "toc", params(IncidentPath), security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn resolve(
    State(s): State<AppState>,
    Operator(who): Operator,
    ApiPath(p): ApiPath<IncidentPath>,
) -> Result<Json<tessera_ops::Incident>, ApiError> {
    Ok(Json(s.app.toc_resolve(&who, p.id).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    /// A line on the timeline (1 to 2,000 characters); or `case` alone to link a SOC case.
    pub text: Option<String>,
    /// A security case this incident is linked to.
    pub case: Option<u64>,
}

/// Adds a note to an incident's timeline, or links it to a SOC case.
#[utoipa::path(post, path = "/api/v1/toc/incidents/{id}/notes", operation_id = "toc_note", tag = "toc", params(IncidentPath), request_body = NoteBody, security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn note(
    State(s): State<AppState>,
    Operator(who): Operator,
    ApiPath(p): ApiPath<IncidentPath>,
    ApiJson(b): ApiJson<NoteBody>,
) -> Result<Json<tessera_ops::Incident>, ApiError> {
    let inc = match (b.text.as_deref(), b.case) {
        (Some(text), None) => s.app.toc_note(&who, p.id, text).await?,
        (None, Some(case)) => s.app.toc_link_case(&who, p.id, case).await?,
        _ => return Err(AppError::invalid("text", "give a note's text or a case to link, one of the two").into()),
    };
    Ok(Json(inc))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ModePath {
    /// `shop_read_only`, `shop_queue_only`, `waiting_room_paused`, `gates_offline_first`,
    /// `desks_offline_lists` or `results_from_last_state`.
    pub mode: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SwitchBody {
    pub on: bool,
    /// Why (1 to 500 characters): it goes to the audit log.
    pub why: String,
    /// The incident this answers.
    pub incident: Option<u64>,
}

/// Switches a contingency mode on or off: one audited action, in force on every node within
/// two seconds.
#[utoipa::path(post, path = "/api/v1/toc/modes/{mode}", operation_id = "toc_switch", tag = "toc", params(ModePath), request_body = SwitchBody, security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn switch(
    State(s): State<AppState>,
    Operator(who): Operator,
    ApiPath(p): ApiPath<ModePath>,
    ApiJson(b): ApiJson<SwitchBody>,
) -> Result<Json<tessera_app::toc::ModeView>, ApiError> {
    let mode = Mode::ALL
        .iter()
        .copied()
        .find(|m| m.as_str() == p.mode)
        .ok_or_else(|| AppError::NotFound(format!("mode {:?}", p.mode.chars().take(60).collect::<String>())))?;
    Ok(Json(s.app.toc_switch(&who, mode, b.on, &b.why, b.incident).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SilenceBody {
    /// Alertmanager matchers, all of which an alert must match: `venue=sdf`,
    /// `component!=sdf-gate-1`, `kind=~gate|desk`.
    pub matchers: Vec<String>,
    /// 1 to 10,080 minutes from now.
    pub minutes: i64,
    /// Why (1 to 2,000 characters).
    pub comment: String,
}

/// Silences the matching alerts for a while (this node's alerter).
#[utoipa::path(post, path = "/api/v1/toc/silences", operation_id = "toc_silence", tag = "toc", request_body = SilenceBody, security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn silence(
    State(s): State<AppState>,
    Operator(who): Operator,
    ApiJson(b): ApiJson<SilenceBody>,
) -> Result<Json<tessera_ops::alerts::Silence>, ApiError> {
    Ok(Json(s.app.toc_silence(&who, &b.matchers, b.minutes, &b.comment).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct SilencePath {
    pub id: u64,
}

/// Ends a silence now.
#[utoipa::path(delete, path = "/api/v1/toc/silences/{id}", operation_id = "toc_expire_silence", tag = "toc", params(SilencePath), security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn expire_silence(
    State(s): State<AppState>,
    _operator: Operator,
    ApiPath(p): ApiPath<SilencePath>,
) -> Result<axum::http::StatusCode, ApiError> {
    s.app.toc_expire_silence(p.id).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceBody {
    /// A component of the model.
    pub component: String,
    /// Minutes from now, 1 to 10,080; 0 ends the window.
    pub minutes: i64,
}

/// Puts a component in maintenance (or ends it): its state says so and it raises nothing.
#[utoipa::path(post, path = "/api/v1/toc/maintenance", operation_id = "toc_maintenance", tag = "toc", request_body = MaintenanceBody, security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn maintenance(
    State(s): State<AppState>,
    _operator: Operator,
    ApiJson(b): ApiJson<MaintenanceBody>,
) -> Result<axum::http::StatusCode, ApiError> {
    s.app.toc_maintenance(&b.component, b.minutes).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// The failure scenarios this model can rehearse.
#[utoipa::path(get, path = "/api/v1/toc/scenarios", operation_id = "toc_scenarios", tag = "toc", security(("bearer" = [])),
    responses((status = 200, body = Vec<Object>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn scenarios(
    State(s): State<AppState>,
    _operator: Operator,
) -> Json<Vec<tessera_ops::rehearsal::Scenario>> {
    Json(s.app.toc_scenarios())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RehearseBody {
    /// A scenario's id (`GET /api/v1/toc/scenarios`).
    pub scenario: String,
    /// How long the fault lasts, 10 to 3,600 seconds.
    pub seconds: i64,
}

/// Starts a rehearsal: the scenario's faults are played into this node's operations centre.
#[utoipa::path(post, path = "/api/v1/toc/rehearsals", operation_id = "toc_rehearse", tag = "toc", request_body = RehearseBody, security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn rehearse(
    State(s): State<AppState>,
    Operator(who): Operator,
    ApiJson(b): ApiJson<RehearseBody>,
) -> Result<Json<tessera_app::toc::RehearsalView>, ApiError> {
    Ok(Json(s.app.toc_rehearse(&who, &b.scenario, b.seconds)?))
}

/// Ends the rehearsal in progress and returns its score.
#[utoipa::path(post, path = "/api/v1/toc/rehearsals/stop", operation_id = "toc_stop_rehearsal", tag = "toc", security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn stop_rehearsal(
    State(s): State<AppState>,
    _operator: Operator,
) -> Result<Json<tessera_app::toc::RunReport>, ApiError> {
    Ok(Json(s.app.toc_stop_rehearsal().await?))
}

/// The public status page's data: each public service operational, degraded, in partial or
/// major outage or in maintenance, and the degraded modes the public notices.
#[utoipa::path(get, path = "/api/v1/status", operation_id = "public_status", tag = "toc",
    responses((status = 200, body = Object)))]
pub(crate) async fn status(State(s): State<AppState>) -> Json<tessera_app::toc::PublicStatusPage> {
    Json(s.app.public_status())
}

fn status_words(st: tessera_ops::PublicStatus) -> (&'static str, &'static str) {
    use tessera_ops::PublicStatus as P;
    match st {
        P::Operational => (tr("Operational", "Opérationnel"), "ok"),
        P::Maintenance => (tr("Maintenance", "Maintenance"), "maint"),
        P::Degraded => (tr("Degraded performance", "Performances dégradées"), "warn"),
        P::PartialOutage => (tr("Partial outage", "Panne partielle"), "bad"),
        P::MajorOutage => (tr("Major outage", "Panne majeure"), "bad"),
    }
}

/// `/status`: what fans and media see, rendered on the server (it must read without script
/// during an outage) and refreshed every 30 s.
async fn status_page(State(s): State<AppState>) -> Response {
    let page = s.app.public_status();
    let (overall, class) = status_words(page.overall);
    let body = html! {
        div.card {
            h1 { (tr("Service status", "État des services")) }
            p class=(format!("status-{class}")) role="status" { strong { (overall) } }
            @for (notice, since) in &page.notices {
                p.error { (notice) " " span.muted { "(" (tr("since", "depuis")) " " span.when data-ms=(since) { (since / 1000) } ")" } }
            }
            table #status-services { thead { tr { th { (tr("Service", "Service")) } th { (tr("Status", "État")) } } } tbody {
                @for svc in &page.services {
                    @let (words, class) = status_words(svc.status);
                    tr { td { (svc.name) } td class=(format!("status-{class}")) { (words) } }
                }
            } }
            p.muted { (tr("Updated", "Mis à jour")) " " span.when data-ms=(page.at_ms) { (page.at_ms / 1000) } ". " (tr("This page refreshes every 30 seconds.", "Cette page se rafraîchit toutes les 30 secondes.")) }
        }
        script { (PreEscaped(STATUS_JS)) }
    };
    layout(tr("Service status", "État des services"), None, None, s.demo, body).into_response()
}

pub(crate) const STATUS_JS: &str = r#"
(function () {
  for (const el of document.querySelectorAll('.when')) el.textContent = new Date(+el.dataset.ms).toLocaleString();
  setTimeout(() => location.reload(), 30000);
})();
"#;

/// The runbooks of every contingency mode: when to switch, what it does, how to leave.
async fn runbooks(
    State(s): State<AppState>,
    crate::pages::OperatorPage(who): crate::pages::OperatorPage,
) -> Result<Response, PageError> {
    let body = html! {
        div.card {
            h1 { (tr("Contingency runbooks", "Procédures de secours")) }
            @for mode in Mode::ALL {
                section id=(mode.as_str()) {
                    h2.mono { (mode.as_str()) }
                    p { (mode.runbook()) }
                    p.muted { (tr("Answers the loss of", "Répond à la perte de")) ": " (mode.answers().join(", ")) }
                    p { (tr("Switched on the wall", "S'active depuis le mur")) ": " a href="/operator/toc" { "/operator/toc" } " · API: " code { "POST /api/v1/toc/modes/" (mode.as_str()) } }
                }
            }
        }
    };
    Ok(layout(tr("Runbooks", "Procédures"), Some(&who), None, s.demo, body).into_response())
}

/// The wall console: every system and venue with its state, the incident queue with its
/// actions, the contingency switches, rehearsals.
async fn console(
    State(s): State<AppState>,
    crate::pages::OperatorPage(who): crate::pages::OperatorPage,
) -> Result<Response, PageError> {
    let figure = crate::pages::console::figure;
    let body = html! {
        div.card {
            h2 { (tr("Operations centre", "Centre des opérations")) }
            p.stale #stale role="status" hidden {}
            p.muted #t-node {}
            div.figures {
                (figure(tr("Up", "En service"), "t-up"))
                (figure(tr("Degraded", "Dégradés"), "t-degraded"))
                (figure(tr("Down", "En panne"), "t-down"))
                (figure(tr("Unreachable", "Injoignables"), "t-unreachable"))
                (figure(tr("Unknown", "Inconnus"), "t-unknown"))
                (figure(tr("Open incidents", "Incidents ouverts"), "t-open"))
                (figure(tr("Observations", "Observations"), "t-obs"))
            }
            h3 { (tr("Public services", "Services publics")) }
            div #t-services .figures {}
            h3 { (tr("Systems and venues", "Systèmes et sites")) }
            div #t-wall {}
        }
        div.card {
            h3 { (tr("Incidents", "Incidents")) }
            table #t-incidents tabindex="0" { thead { tr {
                th { "#" } th { (tr("Severity", "Gravité")) } th { (tr("Title", "Titre")) } th { (tr("State", "État")) } th { (tr("Opened", "Ouvert")) } th { (tr("Action", "Action")) }
            } } tbody {} }
            h3 { (tr("Contingency modes", "Modes de secours")) }
            p { a href="/operator/toc/runbooks" { (tr("Runbooks", "Procédures")) } }
            table #t-modes tabindex="0" { thead { tr {
                th { (tr("Mode", "Mode")) } th { (tr("State", "État")) } th { (tr("By, why", "Par, pourquoi")) } th { (tr("Switch", "Bascule")) }
            } } tbody {} }
            h3 { (tr("Silences and maintenance", "Silences et maintenance")) }
            form #t-silence.inline {
                label for="t-matcher" { (tr("Silence alerts matching", "Faire taire les alertes qui vérifient")) }
                input #t-matcher placeholder="venue=sdf" required;
                label for="t-minutes" { (tr("for minutes", "pendant (minutes)")) }
                input #t-minutes type="number" min="1" max="10080" value="60";
                label for="t-comment" { (tr("because", "parce que")) }
                input #t-comment required;
                button type="submit" { (tr("Silence", "Faire taire")) }
            }
            form #t-maint.inline {
                label for="t-component" { (tr("Maintenance of component", "Maintenance du composant")) }
                input #t-component placeholder="bercy-gate-3" required;
                label for="t-maint-minutes" { (tr("for minutes (0 ends it)", "pendant (minutes ; 0 y met fin)")) }
                input #t-maint-minutes type="number" min="0" max="10080" value="30";
                button type="submit" { (tr("Set", "Appliquer")) }
            }
            p #t-silence-status role="status" {}
            ul #t-silences {}
            h3 { (tr("Rehearsal", "Répétition")) }
            form #t-rehearse.inline {
                label for="t-scenario" { (tr("Scenario", "Scénario")) }
                select #t-scenario {}
                button type="submit" { (tr("Rehearse for 2 minutes", "Répéter 2 minutes")) }
                button #t-stop type="button" { (tr("Stop and score", "Arrêter et noter")) }
            }
            p #t-rehearsal role="status" {}
            table #t-runs tabindex="0" { thead { tr {
                th { (tr("Scenario", "Scénario")) } th { (tr("Points", "Points")) } th { (tr("Detected in", "Détecté en")) } th { (tr("Acknowledged in", "Acquitté en")) } th { (tr("Missed", "Manqués")) }
            } } tbody {} }
            h3 { (tr("Notifications", "Notifications")) }
            table #t-sent tabindex="0" { thead { tr {
                th { (tr("At", "À")) } th { (tr("Subject", "Objet")) } th { (tr("Sent to", "Envoyé à")) }
            } } tbody {} }
        }
        (crate::pages::console::head())
        script { (PreEscaped(CONSOLE_JS)) }
    };
    Ok(layout(tr("Operations centre", "Centre des opérations"), Some(&who), None, s.demo, body).into_response())
}

pub(crate) const CONSOLE_JS: &str = r#"
(function () {
  const { $, esc, T, poll } = window.TesseraConsole;
  const cls = { up: 'ok', degraded: 'warn', down: 'bad', unreachable: 'bad', unknown: 'muted', maintenance: 'maint' };
  const time = (ms) => (ms ? new Date(ms).toLocaleTimeString() : '–');
  const secs = (ms) => (ms == null ? '–' : Math.round(ms / 1000) + ' s');
  poll('/api/v1/toc/wall', 1000, (w) => {
    $('t-node').textContent = T('This node: ', 'Ce nœud : ') + w.node + (w.leads ? T(' (leads notifications)', ' (envoie les notifications)') : T(' (another node leads)', ' (un autre nœud notifie)'));
    for (const k of ['up', 'degraded', 'down', 'unreachable', 'unknown']) $('t-' + k).textContent = (w.counts[k] || 0).toLocaleString();
    $('t-open').textContent = w.incidents.filter((i) => i.state !== 'resolved').length;
    $('t-obs').textContent = w.observations.toLocaleString();
    $('t-services').innerHTML = w.services.map((s) => '<div><span class="muted">' + esc(s.name) + '</span><strong class="status-' + esc(s.status) + '">' + esc(s.status.replace('_', ' ')) + '</strong></div>').join('');
    const groups = new Map();
    const venues = new Map(w.venues);
    for (const c of w.components) {
      const g = c.venue ? (venues.get(c.venue) || c.venue) : T('Central systems', 'Systèmes centraux');
      if (!groups.has(g)) groups.set(g, []);
      groups.get(g).push(c);
    }
    let html = '';
    for (const [g, cs] of groups) {
      html += '<h4>' + esc(g) + '</h4><div class="tiles">' + cs.map((c) => '<span class="tile st-' + esc(c.state) + '" title="' + esc(c.reason || c.state) + '">' +
        esc(c.name || c.id) + ' <small>' + esc(c.state) + '</small></span>').join('') + '</div>';
    }
    $('t-wall').innerHTML = html;
    $('t-incidents').tBodies[0].innerHTML = w.incidents.map((i) => '<tr><td>' + i.id + '</td><td>' + esc(i.severity) + '</td><td>' + esc(i.title) +
      '</td><td>' + esc(i.state) + '</td><td>' + time(i.opened_ms) + '</td><td>' +
      (i.state === 'triggered' ? '<button type="button" data-ack="' + i.id + '">' + T('Acknowledge', 'Acquitter') + '</button> ' : '') +
      (i.state !== 'resolved' ? '<button type="button" data-resolve="' + i.id + '">' + T('Resolve', 'Résoudre') + '</button>' : '') + '</td></tr>').join('');
    $('t-modes').tBodies[0].innerHTML = w.modes.map((m) => '<tr><td class="mono"><a href="/operator/toc/runbooks#' + esc(m.mode) + '">' + esc(m.mode) + '</a></td><td>' +
      (m.on ? '<span class="error">' + T('ON', 'ACTIF') + '</span>' : T('off', 'inactif')) + '</td><td>' + (m.on ? esc(m.by) + ': ' + esc(m.why) : '') +
      '</td><td><button type="button" data-mode="' + esc(m.mode) + '" data-on="' + (!m.on) + '">' + (m.on ? T('Switch off', 'Désactiver') : T('Switch on', 'Activer')) + '</button></td></tr>').join('');
    const r = w.rehearsal;
    $('t-rehearsal').textContent = r ? T('Rehearsing ', 'Répétition en cours : ') + r.title + T(' until ', ' jusqu\'à ') + time(r.until_ms) : T('No rehearsal running.', 'Aucune répétition en cours.');
    $('t-runs').tBodies[0].innerHTML = w.runs.map((x) => '<tr><td>' + esc(x.title) + '</td><td>' + x.score.points + '/100' + (x.score.passed ? ' ✓' : '') + '</td><td>' + secs(x.score.time_to_detect_ms) +
      '</td><td>' + secs(x.score.time_to_acknowledge_ms) + '</td><td>' + esc(x.score.missed.join(', ')) + '</td></tr>').join('');
    $('t-silences').innerHTML = w.silences.map((x) => '<li>' + esc(x.matchers.join(', ')) + ' · ' + T('until ', 'jusqu\'à ') + time(x.ends_at_ms) +
      ' · ' + esc(x.created_by) + ': ' + esc(x.comment) + ' <button type="button" data-silence="' + x.id + '">' + T('End', 'Terminer') + '</button></li>').join('');
    $('t-sent').tBodies[0].innerHTML = w.notifications.map((n) => '<tr><td>' + time(n.at_ms) + '</td><td>' + esc(n.subject) + '</td><td>' + esc(n.channels.join(', ')) +
      (n.failed.length ? ' <span class="error">' + esc(n.failed.join(', ')) + '</span>' : '') + '</td></tr>').join('');
  });
  const post = (url, body) => fetch(url, { method: 'POST', credentials: 'same-origin', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body || {}) });
  $('t-incidents').addEventListener('click', async (e) => {
    const d = e.target && e.target.dataset;
    if (d && d.ack) await post('/api/v1/toc/incidents/' + d.ack + '/acknowledge');
    if (d && d.resolve) await post('/api/v1/toc/incidents/' + d.resolve + '/resolve');
  });
  $('t-modes').addEventListener('click', async (e) => {
    const d = e.target && e.target.dataset;
    if (!d || !d.mode) return;
    const why = prompt(T('Why? (goes to the audit log)', 'Pourquoi ? (inscrit au journal)'));
    if (!why) return;
    const r = await post('/api/v1/toc/modes/' + d.mode, { on: d.on === 'true', why });
    if (!r.ok) { const b = await r.json(); alert((b.error && b.error.message) || r.status); }
  });
  fetch('/api/v1/toc/scenarios', { credentials: 'same-origin' }).then((r) => r.json()).then((list) => {
    $('t-scenario').innerHTML = list.map((s) => '<option value="' + esc(s.id) + '">' + esc(s.title) + '</option>').join('');
  });
  $('t-rehearse').addEventListener('submit', async (e) => {
    e.preventDefault();
    const r = await post('/api/v1/toc/rehearsals', { scenario: $('t-scenario').value, seconds: 120 });
    if (!r.ok) { const b = await r.json(); $('t-rehearsal').textContent = (b.error && b.error.message) || r.status; }
  });
  $('t-stop').addEventListener('click', () => post('/api/v1/toc/rehearsals/stop'));
  const said = async (r) => { $('t-silence-status').textContent = r.ok ? T('Done.', 'Fait.') : (((await r.json()).error || {}).message || r.status); };
  $('t-silence').addEventListener('submit', async (e) => {
    e.preventDefault();
    said(await post('/api/v1/toc/silences', { matchers: $('t-matcher').value.split(',').map((m) => m.trim()).filter(Boolean), minutes: +$('t-minutes').value, comment: $('t-comment').value }));
  });
  $('t-maint').addEventListener('submit', async (e) => {
    e.preventDefault();
    said(await post('/api/v1/toc/maintenance', { component: $('t-component').value.trim(), minutes: +$('t-maint-minutes').value }));
  });
  $('t-silences').addEventListener('click', async (e) => {
    const id = e.target && e.target.dataset && e.target.dataset.silence;
    if (id) said(await fetch('/api/v1/toc/silences/' + id, { method: 'DELETE', credentials: 'same-origin' }));
  });
})();
"#;
