use super::*;

fn doc(yaml: &str) -> Result<Model, ModelError> {
    Model::from_yaml(yaml)
}

#[test]
fn a_valid_document_is_indexed_in_dependency_order() {
    let m = doc("
venues: [{id: sdf, name: Stade de France}]
components:
  - {id: gate-1, kind: gate, venue: sdf, depends_on: [net], heartbeat: {interval_ms: 10000}}
  - {id: net, kind: network, venue: sdf, probe: {vantage_points: [a, b, c], down_when: 2, interval_ms: 10000}}
  - {id: pair, kind: group, redundancy: {type: active_standby, active: n1, standby: n2}}
  - {id: n1, kind: node}
  - {id: n2, kind: node}
services: [{id: entry, name: Entry, components: [gate-1]}]
")
    .unwrap();
    let pos = |id: &str| m.topological_order().position(|i| i == m.index_of(id).unwrap()).unwrap();
    assert!(pos("net") < pos("gate-1"));
    assert!(pos("n1") < pos("pair") && pos("n2") < pos("pair"));
    assert_eq!(m.component("gate-1").unwrap().heartbeat.unwrap().tolerance, 3);
    assert_eq!(m.component("net").unwrap().name, "net");
    assert_eq!(m.group_key(m.index_of("gate-1").unwrap()), "venue:sdf");
    assert_eq!(m.group_key(m.index_of("n2").unwrap()), "system:pair");
    assert_eq!(m.parent_of(m.index_of("n1").unwrap()), m.index_of("pair"));
}

#[test]
fn each_mistake_is_named() {
    let cases: &[(&str, ModelError)] = &[
        ("components: [{id: a, kind: node}, {id: a, kind: node}]", ModelError::Duplicate { what: "component", id: "a".into() }),
        (
            "components: [{id: a, kind: node, depends_on: [ghost]}]",
            ModelError::UnknownDependency { component: "a".into(), dependency: "ghost".into() },
        ),
        (
            "components: [{id: a, kind: node, degrades_with: [ghost]}]",
            ModelError::UnknownDependency { component: "a".into(), dependency: "ghost".into() },
        ),
        (
            "components: [{id: a, kind: node, venue: atlantis}]",
            ModelError::UnknownVenue { component: "a".into(), venue: "atlantis".into() },
        ),
        (
            "components: [{id: q, kind: group, redundancy: {type: quorum, members: [a], min_up: 2}}, {id: a, kind: node}]",
            ModelError::BadRedundancy { component: "q".into(), reason: "min_up 2 must be 1 to 1 (its members)".into() },
        ),
        (
            "components: [{id: q, kind: group, redundancy: {type: quorum, members: [a], min_up: 0}}, {id: a, kind: node}]",
            ModelError::BadRedundancy { component: "q".into(), reason: "min_up 0 must be 1 to 1 (its members)".into() },
        ),
        (
            "components: [{id: q, kind: group, redundancy: {type: active_standby, active: a, standby: a}}, {id: a, kind: node}]",
            ModelError::BadRedundancy { component: "q".into(), reason: "a member is listed twice".into() },
        ),
        (
            "components: [{id: q, kind: group, redundancy: {type: quorum, members: [a, zz], min_up: 1}}, {id: a, kind: node}]",
            ModelError::UnknownMember { component: "q".into(), member: "zz".into() },
        ),
        (
            "components: [{id: a, kind: node, probe: {vantage_points: [x], down_when: 2, interval_ms: 5000}}]",
            ModelError::BadProbe { component: "a".into(), reason: "down_when 2 must be 1 to 1 (its vantage points)".into() },
        ),
        (
            "components: [{id: a, kind: gate, heartbeat: {interval_ms: 10}}]",
            ModelError::BadHeartbeat { component: "a".into(), reason: "interval_ms must be 1 s to 1 day".into() },
        ),
        ("components: [{id: 'a b', kind: node}]", ModelError::BadId { id: "a b".into() }),
        (
            "components: [{id: a, kind: node}]\nservices: [{id: s, name: S, components: [b]}]",
            ModelError::UnknownComponent { service: "s".into(), component: "b".into() },
        ),
        (
            "venues: [{id: v, name: V}, {id: v, name: W}]\ncomponents: []",
            ModelError::Duplicate { what: "venue", id: "v".into() },
        ),
    ];
    for (yaml, want) in cases {
        assert_eq!(doc(yaml).unwrap_err(), *want, "{yaml}");
    }
    assert!(matches!(doc("components: [{id: a, kind: spaceship}]"), Err(ModelError::Parse(_))));
    assert!(matches!(doc("components: [{id: a, kind: node, colour: red}]"), Err(ModelError::Parse(_))));
    assert!(matches!(Model::from_json("{\"components\": [{\"id\": 1}]}"), Err(ModelError::Parse(_))));
}

#[test]
fn a_cycle_is_refused_with_its_path() {
    let err = doc("
components:
  - {id: a, kind: system, depends_on: [b]}
  - {id: b, kind: system, degrades_with: [c]}
  - {id: c, kind: group, redundancy: {type: quorum, members: [a], min_up: 1}}
")
    .unwrap_err();
    assert_eq!(err, ModelError::Cycle { path: vec!["a".into(), "b".into(), "c".into(), "a".into()] });
    assert_eq!(err.to_string(), "dependency cycle: a -> b -> c -> a");
    let own = doc("components: [{id: a, kind: system, depends_on: [a]}]").unwrap_err();
    assert_eq!(own, ModelError::Cycle { path: vec!["a".into(), "a".into()] });
    // A diamond is not a cycle.
    doc("
components:
  - {id: a, kind: system, depends_on: [b, c]}
  - {id: b, kind: system, depends_on: [d]}
  - {id: c, kind: system, depends_on: [d]}
  - {id: d, kind: system}
")
    .unwrap();
}

#[test]
fn a_member_belongs_to_one_group_and_sizes_are_bounded() {
    let err = doc("
components:
  - {id: n, kind: node}
  - {id: g1, kind: group, redundancy: {type: quorum, members: [n], min_up: 1}}
  - {id: g2, kind: group, redundancy: {type: quorum, members: [n], min_up: 1}}
")
    .unwrap_err();
    assert_eq!(err, ModelError::MemberTwice { member: "n".into(), first: "g1".into(), second: "g2".into() });
    let big = ModelDoc {
        components: (0..=MAX_COMPONENTS).map(|i| Component::new(&format!("c{i}"), Kind::Gate)).collect(),
        ..ModelDoc::default()
    };
    assert_eq!(Model::new(big).unwrap_err(), ModelError::TooMany { what: "components", max: MAX_COMPONENTS });
}

#[test]
fn a_long_chain_does_not_overflow_the_stack() {
    let components = (0..50_000)
        .map(|i| {
            let mut c = Component::new(&format!("c{i}"), Kind::Node);
            if i > 0 {
                c.depends_on.push(format!("c{}", i - 1));
            }
            c
        })
        .collect();
    let m = Model::new(ModelDoc { components, ..ModelDoc::default() }).unwrap();
    assert_eq!(m.topological_order().next(), Some(0));
    assert_eq!(m.topological_order().last(), Some(49_999));
}
