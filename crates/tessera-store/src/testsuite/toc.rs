//! The operations centre: the switch log only grows and reads back in order, across a
//! restart; documents are replaced by key and listed open first.

use super::*;

fn switch(mode: &str, on: bool, at: i64) -> SwitchRecord {
    SwitchRecord {
        id: 0,
        mode: mode.into(),
        on,
        by: "operator@example.org".into(),
        why: "rehearsal".into(),
        incident: on.then_some(7),
        at: T0.plus_secs(at),
    }
}

pub async fn toc_switch_log_and_documents_survive_a_restart(h: Box<dyn Harness>) {
    let store = h.open().await;
    assert!(store.switch_log(0, 100).await.unwrap().is_empty());
    let a = store.record_switch(&switch("shop_read_only", true, 1)).await.unwrap();
    let b = store.record_switch(&switch("gates_offline_first", true, 2)).await.unwrap();
    let c = store.record_switch(&switch("shop_read_only", false, 3)).await.unwrap();
    assert!(a < b && b < c, "positions grow: {a} {b} {c}");

    let doc = |key: &str, open, json: &str, at| TocDocument {
        key: key.into(),
        open,
        json: json.into(),
        updated_at: T0.plus_secs(at),
    };
    store.put_toc_document(TocKind::Incident, &doc("n1:1", true, "{\"v\":1}", 1)).await.unwrap();
    store.put_toc_document(TocKind::Incident, &doc("n1:2", false, "{\"v\":2}", 5)).await.unwrap();
    store.put_toc_document(TocKind::Incident, &doc("n1:1", true, "{\"v\":3}", 2)).await.unwrap();
    store.put_toc_document(TocKind::Rehearsal, &doc("n1:1", false, "{\"run\":1}", 9)).await.unwrap();

    let store = h.open().await;
    let log = store.switch_log(0, 100).await.unwrap();
    let seen: Vec<(&str, bool, Option<i64>)> = log.iter().map(|s| (s.mode.as_str(), s.on, s.incident)).collect();
    assert_eq!(
        seen,
        [("shop_read_only", true, Some(7)), ("gates_offline_first", true, Some(7)), ("shop_read_only", false, None)]
    );
    assert_eq!(log[0].id, a);
    assert_eq!(log[2].at, T0.plus_secs(3));
    let after = store.switch_log(a, 1).await.unwrap();
    assert_eq!(after.len(), 1, "limit holds");
    assert_eq!(after[0].id, b, "only what follows the position");

    let incidents = store.toc_documents(TocKind::Incident, 10).await.unwrap();
    let keys: Vec<(&str, bool, &str)> = incidents.iter().map(|d| (d.key.as_str(), d.open, d.json.as_str())).collect();
    assert_eq!(keys, [("n1:1", true, "{\"v\":3}"), ("n1:2", false, "{\"v\":2}")], "open first, replaced by key");
    let runs = store.toc_documents(TocKind::Rehearsal, 10).await.unwrap();
    assert_eq!(runs.len(), 1, "kinds kept apart");
    assert_eq!(runs[0].json, "{\"run\":1}");
}
