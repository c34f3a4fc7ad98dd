//! Figures at Games scale, for `docs/BENCHMARKS.md` (not a test: no assertions on time).
//!
//! `cargo run --release -p tessera-accreditation --example accreditation_scale [people]`
//!
//! Imports a CSV of `people` applications (default 500,000) with duplicate detection, builds and
//! opens a desk list of everyone, and signs and verifies badges, printing times and sizes.

use std::time::Instant;

use tessera_accreditation::application::duplicates::find_duplicates;
use tessera_accreditation::application::import::import_csv;
use tessera_accreditation::badge::{self, Badge, BadgeSigner, GateContext};
use tessera_accreditation::desk::{self, DeskKey, DeskList, ListEntry};
use tessera_accreditation::vetting::{Action, Actor, ScreeningAnswer, Vetting};
use tessera_accreditation::{AccessMatrix, AccountId, DeskCode, ParseContext, PersonId, VenueCode, ZoneCode};

const ROWS: [&str; 4] = [
    "E,Journalist,AFP,STA MPC,4 9,TM",
    "A,Athlete,FRA,STA OLV,1 2 8,DIN TA",
    "VL,Volunteer,VOL,ALL,7 9,TF PT",
    "RT,Camera operator,NBC,STA IBC,4 5,TM",
];

fn name(mut i: usize) -> String {
    let syllables = ["ma", "ri", "jo", "se", "lu", "ka", "no", "té", "bé", "an"];
    let mut s = String::new();
    for _ in 0..3 {
        s.push_str(syllables[i % 10]);
        i /= 10;
    }
    s
}

fn main() {
    let people: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(500_000);
    let matrix = AccessMatrix::demo_default();
    let ctx = ParseContext { matrix: &matrix, today: time::macros::date!(2024 - 07 - 01) };

    let mut csv = String::from(
        "given_name,family_name,date_of_birth,nationality,document_number,category,function,organisation,venues,zones,privileges\n",
    );
    for i in 0..people {
        let row = ROWS[i % ROWS.len()];
        let dob = format!("19{:02}-{:02}-{:02}", 50 + i % 50, 1 + i % 12, 1 + i % 28);
        csv.push_str(&format!("{},{} {},{dob},FRA,X{i:09},{row}\n", name(i), name(i / 1000), name(i / 7)));
    }
    let started = Instant::now();
    let report = import_csv(csv.as_bytes(), &ctx, |_| {}).expect("valid header");
    let import = started.elapsed();
    let started = Instant::now();
    let dups = find_duplicates(report.applications.iter().map(|a| (a.line, a.application.duplicate_key())));
    let dedup = started.elapsed();
    println!(
        "import: {people} lines ({} MB) parsed and validated in {:.2} s ({} accepted, {} refused); \
         duplicate detection {:.2} s ({} findings)",
        csv.len() / 1_000_000,
        import.as_secs_f64(),
        report.applications.len(),
        report.rejected,
        dedup.as_secs_f64(),
        dups.len()
    );

    let entries: Vec<ListEntry> = report
        .applications
        .iter()
        .enumerate()
        .map(|(i, a)| ListEntry::for_application(PersonId(i as u64), 0, &a.application, [7; 32]))
        .collect();
    let issuer = ed25519_dalek::SigningKey::from_bytes(&[1; 32]);
    let desk_code = DeskCode::parse("PDV1").expect("code");
    let key = DeskKey::generate(&mut rand::rngs::OsRng);
    let started = Instant::now();
    let list = desk::build(&desk_code, 0, &entries, &issuer, &key, &mut rand::rngs::OsRng).expect("list");
    let build = started.elapsed();
    let started = Instant::now();
    let opened = desk::open(&list, &key, &issuer.verifying_key()).expect("opens");
    let open = started.elapsed();
    println!(
        "desk list: {} people, {} bytes ({:.1} bytes/person, predicted {}), built in {:.2} s, \
         decrypted, verified and indexed in {:.2} s",
        opened.entries().len(),
        list.len(),
        list.len() as f64 / entries.len().max(1) as f64,
        DeskList::encoded_len(&desk_code, &entries),
        build.as_secs_f64(),
        open.as_secs_f64()
    );

    let signer = BadgeSigner::new(&tessera_credential::IssuerKey::from_secret_bytes(1, &[2; 32]));
    let mut keys = tessera_credential::TrustedKeys::new();
    keys.insert(1, signer.public(), i64::MIN, i64::MAX).expect("window");
    let n = report.applications.len().min(50_000);
    let mut texts = Vec::with_capacity(n);
    let started = Instant::now();
    for (i, a) in report.applications.iter().take(n).enumerate() {
        let person = PersonId(i as u64);
        let mut v = Vetting::submit(person, AccountId(1), 0);
        v.apply(Action::StartScreening, Actor::System, 1, "").expect("screening");
        v.record_answer(&ScreeningAnswer::Clear, 2).expect("clear");
        v.apply(Action::Approve, Actor::System, 3, "").expect("approve");
        let badge = Badge::for_application(1, person, &a.application, 0, 2_000_000_000, [7; 32]);
        let clearance = v.clearance().expect("cleared");
        texts.push(signer.sign(&badge, &clearance).expect("signs").to_text());
    }
    let sign = started.elapsed();
    let (venue, zone) = (VenueCode::parse("STA").expect("code"), ZoneCode::parse("4").expect("code"));
    let ctx = GateContext { venue: &venue, zone: &zone, now: 1_000, policy: Default::default() };
    let started = Instant::now();
    let admitted = texts.iter().filter(|t| badge::verify(t, &keys, &ctx, &|_, _| false).is_admitted()).count();
    let verify = started.elapsed();
    println!(
        "badges: {n} vetted and signed in {:.2} s ({:.0}/s); verified in {:.2} s ({:.0}/s, {admitted} admitted \
         at STA zone 4); QR text {} to {} characters",
        sign.as_secs_f64(),
        n as f64 / sign.as_secs_f64(),
        verify.as_secs_f64(),
        n as f64 / verify.as_secs_f64(),
        texts.iter().map(String::len).min().unwrap_or(0),
        texts.iter().map(String::len).max().unwrap_or(0),
    );
}
