//! The security operations centre's engine inside each node: the app's own security events
//! (sign-ins, registrations, ...) go through `tessera_detect`'s rule pack, and what it decides
//! is enforced by the edge of every node.
//!
//! Events enter through [`App::observe`], which never waits: a bounded queue
//! ([`QUEUE_CAPACITY`]) between the request path and the engine, and an event that finds it
//! full is dropped and counted (`shed`), so that a flood of events costs the requests nothing
//! and memory stays flat. One task ([`soc_loop`]) runs the engine; an alert is kept (the last
//! [`MAX_ALERTS`]) and logged; a decision on an address, a network or an account goes into the
//! block list through [`App::decide`], which stores it and tells every node over the bus (so
//! it is enforced everywhere within a second, as an operator's decision is).
//!
//! Each alert is filed into the node's case book (`cases`): grouped by target for the
//! analysts, or silenced by a suppression (then it decides nothing).
//!
//! Threat intelligence (`intel`) comes in as decisions and watches, and goes out with the
//! node's own decisions and cases, in STIX 2.1 and MISP.
//!
//! Not yet: each node runs its own engine on its own events (an attack spread evenly over
//! nodes is seen a third at a time on three); decisions on a ticket (revoke) or on everyone
//! (a proof of work for all) are alerts only.

mod cases;
pub mod certstream;
mod intel;
pub mod takedowns;

pub use cases::Closing;
pub use intel::{ExportFormat, IntelFormat, IntelReport, Watch, BLOCK_FROM as INTEL_BLOCK_FROM};
pub use tessera_detect::intel::{HashAlgo, Indicator, IndicatorKind};
pub use tessera_detect::{Case, CaseState};

use crate::App;
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use tessera_airlock::blocklist::{Decision as EdgeDecision, Kind as EdgeKind, Scope as EdgeScope};
use tessera_detect::{Alert, Decide, Engine, Event, RuleStats, Scope};
use tokio::sync::{broadcast, mpsc, watch};

/// Events waiting for the engine at most; beyond, they are shed.
pub const QUEUE_CAPACITY: usize = 65_536;
/// Alerts kept for the console.
pub const MAX_ALERTS: usize = 1_000;
/// Events held for a slow reader of the live stream; beyond, it is told how many it missed.
pub const STREAM_CAPACITY: usize = 4_096;
/// The origin written on the engine's decisions.
pub const ORIGIN: &str = "soc";

pub struct Soc {
    tx: mpsc::Sender<Event>,
    rx: Mutex<Option<mpsc::Receiver<Event>>>,
    received: AtomicU64,
    shed: AtomicU64,
    decided: AtomicU64,
    /// Lines of followed logs parsed, and refused (with the last few kept).
    ingested: AtomicU64,
    malformed: AtomicU64,
    samples: Mutex<VecDeque<String>>,
    alerts: Mutex<VecDeque<Alert>>,
    /// The alerts grouped into cases for triage.
    cases: Mutex<tessera_detect::CaseBook>,
    /// Indicators imported to watch, not to block (`intel`).
    intel: Mutex<intel::Watches>,
    stats: Mutex<Vec<RuleStats>>,
    /// Every event, once the engine has seen it, for the live export (`GET /api/v1/admin/soc/events`).
    stream: broadcast::Sender<std::sync::Arc<Event>>,
    /// The rules in force and their file; a new value replaces the engine (its counts start
    /// again).
    rules: watch::Sender<std::sync::Arc<(Vec<tessera_detect::Rule>, String)>>,
}

impl Default for Soc {
    fn default() -> Self {
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        Soc {
            tx,
            rx: Mutex::new(Some(rx)),
            received: AtomicU64::new(0),
            shed: AtomicU64::new(0),
            decided: AtomicU64::new(0),
            ingested: AtomicU64::new(0),
            malformed: AtomicU64::new(0),
            samples: Mutex::new(VecDeque::new()),
            alerts: Mutex::new(VecDeque::new()),
            cases: Mutex::new(tessera_detect::CaseBook::default()),
            intel: Mutex::new(intel::Watches::default()),
            stats: Mutex::new(Vec::new()),
            stream: broadcast::channel(STREAM_CAPACITY).0,
            rules: watch::Sender::new(std::sync::Arc::new((
                tessera_detect::default_rules(),
                tessera_detect::rules::DEFAULT_PACK.to_string(),
            ))),
        }
    }
}

/// The engine's figures, for the console and `/metrics`.
#[derive(Debug, Clone, Serialize)]
pub struct SocFigures {
    pub received: u64,
    pub shed: u64,
    pub decided: u64,
    /// Lines of followed logs read, and those that were not in a known format.
    pub ingested: u64,
    pub malformed: u64,
    /// The last malformed lines (why, and the line's start).
    pub samples: Vec<String>,
    pub rules: Vec<RuleStats>,
}

/// What became of an uploaded batch of lines.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IngestReport {
    /// Lines read (blank ones not counted).
    pub lines: u64,
    /// Handed to the engine.
    pub accepted: u64,
    /// In no known format, or too long: counted and skipped.
    pub malformed: u64,
    /// Dropped because the engine stayed behind for longer than the upload may wait.
    pub shed: u64,
    /// The first malformed lines, numbered.
    pub samples: Vec<String>,
}

/// Malformed lines kept as samples.
pub const MAX_SAMPLES: usize = 10;

impl App {
    /// Hands a security event to the engine without waiting; dropped (and counted) when the
    /// engine is behind.
    pub fn observe(&self, event: Event) {
        match self.soc.tx.try_send(event) {
            Ok(()) => {
                self.soc.received.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                self.soc.shed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// An event of `kind` now, filled in by `fill`, handed to the engine.
    pub(crate) fn observe_now(&self, kind: tessera_detect::Kind, fill: impl FnOnce(&mut Event)) {
        let mut e = Event::new(self.now_ms(), kind);
        fill(&mut e);
        self.observe(e);
    }

    /// A request the edge refused before routing (blocked, throttled, over a rate limit), so
    /// that the engine and the exported stream see what the edge did.
    pub fn observe_edge_refusal(&self, ip: std::net::IpAddr, blocked: bool, method: &str, path: &str, status: u16) {
        let kind = if blocked { tessera_detect::Kind::EdgeBlocked } else { tessera_detect::Kind::EdgeThrottled };
        self.observe_now(kind, |e| {
            e.outcome = tessera_detect::Outcome::Failure;
            e.source = Some(ip);
            // A path is the client's to choose: bounded like an access-log line's.
            let path: String = path.chars().take(512).collect();
            e.http = Some(tessera_detect::Http { method: method.to_string(), path, status, ..Default::default() });
        });
    }

    /// A member of staff read someone's personal data: an event for the engine (the insider
    /// rule counts the distinct people one account reads) and the audit trail.
    pub fn personal_data_read(&self, who: &crate::auth::Principal, subject: Option<u64>, what: &str) {
        self.observe_now(tessera_detect::Kind::PersonalDataRead, |e| {
            e.outcome = tessera_detect::Outcome::Success;
            e.account = Some(who.account_id.0 as u64);
            e.subject = subject;
            e.message = Some(what.chars().take(200).collect());
        });
    }

    /// The node's security events as they pass the engine, for a SIEM or an analyst's tool. A
    /// reader that falls more than [`STREAM_CAPACITY`] events behind is told how many it
    /// missed (`RecvError::Lagged`), never blocks the engine.
    pub fn soc_subscribe(&self) -> broadcast::Receiver<std::sync::Arc<Event>> {
        self.soc.stream.subscribe()
    }

    /// One line of an external log (`--soc-follow`): a combined access-log line, or a JSON
    /// security event when it starts with `{`. A line in neither form is counted and sampled.
    pub fn ingest_line(&self, line: &str) {
        if let Some(event) = self.parse_ingested(line) {
            self.observe(event);
        }
    }

    /// [`App::ingest_line`] for a source that can wait (standard input, an upload over HTTP):
    /// when the engine is behind, the line waits for room, up to `patience`, instead of being
    /// shed at once. Whether the line was taken (a malformed line counts as taken: it was read
    /// and counted); `false` when it was shed.
    pub async fn ingest_line_waiting(&self, line: &str, patience: std::time::Duration) -> bool {
        let Some(event) = self.parse_ingested(line) else { return true };
        self.observe_waiting(event, patience).await
    }

    /// [`App::observe`] for a source that can wait: room in the queue is waited for, up to
    /// `patience`; whether the event was taken (else it is shed and counted).
    async fn observe_waiting(&self, event: Event, patience: std::time::Duration) -> bool {
        let taken = matches!(tokio::time::timeout(patience, self.soc.tx.send(event)).await, Ok(Ok(())));
        let counter = if taken { &self.soc.received } else { &self.soc.shed };
        counter.fetch_add(1, Ordering::Relaxed);
        taken
    }

    /// A batch of external lines uploaded at once (`POST /api/v1/admin/soc/ingest`): each
    /// line as [`App::ingest_line_waiting`] takes it, the whole batch waiting at most
    /// `patience` for the engine; what is left when it runs out is shed and counted.
    pub async fn ingest_text(&self, text: &str, patience: std::time::Duration) -> IngestReport {
        let deadline = tokio::time::Instant::now() + patience;
        let mut report = IngestReport::default();
        for line in text.lines() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() {
                continue;
            }
            report.lines += 1;
            if line.len() > tessera_detect::access_log::MAX_LINE {
                self.ingest_malformed("a line longer than the limit");
                report.malformed += 1;
                continue;
            }
            let Some(event) = self.parse_ingested(line) else {
                report.malformed += 1;
                if report.samples.len() < MAX_SAMPLES {
                    report.samples.push(format!(
                        "line {}: {}",
                        report.lines,
                        line.chars().take(120).collect::<String>()
                    ));
                }
                continue;
            };
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if self.observe_waiting(event, left).await {
                report.accepted += 1;
            } else {
                report.shed += 1;
            }
        }
        report
    }

    /// An external line as an event, or counted and sampled as malformed.
    fn parse_ingested(&self, line: &str) -> Option<Event> {
        use tessera_detect::replay::{parse, Format};
        let format = if line.trim_start().starts_with('{') { Format::JsonLines } else { Format::Combined };
        match parse(format, line) {
            Ok(event) => {
                self.soc.ingested.fetch_add(1, Ordering::Relaxed);
                Some(event)
            }
            Err(reason) => {
                let clipped: String = line.chars().take(120).collect();
                self.ingest_malformed(&format!("{reason}: {clipped}"));
                None
            }
        }
    }

    /// Counts a line that could not be read, keeping the last few.
    pub fn ingest_malformed(&self, sample: &str) {
        self.soc.malformed.fetch_add(1, Ordering::Relaxed);
        let mut samples = self.soc.samples.lock().unwrap_or_else(|e| e.into_inner());
        if samples.len() == MAX_SAMPLES {
            samples.pop_front();
        }
        samples.push_back(sample.chars().take(200).collect());
    }

    /// The rule file in force (the built-in pack until one is installed).
    pub fn soc_rules_yaml(&self) -> String {
        self.soc.rules.borrow().1.clone()
    }

    /// Checks a rule file whole and, if every rule is valid, puts it in force on this node in
    /// place of the running rules (whose state is dropped). A refused file changes nothing
    /// and says the rule, line and reason.
    pub fn install_soc_rules(&self, yaml: &str) -> std::result::Result<usize, tessera_detect::RuleError> {
        let rules = tessera_detect::parse_rules(yaml)?;
        let n = rules.len();
        self.soc.rules.send_replace(std::sync::Arc::new((rules, yaml.to_string())));
        Ok(n)
    }

    /// [`App::install_soc_rules`], then tells the other nodes, which install the same file.
    pub async fn replace_soc_rules(&self, yaml: &str) -> crate::Result<usize> {
        let n = self.install_soc_rules(yaml).map_err(|e| crate::AppError::invalid("rules", e.to_string()))?;
        self.tell_nodes(crate::cluster::NodeEvent::SocRules { yaml: yaml.to_string() }).await;
        Ok(n)
    }

    /// The last alerts, newest first.
    pub fn soc_alerts(&self, limit: usize) -> Vec<Alert> {
        let alerts = self.soc.alerts.lock().unwrap_or_else(|e| e.into_inner());
        alerts.iter().rev().take(limit).cloned().collect()
    }

    pub fn soc_figures(&self) -> SocFigures {
        SocFigures {
            received: self.soc.received.load(Ordering::Relaxed),
            shed: self.soc.shed.load(Ordering::Relaxed),
            decided: self.soc.decided.load(Ordering::Relaxed),
            ingested: self.soc.ingested.load(Ordering::Relaxed),
            malformed: self.soc.malformed.load(Ordering::Relaxed),
            samples: self.soc.samples.lock().unwrap_or_else(|e| e.into_inner()).iter().cloned().collect(),
            rules: self.soc.stats.lock().unwrap_or_else(|e| e.into_inner()).clone(),
        }
    }

    /// What the edge does for the engine's decision, if the edge can do it.
    fn edge_decision(&self, alert: &Alert) -> Option<EdgeDecision> {
        let d = alert.decision.as_ref()?;
        let kind = match d.action {
            Decide::Block | Decide::Suspend => EdgeKind::Block,
            Decide::Challenge => EdgeKind::Challenge,
            Decide::Throttle => EdgeKind::Throttle,
            Decide::Revoke | Decide::Alert => return None,
        };
        let scope = match &d.scope {
            Scope::Address(ip) => EdgeScope::Address(*ip),
            Scope::Network(n) => EdgeScope::Network(tessera_airlock::network_of(n.addr())),
            Scope::Account(a) => EdgeScope::Account(*a),
            Scope::Ticket(_) | Scope::Everyone => return None,
        };
        // The block list bounds a reason's length; a rule's title is the operator's to write.
        let reason: String = format!("{}: {}", alert.rule, alert.title)
            .chars()
            .take(tessera_airlock::blocklist::MAX_REASON_CHARS)
            .collect();
        match EdgeDecision::new(scope, kind, d.until_ms, &reason, ORIGIN.to_string()) {
            Ok(d) => Some(d),
            Err(e) => {
                tracing::error!(rule = %alert.rule, error = %e, "a decision of the engine is not one the edge takes");
                None
            }
        }
    }
}

/// Runs the engine over the node's events until shutdown. Starts once per process: a second
/// call returns at once.
pub async fn soc_loop(app: App, mut shutdown: watch::Receiver<bool>) {
    let Some(mut rx) = app.soc.rx.lock().unwrap_or_else(|e| e.into_inner()).take() else { return };
    let mut rules = app.soc.rules.subscribe();
    let mut engine = Engine::new(rules.borrow_and_update().0.clone(), app.config.soc_allow.clone());
    let mut out = Vec::new();
    let mut batch = Vec::with_capacity(256);
    loop {
        tokio::select! {
            n = rx.recv_many(&mut batch, 256) => {
                if n == 0 {
                    break;
                }
            }
            Ok(()) = rules.changed() => {
                engine = Engine::new(rules.borrow_and_update().0.clone(), app.config.soc_allow.clone());
                tracing::info!(rules = engine.rules().count(), "security rules replaced");
                continue;
            }
            _ = shutdown.changed() => break,
        }
        let streaming = app.soc.stream.receiver_count() > 0;
        // Each alert with the event that made it overflow, for its case.
        let mut triggers = Vec::new();
        {
            let mut book = app.soc.cases.lock().unwrap_or_else(|e| e.into_inner());
            for e in batch.drain(..) {
                let before = out.len();
                engine.observe(&e, &mut out);
                if out.len() > before {
                    triggers.resize(out.len(), Some(e.clone()));
                }
                book.witness(&e);
                if streaming {
                    let _ = app.soc.stream.send(std::sync::Arc::new(e));
                }
            }
        }
        for (mut alert, trigger) in out.drain(..).zip(triggers.drain(..)) {
            // A decision runs for its duration from now on this node's clock: an event's time
            // is its log's, which may run behind (a followed log) or be off.
            let now = app.now_ms();
            if let Some(d) = alert.decision.as_mut() {
                let length = d.until_ms - d.from_ms;
                d.from_ms = now;
                d.until_ms = d.from_ms.saturating_add(length);
            }
            tracing::warn!(target: "security", rule = %alert.rule, key = %alert.key, level = alert.level.as_str(), "alert");
            let edge = app.edge_decision(&alert);
            let filed = app.soc.cases.lock().unwrap_or_else(|e| e.into_inner()).file(alert.clone(), trigger, now);
            let case = match filed {
                // An analyst said this is no attack: no decision, no case (the suppression
                // counts it).
                tessera_detect::Filed::Suppressed { .. } => continue,
                tessera_detect::Filed::Case { id, .. } => id,
            };
            if let Some(d) = edge {
                match app.decide(d).await {
                    Ok(()) => {
                        app.soc.decided.fetch_add(1, Ordering::Relaxed);
                        app.soc.cases.lock().unwrap_or_else(|e| e.into_inner()).mark_decided(case);
                    }
                    // The decision is in force here (the block list took it before the store
                    // refused); it is retried when the rule fires again.
                    Err(e) => {
                        tracing::error!(rule = %alert.rule, error = %e, "a decision of the engine was not stored")
                    }
                }
            }
            let mut alerts = app.soc.alerts.lock().unwrap_or_else(|e| e.into_inner());
            if alerts.len() == MAX_ALERTS {
                alerts.pop_front();
            }
            alerts.push_back(alert);
        }
        *app.soc.stats.lock().unwrap_or_else(|e| e.into_inner()) = engine.stats();
    }
}

impl Soc {
    /// Room left in the engine's queue, and its size (for the node's health).
    pub(crate) fn queue_room(&self) -> (usize, usize) {
        (self.tx.capacity(), self.tx.max_capacity())
    }

    /// Events shed because the queue was full.
    pub(crate) fn shed_count(&self) -> u64 {
        self.shed.load(Ordering::Relaxed)
    }
}
