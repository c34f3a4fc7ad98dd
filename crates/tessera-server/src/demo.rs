//! The demo's world: the Paris-scale catalogue, demo accounts and phases, a waiting room about
//! to open and a session tonight with tickets that show a code, so that `tessera demo` shows
//! every capability from its first minute.

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use std::time::Duration;
use tessera_app::App;
use tessera_domain::catalogue::demo;
use tessera_domain::{lottery, Email};
use tessera_store::{NewAccount, PhaseSettings, PhaseStatus, Role};

pub const DEMO_FAN: &str = "fan@demo.tessera.invalid";
pub const DEMO_OPERATOR: &str = "ops@demo.tessera.invalid";
/// The demo's security analyst: the security console only.
pub const DEMO_ANALYST: &str = "soc@demo.tessera.invalid";
/// The demo accounts' password: made at the first start, kept in `<data-dir>/demo-password`
/// and shown in the banner, never a published one, so that a demo left running on a reachable
/// address cannot be signed into by whoever read the README.
pub fn demo_password(data_dir: &std::path::Path) -> anyhow::Result<String> {
    let path = data_dir.join("demo-password");
    if let Ok(p) = std::fs::read_to_string(&path) {
        let p = p.trim();
        if p.len() >= 12 {
            return Ok(p.to_string());
        }
    }
    let password = format!("demo {}", tessera_app::random_hex(6));
    crate::data::write_private(&path, password.as_bytes())?;
    Ok(password)
}
pub const DEMO_SEED: u64 = 2024;

/// Makes the demo's world on first start: the Paris-scale catalogue, an operator, a fan with an
/// open purchase slot in phase P1, 200 more fans, and phase P2 open for lottery entries.
/// Running it again changes nothing.
pub async fn demo_setup(app: &App, password: &str) -> anyhow::Result<()> {
    if app.store.catalogue_stats().await?.sessions == 0 {
        let pb = spinner("generating the Paris 2024-scale demo catalogue");
        // The programme starts tomorrow, so that every session is still to come: on the real
        // 2024 dates the demo fan would buy tickets the wallet shows as over.
        let cat = demo::generate_from(DEMO_SEED, app.now().plus_secs(86_400));
        pb.set_message(format!(
            "importing {} venues, {} sessions, {} seats",
            cat.venues.len(),
            cat.sessions.len(),
            cat.total_seats()
        ));
        let stats = app.import_catalogue(&cat).await;
        pb.finish_and_clear();
        stats?;
        // The figures are in the banner, read once everything (the live session too) is in.
        println!("demo catalogue imported");
    }
    if app.store.phase("P1").await?.is_some() {
        return Ok(());
    }
    let pb = spinner("creating demo accounts and phases");
    let op = app.create_account(DEMO_OPERATOR, password, "Demo operator", Role::Operator).await?;
    app.store.mark_email_verified(op.id).await?;
    let analyst = app.create_account(DEMO_ANALYST, password, "Demo analyst", Role::Analyst).await?;
    app.store.mark_email_verified(analyst.id).await?;
    let fan = app.create_account(DEMO_FAN, password, "Marie Demo", Role::Fan).await?;
    app.store.mark_email_verified(fan.id).await?;
    // The other fans share the demo password's hash: hashing 200 times would only slow the start.
    let mut fans = vec![fan.id];
    for i in 1..=200 {
        let a = app
            .store
            .create_account(&NewAccount {
                email: Email::parse(&format!("fan{i}@demo.tessera.invalid")).map_err(anyhow::Error::msg)?,
                password_hash: fan.password_hash.clone(),
                display_name: format!("Demo fan {i}"),
                role: Role::Fan,
                now: app.now(),
            })
            .await?;
        app.store.mark_email_verified(a.id).await?;
        fans.push(a.id);
    }
    app.create_phase("P1", "Phase 1: lottery for packs and single tickets", &PhaseSettings::default()).await?;
    app.open_registration("P1").await?;
    let p1 = app.phase("P1").await?;
    for (i, id) in fans.iter().enumerate() {
        let mut random = [0u8; 6];
        random[..4].copy_from_slice(&(i as u32).to_be_bytes());
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut random[4..]);
        app.store.enter_lottery(p1.id, *id, &lottery::entry_code(random), app.now()).await?;
    }
    app.close_registration("P1").await?;
    // Slots opened an hour ago, so the demo fan can buy right away.
    app.draw("P1", Some(app.now().plus_secs(-3600))).await?;
    app.create_phase("P2", "Phase 2: second lottery", &PhaseSettings::default()).await?;
    app.open_registration("P2").await?;
    pb.finish_and_clear();
    debug_assert_eq!(app.phase("P2").await?.status, PhaseStatus::Registration);
    println!("demo accounts and phases created");
    Ok(())
}

/// How long after `tessera demo` starts the demo's waiting room opens: long enough to see the
/// pre-queue, short enough to watch the opening.
pub const DEMO_QUEUE_OPENS_AFTER_SECS: i64 = 60;

/// Puts phase P1's shop behind a waiting room that opens a minute from now, with 150 demo fans
/// already in the pre-queue, so that the demo fan sees the shuffle at opening, a live
/// position and the moment it is their turn. Counters live in memory: every start gets a
/// fresh room.
pub async fn demo_waiting_room(app: &App) -> anyhow::Result<()> {
    use tessera_app::airlock::{PowMode, RoomSettings};
    let opens_at = app.now().plus_secs(DEMO_QUEUE_OPENS_AFTER_SECS);
    let mut settings = RoomSettings::new(opens_at, 2.0);
    settings.room.min_rate_per_sec = 1.0;
    settings.pow = PowMode::Off;
    app.configure_waiting_room("P1", &settings).await?;
    for i in 1..=150 {
        let email = Email::parse(&format!("fan{i}@demo.tessera.invalid")).map_err(anyhow::Error::msg)?;
        let Some(a) = app.store.account_by_email(&email).await? else { continue };
        let who = tessera_app::auth::Principal::of_account(&a);
        app.join_queue(&who, "P1", None, None).await?;
    }
    // From now on a join pays a proof-of-work whenever joins arrive faster than 50 a second.
    settings.pow = PowMode::Auto;
    app.configure_waiting_room("P1", &settings).await?;
    Ok(())
}

/// Where the demo's gate agent listens: the shop's port + 1.
pub fn demo_gate_listen(shop: std::net::SocketAddr) -> std::net::SocketAddr {
    std::net::SocketAddr::new(shop.ip(), shop.port().wrapping_add(1))
}

/// A session starting within the hour at a demo venue, with two tickets each for the demo fan
/// and demo fan 1, unless the demo fan still holds a ticket that shows a code. Returns the
/// venue's code. The Paris-scale catalogue starts the day after the demo was set up: its
/// tickets cannot show a code tonight.
pub async fn demo_live_session(app: &App) -> anyhow::Result<String> {
    let fan = app.store.account_by_email(&Email::parse(DEMO_FAN).map_err(anyhow::Error::msg)?).await?;
    let fan = fan.context("the demo fan is missing")?;
    let who = tessera_app::auth::Principal::of_account(&fan);
    for t in app.wallet(&who).await? {
        if matches!(t.state, "ready" | "active") {
            if let Some(s) = app.store.session(&t.session_code).await? {
                return Ok(s.summary.venue_code);
            }
        }
    }
    // Demo fan 1 holds tickets at the same session, so that a transfer or a resale has
    // someone on the other side and the gate someone else to admit.
    let mut holders = vec![fan];
    let other =
        app.store.account_by_email(&Email::parse("fan1@demo.tessera.invalid").map_err(anyhow::Error::msg)?).await?;
    holders.extend(other);
    let live = app.live_session(&holders, 2, 45 * 60).await?;
    Ok(live.venue_code)
}

/// A spinner on standard error for a step of unknown length.
pub fn spinner(msg: &str) -> ProgressBar {
    let pb = ProgressBar::new_spinner();
    pb.set_style(ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("static template"));
    pb.enable_steady_tick(Duration::from_millis(100));
    pb.set_message(msg.to_string());
    pb
}

/// The demo's security traffic, simulated and said to be: fans signing in from addresses of
/// the documentation range 198.51.100.0/24 a few times a second, and every three minutes
/// (the first 20 seconds after start) a credential-stuffing run from one address of
/// 203.0.113.0/24 trying twelve accounts. The events go to the node's own engine as its
/// sign-ins do; what it decides (a block of that address) is real, in the block list and on
/// the consoles (`/operator/soc`, `/operator/airlock`). No real request is made: through
/// HTTP every attempt would come from the demo visitor's own address, which would be blocked.
pub async fn demo_security_traffic(app: App, mut stop: tokio::sync::watch::Receiver<bool>) {
    use tessera_detect::{Event, Kind, Outcome};
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(250));
    let mut n: u64 = 0;
    let first_attack = 80; // ticks: 20 s
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        n += 1;
        let now = app.now_ms();
        let mut fan = Event::new(now, Kind::SigninSucceeded);
        fan.outcome = Outcome::Success;
        fan.source = Some(std::net::IpAddr::from([198, 51, 100, (n % 200) as u8 + 1]));
        fan.account = Some(1_000 + n % 500);
        fan.user = Some(format!("demo-fan-{}", n % 500));
        app.observe(fan);
        if n >= first_attack && (n - first_attack).is_multiple_of(720) {
            let run = (n - first_attack) / 720;
            let attacker = std::net::IpAddr::from([203, 0, 113, (run % 250) as u8 + 1]);
            for k in 0..12 {
                let mut e = Event::new(now + k, Kind::SigninFailed);
                e.outcome = Outcome::Failure;
                e.source = Some(attacker);
                e.user = Some(format!("leaked-{run}-{k}@example.org"));
                app.observe(e);
            }
            tracing::info!(%attacker, "demo: a simulated credential-stuffing run");
        }
    }
}

/// The demo's results: a venue result system publishing a competition day through the same
/// door as a real one (a source key, the ODF rules): each of a few finals goes from its start
/// list through live versions to unofficial and official, and one official result is
/// corrected a little later, so that the public page and the medal table move.
pub async fn demo_results(app: App, mut stop: tokio::sync::watch::Receiver<bool>) {
    const FINALS: [(&str, &str, [&str; 8]); 6] = [
        ("ATHM100M----------FNL-000100--", "ATHOLY1", ["USA", "JAM", "USA", "RSA", "JAM", "ITA", "BOT", "GBR"]),
        ("SWMW100MFR--------FNL-000100--", "SWMLDF1", ["AUS", "CAN", "USA", "CHN", "SWE", "AUS", "HKG", "NED"]),
        ("CTRM4000MIP-------FNL-000100--", "CTRSQY1", ["ITA", "DEN", "GBR", "AUS", "NZL", "FRA", "GER", "JPN"]),
        ("JUDX-TEAM---------FNL-000100--", "JUDCDM1", ["FRA", "JPN", "KOR", "GER", "UZB", "NED", "GEO", "ITA"]),
        ("ATHW400MH---------FNL-000100--", "ATHOLY1", ["USA", "USA", "NED", "JAM", "NED", "GBR", "PAN", "AUS"]),
        ("SWMM200MBF--------FNL-000100--", "SWMLDF1", ["FRA", "HUN", "CAN", "USA", "ITA", "GBR", "JPN", "AUS"]),
    ];
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(2));
    let mut step: u64 = 0;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        // Each final takes 12 steps (24 s): start list, 8 live versions, unofficial, official,
        // and, for every other final, a correction swapping the bronze and fourth places.
        let (i, phase) = ((step / 12) as usize % FINALS.len(), step % 12);
        let round = step / (12 * FINALS.len() as u64);
        step += 1;
        let (code, source, field) = FINALS[i];
        let status = match phase {
            0 => "START_LIST",
            1..=8 => "LIVE",
            9 => "UNOFFICIAL",
            10 => "OFFICIAL",
            _ if i % 2 == 0 => "OFFICIAL",
            _ => continue,
        };
        let mut order: Vec<&str> = field.to_vec();
        if phase == 11 {
            order.swap(2, 3);
        }
        let ranking: Vec<serde_json::Value> = if phase == 0 {
            Vec::new()
        } else {
            order.iter().enumerate().map(|(k, org)| serde_json::json!({"rank": k + 1, "organisation": org})).collect()
        };
        let disciplines = vec![code[..3].to_string()];
        let Ok((key, _)) = app.issue_results_source(source, &disciplines) else { continue };
        let Ok(rights) = app.results_source(&key) else { continue };
        let version = round * 12 + phase + 1;
        let doc = serde_json::json!({
            "competition": "OG2024", "document_code": code, "document_type": "DT_RESULT",
            "version": version, "result_status": status, "feed_flag": "P",
            "date": "2024-08-04", "time": "213000000", "logical_date": "2024-08-04", "source": source,
            "body": {"phase": phase}, "ranking": ranking,
        });
        if let Err(e) = app.publish_result(&rights, false, doc.to_string().as_bytes()).await {
            tracing::warn!(error = %e, "demo: a result was refused");
        }
    }
}
