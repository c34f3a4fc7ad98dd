//! A store that fails on demand, as a full disk or a database gone away does: every write
//! either fails before it reaches the store (nothing written), or is written and then answers
//! a fault (the commit happened but its answer was lost, as when a connection drops after
//! `COMMIT`). Reads pass. The forwarding below was generated from the store's traits; only
//! `before` and `after` decide anything.

use async_trait::async_trait;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use tessera_domain::catalogue::Catalogue;
use tessera_domain::*;
use tessera_store::*;

/// No fault.
pub const NONE: u8 = 0;
/// Writes fail before they are made.
pub const BEFORE: u8 = 1;
/// Writes are made, then answer a fault.
pub const AFTER: u8 = 2;
/// The store is unreachable: every call fails, pings and reads too.
pub const DOWN: u8 = 3;

pub struct FaultyStore {
    pub inner: Arc<dyn Store>,
    pub fault: Arc<AtomicU8>,
    /// Probe writes that reached the store.
    pub pings: AtomicU64,
}

/// The operations that change something; reads are never failed here (a failing read is a
/// refusal-free 503 already covered by the HTTP tests).
fn writes(op: &str) -> bool {
    !(op.starts_with("ping")
        || matches!(
            op,
            "catalogue_stats"
                | "switch_log"
                | "toc_documents"
                | "list_sessions"
                | "session"
                | "account"
                | "account_by_email"
                | "auth_session"
                | "session_account"
                | "recent_mail"
                | "phase"
                | "phase_by_id"
                | "list_phases"
                | "entry"
                | "entries"
                | "slot"
                | "current_cart"
                | "known_key"
                | "category_price"
                | "orders"
                | "sales_figures"
                | "waiting_rooms"
                | "edge_decisions"
                | "holdings"
                | "holding"
                | "transfers"
                | "listing"
                | "open_listings"
                | "gate_feed"
                | "venue_gate_data"
                | "gates"
                | "gate_figures"
                | "security_events"
                | "payments_since"
                | "payment_figures"
                | "payment"
                | "key_revocations"
                | "organisations"
                | "accreditation"
                | "accreditations"
                | "accreditation_counts"
                | "hand_overs"
                | "badge_revocations"
                | "volunteer_application"
                | "volunteer_application_of"
                | "volunteer_applications"
                | "volunteer_programme"
                | "latest_volunteer_run"
                | "volunteer_run"
                | "volunteer_offers"
                | "volunteer_overrides"
                | "volunteer_roster"
                | "volunteer_counts"
        ))
}

impl FaultyStore {
    pub fn new(inner: Arc<dyn Store>, fault: Arc<AtomicU8>) -> FaultyStore {
        FaultyStore { inner, fault, pings: AtomicU64::new(0) }
    }

    fn before(&self, op: &str) -> Result<()> {
        if self.fault.load(Ordering::SeqCst) == DOWN {
            return Err(StoreError::Unavailable(format!("injected: {op}: the store is unreachable").into()));
        }
        if self.fault.load(Ordering::SeqCst) == BEFORE && writes(op) {
            return Err(StoreError::Unavailable(format!("injected: {op} failed before writing").into()));
        }
        Ok(())
    }

    fn after<T>(&self, op: &str, r: Result<T>) -> Result<T> {
        if r.is_ok() && self.fault.load(Ordering::SeqCst) == AFTER && writes(op) {
            return Err(StoreError::Unavailable(format!("injected: {op} was written, its answer lost").into()));
        }
        r
    }
}

#[async_trait]
impl Store for FaultyStore {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    async fn ping(&self) -> Result<()> {
        self.before("ping")?;
        let r = self.inner.ping().await;
        self.after("ping", r)
    }

    async fn ping_write(&self, now: Timestamp) -> Result<()> {
        self.before("ping_write")?;
        self.pings.fetch_add(1, Ordering::SeqCst);
        let r = self.inner.ping_write(now).await;
        self.after("ping_write", r)
    }
}

#[async_trait]
impl CatalogueStore for FaultyStore {
    async fn import_catalogue(&self, cat: &Catalogue) -> Result<CatalogueStats> {
        self.before("import_catalogue")?;
        let r = self.inner.import_catalogue(cat).await;
        self.after("import_catalogue", r)
    }

    async fn catalogue_stats(&self) -> Result<CatalogueStats> {
        self.before("catalogue_stats")?;
        let r = self.inner.catalogue_stats().await;
        self.after("catalogue_stats", r)
    }

    async fn list_sessions(&self, filter: &SessionFilter) -> Result<Vec<SessionSummary>> {
        self.before("list_sessions")?;
        let r = self.inner.list_sessions(filter).await;
        self.after("list_sessions", r)
    }

    async fn session(&self, code: &str) -> Result<Option<SessionDetail>> {
        self.before("session")?;
        let r = self.inner.session(code).await;
        self.after("session", r)
    }
}

#[async_trait]
impl AccountStore for FaultyStore {
    async fn create_account(&self, new: &NewAccount) -> Result<Account> {
        self.before("create_account")?;
        let r = self.inner.create_account(new).await;
        self.after("create_account", r)
    }

    async fn account(&self, id: AccountId) -> Result<Option<Account>> {
        self.before("account")?;
        let r = self.inner.account(id).await;
        self.after("account", r)
    }

    async fn account_by_email(&self, email: &Email) -> Result<Option<Account>> {
        self.before("account_by_email")?;
        let r = self.inner.account_by_email(email).await;
        self.after("account_by_email", r)
    }

    async fn mark_email_verified(&self, id: AccountId) -> Result<()> {
        self.before("mark_email_verified")?;
        let r = self.inner.mark_email_verified(id).await;
        self.after("mark_email_verified", r)
    }

    async fn set_password_hash(&self, id: AccountId, hash: &str) -> Result<()> {
        self.before("set_password_hash")?;
        let r = self.inner.set_password_hash(id, hash).await;
        self.after("set_password_hash", r)
    }

    async fn create_auth_session(&self, s: &AuthSession) -> Result<()> {
        self.before("create_auth_session")?;
        let r = self.inner.create_auth_session(s).await;
        self.after("create_auth_session", r)
    }

    async fn auth_session(&self, id: &str) -> Result<Option<AuthSession>> {
        self.before("auth_session")?;
        let r = self.inner.auth_session(id).await;
        self.after("auth_session", r)
    }

    async fn session_account(&self, id: &str) -> Result<Option<(AuthSession, Account)>> {
        self.before("session_account")?;
        let r = self.inner.session_account(id).await;
        self.after("session_account", r)
    }

    async fn delete_auth_session(&self, id: &str) -> Result<()> {
        self.before("delete_auth_session")?;
        let r = self.inner.delete_auth_session(id).await;
        self.after("delete_auth_session", r)
    }
}

#[async_trait]
impl OutboxStore for FaultyStore {
    async fn enqueue_mail(&self, to: &str, subject: &str, body: &str, now: Timestamp) -> Result<i64> {
        self.before("enqueue_mail")?;
        let r = self.inner.enqueue_mail(to, subject, body, now).await;
        self.after("enqueue_mail", r)
    }

    async fn claim_mail(&self, now: Timestamp, lease_until: Timestamp, limit: i64) -> Result<Vec<OutboxMail>> {
        self.before("claim_mail")?;
        let r = self.inner.claim_mail(now, lease_until, limit).await;
        self.after("claim_mail", r)
    }

    async fn mark_mail_sent(&self, id: i64, now: Timestamp) -> Result<()> {
        self.before("mark_mail_sent")?;
        let r = self.inner.mark_mail_sent(id, now).await;
        self.after("mark_mail_sent", r)
    }

    async fn mark_mail_failed(&self, id: i64, error: &str, retry_at: Option<Timestamp>) -> Result<()> {
        self.before("mark_mail_failed")?;
        let r = self.inner.mark_mail_failed(id, error, retry_at).await;
        self.after("mark_mail_failed", r)
    }

    async fn recent_mail(&self, to: Option<&str>, limit: i64) -> Result<Vec<OutboxMail>> {
        self.before("recent_mail")?;
        let r = self.inner.recent_mail(to, limit).await;
        self.after("recent_mail", r)
    }
}

#[async_trait]
impl LotteryStore for FaultyStore {
    async fn create_phase(&self, code: &str, name: &str, settings: &PhaseSettings) -> Result<Phase> {
        self.before("create_phase")?;
        let r = self.inner.create_phase(code, name, settings).await;
        self.after("create_phase", r)
    }

    async fn phase(&self, code: &str) -> Result<Option<Phase>> {
        self.before("phase")?;
        let r = self.inner.phase(code).await;
        self.after("phase", r)
    }

    async fn phase_by_id(&self, id: PhaseId) -> Result<Option<Phase>> {
        self.before("phase_by_id")?;
        let r = self.inner.phase_by_id(id).await;
        self.after("phase_by_id", r)
    }

    async fn list_phases(&self) -> Result<Vec<Phase>> {
        self.before("list_phases")?;
        let r = self.inner.list_phases().await;
        self.after("list_phases", r)
    }

    async fn open_registration(&self, id: PhaseId, seed_hex: &str, seed_sha256: &str, now: Timestamp) -> Result<Phase> {
        self.before("open_registration")?;
        let r = self.inner.open_registration(id, seed_hex, seed_sha256, now).await;
        self.after("open_registration", r)
    }

    async fn close_registration(&self, id: PhaseId, now: Timestamp) -> Result<Vec<String>> {
        self.before("close_registration")?;
        let r = self.inner.close_registration(id, now).await;
        self.after("close_registration", r)
    }

    async fn enter_lottery(
        &self,
        phase: PhaseId,
        account: AccountId,
        entry_code: &str,
        now: Timestamp,
    ) -> Result<Entry> {
        self.before("enter_lottery")?;
        let r = self.inner.enter_lottery(phase, account, entry_code, now).await;
        self.after("enter_lottery", r)
    }

    async fn entry(&self, phase: PhaseId, account: AccountId) -> Result<Option<Entry>> {
        self.before("entry")?;
        let r = self.inner.entry(phase, account).await;
        self.after("entry", r)
    }

    async fn entries(&self, phase: PhaseId) -> Result<Vec<(String, AccountId)>> {
        self.before("entries")?;
        let r = self.inner.entries(phase).await;
        self.after("entries", r)
    }

    async fn record_draw(&self, draw: &DrawRecord) -> Result<()> {
        self.before("record_draw")?;
        let r = self.inner.record_draw(draw).await;
        self.after("record_draw", r)
    }

    async fn slot(&self, phase: PhaseId, account: AccountId) -> Result<Option<Slot>> {
        self.before("slot")?;
        let r = self.inner.slot(phase, account).await;
        self.after("slot", r)
    }
}

#[async_trait]
impl PurchaseStore for FaultyStore {
    async fn reserve(&self, req: &ReserveRequest) -> Result<Cart> {
        self.before("reserve")?;
        let r = self.inner.reserve(req).await;
        self.after("reserve", r)
    }

    async fn current_cart(&self, account: AccountId, phase: PhaseId, now: Timestamp) -> Result<Option<Cart>> {
        self.before("current_cart")?;
        let r = self.inner.current_cart(account, phase, now).await;
        self.after("current_cart", r)
    }

    async fn remove_from_cart(
        &self,
        account: AccountId,
        cart: CartId,
        category: CategoryId,
        now: Timestamp,
    ) -> Result<Cart> {
        self.before("remove_from_cart")?;
        let r = self.inner.remove_from_cart(account, cart, category, now).await;
        self.after("remove_from_cart", r)
    }

    async fn release_expired(&self, now: Timestamp) -> Result<u64> {
        self.before("release_expired")?;
        let r = self.inner.release_expired(now).await;
        self.after("release_expired", r)
    }

    async fn begin_checkout(&self, req: &BeginCheckout) -> Result<BeginOutcome> {
        self.before("begin_checkout")?;
        let r = self.inner.begin_checkout(req).await;
        self.after("begin_checkout", r)
    }

    async fn known_key(&self, account: AccountId, key: &str, request_hash: &str) -> Result<Option<BeginOutcome>> {
        self.before("known_key")?;
        let r = self.inner.known_key(account, key, request_hash).await;
        self.after("known_key", r)
    }

    async fn category_price(&self, id: CategoryId) -> Result<Option<CategoryPrice>> {
        self.before("category_price")?;
        let r = self.inner.category_price(id).await;
        self.after("category_price", r)
    }

    async fn sell_now(&self, req: &SellNow) -> Result<SellOutcome> {
        self.before("sell_now")?;
        let r = self.inner.sell_now(req).await;
        self.after("sell_now", r)
    }

    async fn remember_refusal(
        &self,
        account: AccountId,
        key: &str,
        request_hash: &str,
        refusal: &Refusal,
        now: Timestamp,
    ) -> Result<()> {
        self.before("remember_refusal")?;
        let r = self.inner.remember_refusal(account, key, request_hash, refusal, now).await;
        self.after("remember_refusal", r)
    }

    async fn abort_checkout(&self, account: AccountId, key: &str, cart: CartId) -> Result<()> {
        self.before("abort_checkout")?;
        let r = self.inner.abort_checkout(account, key, cart).await;
        self.after("abort_checkout", r)
    }

    async fn fail_checkout(&self, account: AccountId, key: &str, cart: CartId, refusal: &Refusal) -> Result<()> {
        self.before("fail_checkout")?;
        let r = self.inner.fail_checkout(account, key, cart, refusal).await;
        self.after("fail_checkout", r)
    }

    async fn complete_checkout(&self, req: &CompleteCheckout) -> Result<Order> {
        self.before("complete_checkout")?;
        let r = self.inner.complete_checkout(req).await;
        self.after("complete_checkout", r)
    }

    async fn orders(&self, account: AccountId) -> Result<Vec<Order>> {
        self.before("orders")?;
        let r = self.inner.orders(account).await;
        self.after("orders", r)
    }

    async fn sales_figures(&self, now: Timestamp) -> Result<SalesFigures> {
        self.before("sales_figures")?;
        let r = self.inner.sales_figures(now).await;
        self.after("sales_figures", r)
    }
}

#[async_trait]
impl AirlockStore for FaultyStore {
    async fn put_waiting_room(
        &self,
        phase_code: &str,
        settings_json: &str,
        seed_hex: &str,
        now: Timestamp,
    ) -> Result<WaitingRoomRecord> {
        self.before("put_waiting_room")?;
        let r = self.inner.put_waiting_room(phase_code, settings_json, seed_hex, now).await;
        self.after("put_waiting_room", r)
    }

    async fn delete_waiting_room(&self, phase_code: &str) -> Result<bool> {
        self.before("delete_waiting_room")?;
        let r = self.inner.delete_waiting_room(phase_code).await;
        self.after("delete_waiting_room", r)
    }

    async fn waiting_rooms(&self) -> Result<Vec<WaitingRoomRecord>> {
        self.before("waiting_rooms")?;
        let r = self.inner.waiting_rooms().await;
        self.after("waiting_rooms", r)
    }

    async fn put_edge_decision(&self, scope: &str, decision_json: &str, expires: Timestamp) -> Result<()> {
        self.before("put_edge_decision")?;
        let r = self.inner.put_edge_decision(scope, decision_json, expires).await;
        self.after("put_edge_decision", r)
    }

    async fn delete_edge_decision(&self, scope: &str) -> Result<bool> {
        self.before("delete_edge_decision")?;
        let r = self.inner.delete_edge_decision(scope).await;
        self.after("delete_edge_decision", r)
    }

    async fn edge_decisions(&self, now: Timestamp) -> Result<Vec<String>> {
        self.before("edge_decisions")?;
        let r = self.inner.edge_decisions(now).await;
        self.after("edge_decisions", r)
    }
}

#[async_trait]
impl TicketStore for FaultyStore {
    async fn holdings(&self, account: AccountId) -> Result<Vec<Holding>> {
        self.before("holdings")?;
        let r = self.inner.holdings(account).await;
        self.after("holdings", r)
    }

    async fn holding(&self, ticket_code: &str) -> Result<Option<Holding>> {
        self.before("holding")?;
        let r = self.inner.holding(ticket_code).await;
        self.after("holding", r)
    }

    async fn issue_credential(&self, req: &IssueCredential) -> Result<CredentialRecord> {
        self.before("issue_credential")?;
        let r = self.inner.issue_credential(req).await;
        self.after("issue_credential", r)
    }

    async fn create_transfer(
        &self,
        ticket_code: &str,
        from: AccountId,
        to: &Email,
        now: Timestamp,
    ) -> Result<Transfer> {
        self.before("create_transfer")?;
        let r = self.inner.create_transfer(ticket_code, from, to, now).await;
        self.after("create_transfer", r)
    }

    async fn cancel_transfer(&self, id: i64, from: AccountId, now: Timestamp) -> Result<Transfer> {
        self.before("cancel_transfer")?;
        let r = self.inner.cancel_transfer(id, from, now).await;
        self.after("cancel_transfer", r)
    }

    async fn accept_transfer(&self, id: i64, to: AccountId, now: Timestamp) -> Result<Transfer> {
        self.before("accept_transfer")?;
        let r = self.inner.accept_transfer(id, to, now).await;
        self.after("accept_transfer", r)
    }

    async fn transfers(&self, account: AccountId) -> Result<Vec<Transfer>> {
        self.before("transfers")?;
        let r = self.inner.transfers(account).await;
        self.after("transfers", r)
    }

    async fn list_for_resale(
        &self,
        ticket_code: &str,
        seller: AccountId,
        buyer_fee: Cents,
        seller_fee: Cents,
        now: Timestamp,
    ) -> Result<Listing> {
        self.before("list_for_resale")?;
        let r = self.inner.list_for_resale(ticket_code, seller, buyer_fee, seller_fee, now).await;
        self.after("list_for_resale", r)
    }

    async fn cancel_listing(&self, id: i64, seller: AccountId, now: Timestamp) -> Result<Listing> {
        self.before("cancel_listing")?;
        let r = self.inner.cancel_listing(id, seller, now).await;
        self.after("cancel_listing", r)
    }

    async fn listing(&self, id: i64) -> Result<Option<Listing>> {
        self.before("listing")?;
        let r = self.inner.listing(id).await;
        self.after("listing", r)
    }

    async fn open_listings(&self, session_code: Option<&str>, limit: i64) -> Result<Vec<Listing>> {
        self.before("open_listings")?;
        let r = self.inner.open_listings(session_code, limit).await;
        self.after("open_listings", r)
    }

    async fn buy_resale(&self, req: &BuyResale) -> Result<Listing> {
        self.before("buy_resale")?;
        let r = self.inner.buy_resale(req).await;
        self.after("buy_resale", r)
    }
}

#[async_trait]
impl GateStore for FaultyStore {
    async fn record_scans(
        &self,
        venue_code: &str,
        entrance: &str,
        scans: &[ScanRecord],
        now_ms: i64,
    ) -> Result<SyncOutcome> {
        self.before("record_scans")?;
        let r = self.inner.record_scans(venue_code, entrance, scans, now_ms).await;
        self.after("record_scans", r)
    }

    async fn annul_entry(&self, ticket_id: i64, reason: &str, now_ms: i64) -> Result<FeedEvent> {
        self.before("annul_entry")?;
        let r = self.inner.annul_entry(ticket_id, reason, now_ms).await;
        self.after("annul_entry", r)
    }

    async fn gate_feed(&self, venue_code: &str, after_seq: i64, limit: i64) -> Result<Vec<FeedEvent>> {
        self.before("gate_feed")?;
        let r = self.inner.gate_feed(venue_code, after_seq, limit).await;
        self.after("gate_feed", r)
    }

    async fn venue_gate_data(&self, venue_code: &str, from: Timestamp, until: Timestamp) -> Result<VenueGateData> {
        self.before("venue_gate_data")?;
        let r = self.inner.venue_gate_data(venue_code, from, until).await;
        self.after("venue_gate_data", r)
    }

    async fn gates(&self) -> Result<Vec<GateRecord>> {
        self.before("gates")?;
        let r = self.inner.gates().await;
        self.after("gates", r)
    }

    async fn gate_figures(&self, since_ms: i64) -> Result<GateFigures> {
        self.before("gate_figures")?;
        let r = self.inner.gate_figures(since_ms).await;
        self.after("gate_figures", r)
    }

    async fn security_events(&self, limit: i64) -> Result<Vec<SecurityEvent>> {
        self.before("security_events")?;
        let r = self.inner.security_events(limit).await;
        self.after("security_events", r)
    }
}

#[async_trait]
impl PaymentRecords for FaultyStore {
    async fn record_payment_intent(&self, intent: &NewPaymentIntent) -> Result<()> {
        self.before("record_payment_intent")?;
        let r = self.inner.record_payment_intent(intent).await;
        self.after("record_payment_intent", r)
    }

    async fn claim_due_payments(&self, now: Timestamp, limit: i64) -> Result<Vec<PaymentRecord>> {
        self.before("claim_due_payments")?;
        let r = self.inner.claim_due_payments(now, limit).await;
        self.after("claim_due_payments", r)
    }

    async fn settle_payment(
        &self,
        key: &PaymentKey,
        from: PaymentState,
        settlement: &Settlement,
        now: Timestamp,
    ) -> Result<()> {
        self.before("settle_payment")?;
        let r = self.inner.settle_payment(key, from, settlement, now).await;
        self.after("settle_payment", r)
    }

    async fn settle_payments_done(&self, done: &[(PaymentKey, PaymentState)], now: Timestamp) -> Result<()> {
        self.before("settle_payments_done")?;
        let r = self.inner.settle_payments_done(done, now).await;
        self.after("settle_payments_done", r)
    }

    async fn move_payment(
        &self,
        key: &PaymentKey,
        from: PaymentState,
        to: PaymentState,
        now: Timestamp,
    ) -> Result<bool> {
        self.before("move_payment")?;
        let r = self.inner.move_payment(key, from, to, now).await;
        self.after("move_payment", r)
    }

    async fn payments_since(&self, since: Timestamp, limit: i64) -> Result<Vec<PaymentRecord>> {
        self.before("payments_since")?;
        let r = self.inner.payments_since(since, limit).await;
        self.after("payments_since", r)
    }

    async fn payment(&self, key: &PaymentKey) -> Result<Option<PaymentRecord>> {
        self.before("payment")?;
        let r = self.inner.payment(key).await;
        self.after("payment", r)
    }

    async fn payment_figures(&self) -> Result<PaymentFigures> {
        self.before("payment_figures")?;
        let r = self.inner.payment_figures().await;
        self.after("payment_figures", r)
    }
}

#[async_trait]
impl KeyRevocations for FaultyStore {
    async fn revoke_keys(&self, r: &KeyRevocation) -> Result<()> {
        self.before("revoke_keys")?;
        let r = self.inner.revoke_keys(r).await;
        self.after("revoke_keys", r)
    }

    async fn key_revocations(&self) -> Result<Vec<KeyRevocation>> {
        self.before("key_revocations")?;
        let r = self.inner.key_revocations().await;
        self.after("key_revocations", r)
    }
}

#[async_trait]
impl TocStore for FaultyStore {
    async fn record_switch(&self, switch: &SwitchRecord) -> Result<i64> {
        self.before("record_switch")?;
        let r = self.inner.record_switch(switch).await;
        self.after("record_switch", r)
    }

    async fn switch_log(&self, after: i64, limit: i64) -> Result<Vec<SwitchRecord>> {
        self.before("switch_log")?;
        let r = self.inner.switch_log(after, limit).await;
        self.after("switch_log", r)
    }

    async fn put_toc_document(&self, kind: TocKind, doc: &TocDocument) -> Result<()> {
        self.before("put_toc_document")?;
        let r = self.inner.put_toc_document(kind, doc).await;
        self.after("put_toc_document", r)
    }

    async fn toc_documents(&self, kind: TocKind, limit: i64) -> Result<Vec<TocDocument>> {
        self.before("toc_documents")?;
        let r = self.inner.toc_documents(kind, limit).await;
        self.after("toc_documents", r)
    }
}

#[async_trait]
impl ResultsStore for FaultyStore {
    async fn save_result_change(&self, epoch: i64, seq: i64, doc_key: &str, change_json: Option<&str>) -> Result<()> {
        self.before("save_result_change")?;
        let r = self.inner.save_result_change(epoch, seq, doc_key, change_json).await;
        self.after("save_result_change", r)
    }

    async fn result_feed(&self) -> Result<Option<StoredFeed>> {
        self.before("result_feed")?;
        let r = self.inner.result_feed().await;
        self.after("result_feed", r)
    }
}

#[async_trait]
impl AccreditationStore for FaultyStore {
    async fn put_organisation(&self, code: &str, json: &str) -> Result<()> {
        self.before("put_organisation")?;
        let r = self.inner.put_organisation(code, json).await;
        self.after("put_organisation", r)
    }

    async fn organisations(&self) -> Result<Vec<(String, String)>> {
        self.before("organisations")?;
        let r = self.inner.organisations().await;
        self.after("organisations", r)
    }

    async fn add_accreditations(&self, rows: &[NewAccreditation], quotas: &[QuotaLimit]) -> Result<Vec<Added>> {
        self.before("add_accreditations")?;
        let r = self.inner.add_accreditations(rows, quotas).await;
        self.after("add_accreditations", r)
    }

    async fn accreditation(&self, id: i64) -> Result<Option<StoredAccreditation>> {
        self.before("accreditation")?;
        let r = self.inner.accreditation(id).await;
        self.after("accreditation", r)
    }

    async fn accreditations(&self, q: &AccreditationQuery) -> Result<Vec<StoredAccreditation>> {
        self.before("accreditations")?;
        let r = self.inner.accreditations(q).await;
        self.after("accreditations", r)
    }

    async fn update_accreditation(&self, u: &AccreditationUpdate) -> Result<bool> {
        self.before("update_accreditation")?;
        let r = self.inner.update_accreditation(u).await;
        self.after("update_accreditation", r)
    }

    async fn accreditation_counts(&self) -> Result<Vec<AccreditationCount>> {
        self.before("accreditation_counts")?;
        let r = self.inner.accreditation_counts().await;
        self.after("accreditation_counts", r)
    }

    async fn record_hand_overs(&self, rows: &[StoredHandOver]) -> Result<u64> {
        self.before("record_hand_overs")?;
        let r = self.inner.record_hand_overs(rows).await;
        self.after("record_hand_overs", r)
    }

    async fn badge_revocations(&self) -> Result<(Vec<i64>, Vec<(i64, i64)>)> {
        self.before("badge_revocations")?;
        let r = self.inner.badge_revocations().await;
        self.after("badge_revocations", r)
    }

    async fn hand_overs(&self, person: i64) -> Result<Vec<StoredHandOver>> {
        self.before("hand_overs")?;
        let r = self.inner.hand_overs(person).await;
        self.after("hand_overs", r)
    }

    async fn hand_over_figures(&self) -> Result<HandOverFigures> {
        self.before("hand_over_figures")?;
        let r = self.inner.hand_over_figures().await;
        self.after("hand_over_figures", r)
    }
}

#[async_trait]
impl VolunteerStore for FaultyStore {
    async fn add_volunteer_applications(&self, rows: &[NewVolunteerApplication]) -> Result<Vec<i64>> {
        self.before("add_volunteer_applications")?;
        let r = self.inner.add_volunteer_applications(rows).await;
        self.after("add_volunteer_applications", r)
    }

    async fn volunteer_application(&self, id: i64) -> Result<Option<StoredVolunteerApplication>> {
        self.before("volunteer_application")?;
        let r = self.inner.volunteer_application(id).await;
        self.after("volunteer_application", r)
    }

    async fn volunteer_application_of(&self, account: i64) -> Result<Option<StoredVolunteerApplication>> {
        self.before("volunteer_application_of")?;
        let r = self.inner.volunteer_application_of(account).await;
        self.after("volunteer_application_of", r)
    }

    async fn volunteer_applications(&self, after: i64, limit: i64) -> Result<Vec<StoredVolunteerApplication>> {
        self.before("volunteer_applications")?;
        let r = self.inner.volunteer_applications(after, limit).await;
        self.after("volunteer_applications", r)
    }

    async fn put_volunteer_programme(&self, json: &str, now: Timestamp) -> Result<()> {
        self.before("put_volunteer_programme")?;
        let r = self.inner.put_volunteer_programme(json, now).await;
        self.after("put_volunteer_programme", r)
    }

    async fn volunteer_programme(&self) -> Result<Option<String>> {
        self.before("volunteer_programme")?;
        let r = self.inner.volunteer_programme().await;
        self.after("volunteer_programme", r)
    }

    async fn save_volunteer_run(&self, run: &NewVolunteerRun) -> Result<i64> {
        self.before("save_volunteer_run")?;
        let r = self.inner.save_volunteer_run(run).await;
        self.after("save_volunteer_run", r)
    }

    async fn latest_volunteer_run(&self) -> Result<Option<StoredVolunteerRun>> {
        self.before("latest_volunteer_run")?;
        let r = self.inner.latest_volunteer_run().await;
        self.after("latest_volunteer_run", r)
    }

    async fn volunteer_run(&self, id: i64) -> Result<Option<StoredVolunteerRun>> {
        self.before("volunteer_run")?;
        let r = self.inner.volunteer_run(id).await;
        self.after("volunteer_run", r)
    }

    async fn volunteer_offers(&self, application: Option<i64>) -> Result<Vec<StoredVolunteerOffer>> {
        self.before("volunteer_offers")?;
        let r = self.inner.volunteer_offers(application).await;
        self.after("volunteer_offers", r)
    }

    async fn answer_volunteer_offer(&self, id: i64, application: i64, accept: bool, now: Timestamp) -> Result<bool> {
        self.before("answer_volunteer_offer")?;
        let r = self.inner.answer_volunteer_offer(id, application, accept, now).await;
        self.after("answer_volunteer_offer", r)
    }

    async fn add_volunteer_override(&self, o: &NewVolunteerOverride) -> Result<i64> {
        self.before("add_volunteer_override")?;
        let r = self.inner.add_volunteer_override(o).await;
        self.after("add_volunteer_override", r)
    }

    async fn volunteer_overrides(&self) -> Result<Vec<StoredVolunteerOverride>> {
        self.before("volunteer_overrides")?;
        let r = self.inner.volunteer_overrides().await;
        self.after("volunteer_overrides", r)
    }

    async fn save_volunteer_roster(&self, at: Timestamp, json: &str) -> Result<i64> {
        self.before("save_volunteer_roster")?;
        let r = self.inner.save_volunteer_roster(at, json).await;
        self.after("save_volunteer_roster", r)
    }

    async fn volunteer_roster(&self) -> Result<Option<StoredVolunteerRoster>> {
        self.before("volunteer_roster")?;
        let r = self.inner.volunteer_roster().await;
        self.after("volunteer_roster", r)
    }

    async fn volunteer_counts(&self, now: Timestamp) -> Result<VolunteerCounts> {
        self.before("volunteer_counts")?;
        let r = self.inner.volunteer_counts(now).await;
        self.after("volunteer_counts", r)
    }
}
