//! The gate device: the engine and its durable log, tied so that the only way to admit is
//! decide, write to disk, then remember.

use std::path::Path;

use crate::bundle::{BundleError, BundleTrust, SignedBundle};
use crate::engine::{Engine, EngineError, FeedEvent, GateConfig, GateDecision};
use crate::log::{DecisionLog, LogError};

/// Why a device operation failed. On any error from [`Device::scan`] the gate stays closed.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// The log failed.
    #[error(transparent)]
    Log(#[from] LogError),
    /// A bundle was refused.
    #[error(transparent)]
    Bundle(#[from] BundleError),
    /// The engine refused the configuration or bundle.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The log holds no bundle: the device must be enrolled with one first.
    #[error("no bundle stored on this device")]
    NoBundle,
}

/// Results of the device.
pub type Result<T> = std::result::Result<T, DeviceError>;

/// A gate: decision engine, durable log and configuration.
#[derive(Debug)]
pub struct Device {
    engine: Engine,
    log: DecisionLog,
    config: GateConfig,
    trust: BundleTrust,
}

impl Device {
    /// Starts a device from its log at `path`, with the bundle stored there (checked again against
    /// `trust` and `now_secs`), and restores what it knew before it stopped.
    pub fn open(path: impl AsRef<Path>, config: GateConfig, trust: BundleTrust, now_secs: i64) -> Result<Device> {
        let log = DecisionLog::open(path)?;
        let signed = log.load_bundle()?.ok_or(DeviceError::NoBundle)?;
        let bundle = signed.open(&trust, now_secs, None)?;
        Self::start(log, bundle, config, trust)
    }

    /// Starts a device with `signed` as its bundle: first enrolment, or a restart with a bundle
    /// just downloaded. A bundle older than the one stored is refused (`stale`).
    pub fn enroll(
        path: impl AsRef<Path>,
        config: GateConfig,
        trust: BundleTrust,
        signed: &SignedBundle,
        now_secs: i64,
    ) -> Result<Device> {
        let mut log = DecisionLog::open(path)?;
        let current = stored_issued_at(&log, &trust)?;
        let bundle = signed.open(&trust, now_secs, current)?;
        log.save_bundle(signed)?;
        Self::start(log, bundle, config, trust)
    }

    fn start(
        log: DecisionLog,
        bundle: crate::bundle::Bundle,
        config: GateConfig,
        trust: BundleTrust,
    ) -> Result<Device> {
        let mut engine = Engine::new(bundle, config.clone())?;
        log.restore(&mut engine)?;
        Ok(Device { engine, log, config, trust })
    }

    /// Scans one line: decides, appends the decision durably, and only then lets the engine
    /// remember an admission. The one path a gate uses; an error means the gate stays closed and
    /// the engine is unchanged.
    pub fn scan(&mut self, line: &[u8], now_ms: i64) -> Result<GateDecision> {
        let mut decision = self.engine.decide(line, now_ms);
        self.log.append(&mut decision)?;
        self.engine.commit(&decision);
        Ok(decision)
    }

    /// Puts a newly downloaded bundle in force, if it opens and is not older than the current one.
    pub fn install_bundle(&mut self, signed: &SignedBundle, now_secs: i64) -> Result<()> {
        let bundle = signed.open(&self.trust, now_secs, Some(self.engine.bundle().issued_at))?;
        // `open` applies the engine's own checks (`Bundle::validate`), so a stored bundle is one
        // the engine accepts after a restart too.
        self.log.save_bundle(signed)?;
        self.engine.replace_bundle(bundle)?;
        Ok(())
    }

    /// Records feed events (and the cursor after them) durably, then applies them. The cursor is
    /// the agent's to keep: a bundle does not move it, since a bundle carries revocations but no
    /// entries.
    pub fn apply_feed(&mut self, events: &[FeedEvent], cursor: Option<i64>) -> Result<()> {
        self.log.record_feed(events, cursor)?;
        for event in events {
            self.engine.apply(event);
        }
        Ok(())
    }

    /// Applies the badge revocations a sync brought. They are kept in memory: after a restart
    /// the gate holds its bundle's list (at most a minute old while it is online) until the
    /// next sync.
    pub fn apply_badges(&mut self, list: &tessera_wire::BadgeRevocations) {
        self.engine.apply_badge_revocations(list);
    }

    /// Marks decisions up to `up_to_seq` as received by the central system.
    pub fn mark_synced(&mut self, up_to_seq: i64) -> Result<()> {
        Ok(self.log.mark_synced(up_to_seq)?)
    }

    /// The decision engine (read only: admissions go through [`Device::scan`]).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The log (read only).
    pub fn log(&self) -> &DecisionLog {
        &self.log
    }

    /// The gate's configuration.
    pub fn config(&self) -> &GateConfig {
        &self.config
    }
}

fn stored_issued_at(log: &DecisionLog, trust: &BundleTrust) -> Result<Option<i64>> {
    // A stored bundle that no longer verifies (enrolment key rotated) does not hold back a new one.
    Ok(log.load_bundle()?.and_then(|b| b.verify_and_decode(trust).ok()).map(|b| b.issued_at))
}
