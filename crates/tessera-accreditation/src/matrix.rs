//! The access matrix: which venues, zones and privileges each category may be granted.
//!
//! An accreditation card prints its holder's category, venue codes, zone numbers and privilege
//! codes; the matrix is the event's configuration of what each category may carry. A request is
//! checked against it item by item, and the first item outside the category's rights is named in
//! the error. Time-bound grants ([`TimedGrant`]) add access between two instants: a **day pass**
//! (within the category's rights, for at most a day) or an **upgrade** (extra zones the category
//! does not have, issued by accreditation staff for a stated window).
//!
//! # The demo conventions ([`AccessMatrix::demo_default`])
//!
//! Categories follow the IOC's published letters where they exist: `A` athlete, `AP` alternate
//! athlete, `Ac` NOC chef de mission and team leadership, `Am` NOC attaché and team management,
//! `Ao` NOC administrative personnel, `E` journalist, `Es` sport-specific journalist, `EP`
//! photographer, `EPs` sport-specific photographer, `ET` press technician, `Ec` press support
//! staff, `ENR` non-rights-holding broadcaster, `IF` international federation, `TO` technical
//! official. `RT` (rights-holding broadcaster), `HB` (host broadcaster), `WF` (workforce), `VL`
//! (volunteer) and `G` (guest) are this project's letters: no public source confirms them.
//!
//! There is no public official zone table; these meanings are ours (only "6 = VIP lounges" comes
//! from a participant's account of a Sochi 2014 card):
//!
//! | zone | meaning |
//! |---|---|
//! | 1 | field of play |
//! | 2 | athlete and team areas (changing rooms, warm-up, call room) |
//! | 3 | competition and results operations, officials' areas |
//! | 4 | media areas (mixed zone, press tribune, venue media centre) |
//! | 5 | broadcast areas (commentary positions, broadcast compound) |
//! | 6 | Olympic Family and VIP lounges |
//! | 7 | back of house and venue operations |
//! | 8 | Village residential zone |
//! | 9 | common areas of the venue (concourses, front of house) |
//!
//! Venues: `ALL` every venue, `STA` stadium, `AQC` aquatics centre, `ARN` arena, `OLV` Olympic
//! Village, `IBC` international broadcast centre, `MPC` main press centre. Privileges: `DIN`
//! Village dining, `T1` allocated car, `T2` shared car pool, `T3` Olympic Family bus, `TA`
//! athlete transport, `TM` media transport, `TF` workforce transport, `PT` free public transport,
//! `UNI` uniform collection.

use std::collections::{BTreeMap, BTreeSet};

use crate::codes::{CategoryCode, PrivilegeCode, VenueCode, ZoneCode};

/// Longest day pass, in seconds (a day pass covers one competition day).
pub const MAX_DAY_PASS_SECS: i64 = 24 * 3600;

/// What one category may be granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryRights {
    /// What the category is, for people.
    pub description: String,
    /// Venues the category may be granted; containing `ALL` means every venue (and `ALL` itself).
    pub venues: BTreeSet<VenueCode>,
    /// Zones the category may be granted.
    pub zones: BTreeSet<ZoneCode>,
    /// Privileges the category may be granted.
    pub privileges: BTreeSet<PrivilegeCode>,
}

impl CategoryRights {
    fn allows_venue(&self, v: &VenueCode) -> bool {
        self.venues.contains(v) || self.venues.iter().any(VenueCode::is_all)
    }
}

/// Why a request, a category or a grant does not fit the matrix. Each variant names the item.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MatrixError {
    /// The category is not in the matrix.
    #[error("category `{0}` does not exist")]
    UnknownCategory(CategoryCode),
    /// The venue code is not in the matrix.
    #[error("venue `{0}` does not exist")]
    UnknownVenue(VenueCode),
    /// The zone code is not in the matrix.
    #[error("zone `{0}` does not exist")]
    UnknownZone(ZoneCode),
    /// The privilege code is not in the matrix.
    #[error("privilege `{0}` does not exist")]
    UnknownPrivilege(PrivilegeCode),
    /// The venue is outside the category's rights.
    #[error("venue `{venue}` is outside category `{category}`'s access")]
    VenueNotAllowed {
        /// The category.
        category: CategoryCode,
        /// The venue requested.
        venue: VenueCode,
    },
    /// The zone is outside the category's rights.
    #[error("zone `{zone}` is outside category `{category}`'s access")]
    ZoneNotAllowed {
        /// The category.
        category: CategoryCode,
        /// The zone requested.
        zone: ZoneCode,
    },
    /// The privilege is outside the category's rights.
    #[error("privilege `{privilege}` is outside category `{category}`'s access")]
    PrivilegeNotAllowed {
        /// The category.
        category: CategoryCode,
        /// The privilege requested.
        privilege: PrivilegeCode,
    },
    /// A timed grant's window is empty, or a day pass is longer than [`MAX_DAY_PASS_SECS`].
    #[error("invalid grant window: {0}")]
    BadWindow(&'static str),
}

/// The kind of a time-bound grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum GrantKind {
    /// Access for one day, within the category's rights.
    DayPass,
    /// Extra access beyond the category's rights, for a window.
    Upgrade,
}

/// Access valid only between two instants (unix seconds, `from` inclusive, `until` exclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimedGrant {
    /// Day pass or upgrade.
    pub kind: GrantKind,
    /// Venues; empty means the badge's own venues.
    pub venues: Vec<VenueCode>,
    /// Zones granted.
    pub zones: Vec<ZoneCode>,
    /// First second of the grant.
    pub from: i64,
    /// First second after the grant.
    pub until: i64,
}

impl TimedGrant {
    /// Whether the grant is in force at `now`.
    pub fn is_active(&self, now: i64) -> bool {
        self.from <= now && now < self.until
    }
}

/// The configurable category × venue × zone × privilege matrix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessMatrix {
    venues: BTreeMap<VenueCode, String>,
    zones: BTreeMap<ZoneCode, String>,
    privileges: BTreeMap<PrivilegeCode, String>,
    categories: BTreeMap<CategoryCode, CategoryRights>,
}

impl AccessMatrix {
    /// An empty matrix: every category is unknown.
    pub fn new() -> Self {
        Self::default()
    }

    /// Declares a venue code and its name.
    pub fn add_venue(&mut self, code: VenueCode, name: &str) {
        self.venues.insert(code, name.to_owned());
    }

    /// Declares a zone code and its meaning.
    pub fn add_zone(&mut self, code: ZoneCode, meaning: &str) {
        self.zones.insert(code, meaning.to_owned());
    }

    /// Declares a privilege code and its meaning.
    pub fn add_privilege(&mut self, code: PrivilegeCode, meaning: &str) {
        self.privileges.insert(code, meaning.to_owned());
    }

    /// Sets a category's rights; every code they name must be declared first.
    pub fn set_category(&mut self, code: CategoryCode, rights: CategoryRights) -> Result<(), MatrixError> {
        self.check_known(&rights.venues, &rights.zones, &rights.privileges)?;
        self.categories.insert(code, rights);
        Ok(())
    }

    /// The rights of a category.
    pub fn category(&self, code: &CategoryCode) -> Result<&CategoryRights, MatrixError> {
        self.categories.get(code).ok_or_else(|| MatrixError::UnknownCategory(code.clone()))
    }

    /// Every category, in code order.
    pub fn categories(&self) -> impl Iterator<Item = (&CategoryCode, &CategoryRights)> {
        self.categories.iter()
    }

    /// The meaning of a zone code, if declared.
    pub fn zone_meaning(&self, code: &ZoneCode) -> Option<&str> {
        self.zones.get(code).map(String::as_str)
    }

    fn check_known<'a>(
        &self,
        venues: impl IntoIterator<Item = &'a VenueCode>,
        zones: impl IntoIterator<Item = &'a ZoneCode>,
        privileges: impl IntoIterator<Item = &'a PrivilegeCode>,
    ) -> Result<(), MatrixError> {
        if let Some(v) = venues.into_iter().find(|v| !v.is_all() && !self.venues.contains_key(*v)) {
            return Err(MatrixError::UnknownVenue(v.clone()));
        }
        if let Some(z) = zones.into_iter().find(|z| !self.zones.contains_key(*z)) {
            return Err(MatrixError::UnknownZone(z.clone()));
        }
        if let Some(p) = privileges.into_iter().find(|p| !self.privileges.contains_key(*p)) {
            return Err(MatrixError::UnknownPrivilege(p.clone()));
        }
        Ok(())
    }

    /// Checks a request: the category exists, every code exists, and every venue, zone and
    /// privilege is within the category's rights. The error names the first item that is not.
    pub fn check_request(
        &self,
        category: &CategoryCode,
        venues: &[VenueCode],
        zones: &[ZoneCode],
        privileges: &[PrivilegeCode],
    ) -> Result<(), MatrixError> {
        let rights = self.category(category)?;
        self.check_known(venues, zones, privileges)?;
        if let Some(v) = venues.iter().find(|v| !rights.allows_venue(v)) {
            return Err(MatrixError::VenueNotAllowed { category: category.clone(), venue: v.clone() });
        }
        if let Some(z) = zones.iter().find(|z| !rights.zones.contains(*z)) {
            return Err(MatrixError::ZoneNotAllowed { category: category.clone(), zone: z.clone() });
        }
        if let Some(p) = privileges.iter().find(|p| !rights.privileges.contains(*p)) {
            return Err(MatrixError::PrivilegeNotAllowed { category: category.clone(), privilege: p.clone() });
        }
        Ok(())
    }

    /// Checks a time-bound grant for a holder of `category`: codes exist, the window is not empty,
    /// and a day pass stays within the category's rights and lasts at most a day. An upgrade may
    /// go beyond the category (that is its purpose) but only to declared codes.
    pub fn check_timed_grant(&self, category: &CategoryCode, grant: &TimedGrant) -> Result<(), MatrixError> {
        if grant.until <= grant.from {
            return Err(MatrixError::BadWindow("ends before it starts"));
        }
        match grant.kind {
            GrantKind::DayPass => {
                if grant.until - grant.from > MAX_DAY_PASS_SECS {
                    return Err(MatrixError::BadWindow("a day pass lasts at most 24 hours"));
                }
                self.check_request(category, &grant.venues, &grant.zones, &[])
            }
            GrantKind::Upgrade => {
                self.category(category)?;
                self.check_known(&grant.venues, &grant.zones, [])
            }
        }
    }

    /// The Olympic conventions described in the module documentation.
    pub fn demo_default() -> Self {
        let mut m = Self::new();
        for (code, name) in [
            ("STA", "Stadium"),
            ("AQC", "Aquatics centre"),
            ("ARN", "Arena"),
            ("OLV", "Olympic Village"),
            ("IBC", "International broadcast centre"),
            ("MPC", "Main press centre"),
        ] {
            m.add_venue(VenueCode::parse(code).expect("static code"), name);
        }
        for (code, meaning) in [
            ("1", "field of play"),
            ("2", "athlete and team areas"),
            ("3", "competition and results operations"),
            ("4", "media areas"),
            ("5", "broadcast areas"),
            ("6", "Olympic Family and VIP lounges"),
            ("7", "back of house and venue operations"),
            ("8", "Village residential zone"),
            ("9", "common areas"),
        ] {
            m.add_zone(ZoneCode::parse(code).expect("static code"), meaning);
        }
        for (code, meaning) in [
            ("DIN", "Village dining"),
            ("T1", "allocated car"),
            ("T2", "shared car pool"),
            ("T3", "Olympic Family bus"),
            ("TA", "athlete transport"),
            ("TM", "media transport"),
            ("TF", "workforce transport"),
            ("PT", "free public transport"),
            ("UNI", "uniform collection"),
        ] {
            m.add_privilege(PrivilegeCode::parse(code).expect("static code"), meaning);
        }
        const COMPETITION: &str = "STA AQC ARN";
        let rows: [(&str, &str, String, &str, &str); 20] = [
            ("A", "athlete", format!("{COMPETITION} OLV"), "1 2 8 9", "DIN TA PT"),
            ("AP", "alternate athlete", format!("{COMPETITION} OLV"), "2 8 9", "DIN TA PT"),
            ("Ac", "NOC chef de mission, team leadership", "ALL".into(), "2 6 8 9", "DIN T1 T3 PT"),
            ("Am", "NOC attaché, team management", "ALL".into(), "2 8 9", "DIN T2 PT"),
            ("Ao", "NOC administrative personnel", format!("{COMPETITION} OLV"), "2 8 9", "DIN TA PT"),
            ("TO", "technical official", COMPETITION.into(), "1 3 9", "T2 PT"),
            ("IF", "international federation", format!("{COMPETITION} OLV"), "1 3 6 9", "T2 T3 PT"),
            ("E", "journalist", format!("{COMPETITION} MPC"), "4 9", "TM PT"),
            ("Es", "sport-specific journalist", format!("{COMPETITION} MPC"), "4 9", "TM PT"),
            ("EP", "photographer", format!("{COMPETITION} MPC"), "1 4 9", "TM PT"),
            ("EPs", "sport-specific photographer", format!("{COMPETITION} MPC"), "1 4 9", "TM PT"),
            ("ET", "press technician", format!("{COMPETITION} MPC"), "4 7 9", "TM PT"),
            ("Ec", "press support staff", "MPC".into(), "4 9", "TM PT"),
            ("ENR", "non-rights-holding broadcaster", "MPC".into(), "4 9", "TM PT"),
            ("RT", "rights-holding broadcaster", format!("{COMPETITION} IBC"), "4 5 9", "TM PT"),
            ("HB", "host broadcaster", format!("{COMPETITION} IBC"), "1 4 5 7 9", "TM TF PT"),
            ("WF", "workforce", "ALL".into(), "3 7 9", "TF PT UNI"),
            ("VL", "volunteer", "ALL".into(), "7 9", "TF PT UNI"),
            ("G", "guest", format!("{COMPETITION} OLV"), "6 9", "T3"),
            ("SEC", "security staff", "ALL".into(), "7 9", "TF PT"),
        ];
        for (code, description, venues, zones, privileges) in rows {
            let rights = CategoryRights {
                description: description.to_owned(),
                venues: venues.split(' ').map(|c| VenueCode::parse(c).expect("static code")).collect(),
                zones: zones.split(' ').map(|c| ZoneCode::parse(c).expect("static code")).collect(),
                privileges: privileges.split(' ').map(|c| PrivilegeCode::parse(c).expect("static code")).collect(),
            };
            m.set_category(CategoryCode::parse(code).expect("static code"), rights).expect("demo matrix is consistent");
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> CategoryCode {
        CategoryCode::parse(s).unwrap()
    }
    fn v(s: &str) -> VenueCode {
        VenueCode::parse(s).unwrap()
    }
    fn z(s: &str) -> ZoneCode {
        ZoneCode::parse(s).unwrap()
    }
    fn p(s: &str) -> PrivilegeCode {
        PrivilegeCode::parse(s).unwrap()
    }

    #[test]
    fn the_demo_default_has_the_olympic_press_and_noc_categories() {
        let m = AccessMatrix::demo_default();
        for code in ["A", "Ac", "Am", "Ao", "E", "EP", "ET", "ENR", "RT", "HB", "IF", "WF", "VL"] {
            assert!(m.category(&c(code)).is_ok(), "{code}");
        }
        assert_eq!(m.zone_meaning(&z("6")), Some("Olympic Family and VIP lounges"));
    }

    #[test]
    fn a_request_within_the_category_passes() {
        let m = AccessMatrix::demo_default();
        assert_eq!(m.check_request(&c("E"), &[v("STA"), v("MPC")], &[z("4")], &[p("TM")]), Ok(()));
        // `ALL` in the rights covers any declared venue and `ALL` itself.
        assert_eq!(m.check_request(&c("WF"), &[v("ALL"), v("IBC")], &[z("7")], &[]), Ok(()));
    }

    #[test]
    fn each_item_outside_the_matrix_is_named() {
        let m = AccessMatrix::demo_default();
        assert_eq!(m.check_request(&c("X"), &[], &[], &[]), Err(MatrixError::UnknownCategory(c("X"))));
        assert_eq!(m.check_request(&c("E"), &[v("ZZZ")], &[], &[]), Err(MatrixError::UnknownVenue(v("ZZZ"))));
        assert_eq!(
            m.check_request(&c("E"), &[v("STA")], &[z("1")], &[]),
            Err(MatrixError::ZoneNotAllowed { category: c("E"), zone: z("1") })
        );
        assert_eq!(
            m.check_request(&c("E"), &[v("OLV")], &[], &[]),
            Err(MatrixError::VenueNotAllowed { category: c("E"), venue: v("OLV") })
        );
        assert_eq!(
            m.check_request(&c("E"), &[v("ALL")], &[], &[]),
            Err(MatrixError::VenueNotAllowed { category: c("E"), venue: v("ALL") })
        );
        assert_eq!(
            m.check_request(&c("VL"), &[], &[], &[p("DIN")]),
            Err(MatrixError::PrivilegeNotAllowed { category: c("VL"), privilege: p("DIN") })
        );
        assert_eq!(m.check_request(&c("VL"), &[], &[z("0")], &[]), Err(MatrixError::UnknownZone(z("0"))));
    }

    #[test]
    fn a_category_cannot_name_undeclared_codes() {
        let mut m = AccessMatrix::new();
        let rights = CategoryRights {
            description: "x".into(),
            venues: [v("STA")].into(),
            zones: BTreeSet::new(),
            privileges: BTreeSet::new(),
        };
        assert_eq!(m.set_category(c("A"), rights.clone()), Err(MatrixError::UnknownVenue(v("STA"))));
        m.add_venue(v("STA"), "Stadium");
        assert_eq!(m.set_category(c("A"), rights), Ok(()));
    }

    #[test]
    fn day_passes_stay_in_the_category_and_last_a_day() {
        let m = AccessMatrix::demo_default();
        let day = TimedGrant {
            kind: GrantKind::DayPass,
            venues: vec![v("STA")],
            zones: vec![z("6")],
            from: 0,
            until: 86_400,
        };
        assert_eq!(m.check_timed_grant(&c("G"), &day), Ok(()));
        let long = TimedGrant { until: 86_401, ..day.clone() };
        assert!(matches!(m.check_timed_grant(&c("G"), &long), Err(MatrixError::BadWindow(_))));
        let empty = TimedGrant { until: 0, ..day.clone() };
        assert!(matches!(m.check_timed_grant(&c("G"), &empty), Err(MatrixError::BadWindow(_))));
        let outside = TimedGrant { zones: vec![z("1")], ..day };
        assert_eq!(
            m.check_timed_grant(&c("G"), &outside),
            Err(MatrixError::ZoneNotAllowed { category: c("G"), zone: z("1") })
        );
    }

    #[test]
    fn upgrades_go_beyond_the_category_but_not_beyond_the_matrix() {
        let m = AccessMatrix::demo_default();
        let up = TimedGrant { kind: GrantKind::Upgrade, venues: vec![], zones: vec![z("1")], from: 10, until: 20 };
        assert_eq!(m.check_timed_grant(&c("E"), &up), Ok(()));
        let bad = TimedGrant { zones: vec![z("99")], ..up.clone() };
        assert_eq!(m.check_timed_grant(&c("E"), &bad), Err(MatrixError::UnknownZone(z("99"))));
        assert!(up.is_active(10) && up.is_active(19) && !up.is_active(20) && !up.is_active(9));
    }
}
