//! Tickets after the sale, and what the gates report (see `tessera_store`), on PostgreSQL.

use crate::{gates, resale, snapshot, transaction, PgStore};
use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tessera_domain::*;
use tessera_store::*;

#[async_trait]
impl TicketStore for PgStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn holdings(&self, account: AccountId) -> Result<Vec<Holding>> {
        snapshot!(self, |tx| gates::holdings_of(tx, account).await)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn holding(&self, ticket_code: &str) -> Result<Option<Holding>> {
        snapshot!(self, |tx| gates::holding(tx, ticket_code).await)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn issue_credential(&self, req: &IssueCredential) -> Result<CredentialRecord> {
        transaction!(self, |tx| gates::issue_credential(tx, req).await)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn create_transfer(
        &self,
        ticket_code: &str,
        from: AccountId,
        to: &Email,
        now: Timestamp,
    ) -> Result<Transfer> {
        transaction!(self, |tx| resale::create_transfer(tx, ticket_code, from, to, now).await)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn cancel_transfer(&self, id: i64, from: AccountId, now: Timestamp) -> Result<Transfer> {
        transaction!(self, |tx| resale::cancel_transfer(tx, id, from, now).await)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn accept_transfer(&self, id: i64, to: AccountId, now: Timestamp) -> Result<Transfer> {
        transaction!(self, |tx| resale::accept_transfer(tx, id, to, now).await)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn transfers(&self, account: AccountId) -> Result<Vec<Transfer>> {
        resale::transfers(&self.client().await?, account).await
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
        transaction!(self, |tx| resale::list_for_resale(tx, ticket_code, seller, (buyer_fee, seller_fee), now).await)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn cancel_listing(&self, id: i64, seller: AccountId, now: Timestamp) -> Result<Listing> {
        transaction!(self, |tx| resale::cancel_listing(tx, id, seller, now).await)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn listing(&self, id: i64) -> Result<Option<Listing>> {
        gates::listing(&self.client().await?, id).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn open_listings(&self, session_code: Option<&str>, limit: i64) -> Result<Vec<Listing>> {
        resale::open_listings(&self.client().await?, session_code, limit).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn buy_resale(&self, req: &BuyResale) -> Result<Listing> {
        transaction!(self, |tx| resale::buy_resale(tx, req).await)
    }
}

#[async_trait]
impl GateStore for PgStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn record_scans(
        &self,
        venue_code: &str,
        entrance: &str,
        scans: &[ScanRecord],
        now_ms: i64,
    ) -> Result<SyncOutcome> {
        transaction!(self, |tx| gates::record_scans(tx, venue_code, entrance, scans, now_ms).await)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn annul_entry(&self, ticket_id: i64, reason: &str, now_ms: i64) -> Result<FeedEvent> {
        transaction!(self, |tx| gates::annul_entry(tx, ticket_id, reason, now_ms).await)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn gate_feed(&self, venue_code: &str, after_seq: i64, limit: i64) -> Result<Vec<FeedEvent>> {
        gates::gate_feed(&self.client().await?, venue_code, after_seq, limit).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn venue_gate_data(&self, venue_code: &str, from: Timestamp, until: Timestamp) -> Result<VenueGateData> {
        snapshot!(self, |tx| gates::venue_gate_data(tx, venue_code, from, until).await)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn gates(&self) -> Result<Vec<GateRecord>> {
        gates::gates(&self.client().await?).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn gate_figures(&self, since_ms: i64) -> Result<GateFigures> {
        snapshot!(self, |tx| gates::gate_figures(tx, since_ms).await)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn security_events(&self, limit: i64) -> Result<Vec<SecurityEvent>> {
        gates::security_events(&self.client().await?, limit).await
    }
}
