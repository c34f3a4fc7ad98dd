//! The forwarding of the shop's traits (catalogue to payments): see `store.rs`.

use super::FaultyStore;
use async_trait::async_trait;
use tessera_domain::catalogue::Catalogue;
use tessera_domain::*;
use tessera_store::*;

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
