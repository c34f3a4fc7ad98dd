//! Phone tickets: the wallet, activation on a phone, transfer and the official resale.
//!
//! A ticket activates a configurable time before its session (`TicketSettings::activation_lead_secs`).
//! Activation binds it to a P-256 key made in the phone's browser: the central system signs a
//! pass (`tessera_credential::Pass`) naming that key, and from then on only that browser can
//! make the renewing codes a gate admits. Moving a ticket (transfer, resale, re-activation)
//! revokes the credential in force; gates learn it from their feed.

use crate::auth::Principal;
use crate::{App, AppError, Result};
use serde::Serialize;
use sha2::Sha256;
use tessera_credential::{IssuerKey, Pass, Policy};
use tessera_domain::{Cents, Timestamp};
use tessera_payments::{AuthorizeRequest, Card, PaymentError};
use tessera_store::{
    BeginOutcome, BuyResale, Holding, IssueCredential, Listing, PaymentKey, PaymentKind, PaymentState, Remembered,
    StoreError, Transfer,
};

/// How phone tickets behave; the defaults follow Paris 2024.
#[derive(Debug, Clone, Copy)]
pub struct TicketSettings {
    /// How long before its session a ticket can be activated and shows its code.
    pub activation_lead_secs: i64,
    /// How long before a session its gates open.
    pub doors_open_before_secs: i64,
    /// How often codes renew and how long one is accepted.
    pub policy: Policy,
    /// Activations of one ticket by one holder (the first and re-activations on a new phone).
    pub max_activations: i64,
    /// Official resale fees in basis points of the face value (10 % and 5 % at Paris 2024).
    pub resale_buyer_fee_bp: i64,
    pub resale_seller_fee_bp: i64,
}

impl Default for TicketSettings {
    fn default() -> Self {
        TicketSettings {
            activation_lead_secs: 3 * 3600,
            doors_open_before_secs: 3 * 3600,
            policy: Policy::default(),
            max_activations: 3,
            resale_buyer_fee_bp: 1000,
            resale_seller_fee_bp: 500,
        }
    }
}

/// Seats per row, and rows served by one entrance, in the seat plan derived from a ticket's
/// rank in its category (the catalogue has no seat map yet).
const SEATS_PER_ROW: i64 = 30;
const ROWS_PER_ENTRANCE: i64 = 10;

/// A ticket as the wallet shows it.
#[derive(Debug, Clone, Serialize)]
pub struct WalletTicket {
    pub code: String,
    pub session_code: String,
    pub session_title: String,
    pub venue_name: String,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub category_name: String,
    pub price: Cents,
    pub holder: String,
    /// The venue zone to enter by, as printed ("Gate A").
    pub gate: String,
    pub seat: String,
    pub activates_at: Timestamp,
    /// `waiting` (before `activates_at`), `ready` (may be activated), `active` (a phone holds
    /// it), `transfer_pending`, `listed`, `used` (it has entered: no more codes), `ended`.
    pub state: &'static str,
    /// When it entered, unix ms.
    pub entered_at_ms: Option<i64>,
    /// The signed pass, base64url, when active: the phone keeps it with its key.
    pub pass: Option<String>,
    pub pending_transfer: Option<Transfer>,
    pub listing: Option<Listing>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Activation {
    /// The signed pass, base64url.
    pub pass: String,
    pub serial: i64,
    pub key_id: u32,
    pub step_secs: u32,
    /// The server's clock, so that a phone whose clock is off can correct it.
    pub server_time_ms: i64,
}

impl WalletTicket {
    fn new(h: &Holding, s: &TicketSettings, now: Timestamp) -> Self {
        let activates_at = Timestamp(h.starts_at.0 - s.activation_lead_secs);
        let state = if now >= h.ends_at {
            "ended"
        } else if h.entered_at_ms.is_some() {
            "used"
        } else if h.pending_transfer.is_some() {
            "transfer_pending"
        } else if h.listing.is_some() {
            "listed"
        } else if h.credential.is_some() {
            "active"
        } else if now < activates_at {
            "waiting"
        } else {
            "ready"
        };
        WalletTicket {
            code: h.code.clone(),
            session_code: h.session_code.clone(),
            session_title: h.session_title.clone(),
            venue_name: h.venue_name.clone(),
            starts_at: h.starts_at,
            ends_at: h.ends_at,
            category_name: h.category_name.clone(),
            price: h.price,
            holder: h.holder_name.clone(),
            gate: gate_of(h).to_string(),
            seat: seat_of(h),
            activates_at,
            state,
            entered_at_ms: h.entered_at_ms,
            pass: h.credential.as_ref().map(|c| b64url(&c.pass)),
            pending_transfer: h.pending_transfer.clone(),
            listing: h.listing.clone(),
        }
    }
}

/// The zone a ticket enters by: blocks of rows share an entrance.
pub fn gate_of(h: &Holding) -> &str {
    if h.zones.is_empty() {
        return "";
    }
    let block = h.seat_rank / (SEATS_PER_ROW * ROWS_PER_ENTRANCE);
    &h.zones[(block % h.zones.len() as i64) as usize]
}

pub fn seat_of(h: &Holding) -> String {
    let row = h.seat_rank / SEATS_PER_ROW + 1;
    let seat = h.seat_rank % SEATS_PER_ROW + 1;
    // Bounded to the pass's 32 bytes: a long category code is cut, never the row or seat.
    let mut cat = h.category_code.clone();
    cat.truncate(10);
    format!("{cat} Row {row} Seat {seat}")
}

fn b64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The issuer key id for passes of sessions starting at `starts_at`: one key per event day
/// (UTC), so that a leaked key is worth one day and gates trust only the days they serve.
pub fn issuer_key_id(starts_at: Timestamp) -> u32 {
    starts_at.0.div_euclid(86_400).clamp(0, u32::MAX as i64) as u32
}

/// A device public key from WebCrypto's raw export (65 bytes, uncompressed) or already
/// compressed (33 bytes), checked to be a point on P-256 and returned compressed.
pub fn device_key(raw: &[u8]) -> Result<[u8; 33]> {
    use p256::elliptic_curve::sec1::ToEncodedPoint;
    if raw.len() != 33 && raw.len() != 65 {
        return Err(AppError::invalid(
            "device_key",
            format!("a P-256 public key is 33 or 65 bytes, got {}", raw.len()),
        ));
    }
    let key = p256::PublicKey::from_sec1_bytes(raw)
        .map_err(|_| AppError::invalid("device_key", "not a point on the P-256 curve"))?;
    let compressed = key.to_encoded_point(true);
    let mut out = [0u8; 33];
    out.copy_from_slice(compressed.as_bytes());
    Ok(out)
}

impl App {
    /// The issuer key for a key id, derived from the secret key: nothing to store, the same
    /// on every node, and rotating the secret key rotates every issuer key.
    pub fn issuer_key(&self, id: u32) -> IssuerKey {
        IssuerKey::from_secret_bytes(id, &self.derived_key(b"tessera issuer key", &id.to_be_bytes()))
    }

    pub(crate) fn derived_key(&self, purpose: &[u8], context: &[u8]) -> [u8; 32] {
        use hmac::{Hmac, Mac};
        use secrecy::ExposeSecret;
        let mut mac = Hmac::<Sha256>::new_from_slice(self.config.secret_key.expose_secret()).expect("any length");
        mac.update(purpose);
        mac.update(context);
        mac.finalize().into_bytes().into()
    }

    pub async fn wallet(&self, who: &Principal) -> Result<Vec<WalletTicket>> {
        let now = self.now();
        let s = &self.config.tickets;
        Ok(self.store.holdings(who.account_id).await?.iter().map(|h| WalletTicket::new(h, s, now)).collect())
    }

    /// Binds a ticket to the phone holding the private half of `device_key` and returns the
    /// signed pass. `replace` moves it to a new phone (the old one's codes are then refused).
    pub async fn activate(
        &self,
        who: &Principal,
        ticket_code: &str,
        device_key_raw: &[u8],
        replace: bool,
    ) -> Result<Activation> {
        let device = device_key(device_key_raw)?;
        let h = self.held_ticket(who, ticket_code).await?;
        let s = &self.config.tickets;
        let now = self.now();
        let activates_at = h.starts_at.0 - s.activation_lead_secs;
        if now.0 < activates_at {
            return Err(AppError::Conflict(format!(
                "this ticket can be activated from {} (UTC), {} hours before the session",
                Timestamp(activates_at),
                s.activation_lead_secs / 3600
            )));
        }
        if now >= h.ends_at {
            return Err(AppError::Conflict("the session is over".into()));
        }
        let serial = {
            use rand::Rng;
            rand::thread_rng().gen_range(1..i64::MAX)
        };
        let key_id = issuer_key_id(h.starts_at);
        let mut holder = h.holder_name.clone();
        truncate_utf8(&mut holder, tessera_credential::MAX_HOLDER_LEN);
        let pass = Pass {
            key_id,
            ticket_id: tessera_credential::ticket_id_bytes(h.ticket_id.0, serial),
            session: h.session_code.clone(),
            entrance: tessera_credential::entrance_code(gate_of(&h)),
            seat: seat_of(&h),
            holder,
            valid_from: activates_at,
            valid_until: h.ends_at.0,
            device_key: device,
        };
        let signed = pass.sign(&self.issuer_key(key_id)).map_err(|e| AppError::Internal(format!("pass: {e}")))?;
        let record = tessera_store::CredentialRecord {
            serial,
            device_key: device.to_vec(),
            key_id,
            pass: signed.clone(),
            issued_at: now,
        };
        self.store
            .issue_credential(&IssueCredential {
                ticket_id: h.ticket_id,
                account: who.account_id,
                record,
                replace,
                max_issues: s.max_activations,
                now,
            })
            .await?;
        self.observe_now(tessera_detect::Kind::TicketActivated, |e| {
            e.outcome = tessera_detect::Outcome::Success;
            e.account = Some(who.account_id.0 as u64);
            e.ticket = Some(ticket_code.to_string());
            // The phone's key, keyed: one phone holding many accounts' tickets is a ring.
            e.device = Some(self.tokens().keyed_digest(&b64url(&device)));
        });
        Ok(Activation {
            pass: b64url(&signed),
            serial,
            key_id,
            step_secs: s.policy.step_secs,
            server_time_ms: self.now_ms(),
        })
    }

    async fn held_ticket(&self, who: &Principal, ticket_code: &str) -> Result<Holding> {
        match self.store.holding(ticket_code).await? {
            Some(h) if h.account_id == who.account_id => Ok(h),
            // Another holder's ticket reads as unknown: codes are not to be probed.
            _ => Err(AppError::NotFound(format!("ticket {ticket_code}"))),
        }
    }

    pub async fn offer_transfer(&self, who: &Principal, ticket_code: &str, to_email: &str) -> Result<Transfer> {
        let to = tessera_domain::Email::parse(to_email).map_err(|e| AppError::invalid("to_email", e.to_string()))?;
        let now = self.now();
        let t = self.store.create_transfer(ticket_code, who.account_id, &to, now).await?;
        let body = format!(
            "{} offers you a ticket for {} ({}).\n\nAccept it in your wallet: {}/wallet\n",
            t.from_name, t.session_code, t.ticket_code, self.config.public_url
        );
        self.store.enqueue_mail(to.as_str(), "A ticket is offered to you", &body, now).await?;
        self.observe_now(tessera_detect::Kind::TicketTransferred, |e| {
            e.outcome = tessera_detect::Outcome::Success;
            e.account = Some(who.account_id.0 as u64);
            e.ticket = Some(t.ticket_code.clone());
            // The receiver, keyed: rings pass tickets around among few addresses.
            e.user = Some(self.tokens().keyed_digest(to.as_str()));
        });
        Ok(t)
    }

    pub async fn cancel_transfer(&self, who: &Principal, id: i64) -> Result<Transfer> {
        Ok(self.store.cancel_transfer(id, who.account_id, self.now()).await?)
    }

    pub async fn accept_transfer(&self, who: &Principal, id: i64) -> Result<Transfer> {
        Ok(self.store.accept_transfer(id, who.account_id, self.now()).await?)
    }

    pub async fn transfers(&self, who: &Principal) -> Result<Vec<Transfer>> {
        Ok(self.store.transfers(who.account_id).await?)
    }

    /// Lists a ticket on the official resale at its face value.
    pub async fn list_for_resale(&self, who: &Principal, ticket_code: &str) -> Result<Listing> {
        let h = self.held_ticket(who, ticket_code).await?;
        let s = &self.config.tickets;
        let (buyer_fee, seller_fee) = (fee(h.price, s.resale_buyer_fee_bp), fee(h.price, s.resale_seller_fee_bp));
        let listing =
            self.store.list_for_resale(ticket_code, who.account_id, buyer_fee, seller_fee, self.now()).await?;
        self.observe_now(tessera_detect::Kind::ResaleListed, |e| {
            e.outcome = tessera_detect::Outcome::Success;
            e.account = Some(who.account_id.0 as u64);
            e.ticket = Some(ticket_code.to_string());
        });
        Ok(listing)
    }

    pub async fn cancel_listing(&self, who: &Principal, id: i64) -> Result<Listing> {
        Ok(self.store.cancel_listing(id, who.account_id, self.now()).await?)
    }

    pub async fn resale_listings(&self, session: Option<&str>) -> Result<Vec<Listing>> {
        Ok(self.store.open_listings(session, 200).await?)
    }

    /// Buys a listed ticket: the card is authorised for the price and the buyer's fee, the
    /// store moves the ticket (caps checked), then the payment is captured. A refused sale
    /// voids the authorisation. The same key never charges twice (the provider is idempotent
    /// on it, and a sold listing is not sold again).
    pub async fn buy_resale(&self, who: &Principal, listing_id: i64, key: &str, card: &Card) -> Result<Listing> {
        self.shop_takes_writes()?;
        crate::sale::check_key(key)?;
        let listing =
            self.store.listing(listing_id).await?.ok_or_else(|| AppError::NotFound(format!("listing {listing_id}")))?;
        if listing.seller == who.account_id {
            return Err(AppError::Conflict("you cannot buy your own ticket".into()));
        }
        let amount = Cents(listing.price.0 + listing.buyer_fee.0);
        // Refusals are remembered under the buyer's key as on every purchase path, in a
        // namespace of their own (':' never occurs in a client's key), and looked up first.
        let remembered_key = format!("resale:{key}");
        let hash = self.request_hash(&[&format!("resale:{listing_id}")], card);
        match self.store.known_key(who.account_id, &remembered_key, &hash).await? {
            Some(BeginOutcome::Replay(Remembered::Failed(r))) => return Err(AppError::PaymentRefused(r)),
            Some(BeginOutcome::KeyReused) => return Err(AppError::IdempotencyKeyReused),
            _ => {}
        }
        let now = self.now();
        let auth = self
            .payments
            .authorize(&AuthorizeRequest {
                idempotency_key: format!("{}-resale-{key}", who.account_id),
                amount,
                reference: format!("resale-{listing_id}"),
                card: card.clone(),
            })
            .await;
        let payment_ref = match auth {
            Ok(a) => a.id,
            Err(PaymentError::IdempotencyConflict) => return Err(AppError::IdempotencyKeyReused),
            Err(e) => {
                let e = crate::sale::charge_error(e);
                if let AppError::PaymentRefused(refusal) = &e {
                    self.store.remember_refusal(who.account_id, &remembered_key, &hash, refusal, now).await?;
                }
                return Err(e);
            }
        };
        let sold = self
            .store
            .buy_resale(&BuyResale {
                listing: listing_id,
                buyer: who.account_id,
                payment_ref: payment_ref.clone(),
                now,
            })
            .await;
        match sold {
            Ok(l) => {
                let key = PaymentKey::Sale { kind: PaymentKind::Resale, subject_id: l.id };
                self.settle(key, payment_ref, PaymentState::CapturePending, amount).await;
                Ok(l)
            }
            // A retry of a purchase that went through: the listing names this payment, whose
            // capture is its row's (the worker's, if the first request did not finish it).
            Err(StoreError::State(_)) if self.sold_to(listing_id, &payment_ref).await => {
                self.store.listing(listing_id).await?.ok_or_else(|| AppError::NotFound(format!("listing {listing_id}")))
            }
            // A fault is no answer: the authorisation stays for the retry.
            Err(e) if e.is_fault() => Err(e.into()),
            Err(e) => {
                // Remembered before the void, so that a retry never meets a dead authorisation.
                if let Some(refusal) = crate::error::refusal_of(&e) {
                    self.store.remember_refusal(who.account_id, &remembered_key, &hash, &refusal, now).await?;
                }
                self.release_authorization(who.account_id, payment_ref, amount).await;
                Err(e.into())
            }
        }
    }

    async fn sold_to(&self, listing_id: i64, payment_ref: &str) -> bool {
        matches!(self.store.listing(listing_id).await, Ok(Some(l)) if l.payment_ref.as_deref() == Some(payment_ref))
    }
}

/// A fee in basis points, rounded to the nearest cent.
fn fee(price: Cents, bp: i64) -> Cents {
    Cents((price.0 * bp + 5_000) / 10_000)
}

fn truncate_utf8(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fees_round_to_the_cent() {
        assert_eq!(fee(Cents(2_400), 1000), Cents(240));
        assert_eq!(fee(Cents(2_405), 500), Cents(120));
        assert_eq!(fee(Cents(0), 1000), Cents(0));
    }

    #[test]
    fn device_keys_are_checked_and_compressed() {
        let sk = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
        let uncompressed = sk.verifying_key().to_encoded_point(false);
        let c = device_key(uncompressed.as_bytes()).unwrap();
        assert_eq!(c.as_slice(), sk.verifying_key().to_encoded_point(true).as_bytes());
        assert!(device_key(&[4u8; 65]).is_err());
        assert!(device_key(&[1u8; 10]).is_err());
    }

    #[test]
    fn utf8_truncation_keeps_whole_characters() {
        let mut s = "Zoé".repeat(30);
        truncate_utf8(&mut s, 64);
        assert!(s.len() <= 64 && s.is_char_boundary(s.len()));
    }
}
