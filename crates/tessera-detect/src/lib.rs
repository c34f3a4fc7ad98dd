//! Tessera's security detection, pure: no I/O, no clock (time is the events' own), bounded
//! memory. The application feeds it events (its own, and access-log lines parsed here) and
//! enforces what it decides; `tessera soc` replays files through it.
//!
//! - [`event`]: the one security event model, mapped onto ECS and OCSF.
//! - [`access_log`]: nginx and Apache combined-format lines into events.
//! - [`rules`]: the YAML rule format, checked whole, and the built-in pack.
//! - [`engine`]: the streaming engine, alerts and decisions.
//! - [`cases`]: alerts grouped into cases, their triage, and suppressions.
//! - [`replay`]: lines through the engine, malformed ones counted and sampled.
//! - [`intel`]: threat intelligence in (STIX 2.1, MISP, plain lists) and out, read as hostile.

pub mod access_log;
pub mod cases;
pub mod engine;
pub mod event;
pub mod intel;
pub mod replay;
pub mod rules;

pub use access_log::{parse_line, LineError};
pub use cases::{Case, CaseBook, CaseState, Filed};
pub use engine::{network_of, Alert, Decision, Engine, RuleStats, Scope};
pub use event::{Event, Http, Kind, Outcome};
pub use rules::{default_rules, parse_rules, Decide, GroupBy, Level, Rule, RuleError};
