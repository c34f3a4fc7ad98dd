//! MISP events (the MISP core format, JSON): attributes of the types below in, Tessera's
//! decisions, watches and cases out as one event.
//!
//! MISP has no confidence per attribute; `to_ids` ("use this for detection") is what a
//! partner says about it, so it is read as [`TO_IDS_CONFIDENCE`] when set and
//! [`NOT_TO_IDS_CONFIDENCE`] when not, and written set for what Tessera blocks. MISP has no
//! expiry either: an imported attribute gets the importer's default.

use super::{
    clip, parse_json, rfc3339, stable_uuid, ExportCase, HashAlgo, Imported, Indicator, IndicatorKind, IntelError,
    Limits, MAX_DESCRIPTION_CHARS, MAX_SOURCE_CHARS,
};
use serde_json::{json, Value};

pub const TO_IDS_CONFIDENCE: u8 = 80;
pub const NOT_TO_IDS_CONFIDENCE: u8 = 40;
/// Confidence from which an exported attribute is marked `to_ids`.
pub const TO_IDS_FROM: u8 = 70;

/// Attribute types read, and written: MISP's own names.
pub const TYPES: [&str; 8] = ["ip-src", "ip-dst", "domain", "hostname", "url", "md5", "sha1", "sha256"];

/// Reads `{"Event": {...}}`, a list of such, or a MISP API answer `{"response": [...]}`.
/// Each event's attributes (and its objects' attributes) of a type in [`TYPES`] become
/// indicators; other types and deleted attributes are skipped and counted; a bad attribute
/// is refused and named by its uuid.
pub fn parse_misp_event(bytes: &[u8], limits: &Limits) -> Result<Imported, IntelError> {
    let doc = parse_json(bytes, limits)?;
    let events: Vec<&Value> = match &doc {
        Value::Object(o) if o.contains_key("Event") => vec![&doc],
        Value::Object(o) => match o.get("response") {
            Some(Value::Array(a)) => a.iter().collect(),
            _ => return Err(IntelError::Shape("not a MISP event: no \"Event\" and no \"response\" list".into())),
        },
        Value::Array(a) => a.iter().collect(),
        _ => return Err(IntelError::Shape("not a MISP event: neither an object nor a list".into())),
    };
    let mut attributes = Vec::new();
    for (n, wrapper) in events.iter().enumerate() {
        let Some(event) = wrapper.get("Event").filter(|e| e.is_object()) else {
            return Err(IntelError::Shape(format!("event {n} has no \"Event\" object")));
        };
        let source = event
            .get("Orgc")
            .and_then(|o| o.get("name"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| event.get("uuid").and_then(Value::as_str).map(|u| format!("misp event {u}")))
            .unwrap_or_else(|| "misp event".into());
        let info = event.get("info").and_then(Value::as_str).unwrap_or_default();
        let mut lists = vec![event.get("Attribute")];
        if let Some(Value::Array(objects)) = event.get("Object") {
            lists.extend(objects.iter().map(|o| o.get("Attribute")));
        }
        for list in lists {
            match list {
                None | Some(Value::Null) => {}
                Some(Value::Array(a)) => attributes.extend(a.iter().map(|x| (x, source.clone(), info))),
                Some(_) => return Err(IntelError::Shape(format!("event {n}: \"Attribute\" is not a list"))),
            }
        }
    }
    if attributes.len() > limits.max_objects {
        return Err(IntelError::TooManyObjects(attributes.len(), limits.max_objects));
    }
    let mut out = Imported::default();
    for (i, (a, source, info)) in attributes.into_iter().enumerate() {
        let id = a.get("uuid").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| format!("attribute {i}"));
        let (Some(ty), Some(value)) = (a.get("type"), a.get("value")) else {
            out.refuse(id, "an attribute needs a \"type\" and a \"value\"");
            continue;
        };
        let (Some(ty), Some(value)) = (ty.as_str(), value.as_str()) else {
            out.refuse(id, "\"type\" and \"value\" must be strings");
            continue;
        };
        if !TYPES.contains(&ty) || truthy(a.get("deleted")) == Some(true) {
            out.skipped += 1;
            continue;
        }
        let Some(to_ids) = truthy(a.get("to_ids")).or(a.get("to_ids").is_none().then_some(false)) else {
            out.refuse(id, "\"to_ids\" is not a boolean");
            continue;
        };
        let kind = match ty {
            "ip-src" | "ip-dst" => IndicatorKind::address_or_network(value),
            "domain" | "hostname" => IndicatorKind::domain(value),
            "url" => IndicatorKind::url(value),
            "md5" => IndicatorKind::hash(HashAlgo::Md5, value),
            "sha1" => IndicatorKind::hash(HashAlgo::Sha1, value),
            _ => IndicatorKind::hash(HashAlgo::Sha256, value),
        };
        let kind = match kind {
            Ok(k) => k,
            Err(why) => {
                out.refuse(id, why);
                continue;
            }
        };
        let comment = a.get("comment").and_then(Value::as_str).filter(|c| !c.is_empty()).unwrap_or(info);
        out.indicators.push(Indicator {
            kind,
            source: clip(&source, MAX_SOURCE_CHARS),
            confidence: if to_ids { TO_IDS_CONFIDENCE } else { NOT_TO_IDS_CONFIDENCE },
            valid_until: None,
            description: clip(comment, MAX_DESCRIPTION_CHARS),
        });
    }
    Ok(out)
}

/// A MISP boolean: JSON `true`/`false`, or as older instances write them, `"1"`/`"0"` and
/// `1`/`0`. `None` when absent or anything else.
fn truthy(v: Option<&Value>) -> Option<bool> {
    match v? {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s == "1" || s == "0" => Some(s == "1"),
        Value::Number(n) if n.as_u64() == Some(1) || n.as_u64() == Some(0) => Some(n.as_u64() == Some(1)),
        _ => None,
    }
}

/// The MISP type and category of an indicator.
pub fn type_of(kind: &IndicatorKind) -> (&'static str, &'static str) {
    match kind {
        IndicatorKind::Address(_) | IndicatorKind::Network(_) => ("ip-src", "Network activity"),
        IndicatorKind::Domain(_) => ("domain", "Network activity"),
        IndicatorKind::Url(_) => ("url", "Network activity"),
        IndicatorKind::FileHash { algo: HashAlgo::Md5, .. } => ("md5", "Payload delivery"),
        IndicatorKind::FileHash { algo: HashAlgo::Sha1, .. } => ("sha1", "Payload delivery"),
        IndicatorKind::FileHash { algo: HashAlgo::Sha256, .. } => ("sha256", "Payload delivery"),
    }
}

fn value_of(kind: &IndicatorKind) -> String {
    match kind {
        IndicatorKind::Address(ip) => ip.to_string(),
        IndicatorKind::Network(n) => n.to_string(),
        IndicatorKind::Domain(d) | IndicatorKind::Url(d) => d.clone(),
        IndicatorKind::FileHash { hex, .. } => hex.clone(),
    }
}

/// One MISP event (core format) of Tessera's indicators, attributes of the types in
/// [`TYPES`] (addresses as `ip-src`: they are where attacks came from), and its cases as
/// `comment` attributes (not for detection). Unpublished, distribution "your organisation
/// only": sharing further is the receiving analyst's choice. Expired indicators are left out.
pub fn to_misp_event(org_name: &str, items: &[Indicator], cases: &[ExportCase], now_s: i64) -> Value {
    let ts = now_s.max(0).to_string();
    let date = rfc3339(now_s)[..10].to_string();
    let mut attributes = Vec::new();
    for ind in items.iter().filter(|i| i.valid_until.is_none_or(|u| u > now_s)) {
        let (ty, category) = type_of(&ind.kind);
        attributes.push(json!({
            "uuid": stable_uuid(&format!("misp {}", ind.kind.key())),
            "type": ty, "category": category, "value": value_of(&ind.kind),
            "to_ids": ind.confidence >= TO_IDS_FROM,
            "distribution": "5", "timestamp": ts, "deleted": false,
            "comment": clip(&format!("{}: {}", ind.source, ind.description), 250),
        }));
    }
    for c in cases {
        attributes.push(json!({
            "uuid": stable_uuid(&format!("misp case {} {}", c.id, c.first_s)),
            "type": "comment", "category": "Other",
            "value": format!("Tessera SOC case {} ({}): {}", c.id, c.state, clip(&c.title, 200)),
            "to_ids": false, "distribution": "5", "timestamp": c.last_s.max(0).to_string(), "deleted": false,
            "comment": "",
        }));
    }
    json!({"Event": {
        "uuid": stable_uuid(&format!("misp event {org_name} {now_s}")),
        "info": clip(&format!("{org_name}: indicators and cases"), 256),
        "date": date, "timestamp": ts, "publish_timestamp": "0", "published": false,
        "org_id": "0", "orgc_id": "0",
        "Orgc": {"name": clip(org_name, MAX_SOURCE_CHARS), "uuid": stable_uuid(&format!("org {org_name}"))},
        "distribution": "0", "threat_level_id": "2", "analysis": "1",
        "Attribute": attributes,
        "Tag": [{"name": "tlp:amber"}],
    }})
}
