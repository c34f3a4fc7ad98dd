//! Personal data sealed before the store sees it: ChaCha20-Poly1305 under a key derived from
//! the node's secret for one purpose, a random nonce before the ciphertext and tag, and the
//! row's purpose as associated data (a sealed value moved to another kind of row does not
//! open). Accreditation and volunteers seal with it.

use crate::App;
use ring::aead;

/// Nonce and tag: the shortest sealed value.
const OVERHEAD: usize = 12 + 16;

impl App {
    fn sealing_key(&self, key_purpose: &[u8]) -> aead::LessSafeKey {
        let k = self.derived_key(key_purpose, b"");
        aead::LessSafeKey::new(aead::UnboundKey::new(&aead::CHACHA20_POLY1305, &k).expect("32-byte key"))
    }

    /// Seals `plain` under the key of `key_purpose`, bound to `aad`.
    pub(crate) fn seal_with(&self, key_purpose: &[u8], aad: &[u8], plain: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; 12];
        rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut nonce);
        let mut out = plain.to_vec();
        self.sealing_key(key_purpose)
            .seal_in_place_append_tag(aead::Nonce::assume_unique_for_key(nonce), aead::Aad::from(aad), &mut out)
            .expect("in-memory buffer");
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&out);
        sealed
    }

    /// Opens what [`App::seal_with`] sealed; `None` under another key, for another `aad`, or
    /// altered.
    pub(crate) fn open_with(&self, key_purpose: &[u8], aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < OVERHEAD {
            return None;
        }
        let (nonce, body) = sealed.split_at(12);
        let mut body = body.to_vec();
        let nonce = aead::Nonce::try_assume_unique_for_key(nonce).ok()?;
        let plain = self.sealing_key(key_purpose).open_in_place(nonce, aead::Aad::from(aad), &mut body).ok()?;
        Some(plain.to_vec())
    }
}
