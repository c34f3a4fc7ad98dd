//! The venue's source: publishes the changes, one every `gap`, on a thread and runtime of its
//! own (on the subscribers' runtime its request would wait behind thousands of tasks still
//! reading the change before, a delay a source on its own machine does not have).

use super::now_us;
use anyhow::{bail, Context};
use std::time::{Duration, Instant};

/// Where the source publishes.
#[derive(Clone)]
pub(super) enum Source {
    /// Tessera's ingest, with the source's key.
    Tessera { url: String, key: String },
    /// The peer: a core NATS publication on the subject the subscribers follow.
    Nats { url: String },
}

impl Source {
    /// Publishes `versions`, one every `gap`; how long each publication took to be answered
    /// (Tessera: its HTTP answer, after the durable write; NATS: the flush's round trip).
    pub async fn publish(
        &self,
        versions: std::ops::RangeInclusive<u64>,
        gap: Duration,
    ) -> anyhow::Result<Vec<Duration>> {
        let source = self.clone();
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::Builder::new().name("source".into()).spawn(move || {
            let answered = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(anyhow::Error::from)
                .and_then(|rt| rt.block_on(source.run(versions, gap)));
            let _ = tx.send(answered);
        })?;
        rx.await.context("the source's thread ended")?
    }

    async fn run(self, versions: std::ops::RangeInclusive<u64>, gap: Duration) -> anyhow::Result<Vec<Duration>> {
        /// A source's connection, made once.
        enum To {
            Tessera { http: reqwest::Client, url: String, key: String },
            Nats(async_nats::Client),
        }
        let to = match self {
            Source::Tessera { url, key } => To::Tessera { http: reqwest::Client::new(), url, key },
            Source::Nats { url } => To::Nats(async_nats::connect(url.as_str()).await.context("the peer's NATS port")?),
        };
        let mut answered = Vec::new();
        for version in versions {
            // The send time is taken just before the publication goes: publish to receipt
            // includes the request, the server's checks and durable write, and the fan-out.
            let doc = serde_json::json!({
                "competition": "OG2024", "document_code": format!("ATHM100M----------FNL-{:06}--", version % 8),
                "document_type": "DT_RESULT", "version": version, "result_status": "LIVE", "feed_flag": "P",
                "date": "2024-08-04", "time": "213000000", "logical_date": "2024-08-04", "source": "BENCH1",
                "body": {"sent_us": now_us()},
            });
            let sent = Instant::now();
            match &to {
                To::Tessera { http, url, key } => {
                    let r = http
                        .post(url)
                        .header("X-API-KEY", key)
                        .header("Content-Type", "application/json")
                        .body(doc.to_string())
                        .send()
                        .await?;
                    if !r.status().is_success() {
                        bail!("publishing version {version}: {} {}", r.status(), r.text().await.unwrap_or_default());
                    }
                }
                To::Nats(client) => {
                    // What the peer's subscribers receive has the shape of Tessera's change
                    // (event, position, the document), so both are read by the same code and
                    // carry about as many bytes.
                    let change = serde_json::json!({"event": "change", "id": format!("1:{version}"), "data": doc});
                    client.publish("results", change.to_string().into()).await?;
                    client.flush().await?;
                }
            }
            answered.push(sent.elapsed());
            tokio::time::sleep(gap).await;
        }
        Ok(answered)
    }
}
