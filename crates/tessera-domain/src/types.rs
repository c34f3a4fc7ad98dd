//! Newtypes that can only hold valid values ("parse, don't validate").

use serde::{Deserialize, Serialize};
use std::fmt;

/// An instant as whole seconds since the Unix epoch, UTC.
///
/// Seconds are enough for every rule of the sale (slots, cart expiry, windows), and an integer
/// stores identically in SQLite and PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn now() -> Self {
        Timestamp(time::OffsetDateTime::now_utc().unix_timestamp())
    }

    pub fn plus_secs(self, secs: i64) -> Self {
        Timestamp(self.0.saturating_add(secs))
    }

    /// RFC 3339 in UTC, for humans, files and JSON.
    pub fn to_rfc3339(self) -> String {
        time::OffsetDateTime::from_unix_timestamp(self.0)
            .ok()
            .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
            .unwrap_or_else(|| self.0.to_string())
    }

    pub fn parse_rfc3339(s: &str) -> Result<Self, String> {
        time::OffsetDateTime::parse(s.trim(), &time::format_description::well_known::Rfc3339)
            .map(|t| Timestamp(t.unix_timestamp()))
            .map_err(|e| format!("not an RFC 3339 date-time ({e}), e.g. 2024-08-02T10:00:00+02:00"))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// An amount of money in euro cents. Never negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct Cents(pub i64);

impl Cents {
    pub fn parse(s: &str) -> Result<Self, String> {
        let n: i64 = s.trim().parse().map_err(|_| format!("{s:?} is not a whole number of cents"))?;
        if n < 0 {
            return Err(format!("{n} is negative; prices are zero or more cents"));
        }
        Ok(Cents(n))
    }
}

impl fmt::Display for Cents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "€{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

/// A normalised (trimmed, lower-case) email address of plausible shape.
///
/// Deliverability is proven by the verification mail, not by a regex; this only refuses what
/// can never be an address, and keeps one spelling per mailbox so that one fan is one account.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim().to_lowercase();
        if s.is_empty() {
            return Err("email is empty".into());
        }
        if s.len() > 254 {
            return Err("email is longer than 254 characters".into());
        }
        let Some((local, domain)) = s.split_once('@') else {
            return Err("email has no '@'".into());
        };
        if local.is_empty() || local.len() > 64 {
            return Err("email's part before '@' must be 1 to 64 characters".into());
        }
        if domain.contains('@') {
            return Err("email has more than one '@'".into());
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2
            || labels.iter().any(|l| {
                l.is_empty()
                    || l.len() > 63
                    || l.starts_with('-')
                    || l.ends_with('-')
                    || !l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            })
        {
            return Err("email's domain is not a valid domain name (like example.org)".into());
        }
        if local.chars().any(|c| c.is_whitespace() || c.is_control() || "<>()[],;:\"\\".contains(c)) {
            return Err("email's part before '@' has a character not allowed here".into());
        }
        Ok(Email(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Email::parse(&s)
    }
}

impl From<Email> for String {
    fn from(e: Email) -> String {
        e.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A password that meets the policy. Holds the secret only long enough to hash it.
pub struct NewPassword(String);

impl NewPassword {
    pub const MIN_LEN: usize = 10;
    pub const MAX_LEN: usize = 128;

    /// NIST SP 800-63B style: length matters, composition rules do not; refuse the obvious.
    pub fn parse(s: &str, email: &Email) -> Result<Self, String> {
        let n = s.chars().count();
        if n < Self::MIN_LEN {
            return Err(format!("password must be at least {} characters", Self::MIN_LEN));
        }
        if n > Self::MAX_LEN {
            return Err(format!("password must be at most {} characters", Self::MAX_LEN));
        }
        let lower = s.to_lowercase();
        let first = s.chars().next().unwrap_or(' ');
        if s.chars().all(|c| c == first) {
            return Err("password is one character repeated".into());
        }
        let local = email.as_str().split('@').next().unwrap_or("");
        if local.len() >= 4 && lower.contains(local) {
            return Err("password must not contain the email address".into());
        }
        const COMMON: &[&str] = &[
            "password",
            "123456",
            "qwerty",
            "azerty",
            "letmein",
            "welcome",
            "iloveyou",
            "admin",
            "abc123",
            "paris2024",
            "olympics",
            "football",
            "monkey",
            "dragon",
        ];
        if COMMON.iter().any(|c| lower.contains(c)) && n < 16 {
            return Err("password is too common; use a longer passphrase".into());
        }
        Ok(NewPassword(s.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword(<redacted>)")
    }
}

/// A short code naming a catalogue thing: 2 to 16 ASCII upper-case letters, digits, '-' or '_',
/// starting with a letter (`ATH05`, `STF`, `CAT-A`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Code(String);

impl Code {
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let ok_len = (2..=16).contains(&s.len());
        let ok_first = s.chars().next().is_some_and(|c| c.is_ascii_uppercase());
        let ok_chars = s.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if ok_len && ok_first && ok_chars {
            Ok(Code(s.to_string()))
        } else {
            Err(format!("{s:?} is not a code: 2 to 16 characters A-Z, 0-9, '-' or '_', starting with a letter"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Code {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Code::parse(&s)
    }
}

impl From<Code> for String {
    fn from(c: Code) -> String {
        c.0
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Store-assigned row identifiers. Distinct types so that a session id is never passed where a
/// price-category id is expected.
macro_rules! id_type {
    ($($name:ident),*) => {$(
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { write!(f, "{}", self.0) }
        }
    )*};
}
id_type!(AccountId, VenueId, SessionId, CategoryId, PhaseId, CartId, OrderId, TicketId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_normalises_and_refuses_junk() {
        assert_eq!(Email::parse("  Fan@Example.ORG ").unwrap().as_str(), "fan@example.org");
        for bad in ["", "no-at", "a@b", "a@@b.org", "@b.org", "a@-b.org", "a b@c.org", "a@b..org"] {
            assert!(Email::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn password_policy() {
        let e = Email::parse("marie.curie@example.org").unwrap();
        assert!(NewPassword::parse("short", &e).is_err());
        assert!(NewPassword::parse("aaaaaaaaaaaa", &e).is_err());
        assert!(NewPassword::parse("password1234", &e).is_err());
        assert!(NewPassword::parse("xxmarie.curie@", &e).is_err() || NewPassword::parse("marie.curie-99", &e).is_err());
        assert!(NewPassword::parse("correct horse battery", &e).is_ok());
    }

    #[test]
    fn codes() {
        assert!(Code::parse("ATH05").is_ok());
        assert!(Code::parse("a1").is_err());
        assert!(Code::parse("5ATH").is_err());
        assert!(Code::parse("ATH 05").is_err());
    }

    #[test]
    fn cents_and_time() {
        assert_eq!(Cents(12345).to_string(), "€123.45");
        assert!(Cents::parse("-1").is_err());
        let t = Timestamp::parse_rfc3339("2024-08-02T10:00:00+02:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2024-08-02T08:00:00Z");
    }
}
