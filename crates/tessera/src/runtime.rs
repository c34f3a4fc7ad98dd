//! Opening the store and running the server with its background tasks.

use crate::{ServeArgs, StoreArgs};
use anyhow::{bail, Context};
use std::path::Path;
use std::sync::Arc;
use tessera_app::{App, AppConfig, SystemClock};
use tessera_mail::Transport;
use tessera_payments::{SandboxConfig, SandboxProvider};
use tessera_store::Store;

pub async fn open_store(args: &StoreArgs) -> anyhow::Result<Arc<dyn Store>> {
    match &args.database_url {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            let s = tessera_store_postgres::PgStore::connect(url).await.context("connecting to PostgreSQL")?;
            Ok(Arc::new(s))
        }
        Some(other) => {
            bail!("unsupported database URL {other:?}: use postgres://... or leave it unset for the embedded store")
        }
        None => {
            let path = args.data_dir.join("tessera.db");
            let s = tessera_store_sqlite::SqliteStore::open(&path, tessera_store_sqlite::Durability::Full)
                .with_context(|| format!("opening {}", path.display()))?;
            Ok(Arc::new(s))
        }
    }
}

/// The key that signs tokens and cookies: `TESSERA_SECRET_KEY` (64 hex digits, shared by every
/// node), else a file in the data directory created on first start.
pub fn secret_key(data_dir: &Path) -> anyhow::Result<[u8; 32]> {
    if let Ok(hexkey) = std::env::var("TESSERA_SECRET_KEY") {
        let bytes = hex::decode(hexkey.trim()).context("TESSERA_SECRET_KEY is not hex")?;
        return bytes.try_into().map_err(|_| anyhow::anyhow!("TESSERA_SECRET_KEY must be 32 bytes (64 hex digits)"));
    }
    let path = data_dir.join("secret.key");
    if let Ok(bytes) = std::fs::read(&path) {
        return bytes.try_into().map_err(|_| anyhow::anyhow!("{} must hold exactly 32 bytes", path.display()));
    }
    std::fs::create_dir_all(data_dir)?;
    let mut key = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
    write_private(&path, &key)?;
    Ok(key)
}

/// Where the metrics are, for the banner.
struct MetricsAt {
    private: Option<std::net::SocketAddr>,
    token_file: Option<std::path::PathBuf>,
}

/// Who may read `/metrics`: on `--metrics-listen` anyone who reaches that address; otherwise a
/// bearer token, the scrape token from its file (made at first start) or an operator's.
fn metrics_access(args: &ServeArgs) -> anyhow::Result<(tessera_http::exposition::MetricsAccess, MetricsAt)> {
    use tessera_http::exposition::MetricsAccess;
    if let Some(a) = args.metrics_listen {
        return Ok((MetricsAccess::Elsewhere, MetricsAt { private: Some(a), token_file: None }));
    }
    let path = args.metrics_token_file.clone().unwrap_or_else(|| args.store.data_dir.join("metrics-token"));
    if args.metrics_token_file.is_none() && !path.exists() {
        write_private(&path, tessera_app::random_hex(32).as_bytes())?;
    }
    let token =
        std::fs::read_to_string(&path).with_context(|| format!("reading the metrics token {}", path.display()))?;
    let token = token.trim().to_string();
    if token.len() < 32 || !token.chars().all(|c| c.is_ascii_graphic()) {
        bail!("the metrics token in {} must be at least 32 printable characters, on one line", path.display());
    }
    Ok((MetricsAccess::ScrapeToken(token.into()), MetricsAt { private: None, token_file: Some(path) }))
}

pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    opts.open(path)?.write_all(bytes)?;
    Ok(())
}

/// Makes sure the data directory is a directory this process can write, and says why not
/// otherwise: SQLite's own words ("unable to open database file", "File exists") do not.
pub fn prepare_data_dir(dir: &Path) -> anyhow::Result<()> {
    if let Ok(meta) = std::fs::metadata(dir) {
        if !meta.is_dir() {
            bail!(
                "the data directory {} is a file, not a directory: pass --data-dir a directory (it is created if missing)",
                dir.display()
            );
        }
    }
    if let Err(e) = std::fs::create_dir_all(dir) {
        bail!(
            "cannot create the data directory {}: {e}; pass --data-dir a directory this user may write",
            dir.display()
        );
    }
    let probe = dir.join(format!(".tessera-write-check-{}", std::process::id()));
    match std::fs::OpenOptions::new().write(true).create(true).truncate(true).open(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => bail!(
            "the data directory {} is not writable by this user ({e}): the database, the signing key and the demo mail live there; \
             pass --data-dir a directory this user may write, or fix its permissions",
            dir.display()
        ),
    }
}

pub async fn build_app(args: &ServeArgs) -> anyhow::Result<App> {
    prepare_data_dir(&args.store.data_dir)?;
    let store = open_store(&args.store).await?;
    let public_url = args.public_url.clone().unwrap_or_else(|| format!("http://{}", args.listen));
    let mut config = AppConfig::new(secret_key(&args.store.data_dir)?, public_url.trim_end_matches('/'));
    let quota = |per_second: f64, burst_secs: f64| tessera_airlock::gcra::Quota {
        per_second,
        burst: (per_second * burst_secs).ceil().min(u32::MAX as f64) as u32,
    };
    config.edge_limits.per_address = quota(args.edge_per_address, 3.0);
    config.edge_limits.per_network = quota(args.edge_per_network, 2.0);
    // No real payment provider is wired in yet: the sandbox behaves like one in test mode,
    // and keeps its authorisations across restarts as a real provider does.
    let journal = args.store.data_dir.join("payments-sandbox.jsonl");
    let payments = Arc::new(
        SandboxProvider::open(&journal, SandboxConfig::default())
            .with_context(|| format!("opening the payment sandbox's journal {}", journal.display()))?,
    );
    Ok(App::new(store, payments, Arc::new(SystemClock), config))
}

pub async fn serve(args: ServeArgs, demo: bool) -> anyhow::Result<()> {
    // The port first: a port in use is said at once, before a database is created or migrated.
    let listener = tokio::net::TcpListener::bind(args.listen).await.map_err(|e| match e.kind() {
        std::io::ErrorKind::AddrInUse => anyhow::anyhow!(
            "cannot listen on {}: the address is already in use (another Tessera?); stop it or pass --listen another port",
            args.listen
        ),
        _ => anyhow::Error::new(e).context(format!("listening on {}", args.listen)),
    })?;
    let app = build_app(&args).await?;
    let mail_dir = args.store.data_dir.join("mail");
    let transport: Arc<dyn Transport> = match &args.smtp_url {
        Some(url) => Arc::new(tessera_mail::SmtpTransport::new(url, &args.smtp_from).context("TESSERA_SMTP_URL")?),
        None => Arc::new(tessera_mail::FileTransport::new(&mail_dir)),
    };
    let demo_password = if demo { Some(crate::admin::demo_password(&args.store.data_dir)?) } else { None };
    let demo_venue = if let Some(password) = &demo_password {
        crate::admin::demo_setup(&app, password).await?;
        crate::admin::demo_waiting_room(&app).await?;
        Some(crate::admin::demo_live_session(&app).await?)
    } else {
        None
    };
    let addr = listener.local_addr()?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    app.refresh_airlock().await.context("loading the waiting rooms and the block list")?;
    let tasks = vec![
        tokio::spawn(tessera_app::background::outbox_loop(app.clone(), transport.clone(), stop_rx.clone())),
        tokio::spawn(tessera_app::background::sweeper_loop(app.clone(), stop_rx.clone())),
        tokio::spawn(tessera_app::background::airlock_loop(app.clone(), stop_rx.clone())),
        tokio::spawn(tessera_app::background::payments_loop(app.clone(), stop_rx.clone())),
    ];
    let (access, metrics_at) = metrics_access(&args)?;
    let state = tessera_http::AppState::new(app.clone(), demo, args.smtp_url.is_none().then_some(mail_dir.clone()))
        .with_metrics_access(access);
    if let Some(private) = &metrics_at.private {
        let router = tessera_http::exposition::private_router(state.clone());
        let mut stop = stop_rx.clone();
        let private = tokio::net::TcpListener::bind(private)
            .await
            .with_context(|| format!("listening for metrics on {private}"))?;
        tokio::spawn(async move {
            let shutdown = async move {
                let _ = stop.changed().await;
            };
            if let Err(e) = axum::serve(private, router).with_graceful_shutdown(shutdown).await {
                tracing::error!(error = %e, "the metrics listener stopped");
            }
        });
    }
    let mut demo_gate = None;
    if let Some(venue) = &demo_venue {
        let gate = crate::gate::GateArgs {
            central: format!("http://{addr}"),
            token: app.enroll_gate("DEMO-1", venue, "", 86_400).await?,
            bundle_key: app.bundle_public_key_hex(),
            bundle_key_id: tessera_app::gates::BUNDLE_KEY_ID,
            data_dir: args.store.data_dir.join("demo-gate"),
            listen: crate::admin::demo_gate_listen(addr),
            venue_bus: None,
            stdin: false,
            sync_interval_ms: 250,
        };
        demo_gate = Some(gate.listen);
        // The agent fetches its bundle from this server, which is not serving yet: it starts
        // beside it and retries until the shop answers.
        tokio::spawn(async move {
            for _ in 0..60 {
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                match crate::gate::run(gate.clone()).await {
                    Ok(()) => return,
                    Err(e) => tracing::debug!(error = %format!("{e:#}"), "demo gate not started yet"),
                }
            }
            tracing::warn!("the demo gate did not start");
        });
    }
    let figures = app.catalogue_figures().await?;
    let banner = Banner {
        demo,
        transport: transport.name(),
        mail_dir: &mail_dir,
        gate: demo_gate,
        figures: &figures,
        metrics_at: &metrics_at,
        demo_password: demo_password.as_deref().unwrap_or_default(),
    };
    print_banner(&app, addr, banner);
    tessera_http::serve(listener, state, shutdown_signal()).await?;
    tracing::info!("stopping background tasks");
    let _ = stop_tx.send(true);
    for t in tasks {
        let _ = t.await;
    }
    tracing::info!("stopped");
    Ok(())
}

/// What the start-up banner shows beside the app itself.
struct Banner<'a> {
    demo: bool,
    transport: &'a str,
    mail_dir: &'a Path,
    gate: Option<std::net::SocketAddr>,
    figures: &'a str,
    metrics_at: &'a MetricsAt,
    demo_password: &'a str,
}

fn print_banner(app: &App, addr: std::net::SocketAddr, b: Banner<'_>) {
    let Banner { demo, transport, mail_dir, gate, figures, metrics_at, demo_password } = b;
    let url = &app.config.public_url;
    println!();
    println!("  Tessera is running on http://{addr} ({} store)", app.store.backend());
    println!();
    println!("  Shop:            {url}/");
    println!("  Sessions:        {url}/sessions");
    println!("  Catalogue:       {figures}");
    println!("  API document:    {url}/api/openapi.json");
    println!("  Health:          {url}/healthz  {url}/readyz");
    match (&metrics_at.private, &metrics_at.token_file) {
        (Some(a), _) => println!("  Metrics:         http://{a}/metrics  (private address, no token)"),
        (None, Some(f)) => println!("  Metrics:         {url}/metrics  (bearer token in {})", f.display()),
        (None, None) => println!("  Metrics:         {url}/metrics  (an operator's bearer token)"),
    }
    if demo {
        println!("  Demo mailbox:    {url}/mailbox   (mail is also written to {})", mail_dir.display());
        println!();
        println!("  Demo fan:        {}  password: {demo_password}", crate::admin::DEMO_FAN);
        println!("                   (drawn in phase P1, purchase slot open now: {url}/phases/P1)");
        println!(
            "  Waiting room:    {url}/phases/P1/queue  (opens {} s after start; 150 demo fans already wait)",
            crate::admin::DEMO_QUEUE_OPENS_AFTER_SECS
        );
        println!("  Airlock figures: {url}/operator/airlock  (as the demo operator)");
        println!("  Demo operator:   {}  password: {demo_password}", crate::admin::DEMO_OPERATOR);
        println!("  Lottery open:    {url}/phases/P2 (register a new account to enter)");
        println!("  Phone wallet:    {url}/wallet  (as the demo fan: a live code for tonight's session)");
        if let Some(g) = gate {
            println!("  Gate page:       http://{g}/  (copy the wallet's code text into it: admit, then already used)");
        }
        println!("  Gates figures:   {url}/operator/gates  (as the demo operator)   Resale: {url}/resale");
    } else {
        println!("  Mail transport:  {transport}");
    }
    println!();
    println!("  Stop with Ctrl-C.");
    println!();
}

pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutdown signal received; finishing requests in flight");
}

#[cfg(test)]
mod tests {
    use super::prepare_data_dir;

    #[test]
    fn a_data_dir_that_is_a_file_or_cannot_be_made_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plain");
        std::fs::write(&file, b"x").unwrap();
        let e = prepare_data_dir(&file).unwrap_err().to_string();
        assert!(e.contains("is a file, not a directory"), "{e}");
        let e = prepare_data_dir(&file.join("below")).unwrap_err().to_string();
        assert!(e.contains("cannot create the data directory"), "{e}");
        prepare_data_dir(&dir.path().join("new/nested")).unwrap();
        assert_eq!(std::fs::read_dir(dir.path().join("new/nested")).unwrap().count(), 0, "the probe is removed");
    }

    #[cfg(unix)]
    #[test]
    fn an_unwritable_data_dir_says_so() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let ro = dir.path().join("ro");
        std::fs::create_dir(&ro).unwrap();
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o500)).unwrap();
        if std::fs::write(ro.join("probe"), b"").is_ok() {
            // Root writes anywhere: nothing to check here (the message is the same code path).
            eprintln!("SKIPPED: running as a user who may write a read-only directory");
            return;
        }
        let e = prepare_data_dir(&ro).unwrap_err().to_string();
        assert!(e.contains("is not writable by this user"), "{e}");
    }
}
