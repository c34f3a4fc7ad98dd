//! `tessera domains`: lookalikes of the official domains among newly seen names
//! (`tessera_lookalike`), one name per line or certstream's JSON lines, from a file, standard
//! input, or a certstream WebSocket followed live (`--follow`, reconnected when it drops).

use anyhow::Context as _;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::time::Instant;
use tessera_lookalike::{Detector, DetectorConfig, Message};

/// Longest line read; a longer one is counted as malformed and skipped (certstream's largest
/// certificate lines are tens of KiB).
const MAX_LINE: u64 = 256 * 1024;

#[derive(clap::Args)]
pub struct DomainsArgs {
    /// An official domain (repeat for each): it and its subdomains are never reported.
    #[arg(long, required = true)]
    official: Vec<String>,
    /// A brand keyword besides the official labels (repeat), e.g. `jo2024`.
    #[arg(long)]
    brand: Vec<String>,
    /// A legitimate domain never reported, nor its subdomains (repeat).
    #[arg(long)]
    allow: Vec<String>,
    /// The names: a file, or `-` for standard input.
    #[arg(long, default_value = "-")]
    input: PathBuf,
    /// One JSON object per lookalike instead of a tab-separated line.
    #[arg(long)]
    json: bool,
    /// Follow a certstream WebSocket live instead of reading --input, e.g.
    /// wss://certstream.calidog.io/ (until Ctrl-C; reconnects with backoff when it drops).
    #[arg(long, value_name = "URL", conflicts_with = "input")]
    follow: Option<String>,
}

/// What a run read and found, printed on standard error at the end.
#[derive(Default)]
struct Counts {
    lines: u64,
    names: u64,
    hits: u64,
    malformed: u64,
}

pub async fn run(a: DomainsArgs) -> anyhow::Result<()> {
    let mut config = DetectorConfig::new(a.official.clone());
    config.brands = a.brand;
    config.allow = a.allow;
    let detector = Detector::new(&config).context("--official")?;
    if let Some(url) = a.follow {
        return follow(&detector, &url, a.json).await;
    }
    let input: Box<dyn BufRead> = if a.input.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        let f = std::fs::File::open(&a.input).with_context(|| format!("reading {}", a.input.display()))?;
        Box::new(std::io::BufReader::new(f))
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let started = Instant::now();
    let counts = scan(&detector, input, &mut out, a.json)?;
    out.flush()?;
    let secs = started.elapsed().as_secs_f64().max(1e-9);
    eprintln!(
        "{} lines, {} names checked, {} lookalikes, {} malformed lines skipped, {:.0} names/s",
        counts.lines,
        counts.names,
        counts.hits,
        counts.malformed,
        counts.names as f64 / secs
    );
    Ok(())
}

/// Follows `url` until Ctrl-C, printing lookalikes as their certificates are logged.
async fn follow(detector: &Detector, url: &str, json: bool) -> anyhow::Result<()> {
    anyhow::ensure!(url.starts_with("ws://") || url.starts_with("wss://"), "--follow takes a ws:// or wss:// URL");
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        tessera_server::shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    let started = Instant::now();
    let mut total = Counts::default();
    let backoff = tessera_app::soc::certstream::Backoff::default();
    let seen = tessera_app::soc::certstream::follow(url, backoff, stop, |text| {
        let mut out = std::io::stdout().lock();
        match scan(detector, text.as_bytes(), &mut out, json) {
            Ok(c) => {
                total.lines += c.lines;
                total.names += c.names;
                total.hits += c.hits;
                total.malformed += c.malformed;
            }
            Err(e) => tracing::warn!(error = %e, "a message not written"),
        }
        let _ = out.flush();
    })
    .await;
    eprintln!(
        "{} connections, {} messages, {} names checked, {} lookalikes, {} malformed, in {:.0} s",
        seen.connections,
        seen.messages,
        total.names,
        total.hits,
        total.malformed,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn scan(detector: &Detector, mut input: impl BufRead, out: &mut impl Write, json: bool) -> anyhow::Result<Counts> {
    let mut c = Counts::default();
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = std::io::Read::take(&mut input, MAX_LINE + 1).read_until(b'\n', &mut line)?;
        if n == 0 {
            return Ok(c);
        }
        c.lines += 1;
        if line.len() as u64 > MAX_LINE {
            c.malformed += 1;
            // The rest of an overlong line is skipped, not read as lines of its own.
            let mut rest = Vec::new();
            while !rest.ends_with(b"\n") {
                rest.clear();
                if std::io::Read::take(&mut input, MAX_LINE).read_until(b'\n', &mut rest)? == 0 {
                    break;
                }
            }
            continue;
        }
        let Ok(text) = std::str::from_utf8(&line) else {
            c.malformed += 1;
            continue;
        };
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        let names = if text.starts_with('{') {
            match tessera_lookalike::parse_line(text) {
                Ok(Message::Certificate(cert)) => cert.names,
                Ok(_) => continue, // heartbeats and other messages
                Err(_) => {
                    c.malformed += 1;
                    continue;
                }
            }
        } else {
            vec![text.to_string()]
        };
        for name in names {
            c.names += 1;
            if let Some(hit) = detector.check(&name) {
                c.hits += 1;
                if json {
                    serde_json::to_writer(&mut *out, &hit)?;
                    writeln!(out)?;
                } else {
                    let how: Vec<String> =
                        hit.techniques.iter().map(|t| serde_json::to_string(t).unwrap_or_default()).collect();
                    writeln!(
                        out,
                        "{}\t{}\t{}\t{}",
                        hit.score,
                        hit.name,
                        hit.official.as_deref().unwrap_or("-"),
                        how.join(" ")
                    )?;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detector() -> Detector {
        Detector::new(&DetectorConfig::new(["paris2024.org"])).unwrap()
    }

    #[test]
    fn names_and_certstream_lines_are_read_and_bad_lines_counted() {
        let cert = r#"{"message_type":"certificate_update","data":{"leaf_cert":{"all_domains":["paris2O24.org","example.com"]}}}"#;
        let mut input = format!(
            "paris2024-tickets-resale.shop\nwww.paris2024.org\nexample.net\n{cert}\n{{\"message_type\":\"heartbeat\"}}\n{{not json\n"
        )
        .into_bytes();
        // A line that is not UTF-8.
        input.extend_from_slice(b"\xffparis2024.example\n");
        let mut out = Vec::new();
        let c = scan(&detector(), &input[..], &mut out, false).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert_eq!((c.names, c.hits), (5, 2), "{out}");
        assert!(out.contains("paris2024-tickets-resale.shop"), "{out}");
        assert!(out.contains("paris2o24.org"), "{out}");
        assert!(!out.contains("www.paris2024.org") && !out.contains("example"), "{out}");
        assert_eq!(c.malformed, 2, "the broken JSON line and the non-UTF-8 line");
    }

    #[test]
    fn an_overlong_line_is_skipped_whole() {
        let mut input = vec![b'a'; (MAX_LINE * 2) as usize];
        input.extend_from_slice(b".paris2024.org.evil.example\nparis2024-billets.shop\n");
        let mut out = Vec::new();
        let c = scan(&detector(), &input[..], &mut out, true).unwrap();
        assert_eq!((c.malformed, c.names, c.hits), (1, 1, 1), "{}", String::from_utf8_lossy(&out));
        let hit: serde_json::Value = serde_json::from_slice(out.trim_ascii_end()).unwrap();
        assert_eq!(hit["name"], "paris2024-billets.shop");
    }
}
