//! Volunteers end to end: bad applications refused with nothing written, a matching run and
//! its offers, a refusal refilled without moving accepted volunteers, an override that breaks
//! a hard constraint refused with the constraint named, two answers at once (one wins), an
//! import all or none, and the roster.

use super::*;
use std::collections::{BTreeMap, BTreeSet};
use tessera_app::volunteers::{ApplicationForm, OverrideRequest, Programme};
use tessera_volunteers::{
    EligibilityRules, Language, LanguageRequirement, Level, Mission, MissionCode, Period, Policy, Position,
    RefusalScope, Region, RestRules, Skill, Venue, VenueId, Weights,
};
use time::macros::date;

on_both_backends!(
    volunteers_apply_match_accept_and_refill,
    volunteers_override_breaking_a_hard_constraint_is_refused,
    volunteers_two_answers_at_once_one_wins,
    volunteers_import_is_all_or_none,
);

fn lang(code: &str) -> LanguageRequirement {
    LanguageRequirement { language: Language::new(code).unwrap(), min_level: Level::B1 }
}

/// Two missions at one venue: hosting (2 a day, no requirement) and medical (1 a day, first
/// aid required), ten days around T0 (2024-07-26).
fn programme() -> Programme {
    let mission = |code: &str, skill: Option<&str>| Mission {
        code: MissionCode::new(code).unwrap(),
        name: format!("mission {code}"),
        required_skills: skill.map(|s| Skill::new(s).unwrap()).into_iter().collect(),
        preferred_skills: BTreeSet::new(),
        required_languages: vec![],
        preferred_languages: vec![],
        zones: BTreeSet::new(),
        period: Period::Olympic,
    };
    let days = (0..10).map(|d| date!(2024 - 07 - 27) + time::Duration::days(d));
    let positions = days
        .flat_map(|day| {
            [("HOST", 2), ("MED", 1)].map(|(m, count)| Position {
                mission: MissionCode::new(m).unwrap(),
                venue: VenueId::new("V1").unwrap(),
                day,
                count,
            })
        })
        .collect();
    Programme {
        policy: Policy {
            eligibility: EligibilityRules {
                min_age: 18,
                age_on: date!(2024 - 01 - 01),
                languages: vec![lang("fr"), lang("en")],
                min_consecutive_days: 5,
                period: (date!(2024 - 07 - 20), date!(2024 - 08 - 11)),
            },
            min_days_covered: 5,
            allow_pending_screening: true,
            requestable_zones: BTreeSet::new(),
            preference_arcs: 8,
            scored_arcs: 8,
            coverage_factor: 3,
            weights: Weights::default(),
            explain_limit: 3,
        },
        missions: vec![mission("HOST", None), mission("MED", Some("first-aid"))],
        venues: vec![Venue {
            id: VenueId::new("V1").unwrap(),
            name: "Stade".into(),
            region: Region::new("IDF").unwrap(),
            lodging: false,
        }],
        positions,
        refusal_scope: RefusalScope::Bucket,
        offer_days: 7,
        rest: RestRules { min_rest_hours: 11, max_consecutive_days: 6, max_days_total: 10 },
        shift_start_hour: 8,
        shift_hours: 8,
    }
}

fn form() -> ApplicationForm {
    ApplicationForm {
        birth_date: "1990-05-17".into(),
        country: "FR".into(),
        home_region: "IDF".into(),
        gender: "woman".into(),
        languages: BTreeMap::from([("fr".into(), "C2".into())]),
        available_from: "2024-07-20".into(),
        available_to: "2024-08-11".into(),
        preferred_missions: vec!["HOST".into()],
        preferred_venues: vec!["V1".into()],
        ..ApplicationForm::default()
    }
}

async fn coordinator(t: &TestApp) -> Principal {
    let a = t
        .app
        .create_account("coord@example.org", "correct horse battery", "Coordinator", Role::Volunteers)
        .await
        .unwrap();
    Principal::of_account(&a)
}

async fn setup(t: &TestApp) -> Principal {
    let c = coordinator(t).await;
    t.app.put_volunteer_programme(&c, programme()).await.unwrap();
    c
}

fn invalid_message(e: AppError) -> String {
    match e {
        AppError::Invalid { message, .. } => message,
        other => panic!("not refused as invalid: {other:?}"),
    }
}

async fn volunteers_apply_match_accept_and_refill(t: TestApp) {
    let c = setup(&t).await;
    let (a, b, d) = (fan(&t, 1).await, fan(&t, 2).await, fan(&t, 3).await);

    // Incomplete and ineligible: every fault named, nothing written.
    let mut bad = form();
    bad.birth_date = "2010-02-01".into();
    bad.languages = BTreeMap::from([("de".into(), "C1".into())]);
    bad.preferred_missions = vec!["NOPE".into()];
    let msg = invalid_message(t.app.apply_to_volunteer(&a, &bad).await.unwrap_err());
    assert!(msg.contains("preferred_missions: no mission NOPE"), "{msg}");
    let mut bad = form();
    bad.birth_date = "2010-02-01".into();
    bad.languages = BTreeMap::from([("de".into(), "C1".into())]);
    bad.available_to = "2024-07-22".into();
    let msg = invalid_message(t.app.apply_to_volunteer(&a, &bad).await.unwrap_err());
    assert!(msg.contains("age: 13"), "{msg}");
    assert!(msg.contains("languages: none of the accepted"), "{msg}");
    assert!(msg.contains("availability: 3 consecutive days"), "{msg}");
    let mut bad = form();
    bad.available_from = "2024-08-11".into();
    bad.available_to = "2024-07-20".into();
    let msg = invalid_message(t.app.apply_to_volunteer(&a, &bad).await.unwrap_err());
    assert!(msg.contains("available_to"), "{msg}");
    assert!(t.app.store.volunteer_applications(0, 10).await.unwrap().is_empty(), "nothing written");
    assert!(t.app.my_volunteering(&a).await.unwrap().is_none());

    for f in [&a, &b, &d] {
        let mine = t.app.apply_to_volunteer(f, &form()).await.unwrap();
        assert_eq!((mine.state.as_str(), mine.offers.len()), ("submitted", 0));
    }
    assert!(matches!(t.app.apply_to_volunteer(&a, &form()).await, Err(AppError::Conflict(_))), "one application");
    // The store holds the application sealed: no date of birth in clear.
    let row = t.app.store.volunteer_application_of(a.account_id.0).await.unwrap().unwrap();
    assert!(!String::from_utf8_lossy(&row.sealed).contains("1990"));

    // Fans cannot run the matching.
    assert!(matches!(t.app.run_volunteer_matching(&a).await, Err(AppError::Forbidden(_))));

    // Two hosting positions for three hosts; the medical one has nobody with first aid.
    let run = t.app.run_volunteer_matching(&c).await.unwrap();
    assert_eq!((run.summary.offers_made, run.summary.stats.matched), (2, 2));
    let med = run.summary.unfilled.iter().find(|u| u.mission == "MED").expect("medical unfilled");
    assert_eq!(med.open, 1);
    assert!(med.reason.contains("no feasible candidate") && med.reason.contains("MissingSkill"), "{}", med.reason);
    let offered: Vec<&Principal> = {
        let mut v = Vec::new();
        for f in [&a, &b, &d] {
            if !t.app.my_volunteering(f).await.unwrap().unwrap().offers.is_empty() {
                v.push(f);
            }
        }
        v
    };
    assert_eq!(offered.len(), 2);
    let (accepter, refuser) = (offered[0], offered[1]);
    let waiting = [&a, &b, &d]
        .into_iter()
        .find(|f| f.account_id != accepter.account_id && f.account_id != refuser.account_id)
        .unwrap();
    let explained = t
        .app
        .volunteer_explanation(&c, t.app.my_volunteering(accepter).await.unwrap().unwrap().id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(explained["proposed"], "HOST@V1");
    assert_eq!(
        explained["total"].as_u64(),
        Some(explained["score"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum())
    );

    let accepted_offer = t.app.my_volunteering(accepter).await.unwrap().unwrap().offers[0].clone();
    let view = t.app.answer_volunteer_offer(accepter, accepted_offer.id, true).await.unwrap();
    assert_eq!(view.state, "accepted");
    let refused = t.app.my_volunteering(refuser).await.unwrap().unwrap().offers[0].clone();
    assert_eq!(t.app.answer_volunteer_offer(refuser, refused.id, false).await.unwrap().state, "refused");
    // Another applicant's offer is not theirs to answer.
    assert!(matches!(t.app.answer_volunteer_offer(waiting, refused.id, true).await, Err(AppError::NotFound(_))));

    // The next run refills the refused position, and the accepted volunteer stays put.
    let again = t.app.run_volunteer_matching(&c).await.unwrap();
    assert_eq!(again.summary.offers_made, 1);
    let mine = t.app.my_volunteering(waiting).await.unwrap().unwrap();
    assert_eq!((mine.offers.len(), mine.offers[0].mission.as_str(), mine.state.as_str()), (1, "HOST", "offered"));
    let kept = t.app.my_volunteering(accepter).await.unwrap().unwrap();
    assert_eq!(kept.offers.len(), 1, "no second offer to an accepted volunteer");
    assert_eq!((kept.offers[0].id, kept.offers[0].state.as_str()), (accepted_offer.id, "accepted"));
    assert_eq!(t.app.my_volunteering(refuser).await.unwrap().unwrap().offers.len(), 1, "not offered HOST again");
    // The first run still explains the accepted offer it made.
    let accepted_id = kept.id;
    let explained = t.app.volunteer_explanation(&c, accepted_id).await.unwrap().expect("explained by run 1");
    assert_eq!(explained["proposed"], "HOST@V1");

    // Past the deadline, the outstanding offer expires and cannot be accepted.
    t.clock.set(Timestamp(T0.0 + 8 * 86_400));
    let late = t.app.answer_volunteer_offer(waiting, mine.offers[0].id, true).await.unwrap_err();
    assert!(matches!(&late, AppError::Conflict(m) if m.contains("deadline")), "{late:?}");
    assert_eq!(t.app.my_volunteering(waiting).await.unwrap().unwrap().offers[0].state, "expired");
    // The expiry frees the position; the two others who were offered hosting are kept from it,
    // so the next run reports it unfilled, with the reason, and leaves the accepted one alone.
    let third = t.app.run_volunteer_matching(&c).await.unwrap();
    assert_eq!(third.summary.offers_made, 0);
    let host = third.summary.unfilled.iter().find(|u| u.mission == "HOST").expect("hosting reopened");
    assert_eq!(host.open, 1);
    assert!(host.reason.contains("Excluded"), "{}", host.reason);
    assert_eq!(t.app.my_volunteering(accepter).await.unwrap().unwrap().offers[0].state, "accepted");

    // The roster puts the accepted volunteer on shifts at the venue's desk.
    let roster = t.app.build_volunteer_roster(&c).await.unwrap();
    assert_eq!(roster.volunteers, 1);
    assert!(roster.assignments >= 5, "{roster:?}");
    let id = t.app.my_volunteering(accepter).await.unwrap().unwrap().id as u32;
    assert!(roster.desks.iter().all(|d| d.venue == "V1"));
    assert!(roster.desks.iter().flat_map(|d| &d.shifts).any(|s| s.volunteers.contains(&id)));
    let console = t.app.volunteer_console(&c).await.unwrap();
    let host = console.by_mission.iter().find(|r| r.key == "HOST").unwrap();
    assert_eq!((host.positions, host.accepted, host.outstanding), (2, 1, 0));
}

async fn volunteers_override_breaking_a_hard_constraint_is_refused(t: TestApp) {
    let c = setup(&t).await;
    let a = fan(&t, 1).await;
    let id = t.app.apply_to_volunteer(&a, &form()).await.unwrap().id;
    let force = |mission: &str, reason: &str| OverrideRequest {
        application: id,
        action: "force".into(),
        mission: Some(mission.into()),
        venue: Some("V1".into()),
        reason: reason.into(),
    };
    let msg = invalid_message(t.app.volunteer_override(&c, &force("MED", "short of medics")).await.unwrap_err());
    assert!(msg.contains("missing required skill first-aid"), "{msg}");
    let msg = invalid_message(t.app.volunteer_override(&c, &force("HOST", "  ")).await.unwrap_err());
    assert!(msg.contains("reason"), "{msg}");
    assert!(matches!(t.app.volunteer_override(&a, &force("HOST", "me")).await, Err(AppError::Forbidden(_))));
    assert!(t.app.store.volunteer_overrides().await.unwrap().is_empty(), "nothing stored");

    // A feasible one is kept with who and why, and the next run carries it out.
    let kept = t.app.volunteer_override(&c, &force("HOST", "asked for by the venue")).await.unwrap();
    assert_eq!((kept.by.as_str(), kept.reason.as_str()), ("coord@example.org", "asked for by the venue"));
    let run = t.app.run_volunteer_matching(&c).await.unwrap();
    assert_eq!(run.summary.overrides, vec![(kept.id, "applied".to_owned())]);
    assert_eq!(t.app.store.volunteer_overrides().await.unwrap()[0].run, Some(run.run));
    // Once placed, forcing them elsewhere breaks "already placed".
    let msg = invalid_message(t.app.volunteer_override(&c, &force("HOST", "again")).await.unwrap_err());
    assert!(msg.contains("already placed"), "{msg}");
}

async fn volunteers_two_answers_at_once_one_wins(t: TestApp) {
    let c = setup(&t).await;
    let a = fan(&t, 1).await;
    t.app.apply_to_volunteer(&a, &form()).await.unwrap();
    t.app.run_volunteer_matching(&c).await.unwrap();
    let offer = t.app.my_volunteering(&a).await.unwrap().unwrap().offers[0].id;
    let app = Arc::new(t.app);
    let tasks: Vec<_> = [true, false, true, false]
        .into_iter()
        .map(|accept| {
            let (app, a) = (app.clone(), a.clone());
            tokio::spawn(async move { (accept, app.answer_volunteer_offer(&a, offer, accept).await) })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            (accept, Ok(_)) => winners.push(accept),
            (_, Err(AppError::Conflict(m))) => assert!(m.contains("already"), "{m}"),
            (_, Err(e)) => panic!("{e:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one answer wins");
    let state = &app.my_volunteering(&a).await.unwrap().unwrap().offers[0].state;
    assert_eq!(state, if winners[0] { "accepted" } else { "refused" });
}

async fn volunteers_import_is_all_or_none(t: TestApp) {
    let c = setup(&t).await;
    let good = serde_json::to_string(&form()).unwrap();
    let mut bad = form();
    bad.country = "France".into();
    let body = format!("{good}\n{}\n\n{good}\n{{\"nope\":1}}\n", serde_json::to_string(&bad).unwrap());
    let msg = invalid_message(t.app.import_volunteers(&c, &body).await.unwrap_err());
    assert!(msg.contains("line 2: country"), "{msg}");
    assert!(msg.contains("line 5:"), "{msg}");
    assert!(t.app.store.volunteer_applications(0, 10).await.unwrap().is_empty(), "nothing imported");
    let fan = fan(&t, 1).await;
    assert!(matches!(t.app.import_volunteers(&fan, &good).await, Err(AppError::Forbidden(_))));

    let report = t.app.import_volunteers(&c, &format!("{good}\n{good}\n")).await.unwrap();
    assert_eq!(report.stored, 2);
    assert_eq!(t.app.store.volunteer_applications(0, 10).await.unwrap().len(), 2);
    let run = t.app.run_volunteer_matching(&c).await.unwrap();
    assert_eq!(run.summary.stats.applicants, 2);
}
