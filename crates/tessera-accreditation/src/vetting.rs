//! Vetting: the life of an application, from submission to a badge or a refusal.
//!
//! ```text
//!              start_screening                 approve (screening passed)
//!  Submitted ─────────────────▶ Screening ─────────────────────────────▶ Approved
//!      │                          │   ▲  hit / refuse                       │  hit / revoke
//!      │ refuse                   ▼   │ start_screening                     ▼
//!      └────────────────────▶ Refused ──appeal──▶ Appealed             Revoked
//!  any of Submitted, Screening, Refused, Appealed, Approved ──withdraw──▶ Withdrawn
//! ```
//!
//! [`transition`] is the pure table: a state and an [`Action`] give the next state or a
//! [`TransitionError`] naming the refused transition. [`Vetting`] is one application's record: it
//! applies actions, remembers whether the **current** screening round came back clear, and writes
//! an [`AuditEntry`] (who, when, why) for every decision. A badge needs a [`Clearance`], which
//! only [`Vetting::clearance`] makes, and only for an approved application whose screening
//! passed: nobody gets a badge otherwise. The screening authority itself is in [`screening`].

use crate::codes::{AccountId, PersonId};

pub mod screening;

pub use screening::{ScreeningAnswer, ScreeningRequest};

/// Longest reason text in an audit entry, in bytes.
pub const MAX_REASON_LEN: usize = 500;

/// Where an application stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum State {
    /// Submitted by an officer, not yet sent to screening.
    Submitted,
    /// Sent to the screening authority (or re-sent after an appeal).
    Screening,
    /// Screening passed and accreditation staff approved: a badge may be issued.
    Approved,
    /// Refused by screening or by staff.
    Refused,
    /// The organisation appealed a refusal; screening again next.
    Appealed,
    /// Approved, then revoked (a later hit, or a staff decision): every card is void.
    Revoked,
    /// Withdrawn by the organisation.
    Withdrawn,
}

impl State {
    /// Every state.
    pub const ALL: [State; 7] = [
        State::Submitted,
        State::Screening,
        State::Approved,
        State::Refused,
        State::Appealed,
        State::Revoked,
        State::Withdrawn,
    ];

    /// Whether the application holds a place in its organisation's quota: refused, withdrawn and
    /// revoked applications give it back.
    pub fn holds_quota(self) -> bool {
        !matches!(self, State::Refused | State::Withdrawn | State::Revoked)
    }

    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Submitted => "submitted",
            State::Screening => "screening",
            State::Approved => "approved",
            State::Refused => "refused",
            State::Appealed => "appealed",
            State::Revoked => "revoked",
            State::Withdrawn => "withdrawn",
        }
    }
}

/// Something done to an application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Action {
    /// The officer's submission (the first audit entry; not a transition).
    Submit,
    /// Send to the screening authority.
    StartScreening,
    /// The authority answered "clear" (the state stays `Screening`, screening has passed).
    ScreeningClear,
    /// The authority answered "hit": refuses during screening, revokes after approval.
    ScreeningHit,
    /// Staff approve.
    Approve,
    /// Staff refuse.
    Refuse,
    /// The organisation appeals a refusal.
    Appeal,
    /// Staff revoke an approval.
    Revoke,
    /// The organisation withdraws.
    Withdraw,
    /// Personal data erased under the retention rules (not a transition).
    Erase,
}

impl Action {
    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Submit => "submit",
            Action::StartScreening => "start_screening",
            Action::ScreeningClear => "screening_clear",
            Action::ScreeningHit => "screening_hit",
            Action::Approve => "approve",
            Action::Refuse => "refuse",
            Action::Appeal => "appeal",
            Action::Revoke => "revoke",
            Action::Withdraw => "withdraw",
            Action::Erase => "erase",
        }
    }

    fn needs_reason(self) -> bool {
        matches!(self, Action::ScreeningHit | Action::Refuse | Action::Appeal | Action::Revoke)
    }
}

/// A transition the table does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cannot {} an application that is {}", action.as_str(), from.as_str())]
pub struct TransitionError {
    /// The state the application is in.
    pub from: State,
    /// The action refused.
    pub action: Action,
}

/// The transition table (see the module diagram).
pub fn transition(from: State, action: Action) -> Result<State, TransitionError> {
    use Action as A;
    use State as S;
    let to = match (from, action) {
        (S::Submitted | S::Appealed, A::StartScreening) => S::Screening,
        (S::Screening, A::ScreeningClear) => S::Screening,
        (S::Screening, A::ScreeningHit) => S::Refused,
        (S::Approved, A::ScreeningHit) => S::Revoked,
        (S::Screening, A::Approve) => S::Approved,
        (S::Submitted | S::Screening, A::Refuse) => S::Refused,
        (S::Refused, A::Appeal) => S::Appealed,
        (S::Approved, A::Revoke) => S::Revoked,
        (S::Submitted | S::Screening | S::Refused | S::Appealed | S::Approved, A::Withdraw) => S::Withdrawn,
        _ => return Err(TransitionError { from, action }),
    };
    Ok(to)
}

/// Who did something.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Actor {
    /// A person with an account (officer, accreditation staff, vetting officer).
    Account(AccountId),
    /// The screening authority.
    Authority,
    /// The platform itself (retention jobs).
    System,
}

/// One audited decision.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuditEntry {
    /// Unix seconds.
    pub at: i64,
    /// Who.
    pub actor: Actor,
    /// What.
    pub action: Action,
    /// State before.
    pub from: State,
    /// State after.
    pub to: State,
    /// Why (required for refusals, hits, appeals and revocations).
    pub reason: String,
}

/// Why an action on a [`Vetting`] record is refused. Nothing changes when it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VettingError {
    /// Not allowed from the current state.
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// Approval before the current screening round came back clear.
    #[error("cannot approve: screening has not passed")]
    ScreeningNotPassed,
    /// Refusals, hits, appeals and revocations must say why.
    #[error("a reason is required to {}", .0.as_str())]
    ReasonRequired(Action),
    /// The reason is longer than [`MAX_REASON_LEN`].
    #[error("the reason is longer than {MAX_REASON_LEN} bytes")]
    ReasonTooLong,
    /// The authority answered with a transient error: send the person again after this many
    /// seconds. Not a decision, so not audited.
    #[error("the screening authority asks to retry after {0} s")]
    RetryAfter(u32),
}

/// Proof that a person may be given a badge: approved, with screening passed. Only
/// [`Vetting::clearance`] makes one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clearance {
    person: PersonId,
}

impl Clearance {
    /// The person cleared.
    pub fn person(&self) -> PersonId {
        self.person
    }
}

/// Why there is no clearance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotCleared {
    /// The application is not approved.
    #[error("the application is {}, not approved", .0.as_str())]
    NotApproved(State),
    /// Approved without a clear screening (cannot happen through [`Vetting`]; kept explicit).
    #[error("screening has not passed")]
    ScreeningNotPassed,
}

/// One application's vetting record. Serialised as it is kept: a stored record is read back
/// whole, its trail and state written together by [`Vetting::apply`] only.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Vetting {
    person: PersonId,
    state: State,
    screening_passed: bool,
    audit: Vec<AuditEntry>,
}

impl Vetting {
    /// A submitted application, audited as submitted by `by` at `now`.
    pub fn submit(person: PersonId, by: AccountId, now: i64) -> Self {
        let entry = AuditEntry {
            at: now,
            actor: Actor::Account(by),
            action: Action::Submit,
            from: State::Submitted,
            to: State::Submitted,
            reason: String::new(),
        };
        Self { person, state: State::Submitted, screening_passed: false, audit: vec![entry] }
    }

    /// The record under the person's id, when the id is given after the record was made (a
    /// store numbers an application as it keeps it).
    pub fn numbered(mut self, person: PersonId) -> Self {
        self.person = person;
        self
    }

    /// The person.
    pub fn person(&self) -> PersonId {
        self.person
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Whether the current screening round came back clear.
    pub fn screening_passed(&self) -> bool {
        self.screening_passed
    }

    /// Every decision so far, oldest first.
    pub fn audit(&self) -> &[AuditEntry] {
        &self.audit
    }

    /// Applies `action` by `actor` at `now`: checks the table, the reason and (for approval) the
    /// screening, then moves and audits. On error nothing changes.
    pub fn apply(&mut self, action: Action, actor: Actor, now: i64, reason: &str) -> Result<State, VettingError> {
        let reason = reason.trim();
        if action.needs_reason() && reason.is_empty() {
            return Err(VettingError::ReasonRequired(action));
        }
        if reason.len() > MAX_REASON_LEN {
            return Err(VettingError::ReasonTooLong);
        }
        let to = transition(self.state, action)?;
        if action == Action::Approve && !self.screening_passed {
            return Err(VettingError::ScreeningNotPassed);
        }
        match action {
            Action::StartScreening => self.screening_passed = false,
            Action::ScreeningClear => self.screening_passed = true,
            Action::ScreeningHit => self.screening_passed = false,
            _ => {}
        }
        self.audit.push(AuditEntry { at: now, actor, action, from: self.state, to, reason: reason.to_owned() });
        self.state = to;
        Ok(to)
    }

    /// Records the authority's answer for this person.
    pub fn record_answer(&mut self, answer: &ScreeningAnswer, now: i64) -> Result<State, VettingError> {
        match answer {
            ScreeningAnswer::Clear => self.apply(Action::ScreeningClear, Actor::Authority, now, ""),
            ScreeningAnswer::Hit { reason } => self.apply(Action::ScreeningHit, Actor::Authority, now, reason),
            ScreeningAnswer::Error { retry_after } => Err(VettingError::RetryAfter(*retry_after)),
        }
    }

    /// The proof a badge needs, or why there is none.
    pub fn clearance(&self) -> Result<Clearance, NotCleared> {
        if self.state != State::Approved {
            return Err(NotCleared::NotApproved(self.state));
        }
        if !self.screening_passed {
            return Err(NotCleared::ScreeningNotPassed);
        }
        Ok(Clearance { person: self.person })
    }

    /// Audits an erasure of the person's data (the state does not change).
    pub(crate) fn record_erasure(&mut self, actor: Actor, now: i64) {
        let entry = AuditEntry {
            at: now,
            actor,
            action: Action::Erase,
            from: self.state,
            to: self.state,
            reason: "retention period over".to_owned(),
        };
        self.audit.push(entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const STAFF: Actor = Actor::Account(AccountId(2));

    fn screened(answer: ScreeningAnswer) -> Vetting {
        let mut v = Vetting::submit(PersonId(1), AccountId(1), 100);
        v.apply(Action::StartScreening, STAFF, 110, "").unwrap();
        v.record_answer(&answer, 120).unwrap();
        v
    }

    #[test]
    fn the_happy_path_ends_in_a_clearance_with_a_full_audit() {
        let mut v = screened(ScreeningAnswer::Clear);
        assert_eq!(v.clearance(), Err(NotCleared::NotApproved(State::Screening)));
        assert_eq!(v.apply(Action::Approve, STAFF, 130, "ok"), Ok(State::Approved));
        assert_eq!(v.clearance().unwrap().person(), PersonId(1));
        let trail: Vec<_> = v.audit().iter().map(|e| (e.at, e.action, e.to)).collect();
        assert_eq!(
            trail,
            [
                (100, Action::Submit, State::Submitted),
                (110, Action::StartScreening, State::Screening),
                (120, Action::ScreeningClear, State::Screening),
                (130, Action::Approve, State::Approved),
            ]
        );
        assert_eq!(v.audit()[3].actor, STAFF);
    }

    #[test]
    fn no_approval_before_screening_passes() {
        let mut v = Vetting::submit(PersonId(1), AccountId(1), 0);
        assert_eq!(
            v.apply(Action::Approve, STAFF, 1, ""),
            Err(VettingError::Transition(TransitionError { from: State::Submitted, action: Action::Approve }))
        );
        v.apply(Action::StartScreening, STAFF, 2, "").unwrap();
        assert_eq!(v.apply(Action::Approve, STAFF, 3, ""), Err(VettingError::ScreeningNotPassed));
        assert_eq!(v.audit().len(), 2, "refused actions are not audited");
    }

    #[test]
    fn a_hit_refuses_then_an_appeal_screens_again() {
        let mut v = screened(ScreeningAnswer::Hit { reason: "listed".into() });
        assert_eq!(v.state(), State::Refused);
        assert_eq!(v.audit().last().unwrap().reason, "listed");
        assert_eq!(v.apply(Action::Appeal, STAFF, 200, ""), Err(VettingError::ReasonRequired(Action::Appeal)));
        assert_eq!(v.apply(Action::Appeal, STAFF, 200, "homonym"), Ok(State::Appealed));
        assert_eq!(v.apply(Action::StartScreening, STAFF, 210, ""), Ok(State::Screening));
        assert!(!v.screening_passed());
        v.record_answer(&ScreeningAnswer::Clear, 220).unwrap();
        assert_eq!(v.apply(Action::Approve, STAFF, 230, ""), Ok(State::Approved));
    }

    #[test]
    fn a_later_hit_revokes() {
        let mut v = screened(ScreeningAnswer::Clear);
        v.apply(Action::Approve, STAFF, 130, "").unwrap();
        assert_eq!(v.record_answer(&ScreeningAnswer::Hit { reason: "new file".into() }, 500), Ok(State::Revoked));
        assert!(matches!(v.clearance(), Err(NotCleared::NotApproved(State::Revoked))));
    }

    #[test]
    fn a_transient_error_is_not_a_decision() {
        let mut v = Vetting::submit(PersonId(1), AccountId(1), 0);
        v.apply(Action::StartScreening, STAFF, 1, "").unwrap();
        assert_eq!(v.record_answer(&ScreeningAnswer::Error { retry_after: 30 }, 2), Err(VettingError::RetryAfter(30)));
        assert_eq!((v.state(), v.audit().len()), (State::Screening, 2));
    }

    #[test]
    fn errors_name_the_refused_transition() {
        let e = transition(State::Withdrawn, Action::Appeal).unwrap_err();
        assert_eq!(e.to_string(), "cannot appeal an application that is withdrawn");
        assert!(transition(State::Revoked, Action::Withdraw).is_err());
        assert!(transition(State::Refused, Action::Approve).is_err());
        assert!(transition(State::Approved, Action::StartScreening).is_err());
    }

    fn any_action() -> impl Strategy<Value = Action> {
        prop_oneof![
            Just(Action::StartScreening),
            Just(Action::ScreeningClear),
            Just(Action::ScreeningHit),
            Just(Action::Approve),
            Just(Action::Refuse),
            Just(Action::Appeal),
            Just(Action::Revoke),
            Just(Action::Withdraw),
        ]
    }

    proptest! {
        /// Whatever happens: a clearance exists only if the last screening answer of the current
        /// round was clear and the last transition was an approval; every accepted action adds
        /// exactly one audit entry, whose `from` is the previous entry's `to`.
        #[test]
        fn clearance_requires_clear_screening_and_approval(actions in proptest::collection::vec(any_action(), 0..30)) {
            let mut v = Vetting::submit(PersonId(9), AccountId(1), 0);
            for (t, a) in actions.into_iter().enumerate() {
                let before = v.audit().len();
                let ok = v.apply(a, STAFF, t as i64 + 1, "because").is_ok();
                prop_assert_eq!(v.audit().len(), before + usize::from(ok));
            }
            for w in v.audit().windows(2) {
                prop_assert_eq!(w[0].to, w[1].from);
            }
            if v.clearance().is_ok() {
                let last_screen = v.audit().iter().rev().find(|e| matches!(
                    e.action, Action::StartScreening | Action::ScreeningClear | Action::ScreeningHit)).unwrap();
                prop_assert_eq!(last_screen.action, Action::ScreeningClear);
                prop_assert_eq!(v.audit().last().unwrap().action, Action::Approve);
            }
        }
    }
}
