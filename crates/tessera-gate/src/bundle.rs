//! The bundle: what a gate downloads for its venue (sessions, issuer public keys, policy,
//! revocations), signed by the central system with a bundle-signing key the gate is enrolled with.
//!
//! The signature is checked over the exact payload bytes before the JSON parser sees them, so
//! untrusted input never reaches serde; the bounds after parsing guard against a central bug,
//! not an attacker.

use std::collections::BTreeMap;

use base64::Engine as _;
use ed25519_dalek::Signer as _;
use serde::{Deserialize, Serialize};
use tessera_credential::{Policy, TrustedKeys};

/// The only bundle format this crate reads.
pub const BUNDLE_FORMAT: u32 = 1;
/// Domain-separation tag prefixed to the payload before it is signed.
pub const BUNDLE_TAG: &[u8] = b"tessera-bundle-v1";
/// Longest payload (base64 text) accepted, checked before decoding.
pub const MAX_PAYLOAD_LEN: usize = 32 * 1024 * 1024;
/// Most sessions in one bundle.
pub const MAX_SESSIONS: usize = 10_000;
/// Most issuer keys in one bundle.
pub const MAX_KEYS: usize = 64;
/// Most revoked (ticket, serial) pairs in one bundle.
pub const MAX_REVOKED: usize = 2_000_000;

/// Everything a gate needs to decide offline for one venue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bundle {
    /// [`BUNDLE_FORMAT`].
    pub format: u32,
    /// The venue's code.
    pub venue_code: String,
    /// The venue's name, for the operator's screen.
    pub venue_name: String,
    /// The venue's zone names; entrance codes derive from them with
    /// [`tessera_credential::entrance_code`].
    pub zones: Vec<String>,
    /// The sessions gates at this venue admit to.
    pub sessions: Vec<BundleSession>,
    /// The issuer public keys passes are checked against.
    pub keys: Vec<BundleKey>,
    /// Timing rules.
    pub policy: BundlePolicy,
    /// Revoked credentials as (ticket, serial), up to the feed position `feed_seq`.
    pub revoked: Vec<(i64, i64)>,
    /// Position in the central feed this bundle includes; the gate follows the feed from there.
    pub feed_seq: i64,
    /// When the bundle was made (Unix seconds); a gate never goes back to an older one.
    pub issued_at: i64,
    /// Unix second from which the bundle must no longer be used.
    pub expires_at: i64,
    /// Accreditation badges: the key they are signed with and the revocations at `issued_at`
    /// (absent from bundles made before badges existed: such a gate refuses badges).
    #[serde(default)]
    pub badges: Option<BundleBadges>,
}

/// What a gate needs to decide on accreditation badges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleBadges {
    /// The badge key's id, as in badges.
    pub key_id: u32,
    /// Ed25519 public key, 32 bytes in hex.
    pub public_key: String,
    /// Revoked people and reprinted cards.
    pub revocations: tessera_wire::BadgeRevocations,
}

/// One session at the venue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleSession {
    /// Session code, as in passes.
    pub code: String,
    /// Title, for the operator's screen.
    pub title: String,
    /// Start (Unix seconds).
    pub starts_at: i64,
    /// End (Unix seconds, exclusive): no admission from then on.
    pub ends_at: i64,
}

/// One issuer public key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleKey {
    /// Key id, as in passes.
    pub id: u32,
    /// Ed25519 public key, 32 bytes in hex.
    pub public_key: String,
    /// First Unix second (inclusive) the key is accepted.
    pub not_before: i64,
    /// Last Unix second (inclusive) the key is accepted.
    pub not_after: i64,
}

/// Timing rules for the venue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundlePolicy {
    /// Code renewal step (seconds), the same as the wallets'.
    pub step_secs: u32,
    /// How long after its step starts a code is accepted (seconds).
    pub window_secs: u32,
    /// Tolerated clock difference between phone and gate (seconds).
    pub max_clock_skew_secs: u32,
    /// Gates admit to a session from `starts_at - doors_open_before_secs`.
    pub doors_open_before_secs: i64,
}

/// A bundle as it travels and is stored: the JSON payload in base64 and the signature over it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedBundle {
    /// Id of the bundle-signing key.
    pub key_id: u32,
    /// The bundle's JSON, base64 (standard alphabet, padded).
    pub payload: String,
    /// Ed25519 signature over `BUNDLE_TAG || JSON bytes`, hex.
    pub signature: String,
}

/// The bundle-signing public keys a gate is enrolled with (not the issuer keys, which come in the
/// bundle itself).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BundleTrust {
    keys: BTreeMap<u32, ed25519_dalek::VerifyingKey>,
}

impl BundleTrust {
    /// No key: every bundle is `unknown_key`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Trusts `key` under `key_id` (replacing any previous key with that id).
    pub fn insert(&mut self, key_id: u32, key: ed25519_dalek::VerifyingKey) {
        self.keys.insert(key_id, key);
    }

    /// The key trusted under `key_id`.
    pub fn get(&self, key_id: u32) -> Option<&ed25519_dalek::VerifyingKey> {
        self.keys.get(&key_id)
    }
}

/// Why a bundle is not used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    /// Signed with a key id the gate is not enrolled with.
    #[error("bundle signed with unknown key {0}")]
    UnknownKey(u32),
    /// The signature does not verify: altered or forged.
    #[error("bundle signature does not verify")]
    BadSignature,
    /// Not a bundle this gate can read.
    #[error("malformed bundle: {0}")]
    Malformed(String),
    /// Past its `expires_at`.
    #[error("bundle expired at {expires_at}")]
    Expired {
        /// The bundle's expiry (Unix seconds).
        expires_at: i64,
    },
    /// Older than the bundle the gate already holds.
    #[error("bundle issued at {issued_at} is older than the current one ({current})")]
    Stale {
        /// The offered bundle's `issued_at`.
        issued_at: i64,
        /// The held bundle's `issued_at`.
        current: i64,
    },
    /// Over a size bound.
    #[error("bundle too large: {0}")]
    TooLarge(&'static str),
}

impl BundleError {
    /// Stable snake_case code for logs and the operator's screen.
    pub fn code(&self) -> &'static str {
        match self {
            BundleError::UnknownKey(_) => "unknown_key",
            BundleError::BadSignature => "bad_signature",
            BundleError::Malformed(_) => "malformed",
            BundleError::Expired { .. } => "expired",
            BundleError::Stale { .. } => "stale",
            BundleError::TooLarge(_) => "too_large",
        }
    }
}

fn signed_message(json: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(BUNDLE_TAG.len() + json.len());
    m.extend_from_slice(BUNDLE_TAG);
    m.extend_from_slice(json);
    m
}

impl SignedBundle {
    /// Serializes and signs `bundle` (central side, and fixtures).
    pub fn sign(bundle: &Bundle, key_id: u32, key: &ed25519_dalek::SigningKey) -> SignedBundle {
        // Only strings, integers and sequences: serialization cannot fail.
        let json = serde_json::to_vec(bundle).expect("a Bundle always serializes to JSON");
        let signature = key.sign(&signed_message(&json));
        SignedBundle {
            key_id,
            payload: base64::engine::general_purpose::STANDARD.encode(&json),
            signature: hex::encode(signature.to_bytes()),
        }
    }

    /// Checks and decodes the bundle: size, key, signature, then content, expiry at `now` (Unix
    /// seconds) and, when the gate holds a bundle issued at `current_issued_at`, that this one is
    /// not older (an equal one is accepted, so a restart can reopen the bundle it stored).
    pub fn open(&self, trust: &BundleTrust, now: i64, current_issued_at: Option<i64>) -> Result<Bundle, BundleError> {
        let bundle = self.verify_and_decode(trust)?;
        if now >= bundle.expires_at {
            return Err(BundleError::Expired { expires_at: bundle.expires_at });
        }
        if let Some(current) = current_issued_at {
            if bundle.issued_at < current {
                return Err(BundleError::Stale { issued_at: bundle.issued_at, current });
            }
        }
        Ok(bundle)
    }

    /// [`SignedBundle::open`] without the checks against time: size, key, signature, content.
    /// For reading the `issued_at` of a stored bundle that may have expired since.
    pub fn verify_and_decode(&self, trust: &BundleTrust) -> Result<Bundle, BundleError> {
        if self.payload.len() > MAX_PAYLOAD_LEN {
            return Err(BundleError::TooLarge("payload over 32 MiB"));
        }
        let key = trust.get(self.key_id).ok_or(BundleError::UnknownKey(self.key_id))?;
        let mut signature = [0u8; 64];
        hex::decode_to_slice(&self.signature, &mut signature)
            .map_err(|_| BundleError::Malformed("signature is not 64 bytes of hex".into()))?;
        let json = base64::engine::general_purpose::STANDARD
            .decode(&self.payload)
            .map_err(|e| BundleError::Malformed(format!("payload is not base64: {e}")))?;
        key.verify_strict(&signed_message(&json), &ed25519_dalek::Signature::from_bytes(&signature))
            .map_err(|_| BundleError::BadSignature)?;
        let bundle: Bundle = serde_json::from_slice(&json)
            .map_err(|e| BundleError::Malformed(format!("payload is not a bundle: {e}")))?;
        bundle.validate()?;
        Ok(bundle)
    }

    /// The stored form (JSON of this struct).
    pub fn to_json(&self) -> String {
        // Three plain fields: cannot fail.
        serde_json::to_string(self).expect("a SignedBundle always serializes")
    }

    /// Parses the stored form.
    pub fn from_json(json: &str) -> Result<SignedBundle, BundleError> {
        serde_json::from_str(json).map_err(|e| BundleError::Malformed(format!("not a signed bundle: {e}")))
    }
}

impl Bundle {
    /// Checks the format and bounds. [`SignedBundle::open`] does it; engines do it again because
    /// a `Bundle` can also be built in code.
    pub fn validate(&self) -> Result<(), BundleError> {
        if self.format != BUNDLE_FORMAT {
            return Err(BundleError::Malformed(format!("format {} (expected {BUNDLE_FORMAT})", self.format)));
        }
        if self.sessions.len() > MAX_SESSIONS {
            return Err(BundleError::TooLarge("more than 10000 sessions"));
        }
        if self.keys.len() > MAX_KEYS {
            return Err(BundleError::TooLarge("more than 64 keys"));
        }
        if self.revoked.len() > MAX_REVOKED {
            return Err(BundleError::TooLarge("more than 2000000 revocations"));
        }
        if self.expires_at <= self.issued_at {
            return Err(BundleError::Malformed("expires_at is not after issued_at".into()));
        }
        for s in &self.sessions {
            if s.ends_at <= s.starts_at {
                return Err(BundleError::Malformed(format!("session {:?} ends before it starts", s.code)));
            }
        }
        self.trusted_keys().map(|_| ())
    }

    /// The issuer keys as the credential verifier wants them.
    pub fn trusted_keys(&self) -> Result<TrustedKeys, BundleError> {
        let mut keys = TrustedKeys::new();
        for k in &self.keys {
            let mut bytes = [0u8; 32];
            hex::decode_to_slice(&k.public_key, &mut bytes)
                .map_err(|_| BundleError::Malformed(format!("key {} is not 32 bytes of hex", k.id)))?;
            keys.insert_bytes(k.id, &bytes, k.not_before, k.not_after)
                .map_err(|e| BundleError::Malformed(format!("key {}: {e}", k.id)))?;
        }
        // A repeated id would silently keep only the last key.
        if keys.len() != self.keys.len() {
            return Err(BundleError::Malformed("repeated key id".into()));
        }
        Ok(keys)
    }

    /// The code timing rules as the credential verifier wants them.
    pub fn credential_policy(&self) -> Policy {
        Policy {
            step_secs: self.policy.step_secs,
            window_secs: self.policy.window_secs,
            max_clock_skew_secs: self.policy.max_clock_skew_secs,
        }
    }

    /// The session with this code.
    pub fn session(&self, code: &str) -> Option<&BundleSession> {
        self.sessions.iter().find(|s| s.code == code)
    }
}
