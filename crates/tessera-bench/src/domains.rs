//! `tessera bench domains`: the lookalike detector on a generated stream of newly seen names,
//! as certificate transparency delivers them (hundreds a second at its busiest).
//!
//! The stream: unrelated, real-looking names (words, hyphens, digits, common subdomains, a dozen
//! public suffixes) with one name in a hundred a lookalike of an official domain (drawn from
//! every fuzzer class's candidates). The names are generated once (not timed), then checked on
//! one thread, several times; the figure is names per second, and the check counts the
//! lookalikes found against those planted and the hits among the unrelated names.

use anyhow::{bail, Context};
use clap::Args;
use rand::{Rng, SeedableRng};
use std::time::Instant;
use tessera_lookalike::{Detector, DetectorConfig, FuzzOptions};

#[derive(Args, Clone)]
pub(crate) struct DomainsArgs {
    /// Names in the generated stream.
    #[arg(long, default_value_t = 1_000_000)]
    names: usize,
    /// The official domains (repeat).
    #[arg(long, default_values_t = ["paris2024.org".to_string(), "olympics.com".to_string()])]
    official: Vec<String>,
    /// Timed passes (the median is reported).
    #[arg(long, default_value_t = 3)]
    runs: usize,
}

const WORDS: &[&str] = &[
    "alpha", "bank", "blue", "cloud", "data", "delta", "energy", "farm", "green", "home", "info", "lake", "market",
    "media", "north", "ocean", "pixel", "quick", "river", "solar", "stone", "tech", "travel", "union", "vista", "web",
    "west", "yellow", "zen", "garden", "coffee", "studio", "design", "law", "health", "food", "sport", "auto", "shop",
    "photo", "music", "book", "hotel", "news", "city", "group", "labs", "digital", "smart", "global", "local",
];
const SUFFIXES: &[&str] = &["com", "net", "org", "fr", "de", "io", "co.uk", "shop", "info", "eu", "app", "dev"];
const SUBDOMAINS: &[&str] = &["", "www.", "mail.", "api.", "cdn."];

pub(crate) fn run(a: DomainsArgs) -> anyhow::Result<()> {
    if a.names == 0 || a.runs == 0 {
        bail!("--names and --runs must be at least 1");
    }
    let detector = Detector::new(&DetectorConfig::new(a.official.clone())).context("--official")?;
    let mut planted_pool = Vec::new();
    for official in &a.official {
        let candidates = tessera_lookalike::fuzz(official, &FuzzOptions::default()).context("--official")?;
        // As certificate transparency logs them: punycode for IDN labels.
        planted_pool.extend(candidates.into_iter().filter(|c| c.ascii != *official).map(|c| c.ascii));
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let mut names = Vec::with_capacity(a.names);
    let mut planted = 0usize;
    for i in 0..a.names {
        if i % 100 == 0 && !planted_pool.is_empty() {
            names.push(planted_pool[rng.gen_range(0..planted_pool.len())].clone());
            planted += 1;
            continue;
        }
        let n = rng.gen_range(1..=3);
        let sep = if rng.gen_bool(0.3) { "-" } else { "" };
        let label: Vec<&str> = (0..n).map(|_| WORDS[rng.gen_range(0..WORDS.len())]).collect();
        let digits = if rng.gen_bool(0.2) { rng.gen_range(0..100).to_string() } else { String::new() };
        names.push(format!(
            "{}{}{digits}.{}",
            SUBDOMAINS[rng.gen_range(0..SUBDOMAINS.len())],
            label.join(sep),
            SUFFIXES[rng.gen_range(0..SUFFIXES.len())]
        ));
    }
    println!(
        "{} names, {planted} of them lookalikes drawn from {} fuzzer candidates of {}",
        names.len(),
        planted_pool.len(),
        a.official.join(", ")
    );
    let mut rates = Vec::new();
    let mut found = (0, 0);
    for run in 1..=a.runs {
        let started = Instant::now();
        let (mut hits, mut planted_hits) = (0usize, 0usize);
        for (i, name) in names.iter().enumerate() {
            if detector.check(name).is_some() {
                hits += 1;
                if i % 100 == 0 {
                    planted_hits += 1;
                }
            }
        }
        let rate = names.len() as f64 / started.elapsed().as_secs_f64().max(1e-9);
        println!("run {run}: {rate:.0} names/s on one thread, {hits} lookalikes");
        rates.push(rate);
        found = (hits, planted_hits);
    }
    rates.sort_by(f64::total_cmp);
    let (hits, planted_hits) = found;
    println!("median: {:.0} names/s on one thread", rates[rates.len() / 2]);
    println!(
        "planted lookalikes found: {planted_hits} of {planted}; hits among the {} unrelated names: {}",
        names.len() - planted,
        hits - planted_hits
    );
    if planted_hits != planted {
        bail!("{} planted lookalikes were missed", planted - planted_hits);
    }
    Ok(())
}
