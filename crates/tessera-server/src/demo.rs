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

/// Where the demo's collection desk listens: the shop's port + 2.
pub fn demo_desk_listen(shop: std::net::SocketAddr) -> std::net::SocketAddr {
    std::net::SocketAddr::new(shop.ip(), shop.port().wrapping_add(2))
}

/// The demo's collection desk.
pub const DEMO_DESK_CODE: &str = "PDV1";

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

/// The demo's accreditation officer (of the French NOC, AFP and the host broadcaster), staff,
/// vetting officer and collection desk.
pub const DEMO_OFFICER: &str = "officer@demo.tessera.invalid";
pub const DEMO_ACCREDITATION: &str = "accreditation@demo.tessera.invalid";
pub const DEMO_VETTING: &str = "vetting@demo.tessera.invalid";
pub const DEMO_DESK: &str = "desk@demo.tessera.invalid";

/// Accreditation's world: three organisations with quotas, their officer, staff, a vetting
/// officer and a desk, and 120 applications imported from a CSV (with a few bad lines and a
/// duplicate, reported as an officer would see them). Screening runs in the background
/// against the sandbox authority; [`demo_accreditation_flow`] then approves and prints.
/// Running it again changes nothing.
pub async fn demo_accreditation(app: &App, password: &str) -> anyhow::Result<()> {
    use tessera_accreditation::OrgKind;
    use tessera_app::accreditation::OrgRecord;
    app.accreditations.use_quick_sandbox(DEMO_SEED);
    if !app.organisations().await?.is_empty() {
        return Ok(());
    }
    let account = |email: &'static str, name: &'static str, role: Role| async move {
        let a = app.create_account(email, password, name, role).await?;
        app.store.mark_email_verified(a.id).await?;
        anyhow::Ok(a)
    };
    let officer = account(DEMO_OFFICER, "Demo accreditation officer", Role::Fan).await?;
    let staff = account(DEMO_ACCREDITATION, "Demo accreditation staff", Role::Accreditation).await?;
    account(DEMO_VETTING, "Demo vetting officer", Role::Vetting).await?;
    account(DEMO_DESK, "Demo collection desk", Role::Desk).await?;
    let staff = tessera_app::auth::Principal::of_account(&staff);
    let quotas = |q: &[(&str, u32)]| q.iter().map(|(c, n)| (c.to_string(), *n)).collect();
    for (code, name, kind, q) in [
        (
            "FRA",
            "Comité national olympique et sportif français",
            OrgKind::Noc,
            quotas(&[("A", 60), ("Ac", 2), ("Am", 18), ("Ao", 10)]),
        ),
        ("AFP", "Agence France-Presse", OrgKind::MediaOutlet, quotas(&[("E", 20), ("EP", 18), ("ET", 3)])),
        ("OBS", "Olympic Broadcasting Services", OrgKind::HostBroadcaster, quotas(&[("HB", 25)])),
    ] {
        let org = OrgRecord { code: code.into(), name: name.into(), kind, officers: vec![officer.id.0], quotas: q };
        app.put_organisation(&staff, org).await?;
    }
    let csv = demo_applications_csv(120);
    let status = app.run_import(0, &tessera_app::auth::Principal::of_account(&officer), csv.as_bytes()).await?;
    println!(
        "demo accreditation: {} applications imported ({} duplicates, {} over quota, {} bad lines)",
        status.added, status.duplicates, status.over_quota, status.rejected
    );
    Ok(())
}

/// The demo's volunteer coordinator, and an applicant who applied through the form.
pub const DEMO_VOLUNTEERS: &str = "volunteers@demo.tessera.invalid";
pub const DEMO_VOLUNTEER: &str = "volunteer@demo.tessera.invalid";

/// The volunteer programme: the crate's synthetic Paris-shaped programme with 150 positions,
/// 400 generated applicants and one through the form, a matching run whose offers are
/// answered (two thirds accepted, one in six refused, the rest outstanding, the form's
/// applicant's left for them to answer on `/volunteer`), a second run that refills the refused
/// positions without moving anyone who accepted, and the roster. Running it again changes
/// nothing.
pub async fn demo_volunteers(app: &App, password: &str) -> anyhow::Result<()> {
    use tessera_app::auth::Principal;
    use tessera_app::volunteers::{ApplicationForm, Programme};
    if app.store.volunteer_counts(app.now()).await?.runs > 0 {
        return Ok(());
    }
    let account = |email: &'static str, name: &'static str, role: Role| async move {
        let a = app.create_account(email, password, name, role).await?;
        app.store.mark_email_verified(a.id).await?;
        anyhow::Ok(Principal::of_account(&a))
    };
    let coordinator = account(DEMO_VOLUNTEERS, "Demo volunteer coordinator", Role::Volunteers).await?;
    let applicant = account(DEMO_VOLUNTEER, "Demo volunteer", Role::Fan).await?;
    let programme = app.put_volunteer_programme(&coordinator, Programme::demo(150)).await?;
    let population = tessera_volunteers::generate(DEMO_SEED, 400, 0).applicants;
    app.add_volunteer_applicants(&coordinator, &population).await?;
    // The form's applicant asks for the first position's mission and venue, all summer.
    let first = programme.positions.first().context("the demo programme has positions")?;
    let form = ApplicationForm {
        birth_date: "1995-03-14".into(),
        country: "FR".into(),
        home_region: "IDF".into(),
        gender: "not_said".into(),
        languages: [("fr".to_string(), "C2".to_string()), ("en".to_string(), "B2".to_string())].into(),
        available_from: "2024-07-18".into(),
        available_to: "2024-09-08".into(),
        preferred_missions: vec![first.mission.to_string()],
        preferred_venues: vec![first.venue.to_string()],
        ..ApplicationForm::default()
    };
    let mine = app.apply_to_volunteer(&applicant, &form).await?.id;
    let first_run = app.run_volunteer_matching(&coordinator).await?;
    let (mut accepted, mut refused) = (0, 0);
    for (i, o) in app.store.volunteer_offers(None).await?.iter().enumerate() {
        if o.application == mine {
            continue;
        }
        match i % 6 {
            0 => {
                app.record_volunteer_answer(&coordinator, o.id, false).await?;
                refused += 1;
            }
            1..=4 => {
                app.record_volunteer_answer(&coordinator, o.id, true).await?;
                accepted += 1;
            }
            _ => {}
        }
    }
    let second_run = app.run_volunteer_matching(&coordinator).await?;
    let roster = app.build_volunteer_roster(&coordinator).await?;
    let s = &first_run.summary;
    println!(
        "demo volunteers: {} applications; run 1: {} offers ({} buckets unfilled); {accepted} accepted, {refused} refused; \
         run 2: {} new offers (refused positions refilled, accepted ones kept); roster: {} shifts for {} volunteers",
        s.stats.applicants,
        s.offers_made,
        s.unfilled.len(),
        second_run.summary.offers_made,
        roster.assignments,
        roster.volunteers
    );
    Ok(())
}

/// A CSV of `n` applications across the demo organisations: names drawn from a fixed list,
/// one person twice (a duplicate), one date of birth in the future and one unknown category
/// (bad lines), so that the import report has something to show.
pub fn demo_applications_csv(n: usize) -> String {
    const GIVEN: [&str; 12] =
        ["Marie", "Léon", "Aïcha", "Jules", "Chloé", "Théo", "Inès", "Hugo", "Zoé", "Louis", "Camille", "Noé"];
    const FAMILY: [&str; 12] = [
        "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau", "Simon",
        "Laurent",
    ];
    let rows: [(&str, &str, &str, &str, &str, &str); 6] = [
        ("FRA", "A", "athlete", "STA OLV", "2 8 9", "DIN TA PT"),
        ("FRA", "Am", "team attaché", "ALL", "2 8 9", "DIN T2 PT"),
        ("AFP", "E", "journalist", "STA MPC", "4 9", "TM PT"),
        ("AFP", "EP", "photographer", "STA AQC MPC", "1 4 9", "TM PT"),
        ("OBS", "HB", "camera operator", "STA IBC", "4 5 9", "TM PT"),
        ("FRA", "A", "athlete", "AQC OLV", "2 8 9", "DIN TA PT"),
    ];
    let mut out = String::from(
        "given_name,family_name,date_of_birth,nationality,document_number,category,function,organisation,venues,zones,privileges\n",
    );
    for i in 0..n {
        let (org, cat, function, venues, zones, privileges) = rows[i % rows.len()];
        let dob = format!("{}-{:02}-{:02}", 1970 + (i * 7) % 35, 1 + i % 12, 1 + (i * 3) % 28);
        let (given, family) = (GIVEN[i % 12], FAMILY[(i / 12) % 12]);
        let document = format!("{}{:07}", if org == "FRA" { "FR" } else { "X" }, 1_000_000 + i * 37);
        out.push_str(&format!(
            "{given},{family},{dob},FRA,{document},{cat},{function},{org},{venues},{zones},{privileges}\n"
        ));
    }
    // The first person again, as another officer might have sent them: a duplicate.
    let first = out.lines().nth(1).unwrap_or_default().to_string();
    out.push_str(&first);
    out.push('\n');
    out.push_str("Ana,Futura,2099-01-01,FRA,FR9999999,A,athlete,FRA,STA,2,DIN\n");
    out.push_str("Bo,Inconnu,1990-01-01,FRA,FR8888888,QQ,athlete,FRA,STA,2,DIN\n");
    out
}

/// Approves what screening cleared and prints cards, as staff at a desk would, a few a
/// second; shows a journalist's card admitted and an athlete's refused at the demo gate (it
/// stands at the stadium's media zone); then a vetting officer records a late hit on one
/// approved person, which revokes every card of theirs at the gates.
pub async fn demo_accreditation_flow(
    app: App,
    gate: Option<std::net::SocketAddr>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    use tessera_app::accreditation::Decision;
    let Ok(Some(staff)) = app.store.account_by_email(&Email::parse(DEMO_ACCREDITATION).expect("static")).await else {
        return;
    };
    let staff = tessera_app::auth::Principal::of_account(&staff);
    let mut revoked_one = false;
    let mut scanned = gate.is_none();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(3)) => {}
            _ = stop.changed() => return,
        }
        let q = tessera_store::AccreditationQuery { state: Some("screening".into()), limit: 10, ..Default::default() };
        let Ok(rows) = app.list_applications(&staff, &q).await else { continue };
        for r in rows.iter().take(4) {
            // Not cleared yet: the decision is refused and the row waits for its answer.
            if app.decide_application(&staff, r.id, Decision::Approve, "").await.is_ok() {
                let _ = app.issue_badge(&staff, r.id, false).await;
            }
        }
        if !scanned {
            scanned = demo_badges_at_the_gate(&app, &staff, gate).await;
        }
        if !revoked_one && scanned {
            let q =
                tessera_store::AccreditationQuery { state: Some("approved".into()), limit: 1, ..Default::default() };
            if let Ok(Some(r)) = app.list_applications(&staff, &q).await.map(|v| v.into_iter().next()) {
                if r.cards > 0
                    && app.record_hit(&staff, r.id, "late finding from the screening authority (demo)").await.is_ok()
                {
                    revoked_one = true;
                }
            }
        }
    }
}

/// A journalist's card and an athlete's card shown to the demo gate (zone 4, media): the
/// first is admitted, the second refused, both in the gate page's list; then the journalist's
/// phone badge, admitted with its renewing code. `true` once done.
async fn demo_badges_at_the_gate(
    app: &App,
    staff: &tessera_app::auth::Principal,
    gate: Option<std::net::SocketAddr>,
) -> bool {
    let Some(gate) = gate else { return true };
    let q = tessera_store::AccreditationQuery { state: Some("approved".into()), limit: 200, ..Default::default() };
    let Ok(rows) = app.list_applications(staff, &q).await else { return false };
    let card = |category: &str| rows.iter().find(|r| r.category == category && r.cards > 0).map(|r| r.id);
    let (Some(journalist), Some(athlete)) = (card("E"), card("A")) else { return false };
    let http = reqwest::Client::new();
    for id in [journalist, athlete] {
        let Ok(badge) = app.current_badge(staff, id).await else { return false };
        match http.post(format!("http://{gate}/scan")).body(badge.text).send().await {
            Ok(r) if r.status().is_success() => {
                let d: serde_json::Value = r.json().await.unwrap_or_default();
                tracing::info!(person = id, admitted = %d["admitted"], reason = %d["reason"], "demo badge at the gate");
            }
            _ => return false,
        }
    }
    demo_phone_badge_at_the_gate(app, journalist, &http, gate).await
}

/// The journalist's badge on their phone: the AFP officer binds a key made here as a phone's
/// browser would make it, and the phone's code for the current step enters at the demo gate.
/// `false` only while the gate does not answer.
async fn demo_phone_badge_at_the_gate(app: &App, id: i64, http: &reqwest::Client, gate: std::net::SocketAddr) -> bool {
    let Ok(Some(officer)) = app.store.account_by_email(&Email::parse(DEMO_OFFICER).expect("static")).await else {
        return true;
    };
    let officer = tessera_app::auth::Principal::of_account(&officer);
    // 32 random bytes are a P-256 secret unless they exceed the group order (about 2^-32).
    let phone = loop {
        if let Ok(k) = p256::ecdsa::SigningKey::from_slice(&rand::random::<[u8; 32]>()) {
            break k;
        }
    };
    let badge = match app.phone_badge(&officer, id, &tessera_credential::device_public_key(&phone)).await {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(person = id, error = %e, "demo phone badge not bound");
            return true;
        }
    };
    let step = tessera_credential::step_at(app.now().0, app.config.tickets.policy.step_secs);
    let code = tessera_accreditation::phone_code(&badge.signed, &phone, step);
    match http.post(format!("http://{gate}/scan")).body(code).send().await {
        Ok(r) if r.status().is_success() => {
            let d: serde_json::Value = r.json().await.unwrap_or_default();
            tracing::info!(person = id, admitted = %d["admitted"], reason = %d["reason"], "demo phone badge at the gate");
            true
        }
        _ => false,
    }
}

/// Passwords breach lists hold that the length and common-word rules alone let through: the
/// demo's leaked set, so that registering with one of them shows the refusal.
pub const DEMO_LEAKED_PASSWORDS: [&str; 8] = [
    "correcthorsebatterystaple",
    "sunshine2024",
    "motdepasse2024",
    "trustno1trustno1",
    "chocolat2024",
    "superman1234",
    "princess2024",
    "baseball2024",
];

/// Writes the demo's leaked set to `<data-dir>/leaked-passwords.txt` unless a file is there
/// (an import replaces it), and loads it.
pub async fn demo_leaked_passwords(app: &App, data_dir: &std::path::Path) -> anyhow::Result<()> {
    let path = data_dir.join(tessera_app::leaks::LEAKED_FILE);
    if !path.exists() {
        // One finding for the SOC: an account of the shop whose own password a dump holds
        // (it chose it before the dump was known). The import resets it by force, mails its
        // owner and reports a `credential_leaked` event.
        let email = "leaky@demo.tessera.invalid";
        let password = format!("reused {}", tessera_app::random_hex(4));
        if app.store.account_by_email(&Email::parse(email).expect("static")).await?.is_none() {
            let a = app.create_account(email, &password, "Demo fan who reused a password", Role::Fan).await?;
            app.store.mark_email_verified(a.id).await?;
        }
        let dump = format!("{email}:{password}\nsomeone@elsewhere.example:{}\n", DEMO_LEAKED_PASSWORDS[1]);
        let base = tessera_lookalike::leaks::LeakedSet::from_hashes(
            DEMO_LEAKED_PASSWORDS.iter().map(|p| (tessera_lookalike::leaks::sha1_of(p.as_bytes()), 1_000)),
        );
        let (set, report) = app.import_leaks(std::io::Cursor::new(dump.into_bytes()), Some(&base), |_| {}).await?;
        tracing::info!(reset = report.accounts_reset, "demo: a leaked dump imported");
        tessera_app::leaks::write_leaked_file(&path, &set)?;
    }
    crate::load_leaked_passwords(app, data_dir);
    Ok(())
}

/// Certificate transparency as the demo replays it: every 8 s a batch of newly logged names,
/// most of them unrelated, one or two lookalikes of the official domains (dnstwist's classes,
/// and a brand with risk words), as certstream's JSON lines, through the SOC's own check.
pub async fn demo_lookalike_feed(app: App, mut stop: tokio::sync::watch::Receiver<bool>) {
    use rand::{Rng, SeedableRng};
    let mut pool: Vec<String> = Vec::new();
    for official in &app.config.official_domains {
        if let Ok(c) = tessera_lookalike::fuzz(official, &tessera_lookalike::FuzzOptions::default()) {
            pool.extend(c.into_iter().map(|c| c.ascii).filter(|a| a != official));
        }
    }
    pool.extend(
        ["paris2024-tickets-resale.shop", "billetterie-paris2024.com", "paris2024.org.secure-checkout.example"]
            .map(String::from),
    );
    if pool.is_empty() {
        return;
    }
    const WORDS: [&str; 12] = [
        "alpha", "bakery", "cloud", "delta", "garden", "harbor", "media", "north", "pixel", "river", "solar", "studio",
    ];
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2024);
    let mut tick = tokio::time::interval(Duration::from_secs(8));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        let mut lines = Vec::new();
        for i in 0..60 {
            let mut names: Vec<String> = (0..3)
                .map(|_| {
                    format!(
                        "{}{}.{}",
                        WORDS[rng.gen_range(0..WORDS.len())],
                        rng.gen_range(1..999),
                        ["com", "net", "fr", "io"][rng.gen_range(0..4)]
                    )
                })
                .collect();
            if i == 0 || rng.gen_bool(0.01) {
                names.push(pool[rng.gen_range(0..pool.len())].clone());
            }
            lines.push(
                serde_json::json!({"message_type": "certificate_update", "data": {"leaf_cert": {"all_domains": names, "issuer": {"O": "Let's Encrypt"}}, "source": {"name": "Demo CT log (replayed)"}}})
                    .to_string(),
            );
        }
        if let Err(e) = app.check_domain_names(&lines.join("\n")).await {
            tracing::warn!(error = %e, "demo: names not checked");
        }
    }
}
