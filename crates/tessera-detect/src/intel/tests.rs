use super::stix::read_pattern;
use super::*;
use serde_json::{json, Value};

const NOW: i64 = 1_780_000_000;

fn ind(kind: IndicatorKind, confidence: u8, valid_until: Option<i64>) -> Indicator {
    Indicator { kind, source: "Tessera".into(), confidence, valid_until, description: "why".into() }
}

fn samples() -> Vec<Indicator> {
    vec![
        ind(IndicatorKind::Address("198.51.100.7".parse().unwrap()), 90, Some(NOW + 3_600)),
        ind(IndicatorKind::Address("2001:db8::1".parse().unwrap()), 90, Some(NOW + 3_600)),
        ind(IndicatorKind::Network("203.0.113.0/24".parse().unwrap()), 75, Some(NOW + 86_400)),
        ind(IndicatorKind::Domain("paris2024-tickets.shop".into()), 60, None),
        ind(IndicatorKind::Url("https://evil.example/o'k?a=1".into()), 40, None),
        ind(IndicatorKind::FileHash { algo: HashAlgo::Sha256, hex: "ab".repeat(32) }, 50, None),
        ind(IndicatorKind::FileHash { algo: HashAlgo::Md5, hex: "cd".repeat(16) }, 50, None),
        ind(IndicatorKind::FileHash { algo: HashAlgo::Sha1, hex: "ef".repeat(20) }, 50, None),
    ]
}

fn case() -> ExportCase {
    ExportCase {
        id: 7,
        title: "credential stuffing".into(),
        state: "new".into(),
        first_s: NOW - 60,
        last_s: NOW,
        target: Some(ind(IndicatorKind::Address("192.0.2.9".parse().unwrap()), 90, Some(NOW + 60))),
    }
}

fn bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap()
}

#[test]
fn stix_round_trip_gives_the_same_indicators() {
    let items = samples();
    let bundle = to_stix_bundle("Tessera", &items, &[case()], NOW);
    let back = parse_stix_bundle(&bytes(&bundle), &Limits::default()).unwrap();
    assert!(back.refused.is_empty(), "{:?}", back.refused);
    // The identity and the case's grouping have nothing to take.
    assert_eq!(back.skipped, 2);
    let mut expected = items.clone();
    expected.push(case().target.unwrap());
    assert_eq!(back.indicators, expected);
    // Stable ids: the same export twice names the same objects.
    assert_eq!(bundle["objects"], to_stix_bundle("Tessera", &items, &[case()], NOW)["objects"]);
}

#[test]
fn stix_export_leaves_expired_out_and_has_the_required_fields() {
    let items = vec![ind(IndicatorKind::Address("198.51.100.8".parse().unwrap()), 90, Some(NOW - 1))];
    let bundle = to_stix_bundle("Tessera", &items, &[], NOW);
    let objects = bundle["objects"].as_array().unwrap();
    assert_eq!(objects.len(), 1, "only the identity");
    for o in to_stix_bundle("Tessera", &samples(), &[case()], NOW)["objects"].as_array().unwrap() {
        for field in ["type", "spec_version", "id", "created", "modified"] {
            assert!(o.get(field).is_some(), "{field} missing in {o}");
        }
        assert!(o["created"].as_str().unwrap().ends_with(".000Z"));
    }
}

#[test]
fn misp_round_trip_gives_the_same_values_and_block_or_watch() {
    let items = samples();
    let event = to_misp_event("Tessera", &items, &[case()], NOW);
    let back = parse_misp_event(&bytes(&event), &Limits::default()).unwrap();
    assert!(back.refused.is_empty(), "{:?}", back.refused);
    assert_eq!(back.skipped, 1, "the case's comment");
    let got: Vec<_> = back.indicators.iter().map(|i| (i.kind.clone(), i.confidence >= 70)).collect();
    let want: Vec<_> = items.iter().map(|i| (i.kind.clone(), i.confidence >= 70)).collect();
    assert_eq!(got, want);
    assert!(back.indicators.iter().all(|i| i.source == "Tessera"));
}

#[test]
fn misp_event_has_the_core_format_fields() {
    let event = to_misp_event("Tessera", &samples(), &[case()], NOW);
    let e = &event["Event"];
    for field in [
        "uuid",
        "info",
        "date",
        "timestamp",
        "publish_timestamp",
        "published",
        "org_id",
        "orgc_id",
        "distribution",
        "threat_level_id",
        "analysis",
    ] {
        assert!(e.get(field).is_some(), "{field} missing");
    }
    // Categories as MISP's describeTypes pairs them with these types.
    let allowed = [
        ("ip-src", "Network activity"),
        ("domain", "Network activity"),
        ("url", "Network activity"),
        ("md5", "Payload delivery"),
        ("sha1", "Payload delivery"),
        ("sha256", "Payload delivery"),
        ("comment", "Other"),
    ];
    for a in e["Attribute"].as_array().unwrap() {
        for field in ["uuid", "type", "category", "value", "to_ids", "distribution", "timestamp", "deleted"] {
            assert!(a.get(field).is_some(), "{field} missing in {a}");
        }
        let pair = (a["type"].as_str().unwrap(), a["category"].as_str().unwrap());
        assert!(allowed.contains(&pair), "{pair:?}");
        assert_eq!(a["uuid"].as_str().unwrap().len(), 36);
    }
    assert_eq!(e["date"].as_str().unwrap().len(), 10);
}

#[test]
fn misp_accepts_lists_responses_and_string_booleans() {
    let a = json!({"type": "ip-dst", "value": "198.51.100.9", "to_ids": "1", "uuid": "a"});
    let b = json!({"type": "ip-dst", "value": "nope", "to_ids": true, "uuid": "b"});
    let c = json!({"type": "ip-dst", "value": 5, "uuid": "c"});
    let d = json!({"type": "btc", "value": "1abc", "uuid": "d"});
    let event = json!({"Event": {"info": "x", "Attribute": [a, b, c, d], "Object": [{"Attribute": [
        {"type": "domain", "value": "Phish.Example.", "to_ids": false, "uuid": "e"}]}]}});
    for doc in [json!({"response": [event.clone()]}), json!([event.clone()]), event] {
        let got = parse_misp_event(&bytes(&doc), &Limits::default()).unwrap();
        assert_eq!(got.indicators.len(), 2);
        assert_eq!(got.indicators[0].confidence, misp::TO_IDS_CONFIDENCE);
        assert_eq!(got.indicators[1].kind, IndicatorKind::Domain("phish.example".into()));
        let named: Vec<_> = got.refused.iter().map(|r| r.object_id.as_str()).collect();
        assert_eq!(named, ["b", "c"]);
        assert_eq!(got.skipped, 1);
    }
    assert!(matches!(parse_misp_event(b"{\"Event\": 3}", &Limits::default()), Err(IntelError::Shape(_))));
    assert!(matches!(parse_misp_event(b"\"x\"", &Limits::default()), Err(IntelError::Shape(_))));
}

#[test]
fn simple_patterns_are_read_and_others_refused_with_why() {
    let got = read_pattern("[ipv4-addr:value = '198.51.100.1' OR ipv4-addr:value = '203.0.113.0/24']", 4096).unwrap();
    assert_eq!(
        got,
        [
            IndicatorKind::Address("198.51.100.1".parse().unwrap()),
            IndicatorKind::Network("203.0.113.0/24".parse().unwrap())
        ]
    );
    let got = read_pattern("[domain-name:value='a.example'] OR [url:value = 'http://x.example/it\\'s']", 4096).unwrap();
    assert_eq!(got[1], IndicatorKind::Url("http://x.example/it's".into()));
    assert_eq!(
        read_pattern("[file:hashes.'SHA-256' = '".to_string().as_str(), 4096).unwrap_err(),
        "a string is not closed"
    );
    assert_eq!(
        read_pattern("[ipv4-addr:value = '10.0.0.1/32']", 4096).unwrap()[0],
        IndicatorKind::Address("10.0.0.1".parse().unwrap())
    );
    for (bad, why) in [
        ("[ipv4-addr:value = '1.2.3.4' AND ipv4-addr:value = '1.2.3.5']", "only OR"),
        ("[ipv4-addr:value != '1.2.3.4']", "only '='"),
        ("[ipv4-addr:value == '1.2.3.4']", "only '='"),
        ("[ipv4-addr:value = '1.2.3.4'] WITHIN 5 SECONDS", "qualifiers"),
        ("[ipv4-addr:value = '1.2.3.4'] FOLLOWEDBY [ipv4-addr:value = '1.2.3.5']", "qualifiers"),
        ("[ipv4-addr:value MATCHES '^1']", "only '='"),
        ("[ipv4-addr:value = '2001:db8::1']", "not an ipv4-addr"),
        ("[email-addr:value = 'a@b.c']", "is not read"),
        ("[file:name = 'x.exe']", "is not read"),
        ("[file:hashes.MD5 = 'zz']", "not a Md5 hash"),
        ("[domain-name:value = 'not a domain']", "not a domain"),
        ("ipv4-addr:value = '1.2.3.4'", "expected '['"),
        ("[[ipv4-addr:value = '1.2.3.4']]", "expected 'object:property'"),
        ("[ipv4-addr:value = 'x\\n']", "unknown escape"),
        ("", "expected '['"),
    ] {
        let e = read_pattern(bad, 4096).unwrap_err();
        assert!(e.contains(why), "{bad}: {e}");
    }
    let long = format!("[{}]", vec!["ipv4-addr:value = '1.2.3.4'"; 65].join(" OR "));
    assert!(read_pattern(&long, 1 << 20).unwrap_err().contains("more than 64"));
    assert!(read_pattern(&long, 100).unwrap_err().contains("longer than"));
}

fn bundle_of(objects: Vec<Value>) -> Vec<u8> {
    bytes(&json!({"type": "bundle", "id": "bundle--1", "objects": objects}))
}

fn stix_indicator(id: &str, pattern: &str) -> Value {
    json!({"type": "indicator", "spec_version": "2.1", "id": id, "created": "2026-01-01T00:00:00Z",
        "modified": "2026-01-01T00:00:00Z", "pattern": pattern, "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00Z", "confidence": 85, "created_by_ref": "identity--p",
        "valid_until": "2026-12-31T00:00:00Z"})
}

#[test]
fn bad_objects_are_refused_by_name_and_the_others_taken() {
    let mut wrong_type = stix_indicator("indicator--wrong", "[ipv4-addr:value = '1.2.3.4']");
    wrong_type["confidence"] = json!("high");
    let mut sigma = stix_indicator("indicator--sigma", "title: x");
    sigma["pattern_type"] = json!("sigma");
    let mut revoked = stix_indicator("indicator--revoked", "[ipv4-addr:value = '1.2.3.4']");
    revoked["revoked"] = json!(true);
    let mut bad_time = stix_indicator("indicator--time", "[ipv4-addr:value = '1.2.3.4']");
    bad_time["valid_until"] = json!("tomorrow");
    let mut over = stix_indicator("indicator--over", "[ipv4-addr:value = '1.2.3.4']");
    over["confidence"] = json!(101);
    let doc = bundle_of(vec![
        json!({"type": "identity", "id": "identity--p", "name": "Partner CERT"}),
        json!({"type": "x-custom-thing", "id": "x-custom-thing--1", "anything": [1, 2]}),
        json!({"type": "malware", "id": "malware--1"}),
        stix_indicator("indicator--good", "[ipv4-addr:value = '198.51.100.1']"),
        wrong_type,
        sigma,
        revoked,
        bad_time,
        over,
        stix_indicator("indicator--and", "[ipv4-addr:value = '1.2.3.4' AND ipv4-addr:value = '1.2.3.5']"),
        json!({"type": 5, "id": "weird--1"}),
        json!("a string where an object goes"),
        json!({"type": "indicator", "id": "indicator--bare"}),
    ]);
    let got = parse_stix_bundle(&doc, &Limits::default()).unwrap();
    assert_eq!(got.indicators.len(), 1);
    let good = &got.indicators[0];
    assert_eq!(good.source, "Partner CERT");
    assert_eq!(good.confidence, 85);
    assert_eq!(good.valid_until, Some(1_798_675_200));
    let named: Vec<_> = got.refused.iter().map(|r| r.object_id.as_str()).collect();
    assert_eq!(
        named,
        [
            "indicator--wrong",
            "indicator--sigma",
            "indicator--revoked",
            "indicator--time",
            "indicator--over",
            "indicator--and",
            "weird--1",
            "object 11",
            "indicator--bare"
        ]
    );
    assert!(got.refused.iter().all(|r| !r.reason.is_empty()));
    assert_eq!(got.skipped, 3);
}

#[test]
fn hostile_documents_are_refused_whole_never_a_panic() {
    let limits = Limits::default();
    // Over 16 MiB.
    let huge = vec![b' '; 20 << 20];
    assert!(matches!(parse_stix_bundle(&huge, &limits), Err(IntelError::TooLarge(..))));
    assert!(matches!(parse_misp_event(&huge, &limits), Err(IntelError::TooLarge(..))));
    // Nested 10,000 deep, in an object's field and bare.
    let deep = format!("{{\"type\":\"bundle\",\"objects\":[{}{}]}}", "[".repeat(10_000), "]".repeat(10_000));
    assert_eq!(parse_stix_bundle(deep.as_bytes(), &limits), Err(IntelError::TooDeep(32)));
    assert_eq!(parse_misp_event("{".repeat(10_000).as_bytes(), &limits), Err(IntelError::TooDeep(32)));
    // Brackets inside strings are not nesting.
    let in_string = bundle_of(vec![stix_indicator("indicator--s", "[domain-name:value = 'a.example']")
        .as_object()
        .cloned()
        .map(|mut o| {
            o.insert("description".into(), json!("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[{{{{{{{{"));
            Value::Object(o)
        })
        .unwrap()]);
    assert_eq!(parse_stix_bundle(&in_string, &limits).unwrap().indicators.len(), 1);
    // 200,001 objects.
    let many = bundle_of(vec![json!({"type": "x"}); 200_001]);
    assert_eq!(parse_stix_bundle(&many, &limits), Err(IntelError::TooManyObjects(200_001, 100_000)));
    let attrs = json!({"Event": {"Attribute": vec![json!({}); 100_001]}});
    assert!(matches!(parse_misp_event(&bytes(&attrs), &limits), Err(IntelError::TooManyObjects(..))));
    // A 5,000-byte string.
    let long = bundle_of(vec![json!({"type": "note", "id": "note--1", "content": "x".repeat(5_000)})]);
    assert_eq!(parse_stix_bundle(&long, &limits), Err(IntelError::StringTooLong(4_096)));
    // Not UTF-8, not JSON, not a bundle, wrong types at the top.
    assert_eq!(parse_stix_bundle(b"{\"type\": \"bundle\xff\"}", &limits), Err(IntelError::NotUtf8(16)));
    assert!(matches!(parse_stix_bundle(b"{\"type\": \"bundle\",", &limits), Err(IntelError::Json(_))));
    assert!(matches!(parse_stix_bundle(b"[]", &limits), Err(IntelError::Shape(_))));
    assert!(matches!(
        parse_stix_bundle(b"{\"type\": \"bundle\", \"objects\": {}}", &limits),
        Err(IntelError::Shape(_))
    ));
    assert_eq!(parse_stix_bundle(b"{\"type\": \"bundle\", \"id\": \"bundle--1\"}", &limits), Ok(Imported::default()));
}

#[test]
fn plain_lists_count_and_skip_malformed_lines() {
    let text = "# a feed\n198.51.100.1\n203.0.113.0/24 ; SBL1\n2001:db8::/48 90\nphish.example\n\
                https://x.example/login\nnot a thing at all\n999.1.1.1\n1.2.3.4 101\n"
        .to_string()
        + &"a".repeat(5_000)
        + ".example\n"
        + &"ab".repeat(16);
    let got = parse_plain_list(&text, "feed", 75);
    let kinds: Vec<_> = got.indicators.iter().map(|i| (i.kind.clone(), i.confidence)).collect();
    assert_eq!(
        kinds,
        [
            (IndicatorKind::Address("198.51.100.1".parse().unwrap()), 75),
            (IndicatorKind::Network("203.0.113.0/24".parse().unwrap()), 75),
            (IndicatorKind::Network("2001:db8::/48".parse().unwrap()), 90),
            (IndicatorKind::Domain("phish.example".into()), 75),
            (IndicatorKind::Url("https://x.example/login".into()), 75),
            (IndicatorKind::FileHash { algo: HashAlgo::Md5, hex: "ab".repeat(16) }, 75),
        ]
    );
    assert_eq!(got.malformed_lines, 4);
    let named: Vec<_> = got.refused.iter().map(|r| r.object_id.as_str()).collect();
    assert_eq!(named, ["line 7", "line 8", "line 9", "line 10"]);
    assert!(got.indicators.iter().all(|i| i.source == "feed"));
}

#[test]
fn plain_lists_never_panic_on_bytes() {
    // Any bytes, made text as a caller would: never a panic, every line accounted for.
    let mut seed = 7u64;
    for _ in 0..200 {
        let line: String = (0..64)
            .map(|_| {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                char::from_u32((seed >> 33) as u32 % 0x3000).unwrap_or('?')
            })
            .collect();
        let got = parse_plain_list(&line, "f", 50);
        assert!(got.indicators.len() as u64 + got.malformed_lines <= line.lines().count() as u64);
        let _ = read_pattern(&line, 4096);
        let _ = parse_stix_bundle(line.as_bytes(), &Limits::default());
        let _ = parse_misp_event(line.as_bytes(), &Limits::default());
    }
}

#[test]
fn stable_uuids_look_like_version_4() {
    let u = stable_uuid("x");
    assert_eq!(u, stable_uuid("x"));
    assert_ne!(u, stable_uuid("y"));
    let b = u.as_bytes();
    assert_eq!((u.len(), b[8], b[13], b[14], b[18]), (36, b'-', b'-', b'4', b'-'));
    assert!(matches!(b[19], b'8' | b'9' | b'a' | b'b'));
}

/// The exported bundle through OASIS's validator (`pip install stix2-validator`), named by
/// `TESSERA_TEST_STIX2_VALIDATOR` or found on the path; said loudly when neither is there.
#[test]
fn the_exported_bundle_passes_the_oasis_validator() {
    let exe = std::env::var("TESSERA_TEST_STIX2_VALIDATOR").unwrap_or_else(|_| "stix2_validator".into());
    let mut closed = case();
    closed.target = None;
    closed.id = 8;
    let bundle = to_stix_bundle("Tessera", &samples(), &[case(), closed], NOW);
    let path = std::env::temp_dir().join(format!("tessera-stix-{}.json", std::process::id()));
    std::fs::write(&path, serde_json::to_vec_pretty(&bundle).unwrap()).unwrap();
    // --strict: the validator's warnings (SHOULDs of the specification) fail the test too.
    let run = std::process::Command::new(&exe).arg("--strict").arg(&path).output();
    let _ = std::fs::remove_file(&path);
    let Ok(out) = run else {
        eprintln!(
            "\n!!! SKIPPED the_exported_bundle_passes_the_oasis_validator: no {exe} \
             (pip install stix2-validator, or set TESSERA_TEST_STIX2_VALIDATOR)\n"
        );
        return;
    };
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && text.contains("STIX JSON: Valid"), "{text}");
}

proptest::proptest! {
    /// Whatever the bytes, the readers answer (taken, refused or an error), never panic, and
    /// every line of a list is accounted for.
    #[test]
    fn the_readers_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512),
                               text in "[\\[\\]{}'\":=ORa-z0-9./ \n\\\\-]{0,200}") {
        let limits = Limits { max_depth: 8, max_string: 64, ..Limits::default() };
        let _ = parse_stix_bundle(&bytes, &limits);
        let _ = parse_misp_event(&bytes, &limits);
        let _ = read_pattern(&text, 4096);
        let _ = parse_stix_bundle(text.as_bytes(), &limits);
        let got = parse_plain_list(&text, "p", 50);
        let lines = text.lines().filter(|l| !l.split(['#', ';']).next().unwrap_or_default().trim().is_empty()).count();
        proptest::prop_assert_eq!(got.indicators.len() as u64 + got.malformed_lines, lines as u64);
    }
}
