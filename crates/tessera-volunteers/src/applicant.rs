//! An application and the programme's eligibility rules.
//!
//! Codes are parsed once into small newtypes (a [`Language`] is two lowercase letters, a
//! [`Country`] two uppercase ones), so that the matcher compares bytes, not free text.
//! Eligibility reports every rule an applicant fails, not the first: the applicant's page shows
//! them all at once.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};
use time::Date;

use crate::mission::{MissionCode, VenueId};

/// Why a code or an application was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// A language code that is not two lowercase ASCII letters (ISO 639-1).
    #[error("language code {0:?} is not two lowercase letters")]
    Language(String),
    /// A country code that is not two uppercase ASCII letters (ISO 3166-1 alpha-2).
    #[error("country code {0:?} is not two uppercase letters")]
    Country(String),
    /// An empty or over-long label (skill, zone, region, mission code, venue id).
    #[error("{kind} {value:?} must be 1 to 64 printable characters")]
    Label {
        /// What the label names.
        kind: &'static str,
        /// The refused text.
        value: String,
    },
    /// A CEFR level outside A1..C2.
    #[error("level {0:?} is not one of A1 A2 B1 B2 C1 C2")]
    Level(String),
}

pub(crate) fn label(kind: &'static str, value: &str) -> Result<String, ParseError> {
    let ok = !value.is_empty() && value.len() <= 64 && value.chars().all(|c| !c.is_control()) && value.trim() == value;
    if ok {
        Ok(value.to_owned())
    } else {
        Err(ParseError::Label { kind, value: value.to_owned() })
    }
}

/// An applicant's number, unique within a programme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ApplicantId(pub u32);

impl fmt::Display for ApplicantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "A{:07}", self.0)
    }
}

/// An ISO 639-1 language code such as `fr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Language([u8; 2]);

impl Language {
    /// Parses two lowercase ASCII letters.
    pub fn new(code: &str) -> Result<Self, ParseError> {
        match code.as_bytes() {
            [a, b] if a.is_ascii_lowercase() && b.is_ascii_lowercase() => Ok(Self([*a, *b])),
            _ => Err(ParseError::Language(code.to_owned())),
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.0[0] as char, self.0[1] as char)
    }
}

/// An ISO 3166-1 alpha-2 country code such as `FR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Country([u8; 2]);

impl Country {
    /// Parses two uppercase ASCII letters.
    pub fn new(code: &str) -> Result<Self, ParseError> {
        match code.as_bytes() {
            [a, b] if a.is_ascii_uppercase() && b.is_ascii_uppercase() => Ok(Self([*a, *b])),
            _ => Err(ParseError::Country(code.to_owned())),
        }
    }
}

impl fmt::Display for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.0[0] as char, self.0[1] as char)
    }
}

/// A CEFR level, ordered `A1 < A2 < B1 < B2 < C1 < C2` (native speakers declare C2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Level {
    /// Breakthrough.
    A1,
    /// Waystage.
    A2,
    /// Threshold.
    B1,
    /// Vantage.
    B2,
    /// Effective operational proficiency.
    C1,
    /// Mastery, or native.
    C2,
}

impl std::str::FromStr for Level {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        Ok(match s {
            "A1" => Self::A1,
            "A2" => Self::A2,
            "B1" => Self::B1,
            "B2" => Self::B2,
            "C1" => Self::C1,
            "C2" => Self::C2,
            _ => return Err(ParseError::Level(s.to_owned())),
        })
    }
}

/// A language at a minimum level, as a rule or a mission states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LanguageRequirement {
    /// The language.
    pub language: Language,
    /// The lowest level that satisfies the requirement.
    pub min_level: Level,
}

impl fmt::Display for LanguageRequirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} >= {:?}", self.language, self.min_level)
    }
}

/// A skill label such as `first-aid` or `driving-licence-b`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Skill(String);

impl Skill {
    /// Parses a non-empty label of at most 64 characters without surrounding spaces.
    pub fn new(name: &str) -> Result<Self, ParseError> {
        label("skill", name).map(Self)
    }
    /// The label.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An accreditation zone code such as `3` or `FOP`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Zone(String);

impl Zone {
    /// Parses a non-empty label of at most 64 characters without surrounding spaces.
    pub fn new(code: &str) -> Result<Self, ParseError> {
        label("zone", code).map(Self)
    }
    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A region such as `IDF`, where an applicant lives or a venue stands.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Region(String);

impl Region {
    /// Parses a non-empty label of at most 64 characters without surrounding spaces.
    pub fn new(code: &str) -> Result<Self, ParseError> {
        label("region", code).map(Self)
    }
    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Gender as the applicant declared it; declining to say is an answer of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Gender {
    /// Declared a woman.
    Woman,
    /// Declared a man.
    Man,
    /// Declared another gender.
    Other,
    /// Chose not to say.
    NotSaid,
}

/// The state of the applicant's background screening; only `Passed` may be matched by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Screening {
    /// Cleared.
    Passed,
    /// Not decided yet.
    Pending,
    /// Refused.
    Failed,
}

/// Zones an applicant's accreditation grants, and zones already asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accreditation {
    /// Zones granted.
    pub granted: BTreeSet<Zone>,
    /// Zones requested and not decided yet.
    pub requested: BTreeSet<Zone>,
}

/// The days an applicant can serve: sorted, without repeats.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Availability(Vec<Date>);

impl Availability {
    /// The set of the given days.
    pub fn new(days: impl IntoIterator<Item = Date>) -> Self {
        let mut days: Vec<Date> = days.into_iter().collect();
        days.sort_unstable();
        days.dedup();
        Self(days)
    }
    /// Every day of the inclusive range `first..=last` (empty when `last < first`).
    pub fn range(first: Date, last: Date) -> Self {
        Self(std::iter::successors(Some(first), |d| d.next_day()).take_while(|d| *d <= last).collect())
    }
    /// Whether the applicant is available that day.
    pub fn contains(&self, day: Date) -> bool {
        self.0.binary_search(&day).is_ok()
    }
    /// The days, in order.
    pub fn days(&self) -> &[Date] {
        &self.0
    }
    /// The longest run of consecutive days inside `first..=last`.
    pub fn longest_run_within(&self, first: Date, last: Date) -> u32 {
        let (mut best, mut run, mut prev): (u32, u32, Option<Date>) = (0, 0, None);
        for &day in self.0.iter().filter(|d| (first..=last).contains(*d)) {
            run = if prev.and_then(|p| p.next_day()) == Some(day) { run + 1 } else { 1 };
            best = best.max(run);
            prev = Some(day);
        }
        best
    }
}

/// One application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applicant {
    /// Unique number.
    pub id: ApplicantId,
    /// Date of birth.
    pub birth_date: Date,
    /// Country of residence.
    pub country: Country,
    /// Region of residence, compared with a venue's region.
    pub home_region: Region,
    /// Declared gender.
    pub gender: Gender,
    /// Declared a disability (used for fairness figures and adapted missions, never to exclude).
    pub disability: bool,
    /// Languages with their levels.
    pub languages: BTreeMap<Language, Level>,
    /// Declared skills.
    pub skills: BTreeSet<Skill>,
    /// Days available.
    pub availability: Availability,
    /// Preferred missions, most wanted first.
    pub preferred_missions: Vec<MissionCode>,
    /// Preferred venues, most wanted first.
    pub preferred_venues: Vec<VenueId>,
    /// Needs lodging near the venue.
    pub needs_lodging: bool,
    /// Missions served at earlier events.
    pub experience: BTreeSet<MissionCode>,
    /// Background screening.
    pub screening: Screening,
    /// Accreditation zones.
    pub accreditation: Accreditation,
}

impl Applicant {
    /// Whether the applicant speaks `req.language` at `req.min_level` or above.
    pub fn speaks(&self, req: &LanguageRequirement) -> bool {
        self.languages.get(&req.language).is_some_and(|l| *l >= req.min_level)
    }
    /// Age in whole years on `day` (0 for a day before birth).
    pub fn age_on(&self, day: Date) -> u32 {
        let years = day.year() - self.birth_date.year();
        let before_birthday = (day.month() as u8, day.day()) < (self.birth_date.month() as u8, self.birth_date.day());
        u32::try_from(years - i32::from(before_birthday)).unwrap_or(0)
    }
    /// Contradictions and gaps that make an application incomplete; empty when it is sound.
    pub fn problems(&self) -> Vec<ApplicationProblem> {
        let mut out = Vec::new();
        if self.languages.is_empty() {
            out.push(ApplicationProblem::NoLanguage);
        }
        if self.availability.days().is_empty() {
            out.push(ApplicationProblem::NoAvailability);
        }
        if let Some(day) = self.availability.days().iter().find(|d| **d < self.birth_date) {
            out.push(ApplicationProblem::AvailableBeforeBirth(*day));
        }
        let mut seen = BTreeSet::new();
        for m in &self.preferred_missions {
            if !seen.insert(m) {
                out.push(ApplicationProblem::MissionRankedTwice(m.clone()));
            }
        }
        let mut seen = BTreeSet::new();
        for v in &self.preferred_venues {
            if !seen.insert(v) {
                out.push(ApplicationProblem::VenueRankedTwice(v.clone()));
            }
        }
        for z in self.accreditation.granted.intersection(&self.accreditation.requested) {
            out.push(ApplicationProblem::ZoneGrantedAndRequested(z.clone()));
        }
        out
    }
}

/// Why an application is incomplete or contradicts itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ApplicationProblem {
    /// No language declared.
    NoLanguage,
    /// No day declared.
    NoAvailability,
    /// A day of availability before the date of birth.
    AvailableBeforeBirth(Date),
    /// The same mission appears twice in the preferences.
    MissionRankedTwice(MissionCode),
    /// The same venue appears twice in the preferences.
    VenueRankedTwice(VenueId),
    /// A zone both granted and requested.
    ZoneGrantedAndRequested(Zone),
}

/// The programme's entry rules (Paris 2024: 18 on 1 January 2024, French or English, ten
/// consecutive days).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EligibilityRules {
    /// Minimum age in whole years...
    pub min_age: u32,
    /// ...reached on this day.
    pub age_on: Date,
    /// At least one of these languages at its level; an empty list accepts anyone.
    pub languages: Vec<LanguageRequirement>,
    /// At least this many consecutive available days...
    pub min_consecutive_days: u32,
    /// ...between these two days, inclusive.
    pub period: (Date, Date),
}

/// One eligibility rule an applicant fails.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EligibilityFailure {
    /// Younger than the minimum age on the rule's day.
    TooYoung {
        /// Age on `on`.
        age: u32,
        /// Minimum age.
        min: u32,
        /// The rule's day.
        on: Date,
    },
    /// None of the accepted languages at its level.
    NoAcceptedLanguage,
    /// Not enough consecutive days available in the period.
    NotEnoughConsecutiveDays {
        /// The longest run found.
        longest: u32,
        /// The rule's minimum.
        required: u32,
    },
}

impl EligibilityRules {
    /// Every rule the applicant fails, in the order of the fields; empty means eligible.
    pub fn check(&self, applicant: &Applicant) -> Vec<EligibilityFailure> {
        let mut out = Vec::new();
        let age = applicant.age_on(self.age_on);
        if age < self.min_age {
            out.push(EligibilityFailure::TooYoung { age, min: self.min_age, on: self.age_on });
        }
        if !self.languages.is_empty() && !self.languages.iter().any(|l| applicant.speaks(l)) {
            out.push(EligibilityFailure::NoAcceptedLanguage);
        }
        let longest = applicant.availability.longest_run_within(self.period.0, self.period.1);
        if longest < self.min_consecutive_days {
            out.push(EligibilityFailure::NotEnoughConsecutiveDays { longest, required: self.min_consecutive_days });
        }
        out
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use time::macros::date;

    pub(crate) fn lang(code: &str, level: Level) -> LanguageRequirement {
        LanguageRequirement { language: Language::new(code).unwrap(), min_level: level }
    }

    pub(crate) fn applicant(id: u32) -> Applicant {
        Applicant {
            id: ApplicantId(id),
            birth_date: date!(1990 - 05 - 17),
            country: Country::new("FR").unwrap(),
            home_region: Region::new("IDF").unwrap(),
            gender: Gender::NotSaid,
            disability: false,
            languages: BTreeMap::from([(Language::new("fr").unwrap(), Level::C2)]),
            skills: BTreeSet::new(),
            availability: Availability::range(date!(2024 - 07 - 20), date!(2024 - 08 - 11)),
            preferred_missions: vec![],
            preferred_venues: vec![],
            needs_lodging: false,
            experience: BTreeSet::new(),
            screening: Screening::Passed,
            accreditation: Accreditation::default(),
        }
    }

    pub(crate) fn paris_rules() -> EligibilityRules {
        EligibilityRules {
            min_age: 18,
            age_on: date!(2024 - 01 - 01),
            languages: vec![lang("fr", Level::B1), lang("en", Level::B1)],
            min_consecutive_days: 10,
            period: (date!(2024 - 07 - 01), date!(2024 - 09 - 15)),
        }
    }

    #[test]
    fn codes_parse_strictly() {
        assert!(Language::new("fr").is_ok());
        for bad in ["FR", "f", "fra", "f1", ""] {
            assert!(Language::new(bad).is_err(), "{bad}");
        }
        assert!(Country::new("FR").is_ok());
        assert!(Country::new("fr").is_err());
        assert!(Skill::new(" first-aid").is_err());
        assert!(Skill::new("").is_err());
        assert_eq!("B2".parse::<Level>(), Ok(Level::B2));
        assert!("D1".parse::<Level>().is_err());
        assert!(Level::A1 < Level::C2);
    }

    #[test]
    fn age_counts_birthdays() {
        let mut a = applicant(1);
        a.birth_date = date!(2006 - 01 - 01);
        assert_eq!(a.age_on(date!(2024 - 01 - 01)), 18);
        a.birth_date = date!(2006 - 01 - 02);
        assert_eq!(a.age_on(date!(2024 - 01 - 01)), 17);
        assert_eq!(a.age_on(date!(1990 - 01 - 01)), 0);
    }

    #[test]
    fn longest_run_is_inside_the_period() {
        let days = [date!(2024 - 06 - 29), date!(2024 - 06 - 30), date!(2024 - 07 - 01)];
        let a = Availability::new(days.into_iter().chain([date!(2024 - 07 - 03)]));
        assert_eq!(a.longest_run_within(date!(2024 - 06 - 01), date!(2024 - 07 - 31)), 3);
        assert_eq!(a.longest_run_within(date!(2024 - 07 - 01), date!(2024 - 07 - 31)), 1);
        assert_eq!(Availability::default().longest_run_within(date!(2024 - 07 - 01), date!(2024 - 07 - 31)), 0);
    }

    #[test]
    fn an_eligible_applicant_fails_nothing() {
        assert_eq!(paris_rules().check(&applicant(1)), vec![]);
    }

    #[test]
    fn every_failed_rule_is_reported() {
        let mut a = applicant(1);
        a.birth_date = date!(2007 - 03 - 01);
        a.languages = BTreeMap::from([(Language::new("fr").unwrap(), Level::A2)]);
        a.availability = Availability::range(date!(2024 - 07 - 20), date!(2024 - 07 - 28));
        assert_eq!(
            paris_rules().check(&a),
            vec![
                EligibilityFailure::TooYoung { age: 16, min: 18, on: date!(2024 - 01 - 01) },
                EligibilityFailure::NoAcceptedLanguage,
                EligibilityFailure::NotEnoughConsecutiveDays { longest: 9, required: 10 },
            ]
        );
        // One more day makes the run long enough; English at B1 is accepted too.
        a.availability = Availability::range(date!(2024 - 07 - 20), date!(2024 - 07 - 29));
        a.languages.insert(Language::new("en").unwrap(), Level::B1);
        assert_eq!(paris_rules().check(&a).len(), 1);
    }

    #[test]
    fn contradictions_are_listed() {
        let mut a = applicant(1);
        assert!(a.problems().is_empty());
        let m = MissionCode::new("HOST").unwrap();
        a.preferred_missions = vec![m.clone(), m.clone()];
        a.languages.clear();
        let z = Zone::new("FOP").unwrap();
        a.accreditation.granted.insert(z.clone());
        a.accreditation.requested.insert(z.clone());
        assert_eq!(
            a.problems(),
            vec![
                ApplicationProblem::NoLanguage,
                ApplicationProblem::MissionRankedTwice(m),
                ApplicationProblem::ZoneGrantedAndRequested(z),
            ]
        );
    }
}
