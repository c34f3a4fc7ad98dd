//! Applications: a person's identity and what their organisation requests for them.
//!
//! Parse, don't validate: [`Application::parse`] turns untrusted text ([`RawApplication`], a JSON
//! body or a CSV line) into an [`Application`] whose every field is a newtype that can only hold
//! a valid value, or into an [`ApplicationError`] listing every bad field with its column. The
//! category, venues, zones and privileges are checked against the [`AccessMatrix`] there, so an
//! application that exists fits the matrix.
//!
//! [`duplicates`] finds the same person applied twice; [`import`] reads a CSV file of them.

use std::fmt;

use time::Date;
use unicode_normalization::UnicodeNormalization as _;

use crate::codes::{CategoryCode, OrgCode, PrivilegeCode, VenueCode, ZoneCode};
use crate::matrix::{AccessMatrix, MatrixError};

mod countries;
pub mod duplicates;
pub mod import;

/// Longest name part (given or family), in bytes of UTF-8.
pub const MAX_NAME_LEN: usize = 64;
/// Longest function text, in bytes of UTF-8.
pub const MAX_FUNCTION_LEN: usize = 64;
/// Shortest and longest document number, after removing spaces and dashes.
pub const DOCUMENT_LEN: std::ops::RangeInclusive<usize> = 4..=20;
/// Most codes in one list (venues, zones or privileges).
pub const MAX_LIST_LEN: usize = 16;
/// Oldest accepted age, in years.
pub const MAX_AGE_YEARS: i32 = 120;

/// Why a single value is invalid (the field is added by [`Application::parse`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(pub String);

fn invalid<T>(msg: impl Into<String>) -> Result<T, InvalidValue> {
    Err(InvalidValue(msg.into()))
}

/// A given or family name: trimmed, inner whitespace collapsed to one space, NFC, letters with
/// their marks, spaces, apostrophes, hyphens and periods only, at least one letter.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PersonName(String);

impl PersonName {
    /// Parses a name part.
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let joined: String = if s.is_ascii() {
            s.split_ascii_whitespace().collect::<Vec<_>>().join(" ")
        } else {
            s.split_whitespace().collect::<Vec<_>>().join(" ").nfc().collect()
        };
        if joined.is_empty() {
            return invalid("empty");
        }
        if joined.len() > MAX_NAME_LEN {
            return invalid(format!("longer than {MAX_NAME_LEN} bytes"));
        }
        let allowed = |c: char| {
            c.is_alphabetic()
                || unicode_normalization::char::is_combining_mark(c)
                || matches!(c, ' ' | '\'' | '\u{2019}' | '-' | '.')
        };
        if let Some(c) = joined.chars().find(|c| !allowed(*c)) {
            return invalid(format!("character {c:?} is not allowed in a name"));
        }
        if !joined.chars().any(char::is_alphabetic) {
            return invalid("has no letter");
        }
        Ok(Self(joined))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PersonName({:?})", self.0)
    }
}

/// A date of birth: `YYYY-MM-DD`, not after today and at most [`MAX_AGE_YEARS`] before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DateOfBirth(Date);

impl DateOfBirth {
    /// Parses `YYYY-MM-DD` against `today` (the clock is the caller's).
    pub fn parse(s: &str, today: Date) -> Result<Self, InvalidValue> {
        let b = s.trim().as_bytes();
        let digits = |r: std::ops::Range<usize>| -> Option<u32> {
            b[r].iter().try_fold(0u32, |n, d| d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0')))
        };
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return invalid("not a date in the form YYYY-MM-DD");
        }
        let (Some(y), Some(m), Some(d)) = (digits(0..4), digits(5..7), digits(8..10)) else {
            return invalid("not a date in the form YYYY-MM-DD");
        };
        let month = u8::try_from(m).ok().and_then(|m| time::Month::try_from(m).ok());
        let date = month.and_then(|month| Date::from_calendar_date(y as i32, month, d as u8).ok());
        let Some(date) = date else {
            return invalid("no such calendar date");
        };
        if date > today {
            return invalid("in the future");
        }
        if today.year() - date.year() > MAX_AGE_YEARS {
            return invalid(format!("more than {MAX_AGE_YEARS} years ago"));
        }
        Ok(Self(date))
    }

    /// From a date already known to be valid (a stored record).
    pub fn from_date(date: Date) -> Self {
        Self(date)
    }

    /// The date.
    pub fn date(&self) -> Date {
        self.0
    }
}

/// A nationality: an ISO 3166-1 alpha-3 code (or a travel-document code for stateless people
/// and refugees), uppercase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Nationality([u8; 3]);

impl Nationality {
    /// Parses a code; lowercase is accepted and uppercased.
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let s = s.trim();
        if s.len() != 3 || !s.bytes().all(|b| b.is_ascii_alphabetic()) {
            return invalid("not a three-letter ISO 3166 alpha-3 code");
        }
        let mut code = [0u8; 3];
        code.copy_from_slice(s.as_bytes());
        code.make_ascii_uppercase();
        let upper = std::str::from_utf8(&code).unwrap_or_default();
        if !countries::is_known(upper) {
            return invalid(format!("`{upper}` is not an ISO 3166 alpha-3 country code"));
        }
        Ok(Self(code))
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// A travel document number, normalised: uppercase ASCII letters and digits, spaces and dashes
/// removed, [`DOCUMENT_LEN`] characters.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DocumentNumber(String);

impl DocumentNumber {
    /// Parses and normalises a document number.
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let mut out = String::with_capacity(s.len());
        for c in s.chars() {
            match c {
                ' ' | '-' => {}
                c if c.is_ascii_alphanumeric() => out.push(c.to_ascii_uppercase()),
                c => return invalid(format!("character {c:?} is not allowed in a document number")),
            }
        }
        if !DOCUMENT_LEN.contains(&out.len()) {
            return invalid(format!("must have {} to {} letters or digits", DOCUMENT_LEN.start(), DOCUMENT_LEN.end()));
        }
        Ok(Self(out))
    }

    /// The normalised number.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for DocumentNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DocumentNumber({:?})", self.0)
    }
}

/// The person's function (`Athlete`, `Coach`, `Photographer`, ...): 1 to [`MAX_FUNCTION_LEN`]
/// bytes, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Function(String);

impl Function {
    /// Parses a function.
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let s = s.trim();
        if s.is_empty() {
            return invalid("empty");
        }
        if s.len() > MAX_FUNCTION_LEN {
            return invalid(format!("longer than {MAX_FUNCTION_LEN} bytes"));
        }
        if s.chars().any(char::is_control) {
            return invalid("has control characters");
        }
        Ok(Self(s.to_owned()))
    }

    /// The function as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A field of an application; [`Field::column`] is its CSV column and JSON key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    /// `given_name`.
    GivenName,
    /// `family_name`.
    FamilyName,
    /// `date_of_birth`.
    DateOfBirth,
    /// `nationality`.
    Nationality,
    /// `document_number`.
    DocumentNumber,
    /// `category`.
    Category,
    /// `function`.
    Function,
    /// `organisation`.
    Organisation,
    /// `venues`.
    Venues,
    /// `zones`.
    Zones,
    /// `privileges`.
    Privileges,
}

impl Field {
    /// Every field, in CSV column order.
    pub const ALL: [Field; 11] = [
        Field::GivenName,
        Field::FamilyName,
        Field::DateOfBirth,
        Field::Nationality,
        Field::DocumentNumber,
        Field::Category,
        Field::Function,
        Field::Organisation,
        Field::Venues,
        Field::Zones,
        Field::Privileges,
    ];

    /// The column name (CSV header, JSON key).
    pub fn column(self) -> &'static str {
        match self {
            Field::GivenName => "given_name",
            Field::FamilyName => "family_name",
            Field::DateOfBirth => "date_of_birth",
            Field::Nationality => "nationality",
            Field::DocumentNumber => "document_number",
            Field::Category => "category",
            Field::Function => "function",
            Field::Organisation => "organisation",
            Field::Venues => "venues",
            Field::Zones => "zones",
            Field::Privileges => "privileges",
        }
    }
}

/// One bad field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", field.column())]
pub struct FieldError {
    /// The field.
    pub field: Field,
    /// What is wrong, for people.
    pub message: String,
}

/// Every bad field of an application (never empty).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct ApplicationError {
    /// The bad fields, in column order.
    pub errors: Vec<FieldError>,
}

/// What parsing needs besides the text: the matrix and today's date (the caller's clock).
#[derive(Debug, Clone, Copy)]
pub struct ParseContext<'a> {
    /// The event's access matrix.
    pub matrix: &'a AccessMatrix,
    /// Today, for the date-of-birth bounds.
    pub today: Date,
}

/// An application as received: untrusted text. Lists (venues, zones, privileges) are codes
/// separated by spaces, `|` or `;`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RawApplication {
    /// Given name(s); may be empty for people with a single name.
    #[serde(default)]
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// `YYYY-MM-DD`.
    pub date_of_birth: String,
    /// ISO 3166 alpha-3.
    pub nationality: String,
    /// Passport or identity card number.
    pub document_number: String,
    /// Category code.
    pub category: String,
    /// Function.
    pub function: String,
    /// Responsible organisation's code.
    pub organisation: String,
    /// Requested venue codes.
    #[serde(default)]
    pub venues: String,
    /// Requested zone codes.
    #[serde(default)]
    pub zones: String,
    /// Requested privilege codes.
    #[serde(default)]
    pub privileges: String,
}

impl RawApplication {
    /// The fields in [`Field::ALL`] order.
    pub fn fields(&self) -> [&str; 11] {
        [
            &self.given_name,
            &self.family_name,
            &self.date_of_birth,
            &self.nationality,
            &self.document_number,
            &self.category,
            &self.function,
            &self.organisation,
            &self.venues,
            &self.zones,
            &self.privileges,
        ]
    }
}

/// A valid application: every field parsed, the request within the category's matrix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    given_name: Option<PersonName>,
    family_name: PersonName,
    date_of_birth: DateOfBirth,
    nationality: Nationality,
    document: DocumentNumber,
    category: CategoryCode,
    function: Function,
    organisation: OrgCode,
    venues: Vec<VenueCode>,
    zones: Vec<ZoneCode>,
    privileges: Vec<PrivilegeCode>,
}

fn parse_list<T: Ord>(s: &str, parse: impl Fn(&str) -> Result<T, crate::codes::CodeError>) -> Result<Vec<T>, String> {
    let mut out = Vec::new();
    for item in s.split([' ', '|', ';', '\t']).filter(|i| !i.is_empty()) {
        if out.len() == MAX_LIST_LEN {
            return Err(format!("more than {MAX_LIST_LEN} codes"));
        }
        out.push(parse(item).map_err(|e| format!("`{item}`: {e}"))?);
    }
    out.sort();
    out.dedup();
    Ok(out)
}

impl Application {
    /// Parses an application received as a JSON body or a form.
    pub fn parse(raw: &RawApplication, ctx: &ParseContext<'_>) -> Result<Self, ApplicationError> {
        Self::parse_fields(raw.fields(), ctx)
    }

    /// Parses the fields in [`Field::ALL`] order, reporting every bad one.
    pub fn parse_fields(f: [&str; 11], ctx: &ParseContext<'_>) -> Result<Self, ApplicationError> {
        let mut errors = Vec::new();
        let mut note = |field: Field, message: String| errors.push(FieldError { field, message });
        let given = if f[0].trim().is_empty() { Ok(None) } else { PersonName::parse(f[0]).map(Some) };
        let given = given.map_err(|e| note(Field::GivenName, e.0));
        let family = PersonName::parse(f[1]).map_err(|e| note(Field::FamilyName, e.0));
        let dob = DateOfBirth::parse(f[2], ctx.today).map_err(|e| note(Field::DateOfBirth, e.0));
        let nationality = Nationality::parse(f[3]).map_err(|e| note(Field::Nationality, e.0));
        let document = DocumentNumber::parse(f[4]).map_err(|e| note(Field::DocumentNumber, e.0));
        let category = CategoryCode::parse(f[5].trim()).map_err(|e| note(Field::Category, e.to_string()));
        let function = Function::parse(f[6]).map_err(|e| note(Field::Function, e.0));
        let organisation = OrgCode::parse(f[7].trim()).map_err(|e| note(Field::Organisation, e.to_string()));
        let venues = parse_list(f[8], VenueCode::parse).map_err(|e| note(Field::Venues, e));
        let zones = parse_list(f[9], ZoneCode::parse).map_err(|e| note(Field::Zones, e));
        let privileges = parse_list(f[10], PrivilegeCode::parse).map_err(|e| note(Field::Privileges, e));
        if let (Ok(category), Ok(venues), Ok(zones), Ok(privileges)) = (&category, &venues, &zones, &privileges) {
            if let Err(e) = ctx.matrix.check_request(category, venues, zones, privileges) {
                let field = match e {
                    MatrixError::UnknownCategory(_) => Field::Category,
                    MatrixError::UnknownVenue(_) | MatrixError::VenueNotAllowed { .. } => Field::Venues,
                    MatrixError::UnknownZone(_) | MatrixError::ZoneNotAllowed { .. } => Field::Zones,
                    MatrixError::UnknownPrivilege(_) | MatrixError::PrivilegeNotAllowed { .. } => Field::Privileges,
                    MatrixError::BadWindow(_) => Field::Category,
                };
                note(field, e.to_string());
            }
        }
        match (given, family, dob, nationality, document, category, function, organisation, venues, zones, privileges) {
            (Ok(g), Ok(fa), Ok(d), Ok(n), Ok(doc), Ok(c), Ok(fu), Ok(o), Ok(v), Ok(z), Ok(p)) if errors.is_empty() => {
                Ok(Self {
                    given_name: g,
                    family_name: fa,
                    date_of_birth: d,
                    nationality: n,
                    document: doc,
                    category: c,
                    function: fu,
                    organisation: o,
                    venues: v,
                    zones: z,
                    privileges: p,
                })
            }
            _ => {
                errors.sort_by_key(|e| e.field);
                Err(ApplicationError { errors })
            }
        }
    }

    /// Given name, if the person has one.
    pub fn given_name(&self) -> Option<&PersonName> {
        self.given_name.as_ref()
    }
    /// Family name.
    pub fn family_name(&self) -> &PersonName {
        &self.family_name
    }
    /// Date of birth.
    pub fn date_of_birth(&self) -> DateOfBirth {
        self.date_of_birth
    }
    /// Nationality.
    pub fn nationality(&self) -> Nationality {
        self.nationality
    }
    /// Document number.
    pub fn document(&self) -> &DocumentNumber {
        &self.document
    }
    /// Category.
    pub fn category(&self) -> &CategoryCode {
        &self.category
    }
    /// Function.
    pub fn function(&self) -> &Function {
        &self.function
    }
    /// Responsible organisation.
    pub fn organisation(&self) -> &OrgCode {
        &self.organisation
    }
    /// Requested venues, sorted and without repeats.
    pub fn venues(&self) -> &[VenueCode] {
        &self.venues
    }
    /// Requested zones, sorted and without repeats.
    pub fn zones(&self) -> &[ZoneCode] {
        &self.zones
    }
    /// Requested privileges, sorted and without repeats.
    pub fn privileges(&self) -> &[PrivilegeCode] {
        &self.privileges
    }

    /// The application as text again: what is kept (sealed) and parsed back when read, so that
    /// what is stored is exactly what a submission could say.
    pub fn to_raw(&self) -> RawApplication {
        let join = |codes: Vec<String>| codes.join(" ");
        RawApplication {
            given_name: self.given_name.as_ref().map_or_else(String::new, |g| g.as_str().to_owned()),
            family_name: self.family_name.as_str().to_owned(),
            date_of_birth: format!(
                "{:04}-{:02}-{:02}",
                self.date_of_birth.date().year(),
                u8::from(self.date_of_birth.date().month()),
                self.date_of_birth.date().day()
            ),
            nationality: self.nationality.as_str().to_owned(),
            document_number: self.document.as_str().to_owned(),
            category: self.category.to_string(),
            function: self.function.as_str().to_owned(),
            organisation: self.organisation.to_string(),
            venues: join(self.venues.iter().map(ToString::to_string).collect()),
            zones: join(self.zones.iter().map(ToString::to_string).collect()),
            privileges: join(self.privileges.iter().map(ToString::to_string).collect()),
        }
    }

    /// The name as a card prints it: given names, then the family name in capitals.
    pub fn display_name(&self) -> String {
        let family = self.family_name.as_str().to_uppercase();
        match &self.given_name {
            Some(g) => format!("{} {family}", g.as_str()),
            None => family,
        }
    }

    /// The key duplicate detection compares (see [`duplicates`]).
    pub fn duplicate_key(&self) -> duplicates::DuplicateKey {
        duplicates::DuplicateKey {
            name: duplicates::normalise_name(
                self.given_name.as_ref().map_or("", PersonName::as_str),
                self.family_name.as_str(),
            ),
            date_of_birth: self.date_of_birth.date(),
            document: self.document.as_str().to_owned(),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use time::macros::date;

    pub(crate) fn raw() -> RawApplication {
        RawApplication {
            given_name: "Marie-José".into(),
            family_name: "Pérec".into(),
            date_of_birth: "1968-05-09".into(),
            nationality: "fra".into(),
            document_number: "12 AB-34567".into(),
            category: "A".into(),
            function: "Athlete".into(),
            organisation: "FRA".into(),
            venues: "STA|OLV".into(),
            zones: "1 2 8".into(),
            privileges: "DIN;TA".into(),
        }
    }

    #[test]
    fn to_raw_parses_back_to_the_same_application() {
        let m = AccessMatrix::demo_default();
        let a = Application::parse(&raw(), &ctx(&m)).unwrap();
        assert_eq!(Application::parse(&a.to_raw(), &ctx(&m)).unwrap(), a);
    }

    pub(crate) fn ctx(matrix: &AccessMatrix) -> ParseContext<'_> {
        ParseContext { matrix, today: date!(2024 - 07 - 26) }
    }

    #[test]
    fn a_valid_application_parses_and_normalises() {
        let m = AccessMatrix::demo_default();
        let a = Application::parse(&raw(), &ctx(&m)).unwrap();
        assert_eq!(a.nationality().as_str(), "FRA");
        assert_eq!(a.document().as_str(), "12AB34567");
        assert_eq!(a.venues().iter().map(VenueCode::as_str).collect::<Vec<_>>(), ["OLV", "STA"]);
        assert_eq!(a.display_name(), "Marie-José PÉREC");
    }

    #[test]
    fn every_bad_field_is_reported_with_its_column() {
        let m = AccessMatrix::demo_default();
        let bad = RawApplication {
            family_name: "R2D2".into(),
            date_of_birth: "1968-02-30".into(),
            nationality: "GER".into(),
            document_number: "12".into(),
            zones: "1 ALL".into(),
            ..raw()
        };
        let e = Application::parse(&bad, &ctx(&m)).unwrap_err();
        let fields: Vec<_> = e.errors.iter().map(|e| e.field.column()).collect();
        assert_eq!(fields, ["family_name", "date_of_birth", "nationality", "document_number", "zones"]);
        assert!(e.to_string().contains("nationality: `GER` is not an ISO 3166 alpha-3 country code"), "{e}");
    }

    #[test]
    fn a_zone_outside_the_matrix_names_the_zone() {
        let m = AccessMatrix::demo_default();
        let bad = RawApplication { zones: "1 4".into(), ..raw() };
        let e = Application::parse(&bad, &ctx(&m)).unwrap_err();
        assert_eq!(
            e.errors,
            [FieldError { field: Field::Zones, message: "zone `4` is outside category `A`'s access".into() }]
        );
        let e = Application::parse(&RawApplication { category: "Q".into(), ..raw() }, &ctx(&m)).unwrap_err();
        assert_eq!(e.errors[0].field, Field::Category);
        assert_eq!(e.errors[0].message, "category `Q` does not exist");
    }

    #[test]
    fn names_are_checked_and_tidied() {
        assert_eq!(PersonName::parse("  Jean   Pierre ").unwrap().as_str(), "Jean Pierre");
        // Decomposed input (e + combining acute) is stored composed.
        assert_eq!(PersonName::parse("Pe\u{301}rec").unwrap().as_str(), "Pérec");
        assert!(PersonName::parse("O'Brien").is_ok());
        assert!(PersonName::parse("Zhang 张").is_ok());
        assert!(PersonName::parse("...").is_err());
        assert!(PersonName::parse("a\u{0}b").is_err());
        assert!(PersonName::parse(&"x".repeat(65)).is_err());
    }

    #[test]
    fn a_person_with_a_single_name_has_no_given_name() {
        let m = AccessMatrix::demo_default();
        let a = Application::parse(&RawApplication { given_name: " ".into(), ..raw() }, &ctx(&m)).unwrap();
        assert_eq!(a.given_name(), None);
        assert_eq!(a.display_name(), "PÉREC");
    }

    #[test]
    fn dates_of_birth_are_bounded_by_today() {
        let today = date!(2024 - 07 - 26);
        assert!(DateOfBirth::parse("2024-07-26", today).is_ok());
        assert!(DateOfBirth::parse("2024-07-27", today).is_err());
        assert!(DateOfBirth::parse("1900-01-01", today).is_err());
        assert!(DateOfBirth::parse("2000-13-01", today).is_err());
        assert!(DateOfBirth::parse("2000-1-01", today).is_err());
        assert!(DateOfBirth::parse("2000-01-0x", today).is_err());
        assert!(DateOfBirth::parse("2000-01-0١", today).is_err());
    }

    #[test]
    fn lists_are_bounded() {
        let m = AccessMatrix::demo_default();
        let long = vec!["STA"; 17].join(" ");
        let e = Application::parse(&RawApplication { venues: long, ..raw() }, &ctx(&m)).unwrap_err();
        assert_eq!(e.errors[0].field, Field::Venues);
    }
}
