//! Matching applicants to (mission, venue) buckets: hard constraints, a documented score, an
//! exact sparse min-cost flow, explanations, fairness figures, and incremental re-runs.
//!
//! **Hard constraints** (an applicant is never proposed for a bucket that breaks one):
//! eligibility ([`crate::EligibilityRules`]); screening passed (or pending, if
//! [`Policy::allow_pending_screening`]); every required skill; every required language at its
//! level; every zone of the mission granted by the applicant's accreditation or listed in
//! [`Policy::requestable_zones`] (zones still to request are listed on the proposal);
//! availability on at least `min(Policy::min_days_covered, days of the bucket)` of the bucket's
//! days; an open position; no exclusion after a refused, expired or withdrawn offer; no
//! coordinator ban.
//!
//! **Score** (integers, each term reported on the proposal, see [`Weights`]):
//! `mission_preference` (`mission_first - mission_step × rank`, 0 if not ranked),
//! `venue_preference` (`venue_first - venue_step × rank`), `preferred_skills` and
//! `preferred_languages` (a weight per match, up to a cap), `experience` (served this mission
//! type before), `location` (`same_region` if the venue is in the applicant's region, else
//! `lodging` if the applicant needs lodging and the venue offers it).
//!
//! **Objective, and what is optimal.** The flow maximises first the number of positions filled,
//! then the total score: arc cost is `max_score - score`, and a maximum flow of minimum cost
//! under that cost is exactly that lexicographic optimum. It is solved exactly
//! ([`flow`](self) documents how) over the *kept* arcs: each applicant keeps its
//! [`Policy::preference_arcs`] best feasible preferred buckets and its [`Policy::scored_arcs`]
//! best-scored other feasible buckets, and a bucket left with fewer than
//! [`Policy::coverage_factor`] candidates per open position gets arcs from its best-scored
//! other feasible applicants. The cap is what keeps 300,000 applicants sparse; the
//! answer is the exact optimum of the full problem whenever no applicant has more feasible
//! buckets than it keeps, and otherwise the exact optimum of the capped problem (tests compare
//! both with brute force).
//!
//! **Incremental runs.** [`Input::fixed`] (accepted or still outstanding offers) consume their
//! positions and take their applicants out; [`Input::exclusions`] keep applicants who refused
//! from that bucket or from all; [`Input::overrides`] ban or force with an [`Audit`]. A run
//! never moves a fixed volunteer: it only fills what is open.
//!
//! **Determinism.** Applicants are processed by id and buckets by (mission, venue); maps are
//! `BTreeMap`s; the flow breaks ties by index. Same input, same output, on any machine.

mod fairness;
mod flow;
mod model;
mod output;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

pub use fairness::{Fairness, GroupFigures};
pub use output::{
    BucketFill, BucketId, NotChosen, NotChosenReason, Origin, Output, OverrideOutcome, Proposal, Stats, Unfilled,
    Unmatched, UnmatchedReason,
};

use crate::applicant::{Applicant, ApplicantId, EligibilityFailure, EligibilityRules, LanguageRequirement};
use crate::applicant::{Screening, Skill, Zone};
use crate::mission::{buckets, BucketKey, Mission, MissionError, Position, Venue};
use model::Model;

/// Integer weights of the score terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Weights {
    /// Score of the first-ranked mission.
    pub mission_first: u32,
    /// Taken off per rank below the first.
    pub mission_step: u32,
    /// Score of the first-ranked venue.
    pub venue_first: u32,
    /// Taken off per rank below the first.
    pub venue_step: u32,
    /// Per preferred skill the applicant has...
    pub preferred_skill: u32,
    /// ...counting at most this many.
    pub preferred_skill_cap: u32,
    /// Per preferred language the applicant speaks at its level...
    pub preferred_language: u32,
    /// ...counting at most this many.
    pub preferred_language_cap: u32,
    /// Served this mission type at an earlier event.
    pub experience: u32,
    /// The venue is in the applicant's home region.
    pub same_region: u32,
    /// The applicant needs lodging and the venue offers it.
    pub lodging: u32,
}

impl Default for Weights {
    fn default() -> Self {
        Self {
            mission_first: 40,
            mission_step: 6,
            venue_first: 20,
            venue_step: 5,
            preferred_skill: 6,
            preferred_skill_cap: 3,
            preferred_language: 5,
            preferred_language_cap: 3,
            experience: 10,
            same_region: 12,
            lodging: 6,
        }
    }
}

impl Weights {
    /// The highest score any pair can reach.
    pub fn max_score(&self) -> u32 {
        self.mission_first
            + self.venue_first
            + self.preferred_skill * self.preferred_skill_cap
            + self.preferred_language * self.preferred_language_cap
            + self.experience
            + self.same_region.max(self.lodging)
    }
}

/// The rules of a matching run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// Entry rules.
    pub eligibility: EligibilityRules,
    /// An applicant must be available on this many of a bucket's days (all, if it has fewer).
    pub min_days_covered: u32,
    /// Let pending screenings through (offers then conditional, as London 2012 did).
    pub allow_pending_screening: bool,
    /// Zones the accreditation office grants to a volunteer on request.
    pub requestable_zones: BTreeSet<Zone>,
    /// Feasible preferred buckets kept per applicant.
    pub preference_arcs: usize,
    /// Best-scored other feasible buckets kept per applicant.
    pub scored_arcs: usize,
    /// A bucket with fewer kept candidates than this many times its open positions gets arcs
    /// from its best-scored other feasible applicants (0 turns this off).
    pub coverage_factor: u32,
    /// Score weights.
    pub weights: Weights,
    /// Preferred buckets explained per applicant.
    pub explain_limit: usize,
}

/// Who decided, why, and when: required on every coordinator action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Audit {
    /// The coordinator.
    pub by: String,
    /// The reason, in words.
    pub reason: String,
    /// When.
    pub at: OffsetDateTime,
}

/// Why an audit record was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    /// The coordinator or the reason is blank.
    #[error("an override needs a coordinator and a reason")]
    Blank,
}

impl Audit {
    /// An audit record; the coordinator and the reason must not be blank.
    pub fn new(by: &str, reason: &str, at: OffsetDateTime) -> Result<Self, AuditError> {
        if by.trim().is_empty() || reason.trim().is_empty() {
            return Err(AuditError::Blank);
        }
        Ok(Self { by: by.to_owned(), reason: reason.to_owned(), at })
    }
}

/// A volunteer already placed: the run keeps the position and leaves the applicant alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fixed {
    /// The volunteer.
    pub applicant: ApplicantId,
    /// The bucket.
    pub bucket: BucketKey,
    /// Accepted, or offered and awaiting an answer.
    pub accepted: bool,
}

/// Where an exclusion applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExclusionScope {
    /// This bucket only.
    Bucket(BucketKey),
    /// Every bucket.
    All,
}

/// An applicant kept out after a refused, expired or withdrawn offer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exclusion {
    /// The applicant.
    pub applicant: ApplicantId,
    /// Where.
    pub scope: ExclusionScope,
}

/// A coordinator's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OverrideAction {
    /// Assign to this bucket, if no hard constraint forbids it and a position is open.
    ForceAssign(BucketKey),
    /// Never propose this bucket.
    Forbid(BucketKey),
    /// Never propose anything.
    ForbidAll,
}

/// A coordinator's decision about one applicant, with its audit record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Override {
    /// The applicant.
    pub applicant: ApplicantId,
    /// The decision.
    pub action: OverrideAction,
    /// Who, why, when.
    pub audit: Audit,
}

/// Everything a run needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Input {
    /// The rules.
    pub policy: Policy,
    /// Mission types.
    pub missions: Vec<Mission>,
    /// Venues.
    pub venues: Vec<Venue>,
    /// Positions per (mission, venue, day).
    pub positions: Vec<Position>,
    /// Applications.
    pub applicants: Vec<Applicant>,
    /// Volunteers already placed.
    pub fixed: Vec<Fixed>,
    /// Applicants kept out of a bucket or of all.
    pub exclusions: Vec<Exclusion>,
    /// Coordinators' decisions. Bans apply first, then forced assignments in list order.
    pub overrides: Vec<Override>,
}

/// Why the input cannot be matched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// Missions, venues or positions are inconsistent.
    #[error(transparent)]
    Missions(#[from] MissionError),
    /// Two applications share an id.
    #[error("applicant {0} appears twice")]
    DuplicateApplicant(ApplicantId),
    /// A fixed volunteer names a bucket without positions.
    #[error("fixed volunteer {0} is in {1}, which has no positions")]
    UnknownBucket(ApplicantId, BucketKey),
    /// A volunteer is fixed twice.
    #[error("volunteer {0} is fixed twice")]
    FixedTwice(ApplicantId),
    /// More fixed volunteers than positions (positions were cut after offers were made).
    #[error("bucket {0} has more fixed volunteers than positions")]
    FixedOverCapacity(BucketKey),
}

/// A hard constraint, as it rules an applicant out of a bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum HardConstraint {
    /// Fails the entry rules.
    Ineligible(Vec<EligibilityFailure>),
    /// Screening not passed.
    Screening(Screening),
    /// Lacks a required skill.
    MissingSkill(Skill),
    /// Lacks a required language at its level.
    MissingLanguage(LanguageRequirement),
    /// The mission needs a zone the accreditation neither grants nor may request.
    Zone(Zone),
    /// Not available on enough of the bucket's days.
    Availability {
        /// Days of the bucket the applicant is available.
        covered: u32,
        /// Days required.
        required: u32,
    },
    /// Every position is taken by fixed or forced volunteers.
    NoOpenPosition,
    /// Excluded after a refused, expired or withdrawn offer.
    Excluded,
    /// Banned by a coordinator.
    Forbidden,
    /// Already placed (fixed or forced) elsewhere.
    AlreadyPlaced,
    /// No such applicant.
    UnknownApplicant,
    /// No such bucket.
    UnknownBucket,
}

/// A fieldless name for each [`HardConstraint`], for counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ConstraintKind {
    /// [`HardConstraint::Ineligible`].
    Ineligible,
    /// [`HardConstraint::Screening`].
    Screening,
    /// [`HardConstraint::MissingSkill`].
    MissingSkill,
    /// [`HardConstraint::MissingLanguage`].
    MissingLanguage,
    /// [`HardConstraint::Zone`].
    Zone,
    /// [`HardConstraint::Availability`].
    Availability,
    /// [`HardConstraint::NoOpenPosition`].
    NoOpenPosition,
    /// [`HardConstraint::Excluded`].
    Excluded,
    /// [`HardConstraint::Forbidden`].
    Forbidden,
    /// [`HardConstraint::AlreadyPlaced`].
    AlreadyPlaced,
    /// [`HardConstraint::UnknownApplicant`].
    UnknownApplicant,
    /// [`HardConstraint::UnknownBucket`].
    UnknownBucket,
}

impl HardConstraint {
    /// The constraint's name without its details.
    pub fn kind(&self) -> ConstraintKind {
        match self {
            Self::Ineligible(_) => ConstraintKind::Ineligible,
            Self::Screening(_) => ConstraintKind::Screening,
            Self::MissingSkill(_) => ConstraintKind::MissingSkill,
            Self::MissingLanguage(_) => ConstraintKind::MissingLanguage,
            Self::Zone(_) => ConstraintKind::Zone,
            Self::Availability { .. } => ConstraintKind::Availability,
            Self::NoOpenPosition => ConstraintKind::NoOpenPosition,
            Self::Excluded => ConstraintKind::Excluded,
            Self::Forbidden => ConstraintKind::Forbidden,
            Self::AlreadyPlaced => ConstraintKind::AlreadyPlaced,
            Self::UnknownApplicant => ConstraintKind::UnknownApplicant,
            Self::UnknownBucket => ConstraintKind::UnknownBucket,
        }
    }
}

/// A score, term by term; [`ScoreTerms::total`] is what the flow maximises.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoreTerms {
    /// From the mission's rank in the applicant's preferences.
    pub mission_preference: u32,
    /// From the venue's rank in the applicant's preferences.
    pub venue_preference: u32,
    /// Preferred skills the applicant has.
    pub preferred_skills: u32,
    /// Preferred languages the applicant speaks.
    pub preferred_languages: u32,
    /// Served this mission type before.
    pub experience: u32,
    /// Home region, or lodging where it is needed.
    pub location: u32,
}

impl ScoreTerms {
    /// The sum of the terms.
    pub fn total(&self) -> u32 {
        self.mission_preference
            + self.venue_preference
            + self.preferred_skills
            + self.preferred_languages
            + self.experience
            + self.location
    }
}

/// Runs the matching.
pub fn run(input: &Input) -> Result<Output, InputError> {
    let bs = buckets(&input.missions, &input.venues, &input.positions)?;
    let mut order: Vec<usize> = (0..input.applicants.len()).collect();
    order.sort_by_key(|&i| input.applicants[i].id);
    for w in order.windows(2) {
        if input.applicants[w[0]].id == input.applicants[w[1]].id {
            return Err(InputError::DuplicateApplicant(input.applicants[w[0]].id));
        }
    }
    let by_id: BTreeMap<ApplicantId, &Applicant> = input.applicants.iter().map(|a| (a.id, a)).collect();
    let mut model = Model::new(input, bs);
    let index: BTreeMap<&BucketKey, usize> = model.buckets.iter().enumerate().map(|(i, b)| (&b.key, i)).collect();
    let bucket_of = |k: &BucketKey| index.get(k).copied();

    // Fixed volunteers hold their positions.
    let mut placed: BTreeMap<ApplicantId, usize> = BTreeMap::new();
    let mut fixed_count = vec![0u32; model.buckets.len()];
    for f in &input.fixed {
        let b = bucket_of(&f.bucket).ok_or_else(|| InputError::UnknownBucket(f.applicant, f.bucket.clone()))?;
        if placed.insert(f.applicant, b).is_some() {
            return Err(InputError::FixedTwice(f.applicant));
        }
        if model.open[b] == 0 {
            return Err(InputError::FixedOverCapacity(f.bucket.clone()));
        }
        model.open[b] -= 1;
        fixed_count[b] += 1;
    }
    for e in &input.exclusions {
        let bl = model.blocks.entry(e.applicant.0).or_default();
        match &e.scope {
            ExclusionScope::All => bl.excluded_all = true,
            ExclusionScope::Bucket(k) => {
                // A bucket that no longer has positions needs no exclusion.
                if let Some(b) = bucket_of(k) {
                    bl.excluded.insert(b as u32);
                }
            }
        }
    }
    let mut outcomes = vec![OverrideOutcome::Applied; input.overrides.len()];
    for o in &input.overrides {
        let bl = model.blocks.entry(o.applicant.0).or_default();
        match &o.action {
            OverrideAction::ForbidAll => bl.forbidden_all = true,
            OverrideAction::Forbid(k) => {
                if let Some(b) = bucket_of(k) {
                    bl.forbidden.insert(b as u32);
                }
            }
            OverrideAction::ForceAssign(_) => {}
        }
    }
    let mut forced: BTreeMap<ApplicantId, (usize, usize)> = BTreeMap::new();
    for (i, o) in input.overrides.iter().enumerate() {
        let OverrideAction::ForceAssign(key) = &o.action else { continue };
        let mut broken = Vec::new();
        let (Some(a), Some(b)) = (by_id.get(&o.applicant), bucket_of(key)) else {
            if !by_id.contains_key(&o.applicant) {
                broken.push(HardConstraint::UnknownApplicant);
            }
            if bucket_of(key).is_none() {
                broken.push(HardConstraint::UnknownBucket);
            }
            outcomes[i] = OverrideOutcome::Refused(broken);
            continue;
        };
        if placed.contains_key(&a.id) || forced.contains_key(&a.id) {
            broken.push(HardConstraint::AlreadyPlaced);
        }
        let profile = model.profile(a);
        broken.extend(model.violations(a, &profile, b));
        if broken.is_empty() {
            model.open[b] -= 1;
            forced.insert(a.id, (b, i));
        } else {
            outcomes[i] = OverrideOutcome::Refused(broken);
        }
    }

    // The sparse graph, applicants in id order.
    let mut who: Vec<usize> = Vec::new();
    let mut lists: Vec<Vec<(u32, u32)>> = Vec::new();
    let mut eligible = 0u32;
    let max = model.policy.weights.max_score();
    for &i in &order {
        let a = &input.applicants[i];
        if placed.contains_key(&a.id) || forced.contains_key(&a.id) {
            continue;
        }
        let p = model.profile(a);
        if p.eligible.is_empty() {
            eligible += 1;
        }
        lists.push(model.arcs(a, &p));
        who.push(i);
    }
    cover(&model, input, &who, &mut lists);
    let mut arcs = flow::Arcs { off: vec![0], ..flow::Arcs::default() };
    for list in &lists {
        for &(b, score) in list {
            arcs.bucket.push(b);
            arcs.cost.push(max - score);
        }
        arcs.off.push(arcs.bucket.len());
    }
    drop(lists);
    let solution = flow::solve(&arcs, &model.open);

    let mut proposed = vec![0u32; model.buckets.len()];
    let mut remaining = model.open.clone();
    let mut chosen: BTreeMap<ApplicantId, (usize, Origin)> = BTreeMap::new();
    for (&id, &(b, i)) in &forced {
        proposed[b] += 1;
        chosen.insert(id, (b, Origin::Forced(i)));
    }
    let mut total_score = 0u64;
    for (j, k) in solution.arc_of.iter().enumerate() {
        if let Some(k) = *k {
            let b = arcs.bucket[k] as usize;
            proposed[b] += 1;
            remaining[b] -= 1;
            total_score += u64::from(max - arcs.cost[k]);
            chosen.insert(input.applicants[who[j]].id, (b, Origin::Matched));
        }
    }
    let kept_of = |j: usize| &arcs.bucket[arcs.off[j]..arcs.off[j + 1]];
    let explain = |a: &Applicant, p: &model::Profile, kept: &[u32], skip: usize| {
        let limit = model.policy.explain_limit;
        let ranked = model.preferred(a, p);
        ranked
            .into_iter()
            .filter(|r| r.2 != skip)
            .take(limit)
            .map(|(_, score, b)| {
                let ruled = model.violations(a, p, b);
                let reason = if !ruled.is_empty() {
                    NotChosenReason::Ruled(ruled)
                } else if !kept.contains(&(b as u32)) {
                    NotChosenReason::BeyondArcLimit { score }
                } else if remaining[b] == 0 {
                    NotChosenReason::FilledByHigherTotalScore { score }
                } else {
                    NotChosenReason::ChosenScoresAtLeastAsMuch { score }
                };
                NotChosen { bucket: BucketId(b as u32), reason }
            })
            .collect::<Vec<_>>()
    };

    let mut proposals = Vec::new();
    let mut unmatched = Vec::new();
    let mut j = 0;
    for &i in &order {
        let a = &input.applicants[i];
        if placed.contains_key(&a.id) {
            continue;
        }
        let p = model.profile(a);
        let kept: &[u32] = if who.get(j) == Some(&i) {
            j += 1;
            kept_of(j - 1)
        } else {
            &[]
        };
        match chosen.get(&a.id) {
            Some(&(b, ref origin)) => {
                // A forced proposal's explanation is its audit record.
                let not_chosen = if *origin == Origin::Matched { explain(a, &p, kept, b) } else { Vec::new() };
                proposals.push(Proposal {
                    applicant: a.id,
                    bucket: BucketId(b as u32),
                    score: model.terms(&p, b),
                    origin: origin.clone(),
                    zones_to_request: model.zones_to_request(a, b),
                    not_chosen,
                });
            }
            None => {
                let reason = if !p.eligible.is_empty() {
                    UnmatchedReason::Ruled(p.eligible.clone())
                } else if kept.is_empty() {
                    UnmatchedReason::NoFeasibleBucket
                } else {
                    UnmatchedReason::Outscored { considered: kept.len() as u32 }
                };
                let not_chosen = explain(a, &p, kept, usize::MAX);
                unmatched.push(Unmatched { applicant: a.id, reason, not_chosen });
            }
        }
    }

    let mut candidates = vec![0u32; model.buckets.len()];
    for &b in &arcs.bucket {
        candidates[b as usize] += 1;
    }
    let unfilled = output::unfilled(&model, &remaining, &candidates, input, &order, &chosen, &placed);
    let fills = model
        .buckets
        .iter()
        .enumerate()
        .map(|(b, bk)| BucketFill {
            key: bk.key.clone(),
            capacity: bk.capacity(),
            fixed: fixed_count[b],
            proposed: proposed[b],
        })
        .collect();
    let fairness = fairness::figures(input, &model, &chosen, &placed);
    let stats = Stats {
        applicants: input.applicants.len() as u32,
        eligible,
        arcs: arcs.bucket.len() as u64,
        buckets: model.buckets.len() as u32,
        open_positions: model.open.iter().sum::<u32>() + forced.len() as u32,
        matched: solution.arc_of.iter().filter(|k| k.is_some()).count() as u32,
        total_score,
        phases: solution.phases,
    };
    Ok(Output { buckets: fills, proposals, unmatched, unfilled, overrides: outcomes, fairness, stats })
}

/// Coverage arcs: a bucket with fewer than `coverage_factor × open` candidates among the kept
/// arcs gets arcs from its best-scored other feasible applicants (ties by the same hash), so
/// that the per-applicant cap cannot leave a bucket empty while someone could serve there.
fn cover(model: &Model<'_>, input: &Input, who: &[usize], lists: &mut [Vec<(u32, u32)>]) {
    let factor = model.policy.coverage_factor;
    let mut candidates = vec![0u32; model.buckets.len()];
    for list in lists.iter() {
        for &(b, _) in list {
            candidates[b as usize] += 1;
        }
    }
    let want: Vec<u32> = model.open.iter().map(|o| o.saturating_mul(factor)).collect();
    let short: Vec<usize> = (0..model.buckets.len()).filter(|&b| candidates[b] < want[b]).collect();
    if short.is_empty() {
        return;
    }
    // Per short bucket, the best (score desc, hash asc, applicant) seen so far, kept bounded.
    let mut pools: Vec<Vec<(std::cmp::Reverse<u32>, u64, u32)>> = vec![Vec::new(); short.len()];
    let mut scratch = Vec::new();
    for (j, &i) in who.iter().enumerate() {
        let a = &input.applicants[i];
        let p = model.profile(a);
        if !p.eligible.is_empty() {
            continue;
        }
        for (k, &b) in short.iter().enumerate() {
            if lists[j].iter().any(|x| x.0 as usize == b) || model.first_violation(a, &p, b, &mut scratch).is_some() {
                continue;
            }
            let need = (want[b] - candidates[b]) as usize;
            let pool = &mut pools[k];
            pool.push((std::cmp::Reverse(model.terms(&p, b).total()), model::tie_hash(a.id.0, b as u32), j as u32));
            if pool.len() >= 2 * need {
                pool.sort_unstable();
                pool.truncate(need);
            }
        }
    }
    for (k, &b) in short.iter().enumerate() {
        let need = (want[b] - candidates[b]) as usize;
        let pool = &mut pools[k];
        pool.sort_unstable();
        for &(std::cmp::Reverse(score), _, j) in pool.iter().take(need) {
            let list = &mut lists[j as usize];
            let at = list.partition_point(|x| x.0 < b as u32);
            list.insert(at, (b as u32, score));
        }
    }
}
