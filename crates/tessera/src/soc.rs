//! `tessera soc`: the detection engine on the command line, for tuning rules offline. Replays
//! a log (a file or standard input) through a rule pack and prints the alerts, the decisions
//! and a summary; checks a rule file; prints the built-in pack.

use anyhow::{bail, Context};
use clap::{Args, Subcommand, ValueEnum};
use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use tessera_detect::replay::{self, Format, Summary};
use tessera_detect::{Decide, Engine, Rule, Scope};

#[derive(Args)]
pub struct SocArgs {
    #[command(subcommand)]
    command: SocCommand,
}

#[derive(Subcommand)]
enum SocCommand {
    /// Replay a log through the rules: alerts and decisions as they happen, then a summary.
    Replay(ReplayArgs),
    /// Check a rule file: every rule, or the first error with its line and reason.
    Check {
        /// The YAML rule file.
        file: std::path::PathBuf,
    },
    /// Print the built-in rule pack (a starting point for a rule file of your own).
    Rules,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    /// nginx or Apache combined access log.
    Combined,
    /// Tessera's security events, one JSON object per line.
    Json,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Export {
    /// One address or network per line.
    Plain,
    /// Networks in CIDR form (an address as /32 or /128).
    Cidr,
    /// nginx `deny` lines, to include in a server block.
    Nginx,
}

#[derive(Args)]
struct ReplayArgs {
    /// The log file; `-` or nothing for standard input.
    file: Option<std::path::PathBuf>,
    /// A YAML rule file instead of the built-in pack.
    #[arg(long)]
    rules: Option<std::path::PathBuf>,
    #[arg(long, value_enum, default_value = "combined")]
    format: LogFormat,
    /// Never decide against these networks (the gates' network, partners); repeatable.
    #[arg(long = "allow", value_name = "CIDR")]
    allow: Vec<ipnet::IpNet>,
    /// Print each alert as a JSON line instead of text.
    #[arg(long)]
    json: bool,
    /// At the end, print the block decisions in this form (and nothing else on stdout).
    #[arg(long, value_enum)]
    export: Option<Export>,
}

pub fn run(a: SocArgs) -> anyhow::Result<()> {
    match a.command {
        SocCommand::Rules => {
            print!("{}", tessera_detect::rules::DEFAULT_PACK);
            Ok(())
        }
        SocCommand::Check { file } => {
            let rules = load_rules(&file)?;
            println!("{}: {} rules, all valid", file.display(), rules.len());
            for r in &rules {
                println!("  {:<28} {:<8} by {:<8} {}", r.id, r.level.as_str(), r.group_by.as_str(), r.title);
            }
            Ok(())
        }
        SocCommand::Replay(r) => replay_log(r),
    }
}

fn load_rules(path: &std::path::Path) -> anyhow::Result<Vec<Rule>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    tessera_detect::parse_rules(&text).map_err(|e| anyhow::anyhow!("{}: refused whole: {e}", path.display()))
}

fn replay_log(a: ReplayArgs) -> anyhow::Result<()> {
    let rules = match &a.rules {
        Some(p) => load_rules(p)?,
        None => tessera_detect::default_rules(),
    };
    let format = match a.format {
        LogFormat::Combined => Format::Combined,
        LogFormat::Json => Format::JsonLines,
    };
    let input: Box<dyn BufRead> = match &a.file {
        Some(p) if p.as_os_str() != "-" => Box::new(std::io::BufReader::with_capacity(
            1 << 20,
            std::fs::File::open(p).with_context(|| format!("opening {}", p.display()))?,
        )),
        _ => Box::new(std::io::stdin().lock()),
    };
    let mut engine = Engine::new(rules, a.allow.clone());
    let mut summary = Summary::default();
    let mut decisions: BTreeMap<String, (Decide, Scope, i64)> = BTreeMap::new();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut failed: Option<std::io::Error> = None;
    let start = std::time::Instant::now();
    // Lines are read in chunks so that one bad byte sequence costs one line, not the replay.
    let mut chunk: Vec<String> = Vec::with_capacity(4096);
    let mut lines = input.split(b'\n');
    loop {
        chunk.clear();
        for line in lines.by_ref().take(4096) {
            let line = line.context("reading the log")?;
            chunk.push(String::from_utf8_lossy(&line).into_owned());
        }
        if chunk.is_empty() {
            break;
        }
        replay::replay(&mut engine, format, chunk.iter().map(String::as_str), &mut summary, |alert| {
            if let Some(d) = &alert.decision {
                decisions.insert(d.scope.to_string(), (d.action, d.scope.clone(), d.until_ms));
            }
            if a.export.is_some() || failed.is_some() {
                return;
            }
            let written = if a.json {
                serde_json::to_writer(&mut out, alert).map_err(std::io::Error::other).and_then(|_| writeln!(out))
            } else {
                let decided = match &alert.decision {
                    Some(d) => format!(
                        " -> {} {} for {} min{}",
                        d.action.as_str(),
                        d.scope,
                        (d.until_ms - d.from_ms) / 60_000,
                        if d.repeat > 0 { format!(" (repeat {})", d.repeat) } else { String::new() }
                    ),
                    None if alert.allow_listed => " (allow-listed: no decision)".into(),
                    None => String::new(),
                };
                writeln!(
                    out,
                    "{} {:<8} {:<28} {}={}{decided}",
                    tessera_detect::event::rfc3339_ms(alert.at_ms),
                    alert.level.as_str(),
                    alert.rule,
                    alert.group_by.as_str(),
                    alert.key
                )
            };
            if let Err(e) = written {
                failed = Some(e);
            }
        });
        if let Some(e) = failed.take() {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                return Ok(());
            }
            bail!("writing: {e}");
        }
    }
    let secs = start.elapsed().as_secs_f64();
    if let Some(form) = a.export {
        for (action, scope, _) in decisions.values() {
            if *action != Decide::Block {
                continue;
            }
            let net = match scope {
                Scope::Address(ip) => ipnet::IpNet::from(*ip),
                Scope::Network(n) => *n,
                _ => continue,
            };
            match form {
                Export::Plain => match scope {
                    Scope::Address(ip) => writeln!(out, "{ip}")?,
                    _ => writeln!(out, "{net}")?,
                },
                Export::Cidr => writeln!(out, "{net}")?,
                Export::Nginx => writeln!(out, "deny {net};")?,
            }
        }
    }
    out.flush()?;
    let mut err = std::io::stderr().lock();
    writeln!(
        err,
        "{} lines, {} events, {} malformed, {} alerts, {} decisions in {secs:.2} s ({:.0} lines/s)",
        summary.lines,
        summary.events,
        summary.malformed,
        summary.alerts,
        decisions.len(),
        summary.lines as f64 / secs.max(1e-9)
    )?;
    for (n, reason, line) in &summary.samples {
        writeln!(err, "  malformed line {n}: {reason}: {line}")?;
    }
    for s in engine.stats() {
        writeln!(
            err,
            "  {:<28} {:>10} matched {:>6} alerts {:>8} keys {:>10} evicted",
            s.id, s.matched, s.alerts, s.keys, s.evicted
        )?;
    }
    Ok(())
}
