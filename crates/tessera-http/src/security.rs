//! The security events the shop recorded, for the operators and the security operations
//! centre (`/api/v1/admin/security-events`), and their counts for the metrics; the detection
//! engine's figures, alerts and decisions (`/api/v1/admin/soc`) and its live console
//! (`/operator/soc`).

use crate::error::{ApiError, ErrorBody};
use crate::extract::{Analyst, ApiQuery};
use crate::pages::i18n::tr;
use crate::pages::{layout, AnalystPage, PageError};
use crate::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use maud::{html, PreEscaped};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub(crate) mod cases;
pub(crate) mod intel;
pub(crate) mod takedowns;

use takedowns::TAKEDOWNS_JS;

pub(crate) fn api_routes() -> Router<AppState> {
    Router::new()
        .merge(cases::routes())
        .merge(takedowns::routes())
        .merge(intel::routes())
        .route("/api/v1/admin/security-events", get(recent))
        .route("/api/v1/admin/soc", get(soc_overview))
        .route("/api/v1/admin/soc/events", get(soc_events))
        .route("/api/v1/admin/soc/rules", get(soc_rules).put(replace_soc_rules))
        .route("/api/v1/admin/soc/blocklist", get(export_blocks))
        .route(
            "/api/v1/admin/soc/ingest",
            axum::routing::post(ingest).layer(axum::extract::DefaultBodyLimit::max(MAX_INGEST_BODY)),
        )
}

pub(crate) fn page_routes() -> Router<AppState> {
    Router::new().route("/operator/soc", get(soc_page))
}

#[derive(Serialize, ToSchema)]
pub struct SecurityEventDto {
    /// Unix seconds.
    pub at: i64,
    /// `signin_throttled`, `signin_failure_burst`, `gate_token_revoked`.
    pub kind: String,
    /// `account:42`, `address:<keyed hash of what was typed>`, `gate:BRC-1`.
    pub subject: String,
    pub detail: String,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecentQuery {
    /// At most this many, newest first (1 to 1000; 100 when absent).
    pub limit: Option<usize>,
}

/// The most recent security events, newest first (analysts and operators).
#[utoipa::path(get, path = "/api/v1/admin/security-events", tag = "operators", params(RecentQuery),
    security(("bearer" = [])),
    responses((status = 200, body = [SecurityEventDto]), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn recent(
    State(s): State<AppState>,
    Analyst(_who): Analyst,
    ApiQuery(q): ApiQuery<RecentQuery>,
) -> Result<Json<Vec<SecurityEventDto>>, ApiError> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(tessera_app::AppError::invalid("limit", "give 1 to 1000").into());
    }
    let events = s.app.security.recent(limit);
    Ok(Json(
        events
            .into_iter()
            .map(|e| SecurityEventDto { at: e.at.0, kind: e.kind.into(), subject: e.subject, detail: e.detail })
            .collect(),
    ))
}

#[derive(Serialize, ToSchema)]
pub struct SocRuleDto {
    pub id: String,
    /// Events that passed the rule's filter.
    pub matched: u64,
    pub alerts: u64,
    /// Keys (addresses, accounts, ...) the rule holds now, and how many cold ones it dropped.
    pub keys: usize,
    pub evicted: u64,
}

#[derive(Serialize, ToSchema)]
pub struct SocDecisionDto {
    /// `block`, `challenge`, `throttle`, `suspend`, `revoke`.
    pub action: String,
    /// `address 203.0.113.7`, `network 203.0.113.0/24`, `account 42`, `ticket T-1`, `everyone`.
    pub scope: String,
    /// Unix milliseconds.
    pub until_ms: i64,
    /// Earlier decisions on the same scope (each doubled the duration).
    pub repeat: u32,
}

#[derive(Serialize, ToSchema)]
pub struct SocAlertDto {
    /// Unix milliseconds.
    pub at_ms: i64,
    pub rule: String,
    pub title: String,
    /// `low`, `medium`, `high`, `critical`.
    pub level: String,
    /// What the rule groups by, and the key that overflowed.
    pub group_by: String,
    pub key: String,
    pub decision: Option<SocDecisionDto>,
    /// No decision: the source is on the allow list.
    pub allow_listed: bool,
}

#[derive(Serialize, ToSchema)]
pub struct SocDto {
    /// The node's clock, Unix milliseconds (decisions' ends are on it).
    pub now_ms: i64,
    /// Events this node handed to its engine since start-up.
    pub received: u64,
    /// Events dropped because the engine was behind (its queue holds 65,536).
    pub shed: u64,
    /// Decisions the engine put in force.
    pub decided: u64,
    /// Lines of followed logs (`--soc-follow`) read, and those in no known format.
    pub ingested: u64,
    pub malformed: u64,
    /// The last malformed lines: why, and how the line began.
    pub malformed_samples: Vec<String>,
    pub rules: Vec<SocRuleDto>,
    /// The last 100 alerts, newest first.
    pub alerts: Vec<SocAlertDto>,
}

/// The detection engine of this node: its figures, rules and last alerts (analysts and operators).
#[utoipa::path(get, path = "/api/v1/admin/soc", tag = "operators", security(("bearer" = [])),
    responses((status = 200, body = SocDto), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn soc_overview(State(s): State<AppState>, Analyst(_who): Analyst) -> Json<SocDto> {
    let f = s.app.soc_figures();
    Json(SocDto {
        now_ms: s.app.now_ms(),
        received: f.received,
        shed: f.shed,
        decided: f.decided,
        ingested: f.ingested,
        malformed: f.malformed,
        malformed_samples: f.samples,
        rules: f
            .rules
            .into_iter()
            .map(|r| SocRuleDto { id: r.id, matched: r.matched, alerts: r.alerts, keys: r.keys, evicted: r.evicted })
            .collect(),
        alerts: s
            .app
            .soc_alerts(100)
            .into_iter()
            .map(|a| SocAlertDto {
                at_ms: a.at_ms,
                rule: a.rule,
                title: a.title,
                level: a.level.as_str().into(),
                group_by: a.group_by.as_str().into(),
                key: a.key,
                decision: a.decision.map(|d| SocDecisionDto {
                    action: d.action.as_str().into(),
                    scope: d.scope.to_string(),
                    until_ms: d.until_ms,
                    repeat: d.repeat,
                }),
                allow_listed: a.allow_listed,
            })
            .collect(),
    })
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// `ecs` (Elastic Common Schema, the default), `ocsf` (OCSF 1.1) or `tessera` (the event
    /// as `tessera soc replay --format json` reads it).
    pub format: Option<String>,
}

/// The node's security events as they happen, one JSON object a line (`application/x-ndjson`),
/// in ECS, OCSF or Tessera's own form, for a SIEM to ingest unchanged (analysts and operators). A reader
/// that falls behind gets a line `{"tessera_missed": N}` saying how many it missed.
#[utoipa::path(get, path = "/api/v1/admin/soc/events", tag = "operators", params(StreamQuery), security(("bearer" = [])),
    responses((status = 200, description = "one event a line, as they happen", content_type = "application/x-ndjson", body = String),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn soc_events(
    State(s): State<AppState>,
    Analyst(_who): Analyst,
    ApiQuery(q): ApiQuery<StreamQuery>,
) -> Result<Response, ApiError> {
    #[derive(Clone, Copy)]
    enum Form {
        Ecs,
        Ocsf,
        Tessera,
    }
    let form = match q.format.as_deref().unwrap_or("ecs") {
        "ecs" => Form::Ecs,
        "ocsf" => Form::Ocsf,
        "tessera" => Form::Tessera,
        _ => return Err(tessera_app::AppError::invalid("format", "one of ecs, ocsf, tessera").into()),
    };
    let rx = s.app.soc_subscribe();
    let lines = futures_util::stream::unfold(rx, move |mut rx| async move {
        use tokio::sync::broadcast::error::RecvError;
        let line = match rx.recv().await {
            Ok(e) => match form {
                Form::Ecs => e.to_ecs(),
                Form::Ocsf => e.to_ocsf(),
                Form::Tessera => serde_json::to_value(&*e).unwrap_or_default(),
            },
            Err(RecvError::Lagged(n)) => serde_json::json!({ "tessera_missed": n }),
            Err(RecvError::Closed) => return None,
        };
        let mut bytes = serde_json::to_vec(&line).unwrap_or_default();
        bytes.push(b'\n');
        Some((Ok::<_, std::convert::Infallible>(axum::body::Bytes::from(bytes)), rx))
    });
    let mut resp = axum::body::Body::from_stream(lines).into_response();
    resp.headers_mut()
        .insert(axum::http::header::CONTENT_TYPE, axum::http::HeaderValue::from_static("application/x-ndjson"));
    Ok(resp)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `plain` (one address or network a line, the default), `cidr` (an address as /32 or
    /// /128) or `nginx` (`deny ...;` lines to include in a server block).
    pub format: Option<String>,
}

/// The addresses and networks blocked now (by the engine or an operator), for a firewall or
/// a web server in front of something Tessera does not serve (analysts and operators). Throttles,
/// challenges and accounts are not in it: only Tessera's edge can apply those.
#[utoipa::path(get, path = "/api/v1/admin/soc/blocklist", tag = "operators", params(ExportQuery), security(("bearer" = [])),
    responses((status = 200, description = "one entry a line", content_type = "text/plain", body = String),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn export_blocks(
    State(s): State<AppState>,
    Analyst(_who): Analyst,
    ApiQuery(q): ApiQuery<ExportQuery>,
) -> Result<Response, ApiError> {
    use tessera_airlock::{Kind, Scope};
    let format = q.format.unwrap_or_else(|| "plain".into());
    if !matches!(format.as_str(), "plain" | "cidr" | "nginx") {
        return Err(tessera_app::AppError::invalid("format", "one of plain, cidr, nginx").into());
    }
    let mut out = String::new();
    for d in s.app.airlock.blocklist.list(s.app.now_ms()) {
        if d.kind != Kind::Block {
            continue;
        }
        let entry = match (d.scope, format.as_str()) {
            (Scope::Address(ip), "plain") => ip.to_string(),
            (Scope::Address(ip), _) => format!("{ip}/{}", if ip.is_ipv4() { 32 } else { 128 }),
            (Scope::Network(n), _) => n.to_string(),
            (Scope::Account(_), _) => continue,
        };
        if format == "nginx" {
            out.push_str(&format!("deny {entry};\n"));
        } else {
            out.push_str(&entry);
            out.push('\n');
        }
    }
    Ok(([(axum::http::header::CONTENT_TYPE, "text/plain; charset=utf-8")], out).into_response())
}

/// The largest upload of log lines at once: a log shipper sends batches.
pub const MAX_INGEST_BODY: usize = 4 << 20;

#[derive(Serialize, ToSchema)]
pub struct IngestedDto {
    /// Lines read (blank ones not counted).
    pub lines: u64,
    /// Handed to the engine.
    pub accepted: u64,
    /// In no known format, or longer than 16 KiB: counted and skipped.
    pub malformed: u64,
    /// Dropped because the engine stayed behind for more than 5 seconds: send them again later.
    pub shed: u64,
    /// The first malformed lines, numbered, for the shipper's operator.
    pub samples: Vec<String>,
}

/// External logs into the security engine over HTTP, for a log shipper (Vector, Fluent Bit,
/// a `curl` in a cron job): the body is lines, each an nginx/Apache combined access-log line
/// or one of Tessera's JSON security events (as `/api/v1/admin/soc/events?format=tessera`
/// writes them), at most 4 MiB. Malformed lines are counted, sampled and skipped, never a
/// refusal of the rest (analysts and operators).
#[utoipa::path(post, path = "/api/v1/admin/soc/ingest", tag = "security", security(("bearer" = [])),
    request_body(content = String, content_type = "text/plain"),
    responses((status = 200, body = IngestedDto), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn ingest(
    State(s): State<AppState>,
    Analyst(_who): Analyst,
    body: axum::body::Bytes,
) -> Result<Json<IngestedDto>, ApiError> {
    let text = std::str::from_utf8(&body).map_err(|e| {
        ApiError::from(tessera_app::AppError::invalid(
            "body",
            format!("the lines are not UTF-8 (byte {})", e.valid_up_to()),
        ))
    })?;
    let r = s.app.ingest_text(text, std::time::Duration::from_secs(5)).await;
    Ok(Json(IngestedDto {
        lines: r.lines,
        accepted: r.accepted,
        malformed: r.malformed,
        shed: r.shed,
        samples: r.samples,
    }))
}

/// The security engine's rule file in force: the YAML text as it was given, comments
/// included, served as text so that it is read as the file it is (analysts and operators).
#[utoipa::path(get, path = "/api/v1/admin/soc/rules", tag = "operators", security(("bearer" = [])),
    responses((status = 200, description = "the rule file (YAML)", content_type = "text/plain", body = String),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn soc_rules(State(s): State<AppState>, Analyst(_who): Analyst) -> Response {
    ([(axum::http::header::CONTENT_TYPE, "text/plain; charset=utf-8")], s.app.soc_rules_yaml()).into_response()
}

#[derive(Serialize, ToSchema)]
pub struct RulesReplacedDto {
    /// Rules now in force, on this node and (told over the bus) on the others.
    pub rules: usize,
}

/// Replaces the security engine's rules with a YAML rule file (the format of
/// `crates/tessera-detect/src/rules.rs`), on every node. The file is checked whole: one error
/// refuses it (422, naming the rule, the line and the reason) and the running rules stay
/// (analysts and operators).
#[utoipa::path(put, path = "/api/v1/admin/soc/rules", tag = "operators", security(("bearer" = [])),
    request_body(content = String, content_type = "application/yaml"),
    responses((status = 200, body = RulesReplacedDto), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn replace_soc_rules(
    State(s): State<AppState>,
    Analyst(_who): Analyst,
    body: axum::body::Bytes,
) -> Result<Json<RulesReplacedDto>, ApiError> {
    let yaml = std::str::from_utf8(&body)
        .map_err(|_| ApiError::from(tessera_app::AppError::invalid("rules", "the file is not UTF-8")))?;
    Ok(Json(RulesReplacedDto { rules: s.app.replace_soc_rules(yaml).await? }))
}

/// The analysts' view: events and alerts per second, the alerts with what was decided, and
/// the rules with their hits. Dense, one screen, refreshed every 2 seconds.
async fn soc_page(State(s): State<AppState>, AnalystPage(who): AnalystPage) -> Result<Response, PageError> {
    let body = html! {
        div.card {
            h2 { (tr("Security operations · detection", "Sécurité · détection")) }
            p.stale #stale role="status" hidden {}
            p.muted { (tr("This node's engine: its own security events through the rule pack; decisions on addresses, networks and accounts are enforced by every node's edge.",
                          "Le moteur de ce nœud : ses événements de sécurité passés aux règles ; les décisions sur des adresses, des réseaux et des comptes sont appliquées par chaque nœud.")) }
            div.figures {
                (crate::pages::console::figure(tr("Events", "Événements"), "s-events"))
                (crate::pages::console::figure(tr("Shed", "Délestés"), "s-shed"))
                (crate::pages::console::figure(tr("Alerts", "Alertes"), "s-alerts"))
                (crate::pages::console::figure(tr("Decisions", "Décisions"), "s-decided"))
                (crate::pages::console::figure(tr("Log lines read", "Lignes de journaux lues"), "s-ingested"))
                (crate::pages::console::figure(tr("Malformed lines", "Lignes illisibles"), "s-malformed"))
            }
            ul.muted #s-samples {}
            h3 { (tr("Events and alerts per second, last 10 minutes", "Événements et alertes par seconde, 10 dernières minutes")) }
            div.chart #s-chart {}
            h3 { (tr("Cases", "Dossiers")) }
            div.figures {
                (crate::pages::console::figure(tr("New", "Nouveaux"), "c-new"))
                (crate::pages::console::figure(tr("Acknowledged", "Pris en charge"), "c-ack"))
                (crate::pages::console::figure(tr("Resolved", "Résolus"), "c-resolved"))
                (crate::pages::console::figure(tr("False positives", "Faux positifs"), "c-fp"))
                (crate::pages::console::figure(tr("Alerts suppressed", "Alertes supprimées"), "c-suppressed"))
            }
            p.muted { (tr("Keys: j / k move, a acknowledge, r resolve, f false positive (silenced for an hour), n note.",
                          "Touches : j / k pour se déplacer, a prendre en charge, r résolu, f faux positif (silencieux une heure), n note.")) }
            table #s-cases tabindex="0" { thead { tr {
                th { "#" } th { (tr("Severity", "Gravité")) } th { (tr("State", "État")) } th { (tr("Target", "Cible")) } th { (tr("Rules", "Règles")) }
                th { (tr("Alerts", "Alertes")) } th { (tr("Last", "Dernière")) } th { (tr("Owner", "Responsable")) }
            } } tbody {} }
            div #s-case hidden {
                h3 #s-case-title {}
                p {
                    button #c-do-ack type="button" { (tr("Acknowledge", "Prendre en charge")) } " "
                    button #c-do-resolve type="button" { (tr("Resolve", "Résolu")) } " "
                    button #c-do-fp type="button" { (tr("False positive", "Faux positif")) } " "
                    label { input #c-suppress type="checkbox" checked; " " (tr("and silence it for an hour", "et le rendre silencieux une heure")) }
                }
                p {
                    label for="c-note" { (tr("Note", "Note")) } " "
                    textarea #c-note rows="2" cols="60" maxlength="2000" {} " "
                    button #c-do-note type="button" { (tr("Add note", "Ajouter la note")) }
                }
                ul #s-case-notes {}
                h3 { (tr("Events behind the case", "Événements du dossier")) }
                table #s-case-events { thead { tr {
                    th { (tr("Time", "Heure")) } th { (tr("Action", "Action")) } th { (tr("Source", "Source")) } th { (tr("Detail", "Détail")) }
                } } tbody {} }
            }
            h3 { (tr("Last alerts", "Dernières alertes")) }
            table #s-table tabindex="0" { thead { tr {
                th { (tr("Time", "Heure")) } th { (tr("Level", "Niveau")) } th { (tr("Rule", "Règle")) } th { (tr("Key", "Clé")) } th { (tr("Decision", "Décision")) }
            } } tbody {} }
            h3 { (tr("Decisions in force", "Décisions en vigueur")) }
            p.muted { (tr("Every node's edge enforces these. Lift one, or extend it by an hour (it is then yours).",
                          "Le bord de chaque nœud les applique. Levez-en une, ou prolongez-la d’une heure (elle devient alors la vôtre).")) }
            table #s-decisions tabindex="0" { thead { tr {
                th { (tr("Action", "Action")) } th { (tr("Scope", "Portée")) } th { (tr("Until", "Jusqu’à")) } th { (tr("Reason", "Motif")) } th { (tr("By", "Par")) } th {}
            } } tbody {} }
            h3 { (tr("Threat intelligence", "Renseignement sur les menaces")) }
            p.muted {
                (tr("A partner's STIX 2.1 bundle, MISP event or list: addresses and networks it is confident of are blocked, the rest is watched. Tessera's own blocks, watches and cases for partners: ",
                    "Le lot STIX 2.1, l’événement MISP ou la liste d’un partenaire : les adresses et réseaux dont il est sûr sont bloqués, le reste est surveillé. Les blocages, surveillances et dossiers de Tessera pour les partenaires : "))
                a href="/api/v1/admin/soc/intel?format=stix" { "STIX 2.1" } ", " a href="/api/v1/admin/soc/intel?format=misp" { "MISP" } "."
            }
            p {
                label for="i-format" { (tr("Format", "Format")) } " "
                select #i-format {
                    option value="stix" { "STIX 2.1" } option value="misp" { "MISP" } option value="list" { (tr("List", "Liste")) }
                }
                " " label for="i-file" { (tr("File", "Fichier")) } " "
                input #i-file type="file";
                " " button #i-do type="button" { (tr("Import", "Importer")) }
            }
            table #s-watches tabindex="0" { thead { tr {
                th { (tr("Watched", "Surveillé")) } th { (tr("Value", "Valeur")) } th { (tr("Source", "Source")) } th { (tr("Confidence", "Confiance")) } th { (tr("Until", "Jusqu’à")) }
            } } tbody {} }
            p #s-msg role="status" {}
            h3 { (tr("Lookalike domains and their takedowns", "Domaines sosies et leur retrait")) }
            p.muted { (tr("Names from certificate transparency and lists, checked against the official domains.",
                          "Noms issus de la transparence des certificats et de listes, comparés aux domaines officiels.")) }
            table #s-takedowns tabindex="0" { thead { tr {
                th { (tr("Domain", "Domaine")) } th { (tr("Score", "Score")) } th { (tr("Technique", "Technique")) } th { (tr("State", "État")) } th { (tr("Seen in", "Vu dans")) } th { (tr("Next step", "Étape suivante")) }
            } } tbody {} }
            h3 { (tr("Rules", "Règles")) }
            table #s-rules tabindex="0" { thead { tr {
                th { (tr("Rule", "Règle")) } th { (tr("Matched", "Retenus")) } th { (tr("Alerts", "Alertes")) } th { (tr("Keys held", "Clés suivies")) } th { (tr("Evicted", "Évincées")) }
            } } tbody {} }
        }
        (crate::pages::console::head())
        script { (PreEscaped(SOC_JS)) }
        script { (PreEscaped(TAKEDOWNS_JS)) }
    };
    Ok(layout(tr("Security operations", "Sécurité"), Some(&who), None, s.demo, body).into_response())
}

pub(crate) const SOC_JS: &str = r#"
(function () {
  const { $, esc, T, poll, timeChart, rolling } = window.TesseraConsole;
  const chart = timeChart('s-chart', [{ label: T('events/s', 'événements/s'), color: '#1f4e9c' }, { label: T('alerts/s', 'alertes/s'), color: '#c0392b' }], '/s', { windowSecs: 600 });
  const series = rolling(300, 2);
  let last = null;
  // The node's clock against this browser's: decisions end on the node's.
  let offsetMs = 0;
  function show(o) {
    offsetMs = o.now_ms - Date.now();
    const now = Date.now() / 1000;
    const alerts = o.rules.reduce((n, r) => n + r.alerts, 0);
    if (last) {
      const dt = Math.max(0.001, now - last.t);
      series.push(now, [Math.max(0, (o.received - last.received) / dt), Math.max(0, (alerts - last.alerts) / dt)]);
      chart.set(series.times, series.cols);
    }
    last = { t: now, received: o.received, alerts };
    $('s-events').textContent = o.received.toLocaleString();
    $('s-shed').textContent = o.shed.toLocaleString();
    $('s-shed').className = o.shed ? 'error' : '';
    $('s-alerts').textContent = alerts.toLocaleString();
    $('s-decided').textContent = o.decided.toLocaleString();
    $('s-ingested').textContent = o.ingested.toLocaleString();
    $('s-malformed').textContent = o.malformed.toLocaleString();
    $('s-samples').innerHTML = o.malformed_samples.map((m) => '<li class="mono">' + esc(m) + '</li>').join('');
    $('s-table').tBodies[0].innerHTML = o.alerts.map((a) => '<tr><td>' + new Date(a.at_ms).toLocaleTimeString() + '</td><td>' + esc(a.level) +
      '</td><td title="' + esc(a.title) + '">' + esc(a.rule) + '</td><td class="mono">' + esc(a.group_by) + ' ' + esc(a.key) + '</td><td>' +
      (a.decision ? esc(a.decision.action + ' ' + a.decision.scope) + T(' until ', ' jusqu’à ') + new Date(a.decision.until_ms).toLocaleTimeString()
        : (a.allow_listed ? T('allow-listed', 'liste blanche') : T('alert only', 'alerte seule'))) + '</td></tr>').join('');
    $('s-rules').tBodies[0].innerHTML = o.rules.map((r) => '<tr><td>' + esc(r.id) + '</td><td>' + r.matched.toLocaleString() + '</td><td>' +
      r.alerts.toLocaleString() + '</td><td>' + r.keys.toLocaleString() + '</td><td>' + r.evicted.toLocaleString() + '</td></tr>').join('');
  }
  poll('/api/v1/admin/soc', 2000, show);
  // The case queue: a list polled, one case open below it, driven by the keyboard.
  let cases = [], selected = null;
  const post = (path, body) => fetch(path, { method: 'POST', credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body || {}) });
  function showCases(o) {
    $('c-new').textContent = o.new.toLocaleString();
    $('c-ack').textContent = o.acknowledged.toLocaleString();
    $('c-resolved').textContent = o.resolved.toLocaleString();
    $('c-fp').textContent = o.false_positive.toLocaleString();
    $('c-suppressed').textContent = o.suppressed_alerts.toLocaleString();
    cases = o.cases;
    $('s-cases').tBodies[0].innerHTML = cases.map((c) => '<tr data-case="' + c.id + '"' + (c.id === selected ? ' class="selected" aria-selected="true"' : '') +
      '><td>' + c.id + '</td><td class="sev-' + esc(c.severity) + '">' + esc(c.severity) + '</td><td>' + esc(c.state.replace('_', ' ')) +
      '</td><td class="mono">' + esc(c.group_by + ' ' + c.key) + '</td><td>' + esc(c.rules.join(', ')) + '</td><td>' + c.alerts.toLocaleString() +
      '</td><td>' + new Date(c.last_ms).toLocaleTimeString() + '</td><td>' + esc(c.owner || '') + '</td></tr>').join('');
  }
  const refreshCases = () => fetch('/api/v1/admin/soc/cases?limit=100', { credentials: 'same-origin' }).then((r) => r.json()).then(showCases).catch(() => {});
  poll('/api/v1/admin/soc/cases?limit=100', 2000, showCases);
  async function openCase(id) {
    selected = id;
    const r = await fetch('/api/v1/admin/soc/cases/' + id, { credentials: 'same-origin' });
    if (!r.ok) return;
    const c = await r.json();
    $('s-case').hidden = false;
    $('s-case-title').textContent = T('Case ', 'Dossier ') + c.id + ' · ' + c.title + ' · ' + c.group_by + ' ' + c.key + ' · ' + c.state.replace('_', ' ');
    $('s-case-notes').innerHTML = c.notes.map((n) => '<li>' + new Date(n.at_ms).toLocaleString() + ' · ' + esc(n.author) + ': ' + esc(n.text) + '</li>').join('');
    $('s-case-events').tBodies[0].innerHTML = c.events.map((e) => '<tr><td>' + new Date(e['@timestamp']).toLocaleTimeString() + '</td><td>' +
      esc(e.event.action) + '</td><td class="mono">' + esc((e.source && e.source.ip) || '') + '</td><td class="mono">' +
      esc(e.url ? (e.http.request.method + ' ' + e.url.path + ' ' + e.http.response.status_code) : ((e.user && e.user.name) || e.message || '')) + '</td></tr>').join('');
    refreshCases();
  }
  async function act(path, body, done) {
    if (selected === null) return;
    const r = await post('/api/v1/admin/soc/cases/' + selected + path, body);
    const v = await r.json().catch(() => ({}));
    $('s-msg').textContent = r.ok ? done : ((v.error && v.error.message) || T('failed', 'échec'));
    openCase(selected);
  }
  const ack = () => act('/acknowledge', {}, T('Acknowledged.', 'Pris en charge.'));
  const resolve = () => act('/close', { as: 'resolved' }, T('Resolved.', 'Résolu.'));
  const falsePositive = () => act('/close', Object.assign({ as: 'false_positive' }, $('c-suppress').checked ? { suppress_minutes: 60 } : {}),
    T('Closed as a false positive.', 'Classé faux positif.'));
  const addNote = () => { const text = $('c-note').value.trim(); if (text) act('/notes', { text }, T('Note added.', 'Note ajoutée.')).then(() => { $('c-note').value = ''; }); };
  $('c-do-ack').onclick = ack; $('c-do-resolve').onclick = resolve; $('c-do-fp').onclick = falsePositive; $('c-do-note').onclick = addNote;
  $('s-cases').addEventListener('click', (ev) => { const tr = ev.target.closest('tr[data-case]'); if (tr) openCase(Number(tr.dataset.case)); });
  document.addEventListener('keydown', (ev) => {
    const typing = ev.target instanceof Element && ev.target.closest('input, textarea, select');
    if (typing || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const i = cases.findIndex((c) => c.id === selected);
    if (ev.key === 'j' || ev.key === 'k') {
      const next = cases[Math.max(0, Math.min(cases.length - 1, i + (ev.key === 'j' ? 1 : -1)))];
      if (next) openCase(next.id);
    } else if (ev.key === 'a') ack();
    else if (ev.key === 'r') resolve();
    else if (ev.key === 'f') falsePositive();
    else if (ev.key === 'n' && selected !== null) { ev.preventDefault(); $('c-note').focus(); }
    else return;
  });
  // Decisions in force, with lift and extend: the block list's own API.
  const scopeOf = (d) => ({ scope: d.scope.type, value: String(d.scope.value) });
  let decisions = [];
  function showDecisions(list) {
    decisions = list;
    $('s-decisions').tBodies[0].innerHTML = list.map((d, i) => '<tr><td>' + esc(d.kind) + '</td><td class="mono">' + esc(d.scope.type + ' ' + d.scope.value) +
      '</td><td>' + new Date(d.expires_ms - offsetMs).toLocaleTimeString() + '</td><td>' + esc(d.reason) + '</td><td>' + esc(d.origin) +
      '</td><td><button data-lift="' + i + '">' + T('Lift', 'Lever') + '</button> <button data-extend="' + i + '">' + T('+1 h', '+1 h') + '</button></td></tr>').join('');
  }
  poll('/api/v1/admin/edge/decisions', 2000, showDecisions);
  // Threat intelligence: the watch list, and a partner's document imported as it is.
  poll('/api/v1/admin/soc/intel/watches', 5000, (list) => {
    $('s-watches').tBodies[0].innerHTML = list.map((w) => '<tr><td>' + esc(w.kind) + '</td><td class="mono">' + esc(w.value) +
      '</td><td>' + esc(w.source) + '</td><td>' + esc(String(w.confidence)) + '</td><td>' + new Date(w.until * 1000 - offsetMs).toLocaleString() + '</td></tr>').join('');
  });
  $('i-do').addEventListener('click', async () => {
    const f = $('i-file').files[0]; if (!f) return;
    const r = await fetch('/api/v1/admin/soc/intel?format=' + encodeURIComponent($('i-format').value),
      { method: 'POST', credentials: 'same-origin', body: await f.arrayBuffer() });
    const v = await r.json().catch(() => ({}));
    $('s-msg').textContent = r.ok
      ? T('Imported: ', 'Importé : ') + v.decisions + T(' blocked, ', ' bloqués, ') + v.watches + T(' watched, ', ' surveillés, ') + v.refused.length + T(' refused.', ' refusés.')
      : ((v.error && v.error.message) || T('failed', 'échec'));
  });
  document.addEventListener('click', async (ev) => {
    const b = ev.target.closest('button[data-lift], button[data-extend]'); if (!b) return;
    const d = decisions[Number(b.dataset.lift ?? b.dataset.extend)]; if (!d) return;
    const lift = b.dataset.lift !== undefined;
    const body = lift ? scopeOf(d) : Object.assign(scopeOf(d), { kind: d.kind, reason: d.reason,
      duration_secs: Math.max(1, Math.round((d.expires_ms - (Date.now() + offsetMs)) / 1000) + 3600) });
    const r = await fetch('/api/v1/admin/edge/decisions', { method: lift ? 'DELETE' : 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    const v = r.status === 204 || r.status === 201 || r.ok ? null : await r.json().catch(() => ({}));
    $('s-msg').textContent = v ? ((v.error && v.error.message) || T('failed', 'échec')) : (lift ? T('Lifted.', 'Levée.') : T('Extended by an hour.', 'Prolongée d’une heure.'));
  });
})();
"#;

/// `tessera_security_events_total{kind}` and the sign-ins refused without a password check.
pub(crate) fn samples(s: &AppState, scrape: &mut crate::exposition::Scrape) {
    for (kind, n) in s.app.security.counts() {
        let help = "Security events recorded since start-up.";
        scrape.counter("tessera_security_events_total", help, vec![("kind", kind.to_string())], n);
    }
    let refused = s.app.signin_refusals.load(std::sync::atomic::Ordering::Relaxed);
    let help = "Sign-in attempts refused by the per-account throttle.";
    scrape.counter("tessera_signin_throttled_total", help, vec![], refused);
    let f = s.app.soc_figures();
    scrape.counter("tessera_soc_events_total", "Security events handed to the detection engine.", vec![], f.received);
    scrape.counter("tessera_soc_shed_total", "Security events dropped because the engine was behind.", vec![], f.shed);
    scrape.counter("tessera_soc_decisions_total", "Decisions the detection engine put in force.", vec![], f.decided);
    for r in f.rules {
        let help = "Alerts raised by each detection rule.";
        scrape.counter("tessera_soc_alerts_total", help, vec![("rule", r.id)], r.alerts);
    }
}
