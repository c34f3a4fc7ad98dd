//! Tessera nodes as processes on a shared PostgreSQL database and NATS server, and the
//! world they start from: what the cluster and operations-centre tests share.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tessera_app::airlock::RoomSettings;

/// Admissions a second in the test's room.
pub const RATE: f64 = 4.0;

pub struct Node {
    pub child: tokio::process::Child,
    pub base: String,
}

/// A node on `dir`, the database `db` and the bus `nats`, sharing `key` with the others.
pub async fn node(dir: &Path, db: &str, nats: &str, key: &str, name: &str) -> Node {
    node_with(dir, db, nats, key, name, &[]).await
}

/// The same, with more flags.
pub async fn node_with(dir: &Path, db: &str, nats: &str, key: &str, name: &str, extra: &[&str]) -> Node {
    std::fs::create_dir_all(dir).unwrap();
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_tessera"));
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--edge-per-address", "1000", "--node-name", name])
        .args(extra)
        .arg("--data-dir")
        .arg(dir)
        .args(["--database-url", db, "--nats-url", nats])
        .env("TESSERA_SECRET_KEY", key);
    let (child, base) = super::started(cmd, &format!("node {name}")).await;
    Node { child, base }
}

/// A database of its own on the test server (dropped by the returned guard's owner).
pub fn database(url: &str, prefix: &str) -> (String, impl Fn()) {
    let name = format!("{prefix}_{}", tessera_app::random_hex(6));
    let psql = {
        let url = url.to_string();
        move |sql: String| {
            let out = std::process::Command::new("psql").args([url.as_str(), "-Atqc", &sql]).output().expect("psql");
            assert!(out.status.success(), "{sql}: {}", String::from_utf8_lossy(&out.stderr));
        }
    };
    // Another test creating its database at the same moment holds template1 ("being
    // accessed by other users"): try again for a while.
    for attempt in 0.. {
        let out = std::process::Command::new("psql")
            .args([url, "-Atqc", &format!("CREATE DATABASE {name}")])
            .output()
            .expect("psql");
        if out.status.success() {
            break;
        }
        assert!(attempt < 50, "CREATE DATABASE {name}: {}", String::from_utf8_lossy(&out.stderr));
        std::thread::sleep(Duration::from_millis(200));
    }
    let db_url = format!("{}/{name}", url.rsplit_once('/').expect("a database in the URL").0);
    let drop_it = move || psql(format!("DROP DATABASE {name} WITH (FORCE)"));
    (db_url, drop_it)
}

/// The world before any node starts: a phase drawn with slots open now, its waiting room
/// opening in `opens_in` seconds, `fans` signed-in fans and an operator.
pub struct World {
    pub key_hex: String,
    pub phase: String,
    pub fans: Vec<String>,
    pub ops: String,
    pub opens_at: Instant,
}

pub async fn prepare(db: &str, fans: usize, opens_in: u64) -> World {
    let mut key = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
    let store: Arc<dyn tessera_store::Store> = Arc::new(tessera_store_postgres::PgStore::connect(db).await.unwrap());
    let app = super::use_cases(store, key);
    let (_, _, phase, _) = app.live_venue(86_400).await.unwrap();
    let (tokens, ops) = super::drawn_phase(&app, &phase, "Cluster test", fans, "c").await;
    let opens = tessera_domain::Timestamp(app.now().0 + opens_in as i64);
    let mut settings = RoomSettings::new(opens, RATE);
    settings.room.auto_rate = false;
    settings.pow = tessera_app::airlock::PowMode::Off;
    app.configure_waiting_room(&phase, &settings).await.unwrap();
    // The room opens on a whole second; the test's clock follows.
    let wall_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let opens_at = Instant::now() + Duration::from_millis((opens.0 * 1000 - wall_ms).max(0) as u64);
    World { key_hex: hex::encode(key), phase, fans: tokens, ops, opens_at }
}

/// A client with an address of its own (the per-address limit is not under test).
pub fn client(i: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .local_address(std::net::IpAddr::from([127, 0, 30 + (i / 250) as u8, (i % 250) as u8 + 1]))
        .build()
        .unwrap()
}

/// A NATS server of the test's own, stopped when dropped (a panicking test leaves none behind).
pub struct Nats(std::process::Child);

impl Nats {
    pub fn stop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A NATS server of the test's own on `port`, keeping its streams in `dir`.
pub fn nats_server(port: u16, dir: &Path) -> Nats {
    let child = std::process::Command::new(nats_binary().unwrap())
        .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
        .arg(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("nats-server starts");
    Nats(child)
}

pub fn nats_binary() -> Option<PathBuf> {
    ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}
