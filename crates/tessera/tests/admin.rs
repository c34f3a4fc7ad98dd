//! The operator's commands end to end, through the real binary: a phase is created, opened,
//! entered, closed and drawn; its files are published; `verify-draw` accepts them and refuses
//! a tampered entry list. On SQLite always, on PostgreSQL when `TESSERA_TEST_POSTGRES_URL` is set.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};

fn tessera(data_dir: &Path, db: Option<&str>, args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tessera"));
    c.arg("admin").arg("--data-dir").arg(data_dir);
    if let Some(url) = db {
        c.arg("--database-url").arg(url);
    }
    c.args(args).env("TESSERA_LOG", "warn").env_remove("TESSERA_DATABASE_URL");
    c.output().expect("run tessera")
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn draw_and_verify(db: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let published = dir.path().join("published");
    // A fresh code per run, so that runs can share a PostgreSQL database.
    let code = format!("V{}", &tessera_app::random_hex(4).to_uppercase());
    ok(&tessera(&data, db, &["phase", "create", &code, "Verification phase", "--winners", "3", "--wave-size", "2"]));
    let out = ok(&tessera(&data, db, &["phase", "open", &code, "--publish", published.to_str().unwrap()]));
    assert!(out.contains("seed commitment"), "{out}");

    // Entries come from fans through the shop; here, straight through the store.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store: std::sync::Arc<dyn tessera_store::Store> = match db {
            Some(url) => std::sync::Arc::new(tessera_store_postgres::PgStore::connect(url).await.unwrap()),
            None => std::sync::Arc::new(
                tessera_store_sqlite::SqliteStore::open(
                    data.join("tessera.db"),
                    tessera_store_sqlite::Durability::Normal,
                )
                .unwrap(),
            ),
        };
        let phase = store.phase(&code).await.unwrap().unwrap();
        for i in 0..7 {
            let a = store
                .create_account(&tessera_store::NewAccount {
                    email: tessera_domain::Email::parse(&format!("{}-{i}@example.org", code.to_lowercase())).unwrap(),
                    password_hash: "x".into(),
                    display_name: format!("Fan {i}"),
                    role: tessera_store::Role::Fan,
                    now: tessera_domain::Timestamp::now(),
                })
                .await
                .unwrap();
            let r: [u8; 6] = rand::random();
            store
                .enter_lottery(
                    phase.id,
                    a.id,
                    &tessera_domain::lottery::entry_code(r),
                    tessera_domain::Timestamp::now(),
                )
                .await
                .unwrap();
        }
    });

    ok(&tessera(&data, db, &["phase", "close", &code, "--publish", published.to_str().unwrap()]));
    let out = ok(&tessera(&data, db, &["phase", "draw", &code, "--publish", published.to_str().unwrap()]));
    assert!(out.contains("7 entries ranked") && out.contains("winners: 3"), "{out}");
    let out = ok(&tessera(&data, db, &["verify-draw", published.to_str().unwrap()]));
    assert!(out.starts_with("VALID") && out.contains("all 7 entries"), "{out}");

    // One entry removed from the published list: refused, with the reason.
    let entries = published.join("entries.txt");
    let text = std::fs::read_to_string(&entries).unwrap();
    let tampered: String = text.lines().skip(1).map(|l| format!("{l}\n")).collect();
    std::fs::write(&entries, tampered).unwrap();
    let out = tessera(&data, db, &["verify-draw", published.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("INVALID"), "{}", String::from_utf8_lossy(&out.stderr));
    // The list restored but two winners swapped in the result: refused too.
    std::fs::write(&entries, &text).unwrap();
    let result = published.join("result.json");
    let mut r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&result).unwrap()).unwrap();
    r["order"].as_array_mut().unwrap().swap(0, 1);
    std::fs::write(&result, serde_json::to_string(&r).unwrap()).unwrap();
    assert!(!tessera(&data, db, &["verify-draw", published.to_str().unwrap()]).status.success());
    // A bad catalogue is refused with line and field, and nothing is imported.
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "venue,STF,Stade de France,Saint-Denis,-5,Gate A\n").unwrap();
    let out = tessera(&data, db, &["import-catalogue", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 1") && err.contains("capacity") && err.contains("nothing changed"), "{err}");
}

#[test]
fn draw_publish_verify_on_sqlite() {
    draw_and_verify(None);
}

#[test]
fn draw_publish_verify_on_postgres() {
    match std::env::var("TESSERA_TEST_POSTGRES_URL") {
        Ok(url) => draw_and_verify(Some(&url)),
        Err(_) => {
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: TESSERA_TEST_POSTGRES_URL is not set; the PostgreSQL admin test did not run"
            );
        }
    }
}

fn fails(o: &Output) -> String {
    assert!(!o.status.success(), "expected a failure; stdout: {}", String::from_utf8_lossy(&o.stdout));
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn waiting_room_and_block_list_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ok(&tessera(&data, None, &["phase", "create", "P9", "Phase nine"]));
    let set = ["waiting-room", "set", "P9", "--opens-at", "2026-11-23T10:00:00Z", "--rate", "25", "--pow", "on"];
    assert!(ok(&tessera(&data, None, &set)).contains("up to 25 admissions/s"));
    let list = ok(&tessera(&data, None, &["waiting-room", "list"]));
    assert!(
        list.starts_with("P9 ") && list.contains("\"max_rate_per_sec\":25.0") && list.contains("\"pow\":\"on\""),
        "{list}"
    );
    // Nonsense is refused with a reason and changes nothing.
    let bad = ["waiting-room", "set", "P9", "--opens-at", "2026-11-23T10:00:00Z", "--rate", "-3"];
    assert!(fails(&tessera(&data, None, &bad)).contains("rate"));
    assert!(fails(&tessera(
        &data,
        None,
        &["waiting-room", "set", "NOPE", "--opens-at", "2026-11-23T10:00:00Z", "--rate", "5"]
    ))
    .contains("not found"));
    assert_eq!(ok(&tessera(&data, None, &["waiting-room", "list"])), list);
    ok(&tessera(&data, None, &["waiting-room", "remove", "P9"]));
    assert_eq!(ok(&tessera(&data, None, &["waiting-room", "list"])), "");

    let decide = [
        "edge",
        "decide",
        "--scope",
        "network",
        "--value",
        "203.0.113.0/24",
        "--kind",
        "block",
        "--reason",
        "credential stuffing",
    ];
    ok(&tessera(&data, None, &decide));
    let bad = ["edge", "decide", "--scope", "network", "--value", "203.0.113.7/16", "--kind", "block", "--reason", "x"];
    assert!(fails(&tessera(&data, None, &bad)).contains("/24"));
    let decisions = ok(&tessera(&data, None, &["edge", "list"]));
    assert!(decisions.contains("203.0.113.0/24") && decisions.contains("credential stuffing"), "{decisions}");
    ok(&tessera(&data, None, &["edge", "revoke", "--scope", "network", "--value", "203.0.113.0/24"]));
    fails(&tessera(&data, None, &["edge", "revoke", "--scope", "network", "--value", "203.0.113.0/24"]));
    assert_eq!(ok(&tessera(&data, None, &["edge", "list"])), "");
}

#[test]
fn gates_are_enrolled_and_admissions_annulled_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cat = dir.path().join("venue.csv");
    std::fs::write(
        &cat,
        "venue,ARN,Demo Arena,Paris,1000,Gate A;Gate B\n\
         session,ATH1,Athletics,Evening,ARN,2030-07-27T18:00:00Z,2030-07-27T21:00:00Z,no\n\
         category,ATH1,CAT-A,Category A,5000,100\n",
    )
    .unwrap();
    ok(&tessera(&data, None, &["import-catalogue", cat.to_str().unwrap()]));
    let out =
        ok(&tessera(&data, None, &["gate", "enroll", "--venue", "ARN", "--gate-id", "ARN-1", "--entrance", "Gate-A"]));
    assert!(out.contains("TESSERA_GATE_TOKEN=v1.gate.ARN-1.ARN.Gate-A."), "{out}");
    assert!(out.lines().any(|l| l.starts_with("TESSERA_GATE_BUNDLE_KEY=") && l.len() == 24 + 64), "{out}");
    // Refused, with the reason: an unknown venue, an entrance the venue does not have, a bad id.
    assert!(fails(&tessera(&data, None, &["gate", "enroll", "--venue", "NOPE", "--gate-id", "X"]))
        .contains("venue NOPE not found"));
    let err =
        fails(&tessera(&data, None, &["gate", "enroll", "--venue", "ARN", "--gate-id", "X", "--entrance", "Gate-Z"]));
    assert!(err.contains("Gate-A, Gate-B"), "{err}");
    assert!(fails(&tessera(&data, None, &["gate", "enroll", "--venue", "ARN", "--gate-id", "a.b"])).contains("gate_id"));
    // No admission to annul.
    assert!(fails(&tessera(&data, None, &["gate", "annul", "42", "--reason", "jam"])).contains("not found"));
}

/// Start-up refusals say why, and a port in use is found before any database is made.
#[test]
fn start_up_errors_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let serve = |data: &Path, listen: &str| {
        Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(["serve", "--listen", listen, "--data-dir"])
            .arg(data)
            .env("TESSERA_LOG", "warn")
            .env_remove("TESSERA_DATABASE_URL")
            .output()
            .unwrap()
    };
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let fresh = dir.path().join("fresh");
    let e = fails(&serve(&fresh, &addr));
    assert!(e.contains("already in use"), "{e}");
    assert!(!fresh.join("tessera.db").exists(), "no database made for a server that cannot listen");

    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let e = fails(&serve(&file, "127.0.0.1:0"));
    assert!(e.contains("is a file, not a directory"), "{e}");
}
