//! `--exact-instances`: the matching against an exact solver (issue #20). The crate's flow is
//! exact over the arcs it keeps (8 preferred and 8 best-scored other buckets per applicant,
//! plus coverage arcs); a MILP over *every* feasible (applicant, bucket) arc, solved by good_lp's
//! pure-Rust microlp, gives the true optimum on instances small enough for it, and the gap
//! between the two is what the caps cost.
//!
//! The constraints and the score are restated from `tessera_volunteers::matching`'s
//! documentation, as in the crate's `tests/exact.rs` (which asserts what this prints): the
//! comparison must not trust the code it measures, and good_lp is only a dev-dependency there.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use anyhow::{anyhow, bail};
use good_lp::{microlp, variable, Expression, ProblemVariables, Solution, SolverModel};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tessera_volunteers::{buckets, generate, Applicant, Bucket, BucketKey, Input, Screening};

/// A small programme from the generator: 30–80 applicants, and the positions of 25–45 random
/// buckets cut to 1–3 volunteers a day: more buckets than the 16 arcs an applicant keeps, so the
/// caps bite, and few enough arcs (a few hundred to ~1,500) for an exact solver.
fn instance(seed: u64) -> Input {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // 45,000 positions spread over all the generator's buckets, so that every bucket has days.
    let mut input = generate(seed, rng.gen_range(30..=80), 45_000);
    let mut keys: Vec<BucketKey> = input
        .positions
        .iter()
        .map(|p| BucketKey { mission: p.mission.clone(), venue: p.venue.clone() })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    keys.shuffle(&mut rng);
    let k = rng.gen_range(25..=45);
    let caps: BTreeMap<BucketKey, u32> = keys.into_iter().take(k).map(|key| (key, rng.gen_range(1..=3))).collect();
    input.positions.retain_mut(|p| {
        let key = BucketKey { mission: p.mission.clone(), venue: p.venue.clone() };
        caps.get(&key).map(|&cap| p.count = p.count.min(cap)).is_some()
    });
    input
}

/// The hard constraints (the generator makes no fixed volunteers, exclusions or overrides).
fn allowed(input: &Input, a: &Applicant, b: &Bucket) -> bool {
    let p = &input.policy;
    let Some(m) = input.missions.iter().find(|m| m.code == b.key.mission) else { return false };
    let covered = b.days.iter().filter(|(d, _)| a.availability.contains(*d)).count() as u32;
    p.eligibility.check(a).is_empty()
        && (a.screening == Screening::Passed || (p.allow_pending_screening && a.screening == Screening::Pending))
        && m.required_skills.is_subset(&a.skills)
        && m.required_languages.iter().all(|l| a.speaks(l))
        && m.zones.iter().all(|z| a.accreditation.granted.contains(z) || p.requestable_zones.contains(z))
        && covered >= p.min_days_covered.min(b.days.len() as u32)
}

/// The score of `a` in bucket `key`.
fn score(input: &Input, a: &Applicant, key: &BucketKey) -> u32 {
    let w = &input.policy.weights;
    let (Some(m), Some(v)) =
        (input.missions.iter().find(|m| m.code == key.mission), input.venues.iter().find(|v| v.id == key.venue))
    else {
        return 0;
    };
    let mission_rank = a.preferred_missions.iter().position(|x| *x == m.code).map(|r| r as u32);
    let venue_rank = a.preferred_venues.iter().position(|x| *x == v.id).map(|r| r as u32);
    let skills = m.preferred_skills.intersection(&a.skills).count() as u32;
    let languages = m.preferred_languages.iter().filter(|l| a.speaks(l)).count() as u32;
    let location = if a.home_region == v.region {
        w.same_region
    } else if a.needs_lodging && v.lodging {
        w.lodging
    } else {
        0
    };
    mission_rank.map_or(0, |r| w.mission_first.saturating_sub(w.mission_step * r))
        + venue_rank.map_or(0, |r| w.venue_first.saturating_sub(w.venue_step * r))
        + w.preferred_skill * skills.min(w.preferred_skill_cap)
        + w.preferred_language * languages.min(w.preferred_language_cap)
        + if a.experience.contains(&m.code) { w.experience } else { 0 }
        + location
}

/// The exact optimum over every feasible arc.
struct Exact {
    filled: u32,
    score: u64,
    arcs: usize,
    /// The most feasible buckets of one applicant (above 16, the crate dropped arcs).
    widest: usize,
    secs: f64,
}

/// The assignment MILP: a binary per feasible arc, at most one bucket per applicant, at most
/// the capacity per bucket; one objective for the crate's lexicographic one (positions filled,
/// then score), a position being worth more (`big`) than any total score.
fn exact(input: &Input) -> anyhow::Result<Exact> {
    let bs = buckets(&input.missions, &input.venues, &input.positions)?;
    let mut arcs: Vec<(usize, usize, u32)> = Vec::new();
    let mut widest = 0;
    for (i, a) in input.applicants.iter().enumerate() {
        let before = arcs.len();
        arcs.extend(
            bs.iter().enumerate().filter(|(_, b)| allowed(input, a, b)).map(|(b, bk)| (i, b, score(input, a, &bk.key))),
        );
        widest = widest.max(arcs.len() - before);
    }
    let started = Instant::now();
    if arcs.is_empty() {
        return Ok(Exact { filled: 0, score: 0, arcs: 0, widest: 0, secs: 0.0 });
    }
    let big = f64::from(input.policy.weights.max_score()) * input.applicants.len() as f64 + 1.0;
    let mut vars = ProblemVariables::new();
    let x: Vec<_> = arcs.iter().map(|_| vars.add(variable().binary())).collect();
    let mut objective = Expression::with_capacity(arcs.len());
    let mut per_applicant = vec![Expression::default(); input.applicants.len()];
    let mut per_bucket = vec![Expression::default(); bs.len()];
    for (&(i, b, s), &v) in arcs.iter().zip(&x) {
        objective.add_mul(big + f64::from(s), v);
        per_applicant[i].add_mul(1.0, v);
        per_bucket[b].add_mul(1.0, v);
    }
    let mut problem = vars.maximise(objective).using(microlp);
    for e in per_applicant {
        problem = problem.with(e.leq(1.0));
    }
    for (e, b) in per_bucket.into_iter().zip(&bs) {
        problem = problem.with(e.leq(f64::from(b.capacity())));
    }
    let solution = problem.solve().map_err(|e| anyhow!("the exact solver failed: {e}"))?;
    let secs = started.elapsed().as_secs_f64();
    let chosen = arcs.iter().zip(&x).filter(|(_, &v)| solution.value(v) > 0.5);
    let (filled, score) = chosen.fold((0, 0), |(n, t), (&(_, _, s), _)| (n + 1, t + u64::from(s)));
    Ok(Exact { filled, score, arcs: arcs.len(), widest, secs })
}

/// Runs the comparison on `n` instances (seeds derived from `seed`) and prints the gap.
pub(crate) fn compare(n: u32, seed: u64) -> anyhow::Result<()> {
    let (mut bitten, mut same_filled, mut exact_score, mut short_filled) = (0, 0, 0, 0u32);
    let (mut gap_sum, mut gap_max, mut arcs) = (0.0f64, 0.0f64, 0usize);
    let (mut solver_sum, mut solver_max, mut matching_sum) = (0.0f64, 0.0f64, 0.0f64);
    for i in 0..n {
        let input = instance(seed.wrapping_mul(1_000_003).wrapping_add(u64::from(i)));
        let started = Instant::now();
        let out = tessera_volunteers::run(&input).map_err(|e| anyhow!("input refused: {e}"))?;
        matching_sum += started.elapsed().as_secs_f64();
        let best = exact(&input)?;
        if out.stats.matched > best.filled || (out.stats.matched == best.filled && out.stats.total_score > best.score) {
            bail!("instance {i}: the matching beats the exact optimum, so the restated model is wrong");
        }
        if best.widest > input.policy.preference_arcs + input.policy.scored_arcs {
            bitten += 1;
        }
        if out.stats.matched == best.filled {
            same_filled += 1;
        }
        short_filled = short_filled.max(best.filled - out.stats.matched);
        if out.stats.total_score == best.score {
            exact_score += 1;
        }
        let gap = if best.score == 0 { 0.0 } else { 1.0 - out.stats.total_score as f64 / best.score as f64 };
        gap_sum += gap;
        gap_max = gap_max.max(gap);
        arcs += best.arcs;
        solver_sum += best.secs;
        solver_max = solver_max.max(best.secs);
    }
    let mean = |x: f64| if n == 0 { 0.0 } else { x / f64::from(n) };
    println!(
        "exact (good_lp + microlp MILP over every feasible arc): {n} instances of 30-80 applicants and 25-45 \
         buckets of 1-3 positions, {bitten} with an applicant beyond the 8 + 8 arcs kept, {:.0} arcs on average",
        mean(arcs as f64)
    );
    println!(
        "exact: positions filled equal to the optimum on {same_filled} of {n} (largest shortfall {short_filled}); \
         score gap mean {:.3} %, max {:.3} % (no gap on {exact_score} of {n})",
        100.0 * mean(gap_sum),
        100.0 * gap_max
    );
    println!(
        "exact: solver {:.1} ms mean, {:.1} ms max; the matching {:.1} ms mean",
        1e3 * mean(solver_sum),
        1e3 * solver_max,
        1e3 * mean(matching_sum)
    );
    Ok(())
}
