//! The demo model: three venues (Stade de France, Bercy Arena, the weightlifting venue in
//! Lille), each with its network, four gates (two needed), two desks and an active/standby
//! pair of result sources; the central systems, three Tessera nodes (a 2-of-3 quorum), an
//! active/standby PostgreSQL, NATS, the payment provider and mail; four public services.

use crate::model::{Component, HeartbeatSpec, Kind, Model, ModelDoc, ProbeSpec, PublicService, Redundancy, Venue};

/// Venues of the demo: (id, name).
pub const VENUES: [(&str, &str); 3] =
    [("sdf", "Stade de France"), ("bercy", "Bercy Arena"), ("lille", "Lille weightlifting")];
/// Vantage points probing from outside.
pub const OUTSIDE: [&str; 3] = ["toc-paris", "toc-barcelona", "cloud-eu"];
/// Vantage points probing from the nodes.
pub const INSIDE: [&str; 3] = ["tessera-node-1", "tessera-node-2", "tessera-node-3"];

fn probe(vantage: &[&str], interval_ms: i64) -> Option<ProbeSpec> {
    Some(ProbeSpec {
        vantage_points: vantage.iter().map(|v| v.to_string()).collect(),
        down_when: 2,
        interval_ms,
        max_age_ms: None,
    })
}

fn heartbeat(interval_ms: i64) -> Option<HeartbeatSpec> {
    Some(HeartbeatSpec { interval_ms, tolerance: 3, max_skew_ms: 5_000 })
}

fn comp(id: &str, name: &str, kind: Kind) -> Component {
    Component { name: name.into(), ..Component::new(id, kind) }
}

fn strings(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

/// The demo document (before checking), for examples and the YAML round trip.
pub fn demo_doc() -> ModelDoc {
    let mut c = Vec::new();
    for n in 1..=3 {
        let mut node = comp(&format!("tessera-node-{n}"), &format!("Tessera node {n}"), Kind::Node);
        node.heartbeat = heartbeat(5_000);
        c.push(node);
    }
    let mut cluster = comp("tessera-cluster", "Tessera cluster", Kind::Group);
    cluster.redundancy = Redundancy::Quorum { members: strings(&INSIDE), min_up: 2 };
    c.push(cluster);
    for (id, name) in [("postgres-primary", "PostgreSQL primary"), ("postgres-standby", "PostgreSQL standby")] {
        let mut pg = comp(id, name, Kind::Datastore);
        pg.probe = probe(&INSIDE, 5_000);
        c.push(pg);
    }
    let mut pg = comp("postgres", "PostgreSQL", Kind::Group);
    pg.redundancy = Redundancy::ActiveStandby { active: "postgres-primary".into(), standby: "postgres-standby".into() };
    c.push(pg);
    let mut nats = comp("nats", "NATS", Kind::Bus);
    nats.probe = probe(&INSIDE, 5_000);
    c.push(nats);
    for (id, name) in [("payment-provider", "Payment provider"), ("mail", "Mail")] {
        let mut p = comp(id, name, Kind::Provider);
        p.probe = probe(&OUTSIDE, 10_000);
        c.push(p);
    }
    let systems: [(&str, &str, &[&str], &[&str]); 6] = [
        ("shop", "Ticket shop", &["tessera-cluster", "postgres"], &["payment-provider", "mail"]),
        ("waiting-room", "Waiting room", &["tessera-cluster"], &[]),
        ("soc", "Security operations", &["tessera-cluster", "nats"], &[]),
        ("results", "Results", &["tessera-cluster", "nats"], &[]),
        ("accreditation", "Accreditation", &["tessera-cluster", "postgres"], &["mail"]),
        ("gate-service", "Gate service", &["tessera-cluster", "nats"], &[]),
    ];
    for (id, name, deps, degraders) in systems {
        let mut s = comp(id, name, Kind::System);
        s.depends_on = strings(deps);
        s.degrades_with = strings(degraders);
        s.probe = probe(&OUTSIDE, 10_000);
        c.push(s);
    }
    // The synthetic fan: a journey through the shop to the payment sandbox, from outside.
    let mut journey = comp("fan-journey", "Fan journey (synthetic purchase)", Kind::System);
    journey.depends_on = strings(&["shop"]);
    journey.probe = probe(&OUTSIDE, 10_000);
    c.push(journey);
    for (v, vname) in VENUES {
        let network = format!("{v}-network");
        let mut net = comp(&network, &format!("{vname} network"), Kind::Network);
        net.venue = Some(v.into());
        net.probe = probe(&["toc-paris", "toc-barcelona", &format!("{v}-4g")], 10_000);
        c.push(net);
        let mut device = |id: String, name: String, kind: Kind, interval_ms: i64| {
            let mut d = comp(&id, &name, kind);
            d.venue = Some(v.into());
            d.depends_on = vec![network.clone()];
            d.heartbeat = heartbeat(interval_ms);
            c.push(d);
            id
        };
        let gates: Vec<String> =
            (1..=4).map(|g| device(format!("{v}-gate-{g}"), format!("{vname} gate {g}"), Kind::Gate, 10_000)).collect();
        for d in 1..=2 {
            device(format!("{v}-desk-{d}"), format!("{vname} desk {d}"), Kind::Desk, 10_000);
        }
        let a = device(format!("{v}-results-a"), format!("{vname} result source A"), Kind::ResultSource, 5_000);
        let b = device(format!("{v}-results-b"), format!("{vname} result source B"), Kind::ResultSource, 5_000);
        let mut gg = comp(&format!("{v}-gates"), &format!("{vname} gates"), Kind::Group);
        gg.venue = Some(v.into());
        gg.redundancy = Redundancy::Quorum { members: gates, min_up: 2 };
        c.push(gg);
        let mut rs = comp(&format!("{v}-results"), &format!("{vname} results"), Kind::Group);
        rs.venue = Some(v.into());
        rs.redundancy = Redundancy::ActiveStandby { active: a, standby: b };
        c.push(rs);
    }
    let venue_ids = |suffix: &'static str| VENUES.iter().map(move |(v, _)| format!("{v}-{suffix}"));
    let services = vec![
        PublicService {
            id: "tickets".into(),
            name: "Tickets".into(),
            components: strings(&["shop", "waiting-room", "fan-journey"]),
        },
        PublicService {
            id: "results".into(),
            name: "Live results".into(),
            components: std::iter::once("results".to_string()).chain(venue_ids("results")).collect(),
        },
        PublicService {
            id: "accreditation".into(),
            name: "Accreditation".into(),
            components: strings(&["accreditation"]),
        },
        PublicService {
            id: "venue-entry".into(),
            name: "Venue entry".into(),
            components: std::iter::once("gate-service".to_string()).chain(venue_ids("gates")).collect(),
        },
    ];
    ModelDoc {
        venues: VENUES.iter().map(|(id, name)| Venue { id: (*id).into(), name: (*name).into() }).collect(),
        components: c,
        services,
    }
}

/// The demo model, checked.
pub fn demo() -> Model {
    Model::new(demo_doc()).expect("the demo model is valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_is_valid_and_survives_yaml_and_json() {
        let m = demo();
        assert_eq!(m.components().len(), 17 + 3 * 11);
        let yaml = serde_norway::to_string(&demo_doc()).unwrap();
        assert_eq!(Model::from_yaml(&yaml).unwrap().doc(), m.doc());
        let json = serde_json::to_string(&demo_doc()).unwrap();
        assert_eq!(Model::from_json(&json).unwrap().doc(), m.doc());
        assert_eq!(m.group_key(m.index_of("lille-results-b").unwrap()), "venue:lille");
        assert_eq!(m.group_key(m.index_of("tessera-node-2").unwrap()), "system:tessera-cluster");
        assert_eq!(m.group_key(m.index_of("postgres-primary").unwrap()), "system:postgres");
    }
}
