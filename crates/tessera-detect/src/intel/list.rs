//! Plain lists, as block-list feeds publish them: one indicator a line (an address, a
//! network, a domain, a URL, or an MD5, SHA-1 or SHA-256 hash, told apart by their form),
//! optionally followed by a confidence from 0 to 100; `#` and `;` start comments (Spamhaus
//! DROP writes `1.2.3.0/24 ; SBL123`). A line that is none of these is counted and skipped.

use super::{clip, HashAlgo, Imported, Indicator, IndicatorKind, MAX_SOURCE_CHARS};

/// Longest line read; longer ones are malformed.
pub const MAX_LINE: usize = 4_096;
/// Malformed lines named at most (all are counted).
pub const MAX_NAMED_LINES: usize = 20;

/// Reads a list; each indicator gets `source` and, unless its line says otherwise,
/// `confidence` (a list is someone's decision to block, so the caller says how much it is
/// trusted).
pub fn parse_plain_list(text: &str, source: &str, confidence: u8) -> Imported {
    let mut out = Imported::default();
    for (n, line) in text.lines().enumerate() {
        let content = line.split(['#', ';']).next().unwrap_or_default().trim();
        if content.is_empty() {
            continue;
        }
        match read_line(content, line.len()) {
            Ok((kind, c)) => out.indicators.push(Indicator {
                kind,
                source: clip(source, MAX_SOURCE_CHARS),
                confidence: c.unwrap_or(confidence).min(100),
                valid_until: None,
                description: String::new(),
            }),
            Err(why) => {
                out.malformed_lines += 1;
                if out.malformed_lines as usize <= MAX_NAMED_LINES {
                    out.refuse(format!("line {}", n + 1), why);
                }
            }
        }
    }
    out
}

fn read_line(content: &str, len: usize) -> Result<(IndicatorKind, Option<u8>), String> {
    if len > MAX_LINE {
        return Err(format!("longer than {MAX_LINE} bytes"));
    }
    let mut words = content.split_whitespace();
    let value = words.next().unwrap_or_default();
    let confidence = match words.next() {
        None => None,
        Some(c) => match c.parse::<u8>() {
            Ok(c) if c <= 100 => Some(c),
            _ => return Err(format!("{:?} is not a confidence from 0 to 100", clip(c, 20))),
        },
    };
    if words.next().is_some() {
        return Err("more than a value and a confidence".into());
    }
    Ok((kind_of(value)?, confidence))
}

/// What a bare value is, by its form.
pub fn kind_of(value: &str) -> Result<IndicatorKind, String> {
    if let Ok(k) = IndicatorKind::address_or_network(value) {
        return Ok(k);
    }
    if value.contains("://") {
        return IndicatorKind::url(value);
    }
    if value.bytes().all(|b| b.is_ascii_hexdigit()) {
        match value.len() {
            32 => return IndicatorKind::hash(HashAlgo::Md5, value),
            40 => return IndicatorKind::hash(HashAlgo::Sha1, value),
            64 => return IndicatorKind::hash(HashAlgo::Sha256, value),
            _ => {}
        }
    }
    IndicatorKind::domain(value)
        .map_err(|_| format!("not an address, network, domain, URL or hash: {}", clip(value, 80)))
}
