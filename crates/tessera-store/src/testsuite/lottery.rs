//! The lottery: registration, entries, the draw and its slots.

use super::*;
use tessera_domain::lottery::SlotAssignment;

pub async fn lottery_lifecycle(h: Box<dyn Harness>) {
    let store = h.open().await;
    let a = account(&*store, 1).await;
    let b = account(&*store, 2).await;
    let p = store.create_phase("P1", "Phase 1", &PhaseSettings::default()).await.unwrap();
    assert_eq!(p.status, PhaseStatus::Draft);
    assert!(matches!(store.create_phase("P1", "again", &PhaseSettings::default()).await, Err(StoreError::Conflict(_))));
    assert!(matches!(store.enter_lottery(p.id, a, "E000000000001", T0).await, Err(StoreError::State(_))));
    let p = store.open_registration(p.id, "00", "c0ffee", T0).await.unwrap();
    assert_eq!((p.status, p.seed_sha256.as_deref()), (PhaseStatus::Registration, Some("c0ffee")));
    assert!(matches!(store.open_registration(p.id, "00", "c0ffee", T0).await, Err(StoreError::State(_))));

    let e1 = store.enter_lottery(p.id, a, "E00000000000B", T0).await.unwrap();
    let again = store.enter_lottery(p.id, a, "E00000000000C", T0.plus_secs(5)).await.unwrap();
    assert_eq!(e1, again, "one entry per account");
    store.enter_lottery(p.id, b, "E00000000000A", T0).await.unwrap();
    assert_eq!(store.phase_by_id(p.id).await.unwrap().unwrap().entries, 2);

    let codes = store.close_registration(p.id, T0).await.unwrap();
    assert_eq!(codes, vec!["E00000000000A", "E00000000000B"]);
    let expected = tessera_domain::lottery::sha256_hex(b"E00000000000A\nE00000000000B\n");
    assert_eq!(store.phase_by_id(p.id).await.unwrap().unwrap().entries_sha256, Some(expected));
    assert!(matches!(store.enter_lottery(p.id, b, "E00000000000D", T0).await, Err(StoreError::State(_))));

    let slot = SlotAssignment {
        entry_code: "E00000000000B".into(),
        rank: 1,
        wave: 1,
        starts_at: T0,
        ends_at: T0.plus_secs(10),
    };
    let wrong_seed = DrawRecord { phase_id: p.id, seed_hex: "ff".into(), drawn_at: T0, slots: vec![(a, slot.clone())] };
    assert!(store.record_draw(&wrong_seed).await.is_err(), "the revealed seed must be the stored one");
    assert!(store.slot(p.id, a).await.unwrap().is_none(), "a refused draw writes no slot");
    store.record_draw(&DrawRecord { seed_hex: "00".into(), ..wrong_seed }).await.unwrap();
    let s = store.slot(p.id, a).await.unwrap().unwrap();
    assert_eq!((s.rank, s.wave, s.starts_at, s.ends_at), (1, 1, T0, T0.plus_secs(10)));
    assert!(store.slot(p.id, b).await.unwrap().is_none());
    let p = store.phase_by_id(p.id).await.unwrap().unwrap();
    assert_eq!(p.status, PhaseStatus::Drawn);
    assert_eq!(store.entries(p.id).await.unwrap().len(), 2);
}
