//! The medal table, derived from final results: each `DT_RESULT` whose status is `OFFICIAL`
//! gives gold to its rank 1, silver to its rank 2 and bronze to its rank 3 (ties share: two
//! rank-1 places are two golds, as in a dead heat). A correction is a new version of the
//! result, and the table is derived again from the latest versions, so it follows.

use crate::document::{Header, ResultStatus};
use crate::feed::Change;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Medals {
    pub gold: u32,
    pub silver: u32,
    pub bronze: u32,
}

impl Medals {
    pub fn total(&self) -> u32 {
        self.gold + self.silver + self.bronze
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    /// Place in the table (organisations level on every medal share it).
    pub rank: u32,
    pub organisation: String,
    #[serde(flatten)]
    pub medals: Medals,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MedalTable {
    /// By gold, then silver, then bronze, then the organisation's code.
    pub rows: Vec<Row>,
    /// Events whose official result is in.
    pub events: u32,
}

impl MedalTable {
    /// Whether a change to a document with this header can move the table.
    pub fn counts(&self, h: &Header) -> bool {
        h.key.document_type == "DT_RESULT"
    }

    pub fn from_results<'a>(docs: impl Iterator<Item = &'a Change>) -> MedalTable {
        let mut by_org: BTreeMap<String, Medals> = BTreeMap::new();
        let mut events = 0;
        for c in docs {
            if c.header.key.document_type != "DT_RESULT" || c.header.result_status != Some(ResultStatus::Official) {
                continue;
            }
            let Some(body) = &c.body else { continue };
            if body.ranked.is_empty() {
                continue;
            }
            events += 1;
            for r in &body.ranked {
                let m = by_org.entry(r.organisation.clone()).or_default();
                match r.rank {
                    1 => m.gold += 1,
                    2 => m.silver += 1,
                    3 => m.bronze += 1,
                    _ => {}
                }
            }
        }
        let mut rows: Vec<Row> = by_org
            .into_iter()
            .filter(|(_, m)| m.total() > 0)
            .map(|(organisation, medals)| Row { rank: 0, organisation, medals })
            .collect();
        rows.sort_by(|a, b| {
            (b.medals.gold, b.medals.silver, b.medals.bronze)
                .cmp(&(a.medals.gold, a.medals.silver, a.medals.bronze))
                .then_with(|| a.organisation.cmp(&b.organisation))
        });
        let mut last = None;
        for (i, row) in rows.iter_mut().enumerate() {
            let m = (row.medals.gold, row.medals.silver, row.medals.bronze);
            row.rank = match last {
                Some((lm, lr)) if lm == m => lr,
                _ => i as u32 + 1,
            };
            last = Some((m, row.rank));
        }
        MedalTable { rows, events }
    }

    pub fn of(&self, organisation: &str) -> Medals {
        self.rows.iter().find(|r| r.organisation == organisation).map(|r| r.medals).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use crate::document::{Body, Ranked, ResultStatus};
    use crate::feed::{Applied, Feed};

    fn result(code: &str, version: u32, status: ResultStatus, podium: &[(u32, &str)]) -> crate::Document {
        let mut d = crate::feed::tests::doc(code, version, true);
        d.header.result_status = Some(status);
        d.body = Some(Body {
            json: None,
            xml: Some("<Competition/>".into()),
            ranked: podium
                .iter()
                .map(|(rank, org)| Ranked { rank: *rank, organisation: org.to_string(), name: String::new() })
                .collect(),
        });
        d
    }

    #[test]
    fn official_results_make_the_table_and_a_correction_moves_it() {
        let mut f = Feed::new(1);
        let apply = |f: &mut Feed, d| assert!(matches!(f.apply(d, 0), Ok(Applied::Accepted(_))));
        apply(&mut f, result("ATHM100M", 1, ResultStatus::Unofficial, &[(1, "USA"), (2, "JAM"), (3, "USA")]));
        assert!(f.medals().rows.is_empty(), "no medal before the result is official");
        apply(&mut f, result("ATHM100M", 2, ResultStatus::Official, &[(1, "USA"), (2, "JAM"), (3, "USA")]));
        apply(&mut f, result("SWMW100M", 1, ResultStatus::Official, &[(1, "AUS"), (1, "CAN"), (3, "USA")]));
        let t = f.medals().clone();
        assert_eq!(t.events, 2);
        assert_eq!((t.of("USA").gold, t.of("USA").bronze), (1, 2));
        assert_eq!((t.rows[0].organisation.as_str(), t.rows[0].rank), ("USA", 1));
        // AUS and CAN level on one gold each: they share second place.
        assert_eq!(t.rows.iter().filter(|r| r.rank == 2).count(), 2, "{t:?}");
        // A correction after review: the bronze goes to GBR.
        apply(&mut f, result("ATHM100M", 3, ResultStatus::Official, &[(1, "USA"), (2, "JAM"), (3, "GBR")]));
        assert_eq!(f.medals().of("USA").bronze, 1);
        assert_eq!(f.medals().of("GBR").bronze, 1);
        // A withdrawn result takes its medals with it.
        let mut w = crate::feed::tests::doc("SWMW100M", 1, false);
        w.header.result_status = Some(ResultStatus::Official);
        apply(&mut f, w);
        assert_eq!((f.medals().of("AUS").gold, f.medals().events), (0, 1));
    }
}
