//! Finding a session: what the catalogue offers to filter by (sports, venues, days of the
//! event), read once and kept for a few seconds, since every visit to the session list shows it.

use crate::{App, Result};
use std::collections::BTreeMap;
use std::sync::Arc;
use tessera_store::SessionFilter;

/// The most sessions read to build the facets: far above any Games (about 750 sessions).
const MAX_SESSIONS: i64 = 20_000;

/// What there is to choose from, with how many sessions each.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facets {
    /// Sports, alphabetically.
    pub sports: Vec<(String, i64)>,
    /// Venues (code, name), by name.
    pub venues: Vec<(String, String, i64)>,
    /// Local days of the event zone (`2024-07-27`), in order.
    pub days: Vec<(jiff::civil::Date, i64)>,
}

impl App {
    pub async fn catalogue_facets(&self) -> Result<Arc<Facets>> {
        if let Some(f) = self.caches.facets.get(&()) {
            return Ok(f);
        }
        let mut sports: BTreeMap<String, i64> = BTreeMap::new();
        let mut venues: BTreeMap<(String, String), i64> = BTreeMap::new();
        let mut days: BTreeMap<jiff::civil::Date, i64> = BTreeMap::new();
        let mut offset = 0;
        while offset < MAX_SESSIONS {
            let page = self.store.list_sessions(&SessionFilter { limit: 1000, offset, ..Default::default() }).await?;
            for s in &page {
                *sports.entry(s.sport.clone()).or_default() += 1;
                *venues.entry((s.venue_name.clone(), s.venue_code.clone())).or_default() += 1;
                if let Some(d) = self.config.event_zone.date_of(s.starts_at) {
                    *days.entry(d).or_default() += 1;
                }
            }
            if page.len() < 1000 {
                break;
            }
            offset += 1000;
        }
        let facets = Arc::new(Facets {
            sports: sports.into_iter().collect(),
            venues: venues.into_iter().map(|((name, code), n)| (code, name, n)).collect(),
            days: days.into_iter().collect(),
        });
        self.caches.facets.put((), facets.clone());
        Ok(facets)
    }
}
