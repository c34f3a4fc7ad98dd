//! One Tessera node, assembled: the store, the application, the HTTP server and every
//! background loop, started together and stopped together.
//!
//! `Server::build(config)` opens the store and builds the app (and, for the demo, its world);
//! `Server::run(shutdown)` spawns the background loops, serves until `shutdown` resolves, then
//! stops the loops and waits for them. `tessera serve`, `tessera demo` and the process tests all
//! start this same thing; the binary keeps only the command line.

pub mod config;
pub mod data;
pub mod demo;
mod demo_toc;
mod follow;

use anyhow::{bail, Context};
use secrecy::{ExposeSecret, SecretString};
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tessera_app::{App, AppConfig, SystemClock};
use tessera_mail::Transport;
use tessera_payments::{SandboxConfig, SandboxProvider};

/// Everything a node needs to start, whatever gave it (command line, environment).
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// The embedded database, the signing key, tokens and the demo's mail live here.
    pub data_dir: PathBuf,
    /// `postgres://...` for PostgreSQL instead of the embedded SQLite file.
    pub database_url: Option<SecretString>,
    /// The URL fans reach the shop at, used in mailed links (default: `http://<listen>`).
    pub public_url: Option<String>,
    pub smtp_url: Option<SecretString>,
    pub smtp_from: String,
    /// Serve `/metrics` on this private address only, without a token.
    pub metrics_listen: Option<SocketAddr>,
    /// The scrape token's file (default `<data-dir>/metrics-token`, made if missing).
    pub metrics_token_file: Option<PathBuf>,
    /// The edge's sustained rate per client address and per network, requests a second.
    pub edge_per_address: f64,
    pub edge_per_network: f64,
    /// `nats://host:4222`: this node is one of several, sharing waiting rooms and decisions
    /// over NATS JetStream (see `tessera-bus`). Every node of one deployment shares the store
    /// and the secret key.
    pub nats_url: Option<String>,
    /// This node's name on the bus (default: its listen address and a random suffix).
    pub node_name: Option<String>,
    /// Networks the security engine never decides against (the gates', partners', a
    /// fuzzer's).
    pub soc_allow: Vec<ipnet::IpNet>,
    /// Logs the security engine follows as they grow (`follow.rs`).
    pub soc_follow: Vec<PathBuf>,
    /// The security engine's rule file, checked whole at start-up (default: the built-in pack).
    pub soc_rules: Option<PathBuf>,
    /// What the operations centre watches (YAML; default: the demo model).
    pub toc_model: Option<PathBuf>,
    /// This node's component in that model.
    pub toc_node: Option<String>,
    /// Where notifications are also posted.
    pub toc_webhooks: Vec<String>,
    /// The official domains whose lookalikes the SOC watches for (the demo: Paris 2024's).
    pub official_domains: Vec<String>,
    /// A certificate-transparency stream (certstream's WebSocket) the SOC follows live.
    pub certstream_url: Option<String>,
    /// Set up the demo's world and its gate agent.
    pub demo: bool,
}

impl ServerConfig {
    /// A node on the embedded store in `data_dir`, with the command line's defaults.
    pub fn new(listen: SocketAddr, data_dir: impl Into<PathBuf>) -> ServerConfig {
        ServerConfig {
            listen,
            data_dir: data_dir.into(),
            database_url: None,
            public_url: None,
            smtp_url: None,
            smtp_from: "Tessera tickets <tickets@tessera.invalid>".into(),
            metrics_listen: None,
            metrics_token_file: None,
            edge_per_address: 20.0,
            edge_per_network: 1000.0,
            nats_url: None,
            node_name: None,
            soc_allow: Vec::new(),
            soc_follow: Vec::new(),
            soc_rules: None,
            toc_model: None,
            toc_node: None,
            toc_webhooks: Vec::new(),
            official_domains: Vec::new(),
            certstream_url: None,
            demo: false,
        }
    }
}

/// A node built and bound, not yet serving.
pub struct Server {
    config: ServerConfig,
    listener: tokio::net::TcpListener,
    app: App,
    transport: Arc<dyn Transport>,
    metrics: MetricsAt,
    access: tessera_http::exposition::MetricsAccess,
    demo: Option<DemoWorld>,
}

/// What the demo added: its accounts' password and the venue of tonight's session.
struct DemoWorld {
    password: String,
    venue: String,
}

impl Server {
    /// Binds the address (a port in use is said at once, before a database is created or
    /// migrated), opens the store, builds the app and, for the demo, its world.
    pub async fn build(config: ServerConfig) -> anyhow::Result<Server> {
        let listener = tokio::net::TcpListener::bind(config.listen).await.map_err(|e| match e.kind() {
            std::io::ErrorKind::AddrInUse => anyhow::anyhow!(
                "cannot listen on {}: the address is already in use (another Tessera?); stop it or pass --listen another port",
                config.listen
            ),
            _ => anyhow::Error::new(e).context(format!("listening on {}", config.listen)),
        })?;
        let app = build_app(&config).await?;
        let transport: Arc<dyn Transport> = match &config.smtp_url {
            Some(url) => Arc::new(
                tessera_mail::SmtpTransport::new(url.expose_secret(), &config.smtp_from).context("TESSERA_SMTP_URL")?,
            ),
            None => Arc::new(tessera_mail::FileTransport::new(config.data_dir.join("mail"))),
        };
        let demo = if config.demo {
            let password = demo::demo_password(&config.data_dir)?;
            demo::demo_setup(&app, &password).await?;
            demo::demo_accreditation(&app, &password).await?;
            demo::demo_volunteers(&app, &password).await?;
            demo::demo_leaked_passwords(&app, &config.data_dir).await?;
            demo::demo_waiting_room(&app).await?;
            let venue = demo::demo_live_session(&app).await?;
            Some(DemoWorld { password, venue })
        } else {
            None
        };
        app.refresh_airlock().await.context("loading the waiting rooms and the block list")?;
        let (access, metrics) = metrics_access(&config)?;
        Ok(Server { config, listener, app, transport, metrics, access, demo })
    }

    pub fn app(&self) -> &App {
        &self.app
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` resolves, with every background loop beside it; then lets
    /// requests in flight finish, stops the loops and waits for them.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let Server { config, listener, app, transport, metrics, access, demo } = self;
        let addr = listener.local_addr()?;
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut tasks = tessera_app::background::spawn_all(&app, transport.clone(), &stop_rx);
        tasks.push(tokio::spawn(leaked_passwords_loop(app.clone(), config.data_dir.clone(), stop_rx.clone())));
        if let Some(url) = config.certstream_url.clone() {
            let (app, stop) = (app.clone(), stop_rx.clone());
            let backoff = tessera_app::soc::certstream::Backoff::default();
            tasks.push(tokio::spawn(async move {
                app.follow_certstream(url, backoff, stop).await;
            }));
        }
        for path in &config.soc_follow {
            if path.as_os_str() == follow::STDIN {
                tasks.push(tokio::spawn(follow::follow_stdin(app.clone(), stop_rx.clone())));
            } else {
                tasks.push(tokio::spawn(follow::follow(app.clone(), path.clone(), stop_rx.clone())));
            }
        }
        match app.restore_incidents().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(incidents = n, "operations-centre incidents read back from the store"),
            Err(e) => tracing::warn!(error = %e, "operations-centre incidents not read back; a new book starts"),
        }
        match app.load_results().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(documents = n, "results feed read back from the store"),
            Err(e) => {
                tracing::error!(error = %e, "the results feed could not be read back; it starts empty in a new epoch")
            }
        }
        // One of several nodes: serve the rooms and results the others hold, not empty replicas.
        let limit = std::time::Duration::from_secs(15);
        let (rooms, results) = tokio::join!(app.catch_up_rooms(limit), app.catch_up_results(limit));
        if !rooms {
            tracing::warn!("serving before the waiting rooms' log was replayed (NATS unreachable?); joins wait for it");
        }
        if !results {
            tracing::warn!("serving before the results log was replayed (NATS unreachable?)");
        }
        let mail_dir = config.data_dir.join("mail");
        let state =
            tessera_http::AppState::new(app.clone(), demo.is_some(), config.smtp_url.is_none().then_some(mail_dir))
                .with_metrics_access(access);
        if let Some(private) = metrics.private {
            let router = tessera_http::exposition::private_router(state.clone());
            let private = tokio::net::TcpListener::bind(private)
                .await
                .with_context(|| format!("listening for metrics on {private}"))?;
            let mut stop = stop_rx.clone();
            tokio::spawn(async move {
                let stopped = async move {
                    let _ = stop.changed().await;
                };
                if let Err(e) = axum::serve(private, router).with_graceful_shutdown(stopped).await {
                    tracing::error!(error = %e, "the metrics listener stopped");
                }
            });
        }
        let (mut gate, mut desk) = (None, None);
        let mut demo_tasks = Vec::new();
        if let Some(world) = &demo {
            gate = Some(spawn_demo_gate(&app, addr, &world.venue, &config.data_dir, stop_rx.clone()).await?);
            desk = Some(spawn_demo_desk(&app, addr, &world.password, &config.data_dir, stop_rx.clone()).await?);
            demo_tasks.push(tokio::spawn(demo::demo_security_traffic(app.clone(), stop_rx.clone())));
            demo_tasks.push(tokio::spawn(demo::demo_results(app.clone(), stop_rx.clone())));
            demo_tasks.push(tokio::spawn(demo::demo_accreditation_flow(app.clone(), gate, stop_rx.clone())));
            demo_tasks.push(tokio::spawn(demo_toc::demo_toc(app.clone(), addr, stop_rx.clone())));
            demo_tasks.push(tokio::spawn(demo::demo_lookalike_feed(app.clone(), stop_rx.clone())));
        }
        let figures = app.catalogue_figures().await?;
        println!("{}", banner(&app, addr, &config, &metrics, demo.as_ref(), gate, desk, &transport, &figures));
        tessera_http::serve(listener, state, shutdown).await?;
        tracing::info!("stopping background tasks");
        let _ = stop_tx.send(true);
        for t in tasks.into_iter().chain(demo_tasks) {
            let _ = t.await;
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// The operations centre's model and this node's place in it.
fn toc_config(config: &ServerConfig) -> anyhow::Result<tessera_app::toc::TocConfig> {
    use tessera_ops::model::{Kind, Redundancy};
    let mut toc = tessera_app::toc::TocConfig::default();
    if let Some(path) = &config.toc_model {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading the TOC model {}", path.display()))?;
        let model = tessera_ops::Model::from_yaml(&text)
            .with_context(|| format!("the TOC model {} is not valid", path.display()))?;
        // The store this node uses is the first datastore that is not a group of others.
        toc.store_component = model
            .components()
            .iter()
            .find(|c| c.kind == Kind::Datastore && c.redundancy == Redundancy::Single)
            .map(|c| c.id.clone());
        toc.bus_component = model.components().iter().find(|c| c.kind == Kind::Bus).map(|c| c.id.clone());
        toc.model = Arc::new(model);
    }
    let named = |id: &str| toc.model.component(id).is_some_and(|c| c.kind == Kind::Node);
    toc.node = match (&config.toc_node, &config.node_name) {
        (Some(n), _) if named(n) => n.clone(),
        (Some(n), _) => anyhow::bail!("toc_node {n:?} is not a node of the TOC model"),
        (None, Some(n)) if named(n) => n.clone(),
        _ => toc
            .model
            .components()
            .iter()
            .find(|c| c.kind == Kind::Node)
            .map(|c| c.id.clone())
            .unwrap_or_else(|| "tessera-node-1".into()),
    };
    toc.webhooks = config.toc_webhooks.clone();
    Ok(toc)
}

/// The application of a node: its store, its signing key, its edge limits and its payment
/// provider.
pub async fn build_app(config: &ServerConfig) -> anyhow::Result<App> {
    data::prepare_data_dir(&config.data_dir)?;
    let store = data::open_store(&config.data_dir, config.database_url.as_ref().map(|u| u.expose_secret())).await?;
    let public_url = config.public_url.clone().unwrap_or_else(|| format!("http://{}", config.listen));
    let key = data::secret_key(&config.data_dir)?;
    let mut app_config = AppConfig::new(key, public_url.trim_end_matches('/'));
    let quota = |per_second: f64, burst_secs: f64| tessera_airlock::gcra::Quota {
        per_second,
        burst: (per_second * burst_secs).ceil().min(u32::MAX as f64) as u32,
    };
    app_config.edge_limits.per_address = quota(config.edge_per_address, 3.0);
    app_config.edge_limits.per_network = quota(config.edge_per_network, 2.0);
    app_config.soc_allow = config.soc_allow.clone();
    app_config.toc = toc_config(config)?;
    app_config.official_domains = match (&config.official_domains[..], config.demo) {
        ([], true) => vec!["paris2024.org".into(), "olympics.com".into()],
        (d, _) => d.to_vec(),
    };
    if !app_config.official_domains.is_empty() {
        tessera_app::soc::takedowns::Takedowns::new(&app_config.official_domains).context("official_domains")?;
    }
    if let Some(url) = &config.certstream_url {
        anyhow::ensure!(
            !app_config.official_domains.is_empty(),
            "certstream_url: give the official domains (--official-domain) whose lookalikes to watch for"
        );
        anyhow::ensure!(
            url.starts_with("ws://") || url.starts_with("wss://"),
            "certstream_url: {url:?} is not a ws:// or wss:// address"
        );
    }
    // No real payment provider is wired in yet: the sandbox behaves like one in test mode,
    // and keeps its authorisations across restarts as a real provider does.
    let journal = config.data_dir.join("payments-sandbox.jsonl");
    let payments = Arc::new(
        SandboxProvider::open(&journal, SandboxConfig::default())
            .with_context(|| format!("opening the payment sandbox's journal {}", journal.display()))?,
    );
    let app = App::new(store, payments, Arc::new(SystemClock), app_config);
    load_leaked_passwords(&app, &config.data_dir);
    // A followed log may not exist yet (it is waited for), but a directory is a mistake that
    // would otherwise fail every quarter second for ever.
    for path in &config.soc_follow {
        if path.is_dir() {
            anyhow::bail!("--soc-follow {} is a directory; give the log file", path.display());
        }
    }
    if let Some(path) = &config.soc_rules {
        let yaml =
            std::fs::read_to_string(path).with_context(|| format!("reading the rule file {}", path.display()))?;
        let n = app
            .install_soc_rules(&yaml)
            .map_err(|e| anyhow::anyhow!("the rule file {} is refused whole: {e}", path.display()))?;
        tracing::info!(rules = n, file = %path.display(), "security rules");
    }
    match &config.nats_url {
        None => Ok(app),
        Some(url) => {
            let node = config.node_name.clone().unwrap_or_else(|| {
                format!(
                    "{}-{}",
                    config.listen.to_string().replace([':', '.', '[', ']'], "-"),
                    tessera_app::random_hex(3)
                )
            });
            Ok(app.with_bus(connect_bus(url, &key, &node).await?))
        }
    }
}

/// The bus of this deployment: its name on the NATS server is derived from the secret key
/// every node shares, so two deployments (or two test runs) on one NATS never hear each other.
pub async fn connect_bus(url: &str, secret_key: &[u8; 32], node: &str) -> anyhow::Result<tessera_bus::Bus> {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret_key).expect("any length");
    mac.update(b"tessera deployment name on the bus");
    let ns = hex::encode(&mac.finalize().into_bytes()[..8]);
    tessera_bus::Bus::connect(url, &ns, node).await.context("--nats-url")
}

/// The demo's gate agent at tonight's venue, beside the shop (port + 1). It fetches its bundle
/// from this server, which is not serving yet: it starts beside it and retries until the shop
/// answers, and stops with the node.
async fn spawn_demo_gate(
    app: &App,
    shop: SocketAddr,
    venue: &str,
    data_dir: &Path,
    stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<SocketAddr> {
    let gate = tessera_gate_agent::GateArgs {
        central: format!("http://{shop}"),
        token: app.enroll_gate("DEMO-1", venue, "", 86_400).await?,
        bundle_key: app.bundle_public_key_hex(),
        bundle_key_id: tessera_app::gates::BUNDLE_KEY_ID,
        data_dir: data_dir.join("demo-gate"),
        listen: demo::demo_gate_listen(shop),
        venue_bus: None,
        stdin: false,
        sync_interval_ms: 250,
        // The demo's accreditation venue and the media zone: a journalist's card opens it, an
        // athlete's does not.
        badge_access: Some("STA:4".into()),
    };
    let listen = gate.listen;
    spawn_demo_agent("gate", stop, move |stopped| tessera_gate_agent::run(gate.clone(), stopped));
    Ok(listen)
}

/// Starts a venue agent of the demo beside the node: it needs the node to answer, so a start
/// that fails is tried again every half second for 30 s; the agent stops with the node.
fn spawn_demo_agent<F, Fut>(agent: &'static str, stop: tokio::sync::watch::Receiver<bool>, run: F)
where
    F: Fn(std::pin::Pin<Box<dyn Future<Output = ()> + Send>>) -> Fut + Send + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send,
{
    tokio::spawn(async move {
        for _ in 0..60 {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            let mut stop = stop.clone();
            let stopped = Box::pin(async move {
                let _ = stop.wait_for(|s| *s).await;
            });
            match run(stopped).await {
                Ok(()) => return,
                Err(e) => tracing::debug!(agent, error = %format!("{e:#}"), "demo agent not started yet"),
            }
        }
        tracing::warn!(agent, "the demo agent did not start");
    });
}

/// The demo's collection desk beside the shop (port + 2), signed in as the demo desk: it
/// downloads its list from this server once it answers (retrying until then), refreshes it
/// every 30 s as screening clears people, and stops with the node.
async fn spawn_demo_desk(
    app: &App,
    shop: SocketAddr,
    password: &str,
    data_dir: &Path,
    stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<SocketAddr> {
    let token = app.login(demo::DEMO_DESK, password).await.context("signing the demo desk in")?.token;
    let desk = tessera_desk_agent::DeskArgs {
        central: format!("http://{shop}"),
        desk: demo::DEMO_DESK_CODE.into(),
        token,
        badge_key: hex::encode(app.badge_signer().public().as_bytes()),
        // The key comes with the list and is kept in the desk's data directory.
        desk_key: None,
        key_file: None,
        data_dir: data_dir.join("demo-desk"),
        listen: demo::demo_desk_listen(shop),
        sync_interval_ms: 1000,
        list_refresh_secs: 30,
    };
    let listen = desk.listen;
    spawn_demo_agent("desk", stop, move |stopped| tessera_desk_agent::run(desk.clone(), stopped));
    Ok(listen)
}

/// Where the metrics are, for the banner.
struct MetricsAt {
    private: Option<SocketAddr>,
    token_file: Option<PathBuf>,
}

/// Who may read `/metrics`: on `--metrics-listen` anyone who reaches that address; otherwise a
/// bearer token, the scrape token from its file (made at first start) or an operator's.
fn metrics_access(config: &ServerConfig) -> anyhow::Result<(tessera_http::exposition::MetricsAccess, MetricsAt)> {
    use tessera_http::exposition::MetricsAccess;
    if let Some(a) = config.metrics_listen {
        return Ok((MetricsAccess::Elsewhere, MetricsAt { private: Some(a), token_file: None }));
    }
    let path = config.metrics_token_file.clone().unwrap_or_else(|| config.data_dir.join("metrics-token"));
    if config.metrics_token_file.is_none() && !path.exists() {
        data::write_private(&path, tessera_app::random_hex(32).as_bytes())?;
    }
    let token =
        std::fs::read_to_string(&path).with_context(|| format!("reading the metrics token {}", path.display()))?;
    let token = token.trim().to_string();
    if token.len() < 32 || !token.chars().all(|c| c.is_ascii_graphic()) {
        bail!("the metrics token in {} must be at least 32 printable characters, on one line", path.display());
    }
    Ok((MetricsAccess::ScrapeToken(token.into()), MetricsAt { private: None, token_file: Some(path) }))
}

/// The start-up banner: where everything is.
#[allow(clippy::too_many_arguments)]
fn banner(
    app: &App,
    addr: SocketAddr,
    config: &ServerConfig,
    metrics: &MetricsAt,
    demo: Option<&DemoWorld>,
    gate: Option<SocketAddr>,
    desk: Option<SocketAddr>,
    transport: &Arc<dyn Transport>,
    figures: &str,
) -> String {
    use std::fmt::Write;
    let url = &app.config.public_url;
    let mut b = String::new();
    let _ = writeln!(b);
    let _ = writeln!(b, "  Tessera is running on http://{addr} ({} store)", app.store.backend());
    let _ = writeln!(b);
    let _ = writeln!(b, "  Shop:            {url}/");
    let _ = writeln!(b, "  Sessions:        {url}/sessions");
    let _ = writeln!(b, "  Catalogue:       {figures}");
    let _ = writeln!(b, "  API document:    {url}/api/openapi.json");
    let _ = writeln!(b, "  Health:          {url}/livez  {url}/readyz  (application/health+json: every check)");
    let _ = match (&metrics.private, &metrics.token_file) {
        (Some(a), _) => writeln!(b, "  Metrics:         http://{a}/metrics  (private address, no token)"),
        (None, Some(f)) => writeln!(b, "  Metrics:         {url}/metrics  (bearer token in {})", f.display()),
        (None, None) => writeln!(b, "  Metrics:         {url}/metrics  (an operator's bearer token)"),
    };
    let _ = match (app.node_name(), &config.nats_url) {
        (Some(node), Some(nats)) => writeln!(b, "  Node:            {node}, one of several on the bus {nats}"),
        _ => writeln!(
            b,
            "  Node:            alone (more nodes: the same database and key, and --nats-url; see the README)"
        ),
    };
    if let Some(world) = demo {
        let password = &world.password;
        let mail_dir = config.data_dir.join("mail");
        let _ = writeln!(b, "  Demo mailbox:    {url}/mailbox   (mail is also written to {})", mail_dir.display());
        let _ = writeln!(b);
        let _ = writeln!(b, "  Demo fan:        {}  password: {password}", demo::DEMO_FAN);
        let _ = writeln!(b, "                   (drawn in phase P1, purchase slot open now: {url}/phases/P1)");
        let _ = writeln!(
            b,
            "  Waiting room:    {url}/phases/P1/queue  (opens {} s after start; 150 demo fans already wait)",
            demo::DEMO_QUEUE_OPENS_AFTER_SECS
        );
        let _ = writeln!(b, "  Airlock figures: {url}/operator/airlock  (as the demo operator)");
        let _ = writeln!(b, "  Demo operator:   {}  password: {password}", demo::DEMO_OPERATOR);
        let _ = writeln!(
            b,
            "  Demo analyst:    {}  password: {password}  (the security console: /operator/soc)",
            demo::DEMO_ANALYST
        );
        let _ = writeln!(b, "  Lottery open:    {url}/phases/P2 (register a new account to enter)");
        let _ = writeln!(
            b,
            "  Live results:    {url}/results  (finals published every few seconds; the medal table moves)"
        );
        let _ = writeln!(
            b,
            "  Accreditation:   {url}/operator/accreditation  (as {}: screening, approvals, cards; officer {}, vetting {}, desk {})",
            demo::DEMO_ACCREDITATION,
            demo::DEMO_OFFICER,
            demo::DEMO_VETTING,
            demo::DEMO_DESK
        );
        let _ = writeln!(
            b,
            "  Volunteers:      {url}/operator/volunteers  (as {}: runs with fairness figures, offers, overrides; applicant {} at {url}/volunteer)",
            demo::DEMO_VOLUNTEERS,
            demo::DEMO_VOLUNTEER
        );
        let _ = writeln!(
            b,
            "  Leaked passwords: {} known; registering with one (\"{}\") is refused; {url}/api/v1/passwords/range/{} answers a k-anonymous check",
            app.leaked_password_count(),
            demo::DEMO_LEAKED_PASSWORDS[0],
            &hex::encode_upper(tessera_lookalike::leaks::sha1_of(demo::DEMO_LEAKED_PASSWORDS[0].as_bytes()))[..5]
        );
        let _ = writeln!(
            b,
            "  Operations:      {url}/operator/toc  (as the demo operator: the wall of systems, venues and devices; venues and nodes 2-3 simulated; a rehearsed network cut at Stade de France 2 minutes in)"
        );
        let _ = writeln!(b, "  Public status:   {url}/status");
        let _ = writeln!(b, "  Phone wallet:    {url}/wallet  (as the demo fan: a live code for tonight's session)");
        if let Some(g) = gate {
            let _ = writeln!(
                b,
                "  Gate page:       http://{g}/  (copy the wallet's code text into it: admit, then already used; it also stands at the stadium's media zone for accreditation cards: a journalist's in, an athlete's refused)"
            );
        }
        if let Some(d) = desk {
            let _ = writeln!(
                b,
                "  Desk page:       http://{d}/  (collection desk {}: find an approved person by name, document or badge number, hand the card over; it keeps working with the shop stopped)",
                demo::DEMO_DESK_CODE
            );
        }
        let _ = writeln!(b, "  Gates figures:   {url}/operator/gates  (as the demo operator)   Resale: {url}/resale");
        let _ = writeln!(
            b,
            "  Security:        {url}/operator/soc  (a simulated credential-stuffing run every 3 minutes, blocked by itself; lookalike domains arriving from a replayed certificate-transparency feed, with their takedowns; a leaked-password finding)"
        );
    } else {
        let _ = writeln!(b, "  Mail transport:  {}", transport.name());
    }
    let _ = writeln!(b);
    let _ = writeln!(b, "  Stop with Ctrl-C.");
    b
}

/// Resolves on Ctrl-C or SIGTERM: what a node and a gate agent stop on.
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

/// Loads `<data-dir>/leaked-passwords.txt` (written by `tessera admin import-leaked-passwords`)
/// into the node, if there is one; a file that cannot be read leaves the set as it was.
pub fn load_leaked_passwords(app: &App, data_dir: &Path) -> Option<std::time::SystemTime> {
    let path = data_dir.join(tessera_app::leaks::LEAKED_FILE);
    let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok()?;
    match tessera_app::leaks::read_leaked_file(&path) {
        Ok((set, bad)) => {
            tracing::info!(hashes = set.len(), bad_lines = bad, "leaked passwords loaded");
            app.set_leaked_passwords(set);
        }
        Err(e) => tracing::warn!(error = %e, path = %path.display(), "leaked passwords not loaded"),
    }
    Some(modified)
}

/// Reloads the leaked-password file when it changes (an import while the node runs).
async fn leaked_passwords_loop(app: App, data_dir: PathBuf, mut stop: tokio::sync::watch::Receiver<bool>) {
    let path = data_dir.join(tessera_app::leaks::LEAKED_FILE);
    let mut seen = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(30)) => {}
            _ = stop.changed() => return,
        }
        let now = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
        if now.is_some() && now != seen {
            let (app, dir) = (app.clone(), data_dir.clone());
            seen = tokio::task::spawn_blocking(move || load_leaked_passwords(&app, &dir)).await.ok().flatten();
        }
    }
}
