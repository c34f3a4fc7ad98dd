//! The node's own health, as the operations centre reads it: an `application/health+json`
//! report (`tessera_ops::health`) of the checks each capability runs, served at `/readyz`
//! (and whole, with every check, to whoever asks for that media type).

use crate::App;
use tessera_ops::health::{node_report, HealthCheck, HealthReport, HealthStatus};

/// A check slower than this warns (the store answers in milliseconds when well).
const SLOW_MS: u128 = 500;

impl App {
    /// Runs the node's checks now: the store takes a write (a full disk or a read-only
    /// database answers reads only), the bus is connected (on several nodes), the security
    /// engine's queue has room, the screening authority's batches are answered.
    pub async fn health_report(&self) -> HealthReport {
        let mut checks = Vec::new();
        let started = std::time::Instant::now();
        let write = self.store.ping_write(self.now()).await;
        let ms = started.elapsed().as_millis();
        let status = match (&write, ms > SLOW_MS) {
            (Err(_), _) => HealthStatus::Fail,
            (Ok(()), true) => HealthStatus::Warn,
            (Ok(()), false) => HealthStatus::Pass,
        };
        let mut c = HealthCheck::new(self.store.backend(), "datastore", status).observed(ms as u64, "ms");
        if let Err(e) = &write {
            c = c.output(&e.to_string());
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

    fn soc_shed(&self) -> u64 {
        self.soc.shed_count()
    }

    fn soc_queue_room(&self) -> (usize, usize) {
        self.soc.queue_room()
    }
}
