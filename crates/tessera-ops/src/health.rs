//! `application/health+json`: the body every Tessera node serves on its health endpoint, after
//! the IETF draft "Health Check Response Format for HTTP APIs" (draft-inadarei-api-health-check).
//!
//! A report has a `status` (`pass`, `warn`, `fail`; the aliases `ok`/`up` and `error`/`down`
//! are read as `pass` and `fail`) and `checks` keyed `component:measurement`, each an array
//! of results with `componentId`, `componentType`, `observedValue`, `observedUnit`, `status`,
//! `time`, `output`. [`node_report`] builds a node's own report from the checks its
//! capabilities ran: the report's status is the worst of them. Parsing is bounded (body
//! size, number of checks) because reports come over the network; it never panics.
//! The draft notes that health output helps attackers: the HTTP layer decides who sees it.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The media type of a report.
pub const MEDIA_TYPE: &str = "application/health+json";
/// Largest body [`HealthReport::parse`] reads, in bytes.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// Check keys one report may hold at most.
pub const MAX_CHECK_KEYS: usize = 256;
/// Results one check key may hold at most.
pub const MAX_RESULTS_PER_CHECK: usize = 64;

/// A status, ordered from best to worst (`Pass < Warn < Fail`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    #[serde(alias = "ok", alias = "up")]
    Pass,
    Warn,
    #[serde(alias = "error", alias = "down")]
    Fail,
}

impl HealthStatus {
    /// The HTTP status the draft asks for: 2xx for pass and warn, 5xx for fail.
    pub fn http_status(self) -> u16 {
        match self {
            HealthStatus::Pass | HealthStatus::Warn => 200,
            HealthStatus::Fail => 503,
        }
    }
}

/// One result of one check.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheck {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component_id: Option<String>,
    /// `component`, `datastore`, `system` or any other word.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_value: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_unit: Option<String>,
    /// Optional in the draft; a check without one is left out of the worst-of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<HealthStatus>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub affected_endpoints: Vec<String>,
    /// RFC 3339 time of the observation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// Raw error output, for warn and fail only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
}

impl HealthCheck {
    /// A result with a status and a measured value.
    pub fn new(component_id: &str, component_type: &str, status: HealthStatus) -> HealthCheck {
        HealthCheck {
            component_id: Some(component_id.into()),
            component_type: Some(component_type.into()),
            status: Some(status),
            ..HealthCheck::default()
        }
    }

    /// The same result with `observedValue` and `observedUnit`.
    pub fn observed(mut self, value: impl Into<serde_json::Value>, unit: &str) -> HealthCheck {
        self.observed_value = Some(value.into());
        self.observed_unit = Some(unit.into());
        self
    }

    /// The same result with `output`.
    pub fn output(mut self, output: &str) -> HealthCheck {
        self.output = Some(output.into());
        self
    }
}

/// A whole report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthReport {
    pub status: HealthStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Keyed `component:measurement`, e.g. `postgres:responseTime`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub checks: BTreeMap<String, Vec<HealthCheck>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub links: BTreeMap<String, String>,
}

/// Why a report was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HealthError {
    #[error("the body is larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
    #[error("not a health+json document: {0}")]
    Invalid(String),
    #[error("more than {MAX_CHECK_KEYS} checks, or more than {MAX_RESULTS_PER_CHECK} results in one")]
    TooManyChecks,
}

impl HealthReport {
    /// Reads a report; bounded, never panics.
    pub fn parse(body: &str) -> Result<HealthReport, HealthError> {
        if body.len() > MAX_BODY_BYTES {
            return Err(HealthError::TooLarge);
        }
        let r: HealthReport = serde_json::from_str(body).map_err(|e| HealthError::Invalid(e.to_string()))?;
        if r.checks.len() > MAX_CHECK_KEYS || r.checks.values().any(|v| v.len() > MAX_RESULTS_PER_CHECK) {
            return Err(HealthError::TooManyChecks);
        }
        Ok(r)
    }

    /// The body to serve with [`MEDIA_TYPE`].
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a report always serialises")
    }

    /// The worst status among its checks (`Pass` when none has one).
    pub fn worst_check(&self) -> HealthStatus {
        self.checks.values().flatten().filter_map(|c| c.status).max().unwrap_or(HealthStatus::Pass)
    }

    /// The keys of checks that warn or fail, worst first.
    pub fn failing(&self) -> Vec<(&str, HealthStatus)> {
        let mut v: Vec<(&str, HealthStatus)> = self
            .checks
            .iter()
            .filter_map(|(k, cs)| cs.iter().filter_map(|c| c.status).max().map(|s| (k.as_str(), s)))
            .filter(|(_, s)| *s != HealthStatus::Pass)
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        v
    }
}

/// A node's own report from the checks its capabilities ran at `now_ms` (unix milliseconds):
/// status is the worst check, results without a time get `now_ms`, and `output` names the
/// checks that warn or fail.
pub fn node_report(
    service_id: &str,
    version: &str,
    checks: impl IntoIterator<Item = (String, HealthCheck)>,
    now_ms: i64,
) -> HealthReport {
    let mut map: BTreeMap<String, Vec<HealthCheck>> = BTreeMap::new();
    let now = rfc3339(now_ms);
    for (key, mut c) in checks {
        if map.len() >= MAX_CHECK_KEYS && !map.contains_key(&key) {
            continue;
        }
        c.time.get_or_insert_with(|| now.clone());
        let results = map.entry(key).or_default();
        if results.len() < MAX_RESULTS_PER_CHECK {
            results.push(c);
        }
    }
    let mut r = HealthReport {
        status: HealthStatus::Pass,
        version: Some(version.into()),
        release_id: None,
        notes: Vec::new(),
        output: None,
        service_id: Some(service_id.into()),
        description: None,
        checks: map,
        links: BTreeMap::new(),
    };
    r.status = r.worst_check();
    let failing = r.failing();
    if !failing.is_empty() {
        let names: Vec<String> = failing.iter().map(|(k, s)| format!("{k} {s:?}").to_lowercase()).collect();
        r.output = Some(names.join(", "));
    }
    r
}

/// Unix milliseconds as RFC 3339 UTC (`2024-07-26T17:30:00.000Z`), without a clock or a
/// time zone database (Howard Hinnant's civil-from-days).
pub fn rfc3339(ms: i64) -> String {
    let ms = ms.clamp(-62_135_596_800_000, 253_402_300_799_999); // years 1 to 9999
    let (days, rem) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let (h, mi, s, milli) = (rem / 3_600_000, rem / 60_000 % 60, rem / 1_000 % 60, rem % 1_000);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{milli:03}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPENING: i64 = 1_721_928_600_000; // 2024-07-25T17:30:00Z

    #[test]
    fn a_node_report_is_the_worst_of_its_checks_and_round_trips() {
        let r = node_report(
            "tessera-node-1",
            "0.1.0",
            [
                (
                    "postgres:responseTime".to_string(),
                    HealthCheck::new("pg", "datastore", HealthStatus::Pass).observed(12, "ms"),
                ),
                (
                    "nats:connections".to_string(),
                    HealthCheck::new("nats", "component", HealthStatus::Warn).observed(1, "").output("1 of 3 servers"),
                ),
                ("mail:outbox".to_string(), HealthCheck::new("mail", "component", HealthStatus::Pass)),
            ],
            OPENING,
        );
        assert_eq!(r.status, HealthStatus::Warn);
        assert_eq!(r.status.http_status(), 200);
        assert_eq!(r.output.as_deref(), Some("nats:connections warn"));
        let json = r.to_json();
        assert!(json.contains(r#""componentId":"pg""#) && json.contains(r#""observedUnit":"ms""#), "{json}");
        assert!(json.contains(r#""time":"2024-07-25T17:30:00.000Z""#), "{json}");
        assert_eq!(HealthReport::parse(&json).unwrap(), r);
    }

    #[test]
    fn the_drafts_example_and_its_aliases_parse() {
        let body = r#"{
          "status": "up", "version": "1", "releaseId": "1.2.2", "serviceId": "f03e522f",
          "checks": {
            "cassandra:responseTime": [{"componentId": "dfd6cf2b", "componentType": "datastore",
              "observedValue": 250, "observedUnit": "ms", "status": "down",
              "affectedEndpoints": ["/users/{userId}"], "time": "2018-01-17T03:36:48Z", "output": ""}],
            "uptime": [{"componentType": "system", "observedValue": 1209600.245, "observedUnit": "s", "status": "ok"}]
          },
          "links": {"about": "http://api.example.com/about/health"}
        }"#;
        let r = HealthReport::parse(body).unwrap();
        assert_eq!(r.status, HealthStatus::Pass);
        assert_eq!(r.worst_check(), HealthStatus::Fail);
        assert_eq!(r.failing(), vec![("cassandra:responseTime", HealthStatus::Fail)]);
        assert_eq!(r.checks["cassandra:responseTime"][0].affected_endpoints, ["/users/{userId}"]);
        assert_eq!(HealthStatus::Fail.http_status(), 503);
    }

    #[test]
    fn bad_bodies_are_refused() {
        assert!(matches!(HealthReport::parse(r#"{"status":"maybe"}"#), Err(HealthError::Invalid(_))));
        assert!(matches!(HealthReport::parse("{}"), Err(HealthError::Invalid(_))));
        assert_eq!(HealthReport::parse(&" ".repeat(MAX_BODY_BYTES + 1)), Err(HealthError::TooLarge));
        let many: Vec<String> = (0..=MAX_CHECK_KEYS).map(|i| format!(r#""c{i}":[]"#)).collect();
        let body = format!(r#"{{"status":"pass","checks":{{{}}}}}"#, many.join(","));
        assert_eq!(HealthReport::parse(&body), Err(HealthError::TooManyChecks));
    }

    #[test]
    fn times_are_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(rfc3339(i64::MAX), "9999-12-31T23:59:59.999Z");
    }

    proptest::proptest! {
        #[test]
        fn parsing_never_panics(s in ".{0,300}") {
            let _ = HealthReport::parse(&s);
        }
    }
}
