//! Synthetic checks from a vantage point: an HTTP request that must answer with the expected
//! status, or a TCP connection that must open, each within a timeout, posted to the operations
//! centre with the vantage point's key. `tessera toc-probe` runs them from wherever it is
//! started (a second site, a cloud region, a venue's 4G link); the demo runs three of them
//! beside the node.

use super::Observed;
use serde::{Deserialize, Serialize};

/// Longest a check may take before it counts as failed.
pub const CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// What a check does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Target {
    /// `GET url` answers `status` (default: any 2xx).
    Http { url: String, status: Option<u16> },
    /// A TCP connection to `address` (`host:port`) opens.
    Tcp { address: String },
}

/// One check of one component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    pub component: String,
    #[serde(flatten)]
    pub target: Target,
}

/// Runs `check` once: `Ok` or why it failed.
pub async fn run(client: &reqwest::Client, check: &Check) -> Result<(), String> {
    match &check.target {
        Target::Http { url, status } => {
            let r = client.get(url).timeout(CHECK_TIMEOUT).send().await.map_err(|e| e.to_string())?;
            let got = r.status().as_u16();
            let ok = status.map_or(r.status().is_success(), |s| s == got);
            ok.then_some(()).ok_or_else(|| format!("{url} answered {got}"))
        }
        Target::Tcp { address } => {
            match tokio::time::timeout(CHECK_TIMEOUT, tokio::net::TcpStream::connect(address.as_str())).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(format!("{address}: {e}")),
                Err(_) => Err(format!("{address}: no answer in {} s", CHECK_TIMEOUT.as_secs())),
            }
        }
    }
}

/// Runs every check once, concurrently, and returns them as observations from `vantage`.
pub async fn round(client: &reqwest::Client, vantage: &str, checks: &[Check], now_ms: i64) -> Vec<Observed> {
    let results = futures_util::future::join_all(checks.iter().map(|c| run(client, c))).await;
    checks
        .iter()
        .zip(results)
        .map(|(c, r)| Observed::Probe {
            component: c.component.clone(),
            vantage: vantage.to_string(),
            ok: r.is_ok(),
            at_ms: now_ms,
            detail: r.err().map(|e| e.chars().take(200).collect()),
        })
        .collect()
}

/// Posts observations to a node's `/api/v1/toc/observations` as `speaker`.
pub async fn post(
    client: &reqwest::Client,
    server: &str,
    speaker: &str,
    key: &str,
    observations: &[Observed],
) -> Result<(), String> {
    let url = format!("{}/api/v1/toc/observations", server.trim_end_matches('/'));
    // The wire form: the receiving node dates each observation and knows the speaker.
    let observations: Vec<serde_json::Value> = observations
        .iter()
        .map(|o| match o {
            Observed::Heartbeat { component, device_time_ms, .. } => {
                serde_json::json!({"type": "heartbeat", "component": component, "device_time_ms": device_time_ms})
            }
            Observed::Probe { component, ok, detail, .. } => {
                serde_json::json!({"type": "probe", "component": component, "ok": ok, "detail": detail})
            }
            Observed::Health { component, status, output, .. } => {
                serde_json::json!({"type": "health", "component": component, "status": status, "output": output})
            }
        })
        .collect();
    let r = client
        .post(url)
        .timeout(CHECK_TIMEOUT)
        .header("Authorization", format!("Observer {speaker}:{key}"))
        .json(&serde_json::json!({ "observations": observations }))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if r.status().is_success() {
        Ok(())
    } else {
        Err(format!("{} {}", r.status(), r.text().await.unwrap_or_default()))
    }
}
