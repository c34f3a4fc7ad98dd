//! The volunteer programme's records (`tessera_volunteers`): applications, the programme
//! (missions, venues, positions, policy), matching runs with their proposals, offers, the
//! coordinators' overrides and rosters.
//!
//! The store sees an application only sealed: the whole application (date of birth, country,
//! gender, disability, languages, availability...) arrives encrypted by the application
//! layer, which opens them to match; in clear are only the row's state and the account that
//! applied (one application per account). Everything else the domain computes is kept as the
//! JSON it writes. An offer is answered by compare-and-set on its state and deadline, so two
//! clicks (accept and refuse) cannot both win; a run is saved only if no other run was saved
//! since the one it was computed after, so two coordinators running at once cannot both offer
//! the same positions.

use crate::{Result, Timestamp};
use async_trait::async_trait;
use serde::Serialize;

/// The states an offer is stored in. An `offered` row past its deadline reads as expired:
/// expiry is a reading of the clock, not a write.
pub const OFFER_STATES: [&str; 4] = ["offered", "accepted", "refused", "withdrawn"];

/// One application to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewVolunteerApplication {
    /// The account that applied for itself; `None` for an imported application.
    pub account: Option<i64>,
    /// The application, encrypted (nonce and ciphertext).
    pub sealed: Vec<u8>,
    pub submitted_at: Timestamp,
}

/// One application as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredVolunteerApplication {
    pub id: i64,
    pub account: Option<i64>,
    /// `submitted`, then the state of its latest offer (`offered`, `accepted`, `refused`).
    pub state: String,
    pub sealed: Vec<u8>,
    pub submitted_at: Timestamp,
    pub updated_at: Timestamp,
}

/// An offer a run makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewVolunteerOffer {
    pub application: i64,
    pub mission: String,
    pub venue: String,
    /// Answers are taken strictly before it.
    pub deadline: Timestamp,
}

/// A matching run to save, with the offers it makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewVolunteerRun {
    /// The latest run when this one was computed (`None`: the first): saved only if it still is.
    pub after: Option<i64>,
    pub by: String,
    pub at: Timestamp,
    /// Figures, fills, unfilled buckets and override outcomes, as JSON.
    pub summary: String,
    /// Proposals and unmatched applicants with their explanations, as JSON.
    pub proposals: String,
    pub offers: Vec<NewVolunteerOffer>,
    /// The overrides this run carried out (forced assignments, which are used once).
    pub overrides_used: Vec<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredVolunteerRun {
    pub id: i64,
    pub by: String,
    pub at: Timestamp,
    pub summary: String,
    pub proposals: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredVolunteerOffer {
    pub id: i64,
    pub run: i64,
    pub application: i64,
    pub mission: String,
    pub venue: String,
    pub offered_at: Timestamp,
    pub deadline: Timestamp,
    /// One of [`OFFER_STATES`].
    pub state: String,
    pub answered_at: Option<Timestamp>,
}

/// A coordinator's decision about one application, with who, when and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewVolunteerOverride {
    pub application: i64,
    /// The domain's `OverrideAction`, as JSON.
    pub action: String,
    pub by: String,
    pub reason: String,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredVolunteerOverride {
    pub id: i64,
    pub application: i64,
    pub action: String,
    pub by: String,
    pub reason: String,
    pub at: Timestamp,
    /// The run that carried it out, for a forced assignment (used once); bans stand.
    pub run: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredVolunteerRoster {
    pub id: i64,
    pub at: Timestamp,
    pub json: String,
}

/// Counts for the coordinators' console.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VolunteerCounts {
    /// Applications per state, by state.
    pub applications: Vec<(String, i64)>,
    /// Offers per state as of `now` (`expired` for open offers past their deadline), by state.
    pub offers: Vec<(String, i64)>,
    pub runs: i64,
    pub overrides: i64,
}

#[async_trait]
pub trait VolunteerStore: Send + Sync {
    /// Adds applications in one transaction, all or none, in order; their ids in that order.
    /// `Conflict` if an account already has one (or appears twice).
    async fn add_volunteer_applications(&self, rows: &[NewVolunteerApplication]) -> Result<Vec<i64>>;
    async fn volunteer_application(&self, id: i64) -> Result<Option<StoredVolunteerApplication>>;
    /// The application an account made for itself.
    async fn volunteer_application_of(&self, account: i64) -> Result<Option<StoredVolunteerApplication>>;
    /// Applications in id order from `after` (exclusive), at most `limit`.
    async fn volunteer_applications(&self, after: i64, limit: i64) -> Result<Vec<StoredVolunteerApplication>>;
    /// Replaces the programme (missions, venues, positions, policy), as JSON.
    async fn put_volunteer_programme(&self, json: &str, now: Timestamp) -> Result<()>;
    async fn volunteer_programme(&self) -> Result<Option<String>>;
    /// Saves a run, makes its offers (their applications move to `offered`) and marks the
    /// overrides it used, in one transaction. `Conflict` if another run was saved after
    /// `run.after`, or if there is no programme.
    async fn save_volunteer_run(&self, run: &NewVolunteerRun) -> Result<i64>;
    async fn latest_volunteer_run(&self) -> Result<Option<StoredVolunteerRun>>;
    /// One run, to explain the offers it made after later runs.
    async fn volunteer_run(&self, id: i64) -> Result<Option<StoredVolunteerRun>>;
    /// Offers in id order: one application's, or all.
    async fn volunteer_offers(&self, application: Option<i64>) -> Result<Vec<StoredVolunteerOffer>>;
    /// Accepts or refuses the offer, if it belongs to `application`, is still `offered` and
    /// `now` is before its deadline (and moves the application to the same state); `false`
    /// otherwise: nothing changed. Of two answers at once, one wins.
    async fn answer_volunteer_offer(&self, id: i64, application: i64, accept: bool, now: Timestamp) -> Result<bool>;
    async fn add_volunteer_override(&self, o: &NewVolunteerOverride) -> Result<i64>;
    /// Every override, oldest first.
    async fn volunteer_overrides(&self) -> Result<Vec<StoredVolunteerOverride>>;
    async fn save_volunteer_roster(&self, at: Timestamp, json: &str) -> Result<i64>;
    /// The latest roster.
    async fn volunteer_roster(&self) -> Result<Option<StoredVolunteerRoster>>;
    async fn volunteer_counts(&self, now: Timestamp) -> Result<VolunteerCounts>;
}
