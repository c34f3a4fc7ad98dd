//! What a run returns: proposals with their explanations, the applicants left out and why,
//! unfilled buckets with the reason, override outcomes, fairness figures and counters.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::model::Model;
use super::{ConstraintKind, Fairness, HardConstraint, Input, ScoreTerms};
use crate::applicant::{ApplicantId, Zone};
use crate::mission::BucketKey;

/// An index into [`Output::buckets`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct BucketId(pub u32);

/// How a bucket stands after the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketFill {
    /// The (mission, venue) pair.
    pub key: BucketKey,
    /// Volunteers needed (the peak day).
    pub capacity: u32,
    /// Held by fixed volunteers.
    pub fixed: u32,
    /// Proposed by this run, forced ones included.
    pub proposed: u32,
}

/// How a proposal came about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Origin {
    /// Chosen by the flow.
    Matched,
    /// Forced by a coordinator: the index in [`Input::overrides`](super::Input::overrides).
    Forced(usize),
}

/// Why one of the applicant's preferred buckets was not the one proposed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum NotChosenReason {
    /// Hard constraints rule it out (all of them are listed).
    Ruled(Vec<HardConstraint>),
    /// Feasible, but beyond the arcs kept for this applicant.
    BeyondArcLimit {
        /// The score it would have had.
        score: u32,
    },
    /// Feasible and considered; its positions went to others for a higher total score.
    FilledByHigherTotalScore {
        /// The score it would have had.
        score: u32,
    },
    /// Feasible, with room left, but the proposal scores at least as much.
    ChosenScoresAtLeastAsMuch {
        /// The score it would have had.
        score: u32,
    },
}

/// A preferred bucket not proposed, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotChosen {
    /// The bucket.
    pub bucket: BucketId,
    /// Why.
    pub reason: NotChosenReason,
}

/// One proposed assignment, with its explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    /// The applicant.
    pub applicant: ApplicantId,
    /// The bucket.
    pub bucket: BucketId,
    /// The score, term by term.
    pub score: ScoreTerms,
    /// Matched, or forced by a coordinator.
    pub origin: Origin,
    /// Zones of the mission the accreditation must still grant.
    pub zones_to_request: Vec<Zone>,
    /// The applicant's preferred buckets not proposed, best first, up to the explain limit.
    pub not_chosen: Vec<NotChosen>,
}

/// Why an applicant got no proposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum UnmatchedReason {
    /// Constraints that rule out every bucket (eligibility, screening, blanket exclusion).
    Ruled(Vec<HardConstraint>),
    /// Eligible, but no bucket is feasible.
    NoFeasibleBucket,
    /// Had feasible buckets; every one was filled by a higher total.
    Outscored {
        /// Buckets considered.
        considered: u32,
    },
}

/// An applicant without a proposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unmatched {
    /// The applicant.
    pub applicant: ApplicantId,
    /// Why.
    pub reason: UnmatchedReason,
    /// The applicant's preferred buckets, best first, and why each was not proposed.
    pub not_chosen: Vec<NotChosen>,
}

/// A bucket left with open positions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unfilled {
    /// The bucket.
    pub bucket: BucketId,
    /// Positions still open.
    pub open: u32,
    /// Applicants who had it among their kept arcs (all of them are placed elsewhere).
    pub candidates: u32,
    /// When there was no candidate: for each constraint, how many of the run's applicants
    /// (fixed and forced ones aside) it rules out, each counted once under its first broken
    /// constraint; applicants it does not rule out (the bucket was beyond their arc limit) are
    /// counted under `None`.
    pub ruled_out: BTreeMap<Option<ConstraintKind>, u32>,
}

/// What happened to a coordinator override.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OverrideOutcome {
    /// Applied.
    Applied,
    /// Refused, with the constraints it would break.
    Refused(Vec<HardConstraint>),
}

/// Sizes and counters of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Applications.
    pub applicants: u32,
    /// Applicants who pass eligibility, screening and exclusions.
    pub eligible: u32,
    /// Arcs kept in the flow graph.
    pub arcs: u64,
    /// Buckets.
    pub buckets: u32,
    /// Positions open to this run.
    pub open_positions: u32,
    /// Proposals made by the flow.
    pub matched: u32,
    /// Sum of the matched proposals' scores.
    pub total_score: u64,
    /// Dijkstra phases of the flow.
    pub phases: u32,
}

/// The result of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    /// Buckets in (mission, venue) order; [`BucketId`] indexes this.
    pub buckets: Vec<BucketFill>,
    /// Proposals, by applicant id.
    pub proposals: Vec<Proposal>,
    /// Applicants without a proposal (fixed ones excluded), by id.
    pub unmatched: Vec<Unmatched>,
    /// Buckets with open positions left.
    pub unfilled: Vec<Unfilled>,
    /// One outcome per [`Input::overrides`](super::Input::overrides) entry, in order.
    pub overrides: Vec<OverrideOutcome>,
    /// Selection figures by group.
    pub fairness: Fairness,
    /// Sizes and counters.
    pub stats: Stats,
}

/// Buckets with open positions, and for those without any candidate, what ruled applicants out.
pub(super) fn unfilled(
    model: &Model<'_>,
    remaining: &[u32],
    candidates: &[u32],
    input: &Input,
    order: &[usize],
    chosen: &BTreeMap<ApplicantId, (usize, Origin)>,
    placed: &BTreeMap<ApplicantId, usize>,
) -> Vec<Unfilled> {
    let mut out: Vec<Unfilled> = (0..model.buckets.len())
        .filter(|&b| remaining[b] > 0)
        .map(|b| Unfilled {
            bucket: BucketId(b as u32),
            open: remaining[b],
            candidates: candidates[b],
            ruled_out: BTreeMap::new(),
        })
        .collect();
    let empty: Vec<usize> = out.iter().filter(|u| u.candidates == 0).map(|u| u.bucket.0 as usize).collect();
    if empty.is_empty() {
        return out;
    }
    let mut counts: BTreeMap<usize, BTreeMap<Option<ConstraintKind>, u32>> = BTreeMap::new();
    let mut scratch = Vec::new();
    for &i in order {
        let a = &input.applicants[i];
        if placed.contains_key(&a.id) || chosen.get(&a.id).is_some_and(|c| matches!(c.1, Origin::Forced(_))) {
            continue;
        }
        let p = model.profile(a);
        for &b in &empty {
            // No applicant kept this arc, so one that breaks nothing was beyond its arc limit.
            let first = model.first_violation(a, &p, b, &mut scratch);
            *counts.entry(b).or_default().entry(first).or_default() += 1;
        }
    }
    for u in &mut out {
        if let Some(c) = counts.remove(&(u.bucket.0 as usize)) {
            u.ruled_out = c;
        }
    }
    out
}
