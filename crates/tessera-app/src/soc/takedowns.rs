//! Lookalike domains of the official shop, each a case with its takedown workflow: found (the
//! detector's hit, with its techniques and score), confirmed by an analyst (a fake shop, not a
//! fan site), notice sent (to the registrar or host), taken down; or dismissed. Every move is
//! audited and must follow that order.
//!
//! Names come from certificate transparency (certstream's JSON lines) or plain lists, posted
//! to the SOC (`POST /api/v1/admin/soc/domains`) by a feed follower such as `tessera domains`,
//! or replayed by the demo. The register is held in memory, bounded, and kept in the store
//! (a `takedown` document per domain): a node reads it back when it starts and every other
//! second after, so that every node shows the same cases and a restart loses none. Of two
//! versions of a case, the one further along its trail wins (a move only adds a step). If the
//! store cannot take a case, it stays on its node and is written with its next move.

use crate::auth::Principal;
use crate::{App, AppError, Result};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Mutex;
use tessera_lookalike::{Detector, DetectorConfig, Hit};

/// Lookalikes kept at most; past it, new hits are counted and dropped (a feed that finds
/// thousands of lookalikes a day is an incident of its own).
pub const MAX_TAKEDOWNS: usize = 10_000;
/// Names one request may carry.
pub const MAX_NAMES_PER_POST: usize = 10_000;
/// Notes per takedown.
const MAX_NOTES: usize = 50;

/// Where a takedown stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TakedownState {
    Found,
    Confirmed,
    NoticeSent,
    TakenDown,
    Dismissed,
}

impl TakedownState {
    pub fn as_str(self) -> &'static str {
        match self {
            TakedownState::Found => "found",
            TakedownState::Confirmed => "confirmed",
            TakedownState::NoticeSent => "notice_sent",
            TakedownState::TakenDown => "taken_down",
            TakedownState::Dismissed => "dismissed",
        }
    }

    /// The moves the workflow allows from here.
    fn may_go_to(self, to: TakedownState) -> bool {
        use TakedownState::*;
        matches!(
            (self, to),
            (Found, Confirmed)
                | (Found, Dismissed)
                | (Confirmed, NoticeSent)
                | (Confirmed, Dismissed)
                | (NoticeSent, TakenDown)
        )
    }
}

/// One step of a takedown's trail.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Step {
    pub at: i64,
    pub by: String,
    pub state: TakedownState,
    pub note: String,
}

/// One lookalike and its takedown.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Takedown {
    pub domain: String,
    pub hit: Hit,
    pub state: TakedownState,
    pub first_seen: i64,
    /// Where it was seen first (`certstream: <log>`, `list`).
    pub source: String,
    pub trail: Vec<Step>,
}

/// What one batch of names gave.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NamesReport {
    pub names: usize,
    pub hits: usize,
    /// Lookalikes not seen before: new takedown cases.
    pub new: Vec<String>,
    pub malformed_lines: usize,
    pub dropped: usize,
}

pub struct Takedowns {
    detector: Detector,
    register: Mutex<BTreeMap<String, Takedown>>,
    dropped: std::sync::atomic::AtomicU64,
}

impl Takedowns {
    /// A register watching `official` domains (the event's shop and its sites).
    pub fn new(official: &[String]) -> std::result::Result<Takedowns, tessera_lookalike::DetectError> {
        Ok(Takedowns {
            detector: Detector::new(&DetectorConfig::new(official.iter().cloned()))?,
            register: Mutex::new(BTreeMap::new()),
            dropped: Default::default(),
        })
    }

    fn register(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Takedown>> {
        self.register.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl App {
    /// Checks newly seen names: one per line, or certstream's JSON lines (`certificate_update`
    /// messages; heartbeats skipped). Each new lookalike opens a takedown case and a SOC
    /// event.
    pub async fn check_domain_names(&self, text: &str) -> Result<NamesReport> {
        let Some(t) = self.takedowns.as_ref() else {
            return Err(AppError::Conflict("no official domains are configured to watch".into()));
        };
        let mut report = NamesReport::default();
        let mut names: Vec<(String, String)> = Vec::new();
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
            if line.starts_with('{') {
                match tessera_lookalike::certstream::parse_line(line) {
                    Ok(tessera_lookalike::certstream::Message::Certificate(c)) => {
                        let from = format!("certstream: {}", c.source.as_deref().unwrap_or("unknown log"));
                        names.extend(c.names.into_iter().map(|n| (n, from.clone())));
                    }
                    Ok(_) => {}
                    Err(_) => report.malformed_lines += 1,
                }
            } else {
                names.push((line.to_string(), "list".into()));
            }
            if names.len() > MAX_NAMES_PER_POST {
                return Err(AppError::invalid("names", format!("at most {MAX_NAMES_PER_POST} names a request")));
            }
        }
        report.names = names.len();
        let now = self.now().0;
        let mut new_hits = Vec::new();
        let mut new_cases = Vec::new();
        {
            let mut reg = t.register();
            for (name, source) in names {
                let Some(hit) = t.detector.check(&name) else { continue };
                report.hits += 1;
                if reg.contains_key(&hit.name) {
                    continue;
                }
                if reg.len() >= MAX_TAKEDOWNS {
                    t.dropped.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    report.dropped += 1;
                    continue;
                }
                let domain = hit.name.clone();
                let step = Step {
                    at: now,
                    by: "detector".into(),
                    state: TakedownState::Found,
                    note: format!(
                        "score {}; {}",
                        hit.score,
                        hit.techniques.iter().map(|x| format!("{x:?}")).collect::<Vec<_>>().join(", ")
                    ),
                };
                let case = Takedown {
                    domain: domain.clone(),
                    hit: hit.clone(),
                    state: TakedownState::Found,
                    first_seen: now,
                    source,
                    trail: vec![step],
                };
                reg.insert(domain.clone(), case.clone());
                new_cases.push(case);
                new_hits.push(hit);
                report.new.push(domain);
            }
        }
        for hit in new_hits {
            tracing::warn!(target: "audit", domain = %hit.name, score = hit.score, "lookalike domain found");
        }
        for case in &new_cases {
            self.keep_takedown(case).await;
        }
        Ok(report)
    }

    /// Writes a case to the store, for the other nodes and the next start. A failure is
    /// logged: the case stays on this node and goes with its next move.
    async fn keep_takedown(&self, case: &Takedown) {
        let doc = tessera_store::TocDocument {
            key: case.domain.clone(),
            open: !matches!(case.state, TakedownState::TakenDown | TakedownState::Dismissed),
            json: serde_json::to_string(case).unwrap_or_default(),
            updated_at: self.now(),
        };
        if let Err(e) = self.store.put_toc_document(tessera_store::TocKind::Takedown, &doc).await {
            tracing::warn!(error = %e, domain = %case.domain, "takedown not written to the store; kept on this node");
        }
    }

    /// Reads the cases every node found or moved from the store (at start-up, then every
    /// other second): a case not known here is added, a known one replaced by a version
    /// further along its trail. How many cases the store holds.
    pub async fn refresh_takedowns(&self) -> Result<usize> {
        let Some(t) = self.takedowns.as_ref() else { return Ok(0) };
        let docs = self.store.toc_documents(tessera_store::TocKind::Takedown, MAX_TAKEDOWNS as i64).await?;
        let mut reg = t.register();
        for doc in &docs {
            let case: Takedown = match serde_json::from_str(&doc.json) {
                Ok(c) => c,
                Err(e) => {
                    tracing::debug!(domain = %doc.key, error = %e, "a stored takedown not read");
                    continue;
                }
            };
            match reg.get(&case.domain) {
                Some(mine) if mine.trail.len() >= case.trail.len() => {}
                None if reg.len() >= MAX_TAKEDOWNS => {}
                _ => {
                    reg.insert(case.domain.clone(), case);
                }
            }
        }
        Ok(docs.len())
    }

    /// The takedown register, the newest first, or those in `state`.
    pub fn takedowns(&self, state: Option<TakedownState>, limit: usize) -> Vec<Takedown> {
        let Some(t) = self.takedowns.as_ref() else { return Vec::new() };
        let mut v: Vec<Takedown> =
            t.register().values().filter(|x| state.is_none_or(|s| x.state == s)).cloned().collect();
        v.sort_by(|a, b| b.first_seen.cmp(&a.first_seen).then(b.hit.score.cmp(&a.hit.score)));
        v.truncate(limit);
        v
    }

    /// Moves a takedown along its workflow, audited.
    pub async fn move_takedown(
        &self,
        who: &Principal,
        domain: &str,
        to: TakedownState,
        note: &str,
    ) -> Result<Takedown> {
        let t = self.takedowns.as_ref().ok_or_else(|| AppError::NotFound(format!("lookalike {domain:?}")))?;
        if note.chars().count() > 2_000 {
            return Err(AppError::invalid("note", "at most 2,000 characters"));
        }
        let out = self.move_in_register(t, who, domain, to, note)?;
        self.audit(who, format!("takedown of {domain}: {}", to.as_str()));
        self.keep_takedown(&out).await;
        Ok(out)
    }

    /// The move itself, under the register's lock (never held across the store's write).
    fn move_in_register(
        &self,
        t: &Takedowns,
        who: &Principal,
        domain: &str,
        to: TakedownState,
        note: &str,
    ) -> Result<Takedown> {
        let mut reg = t.register();
        let x = reg.get_mut(domain).ok_or_else(|| AppError::NotFound(format!("lookalike {domain:?}")))?;
        if !x.state.may_go_to(to) {
            return Err(AppError::Conflict(format!(
                "a takedown goes found → confirmed → notice sent → taken down (or dismissed before the notice); this one is {}",
                x.state.as_str()
            )));
        }
        if x.trail.len() >= MAX_NOTES {
            return Err(AppError::Conflict("this takedown's trail is full".into()));
        }
        x.state = to;
        x.trail.push(Step {
            at: self.now().0,
            by: who.email.as_str().to_string(),
            state: to,
            note: note.trim().to_string(),
        });
        Ok(x.clone())
    }
}
