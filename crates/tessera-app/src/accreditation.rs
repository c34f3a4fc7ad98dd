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
use ring::aead;
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
    desks: Mutex<BTreeMap<String, DeskStatus>>,
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

/// Where an import stands.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportStatus {
    pub id: u64,
    pub records: u64,
    pub bytes: u64,
    pub total_bytes: u64,
    pub added: u64,
    pub duplicates: u64,
    pub over_quota: u64,
    pub rejected: u64,
    /// Line errors (at most [`MAX_REPORTED_ERRORS`]), in file order.
    pub errors: Vec<ImportLineError>,
    pub done: bool,
    /// Set when the import stopped on a fault (nothing after the last stored chunk was kept).
    pub failed: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ImportLineError {
    pub line: u64,
    pub column: Option<String>,
    pub message: String,
}

impl From<&LineError> for ImportLineError {
    fn from(e: &LineError) -> Self {
        ImportLineError { line: e.line, column: e.column.map(str::to_owned), message: e.message.clone() }
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
    /// The desks this node has heard from.
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
    /// Cards it handed over (new hand-overs its syncs brought).
    pub handed_over: u64,
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
    fn seal_key(&self) -> aead::LessSafeKey {
        let k = self.derived_key(b"tessera accreditation seal", b"");
        aead::LessSafeKey::new(aead::UnboundKey::new(&aead::CHACHA20_POLY1305, &k).expect("32-byte key"))
    }

    /// Seals `plain` for the row's `purpose`: a random nonce, then the ciphertext and tag.
    fn seal(&self, purpose: &[u8], plain: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; 12];
        rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut nonce);
        let mut out = plain.to_vec();
        self.seal_key()
            .seal_in_place_append_tag(aead::Nonce::assume_unique_for_key(nonce), aead::Aad::from(purpose), &mut out)
            .expect("in-memory buffer");
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&out);
        sealed
    }

    fn open_sealed(&self, purpose: &[u8], sealed: &[u8]) -> Result<Vec<u8>> {
        let bad = || AppError::Internal("sealed accreditation data does not open (another key, or altered)".into());
        if sealed.len() < 12 + 16 {
            return Err(bad());
        }
        let (nonce, body) = sealed.split_at(12);
        let mut body = body.to_vec();
        let nonce = aead::Nonce::try_assume_unique_for_key(nonce).map_err(|_| bad())?;
        let plain = self.seal_key().open_in_place(nonce, aead::Aad::from(purpose), &mut body).map_err(|_| bad())?;
        Ok(plain.to_vec())
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

    /// Starts a CSV import for the officer's organisations; returns its id. The file is parsed
    /// whole first (a bad header stores nothing), then stored in chunks, each one transaction;
    /// progress is read with [`App::import_status`].
    pub async fn start_import(&self, who: &Principal, csv: Vec<u8>) -> Result<u64> {
        if csv.len() > MAX_IMPORT_BYTES {
            return Err(AppError::invalid("file", format!("larger than {} MiB", MAX_IMPORT_BYTES >> 20)));
        }
        let orgs = self.officer_of(who).await?;
        if orgs.is_empty() && !matches!(who.role, Role::Operator | Role::Accreditation) {
            return Err(AppError::Forbidden("only an organisation's officers import applications".into()));
        }
        let id = rand::random::<u64>() >> 12;
        let (app, who) = (self.clone(), who.clone());
        {
            let mut imports = self.accreditations.imports.lock().unwrap_or_else(|e| e.into_inner());
            if imports.values().filter(|(_, s)| !s.done).count() >= MAX_IMPORTS_RUNNING {
                return Err(AppError::Conflict(format!(
                    "{MAX_IMPORTS_RUNNING} imports are running; try again when one is done"
                )));
            }
            while imports.len() >= MAX_IMPORTS_KEPT {
                let Some(oldest) = imports.iter().filter(|(_, (_, s))| s.done).map(|(k, _)| *k).next() else { break };
                imports.remove(&oldest);
            }
            let status = ImportStatus { id, total_bytes: csv.len() as u64, ..ImportStatus::default() };
            imports.insert(id, (who.account_id.0, status));
        }
        tokio::spawn(async move {
            let outcome = app.run_import(id, &who, &csv).await;
            app.update_import(id, |s| {
                s.done = true;
                if let Err(e) = outcome {
                    s.failed = Some(e.to_string());
                }
            });
        });
        Ok(id)
    }

    fn update_import(&self, id: u64, f: impl FnOnce(&mut ImportStatus)) {
        if let Some((_, s)) = self.accreditations.imports.lock().unwrap_or_else(|e| e.into_inner()).get_mut(&id) {
            f(s);
        }
    }

    /// An import's progress and report, for the account that started it (or staff).
    pub fn import_status(&self, who: &Principal, id: u64) -> Option<ImportStatus> {
        let imports = self.accreditations.imports.lock().unwrap_or_else(|e| e.into_inner());
        let (owner, status) = imports.get(&id)?;
        let staff = matches!(who.role, Role::Operator | Role::Accreditation);
        (staff || *owner == who.account_id.0).then(|| status.clone())
    }

    /// The import itself (also run directly by the benchmark and tests): returns its status.
    pub async fn run_import(&self, id: u64, who: &Principal, csv: &[u8]) -> Result<ImportStatus> {
        let ctx = self.parse_context();
        let report = import_csv(csv, &ctx, |p: Progress| {
            self.update_import(id, |s| {
                s.records = p.records;
                s.bytes = p.bytes;
            })
        })
        .map_err(|e| AppError::invalid("file", e.to_string()))?;
        let orgs = self.organisations().await?;
        let staff = matches!(who.role, Role::Operator | Role::Accreditation);
        let allowed: Vec<&OrgRecord> =
            orgs.iter().filter(|o| staff || o.officers.contains(&who.account_id.0)).collect();
        let mut status = ImportStatus {
            id,
            records: report.records,
            total_bytes: csv.len() as u64,
            bytes: csv.len() as u64,
            rejected: report.rejected,
            errors: report.errors.iter().take(MAX_REPORTED_ERRORS).map(ImportLineError::from).collect(),
            ..ImportStatus::default()
        };
        let quotas = Self::quotas(&orgs);
        let mut pending: Vec<(u64, NewAccreditation)> = Vec::with_capacity(IMPORT_CHUNK);
        let mut lines = report.applications.iter().peekable();
        while let Some(imported) = lines.next() {
            let org = imported.application.organisation().to_string();
            if !allowed.iter().any(|o| o.code == org) {
                status.rejected += 1;
                if status.errors.len() < MAX_REPORTED_ERRORS {
                    status.errors.push(ImportLineError {
                        line: imported.line,
                        column: Some("organisation".into()),
                        message: format!("`{org}` is not an organisation you are an officer of"),
                    });
                }
            } else {
                pending.push((imported.line, self.new_row(who, &imported.application, None)?));
            }
            if pending.len() == IMPORT_CHUNK || (lines.peek().is_none() && !pending.is_empty()) {
                let rows: Vec<NewAccreditation> = pending.iter().map(|(_, r)| r.clone()).collect();
                let outcomes = self.store.add_accreditations(&rows, &quotas).await?;
                for ((line, row), outcome) in pending.drain(..).zip(outcomes) {
                    let message = match outcome {
                        Added::Added(_) => {
                            status.added += 1;
                            continue;
                        }
                        Added::Duplicate(other) => {
                            status.duplicates += 1;
                            format!(
                                "the same person (name, date of birth, document) already applied: application {other}"
                            )
                        }
                        Added::OverQuota => {
                            status.over_quota += 1;
                            format!("{}'s quota for category {} is full", row.org, row.category)
                        }
                    };
                    if status.errors.len() < MAX_REPORTED_ERRORS {
                        status.errors.push(ImportLineError { line, column: None, message });
                    }
                }
                let s = status.clone();
                self.update_import(id, move |st| {
                    st.added = s.added;
                    st.duplicates = s.duplicates;
                    st.over_quota = s.over_quota;
                    st.rejected = s.rejected;
                    st.errors = s.errors;
                });
            }
        }
        status.errors.sort_by_key(|e| e.line);
        let s = status.clone();
        self.update_import(id, move |st| *st = ImportStatus { done: st.done, ..s });
        Ok(status)
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

    /// One pass of the screening loop: sends submitted and appealed applications to the
    /// authority in batches, and records the answers of batches that are ready. Rows left in
    /// `screening` by a node that stopped (their batch lost with it) are sent again.
    pub async fn screening_pass(&self) -> Result<usize> {
        let now = self.now().0;
        let mut recorded = 0;
        // Answers first: they free room for new batches.
        let ready: Vec<Vec<(PersonId, tessera_accreditation::vetting::screening::ScreeningAnswer)>> = {
            let mut sandbox = self.accreditations.sandbox.lock().unwrap_or_else(|e| e.into_inner());
            let mut batches = self.accreditations.batches.lock().unwrap_or_else(|e| e.into_inner());
            let mut ready = Vec::new();
            batches.retain(|(b, _)| match sandbox.poll(now, *b) {
                Ok(Poll::Ready(answers)) => {
                    ready.push(answers);
                    false
                }
                Ok(Poll::Pending { .. }) => true,
                Err(_) => false,
            });
            ready
        };
        for answers in ready {
            for (person, answer) in answers {
                if self.record_answer(person.0 as i64, &answer).await.is_ok() {
                    recorded += 1;
                }
            }
        }
        let in_flight: std::collections::HashSet<i64> = {
            let batches = self.accreditations.batches.lock().unwrap_or_else(|e| e.into_inner());
            batches.iter().flat_map(|(_, p)| p.iter().copied()).collect()
        };
        for state in [State::Submitted, State::Appealed, State::Screening] {
            let mut after = 0;
            loop {
                let q = AccreditationQuery {
                    org: None,
                    state: Some(state.as_str().into()),
                    after,
                    limit: SCREENING_BATCH as i64,
                };
                let rows = self.store.accreditations(&q).await?;
                let Some(last) = rows.last() else { break };
                after = last.id;
                let mut requests = Vec::new();
                let mut people = Vec::new();
                // A row in `screening` not in this node's batches was sent by a node that
                // stopped (or by another node, still waiting): sent again only once the
                // authority's longest delay has passed twice.
                let stale =
                    |r: &&StoredAccreditation| state != State::Screening || r.updated_at.0 < now - RESEND_AFTER_SECS;
                for row in rows.iter().filter(|r| !in_flight.contains(&r.id)).filter(stale) {
                    let full = self.stored(row.id).await?;
                    let appeal = state == State::Appealed;
                    if state != State::Screening
                        && self.act(row.id, Action::StartScreening, Actor::System, "").await.is_err()
                    {
                        continue;
                    }
                    let a = self.application_of(&full)?;
                    requests.push(ScreeningRequest::for_application(PersonId(row.id as u64), &a, appeal));
                    people.push(row.id);
                }
                if !requests.is_empty() {
                    let mut sandbox = self.accreditations.sandbox.lock().unwrap_or_else(|e| e.into_inner());
                    match sandbox.submit_batch(now, &requests) {
                        Ok(b) => {
                            self.accreditations.batches.lock().unwrap_or_else(|e| e.into_inner()).push((b, people))
                        }
                        // The authority is full: what was not sent stays in `screening` and
                        // goes in a later pass.
                        Err(e) => {
                            tracing::warn!(error = %e, "screening authority refused a batch");
                            return Ok(recorded);
                        }
                    }
                }
                if rows.len() < SCREENING_BATCH {
                    break;
                }
            }
        }
        Ok(recorded)
    }

    async fn record_answer(
        &self,
        id: i64,
        answer: &tessera_accreditation::vetting::screening::ScreeningAnswer,
    ) -> Result<State> {
        let waited = std::sync::Mutex::new(None);
        let state = self
            .move_vetting(id, |v, now| {
                // From the latest sending to the authority to its answer: the screening time
                // the console shows.
                let sent = v.audit().iter().rev().find(|e| e.action == Action::StartScreening).map(|e| e.at);
                *waited.lock().unwrap_or_else(|e| e.into_inner()) = sent.map(|at| (now - at).max(0));
                v.record_answer(answer, now)
            })
            .await?;
        if let Some(secs) = waited.into_inner().unwrap_or_else(|e| e.into_inner()) {
            let mut times = self.accreditations.screening_secs.lock().unwrap_or_else(|e| e.into_inner());
            if times.len() == SCREENING_SAMPLES {
                times.pop_front();
            }
            times.push_back(secs);
        }
        Ok(state)
    }

    /// Issues the person's card (staff): the first, or a reprint that voids every earlier
    /// one. Only an approved application with screening passed gets one.
    pub async fn issue_badge(&self, who: &Principal, id: i64, reprint: bool) -> Result<IssuedBadge> {
        staff(who)?;
        for _ in 0..CAS_RETRIES {
            let row = self.stored(id).await?;
            let v = self.vetting_of(&row)?;
            let clearance: Clearance = v.clearance().map_err(|e| AppError::Conflict(format!("no badge: {e}")))?;
            if row.serial > 0 && !reprint {
                return Err(AppError::Conflict(format!(
                    "a card was already issued (card {}); a lost card is reprinted, which voids it",
                    row.serial
                )));
            }
            let serial = row.serial + 1;
            let u = AccreditationUpdate {
                id,
                version: row.version,
                state: row.state.clone(),
                vetting: row.vetting.clone(),
                serial,
                photo: None,
                sealed: None,
                now: self.now(),
            };
            if !self.store.update_accreditation(&u).await? {
                continue;
            }
            if reprint {
                self.forget_gate_list();
            }
            return self.badge_for(who, &StoredAccreditation { serial, ..row }, &clearance);
        }
        Err(AppError::Conflict(format!("application {id} keeps changing; try again")))
    }

    /// The current card of an application (staff, or the holder's officer): for printing
    /// again the same card, not a new one.
    pub async fn current_badge(&self, who: &Principal, id: i64) -> Result<IssuedBadge> {
        staff(who)?;
        let row = self.stored(id).await?;
        let v = self.vetting_of(&row)?;
        let clearance = v.clearance().map_err(|e| AppError::Conflict(format!("no badge: {e}")))?;
        if row.serial == 0 {
            return Err(AppError::Conflict("no card issued yet".into()));
        }
        self.badge_for(who, &row, &clearance)
    }

    /// The printable card of the current badge (staff): a PDF at ID-1 size with the photo and
    /// the QR code gates read.
    pub async fn badge_card_pdf(&self, who: &Principal, id: i64) -> Result<Vec<u8>> {
        let b = self.current_badge(who, id).await?;
        let offset = self
            .config
            .event_zone
            .tz()
            .to_offset(jiff::Timestamp::from_second(b.badge.valid_from).unwrap_or(jiff::Timestamp::UNIX_EPOCH))
            .seconds();
        let offset = time::UtcOffset::from_whole_seconds(offset).unwrap_or(time::UtcOffset::UTC);
        let face = tessera_accreditation::CardFace::from_badge(&b.badge, &b.function, offset);
        tessera_accreditation::card_pdf(&face, b.photo.as_ref(), &b.text).map_err(|e| AppError::Internal(e.to_string()))
    }

    fn badge_for(&self, who: &Principal, row: &StoredAccreditation, clearance: &Clearance) -> Result<IssuedBadge> {
        self.personal_data_read(who, Some(row.id as u64), "accreditation badge");
        let a = self.application_of(row)?;
        let photo = match &row.photo {
            Some(sealed) => {
                let jpeg = self.open_sealed(b"photo", sealed)?;
                Some(
                    tessera_accreditation::photo::prepare(&jpeg, &self.accreditations.photo_policy)
                        .map_err(|e| AppError::Internal(format!("stored photo: {e}")))?,
                )
            }
            None => None,
        };
        let digest = photo.as_ref().map_or([0u8; 32], |p| p.sha256);
        let (from, until) =
            self.accreditations.validity.unwrap_or((self.now().0 - 86_400, self.now().0 + 100 * 86_400));
        let mut badge = tessera_accreditation::Badge::for_application(
            BADGE_KEY_ID,
            PersonId(row.id as u64),
            &a,
            from,
            until,
            digest,
        );
        badge.serial =
            u16::try_from(row.serial - 1).map_err(|_| AppError::Conflict("card serials exhausted".into()))?;
        let signed = self.badge_signer().sign(&badge, clearance).map_err(|e| AppError::Internal(e.to_string()))?;
        Ok(IssuedBadge {
            person: row.id,
            serial: badge.serial,
            text: signed.to_text(),
            badge,
            photo,
            function: a.function().as_str().to_owned(),
        })
    }

    /// The gates' revocation list: every revoked person, and every person whose earlier cards
    /// a reprint voided. Read from the store at most once a second (every gate asks four
    /// times a second); a change reaches the gates within that second and their next sync.
    pub async fn badge_revocations(&self) -> Result<Arc<tessera_wire::BadgeRevocations>> {
        if let Some((at, list)) = &*self.accreditations.gate_list.lock().unwrap_or_else(|e| e.into_inner()) {
            if at.elapsed() < std::time::Duration::from_secs(1) {
                return Ok(list.clone());
            }
        }
        let (revoked, reprinted) = self.store.badge_revocations().await?;
        let list = Arc::new(tessera_wire::BadgeRevocations::new(
            revoked.into_iter().map(|p| p as u64).collect(),
            reprinted.into_iter().map(|(p, cards)| (p as u64, u16::try_from(cards - 1).unwrap_or(u16::MAX))).collect(),
        ));
        *self.accreditations.gate_list.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((std::time::Instant::now(), list.clone()));
        Ok(list)
    }

    /// Makes the next read of the gates' list go to the store: a revocation made on this node
    /// reaches its gates at their next sync (other nodes' within their second).
    fn forget_gate_list(&self) {
        *self.accreditations.gate_list.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// The badge key gates trust, and the revocations as the bundle carries them.
    pub async fn gate_badges(&self) -> Result<tessera_gate::bundle::BundleBadges> {
        Ok(tessera_gate::bundle::BundleBadges {
            key_id: BADGE_KEY_ID,
            public_key: hex::encode(self.badge_signer().public().as_bytes()),
            revocations: (*self.badge_revocations().await?).clone(),
        })
    }

    /// Counts by state and by organisation against its quotas.
    pub async fn accreditation_figures(&self, who: &Principal) -> Result<AccreditationFigures> {
        vetting_officer(who)?;
        let counts = self.store.accreditation_counts().await?;
        let orgs = self.organisations().await?;
        let mut f = AccreditationFigures {
            screening_batches_open: self.accreditations.batches.lock().unwrap_or_else(|e| e.into_inner()).len(),
            desks: self.accreditations.desks.lock().unwrap_or_else(|e| e.into_inner()).values().cloned().collect(),
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

    // --- collection desks ----------------------------------------------------------------

    /// The desk's list of cards to hand over (desk operators and staff): signed by the badge
    /// key, encrypted under the desk's key; nothing in it reads without that key.
    pub async fn desk_list(&self, who: &Principal, desk: &str) -> Result<Vec<u8>> {
        if !matches!(who.role, Role::Operator | Role::Accreditation | Role::Desk) {
            return Err(AppError::Forbidden("collection desks and accreditation staff only".into()));
        }
        let desk = DeskCode::parse(desk).map_err(|e| AppError::invalid("desk", e.to_string()))?;
        let mut entries = Vec::new();
        let mut after = 0;
        loop {
            let q = AccreditationQuery { org: None, state: Some("approved".into()), after, limit: 5_000 };
            let rows = self.store.accreditations(&q).await?;
            let Some(last) = rows.last() else { break };
            after = last.id;
            for r in rows.iter().filter(|r| r.serial > 0) {
                let a = self.application_of(r)?;
                entries.push(tessera_accreditation::desk::ListEntry::for_application(
                    PersonId(r.id as u64),
                    (r.serial - 1) as u16,
                    &a,
                    [0; 32],
                ));
            }
        }
        self.personal_data_read(who, None, &format!("desk list {desk} ({} people)", entries.len()));
        let (now, people) = (self.now().0, entries.len() as u64);
        self.touch_desk(&desk.to_string(), |d| {
            d.list_at = Some(now);
            d.list_people = people;
        });
        // Desks trust the badge key: one public key for cards and lists.
        let signer = ed25519_dalek::SigningKey::from_bytes(&self.badge_key().secret_bytes());
        tessera_accreditation::desk::build(
            &desk,
            self.now().0,
            &entries,
            &signer,
            &self.desk_key(&desk),
            &mut rand::rngs::OsRng,
        )
        .map_err(|e| AppError::Internal(e.to_string()))
    }

    /// Cards handed over at a desk (online, or an offline desk's sync): each card once; a card
    /// since revoked is kept and flagged for staff.
    pub async fn record_hand_overs(&self, who: &Principal, desk: &str, cards: &[(i64, i64, i64)]) -> Result<u64> {
        if !matches!(who.role, Role::Operator | Role::Accreditation | Role::Desk) {
            return Err(AppError::Forbidden("collection desks and accreditation staff only".into()));
        }
        let desk = DeskCode::parse(desk).map_err(|e| AppError::invalid("desk", e.to_string()))?;
        if cards.len() > 10_000 {
            return Err(AppError::invalid("cards", "at most 10,000 hand-overs at once"));
        }
        let mut rows = Vec::with_capacity(cards.len());
        for &(person, serial, at) in cards {
            let row = self.store.accreditation(person).await?;
            let flagged = match &row {
                Some(r) => r.state != "approved" || r.serial != serial + 1,
                None => return Err(AppError::invalid("cards", format!("no application {person}"))),
            };
            rows.push(StoredHandOver {
                person,
                serial,
                desk: desk.to_string(),
                at: Timestamp(at),
                by: who.email.as_str().to_owned(),
                flagged,
            });
        }
        let new = self.store.record_hand_overs(&rows).await?;
        self.touch_desk(&desk.to_string(), |d| d.handed_over += new);
        Ok(new)
    }

    fn touch_desk(&self, desk: &str, f: impl FnOnce(&mut DeskStatus)) {
        let mut desks = self.accreditations.desks.lock().unwrap_or_else(|e| e.into_inner());
        if desks.len() >= MAX_DESKS && !desks.contains_key(desk) {
            return;
        }
        let d =
            desks.entry(desk.to_owned()).or_insert_with(|| DeskStatus { desk: desk.to_owned(), ..Default::default() });
        d.last_contact = self.now().0;
        f(d);
    }

    /// Switches a desk to working from its offline list (or back), audited: the desk itself
    /// or accreditation staff, in one action.
    pub fn set_desk_mode(&self, who: &Principal, desk: &str, offline: bool) -> Result<DeskStatus> {
        if !matches!(who.role, Role::Operator | Role::Accreditation | Role::Desk) {
            return Err(AppError::Forbidden("collection desks and accreditation staff only".into()));
        }
        let code = DeskCode::parse(desk).map_err(|e| AppError::invalid("desk", e.to_string()))?;
        let (by, now) = (who.email.as_str().to_owned(), self.now().0);
        self.touch_desk(&code.to_string(), |d| {
            d.offline_mode = offline;
            d.switched_by = Some(by);
            d.switched_at = Some(now);
        });
        self.audit(
            who,
            format!("desk {code} switched {}", if offline { "to its offline list" } else { "back online" }),
        );
        let desks = self.accreditations.desks.lock().unwrap_or_else(|e| e.into_inner());
        desks.get(&code.to_string()).cloned().ok_or_else(|| AppError::Conflict("too many desks known".into()))
    }
}

/// The screening loop: a pass every few seconds until shutdown.
pub async fn screening_loop(app: App, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    loop {
        if let Err(e) = app.screening_pass().await {
            tracing::warn!(error = %e, "screening pass failed");
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(2)) => {}
            _ = shutdown.changed() => break,
        }
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
