//! The bus between Tessera nodes, on NATS JetStream.
//!
//! Three streams, on the NATS server's disk:
//!
//! - **`TESSERA_EVENTS`** (subjects `tessera.events.>`, kept a day): what one node decided that
//!   every node must apply at once: sign-outs, edge decisions and their lifting, gate
//!   revocations. A node follows it from the moment it starts; what came before is in the
//!   store, which the node loads when it starts.
//! - **`TESSERA_ROOMS`** (subjects `tessera.room.<phase>`, kept 30 days): the waiting rooms'
//!   operation log (configuration, joins, ticks with the claims and checkouts seen since the
//!   last one). Every node replays it from its first message and applies it in the stream's
//!   order, so that every node holds the same rooms, and a restart of every node keeps them.
//! - **`TESSERA_RESULTS`** (subject `tessera.results.feed`, kept 60 days: the Games and their
//!   Paralympics): every document a venue source published, in the order every node's results
//!   feed applies them, so that positions and the epoch are the same on every node.
//!
//! **Following** is an ordered consumer from a start sequence. When it breaks (NATS restarted,
//! the connection lost), the follower starts a new one at the sequence after the last message
//! it delivered: a node catches up from the stream, not by polling. The client reconnects by
//! itself, forever; a node started while NATS is down starts anyway and joins when it comes.
//!
//! This crate knows subjects and bytes only; what the messages mean is the app's.

use async_nats::jetstream::{self, consumer, stream};
use futures_util::StreamExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// How long a publisher waits for the stream's acknowledgement before calling the bus down.
pub const PUBLISH_TIMEOUT: Duration = Duration::from_secs(2);
/// The pause before following again after the stream broke.
const RETRY: Duration = Duration::from_millis(500);
/// How far before the moment it was asked for a follower `From::Now` begins (see `follow`).
const NOW_MARGIN: Duration = Duration::from_secs(2);
/// Messages a follower holds for a consumer that is slow to take them: past it the follower
/// waits (back-pressure to the stream), it never drops.
const FOLLOW_BUFFER: usize = 4096;

/// One of the bus's streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    Events,
    Rooms,
    Results,
}

impl StreamKind {
    const ALL: [StreamKind; 3] = [StreamKind::Events, StreamKind::Rooms, StreamKind::Results];

    fn suffix(self) -> &'static str {
        match self {
            StreamKind::Events => "EVENTS",
            StreamKind::Rooms => "ROOMS",
            StreamKind::Results => "RESULTS",
        }
    }

    fn topic(self) -> &'static str {
        match self {
            StreamKind::Events => "events",
            StreamKind::Rooms => "room",
            StreamKind::Results => "results",
        }
    }

    fn max_age(self) -> Duration {
        match self {
            StreamKind::Events => Duration::from_secs(86_400),
            StreamKind::Rooms => Duration::from_secs(30 * 86_400),
            StreamKind::Results => Duration::from_secs(60 * 86_400),
        }
    }
}

/// A subject token: NATS gives `.`, `*`, `>` and white space a meaning, so a name holding any
/// of them (or anything but ASCII letters, digits, `-` and `_`) is written in hex instead.
fn token(name: &str) -> String {
    if !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        name.to_string()
    } else {
        let hex: String = name.bytes().map(|b| format!("{b:02x}")).collect();
        format!("x{hex}")
    }
}

/// A message as a follower delivers it.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub subject: String,
    /// Its position in the stream: increasing, without gaps within one follower's deliveries
    /// except for messages the stream's age limit already dropped.
    pub seq: u64,
    pub payload: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("the bus (NATS) is unavailable: {0}")]
    Unavailable(String),
}

/// Where a follower starts.
#[derive(Debug, Clone, Copy)]
pub enum From {
    /// The stream's first message: for a log every node must replay.
    Start,
    /// What is published from the moment the follower is asked for (less a margin of
    /// `NOW_MARGIN`), even when NATS answers only later: for events, whose handlers are
    /// idempotent.
    Now,
}

/// A node's connection to the bus; cheap to clone.
#[derive(Clone)]
pub struct Bus {
    /// The deployment's name on the NATS server: its streams are `TESSERA_<ns>_EVENTS` and
    /// `TESSERA_<ns>_ROOMS`, its subjects `tessera.<ns>.events.>` and `tessera.<ns>.room.>`,
    /// so that two deployments (or two tests) sharing a NATS server never hear each other.
    ns: Arc<str>,
    client: async_nats::Client,
    js: jetstream::Context,
    node: Arc<str>,
    streams_ready: Arc<AtomicBool>,
}

impl std::fmt::Debug for Bus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bus").field("node", &self.node).finish()
    }
}

impl Bus {
    /// Connects as node `node` of deployment `ns` (letters and digits). Returns at once even if NATS is down: the client keeps trying,
    /// publishing fails with [`BusError::Unavailable`] until it is up, and followers start when
    /// it comes.
    pub async fn connect(url: &str, ns: &str, node: &str) -> Result<Bus, BusError> {
        if ns.is_empty() || !ns.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(BusError::Unavailable(format!("the deployment name {ns:?} must be letters and digits")));
        }
        let client = async_nats::ConnectOptions::new()
            .name(format!("tessera {node}"))
            .retry_on_initial_connect()
            .connection_timeout(Duration::from_secs(2))
            .connect(url)
            .await
            .map_err(|e| BusError::Unavailable(format!("{url}: {e}")))?;
        let mut js = jetstream::new(client.clone());
        js.set_timeout(PUBLISH_TIMEOUT);
        Ok(Bus { ns: ns.into(), client, js, node: node.into(), streams_ready: Arc::default() })
    }

    /// The stream's name for this deployment.
    pub fn stream_name(&self, kind: StreamKind) -> String {
        format!("TESSERA_{}_{}", self.ns, kind.suffix())
    }

    /// The subject of an event of kind `kind`, e.g. `tessera.<ns>.events.signout`.
    pub fn event_subject(&self, kind: &str) -> String {
        format!("tessera.{}.events.{}", self.ns, token(kind))
    }

    /// The subject of a phase's room log.
    pub fn room_subject(&self, phase: &str) -> String {
        format!("tessera.{}.room.{}", self.ns, token(phase))
    }

    /// The subject of the results feed's log.
    pub fn results_subject(&self) -> String {
        format!("tessera.{}.results.feed", self.ns)
    }

    /// Deletes this deployment's streams and what they hold (tests clean up with it).
    pub async fn delete_streams(&self) -> Result<(), BusError> {
        for kind in StreamKind::ALL {
            self.js.delete_stream(self.stream_name(kind)).await.map_err(|e| BusError::Unavailable(e.to_string()))?;
        }
        self.streams_ready.store(false, Ordering::Release);
        Ok(())
    }

    /// This node's name on the bus.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Whether the client holds a connection now.
    pub fn connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }

    /// Creates the streams if they are missing (idempotent; every node does it).
    async fn ensure_streams(&self) -> Result<(), BusError> {
        if self.streams_ready.load(Ordering::Acquire) {
            return Ok(());
        }
        for kind in StreamKind::ALL {
            self.stream(kind).await?;
        }
        self.streams_ready.store(true, Ordering::Release);
        Ok(())
    }

    async fn stream(&self, kind: StreamKind) -> Result<stream::Stream, BusError> {
        let config = stream::Config {
            name: self.stream_name(kind),
            subjects: vec![format!("tessera.{}.{}.>", self.ns, kind.topic())],
            max_age: kind.max_age(),
            storage: stream::StorageType::File,
            ..Default::default()
        };
        self.js
            .get_or_create_stream(config)
            .await
            .map_err(|e| BusError::Unavailable(format!("stream {}: {e}", self.stream_name(kind))))
    }

    /// The sequence of the stream's last message now (0 when empty).
    pub async fn last_sequence(&self, kind: StreamKind) -> Result<u64, BusError> {
        if !self.connected() {
            return Err(BusError::Unavailable("not connected".into()));
        }
        self.ensure_streams().await?;
        let mut stream = self.stream(kind).await?;
        let info = stream.info().await.map_err(|e| BusError::Unavailable(e.to_string()))?;
        Ok(info.state.last_sequence)
    }

    /// Publishes and waits for the stream to store it (at most [`PUBLISH_TIMEOUT`]); returns
    /// its sequence number in the stream.
    pub async fn publish(&self, subject: String, payload: Vec<u8>) -> Result<u64, BusError> {
        if !self.connected() {
            return Err(BusError::Unavailable("not connected".into()));
        }
        self.ensure_streams().await?;
        let sent = async {
            let ack = self.js.publish(subject, payload.into()).await.map_err(|e| e.to_string())?;
            ack.await.map(|a| a.sequence).map_err(|e| e.to_string())
        };
        match tokio::time::timeout(PUBLISH_TIMEOUT, sent).await {
            Ok(Ok(seq)) => Ok(seq),
            Ok(Err(e)) => Err(BusError::Unavailable(e)),
            Err(_) => Err(BusError::Unavailable("no acknowledgement in time".into())),
        }
    }

    /// Follows a stream, delivering each message once and in order, until the receiver is
    /// dropped. Survives NATS restarts (see the crate's documentation).
    pub fn follow(&self, kind: StreamKind, from: From) -> mpsc::Receiver<Delivered> {
        let (tx, rx) = mpsc::channel(FOLLOW_BUFFER);
        let bus = self.clone();
        tokio::spawn(async move {
            // The next sequence to deliver; `None` until known for `From::Now`.
            let mut next: Option<u64> = match from {
                From::Start => Some(1),
                From::Now => None,
            };
            // "Now" is when the follower was asked for, not when NATS first answers: a node
            // whose bus connects a moment after it starts must still hear what another node
            // published in that moment (a block decision, a sign-out). The margin covers
            // clocks that differ a little between a node and NATS; what it replays (events
            // already applied) is harmless, because applying an event is idempotent.
            let asked_at = time::OffsetDateTime::now_utc() - NOW_MARGIN;
            loop {
                match bus.follow_once(kind, &mut next, asked_at, &tx).await {
                    Ok(()) => return, // the receiver is gone
                    Err(e) => {
                        tracing::warn!(stream = %bus.stream_name(kind), error = %e, "bus stream interrupted; following again")
                    }
                }
                tokio::time::sleep(RETRY).await;
                if tx.is_closed() {
                    return;
                }
            }
        });
        rx
    }

    /// One consumer's life: from `next` until the stream breaks (`Err`) or the receiver is
    /// dropped (`Ok`).
    async fn follow_once(
        &self,
        kind: StreamKind,
        next: &mut Option<u64>,
        asked_at: time::OffsetDateTime,
        tx: &mpsc::Sender<Delivered>,
    ) -> Result<(), String> {
        if !self.connected() {
            return Err("not connected".into());
        }
        self.ensure_streams().await.map_err(|e| e.to_string())?;
        let mut stream = self.stream(kind).await.map_err(|e| e.to_string())?;
        let state = stream.info().await.map_err(|e| e.to_string())?.state.clone();
        let (start, deliver_policy) = match *next {
            // The stream is shorter than what was delivered: NATS lost its storage and began
            // again. Waiting for the old sequence would hear nothing for a long while.
            Some(n) if n > state.last_sequence + 1 => {
                tracing::error!(
                    stream = %self.stream_name(kind),
                    delivered_up_to = n - 1,
                    now_ends_at = state.last_sequence,
                    "the bus stream was reset; following it from its start"
                );
                let start = state.first_sequence.max(1);
                (start, consumer::DeliverPolicy::ByStartSequence { start_sequence: start })
            }
            Some(n) => (n, consumer::DeliverPolicy::ByStartSequence { start_sequence: n }),
            None => (0, consumer::DeliverPolicy::ByStartTime { start_time: asked_at }),
        };
        let consumer = stream
            .create_consumer(consumer::pull::OrderedConfig { deliver_policy, ..Default::default() })
            .await
            .map_err(|e| e.to_string())?;
        let mut messages = consumer.messages().await.map_err(|e| e.to_string())?;
        while let Some(m) = messages.next().await {
            let m = m.map_err(|e| e.to_string())?;
            let seq = m.info().map_err(|e| e.to_string())?.stream_sequence;
            if seq < start {
                continue;
            }
            let d = Delivered { subject: m.subject.to_string(), seq, payload: m.payload.to_vec() };
            if tx.send(d).await.is_err() {
                return Ok(());
            }
            *next = Some(seq + 1);
        }
        Err("the stream ended".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_subject_tokens() {
        assert_eq!(token("P1"), "P1");
        assert_eq!(token("a.b"), "x612e62");
        assert_eq!(token(""), "x");
        assert_eq!(token("a>*"), "x613e2a");
    }

    /// Against the machine's NATS: what one publishes, a follower from the start sees in
    /// order, and a follower from now sees only what comes after it started.
    #[tokio::test]
    async fn publishes_and_follows_in_order() {
        let Ok(url) = std::env::var("TESSERA_TEST_NATS_URL") else {
            eprintln!("SKIPPED publishes_and_follows_in_order: TESSERA_TEST_NATS_URL is unset");
            return;
        };
        let ns = format!("bustest{}", std::process::id());
        let bus = Bus::connect(&url, &ns, "test").await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let subject = bus.room_subject("P1");
        let first = bus.publish(subject.clone(), b"one".to_vec()).await.unwrap();
        // "Now" begins NOW_MARGIN before the follower was asked for.
        tokio::time::sleep(NOW_MARGIN + Duration::from_millis(300)).await;
        let mut later = bus.follow(StreamKind::Rooms, From::Now);
        let mut all = bus.follow(StreamKind::Rooms, From::Start);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let second = bus.publish(subject.clone(), b"two".to_vec()).await.unwrap();
        assert!(second > first);
        let mut seen = Vec::new();
        while seen.len() < 2 {
            let d = tokio::time::timeout(Duration::from_secs(5), all.recv()).await.unwrap().unwrap();
            if d.subject == subject {
                seen.push(d.payload);
            }
        }
        assert_eq!(seen, vec![b"one".to_vec(), b"two".to_vec()]);
        let d = loop {
            let d = tokio::time::timeout(Duration::from_secs(5), later.recv()).await.unwrap().unwrap();
            if d.subject == subject {
                break d;
            }
        };
        assert_eq!((d.seq, d.payload), (second, b"two".to_vec()));
        bus.delete_streams().await.unwrap();
    }
}
