//! Threat intelligence through the API: a partner's STIX bundle, MISP event and plain list
//! become blocks in force at the edge and watches; hostile documents are refused whole and
//! damage nothing; the export reads back as the same indicators.

use super::TestApp;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tessera_detect::intel::{parse_misp_event, parse_stix_bundle, IndicatorKind, Limits};

impl TestApp {
    async fn post_intel(&self, token: &str, query: &str, body: Vec<u8>) -> (StatusCode, Value) {
        let r = self
            .http
            .post(format!("{}/api/v1/admin/soc/intel?{query}", self.base))
            .bearer_auth(token)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

fn indicator(id: &str, pattern: &str, confidence: u8) -> Value {
    json!({"type": "indicator", "spec_version": "2.1", "id": id, "created": "2026-01-01T00:00:00.000Z",
        "modified": "2026-01-01T00:00:00.000Z", "pattern": pattern, "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00Z", "valid_until": "2099-01-01T00:00:00Z",
        "confidence": confidence, "created_by_ref": "identity--b1b1b1b1-0000-4000-8000-000000000001",
        "description": "seen phishing the shop"})
}

async fn status_from(t: &TestApp, ip: [u8; 4]) -> StatusCode {
    let c = reqwest::Client::builder().local_address(std::net::IpAddr::from(ip)).build().unwrap();
    c.get(format!("{}/healthz", t.base)).send().await.unwrap().status()
}

#[tokio::test]
async fn shared_indicators_are_blocked_or_watched_and_go_back_out() {
    let t = TestApp::start().await;
    let a = t.analyst().await;

    let bundle = json!({"type": "bundle", "id": "bundle--b1b1b1b1-0000-4000-8000-000000000000", "objects": [
        {"type": "identity", "spec_version": "2.1", "id": "identity--b1b1b1b1-0000-4000-8000-000000000001",
         "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z", "name": "Partner CERT"},
        indicator("indicator--a", "[ipv4-addr:value = '127.0.7.1']", 90),
        indicator("indicator--b", "[ipv4-addr:value = '127.0.8.0/24']", 80),
        indicator("indicator--c", "[domain-name:value = 'paris2024-tickets.shop']", 90),
        indicator("indicator--d", "[ipv4-addr:value = '127.0.9.1']", 30),
        indicator("indicator--e", "[ipv4-addr:value = '127.0.9.2' AND ipv4-addr:value = '127.0.9.3']", 90),
        {"type": "x-partner-thing", "id": "x-partner-thing--1"},
    ]});
    let (s, r) = t.post_intel(&a, "format=stix", serde_json::to_vec(&bundle).unwrap()).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(
        (r["taken"].as_u64(), r["decisions"].as_u64(), r["watches"].as_u64()),
        (Some(4), Some(2), Some(2)),
        "{r}"
    );
    assert_eq!(r["refused"][0]["object"], "indicator--e", "{r}");
    assert_eq!(r["skipped"], 2, "the identity and the unknown type");

    // In force at the edge: the address and its network's neighbours; the low-confidence one
    // is only watched.
    assert_eq!(status_from(&t, [127, 0, 7, 1]).await, StatusCode::FORBIDDEN);
    assert_eq!(status_from(&t, [127, 0, 8, 77]).await, StatusCode::FORBIDDEN);
    assert_eq!(status_from(&t, [127, 0, 9, 1]).await, StatusCode::OK);
    let (_, list) = t.call("GET", "/api/v1/admin/edge/decisions", Some(&a), None).await;
    let reasons = list.to_string();
    assert!(reasons.contains("Partner CERT (90%): seen phishing the shop"), "{list}");

    // A MISP event: to_ids blocks, a domain is watched, a bad value is named.
    let event = json!({"Event": {"info": "ticket fraud", "uuid": "e-1", "Orgc": {"name": "Partner MISP"}, "Attribute": [
        {"type": "ip-dst", "category": "Network activity", "value": "127.0.10.1", "to_ids": true, "uuid": "at-1"},
        {"type": "domain", "category": "Network activity", "value": "olympics-resale.shop", "to_ids": false, "uuid": "at-2"},
        {"type": "ip-dst", "category": "Network activity", "value": "127.0.10.999", "to_ids": true, "uuid": "at-3"},
    ]}});
    let (s, r) = t.post_intel(&a, "format=misp", serde_json::to_vec(&event).unwrap()).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!((r["decisions"].as_u64(), r["watches"].as_u64()), (Some(1), Some(1)), "{r}");
    assert_eq!(r["refused"][0]["object"], "at-3");
    assert_eq!(status_from(&t, [127, 0, 10, 1]).await, StatusCode::FORBIDDEN);

    // A plain list: a malformed line counted and skipped.
    let (s, r) = t.post_intel(&a, "format=list&source=feed", b"# feed\n127.0.11.1\nnot an indicator\n".to_vec()).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!((r["decisions"].as_u64(), r["malformed_lines"].as_u64()), (Some(1), Some(1)), "{r}");
    assert_eq!(status_from(&t, [127, 0, 11, 1]).await, StatusCode::FORBIDDEN);

    // Hostile documents: refused whole, and what was imported is as it was.
    let before = t.call("GET", "/api/v1/admin/soc/intel/watches", Some(&a), None).await.1;
    assert_eq!(before.as_array().unwrap().len(), 3, "{before}");
    let deep = format!("{{\"type\":\"bundle\",\"objects\":[{}{}]}}", "[".repeat(10_000), "]".repeat(10_000));
    let (s, r) = t.post_intel(&a, "format=stix", deep.into_bytes()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
    assert!(r.to_string().contains("deeper than 32"), "{r}");
    let (s, _) = t.post_intel(&a, "format=misp", vec![b' '; 17 << 20]).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    let (s, _) = t.post_intel(&a, "format=stix", b"{\"type\": \"bundle\", \"objects\": [\xff]}".to_vec()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = t.post_intel(&a, "format=yaml", b"{}".to_vec()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(t.call("GET", "/api/v1/admin/soc/intel/watches", Some(&a), None).await.1, before);
    assert_eq!(status_from(&t, [127, 0, 7, 1]).await, StatusCode::FORBIDDEN);
    // The same bundle again: the blocks in force are kept, not shortened or doubled.
    let (_, r) = t.post_intel(&a, "format=stix", serde_json::to_vec(&bundle).unwrap()).await;
    assert_eq!((r["decisions"].as_u64(), r["kept"].as_u64()), (Some(0), Some(2)), "{r}");

    // Out: the export reads back as the blocks and the watches.
    let (s, stix) = t.call("GET", "/api/v1/admin/soc/intel?format=stix", Some(&a), None).await;
    assert_eq!(s, StatusCode::OK);
    let back = parse_stix_bundle(&serde_json::to_vec(&stix).unwrap(), &Limits::default()).unwrap();
    assert!(back.refused.is_empty(), "{:?}", back.refused);
    let kinds: Vec<IndicatorKind> = back.indicators.iter().map(|i| i.kind.clone()).collect();
    for want in [
        IndicatorKind::Address("127.0.7.1".parse().unwrap()),
        IndicatorKind::Network("127.0.8.0/24".parse().unwrap()),
        IndicatorKind::Address("127.0.10.1".parse().unwrap()),
        IndicatorKind::Address("127.0.9.1".parse().unwrap()),
        IndicatorKind::Domain("paris2024-tickets.shop".into()),
        IndicatorKind::Domain("olympics-resale.shop".into()),
    ] {
        assert!(kinds.contains(&want), "{want:?} not in {kinds:?}");
    }
    let (s, misp) = t.call("GET", "/api/v1/admin/soc/intel?format=misp", Some(&a), None).await;
    assert_eq!(s, StatusCode::OK);
    let back = parse_misp_event(&serde_json::to_vec(&misp).unwrap(), &Limits::default()).unwrap();
    assert_eq!(back.indicators.len(), kinds.len());
    assert_eq!(
        t.call("GET", "/api/v1/admin/soc/intel?format=csv", Some(&a), None).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}
