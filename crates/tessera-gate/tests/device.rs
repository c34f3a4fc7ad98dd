//! The gate through its one path, `Device::scan`: every reason, entries shared between gates,
//! annulment, revocation, restarts and the log.

use std::collections::BTreeSet;

use tessera_credential::{qr_text, IssuerKey};
use tessera_gate::engine::{ALREADY_USED, GATE_FULL, NOT_A_BADGE_GATE, REVOKED, VALID};
use tessera_gate::fixture::{GateFixture, SESSION};
use tessera_gate::*;

struct Gate {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    device: Device,
}

fn gate_with(f: &GateFixture, bundle: &Bundle, config: GateConfig) -> Gate {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gate.db");
    let device = Device::enroll(&path, config, f.trust.clone(), &f.sign(bundle), f.now).unwrap();
    Gate { _dir: dir, path, device }
}

fn gate(f: &GateFixture) -> Gate {
    gate_with(f, &f.bundle, f.config("A1"))
}

fn scan(g: &mut Gate, line: &[u8], at_ms: i64) -> GateDecision {
    g.device.scan(line, at_ms).unwrap()
}

#[test]
fn a_valid_code_is_admitted_once_then_already_used() {
    let f = GateFixture::new(1);
    let mut g = gate(&f);
    let line = f.line(42, 1, 1, f.now);
    let first = scan(&mut g, &line, f.now_ms());
    assert_eq!(first.outcome, Outcome::Admitted);
    assert_eq!(first.reason, VALID);
    assert_eq!(first.kind, Kind::Ticket);
    assert_eq!((first.ticket_id, first.serial), (42, 1));
    assert_eq!(first.holder, "Fan 42");
    assert_eq!(first.session, SESSION);
    assert_eq!(first.entrance, "Gate-A");
    assert_eq!(first.seq, 1);
    assert_eq!(g.device.engine().entries_len(), 1);

    // The same code again, a few seconds later (a photo passed back over the fence).
    let second = scan(&mut g, &line, f.now_ms() + 4000);
    assert_eq!(second.outcome, Outcome::Refused);
    assert_eq!(second.reason, ALREADY_USED);
    assert_eq!(second.previous, Some(PreviousEntry { gate_id: "A1".into(), at_ms: f.now_ms() }));
    assert_eq!(second.seq, 2);
    // A fresh code from the same phone is the same ticket.
    let third = scan(&mut g, &f.line(42, 1, 1, f.now + 60), f.now_ms() + 60_000);
    assert_eq!(third.reason, ALREADY_USED);
    assert_eq!(g.device.log().counts().unwrap(), (1, 2));
}

#[test]
fn a_scanner_line_ending_is_accepted() {
    let f = GateFixture::new(1);
    let mut g = gate(&f);
    let mut line = f.line(1, 1, 1, f.now);
    line.extend_from_slice(b"\r\n");
    assert!(scan(&mut g, &line, f.now_ms()).admitted());
}

#[test]
fn an_entry_at_another_gate_refuses_here() {
    let f = GateFixture::new(1);
    let mut g = gate(&f);
    let at = f.now_ms() - 60_000;
    let events = [FeedEvent::Entry { ticket_id: 7, serial: 1, gate_id: "B3".into(), at_ms: at }];
    g.device.apply_feed(&events, Some(10)).unwrap();
    assert_eq!(g.device.log().get_cursor().unwrap(), Some(10));
    let d = scan(&mut g, &f.line(7, 1, 1, f.now), f.now_ms());
    assert_eq!(d.reason, ALREADY_USED);
    assert_eq!(d.previous, Some(PreviousEntry { gate_id: "B3".into(), at_ms: at }));
}

#[test]
fn the_earliest_entry_is_kept() {
    let f = GateFixture::new(1);
    let mut g = gate(&f);
    let t = f.now_ms();
    let entry = |gate: &str, at_ms| FeedEvent::Entry { ticket_id: 7, serial: 1, gate_id: gate.into(), at_ms };
    g.device.apply_feed(&[entry("B3", t - 10_000), entry("C1", t - 20_000), entry("D9", t - 5_000)], None).unwrap();
    let d = scan(&mut g, &f.line(7, 1, 1, f.now), t);
    assert_eq!(d.previous, Some(PreviousEntry { gate_id: "C1".into(), at_ms: t - 20_000 }));
}

#[test]
fn an_annulment_lets_the_ticket_in_again() {
    let f = GateFixture::new(1);
    let mut g = gate(&f);
    assert!(scan(&mut g, &f.line(5, 1, 1, f.now), f.now_ms()).admitted());
    g.device.apply_feed(&[FeedEvent::Entry { ticket_id: 6, serial: 1, gate_id: "B3".into(), at_ms: 1 }], None).unwrap();
    g.device.apply_feed(&[FeedEvent::Annulment { ticket_id: 5 }, FeedEvent::Annulment { ticket_id: 6 }], None).unwrap();
    assert_eq!(g.device.engine().entries_len(), 0);
    assert!(scan(&mut g, &f.line(5, 1, 1, f.now + 30), f.now_ms() + 30_000).admitted());
    assert!(scan(&mut g, &f.line(6, 1, 1, f.now + 30), f.now_ms() + 30_000).admitted());
    // And the new entry counts.
    assert_eq!(scan(&mut g, &f.line(5, 1, 1, f.now + 60), f.now_ms() + 60_000).reason, ALREADY_USED);
}

#[test]
fn a_revoked_credential_is_refused_and_its_successor_admitted() {
    let f = GateFixture::new(1);
    let mut g = gate(&f);
    g.device.apply_feed(&[FeedEvent::Revocation { ticket_id: 9, serial: 1 }], Some(3)).unwrap();
    let d = scan(&mut g, &f.line(9, 1, 1, f.now), f.now_ms());
    assert_eq!(d.reason, REVOKED);
    assert_eq!((d.ticket_id, d.serial, d.holder.as_str()), (9, 1, "Fan 9"));
    // The ticket was transferred: serial 2 on the new holder's phone.
    assert!(scan(&mut g, &f.line(9, 2, 2, f.now), f.now_ms()).admitted());
}

#[test]
fn revocations_in_the_bundle_are_refused() {
    let f = GateFixture::new(1);
    let mut bundle = f.bundle.clone();
    bundle.revoked = vec![(11, 1), (12, 4)];
    let mut g = gate_with(&f, &bundle, f.config("A1"));
    assert_eq!(scan(&mut g, &f.line(11, 1, 1, f.now), f.now_ms()).reason, REVOKED);
    assert_eq!(scan(&mut g, &f.line(12, 4, 1, f.now), f.now_ms()).reason, REVOKED);
    assert!(scan(&mut g, &f.line(12, 5, 1, f.now), f.now_ms()).admitted());
}

#[test]
fn a_restart_remembers_entries_annulments_and_revocations() {
    let f = GateFixture::new(1);
    let mut g = gate(&f);
    let t = f.now_ms();
    assert!(scan(&mut g, &f.line(1, 1, 1, f.now), t).admitted());
    assert!(scan(&mut g, &f.line(2, 1, 1, f.now), t).admitted());
    g.device
        .apply_feed(
            &[
                FeedEvent::Entry { ticket_id: 3, serial: 1, gate_id: "B3".into(), at_ms: t - 1000 },
                FeedEvent::Revocation { ticket_id: 4, serial: 1 },
                FeedEvent::Annulment { ticket_id: 2 },
            ],
            Some(77),
        )
        .unwrap();
    let path = g.path.clone();
    let Gate { _dir, device, .. } = g;
    drop(device);

    let mut g = Gate { device: Device::open(&path, f.config("A1"), f.trust.clone(), f.now).unwrap(), path, _dir };
    assert_eq!(g.device.engine().entries_len(), 2);
    assert_eq!(g.device.log().get_cursor().unwrap(), Some(77));
    let d = scan(&mut g, &f.line(1, 1, 1, f.now + 30), t + 30_000);
    assert_eq!(d.reason, ALREADY_USED);
    assert_eq!(d.previous, Some(PreviousEntry { gate_id: "A1".into(), at_ms: t }));
    assert_eq!(scan(&mut g, &f.line(3, 1, 1, f.now + 30), t + 30_000).previous.unwrap().gate_id, "B3");
    assert_eq!(scan(&mut g, &f.line(4, 1, 1, f.now + 30), t + 30_000).reason, REVOKED);
    assert!(scan(&mut g, &f.line(2, 1, 1, f.now + 30), t + 30_000).admitted());
    // Sequence numbers continue after the restart.
    assert_eq!(g.device.log().recent(1).unwrap()[0].seq, 6);
}

#[test]
fn a_device_without_a_bundle_does_not_start() {
    let f = GateFixture::new(1);
    let dir = tempfile::tempdir().unwrap();
    let err = Device::open(dir.path().join("gate.db"), f.config("A1"), f.trust.clone(), f.now).unwrap_err();
    assert!(matches!(err, DeviceError::NoBundle), "{err}");
}

#[test]
fn bundles_replace_forward_only() {
    let f = GateFixture::new(1);
    let mut g = gate(&f);
    let mut newer = f.bundle.clone();
    newer.issued_at += 3600;
    newer.revoked = vec![(20, 1)];
    g.device.install_bundle(&f.sign(&newer), f.now).unwrap();
    assert_eq!(scan(&mut g, &f.line(20, 1, 1, f.now), f.now_ms()).reason, REVOKED);
    let err = g.device.install_bundle(&f.signed_bundle(), f.now).unwrap_err();
    assert!(matches!(err, DeviceError::Bundle(BundleError::Stale { .. })), "{err}");
    // A restart reopens the newer bundle, and enrolling with the older one is refused.
    let (path, dir) = (g.path.clone(), g._dir);
    drop(g.device);
    let d = Device::open(&path, f.config("A1"), f.trust.clone(), f.now).unwrap();
    assert_eq!(d.engine().bundle().issued_at, newer.issued_at);
    drop(d);
    let err = Device::enroll(&path, f.config("A1"), f.trust.clone(), &f.signed_bundle(), f.now).unwrap_err();
    assert!(matches!(err, DeviceError::Bundle(BundleError::Stale { .. })), "{err}");
    drop(dir);
}

#[test]
fn unsynced_decisions_are_handed_out_in_order_until_marked() {
    let f = GateFixture::new(1);
    let mut g = gate(&f);
    for ticket in 1..=5 {
        scan(&mut g, &f.line(ticket, 1, 1, f.now), f.now_ms() + ticket);
    }
    scan(&mut g, b"garbage", f.now_ms() + 10);
    let batch = g.device.log().unsynced(4).unwrap();
    assert_eq!(batch.iter().map(|d| d.seq).collect::<Vec<_>>(), vec![1, 2, 3, 4]);
    assert_eq!(batch[2].ticket_id, 3);
    assert_eq!(batch[2].at_ms, f.now_ms() + 3);
    g.device.mark_synced(batch[3].seq).unwrap();
    let rest = g.device.log().unsynced(100).unwrap();
    assert_eq!(rest.iter().map(|d| d.seq).collect::<Vec<_>>(), vec![5, 6]);
    assert_eq!(rest[1].reason, "malformed");
    assert_eq!(rest[1].kind, Kind::Unknown);
    assert_eq!(g.device.log().recent(2).unwrap().iter().map(|d| d.seq).collect::<Vec<_>>(), vec![6, 5]);
    assert_eq!(g.device.log().counts().unwrap(), (5, 1));
}

#[test]
fn a_refused_already_used_decision_is_stored_with_its_previous_entry() {
    let f = GateFixture::new(1);
    let mut g = gate(&f);
    let line = f.line(1, 1, 1, f.now);
    scan(&mut g, &line, f.now_ms());
    let second = scan(&mut g, &line, f.now_ms() + 1);
    assert_eq!(g.device.log().recent(1).unwrap()[0], second);
}

/// Every reason in `REASONS`, reached through `Device::scan`.
#[test]
fn every_reason_is_reachable_through_scan() {
    let f = GateFixture::new(1);
    let now = f.now;
    let t = f.now_ms();
    let mut seen = BTreeSet::new();
    let mut expect = |d: GateDecision, reason: &str| {
        assert_eq!(d.reason, reason, "{d:?}");
        assert_eq!(d.outcome, Outcome::Refused);
        assert!(d.seq > 0);
        seen.insert(d.reason);
    };
    let mut g = gate(&f);

    // Not a ticket at all.
    expect(scan(&mut g, b"", t), "malformed");
    expect(scan(&mut g, b"https://example.com/", t), "malformed");
    expect(scan(&mut g, &[0xFF, 0xFE, b'T'], t), "malformed");
    expect(scan(&mut g, b"T1:GGW", t), "malformed");
    expect(scan(&mut g, qr_text(&[1, 0, 0]).as_bytes(), t), "malformed");
    expect(scan(&mut g, &[b'T'; 5000], t), "malformed");
    let mut code = f.code_for(&f.pass(1, 1, 1), &f.issuer, 1, now);
    code[0] = 2;
    expect(scan(&mut g, qr_text(&code).as_bytes(), t), "wrong_version");

    // Passes the gate cannot trust.
    let mut pass = f.pass(1, 1, 1);
    pass.key_id = 99;
    let other = IssuerKey::from_secret_bytes(99, &[5; 32]);
    expect(scan(&mut g, &f.line_for(&pass, &other, 1, now), t), "unknown_key");
    let forger = IssuerKey::from_secret_bytes(7, &[5; 32]);
    let d = scan(&mut g, &f.line_for(&f.pass(1, 1, 1), &forger, 1, now), t);
    // A forged pass's fields are not shown.
    assert_eq!((d.ticket_id, d.holder.as_str()), (0, ""));
    expect(d, "bad_signature");
    // The pass copied to another phone (device 2 signs a pass bound to device 1).
    let copied = f.code_for(&f.pass(1, 1, 1), &f.issuer, 2, now);
    let d = scan(&mut g, qr_text(&copied).as_bytes(), t);
    // The pass is genuine, so the operator sees whose it is.
    assert_eq!((d.ticket_id, d.holder.as_str()), (1, "Fan 1"));
    expect(d, "bad_device_signature");

    // Time.
    expect(scan(&mut g, &f.line(1, 1, 1, now - 120), t), "expired_code");
    expect(scan(&mut g, &f.line(1, 1, 1, now + 120), t), "future_code");
    let mut pass = f.pass(1, 1, 1);
    pass.valid_from = now + 600;
    expect(scan(&mut g, &f.line_for(&pass, &f.issuer, 1, now), t), "not_yet_valid");
    let mut pass = f.pass(1, 1, 1);
    pass.valid_until = now - 1;
    pass.valid_from = now - 7200;
    expect(scan(&mut g, &f.line_for(&pass, &f.issuer, 1, now), t), "expired");
    // Doors not open yet, then the session is over, with passes still valid.
    let before_doors = f.session().starts_at - f.bundle.policy.doors_open_before_secs - 60;
    expect(scan(&mut g, &f.line(1, 1, 1, before_doors), before_doors * 1000), "not_yet_valid");
    assert!(scan(&mut g, &f.line(30, 1, 1, before_doors + 61), (before_doors + 61) * 1000).admitted());
    let after_end = f.session().ends_at + 60;
    expect(scan(&mut g, &f.line(1, 1, 1, after_end), after_end * 1000), "expired");

    // Place.
    let mut pass = f.pass(1, 1, 1);
    pass.session = "S02".into();
    expect(scan(&mut g, &f.line_for(&pass, &f.issuer, 1, now), t), "wrong_session");
    let mut pass = f.pass(1, 1, 1);
    pass.entrance = "Gate-B".into();
    expect(scan(&mut g, &f.line_for(&pass, &f.issuer, 1, now), t), "wrong_entrance");

    // Entry log and revocation.
    assert!(scan(&mut g, &f.line(1, 1, 1, now), t).admitted());
    expect(scan(&mut g, &f.line(1, 1, 1, now), t + 1), ALREADY_USED);
    g.device.apply_feed(&[FeedEvent::Revocation { ticket_id: 2, serial: 1 }], None).unwrap();
    expect(scan(&mut g, &f.line(2, 1, 1, now), t), REVOKED);

    // A key outside its window.
    let mut bundle = f.bundle.clone();
    bundle.keys[0].not_after = now - 1;
    let mut g = gate_with(&f, &bundle, f.config("A2"));
    expect(scan(&mut g, &f.line(1, 1, 1, now), t), "key_not_valid_now");

    // A gate at its entry bound.
    let mut config = f.config("A3");
    config.max_entries = 2;
    let mut g = gate_with(&f, &f.bundle, config);
    assert!(scan(&mut g, &f.line(1, 1, 1, now), t).admitted());
    assert!(scan(&mut g, &f.line(2, 1, 1, now), t).admitted());
    expect(scan(&mut g, &f.line(3, 1, 1, now), t), GATE_FULL);
    // Known tickets are still told apart.
    expect(scan(&mut g, &f.line(1, 1, 1, now), t), ALREADY_USED);

    // Accreditation badges: a journalist (venues STA and MPC, zones 4 and 9).
    let badge = f.journalist_badge(7);
    let at = |venue: &str, zone: &str| {
        let mut config = f.config(&format!("B-{venue}-{zone}"));
        config.badge_access = Some((venue.into(), zone.into()));
        gate_with(&f, &f.badge_bundle(), config)
    };
    assert!(scan(&mut at("STA", "4"), badge.as_bytes(), t).admitted());
    expect(scan(&mut at("STA", "2"), badge.as_bytes(), t), "no_zone_access");
    expect(scan(&mut at("OLV", "4"), badge.as_bytes(), t), "no_venue_access");
    let mut tickets_only = gate_with(&f, &f.badge_bundle(), f.config("B-NONE"));
    expect(scan(&mut tickets_only, badge.as_bytes(), t), NOT_A_BADGE_GATE);

    assert_eq!(seen, REASONS.into_iter().collect::<BTreeSet<_>>());
}

#[test]
fn a_gate_for_any_entrance_admits_every_entrance() {
    let f = GateFixture::new(1);
    let mut g = gate_with(&f, &f.bundle, GateConfig::new("roaming", None));
    let mut pass = f.pass(1, 1, 1);
    pass.entrance = "Gate-B".into();
    assert!(scan(&mut g, &f.line_for(&pass, &f.issuer, 1, f.now), f.now_ms()).admitted());
}
