//! `tessera bench soc`: the detection engine on a generated nginx access log.
//!
//! The log: fans drawn from a pool of millions of addresses (so that the engine sees millions
//! of distinct sources) browsing, polling the waiting room and signing in, about 2,800 lines a
//! second of log time, with attacks inside whose sources are known: a flood from one address,
//! scanners, probers, sign-in brute force, and a distributed flood of tens of thousands of
//! addresses each under every per-address limit. The log is written once (not timed), then
//! read, parsed and run through the whole built-in rule pack on one thread, several times; the
//! figure is lines per second, and the check compares what was decided with the known
//! attackers. `--keep FILE` keeps the log, so that peers (CrowdSec, fail2ban) read the same one.

use anyhow::{bail, Context};
use clap::Args;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeSet, HashSet};
use std::io::{BufRead, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;
use tessera_detect::replay::{self, Format, Summary};
use tessera_detect::{Decide, Engine, Scope};

#[derive(Args, Clone)]
pub(crate) struct SocArgs {
    /// Lines of background traffic in the generated log (the attacks, about 650,000 lines,
    /// come on top; at least 700 seconds of traffic are written).
    #[arg(long, default_value_t = 10_000_000)]
    lines: u64,
    /// Distinct fan addresses the background traffic is drawn from.
    #[arg(long, default_value_t = 3_000_000)]
    fans: u32,
    /// Timed passes over the log (the median is reported).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Write the log here and keep it (default: a temporary file, removed after).
    #[arg(long)]
    keep: Option<std::path::PathBuf>,
}

/// The attackers the log holds, by what they do.
struct Truth {
    flood: Ipv4Addr,
    scanners: Vec<Ipv4Addr>,
    probers: Vec<Ipv4Addr>,
    brute: Vec<Ipv4Addr>,
    /// Log time (ms) of the distributed flood's first second.
    distributed_at_ms: i64,
    bots: u32,
}

impl Truth {
    fn blockable(&self) -> BTreeSet<IpAddr> {
        let mut s: BTreeSet<IpAddr> = [self.flood].into_iter().map(IpAddr::V4).collect();
        s.extend(self.scanners.iter().chain(&self.probers).chain(&self.brute).map(|a| IpAddr::V4(*a)));
        s
    }

    fn is_bot(&self, ip: IpAddr) -> bool {
        matches!(ip, IpAddr::V4(a) if a.octets()[0] == 45)
    }
}

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const AGENTS: [&str; 4] = [
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
];
const PAGES: [&str; 8] = [
    "/",
    "/sessions",
    "/sessions?sport=Athletics",
    "/sessions/ATH07",
    "/assets/console.js",
    "/api/v1/phases/P1/queue",
    "/wallet",
    "/resale",
];
const PROBES: [&str; 6] =
    ["/wp-login.php", "/.env", "/.git/config", "/phpmyadmin/index.php", "/cgi-bin/test.cgi", "/xmlrpc.php"];

/// `26/Jul/2024:19:30:00 +0200` for a second of log time (UTC+2, Paris in summer).
fn stamp(secs: i64) -> String {
    let local = secs + 7200;
    let (y, m, d) = tessera_detect::event::civil_from_days(local.div_euclid(86_400));
    let sod = local.rem_euclid(86_400);
    format!("{d:02}/{}/{y}:{:02}:{:02}:{:02} +0200", MONTHS[(m - 1) as usize], sod / 3600, sod % 3600 / 60, sod % 60)
}

fn line(
    w: &mut impl Write,
    ip: Ipv4Addr,
    ts: &str,
    request: std::fmt::Arguments<'_>,
    status: u16,
    bytes: u32,
    ua: &str,
) -> std::io::Result<()> {
    writeln!(w, "{ip} - - [{ts}] \"{request} HTTP/1.1\" {status} {bytes} \"-\" \"{ua}\"")
}

/// Writes the log; returns who attacks.
fn generate(path: &std::path::Path, lines: u64, fans: u32) -> anyhow::Result<Truth> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2024);
    let mut w = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path).context("creating the log")?);
    let per_sec = 2_800u64;
    // The background fills `lines`; the attacks come on top. At least 700 s of log time, so
    // that the baseline has learned (300 s) before the distributed flood at the half.
    let seconds = (lines / per_sec).max(700) as i64;
    let start = 1_721_988_000i64; // 2024-07-26 10:00 UTC
    let truth = Truth {
        flood: Ipv4Addr::new(203, 0, 113, 66),
        scanners: vec![
            Ipv4Addr::new(198, 51, 100, 10),
            Ipv4Addr::new(198, 51, 100, 11),
            Ipv4Addr::new(198, 51, 100, 12),
        ],
        probers: (0..5).map(|k| Ipv4Addr::new(192, 0, 2, 20 + k)).collect(),
        brute: vec![Ipv4Addr::new(185, 220, 101, 1), Ipv4Addr::new(185, 220, 101, 2), Ipv4Addr::new(185, 220, 101, 3)],
        distributed_at_ms: (start + seconds / 2) * 1000,
        bots: 30_000,
    };
    let fan = |n: u32| Ipv4Addr::from(0x5000_0000u32.wrapping_add(n.wrapping_mul(2_654_435_761) % 0x2000_0000));
    let pb = indicatif::ProgressBar::new(seconds as u64 * per_sec);
    for s in 0..seconds {
        let secs = start + s;
        let ts = stamp(secs);
        for _ in 0..per_sec {
            let n = rng.gen_range(0..fans);
            let r: u32 = rng.gen_range(0..1000);
            let ua = AGENTS[(n % 4) as usize];
            match r {
                0..=3 => line(&mut w, fan(n), &ts, format_args!("GET /sessions/NOPE"), 404, 150, ua)?,
                4..=9 => line(&mut w, fan(n), &ts, format_args!("POST /login"), if r == 4 { 401 } else { 303 }, 0, ua)?,
                _ => line(&mut w, fan(n), &ts, format_args!("GET {}", PAGES[(r % 8) as usize]), 200, 5000 + r, ua)?,
            }
        }
        let frac = s as f64 / seconds as f64;
        // A flood from one address: 500 a second for a minute, at a tenth of the log.
        if (frac * 10.0) as i64 == 1 && s < seconds / 10 + 60 {
            for _ in 0..500 {
                line(&mut w, truth.flood, &ts, format_args!("GET /"), 200, 5120, "python-requests/2.32")?;
            }
        }
        // Scanners: 20 missing paths a second for 20 seconds, at 20, 30 and 70 % of the log.
        for (k, at) in [0.2, 0.3, 0.7].iter().enumerate() {
            let from = (seconds as f64 * at) as i64;
            if (from..from + 20).contains(&s) {
                for p in 0..20 {
                    let path = format!("/backup/{}-{p}.tar.gz", s - from);
                    line(
                        &mut w,
                        truth.scanners[k],
                        &ts,
                        format_args!("GET {path}"),
                        404,
                        150,
                        "Mozilla/5.0 (compatible; scanner)",
                    )?;
                }
            }
        }
        // Probers: one known weakness each a second for ten seconds, at 40 %.
        let from = (seconds as f64 * 0.4) as i64;
        if (from..from + 10).contains(&s) {
            for (k, ip) in truth.probers.iter().enumerate() {
                line(
                    &mut w,
                    *ip,
                    &ts,
                    format_args!("GET {}", PROBES[(k + s as usize) % PROBES.len()]),
                    404,
                    150,
                    "Go-http-client/1.1",
                )?;
            }
        }
        // Sign-in brute force: two failures a second for two minutes, at 60 %.
        let from = (seconds as f64 * 0.6) as i64;
        if (from..from + 120).contains(&s) {
            for ip in &truth.brute {
                for _ in 0..2 {
                    line(&mut w, *ip, &ts, format_args!("POST /login"), 401, 0, "Mozilla/5.0")?;
                }
            }
        }
        // The distributed flood: 30,000 addresses, one request a second each, for 20 seconds.
        if (seconds / 2..seconds / 2 + 20).contains(&s) {
            for b in 0..truth.bots {
                let ip = Ipv4Addr::new(45, (b >> 16) as u8, (b >> 8) as u8, b as u8);
                line(&mut w, ip, &ts, format_args!("GET /"), 200, 5120, AGENTS[(b % 4) as usize])?;
            }
        }
        pb.set_position((s as u64 + 1) * per_sec);
    }
    pb.finish_and_clear();
    w.flush()?;
    Ok(truth)
}

pub(crate) fn run(a: SocArgs) -> anyhow::Result<()> {
    if a.lines == 0 || a.runs == 0 || a.fans == 0 {
        bail!("--lines, --fans and --runs must be positive");
    }
    let dir = tempfile::tempdir()?;
    let path = a.keep.clone().unwrap_or_else(|| dir.path().join("access.log"));
    let t = Instant::now();
    let truth = generate(&path, a.lines, a.fans)?;
    let size = std::fs::metadata(&path)?.len();
    println!(
        "bench soc: log of {:.0} MB written in {:.1} s ({}); machine: {} cores; one thread",
        size as f64 / 1e6,
        t.elapsed().as_secs_f64(),
        path.display(),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
    );
    let rules = tessera_detect::default_rules();
    println!("rules: the built-in pack, {} rules", rules.len());
    let mut rates = Vec::new();
    for run in 1..=a.runs {
        let mut engine = Engine::new(rules.clone(), Vec::new());
        let mut summary = Summary::default();
        let mut blocked: HashSet<IpAddr> = HashSet::new();
        let mut challenged_at: Option<i64> = None;
        let input = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(&path)?);
        let t = Instant::now();
        let mut chunk = String::new();
        let mut lines = input.lines();
        loop {
            // 4,096 lines at a time in one buffer: the replay reads lines, not a file.
            chunk.clear();
            let mut n = 0;
            for l in lines.by_ref().take(4096) {
                chunk.push_str(&l?);
                chunk.push('\n');
                n += 1;
            }
            if n == 0 {
                break;
            }
            replay::replay(&mut engine, Format::Combined, chunk.lines(), &mut summary, |alert| {
                if let Some(d) = &alert.decision {
                    match (&d.action, &d.scope) {
                        (Decide::Block, Scope::Address(ip)) => {
                            blocked.insert(*ip);
                        }
                        (Decide::Challenge, Scope::Everyone) => {
                            challenged_at.get_or_insert(alert.at_ms);
                        }
                        _ => {}
                    }
                }
            });
        }
        let secs = t.elapsed().as_secs_f64();
        let rate = summary.lines as f64 / secs;
        rates.push(rate);
        let expected = truth.blockable();
        let missed: Vec<_> = expected.iter().filter(|ip| !blocked.contains(ip)).collect();
        let wrong: Vec<_> = blocked.iter().filter(|ip| !expected.contains(ip) && !truth.is_bot(**ip)).collect();
        let keys: usize = engine.stats().iter().map(|s| s.keys).sum();
        let evicted: u64 = engine.stats().iter().map(|s| s.evicted).sum();
        println!(
            "run {run}: {} lines in {secs:.2} s = {rate:.0} lines/s; {} malformed; {} alerts; {} addresses blocked; \
             keys held {keys}, evicted {evicted}; RSS {:.0} MiB (peak {:.0} MiB)",
            summary.lines,
            summary.malformed,
            summary.alerts,
            blocked.len(),
            crate::common::memory_mib("VmRSS:").unwrap_or(f64::NAN),
            crate::common::memory_mib("VmHWM:").unwrap_or(f64::NAN)
        );
        let challenge = challenged_at.map(|at| (at - truth.distributed_at_ms) as f64 / 1000.0);
        println!(
            "  attackers blocked {}/{} (missed {missed:?}); fans blocked {} {wrong:?}; distributed flood of {} addresses: everyone challenged {}",
            expected.len() - missed.len(),
            expected.len(),
            wrong.len(),
            truth.bots,
            match challenge {
                Some(s) => format!("{s:.0} s after it began"),
                None => "NEVER".into(),
            }
        );
        if !missed.is_empty() || !wrong.is_empty() || challenge.is_none() {
            println!("  check: FAILED");
        } else {
            println!("  check: PASSED");
        }
    }
    rates.sort_by(f64::total_cmp);
    println!(
        "median: {:.0} lines/s on one thread ({} runs: {})",
        rates[rates.len() / 2],
        rates.len(),
        rates.iter().map(|r| format!("{r:.0}")).collect::<Vec<_>>().join(" · ")
    );
    Ok(())
}
