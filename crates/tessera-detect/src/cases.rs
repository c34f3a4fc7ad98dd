//! Cases: related alerts grouped so that an analyst triages hundreds of cases, not millions
//! of alerts, and false positives that become suppressions.
//!
//! **Grouping.** An alert joins the open case (new or acknowledged) of its *target*, the
//! grouping and key that overflowed (`source 203.0.113.7`, `network 203.0.113.0/24`,
//! `all *`), if that case heard an alert within [`CaseBook::window_ms`]; otherwise it opens a
//! case. So a flooding address that also scans and stuffs is one case naming three rules; a
//! source that comes back a day later is a new case. A resolved case is never reopened.
//!
//! **Suppressions.** A case closed as a false positive may suppress its rules on its target
//! for a while: matching alerts then open no case and decide nothing; each one is counted on
//! the suppression, so that a suppression that hides an attack shows it.
//!
//! **Bounded.** At most [`MAX_CASES`] cases (when full, the oldest closed case goes, else the
//! oldest case); per case the last [`MAX_CASE_ALERTS`] alerts, [`MAX_CASE_EVENTS`] events and
//! [`MAX_NOTES`] notes; at most [`MAX_SUPPRESSIONS`] suppressions, expired ones dropped first.
//! Pure: time is passed in.

use crate::engine::Alert;
use crate::event::Event;
use crate::rules::{GroupBy, Level};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, VecDeque};

pub const MAX_CASES: usize = 10_000;
pub const MAX_CASE_ALERTS: usize = 20;
pub const MAX_CASE_EVENTS: usize = 50;
pub const MAX_NOTES: usize = 200;
pub const MAX_NOTE_CHARS: usize = 2_000;
pub const MAX_CASE_RULES: usize = 32;
pub const MAX_SUPPRESSIONS: usize = 1_000;
/// An alert joins its target's open case if that case heard one within this window.
pub const DEFAULT_WINDOW_MS: i64 = 3_600_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseState {
    New,
    Acknowledged,
    Resolved,
    FalsePositive,
}

impl CaseState {
    pub fn as_str(self) -> &'static str {
        match self {
            CaseState::New => "new",
            CaseState::Acknowledged => "acknowledged",
            CaseState::Resolved => "resolved",
            CaseState::FalsePositive => "false_positive",
        }
    }

    pub fn parse(s: &str) -> Option<CaseState> {
        Some(match s {
            "new" => CaseState::New,
            "acknowledged" => CaseState::Acknowledged,
            "resolved" => CaseState::Resolved,
            "false_positive" => CaseState::FalsePositive,
            _ => return None,
        })
    }

    pub fn is_open(self) -> bool {
        matches!(self, CaseState::New | CaseState::Acknowledged)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Note {
    pub at_ms: i64,
    pub author: String,
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Case {
    pub id: u64,
    pub group_by: GroupBy,
    pub key: String,
    /// The first alert's title.
    pub title: String,
    /// The highest level of its alerts.
    pub severity: Level,
    pub state: CaseState,
    pub owner: Option<String>,
    /// The rules whose alerts it holds, in the order they first fired.
    pub rules: Vec<String>,
    pub alerts: u64,
    pub first_ms: i64,
    pub last_ms: i64,
    /// A decision was taken on one of its alerts.
    pub decided: bool,
    pub recent_alerts: VecDeque<Alert>,
    /// The events behind it: each alert's triggering event, then the target's events while
    /// the case is open.
    pub events: VecDeque<Event>,
    pub events_seen: u64,
    pub notes: Vec<Note>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suppression {
    pub id: u64,
    pub rules: Vec<String>,
    pub group_by: GroupBy,
    pub key: String,
    pub until_ms: i64,
    pub by: String,
    pub reason: String,
    /// The case it came from.
    pub case: u64,
    /// Alerts it has silenced.
    pub hits: u64,
}

/// What became of an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filed {
    /// It joined (or opened, `opened`) case `id`.
    Case { id: u64, opened: bool },
    /// A suppression silenced it: no case, no decision.
    Suppressed { suppression: u64 },
}

/// Why an analyst's action was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaseError {
    #[error("no case {0}")]
    NotFound(u64),
    #[error("case {0} is closed ({1}); a closed case does not change")]
    Closed(u64, &'static str),
    #[error("a note is 1 to {MAX_NOTE_CHARS} characters")]
    NoteLength,
    #[error("case {0} already holds {MAX_NOTES} notes")]
    TooManyNotes(u64),
    #[error("an owner is 1 to 200 characters")]
    OwnerLength,
    #[error("a suppression lasts 1 minute to 30 days")]
    SuppressionLength,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct CaseCounts {
    pub new: usize,
    pub acknowledged: usize,
    pub resolved: usize,
    pub false_positive: usize,
    pub suppressions: usize,
    pub suppressed_alerts: u64,
}

pub struct CaseBook {
    window_ms: i64,
    cases: BTreeMap<u64, Case>,
    /// Open cases by target.
    open: HashMap<(GroupBy, String), u64>,
    /// How many open cases group by each grouping: events are matched only on groupings that
    /// have an open case.
    open_by_grouping: HashMap<GroupBy, usize>,
    suppressions: Vec<Suppression>,
    suppressed_alerts: u64,
    next_id: u64,
}

impl Default for CaseBook {
    fn default() -> Self {
        CaseBook::new(DEFAULT_WINDOW_MS)
    }
}

impl CaseBook {
    pub fn new(window_ms: i64) -> CaseBook {
        CaseBook {
            window_ms,
            cases: BTreeMap::new(),
            open: HashMap::new(),
            open_by_grouping: HashMap::new(),
            suppressions: Vec::new(),
            suppressed_alerts: 0,
            next_id: 1,
        }
    }

    pub fn window_ms(&self) -> i64 {
        self.window_ms
    }

    /// The suppression that silences `alert` at `now_ms`, if one does (and counts the hit).
    pub fn suppressed(&mut self, alert: &Alert, now_ms: i64) -> Option<u64> {
        let s = self.suppressions.iter_mut().find(|s| {
            s.until_ms > now_ms && s.group_by == alert.group_by && s.key == alert.key && s.rules.contains(&alert.rule)
        })?;
        s.hits += 1;
        self.suppressed_alerts += 1;
        Some(s.id)
    }

    /// Files an alert, with the event that made it overflow: into a suppression, its target's
    /// open case, or a new case.
    pub fn file(&mut self, alert: Alert, trigger: Option<Event>, now_ms: i64) -> Filed {
        if let Some(suppression) = self.suppressed(&alert, now_ms) {
            return Filed::Suppressed { suppression };
        }
        let target = (alert.group_by, alert.key.clone());
        let joinable = self
            .open
            .get(&target)
            .copied()
            .filter(|id| self.cases.get(id).is_some_and(|c| alert.at_ms.max(now_ms) - c.last_ms <= self.window_ms));
        let (id, opened) = match joinable {
            Some(id) => (id, false),
            None => {
                // The target's old case, too quiet to join, stays open for the analyst; the
                // target's new events go to the new one.
                if let Some(old) = self.open.remove(&target) {
                    self.forget_open(old, alert.group_by);
                }
                (self.open_case(&alert, now_ms), true)
            }
        };
        let case = self.cases.get_mut(&id).expect("filed into an existing case");
        case.alerts += 1;
        case.last_ms = case.last_ms.max(now_ms);
        case.severity = case.severity.max(alert.level);
        if !case.rules.contains(&alert.rule) && case.rules.len() < MAX_CASE_RULES {
            case.rules.push(alert.rule.clone());
        }
        if case.recent_alerts.len() == MAX_CASE_ALERTS {
            case.recent_alerts.pop_front();
        }
        case.recent_alerts.push_back(alert);
        if let Some(e) = trigger {
            push_event(case, e);
        }
        Filed::Case { id, opened }
    }

    /// Notes that a decision was taken on one of case `id`'s alerts.
    pub fn mark_decided(&mut self, id: u64) {
        if let Some(c) = self.cases.get_mut(&id) {
            c.decided = true;
        }
    }

    fn open_case(&mut self, alert: &Alert, now_ms: i64) -> u64 {
        if self.cases.len() >= MAX_CASES {
            let victim = self
                .cases
                .values()
                .find(|c| !c.state.is_open())
                .or_else(|| self.cases.values().next())
                .map(|c| (c.id, c.group_by, c.key.clone(), c.state));
            if let Some((id, g, key, state)) = victim {
                self.cases.remove(&id);
                if state.is_open() && self.open.get(&(g, key.clone())) == Some(&id) {
                    self.open.remove(&(g, key));
                    self.forget_open(id, g);
                }
            }
        }
        let id = self.next_id;
        self.next_id += 1;
        self.cases.insert(
            id,
            Case {
                id,
                group_by: alert.group_by,
                key: alert.key.clone(),
                title: alert.title.clone(),
                severity: alert.level,
                state: CaseState::New,
                owner: None,
                rules: Vec::new(),
                alerts: 0,
                first_ms: now_ms,
                last_ms: now_ms,
                decided: false,
                recent_alerts: VecDeque::new(),
                events: VecDeque::new(),
                events_seen: 0,
                notes: Vec::new(),
            },
        );
        self.open.insert((alert.group_by, alert.key.clone()), id);
        *self.open_by_grouping.entry(alert.group_by).or_default() += 1;
        id
    }

    fn forget_open(&mut self, _id: u64, g: GroupBy) {
        if let Some(n) = self.open_by_grouping.get_mut(&g) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.open_by_grouping.remove(&g);
            }
        }
    }

    /// Adds `e` to the open case of each of its targets, if any (cheap when no case is open:
    /// one map lookup per grouping that has an open case).
    pub fn witness(&mut self, e: &Event) {
        if self.open.is_empty() {
            return;
        }
        let groupings: Vec<GroupBy> = self.open_by_grouping.keys().copied().collect();
        for g in groupings {
            let key = crate::engine::group_text(g, e);
            if key.is_empty() {
                continue;
            }
            if let Some(id) = self.open.get(&(g, key)).copied() {
                if let Some(case) = self.cases.get_mut(&id) {
                    push_event(case, e.clone());
                }
            }
        }
    }

    pub fn get(&self, id: u64) -> Option<&Case> {
        self.cases.get(&id)
    }

    /// Cases newest first, in `state` if given, at most `limit`.
    pub fn list(&self, state: Option<CaseState>, limit: usize) -> Vec<&Case> {
        self.cases.values().rev().filter(|c| state.is_none_or(|s| c.state == s)).take(limit).collect()
    }

    pub fn counts(&self) -> CaseCounts {
        let mut n = CaseCounts {
            suppressions: self.suppressions.len(),
            suppressed_alerts: self.suppressed_alerts,
            ..CaseCounts::default()
        };
        for c in self.cases.values() {
            match c.state {
                CaseState::New => n.new += 1,
                CaseState::Acknowledged => n.acknowledged += 1,
                CaseState::Resolved => n.resolved += 1,
                CaseState::FalsePositive => n.false_positive += 1,
            }
        }
        n
    }

    pub fn suppressions(&self) -> &[Suppression] {
        &self.suppressions
    }

    fn open_mut(&mut self, id: u64) -> Result<&mut Case, CaseError> {
        let case = self.cases.get_mut(&id).ok_or(CaseError::NotFound(id))?;
        if !case.state.is_open() {
            return Err(CaseError::Closed(id, case.state.as_str()));
        }
        Ok(case)
    }

    /// The analyst takes the case: acknowledged, owned by `by` unless someone owns it.
    pub fn acknowledge(&mut self, id: u64, by: &str) -> Result<&Case, CaseError> {
        check_owner(by)?;
        let case = self.open_mut(id)?;
        case.state = CaseState::Acknowledged;
        case.owner.get_or_insert_with(|| by.to_string());
        Ok(case)
    }

    pub fn assign(&mut self, id: u64, owner: &str) -> Result<&Case, CaseError> {
        check_owner(owner)?;
        let case = self.open_mut(id)?;
        case.owner = Some(owner.to_string());
        Ok(case)
    }

    pub fn note(&mut self, id: u64, by: &str, text: &str, now_ms: i64) -> Result<&Case, CaseError> {
        let text = text.trim();
        if text.is_empty() || text.chars().count() > MAX_NOTE_CHARS {
            return Err(CaseError::NoteLength);
        }
        // Notes may be added to a closed case (the post-mortem), within the bound.
        let case = self.cases.get_mut(&id).ok_or(CaseError::NotFound(id))?;
        if case.notes.len() >= MAX_NOTES {
            return Err(CaseError::TooManyNotes(id));
        }
        case.notes.push(Note { at_ms: now_ms, author: by.to_string(), text: text.to_string() });
        Ok(case)
    }

    /// Closes a case as resolved (a real attack, dealt with) or as a false positive; a false
    /// positive with `suppress_for_ms` silences its rules on its target for that long.
    pub fn close(
        &mut self,
        id: u64,
        by: &str,
        state: CaseState,
        suppress_for_ms: Option<i64>,
        now_ms: i64,
    ) -> Result<(&Case, Option<u64>), CaseError> {
        debug_assert!(!state.is_open());
        if let Some(ms) = suppress_for_ms {
            if state != CaseState::FalsePositive || !(60_000..=30 * 86_400_000).contains(&ms) {
                return Err(CaseError::SuppressionLength);
            }
        }
        let case = self.open_mut(id)?;
        case.state = state;
        case.owner.get_or_insert_with(|| by.to_string());
        let (g, key, rules) = (case.group_by, case.key.clone(), case.rules.clone());
        if self.open.get(&(g, key.clone())) == Some(&id) {
            self.open.remove(&(g, key.clone()));
            self.forget_open(id, g);
        }
        let suppression = suppress_for_ms.map(|ms| {
            self.suppressions.retain(|s| s.until_ms > now_ms);
            if self.suppressions.len() >= MAX_SUPPRESSIONS {
                self.suppressions.remove(0);
            }
            let sid = self.next_id;
            self.next_id += 1;
            self.suppressions.push(Suppression {
                id: sid,
                rules,
                group_by: g,
                key,
                until_ms: now_ms + ms,
                by: by.to_string(),
                reason: format!("false positive, case {id}"),
                case: id,
                hits: 0,
            });
            sid
        });
        Ok((self.cases.get(&id).expect("closed above"), suppression))
    }

    /// Ends a suppression before its time; whether there was one.
    pub fn lift_suppression(&mut self, id: u64) -> bool {
        let before = self.suppressions.len();
        self.suppressions.retain(|s| s.id != id);
        self.suppressions.len() != before
    }
}

fn push_event(case: &mut Case, e: Event) {
    case.events_seen += 1;
    if case.events.len() == MAX_CASE_EVENTS {
        case.events.pop_front();
    }
    case.events.push_back(e);
}

fn check_owner(s: &str) -> Result<(), CaseError> {
    if s.trim().is_empty() || s.chars().count() > 200 {
        return Err(CaseError::OwnerLength);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Kind;

    fn alert(rule: &str, g: GroupBy, key: &str, level: Level, at_ms: i64) -> Alert {
        Alert {
            rule: rule.into(),
            title: format!("{rule} title"),
            level,
            at_ms,
            group_by: g,
            key: key.into(),
            measure: 1.0,
            decision: None,
            allow_listed: false,
        }
    }

    fn from(ip: &str, at_ms: i64) -> Event {
        let mut e = Event::new(at_ms, Kind::HttpRequest);
        e.source = Some(ip.parse().unwrap());
        e
    }

    #[test]
    fn alerts_on_one_target_make_one_case_naming_every_rule() {
        let mut book = CaseBook::default();
        let a = book.file(alert("http-flood", GroupBy::Source, "203.0.113.7", Level::Medium, 0), None, 0);
        if let Filed::Case { id, .. } = a {
            book.mark_decided(id);
        }
        let b = book.file(alert("scan", GroupBy::Source, "203.0.113.7", Level::High, 1_000), None, 1_000);
        let c = book.file(alert("http-flood", GroupBy::Source, "203.0.113.8", Level::Low, 2_000), None, 2_000);
        let Filed::Case { id, opened: true } = a else { panic!("{a:?}") };
        assert_eq!(b, Filed::Case { id, opened: false });
        assert!(matches!(c, Filed::Case { opened: true, .. }));
        let case = book.get(id).unwrap();
        assert_eq!(case.rules, ["http-flood", "scan"]);
        assert_eq!((case.alerts, case.severity, case.decided), (2, Level::High, true));
        assert_eq!(book.counts().new, 2);
    }

    #[test]
    fn a_quiet_target_opens_a_new_case_and_a_closed_one_never_reopens() {
        let mut book = CaseBook::new(60_000);
        let Filed::Case { id: first, .. } = book.file(alert("r", GroupBy::Source, "192.0.2.1", Level::Low, 0), None, 0)
        else {
            panic!()
        };
        let Filed::Case { id: second, opened } =
            book.file(alert("r", GroupBy::Source, "192.0.2.1", Level::Low, 120_000), None, 120_000)
        else {
            panic!()
        };
        assert!(opened && second != first);
        book.close(second, "ana", CaseState::Resolved, None, 121_000).unwrap();
        let Filed::Case { id: third, opened } =
            book.file(alert("r", GroupBy::Source, "192.0.2.1", Level::Low, 122_000), None, 122_000)
        else {
            panic!()
        };
        assert!(opened && third != second);
        assert_eq!(book.acknowledge(second, "ana").map(|_| ()), Err(CaseError::Closed(second, "resolved")));
    }

    #[test]
    fn events_of_an_open_target_are_kept_bounded() {
        let mut book = CaseBook::default();
        let Filed::Case { id, .. } =
            book.file(alert("r", GroupBy::Source, "192.0.2.1", Level::Low, 0), Some(from("192.0.2.1", 0)), 0)
        else {
            panic!()
        };
        for i in 0..500 {
            book.witness(&from("192.0.2.1", i));
            book.witness(&from("192.0.2.2", i));
        }
        let case = book.get(id).unwrap();
        assert_eq!(case.events_seen, 501);
        assert_eq!(case.events.len(), MAX_CASE_EVENTS);
        assert!(case.events.iter().all(|e| e.source == Some("192.0.2.1".parse().unwrap())));
    }

    #[test]
    fn a_false_positive_becomes_a_suppression_that_counts_what_it_silences() {
        let mut book = CaseBook::default();
        let Filed::Case { id, .. } =
            book.file(alert("stuffing", GroupBy::Source, "198.51.100.9", Level::High, 0), None, 0)
        else {
            panic!()
        };
        book.acknowledge(id, "ana").unwrap();
        assert_eq!(book.get(id).unwrap().owner.as_deref(), Some("ana"));
        assert_eq!(
            book.close(id, "ana", CaseState::Resolved, Some(3_600_000), 10).map(|_| ()),
            Err(CaseError::SuppressionLength)
        );
        let (_, s) = book.close(id, "ana", CaseState::FalsePositive, Some(3_600_000), 10).unwrap();
        let s = s.unwrap();
        let again = book.file(alert("stuffing", GroupBy::Source, "198.51.100.9", Level::High, 20), None, 20);
        assert_eq!(again, Filed::Suppressed { suppression: s });
        // Another rule on the same source, or the same rule elsewhere, is not silenced.
        assert!(matches!(
            book.file(alert("flood", GroupBy::Source, "198.51.100.9", Level::High, 30), None, 30),
            Filed::Case { opened: true, .. }
        ));
        assert!(matches!(
            book.file(alert("stuffing", GroupBy::Source, "198.51.100.10", Level::High, 30), None, 30),
            Filed::Case { opened: true, .. }
        ));
        // It ends on its own (the alert joins the source's case that the flood opened).
        assert!(matches!(
            book.file(alert("stuffing", GroupBy::Source, "198.51.100.9", Level::High, 0), None, 3_600_011),
            Filed::Case { opened: false, .. }
        ));
        assert_eq!(book.counts().suppressed_alerts, 1);
        assert_eq!(book.suppressions()[0].hits, 1);
        assert!(book.lift_suppression(s));
    }

    #[test]
    fn notes_and_owners_are_bounded() {
        let mut book = CaseBook::default();
        let Filed::Case { id, .. } = book.file(alert("r", GroupBy::All, "*", Level::Low, 0), None, 0) else { panic!() };
        assert_eq!(book.note(id, "ana", "  ", 0).map(|_| ()), Err(CaseError::NoteLength));
        assert_eq!(book.note(id, "ana", &"x".repeat(MAX_NOTE_CHARS + 1), 0).map(|_| ()), Err(CaseError::NoteLength));
        assert_eq!(book.assign(id, "").map(|_| ()), Err(CaseError::OwnerLength));
        for _ in 0..MAX_NOTES {
            book.note(id, "ana", "seen", 0).unwrap();
        }
        assert_eq!(book.note(id, "ana", "one more", 0).map(|_| ()), Err(CaseError::TooManyNotes(id)));
        assert_eq!(book.note(999, "ana", "x", 0).map(|_| ()), Err(CaseError::NotFound(999)));
    }

    #[test]
    fn the_book_never_holds_more_than_its_bound() {
        let mut book = CaseBook::default();
        for i in 0..(MAX_CASES as u32 + 500) {
            let key = std::net::Ipv4Addr::from(i).to_string();
            book.file(alert("r", GroupBy::Source, &key, Level::Low, i as i64), None, i as i64);
        }
        assert_eq!(book.list(None, usize::MAX).len(), MAX_CASES);
        assert_eq!(book.open.len(), MAX_CASES);
        assert_eq!(book.open_by_grouping[&GroupBy::Source], MAX_CASES);
    }
}
