//! The peer beside Tessera's feed: a NATS server (the one on the `PATH`; Debian's package
//! `nats-server`), its WebSocket listener serving the same subscribers, core NATS publishing.
//!
//! Why NATS: the issue names Centrifugo, which none of the registries this project may use
//! carries (it is a Go program, released on GitHub). NATS is the nearest that is installable: a
//! Go fan-out server of the same kind, with a WebSocket listener, tuned for exactly this (one
//! publication to many subscribers), and Centrifugo itself can use it as its broker. Core NATS
//! keeps no history, writes nothing durable and checks no entitlement: it does less per change
//! than Tessera, so the comparison favours the peer. It has no position to reconnect with,
//! so the reconnect storm is not run against it.

use anyhow::{bail, Context};
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

pub(super) struct NatsPeer {
    pub child: tokio::process::Child,
    /// Its WebSocket listener, for the subscribers.
    pub websocket: SocketAddr,
    /// Its client port, for the source.
    pub url: String,
    /// What `nats-server --version` printed.
    pub version: String,
}

/// A free port on loopback (the kernel's choice; free again when this returns, and taken by
/// the peer a moment later).
fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Starts `nats-server` with its own configuration in `dir`: loopback ports of its own, no
/// connection limit below the subscribers, WebSocket without TLS or compression (Tessera's feed
/// has neither on loopback), and the hard limit on open files, as for Tessera's server.
pub(super) async fn start(dir: &Path) -> anyhow::Result<NatsPeer> {
    let version = std::process::Command::new("nats-server")
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .context("no nats-server on the PATH: install Debian's package (apt-get install nats-server)")?;
    let (client, websocket) = (free_port()?, free_port()?);
    std::fs::create_dir_all(dir)?;
    let config = dir.join("nats.conf");
    std::fs::write(
        &config,
        format!(
            "listen: 127.0.0.1:{client}\nmax_connections: 1000000\nwebsocket {{\n  listen: \"127.0.0.1:{websocket}\"\n  no_tls: true\n  compression: false\n}}\n"
        ),
    )?;
    let log = std::fs::File::create(dir.join("nats.log"))?;
    let child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(r#"ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec nats-server -c "$0""#)
        .arg(&config)
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .context("starting nats-server")?;
    let until = Instant::now() + Duration::from_secs(20);
    for port in [client, websocket] {
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            if Instant::now() > until {
                let log = std::fs::read_to_string(dir.join("nats.log")).unwrap_or_default();
                bail!("nats-server did not listen on {port} in 20 s; its log:\n{log}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(NatsPeer {
        child,
        websocket: SocketAddr::from(([127, 0, 0, 1], websocket)),
        url: format!("nats://127.0.0.1:{client}"),
        version,
    })
}
