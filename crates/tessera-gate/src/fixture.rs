//! Deterministic venues, bundles and scanner lines for tests, simulators and benchmarks.
//!
//! **Not secret and not for production**: every key here is derived from a public seed (the
//! issuer key is [`tessera_credential::fixture`]'s), so anyone can mint codes these bundles accept.

use sha2::{Digest, Sha256};
use tessera_credential::fixture::{device_key, Fixture};
use tessera_credential::{device_public_key, entrance_code, make_code, qr_text, ticket_id_bytes, IssuerKey, Pass};

use crate::bundle::{Bundle, BundleKey, BundlePolicy, BundleSession, BundleTrust, SignedBundle, BUNDLE_FORMAT};
use crate::engine::{Engine, GateConfig};

/// The fixture venue's one session.
pub const SESSION: &str = "S01";
/// The zone the fixture's passes and gates are for.
pub const ZONE: &str = "Gate A";
/// Id of the fixture's bundle-signing key.
pub const BUNDLE_KEY_ID: u32 = 1;

/// A venue with one session, its issuer and bundle-signing keys, and the time at which the
/// session's doors are open.
pub struct GateFixture {
    /// The issuer key (id 7) passes are signed with.
    pub issuer: IssuerKey,
    /// The central system's bundle-signing key.
    pub bundle_key: ed25519_dalek::SigningKey,
    /// What a gate is enrolled with: the bundle-signing public key under [`BUNDLE_KEY_ID`].
    pub trust: BundleTrust,
    /// The venue's bundle (unsigned; see [`GateFixture::signed_bundle`]).
    pub bundle: Bundle,
    /// A Unix second at which the doors are open and passes valid.
    pub now: i64,
    seed: u64,
}

fn derive(seed: u64, label: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"tessera-gate-fixture");
    h.update(seed.to_be_bytes());
    h.update(label);
    h.finalize().into()
}

impl GateFixture {
    /// The fixture for `seed`. Timeline (relative to `now`): bundle issued a day before and valid
    /// a week; doors open one hour before `now`, the session starts one hour after and ends four
    /// hours after; passes are valid from six hours before the start to one hour after the end.
    pub fn new(seed: u64) -> Self {
        let base = Fixture::new(seed);
        let now = base.now;
        let bundle_key = ed25519_dalek::SigningKey::from_bytes(&derive(seed, b"bundle"));
        let mut trust = BundleTrust::new();
        trust.insert(BUNDLE_KEY_ID, bundle_key.verifying_key());
        let bundle = Bundle {
            format: BUNDLE_FORMAT,
            venue_code: "STADE".into(),
            venue_name: "Stade de la Fixture".into(),
            zones: vec![ZONE.into(), "Gate B".into()],
            sessions: vec![BundleSession {
                code: SESSION.into(),
                title: "Final".into(),
                starts_at: now + 3600,
                ends_at: now + 4 * 3600,
            }],
            keys: vec![BundleKey {
                id: base.issuer.id,
                public_key: hex::encode(base.issuer.public().to_bytes()),
                not_before: now - 30 * 86_400,
                not_after: now + 30 * 86_400,
            }],
            policy: BundlePolicy {
                step_secs: 15,
                window_secs: 30,
                max_clock_skew_secs: 5,
                doors_open_before_secs: 7200,
            },
            revoked: vec![],
            feed_seq: 0,
            issued_at: now - 86_400,
            expires_at: now + 7 * 86_400,
            badges: None,
        };
        GateFixture { issuer: base.issuer, bundle_key, trust, bundle, now, seed }
    }

    /// The key badges are signed with (id `0xB0`).
    pub fn badge_signer(&self) -> tessera_accreditation::BadgeSigner {
        tessera_accreditation::BadgeSigner::new(&IssuerKey::from_secret_bytes(0xB0, &derive(self.seed, b"badge")))
    }

    /// The fixture's bundle with the badge key and no badge revocation.
    pub fn badge_bundle(&self) -> Bundle {
        let mut bundle = self.bundle.clone();
        bundle.badges = Some(crate::bundle::BundleBadges {
            key_id: 0xB0,
            public_key: hex::encode(self.badge_signer().public().as_bytes()),
            revocations: tessera_wire::BadgeRevocations::default(),
        });
        bundle
    }

    /// A journalist's badge for `person` (category E: venues STA and MPC, zones 4 and 9), card
    /// serial 0, valid from a day before `now` to a day after: its QR text.
    pub fn journalist_badge(&self, person: u64) -> String {
        let (badge, clearance) = self.journalist(person);
        self.badge_signer().sign(&badge, &clearance).expect("a valid badge").to_text()
    }

    /// The same journalist's badge on the phone `device` (a seed, as for tickets): the code for
    /// the bundle's step at `now_secs`, signed by the phone `signer` (`device` itself, or
    /// another phone the badge was copied to).
    pub fn journalist_phone_code(&self, person: u64, device: u64, signer: u64, now_secs: i64) -> String {
        let (badge, clearance) = self.journalist(person);
        let badge = badge.on_phone(device_public_key(&device_key(device, b"device"))).expect("a P-256 key");
        let signed = self.badge_signer().sign(&badge, &clearance).expect("a valid badge");
        let step = tessera_credential::step_at(now_secs, self.bundle.policy.step_secs);
        tessera_accreditation::phone_code(signed.as_bytes(), &device_key(signer, b"device"), step)
    }

    fn journalist(&self, person: u64) -> (tessera_accreditation::Badge, tessera_accreditation::Clearance) {
        use tessera_accreditation::{
            Action, Actor, Application, Badge, ParseContext, PersonId, RawApplication, Vetting,
        };
        let matrix = tessera_accreditation::AccessMatrix::demo_default();
        let raw = RawApplication {
            given_name: "Ana".into(),
            family_name: "Uno".into(),
            date_of_birth: "1980-01-01".into(),
            nationality: "ESP".into(),
            document_number: format!("E{person:07}"),
            category: "E".into(),
            function: "journalist".into(),
            organisation: "AFP".into(),
            venues: "STA MPC".into(),
            zones: "4 9".into(),
            privileges: "TM".into(),
        };
        let today = time::OffsetDateTime::from_unix_timestamp(self.now).map_or(time::Date::MIN, |t| t.date());
        let a = Application::parse(&raw, &ParseContext { matrix: &matrix, today }).expect("a valid application");
        let mut v = Vetting::submit(PersonId(person), tessera_accreditation::AccountId(1), 0);
        for action in [Action::StartScreening, Action::ScreeningClear, Action::Approve] {
            v.apply(action, Actor::System, 0, "").expect("the vetting table allows it");
        }
        let badge = Badge::for_application(0xB0, PersonId(person), &a, self.now - 86_400, self.now + 86_400, [0; 32]);
        (badge, v.clearance().expect("approved after a clear screening"))
    }

    /// `now` in milliseconds.
    pub fn now_ms(&self) -> i64 {
        self.now * 1000
    }

    /// The fixture's session as in the bundle.
    pub fn session(&self) -> &BundleSession {
        &self.bundle.sessions[0]
    }

    /// `bundle` signed with the fixture's bundle key.
    pub fn sign(&self, bundle: &Bundle) -> SignedBundle {
        SignedBundle::sign(bundle, BUNDLE_KEY_ID, &self.bundle_key)
    }

    /// The fixture's bundle, signed.
    pub fn signed_bundle(&self) -> SignedBundle {
        self.sign(&self.bundle)
    }

    /// A gate at [`ZONE`].
    pub fn config(&self, gate_id: &str) -> GateConfig {
        GateConfig::new(gate_id, Some(&entrance_code(ZONE)))
    }

    /// An engine for a gate at [`ZONE`] with the fixture's bundle.
    pub fn engine(&self, gate_id: &str) -> Engine {
        // The fixture bundle is valid by construction.
        Engine::new(self.bundle.clone(), self.config(gate_id)).expect("the fixture bundle is valid")
    }

    /// The pass for credential `serial` of `ticket`, bound to the phone `device` (a seed).
    pub fn pass(&self, ticket: i64, serial: i64, device: u64) -> Pass {
        let session = self.session();
        Pass {
            key_id: self.issuer.id,
            ticket_id: ticket_id_bytes(ticket, serial),
            session: SESSION.into(),
            entrance: entrance_code(ZONE),
            seat: format!("Block B, row {}, seat {}", ticket % 40 + 1, ticket % 30 + 1),
            holder: format!("Fan {ticket}"),
            valid_from: session.starts_at - 6 * 3600,
            valid_until: session.ends_at + 3600,
            device_key: device_public_key(&device_key(device, b"device")),
        }
    }

    /// The scanner line (`T1:<base45>`, no line ending) phone `device` shows at `now_secs` for
    /// credential `serial` of `ticket`.
    pub fn line(&self, ticket: i64, serial: i64, device: u64, now_secs: i64) -> Vec<u8> {
        self.line_for(&self.pass(ticket, serial, device), &self.issuer, device, now_secs)
    }

    /// The scanner line for any pass, signed by `issuer`, shown by phone `device` at `now_secs`.
    pub fn line_for(&self, pass: &Pass, issuer: &IssuerKey, device: u64, now_secs: i64) -> Vec<u8> {
        qr_text(&self.code_for(pass, issuer, device, now_secs)).into_bytes()
    }

    /// The code bytes (before the QR text form) for any pass.
    pub fn code_for(&self, pass: &Pass, issuer: &IssuerKey, device: u64, now_secs: i64) -> Vec<u8> {
        // Fixture passes are valid by construction; a test that breaks one gets an empty pass,
        // which the gate refuses as malformed.
        let signed = pass.sign(issuer).unwrap_or_default();
        make_code(&signed, &device_key(device, b"device"), now_secs, self.bundle.policy.step_secs)
    }
}
