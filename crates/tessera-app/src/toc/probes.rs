//! Synthetic checks from a vantage point: an HTTP request that must answer with the expected
//! status, a TCP connection that must open, a TLS certificate that must verify and stay valid
//! long enough, or a whole fan journey (sign in, find the phase, buy), each within a timeout,
//! posted to the operations centre with the vantage point's key. `tessera toc-probe` runs them from wherever it is
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
    /// A TLS handshake with `address` (`host:port`) verifies the certificate for `server_name`
    /// (default: the address's host) against Mozilla's roots, plus `ca_file`'s (PEM) for an
    /// internal CA, and the certificate is valid for at least `min_days` more days (default
    /// 14): an expiring certificate is an incident before it is an outage.
    Tls { address: String, server_name: Option<String>, ca_file: Option<String>, min_days: Option<u32> },
    /// The fan's journey: see [`super::journey`].
    Journey(super::journey::Journey),
}

/// One check of one component. (Unknown fields are refused by the target's own list:
/// serde cannot deny them on a struct that flattens another.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
        Target::Tls { address, server_name, ca_file, min_days } => {
            let check = tls_not_after(address, server_name.as_deref(), ca_file.as_deref());
            let not_after = match tokio::time::timeout(CHECK_TIMEOUT, check).await {
                Ok(r) => r?,
                Err(_) => return Err(format!("{address}: no TLS handshake in {} s", CHECK_TIMEOUT.as_secs())),
            };
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
            expiry_verdict(not_after, now, min_days.unwrap_or(DEFAULT_MIN_DAYS)).map_err(|e| format!("{address}: {e}"))
        }
        Target::Journey(j) => super::journey::run(client, j).await,
    }
}

/// How many days of validity a TLS check asks for when it does not say.
pub const DEFAULT_MIN_DAYS: u32 = 14;

/// Whether a certificate valid until `not_after` (Unix seconds) still has `min_days` at `now`.
pub fn expiry_verdict(not_after: u64, now: u64, min_days: u32) -> Result<(), String> {
    let left = not_after.saturating_sub(now);
    let days = left / 86_400;
    if not_after <= now {
        Err("the certificate has expired".into())
    } else if days < u64::from(min_days) {
        Err(format!("the certificate expires in {days} days (at least {min_days} wanted)"))
    } else {
        Ok(())
    }
}

/// A TLS client that verifies servers against `roots`, on the ring provider the workspace
/// builds rustls with.
pub(crate) fn tls_client_config(
    roots: tokio_rustls::rustls::RootCertStore,
) -> Result<tokio_rustls::rustls::ClientConfig, String> {
    use tokio_rustls::rustls;
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// Opens a TLS connection to `address`, verifies the server's chain, and returns its leaf
/// certificate's `notAfter` in Unix seconds.
async fn tls_not_after(address: &str, server_name: Option<&str>, ca_file: Option<&str>) -> Result<u64, String> {
    use tokio_rustls::rustls::{self, pki_types::pem::PemObject, pki_types::CertificateDer, pki_types::ServerName};
    use x509_cert::der::Decode;
    let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    if let Some(path) = ca_file {
        for cert in CertificateDer::pem_file_iter(path).map_err(|e| format!("{path}: {e}"))? {
            let cert = cert.map_err(|e| format!("{path}: {e}"))?;
            roots.add(cert).map_err(|e| format!("{path}: {e}"))?;
        }
    }
    let config = tls_client_config(roots)?;
    let host = server_name.map(str::to_string).unwrap_or_else(|| {
        // `host:port`, or `[v6]:port`.
        let h = address.rsplit_once(':').map_or(address, |(h, _)| h);
        h.trim_start_matches('[').trim_end_matches(']').to_string()
    });
    let name = ServerName::try_from(host.clone()).map_err(|_| format!("{host:?} is not a server name"))?;
    let tcp = tokio::net::TcpStream::connect(address).await.map_err(|e| format!("{address}: {e}"))?;
    let tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|e| format!("{address}: TLS: {e}"))?;
    let (_, session) = tls.get_ref();
    let leaf = session.peer_certificates().and_then(|c| c.first()).ok_or("the server sent no certificate")?;
    let cert = x509_cert::Certificate::from_der(leaf).map_err(|e| format!("the certificate does not parse: {e}"))?;
    Ok(cert.tbs_certificate.validity.not_after.to_unix_duration().as_secs())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_must_outlive_the_wanted_days() {
        let day = 86_400;
        let now = 1_800_000_000;
        assert_eq!(expiry_verdict(now + 30 * day, now, 14), Ok(()));
        assert_eq!(expiry_verdict(now + 14 * day, now, 14), Ok(()), "exactly the days wanted");
        let soon = expiry_verdict(now + 13 * day + 5, now, 14).unwrap_err();
        assert!(soon.contains("expires in 13 days"), "{soon}");
        assert_eq!(expiry_verdict(now, now, 0).unwrap_err(), "the certificate has expired");
        assert_eq!(expiry_verdict(now - day, now, 14).unwrap_err(), "the certificate has expired");
    }

    #[test]
    fn checks_read_from_json_name_their_type() {
        let tls: Check =
            serde_json::from_str(r#"{"component": "shop-tls", "type": "tls", "address": "shop.example.org:443"}"#)
                .unwrap();
        assert!(matches!(tls.target, Target::Tls { min_days: None, .. }));
        let journey: Check = serde_json::from_str(
            r#"{"component": "shop-journey", "type": "journey", "base_url": "https://shop", "email": "p@example.org",
                "password": "x", "phase": "P1", "category_id": 3}"#,
        )
        .unwrap();
        let Target::Journey(j) = journey.target else { panic!("a journey") };
        assert_eq!(j.expect, super::super::journey::Expect::Declined, "the default consumes nothing");
        let typo = serde_json::from_str::<Check>(r#"{"component": "c", "type": "tcp", "adress": "a:1"}"#);
        assert!(typo.is_err(), "a misspelt field is refused, not ignored");
    }
}
