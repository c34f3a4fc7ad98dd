//! The technology operations centre's pure core: the model of what is watched, the state of
//! every part of it, alerts, incidents, contingency switches and rehearsals.
//!
//! It owns the decisions a TOC makes, as functions of values: given the model (systems,
//! venues, devices, their redundancy and dependencies) and observations with their times
//! (heartbeats, probe results from several vantage points, health reports), what state is each
//! component in and why, how much redundancy is left, what the public status page says, which
//! alerts fire, how they are deduplicated, grouped, inhibited and silenced (Alertmanager's
//! semantics), when notifications and escalation pages are due, which incident each group
//! becomes, which degraded modes are on and who switched them, and how well a rehearsal went.
//!
//! It does no I/O: no clock (time is passed in as unix milliseconds, `now_ms`), no files, no
//! network, no threads, no async runtime; it must never depend on tokio, sqlx, axum or HTTP
//! types. The server feeds it and delivers what it decides (mail outbox, webhooks, the
//! console). Every structure is bounded and refuses, or drops the oldest, past its bound.
//!
//! - [`model`]: components, venues, redundancy, the dependency DAG, status page services;
//!   [`demo`](mod@demo): the demo model.
//! - [`health`]: `application/health+json` (draft-inadarei-api-health-check).
//! - [`state`]: the state engine and its [`state::Snapshot`].
//! - [`alerts`]: dedupe, grouping, inhibition, silences, the notification plan.
//! - [`incidents`]: incidents, timeline, escalation; [`contingency`]: degraded-mode switches.
//! - [`rehearsal`]: failure scenarios and the score of a run; [`fleet`]: synthetic
//!   observations for drills and benchmarks.

pub mod alerts;
pub mod contingency;
pub mod demo;
pub mod fleet;
pub mod health;
pub mod incidents;
pub mod model;
pub mod rehearsal;
pub mod state;

pub use alerts::{Alert, AlertConfig, AlertError, Alerter, Labels, Matcher, Notification, NotifyKind};
pub use contingency::{Contingency, ContingencyError, Mode};
pub use demo::demo;
pub use health::{node_report, HealthCheck, HealthReport, HealthStatus};
pub use incidents::{
    EscalationLevel, EscalationPolicy, Incident, IncidentBook, IncidentError, IncidentState, Severity,
};
pub use model::{Component, Kind, Model, ModelDoc, ModelError, Redundancy};
pub use rehearsal::{catalogue, score, Fault, Run, Scenario, Score};
pub use state::{Engine, Observation, ObserveError, PublicStatus, Snapshot, State};
