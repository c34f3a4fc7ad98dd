//! Following a certificate-transparency stream live: a WebSocket that speaks certstream's
//! messages (calidog's public `wss://certstream.calidog.io/`, or a self-hosted
//! certstream-server-go), each `certificate_update` checked for lookalikes as it arrives.
//!
//! The stream drops and restarts: the follower reconnects with exponential backoff and full
//! jitter (so that several nodes following one server do not reconnect in step), resets the
//! backoff once a connection has delivered, and bounds each message (certstream's largest
//! certificate messages are tens of KiB). What it lost while disconnected it does not get back:
//! certstream keeps no history, which is why the demo and tests also accept names by POST.

use futures_util::StreamExt;
use std::time::Duration;
use tokio_tungstenite::tungstenite::{protocol::WebSocketConfig, Message};

/// Largest message taken; a longer one ends the connection (and is reconnected).
pub const MAX_MESSAGE: usize = 256 * 1024;

/// How long a connection may stay silent (certstream sends heartbeats every few seconds)
/// before it is presumed dead and replaced.
const SILENCE: Duration = Duration::from_secs(60);

/// Reconnection pacing.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { first: Duration::from_secs(1), max: Duration::from_secs(60) }
    }
}

/// What a follower has seen, for its log lines and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Followed {
    pub connections: u64,
    pub messages: u64,
}

/// Follows `url` (`ws://` or `wss://`) until `stop` turns true, handing each text message to
/// `on_message`. Never returns an error: a failure is logged and retried after the backoff.
pub async fn follow(
    url: &str,
    backoff: Backoff,
    mut stop: tokio::sync::watch::Receiver<bool>,
    mut on_message: impl FnMut(&str),
) -> Followed {
    let mut seen = Followed::default();
    let mut wait = backoff.first;
    loop {
        if *stop.borrow() {
            return seen;
        }
        let before = seen.messages;
        let ended = tokio::select! {
            r = connection(url, &mut seen, &mut on_message) => r,
            _ = stop.changed() => return seen,
        };
        if seen.messages > before {
            wait = backoff.first;
        }
        match ended {
            Ok(()) => tracing::info!(url, "certificate stream closed; reconnecting"),
            Err(e) => tracing::warn!(url, error = %e, "certificate stream failed; reconnecting"),
        }
        // Full jitter: anywhere up to the current step.
        let pause = wait.mul_f64(rand::random::<f64>().max(0.05));
        wait = (wait * 2).min(backoff.max);
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stop.changed() => return seen,
        }
    }
}

/// One connection, read until it closes or fails.
async fn connection(url: &str, seen: &mut Followed, on_message: &mut impl FnMut(&str)) -> Result<(), String> {
    let mut config = WebSocketConfig::default();
    config.max_message_size = Some(MAX_MESSAGE);
    config.max_frame_size = Some(MAX_MESSAGE);
    let opened = tokio::time::timeout(Duration::from_secs(10), open(url, config)).await;
    let mut ws = opened.map_err(|_| "no connection in 10 s".to_string())??;
    seen.connections += 1;
    tracing::info!(url, "following the certificate stream");
    loop {
        let next = tokio::time::timeout(SILENCE, ws.next()).await.map_err(|_| "silent for 60 s".to_string())?;
        match next {
            None => return Ok(()),
            Some(Err(e)) => return Err(e.to_string()),
            Some(Ok(Message::Text(t))) => {
                seen.messages += 1;
                on_message(t.as_str());
            }
            Some(Ok(Message::Close(_))) => return Ok(()),
            // Pings are answered by the library; binary frames are not certstream's.
            Some(Ok(_)) => {}
        }
    }
}

/// Either kind of stream under the WebSocket.
trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

/// Connects, with TLS (Mozilla's roots, through the workspace's rustls) for `wss://`.
async fn open(url: &str, config: WebSocketConfig) -> Result<tokio_tungstenite::WebSocketStream<Box<dyn Io>>, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("{url:?}: {e}"))?;
    let tls = match parsed.scheme() {
        "wss" => true,
        "ws" => false,
        other => return Err(format!("{url:?}: {other}:// is not ws:// or wss://")),
    };
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(format!("{url:?} carries credentials"));
    }
    let host = parsed.host_str().ok_or_else(|| format!("{url:?} has no host"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
    let port = parsed.port_or_known_default().unwrap_or(if tls { 443 } else { 80 });
    let address = if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
    let tcp = tokio::net::TcpStream::connect(&address).await.map_err(|e| format!("{address}: {e}"))?;
    let stream: Box<dyn Io> = if tls {
        use tokio_rustls::rustls::{pki_types::ServerName, RootCertStore};
        let roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        let config = crate::toc::probes::tls_client_config(roots)?;
        let name = ServerName::try_from(host.clone()).map_err(|_| format!("{host:?} is not a server name"))?;
        let tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config)).connect(name, tcp).await;
        Box::new(tls.map_err(|e| format!("{address}: TLS: {e}"))?)
    } else {
        Box::new(tcp)
    };
    let (ws, _) = tokio_tungstenite::client_async_with_config(url, stream, Some(config))
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    Ok(ws)
}

/// Certificate messages waiting for the lookalike check, at most.
const CHECK_QUEUE: usize = 4_096;

impl crate::App {
    /// The node's follower of `url`: every message through [`crate::App::check_domain_names`],
    /// so that each new lookalike opens its takedown case on the console. What it saw, once
    /// `stop` is told (and the messages queued by then are checked).
    pub async fn follow_certstream(
        &self,
        url: String,
        backoff: Backoff,
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> Followed {
        // The stream is read without waiting for the checks (a new case is written to the
        // store): messages queue for a checker, and past the queue's bound they are dropped
        // and counted rather than slowing the stream's reader down.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(CHECK_QUEUE);
        let app = self.clone();
        let checker = tokio::spawn(async move {
            while let Some(text) = rx.recv().await {
                if let Err(e) = app.check_domain_names(&text).await {
                    tracing::debug!(error = %e, "certificate message not checked");
                }
            }
        });
        let mut dropped = 0u64;
        let seen = follow(&url, backoff, stop, move |text| {
            if tx.try_send(text.to_string()).is_err() {
                dropped += 1;
                if dropped.is_power_of_two() {
                    tracing::warn!(dropped, "certificate messages dropped: the checks are behind the stream");
                }
            }
        })
        .await;
        let _ = checker.await;
        tracing::info!(url, connections = seen.connections, messages = seen.messages, "certificate stream left");
        seen
    }
}
