//! A session starting soon, with fans holding tickets for it: what the demo, the gate tests
//! and the gate benchmark need to show phone tickets at work. The Paris-scale demo catalogue
//! lies in 2024, so its tickets are long past their gates.
//!
//! Everything goes through the ordinary use cases (catalogue import, lottery, draw, buy now
//! with the sandbox's test card): nothing here writes around the rules.

use crate::auth::Principal;
use crate::{App, AppError, Result};
use tessera_domain::catalogue::{Catalogue, PriceCategory, Session, Venue};
use tessera_domain::{Cents, Code, Timestamp};
use tessera_store::{Account, Phase};

#[derive(Debug, Clone)]
pub struct LiveSession {
    pub venue_code: String,
    pub session_code: String,
    pub phase_code: String,
    pub starts_at: Timestamp,
    /// Per fan, in the order given: the codes of the tickets bought.
    pub tickets: Vec<Vec<String>>,
}

/// The fans are verified accounts (the caller says so), whatever copy of them it holds.
fn verified(a: &Account) -> Principal {
    Principal { email_verified: true, ..Principal::of_account(a) }
}

fn code(s: &str) -> Result<Code> {
    Code::parse(s).map_err(|e| AppError::Internal(e.to_string()))
}

impl App {
    /// A venue (entrances "Gate A" and "Gate B") and one session there starting in
    /// `starts_in_secs`, for three hours, with one price category: (venue, session, phase
    /// code to sell it under), all with the same fresh tag.
    pub async fn live_venue(&self, starts_in_secs: i64) -> Result<(String, String, String, Timestamp)> {
        let tag = crate::random_hex(3).to_uppercase();
        let (venue, session, phase_code) = (format!("LV{tag}"), format!("LIVE{tag}"), format!("L{tag}"));
        let starts_at = self.now().plus_secs(starts_in_secs);
        let cat = Catalogue {
            venues: vec![Venue {
                code: code(&venue)?,
                name: format!("Demo Arena {tag}"),
                city: "Saint-Denis".into(),
                capacity: 20_000,
                zones: vec!["Gate A".into(), "Gate B".into()],
            }],
            sessions: vec![Session {
                code: code(&session)?,
                sport: "Athletics".into(),
                title: "Athletics evening session".into(),
                venue: code(&venue)?,
                starts_at,
                ends_at: starts_at.plus_secs(3 * 3600),
                ceremony: false,
            }],
            categories: vec![PriceCategory {
                session: code(&session)?,
                code: code("CAT-A")?,
                name: "Category A".into(),
                price: Cents(5_000),
                quota: 20_000,
            }],
        };
        self.import_catalogue(&cat).await?;
        Ok((venue, session, phase_code, starts_at))
    }

    /// [`App::live_venue`], then a phase whose draw gives each fan a purchase slot open now,
    /// and `tickets_each` tickets bought for each fan (verified accounts).
    pub async fn live_session(&self, fans: &[Account], tickets_each: i64, starts_in_secs: i64) -> Result<LiveSession> {
        let (venue, session, phase_code, starts_at) = self.live_venue(starts_in_secs).await?;
        self.create_phase(&phase_code, "Live session sale", &Default::default()).await?;
        self.open_registration(&phase_code).await?;
        for f in fans {
            self.enter_lottery(&verified(f), &phase_code).await?;
        }
        self.close_registration(&phase_code).await?;
        self.draw(&phase_code, Some(self.now().plus_secs(-60))).await?;
        let phase: Phase = self.phase(&phase_code).await?;
        let detail =
            self.store.session(&session).await?.ok_or_else(|| AppError::NotFound(format!("session {session}")))?;
        let category = detail.categories[0].id;
        let card = tessera_payments::Card {
            number: tessera_payments::test_cards::SUCCESS.into(),
            exp_month: 12,
            exp_year: 2099,
            cvc: "123".into(),
            holder: "Demo".into(),
        };
        let mut tickets = Vec::with_capacity(fans.len());
        for (i, f) in fans.iter().enumerate() {
            let order = self
                .buy_now(
                    &verified(f),
                    &phase.code,
                    &[(category, tickets_each)],
                    &format!("live-{phase_code}-{i}"),
                    &card,
                )
                .await?;
            tickets.push(order.tickets.iter().map(|t| t.code.clone()).collect());
        }
        Ok(LiveSession { venue_code: venue, session_code: session, phase_code, starts_at, tickets })
    }
}
