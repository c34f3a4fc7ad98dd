//! Volunteers: applications all or none and one per account, runs by compare-and-set with
//! their offers, offers answered once, overrides used once, rosters, counts, a restart.

use super::*;

fn application(account: Option<i64>, n: u8) -> NewVolunteerApplication {
    NewVolunteerApplication { account, sealed: vec![n; 40], submitted_at: T0 }
}

fn offer(application: i64, mission: &str, deadline: Timestamp) -> NewVolunteerOffer {
    NewVolunteerOffer { application, mission: mission.into(), venue: "V01".into(), deadline }
}

fn run(after: Option<i64>, offers: Vec<NewVolunteerOffer>, overrides_used: Vec<i64>) -> NewVolunteerRun {
    NewVolunteerRun {
        after,
        by: "coordinator@example.org".into(),
        at: T0.plus_secs(60),
        summary: r#"{"matched":1}"#.into(),
        proposals: "[]".into(),
        offers,
        overrides_used,
    }
}

fn pairs(list: &[(&str, i64)]) -> Vec<(String, i64)> {
    list.iter().map(|(s, n)| (s.to_string(), *n)).collect()
}

pub async fn volunteer_applications_all_or_none(h: Box<dyn Harness>) {
    let store = h.open().await;
    let fan = account(&*store, 1).await.0;
    let ids = store.add_volunteer_applications(&[application(Some(fan), 1), application(None, 2)]).await.unwrap();
    assert_eq!(ids.len(), 2);
    assert!(ids[0] < ids[1], "ids in the order given");
    let mine = store.volunteer_application_of(fan).await.unwrap().expect("the account's application");
    assert_eq!((mine.id, mine.state.as_str(), mine.sealed.clone()), (ids[0], "submitted", vec![1; 40]));
    assert_eq!(store.volunteer_application(ids[1]).await.unwrap().unwrap().account, None);

    // A second application of the same account fails the whole batch.
    let err = store.add_volunteer_applications(&[application(None, 3), application(Some(fan), 4)]).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let all = store.volunteer_applications(0, 100).await.unwrap();
    assert_eq!(all.iter().map(|a| a.id).collect::<Vec<_>>(), ids, "nothing of the failed batch is stored");
    assert_eq!(store.volunteer_applications(ids[0], 100).await.unwrap().len(), 1, "paged after an id");
    assert!(store.volunteer_application_of(fan + 1000).await.unwrap().is_none());
}

pub async fn volunteer_runs_offers_and_answers(h: Box<dyn Harness>) {
    let store = h.open().await;
    let ids = store.add_volunteer_applications(&[application(None, 1), application(None, 2)]).await.unwrap();
    let deadline = T0.plus_secs(3600);
    // No programme yet: no run.
    assert!(matches!(store.save_volunteer_run(&run(None, vec![], vec![])).await, Err(StoreError::Conflict(_))));
    store.put_volunteer_programme(r#"{"missions":[]}"#, T0).await.unwrap();
    assert_eq!(store.volunteer_programme().await.unwrap().as_deref(), Some(r#"{"missions":[]}"#));
    let o = store
        .add_volunteer_override(&NewVolunteerOverride {
            application: ids[1],
            action: r#"{"ForceAssign":{}}"#.into(),
            by: "coordinator@example.org".into(),
            reason: "speaks Catalan".into(),
            at: T0,
        })
        .await
        .unwrap();
    let offers = vec![offer(ids[0], "M01", deadline), offer(ids[1], "M02", deadline)];
    let first = store.save_volunteer_run(&run(None, offers, vec![o])).await.unwrap();
    // A run computed before the first one was saved is refused.
    let err = store.save_volunteer_run(&run(None, vec![], vec![])).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let latest = store.latest_volunteer_run().await.unwrap().expect("saved");
    assert_eq!((latest.id, latest.summary.as_str()), (first, r#"{"matched":1}"#));
    assert_eq!(store.volunteer_overrides().await.unwrap()[0].run, Some(first), "the override is used");
    assert_eq!(store.volunteer_application(ids[0]).await.unwrap().unwrap().state, "offered");

    let offers = store.volunteer_offers(None).await.unwrap();
    assert_eq!(offers.len(), 2);
    assert!(offers.iter().all(|o| o.state == "offered" && o.run == first && o.deadline == deadline));
    let (a, b) = (offers[0].clone(), offers[1].clone());
    assert_eq!(store.volunteer_offers(Some(ids[1])).await.unwrap(), vec![b.clone()]);

    // Someone else's offer, or past the deadline: nothing changes.
    assert!(!store.answer_volunteer_offer(a.id, ids[1], true, T0.plus_secs(100)).await.unwrap());
    assert!(!store.answer_volunteer_offer(a.id, ids[0], true, deadline).await.unwrap());
    assert!(store.answer_volunteer_offer(a.id, ids[0], true, T0.plus_secs(100)).await.unwrap());
    assert!(!store.answer_volunteer_offer(a.id, ids[0], false, T0.plus_secs(101)).await.unwrap(), "answered once");
    let a = &store.volunteer_offers(Some(ids[0])).await.unwrap()[0];
    assert_eq!((a.state.as_str(), a.answered_at), ("accepted", Some(T0.plus_secs(100))));
    assert_eq!(store.volunteer_application(ids[0]).await.unwrap().unwrap().state, "accepted");

    let counts = store.volunteer_counts(deadline).await.unwrap();
    assert_eq!(counts.applications, pairs(&[("accepted", 1), ("offered", 1)]));
    assert_eq!(counts.offers, pairs(&[("accepted", 1), ("expired", 1)]), "an open offer past its deadline");
    assert_eq!((counts.runs, counts.overrides), (1, 1));

    // The next run follows the first, which stays readable by its id.
    let second = store.save_volunteer_run(&run(Some(first), vec![], vec![])).await.unwrap();
    assert!(second > first);
    assert_eq!(store.volunteer_run(first).await.unwrap(), Some(latest));
    assert_eq!(store.latest_volunteer_run().await.unwrap().map(|r| r.id), Some(second));
    assert!(store.volunteer_run(second + 1).await.unwrap().is_none());
}

pub async fn volunteer_offers_are_answered_once_under_contention(h: Box<dyn Harness>) {
    let store = h.open().await;
    let ids: Vec<i64> =
        store.add_volunteer_applications(&(0..20).map(|i| application(None, i)).collect::<Vec<_>>()).await.unwrap();
    store.put_volunteer_programme("{}", T0).await.unwrap();
    let offers = ids.iter().map(|&a| offer(a, "M01", T0.plus_secs(3600))).collect();
    store.save_volunteer_run(&run(None, offers, vec![])).await.unwrap();
    let offers = store.volunteer_offers(None).await.unwrap();
    let mut tasks = Vec::new();
    for o in &offers {
        for accept in [true, false] {
            let (store, id, app) = (store.clone(), o.id, o.application);
            tasks.push(tokio::spawn(async move {
                (id, accept, store.answer_volunteer_offer(id, app, accept, T0.plus_secs(10)).await.unwrap())
            }));
        }
    }
    let mut won = std::collections::BTreeMap::new();
    for t in tasks {
        let (id, accept, ok) = t.await.unwrap();
        if ok {
            assert!(won.insert(id, accept).is_none(), "two answers won offer {id}");
        }
    }
    assert_eq!(won.len(), offers.len(), "one answer won each offer");
    for o in store.volunteer_offers(None).await.unwrap() {
        assert_eq!(o.state, if won[&o.id] { "accepted" } else { "refused" });
    }
}

pub async fn volunteers_survive_a_restart(h: Box<dyn Harness>) {
    let store = h.open().await;
    let ids = store.add_volunteer_applications(&[application(None, 9)]).await.unwrap();
    store.put_volunteer_programme(r#"{"v":1}"#, T0).await.unwrap();
    let r = store.save_volunteer_run(&run(None, vec![offer(ids[0], "M01", T0.plus_secs(99))], vec![])).await.unwrap();
    let roster = store.save_volunteer_roster(T0.plus_secs(5), r#"{"shifts":[]}"#).await.unwrap();
    let before = (
        store.volunteer_applications(0, 10).await.unwrap(),
        store.volunteer_offers(None).await.unwrap(),
        store.latest_volunteer_run().await.unwrap(),
    );
    drop(store);

    let store = h.open().await;
    let after = (
        store.volunteer_applications(0, 10).await.unwrap(),
        store.volunteer_offers(None).await.unwrap(),
        store.latest_volunteer_run().await.unwrap(),
    );
    assert_eq!(before, after);
    assert_eq!(after.2.map(|r| r.id), Some(r));
    let kept = store.volunteer_roster().await.unwrap().expect("kept");
    assert_eq!((kept.id, kept.at, kept.json.as_str()), (roster, T0.plus_secs(5), r#"{"shifts":[]}"#));
    // The compare-and-set token survived too.
    assert!(matches!(store.save_volunteer_run(&run(None, vec![], vec![])).await, Err(StoreError::Conflict(_))));
    store.save_volunteer_run(&run(Some(r), vec![], vec![])).await.unwrap();
}
