use super::*;

const S: i64 = 1_000;
const MIN: i64 = 60 * S;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn alert(name: &str, component: &str, venue: &str, kind: &str, at_ms: i64) -> Alert {
    let mut l = labels(&[("alertname", name), ("component", component), ("kind", kind), ("cause", component)]);
    if !venue.is_empty() {
        l.insert("venue".into(), venue.into());
        l.insert("group".into(), format!("venue:{venue}"));
    } else {
        l.insert("group".into(), format!("system:{component}"));
    }
    Alert::firing(l, at_ms)
}

fn names(n: &Notification) -> (Vec<&str>, Vec<&str>) {
    let f = n.firing.iter().map(|a| a.label("component")).collect();
    let r = n.resolved.iter().map(|a| a.label("component")).collect();
    (f, r)
}

#[test]
fn the_same_labels_are_the_same_alert() {
    assert_eq!(fingerprint(&Labels::new()), 0xcbf2_9ce4_8422_2325, "Prometheus' empty label set");
    let mut a = Alerter::new(AlertConfig::toc_default()).unwrap();
    for t in 0..40 {
        a.receive(alert("ComponentDown", "sdf-gate-1", "sdf", "gate", t * S), t * S).unwrap();
    }
    assert_eq!((a.len(), a.groups()), (1, 1));
    a.receive(alert("ComponentDown", "sdf-gate-2", "sdf", "gate", 0), 40 * S).unwrap();
    assert_eq!((a.len(), a.groups()), (2, 1));
    let x = labels(&[("a", "1"), ("b", "2")]);
    let y = labels(&[("a", "12"), ("b", "")]);
    assert_ne!(fingerprint(&x), fingerprint(&y), "the separator keeps pairs apart");
    assert_eq!(a.receive(Alert::firing(Labels::new(), 0), 0), Err(AlertError::BadLabels));
    assert_eq!(a.receive(Alert::firing(labels(&[("bad-name", "x")]), 0), 0), Err(AlertError::BadLabels));
}

#[test]
fn matchers_follow_alertmanager() {
    let l = labels(&[("kind", "gate"), ("venue", "sdf")]);
    let m = |s: &str| Matcher::parse(s).unwrap();
    assert!(m("kind=gate").matches(&l) && !m("kind!=gate").matches(&l));
    assert!(m("kind=~\"gate|desk\"").matches(&l) && !m("kind!~gate|desk").matches(&l));
    assert!(!m("kind=~gat").matches(&l), "anchored at both ends");
    assert!(m("missing=\"\"").matches(&l) && m("missing!~.+").matches(&l), "a missing label is empty");
    assert!(matches!(Matcher::parse("kind=~(gate"), Err(AlertError::BadRegex { .. })));
    assert!(matches!(Matcher::parse("kind"), Err(AlertError::BadMatcher(_))));
    assert!(matches!(Matcher::parse("1kind=x"), Err(AlertError::BadMatcher(_))));
    let round: Matcher = serde_json::from_str(&serde_json::to_string(&m("venue=~\"sdf|bercy\"")).unwrap()).unwrap();
    assert_eq!(round, m("venue=~sdf|bercy"));
    assert!(round.matches(&l));
}

#[test]
fn group_wait_group_interval_and_repeat_interval() {
    let mut a = Alerter::new(AlertConfig { route: Route::default(), inhibit_rules: vec![] }).unwrap();
    a.sync(vec![alert("ComponentDown", "sdf-gate-1", "sdf", "gate", 0)], 0);
    assert_eq!(a.next_flush_at(), Some(30 * S));
    assert!(a.flush(29 * S).is_empty(), "group_wait");
    let first = a.flush(30 * S);
    assert_eq!((first.len(), first[0].kind, names(&first[0]).0), (1, NotifyKind::First, vec!["sdf-gate-1"]));
    assert_eq!(first[0].group_key, "{group=\"venue:sdf\"}");
    // A second alert of the group waits for the next group_interval tick.
    let both = vec![
        alert("ComponentDown", "sdf-gate-1", "sdf", "gate", 0),
        alert("ComponentDown", "sdf-gate-2", "sdf", "gate", 60 * S),
    ];
    a.sync(both.clone(), 60 * S);
    assert!(a.flush(60 * S).is_empty() && a.flush(329 * S).is_empty());
    let upd = a.flush(330 * S);
    assert_eq!((upd[0].kind, names(&upd[0]).0), (NotifyKind::Update, vec!["sdf-gate-1", "sdf-gate-2"]));
    // Unchanged: quiet on every tick until repeat_interval (4 h) has passed since the last one.
    let mut t = 330 * S;
    let mut repeats = Vec::new();
    while t < 330 * S + 4 * 60 * MIN {
        t += 5 * MIN;
        a.sync(both.clone(), t);
        repeats.extend(a.flush(t));
    }
    assert_eq!(repeats.len(), 1, "{repeats:?}");
    assert_eq!((repeats[0].kind, repeats[0].at_ms), (NotifyKind::Repeat, 330 * S + 4 * 60 * MIN));
    // A resolution is told once, at the next tick; then the group is gone.
    a.sync(vec![], t + MIN);
    let res = a.flush(t + 5 * MIN);
    assert_eq!(names(&res[0]), (vec![], vec!["sdf-gate-1", "sdf-gate-2"]));
    assert_eq!((a.len(), a.groups()), (0, 0));
    assert!(a.flush(t + 10 * MIN).is_empty());
}

#[test]
fn an_alert_resolved_before_it_was_told_is_never_told_and_stale_alerts_time_out() {
    let mut a = Alerter::new(AlertConfig::toc_default()).unwrap();
    a.sync(vec![alert("ComponentDown", "mail", "", "provider", 0)], 0);
    a.sync(vec![], 10 * S);
    assert!(a.flush(30 * S).is_empty());
    assert_eq!(a.len(), 0);
    // Received once and never refreshed: resolves after resolve_timeout (5 min).
    a.receive(alert("ComponentDown", "nats", "", "bus", 0), 0).unwrap();
    assert_eq!(a.flush(30 * S).len(), 1);
    let later = a.flush(330 * S);
    assert_eq!(names(&later[0]), (vec![], vec!["nats"]));
    assert_eq!(later[0].resolved[0].ends_at_ms, Some(300 * S));
    assert!(a.is_empty());
}

#[test]
fn a_venue_network_down_inhibits_its_devices_and_a_cause_its_unreachables() {
    let mut a = Alerter::new(AlertConfig::toc_default()).unwrap();
    let mut unreachable = alert("ComponentUnreachable", "shop", "", "system", 0);
    unreachable.labels.insert("cause".into(), "postgres".into());
    a.sync(
        vec![
            alert("ComponentDown", "sdf-network", "sdf", "network", 0),
            alert("ComponentDown", "sdf-gate-1", "sdf", "gate", 0),
            alert("ComponentDown", "sdf-desk-1", "sdf", "desk", 0),
            alert("ComponentDown", "bercy-gate-1", "bercy", "gate", 0),
            alert("ComponentDown", "postgres", "", "group", 0),
            unreachable.clone(),
        ],
        0,
    );
    let mut n = a.flush(30 * S);
    n.sort_by(|x, y| x.group_key.cmp(&y.group_key));
    let got: Vec<(String, Vec<&str>)> = n.iter().map(|n| (n.group_key.clone(), names(n).0)).collect();
    let want: Vec<(String, Vec<&str>)> = vec![
        ("{group=\"system:postgres\"}".into(), vec!["postgres"]),
        ("{group=\"venue:bercy\"}".into(), vec!["bercy-gate-1"]),
        ("{group=\"venue:sdf\"}".into(), vec!["sdf-network"]),
    ];
    assert_eq!(got, want, "the shop's group is all inhibited: no notification");
    assert!(a.muted(&unreachable.labels, 30 * S).inhibited);
    assert!(a.muted(&alert("ComponentDown", "sdf-gate-1", "sdf", "gate", 0).labels, 30 * S).inhibited);
    assert!(!a.muted(&alert("ComponentDown", "bercy-gate-1", "bercy", "gate", 0).labels, 30 * S).inhibited);
    // When the network comes back but a gate stays down, the gate is told.
    a.sync(vec![alert("ComponentDown", "sdf-gate-1", "sdf", "gate", 0)], 60 * S);
    let n = a.flush(330 * S);
    let sdf = n.iter().find(|n| n.group_key.contains("sdf")).unwrap();
    assert_eq!(names(sdf), (vec!["sdf-gate-1"], vec!["sdf-network"]));
}

#[test]
fn an_alert_on_both_sides_of_a_rule_does_not_inhibit_itself() {
    let rule = InhibitRule {
        source_matchers: vec![Matcher::parse("alertname=ComponentDown").unwrap()],
        target_matchers: vec![Matcher::parse("alertname=ComponentDown").unwrap()],
        equal: vec!["venue".into()],
    };
    let mut a = Alerter::new(AlertConfig { route: Route::default(), inhibit_rules: vec![rule] }).unwrap();
    a.sync(vec![alert("ComponentDown", "sdf-gate-1", "sdf", "gate", 0)], 0);
    assert_eq!(a.flush(30 * S)[0].firing.len(), 1);
}

#[test]
fn silences_mute_between_start_and_end() {
    let mut a = Alerter::new(AlertConfig::toc_default()).unwrap();
    let m = |s: &str| Matcher::parse(s).unwrap();
    assert_eq!(a.silence(vec![m("venue=~.*")], 0, MIN, "ana", "all"), Err(AlertError::SilenceMatchesEverything));
    assert_eq!(a.silence(vec![], 0, MIN, "ana", "none"), Err(AlertError::SilenceMatchesEverything));
    assert_eq!(a.silence(vec![m("venue=bercy")], MIN, MIN, "ana", "x"), Err(AlertError::BadSilenceWindow));
    let id = a.silence(vec![m("venue=bercy"), m("kind!=network")], 0, 20 * MIN, "ana", "bercy rewiring").unwrap();
    let gate = alert("ComponentDown", "bercy-gate-1", "bercy", "gate", 0);
    let net = alert("ComponentDown", "bercy-network", "bercy", "network", 0);
    a.sync(vec![gate.clone()], 0);
    assert_eq!(a.muted(&gate.labels, MIN).silenced_by, [id]);
    assert!(a.muted(&net.labels, MIN).silenced_by.is_empty());
    assert!(a.flush(30 * S).is_empty(), "silenced");
    let mut told = Vec::new();
    let mut t = 30 * S;
    while told.is_empty() && t < 60 * MIN {
        t += 5 * MIN;
        a.sync(vec![gate.clone()], t);
        told = a.flush(t);
    }
    assert_eq!(t, 30 * S + 20 * MIN, "told at the first tick after the silence ended");
    assert_eq!(a.expire_silence(99, t), Err(AlertError::NoSilence(99)));
    let id2 = a.silence(vec![m("venue=sdf")], t, t + 60 * MIN, "bob", "drill").unwrap();
    a.expire_silence(id2, t + MIN).unwrap();
    assert!(!a.silences().find(|s| s.id == id2).unwrap().is_active(t + MIN));
}

#[test]
fn the_store_is_bounded_and_counts_what_it_refuses() {
    let mut a = Alerter::new(AlertConfig::toc_default()).unwrap();
    for i in 0..MAX_ALERTS {
        a.receive(Alert::firing(labels(&[("alertname", "X"), ("i", &i.to_string())]), 0), 0).unwrap();
    }
    let over = Alert::firing(labels(&[("alertname", "X"), ("i", "over")]), 0);
    assert_eq!(a.receive(over, 0), Err(AlertError::Full("alerts")));
    assert_eq!((a.len(), a.refused()), (MAX_ALERTS, 1));
    // A known alert still updates.
    a.receive(Alert::firing(labels(&[("alertname", "X"), ("i", "0")]), 0), 1).unwrap();
}

#[test]
fn bad_timings_are_refused() {
    let mut c = AlertConfig::toc_default();
    c.route.repeat_interval_ms = c.route.group_interval_ms - 1;
    assert!(matches!(Alerter::new(c), Err(AlertError::BadTiming(_))));
}

proptest::proptest! {
    #[test]
    fn matcher_parsing_never_panics(s in ".{0,80}") {
        let _ = Matcher::parse(&s);
    }

    #[test]
    fn arbitrary_alert_streams_stay_bounded_and_never_panic(
        ops in proptest::collection::vec((0u8..6, 0u8..4, 0u8..3, 0i64..3_600_000), 0..200),
    ) {
        let mut a = Alerter::new(AlertConfig::toc_default()).unwrap();
        let mut told_resolved = std::collections::HashSet::new();
        let mut t = 0;
        for (c, v, op, dt) in ops {
            t += dt / 60;
            let venue = ["sdf", "bercy", "lille", ""][v as usize];
            let kind = ["gate", "network", "desk", "node", "gate", "system"][c as usize];
            let x = alert("ComponentDown", &format!("c{c}"), venue, kind, t);
            match op {
                0 => { let _ = a.receive(x, t); }
                1 => { a.sync(vec![], t); }
                _ => {
                    for n in a.flush(t) {
                        for r in &n.resolved {
                            // A resolution is told once.
                            proptest::prop_assert!(told_resolved.insert((r.fingerprint(), r.ends_at_ms)));
                        }
                    }
                }
            }
            proptest::prop_assert!(a.len() <= MAX_ALERTS && a.groups() <= a.len().max(1));
        }
    }
}
