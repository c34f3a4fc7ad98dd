//! The catalogue: an import is all or nothing.

use super::*;
use tessera_domain::catalogue::Venue;

pub async fn catalogue_import_is_atomic(h: Box<dyn Harness>) {
    let store = h.open().await;
    let stats = store.import_catalogue(&fixture()).await.unwrap();
    assert_eq!((stats.venues, stats.sessions, stats.categories, stats.seats), (2, 3, 4, 3100));

    // A second catalogue that is fine but for one session code already present: nothing of it lands.
    let mut again = fixture();
    again.venues = vec![Venue { code: code("NEW"), ..fixture().venues[0].clone() }];
    again.sessions[0].venue = code("NEW");
    again.sessions.truncate(1);
    again.categories.truncate(1);
    assert!(matches!(store.import_catalogue(&again).await, Err(StoreError::Conflict(_))));
    assert_eq!(store.catalogue_stats().await.unwrap(), stats);

    let list = store.list_sessions(&SessionFilter { limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(list.len(), 3);
    let ath = store.session("ATH01").await.unwrap().unwrap();
    assert_eq!(ath.summary.quota, 1100);
    assert_eq!(ath.summary.available, 1100);
    assert_eq!(ath.summary.min_price, Cents(2400));
    assert_eq!(ath.zones, vec!["Gate A", "Gate B"]);
    assert!(store.session("NOPE1").await.unwrap().is_none());
    let bkb = store
        .list_sessions(&SessionFilter { venue: Some("BRC".into()), limit: 10, ..Default::default() })
        .await
        .unwrap();
    assert_eq!(bkb.iter().map(|s| s.code.as_str()).collect::<Vec<_>>(), vec!["BKB01"]);

    // Search and filters: words in title, sport, code, venue or city (case aside), a start
    // window, a price ceiling met by any category.
    let codes = |f: SessionFilter| {
        let store = store.clone();
        async move {
            let list = store.list_sessions(&SessionFilter { limit: 10, ..f }).await.unwrap();
            list.into_iter().map(|s| s.code).collect::<Vec<_>>()
        }
    };
    assert_eq!(codes(SessionFilter { text: Some("venue brc".into()), ..Default::default() }).await, ["BKB01"]);
    assert_eq!(codes(SessionFilter { text: Some("CEREMONY".into()), ..Default::default() }).await, ["CER01"]);
    assert!(codes(SessionFilter { text: Some("nothing like it".into()), ..Default::default() }).await.is_empty());
    assert_eq!(codes(SessionFilter { max_price: Some(Cents(3000)), ..Default::default() }).await, ["ATH01"]);
    let start = T0.plus_secs(86_400);
    assert_eq!(
        codes(SessionFilter { from: Some(start), until: Some(start.plus_secs(1)), ..Default::default() }).await.len(),
        3
    );
    assert!(codes(SessionFilter { from: Some(start.plus_secs(1)), ..Default::default() }).await.is_empty());
    assert!(codes(SessionFilter { until: Some(start), ..Default::default() }).await.is_empty());
}
