//! A rough timing of one matching run on a synthetic programme, not a benchmark of record:
//! `cargo run --release -p tessera-volunteers --example scale -- [applicants] [positions] [seed]`.

use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<u64>().unwrap_or(0));
    let applicants = args.next().unwrap_or(300_000) as u32;
    let positions = args.next().unwrap_or(45_000) as u32;
    let seed = args.next().unwrap_or(1);

    let t = Instant::now();
    let input = tessera_volunteers::generate(seed, applicants, positions);
    println!(
        "generate: {:.2?} ({} applicants, {} position rows)",
        t.elapsed(),
        input.applicants.len(),
        input.positions.len()
    );

    let t = Instant::now();
    let out = match tessera_volunteers::run(&input) {
        Ok(out) => out,
        Err(e) => {
            eprintln!("input refused: {e}");
            std::process::exit(1);
        }
    };
    let s = &out.stats;
    println!("run: {:.2?}", t.elapsed());
    println!(
        "eligible {} / {}, buckets {}, arcs {}, open positions {}, matched {}, total score {}, phases {}",
        s.eligible, s.applicants, s.buckets, s.arcs, s.open_positions, s.matched, s.total_score, s.phases
    );
    let open: u32 = out.unfilled.iter().map(|u| u.open).sum();
    let empty = out.unfilled.iter().filter(|u| u.candidates == 0).count();
    println!("unfilled buckets {} ({} positions), of which without candidates {}", out.unfilled.len(), open, empty);
    let mut why = std::collections::BTreeMap::new();
    for u in out.unfilled.iter().filter(|u| u.candidates == 0) {
        // The most common reason per bucket without a candidate (None: beyond the arc limit).
        if let Some((kind, _)) = u.ruled_out.iter().filter(|(k, _)| k.is_some()).max_by_key(|(_, n)| **n) {
            *why.entry(format!("{kind:?}")).or_insert(0) += 1;
        }
        let feasible = u.ruled_out.get(&None).copied().unwrap_or(0);
        *why.entry("with feasible applicants beyond their arc limit".to_owned()).or_insert(0) +=
            u32::from(feasible > 0);
    }
    println!("buckets without candidates, by main reason: {why:?}");
    for g in &out.fairness.by_gender {
        println!("  {:>10}: {:>7} applicants, selection rate {:.3}", g.group, g.applicants, g.selection_rate());
    }
    for g in &out.fairness.by_age_band {
        println!("  {:>10}: {:>7} applicants, selection rate {:.3}", g.group, g.applicants, g.selection_rate());
    }
}
