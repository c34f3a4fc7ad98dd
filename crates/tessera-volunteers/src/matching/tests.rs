//! Matching tests. The hard constraints and the score are restated here independently of
//! `model.rs`, so that a bug there cannot hide behind itself.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use time::macros::{date, datetime};
use time::{Date, Duration};

use super::*;
use crate::applicant::tests::{applicant, lang};
use crate::applicant::{Availability, Country, Gender, Language, Level, Region};
use crate::mission::tests::{mission, position, venue};
use crate::mission::{Bucket, MissionCode, VenueId};
use crate::offers::{next_run, Offer, RefusalScope};

const FIRST_DAY: Date = date!(2024 - 07 - 27);

fn small_policy() -> Policy {
    Policy {
        eligibility: EligibilityRules {
            min_age: 18,
            age_on: date!(2024 - 01 - 01),
            languages: vec![lang("fr", Level::B1), lang("en", Level::B1)],
            min_consecutive_days: 1,
            period: (FIRST_DAY, FIRST_DAY + Duration::days(4)),
        },
        min_days_covered: 2,
        allow_pending_screening: false,
        requestable_zones: BTreeSet::from([Zone::new("3").unwrap()]),
        preference_arcs: 50,
        scored_arcs: 50,
        coverage_factor: 0,
        weights: Weights::default(),
        explain_limit: 10,
    }
}

fn skill(s: &str) -> Skill {
    Skill::new(s).unwrap()
}

/// A random small programme; `blocks` adds random exclusions and bans.
fn random_input(seed: u64, max_applicants: u32, blocks: bool) -> Input {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let skills = ["s1", "s2", "s3"];
    let missions: Vec<Mission> = (0..rng.gen_range(1..=3))
        .map(|i| {
            let mut m = mission(&format!("M{i}"));
            if rng.gen_bool(0.4) {
                m.required_skills.insert(skill(skills[rng.gen_range(0..3)]));
            }
            if rng.gen_bool(0.5) {
                m.preferred_skills.insert(skill(skills[rng.gen_range(0..3)]));
            }
            if rng.gen_bool(0.3) {
                m.required_languages.push(lang("en", Level::B2));
            }
            if rng.gen_bool(0.5) {
                m.preferred_languages.push(lang("es", Level::B1));
            }
            match rng.gen_range(0..4) {
                0 => drop(m.zones.insert(Zone::new("3").unwrap())),
                1 => drop(m.zones.insert(Zone::new("X").unwrap())),
                _ => {}
            }
            m
        })
        .collect();
    let venues: Vec<Venue> = (0..rng.gen_range(1..=2))
        .map(|i| {
            let mut v = venue(&format!("V{i}"));
            v.region = Region::new(["IDF", "MAR"][i]).unwrap();
            v.lodging = rng.gen_bool(0.5);
            v
        })
        .collect();
    let mut positions = Vec::new();
    for m in &missions {
        for v in &venues {
            for d in 0..5 {
                if rng.gen_bool(0.6) {
                    let day = FIRST_DAY + Duration::days(d);
                    positions.push(position(m.code.as_str(), v.id.as_str(), day, rng.gen_range(0..=2)));
                }
            }
        }
    }
    let applicants: Vec<Applicant> = (0..rng.gen_range(0..=max_applicants))
        .map(|i| {
            let mut a = applicant(i * 7 + 3);
            a.birth_date = if rng.gen_bool(0.1) { date!(2010 - 01 - 01) } else { date!(1990 - 01 - 01) };
            a.languages.clear();
            if rng.gen_bool(0.8) {
                a.languages.insert(Language::new("fr").unwrap(), Level::C2);
            }
            for l in ["en", "es"] {
                if rng.gen_bool(0.5) {
                    let level = [Level::A2, Level::B1, Level::B2, Level::C1][rng.gen_range(0..4)];
                    a.languages.insert(Language::new(l).unwrap(), level);
                }
            }
            a.skills = skills.iter().filter(|_| rng.gen_bool(0.5)).map(|s| skill(s)).collect();
            a.availability =
                Availability::new((0..5).filter(|_| rng.gen_bool(0.7)).map(|d| FIRST_DAY + Duration::days(d)));
            let mut ms: Vec<MissionCode> = missions.iter().map(|m| m.code.clone()).collect();
            ms.retain(|_| rng.gen_bool(0.6));
            if rng.gen_bool(0.5) {
                ms.reverse();
            }
            a.preferred_missions = ms;
            a.preferred_venues = venues.iter().filter(|_| rng.gen_bool(0.4)).map(|v| v.id.clone()).collect();
            a.home_region = Region::new(["IDF", "MAR", "LYO"][rng.gen_range(0..3)]).unwrap();
            a.needs_lodging = rng.gen_bool(0.3);
            a.experience = missions.iter().filter(|_| rng.gen_bool(0.2)).map(|m| m.code.clone()).collect();
            a.screening =
                [Screening::Passed, Screening::Passed, Screening::Passed, Screening::Pending, Screening::Failed]
                    [rng.gen_range(0..5)];
            if rng.gen_bool(0.2) {
                a.accreditation.granted.insert(Zone::new("X").unwrap());
            }
            a
        })
        .collect();
    let mut input = Input {
        policy: small_policy(),
        missions,
        venues,
        positions,
        applicants,
        fixed: vec![],
        exclusions: vec![],
        overrides: vec![],
    };
    if blocks {
        // Tight caps, so that the arc limit and the coverage arcs are exercised too.
        input.policy.preference_arcs = rng.gen_range(0..3);
        input.policy.scored_arcs = rng.gen_range(0..3);
        input.policy.coverage_factor = rng.gen_range(0..3);
        let keys: Vec<BucketKey> =
            buckets(&input.missions, &input.venues, &input.positions).unwrap().into_iter().map(|b| b.key).collect();
        for a in &input.applicants {
            if keys.is_empty() {
                break;
            }
            let key = keys[rng.gen_range(0..keys.len())].clone();
            let audit = Audit::new("coord", "test", datetime!(2023-09-01 00:00 UTC)).unwrap();
            match rng.gen_range(0..8) {
                0 => input.exclusions.push(Exclusion { applicant: a.id, scope: ExclusionScope::Bucket(key) }),
                1 => input.exclusions.push(Exclusion { applicant: a.id, scope: ExclusionScope::All }),
                2 => input.overrides.push(Override { applicant: a.id, action: OverrideAction::Forbid(key), audit }),
                3 => {
                    input.overrides.push(Override { applicant: a.id, action: OverrideAction::ForceAssign(key), audit })
                }
                _ => {}
            }
        }
    }
    input
}

/// The hard constraints, restated from the module documentation.
fn allowed(input: &Input, a: &Applicant, b: &Bucket) -> bool {
    let p = &input.policy;
    let m = input.missions.iter().find(|m| m.code == b.key.mission).unwrap();
    let covered = b.days.iter().filter(|(d, _)| a.availability.contains(*d)).count() as u32;
    let excluded = input.exclusions.iter().any(|e| {
        e.applicant == a.id && (e.scope == ExclusionScope::All || e.scope == ExclusionScope::Bucket(b.key.clone()))
    });
    let forbidden = input.overrides.iter().any(|o| {
        o.applicant == a.id
            && (o.action == OverrideAction::ForbidAll || o.action == OverrideAction::Forbid(b.key.clone()))
    });
    p.eligibility.check(a).is_empty()
        && (a.screening == Screening::Passed || (p.allow_pending_screening && a.screening == Screening::Pending))
        && m.required_skills.is_subset(&a.skills)
        && m.required_languages.iter().all(|l| a.speaks(l))
        && m.zones.iter().all(|z| a.accreditation.granted.contains(z) || p.requestable_zones.contains(z))
        && covered >= p.min_days_covered.min(b.days.len() as u32)
        && !excluded
        && !forbidden
}

/// The score, restated from [`Weights`]' documentation.
fn expected_score(input: &Input, a: &Applicant, key: &BucketKey) -> ScoreTerms {
    let w = &input.policy.weights;
    let m = input.missions.iter().find(|m| m.code == key.mission).unwrap();
    let v = input.venues.iter().find(|v| v.id == key.venue).unwrap();
    let rank = |list: &[_], x| list.iter().position(|y| y == x).map(|r| r as u32);
    let mission_rank = rank(&a.preferred_missions, &m.code);
    let venue_rank = a.preferred_venues.iter().position(|y| *y == v.id).map(|r| r as u32);
    ScoreTerms {
        mission_preference: mission_rank.map_or(0, |r| w.mission_first.saturating_sub(w.mission_step * r)),
        venue_preference: venue_rank.map_or(0, |r| w.venue_first.saturating_sub(w.venue_step * r)),
        preferred_skills: w.preferred_skill
            * (m.preferred_skills.intersection(&a.skills).count() as u32).min(w.preferred_skill_cap),
        preferred_languages: w.preferred_language
            * (m.preferred_languages.iter().filter(|l| a.speaks(l)).count() as u32).min(w.preferred_language_cap),
        experience: if a.experience.contains(&m.code) { w.experience } else { 0 },
        location: if a.home_region == v.region {
            w.same_region
        } else if a.needs_lodging && v.lodging {
            w.lodging
        } else {
            0
        },
    }
}

/// The best (proposals, total score) by enumeration over every allowed pair.
fn brute_force(input: &Input) -> (u32, u32) {
    let bs = buckets(&input.missions, &input.venues, &input.positions).unwrap();
    let options: Vec<Vec<(usize, u32)>> = input
        .applicants
        .iter()
        .map(|a| {
            bs.iter()
                .enumerate()
                .filter(|(_, b)| allowed(input, a, b))
                .map(|(i, b)| (i, expected_score(input, a, &b.key).total()))
                .collect()
        })
        .collect();
    fn go(options: &[Vec<(usize, u32)>], cap: &mut [u32], i: usize) -> (u32, u32) {
        if i == options.len() {
            return (0, 0);
        }
        let mut best = go(options, cap, i + 1);
        for &(b, s) in &options[i] {
            if cap[b] > 0 {
                cap[b] -= 1;
                let (n, t) = go(options, cap, i + 1);
                cap[b] += 1;
                best = best.max((n + 1, t + s));
            }
        }
        best
    }
    go(&options, &mut bs.iter().map(Bucket::capacity).collect::<Vec<_>>(), 0)
}

/// Checks every invariant of an output against the input; returns a description of the first
/// broken one.
fn invariants(input: &Input, out: &Output) -> Result<(), String> {
    let bs = buckets(&input.missions, &input.venues, &input.positions).unwrap();
    let by_id: BTreeMap<ApplicantId, &Applicant> = input.applicants.iter().map(|a| (a.id, a)).collect();
    let fixed: BTreeSet<ApplicantId> = input.fixed.iter().map(|f| f.applicant).collect();
    let mut used: Vec<u32> =
        bs.iter().map(|b| input.fixed.iter().filter(|f| f.bucket == b.key).count() as u32).collect();
    let mut seen = BTreeSet::new();
    for p in &out.proposals {
        let b = &bs[p.bucket.0 as usize];
        let a = by_id[&p.applicant];
        if !seen.insert(p.applicant) || fixed.contains(&p.applicant) {
            return Err(format!("{} proposed twice or while fixed", p.applicant));
        }
        if !allowed(input, a, b) {
            return Err(format!("{} proposed for {} against a hard constraint", p.applicant, b.key));
        }
        if p.score != expected_score(input, a, &b.key) {
            return Err(format!("{} score terms do not match the documented score", p.applicant));
        }
        used[p.bucket.0 as usize] += 1;
        for nc in &p.not_chosen {
            let other = &bs[nc.bucket.0 as usize];
            let ok = match &nc.reason {
                NotChosenReason::Ruled(_) => !allowed(input, a, other) || held_by_others(input, out, other),
                NotChosenReason::FilledByHigherTotalScore { .. } => {
                    out.buckets[nc.bucket.0 as usize].proposed + out.buckets[nc.bucket.0 as usize].fixed
                        == other.capacity()
                }
                NotChosenReason::ChosenScoresAtLeastAsMuch { score } => *score <= p.score.total(),
                NotChosenReason::BeyondArcLimit { .. } => true,
            };
            if !ok || nc.bucket == p.bucket {
                return Err(format!("{}: explanation {:?} does not hold", p.applicant, nc));
            }
        }
    }
    for (b, u) in bs.iter().zip(&used) {
        if *u > b.capacity() {
            return Err(format!("{} over capacity", b.key));
        }
    }
    let mut accounted: BTreeSet<ApplicantId> = out.unmatched.iter().map(|u| u.applicant).collect();
    accounted.extend(seen);
    accounted.extend(fixed.iter().filter(|f| by_id.contains_key(f)));
    if accounted.len() != input.applicants.len() {
        return Err("an applicant is neither proposed, unmatched nor fixed".into());
    }
    Ok(())
}

/// Whether fixed and forced volunteers take every position of `b`.
fn held_by_others(input: &Input, out: &Output, b: &Bucket) -> bool {
    let fixed = input.fixed.iter().filter(|f| f.bucket == b.key).count();
    let forced = out
        .proposals
        .iter()
        .filter(|p| matches!(p.origin, Origin::Forced(_)) && out.buckets[p.bucket.0 as usize].key == b.key)
        .count();
    (fixed + forced) as u32 >= b.capacity()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn hard_constraints_capacity_and_explanations_hold(seed in any::<u64>()) {
        let input = random_input(seed, 12, true);
        let out = run(&input).unwrap();
        prop_assert_eq!(invariants(&input, &out), Ok(()));
        for (o, outcome) in input.overrides.iter().zip(&out.overrides) {
            if let (OverrideAction::ForceAssign(_), OverrideOutcome::Applied) = (&o.action, outcome) {
                prop_assert!(out.proposals.iter().any(|p| p.applicant == o.applicant && matches!(p.origin, Origin::Forced(_))));
            }
        }
    }

    #[test]
    fn optimal_against_brute_force(seed in any::<u64>()) {
        let input = random_input(seed, 6, false);
        let out = run(&input).unwrap();
        let total: u32 = out.proposals.iter().map(|p| p.score.total()).sum();
        prop_assert_eq!((out.proposals.len() as u32, total), brute_force(&input));
    }

    #[test]
    fn same_input_same_output_whatever_the_order(seed in any::<u64>()) {
        let input = random_input(seed, 12, true);
        let out = run(&input).unwrap();
        prop_assert_eq!(&out, &run(&input).unwrap());
        let mut shuffled = input.clone();
        shuffled.applicants.reverse();
        shuffled.missions.reverse();
        shuffled.venues.reverse();
        shuffled.positions.reverse();
        prop_assert_eq!(&out, &run(&shuffled).unwrap());
    }
}

#[test]
fn the_brute_force_and_the_checker_can_fail() {
    let mut input = random_input(0, 0, false);
    input.missions = vec![mission("M0")];
    input.venues = vec![venue("V0")];
    input.positions = vec![position("M0", "V0", FIRST_DAY, 1), position("M0", "V0", FIRST_DAY + Duration::days(1), 1)];
    input.applicants = vec![applicant(1), applicant(2)];
    input.applicants[1].preferred_missions = vec![MissionCode::new("M0").unwrap()];
    assert_eq!(brute_force(&input), (1, 52), "the preferring applicant, 40 + 12 for the region");
    let mut out = run(&input).unwrap();
    assert_eq!(invariants(&input, &out), Ok(()));
    assert_eq!(out.proposals[0].applicant, ApplicantId(2));
    out.proposals[0].applicant = ApplicantId(1);
    assert!(invariants(&input, &out).is_err(), "a wrong score must be caught");
    input.applicants[0].skills.clear();
    input.missions[0].required_skills.insert(skill("s1"));
    assert!(!allowed(
        &input,
        &input.applicants[0],
        &buckets(&input.missions, &input.venues, &input.positions).unwrap()[0]
    ));
}

/// Two missions at one venue, four days each; applicants 1..=n available throughout.
fn two_missions(n: u32) -> Input {
    let mut input = random_input(0, 0, false);
    input.missions = vec![mission("DRIVE"), mission("HOST")];
    input.missions[0].required_skills.insert(skill("driving"));
    input.venues = vec![venue("V0")];
    input.positions = (0..4)
        .flat_map(|d| {
            let day = FIRST_DAY + Duration::days(d);
            [position("DRIVE", "V0", day, 1), position("HOST", "V0", day, 2)]
        })
        .collect();
    input.applicants = (1..=n).map(applicant).collect();
    input
}

#[test]
fn a_missing_skill_rules_a_preferred_mission_out_and_says_so() {
    let mut input = two_missions(1);
    input.applicants[0].preferred_missions =
        vec![MissionCode::new("DRIVE").unwrap(), MissionCode::new("HOST").unwrap()];
    let out = run(&input).unwrap();
    let p = &out.proposals[0];
    assert_eq!(out.buckets[p.bucket.0 as usize].key.mission.as_str(), "HOST");
    assert_eq!(p.score.mission_preference, 34, "second choice: 40 - 6");
    assert_eq!(
        p.not_chosen,
        vec![NotChosen {
            bucket: BucketId(0),
            reason: NotChosenReason::Ruled(vec![HardConstraint::MissingSkill(skill("driving"))])
        }]
    );
}

#[test]
fn a_bucket_nobody_can_serve_is_reported_with_the_reason() {
    let out = run(&two_missions(3)).unwrap();
    assert_eq!(out.proposals.len(), 2);
    let drive = &out.unfilled[0];
    assert_eq!((drive.bucket, drive.open, drive.candidates), (BucketId(0), 1, 0));
    assert_eq!(drive.ruled_out, BTreeMap::from([(Some(ConstraintKind::MissingSkill), 3)]));
    assert!(matches!(out.unmatched[0].reason, UnmatchedReason::Outscored { considered: 1 }));
}

#[test]
fn a_full_bucket_is_explained_as_filled_by_a_higher_total() {
    let mut input = two_missions(3);
    let host = MissionCode::new("HOST").unwrap();
    for a in &mut input.applicants {
        a.preferred_missions = vec![host.clone()];
    }
    input.applicants[0].experience.insert(host.clone());
    input.applicants[1].experience.insert(host);
    let out = run(&input).unwrap();
    let ids: Vec<u32> = out.proposals.iter().map(|p| p.applicant.0).collect();
    assert_eq!(ids, [1, 2], "experience wins the two seats");
    assert_eq!(
        out.unmatched[0].not_chosen,
        vec![NotChosen { bucket: BucketId(1), reason: NotChosenReason::FilledByHigherTotalScore { score: 52 } }]
    );
}

#[test]
fn coverage_arcs_fill_a_bucket_the_caps_left_empty() {
    let mut input = two_missions(4);
    input.missions[0].required_skills.clear();
    for a in &mut input.applicants {
        a.preferred_missions = vec![MissionCode::new("HOST").unwrap()];
    }
    input.policy.preference_arcs = 1;
    input.policy.scored_arcs = 0;
    let out = run(&input).unwrap();
    assert_eq!(out.unfilled[0].bucket, BucketId(0));
    assert_eq!(out.unfilled[0].ruled_out, BTreeMap::from([(None, 4)]), "feasible for all, beyond the cap");
    input.policy.coverage_factor = 1;
    let out = run(&input).unwrap();
    assert!(out.unfilled.is_empty(), "{:?}", out.unfilled);
    assert_eq!(out.proposals.len(), 3);
    assert_eq!(invariants(&input, &out), Ok(()));
}

#[test]
fn overrides_are_applied_or_refused_with_the_constraint() {
    let mut input = two_missions(3);
    let at = datetime!(2023-09-01 00:00 UTC);
    let key = |m: &str| BucketKey { mission: MissionCode::new(m).unwrap(), venue: VenueId::new("V0").unwrap() };
    input.applicants[2].skills.insert(skill("driving"));
    input.overrides = vec![
        Override {
            applicant: ApplicantId(1),
            action: OverrideAction::ForceAssign(key("DRIVE")),
            audit: Audit::new("c", "needs a driver", at).unwrap(),
        },
        Override {
            applicant: ApplicantId(3),
            action: OverrideAction::ForceAssign(key("DRIVE")),
            audit: Audit::new("c", "has a licence", at).unwrap(),
        },
        Override {
            applicant: ApplicantId(2),
            action: OverrideAction::ForbidAll,
            audit: Audit::new("c", "conduct", at).unwrap(),
        },
        Override {
            applicant: ApplicantId(9),
            action: OverrideAction::ForceAssign(key("NOPE")),
            audit: Audit::new("c", "typo", at).unwrap(),
        },
    ];
    let out = run(&input).unwrap();
    assert_eq!(
        out.overrides,
        vec![
            OverrideOutcome::Refused(vec![HardConstraint::MissingSkill(skill("driving"))]),
            OverrideOutcome::Applied,
            OverrideOutcome::Applied,
            OverrideOutcome::Refused(vec![HardConstraint::UnknownApplicant, HardConstraint::UnknownBucket]),
        ]
    );
    let placed: Vec<(u32, Origin)> = out.proposals.iter().map(|p| (p.applicant.0, p.origin.clone())).collect();
    assert_eq!(placed, vec![(1, Origin::Matched), (3, Origin::Forced(1))]);
    assert_eq!(out.unmatched[0].reason, UnmatchedReason::Ruled(vec![HardConstraint::Forbidden]));
    assert_eq!(invariants(&input, &out), Ok(()));
}

#[test]
fn a_refusal_is_refilled_without_moving_accepted_volunteers() {
    let mut input = random_input(11, 0, false);
    input.missions = vec![mission("HOST")];
    input.venues = vec![venue("V0"), venue("V1")];
    input.positions = ["V0", "V1"].iter().map(|v| position("HOST", v, FIRST_DAY, 2)).collect();
    input.applicants = (1..=8).map(applicant).collect();
    for a in &mut input.applicants {
        a.preferred_venues = vec![VenueId::new(if a.id.0 % 2 == 0 { "V0" } else { "V1" }).unwrap()];
    }
    let first = run(&input).unwrap();
    assert_eq!(first.proposals.len(), 4);
    let at = datetime!(2023-09-01 10:00 UTC);
    let mut offers: Vec<Offer> = first
        .proposals
        .iter()
        .map(|p| {
            Offer::new(p.applicant, first.buckets[p.bucket.0 as usize].key.clone(), at, at + Duration::days(14))
                .unwrap()
        })
        .collect();
    offers[0].refuse(at + Duration::days(1)).unwrap();
    for o in &mut offers[1..3] {
        o.accept(at + Duration::days(2)).unwrap();
    }
    // offers[3] is never answered and expires.
    let now = at + Duration::days(20);
    let c = next_run(&offers, now, RefusalScope::All);
    input.fixed = c.fixed;
    input.exclusions = c.exclusions;
    let second = run(&input).unwrap();
    assert_eq!(invariants(&input, &second), Ok(()));
    assert_eq!(second.proposals.len(), 2, "both freed positions are filled again");
    let refused: BTreeSet<ApplicantId> = [offers[0].applicant, offers[3].applicant].into();
    let accepted: BTreeSet<ApplicantId> = [offers[1].applicant, offers[2].applicant].into();
    for p in &second.proposals {
        assert!(!refused.contains(&p.applicant) && !accepted.contains(&p.applicant));
    }
    for b in &second.buckets {
        let held = offers[1..3].iter().filter(|o| o.bucket == b.key).count() as u32;
        assert_eq!(b.fixed, held, "accepted volunteers stay where they are");
        assert_eq!(b.fixed + b.proposed, 2, "{} full again", b.key);
    }
}

#[test]
fn fairness_counts_every_applicant_once_per_dimension() {
    let mut input = Input { applicants: (1..=4).map(applicant).collect(), ..two_missions(0) };
    input.applicants[0].country = Country::new("DE").unwrap();
    input.applicants[1].disability = true;
    input.applicants[2].gender = Gender::Woman;
    let out = run(&input).unwrap();
    for dim in
        [&out.fairness.by_country, &out.fairness.by_gender, &out.fairness.by_age_band, &out.fairness.by_disability]
    {
        assert_eq!(dim.iter().map(|g| g.applicants).sum::<u32>(), 4);
        assert_eq!(dim.iter().map(|g| g.proposed).sum::<u32>(), out.proposals.len() as u32);
    }
    let labels: Vec<&str> = out.fairness.by_country.iter().map(|g| g.group.as_str()).collect();
    assert_eq!(labels, ["DE", "FR"]);
}

#[test]
fn bad_input_is_refused_by_name() {
    let mut input = two_missions(2);
    input.applicants[1].id = ApplicantId(1);
    assert_eq!(run(&input), Err(InputError::DuplicateApplicant(ApplicantId(1))));
    let mut input = two_missions(2);
    let key = BucketKey { mission: MissionCode::new("DRIVE").unwrap(), venue: VenueId::new("V0").unwrap() };
    input.fixed = vec![
        Fixed { applicant: ApplicantId(1), bucket: key.clone(), accepted: true },
        Fixed { applicant: ApplicantId(2), bucket: key.clone(), accepted: true },
    ];
    assert_eq!(run(&input), Err(InputError::FixedOverCapacity(key)));
}

#[test]
fn a_generated_programme_keeps_every_invariant() {
    let input = crate::generate(9, 3_000, 400);
    let out = run(&input).unwrap();
    assert_eq!(invariants(&input, &out), Ok(()));
    assert!(out.proposals.len() > 300, "{} proposals", out.proposals.len());
    let explained = out.proposals.iter().filter(|p| !p.not_chosen.is_empty()).count();
    assert!(explained * 2 > out.proposals.len(), "only {explained} proposals explain other preferences");
    assert!(out.unmatched.iter().all(|u| u.reason != UnmatchedReason::NoFeasibleBucket
        || u.not_chosen.iter().all(|n| matches!(n.reason, NotChosenReason::Ruled(_)))));
}
