//! The operations centre of `tessera serve` processes, facing real failures: a node killed,
//! the NATS server stopped, the PostgreSQL server stopped. Each is found within a stated bound
//! and raises one incident, and the operations centre keeps answering while it lasts.
//!
//! They need PostgreSQL (`TESSERA_TEST_POSTGRES_URL`) and a `nats-server` binary to start and
//! stop a NATS server of their own; the stopped PostgreSQL is a server of the test's own
//! (`initdb` and `pg_ctl` from Debian's PostgreSQL, run as the `postgres` user when the test
//! runs as root), never the machine's shared one. Each says loudly when it is skipped.

mod common;

use common::nodes::{database, free_port, nats_binary, nats_server, node_with, prepare};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Two nodes whose operations centre watches each other, the store and the bus.
const TOC_MODEL: &str = r#"
components:
  - {id: a, kind: node, heartbeat: {interval_ms: 1000}, depends_on: [bus]}
  - {id: b, kind: node, heartbeat: {interval_ms: 1000}, depends_on: [bus]}
  - {id: cluster, kind: group, redundancy: {type: quorum, members: [a, b], min_up: 1}}
  - {id: db, kind: datastore, probe: {vantage_points: [a, b], down_when: 1, interval_ms: 5000}}
  - {id: bus, kind: bus, probe: {vantage_points: [a, b], down_when: 1, interval_ms: 5000}}
services:
  - {id: shop, name: Ticket shop, components: [cluster, db]}
"#;

/// The state of `id` on `base`'s wall.
async fn toc_state(http: &reqwest::Client, base: &str, ops: &str, id: &str) -> (String, Value) {
    let r = http.get(format!("{base}/api/v1/toc/wall")).bearer_auth(ops).send().await.unwrap();
    let code = r.status();
    let wall: Value = r.json().await.unwrap();
    assert_eq!(code, 200, "the wall answers whatever has failed: {wall}");
    let state = wall["components"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap()["state"]
        .as_str()
        .unwrap()
        .to_string();
    (state, wall)
}

/// Polls `base`'s wall until `id` is in `state`; how long it took.
async fn toc_until(
    http: &reqwest::Client,
    base: &str,
    ops: &str,
    id: &str,
    state: &str,
    limit: Duration,
) -> (Duration, Value) {
    let since = Instant::now();
    loop {
        let (s, wall) = toc_state(http, base, ops, id).await;
        if s == state {
            return (since.elapsed(), wall);
        }
        assert!(since.elapsed() < limit, "{id} not {state} within {limit:?}: {s}; {wall}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The open incidents on `base`'s wall once `wait` has passed (the alert group's wait).
async fn incidents_after(http: &reqwest::Client, base: &str, ops: &str, wait: Duration) -> Vec<Value> {
    let deadline = Instant::now() + wait;
    loop {
        let (_, wall) = toc_state(http, base, ops, "a").await;
        let open: Vec<Value> = wall["incidents"].as_array().unwrap().clone();
        if !open.is_empty() || Instant::now() > deadline {
            return open;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_operations_centre_finds_a_killed_node_and_a_stopped_nats() {
    let Ok(pg) = std::env::var("TESSERA_TEST_POSTGRES_URL") else {
        eprintln!("SKIPPED the_operations_centre_finds_a_killed_node_and_a_stopped_nats: TESSERA_TEST_POSTGRES_URL is not set");
        return;
    };
    if nats_binary().is_none() {
        eprintln!("SKIPPED the_operations_centre_finds_a_killed_node_and_a_stopped_nats: no nats-server binary to start and stop");
        return;
    }
    let (db, drop_db) = database(&pg, "tocnodes");
    let w = prepare(&db, 0, 0).await;
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("toc.yaml");
    std::fs::write(&model, TOC_MODEL).unwrap();
    let model = model.to_str().unwrap();
    let port = free_port();
    let nats_url = format!("nats://127.0.0.1:{port}");
    let mut nats = nats_server(port, &dir.path().join("nats"));
    let a = node_with(&dir.path().join("a"), &db, &nats_url, &w.key_hex, "a", &["--toc-model", model]).await;
    let b = node_with(&dir.path().join("b"), &db, &nats_url, &w.key_hex, "b", &["--toc-model", model]).await;
    let http = reqwest::Client::new();
    // Each node hears the other over the bus and probes the store and the bus itself.
    for id in ["a", "b", "db", "bus"] {
        toc_until(&http, &a.base, &w.ops, id, "up", Duration::from_secs(20)).await;
    }
    toc_until(&http, &b.base, &w.ops, "a", "up", Duration::from_secs(20)).await;

    // A node killed: silent for longer than 1 s × 3, found at the next evaluation.
    drop(b);
    let (took, _) = toc_until(&http, &a.base, &w.ops, "b", "down", Duration::from_secs(10)).await;
    assert!(took <= Duration::from_secs(5), "a killed node found in {took:?} (bound 3 s + a 1 s tick)");
    assert_eq!(toc_state(&http, &a.base, &w.ops, "cluster").await.0, "degraded", "one of two nodes is enough");
    // The alert becomes one incident after the group's wait (10 s).
    let incidents = incidents_after(&http, &a.base, &w.ops, Duration::from_secs(20)).await;
    assert_eq!(incidents.len(), 1, "one incident for the lost node: {incidents:?}");
    assert!(incidents[0]["title"].as_str().unwrap().contains('b'), "{}", incidents[0]);

    // NATS stopped: the node's own probe finds it within its health round (5 s) and a tick;
    // the silent node is behind it, unreachable, not a second cause.
    let b = node_with(&dir.path().join("b"), &db, &nats_url, &w.key_hex, "b", &["--toc-model", model]).await;
    toc_until(&http, &a.base, &w.ops, "b", "up", Duration::from_secs(20)).await;
    nats.stop();
    let (took, _) = toc_until(&http, &a.base, &w.ops, "bus", "down", Duration::from_secs(15)).await;
    assert!(took <= Duration::from_secs(8), "a stopped NATS found in {took:?} (bound 5 s + a 1 s tick)");
    toc_until(&http, &a.base, &w.ops, "b", "unreachable", Duration::from_secs(10)).await;
    // One incident more, the bus's (b's own from before stays open until a human resolves it):
    // the node behind the bus is not a second cause.
    let deadline = Instant::now() + Duration::from_secs(20);
    let incidents = loop {
        let open = incidents_after(&http, &a.base, &w.ops, Duration::ZERO).await;
        if open.len() > 1 || Instant::now() > deadline {
            break open;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let titles: Vec<&str> = incidents.iter().map(|i| i["title"].as_str().unwrap()).collect();
    assert_eq!(titles.len(), 2, "the lost node's and the bus's: {titles:?}");
    assert_eq!(titles.iter().filter(|t| t.contains("bus")).count(), 1, "{titles:?}");
    // The public page says so without naming machines.
    let status: Value = http.get(format!("{}/api/v1/status", a.base)).send().await.unwrap().json().await.unwrap();
    assert!(status["services"].is_array(), "{status}");
    drop((a, b));
    drop_db();
}

/// A PostgreSQL server of the test's own, with its data in a directory of its own; stopped at
/// once (`-m immediate`, as a crash) when dropped.
struct OwnPostgres {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    /// Run as the `postgres` user: PostgreSQL refuses to run as root.
    as_postgres: bool,
}

impl OwnPostgres {
    /// Debian's PostgreSQL binaries, if this machine has them.
    fn binaries() -> Option<PathBuf> {
        let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|bin| bin.join("initdb").exists() && bin.join("pg_ctl").exists())
            .collect();
        found.sort();
        found.pop()
    }

    /// A new cluster in `dir`, or why there cannot be one here.
    fn init(dir: &Path) -> Result<OwnPostgres, String> {
        let bin = Self::binaries().ok_or("no PostgreSQL binaries under /usr/lib/postgresql")?;
        let root = std::process::Command::new("id").arg("-u").output().map_err(|e| e.to_string())?.stdout == b"0\n";
        if root {
            let ids = |flag: &str| -> Result<u32, String> {
                let out =
                    std::process::Command::new("id").args([flag, "postgres"]).output().map_err(|e| e.to_string())?;
                String::from_utf8_lossy(&out.stdout)
                    .trim()
                    .parse()
                    .map_err(|_| "no postgres user to run as".to_string())
            };
            std::os::unix::fs::chown(dir, Some(ids("-u")?), Some(ids("-g")?)).map_err(|e| e.to_string())?;
        }
        let pg = OwnPostgres { bin, dir: dir.to_path_buf(), port: free_port(), as_postgres: root };
        let data = pg.dir.join("data");
        pg.run("initdb", &["-D", data.to_str().unwrap(), "-A", "trust", "-U", "postgres", "--no-sync"])?;
        Ok(pg)
    }

    fn run(&self, tool: &str, args: &[&str]) -> Result<(), String> {
        let program = self.bin.join(tool);
        let mut cmd = if self.as_postgres {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            std::process::Command::new(&program)
        };
        let out = cmd.args(args).output().map_err(|e| format!("{tool}: {e}"))?;
        if !out.status.success() {
            return Err(format!("{tool}: {}", String::from_utf8_lossy(&out.stderr)));
        }
        Ok(())
    }

    fn start(&self) {
        let options = format!("-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off", self.port, self.dir.display());
        let (data, log) = (self.dir.join("data"), self.dir.join("log"));
        self.run("pg_ctl", &["-D", data.to_str().unwrap(), "-l", log.to_str().unwrap(), "-w", "-o", &options, "start"])
            .unwrap();
    }

    fn stop(&self) {
        let data = self.dir.join("data");
        let _ = self.run("pg_ctl", &["-D", data.to_str().unwrap(), "-m", "immediate", "-w", "stop"]);
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        self.stop();
    }
}

/// PostgreSQL stopped under two nodes: both nodes' probes find it within their health round
/// (5 s) and a tick, it is one incident (two vantage points, one cause), and the operations
/// centre keeps answering while the store is gone: the public status, and the wall for an
/// operator whose sign-in the node checked before (a node that never saw it cannot check it,
/// and answers 503). Started again, the store is up again on the wall within a health round.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_operations_centre_finds_a_stopped_postgresql_and_keeps_answering() {
    const NAME: &str = "the_operations_centre_finds_a_stopped_postgresql_and_keeps_answering";
    if std::env::var("TESSERA_TEST_POSTGRES_URL").is_err() {
        eprintln!("SKIPPED {NAME}: TESSERA_TEST_POSTGRES_URL is not set (the PostgreSQL tests are off)");
        return;
    }
    if nats_binary().is_none() {
        eprintln!("SKIPPED {NAME}: no nats-server binary to start and stop");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pg_dir = dir.path().join("pg");
    std::fs::create_dir(&pg_dir).unwrap();
    let pg = match OwnPostgres::init(&pg_dir) {
        Ok(pg) => pg,
        Err(why) => {
            eprintln!("SKIPPED {NAME}: no PostgreSQL server of its own: {why}");
            return;
        }
    };
    pg.start();
    let db = pg.url();
    let w = prepare(&db, 0, 0).await;
    let model = dir.path().join("toc.yaml");
    std::fs::write(&model, TOC_MODEL).unwrap();
    let model = model.to_str().unwrap();
    let port = free_port();
    let nats_url = format!("nats://127.0.0.1:{port}");
    let _nats = nats_server(port, &dir.path().join("nats"));
    let a = node_with(&dir.path().join("a"), &db, &nats_url, &w.key_hex, "a", &["--toc-model", model]).await;
    let b = node_with(&dir.path().join("b"), &db, &nats_url, &w.key_hex, "b", &["--toc-model", model]).await;
    let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
    // The operator's console is open on both nodes: each has checked the sign-in.
    for id in ["a", "b", "db", "bus"] {
        toc_until(&http, &a.base, &w.ops, id, "up", Duration::from_secs(20)).await;
        toc_until(&http, &b.base, &w.ops, id, "up", Duration::from_secs(20)).await;
    }

    pg.stop();
    let (took, _) = toc_until(&http, &a.base, &w.ops, "db", "down", Duration::from_secs(15)).await;
    assert!(took <= Duration::from_secs(8), "a stopped PostgreSQL found in {took:?} (bound 5 s + a 1 s tick)");
    toc_until(&http, &b.base, &w.ops, "db", "down", Duration::from_secs(8)).await;
    // The nodes themselves are up: the store is its own component, one cause.
    for node in ["a", "b"] {
        assert_eq!(toc_state(&http, &a.base, &w.ops, node).await.0, "up", "{node} with the store down");
    }
    let incidents = incidents_after(&http, &a.base, &w.ops, Duration::from_secs(20)).await;
    assert_eq!(incidents.len(), 1, "one incident for the stopped store: {incidents:?}");
    assert!(incidents[0]["title"].as_str().unwrap().contains("db"), "{}", incidents[0]);
    // The public status page answers, and says the service is not all well.
    let r = http.get(format!("{}/api/v1/status", b.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let status: Value = r.json().await.unwrap();
    assert_eq!(status["services"][0]["name"], "Ticket shop", "{status}");
    assert_ne!(status["overall"], "operational", "the shop without its store: {status}");

    pg.start();
    let (took, _) = toc_until(&http, &a.base, &w.ops, "db", "up", Duration::from_secs(20)).await;
    assert!(took <= Duration::from_secs(12), "the store back up on the wall in {took:?}");
    drop((a, b));
}
