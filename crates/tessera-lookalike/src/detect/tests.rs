use std::sync::OnceLock;

use proptest::prelude::*;

use super::*;

fn detector() -> &'static Detector {
    static DETECTOR: OnceLock<Detector> = OnceLock::new();
    DETECTOR.get_or_init(|| {
        let mut config = DetectorConfig::new(["paris2024.org", "olympics.com"]);
        config.brands = vec!["jo2024".into(), "paris2024".into()];
        config.allow = vec!["specialolympics.org".into()];
        Detector::new(&config).unwrap()
    })
}

fn techniques(name: &str) -> Vec<Technique> {
    detector().check(name).unwrap_or_else(|| panic!("{name} is not a hit")).techniques
}

#[test]
fn official_domains_and_their_subdomains_are_never_hits() {
    for name in [
        "paris2024.org",
        "tickets.paris2024.org",
        "*.tickets.paris2024.org.",
        "OLYMPICS.COM",
        "www.olympics.com",
        "specialolympics.org",
        "www.specialolympics.org",
    ] {
        assert_eq!(detector().check(name), None, "{name}");
    }
}

#[test]
fn every_generated_candidate_is_a_hit() {
    for official in ["paris2024.org", "olympics.com"] {
        for c in fuzz(official, &FuzzOptions::default()).unwrap() {
            for form in [&c.ascii, &c.unicode] {
                let hit = detector().check(form).unwrap_or_else(|| panic!("{form} missed"));
                assert!(hit.score >= 60, "{form}: {hit:?}");
            }
        }
    }
    // And under any subdomain of a candidate.
    assert!(detector().check("www.pariss2024.org").is_some());
}

#[test]
fn fixed_list_classes_are_named() {
    assert_eq!(techniques("xn--pris2024-zya.org")[0], Technique::Fuzz { class: FuzzClass::Homoglyph });
    assert!(techniques("paris2024-login.org").contains(&Technique::Fuzz { class: FuzzClass::Dictionary }));
    let hit = detector().check("pàris2024.org").unwrap();
    assert_eq!(hit.official.as_deref(), Some("paris2024.org"));
    assert!(hit.score >= 95);
}

#[test]
fn confusable_skeletons_beyond_the_list() {
    // Cyrillic о ӏ у р і с with Latin m and s: more than dnstwist's two homoglyph rounds, and
    // not its all-Cyrillic variant.
    let name = "\u{43e}\u{4cf}\u{443}m\u{440}\u{456}\u{441}s.net";
    assert!(techniques(name).contains(&Technique::Confusable));
    assert!(techniques("olyrnpics.shop").contains(&Technique::Confusable));
    let puny = crate::name::to_ascii("p\u{430}r\u{456}s2024.shop").unwrap();
    assert!(puny.starts_with("xn--"));
    assert!(techniques(&puny).contains(&Technique::Confusable));
}

#[test]
fn edit_distance_on_the_registrable_label() {
    // Two edits on the nine-character label, under a suffix no list holds.
    assert!(techniques("parsi2023.events").contains(&Technique::EditDistance { distance: 2 }));
    assert!(techniques("olympcs.store").contains(&Technique::EditDistance { distance: 1 }));
    // Eight characters allow one edit only: olympus and olympia are two away.
    assert_eq!(detector().check("olympus.com"), None);
    assert_eq!(detector().check("olympia.com"), None);
    // Two digit edits name another year; one is still a lookalike.
    assert_eq!(detector().check("paris2000.com"), None);
    assert!(techniques("paris2028.com").contains(&Technique::EditDistance { distance: 1 }));
}

#[test]
fn other_suffixes_keyword_combinations_and_subdomains() {
    let d = detector();
    assert_eq!(techniques("paris2024.tickets"), [Technique::OtherSuffix]);
    assert_eq!(techniques("olympics.github.io"), [Technique::OtherSuffix]);

    let hit = d.check("paris2024-tickets-resale.shop").unwrap();
    assert_eq!(hit.techniques[0], Technique::Keywords { typo: false });
    assert_eq!(hit.score, 90);
    assert_eq!(hit.keywords, ["paris2024", "ticket", "resale", "shop"]);
    let plain = d.check("myolympics.net").unwrap();
    assert_eq!(plain.score, 60);
    assert_eq!(d.check("olympics-news.net").unwrap().score, 60);
    // Inside a word with letters after it, the brand counts only next to a risk word:
    // `olympicsteel` is Olympic Steel.
    assert_eq!(d.check("olympicsteel.com"), None);
    assert_eq!(d.check("olympic-steel.com"), None);
    assert_eq!(d.check("olympicstickets.com").unwrap().score, 90);
    // The everyday word the brand starts with is no misspelling.
    assert_eq!(d.check("olympic-tickets.net"), None);
    assert_eq!(d.check("olympic7.eu"), None);
    // A short brand counts only as a whole word.
    assert!(d.check("jo2024-billets.fr").is_some());
    assert_eq!(d.check("majo2024x.fr"), None);
    // A misspelt brand next to a risk word; not without one.
    assert!(techniques("olympiks-tickets.com").contains(&Technique::Keywords { typo: true }));
    assert_eq!(d.check("olympiks-holidays.com"), None);

    let hit = d.check("paris2024.org.secure-login.example").unwrap();
    assert_eq!(hit.techniques[0], Technique::BrandInSubdomain { full_domain: true });
    assert_eq!(hit.score, 95);
    assert_eq!(hit.official.as_deref(), Some("paris2024.org"));
    let hit = d.check("olympics.cdn-host.net").unwrap();
    assert_eq!(hit.techniques, [Technique::BrandInSubdomain { full_domain: false }]);
    assert!(techniques("p\u{430}ris2024.evil.net").contains(&Technique::BrandInSubdomain { full_domain: false }));
}

#[test]
fn unrelated_names_are_not_hits() {
    for name in [
        "paris.fr",
        "parismatch.com",
        "olympiacos.org",
        "olympus.co.jp",
        "2024.org",
        "google.com",
        "mail.olympe.fr",
        "org",
        "",
        "not a name",
    ] {
        assert_eq!(detector().check(name), None, "{name}");
    }
    assert_eq!(detector().count_hits(["google.com", "pariss2024.org", "x"]), 1);
}

#[test]
fn bad_configuration_is_refused() {
    assert_eq!(Detector::new(&DetectorConfig::new(Vec::<String>::new())).unwrap_err(), DetectError::NoOfficial);
    assert!(matches!(Detector::new(&DetectorConfig::new(["co.uk"])), Err(DetectError::Official { .. })));
}

#[test]
fn hits_serialise_for_cases() {
    let hit = detector().check("paris2024.tickets").unwrap();
    let json = serde_json::to_value(&hit).unwrap();
    assert_eq!(json["techniques"][0]["technique"], "other-suffix");
    let hit = detector().check("pariss2024.org").unwrap();
    let json = serde_json::to_value(&hit).unwrap();
    assert_eq!(json["techniques"][0]["class"], "plural");
}

proptest! {
    #[test]
    fn check_never_panics(s in "\\PC{0,100}") {
        if let Some(hit) = detector().check(&s) {
            prop_assert!(hit.score <= 100 && !hit.techniques.is_empty());
        }
    }
}
