//! Retention: erasing a person's personal data after the Games, keeping the audit trail.
//!
//! [`erase`] consumes a [`PersonRecord`] and returns an [`ErasedRecord`], a different type that
//! has no field for a name, date of birth, nationality, document number, function or photo, so
//! erased data cannot be kept by mistake. What remains is what accountability needs: the ids,
//! the organisation and category (for statistics), the final state, the card serial, and the
//! audit trail with an entry for the erasure itself. Screening reasons stay in the trail: they
//! are the authority's decisions, not the person's data.

use crate::application::Application;
use crate::codes::{CategoryCode, OrgCode, PersonId};
use crate::photo::CardPhoto;
use crate::vetting::{Actor, AuditEntry, State, Vetting};

/// Everything held about one person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonRecord {
    /// The person.
    pub person: PersonId,
    /// Their application (identity and request).
    pub application: Application,
    /// Their card photo, once uploaded.
    pub photo: Option<CardPhoto>,
    /// Their vetting record.
    pub vetting: Vetting,
    /// Serial of their current card, once printed.
    pub card_serial: Option<u16>,
}

/// What is left after erasure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErasedRecord {
    /// The person.
    pub person: PersonId,
    /// Their organisation.
    pub organisation: OrgCode,
    /// Their category.
    pub category: CategoryCode,
    /// Their final state.
    pub state: State,
    /// Serial of their last card.
    pub card_serial: Option<u16>,
    /// The full audit trail, ending with the erasure.
    pub audit: Vec<AuditEntry>,
    /// When the data was erased.
    pub erased_at: i64,
}

/// Erases a person's personal data (see the module documentation).
pub fn erase(record: PersonRecord, by: Actor, now: i64) -> ErasedRecord {
    let PersonRecord { person, application, photo, mut vetting, card_serial } = record;
    drop(photo);
    vetting.record_erasure(by, now);
    ErasedRecord {
        person,
        organisation: application.organisation().clone(),
        category: application.category().clone(),
        state: vetting.state(),
        card_serial,
        audit: vetting.audit().to_vec(),
        erased_at: now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::application::tests::{ctx, raw};
    use crate::codes::AccountId;
    use crate::matrix::AccessMatrix;
    use crate::vetting::Action;

    #[test]
    fn erasure_keeps_ids_and_audit_and_drops_personal_fields() {
        let m = AccessMatrix::demo_default();
        let application = Application::parse(&raw(), &ctx(&m)).unwrap();
        let mut vetting = Vetting::submit(PersonId(5), AccountId(1), 10);
        vetting.apply(Action::StartScreening, Actor::Account(AccountId(2)), 20, "").unwrap();
        let record = PersonRecord { person: PersonId(5), application, photo: None, vetting, card_serial: Some(1) };
        let erased = erase(record, Actor::System, 1_000);
        assert_eq!((erased.person, erased.state, erased.card_serial), (PersonId(5), State::Screening, Some(1)));
        assert_eq!(erased.organisation.as_str(), "FRA");
        let actions: Vec<_> = erased.audit.iter().map(|e| e.action).collect();
        assert_eq!(actions, [Action::Submit, Action::StartScreening, Action::Erase]);
        assert_eq!((erased.audit[2].at, erased.audit[2].actor), (1_000, Actor::System));
        let shown = format!("{erased:?}");
        for personal in ["Pérec", "Marie", "1968", "12AB34567", "Athlete"] {
            assert!(!shown.contains(personal), "{personal} survived erasure: {shown}");
        }
    }
}
