//! Acceptance tests of the waiting room: fairness of the order, pacing, and what fans see.

use std::collections::{HashMap, HashSet};

use proptest::prelude::*;

use super::*;

const OPEN: i64 = 1_800_000_000_000;
const SEED: [u8; 32] = [9; 32];

fn config() -> RoomConfig {
    RoomConfig {
        opens_at_ms: OPEN,
        max_rate_per_sec: 5.0,
        min_rate_per_sec: 1.0,
        max_active: 1_000_000,
        pass_ttl_ms: 600_000,
        auto_rate: false,
        latency_target_ms: 500.0,
        max_entries: 10_000,
    }
}

fn number(room: &Room, account: u64, now: i64) -> u64 {
    match room.place_of(account, now) {
        Some(Place::Number(n)) => n,
        other => panic!("account {account} has no number: {other:?}"),
    }
}

/// Account ids deliberately not in order and not contiguous.
fn early_accounts() -> Vec<u64> {
    (0..200u64).map(|i| (i * 7_919 + 13) % 100_003 * 1_000 + i).collect()
}

/// The numbering the product promises: sort the pre-queue by id, shuffle with the seed.
fn expected_numbering(accounts: &[u64], seed: [u8; 32]) -> HashMap<u64, u64> {
    let mut ids = accounts.to_vec();
    ids.sort_unstable();
    shuffle(seed, &mut ids);
    ids.into_iter().zip(0u64..).collect()
}

#[test]
fn prequeue_is_the_seeded_shuffle_of_sorted_ids_done_once() {
    let room = Room::new(config(), SEED);
    let accounts = early_accounts();
    for (i, &a) in accounts.iter().enumerate() {
        let j = room.join(a, OPEN - 60_000 + i as i64).unwrap();
        assert_eq!(j, Joined { place: Place::PreQueue, again: false, serving_at_join: 0 });
    }
    let before = room.stats(OPEN - 1);
    assert!(!before.opened);
    assert_eq!((before.prequeue, before.joined, before.waiting, before.serving), (200, 200, 200, 0));
    assert_eq!(room.place_of(accounts[0], OPEN - 1), Some(Place::PreQueue));

    room.tick(OPEN);
    let expected = expected_numbering(&accounts, SEED);
    for &a in &accounts {
        assert_eq!(number(&room, a, OPEN), expected[&a], "account {a}");
    }
    // The order is not simply the order of ids or of arrival.
    assert_ne!((0..200).map(|i| expected[&accounts[i]]).collect::<Vec<_>>(), (0..200).collect::<Vec<_>>());

    // Later arrivals queue behind, first come first served.
    assert_eq!(room.join(5, OPEN + 10).unwrap().place, Place::Number(200));
    assert_eq!(room.join(3, OPEN + 11).unwrap().place, Place::Number(201));

    // Exactly once: moving the opening, re-opening, more calls change nothing.
    room.set_config(RoomConfig { opens_at_ms: OPEN + 3_600_000, ..config() });
    room.tick(OPEN + 1_000);
    room.set_config(RoomConfig { opens_at_ms: OPEN - 3_600_000, ..config() });
    room.tick(OPEN + 2_000);
    for &a in &accounts {
        assert_eq!(number(&room, a, OPEN + 3_000), expected[&a]);
    }
    assert_eq!(number(&room, 5, OPEN + 3_000), 200);
    let stats = room.stats(OPEN + 3_000);
    assert!(stats.opened);
    assert_eq!((stats.prequeue, stats.joined), (200, 202));
}

#[test]
fn arrival_order_and_repeats_before_opening_change_nothing() {
    let accounts = early_accounts();
    // Room a: arrival in one order. Room b: reverse order, everyone joining many times, the
    // "eager" accounts first and most often.
    let a = Room::new(config(), SEED);
    for (i, &acc) in accounts.iter().enumerate() {
        a.join(acc, OPEN - 1_000 + i as i64).unwrap();
    }
    let b = Room::new(config(), SEED);
    for round in 0..5 {
        for (i, &acc) in accounts.iter().rev().enumerate() {
            let j = b.join(acc, OPEN - 3_600_000 + round * 1_000 + i as i64).unwrap();
            assert_eq!(j.again, round > 0);
            assert_eq!(j.place, Place::PreQueue);
        }
    }
    for &acc in &accounts {
        assert_eq!(number(&a, acc, OPEN), number(&b, acc, OPEN));
    }
}

#[test]
fn opening_is_done_by_whichever_call_comes_first() {
    let accounts = early_accounts();
    let expected = expected_numbering(&accounts, SEED);
    let triggers: [fn(&Room, i64); 5] = [
        |r, t| r.tick(t),
        |r, t| {
            let _ = r.join(early_accounts()[0], t);
        },
        |r, t| {
            let _ = r.place_of(1, t);
        },
        |r, t| {
            let _ = r.status(0, 0, t);
        },
        |r, t| {
            let _ = r.stats(t);
        },
    ];
    for (k, trigger) in triggers.iter().enumerate() {
        let room = Room::new(config(), SEED);
        for &acc in &accounts {
            room.join(acc, OPEN - 10).unwrap();
        }
        trigger(&room, OPEN - 1);
        assert!(!room.stats(OPEN - 1).opened, "trigger {k} opened early");
        trigger(&room, OPEN + 250);
        // Read with a time before the opening: the room stays open (time does not go back).
        assert!(room.stats(OPEN - 5).opened, "trigger {k} did not open");
        for &acc in &accounts {
            assert_eq!(number(&room, acc, OPEN + 250), expected[&acc], "trigger {k}");
        }
    }
}

#[test]
fn the_seed_decides_the_order() {
    let accounts = early_accounts();
    let order = |seed: [u8; 32]| {
        let room = Room::new(config(), seed);
        for &acc in &accounts {
            room.join(acc, OPEN - 1).unwrap();
        }
        accounts.iter().map(|&acc| number(&room, acc, OPEN)).collect::<Vec<_>>()
    };
    assert_eq!(order(SEED), order(SEED));
    assert_ne!(order(SEED), order([10; 32]));
    let mut numbers = order([10; 32]);
    numbers.sort_unstable();
    assert_eq!(numbers, (0..200).collect::<Vec<_>>());
}

#[test]
fn a_second_join_returns_the_same_place() {
    let room = Room::new(config(), SEED);
    room.join(1, OPEN - 5).unwrap();
    let again = room.join(1, OPEN - 4).unwrap();
    assert_eq!(again, Joined { place: Place::PreQueue, again: true, serving_at_join: 0 });
    for id in 10..30 {
        room.join(id, OPEN - 3).unwrap();
    }
    room.tick(OPEN);
    let n1 = number(&room, 1, OPEN);
    // After opening an early joiner gets its drawn number back.
    assert_eq!(room.join(1, OPEN + 1).unwrap(), Joined { place: Place::Number(n1), again: true, serving_at_join: 0 });

    room.tick(OPEN + 2_000); // serving 10
    let first = room.join(99, OPEN + 2_001).unwrap();
    assert_eq!(first, Joined { place: Place::Number(21), again: false, serving_at_join: 10 });
    room.tick(OPEN + 4_000);
    // The repeat keeps the original progress base, not the current serving counter.
    assert_eq!(room.join(99, OPEN + 4_001).unwrap(), Joined { again: true, ..first });
    assert_eq!(room.stats(OPEN + 4_001).joined, 22);
}

#[test]
fn nothing_is_admitted_before_opening() {
    let room = Room::new(RoomConfig { max_rate_per_sec: 1_000.0, ..config() }, SEED);
    for id in 0..50 {
        room.join(id, OPEN - 100_000).unwrap();
    }
    for t in (OPEN - 100_000..OPEN).step_by(1_000) {
        room.tick(t);
        assert_eq!(room.stats(t).serving, 0);
        assert!(!room.claim(0, 0, t));
        assert!(!room.status(0, 0, t).admitted);
    }
    // The waiting before opening is not saved up: at opening nobody is admitted at once.
    room.tick(OPEN);
    assert_eq!(room.stats(OPEN).serving, 0);
    room.tick(OPEN + 10);
    assert_eq!(room.stats(OPEN + 10).serving, 10);
}

#[test]
fn rate_is_respected() {
    let room = Room::new(config(), SEED); // 5 per second
    for id in 0..500 {
        room.join(id, OPEN - 1).unwrap();
    }
    room.tick(OPEN);
    for step in 1..=100 {
        room.tick(OPEN + step * 100);
    }
    let serving = room.stats(OPEN + 10_000).serving;
    assert!((49..=51).contains(&serving), "admitted {serving} in 10 s at 5/s");

    // Irregular ticks (1 ms to 2.5 s apart) never beat the rate either.
    let room = Room::new(RoomConfig { max_rate_per_sec: 3.3, ..config() }, SEED);
    for id in 0..3_000 {
        room.join(id, OPEN - 1).unwrap();
    }
    room.tick(OPEN);
    let mut t = OPEN;
    for k in 0..400i64 {
        t += 1 + (k * 7_919) % 2_500;
        room.tick(t);
        let serving = room.stats(t).serving as f64;
        let allowed = 3.3 * (t - OPEN) as f64 / 1000.0 + 1.0;
        assert!(serving <= allowed, "{serving} > {allowed} at +{} ms", t - OPEN);
        assert!(serving >= allowed - 3.0, "{serving} too far below {allowed}");
    }
}

#[test]
fn live_rate_change_applies_from_the_next_tick() {
    let room = Room::new(config(), SEED);
    for id in 0..500 {
        room.join(id, OPEN - 1).unwrap();
    }
    room.tick(OPEN);
    room.tick(OPEN + 1_000);
    assert_eq!(room.stats(OPEN + 1_000).serving, 5);
    room.set_config(RoomConfig { max_rate_per_sec: 50.0, ..config() });
    room.tick(OPEN + 2_000);
    assert_eq!(room.stats(OPEN + 2_000).serving, 55);
    // Rate 0 pauses admission, and the ETA is unknown.
    room.set_config(RoomConfig { max_rate_per_sec: 0.0, min_rate_per_sec: 0.0, ..config() });
    room.tick(OPEN + 10_000);
    assert_eq!(room.stats(OPEN + 10_000).serving, 55);
    assert_eq!(room.status(100, 0, OPEN + 10_000).eta_secs, None);
}

#[test]
fn admission_never_passes_the_numbers_handed_out() {
    let room = Room::new(RoomConfig { max_rate_per_sec: 100.0, ..config() }, SEED);
    for id in 0..3 {
        room.join(id, OPEN - 1).unwrap();
    }
    room.tick(OPEN);
    room.tick(OPEN + 10_000);
    assert_eq!(room.stats(OPEN + 10_000).serving, 3);
    // An idle second does not turn into a burst for those who come later.
    for id in 3..100 {
        room.join(id, OPEN + 10_000).unwrap();
    }
    room.tick(OPEN + 10_100);
    assert_eq!(room.stats(OPEN + 10_100).serving, 13);
}

#[test]
fn max_active_is_respected() {
    let cfg = RoomConfig { max_rate_per_sec: 1_000.0, max_active: 10, pass_ttl_ms: 120_000, ..config() };
    let room = Room::new(cfg, SEED);
    let mut owner = HashMap::new();
    for id in 0..100 {
        room.join(id, OPEN - 1).unwrap();
    }
    for id in 0..100 {
        owner.insert(number(&room, id, OPEN), id);
    }
    room.tick(OPEN + 1_000);
    assert_eq!(room.stats(OPEN + 1_000).serving, 10);
    assert_eq!(room.stats(OPEN + 1_000).active, 10);
    // Admitted fans who have not claimed yet still hold their slot.
    room.tick(OPEN + 2_000);
    assert_eq!(room.stats(OPEN + 2_000).serving, 10);
    // Claiming moves them from "on the way" to "active", the total stays.
    for n in 0..10 {
        assert!(room.claim(owner[&n], n, OPEN + 3_000));
    }
    room.tick(OPEN + 4_000);
    let s = room.stats(OPEN + 4_000);
    assert_eq!((s.serving, s.active, s.claimed_total), (10, 10, 10));
    // Three finish: exactly three more get in.
    for _ in 0..3 {
        room.complete(OPEN + 5_000);
    }
    room.tick(OPEN + 6_000);
    let s = room.stats(OPEN + 6_000);
    assert_eq!((s.serving, s.active, s.completed_total), (13, 10, 3));
    // Those three never show up: after the claim grace their slots are freed.
    room.tick(OPEN + 6_000 + CLAIM_GRACE_MS - 1_000);
    assert_eq!(room.stats(OPEN + 6_000 + CLAIM_GRACE_MS - 1_000).serving, 13);
    room.tick(OPEN + 6_000 + CLAIM_GRACE_MS + 1_000);
    assert_eq!(room.stats(OPEN + 6_000 + CLAIM_GRACE_MS + 1_000).serving, 16);
    // Claimed passes expire with pass_ttl: then the claimed fans no longer count.
    let later = OPEN + 3_000 + 120_000 + 1_000;
    room.tick(later);
    assert_eq!(room.stats(later).active, 10);
    assert_eq!(room.stats(later).serving, 16 + 7);
}

#[test]
fn max_active_holds_in_a_busy_simulation() {
    let max_active = 25;
    let cfg = RoomConfig { max_rate_per_sec: 40.0, max_active, pass_ttl_ms: 30_000, ..config() };
    let room = Room::new(cfg, SEED);
    for id in 0..2_000 {
        room.join(id, OPEN - 1).unwrap();
    }
    let owner: HashMap<u64, u64> = (0..2_000).map(|id| (number(&room, id, OPEN), id)).collect();
    // Each admitted fan claims 0-4 s later (every tenth never shows up) and completes 2-12 s
    // after claiming. Track the truth next to the counters.
    let mut claims: Vec<(i64, u64)> = Vec::new();
    let mut completions: Vec<i64> = Vec::new();
    let mut in_checkout = 0u64;
    let mut scheduled = 0u64;
    let mut t = OPEN;
    while t < OPEN + 120_000 {
        t += 100;
        room.tick(t);
        let serving = room.stats(t).serving;
        while scheduled < serving {
            if scheduled % 10 != 9 {
                claims.push((t + (scheduled as i64 * 37) % 4_000, scheduled));
            }
            scheduled += 1;
        }
        for &(at, n) in claims.iter().filter(|(at, _)| *at <= t) {
            assert!(room.claim(owner[&n], n, at.max(t)));
            in_checkout += 1;
            completions.push(t + 2_000 + (n as i64 * 101) % 10_000);
        }
        claims.retain(|(at, _)| *at > t);
        let done = completions.iter().filter(|&&at| at <= t).count();
        completions.retain(|&at| at > t);
        for _ in 0..done {
            room.complete(t);
            in_checkout -= 1;
        }
        assert!(in_checkout <= max_active, "{in_checkout} fans in checkout at +{} ms", t - OPEN);
        assert!(room.stats(t).active <= max_active);
    }
    // And the room did keep moving.
    assert!(room.stats(t).serving > 150, "{}", room.stats(t).serving);
}

fn auto_room() -> Room {
    let cfg = RoomConfig {
        max_rate_per_sec: 100.0,
        min_rate_per_sec: 10.0,
        auto_rate: true,
        latency_target_ms: 200.0,
        ..config()
    };
    let room = Room::new(cfg, SEED);
    room.tick(OPEN);
    room
}

/// One simulated second: report `latencies` (ok unless listed in `failed`), then tick.
fn second(room: &Room, t: i64, latencies: &[f64], failed: usize) -> f64 {
    for (i, &l) in latencies.iter().enumerate() {
        room.observe_checkout(l, i >= failed, t - 500);
    }
    room.tick(t);
    room.stats(t).effective_rate
}

#[test]
fn aimd_backs_off_under_slow_checkouts_and_recovers() {
    let room = auto_room();
    assert_eq!(room.stats(OPEN).effective_rate, 100.0);
    let slow = [500.0; 20];
    let mut expected = 100.0;
    for s in 1..=10 {
        expected = f64::max(expected * 0.7, 10.0);
        let rate = second(&room, OPEN + s * 1_000, &slow, 0);
        assert!((rate - expected).abs() < 1e-9, "second {s}: {rate} != {expected}");
    }
    assert_eq!(room.stats(OPEN + 10_000).effective_rate, 10.0);
    // Recovery is additive: 5% of the maximum per second.
    let fast = [50.0; 20];
    for s in 11..=28 {
        let rate = second(&room, OPEN + s * 1_000, &fast, 0);
        assert!((rate - (10.0 + 5.0 * (s - 10) as f64)).abs() < 1e-9, "second {s}: {rate}");
    }
    assert_eq!(second(&room, OPEN + 29_000, &fast, 0), 100.0);
    assert_eq!(second(&room, OPEN + 30_000, &fast, 0), 100.0);
    // One step per second, however often ticks come.
    for ms in (30_100..31_000).step_by(100) {
        room.observe_checkout(900.0, true, OPEN + ms);
        room.tick(OPEN + ms);
    }
    assert_eq!(room.stats(OPEN + 30_900).effective_rate, 100.0);
    room.tick(OPEN + 31_000);
    assert!((room.stats(OPEN + 31_000).effective_rate - 70.0).abs() < 1e-9);
}

#[test]
fn aimd_reacts_to_the_90th_percentile_and_to_errors() {
    // 85% fast, 15% slow: the mean is under target but the 90th percentile is not.
    let room = auto_room();
    let mut mixed = vec![100.0; 85];
    mixed.extend([600.0; 15]);
    assert!(mixed.iter().sum::<f64>() / 100.0 < 200.0);
    assert!(second(&room, OPEN + 1_000, &mixed, 0) < 100.0);
    // 95% fast, 5% slow: the 90th percentile is fine.
    let room = auto_room();
    let mut mostly_fast = vec![100.0; 95];
    mostly_fast.extend([600.0; 5]);
    second(&room, OPEN + 1_000, &[500.0], 0);
    let r = room.stats(OPEN + 1_000).effective_rate;
    assert!((second(&room, OPEN + 2_000, &mostly_fast, 0) - (r + 5.0)).abs() < 1e-9);
    // Fast but failing: 6 errors in 100 is above 5%, 5 in 100 is not.
    let room = auto_room();
    assert!((second(&room, OPEN + 1_000, &[50.0; 100], 6) - 70.0).abs() < 1e-9);
    assert!((second(&room, OPEN + 2_000, &[50.0; 100], 5) - 75.0).abs() < 1e-9);
    // Garbage latencies are ignored, not fatal.
    let room = auto_room();
    assert_eq!(second(&room, OPEN + 1_000, &[f64::NAN, f64::INFINITY, -5.0], 0), 100.0);
}

#[test]
fn aimd_drives_admission_and_turning_it_off_restores_the_maximum() {
    let room = auto_room();
    for id in 0..10_000 {
        room.join(id, OPEN).unwrap();
    }
    for s in 1..=5 {
        second(&room, OPEN + s * 1_000, &[1_000.0; 10], 0);
    }
    let slow_rate = room.stats(OPEN + 5_000).effective_rate;
    assert!((slow_rate - 100.0 * 0.7f64.powi(5)).abs() < 1e-9);
    let before = room.stats(OPEN + 5_000).serving;
    room.tick(OPEN + 6_000 - 1);
    let admitted = room.stats(OPEN + 6_000).serving - before;
    assert!(admitted as f64 <= slow_rate + 1.0, "{admitted} admitted at {slow_rate}/s");
    room.set_config(RoomConfig { auto_rate: false, max_rate_per_sec: 100.0, ..config() });
    assert_eq!(room.stats(OPEN + 6_000).effective_rate, 100.0);
}

#[test]
fn status_arithmetic() {
    let room = Room::new(RoomConfig { max_rate_per_sec: 10.0, ..config() }, SEED);
    for id in 0..30 {
        room.join(id, OPEN - 10_000).unwrap();
    }
    let s = room.status(5, 0, OPEN - 3_000);
    assert_eq!(
        s,
        Status { admitted: false, position: 6, ahead: 5, eta_secs: Some(4), progress: 0.0, opens_in_ms: Some(3_000) }
    );

    room.tick(OPEN);
    room.tick(OPEN + 1_000); // serving 10
    let s = room.status(15, 0, OPEN + 1_000);
    assert_eq!((s.admitted, s.position, s.ahead, s.eta_secs, s.opens_in_ms), (false, 6, 5, Some(1), None));
    assert!((s.progress - 10.0 / 16.0).abs() < 1e-12);
    let s = room.status(9, 0, OPEN + 1_000);
    assert_eq!(
        s,
        Status { admitted: true, position: 0, ahead: 0, eta_secs: Some(0), progress: 1.0, opens_in_ms: None }
    );
    let s = room.status(10, 0, OPEN + 1_000);
    assert_eq!((s.admitted, s.position, s.ahead, s.eta_secs), (false, 1, 0, Some(0)));

    // A fan joining now: progress starts at 0, never decreases, reaches 1 exactly when admitted.
    let joined = room.join(1_000, OPEN + 1_000).unwrap();
    let Place::Number(n) = joined.place else { panic!("no number") };
    assert_eq!(n, 30);
    let mut last = room.status(n, joined.serving_at_join, OPEN + 1_000);
    assert_eq!((last.progress, last.position), (0.0, 21));
    let mut t = OPEN + 1_000;
    while !last.admitted {
        t += 250;
        room.tick(t);
        let s = room.status(n, joined.serving_at_join, t);
        assert!(s.progress >= last.progress);
        assert!(s.position <= last.position);
        assert_eq!(s.admitted, s.progress == 1.0);
        assert_eq!(s.position, if s.admitted { 0 } else { s.ahead + 1 });
        last = s;
    }
    assert!(t <= OPEN + 1_000 + 2_250);

    // Nonsense input is answered, not a panic.
    let s = room.status(u64::MAX, u64::MAX, t);
    assert!(!s.admitted && s.progress == 0.0 && s.ahead == u64::MAX - room.stats(t).serving);
    assert!(room.status(0, u64::MAX, t).admitted);
}

#[test]
fn full_room_refuses_new_accounts_only() {
    let room = Room::new(RoomConfig { max_entries: 3, ..config() }, SEED);
    for id in 0..3 {
        room.join(id, OPEN - 1).unwrap();
    }
    assert_eq!(room.join(3, OPEN - 1), Err(RoomError::Full));
    assert!(room.join(1, OPEN - 1).unwrap().again);
    room.tick(OPEN);
    assert_eq!(room.join(4, OPEN + 1), Err(RoomError::Full));
    assert!(matches!(room.join(2, OPEN + 1).unwrap().place, Place::Number(_)));
    // Raising the bound live lets people in again.
    room.set_config(RoomConfig { max_entries: 4, ..config() });
    assert_eq!(room.join(4, OPEN + 2).unwrap().place, Place::Number(3));
    assert_eq!(room.stats(OPEN + 2).joined, 4);
}

#[test]
fn claims_are_bound_to_the_account_and_counted_once() {
    let room = Room::new(RoomConfig { max_rate_per_sec: 100.0, ..config() }, SEED);
    for id in 0..10 {
        room.join(id, OPEN - 1).unwrap();
    }
    room.tick(OPEN);
    room.tick(OPEN + 50); // serving 5
    let owner: HashMap<u64, u64> = (0..10).map(|id| (number(&room, id, OPEN), id)).collect();
    assert!(room.claim(owner[&0], 0, OPEN + 60));
    assert!(room.claim(owner[&0], 0, OPEN + 61));
    assert_eq!(room.stats(OPEN + 61).claimed_total, 1);
    // Someone else's number, a number not yet admitted, an account that never joined.
    assert!(!room.claim(owner[&1], 0, OPEN + 62));
    assert!(!room.claim(owner[&7], 7, OPEN + 62));
    assert!(!room.claim(12_345, 0, OPEN + 62));
    assert_eq!(room.stats(OPEN + 62).claimed_total, 1);
}

#[test]
fn joins_per_sec_is_measured() {
    let room = Room::new(config(), SEED);
    for id in 0..200 {
        room.join(id, OPEN - 5_000 + (id as i64 % 4) * 1_000).unwrap();
    }
    assert!((room.stats(OPEN - 1_500).joins_per_sec - 20.0).abs() < 1e-9);
    // Repeats are not new joins.
    room.join(0, OPEN - 1_500).unwrap();
    assert!((room.stats(OPEN - 1_500).joins_per_sec - 20.0).abs() < 1e-9);
    assert_eq!(room.stats(OPEN + 60_000).joins_per_sec, 0.0);
}

#[test]
fn config_validation_explains() {
    assert_eq!(config().validate(), Ok(()));
    assert_eq!(RoomConfig::default().validate(), Ok(()));
    let bad = [
        RoomConfig { max_rate_per_sec: f64::NAN, ..config() },
        RoomConfig { max_rate_per_sec: -1.0, ..config() },
        RoomConfig { min_rate_per_sec: -1.0, ..config() },
        RoomConfig { min_rate_per_sec: 6.0, ..config() },
        RoomConfig { max_active: 0, ..config() },
        RoomConfig { pass_ttl_ms: 0, ..config() },
        RoomConfig { pass_ttl_ms: MAX_PASS_TTL_MS + 1, ..config() },
        RoomConfig { latency_target_ms: f64::INFINITY, ..config() },
        RoomConfig { max_entries: 0, ..config() },
    ];
    for cfg in bad {
        let err = cfg.validate().unwrap_err();
        assert!(err.to_string().starts_with("invalid room configuration: "), "{err}");
        assert_eq!(cfg.sanitized().validate(), Ok(()), "{cfg:?}");
        // A room built from nonsense still works.
        let room = Room::new(cfg, SEED);
        room.join(1, OPEN - 1).unwrap();
        room.tick(OPEN + 1_000);
        room.observe_checkout(f64::NAN, false, OPEN + 1_500);
        room.tick(OPEN + 3_000);
        let _ = room.status(0, 0, OPEN + 3_000);
        let _ = room.stats(OPEN + 3_000);
    }
    assert!(RoomConfig { min_rate_per_sec: 6.0, ..config() }.validate().unwrap_err().0.contains("min_rate_per_sec"));
    let json = serde_json::to_string(&config()).unwrap();
    assert_eq!(serde_json::from_str::<RoomConfig>(&json).unwrap(), config());
}

#[test]
fn extreme_times_do_not_panic() {
    let room = Room::new(RoomConfig { opens_at_ms: i64::MIN, max_rate_per_sec: MAX_RATE_PER_SEC, ..config() }, SEED);
    for t in [i64::MIN, -1, 0, i64::MAX - 1, i64::MAX] {
        room.join(t as u64, t).unwrap();
        room.tick(t);
        room.complete(t);
        let _ = room.claim(t as u64, 0, t);
        let _ = room.status(0, 0, t);
        let _ = room.stats(t);
    }
    let room = Room::new(RoomConfig { opens_at_ms: i64::MAX, ..config() }, SEED);
    let s = room.status(0, 0, i64::MIN);
    assert_eq!(s.opens_in_ms, Some(i64::MAX));
}

#[derive(Debug, Clone)]
enum Op {
    Join(u64),
    Advance(i64),
    Tick,
    Claim(u64),
    ClaimNumber(u64, u64),
    Complete,
    Observe(f64, bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..60u64).prop_map(Op::Join),
        3 => (0..2_500i64).prop_map(Op::Advance),
        3 => Just(Op::Tick),
        2 => (0..60u64).prop_map(Op::Claim),
        1 => (0..60u64, 0..70u64).prop_map(|(a, n)| Op::ClaimNumber(a, n)),
        1 => Just(Op::Complete),
        1 => (0.0..2_000.0f64, any::<bool>()).prop_map(|(l, ok)| Op::Observe(l, ok)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Whatever the interleaving: numbers are a permutation of 0..joined, later joins are FIFO,
    /// admitted numbers are exactly the prefix 0..serving, claims succeed only there, and
    /// the rate is never beaten.
    #[test]
    fn admission_is_always_an_ordered_prefix(
        ops in prop::collection::vec(op(), 1..250),
        auto_rate in any::<bool>(),
        seed in any::<[u8; 32]>(),
    ) {
        let rate = 7.0;
        let cfg = RoomConfig {
            max_rate_per_sec: rate,
            min_rate_per_sec: 1.0,
            max_active: 15,
            pass_ttl_ms: 20_000,
            auto_rate,
            max_entries: 50,
            ..config()
        };
        let room = Room::new(cfg, seed);
        let mut t = OPEN - 5_000;
        let mut numbers: HashMap<u64, u64> = HashMap::new();
        let mut early: HashSet<u64> = HashSet::new();
        let mut late_numbers: Vec<u64> = Vec::new();
        let mut last_serving = 0;
        for op in ops {
            match op {
                Op::Join(a) => match room.join(a, t) {
                    Ok(j) => match j.place {
                        Place::PreQueue => {
                            prop_assert!(t < OPEN);
                            early.insert(a);
                        }
                        Place::Number(n) => {
                            if let Some(&known) = numbers.get(&a) {
                                prop_assert_eq!(known, n);
                                prop_assert!(j.again);
                            } else if !early.contains(&a) {
                                prop_assert!(!j.again);
                                late_numbers.push(n);
                            }
                            numbers.insert(a, n);
                        }
                    },
                    Err(RoomError::Full) => prop_assert!(room.stats(t).joined >= 50 && !numbers.contains_key(&a)),
                },
                Op::Advance(ms) => t += ms,
                Op::Tick => room.tick(t),
                Op::Claim(a) => {
                    let serving = room.stats(t).serving;
                    let n = numbers.get(&a).copied();
                    let ok = room.claim(a, n.unwrap_or(0), t);
                    prop_assert_eq!(ok, n.is_some_and(|n| n < serving));
                }
                Op::ClaimNumber(a, n) => {
                    let serving = room.stats(t).serving;
                    let ok = room.claim(a, n, t);
                    prop_assert_eq!(ok, n < serving && numbers.get(&a) == Some(&n));
                }
                Op::Complete => room.complete(t),
                Op::Observe(latency, ok) => room.observe_checkout(latency, ok, t),
            }

            let stats = room.stats(t);
            if t >= OPEN {
                // Learn the numbers drawn at opening.
                for &a in &early {
                    let Some(Place::Number(n)) = room.place_of(a, t) else {
                        return Err(TestCaseError::fail("early account without a number"));
                    };
                    prop_assert_eq!(*numbers.entry(a).or_insert(n), n);
                }
                let mut all: Vec<u64> = numbers.values().copied().collect();
                all.sort_unstable();
                prop_assert_eq!(all, (0..stats.joined).collect::<Vec<_>>());
                prop_assert!(stats.serving <= stats.joined);
                let bound = rate * (t - OPEN) as f64 / 1000.0 + 1.0;
                prop_assert!(stats.serving as f64 <= bound, "{} admitted, bound {}", stats.serving, bound);
            } else {
                prop_assert_eq!(stats.serving, 0);
            }
            prop_assert!(stats.serving >= last_serving);
            last_serving = stats.serving;
            // The admitted set is exactly the prefix 0..serving, as every fan sees it.
            for n in 0..stats.joined + 2 {
                prop_assert_eq!(room.status(n, 0, t).admitted, t >= OPEN && n < stats.serving);
            }
        }
        // Later arrivals were numbered in arrival order, after every early one.
        prop_assert!(late_numbers.windows(2).all(|w| w[0] < w[1]));
        prop_assert!(late_numbers.iter().all(|&n| n >= early.len() as u64));
    }
}

#[test]
fn a_held_room_admits_nobody_and_resumes_at_its_rate() {
    let mut c = config();
    c.max_rate_per_sec = 1.0;
    let room = Room::new(c, SEED);
    for a in 0..100 {
        room.join(a, OPEN + 1).unwrap();
    }
    room.tick(OPEN + 1_000);
    let serving = room.stats(OPEN + 1_000).serving;
    // Paused for a minute: nobody admitted.
    for s in 2..=61 {
        room.hold(OPEN + s * 1_000);
    }
    assert_eq!(room.stats(OPEN + 61_000).serving, serving);
    // Resumed: one more a second, not the minute's sixty at once.
    room.tick(OPEN + 62_000);
    assert_eq!(room.stats(OPEN + 62_000).serving, serving + 1);
}
