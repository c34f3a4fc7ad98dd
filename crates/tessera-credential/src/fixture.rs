//! Deterministic keys and codes for tests, the fuzz target and benchmarks. Not for production:
//! every key here is derived from a public seed.

use crate::*;

/// A complete, deterministic setup: an issuer, a phone, the gate's trust set and a pass.
pub struct Fixture {
    /// The event's issuer key (id 7).
    pub issuer: IssuerKey,
    /// The phone's device key.
    pub device: p256::ecdsa::SigningKey,
    /// The gate's trusted keys: the issuer's public key, valid from 0 to `i64::MAX`.
    pub keys: TrustedKeys,
    /// The policy (defaults).
    pub policy: Policy,
    /// The pass content (session `S01`, entrance `G4`, valid 1 700 000 000 .. +1 day).
    pub pass: Pass,
    /// The signed pass.
    pub signed_pass: Vec<u8>,
    /// A time inside the pass's validity.
    pub now: i64,
}

fn derive(seed: u64, label: &[u8], counter: u32) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"tessera-credential-fixture");
    h.update(seed.to_be_bytes());
    h.update(label);
    h.update(counter.to_be_bytes());
    h.finalize().into()
}

/// A P-256 signing key derived from `seed` and `label`.
pub fn device_key(seed: u64, label: &[u8]) -> p256::ecdsa::SigningKey {
    let mut counter = 0u32;
    loop {
        let bytes = derive(seed, label, counter);
        if let Ok(k) = p256::ecdsa::SigningKey::from_bytes(&bytes.into()) {
            return k;
        }
        counter += 1;
    }
}

impl Fixture {
    /// The fixture for `seed`.
    pub fn new(seed: u64) -> Self {
        let issuer = IssuerKey::from_secret_bytes(7, &derive(seed, b"issuer", 0));
        let device = device_key(seed, b"device");
        let mut keys = TrustedKeys::new();
        // The window is never empty, so this cannot fail.
        let _ = keys.insert(issuer.id, issuer.public(), 0, i64::MAX);
        let now = 1_700_000_000;
        let pass = Pass {
            key_id: issuer.id,
            ticket_id: *b"ticket-000000001",
            session: "S01".into(),
            entrance: "G4".into(),
            seat: "Block B, row 12, seat 7".into(),
            holder: "Zoé Martin".into(),
            valid_from: now - 3600,
            valid_until: now + 86_400,
            device_key: device_public_key(&device),
        };
        let signed_pass = pass.sign(&issuer).unwrap_or_default();
        Self { issuer, device, keys, policy: Policy::default(), pass, signed_pass, now }
    }

    /// The gate context matching the pass at `self.now`.
    pub fn context(&self) -> GateContext<'_> {
        GateContext { session: &self.pass.session, entrance: Some(&self.pass.entrance), now: self.now }
    }

    /// The code the phone shows at `now`.
    pub fn code_at(&self, now: i64) -> Vec<u8> {
        make_code(&self.signed_pass, &self.device, now, self.policy.step_secs)
    }

    /// The code the phone shows at `self.now`.
    pub fn code(&self) -> Vec<u8> {
        self.code_at(self.now)
    }
}

/// Benchmark hook: verifies `code` against the fixture at its own time and context.
pub fn verify_with(fixture: &Fixture, code: &[u8]) -> Decision {
    verify(code, &fixture.keys, &fixture.policy, &fixture.context())
}
