//! The node's own health, as the operations centre reads it: an `application/health+json`
//! report (`tessera_ops::health`) of the checks each capability runs, served at `/readyz`
//! (and whole, with every check, to whoever asks for that media type).

use crate::App;
use std::sync::atomic::{AtomicU64, Ordering};
use tessera_ops::health::{node_report, HealthCheck, HealthReport, HealthStatus};

/// A check slower than this warns (the store answers in milliseconds when well).
const SLOW_MS: u128 = 500;

/// The readiness probe's write (256 KiB, committed), run one at a time: a request that arrives
/// while one runs waits for it and takes its answer. `/readyz` is open to anyone, and without
/// this a crowd of requests would queue a write each, up to a whole batch of the writer's
/// (hundreds of them, tens of MiB in one commit) ahead of the fans' purchases. Nothing is
/// remembered across time: a request after the last probe ended runs its own, so a disk that
/// just filled, or just got room again, is seen at once.
#[derive(Default)]
pub(crate) struct StoreProbe {
    /// Held while a probe runs; holds the last one's time and failure.
    last: tokio::sync::Mutex<(u128, Option<String>)>,
    /// Probes ended.
    ended: AtomicU64,
}

impl App {
    /// Runs the node's checks now: the store takes a write (a full disk or a read-only
    /// database answers reads only), the bus is connected (on several nodes), the security
    /// engine's queue has room, the screening authority's batches are answered.
    pub async fn health_report(&self) -> HealthReport {
        let mut checks = Vec::new();
        let (ms, failed) = self.probe_store().await;
        let status = match (&failed, ms > SLOW_MS) {
            (Some(_), _) => HealthStatus::Fail,
            (None, true) => HealthStatus::Warn,
            (None, false) => HealthStatus::Pass,
        };
        let mut c = HealthCheck::new(self.store.backend(), "datastore", status).observed(ms as u64, "ms");
        if let Some(e) = &failed {
            c = c.output(e);
        }
        checks.push((format!("{}:writable", self.store.backend()), c));
        if let Some(cluster) = &self.cluster {
            let up = cluster.bus.connected();
            let c = HealthCheck::new("nats", "component", if up { HealthStatus::Pass } else { HealthStatus::Fail });
            checks.push(("nats:connected".to_string(), if up { c } else { c.output("not connected to NATS") }));
        }
        let (room, max) = self.soc_queue_room();
        let used = 1.0 - room as f64 / max.max(1) as f64;
        let status = if used > 0.9 { HealthStatus::Warn } else { HealthStatus::Pass };
        checks.push((
            "soc:queue".to_string(),
            HealthCheck::new("detection engine", "component", status).observed((used * 100.0).round(), "percent"),
        ));
        let shed = self.soc_shed();
        checks.push((
            "soc:shed".to_string(),
            HealthCheck::new("detection engine", "component", HealthStatus::Pass).observed(shed, "events"),
        ));
        let open = self.accreditations.open_batches();
        checks.push((
            "screening:openBatches".to_string(),
            HealthCheck::new("screening authority (sandbox)", "component", HealthStatus::Pass)
                .observed(open as u64, "batches"),
        ));
        node_report("tessera", env!("CARGO_PKG_VERSION"), checks, self.now_ms())
    }

    /// The store's probe write (see [`StoreProbe`]): how long it took, and why it failed.
    async fn probe_store(&self) -> (u128, Option<String>) {
        let p = &self.store_probe;
        let arrived = p.ended.load(Ordering::SeqCst);
        let mut last = p.last.lock().await;
        if p.ended.load(Ordering::SeqCst) != arrived {
            // A probe was running when this request arrived, and has ended since: its write
            // was committed (or failed) after the request came, which is what it asks.
            return last.clone();
        }
        let started = std::time::Instant::now();
        let failed = self.store.ping_write(self.now()).await.err().map(|e| e.to_string());
        *last = (started.elapsed().as_millis(), failed);
        p.ended.fetch_add(1, Ordering::SeqCst);
        last.clone()
    }

    fn soc_shed(&self) -> u64 {
        self.soc.shed_count()
    }

    fn soc_queue_room(&self) -> (usize, usize) {
        self.soc.queue_room()
    }
}
