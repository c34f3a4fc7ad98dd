//! What the nodes of one Tessera tell each other over the bus (`tessera-bus`, NATS JetStream).
//!
//! A node alone needs none of this: it applies its own decisions at once. On several nodes,
//! what one node decides that the others hold in memory travels as a [`NodeEvent`] on the
//! events stream, and every node applies it as it arrives (within milliseconds; the tests hold
//! it to one second): a sign-out empties that session from every node's cache, an edge decision
//! enters every node's block list, a gate revocation every node's list. The store keeps each
//! of them too, so a node that starts, or that missed the bus while NATS was down, loads them
//! from there (`App::refresh_airlock`, every two seconds) and then follows the stream.
//!
//! The waiting rooms travel on the bus differently, as a log every node replays
//! (`airlock/shared.rs`).

use crate::App;
use serde::{Deserialize, Serialize};
use tessera_airlock::blocklist::{Decision, Scope};
use tessera_bus::{Bus, StreamKind};
use tokio::sync::watch;

/// One node's link to the others.
pub struct Cluster {
    pub bus: Bus,
    pub(crate) rooms: crate::airlock::shared::SharedRooms,
    pub(crate) results: crate::results::shared::SharedFeed,
}

impl Cluster {
    pub fn new(bus: Bus) -> Cluster {
        Cluster { bus, rooms: Default::default(), results: Default::default() }
    }

    /// Waits until a replica whose last applied sequence is `applied` has applied the stream
    /// `kind` as it stands now. `false` if the bus could not say or the replica did not get
    /// there within `limit`.
    pub(crate) async fn caught_up(
        &self,
        kind: tessera_bus::StreamKind,
        applied: &tokio::sync::watch::Sender<u64>,
        limit: std::time::Duration,
    ) -> bool {
        let caught_up = async {
            let mut last = self.bus.last_sequence(kind).await;
            while last.is_err() {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                last = self.bus.last_sequence(kind).await;
            }
            let last = last.unwrap_or(0);
            let mut applied = applied.subscribe();
            let reached = applied.wait_for(|&a| a >= last).await.is_ok();
            reached
        };
        tokio::time::timeout(limit, caught_up).await.unwrap_or(false)
    }
}

/// What one node tells the others.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NodeEvent {
    /// A sign-in session ended: refuse its token everywhere.
    SignedOut { session_id: String },
    /// An account's credentials or standing changed (password reset, email verified): every
    /// cached sign-in is read again from the store.
    CredentialsChanged,
    /// An edge decision (block, challenge, throttle) in force.
    Decided { decision: Decision },
    /// A decision lifted before its end.
    Lifted { scope: Scope },
    /// A holder's keys (a gate's tokens, a results source's keys) issued up to
    /// `revoked_at_ms` are refused. Named as on the bus since only gates had keys, so that
    /// nodes of either version understand each other.
    #[serde(rename = "gate_revoked")]
    KeysRevoked {
        #[serde(rename = "gate_id")]
        holder: String,
        revoked_at_ms: i64,
    },
    /// A gate synced with the sending node at `at_ms` (for every node's gate console).
    GateHeard { gate: crate::gates::GateIdentity, at_ms: i64 },
    /// The security engine's rules were replaced (the YAML file, checked by the sender).
    SocRules { yaml: String },
    /// What the sending node observed for the operations centre (its heartbeat and probes,
    /// or what a device or probe agent posted to it).
    TocObserved { observations: Vec<crate::toc::Observed> },
    /// An operator acknowledged or resolved the incident of a group on the sending node.
    TocIncident { group_key: String, action: crate::toc::IncidentMove, who: String },
    /// A contingency switch was made: read the log, or apply it as it comes when the store
    /// could not log it yet.
    Switched { unlogged: Option<crate::toc::UnloggedSwitch> },
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    origin: String,
    #[serde(flatten)]
    event: NodeEvent,
}

impl NodeEvent {
    fn kind(&self) -> &'static str {
        match self {
            NodeEvent::SignedOut { .. } => "signout",
            NodeEvent::CredentialsChanged => "credentials",
            NodeEvent::Decided { .. } => "decision",
            NodeEvent::Lifted { .. } => "lifted",
            NodeEvent::KeysRevoked { .. } => "gate_revoked",
            NodeEvent::GateHeard { .. } => "gate_heard",
            NodeEvent::SocRules { .. } => "soc_rules",
            NodeEvent::TocObserved { .. } => "toc_observed",
            NodeEvent::TocIncident { .. } => "toc_incident",
            NodeEvent::Switched { .. } => "switched",
        }
    }
}

impl App {
    /// Tells the other nodes, when there are any. The change is already in force here and in
    /// the store; if the bus is down the others load it from the store within seconds, so a
    /// failure is logged, not returned.
    pub(crate) async fn tell_nodes(&self, event: NodeEvent) {
        let Some(cluster) = &self.cluster else { return };
        let subject = cluster.bus.event_subject(event.kind());
        let envelope = Envelope { origin: cluster.bus.node().to_string(), event };
        let payload = match serde_json::to_vec(&envelope) {
            Ok(p) => p,
            Err(e) => return tracing::error!(error = %e, "node event not encodable"),
        };
        if let Err(e) = cluster.bus.publish(subject, payload).await {
            tracing::warn!(error = %e, "other nodes not told at once; they read it from the store");
        }
    }

    /// Applies what another node decided.
    pub fn apply_node_event(&self, event: NodeEvent) {
        match event {
            NodeEvent::SignedOut { session_id } => self.caches.principals.remove(&session_id),
            NodeEvent::CredentialsChanged => self.caches.principals.clear(),
            NodeEvent::Decided { decision } => {
                if let Err(e) = self.airlock.blocklist.insert(decision) {
                    tracing::warn!(error = %e, "edge decision from another node not applied");
                }
            }
            NodeEvent::Lifted { scope } => {
                self.airlock.blocklist.remove(&scope);
            }
            NodeEvent::KeysRevoked { holder, revoked_at_ms } => self.airlock.revoke_keys(&holder, revoked_at_ms),
            NodeEvent::GateHeard { gate, at_ms } => {
                self.heard_here(&gate, at_ms);
            }
            NodeEvent::SocRules { yaml } => {
                if let Err(e) = self.install_soc_rules(&yaml) {
                    tracing::warn!(error = %e, "security rules from another node refused; the running ones stay");
                }
            }
            NodeEvent::TocObserved { observations } => self.toc_observed_elsewhere(observations),
            NodeEvent::TocIncident { group_key, action, who } => self.toc_incident_elsewhere(&group_key, action, &who),
            NodeEvent::Switched { unlogged: Some(s) } => self.apply_unlogged_switch(s),
            NodeEvent::Switched { unlogged: None } => {
                let app = self.clone();
                tokio::spawn(async move {
                    if let Err(e) = app.refresh_switches().await {
                        tracing::warn!(error = %e, "switch log not read; the next refresh will");
                    }
                });
            }
        }
    }
}

/// Follows the events stream and applies what the other nodes say, until `shutdown`.
pub async fn events_loop(app: App, mut shutdown: watch::Receiver<bool>) {
    let Some(cluster) = app.cluster.clone() else { return };
    let mut events = cluster.bus.follow(StreamKind::Events, tessera_bus::From::Now);
    loop {
        let d = tokio::select! {
            d = events.recv() => match d { Some(d) => d, None => return },
            _ = shutdown.changed() => return,
        };
        match serde_json::from_slice::<Envelope>(&d.payload) {
            Ok(e) if e.origin == cluster.bus.node() => {}
            Ok(e) => {
                tracing::debug!(origin = %e.origin, event = ?e.event, "event from another node");
                app.apply_node_event(e.event);
            }
            Err(e) => tracing::warn!(seq = d.seq, error = %e, "unreadable node event skipped"),
        }
    }
}
