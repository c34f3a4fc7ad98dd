//! The feed over WebSocket (`GET /api/v1/results/socket`), written to the sockets by a fan-out
//! instead of a task per subscriber.
//!
//! **Why.** A live change goes to every subscriber at once: with 10,000 of them, waking
//! 10,000 tasks, each taking the change from the broadcast ring and framing it, cost a quarter
//! of the server's CPU a delivery, on top of the one system call that cannot be avoided. Here
//! a [`Hub`] keeps the subscribers in one list; a change is framed once and written to each
//! socket with a non-blocking write by one worker per core, each taking the next batch of the
//! list: a delivery is a filter check and a `send`.
//!
//! **Nothing lost, nothing twice, nothing waits on a slow reader.** A subscriber is registered
//! under the feed's lock ([`App::results_subscribe_with`]) with the position its catch-up
//! covers, so the fan-out sends it exactly the live changes after it. What a socket does not
//! take at once waits in the subscriber's own queue ([`Outbox`]), and while anything waits
//! everything after it queues behind, in order; its task writes the queue out as the socket
//! drains. Past [`LIVE_BUFFER`] changes or [`MAX_WAITING_BYTES`] waiting the subscriber is cut
//! off with a reason, exactly as a reader of the broadcast ring overtaken by it. Those bounds
//! are per subscriber; the node's own ([`NODE_WAITING`], [`NODE_WAITING_BYTES`], over all the
//! queues) tightens them to a sixteenth while it is passed, so that thousands of connections
//! that never read cannot take the node's memory between them.
//!
//! The framing, the parsing of a frame's header and the handshake's key are `tungstenite`'s;
//! what is written here is the handshake's checks and where the frames go. The client's frames
//! are read for what a server must answer: a close (answered, then the connection ends) and a
//! ping (answered with a pong); a frame that breaks the protocol, or is larger than a
//! subscriber needs, closes the connection with the reason; the rest is ignored.

use super::{Follow, Out};
use crate::error::ApiError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;
use tessera_app::results::{Connected, LiveChange, LIVE_BUFFER};
use tessera_app::App;
use tessera_results::{Entitlement, Filter};
use tokio::net::TcpStream;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::Notify;
use tungstenite::protocol::frame::coding::{CloseCode, Control, Data, OpCode};
use tungstenite::protocol::frame::{CloseFrame, Frame, FrameHeader};

/// Bytes of live changes a subscriber may have waiting beyond what its socket holds.
pub const MAX_WAITING_BYTES: usize = 1 << 20;
/// Live changes waiting in all of a node's subscribers' queues, and their bytes (counted per
/// queue, though the queues share each change's frame), past which each queue's bounds are a
/// sixteenth of [`LIVE_BUFFER`] and [`MAX_WAITING_BYTES`]. A queue entry is about 40 bytes:
/// the 50,000 connections the edge lets in, none of them reading, then hold about 500 MB of
/// entries instead of 8 GB.
pub const NODE_WAITING: usize = 1 << 20;
pub const NODE_WAITING_BYTES: usize = 1 << 30;
const TIGHTENED: usize = 16;
/// A client's frame may carry this much: a subscriber only closes and pings.
const MAX_CLIENT_PAYLOAD: u64 = 1024;
/// A ping is answered while fewer frames than this wait to be written.
const PONGS_WHILE_WAITING: usize = 64;
/// How long a connection being closed (cut off, or answering a close) may take to write its
/// last frames before it is dropped.
const CLOSING_GRACE: Duration = Duration::from_secs(10);
/// Subscribers a fan-out worker takes at a time, between two yields: requests on the same
/// worker are not held for a whole change's fan-out.
const WRITES_PER_YIELD: usize = 256;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One text frame (server frames are unmasked, so one encoding serves every subscriber).
pub(super) fn text_frame(text: Bytes) -> Bytes {
    frame_bytes(Frame::message(text, OpCode::Data(Data::Text), true))
}

fn frame_bytes(frame: Frame) -> Bytes {
    let mut out = Vec::with_capacity(frame.len());
    // Writing to a Vec does not fail.
    let _ = frame.format(&mut out);
    out.into()
}

fn close_frame(code: CloseCode, reason: &'static str) -> Bytes {
    frame_bytes(Frame::close(Some(CloseFrame { code, reason: reason.into() })))
}

/// A WebSocket handshake (RFC 6455 §4.2.1), checked, with the connection it upgrades; or why
/// the request is not one.
pub(crate) struct Handshake(Result<(hyper::upgrade::OnUpgrade, HeaderValue), &'static str>);

impl<S: Send + Sync> FromRequestParts<S> for Handshake {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(Handshake(check(parts)))
    }
}

fn check(parts: &mut Parts) -> Result<(hyper::upgrade::OnUpgrade, HeaderValue), &'static str> {
    let has_token = |name: header::HeaderName, token: &str| {
        parts
            .headers
            .get_all(name)
            .iter()
            .any(|v| v.to_str().is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token))))
    };
    if parts.method != Method::GET {
        return Err("a WebSocket opens with GET");
    }
    if !has_token(header::CONNECTION, "upgrade") {
        return Err("the request's Connection header does not say upgrade");
    }
    if !has_token(header::UPGRADE, "websocket") {
        return Err("the request's Upgrade header does not say websocket");
    }
    if parts.headers.get(header::SEC_WEBSOCKET_VERSION).map(HeaderValue::as_bytes) != Some(b"13") {
        return Err("Sec-WebSocket-Version must be 13");
    }
    let key = parts.headers.get(header::SEC_WEBSOCKET_KEY).ok_or("Sec-WebSocket-Key is missing")?;
    let accept = HeaderValue::from_str(&tungstenite::handshake::derive_accept_key(key.as_bytes()))
        .map_err(|_| "Sec-WebSocket-Key is not usable")?;
    let upgrade = parts.extensions.remove::<hyper::upgrade::OnUpgrade>().ok_or("this connection cannot be upgraded")?;
    Ok((upgrade, accept))
}

impl Handshake {
    /// Upgrades to a WebSocket served by `serve` (the connection and what the client sent past
    /// the handshake), or answers 426 with the reason when the request is not a handshake.
    pub(crate) fn upgrade<F, Fut>(self, serve: F) -> Result<Response, ApiError>
    where
        F: FnOnce(TcpStream, Bytes) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send,
    {
        let (on_upgrade, accept) = self.0.map_err(|r| {
            ApiError::new(tessera_domain::ErrorCode::UpgradeRequired, format!("open a WebSocket here ({r})"))
        })?;
        tokio::spawn(async move {
            let upgraded = match on_upgrade.await {
                Ok(u) => u,
                Err(e) => return tracing::debug!(error = %e, "the WebSocket upgrade did not happen"),
            };
            // The accept loop serves every connection as a `TokioIo<TcpStream>`: it comes
            // back whole, with anything the client sent past the handshake.
            match upgraded.downcast::<hyper_util::rt::TokioIo<TcpStream>>() {
                Ok(parts) => serve(parts.io.into_inner(), parts.read_buf).await,
                Err(_) => tracing::error!("an upgraded connection that is not a TCP stream"),
            }
        });
        let mut r = StatusCode::SWITCHING_PROTOCOLS.into_response();
        let h = r.headers_mut();
        h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        h.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
        Ok(r)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    /// Cut off, or answering the client's close: the last frames go, then the connection ends.
    Closing,
    Gone,
}

/// What waits in all of a node's queues (see [`NODE_WAITING`]).
#[derive(Default)]
pub(crate) struct Waiting {
    live: AtomicUsize,
    bytes: AtomicUsize,
}

impl Waiting {
    /// A queue's bounds, tightened while the node's are passed.
    fn bounds(&self) -> (usize, usize) {
        if self.live.load(Ordering::Relaxed) > NODE_WAITING || self.bytes.load(Ordering::Relaxed) > NODE_WAITING_BYTES {
            (LIVE_BUFFER / TIGHTENED, MAX_WAITING_BYTES / TIGHTENED)
        } else {
            (LIVE_BUFFER, MAX_WAITING_BYTES)
        }
    }
}

/// What waits to be written to one subscriber's socket, in order.
struct Outbox {
    /// Each frame (or what remains of it to write), and whether it is a live change's.
    frames: VecDeque<(Bytes, bool)>,
    /// Live changes among `frames`, and their bytes; counted in the node's too.
    live: usize,
    live_bytes: usize,
    node: Arc<Waiting>,
    /// The catch-up is in front: until then the fan-out only queues.
    started: bool,
    state: State,
}

impl Outbox {
    fn counted(&mut self, live: usize, bytes: usize) {
        self.live += live;
        self.live_bytes += bytes;
        self.node.live.fetch_add(live, Ordering::Relaxed);
        self.node.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    fn uncounted(&mut self, live: usize, bytes: usize) {
        self.live -= live;
        self.live_bytes -= bytes;
        self.node.live.fetch_sub(live, Ordering::Relaxed);
        self.node.bytes.fetch_sub(bytes, Ordering::Relaxed);
    }
}

impl Drop for Outbox {
    /// A connection let go with changes still waiting gives them back to the node's count.
    fn drop(&mut self) {
        self.uncounted(self.live, self.live_bytes);
    }
}

/// How the fan-out's offer of a change ended.
enum Offered {
    /// Written to its socket, or queued behind what waits.
    Handed,
    /// Past its bounds: cut off, the reason on its way.
    Cut,
    Gone,
}

/// One subscriber's connection, shared by the fan-out and its own task.
pub(crate) struct Conn {
    stream: OnceLock<TcpStream>,
    entitlement: Entitlement,
    filter: Filter,
    /// The feed's position its catch-up covers: live changes up to it are not sent again.
    after: u64,
    out: Mutex<Outbox>,
    wake: Notify,
}

impl Conn {
    fn new(entitlement: Entitlement, filter: Filter, after: u64, node: Arc<Waiting>) -> Arc<Conn> {
        Arc::new(Conn {
            stream: OnceLock::new(),
            entitlement,
            filter,
            after,
            out: Mutex::new(Outbox {
                frames: VecDeque::new(),
                live: 0,
                live_bytes: 0,
                node,
                started: false,
                state: State::Open,
            }),
            wake: Notify::new(),
        })
    }

    fn is_open(&self) -> bool {
        lock(&self.out).state == State::Open
    }

    /// Writes `frame` to the socket if nothing waits before it, else queues it; cuts the
    /// subscriber off past its bounds.
    fn offer(&self, frame: &Bytes) -> Offered {
        let mut out = lock(&self.out);
        if out.state != State::Open {
            return Offered::Gone;
        }
        let mut rest = frame.clone();
        if let (true, Some(stream)) = (out.started && out.frames.is_empty(), self.stream.get()) {
            match stream.try_write(frame) {
                Ok(n) if n == frame.len() => return Offered::Handed,
                Ok(n) => rest = frame.slice(n..),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => {
                    out.state = State::Gone;
                    drop(out);
                    self.wake.notify_one();
                    return Offered::Gone;
                }
            }
        }
        out.counted(1, rest.len());
        out.frames.push_back((rest, true));
        let (max_live, max_bytes) = out.node.bounds();
        let offered = if out.live > max_live || out.live_bytes > max_bytes {
            let behind = out.live;
            cut(&mut out, &format!("too slow: {behind} changes behind; reconnect with your last position"));
            Offered::Cut
        } else {
            Offered::Handed
        };
        drop(out);
        self.wake.notify_one();
        offered
    }
}

/// Drops what waits and queues `last` (which ends with a close frame); the connection ends
/// once they are written.
fn end_with(out: &mut Outbox, last: impl IntoIterator<Item = Bytes>) {
    // The front frame may be partly written: it stays, to keep the framing whole.
    // No longer counted as live: the counts start again from nothing.
    let begun = out.started.then(|| out.frames.pop_front()).flatten().map(|(f, _)| (f, false));
    out.frames.clear();
    out.frames.extend(begun);
    out.frames.extend(last.into_iter().map(|f| (f, false)));
    out.uncounted(out.live, out.live_bytes);
    out.state = State::Closing;
}

/// Cuts a subscriber off: what waits is dropped, the reason and a close go.
fn cut(out: &mut Outbox, reason: &str) {
    let why = text_frame(Out::Cut(reason.to_string()).ws_text());
    end_with(out, [why, close_frame(CloseCode::Again, "too slow")]);
}

/// Ends the connection after a close frame, dropping the live changes still waiting.
fn close(conn: &Conn, code: CloseCode, reason: &'static str) {
    let mut out = lock(&conn.out);
    if out.state == State::Open {
        end_with(&mut out, [close_frame(code, reason)]);
    }
}

/// The WebSocket subscribers of one node (see the module).
pub(crate) struct Hub {
    /// Newcomers, taken into the fan-out's list before its next change.
    incoming: Mutex<Vec<Arc<Conn>>>,
    /// What waits in all its subscribers' queues.
    waiting: Arc<Waiting>,
}

impl Hub {
    /// The hub of `app`, its fan-out started.
    pub(crate) fn start(app: &App) -> Arc<Hub> {
        let hub = Arc::new(Hub { incoming: Mutex::default(), waiting: Arc::default() });
        tokio::spawn(fan_out(hub.clone(), app.clone(), app.results_live()));
        hub
    }

    /// Live changes waiting in all its subscribers' queues, and their bytes (see
    /// [`NODE_WAITING`]).
    pub(crate) fn waiting(&self) -> (usize, usize) {
        (self.waiting.live.load(Ordering::Relaxed), self.waiting.bytes.load(Ordering::Relaxed))
    }

    /// A subscriber's connection, its queue counted in the node's.
    pub(crate) fn conn(&self, entitlement: Entitlement, filter: Filter, after: u64) -> Arc<Conn> {
        Conn::new(entitlement, filter, after, self.waiting.clone())
    }

    /// Adds a subscriber. Called under the feed's lock (see the module): the fan-out takes it
    /// in before the next change it sends.
    pub(crate) fn add(&self, conn: Arc<Conn>) {
        lock(&self.incoming).push(conn);
    }
}

/// Each live change framed once and offered to every subscriber, one change after the other;
/// every second, the connections that ended are let go.
async fn fan_out(hub: Arc<Hub>, app: App, mut live: tokio::sync::broadcast::Receiver<Arc<LiveChange>>) {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
    let mut conns: Arc<Vec<Arc<Conn>>> = Arc::default();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        let received = tokio::select! {
            r = live.recv() => Some(r),
            _ = tick.tick() => None,
        };
        // No worker holds the list between two changes: this does not copy it.
        let list = Arc::make_mut(&mut conns);
        list.append(&mut lock(&hub.incoming));
        match received {
            None => list.retain(|c| c.is_open()),
            Some(Ok(change)) => deliver(&app, &conns, change, workers).await,
            Some(Err(RecvError::Lagged(n))) => {
                // The fan-out fell behind the ring: its subscribers cannot be told what they
                // missed, so each comes back with its position.
                for c in list.iter() {
                    let mut out = lock(&c.out);
                    if out.state == State::Open {
                        cut(&mut out, &format!("the node fell {n} changes behind; reconnect with your last position"));
                        app.results_cut_off();
                    }
                    drop(out);
                    c.wake.notify_one();
                }
            }
            Some(Err(RecvError::Closed)) => return,
        }
    }
}

/// One change to every subscriber, by `workers` tasks taking the next [`WRITES_PER_YIELD`]
/// subscribers each in turn: the cores share the work whatever else holds one of them.
async fn deliver(app: &App, conns: &Arc<Vec<Arc<Conn>>>, change: Arc<LiveChange>, workers: usize) {
    let job = Arc::new(Job { frame: text_frame(change.ws.clone()), change, next: AtomicUsize::new(0) });
    let helpers: Vec<_> = (1..workers)
        .map(|_| {
            let (app, conns, job) = (app.clone(), conns.clone(), job.clone());
            tokio::spawn(async move { job.run(&app, &conns).await })
        })
        .collect();
    job.run(app, conns).await;
    for h in helpers {
        let _ = h.await;
    }
}

struct Job {
    change: Arc<LiveChange>,
    frame: Bytes,
    /// The first subscriber no worker has taken yet.
    next: AtomicUsize,
}

impl Job {
    async fn run(&self, app: &App, conns: &[Arc<Conn>]) {
        let change = &self.change;
        loop {
            let start = self.next.fetch_add(WRITES_PER_YIELD, Ordering::Relaxed);
            let Some(batch) = conns.get(start..conns.len().min(start + WRITES_PER_YIELD)) else { return };
            if batch.is_empty() {
                return;
            }
            let mut handed = 0;
            for c in batch {
                if change.change.seq <= c.after || !change.for_subscriber(c.entitlement, &c.filter) {
                    continue;
                }
                match c.offer(&self.frame) {
                    Offered::Handed => handed += 1,
                    Offered::Cut => app.results_cut_off(),
                    Offered::Gone => {}
                }
            }
            app.results_delivered_many(change.change.at_ms, handed);
            tokio::task::yield_now().await;
        }
    }
}

/// A subscriber registered with the hub: if it is dropped before its connection is served
/// (the upgrade failed, the request was refused), the fan-out lets the subscriber go.
pub(crate) struct Registration(pub(crate) Arc<Conn>);

impl Drop for Registration {
    fn drop(&mut self) {
        lock(&self.0.out).state = State::Gone;
    }
}

/// Where a subscriber's changes come from.
pub(super) enum Source {
    /// The hub's fan-out, after this catch-up; `connected` counts the subscriber meanwhile.
    Hub { catchup: Vec<Bytes>, connected: Connected },
    /// Its own follower, for what the fan-out does not do (coalescing a document's bursts).
    Own(Box<Follow>),
}

/// Serves one subscriber's connection: its catch-up first, then whatever waits in its queue,
/// and the client's close and pings; ends when either side closes or it is cut off.
pub(super) async fn serve(registration: Registration, stream: TcpStream, read: Bytes, source: Source) {
    let conn = &registration.0;
    let stream = conn.stream.get_or_init(|| stream);
    let (mut own, _connected) = match source {
        Source::Hub { catchup, connected } => {
            let mut out = lock(&conn.out);
            for f in catchup.into_iter().rev() {
                out.frames.push_front((f, false));
            }
            (None, Some(connected))
        }
        Source::Own(follow) => (Some(follow), None),
    };
    lock(&conn.out).started = true;
    // Copied out: `read` may hold on to the whole of the connection's HTTP read buffer.
    let mut inbox = read.to_vec();
    drop(read);
    // A subscriber's frames are a close or a ping: small reads do.
    let mut buf = [0u8; 128];
    answer(conn, &mut inbox);
    while flush(conn, stream).await {
        // Its own follower is asked for more only once the socket took everything: the
        // follower's ring is then the bound, as it is for the fan-out's subscribers.
        let idle = own.is_some() && lock(&conn.out).frames.is_empty();
        tokio::select! {
            () = conn.wake.notified() => {}
            o = async { own.as_mut()?.pop().await }, if idle => match o {
                Some(o) => {
                    let frame = text_frame(o.ws_text());
                    let mut out = lock(&conn.out);
                    if out.state == State::Open {
                        out.frames.push_back((frame, false));
                    }
                }
                None => close(conn, CloseCode::Normal, ""),
            },
            r = read_some(stream, &mut buf) => match r {
                Ok(n) if n > 0 => {
                    inbox.extend_from_slice(&buf[..n]);
                    answer(conn, &mut inbox);
                }
                _ => break,
            },
        }
    }
    // The fan-out lets go of its reference within a second (the registration's drop marks it
    // gone); the client learns now.
    let _ = socket2::SockRef::from(stream).shutdown(std::net::Shutdown::Both);
}

async fn read_some(stream: &TcpStream, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        stream.readable().await?;
        match stream.try_read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            r => return r,
        }
    }
}

/// Writes what waits; `false` once the connection is to end (closed, failed, or its last
/// frames written after a cut or a close).
async fn flush(conn: &Conn, stream: &TcpStream) -> bool {
    let mut deadline = None;
    loop {
        // `Some(closing)`: the socket is full, wait (the lock is not held across the wait).
        let full = {
            let mut out = lock(&conn.out);
            if out.state == State::Gone {
                return false;
            }
            let Some((front, live)) = out.frames.front().cloned() else {
                return out.state == State::Open;
            };
            match stream.try_write(&front) {
                Ok(n) => {
                    let whole = n == front.len();
                    if whole {
                        out.frames.pop_front();
                    } else if let Some(f) = out.frames.front_mut() {
                        f.0 = front.slice(n..);
                    }
                    if live {
                        out.uncounted(usize::from(whole), n);
                    }
                    None
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Some(out.state == State::Closing),
                Err(_) => return false,
            }
        };
        match full {
            None => {}
            Some(true) => {
                let until = *deadline.get_or_insert_with(|| tokio::time::Instant::now() + CLOSING_GRACE);
                if tokio::time::timeout_at(until, stream.writable()).await.is_err() {
                    return false;
                }
            }
            // A cut while waiting changes what to write, and starts the grace.
            Some(false) => tokio::select! {
                _ = stream.writable() => {}
                () = conn.wake.notified() => {}
            },
        }
    }
}

/// Answers the client's complete frames in `inbox` (a close, a ping) and removes them.
fn answer(conn: &Conn, inbox: &mut Vec<u8>) {
    loop {
        let mut cursor = std::io::Cursor::new(&inbox[..]);
        let (h, len) = match FrameHeader::parse(&mut cursor) {
            Ok(Some(x)) => x,
            Ok(None) => return,
            Err(_) => return close(conn, CloseCode::Protocol, "not a WebSocket frame"),
        };
        if len > MAX_CLIENT_PAYLOAD {
            return close(conn, CloseCode::Size, "a subscriber's frame carries at most 1024 bytes");
        }
        // RFC 6455 §5.5: a control frame carries at most 125 bytes, in one frame (a pong
        // echoing more would itself break the protocol).
        if matches!(h.opcode, OpCode::Control(_)) && (len > 125 || !h.is_final) {
            return close(conn, CloseCode::Protocol, "a control frame is whole and at most 125 bytes");
        }
        let start = cursor.position() as usize;
        let end = start + len as usize;
        if inbox.len() < end {
            return;
        }
        let Some(mask) = h.mask else {
            return close(conn, CloseCode::Protocol, "a client's frames are masked");
        };
        let payload: Vec<u8> = inbox[start..end].iter().enumerate().map(|(i, b)| b ^ mask[i % 4]).collect();
        inbox.drain(..end);
        match h.opcode {
            OpCode::Control(Control::Close) => return close(conn, CloseCode::Normal, ""),
            OpCode::Control(Control::Ping) => {
                let mut out = lock(&conn.out);
                // A client that pings and does not read would grow the queue without end: a
                // ping is answered while little waits (RFC 6455 lets an endpoint answer only
                // some of several pings), and the live changes' bound cuts the rest off.
                if out.state == State::Open && out.frames.len() < PONGS_WHILE_WAITING {
                    out.frames.push_back((frame_bytes(Frame::pong(payload)), false));
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client's frame: masked, as a client's must be.
    fn client_frame(first: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [0x11, 0x22, 0x33, 0x44];
        let mut f = vec![first];
        match payload.len() {
            n @ 0..=125 => f.push(0x80 | n as u8),
            n => {
                f.push(0x80 | 126);
                f.extend((n as u16).to_be_bytes());
            }
        }
        f.extend(mask);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        f
    }

    fn conn() -> Arc<Conn> {
        Conn::new(Entitlement::Public, Filter::default(), 0, Arc::default())
    }

    fn waiting(c: &Conn) -> (Vec<Vec<u8>>, State) {
        let out = lock(&c.out);
        (out.frames.iter().map(|(f, _)| f.to_vec()).collect(), out.state)
    }

    #[test]
    fn a_ping_gets_its_pong_and_a_partial_frame_waits_for_the_rest() {
        let c = conn();
        let ping = client_frame(0x89, b"hello");
        let mut inbox = ping[..4].to_vec();
        answer(&c, &mut inbox);
        assert_eq!(waiting(&c), (vec![], State::Open), "half a frame: nothing yet");
        inbox.extend_from_slice(&ping[4..]);
        answer(&c, &mut inbox);
        assert!(inbox.is_empty());
        assert_eq!(waiting(&c), (vec![[&[0x8a, 5][..], b"hello"].concat()], State::Open));
    }

    #[test]
    fn a_close_is_answered_and_ends_the_connection() {
        let c = conn();
        let mut inbox = client_frame(0x88, &1000u16.to_be_bytes());
        answer(&c, &mut inbox);
        let (frames, state) = waiting(&c);
        assert_eq!(state, State::Closing);
        assert_eq!(frames.len(), 1);
        assert_eq!(&frames[0][..4], &[0x88, 2, 0x03, 0xe8], "a normal close: {:?}", frames[0]);
    }

    #[test]
    fn frames_that_break_the_protocol_close_the_connection_with_the_reason() {
        let code = |frames: &[Vec<u8>]| u16::from_be_bytes([frames[0][2], frames[0][3]]);
        for (inbox, want) in [
            // Unmasked.
            (vec![0x89, 0x00], 1002),
            // A ping of 200 bytes: over a control frame's 125.
            (client_frame(0x89, &[7; 200]), 1002),
            // A fragmented ping.
            (client_frame(0x09, b"x"), 1002),
            // Over the 1 KiB a subscriber may send.
            (client_frame(0x81, &[b'a'; 2000]), 1009),
        ] {
            let c = conn();
            answer(&c, &mut inbox.clone());
            let (frames, state) = waiting(&c);
            assert_eq!((state, code(&frames)), (State::Closing, want), "{:?}", &inbox[..2]);
        }
    }

    #[test]
    fn a_slow_subscriber_is_cut_off_past_its_bound_and_the_rest_is_dropped() {
        let c = conn();
        // Not yet started (no socket): every offer queues.
        let frame = text_frame(Bytes::from_static(br#"{"event":"change"}"#));
        for _ in 0..LIVE_BUFFER {
            assert!(matches!(c.offer(&frame), Offered::Handed));
        }
        assert!(matches!(c.offer(&frame), Offered::Cut));
        assert!(matches!(c.offer(&frame), Offered::Gone));
        let (frames, state) = waiting(&c);
        assert_eq!((frames.len(), state), (2, State::Closing), "the reason and a close only");
        assert!(String::from_utf8_lossy(&frames[0]).contains("too slow"));
        assert_eq!(frames[1][0], 0x88);
        let out = lock(&c.out);
        assert_eq!((out.live, out.live_bytes), (0, 0));
        assert_eq!(out.node.live.load(Ordering::Relaxed), 0, "the node's count given back");
    }

    #[test]
    fn past_the_nodes_bound_each_queue_is_cut_at_a_sixteenth() {
        let node = Arc::new(Waiting::default());
        let frame = text_frame(Bytes::from_static(br#"{"event":"change"}"#));
        // Another subscriber that reads nothing, far behind: the node's count passes its bound.
        let idle = Conn::new(Entitlement::Public, Filter::default(), 0, node.clone());
        node.live.fetch_add(NODE_WAITING, Ordering::Relaxed);
        for _ in 0..LIVE_BUFFER / TIGHTENED {
            assert!(matches!(idle.offer(&frame), Offered::Handed));
        }
        assert!(matches!(idle.offer(&frame), Offered::Cut), "cut at a sixteenth of its usual bound");
        assert_eq!(node.live.load(Ordering::Relaxed), NODE_WAITING, "its changes given back when cut");
        // Back under the node's bound, a queue has its whole bound again.
        node.live.fetch_sub(NODE_WAITING, Ordering::Relaxed);
        let c = Conn::new(Entitlement::Public, Filter::default(), 0, node.clone());
        for _ in 0..=LIVE_BUFFER / TIGHTENED {
            assert!(matches!(c.offer(&frame), Offered::Handed));
        }
        assert_eq!(node.live.load(Ordering::Relaxed), LIVE_BUFFER / TIGHTENED + 1);
        // A connection let go with changes waiting gives them back.
        drop(c);
        assert_eq!((node.live.load(Ordering::Relaxed), node.bytes.load(Ordering::Relaxed)), (0, 0));
    }
}
