//! The technology operations centre's records (`tessera_ops`): the contingency switches'
//! audit log, incidents and rehearsal runs.
//!
//! Every node decides states from what it observes itself, so observations are not stored;
//! what must outlive a node and reach every node is. A contingency switch is an audited
//! action that changes how every node behaves (the shop read-only, gates offline-first): the
//! log is appended to, never edited, and each node folds it into the modes in force (the last
//! action per mode wins, ordered by the log's id). Incidents and rehearsal runs are kept as
//! the JSON the domain writes, under a key of the node that filed them, so that a restarted
//! node and the console of any node read them back.

use crate::{Result, Timestamp};
use async_trait::async_trait;

/// One switch action as logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwitchRecord {
    /// The log's position (0 before it is recorded).
    pub id: i64,
    /// `tessera_ops::Mode`'s snake_case name.
    pub mode: String,
    pub on: bool,
    pub by: String,
    pub why: String,
    pub incident: Option<i64>,
    pub at: Timestamp,
}

/// A document (incident or rehearsal run) as kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TocDocument {
    /// Unique per kind: the filing node and its own number (`node-1:7`).
    pub key: String,
    /// Open incidents and running rehearsals are read first.
    pub open: bool,
    pub json: String,
    pub updated_at: Timestamp,
}

/// What [`TocStore`] keeps apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TocKind {
    Incident,
    Rehearsal,
    /// A silence or a maintenance window, shared by every node.
    Window,
    /// A collection desk switched to its offline list or back (keyed by the desk's code).
    DeskMode,
    /// The security operations centre's takedown of a lookalike domain (keyed by the domain).
    Takedown,
}

impl TocKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TocKind::Incident => "incident",
            TocKind::Rehearsal => "rehearsal",
            TocKind::Window => "window",
            TocKind::DeskMode => "desk_mode",
            TocKind::Takedown => "takedown",
        }
    }
}

#[async_trait]
pub trait TocStore: Send + Sync {
    /// Appends one switch action; returns its position in the log.
    async fn record_switch(&self, switch: &SwitchRecord) -> Result<i64>;
    /// The log after position `after`, oldest first, at most `limit` actions.
    async fn switch_log(&self, after: i64, limit: i64) -> Result<Vec<SwitchRecord>>;
    /// Creates or replaces the document `doc.key` of `kind`.
    async fn put_toc_document(&self, kind: TocKind, doc: &TocDocument) -> Result<()>;
    /// Documents of `kind`: open ones first, then the most recently updated, at most `limit`.
    async fn toc_documents(&self, kind: TocKind, limit: i64) -> Result<Vec<TocDocument>>;
}
