//! Tessera's domain: the rules of the ticket sale as plain values and functions.
//!
//! This crate owns the vocabulary (emails, session codes, money, instants), the catalogue model
//! and its import format, the verifiable lottery and the purchase caps. It takes values and
//! returns decisions. It must never depend on tokio, a database driver or an HTTP framework:
//! everything here is testable without a server and reusable on a gate device.

pub mod caps;
pub mod catalogue;
pub mod error_code;
pub mod figures;
pub mod lottery;
pub mod types;
pub mod zone;

pub use error_code::ErrorCode;
pub use types::*;
