//! The built-in rule pack against scripted attacks (each must raise its alert and decision)
//! and legitimate traffic (a sales opening's surge of fans included: no block).

use std::net::{IpAddr, Ipv4Addr};
use tessera_detect::{default_rules, Alert, Decide, Engine, Event, Http, Kind, Outcome, Scope};

const T0: i64 = 1_721_988_000_000; // 2024-07-26 10:00 UTC

fn ip(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

fn get(at_ms: i64, source: IpAddr, path: &str, status: u16) -> Event {
    Event {
        at_ms,
        kind: Kind::HttpRequest,
        outcome: if status >= 400 { Outcome::Failure } else { Outcome::Success },
        source: Some(source),
        http: Some(Http {
            method: "GET".into(),
            path: path.into(),
            status,
            bytes: 1000,
            user_agent: "Mozilla/5.0".into(),
            referrer: String::new(),
        }),
        ..Event::default()
    }
}

fn run(events: impl IntoIterator<Item = Event>) -> Vec<Alert> {
    let mut engine = Engine::new(default_rules(), vec!["10.20.0.0/16".parse().unwrap()]);
    let mut out = Vec::new();
    for e in events {
        engine.observe(&e, &mut out);
    }
    out
}

fn fired<'a>(alerts: &'a [Alert], rule: &str) -> Vec<&'a Alert> {
    alerts.iter().filter(|a| a.rule == rule).collect()
}

fn blocks(alerts: &[Alert]) -> Vec<String> {
    alerts
        .iter()
        .filter(|a| a.decision.as_ref().is_some_and(|d| d.action == Decide::Block))
        .map(|a| format!("{} {}", a.rule, a.key))
        .collect()
}

/// Legitimate fans: 2,000 of them over ten minutes of normal traffic, then a sales opening
/// where 40,000 fans arrive within a minute, each loading pages and polling the queue.
fn legitimate() -> Vec<Event> {
    let mut events = Vec::new();
    let fan = |n: u32| ip(100 + (n / 65_536) as u8, (n / 256 % 256) as u8, (n % 256) as u8, 7);
    for n in 0..2_000u32 {
        let start = T0 + i64::from(n) * 300;
        for k in 0..20 {
            events.push(get(
                start + k * 40,
                fan(n),
                ["/", "/sessions", "/assets/app.css", "/sessions/ATH01"][k as usize % 4],
                200,
            ));
        }
    }
    // Someone mistyping a URL twice, and a real fan forgetting a password three times.
    events.push(get(T0 + 1000, fan(3), "/sesions", 404));
    events.push(get(T0 + 2000, fan(3), "/sesion", 404));
    for k in 0..3 {
        let mut e = Event::new(T0 + 5000 + k * 10_000, Kind::SigninFailed);
        e.source = Some(fan(9));
        e.user = Some("fan9@example.org".into());
        events.push(e);
    }
    // The opening at T0 + 10 min: 40,000 fans within 60 s, a page and a poll a second for 30 s.
    let open = T0 + 600_000;
    for n in 0..40_000u32 {
        let start = open + i64::from(n % 60_000) * 60_000 / 40_000;
        events.push(get(start, fan(10_000 + n), "/phases/P1", 200));
        for s in 0..30 {
            events.push(get(start + s * 1000 + 500, fan(10_000 + n), "/api/v1/phases/P1/queue", 200));
        }
    }
    events.sort_by_key(|e| e.at_ms);
    events
}

#[test]
fn legitimate_traffic_and_a_sales_opening_raise_no_block() {
    let alerts = run(legitimate());
    assert!(blocks(&alerts).is_empty(), "{:?}", blocks(&alerts));
    for a in &alerts {
        assert!(
            a.decision.as_ref().is_none_or(|d| d.action == Decide::Challenge && d.scope == Scope::Everyone),
            "only a challenge to everyone may come of a surge: {a:?}"
        );
    }
}

#[test]
fn a_flood_from_one_address_is_blocked_and_a_repeat_gets_longer() {
    let bad = ip(203, 0, 113, 9);
    let mut events: Vec<Event> = (0..3000).map(|k| get(T0 + k * 2, bad, "/", 200)).collect();
    // Back after the block ran out: blocked again, for twice as long.
    events.extend((0..3000).map(|k| get(T0 + 11 * 60_000 + k * 2, bad, "/", 200)));
    let alerts = run(events);
    let f = fired(&alerts, "http-flood-address");
    assert_eq!(f.len(), 2, "{alerts:?}");
    let (d1, d2) = (f[0].decision.as_ref().unwrap(), f[1].decision.as_ref().unwrap());
    assert_eq!(d1.scope, Scope::Address(bad));
    assert_eq!(d1.action, Decide::Block);
    assert_eq!(d1.until_ms - d1.from_ms, 10 * 60_000);
    assert_eq!((d2.repeat, d2.until_ms - d2.from_ms), (1, 20 * 60_000));
    assert!(f[0].at_ms < T0 + 2_000, "blocked within the first seconds of the flood");
}

#[test]
fn a_distributed_flood_challenges_everyone_and_blocks_nobody() {
    let mut events = Vec::new();
    // Five minutes of normal traffic, about 50 requests a second, to learn from.
    for k in 0..15_000i64 {
        events.push(get(T0 + k * 20, ip(100, 1, (k % 250) as u8, (k / 250 % 250) as u8), "/", 200));
    }
    // Then 20,000 bots, each sending 1 request a second (far under every per-address limit).
    let start = T0 + 300_000;
    for s in 0..10i64 {
        for b in 0..20_000u32 {
            events.push(get(
                start + s * 1000 + i64::from(b) / 20,
                ip(45, (b / 256) as u8, (b % 256) as u8, 1),
                "/",
                200,
            ));
        }
    }
    events.sort_by_key(|e| e.at_ms);
    let alerts = run(events);
    let f = fired(&alerts, "distributed-flood");
    assert_eq!(f.len(), 1, "one alert for the flood, then quiet: {alerts:?}");
    let d = f[0].decision.as_ref().unwrap();
    assert_eq!((d.action, &d.scope), (Decide::Challenge, &Scope::Everyone));
    assert!(f[0].at_ms < start + 2000, "within the flood's first seconds: {}", f[0].at_ms - start);
    assert!(blocks(&alerts).is_empty(), "{:?}", blocks(&alerts));
}

#[test]
fn scanning_and_probing_are_blocked() {
    let scanner = ip(198, 51, 100, 4);
    let prober = ip(198, 51, 100, 5);
    let mut events: Vec<Event> = (0..40).map(|k| get(T0 + k * 100, scanner, &format!("/backup{k}.zip"), 404)).collect();
    events.extend(
        ["/wp-login.php", "/.env", "/.git/config", "/phpmyadmin/"]
            .iter()
            .enumerate()
            .map(|(k, p)| get(T0 + k as i64, prober, p, 404)),
    );
    events.sort_by_key(|e| e.at_ms);
    let alerts = run(events);
    assert_eq!(fired(&alerts, "scanning")[0].key, "198.51.100.4");
    assert_eq!(fired(&alerts, "probing")[0].key, "198.51.100.5");
}

#[test]
fn credential_stuffing_both_ways() {
    let mut events = Vec::new();
    for k in 0..12 {
        let mut e = Event::new(T0 + k * 1000, Kind::SigninFailed);
        e.outcome = Outcome::Failure;
        e.source = Some(ip(192, 0, 2, 50));
        e.user = Some(format!("victim{k}@example.org"));
        events.push(e);
    }
    for k in 0..12u8 {
        let mut e = Event::new(T0 + i64::from(k) * 1000, Kind::SigninFailed);
        e.source = Some(ip(192, 0, 2, 100 + k));
        e.user = Some("star@example.org".into());
        events.push(e);
    }
    events.sort_by_key(|e| e.at_ms);
    let alerts = run(events);
    let src = fired(&alerts, "credential-stuffing-source");
    assert_eq!(src.len(), 1);
    assert_eq!(src[0].decision.as_ref().unwrap().scope, Scope::Address(ip(192, 0, 2, 50)));
    let acc = fired(&alerts, "credential-stuffing-account");
    assert_eq!((acc.len(), acc[0].key.as_str()), (1, "star@example.org"));
    assert!(acc[0].decision.is_none(), "many sources on one account: an alert, nobody to block");
}

#[test]
fn a_bot_checkout_and_a_scalping_ring() {
    let mut events = Vec::new();
    for k in 0..8 {
        let mut e = Event::new(T0 + k * 3000, Kind::OrderPaid);
        e.account = Some(77);
        e.card = Some("card-bot".into());
        events.push(e);
    }
    for acct in [1u64, 2, 3] {
        let mut e = Event::new(T0 + acct as i64 * 60_000, Kind::OrderPaid);
        e.account = Some(acct);
        e.card = Some("card-ring".into());
        events.push(e);
    }
    events.sort_by_key(|e| e.at_ms);
    let alerts = run(events);
    let bot = fired(&alerts, "checkout-velocity");
    assert_eq!(bot.len(), 1);
    assert_eq!(bot[0].decision.as_ref().unwrap().scope, Scope::Account(77));
    assert_eq!(bot[0].decision.as_ref().unwrap().action, Decide::Suspend);
    let ring = fired(&alerts, "scalping-ring-card");
    assert_eq!(ring.len(), 1);
    assert_eq!(ring[0].key, "card-ring");
}

#[test]
fn forged_and_copied_tickets_at_the_gates() {
    let mut events = Vec::new();
    for k in 0..6 {
        let mut e = Event::new(T0 + k * 1000, Kind::GateForgedCode);
        e.gate = Some("STADE-N-04".into());
        e.source = Some(ip(10, 20, 4, 1));
        events.push(e);
    }
    let mut replay = Event::new(T0 + 10_000, Kind::GateReplay);
    replay.ticket = Some("TK-123".into());
    replay.gate = Some("STADE-N-04".into());
    let mut double = Event::new(T0 + 70_000, Kind::GateDoubleEntry);
    double.ticket = Some("TK-123".into());
    double.gate = Some("STADE-S-01".into());
    events.extend([replay, double]);
    let alerts = run(events);
    let forged = fired(&alerts, "forged-codes-at-gate");
    assert_eq!(forged.len(), 1);
    assert!(forged[0].decision.is_none(), "the gates' network is never blocked");
    let copied = fired(&alerts, "copied-ticket");
    assert_eq!(copied.len(), 1);
    assert_eq!(copied[0].decision.as_ref().unwrap().scope, Scope::Ticket("TK-123".into()));
    assert_eq!(copied[0].decision.as_ref().unwrap().action, Decide::Revoke);
}

#[test]
fn an_insider_reading_personal_data() {
    let mut events = Vec::new();
    // A desk agent reading 30 files in an hour is work; one reading 250 is not.
    for k in 0..30u64 {
        let mut e = Event::new(T0 + k as i64 * 60_000, Kind::PersonalDataRead);
        e.account = Some(5);
        e.subject = Some(1000 + k);
        events.push(e);
    }
    for k in 0..250u64 {
        let mut e = Event::new(T0 + k as i64 * 1000, Kind::PersonalDataRead);
        e.account = Some(6);
        e.subject = Some(5000 + k);
        events.push(e);
    }
    events.sort_by_key(|e| e.at_ms);
    let alerts = run(events);
    let f = fired(&alerts, "insider-reads");
    assert_eq!(f.len(), 1, "{alerts:?}");
    assert_eq!(f[0].decision.as_ref().unwrap().scope, Scope::Account(6));
}

#[test]
fn the_allow_list_is_never_blocked() {
    let partner = ip(10, 20, 9, 9);
    let alerts = run((0..3000).map(|k| get(T0 + k * 2, partner, "/", 200)));
    let f = fired(&alerts, "http-flood-address");
    assert_eq!(f.len(), 1);
    assert!(f[0].allow_listed && f[0].decision.is_none(), "{f:?}");
}

#[test]
fn memory_stays_bounded_with_millions_of_addresses() {
    let mut engine = Engine::new(default_rules(), Vec::new());
    let mut out = Vec::new();
    for n in 0..1_000_000u32 {
        let e = get(T0 + i64::from(n) / 10, IpAddr::V4(Ipv4Addr::from(0x0100_0000 + n * 7)), "/", 200);
        engine.observe(&e, &mut out);
    }
    for s in engine.stats() {
        let max = engine.rules().find(|r| r.id == s.id).unwrap().max_keys();
        assert!(s.keys <= max, "{} holds {} keys, at most {max}", s.id, s.keys);
    }
    let flood = engine.stats().into_iter().find(|s| s.id == "http-flood-address").unwrap();
    assert!(flood.evicted > 500_000, "cold addresses were dropped: {flood:?}");
}
