//! Certificate-transparency lines as certstream emits them: one JSON object per line, either a
//! `certificate_update` carrying the names of a newly logged certificate
//! (`data.leaf_cert.all_domains`) or a `heartbeat`.
//!
//! A line is parsed on its own and never panics: lines longer than [`MAX_LINE_BYTES`] are
//! refused before any parsing, JSON nesting is bounded by `serde_json`'s recursion limit, and a
//! certificate keeps at most [`MAX_NAMES`] names (the rest are counted, not kept). Heartbeats,
//! other message types and malformed lines are told apart, so that a feed reader can count
//! what it skipped.

use serde::Deserialize;

/// Longest line accepted. certstream's full messages (with the DER certificate) stay well
/// under this; a longer line is a broken or hostile feed.
pub const MAX_LINE_BYTES: usize = 256 * 1024;

/// Most names kept from one certificate. CAs cap SANs at a few hundred (Let's Encrypt: 100).
pub const MAX_NAMES: usize = 1000;

/// What one certstream line carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// A newly logged certificate.
    Certificate(Certificate),
    /// The server's keep-alive.
    Heartbeat,
    /// Another well-formed message type, named.
    Other(String),
}

/// The parts of a certificate update the lookalike detector needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Certificate {
    /// The names the certificate covers, as logged (wildcards included), at most
    /// [`MAX_NAMES`].
    pub names: Vec<String>,
    /// How many entries were dropped: beyond [`MAX_NAMES`], or not strings.
    pub dropped: usize,
    /// The issuer's organisation (`Let's Encrypt`), when given.
    pub issuer: Option<String>,
    /// The CT log it came from, when given.
    pub source: Option<String>,
}

/// Why a line is not a usable certstream message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    /// Longer than [`MAX_LINE_BYTES`].
    #[error("line of {0} bytes is too long")]
    TooLong(usize),
    /// Nothing but whitespace.
    #[error("empty line")]
    Empty,
    /// Not JSON, or JSON of the wrong shape.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// A `certificate_update` without `data.leaf_cert.all_domains`.
    #[error("certificate update without names")]
    NoNames,
}

#[derive(Deserialize)]
struct Raw {
    message_type: Option<String>,
    /// Read as a value first: only a certificate update's has to have `Data`'s shape.
    data: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Data {
    leaf_cert: Option<Leaf>,
    source: Option<Source>,
}

#[derive(Deserialize)]
struct Leaf {
    all_domains: Option<Vec<serde_json::Value>>,
    issuer: Option<Issuer>,
}

#[derive(Deserialize)]
struct Issuer {
    #[serde(rename = "O")]
    organisation: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Source {
    name: Option<serde_json::Value>,
    url: Option<serde_json::Value>,
}

/// Parse one certstream line.
pub fn parse_line(line: &str) -> Result<Message, LineError> {
    if line.len() > MAX_LINE_BYTES {
        return Err(LineError::TooLong(line.len()));
    }
    let line = line.trim();
    if line.is_empty() {
        return Err(LineError::Empty);
    }
    let raw: Raw = serde_json::from_str(line).map_err(|e| LineError::Malformed(e.to_string()))?;
    match raw.message_type.as_deref() {
        Some("heartbeat") => Ok(Message::Heartbeat),
        Some("certificate_update") => {
            let data: Data = serde_json::from_value(raw.data.ok_or(LineError::NoNames)?)
                .map_err(|e| LineError::Malformed(e.to_string()))?;
            let leaf = data.leaf_cert.ok_or(LineError::NoNames)?;
            let all = leaf.all_domains.ok_or(LineError::NoNames)?;
            let total = all.len();
            let names: Vec<String> = all
                .into_iter()
                .filter_map(|v| match v {
                    serde_json::Value::String(s) => Some(s),
                    _ => None,
                })
                .take(MAX_NAMES)
                .collect();
            let text = |v: Option<serde_json::Value>| match v {
                Some(serde_json::Value::String(s)) => Some(s),
                _ => None,
            };
            let source = data.source.and_then(|s| text(s.name).or(text(s.url)));
            Ok(Message::Certificate(Certificate {
                dropped: total - names.len(),
                names,
                issuer: leaf.issuer.and_then(|i| text(i.organisation)),
                source,
            }))
        }
        Some(other) => Ok(Message::Other(other.chars().take(64).collect())),
        None => Err(LineError::Malformed("no message_type".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Shaped like certstream-server's output (trimmed of the fields not read here).
    const UPDATE: &str = r#"{"message_type": "certificate_update", "data": {"update_type": "X509LogEntry", "leaf_cert": {"subject": {"CN": "paris2024-tickets.shop"}, "extensions": {}, "not_before": 1719800000, "not_after": 1727576000, "serial_number": "04A1", "fingerprint": "AB:CD", "all_domains": ["paris2024-tickets.shop", "*.paris2024-tickets.shop", "www.paris2024-tickets.shop"], "issuer": {"C": "US", "O": "Let's Encrypt", "CN": "R3"}}, "chain": [], "cert_index": 123456789, "seen": 1719800123.5, "source": {"url": "https://ct.googleapis.com/logs/xenon2024/", "name": "Google 'Xenon2024' log"}}}"#;

    #[test]
    fn certificate_update() {
        let Message::Certificate(c) = parse_line(UPDATE).unwrap() else {
            panic!("not a certificate");
        };
        assert_eq!(c.names, ["paris2024-tickets.shop", "*.paris2024-tickets.shop", "www.paris2024-tickets.shop"]);
        assert_eq!(c.dropped, 0);
        assert_eq!(c.issuer.as_deref(), Some("Let's Encrypt"));
        assert_eq!(c.source.as_deref(), Some("Google 'Xenon2024' log"));
    }

    #[test]
    fn heartbeats_others_and_malformed_lines_are_told_apart() {
        assert_eq!(parse_line(r#"{"message_type": "heartbeat", "timestamp": 1719800000.1}"#), Ok(Message::Heartbeat));
        assert_eq!(
            parse_line(r#"{"message_type": "dns_entries", "data": []}"#),
            Ok(Message::Other("dns_entries".into()))
        );
        assert_eq!(parse_line("  \n"), Err(LineError::Empty));
        assert!(matches!(parse_line("{not json"), Err(LineError::Malformed(_))));
        assert!(matches!(parse_line("[1,2]"), Err(LineError::Malformed(_))));
        assert!(matches!(parse_line("{}"), Err(LineError::Malformed(_))));
        assert_eq!(
            parse_line(r#"{"message_type": "certificate_update", "data": {"leaf_cert": {}}}"#),
            Err(LineError::NoNames)
        );
        assert!(matches!(
            parse_line(r#"{"message_type": "certificate_update", "data": 5}"#),
            Err(LineError::Malformed(_))
        ));
    }

    #[test]
    fn bounded() {
        let long = format!("{{\"message_type\": \"heartbeat\", \"x\": \"{}\"}}", "a".repeat(MAX_LINE_BYTES));
        assert_eq!(parse_line(&long), Err(LineError::TooLong(long.len())));
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(matches!(parse_line(&deep), Err(LineError::Malformed(_))));
        let many: Vec<String> = (0..MAX_NAMES + 5).map(|i| format!("\"n{i}.example\"")).collect();
        let line = format!(
            r#"{{"message_type": "certificate_update", "data": {{"leaf_cert": {{"all_domains": [{}, 7]}}}}}}"#,
            many.join(",")
        );
        let Message::Certificate(c) = parse_line(&line).unwrap() else {
            panic!("not a certificate");
        };
        assert_eq!(c.names.len(), MAX_NAMES);
        assert_eq!(c.dropped, 6);
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,300}") {
            let _ = parse_line(&s);
        }

        #[test]
        fn never_panics_on_near_json(names in proptest::collection::vec("\\PC{0,20}", 0..5), kind in "(heartbeat|certificate_update|\\PC{0,8})") {
            let line = serde_json::json!({"message_type": kind, "data": {"leaf_cert": {"all_domains": names}}}).to_string();
            let _ = parse_line(&line);
            // Cut anywhere, it is still no panic.
            for cut in [line.len() / 3, line.len() / 2] {
                if line.is_char_boundary(cut) {
                    let _ = parse_line(&line[..cut]);
                }
            }
        }
    }
}
