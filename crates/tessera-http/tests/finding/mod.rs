//! Finding a session: by sport and day in two clicks from the home page, by words, price and
//! seats left; bad filters are said, not ignored.

use super::TestApp;
use reqwest::StatusCode;
use tessera_store::testsuite::{fixture, T0};

/// Athletics on the 27th and 28th (Paris time), basketball on the 28th, a ceremony.
async fn catalogue(t: &TestApp) {
    let mut c = fixture();
    c.sessions[1].sport = "Basketball".into();
    c.sessions[1].starts_at = T0.plus_secs(2 * 86_400);
    c.sessions[1].ends_at = T0.plus_secs(2 * 86_400 + 7200);
    t.app.import_catalogue(&c).await.unwrap();
}

async fn page(t: &TestApp, path: &str) -> (StatusCode, String) {
    let r = t.http.get(format!("{}{path}", t.base)).send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

/// The hrefs in a page, unescaped.
fn links(html: &str) -> Vec<String> {
    html.split("href=\"").skip(1).filter_map(|r| r.split('"').next()).map(|h| h.replace("&amp;", "&")).collect()
}

#[tokio::test]
async fn a_fan_finds_a_session_by_sport_and_day_in_two_clicks() {
    let t = TestApp::start().await;
    catalogue(&t).await;
    // Click 1: the sport, on the home page.
    let (_, home) = page(&t, "/").await;
    let sport = links(&home).into_iter().find(|l| l == "/sessions?sport=Basketball").expect("a chip per sport");
    let (s, by_sport) = page(&t, &sport).await;
    assert_eq!(s, StatusCode::OK);
    assert!(by_sport.contains("BKB01") && !by_sport.contains("ATH01"), "{by_sport}");
    // Click 2: the day, in the strip of the event's days (local days: T0 + 2 days is the 28th).
    let day = links(&by_sport).into_iter().find(|l| l.contains("day=2024-07-28")).expect("a link per day");
    assert!(day.contains("sport=Basketball"), "the day keeps the sport: {day}");
    let (_, found) = page(&t, &day).await;
    assert!(found.contains("BKB01"), "{found}");
    let (_, other_day) = page(&t, "/sessions?sport=Basketball&day=2024-07-27").await;
    assert!(!other_day.contains(">BKB01<"), "{other_day}");
}

#[tokio::test]
async fn sessions_are_found_by_words_price_and_day_and_bad_filters_are_said() {
    let t = TestApp::start().await;
    catalogue(&t).await;
    let codes = |html: &str| {
        ["ATH01", "BKB01", "CER01"].into_iter().filter(|c| html.contains(&format!(">{c}<"))).collect::<Vec<_>>()
    };
    assert_eq!(codes(&page(&t, "/sessions?q=venue+brc").await.1), ["BKB01"]);
    assert_eq!(codes(&page(&t, "/sessions?max_price=30").await.1), ["ATH01"]);
    assert_eq!(codes(&page(&t, "/sessions?day=2024-07-27").await.1), ["ATH01", "CER01"]);
    assert_eq!(codes(&page(&t, "/sessions?venue=STF&available=1").await.1), ["ATH01", "CER01"]);
    for bad in ["/sessions?day=27%2F07", "/sessions?max_price=cheap"] {
        let (s, html) = page(&t, bad).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert!(html.contains("role=\"alert\""), "{html}");
    }
    // The API takes the same filters, with instants and cents.
    let (s, list) = t.call("GET", "/api/v1/sessions?q=ceremony&max_price_cents=30000", None, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    let (s, list) =
        t.call("GET", "/api/v1/sessions?from=2024-07-27T22:00:00Z&until=2024-07-28T22:00:00Z", None, None).await;
    assert_eq!((s, list[0]["code"].as_str(), list.as_array().unwrap().len()), (StatusCode::OK, Some("BKB01"), 1));
    let (s, e) = t.call("GET", "/api/v1/sessions?from=yesterday", None, None).await;
    assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_query")), "{e}");
}

/// A session's page offers "Add to cart" only in a phase where this fan's slot is open, and
/// posts to that phase, whatever other phase was drawn later; without an open slot it says so.
#[tokio::test]
async fn add_to_cart_goes_to_the_phase_of_the_fans_open_slot() {
    let t = TestApp::start().await;
    let (fan, other) = (t.fan(1).await, t.fan(2).await);
    let _ = t.sale(&[&fan]).await; // P1: the first fan has a slot open now, the second none
    let ops = t.operator().await;
    // P2, drawn after P1, for the second fan only.
    let (s, _) = t
        .call("POST", "/api/v1/admin/phases", Some(&ops), Some(serde_json::json!({"code": "P2", "name": "Phase 2"})))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(t.call("POST", "/api/v1/admin/phases/P2/open", Some(&ops), None).await.0, StatusCode::OK);
    assert_eq!(t.call("POST", "/api/v1/phases/P2/entry", Some(&other), None).await.0, StatusCode::OK);
    assert_eq!(t.call("POST", "/api/v1/admin/phases/P2/close", Some(&ops), None).await.0, StatusCode::OK);
    let draw = serde_json::json!({"first_wave_at": t.app.now().to_rfc3339()});
    assert_eq!(t.call("POST", "/api/v1/admin/phases/P2/draw", Some(&ops), Some(draw)).await.0, StatusCode::OK);

    let as_fan = |token: &str| {
        let r = t.http.get(format!("{}/sessions/BKB01", t.base)).header("cookie", format!("tessera_session={token}"));
        async move { r.send().await.unwrap().text().await.unwrap() }
    };
    let first = as_fan(&fan).await;
    assert!(first.contains("action=\"/phases/P1/cart\"") && !first.contains("/phases/P2/cart"), "{first}");
    let second = as_fan(&other).await;
    assert!(second.contains("action=\"/phases/P2/cart\"") && !second.contains("/phases/P1/cart"), "{second}");
    let nobody = t.fan(3).await;
    let third = as_fan(&nobody).await;
    assert!(!third.contains("Add to cart") && third.contains("no purchase slot open"), "{third}");
}

/// Paying through the pages ends on a confirmation of this order, which another fan cannot
/// see by naming it.
#[tokio::test]
async fn paying_on_the_pages_ends_on_a_confirmation() {
    let t = TestApp::start().await;
    let fan = t.fan(1).await;
    let other = t.fan(2).await;
    let cat = t.sale(&[&fan]).await;
    let cookie = format!("tessera_session={fan}");
    let (_, cart) = t
        .call(
            "POST",
            "/api/v1/phases/P1/cart/items",
            Some(&fan),
            Some(serde_json::json!({"category_id": cat, "quantity": 2})),
        )
        .await;
    let orders =
        t.http.get(format!("{}/orders", t.base)).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    let at = orders.find("name=\"csrf\" value=\"").unwrap() + 19;
    let csrf = orders[at..at + 32].to_string();
    let form = [
        ("csrf", csrf.as_str()),
        ("cart_id", &cart["id"].to_string()),
        ("idempotency_key", "page-pay-1"),
        ("holder", "Fan One"),
        ("number", "4242 4242 4242 4242"),
        ("exp_month", "12"),
        ("exp_year", "2099"),
        ("cvc", "123"),
    ];
    let r = t
        .http
        .post(format!("{}/phases/P1/checkout", t.base))
        .header("cookie", &cookie)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = r.headers()["location"].to_str().unwrap().to_string();
    assert!(to.starts_with("/orders?paid="), "{to}");
    let page =
        t.http.get(format!("{}{to}", t.base)).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("is paid") && page.contains("2 tickets") && page.contains("€90.00"), "{page}");
    let theirs = t
        .http
        .get(format!("{}{to}", t.base))
        .header("cookie", format!("tessera_session={other}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!theirs.contains("is paid"), "{theirs}");
}

/// The pages speak French or English: the browser's language first, the fan's choice (the
/// switch in the header) over it; the API is unaffected.
#[tokio::test]
async fn pages_speak_the_fans_language() {
    let t = TestApp::start().await;
    catalogue(&t).await;
    let get = |path: &str, lang: &str, cookie: Option<&str>| {
        let mut r = t.http.get(format!("{}{path}", t.base)).header("accept-language", lang);
        if let Some(c) = cookie {
            r = r.header("cookie", c);
        }
        async move { r.send().await.unwrap() }
    };
    let fr = get("/", "fr-FR,fr;q=0.9,en;q=0.8", None).await.text().await.unwrap();
    assert!(fr.contains("<html lang=\"fr\"") && fr.contains("Bienvenue") && fr.contains(">Séances<"), "{fr}");
    assert!(fr.contains("href=\"/lang/en\""), "a switch to English");
    let sessions = get("/sessions", "fr", None).await.text().await.unwrap();
    assert!(sessions.contains("Tous les jours") && sessions.contains("sam. 27 juil."), "{sessions}");
    let resale = get("/resale", "fr", None).await.text().await.unwrap();
    assert!(resale.contains("Revente officielle") && resale.contains("Aucun billet en revente"), "{resale}");
    let en = get("/", "en-GB", None).await.text().await.unwrap();
    assert!(en.contains("<html lang=\"en\"") && en.contains("Welcome"), "{en}");

    // The switch: a cookie for a year, back to the page, never off the site.
    let r = get("/lang/en?next=/sessions", "fr", None).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/sessions");
    let cookie = r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    assert_eq!(cookie, "tessera_lang=en");
    let chosen = get("/", "fr", Some(&cookie)).await.text().await.unwrap();
    assert!(chosen.contains("Welcome"), "the choice wins over the browser");
    assert_eq!(get("/lang/fr?next=//evil.example", "en", None).await.headers()["location"], "/");
    assert_eq!(get("/lang/de", "en", None).await.status(), StatusCode::NOT_FOUND);
    // The operator's consoles too.
    let ops = t.operator().await;
    for (path, words) in [
        ("/operator/airlock", ["Sas · files d’attente", "Longueur de la file"]),
        ("/operator/gates", ["Portiques en ligne", "Annuler une admission"]),
        ("/operator/payments", ["Paiements · argent et billets", "Rapprocher maintenant"]),
    ] {
        let page = get(path, "fr", Some(&format!("tessera_session={ops}"))).await.text().await.unwrap();
        assert!(words.iter().all(|w| page.contains(w)), "{path} in French: {page}");
    }
    // The API has no language.
    let (_, e) = t.call("GET", "/api/v1/nothing", None, None).await;
    assert!(e["error"]["message"].as_str().unwrap().contains("no such endpoint"));
}

/// A refusal speaks the page's language: the sign-in form, an error page and the scripts'
/// table of codes, which has a sentence for every code.
#[tokio::test]
async fn refusals_speak_the_fans_language() {
    let t = TestApp::start().await;
    let login = |lang: &'static str| {
        let form = [("email", "who@example.org"), ("password", "wrong password!")];
        let r = t.http.post(format!("{}/login", t.base)).header("accept-language", lang).form(&form).send();
        async move { r.await.unwrap().text().await.unwrap() }
    };
    let fr = login("fr").await;
    assert!(fr.contains("Adresse e-mail ou mot de passe incorrect."), "{fr}");
    assert!(fr.contains(r#"value="who@example.org""#), "what was typed is kept");
    let en = login("en").await;
    assert!(!en.contains("Adresse e-mail ou mot de passe incorrect."), "{en}");

    let page = |lang: &'static str| {
        let r = t.http.get(format!("{}/phases/NOPE", t.base)).header("accept-language", lang).send();
        async move { r.await.unwrap() }
    };
    let r = page("fr").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let fr = r.text().await.unwrap();
    assert!(
        fr.contains("Introuvable : cet élément") && fr.contains("Code d'erreur") && fr.contains(">Accueil<"),
        "{fr}"
    );
    let en = page("en").await.text().await.unwrap();
    assert!(en.contains("Error code") && !en.contains("Introuvable"), "{en}");

    let r = t.http.get(format!("{}/assets/errors.js", t.base)).send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "text/javascript");
    let js = r.text().await.unwrap();
    let table: serde_json::Value =
        serde_json::from_str(js.trim().trim_start_matches("window.TesseraErrors = ").trim_end_matches(';')).unwrap();
    for code in tessera_domain::ErrorCode::ALL {
        let text = table["fr"][code.as_str()].as_str().unwrap_or_default();
        assert!(!text.is_empty(), "{code} has no French sentence");
    }
    assert_eq!(table["fr"]["sold_out"], "Il ne reste plus assez de places dans cette catégorie.");
}
