//! Bulk import: a CSV file of applications, checked line by line.
//!
//! # The file
//!
//! UTF-8 (a leading byte-order mark is ignored), comma-separated, RFC 4180 quoting, one header
//! line then one application per line. The header names these columns, in any order, each once;
//! names are matched without regard to case or surrounding spaces, and no other column is allowed:
//!
//! ```text
//! given_name,family_name,date_of_birth,nationality,document_number,category,function,organisation,venues,zones,privileges
//! Marie-José,Pérec,1968-05-09,FRA,12AB34567,A,Athlete,FRA,STA OLV,1 2 8,DIN TA
//! ```
//!
//! `venues`, `zones` and `privileges` hold codes separated by spaces, `|` or `;`. Empty lines
//! are skipped. Each field follows the rules of [`Application::parse`](super::Application::parse).
//!
//! # The report
//!
//! [`import_csv`] never stops at the first bad line and never panics, whatever the bytes: every
//! good line becomes an [`Imported`] application, every bad field of every bad line a
//! [`LineError`] with its line number (1-based, as an editor shows it), its column and a message.
//! Only a bad header refuses the whole file ([`HeaderError`]). Progress is reported through a
//! callback every [`PROGRESS_EVERY`] records, for a progress bar.

use csv::ByteRecord;

use super::{Application, Field, ParseContext};

/// How often (in records) the progress callback runs.
pub const PROGRESS_EVERY: u64 = 10_000;
/// Longest field accepted, in bytes; longer ones are refused without being looked at.
pub const MAX_FIELD_LEN: usize = 256;

/// Why the header line refuses the whole file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// The file has no header line.
    #[error("the file is empty: a header line is required")]
    Empty,
    /// A required column is missing.
    #[error("the header has no `{0}` column")]
    MissingColumn(&'static str),
    /// A column the format does not have.
    #[error("the header has an unknown column `{0}`")]
    UnknownColumn(String),
    /// A column named twice.
    #[error("the header names `{0}` twice")]
    RepeatedColumn(&'static str),
}

/// One problem on one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// 1-based line number where the record starts.
    pub line: u64,
    /// The column, when the problem is one field's.
    pub column: Option<&'static str>,
    /// What is wrong, for people.
    pub message: String,
}

/// A good line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// 1-based line number.
    pub line: u64,
    /// The application.
    pub application: Application,
}

/// The outcome of an import.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Good lines, in file order.
    pub applications: Vec<Imported>,
    /// Problems, in file order (a line may have several).
    pub errors: Vec<LineError>,
    /// Records read after the header (good and bad).
    pub records: u64,
    /// Records refused (each has at least one entry in `errors`).
    pub rejected: u64,
}

/// Where an import stands, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Records read so far.
    pub records: u64,
    /// Bytes read so far.
    pub bytes: u64,
    /// Size of the input.
    pub total_bytes: u64,
}

/// Turns byte offsets into editor line numbers. The csv reader's own count skips newlines inside
/// quoted fields; this one counts every line end, in one pass over the input in total.
struct LineCounter<'a> {
    data: &'a [u8],
    byte: usize,
    line: u64,
}

impl LineCounter<'_> {
    fn at(&mut self, byte: u64) -> u64 {
        let mut byte = usize::try_from(byte).unwrap_or(usize::MAX).min(self.data.len());
        // The reader's position of a record that follows blank lines is the first blank line.
        while matches!(self.data.get(byte), Some(b'\r' | b'\n')) {
            byte += 1;
        }
        if byte > self.byte {
            // `\n`, `\r\n` and a lone `\r` each end a line.
            let chunk = &self.data[self.byte..byte];
            let ends = chunk
                .iter()
                .enumerate()
                .filter(|(i, b)| **b == b'\n' || (**b == b'\r' && self.data.get(self.byte + i + 1) != Some(&b'\n')));
            self.line += ends.count() as u64;
            self.byte = byte;
        }
        self.line
    }
}

fn header_map(header: &ByteRecord) -> Result<[usize; 11], HeaderError> {
    let mut index = [usize::MAX; 11];
    for (i, raw) in header.iter().enumerate() {
        let name = String::from_utf8_lossy(raw);
        let name = name.trim().trim_start_matches('\u{feff}').trim();
        let Some(pos) = Field::ALL.iter().position(|f| f.column().eq_ignore_ascii_case(name)) else {
            return Err(HeaderError::UnknownColumn(name.chars().take(64).collect()));
        };
        if index[pos] != usize::MAX {
            return Err(HeaderError::RepeatedColumn(Field::ALL[pos].column()));
        }
        index[pos] = i;
    }
    if let Some(pos) = index.iter().position(|i| *i == usize::MAX) {
        return Err(HeaderError::MissingColumn(Field::ALL[pos].column()));
    }
    Ok(index)
}

/// Imports a CSV file held in memory (see the module documentation for the format).
pub fn import_csv(
    data: &[u8],
    ctx: &ParseContext<'_>,
    mut progress: impl FnMut(Progress),
) -> Result<ImportReport, HeaderError> {
    let total_bytes = data.len() as u64;
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(data);
    let mut record = ByteRecord::new();
    let header = loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => return Err(HeaderError::Empty),
            // Reading from a slice has no I/O errors, and flexible records have no length errors.
            Ok(true) | Err(_) if record.iter().all(<[u8]>::is_empty) => continue,
            Ok(true) | Err(_) => break header_map(&record)?,
        }
    };
    let mut report = ImportReport::default();
    let mut lines = LineCounter { data, byte: 0, line: 1 };
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = lines.at(e.position().map_or(0, csv::Position::byte));
                report.records += 1;
                report.rejected += 1;
                report.errors.push(LineError { line, column: None, message: format!("unreadable line: {e}") });
                continue;
            }
        }
        let line = lines.at(record.position().map_or(0, csv::Position::byte));
        if record.len() == 1 && record[0].is_empty() {
            continue;
        }
        report.records += 1;
        check_record(&record, line, &header, ctx, &mut report);
        if report.records % PROGRESS_EVERY == 0 {
            progress(Progress { records: report.records, bytes: reader.position().byte(), total_bytes });
        }
    }
    progress(Progress { records: report.records, bytes: total_bytes, total_bytes });
    Ok(report)
}

fn check_record(
    record: &ByteRecord,
    line: u64,
    header: &[usize; 11],
    ctx: &ParseContext<'_>,
    report: &mut ImportReport,
) {
    if record.len() != header.len() {
        report.rejected += 1;
        report.errors.push(LineError {
            line,
            column: None,
            message: format!("expected {} columns, found {}", header.len(), record.len()),
        });
        return;
    }
    let mut fields = [""; 11];
    let mut bad = false;
    for (slot, (field, &i)) in fields.iter_mut().zip(Field::ALL.iter().zip(header)) {
        let bytes = &record[i];
        if bytes.len() > MAX_FIELD_LEN {
            bad = true;
            let message = format!("longer than {MAX_FIELD_LEN} bytes");
            report.errors.push(LineError { line, column: Some(field.column()), message });
            continue;
        }
        match std::str::from_utf8(bytes) {
            Ok(s) => *slot = s,
            Err(_) => {
                bad = true;
                let message = "not valid UTF-8".to_owned();
                report.errors.push(LineError { line, column: Some(field.column()), message });
            }
        }
    }
    if bad {
        report.rejected += 1;
        return;
    }
    match Application::parse_fields(fields, ctx) {
        Ok(application) => report.applications.push(Imported { line, application }),
        Err(e) => {
            report.rejected += 1;
            report.errors.extend(e.errors.into_iter().map(|f| LineError {
                line,
                column: Some(f.field.column()),
                message: f.message,
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::application::tests::ctx;
    use crate::matrix::AccessMatrix;
    use proptest::prelude::*;

    const HEADER: &str = "given_name,family_name,date_of_birth,nationality,document_number,category,function,organisation,venues,zones,privileges\n";

    fn good_line(i: usize) -> String {
        format!(
            "Person{},Family {},1990-01-{:02},FRA,DOC{i:06},E,Journalist,AFP,STA MPC,4 9,TM\n",
            letters(i),
            letters(i / 7),
            1 + i % 28
        )
    }

    fn letters(mut i: usize) -> String {
        let mut s = String::new();
        loop {
            s.push(char::from(b'a' + (i % 26) as u8));
            i /= 26;
            if i == 0 {
                return s;
            }
        }
    }

    #[test]
    fn thousands_of_lines_with_every_bad_line_reported() {
        let m = AccessMatrix::demo_default();
        let mut csv = String::from("\u{feff}");
        csv.push_str(HEADER);
        let mut expected_bad = Vec::new();
        for i in 0..3000 {
            let line = i + 2;
            match i % 500 {
                7 => {
                    csv.push_str("Bad,Line,1990-01-01,FRA,D1,E,Journalist,AFP,STA,1,TM\n");
                    expected_bad.push(line);
                }
                11 => {
                    csv.push_str("too,few,columns\n");
                    expected_bad.push(line);
                }
                _ => csv.push_str(&good_line(i)),
            }
        }
        let mut calls = Vec::new();
        let report = import_csv(csv.as_bytes(), &ctx(&m), |p| calls.push(p)).unwrap();
        assert_eq!(report.records, 3000);
        assert_eq!(report.applications.len(), 3000 - expected_bad.len());
        let mut bad: Vec<u64> = report.errors.iter().map(|e| e.line).collect();
        bad.dedup();
        assert_eq!(bad, expected_bad.iter().map(|l| *l as u64).collect::<Vec<_>>());
        assert_eq!(report.rejected, expected_bad.len() as u64);
        // "D1" is too short and zone 1 is outside press access: both are reported for line 9.
        let line9: Vec<_> = report.errors.iter().filter(|e| e.line == 9).map(|e| e.column).collect();
        assert_eq!(line9, [Some("document_number"), Some("zones")]);
        assert_eq!(report.applications[0].line, 2);
        assert_eq!(calls.last().map(|p| (p.records, p.bytes)), Some((3000, csv.len() as u64)));
    }

    #[test]
    fn quoted_fields_and_column_order_are_handled() {
        let m = AccessMatrix::demo_default();
        let csv = "Family_Name , given_name,date_of_birth,nationality,document_number,category,function,organisation,venues,zones,privileges\n\
                   \"Pérec, jr\",\"Marie\nJosé\",1968-05-09,FRA,12AB34567,A,Athlete,FRA,\"STA,OLV\",1,DIN\n\n\
                   Smith,Ann,1980-01-01,GBR,GB123456,A,Athlete,GBR,STA,1,DIN\n";
        let r = import_csv(csv.as_bytes(), &ctx(&m), |_| {}).unwrap();
        // The comma inside the quoted venues is not a separator the list accepts.
        assert_eq!(r.errors.len(), 2, "{:?}", r.errors);
        assert_eq!(r.errors[0].column, Some("family_name"));
        assert_eq!(r.errors[1].column, Some("venues"));
        assert_eq!(r.errors[0].line, 2);
        assert_eq!(r.applications.len(), 1);
        assert_eq!(r.applications[0].line, 5);
    }

    #[test]
    fn a_bad_header_refuses_the_file() {
        let m = AccessMatrix::demo_default();
        let c = ctx(&m);
        assert_eq!(import_csv(b"", &c, |_| {}), Err(HeaderError::Empty));
        assert_eq!(import_csv(b"\n\n", &c, |_| {}), Err(HeaderError::Empty));
        let missing = HEADER.replace(",privileges", "");
        assert_eq!(import_csv(missing.as_bytes(), &c, |_| {}), Err(HeaderError::MissingColumn("privileges")));
        let extra = HEADER.replace("\n", ",shoe_size\n");
        assert_eq!(import_csv(extra.as_bytes(), &c, |_| {}), Err(HeaderError::UnknownColumn("shoe_size".into())));
        let twice = HEADER.replace("venues", "zones");
        assert_eq!(import_csv(twice.as_bytes(), &c, |_| {}), Err(HeaderError::RepeatedColumn("zones")));
    }

    #[test]
    fn invalid_utf8_and_huge_fields_are_line_errors() {
        let m = AccessMatrix::demo_default();
        let mut csv = HEADER.as_bytes().to_vec();
        csv.extend_from_slice(b"\xff\xfe,Family,1990-01-01,FRA,DOC12345,E,J,AFP,STA,4,TM\n");
        csv.extend_from_slice(format!("A,{},1990-01-01,FRA,DOC12345,E,J,AFP,STA,4,TM\n", "x".repeat(300)).as_bytes());
        let r = import_csv(&csv, &ctx(&m), |_| {}).unwrap();
        assert_eq!(r.errors.len(), 2);
        assert_eq!((r.errors[0].line, r.errors[0].column), (2, Some("given_name")));
        assert_eq!((r.errors[1].line, r.errors[1].column), (3, Some("family_name")));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// Any bytes after a valid header: no panic, and every record is either imported or
        /// has at least one error.
        #[test]
        fn never_panics_and_accounts_for_every_record(body in proptest::collection::vec(any::<u8>(), 0..2000)) {
            let m = AccessMatrix::demo_default();
            let mut csv = HEADER.as_bytes().to_vec();
            csv.extend_from_slice(&body);
            let r = import_csv(&csv, &ctx(&m), |_| {}).unwrap();
            prop_assert_eq!(r.applications.len() as u64 + r.rejected, r.records);
            prop_assert!(r.errors.len() as u64 >= r.rejected);
        }

        /// Lines built from plausible pieces, shuffled with garbage: still accounted for.
        #[test]
        fn mixed_lines_are_accounted_for(lines in proptest::collection::vec(
            prop_oneof![Just(good_line(3)), "[a-zA-Z0-9,\" \\n;|-]{0,80}"], 0..50)) {
            let m = AccessMatrix::demo_default();
            let csv = format!("{HEADER}{}", lines.concat());
            let r = import_csv(csv.as_bytes(), &ctx(&m), |_| {}).unwrap();
            prop_assert_eq!(r.applications.len() as u64 + r.rejected, r.records);
            prop_assert!(r.errors.len() as u64 >= r.rejected);
        }

        /// Whatever the bytes, including as the header, no panic.
        #[test]
        fn arbitrary_files_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600)) {
            let m = AccessMatrix::demo_default();
            let _ = import_csv(&data, &ctx(&m), |_| {});
        }
    }
}
