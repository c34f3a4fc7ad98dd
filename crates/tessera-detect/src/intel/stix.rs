//! STIX 2.1 bundles: `indicator` objects with simple patterns in, Tessera's decisions,
//! watches and cases out (an `identity` for Tessera, an `indicator` per entry, a `grouping`
//! per case).

use super::{
    clip, parse_json, parse_rfc3339, rfc3339, stable_uuid, ExportCase, HashAlgo, Imported, Indicator, IndicatorKind,
    IntelError, Limits, DEFAULT_CONFIDENCE, MAX_DESCRIPTION_CHARS, MAX_SOURCE_CHARS,
};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;

/// Comparisons in one pattern at most.
pub const MAX_COMPARISONS: usize = 64;

/// The fields of an indicator this reader uses; a field of the wrong JSON type refuses the
/// object, an unknown field is ignored (STIX allows custom properties).
#[derive(Deserialize)]
struct StixIndicator {
    pattern: String,
    pattern_type: String,
    valid_from: String,
    #[serde(default)]
    valid_until: Option<String>,
    #[serde(default)]
    confidence: Option<u8>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    revoked: Option<bool>,
    #[serde(default)]
    created_by_ref: Option<String>,
}

/// Reads a bundle: every `indicator` whose pattern is in the simple subset becomes one
/// indicator per value it names; other objects are skipped and counted; a bad indicator is
/// refused and named. A document too big, too deep, not JSON or not a bundle is refused whole.
pub fn parse_stix_bundle(bytes: &[u8], limits: &Limits) -> Result<Imported, IntelError> {
    let doc = parse_json(bytes, limits)?;
    if doc.get("type").and_then(Value::as_str) != Some("bundle") {
        return Err(IntelError::Shape("not a STIX bundle: its \"type\" is not \"bundle\"".into()));
    }
    let bundle_id = doc.get("id").and_then(Value::as_str).map(|s| clip(s, 100)).unwrap_or_else(|| "bundle".into());
    let objects = match doc.get("objects") {
        None => return Ok(Imported::default()),
        Some(Value::Array(a)) => a,
        Some(_) => return Err(IntelError::Shape("the bundle's \"objects\" is not a list".into())),
    };
    if objects.len() > limits.max_objects {
        return Err(IntelError::TooManyObjects(objects.len(), limits.max_objects));
    }
    // Identities first, so that an indicator's source is a name whichever order they come in.
    let identities: HashMap<&str, &str> = objects
        .iter()
        .filter(|o| o.get("type").and_then(Value::as_str) == Some("identity"))
        .filter_map(|o| Some((o.get("id")?.as_str()?, o.get("name")?.as_str()?)))
        .collect();
    let mut out = Imported::default();
    for (i, o) in objects.iter().enumerate() {
        let id = o.get("id").and_then(Value::as_str).map(|s| s.to_string()).unwrap_or_else(|| format!("object {i}"));
        let Some(ty) = o.get("type") else {
            out.refuse(id, "no \"type\"");
            continue;
        };
        let Some(ty) = ty.as_str() else {
            out.refuse(id, "\"type\" is not a string");
            continue;
        };
        if ty != "indicator" {
            out.skipped += 1;
            continue;
        }
        let ind: StixIndicator = match serde_json::from_value(o.clone()) {
            Ok(x) => x,
            Err(e) => {
                out.refuse(id, format!("not a valid indicator: {e}"));
                continue;
            }
        };
        if ind.pattern_type != "stix" {
            out.refuse(id, format!("pattern type {:?} is not read (only \"stix\")", clip(&ind.pattern_type, 40)));
            continue;
        }
        if ind.revoked == Some(true) {
            out.refuse(id, "revoked by its creator");
            continue;
        }
        if parse_rfc3339(&ind.valid_from).is_none() {
            out.refuse(id, "\"valid_from\" is not an RFC 3339 timestamp");
            continue;
        }
        let valid_until = match ind.valid_until.as_deref().map(parse_rfc3339) {
            None => None,
            Some(Some(t)) => Some(t),
            Some(None) => {
                out.refuse(id, "\"valid_until\" is not an RFC 3339 timestamp");
                continue;
            }
        };
        if ind.confidence.is_some_and(|c| c > 100) {
            out.refuse(id, "\"confidence\" is over 100");
            continue;
        }
        let kinds = match read_pattern(&ind.pattern, limits.max_string) {
            Ok(k) => k,
            Err(why) => {
                out.refuse(id, format!("pattern not taken: {why}"));
                continue;
            }
        };
        let source = match ind.created_by_ref.as_deref() {
            Some(r) => identities.get(r).map_or(r, |n| *n),
            None => bundle_id.as_str(),
        };
        let description = ind.description.or(ind.name).unwrap_or_default();
        for kind in kinds {
            out.indicators.push(Indicator {
                kind,
                source: clip(source, MAX_SOURCE_CHARS),
                confidence: ind.confidence.unwrap_or(DEFAULT_CONFIDENCE),
                valid_until,
                description: clip(&description, MAX_DESCRIPTION_CHARS),
            });
        }
    }
    Ok(out)
}

/// Reads the subset of STIX patterning that names values: observation expressions
/// `[object:property = 'value']`, each holding comparisons joined by `OR`, joined by `OR`.
/// Anything else (`AND`, other operators, qualifiers, `FOLLOWEDBY`, properties other than
/// those below) is refused with the reason. A hand-written scanner: linear, no regex, no
/// recursion.
pub fn read_pattern(pattern: &str, max_len: usize) -> Result<Vec<IndicatorKind>, String> {
    if pattern.len() > max_len {
        return Err(format!("longer than {max_len} bytes"));
    }
    let mut s = Scanner { b: pattern.as_bytes(), i: 0 };
    let mut out = Vec::new();
    loop {
        s.ws();
        if !s.eat(b'[') {
            return Err(format!("expected '[' at {}", s.i));
        }
        loop {
            s.ws();
            let object = s.word(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !s.eat(b':') {
                return Err(format!("expected 'object:property' at {}", s.i));
            }
            let path = s.path()?;
            s.ws();
            if !s.eat(b'=') || s.peek() == Some(b'=') {
                return Err(format!("only '=' comparisons are read (at {})", s.i));
            }
            s.ws();
            let value = s.string()?;
            out.push(kind_of(&object, &path, &value)?);
            if out.len() > super::stix::MAX_COMPARISONS {
                return Err(format!("more than {MAX_COMPARISONS} comparisons"));
            }
            s.ws();
            if s.eat(b']') {
                break;
            }
            if !s.keyword("OR") {
                return Err(format!("only OR joins comparisons (at {})", s.i));
            }
        }
        s.ws();
        if s.i == s.b.len() {
            return Ok(out);
        }
        if !s.keyword("OR") {
            return Err(format!("qualifiers and operators other than OR are not read (at {})", s.i));
        }
    }
}

/// The indicator one comparison names.
fn kind_of(object: &str, path: &str, value: &str) -> Result<IndicatorKind, String> {
    match (object, path) {
        ("ipv4-addr" | "ipv6-addr", "value") => {
            let k = IndicatorKind::address_or_network(value)?;
            let v4 = match &k {
                IndicatorKind::Address(ip) => ip.is_ipv4(),
                IndicatorKind::Network(n) => matches!(n, ipnet::IpNet::V4(_)),
                _ => false,
            };
            if v4 != (object == "ipv4-addr") {
                return Err(format!("{value:?} is not an {object}"));
            }
            Ok(k)
        }
        ("domain-name", "value") => IndicatorKind::domain(value),
        ("url", "value") => IndicatorKind::url(value),
        ("file", p) => {
            let algo = match p {
                "hashes.MD5" | "hashes.'MD5'" => HashAlgo::Md5,
                "hashes.'SHA-1'" | "hashes.SHA1" | "hashes.'SHA1'" => HashAlgo::Sha1,
                "hashes.'SHA-256'" | "hashes.SHA256" | "hashes.'SHA256'" => HashAlgo::Sha256,
                _ => return Err(format!("file property {} is not read", clip(p, 40))),
            };
            IndicatorKind::hash(algo, value)
        }
        _ => Err(format!("{}:{} is not read", clip(object, 40), clip(path, 40))),
    }
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn ws(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn word(&mut self, ok: impl Fn(u8) -> bool) -> String {
        let start = self.i;
        while self.peek().is_some_and(&ok) {
            self.i += 1;
        }
        String::from_utf8_lossy(&self.b[start..self.i]).into_owned()
    }

    /// `OR` followed by white space or a bracket (so that `ORx` is not it).
    fn keyword(&mut self, k: &str) -> bool {
        let end = self.i + k.len();
        if self.b.get(self.i..end) == Some(k.as_bytes())
            && self.b.get(end).is_none_or(|b| b.is_ascii_whitespace() || *b == b'[')
        {
            self.i = end;
            true
        } else {
            false
        }
    }

    /// A property path: names and quoted names joined by dots (`hashes.'SHA-256'`), kept as
    /// written.
    fn path(&mut self) -> Result<String, String> {
        let start = self.i;
        loop {
            if self.peek() == Some(b'\'') {
                self.string()?;
            } else if self.word(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-').is_empty() {
                return Err(format!("expected a property name at {}", self.i));
            }
            if !self.eat(b'.') {
                break;
            }
        }
        Ok(String::from_utf8_lossy(&self.b[start..self.i]).into_owned())
    }

    /// A single-quoted string; `\'` and `\\` are its only escapes.
    fn string(&mut self) -> Result<String, String> {
        if !self.eat(b'\'') {
            return Err(format!("expected a quoted string at {}", self.i));
        }
        let mut v = Vec::new();
        loop {
            match self.peek() {
                None => return Err("a string is not closed".into()),
                Some(b'\'') => {
                    self.i += 1;
                    break;
                }
                Some(b'\\') => {
                    self.i += 1;
                    match self.peek() {
                        Some(c @ (b'\'' | b'\\')) => v.push(c),
                        _ => return Err(format!("unknown escape at {}", self.i)),
                    }
                    self.i += 1;
                }
                Some(c) => {
                    v.push(c);
                    self.i += 1;
                }
            }
        }
        String::from_utf8(v).map_err(|_| "a string is not UTF-8".into())
    }
}

/// The pattern naming one indicator.
pub fn pattern_of(kind: &IndicatorKind) -> String {
    fn q(s: &str) -> String {
        s.replace('\\', "\\\\").replace('\'', "\\'")
    }
    match kind {
        IndicatorKind::Address(ip) => {
            format!("[{}:value = '{ip}']", if ip.is_ipv4() { "ipv4-addr" } else { "ipv6-addr" })
        }
        IndicatorKind::Network(n) => {
            format!("[{}:value = '{n}']", if matches!(n, ipnet::IpNet::V4(_)) { "ipv4-addr" } else { "ipv6-addr" })
        }
        IndicatorKind::Domain(d) => format!("[domain-name:value = '{}']", q(d)),
        IndicatorKind::Url(u) => format!("[url:value = '{}']", q(u)),
        IndicatorKind::FileHash { algo, hex } => {
            let name = match algo {
                HashAlgo::Md5 => "MD5",
                HashAlgo::Sha1 => "'SHA-1'",
                HashAlgo::Sha256 => "'SHA-256'",
            };
            format!("[file:hashes.{name} = '{hex}']")
        }
    }
}

/// A STIX 2.1 bundle of Tessera's indicators and cases, created by the identity
/// `identity_name`, at `now_s` (unix seconds). Ids are stable per indicator and case, so a
/// partner that imports two exports updates its copies. An indicator already expired at
/// `now_s` is left out (STIX wants `valid_until` after `valid_from`).
pub fn to_stix_bundle(identity_name: &str, items: &[Indicator], cases: &[ExportCase], now_s: i64) -> Value {
    let now = rfc3339(now_s);
    let identity = format!("identity--{}", stable_uuid(&format!("identity {identity_name}")));
    let mut objects = vec![json!({
        "type": "identity", "spec_version": "2.1", "id": identity, "created": now, "modified": now,
        "name": identity_name, "identity_class": "organization",
    })];
    let indicator = |ind: &Indicator| -> Value {
        let mut o = json!({
            "type": "indicator", "spec_version": "2.1",
            "id": format!("indicator--{}", stable_uuid(&ind.kind.key())),
            "created": now, "modified": now, "created_by_ref": identity,
            "name": ind.kind.key(),
            "indicator_types": ["malicious-activity"],
            "pattern": pattern_of(&ind.kind), "pattern_type": "stix", "pattern_version": "2.1",
            "valid_from": now, "confidence": ind.confidence.min(100),
        });
        if !ind.description.is_empty() {
            o["description"] = json!(ind.description);
        }
        if let Some(u) = ind.valid_until {
            o["valid_until"] = json!(rfc3339(u));
        }
        o
    };
    for ind in items.iter().filter(|i| i.valid_until.is_none_or(|u| u > now_s)) {
        objects.push(indicator(ind));
    }
    for c in cases {
        let mut refs = Vec::new();
        if let Some(t) = c.target.as_ref().filter(|i| i.valid_until.is_none_or(|u| u > now_s)) {
            let o = indicator(t);
            refs.push(o["id"].clone());
            // The target may already be exported as a decision: one object per id.
            if !objects.iter().any(|x| x["id"] == o["id"]) {
                objects.push(o);
            }
        }
        if refs.is_empty() {
            // A grouping must reference something: the case is then about what Tessera saw.
            refs.push(json!(identity));
        }
        objects.push(json!({
            "type": "grouping", "spec_version": "2.1",
            "id": format!("grouping--{}", stable_uuid(&format!("case {} {}", c.id, c.first_s))),
            "created": rfc3339(c.first_s), "modified": rfc3339(c.last_s.max(c.first_s)),
            "created_by_ref": identity,
            "name": format!("case {}: {}", c.id, clip(&c.title, 200)),
            "description": format!("Tessera SOC case {}, {}", c.id, c.state),
            "context": "suspicious-activity",
            "object_refs": refs,
        }));
    }
    json!({
        "type": "bundle",
        "id": format!("bundle--{}", stable_uuid(&format!("bundle {identity_name} {now_s}"))),
        "objects": objects,
    })
}
