//! The core of a Tessera gate device. This crate owns what a gate decides and remembers, offline:
//! the signed venue [`bundle`] it downloads (sessions, issuer public keys, timing policy,
//! revocations), the admission decision on a scanned QR line ([`engine`]: the credential check
//! from `tessera-credential`, then session hours, revocation and "already used"), and the durable
//! on-device record of every decision and of what other gates reported ([`log`], SQLite).
//! [`device::Device::scan`] ties them together and is the one path a gate admits through.
//!
//! Invariant: **synchronous and without network**. No async runtime, no HTTP client, no server
//! database driver: it runs on small gate devices, in simulators and under property tests. The
//! agent that downloads bundles, follows the central feed and uploads decisions is written
//! elsewhere and calls into this crate.

pub mod bundle;
pub mod device;
pub mod engine;
pub mod fixture;
pub mod log;
pub mod wire;

pub use bundle::{Bundle, BundleError, BundleKey, BundlePolicy, BundleSession, BundleTrust, SignedBundle};
pub use device::{Device, DeviceError};
pub use engine::{Engine, EngineError, FeedEvent, GateConfig, GateDecision, Kind, Outcome, PreviousEntry, REASONS};
pub use log::{DecisionLog, LogError};
