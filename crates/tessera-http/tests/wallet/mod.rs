//! Phone tickets end to end: the shop sells, the wallet in headless Chromium activates and
//! draws the renewing code, a real QR decoder reads it from a screenshot, and a gate device
//! (the same `tessera_gate::Device` the `tessera gate` agent runs) decides, fed over the gate
//! API.

use super::{card, cdp, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;
use tessera_gate::bundle::{BundleTrust, SignedBundle};
use tessera_gate::device::Device;
use tessera_gate::engine::{FeedEvent, GateConfig, GateDecision};

/// The text of the QR code in a PNG, decoded with `rqrr` (a QR reader independent of the
/// wallet's encoder).
pub fn decode_qr(png: &[u8]) -> String {
    let img = image::load_from_memory(png).expect("a PNG").to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(img);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code on the page");
    let (_, text) = grids[0].decode().expect("the QR code decodes");
    text
}

/// A gate enrolled through the operator API, with its device on a temporary log.
pub struct TestGate {
    pub token: String,
    pub device: Device,
    pub feed_seq: i64,
    _dir: tempfile::TempDir,
}

impl TestGate {
    pub async fn enroll(t: &TestApp, ops: &str, gate_id: &str, venue: &str) -> TestGate {
        Self::enroll_as(t, ops, venue, GateConfig::new(gate_id, None)).await
    }

    /// [`TestGate::enroll`] with the gate's own configuration (a badge zone, say).
    pub async fn enroll_as(t: &TestApp, ops: &str, venue: &str, config: GateConfig) -> TestGate {
        let gate_id = config.gate_id.clone();
        let (s, e) = t
            .call("POST", "/api/v1/admin/gates/enroll", Some(ops), Some(json!({"gate_id": gate_id, "venue": venue})))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{e}");
        let token = e["token"].as_str().unwrap().to_string();
        let key: [u8; 32] = hex::decode(e["bundle_key"].as_str().unwrap()).unwrap().try_into().unwrap();
        let mut trust = BundleTrust::new();
        trust.insert(
            e["bundle_key_id"].as_u64().unwrap() as u32,
            ed25519_dalek::VerifyingKey::from_bytes(&key).unwrap(),
        );
        let (s, b) = t.call("GET", "/api/v1/gate/bundle", Some(&token), None).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let signed: SignedBundle = serde_json::from_value(b).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let device = Device::enroll(dir.path().join("gate.db"), config, trust, &signed, t.app.now().0).unwrap();
        TestGate { token, device, feed_seq: 0, _dir: dir }
    }

    pub fn scan(&mut self, text: &str, at_ms: i64) -> GateDecision {
        self.device.scan(text.as_bytes(), at_ms).unwrap()
    }

    /// Reports unsynced decisions and applies the venue feed, as the agent does.
    pub async fn sync(&mut self, t: &TestApp) -> Value {
        let gate_id = self.device.config().gate_id.clone();
        let scans: Vec<_> =
            self.device.log().unsynced(1000).unwrap().iter().map(|d| tessera_gate::wire::report(&gate_id, d)).collect();
        let last = scans.last().map(|s| s.device_seq);
        let (s, reply) = t
            .call(
                "POST",
                "/api/v1/gate/sync",
                Some(&self.token),
                Some(json!({"scans": scans, "after_seq": self.feed_seq, "badges_version": self.device.engine().badges_version()})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{reply}");
        if let Some(last) = last {
            self.device.mark_synced(last).unwrap();
        }
        let feed: Vec<tessera_wire::FeedEvent> = serde_json::from_value(reply["feed"].clone()).unwrap();
        let events: Vec<FeedEvent> = feed.iter().filter_map(|e| tessera_gate::wire::feed_event(e, &gate_id)).collect();
        self.feed_seq = reply["feed_seq"].as_i64().unwrap();
        self.device.apply_feed(&events, Some(self.feed_seq)).unwrap();
        if let Some(badges) = reply.get("badges").filter(|b| !b.is_null()) {
            self.device.apply_badges(&serde_json::from_value(badges.clone()).unwrap());
        }
        reply
    }
}

/// A fan who bought one ticket for BKB01 (venue BRC), with the clock an hour before the session.
pub async fn fan_with_ticket(t: &TestApp, n: usize) -> (String, String) {
    let fan = t.fan(n).await;
    let cat = t.sale(&[&fan]).await;
    let buy = json!({"items": [{"category_id": cat, "quantity": 1}], "card": card("4242 4242 4242 4242")});
    let r = t
        .http
        .post(format!("{}/api/v1/phases/P1/orders", t.base))
        .bearer_auth(&fan)
        .header("Idempotency-Key", format!("wallet-{n}"))
        .json(&buy)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let order: Value = r.json().await.unwrap();
    let code = order["tickets"][0]["code"].as_str().unwrap().to_string();
    // BKB01 starts a day after T0: an hour before it, the ticket can be activated.
    t.clock.set(tessera_store::testsuite::T0.plus_secs(86_400 - 3600));
    (fan, code)
}

const WALLET_READY: &str =
    "(() => { const c = document.querySelector('canvas.qr'); return !!c && !!c.dataset.step; })()";

async fn open_wallet(chromium: &str, t: &TestApp, fan: &str) -> cdp::Browser {
    let mut b = cdp::Browser::start(chromium).await;
    // A phone's screen.
    b.call(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": 412, "height": 915, "deviceScaleFactor": 1, "mobile": true}),
    )
    .await;
    b.set_cookie(&t.base, "tessera_session", fan).await;
    b.goto(&format!("{}/wallet", t.base)).await;
    b
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_ticket_activates_in_chromium_and_its_screenshot_is_admitted_once() {
    let Some(chromium) =
        cdp::chromium_or_skip("a_phone_ticket_activates_in_chromium_and_its_screenshot_is_admitted_once")
    else {
        return;
    };
    let t = TestApp::start().await;
    let (fan, code) = fan_with_ticket(&t, 1).await;
    let ops = t.operator().await;

    let mut phone = open_wallet(chromium, &t, &fan).await;
    phone.wait_for(WALLET_READY, Duration::from_secs(30)).await;
    let page = phone.eval("document.getElementById('w-tickets').innerText").await;
    let page = page.as_str().unwrap();
    assert!(page.contains("Session BKB01") && page.contains("New code in"), "{page}");
    assert!(page.contains("Gate A") && page.contains("Row 1 Seat 1"), "{page}");
    // The device key cannot be read out of the browser.
    let exported = phone
        .eval_async(
            "TesseraWallet.getAll().then(async (rs) => { try { await crypto.subtle.exportKey('pkcs8', rs[0].key); return 'exported'; } \
             catch (e) { return 'refused'; } })",
        )
        .await;
    assert_eq!(exported, json!("refused"));

    let shot = phone.screenshot().await;
    let text = decode_qr(&shot);
    assert!(text.starts_with("T1:"), "{text}");
    let mut gate = TestGate::enroll(&t, &ops, "BRC-1", "BRC").await;
    let now_ms = t.app.now_ms() + 2_000;
    let d = gate.scan(&text, now_ms);
    assert_eq!(d.reason, "valid", "{d:?}");
    assert_eq!(d.session, "BKB01");
    // The same code again: already used, here.
    let again = gate.scan(&text, now_ms + 1_000);
    assert_eq!(again.reason, "already_used");
    assert_eq!(again.previous.as_ref().unwrap().gate_id, "BRC-1");

    // The same screenshot once its window has passed, at a gate that never saw it: refused as
    // a stale code, not for having entered.
    let mut other = TestGate::enroll(&t, &ops, "BRC-2", "BRC").await;
    let late = other.scan(&text, now_ms + 36_000);
    assert_eq!(late.reason, "expired_code", "{late:?}");

    // The admission reaches the central system, and from it the other gate.
    gate.sync(&t).await;
    other.sync(&t).await;
    let fresh = decode_qr(&phone.screenshot().await);
    let second = other.scan(&fresh, t.app.now_ms() + 3_000);
    assert_eq!(second.reason, "already_used", "{second:?}");
    // The wallet says the ticket was used, and draws no more codes for it.
    let (_, w) = t.call("GET", "/api/v1/wallet", Some(&fan), None).await;
    assert_eq!(
        (w["tickets"][0]["state"].as_str(), w["tickets"][0]["entered_at_ms"].as_i64()),
        (Some("used"), Some(now_ms))
    );
    phone.goto(&format!("{}/wallet", t.base)).await;
    let used = "(() => { const u = document.querySelector('#w-tickets .used'); return !!u && u.textContent.includes('Used'); })()";
    phone.wait_for(used, Duration::from_secs(30)).await;
    assert_eq!(phone.eval("document.querySelectorAll('canvas.qr').length").await, json!(0));
    let (_, o) = t.call("GET", "/api/v1/admin/gates", Some(&ops), None).await;
    assert_eq!(o["gates"].as_array().unwrap().len(), 2, "{o}");
    assert_eq!(o["gates"][0]["online"], true, "{o}");
    let entries: i64 =
        o["figures"]["entries_per_minute"].as_array().unwrap().iter().map(|e| e[2].as_i64().unwrap()).sum();
    assert_eq!(entries, 1, "{o}");
    let refusals = o["figures"]["refusals"].as_array().unwrap();
    assert!(refusals.iter().any(|r| r[0] == "already_used") && refusals.iter().any(|r| r[0] == "expired_code"), "{o}");
    // The operator's page charts them; /metrics counts them.
    let page = t
        .http
        .get(format!("{}/operator/gates", t.base))
        .header("cookie", format!("tessera_session={ops}"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("c-entries"));
    let metrics = t.metrics().await;
    assert!(metrics.contains("tessera_gate_scans_total{outcome=\"refused\",reason=\"expired_code\"}"), "{metrics}");
    assert!(metrics.contains("\ntessera_gates_online 2\n"), "{metrics}");
    assert!(metrics.contains("tessera_gate_last_sync_seconds{gate=\"BRC-2\"}"), "{metrics}");
    // The wallet still lists the ticket, as used.
    let (_, w) = t.call("GET", "/api/v1/wallet", Some(&fan), None).await;
    assert_eq!(w["tickets"][0]["code"], json!(code));
    assert_eq!(w["tickets"][0]["state"], "used");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wallet_data_copied_to_another_browser_profile_makes_refused_codes() {
    let Some(chromium) = cdp::chromium_or_skip("wallet_data_copied_to_another_browser_profile_makes_refused_codes")
    else {
        return;
    };
    let t = TestApp::start().await;
    let (fan, _code) = fan_with_ticket(&t, 1).await;
    let ops = t.operator().await;
    let mut phone = open_wallet(chromium, &t, &fan).await;
    phone.wait_for(WALLET_READY, Duration::from_secs(30)).await;
    // Everything the wallet stored that can be read out: the pass and the ticket's details.
    let stolen = phone.eval_async("TesseraWallet.getAll().then((rs) => JSON.stringify({ code: rs[0].code, pass: rs[0].pass, meta: rs[0].meta }))").await;

    // A second profile, signed in as the same fan: the server says the ticket lives on another
    // phone, so the copier installs the stolen pass beside the only key it can have, its own.
    let mut copy = open_wallet(chromium, &t, &fan).await;
    copy.wait_for("document.body.innerText.includes('active on another phone')", Duration::from_secs(30)).await;
    let install = format!(
        "(async () => {{ const s = JSON.parse({}); const k = await crypto.subtle.generateKey({{ name: 'ECDSA', namedCurve: 'P-256' }}, false, ['sign']); \
         await TesseraWallet.put({{ code: s.code, pass: s.pass, key: k.privateKey, meta: s.meta }}); return true; }})()",
        serde_json::to_string(stolen.as_str().unwrap()).unwrap()
    );
    assert_eq!(copy.eval_async(&install).await, json!(true));
    copy.goto(&format!("{}/wallet", t.base)).await;
    copy.wait_for(WALLET_READY, Duration::from_secs(30)).await;
    let text = decode_qr(&copy.screenshot().await);
    let mut gate = TestGate::enroll(&t, &ops, "BRC-1", "BRC").await;
    let d = gate.scan(&text, t.app.now_ms() + 2_000);
    assert_eq!(d.reason, "bad_device_signature", "{d:?}");
    // The genuine phone still gets in.
    let genuine = decode_qr(&phone.screenshot().await);
    assert_eq!(gate.scan(&genuine, t.app.now_ms() + 2_000).reason, "valid");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transferred_tickets_old_code_is_refused() {
    let Some(chromium) = cdp::chromium_or_skip("a_transferred_tickets_old_code_is_refused") else { return };
    let t = TestApp::start().await;
    let (fan, code) = fan_with_ticket(&t, 1).await;
    let friend = t.fan(2).await;
    let ops = t.operator().await;
    let mut phone = open_wallet(chromium, &t, &fan).await;
    phone.wait_for(WALLET_READY, Duration::from_secs(30)).await;
    let old = decode_qr(&phone.screenshot().await);
    let mut gate = TestGate::enroll(&t, &ops, "BRC-1", "BRC").await;
    gate.sync(&t).await;

    // The fan gives the ticket from the wallet's own form (no browser prompt box).
    phone.eval("document.querySelector('#w-tickets button[data-act=transfer]').click()").await;
    phone
        .wait_for(
            "document.querySelector('form.transfer') && !document.querySelector('form.transfer').hidden",
            Duration::from_secs(5),
        )
        .await;
    phone
        .eval("(() => { const f = document.querySelector('form.transfer'); f.elements.to.value = 'fan2@example.org'; f.requestSubmit(); return true; })()")
        .await;
    phone
        .wait_for(
            "document.getElementById('w-tickets').innerText.includes('Offered to fan2@example.org')",
            Duration::from_secs(15),
        )
        .await;
    let (_, offered) = t.call("GET", "/api/v1/transfers", Some(&friend), None).await;
    assert_eq!(offered[0]["ticket_code"], json!(code), "{offered}");
    let id = offered[0]["id"].as_i64().unwrap();
    let (s, b) = t.call("POST", &format!("/api/v1/transfers/{id}/accept"), Some(&friend), None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    // The gate learns the revocation from its feed; the code captured before is refused.
    gate.sync(&t).await;
    let d = gate.scan(&old, t.app.now_ms() + 2_000);
    assert_eq!(d.reason, "revoked", "{d:?}");
    // The new holder activates on their phone and gets in.
    let mut friends_phone = open_wallet(chromium, &t, &friend).await;
    friends_phone.wait_for(WALLET_READY, Duration::from_secs(30)).await;
    let new = decode_qr(&friends_phone.screenshot().await);
    let d = gate.scan(&new, t.app.now_ms() + 2_000);
    assert_eq!(d.reason, "valid", "{d:?}");
    assert_eq!(d.holder, "Fan");
}

/// Bad input on the tickets and gate APIs: a precise refusal, and nothing changes.
#[tokio::test]
async fn phone_ticket_and_gate_apis_refuse_bad_input_and_change_nothing() {
    let t = TestApp::start().await;
    let (fan, code) = fan_with_ticket(&t, 1).await;
    let other = t.fan(2).await;
    let ops = t.operator().await;
    let key = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
    let raw = key.verifying_key().to_encoded_point(false);
    use base64::Engine;
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let path = format!("/api/v1/tickets/{code}/activate");
    for (body, status, what) in [
        (json!({"device_key": "!!"}), StatusCode::UNPROCESSABLE_ENTITY, "not base64url"),
        (json!({"device_key": b64(&[4u8; 65])}), StatusCode::UNPROCESSABLE_ENTITY, "not a point"),
        (json!({"device_key": b64(&[1u8; 12])}), StatusCode::UNPROCESSABLE_ENTITY, "wrong length"),
        (json!({"device_key": b64(raw.as_bytes()), "extra": 1}), StatusCode::UNPROCESSABLE_ENTITY, "unknown field"),
    ] {
        let (s, b) = t.call("POST", &path, Some(&fan), Some(body)).await;
        assert_eq!(s, status, "{what}: {b}");
    }
    // Someone else's ticket reads as unknown; no credential was made by any of the above.
    let (s, _) = t.call("POST", &path, Some(&other), Some(json!({"device_key": b64(raw.as_bytes())}))).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(t.app.store.holding(&code).await.unwrap().unwrap().credential.is_none());
    // Too early: a day before the session, the ticket says when it activates.
    t.clock.advance(-86_400);
    let (s, b) = t.call("POST", &path, Some(&fan), Some(json!({"device_key": b64(raw.as_bytes())}))).await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    assert!(b["error"]["message"].as_str().unwrap().contains("can be activated from"), "{b}");
    t.clock.advance(86_400);
    let (s, b) = t.call("POST", &path, Some(&fan), Some(json!({"device_key": b64(raw.as_bytes())}))).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    // A second phone without `replace` is refused; the pass in force stays.
    let (s, _) = t.call("POST", &path, Some(&fan), Some(json!({"device_key": b64(raw.as_bytes())}))).await;
    assert_eq!(s, StatusCode::CONFLICT);

    // Transfer to oneself, to nobody, twice.
    let tr = format!("/api/v1/tickets/{code}/transfer");
    assert_eq!(
        t.call("POST", &tr, Some(&fan), Some(json!({"to_email": "fan1@example.org"}))).await.0,
        StatusCode::CONFLICT
    );
    assert_eq!(
        t.call("POST", &tr, Some(&fan), Some(json!({"to_email": "nobody@example.org"}))).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        t.call("POST", &tr, Some(&fan), Some(json!({"to_email": "not an email"}))).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert!(t.app.transfers(&t.app.authenticate(&fan).await.unwrap()).await.unwrap().is_empty());

    // Resale: list at face value with the fees; the seller cannot buy it; a declined card
    // changes nothing; a good card moves the ticket once.
    let (s, l) = t.call("POST", &format!("/api/v1/tickets/{code}/resale"), Some(&fan), None).await;
    assert_eq!(s, StatusCode::CREATED, "{l}");
    assert_eq!(
        (l["price"].as_i64(), l["buyer_fee"].as_i64(), l["seller_fee"].as_i64()),
        (Some(4500), Some(450), Some(225))
    );
    // The public list tells what is sold, not whose ticket it is nor the code it goes by.
    let (_, public) = t.call("GET", "/api/v1/resale", None, None).await;
    let listed = &public.as_array().unwrap()[0];
    assert_eq!(listed["id"], l["id"]);
    let text = public.to_string();
    assert!(!text.contains(&code) && listed.get("seller").is_none() && listed.get("ticket_id").is_none(), "{text}");
    let buy = format!("/api/v1/resale/{}/buy", l["id"]);
    let (s, _) = t
        .call("POST", &buy, Some(&fan), Some(json!({"idempotency_key": "r1", "card": card("4242 4242 4242 4242")})))
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, b) = t
        .call("POST", &buy, Some(&other), Some(json!({"idempotency_key": "r2", "card": card("4000 0000 0000 0002")})))
        .await;
    assert_eq!(s, StatusCode::PAYMENT_REQUIRED, "{b}");
    assert_eq!(
        t.app.store.holding(&code).await.unwrap().unwrap().account_id,
        t.app.authenticate(&fan).await.unwrap().account_id
    );
    let captures = t.payments.capture_count();
    for _ in 0..2 {
        let (s, b) = t
            .call(
                "POST",
                &buy,
                Some(&other),
                Some(json!({"idempotency_key": "r3", "card": card("4242 4242 4242 4242")})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    assert_eq!(t.payments.capture_count(), captures + 1, "one charge for the retried purchase");
    let h = t.app.store.holding(&code).await.unwrap().unwrap();
    assert_eq!(h.account_id, t.app.authenticate(&other).await.unwrap().account_id);
    assert!(h.credential.is_none(), "the seller's credential is revoked");

    // The gate API: no token, a fan's token, another gate's scans, inconsistent scans.
    assert_eq!(t.call("GET", "/api/v1/gate/bundle", None, None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(t.call("GET", "/api/v1/gate/bundle", Some(&fan), None).await.0, StatusCode::UNAUTHORIZED);
    let gate = TestGate::enroll(&t, &ops, "BRC-1", "BRC").await;
    let scan = |gate_id: &str, admitted: bool, reason: &str| {
        json!({"gate_id": gate_id, "device_seq": 1, "ticket_id": 1, "serial": 1, "session_code": "BKB01",
               "entrance": "", "admitted": admitted, "reason": reason, "at_ms": 1})
    };
    let mut elsewhere = scan("BRC-1", true, "valid");
    elsewhere["session_code"] = json!("ATH01");
    for (body, status) in [
        (json!({"scans": [scan("BRC-2", true, "valid")]}), StatusCode::FORBIDDEN),
        // An admission to a session at another venue (STF): a tampered gate.
        (json!({"scans": [elsewhere]}), StatusCode::FORBIDDEN),
        (json!({"scans": [scan("BRC-1", true, "revoked")]}), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({"scans": [scan("BRC-1", false, "valid")]}), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({"scans": "many"}), StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        let (s, b) = t.call("POST", "/api/v1/gate/sync", Some(&gate.token), Some(body)).await;
        assert_eq!(s, status, "{b}");
    }
    assert!(t.app.store.gates().await.unwrap().is_empty(), "no refused batch was recorded");
    // Enrolment: unknown venue, unknown entrance, bad gate id; fans may not enrol gates.
    for (body, status) in [
        (json!({"gate_id": "X", "venue": "NOPE"}), StatusCode::NOT_FOUND),
        (json!({"gate_id": "X", "venue": "BRC", "entrance": "Gate-Z"}), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({"gate_id": "a.b", "venue": "BRC"}), StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        assert_eq!(t.call("POST", "/api/v1/admin/gates/enroll", Some(&ops), Some(body)).await.0, status);
    }
    let (s, _) =
        t.call("POST", "/api/v1/admin/gates/enroll", Some(&fan), Some(json!({"gate_id": "X", "venue": "BRC"}))).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Annulling an admission that does not exist.
    let (s, _) = t.call("POST", "/api/v1/admin/entries/999/annul", Some(&ops), Some(json!({"reason": "jam"}))).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

/// Enrolled gates share a venue's address: their token takes them past the per-address limit
/// that still stops an anonymous client from the same address.
#[tokio::test]
async fn enrolled_gates_pass_the_per_address_limit() {
    use tessera_airlock::gcra::Quota;
    let q = |per_second, burst| Quota { per_second, burst };
    let t = TestApp::start_with(
        tessera_app::airlock::EdgeLimits {
            per_address: q(1.0, 3),
            per_network: q(1e6, 100_000),
            throttled: q(1.0, 1),
            per_gate: q(5.0, 20),
        },
        tessera_http::serve::ServeLimits::default(),
    )
    .await;
    t.app.import_catalogue(&tessera_store::testsuite::fixture()).await.unwrap();
    let token = t.app.enroll_gate("G1", "BRC", "", 3600).await.unwrap();
    let c = reqwest::Client::builder().local_address(std::net::IpAddr::from([127, 0, 11, 1])).build().unwrap();
    for _ in 0..10 {
        let r =
            c.post(format!("{}/api/v1/gate/sync", t.base)).bearer_auth(&token).json(&json!({})).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    let forged = format!("{token}x");
    let mut limited = false;
    for _ in 0..10 {
        let r =
            c.post(format!("{}/api/v1/gate/sync", t.base)).bearer_auth(&forged).json(&json!({})).send().await.unwrap();
        limited |= r.status() == StatusCode::TOO_MANY_REQUESTS;
    }
    assert!(limited, "a forged gate token gets no exemption");
}

/// The wallet speaks French to a fan who chose it: the page's script writes its own texts in
/// the page's language.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wallet_speaks_french_in_chromium() {
    let Some(chromium) = cdp::chromium_or_skip("the_wallet_speaks_french_in_chromium") else { return };
    let t = TestApp::start().await;
    let (fan, _code) = fan_with_ticket(&t, 1).await;
    let mut phone = cdp::Browser::start(chromium).await;
    phone.set_cookie(&t.base, "tessera_session", &fan).await;
    phone.set_cookie(&t.base, "tessera_lang", "fr").await;
    phone.goto(&format!("{}/wallet", t.base)).await;
    phone.wait_for(WALLET_READY, Duration::from_secs(30)).await;
    let page = phone.eval("document.body.innerText").await;
    let page = page.as_str().unwrap();
    assert!(page.contains("Mon portefeuille") && page.contains("Nouveau code dans"), "{page}");
    assert!(page.contains("Transférer") && !page.contains("New code in"), "{page}");
}

/// Airplane mode: once the wallet has been loaded, it opens and draws fresh, admissible codes
/// with the network cut (the service worker serves the page, IndexedDB holds pass and key).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wallet_works_offline_once_loaded() {
    let Some(chromium) = cdp::chromium_or_skip("the_wallet_works_offline_once_loaded") else { return };
    let t = TestApp::start().await;
    let (fan, _code) = fan_with_ticket(&t, 1).await;
    let ops = t.operator().await;
    let mut phone = open_wallet(chromium, &t, &fan).await;
    phone.wait_for(WALLET_READY, Duration::from_secs(30)).await;
    // The service worker takes control, then the page is loaded once more through it.
    phone.wait_for("!!navigator.serviceWorker.controller", Duration::from_secs(30)).await;
    phone.goto(&format!("{}/wallet", t.base)).await;
    phone.wait_for(WALLET_READY, Duration::from_secs(30)).await;

    phone.call("Network.enable", json!({})).await;
    phone
        .call(
            "Network.emulateNetworkConditions",
            json!({"offline": true, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}),
        )
        .await;
    phone.goto(&format!("{}/wallet", t.base)).await;
    // A new document, which found the network gone and read the phone's own storage.
    let offline =
        "(() => { const n = document.getElementById('w-net'); return !!n && n.textContent.includes('Offline'); })()";
    phone.wait_for(offline, Duration::from_secs(30)).await;
    phone.wait_for(WALLET_READY, Duration::from_secs(30)).await;
    let text = decode_qr(&phone.screenshot().await);
    let mut gate = TestGate::enroll(&t, &ops, "BRC-1", "BRC").await;
    let d = gate.scan(&text, t.app.now_ms() + 2_000);
    assert_eq!(d.reason, "valid", "{d:?}");
}
