//! Signed, expiring tokens: `v1.<purpose>.<fields...>.<expires>.<mac>`.
//!
//! The MAC is HMAC-SHA256 over everything before it, so no field can be changed and no token
//! made for one purpose (an email check) can be used for another (a password reset). Checking
//! a token needs no database read; the MAC comparison is constant-time (`Mac::verify_slice`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretBox};
use sha2::Sha256;
use tessera_domain::Timestamp;

type HmacSha256 = Hmac<Sha256>;

/// Longest token accepted, so that parsing a hostile one costs nothing.
pub const MAX_TOKEN_LEN: usize = 512;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    Malformed,
    BadSignature,
    WrongPurpose,
    Expired,
}

impl TokenError {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenError::Malformed => "malformed",
            TokenError::BadSignature => "bad signature",
            TokenError::WrongPurpose => "wrong purpose",
            TokenError::Expired => "expired",
        }
    }
}

/// Signs and checks tokens. Keyed once: HMAC's key schedule (two SHA-256 blocks) is done at
/// construction and each token only clones the keyed state, which halves the hashing of a
/// waiting fan's status request (it checks two tokens).
#[derive(Clone)]
pub struct Signer {
    keyed: HmacSha256,
}

impl Signer {
    pub fn new(key: &SecretBox<[u8; 32]>) -> Self {
        Signer { keyed: HmacSha256::new_from_slice(key.expose_secret()).expect("any key length works for HMAC") }
    }

    fn mac(&self) -> HmacSha256 {
        self.keyed.clone()
    }

    /// Fields must not contain '.'; they are ids, numbers and hex.
    pub fn sign(&self, purpose: &str, fields: &[&str], expires: Timestamp) -> String {
        debug_assert!(fields.iter().all(|f| !f.contains('.')));
        let mut body = format!("v1.{purpose}");
        for f in fields {
            body.push('.');
            body.push_str(f);
        }
        body.push('.');
        body.push_str(&expires.0.to_string());
        let mut mac = self.mac();
        mac.update(body.as_bytes());
        let tag = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{body}.{tag}")
    }

    /// Returns the fields of a valid, unexpired token made for `purpose`, borrowed from the
    /// token: checking one allocates nothing but the list, since the hottest requests (a
    /// waiting fan's status) check two.
    pub fn verify<'t>(&self, purpose: &str, token: &'t str, now: Timestamp) -> Result<Vec<&'t str>, TokenError> {
        if token.len() > MAX_TOKEN_LEN || !token.is_ascii() {
            return Err(TokenError::Malformed);
        }
        let (body, tag) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
        let mut raw = [0u8; 32];
        match URL_SAFE_NO_PAD.decode_slice(tag, &mut raw) {
            Ok(32) => {}
            _ => return Err(TokenError::Malformed),
        }
        let mut mac = self.mac();
        mac.update(body.as_bytes());
        mac.verify_slice(&raw).map_err(|_| TokenError::BadSignature)?;
        let mut parts = body.split('.');
        if parts.next() != Some("v1") {
            return Err(TokenError::Malformed);
        }
        if parts.next() != Some(purpose) {
            return Err(TokenError::WrongPurpose);
        }
        let mut fields: Vec<&str> = parts.collect();
        let expires: i64 = fields.pop().and_then(|e| e.parse().ok()).ok_or(TokenError::Malformed)?;
        if now.0 >= expires {
            return Err(TokenError::Expired);
        }
        Ok(fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let key = SecretBox::new(Box::new([7u8; 32]));
        let s = Signer::new(&key);
        let t = s.sign("verify", &["42"], Timestamp(100));
        assert_eq!(s.verify("verify", &t, Timestamp(99)).unwrap(), vec!["42"]);
        assert_eq!(s.verify("verify", &t, Timestamp(100)), Err(TokenError::Expired));
        assert_eq!(s.verify("reset", &t, Timestamp(1)), Err(TokenError::WrongPurpose));
        let forged = t.replace(".42.", ".43.");
        assert_eq!(s.verify("verify", &forged, Timestamp(1)), Err(TokenError::BadSignature));
        let other_key = SecretBox::new(Box::new([8u8; 32]));
        assert_eq!(Signer::new(&other_key).verify("verify", &t, Timestamp(1)), Err(TokenError::BadSignature));
        for junk in ["", ".", "v1", "a.b.c", &"x".repeat(10_000), "v1.verify.42.100.!!!"] {
            assert!(s.verify("verify", junk, Timestamp(1)).is_err());
        }
    }
}
