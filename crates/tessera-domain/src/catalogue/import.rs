//! The catalogue import format: a CSV file of `venue`, `session` and `category` records.
//!
//! The format is specified in `docs/catalogue-format.md`. [`parse`] turns a file into a validated
//! [`Catalogue`] or into every problem it can find (up to [`MAX_ERRORS`]), each with the line and
//! field to fix, so that an organiser fixes a file in one round trip rather than one error at a
//! time. [`to_csv`] writes a catalogue back in the same format.

use super::{Catalogue, PriceCategory, Session, Venue};
use crate::{Cents, Code, Timestamp};
use std::collections::{HashMap, HashSet};
use std::fmt;

/// Larger inputs are refused outright: a real catalogue is a few hundred kilobytes.
pub const MAX_INPUT_BYTES: usize = 64 * 1024 * 1024;
/// Records (not counting blank and comment lines) beyond this are refused outright.
pub const MAX_RECORDS: usize = 200_000;
/// Parsing stops once this many errors are collected; later lines may hold more.
pub const MAX_ERRORS: usize = 100;
/// Longest name, city, sport, title or zone, in characters.
pub const MAX_TEXT_CHARS: usize = 200;
pub const MAX_CAPACITY: i64 = 1_000_000;
pub const MAX_QUOTA: i64 = 1_000_000;
/// 100 000 €: far above any real ticket, low enough that sums of prices never overflow.
pub const MAX_PRICE_CENTS: i64 = 10_000_000;
pub const MAX_SESSION_SECS: i64 = 24 * 60 * 60;
/// 9999-12-31T23:59:59Z, the last instant RFC 3339 can write.
const LATEST_TIMESTAMP: i64 = 253_402_300_799;

/// Longest echo of an offending value in an error message, in characters.
const SHOWN_CHARS: usize = 60;

const VENUE_FIELDS: usize = 6;
const SESSION_FIELDS: usize = 8;
const CATEGORY_FIELDS: usize = 6;

/// One problem in an import file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, field {field}: {message}")]
pub struct ImportError {
    /// 1-based line of the record in the input; 0 when the problem is the input as a whole.
    pub line: u64,
    /// The field to fix, as named in the format (`quota`, `starts_at`, ...), or `record`.
    pub field: &'static str,
    pub message: String,
}

/// Every problem found in an import file, in line order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportErrors(pub Vec<ImportError>);

impl fmt::Display for ImportErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ImportErrors {}

impl ImportErrors {
    fn single(line: u64, field: &'static str, message: String) -> Self {
        ImportErrors(vec![ImportError { line, field, message }])
    }
}

/// Parses and validates a catalogue file. Never panics, whatever the input.
pub fn parse(input: &str) -> Result<Catalogue, ImportErrors> {
    if input.len() > MAX_INPUT_BYTES {
        return Err(ImportErrors::single(
            0,
            "record",
            format!("the input is {} bytes, more than the limit of {MAX_INPUT_BYTES} bytes", input.len()),
        ));
    }
    // Spreadsheet programs often save "CSV UTF-8" with a byte order mark.
    let input = input.strip_prefix('\u{feff}').unwrap_or(input);
    let mut reader =
        csv::ReaderBuilder::new().has_headers(false).flexible(true).comment(Some(b'#')).from_reader(input.as_bytes());

    let mut parser = Parser::default();
    let mut lines = Lines::new(input);
    let mut record = csv::ByteRecord::new();
    let mut records = 0usize;
    loop {
        let line = lines.record_line(reader.position().byte());
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            // Reading bytes from memory with `flexible` has no failure mode left; stop rather
            // than risk looping on a reader that does not advance.
            Err(e) => {
                parser.error(line, "record", format!("unreadable CSV: {e}"));
                break;
            }
        }
        // Fields split at ASCII delimiters of a `&str`, so they are always valid UTF-8.
        let fields: Vec<&str> = record.iter().map(|f| std::str::from_utf8(f).unwrap_or("")).collect();
        if is_blank_or_comment(&fields) {
            continue;
        }
        records += 1;
        if records > MAX_RECORDS {
            return Err(ImportErrors::single(line, "record", format!("the input has more than {MAX_RECORDS} records")));
        }
        parser.record(line, &fields);
        if parser.full() {
            break;
        }
    }
    if !parser.full() {
        parser.resolve();
    }
    parser.finish()
}

/// Counts lines itself: the csv crate's record positions leave out blank lines, comment lines
/// and CRLF line ends. Its byte offsets are exact, and a record ends where the next one's
/// leading blank and comment lines begin.
struct Lines<'a> {
    bytes: &'a [u8],
    /// Line breaks before this offset are in `line`.
    counted: usize,
    line: u64,
}

impl<'a> Lines<'a> {
    fn new(input: &'a str) -> Self {
        Lines { bytes: input.as_bytes(), counted: 0, line: 1 }
    }

    /// The line of the record that the reader, `offset` bytes into the input, reads next: past
    /// line breaks and comment lines, as the csv crate skips them.
    fn record_line(&mut self, offset: u64) -> u64 {
        let b = self.bytes;
        let mut i = usize::try_from(offset).unwrap_or(b.len()).min(b.len());
        loop {
            match b.get(i) {
                Some(b'\r' | b'\n') => i += 1,
                Some(b'#') => {
                    i = b[i..].iter().position(|&c| c == b'\n').map_or(b.len(), |p| i + p + 1);
                }
                _ => break,
            }
        }
        // Offsets only grow, so each byte is looked at once.
        for k in self.counted..i {
            // A line ends with LF, CRLF or a lone CR.
            if b[k] == b'\n' || (b[k] == b'\r' && b.get(k + 1) != Some(&b'\n')) {
                self.line += 1;
            }
        }
        self.counted = self.counted.max(i);
        self.line
    }
}

/// Rows of empty cells are what spreadsheets export for blank rows; an indented `#` is still
/// meant as a comment.
fn is_blank_or_comment(fields: &[&str]) -> bool {
    fields.iter().all(|f| f.trim().is_empty()) || fields.first().is_some_and(|f| f.trim_start().starts_with('#'))
}

/// What has been read so far. Codes are remembered from every record whose code is valid, even
/// when another field of it is not, so that one bad field does not cascade into "unknown venue"
/// or "no category" errors on other lines.
#[derive(Default)]
struct Parser {
    errors: Vec<ImportError>,
    venues: Vec<(u64, Venue)>,
    sessions: Vec<(u64, Session)>,
    categories: Vec<(u64, PriceCategory)>,
    venue_lines: HashMap<Code, u64>,
    session_lines: HashMap<Code, u64>,
    category_lines: HashMap<(Code, Code), u64>,
    /// Line and venue code of every session record, checked once all venues are known.
    venue_refs: Vec<(u64, Code)>,
    /// Line and session code of every category record, checked once all sessions are known.
    session_refs: Vec<(u64, Code)>,
}

impl Parser {
    fn full(&self) -> bool {
        self.errors.len() >= MAX_ERRORS
    }

    fn error(&mut self, line: u64, field: &'static str, message: String) {
        if !self.full() {
            self.errors.push(ImportError { line, field, message });
        }
    }

    fn record(&mut self, line: u64, fields: &[&str]) {
        let kind = fields.first().map_or("", |f| f.trim());
        if kind.eq_ignore_ascii_case("venue") {
            self.venue(line, fields);
        } else if kind.eq_ignore_ascii_case("session") {
            self.session(line, fields);
        } else if kind.eq_ignore_ascii_case("category") {
            self.category(line, fields);
        } else {
            self.error(line, "kind", format!("must be venue, session or category, got {}", shown(kind)));
        }
    }

    /// `shape` is the record's layout, which starts with its kind.
    fn field_count(&mut self, line: u64, fields: &[&str], want: usize, shape: &str) -> bool {
        if fields.len() == want {
            return true;
        }
        let kind = shape.split(',').next().unwrap_or(shape);
        let got = fields.len();
        let message = format!("a {kind} record has {want} fields ({shape}), got {got}");
        self.error(line, "record", message);
        false
    }

    fn venue(&mut self, line: u64, f: &[&str]) {
        if !self.field_count(line, f, VENUE_FIELDS, "venue,CODE,name,city,capacity,zones") {
            return;
        }
        let code = self.code(line, "code", f[1]);
        let name = self.text(line, "name", f[2]);
        let city = self.text(line, "city", f[3]);
        let capacity = self.number(line, "capacity", f[4], 1, MAX_CAPACITY);
        let zones = self.zones(line, f[5]);
        let Some(code) = code else { return };
        if let Some(&first) = self.venue_lines.get(&code) {
            self.error(line, "code", format!("venue {code} is already defined on line {first}"));
            return;
        }
        self.venue_lines.insert(code.clone(), line);
        if let (Some(name), Some(city), Some(capacity), Some(zones)) = (name, city, capacity, zones) {
            let venue = Venue { code, name, city, capacity, zones };
            self.venues.push((line, venue));
        }
    }

    fn session(&mut self, line: u64, f: &[&str]) {
        if !self.field_count(line, f, SESSION_FIELDS, "session,CODE,sport,title,VENUE_CODE,starts_at,ends_at,ceremony")
        {
            return;
        }
        let code = self.code(line, "code", f[1]);
        let sport = self.text(line, "sport", f[2]);
        let title = self.text(line, "title", f[3]);
        let venue = self.code(line, "venue", f[4]);
        let starts_at = self.timestamp(line, "starts_at", f[5]);
        let ends_at = self.timestamp(line, "ends_at", f[6]);
        let ceremony = self.ceremony(line, f[7]);
        let times = match (starts_at, ends_at) {
            (Some(start), Some(end)) => self.times(line, start, end),
            _ => None,
        };
        if let Some(venue) = &venue {
            self.venue_refs.push((line, venue.clone()));
        }
        let Some(code) = code else { return };
        if let Some(&first) = self.session_lines.get(&code) {
            self.error(line, "code", format!("session {code} is already defined on line {first}"));
            return;
        }
        self.session_lines.insert(code.clone(), line);
        if let (Some(sport), Some(title), Some(venue), Some((starts_at, ends_at)), Some(ceremony)) =
            (sport, title, venue, times, ceremony)
        {
            let session = Session { code, sport, title, venue, starts_at, ends_at, ceremony };
            self.sessions.push((line, session));
        }
    }

    fn category(&mut self, line: u64, f: &[&str]) {
        if !self.field_count(line, f, CATEGORY_FIELDS, "category,SESSION_CODE,CODE,name,price_cents,quota") {
            return;
        }
        let session = self.code(line, "session", f[1]);
        let code = self.code(line, "code", f[2]);
        let name = self.text(line, "name", f[3]);
        let price = self.number(line, "price_cents", f[4], 0, MAX_PRICE_CENTS);
        let quota = self.number(line, "quota", f[5], 1, MAX_QUOTA);
        let Some(session) = session else { return };
        self.session_refs.push((line, session.clone()));
        let Some(code) = code else { return };
        let key = (session, code);
        if let Some(&first) = self.category_lines.get(&key) {
            self.error(
                line,
                "code",
                format!("category {} of session {} is already defined on line {first}", key.1, key.0),
            );
            return;
        }
        self.category_lines.insert(key.clone(), line);
        let (session, code) = key;
        if let (Some(name), Some(price), Some(quota)) = (name, price, quota) {
            let category = PriceCategory { session, code, name, price: Cents(price), quota };
            self.categories.push((line, category));
        }
    }

    /// Checks what needs the whole file: references, categories per session, capacity.
    fn resolve(&mut self) {
        let mut found = Vec::new();
        let mut problem =
            |line: u64, field: &'static str, message: String| found.push(ImportError { line, field, message });
        for (line, venue) in &self.venue_refs {
            if !self.venue_lines.contains_key(venue) {
                problem(*line, "venue", format!("no venue record has code {venue}"));
            }
        }
        let mut named_by_a_category = HashSet::new();
        for (line, session) in &self.session_refs {
            if !self.session_lines.contains_key(session) {
                problem(*line, "session", format!("no session record has code {session}"));
            }
            named_by_a_category.insert(session);
        }
        let capacities: HashMap<&Code, i64> = self.venues.iter().map(|(_, v)| (&v.code, v.capacity)).collect();
        let mut quotas: HashMap<&Code, i64> = HashMap::new();
        for (_, c) in &self.categories {
            *quotas.entry(&c.session).or_default() += c.quota;
        }
        for (line, s) in &self.sessions {
            if !named_by_a_category.contains(&s.code) {
                problem(
                    *line,
                    "code",
                    format!(
                        "session {0} has no price category; add at least one `category,{0},...` \
                         record",
                        s.code
                    ),
                );
            }
            let quota = quotas.get(&s.code).copied().unwrap_or(0);
            if let Some(&capacity) = capacities.get(&s.venue) {
                if quota > capacity {
                    problem(
                        *line,
                        "quota",
                        format!(
                            "the quotas of session {}'s categories add up to {quota}, more than \
                             the capacity {capacity} of venue {}",
                            s.code, s.venue
                        ),
                    );
                }
            }
        }
        for e in found {
            self.error(e.line, e.field, e.message);
        }
    }

    fn finish(mut self) -> Result<Catalogue, ImportErrors> {
        if !self.errors.is_empty() {
            // Stable, so the errors of one line keep the order of its fields.
            self.errors.sort_by_key(|e| e.line);
            return Err(ImportErrors(self.errors));
        }
        Ok(Catalogue {
            venues: self.venues.into_iter().map(|(_, v)| v).collect(),
            sessions: self.sessions.into_iter().map(|(_, s)| s).collect(),
            categories: self.categories.into_iter().map(|(_, c)| c).collect(),
        })
    }

    fn code(&mut self, line: u64, field: &'static str, raw: &str) -> Option<Code> {
        let parsed = Code::parse(raw).ok();
        if parsed.is_none() {
            self.error(
                line,
                field,
                format!(
                    "must be a code of 2 to 16 characters A-Z, 0-9, '-' or '_', starting with a \
                     letter, got {}",
                    shown(raw.trim())
                ),
            );
        }
        parsed
    }

    fn text(&mut self, line: u64, field: &'static str, raw: &str) -> Option<String> {
        match check_text(raw) {
            Ok(s) => Some(s.to_string()),
            Err(problem) => {
                self.error(line, field, problem);
                None
            }
        }
    }

    fn zones(&mut self, line: u64, raw: &str) -> Option<Vec<String>> {
        if raw.trim().is_empty() {
            self.error(line, "zones", "must list at least one entrance or zone, separated by ';'".into());
            return None;
        }
        let mut zones = Vec::new();
        let mut ok = true;
        for (i, zone) in raw.split(';').enumerate() {
            match check_text(zone) {
                Ok(z) => zones.push(z.to_string()),
                Err(problem) => {
                    self.error(line, "zones", format!("zone {}: {problem}", i + 1));
                    ok = false;
                }
            }
        }
        ok.then_some(zones)
    }

    fn number(&mut self, line: u64, field: &'static str, raw: &str, min: i64, max: i64) -> Option<i64> {
        let s = raw.trim();
        let digits = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        // Only digits, so a parse failure is an overflow: as out of range as any big number.
        let n = if digits { s.parse::<i64>().unwrap_or(i64::MAX) } else { -1 };
        if n < min {
            let what = if min > 0 { "a positive whole number" } else { "a whole number, 0 or more" };
            self.error(line, field, format!("must be {what}, got {}", shown(s)));
            None
        } else if n > max {
            self.error(line, field, format!("must be at most {max}, got {}", shown(s)));
            None
        } else {
            Some(n)
        }
    }

    fn timestamp(&mut self, line: u64, field: &'static str, raw: &str) -> Option<Timestamp> {
        match Timestamp::parse_rfc3339(raw) {
            Ok(t) if (0..=LATEST_TIMESTAMP).contains(&t.0) => Some(t),
            // Outside these years `to_rfc3339` cannot write the instant back in this format.
            Ok(_) => {
                let message = format!("must be between 1970 and 9999 in UTC, got {}", shown(raw.trim()));
                self.error(line, field, message);
                None
            }
            Err(problem) => {
                self.error(line, field, format!("{problem}, got {}", shown(raw.trim())));
                None
            }
        }
    }

    fn times(&mut self, line: u64, start: Timestamp, end: Timestamp) -> Option<(Timestamp, Timestamp)> {
        let secs = end.0.saturating_sub(start.0);
        if secs <= 0 {
            self.error(line, "ends_at", format!("must be after starts_at ({start}), got {end}"));
            None
        } else if secs > MAX_SESSION_SECS {
            self.error(
                line,
                "ends_at",
                format!(
                    "a session lasts at most 24 hours; this one lasts {} h {:02} min",
                    secs / 3600,
                    secs % 3600 / 60
                ),
            );
            None
        } else {
            Some((start, end))
        }
    }

    fn ceremony(&mut self, line: u64, raw: &str) -> Option<bool> {
        let s = raw.trim();
        if ["yes", "true"].iter().any(|w| s.eq_ignore_ascii_case(w)) {
            Some(true)
        } else if ["no", "false"].iter().any(|w| s.eq_ignore_ascii_case(w)) {
            Some(false)
        } else {
            self.error(line, "ceremony", format!("must be yes, no, true or false, got {}", shown(s)));
            None
        }
    }
}

/// The rules shared by every free-text field: what ends up on a ticket must print on one line.
fn check_text(raw: &str) -> Result<&str, String> {
    let s = raw.trim();
    if s.is_empty() {
        Err("must not be empty".into())
    } else if s.chars().any(char::is_control) {
        Err(format!("must not contain control characters such as tabs or line breaks, got {}", shown(s)))
    } else if s.chars().count() > MAX_TEXT_CHARS {
        Err(format!("must be at most {MAX_TEXT_CHARS} characters, got {}", s.chars().count()))
    } else {
        Ok(s)
    }
}

/// Quotes a value for an error message, cut short so that a huge field cannot make a huge error.
fn shown(s: &str) -> String {
    match s.char_indices().nth(SHOWN_CHARS) {
        Some((cut, _)) => format!("{:?}…", &s[..cut]),
        None => format!("{s:?}"),
    }
}

const HEADER: &str = "\
# Tessera catalogue, import format described in docs/catalogue-format.md
# venue,CODE,name,city,capacity,zones (separated by ';')
# session,CODE,sport,title,VENUE_CODE,starts_at,ends_at,ceremony (yes/no)
# category,SESSION_CODE,CODE,name,price_cents,quota
";

/// Writes a catalogue in the import format: venues, then sessions, then categories, each in
/// catalogue order. For a valid catalogue, `parse(&to_csv(c)) == Ok(c)`.
pub fn to_csv(cat: &Catalogue) -> String {
    let mut out = String::from(HEADER);
    out.push_str("\n# Venues\n");
    for v in &cat.venues {
        write_record(
            &mut out,
            &["venue", v.code.as_str(), &v.name, &v.city, &v.capacity.to_string(), &v.zones.join(";")],
        );
    }
    out.push_str("\n# Sessions (times in UTC)\n");
    for s in &cat.sessions {
        write_record(
            &mut out,
            &[
                "session",
                s.code.as_str(),
                &s.sport,
                &s.title,
                s.venue.as_str(),
                &s.starts_at.to_rfc3339(),
                &s.ends_at.to_rfc3339(),
                if s.ceremony { "yes" } else { "no" },
            ],
        );
    }
    out.push_str("\n# Price categories\n");
    for c in &cat.categories {
        write_record(
            &mut out,
            &["category", c.session.as_str(), c.code.as_str(), &c.name, &c.price.0.to_string(), &c.quota.to_string()],
        );
    }
    out
}

/// RFC 4180 quoting, only where needed so that the file stays readable.
fn write_record(out: &mut String, fields: &[&str]) {
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if field.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&field.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(field);
        }
    }
    out.push('\n');
}

#[cfg(test)]
mod tests;
