//! Waiting rooms and the edge's decisions, kept across restarts.

use super::*;

pub async fn waiting_rooms_and_edge_decisions(h: Box<dyn Harness>) {
    let store = h.open().await;
    store.create_phase("P1", "Phase 1", &PhaseSettings::default()).await.unwrap();
    assert!(matches!(store.put_waiting_room("NOPE", "{}", "00", T0).await, Err(StoreError::NotFound(_))));
    let r = store.put_waiting_room("P1", r#"{"rate":1}"#, "aa", T0).await.unwrap();
    assert_eq!((r.phase_code.as_str(), r.settings_json.as_str(), r.seed_hex.as_str()), ("P1", r#"{"rate":1}"#, "aa"));
    let r = store.put_waiting_room("P1", r#"{"rate":2}"#, "bb", T0.plus_secs(5)).await.unwrap();
    assert_eq!((r.settings_json.as_str(), r.seed_hex.as_str(), r.updated_at), (r#"{"rate":2}"#, "aa", T0.plus_secs(5)));
    drop(store);
    let store = h.open().await;
    assert_eq!(store.waiting_rooms().await.unwrap().len(), 1, "settings survive a restart");
    assert!(store.delete_waiting_room("P1").await.unwrap());
    assert!(!store.delete_waiting_room("P1").await.unwrap());
    assert!(store.waiting_rooms().await.unwrap().is_empty());

    store.put_edge_decision("address:10.0.0.1", "{\"a\":1}", T0.plus_secs(60)).await.unwrap();
    store.put_edge_decision("address:10.0.0.1", "{\"a\":2}", T0.plus_secs(60)).await.unwrap();
    store.put_edge_decision("account:7", "{\"b\":1}", T0.plus_secs(10)).await.unwrap();
    let mut live = store.edge_decisions(T0).await.unwrap();
    live.sort();
    assert_eq!(live, vec!["{\"a\":2}".to_string(), "{\"b\":1}".to_string()]);
    assert_eq!(store.edge_decisions(T0.plus_secs(10)).await.unwrap(), vec!["{\"a\":2}".to_string()], "expired");
    assert!(store.delete_edge_decision("address:10.0.0.1").await.unwrap());
    assert!(store.edge_decisions(T0).await.unwrap().len() == 1);
}

pub async fn results_feed_survives_a_restart(h: Box<dyn Harness>) {
    let store = h.open().await;
    assert_eq!(store.result_feed().await.unwrap(), None, "nothing before the first change");
    store.save_result_change(7, 1, "a", Some("{\"v\":1}")).await.unwrap();
    store.save_result_change(7, 2, "b", Some("{\"v\":2}")).await.unwrap();
    store.save_result_change(7, 3, "a", Some("{\"v\":3}")).await.unwrap();
    store.save_result_change(7, 4, "b", None).await.unwrap();
    let store = h.open().await;
    let feed = store.result_feed().await.unwrap().unwrap();
    assert_eq!((feed.epoch, feed.seq), (7, 4));
    assert_eq!(feed.changes, ["{\"v\":3}"], "each document's latest; a withdrawn one gone");
}
