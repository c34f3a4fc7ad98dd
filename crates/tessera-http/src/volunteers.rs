//! Volunteers over HTTP: the public application (an account applies for itself, sees its
//! state and answers its offer), and the coordinators' side (the programme, a JSON-lines
//! import, matching runs with their explanations, overrides, offers, the roster and the
//! console's figures). The applicant's page is `/volunteer`, the coordinators' console
//! `/operator/volunteers`.

use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, Authed, MaybeAuthed, VolunteerCoordinator};
use crate::pages::i18n::tr;
use crate::pages::{layout, PageError};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use maud::{html, PreEscaped};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tessera_app::volunteers::{
    ApplicationForm, ConsoleView, MyApplication, OfferView, OverrideRequest, Programme, RosterReport, RunReport,
    MAX_IMPORT_BYTES,
};
use tessera_app::AppError;
use utoipa::{IntoParams, ToSchema};

/// A programme of 45,000 positions over its days is a few megabytes of JSON.
const MAX_PROGRAMME_BYTES: usize = 32 << 20;

pub(crate) fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/volunteers/me", get(me))
        .route("/api/v1/volunteers/applications", post(apply))
        .route("/api/v1/volunteers/offers/{id}/answer", post(answer))
        .route("/api/v1/volunteers/offers", get(offers))
        .route(
            "/api/v1/volunteers/programme",
            get(programme).post(put_programme).layer(axum::extract::DefaultBodyLimit::max(MAX_PROGRAMME_BYTES)),
        )
        .route("/api/v1/volunteers/imports", post(import).layer(axum::extract::DefaultBodyLimit::max(MAX_IMPORT_BYTES)))
        .route("/api/v1/volunteers/runs", post(run).get(latest_run))
        .route("/api/v1/volunteers/applications/{id}/explanation", get(explanation))
        .route("/api/v1/volunteers/overrides", post(override_))
        .route("/api/v1/volunteers/roster", post(build_roster).get(roster))
        .route("/api/v1/volunteers/console", get(console_figures))
}

pub(crate) fn page_routes() -> Router<AppState> {
    Router::new().route("/volunteer", get(applicant_page)).route("/operator/volunteers", get(console_page))
}

/// The application form. Languages map a two-letter code to a level (`A1` to `C2`); dates are
/// `YYYY-MM-DD`; missions and venues are the programme's codes, best first.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VolunteerApplicationBody {
    pub birth_date: String,
    /// Two uppercase letters (`FR`).
    pub country: String,
    pub home_region: String,
    /// `woman`, `man`, `other` or `not_said`.
    pub gender: String,
    #[serde(default)]
    pub disability: bool,
    #[schema(value_type = Object)]
    pub languages: BTreeMap<String, String>,
    #[serde(default)]
    pub skills: Vec<String>,
    pub available_from: String,
    pub available_to: String,
    #[serde(default)]
    pub preferred_missions: Vec<String>,
    #[serde(default)]
    pub preferred_venues: Vec<String>,
    #[serde(default)]
    pub needs_lodging: bool,
    #[serde(default)]
    pub experience: Vec<String>,
}

impl From<VolunteerApplicationBody> for ApplicationForm {
    fn from(b: VolunteerApplicationBody) -> Self {
        ApplicationForm {
            birth_date: b.birth_date,
            country: b.country,
            home_region: b.home_region,
            gender: b.gender,
            disability: b.disability,
            languages: b.languages,
            skills: b.skills,
            available_from: b.available_from,
            available_to: b.available_to,
            preferred_missions: b.preferred_missions,
            preferred_venues: b.preferred_venues,
            needs_lodging: b.needs_lodging,
            experience: b.experience,
            screening: None,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct VolunteerOfferDto {
    pub id: i64,
    pub application: i64,
    pub mission: String,
    pub mission_name: String,
    pub venue: String,
    pub venue_name: String,
    pub offered_at: i64,
    /// Answers are taken strictly before it (unix seconds).
    pub deadline: i64,
    /// `offered`, `accepted`, `refused`, `withdrawn` or `expired`.
    pub state: String,
    pub answered_at: Option<i64>,
}

impl From<OfferView> for VolunteerOfferDto {
    fn from(o: OfferView) -> Self {
        VolunteerOfferDto {
            id: o.id,
            application: o.application,
            mission: o.mission,
            mission_name: o.mission_name,
            venue: o.venue,
            venue_name: o.venue_name,
            offered_at: o.offered_at,
            deadline: o.deadline,
            state: o.state,
            answered_at: o.answered_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct VolunteerApplicationDto {
    pub id: i64,
    /// `submitted`, `offered`, `accepted` or `refused`.
    pub state: String,
    pub submitted_at: i64,
    pub offers: Vec<VolunteerOfferDto>,
}

impl From<MyApplication> for VolunteerApplicationDto {
    fn from(m: MyApplication) -> Self {
        VolunteerApplicationDto {
            id: m.id,
            state: m.state,
            submitted_at: m.submitted_at,
            offers: m.offers.into_iter().map(Into::into).collect(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct VolunteerMeDto {
    /// `null` until the account applies.
    pub application: Option<VolunteerApplicationDto>,
}

/// The caller's application and offers.
#[utoipa::path(get, path = "/api/v1/volunteers/me", operation_id = "volunteers_me", tag = "volunteers", security(("bearer" = [])),
    responses((status = 200, body = VolunteerMeDto), (status = 401, body = ErrorBody)))]
pub(crate) async fn me(State(s): State<AppState>, Authed(who): Authed) -> Result<Json<VolunteerMeDto>, ApiError> {
    Ok(Json(VolunteerMeDto { application: s.app.my_volunteering(&who).await?.map(Into::into) }))
}

/// Applies to volunteer, for oneself: every fault and every failed entry rule is reported at
/// once (422), and nothing is stored unless there is none; one application per account (409).
#[utoipa::path(post, path = "/api/v1/volunteers/applications", operation_id = "volunteers_apply", tag = "volunteers", request_body = VolunteerApplicationBody, security(("bearer" = [])),
    responses((status = 200, body = VolunteerApplicationDto), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn apply(
    State(s): State<AppState>,
    Authed(who): Authed,
    ApiJson(b): ApiJson<VolunteerApplicationBody>,
) -> Result<Json<VolunteerApplicationDto>, ApiError> {
    Ok(Json(s.app.apply_to_volunteer(&who, &b.into()).await?.into()))
}

#[derive(Deserialize, IntoParams)]
pub struct VolunteerIdPath {
    pub id: i64,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VolunteerAnswerBody {
    /// `true` accepts the offer, `false` refuses it.
    pub accept: bool,
}

/// Accepts or refuses one's offer before its deadline; of two answers at once one wins, the
/// other gets 409.
#[utoipa::path(post, path = "/api/v1/volunteers/offers/{id}/answer", operation_id = "volunteers_answer", tag = "volunteers", params(VolunteerIdPath), request_body = VolunteerAnswerBody, security(("bearer" = [])),
    responses((status = 200, body = VolunteerOfferDto), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn answer(
    State(s): State<AppState>,
    Authed(who): Authed,
    ApiPath(p): ApiPath<VolunteerIdPath>,
    ApiJson(b): ApiJson<VolunteerAnswerBody>,
) -> Result<Json<VolunteerOfferDto>, ApiError> {
    Ok(Json(s.app.answer_volunteer_offer(&who, p.id, b.accept).await?.into()))
}

/// Every offer with its state as of now (coordinators).
#[utoipa::path(get, path = "/api/v1/volunteers/offers", operation_id = "volunteers_offers", tag = "volunteers", security(("bearer" = [])),
    responses((status = 200, body = Vec<VolunteerOfferDto>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn offers(
    State(s): State<AppState>,
    VolunteerCoordinator(who): VolunteerCoordinator,
) -> Result<Json<Vec<VolunteerOfferDto>>, ApiError> {
    Ok(Json(s.app.volunteer_offers(&who).await?.into_iter().map(Into::into).collect()))
}

/// The programme: policy (eligibility, weights, arc limits), missions, venues, positions per
/// day, the refusal scope, the days to answer an offer, rest rules and shift hours.
#[utoipa::path(get, path = "/api/v1/volunteers/programme", operation_id = "volunteers_programme", tag = "volunteers", security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn programme(
    State(s): State<AppState>,
    VolunteerCoordinator(_who): VolunteerCoordinator,
) -> Result<Json<Programme>, ApiError> {
    Ok(Json(s.app.volunteer_programme().await?))
}

/// Replaces the programme (coordinators); checked as a run would check it.
#[utoipa::path(post, path = "/api/v1/volunteers/programme", operation_id = "volunteers_put_programme", tag = "volunteers", request_body = Object, security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn put_programme(
    State(s): State<AppState>,
    VolunteerCoordinator(who): VolunteerCoordinator,
    ApiJson(p): ApiJson<Programme>,
) -> Result<Json<Programme>, ApiError> {
    Ok(Json(s.app.put_volunteer_programme(&who, p).await?))
}

#[derive(Serialize, ToSchema)]
pub struct VolunteerImportDto {
    pub stored: usize,
}

/// Imports applications from JSON lines, one application form a line (with an optional
/// `screening`: `passed`, `pending` or `failed`), all or none: a bad line and nothing is
/// stored, every bad line reported with its number.
#[utoipa::path(post, path = "/api/v1/volunteers/imports", operation_id = "volunteers_import", tag = "volunteers", request_body(content = String, content_type = "text/plain"), security(("bearer" = [])),
    responses((status = 200, body = VolunteerImportDto), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn import(
    State(s): State<AppState>,
    VolunteerCoordinator(who): VolunteerCoordinator,
    body: Bytes,
) -> Result<Json<VolunteerImportDto>, ApiError> {
    let text = std::str::from_utf8(&body).map_err(|_| AppError::invalid("file", "not UTF-8"))?;
    Ok(Json(VolunteerImportDto { stored: s.app.import_volunteers(&who, text).await?.stored }))
}

/// Runs the matching over every application and makes one offer per proposal (coordinators):
/// figures, fairness by group, unfilled positions with their reason, override outcomes.
#[utoipa::path(post, path = "/api/v1/volunteers/runs", operation_id = "volunteers_run", tag = "volunteers", security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn run(
    State(s): State<AppState>,
    VolunteerCoordinator(who): VolunteerCoordinator,
) -> Result<Json<RunReport>, ApiError> {
    Ok(Json(s.app.run_volunteer_matching(&who).await?))
}

/// The latest run's report (coordinators); 404 before the first.
#[utoipa::path(get, path = "/api/v1/volunteers/runs", operation_id = "volunteers_latest_run", tag = "volunteers", security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn latest_run(
    State(s): State<AppState>,
    VolunteerCoordinator(who): VolunteerCoordinator,
) -> Result<Json<RunReport>, ApiError> {
    let r = s.app.latest_volunteer_run(&who).await?;
    Ok(Json(r.ok_or_else(|| AppError::NotFound("matching run".into()))?))
}

/// Why an application was proposed where it was (by the run that made its latest offer), or
/// left out by the latest run: the score term by term and the buckets not chosen with their
/// reason (coordinators).
#[utoipa::path(get, path = "/api/v1/volunteers/applications/{id}/explanation", operation_id = "volunteers_explanation", tag = "volunteers", params(VolunteerIdPath), security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn explanation(
    State(s): State<AppState>,
    VolunteerCoordinator(who): VolunteerCoordinator,
    ApiPath(p): ApiPath<VolunteerIdPath>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let e = s.app.volunteer_explanation(&who, p.id).await?;
    Ok(Json(e.ok_or_else(|| AppError::NotFound(format!("application {} in a matching run", p.id)))?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VolunteerOverrideBody {
    pub application: i64,
    /// `force` (assign to `mission` at `venue`), `forbid` (never there) or `forbid_all`.
    pub action: String,
    #[serde(default)]
    pub mission: Option<String>,
    #[serde(default)]
    pub venue: Option<String>,
    /// Why, kept for the audit.
    pub reason: String,
}

#[derive(Serialize, ToSchema)]
pub struct VolunteerOverrideDto {
    pub id: i64,
    pub application: i64,
    /// The decision as the matcher reads it (JSON).
    pub action: String,
    pub by: String,
    pub reason: String,
    pub at: i64,
    /// The run that carried out a forced assignment.
    pub run: Option<i64>,
}

/// A coordinator's override with its reason (audited). A forced assignment that breaks a hard
/// constraint is refused (422) with the constraints named, and nothing is stored.
#[utoipa::path(post, path = "/api/v1/volunteers/overrides", operation_id = "volunteers_override", tag = "volunteers", request_body = VolunteerOverrideBody, security(("bearer" = [])),
    responses((status = 200, body = VolunteerOverrideDto), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn override_(
    State(s): State<AppState>,
    VolunteerCoordinator(who): VolunteerCoordinator,
    ApiJson(b): ApiJson<VolunteerOverrideBody>,
) -> Result<Json<VolunteerOverrideDto>, ApiError> {
    let req = OverrideRequest {
        application: b.application,
        action: b.action,
        mission: b.mission,
        venue: b.venue,
        reason: b.reason,
    };
    let o = s.app.volunteer_override(&who, &req).await?;
    Ok(Json(VolunteerOverrideDto {
        id: o.id,
        application: o.application,
        action: o.action,
        by: o.by,
        reason: o.reason,
        at: o.at.0,
        run: o.run,
    }))
}

/// Rosters the accepted volunteers onto daily shifts under the rest rules (coordinators): the
/// shift lists per venue and day, for the venues' desks.
#[utoipa::path(post, path = "/api/v1/volunteers/roster", operation_id = "volunteers_build_roster", tag = "volunteers", security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn build_roster(
    State(s): State<AppState>,
    VolunteerCoordinator(who): VolunteerCoordinator,
) -> Result<Json<RosterReport>, ApiError> {
    Ok(Json(s.app.build_volunteer_roster(&who).await?))
}

/// The latest roster (coordinators); 404 before the first.
#[utoipa::path(get, path = "/api/v1/volunteers/roster", operation_id = "volunteers_roster", tag = "volunteers", security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn roster(
    State(s): State<AppState>,
    VolunteerCoordinator(who): VolunteerCoordinator,
) -> Result<Json<RosterReport>, ApiError> {
    Ok(Json(s.app.volunteer_roster(&who).await?.ok_or_else(|| AppError::NotFound("roster".into()))?))
}

/// The console's live figures (coordinators): counts, the latest run, positions filled per
/// mission and venue, offers outstanding, overrides.
#[utoipa::path(get, path = "/api/v1/volunteers/console", operation_id = "volunteers_console", tag = "volunteers", security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn console_figures(
    State(s): State<AppState>,
    VolunteerCoordinator(who): VolunteerCoordinator,
) -> Result<Json<ConsoleView>, ApiError> {
    Ok(Json(s.app.volunteer_console(&who).await?))
}

fn when(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .map_or_else(|_| t.to_string(), |d| format!("{} {:02}:{:02} UTC", d.date(), d.hour(), d.minute()))
}

/// The applicant's page: the form until they apply, then the state of their application and
/// their offer, to accept or refuse.
async fn applicant_page(State(s): State<AppState>, MaybeAuthed(who): MaybeAuthed) -> Result<Response, PageError> {
    let Some(who) = who else { return Ok(Redirect::to("/login?next=/volunteer").into_response()) };
    let mine = s.app.my_volunteering(&who).await.map_err(|e| PageError(e.into()))?;
    let programme = s.app.volunteer_programme().await.map_err(|e| PageError(e.into()))?;
    let body = html! {
        div.card #volunteer {
            h2 { (tr("Volunteer", "Devenir volontaire")) }
            p #v-status role="status" {}
            @if let Some(m) = &mine {
                p { (tr("Your application", "Votre candidature")) " #" (m.id) ": " strong #v-state { (m.state) } }
                @if m.offers.is_empty() {
                    p.muted { (tr("No offer yet: matching runs are announced by mail.", "Pas encore d'offre : les appariements sont annoncés par courriel.")) }
                }
                @for o in &m.offers {
                    div.offer {
                        p { (tr("Offer", "Offre")) ": " strong { (o.mission_name) } " · " (o.venue_name) }
                        p.muted { (tr("Answer before", "Répondre avant le")) " " (when(o.deadline)) " · " (tr("state", "état")) ": " (o.state) }
                        @if o.state == "offered" {
                            button type="button" data-offer=(o.id) data-accept="true" { (tr("Accept", "Accepter")) }
                            " "
                            button type="button" data-offer=(o.id) data-accept="false" { (tr("Refuse", "Refuser")) }
                        }
                    }
                }
            } @else {
                form #v-form {
                    label for="v-birth" { (tr("Date of birth", "Date de naissance")) }
                    input #v-birth name="birth_date" type="date" required;
                    label for="v-country" { (tr("Country of residence (two letters)", "Pays de résidence (deux lettres)")) }
                    input #v-country name="country" maxlength="2" value="FR" required;
                    label for="v-region" { (tr("Home region", "Région")) }
                    input #v-region name="home_region" value="IDF" required;
                    label for="v-gender" { (tr("Gender", "Genre")) }
                    select #v-gender name="gender" {
                        option value="not_said" { (tr("Rather not say", "Non précisé")) }
                        option value="woman" { (tr("Woman", "Femme")) }
                        option value="man" { (tr("Man", "Homme")) }
                        option value="other" { (tr("Other", "Autre")) }
                    }
                    label for="v-languages" { (tr("Languages with levels (fr:C2, en:B2)", "Langues et niveaux (fr:C2, en:B2)")) }
                    input #v-languages name="languages" value="fr:C2" required;
                    label for="v-skills" { (tr("Skills, comma-separated", "Compétences, séparées par des virgules")) }
                    input #v-skills name="skills";
                    label for="v-from" { (tr("Available from", "Disponible du")) }
                    input #v-from name="available_from" type="date" required;
                    label for="v-to" { (tr("Available until", "Disponible jusqu'au")) }
                    input #v-to name="available_to" type="date" required;
                    label for="v-missions" { (tr("Preferred missions, best first", "Missions préférées, la meilleure d'abord")) }
                    input #v-missions name="preferred_missions" list="v-mission-list";
                    datalist #v-mission-list { @for m in programme.missions.iter().take(100) { option value=(m.code.as_str()) { (m.name) } } }
                    label for="v-venues" { (tr("Preferred venues, best first", "Sites préférés, le meilleur d'abord")) }
                    input #v-venues name="preferred_venues" list="v-venue-list";
                    datalist #v-venue-list { @for v in programme.venues.iter().take(100) { option value=(v.id.as_str()) { (v.name) } } }
                    label { input name="needs_lodging" type="checkbox"; " " (tr("I need lodging", "J'ai besoin d'un hébergement")) }
                    label { input name="disability" type="checkbox"; " " (tr("I declare a disability", "Je déclare un handicap")) }
                    button type="submit" { (tr("Apply", "Candidater")) }
                }
            }
        }
        style { ".offer{border-top:1px solid #dde3ee;padding-top:.4rem;margin-top:.8rem} #v-form label{display:block;margin-top:.5rem}" }
        script { (PreEscaped(APPLICANT_JS)) }
    };
    Ok(layout(tr("Volunteer", "Volontariat"), Some(&who), None, s.demo, body).into_response())
}

pub(crate) const APPLICANT_JS: &str = r#"
(function () {
  const status = document.getElementById('v-status');
  const say = (b, fallback) => { status.textContent = (b && b.error && b.error.message) || fallback; };
  const list = (v) => v.split(',').map((x) => x.trim()).filter((x) => x);
  const form = document.getElementById('v-form');
  if (form) form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = new FormData(form);
    const languages = {};
    for (const pair of list(f.get('languages'))) { const [code, level] = pair.split(':').map((x) => x.trim()); languages[code] = level || ''; }
    const body = { birth_date: f.get('birth_date'), country: f.get('country'), home_region: f.get('home_region'), gender: f.get('gender'),
      disability: f.get('disability') === 'on', languages, skills: list(f.get('skills')), available_from: f.get('available_from'),
      available_to: f.get('available_to'), preferred_missions: list(f.get('preferred_missions')), preferred_venues: list(f.get('preferred_venues')),
      needs_lodging: f.get('needs_lodging') === 'on' };
    const r = await fetch('/api/v1/volunteers/applications', { method: 'POST', credentials: 'same-origin', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    if (r.ok) { location.reload(); return; }
    say(await r.json().catch(() => null), 'failed');
  });
  document.getElementById('volunteer').addEventListener('click', async (e) => {
    const id = e.target && e.target.dataset && e.target.dataset.offer;
    if (!id) return;
    const r = await fetch('/api/v1/volunteers/offers/' + id + '/answer', { method: 'POST', credentials: 'same-origin', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ accept: e.target.dataset.accept === 'true' }) });
    if (r.ok) { location.reload(); return; }
    say(await r.json().catch(() => null), 'failed');
  });
})();
"#;

/// The coordinators' console: live counts, positions filled per mission and venue, offers
/// outstanding, overrides, a "run matching" button with its result and fairness figures, and
/// the roster.
async fn console_page(
    State(s): State<AppState>,
    crate::pages::VolunteersPage(who): crate::pages::VolunteersPage,
) -> Result<Response, PageError> {
    let figure = crate::pages::console::figure;
    let body = html! {
        div.card {
            h2 { (tr("Volunteers", "Volontaires")) }
            p.stale #stale role="status" hidden {}
            div.figures {
                (figure(tr("Applications", "Candidatures"), "v-applications"))
                (figure(tr("Offers outstanding", "Offres en attente"), "v-offered"))
                (figure(tr("Accepted", "Acceptées"), "v-accepted"))
                (figure(tr("Refused", "Refusées"), "v-refused"))
                (figure(tr("Expired", "Expirées"), "v-expired"))
                (figure(tr("Runs", "Appariements"), "v-runs"))
                (figure(tr("Overrides", "Dérogations"), "v-overrides"))
            }
            h3 { (tr("Matching", "Appariement")) }
            button #v-run type="button" { (tr("Run matching", "Lancer l'appariement")) }
            " "
            button #v-roster type="button" { (tr("Build the roster", "Établir le planning")) }
            p #v-run-status role="status" {}
            div.figures {
                (figure(tr("Last run: matched", "Dernier appariement : placés"), "v-matched"))
                (figure(tr("Open positions", "Postes ouverts"), "v-open"))
                (figure(tr("Unfilled buckets", "Postes non pourvus"), "v-unfilled"))
                (figure(tr("Impact ratio, gender", "Ratio d'impact, genre"), "v-ir-gender"))
                (figure(tr("Impact ratio, age", "Ratio d'impact, âge"), "v-ir-age"))
                (figure(tr("Impact ratio, country", "Ratio d'impact, pays"), "v-ir-country"))
            }
            h3 { (tr("Selection by group", "Sélection par groupe")) }
            table #v-fairness tabindex="0" { thead { tr {
                th { (tr("Group", "Groupe")) } th { (tr("Applicants", "Candidats")) } th { (tr("Eligible", "Éligibles")) } th { (tr("Proposed or placed", "Proposés ou placés")) }
            } } tbody {} }
            h3 { (tr("Unfilled, with the reason", "Non pourvus, avec la raison")) }
            table #v-unfilled-list tabindex="0" { thead { tr {
                th { (tr("Mission", "Mission")) } th { (tr("Venue", "Site")) } th { (tr("Open", "Ouverts")) } th { (tr("Reason", "Raison")) }
            } } tbody {} }
            h3 { (tr("Positions per mission", "Postes par mission")) }
            table #v-missions tabindex="0" { thead { tr {
                th { (tr("Mission", "Mission")) } th { (tr("Positions", "Postes")) } th { (tr("Accepted", "Acceptés")) } th { (tr("Outstanding", "En attente")) }
            } } tbody {} }
            h3 { (tr("Positions per venue", "Postes par site")) }
            table #v-venues tabindex="0" { thead { tr {
                th { (tr("Venue", "Site")) } th { (tr("Positions", "Postes")) } th { (tr("Accepted", "Acceptés")) } th { (tr("Outstanding", "En attente")) }
            } } tbody {} }
            h3 { (tr("Offers outstanding", "Offres en attente")) }
            table #v-outstanding tabindex="0" { thead { tr {
                th { "#" } th { (tr("Application", "Candidature")) } th { (tr("Mission", "Mission")) } th { (tr("Venue", "Site")) } th { (tr("Deadline", "Échéance")) }
            } } tbody {} }
            h3 { (tr("Overrides", "Dérogations")) }
            table #v-override-list tabindex="0" { thead { tr {
                th { "#" } th { (tr("Application", "Candidature")) } th { (tr("Decision", "Décision")) } th { (tr("By", "Par")) } th { (tr("Reason", "Raison")) } th { (tr("Run", "Appariement")) }
            } } tbody {} }
        }
        (crate::pages::console::head())
        script { (PreEscaped(CONSOLE_JS)) }
    };
    Ok(layout(tr("Volunteers", "Volontaires"), Some(&who), None, s.demo, body).into_response())
}

pub(crate) const CONSOLE_JS: &str = r#"
(function () {
  const { $, esc, T, poll } = window.TesseraConsole;
  const n = (pairs, k) => { const p = pairs.find((x) => x[0] === k); return p ? p[1] : 0; };
  const ratio = (x) => (x === null || x === undefined) ? '–' : x.toFixed(2);
  const fill = (id, rows) => { $(id).tBodies[0].innerHTML = rows.map((r) => '<tr><td>' + esc(r.key + ' · ' + r.name) + '</td><td>' + r.positions + '</td><td>' + r.accepted + '</td><td>' + r.outstanding + '</td></tr>').join(''); };
  poll('/api/v1/volunteers/console', 3000, (c) => {
    $('v-applications').textContent = c.counts.applications.reduce((s, p) => s + p[1], 0).toLocaleString();
    for (const st of ['offered', 'accepted', 'refused', 'expired']) $('v-' + st).textContent = n(c.counts.offers, st).toLocaleString();
    $('v-runs').textContent = c.counts.runs; $('v-overrides').textContent = c.counts.overrides;
    const r = c.latest_run;
    if (r) {
      const s = r.summary;
      $('v-matched').textContent = s.stats.matched.toLocaleString() + ' / ' + s.stats.applicants.toLocaleString();
      $('v-open').textContent = s.stats.open_positions.toLocaleString();
      $('v-unfilled').textContent = s.unfilled.length.toLocaleString();
      $('v-ir-gender').textContent = ratio(s.impact_ratios.gender);
      $('v-ir-age').textContent = ratio(s.impact_ratios.age_band);
      $('v-ir-country').textContent = ratio(s.impact_ratios.country);
      const groups = [].concat(s.fairness.by_gender, s.fairness.by_age_band, s.fairness.by_disability, s.fairness.by_country.slice(0, 8));
      $('v-fairness').tBodies[0].innerHTML = groups.map((g) => '<tr><td>' + esc(g.group) + '</td><td>' + g.applicants + '</td><td>' + g.eligible + '</td><td>' + (g.proposed + g.placed) + '</td></tr>').join('');
      $('v-unfilled-list').tBodies[0].innerHTML = s.unfilled.slice(0, 20).map((u) => '<tr><td>' + esc(u.mission) + '</td><td>' + esc(u.venue) + '</td><td>' + u.open + '</td><td>' + esc(u.reason) + '</td></tr>').join('');
    }
    fill('v-missions', c.by_mission.slice(0, 80));
    fill('v-venues', c.by_venue.slice(0, 80));
    $('v-outstanding').tBodies[0].innerHTML = c.outstanding.map((o) => '<tr><td>' + o.id + '</td><td>' + o.application + '</td><td>' + esc(o.mission_name) + '</td><td>' + esc(o.venue_name) + '</td><td>' + new Date(o.deadline * 1000).toLocaleString() + '</td></tr>').join('');
    $('v-override-list').tBodies[0].innerHTML = c.overrides.map((o) => '<tr><td>' + o.id + '</td><td>' + o.application + '</td><td class="mono">' + esc(o.action) + '</td><td>' + esc(o.by) + '</td><td>' + esc(o.reason) + '</td><td>' + (o.run || '–') + '</td></tr>').join('');
  });
  async function post(url, done) {
    $('v-run-status').textContent = T('Working…', 'En cours…');
    const r = await fetch(url, { method: 'POST', credentials: 'same-origin' });
    const b = await r.json().catch(() => null);
    $('v-run-status').textContent = r.ok ? done(b) : ((b && b.error && b.error.message) || T('failed', 'échec'));
  }
  $('v-run').addEventListener('click', () => post('/api/v1/volunteers/runs', (b) => T('Run', 'Appariement') + ' #' + b.run + ': ' +
    b.summary.offers_made.toLocaleString() + ' ' + T('offers made', 'offres faites') + ', ' + b.summary.unfilled.length + ' ' + T('buckets unfilled', 'postes non pourvus')));
  $('v-roster').addEventListener('click', () => post('/api/v1/volunteers/roster', (b) => b.assignments.toLocaleString() + ' ' + T('shifts assigned to', 'vacations pour') + ' ' +
    b.volunteers.toLocaleString() + ' ' + T('volunteers', 'volontaires') + ', ' + b.unfilled_shifts + ' ' + T('shifts short', 'vacations incomplètes')));
})();
"#;
