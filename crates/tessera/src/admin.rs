//! `tessera admin`: what ticketing operations do from a terminal.

use crate::StoreArgs;
use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tessera_app::{App, AppConfig, SystemClock};
use tessera_domain::catalogue::{demo, import};
use tessera_domain::lottery::{self, CommitmentFile, ResultFile};
use tessera_domain::Timestamp;
use tessera_payments::{SandboxConfig, SandboxProvider};
use tessera_server::data::{open_store, prepare_data_dir, secret_key};
use tessera_server::demo::{spinner, DEMO_SEED};
use tessera_store::{PhaseSettings, Role};

#[derive(Args)]
pub struct AdminArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Import a catalogue file (format: docs/catalogue-format.md); all or nothing.
    ImportCatalogue { file: PathBuf },
    /// Write the built-in Paris 2024-scale demo catalogue in the import format.
    DemoCatalogue { file: PathBuf },
    /// Create a security analyst's account (the SOC console and nothing else); the password is
    /// read from TESSERA_ADMIN_PASSWORD.
    CreateAnalyst {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "Analyst")]
        name: String,
    },
    /// Create a staff account (`accreditation` staff, a `vetting` officer, a collection `desk`,
    /// or a `volunteers` coordinator); the password is read from TESSERA_ADMIN_PASSWORD.
    /// Organisations' officers and volunteer applicants are ordinary accounts.
    CreateStaff {
        #[arg(long)]
        email: String,
        /// `accreditation`, `vetting`, `desk` or `volunteers`.
        #[arg(long)]
        role: String,
        #[arg(long, default_value = "Accreditation staff")]
        name: String,
    },
    /// Import leaked credentials: a dump of `email:password` lines, or SHA-1 lists (`HASH:COUNT`,
    /// as Have I Been Pwned publishes them), from a file or `-` for standard input. Merged into
    /// `<data-dir>/leaked-passwords.txt`, which running nodes reload within a minute; no
    /// password is kept in clear. A dump's accounts whose password it holds are reset by force
    /// and told by mail.
    ImportLeakedPasswords {
        #[arg(long)]
        input: PathBuf,
    },
    /// After the Games: erase every accreditation's personal data (application and photo),
    /// keeping ids, states, cards issued and the audit trail.
    EraseAccreditations {
        /// Required: this cannot be undone.
        #[arg(long)]
        confirm: bool,
    },
    /// The key a device or a probe agent posts observations to the operations centre with:
    /// NAME is a component (a device reports itself) or a vantage point of the TOC model.
    TocKey { name: String },
    /// Print the operations centre's default model (the demo's venues, systems and devices)
    /// as YAML, to edit and pass to `--toc-model`.
    TocModel,
    /// Create an operator account; the password is read from TESSERA_ADMIN_PASSWORD.
    CreateOperator {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "Operator")]
        name: String,
    },
    /// Sales phases and their lottery.
    #[command(subcommand)]
    Phase(PhaseCommand),
    /// Write a phase's published draw files (commitment.json, entries.txt, result.json) to a directory.
    Publish {
        code: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Recompute a draw from its published files alone and say whether it holds.
    VerifyDraw {
        /// Directory holding commitment.json, entries.txt and result.json.
        dir: PathBuf,
    },
    /// Sales figures.
    Sales,
    /// Payments by state and a reconciliation with the payment provider: every disagreement
    /// between the store's payment records and the provider's. Read-only: the running server
    /// fixes what it may every minute (and on `POST /api/v1/admin/payments/reconcile`).
    /// Exits with status 1 when there is a disagreement.
    Reconcile,
    /// Gates: enrol a gate agent, annul an admission.
    #[command(subcommand)]
    Gate(GateCommand),
    /// The waiting room in front of a phase's shop.
    #[command(subcommand)]
    WaitingRoom(WaitingRoomCommand),
    /// The edge's block list: decisions by address, network or account.
    #[command(subcommand)]
    Edge(EdgeCommand),
}

#[derive(Subcommand)]
enum WaitingRoomCommand {
    /// Put a phase's shop behind a waiting room, or change its settings (a running server
    /// picks them up within two seconds).
    Set {
        phase: String,
        /// When the queue opens (RFC 3339); arrivals before it are shuffled at that moment.
        #[arg(long)]
        opens_at: String,
        /// Admissions per second at most.
        #[arg(long)]
        rate: f64,
        /// Admissions per second at least, when the shop struggles.
        #[arg(long)]
        min_rate: Option<f64>,
        /// Admitted fans allowed in the shop at once.
        #[arg(long, default_value_t = 5_000)]
        max_active: u64,
        /// How long an admission pass lasts.
        #[arg(long, default_value_t = 20)]
        pass_minutes: i64,
        /// Keep the rate fixed instead of following the shop's measured capacity.
        #[arg(long)]
        fixed_rate: bool,
        /// Proof-of-work to join: off, on, or auto (on when joins exceed --calm-joins per second).
        #[arg(long, default_value = "auto", value_parser = ["off", "on", "auto"])]
        pow: String,
        #[arg(long, default_value_t = 50.0)]
        calm_joins: f64,
    },
    /// Remove a phase's waiting room.
    Remove { phase: String },
    /// The waiting rooms and their settings.
    List,
}

#[derive(Subcommand)]
enum EdgeCommand {
    /// Block, challenge or throttle an address, a network (IPv4 /24, IPv6 /48) or an account.
    Decide {
        /// address, network or account
        #[arg(long, value_parser = ["address", "network", "account"])]
        scope: String,
        /// 203.0.113.7, 203.0.113.0/24, 2001:db8:1::/48, or an account id
        #[arg(long)]
        value: String,
        #[arg(long, value_parser = ["block", "challenge", "throttle"])]
        kind: String,
        /// Seconds until the decision lapses.
        #[arg(long, default_value_t = 3600)]
        seconds: i64,
        #[arg(long)]
        reason: String,
    },
    /// Lift the decision on a scope.
    Revoke {
        #[arg(long, value_parser = ["address", "network", "account"])]
        scope: String,
        #[arg(long)]
        value: String,
    },
    /// The decisions in force.
    List,
}

#[derive(Subcommand)]
enum PhaseCommand {
    /// Create a phase (caps default to Paris 2024's).
    Create {
        code: String,
        name: String,
        #[arg(long, default_value_t = 30)]
        max_per_account: i64,
        #[arg(long, default_value_t = 6)]
        max_per_session: i64,
        #[arg(long, default_value_t = 4)]
        max_per_ceremony: i64,
        /// Pack rule: an order must span at least this many sessions.
        #[arg(long, default_value_t = 1)]
        min_sessions: i64,
        #[arg(long, default_value_t = 15)]
        cart_minutes: i64,
        #[arg(long, default_value_t = 48)]
        slot_hours: i64,
        #[arg(long, default_value_t = 100_000)]
        wave_size: i64,
        #[arg(long, default_value_t = 48)]
        wave_interval_hours: i64,
        #[arg(long, default_value_t = 48)]
        announce_hours: i64,
        /// How many entries win a slot (default: all).
        #[arg(long)]
        winners: Option<i64>,
    },
    /// Open registration and publish the seed commitment.
    Open {
        code: String,
        #[arg(long)]
        publish: Option<PathBuf>,
    },
    /// Close registration and publish the frozen entry list.
    Close {
        code: String,
        #[arg(long)]
        publish: Option<PathBuf>,
    },
    /// Reveal the seed, rank the entries, assign slots in waves and notify every entrant.
    Draw {
        code: String,
        /// When the first wave opens (RFC 3339); default: now + the phase's announce time.
        #[arg(long)]
        first_wave_at: Option<String>,
        #[arg(long)]
        publish: Option<PathBuf>,
    },
    /// List the phases.
    List,
}

async fn app(store: &StoreArgs) -> anyhow::Result<App> {
    prepare_data_dir(&store.data_dir)?;
    let s = open_store(&store.data_dir, store.database_url.as_deref()).await?;
    let config = AppConfig::new(secret_key(&store.data_dir)?, "http://127.0.0.1:8080");
    // The server's sandbox, read from its journal without writing to it (reconciliation reads
    // it; no admin command moves money).
    let journal = store.data_dir.join("payments-sandbox.jsonl");
    let payments = SandboxProvider::read_journal(&journal, SandboxConfig::default())
        .with_context(|| format!("reading the payment sandbox's journal {}", journal.display()))?;
    let key = secret_key(&store.data_dir)?;
    let app = App::new(s, Arc::new(payments), Arc::new(SystemClock), config);
    match &store.nats_url {
        Some(url) => {
            let bus = tessera_server::connect_bus(url, &key, &format!("admin-{}", std::process::id())).await?;
            // The client connects in the background: give it a moment, so that what this
            // command decides is told to the nodes rather than left for their next refresh.
            for _ in 0..20 {
                if bus.connected() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Ok(app.with_bus(bus))
        }
        None => Ok(app),
    }
}

pub async fn run(args: AdminArgs) -> anyhow::Result<()> {
    match args.command {
        AdminCommand::VerifyDraw { dir } => verify_draw(&dir),
        AdminCommand::DemoCatalogue { file } => {
            let cat = demo::generate(DEMO_SEED);
            std::fs::write(&file, import::to_csv(&cat))?;
            println!(
                "wrote {}: {} venues, {} sessions, {} seats",
                file.display(),
                cat.venues.len(),
                cat.sessions.len(),
                cat.total_seats()
            );
            Ok(())
        }
        command => {
            let app = app(&args.store).await?;
            run_with_store(&app, command, Some(&args.store.data_dir)).await
        }
    }
}

async fn run_with_store(app: &App, command: AdminCommand, leaked_dir: Option<&Path>) -> anyhow::Result<()> {
    match command {
        AdminCommand::WaitingRoom(c) => waiting_room(app, c).await?,
        AdminCommand::Edge(c) => edge(app, c).await?,
        AdminCommand::Gate(c) => gate(app, c).await?,
        AdminCommand::ImportCatalogue { file } => {
            let meta = std::fs::metadata(&file).with_context(|| format!("reading {}", file.display()))?;
            if meta.len() as usize > import::MAX_INPUT_BYTES {
                bail!("{} is larger than {} bytes", file.display(), import::MAX_INPUT_BYTES);
            }
            let text =
                std::fs::read_to_string(&file).with_context(|| format!("{} is not UTF-8 text", file.display()))?;
            let pb = spinner("checking the catalogue");
            let cat = match import::parse(&text) {
                Ok(c) => c,
                Err(e) => {
                    pb.finish_and_clear();
                    bail!("{} was not imported; nothing changed:\n{e}", file.display());
                }
            };
            pb.set_message(format!("importing {} sessions", cat.sessions.len()));
            let stats = app.import_catalogue(&cat).await;
            pb.finish_and_clear();
            let stats = stats.context("import refused; nothing changed")?;
            println!(
                "imported; the catalogue now has {} venues, {} sessions, {} seats",
                stats.venues, stats.sessions, stats.seats
            );
        }
        AdminCommand::CreateAnalyst { email, name } => {
            let password = std::env::var("TESSERA_ADMIN_PASSWORD").context("set TESSERA_ADMIN_PASSWORD")?;
            let a = app.create_account(&email, &password, &name, Role::Analyst).await?;
            app.store.mark_email_verified(a.id).await?;
            println!("analyst {} created", a.email);
        }
        AdminCommand::TocKey { name } => {
            println!("{}", tessera_app::toc::Toc::observer_key(app, &name)?);
        }
        AdminCommand::TocModel => {
            print!("{}", serde_norway::to_string(&tessera_ops::demo::demo_doc())?);
        }
        AdminCommand::CreateStaff { email, role, name } => {
            let role = match Role::parse(&role) {
                Some(r @ (Role::Accreditation | Role::Vetting | Role::Desk | Role::Volunteers)) => r,
                _ => anyhow::bail!("--role must be accreditation, vetting, desk or volunteers"),
            };
            let password = std::env::var("TESSERA_ADMIN_PASSWORD").context("set TESSERA_ADMIN_PASSWORD")?;
            let a = app.create_account(&email, &password, &name, role).await?;
            app.store.mark_email_verified(a.id).await?;
            println!("{} {} created", role.as_str(), a.email);
        }
        AdminCommand::ImportLeakedPasswords { input } => {
            let dir = leaked_dir.context("the leaked-password file lives in the data directory")?;
            let path = dir.join(tessera_app::leaks::LEAKED_FILE);
            let base = match path.exists() {
                true => Some(tessera_app::leaks::read_leaked_file(&path)?.0),
                false => None,
            };
            let size = if input == Path::new("-") { 0 } else { std::fs::metadata(&input)?.len() };
            let bar = indicatif::ProgressBar::new(size);
            bar.set_style(
                indicatif::ProgressStyle::with_template("reading {bar:40} {bytes}/{total_bytes} ({bytes_per_sec})")
                    .map_err(anyhow::Error::msg)?,
            );
            let reader: Box<dyn std::io::BufRead> = if input == Path::new("-") {
                Box::new(std::io::BufReader::new(std::io::stdin()))
            } else {
                Box::new(std::io::BufReader::new(
                    std::fs::File::open(&input).with_context(|| format!("opening {}", input.display()))?,
                ))
            };
            let (set, report) = app.import_leaks(reader, base.as_ref(), |read| bar.set_position(read)).await?;
            bar.finish_and_clear();
            tessera_app::leaks::write_leaked_file(&path, &set)?;
            println!(
                "{} lines read, {} hashes taken, {} bad lines; {} distinct leaked passwords now in {}; {} accounts named, {} reset by force",
                report.lines,
                report.hashes,
                report.bad_lines,
                set.len(),
                path.display(),
                report.accounts_named,
                report.accounts_reset
            );
        }
        AdminCommand::EraseAccreditations { confirm } => {
            if !confirm {
                anyhow::bail!("erasing personal data cannot be undone: add --confirm");
            }
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template("erasing {bar:40} {pos}/{len} accreditations")
                    .map_err(anyhow::Error::msg)?,
            );
            let erased = app
                .erase_accreditations(|done, total| {
                    bar.set_length(total);
                    bar.set_position(done);
                })
                .await?;
            bar.finish_and_clear();
            println!("personal data erased from {erased} accreditations (ids, states and audit trails kept)");
        }
        AdminCommand::CreateOperator { email, name } => {
            let password = std::env::var("TESSERA_ADMIN_PASSWORD").context("set TESSERA_ADMIN_PASSWORD")?;
            let a = app.create_account(&email, &password, &name, Role::Operator).await?;
            app.store.mark_email_verified(a.id).await?;
            println!("operator {} created", a.email);
        }
        AdminCommand::Phase(p) => phase(app, p).await?,
        AdminCommand::Publish { code, out } => publish(app, &code, &out).await?,
        AdminCommand::Sales => {
            let f = app.store.sales_figures(app.now()).await?;
            let c = app.store.catalogue_stats().await?;
            println!("accounts          {}", f.accounts);
            println!("paid orders       {}", f.paid_orders);
            println!("tickets sold      {} of {} seats", f.tickets_sold, c.seats);
            println!("revenue           {}", f.revenue);
            println!("seats in carts    {} ({} live carts)", f.seats_held_in_carts, f.open_carts);
            for p in app.store.list_phases().await? {
                println!("phase {:<10} {:<13} {} entries", p.code, p.status.as_str(), p.entries);
            }
        }
        AdminCommand::Reconcile => {
            let f = app.store.payment_figures().await?;
            for state in tessera_store::PaymentState::ALL {
                println!("payments {:<16} {}", state.as_str(), f.count(state));
            }
            let r = app.reconcile(false).await?;
            println!(
                "reconciled {} provider authorisations with {} payment records: {} disagreements",
                r.provider_authorizations,
                r.store_payments,
                r.disagreements.len()
            );
            for d in &r.disagreements {
                println!("  {:<24} {}  {}", d.kind, d.provider_ref, d.detail);
            }
            if !r.disagreements.is_empty() {
                std::process::exit(1);
            }
        }
        AdminCommand::VerifyDraw { .. } | AdminCommand::DemoCatalogue { .. } => {
            unreachable!("handled without a store")
        }
    }
    Ok(())
}

async fn phase(app: &App, cmd: PhaseCommand) -> anyhow::Result<()> {
    match cmd {
        PhaseCommand::Create {
            code,
            name,
            max_per_account,
            max_per_session,
            max_per_ceremony,
            min_sessions,
            cart_minutes,
            slot_hours,
            wave_size,
            wave_interval_hours,
            announce_hours,
            winners,
        } => {
            let settings = PhaseSettings {
                caps: tessera_domain::caps::Caps {
                    per_account: max_per_account,
                    per_session: max_per_session,
                    per_ceremony: max_per_ceremony,
                    min_sessions_per_order: min_sessions,
                },
                cart_ttl_secs: cart_minutes.saturating_mul(60),
                slot_secs: slot_hours.saturating_mul(3600),
                wave_size,
                wave_interval_secs: wave_interval_hours.saturating_mul(3600),
                announce_ahead_secs: announce_hours.saturating_mul(3600),
                winners,
            };
            let p = app.create_phase(&code, &name, &settings).await?;
            println!("phase {} created ({})", p.code, p.status.as_str());
        }
        PhaseCommand::Open { code, publish: out } => {
            let c = app.open_registration(&code).await?;
            println!("registration of {code} is open; seed commitment (SHA-256): {}", c.seed_sha256);
            if let Some(out) = out {
                publish(app, &code, &out).await?;
            }
        }
        PhaseCommand::Close { code, publish: out } => {
            let text = app.close_registration(&code).await?;
            println!(
                "registration of {code} is closed: {} entries, entries.txt SHA-256 {}",
                text.lines().count(),
                lottery::sha256_hex(text.as_bytes())
            );
            if let Some(out) = out {
                publish(app, &code, &out).await?;
            }
        }
        PhaseCommand::Draw { code, first_wave_at, publish: out } => {
            let first = first_wave_at.map(|t| Timestamp::parse_rfc3339(&t)).transpose().map_err(anyhow::Error::msg)?;
            let pb = spinner("drawing and notifying every entrant");
            let r = app.draw(&code, first).await;
            pb.finish_and_clear();
            let r = r?;
            let p = app.phase(&code).await?;
            println!("{code} drawn: {} entries ranked; seed {} revealed", r.order.len(), r.seed);
            println!("winners: {}", p.settings.winners.map_or(r.order.len() as i64, |w| w.min(r.order.len() as i64)));
            if let Some(out) = out {
                publish(app, &code, &out).await?;
            }
        }
        PhaseCommand::List => {
            for p in app.store.list_phases().await? {
                println!("{:<10} {:<13} {:>8} entries  {}", p.code, p.status.as_str(), p.entries, p.name);
            }
        }
    }
    Ok(())
}

async fn publish(app: &App, code: &str, out: &Path) -> anyhow::Result<()> {
    let p = app.publication(code).await?;
    std::fs::create_dir_all(out)?;
    std::fs::write(out.join("commitment.json"), serde_json::to_string_pretty(&p.commitment)? + "\n")?;
    let mut written = vec!["commitment.json"];
    if let Some(e) = &p.entries {
        std::fs::write(out.join("entries.txt"), e)?;
        written.push("entries.txt");
    }
    if let Some(r) = &p.result {
        std::fs::write(out.join("result.json"), serde_json::to_string_pretty(r)? + "\n")?;
        written.push("result.json");
    }
    println!("published {} to {}", written.join(", "), out.display());
    Ok(())
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<T> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a valid draw file", path.display()))
}

fn verify_draw(dir: &Path) -> anyhow::Result<()> {
    let commitment: CommitmentFile = read_json(&dir.join("commitment.json"))?;
    let result: ResultFile = read_json(&dir.join("result.json"))?;
    let entries_path = dir.join("entries.txt");
    let entries =
        std::fs::read_to_string(&entries_path).with_context(|| format!("reading {}", entries_path.display()))?;
    match lottery::verify(&commitment, &entries, &result) {
        Ok(n) => {
            println!(
                "VALID: phase {}: the revealed seed matches the commitment published at {},",
                result.phase, commitment.published_at
            );
            println!("the entry list matches its digest, and the order of all {n} entries recomputes exactly.");
            Ok(())
        }
        Err(e) => bail!("INVALID: {e}"),
    }
}

async fn waiting_room(app: &App, c: WaitingRoomCommand) -> anyhow::Result<()> {
    use tessera_app::airlock::{PowMode, RoomSettings};
    match c {
        WaitingRoomCommand::Set {
            phase,
            opens_at,
            rate,
            min_rate,
            max_active,
            pass_minutes,
            fixed_rate,
            pow,
            calm_joins,
        } => {
            let opens = Timestamp::parse_rfc3339(&opens_at).map_err(anyhow::Error::msg)?;
            let mut s = RoomSettings::new(opens, rate);
            if let Some(m) = min_rate {
                s.room.min_rate_per_sec = m;
            }
            s.room.max_active = max_active;
            s.room.pass_ttl_ms = pass_minutes.saturating_mul(60_000);
            s.room.auto_rate = !fixed_rate;
            s.calm_joins_per_sec = calm_joins;
            s.pow = match pow.as_str() {
                "off" => PowMode::Off,
                "on" => PowMode::On,
                _ => PowMode::Auto,
            };
            app.configure_waiting_room(&phase, &s).await?;
            println!("waiting room of {phase}: opens {}, up to {rate} admissions/s, proof-of-work {pow}", opens);
        }
        WaitingRoomCommand::Remove { phase } => {
            app.remove_waiting_room(&phase).await?;
            println!("waiting room of {phase} removed: its shop is open to every fan with a slot");
        }
        WaitingRoomCommand::List => {
            for r in app.store.waiting_rooms().await? {
                println!("{}  {}", r.phase_code, r.settings_json);
            }
        }
    }
    Ok(())
}

async fn edge(app: &App, c: EdgeCommand) -> anyhow::Result<()> {
    match c {
        EdgeCommand::Decide { scope, value, kind, seconds, reason } => {
            app.decide_from_text(&scope, &value, &kind, seconds, &reason, "tessera admin".into()).await?;
            let when = if app.node_name().is_some() {
                "every running node applies it now"
            } else {
                "a running server applies it within two seconds; with --nats-url, at once"
            };
            println!("decided: {kind} {scope} {value} for {seconds} s ({when})");
        }
        EdgeCommand::Revoke { scope, value } => {
            if !app.revoke_decision(&tessera_app::airlock::parse_scope(&scope, &value)?).await? {
                bail!("no decision on {scope} {value}");
            }
            println!("lifted: {scope} {value}");
        }
        EdgeCommand::List => {
            for d in app.store.edge_decisions(app.now()).await? {
                println!("{d}");
            }
        }
    }
    Ok(())
}

#[derive(Subcommand)]
pub enum GateCommand {
    /// Print an enrolment token and the bundle key for a gate agent (`tessera gate`).
    Enroll {
        /// The venue's code.
        #[arg(long)]
        venue: String,
        /// A name for the gate: letters, digits, '-' or '_'.
        #[arg(long)]
        gate_id: String,
        /// The entrance it stands at (`Gate-A`); default: any entrance of the venue.
        #[arg(long, default_value = "")]
        entrance: String,
        /// How long the token is valid, in days.
        #[arg(long, default_value_t = 7)]
        days: i64,
    },
    /// Annul a ticket's admission (the turnstile did not turn): it may enter again.
    Annul {
        /// The ticket's code (or its number, as the security events list it).
        ticket: String,
        #[arg(long)]
        reason: String,
    },
    /// Revoke every token issued so far to a gate (a lost or stolen device). Running servers
    /// refuse them within seconds; enrol the gate again to give it a new one.
    Revoke {
        gate_id: String,
        #[arg(long)]
        reason: String,
    },
}

async fn gate(app: &App, c: GateCommand) -> anyhow::Result<()> {
    match c {
        GateCommand::Enroll { venue, gate_id, entrance, days } => {
            let token = app.enroll_gate(&gate_id, &venue, &entrance, days.saturating_mul(86_400)).await?;
            println!("TESSERA_GATE_TOKEN={token}");
            println!("TESSERA_GATE_BUNDLE_KEY={}", app.bundle_public_key_hex());
            println!("# then: tessera gate --central <url of the shop>  (reads both from the environment)");
        }
        GateCommand::Annul { ticket, reason } => {
            let e = app.annul_entry(&ticket, &reason).await?;
            println!("admission of ticket {ticket} annulled (feed event {}); gates will admit it again", e.seq);
        }
        GateCommand::Revoke { gate_id, reason } => {
            app.revoke_gate(&gate_id, &reason).await?;
            println!(
                "gate {gate_id}: every token issued so far is revoked; running servers refuse them within seconds"
            );
        }
    }
    Ok(())
}
