//! Accreditation, from application to badge, as pure rules. This crate owns the domain of the
//! Olympic identity and accreditation card: responsible organisations with their officers and
//! quotas ([`org`]), the category × venue × zone × privilege access matrix ([`matrix`]),
//! applications parsed into valid values, duplicate detection and CSV bulk import
//! ([`application`]), photo checks and cropping ([`photo`]), the vetting state machine with its
//! audit trail and a screening-authority sandbox ([`vetting`]), the signed badge and the gate's
//! decision on it ([`badge`]), the printable card with its QR code, as PDF bytes ([`card`]), the
//! collection desk's signed and encrypted offline list with its hand-over sync ([`desk`]), and
//! erasure after the Games ([`retention`]).
//!
//! It takes values and returns decisions: time is always passed in (unix seconds, or a
//! [`time::Date`] for "today"), randomness is a generator the caller supplies, and it never
//! depends on an async runtime, a database, HTTP, files or a clock. It must stay that way:
//! badge verification runs on gate devices and desk lists are opened on offline desks, next to
//! the ticket credential of `tessera-credential`, whose issuer keys and Base45 text it shares.

pub mod application;
pub mod badge;
pub mod card;
pub mod codes;
pub mod desk;
pub mod matrix;
pub mod org;
pub mod photo;
pub mod retention;
pub mod vetting;

pub use application::{Application, ApplicationError, Field, FieldError, ParseContext, RawApplication};
pub use badge::{phone_code, verify, Badge, BadgeSigner, Decision, GateContext, Reason, RevocationList, SignedBadge};
pub use card::{card_pdf, qr_matrix, CardError, CardFace, QrMatrix};
pub use codes::{AccountId, CategoryCode, DeskCode, OrgCode, PersonId, PrivilegeCode, VenueCode, ZoneCode};
pub use desk::{DeskKey, DeskList, HandOver, HandOverLog};
pub use matrix::{AccessMatrix, GrantKind, MatrixError, TimedGrant};
pub use org::{OrgError, OrgKind, Organisation};
pub use photo::{CardPhoto, PhotoError, PhotoPolicy};
pub use retention::{erase, ErasedRecord, PersonRecord};
pub use vetting::{Action, Actor, AuditEntry, Clearance, State, Vetting, VettingError};
