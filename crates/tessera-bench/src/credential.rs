//! `tessera bench credential`: offline verification of phone-ticket codes on one core.

use crate::common::{ms, pct};
use anyhow::bail;
use clap::Args;
use std::time::Instant;

#[derive(Args, Clone)]
pub(crate) struct CredentialArgs {
    /// Seconds per run.
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
    #[arg(long, default_value_t = 3)]
    runs: usize,
}

/// verifications per second per core, each one checking the issuer's Ed25519 signature and
/// the phone's P-256 signature.
pub(crate) fn run(a: CredentialArgs) -> anyhow::Result<()> {
    use tessera_credential::fixture::{verify_with, Fixture};
    if !(a.seconds > 0.0 && a.seconds <= 600.0) || a.runs == 0 || a.runs > 20 {
        bail!("--seconds must be in (0, 600] and --runs 1 to 20");
    }
    let fixtures: Vec<Fixture> = (0..64).map(Fixture::new).collect();
    let codes: Vec<Vec<u8>> = fixtures.iter().map(Fixture::code).collect();
    println!("bench credential: 1 thread, {} s per run, {} run(s), 64 distinct tickets", a.seconds, a.runs);
    let mut rates = Vec::new();
    for run in 1..=a.runs {
        let (start, mut n, mut latencies) = (Instant::now(), 0usize, Vec::new());
        while start.elapsed().as_secs_f64() < a.seconds {
            let i = n % fixtures.len();
            let t = Instant::now();
            let d = verify_with(&fixtures[i], &codes[i]);
            latencies.push(t.elapsed());
            if !d.is_valid() {
                bail!("a genuine code was refused: {:?}", d.reason());
            }
            n += 1;
        }
        let rate = n as f64 / start.elapsed().as_secs_f64();
        println!(
            "run {run}: {n} verifications, {rate:.0} per second on one core; p50 {:.3} ms, p99 {:.3} ms",
            ms(pct(&latencies, 0.50)),
            ms(pct(&latencies, 0.99))
        );
        rates.push(rate);
    }
    rates.sort_by(f64::total_cmp);
    println!("median: {:.0} verifications per second per core", rates[rates.len() / 2]);
    Ok(())
}
