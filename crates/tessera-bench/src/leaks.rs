//! `tessera bench leaks`: a Have I Been Pwned-sized leak list loaded the way an operator loads
//! it (`tessera admin import-leaked-passwords`: `App::import_leaks`, then the sorted file a node
//! keeps), read back the way every node reloads it, and then checked: a password against the
//! set (the check at registration and password change) and the k-anonymous range answer.
//!
//! The list is generated once (not timed): `--hashes` random SHA-1 hashes as `HASH:COUNT`
//! lines, in random order, with the passwords of one in ten thousand kept to check hits.

use anyhow::{bail, Context};
use clap::Args;
use rand::{Rng, SeedableRng};
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tessera_app::{App, AppConfig, SystemClock};

#[derive(Args, Clone)]
pub(crate) struct LeaksArgs {
    /// Leaked password hashes in the list.
    #[arg(long, default_value_t = 10_000_000)]
    hashes: usize,
    /// Passwords checked against the loaded set per run.
    #[arg(long, default_value_t = 1_000_000)]
    checks: usize,
    /// Timed runs (each figure's median is reported).
    #[arg(long, default_value_t = 3)]
    runs: usize,
}

pub(crate) async fn run(a: LeaksArgs) -> anyhow::Result<()> {
    if a.hashes == 0 || a.checks == 0 || a.runs == 0 {
        bail!("--hashes, --checks and --runs must be at least 1");
    }
    let dir = tempfile::tempdir()?;
    let list = dir.path().join("pwned.txt");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let mut known = Vec::new();
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&list)?);
        for i in 0..a.hashes {
            let hash = if i % 10_000 == 0 {
                let password = format!("leaked password {i}");
                let h = tessera_lookalike::leaks::sha1_of(password.as_bytes());
                known.push(password);
                h
            } else {
                rng.gen::<[u8; 20]>()
            };
            writeln!(w, "{}:{}", hex::encode_upper(hash), rng.gen_range(1..100_000))?;
        }
        w.flush()?;
    }
    let size = std::fs::metadata(&list)?.len();
    println!(
        "bench leaks: {} hashes ({:.0} MiB of SHA1:COUNT lines), {} checks a run; machine: {} cores",
        a.hashes,
        size as f64 / 1_048_576.0,
        a.checks,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let store = crate::common::bench_store(None, &dir.path().join("leaks.db")).await?;
    let mut key = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
    let payments = Arc::new(tessera_payments::SandboxProvider::new(tessera_payments::SandboxConfig::default()));
    let app = App::new(store, payments, Arc::new(SystemClock), AppConfig::new(key, "http://127.0.0.1"));

    let (mut import, mut reload, mut check, mut range) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let kept = dir.path().join("leaked-passwords.txt");
    for run in 1..=a.runs {
        let rss_before = crate::common::memory_mib("VmRSS:").unwrap_or(0.0);
        // The operator's import, with its progress bar's callback.
        let started = Instant::now();
        let input = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(&list)?);
        let (set, report) = app.import_leaks(input, None, |_| {}).await?;
        tessera_app::leaks::write_leaked_file(&kept, &set)?;
        let imported = started.elapsed();
        anyhow::ensure!(report.hashes == a.hashes as u64 && report.bad_lines == 0, "import: {report:?}");
        drop(set);
        // A node's reload of the kept file.
        let started = Instant::now();
        let (set, bad) = tessera_app::leaks::read_leaked_file(&kept)?;
        let reloaded = started.elapsed();
        anyhow::ensure!(bad == 0 && set.len() <= a.hashes, "reload: {bad} bad lines, {} hashes", set.len());
        let rss = crate::common::memory_mib("VmRSS:").unwrap_or(0.0) - rss_before;

        // Checks: one in a hundred a leaked password, the others fresh.
        let started = Instant::now();
        let mut hits = 0usize;
        for i in 0..a.checks {
            let hit = i % 100 == 0;
            let password = if hit { known[i / 100 % known.len()].clone() } else { format!("fresh password {run} {i}") };
            hits += usize::from(set.contains_password(password.as_bytes()));
        }
        let checked = started.elapsed();
        anyhow::ensure!(hits == a.checks.div_ceil(100), "{hits} hits of {} planted", a.checks.div_ceil(100));
        app.set_leaked_passwords(set);
        // The k-anonymous answers, padded, as `GET /api/v1/passwords/range/{prefix}` serves them.
        let queries = 20_000;
        let started = Instant::now();
        for q in 0..queries {
            let lines = app.leaked_range(&format!("{:05X}", (q * 52_429) % 0x10_0000)).context("range")?;
            anyhow::ensure!(lines.len() >= 1_000, "a padded answer has 1,000 lines or more");
        }
        let ranged = started.elapsed();
        println!(
            "run {run}: import {:.1} s ({:.0} hashes/s) · reload {:.1} s ({:.0}/s) · RSS grown {:.0} MiB · \
             check {:.0} ns a password ({hits} hits) · range answer {:.0} µs",
            imported.as_secs_f64(),
            a.hashes as f64 / imported.as_secs_f64(),
            reloaded.as_secs_f64(),
            a.hashes as f64 / reloaded.as_secs_f64(),
            rss,
            checked.as_nanos() as f64 / a.checks as f64,
            ranged.as_micros() as f64 / queries as f64,
        );
        import.push(imported);
        reload.push(reloaded);
        check.push(checked / a.checks as u32);
        range.push(ranged / queries as u32);
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (i, r) = (median(&mut import), median(&mut reload));
    println!(
        "medians: import {:.1} s ({:.0} hashes/s) · reload {:.1} s · check {} ns · range answer {} µs",
        i.as_secs_f64(),
        a.hashes as f64 / i.as_secs_f64(),
        r.as_secs_f64(),
        median(&mut check).as_nanos(),
        median(&mut range).as_micros()
    );
    Ok(())
}
