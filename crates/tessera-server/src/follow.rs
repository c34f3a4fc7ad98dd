//! External logs into the security engine: a file followed as it grows (`--soc-follow`), as
//! `tail -F` does, or standard input (`--soc-follow -`). Each line is an nginx/Apache combined access-log line, or, when it starts
//! with `{`, one of Tessera's JSON security events (what `/api/v1/admin/soc/events?format=tessera`
//! writes, so one node's export can feed another engine).
//!
//! The file is polled every 250 ms rather than watched through inotify: one `stat` and one
//! read a quarter second is nothing, works on every file system (network mounts included),
//! and sees rotation the same way. Rotation: when the path names another file (its inode
//! changed: renamed and recreated) or the file shrank (truncated), the follower reads what was
//! left of the old file, then starts the new one from its beginning. A file that does not
//! exist yet is waited for. Following starts at the end of the file as it is at start-up: what
//! was logged before is history (`tessera soc replay` reads history).
//!
//! A line longer than `tessera_detect::access_log::MAX_LINE` is dropped and counted as
//! malformed, never buffered whole; a malformed line is counted, sampled and skipped.

use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::Duration;
use tessera_app::App;
use tokio::sync::watch;

const POLL: Duration = Duration::from_millis(250);
/// Bytes read at most per poll, so that a huge backlog does not hold the task.
const READ_AT_MOST: usize = 8 << 20;

struct Open {
    file: std::fs::File,
    inode: u64,
    offset: u64,
}

/// Bytes into lines, at most `MAX_LINE` each: the start of a line not yet complete is held;
/// a line past the limit is dropped (given as `None`) without being held whole.
#[derive(Default)]
struct Lines {
    partial: Vec<u8>,
    /// The current line passed the limit: the rest of it is skipped.
    too_long: bool,
}

impl Lines {
    fn feed(&mut self, buf: &[u8], out: &mut Vec<Option<String>>) {
        let max = tessera_detect::access_log::MAX_LINE;
        for chunk in buf.split_inclusive(|b| *b == b'\n') {
            let complete = chunk.ends_with(b"\n");
            if !self.too_long {
                self.partial.extend_from_slice(chunk);
            }
            if self.partial.len() > max + 2 {
                self.partial.clear();
                self.too_long = true;
            }
            if complete {
                if self.too_long {
                    out.push(None);
                } else {
                    let line = String::from_utf8_lossy(self.partial.trim_ascii_end()).into_owned();
                    if !line.is_empty() {
                        out.push(Some(line));
                    }
                }
                self.partial.clear();
                self.too_long = false;
            }
        }
    }

    fn clear(&mut self) {
        self.partial.clear();
        self.too_long = false;
    }
}

/// Where a follower stands: the file it reads, and the start of a line not yet complete.
#[derive(Default)]
struct Follower {
    open: Option<Open>,
    lines: Lines,
}

/// The path that means standard input.
pub const STDIN: &str = "-";

/// Reads standard input to its end (`--soc-follow -`), handing every line to the engine; a
/// pipe waits for the engine rather than losing lines (up to a second a line, then it sheds).
pub async fn follow_stdin(app: App, mut stop: watch::Receiver<bool>) {
    use tokio::io::AsyncReadExt;
    let mut stdin = tokio::io::stdin();
    let mut lines = Lines::default();
    let mut buf = vec![0u8; 64 << 10];
    let mut out = Vec::new();
    loop {
        let n = tokio::select! {
            r = stdin.read(&mut buf) => match r {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "reading standard input for the security engine");
                    break;
                }
            },
            _ = stop.changed() => return,
        };
        lines.feed(&buf[..n], &mut out);
        for line in out.drain(..) {
            match line {
                Some(l) => {
                    app.ingest_line_waiting(&l, Duration::from_secs(1)).await;
                }
                None => app.ingest_malformed("a line longer than the limit"),
            }
        }
    }
    // A last line without its newline.
    lines.feed(b"\n", &mut out);
    for l in out.drain(..).flatten() {
        app.ingest_line_waiting(&l, Duration::from_secs(1)).await;
    }
    tracing::info!("standard input ended; the security engine reads it no more");
}

/// Follows `path` until `stop`, handing every complete line to the engine.
pub async fn follow(app: App, path: PathBuf, mut stop: watch::Receiver<bool>) {
    let mut follower = Follower::default();
    let mut first = true;
    loop {
        // Reading is blocking I/O of a few bytes to a few MB: done on the blocking pool, the
        // follower moved in and back out.
        let path_now = path.clone();
        let start_at_end = first;
        let (back, lines) = match tokio::task::spawn_blocking(move || {
            let lines = follower.read_more(&path_now, start_at_end);
            (follower, lines)
        })
        .await
        {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "the log follower's read failed");
                (Follower::default(), Vec::new())
            }
        };
        follower = back;
        if follower.open.is_some() {
            first = false;
        }
        for line in lines {
            match line {
                Some(l) => app.ingest_line(&l),
                None => app.ingest_malformed("a line longer than the limit"),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = stop.changed() => return,
        }
    }
}

impl Follower {
    /// Reads what was appended since the last call; `None` for a line dropped as too long.
    fn read_more(&mut self, path: &std::path::Path, start_at_end: bool) -> Vec<Option<String>> {
        let mut out = Vec::new();
        let meta = std::fs::metadata(path).ok();
        let rotated = match (&self.open, &meta) {
            (Some(o), Some(m)) => m.ino() != o.inode || m.len() < o.offset,
            (Some(_), None) => false, // moved away and not yet recreated: finish the old one
            (None, _) => true,
        };
        if rotated {
            // What the old file still held, then the new one from its start.
            self.read_lines(&mut out);
            self.open = None;
            if let Some(m) = &meta {
                if let Ok(mut file) = std::fs::File::open(path) {
                    let offset = if start_at_end { m.len() } else { 0 };
                    if file.seek(SeekFrom::Start(offset)).is_ok() {
                        self.open = Some(Open { file, inode: m.ino(), offset });
                        self.lines.clear();
                    }
                }
            }
        }
        self.read_lines(&mut out);
        out
    }

    fn read_lines(&mut self, out: &mut Vec<Option<String>>) {
        let Some(o) = self.open.as_mut() else { return };
        let mut buf = Vec::new();
        let n = match (&o.file).take(READ_AT_MOST as u64).read_to_end(&mut buf) {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "reading a followed log");
                return;
            }
        };
        o.offset += n as u64;
        self.lines.feed(&buf, out);
    }
}
