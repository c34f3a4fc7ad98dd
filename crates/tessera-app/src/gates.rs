//! The central side of the gates: enrolment tokens, signed venue bundles, scan sync, the
//! venue feed, annulment and the figures operators watch.
//!
//! A gate is enrolled for one venue and one entrance with a signed, expiring token
//! (`gate` purpose): it can fetch its venue's bundle and report its scans, nothing else. The
//! bundle is signed with the central bundle key (Ed25519, derived from the secret key); gates
//! are configured with its public half, so a tampered or foreign bundle is refused.

use crate::sale::check_name;
use crate::{App, AppError, Result};
use serde::Serialize;
use tessera_domain::Timestamp;
use tessera_gate::bundle::{Bundle, BundleKey, BundlePolicy, BundleSession, SignedBundle};
use tessera_store::{FeedEvent, GateFigures, GateRecord, SecurityEvent};
use tessera_wire::{ScanReport, SyncReply, SyncRequest};

/// The id under which gates know the bundle key; bump it to rotate.
pub const BUNDLE_KEY_ID: u32 = 1;
/// How long a bundle is good for: a gate cut off for longer stops admitting.
pub const BUNDLE_TTL_SECS: i64 = 24 * 3600;
/// Most scans in one sync request.
pub const MAX_SYNC_BATCH: usize = 5_000;
/// A gate is online when it synced this recently.
pub const ONLINE_WITHIN_MS: i64 = 30_000;
/// Most gates whose syncs are remembered in memory: an event has a few thousand.
const MAX_GATES_HEARD: usize = 20_000;
/// Most feed events in one answer; the gate asks again from the last one.
pub const MAX_FEED: i64 = 10_000;
/// How often at most the other nodes hear that a gate synced here.
pub const GATE_HEARD_EVERY_MS: i64 = 5_000;

/// What an enrolment token grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct GateIdentity {
    pub gate_id: String,
    pub venue_code: String,
    /// Entrance code (`Gate-A`); empty: any entrance.
    pub entrance: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct GateOverview {
    pub gates: Vec<GateStatus>,
    pub figures: GateFigures,
    pub security_events: Vec<SecurityEvent>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GateStatus {
    #[serde(flatten)]
    pub gate: GateRecord,
    /// Heard from within the last 30 s.
    pub online: bool,
    /// Unix ms up to which its tokens are revoked, if they ever were.
    pub revoked_at_ms: Option<i64>,
}

fn double_entry(e: &SecurityEvent) -> tessera_wire::DoubleEntry {
    tessera_wire::DoubleEntry {
        ticket_id: e.ticket_id,
        first_gate_id: e.first.scan.gate_id.clone(),
        first_at_ms: e.first.scan.at_ms,
        second_gate_id: e.second.scan.gate_id.clone(),
        second_at_ms: e.second.scan.at_ms,
    }
}

/// What a well-behaved gate sends; a batch with one bad scan is refused whole.
fn check_scan(d: &ScanReport) -> Result<()> {
    let bad = |m: &str| AppError::invalid("scans", format!("scan {}: {m}", d.device_seq));
    if d.device_seq < 1 {
        return Err(bad("device_seq starts at 1"));
    }
    if d.session_code.len() > 16 || d.entrance.len() > 16 || d.reason.len() > 32 || d.reason.is_empty() {
        return Err(bad("session, entrance or reason too long, or no reason"));
    }
    if d.admitted != (d.reason == "valid") {
        return Err(bad("an admission has reason valid, a refusal another"));
    }
    if !matches!(d.kind.as_str(), "ticket" | "badge" | "unknown") {
        return Err(bad("kind is ticket, badge or unknown"));
    }
    Ok(())
}

impl App {
    pub fn bundle_signing_key(&self) -> ed25519_dalek::SigningKey {
        ed25519_dalek::SigningKey::from_bytes(
            &self.derived_key(b"tessera gate bundle key", &BUNDLE_KEY_ID.to_be_bytes()),
        )
    }

    /// The public key gates are configured with (hex), to check bundles.
    pub fn bundle_public_key_hex(&self) -> String {
        hex::encode(self.bundle_signing_key().verifying_key().as_bytes())
    }

    /// An enrolment token for a gate, valid `ttl_secs`.
    pub async fn enroll_gate(&self, gate_id: &str, venue_code: &str, entrance: &str, ttl_secs: i64) -> Result<String> {
        check_name("gate_id", gate_id, 32, false)?;
        check_name("entrance", entrance, tessera_credential::MAX_ENTRANCE_LEN, true)?;
        if !(60..=366 * 86_400).contains(&ttl_secs) {
            return Err(AppError::invalid("ttl", "between 60 s and 366 days"));
        }
        // The venue must exist, and its code must survive the token's dot-separated format.
        check_name("venue", venue_code, 32, false)?;
        let data = self.store.venue_gate_data(venue_code, self.now(), self.now()).await?;
        if !entrance.is_empty() && !data.zones.iter().any(|z| tessera_credential::entrance_code(z) == entrance) {
            let known: Vec<String> = data.zones.iter().map(|z| tessera_credential::entrance_code(z)).collect();
            return Err(AppError::invalid(
                "entrance",
                format!("venue {venue_code} has entrances {}", known.join(", ")),
            ));
        }
        let expires = Timestamp(self.now().0 + ttl_secs);
        // When it was issued, to the millisecond: a revocation refuses the tokens issued up to
        // its moment, and a gate enrolled again right after gets one that works.
        // From the store, not this process's list: the revocation may be another node's.
        let revoked = self
            .store
            .key_revocations()
            .await?
            .into_iter()
            .find(|r| r.holder == gate_id)
            .map_or(i64::MIN, |r| r.revoked_at_ms);
        let issued = self.now_ms().max(revoked.saturating_add(1)).to_string();
        Ok(self.tokens().sign("gate", &[gate_id, venue_code, entrance, &issued], expires))
    }

    /// The identity in a gate token that is signed, unexpired and not revoked.
    pub fn gate_identity(&self, token: &str) -> Result<GateIdentity> {
        let f = self.tokens().verify("gate", token, self.now()).map_err(|e| AppError::BadToken(e.as_str()))?;
        let [gate, venue, entrance, issued] = *f else {
            return Err(AppError::BadToken("malformed"));
        };
        let issued: i64 = issued.parse().map_err(|_| AppError::BadToken("malformed"))?;
        if self.airlock.keys_revoked(gate, issued) {
            return Err(AppError::BadToken("revoked"));
        }
        Ok(GateIdentity { gate_id: gate.to_string(), venue_code: venue.to_string(), entrance: entrance.to_string() })
    }

    /// Revokes every token issued to `gate_id` so far, on this node at once and on the others
    /// over the bus (without one, at their next refresh of the airlock, a few seconds). The gate must be enrolled again.
    pub async fn revoke_gate(&self, gate_id: &str, reason: &str) -> Result<()> {
        check_name("gate_id", gate_id, 32, false)?;
        self.revoke_key_holder(gate_id, reason, "gate_token_revoked", &format!("gate:{gate_id}")).await
    }

    /// Revokes every signed key issued to `holder` up to now: a gate (its id), or another
    /// holder under a name no gate can have (`results-source:ATHOLY1`). One list for all,
    /// kept by the store and shared with every node like the gates' own.
    pub(crate) async fn revoke_key_holder(
        &self,
        holder: &str,
        reason: &str,
        kind: &'static str,
        subject: &str,
    ) -> Result<()> {
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > 200 || reason.chars().any(char::is_control) {
            return Err(AppError::invalid("reason", "say why, in 1 to 200 printable characters"));
        }
        let at = self.now_ms();
        let r = tessera_store::KeyRevocation { holder: holder.into(), revoked_at_ms: at, reason: reason.into() };
        self.store.revoke_keys(&r).await?;
        self.airlock.revoke_keys(holder, at);
        self.tell_nodes(crate::cluster::NodeEvent::KeysRevoked { holder: holder.to_string(), revoked_at_ms: at }).await;
        self.security.record(crate::security::SecurityEvent {
            at: self.now(),
            kind,
            subject: subject.to_string(),
            detail: reason.to_string(),
        });
        Ok(())
    }

    /// The signed bundle of a venue: its sessions from a day ago to two days ahead, the issuer
    /// public keys of those days, the code policy and every revoked credential.
    pub async fn gate_bundle(&self, venue_code: &str) -> Result<SignedBundle> {
        let now = self.now();
        let data =
            self.store.venue_gate_data(venue_code, Timestamp(now.0 - 86_400), Timestamp(now.0 + 2 * 86_400)).await?;
        let mut key_ids: Vec<u32> = data.sessions.iter().map(|s| crate::tickets::issuer_key_id(s.2)).collect();
        key_ids.sort_unstable();
        key_ids.dedup();
        let s = &self.config.tickets;
        let keys = key_ids
            .into_iter()
            .map(|id| {
                let day = id as i64 * 86_400;
                BundleKey {
                    id,
                    public_key: hex::encode(self.issuer_key(id).public().as_bytes()),
                    // From activation on the eve until sessions running past midnight end.
                    not_before: day - 86_400,
                    not_after: day + 2 * 86_400,
                }
            })
            .collect();
        let bundle = Bundle {
            format: 1,
            venue_code: data.venue_code,
            venue_name: data.venue_name,
            zones: data.zones,
            sessions: data
                .sessions
                .into_iter()
                .map(|(code, title, starts_at, ends_at)| BundleSession {
                    code,
                    title,
                    starts_at: starts_at.0,
                    ends_at: ends_at.0,
                })
                .collect(),
            keys,
            policy: BundlePolicy {
                step_secs: s.policy.step_secs,
                window_secs: s.policy.window_secs,
                max_clock_skew_secs: s.policy.max_clock_skew_secs,
                doors_open_before_secs: s.doors_open_before_secs,
            },
            revoked: data.revoked,
            feed_seq: data.feed_seq,
            issued_at: now.0,
            expires_at: now.0 + BUNDLE_TTL_SECS,
            badges: Some(self.gate_badges().await?),
        };
        Ok(SignedBundle::sign(&bundle, BUNDLE_KEY_ID, &self.bundle_signing_key()))
    }

    /// A gate reports its decisions and learns what happened elsewhere at its venue.
    pub async fn gate_sync(&self, gate: &GateIdentity, req: &SyncRequest) -> Result<SyncReply> {
        // Badges are decided at the gate alone (they may enter again; a person is no ticket):
        // only ticket scans are recorded as entries. Every scan still feeds the security engine.
        let tickets: Vec<tessera_wire::ScanReport> = req.scans.iter().filter(|s| s.kind != "badge").cloned().collect();
        let (scans, after_seq) = (&tickets, req.after_seq);
        if req.scans.len() > MAX_SYNC_BATCH {
            return Err(AppError::invalid(
                "scans",
                format!("at most {MAX_SYNC_BATCH} per request, got {}", req.scans.len()),
            ));
        }
        if let Some(s) = req.scans.iter().find(|s| s.gate_id != gate.gate_id) {
            return Err(AppError::Forbidden(format!("this gate is {}, not {}", gate.gate_id, s.gate_id)));
        }
        req.scans.iter().try_for_each(check_scan)?;
        // A gate admits only to its venue's sessions (its bundle holds no others): a report
        // of anything else comes from a tampered device and must not mark tickets as entered.
        if scans.iter().any(|s| s.admitted) {
            let mut known = self.venue_sessions(&gate.venue_code, false).await?;
            let foreign = |known: &std::collections::HashSet<String>| {
                scans.iter().find(|s| s.admitted && !known.contains(&s.session_code)).cloned()
            };
            if foreign(&known).is_some() {
                // The cache may predate a session imported since.
                known = self.venue_sessions(&gate.venue_code, true).await?;
            }
            if let Some(f) = foreign(&known) {
                tracing::warn!(gate = %gate.gate_id, session = %f.session_code, "gate reported an admission outside its venue");
                return Err(AppError::Forbidden(format!(
                    "scan {}: session {} is not at venue {}",
                    f.device_seq, f.session_code, gate.venue_code
                )));
            }
        }
        let now_ms = self.now_ms();
        let outcome = self.store.record_scans(&gate.venue_code, &gate.entrance, scans, now_ms).await?;
        self.heard_from(gate, now_ms);
        for e in &outcome.double_entries {
            tracing::warn!(
                ticket = e.ticket_id,
                first_gate = %e.first.scan.gate_id,
                second_gate = %e.second.scan.gate_id,
                "security event: double entry"
            );
            let mut ev = tessera_detect::Event::new(now_ms, tessera_detect::Kind::GateDoubleEntry);
            ev.outcome = tessera_detect::Outcome::Failure;
            ev.ticket = Some(e.ticket_id.to_string());
            ev.gate = Some(e.second.scan.gate_id.clone());
            self.observe(ev);
        }
        // The gates' refusals that say something about the code shown, for the security
        // engine. A batch sent again (duplicates) is not told twice.
        if outcome.duplicates == 0 {
            for scan in &req.scans {
                let kind = match scan.reason.as_str() {
                    "bad_signature" | "bad_device_signature" | "unknown_key" => tessera_detect::Kind::GateForgedCode,
                    "expired_code" | "future_code" => tessera_detect::Kind::GateReplay,
                    tessera_gate::engine::ALREADY_USED => tessera_detect::Kind::GateDoubleEntry,
                    tessera_gate::engine::REVOKED => tessera_detect::Kind::GateRevokedCredential,
                    _ => continue,
                };
                let mut ev = tessera_detect::Event::new(scan.at_ms, kind);
                ev.outcome = tessera_detect::Outcome::Failure;
                ev.ticket = (scan.ticket_id > 0).then(|| scan.ticket_id.to_string());
                ev.gate = Some(scan.gate_id.clone());
                self.observe(ev);
            }
        }
        let feed = self.store.gate_feed(&gate.venue_code, after_seq.max(0), MAX_FEED).await?;
        let feed_seq = feed.last().map_or(after_seq, |e| e.seq);
        // Badge revocations ride on every sync, but only when they changed since the gate's.
        let badges = self.badge_revocations().await?;
        let badges = (badges.version > req.badges_version).then(|| (*badges).clone());
        Ok(SyncReply {
            badges,
            recorded: outcome.recorded,
            duplicates: outcome.duplicates,
            double_entries: outcome.double_entries.iter().map(double_entry).collect(),
            feed,
            feed_seq,
            server_time_ms: now_ms,
            offline_first: self.mode_on(crate::toc::Mode::GatesOfflineFirst),
        })
    }

    async fn venue_sessions(
        &self,
        venue: &str,
        fresh: bool,
    ) -> Result<std::sync::Arc<std::collections::HashSet<String>>> {
        if !fresh {
            if let Some(v) = self.caches.venue_sessions.get(venue) {
                return Ok(v);
            }
        }
        let filter = tessera_store::SessionFilter { venue: Some(venue.to_string()), limit: 1000, ..Default::default() };
        let set: std::collections::HashSet<String> =
            self.store.list_sessions(&filter).await?.into_iter().map(|s| s.code).collect();
        let set = std::sync::Arc::new(set);
        self.caches.venue_sessions.put(venue.to_string(), set.clone());
        Ok(set)
    }

    /// An operator annuls an admission: the turnstile did not turn, the ticket may enter again.
    /// `ticket` is the ticket's code, as printed and shown in the wallet, or its number, as the
    /// security events list it.
    pub async fn annul_entry(&self, ticket: &str, reason: &str) -> Result<FeedEvent> {
        if reason.trim().is_empty() || reason.len() > 200 {
            return Err(AppError::invalid("reason", "say why, in at most 200 characters"));
        }
        let ticket = ticket.trim();
        let ticket_id = match ticket.parse::<i64>() {
            Ok(id) => id,
            Err(_) => match self.store.holding(ticket).await? {
                Some(h) => h.ticket_id.0,
                None => return Err(AppError::NotFound(format!("ticket {ticket}"))),
            },
        };
        Ok(self.store.annul_entry(ticket_id, reason.trim(), self.now_ms()).await?)
    }

    /// A gate synced: its liveness. The store's record moves only when a batch holds scans
    /// (it is keyed by the scans' gate), so a gate that syncs every 250 ms with nothing to
    /// report would read as offline 30 s after its last scan.
    ///
    /// On several nodes a gate syncs with one of them; the others hear of it over the bus, at
    /// most every [`GATE_HEARD_EVERY_MS`] per gate, so that every node's console shows it live.
    fn heard_from(&self, gate: &GateIdentity, now_ms: i64) {
        self.toc.heard(&gate.gate_id, now_ms);
        let told = self.heard_here(gate, now_ms);
        if self.cluster.is_some() && told {
            let (app, gate) = (self.clone(), gate.clone());
            tokio::spawn(async move {
                app.tell_nodes(crate::cluster::NodeEvent::GateHeard { gate, at_ms: now_ms }).await;
            });
        }
    }

    /// Records a sync; `true` when the other nodes last heard of this gate long enough ago.
    pub(crate) fn heard_here(&self, gate: &GateIdentity, now_ms: i64) -> bool {
        let mut heard = self.caches.gate_syncs.lock().unwrap_or_else(|e| e.into_inner());
        let before = heard.get(&gate.gate_id).map(|(_, at)| *at);
        if heard.len() < MAX_GATES_HEARD || before.is_some() {
            heard.insert(gate.gate_id.clone(), (gate.clone(), now_ms.max(before.unwrap_or(i64::MIN))));
        }
        let mut told = self.caches.gate_told.lock().unwrap_or_else(|e| e.into_inner());
        let last = told.get(&gate.gate_id).copied();
        if last.is_none_or(|t| now_ms - t >= GATE_HEARD_EVERY_MS) && (told.len() < MAX_GATES_HEARD || last.is_some()) {
            told.insert(gate.gate_id.clone(), now_ms);
            return true;
        }
        false
    }

    /// The gates as the store knows them, each with its last sync the later of the store's
    /// (last batch with scans, from any node) and this node's (any sync, scans or not); gates
    /// that synced here without a scan yet are listed too.
    pub async fn gates(&self) -> Result<Vec<GateRecord>> {
        let mut gates = self.store.gates().await?;
        let heard = self.caches.gate_syncs.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for g in &mut gates {
            if let Some((_, at)) = heard.get(&g.gate_id) {
                g.last_sync_at_ms = g.last_sync_at_ms.max(*at);
            }
        }
        for (id, (who, at)) in heard {
            if !gates.iter().any(|g| g.gate_id == id) {
                gates.push(GateRecord {
                    gate_id: id,
                    venue_code: who.venue_code,
                    entrance: who.entrance,
                    last_sync_at_ms: at,
                    admitted: 0,
                    refused: 0,
                });
            }
        }
        gates.sort_by(|a, b| a.gate_id.cmp(&b.gate_id));
        Ok(gates)
    }

    pub async fn gate_overview(&self, since_ms: i64) -> Result<GateOverview> {
        let now_ms = self.now_ms();
        let gates = self
            .gates()
            .await?
            .into_iter()
            .map(|g| GateStatus {
                online: now_ms - g.last_sync_at_ms < ONLINE_WITHIN_MS,
                revoked_at_ms: self.airlock.keys_revoked_at(&g.gate_id),
                gate: g,
            })
            .collect();
        Ok(GateOverview {
            gates,
            figures: self.store.gate_figures(since_ms).await?,
            security_events: self.store.security_events(50).await?,
        })
    }
}
