//! The desk agent (`tessera desk`): the program on a collection desk, the counterpart of the
//! gate agent.
//!
//! On 19 July 2024 the Paris 2024 collection desks stopped with a faulty security update and
//! fell back to paper lists. This agent keeps working without the central system:
//! - it downloads the desk's list whenever the central system answers, checks it opens under
//!   the desk's key and carries the badge key's signature, and keeps the **sealed bytes as
//!   downloaded** on disk (`list.tdl`): the list is decrypted in memory only, so a copied data
//!   directory shows no personal data without the desk's key;
//! - started while the central system does not answer, it opens the kept list (refused with a
//!   clear error if it was altered, or is sealed under another key);
//! - its page (on its own port) finds an approved person by name, document number or badge
//!   number and records the hand-over: the record is **appended to the desk's log and synced to
//!   disk before the page says done** (`hand-overs.log`, one JSON line each, fsync), as a gate
//!   writes its decision before it answers;
//! - it sends the hand-overs not yet acknowledged whenever the central system answers (a sync
//!   sent twice counts once there), and hears back whether the desk is switched to its offline
//!   list.
//!
//! The desk's key is the one the central system derives for the desk and hands out with the
//! list (`Tessera-Desk-Key`): given with `--desk-key`, or kept from the first download in
//! `--key-file` (by default `desk.key` in the data directory, readable by this user only; put it
//! on another medium to keep a copied data directory unreadable).

use anyhow::{bail, Context};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tessera_gate_agent::answered;

mod page;
use page::page;
use tessera_accreditation::application::duplicates::normalise_name;
use tessera_accreditation::desk::{DeskList, ListEntry};
use tessera_accreditation::{AccountId, DeskCode, DeskKey, HandOver, HandOverLog, PersonId};

#[derive(clap::Args, Clone, Debug)]
pub struct DeskArgs {
    /// The central system, e.g. http://127.0.0.1:8080.
    #[arg(long, env = "TESSERA_CENTRAL_URL")]
    pub central: String,
    /// The desk's code (`PDV1`).
    #[arg(long, env = "TESSERA_DESK")]
    pub desk: String,
    /// A bearer token of the desk's account (role `desk`: `tessera admin create-staff`, then
    /// `POST /api/v1/auth/login`).
    #[arg(long, env = "TESSERA_DESK_TOKEN", hide_env_values = true)]
    pub token: String,
    /// The badge public key (hex) the list must be signed with: `public_key` of
    /// `GET /api/v1/accreditation/revocations`.
    #[arg(long, env = "TESSERA_DESK_BADGE_KEY")]
    pub badge_key: String,
    /// The desk's key (hex). Without it, the key handed out with the first list is kept in
    /// `--key-file`.
    #[arg(long, env = "TESSERA_DESK_KEY", hide_env_values = true)]
    pub desk_key: Option<String>,
    /// Where the desk's key is kept when `--desk-key` is not given (default: `desk.key` in
    /// the data directory).
    #[arg(long, env = "TESSERA_DESK_KEY_FILE")]
    pub key_file: Option<PathBuf>,
    /// Where the sealed list and the hand-over log are kept.
    #[arg(long, env = "TESSERA_DESK_DATA_DIR", default_value = "tessera-desk-data")]
    pub data_dir: PathBuf,
    /// The desk page and its endpoints.
    #[arg(long, env = "TESSERA_DESK_LISTEN", default_value = "127.0.0.1:8092")]
    pub listen: SocketAddr,
    /// How often to sync with the central system.
    #[arg(long, default_value_t = 2000)]
    pub sync_interval_ms: u64,
    /// How often to download a fresh list while the central system answers.
    #[arg(long, default_value_t = 300)]
    pub list_refresh_secs: u64,
}

/// Most hand-overs sent in one sync (the central system takes at most 10,000).
const SYNC_BATCH: usize = 1000;
/// Most people a search shows.
const MAX_RESULTS: usize = 20;
/// Most bytes of a request to the desk page.
const MAX_BODY_BYTES: usize = 4096;

const LIST_FILE: &str = "list.tdl";
const LOG_FILE: &str = "hand-overs.log";
const SYNCED_FILE: &str = "hand-overs.synced";

/// The link with the central system, as the page shows it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LinkStatus {
    pub central_online: bool,
    /// Switched to its offline list, as the central system last said (staff may switch a
    /// desk from the console): hand-overs are then sent in batches.
    pub offline_mode: bool,
    pub last_sync_ms: Option<i64>,
    pub last_error: Option<String>,
    /// When this agent last downloaded the list (unix ms); `None`: working from the kept one.
    pub list_downloaded_ms: Option<i64>,
}

/// What the agent holds: the opened list and the hand-overs, on disk and in memory.
struct Desk {
    list: DeskList,
    /// Every hand-over recorded at this desk, in the order of the log file.
    records: Vec<HandOver>,
    /// The same, as the domain's log (one per card).
    log: HandOverLog,
    /// How many of `records` the central system acknowledged.
    synced: usize,
    /// The log file, open for appending.
    file: std::fs::File,
}

pub struct Agent {
    pub desk: DeskCode,
    data_dir: PathBuf,
    key_file: PathBuf,
    /// A key given on the command line: a list sealed under another one is refused.
    fixed_key: Option<DeskKey>,
    issuer: ed25519_dalek::VerifyingKey,
    state: Mutex<Desk>,
    link: Mutex<LinkStatus>,
    central: String,
    token: String,
    http: reqwest::Client,
    wake: tokio::sync::Notify,
}

/// A person on the list, as the page shows them.
#[derive(Debug, Clone, Serialize)]
pub struct PersonView {
    pub person: u64,
    pub serial: u16,
    /// The name as the list keeps it (normalised: lower case, words in order).
    pub name: String,
    pub date_of_birth: String,
    pub document: String,
    pub category: String,
    /// The responsible organisation (NOC, federation, outlet); absent on a list of the first
    /// version.
    pub organisation: Option<String>,
    /// The list carries a photo digest only when the card has a photo; the photo itself is
    /// not on the list.
    pub has_photo: bool,
    /// When this desk handed the card over (unix seconds), if it did.
    pub handed_over_at: Option<i64>,
}

impl PersonView {
    fn of(e: &ListEntry, log: &HandOverLog) -> Self {
        PersonView {
            person: e.person.0,
            serial: e.serial,
            name: e.name.clone(),
            date_of_birth: e.date_of_birth.to_string(),
            document: e.document.clone(),
            category: e.category.to_string(),
            organisation: e.organisation.as_ref().map(|o| o.to_string()),
            has_photo: e.photo_sha256 != [0; 32],
            handed_over_at: log.get(e.person, e.serial).map(|h| h.at),
        }
    }
}

/// The desk's clock: hand-overs are stamped with it.
fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

fn parse_key(hex_text: &str, what: &str) -> anyhow::Result<[u8; 32]> {
    let bytes = hex::decode(hex_text.trim()).with_context(|| format!("{what} is not hex"))?;
    bytes.try_into().map_err(|_| anyhow::anyhow!("{what} must be 32 bytes (64 hex digits)"))
}

impl Agent {
    /// Opens the desk: a fresh list if the central system answers, else the kept one; the
    /// hand-over log as the disk has it.
    pub async fn start(args: &DeskArgs) -> anyhow::Result<Arc<Agent>> {
        let desk = DeskCode::parse(args.desk.trim()).map_err(|e| anyhow::anyhow!("--desk: {e}"))?;
        let issuer = ed25519_dalek::VerifyingKey::from_bytes(&parse_key(&args.badge_key, "--badge-key")?)
            .map_err(|e| anyhow::anyhow!("--badge-key is not an Ed25519 key: {e}"))?;
        let fixed_key = match &args.desk_key {
            Some(k) => Some(DeskKey::from_bytes(parse_key(k, "--desk-key")?)),
            None => None,
        };
        std::fs::create_dir_all(&args.data_dir).with_context(|| format!("creating {}", args.data_dir.display()))?;
        let key_file = args.key_file.clone().unwrap_or_else(|| args.data_dir.join("desk.key"));
        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?;
        let central = args.central.trim_end_matches('/').to_string();
        let mut link = LinkStatus::default();
        let fetched = fetch_list(&http, &central, &args.token, &desk).await;
        let list = match fetched {
            Ok((bytes, handed_key)) => {
                let key = choose_key(fixed_key.as_ref(), handed_key)?;
                let list = open_list(&bytes, &key, &issuer, &desk).context("the downloaded list is refused")?;
                keep_list(&args.data_dir, &key_file, fixed_key.is_none(), &bytes, &key)?;
                link.central_online = true;
                link.list_downloaded_ms = Some(now_ms());
                list
            }
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "central system unreachable; opening the kept list");
                let key = match &fixed_key {
                    Some(k) => k.clone(),
                    None => read_key_file(&key_file).with_context(|| {
                        format!("no desk key to open the kept list, and the central system does not answer ({e:#})")
                    })?,
                };
                let path = args.data_dir.join(LIST_FILE);
                let bytes = std::fs::read(&path).with_context(|| {
                    format!("no kept list at {} and the central system does not answer ({e:#})", path.display())
                })?;
                let list = open_list(&bytes, &key, &issuer, &desk)
                    .with_context(|| format!("the kept list {} is refused", path.display()))?;
                link.last_error = Some(format!("{e:#}"));
                list
            }
        };
        let (records, file) = open_log(&args.data_dir.join(LOG_FILE))?;
        let synced = read_synced(&args.data_dir.join(SYNCED_FILE))?.min(records.len());
        let mut log = HandOverLog::new();
        log.merge(records.iter().cloned());
        Ok(Arc::new(Agent {
            desk,
            data_dir: args.data_dir.clone(),
            key_file,
            fixed_key,
            issuer,
            state: Mutex::new(Desk { list, records, log, synced, file }),
            link: Mutex::new(link),
            central,
            token: args.token.clone(),
            http,
            wake: tokio::sync::Notify::new(),
        }))
    }

    /// People on the list matching `query`: a badge number (digits), a document number, or
    /// words of the name (each a prefix of a word of the listed name), at most
    /// [`MAX_RESULTS`].
    pub fn search(&self, query: &str) -> Vec<PersonView> {
        let query = query.trim();
        let st = self.state.lock().expect("desk lock");
        let mut found: Vec<&ListEntry> = Vec::new();
        if !query.is_empty() && query.chars().all(|c| c.is_ascii_digit()) {
            if let Ok(id) = query.parse::<u64>() {
                found.extend(st.list.person(PersonId(id)));
            }
        }
        for e in st.list.by_document(query) {
            if !found.iter().any(|f| f.person == e.person) {
                found.push(e);
            }
        }
        let words: Vec<String> =
            normalise_name(query, "").split(' ').filter(|w| !w.is_empty()).map(String::from).collect();
        if found.is_empty() && !words.is_empty() {
            found.extend(
                st.list
                    .entries()
                    .iter()
                    .filter(|e| words.iter().all(|w| e.name.split(' ').any(|n| n.starts_with(w.as_str()))))
                    .take(MAX_RESULTS),
            );
        }
        found.truncate(MAX_RESULTS);
        found.into_iter().map(|e| PersonView::of(e, &st.log)).collect()
    }

    /// Records a hand-over: checked against the list and this desk's log, appended to the log
    /// on disk and synced, and only then answered. Nothing is kept when it is refused.
    pub async fn hand_over(self: &Arc<Self>, person: u64, serial: u16) -> Result<HandOver, HandOverRefused> {
        let me = self.clone();
        let done = tokio::task::spawn_blocking(move || {
            let mut guard = me.state.lock().expect("desk lock");
            let st = &mut *guard;
            // The central system records the desk's account from its bearer token; the desk's
            // own log needs no account id, so it keeps none.
            let h = st
                .list
                .hand_over(&st.log, PersonId(person), serial, AccountId(0), now_ms() / 1000)
                .map_err(|e| HandOverRefused::Refused(e.to_string()))?;
            append(&mut st.file, &h).map_err(|e| HandOverRefused::NotRecorded(format!("{e:#}")))?;
            st.log.merge([h.clone()]);
            st.records.push(h.clone());
            Ok(h)
        })
        .await
        .map_err(|e| HandOverRefused::NotRecorded(e.to_string()))?;
        if done.is_ok() {
            self.wake.notify_one();
        }
        done
    }

    /// Hand-overs recorded here and not yet acknowledged by the central system.
    pub fn pending(&self) -> usize {
        let st = self.state.lock().expect("desk lock");
        st.records.len() - st.synced
    }

    pub fn status(&self) -> serde_json::Value {
        let st = self.state.lock().expect("desk lock");
        serde_json::json!({
            "desk": self.desk.to_string(),
            "link": *self.link.lock().expect("link lock"),
            "list_issued_at": st.list.issued_at(),
            "list_people": st.list.entries().len(),
            "handed_over": st.records.len(),
            "pending": st.records.len() - st.synced,
            "now_ms": now_ms(),
        })
    }

    /// Sends the hand-overs not yet acknowledged (an empty sync is the desk's heartbeat);
    /// `Err` when the central system does not answer, and the desk carries on from its list
    /// (the page then says the central system is offline).
    pub async fn sync_once(&self) -> anyhow::Result<usize> {
        let sent = self.send_pending().await;
        if let Err(e) = &sent {
            let mut link = self.link.lock().expect("link lock");
            if link.central_online || link.last_error.is_none() {
                tracing::warn!(error = %format!("{e:#}"), "central system unreachable; working from the list");
            }
            link.central_online = false;
            link.last_error = Some(format!("{e:#}"));
        }
        sent
    }

    async fn send_pending(&self) -> anyhow::Result<usize> {
        let (batch, upto) = {
            let st = self.state.lock().expect("desk lock");
            let batch: Vec<HandOver> = st.records[st.synced..].iter().take(SYNC_BATCH).cloned().collect();
            (batch, st.synced)
        };
        let cards: Vec<serde_json::Value> =
            batch.iter().map(|h| serde_json::json!({"person": h.person.0, "serial": h.serial, "at": h.at})).collect();
        let resp = self
            .http
            .post(format!("{}/api/v1/accreditation/desks/{}/hand-overs", self.central, self.desk))
            .bearer_auth(&self.token)
            .json(&serde_json::json!({ "cards": cards }))
            .send()
            .await
            .context("central system unreachable")?;
        let reply: SyncReply = answered(resp, "the hand-overs").await?;
        let synced = upto + batch.len();
        write_synced(&self.data_dir.join(SYNCED_FILE), synced)?;
        {
            let mut st = self.state.lock().expect("desk lock");
            // Only forward: a concurrent sync of the same records cannot move it back.
            st.synced = st.synced.max(synced);
        }
        let mut link = self.link.lock().expect("link lock");
        link.central_online = true;
        link.offline_mode = reply.offline_mode;
        link.last_sync_ms = Some(now_ms());
        link.last_error = None;
        Ok(batch.len())
    }

    /// Downloads a fresh list, checks it and keeps it; the one in use stays if it is refused.
    pub async fn refresh_list(&self) -> anyhow::Result<()> {
        let (bytes, handed_key) = fetch_list(&self.http, &self.central, &self.token, &self.desk).await?;
        let key = choose_key(self.fixed_key.as_ref(), handed_key)?;
        let list = open_list(&bytes, &key, &self.issuer, &self.desk).context("the downloaded list is refused")?;
        keep_list(&self.data_dir, &self.key_file, self.fixed_key.is_none(), &bytes, &key)?;
        self.state.lock().expect("desk lock").list = list;
        self.link.lock().expect("link lock").list_downloaded_ms = Some(now_ms());
        Ok(())
    }

    /// Switches the desk to its offline list or back: the switch is the central system's
    /// (one audited action), so it needs the central system to answer.
    pub async fn set_mode(&self, offline: bool) -> anyhow::Result<bool> {
        let resp = self
            .http
            .post(format!("{}/api/v1/accreditation/desks/{}/mode", self.central, self.desk))
            .bearer_auth(&self.token)
            .json(&serde_json::json!({ "offline": offline }))
            .send()
            .await
            .context("central system unreachable: the switch is made there; this desk works from its list meanwhile")?;
        let reply: ModeReply = answered(resp, "the switch").await?;
        self.link.lock().expect("link lock").offline_mode = reply.offline_mode;
        Ok(reply.offline_mode)
    }

    /// Keeps syncing: right after each hand-over (in batches every 10 s when switched to the
    /// offline list), every `interval` otherwise, and a fresh list every `refresh`.
    pub async fn sync_loop(
        self: Arc<Self>,
        interval: Duration,
        refresh: Duration,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        let mut last_list = std::time::Instant::now();
        loop {
            let wait = match self.sync_once().await {
                Ok(_) if self.link.lock().expect("link lock").offline_mode => interval.max(Duration::from_secs(10)),
                Ok(_) => interval,
                // Not every tick while the central system is away: every 2 s, as a gate does.
                Err(_) => Duration::from_secs(2),
            };
            let online = self.link.lock().expect("link lock").central_online;
            if online && last_list.elapsed() >= refresh {
                last_list = std::time::Instant::now();
                if let Err(e) = self.refresh_list().await {
                    tracing::warn!(error = %format!("{e:#}"), "list not refreshed");
                }
            }
            let offline_mode = self.link.lock().expect("link lock").offline_mode;
            tokio::select! {
                _ = self.wake.notified(), if !offline_mode => {}
                _ = tokio::time::sleep(wait) => {}
                _ = stop.changed() => return,
            }
        }
    }
}

/// Why a hand-over was not recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandOverRefused {
    /// The list or this desk's log says no (not listed, another card, already handed over).
    Refused(String),
    /// The disk did not take the record: the card must not be handed over yet.
    NotRecorded(String),
}

impl std::fmt::Display for HandOverRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HandOverRefused::Refused(m) => write!(f, "refused: {m}"),
            HandOverRefused::NotRecorded(m) => write!(f, "not recorded on this desk's disk: {m}"),
        }
    }
}

impl std::error::Error for HandOverRefused {}

#[derive(Deserialize)]
struct SyncReply {
    #[serde(default)]
    offline_mode: bool,
}

#[derive(Deserialize)]
struct ModeReply {
    offline_mode: bool,
}

/// The list's sealed bytes and the key the central system handed out with them.
async fn fetch_list(
    http: &reqwest::Client,
    central: &str,
    token: &str,
    desk: &DeskCode,
) -> anyhow::Result<(Vec<u8>, Option<DeskKey>)> {
    let resp = http
        .get(format!("{central}/api/v1/accreditation/desks/{desk}/list"))
        .bearer_auth(token)
        .send()
        .await
        .context("central system unreachable")?;
    let resp = tessera_gate_agent::accepted(resp, "the list").await?;
    let key = match resp.headers().get("tessera-desk-key") {
        Some(v) => Some(DeskKey::from_bytes(parse_key(
            v.to_str().context("the Tessera-Desk-Key header is not text")?,
            "the Tessera-Desk-Key header",
        )?)),
        None => None,
    };
    Ok((resp.bytes().await.context("reading the list")?.to_vec(), key))
}

/// The key to open a downloaded list with: the one given on the command line (the handed-out
/// one must be the same), else the one handed out with the list.
fn choose_key(fixed: Option<&DeskKey>, handed: Option<DeskKey>) -> anyhow::Result<DeskKey> {
    match (fixed, handed) {
        (Some(f), Some(h)) if *f != h => {
            bail!("the central system seals this desk's list under another key than --desk-key")
        }
        (Some(f), _) => Ok(f.clone()),
        (None, Some(h)) => Ok(h),
        (None, None) => bail!("the central system sent no desk key with the list; give --desk-key"),
    }
}

/// Decrypts and verifies a list made for `desk`.
fn open_list(
    bytes: &[u8],
    key: &DeskKey,
    issuer: &ed25519_dalek::VerifyingKey,
    desk: &DeskCode,
) -> anyhow::Result<DeskList> {
    let list = tessera_accreditation::desk::open(bytes, key, issuer)?;
    if list.desk() != desk {
        bail!("the list was made for desk `{}`, not `{desk}`", list.desk());
    }
    Ok(list)
}

/// Keeps the sealed bytes (and the key, when it was handed out): written beside, synced,
/// then renamed over the old ones, so a crash leaves the old list or the new one whole.
fn keep_list(dir: &Path, key_file: &Path, keep_key: bool, bytes: &[u8], key: &DeskKey) -> anyhow::Result<()> {
    if keep_key {
        write_replace(key_file, hex::encode(key.to_bytes()).as_bytes(), true)?;
    }
    write_replace(&dir.join(LIST_FILE), bytes, false)
}

fn read_key_file(path: &Path) -> anyhow::Result<DeskKey> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(DeskKey::from_bytes(parse_key(&text, &format!("the key in {}", path.display()))?))
}

fn write_replace(path: &Path, bytes: &[u8], private: bool) -> anyhow::Result<()> {
    let tmp = path.with_extension("new");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut f = opts.open(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
    f.write_all(bytes).with_context(|| format!("writing {}", tmp.display()))?;
    f.sync_all().with_context(|| format!("syncing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
    sync_dir(path)
}

/// Makes a rename or a new file durable: the directory's entry is synced too.
fn sync_dir(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .with_context(|| format!("syncing the directory {}", dir.display()))?;
    }
    Ok(())
}

/// Reads the hand-over log and opens it for appending. A last line cut short (the machine
/// stopped while writing it, before the page said done) is dropped; any other bad line is an
/// error, since the log is this desk's only record of what it handed over.
fn open_log(path: &Path) -> anyhow::Result<(Vec<HandOver>, std::fs::File)> {
    let mut records = Vec::new();
    let mut keep_len = 0u64;
    if path.exists() {
        let f = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
        let mut reader = std::io::BufReader::new(f);
        let mut line = String::new();
        let mut n = 0;
        loop {
            line.clear();
            let read = reader.read_line(&mut line).with_context(|| format!("reading {}", path.display()))?;
            if read == 0 {
                break;
            }
            n += 1;
            if !line.ends_with('\n') {
                tracing::warn!(line = n, "the hand-over log ends with a cut line (never confirmed); dropping it");
                break;
            }
            let h: HandOver = serde_json::from_str(line.trim_end())
                .with_context(|| format!("{} line {n} is not a hand-over", path.display()))?;
            records.push(h);
            keep_len += read as u64;
        }
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    if file.metadata()?.len() != keep_len {
        file.set_len(keep_len).with_context(|| format!("dropping the cut line of {}", path.display()))?;
        file.sync_all()?;
    }
    sync_dir(path)?;
    Ok((records, file))
}

/// One record, one line, synced to disk before it returns.
fn append(file: &mut std::fs::File, h: &HandOver) -> anyhow::Result<()> {
    let mut line = serde_json::to_vec(h)?;
    line.push(b'\n');
    file.write_all(&line).context("writing the hand-over log")?;
    file.sync_data().context("syncing the hand-over log")
}

fn read_synced(path: &Path) -> anyhow::Result<usize> {
    match std::fs::read_to_string(path) {
        Ok(t) => t.trim().parse().with_context(|| format!("{} is not a count", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn write_synced(path: &Path, n: usize) -> anyhow::Result<()> {
    write_replace(path, n.to_string().as_bytes(), false)
}

/// Runs the agent until `shutdown` resolves, then sends what is on disk one last time.
pub async fn run(
    args: DeskArgs,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let agent = Agent::start(&args).await?;
    let listener =
        tokio::net::TcpListener::bind(args.listen).await.with_context(|| format!("listening on {}", args.listen))?;
    let addr = listener.local_addr()?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(agent.clone().sync_loop(
        Duration::from_millis(args.sync_interval_ms),
        Duration::from_secs(args.list_refresh_secs),
        stop_rx,
    ));
    println!("  Desk {} is running: page http://{addr}/", agent.desk);
    axum::serve(listener, routes(agent.clone())).with_graceful_shutdown(shutdown).await?;
    let _ = stop_tx.send(true);
    let _ = agent.sync_once().await;
    task.abort();
    Ok(())
}

pub fn routes(agent: Arc<Agent>) -> Router {
    let routes = Router::new()
        .route("/", get(page))
        .route("/status", get(status))
        .route("/search", get(search))
        .route("/hand-over", post(hand_over))
        .route("/mode", post(mode));
    tessera_gate_agent::device_layers(routes, MAX_BODY_BYTES).with_state(agent)
}

#[derive(Deserialize)]
struct SearchQuery {
    q: String,
}

async fn search(State(agent): State<Arc<Agent>>, Query(q): Query<SearchQuery>) -> Response {
    if q.q.len() > 200 {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "a search is at most 200 characters");
    }
    Json(agent.search(&q.q)).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HandOverBody {
    person: u64,
    serial: u16,
}

async fn hand_over(State(agent): State<Arc<Agent>>, Json(b): Json<HandOverBody>) -> Response {
    match agent.hand_over(b.person, b.serial).await {
        Ok(h) => Json(serde_json::json!({ "person": h.person.0, "serial": h.serial, "at": h.at })).into_response(),
        Err(HandOverRefused::Refused(m)) => error(StatusCode::CONFLICT, &m),
        Err(e @ HandOverRefused::NotRecorded(_)) => {
            tracing::error!(error = %e, "hand-over not recorded");
            error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string())
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ModeBody {
    offline: bool,
}

async fn mode(State(agent): State<Arc<Agent>>, Json(b): Json<ModeBody>) -> Response {
    match agent.set_mode(b.offline).await {
        Ok(offline_mode) => Json(serde_json::json!({ "offline_mode": offline_mode })).into_response(),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, &format!("{e:#}")),
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}

async fn status(State(agent): State<Arc<Agent>>) -> Response {
    Json(agent.status()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(person: u64, at: i64) -> HandOver {
        HandOver {
            person: PersonId(person),
            serial: 0,
            at,
            desk: DeskCode::parse("PDV1").unwrap(),
            staff: AccountId(0),
        }
    }

    #[test]
    fn the_log_keeps_what_was_synced_and_drops_a_cut_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LOG_FILE);
        let (records, mut file) = open_log(&path).unwrap();
        assert!(records.is_empty());
        append(&mut file, &record(1, 10)).unwrap();
        append(&mut file, &record(2, 11)).unwrap();
        drop(file);
        // A machine stopped halfway through a third record: the page never said done.
        std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(b"{\"person\":3,\"ser").unwrap();
        let (records, mut file) = open_log(&path).unwrap();
        assert_eq!(records, vec![record(1, 10), record(2, 11)]);
        append(&mut file, &record(4, 12)).unwrap();
        let (records, _) = open_log(&path).unwrap();
        assert_eq!(records.iter().map(|h| h.person.0).collect::<Vec<_>>(), vec![1, 2, 4]);
    }

    #[test]
    fn a_bad_line_inside_the_log_is_an_error_not_a_loss() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LOG_FILE);
        std::fs::write(&path, "not json\n").unwrap();
        let e = open_log(&path).unwrap_err();
        assert!(format!("{e:#}").contains("line 1 is not a hand-over"), "{e:#}");
    }

    #[test]
    fn a_key_given_on_the_command_line_must_match_the_handed_out_one() {
        let (a, b) = (DeskKey::from_bytes([1; 32]), DeskKey::from_bytes([2; 32]));
        assert!(choose_key(Some(&a), Some(b.clone())).is_err());
        assert_eq!(choose_key(Some(&a), None).unwrap(), a);
        assert_eq!(choose_key(None, Some(b.clone())).unwrap(), b);
        assert!(choose_key(None, None).is_err());
    }
}
