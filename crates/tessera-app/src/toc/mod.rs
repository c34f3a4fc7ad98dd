//! The technology operations centre, served: `tessera_ops` decides, this module feeds it and
//! delivers what it decides.
//!
//! Every node runs the same engine over the same model (`TocConfig::model`, the demo's by
//! default, or the operators' YAML). What feeds it:
//!
//! - **heartbeats and health** from devices and nodes: gate syncs, desk syncs and result
//!   posts count as heartbeats of the component of the same id; anything else posts to
//!   `/api/v1/toc/observations` with the key of the component it speaks for
//!   ([`Toc::observer_key`]); each node sends its own heartbeat and health report every tick;
//! - **probes**: each node is a vantage point for the store and the bus it uses, and probe
//!   agents elsewhere (`probes.rs`) post theirs with the key of their vantage point;
//! - on several nodes, what one node observes reaches the others over the bus
//!   ([`crate::cluster::NodeEvent::TocObserved`]), so that every node sees the same.
//!
//! Every second the engine evaluates the model; the alerts it raises go through the alerter
//! (grouping, inhibition, silences) and become incidents. Each node files incidents, but only
//! the *leader* (the first node of the model that is up, as this node sees it) notifies: when
//! it dies, the next one up takes over; an outage of the bus makes each node its own leader.
//! The TOC fails open: two nodes that cannot see each other both notify (a duplicate, never a
//! missed page).
//!
//! Contingency switches are the one thing every node must agree on: they go to the store's
//! append-only log and every node folds it (`switches.rs`); the shop, the waiting room, the
//! gates, the desks and the results read [`Toc::is_on`].

mod deliver;
pub mod journey;
pub mod probes;
mod rehearse;
mod switches;
mod windows;
pub use windows::MAX_WINDOW_MINUTES;

use crate::error::AppError;
use crate::App;
use crate::Result;
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tessera_ops::alerts::{AlertConfig, Alerter};
use tessera_ops::incidents::{EscalationLevel, EscalationPolicy, Incident, IncidentBook};
use tessera_ops::model::Kind;
use tessera_ops::state::{Engine, Observation, Snapshot};
use tessera_ops::{HealthStatus, Model, Severity};
use tokio::sync::watch;

pub use rehearse::{RehearsalView, RunReport};
pub use switches::{public_notice as switches_notice, ModeView, UnloggedSwitch};
pub use tessera_ops::Mode;

/// How often the engine evaluates: part of every detection bound.
pub const TICK_MS: i64 = 1_000;
/// Observations one request may carry.
pub const MAX_BATCH: usize = 1_000;
/// Devices heard from that the model does not know, listed at most (the others counted).
const MAX_UNMODELLED: usize = 100;
/// Notifications kept for the console.
const MAX_SENT: usize = 200;

/// What the operations centre watches and whom it pages.
#[derive(Debug, Clone)]
pub struct TocConfig {
    pub model: Arc<Model>,
    /// This node's component in the model (its heartbeats; its vantage point for probes).
    pub node: String,
    /// The component this node's store is (probed by every node).
    pub store_component: Option<String>,
    /// The component the bus is, on several nodes.
    pub bus_component: Option<String>,
    /// Escalation targets to mail addresses.
    pub oncall: BTreeMap<String, String>,
    /// URLs every notification is posted to (JSON).
    pub webhooks: Vec<String>,
    pub escalation: EscalationPolicy,
    /// Grouping, timings and inhibition of alerts.
    pub alerts: AlertConfig,
}

impl Default for TocConfig {
    fn default() -> Self {
        TocConfig {
            model: Arc::new(tessera_ops::demo()),
            node: "tessera-node-1".into(),
            store_component: Some("postgres-primary".into()),
            bus_component: Some("nats".into()),
            oncall: [("toc-duty", "toc-duty@tessera.test"), ("toc-manager", "toc-manager@tessera.test")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            webhooks: Vec::new(),
            escalation: EscalationPolicy {
                levels: vec![
                    EscalationLevel { targets: vec!["toc-duty".into()], delay_ms: 5 * 60_000 },
                    EscalationLevel { targets: vec!["toc-manager".into()], delay_ms: 10 * 60_000 },
                ],
                loops: 1,
            },
            alerts: {
                // Alertmanager's grouping and inhibition, with a TOC's timings: the first
                // notification 10 s after the first alert of a group (not 30 s), updates a
                // minute apart (not 5).
                let mut a = AlertConfig::toc_default();
                a.route.group_wait_ms = 10_000;
                a.route.group_interval_ms = 60_000;
                a
            },
        }
    }
}

/// An observation as a device, a probe agent or another node sends it.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Observed {
    /// `component` is alive; `device_time_ms` its own clock (a skewed clock degrades it).
    Heartbeat { component: String, at_ms: i64, device_time_ms: Option<i64> },
    /// One probe from `vantage`.
    Probe { component: String, vantage: String, ok: bool, at_ms: i64, detail: Option<String> },
    /// `component`'s health report's overall status (`pass`, `warn`, `fail`).
    Health { component: String, status: HealthStatus, at_ms: i64, output: Option<String> },
}

impl Observed {
    /// Who must have sent it: the component itself, or the probe's vantage point.
    pub fn speaker(&self) -> &str {
        match self {
            Observed::Heartbeat { component, .. } | Observed::Health { component, .. } => component,
            Observed::Probe { vantage, .. } => vantage,
        }
    }

    fn component(&self) -> &str {
        match self {
            Observed::Heartbeat { component, .. }
            | Observed::Probe { component, .. }
            | Observed::Health { component, .. } => component,
        }
    }

    fn into_observation(self) -> Observation {
        match self {
            Observed::Heartbeat { component, at_ms, device_time_ms } => {
                Observation::Heartbeat { component, at_ms, device_ms: device_time_ms }
            }
            Observed::Probe { component, vantage, ok, at_ms, detail } => {
                Observation::Probe { component, vantage, ok, at_ms, detail }
            }
            Observed::Health { component, status, at_ms, output } => {
                Observation::Health { component, status, at_ms, output }
            }
        }
    }
}

/// A notification as delivered (or held by a node that does not lead).
#[derive(Debug, Clone, Serialize)]
pub struct Sent {
    pub at_ms: i64,
    pub incident: Option<u64>,
    pub subject: String,
    /// `mail:<address>`, `webhook:<url>`, or `held` on a node that does not lead.
    pub channels: Vec<String>,
    pub failed: Vec<String>,
}

struct Inner {
    engine: Engine,
    alerter: Alerter,
    book: IncidentBook,
    snapshot: Option<Arc<Snapshot>>,
    rehearsal: Option<rehearse::Rehearsal>,
    runs: VecDeque<RunReport>,
    unmodelled: BTreeMap<String, i64>,
    sent: VecDeque<Sent>,
}

/// The operations centre of one node.
pub struct Toc {
    config: TocConfig,
    inner: Mutex<Inner>,
    pub(crate) modes: switches::Modes,
    observed: AtomicU64,
    refused: AtomicU64,
    unmodelled_dropped: AtomicU64,
}

impl Toc {
    pub fn new(config: TocConfig, now_ms: i64) -> Toc {
        let model = (*config.model).clone();
        let inner = Inner {
            engine: Engine::new(model, now_ms),
            alerter: Alerter::new(config.alerts.clone()).unwrap_or_else(|e| {
                tracing::error!(error = %e, "alert configuration refused; the built-in one is used");
                Alerter::new(AlertConfig::toc_default()).expect("the built-in alert configuration is valid")
            }),
            book: IncidentBook::new(config.escalation.clone()),
            snapshot: None,
            rehearsal: None,
            runs: VecDeque::new(),
            unmodelled: BTreeMap::new(),
            sent: VecDeque::new(),
        };
        Toc {
            config,
            inner: Mutex::new(inner),
            modes: Default::default(),
            observed: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            unmodelled_dropped: AtomicU64::new(0),
        }
    }

    pub fn config(&self) -> &TocConfig {
        &self.config
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes observations received at `now_ms` (a rehearsal's faults applied first). The
    /// first refusal is returned after the others were taken: one bad line does not hide
    /// a batch's heartbeats.
    pub fn observe(&self, batch: Vec<Observed>, now_ms: i64) -> std::result::Result<usize, String> {
        let mut inner = self.lock();
        let mut taken = 0;
        let mut first_error = None;
        for o in batch {
            let o = match &inner.rehearsal {
                Some(r) => match r.distort(o, now_ms) {
                    Some(o) => o,
                    None => continue,
                },
                None => o,
            };
            match inner.engine.observe(&o.into_observation(), now_ms) {
                Ok(()) => taken += 1,
                Err(e) => {
                    self.refused.fetch_add(1, Ordering::Relaxed);
                    first_error.get_or_insert_with(|| e.to_string());
                }
            }
        }
        self.observed.fetch_add(taken as u64, Ordering::Relaxed);
        match first_error {
            Some(e) if taken == 0 => Err(e),
            _ => Ok(taken),
        }
    }

    /// A device of the platform (a gate, a desk, a result source) was heard from: a
    /// heartbeat of its component when the model has one, otherwise listed as unmodelled.
    pub fn heard(&self, id: &str, now_ms: i64) {
        if self.config.model.index_of(id).is_some() {
            let hb = Observed::Heartbeat { component: id.to_string(), at_ms: now_ms, device_time_ms: None };
            let _ = self.observe(vec![hb], now_ms);
            return;
        }
        let mut inner = self.lock();
        if inner.unmodelled.len() < MAX_UNMODELLED || inner.unmodelled.contains_key(id) {
            inner.unmodelled.insert(id.chars().take(100).collect(), now_ms);
        } else {
            self.unmodelled_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The key `name` (a component or a vantage point of the model) posts observations with.
    pub fn observer_key(app: &App, name: &str) -> Result<String> {
        let model = &app.toc.config.model;
        let vantage = model
            .components()
            .iter()
            .any(|c| c.probe.as_ref().is_some_and(|p| p.vantage_points.iter().any(|v| v == name)));
        if model.index_of(name).is_none() && !vantage {
            return Err(AppError::NotFound(format!("component or vantage point {name:?}")));
        }
        Ok(hex::encode(&app.derived_key(b"tessera toc observer key", name.as_bytes())[..16]))
    }

    /// Whether `key` is `name`'s observer key (constant time).
    pub fn check_observer_key(app: &App, name: &str, key: &str) -> bool {
        use hmac::{Hmac, Mac};
        use secrecy::ExposeSecret;
        let Ok(given) = hex::decode(key) else { return false };
        if given.len() != 16 {
            return false;
        }
        // The same MAC as `derived_key`, checked by the MAC's own constant-time comparison.
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(app.config.secret_key.expose_secret()).expect("any length");
        mac.update(b"tessera toc observer key");
        mac.update(name.as_bytes());
        mac.verify_truncated_left(&given).is_ok()
    }

    /// Evaluates now: the snapshot, alerts into incidents, escalations. Returns what must be
    /// delivered and the incidents to keep.
    fn evaluate(&self, now_ms: i64) -> (Vec<deliver::Outgoing>, Vec<Incident>) {
        let mut inner = self.lock();
        let snapshot = Arc::new(inner.engine.evaluate(now_ms));
        if let Some(r) = inner.rehearsal.as_mut() {
            r.recorder.record(&snapshot);
        }
        let firing = snapshot.alerts(&self.config.model);
        inner.alerter.sync(firing, now_ms);
        let mut out = Vec::new();
        let mut changed = std::collections::BTreeSet::new();
        for n in inner.alerter.flush(now_ms) {
            let filed = inner.book.on_notification(&n);
            if let Some(f) = filed {
                changed.insert(f.id);
            }
            out.push(deliver::Outgoing::notification(&n, filed.map(|f| f.id)));
        }
        for page in inner.book.escalate(now_ms) {
            changed.insert(page.incident);
            let title = inner.book.get(page.incident).map(|i| i.title.clone()).unwrap_or_default();
            out.push(deliver::Outgoing::page(&page, &title));
        }
        inner.snapshot = Some(snapshot);
        let incidents = changed.iter().filter_map(|id| inner.book.get(*id).cloned()).collect();
        (out, incidents)
    }

    /// The last evaluation.
    pub fn snapshot(&self) -> Option<Arc<Snapshot>> {
        self.lock().snapshot.clone()
    }

    /// Whether this node notifies: the first node of the model that is up leads (this node
    /// when none is seen up, or before the first evaluation).
    pub fn leads(&self) -> bool {
        let Some(snap) = self.snapshot() else { return true };
        let nodes = self.config.model.components().iter().enumerate().filter(|(_, c)| c.kind == Kind::Node);
        for (i, c) in nodes {
            let up =
                snap.components.get(i).is_some_and(|s| !s.state.is_out() && s.state != tessera_ops::State::Unknown);
            if up || c.id == self.config.node {
                return c.id == self.config.node;
            }
        }
        true
    }

    fn record_sent(&self, sent: Sent) {
        let mut inner = self.lock();
        if inner.sent.len() == MAX_SENT {
            inner.sent.pop_front();
        }
        inner.sent.push_back(sent);
    }

    /// Runs `f` on incident `id` and returns it as it now is.
    fn on_incident(
        &self,
        id: u64,
        f: impl FnOnce(&mut IncidentBook) -> std::result::Result<(), tessera_ops::IncidentError>,
    ) -> Result<Incident> {
        let mut inner = self.lock();
        if inner.book.get(id).is_none() {
            return Err(AppError::NotFound(format!("incident {id}")));
        }
        f(&mut inner.book).map_err(|e| AppError::invalid("incident", e.to_string()))?;
        inner.book.get(id).cloned().ok_or_else(|| AppError::NotFound(format!("incident {id}")))
    }
}

/// What an operator did to an incident, told to the other nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentMove {
    Acknowledge,
    Resolve,
}

/// The wall: everything the console shows, at one instant.
#[derive(Debug, Clone, Serialize)]
pub struct Wall {
    pub at_ms: i64,
    pub node: String,
    pub leads: bool,
    /// The venues, as (id, name).
    pub venues: Vec<(String, String)>,
    pub components: Vec<WallComponent>,
    pub headroom: Vec<tessera_ops::state::Headroom>,
    pub services: Vec<tessera_ops::state::ServiceStatus>,
    pub counts: BTreeMap<&'static str, usize>,
    /// The 50 most recent incidents, open ones first.
    pub incidents: Vec<Incident>,
    /// Open incidents in all.
    pub incidents_open: usize,
    pub modes: Vec<ModeView>,
    pub rehearsal: Option<RehearsalView>,
    pub runs: Vec<RunReport>,
    pub notifications: Vec<Sent>,
    /// Silences in force or to come.
    pub silences: Vec<tessera_ops::alerts::Silence>,
    /// Devices heard from that the model does not name, with when.
    pub unmodelled: BTreeMap<String, i64>,
    pub observations: u64,
    pub refused_observations: u64,
}

/// One component on the wall.
#[derive(Debug, Clone, Serialize)]
pub struct WallComponent {
    pub id: String,
    pub name: String,
    pub kind: &'static str,
    pub venue: Option<String>,
    pub state: tessera_ops::State,
    pub reason: String,
    pub cause: Option<String>,
}

/// The public status page.
#[derive(Debug, Clone, Serialize)]
pub struct PublicStatusPage {
    pub at_ms: i64,
    /// The worst of the services.
    pub overall: tessera_ops::PublicStatus,
    pub services: Vec<tessera_ops::state::ServiceStatus>,
    /// Degraded modes in force that the public notices, with the time they were switched.
    pub notices: Vec<(String, i64)>,
}

impl App {
    /// The operations centre's wall as this node sees it.
    pub fn toc_wall(&self) -> Wall {
        let toc = &self.toc;
        let model = &toc.config.model;
        let inner = toc.lock();
        let snap = inner.snapshot.clone();
        let components = model
            .components()
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let s = snap.as_ref().and_then(|s| s.components.get(i));
                WallComponent {
                    id: c.id.clone(),
                    name: c.name.clone(),
                    kind: c.kind.as_str(),
                    venue: c.venue.clone(),
                    state: s.map_or(tessera_ops::State::Unknown, |s| s.state),
                    reason: s.map(|s| s.reason.clone()).unwrap_or_default(),
                    cause: s.and_then(|s| s.cause.clone()),
                }
            })
            .collect();
        let mut incidents: Vec<Incident> = inner.book.list(false).into_iter().take(50).cloned().collect();
        incidents.sort_by_key(|i| (!i.is_open(), std::cmp::Reverse(i.opened_ms)));
        let wall = Wall {
            at_ms: snap.as_ref().map_or(self.now_ms(), |s| s.at_ms),
            node: toc.config.node.clone(),
            leads: true,
            venues: model.doc().venues.iter().map(|v| (v.id.clone(), v.name.clone())).collect(),
            components,
            headroom: snap.as_ref().map(|s| s.headroom.clone()).unwrap_or_default(),
            services: snap.as_ref().map(|s| s.services.clone()).unwrap_or_default(),
            counts: snap.as_ref().map(|s| s.counts.clone()).unwrap_or_default(),
            incidents,
            incidents_open: inner.book.list(true).len(),
            modes: Vec::new(),
            rehearsal: inner.rehearsal.as_ref().map(|r| r.view(self.now_ms())),
            runs: inner.runs.iter().rev().cloned().collect(),
            notifications: inner.sent.iter().rev().take(30).cloned().collect(),
            silences: inner.alerter.silences().filter(|s| s.ends_at_ms > self.now_ms()).cloned().collect(),
            unmodelled: inner.unmodelled.clone(),
            observations: toc.observed.load(Ordering::Relaxed),
            refused_observations: toc.refused.load(Ordering::Relaxed),
        };
        drop(inner);
        Wall { leads: toc.leads(), modes: toc.modes.view(), ..wall }
    }

    /// What fans and media see at `/status`.
    pub fn public_status(&self) -> PublicStatusPage {
        let snap = self.toc.snapshot();
        let services = snap.as_ref().map(|s| s.services.clone()).unwrap_or_default();
        let mut overall = services.iter().map(|s| s.status).max().unwrap_or(tessera_ops::PublicStatus::Operational);
        let notices: Vec<(String, i64)> = self
            .toc
            .modes
            .view()
            .into_iter()
            .filter(|m| m.on)
            .map(|m| (switches::public_notice(m.mode).to_string(), m.since_ms))
            .collect();
        if !notices.is_empty() && overall == tessera_ops::PublicStatus::Operational {
            overall = tessera_ops::PublicStatus::Degraded;
        }
        PublicStatusPage { at_ms: snap.map_or(self.now_ms(), |s| s.at_ms), overall, services, notices }
    }

    /// Observations posted by `speaker` (authenticated by its key): each must be spoken by it.
    pub async fn toc_observe(&self, speaker: &str, batch: Vec<Observed>) -> Result<usize> {
        if batch.is_empty() || batch.len() > MAX_BATCH {
            return Err(AppError::invalid("observations", format!("1 to {MAX_BATCH} observations")));
        }
        if let Some(o) = batch.iter().find(|o| o.speaker() != speaker) {
            return Err(AppError::Forbidden(format!(
                "the key of {speaker:?} cannot speak for {:?}: a device reports itself, a probe its own vantage point",
                o.speaker()
            )));
        }
        let now = self.now_ms();
        let taken = self.toc.observe(batch.clone(), now).map_err(|e| AppError::invalid("observations", e))?;
        self.share_observations(batch).await;
        Ok(taken)
    }

    /// Tells the other nodes what this node observed.
    async fn share_observations(&self, batch: Vec<Observed>) {
        if self.cluster.is_some() {
            self.tell_nodes(crate::cluster::NodeEvent::TocObserved { observations: batch }).await;
        }
    }

    /// Observations another node made.
    pub(crate) fn toc_observed_elsewhere(&self, batch: Vec<Observed>) {
        let _ = self.toc.observe(batch, self.now_ms());
    }

    /// Acknowledges incident `id` (and, on the other nodes, their incident of the same group,
    /// so that the leading node stops escalating whichever console the operator used).
    pub async fn toc_acknowledge(&self, who: &crate::auth::Principal, id: u64) -> Result<Incident> {
        let now = self.now_ms();
        let inc = self.toc.on_incident(id, |b| b.acknowledge(id, who.email.as_str(), now).map(|_| ()))?;
        self.toc.acted(who.email.as_str(), tessera_ops::rehearsal::OperatorAction::Acknowledged, now);
        self.keep_incidents(vec![inc.clone()]).await;
        self.tell_incident(&inc, IncidentMove::Acknowledge, who).await;
        Ok(inc)
    }

    /// Resolves incident `id` (and the other nodes' incident of the same group).
    pub async fn toc_resolve(&self, who: &crate::auth::Principal, id: u64) -> Result<Incident> {
        let now = self.now_ms();
        let inc = self.toc.on_incident(id, |b| b.resolve(id, who.email.as_str(), now).map(|_| ()))?;
        self.toc.acted(who.email.as_str(), tessera_ops::rehearsal::OperatorAction::Resolved, now);
        self.keep_incidents(vec![inc.clone()]).await;
        self.tell_incident(&inc, IncidentMove::Resolve, who).await;
        self.finish_rehearsal_if_due(now).await;
        Ok(inc)
    }

    async fn tell_incident(&self, inc: &Incident, action: IncidentMove, who: &crate::auth::Principal) {
        // An incident opened by hand has no group: it lives on the node it was opened on.
        if self.cluster.is_some() && !inc.group_key.is_empty() {
            let event = crate::cluster::NodeEvent::TocIncident {
                group_key: inc.group_key.clone(),
                action,
                who: who.email.as_str().to_string(),
            };
            self.tell_nodes(event).await;
        }
    }

    /// Another node's operator acknowledged or resolved the incident of `group_key`: the same
    /// here, when this node has one open.
    pub(crate) fn toc_incident_elsewhere(&self, group_key: &str, action: IncidentMove, who: &str) {
        let now = self.now_ms();
        let mut inner = self.toc.lock();
        let Some(id) = inner.book.list(true).iter().find(|i| i.group_key == group_key).map(|i| i.id) else {
            return;
        };
        let r = match action {
            IncidentMove::Acknowledge => inner.book.acknowledge(id, who, now).map(|_| ()),
            IncidentMove::Resolve => inner.book.resolve(id, who, now).map(|_| ()),
        };
        if let Err(e) = r {
            tracing::debug!(error = %e, "an incident move from another node did not apply here");
        }
    }

    /// Adds a note to incident `id`'s timeline.
    pub async fn toc_note(&self, who: &crate::auth::Principal, id: u64, text: &str) -> Result<Incident> {
        let now = self.now_ms();
        let inc = self.toc.on_incident(id, |b| b.note(id, text, who.email.as_str(), now).map(|_| ()))?;
        self.keep_incidents(vec![inc.clone()]).await;
        Ok(inc)
    }

    /// Links incident `id` to SOC case `case`.
    pub async fn toc_link_case(&self, who: &crate::auth::Principal, id: u64, case: u64) -> Result<Incident> {
        let now = self.now_ms();
        let inc = self.toc.on_incident(id, |b| b.link_case(id, case, who.email.as_str(), now).map(|_| ()))?;
        self.keep_incidents(vec![inc.clone()]).await;
        Ok(inc)
    }

    /// Opens an incident by hand.
    pub async fn toc_open_incident(
        &self,
        who: &crate::auth::Principal,
        title: &str,
        severity: Severity,
    ) -> Result<Incident> {
        let now = self.now_ms();
        let inc = {
            let mut inner = self.toc.lock();
            let id = inner
                .book
                .open(title, severity, who.email.as_str(), now)
                .map_err(|e| AppError::invalid("title", e.to_string()))?;
            inner.book.get(id).cloned().ok_or_else(|| AppError::Internal("incident just opened".into()))?
        };
        self.keep_incidents(vec![inc.clone()]).await;
        Ok(inc)
    }

    /// Reads back this node's incidents from the store after a restart (open ones first), so
    /// that the book goes on where it stopped: the same ids, timelines and pages already sent.
    /// Returns how many were taken back.
    pub async fn restore_incidents(&self) -> Result<usize> {
        let prefix = format!("{}:", self.toc.config.node);
        let docs = self
            .store
            .toc_documents(tessera_store::TocKind::Incident, tessera_ops::incidents::MAX_INCIDENTS as i64)
            .await?;
        let mut inner = self.toc.lock();
        let mut n = 0;
        for doc in docs.iter().filter(|d| d.key.starts_with(&prefix)) {
            match serde_json::from_str::<Incident>(&doc.json) {
                Ok(inc) => n += usize::from(inner.book.restore(inc)),
                Err(e) => tracing::warn!(key = %doc.key, error = %e, "a stored incident does not read back; skipped"),
            }
        }
        Ok(n)
    }

    /// Writes incidents to the store (under this node's name); a failure is logged, the
    /// incident lives on in memory and is written again at its next change.
    async fn keep_incidents(&self, incidents: Vec<Incident>) {
        for inc in incidents {
            let doc = tessera_store::TocDocument {
                key: format!("{}:{}", self.toc.config.node, inc.id),
                open: inc.is_open(),
                json: serde_json::to_string(&inc).unwrap_or_default(),
                updated_at: self.now(),
            };
            if let Err(e) = self.store.put_toc_document(tessera_store::TocKind::Incident, &doc).await {
                tracing::warn!(error = %e, incident = inc.id, "incident not written to the store");
            }
        }
    }

    /// One tick: this node's own observations, the evaluation, deliveries.
    pub async fn toc_tick(&self, with_health: bool) {
        let now = self.now_ms();
        let mut own =
            vec![Observed::Heartbeat { component: self.toc.config.node.clone(), at_ms: now, device_time_ms: None }];
        if with_health {
            own.extend(self.own_probes(now).await);
        }
        let model = &self.toc.config.model;
        own.retain(|o| model.index_of(o.component()).is_some());
        let _ = self.toc.observe(own.clone(), now);
        self.share_observations(own).await;
        let (outgoing, incidents) = self.toc.evaluate(now);
        self.keep_incidents(incidents).await;
        if !outgoing.is_empty() {
            self.deliver(outgoing).await;
        }
        self.finish_rehearsal_if_due(now).await;
    }

    /// What this node measures itself: its health report, and as a vantage point the store
    /// and the bus it uses.
    async fn own_probes(&self, now: i64) -> Vec<Observed> {
        let report = self.health_report().await;
        let cfg = &self.toc.config;
        let failing = report.failing();
        // The store and the bus are components of their own, probed below: their failure is
        // theirs, not this node's (one cause, one incident).
        let own = failing.iter().filter(|(k, _)| !k.ends_with(":writable") && !k.starts_with("nats:"));
        let (status, output) = own.fold((HealthStatus::Pass, None::<String>), |(worst, out), (k, s)| {
            (if *s > worst { *s } else { worst }, Some(out.map_or(k.to_string(), |o| format!("{o}, {k}"))))
        });
        let mut out = vec![Observed::Health { component: cfg.node.clone(), status, at_ms: now, output }];
        let vantage_of =
            |component: &str| model_vantage(&cfg.model, component, &cfg.node).then(|| component.to_string());
        if let Some(store) = cfg.store_component.as_deref().and_then(vantage_of) {
            let bad = failing.iter().find(|(k, _)| k.ends_with(":writable"));
            out.push(Observed::Probe {
                component: store,
                vantage: cfg.node.clone(),
                ok: bad.is_none(),
                at_ms: now,
                detail: bad.map(|(k, s)| format!("{k}: {s:?}")),
            });
        }
        if self.cluster.is_some() {
            if let Some(bus) = cfg.bus_component.as_deref().and_then(vantage_of) {
                let bad = failing.iter().any(|(k, _)| k.starts_with("nats:"));
                out.push(Observed::Probe {
                    component: bus,
                    vantage: cfg.node.clone(),
                    ok: !bad,
                    at_ms: now,
                    detail: bad.then(|| "not connected to NATS".to_string()),
                });
            }
        }
        out
    }
}

fn model_vantage(model: &Model, component: &str, vantage: &str) -> bool {
    model
        .component(component)
        .and_then(|c| c.probe.as_ref())
        .is_some_and(|p| p.vantage_points.iter().any(|v| v == vantage))
}

/// The operations centre's loop: a tick a second, the node's health every fifth, the
/// switch log, the shared windows, the desks' switches and the takedowns every other.
pub async fn toc_loop(app: App, mut shutdown: watch::Receiver<bool>) {
    let mut ticks: u64 = 0;
    loop {
        if ticks.is_multiple_of(2) {
            if let Err(e) = app.refresh_switches().await {
                tracing::warn!(error = %e, "contingency switches not refreshed");
            }
            if let Err(e) = app.refresh_windows().await {
                tracing::warn!(error = %e, "shared silences and maintenance windows not refreshed");
            }
            if let Err(e) = app.refresh_desk_modes().await {
                tracing::warn!(error = %e, "collection desks' switches not refreshed");
            }
            if let Err(e) = app.refresh_takedowns().await {
                tracing::warn!(error = %e, "lookalike takedowns not refreshed");
            }
        }
        app.toc_tick(ticks.is_multiple_of(5)).await;
        ticks += 1;
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_millis(TICK_MS as u64)) => {}
            _ = shutdown.changed() => break,
        }
    }
}
