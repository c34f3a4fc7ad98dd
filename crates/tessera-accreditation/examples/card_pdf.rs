//! A demo accreditation card, written as PDF to standard output (the crate itself does no I/O,
//! and this example touches no file: redirect it where you want the card).
//!
//! `cargo run -p tessera-accreditation --example card_pdf > card.pdf`
//!
//! The badge is signed with a fixed demo key, so the QR code on the card verifies with the
//! gate code of `tessera_accreditation::badge::verify` against that key.

use std::io::Write as _;

use tessera_accreditation::card::{card_pdf, CardFace};
use tessera_accreditation::photo::{prepare, PhotoPolicy};
use tessera_accreditation::vetting::{Action, Actor, ScreeningAnswer, Vetting};
use tessera_accreditation::{
    AccountId, Badge, BadgeSigner, CategoryCode, OrgCode, PersonId, PrivilegeCode, VenueCode, ZoneCode,
};
use tessera_credential::IssuerKey;

/// 2024-07-26 00:00 in Paris.
const OPENING: i64 = 1_721_944_800;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let person = PersonId(42);
    let badge = Badge {
        key_id: 1,
        person,
        serial: 0,
        holder: "Zoë Łukasiewicz-DUPONT".into(),
        organisation: OrgCode::parse("AFP")?,
        category: CategoryCode::parse("EP")?,
        venues: ["STA", "AQC", "ARN", "MPC"].iter().map(|c| VenueCode::parse(c)).collect::<Result<_, _>>()?,
        zones: ["1", "4", "9"].iter().map(|c| ZoneCode::parse(c)).collect::<Result<_, _>>()?,
        privileges: ["TM", "PT"].iter().map(|c| PrivilegeCode::parse(c)).collect::<Result<_, _>>()?,
        valid_from: OPENING,
        valid_until: OPENING + 17 * 86_400,
        grants: Vec::new(),
        photo_sha256: [0; 32],
        device_key: None,
    };
    let mut vetting = Vetting::submit(person, AccountId(1), 0);
    vetting.apply(Action::StartScreening, Actor::Account(AccountId(2)), 1, "")?;
    vetting.record_answer(&ScreeningAnswer::Clear, 2)?;
    vetting.apply(Action::Approve, Actor::Account(AccountId(2)), 3, "")?;
    let signer = BadgeSigner::new(&IssuerKey::from_secret_bytes(1, &[7; 32]));
    let text = signer.sign(&badge, &vetting.clearance()?)?.to_text();

    // A generated portrait stands in for an uploaded photo, through the same checks.
    let portrait = image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(700, 900, |x, y| {
        let (dx, dy) = (x as f32 - 350.0, y as f32 - 380.0);
        let face = (dx * dx) / (190.0 * 190.0) + (dy * dy) / (250.0 * 250.0) < 1.0;
        if face {
            image::Rgb([224, 180, 150])
        } else {
            image::Rgb([180, 200, 225])
        }
    }));
    let mut png = std::io::Cursor::new(Vec::new());
    portrait.write_to(&mut png, image::ImageFormat::Png)?;
    let photo = prepare(png.get_ref(), &PhotoPolicy::default())?;

    let face = CardFace {
        organisation: "Agence France-Presse".into(),
        ..CardFace::from_badge(&badge, "Photographer", time::macros::offset!(+2))
    };
    let pdf = card_pdf(&face, Some(&photo), &text)?;
    std::io::stdout().lock().write_all(&pdf)?;
    eprintln!("card: {} bytes of PDF, QR payload {} characters", pdf.len(), text.len());
    Ok(())
}
