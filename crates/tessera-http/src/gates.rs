//! The gates over HTTP: the bundle and sync endpoints an enrolled gate calls, the operator's
//! enrolment, annulment and figures, and the operator's live gate page.

use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery, Operator};
use crate::pages::i18n::tr;
use crate::pages::OperatorPage;
use crate::pages::{layout, PageError};
use crate::AppState;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use maud::{html, PreEscaped};
use serde::{Deserialize, Serialize};
use tessera_app::gates::GateIdentity;
use tessera_domain::ErrorCode;
use utoipa::{IntoParams, ToSchema};

pub fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/gate/bundle", get(bundle))
        // A full batch of scans is larger than the API's default body limit.
        .route("/api/v1/gate/sync", post(sync).layer(axum::extract::DefaultBodyLimit::max(MAX_SYNC_BODY)))
        .route("/api/v1/admin/gates", get(overview))
        .route("/api/v1/admin/gates/enroll", post(enroll))
        .route("/api/v1/admin/gates/bundle-key", get(bundle_key))
        .route("/api/v1/admin/entries/{ticket}/annul", post(annul))
        .route("/api/v1/admin/gates/{gate_id}/revoke", post(revoke))
}

/// The gates at scrape time: the store's records, with liveness from every sync this node
/// received (see `App::gates`).
pub async fn samples(s: &AppState, scrape: &mut crate::exposition::Scrape) {
    let Ok(gates) = s.app.gates().await else { return };
    let now_ms = s.app.now_ms();
    let online = gates.iter().filter(|g| now_ms - g.last_sync_at_ms < tessera_app::gates::ONLINE_WITHIN_MS).count();
    scrape.gauge("tessera_gates_online", "Gates that synced in the last 30 s.", online as f64);
    scrape.gauge("tessera_gates", "Gates known to the central system.", gates.len() as f64);
    // Bounded: a venue has tens of gates, an event a few thousand.
    for g in gates.iter().take(10_000) {
        let help = "When each gate last synced (Unix seconds).";
        let labels = vec![("gate", g.gate_id.clone())];
        scrape.labelled_gauge("tessera_gate_last_sync_seconds", help, labels, g.last_sync_at_ms as f64 / 1000.0);
    }
}

pub fn page_routes() -> Router<AppState> {
    Router::new().route("/operator/gates", get(operator_page))
}

type ApiResult<T> = Result<T, ApiError>;

/// `MAX_SYNC_BATCH` scans of at most about 300 bytes each.
const MAX_SYNC_BODY: usize = 2 * 1024 * 1024;

/// An enrolled gate: `Authorization: Bearer <gate token>`.
pub struct Gate(pub GateIdentity);

impl FromRequestParts<AppState> for Gate {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // Checked at the edge already when the request came through the server's accept loop.
        if let Some(g) = parts.extensions.remove::<GateIdentity>() {
            return Ok(Gate(g));
        }
        let token = crate::gate_token(&parts.headers)
            .ok_or_else(|| ApiError::new(ErrorCode::Unauthenticated, "send the gate's enrolment token"))?;
        // A token that is not a valid gate token (forged, expired, revoked, or someone's
        // sign-in) is no authentication: 401, as the document promises, with the reason.
        state.app.gate_identity(token).map(Gate).map_err(|e| match e {
            // The one code whose status depends on where it is met: a bad link is a 400, a bad
            // gate token is no authentication at all.
            tessera_app::AppError::BadToken(why) => ApiError {
                status: StatusCode::UNAUTHORIZED,
                ..ApiError::new(ErrorCode::BadToken, format!("this is not a valid gate enrolment token ({why})"))
            },
            other => other.into(),
        })
    }
}

/// The venue's signed bundle: issuer public keys, sessions, entrances, policy, revocations.
#[utoipa::path(get, path = "/api/v1/gate/bundle", tag = "gates", security(("bearer" = [])),
    responses((status = 200, description = "a signed bundle", body = BundleDto), (status = 401, body = ErrorBody)))]
async fn bundle(State(s): State<AppState>, Gate(g): Gate) -> ApiResult<Response> {
    let b = s.app.gate_bundle(&g.venue_code).await?;
    Ok(Json(BundleDto { key_id: b.key_id, payload: b.payload, signature: b.signature }).into_response())
}

/// A venue bundle as gates download it; they check the signature before reading the payload.
#[derive(Serialize, ToSchema)]
pub struct BundleDto {
    /// Id of the bundle-signing key.
    pub key_id: u32,
    /// The bundle's JSON, base64 (standard alphabet, padded).
    pub payload: String,
    /// Ed25519 signature over the bundle tag and the JSON bytes, hex.
    pub signature: String,
}

/// A new gate's credentials.
#[derive(Serialize, ToSchema)]
pub struct EnrolledDto {
    /// The enrolment token: the gate's bearer token.
    pub token: String,
    /// The bundle public key (hex) and its id, which the gate checks bundles with.
    pub bundle_key: String,
    pub bundle_key_id: u32,
}

/// The key gates check bundles with.
#[derive(Serialize, ToSchema)]
pub struct BundleKeyDto {
    pub id: u32,
    /// Ed25519 public key, hex.
    pub public_key: String,
}

/// Report decisions (idempotent per gate and sequence number) and read the venue's feed.
#[utoipa::path(post, path = "/api/v1/gate/sync", tag = "gates", request_body = tessera_wire::SyncRequest, security(("bearer" = [])),
    responses((status = 200, description = "what was recorded, double entries found, and the feed", body = tessera_wire::SyncReply),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn sync(
    State(s): State<AppState>,
    Gate(g): Gate,
    ApiJson(b): ApiJson<tessera_wire::SyncRequest>,
) -> ApiResult<Response> {
    let reply = s.app.gate_sync(&g, &b).await?;
    let scans = b.scans;
    // One counter update per reason in the batch, not per scan: a batch is up to 5,000 scans.
    let mut by_reason: std::collections::BTreeMap<(bool, &str), u64> = Default::default();
    for sc in &scans {
        *by_reason.entry((sc.admitted, sc.reason.as_str())).or_default() += 1;
    }
    for ((admitted, reason), n) in by_reason {
        let outcome = if admitted { "admitted" } else { "refused" };
        metrics::counter!("tessera_gate_scans_total", "outcome" => outcome, "reason" => reason.to_string())
            .increment(n);
    }
    metrics::counter!("tessera_gate_double_entries_total").increment(reply.double_entries.len() as u64);
    Ok(Json(reply).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrollBody {
    pub gate_id: String,
    pub venue: String,
    /// Entrance code (`Gate-A`); empty or absent: any entrance of the venue.
    #[serde(default)]
    pub entrance: String,
    /// Default one week.
    pub ttl_secs: Option<i64>,
}

/// Enrol a gate: its token (fetch bundle, report scans for that venue only) and the bundle key.
#[utoipa::path(post, path = "/api/v1/admin/gates/enroll", tag = "operators", request_body = EnrollBody, security(("bearer" = [])),
    responses((status = 201, description = "token and bundle public key", body = EnrolledDto), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn enroll(
    State(s): State<AppState>,
    Operator(_op): Operator,
    ApiJson(b): ApiJson<EnrollBody>,
) -> ApiResult<Response> {
    let token = s.app.enroll_gate(&b.gate_id, &b.venue, &b.entrance, b.ttl_secs.unwrap_or(7 * 86_400)).await?;
    let body = EnrolledDto {
        token,
        bundle_key: s.app.bundle_public_key_hex(),
        bundle_key_id: tessera_app::gates::BUNDLE_KEY_ID,
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// The public key gates check bundles with (hex).
#[utoipa::path(get, path = "/api/v1/admin/gates/bundle-key", tag = "operators", security(("bearer" = [])),
    responses((status = 200, description = "key id and hex public key", body = BundleKeyDto)))]
async fn bundle_key(State(s): State<AppState>, Operator(_op): Operator) -> ApiResult<Response> {
    let key = BundleKeyDto { id: tessera_app::gates::BUNDLE_KEY_ID, public_key: s.app.bundle_public_key_hex() };
    Ok(Json(key).into_response())
}

/// The gates' figures, as the operator page draws them.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct GateOverviewDoc {
    now_ms: i64,
    /// Each gate: id, venue, entrance, last sync (Unix ms), `online` (synced within 30 s) and
    /// `revoked_at_ms` when its tokens were revoked.
    #[schema(value_type = Vec<Object>)]
    gates: (),
    /// Entries per gate per minute and refusals by reason since the window's start.
    #[schema(value_type = Object)]
    figures: (),
    /// The latest double entries, each with both scans.
    #[schema(value_type = Vec<Object>)]
    security_events: (),
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OverviewQuery {
    /// Figures since this many minutes ago (default 60, at most 1,440).
    pub minutes: Option<i64>,
}

/// Gates (online, last sync), entries per gate per minute, refusals by reason, security events.
#[utoipa::path(get, path = "/api/v1/admin/gates", operation_id = "gates_overview", tag = "operators", params(OverviewQuery), security(("bearer" = [])),
    responses((status = 200, description = "the gates' figures", body = GateOverviewDoc)))]
async fn overview(
    State(s): State<AppState>,
    Operator(_op): Operator,
    ApiQuery(q): ApiQuery<OverviewQuery>,
) -> ApiResult<Response> {
    let minutes = q.minutes.unwrap_or(60).clamp(1, 1440);
    let now_ms = s.app.now_ms();
    let o = s.app.gate_overview(now_ms - minutes * 60_000).await?;
    let mut v = serde_json::to_value(&o).map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
    v["now_ms"] = now_ms.into();
    Ok(Json(v).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnnulBody {
    pub reason: String,
}

/// Annul a ticket's admission (the turnstile did not turn): it may enter again.
#[utoipa::path(post, path = "/api/v1/admin/entries/{ticket}/annul", tag = "operators",
    params(("ticket" = String, Path, description = "the ticket's code, or its number as in the security events")),
    request_body = AnnulBody, security(("bearer" = [])),
    responses((status = 200, description = "the feed event gates will apply", body = tessera_wire::FeedEvent), (status = 404, body = ErrorBody)))]
async fn annul(
    State(s): State<AppState>,
    Operator(p): Operator,
    ApiPath(ticket): ApiPath<String>,
    ApiJson(b): ApiJson<AnnulBody>,
) -> ApiResult<Response> {
    let e = s.app.annul_entry(&ticket, &b.reason).await?;
    tracing::info!(ticket = %ticket, operator = p.account_id.0, reason = %b.reason, "admission annulled");
    Ok(Json(e).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeBody {
    /// Why (a lost or stolen device, a gate taken out of service): kept with the revocation.
    pub reason: String,
}

/// Revoke every token issued so far to a gate (lost or stolen): refused at once on this node
/// and within seconds on the others. The gate is enrolled again to get a new token.
#[utoipa::path(post, path = "/api/v1/admin/gates/{gate_id}/revoke", operation_id = "revoke_gate", tag = "operators",
    params(("gate_id" = String, Path)), request_body = RevokeBody, security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn revoke(
    State(s): State<AppState>,
    Operator(p): Operator,
    ApiPath(gate_id): ApiPath<String>,
    ApiJson(b): ApiJson<RevokeBody>,
) -> ApiResult<StatusCode> {
    s.app.revoke_gate(&gate_id, &b.reason).await?;
    tracing::info!(gate = %gate_id, operator = p.account_id.0, "gate token revoked");
    Ok(StatusCode::NO_CONTENT)
}

async fn operator_page(State(s): State<AppState>, OperatorPage(who): OperatorPage) -> Result<Response, PageError> {
    let body = html! {
        div.card {
            h2 { (tr("Gates · entries and refusals", "Portiques · entrées et refus")) }
            p.stale #stale role="status" hidden {}
            p.muted { (tr("Live, refreshed every 2 seconds from what the gates report. A gate is online when it synced in the last 30 s.", "En direct, rafraîchi toutes les 2 secondes d’après les portiques. Un portique est en ligne s’il s’est synchronisé dans les 30 dernières secondes.")) }
            div.figures {
                (crate::pages::console::figure(tr("Gates online", "Portiques en ligne"), "g-online"))
                (crate::pages::console::figure(tr("Entries (last hour)", "Entrées (dernière heure)"), "g-entries"))
                (crate::pages::console::figure(tr("Refusals (last hour)", "Refus (dernière heure)"), "g-refusals"))
                (crate::pages::console::figure(tr("Double entries", "Doubles entrées"), "g-double"))
            }
            h3 { (tr("Entries per minute, per gate", "Entrées par minute, par portique")) }
            div.chart #c-entries {}
            h3 { (tr("Refusals by reason (last hour)", "Refus par motif (dernière heure)")) }
            canvas #c-reasons width="640" height="160" {}
            h3 { (tr("Gates", "Portiques")) }
            table #g-gates tabindex="0" { thead { tr { th { (tr("Gate", "Portique")) } th { (tr("Venue", "Site")) } th { (tr("Entrance", "Entrée")) } th { (tr("State", "État")) } th { (tr("Last sync", "Dernière synchro")) } th { (tr("Admitted", "Admis")) } th { (tr("Refused", "Refusés")) } } } tbody {} }
            h3 { (tr("Security events", "Événements de sécurité")) }
            table #g-events tabindex="0" { thead { tr { th { (tr("Ticket", "Billet")) } th { (tr("First entry", "Première entrée")) } th { (tr("Second entry", "Seconde entrée")) } th {} } } tbody {} }
            h3 { (tr("Annul an admission", "Annuler une admission")) }
            p.muted { (tr("When the turnstile did not turn: the ticket may enter again at every gate.", "Quand le tourniquet n’a pas tourné : le billet peut entrer de nouveau à tous les portiques.")) }
            form #g-annul { input name="ticket" placeholder=(tr("ticket code", "code du billet")) aria-label=(tr("ticket code", "code du billet")) required; input name="reason" placeholder=(tr("reason", "motif")) required; button { (tr("Annul", "Annuler")) } }
            p #g-msg {}
            h3 { (tr("Revoke a gate's token", "Révoquer le jeton d’un portique")) }
            p.muted { (tr("A lost or stolen gate device: its token is refused at once, and the gate must be enrolled again.", "Un appareil perdu ou volé : son jeton est refusé aussitôt, et le portique doit être enrôlé de nouveau.")) }
            form #g-revoke { input name="gate" placeholder=(tr("gate id", "identifiant du portique")) aria-label=(tr("gate id", "identifiant du portique")) required; input name="reason" placeholder=(tr("reason", "motif")) aria-label=(tr("reason", "motif")) required; button.danger { (tr("Revoke", "Révoquer")) } }
            p #g-revoke-msg {}
        }
        (crate::pages::console::head())
        script { (PreEscaped(OPERATOR_JS)) }
    };
    Ok(layout(tr("Gates", "Portiques"), Some(&who), None, s.demo, body).into_response())
}

pub(crate) const OPERATOR_JS: &str = r#"
(function () {
  const { $, esc, T } = window.TesseraConsole;
  const colors = ['#1f4e9c', '#1a7f37', '#b42318', '#8250df', '#bf8700', '#0a7ea4'];
  const time = (ms) => new Date(ms).toLocaleTimeString();
  // Entries per minute over the last 30 minutes, a bar series per gate; made anew when the
  // set of gates changes.
  let entriesChart = null, gatesKey = '';
  function lines(id, byGate, minutes) {
    const gates = [...byGate.keys()].sort();
    if (gates.join() !== gatesKey || !entriesChart) {
      if (entriesChart) entriesChart.destroy();
      gatesKey = gates.join();
      entriesChart = window.TesseraConsole.timeChart(id, gates.map((g, k) => ({ label: g, color: colors[k % colors.length] })), window.TesseraConsole.T('entries/min', 'entrées/min'), { bars: true, windowSecs: 30 * 60 });
    }
    entriesChart.set(minutes, gates.map((g) => minutes.map((t) => byGate.get(g).get(t) || 0)));
  }
  function bars(id, pairs) {
    const c = $(id), g = c.getContext('2d'), w = c.width, h = c.height;
    g.clearRect(0, 0, w, h);
    const max = Math.max(1, ...pairs.map(([, n]) => n)), bw = w / Math.max(1, pairs.length);
    pairs.forEach(([r, n], i) => {
      const bh = (h - 30) * n / max; g.fillStyle = '#b42318'; g.fillRect(i * bw + 6, h - 16 - bh, bw - 12, bh);
      g.fillStyle = '#333'; g.fillText(r, i * bw + 6, h - 4); g.fillText(String(n), i * bw + 6, h - 20 - bh);
    });
  }
  window.TesseraConsole.poll('/api/v1/admin/gates', 2000, (o) => {
    const now = Math.floor(o.now_ms / 60000) * 60;
    const minutes = Array.from({ length: 30 }, (_, i) => now - (29 - i) * 60);
    const byGate = new Map();
    let entries = 0;
    for (const [gate, t, n] of o.figures.entries_per_minute) {
      if (!byGate.has(gate)) byGate.set(gate, new Map());
      byGate.get(gate).set(t, n); entries += n;
    }
    lines('c-entries', byGate, minutes);
    bars('c-reasons', o.figures.refusals);
    $('g-online').textContent = o.gates.filter((g) => g.online).length + ' / ' + o.gates.length;
    $('g-entries').textContent = entries.toLocaleString();
    $('g-refusals').textContent = o.figures.refusals.reduce((a, [, n]) => a + n, 0).toLocaleString();
    $('g-double').textContent = o.figures.security_events;
    $('g-gates').tBodies[0].innerHTML = o.gates.map((g) => '<tr><td class="mono">' + esc(g.gate_id) + '</td><td>' + esc(g.venue_code) + '</td><td>' +
      esc(g.entrance || T('any', 'toutes')) + '</td><td>' + (g.revoked_at_ms ? '<span class="error">' + T('revoked', 'révoqué') + '</span>' : g.online ? '<span class="ok">' + T('online', 'en ligne') + '</span>' : '<span class="error">' + T('offline', 'hors ligne') + '</span>') + '</td><td>' +
      (g.last_sync_at_ms ? time(g.last_sync_at_ms) : T('never', 'jamais')) + '</td><td>' + g.admitted + '</td><td>' + g.refused + '</td></tr>').join('');
    $('g-events').tBodies[0].innerHTML = o.security_events.map((e) => '<tr><td class="mono">' + e.ticket_id + '</td><td>' + esc(e.first.gate_id) + ' ' +
      time(e.first.at_ms) + '</td><td>' + esc(e.second.gate_id) + ' ' + time(e.second.at_ms) + '</td><td>double entry</td></tr>').join('');
  });
  $('g-annul').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const f = new FormData(ev.target);
    const r = await fetch('/api/v1/admin/entries/' + encodeURIComponent(f.get('ticket')) + '/annul', { method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ reason: f.get('reason') }) });
    const v = await r.json().catch(() => ({}));
    $('g-msg').textContent = r.ok ? T('Annulled: gates will let this ticket in again.', 'Annulée : les portiques laisseront de nouveau entrer ce billet.') : ((v.error && v.error.message) || T('failed', 'échec'));
  });
  $('g-revoke').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const f = new FormData(ev.target);
    const r = await fetch('/api/v1/admin/gates/' + encodeURIComponent(f.get('gate')) + '/revoke', { method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ reason: f.get('reason') }) });
    const v = await r.json().catch(() => ({}));
    $('g-revoke-msg').textContent = r.ok ? T('Revoked: this gate must be enrolled again.', 'Révoqué : ce portique doit être enrôlé de nouveau.') : ((v.error && v.error.message) || T('failed', 'échec'));
  });
})();
"#;
