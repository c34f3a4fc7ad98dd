//! A deterministic synthetic programme for tests and benchmarks, shaped on Paris 2024.
//!
//! 75 mission types (60 % hosting, the rest needing a skill, a language at C1 or a restricted
//! zone; one in three Paralympic) at 60 venues (45 in Île-de-France); positions spread over
//! (mission, venue) buckets with more for hosting. Applicants: a third under 25, 55 % women,
//! 80 % living in France, about 1.5 % declaring a disability, French and English at realistic
//! levels, a tenth of skills each, availability as one or two blocks of days, three ranked
//! missions with skewed popularity, a few venues near home, 92 % screened. The same seed gives
//! the same input on any machine (ChaCha8).

use std::collections::{BTreeMap, BTreeSet};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use time::{Date, Duration, Month};

use crate::applicant::{Accreditation, Applicant, ApplicantId, Availability, Country, Gender};
use crate::applicant::{EligibilityRules, Language, LanguageRequirement, Level, Region, Screening, Skill, Zone};
use crate::matching::{Input, Policy, Weights};
use crate::mission::{Mission, MissionCode, Period, Position, Venue, VenueId};

const MISSIONS: usize = 75;
const VENUES: usize = 60;
const IDF_VENUES: usize = 45;
const REGIONS: [&str; 7] = ["IDF", "MAR", "LYO", "LIL", "BOR", "NAN", "NIC"];
const SPORTS: usize = 10;
const FOREIGN: [&str; 12] = ["GB", "DE", "ES", "IT", "US", "BE", "CH", "NL", "PT", "CA", "JP", "BR"];
const OTHER_LANGUAGES: [&str; 8] = ["es", "de", "it", "pt", "ar", "zh", "ja", "ru"];

fn day(y: i32, m: Month, d: u8) -> Date {
    Date::from_calendar_date(y, m, d).unwrap_or(Date::MIN)
}

/// The Olympic and Paralympic spans of the synthetic programme, inclusive.
pub fn periods() -> [(Date, Date); 2] {
    [
        (day(2024, Month::July, 18), day(2024, Month::August, 11)),
        (day(2024, Month::August, 22), day(2024, Month::September, 8)),
    ]
}

fn code(s: &str) -> MissionCode {
    MissionCode::new(s).unwrap_or_else(|_| unreachable!("generated codes are valid"))
}
fn lang(s: &str) -> Language {
    Language::new(s).unwrap_or_else(|_| unreachable!("generated codes are valid"))
}
fn skill(s: &str) -> Skill {
    Skill::new(s).unwrap_or_else(|_| unreachable!("generated labels are valid"))
}
fn zone(s: &str) -> Zone {
    Zone::new(s).unwrap_or_else(|_| unreachable!("generated labels are valid"))
}
fn region(s: &str) -> Region {
    Region::new(s).unwrap_or_else(|_| unreachable!("generated labels are valid"))
}
fn venue_id(v: usize) -> VenueId {
    VenueId::new(&format!("V{v:02}")).unwrap_or_else(|_| unreachable!("generated ids are valid"))
}

/// The policy the synthetic programme uses: Paris 2024's entry rules, ten days per bucket,
/// zones 1–3 requestable, 8 + 8 arcs per applicant, coverage up to 3 candidates per open
/// position, default weights.
pub fn policy() -> Policy {
    let [olympic, paralympic] = periods();
    Policy {
        eligibility: EligibilityRules {
            min_age: 18,
            age_on: day(2024, Month::January, 1),
            languages: vec![
                LanguageRequirement { language: lang("fr"), min_level: Level::B1 },
                LanguageRequirement { language: lang("en"), min_level: Level::B1 },
            ],
            min_consecutive_days: 10,
            period: (olympic.0, paralympic.1),
        },
        min_days_covered: 10,
        allow_pending_screening: false,
        requestable_zones: ["1", "2", "3"].into_iter().map(zone).collect(),
        preference_arcs: 8,
        scored_arcs: 8,
        coverage_factor: 3,
        weights: Weights::default(),
        explain_limit: 3,
    }
}

fn missions() -> Vec<Mission> {
    (0..MISSIONS)
        .map(|i| {
            let mut m = Mission {
                code: code(&format!("M{i:02}")),
                name: String::new(),
                required_skills: BTreeSet::new(),
                preferred_skills: BTreeSet::new(),
                required_languages: vec![],
                preferred_languages: vec![],
                zones: BTreeSet::from([zone("1")]),
                period: if i % 3 == 2 { Period::Paralympic } else { Period::Olympic },
            };
            let other = OTHER_LANGUAGES[i % OTHER_LANGUAGES.len()];
            match i {
                0..45 => {
                    m.name = format!("hosting {i}");
                    m.preferred_skills.insert(skill("customer-service"));
                    m.preferred_languages = vec![
                        LanguageRequirement { language: lang("en"), min_level: Level::B2 },
                        LanguageRequirement { language: lang(other), min_level: Level::B1 },
                    ];
                }
                45..55 => {
                    m.name = format!("sport {}", i - 45);
                    m.required_skills.insert(skill(&format!("sport-{}", i - 45)));
                    m.zones.insert(zone("3"));
                }
                55..62 => {
                    m.name = format!("medical {i}");
                    m.required_skills.insert(skill("first-aid"));
                    m.zones.insert(zone("2"));
                }
                62..67 => {
                    m.name = format!("language services {other}");
                    m.required_languages = vec![LanguageRequirement { language: lang(other), min_level: Level::C1 }];
                }
                67..71 => {
                    m.name = format!("driving {i}");
                    m.required_skills.insert(skill("driving-licence"));
                }
                _ => {
                    m.name = format!("technology {i}");
                    m.required_skills.insert(skill("it-support"));
                    m.zones.insert(zone("TOC"));
                }
            }
            m
        })
        .collect()
}

fn venues() -> Vec<Venue> {
    (0..VENUES)
        .map(|v| {
            let r = if v < IDF_VENUES { 0 } else { 1 + (v - IDF_VENUES) % (REGIONS.len() - 1) };
            Venue {
                id: venue_id(v),
                name: format!("venue {v}"),
                region: region(REGIONS[r]),
                lodging: r != 0 || v % 5 == 0,
            }
        })
        .collect()
}

/// A synthetic programme with `applicants` applications and about `positions` positions
/// (exactly that many when there are at least as many positions as buckets).
pub fn generate(seed: u64, applicants: u32, positions: u32) -> Input {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let missions = missions();
    let venues = venues();
    let [olympic, paralympic] = periods();

    // Buckets and their weight in the share of positions.
    let mut buckets: Vec<(usize, usize, f64)> = Vec::new();
    for m in 0..MISSIONS {
        let (p, w) = if m < 45 { (1.0, 3.0) } else { (0.8, 1.0) };
        for v in 0..VENUES {
            if rng.gen_bool(p) {
                buckets.push((m, v, w * rng.gen_range(0.5..1.5)));
            }
        }
    }
    let total: f64 = buckets.iter().map(|b| b.2).sum();
    let shares: Vec<f64> = buckets.iter().map(|b| b.2 / total * f64::from(positions)).collect();
    let mut counts: Vec<u32> = shares.iter().map(|s| s.floor() as u32).collect();
    let mut order: Vec<usize> = (0..buckets.len()).collect();
    order.sort_by(|&a, &b| (shares[b] - shares[b].floor()).total_cmp(&(shares[a] - shares[a].floor())).then(a.cmp(&b)));
    let short = positions.saturating_sub(counts.iter().sum());
    for &i in order.iter().take(short as usize) {
        counts[i] += 1;
    }
    let mut pos = Vec::new();
    for (&(m, v, _), &count) in buckets.iter().zip(&counts) {
        if count == 0 {
            continue;
        }
        let (first, last) = if missions[m].period == Period::Olympic { olympic } else { paralympic };
        let span = (last - first).whole_days() as i32 + 1;
        let len = rng.gen_range(span * 3 / 5..=span);
        let start = first + Duration::days(i64::from(rng.gen_range(0..=span - len)));
        for d in 0..len {
            let edge = d == 0 || d == len - 1;
            pos.push(Position {
                mission: missions[m].code.clone(),
                venue: venues[v].id.clone(),
                day: start + Duration::days(i64::from(d)),
                count: if edge { count.div_ceil(2) } else { count },
            });
        }
    }

    let people = (0..applicants).map(|i| applicant(&mut rng, i, &venues)).collect();
    Input {
        policy: policy(),
        missions,
        venues,
        positions: pos,
        applicants: people,
        fixed: vec![],
        exclusions: vec![],
        overrides: vec![],
    }
}

/// A skewed pick in `0..n`: low indices are much more likely (a rough Zipf).
fn skewed(rng: &mut ChaCha8Rng, n: usize) -> usize {
    let x: f64 = rng.gen();
    ((x * x * x) * n as f64) as usize % n
}

fn level(rng: &mut ChaCha8Rng, weights: [u32; 6]) -> Level {
    let levels = [Level::A1, Level::A2, Level::B1, Level::B2, Level::C1, Level::C2];
    let mut x = rng.gen_range(0..weights.iter().sum::<u32>());
    for (l, w) in levels.into_iter().zip(weights) {
        if x < w {
            return l;
        }
        x -= w;
    }
    Level::C2
}

fn applicant(rng: &mut ChaCha8Rng, i: u32, venues: &[Venue]) -> Applicant {
    let [olympic, paralympic] = periods();
    let age = match rng.gen_range(0..100) {
        0..2 => rng.gen_range(15..18),
        2..35 => rng.gen_range(18..25),
        35..65 => rng.gen_range(25..40),
        65..90 => rng.gen_range(40..60),
        _ => rng.gen_range(60..76),
    };
    let birth_date = day(2024 - age, Month::January, 1) - Duration::days(rng.gen_range(1..365));
    let french = rng.gen_bool(0.8);
    let country = if french { "FR" } else { FOREIGN[skewed(rng, FOREIGN.len())] };
    let home = if !french {
        "ABROAD"
    } else if rng.gen_bool(0.6) {
        "IDF"
    } else {
        REGIONS[rng.gen_range(1..REGIONS.len())]
    };
    let gender = match rng.gen_range(0..100) {
        0..55 => Gender::Woman,
        55..98 => Gender::Man,
        98 => Gender::Other,
        _ => Gender::NotSaid,
    };
    let mut languages = BTreeMap::new();
    if french {
        languages.insert(lang("fr"), Level::C2);
        languages.insert(lang("en"), level(rng, [15, 20, 30, 20, 10, 5]));
    } else {
        languages.insert(lang("en"), level(rng, [0, 5, 15, 40, 25, 15]));
        if rng.gen_bool(0.5) {
            languages.insert(lang("fr"), level(rng, [20, 30, 30, 15, 5, 0]));
        }
    }
    if rng.gen_bool(0.3) {
        let other = OTHER_LANGUAGES[skewed(rng, OTHER_LANGUAGES.len())];
        languages.entry(lang(other)).or_insert_with(|| level(rng, [0, 0, 30, 30, 25, 15]));
    }
    let mut skills = BTreeSet::new();
    for (name, p) in [("customer-service", 0.4), ("first-aid", 0.12), ("driving-licence", 0.35), ("it-support", 0.05)] {
        if rng.gen_bool(p) {
            skills.insert(skill(name));
        }
    }
    if rng.gen_bool(0.2) {
        skills.insert(skill(&format!("sport-{}", rng.gen_range(0..SPORTS))));
    }
    let mut days = Vec::new();
    let block = |rng: &mut ChaCha8Rng, (first, last): (Date, Date), min: i64, days: &mut Vec<Date>| {
        let span = (last - first).whole_days() + 1;
        let len = rng.gen_range(min..=span);
        let start = first + Duration::days(rng.gen_range(0..=span - len));
        days.extend((0..len).map(|d| start + Duration::days(d)));
    };
    if rng.gen_bool(0.85) {
        block(rng, olympic, 7, &mut days);
    }
    if days.is_empty() || rng.gen_bool(0.45) {
        block(rng, paralympic, 7, &mut days);
    }
    if rng.gen_bool(0.2) {
        let k = rng.gen_range(0..days.len());
        days.remove(k);
    }
    // Popular missions first: most applicants want hosting; some want what their skills allow.
    let mut preferred_missions: Vec<MissionCode> = Vec::new();
    while preferred_missions.len() < 3 {
        let m = if rng.gen_bool(0.25) { 45 + skewed(rng, MISSIONS - 45) } else { skewed(rng, 45) };
        let c = code(&format!("M{m:02}"));
        if !preferred_missions.contains(&c) {
            preferred_missions.push(c);
        }
    }
    let near: Vec<usize> = (0..venues.len()).filter(|&v| venues[v].region.as_str() == home).collect();
    let mut preferred_venues = Vec::new();
    if rng.gen_bool(0.7) {
        for _ in 0..rng.gen_range(1..=3) {
            let v =
                if !near.is_empty() && rng.gen_bool(0.8) { near[skewed(rng, near.len())] } else { skewed(rng, VENUES) };
            if !preferred_venues.contains(&venue_id(v)) {
                preferred_venues.push(venue_id(v));
            }
        }
    }
    let mut experience = BTreeSet::new();
    if rng.gen_bool(0.15) {
        experience.insert(code(&format!("M{:02}", skewed(rng, MISSIONS))));
    }
    let screening = match rng.gen_range(0..100) {
        0..92 => Screening::Passed,
        92..97 => Screening::Pending,
        _ => Screening::Failed,
    };
    let mut accreditation = Accreditation::default();
    if rng.gen_bool(0.03) {
        accreditation.granted.insert(zone("TOC"));
    }
    if rng.gen_bool(0.05) {
        accreditation.requested.insert(zone("3"));
    }
    Applicant {
        id: ApplicantId(i),
        birth_date,
        country: Country::new(country).unwrap_or_else(|_| unreachable!("listed codes are valid")),
        home_region: region(home),
        gender,
        disability: rng.gen_bool(0.015),
        languages,
        skills,
        availability: Availability::new(days),
        preferred_missions,
        preferred_venues,
        needs_lodging: if home == "IDF" { rng.gen_bool(0.02) } else { rng.gen_bool(0.6) },
        experience,
        screening,
        accreditation,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mission::buckets;

    #[test]
    fn same_seed_same_programme_and_the_sizes_asked() {
        let a = generate(7, 500, 300);
        assert_eq!(a, generate(7, 500, 300));
        assert_ne!(a.applicants, generate(8, 500, 300).applicants);
        assert_eq!(a.applicants.len(), 500);
        let bs = buckets(&a.missions, &a.venues, &a.positions).unwrap();
        assert_eq!(bs.iter().map(|b| b.capacity()).sum::<u32>(), 300);
        let big = generate(1, 10, 45_000);
        let bs = buckets(&big.missions, &big.venues, &big.positions).unwrap();
        assert_eq!(bs.iter().map(|b| b.capacity()).sum::<u32>(), 45_000);
        assert!((3_500..=4_700).contains(&bs.len()), "{} buckets", bs.len());
    }

    #[test]
    fn applications_are_sound_and_mostly_eligible() {
        let input = generate(3, 2_000, 100);
        assert!(input.applicants.iter().all(|a| a.problems().is_empty()));
        let eligible = input.applicants.iter().filter(|a| input.policy.eligibility.check(a).is_empty()).count();
        assert!((1_200..1_950).contains(&eligible), "{eligible} eligible of 2000");
    }
}
