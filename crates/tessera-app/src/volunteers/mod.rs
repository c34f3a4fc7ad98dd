//! Volunteer use cases: the public application form and a bulk import, the programme
//! (missions, venues, positions, policy), matching runs with their offers, the applicants'
//! answers, coordinators' overrides and the roster. The rules are `tessera_volunteers`'s; this
//! module keeps their inputs and outputs in the store and seals applications before they get
//! there.
//!
//! An application holds personal data (date of birth, country, gender, disability,
//! languages, availability), so it is stored only sealed with ChaCha20-Poly1305 under a key
//! derived from the node's secret (as accreditation seals its applications, with a key of its
//! own); a run opens them all, matches, and stores what the domain says about them. Fairness
//! figures come from that run, not from columns in clear.

use crate::auth::Principal;
use crate::{App, AppError, Result};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use tessera_domain::Timestamp;
use tessera_store::{NewVolunteerApplication, Role, StoredVolunteerApplication, StoredVolunteerOffer};
use tessera_volunteers::{
    Accreditation, Applicant, ApplicantId, ApplicationProblem, Availability, Country, EligibilityFailure, Gender,
    HardConstraint, Language, Level, Mission, MissionCode, Policy, Position, RefusalScope, Region, RestRules,
    Screening, Skill, Venue, VenueId,
};
use time::{Date, OffsetDateTime};

mod matching;

pub use matching::{ConsoleView, DeskList, OverrideRequest, RosterReport, RunReport};

/// The purpose the volunteers' sealing key is derived for, and what a sealed application is
/// bound to.
const SEAL_KEY: &[u8] = b"tessera volunteers seal";
const SEAL_AAD: &[u8] = b"volunteer application";
/// Largest import, bytes (300,000 lines of about 400 bytes, with room).
pub const MAX_IMPORT_BYTES: usize = 160 << 20;
/// Line errors an import reports (the rest are counted).
const MAX_REPORTED_ERRORS: usize = 100;
/// Applications read from the store per page when a run opens them all.
const PAGE: i64 = 5_000;
/// Applications stored per transaction by an import: all or none is one transaction.
const MAX_IMPORT_LINES: usize = 400_000;

/// The programme a run matches against, kept whole as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Programme {
    pub policy: Policy,
    pub missions: Vec<Mission>,
    pub venues: Vec<Venue>,
    pub positions: Vec<Position>,
    /// Whether a refusal keeps the applicant out of that bucket only, or out of all.
    pub refusal_scope: RefusalScope,
    /// Days an applicant has to answer an offer.
    pub offer_days: u32,
    pub rest: RestRules,
    /// Shifts start at this hour (UTC) and last `shift_hours`.
    pub shift_start_hour: u8,
    pub shift_hours: u8,
}

impl Programme {
    /// The crate's synthetic Paris-shaped programme (75 missions at 60 venues) with
    /// `positions` positions. Pending screenings are let through: a self-applied applicant is
    /// screened after the offer, which is then conditional (as London 2012 did).
    pub fn demo(positions: u32) -> Self {
        let input = tessera_volunteers::generate(0x07e5_5e7a, 0, positions);
        let mut policy = input.policy;
        policy.allow_pending_screening = true;
        Programme {
            policy,
            missions: input.missions,
            venues: input.venues,
            positions: input.positions,
            refusal_scope: RefusalScope::Bucket,
            offer_days: 14,
            rest: RestRules { min_rest_hours: 11, max_consecutive_days: 6, max_days_total: 14 },
            shift_start_hour: 8,
            shift_hours: 8,
        }
    }

    fn mission(&self, code: &str) -> Option<&Mission> {
        self.missions.iter().find(|m| m.code.as_str() == code)
    }

    fn venue(&self, id: &str) -> Option<&Venue> {
        self.venues.iter().find(|v| v.id.as_str() == id)
    }
}

/// An applicant as sealed: the domain's `Applicant` without its id (the row's) and with its
/// languages as a list, since JSON map keys must be strings.
#[derive(Serialize, Deserialize)]
struct SealedApplicant {
    birth_date: Date,
    country: Country,
    home_region: Region,
    gender: Gender,
    disability: bool,
    languages: Vec<(Language, Level)>,
    skills: BTreeSet<Skill>,
    availability: Availability,
    preferred_missions: Vec<MissionCode>,
    preferred_venues: Vec<VenueId>,
    needs_lodging: bool,
    experience: BTreeSet<MissionCode>,
    screening: Screening,
    accreditation: Accreditation,
}

impl SealedApplicant {
    fn of(a: &Applicant) -> Self {
        SealedApplicant {
            birth_date: a.birth_date,
            country: a.country,
            home_region: a.home_region.clone(),
            gender: a.gender,
            disability: a.disability,
            languages: a.languages.iter().map(|(l, v)| (*l, *v)).collect(),
            skills: a.skills.clone(),
            availability: a.availability.clone(),
            preferred_missions: a.preferred_missions.clone(),
            preferred_venues: a.preferred_venues.clone(),
            needs_lodging: a.needs_lodging,
            experience: a.experience.clone(),
            screening: a.screening,
            accreditation: a.accreditation.clone(),
        }
    }

    fn into_applicant(self, id: ApplicantId) -> Applicant {
        Applicant {
            id,
            birth_date: self.birth_date,
            country: self.country,
            home_region: self.home_region,
            gender: self.gender,
            disability: self.disability,
            languages: self.languages.into_iter().collect(),
            skills: self.skills,
            availability: self.availability,
            preferred_missions: self.preferred_missions,
            preferred_venues: self.preferred_venues,
            needs_lodging: self.needs_lodging,
            experience: self.experience,
            screening: self.screening,
            accreditation: self.accreditation,
        }
    }
}

/// The public form, and one line of an import.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationForm {
    /// `YYYY-MM-DD`.
    pub birth_date: String,
    /// Two uppercase letters.
    pub country: String,
    pub home_region: String,
    /// `woman`, `man`, `other` or `not_said`.
    pub gender: String,
    #[serde(default)]
    pub disability: bool,
    /// Language code (two lowercase letters) → level (A1 to C2).
    pub languages: BTreeMap<String, String>,
    #[serde(default)]
    pub skills: Vec<String>,
    /// First and last day available, `YYYY-MM-DD`, both included.
    pub available_from: String,
    pub available_to: String,
    /// Mission codes, best first.
    #[serde(default)]
    pub preferred_missions: Vec<String>,
    /// Venue ids, best first.
    #[serde(default)]
    pub preferred_venues: Vec<String>,
    #[serde(default)]
    pub needs_lodging: bool,
    /// Mission codes served at earlier events.
    #[serde(default)]
    pub experience: Vec<String>,
    /// Import only (`passed`, `pending`, `failed`): the screening authority's answer, known to
    /// the office that imports. A self-applied application is `pending`.
    #[serde(default)]
    pub screening: Option<String>,
}

/// An offer as its applicant and the console see it, with its state as of now.
#[derive(Debug, Clone, Serialize)]
pub struct OfferView {
    pub id: i64,
    pub application: i64,
    pub mission: String,
    pub mission_name: String,
    pub venue: String,
    pub venue_name: String,
    pub offered_at: i64,
    pub deadline: i64,
    /// `offered`, `accepted`, `refused`, `withdrawn` or `expired`.
    pub state: String,
    pub answered_at: Option<i64>,
}

/// What an applicant sees of their own application.
#[derive(Debug, Clone, Serialize)]
pub struct MyApplication {
    pub id: i64,
    pub state: String,
    pub submitted_at: i64,
    pub offers: Vec<OfferView>,
}

/// An import's answer: how many applications were stored.
#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    pub stored: usize,
}

fn coordinator(who: &Principal) -> Result<()> {
    match who.role {
        Role::Operator | Role::Volunteers => Ok(()),
        _ => Err(AppError::Forbidden("volunteer coordinators only".into())),
    }
}

fn internal(what: &str) -> impl Fn(serde_json::Error) -> AppError + '_ {
    move |e| AppError::Internal(format!("{what}: {e}"))
}

fn at(t: Timestamp) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(t.0).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn date(field: &str, s: &str, errors: &mut Vec<String>) -> Option<Date> {
    let f = time::macros::format_description!("[year]-[month]-[day]");
    match Date::parse(s.trim(), &f) {
        Ok(d) => Some(d),
        Err(_) => {
            errors.push(format!("{field}: {s:?} is not a date YYYY-MM-DD"));
            None
        }
    }
}

/// Words for an eligibility failure, naming the rule.
fn eligibility_words(f: &EligibilityFailure) -> String {
    match f {
        EligibilityFailure::TooYoung { age, min, on } => format!("age: {age} on {on}, at least {min} required"),
        EligibilityFailure::NoAcceptedLanguage => "languages: none of the accepted languages at its level".into(),
        EligibilityFailure::NotEnoughConsecutiveDays { longest, required } => {
            format!("availability: {longest} consecutive days within the Games, at least {required} required")
        }
    }
}

fn problem_words(p: &ApplicationProblem) -> String {
    match p {
        ApplicationProblem::NoLanguage => "languages: at least one language is required".into(),
        ApplicationProblem::NoAvailability => "availability: at least one day is required".into(),
        ApplicationProblem::AvailableBeforeBirth(d) => format!("availability: {d} is before the date of birth"),
        ApplicationProblem::MissionRankedTwice(m) => format!("preferred_missions: {m} is ranked twice"),
        ApplicationProblem::VenueRankedTwice(v) => format!("preferred_venues: {v} is ranked twice"),
        ApplicationProblem::ZoneGrantedAndRequested(z) => {
            format!("zones: {} is both granted and requested", z.as_str())
        }
    }
}

/// Words for a hard constraint, naming it: what an override that breaks it is refused with.
pub fn constraint_words(c: &HardConstraint) -> String {
    match c {
        HardConstraint::Ineligible(f) => {
            format!("ineligible ({})", f.iter().map(eligibility_words).collect::<Vec<_>>().join("; "))
        }
        HardConstraint::Screening(s) => format!("screening {s:?}, not passed").to_lowercase(),
        HardConstraint::MissingSkill(s) => format!("missing required skill {}", s.as_str()),
        HardConstraint::MissingLanguage(l) => format!("missing required language {l}"),
        HardConstraint::Zone(z) => format!("accreditation zone {} neither granted nor requestable", z.as_str()),
        HardConstraint::Availability { covered, required } => {
            format!("availability: {covered} of the bucket's days, {required} required")
        }
        HardConstraint::NoOpenPosition => "no open position left in that bucket".into(),
        HardConstraint::Excluded => "excluded after a refused, expired or withdrawn offer there".into(),
        HardConstraint::Forbidden => "forbidden by a coordinator".into(),
        HardConstraint::AlreadyPlaced => "already placed (accepted or outstanding offer)".into(),
        HardConstraint::UnknownApplicant => "no such applicant".into(),
        HardConstraint::UnknownBucket => "no positions for that mission at that venue".into(),
    }
}

impl ApplicationForm {
    /// The applicant this form describes, or every fault in it (each naming its field).
    pub fn parse(&self, programme: &Programme, screening: Screening) -> std::result::Result<Applicant, Vec<String>> {
        let mut errors = Vec::new();
        let birth_date = date("birth_date", &self.birth_date, &mut errors);
        let country = Country::new(self.country.trim()).map_err(|e| errors.push(format!("country: {e}"))).ok();
        let home_region =
            Region::new(self.home_region.trim()).map_err(|e| errors.push(format!("home_region: {e}"))).ok();
        let gender = match self.gender.as_str() {
            "woman" => Some(Gender::Woman),
            "man" => Some(Gender::Man),
            "other" => Some(Gender::Other),
            "not_said" | "" => Some(Gender::NotSaid),
            g => {
                errors.push(format!("gender: {g:?} is not woman, man, other or not_said"));
                None
            }
        };
        let mut languages = BTreeMap::new();
        for (code, level) in &self.languages {
            match (Language::new(code), level.parse::<Level>()) {
                (Ok(l), Ok(v)) => {
                    languages.insert(l, v);
                }
                (Err(e), _) | (_, Err(e)) => errors.push(format!("languages: {e}")),
            }
        }
        let mut skills = BTreeSet::new();
        for s in &self.skills {
            match Skill::new(s) {
                Ok(s) => {
                    skills.insert(s);
                }
                Err(e) => errors.push(format!("skills: {e}")),
            }
        }
        let from = date("available_from", &self.available_from, &mut errors);
        let to = date("available_to", &self.available_to, &mut errors);
        if let (Some(f), Some(t)) = (from, to) {
            if t < f {
                errors.push(format!("available_to: {t} is before available_from {f}"));
            } else if (t - f).whole_days() > 366 {
                errors.push("available_to: more than a year after available_from".into());
            }
        }
        let mission = |field: &str, m: &String, errors: &mut Vec<String>| match MissionCode::new(m) {
            Ok(c) if programme.mission(c.as_str()).is_some() => Some(c),
            Ok(c) => {
                errors.push(format!("{field}: no mission {c}"));
                None
            }
            Err(e) => {
                errors.push(format!("{field}: {e}"));
                None
            }
        };
        let preferred_missions: Vec<MissionCode> =
            self.preferred_missions.iter().filter_map(|m| mission("preferred_missions", m, &mut errors)).collect();
        let experience: BTreeSet<MissionCode> =
            self.experience.iter().filter_map(|m| mission("experience", m, &mut errors)).collect();
        let mut preferred_venues = Vec::new();
        for v in &self.preferred_venues {
            match VenueId::new(v) {
                Ok(id) if programme.venue(id.as_str()).is_some() => preferred_venues.push(id),
                Ok(id) => errors.push(format!("preferred_venues: no venue {id}")),
                Err(e) => errors.push(format!("preferred_venues: {e}")),
            }
        }
        let screening = match self.screening.as_deref() {
            None => screening,
            Some("passed") => Screening::Passed,
            Some("pending") => Screening::Pending,
            Some("failed") => Screening::Failed,
            Some(s) => {
                errors.push(format!("screening: {s:?} is not passed, pending or failed"));
                screening
            }
        };
        let (Some(birth_date), Some(country), Some(home_region), Some(gender), Some(from), Some(to), true) =
            (birth_date, country, home_region, gender, from, to, errors.is_empty())
        else {
            return Err(errors);
        };
        let a = Applicant {
            id: ApplicantId(0),
            birth_date,
            country,
            home_region,
            gender,
            disability: self.disability,
            languages,
            skills,
            availability: Availability::range(from, to),
            preferred_missions,
            preferred_venues,
            needs_lodging: self.needs_lodging,
            experience,
            screening,
            accreditation: Accreditation::default(),
        };
        // Incomplete or contradictory, then the entry rules: every failure, each named.
        let mut errors: Vec<String> = a.problems().iter().map(problem_words).collect();
        errors.extend(programme.policy.eligibility.check(&a).iter().map(eligibility_words));
        if errors.is_empty() {
            Ok(a)
        } else {
            Err(errors)
        }
    }
}

impl App {
    /// Seals an application (`seal.rs`).
    fn seal_applicant(&self, a: &Applicant) -> Result<Vec<u8>> {
        let plain = serde_json::to_vec(&SealedApplicant::of(a)).map_err(internal("application"))?;
        Ok(self.seal_with(SEAL_KEY, SEAL_AAD, &plain))
    }

    /// Opens a stored application; its id is the row's.
    fn open_applicant(&self, row: &StoredVolunteerApplication) -> Result<Applicant> {
        let bad = || AppError::Internal(format!("volunteer application {} does not open", row.id));
        let plain = self.open_with(SEAL_KEY, SEAL_AAD, &row.sealed).ok_or_else(bad)?;
        let a: SealedApplicant = serde_json::from_slice(&plain).map_err(internal("stored application"))?;
        Ok(a.into_applicant(ApplicantId(u32::try_from(row.id).map_err(|_| bad())?)))
    }

    /// Every application, opened, in id order.
    async fn all_applicants(&self) -> Result<Vec<Applicant>> {
        let mut out = Vec::new();
        let mut after = 0;
        loop {
            let page = self.store.volunteer_applications(after, PAGE).await?;
            let Some(last) = page.last() else { break };
            after = last.id;
            for row in &page {
                out.push(self.open_applicant(row)?);
            }
        }
        Ok(out)
    }

    /// The programme as stored, or the demo's with 300 positions until a coordinator sets one.
    pub async fn volunteer_programme(&self) -> Result<Programme> {
        match self.store.volunteer_programme().await? {
            Some(json) => serde_json::from_str(&json).map_err(internal("stored programme")),
            None => Ok(Programme::demo(300)),
        }
    }

    /// Replaces the programme (coordinators). The domain checks it as a run would.
    pub async fn put_volunteer_programme(&self, who: &Principal, p: Programme) -> Result<Programme> {
        coordinator(who)?;
        tessera_volunteers::buckets(&p.missions, &p.venues, &p.positions)
            .map_err(|e| AppError::invalid("programme", e.to_string()))?;
        if !(1..=365).contains(&p.offer_days) || !(1..=24).contains(&p.shift_hours) || p.shift_start_hour > 23 {
            return Err(AppError::invalid(
                "programme",
                "offer_days must be 1 to 365, shift_hours 1 to 24 and shift_start_hour 0 to 23",
            ));
        }
        let json = serde_json::to_string(&p).map_err(internal("programme"))?;
        self.store.put_volunteer_programme(&json, self.now()).await?;
        Ok(p)
    }

    /// An account applies for itself through the public form: every fault and every failed
    /// entry rule is reported at once, and nothing is written unless there is none.
    pub async fn apply_to_volunteer(&self, who: &Principal, form: &ApplicationForm) -> Result<MyApplication> {
        if form.screening.is_some() {
            return Err(AppError::invalid("screening", "set by the screening authority, not by the applicant"));
        }
        let programme = self.volunteer_programme().await?;
        let a =
            form.parse(&programme, Screening::Pending).map_err(|e| AppError::invalid("application", e.join("; ")))?;
        if self.store.volunteer_application_of(who.account_id.0).await?.is_some() {
            return Err(AppError::Conflict("you have already applied".into()));
        }
        let row = NewVolunteerApplication {
            account: Some(who.account_id.0),
            sealed: self.seal_applicant(&a)?,
            submitted_at: self.now(),
        };
        self.store.add_volunteer_applications(&[row]).await.map_err(|e| match e {
            tessera_store::StoreError::Conflict(_) => AppError::Conflict("you have already applied".into()),
            e => e.into(),
        })?;
        self.my_volunteering(who).await?.ok_or_else(|| AppError::Internal("the application just stored is gone".into()))
    }

    /// The caller's application and offers, each offer's state as of now.
    pub async fn my_volunteering(&self, who: &Principal) -> Result<Option<MyApplication>> {
        let Some(row) = self.store.volunteer_application_of(who.account_id.0).await? else { return Ok(None) };
        let programme = self.volunteer_programme().await?;
        let offers = self.store.volunteer_offers(Some(row.id)).await?;
        Ok(Some(MyApplication {
            id: row.id,
            state: row.state,
            submitted_at: row.submitted_at.0,
            offers: offers.iter().map(|o| self.offer_view(&programme, o)).collect(),
        }))
    }

    fn offer_view(&self, p: &Programme, o: &StoredVolunteerOffer) -> OfferView {
        let state = if o.state == "offered" && self.now() >= o.deadline { "expired".into() } else { o.state.clone() };
        OfferView {
            id: o.id,
            application: o.application,
            mission_name: p.mission(&o.mission).map_or_else(|| o.mission.clone(), |m| m.name.clone()),
            venue_name: p.venue(&o.venue).map_or_else(|| o.venue.clone(), |v| v.name.clone()),
            mission: o.mission.clone(),
            venue: o.venue.clone(),
            offered_at: o.offered_at.0,
            deadline: o.deadline.0,
            state,
            answered_at: o.answered_at.map(|t| t.0),
        }
    }

    /// The applicant accepts or refuses their offer, before its deadline; of two answers at
    /// once, one wins (the store's compare-and-set) and the other is told the offer is answered.
    pub async fn answer_volunteer_offer(&self, who: &Principal, offer: i64, accept: bool) -> Result<OfferView> {
        let not_yours = || AppError::NotFound(format!("offer {offer}"));
        let Some(app) = self.store.volunteer_application_of(who.account_id.0).await? else { return Err(not_yours()) };
        let now = self.now();
        let changed = self.store.answer_volunteer_offer(offer, app.id, accept, now).await?;
        let programme = self.volunteer_programme().await?;
        let o = self.store.volunteer_offers(Some(app.id)).await?.into_iter().find(|o| o.id == offer);
        let Some(o) = o else { return Err(not_yours()) };
        if !changed {
            return Err(if o.state == "offered" && now >= o.deadline {
                AppError::Conflict("the deadline to answer this offer has passed".into())
            } else {
                AppError::Conflict(format!("this offer is already {}", o.state))
            });
        }
        Ok(self.offer_view(&programme, &o))
    }

    /// A coordinator records an answer given by other means (telephone, paper), for an
    /// applicant without an account (imported); the same compare-and-set as the applicant's.
    pub async fn record_volunteer_answer(&self, who: &Principal, offer: i64, accept: bool) -> Result<OfferView> {
        coordinator(who)?;
        let offers = self.store.volunteer_offers(None).await?;
        let Some(o) = offers.iter().find(|o| o.id == offer) else {
            return Err(AppError::NotFound(format!("offer {offer}")));
        };
        let now = self.now();
        if !self.store.answer_volunteer_offer(offer, o.application, accept, now).await? {
            return Err(AppError::Conflict(format!("offer {offer} is no longer open")));
        }
        let programme = self.volunteer_programme().await?;
        let o = self.store.volunteer_offers(Some(o.application)).await?.into_iter().find(|x| x.id == offer);
        let o = o.ok_or_else(|| AppError::NotFound(format!("offer {offer}")))?;
        Ok(self.offer_view(&programme, &o))
    }

    /// Imports applications from JSON lines (one [`ApplicationForm`] a line, blank lines
    /// skipped), all or none: any bad line and nothing is stored, every bad line reported
    /// (the first [`MAX_REPORTED_ERRORS`]) with its number.
    pub async fn import_volunteers(&self, who: &Principal, body: &str) -> Result<ImportReport> {
        coordinator(who)?;
        if body.len() > MAX_IMPORT_BYTES {
            return Err(AppError::invalid("import", format!("larger than {MAX_IMPORT_BYTES} bytes")));
        }
        let programme = self.volunteer_programme().await?;
        let mut applicants = Vec::new();
        let mut errors = Vec::new();
        let mut bad = 0usize;
        for (n, line) in body.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            if applicants.len() + bad >= MAX_IMPORT_LINES {
                return Err(AppError::invalid("import", format!("more than {MAX_IMPORT_LINES} lines")));
            }
            let parsed = serde_json::from_str::<ApplicationForm>(line)
                .map_err(|e| vec![e.to_string()])
                .and_then(|f| f.parse(&programme, Screening::Pending));
            match parsed {
                Ok(a) => applicants.push(a),
                Err(e) => {
                    bad += 1;
                    if errors.len() < MAX_REPORTED_ERRORS {
                        errors.push(format!("line {}: {}", n + 1, e.join("; ")));
                    }
                }
            }
        }
        if bad > 0 {
            let more = bad - errors.len();
            let tail = if more > 0 { format!(" (and {more} more bad lines)") } else { String::new() };
            return Err(AppError::invalid("import", format!("nothing imported: {}{tail}", errors.join(" | "))));
        }
        if applicants.is_empty() {
            return Err(AppError::invalid("import", "no application in the file"));
        }
        let stored = self.add_volunteer_applicants(who, &applicants).await?.len();
        Ok(ImportReport { stored })
    }

    /// Stores applicants already parsed (the import, the demo's and the bench's generated
    /// population) in one transaction; their ids are the rows'.
    pub async fn add_volunteer_applicants(&self, who: &Principal, applicants: &[Applicant]) -> Result<Vec<i64>> {
        coordinator(who)?;
        let now = self.now();
        let rows = applicants
            .iter()
            .map(|a| Ok(NewVolunteerApplication { account: None, sealed: self.seal_applicant(a)?, submitted_at: now }))
            .collect::<Result<Vec<_>>>()?;
        Ok(self.store.add_volunteer_applications(&rows).await?)
    }
}
