//! `tessera bench sale`: the whole Paris 2024 sale on one machine, through the app's own use
//! cases (no HTTP: the store is what is measured).
//!
//! A generated population (3 million registrants by default) on the demo catalogue (about 750
//! sessions, 10 million seats) with the caps of 30 / 6 / 4: accounts created in bulk with one
//! precomputed password hash (registration is not what is measured), every account entered in
//! the lottery, the verifiable draw assigning slots in waves, then each wave's winners buying
//! within their slot (the clock moved to the wave's opening), each placing one to three
//! orders of one to four tickets in sessions of their choice. Reports each phase's time,
//! orders a second, the peak RSS, and the checks: no category past its quota, the store's
//! tickets equal to the seats sold, and no account past a cap in what the store accepted.

use crate::common::*;
use anyhow::{bail, Context};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tessera_app::{App, AppConfig, ManualClock};
use tessera_domain::{Email, Timestamp};
use tessera_store::{NewAccount, PhaseSettings, Role};

#[derive(Args, Clone)]
pub(crate) struct SaleArgs {
    /// Registrants (every one enters the lottery and wins a slot).
    #[arg(long, default_value_t = 3_000_000)]
    registrants: usize,
    /// Slots per wave.
    #[arg(long, default_value_t = 250_000)]
    wave_size: i64,
    /// Buyers at work at once.
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
    /// `postgres://...` to run on PostgreSQL; default: SQLite in a temporary directory.
    #[arg(long, env = "TESSERA_BENCH_DATABASE_URL")]
    database_url: Option<String>,
}

fn bar(len: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template("{msg:>22} [{bar:40}] {human_pos}/{human_len} {per_sec} eta {eta}")
            .expect("static template")
            .progress_chars("=> "),
    );
    pb.set_message(what.to_string());
    pb
}

pub(crate) async fn run(a: SaleArgs) -> anyhow::Result<()> {
    if a.registrants == 0 || a.wave_size <= 0 || a.concurrency == 0 {
        bail!("--registrants, --wave-size and --concurrency must be positive");
    }
    let dir = tempfile::tempdir()?;
    let store = crate::common::bench_store(a.database_url.as_deref(), &dir.path().join("sale.db")).await?;
    println!(
        "bench sale: {} registrants, waves of {}, {} buyers at once, {} store; machine: {} cores",
        a.registrants,
        a.wave_size,
        a.concurrency,
        if a.database_url.is_some() { "postgres" } else { "sqlite" },
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
    );
    let start = Timestamp::now();
    let clock = Arc::new(ManualClock::new(start));
    let mut key = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
    let config = AppConfig::new(key, "http://127.0.0.1");
    let payments = Arc::new(tessera_payments::SandboxProvider::new(Default::default()));
    let app = App::new(store.clone(), payments, clock.clone(), config);
    let mut timings: Vec<(&str, f64)> = Vec::new();
    let whole = Instant::now();

    // The catalogue: the demo's, starting in a month.
    let t = Instant::now();
    let cat = tessera_domain::catalogue::demo::generate_from(7, start.plus_secs(30 * 86_400));
    app.import_catalogue(&cat).await?;
    let seats = cat.total_seats();
    timings.push(("catalogue", t.elapsed().as_secs_f64()));
    println!("catalogue: {} sessions, {seats} seats in {:.1} s", cat.sessions.len(), t.elapsed().as_secs_f64());
    let mut categories: Vec<(tessera_domain::CategoryId, bool)> = Vec::new();
    for s in &cat.sessions {
        let detail = store.session(s.code.as_str()).await?.context("imported session")?;
        categories.extend(detail.categories.iter().map(|c| (c.id, s.ceremony)));
    }

    // Accounts, in bulk, with one precomputed hash.
    let t = Instant::now();
    let pb = bar(a.registrants as u64, "accounts");
    let hash = "$argon2id$v=19$m=19456,t=2,p=1$YmVuY2hzYWx0$3sM7Bw8P2Lq0Yx1qv2QfVJrJ1mQhWw7wq6p0kzq3y6M".to_string();
    let (st, pbc) = (store.clone(), pb.clone());
    let accounts = for_each_concurrent((0..a.registrants).collect(), a.concurrency, move |i| {
        let (st, hash, pb) = (st.clone(), hash.clone(), pbc.clone());
        async move {
            let acc = st
                .create_account(&NewAccount {
                    email: Email::parse(&format!("fan{i}@sale.tessera.invalid")).map_err(anyhow::Error::msg)?,
                    password_hash: hash,
                    display_name: format!("Fan {i}"),
                    role: Role::Fan,
                    now: start,
                })
                .await?;
            pb.inc(1);
            // Only the id is kept: three million accounts with their hashes would be gigabytes.
            Ok(acc.id)
        }
    })
    .await?;
    pb.finish();
    timings.push(("accounts", t.elapsed().as_secs_f64()));

    // The lottery: entries, close, the draw with its slots in waves.
    let t = Instant::now();
    let settings =
        PhaseSettings { wave_size: a.wave_size, wave_interval_secs: 3600, slot_secs: 3600, ..Default::default() };
    let phase = app.create_phase("SALE", "Paris-scale sale", &settings).await?;
    app.open_registration("SALE").await?;
    let pb = bar(a.registrants as u64, "lottery entries");
    let (st, pbc) = (store.clone(), pb.clone());
    let ids = accounts.clone();
    for_each_concurrent(ids.into_iter().enumerate().collect(), a.concurrency, move |(i, id)| {
        let (st, pb) = (st.clone(), pbc.clone());
        async move {
            let mut r = [0u8; 6];
            r[..4].copy_from_slice(&(i as u32).to_be_bytes());
            st.enter_lottery(phase.id, id, &tessera_domain::lottery::entry_code(r), start).await?;
            pb.inc(1);
            Ok(())
        }
    })
    .await?;
    pb.finish();
    timings.push(("lottery entries", t.elapsed().as_secs_f64()));
    let t = Instant::now();
    app.close_registration("SALE").await?;
    let first_wave = start.plus_secs(3600);
    app.draw("SALE", Some(first_wave)).await?;
    timings.push(("draw", t.elapsed().as_secs_f64()));
    println!(
        "draw: {} entries ranked, slots given, one mail each queued, in {:.1} s",
        a.registrants,
        t.elapsed().as_secs_f64()
    );

    // The sale, wave by wave, the clock at each wave's opening.
    let t = Instant::now();
    let waves = (a.registrants as i64 + a.wave_size - 1) / a.wave_size;
    let pb = bar(a.registrants as u64, "buyers");
    let orders = Arc::new(AtomicUsize::new(0));
    let tickets = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(Mutex::new(HashMap::<String, usize>::new()));
    // What the store accepted, per account and per session (by index): the caps check.
    let session_index: Arc<HashMap<String, u16>> =
        Arc::new(cat.sessions.iter().enumerate().map(|(i, s)| (s.code.as_str().to_string(), i as u16)).collect());
    let held = Arc::new(Mutex::new(HashMap::<(u32, u16), u8>::new()));
    let per_account = Arc::new(Mutex::new(vec![0u8; accounts.len()]));
    let categories = Arc::new(categories);
    let mut slot_of: Vec<(i64, usize)> = Vec::with_capacity(accounts.len());
    for (i, id) in accounts.iter().enumerate() {
        let slot = store.slot(phase.id, *id).await?.context("every entrant has a slot")?;
        slot_of.push(((slot.starts_at.0 - first_wave.0) / 3600, i));
    }
    let accounts = Arc::new(accounts);
    for wave in 0..waves {
        clock.set(Timestamp(first_wave.0 + wave * 3600 + 1));
        let members: Vec<usize> = slot_of.iter().filter(|(w, _)| *w == wave).map(|(_, i)| *i).collect();
        let (app, accounts, categories, pb) = (app.clone(), accounts.clone(), categories.clone(), pb.clone());
        let (orders, tickets, refused, held, per_account) =
            (orders.clone(), tickets.clone(), refused.clone(), held.clone(), per_account.clone());
        let session_index = session_index.clone();
        for_each_concurrent(members, a.concurrency, move |i| {
            let (app, accounts, categories, pb) = (app.clone(), accounts.clone(), categories.clone(), pb.clone());
            let session_index = session_index.clone();
            let (orders, tickets, refused, held, per_account) =
                (orders.clone(), tickets.clone(), refused.clone(), held.clone(), per_account.clone());
            async move {
                let who = tessera_app::auth::Principal {
                    account_id: accounts[i],
                    session_id: String::new(),
                    email: Email::parse(&format!("fan{i}@sale.tessera.invalid")).map_err(anyhow::Error::msg)?,
                    display_name: format!("Fan {i}"),
                    role: Role::Fan,
                    email_verified: true,
                };
                let mut rng = rand::rngs::StdRng::seed_from_u64(i as u64);
                let card = tessera_payments::Card {
                    number: "4242 4242 4242 4242".into(),
                    exp_month: 12,
                    exp_year: 2099,
                    cvc: "123".into(),
                    holder: "Fan".into(),
                };
                for n in 0..rng.gen_range(1..=3) {
                    let (category, _) = categories[rng.gen_range(0..categories.len())];
                    let qty = rng.gen_range(1..=4);
                    match app.buy_now(&who, "SALE", &[(category, qty)], &format!("sale-{i}-{n}"), &card).await {
                        Ok(order) => {
                            orders.fetch_add(1, Ordering::Relaxed);
                            tickets.fetch_add(order.tickets.len(), Ordering::Relaxed);
                            let mut held = held.lock().expect("held");
                            for t in &order.tickets {
                                let s = session_index.get(&t.session_code).copied().unwrap_or(u16::MAX);
                                let n = held.entry((i as u32, s)).or_default();
                                *n = n.saturating_add(1);
                            }
                            let mut per_account = per_account.lock().expect("held");
                            per_account[i] = per_account[i].saturating_add(order.tickets.len() as u8);
                        }
                        Err(e) => {
                            let code = refusal_code(&e);
                            *refused.lock().expect("refused").entry(code).or_default() += 1;
                        }
                    }
                }
                pb.inc(1);
                Ok(())
            }
        })
        .await?;
    }
    pb.finish();
    let sale_secs = t.elapsed().as_secs_f64();
    timings.push(("sale", sale_secs));
    let total_secs = whole.elapsed().as_secs_f64();

    // The checks, from the store and from what it accepted.
    let mut sold = 0i64;
    let mut over = 0usize;
    for s in &cat.sessions {
        for c in store.session(s.code.as_str()).await?.context("session")?.categories {
            sold += c.sold;
            if c.sold + c.held > c.quota {
                over += 1;
            }
        }
    }
    let figures = store.sales_figures(app.now()).await?;
    let caps = tessera_domain::caps::Caps::default();
    let held = std::mem::take(&mut *held.lock().expect("held"));
    let past_session = held
        .iter()
        .filter(|((_, s), n)| {
            let ceremony = cat.sessions.get(usize::from(*s)).is_some_and(|x| x.ceremony);
            i64::from(**n) > if ceremony { caps.per_ceremony } else { caps.per_session }
        })
        .count();
    let past_account = per_account.lock().expect("held").iter().filter(|n| i64::from(**n) > caps.per_account).count();
    let checks_ok = over == 0 && figures.tickets_sold == sold && past_session == 0 && past_account == 0;

    let orders = orders.load(Ordering::Relaxed);
    println!("phases:");
    for (what, secs) in &timings {
        println!("  {what:>16}: {secs:.1} s");
    }
    println!(
        "sale: {orders} paid orders, {} tickets in {sale_secs:.1} s = {:.0} paid orders/s; whole run {total_secs:.1} s ({:.1} min); peak RSS {:.0} MiB",
        tickets.load(Ordering::Relaxed),
        orders as f64 / sale_secs,
        total_secs / 60.0,
        crate::common::memory_mib("VmHWM:").unwrap_or(f64::NAN)
    );
    let mut refused: Vec<_> = refused.lock().expect("refused").drain().collect();
    refused.sort();
    println!("refused: {refused:?}");
    println!(
        "checks: {} (categories past quota {over}; tickets in the store {} for {sold} seats sold; accounts past the per-session or ceremony cap {past_session}, past the per-account cap {past_account})",
        if checks_ok { "PASSED" } else { "FAILED" },
        figures.tickets_sold
    );
    if !checks_ok {
        bail!("a check failed");
    }
    Ok(())
}

/// A refusal's code, for the tally.
fn refusal_code(e: &tessera_app::AppError) -> String {
    use tessera_app::AppError;
    match e {
        AppError::PaymentRefused(r) => r.code.as_str().to_string(),
        AppError::Store(s) => tessera_app::error::refusal(s).map_or("store_fault", |c| c.as_str()).to_string(),
        AppError::Invalid { field, .. } => format!("invalid_{field}"),
        other => format!("{other}").chars().take(40).collect(),
    }
}
