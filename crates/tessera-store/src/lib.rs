//! The storage interface of Tessera: what the application may ask of a database.
//!
//! Each operation is one use case and one transaction, so that every backend enforces the
//! invariants itself (no quota oversold, caps held, paid order and tickets written together)
//! whatever the concurrency. Time always comes in as a value (`now`), which keeps the
//! backends deterministic under test. This crate knows no SQL and no HTTP; the backends live
//! in `tessera-store-sqlite` and `tessera-store-postgres`, and the `testsuite` feature holds
//! the conformance suite both must pass.

use async_trait::async_trait;
use serde::Serialize;
use tessera_domain::caps::{CapViolation, Caps};
use tessera_domain::catalogue::Catalogue;
use tessera_domain::lottery::SlotAssignment;
use tessera_domain::*;

pub mod accreditation;
pub mod gates;
pub mod key_revocations;
pub mod payments;
pub mod purchases;
#[cfg(feature = "testsuite")]
pub mod testsuite;
pub mod toc;
pub mod volunteers;

pub use accreditation::*;
pub use gates::*;
pub use key_revocations::{KeyRevocation, KeyRevocations};
pub use payments::*;
pub use purchases::*;
pub use toc::*;
pub use volunteers::*;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("not enough seats left: {available} available")]
    SoldOut { available: i64 },
    #[error("{0}")]
    Cap(CapViolation),
    #[error("the cart has expired and its seats were released")]
    CartExpired,
    #[error("the cart is empty")]
    CartEmpty,
    /// Buying is allowed only inside the account's purchase slot.
    #[error("{0}")]
    OutsideSlot(String),
    #[error("{0}")]
    State(String),
    /// The store cannot answer now: a commit failed (disk full, I/O error), the database is
    /// unreachable, or the store is stopping. This says nothing about the request: nothing was
    /// written, nothing may be remembered as refused, and the same request may be retried.
    #[error("storage unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("storage backend failure: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    pub fn backend(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        StoreError::Backend(Box::new(e))
    }

    pub fn unavailable(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        StoreError::Unavailable(Box::new(e))
    }

    /// A fault of the store rather than an answer about the request: `Unavailable` or
    /// `Backend`. Such an error is never remembered under an idempotency key.
    pub fn is_fault(&self) -> bool {
        matches!(self, StoreError::Unavailable(_) | StoreError::Backend(_))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Fan,
    /// Runs the event: the shop, the waiting room, the gates, payments, and the SOC.
    Operator,
    /// A security analyst: the SOC console (alerts, cases, decisions, rules) and nothing else.
    Analyst,
    /// Accreditation staff: approve or refuse applications, issue, reprint and revoke badges.
    Accreditation,
    /// A vetting officer: records the screening authority's answers and acts on hits.
    Vetting,
    /// A collection desk's operator: downloads the desk's list and hands cards over.
    Desk,
    /// A volunteer coordinator: the programme, matching runs, offers, overrides, rosters.
    Volunteers,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Fan => "fan",
            Role::Operator => "operator",
            Role::Analyst => "analyst",
            Role::Accreditation => "accreditation",
            Role::Vetting => "vetting",
            Role::Desk => "desk",
            Role::Volunteers => "volunteers",
        }
    }
    /// Sees the security operations console: analysts, and operators (who run everything).
    pub fn sees_soc(self) -> bool {
        matches!(self, Role::Operator | Role::Analyst)
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "fan" => Some(Role::Fan),
            "operator" => Some(Role::Operator),
            "analyst" => Some(Role::Analyst),
            "accreditation" => Some(Role::Accreditation),
            "vetting" => Some(Role::Vetting),
            "desk" => Some(Role::Desk),
            "volunteers" => Some(Role::Volunteers),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewAccount {
    pub email: Email,
    pub password_hash: String,
    pub display_name: String,
    pub role: Role,
    pub now: Timestamp,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    pub id: AccountId,
    pub email: Email,
    pub password_hash: String,
    pub display_name: String,
    pub role: Role,
    pub email_verified: bool,
    pub created_at: Timestamp,
    /// Bumped on every password change; tokens minted before it are void.
    pub credential_epoch: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AuthSession {
    /// Random, unguessable; the signed token carries it.
    pub id: String,
    pub account_id: AccountId,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OutboxMail {
    pub id: i64,
    pub to: String,
    pub subject: String,
    pub body: String,
    pub created_at: Timestamp,
    pub sent_at: Option<Timestamp>,
    pub attempts: i64,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CategoryAvailability {
    pub id: CategoryId,
    pub code: String,
    pub name: String,
    pub price: Cents,
    pub quota: i64,
    pub sold: i64,
    pub held: i64,
    pub available: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionSummary {
    pub id: SessionId,
    pub code: String,
    pub sport: String,
    pub title: String,
    pub venue_code: String,
    pub venue_name: String,
    pub city: String,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub ceremony: bool,
    pub quota: i64,
    pub available: i64,
    pub min_price: Cents,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionDetail {
    #[serde(flatten)]
    pub summary: SessionSummary,
    pub zones: Vec<String>,
    pub categories: Vec<CategoryAvailability>,
}

#[derive(Debug, Clone, Default)]
pub struct SessionFilter {
    pub sport: Option<String>,
    pub venue: Option<String>,
    /// Only sessions with seats left.
    pub available_only: bool,
    /// Sessions starting at or after this instant.
    pub from: Option<Timestamp>,
    /// Sessions starting before this instant.
    pub until: Option<Timestamp>,
    /// Sessions with a price category at or under this price.
    pub max_price: Option<Cents>,
    /// Words found, case aside, in the title, sport, code, venue or city.
    pub text: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CatalogueStats {
    pub venues: i64,
    pub sessions: i64,
    pub categories: i64,
    pub seats: i64,
    pub sold: i64,
    pub held: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PhaseStatus {
    /// Created, not yet open to entries.
    Draft,
    /// Open to lottery entries; the seed commitment is published.
    Registration,
    /// Entries frozen and published; waiting for the draw.
    Closed,
    /// Seed revealed, slots assigned; winners buy inside their slots.
    Drawn,
}

impl PhaseStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PhaseStatus::Draft => "draft",
            PhaseStatus::Registration => "registration",
            PhaseStatus::Closed => "closed",
            PhaseStatus::Drawn => "drawn",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "draft" => PhaseStatus::Draft,
            "registration" => PhaseStatus::Registration,
            "closed" => PhaseStatus::Closed,
            "drawn" => PhaseStatus::Drawn,
            _ => return None,
        })
    }
}

/// The operator-chosen settings of a sales phase.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhaseSettings {
    pub caps: Caps,
    pub cart_ttl_secs: i64,
    pub slot_secs: i64,
    pub wave_size: i64,
    pub wave_interval_secs: i64,
    pub announce_ahead_secs: i64,
    /// How many entries win a slot; `None` means every entry.
    pub winners: Option<i64>,
}

impl Default for PhaseSettings {
    fn default() -> Self {
        PhaseSettings {
            caps: Caps::default(),
            cart_ttl_secs: 15 * 60,
            slot_secs: 48 * 3600,
            wave_size: 100_000,
            wave_interval_secs: 48 * 3600,
            announce_ahead_secs: 48 * 3600,
            winners: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Phase {
    pub id: PhaseId,
    pub code: String,
    pub name: String,
    pub status: PhaseStatus,
    pub settings: PhaseSettings,
    pub seed_sha256: Option<String>,
    /// Secret until the draw: never serialised.
    #[serde(skip)]
    pub seed_hex: Option<String>,
    pub entries_sha256: Option<String>,
    pub registration_opened_at: Option<Timestamp>,
    pub registration_closed_at: Option<Timestamp>,
    pub drawn_at: Option<Timestamp>,
    pub entries: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    pub phase_id: PhaseId,
    pub account_id: AccountId,
    pub entry_code: String,
    pub created_at: Timestamp,
}

/// A venue's zones as both backends keep them: one text column, a zone per line (zone names
/// never hold a line break; the catalogue import refuses them).
pub fn zones_to_column(zones: &[String]) -> String {
    zones.join("\n")
}

pub fn zones_from_column(column: &str) -> Vec<String> {
    column.lines().map(str::to_string).collect()
}

/// The store's answer to "may this account buy now?", shared by every backend so that the
/// refusal reads the same everywhere.
pub fn slot_verdict(slot: Option<(Timestamp, Timestamp)>, now: Timestamp) -> Result<()> {
    match slot {
        None => Err(StoreError::OutsideSlot("you have no purchase slot in this phase".into())),
        Some((starts, _)) if now < starts => {
            Err(StoreError::OutsideSlot(format!("your purchase slot opens at {starts}")))
        }
        Some((_, ends)) if now >= ends => Err(StoreError::OutsideSlot(format!("your purchase slot ended at {ends}"))),
        Some(_) => Ok(()),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Slot {
    pub phase_id: PhaseId,
    pub account_id: AccountId,
    pub rank: i64,
    pub wave: i64,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
}

impl Slot {
    pub fn is_open(&self, now: Timestamp) -> bool {
        self.starts_at <= now && now < self.ends_at
    }
}

/// The draw as the store records it: the revealed seed and each winner's slot.
#[derive(Debug, Clone)]
pub struct DrawRecord {
    pub phase_id: PhaseId,
    pub seed_hex: String,
    pub drawn_at: Timestamp,
    pub slots: Vec<(AccountId, SlotAssignment)>,
}

/// Everything the application may ask of a database. New capabilities add a trait of their
/// own (as [`PaymentRecords`]) and join this sum, rather than adding methods here.
#[async_trait]
pub trait Store:
    CatalogueStore
    + AccountStore
    + OutboxStore
    + LotteryStore
    + PurchaseStore
    + AirlockStore
    + TicketStore
    + GateStore
    + PaymentRecords
    + KeyRevocations
    + ResultsStore
    + AccreditationStore
    + TocStore
    + VolunteerStore
    + Send
    + Sync
    + 'static
{
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    /// Reads the store: is it reachable at all?
    async fn ping(&self) -> Result<()>;
    /// Writes one small row and commits: can the store take writes now? (A full disk or a
    /// read-only database answers `ping` but not this.) `/readyz` asks it.
    async fn ping_write(&self, now: Timestamp) -> Result<()>;
}

/// The results feed as stored: its epoch and position, and each document's latest change (JSON,
/// oldest first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFeed {
    pub epoch: i64,
    pub seq: i64,
    pub changes: Vec<String>,
}

/// The results feed (`tessera_results`): each document's latest change and the feed's
/// position, so that a node restarts with the documents it had and numbers on from there.
#[async_trait]
pub trait ResultsStore: Send + Sync {
    /// Records the change at `seq` of `epoch` in one transaction: the document's latest change
    /// under `doc_key` (`None`: withdrawn, the document is removed) and the feed's position.
    async fn save_result_change(&self, epoch: i64, seq: i64, doc_key: &str, change_json: Option<&str>) -> Result<()>;
    /// The feed as stored; `None` before its first change.
    async fn result_feed(&self) -> Result<Option<StoredFeed>>;
}

/// The catalogue: venues, sessions and price categories, imported whole.
#[async_trait]
pub trait CatalogueStore: Send + Sync {
    /// Inserts the whole catalogue in one transaction; a code already present fails it all.
    async fn import_catalogue(&self, cat: &Catalogue) -> Result<CatalogueStats>;
    async fn catalogue_stats(&self) -> Result<CatalogueStats>;
    async fn list_sessions(&self, filter: &SessionFilter) -> Result<Vec<SessionSummary>>;
    async fn session(&self, code: &str) -> Result<Option<SessionDetail>>;
}

/// Accounts and their sign-in sessions.
#[async_trait]
pub trait AccountStore: Send + Sync {
    async fn create_account(&self, new: &NewAccount) -> Result<Account>;
    async fn account(&self, id: AccountId) -> Result<Option<Account>>;
    async fn account_by_email(&self, email: &Email) -> Result<Option<Account>>;
    async fn mark_email_verified(&self, id: AccountId) -> Result<()>;
    /// Sets a new password hash, bumps the credential epoch and ends every sign-in session.
    async fn set_password_hash(&self, id: AccountId, hash: &str) -> Result<()>;
    async fn create_auth_session(&self, s: &AuthSession) -> Result<()>;
    async fn auth_session(&self, id: &str) -> Result<Option<AuthSession>>;
    /// A sign-in session with its account, in one read: what every signed-in request needs.
    async fn session_account(&self, id: &str) -> Result<Option<(AuthSession, Account)>>;
    async fn delete_auth_session(&self, id: &str) -> Result<()>;
}

/// The mail outbox, drained by the background sender with retries.
#[async_trait]
pub trait OutboxStore: Send + Sync {
    async fn enqueue_mail(&self, to: &str, subject: &str, body: &str, now: Timestamp) -> Result<i64>;
    /// Unsent mails whose next attempt is due, oldest first.
    /// Takes up to `limit` due mails, oldest first, for this sender alone: each is leased
    /// until `lease_until` (no other node's sender takes it meanwhile, so none is sent twice)
    /// and is due again then unless marked sent or failed before (a sender that died).
    async fn claim_mail(&self, now: Timestamp, lease_until: Timestamp, limit: i64) -> Result<Vec<OutboxMail>>;
    async fn mark_mail_sent(&self, id: i64, now: Timestamp) -> Result<()>;
    /// Records a failed attempt; `retry_at: None` gives up on the mail.
    async fn mark_mail_failed(&self, id: i64, error: &str, retry_at: Option<Timestamp>) -> Result<()>;
    async fn recent_mail(&self, to: Option<&str>, limit: i64) -> Result<Vec<OutboxMail>>;
}

/// Sales phases and their verifiable lottery: entries, the draw, purchase slots.
#[async_trait]
pub trait LotteryStore: Send + Sync {
    async fn create_phase(&self, code: &str, name: &str, settings: &PhaseSettings) -> Result<Phase>;
    async fn phase(&self, code: &str) -> Result<Option<Phase>>;
    async fn phase_by_id(&self, id: PhaseId) -> Result<Option<Phase>>;
    async fn list_phases(&self) -> Result<Vec<Phase>>;
    /// Draft -> Registration, storing the secret seed and publishing its commitment.
    async fn open_registration(&self, id: PhaseId, seed_hex: &str, seed_sha256: &str, now: Timestamp) -> Result<Phase>;
    /// Registration -> Closed, freezing the entries and storing the SHA-256 of their published
    /// list (`lottery::entries_file`), computed inside the transaction that freezes them;
    /// returns their codes.
    async fn close_registration(&self, id: PhaseId, now: Timestamp) -> Result<Vec<String>>;
    /// Enters the lottery once; entering again returns the first entry.
    async fn enter_lottery(
        &self,
        phase: PhaseId,
        account: AccountId,
        entry_code: &str,
        now: Timestamp,
    ) -> Result<Entry>;
    async fn entry(&self, phase: PhaseId, account: AccountId) -> Result<Option<Entry>>;
    /// Every entry of the phase as (entry code, account).
    async fn entries(&self, phase: PhaseId) -> Result<Vec<(String, AccountId)>>;
    /// Closed -> Drawn, writing every slot in one transaction.
    async fn record_draw(&self, draw: &DrawRecord) -> Result<()>;
    async fn slot(&self, phase: PhaseId, account: AccountId) -> Result<Option<Slot>>;
}

/// Purchases: carts, checkout, buy-now, the idempotency keys and the orders they write.
#[async_trait]
pub trait PurchaseStore: Send + Sync {
    /// Holds `qty` seats of a category in the account's cart for the phase, creating the cart
    /// if needed; refuses outside the account's slot, past the quota or past a cap.
    async fn reserve(&self, req: &ReserveRequest) -> Result<Cart>;
    /// The account's live (open or paying, unexpired) cart in the phase.
    async fn current_cart(&self, account: AccountId, phase: PhaseId, now: Timestamp) -> Result<Option<Cart>>;
    async fn remove_from_cart(
        &self,
        account: AccountId,
        cart: CartId,
        category: CategoryId,
        now: Timestamp,
    ) -> Result<Cart>;
    /// Releases the seats of every cart whose time has run out; returns how many carts.
    async fn release_expired(&self, now: Timestamp) -> Result<u64>;
    /// Starts paying for a cart under an idempotency key; refuses outside the slot.
    async fn begin_checkout(&self, req: &BeginCheckout) -> Result<BeginOutcome>;
    /// How a key seen before answers (its remembered outcome, `KeyReused` for another
    /// request, `InProgress` for a running checkout), read without writing; `None` for a new
    /// key. Every purchase path asks this first, before any cache or availability check, so
    /// that a completed attempt always replays its first answer.
    async fn known_key(&self, account: AccountId, key: &str, request_hash: &str) -> Result<Option<BeginOutcome>>;
    /// Price and seats left of a category, or `None` if there is no such category.
    async fn category_price(&self, id: CategoryId) -> Result<Option<CategoryPrice>>;
    /// "Buy now", after the card was authorised: a known key answers as before; a new one
    /// sells every item (slot, caps, pack rule and quota checked as for a cart) and writes
    /// the paid order. Refusing any item changes nothing.
    async fn sell_now(&self, req: &SellNow) -> Result<SellOutcome>;
    /// Remembers under a key that its purchase was refused, so that a retry answers the same.
    async fn remember_refusal(
        &self,
        account: AccountId,
        key: &str,
        request_hash: &str,
        refusal: &Refusal,
        now: Timestamp,
    ) -> Result<()>;
    /// The payment did not happen (timeout, provider down): forget the key, reopen the cart.
    async fn abort_checkout(&self, account: AccountId, key: &str, cart: CartId) -> Result<()>;
    /// The payment was refused: remember the refusal under the key, reopen the cart.
    async fn fail_checkout(&self, account: AccountId, key: &str, cart: CartId, refusal: &Refusal) -> Result<()>;
    /// The payment was captured: order, tickets, sold counts and the key, in one transaction.
    async fn complete_checkout(&self, req: &CompleteCheckout) -> Result<Order>;
    async fn orders(&self, account: AccountId) -> Result<Vec<Order>>;
    async fn sales_figures(&self, now: Timestamp) -> Result<SalesFigures>;
}

/// The airlock. The store keeps what must survive a restart, the operator's settings and
/// the block list; it never holds a row per waiting fan. Settings and decisions are the
/// app's JSON, opaque here, so that the airlock can grow without a migration.
#[async_trait]
pub trait AirlockStore: Send + Sync {
    /// Creates or replaces the waiting room of a phase. The shuffle seed is kept from the first
    /// call: changing the settings must not change the order of a pre-queue already formed.
    async fn put_waiting_room(
        &self,
        phase_code: &str,
        settings_json: &str,
        seed_hex: &str,
        now: Timestamp,
    ) -> Result<WaitingRoomRecord>;
    async fn delete_waiting_room(&self, phase_code: &str) -> Result<bool>;
    async fn waiting_rooms(&self) -> Result<Vec<WaitingRoomRecord>>;
    /// Creates or replaces the edge decision for a scope (`address:1.2.3.4`, `account:7`...).
    async fn put_edge_decision(&self, scope: &str, decision_json: &str, expires: Timestamp) -> Result<()>;
    async fn delete_edge_decision(&self, scope: &str) -> Result<bool>;
    /// The decisions still in force at `now`, as their JSON.
    async fn edge_decisions(&self, now: Timestamp) -> Result<Vec<String>>;
}

/// Tickets after the sale: phone credentials, transfers and the official resale (types in
/// `gates.rs`).
#[async_trait]
pub trait TicketStore: Send + Sync {
    /// The tickets an account holds now, by session start then ticket id.
    async fn holdings(&self, account: AccountId) -> Result<Vec<Holding>>;
    /// One ticket by its code, whoever holds it.
    async fn holding(&self, ticket_code: &str) -> Result<Option<Holding>>;
    /// Installs a phone credential (see [`IssueCredential`]); one transaction.
    async fn issue_credential(&self, req: &IssueCredential) -> Result<CredentialRecord>;
    /// Offers the ticket to the account with this email: the ticket must be held by `from`,
    /// not listed, with no pending transfer, and `to` must exist and differ from `from`.
    async fn create_transfer(&self, ticket_code: &str, from: AccountId, to: &Email, now: Timestamp)
        -> Result<Transfer>;
    /// The sender withdraws a pending transfer.
    async fn cancel_transfer(&self, id: i64, from: AccountId, now: Timestamp) -> Result<Transfer>;
    /// The recipient accepts: caps of the ticket's phase checked for the recipient (tickets
    /// held, per session and ceremony), the ticket moves, its credential is revoked
    /// (`Transferred`, with a feed event). One transaction.
    async fn accept_transfer(&self, id: i64, to: AccountId, now: Timestamp) -> Result<Transfer>;
    /// Pending transfers sent by or offered to the account.
    async fn transfers(&self, account: AccountId) -> Result<Vec<Transfer>>;
    /// Lists a ticket on the official resale at face value with the given fees.
    async fn list_for_resale(
        &self,
        ticket_code: &str,
        seller: AccountId,
        buyer_fee: Cents,
        seller_fee: Cents,
        now: Timestamp,
    ) -> Result<Listing>;
    async fn cancel_listing(&self, id: i64, seller: AccountId, now: Timestamp) -> Result<Listing>;
    async fn listing(&self, id: i64) -> Result<Option<Listing>>;
    /// Open listings, optionally of one session, oldest first, at most `limit`.
    async fn open_listings(&self, session_code: Option<&str>, limit: i64) -> Result<Vec<Listing>>;
    /// Sells a listed ticket: listing open, buyer not the seller, the buyer's caps hold; the
    /// ticket moves, its credential is revoked (`Resold`, with a feed event), the listing is
    /// sold. One transaction.
    async fn buy_resale(&self, req: &BuyResale) -> Result<Listing>;
}

/// What the gates report and follow: scans and entries, annulments, the venue feed, the gate
/// records and their figures (types in `gates.rs`).
#[async_trait]
pub trait GateStore: Send + Sync {
    /// Records a batch of gate decisions in one transaction (see [`SyncOutcome`]); updates
    /// the gate's record, writes `Entered` feed events for first admissions and a security
    /// event for each double entry. A later batch may hold an earlier admission (a gate that
    /// was cut off): the earliest `at_ms` stands as the entry, and the pair is reported.
    async fn record_scans(
        &self,
        venue_code: &str,
        entrance: &str,
        scans: &[ScanRecord],
        now_ms: i64,
    ) -> Result<SyncOutcome>;
    /// An operator annuls a ticket's admission (the turnstile did not turn): the entry is
    /// removed, an `Annulled` feed event is written. `NotFound` if the ticket has no entry.
    async fn annul_entry(&self, ticket_id: i64, reason: &str, now_ms: i64) -> Result<FeedEvent>;
    /// The venue's feed after `after_seq`, in order, at most `limit` events.
    async fn gate_feed(&self, venue_code: &str, after_seq: i64, limit: i64) -> Result<Vec<FeedEvent>>;
    /// What a venue's gate bundle needs; `NotFound` for an unknown venue.
    async fn venue_gate_data(&self, venue_code: &str, from: Timestamp, until: Timestamp) -> Result<VenueGateData>;
    async fn gates(&self) -> Result<Vec<GateRecord>>;
    async fn gate_figures(&self, since_ms: i64) -> Result<GateFigures>;
    /// Most recent first.
    async fn security_events(&self, limit: i64) -> Result<Vec<SecurityEvent>>;
}

/// The store's capability traits, to call their methods on an `Arc<dyn Store>`:
/// `use tessera_store::prelude::*;` brings them all into scope without naming them.
pub mod prelude {
    pub use crate::{
        AccountStore as _, AccreditationStore as _, AirlockStore as _, CatalogueStore as _, GateStore as _,
        KeyRevocations as _, LotteryStore as _, OutboxStore as _, PaymentRecords as _, PurchaseStore as _, Store,
        TicketStore as _, TocStore as _, VolunteerStore as _,
    };
}

/// How much the readiness check writes: more than a large purchase, so that a store with room
/// for one page but not for a sale is not reported ready.
pub const READINESS_PROBE_BYTES: i64 = 256 * 1024;

/// A phase's waiting room as the operator configured it.
#[derive(Debug, Clone, PartialEq)]
pub struct WaitingRoomRecord {
    pub phase_code: String,
    pub settings_json: String,
    /// Secret: whoever knows it before opening could predict the pre-queue order.
    pub seed_hex: String,
    pub updated_at: Timestamp,
}
