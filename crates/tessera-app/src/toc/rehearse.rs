//! Rehearsal mode: a scripted failure scenario (`tessera_ops::rehearsal::catalogue`) played
//! into the running operations centre, as Atos rehearsed 1,400 of them before Paris 2024.
//!
//! What is injected is the scenario's effect on what the TOC observes, on the live node: the
//! heartbeats of the components it silences are dropped on arrival, the probes it fails arrive
//! failed, a skewed clock arrives skewed. Everything downstream is the real thing: the engine
//! decides, alerts group and become incidents, notifications go out (marked as a rehearsal),
//! operators acknowledge, switch modes and resolve on the real console. The run records when
//! each expected state was first seen and what operators did, and is scored by
//! `tessera_ops::rehearsal::score`. The fault lasts the time asked for; the run goes on until
//! an operator resolves after that (or [`GRACE_MS`] later, or when stopped by hand), so that
//! the recovery is graded too.
//!
//! What it does not do is break the real dependency: the shop keeps selling while the TOC
//! rehearses a PostgreSQL stop. The fault tests (`tests/faults`, `tests/toc`) stop the real
//! things.

use super::Observed;
use crate::error::AppError;
use crate::App;
use crate::Result;
use serde::Serialize;
use std::collections::HashMap;
use tessera_ops::rehearsal::{catalogue, score, Acted, Effect, OperatorAction, Recorder, Run, Scenario, Score};
use tessera_ops::HealthStatus;

/// Runs kept for the console.
const MAX_RUNS: usize = 20;
/// Longest fault.
pub const MAX_RUN_SECS: i64 = 3_600;
/// How long a run waits for its resolution once the fault is over.
pub const GRACE_MS: i64 = 600_000;

pub(super) struct Rehearsal {
    scenario: Scenario,
    effects: HashMap<String, Effect>,
    injected_at_ms: i64,
    until_ms: i64,
    resolved: bool,
    by: String,
    pub(super) recorder: Recorder,
    actions: Vec<Acted>,
}

/// A rehearsal in progress.
#[derive(Debug, Clone, Serialize)]
pub struct RehearsalView {
    pub scenario: String,
    pub title: String,
    pub by: String,
    pub injected_at_ms: i64,
    /// When the fault stops (the run goes on until the incident is resolved).
    pub until_ms: i64,
    /// The components it touches, and how.
    pub effects: Vec<(String, Effect)>,
}

/// A finished run and its grade.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub scenario: String,
    pub title: String,
    pub by: String,
    pub injected_at_ms: i64,
    pub ended_at_ms: i64,
    pub run: Run,
    pub score: Score,
}

impl Rehearsal {
    /// The observation as the scenario makes it arrive, or `None` when it silences it.
    pub(super) fn distort(&self, o: Observed, now_ms: i64) -> Option<Observed> {
        if now_ms >= self.until_ms {
            return Some(o);
        }
        let Some(effect) = self.effects.get(match &o {
            Observed::Heartbeat { component, .. }
            | Observed::Probe { component, .. }
            | Observed::Health { component, .. } => component.as_str(),
        }) else {
            return Some(o);
        };
        match (effect, o) {
            (Effect::Silent, Observed::Heartbeat { .. } | Observed::Health { .. }) => None,
            (Effect::ProbesFail, Observed::Probe { component, vantage, at_ms, .. }) => Some(Observed::Probe {
                component,
                vantage,
                ok: false,
                at_ms,
                detail: Some("rehearsal: injected failure".into()),
            }),
            (Effect::ClockSkew(skew), Observed::Heartbeat { component, at_ms, .. }) => {
                Some(Observed::Heartbeat { component, at_ms, device_time_ms: Some(at_ms + skew) })
            }
            (Effect::HealthWarn, Observed::Health { component, at_ms, .. }) => Some(Observed::Health {
                component,
                status: HealthStatus::Warn,
                at_ms,
                output: Some("rehearsal: injected overload".into()),
            }),
            (_, o) => Some(o),
        }
    }

    pub(super) fn view(&self, _now_ms: i64) -> RehearsalView {
        let mut effects: Vec<(String, Effect)> = self.effects.iter().map(|(k, v)| (k.clone(), *v)).collect();
        effects.sort_by(|a, b| a.0.cmp(&b.0));
        RehearsalView {
            scenario: self.scenario.id.clone(),
            title: self.scenario.title.clone(),
            by: self.by.clone(),
            injected_at_ms: self.injected_at_ms,
            until_ms: self.until_ms,
            effects,
        }
    }
}

impl super::Toc {
    /// Notes an operator's action for a rehearsal in progress.
    pub(super) fn acted(&self, who: &str, action: OperatorAction, now_ms: i64) {
        if let Some(r) = self.lock().rehearsal.as_mut() {
            r.resolved |= action == OperatorAction::Resolved && now_ms >= r.until_ms;
            if r.actions.len() < 1_000 {
                r.actions.push(Acted { at_ms: now_ms, who: who.to_string(), action });
            }
        }
    }
}

impl App {
    /// The scenarios that can be rehearsed on this model.
    pub fn toc_scenarios(&self) -> Vec<Scenario> {
        let model = &self.toc.config.model;
        catalogue().into_iter().filter(|s| s.expected.iter().all(|e| model.index_of(&e.component).is_some())).collect()
    }

    /// Starts rehearsing `scenario` for `secs` seconds.
    pub fn toc_rehearse(&self, who: &crate::auth::Principal, scenario: &str, secs: i64) -> Result<RehearsalView> {
        if !(10..=MAX_RUN_SECS).contains(&secs) {
            return Err(AppError::invalid("seconds", format!("a rehearsal lasts 10 to {MAX_RUN_SECS} seconds")));
        }
        let scenario = self.toc_scenarios().into_iter().find(|s| s.id == scenario).ok_or_else(|| {
            AppError::NotFound(format!("scenario {:?}", scenario.chars().take(100).collect::<String>()))
        })?;
        let now = self.now_ms();
        let effects = scenario.fault.effects(&self.toc.config.model).into_iter().collect();
        let mut inner = self.toc.lock();
        if let Some(r) = &inner.rehearsal {
            return Err(AppError::Conflict(format!("rehearsal {:?} is running; stop it first", r.scenario.id)));
        }
        let r = Rehearsal {
            scenario,
            effects,
            injected_at_ms: now,
            until_ms: now + secs * 1000,
            resolved: false,
            by: who.email.as_str().to_string(),
            recorder: Recorder::default(),
            actions: Vec::new(),
        };
        let view = r.view(now);
        inner.rehearsal = Some(r);
        tracing::warn!(scenario = %view.scenario, by = %who.email, "rehearsal started");
        Ok(view)
    }

    /// Ends the rehearsal in progress now and returns its grade.
    pub async fn toc_stop_rehearsal(&self) -> Result<RunReport> {
        self.end_rehearsal(self.now_ms()).await.ok_or_else(|| AppError::NotFound("a rehearsal in progress".into()))
    }

    pub(super) async fn finish_rehearsal_if_due(&self, now_ms: i64) {
        let due = self
            .toc
            .lock()
            .rehearsal
            .as_ref()
            .is_some_and(|r| now_ms >= r.until_ms && (r.resolved || now_ms >= r.until_ms + GRACE_MS));
        if due {
            self.end_rehearsal(now_ms).await;
        }
    }

    async fn end_rehearsal(&self, now_ms: i64) -> Option<RunReport> {
        let report = {
            let mut inner = self.toc.lock();
            let r = inner.rehearsal.take()?;
            let run = Run { injected_at_ms: r.injected_at_ms, detections: r.recorder.detections(), actions: r.actions };
            let report = RunReport {
                score: score(&r.scenario, &run),
                scenario: r.scenario.id,
                title: r.scenario.title,
                by: r.by,
                injected_at_ms: r.injected_at_ms,
                ended_at_ms: now_ms,
                run,
            };
            if inner.runs.len() == MAX_RUNS {
                inner.runs.pop_front();
            }
            inner.runs.push_back(report.clone());
            report
        };
        let doc = tessera_store::TocDocument {
            key: format!("{}:{}", self.toc.config.node, report.injected_at_ms),
            open: false,
            json: serde_json::to_string(&report).unwrap_or_default(),
            updated_at: self.now(),
        };
        if let Err(e) = self.store.put_toc_document(tessera_store::TocKind::Rehearsal, &doc).await {
            tracing::warn!(error = %e, "rehearsal run not written to the store");
        }
        tracing::warn!(scenario = %report.scenario, points = report.score.points, "rehearsal ended");
        Some(report)
    }
}
