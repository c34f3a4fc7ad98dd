//! Incidents: what the people in the TOC work on.
//!
//! An incident opens from a notification group ([`IncidentBook::on_notification`]): one group
//! is one incident, so the forty devices behind a cut network make one incident, not a storm.
//! Later notifications of the group join it while it is open; once it is resolved, the group
//! opens a new incident if it fires again (PagerDuty's rule). States go triggered →
//! acknowledged → resolved; every action, human or automatic, is a timeline entry with who,
//! when and what. Severities SEV1 (worst) to SEV4, after PagerDuty's incident response guide:
//! SEV3 is "no redundancy left", SEV4 one failed node. Incidents link to SOC case ids.
//!
//! **Escalation** ([`EscalationPolicy`]): level 0 is paged when the incident opens; while it
//! stays unacknowledged, each level's `delay_ms` later the next level is paged, and the whole
//! list repeats `loops` times. [`IncidentBook::escalate`] returns the pages due at a time
//! passed in; acknowledging stops them.
//!
//! **Bounded**: [`MAX_INCIDENTS`] (the oldest resolved one goes first), [`MAX_TIMELINE`]
//! entries and [`MAX_INCIDENT_ALERTS`] alerts per incident.

use crate::alerts::Notification;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// Incidents held at most.
pub const MAX_INCIDENTS: usize = 10_000;
/// Timeline entries per incident at most; automatic entries past it are counted, notes refused.
pub const MAX_TIMELINE: usize = 1_000;
/// Alerts remembered per incident at most.
pub const MAX_INCIDENT_ALERTS: usize = 1_000;
/// Longest note or title, in characters.
pub const MAX_TEXT_CHARS: usize = 2_000;
/// Who did something when nobody did: the alert pipeline and the escalation clock.
pub const SYSTEM: &str = "toc";

/// How bad, `Sev1` worst; ordered so that `Sev1 < Sev4` (the minimum is the worst).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Sev1,
    Sev2,
    Sev3,
    Sev4,
}

impl Severity {
    /// `sev1` … `sev4`, the value of the `severity` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Sev1 => "sev1",
            Severity::Sev2 => "sev2",
            Severity::Sev3 => "sev3",
            Severity::Sev4 => "sev4",
        }
    }

    /// Reads `sev1` … `sev4` (any case).
    pub fn parse(s: &str) -> Option<Severity> {
        Some(match s.to_ascii_lowercase().as_str() {
            "sev1" => Severity::Sev1,
            "sev2" => Severity::Sev2,
            "sev3" => Severity::Sev3,
            "sev4" => Severity::Sev4,
            _ => return None,
        })
    }
}

/// Where an incident is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentState {
    Triggered,
    Acknowledged,
    Resolved,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Action {
    Triggered {
        alerts: usize,
    },
    AlertsChanged {
        firing: usize,
        resolved: usize,
    },
    /// Every alert of the group resolved; a human still resolves the incident.
    AlertsCleared,
    Paged {
        level: usize,
        targets: Vec<String>,
    },
    Acknowledged,
    Assigned {
        owner: String,
    },
    SeverityChanged {
        from: Severity,
        to: Severity,
    },
    LinkedCase {
        case: u64,
    },
    Note {
        text: String,
    },
    Resolved,
}

/// One timeline line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub at_ms: i64,
    pub who: String,
    pub action: Action,
}

/// One incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub id: u64,
    pub title: String,
    pub severity: Severity,
    pub state: IncidentState,
    pub owner: Option<String>,
    /// The notification group it came from (empty for one opened by hand).
    pub group_key: String,
    /// Alert fingerprint → summary.
    pub alerts: BTreeMap<u64, String>,
    pub opened_ms: i64,
    pub acknowledged_ms: Option<i64>,
    pub resolved_ms: Option<i64>,
    pub soc_cases: Vec<u64>,
    pub timeline: Vec<TimelineEntry>,
    pub timeline_dropped: u64,
    pages_sent: usize,
}

impl Incident {
    fn log(&mut self, at_ms: i64, who: &str, action: Action) {
        if self.timeline.len() < MAX_TIMELINE {
            self.timeline.push(TimelineEntry { at_ms, who: who.into(), action });
        } else {
            self.timeline_dropped += 1;
        }
    }

    /// Still to be dealt with.
    pub fn is_open(&self) -> bool {
        self.state != IncidentState::Resolved
    }
}

/// One level of an escalation policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationLevel {
    /// Who is paged (people, rotas, webhooks: names the caller resolves).
    pub targets: Vec<String>,
    /// How long this level has to acknowledge before the next one is paged.
    pub delay_ms: i64,
}

/// Ordered levels, looped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationPolicy {
    pub levels: Vec<EscalationLevel>,
    /// Times the whole list is repeated after the first pass.
    pub loops: u32,
}

/// A page due: level `level` of incident `incident`, at `at_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page {
    pub incident: u64,
    pub level: usize,
    pub targets: Vec<String>,
    pub at_ms: i64,
}

/// Why an action was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IncidentError {
    #[error("no incident {0}")]
    NotFound(u64),
    #[error("incident {0} is resolved; a resolved incident does not change")]
    Resolved(u64),
    #[error("a name is 1 to 200 characters, a text 1 to {MAX_TEXT_CHARS}")]
    BadText,
    #[error("incident {0} holds {MAX_TIMELINE} timeline entries")]
    TimelineFull(u64),
    #[error("an escalation policy has 1 to 16 levels, each with 1 to 32 targets and a delay of 1 minute to 1 day, and at most 10 loops")]
    BadPolicy,
}

impl EscalationPolicy {
    /// A checked policy.
    pub fn new(levels: Vec<EscalationLevel>, loops: u32) -> Result<EscalationPolicy, IncidentError> {
        let ok = (1..=16).contains(&levels.len())
            && loops <= 10
            && levels
                .iter()
                .all(|l| (1..=32).contains(&l.targets.len()) && (60_000..=86_400_000).contains(&l.delay_ms));
        if ok {
            Ok(EscalationPolicy { levels, loops })
        } else {
            Err(IncidentError::BadPolicy)
        }
    }

    /// Every page of an incident opened at `opened_ms` that nobody acknowledges, in order.
    pub fn plan(&self, opened_ms: i64) -> Vec<(i64, usize)> {
        let mut at = opened_ms;
        let mut out = Vec::with_capacity(self.levels.len() * (self.loops as usize + 1));
        for _ in 0..=self.loops {
            for (i, l) in self.levels.iter().enumerate() {
                out.push((at, i));
                at = at.saturating_add(l.delay_ms);
            }
        }
        out
    }
}

/// What [`IncidentBook::on_notification`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Filed {
    pub id: u64,
    pub opened: bool,
}

/// Every incident, and the escalation policy.
#[derive(Debug, Clone)]
pub struct IncidentBook {
    policy: EscalationPolicy,
    incidents: BTreeMap<u64, Incident>,
    open_by_group: HashMap<String, u64>,
    next_id: u64,
}

fn text_ok(s: &str, max: usize) -> Result<(), IncidentError> {
    let n = s.trim().chars().count();
    if n == 0 || n > max || s.chars().any(|c| c.is_control() && c != '\n') {
        return Err(IncidentError::BadText);
    }
    Ok(())
}

impl IncidentBook {
    /// An empty book.
    pub fn new(policy: EscalationPolicy) -> IncidentBook {
        IncidentBook { policy, incidents: BTreeMap::new(), open_by_group: HashMap::new(), next_id: 1 }
    }

    /// Takes back an incident written before a restart, as it was: its id, state, timeline
    /// and the pages already sent, so that a restarted node neither forgets an open incident
    /// nor pages again for it, and numbers new ones after it. `false` for an id already held
    /// or a full book.
    pub fn restore(&mut self, mut inc: Incident) -> bool {
        if self.incidents.contains_key(&inc.id) || self.incidents.len() >= MAX_INCIDENTS {
            return false;
        }
        // Read from this node's own store, but held to the same bounds as one built here.
        inc.timeline.truncate(MAX_TIMELINE);
        while inc.alerts.len() > MAX_INCIDENT_ALERTS {
            inc.alerts.pop_last();
        }
        self.next_id = self.next_id.max(inc.id.saturating_add(1));
        if inc.is_open() && !inc.group_key.is_empty() {
            self.open_by_group.entry(inc.group_key.clone()).or_insert(inc.id);
        }
        self.incidents.insert(inc.id, inc);
        true
    }

    /// Incident `id`.
    pub fn get(&self, id: u64) -> Option<&Incident> {
        self.incidents.get(&id)
    }

    /// Incidents newest first, open ones only if `open_only`.
    pub fn list(&self, open_only: bool) -> Vec<&Incident> {
        self.incidents.values().rev().filter(|i| !open_only || i.is_open()).collect()
    }

    /// Turns a notification into an incident: the group's open incident, or a new one if the
    /// notification fires and there is none. A notification with nothing firing only notes
    /// that the alerts cleared.
    pub fn on_notification(&mut self, n: &Notification) -> Option<Filed> {
        let open = self.open_by_group.get(&n.group_key).copied();
        let severity = n.firing.iter().filter_map(|a| Severity::parse(a.label("severity"))).min();
        if let Some(id) = open {
            let inc = self.incidents.get_mut(&id).expect("an open incident is held");
            for a in &n.firing {
                if inc.alerts.len() < MAX_INCIDENT_ALERTS {
                    inc.alerts.entry(a.fingerprint()).or_insert_with(|| summary_of(a));
                }
            }
            if n.firing.is_empty() {
                inc.log(n.at_ms, SYSTEM, Action::AlertsCleared);
            } else if n.kind != crate::alerts::NotifyKind::Repeat {
                inc.log(n.at_ms, SYSTEM, Action::AlertsChanged { firing: n.firing.len(), resolved: n.resolved.len() });
            }
            if let Some(s) = severity.filter(|&s| s < inc.severity) {
                inc.log(n.at_ms, SYSTEM, Action::SeverityChanged { from: inc.severity, to: s });
                inc.severity = s;
            }
            return Some(Filed { id, opened: false });
        }
        let first = n.firing.first()?;
        let title = if n.firing.len() == 1 {
            summary_of(first)
        } else {
            format!("{} and {} more ({})", summary_of(first), n.firing.len() - 1, n.group_key)
        };
        let id = self.insert(title, severity.unwrap_or(Severity::Sev3), n.group_key.clone(), n.at_ms);
        let inc = self.incidents.get_mut(&id).expect("just inserted");
        for a in n.firing.iter().take(MAX_INCIDENT_ALERTS) {
            inc.alerts.insert(a.fingerprint(), summary_of(a));
        }
        inc.log(n.at_ms, SYSTEM, Action::Triggered { alerts: n.firing.len() });
        self.open_by_group.insert(n.group_key.clone(), id);
        Some(Filed { id, opened: true })
    }

    /// Opens an incident by hand (something the monitors did not see).
    pub fn open(&mut self, title: &str, severity: Severity, who: &str, now_ms: i64) -> Result<u64, IncidentError> {
        text_ok(title, MAX_TEXT_CHARS)?;
        text_ok(who, 200)?;
        let id = self.insert(title.trim().into(), severity, String::new(), now_ms);
        self.incidents.get_mut(&id).expect("just inserted").log(now_ms, who, Action::Triggered { alerts: 0 });
        Ok(id)
    }

    fn insert(&mut self, title: String, severity: Severity, group_key: String, now_ms: i64) -> u64 {
        if self.incidents.len() >= MAX_INCIDENTS {
            let victim = self.incidents.values().find(|i| !i.is_open()).or_else(|| self.incidents.values().next());
            if let Some((vid, key)) = victim.map(|v| (v.id, v.group_key.clone())) {
                self.incidents.remove(&vid);
                if self.open_by_group.get(&key) == Some(&vid) {
                    self.open_by_group.remove(&key);
                }
            }
        }
        let id = self.next_id;
        self.next_id += 1;
        let title = title.chars().take(MAX_TEXT_CHARS).collect();
        self.incidents.insert(
            id,
            Incident {
                id,
                title,
                severity,
                state: IncidentState::Triggered,
                owner: None,
                group_key,
                alerts: BTreeMap::new(),
                opened_ms: now_ms,
                acknowledged_ms: None,
                resolved_ms: None,
                soc_cases: Vec::new(),
                timeline: Vec::new(),
                timeline_dropped: 0,
                pages_sent: 0,
            },
        );
        id
    }

    fn open_mut(&mut self, id: u64, who: &str) -> Result<&mut Incident, IncidentError> {
        text_ok(who, 200)?;
        let inc = self.incidents.get_mut(&id).ok_or(IncidentError::NotFound(id))?;
        if !inc.is_open() {
            return Err(IncidentError::Resolved(id));
        }
        if inc.timeline.len() >= MAX_TIMELINE {
            return Err(IncidentError::TimelineFull(id));
        }
        Ok(inc)
    }

    /// `who` takes the incident: acknowledged (escalation stops), owned by `who` unless owned.
    pub fn acknowledge(&mut self, id: u64, who: &str, now_ms: i64) -> Result<&Incident, IncidentError> {
        let inc = self.open_mut(id, who)?;
        if inc.state == IncidentState::Triggered {
            inc.state = IncidentState::Acknowledged;
            inc.acknowledged_ms = Some(now_ms);
            inc.log(now_ms, who, Action::Acknowledged);
        }
        if inc.owner.is_none() {
            inc.owner = Some(who.into());
        }
        Ok(inc)
    }

    /// Gives the incident to `owner`.
    pub fn assign(&mut self, id: u64, owner: &str, who: &str, now_ms: i64) -> Result<&Incident, IncidentError> {
        text_ok(owner, 200)?;
        let inc = self.open_mut(id, who)?;
        inc.owner = Some(owner.into());
        inc.log(now_ms, who, Action::Assigned { owner: owner.into() });
        Ok(inc)
    }

    /// Adds a note (also to a resolved incident: the post-mortem).
    pub fn note(&mut self, id: u64, text: &str, who: &str, now_ms: i64) -> Result<&Incident, IncidentError> {
        text_ok(text, MAX_TEXT_CHARS)?;
        text_ok(who, 200)?;
        let inc = self.incidents.get_mut(&id).ok_or(IncidentError::NotFound(id))?;
        if inc.timeline.len() >= MAX_TIMELINE {
            return Err(IncidentError::TimelineFull(id));
        }
        inc.log(now_ms, who, Action::Note { text: text.trim().into() });
        Ok(inc)
    }

    /// Links a SOC case.
    pub fn link_case(&mut self, id: u64, case: u64, who: &str, now_ms: i64) -> Result<&Incident, IncidentError> {
        let inc = self.open_mut(id, who)?;
        if !inc.soc_cases.contains(&case) && inc.soc_cases.len() < 100 {
            inc.soc_cases.push(case);
            inc.log(now_ms, who, Action::LinkedCase { case });
        }
        Ok(inc)
    }

    /// Changes the severity.
    pub fn set_severity(&mut self, id: u64, to: Severity, who: &str, now_ms: i64) -> Result<&Incident, IncidentError> {
        let inc = self.open_mut(id, who)?;
        if inc.severity != to {
            inc.log(now_ms, who, Action::SeverityChanged { from: inc.severity, to });
            inc.severity = to;
        }
        Ok(inc)
    }

    /// Resolves the incident; its group opens a new one if it fires again.
    pub fn resolve(&mut self, id: u64, who: &str, now_ms: i64) -> Result<&Incident, IncidentError> {
        let inc = self.open_mut(id, who)?;
        inc.state = IncidentState::Resolved;
        inc.resolved_ms = Some(now_ms);
        inc.log(now_ms, who, Action::Resolved);
        let key = inc.group_key.clone();
        if self.open_by_group.get(&key) == Some(&id) {
            self.open_by_group.remove(&key);
        }
        Ok(self.incidents.get(&id).expect("held"))
    }

    /// The pages due at `now_ms` for triggered (unacknowledged) incidents, each once.
    pub fn escalate(&mut self, now_ms: i64) -> Vec<Page> {
        let mut out = Vec::new();
        for inc in self.incidents.values_mut().filter(|i| i.state == IncidentState::Triggered) {
            let plan = self.policy.plan(inc.opened_ms);
            while let Some(&(at, level)) = plan.get(inc.pages_sent).filter(|(at, _)| *at <= now_ms) {
                let targets = self.policy.levels[level].targets.clone();
                inc.log(at, SYSTEM, Action::Paged { level, targets: targets.clone() });
                out.push(Page { incident: inc.id, level, targets, at_ms: at });
                inc.pages_sent += 1;
            }
        }
        out
    }
}

fn summary_of(a: &crate::alerts::Alert) -> String {
    a.annotations
        .get("summary")
        .cloned()
        .unwrap_or_else(|| format!("{} {}", a.label("alertname"), a.label("component")))
}

#[cfg(test)]
mod tests;
