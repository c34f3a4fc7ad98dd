//! Identifiers and short codes: the vocabulary every other module speaks.
//!
//! Codes (categories, venues, zones, privileges, organisations) are what a card prints and a gate
//! compares, so they are small and strict: 1 to [`MAX_CODE_LEN`] bytes of ASCII letters, digits or
//! `-`, case-sensitive because the Olympic conventions are (`Ao` is not `AO`). Each kind of code
//! is its own newtype so a zone can never be passed where a venue is expected.

use std::fmt;

/// Longest code, in bytes.
pub const MAX_CODE_LEN: usize = 8;

/// Why a string is not a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    /// The string is empty.
    #[error("empty code")]
    Empty,
    /// The string is longer than [`MAX_CODE_LEN`] bytes.
    #[error("code longer than {MAX_CODE_LEN} characters")]
    TooLong,
    /// A character other than an ASCII letter, digit or `-`.
    #[error("code has a character other than A-Z, a-z, 0-9 or '-'")]
    BadCharacter,
}

/// Checks the code rules shared by every code kind.
pub(crate) fn check_code(s: &str) -> Result<(), CodeError> {
    if s.is_empty() {
        return Err(CodeError::Empty);
    }
    if s.len() > MAX_CODE_LEN {
        return Err(CodeError::TooLong);
    }
    if !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(CodeError::BadCharacter);
    }
    Ok(())
}

macro_rules! code_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Parses a code (see the module's rules).
            pub fn parse(s: &str) -> Result<Self, CodeError> {
                check_code(s)?;
                Ok(Self(s.to_owned()))
            }

            /// The code as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = CodeError;
            fn try_from(s: String) -> Result<Self, CodeError> {
                check_code(&s)?;
                Ok(Self(s))
            }
        }

        impl From<$name> for String {
            fn from(c: $name) -> String {
                c.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = CodeError;
            fn from_str(s: &str) -> Result<Self, CodeError> {
                Self::parse(s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }
    };
}

code_type!(
    /// An accreditation category (`A`, `Ao`, `E`, `EP`, `RT`, `WF`, ...).
    CategoryCode
);
code_type!(
    /// A venue or area code (`STA`, `IBC`, `OLV`, or `ALL` for every venue).
    VenueCode
);
code_type!(
    /// A zone code within a venue (`1` to `9` in the demo conventions).
    ZoneCode
);
code_type!(
    /// A privilege code (`DIN` dining, `T1` allocated car, `TM` media transport, ...).
    PrivilegeCode
);
code_type!(
    /// A responsible organisation's code (`FRA` for a NOC, `WA` for a federation, `AFP`, ...).
    OrgCode
);

code_type!(
    /// A collection desk's code (`PDV1`, `IBC2`, ...).
    DeskCode
);

impl VenueCode {
    /// The reserved venue code that stands for every venue (printed as `ALL` on Sochi cards).
    pub fn all() -> Self {
        Self("ALL".to_owned())
    }

    /// Whether this is the every-venue code.
    pub fn is_all(&self) -> bool {
        self.0 == "ALL"
    }
}

/// A person's accreditation id. It is also the badge id: a reprint keeps it and bumps the card
/// serial, so revoking the id revokes every card of that person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct PersonId(pub u64);

impl fmt::Display for PersonId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "P{:010}", self.0)
    }
}

/// An account of the platform (an organisation's officer, accreditation staff, desk staff).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct AccountId(pub u64);

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "account {}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_rules() {
        assert!(CategoryCode::parse("Ao").is_ok());
        assert!(PrivilegeCode::parse("T-2").is_ok());
        assert_eq!(CategoryCode::parse(""), Err(CodeError::Empty));
        assert_eq!(VenueCode::parse("ABCDEFGHI"), Err(CodeError::TooLong));
        assert_eq!(ZoneCode::parse("1 "), Err(CodeError::BadCharacter));
        assert_eq!(ZoneCode::parse("é"), Err(CodeError::BadCharacter));
        assert_ne!(CategoryCode::parse("Ao").unwrap(), CategoryCode::parse("AO").unwrap());
    }

    #[test]
    fn serde_refuses_an_invalid_code() {
        let ok: Result<OrgCode, _> = serde_json::from_str("\"FRA\"");
        assert_eq!(ok.unwrap().as_str(), "FRA");
        let bad: Result<OrgCode, _> = serde_json::from_str("\"F R A\"");
        assert!(bad.is_err());
    }

    #[test]
    fn all_is_the_every_venue_code() {
        assert!(VenueCode::all().is_all());
        assert!(!VenueCode::parse("STA").unwrap().is_all());
    }
}
