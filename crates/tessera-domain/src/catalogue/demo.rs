//! A deterministic demo catalogue at Paris 2024 scale: 41 real venues, about 750 sessions from
//! 24 July to 11 August 2024 and about 10 million seats, so that load tests, the lottery and the
//! UI meet realistic volumes without a real catalogue file.
//!
//! Venues are fixed; the seed moves session times, category counts, prices and quotas. Only
//! integer arithmetic follows the random draws, so a seed gives the same catalogue on every
//! platform. [`generate`] keeps the real dates; [`generate_from`] moves the same programme to
//! start on a given day (the demo starts it the day after it is set up, so that its sessions
//! are still to come), keeping every session's Paris wall-clock time across summer and winter.

use super::{Catalogue, PriceCategory, Session, Venue};
use crate::{Cents, Code, Timestamp};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;

/// 2024-07-24T00:00:00+02:00, the first day of competition (football and rugby start before
/// the opening ceremony).
const DAY0: i64 = 1_721_772_000;
/// Last day index: 2024-08-11, the closing ceremony.
const LAST_DAY: i64 = 18;
/// Time a venue needs between two sessions to empty and fill again.
const CHANGEOVER_SECS: i64 = 30 * 60;
/// Paris 2024's cheapest ticket; also the floor of every category here.
const MIN_PRICE_EUR: i64 = 24;
const MAX_PRICE_EUR: i64 = 980;

#[rustfmt::skip]
const VENUES: &[(&str, &str, &str, i64)] = &[
    ("STF",  "Stade de France", "Saint-Denis", 69_000),
    ("TRO",  "Trocadéro", "Paris", 104_000),
    ("LDA",  "Paris La Défense Arena", "Nanterre", 15_000),
    ("AQC",  "Aquatics Centre", "Saint-Denis", 5_000),
    ("RGS",  "Roland-Garros Stadium – Court Philippe-Chatrier", "Paris", 15_000),
    ("RGL",  "Roland-Garros Stadium – Court Suzanne-Lenglen", "Paris", 10_000),
    ("RGM",  "Roland-Garros Stadium – Court Simonne-Mathieu", "Paris", 5_000),
    ("BCY",  "Bercy Arena", "Paris", 13_000),
    ("CDM",  "Champ de Mars Arena", "Paris", 9_000),
    ("GPL",  "Grand Palais", "Paris", 8_000),
    ("ETS",  "Eiffel Tower Stadium", "Paris", 12_860),
    ("INV",  "Invalides", "Paris", 8_000),
    ("PA3",  "Pont Alexandre III", "Paris", 1_500),
    ("CON1", "La Concorde 1", "Paris", 7_000),
    ("CON3", "La Concorde 3", "Paris", 8_000),
    ("HDV",  "Hôtel de Ville", "Paris", 3_000),
    ("PDP",  "Parc des Princes", "Paris", 47_000),
    ("SPA1", "South Paris Arena 1", "Paris", 12_000),
    ("SPA4", "South Paris Arena 4", "Paris", 6_650),
    ("SPA6", "South Paris Arena 6", "Paris", 7_000),
    ("NPA",  "North Paris Arena", "Villepinte", 6_650),
    ("PCA",  "Porte de La Chapelle Arena", "Paris", 8_000),
    ("LBC",  "Le Bourget Climbing Venue", "Le Bourget", 5_000),
    ("YDM",  "Yves-du-Manoir Stadium", "Colombes", 15_000),
    ("VNF",  "Vaires-sur-Marne Nautical Stadium – Flat Water", "Vaires-sur-Marne", 12_000),
    ("VNW",  "Vaires-sur-Marne Nautical Stadium – White Water", "Vaires-sur-Marne", 12_000),
    ("CVE",  "Château de Versailles", "Versailles", 16_000),
    ("LGN",  "Le Golf National", "Guyancourt", 15_000),
    ("ELH",  "Élancourt Hill", "Élancourt", 20_000),
    ("SQV",  "Saint-Quentin-en-Yvelines Velodrome", "Montigny-le-Bretonneux", 5_000),
    ("SQB",  "Saint-Quentin-en-Yvelines BMX Stadium", "Montigny-le-Bretonneux", 5_000),
    ("CSC",  "Châteauroux Shooting Centre", "Déols", 3_000),
    ("MAR",  "Marseille Marina", "Marseille", 5_000),
    ("STM",  "Stade de Marseille", "Marseille", 60_000),
    ("STL",  "Stade de Lyon", "Décines-Charpieu", 58_000),
    ("SBD",  "Stade de Bordeaux", "Bordeaux", 40_000),
    ("SBJ",  "Stade de la Beaujoire", "Nantes", 35_000),
    ("SGG",  "Stade Geoffroy-Guichard", "Saint-Étienne", 40_000),
    ("SNI",  "Stade de Nice", "Nice", 35_000),
    ("SPM",  "Stade Pierre-Mauroy", "Lille", 27_000),
    ("THP",  "Teahupo'o", "Teahupo'o, Tahiti", 1_000),
];

/// When sessions of a kind may start (minutes after midnight, Paris time) and how long they
/// last (minutes, a multiple of 15 in this range).
struct Times {
    starts: &'static [i64],
    minutes: (i64, i64),
}

/// Arenas: morning, afternoon and evening sessions.
const ARENA: Times = Times { starts: &[570, 840, 1140], minutes: (150, 240) };
/// Morning heats and evening finals.
const TWICE: Times = Times { starts: &[630, 1170], minutes: (120, 210) };
const MATCH: Times = Times { starts: &[900, 1020, 1140, 1260], minutes: (120, 120) };
/// Open-air events that need daylight or calm morning water and wind.
const DAYLIGHT: Times = Times { starts: &[480, 660, 840], minutes: (90, 240) };

const TEAM: &[&str] = &[
    "Preliminary round",
    "Preliminary round",
    "Preliminary round",
    "Preliminary round",
    "Quarter-finals",
    "Semi-finals",
    "Medal matches",
];
const PRELIMS: &[&str] = &["Preliminary round"];
const KNOCKOUT: &[&str] = &["Quarter-finals", "Semi-finals", "Medal matches"];
const EVENTS: &[&str] = &["Qualification", "Qualification", "Semi-finals and finals", "Finals"];
const FINALS: &[&str] = &["Finals"];
const ROAD: &[&str] = &["Race walk", "Marathon race walk relay", "Men's marathon", "Women's marathon"];
const GOLF: &[&str] = &["Round 1", "Round 2", "Round 3", "Final round"];

/// A run of sessions of one sport at some venues over some days. A sport may have several
/// blocks (preliminaries in one arena, finals in a bigger one), numbered on in calendar order.
struct Block {
    code: &'static str,
    sport: &'static str,
    venues: &'static [&'static str],
    /// First and last day index, 0 = 24 July.
    days: (i64, i64),
    sessions: usize,
    times: &'static Times,
    /// Round names, spread evenly over the block's sessions in calendar order.
    rounds: &'static [&'static str],
    /// Category A of an early round, in euros, before the round's premium.
    top_eur: i64,
}

const FOOTBALL: &[&str] = &["PDP", "STM", "STL", "SBD", "SBJ", "SGG", "SNI"];

#[rustfmt::skip]
const BLOCKS: &[Block] = &[
    Block { code: "FBL", sport: "Football", venues: FOOTBALL, days: (0, 17), sessions: 58, times: &MATCH, rounds: TEAM, top_eur: 80 },
    Block { code: "RUG", sport: "Rugby Sevens", venues: &["STF"], days: (0, 6), sessions: 8, times: &TWICE, rounds: TEAM, top_eur: 150 },
    Block { code: "ATH", sport: "Athletics", venues: &["STF"], days: (8, 17), sessions: 18, times: &TWICE, rounds: EVENTS, top_eur: 290 },
    Block { code: "ATH", sport: "Athletics", venues: &["HDV"], days: (8, 18), sessions: 4, times: &DAYLIGHT, rounds: ROAD, top_eur: 85 },
    Block { code: "SWM", sport: "Swimming", venues: &["LDA"], days: (3, 11), sessions: 18, times: &TWICE, rounds: EVENTS, top_eur: 250 },
    Block { code: "WPO", sport: "Water Polo", venues: &["AQC"], days: (4, 11), sessions: 18, times: &ARENA, rounds: PRELIMS, top_eur: 85 },
    Block { code: "WPO", sport: "Water Polo", venues: &["LDA"], days: (12, 18), sessions: 12, times: &ARENA, rounds: KNOCKOUT, top_eur: 85 },
    Block { code: "DIV", sport: "Diving", venues: &["AQC"], days: (3, 17), sessions: 18, times: &ARENA, rounds: EVENTS, top_eur: 150 },
    Block { code: "SWA", sport: "Artistic Swimming", venues: &["AQC"], days: (12, 17), sessions: 5, times: &ARENA, rounds: EVENTS, top_eur: 130 },
    Block { code: "TEN", sport: "Tennis", venues: &["RGS"], days: (3, 11), sessions: 18, times: &TWICE, rounds: TEAM, top_eur: 150 },
    Block { code: "TEN", sport: "Tennis", venues: &["RGL"], days: (3, 11), sessions: 18, times: &TWICE, rounds: TEAM, top_eur: 120 },
    Block { code: "TEN", sport: "Tennis", venues: &["RGM"], days: (3, 10), sessions: 18, times: &ARENA, rounds: PRELIMS, top_eur: 70 },
    Block { code: "BOX", sport: "Boxing", venues: &["NPA"], days: (3, 12), sessions: 22, times: &ARENA, rounds: PRELIMS, top_eur: 100 },
    Block { code: "BOX", sport: "Boxing", venues: &["RGS"], days: (13, 17), sessions: 6, times: &TWICE, rounds: KNOCKOUT, top_eur: 100 },
    Block { code: "GAR", sport: "Artistic Gymnastics", venues: &["BCY"], days: (3, 12), sessions: 14, times: &ARENA, rounds: EVENTS, top_eur: 200 },
    Block { code: "GTR", sport: "Trampoline", venues: &["BCY"], days: (9, 10), sessions: 2, times: &ARENA, rounds: FINALS, top_eur: 120 },
    Block { code: "BKB", sport: "Basketball", venues: &["SPM"], days: (3, 11), sessions: 18, times: &ARENA, rounds: PRELIMS, top_eur: 200 },
    Block { code: "BKB", sport: "Basketball", venues: &["BCY"], days: (13, 18), sessions: 8, times: &ARENA, rounds: KNOCKOUT, top_eur: 200 },
    Block { code: "HBL", sport: "Handball", venues: &["SPA6"], days: (1, 11), sessions: 24, times: &ARENA, rounds: PRELIMS, top_eur: 100 },
    Block { code: "HBL", sport: "Handball", venues: &["SPM"], days: (13, 18), sessions: 10, times: &ARENA, rounds: KNOCKOUT, top_eur: 100 },
    Block { code: "WLF", sport: "Weightlifting", venues: &["SPA6"], days: (14, 18), sessions: 12, times: &ARENA, rounds: FINALS, top_eur: 70 },
    Block { code: "VVO", sport: "Volleyball", venues: &["SPA1"], days: (3, 18), sessions: 30, times: &ARENA, rounds: TEAM, top_eur: 120 },
    Block { code: "TTE", sport: "Table Tennis", venues: &["SPA4"], days: (3, 17), sessions: 32, times: &ARENA, rounds: EVENTS, top_eur: 85 },
    Block { code: "JUD", sport: "Judo", venues: &["CDM"], days: (3, 11), sessions: 18, times: &TWICE, rounds: EVENTS, top_eur: 130 },
    Block { code: "WRE", sport: "Wrestling", venues: &["CDM"], days: (12, 18), sessions: 16, times: &ARENA, rounds: EVENTS, top_eur: 85 },
    Block { code: "FEN", sport: "Fencing", venues: &["GPL"], days: (3, 11), sessions: 22, times: &ARENA, rounds: EVENTS, top_eur: 120 },
    Block { code: "TKW", sport: "Taekwondo", venues: &["GPL"], days: (14, 17), sessions: 8, times: &TWICE, rounds: EVENTS, top_eur: 85 },
    Block { code: "BVO", sport: "Beach Volleyball", venues: &["ETS"], days: (3, 17), sessions: 36, times: &ARENA, rounds: TEAM, top_eur: 150 },
    Block { code: "BDM", sport: "Badminton", venues: &["PCA"], days: (3, 12), sessions: 28, times: &ARENA, rounds: EVENTS, top_eur: 85 },
    Block { code: "GRY", sport: "Rhythmic Gymnastics", venues: &["PCA"], days: (15, 17), sessions: 6, times: &TWICE, rounds: EVENTS, top_eur: 100 },
    Block { code: "ARC", sport: "Archery", venues: &["INV"], days: (1, 11), sessions: 22, times: &ARENA, rounds: EVENTS, top_eur: 85 },
    Block { code: "HOC", sport: "Hockey", venues: &["YDM"], days: (3, 16), sessions: 24, times: &ARENA, rounds: TEAM, top_eur: 80 },
    Block { code: "ROW", sport: "Rowing", venues: &["VNF"], days: (3, 10), sessions: 8, times: &DAYLIGHT, rounds: EVENTS, top_eur: 85 },
    Block { code: "CSP", sport: "Canoe Sprint", venues: &["VNF"], days: (13, 17), sessions: 5, times: &DAYLIGHT, rounds: EVENTS, top_eur: 85 },
    Block { code: "CSL", sport: "Canoe Slalom", venues: &["VNW"], days: (3, 12), sessions: 12, times: &DAYLIGHT, rounds: EVENTS, top_eur: 85 },
    Block { code: "EQU", sport: "Equestrian", venues: &["CVE"], days: (3, 13), sessions: 14, times: &DAYLIGHT, rounds: EVENTS, top_eur: 150 },
    Block { code: "MPN", sport: "Modern Pentathlon", venues: &["CVE"], days: (15, 18), sessions: 4, times: &DAYLIGHT, rounds: EVENTS, top_eur: 85 },
    Block { code: "GLF", sport: "Golf", venues: &["LGN"], days: (8, 17), sessions: 8, times: &DAYLIGHT, rounds: GOLF, top_eur: 100 },
    Block { code: "SAL", sport: "Sailing", venues: &["MAR"], days: (4, 15), sessions: 14, times: &DAYLIGHT, rounds: EVENTS, top_eur: 45 },
    Block { code: "SRF", sport: "Surfing", venues: &["THP"], days: (3, 11), sessions: 8, times: &DAYLIGHT, rounds: EVENTS, top_eur: 50 },
    Block { code: "TRI", sport: "Triathlon", venues: &["PA3"], days: (6, 13), sessions: 3, times: &DAYLIGHT, rounds: FINALS, top_eur: 60 },
    Block { code: "OWS", sport: "Marathon Swimming", venues: &["PA3"], days: (15, 16), sessions: 2, times: &DAYLIGHT, rounds: FINALS, top_eur: 45 },
    Block { code: "CRD", sport: "Road Cycling", venues: &["PA3"], days: (3, 11), sessions: 3, times: &DAYLIGHT, rounds: FINALS, top_eur: 45 },
    Block { code: "SKB", sport: "Skateboarding", venues: &["CON1"], days: (3, 14), sessions: 12, times: &ARENA, rounds: EVENTS, top_eur: 100 },
    Block { code: "BMF", sport: "BMX Freestyle", venues: &["CON1"], days: (6, 7), sessions: 3, times: &ARENA, rounds: EVENTS, top_eur: 85 },
    Block { code: "BKT", sport: "3x3 Basketball", venues: &["CON3"], days: (6, 12), sessions: 18, times: &ARENA, rounds: TEAM, top_eur: 85 },
    Block { code: "BKG", sport: "Breaking", venues: &["CON3"], days: (16, 17), sessions: 4, times: &ARENA, rounds: EVENTS, top_eur: 100 },
    Block { code: "SHO", sport: "Shooting", venues: &["CSC"], days: (3, 12), sessions: 24, times: &ARENA, rounds: EVENTS, top_eur: 45 },
    Block { code: "MTB", sport: "Mountain Bike", venues: &["ELH"], days: (4, 5), sessions: 2, times: &DAYLIGHT, rounds: FINALS, top_eur: 45 },
    Block { code: "CTR", sport: "Track Cycling", venues: &["SQV"], days: (11, 18), sessions: 16, times: &TWICE, rounds: EVENTS, top_eur: 120 },
    Block { code: "BMX", sport: "BMX Racing", venues: &["SQB"], days: (6, 9), sessions: 4, times: &DAYLIGHT, rounds: EVENTS, top_eur: 70 },
    Block { code: "CLB", sport: "Sport Climbing", venues: &["LBC"], days: (12, 17), sessions: 12, times: &ARENA, rounds: EVENTS, top_eur: 100 },
];

struct Ceremony {
    code: &'static str,
    title: &'static str,
    venue: &'static str,
    day: i64,
    /// Start and end, minutes after midnight, Paris time.
    minutes: (i64, i64),
    /// Category A to E.
    prices_eur: [i64; 5],
}

#[rustfmt::skip]
const CEREMONIES: &[Ceremony] = &[
    Ceremony { code: "CER01", title: "Opening Ceremony", venue: "TRO", day: 2, minutes: (19 * 60 + 30, 23 * 60 + 15), prices_eur: [2700, 1600, 900, 450, 90] },
    Ceremony { code: "CER02", title: "Closing Ceremony", venue: "STF", day: LAST_DAY, minutes: (21 * 60, 23 * 60 + 45), prices_eur: [1600, 950, 420, 150, 45] },
];

/// Where each category sits between the cheapest (0) and Category A (1000), per mille, by
/// category count: roughly geometric, as real price grids are.
const PRICE_SHAPES: [&[i64]; 3] = [&[1000, 300, 0], &[1000, 400, 130, 0], &[1000, 500, 220, 80, 0]];

/// Generates the demo catalogue on the real dates. The same seed always gives the same catalogue.
pub fn generate(seed: u64) -> Catalogue {
    generate_from(seed, Timestamp(DAY0))
}

/// The same programme as [`generate`], its first day of competition being the Paris date of
/// `first_day`. The same seed and date always give the same catalogue.
pub fn generate_from(seed: u64, first_day: Timestamp) -> Catalogue {
    let cal = Calendar::starting(first_day);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let venues: Vec<Venue> = VENUES
        .iter()
        .map(|&(code, name, city, capacity)| Venue {
            code: code_of(code),
            name: name.into(),
            city: city.into(),
            capacity,
            zones: entrances(capacity),
        })
        .collect();
    let capacity: HashMap<&str, i64> = VENUES.iter().map(|v| (v.0, v.3)).collect();

    let mut busy = Busy::default();
    // (sport code to number the session with, session, its prices); ceremonies keep theirs.
    let mut planned: Vec<(Option<&str>, Session, Prices)> = Vec::new();
    for c in CEREMONIES {
        let (starts_at, ends_at) = (cal.at(c.day, c.minutes.0), cal.at(c.day, c.minutes.1));
        busy.take(c.venue, starts_at, ends_at);
        let session = Session {
            code: code_of(c.code),
            sport: "Ceremonies".into(),
            title: c.title.into(),
            venue: code_of(c.venue),
            starts_at,
            ends_at,
            ceremony: true,
        };
        planned.push((None, session, Prices::Fixed(c.prices_eur)));
    }

    for block in BLOCKS {
        let mut slots: Vec<_> = (0..block.sessions).map(|i| busy.place(&cal, block, i, &mut rng)).collect();
        // Rounds follow the calendar even where a full day pushed a session later.
        slots.sort_by_key(|&(venue, start, _)| (start, venue));
        for (i, (venue, starts_at, ends_at)) in slots.into_iter().enumerate() {
            let round = block.rounds[i * block.rounds.len() / block.sessions];
            let session = Session {
                code: code_of(block.code),
                sport: block.sport.into(),
                title: format!("{} – {round}", block.sport),
                venue: code_of(venue),
                starts_at,
                ends_at,
                ceremony: false,
            };
            let prices = Prices::Grid { top_eur: block.top_eur, premium: premium(round) };
            planned.push((Some(block.code), session, prices));
        }
    }
    planned.sort_by(|a, b| (a.1.starts_at, &a.1.venue).cmp(&(b.1.starts_at, &b.1.venue)));
    // Numbered in calendar order, so that ATH01 is the first athletics session.
    let mut numbers: HashMap<&str, u32> = HashMap::new();
    for (sport, session, _) in &mut planned {
        if let Some(sport) = *sport {
            let number = numbers.entry(sport).or_default();
            *number += 1;
            session.code = code_of(&format!("{sport}{number:02}"));
        }
    }

    let mut categories = Vec::new();
    for (_, session, prices) in &planned {
        let capacity = capacity.get(session.venue.as_str()).copied().unwrap_or(0);
        let prices_eur = match *prices {
            Prices::Fixed(p) => p.to_vec(),
            Prices::Grid { top_eur, premium } => price_grid(top_eur, premium, &mut rng),
        };
        let quotas = split_quota(capacity, prices_eur.len(), &mut rng);
        for (k, (eur, quota)) in prices_eur.into_iter().zip(quotas).enumerate() {
            let letter = char::from(b'A' + k as u8);
            categories.push(PriceCategory {
                session: session.code.clone(),
                code: code_of(&format!("CAT-{letter}")),
                name: format!("Category {letter}"),
                price: Cents(eur * 100),
                quota,
            });
        }
    }

    Catalogue { venues, sessions: planned.into_iter().map(|(_, s, _)| s).collect(), categories }
}

enum Prices {
    Fixed([i64; 5]),
    Grid { top_eur: i64, premium: i64 },
}

/// Later rounds sell dearer, in percent of the early-round price.
fn premium(round: &str) -> i64 {
    if round.starts_with("Final") || round.contains("Medal") || round.contains("marathon") {
        200
    } else if round.starts_with("Semi") {
        160
    } else if round.starts_with("Quarter") {
        130
    } else {
        100
    }
}

/// 3 to 5 strictly decreasing prices in euros, Category A first.
fn price_grid(top_eur: i64, premium: i64, rng: &mut ChaCha8Rng) -> Vec<i64> {
    let shape = PRICE_SHAPES[rng.gen_range(0..PRICE_SHAPES.len())];
    let low = MIN_PRICE_EUR * premium / 100;
    let top = (top_eur * rng.gen_range(90..=110) / 100 * premium / 100).max(3 * low).min(MAX_PRICE_EUR);
    shape
        .iter()
        .map(|per_mille| {
            let eur = low + (top - low) * per_mille / 1000;
            // Prices from 100 € on are multiples of 5 €, as on real price grids.
            if eur >= 100 {
                (eur + 2) / 5 * 5
            } else {
                eur
            }
        })
        .collect()
}

/// Splits 86–98 % of the venue's capacity over `n` categories with uneven shares.
fn split_quota(capacity: i64, n: usize, rng: &mut ChaCha8Rng) -> Vec<i64> {
    let on_sale = capacity * rng.gen_range(860..=980) / 1000;
    let weights: Vec<i64> = (0..n).map(|_| rng.gen_range(10..=30)).collect();
    let total: i64 = weights.iter().sum();
    weights.iter().map(|w| (on_sale * w / total).max(1)).collect()
}

/// Gate A, Gate B, ...: two for the smallest venues, six for the stadiums.
fn entrances(capacity: i64) -> Vec<String> {
    let n = match capacity {
        ..5_000 => 2,
        5_000..10_000 => 3,
        10_000..20_000 => 4,
        20_000..50_000 => 5,
        _ => 6,
    };
    (b'A'..b'A' + n).map(|c| format!("Gate {}", char::from(c))).collect()
}

/// The programme's first day, a date in Paris.
struct Calendar {
    first: jiff::civil::Date,
    paris: jiff::tz::TimeZone,
}

impl Calendar {
    fn starting(first_day: Timestamp) -> Self {
        let paris = crate::zone::EventZone::paris().tz().clone();
        let first = jiff::Timestamp::from_second(first_day.0)
            .unwrap_or_else(|e| panic!("demo catalogue start {first_day}: {e}"))
            .to_zoned(paris.clone())
            .date();
        Calendar { first, paris }
    }

    /// Day index and minutes after midnight, Paris time (summer or winter), as an instant.
    fn at(&self, day: i64, minutes: i64) -> Timestamp {
        let local = self
            .first
            .to_datetime(jiff::civil::Time::midnight())
            .checked_add(jiff::Span::new().days(day).minutes(minutes))
            .and_then(|t| t.to_zoned(self.paris.clone()))
            .unwrap_or_else(|e| panic!("demo catalogue day {day}: {e}"));
        Timestamp(local.timestamp().as_second())
    }
}

/// The codes here are literals and formats known to be valid; a failure is a bug in this file.
fn code_of(s: &str) -> Code {
    Code::parse(s).unwrap_or_else(|e| panic!("demo catalogue code: {e}"))
}

/// Booked periods per venue, so that a venue hosts one session at a time.
#[derive(Default)]
struct Busy(HashMap<&'static str, Vec<(i64, i64)>>);

impl Busy {
    fn take(&mut self, venue: &'static str, start: Timestamp, end: Timestamp) {
        self.0.entry(venue).or_default().push((start.0, end.0));
    }

    fn is_free(&self, venue: &str, start: Timestamp, end: Timestamp) -> bool {
        self.0.get(venue).is_none_or(|booked| {
            booked.iter().all(|&(s, e)| end.0 + CHANGEOVER_SECS <= s || e + CHANGEOVER_SECS <= start.0)
        })
    }

    /// Places session `i` of a block: on its share of the block's days if a venue is free
    /// then, else on the next day with room. Blocks are sized to fit; should one not, the
    /// session still gets its preferred slot rather than leaving the dates.
    fn place(
        &mut self,
        cal: &Calendar,
        block: &Block,
        i: usize,
        rng: &mut ChaCha8Rng,
    ) -> (&'static str, Timestamp, Timestamp) {
        let (first, last) = block.days;
        let days = last - first + 1;
        // Both are small table values; the casts cannot truncate.
        let preferred = (i * days as usize / block.sessions) as i64;
        let (min, max) = block.times.minutes;
        let minutes = min + 15 * rng.gen_range(0..=(max - min) / 15);
        let starts = block.times.starts;
        let slot0 = rng.gen_range(0..starts.len());
        let venue0 = i % block.venues.len();
        for d in 0..days {
            let day = first + (preferred + d) % days;
            for s in 0..starts.len() {
                let start = cal.at(day, starts[(slot0 + s) % starts.len()]);
                let end = start.plus_secs(minutes * 60);
                for v in 0..block.venues.len() {
                    let venue = block.venues[(venue0 + v) % block.venues.len()];
                    if self.is_free(venue, start, end) {
                        self.take(venue, start, end);
                        return (venue, start, end);
                    }
                }
            }
        }
        let start = cal.at(first + preferred, starts[slot0]);
        let end = start.plus_secs(minutes * 60);
        let venue = block.venues[venue0];
        self.take(venue, start, end);
        (venue, start, end)
    }
}

#[cfg(test)]
mod tests {
    use super::super::import;
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn same_seed_same_catalogue() {
        assert_eq!(generate(42), generate(42));
        assert_ne!(generate(1), generate(2));
    }

    #[test]
    fn paris_2024_scale() {
        for seed in [0, 1, 42, u64::MAX] {
            let c = generate(seed);
            assert!((35..=45).contains(&c.venues.len()), "{} venues", c.venues.len());
            assert!((700..=800).contains(&c.sessions.len()), "{} sessions", c.sessions.len());
            let seats = c.total_seats();
            assert!((9_500_000..=10_500_000).contains(&seats), "{seats} seats");
            let ceremonies: Vec<_> = c.sessions.iter().filter(|s| s.ceremony).collect();
            assert_eq!(ceremonies.len(), 2);
            assert_eq!((ceremonies[0].code.as_str(), ceremonies[0].venue.as_str()), ("CER01", "TRO"));
            assert_eq!(ceremonies[0].starts_at, Timestamp::parse_rfc3339("2024-07-26T19:30:00+02:00").unwrap());
            assert_eq!((ceremonies[1].code.as_str(), ceremonies[1].venue.as_str()), ("CER02", "STF"));
            assert_eq!(&ceremonies[1].starts_at.to_rfc3339()[..10], "2024-08-11");
        }
    }

    #[test]
    fn sessions_are_plausible() {
        for seed in 0..20 {
            sessions_are_plausible_for(seed);
        }
    }

    fn sessions_are_plausible_for(seed: u64) {
        let c = generate(seed);
        let opening = Timestamp::parse_rfc3339("2024-07-24T00:00:00+02:00").unwrap();
        let closing = Timestamp::parse_rfc3339("2024-08-12T00:00:00+02:00").unwrap();
        assert_eq!(opening, Timestamp(DAY0));
        let mut codes = HashSet::new();
        for s in &c.sessions {
            assert!(codes.insert(&s.code), "duplicate {}", s.code);
            let code = s.code.as_str();
            assert!(code.len() == 5 || code.len() == 6, "{code}");
            assert!(code[..3].chars().all(|c| c.is_ascii_uppercase()), "{code}");
            assert!(code[3..].chars().all(|c| c.is_ascii_digit()), "{code}");
            assert!(s.starts_at >= opening && s.ends_at <= closing, "{code} out of the Games");
            let minutes = (s.ends_at.0 - s.starts_at.0) / 60;
            assert!((90..=240).contains(&minutes), "{code} lasts {minutes} min");
        }
        let mut by_venue: HashMap<&Code, Vec<&Session>> = HashMap::new();
        for s in &c.sessions {
            by_venue.entry(&s.venue).or_default().push(s);
        }
        for sessions in by_venue.values() {
            for w in sessions.windows(2) {
                assert!(w[0].ends_at <= w[1].starts_at, "{} overlaps {}", w[0].code, w[1].code);
            }
        }
        for v in &c.venues {
            assert!((2..=6).contains(&v.zones.len()), "{}", v.code);
        }
    }

    #[test]
    fn categories_are_plausible() {
        let c = generate(3);
        let capacity: HashMap<&Code, i64> = c.venues.iter().map(|v| (&v.code, v.capacity)).collect();
        for s in &c.sessions {
            let cats: Vec<_> = c.categories.iter().filter(|k| k.session == s.code).collect();
            assert!((3..=5).contains(&cats.len()), "{}", s.code);
            assert_eq!(cats[0].code.as_str(), "CAT-A");
            assert!(cats.windows(2).all(|w| w[0].price > w[1].price), "{} prices", s.code);
            assert!(cats.iter().all(|k| k.price >= Cents(2400)));
            let max = if s.ceremony { Cents(270_000) } else { Cents(98_000) };
            assert!(cats[0].price <= max, "{}", s.code);
            let quota: i64 = cats.iter().map(|k| k.quota).sum();
            let cap = capacity[&s.venue];
            assert!(quota <= cap && quota * 100 >= cap * 85, "{}: {quota} of {cap}", s.code);
        }
    }

    #[test]
    fn moved_to_another_start_the_programme_keeps_its_shape_and_paris_times() {
        let real = generate(2024);
        // A winter start: the opening ceremony is still at 19:30 in Paris, now UTC+1.
        let jan = Timestamp::parse_rfc3339("2031-01-06T12:00:00Z").unwrap();
        let moved = generate_from(2024, jan);
        assert_eq!(moved, generate_from(2024, jan));
        assert_eq!(real.sessions.len(), moved.sessions.len());
        assert_eq!(real.categories, moved.categories);
        let ceremony = moved.sessions.iter().find(|s| s.code.as_str() == "CER01").unwrap();
        assert_eq!(ceremony.starts_at, Timestamp::parse_rfc3339("2031-01-08T19:30:00+01:00").unwrap());
        let first = Timestamp::parse_rfc3339("2031-01-06T00:00:00+01:00").unwrap();
        assert!(moved.sessions.iter().all(|s| s.starts_at >= first), "every session on or after the first day");
        for (a, b) in real.sessions.iter().zip(&moved.sessions) {
            assert_eq!(
                (&a.code, &a.venue, a.ends_at.0 - a.starts_at.0),
                (&b.code, &b.venue, b.ends_at.0 - b.starts_at.0)
            );
        }
    }

    #[test]
    fn round_trips_through_the_import_format() {
        let c = generate(2024);
        assert_eq!(import::parse(&import::to_csv(&c)), Ok(c));
    }
}
