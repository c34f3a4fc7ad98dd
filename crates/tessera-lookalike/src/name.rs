//! Domain names as the detector and the generator compare them: one canonical Unicode form and
//! its split at the public suffix.
//!
//! Canonical form: surrounding whitespace, a trailing dot and a leading wildcard (`*.`) removed;
//! lowercase; each `xn--` label decoded from punycode (with `idna`'s decoder); each non-ASCII
//! label put in Unicode NFKC and lowercased, which approximates the mapping IDNA applies before
//! encoding (IDNA 2003 nameprep, UTS 46) so that a name typed in Unicode and the same name seen
//! in punycode compare equal. The public suffix comes from Mozilla's list (the `psl` crate, ICANN
//! and private sections, compiled in: no file is read), whose entries are Unicode.

use unicode_normalization::UnicodeNormalization;

/// Longest name accepted, in bytes of its canonical form: 253 ASCII characters, or as many
/// Unicode ones, each up to 4 bytes in UTF-8.
pub const MAX_NAME_BYTES: usize = 253 * 4;

/// Why a string is not a domain name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Nothing left after trimming.
    #[error("empty name")]
    Empty,
    /// Longer than [`MAX_NAME_BYTES`].
    #[error("name too long")]
    TooLong,
    /// Two dots in a row, or a leading dot.
    #[error("empty label")]
    EmptyLabel,
    /// Whitespace, a control character, a slash, `@` or another character no host name holds.
    #[error("character not allowed in a host name")]
    BadChar,
}

/// A name in canonical form, split at its public suffix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name {
    key: String,
    /// Byte offset in `key` where the registrable label starts, if the name has one.
    registrable: Option<usize>,
    /// Byte offset in `key` where the public suffix starts.
    suffix: usize,
}

impl Name {
    /// Canonicalise `raw` (see the module doc).
    pub fn parse(raw: &str) -> Result<Name, NameError> {
        let mut s = raw.trim();
        s = s.strip_suffix('.').unwrap_or(s);
        s = s.strip_prefix("*.").unwrap_or(s);
        if s.is_empty() {
            return Err(NameError::Empty);
        }
        if s.len() > MAX_NAME_BYTES {
            return Err(NameError::TooLong);
        }
        let key = if s.is_ascii() && !s.contains("xn--") && !s.contains("XN--") {
            let key = s.to_ascii_lowercase();
            if key.split('.').any(str::is_empty) {
                return Err(NameError::EmptyLabel);
            }
            if key.bytes().any(|b| !is_host_byte(b)) {
                return Err(NameError::BadChar);
            }
            key
        } else {
            canonical_unicode(s)?
        };
        if key.len() > MAX_NAME_BYTES {
            return Err(NameError::TooLong);
        }
        Ok(Name::split(key))
    }

    fn split(key: String) -> Name {
        let suffix_len = psl::suffix(key.as_bytes()).map_or(0, |s| s.as_bytes().len());
        let suffix = if suffix_len == 0 || suffix_len > key.len() {
            key.rfind('.').map_or(0, |i| i + 1)
        } else {
            key.len() - suffix_len
        };
        let registrable = if suffix == 0 {
            None
        } else {
            // `suffix` follows a dot; the registrable label starts after the dot before it.
            Some(key[..suffix - 1].rfind('.').map_or(0, |i| i + 1))
        };
        Name { key, registrable, suffix }
    }

    /// The whole name in canonical form.
    pub fn as_str(&self) -> &str {
        &self.key
    }

    /// The label just left of the public suffix (`paris2024` in `tickets.paris2024.org`).
    pub fn registrable_label(&self) -> Option<&str> {
        self.registrable.map(|r| &self.key[r..self.suffix - 1])
    }

    /// The registrable domain (`paris2024.org` in `tickets.paris2024.org`).
    pub fn registrable_domain(&self) -> Option<&str> {
        self.registrable.map(|r| &self.key[r..])
    }

    /// The public suffix (`org`, `co.uk`, `github.io`).
    pub fn suffix(&self) -> &str {
        &self.key[self.suffix..]
    }

    /// The labels left of the registrable label, without the last dot; empty if none.
    pub fn subdomain(&self) -> &str {
        match self.registrable {
            Some(r) if r > 0 => &self.key[..r - 1],
            _ => "",
        }
    }

    /// Every dot-aligned tail of the name, longest first: `a.b.c`, `b.c`, `c`.
    pub fn tails(&self) -> impl Iterator<Item = &str> {
        let key = self.key.as_str();
        std::iter::once(key).chain(key.match_indices('.').map(move |(i, _)| &key[i + 1..]))
    }
}

/// Whether `name` is `domain` or one of its subdomains (both canonical).
pub fn is_within(name: &str, domain: &str) -> bool {
    name == domain
        || (name.len() > domain.len()
            && name.ends_with(domain)
            && name.as_bytes()[name.len() - domain.len() - 1] == b'.')
}

fn is_host_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.'
}

/// The slow path: Unicode input, or punycode labels to decode.
fn canonical_unicode(s: &str) -> Result<String, NameError> {
    let mut key = String::with_capacity(s.len() + 8);
    // Ideographic and fullwidth full stops separate labels too (IDNA maps them to `.`).
    for (i, label) in s.split(['.', '\u{3002}', '\u{ff0e}', '\u{ff61}']).enumerate() {
        if label.is_empty() {
            return Err(NameError::EmptyLabel);
        }
        if i > 0 {
            key.push('.');
        }
        let lower = label.to_lowercase();
        let decoded = match lower.strip_prefix("xn--") {
            Some(puny) => idna::punycode::decode_to_string(puny).filter(|d| !d.is_empty()),
            None => None,
        };
        let label = decoded.as_deref().unwrap_or(&lower);
        if label.is_ascii() {
            if label.bytes().any(|b| !is_host_byte(b) || b == b'.') {
                return Err(NameError::BadChar);
            }
            key.push_str(label);
        } else {
            for c in label.nfkc().flat_map(char::to_lowercase) {
                if c.is_whitespace() || c.is_control() || matches!(c, '/' | '@' | ':' | '.') {
                    return Err(NameError::BadChar);
                }
                key.push(c);
            }
        }
        if key.len() > MAX_NAME_BYTES {
            return Err(NameError::TooLong);
        }
    }
    Ok(key)
}

/// The ASCII (punycode) form of a canonical name, as it would appear in DNS; `None` if a
/// label cannot be encoded.
pub fn to_ascii(name: &str) -> Option<String> {
    let mut out = String::with_capacity(name.len() + 8);
    for (i, label) in name.split('.').enumerate() {
        if i > 0 {
            out.push('.');
        }
        if label.is_ascii() {
            out.push_str(label);
        } else {
            out.push_str("xn--");
            out.push_str(&idna::punycode::encode_str(label)?);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn splits_at_the_public_suffix() {
        let n = Name::parse("*.Tickets.Paris2024.ORG.").unwrap();
        assert_eq!(n.as_str(), "tickets.paris2024.org");
        assert_eq!(n.registrable_label(), Some("paris2024"));
        assert_eq!(n.registrable_domain(), Some("paris2024.org"));
        assert_eq!(n.suffix(), "org");
        assert_eq!(n.subdomain(), "tickets");
        let n = Name::parse("shop.example.co.uk").unwrap();
        assert_eq!(n.registrable_label(), Some("example"));
        assert_eq!(n.suffix(), "co.uk");
        let n = Name::parse("co.uk").unwrap();
        assert_eq!(n.registrable_label(), None);
        assert_eq!(n.subdomain(), "");
        // Unknown TLDs fall back to the last label (the list's `*` rule).
        let n = Name::parse("a.b.notatld").unwrap();
        assert_eq!(n.registrable_domain(), Some("b.notatld"));
    }

    #[test]
    fn decodes_punycode_and_matches_unicode_input() {
        let puny = Name::parse("xn--pars2024-e2a.org").unwrap();
        let uni = Name::parse("PARÍS2024.org").unwrap();
        assert_eq!(puny.as_str(), "parís2024.org");
        assert_eq!(puny, uni);
        assert_eq!(to_ascii(puny.as_str()).unwrap(), "xn--pars2024-e2a.org");
        // A broken punycode label is kept as it is, not dropped.
        assert_eq!(Name::parse("xn--.org").unwrap().as_str(), "xn--.org");
    }

    #[test]
    fn refuses_what_is_not_a_name() {
        assert_eq!(Name::parse("  "), Err(NameError::Empty));
        assert_eq!(Name::parse("a..b"), Err(NameError::EmptyLabel));
        assert_eq!(Name::parse("a b.com"), Err(NameError::BadChar));
        assert_eq!(Name::parse("ä/b.com"), Err(NameError::BadChar));
        assert_eq!(Name::parse(&"a".repeat(2000)), Err(NameError::TooLong));
    }

    #[test]
    fn tails_and_within() {
        let n = Name::parse("a.b.c").unwrap();
        assert_eq!(n.tails().collect::<Vec<_>>(), ["a.b.c", "b.c", "c"]);
        assert!(is_within("x.paris2024.org", "paris2024.org"));
        assert!(is_within("paris2024.org", "paris2024.org"));
        assert!(!is_within("xparis2024.org", "paris2024.org"));
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,80}") {
            if let Ok(n) = Name::parse(&s) {
                let _ = (n.registrable_label(), n.subdomain(), n.suffix(), n.tails().count());
                prop_assert!(n.as_str().len() <= MAX_NAME_BYTES);
            }
        }

        #[test]
        fn parse_is_idempotent(s in "[a-zA-Z0-9.-]{1,40}|[a-zéàüı.-]{1,20}") {
            if let Ok(n) = Name::parse(&s) {
                prop_assert_eq!(Name::parse(n.as_str()).unwrap(), n);
            }
        }
    }
}
