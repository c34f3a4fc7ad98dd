//! Tickets after the sale, and what the gates report (see `tessera_store`), on SQLite.

use crate::{gates, SqliteStore};
use async_trait::async_trait;
use tessera_domain::*;
use tessera_store::*;

#[async_trait]
impl TicketStore for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn holdings(&self, account: AccountId) -> Result<Vec<Holding>> {
        self.read(move |c| gates::holdings_of(c, account)).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn holding(&self, ticket_code: &str) -> Result<Option<Holding>> {
        let code = ticket_code.to_string();
        self.read(move |c| gates::holding(c, &code)).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn issue_credential(&self, req: &IssueCredential) -> Result<CredentialRecord> {
        let req = req.clone();
        self.write(move |c| gates::issue_credential(c, &req)).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn create_transfer(
        &self,
        ticket_code: &str,
        from: AccountId,
        to: &Email,
        now: Timestamp,
    ) -> Result<Transfer> {
        let (code, to) = (ticket_code.to_string(), to.clone());
        self.write(move |c| gates::create_transfer(c, &code, from, &to, now)).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn cancel_transfer(&self, id: i64, from: AccountId, now: Timestamp) -> Result<Transfer> {
        self.write(move |c| gates::cancel_transfer(c, id, from, now)).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn accept_transfer(&self, id: i64, to: AccountId, now: Timestamp) -> Result<Transfer> {
        self.write(move |c| gates::accept_transfer(c, id, to, now)).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn transfers(&self, account: AccountId) -> Result<Vec<Transfer>> {
        self.read(move |c| gates::transfers(c, account)).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn list_for_resale(
        &self,
        ticket_code: &str,
        seller: AccountId,
        buyer_fee: Cents,
        seller_fee: Cents,
        now: Timestamp,
    ) -> Result<Listing> {
        let code = ticket_code.to_string();
        self.write(move |c| gates::list_for_resale(c, &code, seller, (buyer_fee, seller_fee), now)).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn cancel_listing(&self, id: i64, seller: AccountId, now: Timestamp) -> Result<Listing> {
        self.write(move |c| gates::cancel_listing(c, id, seller, now)).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn listing(&self, id: i64) -> Result<Option<Listing>> {
        self.read(move |c| gates::listing(c, id)).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn open_listings(&self, session_code: Option<&str>, limit: i64) -> Result<Vec<Listing>> {
        let session = session_code.map(str::to_string);
        self.read_blocking(move |c| gates::open_listings(c, session.as_deref(), limit)).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn buy_resale(&self, req: &BuyResale) -> Result<Listing> {
        let req = req.clone();
        self.write(move |c| gates::buy_resale(c, &req)).await
    }
}

#[async_trait]
impl GateStore for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn record_scans(
        &self,
        venue_code: &str,
        entrance: &str,
        scans: &[ScanRecord],
        now_ms: i64,
    ) -> Result<SyncOutcome> {
        let (venue, entrance, scans) = (venue_code.to_string(), entrance.to_string(), scans.to_vec());
        self.write(move |c| gates::record_scans(c, &venue, &entrance, &scans, now_ms)).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn annul_entry(&self, ticket_id: i64, reason: &str, now_ms: i64) -> Result<FeedEvent> {
        let reason = reason.to_string();
        self.write(move |c| gates::annul_entry(c, ticket_id, &reason, now_ms)).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn gate_feed(&self, venue_code: &str, after_seq: i64, limit: i64) -> Result<Vec<FeedEvent>> {
        let venue = venue_code.to_string();
        self.read_blocking(move |c| gates::gate_feed(c, &venue, after_seq, limit)).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn venue_gate_data(&self, venue_code: &str, from: Timestamp, until: Timestamp) -> Result<VenueGateData> {
        let venue = venue_code.to_string();
        self.read_blocking(move |c| gates::venue_gate_data(c, &venue, from, until)).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn gates(&self) -> Result<Vec<GateRecord>> {
        self.read_blocking(gates::gates).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn gate_figures(&self, since_ms: i64) -> Result<GateFigures> {
        self.read_blocking(move |c| gates::gate_figures(c, since_ms)).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn security_events(&self, limit: i64) -> Result<Vec<SecurityEvent>> {
        self.read_blocking(move |c| gates::security_events(c, limit)).await
    }
}
