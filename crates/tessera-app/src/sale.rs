//! Sales phases, the verifiable lottery and the purchase.

use crate::auth::Principal;
use crate::{random_code, App, AppError, Result};
use hmac::{Hmac, Mac};
use secrecy::ExposeSecret;
use sha2::Sha256;
use std::collections::HashMap;
use tessera_domain::catalogue::Catalogue;
use tessera_domain::lottery::{self, CommitmentFile, ResultFile, Seed, SlotPlan};
use tessera_domain::{CartId, CategoryId, Cents, Code, ErrorCode, Timestamp};
use tessera_payments::{AuthorizeRequest, Card, DeclineCode, PaymentError};

/// Draw mails being queued at once.
const DRAW_MAILS_IN_FLIGHT: usize = 256;
use tessera_store::*;

/// The three files of a draw, as published.
#[derive(Debug, Clone)]
pub struct Publication {
    pub commitment: CommitmentFile,
    /// `entries.txt`, once registration has closed.
    pub entries: Option<String>,
    /// `result.json`, once drawn.
    pub result: Option<ResultFile>,
}

#[derive(Debug, Clone)]
pub struct CheckoutRequest {
    pub cart: CartId,
    pub idempotency_key: String,
    pub card: Card,
}

impl App {
    // ---- catalogue ----------------------------------------------------------------------

    pub async fn import_catalogue(&self, cat: &Catalogue) -> Result<CatalogueStats> {
        Ok(self.store.import_catalogue(cat).await?)
    }

    // ---- phases and the lottery ----------------------------------------------------------

    /// The phase as stored, read afresh: for the operator's steps and the published files.
    pub async fn phase(&self, code: &str) -> Result<Phase> {
        self.store.phase(code).await?.ok_or_else(|| AppError::NotFound(format!("phase {code}")))
    }

    /// The phase as of at most a second ago, for the purchase path (see [`crate::cache`]).
    pub async fn cached_phase(&self, code: &str) -> Result<Phase> {
        if let Some(p) = self.caches.phases.get(&code.to_string()) {
            return Ok(p);
        }
        let p = self.phase(code).await?;
        self.caches.phases.put(code.to_string(), p.clone());
        Ok(p)
    }

    pub async fn create_phase(&self, code: &str, name: &str, settings: &PhaseSettings) -> Result<Phase> {
        let code = Code::parse(code).map_err(|m| AppError::invalid("code", m))?;
        if name.trim().is_empty() || name.len() > 120 {
            return Err(AppError::invalid("name", "give a name of 1 to 120 characters"));
        }
        settings.caps.validate().map_err(|m| AppError::invalid("caps", m))?;
        let positive = [
            ("cart_ttl_secs", settings.cart_ttl_secs),
            ("slot_secs", settings.slot_secs),
            ("wave_size", settings.wave_size),
            ("wave_interval_secs", settings.wave_interval_secs),
        ];
        for (field, v) in positive {
            if v <= 0 {
                return Err(AppError::invalid(field, "must be positive"));
            }
        }
        if settings.announce_ahead_secs < 0 || settings.winners.is_some_and(|w| w < 0) {
            return Err(AppError::invalid("announce_ahead_secs", "must not be negative"));
        }
        Ok(self.store.create_phase(code.as_str(), name.trim(), settings).await?)
    }

    /// Opens the registration window: draws a secret seed and publishes its commitment.
    pub async fn open_registration(&self, code: &str) -> Result<CommitmentFile> {
        let phase = self.phase(code).await?;
        let mut seed = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut seed);
        let seed = Seed(seed);
        let now = self.now();
        let phase = self.store.open_registration(phase.id, &seed.to_hex(), &seed.commitment(), now).await?;
        tracing::info!(phase = %phase.code, "registration opened");
        Ok(CommitmentFile { phase: phase.code, seed_sha256: seed.commitment(), published_at: now })
    }

    pub async fn enter_lottery(&self, who: &Principal, phase_code: &str) -> Result<Entry> {
        if !who.email_verified {
            return Err(AppError::EmailNotVerified);
        }
        let phase = self.phase(phase_code).await?;
        // Entering twice answers with the first entry, even once registration has closed.
        if let Some(e) = self.store.entry(phase.id, who.account_id).await? {
            return Ok(e);
        }
        if phase.status != PhaseStatus::Registration {
            return Err(AppError::Conflict(format!("phase {phase_code} is not open for lottery entries")));
        }
        let mut random = [0u8; 6];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut random);
        Ok(self.store.enter_lottery(phase.id, who.account_id, &lottery::entry_code(random), self.now()).await?)
    }

    /// Closes registration and freezes the published entry list; returns `entries.txt`.
    pub async fn close_registration(&self, code: &str) -> Result<String> {
        let phase = self.phase(code).await?;
        let frozen = self.store.close_registration(phase.id, self.now()).await?;
        Ok(lottery::entries_file(&frozen))
    }

    /// Reveals the seed, ranks the entries, gives the winners their slots and tells everyone.
    /// The first wave opens `announce_ahead_secs` after the draw unless `first_wave_at` says.
    pub async fn draw(&self, code: &str, first_wave_at: Option<Timestamp>) -> Result<ResultFile> {
        let phase = self.phase(code).await?;
        if phase.status != PhaseStatus::Closed {
            return Err(AppError::Conflict(format!("phase {code} must be closed before the draw")));
        }
        let seed = Seed::from_hex(phase.seed_hex.as_deref().unwrap_or_default()).map_err(AppError::Internal)?;
        let entries = self.store.entries(phase.id).await?;
        let codes: Vec<String> = entries.iter().map(|(c, _)| c.clone()).collect();
        let text = lottery::entries_file(&codes);
        let order = lottery::draw_order(&seed, &codes);
        let now = self.now();
        let s = &phase.settings;
        let plan = SlotPlan {
            winners: s.winners.map(|w| w as usize).unwrap_or(order.len()),
            wave_size: s.wave_size as usize,
            first_wave_at: first_wave_at.unwrap_or(now.plus_secs(s.announce_ahead_secs)),
            wave_interval_secs: s.wave_interval_secs,
            slot_secs: s.slot_secs,
        };
        let by_code: HashMap<&str, tessera_domain::AccountId> = entries.iter().map(|(c, a)| (c.as_str(), *a)).collect();
        let slots: Vec<_> =
            lottery::assign_slots(&order, &plan).into_iter().map(|s| (by_code[s.entry_code.as_str()], s)).collect();
        self.store
            .record_draw(&DrawRecord {
                phase_id: phase.id,
                seed_hex: seed.to_hex(),
                drawn_at: now,
                slots: slots.clone(),
            })
            .await?;
        let won: HashMap<_, _> = slots.iter().map(|(a, s)| (*a, s.clone())).collect();
        // One mail per entrant, many at a time: the store's writer commits them in groups,
        // where one after the other would take an hour for three million entrants.
        let mut mailing = tokio::task::JoinSet::new();
        for (code, account) in entries {
            while mailing.len() >= DRAW_MAILS_IN_FLIGHT {
                if let Some(done) = mailing.join_next().await {
                    done.map_err(|e| AppError::Internal(e.to_string()))??;
                }
            }
            let (app, phase, slot) = (self.clone(), phase.clone(), won.get(&account).cloned());
            mailing.spawn(async move { app.mail_draw_result(&phase, &code, account, slot.as_ref(), now).await });
        }
        while let Some(done) = mailing.join_next().await {
            done.map_err(|e| AppError::Internal(e.to_string()))??;
        }
        tracing::info!(phase = %phase.code, entries = order.len(), winners = slots.len(), "draw done");
        Ok(ResultFile {
            phase: phase.code,
            seed: seed.to_hex(),
            seed_sha256: seed.commitment(),
            entries_sha256: lottery::sha256_hex(text.as_bytes()),
            drawn_at: now,
            order,
        })
    }

    /// The draw's mail to one entrant: their slot, or that they were not drawn.
    async fn mail_draw_result(
        &self,
        phase: &Phase,
        code: &str,
        account: tessera_domain::AccountId,
        slot: Option<&tessera_domain::lottery::SlotAssignment>,
        now: Timestamp,
    ) -> Result<()> {
        let Some(acc) = self.store.account(account).await? else { return Ok(()) };
        let (subject, body) = match slot {
            Some(s) => (
                format!("You won a purchase slot in {}", phase.name),
                format!(
                    "Hello {},\n\nyour entry {code} was drawn (rank {}). Your purchase slot opens at {} and closes at {} ({} time).\n\
                     Buy your tickets at {}/phases/{}.\n",
                    acc.display_name,
                    s.rank,
                    self.config.event_zone.format(s.starts_at),
                    self.config.event_zone.format(s.ends_at),
                    self.config.event_zone.city(),
                    self.config.public_url,
                    phase.code
                ),
            ),
            None => (
                format!("The draw of {} is done", phase.name),
                format!(
                    "Hello {},\n\nyour entry {code} was not drawn this time. The next sales phase will be announced by mail.\n",
                    acc.display_name
                ),
            ),
        };
        self.store.enqueue_mail(acc.email.as_str(), &subject, &body, now).await?;
        Ok(())
    }

    /// What has been published about a phase's draw so far, rebuilt from the store.
    pub async fn publication(&self, code: &str) -> Result<Publication> {
        let phase = self.phase(code).await?;
        let (Some(seed_sha256), Some(opened)) = (phase.seed_sha256.clone(), phase.registration_opened_at) else {
            return Err(AppError::Conflict(format!("phase {code} has not opened its registration yet")));
        };
        let commitment = CommitmentFile { phase: phase.code.clone(), seed_sha256, published_at: opened };
        if phase.status == PhaseStatus::Registration {
            return Ok(Publication { commitment, entries: None, result: None });
        }
        let codes: Vec<String> = self.store.entries(phase.id).await?.into_iter().map(|(c, _)| c).collect();
        let text = lottery::entries_file(&codes);
        let result = match (phase.status, &phase.seed_hex, phase.drawn_at) {
            (PhaseStatus::Drawn, Some(seed), Some(drawn_at)) => {
                let seed = Seed::from_hex(seed).map_err(AppError::Internal)?;
                Some(ResultFile {
                    phase: phase.code.clone(),
                    seed: seed.to_hex(),
                    seed_sha256: seed.commitment(),
                    entries_sha256: lottery::sha256_hex(text.as_bytes()),
                    drawn_at,
                    order: lottery::draw_order(&seed, &codes),
                })
            }
            _ => None,
        };
        Ok(Publication { commitment, entries: Some(text), result })
    }

    // ---- purchase -----------------------------------------------------------------------

    pub async fn add_to_cart(&self, who: &Principal, phase_code: &str, category: CategoryId, qty: i64) -> Result<Cart> {
        self.shop_takes_writes()?;
        if !(1..=50).contains(&qty) {
            return Err(AppError::invalid("quantity", format!("must be between 1 and 50, got {qty}")));
        }
        let phase = self.cached_phase(phase_code).await?;
        Ok(self
            .store
            .reserve(&ReserveRequest {
                account: who.account_id,
                phase: phase.id,
                category,
                qty,
                caps: phase.settings.caps,
                cart_ttl_secs: phase.settings.cart_ttl_secs,
                now: self.now(),
            })
            .await?)
    }

    pub async fn cart(&self, who: &Principal, phase_code: &str) -> Result<Option<Cart>> {
        let phase = self.cached_phase(phase_code).await?;
        Ok(self.store.current_cart(who.account_id, phase.id, self.now()).await?)
    }

    pub async fn remove_from_cart(&self, who: &Principal, cart: CartId, category: CategoryId) -> Result<Cart> {
        Ok(self.store.remove_from_cart(who.account_id, cart, category, self.now()).await?)
    }

    /// Pays for a cart exactly once per idempotency key, however often it is retried.
    pub async fn checkout(&self, who: &Principal, phase_code: &str, req: &CheckoutRequest) -> Result<Order> {
        self.shop_takes_writes()?;
        let result = self.observed_sale(phase_code, self.checkout_inner(who, phase_code, req)).await;
        self.observe_payment(who, &req.card, &result);
        result
    }

    async fn checkout_inner(&self, who: &Principal, phase_code: &str, req: &CheckoutRequest) -> Result<Order> {
        check_key(&req.idempotency_key)?;
        let phase = self.cached_phase(phase_code).await?;
        let request_hash = self.request_hash(&[&req.cart.0.to_string()], &req.card);
        let outcome = self
            .store
            .begin_checkout(&BeginCheckout {
                account: who.account_id,
                cart: req.cart,
                phase: phase.id,
                idempotency_key: req.idempotency_key.clone(),
                request_hash: request_hash.clone(),
                pay_window_secs: self.config.pay_window_secs,
                min_sessions_per_order: phase.settings.caps.min_sessions_per_order,
                now: self.now(),
            })
            .await?;
        self.pay(who, &req.idempotency_key, &request_hash, outcome, &req.card).await
    }

    /// "Buy now": one request, one write. The card is authorised first; then the seats are
    /// sold and the paid order written in one transaction; then the payment is captured. If
    /// the sale is refused (sold out, a cap, outside the slot) the authorisation is voided, so
    /// no money moves. Exactly once per idempotency key, however often it is retried: the
    /// provider returns the same authorisation for the same key, and the store the same order.
    pub async fn buy_now(
        &self,
        who: &Principal,
        phase_code: &str,
        items: &[(CategoryId, i64)],
        key: &str,
        card: &Card,
    ) -> Result<Order> {
        self.shop_takes_writes()?;
        let result = self.observed_sale(phase_code, self.buy_now_inner(who, phase_code, items, key, card)).await;
        self.observe_payment(who, card, &result);
        result
    }

    /// A paid order or a declined card, for the security engine: the account and the card's
    /// fingerprint (a keyed digest of its digits, never the number), which is how bots
    /// buying fast and rings sharing one card are seen.
    pub(crate) fn observe_payment<T>(&self, who: &Principal, card: &Card, result: &Result<T>) {
        let kind = match result {
            Ok(_) => tessera_detect::Kind::OrderPaid,
            // The card's own refusals; a sale refused for its seats or caps is no card's doing.
            Err(AppError::PaymentRefused(r))
                if matches!(
                    r.code,
                    ErrorCode::CardDeclined
                        | ErrorCode::InsufficientFunds
                        | ErrorCode::ExpiredCard
                        | ErrorCode::IncorrectCvc
                        | ErrorCode::InvalidCard
                ) =>
            {
                tessera_detect::Kind::CheckoutDeclined
            }
            Err(_) => return,
        };
        let mut e = tessera_detect::Event::new(self.now_ms(), kind);
        e.outcome = if result.is_ok() { tessera_detect::Outcome::Success } else { tessera_detect::Outcome::Failure };
        e.account = Some(who.account_id.0 as u64);
        let digits: String = card.number.chars().filter(char::is_ascii_digit).collect();
        e.card = Some(self.tokens().keyed_digest(&format!("card:{digits}")));
        self.observe(e);
    }

    async fn buy_now_inner(
        &self,
        who: &Principal,
        phase_code: &str,
        items: &[(CategoryId, i64)],
        key: &str,
        card: &Card,
    ) -> Result<Order> {
        check_key(key)?;
        if items.is_empty() || items.len() > 10 {
            return Err(AppError::invalid("items", "give 1 to 10 items"));
        }
        for (i, (category, qty)) in items.iter().enumerate() {
            if !(1..=50).contains(qty) {
                return Err(AppError::invalid("quantity", format!("must be between 1 and 50, got {qty}")));
            }
            if items[..i].iter().any(|(c, _)| c == category) {
                return Err(AppError::invalid("items", format!("category {category} is listed twice")));
            }
        }
        let described: Vec<String> = items.iter().map(|(c, q)| format!("{}x{q}", c.0)).collect();
        let hash = self.request_hash(&[&format!("buy:{}", described.join(","))], card);
        // A key seen before answers as it did the first time, whatever has changed since (the
        // session sold out, the authorisation was voided): every answer other than the sale's
        // own (whose transaction looks the key up first) asks the store for the key before it
        // is given. Not before the sale itself: a read on the hot path costs every buyer.
        let phase = self.cached_phase(phase_code).await?;
        // Price the order, and refuse at once what was sold out a moment ago, before touching the
        // card (the store checks the seats again when it sells).
        let mut total = 0;
        for (category, qty) in items {
            let p = match self.caches.prices.get(category) {
                Some(p) => p,
                None => {
                    let p = self
                        .store
                        .category_price(*category)
                        .await?
                        .ok_or_else(|| AppError::NotFound(format!("price category {category}")))?;
                    self.caches.prices.put(*category, p);
                    p
                }
            };
            if p.available < *qty {
                if let Some(known) = self.store.known_key(who.account_id, key, &hash).await? {
                    return replay(known);
                }
                return Err(StoreError::SoldOut { available: p.available }.into());
            }
            total += p.price.0 * qty;
        }
        let payment_key = format!("{}-{key}", who.account_id);
        let now = self.now();
        let payment_ref = if total == 0 {
            "free".to_string()
        } else {
            let auth = self
                .payments
                .authorize(&AuthorizeRequest {
                    idempotency_key: payment_key.clone(),
                    amount: Cents(total),
                    reference: format!("buy-{}-{key}", who.account_id),
                    card: card.clone(),
                })
                .await;
            match auth {
                Ok(a) => a.id,
                // The provider knows the key: voided (its refusal was remembered first) or used
                // with another request. The store says what was answered.
                Err(e @ (PaymentError::IdempotencyConflict | PaymentError::AuthorizationVoided)) => {
                    if let Some(known) = self.store.known_key(who.account_id, key, &hash).await? {
                        return replay(known);
                    }
                    return Err(match e {
                        PaymentError::IdempotencyConflict => AppError::IdempotencyKeyReused,
                        other => charge_error(other),
                    });
                }
                Err(e) => match ChargeError::from(e) {
                    ChargeError::Refused(refusal) => {
                        self.store.remember_refusal(who.account_id, key, &hash, &refusal, now).await?;
                        return Err(refusal.into());
                    }
                    ChargeError::Unavailable(m) => return Err(AppError::PaymentUnavailable(m)),
                },
            }
        };
        let sold = self
            .store
            .sell_now(&SellNow {
                account: who.account_id,
                phase: phase.id,
                items: items.to_vec(),
                caps: phase.settings.caps,
                idempotency_key: key.to_string(),
                request_hash: hash.clone(),
                total: Cents(total),
                order_code: random_code("TSR-", 10),
                payment_ref: payment_ref.clone(),
                ticket_codes: items.iter().flat_map(|(_, q)| (0..*q).map(|_| random_code("T", 16))).collect(),
                now,
            })
            .await;
        let order = match sold {
            Ok(SellOutcome::Sold(order)) => order,
            Ok(SellOutcome::Replay(r)) => return replay(BeginOutcome::Replay(r)),
            Ok(SellOutcome::KeyReused) => return Err(AppError::IdempotencyKeyReused),
            Ok(SellOutcome::InProgress) => return Err(AppError::CheckoutInProgress),
            Err(e) => {
                // A fault of the store is no answer: nothing is remembered and the authorisation
                // stays, for the retry to use. A refusal on the merits is remembered first and
                // only then voided: were the authorisation voided and the refusal not recorded
                // (a full disk), a retry would meet a dead authorisation as if it were new.
                if let Some(refusal) = crate::error::refusal_of(&e) {
                    self.store.remember_refusal(who.account_id, key, &hash, &refusal, now).await?;
                    if payment_ref != "free" {
                        self.release_authorization(who.account_id, payment_ref, Cents(total)).await;
                    }
                }
                return Err(e.into());
            }
        };
        // Captured after the order and its payment row are durable; what this request cannot
        // finish, the payment worker will.
        if order.payment_ref != "free" {
            self.capture_order(&order).await;
        }
        Ok(order)
    }

    /// Captures a freshly written order's payment (see [`App::settle`]).
    async fn capture_order(&self, order: &Order) {
        let key = PaymentKey::Sale { kind: PaymentKind::Order, subject_id: order.id.0 };
        self.settle(key, order.payment_ref.clone(), PaymentState::CapturePending, order.total).await;
    }

    /// From a started (or remembered) checkout to a paid order: charge, then write the order.
    async fn pay(
        &self,
        who: &Principal,
        key: &str,
        request_hash: &str,
        outcome: BeginOutcome,
        card: &Card,
    ) -> Result<Order> {
        let cart = match outcome {
            BeginOutcome::Started(cart) => cart,
            BeginOutcome::Replay(Remembered::Paid(order)) => return Ok(order),
            BeginOutcome::Replay(Remembered::Failed(r)) => return Err(AppError::PaymentRefused(r)),
            BeginOutcome::KeyReused => return Err(AppError::IdempotencyKeyReused),
            BeginOutcome::InProgress => return Err(AppError::CheckoutInProgress),
        };
        // The provider sees one key per account and checkout key, so a retry is never a new charge.
        let payment_key = format!("{}-{key}", who.account_id);
        let payment_ref = if cart.total().0 == 0 {
            "free".to_string()
        } else {
            match self.charge(&payment_key, &cart, card).await {
                Ok(r) => r,
                Err(ChargeError::Refused(refusal)) => {
                    self.store.fail_checkout(who.account_id, key, cart.id, &refusal).await?;
                    return Err(refusal.into());
                }
                Err(ChargeError::Unavailable(m)) => {
                    self.store.abort_checkout(who.account_id, key, cart.id).await?;
                    return Err(AppError::PaymentUnavailable(m));
                }
            }
        };
        let amount = cart.total();
        let codes = (0..cart.ticket_count()).map(|_| random_code("T", 16)).collect();
        let done = self
            .store
            .complete_checkout(&CompleteCheckout {
                account: who.account_id,
                cart: cart.id,
                idempotency_key: key.to_string(),
                order_code: random_code("TSR-", 10),
                payment_ref: payment_ref.clone(),
                ticket_codes: codes,
                now: self.now(),
            })
            .await;
        match done {
            Ok(order) => {
                if order.payment_ref != "free" {
                    self.capture_order(&order).await;
                }
                Ok(order)
            }
            Err(e) if e.is_fault() => {
                // The store failed while writing the order: a lost answer may hide a commit that
                // happened, so ask. Not written: forget the key and reopen the cart; the
                // authorisation (not captured) stays for the retry, which the provider answers
                // with the same one, or reconciliation releases it as an orphan.
                match self.store.known_key(who.account_id, key, request_hash).await {
                    Ok(Some(BeginOutcome::Replay(Remembered::Paid(order)))) => Ok(order),
                    Ok(_) => {
                        if let Err(a) = self.store.abort_checkout(who.account_id, key, cart.id).await {
                            tracing::warn!(error = %a, cart = %cart.id, "could not reopen the cart after a store fault");
                        }
                        Err(e.into())
                    }
                    Err(read) => {
                        tracing::warn!(error = %e, read = %read, payment = %payment_ref, cart = %cart.id,
                            "order write failed and the store cannot say whether it happened; reconciliation will tell");
                        Err(e.into())
                    }
                }
            }
            Err(e) => {
                // Authorised but no order (the cart ran out while paying): release the money.
                tracing::warn!(error = %e, cart = %cart.id, "releasing a payment whose order could not be written");
                if payment_ref != "free" {
                    self.release_authorization(who.account_id, payment_ref, amount).await;
                }
                Err(e.into())
            }
        }
    }

    async fn charge(&self, key: &str, cart: &Cart, card: &Card) -> std::result::Result<String, ChargeError> {
        let auth = self
            .payments
            .authorize(&AuthorizeRequest {
                idempotency_key: key.to_string(),
                amount: cart.total(),
                reference: format!("cart-{}", cart.id),
                card: card.clone(),
            })
            .await
            .map_err(ChargeError::from)?;
        // Captured once the order is written (see `pay`), never before.
        Ok(auth.id)
    }

    /// A keyed hash of what a checkout asks for, so that a key reused with another card, cart
    /// or items is caught without storing the card number.
    pub(crate) fn request_hash(&self, what: &[&str], card: &Card) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.config.secret_key.expose_secret()).expect("hmac key");
        let digits: String = card.number.chars().filter(char::is_ascii_digit).collect();
        let card_parts = [digits, card.exp_month.to_string(), card.exp_year.to_string(), card.cvc.clone()];
        for part in what.iter().map(|p| p.to_string()).chain(card_parts) {
            mac.update(part.as_bytes());
            mac.update(&[0]);
        }
        hex::encode(mac.finalize().into_bytes())
    }

    pub async fn orders(&self, who: &Principal) -> Result<Vec<Order>> {
        Ok(self.store.orders(who.account_id).await?)
    }
}

pub(crate) fn check_key(key: &str) -> Result<()> {
    check_name("idempotency_key", key, 64, false)
}

/// A name that travels in URLs, tokens and keys: letters, digits, '-' or '_', at most `max`
/// bytes (and not empty unless `empty_ok`).
pub(crate) fn check_name(field: &'static str, v: &str, max: usize, empty_ok: bool) -> Result<()> {
    if (v.is_empty() && !empty_ok)
        || v.len() > max
        || !v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(AppError::invalid(field, format!("1 to {max} characters: letters, digits, '-' or '_'")));
    }
    Ok(())
}

/// A payment failure as the buyer reads it, for a purchase with nothing to remember.
pub(crate) fn charge_error(e: PaymentError) -> AppError {
    match ChargeError::from(e) {
        ChargeError::Refused(refusal) => refusal.into(),
        ChargeError::Unavailable(m) => AppError::PaymentUnavailable(m),
    }
}

enum ChargeError {
    Refused(Refusal),
    Unavailable(String),
}

/// The answer of a key seen before: its first answer, or why it cannot be used now.
fn replay(known: BeginOutcome) -> Result<Order> {
    match known {
        BeginOutcome::Replay(Remembered::Paid(order)) => Ok(order),
        BeginOutcome::Replay(Remembered::Failed(r)) => Err(AppError::PaymentRefused(r)),
        BeginOutcome::KeyReused => Err(AppError::IdempotencyKeyReused),
        BeginOutcome::InProgress | BeginOutcome::Started(_) => Err(AppError::CheckoutInProgress),
    }
}

fn refused(code: ErrorCode, message: impl Into<String>) -> ChargeError {
    ChargeError::Refused(Refusal { code, message: message.into() })
}

impl From<PaymentError> for ChargeError {
    fn from(e: PaymentError) -> Self {
        match e {
            PaymentError::Declined { code, .. } => {
                // A fraud decline reads like any other, so as not to coach a fraudster.
                let shown = if code == DeclineCode::Fraudulent { DeclineCode::Generic } else { code };
                let code = match shown {
                    DeclineCode::InsufficientFunds => ErrorCode::InsufficientFunds,
                    DeclineCode::ExpiredCard => ErrorCode::ExpiredCard,
                    DeclineCode::IncorrectCvc => ErrorCode::IncorrectCvc,
                    DeclineCode::Generic | DeclineCode::Fraudulent => ErrorCode::CardDeclined,
                };
                refused(code, shown.buyer_message())
            }
            PaymentError::InvalidCard(m) => refused(ErrorCode::InvalidCard, m),
            PaymentError::InvalidRequest(m) => refused(ErrorCode::InvalidPayment, m),
            PaymentError::AuthorizationVoided => refused(
                ErrorCode::InvalidState,
                "this purchase attempt was cancelled and its authorisation released; start again with a new idempotency key",
            ),
            other => ChargeError::Unavailable(other.to_string()),
        }
    }
}
