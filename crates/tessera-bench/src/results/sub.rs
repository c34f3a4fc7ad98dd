//! A subscriber read by hand (see the module): Tessera's WebSocket or event stream, or the
//! peer's feed (core NATS over its WebSocket listener).

use super::now_us;
use anyhow::{bail, Context};
use std::collections::VecDeque;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// The feed a subscriber follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Feed {
    /// Tessera's results feed over WebSocket.
    Socket,
    /// Tessera's results feed as server-sent events.
    Events,
    /// The peer: a NATS server's WebSocket listener, the subscriber's own NATS protocol
    /// (`CONNECT`, `SUB results`) inside it. The first `PONG` says the subscription is in place.
    Nats,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Event {
    Change,
    Reset,
    Position,
    Cut,
    /// The retry advice, a keep-alive, a pong: nothing the bench counts.
    Other,
}

/// The fields of one message the bench reads, and when it was read.
pub(super) struct Msg {
    pub event: Event,
    pub id: Option<(u64, u64)>,
    pub sent_us: Option<u64>,
    pub read_us: u64,
    /// When the kernel received the last bytes read so far (`SO_TIMESTAMPNS`).
    pub arrived_us: Option<u64>,
}

/// A subscriber's connection.
pub(super) struct Sub {
    stream: tokio::net::TcpStream,
    feed: Feed,
    buf: Vec<u8>,
    /// Unread bytes: `buf[start..end]`.
    start: usize,
    end: usize,
    /// The kernel's receive time-stamp of the last bytes read.
    arrived_us: Option<u64>,
    /// NATS: the protocol carried by the frames, and the messages read from it not yet taken.
    nats: NatsReader,
    parsed: VecDeque<Msg>,
}

/// The NATS protocol as the frames carry it (a message may span two frames).
#[derive(Default)]
struct NatsReader {
    /// Read, not yet a whole line (or a `MSG` without all its payload).
    protocol: Vec<u8>,
    /// The server asked for a `PONG` (its keep-alive).
    owe_pong: bool,
}

impl Sub {
    /// Connects from `from`, retrying with the backoff and jitter the feed advises.
    pub async fn connect(
        addr: std::net::SocketAddr,
        from: std::net::Ipv4Addr,
        feed: Feed,
        since: Option<(u64, u64)>,
    ) -> anyhow::Result<Sub> {
        let path = match feed {
            Feed::Socket | Feed::Events => format!(
                "/api/v1/results/{}?types=DT_RESULT{}",
                if feed == Feed::Events { "stream" } else { "socket" },
                since.map(|(e, s)| format!("&since={e}:{s}")).unwrap_or_default()
            ),
            Feed::Nats => "/".to_string(),
        };
        for attempt in 0..20 {
            match Sub::open(addr, from, feed, &path).await {
                Ok(sub) => return Ok(sub),
                Err(e) if attempt < 19 => tracing::debug!(error = %e, "connect; again"),
                Err(e) => return Err(e),
            }
            tokio::time::sleep(Duration::from_millis(50 + rand::random::<u64>() % 200)).await;
        }
        bail!("no connection after 20 attempts")
    }

    async fn open(addr: std::net::SocketAddr, from: std::net::Ipv4Addr, feed: Feed, path: &str) -> anyhow::Result<Sub> {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind(std::net::SocketAddr::from((from, 0)))?;
        let mut stream = socket.connect(addr).await?;
        stream.set_nodelay(true)?;
        nix::sys::socket::setsockopt(&stream, nix::sys::socket::sockopt::ReceiveTimestampns, &true)?;
        let sse = feed == Feed::Events;
        let request = if sse {
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n")
        } else {
            // A fixed key: the answer is checked by its status, and no proxy stands between
            // for the key to guard against.
            format!(
                "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            )
        };
        stream.write_all(request.as_bytes()).await?;
        let mut sub = Sub {
            stream,
            feed,
            buf: vec![0; 2048],
            start: 0,
            end: 0,
            arrived_us: None,
            nats: NatsReader::default(),
            parsed: VecDeque::new(),
        };
        let head_end = loop {
            if let Some(at) = find(&sub.buf[..sub.end], b"\r\n\r\n") {
                break at + 4;
            }
            if sub.fill().await? == 0 {
                bail!("the server closed the connection during the handshake");
            }
        };
        let head = String::from_utf8_lossy(&sub.buf[..head_end]).to_ascii_lowercase();
        let expected = if sse { "http/1.1 200" } else { "http/1.1 101" };
        if !head.starts_with(expected) {
            bail!("refused: {}", head.lines().next().unwrap_or_default());
        }
        if sse && !head.contains("transfer-encoding: chunked") {
            bail!("the event stream is not chunked: {head}");
        }
        sub.start = head_end;
        if feed == Feed::Nats {
            // The subscription, then a PING: the server answers it once the SUB is in place.
            sub.send_frame(
                b"CONNECT {\"verbose\":false,\"pedantic\":false,\"protocol\":1}\r\nSUB results 1\r\nPING\r\n",
            )
            .await?;
        }
        Ok(sub)
    }

    /// Reads more into the buffer (moving the unread bytes to its front, growing it when a
    /// message is larger than it); 0 when the server closed.
    async fn fill(&mut self) -> anyhow::Result<usize> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            self.buf.resize(self.buf.len() * 2, 0);
        }
        let (stream, buf) = (&self.stream, &mut self.buf[self.end..]);
        let (n, stamp) = loop {
            stream.readable().await?;
            match stream.try_io(tokio::io::Interest::READABLE, || read_stamped(stream, buf)) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                r => break r?,
            }
        };
        self.end += n;
        if stamp.is_some() {
            self.arrived_us = stamp;
        }
        Ok(n)
    }

    /// The next message, read whole.
    pub async fn next(&mut self) -> anyhow::Result<Msg> {
        loop {
            if std::mem::take(&mut self.nats.owe_pong) {
                self.send_frame(b"PONG\r\n").await?;
            }
            if let Some(m) = self.parsed.pop_front() {
                return Ok(m);
            }
            let parsed = match self.feed {
                Feed::Events => self.event()?,
                Feed::Socket | Feed::Nats => self.frame()?,
            };
            if let Some(m) = parsed {
                return Ok(m);
            }
            if self.fill().await? == 0 {
                bail!("the server closed the connection");
            }
        }
    }

    /// A whole WebSocket frame at the front of the buffer, if there is one (unmasked and
    /// unfragmented: what a server sends this feed as).
    fn frame(&mut self) -> anyhow::Result<Option<Msg>> {
        let b = &self.buf[self.start..self.end];
        if b.len() < 2 {
            return Ok(None);
        }
        if b[1] & 0x80 != 0 || b[0] & 0x80 == 0 {
            bail!("a masked or fragmented frame from the server");
        }
        let (len, header) = match b[1] & 0x7f {
            126 if b.len() >= 4 => (u16::from_be_bytes([b[2], b[3]]) as usize, 4),
            127 if b.len() >= 10 => (u64::from_be_bytes(b[2..10].try_into()?) as usize, 10),
            126 | 127 => return Ok(None),
            n => (n as usize, 2),
        };
        if b.len() < header + len {
            return Ok(None);
        }
        let read_us = now_us();
        let payload = &b[header..header + len];
        let m = match b[0] & 0x0f {
            // NATS: binary frames carrying its protocol, a message possibly spread over two.
            // The first message it completes now, the others next.
            0 | 2 if self.feed == Feed::Nats => {
                self.nats.take(payload, read_us, self.arrived_us, &mut self.parsed)?;
                let other = Msg { event: Event::Other, id: None, sent_us: None, read_us, arrived_us: None };
                self.parsed.pop_front().unwrap_or(other)
            }
            // Text: `{"event":"...","id":"EPOCH:SEQ","data":...}`.
            1 => Msg {
                event: event(string_field(payload, b"\"event\":\"")),
                id: string_field(payload, b"\"id\":\"").and_then(position),
                sent_us: sent_us(payload),
                read_us,
                arrived_us: self.arrived_us,
            },
            8 => bail!("the server closed the WebSocket"),
            _ => Msg { event: Event::Other, id: None, sent_us: None, read_us, arrived_us: self.arrived_us },
        };
        self.start += header + len;
        Ok(Some(m))
    }

    /// A whole event of the stream at the front of the buffer, if there is one. The body is
    /// chunked, one chunk an event (`SIZE\r\n` `event: ...\nid: ...\ndata: ...\n\n` `\r\n`).
    fn event(&mut self) -> anyhow::Result<Option<Msg>> {
        let b = &self.buf[self.start..self.end];
        let Some(line) = find(b, b"\r\n") else { return Ok(None) };
        let size = std::str::from_utf8(&b[..line])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next().unwrap_or_default().trim(), 16).ok())
            .context("a chunk without its size")?;
        if size == 0 {
            bail!("the event stream ended");
        }
        let body = line + 2;
        if b.len() < body + size + 2 {
            return Ok(None);
        }
        let read_us = now_us();
        let chunk = &b[body..body + size];
        // One event a chunk, as the server writes them: anything else would be miscounted,
        // so it stops the bench instead.
        if find(chunk, b"\n\n") != Some(size.saturating_sub(2)) {
            bail!("a chunk that is not one whole event: {:?}", String::from_utf8_lossy(chunk));
        }
        let field = |name: &[u8]| -> Option<&[u8]> {
            chunk.split(|c| *c == b'\n').find_map(|l| l.strip_prefix(name)).map(|v| v.strip_prefix(b" ").unwrap_or(v))
        };
        let m = Msg {
            event: field(b"event:").map_or(Event::Other, |e| event(Some(e))),
            id: field(b"id:").and_then(position),
            sent_us: field(b"data:").and_then(sent_us),
            read_us,
            arrived_us: self.arrived_us,
        };
        self.start += body + size + 2;
        Ok(Some(m))
    }

    /// Sends `payload` in one binary frame, masked as a client's must be (with a zero mask:
    /// the payload goes as it is, and no proxy stands between for the mask to guard against).
    async fn send_frame(&mut self, payload: &[u8]) -> anyhow::Result<()> {
        let len = u8::try_from(payload.len()).ok().filter(|n| *n < 126).context("a frame over 125 bytes")?;
        let mut frame = vec![0x82, 0x80 | len, 0, 0, 0, 0];
        frame.extend_from_slice(payload);
        self.stream.write_all(&frame).await?;
        Ok(())
    }

    /// Sends a WebSocket close frame (masked, as a client's must be) and drops the connection;
    /// an event stream is just dropped.
    pub async fn close(mut self) {
        if self.feed != Feed::Events {
            let _ = self.stream.write_all(&[0x88, 0x80, 0, 0, 0, 0]).await;
        }
    }
}

impl NatsReader {
    /// Adds `bytes` and takes the whole lines: a `MSG` with its payload (a change, in the same
    /// shape as Tessera's), a `PONG` (the subscription is in place), a `PING` (owed a `PONG`);
    /// `INFO` and `+OK` are skipped, an `-ERR` stops the bench.
    fn take(
        &mut self,
        bytes: &[u8],
        read_us: u64,
        arrived_us: Option<u64>,
        into: &mut VecDeque<Msg>,
    ) -> anyhow::Result<()> {
        self.protocol.extend_from_slice(bytes);
        while let Some(eol) = find(&self.protocol, b"\r\n") {
            let line = &self.protocol[..eol];
            let mut taken = eol + 2;
            if line.starts_with(b"MSG ") {
                let size: usize = std::str::from_utf8(line)
                    .ok()
                    .and_then(|l| l.rsplit(' ').next()?.parse().ok())
                    .context("a MSG line without its size")?;
                if self.protocol.len() < taken + size + 2 {
                    return Ok(());
                }
                let payload = &self.protocol[taken..taken + size];
                into.push_back(Msg {
                    event: event(string_field(payload, b"\"event\":\"")),
                    id: string_field(payload, b"\"id\":\"").and_then(position),
                    sent_us: sent_us(payload),
                    read_us,
                    arrived_us,
                });
                taken += size + 2;
            } else if line == b"PONG" {
                into.push_back(Msg { event: Event::Position, id: None, sent_us: None, read_us, arrived_us: None });
            } else if line == b"PING" {
                self.owe_pong = true;
            } else if line.starts_with(b"-ERR") {
                bail!("the NATS server said {}", String::from_utf8_lossy(line));
            }
            self.protocol.drain(..taken);
        }
        Ok(())
    }
}

/// Reads what the socket holds into `buf`, with the kernel's receive time-stamp of the last
/// bytes read (µs since the epoch, the clock `now_us` reads) when the socket asked for it.
fn read_stamped(stream: &tokio::net::TcpStream, buf: &mut [u8]) -> std::io::Result<(usize, Option<u64>)> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    use std::os::fd::AsRawFd;
    let mut iov = [std::io::IoSliceMut::new(buf)];
    let mut control = nix::cmsg_space!(nix::sys::time::TimeSpec);
    let msg = recvmsg::<()>(stream.as_raw_fd(), &mut iov, Some(&mut control), MsgFlags::empty())?;
    let stamp = msg.cmsgs()?.find_map(|c| match c {
        ControlMessageOwned::ScmTimestampns(t) => Some(t.tv_sec() as u64 * 1_000_000 + t.tv_nsec() as u64 / 1_000),
        _ => None,
    });
    Ok((msg.bytes, stamp))
}

pub(super) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The text after `key` up to the next quote.
fn string_field<'a>(text: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let at = find(text, key)? + key.len();
    let len = text[at..].iter().position(|c| *c == b'"')?;
    Some(&text[at..at + len])
}

fn event(name: Option<&[u8]>) -> Event {
    match name {
        Some(b"change") => Event::Change,
        Some(b"reset") => Event::Reset,
        Some(b"position") => Event::Position,
        Some(b"cut") => Event::Cut,
        _ => Event::Other,
    }
}

fn position(id: &[u8]) -> Option<(u64, u64)> {
    let (e, s) = std::str::from_utf8(id).ok()?.split_once(':')?;
    Some((e.parse().ok()?, s.parse().ok()?))
}

fn sent_us(text: &[u8]) -> Option<u64> {
    // Searched from the end: the body, and the field in it, come last in a change.
    let key = b"\"sent_us\":";
    let at = text.windows(key.len()).rposition(|w| w == key)? + key.len();
    let digits = text[at..].iter().take_while(|c| c.is_ascii_digit()).count();
    std::str::from_utf8(&text[at..at + digits]).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nats_protocol_is_read_across_frames() {
        let (mut r, mut out) = (NatsReader::default(), VecDeque::new());
        let change = br#"{"event":"change","id":"1:7","data":{"body":{"sent_us":123}}}"#;
        let msg = [format!("MSG results 1 {}\r\n", change.len()).as_bytes(), change, b"\r\n"].concat();
        // INFO and the PONG that says the subscription is in place, then a message in two frames.
        r.take(b"INFO {\"server_id\":\"x\"} \r\nPONG\r\n", 1, None, &mut out).unwrap();
        r.take(&msg[..20], 2, Some(5), &mut out).unwrap();
        assert_eq!(out.len(), 1, "half a message is not one yet");
        r.take(&msg[20..], 3, Some(6), &mut out).unwrap();
        let events: Vec<_> = out.iter().map(|m| (m.event, m.id, m.sent_us, m.arrived_us)).collect();
        assert_eq!(events, [(Event::Position, None, None, None), (Event::Change, Some((1, 7)), Some(123), Some(6))]);
        assert!(r.protocol.is_empty());
        // A keep-alive is owed its answer; an error stops the bench.
        r.take(b"PING\r\n", 4, None, &mut out).unwrap();
        assert!(r.owe_pong);
        assert!(r.take(b"-ERR 'Slow Consumer Detected'\r\n", 5, None, &mut out).is_err());
    }
}
