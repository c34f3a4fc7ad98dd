//! Threat intelligence over HTTP (`/api/v1/admin/soc/intel`): a partner's STIX 2.1 bundle,
//! MISP event or plain list in, Tessera's decisions, watches and cases out as a STIX 2.1
//! bundle or a MISP event, and the watch list. Analysts and operators only.

use crate::error::{ApiError, ErrorBody};
use crate::extract::{Analyst, ApiQuery};
use crate::AppState;
use axum::extract::{DefaultBodyLimit, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tessera_app::soc::{ExportFormat, IntelFormat};
use utoipa::{IntoParams, ToSchema};

/// The largest document taken: the bound `tessera_detect::intel::Limits` checks again.
pub const MAX_INTEL_BODY: usize = 16 << 20;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/admin/soc/intel",
            get(export_intel).post(import_intel).layer(DefaultBodyLimit::max(MAX_INTEL_BODY)),
        )
        .route("/api/v1/admin/soc/intel/watches", get(intel_watches))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// `stix` (a STIX 2.1 bundle), `misp` (a MISP event, a list of events or a MISP API
    /// answer) or `list` (one address, network, domain, URL or hash a line, optionally
    /// followed by a confidence).
    pub format: String,
    /// For a list: who publishes it (`list` when absent).
    pub source: Option<String>,
    /// For a list: the confidence, 0 to 100, of lines that give none (70 when absent, which
    /// blocks its addresses and networks).
    pub confidence: Option<u8>,
}

#[derive(Serialize, ToSchema)]
pub struct RefusedDto {
    /// The object's id, the attribute's uuid, `line 12`, or the indicator (`address 192.0.2.1`).
    pub object: String,
    pub reason: String,
}

#[derive(Serialize, ToSchema)]
pub struct IntelReportDto {
    /// Indicators read from the document.
    pub taken: u64,
    /// Addresses and networks now blocked at every node's edge (confidence 70 or more).
    pub decisions: u64,
    /// Indicators added to the watch list (lower confidence, domains, URLs, hashes).
    pub watches: u64,
    /// Already blocked for at least as long: left as they were.
    pub kept: u64,
    /// What was not taken, each named with why (at most the first 1000 or so).
    pub refused: Vec<RefusedDto>,
    /// Objects with nothing to take (other STIX types, other MISP attribute types).
    pub skipped: u64,
    /// Lines of a list that were not an indicator: counted and skipped.
    pub malformed_lines: u64,
}

/// Imports threat intelligence: each indicator becomes an edge decision (an address or a
/// /24 or /48 network with confidence 70 or more, for as long as it is valid, 7 days when it
/// does not say, at most 30) or a watch. A document too large (16 MiB), nested too deep (32),
/// with too many objects (100,000) or not in its format is refused whole and changes nothing;
/// a bad object is refused by name and the others are taken (analysts and operators).
#[utoipa::path(post, path = "/api/v1/admin/soc/intel", tag = "security", params(ImportQuery), security(("bearer" = [])),
    request_body(content = String, description = "the document (JSON, or text for a list)", content_type = "application/octet-stream"),
    responses((status = 200, body = IntelReportDto), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn import_intel(
    State(s): State<AppState>,
    Analyst(who): Analyst,
    ApiQuery(q): ApiQuery<ImportQuery>,
    body: axum::body::Bytes,
) -> Result<Json<IntelReportDto>, ApiError> {
    let format = match q.format.as_str() {
        "stix" => IntelFormat::Stix,
        "misp" => IntelFormat::Misp,
        "list" => IntelFormat::List {
            source: q.source.unwrap_or_else(|| "list".into()),
            confidence: match q.confidence {
                None => tessera_app::soc::INTEL_BLOCK_FROM,
                Some(c) if c <= 100 => c,
                Some(_) => return Err(tessera_app::AppError::invalid("confidence", "0 to 100").into()),
            },
        },
        _ => return Err(tessera_app::AppError::invalid("format", "one of stix, misp, list").into()),
    };
    let r = s.app.import_intel(&who, format, &body).await?;
    Ok(Json(IntelReportDto {
        taken: r.taken,
        decisions: r.decisions,
        watches: r.watches,
        kept: r.kept,
        refused: r.refused.into_iter().map(|x| RefusedDto { object: x.object_id, reason: x.reason }).collect(),
        skipped: r.skipped,
        malformed_lines: r.malformed_lines,
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportIntelQuery {
    /// `stix` (a STIX 2.1 bundle, the default) or `misp` (a MISP event).
    pub format: Option<String>,
}

/// Tessera's threat intelligence for partners: the addresses and networks blocked now, the
/// watch list and the SOC's cases, as a STIX 2.1 bundle (an identity, an indicator each, a
/// grouping per case) or a MISP event (unpublished, TLP:AMBER) (analysts and operators).
#[utoipa::path(get, path = "/api/v1/admin/soc/intel", tag = "security", params(ExportIntelQuery), security(("bearer" = [])),
    responses((status = 200, description = "the bundle or the event", body = Object),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn export_intel(
    State(s): State<AppState>,
    Analyst(_who): Analyst,
    ApiQuery(q): ApiQuery<ExportIntelQuery>,
) -> Result<Response, ApiError> {
    let format = match q.format.as_deref().unwrap_or("stix") {
        "stix" => ExportFormat::Stix,
        "misp" => ExportFormat::Misp,
        _ => return Err(tessera_app::AppError::invalid("format", "one of stix, misp").into()),
    };
    Ok(Json(s.app.export_intel(format)).into_response())
}

#[derive(Serialize, ToSchema)]
pub struct WatchDto {
    /// `address`, `network`, `domain`, `url`, `md5`, `sha1`, `sha256`.
    pub kind: String,
    pub value: String,
    pub source: String,
    /// 0 to 100.
    pub confidence: u8,
    pub description: String,
    /// Unix seconds: last imported, and kept until.
    pub added: i64,
    pub until: i64,
}

/// The indicators watched (not blocked), most recently imported first, at most 1000
/// (analysts and operators).
#[utoipa::path(get, path = "/api/v1/admin/soc/intel/watches", tag = "security", security(("bearer" = [])),
    responses((status = 200, body = [WatchDto]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn intel_watches(State(s): State<AppState>, Analyst(_who): Analyst) -> Json<Vec<WatchDto>> {
    use tessera_app::soc::{HashAlgo, IndicatorKind};
    Json(
        s.app
            .intel_watches(1_000)
            .into_iter()
            .map(|w| {
                let (kind, value) = match w.indicator.kind {
                    IndicatorKind::Address(ip) => ("address", ip.to_string()),
                    IndicatorKind::Network(n) => ("network", n.to_string()),
                    IndicatorKind::Domain(d) => ("domain", d),
                    IndicatorKind::Url(u) => ("url", u),
                    IndicatorKind::FileHash { algo, hex } => (
                        match algo {
                            HashAlgo::Md5 => "md5",
                            HashAlgo::Sha1 => "sha1",
                            HashAlgo::Sha256 => "sha256",
                        },
                        hex,
                    ),
                };
                WatchDto {
                    kind: kind.into(),
                    value,
                    source: w.indicator.source,
                    confidence: w.indicator.confidence,
                    description: w.indicator.description,
                    added: w.added_s,
                    until: w.until_s,
                }
            })
            .collect(),
    )
}
