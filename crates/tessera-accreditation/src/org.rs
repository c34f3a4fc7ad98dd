//! Responsible organisations, their officers and their quotas.
//!
//! Individuals cannot apply for accreditation: a responsible organisation (a National Olympic
//! Committee, an international federation, a media outlet, the host broadcaster, the workforce
//! of the organising committee, ...) submits for its people, through its officers, within a
//! quota per category. [`Organisation::check_submission`] is the gate every submission goes
//! through: the account must be one of the organisation's officers, and the category must have
//! room left once the organisation's **live** applications are counted (see
//! [`State::holds_quota`]: refused, withdrawn and revoked applications give their place back).

use std::collections::{BTreeMap, BTreeSet};

use crate::application::Application;
use crate::codes::{AccountId, CategoryCode, OrgCode, PersonId};
use crate::vetting::{State, Vetting};

/// Longest organisation name, in bytes.
pub const MAX_ORG_NAME_LEN: usize = 128;

/// The kind of a responsible organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum OrgKind {
    /// A National Olympic (or Paralympic) Committee.
    Noc,
    /// An international sports federation.
    InternationalFederation,
    /// A press agency, newspaper or non-rights-holding broadcaster.
    MediaOutlet,
    /// A rights-holding broadcaster.
    RightsHoldingBroadcaster,
    /// The host broadcaster (OBS at recent Games).
    HostBroadcaster,
    /// The organising committee's paid workforce and contractors.
    Workforce,
    /// The volunteer programme.
    Volunteers,
    /// A security contractor.
    Security,
    /// Anything else the IOC Executive Board makes eligible.
    Other,
}

/// Why an organisation cannot be built, or a submission is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrgError {
    /// The name is empty or longer than [`MAX_ORG_NAME_LEN`].
    #[error("organisation name must be 1 to {MAX_ORG_NAME_LEN} bytes")]
    BadName,
    /// The account is not an officer of the organisation.
    #[error("{account} is not an officer of organisation `{org}`")]
    NotAnOfficer {
        /// Who tried to submit.
        account: AccountId,
        /// The organisation.
        org: OrgCode,
    },
    /// The application names another organisation than the one submitting it.
    #[error("organisation `{org}` cannot submit an application for organisation `{named}`")]
    OtherOrganisation {
        /// The submitting organisation.
        org: OrgCode,
        /// The organisation the application names.
        named: OrgCode,
    },
    /// The organisation has no quota at all in the category.
    #[error("organisation `{org}` has no quota for category `{category}`")]
    NoQuota {
        /// The organisation.
        org: OrgCode,
        /// The category.
        category: CategoryCode,
    },
    /// The category's quota is used up.
    #[error("organisation `{org}` is at its quota of {quota} for category `{category}` ({live} live applications)")]
    OverQuota {
        /// The organisation.
        org: OrgCode,
        /// The category.
        category: CategoryCode,
        /// The quota.
        quota: u32,
        /// Live applications counted.
        live: u32,
    },
}

/// A responsible organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organisation {
    code: OrgCode,
    name: String,
    kind: OrgKind,
    officers: BTreeSet<AccountId>,
    quotas: BTreeMap<CategoryCode, u32>,
}

impl Organisation {
    /// A new organisation with no officers and no quotas.
    pub fn new(code: OrgCode, name: &str, kind: OrgKind) -> Result<Self, OrgError> {
        let name = name.trim();
        if name.is_empty() || name.len() > MAX_ORG_NAME_LEN {
            return Err(OrgError::BadName);
        }
        Ok(Self { code, name: name.to_owned(), kind, officers: BTreeSet::new(), quotas: BTreeMap::new() })
    }

    /// The organisation's code.
    pub fn code(&self) -> &OrgCode {
        &self.code
    }

    /// The organisation's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The organisation's kind.
    pub fn kind(&self) -> OrgKind {
        self.kind
    }

    /// Makes `account` an officer (idempotent).
    pub fn add_officer(&mut self, account: AccountId) {
        self.officers.insert(account);
    }

    /// Removes an officer; returns whether they were one.
    pub fn remove_officer(&mut self, account: AccountId) -> bool {
        self.officers.remove(&account)
    }

    /// Whether `account` is an officer.
    pub fn is_officer(&self, account: AccountId) -> bool {
        self.officers.contains(&account)
    }

    /// Sets the quota for a category (0 removes it).
    pub fn set_quota(&mut self, category: CategoryCode, quota: u32) {
        if quota == 0 {
            self.quotas.remove(&category);
        } else {
            self.quotas.insert(category, quota);
        }
    }

    /// The quota for a category (0 when none).
    pub fn quota(&self, category: &CategoryCode) -> u32 {
        self.quotas.get(category).copied().unwrap_or(0)
    }

    /// Counts this organisation's applications in `category` that hold a quota place, from an
    /// iterator of `(organisation, category, state)` over every application known.
    pub fn count_live<'a>(
        &self,
        category: &CategoryCode,
        applications: impl IntoIterator<Item = (&'a OrgCode, &'a CategoryCode, State)>,
    ) -> u32 {
        let n = applications
            .into_iter()
            .filter(|(org, cat, state)| *org == &self.code && *cat == category && state.holds_quota())
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// Whether `by` may submit one more application in `category`, given `live` applications of
    /// this organisation in that category already holding a place (see [`Organisation::count_live`]).
    pub fn check_submission(&self, by: AccountId, category: &CategoryCode, live: u32) -> Result<(), OrgError> {
        if !self.is_officer(by) {
            return Err(OrgError::NotAnOfficer { account: by, org: self.code.clone() });
        }
        let quota = self.quota(category);
        if quota == 0 {
            return Err(OrgError::NoQuota { org: self.code.clone(), category: category.clone() });
        }
        if live >= quota {
            return Err(OrgError::OverQuota { org: self.code.clone(), category: category.clone(), quota, live });
        }
        Ok(())
    }
    /// Submits an application for one of this organisation's people: the application must name
    /// this organisation, and [`Organisation::check_submission`] must pass. The result is the
    /// person's vetting record, audited as submitted by `by` at `now`.
    pub fn submit(
        &self,
        by: AccountId,
        application: &Application,
        live: u32,
        person: PersonId,
        now: i64,
    ) -> Result<Vetting, OrgError> {
        if application.organisation() != &self.code {
            return Err(OrgError::OtherOrganisation {
                org: self.code.clone(),
                named: application.organisation().clone(),
            });
        }
        self.check_submission(by, application.category(), live)?;
        Ok(Vetting::submit(person, by, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn c(s: &str) -> CategoryCode {
        CategoryCode::parse(s).unwrap()
    }

    fn noc() -> Organisation {
        let mut o =
            Organisation::new(OrgCode::parse("FRA").unwrap(), "Comité national olympique", OrgKind::Noc).unwrap();
        o.add_officer(AccountId(7));
        o.set_quota(c("A"), 2);
        o
    }

    #[test]
    fn only_officers_submit() {
        let o = noc();
        assert_eq!(o.check_submission(AccountId(7), &c("A"), 0), Ok(()));
        assert_eq!(
            o.check_submission(AccountId(8), &c("A"), 0),
            Err(OrgError::NotAnOfficer { account: AccountId(8), org: OrgCode::parse("FRA").unwrap() })
        );
        let mut o = o;
        assert!(o.remove_officer(AccountId(7)));
        assert!(o.check_submission(AccountId(7), &c("A"), 0).is_err());
    }

    #[test]
    fn quota_counts_live_applications_only() {
        let o = noc();
        let fra = OrgCode::parse("FRA").unwrap();
        let ger = OrgCode::parse("GER").unwrap();
        let (a, e) = (c("A"), c("E"));
        let apps = [
            (&fra, &a, State::Approved),
            (&fra, &a, State::Refused),
            (&fra, &a, State::Withdrawn),
            (&fra, &a, State::Revoked),
            (&fra, &e, State::Submitted),
            (&ger, &a, State::Submitted),
            (&fra, &a, State::Screening),
        ];
        let live = o.count_live(&a, apps);
        assert_eq!(live, 2);
        let err = o.check_submission(AccountId(7), &a, live).unwrap_err();
        assert_eq!(err, OrgError::OverQuota { org: fra, category: a.clone(), quota: 2, live: 2 });
        assert_eq!(err.to_string(), "organisation `FRA` is at its quota of 2 for category `A` (2 live applications)");
        assert_eq!(o.check_submission(AccountId(7), &a, 1), Ok(()));
    }

    #[test]
    fn no_quota_is_its_own_error() {
        let mut o = noc();
        assert!(matches!(o.check_submission(AccountId(7), &c("E"), 0), Err(OrgError::NoQuota { .. })));
        o.set_quota(c("A"), 0);
        assert!(matches!(o.check_submission(AccountId(7), &c("A"), 0), Err(OrgError::NoQuota { .. })));
    }

    #[test]
    fn an_officer_submits_only_for_their_organisation() {
        use crate::application::tests::{ctx, raw};
        use crate::application::RawApplication;
        let m = crate::matrix::AccessMatrix::demo_default();
        let o = noc();
        let app = Application::parse(&raw(), &ctx(&m)).unwrap();
        let v = o.submit(AccountId(7), &app, 0, PersonId(3), 50).unwrap();
        assert_eq!((v.person(), v.state(), v.audit()[0].at), (PersonId(3), State::Submitted, 50));
        assert!(matches!(o.submit(AccountId(8), &app, 0, PersonId(3), 50), Err(OrgError::NotAnOfficer { .. })));
        assert!(matches!(o.submit(AccountId(7), &app, 2, PersonId(3), 50), Err(OrgError::OverQuota { .. })));
        let other = Application::parse(&RawApplication { organisation: "GER".into(), ..raw() }, &ctx(&m)).unwrap();
        assert_eq!(
            o.submit(AccountId(7), &other, 0, PersonId(3), 50),
            Err(OrgError::OtherOrganisation {
                org: OrgCode::parse("FRA").unwrap(),
                named: OrgCode::parse("GER").unwrap()
            })
        );
    }

    #[test]
    fn names_are_bounded() {
        let code = OrgCode::parse("X").unwrap();
        assert_eq!(Organisation::new(code.clone(), "  ", OrgKind::Other), Err(OrgError::BadName));
        assert_eq!(Organisation::new(code, &"n".repeat(129), OrgKind::Other), Err(OrgError::BadName));
    }

    proptest! {
        /// Submitting one by one while the check passes never exceeds the quota.
        #[test]
        fn quota_is_never_exceeded(quota in 0u32..20, attempts in 0usize..40) {
            let mut o = noc();
            o.set_quota(c("A"), quota);
            let mut live = 0u32;
            for _ in 0..attempts {
                if o.check_submission(AccountId(7), &c("A"), live).is_ok() {
                    live += 1;
                }
            }
            prop_assert!(live <= quota);
            prop_assert_eq!(live, quota.min(attempts as u32));
        }
    }
}
