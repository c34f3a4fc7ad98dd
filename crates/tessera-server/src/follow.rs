//! External logs into the security engine: a file followed as it grows (`--soc-follow`), as
//! `tail -F` does. Each line is an nginx/Apache combined access-log line, or, when it starts
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

/// Follows `path` until `stop`, handing every complete line to the engine.
pub async fn follow(app: App, path: PathBuf, mut stop: watch::Receiver<bool>) {
    let mut open: Option<Open> = None;
    let mut first = true;
    let mut partial: Vec<u8> = Vec::new();
    let mut too_long = false;
    loop {
        // The file's reading is blocking I/O of a few bytes to a few MB: done on the blocking
        // pool, with the state moved in and out.
        let (state, lines) = {
            let path = path.clone();
            let mut state = (open.take(), std::mem::take(&mut partial), too_long);
            let start_at_end = first;
            match tokio::task::spawn_blocking(move || {
                let lines = read_more(&path, &mut state, start_at_end);
                (state, lines)
            })
            .await
            {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(error = %e, "the log follower's read failed");
                    ((None, Vec::new(), false), Vec::new())
                }
            }
        };
        (open, partial, too_long) = state;
        if open.is_some() {
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

type State = (Option<Open>, Vec<u8>, bool);

/// Reads what was appended since the last call; `None` for a line dropped as too long.
fn read_more(path: &std::path::Path, state: &mut State, start_at_end: bool) -> Vec<Option<String>> {
    let (open, partial, too_long) = state;
    let mut out = Vec::new();
    let meta = std::fs::metadata(path).ok();
    let rotated = match (&*open, &meta) {
        (Some(o), Some(m)) => m.ino() != o.inode || m.len() < o.offset,
        (Some(_), None) => false, // moved away and not yet recreated: finish the old one
        (None, _) => true,
    };
    if rotated {
        // What the old file still held, then the new one from its start.
        if let Some(o) = open.as_mut() {
            read_lines(o, partial, too_long, &mut out);
        }
        *open = None;
        if let Some(m) = &meta {
            if let Ok(mut file) = std::fs::File::open(path) {
                let offset = if start_at_end { m.len() } else { 0 };
                if file.seek(SeekFrom::Start(offset)).is_ok() {
                    *open = Some(Open { file, inode: m.ino(), offset });
                    partial.clear();
                    *too_long = false;
                }
            }
        }
    }
    if let Some(o) = open.as_mut() {
        read_lines(o, partial, too_long, &mut out);
    }
    out
}

fn read_lines(o: &mut Open, partial: &mut Vec<u8>, too_long: &mut bool, out: &mut Vec<Option<String>>) {
    let mut buf = Vec::new();
    let n = match (&o.file).take(READ_AT_MOST as u64).read_to_end(&mut buf) {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "reading a followed log");
            return;
        }
    };
    o.offset += n as u64;
    let max = tessera_detect::access_log::MAX_LINE;
    for chunk in buf.split_inclusive(|b| *b == b'\n') {
        let complete = chunk.ends_with(b"\n");
        if !*too_long {
            partial.extend_from_slice(chunk);
        }
        if partial.len() > max + 2 {
            partial.clear();
            *too_long = true;
        }
        if complete {
            if *too_long {
                out.push(None);
            } else {
                let line = String::from_utf8_lossy(partial.trim_ascii_end()).into_owned();
                if !line.is_empty() {
                    out.push(Some(line));
                }
            }
            partial.clear();
            *too_long = false;
        }
    }
}
