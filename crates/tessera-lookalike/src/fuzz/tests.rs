use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

fn without_lists() -> FuzzOptions {
    FuzzOptions { dictionary: vec![], tlds: vec![] }
}

fn counts(domain: &str, options: &FuzzOptions) -> BTreeMap<&'static str, usize> {
    let mut counts = BTreeMap::new();
    for c in fuzz(domain, options).unwrap() {
        *counts.entry(c.class.as_str()).or_default() += 1;
    }
    counts
}

/// Per-class counts measured with dnstwist 20250130's own `Fuzzer` (no word or TLD list, the
/// original left out): the reimplementation must make exactly as many names per fuzzer.
#[test]
fn class_counts_match_dnstwist() {
    let expected: [(&str, &[(&str, usize)]); 5] = [
        (
            "paris2024.org",
            &[
                ("addition", 36),
                ("bitsquatting", 42),
                ("homoglyph", 1546),
                ("hyphenation", 8),
                ("insertion", 88),
                ("omission", 9),
                ("plural", 5),
                ("repetition", 7),
                ("replacement", 40),
                ("subdomain", 7),
                ("transposition", 8),
                ("various", 3),
                ("vowel-swap", 3),
            ],
        ),
        (
            "olympics.com",
            &[
                ("addition", 36),
                ("bitsquatting", 37),
                ("cyrillic", 1),
                ("homoglyph", 2842),
                ("hyphenation", 7),
                ("insertion", 69),
                ("omission", 8),
                ("plural", 3),
                ("repetition", 3),
                ("replacement", 36),
                ("subdomain", 6),
                ("transposition", 7),
                ("various", 1),
                ("vowel-swap", 4),
            ],
        ),
        (
            "tickets.paris2024.org",
            &[
                ("addition", 36),
                ("bitsquatting", 42),
                ("homoglyph", 1546),
                ("hyphenation", 8),
                ("insertion", 88),
                ("omission", 9),
                ("plural", 5),
                ("repetition", 7),
                ("replacement", 40),
                ("subdomain", 7),
                ("transposition", 8),
                ("various", 5),
                ("vowel-swap", 3),
            ],
        ),
        (
            "my-brand.co.uk",
            &[
                ("addition", 72),
                ("bitsquatting", 31),
                ("homoglyph", 68),
                ("hyphenation", 6),
                ("insertion", 59),
                ("omission", 8),
                ("plural", 2),
                ("repetition", 3),
                ("replacement", 33),
                ("subdomain", 4),
                ("transposition", 7),
                ("various", 2),
                ("vowel-swap", 2),
            ],
        ),
        (
            "jo2024.fr",
            &[
                ("addition", 36),
                ("bitsquatting", 26),
                ("homoglyph", 18),
                ("hyphenation", 5),
                ("insertion", 52),
                ("omission", 6),
                ("plural", 2),
                ("repetition", 5),
                ("replacement", 21),
                ("subdomain", 4),
                ("transposition", 5),
                ("various", 3),
                ("vowel-swap", 3),
            ],
        ),
    ];
    for (domain, want) in expected {
        let want: BTreeMap<&str, usize> = want.iter().copied().collect();
        assert_eq!(counts(domain, &without_lists()), want, "{domain}");
    }
}

#[test]
fn examples_of_each_class() {
    let all = fuzz("paris2024.org", &FuzzOptions::default()).unwrap();
    let has = |class: FuzzClass, ascii: &str| all.iter().any(|c| c.class == class && c.ascii == ascii);
    assert!(has(FuzzClass::Addition, "paris2024x.org"));
    assert!(has(FuzzClass::Bitsquatting, "parhs2024.org"));
    assert!(has(FuzzClass::Homoglyph, "parls2024.org"));
    assert!(has(FuzzClass::Hyphenation, "paris-2024.org"));
    assert!(has(FuzzClass::Insertion, "pariws2024.org"));
    assert!(has(FuzzClass::Omission, "pari2024.org"));
    assert!(has(FuzzClass::Plural, "pariss2024.org"));
    assert!(has(FuzzClass::Repetition, "parris2024.org"));
    assert!(has(FuzzClass::Replacement, "psris2024.org"));
    assert!(has(FuzzClass::Subdomain, "par.is2024.org"));
    assert!(has(FuzzClass::Transposition, "apris2024.org"));
    assert!(has(FuzzClass::VowelSwap, "puris2024.org"));
    assert!(has(FuzzClass::Dictionary, "paris2024-login.org"));
    assert!(has(FuzzClass::TldSwap, "paris2024.com"));
    assert!(has(FuzzClass::Various, "paris2024-org.com"));
    // A Unicode homoglyph, in punycode and in canonical Unicode form.
    let a = all.iter().find(|c| c.unicode == "pàris2024.org").unwrap();
    assert_eq!(a.class, FuzzClass::Homoglyph);
    assert!(a.ascii.starts_with("xn--"));
    let cyr = fuzz("olympics.com", &without_lists()).unwrap();
    let c = cyr.iter().find(|c| c.class == FuzzClass::Cyrillic).unwrap();
    assert_eq!(c.unicode, "\u{43e}\u{4cf}\u{443}\u{43c}\u{440}\u{456}\u{441}\u{455}.com");
    // The original is never a candidate, and no name comes twice.
    assert!(all.iter().all(|c| c.ascii != "paris2024.org"));
    let mut names: Vec<&str> = all.iter().map(|c| c.ascii.as_str()).collect();
    names.sort_unstable();
    let before = names.len();
    names.dedup();
    assert_eq!(before, names.len());
}

#[test]
fn word_and_tld_lists() {
    let dict = FuzzOptions {
        dictionary: vec!["login".into(), "BAD WORD".into()],
        tlds: vec!["org".into(), "com".into(), "co.uk".into(), "рф".into()],
    };
    let mut got: Vec<String> = fuzz("paris2024.org", &dict)
        .unwrap()
        .into_iter()
        .filter(|c| matches!(c.class, FuzzClass::Dictionary | FuzzClass::TldSwap))
        .map(|c| c.ascii)
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            "login-paris2024.org",
            "loginparis2024.org",
            "paris2024-login.org",
            "paris2024.co.uk",
            "paris2024.com",
            "paris2024login.org",
        ]
    );
    // dnstwist counts 260 dictionary names for olympics.com with its two word lists.
    let dictionary = counts("olympics.com", &FuzzOptions::default())["dictionary"];
    assert_eq!(dictionary, 260);
}

#[test]
fn refuses_a_bare_suffix() {
    assert_eq!(fuzz("co.uk", &FuzzOptions::default()), Err(FuzzError::NoRegistrableLabel));
    assert!(matches!(fuzz("", &FuzzOptions::default()), Err(FuzzError::Name(_))));
}

#[test]
fn fqdn_pattern() {
    assert!(valid_fqdn("ab.cd"));
    assert!(valid_fqdn("xn--pars2024-e2a.org"));
    assert!(!valid_fqdn("a.b"));
    assert!(!valid_fqdn("-ab.org"));
    assert!(!valid_fqdn("ab-.org"));
    assert!(!valid_fqdn("àb.org"));
    assert!(!valid_fqdn("abc.o"));
}

proptest! {
    // Each case fuzzes a whole domain (thousands of homoglyphs): a few dozen cases suffice.
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn every_candidate_is_a_valid_other_name(label in "[a-z0-9]{1,10}(-[a-z0-9]{1,5})?", tld in "(com|org|fr|de|co\\.uk|info)") {
        let domain = format!("{label}.{tld}");
        let all = fuzz(&domain, &without_lists()).unwrap();
        for c in &all {
            prop_assert!(valid_fqdn(&c.ascii), "{}", c.ascii);
            prop_assert_ne!(&c.ascii, &domain);
        }
    }
}
