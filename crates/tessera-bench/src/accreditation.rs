//! `tessera bench accreditation`: Paris 2024 accredited about 500,000 people. The benchmark
//! imports that many applications from one CSV file through the same use case an officer's
//! upload runs (parse and check every line, seal the personal data, store in chunks with the
//! quotas and duplicates checked in the store), on SQLite or PostgreSQL; then it signs badges
//! on one thread, and builds a collection desk's encrypted list to give its size per person.
//!
//! The file (generated, not timed): 250 organisations with quotas in five categories, one
//! line in a thousand a person already in the file (a duplicate) and one in a thousand with
//! a bad field, so that the report's paths are exercised at scale.

use anyhow::bail;
use clap::Args;
use std::sync::Arc;
use std::time::Instant;
use tessera_accreditation::{
    AccessMatrix, AccountId, Action, Actor, Application, Badge, DeskCode, DeskKey, ParseContext, PersonId, Vetting,
};
use tessera_app::accreditation::OrgRecord;
use tessera_app::{App, AppConfig, SystemClock};
use tessera_store::{NewAccount, Role};

#[derive(Args, Clone)]
pub(crate) struct AccreditationArgs {
    /// Applications in the file.
    #[arg(long, default_value_t = 500_000)]
    people: usize,
    /// Badges signed for the signing rate.
    #[arg(long, default_value_t = 100_000)]
    badges: usize,
    /// People on the desk list built, opened and measured.
    #[arg(long, default_value_t = 500_000)]
    desk_list: usize,
    /// `postgres://...` to run on PostgreSQL; default: SQLite in a temporary directory.
    #[arg(long, env = "TESSERA_BENCH_DATABASE_URL")]
    database_url: Option<String>,
}

const ORGS: usize = 250;
const CATEGORIES: [(&str, &str, &str, &str, &str); 5] = [
    ("A", "athlete", "STA OLV", "2 8 9", "DIN TA PT"),
    ("E", "journalist", "STA MPC", "4 9", "TM PT"),
    ("HB", "camera operator", "STA IBC", "4 5 9", "TM PT"),
    ("WF", "venue staff", "ALL", "7 9", "TF PT"),
    ("VL", "volunteer", "ALL", "7 9", "TF PT UNI"),
];
const GIVEN: [&str; 16] = [
    "Marie", "Léon", "Aïcha", "Jules", "Chloé", "Théo", "Inès", "Hugo", "Zoé", "Louis", "Camille", "Noé", "Sofia",
    "Kenji", "Olu", "Ana",
];
const FAMILY: [&str; 16] = [
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau", "Simon",
    "Laurent", "Okafor", "Tanaka", "Silva", "Novak",
];

/// The file: `people` lines after the header.
fn generate(people: usize) -> String {
    let mut out = String::with_capacity(people * 130);
    out.push_str(
        "given_name,family_name,date_of_birth,nationality,document_number,category,function,organisation,venues,zones,privileges\n",
    );
    for i in 0..people {
        // One line in a thousand repeats the person 500 lines earlier; one is bad.
        let who = if i % 1000 == 999 && i >= 500 { i - 500 } else { i };
        let (cat, function, venues, zones, privileges) = CATEGORIES[who % CATEGORIES.len()];
        let dob = if i % 1000 == 500 {
            "31/02/1990".to_string()
        } else {
            format!("{}-{:02}-{:02}", 1950 + who % 55, 1 + who % 12, 1 + who % 28)
        };
        out.push_str(&format!(
            "{},{}-{},{dob},FRA,D{:08},{cat},{function},O{:04},{venues},{zones},{privileges}\n",
            GIVEN[who % 16],
            FAMILY[(who / 16) % 16],
            letters(who / 256),
            who,
            // Every organisation gets every category (`who % ORGS` would tie them together).
            (who / CATEGORIES.len()) % ORGS
        ));
    }
    out
}

/// `n` written in letters (names have no digits): 0 is `Aa`, 1 `Ab`, ...
fn letters(mut n: usize) -> String {
    let mut out = vec![b'a' + (n % 26) as u8];
    n /= 26;
    loop {
        out.push(b'a' + (n % 26) as u8);
        n /= 26;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    out[0] = out[0].to_ascii_uppercase();
    String::from_utf8(out).unwrap_or_default()
}

pub(crate) async fn run(a: AccreditationArgs) -> anyhow::Result<()> {
    if a.people == 0 || a.badges == 0 {
        bail!("--people and --badges must be at least 1");
    }
    let dir = tempfile::tempdir()?;
    let store = crate::common::bench_store(a.database_url.as_deref(), &dir.path().join("accreditation.db")).await?;
    let backend = store.backend();
    let mut key = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
    let payments = Arc::new(tessera_payments::SandboxProvider::new(tessera_payments::SandboxConfig::default()));
    let app = App::new(store.clone(), payments, Arc::new(SystemClock), AppConfig::new(key, "http://127.0.0.1"));
    println!(
        "bench accreditation: {} applications, {backend} store; machine: {} cores",
        a.people,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let staff = store
        .create_account(&NewAccount {
            email: tessera_domain::Email::parse("staff@bench.invalid").map_err(anyhow::Error::msg)?,
            password_hash: "unused".into(),
            display_name: "Bench staff".into(),
            role: Role::Accreditation,
            now: app.now(),
        })
        .await?;
    let staff = tessera_app::auth::Principal::of_account(&staff);
    // Room for everyone: each organisation's quota per category is twice its share.
    let share = (a.people / ORGS / CATEGORIES.len() + 1) as u32 * 2;
    for o in 0..ORGS {
        let quotas = CATEGORIES.iter().map(|c| (c.0.to_string(), share)).collect();
        let org = OrgRecord {
            code: format!("O{o:04}"),
            name: format!("Organisation {o}"),
            kind: tessera_accreditation::OrgKind::Other,
            officers: vec![],
            quotas,
        };
        app.put_organisation(&staff, org).await?;
    }

    let csv = generate(a.people);
    let mib = csv.len() as f64 / (1 << 20) as f64;
    let started = Instant::now();
    let status = app.run_import(1, &staff, csv.as_bytes()).await?;
    let secs = started.elapsed().as_secs_f64();
    drop(csv);
    println!(
        "import: {} lines ({mib:.0} MiB) in {secs:.1} s: {:.0} lines/s; added {}, duplicates {}, over quota {}, bad lines {}",
        status.records,
        status.records as f64 / secs,
        status.added,
        status.duplicates,
        status.over_quota,
        status.rejected
    );
    let expected_dups = (a.people / 1000) as u64;
    if status.duplicates < expected_dups.saturating_sub(1) || status.over_quota != 0 {
        bail!(
            "the import's report is not what the file holds: {} duplicates (expected about {expected_dups})",
            status.duplicates
        );
    }
    let stored: i64 = store.accreditation_counts().await?.iter().map(|c| c.count).sum();
    if stored as u64 != status.added {
        bail!("{stored} rows stored, {} reported added", status.added);
    }
    if let Some(peak) = crate::common::memory_mib("VmHWM:") {
        println!("peak RSS: {peak:.0} MiB");
    }

    // Badges signed on one thread, as a printing desk's server does for a queue of cards.
    let matrix = AccessMatrix::demo_default();
    let ctx = ParseContext { matrix: &matrix, today: time::OffsetDateTime::now_utc().date() };
    let raw = tessera_accreditation::RawApplication {
        given_name: "Marie-José".into(),
        family_name: "Pérec".into(),
        date_of_birth: "1968-05-09".into(),
        nationality: "FRA".into(),
        document_number: "12AB34567".into(),
        category: "A".into(),
        function: "athlete".into(),
        organisation: "FRA".into(),
        venues: "STA OLV".into(),
        zones: "2 8".into(),
        privileges: "DIN TA".into(),
    };
    let application = Application::parse(&raw, &ctx).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let signer = app.badge_signer();
    let mut vetting = Vetting::submit(PersonId(1), AccountId(1), 0);
    for action in [Action::StartScreening, Action::ScreeningClear, Action::Approve] {
        vetting.apply(action, Actor::System, 0, "").map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let clearance = vetting.clearance().map_err(|e| anyhow::anyhow!("{e}"))?;
    let now = app.now().0;
    let badge = Badge::for_application(
        tessera_app::accreditation::BADGE_KEY_ID,
        PersonId(1),
        &application,
        now,
        now + 86_400 * 60,
        [7; 32],
    );
    let started = Instant::now();
    let mut bytes = 0usize;
    for _ in 0..a.badges {
        bytes += signer.sign(&badge, &clearance).map_err(|e| anyhow::anyhow!("{e}"))?.to_text().len();
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "badges: {} signed in {secs:.2} s on one thread: {:.0} a second; {} characters of QR text each",
        a.badges,
        a.badges as f64 / secs,
        bytes / a.badges
    );

    // A desk's list: its size per person, and how long building it takes.
    if a.desk_list > 0 {
        let entries: Vec<_> = (0..a.desk_list)
            .map(|i| {
                tessera_accreditation::desk::ListEntry::for_application(
                    PersonId(i as u64 + 1),
                    0,
                    &application,
                    [7; 32],
                )
            })
            .collect();
        let desk = DeskCode::parse("PDV1").map_err(|e| anyhow::anyhow!("{e}"))?;
        let sk = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
        let desk_key = DeskKey::from_bytes([4; 32]);
        let started = Instant::now();
        let list = tessera_accreditation::desk::build(&desk, now, &entries, &sk, &desk_key, &mut rand::rngs::OsRng)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let built = started.elapsed();
        // What the desk does with it: decrypt, check the signature, index.
        let started = Instant::now();
        let opened = tessera_accreditation::desk::open(&list, &desk_key, &sk.verifying_key())
            .map_err(|e| anyhow::anyhow!("the desk cannot open its list: {e}"))?;
        let verified = started.elapsed();
        if opened.entries().len() != a.desk_list || opened.person(PersonId(a.desk_list as u64)).is_none() {
            bail!("the opened list does not hold everyone");
        }
        if tessera_accreditation::desk::open(&list, &DeskKey::from_bytes([5; 32]), &sk.verifying_key()).is_ok() {
            bail!("the list opened with another key");
        }
        println!(
            "desk list: {} people, {:.1} MiB ({} bytes a person), built in {:.0} ms, opened and verified in {:.0} ms",
            a.desk_list,
            list.len() as f64 / (1 << 20) as f64,
            list.len() / a.desk_list,
            built.as_secs_f64() * 1000.0,
            verified.as_secs_f64() * 1000.0
        );
    }
    Ok(())
}
