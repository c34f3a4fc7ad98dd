//! Lines through the engine: the loop `tessera soc replay` and `tessera bench soc` share. It
//! takes lines, not files: reading them is the caller's business.

use crate::access_log::parse_line;
use crate::engine::{Alert, Engine};
use crate::event::Event;

/// How the lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// nginx and Apache's combined access log.
    Combined,
    /// One [`Event`] as JSON per line (what Tessera exports).
    JsonLines,
}

/// Malformed lines kept as samples, at most.
pub const MAX_SAMPLES: usize = 10;

/// What a replay saw.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub lines: u64,
    pub events: u64,
    /// Lines that were not in the format: counted and skipped.
    pub malformed: u64,
    /// The first few malformed lines: line number, reason, the line (clipped to 200 bytes).
    pub samples: Vec<(u64, String, String)>,
    pub alerts: u64,
}

impl Summary {
    fn bad(&mut self, reason: String, line: &str) {
        self.malformed += 1;
        if self.samples.len() < MAX_SAMPLES {
            let clipped: String = line.chars().take(200).collect();
            self.samples.push((self.lines, reason, clipped));
        }
    }
}

/// Parses one line in `format`.
pub fn parse(format: Format, line: &str) -> Result<Event, String> {
    match format {
        Format::Combined => parse_line(line).map_err(|e| e.to_string()),
        Format::JsonLines => {
            if line.len() > crate::access_log::MAX_LINE {
                return Err(format!("line too long ({} bytes)", line.len()));
            }
            serde_json::from_str(line).map_err(|e| e.to_string())
        }
    }
}

/// Runs every line through the engine, calling `on_alert` for each alert. Blank lines are
/// skipped; malformed ones are counted, sampled and skipped.
pub fn replay<'a>(
    engine: &mut Engine,
    format: Format,
    lines: impl IntoIterator<Item = &'a str>,
    summary: &mut Summary,
    mut on_alert: impl FnMut(&Alert),
) {
    let mut out = Vec::new();
    for line in lines {
        summary.lines += 1;
        if line.trim().is_empty() {
            continue;
        }
        match parse(format, line) {
            Ok(e) => {
                summary.events += 1;
                engine.observe(&e, &mut out);
                for a in out.drain(..) {
                    summary.alerts += 1;
                    on_alert(&a);
                }
            }
            Err(reason) => summary.bad(reason, line),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_lines_are_counted_sampled_and_skipped() {
        let mut engine = Engine::new(crate::rules::default_rules(), Vec::new());
        let good = r#"203.0.113.7 - - [26/Jul/2024:19:30:00 +0200] "GET / HTTP/1.1" 200 5 "-" "x""#;
        let mut lines = vec![good; 5];
        lines.extend(std::iter::repeat_n("garbage", 20));
        lines.push("");
        let mut s = Summary::default();
        replay(&mut engine, Format::Combined, lines, &mut s, |_| {});
        assert_eq!((s.lines, s.events, s.malformed), (26, 5, 20));
        assert_eq!(s.samples.len(), MAX_SAMPLES);
        assert_eq!(s.samples[0], (6, "\"garbage\" is not an IP address".into(), "garbage".into()));
        let mut s = Summary::default();
        replay(&mut engine, Format::JsonLines, [r#"{"at_ms":1,"kind":"signin_failed"}"#, "{"], &mut s, |_| {});
        assert_eq!((s.events, s.malformed), (1, 1));
    }
}
