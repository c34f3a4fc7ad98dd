//! The analysts' use cases on cases: list, read, acknowledge, assign, annotate, close
//! (resolved, or a false positive that may become a suppression and lifts the case's block).
//!
//! Every action is audited: logged under the `audit` target and handed to the engine as an
//! `operator_action` event, so that it is in the exported stream a SIEM keeps.
//!
//! Cases live in the node's memory, bounded (`tessera_detect::cases`): like the alerts they
//! come from, each node holds the cases of what its own engine saw, and a restart begins an
//! empty book (the decisions they led to are stored and survive).

use crate::auth::Principal;
use crate::{App, AppError, Result};
use tessera_detect::cases::{CaseCounts, CaseError, Suppression};
use tessera_detect::{Case, CaseState, Event, Kind};

fn case_error(e: CaseError) -> AppError {
    match e {
        CaseError::NotFound(_) => AppError::NotFound(e.to_string()),
        CaseError::Closed(..) | CaseError::TooManyNotes(_) => AppError::Conflict(e.to_string()),
        CaseError::NoteLength => AppError::invalid("text", e.to_string()),
        CaseError::OwnerLength => AppError::invalid("owner", e.to_string()),
        CaseError::SuppressionLength => AppError::invalid("suppress_minutes", e.to_string()),
    }
}

/// How an analyst closes a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closing {
    Resolved,
    /// With a suppression of so many minutes, if any.
    FalsePositive {
        suppress_minutes: Option<i64>,
    },
}

impl App {
    fn book(&self) -> std::sync::MutexGuard<'_, tessera_detect::CaseBook> {
        self.soc.cases.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Cases newest first (in `state` if given), without their events.
    pub fn soc_cases(&self, state: Option<CaseState>, limit: usize) -> Vec<Case> {
        self.book()
            .list(state, limit)
            .into_iter()
            .map(|c| Case { events: Default::default(), recent_alerts: Default::default(), ..c.clone() })
            .collect()
    }

    pub fn soc_case(&self, id: u64) -> Result<Case> {
        self.book().get(id).cloned().ok_or_else(|| AppError::NotFound(format!("no case {id}")))
    }

    pub fn soc_case_counts(&self) -> CaseCounts {
        self.book().counts()
    }

    pub fn soc_suppressions(&self) -> Vec<Suppression> {
        self.book().suppressions().to_vec()
    }

    pub fn acknowledge_case(&self, who: &Principal, id: u64) -> Result<Case> {
        let case = self.book().acknowledge(id, who.email.as_str()).cloned().map_err(case_error)?;
        self.audit(who, format!("acknowledged case {id}"));
        Ok(case)
    }

    pub fn assign_case(&self, who: &Principal, id: u64, owner: &str) -> Result<Case> {
        let case = self.book().assign(id, owner.trim()).cloned().map_err(case_error)?;
        self.audit(who, format!("assigned case {id} to {}", owner.trim()));
        Ok(case)
    }

    pub fn note_case(&self, who: &Principal, id: u64, text: &str) -> Result<Case> {
        let now = self.now_ms();
        let case = self.book().note(id, who.email.as_str(), text, now).cloned().map_err(case_error)?;
        self.audit(who, format!("added a note to case {id}"));
        Ok(case)
    }

    /// Closes a case. A false positive also lifts the block list's decision on the case's
    /// target, if the engine took one (an analyst's "this was no attack" ends its effect).
    pub async fn close_case(&self, who: &Principal, id: u64, closing: Closing) -> Result<(Case, Option<u64>)> {
        let now = self.now_ms();
        let (state, suppress_ms) = match closing {
            Closing::Resolved => (CaseState::Resolved, None),
            Closing::FalsePositive { suppress_minutes } => {
                (CaseState::FalsePositive, suppress_minutes.map(|m| m.saturating_mul(60_000)))
            }
        };
        let (case, suppression) = {
            let mut book = self.book();
            let (c, s) = book.close(id, who.email.as_str(), state, suppress_ms, now).map_err(case_error)?;
            (c.clone(), s)
        };
        let mut lifted = false;
        if state == CaseState::FalsePositive && case.decided {
            if let Some(scope) = edge_scope_of(&case) {
                lifted = self.revoke_decision(&scope).await?;
            }
        }
        self.audit(
            who,
            format!(
                "closed case {id} as {}{}{}",
                state.as_str(),
                suppression.map(|s| format!(", suppression {s}")).unwrap_or_default(),
                if lifted { ", its decision lifted" } else { "" }
            ),
        );
        Ok((case, suppression))
    }

    pub fn lift_suppression(&self, who: &Principal, id: u64) -> Result<()> {
        if !self.book().lift_suppression(id) {
            return Err(AppError::NotFound(format!("no suppression {id}")));
        }
        self.audit(who, format!("lifted suppression {id}"));
        Ok(())
    }

    /// Records an operator's or analyst's action: the `audit` log, and an `operator_action`
    /// event for the engine and the exported stream.
    pub fn audit(&self, who: &Principal, what: String) {
        tracing::info!(target: "audit", account = who.account_id.0, role = who.role.as_str(), action = %what, "operator action");
        let mut e = Event::new(self.now_ms(), Kind::OperatorAction);
        e.account = Some(who.account_id.0 as u64);
        e.message = Some(what);
        self.observe(e);
    }
}

/// The block list's scope for a case's target, when the edge has one.
pub(super) fn edge_scope_of(case: &Case) -> Option<tessera_airlock::blocklist::Scope> {
    use tessera_airlock::blocklist::Scope;
    use tessera_detect::GroupBy;
    match case.group_by {
        GroupBy::Source => case.key.parse().ok().map(Scope::Address),
        GroupBy::Network => {
            let net: ipnet::IpNet = case.key.parse().ok()?;
            Some(Scope::Network(tessera_airlock::network_of(net.addr())))
        }
        GroupBy::Account => case.key.parse().ok().map(Scope::Account),
        _ => None,
    }
}
