//! The accept loop: hyper's HTTP/1.1 server with the connection-level defences that a router
//! cannot give, because they act before a request exists.
//!
//! - **Connections per address** and in total: over the limit, the socket is closed at once,
//!   before a byte is read (counted as `too_many_connections`).
//! - **Slow-loris**: a client must send its whole request head within `header_read_timeout`,
//!   or the connection is closed (counted as `slow_request`).
//! - **Header size**: hyper answers 431 beyond `max_header_bytes` (counted as `headers_too_large`).
//!
//! Then every request meets the **edge** ([`crate::edge`]: head size, block list, per-address
//! and per-network rate limits) before routing, and carries `ConnectInfo<SocketAddr>` so that
//! handlers know the peer. Every answer leaves with the same security headers
//! ([`crate::secure_headers`]).

use crate::AppState;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tessera_app::airlock::Refused;
use tower::ServiceExt;

#[derive(Debug, Clone, Copy)]
pub struct ServeLimits {
    pub max_connections: usize,
    pub max_connections_per_address: u32,
    pub header_read_timeout: Duration,
    pub max_header_bytes: usize,
    /// How long requests in flight (and event streams) get to finish at shutdown.
    pub shutdown_grace: Duration,
}

impl Default for ServeLimits {
    fn default() -> Self {
        ServeLimits {
            max_connections: 50_000,
            max_connections_per_address: 64,
            header_read_timeout: Duration::from_secs(5),
            max_header_bytes: 16 * 1024,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// Open connections by address; the entry goes when its last connection closes.
#[derive(Default)]
struct Connections {
    by_address: Mutex<HashMap<IpAddr, u32>>,
    total: AtomicUsize,
}

struct ConnectionGuard {
    table: Arc<Connections>,
    ip: IpAddr,
}

/// A connection's place in the limits, in each of its requests' extensions: a route that
/// upgrades the connection keeps it for as long as the upgraded connection lives, which the
/// accept loop no longer sees (hyper's connection ends at the upgrade).
#[derive(Clone)]
pub(crate) struct ConnectionSlot(#[allow(dead_code)] Arc<ConnectionGuard>);

impl Connections {
    fn admit(self: &Arc<Self>, ip: IpAddr, limits: &ServeLimits) -> Option<ConnectionGuard> {
        if self.total.load(Ordering::Relaxed) >= limits.max_connections {
            return None;
        }
        let mut map = self.by_address.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(ip).or_insert(0);
        if *n >= limits.max_connections_per_address {
            return None;
        }
        *n += 1;
        self.total.fetch_add(1, Ordering::Relaxed);
        Some(ConnectionGuard { table: self.clone(), ip })
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.table.total.fetch_sub(1, Ordering::Relaxed);
        let mut map = self.table.by_address.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

/// Serves until `shutdown` resolves, then gives requests in flight `shutdown_grace` to finish.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    state: AppState,
    limits: ServeLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The Prometheus recorder keeps every histogram sample until it is drained: drain it
    // every few seconds, or a flood that nobody scrapes would grow memory without bound.
    let upkeep = {
        let handle = state.metrics.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                handle.run_upkeep();
            }
        })
    };
    let airlock = state.app.airlock.clone();
    let status_route = crate::route_handles(crate::queue::STATUS_ROUTE, "GET");
    let router = crate::app_service(state.clone());
    let table = Arc::new(Connections::default());
    let counters = crate::counters::connection_counters();
    // Graceful shutdown by hand: hyper-util's watcher does not take connections that may be
    // upgraded. `stopping` asks every connection to finish its request in flight and close;
    // each holds a clone of `open_tx`, so `open_rx` ends when the last one has.
    let (stopping_tx, stopping) = tokio::sync::watch::channel(false);
    let (open_tx, mut open_rx) = tokio::sync::mpsc::channel::<()>(1);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_header_size(limits.max_header_bytes)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors and the like: pause instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let ip = tessera_airlock::net::canonical(remote.ip());
        let Some(guard) = table.admit(ip, &limits) else {
            airlock.count(Refused::TooManyConnections);
            drop(stream);
            continue;
        };
        counters.accepted.fetch_add(1, Ordering::Relaxed);
        let _ = stream.set_nodelay(true);
        let (router, state, status_route) = (router.clone(), state.clone(), status_route.clone());
        let slot = ConnectionSlot(Arc::new(guard));
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            // The edge runs here, before routing: a refused request costs no more than this.
            let refused = crate::edge(&state.app, remote, &mut req);
            let (router, state, status_route) = (router.clone(), state.clone(), status_route.clone());
            let slot = slot.clone();
            async move {
                let mut resp = if let Some(resp) = refused {
                    resp
                } else if let Some(code) = crate::queue::fast_status_phase(&req) {
                    // A waiting fan's status, asked every few seconds by everyone in the queue,
                    // is answered here, without routing; the route gives the same answer.
                    let answer = crate::queue::status_answer(&state, req.headers(), code);
                    crate::answer_unrouted(&status_route, answer).await
                } else {
                    req.extensions_mut().insert(ConnectInfo(remote));
                    req.extensions_mut().insert(slot.clone());
                    let Ok(resp) = router.oneshot(req).await;
                    resp
                };
                crate::secure_headers(&mut resp, state.secure_cookies);
                Ok::<_, std::convert::Infallible>(resp)
            }
        });
        // With upgrades, so that a WebSocket handshake answered by a route becomes a WebSocket on
        // this same connection, past the same edge (and within its limits: `ConnectionSlot`).
        let conn = http.serve_connection(TokioIo::new(stream), service).with_upgrades();
        let airlock = airlock.clone();
        let (mut stopping, open) = (stopping.clone(), open_tx.clone());
        tokio::spawn(async move {
            counters.open.fetch_add(1, Ordering::Relaxed);
            let mut conn = std::pin::pin!(conn);
            let done = tokio::select! {
                r = conn.as_mut() => r,
                // The guard `wait_for` returns is not `Send`: drop it before awaiting on.
                () = async { drop(stopping.wait_for(|s| *s).await) } => {
                    conn.as_mut().graceful_shutdown();
                    conn.as_mut().await
                }
            };
            if let Err(e) = done {
                if e.is_timeout() {
                    counters.slow_requests.fetch_add(1, Ordering::Relaxed);
                } else if e.is_parse_too_large() {
                    airlock.count(Refused::HeadersTooLarge);
                }
            }
            counters.open.fetch_sub(1, Ordering::Relaxed);
            // The connection's place in the limits goes with the service, as this task ends
            // (an upgraded connection's task holds it too, for as long as it lives).
            drop(open);
        });
    }
    drop(listener);
    let _ = stopping_tx.send(true);
    drop(open_tx);
    if tokio::time::timeout(limits.shutdown_grace, open_rx.recv()).await.is_err() {
        tracing::warn!("some connections were still open after the grace period; closing them");
    }
    upkeep.abort();
    Ok(())
}
