//! The feed over WebSocket, written by the node's fan-out: subscribers joining while changes
//! are published get each exactly once, a reconnection with its position gets what it missed,
//! a subscriber that reads nothing is cut off with its reason while a reader gets everything,
//! a ping is answered and a close ends the connection, coalescing, and a request that is not a
//! handshake.

use super::{odf, publish, source_key};
use crate::TestApp;
use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::Value;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub(super) async fn connect(t: &TestApp, query: &str) -> Ws {
    let url = format!("{}/api/v1/results/socket?{query}", t.base.replace("http://", "ws://"));
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

/// The next JSON message (pings and pongs skipped).
pub(super) async fn next(ws: &mut Ws) -> Value {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(20), ws.next()).await.unwrap().unwrap().unwrap();
        if let Message::Text(t) = m {
            return serde_json::from_str(&t).unwrap();
        }
    }
}

/// Reads up to the end of the catch-up (the `position` message after a reset's state, or
/// the last of the changes missed); the position reached.
async fn caught_up(ws: &mut Ws) -> u64 {
    loop {
        let m = next(ws).await;
        if m["event"] == "position" {
            return seq(&m);
        }
    }
}

fn seq(m: &Value) -> u64 {
    m["id"].as_str().unwrap().split_once(':').unwrap().1.parse().unwrap()
}

/// Subscribers connect while a source publishes: whenever each joined, after its catch-up it
/// receives every later change exactly once and in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_joining_during_a_burst_miss_nothing_and_get_nothing_twice() {
    let t = TestApp::start().await;
    let ops = t.operator().await;
    let key = source_key(&t, &ops, "ATHOLY1", &["ATH"]).await;
    let source = t.app.results_source(&key).unwrap();
    let last = 60u32;
    let publisher = {
        let (app, source) = (t.app.clone(), source.clone());
        tokio::spawn(async move {
            for v in 1..=last {
                app.publish_result(&source, true, odf(v, "LIVE", &[], false, "ATHOLY1").as_bytes()).await.unwrap();
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    let mut readers = Vec::new();
    for i in 0..24 {
        let mut ws = connect(&t, "types=DT_RESULT").await;
        readers.push(tokio::spawn(async move {
            let from = caught_up(&mut ws).await;
            let mut seqs = Vec::new();
            while seqs.last().is_none_or(|s| *s < last as u64) && from < last as u64 {
                let m = next(&mut ws).await;
                assert_eq!(m["event"], "change", "reader {i}: {m}");
                seqs.push(seq(&m));
            }
            (from, seqs)
        }));
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    publisher.await.unwrap();
    for (i, r) in readers.into_iter().enumerate() {
        let (from, seqs) = r.await.unwrap();
        assert_eq!(seqs, (from + 1..=last as u64).collect::<Vec<_>>(), "reader {i} joined at {from}");
    }
}

/// A subscriber that drops and comes back with its last position gets what it missed, then
/// the live changes, each once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_subscriber_reconnects_with_its_position() {
    let t = TestApp::start().await;
    let ops = t.operator().await;
    let ath = source_key(&t, &ops, "ATHOLY1", &["ATH"]).await;
    publish(&t, &ath, odf(1, "LIVE", &[], false, "ATHOLY1")).await;
    let mut ws = connect(&t, "sports=ATH").await;
    let at = caught_up(&mut ws).await;
    publish(&t, &ath, odf(2, "LIVE", &[], false, "ATHOLY1")).await;
    let m = next(&mut ws).await;
    let epoch = m["id"].as_str().unwrap().split_once(':').unwrap().0.to_string();
    assert_eq!((seq(&m), m["data"]["header"]["version"].as_u64()), (at + 1, Some(2)), "{m}");
    drop(ws);
    for v in 3..=5 {
        publish(&t, &ath, odf(v, "LIVE", &[], false, "ATHOLY1")).await;
    }
    let mut ws = connect(&t, &format!("sports=ATH&since={epoch}:{}", at + 1)).await;
    assert_eq!(next(&mut ws).await["event"], "retry");
    let mut versions = Vec::new();
    for _ in 0..3 {
        let m = next(&mut ws).await;
        assert_eq!(m["event"], "change", "{m}");
        versions.push(m["data"]["header"]["version"].as_u64().unwrap());
    }
    publish(&t, &ath, odf(6, "LIVE", &[], false, "ATHOLY1")).await;
    versions.push(next(&mut ws).await["data"]["header"]["version"].as_u64().unwrap());
    assert_eq!(versions, [3, 4, 5, 6]);
}

/// A subscriber whose client reads nothing fills its socket, then its queue, and is cut off
/// with the reason; a subscriber that reads gets every change in order meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_subscriber_that_reads_nothing_is_cut_off_and_a_reader_gets_everything() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let t = TestApp::start().await;
    let ops = t.operator().await;
    let key = source_key(&t, &ops, "ATHOLY1", &["ATH"]).await;
    let source = t.app.results_source(&key).unwrap();
    // The silent client: a handshake by hand, a small receive buffer, then no reading.
    let addr: std::net::SocketAddr = t.base.trim_start_matches("http://").parse().unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut silent = socket.connect(addr).await.unwrap();
    silent
        .write_all(
            format!(
                "GET /api/v1/results/socket HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut reader = connect(&t, "").await;
    caught_up(&mut reader).await;
    // Large documents (a start list of 300): what the kernel's buffers hold (up to a few MiB
    // on loopback) and the subscriber's own bound (1 MiB) are soon both full.
    let field: Vec<(u32, &str)> = (1..=300).map(|r| (r, "USA")).collect();
    let n = 800u32;
    let reading = tokio::spawn(async move {
        let mut versions = Vec::new();
        while versions.len() < n as usize {
            let m = next(&mut reader).await;
            assert_eq!(m["event"], "change", "{m}");
            versions.push(m["data"]["header"]["version"].as_u64().unwrap());
        }
        versions
    });
    for v in 1..=n {
        t.app.publish_result(&source, true, odf(v, "LIVE", &field, false, "ATHOLY1").as_bytes()).await.unwrap();
        if v % 16 == 0 {
            tokio::task::yield_now().await;
        }
    }
    let versions = tokio::time::timeout(Duration::from_secs(60), reading).await.unwrap().unwrap();
    assert_eq!(versions, (1..=n as u64).collect::<Vec<_>>());
    assert!(t.app.results_figures().cut_off >= 1, "{:?}", t.app.results_figures().cut_off);
    // What the silent client finally reads ends with the reason and a close.
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), silent.read_to_end(&mut got)).await.unwrap().unwrap();
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 101"), "{}", &text[..text.len().min(200)]);
    let cut = text.rfind(r#""event":"cut""#).expect("the cut's reason");
    assert!(text[cut..].contains("too slow"), "{}", &text[cut..]);
    assert_eq!(got[got.len() - 2 - 2 - "too slow".len()], 0x88, "a close frame last");
    // The figures reach the metrics, and the cut-off subscriber's queue was given back.
    let m = t.metrics().await;
    let value = |name: &str| -> f64 {
        let line = m.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("{name} in {m}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert!(value("tessera_results_cut_off_total ") >= 1.0);
    assert!(value("tessera_results_delivered_total ") >= f64::from(n));
    assert_eq!(value("tessera_results_accepted_total "), f64::from(n));
    assert_eq!(value("tessera_results_waiting_changes "), 0.0);
    assert!(m.contains("tessera_results_subscribers{entitlement=\"public\"}"), "{m}");
}

/// A ping gets its pong; a close gets a close, and the connection ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ping_is_answered_and_a_close_ends_the_connection() {
    let t = TestApp::start().await;
    let mut ws = connect(&t, "").await;
    caught_up(&mut ws).await;
    ws.send(Message::Ping(b"are you there".to_vec().into())).await.unwrap();
    let pong = tokio::time::timeout(Duration::from_secs(10), ws.next()).await.unwrap().unwrap().unwrap();
    assert_eq!(pong, Message::Pong(b"are you there".to_vec().into()));
    ws.send(Message::Close(None)).await.unwrap();
    let mut closed = false;
    while let Ok(Some(m)) = tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
        match m {
            Ok(Message::Close(_)) => closed = true,
            Ok(m) => panic!("after the close: {m:?}"),
            Err(_) => break,
        }
    }
    assert!(closed, "the server answered the close");
}

/// A subscriber that asks for coalescing gets a burst of versions of one document as fewer
/// messages, the last version always among them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coalescing_websocket_subscriber_gets_the_last_version_of_a_burst() {
    let t = TestApp::start().await;
    let ops = t.operator().await;
    let ath = source_key(&t, &ops, "ATHOLY1", &["ATH"]).await;
    let source = t.app.results_source(&ath).unwrap();
    let mut ws = connect(&t, "coalesce=true").await;
    caught_up(&mut ws).await;
    for v in 1..=8 {
        t.app.publish_result(&source, true, odf(v, "LIVE", &[], false, "ATHOLY1").as_bytes()).await.unwrap();
    }
    // The node's clock (a test's, set by hand) passes the coalescing interval, again after
    // each wait: the subscriber may take the burst in after one advance, and then hold its
    // last version until the clock moves once more (as a real clock always does).
    let mut versions = Vec::new();
    for _ in 0..40 {
        if versions.last() == Some(&8) {
            break;
        }
        t.clock.advance(1);
        let Ok(m) = tokio::time::timeout(Duration::from_millis(500), next(&mut ws)).await else { continue };
        assert_eq!(m["event"], "change", "{m}");
        versions.push(m["data"]["header"]["version"].as_u64().unwrap());
    }
    assert_eq!(versions.last(), Some(&8), "the last version always comes: {versions:?}");
    assert!(versions.len() < 8, "coalesced: {versions:?}");
    assert!(versions.windows(2).all(|w| w[0] < w[1]), "{versions:?}");
}

/// A plain request to the socket's address is told to open a WebSocket.
#[tokio::test]
async fn a_request_that_is_not_a_handshake_is_told_so() {
    let t = TestApp::start().await;
    let r = t.http.get(format!("{}/api/v1/results/socket", t.base)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UPGRADE_REQUIRED);
    let v: Value = r.json().await.unwrap();
    assert!(v["error"]["message"].as_str().unwrap().contains("Connection header"), "{v}");
}

/// A WebSocket keeps its connection's place in the per-address limit (64) for as long as it
/// lives: one address cannot open subscribers without end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_subscribers_count_against_their_address_limit() {
    let t = TestApp::start().await;
    let url = format!("{}/api/v1/results/socket", t.base.replace("http://", "ws://"));
    let mut held = Vec::new();
    for i in 0..64 {
        let (ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap_or_else(|e| panic!("subscriber {i}: {e}"));
        held.push(ws);
    }
    assert!(tokio_tungstenite::connect_async(&url).await.is_err(), "a 65th connection from the same address");
    // One closes: its place comes back.
    let mut first = held.remove(0);
    first.close(None).await.unwrap();
    drop(first);
    let mut again = None;
    for _ in 0..50 {
        if let Ok((ws, _)) = tokio_tungstenite::connect_async(&url).await {
            again = Some(ws);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(again.is_some(), "a place freed by a closed subscriber is taken again");
}
