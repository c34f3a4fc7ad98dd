//! Threat intelligence in and out: indicators (addresses, networks, domains, URLs, file
//! hashes) read from STIX 2.1 bundles ([`stix`]), MISP events ([`misp`]) and plain lists
//! ([`list`]), and Tessera's own decisions, watches and cases written back in the first two.
//!
//! A shared document is someone else's to write, so it is read as hostile: its size, its
//! nesting, its object count and its strings are bounded ([`Limits`]) before anything is
//! built from it, and a whole-document problem refuses the document ([`IntelError`]) while a
//! bad object is refused alone and named ([`Refused`]), never stopping the others. Only the
//! part of STIX patterning that names one value is read (`[ipv4-addr:value = '...']`,
//! alternatives joined by `OR`); anything richer is refused with its reason, because an edge
//! block is only as good as the pattern it came from.
//!
//! Pure: no clock (expiry is compared by the caller), no I/O.

pub mod list;
pub mod misp;
pub mod stix;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

pub use list::parse_plain_list;
pub use misp::{parse_misp_event, to_misp_event};
pub use stix::{parse_stix_bundle, to_stix_bundle};

/// The confidence given to an indicator whose document says none: below any blocking
/// threshold, so that only a source that vouches for an indicator gets it blocked.
pub const DEFAULT_CONFIDENCE: u8 = 50;
/// Longest source name kept (an identity's name, an organisation's).
pub const MAX_SOURCE_CHARS: usize = 64;
/// Longest description kept.
pub const MAX_DESCRIPTION_CHARS: usize = 200;
/// Longest domain name (RFC 1035) and URL taken.
pub const MAX_DOMAIN_LEN: usize = 253;
pub const MAX_URL_LEN: usize = 2_048;

/// What an indicator points at.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum IndicatorKind {
    Address(IpAddr),
    Network(IpNet),
    /// Lowercase, without a trailing dot.
    Domain(String),
    Url(String),
    /// Lowercase hex of the right length for the algorithm.
    FileHash {
        algo: HashAlgo,
        hex: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HashAlgo {
    Md5,
    Sha1,
    Sha256,
}

impl HashAlgo {
    fn hex_len(self) -> usize {
        match self {
            HashAlgo::Md5 => 32,
            HashAlgo::Sha1 => 40,
            HashAlgo::Sha256 => 64,
        }
    }
}

impl IndicatorKind {
    /// One key per thing pointed at, whatever the spelling it came in (`1.2.3.4/32` is the
    /// address), for a watch list and for stable export ids.
    pub fn key(&self) -> String {
        match self {
            IndicatorKind::Address(ip) => format!("address {ip}"),
            IndicatorKind::Network(n) => format!("network {n}"),
            IndicatorKind::Domain(d) => format!("domain {d}"),
            IndicatorKind::Url(u) => format!("url {u}"),
            IndicatorKind::FileHash { algo, hex } => format!("{algo:?} {hex}").to_lowercase(),
        }
    }

    /// An address as such, a network trimmed of host bits, and a single-address network
    /// as the address.
    pub fn of_net(net: IpNet) -> IndicatorKind {
        if net.prefix_len() == net.max_prefix_len() {
            IndicatorKind::Address(net.addr())
        } else {
            IndicatorKind::Network(net.trunc())
        }
    }

    /// A domain name checked and lowercased: letters, digits, hyphens, underscores and dots
    /// (internationalised names come punycoded), at least two labels, a top label that is
    /// not all digits.
    pub fn domain(value: &str) -> Result<IndicatorKind, String> {
        let d = value.trim_end_matches('.').to_ascii_lowercase();
        let labels_ok = d.split('.').all(|l| {
            (1..=63).contains(&l.len())
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                && !l.starts_with('-')
                && !l.ends_with('-')
        });
        // An all-numeric top label is a mistyped address, not a name (RFC 3696, section 2).
        let numeric_tld = d.rsplit('.').next().is_some_and(|t| t.bytes().all(|b| b.is_ascii_digit()));
        if d.len() > MAX_DOMAIN_LEN || !d.contains('.') || !labels_ok || numeric_tld {
            return Err(format!("not a domain name: {}", clip(value, 80)));
        }
        Ok(IndicatorKind::Domain(d))
    }

    /// A URL with a scheme, no white space or control characters, bounded.
    pub fn url(value: &str) -> Result<IndicatorKind, String> {
        let scheme_ok = value.split_once("://").is_some_and(|(s, rest)| {
            !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) && !rest.is_empty()
        });
        if value.len() > MAX_URL_LEN || !scheme_ok || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!("not a URL: {}", clip(value, 80)));
        }
        Ok(IndicatorKind::Url(value.to_string()))
    }

    pub fn hash(algo: HashAlgo, value: &str) -> Result<IndicatorKind, String> {
        if value.len() != algo.hex_len() || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("not a {algo:?} hash: {}", clip(value, 80)));
        }
        Ok(IndicatorKind::FileHash { algo, hex: value.to_ascii_lowercase() })
    }

    pub fn address_or_network(value: &str) -> Result<IndicatorKind, String> {
        if let Ok(ip) = value.parse::<IpAddr>() {
            return Ok(IndicatorKind::Address(ip));
        }
        value
            .parse::<IpNet>()
            .map(IndicatorKind::of_net)
            .map_err(|_| format!("not an address or a network: {}", clip(value, 80)))
    }
}

/// One indicator taken from a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Indicator {
    pub kind: IndicatorKind,
    /// Who said so: the bundle's identity, the event's organisation, the list's name.
    pub source: String,
    /// 0 to 100, as STIX 2.1 counts it.
    pub confidence: u8,
    /// Unix seconds after which it no longer holds, if the document said.
    pub valid_until: Option<i64>,
    pub description: String,
}

/// An object of the document that was not taken, named, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refused {
    /// The object's id (`indicator--...`, an attribute's uuid, `line 12`), or its position.
    pub object_id: String,
    pub reason: String,
}

/// What a document gave.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Imported {
    pub indicators: Vec<Indicator>,
    pub refused: Vec<Refused>,
    /// Objects with nothing to take: other STIX types (identities, relationships, types this
    /// reader does not know, which STIX allows), MISP attributes of other types.
    pub skipped: u64,
    /// Lines of a plain list that were not an indicator: counted, and the first few refused.
    pub malformed_lines: u64,
}

/// Refusals named at most; past it they are counted in the last one.
pub const MAX_REFUSED_NAMED: usize = 1_000;

impl Imported {
    fn refuse(&mut self, object_id: impl Into<String>, reason: impl Into<String>) {
        if self.refused.len() < MAX_REFUSED_NAMED {
            self.refused.push(Refused { object_id: clip(&object_id.into(), 200), reason: clip(&reason.into(), 300) });
        }
    }
}

/// Bounds on a document, checked before any of it is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_body: usize,
    pub max_objects: usize,
    pub max_depth: usize,
    pub max_string: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_body: 16 << 20, max_objects: 100_000, max_depth: 32, max_string: 4_096 }
    }
}

/// Why a whole document was refused; nothing of it was taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntelError {
    #[error("the document is {0} bytes, more than the {1} allowed")]
    TooLarge(usize, usize),
    #[error("the document nests deeper than {0} levels")]
    TooDeep(usize),
    #[error("a string of the document is longer than {0} bytes")]
    StringTooLong(usize),
    #[error("the document has {0} objects, more than the {1} allowed")]
    TooManyObjects(usize, usize),
    #[error("the document is not UTF-8 (byte {0})")]
    NotUtf8(usize),
    #[error("the document is not JSON: {0}")]
    Json(String),
    #[error("{0}")]
    Shape(String),
}

/// Checks size, nesting depth and string lengths in one pass over the bytes, before a parser
/// builds anything: a bundle nested ten thousand deep or holding a 10 MB string is refused
/// for what it is, in time linear in its size and constant memory. It only has to be right
/// about valid JSON; invalid JSON is the parser's to refuse next.
pub fn prescan(bytes: &[u8], limits: &Limits) -> Result<(), IntelError> {
    if bytes.len() > limits.max_body {
        return Err(IntelError::TooLarge(bytes.len(), limits.max_body));
    }
    if let Err(e) = std::str::from_utf8(bytes) {
        return Err(IntelError::NotUtf8(e.valid_up_to()));
    }
    let (mut depth, mut in_string, mut escaped, mut len) = (0usize, false, false, 0usize);
    for &b in bytes {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
                continue;
            }
            len += 1;
            if len > limits.max_string {
                return Err(IntelError::StringTooLong(limits.max_string));
            }
            continue;
        }
        match b {
            b'"' => {
                in_string = true;
                len = 0;
            }
            b'{' | b'[' => {
                depth += 1;
                if depth > limits.max_depth {
                    return Err(IntelError::TooDeep(limits.max_depth));
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// The document as JSON, after [`prescan`].
pub(crate) fn parse_json(bytes: &[u8], limits: &Limits) -> Result<serde_json::Value, IntelError> {
    prescan(bytes, limits)?;
    serde_json::from_slice(bytes).map_err(|e| IntelError::Json(e.to_string()))
}

/// At most `n` characters, control characters dropped (they end up in logs and pages).
pub fn clip(s: &str, n: usize) -> String {
    s.chars().filter(|c| !c.is_control()).take(n).collect()
}

/// A stable id in UUID form from a name: the first 16 bytes of its SHA-256, with the version
/// and variant bits of a version 4 UUID (STIX asks for v4 on its domain objects; the bits
/// are as unpredictable as random ones, and the same decision exported twice keeps its id,
/// so a partner's copy is updated rather than doubled).
pub fn stable_uuid(name: &str) -> String {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(name.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let x = hex_lower(&b);
    format!("{}-{}-{}-{}-{}", &x[0..8], &x[8..12], &x[12..16], &x[16..20], &x[20..32])
}

fn hex_lower(b: &[u8]) -> String {
    const H: &[u8; 16] = b"0123456789abcdef";
    b.iter().flat_map(|x| [H[(x >> 4) as usize] as char, H[(x & 15) as usize] as char]).collect()
}

/// A case of the SOC as it is exported: what it is about, its state, and the indicator of
/// its target when the target is an address or a network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportCase {
    pub id: u64,
    pub title: String,
    pub state: String,
    /// Unix seconds of its first and last alert.
    pub first_s: i64,
    pub last_s: i64,
    pub target: Option<Indicator>,
}

/// RFC 3339 in UTC with milliseconds and `Z`, as STIX requires of its timestamps.
pub(crate) fn rfc3339(unix_s: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(unix_s.clamp(0, 253_402_300_799))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let f = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].000Z");
    t.format(&f).unwrap_or_else(|_| "1970-01-01T00:00:00.000Z".into())
}

pub(crate) fn parse_rfc3339(s: &str) -> Option<i64> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok().map(|t| t.unix_timestamp())
}

#[cfg(test)]
mod tests;
