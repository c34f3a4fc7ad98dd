//! Three `tessera serve` processes on one PostgreSQL database and one NATS server, as an
//! operator runs them: a fan keeps one place whichever node they ask, fans are admitted in
//! the order of their numbers at the operator's rate (not three times it), the queue survives
//! killing every node, a sign-out and an edge decision made on one node are in force on the
//! others within a second, and the outbox sends each mail once. A second test stops NATS
//! mid-run and starts it again; a third serves one results feed from two nodes.
//!
//! They need PostgreSQL (`TESSERA_TEST_POSTGRES_URL`); the first and third the machine's NATS
//! (`TESSERA_TEST_NATS_URL`), the second a `nats-server` binary to start and stop its own.

mod common;

use common::nodes::{client, database, free_port, nats_binary, nats_server, node, prepare, RATE};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

async fn join(http: &reqwest::Client, base: &str, token: &str, phase: &str) -> Value {
    let r = http.post(format!("{base}/api/v1/phases/{phase}/queue")).bearer_auth(token).json(&json!({})).send().await;
    let r = r.unwrap();
    assert_eq!(r.status(), 200, "join on {base}: {}", r.text().await.unwrap_or_default());
    r.json().await.unwrap()
}

async fn status(http: &reqwest::Client, base: &str, token: &str, phase: &str, ticket: &str) -> Value {
    let r = http
        .get(format!("{base}/api/v1/phases/{phase}/queue/status"))
        .bearer_auth(token)
        .header("Tessera-Queue", ticket)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "status on {base}: {}", r.text().await.unwrap_or_default());
    r.json().await.unwrap()
}

/// How long until `base` refuses requests from `address`, after an operator blocked it on
/// another node; panics past `limit`.
async fn blocked_within(base: &str, address: [u8; 4], limit: Duration, since: Instant) -> Duration {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .local_address(std::net::IpAddr::from(address))
        .build()
        .unwrap();
    loop {
        let r = http.get(format!("{base}/api/v1/phases")).send().await;
        let refused = match r {
            Ok(r) => r.status() == 403,
            Err(_) => true, // the edge may close the connection of a blocked address
        };
        if refused {
            return since.elapsed();
        }
        assert!(since.elapsed() < limit, "{base} still served {address:?} after {:?}", since.elapsed());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn block(base: &str, ops: &str, address: [u8; 4]) -> Instant {
    let value = std::net::Ipv4Addr::from(address).to_string();
    let r = reqwest::Client::new()
        .post(format!("{base}/api/v1/admin/edge/decisions"))
        .bearer_auth(ops)
        .json(&json!({"scope": "address", "value": value, "kind": "block", "duration_secs": 600, "reason": "cluster test"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "block: {} {}", r.status(), r.text().await.unwrap_or_default());
    Instant::now()
}

fn number(v: &Value) -> Option<u64> {
    v["number"].as_u64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_share_one_queue_one_block_list_and_sign_outs() {
    let (Ok(pg), Ok(nats)) = (std::env::var("TESSERA_TEST_POSTGRES_URL"), std::env::var("TESSERA_TEST_NATS_URL"))
    else {
        eprintln!("SKIPPED three_nodes_share_one_queue_one_block_list_and_sign_outs: TESSERA_TEST_POSTGRES_URL or TESSERA_TEST_NATS_URL is not set");
        return;
    };
    let (db, drop_db) = database(&pg, "cluster");
    const EARLY: usize = 9;
    const LATE: usize = 15;
    let w = prepare(&db, EARLY + LATE, 8).await;
    let dir = tempfile::tempdir().unwrap();
    let dirs: Vec<PathBuf> = (0..3).map(|i| dir.path().join(format!("node{i}"))).collect();
    let mut nodes = Vec::new();
    for (i, d) in dirs.iter().enumerate() {
        nodes.push(node(d, &db, &nats, &w.key_hex, &format!("n{i}")).await);
    }
    let bases: Vec<String> = nodes.iter().map(|n| n.base.clone()).collect();
    let clients: Vec<reqwest::Client> = (0..w.fans.len()).map(client).collect();
    assert!(Instant::now() + Duration::from_secs(2) < w.opens_at, "the nodes took too long to start");

    // Before opening: a place in the pre-queue, the same one asked on another node.
    let mut tickets: Vec<String> = Vec::new();
    for i in 0..EARLY {
        let first = join(&clients[i], &bases[i % 3], &w.fans[i], &w.phase).await;
        assert_eq!(first["view"]["state"], "pre_queue", "{first}");
        let again = join(&clients[i], &bases[(i + 1) % 3], &w.fans[i], &w.phase).await;
        assert_eq!(again["again"], true, "one place per account across nodes: {again}");
        tickets.push(first["ticket"].as_str().unwrap().to_string());
    }

    // After opening: first come, first served, in the order of the joins whatever the node.
    tokio::time::sleep(w.opens_at.saturating_duration_since(Instant::now()) + Duration::from_millis(300)).await;
    let opened = Instant::now();
    let mut numbers: HashMap<usize, u64> = HashMap::new();
    for i in EARLY..EARLY + LATE {
        let first = join(&clients[i], &bases[i % 3], &w.fans[i], &w.phase).await;
        let n = number(&first["view"]).unwrap_or_else(|| panic!("a number after opening: {first}"));
        assert_eq!(
            n,
            (i) as u64,
            "the {}th late joiner is numbered after the pre-queue and the earlier joiners",
            i - EARLY
        );
        let again = join(&clients[i], &bases[(i + 2) % 3], &w.fans[i], &w.phase).await;
        assert_eq!(number(&again["view"]), Some(n), "the same number on another node: {again}");
        numbers.insert(i, n);
        tickets.push(first["ticket"].as_str().unwrap().to_string());
    }

    // Everybody polls, each time a different node, until admitted; the pre-queue learns its
    // numbers (a shuffle of 0..EARLY) on whichever node it asks.
    let mut admitted_at: HashMap<u64, Duration> = HashMap::new();
    let mut round = 0usize;
    while admitted_at.len() < EARLY + LATE {
        assert!(opened.elapsed() < Duration::from_secs(40), "admission stalled at {}", admitted_at.len());
        let mut admitted_now = Vec::new();
        for i in 0..EARLY + LATE {
            let v = status(&clients[i], &bases[(i + round) % 3], &w.fans[i], &w.phase, &tickets[i]).await;
            if let Some(t) = v["ticket"].as_str() {
                tickets[i] = t.to_string();
            }
            let Some(n) = number(&v) else { continue };
            if let Some(&known) = numbers.get(&i) {
                assert_eq!(known, n, "fan {i} holds one number on every node");
            }
            numbers.insert(i, n);
            if v["state"] == "your_turn" {
                assert!(v["pass"].is_string() || admitted_at.contains_key(&n), "a pass with the first admission: {v}");
                admitted_at.entry(n).or_insert_with(|| opened.elapsed());
                admitted_now.push(n);
            }
        }
        // What one sweep saw admitted is a prefix of the numbers, give or take a tick.
        admitted_now.sort_unstable();
        if let Some(&max) = admitted_now.last() {
            assert!(max as usize + 1 - admitted_now.len() <= 2, "admitted out of order: {admitted_now:?}");
        }
        round += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let all: HashSet<u64> = numbers.values().copied().collect();
    assert_eq!(all, (0..(EARLY + LATE) as u64).collect(), "every fan one number, no number twice");
    let last = admitted_at.values().max().unwrap();
    let floor = Duration::from_secs_f64(((EARLY + LATE) as f64 - 2.0) / RATE - 1.5);
    assert!(
        *last >= floor,
        "{} fans admitted in {last:?}: faster than {RATE}/s (three nodes each at the rate?)",
        EARLY + LATE
    );

    // A sign-out on node 0 is in force on nodes 1 and 2 within a second (their caches knew
    // the session a moment before).
    let (fan, http) = (&w.fans[0], &clients[0]);
    for b in &bases[1..] {
        let r = http.get(format!("{b}/api/v1/me")).bearer_auth(fan).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
    let r = http.post(format!("{}/api/v1/auth/logout", bases[0])).bearer_auth(fan).send().await.unwrap();
    assert!(r.status().is_success(), "logout: {}", r.status());
    let out = Instant::now();
    for b in &bases[1..] {
        loop {
            let r = http.get(format!("{b}/api/v1/me")).bearer_auth(fan).send().await.unwrap();
            if r.status() == 401 {
                break;
            }
            assert!(
                out.elapsed() < Duration::from_secs(1),
                "{b} still accepts a signed-out token after {:?}",
                out.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    // Edge decisions made on one node are enforced on the others within a second, three times
    // (the store's two-second refresh alone would miss that bound about half of the time).
    for (k, address) in [[127, 0, 9, 1], [127, 0, 9, 2], [127, 0, 9, 3]].into_iter().enumerate() {
        let since = block(&bases[k], &w.ops, address).await;
        for b in bases.iter().filter(|b| **b != bases[k]) {
            let took = blocked_within(b, address, Duration::from_secs(1), since).await;
            eprintln!("block decided on node {k} enforced on {b} after {took:?}");
        }
    }

    // Registrations spread over the nodes: each verification mail sent once, by one node.
    let registrants = 12;
    for i in 0..registrants {
        let r = clients[i]
            .post(format!("{}/api/v1/accounts", bases[i % 3]))
            .json(&json!({"email": format!("mail{i}@example.org"), "password": "correct horse battery", "display_name": "M"}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "register: {}", r.status());
    }
    let count_mails = || {
        let mut per: HashMap<String, usize> = HashMap::new();
        for d in &dirs {
            for e in std::fs::read_dir(d.join("mail")).into_iter().flatten().flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                if let Some(i) = (0..registrants).find(|i| name.contains(&format!("mail{i}@"))) {
                    *per.entry(format!("mail{i}")).or_default() += 1;
                }
            }
        }
        per
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    while count_mails().len() < registrants {
        assert!(Instant::now() < deadline, "mails not sent: {:?}", count_mails());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let per = count_mails();
    assert!(per.values().all(|&n| n == 1), "a mail sent twice: {per:?}");

    // Every node killed without warning, then started again: the queue is still there, each
    // fan with the number it had, admitted as before.
    for n in &mut nodes {
        n.child.start_kill().unwrap();
        n.child.wait().await.unwrap();
    }
    let mut nodes = Vec::new();
    for (i, d) in dirs.iter().enumerate() {
        nodes.push(node(d, &db, &nats, &w.key_hex, &format!("n{i}")).await);
    }
    let bases: Vec<String> = nodes.iter().map(|n| n.base.clone()).collect();
    for i in 1..EARLY + LATE {
        let v = status(&clients[i], &bases[i % 3], &w.fans[i], &w.phase, &tickets[i]).await;
        assert_eq!(number(&v), numbers.get(&i).copied(), "fan {i}'s number after restarting every node: {v}");
        assert_eq!(v["state"], "your_turn", "admitted before, admitted after: {v}");
        let again = join(&clients[i], &bases[(i + 1) % 3], &w.fans[i], &w.phase).await;
        assert_eq!(number(&again["view"]), numbers.get(&i).copied(), "the same place after the restart: {again}");
    }
    drop(nodes);
    // The machine's NATS keeps streams on disk: this deployment's go with the test.
    let key: [u8; 32] = hex::decode(&w.key_hex).unwrap().try_into().unwrap();
    let bus = tessera_server::connect_bus(&nats, &key, "cleanup").await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    bus.delete_streams().await.unwrap();
    drop_db();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nats_stopped_and_restarted_mid_run() {
    let Ok(pg) = std::env::var("TESSERA_TEST_POSTGRES_URL") else {
        eprintln!("SKIPPED nats_stopped_and_restarted_mid_run: TESSERA_TEST_POSTGRES_URL is not set");
        return;
    };
    if nats_binary().is_none() {
        eprintln!("SKIPPED nats_stopped_and_restarted_mid_run: no nats-server binary to start and stop");
        return;
    }
    let (db, drop_db) = database(&pg, "natsdown");
    let w = prepare(&db, 6, 0).await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let nats_url = format!("nats://127.0.0.1:{port}");
    let mut nats = nats_server(port, &dir.path().join("nats"));
    let a = node(&dir.path().join("a"), &db, &nats_url, &w.key_hex, "a").await;
    let b = node(&dir.path().join("b"), &db, &nats_url, &w.key_hex, "b").await;
    let http = client(0);

    // With the bus: a join answers, a decision crosses within a second.
    let deadline = Instant::now() + Duration::from_secs(15);
    let first = loop {
        let r = http
            .post(format!("{}/api/v1/phases/{}/queue", a.base, w.phase))
            .bearer_auth(&w.fans[0])
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        if r.status() == 200 {
            break r.json::<Value>().await.unwrap();
        }
        assert!(Instant::now() < deadline, "no join while NATS is up: {}", r.status());
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let since = block(&a.base, &w.ops, [127, 0, 8, 1]).await;
    blocked_within(&b.base, [127, 0, 8, 1], Duration::from_secs(1), since).await;

    // NATS stops: nodes keep answering from what they hold; a new place cannot be handed out
    // (503 with Retry-After, not a refusal); a decision still reaches the other node, from
    // the store, within its refresh.
    nats.stop();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let v = status(&http, &b.base, &w.fans[0], &w.phase, first["ticket"].as_str().unwrap()).await;
    assert_eq!(number(&v), number(&first["view"]), "the place is still known with NATS down: {v}");
    let r = http
        .post(format!("{}/api/v1/phases/{}/queue", b.base, w.phase))
        .bearer_auth(&w.fans[1])
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503, "a join with NATS down");
    assert!(r.headers().contains_key("retry-after"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "bus_unavailable", "{body}");
    let since = block(&a.base, &w.ops, [127, 0, 8, 2]).await;
    blocked_within(&b.base, [127, 0, 8, 2], Duration::from_secs(5), since).await;

    // NATS comes back on the same port and storage: joins work again, the new fan numbered
    // after the first, and decisions cross within a second again.
    let _nats = nats_server(port, &dir.path().join("nats"));
    let deadline = Instant::now() + Duration::from_secs(30);
    let second = loop {
        let r = http
            .post(format!("{}/api/v1/phases/{}/queue", b.base, w.phase))
            .bearer_auth(&w.fans[1])
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        if r.status() == 200 {
            break r.json::<Value>().await.unwrap();
        }
        assert!(Instant::now() < deadline, "no join after NATS came back: {}", r.status());
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(number(&second["view"]), number(&first["view"]).map(|n| n + 1), "{second}");
    for (k, address) in [[127, 0, 8, 3], [127, 0, 8, 4], [127, 0, 8, 5]].into_iter().enumerate() {
        let (from, to) = if k % 2 == 0 { (&a.base, &b.base) } else { (&b.base, &a.base) };
        let since = block(from, &w.ops, address).await;
        blocked_within(to, address, Duration::from_secs(1), since).await;
    }
    drop((a, b));
    drop_db();
}

/// Reads a server-sent event stream until `until` appears in it.
async fn read_until(r: &mut reqwest::Response, text: &mut String, until: &str) {
    tokio::time::timeout(Duration::from_secs(10), async {
        while !text.contains(until) {
            let chunk = r.chunk().await.unwrap().expect("the stream stays open");
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{until:?} never came: {text}"));
}

/// Reads WebSocket messages until `last` says the last one read is the one awaited; each
/// message's event and id.
async fn ws_until(ws: &mut Ws, last: impl Fn(&str, &str) -> bool) -> Vec<(String, String)> {
    use futures_util::StreamExt;
    let mut read: Vec<(String, String)> = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), async {
        while !read.last().is_some_and(|(e, i)| last(e, i)) {
            let m = ws.next().await.unwrap().unwrap();
            if let tokio_tungstenite::tungstenite::Message::Text(t) = m {
                let v = serde_json::from_str::<Value>(&t).unwrap();
                let field = |k: &str| v[k].as_str().unwrap_or_default().to_string();
                read.push((field("event"), field("id")));
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("never came: {read:?}"));
    read
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The results feed is one feed on every node: a source publishes to one node, subscribers of
/// another (server-sent events and WebSocket) receive the change at the same position and
/// epoch, the same version sent to the other node is a duplicate, and a node started again
/// replays the log to the same state.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_serve_one_results_feed() {
    let (Ok(pg), Ok(nats)) = (std::env::var("TESSERA_TEST_POSTGRES_URL"), std::env::var("TESSERA_TEST_NATS_URL"))
    else {
        eprintln!(
            "SKIPPED two_nodes_serve_one_results_feed: TESSERA_TEST_POSTGRES_URL or TESSERA_TEST_NATS_URL is not set"
        );
        return;
    };
    let (db, drop_db) = database(&pg, "results");
    let w = prepare(&db, 0, 3600).await;
    let dir = tempfile::tempdir().unwrap();
    let a = node(&dir.path().join("a"), &db, &nats, &w.key_hex, "ra").await;
    let b = node(&dir.path().join("b"), &db, &nats, &w.key_hex, "rb").await;
    let http = reqwest::Client::new();
    let key = common::athletics_source_key(&http, &a.base, &w.ops).await;
    // A subscriber of node b, from the current state (empty), then live.
    let mut stream = http.get(format!("{}/api/v1/results/stream", b.base)).send().await.unwrap();
    let mut text = String::new();
    read_until(&mut stream, &mut text, "event: position").await;
    let ws_url = format!("{}/api/v1/results/socket", b.base.replace("http://", "ws://"));
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url).await.unwrap();
    // Its catch-up: the advice, the reset to the (empty) state, the position.
    let start = ws_until(&mut ws, |e, _| e == "position").await;
    let events: Vec<&str> = start.iter().map(|(e, _)| e.as_str()).collect();
    assert_eq!(events, ["retry", "reset", "position"], "{start:?}");

    let first = common::publish_result(&http, &a.base, &key, common::final_100m(1, "USA")).await;
    assert_eq!(first["outcome"], "created", "{first}");
    let (epoch, seq) = (first["epoch"].as_u64().unwrap(), first["seq"].as_u64().unwrap());
    read_until(&mut stream, &mut text, &format!("id: {epoch}:{seq}")).await;
    assert!(text.contains("\"version\":1"), "node b's subscriber got node a's change: {text}");

    let again = common::publish_result(&http, &b.base, &key, common::final_100m(1, "USA")).await;
    assert_eq!(again["outcome"], "duplicate", "the same version sent to the other node: {again}");
    let second = common::publish_result(&http, &b.base, &key, common::final_100m(2, "JAM")).await;
    assert_eq!(
        (second["outcome"].as_str(), second["epoch"].as_u64(), second["seq"].as_u64()),
        (Some("replaced"), Some(epoch), Some(seq + 1))
    );
    read_until(&mut stream, &mut text, &format!("id: {epoch}:{}", seq + 1)).await;
    // The WebSocket subscriber: both changes, once each, at the same positions.
    let last = format!("{epoch}:{}", seq + 1);
    let live = ws_until(&mut ws, |_, i| i == last).await;
    let change = |s: u64| ("change".to_string(), format!("{epoch}:{s}"));
    assert_eq!(live, [change(seq), change(seq + 1)]);

    let medals = |base: String| {
        let http = http.clone();
        async move { http.get(format!("{base}/api/v1/results/medals")).send().await.unwrap().json::<Value>().await.unwrap() }
    };
    // Each node applies the log by itself: the other node has it within a moment.
    for base in [&a.base, &b.base] {
        let mut m = medals(base.clone()).await;
        let since = Instant::now();
        while m["seq"].as_u64() != Some(seq + 1) && since.elapsed() < Duration::from_secs(1) {
            tokio::time::sleep(Duration::from_millis(20)).await;
            m = medals(base.clone()).await;
        }
        assert_eq!((m["epoch"].as_u64(), m["seq"].as_u64()), (Some(epoch), Some(seq + 1)), "{base}: {m}");
        assert_eq!(m["rows"][0]["organisation"], "JAM", "{base}: {m}");
    }

    // Node b killed and started again: it replays the log to the same feed.
    drop((stream, ws));
    drop(b);
    let b = node(&dir.path().join("b"), &db, &nats, &w.key_hex, "rb").await;
    let m = medals(b.base.clone()).await;
    assert_eq!((m["epoch"].as_u64(), m["seq"].as_u64()), (Some(epoch), Some(seq + 1)), "after a restart: {m}");
    assert_eq!(m["rows"][0]["organisation"], "JAM", "{m}");
    drop((a, b));
    let key: [u8; 32] = hex::decode(&w.key_hex).unwrap().try_into().unwrap();
    let bus = tessera_server::connect_bus(&nats, &key, "cleanup").await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    bus.delete_streams().await.unwrap();
    drop_db();
}
