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

    /// A short keyed digest of `text` (16 hex digits): the same text gives the same digest, so
    /// logs can correlate, but without the key it cannot be reversed from a guessed list.
    pub fn keyed_digest(&self, text: &str) -> String {
        let mut mac = self.mac();
        mac.update(b"digest.");
        mac.update(text.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..8])
    }

    /// Fields must not contain '.'; they are ids, numbers and hex.
    pub fn sign(&self, purpose: &str, fields: &[&str], expires: Timestamp) -> String {
        debug_assert!(fields.iter().all(|f| !f.contains('.')));
        debug_assert!(fields.len() <= MAX_FIELDS);
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
    /// token: checking one allocates nothing, since the hottest requests (a waiting fan's
    /// status) check two.
    pub fn verify<'t>(&self, purpose: &str, token: &'t str, now: Timestamp) -> Result<Fields<'t>, TokenError> {
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
        let mut fields = Fields { items: [""; MAX_FIELDS + 1], len: 0 };
        for part in parts {
            *fields.items.get_mut(fields.len).ok_or(TokenError::Malformed)? = part;
            fields.len += 1;
        }
        // The last field is the expiry.
        fields.len = fields.len.checked_sub(1).ok_or(TokenError::Malformed)?;
        let expires: i64 = fields.items[fields.len].parse().map_err(|_| TokenError::Malformed)?;
        if now.0 >= expires {
            return Err(TokenError::Expired);
        }
        Ok(fields)
    }
}

/// Most fields a token carries (a queue ticket has four).
pub const MAX_FIELDS: usize = 6;

/// The fields of a checked token, borrowed from it; read as a slice.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'t> {
    /// The fields, then the expiry, which is not one of them.
    items: [&'t str; MAX_FIELDS + 1],
    len: usize,
}

impl PartialEq for Fields<'_> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl<'t> std::ops::Deref for Fields<'t> {
    type Target = [&'t str];
    fn deref(&self) -> &[&'t str] {
        &self.items[..self.len]
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
        assert_eq!(*s.verify("verify", &t, Timestamp(99)).unwrap(), ["42"]);
        let most: Vec<String> = (0..MAX_FIELDS).map(|i| i.to_string()).collect();
        let most: Vec<&str> = most.iter().map(String::as_str).collect();
        assert_eq!(*s.verify("verify", &s.sign("verify", &most, Timestamp(100)), Timestamp(99)).unwrap(), most[..]);
        let too_many = format!("v1.verify.{}.100", ["1"; MAX_FIELDS + 1].join("."));
        let mut mac = s.mac();
        mac.update(too_many.as_bytes());
        let too_many = format!("{too_many}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()));
        assert_eq!(s.verify("verify", &too_many, Timestamp(1)).unwrap_err(), TokenError::Malformed);
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
