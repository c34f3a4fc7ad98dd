//! Tessera's outward-looking security rules, pure: what a fake ticket shop or a leaked
//! password looks like, with no I/O at all (no files, network, clock, threads or async
//! runtime; every function takes values and returns decisions). The application reads the
//! feeds and the dumps, files the SOC cases and serves the HTTP answers; this crate decides.
//! It must never depend on tokio, sqlx, axum or an HTTP type.
//!
//! - [`fuzz`](mod@fuzz): dnstwist's fuzzer classes (addition, bitsquatting, cyrillic, homoglyph,
//!   hyphenation, insertion, omission, plural, repetition, replacement, subdomain,
//!   transposition, vowel-swap, dictionary, TLD swap, and its "various"), reimplemented from
//!   its source and checked name for name against dnstwist 20250130.
//! - [`detect`]: the [`Detector`] for newly seen names: the dnstwist candidates of every
//!   official domain in a hash set, plus TR39 confusable skeletons, edit distance on the
//!   registrable label, other public suffixes, brand keyword combinations and a brand in the
//!   subdomain of another domain, each hit with its techniques and a score.
//! - [`name`]: names canonicalised (lowercase, punycode decoded, wildcard and trailing dot
//!   removed) and split at the public suffix.
//! - [`certstream`]: certificate-transparency JSON lines into the names they carry, bounded.
//! - [`leaks`]: leaked credentials as SHA-1 hashes only, a compact [`LeakedSet`], and the
//!   k-anonymous, padded range answer of Have I Been Pwned's API.
//!
//! Dependencies and why: `idna` (punycode), `unicode-security` (the TR39 skeleton),
//! `unicode-normalization` (NFKC), `psl` (Mozilla's public suffix list, compiled in), `strsim`
//! (Damerau distance), `sha1`, `hmac` and `sha2` (the padding), `zeroize`. The dnstwist
//! generator is our own: dnstwist is Python, and the one Rust port (`twistrs`) is async, pulls
//! in DNS resolution and has lacked the dictionary and TLD fuzzers.

pub mod certstream;
pub mod detect;
pub mod fuzz;
pub mod leaks;
pub mod name;

pub use certstream::{parse_line, Certificate, LineError, Message};
pub use detect::{DetectError, Detector, DetectorConfig, Hit, Technique};
pub use fuzz::{fuzz, Candidate, FuzzClass, FuzzError, FuzzOptions};
pub use leaks::{
    find_in_range, parse_dump_line, parse_dump_line_wiping, parse_hash_line, parse_range_line, sha1_of, Email, Leak,
    LeakError, LeakedSet, LeakedSetBuilder, PaddingKey, Prefix, RangeError, Sha1Hash,
};
pub use name::{Name, NameError};
