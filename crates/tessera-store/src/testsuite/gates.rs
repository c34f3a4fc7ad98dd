//! Gates: scans, entries, the venue feed and gate token revocations.

use super::*;

pub(super) fn scan(gate: &str, seq: i64, admitted: bool, at_ms: i64) -> ScanRecord {
    ScanRecord {
        gate_id: gate.into(),
        device_seq: seq,
        ticket_id: 0,
        serial: 7,
        session_code: "BKB01".into(),
        entrance: "Gate A".into(),
        admitted,
        reason: if admitted { "valid".into() } else { "forged".into() },
        at_ms,
        kind: "ticket".into(),
    }
}

pub async fn gate_scans_entries_and_feed(h: Box<dyn Harness>) {
    let store = h.open().await;
    store.import_catalogue(&fixture()).await.unwrap();
    let bkb = category_id(&*store, "BKB01", "CAT-A").await;
    let a = account(&*store, 1).await;
    let phase = drawn_phase(&*store, "P1", PhaseSettings::default(), &[a]).await;
    let issued = tickets(&*store, &phase, a, bkb, 1, "a").await.remove(0);
    let (t, code) = (issued.id.0, issued.code.clone());
    let ms = (T0.0 + 86_400) * 1000; // the session's start
    let admit = |gate: &str, seq, at| ScanRecord { ticket_id: t, ..scan(gate, seq, true, ms + at) };
    assert_eq!(store.holding(&code).await.unwrap().unwrap().entered_at_ms, None);

    let batch = vec![admit("G1", 1, 60_000), scan("G1", 2, false, ms + 61_000), scan("G1", 3, true, ms + 62_000)];
    let out = store.record_scans("BRC", "Gate A", &batch, ms + 70_000).await.unwrap();
    assert_eq!((out.recorded, out.duplicates, out.double_entries.len()), (3, 0, 0));
    let entered = (FeedKind::Entered, t, 7, "G1".to_string(), ms + 60_000);
    assert_eq!(feed(&*store, "BRC").await, vec![entered.clone()]);
    assert!(feed(&*store, "STF").await.is_empty());
    // The gate did not hear the answer and sends the batch again: nothing is counted twice.
    let out = store.record_scans("BRC", "Gate A", &batch, ms + 80_000).await.unwrap();
    assert_eq!((out.recorded, out.duplicates, out.double_entries.len()), (0, 3, 0));
    assert_eq!(feed(&*store, "BRC").await.len(), 1);
    let g1 = GateRecord {
        gate_id: "G1".into(),
        venue_code: "BRC".into(),
        entrance: "Gate A".into(),
        last_sync_at_ms: ms + 80_000,
        admitted: 2,
        refused: 1,
    };
    assert_eq!(store.gates().await.unwrap(), vec![g1.clone()]);

    // Another gate admits the same ticket later: the first admission stands.
    let out = store.record_scans("BRC", "Gate B", &[admit("G2", 1, 120_000)], ms + 130_000).await.unwrap();
    assert_eq!((out.recorded, out.double_entries.len()), (1, 1));
    let e = &out.double_entries[0];
    assert_eq!((e.kind.as_str(), e.ticket_id), ("double_entry", t));
    assert_eq!((e.first.scan.gate_id.as_str(), e.first.scan.at_ms), ("G1", ms + 60_000));
    assert_eq!((e.second.scan.gate_id.as_str(), e.second.scan.at_ms), ("G2", ms + 120_000));
    assert_eq!(e.second.scan, admit("G2", 1, 120_000));

    assert_eq!(store.holding(&code).await.unwrap().unwrap().entered_at_ms, Some(ms + 60_000));

    // A gate cut off from the network syncs an earlier admission: it becomes the entry.
    let out = store.record_scans("BRC", "Gate B", &[admit("G3", 1, 30_000)], ms + 140_000).await.unwrap();
    let late = &out.double_entries[0];
    assert_eq!((late.first.scan.gate_id.as_str(), late.second.scan.gate_id.as_str()), ("G3", "G1"));
    assert_eq!(feed(&*store, "BRC").await, vec![entered], "the ticket already counted as entered");
    assert_eq!(store.security_events(10).await.unwrap(), vec![late.clone(), e.clone()], "newest first");
    assert_eq!(store.security_events(1).await.unwrap(), vec![late.clone()]);
    // A fourth admission is compared with the entry that stands, the earliest.
    let out = store.record_scans("BRC", "Gate B", &[admit("G2", 2, 50_000)], ms + 150_000).await.unwrap();
    let (first, second) = (&out.double_entries[0].first.scan, &out.double_entries[0].second.scan);
    assert_eq!((first.gate_id.as_str(), second.at_ms), ("G3", ms + 50_000));
    assert_eq!(store.holdings(a).await.unwrap()[0].entered_at_ms, Some(ms + 30_000), "the entry that stands");

    let figures = store.gate_figures(ms).await.unwrap();
    let minute = |at: i64| (ms + at) / 60_000 * 60;
    assert_eq!(
        figures.entries_per_minute,
        vec![
            ("G1".to_string(), minute(60_000), 2),
            ("G2".to_string(), minute(50_000), 1),
            ("G2".to_string(), minute(120_000), 1),
            ("G3".to_string(), minute(30_000), 1),
        ]
    );
    assert_eq!((figures.refusals, figures.security_events), (vec![("forged".to_string(), 1)], 3));
    assert!(store.gate_figures(ms + 10_000_000).await.unwrap().entries_per_minute.is_empty());
    let gates = store.gates().await.unwrap();
    assert_eq!(
        gates.iter().map(|g| (g.gate_id.as_str(), g.admitted, g.entrance.as_str())).collect::<Vec<_>>(),
        vec![("G1", 2, "Gate A"), ("G2", 2, "Gate B"), ("G3", 1, "Gate B")]
    );

    // The operator annuls the entry: the ticket may enter again, and enters once.
    let annulled = store.annul_entry(t, "turnstile jammed", ms + 200_000).await.unwrap();
    assert_eq!(
        (annulled.kind, annulled.ticket_id, annulled.serial, annulled.at_ms),
        (FeedKind::Annulled, t, 0, ms + 200_000)
    );
    assert!(matches!(store.annul_entry(t, "again", ms).await, Err(StoreError::NotFound(_))));
    assert!(matches!(store.annul_entry(999_999, "unknown", ms).await, Err(StoreError::NotFound(_))));
    let out = store.record_scans("BRC", "Gate A", &[admit("G1", 4, 210_000)], ms + 220_000).await.unwrap();
    assert!(out.double_entries.is_empty());
    let events = store.gate_feed("BRC", 0, 100).await.unwrap();
    assert_eq!(
        events.iter().map(|e| e.kind).collect::<Vec<_>>(),
        vec![FeedKind::Entered, FeedKind::Annulled, FeedKind::Entered]
    );
    assert_eq!(events[1], annulled);
    assert_eq!(store.gate_feed("BRC", events[0].seq, 1).await.unwrap(), vec![annulled]);
    assert!(store.gate_feed("BRC", events[2].seq, 10).await.unwrap().is_empty());

    let data = store.venue_gate_data("BRC", T0, T0.plus_secs(3 * 86_400)).await.unwrap();
    assert_eq!(
        (data.venue_name.as_str(), data.zones.clone()),
        ("Venue BRC", vec!["Gate A".to_string(), "Gate B".to_string()])
    );
    let start = T0.plus_secs(86_400);
    assert_eq!(data.sessions, vec![("BKB01".into(), "Session BKB01".into(), start, start.plus_secs(7200))]);
    assert_eq!((data.revoked.len(), data.feed_seq), (0, events[2].seq));
    let stf = store.venue_gate_data("STF", start.plus_secs(7199), start.plus_secs(7200)).await.unwrap();
    assert_eq!(stf.sessions.iter().map(|s| s.0.as_str()).collect::<Vec<_>>(), vec!["ATH01", "CER01"]);
    assert_eq!(stf.feed_seq, 0);
    assert!(store
        .venue_gate_data("STF", start.plus_secs(7200), start.plus_secs(9000))
        .await
        .unwrap()
        .sessions
        .is_empty());
    assert!(matches!(store.venue_gate_data("NOPE", T0, start).await, Err(StoreError::NotFound(_))));
}

pub async fn gate_revocations_only_move_later(h: Box<dyn Harness>) {
    let store = h.open().await;
    assert!(store.key_revocations().await.unwrap().is_empty());
    let r =
        |gate: &str, at: i64, why: &str| KeyRevocation { holder: gate.into(), revoked_at_ms: at, reason: why.into() };
    store.revoke_keys(&r("BRC-1", 1_000, "stolen")).await.unwrap();
    store.revoke_keys(&r("BRC-2", 2_000, "lost")).await.unwrap();
    store.revoke_keys(&r("BRC-1", 500, "earlier")).await.unwrap();
    let mut all = store.key_revocations().await.unwrap();
    all.sort_by(|a, b| a.holder.cmp(&b.holder));
    assert_eq!(all, vec![r("BRC-1", 1_000, "earlier"), r("BRC-2", 2_000, "lost")]);
    store.revoke_keys(&r("BRC-1", 3_000, "again")).await.unwrap();
    let all = store.key_revocations().await.unwrap();
    assert!(all.contains(&r("BRC-1", 3_000, "again")), "{all:?}");
}
