//! Results to the world, pure: no I/O, no clock (times are passed in).
//!
//! - [`document`]: an ODF document (header and body) from JSON or ODF XML, checked.
//! - [`feed`]: the latest version of each document by the ODF rules, and the feed's own
//!   sequence and epoch, so that a consumer knows what it missed.
//! - [`medals`]: the medal table derived from official results.
//! - [`coalesce`]: bursts of versions delivered at most every 250 ms, last wins.
//! - [`access`]: who may publish what, and who receives what (entitlements, filters).

pub mod access;
pub mod coalesce;
pub mod document;
pub mod feed;
pub mod medals;

pub use access::{Entitlement, Filter};
pub use document::{from_json, from_xml, Document, DocumentError, Header, Key};
pub use feed::{Applied, Catchup, Change, ChangeKind, Feed, FeedError, Position};
pub use medals::MedalTable;
