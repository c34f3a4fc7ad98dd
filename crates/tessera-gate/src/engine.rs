//! The admission decision, pure and in memory: a scanned line, the bundle and what the gate knows
//! of entries and revocations give a [`GateDecision`]. Nothing here touches a disk or a clock;
//! [`crate::device::Device`] puts it together with the durable log.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use tessera_credential::{
    code_from_qr_text, split_ticket_id, verify, Decision, GateContext, Pass, Policy, Reason, TrustedKeys,
    CODE_TAIL_LEN, MAX_CODE_LEN, MAX_ENTRANCE_LEN, QR_PREFIX,
};

use crate::bundle::{Bundle, BundleError};
use tessera_accreditation::{RevocationList, VenueCode, ZoneCode};

mod badge;

/// The reason of an admission.
pub const VALID: &str = "valid";
/// Refusal: the ticket already entered (this gate, another gate of the venue, or before a restart).
pub const ALREADY_USED: &str = "already_used";
/// Refusal: this credential (ticket, serial) was revoked (transfer, resale, refund).
pub const REVOKED: &str = "revoked";
/// Refusal: the gate cannot record one more entry within its memory bound, or had to drop an
/// entry or revocation it was told about. It fails closed rather than admit without knowing.
pub const GATE_FULL: &str = "gate_full";
/// Refusal: not a credential (also any QR code without a known prefix).
pub const MALFORMED: &str = "malformed";
/// Refusal: an accreditation badge at a gate not set up for badges (no venue and zone).
pub const NOT_A_BADGE_GATE: &str = "not_a_badge_gate";

/// Every refusal code a gate can give, for the operator's view and metrics: the credential's
/// reasons, then the gate's own.
pub const REASONS: [&str; 18] = [
    "malformed",
    "wrong_version",
    "unknown_key",
    "bad_signature",
    "bad_device_signature",
    "expired_code",
    "future_code",
    "not_yet_valid",
    "expired",
    "wrong_session",
    "wrong_entrance",
    "key_not_valid_now",
    ALREADY_USED,
    REVOKED,
    GATE_FULL,
    "no_venue_access",
    "no_zone_access",
    NOT_A_BADGE_GATE,
];

/// The static code for a stored reason string: [`VALID`] or one of [`REASONS`].
pub fn reason_code(s: &str) -> Option<&'static str> {
    if s == VALID {
        return Some(VALID);
    }
    REASONS.iter().copied().find(|r| *r == s)
}

/// Entries the engine remembers unless configured otherwise: a sold-out stadium's tickets with
/// room to spare (about 100 MB at the bound).
pub const DEFAULT_MAX_ENTRIES: usize = 2_000_000;
/// Longest gate id kept; longer ids from the feed are cut.
pub const MAX_GATE_ID_LEN: usize = 64;
/// Longest scanner line looked at: the longest text of a ticket's code or of a badge (a phone
/// badge's code, the longer), and a line ending.
pub const MAX_LINE_LEN: usize = {
    let ticket = 2 * MAX_CODE_LEN;
    let badge = tessera_accreditation::badge::MAX_TEXT_LEN;
    (if ticket > badge { ticket } else { badge }) + 8
};
/// Distinct gate ids remembered for "already used at"; later ones are shown as [`OTHER_GATE`].
pub const MAX_GATE_IDS: usize = 65_536;
/// Gate id shown once [`MAX_GATE_IDS`] is reached.
pub const OTHER_GATE: &str = "(other gate)";

/// How one gate is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateConfig {
    /// This gate's id, as other gates and the central system see it.
    pub gate_id: String,
    /// The entrance code this gate stands at; `None` admits passes for any entrance.
    pub entrance: Option<String>,
    /// Most entries remembered; beyond it the gate refuses with [`GATE_FULL`] rather than grow.
    pub max_entries: usize,
    /// For accreditation badges: the accreditation venue code and the zone this gate lets into
    /// (`STA`, `4`); `None` refuses badges with [`NOT_A_BADGE_GATE`].
    pub badge_access: Option<(String, String)>,
}

impl GateConfig {
    /// A gate with the default entry bound.
    pub fn new(gate_id: impl Into<String>, entrance: Option<&str>) -> Self {
        Self {
            gate_id: gate_id.into(),
            entrance: entrance.map(str::to_owned),
            max_entries: DEFAULT_MAX_ENTRIES,
            badge_access: None,
        }
    }
}

/// What kind of credential a line holds, from its QR prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// No known prefix (or not text): always refused as [`MALFORMED`].
    Unknown,
    /// `T1:`, a ticket code.
    Ticket,
    /// An accreditation badge (its Base45 text, no prefix).
    Badge,
}

impl Kind {
    /// Stable code.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Unknown => "unknown",
            Kind::Ticket => "ticket",
            Kind::Badge => "badge",
        }
    }

    /// Parses [`Kind::as_str`].
    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "unknown" => Some(Kind::Unknown),
            "ticket" => Some(Kind::Ticket),
            "badge" => Some(Kind::Badge),
            _ => None,
        }
    }
}

/// Admitted or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Let in.
    Admitted,
    /// Turned away.
    Refused,
}

impl Outcome {
    /// Stable code.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Admitted => "admitted",
            Outcome::Refused => "refused",
        }
    }

    /// Parses [`Outcome::as_str`].
    pub fn parse(s: &str) -> Option<Outcome> {
        match s {
            "admitted" => Some(Outcome::Admitted),
            "refused" => Some(Outcome::Refused),
            _ => None,
        }
    }
}

/// Where and when a ticket entered before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousEntry {
    /// The gate that admitted it.
    pub gate_id: String,
    /// When (Unix milliseconds, that gate's clock).
    pub at_ms: i64,
}

/// One decision on one scan. Ticket fields are filled only from a pass whose issuer signature
/// verified, so the operator never sees a forger's holder name; they are empty (0) otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GateDecision {
    /// Position in the gate's log; 0 until appended.
    pub seq: i64,
    /// The gate's clock (Unix milliseconds).
    pub at_ms: i64,
    /// The credential kind.
    pub kind: Kind,
    /// Admitted or refused.
    pub outcome: Outcome,
    /// [`VALID`] or one of [`REASONS`].
    pub reason: &'static str,
    /// Ticket number.
    pub ticket_id: i64,
    /// Credential serial.
    pub serial: i64,
    /// Holder's name from the pass.
    pub holder: String,
    /// Seat label from the pass.
    pub seat: String,
    /// Session code from the pass.
    pub session: String,
    /// Entrance code from the pass (empty: any entrance).
    pub entrance: String,
    /// For [`ALREADY_USED`]: the first entry.
    pub previous: Option<PreviousEntry>,
}

impl GateDecision {
    fn refused(at_ms: i64, kind: Kind, reason: &'static str) -> Self {
        GateDecision {
            seq: 0,
            at_ms,
            kind,
            outcome: Outcome::Refused,
            reason,
            ticket_id: 0,
            serial: 0,
            holder: String::new(),
            seat: String::new(),
            session: String::new(),
            entrance: String::new(),
            previous: None,
        }
    }

    /// Whether the gate opens.
    pub fn admitted(&self) -> bool {
        self.outcome == Outcome::Admitted
    }
}

/// What other gates and the central system tell a gate, in feed order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FeedEvent {
    /// A ticket entered somewhere else.
    Entry {
        /// Ticket number.
        ticket_id: i64,
        /// Credential serial.
        serial: i64,
        /// The admitting gate.
        gate_id: String,
        /// When (Unix milliseconds).
        at_ms: i64,
    },
    /// A ticket's entries no longer count (it may enter again).
    Annulment {
        /// Ticket number.
        ticket_id: i64,
    },
    /// A credential no longer admits.
    Revocation {
        /// Ticket number.
        ticket_id: i64,
        /// Credential serial.
        serial: i64,
    },
}

/// Why an engine cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// The bundle is unusable.
    #[error(transparent)]
    Bundle(#[from] BundleError),
    /// The gate's configuration is unusable.
    #[error("invalid gate configuration: {0}")]
    Config(&'static str),
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    at_ms: i64,
    gate: u32,
}

#[derive(Debug, Clone, Copy)]
struct OpenHours {
    doors_open_at: i64,
    ends_at: i64,
}

/// The gate's decision state: the bundle in force, the entries and revocations it knows.
#[derive(Debug)]
pub struct Engine {
    config: GateConfig,
    bundle: Bundle,
    keys: TrustedKeys,
    policy: Policy,
    sessions: HashMap<String, OpenHours>,
    bundle_revoked: HashSet<(i64, i64)>,
    /// Revocations learned after the bundle; kept across bundle replacements because a newer
    /// bundle may have been cut before them (revocations are never lifted, so keeping is safe).
    live_revoked: HashSet<(i64, i64)>,
    entries: HashMap<i64, Entry>,
    gate_ids: Vec<String>,
    gate_index: HashMap<String, u32>,
    /// Set when an entry or revocation had to be dropped: from then on the engine no longer knows
    /// everything it was told, so it admits no one.
    overflowed: bool,
    /// The badge key (empty when the bundle has none: every badge is then `unknown_key`).
    badge_keys: TrustedKeys,
    /// Badge revocations from the bundles and the syncs, merged: they are never lifted.
    badge_revoked: RevocationList,
    /// The version of the newest badge list applied.
    badges_version: u64,
    /// The gate's badge venue and zone, parsed from the configuration.
    badge_access: Option<(VenueCode, ZoneCode)>,
}

fn check_config(config: &GateConfig) -> Result<(), EngineError> {
    if config.gate_id.is_empty() || config.gate_id.len() > MAX_GATE_ID_LEN {
        return Err(EngineError::Config("gate_id must be 1 to 64 bytes"));
    }
    if let Some(e) = &config.entrance {
        if e.is_empty() || e.len() > MAX_ENTRANCE_LEN || !e.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(EngineError::Config("entrance must be 1 to 16 printable ASCII characters"));
        }
    }
    if config.max_entries == 0 {
        return Err(EngineError::Config("max_entries must be positive"));
    }
    if let Some((venue, zone)) = &config.badge_access {
        if VenueCode::parse(venue).is_err() || ZoneCode::parse(zone).is_err() {
            return Err(EngineError::Config("the badge venue and zone must be accreditation codes (`STA`, `4`)"));
        }
    }
    Ok(())
}

fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Refusals that the credential returns only after the issuer's signature verified: the pass's
/// fields are genuine and worth showing to the operator.
fn pass_is_genuine(reason: Reason) -> bool {
    !matches!(reason, Reason::Malformed(_) | Reason::WrongVersion | Reason::UnknownKey | Reason::BadSignature)
}

/// A bundle turned into the engine's lookup structures.
struct Prepared {
    bundle: Bundle,
    keys: TrustedKeys,
    policy: Policy,
    sessions: HashMap<String, OpenHours>,
    revoked: HashSet<(i64, i64)>,
    badge_keys: TrustedKeys,
    badges: Option<tessera_wire::BadgeRevocations>,
}

impl Prepared {
    fn new(mut bundle: Bundle) -> Result<Prepared, EngineError> {
        bundle.validate()?;
        let keys = bundle.trusted_keys()?;
        let policy = bundle.credential_policy();
        let doors = bundle.policy.doors_open_before_secs;
        let sessions = bundle
            .sessions
            .iter()
            .map(|s| {
                let hours = OpenHours { doors_open_at: s.starts_at.saturating_sub(doors), ends_at: s.ends_at };
                (s.code.clone(), hours)
            })
            .collect();
        // The list moves into a set; the kept bundle describes the venue without it.
        let revoked = std::mem::take(&mut bundle.revoked).into_iter().collect();
        let mut badge_keys = TrustedKeys::new();
        let mut badges = None;
        if let Some(b) = bundle.badges.as_mut() {
            let mut key = [0u8; 32];
            hex::decode_to_slice(&b.public_key, &mut key)
                .map_err(|_| BundleError::Malformed("badge key is not 32 bytes of hex".into()))?;
            let key = ed25519_dalek::VerifyingKey::from_bytes(&key)
                .map_err(|_| BundleError::Malformed("badge key is not an Ed25519 key".into()))?;
            badge_keys.insert(b.key_id, key, 0, i64::MAX).map_err(|_| BundleError::Malformed("badge key".into()))?;
            if b.revocations.revoked.len() + b.revocations.current_serial.len() > crate::bundle::MAX_REVOKED {
                return Err(BundleError::Malformed("too many badge revocations".into()).into());
            }
            badges = Some(std::mem::take(&mut b.revocations));
        }
        Ok(Prepared { bundle, keys, policy, sessions, revoked, badge_keys, badges })
    }
}

impl Engine {
    /// An engine for `bundle` at the gate `config` describes, knowing no entry yet.
    pub fn new(bundle: Bundle, config: GateConfig) -> Result<Engine, EngineError> {
        check_config(&config)?;
        let own = config.gate_id.clone();
        let mut p = Prepared::new(bundle)?;
        let badges = p.badges.take();
        let badge_access =
            config.badge_access.as_ref().and_then(|(v, z)| Some((VenueCode::parse(v).ok()?, ZoneCode::parse(z).ok()?)));
        let mut engine = Engine {
            config,
            bundle: p.bundle,
            keys: p.keys,
            policy: p.policy,
            sessions: p.sessions,
            bundle_revoked: p.revoked,
            live_revoked: HashSet::new(),
            entries: HashMap::new(),
            gate_ids: vec![own.clone()],
            gate_index: HashMap::from([(own, 0)]),
            overflowed: false,
            badge_keys: p.badge_keys,
            badge_revoked: RevocationList::new(),
            badges_version: 0,
            badge_access,
        };
        if let Some(b) = &badges {
            engine.apply_badge_revocations(b);
        }
        Ok(engine)
    }

    /// Puts a newer bundle in force. Entries and revocations learned so far are kept. On error the
    /// engine keeps its current bundle.
    pub fn replace_bundle(&mut self, bundle: Bundle) -> Result<(), EngineError> {
        let p = Prepared::new(bundle)?;
        self.bundle = p.bundle;
        self.keys = p.keys;
        self.policy = p.policy;
        self.sessions = p.sessions;
        self.bundle_revoked = p.revoked;
        self.badge_keys = p.badge_keys;
        if let Some(b) = &p.badges {
            self.apply_badge_revocations(b);
        }
        Ok(())
    }

    /// The bundle in force, without its revocation list (held as a set inside the engine).
    pub fn bundle(&self) -> &Bundle {
        &self.bundle
    }

    /// The gate's configuration.
    pub fn config(&self) -> &GateConfig {
        &self.config
    }

    /// Number of tickets known to have entered.
    pub fn entries_len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the engine refuses every admission with [`GATE_FULL`].
    pub fn is_full(&self) -> bool {
        self.overflowed || self.entries.len() >= self.config.max_entries
    }

    /// Decides on one scanner line (raw bytes: `T1:<base45>`, maybe with a line ending) at the
    /// gate's clock `now_ms` (Unix milliseconds). Changes nothing: see [`Engine::commit`].
    pub fn decide(&self, scanned: &[u8], now_ms: i64) -> GateDecision {
        let mut d = GateDecision::refused(now_ms, Kind::Unknown, MALFORMED);
        if scanned.len() > MAX_LINE_LEN {
            return d;
        }
        let Ok(text) = std::str::from_utf8(scanned) else {
            return d;
        };
        if !text.starts_with(QR_PREFIX) {
            return self.decide_badge(text.trim_end(), d);
        }
        d.kind = Kind::Ticket;
        match code_from_qr_text(text) {
            Ok(code) => self.decide_ticket(&code, d),
            Err(_) => d,
        }
    }

    fn decide_ticket(&self, code: &[u8], mut d: GateDecision) -> GateDecision {
        let now = d.at_ms.div_euclid(1000);
        // The gate admits to every session of its bundle, so the session to check is the pass's
        // own; an unparsable pass gets an empty one and `verify` refuses it for the real reason.
        let pass = code.len().checked_sub(CODE_TAIL_LEN).and_then(|n| Pass::parse_unverified(&code[..n]).ok());
        let session = pass.as_ref().map_or("", |p| p.session.as_str());
        let ctx = GateContext { session, entrance: self.config.entrance.as_deref(), now };
        let ticket = match verify(code, &self.keys, &self.policy, &ctx) {
            Decision::Refused(reason) => {
                d.reason = reason.as_str();
                if let (true, Some(p)) = (pass_is_genuine(reason), &pass) {
                    (d.ticket_id, d.serial) = split_ticket_id(&p.ticket_id);
                    d.holder.clone_from(&p.holder);
                    d.seat.clone_from(&p.seat);
                    d.session.clone_from(&p.session);
                    d.entrance.clone_from(&p.entrance);
                }
                return d;
            }
            Decision::Valid(t) => t,
        };
        (d.ticket_id, d.serial) = split_ticket_id(&ticket.ticket_id);
        d.holder = ticket.holder;
        d.seat = ticket.seat;
        d.session = ticket.session;
        d.entrance = ticket.entrance;

        // The pass's own validity was checked by `verify`; the bundle's door hours narrow it.
        let closed = match self.sessions.get(&d.session) {
            None => Some("wrong_session"),
            Some(h) if now < h.doors_open_at => Some("not_yet_valid"),
            Some(h) if now >= h.ends_at => Some("expired"),
            Some(_) => None,
        };
        if let Some(reason) = closed {
            d.reason = reason;
            return d;
        }
        let credential = (d.ticket_id, d.serial);
        if self.bundle_revoked.contains(&credential) || self.live_revoked.contains(&credential) {
            d.reason = REVOKED;
            return d;
        }
        if let Some(e) = self.entries.get(&d.ticket_id) {
            d.reason = ALREADY_USED;
            d.previous = Some(PreviousEntry { gate_id: self.gate_name(e.gate).to_owned(), at_ms: e.at_ms });
            return d;
        }
        if self.is_full() {
            d.reason = GATE_FULL;
            return d;
        }
        d.outcome = Outcome::Admitted;
        d.reason = VALID;
        d
    }

    /// Records an admission decided by [`Engine::decide`] (refusals change nothing). Call it only
    /// once the decision is durable.
    pub fn commit(&mut self, decision: &GateDecision) {
        // Badges may enter again: only tickets are recorded.
        if decision.admitted() && decision.kind == Kind::Ticket {
            self.record_entry(decision.ticket_id, 0, decision.at_ms);
        }
    }

    /// An entry learned from another gate or the central system (or replayed from this gate's
    /// log); the earliest entry of a ticket is kept. Returns false if it had to be dropped for
    /// lack of room, after which the engine admits no one ([`GATE_FULL`]).
    pub fn apply_remote_entry(&mut self, ticket_id: i64, _serial: i64, gate_id: &str, at_ms: i64) -> bool {
        let gate = self.intern(gate_id);
        self.record_entry(ticket_id, gate, at_ms)
    }

    /// Forgets a ticket's entries: it may enter again.
    pub fn apply_annulment(&mut self, ticket_id: i64) {
        self.entries.remove(&ticket_id);
    }

    /// Revokes one credential. Returns false if it had to be dropped for lack of room (more live
    /// revocations than `max_entries`), after which the engine admits no one.
    pub fn apply_revocation(&mut self, ticket_id: i64, serial: i64) -> bool {
        let credential = (ticket_id, serial);
        if self.bundle_revoked.contains(&credential) || self.live_revoked.contains(&credential) {
            return true;
        }
        if self.live_revoked.len() >= self.config.max_entries {
            self.overflowed = true;
            return false;
        }
        self.live_revoked.insert(credential);
        true
    }

    /// Applies one feed event; false as for the method it stands for.
    pub fn apply(&mut self, event: &FeedEvent) -> bool {
        match event {
            FeedEvent::Entry { ticket_id, serial, gate_id, at_ms } => {
                self.apply_remote_entry(*ticket_id, *serial, gate_id, *at_ms)
            }
            FeedEvent::Annulment { ticket_id } => {
                self.apply_annulment(*ticket_id);
                true
            }
            FeedEvent::Revocation { ticket_id, serial } => self.apply_revocation(*ticket_id, *serial),
        }
    }

    fn record_entry(&mut self, ticket_id: i64, gate: u32, at_ms: i64) -> bool {
        if let Some(e) = self.entries.get_mut(&ticket_id) {
            if at_ms < e.at_ms {
                *e = Entry { at_ms, gate };
            }
            return true;
        }
        if self.entries.len() >= self.config.max_entries {
            self.overflowed = true;
            return false;
        }
        self.entries.insert(ticket_id, Entry { at_ms, gate });
        true
    }

    fn intern(&mut self, gate_id: &str) -> u32 {
        let gate_id = cut(gate_id, MAX_GATE_ID_LEN);
        if let Some(&i) = self.gate_index.get(gate_id) {
            return i;
        }
        let name = if self.gate_ids.len() >= MAX_GATE_IDS { OTHER_GATE } else { gate_id };
        if let Some(&i) = self.gate_index.get(name) {
            return i;
        }
        // Bounded by MAX_GATE_IDS + 1, far below u32::MAX.
        let i = self.gate_ids.len() as u32;
        self.gate_ids.push(name.to_owned());
        self.gate_index.insert(name.to_owned(), i);
        i
    }

    fn gate_name(&self, i: u32) -> &str {
        self.gate_ids.get(i as usize).map_or(OTHER_GATE, String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::GateFixture;

    #[test]
    fn reasons_cover_the_credential_and_the_gate() {
        for r in Reason::ALL {
            assert!(REASONS.contains(&r.as_str()), "{r:?} missing");
        }
        for r in [ALREADY_USED, REVOKED, GATE_FULL, MALFORMED] {
            assert!(REASONS.contains(&r));
        }
        let unique: HashSet<_> = REASONS.iter().collect();
        assert_eq!(unique.len(), REASONS.len());
        assert!(!REASONS.contains(&VALID));
        for r in REASONS.iter().chain([&VALID]) {
            assert_eq!(reason_code(r), Some(*r));
        }
        assert_eq!(reason_code("nope"), None);
    }

    #[test]
    fn decide_changes_nothing_until_commit() {
        let f = GateFixture::new(1);
        let mut e = f.engine("A1");
        let line = f.line(1, 1, 1, f.now);
        let d = e.decide(&line, f.now_ms());
        assert!(d.admitted());
        assert!(e.decide(&line, f.now_ms()).admitted());
        assert_eq!(e.entries_len(), 0);
        e.commit(&d);
        assert_eq!(e.entries_len(), 1);
        // Committing a refusal records nothing.
        let refused = e.decide(&line, f.now_ms());
        e.commit(&refused);
        assert_eq!(e.entries_len(), 1);
    }

    #[test]
    fn dropped_knowledge_closes_the_gate() {
        let f = GateFixture::new(1);
        let mut config = f.config("A1");
        config.max_entries = 1;
        let mut e = Engine::new(f.bundle.clone(), config).unwrap();
        assert!(e.apply_remote_entry(1, 1, "B", 0));
        assert!(e.is_full());
        // No room for the second: the engine no longer knows every entry, so it admits no one,
        // even after an annulment frees a slot.
        assert!(!e.apply_remote_entry(2, 1, "B", 0));
        e.apply_annulment(1);
        assert!(e.is_full());
        assert_eq!(e.decide(&f.line(3, 1, 1, f.now), f.now_ms()).reason, GATE_FULL);
        // Same for revocations beyond the bound.
        let mut config = f.config("A1");
        config.max_entries = 1;
        let mut e = Engine::new(f.bundle.clone(), config).unwrap();
        assert!(e.apply_revocation(1, 1));
        assert!(e.apply_revocation(1, 1));
        assert!(!e.is_full());
        assert!(!e.apply_revocation(2, 1));
        assert_eq!(e.decide(&f.line(3, 1, 1, f.now), f.now_ms()).reason, GATE_FULL);
    }

    #[test]
    fn gate_ids_are_cut_and_bounded() {
        let f = GateFixture::new(1);
        let mut e = f.engine("A1");
        let long = "é".repeat(40);
        e.apply_remote_entry(1, 1, &long, 5);
        let d = e.decide(&f.line(1, 1, 1, f.now), f.now_ms());
        let gate = d.previous.unwrap().gate_id;
        assert!(gate.len() <= MAX_GATE_ID_LEN && long.starts_with(&gate));
        assert_eq!(cut("abc", 2), "ab");
        assert_eq!(cut("é", 1), "");
    }

    #[test]
    fn live_revocations_survive_a_new_bundle() {
        let f = GateFixture::new(1);
        let mut e = f.engine("A1");
        e.apply_revocation(5, 1);
        let mut b = f.bundle.clone();
        b.issued_at += 1;
        e.replace_bundle(b).unwrap();
        assert_eq!(e.decide(&f.line(5, 1, 1, f.now), f.now_ms()).reason, REVOKED);
    }
}
