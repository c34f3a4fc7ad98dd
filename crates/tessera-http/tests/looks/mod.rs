//! Browser tests that look: every main page, in headless Chromium at a phone's and a desktop's
//! size, is screenshotted (kept under `target/screenshots/` as artefacts), checked for layout
//! faults (a page wider than the screen, text overflowing its box) and for accessibility
//! violations with axe-core (serious and critical ones fail the test). axe-core comes from the
//! npm registry (`.ci/run` installs it under `target/axe`); without it the test is skipped,
//! loudly.

use super::{card, cdp, TestApp};
use serde_json::json;
use std::time::Duration;

const SIZES: [(&str, u32, u32, bool); 2] = [("phone", 390, 844, true), ("desktop", 1280, 900, false)];

fn axe_source() -> Option<String> {
    let path = std::env::var("TESSERA_TEST_AXE").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/axe/node_modules/axe-core/axe.min.js").to_string()
    });
    std::fs::read_to_string(path).ok()
}

/// What is wrong with the page as shown: layout faults, then axe-core's serious and critical
/// violations.
const LAYOUT_FAULTS: &str = r#"(() => {
  const faults = [];
  const w = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth > w + 1) faults.push('the page is ' + document.documentElement.scrollWidth + ' px wide on a ' + w + ' px screen');
  for (const el of document.querySelectorAll('main *, header *')) {
    const s = getComputedStyle(el);
    if (s.display === 'none' || s.visibility === 'hidden' || el.closest('table, pre, canvas, nav.days, nav.chips, .scroll')) continue;
    if (el.scrollWidth > el.clientWidth + 1 && el.clientWidth > 0 && !['auto', 'scroll', 'hidden'].includes(s.overflowX)) {
      faults.push('text overflows ' + el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (el.className ? '.' + String(el.className).replace(/ /g, '.') : ''));
    }
  }
  // A form's labels stand above their inputs, not beside them.
  for (const label of document.querySelectorAll('main form:not(.filters) label')) {
    const input = label.querySelector('input:not([type=hidden]):not([type=checkbox]), select');
    if (!input || label.querySelector('.visually-hidden')) continue;
    if (Math.abs(input.getBoundingClientRect().left - label.getBoundingClientRect().left) > 4) faults.push('the input of label "' + label.textContent.trim() + '" stands beside it');
  }
  if (!document.querySelector('link[rel=icon]')) faults.push('no favicon');
  return faults.slice(0, 10);
})()"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_looks_right_on_a_phone_and_a_desktop() {
    let Some(chromium) = cdp::chromium_or_skip("every_page_looks_right_on_a_phone_and_a_desktop") else { return };
    let Some(axe) = axe_source() else {
        eprintln!("SKIPPED every_page_looks_right_on_a_phone_and_a_desktop: axe-core is not installed (npm install axe-core in target/axe, or set TESSERA_TEST_AXE)");
        return;
    };
    let t = TestApp::start().await;
    let fan = t.fan(1).await;
    let cat = t.sale(&[&fan]).await;
    let buy = json!({"items": [{"category_id": cat, "quantity": 1}], "card": card("4242 4242 4242 4242")});
    let (s, _) =
        t.with_headers("POST", "/api/v1/phases/P1/orders", &fan, &[("Idempotency-Key", "look")], Some(buy)).await;
    assert_eq!(s, reqwest::StatusCode::CREATED);
    let ops = t.operator().await;
    // A final with its podium, for the results page.
    let (key, _) = t.app.issue_results_source("ATHOLY1", &["ATH".to_string()]).unwrap();
    let rights = t.app.results_source(&key).unwrap();
    let final_ = json!({"competition": "OG2024", "document_code": "ATHM100M----------FNL-000100--", "document_type": "DT_RESULT",
        "version": 1, "result_status": "OFFICIAL", "feed_flag": "P", "date": "2024-08-04", "time": "215512000",
        "logical_date": "2024-08-04", "source": "ATHOLY1", "body": {},
        "ranking": [{"rank": 1, "organisation": "USA", "name": "N. Lyles"}, {"rank": 2, "organisation": "JAM"}, {"rank": 3, "organisation": "USA"}]});
    t.app.publish_result(&rights, false, final_.to_string().as_bytes()).await.unwrap();
    let pages: Vec<(&str, Option<&str>)> = vec![
        ("/results", None),
        ("/", None),
        ("/sessions", None),
        ("/sessions/BKB01", None),
        ("/phases/P1", Some(&fan)),
        ("/login", None),
        ("/register", None),
        ("/forgot", None),
        ("/resale", None),
        ("/orders", Some(&fan)),
        ("/wallet", Some(&fan)),
        ("/wallet/badge", Some(&fan)),
        ("/mailbox", Some(&fan)),
        ("/operator/airlock", Some(&ops)),
        ("/operator/gates", Some(&ops)),
        ("/operator/payments", Some(&ops)),
        ("/operator/soc", Some(&ops)),
        ("/operator/results", Some(&ops)),
        ("/operator/accreditation", Some(&ops)),
        ("/operator/toc", Some(&ops)),
        ("/operator/toc/runbooks", Some(&ops)),
        ("/status", None),
        ("/volunteer", Some(&fan)),
        ("/operator/volunteers", Some(&ops)),
        ("/phases/NOPE", Some(&fan)),
    ];
    let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/screenshots"));
    std::fs::create_dir_all(dir).unwrap();
    let mut problems = Vec::new();
    // French words run longer than English ones: each page is looked at in both languages.
    for ((size, width, height, mobile), lang) in SIZES.into_iter().flat_map(|s| ["en", "fr"].map(|l| (s, l))) {
        let mut b = cdp::Browser::start(chromium).await;
        b.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}),
        )
        .await;
        for (path, who) in &pages {
            match who {
                Some(token) => b.set_cookie(&t.base, "tessera_session", token).await,
                None => {
                    b.call("Network.clearBrowserCookies", json!({})).await;
                }
            }
            b.set_cookie(&t.base, "tessera_lang", lang).await;
            b.goto(&format!("{}{path}", t.base)).await;
            b.wait_for("document.readyState === 'complete'", Duration::from_secs(15)).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            let name = format!(
                "{}-{size}{}.png",
                if *path == "/" { "home".to_string() } else { path.trim_matches('/').replace('/', "-") },
                if lang == "fr" { "-fr" } else { "" }
            );
            std::fs::write(dir.join(name), b.screenshot().await).unwrap();
            let faults = b.eval(LAYOUT_FAULTS).await;
            for f in faults.as_array().into_iter().flatten() {
                problems.push(format!("{path} ({size}, {lang}): {}", f.as_str().unwrap_or_default()));
            }
            // axe-core, injected by the test (the page's own policy allows no foreign script).
            b.call("Runtime.evaluate", json!({"expression": axe})).await;
            let report = b
                .eval_async(
                    "axe.run(document, { resultTypes: ['violations'] }).then(r => r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical').map(v => v.id + ': ' + v.help + ' (' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ') + ')'))",
                )
                .await;
            for v in report.as_array().into_iter().flatten() {
                problems.push(format!("{path} ({size}, {lang}): {}", v.as_str().unwrap_or_default()));
            }
        }
    }
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
}
