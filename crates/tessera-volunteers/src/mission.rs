//! Missions, venues, positions, and the (mission, venue) buckets the matcher fills.
//!
//! A position is a number of volunteers needed for one mission at one venue on one day. The
//! matcher assigns a volunteer to a *bucket*, a (mission, venue) pair, for the bucket's whole
//! span; the daily shifts come later ([`roster`](mod@crate::roster)). A bucket therefore needs as many
//! volunteers as its busiest day: its capacity is the peak of its daily counts.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};
use time::Date;

use crate::applicant::{label, LanguageRequirement, ParseError, Region, Skill, Zone};

/// A mission type's code such as `HOST-SPECT`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct MissionCode(String);

impl MissionCode {
    /// Parses a non-empty label of at most 64 characters without surrounding spaces.
    pub fn new(code: &str) -> Result<Self, ParseError> {
        label("mission code", code).map(Self)
    }
    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MissionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A venue's identifier such as `STADE-FR`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct VenueId(String);

impl VenueId {
    /// Parses a non-empty label of at most 64 characters without surrounding spaces.
    pub fn new(id: &str) -> Result<Self, ParseError> {
        label("venue id", id).map(Self)
    }
    /// The identifier.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for VenueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which Games a mission serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Period {
    /// The Olympic Games.
    Olympic,
    /// The Paralympic Games.
    Paralympic,
}

/// A mission type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mission {
    /// Unique code.
    pub code: MissionCode,
    /// Human name.
    pub name: String,
    /// Skills every volunteer on the mission must have.
    pub required_skills: BTreeSet<Skill>,
    /// Skills that raise the score.
    pub preferred_skills: BTreeSet<Skill>,
    /// Languages every volunteer must speak at the level.
    pub required_languages: Vec<LanguageRequirement>,
    /// Languages that raise the score.
    pub preferred_languages: Vec<LanguageRequirement>,
    /// Accreditation zones the mission works in.
    pub zones: BTreeSet<Zone>,
    /// Olympic or Paralympic.
    pub period: Period,
}

/// A venue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Venue {
    /// Unique identifier.
    pub id: VenueId,
    /// Human name.
    pub name: String,
    /// Region, compared with applicants' home regions.
    pub region: Region,
    /// Whether volunteers from elsewhere can be lodged near it.
    pub lodging: bool,
}

/// Volunteers needed for a mission at a venue on a day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// The mission.
    pub mission: MissionCode,
    /// The venue.
    pub venue: VenueId,
    /// The day.
    pub day: Date,
    /// How many volunteers.
    pub count: u32,
}

/// A (mission, venue) pair: the unit the matcher assigns volunteers to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct BucketKey {
    /// The mission.
    pub mission: MissionCode,
    /// The venue.
    pub venue: VenueId,
}

impl fmt::Display for BucketKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.mission, self.venue)
    }
}

/// A bucket with its days and how many volunteers each day needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket {
    /// The (mission, venue) pair.
    pub key: BucketKey,
    /// Days with a positive count, in order, with the count.
    pub days: Vec<(Date, u32)>,
}

impl Bucket {
    /// The number of volunteers the bucket needs: the peak of its daily counts.
    pub fn capacity(&self) -> u32 {
        self.days.iter().map(|(_, c)| *c).max().unwrap_or(0)
    }
}

/// Why missions, venues or positions do not hold together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MissionError {
    /// Two missions share a code.
    #[error("mission {0} is defined twice")]
    DuplicateMission(MissionCode),
    /// Two venues share an id.
    #[error("venue {0} is defined twice")]
    DuplicateVenue(VenueId),
    /// A position names a mission that is not defined.
    #[error("a position names unknown mission {0}")]
    UnknownMission(MissionCode),
    /// A position names a venue that is not defined.
    #[error("a position names unknown venue {0}")]
    UnknownVenue(VenueId),
    /// The same (mission, venue, day) appears twice.
    #[error("position {0} on {1} is given twice")]
    DuplicatePosition(BucketKey, Date),
}

/// Groups positions into buckets, sorted by key, after checking every name they use.
/// Positions with a zero count are ignored; buckets with no positive day do not appear.
pub fn buckets(missions: &[Mission], venues: &[Venue], positions: &[Position]) -> Result<Vec<Bucket>, MissionError> {
    let mut mission_codes = BTreeSet::new();
    for m in missions {
        if !mission_codes.insert(&m.code) {
            return Err(MissionError::DuplicateMission(m.code.clone()));
        }
    }
    let mut venue_ids = BTreeSet::new();
    for v in venues {
        if !venue_ids.insert(&v.id) {
            return Err(MissionError::DuplicateVenue(v.id.clone()));
        }
    }
    let mut grouped: BTreeMap<BucketKey, BTreeMap<Date, u32>> = BTreeMap::new();
    for p in positions {
        if !mission_codes.contains(&p.mission) {
            return Err(MissionError::UnknownMission(p.mission.clone()));
        }
        if !venue_ids.contains(&p.venue) {
            return Err(MissionError::UnknownVenue(p.venue.clone()));
        }
        let key = BucketKey { mission: p.mission.clone(), venue: p.venue.clone() };
        let days = grouped.entry(key.clone()).or_default();
        if days.insert(p.day, p.count).is_some() {
            return Err(MissionError::DuplicatePosition(key, p.day));
        }
    }
    Ok(grouped
        .into_iter()
        .map(|(key, days)| Bucket { key, days: days.into_iter().filter(|(_, c)| *c > 0).collect() })
        .filter(|b| !b.days.is_empty())
        .collect())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use time::macros::date;

    pub(crate) fn mission(code: &str) -> Mission {
        Mission {
            code: MissionCode::new(code).unwrap(),
            name: code.to_lowercase(),
            required_skills: BTreeSet::new(),
            preferred_skills: BTreeSet::new(),
            required_languages: vec![],
            preferred_languages: vec![],
            zones: BTreeSet::new(),
            period: Period::Olympic,
        }
    }

    pub(crate) fn venue(id: &str) -> Venue {
        Venue {
            id: VenueId::new(id).unwrap(),
            name: id.to_lowercase(),
            region: Region::new("IDF").unwrap(),
            lodging: false,
        }
    }

    pub(crate) fn position(m: &str, v: &str, day: Date, count: u32) -> Position {
        Position { mission: MissionCode::new(m).unwrap(), venue: VenueId::new(v).unwrap(), day, count }
    }

    #[test]
    fn buckets_group_sort_and_take_the_peak() {
        let d1 = date!(2024 - 07 - 27);
        let d2 = date!(2024 - 07 - 28);
        let ps = [
            position("B", "V1", d2, 3),
            position("A", "V2", d1, 2),
            position("B", "V1", d1, 5),
            position("A", "V1", d1, 0),
        ];
        let bs = buckets(&[mission("A"), mission("B")], &[venue("V1"), venue("V2")], &ps).unwrap();
        let keys: Vec<String> = bs.iter().map(|b| b.key.to_string()).collect();
        assert_eq!(keys, ["A@V2", "B@V1"]);
        assert_eq!(bs[1].days, vec![(d1, 5), (d2, 3)]);
        assert_eq!(bs[1].capacity(), 5);
    }

    #[test]
    fn bad_positions_are_refused_by_name() {
        let d = date!(2024 - 07 - 27);
        let ms = [mission("A")];
        let vs = [venue("V1")];
        assert!(matches!(buckets(&ms, &vs, &[position("X", "V1", d, 1)]), Err(MissionError::UnknownMission(_))));
        assert!(matches!(buckets(&ms, &vs, &[position("A", "X", d, 1)]), Err(MissionError::UnknownVenue(_))));
        assert!(matches!(
            buckets(&ms, &vs, &[position("A", "V1", d, 1), position("A", "V1", d, 2)]),
            Err(MissionError::DuplicatePosition(_, _))
        ));
        assert!(matches!(buckets(&[mission("A"), mission("A")], &vs, &[]), Err(MissionError::DuplicateMission(_))));
        assert!(matches!(buckets(&ms, &[venue("V1"), venue("V1")], &[]), Err(MissionError::DuplicateVenue(_))));
    }
}
