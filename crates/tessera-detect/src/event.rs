//! One security event model for every part of Tessera and for the logs it ingests.
//!
//! An [`Event`] says what happened ([`Kind`]), how it ended ([`Outcome`]), when, and who or
//! what it concerns: the source address, the account, the name a sign-in tried, a card
//! fingerprint, a device key, a ticket, a gate, an HTTP exchange. Every field but the time and
//! the kind is optional: a gate's forged code has no account, a log line no ticket.
//!
//! The fields map onto Elastic Common Schema ([`Event::to_ecs`]) and OCSF ([`Event::to_ocsf`]),
//! so that an existing SIEM ingests Tessera's events unchanged. The mapping, field by field:
//!
//! | Tessera | ECS | OCSF |
//! |---|---|---|
//! | `at_ms` | `@timestamp` (RFC 3339, ms) | `time` (ms since the epoch) |
//! | `kind` | `event.action`, with `event.category` and `event.type` from the kind | `class_uid` / `activity_id` from the kind, `type_uid` = class × 100 + activity |
//! | `outcome` | `event.outcome` (`success`, `failure`, `unknown`) | `status_id` (1 success, 2 failure, 0 unknown) |
//! | `source` | `source.ip` | `src_endpoint.ip` |
//! | `account` | `user.id` | `actor.user.uid` |
//! | `user` | `user.name` | `user.name` |
//! | `card` | `tessera.card_fingerprint` | `unmapped.card_fingerprint` |
//! | `device` | `tessera.device_key` | `device.uid` |
//! | `ticket` | `tessera.ticket` | `unmapped.ticket` |
//! | `gate` | `observer.name` | `dst_endpoint.name` |
//! | `http.method` | `http.request.method` | `http_request.http_method` |
//! | `http.path` | `url.path` | `http_request.url.path` |
//! | `http.status` | `http.response.status_code` | `http_response.code` |
//! | `http.bytes` | `http.response.body.bytes` | `http_response.length` |
//! | `http.user_agent` | `user_agent.original` | `http_request.user_agent` |
//! | `http.referrer` | `http.request.referrer` | `http_request.referrer` |
//! | `subject` | `user.target.id` | `unmapped.subject_account` |
//! | `message` | `message` | `message` |

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::net::IpAddr;

/// What happened. A closed set: rules name kinds, and a rule naming an unknown one is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// One HTTP request, from Tessera's edge or from an ingested access log.
    #[default]
    HttpRequest,
    SigninSucceeded,
    SigninFailed,
    Registered,
    PasswordReset,
    QueueJoined,
    /// A proof of work that did not verify, or was replayed.
    PowFailed,
    /// A waiting-room or session token that was forged, expired, or moved between accounts.
    TokenForged,
    EdgeThrottled,
    EdgeBlocked,
    CheckoutDeclined,
    OrderPaid,
    TicketActivated,
    TicketTransferred,
    ResaleListed,
    /// A code at a gate whose signature did not verify.
    GateForgedCode,
    /// A code shown again after its time step (a screenshot).
    GateReplay,
    GateDoubleEntry,
    GateRevokedCredential,
    OperatorAction,
    /// A read of someone's personal data (by an operator or an analyst).
    PersonalDataRead,
    /// A password known from a breach: refused at registration or a reset (failure), or an
    /// account's own password found in an imported dump and reset by force (success).
    CredentialLeaked,
}

impl Kind {
    pub const ALL: [Kind; 22] = [
        Kind::HttpRequest,
        Kind::SigninSucceeded,
        Kind::SigninFailed,
        Kind::Registered,
        Kind::PasswordReset,
        Kind::QueueJoined,
        Kind::PowFailed,
        Kind::TokenForged,
        Kind::EdgeThrottled,
        Kind::EdgeBlocked,
        Kind::CheckoutDeclined,
        Kind::OrderPaid,
        Kind::TicketActivated,
        Kind::TicketTransferred,
        Kind::ResaleListed,
        Kind::GateForgedCode,
        Kind::GateReplay,
        Kind::GateDoubleEntry,
        Kind::GateRevokedCredential,
        Kind::OperatorAction,
        Kind::PersonalDataRead,
        Kind::CredentialLeaked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::HttpRequest => "http_request",
            Kind::SigninSucceeded => "signin_succeeded",
            Kind::SigninFailed => "signin_failed",
            Kind::Registered => "registered",
            Kind::PasswordReset => "password_reset",
            Kind::QueueJoined => "queue_joined",
            Kind::PowFailed => "pow_failed",
            Kind::TokenForged => "token_forged",
            Kind::EdgeThrottled => "edge_throttled",
            Kind::EdgeBlocked => "edge_blocked",
            Kind::CheckoutDeclined => "checkout_declined",
            Kind::OrderPaid => "order_paid",
            Kind::TicketActivated => "ticket_activated",
            Kind::TicketTransferred => "ticket_transferred",
            Kind::ResaleListed => "resale_listed",
            Kind::GateForgedCode => "gate_forged_code",
            Kind::GateReplay => "gate_replay",
            Kind::GateDoubleEntry => "gate_double_entry",
            Kind::GateRevokedCredential => "gate_revoked_credential",
            Kind::OperatorAction => "operator_action",
            Kind::PersonalDataRead => "personal_data_read",
            Kind::CredentialLeaked => "credential_leaked",
        }
    }

    /// ECS `event.category` and `event.type`.
    fn ecs(self) -> (&'static str, &'static str) {
        match self {
            Kind::HttpRequest => ("web", "access"),
            Kind::SigninSucceeded | Kind::SigninFailed => ("authentication", "start"),
            Kind::Registered => ("iam", "creation"),
            Kind::PasswordReset => ("iam", "change"),
            Kind::QueueJoined | Kind::OrderPaid | Kind::ResaleListed => ("web", "info"),
            Kind::PowFailed | Kind::TokenForged => ("intrusion_detection", "indicator"),
            Kind::EdgeThrottled | Kind::EdgeBlocked => ("network", "denied"),
            Kind::CheckoutDeclined => ("web", "denied"),
            Kind::TicketActivated | Kind::TicketTransferred => ("iam", "change"),
            Kind::GateForgedCode | Kind::GateReplay | Kind::GateDoubleEntry | Kind::GateRevokedCredential => {
                ("intrusion_detection", "denied")
            }
            Kind::OperatorAction => ("configuration", "change"),
            Kind::PersonalDataRead => ("database", "access"),
            Kind::CredentialLeaked => ("intrusion_detection", "indicator"),
        }
    }

    /// OCSF `class_uid` and `activity_id`: HTTP Activity (4002), Authentication (3002, logon
    /// 1), Account Change (3001: create 1, password reset 4), Detection Finding (2004, create 1)
    /// for what is already a finding, Entity Management (3004, read 2) for personal data, and
    /// API Activity (6003: create 1, read 2, update 3) for the rest.
    fn ocsf(self) -> (u32, u32) {
        match self {
            Kind::HttpRequest => (4002, 99),
            Kind::SigninSucceeded | Kind::SigninFailed => (3002, 1),
            Kind::Registered => (3001, 1),
            Kind::PasswordReset => (3001, 4),
            Kind::PowFailed
            | Kind::TokenForged
            | Kind::EdgeThrottled
            | Kind::EdgeBlocked
            | Kind::GateForgedCode
            | Kind::GateReplay
            | Kind::GateDoubleEntry
            | Kind::GateRevokedCredential
            | Kind::CredentialLeaked => (2004, 1),
            Kind::PersonalDataRead => (3004, 2),
            Kind::QueueJoined | Kind::OrderPaid | Kind::ResaleListed | Kind::CheckoutDeclined => (6003, 1),
            Kind::TicketActivated | Kind::TicketTransferred | Kind::OperatorAction => (6003, 3),
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Failure,
    #[default]
    Unknown,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Unknown => "unknown",
        }
    }
}

/// One HTTP exchange.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Http {
    pub method: String,
    pub path: String,
    pub status: u16,
    #[serde(default)]
    pub bytes: u64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub user_agent: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub referrer: String,
}

/// A security event. Its JSON form (serde) is what `tessera soc` reads as JSON lines.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// Milliseconds since the Unix epoch.
    pub at_ms: i64,
    pub kind: Kind,
    #[serde(default)]
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<IpAddr>,
    /// The account that acted (signed in, bought, read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<u64>,
    /// The account name a sign-in or reset tried, as typed (the account may not exist).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The card's fingerprint, never its number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<String>,
    /// Whose personal data was read, for [`Kind::PersonalDataRead`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<Http>,
    /// What was done, in words, for an operator's or analyst's action (`lifted the block on
    /// address 203.0.113.7`) and a read of personal data (`read the holder of ticket T-1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl Event {
    pub fn new(at_ms: i64, kind: Kind) -> Event {
        Event { at_ms, kind, ..Event::default() }
    }

    /// The event in Elastic Common Schema (8.x field names).
    pub fn to_ecs(&self) -> Value {
        let (category, kind_type) = self.kind.ecs();
        let mut doc = json!({
            "@timestamp": rfc3339_ms(self.at_ms),
            "ecs": {"version": "8.11.0"},
            "event": {
                "kind": "event",
                "category": [category],
                "type": [kind_type],
                "action": self.kind.as_str(),
                "outcome": self.outcome.as_str(),
                "module": "tessera",
            },
        });
        let o = doc.as_object_mut().expect("an object");
        if let Some(ip) = self.source {
            o.insert("source".into(), json!({"ip": ip.to_string()}));
        }
        let mut user = Map::new();
        if let Some(a) = self.account {
            user.insert("id".into(), a.to_string().into());
        }
        if let Some(n) = &self.user {
            user.insert("name".into(), n.clone().into());
        }
        if let Some(s) = self.subject {
            user.insert("target".into(), json!({"id": s.to_string()}));
        }
        if !user.is_empty() {
            o.insert("user".into(), user.into());
        }
        if let Some(g) = &self.gate {
            o.insert("observer".into(), json!({"name": g}));
        }
        if let Some(m) = &self.message {
            o.insert("message".into(), m.clone().into());
        }
        let mut tessera = Map::new();
        for (k, v) in [("card_fingerprint", &self.card), ("device_key", &self.device), ("ticket", &self.ticket)] {
            if let Some(v) = v {
                tessera.insert(k.into(), v.clone().into());
            }
        }
        if !tessera.is_empty() {
            o.insert("tessera".into(), tessera.into());
        }
        if let Some(h) = &self.http {
            let mut request = json!({"method": h.method});
            if !h.referrer.is_empty() {
                request["referrer"] = h.referrer.clone().into();
            }
            o.insert(
                "http".into(),
                json!({"request": request, "response": {"status_code": h.status, "body": {"bytes": h.bytes}}}),
            );
            o.insert("url".into(), json!({"path": h.path}));
            if !h.user_agent.is_empty() {
                o.insert("user_agent".into(), json!({"original": h.user_agent}));
            }
        }
        doc
    }

    /// The event in OCSF 1.1: class and activity from the kind, the rest by the table above.
    pub fn to_ocsf(&self) -> Value {
        let (class_uid, activity_id) = self.kind.ocsf();
        let status_id = match self.outcome {
            Outcome::Success => 1,
            Outcome::Failure => 2,
            Outcome::Unknown => 0,
        };
        let mut doc = json!({
            "time": self.at_ms,
            "class_uid": class_uid,
            "category_uid": class_uid / 1000,
            "activity_id": activity_id,
            "type_uid": class_uid * 100 + activity_id,
            "severity_id": 1,
            "status_id": status_id,
            "metadata": {"version": "1.1.0", "product": {"name": "Tessera", "vendor_name": "Tessera"}, "event_code": self.kind.as_str()},
        });
        let o = doc.as_object_mut().expect("an object");
        if let Some(ip) = self.source {
            o.insert("src_endpoint".into(), json!({"ip": ip.to_string()}));
        }
        if let Some(a) = self.account {
            o.insert("actor".into(), json!({"user": {"uid": a.to_string()}}));
        }
        if let Some(n) = &self.user {
            o.insert("user".into(), json!({"name": n}));
        }
        if let Some(d) = &self.device {
            o.insert("device".into(), json!({"uid": d}));
        }
        if let Some(g) = &self.gate {
            o.insert("dst_endpoint".into(), json!({"name": g}));
        }
        if let Some(m) = &self.message {
            o.insert("message".into(), m.clone().into());
        }
        let mut unmapped = Map::new();
        if let Some(c) = &self.card {
            unmapped.insert("card_fingerprint".into(), c.clone().into());
        }
        if let Some(t) = &self.ticket {
            unmapped.insert("ticket".into(), t.clone().into());
        }
        if let Some(s) = self.subject {
            unmapped.insert("subject_account".into(), s.to_string().into());
        }
        if !unmapped.is_empty() {
            o.insert("unmapped".into(), unmapped.into());
        }
        if let Some(h) = &self.http {
            let mut request = json!({"http_method": h.method, "url": {"path": h.path}});
            if !h.user_agent.is_empty() {
                request["user_agent"] = h.user_agent.clone().into();
            }
            if !h.referrer.is_empty() {
                request["referrer"] = h.referrer.clone().into();
            }
            o.insert("http_request".into(), request);
            o.insert("http_response".into(), json!({"code": h.status, "length": h.bytes}));
        }
        doc
    }
}

/// `2024-07-26T19:30:00.123Z` from milliseconds since the epoch (proleptic Gregorian, UTC).
pub fn rfc3339_ms(at_ms: i64) -> String {
    let secs = at_ms.div_euclid(1000);
    let ms = at_ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z", sod / 3600, sod % 3600 / 60, sod % 60)
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date (year, month, day) of a day counted from 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signin() -> Event {
        Event {
            at_ms: 1_721_937_600_123,
            kind: Kind::SigninFailed,
            outcome: Outcome::Failure,
            source: Some("203.0.113.7".parse().unwrap()),
            user: Some("fan@example.org".into()),
            device: Some("dev-1".into()),
            ..Event::default()
        }
    }

    #[test]
    fn dates_round_trip() {
        for days in [-719_468, -1, 0, 1, 11_016, 19_930, 60_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(rfc3339_ms(1_721_937_600_123), "2024-07-25T20:00:00.123Z");
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn a_failed_signin_in_ecs() {
        let ecs = signin().to_ecs();
        assert_eq!(ecs["@timestamp"], "2024-07-25T20:00:00.123Z");
        assert_eq!(ecs["event"]["category"][0], "authentication");
        assert_eq!(ecs["event"]["action"], "signin_failed");
        assert_eq!(ecs["event"]["outcome"], "failure");
        assert_eq!(ecs["source"]["ip"], "203.0.113.7");
        assert_eq!(ecs["user"]["name"], "fan@example.org");
        assert_eq!(ecs["tessera"]["device_key"], "dev-1");
        assert!(ecs.get("http").is_none());
    }

    #[test]
    fn a_failed_signin_in_ocsf() {
        let o = signin().to_ocsf();
        assert_eq!(o["class_uid"], 3002);
        assert_eq!(o["category_uid"], 3);
        assert_eq!(o["type_uid"], 300201);
        assert_eq!(o["status_id"], 2);
        assert_eq!(o["src_endpoint"]["ip"], "203.0.113.7");
        assert_eq!(o["device"]["uid"], "dev-1");
        assert_eq!(o["time"], 1_721_937_600_123i64);
    }

    #[test]
    fn an_http_request_in_both() {
        let mut e = Event::new(0, Kind::HttpRequest);
        e.http = Some(Http {
            method: "GET".into(),
            path: "/api/v1/phases/P1/queue".into(),
            status: 429,
            bytes: 120,
            user_agent: "curl/8".into(),
            referrer: String::new(),
        });
        let ecs = e.to_ecs();
        assert_eq!(ecs["http"]["response"]["status_code"], 429);
        assert_eq!(ecs["url"]["path"], "/api/v1/phases/P1/queue");
        assert_eq!(ecs["user_agent"]["original"], "curl/8");
        let o = e.to_ocsf();
        assert_eq!(o["class_uid"], 4002);
        assert_eq!(o["http_request"]["http_method"], "GET");
        assert_eq!(o["http_response"]["code"], 429);
    }

    #[test]
    fn every_kind_reads_back_from_json() {
        for k in Kind::ALL {
            let v: Kind = serde_json::from_value(Value::String(k.as_str().into())).unwrap();
            assert_eq!(v, k);
        }
        let e = signin();
        let back: Event = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
        assert_eq!(back, e);
        assert!(serde_json::from_str::<Event>(r#"{"at_ms":1,"kind":"http_request","nope":1}"#).is_err());
    }
}
