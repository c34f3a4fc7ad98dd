//! The `tessera` binary: parses the command line, sets up logging, and hands over to the
//! library crates. Every role is a subcommand: `serve`, `demo`, `admin ...`, `bench ...`.

mod admin;
mod domains;
mod runtime;
mod soc;
mod toc;

use clap::{Parser, Subcommand};

// The request path allocates many small short-lived values on two threads; mimalloc's
// thread-local free lists make that markedly cheaper than glibc's allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "tessera",
    version,
    about = "Runs the critical digital services of a mega-event, and keeps them running while they are attacked."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the data lives: a directory (SQLite file, keys, demo mail) and optionally PostgreSQL.
#[derive(clap::Args, Clone, Debug)]
pub struct StoreArgs {
    /// Directory for the embedded database, the signing key and demo mail.
    #[arg(long, env = "TESSERA_DATA_DIR", default_value = "tessera-data")]
    pub data_dir: PathBuf,
    /// `postgres://...` to use PostgreSQL instead of the embedded SQLite file.
    #[arg(long, env = "TESSERA_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// The nodes' bus (nats://host:4222), so that a decision or a waiting room changed here
    /// reaches every running node at once rather than at its next read of the store.
    #[arg(long, env = "TESSERA_NATS_URL")]
    pub nats_url: Option<String>,
}

/// `serve` and `demo`: each flag overrides its environment variable, which overrides the
/// `--config` file, which overrides the default.
#[derive(clap::Args, Clone, Debug)]
pub struct ServeArgs {
    /// A TOML file of these settings (see tessera.example.toml).
    #[arg(long, env = "TESSERA_CONFIG")]
    pub config: Option<PathBuf>,
    /// Where the shop listens [default: 127.0.0.1:8080].
    #[arg(long, env = "TESSERA_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Directory for the embedded database, the signing key and demo mail [default: tessera-data].
    #[arg(long, env = "TESSERA_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// `postgres://...` to use PostgreSQL instead of the embedded SQLite file.
    #[arg(long, env = "TESSERA_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// The URL fans reach the shop at, used in mailed links (default: http://<listen>).
    #[arg(long, env = "TESSERA_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Send mail through SMTP: smtp://user:pass@host:587, smtps://...:465 or smtp+insecure://host:1025.
    #[arg(long, env = "TESSERA_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The From address of mails [default: Tessera tickets <tickets@tessera.invalid>].
    #[arg(long, env = "TESSERA_SMTP_FROM")]
    pub smtp_from: Option<String>,
    /// Serve /metrics on this address only (a private network Prometheus reaches), without a
    /// token; the shop's own address then has no /metrics.
    #[arg(long, env = "TESSERA_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// The edge's sustained request rate per client address (requests a second; bursts of
    /// three seconds' worth). Fans' browsers need a few; raise it behind a NAT-heavy audience
    /// [default: 20].
    #[arg(long, env = "TESSERA_EDGE_PER_ADDRESS", value_parser = positive_rate)]
    pub edge_per_address: Option<f64>,
    /// The same per network (/24 or /48), which may hide a campus or a carrier's NAT [default: 1000].
    #[arg(long, env = "TESSERA_EDGE_PER_NETWORK", value_parser = positive_rate)]
    pub edge_per_network: Option<f64>,
    /// The bearer token Prometheus sends to /metrics on the shop's address (its
    /// `authorization.credentials_file`); default: <data-dir>/metrics-token, made if missing.
    #[arg(long, env = "TESSERA_METRICS_TOKEN_FILE")]
    pub metrics_token_file: Option<std::path::PathBuf>,
    /// nats://host:4222 to run as one of several nodes: waiting rooms, edge decisions and
    /// sign-outs shared over NATS JetStream. Every node uses the same database and secret key.
    #[arg(long, env = "TESSERA_NATS_URL")]
    pub nats_url: Option<String>,
    /// This node's name on the bus [default: its listen address and a random suffix].
    #[arg(long, env = "TESSERA_NODE_NAME")]
    pub node_name: Option<String>,
    /// A network the security engine never decides against (the gates', a partner's);
    /// repeatable, or comma-separated in the environment.
    #[arg(long = "soc-allow", env = "TESSERA_SOC_ALLOW", value_delimiter = ',', value_name = "CIDR")]
    pub soc_allow: Vec<ipnet::IpNet>,
    /// A log the security engine follows as it grows, rotation included: nginx/Apache
    /// combined lines, or Tessera's JSON security events; repeatable; `-` reads standard
    /// input to its end.
    #[arg(long = "soc-follow", env = "TESSERA_SOC_FOLLOW", value_delimiter = ',', value_name = "FILE")]
    pub soc_follow: Vec<std::path::PathBuf>,
    /// The security engine's YAML rule file, checked whole at start-up [default: the built-in
    /// pack, `tessera soc rules` prints it].
    #[arg(long, env = "TESSERA_SOC_RULES")]
    pub soc_rules: Option<std::path::PathBuf>,
    /// What the operations centre watches: a YAML model of systems, venues and devices
    /// [default: the demo's; `tessera admin toc-model` prints it].
    #[arg(long, env = "TESSERA_TOC_MODEL")]
    pub toc_model: Option<std::path::PathBuf>,
    /// This node's component in the TOC model [default: --node-name if the model names it].
    #[arg(long, env = "TESSERA_TOC_NODE")]
    pub toc_node: Option<String>,
    /// A URL every operations-centre notification is posted to (JSON); repeatable.
    #[arg(long = "toc-webhook", env = "TESSERA_TOC_WEBHOOKS", value_delimiter = ',', value_name = "URL")]
    pub toc_webhooks: Vec<String>,
    /// An official domain of the event (repeatable): the SOC watches the names it is sent for
    /// its lookalikes [demo: paris2024.org, olympics.com].
    #[arg(long = "official-domain", env = "TESSERA_OFFICIAL_DOMAINS", value_delimiter = ',', value_name = "DOMAIN")]
    pub official_domains: Vec<String>,
    /// A certificate-transparency stream to follow live (certstream's WebSocket, e.g.
    /// wss://certstream.calidog.io/): every newly logged name is checked against the official
    /// domains, each lookalike a takedown case on the SOC console. Needs --official-domain.
    #[arg(long, env = "TESSERA_CERTSTREAM_URL", value_name = "URL")]
    pub certstream_url: Option<String>,
}

fn positive_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 1e7 => Ok(v),
        _ => Err(format!("{s:?} is not a rate: give a number of requests a second, above 0 and at most 10,000,000")),
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run the shop and its API.
    Serve(ServeArgs),
    /// Run the shop with the Paris 2024-scale demo catalogue, demo accounts and phases.
    Demo(ServeArgs),
    /// Operator commands: catalogue, phases and the draw, sales figures.
    Admin(admin::AdminArgs),
    /// Benchmarks that start their own server and measure it.
    Bench(tessera_bench::BenchArgs),
    /// Run a gate agent at an entrance: offline decisions, durable log, sync, venue hub.
    Gate(tessera_gate_agent::GateArgs),
    /// Run a collection desk: its sealed offline list, searches and durable hand-overs from a
    /// local page, sync when the central system answers.
    Desk(tessera_desk_agent::DeskArgs),
    /// The security operations centre's detection engine on the command line: replay a log
    /// through the rules, check a rule file.
    Soc(soc::SocArgs),
    /// Lookalikes of the official domains among newly seen names (a list, or certificate
    /// transparency as certstream sends it), with the technique and a score.
    Domains(domains::DomainsArgs),
    /// Synthetic checks (HTTP, TCP) from a vantage point of the operations centre, posted to a
    /// node with the vantage point's key.
    TocProbe(toc::ProbeArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TESSERA_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_http=warn")),
        )
        .with_writer(std::io::stderr)
        // Every request and store call is a span (at debug level); TESSERA_LOG_SPANS=1 prints
        // each one as it closes, with its time.
        .with_span_events(if std::env::var_os("TESSERA_LOG_SPANS").is_some() {
            tracing_subscriber::fmt::format::FmtSpan::CLOSE
        } else {
            tracing_subscriber::fmt::format::FmtSpan::NONE
        })
        .init();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        match cli.command {
            Command::Serve(a) => runtime::serve(a, false).await,
            Command::Demo(a) => runtime::serve(a, true).await,
            Command::Admin(a) => admin::run(a).await,
            Command::Bench(a) => tessera_bench::run(a).await,
            Command::Gate(a) => tessera_gate_agent::run(a, tessera_server::shutdown_signal()).await,
            Command::Desk(a) => tessera_desk_agent::run(a, tessera_server::shutdown_signal()).await,
            // One thread's work, alone in the process: blocking a worker is harmless here.
            Command::Soc(a) => soc::run(a),
            Command::Domains(a) => domains::run(a).await,
            Command::TocProbe(a) => toc::run(a).await,
        }
    })
}
