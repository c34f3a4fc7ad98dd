//! The sandbox provider: a PSP's test mode, in memory, and durable when given a journal.

use std::collections::HashMap;
use std::fmt;
use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use tessera_domain::Cents;

use crate::card::{self, Behaviour};
use crate::{
    Authorization, AuthorizeRequest, Capture, DeclineCode, PaymentError, PaymentProvider, ProviderRecord, Refund,
};

/// Largest amount one authorisation may hold: €1 000 000.
pub(crate) const MAX_AMOUNT: Cents = Cents(100_000_000);
/// Longest idempotency key accepted.
pub(crate) const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;
/// How long an authorisation can be captured, as card schemes allow (about a week): after
/// that it lapses as if voided.
pub const AUTHORIZATION_LIFETIME_SECS: i64 = 7 * 86_400;

/// How the sandbox behaves in time.
#[derive(Debug, Clone, Copy)]
pub struct SandboxConfig {
    /// How long a lost answer takes to become [`PaymentError::Timeout`]. Default 10 s.
    pub timeout: Duration,
    /// How long the slow test card takes to answer. Default 3 s.
    pub slow_delay: Duration,
    /// The clock for the expiry check. Default [`time::OffsetDateTime::now_utc`].
    pub now: fn() -> time::OffsetDateTime,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            timeout: Duration::from_secs(10),
            slow_delay: Duration::from_secs(3),
            now: time::OffsetDateTime::now_utc,
        }
    }
}

/// A sandbox payment provider that behaves like a PSP's test mode: documented test cards
/// (see the crate documentation), idempotency keys, captures and refunds, all in memory.
/// It moves no money and makes no network call.
pub struct SandboxProvider {
    config: SandboxConfig,
    state: Mutex<State>,
}

/// Every change of the sandbox's state, as one line of its journal. A real provider keeps
/// its state across the merchant's restarts; so does the sandbox when opened on a journal
/// file: each change is appended (one `write`) before it takes effect, and replayed at open.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Event {
    Authorized { key: String, fingerprint: u64, id: String, amount: i64, last4: String, reference: String, at: i64 },
    Declined { key: String, fingerprint: u64, code: DeclineCode },
    Captured { id: String, capture_id: String },
    Voided { id: String },
    Refunded { key: String, id: String, refund_id: String, amount: i64 },
}

#[derive(Default)]
struct State {
    /// Where every change is appended, when the sandbox is durable.
    journal: Option<std::fs::File>,
    /// Authorisations by id.
    authorizations: HashMap<String, AuthRecord>,
    /// Authorisation outcomes by idempotency key.
    authorize_keys: HashMap<String, KeyedOutcome>,
    /// Refunds by idempotency key.
    refund_keys: HashMap<String, Refund>,
    /// Number of authorisations per caller reference.
    per_reference: HashMap<String, usize>,
    captured_total: i64,
    refunded_total: i64,
    capture_count: usize,
}

struct AuthRecord {
    authorization: Authorization,
    capture: Option<Capture>,
    refunded: i64,
    voided: bool,
    /// Unix seconds, for the lifetime of an uncaptured authorisation.
    at: i64,
}

impl AuthRecord {
    /// Not voided, and captured or still within its lifetime.
    fn usable(&self, now: i64) -> bool {
        !self.voided && (self.capture.is_some() || now - self.at <= AUTHORIZATION_LIFETIME_SECS)
    }
}

impl State {
    /// Journals the change, then applies it; a change that cannot be journalled does not
    /// happen, and the provider reads as unavailable.
    fn record(&mut self, event: Event) -> Result<(), PaymentError> {
        if let Some(journal) = &mut self.journal {
            let mut line = serde_json::to_vec(&event).expect("journal events serialise");
            line.push(b'\n');
            journal
                .write_all(&line)
                .map_err(|e| PaymentError::Unavailable(format!("the sandbox could not write its journal: {e}")))?;
        }
        self.apply(event);
        Ok(())
    }

    fn apply(&mut self, event: Event) {
        match event {
            Event::Authorized { key, fingerprint, id, amount, last4, reference, at } => {
                let authorization = Authorization { id: id.clone(), amount: Cents(amount), card_last4: last4 };
                self.authorizations
                    .insert(id.clone(), AuthRecord { authorization, capture: None, refunded: 0, voided: false, at });
                self.authorize_keys.insert(key, KeyedOutcome { fingerprint, outcome: Ok(id) });
                *self.per_reference.entry(reference).or_default() += 1;
            }
            Event::Declined { key, fingerprint, code } => {
                let err = PaymentError::Declined { code, message: code.buyer_message().into() };
                self.authorize_keys.insert(key, KeyedOutcome { fingerprint, outcome: Err(err) });
            }
            Event::Captured { id, capture_id } => {
                if let Some(record) = self.authorizations.get_mut(&id) {
                    let amount = record.authorization.amount;
                    record.capture = Some(Capture { id: capture_id, authorization_id: id, amount });
                    self.captured_total += amount.0;
                    self.capture_count += 1;
                }
            }
            Event::Voided { id } => {
                if let Some(record) = self.authorizations.get_mut(&id) {
                    record.voided = true;
                }
            }
            Event::Refunded { key, id, refund_id, amount } => {
                if let Some(record) = self.authorizations.get_mut(&id) {
                    record.refunded += amount;
                }
                self.refunded_total += amount;
                self.refund_keys.insert(key, Refund { id: refund_id, authorization_id: id, amount: Cents(amount) });
            }
        }
    }
}

struct KeyedOutcome {
    /// A hash of the request, so that the sandbox keeps no card number or CVC.
    fingerprint: u64,
    outcome: Result<String, PaymentError>,
}

impl SandboxProvider {
    pub fn new(config: SandboxConfig) -> Self {
        SandboxProvider { config, state: Mutex::new(State::default()) }
    }

    /// A sandbox that survives restarts: it replays the journal at `path` (created if
    /// missing) and appends every change to it. A journal cut short by a crash mid-line loses
    /// only that line, whose answer never reached the caller.
    pub fn open(path: impl AsRef<Path>, config: SandboxConfig) -> std::io::Result<Self> {
        let path = path.as_ref();
        let mut state = Self::replay(path)?;
        let mut journal = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        // A line cut short by a crash must not glue itself to the next one.
        journal.write_all(b"\n")?;
        state.journal = Some(journal);
        Ok(SandboxProvider { config, state: Mutex::new(state) })
    }

    /// The state a journal holds, read without writing to it (reports): its changes stay in
    /// memory. A missing journal is an empty sandbox.
    pub fn read_journal(path: impl AsRef<Path>, config: SandboxConfig) -> std::io::Result<Self> {
        Ok(SandboxProvider { config, state: Mutex::new(Self::replay(path.as_ref())?) })
    }

    fn replay(path: &Path) -> std::io::Result<State> {
        let mut state = State::default();
        match std::fs::File::open(path) {
            Ok(f) => {
                for (n, line) in std::io::BufReader::new(f).lines().enumerate() {
                    let line = line?;
                    if line.trim().is_empty() {
                        continue;
                    }
                    match serde_json::from_str::<Event>(&line) {
                        Ok(event) => state.apply(event),
                        // Only a last line cut by a crash is expected here; say so either way.
                        Err(e) => {
                            tracing::warn!(line = n + 1, error = %e, path = %path.display(), "skipping an unreadable sandbox journal line")
                        }
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        Ok(state)
    }

    fn now_secs(&self) -> i64 {
        (self.config.now)().unix_timestamp()
    }

    pub fn config(&self) -> &SandboxConfig {
        &self.config
    }

    /// Sum of all captures (refunds not deducted).
    pub fn captured_total(&self) -> Cents {
        Cents(self.lock().captured_total)
    }

    /// Sum of all refunds.
    pub fn refunded_total(&self) -> Cents {
        Cents(self.lock().refunded_total)
    }

    /// Number of captures (a capture repeated idempotently counts once).
    pub fn capture_count(&self) -> usize {
        self.lock().capture_count
    }

    /// Number of authorisations recorded for a caller reference (declines not counted).
    pub fn authorizations_for_reference(&self, reference: &str) -> usize {
        self.lock().per_reference.get(reference).copied().unwrap_or(0)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // No code panics while holding the lock, but stay usable if one ever does.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Default for SandboxProvider {
    fn default() -> Self {
        SandboxProvider::new(SandboxConfig::default())
    }
}

impl fmt::Debug for SandboxProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SandboxProvider").field("config", &self.config).finish_non_exhaustive()
    }
}

fn random_id(prefix: &str) -> String {
    format!("{prefix}{}", hex::encode(rand::random::<[u8; 8]>()))
}

/// A hash of the request, stable across builds and restarts (it is journalled), so that the
/// sandbox keeps no card number or CVC.
fn fingerprint(req: &AuthorizeRequest, digits: &str) -> u64 {
    let mut h = Sha256::new();
    let parts = [
        req.amount.0.to_string(),
        req.reference.clone(),
        digits.to_string(),
        req.card.exp_month.to_string(),
        req.card.exp_year.to_string(),
        req.card.cvc.clone(),
        req.card.holder.clone(),
    ];
    for part in parts {
        h.update(part.as_bytes());
        h.update([0]);
    }
    u64::from_be_bytes(h.finalize()[..8].try_into().expect("8 bytes"))
}

fn check_key(key: &str) -> Result<(), PaymentError> {
    if key.is_empty() {
        return Err(PaymentError::InvalidRequest("idempotency key is empty".into()));
    }
    if key.len() > MAX_IDEMPOTENCY_KEY_LEN {
        return Err(PaymentError::InvalidRequest(format!(
            "idempotency key is {} bytes long; at most {MAX_IDEMPOTENCY_KEY_LEN} allowed",
            key.len()
        )));
    }
    Ok(())
}

fn check_amount(amount: Cents) -> Result<(), PaymentError> {
    if amount.0 <= 0 {
        return Err(PaymentError::InvalidRequest(format!("amount must be at least 1 cent; got {} cents", amount.0)));
    }
    if amount > MAX_AMOUNT {
        return Err(PaymentError::InvalidRequest(format!(
            "amount of {} cents is above the maximum of {} cents",
            amount.0, MAX_AMOUNT.0
        )));
    }
    Ok(())
}

/// What to do once the state is updated and the lock released.
enum Answer {
    Now(Result<Authorization, PaymentError>),
    After(Duration, Result<Authorization, PaymentError>),
}

#[async_trait::async_trait]
impl PaymentProvider for SandboxProvider {
    fn name(&self) -> &'static str {
        "sandbox"
    }

    async fn authorize(&self, req: &AuthorizeRequest) -> Result<Authorization, PaymentError> {
        check_key(&req.idempotency_key)?;
        check_amount(req.amount)?;
        let checked = card::check_format(&req.card)?;
        let fingerprint = fingerprint(req, &checked.digits);
        let answer = {
            let mut state = self.lock();
            if let Some(keyed) = state.authorize_keys.get(&req.idempotency_key) {
                if keyed.fingerprint != fingerprint {
                    return Err(PaymentError::IdempotencyConflict);
                }
                let now = self.now_secs();
                return match &keyed.outcome {
                    // A real provider replays the key's authorisation in the state it is in
                    // now: a voided or lapsed one is no authorisation to sell against.
                    Ok(id) if !state.authorizations[id].usable(now) => Err(PaymentError::AuthorizationVoided),
                    Ok(id) => Ok(state.authorizations[id].authorization.clone()),
                    Err(e) => Err(e.clone()),
                };
            }
            let behaviour = if card::is_expired(checked.exp_year, req.card.exp_month, (self.config.now)()) {
                Behaviour::Decline(crate::DeclineCode::ExpiredCard)
            } else {
                card::sandbox_behaviour(&checked.digits)
            };
            match behaviour {
                Behaviour::ProcessingError => Answer::Now(Err(PaymentError::Unavailable("processing error".into()))),
                Behaviour::Decline(code) => {
                    state.record(Event::Declined { key: req.idempotency_key.clone(), fingerprint, code })?;
                    Answer::Now(Err(PaymentError::Declined { code, message: code.buyer_message().into() }))
                }
                Behaviour::Approve | Behaviour::Slow | Behaviour::LostAnswer => {
                    let id = loop {
                        let id = random_id("sbx_auth_");
                        if !state.authorizations.contains_key(&id) {
                            break id;
                        }
                    };
                    let authorization = Authorization {
                        id: id.clone(),
                        amount: req.amount,
                        card_last4: checked.digits[checked.digits.len() - 4..].to_string(),
                    };
                    state.record(Event::Authorized {
                        key: req.idempotency_key.clone(),
                        fingerprint,
                        id,
                        amount: req.amount.0,
                        last4: authorization.card_last4.clone(),
                        reference: req.reference.clone(),
                        at: self.now_secs(),
                    })?;
                    let slow_is_lost = self.config.slow_delay >= self.config.timeout;
                    match behaviour {
                        Behaviour::LostAnswer => Answer::After(self.config.timeout, Err(PaymentError::Timeout)),
                        Behaviour::Slow if slow_is_lost => {
                            Answer::After(self.config.timeout, Err(PaymentError::Timeout))
                        }
                        Behaviour::Slow => Answer::After(self.config.slow_delay, Ok(authorization)),
                        _ => Answer::Now(Ok(authorization)),
                    }
                }
            }
        };
        match answer {
            Answer::Now(result) => result,
            Answer::After(delay, result) => {
                tokio::time::sleep(delay).await;
                result
            }
        }
    }

    async fn capture(&self, authorization_id: &str) -> Result<Capture, PaymentError> {
        let mut state = self.lock();
        let state = &mut *state;
        let record = state.authorizations.get_mut(authorization_id).ok_or(PaymentError::NotFound)?;
        if let Some(capture) = &record.capture {
            return Ok(capture.clone());
        }
        if record.voided {
            return Err(PaymentError::InvalidRequest("this authorization was voided".into()));
        }
        if !record.usable(self.now_secs()) {
            return Err(PaymentError::InvalidRequest("this authorization has lapsed".into()));
        }
        let capture_id = random_id("sbx_cap_");
        state.record(Event::Captured { id: authorization_id.to_string(), capture_id })?;
        Ok(state.authorizations[authorization_id].capture.clone().expect("just captured"))
    }

    async fn void(&self, authorization_id: &str) -> Result<(), PaymentError> {
        let mut state = self.lock();
        let record = state.authorizations.get_mut(authorization_id).ok_or(PaymentError::NotFound)?;
        if record.capture.is_some() {
            return Err(PaymentError::InvalidRequest("a captured payment is refunded, not voided".into()));
        }
        if !record.voided {
            state.record(Event::Voided { id: authorization_id.to_string() })?;
        }
        Ok(())
    }

    async fn refund(
        &self,
        authorization_id: &str,
        amount: Cents,
        idempotency_key: &str,
    ) -> Result<Refund, PaymentError> {
        check_key(idempotency_key)?;
        if amount.0 <= 0 {
            return Err(PaymentError::InvalidRequest(format!(
                "refund amount must be at least 1 cent; got {} cents",
                amount.0
            )));
        }
        let mut state = self.lock();
        let state = &mut *state;
        if let Some(refund) = state.refund_keys.get(idempotency_key) {
            return if refund.authorization_id == authorization_id && refund.amount == amount {
                Ok(refund.clone())
            } else {
                Err(PaymentError::IdempotencyConflict)
            };
        }
        let record = state.authorizations.get_mut(authorization_id).ok_or(PaymentError::NotFound)?;
        let Some(capture) = &record.capture else {
            return Err(PaymentError::InvalidRequest(format!(
                "authorization {authorization_id} has not been captured; nothing to refund"
            )));
        };
        let refundable = capture.amount.0 - record.refunded;
        if amount.0 > refundable {
            return Err(PaymentError::InvalidRequest(format!(
                "refund of {amount} exceeds the {} still refundable on {authorization_id} \
                 (captured {}, already refunded {})",
                Cents(refundable),
                capture.amount,
                Cents(record.refunded)
            )));
        }
        state.record(Event::Refunded {
            key: idempotency_key.to_string(),
            id: authorization_id.to_string(),
            refund_id: random_id("sbx_refund_"),
            amount: amount.0,
        })?;
        Ok(state.refund_keys[idempotency_key].clone())
    }

    async fn authorizations_since(&self, since: i64, limit: usize) -> Result<Vec<ProviderRecord>, PaymentError> {
        let state = self.lock();
        let mut found: Vec<ProviderRecord> = state
            .authorizations
            .values()
            .filter(|r| r.at >= since)
            .map(|r| ProviderRecord {
                id: r.authorization.id.clone(),
                amount: r.authorization.amount,
                authorized_at: r.at,
                captured: r.capture.is_some(),
                refunded: Cents(r.refunded),
                voided: r.voided,
            })
            .collect();
        found.sort_by(|a, b| (a.authorized_at, &a.id).cmp(&(b.authorized_at, &b.id)));
        found.truncate(limit);
        Ok(found)
    }
}

#[cfg(test)]
mod tests;
