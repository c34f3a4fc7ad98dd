//! `tessera toc-probe`: synthetic checks from a vantage point of the operations centre's
//! model, posted to a node with the vantage point's key (`tessera admin toc-key NAME`).
//! Run one at each vantage point (a second site, a cloud region, a venue's 4G link): a
//! component is down only when enough of them agree (the model's N of M).

use anyhow::Context;
use clap::Args;
use std::path::PathBuf;
use tessera_app::toc::probes::{post, round, Check};

#[derive(Args)]
pub struct ProbeArgs {
    /// The node to report to, e.g. https://tessera.example.org.
    #[arg(long)]
    server: String,
    /// The vantage point this agent is, as the model names it.
    #[arg(long)]
    vantage: String,
    /// Its key (`tessera admin toc-key <vantage>`), or from TESSERA_TOC_KEY.
    #[arg(long, env = "TESSERA_TOC_KEY", hide_env_values = true)]
    key: String,
    /// The checks, a YAML list of `{component, type: http, url, status}`,
    /// `{component, type: tcp, address}`, `{component, type: tls, address, server_name,
    /// ca_file, min_days}` or `{component, type: journey, base_url, email, password, phase,
    /// category_id, expect: declined|ticket}` (a synthetic fan's purchase).
    #[arg(long)]
    checks: PathBuf,
    /// Seconds between rounds.
    #[arg(long, default_value_t = 10)]
    every: u64,
    /// Run one round, print it and stop.
    #[arg(long)]
    once: bool,
}

pub async fn run(a: ProbeArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&a.checks).with_context(|| format!("reading {}", a.checks.display()))?;
    let checks: Vec<Check> =
        serde_norway::from_str(&text).with_context(|| format!("the checks in {} are not valid", a.checks.display()))?;
    anyhow::ensure!(!checks.is_empty() && checks.len() <= 1_000, "give 1 to 1,000 checks");
    anyhow::ensure!((1..=3600).contains(&a.every), "--every is 1 to 3,600 seconds");
    let client = reqwest::Client::new();
    loop {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as i64;
        let results = round(&client, &a.vantage, &checks, now).await;
        match post(&client, &a.server, &a.vantage, &a.key, &results).await {
            Ok(()) => tracing::info!(checks = results.len(), "round reported"),
            Err(e) => tracing::warn!(error = %e, "round not reported; the next one will be"),
        }
        if a.once {
            println!("{}", serde_json::to_string_pretty(&results)?);
            return Ok(());
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(a.every)) => {}
            _ = tessera_server::shutdown_signal() => return Ok(()),
        }
    }
}
