use super::*;
use proptest::prelude::*;

const GOOD: &str = "\
# Two venues, three sessions.
venue,STF,Stade de France,Saint-Denis,77000,Gate A;Gate B;Gate C
venue, LDA , Paris La Défense Arena ,Nanterre,15000, Gate A ; Gate B

session,ATH05,Athletics,\"Finals, evening\",STF,2024-08-04T19:00:00+02:00,2024-08-04T22:00:00+02:00,no
session,CER02,Ceremonies,\"The \"\"Closing\"\" Ceremony\",STF,2024-08-11T21:00:00+02:00,2024-08-11T23:45:00+02:00,YES
category,ATH05,CAT-A,Category A,98000,20000
category,ATH05,CAT-B,Category B,2400,50000
category,CER02,CAT-A,Category A,160000,70000
# Categories may come before their session.
category,SWM01,CAT-A,Category A,9000,15000
session,SWM01,Swimming,Heats,LDA,2024-07-27T11:00:00+02:00,2024-07-27T13:30:00+02:00,false
";

const VENUE: &str = "venue,STF,Stade de France,Saint-Denis,77000,Gate A;Gate B";
const SESSION: &str = "session,ATH05,Athletics,Finals,STF,2024-08-04T19:00:00+02:00,\
                       2024-08-04T22:00:00+02:00,no";
const CATEGORY: &str = "category,ATH05,CAT-A,Category A,9800,1000";

fn code(s: &str) -> Code {
    Code::parse(s).unwrap()
}

fn errors(lines: &[&str]) -> Vec<ImportError> {
    match parse(&lines.join("\n")) {
        Ok(c) => panic!("parsed, expected errors: {c:?}"),
        Err(e) => e.0,
    }
}

/// The one error of a file that has exactly one, as (line, field, message).
fn only_error(lines: &[&str]) -> (u64, &'static str, String) {
    let errs = errors(lines);
    assert_eq!(errs.len(), 1, "expected one error, got {errs:#?}");
    let e = errs.into_iter().next().unwrap();
    (e.line, e.field, e.message)
}

#[test]
fn good_example_parses() {
    let cat = parse(GOOD).unwrap();
    let venues: Vec<&str> = cat.venues.iter().map(|v| v.code.as_str()).collect();
    assert_eq!(venues, ["STF", "LDA"]);
    let sessions: Vec<&str> = cat.sessions.iter().map(|s| s.code.as_str()).collect();
    assert_eq!(sessions, ["ATH05", "CER02", "SWM01"]);
    assert_eq!(cat.categories.len(), 4);
    assert_eq!(cat.categories[3].session, code("SWM01"));

    let lda = &cat.venues[1];
    assert_eq!(lda.name, "Paris La Défense Arena");
    assert_eq!(lda.zones, ["Gate A", "Gate B"]);
    assert_eq!(lda.capacity, 15000);

    let ath = &cat.sessions[0];
    assert_eq!(ath.title, "Finals, evening");
    assert_eq!(ath.starts_at, Timestamp::parse_rfc3339("2024-08-04T17:00:00Z").unwrap());
    assert_eq!(ath.ends_at.0 - ath.starts_at.0, 3 * 3600);
    assert!(!ath.ceremony);
    assert_eq!(cat.sessions[1].title, "The \"Closing\" Ceremony");
    assert!(cat.sessions[1].ceremony);
    assert!(!cat.sessions[2].ceremony);

    assert_eq!(cat.categories[0].price, Cents(98000));
    assert_eq!(cat.categories[1].quota, 50000);
    assert_eq!(cat.total_seats(), 155_000);
}

#[test]
fn blank_lines_comments_crlf_and_bom_are_accepted() {
    let input = format!("\u{feff}#c\r\n\r\n  # indented comment\r\n{VENUE}\r\n,,,\r\n{SESSION}\r\n{CATEGORY}");
    let cat = parse(&input).unwrap();
    assert_eq!(cat.sessions.len(), 1);
    // Line numbers count the skipped lines too.
    let input = format!("#c\r\n\r\n{VENUE}\r\n\r\n{SESSION}\r\n# x\r\ncategory,ATH05,CAT-A,A,1,-5\r\n");
    let errs = parse(&input).unwrap_err().0;
    assert_eq!((errs[0].line, errs[0].field), (7, "quota"));
}

#[test]
fn line_numbers_count_every_line() {
    let bad = "bogus,1";
    let input = format!("# c\n\n{bad}\r\n\r\n# c\r\n{bad}\r{bad}\r\r{VENUE}\n\"multi\nline\",x\n{bad}\n# end");
    let lines: Vec<u64> = parse(&input).unwrap_err().0.iter().map(|e| e.line).collect();
    assert_eq!(lines, [3, 6, 7, 10, 12]);
}

/// Lines as editors count them: LF, CRLF and lone CR each end one.
fn line_count(s: &str) -> u64 {
    1 + s.replace("\r\n", "\n").chars().filter(|&c| c == '\n' || c == '\r').count() as u64
}

#[test]
fn error_display() {
    let e = parse(&[VENUE, SESSION, "category,ATH05,CAT-A,Category A,9800,-5"].join("\n")).unwrap_err();
    assert_eq!(e.to_string(), "line 3, field quota: must be a positive whole number, got \"-5\"");
    let two = ImportErrors(vec![e.0[0].clone(), e.0[0].clone()]);
    assert_eq!(two.to_string().lines().count(), 2);
}

#[test]
fn wrong_field_count() {
    let (line, field, msg) = only_error(&[VENUE, SESSION, CATEGORY, "category,ATH05,CAT-B,B,10"]);
    assert_eq!((line, field), (4, "record"));
    assert!(msg.contains("6 fields") && msg.contains("got 5"), "{msg}");
    let (line, field, _) = only_error(&["venue", VENUE, SESSION, CATEGORY]);
    assert_eq!((line, field), (1, "record"));
}

#[test]
fn unknown_kind() {
    let (line, field, msg) = only_error(&[VENUE, "seat,1,2", SESSION, CATEGORY]);
    assert_eq!((line, field), (2, "kind"));
    assert!(msg.contains("\"seat\""), "{msg}");
}

#[test]
fn bad_code() {
    let (line, field, _) = only_error(&[VENUE, SESSION, "category,ATH05,A,Category A,9800,1000"]);
    assert_eq!((line, field), (3, "code"));
    let (line, field, _) =
        only_error(&["venue,stf,Stade de France,Saint-Denis,77000,Gate A", "venue,LDA,Arena,Nanterre,15000,Gate A"]);
    assert_eq!((line, field), (1, "code"));
}

#[test]
fn bad_text() {
    let (line, field, msg) = only_error(&[VENUE.replace("Stade de France", " ").as_str(), SESSION, CATEGORY]);
    assert_eq!((line, field, msg.as_str()), (1, "name", "must not be empty"));
    let long = "x".repeat(MAX_TEXT_CHARS + 1);
    let (line, field, _) = only_error(&[VENUE.replace("Saint-Denis", &long).as_str(), SESSION, CATEGORY]);
    assert_eq!((line, field), (1, "city"));
    let ok = "é".repeat(MAX_TEXT_CHARS);
    assert!(parse(&[VENUE.replace("Saint-Denis", &ok).as_str(), SESSION, CATEGORY].join("\n")).is_ok());
    let tab = SESSION.replace("Athletics", "Athle\ttics");
    let (line, field, _) = only_error(&[VENUE, &tab, CATEGORY]);
    assert_eq!((line, field), (2, "sport"));
    let newline = SESSION.replace("Finals", "\"Fi\nnals\"");
    let (line, field, _) = only_error(&[VENUE, &newline, CATEGORY]);
    assert_eq!((line, field), (2, "title"));
    let (line, field, _) = only_error(&[VENUE, SESSION, &CATEGORY.replace("Category A", "")]);
    assert_eq!((line, field), (3, "name"));
}

#[test]
fn bad_capacity() {
    for bad in ["0", "-3", "1000001", "12.5", "lots", "99999999999999999999999"] {
        let venue = VENUE.replace("77000", bad);
        let (line, field, _) = only_error(&[&venue, SESSION, CATEGORY]);
        assert_eq!((line, field), (1, "capacity"), "{bad}");
    }
}

#[test]
fn bad_zones() {
    for bad in ["", " ", "Gate A;", "Gate A; ;Gate B"] {
        let venue = VENUE.replace("Gate A;Gate B", bad);
        let (line, field, _) = only_error(&[&venue, SESSION, CATEGORY]);
        assert_eq!((line, field), (1, "zones"), "{bad:?}");
    }
}

#[test]
fn bad_date_times() {
    let s = SESSION.replace("2024-08-04T19:00:00+02:00", "2024-08-04 19:00");
    assert_eq!(only_error(&[VENUE, &s, CATEGORY]).1, "starts_at");
    let s = SESSION.replace("2024-08-04T22:00:00+02:00", "tomorrow");
    assert_eq!(only_error(&[VENUE, &s, CATEGORY]).1, "ends_at");
    let s = SESSION.replace("2024-08-04T19:00:00+02:00", "0000-01-01T00:00:00+01:00");
    assert_eq!(only_error(&[VENUE, &s, CATEGORY]).1, "starts_at");
}

#[test]
fn session_must_end_after_it_starts_and_within_a_day() {
    let s = SESSION.replace("22:00:00+02:00", "19:00:00+02:00");
    let (line, field, _) = only_error(&[VENUE, &s, CATEGORY]);
    assert_eq!((line, field), (2, "ends_at"));
    let s = SESSION.replace("2024-08-04T22:00:00+02:00", "2024-08-05T19:00:01+02:00");
    let (line, field, msg) = only_error(&[VENUE, &s, CATEGORY]);
    assert_eq!((line, field), (2, "ends_at"));
    assert!(msg.contains("24 hours"), "{msg}");
    let s = SESSION.replace("2024-08-04T22:00:00+02:00", "2024-08-05T19:00:00+02:00");
    assert!(parse(&[VENUE, &s, CATEGORY].join("\n")).is_ok());
}

#[test]
fn bad_ceremony() {
    let s = SESSION.replace(",no", ",maybe");
    let (line, field, _) = only_error(&[VENUE, &s, CATEGORY]);
    assert_eq!((line, field), (2, "ceremony"));
}

#[test]
fn bad_price() {
    for bad in ["-1", "24.00", "10000001", ""] {
        let c = CATEGORY.replace("9800", bad);
        let (line, field, _) = only_error(&[VENUE, SESSION, &c]);
        assert_eq!((line, field), (3, "price_cents"), "{bad:?}");
    }
    assert!(parse(&[VENUE, SESSION, &CATEGORY.replace("9800", "0")].join("\n")).is_ok());
}

#[test]
fn bad_quota() {
    for bad in ["0", "-5", "1000001", "1e3"] {
        let c = CATEGORY.replace("1000", bad);
        let (line, field, _) = only_error(&[VENUE, SESSION, &c]);
        assert_eq!((line, field), (3, "quota"), "{bad:?}");
    }
}

#[test]
fn duplicate_venue() {
    let (line, field, msg) = only_error(&[VENUE, SESSION, VENUE, CATEGORY]);
    assert_eq!((line, field), (3, "code"));
    assert!(msg.contains("line 1"), "{msg}");
}

#[test]
fn duplicate_session() {
    let (line, field, msg) = only_error(&[VENUE, SESSION, CATEGORY, SESSION]);
    assert_eq!((line, field), (4, "code"));
    assert!(msg.contains("line 2"), "{msg}");
}

#[test]
fn duplicate_category() {
    let (line, field, msg) = only_error(&[VENUE, CATEGORY, SESSION, CATEGORY]);
    assert_eq!((line, field), (4, "code"));
    assert!(msg.contains("line 2"), "{msg}");
    // The same category code in another session is fine.
    let other = SESSION.replace("ATH05", "ATH06");
    let other_cat = CATEGORY.replace("ATH05", "ATH06");
    assert!(parse(&[VENUE, SESSION, CATEGORY, &other, &other_cat].join("\n")).is_ok());
}

#[test]
fn unknown_venue() {
    let s = SESSION.replace(",STF,", ",LDA,");
    let (line, field, msg) = only_error(&[VENUE, &s, CATEGORY]);
    assert_eq!((line, field), (2, "venue"));
    assert!(msg.contains("LDA"), "{msg}");
}

#[test]
fn unknown_session() {
    let c = CATEGORY.replace("ATH05", "ATH99");
    let (line, field, _) = only_error(&[VENUE, SESSION, CATEGORY, &c]);
    assert_eq!((line, field), (4, "session"));
}

#[test]
fn quotas_must_fit_the_venue() {
    let a = CATEGORY.replace("1000", "70000");
    let b = CATEGORY.replace("CAT-A", "CAT-B").replace("1000", "7001");
    let (line, field, msg) = only_error(&[&b, VENUE, &a, SESSION]);
    assert_eq!((line, field), (4, "quota"));
    assert!(msg.contains("77001") && msg.contains("77000"), "{msg}");
    let b = CATEGORY.replace("CAT-A", "CAT-B").replace("1000", "7000");
    assert!(parse(&[&b, VENUE, &a, SESSION].join("\n")).is_ok());
}

#[test]
fn session_needs_a_category() {
    let (line, field, _) = only_error(&[VENUE, SESSION]);
    assert_eq!((line, field), (2, "code"));
}

#[test]
fn one_bad_field_does_not_cascade() {
    // The venue's capacity and the category's price are wrong, but the session still has
    // a known venue and a category: one error each, nothing more.
    let v = VENUE.replace("77000", "x");
    let c = CATEGORY.replace("9800", "x");
    let errs = errors(&[&v, SESSION, &c]);
    let got: Vec<_> = errs.iter().map(|e| (e.line, e.field)).collect();
    assert_eq!(got, [(1, "capacity"), (3, "price_cents")]);
}

#[test]
fn many_errors_are_all_reported_up_to_the_cap() {
    let mut lines = vec![VENUE, SESSION, CATEGORY];
    lines.extend(std::iter::repeat_n("bogus,1", 40));
    let errs = errors(&lines);
    assert_eq!(errs.len(), 40);
    assert!(errs.iter().zip(4..).all(|(e, l)| e.line == l && e.field == "kind"));

    let lines = vec!["bogus"; MAX_ERRORS + 50];
    let errs = errors(&lines);
    assert_eq!(errs.len(), MAX_ERRORS);
    assert_eq!(errs.last().unwrap().line, MAX_ERRORS as u64);
}

#[test]
fn errors_are_in_line_order() {
    let s = SESSION.replace(",STF,", ",XXX,");
    let errs = errors(&[VENUE, &s, "category,ATH05,CAT-A,A,1,0", "bogus"]);
    let lines: Vec<_> = errs.iter().map(|e| e.line).collect();
    assert_eq!(lines, [2, 3, 4]);
}

#[test]
fn too_large_input_is_one_error() {
    let big = " ".repeat(MAX_INPUT_BYTES + 1);
    let errs = parse(&big).unwrap_err().0;
    assert_eq!(errs.len(), 1);
    assert_eq!((errs[0].line, errs[0].field), (0, "record"));
}

#[test]
fn too_many_records_is_one_error() {
    let mut input = String::new();
    for i in 0..=MAX_RECORDS {
        input.push_str(&format!("venue,V{i},Venue,City,10,Gate A\n"));
    }
    let errs = parse(&input).unwrap_err().0;
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].field, "record");
    assert_eq!(errs[0].line, MAX_RECORDS as u64 + 1);
}

#[test]
fn demo_round_trips() {
    let cat = super::super::demo::generate(7);
    let text = to_csv(&cat);
    assert!(text.starts_with("# Tessera catalogue"));
    assert_eq!(parse(&text), Ok(cat));
}

#[test]
fn documented_example_parses() {
    // Keeps the example in the format's documentation honest.
    let doc = include_str!("../../../../../docs/catalogue-format.md");
    let start = doc.find("```csv\n").expect("an example") + "```csv\n".len();
    let example = &doc[start..][..doc[start..].find("```").expect("its end")];
    let cat = parse(example).unwrap();
    assert_eq!((cat.venues.len(), cat.sessions.len(), cat.categories.len()), (2, 3, 10));
    assert!(cat.sessions[1].ceremony);
}

#[test]
fn good_example_round_trips() {
    let cat = parse(GOOD).unwrap();
    assert_eq!(parse(&to_csv(&cat)), Ok(cat));
}

/// Characters that matter to the format, so that mutations hit the interesting paths.
fn edit_char() -> impl Strategy<Value = char> {
    prop_oneof![
        any::<char>(),
        prop::sample::select(vec![',', '"', '\n', '\r', ';', '#', '-', ' ', '0', '9', ':', 'T', 'Z', '\t']),
    ]
}

proptest! {
    #[test]
    fn arbitrary_strings_never_panic(s in any::<String>()) {
        let _ = parse(&s);
    }

    #[test]
    fn csv_like_strings_never_panic(s in "[venuesioncatgry,;\"#\n\r 0-9A-Z:+T-]{0,400}") {
        if let Err(errs) = parse(&s) {
            let last = line_count(&s);
            prop_assert!(errs.0.iter().all(|e| (1..=last).contains(&e.line)), "{errs}");
        }
    }

    #[test]
    fn mutated_files_never_panic_and_what_parses_round_trips(
        edits in prop::collection::vec((0u8..3, any::<prop::sample::Index>(), edit_char()), 1..12)
    ) {
        let mut text: Vec<char> = GOOD.chars().collect();
        for (op, at, c) in edits {
            match op {
                0 if !text.is_empty() => { text.remove(at.index(text.len())); }
                1 => text.insert(at.index(text.len() + 1), c),
                _ if !text.is_empty() => { let i = at.index(text.len()); text[i] = c; }
                _ => {}
            }
        }
        let text: String = text.into_iter().collect();
        match parse(&text) {
            Ok(cat) => prop_assert_eq!(parse(&to_csv(&cat)), Ok(cat)),
            Err(errs) => {
                prop_assert!(!errs.0.is_empty() && errs.0.len() <= MAX_ERRORS);
                let last = line_count(&text);
                prop_assert!(errs.0.iter().all(|e| (1..=last).contains(&e.line)), "{errs}");
                prop_assert!(errs.0.windows(2).all(|w| w[0].line <= w[1].line));
            }
        }
    }
}
