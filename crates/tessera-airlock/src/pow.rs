//! Proof of work in the shape of ALTCHA v1, so the stock ALTCHA widget can solve it.
//!
//! The server picks a secret number `n` uniformly in `0..=maxnumber` and a salt, and sends
//! `challenge = hex(SHA-256(salt || decimal(n)))` with `signature = hex(HMAC-SHA256(key,
//! challenge))`. The browser finds `n` by brute force (on average `maxnumber / 2` hashes) and
//! sends back salt, challenge, number and signature, base64-encoded JSON. The server keeps no
//! state per challenge: the signature proves it issued the challenge, the hash proves the work,
//! and the salt carries everything else:
//!
//! ```text
//! <32 hex random>?expires=<unix seconds>&b=<32 hex binding tag>
//! ```
//!
//! `expires` bounds how long a solution is worth anything (the ALTCHA widget also reads it to
//! refresh in time). The binding tag is a keyed hash of a caller-chosen string (for example the
//! account id and the sale phase), so a solution bought or solved for one account is useless for
//! another; it is a tag rather than the string itself so no account id leaks to the page and no
//! escaping is needed. The salt is parsed strictly, ending in a fixed-length field: otherwise
//! digits could be moved between the end of the salt and the start of the number ("splicing")
//! to produce a different valid-looking solution from the same hash.
//!
//! Because the scheme is stateless, a solution could be replayed until it expires;
//! [`ReplayGuard`] remembers spent solutions until then. [`Difficulty`] scales `maxnumber`
//! with the join rate so the work is negligible on a calm day and expensive during a flood.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, Engine as _};
use hmac::{Hmac, Mac};
use rand::Rng as _;
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// The only algorithm offered and accepted.
pub const ALGORITHM: &str = "SHA-256";
/// Longest base64 payload [`Solution::from_base64_json`] will look at.
pub const MAX_PAYLOAD_LEN: usize = 1024;
const RANDOM_HEX_LEN: usize = 32;
const TAG_HEX_LEN: usize = 32;
const DIGEST_HEX_LEN: usize = 64;
/// Salts we issue are about 90 bytes; anything much longer is not ours.
const MAX_SALT_LEN: usize = 128;
const BINDING_DOMAIN: &[u8] = b"tessera-airlock/pow/binding/v1\0";

/// A challenge as sent to the browser (ALTCHA v1 JSON field names).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    /// Always `"SHA-256"`.
    pub algorithm: String,
    /// Lowercase hex of `SHA-256(salt || decimal(number))`.
    pub challenge: String,
    /// The secret number lies in `0..=maxnumber`; tells the solver where to stop. Not signed: it
    /// only affects the solver, the answer is fixed by `challenge`.
    pub maxnumber: u64,
    /// Random part, expiry and binding tag (see the module documentation).
    pub salt: String,
    /// Lowercase hex of `HMAC-SHA256(key, challenge)`.
    pub signature: String,
}

/// A solved challenge as returned by the browser.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Solution {
    /// Must be `"SHA-256"`.
    pub algorithm: String,
    /// The challenge, unchanged.
    pub challenge: String,
    /// The number found.
    pub number: u64,
    /// The salt, unchanged.
    pub salt: String,
    /// The signature, unchanged.
    pub signature: String,
}

fn base64_engine() -> GeneralPurpose {
    // Browsers send `btoa(JSON.stringify(..))`, which is padded; accept unpadded too.
    GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    )
}

impl Solution {
    /// Parses the payload the ALTCHA widget submits: base64 of the JSON object. Inputs longer
    /// than [`MAX_PAYLOAD_LEN`] are refused before decoding; unknown JSON fields (the widget adds
    /// `took`) are ignored.
    pub fn from_base64_json(payload: &str) -> Result<Self, PowError> {
        let payload = payload.trim();
        if payload.len() > MAX_PAYLOAD_LEN {
            return Err(PowError::Malformed);
        }
        let json = base64_engine().decode(payload).map_err(|_| PowError::Malformed)?;
        serde_json::from_slice(&json).map_err(|_| PowError::Malformed)
    }

    /// The payload form, as the widget would send it (padded standard base64 of the JSON).
    pub fn to_base64_json(&self) -> String {
        // Serialising a struct of strings and an integer cannot fail.
        let json = serde_json::to_vec(self).unwrap_or_default();
        base64::engine::general_purpose::STANDARD.encode(json)
    }

    /// The solution of `challenge` with `number`, as a browser would build it.
    pub fn for_challenge(challenge: &Challenge, number: u64) -> Self {
        Solution {
            algorithm: challenge.algorithm.clone(),
            challenge: challenge.challenge.clone(),
            number,
            salt: challenge.salt.clone(),
            signature: challenge.signature.clone(),
        }
    }
}

/// Why a solution was refused. [`as_str`](Self::as_str) gives a stable reason code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum PowError {
    /// Not a well-formed solution (encoding, algorithm, lengths, salt format).
    #[error("malformed proof of work")]
    Malformed,
    /// The signature does not match: not a challenge we issued, or it was altered.
    #[error("proof of work signature does not match")]
    BadSignature,
    /// The challenge has expired.
    #[error("proof of work expired")]
    Expired,
    /// The challenge was issued for another account or phase.
    #[error("proof of work was issued for someone else")]
    WrongBinding,
    /// The number does not solve the challenge (or the salt was altered).
    #[error("proof of work answer is wrong")]
    WrongAnswer,
    /// This solution was already used.
    #[error("proof of work already used")]
    Replayed,
    /// The replay guard is full of unexpired solutions; try again shortly.
    #[error("too many proofs of work in flight")]
    Busy,
}

impl PowError {
    /// Stable snake_case reason code for APIs and metrics.
    pub fn as_str(&self) -> &'static str {
        match self {
            PowError::Malformed => "pow_malformed",
            PowError::BadSignature => "pow_bad_signature",
            PowError::Expired => "pow_expired",
            PowError::WrongBinding => "pow_wrong_binding",
            PowError::WrongAnswer => "pow_wrong_answer",
            PowError::Replayed => "pow_replayed",
            PowError::Busy => "pow_busy",
        }
    }
}

/// Identifies one solved challenge for [`ReplayGuard`]: the challenge digest and its expiry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SolutionId {
    digest: [u8; 32],
    expires_ms: i64,
}

impl SolutionId {
    /// Unix milliseconds after which the solution is refused anyway, so need not be remembered.
    pub fn expires_ms(&self) -> i64 {
        self.expires_ms
    }
}

/// Issues and verifies challenges with one server-side HMAC key.
#[derive(Clone)]
pub struct Pow {
    mac: HmacSha256,
}

impl std::fmt::Debug for Pow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pow { .. }")
    }
}

impl Pow {
    /// A verifier for `key`, which must be secret and random (32 bytes from a CSPRNG).
    pub fn new(key: [u8; 32]) -> Self {
        // HMAC pads a key shorter than the hash block (64 bytes) with zeros, so this is exactly
        // HMAC-SHA256 under the 32-byte key, built without a fallible constructor.
        let mut block = [0u8; 64];
        block[..32].copy_from_slice(&key);
        Self { mac: HmacSha256::new(&block.into()) }
    }

    /// A fresh challenge valid until `now_ms + ttl_ms` for `binding`. The secret number is
    /// uniform in `0..=maxnumber`, so the expected work is `maxnumber / 2` hashes.
    pub fn challenge(
        &self,
        rng: &mut (impl RngCore + CryptoRng),
        maxnumber: u64,
        now_ms: i64,
        ttl_ms: i64,
        binding: &str,
    ) -> Challenge {
        let mut random = [0u8; RANDOM_HEX_LEN / 2];
        rng.fill_bytes(&mut random);
        let number = rng.gen_range(0..=maxnumber);
        let expires_secs = now_ms.saturating_add(ttl_ms).div_euclid(1000);
        let salt = format!("{}?expires={}&b={}", hex::encode(random), expires_secs, self.binding_tag(binding));
        let challenge = hex::encode(answer_digest(&salt, number));
        let signature = hex::encode(self.sign(&challenge));
        Challenge { algorithm: ALGORITHM.to_owned(), challenge, maxnumber, salt, signature }
    }

    /// Checks a solution for `binding` at `now_ms`. On success returns the id to pass to
    /// [`ReplayGuard::first_use`]; `verify` alone does not stop replays.
    pub fn verify(&self, s: &Solution, now_ms: i64, binding: &str) -> Result<SolutionId, PowError> {
        if s.algorithm != ALGORITHM {
            return Err(PowError::Malformed);
        }
        let digest = decode_lower_hex_32(&s.challenge).ok_or(PowError::Malformed)?;
        let signature = decode_lower_hex_32(&s.signature).ok_or(PowError::Malformed)?;
        let salt = parse_salt(&s.salt).ok_or(PowError::Malformed)?;

        let mut mac = self.mac.clone();
        mac.update(s.challenge.as_bytes());
        mac.verify_slice(&signature).map_err(|_| PowError::BadSignature)?;

        // Checked before expiry and binding so that those codes are only ever reported for a
        // salt that is authentic (it hashes, with the number, to the signed challenge).
        let answer = answer_digest(&s.salt, s.number);
        if !bool::from(answer.ct_eq(&digest)) {
            return Err(PowError::WrongAnswer);
        }

        let expires_ms = salt.expires_secs.saturating_mul(1000);
        if now_ms >= expires_ms {
            return Err(PowError::Expired);
        }
        let expected_tag = self.binding_tag(binding);
        if !bool::from(salt.tag.as_bytes().ct_eq(expected_tag.as_bytes())) {
            return Err(PowError::WrongBinding);
        }
        Ok(SolutionId { digest, expires_ms })
    }

    fn sign(&self, challenge_hex: &str) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(challenge_hex.as_bytes());
        mac.finalize().into_bytes().into()
    }

    fn binding_tag(&self, binding: &str) -> String {
        // Domain-separated from the signatures: signed inputs are 64 hex digits, this one starts
        // with a fixed non-hex prefix, so one can never stand in for the other.
        let mut mac = self.mac.clone();
        mac.update(BINDING_DOMAIN);
        mac.update(binding.as_bytes());
        let tag = mac.finalize().into_bytes();
        hex::encode(&tag[..TAG_HEX_LEN / 2])
    }
}

fn answer_digest(salt: &str, number: u64) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    h.update(number.to_string().as_bytes());
    h.finalize().into()
}

/// Exactly 64 lowercase hex digits; uppercase is refused so that every distinct string is a
/// distinct value (a solution has a single spelling).
fn decode_lower_hex_32(s: &str) -> Option<[u8; 32]> {
    if s.len() != DIGEST_HEX_LEN || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

struct Salt<'a> {
    expires_secs: i64,
    tag: &'a str,
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// `<32 lowercase hex>?expires=<canonical decimal i64>&b=<32 lowercase hex>`, nothing else.
fn parse_salt(salt: &str) -> Option<Salt<'_>> {
    if salt.len() > MAX_SALT_LEN {
        return None;
    }
    let (random, params) = salt.split_once("?expires=")?;
    let (expires, tag) = params.split_once("&b=")?;
    if random.len() != RANDOM_HEX_LEN || !is_lower_hex(random) || tag.len() != TAG_HEX_LEN || !is_lower_hex(tag) {
        return None;
    }
    let expires_secs: i64 = expires.parse().ok()?;
    // One spelling per value ("+5", "05" and "-0" are refused).
    if expires_secs.to_string() != expires {
        return None;
    }
    Some(Salt { expires_secs, tag })
}

/// Finds the number by brute force over `0..=maxnumber`, as the browser does. For tests, load
/// generators and demos: the loop runs up to `maxnumber + 1` times.
pub fn solve(c: &Challenge) -> Option<u64> {
    let target = decode_lower_hex_32(&c.challenge)?;
    let mut prefix = Sha256::new();
    prefix.update(c.salt.as_bytes());
    let mut buf = [0u8; 20];
    (0..=c.maxnumber).find(|&n| {
        let mut h = prefix.clone();
        h.update(format_u64(n, &mut buf));
        <[u8; 32]>::from(h.finalize()) == target
    })
}

/// Decimal digits of `n` without allocating (the solver's inner loop).
fn format_u64(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[i..]
}

/// Remembers spent solutions until they expire, within a fixed bound.
#[derive(Debug)]
pub struct ReplayGuard {
    inner: Mutex<ReplayInner>,
    max: usize,
}

#[derive(Debug)]
struct ReplayInner {
    seen: HashMap<[u8; 32], i64>,
    /// Lower bound on every expiry held; sweeping earlier cannot free anything.
    earliest: i64,
}

impl ReplayGuard {
    /// A guard remembering at most `max` unexpired solutions.
    pub fn new(max: usize) -> Self {
        Self { inner: Mutex::new(ReplayInner { seen: HashMap::new(), earliest: i64::MAX }), max }
    }

    /// Records the first use of `id`; `Err(Replayed)` if it was used before. Returns
    /// `Err(Expired)` for an id already expired at `now_ms` and `Err(Busy)` when the guard is full
    /// of unexpired ids: refusing is the safe side, forgetting would allow replays.
    pub fn first_use(&self, id: SolutionId, expires_ms: i64, now_ms: i64) -> Result<(), PowError> {
        // Trust the later of the two expiries so a caller mix-up can only make us remember longer.
        let expires_ms = expires_ms.max(id.expires_ms);
        if now_ms >= expires_ms {
            return Err(PowError::Expired);
        }
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(&until) = inner.seen.get(&id.digest) {
            if now_ms < until {
                return Err(PowError::Replayed);
            }
        } else if inner.seen.len() >= self.max {
            sweep_replays(&mut inner, now_ms);
            if inner.seen.len() >= self.max {
                return Err(PowError::Busy);
            }
        }
        inner.earliest = inner.earliest.min(expires_ms);
        inner.seen.insert(id.digest, expires_ms);
        Ok(())
    }

    /// Forgets expired ids.
    pub fn sweep(&self, now_ms: i64) {
        sweep_replays(&mut self.inner.lock().unwrap_or_else(PoisonError::into_inner), now_ms);
    }

    /// Number of ids remembered.
    pub fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner).seen.len()
    }

    /// Whether no id is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn sweep_replays(inner: &mut ReplayInner, now_ms: i64) {
    if now_ms < inner.earliest {
        return;
    }
    let mut earliest = i64::MAX;
    inner.seen.retain(|_, &mut until| {
        let keep = now_ms < until;
        if keep {
            earliest = earliest.min(until);
        }
        keep
    });
    inner.earliest = earliest;
}

/// How much work to ask for, given the load.
///
/// The curve: `maxnumber = base` while the join rate is at or below the calm rate, then
/// proportional to the load, `base * joins / calm` (each doubling of the join rate doubles the
/// expected work per join), capped at `max`. With the defaults (20 000 to 2 000 000) the work
/// goes from a few milliseconds to about a second of a phone's SHA-256, so a hundredfold surge
/// costs a bot farm a hundred times more per join while a fan waits about a second.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Difficulty {
    /// `maxnumber` in calm conditions.
    pub base: u64,
    /// Upper bound on `maxnumber`.
    pub max: u64,
}

impl Default for Difficulty {
    fn default() -> Self {
        Self { base: 20_000, max: 2_000_000 }
    }
}

impl Difficulty {
    /// `maxnumber` for the current `joins_per_sec` given what is normal (`calm_joins_per_sec`).
    /// Never below `min(base, max)` and never above `max`; NaN load counts as calm.
    pub fn for_load(&self, joins_per_sec: f64, calm_joins_per_sec: f64) -> u64 {
        let floor = self.base.min(self.max);
        // Anything but "strictly greater" (including NaN on either side) counts as calm.
        if joins_per_sec.partial_cmp(&calm_joins_per_sec) != Some(std::cmp::Ordering::Greater) {
            return floor;
        }
        let ratio = joins_per_sec / calm_joins_per_sec;
        if !ratio.is_finite() || ratio <= 0.0 {
            // Load above a zero or negative calm rate: as hard as allowed.
            return self.max;
        }
        let wanted = self.base as f64 * ratio;
        // `as` saturates; the comparison keeps the result within [floor, max].
        (wanted as u64).clamp(floor, self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng as _;
    use rand_chacha::ChaCha20Rng;

    const KEY: [u8; 32] = [7; 32];
    const NOW: i64 = 1_800_000_000_000;
    const TTL: i64 = 120_000;

    fn issue(maxnumber: u64, binding: &str) -> (Pow, Challenge) {
        let pow = Pow::new(KEY);
        let mut rng = ChaCha20Rng::seed_from_u64(42);
        let c = pow.challenge(&mut rng, maxnumber, NOW, TTL, binding);
        (pow, c)
    }

    fn solved(maxnumber: u64, binding: &str) -> (Pow, Challenge, Solution) {
        let (pow, c) = issue(maxnumber, binding);
        let n = solve(&c).expect("solvable");
        let s = Solution::for_challenge(&c, n);
        (pow, c, s)
    }

    #[test]
    fn key_padding_matches_hmac() {
        let mut reference = HmacSha256::new_from_slice(&KEY).unwrap();
        reference.update(b"abc");
        let pow = Pow::new(KEY);
        let mut ours = pow.mac.clone();
        ours.update(b"abc");
        assert_eq!(ours.finalize().into_bytes(), reference.finalize().into_bytes());
    }

    #[test]
    fn round_trip() {
        let (pow, c, s) = solved(5_000, "acct:17/phase:1");
        assert_eq!(c.algorithm, "SHA-256");
        assert_eq!(c.maxnumber, 5_000);
        assert!(c.salt.contains("?expires=") && c.salt.len() < MAX_SALT_LEN);
        let id = pow.verify(&s, NOW, "acct:17/phase:1").unwrap();
        assert_eq!(id.expires_ms(), (NOW + TTL) / 1000 * 1000);
        // Through the wire format, too.
        let decoded = Solution::from_base64_json(&s.to_base64_json()).unwrap();
        assert_eq!(decoded, s);
        assert_eq!(pow.verify(&decoded, NOW + 1, "acct:17/phase:1"), Ok(id));
        // The challenge serialises with ALTCHA's field names.
        let json = serde_json::to_value(&c).unwrap();
        for field in ["algorithm", "challenge", "maxnumber", "salt", "signature"] {
            assert!(json.get(field).is_some(), "{field}");
        }
    }

    #[test]
    fn number_is_uniform_enough_and_in_range() {
        let pow = Pow::new(KEY);
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let mut hits = [0u32; 4];
        for _ in 0..400 {
            let c = pow.challenge(&mut rng, 3, NOW, TTL, "b");
            let n = solve(&c).expect("in range");
            hits[n as usize] += 1;
        }
        assert!(hits.iter().all(|&h| (60..=140).contains(&h)), "{hits:?}");
        let c = pow.challenge(&mut rng, 0, NOW, TTL, "b");
        assert_eq!(solve(&c), Some(0));
    }

    #[test]
    fn wrong_number_is_refused() {
        let (pow, _, mut s) = solved(1_000, "b");
        s.number = s.number.wrapping_add(1);
        assert_eq!(pow.verify(&s, NOW, "b"), Err(PowError::WrongAnswer));
    }

    #[test]
    fn tampering_is_refused() {
        let (pow, c, s) = solved(1_000, "b");

        // A later expiry in the salt: the salt no longer hashes to the challenge.
        let later = (NOW + 10 * TTL) / 1000;
        let mut t = s.clone();
        t.salt = format!("{}?expires={later}&b={}", &s.salt[..32], &s.salt[s.salt.len() - 32..]);
        assert_eq!(pow.verify(&t, NOW, "b"), Err(PowError::WrongAnswer));

        // A self-made challenge for the self-made salt: the signature no longer matches.
        t.challenge = hex::encode(answer_digest(&t.salt, t.number));
        assert_eq!(pow.verify(&t, NOW, "b"), Err(PowError::BadSignature));

        let mut t = s.clone();
        t.signature = hex::encode([0u8; 32]);
        assert_eq!(pow.verify(&t, NOW, "b"), Err(PowError::BadSignature));

        let mut t = s.clone();
        t.signature = s.signature.to_uppercase();
        assert_eq!(pow.verify(&t, NOW, "b"), Err(PowError::Malformed));

        let mut t = s.clone();
        t.algorithm = "SHA-512".into();
        assert_eq!(pow.verify(&t, NOW, "b"), Err(PowError::Malformed));

        // Splicing: move the last salt digit into the number, or a number digit into the salt.
        let mut t = s.clone();
        t.salt.push('1');
        assert_eq!(pow.verify(&t, NOW, "b"), Err(PowError::Malformed));

        // Another key did not issue it.
        assert_eq!(Pow::new([8; 32]).verify(&s, NOW, "b"), Err(PowError::BadSignature));

        // maxnumber is not signed and does not matter: lowering it below the secret only makes
        // the challenge unsolvable, raising it changes nothing.
        let mut lowered = c.clone();
        lowered.maxnumber = 0;
        if s.number > 0 {
            assert_eq!(solve(&lowered), None);
        }
        let mut raised = c.clone();
        raised.maxnumber = 1_000_000;
        assert_eq!(solve(&raised), Some(s.number));
        assert!(pow.verify(&s, NOW, "b").is_ok());
    }

    #[test]
    fn expiry() {
        let (pow, _, s) = solved(1_000, "b");
        let expires = (NOW + TTL) / 1000 * 1000;
        assert!(pow.verify(&s, expires - 1, "b").is_ok());
        assert_eq!(pow.verify(&s, expires, "b"), Err(PowError::Expired));
        // A zero TTL is expired at once.
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let c = pow.challenge(&mut rng, 10, NOW, 0, "b");
        let s = Solution::for_challenge(&c, solve(&c).unwrap());
        assert_eq!(pow.verify(&s, NOW, "b"), Err(PowError::Expired));
    }

    #[test]
    fn binding_is_enforced() {
        let (pow, c, s) = solved(1_000, "acct:1/phase:1");
        assert_eq!(pow.verify(&s, NOW, "acct:2/phase:1"), Err(PowError::WrongBinding));
        assert_eq!(pow.verify(&s, NOW, "acct:1/phase:2"), Err(PowError::WrongBinding));
        assert_eq!(pow.verify(&s, NOW, ""), Err(PowError::WrongBinding));
        // The binding itself does not appear in the page.
        assert!(!c.salt.contains("acct"));
    }

    #[test]
    fn replay_guard() {
        let (pow, _, s) = solved(1_000, "b");
        let guard = ReplayGuard::new(10);
        let id = pow.verify(&s, NOW, "b").unwrap();
        assert_eq!(guard.first_use(id, id.expires_ms(), NOW), Ok(()));
        assert_eq!(guard.first_use(id, id.expires_ms(), NOW + 1), Err(PowError::Replayed));
        assert_eq!(PowError::Replayed.as_str(), "pow_replayed");
        // After expiry it is refused as expired, and can be forgotten.
        assert_eq!(guard.first_use(id, id.expires_ms(), id.expires_ms()), Err(PowError::Expired));
        guard.sweep(id.expires_ms());
        assert!(guard.is_empty());
    }

    #[test]
    fn replay_guard_is_bounded() {
        let guard = ReplayGuard::new(3);
        let id = |i: u8, expires_ms| SolutionId { digest: [i; 32], expires_ms };
        guard.first_use(id(1, NOW + 10), NOW + 10, NOW).unwrap();
        guard.first_use(id(2, NOW + 1000), NOW + 1000, NOW).unwrap();
        guard.first_use(id(3, NOW + 1000), NOW + 1000, NOW).unwrap();
        assert_eq!(guard.first_use(id(4, NOW + 1000), NOW + 1000, NOW), Err(PowError::Busy));
        // Still full, but the spent ones are still refused as replays, not as busy.
        assert_eq!(guard.first_use(id(2, NOW + 1000), NOW + 1000, NOW), Err(PowError::Replayed));
        // Once id 1 expires, its room is reused.
        assert_eq!(guard.first_use(id(4, NOW + 1000), NOW + 1000, NOW + 10), Ok(()));
        assert_eq!(guard.len(), 3);
        assert_eq!(PowError::Busy.as_str(), "pow_busy");
    }

    #[test]
    fn garbage_payloads() {
        let long = "A".repeat(2000);
        for p in ["", "!!!", "bm90IGpzb24=", "e30=", long.as_str(), "eyJhbGdvcml0aG0iOjF9"] {
            assert_eq!(Solution::from_base64_json(p), Err(PowError::Malformed), "{p}");
        }
        // Unpadded input and unknown fields are fine.
        let (_, _, s) = solved(100, "b");
        let mut v = serde_json::to_value(&s).unwrap();
        v["took"] = 1234.into();
        let unpadded = base64::engine::general_purpose::STANDARD_NO_PAD.encode(v.to_string());
        assert_eq!(Solution::from_base64_json(&unpadded).unwrap(), s);
    }

    #[test]
    fn reason_codes() {
        let all = [
            (PowError::Malformed, "pow_malformed"),
            (PowError::BadSignature, "pow_bad_signature"),
            (PowError::Expired, "pow_expired"),
            (PowError::WrongBinding, "pow_wrong_binding"),
            (PowError::WrongAnswer, "pow_wrong_answer"),
            (PowError::Replayed, "pow_replayed"),
            (PowError::Busy, "pow_busy"),
        ];
        for (e, code) in all {
            assert_eq!(e.as_str(), code);
        }
    }

    #[test]
    fn salt_parsing_is_strict() {
        let r = "0".repeat(32);
        let t = "a".repeat(32);
        assert!(parse_salt(&format!("{r}?expires=100&b={t}")).is_some());
        assert!(parse_salt(&format!("{r}?expires=-100&b={t}")).is_some());
        for bad in [
            format!("{r}?expires=0100&b={t}"),
            format!("{r}?expires=+100&b={t}"),
            format!("{r}?expires=&b={t}"),
            format!("{r}?expires=100&b={t}0"),
            format!("{r}0?expires=100&b={t}"),
            format!("{r}?expires=100&b={}", "A".repeat(32)),
            format!("{r}?b={t}&expires=100"),
            format!("{r}?expires=99999999999999999999&b={t}"),
        ] {
            assert!(parse_salt(&bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn difficulty_curve() {
        let d = Difficulty::default();
        assert_eq!(d.for_load(0.0, 100.0), 20_000);
        assert_eq!(d.for_load(100.0, 100.0), 20_000);
        assert_eq!(d.for_load(200.0, 100.0), 40_000);
        assert_eq!(d.for_load(400.0, 100.0), 80_000);
        assert_eq!(d.for_load(1e9, 100.0), 2_000_000);
        assert_eq!(d.for_load(f64::NAN, 100.0), 20_000);
        assert_eq!(d.for_load(f64::INFINITY, 100.0), 2_000_000);
        assert_eq!(d.for_load(5.0, 0.0), 2_000_000);
        assert_eq!(d.for_load(5.0, f64::NAN), 20_000);
        let inverted = Difficulty { base: 10, max: 5 };
        assert_eq!(inverted.for_load(1.0, 1.0), 5);
        assert_eq!(inverted.for_load(100.0, 1.0), 5);
        // Monotone in the load.
        let mut last = 0;
        for joins in (0..10_000).map(f64::from) {
            let m = d.for_load(joins, 50.0);
            assert!(m >= last);
            last = m;
        }
    }

    #[test]
    fn format_u64_matches_to_string() {
        let mut buf = [0u8; 20];
        for n in [0, 1, 9, 10, 99, 12345, u64::MAX] {
            assert_eq!(format_u64(n, &mut buf), n.to_string().as_bytes());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any change to a valid solution makes it fail, unless the change is no change.
        #[test]
        fn mutations_never_verify(
            field in 0usize..5,
            index in any::<prop::sample::Index>(),
            byte in any::<u8>(),
            number in any::<u64>(),
        ) {
            let (pow, _, s) = solved(300, "acct:9");
            let mut m = s.clone();
            let mutate = |text: &mut String| {
                let mut bytes = text.clone().into_bytes();
                if bytes.is_empty() {
                    bytes.push(byte);
                } else {
                    let i = index.index(bytes.len());
                    bytes[i] = byte;
                }
                *text = String::from_utf8_lossy(&bytes).into_owned();
            };
            match field {
                0 => mutate(&mut m.algorithm),
                1 => mutate(&mut m.challenge),
                2 => mutate(&mut m.salt),
                3 => mutate(&mut m.signature),
                _ => m.number = number,
            }
            let result = pow.verify(&m, NOW, "acct:9");
            if m == s {
                prop_assert!(result.is_ok());
            } else {
                prop_assert!(result.is_err(), "mutated solution verified: {m:?}");
            }
        }

        /// The payload parser never panics.
        #[test]
        fn payload_parser_never_panics(payload in ".{0,1500}") {
            let _ = Solution::from_base64_json(&payload);
        }
    }
}
