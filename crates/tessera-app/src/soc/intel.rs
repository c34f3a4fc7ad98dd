//! Threat intelligence in and out (`tessera_detect::intel`): indicators from partners' STIX
//! bundles, MISP events and plain lists become edge decisions or watches; Tessera's own
//! decisions, watches and cases go back out in the same formats.
//!
//! An address or a network the source vouches for (confidence at least [`BLOCK_FROM`]) is
//! blocked at every node's edge like any SOC decision ([`App::decide`]: stored, told over the
//! bus), for as long as the indicator says, at most [`MAX_DAYS`] days, [`DEFAULT_DAYS`] when
//! it says nothing: an edge block that outlives its reason is an outage for whoever inherits
//! the address. Everything else (lower confidence, domains, URLs, file hashes, networks
//! of a size the edge does not block) is a *watch*: kept in the node's memory, bounded
//! ([`MAX_WATCHES`], refused past it), shown to the analysts and exported.
//!
//! Nothing already in force is weakened: a decision that blocks longer than an import would
//! is kept as it is. A document refused whole changes nothing; a refused indicator is named
//! in the report and the others are taken.

use super::cases::edge_scope_of;
use crate::auth::Principal;
use crate::{App, AppError, Result};
use serde::Serialize;
use std::collections::HashMap;
use tessera_airlock::blocklist::{Decision as EdgeDecision, Kind as EdgeKind, Scope as EdgeScope};
use tessera_detect::intel::{self, ExportCase, Indicator, IndicatorKind, Limits, Refused};

/// Confidence from which an address or a network is blocked rather than watched.
pub const BLOCK_FROM: u8 = 70;
/// How long an imported decision or watch lasts when its document says nothing, and at most.
pub const DEFAULT_DAYS: i64 = 7;
pub const MAX_DAYS: i64 = 30;
/// Watches kept at most; an import past it has the rest refused.
pub const MAX_WATCHES: usize = 100_000;
/// The confidence written on Tessera's own blocks when exported.
pub const OWN_CONFIDENCE: u8 = 90;
/// The name Tessera signs its exports with.
pub const IDENTITY: &str = "Tessera";

/// Which format a document is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntelFormat {
    Stix,
    Misp,
    /// A plain list, its source's name, and the confidence its lines get unless they say.
    List {
        source: String,
        confidence: u8,
    },
}

/// An indicator watched: not blocked, shown and exported.
#[derive(Debug, Clone, Serialize)]
pub struct Watch {
    pub indicator: Indicator,
    /// Unix seconds it was last imported, and until when it is kept.
    pub added_s: i64,
    pub until_s: i64,
}

/// The node's watch list, by indicator key.
#[derive(Debug, Default)]
pub struct Watches {
    by_key: HashMap<String, Watch>,
}

impl Watches {
    fn sweep(&mut self, now_s: i64) {
        self.by_key.retain(|_, w| w.until_s > now_s);
    }
}

/// What became of an imported document.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IntelReport {
    /// Indicators read from the document.
    pub taken: u64,
    /// Put in force at the edge of every node.
    pub decisions: u64,
    /// Added to (or refreshed on) the watch list.
    pub watches: u64,
    /// Already blocked for at least as long: left as they were.
    pub kept: u64,
    /// Objects, attributes, lines or indicators not taken, each named with why.
    pub refused: Vec<Refused>,
    /// Objects with nothing to take (other STIX types, other MISP attribute types).
    pub skipped: u64,
    /// Lines of a plain list that were not an indicator.
    pub malformed_lines: u64,
}

/// The format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Stix,
    Misp,
}

/// The edge's scope for an indicator, when the edge can block it: an address, or a network
/// of exactly the edge's size (IPv4 /24, IPv6 /48). A wider network would need many
/// decisions and a narrower one would block its neighbours: both are watched.
fn edge_scope(kind: &IndicatorKind) -> Option<EdgeScope> {
    match kind {
        IndicatorKind::Address(ip) => Some(EdgeScope::Address(*ip)),
        IndicatorKind::Network(n) if n.prefix_len() == if n.addr().is_ipv4() { 24 } else { 48 } => {
            Some(EdgeScope::Network(tessera_airlock::network_of(n.addr())))
        }
        _ => None,
    }
}

impl App {
    /// Reads a document and puts what it says in force: see the module's documentation. A
    /// document refused whole is an invalid `body` and changes nothing.
    pub async fn import_intel(&self, who: &Principal, format: IntelFormat, bytes: &[u8]) -> Result<IntelReport> {
        let limits = Limits::default();
        let parsed = match &format {
            IntelFormat::Stix => intel::parse_stix_bundle(bytes, &limits),
            IntelFormat::Misp => intel::parse_misp_event(bytes, &limits),
            IntelFormat::List { source, confidence } => {
                if bytes.len() > limits.max_body {
                    Err(intel::IntelError::TooLarge(bytes.len(), limits.max_body))
                } else {
                    std::str::from_utf8(bytes)
                        .map(|text| intel::parse_plain_list(text, source, *confidence))
                        .map_err(|e| intel::IntelError::NotUtf8(e.valid_up_to()))
                }
            }
        }
        .map_err(|e| AppError::invalid("body", e.to_string()))?;
        let mut report = IntelReport {
            taken: parsed.indicators.len() as u64,
            refused: parsed.refused,
            skipped: parsed.skipped,
            malformed_lines: parsed.malformed_lines,
            ..Default::default()
        };
        let now_ms = self.now_ms();
        let now_s = now_ms.div_euclid(1000);
        let in_force: HashMap<EdgeScope, (EdgeKind, i64)> =
            self.airlock.blocklist.list(now_ms).into_iter().map(|d| (d.scope, (d.kind, d.expires_ms))).collect();
        self.soc.intel.lock().unwrap_or_else(|e| e.into_inner()).sweep(now_s);
        for ind in parsed.indicators {
            let key = ind.kind.key();
            if ind.valid_until.is_some_and(|u| u <= now_s) {
                refuse(&mut report.refused, key, "expired");
                continue;
            }
            let until_s = ind.valid_until.unwrap_or(now_s + DEFAULT_DAYS * 86_400).min(now_s + MAX_DAYS * 86_400);
            match edge_scope(&ind.kind).filter(|_| ind.confidence >= BLOCK_FROM) {
                Some(scope) => {
                    let until_ms = until_s.saturating_mul(1000);
                    if let Some((EdgeKind::Block, expires)) = in_force.get(&scope.canonical()) {
                        if *expires >= until_ms {
                            report.kept += 1;
                            continue;
                        }
                    }
                    let reason = intel::clip(
                        &format!("{} ({}%): {}", ind.source, ind.confidence, ind.description),
                        tessera_airlock::blocklist::MAX_REASON_CHARS,
                    );
                    let origin =
                        intel::clip(&format!("intel:{}", ind.source), tessera_airlock::blocklist::MAX_ORIGIN_CHARS);
                    let decided = match EdgeDecision::new(scope, EdgeKind::Block, until_ms, reason, origin) {
                        Ok(d) => self.decide(d).await,
                        Err(e) => Err(AppError::invalid("decision", e.to_string())),
                    };
                    match decided {
                        Ok(()) => report.decisions += 1,
                        // The block list is full, or the decision is not one it takes: named,
                        // and the rest goes on. A store failure is the node's, not the
                        // document's: the import stops there.
                        Err(AppError::Invalid { .. }) => refuse(&mut report.refused, key, "the block list refused it"),
                        Err(e) => return Err(e),
                    }
                }
                None => {
                    let mut watches = self.soc.intel.lock().unwrap_or_else(|e| e.into_inner());
                    if watches.by_key.len() >= MAX_WATCHES && !watches.by_key.contains_key(&key) {
                        refuse(&mut report.refused, key, "the watch list is full");
                        continue;
                    }
                    watches.by_key.insert(key, Watch { indicator: ind, added_s: now_s, until_s });
                    report.watches += 1;
                }
            }
        }
        self.audit(
            who,
            format!(
                "imported threat intelligence ({}): {} decisions, {} watches, {} refused",
                match format {
                    IntelFormat::Stix => "STIX",
                    IntelFormat::Misp => "MISP",
                    IntelFormat::List { .. } => "list",
                },
                report.decisions,
                report.watches,
                report.refused.len()
            ),
        );
        Ok(report)
    }

    /// The watch list, most recently imported first, at most `limit`.
    pub fn intel_watches(&self, limit: usize) -> Vec<Watch> {
        let now_s = self.now_ms().div_euclid(1000);
        let mut watches = self.soc.intel.lock().unwrap_or_else(|e| e.into_inner());
        watches.sweep(now_s);
        let mut list: Vec<Watch> = watches.by_key.values().cloned().collect();
        drop(watches);
        list.sort_by(|a, b| {
            b.added_s.cmp(&a.added_s).then_with(|| a.indicator.kind.key().cmp(&b.indicator.kind.key()))
        });
        list.truncate(limit);
        list
    }

    /// Tessera's blocks on addresses and networks, the watch list and the SOC's cases, as one
    /// STIX 2.1 bundle or one MISP event.
    pub fn export_intel(&self, format: ExportFormat) -> serde_json::Value {
        let now_ms = self.now_ms();
        let now_s = now_ms.div_euclid(1000);
        let mut items: Vec<Indicator> = Vec::new();
        for d in self.airlock.blocklist.list(now_ms) {
            if d.kind != EdgeKind::Block {
                continue;
            }
            let Some(kind) = indicator_of(&d.scope) else { continue };
            items.push(Indicator {
                kind,
                source: d.origin,
                confidence: OWN_CONFIDENCE,
                valid_until: Some(d.expires_ms.div_euclid(1000)),
                description: d.reason,
            });
        }
        items.extend(self.intel_watches(MAX_WATCHES).into_iter().map(|w| w.indicator));
        // Lookalikes of the official domains, but those an analyst dismissed.
        let lookalikes = self.takedowns(None, crate::soc::takedowns::MAX_TAKEDOWNS);
        items.extend(
            lookalikes.into_iter().filter(|t| t.state != crate::soc::takedowns::TakedownState::Dismissed).map(|t| {
                Indicator {
                    kind: IndicatorKind::Domain(t.domain.clone()),
                    source: IDENTITY.into(),
                    confidence: t.hit.score.min(100),
                    valid_until: Some(now_s + DEFAULT_DAYS * 86_400),
                    description: intel::clip(
                        &format!(
                            "lookalike of {} ({}), takedown {}",
                            t.hit.official.as_deref().unwrap_or("the official domains"),
                            t.source,
                            t.state.as_str()
                        ),
                        intel::MAX_DESCRIPTION_CHARS,
                    ),
                }
            }),
        );
        let cases: Vec<ExportCase> = self
            .soc_cases(None, tessera_detect::cases::MAX_CASES)
            .into_iter()
            .map(|c| ExportCase {
                id: c.id,
                title: c.title.clone(),
                state: c.state.as_str().to_string(),
                first_s: c.first_ms.div_euclid(1000),
                last_s: c.last_ms.div_euclid(1000),
                target: edge_scope_of(&c).and_then(|s| indicator_of(&s)).map(|kind| Indicator {
                    kind,
                    source: IDENTITY.into(),
                    confidence: OWN_CONFIDENCE,
                    valid_until: Some(now_s + DEFAULT_DAYS * 86_400),
                    description: intel::clip(&c.title, intel::MAX_DESCRIPTION_CHARS),
                }),
            })
            .collect();
        match format {
            ExportFormat::Stix => intel::to_stix_bundle(IDENTITY, &items, &cases, now_s),
            ExportFormat::Misp => intel::to_misp_event(IDENTITY, &items, &cases, now_s),
        }
    }
}

/// Names a refused indicator, up to the bound the parsers keep to (a document of expired
/// indicators must not make an answer as big as itself).
fn refuse(refused: &mut Vec<Refused>, object_id: String, reason: &str) {
    if refused.len() < intel::MAX_REFUSED_NAMED {
        refused.push(Refused { object_id, reason: reason.to_string() });
    }
}

/// The indicator for an edge scope on an address or a network.
fn indicator_of(scope: &EdgeScope) -> Option<IndicatorKind> {
    match scope {
        EdgeScope::Address(ip) => Some(IndicatorKind::Address(*ip)),
        EdgeScope::Network(n) => n.to_string().parse().ok().map(IndicatorKind::of_net),
        EdgeScope::Account(_) => None,
    }
}
