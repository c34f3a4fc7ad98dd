//! Matching runs and their offers, coordinators' overrides, the roster and the console.

use super::{at, constraint_words, coordinator, internal, OfferView};
use crate::auth::Principal;
use crate::{App, AppError, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tessera_store::{
    NewVolunteerOffer, NewVolunteerOverride, NewVolunteerRun, StoredVolunteerOffer, StoredVolunteerOverride,
    VolunteerCounts,
};
use tessera_volunteers::{
    next_run, ApplicantId, Audit, BucketKey, Fairness, Input, MissionCode, Offer, Override, OverrideAction,
    OverrideOutcome, Shift, ShiftId, Stats, Unmatched, VenueId, Volunteer,
};
use time::{Duration, PrimitiveDateTime, Time};

/// Unmatched applicants kept with a run, with their explanations (the rest are counted).
const MAX_UNMATCHED_KEPT: usize = 10_000;
/// Offers and overrides the console lists.
const CONSOLE_LIST: usize = 100;
/// A group smaller than this is left out of the impact ratios (too few to say anything).
const MIN_GROUP: u32 = 20;

/// A bucket left with open positions, and why.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UnfilledView {
    pub mission: String,
    pub venue: String,
    pub open: u32,
    pub candidates: u32,
    /// In words: no feasible candidate and the constraints that ruled applicants out, or
    /// candidates all placed elsewhere with a higher total score.
    pub reason: String,
}

/// What a run found, as the console and the run's answer show it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunSummary {
    pub stats: Stats,
    pub offers_made: usize,
    pub deadline: i64,
    pub unfilled: Vec<UnfilledView>,
    /// Each override the run carried out or refused, with the constraints named.
    pub overrides: Vec<(i64, String)>,
    pub fairness: Fairness,
    /// Lowest selection rate over highest, per grouping (`None`: fewer than two groups of 20).
    pub impact_ratios: BTreeMap<String, Option<f64>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunReport {
    pub run: i64,
    pub at: i64,
    pub by: String,
    pub summary: RunSummary,
}

/// What a run keeps of its proposals: every proposal and the first unmatched applicants, each
/// with its explanation; `BucketId`s index `buckets`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Explained {
    buckets: Vec<BucketKey>,
    proposals: Vec<tessera_volunteers::Proposal>,
    unmatched: Vec<Unmatched>,
    unmatched_total: usize,
}

/// A coordinator's override as asked.
#[derive(Debug, Clone, Deserialize)]
pub struct OverrideRequest {
    pub application: i64,
    /// `force` (assign to mission at venue), `forbid` (never there) or `forbid_all`.
    pub action: String,
    pub mission: Option<String>,
    pub venue: Option<String>,
    pub reason: String,
}

/// Positions per mission or per venue: needed (the buckets' peaks), accepted, outstanding.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FillRow {
    pub key: String,
    pub name: String,
    pub positions: u32,
    pub accepted: u32,
    pub outstanding: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConsoleView {
    pub counts: VolunteerCounts,
    pub latest_run: Option<RunReport>,
    pub by_mission: Vec<FillRow>,
    pub by_venue: Vec<FillRow>,
    pub outstanding: Vec<OfferView>,
    pub overrides: Vec<StoredVolunteerOverride>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShiftLine {
    pub shift: u32,
    pub mission: String,
    pub start: String,
    pub end: String,
    pub needed: u32,
    pub volunteers: Vec<u32>,
}

/// One venue desk's list for one day.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeskList {
    pub venue: String,
    pub day: String,
    pub shifts: Vec<ShiftLine>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RosterReport {
    pub at: i64,
    pub volunteers: usize,
    pub shifts: usize,
    pub assignments: usize,
    pub unfilled_shifts: usize,
    pub missing: u32,
    pub breaches: usize,
    pub desks: Vec<DeskList>,
}

fn bucket_key(mission: &str, venue: &str) -> Result<BucketKey> {
    Ok(BucketKey {
        mission: MissionCode::new(mission).map_err(|e| AppError::invalid("mission", e.to_string()))?,
        venue: VenueId::new(venue).map_err(|e| AppError::invalid("venue", e.to_string()))?,
    })
}

fn applicant_id(id: i64) -> Result<ApplicantId> {
    u32::try_from(id).map(ApplicantId).map_err(|_| AppError::NotFound(format!("application {id}")))
}

/// The stored offers as the domain's, each in the state it was answered into.
fn domain_offers(stored: &[StoredVolunteerOffer]) -> Result<Vec<Offer>> {
    let bad = |o: &StoredVolunteerOffer| AppError::Internal(format!("stored offer {} does not replay", o.id));
    stored
        .iter()
        .map(|o| {
            let mut offer = Offer::new(
                applicant_id(o.application)?,
                bucket_key(&o.mission, &o.venue)?,
                at(o.offered_at),
                at(o.deadline),
            )
            .map_err(|_| bad(o))?;
            let answered = at(o.answered_at.unwrap_or(o.offered_at));
            match o.state.as_str() {
                "accepted" => offer.accept(answered).map_err(|_| bad(o))?,
                "refused" => offer.refuse(answered).map_err(|_| bad(o))?,
                "withdrawn" => offer
                    .withdraw(Audit { by: "coordinator".into(), reason: "withdrawn".into(), at: answered })
                    .map_err(|_| bad(o))?,
                _ => {}
            }
            Ok(offer)
        })
        .collect()
}

/// The overrides a run applies: bans always, forced assignments until a run has used them.
fn standing(stored: &[StoredVolunteerOverride]) -> Result<Vec<(i64, Override)>> {
    let mut out = Vec::new();
    for o in stored {
        let action: OverrideAction = serde_json::from_str(&o.action).map_err(internal("stored override"))?;
        if matches!(action, OverrideAction::ForceAssign(_)) && o.run.is_some() {
            continue;
        }
        let audit = Audit { by: o.by.clone(), reason: o.reason.clone(), at: at(o.at) };
        out.push((o.id, Override { applicant: applicant_id(o.application)?, action, audit }));
    }
    Ok(out)
}

fn unfilled_reason(u: &tessera_volunteers::Unfilled) -> String {
    if u.candidates > 0 {
        return format!("{} candidates, all placed elsewhere with a higher total score", u.candidates);
    }
    let mut why: Vec<(u32, String)> = u
        .ruled_out
        .iter()
        .map(|(k, n)| (*n, k.map_or_else(|| "feasible but beyond their arc limit".to_owned(), |k| format!("{k:?}"))))
        .collect();
    why.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    let words: Vec<String> = why.iter().take(3).map(|(n, k)| format!("{k}: {n}")).collect();
    format!("no feasible candidate ({})", if words.is_empty() { "no applicant".into() } else { words.join(", ") })
}

impl App {
    /// A matching run (coordinators): every stored application against the programme, the
    /// offers' constraints (accepted and outstanding offers hold their positions, refusals and
    /// expiries free them and keep the applicant away) and the standing overrides; saves the
    /// run and makes one offer per proposal, in one transaction, unless another run was saved
    /// meanwhile.
    pub async fn run_volunteer_matching(&self, who: &Principal) -> Result<RunReport> {
        coordinator(who)?;
        let programme = self.volunteer_programme().await?;
        if self.store.volunteer_programme().await?.is_none() {
            let json = serde_json::to_string(&programme).map_err(internal("programme"))?;
            self.store.put_volunteer_programme(&json, self.now()).await?;
        }
        let after = self.store.latest_volunteer_run().await?.map(|r| r.id);
        let applicants = self.all_applicants().await?;
        let now = self.now();
        let offers = domain_offers(&self.store.volunteer_offers(None).await?)?;
        let constraints = next_run(&offers, at(now), programme.refusal_scope);
        let overrides = standing(&self.store.volunteer_overrides().await?)?;
        let input = Input {
            policy: programme.policy.clone(),
            missions: programme.missions.clone(),
            venues: programme.venues.clone(),
            positions: programme.positions.clone(),
            applicants,
            fixed: constraints.fixed,
            exclusions: constraints.exclusions,
            overrides: overrides.iter().map(|(_, o)| o.clone()).collect(),
        };
        // The flow is CPU work of seconds at full scale: off the async threads.
        let (input, output) = tokio::task::spawn_blocking(move || {
            let out = tessera_volunteers::run(&input);
            (input, out)
        })
        .await
        .map_err(|e| AppError::Internal(format!("matching task: {e}")))?;
        let output = output.map_err(|e| AppError::Conflict(format!("the programme cannot be matched: {e}")))?;
        let key_of = |b: tessera_volunteers::BucketId| output.buckets.get(b.0 as usize).map(|f| f.key.clone());

        let deadline = now.plus_secs(i64::from(programme.offer_days) * 86_400);
        let offers = output
            .proposals
            .iter()
            .filter_map(|p| {
                let key = key_of(p.bucket)?;
                Some(NewVolunteerOffer {
                    application: i64::from(p.applicant.0),
                    mission: key.mission.to_string(),
                    venue: key.venue.to_string(),
                    deadline,
                })
            })
            .collect::<Vec<_>>();
        let mut outcomes = Vec::new();
        let mut used = Vec::new();
        for ((id, o), outcome) in overrides.iter().zip(&output.overrides) {
            let words = match outcome {
                OverrideOutcome::Applied => "applied".to_owned(),
                OverrideOutcome::Refused(c) => {
                    format!("refused: {}", c.iter().map(constraint_words).collect::<Vec<_>>().join("; "))
                }
            };
            // A forced assignment is tried by one run: carried out, or refused with its reason.
            if matches!(o.action, OverrideAction::ForceAssign(_)) {
                used.push(*id);
            }
            outcomes.push((*id, words));
        }
        let f = &output.fairness;
        let impact_ratios = [
            ("country", &f.by_country),
            ("gender", &f.by_gender),
            ("age_band", &f.by_age_band),
            ("disability", &f.by_disability),
        ]
        .into_iter()
        .map(|(k, g)| (k.to_owned(), Fairness::impact_ratio(g, MIN_GROUP)))
        .collect();
        let summary = RunSummary {
            stats: output.stats.clone(),
            offers_made: offers.len(),
            deadline: deadline.0,
            unfilled: output
                .unfilled
                .iter()
                .filter_map(|u| {
                    let key = key_of(u.bucket)?;
                    Some(UnfilledView {
                        mission: key.mission.to_string(),
                        venue: key.venue.to_string(),
                        open: u.open,
                        candidates: u.candidates,
                        reason: unfilled_reason(u),
                    })
                })
                .collect(),
            overrides: outcomes,
            fairness: output.fairness.clone(),
            impact_ratios,
        };
        let explained = Explained {
            buckets: output.buckets.iter().map(|b| b.key.clone()).collect(),
            unmatched_total: output.unmatched.len(),
            unmatched: output.unmatched.iter().take(MAX_UNMATCHED_KEPT).cloned().collect(),
            proposals: output.proposals,
        };
        drop(input);
        let by = who.email.to_string();
        let run = NewVolunteerRun {
            after,
            by: by.clone(),
            at: now,
            summary: serde_json::to_string(&summary).map_err(internal("run summary"))?,
            proposals: serde_json::to_string(&explained).map_err(internal("proposals"))?,
            offers,
            overrides_used: used,
        };
        let id = self.store.save_volunteer_run(&run).await?;
        tracing::info!(
            run = id,
            offers = summary.offers_made,
            matched = summary.stats.matched,
            "volunteer matching run saved"
        );
        Ok(RunReport { run: id, at: now.0, by, summary })
    }

    /// The latest run's report.
    pub async fn latest_volunteer_run(&self, who: &Principal) -> Result<Option<RunReport>> {
        coordinator(who)?;
        let Some(r) = self.store.latest_volunteer_run().await? else { return Ok(None) };
        let summary = serde_json::from_str(&r.summary).map_err(internal("stored run"))?;
        Ok(Some(RunReport { run: r.id, at: r.at.0, by: r.by, summary }))
    }

    /// Why an application was proposed where it was (the run that made its latest offer: the
    /// score term by term, the buckets not chosen and why), or left out by the latest run, as
    /// JSON; `None` if no run considered it.
    pub async fn volunteer_explanation(&self, who: &Principal, application: i64) -> Result<Option<serde_json::Value>> {
        coordinator(who)?;
        // The run that made the applicant's latest offer explains it; without an offer, the
        // latest run says why they were left out.
        let offered = self.store.volunteer_offers(Some(application)).await?.last().map(|o| o.run);
        let run = match offered {
            Some(id) => self.store.volunteer_run(id).await?,
            None => self.store.latest_volunteer_run().await?,
        };
        let Some(r) = run else { return Ok(None) };
        let e: Explained = serde_json::from_str(&r.proposals).map_err(internal("stored proposals"))?;
        let id = applicant_id(application)?;
        let name = |b: tessera_volunteers::BucketId| e.buckets.get(b.0 as usize).map(ToString::to_string);
        if let Some(p) = e.proposals.iter().find(|p| p.applicant == id) {
            return Ok(Some(serde_json::json!({
                "application": application,
                "proposed": name(p.bucket),
                "score": p.score,
                "total": p.score.total(),
                "origin": p.origin,
                "zones_to_request": p.zones_to_request,
                "not_chosen": p.not_chosen.iter().map(|n| serde_json::json!({"bucket": name(n.bucket), "reason": n.reason})).collect::<Vec<_>>(),
            })));
        }
        Ok(e.unmatched.iter().find(|u| u.applicant == id).map(|u| {
            serde_json::json!({
                "application": application,
                "proposed": null,
                "reason": u.reason,
                "not_chosen": u.not_chosen.iter().map(|n| serde_json::json!({"bucket": name(n.bucket), "reason": n.reason})).collect::<Vec<_>>(),
            })
        }))
    }

    /// A coordinator's override, with its reason, kept for the audit. A forced assignment is
    /// checked now against the hard constraints (as the next run will) and refused with the
    /// constraints it breaks named; nothing is stored then.
    pub async fn volunteer_override(&self, who: &Principal, req: &OverrideRequest) -> Result<StoredVolunteerOverride> {
        coordinator(who)?;
        let reason = req.reason.trim();
        if reason.is_empty() || reason.len() > 500 {
            return Err(AppError::invalid("reason", "an override needs a reason, at most 500 bytes"));
        }
        let key = || -> Result<BucketKey> {
            match (&req.mission, &req.venue) {
                (Some(m), Some(v)) => bucket_key(m, v),
                _ => Err(AppError::invalid("mission", "this action needs a mission and a venue")),
            }
        };
        let action = match req.action.as_str() {
            "force" => OverrideAction::ForceAssign(key()?),
            "forbid" => OverrideAction::Forbid(key()?),
            "forbid_all" => OverrideAction::ForbidAll,
            a => return Err(AppError::invalid("action", format!("{a:?} is not force, forbid or forbid_all"))),
        };
        let Some(row) = self.store.volunteer_application(req.application).await? else {
            return Err(AppError::NotFound(format!("application {}", req.application)));
        };
        let now = self.now();
        let by = who.email.to_string();
        let audit = Audit::new(&by, reason, at(now)).map_err(|e| AppError::invalid("reason", e.to_string()))?;
        if matches!(action, OverrideAction::ForceAssign(_)) {
            let programme = self.volunteer_programme().await?;
            let applicant = self.open_applicant(&row)?;
            let offers = domain_offers(&self.store.volunteer_offers(None).await?)?;
            let c = next_run(&offers, at(now), programme.refusal_scope);
            let mut overrides: Vec<Override> = standing(&self.store.volunteer_overrides().await?)?
                .into_iter()
                .map(|(_, o)| o)
                .filter(|o| o.applicant == applicant.id)
                .collect();
            overrides.push(Override { applicant: applicant.id, action: action.clone(), audit: audit.clone() });
            let id = applicant.id;
            // The run on this applicant alone, with every placed volunteer holding their
            // position: the override's outcome is the one the next full run would give.
            let input = Input {
                policy: programme.policy,
                missions: programme.missions,
                venues: programme.venues,
                positions: programme.positions,
                applicants: vec![applicant],
                fixed: c.fixed,
                exclusions: c.exclusions.into_iter().filter(|e| e.applicant == id).collect(),
                overrides,
            };
            let out = tessera_volunteers::run(&input)
                .map_err(|e| AppError::Conflict(format!("the programme cannot be matched: {e}")))?;
            if let Some(OverrideOutcome::Refused(broken)) = out.overrides.last() {
                return Err(AppError::invalid(
                    "override",
                    format!(
                        "refused: it breaks the hard constraint{} {}",
                        if broken.len() > 1 { "s" } else { "" },
                        broken.iter().map(constraint_words).collect::<Vec<_>>().join("; ")
                    ),
                ));
            }
        }
        let new = NewVolunteerOverride {
            application: row.id,
            action: serde_json::to_string(&action).map_err(internal("override"))?,
            by,
            reason: reason.to_owned(),
            at: now,
        };
        let id = self.store.add_volunteer_override(&new).await?;
        tracing::info!(override_id = id, application = row.id, by = %new.by, "volunteer override recorded");
        Ok(StoredVolunteerOverride {
            id,
            application: new.application,
            action: new.action,
            by: new.by,
            reason: new.reason,
            at: new.at,
            run: None,
        })
    }

    /// Rosters the accepted volunteers onto daily shifts under the rest rules (coordinators)
    /// and keeps the shift lists per venue and day.
    pub async fn build_volunteer_roster(&self, who: &Principal) -> Result<RosterReport> {
        coordinator(who)?;
        let programme = self.volunteer_programme().await?;
        let accepted: Vec<StoredVolunteerOffer> =
            self.store.volunteer_offers(None).await?.into_iter().filter(|o| o.state == "accepted").collect();
        let mut volunteers = Vec::with_capacity(accepted.len());
        for o in &accepted {
            let Some(row) = self.store.volunteer_application(o.application).await? else { continue };
            let a = self.open_applicant(&row)?;
            let bucket = bucket_key(&o.mission, &o.venue)?;
            volunteers.push(Volunteer {
                applicant: a.id,
                experienced: a.experience.contains(&bucket.mission),
                bucket,
                availability: a.availability,
            });
        }
        let start_time = Time::from_hms(programme.shift_start_hour, 0, 0).unwrap_or(Time::MIDNIGHT);
        let shifts: Vec<Shift> = programme
            .positions
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let start = PrimitiveDateTime::new(p.day, start_time);
                Shift {
                    id: ShiftId(i as u32),
                    bucket: BucketKey { mission: p.mission.clone(), venue: p.venue.clone() },
                    start,
                    // At the end of the calendar there is no later hour: the roster then
                    // refuses the shift (it ends before it starts) instead of panicking.
                    end: start.checked_add(Duration::hours(i64::from(programme.shift_hours))).unwrap_or(start),
                    needed: p.count,
                }
            })
            .collect();
        let roster = tessera_volunteers::roster(&shifts, &volunteers, &programme.rest)
            .map_err(|e| AppError::Conflict(format!("the roster cannot be built: {e}")))?;
        let by_id: BTreeMap<ShiftId, &Shift> = shifts.iter().map(|s| (s.id, s)).collect();
        let desks = roster
            .by_venue_day(&shifts)
            .into_iter()
            .map(|((venue, day), list)| DeskList {
                venue: venue.to_string(),
                day: day.to_string(),
                shifts: list
                    .into_iter()
                    .filter_map(|(id, people)| {
                        let s = by_id.get(&id)?;
                        Some(ShiftLine {
                            shift: id.0,
                            mission: s.bucket.mission.to_string(),
                            start: s.start.time().to_string(),
                            end: s.end.to_string(),
                            needed: s.needed,
                            volunteers: people.iter().map(|a| a.0).collect(),
                        })
                    })
                    .collect(),
            })
            .collect();
        let report = RosterReport {
            at: self.now().0,
            volunteers: volunteers.len(),
            shifts: shifts.len(),
            assignments: roster.assignments.len(),
            unfilled_shifts: roster.unfilled.len(),
            missing: roster.unfilled.iter().map(|u| u.missing).sum(),
            breaches: roster.breaches.len(),
            desks,
        };
        let json = serde_json::to_string(&report).map_err(internal("roster"))?;
        self.store.save_volunteer_roster(self.now(), &json).await?;
        Ok(report)
    }

    /// The latest roster kept.
    pub async fn volunteer_roster(&self, who: &Principal) -> Result<Option<RosterReport>> {
        coordinator(who)?;
        match self.store.volunteer_roster().await? {
            Some(r) => Ok(Some(serde_json::from_str(&r.json).map_err(internal("stored roster"))?)),
            None => Ok(None),
        }
    }

    /// The coordinators' console: counts, the latest run, positions filled per mission and
    /// venue (accepted and outstanding offers against the buckets' peaks), offers outstanding,
    /// overrides.
    pub async fn volunteer_console(&self, who: &Principal) -> Result<ConsoleView> {
        coordinator(who)?;
        let now = self.now();
        let programme = self.volunteer_programme().await?;
        let offers = self.store.volunteer_offers(None).await?;
        let mut by_mission: BTreeMap<String, FillRow> = BTreeMap::new();
        let mut by_venue: BTreeMap<String, FillRow> = BTreeMap::new();
        if let Ok(buckets) = tessera_volunteers::buckets(&programme.missions, &programme.venues, &programme.positions) {
            for b in &buckets {
                by_mission.entry(b.key.mission.to_string()).or_default().positions += b.capacity();
                by_venue.entry(b.key.venue.to_string()).or_default().positions += b.capacity();
            }
        }
        let mut outstanding = Vec::new();
        for o in &offers {
            let live = o.state == "offered" && now < o.deadline;
            for (map, k) in [(&mut by_mission, &o.mission), (&mut by_venue, &o.venue)] {
                let row = map.entry(k.clone()).or_default();
                row.accepted += u32::from(o.state == "accepted");
                row.outstanding += u32::from(live);
            }
            if live && outstanding.len() < CONSOLE_LIST {
                outstanding.push(self.offer_view(&programme, o));
            }
        }
        let rows = |map: BTreeMap<String, FillRow>, name: &dyn Fn(&str) -> Option<String>| {
            map.into_iter()
                .map(|(k, r)| FillRow { name: name(&k).unwrap_or_else(|| k.clone()), key: k, ..r })
                .collect::<Vec<_>>()
        };
        let mut overrides = self.store.volunteer_overrides().await?;
        let skip = overrides.len().saturating_sub(CONSOLE_LIST);
        overrides.drain(..skip);
        Ok(ConsoleView {
            counts: self.store.volunteer_counts(now).await?,
            latest_run: self.latest_volunteer_run(who).await?,
            by_mission: rows(by_mission, &|k| programme.mission(k).map(|m| m.name.clone())),
            by_venue: rows(by_venue, &|k| programme.venue(k).map(|v| v.name.clone())),
            outstanding,
            overrides,
        })
    }

    /// Offers as of now, all (coordinators).
    pub async fn volunteer_offers(&self, who: &Principal) -> Result<Vec<OfferView>> {
        coordinator(who)?;
        let programme = self.volunteer_programme().await?;
        Ok(self.store.volunteer_offers(None).await?.iter().map(|o| self.offer_view(&programme, o)).collect())
    }
}
