//! The gate agent (`tessera gate`): the program on a device at an entrance.
//!
//! It keeps the venue's signed bundle, decides every scan offline through
//! `tessera_gate::Device` (the decision is on disk before the gate answers), and around that:
//! - reports its decisions to the central system and follows the venue's feed (entries at
//!   other gates, annulments, revocations) whenever the central system answers;
//! - with `--venue-bus`, publishes each admission on the venue's NATS JetStream stream and
//!   applies the other gates' admissions from it, so that the gates of a venue refuse a second
//!   entry while the central system is unreachable (the venue's NATS server is the hub);
//! - reads scans from a local web page (keyboard-wedge scanner into a text field, or the
//!   camera) and, with `--stdin`, as lines from standard input.

use anyhow::{bail, Context};
use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tessera_gate::bundle::{BundleTrust, SignedBundle};
use tessera_gate::device::Device;
use tessera_gate::engine::{FeedEvent, GateConfig, GateDecision, Outcome};

#[derive(clap::Args, Clone, Debug)]
pub struct GateArgs {
    /// The central system, e.g. http://127.0.0.1:8080.
    #[arg(long, env = "TESSERA_CENTRAL_URL")]
    pub central: String,
    /// The enrolment token (`tessera admin gate enroll`).
    #[arg(long, env = "TESSERA_GATE_TOKEN", hide_env_values = true)]
    pub token: String,
    /// The bundle public key (hex), from the enrolment.
    #[arg(long, env = "TESSERA_GATE_BUNDLE_KEY")]
    pub bundle_key: String,
    #[arg(long, default_value_t = tessera_app::gates::BUNDLE_KEY_ID)]
    pub bundle_key_id: u32,
    /// Where the decision log and the bundle are kept.
    #[arg(long, env = "TESSERA_GATE_DATA_DIR", default_value = "tessera-gate-data")]
    pub data_dir: PathBuf,
    /// The gate page and its scan endpoint.
    #[arg(long, env = "TESSERA_GATE_LISTEN", default_value = "127.0.0.1:8090")]
    pub listen: SocketAddr,
    /// The venue's NATS server (the venue hub), e.g. nats://10.0.0.2:4222.
    #[arg(long, env = "TESSERA_VENUE_BUS")]
    pub venue_bus: Option<String>,
    /// Also read scans as lines from standard input (a USB scanner acting as a keyboard).
    #[arg(long)]
    pub stdin: bool,
    /// How often to sync with the central system when idle.
    #[arg(long, default_value_t = 250)]
    pub sync_interval_ms: u64,
    /// Accreditation badges: the accreditation venue and the zone this gate lets into, as
    /// `VENUE:ZONE` (`STA:4`). Without it the gate refuses badges (`not_a_badge_gate`).
    #[arg(long, env = "TESSERA_GATE_BADGE_ACCESS")]
    pub badge_access: Option<String>,
}

/// What the enrolment token names. The gate reads these fields without checking the MAC
/// (it cannot: the key is central); the central system checks it on every call.
#[derive(Debug, Clone)]
pub struct Identity {
    pub gate_id: String,
    pub venue: String,
    pub entrance: String,
}

pub fn identity_of(token: &str) -> anyhow::Result<Identity> {
    let f: Vec<&str> = token.split('.').collect();
    match f.as_slice() {
        // Since revocation, a token also says when it was issued.
        ["v1", "gate", gate, venue, entrance, _issued, _exp, _mac] => {
            Ok(Identity { gate_id: gate.to_string(), venue: venue.to_string(), entrance: entrance.to_string() })
        }
        _ => bail!("this is not a gate enrolment token"),
    }
}

/// A decision as the gate page and the scan endpoint show it.
#[derive(Debug, Clone, Serialize)]
pub struct DecisionView {
    pub seq: i64,
    pub at_ms: i64,
    pub admitted: bool,
    pub reason: String,
    pub ticket_id: i64,
    pub holder: String,
    pub seat: String,
    pub session: String,
    pub previous_gate: Option<String>,
    pub previous_at_ms: Option<i64>,
    /// Time from receiving the scan to the durable decision.
    pub decide_us: u64,
}

impl DecisionView {
    fn new(d: &GateDecision, decide_us: u64) -> Self {
        DecisionView {
            seq: d.seq,
            at_ms: d.at_ms,
            admitted: d.outcome == Outcome::Admitted,
            reason: d.reason.to_string(),
            ticket_id: d.ticket_id,
            holder: d.holder.clone(),
            seat: d.seat.clone(),
            session: d.session.clone(),
            previous_gate: d.previous.as_ref().map(|p| p.gate_id.clone()),
            previous_at_ms: d.previous.as_ref().map(|p| p.at_ms),
            decide_us,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct LinkStatus {
    pub central_online: bool,
    /// The operations centre asked gates to work offline-first (batched syncs).
    pub offline_first: bool,
    pub last_sync_ms: Option<i64>,
    pub last_error: Option<String>,
    pub feed_seq: i64,
    pub bus_connected: bool,
    pub bundle_issued_at: i64,
    pub bundle_expires_at: i64,
}

/// How often an offline-first gate sends its scans.
pub const OFFLINE_FIRST_BATCH: Duration = Duration::from_secs(10);

pub struct Agent {
    pub identity: Identity,
    device: Mutex<Device>,
    link: Mutex<LinkStatus>,
    recent: Mutex<std::collections::VecDeque<DecisionView>>,
    central: String,
    token: String,
    http: reqwest::Client,
    wake: tokio::sync::Notify,
    bus: tokio::sync::OnceCell<Bus>,
}

/// The venue hub: one JetStream stream per venue, one message per admission.
struct Bus {
    js: async_nats::jetstream::Context,
    subject: String,
}

#[derive(Serialize, Deserialize)]
struct BusEntry {
    ticket_id: i64,
    serial: i64,
    gate_id: String,
    at_ms: i64,
}

/// The device's clock: the shop's own.
fn now_ms() -> i64 {
    tessera_app::Clock::now_ms(&tessera_app::SystemClock)
}

impl Agent {
    /// Opens the device: the log on disk, the bundle (a fresh one from the central system if it
    /// answers, else the one kept from last time), and the entries the log already knows.
    pub async fn start(args: &GateArgs) -> anyhow::Result<Arc<Agent>> {
        let identity = identity_of(&args.token)?;
        let key = hex::decode(args.bundle_key.trim()).context("--bundle-key is not hex")?;
        let key: [u8; 32] =
            key.try_into().map_err(|_| anyhow::anyhow!("--bundle-key must be 32 bytes (64 hex digits)"))?;
        let mut trust = BundleTrust::new();
        trust.insert(args.bundle_key_id, ed25519_key(&key)?);
        std::fs::create_dir_all(&args.data_dir).with_context(|| format!("creating {}", args.data_dir.display()))?;
        let path = args.data_dir.join("gate.db");
        let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build()?;
        let central = args.central.trim_end_matches('/').to_string();
        let entrance = (!identity.entrance.is_empty()).then_some(identity.entrance.as_str());
        let mut config = GateConfig::new(identity.gate_id.clone(), entrance);
        if let Some(access) = &args.badge_access {
            let (venue, zone) = access
                .split_once(':')
                .ok_or_else(|| anyhow::anyhow!("--badge-access must be VENUE:ZONE, like STA:4"))?;
            config.badge_access = Some((venue.trim().to_string(), zone.trim().to_string()));
        }
        let now_s = now_ms() / 1000;
        // A fresh bundle if the central system answers, else the one kept from last time.
        let device = match fetch_bundle(&http, &central, &args.token).await {
            Ok(signed) => Device::enroll(&path, config, trust.clone(), &signed, now_s)
                .map_err(|e| anyhow::anyhow!("bundle refused: {e}"))?,
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "central system unreachable; using the kept bundle");
                Device::open(&path, config, trust.clone(), now_s)
                    .map_err(|e2| anyhow::anyhow!("no usable bundle ({e2}) and the central system does not answer"))?
            }
        };
        let bundle = device.engine().bundle();
        let link = LinkStatus {
            // Entries are not in the bundle: a new gate reads the venue's feed from its start.
            feed_seq: device.log().get_cursor()?.unwrap_or(0),
            bundle_issued_at: bundle.issued_at,
            bundle_expires_at: bundle.expires_at,
            ..LinkStatus::default()
        };
        Ok(Arc::new(Agent {
            identity,
            device: Mutex::new(device),
            link: Mutex::new(link),
            recent: Mutex::new(Default::default()),
            central,
            token: args.token.clone(),
            http,
            wake: tokio::sync::Notify::new(),
            bus: tokio::sync::OnceCell::new(),
        }))
    }

    /// Decides one scan: durable before it returns.
    pub async fn scan(self: &Arc<Self>, line: Vec<u8>) -> anyhow::Result<DecisionView> {
        let me = self.clone();
        let view = tokio::task::spawn_blocking(move || -> anyhow::Result<(DecisionView, Option<BusEntry>)> {
            let started = std::time::Instant::now();
            let d = me.device.lock().expect("device lock").scan(&line, now_ms())?;
            let view = DecisionView::new(&d, started.elapsed().as_micros() as u64);
            // Only tickets enter once: a badge's admission is not news for the other gates.
            let entry = (d.outcome == Outcome::Admitted && d.kind == tessera_gate::Kind::Ticket).then(|| BusEntry {
                ticket_id: d.ticket_id,
                serial: d.serial,
                gate_id: me.identity.gate_id.clone(),
                at_ms: d.at_ms,
            });
            Ok((view, entry))
        })
        .await??;
        let (view, entry) = view;
        {
            let mut r = self.recent.lock().expect("recent lock");
            r.push_front(view.clone());
            r.truncate(50);
        }
        if let (Some(e), Some(bus)) = (entry, self.bus.get()) {
            bus.publish(&e).await;
        }
        self.wake.notify_one();
        Ok(view)
    }

    pub fn status(&self) -> serde_json::Value {
        let (admitted, refused) = self.device.lock().expect("device lock").log().counts().unwrap_or_default();
        serde_json::json!({
            "gate_id": self.identity.gate_id,
            "venue": self.identity.venue,
            "entrance": self.identity.entrance,
            "link": *self.link.lock().expect("link lock"),
            "admitted": admitted,
            "refused": refused,
            "recent": *self.recent.lock().expect("recent lock"),
        })
    }

    /// Sends what is not yet reported, applies the venue's feed; `Err` when the central
    /// system does not answer (the gate carries on offline).
    pub async fn sync_once(&self) -> anyhow::Result<usize> {
        let (batch, after, badges_version) = {
            let dev = self.device.lock().expect("device lock");
            (dev.log().unsynced(1000)?, self.link.lock().expect("link lock").feed_seq, dev.engine().badges_version())
        };
        let scans: Vec<_> = batch.iter().map(|d| tessera_gate::wire::report(&self.identity.gate_id, d)).collect();
        let resp = self
            .http
            .post(format!("{}/api/v1/gate/sync", self.central))
            .bearer_auth(&self.token)
            .json(&tessera_wire::SyncRequest { scans, after_seq: after, badges_version })
            .send()
            .await
            .context("central system unreachable")?;
        let reply: tessera_wire::SyncReply = answered(resp, "the sync").await?;
        let events: Vec<FeedEvent> =
            reply.feed.iter().filter_map(|e| tessera_gate::wire::feed_event(e, &self.identity.gate_id)).collect();
        let mut dev = self.device.lock().expect("device lock");
        if let Some(last) = batch.last() {
            dev.mark_synced(last.seq)?;
        }
        dev.apply_feed(&events, Some(reply.feed_seq))?;
        if let Some(badges) = &reply.badges {
            dev.apply_badges(badges);
        }
        drop(dev);
        let mut link = self.link.lock().expect("link lock");
        link.feed_seq = reply.feed_seq;
        link.central_online = true;
        link.offline_first = reply.offline_first;
        link.last_sync_ms = Some(now_ms());
        link.last_error = None;
        Ok(batch.len())
    }

    pub async fn refresh_bundle(&self) -> anyhow::Result<()> {
        let signed = fetch_bundle(&self.http, &self.central, &self.token).await?;
        let mut dev = self.device.lock().expect("device lock");
        dev.install_bundle(&signed, now_ms() / 1000).map_err(|e| anyhow::anyhow!("bundle refused: {e}"))?;
        let bundle = dev.engine().bundle();
        let mut link = self.link.lock().expect("link lock");
        link.bundle_issued_at = bundle.issued_at;
        link.bundle_expires_at = bundle.expires_at;
        Ok(())
    }

    /// Keeps syncing: right after each scan, and every `interval` when idle; backs off to
    /// 2 s while the central system does not answer.
    pub async fn sync_loop(self: Arc<Self>, interval: Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut last_bundle = std::time::Instant::now();
        loop {
            let wait = match self.sync_once().await {
                // Offline-first: scans wait for the next batch instead of waking a sync each.
                Ok(_) if self.link.lock().expect("link lock").offline_first => interval.max(OFFLINE_FIRST_BATCH),
                Ok(_) => interval,
                Err(e) => {
                    let mut link = self.link.lock().expect("link lock");
                    if link.central_online || link.last_error.is_none() {
                        tracing::warn!(error = %e, "central system unreachable; deciding offline");
                    }
                    link.central_online = false;
                    link.last_error = Some(format!("{e:#}"));
                    Duration::from_secs(2)
                }
            };
            if last_bundle.elapsed() > Duration::from_secs(60) {
                last_bundle = std::time::Instant::now();
                if let Err(e) = self.refresh_bundle().await {
                    tracing::warn!(error = %e, "bundle not refreshed");
                }
            }
            let offline_first = self.link.lock().expect("link lock").offline_first;
            tokio::select! {
                _ = self.wake.notified(), if !offline_first => {}
                _ = tokio::time::sleep(wait) => {}
                _ = stop.changed() => return,
            }
        }
    }

    /// Joins the venue hub: publishes this gate's admissions and applies the others'. The
    /// stream keeps two days, so a gate that restarts catches up from the hub alone.
    pub async fn join_venue_bus(self: Arc<Self>, url: String, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            match self.clone().run_bus(&url).await {
                Ok(()) => return,
                Err(e) => {
                    self.link.lock().expect("link lock").bus_connected = false;
                    tracing::warn!(error = %e, "venue bus unavailable; retrying");
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                _ = stop.changed() => return,
            }
        }
    }

    async fn run_bus(self: Arc<Self>, url: &str) -> anyhow::Result<()> {
        use async_nats::jetstream::{self, consumer, stream};
        use futures_util::StreamExt;
        let client = async_nats::connect(url).await.context("connecting to the venue bus")?;
        let js = jetstream::new(client);
        let venue = &self.identity.venue;
        let subject = format!("tessera.venue.{venue}.entries");
        let stream = js
            .get_or_create_stream(stream::Config {
                name: format!("TESSERA_VENUE_{venue}"),
                subjects: vec![subject.clone()],
                max_age: Duration::from_secs(2 * 86_400),
                ..Default::default()
            })
            .await
            .context("creating the venue stream")?;
        let consumer = stream
            .create_consumer(consumer::pull::OrderedConfig {
                deliver_policy: consumer::DeliverPolicy::All,
                ..Default::default()
            })
            .await
            .context("following the venue stream")?;
        let mut messages = consumer.messages().await.context("reading the venue stream")?;
        let _ = self.bus.set(Bus { js, subject });
        self.link.lock().expect("link lock").bus_connected = true;
        while let Some(m) = messages.next().await {
            let m = m.context("venue stream")?;
            let Ok(e) = serde_json::from_slice::<BusEntry>(&m.payload) else { continue };
            if e.gate_id == self.identity.gate_id {
                continue;
            }
            let entry =
                FeedEvent::Entry { ticket_id: e.ticket_id, serial: e.serial, gate_id: e.gate_id, at_ms: e.at_ms };
            let mut dev = self.device.lock().expect("device lock");
            if let Err(err) = dev.apply_feed(&[entry], None) {
                tracing::warn!(error = %err, "could not record an entry from the venue bus");
            }
        }
        bail!("the venue stream ended")
    }
}

impl Bus {
    /// Waits for the hub's acknowledgement, briefly: the decision is already durable on the
    /// device, and the central sync carries it too if the hub misses it.
    async fn publish(&self, e: &BusEntry) {
        let payload = serde_json::to_vec(e).unwrap_or_default();
        let sent = async {
            let ack = self.js.publish(self.subject.clone(), payload.into()).await?;
            ack.await.map(|_| ()).map_err(anyhow::Error::from)
        };
        match tokio::time::timeout(Duration::from_millis(500), sent).await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => tracing::warn!(error = %err, "venue bus publish failed"),
            Err(_) => tracing::warn!("venue bus publish timed out"),
        }
    }
}

fn ed25519_key(bytes: &[u8; 32]) -> anyhow::Result<ed25519_dalek::VerifyingKey> {
    ed25519_dalek::VerifyingKey::from_bytes(bytes)
        .map_err(|e| anyhow::anyhow!("--bundle-key is not an Ed25519 key: {e}"))
}

async fn fetch_bundle(http: &reqwest::Client, central: &str, token: &str) -> anyhow::Result<SignedBundle> {
    let resp = http
        .get(format!("{central}/api/v1/gate/bundle"))
        .bearer_auth(token)
        .send()
        .await
        .context("central system unreachable")?;
    answered(resp, "the bundle").await
}

/// The JSON of a successful answer, or an error quoting the central system's refusal (the
/// venue agents' one reading of the central system's answers: gates and desks).
pub async fn answered<T: serde::de::DeserializeOwned>(resp: reqwest::Response, what: &str) -> anyhow::Result<T> {
    accepted(resp, what).await?.json().await.with_context(|| format!("reading {what}"))
}

/// The answer if it is a success, else an error quoting the central system's refusal.
pub async fn accepted(resp: reqwest::Response, what: &str) -> anyhow::Result<reqwest::Response> {
    if !resp.status().is_success() {
        let status = resp.status();
        bail!("central system refused {what} ({status}): {}", resp.text().await.unwrap_or_default());
    }
    Ok(resp)
}

/// Runs the agent until `shutdown` resolves, then reports what is on disk one last time.
pub async fn run(
    args: GateArgs,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let agent = Agent::start(&args).await?;
    let listener =
        tokio::net::TcpListener::bind(args.listen).await.with_context(|| format!("listening on {}", args.listen))?;
    let addr = listener.local_addr()?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut tasks =
        vec![tokio::spawn(agent.clone().sync_loop(Duration::from_millis(args.sync_interval_ms), stop_rx.clone()))];
    if let Some(url) = args.venue_bus.clone() {
        tasks.push(tokio::spawn(agent.clone().join_venue_bus(url, stop_rx.clone())));
    }
    if args.stdin {
        tasks.push(tokio::spawn(read_stdin(agent.clone())));
    }
    println!(
        "  Gate {} at {} ({}) is running: page http://{addr}/",
        agent.identity.gate_id,
        agent.identity.venue,
        if agent.identity.entrance.is_empty() { "any entrance" } else { &agent.identity.entrance }
    );
    axum::serve(listener, routes(agent.clone())).with_graceful_shutdown(shutdown).await?;
    let _ = stop_tx.send(true);
    // One last report of what is on disk, if the central system answers.
    let _ = agent.sync_once().await;
    for t in tasks {
        t.abort();
    }
    Ok(())
}

/// Lines from standard input, each a scan; the decision is printed as one line.
async fn read_stdin(agent: Arc<Agent>) {
    use tokio::io::AsyncBufReadExt;
    // Bounded lines: a scanner never sends more than a code, and a stuck key must not grow memory.
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if line.len() > 4096 {
            println!("REFUSED malformed (line too long)");
            continue;
        }
        match agent.scan(line.into_bytes()).await {
            Ok(d) if d.admitted => println!("ADMIT {} {} {}", d.holder, d.seat, d.session),
            Ok(d) => println!(
                "REFUSED {}{}",
                d.reason,
                d.previous_gate.map(|g| format!(" (entered at {g})")).unwrap_or_default()
            ),
            Err(e) => println!("ERROR {e:#}"),
        }
    }
}

/// Most bytes a scan may carry: a code is at most 512 bytes, so its text well under 2 KiB.
const MAX_SCAN_BYTES: usize = 4096;

pub fn routes(agent: Arc<Agent>) -> Router {
    let routes = Router::new().route("/", get(page)).route("/scan", post(scan)).route("/status", get(status));
    device_layers(routes, MAX_SCAN_BYTES).with_state(agent)
}

/// What every venue device's local server adds to its routes (gates and desks): a limit on
/// request bodies, and the same security headers as the central server's answers.
pub fn device_layers<S: Clone + Send + Sync + 'static>(routes: Router<S>, max_body: usize) -> Router<S> {
    routes.layer(axum::extract::DefaultBodyLimit::max(max_body)).layer(axum::middleware::map_response(
        |mut resp: Response| async move {
            tessera_http::secure_headers(&mut resp, false);
            resp
        },
    ))
}

async fn scan(State(agent): State<Arc<Agent>>, body: axum::body::Bytes) -> Response {
    match agent.scan(body.to_vec()).await {
        Ok(d) => Json(d).into_response(),
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "scan not recorded");
            (axum::http::StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({ "error": format!("{e:#}") })))
                .into_response()
        }
    }
}

async fn status(State(agent): State<Arc<Agent>>) -> Response {
    Json(agent.status()).into_response()
}

async fn page(State(agent): State<Arc<Agent>>) -> Response {
    // The gate id (letters, digits, '-' and '_' at enrolment) is escaped all the same.
    static POLICY: std::sync::OnceLock<axum::http::HeaderValue> = std::sync::OnceLock::new();
    device_page(GATE_PAGE, &POLICY, "{{GATE}}", &agent.identity.gate_id)
}

/// A venue device's one page: `page` with `placeholder` replaced by `value` (escaped by maud,
/// as on every other page), served with a policy that allows its one inline script by hash
/// (made once, in `policy`).
pub fn device_page(
    page: &'static str,
    policy: &'static std::sync::OnceLock<axum::http::HeaderValue>,
    placeholder: &str,
    value: &str,
) -> Response {
    let policy = policy.get_or_init(|| tessera_http::content_policy([page_script(page)]));
    let value = maud::html! { (value) }.into_string();
    ([(axum::http::header::CONTENT_SECURITY_POLICY, policy.clone())], Html(page.replace(placeholder, &value)))
        .into_response()
}

/// The text of a page's `<script>` element, exactly as the browser hashes it.
fn page_script(page: &str) -> &str {
    let start = page.find("<script>").expect("the page has a script") + "<script>".len();
    let len = page[start..].find("</script>").expect("the script ends");
    &page[start..start + len]
}

const GATE_PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Gate {{GATE}} · Tessera</title>
<style>
body{font-family:system-ui,sans-serif;margin:0;background:#f4f6fa;color:#1b1f24}
header{background:#1f4e9c;color:#fff;padding:.6rem 1rem;display:flex;gap:1rem;align-items:center}
main{max-width:760px;margin:auto;padding:1rem}
#verdict{font-size:2rem;font-weight:700;padding:1.2rem;border-radius:10px;text-align:center;background:#fff}
#verdict.ok{background:#1a7f37;color:#fff}#verdict.no{background:#b42318;color:#fff}
input{font-size:1.1rem;width:100%;padding:.5rem;box-sizing:border-box}
table{width:100%;border-collapse:collapse;background:#fff}td,th{padding:.3rem;border-bottom:1px solid #ddd;text-align:left;font-size:.9rem}
.muted{color:#666}.pill{padding:.1rem .5rem;border-radius:9px;background:#fff;color:#1b1f24}
video{width:100%;max-height:260px;background:#000;border-radius:8px}
</style></head><body>
<header><strong>Tessera gate {{GATE}}</strong><span id="venue"></span><span class="pill" id="link">…</span></header>
<main>
<div id="verdict">Ready to scan</div>
<p id="detail" class="muted"></p>
<form id="f"><input id="code" autocomplete="off" autofocus placeholder="Scan a ticket (scanner or paste)"></form>
<p><button id="cam" type="button">Use the camera</button> <span class="muted" id="camnote"></span></p>
<video id="video" hidden playsinline></video>
<p class="muted" id="counts"></p>
<table><thead><tr><th>Time</th><th>Decision</th><th>Holder</th><th>Seat</th><th>ms</th></tr></thead><tbody id="recent"></tbody></table>
</main>
<script>
(function () {
  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => '&#' + c.charCodeAt(0) + ';');
  const words = { valid: 'ADMIT', already_used: 'ALREADY USED', revoked: 'REVOKED', expired_code: 'EXPIRED CODE (screenshot?)',
    bad_signature: 'FORGED', bad_device_signature: 'COPIED TICKET', wrong_session: 'WRONG SESSION', wrong_entrance: 'WRONG ENTRANCE',
    not_yet_valid: 'NOT YET VALID', expired: 'EXPIRED', unknown_key: 'UNKNOWN ISSUER', malformed: 'UNREADABLE' };
  async function send(text) {
    const r = await fetch('/scan', { method: 'POST', body: text });
    const d = await r.json();
    if (!r.ok) { $('verdict').className = 'no'; $('verdict').textContent = 'NOT RECORDED'; $('detail').textContent = d.error; return; }
    $('verdict').className = d.admitted ? 'ok' : 'no';
    $('verdict').textContent = words[d.reason] || d.reason.toUpperCase();
    $('detail').textContent = d.admitted ? (d.holder + ' · ' + d.seat + ' · ' + d.session)
      : (d.previous_gate ? 'Entered at ' + d.previous_gate + ' at ' + new Date(d.previous_at_ms).toLocaleTimeString() : 'Reason: ' + d.reason);
    refresh();
  }
  $('f').addEventListener('submit', (e) => { e.preventDefault(); const v = $('code').value; $('code').value = ''; if (v) send(v); });
  async function refresh() {
    const s = await (await fetch('/status')).json();
    $('venue').textContent = s.venue + ' · ' + (s.entrance || 'any entrance');
    $('link').textContent = (s.link.central_online ? 'central online' : 'central OFFLINE') + (s.link.offline_first ? ' · offline-first (operations centre)' : '') + (s.link.bus_connected ? ' · venue hub' : '');
    $('counts').textContent = s.admitted + ' admitted, ' + s.refused + ' refused on this gate';
    $('recent').innerHTML = s.recent.map((d) => '<tr><td>' + new Date(d.at_ms).toLocaleTimeString() + '</td><td>' + (d.admitted ? 'admit' : esc(d.reason)) +
      '</td><td>' + esc(d.holder) + '</td><td>' + esc(d.seat) + '</td><td>' + (d.decide_us / 1000).toFixed(1) + '</td></tr>').join('');
  }
  setInterval(refresh, 2000); refresh();
  $('cam').addEventListener('click', async () => {
    if (!('BarcodeDetector' in window)) { $('camnote').textContent = 'This browser cannot read QR codes from the camera; use a scanner.'; return; }
    const det = new BarcodeDetector({ formats: ['qr_code'] });
    const v = $('video'); v.hidden = false;
    v.srcObject = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' } }); await v.play();
    let last = '', lastAt = 0;
    (async function loop() {
      const codes = await det.detect(v).catch(() => []);
      const t = codes.length ? codes[0].rawValue : '';
      if (t && (t !== last || Date.now() - lastAt > 3000)) { last = t; lastAt = Date.now(); await send(t); }
      requestAnimationFrame(loop);
    })();
  });
})();
</script></body></html>"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_comes_from_the_token_fields() {
        let id = identity_of("v1.gate.G1.SDF.Gate-A.1699999000000.1700000000.mac").unwrap();
        assert_eq!((id.gate_id.as_str(), id.venue.as_str(), id.entrance.as_str()), ("G1", "SDF", "Gate-A"));
        assert!(identity_of("v1.queue.a.b.c.d.e").is_err());
        assert!(identity_of("garbage").is_err());
    }
}
