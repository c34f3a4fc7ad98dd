//! The rule file: YAML, a list of rules close to Sigma's correlation rules (event count, value
//! count, temporal) with a leaky bucket where Sigma has a fixed window, plus a learned
//! baseline. A file is checked whole before any of it runs: one error refuses the file, with
//! the rule and the reason (and the line, for YAML that does not parse), and whatever rules
//! were running keep running.
//!
//! ```yaml
//! - id: http-flood-address
//!   title: HTTP flood from one address
//!   level: high                       # low | medium | high | critical
//!   filter:                           # every condition given must hold
//!     kinds: [http_request]
//!     outcome: failure                # optional
//!     status: [400, 499]              # optional: an inclusive range
//!     methods: [POST]                 # optional
//!     path_prefixes: [/api/v1/auth/]  # optional, any of
//!     path_contains: [wp-login]       # optional, any of
//!   group_by: source                  # source | network | account | user | card | device | ticket | gate | subject | all
//!   condition:                        # exactly one of:
//!     event_count: { rate_per_sec: 20, burst: 400 }
//!     # value_count: { field: user, distinct: 20, window_secs: 300 }
//!     # temporal: { kinds: [gate_forged_code, gate_replay], window_secs: 600 }
//!     # baseline: { factor: 8, min_rate_per_sec: 300, learn_secs: 300, min_sources: 500 }
//!   action: { decide: block, minutes: 10 }   # block | challenge | throttle | suspend | revoke | alert
//!   max_keys: 262144                  # optional: keys held at most (the coldest go first)
//! ```

use crate::event::{Event, Kind, Outcome};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// Keys a rule holds at most unless it says otherwise: 2^18, about 16 MB of counters.
pub const DEFAULT_MAX_KEYS: usize = 1 << 18;
/// The most keys any rule may ask for.
pub const MAX_KEYS_LIMIT: usize = 1 << 24;
/// The most distinct values a value-count rule may count to (each is held per key).
pub const MAX_DISTINCT: u32 = 10_000;
/// The longest window or learning period, in seconds (a week).
pub const MAX_WINDOW_SECS: u64 = 7 * 86_400;
/// The longest decision, in minutes (a week).
pub const MAX_MINUTES: u64 = 7 * 24 * 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Low,
    Medium,
    High,
    Critical,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }
}

/// What an overflow's key is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    Source,
    /// The source's network: /24 for IPv4, /48 for IPv6.
    Network,
    Account,
    User,
    Card,
    Device,
    Ticket,
    Gate,
    Subject,
    /// One key for every event: a rate of the whole.
    All,
}

impl GroupBy {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::Source => "source",
            GroupBy::Network => "network",
            GroupBy::Account => "account",
            GroupBy::User => "user",
            GroupBy::Card => "card",
            GroupBy::Device => "device",
            GroupBy::Ticket => "ticket",
            GroupBy::Gate => "gate",
            GroupBy::Subject => "subject",
            GroupBy::All => "all",
        }
    }
}

impl GroupBy {
    /// The field a grouping keys on; `None` for [`GroupBy::All`], one key for everything.
    pub fn field(self) -> Option<Field> {
        Some(match self {
            GroupBy::Source => Field::Source,
            GroupBy::Network => Field::Network,
            GroupBy::Account => Field::Account,
            GroupBy::User => Field::User,
            GroupBy::Card => Field::Card,
            GroupBy::Device => Field::Device,
            GroupBy::Ticket => Field::Ticket,
            GroupBy::Gate => Field::Gate,
            GroupBy::Subject => Field::Subject,
            GroupBy::All => return None,
        })
    }
}

/// A field whose distinct values a value-count rule counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Source,
    Network,
    Account,
    User,
    Card,
    Device,
    Ticket,
    Gate,
    Subject,
    Path,
    UserAgent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decide {
    /// Refuse the source at the edge.
    Block,
    /// Ask the source (or everyone, for `group_by: all`) for a proof of work.
    Challenge,
    /// Slow the source down.
    Throttle,
    /// Suspend the account.
    Suspend,
    /// Revoke the ticket.
    Revoke,
    /// Raise an alert and decide nothing.
    Alert,
}

impl Decide {
    pub fn as_str(self) -> &'static str {
        match self {
            Decide::Block => "block",
            Decide::Challenge => "challenge",
            Decide::Throttle => "throttle",
            Decide::Suspend => "suspend",
            Decide::Revoke => "revoke",
            Decide::Alert => "alert",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    #[serde(default)]
    pub kinds: Vec<Kind>,
    #[serde(default)]
    pub outcome: Option<Outcome>,
    /// An inclusive range of HTTP statuses.
    #[serde(default)]
    pub status: Option<[u16; 2]>,
    #[serde(default)]
    pub methods: Vec<String>,
    #[serde(default)]
    pub path_prefixes: Vec<String>,
    #[serde(default)]
    pub path_contains: Vec<String>,
}

impl Filter {
    /// Whether the event passes. Lists are few and short: a linear scan beats a set here.
    pub fn matches(&self, e: &Event) -> bool {
        if !self.kinds.is_empty() && !self.kinds.contains(&e.kind) {
            return false;
        }
        if self.outcome.is_some_and(|o| o != e.outcome) {
            return false;
        }
        let needs_http = self.status.is_some()
            || !self.methods.is_empty()
            || !self.path_prefixes.is_empty()
            || !self.path_contains.is_empty();
        if !needs_http {
            return true;
        }
        let Some(h) = &e.http else { return false };
        if let Some([lo, hi]) = self.status {
            if h.status < lo || h.status > hi {
                return false;
            }
        }
        if !self.methods.is_empty() && !self.methods.iter().any(|m| m == &h.method) {
            return false;
        }
        if !self.path_prefixes.is_empty() && !self.path_prefixes.iter().any(|p| h.path.starts_with(p.as_str())) {
            return false;
        }
        if !self.path_contains.is_empty() && !self.path_contains.iter().any(|p| h.path.contains(p.as_str())) {
            return false;
        }
        true
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventCount {
    /// How fast the bucket leaks.
    pub rate_per_sec: f64,
    /// How much it holds: more events than this, beyond the leak, overflow it.
    pub burst: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValueCount {
    pub field: Field,
    /// Overflows when this many distinct values are seen within the window.
    pub distinct: u32,
    pub window_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Temporal {
    /// Overflows when every one of these kinds is seen for the key within the window. One
    /// kind alone makes a rule that speaks at the first event of that kind (a finding that
    /// is news by itself, such as an account's password found in a breach).
    pub kinds: Vec<Kind>,
    pub window_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    /// Overflows when a second's count is this many times the learned rate...
    pub factor: f64,
    /// ...and above this rate...
    pub min_rate_per_sec: f64,
    /// ...and, if given, from at least this many distinct sources (estimated).
    #[serde(default)]
    pub min_sources: u32,
    /// Seconds of traffic learned before the rule may overflow; also the baseline's memory.
    pub learn_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    EventCount(EventCount),
    ValueCount(ValueCount),
    Temporal(Temporal),
    Baseline(Baseline),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Action {
    pub decide: Decide,
    /// How long the decision lasts; also how long the key stays quiet after an alert.
    #[serde(default = "default_minutes")]
    pub minutes: u64,
}

fn default_minutes() -> u64 {
    10
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub id: String,
    pub title: String,
    pub level: Level,
    #[serde(default)]
    pub filter: Filter,
    pub group_by: GroupBy,
    /// Written `condition: { event_count: {...} }`, not as a YAML tag.
    #[serde(with = "serde_norway::with::singleton_map")]
    pub condition: Condition,
    pub action: Action,
    #[serde(default)]
    pub max_keys: Option<usize>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

impl Rule {
    pub fn max_keys(&self) -> usize {
        self.max_keys.unwrap_or(DEFAULT_MAX_KEYS)
    }

    /// The rule's own checks, beyond what the YAML's shape says.
    fn check(&self) -> Result<(), String> {
        if self.id.is_empty()
            || self.id.len() > 64
            || !self.id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err("the id must be 1 to 64 letters, digits, '-' or '_'".into());
        }
        if self.title.trim().is_empty() {
            return Err("the title is empty".into());
        }
        if let Some([lo, hi]) = self.filter.status {
            if lo > hi || !(100..600).contains(&lo) || !(100..600).contains(&hi) {
                return Err(format!("status [{lo}, {hi}] is not a range of HTTP statuses"));
            }
        }
        match &self.condition {
            Condition::EventCount(c) => {
                if !(c.rate_per_sec.is_finite() && c.rate_per_sec >= 0.0) {
                    return Err("event_count.rate_per_sec must be a number at least 0".into());
                }
                if !(c.burst.is_finite() && c.burst >= 1.0) {
                    return Err("event_count.burst must be at least 1".into());
                }
            }
            Condition::ValueCount(c) => {
                if c.distinct < 2 || c.distinct > MAX_DISTINCT {
                    return Err(format!("value_count.distinct must be 2 to {MAX_DISTINCT}"));
                }
                window(c.window_secs)?;
            }
            Condition::Temporal(c) => {
                if c.kinds.is_empty() || c.kinds.len() > 16 {
                    return Err("temporal.kinds must list 1 to 16 kinds".into());
                }
                if c.kinds.iter().collect::<HashSet<_>>().len() != c.kinds.len() {
                    return Err("temporal.kinds lists a kind twice".into());
                }
                window(c.window_secs)?;
            }
            Condition::Baseline(c) => {
                if !(c.factor.is_finite() && c.factor > 1.0) {
                    return Err("baseline.factor must be above 1".into());
                }
                if !(c.min_rate_per_sec.is_finite() && c.min_rate_per_sec >= 0.0) {
                    return Err("baseline.min_rate_per_sec must be at least 0".into());
                }
                if c.learn_secs < 10 {
                    return Err("baseline.learn_secs must be at least 10".into());
                }
                window(c.learn_secs)?;
            }
        }
        if self.action.minutes == 0 || self.action.minutes > MAX_MINUTES {
            return Err(format!("action.minutes must be 1 to {MAX_MINUTES}"));
        }
        let scope_ok = match self.action.decide {
            Decide::Alert => true,
            Decide::Block | Decide::Throttle => matches!(self.group_by, GroupBy::Source | GroupBy::Network),
            // Everyone may be asked for a proof of work; nobody is blocked for being one of many.
            Decide::Challenge => matches!(self.group_by, GroupBy::Source | GroupBy::Network | GroupBy::All),
            Decide::Suspend => self.group_by == GroupBy::Account,
            Decide::Revoke => self.group_by == GroupBy::Ticket,
        };
        if !scope_ok {
            return Err(format!(
                "action {} cannot apply to a group_by {} (block and throttle: source or network; challenge: also all; suspend: account; revoke: ticket)",
                self.action.decide.as_str(),
                self.group_by.as_str()
            ));
        }
        if self.max_keys() == 0 || self.max_keys() > MAX_KEYS_LIMIT {
            return Err(format!("max_keys must be 1 to {MAX_KEYS_LIMIT}"));
        }
        Ok(())
    }
}

fn window(secs: u64) -> Result<(), String> {
    if secs == 0 || secs > MAX_WINDOW_SECS {
        return Err(format!("a window must be 1 to {MAX_WINDOW_SECS} seconds"));
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("{0}")]
    Yaml(String),
    #[error("rule {index} ({id}): {reason}")]
    Rule { index: usize, id: String, reason: String },
    #[error("rule {index} ({id}): the id is used twice")]
    Duplicate { index: usize, id: String },
    #[error("the file has no rule")]
    Empty,
    #[error("the file has {0} rules; at most 1,000")]
    TooMany(usize),
}

/// Reads and checks a rule file. Nothing of a refused file is kept.
pub fn parse_rules(yaml: &str) -> Result<Vec<Rule>, RuleError> {
    if yaml.len() > 4 * 1024 * 1024 {
        return Err(RuleError::Yaml("the file is over 4 MiB".into()));
    }
    let rules: Vec<Rule> = serde_norway::from_str(yaml).map_err(|e| {
        RuleError::Yaml(match e.location() {
            // The message ends with the same place in other words: said once, first.
            Some(l) => {
                let text = e.to_string();
                let text = text.rsplit_once(" at line ").map_or(text.as_str(), |(m, _)| m).to_string();
                format!("line {}, column {}: {text}", l.line(), l.column())
            }
            None => e.to_string(),
        })
    })?;
    if rules.is_empty() {
        return Err(RuleError::Empty);
    }
    if rules.len() > 1000 {
        return Err(RuleError::TooMany(rules.len()));
    }
    let mut seen = HashSet::new();
    for (i, r) in rules.iter().enumerate() {
        r.check().map_err(|reason| RuleError::Rule { index: i + 1, id: r.id.clone(), reason })?;
        if !seen.insert(r.id.as_str()) {
            return Err(RuleError::Duplicate { index: i + 1, id: r.id.clone() });
        }
    }
    Ok(rules)
}

/// The built-in rule pack.
pub const DEFAULT_PACK: &str = include_str!("../rules/default.yaml");

pub fn default_rules() -> Vec<Rule> {
    parse_rules(DEFAULT_PACK).expect("the built-in rule pack is checked by its tests")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pack_parses() {
        let rules = default_rules();
        assert!(rules.len() >= 12, "{}", rules.len());
    }

    #[test]
    fn a_bad_file_is_refused_whole_with_the_reason() {
        let err = parse_rules("- id: a\n  title: t\n  level: loud\n").unwrap_err();
        assert!(matches!(&err, RuleError::Yaml(m) if m.starts_with("line 3")), "{err}");
        let one = "- id: ok\n  title: t\n  level: low\n  group_by: source\n  condition: { event_count: { rate_per_sec: 1, burst: 5 } }\n  action: { decide: block }\n";
        assert_eq!(parse_rules(one).unwrap().len(), 1);
        let twice = format!("{one}{one}");
        assert_eq!(parse_rules(&twice).unwrap_err(), RuleError::Duplicate { index: 2, id: "ok".into() });
        let everyone = one.replace("group_by: source", "group_by: all");
        let err = parse_rules(&everyone).unwrap_err();
        assert!(err.to_string().contains("cannot apply to a group_by all"), "{err}");
        let unknown = one.replace("level: low", "level: low\n  colour: red");
        assert!(matches!(parse_rules(&unknown).unwrap_err(), RuleError::Yaml(m) if m.contains("colour")));
        let kind = one.replace("group_by: source", "group_by: source\n  filter: { kinds: [teleported] }");
        assert!(matches!(parse_rules(&kind).unwrap_err(), RuleError::Yaml(m) if m.contains("teleported")));
        assert_eq!(parse_rules("[]").unwrap_err(), RuleError::Empty);
        let zero = one.replace("burst: 5", "burst: 0");
        assert!(parse_rules(&zero).unwrap_err().to_string().contains("burst"));
    }
}
