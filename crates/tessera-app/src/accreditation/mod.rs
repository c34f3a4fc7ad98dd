//! Accreditation use cases: organisations and their officers, applications (one by one or a
//! CSV import), vetting through the screening authority (a sandbox here), staff decisions,
//! badges, collection desks. The rules are `tessera_accreditation`'s; this module keeps them
//! in the store, seals personal data before it gets there, and logs every read of it.
//!
//! Personal data (the application's text and the photo) is sealed with ChaCha20-Poly1305
//! under a key derived from the node's secret, the row id and purpose bound in as associated
//! data, so a sealed value copied onto another row does not open. What the store sees in clear
//! is what it counts and searches: organisation, category, state, and a keyed hash of the
//! duplicate key.

use crate::auth::Principal;
use crate::{App, AppError, Result};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use tessera_accreditation::application::import::{import_csv, LineError, Progress};
use tessera_accreditation::vetting::screening::{Poll, SandboxAuthority, SandboxConfig, ScreeningRequest};
use tessera_accreditation::{
    AccessMatrix, AccountId, Action, Actor, Application, BadgeSigner, CardPhoto, CategoryCode, Clearance, DeskCode,
    DeskKey, OrgCode, OrgKind, ParseContext, PersonId, PhotoPolicy, RawApplication, State, Vetting,
};
use tessera_credential::IssuerKey;
use tessera_domain::Timestamp;
use tessera_store::{
    AccreditationQuery, AccreditationUpdate, Added, NewAccreditation, QuotaLimit, Role, StoredAccreditation,
    StoredHandOver,
};

mod badges;
mod desks;
mod import;
mod screening;

pub use import::{ImportLineError, ImportStatus};
pub use screening::screening_loop;

/// The key id badges are signed under (tickets use one per event day; a badge lasts the
/// Games, so one key).
pub const BADGE_KEY_ID: u32 = 0xB0;
/// Applications sent to the store in one transaction by an import.
const IMPORT_CHUNK: usize = 2_000;
/// People sent to the screening authority in one batch.
const SCREENING_BATCH: usize = 1_000;
/// Line errors an import reports (the rest are counted).
const MAX_REPORTED_ERRORS: usize = 1_000;
/// Largest CSV import, bytes (500,000 lines of about 150 bytes, with room).
pub const MAX_IMPORT_BYTES: usize = 128 << 20;
/// The purpose accreditation's sealing key is derived for.
const SEAL_KEY: &[u8] = b"tessera accreditation seal";
/// A row left in `screening` this long without an answer is sent to the authority again.
const RESEND_AFTER_SECS: i64 = 600;
/// Desks remembered; a new desk beyond it is not shown (the desks of a Games: a few hundred).
const MAX_DESKS: usize = 2_000;
/// Screening times kept for the console's percentiles.
const SCREENING_SAMPLES: usize = 4_096;
/// Imports running at once: each holds its file and its parsed lines in memory.
const MAX_IMPORTS_RUNNING: usize = 2;
/// Import statuses kept for their progress bars (finished ones are dropped first).
const MAX_IMPORTS_KEPT: usize = 64;
/// Retries of a compare-and-set update before giving up (another decision keeps winning).
const CAS_RETRIES: usize = 5;

/// An organisation as kept: who its officers are and its quotas per category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgRecord {
    pub code: String,
    pub name: String,
    pub kind: OrgKind,
    /// Account ids of its officers.
    pub officers: Vec<i64>,
    /// Category code → most applications holding a place.
    pub quotas: BTreeMap<String, u32>,
}

/// The accreditation service's memory: the matrix, the screening sandbox and its open
/// batches, import progress.
pub struct Accreditations {
    pub matrix: AccessMatrix,
    /// When cards are valid (unix seconds): the Games' period. `None`: from yesterday for 100
    /// days (the demo, tests).
    pub validity: Option<(i64, i64)>,
    pub photo_policy: PhotoPolicy,
    /// A sandbox that behaves like the screening authority (delays, hits, transient errors,
    /// appeals, batches); the real one would sit behind the same calls.
    sandbox: Mutex<SandboxAuthority>,
    /// Batches sent and not answered yet: their people.
    batches: Mutex<Vec<(tessera_accreditation::vetting::screening::BatchId, Vec<i64>)>>,
    /// Running and finished imports, by id, with the account that started each, for a
    /// progress bar (at most [`MAX_IMPORTS_KEPT`]; at most [`MAX_IMPORTS_RUNNING`] at once).
    imports: Mutex<HashMap<u64, (i64, ImportStatus)>>,
    /// The desks this node has heard from (bounded by [`MAX_DESKS`]).
    pub(crate) desks: Mutex<BTreeMap<String, DeskStatus>>,
    /// How long the last answers took, seconds (at most [`SCREENING_SAMPLES`]).
    screening_secs: Mutex<std::collections::VecDeque<i64>>,
    /// The gates' revocation list and when it was read.
    gate_list: Mutex<Option<(std::time::Instant, Arc<tessera_wire::BadgeRevocations>)>>,
}

impl Accreditations {
    pub fn new(seed: u64) -> Self {
        Accreditations {
            matrix: AccessMatrix::demo_default(),
            validity: None,
            photo_policy: PhotoPolicy::default(),
            sandbox: Mutex::new(SandboxAuthority::new(seed, SandboxConfig::default())),
            batches: Mutex::new(Vec::new()),
            imports: Mutex::new(HashMap::new()),
            gate_list: Mutex::new(None),
            screening_secs: Mutex::new(std::collections::VecDeque::new()),
            desks: Mutex::new(BTreeMap::new()),
        }
    }

    /// Screening batches sent and not answered yet.
    pub fn open_batches(&self) -> usize {
        self.batches.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Makes the sandbox answer in 1 to 3 s (tests, the demo) instead of up to 5 minutes.
    pub fn use_quick_sandbox(&self, seed: u64) {
        let config = SandboxConfig { min_delay_secs: 1, max_delay_secs: 3, ..SandboxConfig::default() };
        *self.sandbox.lock().unwrap_or_else(|e| e.into_inner()) = SandboxAuthority::new(seed, config);
        self.batches.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

/// One application as staff or its officer see it (personal data opened: a logged read).
#[derive(Debug, Clone, Serialize)]
pub struct ApplicationView {
    pub id: i64,
    pub org: String,
    pub category: String,
    pub state: String,
    pub application: RawApplication,
    pub has_photo: bool,
    /// Cards issued so far (0: none).
    pub cards: i64,
    pub screening_passed: bool,
    pub audit: Vec<tessera_accreditation::AuditEntry>,
}

/// A row without its personal data: what a list shows.
#[derive(Debug, Clone, Serialize)]
pub struct ApplicationRow {
    pub id: i64,
    pub org: String,
    pub category: String,
    pub state: String,
    pub cards: i64,
    pub updated_at: i64,
}

/// A badge issued: the signed text the QR code carries, and the card it is printed on.
#[derive(Debug, Clone)]
pub struct IssuedBadge {
    pub person: i64,
    pub serial: u16,
    pub text: String,
    /// The signed badge's bytes (what `text` encodes): a phone keeps a phone badge's to sign
    /// its codes over.
    pub signed: Vec<u8>,
    pub badge: tessera_accreditation::Badge,
    pub photo: Option<CardPhoto>,
    pub function: String,
}

/// The figures the accreditation console shows.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AccreditationFigures {
    pub by_state: BTreeMap<String, i64>,
    pub by_org: Vec<OrgFigures>,
    pub screening_batches_open: usize,
    /// Screening times of the last answers this node recorded, seconds: how many, median, 90th
    /// percentile, longest.
    pub screening_seconds: ScreeningTimes,
    /// Cards issued in total, reprints included. Printing is central (staff issue a card, any
    /// desk may hand it over), so there is no "printed per desk".
    pub cards_issued: i64,
    /// Every desk this node has heard from or the store has hand-overs of: its mode and list
    /// as this node knows them, its hand-overs as recorded.
    pub desks: Vec<DeskStatus>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ScreeningTimes {
    pub count: usize,
    pub p50: i64,
    pub p90: i64,
    pub max: i64,
}

impl ScreeningTimes {
    fn of(samples: &std::collections::VecDeque<i64>) -> Self {
        let mut v: Vec<i64> = samples.iter().copied().collect();
        v.sort_unstable();
        let at = |q: f64| v.get(((v.len() as f64 - 1.0) * q).round() as usize).copied().unwrap_or(0);
        ScreeningTimes { count: v.len(), p50: at(0.5), p90: at(0.9), max: v.last().copied().unwrap_or(0) }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct OrgFigures {
    pub org: String,
    pub name: String,
    /// Category → (holding a place, quota).
    pub categories: BTreeMap<String, (i64, u32)>,
}

/// What this node knows of a collection desk: its list, its syncs, its mode.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DeskStatus {
    pub desk: String,
    /// When it last downloaded its list (unix seconds), and how many people were on it.
    pub list_at: Option<i64>,
    pub list_people: u64,
    /// When it was last heard from (a list or a sync).
    pub last_contact: i64,
    /// Cards it handed over, as recorded in the store (on every node alike).
    pub handed_over: u64,
    /// Of those, flagged for staff (revoked or reprinted by the time it was handed over).
    pub flagged: u64,
    /// Working from its downloaded list, its hand-overs sent when the network is back: one
    /// audited switch, by the desk or accreditation staff.
    pub offline_mode: bool,
    pub switched_by: Option<String>,
    pub switched_at: Option<i64>,
}

/// A staff decision on an application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approve,
    Refuse,
    Revoke,
}

fn staff(who: &Principal) -> Result<()> {
    match who.role {
        Role::Operator | Role::Accreditation => Ok(()),
        _ => Err(AppError::Forbidden("accreditation staff only".into())),
    }
}

fn vetting_officer(who: &Principal) -> Result<()> {
    match who.role {
        Role::Operator | Role::Accreditation | Role::Vetting => Ok(()),
        _ => Err(AppError::Forbidden("accreditation staff and vetting officers only".into())),
    }
}

fn internal(what: &str) -> impl Fn(serde_json::Error) -> AppError + '_ {
    move |e| AppError::Internal(format!("{what}: {e}"))
}

fn state_of(s: &str) -> Result<State> {
    State::ALL
        .into_iter()
        .find(|st| st.as_str() == s)
        .ok_or_else(|| AppError::Internal(format!("unknown stored state {s}")))
}

impl App {
    /// Seals `plain` for the row's `purpose` (`seal.rs`).
    fn seal(&self, purpose: &[u8], plain: &[u8]) -> Vec<u8> {
        self.seal_with(SEAL_KEY, purpose, plain)
    }

    fn open_sealed(&self, purpose: &[u8], sealed: &[u8]) -> Result<Vec<u8>> {
        self.open_with(SEAL_KEY, purpose, sealed).ok_or_else(|| {
            AppError::Internal("sealed accreditation data does not open (another key, or altered)".into())
        })
    }

    /// The duplicate key under a keyed hash: equal for the same person, meaningless without
    /// the node's secret.
    fn duplicate_hash(&self, a: &Application) -> String {
        use hmac::{Hmac, Mac};
        let k = a.duplicate_key();
        let key = self.derived_key(b"tessera accreditation duplicate", b"");
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).expect("any length");
        mac.update(k.name.as_bytes());
        mac.update(&[0]);
        mac.update(k.date_of_birth.to_string().as_bytes());
        mac.update(&[0]);
        mac.update(k.document.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    fn parse_context(&self) -> ParseContext<'_> {
        ParseContext { matrix: &self.accreditations.matrix, today: self.today() }
    }

    fn today(&self) -> time::Date {
        time::OffsetDateTime::from_unix_timestamp(self.now().0).map_or(time::Date::MIN, |t| t.date())
    }

    fn badge_key(&self) -> IssuerKey {
        IssuerKey::from_secret_bytes(BADGE_KEY_ID, &self.derived_key(b"tessera badge key", b""))
    }

    /// The signer of badges, from the node's secret.
    pub fn badge_signer(&self) -> BadgeSigner {
        BadgeSigner::new(&self.badge_key())
    }

    /// A desk's key for its offline list: shown to the desk once it signs in, kept on the desk.
    pub fn desk_key(&self, desk: &DeskCode) -> DeskKey {
        DeskKey::from_bytes(self.derived_key(b"tessera desk key", desk.to_string().as_bytes()))
    }

    // --- organisations -------------------------------------------------------------------

    /// Creates or replaces an organisation (staff).
    pub async fn put_organisation(&self, who: &Principal, org: OrgRecord) -> Result<OrgRecord> {
        staff(who)?;
        let code = OrgCode::parse(org.code.trim()).map_err(|e| AppError::invalid("code", e.to_string()))?;
        tessera_accreditation::Organisation::new(code.clone(), &org.name, org.kind)
            .map_err(|e| AppError::invalid("name", e.to_string()))?;
        for cat in org.quotas.keys() {
            let c = CategoryCode::parse(cat).map_err(|e| AppError::invalid("quotas", format!("`{cat}`: {e}")))?;
            self.accreditations
                .matrix
                .category(&c)
                .map_err(|e| AppError::invalid("quotas", format!("`{cat}`: {e}")))?;
        }
        for id in &org.officers {
            if self.store.account(tessera_domain::AccountId(*id)).await?.is_none() {
                return Err(AppError::invalid("officers", format!("no account {id}")));
            }
        }
        let record = OrgRecord { code: code.to_string(), name: org.name.trim().to_owned(), ..org };
        let json = serde_json::to_string(&record).map_err(internal("organisation"))?;
        self.store.put_organisation(&record.code, &json).await?;
        Ok(record)
    }

    pub async fn organisations(&self) -> Result<Vec<OrgRecord>> {
        self.store
            .organisations()
            .await?
            .into_iter()
            .map(|(_, j)| serde_json::from_str(&j).map_err(internal("stored organisation")))
            .collect()
    }

    async fn organisation(&self, code: &str) -> Result<OrgRecord> {
        self.organisations()
            .await?
            .into_iter()
            .find(|o| o.code == code)
            .ok_or_else(|| AppError::NotFound(format!("organisation {code}")))
    }

    /// The organisations `who` is an officer of.
    pub async fn officer_of(&self, who: &Principal) -> Result<Vec<OrgRecord>> {
        Ok(self.organisations().await?.into_iter().filter(|o| o.officers.contains(&who.account_id.0)).collect())
    }

    fn quotas(orgs: &[OrgRecord]) -> Vec<QuotaLimit> {
        orgs.iter()
            .flat_map(|o| {
                o.quotas.iter().map(|(c, n)| QuotaLimit {
                    org: o.code.clone(),
                    category: c.clone(),
                    max: i64::from(*n),
                })
            })
            .collect()
    }

    // --- applications --------------------------------------------------------------------

    fn new_row(&self, by: &Principal, a: &Application, photo: Option<&CardPhoto>) -> Result<NewAccreditation> {
        let raw = serde_json::to_vec(&a.to_raw()).map_err(internal("application"))?;
        // The person id is the row id, unknown before the insert: the trail's first entry
        // names person 0 and the stored row is the person (see `vetting_of`).
        let vetting = Vetting::submit(PersonId(0), AccountId(by.account_id.0 as u64), self.now().0);
        Ok(NewAccreditation {
            org: a.organisation().to_string(),
            category: a.category().to_string(),
            duplicate_key: self.duplicate_hash(a),
            state: State::Submitted.as_str().to_owned(),
            vetting: serde_json::to_string(&vetting).map_err(internal("vetting"))?,
            sealed: self.seal(b"application", &raw),
            photo: photo.map(|p| self.seal(b"photo", &p.jpeg)),
            submitted_at: self.now(),
        })
    }

    /// One application from an officer of its organisation, with an optional photo (checked,
    /// cropped to the card). Quota and duplicates are checked where it is stored.
    pub async fn submit_application(
        &self,
        who: &Principal,
        raw: &RawApplication,
        photo: Option<&[u8]>,
    ) -> Result<Added> {
        let a = Application::parse(raw, &self.parse_context()).map_err(|e| {
            let first = e.errors.first();
            AppError::invalid(
                first.map_or("application", |f| f.field.column()),
                e.errors.iter().map(|f| format!("{}: {}", f.field.column(), f.message)).collect::<Vec<_>>().join("; "),
            )
        })?;
        let org = self.organisation(&a.organisation().to_string()).await?;
        if !org.officers.contains(&who.account_id.0) {
            return Err(AppError::Forbidden(format!("only {}'s officers submit its applications", org.code)));
        }
        let photo = match photo {
            Some(bytes) => Some(
                tessera_accreditation::photo::prepare(bytes, &self.accreditations.photo_policy)
                    .map_err(|e| AppError::invalid("photo", e.to_string()))?,
            ),
            None => None,
        };
        let row = self.new_row(who, &a, photo.as_ref())?;
        let added = self.store.add_accreditations(&[row], &Self::quotas(&[org])).await?;
        added.into_iter().next().ok_or_else(|| AppError::Internal("no outcome".into()))
    }

    /// Rows in id order (no personal data).
    pub async fn list_applications(&self, who: &Principal, q: &AccreditationQuery) -> Result<Vec<ApplicationRow>> {
        let mut q = q.clone();
        if !matches!(who.role, Role::Operator | Role::Accreditation | Role::Vetting) {
            let mine = self.officer_of(who).await?;
            match &q.org {
                Some(o) if mine.iter().any(|m| &m.code == o) => {}
                _ => return Err(AppError::Forbidden("an officer lists their own organisation's applications".into())),
            }
        }
        q.limit = q.limit.clamp(1, 1_000);
        Ok(self
            .store
            .accreditations(&q)
            .await?
            .into_iter()
            .map(|r| ApplicationRow {
                id: r.id,
                org: r.org,
                category: r.category,
                state: r.state,
                cards: r.serial,
                updated_at: r.updated_at.0,
            })
            .collect())
    }

    async fn stored(&self, id: i64) -> Result<StoredAccreditation> {
        self.store.accreditation(id).await?.ok_or_else(|| AppError::NotFound(format!("application {id}")))
    }

    fn vetting_of(&self, row: &StoredAccreditation) -> Result<Vetting> {
        let v: Vetting = serde_json::from_str(&row.vetting).map_err(internal("stored vetting"))?;
        // Rows are stored before their id is known (see `new_row`): the row is the person.
        Ok(v.numbered(PersonId(row.id as u64)))
    }

    fn application_of(&self, row: &StoredAccreditation) -> Result<Application> {
        if row.sealed.is_empty() {
            return Err(AppError::Conflict(format!("application {}: its personal data was erased", row.id)));
        }
        let raw: RawApplication =
            serde_json::from_slice(&self.open_sealed(b"application", &row.sealed)?).map_err(internal("application"))?;
        Application::parse(&raw, &self.parse_context())
            .map_err(|e| AppError::Internal(format!("stored application {} no longer parses: {e:?}", row.id)))
    }

    /// One application with its personal data and trail: staff, or an officer of its
    /// organisation. Every such read is logged.
    pub async fn application(&self, who: &Principal, id: i64) -> Result<ApplicationView> {
        let row = self.stored(id).await?;
        if !matches!(who.role, Role::Operator | Role::Accreditation | Role::Vetting) {
            let org = self.organisation(&row.org).await?;
            if !org.officers.contains(&who.account_id.0) {
                return Err(AppError::NotFound(format!("application {id}")));
            }
        }
        self.personal_data_read(who, Some(id as u64), "accreditation application");
        let a = self.application_of(&row)?;
        let v = self.vetting_of(&row)?;
        Ok(ApplicationView {
            id,
            org: row.org,
            category: row.category,
            state: row.state,
            application: a.to_raw(),
            has_photo: row.photo.as_ref().is_some_and(|p| !p.is_empty()),
            cards: row.serial,
            screening_passed: v.screening_passed(),
            audit: v.audit().to_vec(),
        })
    }

    /// Applies `action` to the application by compare-and-set, retrying when another
    /// decision landed first; returns the new state.
    async fn act(&self, id: i64, action: Action, actor: Actor, reason: &str) -> Result<State> {
        self.move_vetting(id, |v, now| v.apply(action, actor, now, reason)).await
    }

    /// Moves the application's vetting with `step` (the domain decides) and stores it by
    /// compare-and-set on the row's version, reading again and deciding again when another
    /// decision landed first. A revocation makes the gates' list be read afresh.
    async fn move_vetting(
        &self,
        id: i64,
        step: impl Fn(&mut Vetting, i64) -> std::result::Result<State, tessera_accreditation::VettingError>,
    ) -> Result<State> {
        for _ in 0..CAS_RETRIES {
            let row = self.stored(id).await?;
            let mut v = self.vetting_of(&row)?;
            let to = step(&mut v, self.now().0).map_err(|e| AppError::Conflict(e.to_string()))?;
            let u = AccreditationUpdate {
                id,
                version: row.version,
                state: to.as_str().to_owned(),
                vetting: serde_json::to_string(&v).map_err(internal("vetting"))?,
                serial: row.serial,
                photo: None,
                sealed: None,
                now: self.now(),
            };
            if self.store.update_accreditation(&u).await? {
                if to == State::Revoked {
                    self.forget_gate_list();
                }
                return Ok(to);
            }
        }
        Err(AppError::Conflict(format!("application {id} keeps changing; try again")))
    }

    /// A staff decision (approve needs screening passed; refuse and revoke need a reason).
    pub async fn decide_application(
        &self,
        who: &Principal,
        id: i64,
        decision: Decision,
        reason: &str,
    ) -> Result<State> {
        staff(who)?;
        let action = match decision {
            Decision::Approve => Action::Approve,
            Decision::Refuse => Action::Refuse,
            Decision::Revoke => Action::Revoke,
        };
        self.act(id, action, Actor::Account(AccountId(who.account_id.0 as u64)), reason).await
    }

    /// An officer appeals a refusal, or withdraws an application.
    pub async fn officer_action(&self, who: &Principal, id: i64, action: Action, reason: &str) -> Result<State> {
        if !matches!(action, Action::Appeal | Action::Withdraw) {
            return Err(AppError::invalid("action", "an officer may appeal or withdraw"));
        }
        let row = self.stored(id).await?;
        let org = self.organisation(&row.org).await?;
        if !org.officers.contains(&who.account_id.0) {
            return Err(AppError::NotFound(format!("application {id}")));
        }
        self.act(id, action, Actor::Account(AccountId(who.account_id.0 as u64)), reason).await
    }

    /// A vetting officer records a hit from the authority outside the batch flow (a later
    /// finding): refuses during screening, revokes after approval.
    pub async fn record_hit(&self, who: &Principal, id: i64, reason: &str) -> Result<State> {
        vetting_officer(who)?;
        self.act(id, Action::ScreeningHit, Actor::Account(AccountId(who.account_id.0 as u64)), reason).await
    }

    /// Counts by state and by organisation against its quotas.
    pub async fn accreditation_figures(&self, who: &Principal) -> Result<AccreditationFigures> {
        vetting_officer(who)?;
        let counts = self.store.accreditation_counts().await?;
        let orgs = self.organisations().await?;
        let hand_overs = self.store.hand_over_figures().await?;
        // The list and the last contact are what this node heard (the mode is shared through
        // the store); the counts are the store's, so that every node shows the same figures
        // and a restart forgets none.
        let mut desks = self.accreditations.desks.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for d in desks.values_mut() {
            d.handed_over = 0;
            d.flagged = 0;
        }
        for h in hand_overs.desks {
            let d = desks
                .entry(h.desk.clone())
                .or_insert_with(|| DeskStatus { desk: h.desk.clone(), ..Default::default() });
            d.handed_over = h.handed_over.max(0) as u64;
            d.flagged = h.flagged.max(0) as u64;
        }
        let mut f = AccreditationFigures {
            screening_batches_open: self.accreditations.batches.lock().unwrap_or_else(|e| e.into_inner()).len(),
            cards_issued: hand_overs.cards_issued,
            desks: desks.into_values().collect(),
            screening_seconds: ScreeningTimes::of(
                &self.accreditations.screening_secs.lock().unwrap_or_else(|e| e.into_inner()),
            ),
            ..AccreditationFigures::default()
        };
        let mut by_org: BTreeMap<String, OrgFigures> = orgs
            .iter()
            .map(|o| {
                let categories = o.quotas.iter().map(|(c, q)| (c.clone(), (0, *q))).collect();
                (o.code.clone(), OrgFigures { org: o.code.clone(), name: o.name.clone(), categories })
            })
            .collect();
        for c in counts {
            *f.by_state.entry(c.state.clone()).or_default() += c.count;
            if state_of(&c.state)?.holds_quota() {
                let o = by_org
                    .entry(c.org.clone())
                    .or_insert_with(|| OrgFigures { org: c.org.clone(), ..Default::default() });
                o.categories.entry(c.category.clone()).or_insert((0, 0)).0 += c.count;
            }
        }
        f.by_org = by_org.into_values().collect();
        Ok(f)
    }

    /// Erases the personal data of every accreditation, as the retention rules ask after the
    /// Games: the application and the photo are dropped; the id, organisation, category,
    /// state, cards issued and the audit trail stay, with an entry for the erasure. Rows
    /// erased before are skipped; `progress` hears (done, total). Returns how many were erased.
    pub async fn erase_accreditations(&self, mut progress: impl FnMut(u64, u64)) -> Result<u64> {
        let total: i64 = self.store.accreditation_counts().await?.iter().map(|c| c.count).sum();
        let (mut after, mut done, mut erased) = (0, 0u64, 0u64);
        loop {
            let rows =
                self.store.accreditations(&AccreditationQuery { after, limit: 1_000, ..Default::default() }).await?;
            let Some(last) = rows.last() else { break };
            after = last.id;
            for row in rows.iter().filter(|r| !r.sealed.is_empty()) {
                let Some(full) = self.store.accreditation(row.id).await? else { continue };
                let record = tessera_accreditation::PersonRecord {
                    person: PersonId(full.id as u64),
                    application: self.application_of(&full)?,
                    photo: None,
                    vetting: self.vetting_of(&full)?,
                    card_serial: u16::try_from(full.serial - 1).ok(),
                };
                let e = tessera_accreditation::erase(record, Actor::System, self.now().0);
                // What is left is a vetting trail: the same record, ending with the erasure.
                let vetting = serde_json::json!({
                    "person": e.person, "state": e.state, "screening_passed": false, "audit": e.audit,
                });
                let u = AccreditationUpdate {
                    id: full.id,
                    version: full.version,
                    state: full.state.clone(),
                    vetting: vetting.to_string(),
                    serial: full.serial,
                    photo: full.photo.as_ref().map(|_| Vec::new()),
                    sealed: Some(Vec::new()),
                    now: self.now(),
                };
                // A row changed meanwhile is left for the next run, which skips erased rows.
                if self.store.update_accreditation(&u).await? {
                    erased += 1;
                }
            }
            done += rows.len() as u64;
            progress(done, total.max(0) as u64);
        }
        Ok(erased)
    }
}

#[cfg(test)]
mod tests {
    use tessera_accreditation::State;

    #[test]
    fn the_store_releases_the_quota_places_the_domain_releases() {
        let mut released: Vec<&str> = State::ALL.iter().filter(|s| !s.holds_quota()).map(|s| s.as_str()).collect();
        let mut stored = tessera_store::QUOTA_RELEASED_STATES.to_vec();
        released.sort_unstable();
        stored.sort_unstable();
        assert_eq!(released, stored);
    }
}
