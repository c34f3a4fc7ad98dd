//! `tessera bench ...`: benchmarks that start a real server and drive it over HTTP.
//! Timing targets live here, never in tests.

mod accreditation;
mod airlock;
mod checkout;
mod cluster;
mod common;
mod credential;
mod domains;
mod gate;
mod leaks;
mod results;
mod sale;
mod soc;
mod toc;
mod volunteers;

use clap::{Args, Subcommand};

#[derive(Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    command: BenchCommand,
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Many HTTP clients buy on one hot session until it sells out.
    Checkout(checkout::CheckoutArgs),
    /// Three nodes on PostgreSQL and NATS: a sale through the waiting room with a node killed
    /// mid-sale, decisions and sign-outs timed across nodes.
    Cluster(cluster::ClusterArgs),
    /// Offline verification of phone-ticket codes on one core, every signature checked.
    Credential(credential::CredentialArgs),
    /// The waiting room's status endpoint beside nginx, and fans' purchases under attack.
    Airlock(airlock::AirlockArgs),
    /// The whole Paris 2024 sale on one machine: millions of registrants, the draw, slots in
    /// waves, buyers through the app's use cases.
    Sale(sale::SaleArgs),
    /// Gate verifications per core, decision time with the durable record, central sync.
    Gate(gate::GateArgs),
    /// WebSocket subscribers on the results feed: publish to receipt, memory per connection,
    /// a reconnect storm checked for gaps.
    Results(results::ResultsArgs),
    /// The detection engine on a generated nginx access log with attacks inside: lines per
    /// second on one thread, and what it caught.
    Soc(soc::SocArgs),
    /// The lookalike detector on a generated stream of newly seen names: names per second on
    /// one thread, planted lookalikes found, hits among unrelated names.
    Domains(domains::DomainsArgs),
    /// Leaked passwords at Have I Been Pwned's scale: a list of millions of hashes imported
    /// and reloaded, then passwords and k-anonymous ranges checked against it.
    Leaks(leaks::LeaksArgs),
    /// Accreditation at Paris scale: 500,000 applications imported from one CSV file, badges
    /// signed per second, a collection desk's list size.
    Accreditation(accreditation::AccreditationArgs),
    /// The operations centre watching 10,000 devices: heartbeats over HTTP and observations
    /// per second, one evaluation's time, and how fast dead devices are found.
    Toc(toc::TocArgs),
    /// Volunteers at Paris scale: 300,000 applicants matched onto 45,000 positions, the
    /// store's import rate, and a whole run through the app with its offers.
    Volunteers(volunteers::VolunteersArgs),
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    match args.command {
        BenchCommand::Checkout(a) => checkout::run(a).await,
        BenchCommand::Cluster(a) => cluster::run(a).await,
        BenchCommand::Credential(a) => credential::run(a),
        BenchCommand::Airlock(a) => airlock::run(a).await,
        BenchCommand::Gate(a) => gate::run(a).await,
        BenchCommand::Sale(a) => sale::run(a).await,
        BenchCommand::Soc(a) => soc::run(a),
        BenchCommand::Domains(a) => domains::run(a),
        BenchCommand::Leaks(a) => leaks::run(a).await,
        BenchCommand::Accreditation(a) => accreditation::run(a).await,
        BenchCommand::Volunteers(a) => volunteers::run(a).await,
        BenchCommand::Results(a) => results::run(a).await,
        BenchCommand::Toc(a) => toc::run(a).await,
    }
}
