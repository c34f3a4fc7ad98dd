//! The screening authority's interface and a sandbox that behaves like it.
//!
//! The real authority (at Paris 2024, the SNEAS's administrative investigations) takes batches
//! of people and answers each later with [`ScreeningAnswer::Clear`], [`ScreeningAnswer::Hit`] or
//! a transient [`ScreeningAnswer::Error`] the caller must retry. Its client lives in an I/O crate
//! and speaks these same [`ScreeningRequest`] and [`ScreeningAnswer`] types.
//!
//! # The sandbox
//!
//! [`SandboxAuthority`] is pure and deterministic: every outcome is a hash of its seed and the
//! inputs, every time is the `now` the caller passes. With [`SandboxConfig::default`]:
//!
//! - a batch is answered as a whole, between 5 s and 5 min after submission (uniform, per
//!   batch); polling earlier returns [`Poll::Pending`] with the seconds left; a batch that has
//!   been answered is forgotten (polling it again is [`SandboxError::UnknownBatch`]);
//! - 0.44 % of people are hits (4,355 exclusions out of about a million checks at Paris 2024),
//!   decided by person id, so the same person is a hit in every batch and every retry;
//! - 2 % of answers are transient errors (`retry_after` 30 to 120 s), decided per person and
//!   batch, so resubmitting the person in a new batch eventually gets a real answer;
//! - an appeal ([`ScreeningRequest::appeal`]) overturns a hit for 30 % of people (by person id,
//!   so appealing again does not change the answer);
//! - at most 10,000 people per batch and 1,000 unanswered batches, so memory stays bounded.

use std::collections::BTreeMap;

use time::Date;

use crate::application::{Application, DocumentNumber, Nationality, PersonName};
use crate::codes::{CategoryCode, PersonId};

/// What the authority is asked about one person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScreeningRequest {
    /// Our id, echoed in the answer.
    pub person: PersonId,
    /// Given name, if any.
    pub given_name: Option<PersonName>,
    /// Family name.
    pub family_name: PersonName,
    /// Date of birth.
    pub date_of_birth: Date,
    /// Nationality.
    pub nationality: Nationality,
    /// Travel document number.
    pub document: DocumentNumber,
    /// Category (screening depends on the role).
    pub category: CategoryCode,
    /// Whether this is an appeal against an earlier hit.
    pub appeal: bool,
}

impl ScreeningRequest {
    /// The request for an application.
    pub fn for_application(person: PersonId, application: &Application, appeal: bool) -> Self {
        Self {
            person,
            given_name: application.given_name().cloned(),
            family_name: application.family_name().clone(),
            date_of_birth: application.date_of_birth().date(),
            nationality: application.nationality(),
            document: application.document().clone(),
            category: application.category().clone(),
            appeal,
        }
    }
}

/// The authority's answer for one person.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ScreeningAnswer {
    /// Nothing against the person.
    Clear,
    /// The person must not be accredited.
    Hit {
        /// The authority's stated reason.
        reason: String,
    },
    /// Not answered this time: resubmit after `retry_after` seconds.
    Error {
        /// Seconds to wait.
        retry_after: u32,
    },
}

/// A batch's id, from [`SandboxAuthority::submit_batch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct BatchId(pub u64);

/// The answer to a poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Poll {
    /// Not answered yet; poll again in this many seconds.
    Pending {
        /// Seconds until the answers are ready.
        retry_after: u32,
    },
    /// One answer per person of the batch, in submission order.
    Ready(Vec<(PersonId, ScreeningAnswer)>),
}

/// What the sandbox refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SandboxError {
    /// A batch with nobody in it.
    #[error("empty batch")]
    EmptyBatch,
    /// More people than [`SandboxConfig::max_batch`].
    #[error("batch of {0} people is over the limit")]
    BatchTooLarge(usize),
    /// More unanswered batches than [`SandboxConfig::max_open_batches`].
    #[error("too many batches waiting to be polled")]
    TooManyOpenBatches,
    /// Not a batch the sandbox is holding (never submitted, or already answered).
    #[error("unknown batch {}", .0 .0)]
    UnknownBatch(BatchId),
}

/// The sandbox's behaviour (see the module documentation for the defaults' meaning).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SandboxConfig {
    /// Hits per million people.
    pub hits_per_million: u32,
    /// Transient errors per million answers.
    pub errors_per_million: u32,
    /// Appeals that overturn a hit, per million.
    pub appeal_overturns_per_million: u32,
    /// Shortest delay before a batch is answered, seconds.
    pub min_delay_secs: u32,
    /// Longest delay, seconds.
    pub max_delay_secs: u32,
    /// Most people in one batch.
    pub max_batch: usize,
    /// Most batches submitted and not yet answered.
    pub max_open_batches: usize,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            hits_per_million: 4_400,
            errors_per_million: 20_000,
            appeal_overturns_per_million: 300_000,
            min_delay_secs: 5,
            max_delay_secs: 300,
            max_batch: 10_000,
            max_open_batches: 1_000,
        }
    }
}

const HIT_REASONS: [&str; 4] = [
    "listed in a security file",
    "record incompatible with the function",
    "identity could not be confirmed",
    "suspected foreign interference",
];

#[derive(Debug, Clone)]
struct Batch {
    ready_at: i64,
    answers: Vec<(PersonId, ScreeningAnswer)>,
}

/// A deterministic stand-in for the screening authority.
#[derive(Debug, Clone)]
pub struct SandboxAuthority {
    seed: u64,
    config: SandboxConfig,
    next_batch: u64,
    open: BTreeMap<BatchId, Batch>,
}

/// SplitMix64's finaliser: a fast, well-mixed hash of a few words.
fn mix(words: &[u64]) -> u64 {
    words.iter().fold(0x9E37_79B9_7F4A_7C15u64, |h, w| {
        let mut z = (h ^ w).wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    })
}

fn per_million(h: u64, rate: u32) -> bool {
    h % 1_000_000 < u64::from(rate)
}

const HIT: u64 = 1;
const APPEAL: u64 = 2;
const ERROR: u64 = 3;
const DELAY: u64 = 4;

impl SandboxAuthority {
    /// A sandbox with its seed and behaviour.
    pub fn new(seed: u64, config: SandboxConfig) -> Self {
        Self { seed, config, next_batch: 1, open: BTreeMap::new() }
    }

    /// Whether the sandbox would ever find `person` a hit (for tests and demos).
    pub fn is_hit(&self, person: PersonId) -> bool {
        per_million(mix(&[self.seed, HIT, person.0]), self.config.hits_per_million)
    }

    fn answer(&self, batch: BatchId, r: &ScreeningRequest) -> ScreeningAnswer {
        let e = mix(&[self.seed, ERROR, r.person.0, batch.0]);
        if per_million(e, self.config.errors_per_million) {
            return ScreeningAnswer::Error { retry_after: 30 + (e >> 32) as u32 % 91 };
        }
        if !self.is_hit(r.person) {
            return ScreeningAnswer::Clear;
        }
        if r.appeal && per_million(mix(&[self.seed, APPEAL, r.person.0]), self.config.appeal_overturns_per_million) {
            return ScreeningAnswer::Clear;
        }
        let reason = HIT_REASONS[(mix(&[self.seed, HIT, r.person.0]) >> 40) as usize % HIT_REASONS.len()];
        ScreeningAnswer::Hit { reason: reason.to_owned() }
    }

    /// Submits people for screening at `now`; the answers come from [`SandboxAuthority::poll`].
    pub fn submit_batch(&mut self, now: i64, persons: &[ScreeningRequest]) -> Result<BatchId, SandboxError> {
        if persons.is_empty() {
            return Err(SandboxError::EmptyBatch);
        }
        if persons.len() > self.config.max_batch {
            return Err(SandboxError::BatchTooLarge(persons.len()));
        }
        if self.open.len() >= self.config.max_open_batches {
            return Err(SandboxError::TooManyOpenBatches);
        }
        let id = BatchId(self.next_batch);
        self.next_batch += 1;
        let (lo, hi) = (self.config.min_delay_secs, self.config.max_delay_secs.max(self.config.min_delay_secs));
        let delay = u64::from(lo) + mix(&[self.seed, DELAY, id.0]) % (u64::from(hi - lo) + 1);
        let answers = persons.iter().map(|r| (r.person, self.answer(id, r))).collect();
        self.open.insert(id, Batch { ready_at: now.saturating_add(delay as i64), answers });
        Ok(id)
    }

    /// The batch's answers if they are ready at `now` (then the batch is forgotten), or how long
    /// to wait.
    pub fn poll(&mut self, now: i64, batch: BatchId) -> Result<Poll, SandboxError> {
        let b = self.open.get(&batch).ok_or(SandboxError::UnknownBatch(batch))?;
        if now < b.ready_at {
            let left = u32::try_from(b.ready_at - now).unwrap_or(u32::MAX);
            return Ok(Poll::Pending { retry_after: left });
        }
        let b = self.open.remove(&batch).ok_or(SandboxError::UnknownBatch(batch))?;
        Ok(Poll::Ready(b.answers))
    }

    /// Batches submitted and not yet answered.
    pub fn open_batches(&self) -> usize {
        self.open.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::application::tests::{ctx, raw};
    use crate::matrix::AccessMatrix;

    fn requests(n: u64, appeal: bool) -> Vec<ScreeningRequest> {
        let m = AccessMatrix::demo_default();
        let app = Application::parse(&raw(), &ctx(&m)).unwrap();
        (0..n).map(|i| ScreeningRequest::for_application(PersonId(i), &app, appeal)).collect()
    }

    fn wait(s: &mut SandboxAuthority, now: i64, id: BatchId) -> Vec<(PersonId, ScreeningAnswer)> {
        match s.poll(now + 300, id).unwrap() {
            Poll::Ready(a) => a,
            Poll::Pending { .. } => panic!("not ready after the longest delay"),
        }
    }

    #[test]
    fn answers_arrive_after_a_delay_and_only_once() {
        let mut s = SandboxAuthority::new(7, SandboxConfig::default());
        let id = s.submit_batch(1_000, &requests(10, false)).unwrap();
        match s.poll(1_000, id).unwrap() {
            Poll::Pending { retry_after } => assert!((5..=300).contains(&retry_after), "{retry_after}"),
            Poll::Ready(_) => panic!("answered at once"),
        }
        let answers = wait(&mut s, 1_000, id);
        assert_eq!(answers.iter().map(|a| a.0).collect::<Vec<_>>(), (0..10).map(PersonId).collect::<Vec<_>>());
        assert_eq!(s.poll(5_000, id), Err(SandboxError::UnknownBatch(id)));
        assert_eq!(s.open_batches(), 0);
    }

    #[test]
    fn the_stated_proportions_hold() {
        let mut s = SandboxAuthority::new(42, SandboxConfig { max_batch: 200_000, ..SandboxConfig::default() });
        let n = 200_000u64;
        let id = s.submit_batch(0, &requests(n, false)).unwrap();
        let answers = wait(&mut s, 0, id);
        let hits = answers.iter().filter(|a| matches!(a.1, ScreeningAnswer::Hit { .. })).count() as f64;
        let errors = answers.iter().filter(|a| matches!(a.1, ScreeningAnswer::Error { .. })).count() as f64;
        // Expected 0.44 % × 0.98 and 2 %; bounds are about five standard deviations wide.
        let expect_hits = n as f64 * 0.0044 * 0.98;
        assert!((hits - expect_hits).abs() < 5.0 * expect_hits.sqrt(), "hits {hits}");
        let expect_errors = n as f64 * 0.02;
        assert!((errors - expect_errors).abs() < 5.0 * expect_errors.sqrt(), "errors {errors}");
    }

    #[test]
    fn the_same_seed_gives_the_same_answers_and_retries_get_through() {
        let run = |seed| {
            let mut s = SandboxAuthority::new(seed, SandboxConfig::default());
            let id = s.submit_batch(0, &requests(2_000, false)).unwrap();
            wait(&mut s, 0, id)
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
        // Resubmitting the people who got an error: each gets a real answer within a few tries.
        let mut s = SandboxAuthority::new(1, SandboxConfig::default());
        let mut pending = requests(2_000, false);
        for round in 0..6 {
            let id = s.submit_batch(round, &pending).unwrap();
            let answers = wait(&mut s, round, id);
            let again: Vec<PersonId> =
                answers.iter().filter(|a| matches!(a.1, ScreeningAnswer::Error { .. })).map(|a| a.0).collect();
            pending.retain(|r| again.contains(&r.person));
            if pending.is_empty() {
                break;
            }
        }
        assert!(pending.is_empty());
    }

    #[test]
    fn hits_are_stable_and_appeals_overturn_some() {
        let config = SandboxConfig { errors_per_million: 0, max_batch: 100_000, ..SandboxConfig::default() };
        let mut s = SandboxAuthority::new(3, config);
        let all = requests(100_000, false);
        let id = s.submit_batch(0, &all).unwrap();
        let hit: Vec<PersonId> = wait(&mut s, 0, id)
            .into_iter()
            .filter(|a| matches!(a.1, ScreeningAnswer::Hit { .. }))
            .map(|a| a.0)
            .collect();
        assert!(hit.iter().all(|p| s.is_hit(*p)));
        let appeals: Vec<_> = requests(100_000, true).into_iter().filter(|r| hit.contains(&r.person)).collect();
        let id = s.submit_batch(0, &appeals).unwrap();
        let cleared = wait(&mut s, 0, id).iter().filter(|a| a.1 == ScreeningAnswer::Clear).count();
        let share = cleared as f64 / hit.len() as f64;
        assert!((0.15..0.45).contains(&share), "{cleared} of {}", hit.len());
    }

    #[test]
    fn limits_are_enforced() {
        let config = SandboxConfig { max_batch: 3, max_open_batches: 2, ..SandboxConfig::default() };
        let mut s = SandboxAuthority::new(0, config);
        assert_eq!(s.submit_batch(0, &[]), Err(SandboxError::EmptyBatch));
        assert_eq!(s.submit_batch(0, &requests(4, false)), Err(SandboxError::BatchTooLarge(4)));
        s.submit_batch(0, &requests(3, false)).unwrap();
        s.submit_batch(0, &requests(3, false)).unwrap();
        assert_eq!(s.submit_batch(0, &requests(1, false)), Err(SandboxError::TooManyOpenBatches));
    }
}
