//! Accreditation: organisations, quotas, duplicate people, compare-and-set vetting, lists,
//! counts and the desks' hand-overs.

use super::*;

fn person(org: &str, category: &str, key: &str) -> NewAccreditation {
    NewAccreditation {
        org: org.into(),
        category: category.into(),
        duplicate_key: key.into(),
        state: "submitted".into(),
        vetting: "[]".into(),
        sealed: format!("sealed {key}").into_bytes(),
        photo: None,
        submitted_at: T0,
    }
}

fn quota(org: &str, category: &str, max: i64) -> QuotaLimit {
    QuotaLimit { org: org.into(), category: category.into(), max }
}

/// The change that moves `row` to `state`, everything else kept.
fn to_state(row: &StoredAccreditation, state: &str, now: Timestamp) -> AccreditationUpdate {
    AccreditationUpdate {
        id: row.id,
        version: row.version,
        state: state.into(),
        vetting: row.vetting.clone(),
        serial: row.serial,
        photo: None,
        sealed: None,
        now,
    }
}

fn added(a: Added) -> i64 {
    match a {
        Added::Added(id) => id,
        other => panic!("not added: {other:?}"),
    }
}

async fn get(store: &dyn Store, id: i64) -> StoredAccreditation {
    store.accreditation(id).await.unwrap().expect("the row exists")
}

fn count(counts: &[AccreditationCount], org: &str, category: &str, state: &str) -> i64 {
    counts
        .iter()
        .find(|c| (c.org.as_str(), c.category.as_str(), c.state.as_str()) == (org, category, state))
        .map_or(0, |c| c.count)
}

pub async fn accreditation_organisations_and_quotas(h: Box<dyn Harness>) {
    let store = h.open().await;
    assert!(store.organisations().await.unwrap().is_empty());
    store.put_organisation("NOC-FRA", r#"{"v":1}"#).await.unwrap();
    store.put_organisation("IF-ATH", r#"{"v":1}"#).await.unwrap();
    store.put_organisation("NOC-FRA", r#"{"v":2}"#).await.unwrap();
    assert_eq!(
        store.organisations().await.unwrap(),
        vec![("IF-ATH".to_string(), r#"{"v":1}"#.to_string()), ("NOC-FRA".to_string(), r#"{"v":2}"#.to_string())],
        "by code, the second put replacing the first"
    );

    let quotas = [quota("NOC-FRA", "athlete", 3), quota("IF-ATH", "athlete", 2)];
    let rows = [
        person("NOC-FRA", "athlete", "k1"),
        person("IF-ATH", "athlete", "i1"),
        person("NOC-FRA", "athlete", "k2"),
        person("NOC-FRA", "athlete", "k3"),
        person("NOC-FRA", "athlete", "k4"),
        person("NOC-FRA", "media", "m1"),
        person("NOC-FRA", "athlete", "k5"),
        person("IF-ATH", "athlete", "i2"),
    ];
    let out = store.add_accreditations(&rows, &quotas).await.unwrap();
    assert_eq!(out.len(), rows.len());
    assert!(matches!(out[..4], [Added::Added(_), Added::Added(_), Added::Added(_), Added::Added(_)]), "{out:?}");
    assert_eq!(out[4], Added::OverQuota, "the quota is reached within the call");
    assert_eq!(out[5], Added::OverQuota, "a category without a quota has no room");
    assert_eq!(out[6], Added::OverQuota);
    assert!(matches!(out[7], Added::Added(_)), "the other organisation's quota is its own: {out:?}");
    let ids: Vec<i64> = out.iter().filter_map(|a| if let Added::Added(id) = a { Some(*id) } else { None }).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids grow in the order of the call: {ids:?}");
    let counts = store.accreditation_counts().await.unwrap();
    assert_eq!(
        (count(&counts, "NOC-FRA", "athlete", "submitted"), count(&counts, "IF-ATH", "athlete", "submitted")),
        (3, 2)
    );
    assert_eq!(count(&counts, "NOC-FRA", "media", "submitted"), 0, "nothing stored for a refused row");

    // Across calls, the stored rows count.
    let later = store.add_accreditations(&[person("NOC-FRA", "athlete", "k6")], &quotas).await.unwrap();
    assert_eq!(later, vec![Added::OverQuota]);
    // A released state gives its place back.
    let first = get(&*store, added(out[0])).await;
    assert!(store.update_accreditation(&to_state(&first, "withdrawn", T0.plus_secs(5))).await.unwrap());
    let again = store.add_accreditations(&[person("NOC-FRA", "athlete", "k6")], &quotas).await.unwrap();
    assert!(matches!(again[..], [Added::Added(_)]), "{again:?}");
    let full = store.add_accreditations(&[person("NOC-FRA", "athlete", "k7")], &quotas).await.unwrap();
    assert_eq!(full, vec![Added::OverQuota], "and only one");
    // Coming back into a state that holds a place does not check the quota (an appeal keeps
    // the place it had).
    let withdrawn = get(&*store, first.id).await;
    assert!(store.update_accreditation(&to_state(&withdrawn, "submitted", T0.plus_secs(6))).await.unwrap());
    let counts = store.accreditation_counts().await.unwrap();
    assert_eq!(count(&counts, "NOC-FRA", "athlete", "submitted"), 4);
    assert_eq!(count(&counts, "NOC-FRA", "athlete", "withdrawn"), 0);
    assert_eq!(
        store.add_accreditations(&[person("NOC-FRA", "athlete", "k8")], &quotas).await.unwrap(),
        vec![Added::OverQuota]
    );
}

pub async fn accreditation_duplicates(h: Box<dyn Harness>) {
    let store = h.open().await;
    let quotas = [quota("NOC-FRA", "athlete", 2), quota("NOC-ITA", "athlete", 10)];
    let out = store
        .add_accreditations(
            &[
                person("NOC-FRA", "athlete", "x"),
                person("NOC-FRA", "athlete", "x"),
                person("NOC-FRA", "athlete", "y"),
                person("NOC-FRA", "athlete", "z"),
            ],
            &quotas,
        )
        .await
        .unwrap();
    let (a, b) = (added(out[0]), added(out[2]));
    assert_eq!(out[1], Added::Duplicate(a), "within one call");
    assert_eq!(out[3], Added::OverQuota, "the duplicate took no place: {out:?}");
    assert_ne!(a, b);
    // Across calls, and across organisations: a person is accredited once.
    let out = store
        .add_accreditations(&[person("NOC-ITA", "athlete", "x"), person("NOC-ITA", "athlete", "w")], &quotas)
        .await
        .unwrap();
    assert_eq!(out[0], Added::Duplicate(a));
    assert!(matches!(out[1], Added::Added(_)));
    let counts = store.accreditation_counts().await.unwrap();
    assert_eq!(count(&counts, "NOC-ITA", "athlete", "submitted"), 1, "nothing stored for the duplicate");

    // Once withdrawn, the same person may apply again.
    let first = get(&*store, a).await;
    assert!(store.update_accreditation(&to_state(&first, "withdrawn", T0.plus_secs(1))).await.unwrap());
    let out = store.add_accreditations(&[person("NOC-ITA", "athlete", "x")], &quotas).await.unwrap();
    let renewed = added(out[0]);
    assert_ne!(renewed, a);
    assert_eq!(
        store.add_accreditations(&[person("NOC-FRA", "athlete", "x")], &quotas).await.unwrap(),
        vec![Added::Duplicate(renewed)],
        "the live row is the one found"
    );
    // The withdrawn row cannot come back while the new one lives: a conflict, nothing changed.
    let withdrawn = get(&*store, a).await;
    let appeal = store.update_accreditation(&to_state(&withdrawn, "submitted", T0.plus_secs(2))).await;
    assert!(matches!(appeal, Err(StoreError::Conflict(_))), "{appeal:?}");
    assert_eq!(get(&*store, a).await, withdrawn);
    // Refused and revoked release the key too.
    let live = get(&*store, renewed).await;
    assert!(store.update_accreditation(&to_state(&live, "refused", T0.plus_secs(3))).await.unwrap());
    assert!(store.update_accreditation(&to_state(&withdrawn, "submitted", T0.plus_secs(4))).await.unwrap());
    let back = get(&*store, a).await;
    assert!(store.update_accreditation(&to_state(&back, "revoked", T0.plus_secs(5))).await.unwrap());
    let out = store.add_accreditations(&[person("NOC-ITA", "athlete", "x")], &quotas).await.unwrap();
    assert!(matches!(out[..], [Added::Added(id)] if id != a && id != renewed), "{out:?}");
}

pub async fn accreditation_updates_compare_and_set(h: Box<dyn Harness>) {
    let store = h.open().await;
    let quotas = [quota("NOC-FRA", "athlete", 10)];
    let id = added(store.add_accreditations(&[person("NOC-FRA", "athlete", "x")], &quotas).await.unwrap()[0]);
    let fresh = get(&*store, id).await;
    assert_eq!(
        (fresh.org.as_str(), fresh.category.as_str(), fresh.state.as_str(), fresh.duplicate_key.as_str()),
        ("NOC-FRA", "athlete", "submitted", "x")
    );
    assert_eq!(
        (fresh.vetting.as_str(), fresh.sealed.as_slice(), fresh.photo.as_deref()),
        ("[]", &b"sealed x"[..], None)
    );
    assert_eq!((fresh.serial, fresh.submitted_at), (0, T0), "no badge yet");

    let approve = AccreditationUpdate {
        id,
        version: fresh.version,
        state: "approved".into(),
        vetting: r#"[{"by":"staff1"}]"#.into(),
        serial: 1,
        photo: Some(b"photo 1".to_vec()),
        sealed: None,
        now: T0.plus_secs(10),
    };
    assert!(store.update_accreditation(&approve).await.unwrap());
    let approved = get(&*store, id).await;
    assert_eq!(approved.version, fresh.version + 1, "the version is bumped");
    assert_eq!(
        (approved.state.as_str(), approved.vetting.as_str(), approved.serial),
        ("approved", approve.vetting.as_str(), 1)
    );
    assert_eq!((approved.photo.as_deref(), approved.sealed.as_slice()), (Some(&b"photo 1"[..]), &b"sealed x"[..]));
    assert_eq!((approved.updated_at, approved.submitted_at), (T0.plus_secs(10), T0));

    // Someone else decided meanwhile: the stale version loses, and changes nothing.
    let stale = AccreditationUpdate { state: "refused".into(), now: T0.plus_secs(11), ..approve.clone() };
    assert!(!store.update_accreditation(&stale).await.unwrap());
    assert_eq!(get(&*store, id).await, approved);
    assert!(
        !store.update_accreditation(&AccreditationUpdate { id: id + 1000, ..approve.clone() }).await.unwrap(),
        "no such row"
    );

    // Erasure replaces the application and keeps the photo it was not given.
    let erase = AccreditationUpdate {
        version: approved.version,
        serial: 2,
        photo: None,
        sealed: Some(b"erased".to_vec()),
        now: T0.plus_secs(20),
        ..approve.clone()
    };
    assert!(store.update_accreditation(&erase).await.unwrap());
    let erased = get(&*store, id).await;
    assert_eq!(erased.version, approved.version + 1);
    assert_eq!(
        (erased.sealed.as_slice(), erased.photo.as_deref(), erased.serial),
        (&b"erased"[..], Some(&b"photo 1"[..]), 2)
    );
    assert!(!store.update_accreditation(&erase).await.unwrap(), "the same change twice: the second is stale");

    // Two staff deciding at once: exactly one wins.
    let racers: Vec<_> = ["approved", "refused"]
        .into_iter()
        .map(|state| {
            let store = store.clone();
            let u = AccreditationUpdate { state: state.into(), version: erased.version, sealed: None, ..erase.clone() };
            tokio::spawn(async move { store.update_accreditation(&u).await.unwrap() })
        })
        .collect();
    let mut wins = 0;
    for r in racers {
        wins += usize::from(r.await.unwrap());
    }
    assert_eq!(wins, 1);
    assert_eq!(get(&*store, id).await.version, erased.version + 1);
}

pub async fn accreditation_lists_and_counts(h: Box<dyn Harness>) {
    let store = h.open().await;
    let quotas = [quota("A", "athlete", 10), quota("B", "athlete", 10), quota("B", "media", 10)];
    let mut rows: Vec<NewAccreditation> = (0..4).map(|i| person("A", "athlete", &format!("a{i}"))).collect();
    rows.push(person("B", "athlete", "b0"));
    rows.push(person("B", "media", "b1"));
    rows.push(person("B", "athlete", "b2"));
    for r in &mut rows {
        r.photo = Some(format!("photo {}", r.duplicate_key).into_bytes());
    }
    let ids: Vec<i64> = store.add_accreditations(&rows, &quotas).await.unwrap().into_iter().map(added).collect();
    for id in [ids[1], ids[3]] {
        let row = get(&*store, id).await;
        assert!(store.update_accreditation(&to_state(&row, "approved", T0.plus_secs(1))).await.unwrap());
    }
    assert_eq!(get(&*store, ids[0]).await.photo.as_deref(), Some(&b"photo a0"[..]), "one row comes with its photo");

    let list = |org: Option<&str>, state: Option<&str>, after: i64, limit: i64| AccreditationQuery {
        org: org.map(str::to_string),
        state: state.map(str::to_string),
        after,
        limit,
    };
    // Paging through everything, three at a time.
    let mut seen = Vec::new();
    let mut after = 0;
    loop {
        let page = store.accreditations(&list(None, None, after, 3)).await.unwrap();
        assert!(page.len() <= 3);
        if page.is_empty() {
            break;
        }
        assert!(page.iter().all(|r| r.photo.is_none()), "a list carries no photos");
        after = page.last().unwrap().id;
        seen.extend(page);
    }
    assert_eq!(seen.iter().map(|r| r.id).collect::<Vec<_>>(), ids, "every row once, in id order");
    assert_eq!(seen[4].sealed, b"sealed b0".to_vec(), "with the rest of the row");
    assert_eq!((seen[1].state.as_str(), seen[1].version), ("approved", get(&*store, ids[1]).await.version));

    let ids_of = |rows: Vec<StoredAccreditation>| rows.into_iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(ids_of(store.accreditations(&list(Some("A"), None, 0, 100)).await.unwrap()), ids[..4]);
    assert_eq!(
        ids_of(store.accreditations(&list(Some("A"), Some("approved"), 0, 100)).await.unwrap()),
        [ids[1], ids[3]]
    );
    assert_eq!(ids_of(store.accreditations(&list(Some("A"), Some("approved"), ids[1], 100)).await.unwrap()), [ids[3]]);
    assert_eq!(
        ids_of(store.accreditations(&list(None, Some("submitted"), 0, 100)).await.unwrap()),
        [ids[0], ids[2], ids[4], ids[5], ids[6]]
    );
    assert_eq!(
        ids_of(store.accreditations(&list(None, Some("submitted"), ids[0], 2)).await.unwrap()),
        [ids[2], ids[4]]
    );
    assert_eq!(
        ids_of(store.accreditations(&list(Some("B"), Some("approved"), 0, 100)).await.unwrap()),
        Vec::<i64>::new()
    );
    assert_eq!(ids_of(store.accreditations(&list(Some("C"), None, 0, 100)).await.unwrap()), Vec::<i64>::new());
    assert!(store.accreditations(&list(None, None, 0, 0)).await.unwrap().is_empty(), "limit 0");

    let c = |org: &str, category: &str, state: &str, count: i64| AccreditationCount {
        org: org.into(),
        category: category.into(),
        state: state.into(),
        count,
    };
    assert_eq!(
        store.accreditation_counts().await.unwrap(),
        vec![
            c("A", "athlete", "approved", 2),
            c("A", "athlete", "submitted", 2),
            c("B", "athlete", "submitted", 2),
            c("B", "media", "submitted", 1),
        ],
        "by organisation, category and state"
    );

    // What gates refuse: a revoked row, and an approved row with a reprinted card (serial 2);
    // an approved row with its first card is not listed.
    assert_eq!(store.badge_revocations().await.unwrap(), (vec![], vec![]));
    let first = get(&*store, ids[1]).await;
    let reprint = AccreditationUpdate { serial: 2, ..to_state(&first, "approved", T0.plus_secs(2)) };
    assert!(store.update_accreditation(&reprint).await.unwrap());
    let other = get(&*store, ids[3]).await;
    let card = AccreditationUpdate { serial: 1, ..to_state(&other, "approved", T0.plus_secs(2)) };
    assert!(store.update_accreditation(&card).await.unwrap());
    let other = get(&*store, ids[3]).await;
    assert!(store.update_accreditation(&to_state(&other, "revoked", T0.plus_secs(3))).await.unwrap());
    assert_eq!(store.badge_revocations().await.unwrap(), (vec![ids[3]], vec![(ids[1], 2)]));
}

pub async fn accreditation_hand_overs_are_kept_once(h: Box<dyn Harness>) {
    let store = h.open().await;
    let hand = |person: i64, serial: i64, desk: &str, secs: i64, flagged: bool| StoredHandOver {
        person,
        serial,
        desk: desk.into(),
        at: T0.plus_secs(secs),
        by: format!("operator at {desk}"),
        flagged,
    };
    assert_eq!(store.record_hand_overs(&[]).await.unwrap(), 0);
    let first = [hand(1, 2, "D1", 20, true), hand(1, 1, "D1", 10, false), hand(2, 1, "D2", 5, false)];
    assert_eq!(store.record_hand_overs(&first).await.unwrap(), 3);
    assert_eq!(store.record_hand_overs(&first).await.unwrap(), 0, "a sync sent twice");
    // Another desk claims a card already handed over, next to a new one: the first stays.
    let later = [hand(1, 1, "D3", 30, true), hand(3, 1, "D3", 30, false)];
    assert_eq!(store.record_hand_overs(&later).await.unwrap(), 1);
    assert_eq!(store.hand_overs(1).await.unwrap(), vec![first[1].clone(), first[0].clone()], "oldest first");
    assert_eq!(store.hand_overs(3).await.unwrap(), vec![later[1].clone()]);
    // Two claims of one card in one sync: the first sent is kept.
    let twice = [hand(4, 1, "D1", 40, false), hand(4, 1, "D2", 35, true)];
    assert_eq!(store.record_hand_overs(&twice).await.unwrap(), 1);
    assert_eq!(store.hand_overs(4).await.unwrap(), vec![twice[0].clone()]);
    assert!(store.hand_overs(99).await.unwrap().is_empty());
    // Per desk, what was kept (the refused claims are not counted); no card issued here.
    let figures = store.hand_over_figures().await.unwrap();
    let per_desk: Vec<_> = figures.desks.iter().map(|d| (d.desk.as_str(), d.handed_over, d.flagged)).collect();
    assert_eq!(per_desk, vec![("D1", 3, 1), ("D2", 1, 0), ("D3", 1, 0)]);
    assert_eq!(figures.cards_issued, 0);
}

/// Two imports into the same organisation and category at once never hold more than its quota,
/// and one person offered through two organisations at once is stored once.
pub async fn accreditation_quotas_hold_under_contention(h: Box<dyn Harness>) {
    let store = h.open().await;
    let quotas =
        [quota("NOC-FRA", "athlete", 50), quota("NOC-ITA", "athlete", 1000), quota("NOC-ESP", "athlete", 1000)];
    let importers: Vec<_> = (0..2)
        .map(|t| {
            let store = store.clone();
            let quotas = quotas.to_vec();
            tokio::spawn(async move {
                let mut out = Vec::new();
                for chunk in 0..8 {
                    let rows: Vec<_> =
                        (0..5).map(|i| person("NOC-FRA", "athlete", &format!("fra-{t}-{chunk}-{i}"))).collect();
                    out.extend(store.add_accreditations(&rows, &quotas).await.unwrap());
                }
                out
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for i in importers {
        outcomes.extend(i.await.unwrap());
    }
    let stored = outcomes.iter().filter(|a| matches!(a, Added::Added(_))).count();
    assert_eq!((outcomes.len(), stored), (80, 50), "exactly the quota");
    assert!(outcomes.iter().all(|a| matches!(a, Added::Added(_) | Added::OverQuota)));
    let counts = store.accreditation_counts().await.unwrap();
    assert_eq!(count(&counts, "NOC-FRA", "athlete", "submitted"), 50);

    // The same people through two organisations at once (their locks are their own).
    let racers: Vec<_> = ["NOC-ITA", "NOC-ESP"]
        .into_iter()
        .map(|org| {
            let store = store.clone();
            let quotas = quotas.to_vec();
            tokio::spawn(async move {
                let mut out = Vec::new();
                for chunk in 0..4 {
                    let rows: Vec<_> = (0..5).map(|i| person(org, "athlete", &format!("both-{chunk}-{i}"))).collect();
                    out.extend(store.add_accreditations(&rows, &quotas).await.unwrap());
                }
                out
            })
        })
        .collect();
    let mut sides = Vec::new();
    for r in racers {
        sides.push(r.await.unwrap());
    }
    for (x, y) in sides[0].iter().zip(&sides[1]) {
        match (x, y) {
            (Added::Added(a), Added::Duplicate(b)) | (Added::Duplicate(b), Added::Added(a)) => assert_eq!(a, b),
            other => panic!("one person stored once, the other offer its duplicate: {other:?}"),
        }
    }
    let counts = store.accreditation_counts().await.unwrap();
    assert_eq!(
        count(&counts, "NOC-ITA", "athlete", "submitted") + count(&counts, "NOC-ESP", "athlete", "submitted"),
        20
    );
}

pub async fn accreditations_survive_a_restart(h: Box<dyn Harness>) {
    let store = h.open().await;
    let quotas = [quota("NOC-FRA", "athlete", 2)];
    store.put_organisation("NOC-FRA", r#"{"officers":["a@example.org"]}"#).await.unwrap();
    let mut rows = vec![person("NOC-FRA", "athlete", "x"), person("NOC-FRA", "athlete", "y")];
    rows[0].photo = Some(b"photo x".to_vec());
    let out = store.add_accreditations(&rows, &quotas).await.unwrap();
    let (x, y) = (added(out[0]), added(out[1]));
    let row = get(&*store, y).await;
    assert!(store.update_accreditation(&to_state(&row, "approved", T0.plus_secs(3))).await.unwrap());
    let hand =
        StoredHandOver { person: x, serial: 1, desk: "D1".into(), at: T0.plus_secs(9), by: "op".into(), flagged: true };
    assert_eq!(store.record_hand_overs(std::slice::from_ref(&hand)).await.unwrap(), 1);
    let (before_x, before_y) = (get(&*store, x).await, get(&*store, y).await);
    let counts = store.accreditation_counts().await.unwrap();
    drop(store);

    let store = h.open().await;
    assert_eq!(
        store.organisations().await.unwrap(),
        vec![("NOC-FRA".to_string(), r#"{"officers":["a@example.org"]}"#.to_string())]
    );
    assert_eq!((get(&*store, x).await, get(&*store, y).await), (before_x, before_y));
    assert_eq!(store.accreditation_counts().await.unwrap(), counts);
    assert_eq!(store.hand_overs(x).await.unwrap(), vec![hand.clone()]);
    assert_eq!(store.record_hand_overs(&[hand]).await.unwrap(), 0);
    assert_eq!(
        store
            .add_accreditations(&[person("NOC-FRA", "athlete", "x"), person("NOC-FRA", "athlete", "z")], &quotas)
            .await
            .unwrap(),
        vec![Added::Duplicate(x), Added::OverQuota],
        "the duplicate keys and the quota's places are still there"
    );
    let new = added(
        store.add_accreditations(&[person("NOC-FRA", "media", "m")], &[quota("NOC-FRA", "media", 1)]).await.unwrap()[0],
    );
    assert!(new > y, "ids go on after a restart");
}
