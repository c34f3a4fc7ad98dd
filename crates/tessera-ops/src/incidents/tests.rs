use super::*;
use crate::alerts::{Alert, Labels, NotifyKind};

const MIN: i64 = 60_000;

fn policy() -> EscalationPolicy {
    EscalationPolicy::new(
        vec![
            EscalationLevel { targets: vec!["venue-it-manager".into()], delay_ms: 5 * MIN },
            EscalationLevel { targets: vec!["toc-duty-lead".into(), "webhook:sms".into()], delay_ms: 10 * MIN },
        ],
        1,
    )
    .unwrap()
}

fn alert(component: &str, severity: &str) -> Alert {
    let l: Labels = [("alertname", "ComponentDown"), ("component", component), ("severity", severity)]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Alert::firing(l, 0).summary(&format!("{component} down"))
}

fn notification(group: &str, kind: NotifyKind, firing: Vec<Alert>, at_ms: i64) -> Notification {
    Notification { group_key: group.into(), group_labels: Labels::new(), kind, firing, resolved: vec![], at_ms }
}

#[test]
fn one_group_is_one_incident_and_it_takes_the_worst_severity() {
    let mut book = IncidentBook::new(policy());
    let many: Vec<Alert> = (1..=40).map(|i| alert(&format!("sdf-gate-{i}"), "sev4")).collect();
    let f = book.on_notification(&notification("venue:sdf", NotifyKind::First, many, 0)).unwrap();
    assert!(f.opened);
    let inc = book.get(f.id).unwrap();
    assert_eq!((inc.alerts.len(), inc.severity, inc.state), (40, Severity::Sev4, IncidentState::Triggered));
    assert_eq!(inc.title, "sdf-gate-1 down and 39 more (venue:sdf)");
    let again = book
        .on_notification(&notification("venue:sdf", NotifyKind::Update, vec![alert("sdf-network", "sev2")], MIN))
        .unwrap();
    assert_eq!(again, Filed { id: f.id, opened: false });
    let inc = book.get(f.id).unwrap();
    assert_eq!((inc.severity, inc.alerts.len()), (Severity::Sev2, 41));
    assert!(inc
        .timeline
        .iter()
        .any(|e| e.action == Action::SeverityChanged { from: Severity::Sev4, to: Severity::Sev2 }));
    let other =
        book.on_notification(&notification("venue:bercy", NotifyKind::First, vec![alert("bercy-desk-1", "")], 0));
    let other = book.get(other.unwrap().id).unwrap();
    assert_eq!(other.severity, Severity::Sev3, "default when unlabelled");
    assert_eq!(book.list(true).len(), 2);
    // Nothing firing and no open incident: nothing to open.
    assert_eq!(book.on_notification(&notification("venue:lille", NotifyKind::Update, vec![], 0)), None);
}

#[test]
fn the_lifecycle_is_recorded_and_a_resolved_incident_stays_resolved() {
    let mut book = IncidentBook::new(policy());
    let id = book
        .on_notification(&notification("system:postgres", NotifyKind::First, vec![alert("postgres", "sev2")], 0))
        .unwrap()
        .id;
    book.acknowledge(id, "ana", 2 * MIN).unwrap();
    book.link_case(id, 4_711, "ana", 3 * MIN).unwrap();
    book.link_case(id, 4_711, "ana", 3 * MIN).unwrap();
    book.assign(id, "bob", "ana", 4 * MIN).unwrap();
    book.on_notification(&notification("system:postgres", NotifyKind::Update, vec![], 9 * MIN)).unwrap();
    book.resolve(id, "bob", 10 * MIN).unwrap();
    let inc = book.get(id).unwrap();
    assert_eq!((inc.owner.as_deref(), inc.soc_cases.as_slice()), (Some("bob"), &[4_711][..]));
    assert_eq!((inc.acknowledged_ms, inc.resolved_ms), (Some(2 * MIN), Some(10 * MIN)));
    let log: Vec<(&str, &Action)> = inc.timeline.iter().map(|e| (e.who.as_str(), &e.action)).collect();
    assert_eq!(
        log,
        [
            ("toc", &Action::Triggered { alerts: 1 }),
            ("ana", &Action::Acknowledged),
            ("ana", &Action::LinkedCase { case: 4_711 }),
            ("ana", &Action::Assigned { owner: "bob".into() }),
            ("toc", &Action::AlertsCleared),
            ("bob", &Action::Resolved),
        ]
    );
    assert_eq!(book.acknowledge(id, "ana", 11 * MIN).unwrap_err(), IncidentError::Resolved(id));
    book.note(id, "post-mortem: failover took 40 s", "ana", 60 * MIN).unwrap();
    // The group firing again opens a new incident.
    let f = book.on_notification(&notification(
        "system:postgres",
        NotifyKind::First,
        vec![alert("postgres", "sev2")],
        70 * MIN,
    ));
    assert!(f.is_some_and(|f| f.opened && f.id != id));
    assert_eq!(book.note(id, " ", "ana", 0).unwrap_err(), IncidentError::BadText);
    assert_eq!(book.acknowledge(999, "ana", 0).unwrap_err(), IncidentError::NotFound(999));
    let manual = book.open("Badge printer jam at Bercy", Severity::Sev4, "carla", 0).unwrap();
    assert_eq!(book.get(manual).unwrap().group_key, "");
}

#[test]
fn an_unacknowledged_incident_escalates_level_by_level_and_loops() {
    let mut book = IncidentBook::new(policy());
    let a = book.on_notification(&notification("g:a", NotifyKind::First, vec![alert("a", "sev2")], 0)).unwrap().id;
    let b = book.on_notification(&notification("g:b", NotifyKind::First, vec![alert("b", "sev2")], 0)).unwrap().id;
    let pages = |v: Vec<Page>| v.into_iter().map(|p| (p.incident, p.level, p.at_ms)).collect::<Vec<_>>();
    assert_eq!(pages(book.escalate(0)), [(a, 0, 0), (b, 0, 0)]);
    assert_eq!(pages(book.escalate(4 * MIN)), []);
    assert_eq!(pages(book.escalate(5 * MIN)), [(a, 1, 5 * MIN), (b, 1, 5 * MIN)]);
    book.acknowledge(a, "ana", 6 * MIN).unwrap();
    // b: the list again (loops = 1), then nothing more.
    assert_eq!(pages(book.escalate(60 * MIN)), [(b, 0, 15 * MIN), (b, 1, 20 * MIN)]);
    assert_eq!(pages(book.escalate(600 * MIN)), []);
    let paged = book.get(b).unwrap().timeline.iter().filter(|e| matches!(e.action, Action::Paged { .. })).count();
    assert_eq!(paged, 4);
    assert_eq!(
        EscalationPolicy::new(vec![EscalationLevel { targets: vec![], delay_ms: MIN }], 0),
        Err(IncidentError::BadPolicy)
    );
    assert_eq!(
        EscalationPolicy::new(vec![EscalationLevel { targets: vec!["x".into()], delay_ms: 1 }], 0),
        Err(IncidentError::BadPolicy)
    );
}

#[test]
fn the_book_is_bounded() {
    let mut book = IncidentBook::new(policy());
    let first = book.open("first", Severity::Sev4, "ana", 0).unwrap();
    book.resolve(first, "ana", 0).unwrap();
    for i in 0..MAX_INCIDENTS {
        book.on_notification(&notification(&format!("g{i}"), NotifyKind::First, vec![alert("x", "sev4")], 0));
    }
    assert_eq!(book.list(false).len(), MAX_INCIDENTS);
    assert!(book.get(first).is_none(), "the resolved one went first");
    assert_eq!(book.list(true).len(), MAX_INCIDENTS);
}

#[test]
fn a_restored_book_goes_on_where_it_stopped() {
    let mut book = IncidentBook::new(policy());
    let a = book.on_notification(&notification("g:a", NotifyKind::First, vec![alert("a", "sev2")], 0)).unwrap().id;
    let b = book.open("Stands flooded", Severity::Sev2, "ana", 0).unwrap();
    book.resolve(b, "ana", MIN).unwrap();
    assert_eq!(book.escalate(0).len(), 1, "level 0 paged for a");
    // Written as JSON (the store's form) and read into a new book after a restart.
    let saved: Vec<String> = book.list(false).iter().map(|i| serde_json::to_string(i).unwrap()).collect();
    let mut again = IncidentBook::new(policy());
    for s in &saved {
        assert!(again.restore(serde_json::from_str(s).unwrap()));
    }
    assert!(!again.restore(serde_json::from_str(&saved[0]).unwrap()), "an id already held");
    assert_eq!(again.get(a), book.get(a));
    // The group's open incident is found again: a later notification joins it.
    let filed = again.on_notification(&notification("g:a", NotifyKind::Update, vec![alert("a", "sev1")], MIN)).unwrap();
    assert_eq!((filed.id, filed.opened), (a, false));
    // No page twice: level 0 was sent before the restart, level 1 is due at 5 min.
    assert!(again.escalate(MIN).is_empty());
    assert_eq!(again.escalate(5 * MIN).iter().map(|p| (p.incident, p.level)).collect::<Vec<_>>(), [(a, 1)]);
    // New incidents are numbered after the restored ones.
    assert!(again.open("Another", Severity::Sev4, "ana", MIN).unwrap() > b);
}
