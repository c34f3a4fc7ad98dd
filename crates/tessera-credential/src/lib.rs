//! The ticket credential and its offline verification. This crate owns the binary format of a
//! ticket's **pass** (issued once by the central system when a ticket activates on a phone, signed
//! with the event's Ed25519 issuer key and bound to a P-256 key pair made in the phone's browser),
//! of the renewing **code** the phone shows as a QR code (the pass, a time step and an ECDSA
//! signature by the phone's device key), and the pure decision a gate takes on a scanned code:
//! [`verify`] turns bytes, public keys, a policy and the gate's context into a [`Decision`] with a
//! stable [`Reason`]. It is pure functions on bytes: it never depends on async runtimes, databases,
//! HTTP or any other I/O, so it runs unchanged on gate devices, in simulators and under a fuzzer.
//! Revocation and "already used" are not decided here: the gate's store does that with the
//! [`VerifiedTicket`] this crate returns. The format is specified in `docs/ticket-credential.md`.

use std::collections::BTreeMap;
use std::fmt;

pub mod base45;
pub mod reader;

use reader::{Malformed, Reader};

use ed25519_dalek::Signer as _;
use sha2::{Digest, Sha256};

/// Format version carried in the first byte of every pass.
pub const FORMAT_VERSION: u8 = 1;
/// Domain-separation tag prefixed to the pass body before the issuer signs it.
pub const PASS_TAG: &[u8] = b"tessera-pass-v1";
/// Domain-separation tag prefixed to the message the device key signs for each step.
pub const CODE_TAG: &[u8] = b"tessera-code-v1";
/// Longest code accepted; longer input is refused before any parsing.
pub const MAX_CODE_LEN: usize = 512;
/// Bounds on the length-prefixed fields of a pass (bytes).
pub const MAX_SESSION_LEN: usize = 16;
/// Longest entrance (gate) code, in bytes.
pub const MAX_ENTRANCE_LEN: usize = 16;
/// Longest seat label, in bytes of UTF-8.
pub const MAX_SEAT_LEN: usize = 32;
/// Longest holder name, in bytes of UTF-8.
pub const MAX_HOLDER_LEN: usize = 64;
/// Length of an Ed25519 signature.
pub const PASS_SIGNATURE_LEN: usize = 64;
/// Length of a SEC1 compressed P-256 public key.
pub const DEVICE_KEY_LEN: usize = 33;
/// Length of a fixed-size P-256 ECDSA signature (r || s), as WebCrypto produces it.
pub const DEVICE_SIGNATURE_LEN: usize = 64;
/// Bytes after the pass in a code: the step (u64 big-endian) and the device signature.
pub const CODE_TAIL_LEN: usize = 8 + DEVICE_SIGNATURE_LEN;
/// Longest possible signed pass (all fields at their bounds).
pub const MAX_PASS_LEN: usize = 1
    + 4
    + 16
    + (1 + MAX_SESSION_LEN)
    + (1 + MAX_ENTRANCE_LEN)
    + (1 + MAX_SEAT_LEN)
    + (1 + MAX_HOLDER_LEN)
    + 8
    + 8
    + DEVICE_KEY_LEN
    + PASS_SIGNATURE_LEN;

// ---------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------

/// An event's issuer key: the only secret that can mint passes. It lives in the central system,
/// never on a gate.
pub struct IssuerKey {
    /// Key id written into every pass this key signs.
    pub id: u32,
    secret: ed25519_dalek::SigningKey,
}

impl IssuerKey {
    /// A fresh key from a cryptographic random number generator.
    pub fn generate<R: rand_core::CryptoRng + rand_core::RngCore + ?Sized>(id: u32, rng: &mut R) -> Self {
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        Self::from_secret_bytes(id, &seed)
    }

    /// A key from its 32-byte Ed25519 secret (seed), for loading from the central system's store.
    pub fn from_secret_bytes(id: u32, secret: &[u8; 32]) -> Self {
        Self { id, secret: ed25519_dalek::SigningKey::from_bytes(secret) }
    }

    /// The 32-byte secret, for storing it in the central system (never ship it to a gate).
    pub fn secret_bytes(&self) -> [u8; 32] {
        self.secret.to_bytes()
    }

    /// The public half, which gates trust through [`TrustedKeys`].
    pub fn public(&self) -> ed25519_dalek::VerifyingKey {
        self.secret.verifying_key()
    }
}

impl fmt::Debug for IssuerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuerKey").field("id", &self.id).field("secret", &"<redacted>").finish()
    }
}

/// One trusted issuer public key and the window in which passes signed by it are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustedKey {
    /// The Ed25519 public key.
    pub key: ed25519_dalek::VerifyingKey,
    /// First Unix second (inclusive) at which the key is accepted.
    pub not_before: i64,
    /// Last Unix second (inclusive) at which the key is accepted.
    pub not_after: i64,
}

/// Errors when building a [`TrustedKeys`] set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The 32 bytes are not a valid Ed25519 public key.
    #[error("not a valid Ed25519 public key")]
    InvalidPublicKey,
    /// `not_after` is before `not_before`.
    #[error("key validity window ends before it starts")]
    EmptyWindow,
}

/// The public keys a gate trusts: key id to Ed25519 verifying key, each with a validity window so
/// keys can be rotated (one key set per event day or venue). Holds no secret: a stolen gate cannot
/// mint passes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedKeys {
    keys: BTreeMap<u32, TrustedKey>,
}

impl TrustedKeys {
    /// An empty set (which refuses every code with [`Reason::UnknownKey`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// Trusts `key` under `id` from `not_before` to `not_after` (Unix seconds, both inclusive).
    /// A key already present under `id` is replaced.
    pub fn insert(
        &mut self,
        id: u32,
        key: ed25519_dalek::VerifyingKey,
        not_before: i64,
        not_after: i64,
    ) -> Result<(), KeyError> {
        if not_after < not_before {
            return Err(KeyError::EmptyWindow);
        }
        self.keys.insert(id, TrustedKey { key, not_before, not_after });
        Ok(())
    }

    /// Like [`TrustedKeys::insert`], from the 32 bytes of the public key (as carried in a bundle).
    pub fn insert_bytes(&mut self, id: u32, key: &[u8; 32], not_before: i64, not_after: i64) -> Result<(), KeyError> {
        let key = ed25519_dalek::VerifyingKey::from_bytes(key).map_err(|_| KeyError::InvalidPublicKey)?;
        self.insert(id, key, not_before, not_after)
    }

    /// Stops trusting `id`.
    pub fn remove(&mut self, id: u32) -> Option<TrustedKey> {
        self.keys.remove(&id)
    }

    /// The key trusted under `id`, if any.
    pub fn get(&self, id: u32) -> Option<&TrustedKey> {
        self.keys.get(&id)
    }

    /// Number of trusted keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is trusted.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

// ---------------------------------------------------------------------------------------------
// Pass
// ---------------------------------------------------------------------------------------------

/// The content of a pass: what the issuer signs once, when the ticket activates on a phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pass {
    /// Id of the issuer key that signs (and must sign) this pass.
    pub key_id: u32,
    /// The ticket's id.
    pub ticket_id: [u8; 16],
    /// Session code: printable ASCII, 1 to 16 bytes.
    pub session: String,
    /// Entrance (gate) code: printable ASCII, 0 to 16 bytes; empty means any entrance.
    pub entrance: String,
    /// Seat label: UTF-8, at most 32 bytes.
    pub seat: String,
    /// Holder's name: UTF-8, at most 64 bytes.
    pub holder: String,
    /// First Unix second (inclusive) at which the pass admits.
    pub valid_from: i64,
    /// Unix second (exclusive) from which the pass no longer admits.
    pub valid_until: i64,
    /// The phone's P-256 public key, SEC1 compressed.
    pub device_key: [u8; 33],
}

/// Why a pass cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// A field is too long, empty where it must not be, or has characters it must not have.
    #[error("invalid field `{field}`: {problem}")]
    InvalidField {
        /// The field's name.
        field: &'static str,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// `valid_until` is not after `valid_from`.
    #[error("the pass's validity window is empty")]
    EmptyValidity,
    /// The device key is not a valid SEC1 compressed P-256 point.
    #[error("the device key is not a compressed P-256 public key")]
    InvalidDeviceKey,
    /// The pass names another key id than the signing key's.
    #[error("the pass names key {pass} but is signed with key {key}")]
    KeyIdMismatch {
        /// Key id in the pass.
        pass: u32,
        /// Id of the signing key.
        key: u32,
    },
}

/// Why bytes are not a well-formed pass (nothing about signatures).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The version byte is not [`FORMAT_VERSION`].
    #[error("unsupported format version")]
    WrongVersion,
    /// The bytes do not follow the layout.
    #[error("malformed: {0}")]
    Malformed(&'static str),
}

fn is_code_char(b: u8) -> bool {
    b.is_ascii_graphic()
}

fn check_ascii_code(field: &'static str, v: &str, max: usize, allow_empty: bool) -> Result<(), EncodeError> {
    if v.len() > max {
        return Err(EncodeError::InvalidField { field, problem: "too long" });
    }
    if v.is_empty() && !allow_empty {
        return Err(EncodeError::InvalidField { field, problem: "empty" });
    }
    if !v.bytes().all(is_code_char) {
        return Err(EncodeError::InvalidField { field, problem: "not printable ASCII" });
    }
    Ok(())
}

fn check_text(field: &'static str, v: &str, max: usize) -> Result<(), EncodeError> {
    if v.len() > max {
        return Err(EncodeError::InvalidField { field, problem: "too long" });
    }
    Ok(())
}

impl Pass {
    /// Checks every field against the format's rules.
    pub fn validate(&self) -> Result<(), EncodeError> {
        check_ascii_code("session", &self.session, MAX_SESSION_LEN, false)?;
        check_ascii_code("entrance", &self.entrance, MAX_ENTRANCE_LEN, true)?;
        check_text("seat", &self.seat, MAX_SEAT_LEN)?;
        check_text("holder", &self.holder, MAX_HOLDER_LEN)?;
        if self.valid_until <= self.valid_from {
            return Err(EncodeError::EmptyValidity);
        }
        if !is_device_key(&self.device_key) {
            return Err(EncodeError::InvalidDeviceKey);
        }
        Ok(())
    }

    /// The unsigned body: every field of the pass in order, without the signature.
    pub fn encode_body(&self) -> Result<Vec<u8>, EncodeError> {
        self.validate()?;
        let mut out = Vec::with_capacity(MAX_PASS_LEN);
        out.push(FORMAT_VERSION);
        out.extend_from_slice(&self.key_id.to_be_bytes());
        out.extend_from_slice(&self.ticket_id);
        for field in [&self.session, &self.entrance, &self.seat, &self.holder] {
            // Lengths are bounded by `validate`, all far below 256.
            out.push(field.len() as u8);
            out.extend_from_slice(field.as_bytes());
        }
        out.extend_from_slice(&self.valid_from.to_be_bytes());
        out.extend_from_slice(&self.valid_until.to_be_bytes());
        out.extend_from_slice(&self.device_key);
        Ok(out)
    }

    /// Encodes the pass and signs it with the issuer key: `body || ed25519(PASS_TAG || body)`.
    pub fn sign(&self, key: &IssuerKey) -> Result<Vec<u8>, EncodeError> {
        if self.key_id != key.id {
            return Err(EncodeError::KeyIdMismatch { pass: self.key_id, key: key.id });
        }
        let mut out = self.encode_body()?;
        let signature = key.secret.sign(&pass_message(&out));
        out.extend_from_slice(&signature.to_bytes());
        Ok(out)
    }

    /// Decodes a complete signed pass **without checking its signature** (for display in the
    /// wallet, or tests). Trailing bytes are refused.
    pub fn parse_unverified(signed_pass: &[u8]) -> Result<Pass, ParseError> {
        if signed_pass.len() > MAX_PASS_LEN {
            return Err(ParseError::Malformed("pass too long"));
        }
        let (raw, rest) = RawPass::parse(signed_pass)?;
        if !rest.is_empty() {
            return Err(ParseError::Malformed("trailing bytes after pass"));
        }
        Ok(raw.to_pass())
    }
}

/// The bytes the issuer signs: `PASS_TAG || body`.
fn pass_message(body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(PASS_TAG.len() + body.len());
    m.extend_from_slice(PASS_TAG);
    m.extend_from_slice(body);
    m
}

/// A pass as borrowed slices of the input, before any signature is checked.
struct RawPass<'a> {
    key_id: u32,
    ticket_id: [u8; 16],
    session: &'a str,
    entrance: &'a str,
    seat: &'a str,
    holder: &'a str,
    valid_from: i64,
    valid_until: i64,
    device_key: [u8; 33],
    /// Everything before the signature.
    body: &'a [u8],
    signature: [u8; 64],
    /// Body and signature.
    whole: &'a [u8],
}

/// A bounds-checked reader: every read either returns the bytes or an error, never panics.
/// A code of printable ASCII, at most `max` bytes, after its one-byte length.
fn ascii_code<'a>(
    r: &mut Reader<'a>,
    max: usize,
    allow_empty: bool,
    what: &'static str,
) -> Result<&'a str, ParseError> {
    let s = r.prefixed(max, what)?;
    if (s.is_empty() && !allow_empty) || !s.iter().copied().all(is_code_char) {
        return Err(ParseError::Malformed(what));
    }
    std::str::from_utf8(s).map_err(|_| ParseError::Malformed(what))
}

impl From<Malformed> for ParseError {
    fn from(m: Malformed) -> Self {
        ParseError::Malformed(m.0)
    }
}

impl<'a> RawPass<'a> {
    /// Parses a signed pass at the start of `buf`; returns it and the bytes after it.
    fn parse(buf: &'a [u8]) -> Result<(Self, &'a [u8]), ParseError> {
        let mut r = Reader::new(buf);
        let version = r.u8("empty input")?;
        if version != FORMAT_VERSION {
            return Err(ParseError::WrongVersion);
        }
        let key_id = u32::from_be_bytes(r.array("key id")?);
        let ticket_id = r.array("ticket id")?;
        let session = ascii_code(&mut r, MAX_SESSION_LEN, false, "session")?;
        let entrance = ascii_code(&mut r, MAX_ENTRANCE_LEN, true, "entrance")?;
        let seat = r.text(MAX_SEAT_LEN, "seat")?;
        let holder = r.text(MAX_HOLDER_LEN, "holder")?;
        let valid_from = i64::from_be_bytes(r.array("valid from")?);
        let valid_until = i64::from_be_bytes(r.array("valid until")?);
        let device_key: [u8; 33] = r.array("device key")?;
        if !matches!(device_key[0], 2 | 3) {
            return Err(ParseError::Malformed("device key not compressed"));
        }
        let body_end = r.position();
        let signature = r.array("pass signature")?;
        let pass_end = r.position();
        let raw = RawPass {
            key_id,
            ticket_id,
            session,
            entrance,
            seat,
            holder,
            valid_from,
            valid_until,
            device_key,
            body: &buf[..body_end],
            signature,
            whole: &buf[..pass_end],
        };
        Ok((raw, &buf[pass_end..]))
    }

    fn to_pass(&self) -> Pass {
        Pass {
            key_id: self.key_id,
            ticket_id: self.ticket_id,
            session: self.session.to_owned(),
            entrance: self.entrance.to_owned(),
            seat: self.seat.to_owned(),
            holder: self.holder.to_owned(),
            valid_from: self.valid_from,
            valid_until: self.valid_until,
            device_key: self.device_key,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Code
// ---------------------------------------------------------------------------------------------

/// The step a clock reading falls in: `floor(unix_seconds / step_secs)`, 0 before the epoch.
/// A `step_secs` of 0 is treated as 1.
pub fn step_at(unix_seconds: i64, step_secs: u32) -> u64 {
    let s = i64::from(step_secs.max(1));
    u64::try_from(unix_seconds.div_euclid(s)).unwrap_or(0)
}

/// The message the device key signs for one step (ECDSA P-256 with SHA-256 over these bytes):
/// `CODE_TAG || sha256(signed_pass) || step (u64 big-endian)`. The browser builds the same bytes
/// and signs them with WebCrypto.
pub fn code_message(signed_pass: &[u8], step: u64) -> [u8; 15 + 32 + 8] {
    let mut m = [0u8; 15 + 32 + 8];
    m[..15].copy_from_slice(CODE_TAG);
    m[15..47].copy_from_slice(&Sha256::digest(signed_pass));
    m[47..].copy_from_slice(&step.to_be_bytes());
    m
}

/// What the phone shows at `unix_now`: `signed_pass || step || device signature (r || s)`.
/// The wallet does the same in the browser with WebCrypto; this is for tests and simulators.
pub fn make_code(signed_pass: &[u8], device: &p256::ecdsa::SigningKey, unix_now: i64, step_secs: u32) -> Vec<u8> {
    make_code_for_step(signed_pass, device, step_at(unix_now, step_secs))
}

/// Like [`make_code`] for an explicit step.
pub fn make_code_for_step(signed_pass: &[u8], device: &p256::ecdsa::SigningKey, step: u64) -> Vec<u8> {
    let signature = sign_device_message(device, &code_message(signed_pass, step));
    let mut out = Vec::with_capacity(signed_pass.len() + CODE_TAIL_LEN);
    out.extend_from_slice(signed_pass);
    out.extend_from_slice(&step.to_be_bytes());
    out.extend_from_slice(&signature);
    out
}

/// The SEC1 compressed public key of a device key, as it goes into [`Pass::device_key`].
pub fn device_public_key(device: &p256::ecdsa::SigningKey) -> [u8; 33] {
    let point = device.verifying_key().to_encoded_point(true);
    let mut out = [0u8; 33];
    out.copy_from_slice(point.as_bytes());
    out
}

// ---------------------------------------------------------------------------------------------
// Verification
// ---------------------------------------------------------------------------------------------

/// How codes are judged in time. The gate must use the same `step_secs` as the wallets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// How often the code renews (seconds); 0 is treated as 1.
    pub step_secs: u32,
    /// How long after the start of its step a code is accepted (seconds).
    pub window_secs: u32,
    /// Tolerance for the difference between the phone's clock and the gate's (seconds), on
    /// either side of the window.
    pub max_clock_skew_secs: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Self { step_secs: 15, window_secs: 30, max_clock_skew_secs: 5 }
    }
}

/// Where and when a gate verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GateContext<'a> {
    /// The session the gate admits to.
    pub session: &'a str,
    /// The gate's entrance code; `None` for a gate that admits through any entrance.
    pub entrance: Option<&'a str>,
    /// The gate's clock, Unix seconds.
    pub now: i64,
}

/// What a valid code proves: the gate's store then decides "already used" and revocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedTicket {
    /// The ticket's id.
    pub ticket_id: [u8; 16],
    /// The issuer key that signed the pass.
    pub key_id: u32,
    /// Session code.
    pub session: String,
    /// Entrance code (empty: any entrance).
    pub entrance: String,
    /// Seat label.
    pub seat: String,
    /// Holder's name.
    pub holder: String,
    /// The step the code was made for.
    pub step: u64,
}

/// Why a code is refused. [`Reason::as_str`] gives stable codes for logs, metrics and the gate UI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Not a code: too long, truncated, bad field, trailing bytes. The detail is for logs.
    Malformed(&'static str),
    /// The format version is not one this gate knows.
    WrongVersion,
    /// The pass names a key id the gate does not trust (another event, a forged id).
    UnknownKey,
    /// The issuer's signature over the pass does not verify: a forged or altered pass.
    BadSignature,
    /// The device's signature does not verify: a pass copied to another phone, or a forged code.
    BadDeviceSignature,
    /// The code's step is older than the window allows: a screenshot or photo.
    ExpiredCode,
    /// The code's step is later than the gate's clock allows.
    FutureCode,
    /// The pass is not valid yet.
    NotYetValid,
    /// The pass is no longer valid.
    Expired,
    /// The pass is for another session.
    WrongSession,
    /// The pass is for another entrance.
    WrongEntrance,
    /// The issuer key is trusted but not at this time (rotated out or not yet in force).
    KeyNotValidNow,
}

impl Reason {
    /// Every reason, once (with a placeholder detail for `Malformed`).
    pub const ALL: [Reason; 12] = [
        Reason::Malformed(""),
        Reason::WrongVersion,
        Reason::UnknownKey,
        Reason::BadSignature,
        Reason::BadDeviceSignature,
        Reason::ExpiredCode,
        Reason::FutureCode,
        Reason::NotYetValid,
        Reason::Expired,
        Reason::WrongSession,
        Reason::WrongEntrance,
        Reason::KeyNotValidNow,
    ];

    /// Stable snake_case code of the reason (the `Malformed` detail is not part of it).
    pub fn as_str(&self) -> &'static str {
        match self {
            Reason::Malformed(_) => "malformed",
            Reason::WrongVersion => "wrong_version",
            Reason::UnknownKey => "unknown_key",
            Reason::BadSignature => "bad_signature",
            Reason::BadDeviceSignature => "bad_device_signature",
            Reason::ExpiredCode => "expired_code",
            Reason::FutureCode => "future_code",
            Reason::NotYetValid => "not_yet_valid",
            Reason::Expired => "expired",
            Reason::WrongSession => "wrong_session",
            Reason::WrongEntrance => "wrong_entrance",
            Reason::KeyNotValidNow => "key_not_valid_now",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Malformed(detail) if !detail.is_empty() => write!(f, "malformed ({detail})"),
            other => f.write_str(other.as_str()),
        }
    }
}

impl From<ParseError> for Reason {
    fn from(e: ParseError) -> Self {
        match e {
            ParseError::WrongVersion => Reason::WrongVersion,
            ParseError::Malformed(d) => Reason::Malformed(d),
        }
    }
}

/// The gate's decision on one code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Cryptographically valid, fresh, for this session and entrance, within its validity.
    Valid(VerifiedTicket),
    /// Refused, with the first reason found (see the order in `docs/ticket-credential.md`).
    Refused(Reason),
}

impl Decision {
    /// Whether the decision is [`Decision::Valid`].
    pub fn is_valid(&self) -> bool {
        matches!(self, Decision::Valid(_))
    }

    /// The reason of a refusal.
    pub fn reason(&self) -> Option<Reason> {
        match self {
            Decision::Valid(_) => None,
            Decision::Refused(r) => Some(*r),
        }
    }
}

/// Verifies a scanned code offline. Pure: same inputs, same decision; never panics; allocates
/// only the strings of a valid ticket and a bounded signed-message buffer.
///
/// Checks, in order: length, layout and version; key id known; issuer signature; key in force at
/// `ctx.now`; device signature; code freshness (window and skew); pass validity; session;
/// entrance.
pub fn verify(code: &[u8], keys: &TrustedKeys, policy: &Policy, ctx: &GateContext) -> Decision {
    match verify_inner(code, keys, policy, ctx) {
        Ok(t) => Decision::Valid(t),
        Err(r) => Decision::Refused(r),
    }
}

fn verify_inner(code: &[u8], keys: &TrustedKeys, policy: &Policy, ctx: &GateContext) -> Result<VerifiedTicket, Reason> {
    if code.len() > MAX_CODE_LEN {
        return Err(Reason::Malformed("code too long"));
    }
    let (pass, tail) = RawPass::parse(code)?;
    if tail.len() != CODE_TAIL_LEN {
        return Err(Reason::Malformed(if tail.len() < CODE_TAIL_LEN {
            "code truncated"
        } else {
            "trailing bytes after code"
        }));
    }
    let mut step_bytes = [0u8; 8];
    step_bytes.copy_from_slice(&tail[..8]);
    let step = u64::from_be_bytes(step_bytes);
    let device_sig = &tail[8..];

    // The issuer's signature over the pass.
    let trusted = keys.get(pass.key_id).ok_or(Reason::UnknownKey)?;
    let issuer_sig = ed25519_dalek::Signature::from_bytes(&pass.signature);
    trusted.key.verify_strict(&pass_message(pass.body), &issuer_sig).map_err(|_| Reason::BadSignature)?;
    if ctx.now < trusted.not_before || ctx.now > trusted.not_after {
        return Err(Reason::KeyNotValidNow);
    }

    // The device's signature over this step: proves the code was made by the phone holding the
    // private key the pass is bound to.
    check_device_signature(&pass.device_key, &code_message(pass.whole, step), device_sig)?;
    check_freshness(step, policy, ctx.now)?;

    // The pass itself.
    if ctx.now < pass.valid_from {
        return Err(Reason::NotYetValid);
    }
    if ctx.now >= pass.valid_until {
        return Err(Reason::Expired);
    }
    if pass.session != ctx.session {
        return Err(Reason::WrongSession);
    }
    if let Some(entrance) = ctx.entrance {
        if !pass.entrance.is_empty() && pass.entrance != entrance {
            return Err(Reason::WrongEntrance);
        }
    }

    Ok(VerifiedTicket {
        ticket_id: pass.ticket_id,
        key_id: pass.key_id,
        session: pass.session.to_owned(),
        entrance: pass.entrance.to_owned(),
        seat: pass.seat.to_owned(),
        holder: pass.holder.to_owned(),
        step,
    })
}

/// Checks a device's ECDSA P-256 signature (`r || s`, as WebCrypto makes it, SHA-256 over
/// `message`) with its SEC1 compressed public key. Shared by every credential bound to a phone
/// (tickets here, phone badges in `tessera-accreditation`), so that there is one verification of
/// a phone's signature to get right. Refuses with [`Reason::BadDeviceSignature`], or
/// [`Reason::Malformed`] for a key that is not a point of the curve.
pub fn check_device_signature(
    device_key: &[u8; DEVICE_KEY_LEN],
    message: &[u8],
    signature: &[u8],
) -> Result<(), Reason> {
    // The credential carries the compressed point; ring's assembly-backed P-256 verification
    // (several times faster than the pure-Rust one, and the gate's hot path) wants it
    // uncompressed.
    let key =
        p256::PublicKey::from_sec1_bytes(device_key).map_err(|_| Reason::Malformed("device key not on the curve"))?;
    let uncompressed = p256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(&key, false);
    ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_FIXED, uncompressed.as_bytes())
        .verify(message, signature)
        .map_err(|_| Reason::BadDeviceSignature)
}

/// Whether the code for `step` is fresh at the gate's `now` under `policy`: accepted while
/// `step * step_secs - skew <= now < step * step_secs + window_secs + skew`. With the default
/// policy that is the current step and the one before, and five seconds of clock difference
/// either way. Refuses with [`Reason::FutureCode`] or [`Reason::ExpiredCode`] (a screenshot).
pub fn check_freshness(step: u64, policy: &Policy, now: i64) -> Result<(), Reason> {
    let step_start = i128::from(step) * i128::from(policy.step_secs.max(1));
    let now = i128::from(now);
    let skew = i128::from(policy.max_clock_skew_secs);
    if now < step_start - skew {
        return Err(Reason::FutureCode);
    }
    if now >= step_start + i128::from(policy.window_secs) + skew {
        return Err(Reason::ExpiredCode);
    }
    Ok(())
}

/// Whether 33 bytes are a SEC1 compressed P-256 public key, as a credential carries it.
pub fn is_device_key(device_key: &[u8; DEVICE_KEY_LEN]) -> bool {
    matches!(device_key[0], 2 | 3) && p256::ecdsa::VerifyingKey::from_sec1_bytes(device_key).is_ok()
}

/// The device's signature (`r || s`) over `message`, as the phone's WebCrypto makes it; for
/// tests, simulators and the demo.
pub fn sign_device_message(device: &p256::ecdsa::SigningKey, message: &[u8]) -> [u8; DEVICE_SIGNATURE_LEN] {
    let signature: p256::ecdsa::Signature = device.sign(message);
    let mut out = [0u8; DEVICE_SIGNATURE_LEN];
    out.copy_from_slice(&signature.to_bytes());
    out
}

pub mod fixture;
mod ids;

pub use ids::*;
