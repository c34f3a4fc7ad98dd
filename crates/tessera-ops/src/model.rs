//! The model of what the TOC watches: venues, components (central systems, Tessera nodes,
//! datastores, the bus, external providers, venue networks and devices), each with its
//! redundancy and what it depends on, and the public services of the status page.
//!
//! A model is read from a YAML or JSON document ([`ModelDoc`]) and checked whole by
//! [`Model::new`]: one error refuses the document, naming the component and the reason (a
//! duplicate id, an unknown dependency, a bad quorum, a dependency cycle with its path). A
//! [`Model`] can only hold a valid document, indexed for the state engine: components get dense
//! indices and a topological order (everything a component needs comes before it).
//!
//! Three kinds of edge, all part of one acyclic graph:
//! - `depends_on`: reachability. A component whose own checks fail while a dependency is down
//!   is *unreachable*, not down (Nagios' parent rule): a venue behind a cut network shows one
//!   cause, not forty failures.
//! - `degrades_with`: a dependency whose loss degrades the component without hiding it (the
//!   shop without its payment provider still sells nothing, but is up and says why).
//! - redundancy members: a logical component whose state is derived from its members
//!   (an active/standby pair, an N-of-M quorum).

use crate::incidents::Severity;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

/// Components a model holds at most; a larger document is refused.
pub const MAX_COMPONENTS: usize = 100_000;
/// Venues a model holds at most.
pub const MAX_VENUES: usize = 10_000;
/// Public services (status page entries) a model holds at most.
pub const MAX_SERVICES: usize = 1_000;
/// Edges (dependencies, degraders, members) one component may have at most.
pub const MAX_EDGES: usize = 1_024;
/// Vantage points one probe may have at most.
pub const MAX_VANTAGE_POINTS: usize = 16;
/// Longest id, in bytes (ids are ASCII).
pub const MAX_ID_LEN: usize = 128;
/// Longest document accepted by [`Model::from_yaml`] and [`Model::from_json`], in bytes.
pub const MAX_DOC_BYTES: usize = 64 << 20;

/// What a component is; it sets the default severity of its alerts and what inhibits them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A central capability: the shop, the waiting room, the SOC, results, accreditation.
    System,
    /// One Tessera node.
    Node,
    /// PostgreSQL and the like.
    Datastore,
    /// NATS.
    Bus,
    /// Outside the event's control: the payment provider, mail.
    Provider,
    /// A venue's network.
    Network,
    /// A gate agent.
    Gate,
    /// An accreditation desk.
    Desk,
    /// A venue's result source (timing, scoring).
    ResultSource,
    /// A logical component made of redundant members.
    Group,
}

impl Kind {
    /// The snake_case name used in labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::System => "system",
            Kind::Node => "node",
            Kind::Datastore => "datastore",
            Kind::Bus => "bus",
            Kind::Provider => "provider",
            Kind::Network => "network",
            Kind::Gate => "gate",
            Kind::Desk => "desk",
            Kind::ResultSource => "result_source",
            Kind::Group => "group",
        }
    }

    /// A device at a venue that pushes heartbeats.
    pub fn is_device(self) -> bool {
        matches!(self, Kind::Gate | Kind::Desk | Kind::ResultSource)
    }

    /// Severity of this kind's "down" alert unless the component says otherwise.
    pub fn default_severity(self) -> Severity {
        match self {
            Kind::System | Kind::Datastore | Kind::Bus | Kind::Network | Kind::Group => Severity::Sev2,
            Kind::Provider => Severity::Sev3,
            Kind::Node | Kind::Gate | Kind::Desk | Kind::ResultSource => Severity::Sev4,
        }
    }
}

/// A venue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Venue {
    pub id: String,
    pub name: String,
}

/// A component that pushes heartbeats. Silent for longer than `interval_ms × tolerance`, it is
/// down: detection time ≤ `interval_ms × tolerance` + the evaluation period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatSpec {
    pub interval_ms: i64,
    /// Missed heartbeats tolerated before down (default 3).
    #[serde(default = "default_tolerance")]
    pub tolerance: u32,
    /// A device clock further than this from the receiver's degrades the device (default 5 s).
    #[serde(default = "default_max_skew_ms")]
    pub max_skew_ms: i64,
}

fn default_tolerance() -> u32 {
    3
}

fn default_max_skew_ms() -> i64 {
    5_000
}

impl HeartbeatSpec {
    /// The longest silence still counted as up.
    pub fn silence_bound_ms(&self) -> i64 {
        self.interval_ms.saturating_mul(i64::from(self.tolerance))
    }
}

/// A component probed from several vantage points: down only when `down_when` (N) of the
/// `vantage_points` (M) report a failure no older than `max_age_ms`.
/// Detection time ≤ `interval_ms` + the evaluation period, once N vantage points see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeSpec {
    pub vantage_points: Vec<String>,
    pub down_when: u32,
    pub interval_ms: i64,
    /// Older results are ignored (default 3 × `interval_ms`).
    #[serde(default)]
    pub max_age_ms: Option<i64>,
}

impl ProbeSpec {
    /// How old a result may be and still count.
    pub fn max_age(&self) -> i64 {
        self.max_age_ms.unwrap_or(self.interval_ms.saturating_mul(3))
    }
}

/// How a component survives the loss of a part.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Redundancy {
    /// No redundancy: the component is its own checks.
    #[default]
    Single,
    /// Two members, one needed.
    ActiveStandby { active: String, standby: String },
    /// M members, `min_up` (N) needed.
    Quorum { members: Vec<String>, min_up: u32 },
}

impl Redundancy {
    /// The members, in order (empty for [`Redundancy::Single`]).
    pub fn members(&self) -> Vec<&str> {
        match self {
            Redundancy::Single => Vec::new(),
            Redundancy::ActiveStandby { active, standby } => vec![active, standby],
            Redundancy::Quorum { members, .. } => members.iter().map(String::as_str).collect(),
        }
    }

    /// Members that must be up.
    pub fn needed(&self) -> usize {
        match self {
            Redundancy::Single => 0,
            Redundancy::ActiveStandby { .. } => 1,
            Redundancy::Quorum { min_up, .. } => *min_up as usize,
        }
    }
}

/// One watched thing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Component {
    pub id: String,
    #[serde(default)]
    pub name: String,
    pub kind: Kind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub venue: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub degrades_with: Vec<String>,
    #[serde(default)]
    pub redundancy: Redundancy,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat: Option<HeartbeatSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<ProbeSpec>,
    /// Severity of its "down" alert; default from its kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
}

impl Component {
    /// A component of `kind` with no checks, edges or redundancy.
    pub fn new(id: &str, kind: Kind) -> Component {
        Component {
            id: id.into(),
            name: id.into(),
            kind,
            venue: None,
            depends_on: Vec::new(),
            degrades_with: Vec::new(),
            redundancy: Redundancy::Single,
            heartbeat: None,
            probe: None,
            severity: None,
        }
    }
}

/// A line of the public status page: what fans and media see, rolled up from components.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicService {
    pub id: String,
    pub name: String,
    pub components: Vec<String>,
}

/// The document as written, before it is checked.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelDoc {
    #[serde(default)]
    pub venues: Vec<Venue>,
    pub components: Vec<Component>,
    #[serde(default)]
    pub services: Vec<PublicService>,
}

/// Why a model was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    #[error("the document does not parse: {0}")]
    Parse(String),
    #[error("too many {what}: at most {max}")]
    TooMany { what: &'static str, max: usize },
    #[error("bad id {id:?}: 1 to {MAX_ID_LEN} characters among a-z A-Z 0-9 . _ - :")]
    BadId { id: String },
    #[error("duplicate {what} id {id:?}")]
    Duplicate { what: &'static str, id: String },
    #[error("component {component:?} depends on unknown component {dependency:?}")]
    UnknownDependency { component: String, dependency: String },
    #[error("component {component:?} has unknown member {member:?}")]
    UnknownMember { component: String, member: String },
    #[error("component {component:?} is at unknown venue {venue:?}")]
    UnknownVenue { component: String, venue: String },
    #[error("service {service:?} names unknown component {component:?}")]
    UnknownComponent { service: String, component: String },
    #[error("component {component:?}: bad redundancy: {reason}")]
    BadRedundancy { component: String, reason: String },
    #[error("component {member:?} is a member of both {first:?} and {second:?}")]
    MemberTwice { member: String, first: String, second: String },
    #[error("component {component:?}: bad heartbeat: {reason}")]
    BadHeartbeat { component: String, reason: String },
    #[error("component {component:?}: bad probe: {reason}")]
    BadProbe { component: String, reason: String },
    #[error("dependency cycle: {}", path.join(" -> "))]
    Cycle { path: Vec<String> },
}

/// A checked, indexed model. Components are addressed by their position in
/// [`Model::components`].
#[derive(Debug, Clone)]
pub struct Model {
    doc: ModelDoc,
    index: HashMap<String, usize>,
    pub(crate) order: Vec<u32>,
    pub(crate) deps: Vec<Vec<u32>>,
    pub(crate) degraders: Vec<Vec<u32>>,
    pub(crate) members: Vec<Vec<u32>>,
    pub(crate) parent: Vec<Option<u32>>,
    pub(crate) group_keys: Vec<String>,
    pub(crate) services: Vec<Vec<u32>>,
}

fn check_id(id: &str) -> Result<(), ModelError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':'));
    if ok {
        Ok(())
    } else {
        Err(ModelError::BadId { id: id.chars().take(MAX_ID_LEN + 8).collect() })
    }
}

fn too_many(n: usize, max: usize, what: &'static str) -> Result<(), ModelError> {
    if n > max {
        return Err(ModelError::TooMany { what, max });
    }
    Ok(())
}

impl Model {
    /// Reads and checks a YAML document.
    pub fn from_yaml(text: &str) -> Result<Model, ModelError> {
        too_many(text.len(), MAX_DOC_BYTES, "bytes")?;
        let doc: ModelDoc = serde_norway::from_str(text).map_err(|e| ModelError::Parse(e.to_string()))?;
        Model::new(doc)
    }

    /// Reads and checks a JSON document.
    pub fn from_json(text: &str) -> Result<Model, ModelError> {
        too_many(text.len(), MAX_DOC_BYTES, "bytes")?;
        let doc: ModelDoc = serde_json::from_str(text).map_err(|e| ModelError::Parse(e.to_string()))?;
        Model::new(doc)
    }

    /// Checks a document whole; the first error found refuses it.
    pub fn new(mut doc: ModelDoc) -> Result<Model, ModelError> {
        too_many(doc.components.len(), MAX_COMPONENTS, "components")?;
        too_many(doc.venues.len(), MAX_VENUES, "venues")?;
        too_many(doc.services.len(), MAX_SERVICES, "services")?;
        let mut venues = HashSet::new();
        for v in &doc.venues {
            check_id(&v.id)?;
            if !venues.insert(v.id.as_str()) {
                return Err(ModelError::Duplicate { what: "venue", id: v.id.clone() });
            }
        }
        let mut index = HashMap::with_capacity(doc.components.len());
        for (i, c) in doc.components.iter().enumerate() {
            check_id(&c.id)?;
            if index.insert(c.id.clone(), i).is_some() {
                return Err(ModelError::Duplicate { what: "component", id: c.id.clone() });
            }
        }
        let n = doc.components.len();
        let (mut deps, mut degraders, mut members) = (vec![], vec![], vec![]);
        let mut parent: Vec<Option<u32>> = vec![None; n];
        for (i, c) in doc.components.iter().enumerate() {
            check_component(c, &venues)?;
            let look = |id: &String, unknown: fn(String, String) -> ModelError| {
                index.get(id).map(|&j| j as u32).ok_or_else(|| unknown(c.id.clone(), id.clone()))
            };
            let dep_err = |component, dependency| ModelError::UnknownDependency { component, dependency };
            let d = c.depends_on.iter().map(|id| look(id, dep_err)).collect::<Result<Vec<_>, _>>()?;
            let g = c.degrades_with.iter().map(|id| look(id, dep_err)).collect::<Result<Vec<_>, _>>()?;
            let member_err = |component, member| ModelError::UnknownMember { component, member };
            let mut m = Vec::new();
            for id in c.redundancy.members() {
                let j = look(&id.to_string(), member_err)?;
                if let Some(first) = parent[j as usize] {
                    return Err(ModelError::MemberTwice {
                        member: id.into(),
                        first: doc.components[first as usize].id.clone(),
                        second: c.id.clone(),
                    });
                }
                parent[j as usize] = Some(i as u32);
                m.push(j);
            }
            deps.push(d);
            degraders.push(g);
            members.push(m);
        }
        let order = topological(&doc, &deps, &degraders, &members)?;
        let mut services = Vec::with_capacity(doc.services.len());
        let mut seen = HashSet::new();
        for s in &doc.services {
            check_id(&s.id)?;
            if !seen.insert(s.id.as_str()) {
                return Err(ModelError::Duplicate { what: "service", id: s.id.clone() });
            }
            too_many(s.components.len(), MAX_EDGES, "components in one service")?;
            let ids = s.components.iter().map(|id| {
                index
                    .get(id)
                    .map(|&j| j as u32)
                    .ok_or_else(|| ModelError::UnknownComponent { service: s.id.clone(), component: id.clone() })
            });
            services.push(ids.collect::<Result<Vec<_>, _>>()?);
        }
        for c in &mut doc.components {
            if c.name.is_empty() {
                c.name = c.id.clone();
            }
        }
        let group_keys = (0..n).map(|i| group_key(&doc, &parent, i)).collect();
        Ok(Model { doc, index, order, deps, degraders, members, parent, group_keys, services })
    }

    /// The checked document.
    pub fn doc(&self) -> &ModelDoc {
        &self.doc
    }

    /// Every component, by index.
    pub fn components(&self) -> &[Component] {
        &self.doc.components
    }

    /// The index of component `id`.
    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }

    /// The component `id`.
    pub fn component(&self, id: &str) -> Option<&Component> {
        self.index_of(id).map(|i| &self.doc.components[i])
    }

    /// The redundancy component `i` is a member of, if any.
    pub fn parent_of(&self, i: usize) -> Option<usize> {
        self.parent.get(i).copied().flatten().map(|p| p as usize)
    }

    /// The alert group a failure of component `i` belongs to: `venue:<id>` for anything at a
    /// venue, else `system:<id>` of its outermost redundancy component (or itself), so that
    /// a lost node and the cluster's lost headroom make one incident.
    pub fn group_key(&self, i: usize) -> &str {
        &self.group_keys[i]
    }

    /// Components in an order where every component comes after what it needs.
    pub fn topological_order(&self) -> impl Iterator<Item = usize> + '_ {
        self.order.iter().map(|&i| i as usize)
    }
}

fn check_component(c: &Component, venues: &HashSet<&str>) -> Result<(), ModelError> {
    let edges = c.depends_on.len() + c.degrades_with.len() + c.redundancy.members().len();
    too_many(edges, MAX_EDGES, "edges on one component")?;
    if let Some(v) = &c.venue {
        if !venues.contains(v.as_str()) {
            return Err(ModelError::UnknownVenue { component: c.id.clone(), venue: v.clone() });
        }
    }
    let bad = |reason: &str| ModelError::BadRedundancy { component: c.id.clone(), reason: reason.into() };
    let members = c.redundancy.members();
    let distinct: HashSet<&str> = members.iter().copied().collect();
    if distinct.len() != members.len() {
        return Err(bad("a member is listed twice"));
    }
    if members.contains(&c.id.as_str()) {
        return Err(bad("a component cannot be its own member"));
    }
    if let Redundancy::Quorum { members, min_up } = &c.redundancy {
        if members.is_empty() {
            return Err(bad("a quorum needs members"));
        }
        if *min_up == 0 || *min_up as usize > members.len() {
            return Err(bad(&format!("min_up {min_up} must be 1 to {} (its members)", members.len())));
        }
    }
    if let Some(h) = &c.heartbeat {
        let reason = if !(1_000..=86_400_000).contains(&h.interval_ms) {
            Some("interval_ms must be 1 s to 1 day")
        } else if !(1..=100).contains(&h.tolerance) {
            Some("tolerance must be 1 to 100")
        } else if !(0..=86_400_000).contains(&h.max_skew_ms) {
            Some("max_skew_ms must be 0 to 1 day")
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(ModelError::BadHeartbeat { component: c.id.clone(), reason: reason.into() });
        }
    }
    if let Some(p) = &c.probe {
        let m = p.vantage_points.len();
        let vantage: HashSet<&str> = p.vantage_points.iter().map(String::as_str).collect();
        let reason = if m == 0 || m > MAX_VANTAGE_POINTS {
            Some(format!("1 to {MAX_VANTAGE_POINTS} vantage points"))
        } else if vantage.len() != m {
            Some("a vantage point is listed twice".into())
        } else if p.down_when == 0 || p.down_when as usize > m {
            Some(format!("down_when {} must be 1 to {m} (its vantage points)", p.down_when))
        } else if !(1_000..=86_400_000).contains(&p.interval_ms) {
            Some("interval_ms must be 1 s to 1 day".into())
        } else if !(1_000..=7 * 86_400_000).contains(&p.max_age()) {
            Some("max_age_ms must be 1 s to 7 days".into())
        } else {
            p.vantage_points.iter().find(|v| check_id(v).is_err()).map(|v| format!("bad vantage point id {v:?}"))
        };
        if let Some(reason) = reason {
            return Err(ModelError::BadProbe { component: c.id.clone(), reason });
        }
    }
    Ok(())
}

/// Depth-first, iterative (a 100,000-long chain must not overflow the stack); post-order is a
/// topological order; a grey node met again closes a cycle, reported with its path.
fn topological(doc: &ModelDoc, deps: &[Vec<u32>], deg: &[Vec<u32>], mem: &[Vec<u32>]) -> Result<Vec<u32>, ModelError> {
    let n = deps.len();
    let edges = |i: usize| deps[i].iter().chain(&deg[i]).chain(&mem[i]).copied();
    let mut colour = vec![0u8; n]; // 0 white, 1 grey (on the stack), 2 black
    let mut order = Vec::with_capacity(n);
    let mut stack: Vec<(u32, usize)> = Vec::new();
    for root in 0..n {
        if colour[root] != 0 {
            continue;
        }
        colour[root] = 1;
        stack.push((root as u32, 0));
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            let node = node as usize;
            match edges(node).nth(*next) {
                Some(child) => {
                    *next += 1;
                    match colour[child as usize] {
                        0 => {
                            colour[child as usize] = 1;
                            stack.push((child, 0));
                        }
                        1 => {
                            let from = stack.iter().position(|&(s, _)| s == child).unwrap_or(0);
                            let mut path: Vec<String> =
                                stack[from..].iter().map(|&(s, _)| doc.components[s as usize].id.clone()).collect();
                            path.push(doc.components[child as usize].id.clone());
                            return Err(ModelError::Cycle { path });
                        }
                        _ => {}
                    }
                }
                None => {
                    colour[node] = 2;
                    order.push(node as u32);
                    stack.pop();
                }
            }
        }
    }
    Ok(order)
}

fn group_key(doc: &ModelDoc, parent: &[Option<u32>], i: usize) -> String {
    let mut top = i;
    // Members form part of the acyclic graph, so this ends; bounded anyway.
    for _ in 0..parent.len() {
        match parent[top] {
            Some(p) => top = p as usize,
            None => break,
        }
    }
    let c = &doc.components;
    match c[i].venue.as_ref().or(c[top].venue.as_ref()) {
        Some(v) => format!("venue:{v}"),
        None => format!("system:{}", c[top].id),
    }
}

#[cfg(test)]
mod tests;
