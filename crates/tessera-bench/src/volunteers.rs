//! `tessera bench volunteers`: Paris 2024 had more than 300,000 applications for 45,000
//! positions. The benchmark generates that population with `tessera_volunteers::generate`
//! (not timed), times the matching alone (the pure crate, as a run calls it), then the store's
//! import rate (every application sealed and stored, through the app's use case, in one
//! transaction), and a whole run through the app: every application read and opened, matched,
//! and the run saved with one offer per proposal. SQLite by default, PostgreSQL with
//! `--database-url`. `--exact-instances` then compares the matching's objective with an exact
//! MILP on small instances and states the gap ([`exact`]); `--exact-only` runs that alone.

mod exact;

use anyhow::bail;
use clap::Args;
use std::sync::Arc;
use std::time::Instant;
use tessera_app::volunteers::Programme;
use tessera_app::{App, AppConfig, SystemClock};
use tessera_store::{NewAccount, Role};
use tessera_volunteers::{RefusalScope, RestRules};

#[derive(Args, Clone)]
pub(crate) struct VolunteersArgs {
    /// Applications generated.
    #[arg(long, default_value_t = 300_000)]
    applicants: u32,
    /// Positions to fill (the generator spreads them over (mission, venue, day)).
    #[arg(long, default_value_t = 45_000)]
    positions: u32,
    /// The generator's seed: the same seed, the same population and the same answer.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Skip the store (import and the run through the app): the matching alone.
    #[arg(long)]
    matching_only: bool,
    /// Small generated instances on which the matching is compared with an exact MILP over
    /// every feasible arc (0: none).
    #[arg(long, default_value_t = 20)]
    exact_instances: u32,
    /// Only the comparison with the exact solver: no 300,000-applicant run, no store.
    #[arg(long)]
    exact_only: bool,
    /// `postgres://...` to run on PostgreSQL; default: SQLite in a temporary directory.
    #[arg(long, env = "TESSERA_BENCH_DATABASE_URL")]
    database_url: Option<String>,
}

pub(crate) async fn run(a: VolunteersArgs) -> anyhow::Result<()> {
    if a.exact_only {
        return exact::compare(a.exact_instances, a.seed);
    }
    if a.applicants == 0 || a.positions == 0 {
        bail!("--applicants and --positions must be at least 1");
    }
    println!(
        "bench volunteers: {} applicants, {} positions, seed {}; machine: {} cores",
        a.applicants,
        a.positions,
        a.seed,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let started = Instant::now();
    let input = tessera_volunteers::generate(a.seed, a.applicants, a.positions);
    println!("generate: {:.1} s ({} position rows)", started.elapsed().as_secs_f64(), input.positions.len());

    let started = Instant::now();
    let out = tessera_volunteers::run(&input).map_err(|e| anyhow::anyhow!("input refused: {e}"))?;
    let secs = started.elapsed().as_secs_f64();
    let s = &out.stats;
    let unfilled: u32 = out.unfilled.iter().map(|u| u.open).sum();
    println!(
        "matching: {secs:.1} s; eligible {} of {}, {} buckets, {} arcs, {} open positions, {} matched \
         ({unfilled} positions unfilled in {} buckets), total score {}, {} phases",
        s.eligible,
        s.applicants,
        s.buckets,
        s.arcs,
        s.open_positions,
        s.matched,
        out.unfilled.len(),
        s.total_score,
        s.phases
    );
    if s.matched as usize != out.proposals.len() {
        bail!("{} proposals for {} matched", out.proposals.len(), s.matched);
    }
    if let Some(peak) = crate::common::memory_mib("VmHWM:") {
        println!("peak RSS after matching: {peak:.0} MiB");
    }
    drop(out);
    // After the peak was read: the small instances must not blur the big run's figures.
    if a.exact_instances > 0 {
        exact::compare(a.exact_instances, a.seed)?;
    }
    if a.matching_only {
        return Ok(());
    }

    let dir = tempfile::tempdir()?;
    let store = crate::common::bench_store(a.database_url.as_deref(), &dir.path().join("volunteers.db")).await?;
    let backend = store.backend();
    let mut key = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
    let payments = Arc::new(tessera_payments::SandboxProvider::new(tessera_payments::SandboxConfig::default()));
    let app = App::new(store.clone(), payments, Arc::new(SystemClock), AppConfig::new(key, "http://127.0.0.1"));
    let coordinator = store
        .create_account(&NewAccount {
            email: tessera_domain::Email::parse("coordinator@bench.invalid").map_err(anyhow::Error::msg)?,
            password_hash: "unused".into(),
            display_name: "Bench coordinator".into(),
            role: Role::Volunteers,
            now: app.now(),
        })
        .await?;
    let coordinator = tessera_app::auth::Principal::of_account(&coordinator);
    let programme = Programme {
        policy: input.policy.clone(),
        missions: input.missions.clone(),
        venues: input.venues.clone(),
        positions: input.positions.clone(),
        refusal_scope: RefusalScope::Bucket,
        offer_days: 14,
        rest: RestRules { min_rest_hours: 11, max_consecutive_days: 6, max_days_total: 14 },
        shift_start_hour: 8,
        shift_hours: 8,
    };
    app.put_volunteer_programme(&coordinator, programme).await?;

    let started = Instant::now();
    let ids = app.add_volunteer_applicants(&coordinator, &input.applicants).await?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "import ({backend}): {} applications sealed and stored in one transaction in {secs:.1} s: {:.0} applications/s",
        ids.len(),
        ids.len() as f64 / secs
    );
    drop(input);

    let started = Instant::now();
    let report = app.run_volunteer_matching(&coordinator).await?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "run through the app ({backend}): {secs:.1} s (read and open every application, match, save the run and {} offers)",
        report.summary.offers_made
    );
    if report.summary.offers_made != store.volunteer_offers(None).await?.len() {
        bail!("the offers stored are not the offers made");
    }
    if let Some(peak) = crate::common::memory_mib("VmHWM:") {
        println!("peak RSS: {peak:.0} MiB");
    }
    Ok(())
}
