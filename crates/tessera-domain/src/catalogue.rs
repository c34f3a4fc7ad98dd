//! The catalogue: venues, sessions and the price categories that carry each session's quota.
//!
//! A [`Catalogue`] is a validated value: codes are unique, every session names a known venue,
//! every category a known session, times and quotas make sense. The import format is
//! documented in `docs/catalogue-format.md` and parsed by [`import::parse`]; the demo
//! catalogue at Paris 2024 scale comes from [`demo::generate`].

use crate::{Cents, Code, Timestamp};
use serde::{Deserialize, Serialize};

pub mod demo;
pub mod import;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Venue {
    pub code: Code,
    pub name: String,
    pub city: String,
    pub capacity: i64,
    /// Entrances and zones of the venue, e.g. `["Gate A", "Gate B"]`.
    pub zones: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub code: Code,
    pub sport: String,
    pub title: String,
    pub venue: Code,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    /// Ceremonies have a lower per-account cap.
    pub ceremony: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceCategory {
    pub session: Code,
    pub code: Code,
    pub name: String,
    pub price: Cents,
    pub quota: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalogue {
    pub venues: Vec<Venue>,
    pub sessions: Vec<Session>,
    pub categories: Vec<PriceCategory>,
}

impl Catalogue {
    pub fn total_seats(&self) -> i64 {
        self.categories.iter().map(|c| c.quota).sum()
    }
}
