//! Accreditation over HTTP, as an organisation's officer, staff, a vetting officer, a desk and
//! a gate meet it: quotas and duplicates where the applications are stored, screening before
//! any badge, a reprint voiding the old card, a late hit revoking, the desk's encrypted list,
//! a CSV import with its line report, and no personal data in clear on disk.

use super::TestApp;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tessera_accreditation::{DeskCode, DeskKey, GateContext, PersonId, VenueCode, ZoneCode};
use tessera_store::Role;

async fn signed_in(t: &TestApp, email: &str, role: Role) -> String {
    let a = t.app.create_account(email, "accreditation passphrase", "Staff", role).await.unwrap();
    t.app.store.mark_email_verified(a.id).await.unwrap();
    let (s, b) = t
        .call("POST", "/api/v1/auth/login", None, Some(json!({"email": email, "password": "accreditation passphrase"})))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b["token"].as_str().unwrap().to_string()
}

async fn account_id(t: &TestApp, email: &str) -> i64 {
    let email = tessera_domain::Email::parse(email).unwrap();
    t.app.store.account_by_email(&email).await.unwrap().unwrap().id.0
}

fn person(family: &str, document: &str) -> Value {
    json!({
        "given_name": "Marie-José", "family_name": family, "date_of_birth": "1968-05-09", "nationality": "FRA",
        "document_number": document, "category": "A", "function": "athlete", "organisation": "FRA",
        "venues": "STA OLV", "zones": "2 8", "privileges": "DIN TA"
    })
}

/// POSTs `body` to the application's `action` (`decision`, `badge`, `hit`...) as `token`.
async fn post_on(t: &TestApp, token: &str, id: i64, action: &str, body: Value) -> (StatusCode, Value) {
    t.call("POST", &format!("/api/v1/accreditation/applications/{id}/{action}"), Some(token), Some(body)).await
}

async fn state(t: &TestApp, staff: &str, id: i64) -> String {
    let (s, v) = t.call("GET", &format!("/api/v1/accreditation/applications/{id}"), Some(staff), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["state"].as_str().unwrap().to_string()
}

/// Runs the screening loop against the sandbox authority until `id` leaves `screening`,
/// moving the clock past each answer's delay (and past a transient error's resend).
async fn screen(t: &TestApp, staff: &str, id: i64) -> String {
    for _ in 0..30 {
        t.app.screening_pass().await.unwrap();
        t.clock.advance(700);
        t.app.screening_pass().await.unwrap();
        let st = state(t, staff, id).await;
        let (_, v) = t.call("GET", &format!("/api/v1/accreditation/applications/{id}"), Some(staff), None).await;
        if st != "screening" || v["screening_passed"] == json!(true) {
            return st;
        }
    }
    panic!("application {id} never came back from screening");
}

#[tokio::test]
async fn from_application_to_badge_with_quotas_screening_reprint_revocation_and_desk() {
    let t = TestApp::start().await;
    t.app.accreditations.use_quick_sandbox(7);
    // The security engine runs, so that every read of personal data is seen as an event.
    let (_stop, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(tessera_app::soc::soc_loop(t.app.clone(), stop_rx));
    let mut events = t.app.soc_subscribe();
    let staff = signed_in(&t, "staff@example.org", Role::Accreditation).await;
    let vetting = signed_in(&t, "vetting@example.org", Role::Vetting).await;
    let desk = signed_in(&t, "desk@example.org", Role::Desk).await;
    let officer = t.fan(1).await;
    let stranger = t.fan(2).await;
    let officer_id = account_id(&t, "fan1@example.org").await;

    // Only staff create organisations; an officer of FRA with room for two athletes.
    let org = json!({"code": "FRA", "name": "Comité national olympique", "kind": "Noc", "officers": [officer_id], "quotas": {"A": 2}});
    assert_eq!(
        t.call("POST", "/api/v1/accreditation/organisations", Some(&officer), Some(org.clone())).await.0,
        StatusCode::FORBIDDEN
    );
    let (s, v) = t.call("POST", "/api/v1/accreditation/organisations", Some(&staff), Some(org)).await;
    assert_eq!(s, StatusCode::OK, "{v}");

    // Submissions: only the organisation's officers; duplicates and the quota where stored.
    let submit = |token: String, body: Value| {
        let t = &t;
        async move { t.call("POST", "/api/v1/accreditation/applications", Some(&token), Some(body)).await }
    };
    assert_eq!(submit(stranger.clone(), person("Pérec", "12AB34567")).await.0, StatusCode::FORBIDDEN);
    // With a photo: a PNG, checked, cropped to the card's ratio.
    let mut with_photo = person("Pérec", "12AB34567");
    let mut png = Vec::new();
    image::RgbImage::from_fn(600, 900, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 90]))
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let mut bad_photo = with_photo.clone();
    bad_photo["photo"] =
        json!(base64::Engine::encode(&base64::engine::general_purpose::STANDARD, b"GIF89a not a photo"));
    let (s, v) = submit(officer.clone(), bad_photo).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    with_photo["photo"] = json!(base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &png));
    let (s, v) = submit(officer.clone(), with_photo).await;
    assert_eq!((s, v["outcome"].as_str()), (StatusCode::OK, Some("added")), "{v}");
    let id = v["id"].as_i64().unwrap();
    // The same person, the name written differently: a duplicate, nothing stored.
    let (_, v) = submit(officer.clone(), person("PEREC", "12ab 34567")).await;
    assert_eq!((v["outcome"].as_str(), v["id"].as_i64()), (Some("duplicate"), Some(id)), "{v}");
    let (_, v) = submit(officer.clone(), person("Arron", "99ZZ11111")).await;
    assert_eq!(v["outcome"], "added", "{v}");
    let second = v["id"].as_i64().unwrap();
    let (_, v) = submit(officer.clone(), person("Bambuck", "55YY22222")).await;
    assert_eq!(v["outcome"], "over_quota", "{v}");
    // A bad field is named; nothing is stored.
    let mut bad = person("Futura", "11QQ00000");
    bad["date_of_birth"] = json!("2999-01-01");
    let (s, v) = submit(officer.clone(), bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v.to_string().contains("date_of_birth"), "{v}");
    let (_, figures) = t.call("GET", "/api/v1/accreditation/figures", Some(&staff), None).await;
    assert_eq!(figures["by_state"]["submitted"], 2, "{figures}");

    // No badge before screening has passed, whoever asks.
    let (s, v) = post_on(&t, &staff, id, "decision", json!({"decision": "approve"})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let (s, _) = post_on(&t, &officer, id, "decision", json!({"decision": "approve"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(screen(&t, &staff, id).await, "screening");
    let (s, v) = post_on(&t, &staff, id, "decision", json!({"decision": "approve"})).await;
    assert_eq!((s, v["state"].as_str()), (StatusCode::OK, Some("approved")), "{v}");

    // The badge, verified offline as a gate would, with the key the revocation feed gives.
    let (s, badge) = post_on(&t, &staff, id, "badge", json!({})).await;
    assert_eq!(s, StatusCode::OK, "{badge}");
    assert_eq!(badge["serial"], 0);
    let (s, again) = post_on(&t, &staff, id, "badge", json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT, "a second card only as a reprint: {again}");
    let (_, rev) = t.call("GET", "/api/v1/accreditation/revocations", Some(&staff), None).await;
    let key: [u8; 32] = hex::decode(rev["public_key"].as_str().unwrap()).unwrap().try_into().unwrap();
    let mut keys = tessera_credential::TrustedKeys::new();
    keys.insert(
        tessera_app::accreditation::BADGE_KEY_ID,
        ed25519_dalek::VerifyingKey::from_bytes(&key).unwrap(),
        0,
        i64::MAX,
    )
    .unwrap();
    let (venue, zone) = (VenueCode::parse("STA").unwrap(), ZoneCode::parse("2").unwrap());
    let now = t.app.now().0;
    let gate = |text: &str, rev: &Value| {
        let revoked: Vec<u64> = serde_json::from_value(rev["revoked"].clone()).unwrap();
        let min: Vec<(u64, u16)> = serde_json::from_value(rev["current_serial"].clone()).unwrap();
        let check =
            move |p: PersonId, serial: u16| revoked.contains(&p.0) || min.iter().any(|(q, m)| *q == p.0 && serial < *m);
        tessera_accreditation::verify(
            text,
            &keys,
            &GateContext { venue: &venue, zone: &zone, now, policy: Default::default() },
            &check,
        )
    };
    let first_card = badge["text"].as_str().unwrap().to_string();
    assert!(gate(&first_card, &rev).is_admitted(), "{:?}", gate(&first_card, &rev));
    // Real gates, enrolled at a venue: the bundle carries the badge key. An athlete's card
    // opens the athletes' zone (2) at the stadium, not the media zone (4), again and again.
    let ops = t.operator().await;
    t.sale(&[]).await;
    let gate_at = |zone: &str| {
        let mut config = tessera_gate::GateConfig::new(format!("BRC-Z{zone}"), None);
        config.badge_access = Some(("STA".into(), zone.into()));
        config
    };
    let mut athletes_gate = super::wallet::TestGate::enroll_as(&t, &ops, "BRC", gate_at("2")).await;
    let mut media_gate = super::wallet::TestGate::enroll_as(&t, &ops, "BRC", gate_at("4")).await;
    let at_ms = t.app.now_ms();
    let d = athletes_gate.scan(&first_card, at_ms);
    assert_eq!((d.outcome, d.reason, d.ticket_id), (tessera_gate::Outcome::Admitted, "valid", id), "{d:?}");
    assert!(athletes_gate.scan(&first_card, at_ms + 1000).admitted(), "badges enter again");
    assert_eq!(media_gate.scan(&first_card, at_ms).reason, "no_zone_access");
    let mut forged = first_card.clone();
    forged.replace_range(40..41, if &forged[40..41] == "A" { "B" } else { "A" });
    assert!(!gate(&forged, &rev).is_admitted());

    // A lost card: the reprint voids the first at every gate that has the new list.
    let (s, reprint) = post_on(&t, &staff, id, "badge", json!({"reprint": true})).await;
    assert_eq!((s, reprint["serial"].as_u64()), (StatusCode::OK, Some(1)), "{reprint}");
    let (_, rev) = t.call("GET", "/api/v1/accreditation/revocations", Some(&staff), None).await;
    assert!(!gate(&first_card, &rev).is_admitted(), "the lost card is void");
    // The gate learns it at its next sync (every 250 ms in the field).
    athletes_gate.sync(&t).await;
    assert_eq!(athletes_gate.scan(&first_card, at_ms + 2000).reason, "revoked");
    assert!(athletes_gate.scan(reprint["text"].as_str().unwrap(), at_ms + 2000).admitted());
    // The printable card of the reprint: a PDF with the photo and the QR image.
    let r = t
        .http
        .get(format!("{}/api/v1/accreditation/applications/{id}/card", t.base))
        .bearer_auth(&staff)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    let pdf = r.bytes().await.unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    assert!(pdf.windows(10).any(|w| w == b"/DCTDecode"), "the photo is embedded");
    assert_eq!(
        t.call("GET", &format!("/api/v1/accreditation/applications/{id}/card"), Some(&officer), None).await.0,
        StatusCode::FORBIDDEN
    );
    assert!(gate(reprint["text"].as_str().unwrap(), &rev).is_admitted());

    // The desk's list opens with the desk's key only, and names the card to hand over.
    let r =
        t.http.get(format!("{}/api/v1/accreditation/desks/PDV1/list", t.base)).bearer_auth(&desk).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let desk_key: [u8; 32] =
        hex::decode(r.headers()["tessera-desk-key"].to_str().unwrap()).unwrap().try_into().unwrap();
    let list = r.bytes().await.unwrap();
    let opened = tessera_accreditation::desk::open(
        &list,
        &DeskKey::from_bytes(desk_key),
        &ed25519_dalek::VerifyingKey::from_bytes(&key).unwrap(),
    )
    .unwrap();
    assert_eq!(opened.desk(), &DeskCode::parse("PDV1").unwrap());
    assert_eq!(opened.person(PersonId(id as u64)).map(|e| e.serial), Some(1));
    assert!(tessera_accreditation::desk::open(
        &list,
        &DeskKey::from_bytes([9; 32]),
        &ed25519_dalek::VerifyingKey::from_bytes(&key).unwrap()
    )
    .is_err());
    assert_eq!(
        t.call("GET", "/api/v1/accreditation/desks/PDV1/list", Some(&officer), None).await.0,
        StatusCode::FORBIDDEN
    );
    // Offline: the desk finds the holder by the document they show, checks the card against
    // its list, keeps the hand-over in its own log, and sends it when the network is back.
    let entry = opened.by_document("12AB34567");
    assert_eq!(entry.len(), 1, "found by the document the holder shows");
    let mut log = tessera_accreditation::HandOverLog::new();
    let handed =
        opened.hand_over(&log, entry[0].person, entry[0].serial, tessera_accreditation::AccountId(9), now).unwrap();
    log.merge([handed.clone()]);
    assert!(
        opened.hand_over(&log, entry[0].person, entry[0].serial, tessera_accreditation::AccountId(9), now).is_err(),
        "once"
    );
    let cards: Vec<Value> =
        log.records().map(|h| json!({"person": h.person.0, "serial": h.serial, "at": h.at})).collect();
    let hand = json!({ "cards": cards });
    let (s, v) = t.call("POST", "/api/v1/accreditation/desks/PDV1/hand-overs", Some(&desk), Some(hand.clone())).await;
    assert_eq!((s, v["new"].as_u64()), (StatusCode::OK, Some(1)), "{v}");
    let (_, v) = t.call("POST", "/api/v1/accreditation/desks/PDV1/hand-overs", Some(&desk), Some(hand)).await;
    assert_eq!(v["new"], 0, "an offline desk's sync sent twice counts once");

    // The desk says it works from its list now: one action, on the console's figures.
    let (s, v) =
        t.call("POST", "/api/v1/accreditation/desks/PDV1/mode", Some(&desk), Some(json!({"offline": true}))).await;
    assert_eq!((s, v["offline_mode"].as_bool()), (StatusCode::OK, Some(true)), "{v}");
    let (_, figures) = t.call("GET", "/api/v1/accreditation/figures", Some(&staff), None).await;
    let d = &figures["desks"][0];
    // The screening's answer came after the clock moved 700 s: the time the console shows.
    assert!(figures["screening_seconds"]["count"].as_u64() >= Some(1), "{figures}");
    assert!(figures["screening_seconds"]["max"].as_i64() >= Some(700), "{figures}");
    assert_eq!(
        (d["desk"].as_str(), d["offline_mode"].as_bool(), d["handed_over"].as_u64(), d["list_people"].as_u64()),
        (Some("PDV1"), Some(true), Some(1), Some(1)),
        "{figures}"
    );
    assert_eq!(d["switched_by"], "desk@example.org");
    assert_eq!(figures["cards_issued"], 2, "the first card and its reprint, printed centrally");
    // The desk's next sync (an empty one is its heartbeat) hears the switch back.
    let (s, v) =
        t.call("POST", "/api/v1/accreditation/desks/PDV1/hand-overs", Some(&desk), Some(json!({"cards": []}))).await;
    assert_eq!((s, v["new"].as_u64(), v["offline_mode"].as_bool()), (StatusCode::OK, Some(0), Some(true)), "{v}");

    // A late hit from the authority revokes every card; its place goes back to the quota.
    let (s, v) = post_on(&t, &vetting, id, "hit", json!({"reason": "late finding"})).await;
    assert_eq!((s, v["state"].as_str()), (StatusCode::OK, Some("revoked")), "{v}");
    let (_, rev) = t.call("GET", "/api/v1/accreditation/revocations", Some(&staff), None).await;
    assert!(!gate(reprint["text"].as_str().unwrap(), &rev).is_admitted(), "revoked at the gate");
    let reply = athletes_gate.sync(&t).await;
    assert!(reply["badges"]["revoked"].as_array().unwrap().contains(&json!(id)), "{reply}");
    assert_eq!(athletes_gate.scan(reprint["text"].as_str().unwrap(), at_ms + 3000).reason, "revoked");
    // Nothing new since: the next sync does not carry the list again.
    assert_eq!(athletes_gate.sync(&t).await.get("badges"), None);
    let (_, v) = submit(officer.clone(), person("Bambuck", "55YY22222")).await;
    assert_eq!(v["outcome"], "added", "the revoked place is free again: {v}");

    // The trail says who, when and why; the officer sees their own people, nobody else does.
    let (_, view) = t.call("GET", &format!("/api/v1/accreditation/applications/{id}"), Some(&officer), None).await;
    let actions: Vec<&str> = view["audit"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions.first(), Some(&"Submit"), "{view}");
    assert!(actions.contains(&"Approve") && actions.contains(&"ScreeningHit"), "{actions:?}");
    assert_eq!(view["application"]["family_name"], "Pérec");
    let (s, _) = t.call("GET", &format!("/api/v1/accreditation/applications/{id}"), Some(&stranger), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = t.call("GET", &format!("/api/v1/accreditation/applications/{second}"), Some(&stranger), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Every read of personal data was an event: the views, the badges, the card, the list.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mut reads = Vec::new();
    while let Ok(e) = events.try_recv() {
        if e.kind == tessera_detect::Kind::PersonalDataRead {
            reads.push((e.subject, e.message.clone().unwrap_or_default()));
        }
    }
    for what in ["accreditation application", "accreditation badge", "desk list PDV1"] {
        assert!(reads.iter().any(|(_, m)| m.starts_with(what)), "no `{what}` read logged: {reads:?}");
    }
    assert!(reads.iter().filter(|(s, _)| *s == Some(id as u64)).count() >= 5, "{reads:?}");

    // Nothing personal in clear in the database file (its write-ahead log included).
    drop(view);
    for entry in std::fs::read_dir(t._dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        for needle in ["Pérec", "PEREC", "Arron", "12AB34567", "Marie-José"] {
            assert!(!bytes.windows(needle.len()).any(|w| w == needle.as_bytes()), "`{needle}` in clear on disk");
        }
    }

    // After the Games: the personal data erased, the trail kept with the erasure in it.
    let erased = t.app.erase_accreditations(|_, _| {}).await.unwrap();
    assert_eq!(erased, 3, "everyone stored");
    let (s, v) = t.call("GET", &format!("/api/v1/accreditation/applications/{id}"), Some(&staff), None).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let row = t.app.store.accreditation(id).await.unwrap().unwrap();
    assert!(row.sealed.is_empty() && row.photo.as_deref() == Some(&[][..]), "nothing personal left");
    assert_eq!(row.state, "revoked");
    assert!(row.vetting.contains("Erase") && row.vetting.contains("ScreeningHit"), "{}", row.vetting);
    assert_eq!(t.app.erase_accreditations(|_, _| {}).await.unwrap(), 0, "erased once");
}

/// The badge on the holder's phone: the officer binds the phone's key, the phone signs a code
/// every step, a real gate admits the current code and refuses a screenshot, another phone and,
/// once the card is reprinted, the phone badge of the old card.
#[tokio::test]
async fn a_phone_badge_renews_its_code_at_the_gate_and_a_reprint_voids_it() {
    use base64::Engine as _;
    let t = TestApp::start().await;
    // Seed 7 clears the first person, as in the test above.
    t.app.accreditations.use_quick_sandbox(7);
    let staff = signed_in(&t, "staff@example.org", Role::Accreditation).await;
    let officer = t.fan(1).await;
    let stranger = t.fan(2).await;
    let officer_id = account_id(&t, "fan1@example.org").await;
    let org = json!({"code": "FRA", "name": "Comité national olympique", "kind": "Noc", "officers": [officer_id], "quotas": {"A": 2}});
    let (s, v) = t.call("POST", "/api/v1/accreditation/organisations", Some(&staff), Some(org)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, v) =
        t.call("POST", "/api/v1/accreditation/applications", Some(&officer), Some(person("Pérec", "12AB34567"))).await;
    let id = v["id"].as_i64().unwrap();
    assert_eq!(screen(&t, &staff, id).await, "screening");
    let (s, v) = post_on(&t, &staff, id, "decision", json!({"decision": "approve"})).await;
    assert_eq!(s, StatusCode::OK, "{v}");

    // The phone makes its key; WebCrypto exports the public half uncompressed.
    let phone = tessera_credential::fixture::device_key(21, b"phone");
    let raw = phone.verifying_key().to_encoded_point(false);
    let body = json!({"device_key": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw.as_bytes())});
    // The phone badge copies a card: none yet. Staff do not bind phones; another
    // organisation's officer is not told the application exists.
    let (s, v) = post_on(&t, &officer, id, "phone", body.clone()).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let (s, card) = post_on(&t, &staff, id, "badge", json!({})).await;
    assert_eq!(s, StatusCode::OK, "{card}");
    assert_eq!(post_on(&t, &staff, id, "phone", body.clone()).await.0, StatusCode::FORBIDDEN);
    assert_eq!(post_on(&t, &stranger, id, "phone", body.clone()).await.0, StatusCode::NOT_FOUND);
    let (s, v) = post_on(&t, &officer, id, "phone", json!({"device_key": "AAAA"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, bound) = post_on(&t, &officer, id, "phone", body.clone()).await;
    assert_eq!(s, StatusCode::OK, "{bound}");
    assert_eq!((bound["person"].as_i64(), bound["serial"].as_u64()), (Some(id), Some(0)), "{bound}");
    assert_eq!((bound["holder"].as_str(), bound["zones"].clone()), (Some("Marie-José PÉREC"), json!(["2", "8"])));
    let signed = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(bound["badge"].as_str().unwrap()).unwrap();
    let step_secs = u32::try_from(bound["step_secs"].as_u64().unwrap()).unwrap();
    let code_at = |key: &p256::ecdsa::SigningKey, signed: &[u8], secs: i64| {
        tessera_accreditation::phone_code(signed, key, tessera_credential::step_at(secs, step_secs))
    };

    // A real gate at the stadium's athletes' zone, enrolled with the venue's bundle.
    let ops = t.operator().await;
    t.sale(&[]).await;
    let mut config = tessera_gate::GateConfig::new("BRC-Z2", None);
    config.badge_access = Some(("STA".into(), "2".into()));
    let mut gate = super::wallet::TestGate::enroll_as(&t, &ops, "BRC", config).await;
    let (now, at_ms) = (t.app.now().0, t.app.now_ms());
    let d = gate.scan(&code_at(&phone, &signed, now), at_ms);
    assert_eq!(
        (d.kind, d.outcome, d.reason, d.ticket_id),
        (tessera_gate::Kind::Badge, tessera_gate::Outcome::Admitted, "valid", id),
        "{d:?}"
    );
    // A screenshot from a minute ago; the same badge signed by another phone; the printed card
    // still admits beside it.
    let d = gate.scan(&code_at(&phone, &signed, now - 60), at_ms);
    assert_eq!((d.kind, d.reason), (tessera_gate::Kind::Badge, "expired_code"), "{d:?}");
    let other = tessera_credential::fixture::device_key(22, b"phone");
    assert_eq!(gate.scan(&code_at(&other, &signed, now), at_ms).reason, "bad_device_signature");
    assert!(gate.scan(card["text"].as_str().unwrap(), at_ms).admitted());

    // A reprinted card voids the phone badge of the old serial at the next sync; binding again
    // gives the phone the new card.
    let (s, v) = post_on(&t, &staff, id, "badge", json!({"reprint": true})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    gate.sync(&t).await;
    let d = gate.scan(&code_at(&phone, &signed, now + 1), at_ms + 1000);
    assert_eq!(d.reason, "revoked", "{d:?}");
    let (s, again) = post_on(&t, &officer, id, "phone", body).await;
    assert_eq!((s, again["serial"].as_u64()), (StatusCode::OK, Some(1)), "{again}");
    let signed = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(again["badge"].as_str().unwrap()).unwrap();
    assert!(gate.scan(&code_at(&phone, &signed, now + 2), at_ms + 2000).admitted());

    // The page the phone opens: the script, allowed by the page's policy.
    let r = t.http.get(format!("{}/wallet/badge", t.base)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let policy = r.headers()["content-security-policy"].to_str().unwrap().to_string();
    let html = r.text().await.unwrap();
    assert!(html.contains("tessera-badge-code-v1") && html.contains("b-bind"), "{html}");
    assert!(policy.contains("'sha256-"), "{policy}");
}

#[tokio::test]
async fn a_csv_import_reports_every_bad_line_and_stores_the_good_ones() {
    let t = TestApp::start().await;
    let staff = signed_in(&t, "staff@example.org", Role::Accreditation).await;
    let officer = t.fan(1).await;
    let officer_id = account_id(&t, "fan1@example.org").await;
    let org = json!({"code": "AFP", "name": "Agence France-Presse", "kind": "MediaOutlet", "officers": [officer_id], "quotas": {"E": 3}});
    assert_eq!(t.call("POST", "/api/v1/accreditation/organisations", Some(&staff), Some(org)).await.0, StatusCode::OK);
    let csv = "given_name,family_name,date_of_birth,nationality,document_number,category,function,organisation,venues,zones,privileges\n\
        Ana,Uno,1980-01-01,ESP,E1000001,E,journalist,AFP,STA MPC,4 9,TM\n\
        Bea,Dos,1980-01-02,ESP,E1000002,E,journalist,AFP,STA,1,TM\n\
        Ana,Uno,1980-01-01,ESP,E1000001,E,journalist,AFP,STA,4,TM\n\
        Cid,Tres,1980-01-03,ESP,E1000003,E,journalist,XYZ,STA,4,TM\n\
        Dan,Cuatro,1980-01-04,ESP,E1000004,E,journalist,AFP,MPC,4,TM\n\
        Eva,Cinco,not a date,ESP,E1000005,E,journalist,AFP,MPC,4,TM\n";
    let r = t
        .http
        .post(format!("{}/api/v1/accreditation/imports", t.base))
        .bearer_auth(&officer)
        .header("Content-Type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let id = r.json::<Value>().await.unwrap()["id"].as_u64().unwrap();
    let mut status = Value::Null;
    for _ in 0..100 {
        status = t.call("GET", &format!("/api/v1/accreditation/imports/{id}"), Some(&officer), None).await.1;
        if status["done"] == json!(true) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(status["done"], true, "{status}");
    assert_eq!(status["failed"], Value::Null, "{status}");
    // The report is its importer's (and staff's): another account is told nothing.
    let stranger = t.fan(2).await;
    assert_eq!(
        t.call("GET", &format!("/api/v1/accreditation/imports/{id}"), Some(&stranger), None).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        t.call("GET", &format!("/api/v1/accreditation/imports/{id}"), Some(&staff), None).await.0,
        StatusCode::OK
    );
    assert_eq!((status["records"].as_u64(), status["added"].as_u64()), (Some(6), Some(2)), "{status}");
    assert_eq!(status["duplicates"], 1, "{status}");
    assert_eq!(status["rejected"], 3, "zone 1 outside category E, an unknown organisation, a bad date: {status}");
    let lines: Vec<u64> = status["errors"].as_array().unwrap().iter().map(|e| e["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, vec![3, 4, 5, 7], "{status}");
    let (_, figures) = t.call("GET", "/api/v1/accreditation/figures", Some(&staff), None).await;
    assert_eq!(figures["by_state"]["submitted"], 2, "{figures}");

    // A file that is not a CSV of applications stores nothing.
    let r = t
        .http
        .post(format!("{}/api/v1/accreditation/imports", t.base))
        .bearer_auth(&officer)
        .body("no,header,here\n1,2,3\n")
        .send()
        .await
        .unwrap();
    let id = r.json::<Value>().await.unwrap()["id"].as_u64().unwrap();
    let mut status = Value::Null;
    for _ in 0..100 {
        status = t.call("GET", &format!("/api/v1/accreditation/imports/{id}"), Some(&officer), None).await.1;
        if status["done"] == json!(true) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(status["failed"].as_str().is_some_and(|f| f.contains("column")), "{status}");
    let (_, figures) = t.call("GET", "/api/v1/accreditation/figures", Some(&staff), None).await;
    assert_eq!(figures["by_state"]["submitted"], 2, "{figures}");
}
