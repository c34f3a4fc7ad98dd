//! Accreditation records (`tessera_accreditation`): responsible organisations, one row per
//! accredited person, and the collection desks' hand-overs.
//!
//! The store sees personal data only sealed: the application (name, date of birth,
//! nationality, document, function, requested access) and the card photo arrive encrypted by
//! the application layer, and only what is counted and searched is in clear: the
//! organisation, the category, the state, and a keyed hash of the duplicate key (the same
//! person applied twice collides without a name being stored). The vetting trail (every
//! decision with who, when and why) is kept as the JSON the domain writes, next to the state
//! it leads to, and changes only by compare-and-set on the row's version: two staff deciding
//! at once cannot both win.

use crate::{Result, Timestamp};
use async_trait::async_trait;
use serde::Serialize;

/// States that give a place back to the organisation's quota (see
/// `tessera_accreditation::vetting::State::holds_quota`; a test in the app holds the two equal).
pub const QUOTA_RELEASED_STATES: [&str; 3] = ["refused", "withdrawn", "revoked"];

/// One application to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAccreditation {
    pub org: String,
    pub category: String,
    /// Hex of a keyed hash of the normalised name, date of birth and document: unique among
    /// rows whose state holds a quota place.
    pub duplicate_key: String,
    /// The domain's state name (`submitted`).
    pub state: String,
    /// The vetting trail as JSON.
    pub vetting: String,
    /// The application, encrypted (nonce and ciphertext).
    pub sealed: Vec<u8>,
    /// The cropped card photo, encrypted; `None` until one is supplied.
    pub photo: Option<Vec<u8>>,
    pub submitted_at: Timestamp,
}

/// The most applications `org` may hold in `category` (states not in
/// [`QUOTA_RELEASED_STATES`]), checked inside the transaction that adds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaLimit {
    pub org: String,
    pub category: String,
    pub max: i64,
}

/// What became of one application offered to [`AccreditationStore::add_accreditations`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", content = "id", rename_all = "snake_case")]
pub enum Added {
    /// Stored under this id.
    Added(i64),
    /// The same person already holds an application (this id): nothing stored.
    Duplicate(i64),
    /// The organisation's quota for the category is full (or it has no quota there).
    OverQuota,
}

/// One accredited person as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAccreditation {
    pub id: i64,
    pub org: String,
    pub category: String,
    pub state: String,
    pub duplicate_key: String,
    pub vetting: String,
    pub sealed: Vec<u8>,
    pub photo: Option<Vec<u8>>,
    /// The card's serial: 0 before the first badge, then 1, 2, ... (a reprint bumps it, which
    /// voids every earlier card).
    pub serial: i64,
    /// Bumped by every update: the compare-and-set token.
    pub version: i64,
    pub submitted_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A change to one row, applied only if the row is still at `version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccreditationUpdate {
    pub id: i64,
    pub version: i64,
    pub state: String,
    pub vetting: String,
    pub serial: i64,
    /// `Some`: replace the photo (sealed).
    pub photo: Option<Vec<u8>>,
    /// `Some`: replace the application (sealed), as erasure does.
    pub sealed: Option<Vec<u8>>,
    pub now: Timestamp,
}

/// Which rows to list, in id order from `after` (exclusive), at most `limit`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccreditationQuery {
    pub org: Option<String>,
    pub state: Option<String>,
    pub after: i64,
    pub limit: i64,
}

/// How many rows an organisation has in a category and state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccreditationCount {
    pub org: String,
    pub category: String,
    pub state: String,
    pub count: i64,
}

/// A card handed over at a collection desk (online, or synced later from an offline desk).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredHandOver {
    pub person: i64,
    pub serial: i64,
    pub desk: String,
    pub at: Timestamp,
    /// The desk operator.
    pub by: String,
    /// Handed over while the list said something that later proved wrong (revoked since): for
    /// staff to follow up.
    pub flagged: bool,
}

/// Cards printed and handed over, for the console: printing is central (staff issue a card,
/// whatever desk hands it over), so cards issued are one total and hand-overs are per desk.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HandOverFigures {
    /// Cards issued in total, reprints included (the sum of every row's serial).
    pub cards_issued: i64,
    /// Per desk that handed over at least one card, by desk code.
    pub desks: Vec<DeskHandOvers>,
}

/// The hand-overs recorded for one desk.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeskHandOvers {
    pub desk: String,
    pub handed_over: i64,
    /// Of those, flagged for staff (the card was revoked or reprinted by then).
    pub flagged: i64,
}

#[async_trait]
pub trait AccreditationStore: Send + Sync {
    /// Creates or replaces an organisation (its officers and quotas, as JSON).
    async fn put_organisation(&self, code: &str, json: &str) -> Result<()>;
    /// Every organisation, by code.
    async fn organisations(&self) -> Result<Vec<(String, String)>>;
    /// Adds applications in one transaction, in order, each checked against the quotas (rows
    /// added earlier in the same call count) and the duplicate keys (likewise). An
    /// `(org, category)` with no [`QuotaLimit`] has no room.
    async fn add_accreditations(&self, rows: &[NewAccreditation], quotas: &[QuotaLimit]) -> Result<Vec<Added>>;
    async fn accreditation(&self, id: i64) -> Result<Option<StoredAccreditation>>;
    /// Rows in id order, without their photos (`photo` is `None`): a list, not a card.
    async fn accreditations(&self, q: &AccreditationQuery) -> Result<Vec<StoredAccreditation>>;
    /// Applies `u` if the row is still at `u.version` (and bumps it); `false` if it moved on
    /// (or does not exist): read it again and decide again. Moving into a state that holds a
    /// quota place again does not check the quota (an appeal keeps the place it had).
    async fn update_accreditation(&self, u: &AccreditationUpdate) -> Result<bool>;
    /// Rows per organisation, category and state.
    async fn accreditation_counts(&self) -> Result<Vec<AccreditationCount>>;
    /// What gates must refuse: the ids of revoked rows, and `(id, serial)` of rows whose card
    /// was reprinted (`serial` > 1, whatever their state: a revocation must never shorten the
    /// list, whose size gates use to tell a newer list), each in id order.
    async fn badge_revocations(&self) -> Result<(Vec<i64>, Vec<(i64, i64)>)>;
    /// Records hand-overs; one card (person, serial) is handed over once, so a desk's sync
    /// sent twice, or two desks claiming the same card, keep the first. Returns how many were new.
    async fn record_hand_overs(&self, rows: &[StoredHandOver]) -> Result<u64>;
    /// A person's hand-overs, oldest first.
    async fn hand_overs(&self, person: i64) -> Result<Vec<StoredHandOver>>;
    /// Cards issued in total and hand-overs per desk, as recorded.
    async fn hand_over_figures(&self) -> Result<HandOverFigures>;
}
