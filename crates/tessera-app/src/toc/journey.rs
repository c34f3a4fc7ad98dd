//! The synthetic fan: a probe that walks the shop's own path as a fan does, from a vantage
//! point, against the payment sandbox. Each step must answer as a fan's would; the first that
//! does not names itself in the failure ("buy: 503 ..."), so the incident says where the
//! journey broke, not only that it did.
//!
//! Two outcomes can be asked for:
//! - `ticket`: the sandbox's accepting card; the order must be paid and then listed with its
//!   tickets. Each run takes one seat, so it is meant for a phase kept for probing (a small
//!   quota, an account of its own whose caps allow the probe's rate).
//! - `declined` (the default): the sandbox's declining card; the shop must take the order as
//!   far as the payment provider and refuse it with 402. Everything but issuance runs (the edge,
//!   sign-in, the phase, caps, holds, the provider's round trip, holds released) and nothing is
//!   consumed, so it can run every minute for the whole Games.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Longest one step may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(5);

/// What the journey must end with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    Ticket,
    #[default]
    Declined,
}

/// The journey's settings. `password` is the probe account's own; it is never printed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Journey {
    /// The shop as a fan reaches it, e.g. `https://tickets.example.org`.
    pub base_url: String,
    pub email: String,
    pub password: String,
    /// A phase open to the probe account, without a waiting room in front of it.
    pub phase: String,
    pub category_id: i64,
    #[serde(default)]
    pub expect: Expect,
}

impl std::fmt::Debug for Journey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journey")
            .field("base_url", &self.base_url)
            .field("email", &self.email)
            .field("password", &"<redacted>")
            .field("phase", &self.phase)
            .field("category_id", &self.category_id)
            .field("expect", &self.expect)
            .finish()
    }
}

/// Runs the journey once: `Ok` or the step that failed and why.
pub async fn run(client: &reqwest::Client, j: &Journey) -> Result<(), String> {
    let base = j.base_url.trim_end_matches('/');
    let phase = url_segment(&j.phase);

    // 1. The phase as the shop shows it.
    let r = step("phase", client.get(format!("{base}/api/v1/phases/{phase}"))).await?;
    expect_status("phase", r, 200).await?;

    // 2. Sign in.
    let body = serde_json::json!({"email": j.email, "password": j.password});
    let r = step("sign-in", client.post(format!("{base}/api/v1/auth/login")).json(&body)).await?;
    let r = expect_status("sign-in", r, 200).await?;
    let signed: serde_json::Value = r.json().await.map_err(|e| format!("sign-in: {e}"))?;
    let token = signed["token"].as_str().ok_or("sign-in: no token in the answer")?.to_string();
    let bearer = format!("Bearer {token}");

    // 3. Buy one seat with the sandbox card the outcome asks for.
    let number = match j.expect {
        Expect::Ticket => tessera_payments::test_cards::SUCCESS,
        Expect::Declined => tessera_payments::test_cards::DECLINED,
    };
    let order = serde_json::json!({
        "items": [{"category_id": j.category_id, "quantity": 1}],
        "card": {"number": number, "exp_month": 12, "exp_year": 2099, "cvc": "123", "holder": "Synthetic fan"},
    });
    let buy = client
        .post(format!("{base}/api/v1/phases/{phase}/orders"))
        .header("Authorization", &bearer)
        .header("Idempotency-Key", crate::random_hex(16))
        .json(&order);
    let r = step("buy", buy).await?;
    let outcome = match j.expect {
        Expect::Ticket => {
            let r = expect_status("buy", r, 201).await?;
            let paid: serde_json::Value = r.json().await.map_err(|e| format!("buy: {e}"))?;
            let code = paid["code"].as_str().ok_or("buy: no order code in the answer")?.to_string();
            // 4. The order is listed, with its ticket.
            let r =
                step("orders", client.get(format!("{base}/api/v1/orders")).header("Authorization", &bearer)).await?;
            let r = expect_status("orders", r, 200).await?;
            let orders: serde_json::Value = r.json().await.map_err(|e| format!("orders: {e}"))?;
            let listed = orders.as_array().into_iter().flatten().any(|o| {
                o["code"].as_str() == Some(code.as_str()) && o["tickets"].as_array().is_some_and(|t| !t.is_empty())
            });
            listed.then_some(()).ok_or(format!("orders: order {code} is not listed with its ticket"))
        }
        Expect::Declined => {
            let r = expect_status("buy", r, 402).await?;
            let refused: serde_json::Value = r.json().await.map_err(|e| format!("buy: {e}"))?;
            let code = refused["error"]["code"].as_str().unwrap_or_default();
            // The declining card's own answer; any other refusal is the shop's, not the provider's.
            (code == "card_declined").then_some(()).ok_or(format!("buy: refused with {code:?}, not card_declined"))
        }
    };

    // 5. Sign out, whatever the outcome: a probe does not leave sessions behind.
    let _ = step("sign-out", client.post(format!("{base}/api/v1/auth/logout")).header("Authorization", &bearer)).await;
    outcome
}

async fn step(name: &str, request: reqwest::RequestBuilder) -> Result<reqwest::Response, String> {
    request.timeout(STEP_TIMEOUT).send().await.map_err(|e| format!("{name}: {e}"))
}

/// The response if its status is `want`; otherwise the step's failure with the error's code.
async fn expect_status(name: &str, r: reqwest::Response, want: u16) -> Result<reqwest::Response, String> {
    let got = r.status().as_u16();
    if got == want {
        return Ok(r);
    }
    let body = r.text().await.unwrap_or_default();
    let code = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["error"]["code"].as_str().map(str::to_string))
        .unwrap_or_default();
    Err(format!("{name}: answered {got} {code} (wanted {want})").trim_end().to_string())
}

/// A phase code as one path segment: codes are short ASCII words, anything else is escaped.
fn url_segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_never_printed() {
        let j = Journey {
            base_url: "http://shop".into(),
            email: "probe@example.org".into(),
            password: "s3cret-probe-password".into(),
            phase: "P1".into(),
            category_id: 1,
            expect: Expect::Declined,
        };
        let printed = format!("{j:?}");
        assert!(!printed.contains("s3cret") && printed.contains("probe@example.org"), "{printed}");
    }

    #[test]
    fn phase_codes_stay_one_segment() {
        assert_eq!(url_segment("P1-a"), "P1-a");
        assert_eq!(url_segment("a/b?c"), "a%2Fb%3Fc");
    }
}
