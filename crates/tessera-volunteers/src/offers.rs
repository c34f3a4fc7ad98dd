//! One offer per selected applicant, to accept or refuse before a deadline.
//!
//! An offer is `Offered` until the applicant answers, the deadline passes, or a coordinator
//! withdraws it with an [`Audit`] record. Time is an argument: an answer given at or after the
//! deadline is refused and the offer expires instead. [`next_run`] turns a set of offers into
//! what the next matching run must respect: accepted and still-outstanding offers hold their
//! positions; refused, expired and withdrawn ones free them and keep the applicant away from that
//! bucket (or from every bucket, by [`RefusalScope`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::applicant::ApplicantId;
use crate::matching::{Audit, Exclusion, ExclusionScope, Fixed};
use crate::mission::BucketKey;

/// Where an offer stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OfferState {
    /// Waiting for an answer.
    Offered,
    /// Accepted at this time.
    Accepted(OffsetDateTime),
    /// Refused at this time.
    Refused(OffsetDateTime),
    /// Not answered by the deadline.
    Expired,
    /// Withdrawn by a coordinator.
    Withdrawn(Audit),
}

/// An offer of one bucket to one applicant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    /// The applicant.
    pub applicant: ApplicantId,
    /// The (mission, venue) offered.
    pub bucket: BucketKey,
    /// When it was made.
    pub offered_at: OffsetDateTime,
    /// Answers are taken strictly before this instant.
    pub deadline: OffsetDateTime,
    state: OfferState,
}

/// Why an offer could not be made or changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OfferError {
    /// The deadline is not after the offer.
    #[error("the deadline must come after the offer")]
    DeadlineBeforeOffer,
    /// The offer was already answered, expired or withdrawn.
    #[error("the offer is no longer open")]
    NotOpen,
    /// The answer came at or after the deadline; the offer has expired.
    #[error("the deadline has passed")]
    Expired,
}

impl Offer {
    /// A new open offer.
    pub fn new(
        applicant: ApplicantId,
        bucket: BucketKey,
        offered_at: OffsetDateTime,
        deadline: OffsetDateTime,
    ) -> Result<Self, OfferError> {
        if deadline <= offered_at {
            return Err(OfferError::DeadlineBeforeOffer);
        }
        Ok(Self { applicant, bucket, offered_at, deadline, state: OfferState::Offered })
    }

    /// The state as of `now`: an open offer past its deadline reads as expired.
    pub fn state(&self, now: OffsetDateTime) -> OfferState {
        match &self.state {
            OfferState::Offered if now >= self.deadline => OfferState::Expired,
            s => s.clone(),
        }
    }

    fn answer(&mut self, now: OffsetDateTime, to: OfferState) -> Result<(), OfferError> {
        match self.state(now) {
            OfferState::Offered => {
                self.state = to;
                Ok(())
            }
            OfferState::Expired => {
                self.state = OfferState::Expired;
                Err(OfferError::Expired)
            }
            _ => Err(OfferError::NotOpen),
        }
    }

    /// The applicant accepts.
    pub fn accept(&mut self, now: OffsetDateTime) -> Result<(), OfferError> {
        self.answer(now, OfferState::Accepted(now))
    }

    /// The applicant refuses.
    pub fn refuse(&mut self, now: OffsetDateTime) -> Result<(), OfferError> {
        self.answer(now, OfferState::Refused(now))
    }

    /// A coordinator withdraws an open offer.
    pub fn withdraw(&mut self, audit: Audit) -> Result<(), OfferError> {
        let now = audit.at;
        self.answer(now, OfferState::Withdrawn(audit))
    }
}

/// Whether a refusal keeps the applicant out of the refused bucket only, or out of all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RefusalScope {
    /// The refused bucket only: the applicant may be offered something else.
    Bucket,
    /// Every bucket: one offer, as Paris 2024 did.
    All,
}

/// What the next matching run must respect.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunConstraints {
    /// Accepted and outstanding offers: their positions are held.
    pub fixed: Vec<Fixed>,
    /// Applicants kept out after a refusal, an expiry or a withdrawal.
    pub exclusions: Vec<Exclusion>,
}

/// The constraints for the next run, as of `now`, sorted by applicant then bucket. An applicant's
/// latest offer decides: if it is accepted or open, the applicant is fixed there; every
/// refused, expired or withdrawn offer excludes them per `scope` (withdrawals always from that
/// bucket only: it was the coordinator's decision, not the applicant's).
pub fn next_run(offers: &[Offer], now: OffsetDateTime, scope: RefusalScope) -> RunConstraints {
    let mut by_applicant: BTreeMap<ApplicantId, Vec<&Offer>> = BTreeMap::new();
    for o in offers {
        by_applicant.entry(o.applicant).or_default().push(o);
    }
    let mut out = RunConstraints::default();
    for (id, mut list) in by_applicant {
        list.sort_by(|a, b| (a.offered_at, &a.bucket).cmp(&(b.offered_at, &b.bucket)));
        if let Some(last) = list.last() {
            match last.state(now) {
                OfferState::Accepted(_) => {
                    out.fixed.push(Fixed { applicant: id, bucket: last.bucket.clone(), accepted: true })
                }
                OfferState::Offered => {
                    out.fixed.push(Fixed { applicant: id, bucket: last.bucket.clone(), accepted: false })
                }
                _ => {}
            }
        }
        let mut all = false;
        let mut buckets: Vec<&BucketKey> = Vec::new();
        for o in &list {
            match o.state(now) {
                OfferState::Refused(_) | OfferState::Expired => match scope {
                    RefusalScope::All => all = true,
                    RefusalScope::Bucket => buckets.push(&o.bucket),
                },
                OfferState::Withdrawn(_) => buckets.push(&o.bucket),
                _ => {}
            }
        }
        buckets.sort();
        buckets.dedup();
        if all {
            out.exclusions.push(Exclusion { applicant: id, scope: ExclusionScope::All });
        }
        for b in buckets {
            out.exclusions.push(Exclusion { applicant: id, scope: ExclusionScope::Bucket(b.clone()) });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mission::{MissionCode, VenueId};
    use time::macros::datetime;

    fn key(m: &str) -> BucketKey {
        BucketKey { mission: MissionCode::new(m).unwrap(), venue: VenueId::new("V1").unwrap() }
    }

    fn offer(id: u32, m: &str) -> Offer {
        Offer::new(ApplicantId(id), key(m), datetime!(2023-09-01 10:00 UTC), datetime!(2023-09-15 10:00 UTC)).unwrap()
    }

    #[test]
    fn deadline_must_follow_the_offer() {
        let t = datetime!(2023-09-01 10:00 UTC);
        assert_eq!(Offer::new(ApplicantId(1), key("A"), t, t), Err(OfferError::DeadlineBeforeOffer));
    }

    #[test]
    fn accept_before_the_deadline_only() {
        let mut o = offer(1, "A");
        assert_eq!(o.accept(datetime!(2023-09-15 10:00 UTC)), Err(OfferError::Expired));
        assert_eq!(o.state(datetime!(2023-09-02 00:00 UTC)), OfferState::Expired, "expiry is final");
        let mut o = offer(1, "A");
        o.accept(datetime!(2023-09-15 09:59:59 UTC)).unwrap();
        assert_eq!(o.refuse(datetime!(2023-09-15 09:59:59 UTC)), Err(OfferError::NotOpen));
        assert!(matches!(o.state(datetime!(2024-01-01 00:00 UTC)), OfferState::Accepted(_)));
    }

    #[test]
    fn open_offers_read_as_expired_after_the_deadline() {
        let o = offer(1, "A");
        assert_eq!(o.state(datetime!(2023-09-10 00:00 UTC)), OfferState::Offered);
        assert_eq!(o.state(datetime!(2023-09-15 10:00 UTC)), OfferState::Expired);
    }

    #[test]
    fn next_run_holds_accepted_and_open_and_excludes_the_rest() {
        let now = datetime!(2023-09-20 00:00 UTC);
        let mut accepted = offer(1, "A");
        accepted.accept(datetime!(2023-09-02 00:00 UTC)).unwrap();
        let mut refused = offer(2, "B");
        refused.refuse(datetime!(2023-09-02 00:00 UTC)).unwrap();
        let expired = offer(3, "C");
        let mut open =
            Offer::new(ApplicantId(4), key("D"), datetime!(2023-09-18 00:00 UTC), datetime!(2023-10-01 00:00 UTC))
                .unwrap();
        let mut withdrawn = offer(5, "E");
        withdrawn.withdraw(Audit::new("coord", "venue closed", datetime!(2023-09-03 00:00 UTC)).unwrap()).unwrap();
        // Applicant 2 refused B and was later offered F, still open.
        let second =
            Offer::new(ApplicantId(2), key("F"), datetime!(2023-09-19 00:00 UTC), datetime!(2023-10-01 00:00 UTC))
                .unwrap();
        let offers = [withdrawn.clone(), open.clone(), expired, refused, accepted, second];

        let c = next_run(&offers, now, RefusalScope::Bucket);
        assert_eq!(
            c.fixed,
            vec![
                Fixed { applicant: ApplicantId(1), bucket: key("A"), accepted: true },
                Fixed { applicant: ApplicantId(2), bucket: key("F"), accepted: false },
                Fixed { applicant: ApplicantId(4), bucket: key("D"), accepted: false },
            ]
        );
        let ex = |id, m: &str| Exclusion { applicant: ApplicantId(id), scope: ExclusionScope::Bucket(key(m)) };
        assert_eq!(c.exclusions, vec![ex(2, "B"), ex(3, "C"), ex(5, "E")]);

        let c = next_run(&offers, now, RefusalScope::All);
        let all = |id| Exclusion { applicant: ApplicantId(id), scope: ExclusionScope::All };
        assert_eq!(c.exclusions, vec![all(2), all(3), ex(5, "E")]);

        // Once the open offer's deadline passes, its position is freed.
        open.refuse(datetime!(2023-09-19 00:00 UTC)).unwrap();
        let c = next_run(&[open], now, RefusalScope::Bucket);
        assert!(c.fixed.is_empty());
        assert_eq!(c.exclusions, vec![ex(4, "D")]);
        assert_eq!(withdrawn.withdraw(Audit::new("c", "again", now).unwrap()), Err(OfferError::NotOpen));
    }

    #[test]
    fn blank_audits_are_refused() {
        assert!(Audit::new(" ", "reason", datetime!(2023-09-01 00:00 UTC)).is_err());
        assert!(Audit::new("coord", "", datetime!(2023-09-01 00:00 UTC)).is_err());
    }
}
