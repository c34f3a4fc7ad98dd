//! The compiled model: hard constraints, score terms, and the sparse arcs of each applicant.
//!
//! Names (missions, venues, skills, regions, days) are turned into indices once, so that the
//! 300,000 × ~4,500 questions "may this applicant serve in this bucket, and how well" are
//! answered with integer comparisons and bit masks.

use std::collections::{BTreeMap, BTreeSet};

use time::Date;

use super::{ConstraintKind, HardConstraint, Input, Policy, ScoreTerms};
use crate::applicant::{Applicant, Screening, Skill, Zone};
use crate::mission::{Bucket, Mission, Venue};

pub(crate) const NONE: u32 = u32::MAX;

/// What coordinators and earlier runs decided about one applicant.
#[derive(Debug, Clone, Default)]
pub(crate) struct Blocks {
    pub excluded_all: bool,
    pub forbidden_all: bool,
    pub excluded: BTreeSet<u32>,
    pub forbidden: BTreeSet<u32>,
}

pub(crate) struct Model<'a> {
    pub policy: &'a Policy,
    pub missions: Vec<&'a Mission>,
    pub venues: Vec<&'a Venue>,
    pub buckets: Vec<Bucket>,
    /// (mission, venue) indices of each bucket.
    pub bucket_mv: Vec<(usize, usize)>,
    /// Open positions left once fixed and forced assignments are counted.
    pub open: Vec<u32>,
    pub blocks: BTreeMap<u32, Blocks>,
    grid: Vec<u32>,
    words: usize,
    masks: Vec<u64>,
    need: Vec<u32>,
    day_index: BTreeMap<Date, usize>,
    pub mission_of: BTreeMap<&'a str, usize>,
    pub venue_of: BTreeMap<&'a str, usize>,
    skill_id: BTreeMap<&'a Skill, u16>,
    req_skills: Vec<Vec<u16>>,
    pref_skills: Vec<Vec<u16>>,
    restricted: Vec<Vec<&'a Zone>>,
    venue_region: Vec<u32>,
    region_id: BTreeMap<&'a str, u32>,
}

/// One applicant's answers turned into indices.
pub(crate) struct Profile {
    pub eligible: Vec<HardConstraint>,
    mask: Vec<u64>,
    skills: Vec<u16>,
    /// Score terms per mission (venue terms zero), and (venue preference, location) per venue.
    mission_terms: Vec<ScoreTerms>,
    venue_terms: Vec<(u32, u32)>,
}

impl<'a> Model<'a> {
    pub(crate) fn new(input: &'a Input, buckets: Vec<Bucket>) -> Self {
        let policy = &input.policy;
        let mut missions: Vec<&Mission> = input.missions.iter().collect();
        missions.sort_by(|a, b| a.code.cmp(&b.code));
        let mut venues: Vec<&Venue> = input.venues.iter().collect();
        venues.sort_by(|a, b| a.id.cmp(&b.id));
        let mission_of: BTreeMap<&str, usize> =
            missions.iter().enumerate().map(|(i, m)| (m.code.as_str(), i)).collect();
        let venue_of: BTreeMap<&str, usize> = venues.iter().enumerate().map(|(i, v)| (v.id.as_str(), i)).collect();
        let mut grid = vec![NONE; missions.len() * venues.len()];
        let mut bucket_mv = Vec::with_capacity(buckets.len());
        let days: BTreeSet<Date> = buckets.iter().flat_map(|b| b.days.iter().map(|d| d.0)).collect();
        let day_index: BTreeMap<Date, usize> = days.into_iter().enumerate().map(|(i, d)| (d, i)).collect();
        let words = day_index.len().div_ceil(64).max(1);
        let mut masks = vec![0u64; buckets.len() * words];
        let mut need = Vec::with_capacity(buckets.len());
        for (b, bucket) in buckets.iter().enumerate() {
            let m = mission_of[bucket.key.mission.as_str()];
            let v = venue_of[bucket.key.venue.as_str()];
            grid[m * venues.len() + v] = b as u32;
            bucket_mv.push((m, v));
            for (day, _) in &bucket.days {
                let i = day_index[day];
                masks[b * words + i / 64] |= 1 << (i % 64);
            }
            need.push(policy.min_days_covered.min(bucket.days.len() as u32));
        }
        let mut skill_id = BTreeMap::new();
        for m in &missions {
            for s in m.required_skills.iter().chain(&m.preferred_skills) {
                let next = skill_id.len() as u16;
                skill_id.entry(s).or_insert(next);
            }
        }
        let ids = |set: &BTreeSet<Skill>| set.iter().map(|s| skill_id[s]).collect::<Vec<u16>>();
        let req_skills = missions.iter().map(|m| ids(&m.required_skills)).collect();
        let pref_skills = missions.iter().map(|m| ids(&m.preferred_skills)).collect();
        let restricted = missions
            .iter()
            .map(|m| m.zones.iter().filter(|z| !policy.requestable_zones.contains(*z)).collect())
            .collect();
        let mut region_id = BTreeMap::new();
        for v in &venues {
            let next = region_id.len() as u32;
            region_id.entry(v.region.as_str()).or_insert(next);
        }
        let venue_region = venues.iter().map(|v| region_id[v.region.as_str()]).collect();
        let open = buckets.iter().map(Bucket::capacity).collect();
        Model {
            policy,
            missions,
            venues,
            buckets,
            bucket_mv,
            open,
            blocks: BTreeMap::new(),
            grid,
            words,
            masks,
            need,
            day_index,
            mission_of,
            venue_of,
            skill_id,
            req_skills,
            pref_skills,
            restricted,
            venue_region,
            region_id,
        }
    }

    pub(crate) fn bucket(&self, m: usize, v: usize) -> Option<usize> {
        let b = self.grid[m * self.venues.len() + v];
        (b != NONE).then_some(b as usize)
    }

    /// Indices, availability mask, and the applicant-level constraints (eligibility, screening,
    /// blanket exclusions) the applicant fails.
    pub(crate) fn profile(&self, a: &Applicant) -> Profile {
        let mut eligible = Vec::new();
        let failures = self.policy.eligibility.check(a);
        if !failures.is_empty() {
            eligible.push(HardConstraint::Ineligible(failures));
        }
        let screening_ok = a.screening == Screening::Passed
            || (a.screening == Screening::Pending && self.policy.allow_pending_screening);
        if !screening_ok {
            eligible.push(HardConstraint::Screening(a.screening));
        }
        if let Some(bl) = self.blocks.get(&a.id.0) {
            if bl.excluded_all {
                eligible.push(HardConstraint::Excluded);
            }
            if bl.forbidden_all {
                eligible.push(HardConstraint::Forbidden);
            }
        }
        let mut mask = vec![0u64; self.words];
        for d in a.availability.days() {
            if let Some(&i) = self.day_index.get(d) {
                mask[i / 64] |= 1 << (i % 64);
            }
        }
        let mut skills: Vec<u16> = a.skills.iter().filter_map(|s| self.skill_id.get(s).copied()).collect();
        skills.sort_unstable();
        let mut mission_rank = vec![NONE; self.missions.len()];
        for (r, code) in a.preferred_missions.iter().enumerate() {
            if let Some(&m) = self.mission_of.get(code.as_str()) {
                mission_rank[m] = mission_rank[m].min(r as u32);
            }
        }
        let mut venue_rank = vec![NONE; self.venues.len()];
        for (r, id) in a.preferred_venues.iter().enumerate() {
            if let Some(&v) = self.venue_of.get(id.as_str()) {
                venue_rank[v] = venue_rank[v].min(r as u32);
            }
        }
        let region = self.region_id.get(a.home_region.as_str()).copied().unwrap_or(NONE);
        let mission_terms =
            (0..self.missions.len()).map(|m| self.mission_terms(a, &skills, mission_rank[m], m)).collect();
        let venue_terms = (0..self.venues.len()).map(|v| self.venue_terms(a, region, venue_rank[v], v)).collect();
        Profile { eligible, mask, skills, mission_terms, venue_terms }
    }

    /// Mission-level constraints: required skills, required languages, zones.
    pub(crate) fn mission_violations(
        &self,
        a: &Applicant,
        p: &Profile,
        m: usize,
        first_only: bool,
        out: &mut Vec<HardConstraint>,
    ) {
        let mission = self.missions[m];
        for (s, id) in mission.required_skills.iter().zip(&self.req_skills[m]) {
            if p.skills.binary_search(id).is_err() {
                out.push(HardConstraint::MissingSkill(s.clone()));
                if first_only {
                    return;
                }
            }
        }
        for req in &mission.required_languages {
            if !a.speaks(req) {
                out.push(HardConstraint::MissingLanguage(*req));
                if first_only {
                    return;
                }
            }
        }
        for z in &self.restricted[m] {
            if !a.accreditation.granted.contains(*z) {
                out.push(HardConstraint::Zone((*z).clone()));
                if first_only {
                    return;
                }
            }
        }
    }

    /// Bucket-level constraints: availability, open positions, exclusions, coordinator bans.
    pub(crate) fn bucket_violations(
        &self,
        a: &Applicant,
        p: &Profile,
        b: usize,
        first_only: bool,
        out: &mut Vec<HardConstraint>,
    ) {
        let covered = self.covered(p, b);
        if covered < self.need[b] {
            out.push(HardConstraint::Availability { covered, required: self.need[b] });
            if first_only {
                return;
            }
        }
        if self.open[b] == 0 {
            out.push(HardConstraint::NoOpenPosition);
            if first_only {
                return;
            }
        }
        if let Some(bl) = self.blocks.get(&a.id.0) {
            if bl.excluded.contains(&(b as u32)) {
                out.push(HardConstraint::Excluded);
            }
            if bl.forbidden.contains(&(b as u32)) {
                out.push(HardConstraint::Forbidden);
            }
        }
    }

    /// Every hard constraint the applicant breaks in bucket `b`.
    pub(crate) fn violations(&self, a: &Applicant, p: &Profile, b: usize) -> Vec<HardConstraint> {
        let mut out = p.eligible.clone();
        self.mission_violations(a, p, self.bucket_mv[b].0, false, &mut out);
        self.bucket_violations(a, p, b, false, &mut out);
        out
    }

    /// The kind of the first hard constraint the applicant breaks in bucket `b`, if any; `scratch`
    /// is reused so that counting over every applicant allocates nothing.
    pub(crate) fn first_violation(
        &self,
        a: &Applicant,
        p: &Profile,
        b: usize,
        scratch: &mut Vec<HardConstraint>,
    ) -> Option<ConstraintKind> {
        if let Some(c) = p.eligible.first() {
            return Some(c.kind());
        }
        scratch.clear();
        self.mission_violations(a, p, self.bucket_mv[b].0, true, scratch);
        if scratch.is_empty() {
            self.bucket_violations(a, p, b, true, scratch);
        }
        scratch.first().map(HardConstraint::kind)
    }

    fn covered(&self, p: &Profile, b: usize) -> u32 {
        let mask = &self.masks[b * self.words..(b + 1) * self.words];
        mask.iter().zip(&p.mask).map(|(x, y)| (x & y).count_ones()).sum()
    }

    /// Zones of the mission the applicant's accreditation does not grant yet.
    pub(crate) fn zones_to_request(&self, a: &Applicant, b: usize) -> Vec<Zone> {
        let m = self.missions[self.bucket_mv[b].0];
        m.zones.iter().filter(|z| !a.accreditation.granted.contains(*z)).cloned().collect()
    }

    /// The score terms that depend on the mission only.
    fn mission_terms(&self, a: &Applicant, skills: &[u16], rank: u32, m: usize) -> ScoreTerms {
        let w = &self.policy.weights;
        let mission = self.missions[m];
        let skills = self.pref_skills[m].iter().filter(|s| skills.binary_search(s).is_ok()).count() as u32;
        let langs = mission.preferred_languages.iter().filter(|l| a.speaks(l)).count() as u32;
        ScoreTerms {
            mission_preference: if rank == NONE {
                0
            } else {
                w.mission_first.saturating_sub(w.mission_step.saturating_mul(rank))
            },
            venue_preference: 0,
            preferred_skills: w.preferred_skill * skills.min(w.preferred_skill_cap),
            preferred_languages: w.preferred_language * langs.min(w.preferred_language_cap),
            experience: if a.experience.contains(&mission.code) { w.experience } else { 0 },
            location: 0,
        }
    }

    /// The score terms that depend on the venue only, as (venue preference, location).
    fn venue_terms(&self, a: &Applicant, region: u32, rank: u32, v: usize) -> (u32, u32) {
        let w = &self.policy.weights;
        let pref = if rank == NONE { 0 } else { w.venue_first.saturating_sub(w.venue_step.saturating_mul(rank)) };
        let location = if region != NONE && region == self.venue_region[v] {
            w.same_region
        } else if a.needs_lodging && self.venues[v].lodging {
            w.lodging
        } else {
            0
        };
        (pref, location)
    }

    /// The score of the applicant in bucket `b`, term by term.
    pub(crate) fn terms(&self, p: &Profile, b: usize) -> ScoreTerms {
        let (m, v) = self.bucket_mv[b];
        let (venue_preference, location) = p.venue_terms[v];
        ScoreTerms { venue_preference, location, ..p.mission_terms[m] }
    }

    /// The applicant's preferred buckets (preferred mission or preferred venue), best first by
    /// (preference terms, total score, bucket index).
    pub(crate) fn preferred(&self, a: &Applicant, p: &Profile) -> Vec<(u32, u32, usize)> {
        let mut cands: Vec<usize> = Vec::new();
        for code in &a.preferred_missions {
            if let Some(&m) = self.mission_of.get(code.as_str()) {
                cands.extend((0..self.venues.len()).filter_map(|v| self.bucket(m, v)));
            }
        }
        for id in &a.preferred_venues {
            if let Some(&v) = self.venue_of.get(id.as_str()) {
                cands.extend((0..self.missions.len()).filter_map(|m| self.bucket(m, v)));
            }
        }
        cands.sort_unstable();
        cands.dedup();
        // One packed key per candidate (preference desc, score desc, bucket asc): sorting plain
        // integers is several times faster than sorting tuples, and this runs per applicant.
        let mut keys: Vec<u64> = cands
            .into_iter()
            .map(|b| {
                let t = self.terms(p, b);
                let pref = u64::from(0xFFFF - (t.mission_preference + t.venue_preference).min(0xFFFF));
                let total = u64::from(0xFFFF - t.total().min(0xFFFF));
                pref << 48 | total << 32 | b as u64
            })
            .collect();
        keys.sort_unstable();
        keys.into_iter()
            .map(|k| (0xFFFF - (k >> 48) as u32, 0xFFFF - (k >> 32 & 0xFFFF) as u32, (k & 0xFFFF_FFFF) as usize))
            .collect()
    }

    /// The kept arcs: the applicant's `preference_arcs` best feasible preferred buckets, then
    /// the `scored_arcs` best-scored other feasible buckets (ties broken by a hash of the
    /// applicant and bucket, so that ties spread over buckets instead of piling on the first).
    /// Returns (bucket, score) pairs in bucket order.
    pub(crate) fn arcs(&self, a: &Applicant, p: &Profile) -> Vec<(u32, u32)> {
        if !p.eligible.is_empty() {
            return Vec::new();
        }
        let mut scratch = Vec::new();
        let mut mission_ok = vec![false; self.missions.len()];
        for (m, ok) in mission_ok.iter_mut().enumerate() {
            scratch.clear();
            self.mission_violations(a, p, m, true, &mut scratch);
            *ok = scratch.is_empty();
        }
        let mut feasible = |b: usize| {
            scratch.clear();
            self.bucket_violations(a, p, b, true, &mut scratch);
            mission_ok[self.bucket_mv[b].0] && scratch.is_empty()
        };
        let mut kept: Vec<(u32, u32)> = Vec::new();
        for (_, score, b) in self.preferred(a, p) {
            if kept.len() >= self.policy.preference_arcs {
                break;
            }
            if feasible(b) {
                kept.push((b as u32, score));
            }
        }
        let limit = self.policy.scored_arcs;
        if limit > 0 {
            let mut ms: Vec<(u32, usize)> =
                (0..self.missions.len()).filter(|&m| mission_ok[m]).map(|m| (p.mission_terms[m].total(), m)).collect();
            ms.sort_unstable_by(|x, y| y.0.cmp(&x.0).then(x.1.cmp(&y.1)));
            let mut vs: Vec<(u32, usize)> =
                (0..self.venues.len()).map(|v| (p.venue_terms[v].0 + p.venue_terms[v].1, v)).collect();
            vs.sort_unstable_by(|x, y| y.0.cmp(&x.0).then(x.1.cmp(&y.1)));
            let top_v = vs.first().map_or(0, |x| x.0);
            // Best (score desc, hash asc) first; `best` stays sorted and at most `limit` long.
            let mut best: Vec<(u32, u64, u32)> = Vec::with_capacity(limit + 1);
            let worst = |best: &Vec<(u32, u64, u32)>| (best.len() == limit).then(|| best[limit - 1].0);
            'missions: for &(xm, m) in &ms {
                if worst(&best).is_some_and(|w| xm + top_v < w) {
                    break;
                }
                for &(yv, v) in &vs {
                    if worst(&best).is_some_and(|w| xm + yv < w) {
                        continue 'missions;
                    }
                    let Some(b) = self.bucket(m, v) else { continue };
                    if kept.iter().any(|k| k.0 as usize == b) || !feasible(b) {
                        continue;
                    }
                    let key = (xm + yv, tie_hash(a.id.0, b as u32), b as u32);
                    let at =
                        best.partition_point(|e| (std::cmp::Reverse(e.0), e.1) <= (std::cmp::Reverse(key.0), key.1));
                    if at < limit {
                        best.insert(at, key);
                        best.truncate(limit);
                    }
                }
            }
            kept.extend(best.into_iter().map(|(s, _, b)| (b, s)));
        }
        kept.sort_unstable();
        kept
    }
}

/// A fixed, portable mix of the two ids (SplitMix64's finaliser).
pub(crate) fn tie_hash(applicant: u32, bucket: u32) -> u64 {
    let mut z = (u64::from(applicant) << 32 | u64::from(bucket)).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
