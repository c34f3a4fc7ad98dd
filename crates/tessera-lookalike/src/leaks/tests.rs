use proptest::prelude::*;

use super::*;

/// SHA-1("password"), HIBP's own example: prefix 5BAA6.
const PASSWORD_SHA1: &str = "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8";

fn h(hex40: &str) -> Sha1Hash {
    hash_from_hex(hex40).unwrap()
}

fn key() -> PaddingKey {
    PaddingKey::new([7; 32])
}

#[test]
fn dump_lines_keep_the_hash_not_the_password() {
    let leak = parse_dump_line(" Alice@Example.COM :password\r\n").unwrap();
    assert_eq!(leak.email.as_str(), "alice@example.com");
    assert_eq!(leak.sha1, h(PASSWORD_SHA1));
    // A password may hold ':'.
    let leak = parse_dump_line("bob@example.org:a:b").unwrap();
    assert_eq!(leak.sha1, sha1_of(b"a:b"));
    assert_eq!(parse_dump_line("nobody"), Err(LeakError::NoSeparator));
    assert_eq!(parse_dump_line("x@y.z:"), Err(LeakError::EmptyPassword));
    assert_eq!(parse_dump_line("not-an-email:pw"), Err(LeakError::BadEmail));
    assert_eq!(parse_dump_line("a b@c.de:pw"), Err(LeakError::BadEmail));
    assert_eq!(parse_dump_line("@c.de:pw"), Err(LeakError::BadEmail));
    assert_eq!(parse_dump_line("a@localhost:pw"), Err(LeakError::BadEmail));
}

#[test]
fn the_wiping_parser_empties_the_buffer() {
    let mut line = String::from("carol@example.net:hunter2");
    let leak = parse_dump_line_wiping(&mut line).unwrap();
    assert_eq!(leak.sha1, sha1_of(b"hunter2"));
    assert!(line.is_empty());
    let mut bad = String::from("garbage hunter2");
    assert!(parse_dump_line_wiping(&mut bad).is_err());
    assert!(bad.is_empty());
    // The hash is the only trace of the password in what comes back.
    let debug = format!("{leak:?}");
    assert!(!debug.contains("hunter2"));
}

#[test]
fn hibp_range_and_hash_lines() {
    let prefix = Prefix::from_file_name("ranges/5baa6.txt").unwrap();
    assert_eq!(prefix.to_string(), "5BAA6");
    let (hash, count) = parse_range_line(prefix, "1E4C9B93F3F0682250B6CF8331B7EE68FD8:10434004\r").unwrap();
    assert_eq!((hash, count), (h(PASSWORD_SHA1), 10_434_004));
    assert_eq!(Prefix::of(&hash), prefix);
    assert_eq!(parse_range_line(prefix, "1E4C9B93F3F0682250B6CF8331B7EE68FD:1"), Err(LeakError::BadHash));
    assert_eq!(parse_range_line(prefix, "1E4C9B93F3F0682250B6CF8331B7EE68FD8:many"), Err(LeakError::BadCount));
    assert_eq!(parse_hash_line("5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8").unwrap(), (h(PASSWORD_SHA1), 1));
    assert_eq!(parse_hash_line("ZBAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:3"), Err(LeakError::BadHash));
}

#[test]
fn prefixes_are_refused_unless_five_hex_digits() {
    assert_eq!(Prefix::parse("5BAA"), Err(RangeError::WrongLength(4)));
    assert_eq!(Prefix::parse("5BAA6F"), Err(RangeError::WrongLength(6)));
    assert_eq!(Prefix::parse("5BAG6"), Err(RangeError::NotHex));
    assert_eq!(Prefix::parse("+BAA6"), Err(RangeError::NotHex));
    assert_eq!(Prefix::parse("5baa6"), Prefix::parse("5BAA6"));
    let set = LeakedSet::from_hashes([]);
    assert_eq!(set.range("xyz", &key()), Err(RangeError::WrongLength(3)));
}

#[test]
fn membership_merges_duplicates_and_skips_padding() {
    let mut b = LeakedSetBuilder::with_capacity(4);
    b.push(sha1_of(b"password"), 2);
    b.push(sha1_of(b"password"), 3);
    b.push(sha1_of(b"123456"), 1);
    b.push(sha1_of(b"padding"), 0);
    assert_eq!(b.len(), 3);
    let set = b.build();
    assert_eq!(set.len(), 2);
    assert_eq!(set.count(&sha1_of(b"password")), Some(5));
    assert!(set.contains_password(b"123456"));
    assert!(!set.contains_password(b"padding"));
    assert!(!set.contains_password(b"correct horse battery staple"));
}

#[test]
fn range_answers_are_padded_sorted_and_reproducible() {
    let set = LeakedSet::from_hashes([(h(PASSWORD_SHA1), 42), (sha1_of(b"x"), 1)]);
    let lines = set.range("5baa6", &key()).unwrap();
    assert_eq!(lines.len(), RANGE_MIN_LINES);
    assert!(lines.windows(2).all(|w| w[0] < w[1]), "sorted, no duplicate");
    assert!(lines.iter().all(|l| {
        let (s, c) = l.split_once(':').unwrap();
        s.len() == 35 && s.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_lowercase()) && c.parse::<u64>().is_ok()
    }));
    assert_eq!(lines.iter().filter(|l| !l.ends_with(":0")).count(), 1);
    assert_eq!(find_in_range(&lines, &h(PASSWORD_SHA1)), Some(42));
    assert_eq!(find_in_range(&lines, &sha1_of(b"not leaked")), None);
    // Same key, same answer; another key, other fakes; an empty prefix, the same size.
    assert_eq!(lines, set.range("5BAA6", &key()).unwrap());
    assert_ne!(lines, set.range("5BAA6", &PaddingKey::new([8; 32])).unwrap());
    let empty = set.range("00000", &key()).unwrap();
    assert_eq!(empty.len(), RANGE_MIN_LINES);
    assert!(empty.iter().all(|l| l.ends_with(":0")));
}

#[test]
fn a_prefix_with_more_real_hashes_than_the_padding_keeps_them_all() {
    // 1,200 hashes sharing one prefix: every one is answered, none is dropped.
    let hashes: Vec<(Sha1Hash, u64)> = (0u32..1200)
        .map(|i| {
            let mut hash = h(PASSWORD_SHA1);
            hash[16..].copy_from_slice(&i.to_be_bytes());
            (hash, 1)
        })
        .collect();
    let set = LeakedSet::from_hashes(hashes.clone());
    let lines = set.range("5BAA6", &key()).unwrap();
    assert_eq!(lines.len(), 1200);
    assert!(hashes.iter().all(|(hash, _)| set.contains(hash)));
}

proptest! {
    #[test]
    fn parsers_never_panic(s in "\\PC{0,120}") {
        let _ = parse_dump_line(&s);
        let _ = parse_hash_line(&s);
        let _ = Prefix::parse(&s);
        let _ = Prefix::from_file_name(&s);
        if let Ok(p) = Prefix::parse("5BAA6") {
            let _ = parse_range_line(p, &s);
        }
    }

}

proptest! {
    // Each case builds a 4 MiB prefix index: fewer cases keep the suite fast.
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn the_set_finds_exactly_what_it_holds(
        held in proptest::collection::vec(any::<[u8; 20]>(), 0..300),
        probe in any::<[u8; 20]>(),
    ) {
        let set = LeakedSet::from_hashes(held.iter().map(|h| (*h, 1)));
        for hash in &held {
            prop_assert!(set.contains(hash));
        }
        // And the range answer for a held hash's prefix carries it.
        if let Some(hash) = held.first() {
            let lines = set.range_of(Prefix::of(hash), &key());
            prop_assert!(find_in_range(&lines, hash).is_some());
        }
        prop_assert_eq!(set.contains(&probe), held.contains(&probe));
    }
}
