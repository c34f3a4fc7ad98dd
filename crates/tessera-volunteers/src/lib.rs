//! The volunteer programme of a mega-event, as pure rules: Paris 2024 had more than 300,000
//! applications for 45,000 positions, and this crate decides who is proposed where, why, and
//! when they work.
//!
//! It owns the application and its eligibility rules ([`applicant`]), missions, venues and the
//! positions they need ([`mission`]), the matching of applicants to (mission, venue) buckets by
//! an exact sparse min-cost flow that explains every proposal and reports fairness figures
//! ([`matching`]), the one-offer accept/refuse cycle that feeds the next run ([`offers`]), the
//! shift roster under rest rules ([`roster`](mod@roster)), and a deterministic synthetic population for
//! tests and benchmarks ([`generate`](mod@generate)). It does no I/O: no files, sockets, database, async
//! runtime or clock; dates and instants are arguments, and the same input always gives the same
//! output. It must never depend on tokio, sqlx, axum or a storage crate: the server stores
//! applications and offers and calls these functions.
//!
//! The min-cost flow is written here rather than taken from a crate: the ones the reference
//! lists either bind C++ (`mcmf` wraps LEMON) or are GPL (`rs-graph`), and a generic solver
//! would not exploit the shape that makes 300,000 × 45,000 fast (a Dijkstra over the ~4,500
//! buckets only, see `matching`'s module `flow`).

pub mod applicant;
pub mod generate;
pub mod matching;
pub mod mission;
pub mod offers;
pub mod roster;

pub use applicant::{
    Accreditation, Applicant, ApplicantId, ApplicationProblem, Availability, Country, EligibilityFailure,
    EligibilityRules, Gender, Language, LanguageRequirement, Level, ParseError, Region, Screening, Skill, Zone,
};
pub use generate::generate;
pub use matching::{
    run, Audit, BucketFill, BucketId, ConstraintKind, Exclusion, ExclusionScope, Fairness, Fixed, GroupFigures,
    HardConstraint, Input, InputError, NotChosen, NotChosenReason, Origin, Output, Override, OverrideAction,
    OverrideOutcome, Policy, Proposal, ScoreTerms, Stats, Unfilled, Unmatched, UnmatchedReason, Weights,
};
pub use mission::{buckets, Bucket, BucketKey, Mission, MissionCode, MissionError, Period, Position, Venue, VenueId};
pub use offers::{next_run, Offer, OfferError, OfferState, RefusalScope, RunConstraints};
pub use roster::{
    check, roster, Assignment, Breach, DeskLists, RestRules, Roster, RosterError, Shift, ShiftId, Volunteer,
};
