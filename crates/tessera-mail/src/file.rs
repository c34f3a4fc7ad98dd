//! Demo mode: mails become readable `.eml` files in a directory.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::AsyncWriteExt;

use crate::{parse_mailbox, Mail, MailError, Transport};

/// Distinguishes files written in the same millisecond by this process.
static COUNTER: AtomicU64 = AtomicU64::new(0);

const DEFAULT_FROM: &str = "Tessera <no-reply@tessera.invalid>";

/// Writes each mail as an RFC 5322-style text file (UTF-8 headers and body, CRLF line ends)
/// named `<unix-millis>-<counter>-<sanitised-recipient>.eml` into a directory, created if
/// missing. Nothing leaves the machine: this is the demo mode, where a person reads the mails
/// with any text editor or mail client. An existing file is never overwritten.
#[derive(Debug, Clone)]
pub struct FileTransport {
    dir: PathBuf,
    from: String,
}

impl FileTransport {
    /// Writes into `dir`, with the From header `Tessera <no-reply@tessera.invalid>`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FileTransport { dir: dir.into(), from: DEFAULT_FROM.to_string() }
    }

    /// Uses another From header.
    pub fn with_from(mut self, from: impl Into<String>) -> Self {
        self.from = one_line(&from.into());
        self
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The `.eml` files in `dir`, newest first. A directory that does not exist yet holds no
    /// mail: the result is empty. Blocking (a directory listing); call it from
    /// `spawn_blocking` if the directory may be huge.
    pub fn list(dir: impl AsRef<Path>) -> io::Result<Vec<PathBuf>> {
        let entries = match std::fs::read_dir(dir.as_ref()) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut files = Vec::new();
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.starts_with('.') || !name.ends_with(".eml") || !entry.file_type()?.is_file() {
                continue;
            }
            files.push((sort_key(name), entry.path()));
        }
        files.sort_by(|a, b| b.cmp(a));
        Ok(files.into_iter().map(|(_, path)| path).collect())
    }

    fn render(&self, mail: &Mail, millis: i128, counter: u64) -> String {
        let date =
            time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc2822).unwrap_or_default();
        let mut out = String::with_capacity(mail.body.len() + 512);
        for (name, value) in [
            ("From", self.from.as_str()),
            ("To", &one_line(&mail.to)),
            ("Subject", &one_line(&mail.subject)),
            ("Date", &date),
            ("Message-ID", &format!("<{millis}.{counter}.{}@tessera.invalid>", std::process::id())),
            ("MIME-Version", "1.0"),
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Transfer-Encoding", "8bit"),
            ("X-Tessera-Transport", "file (demo mode: this mail was not sent)"),
        ] {
            out.push_str(name);
            out.push_str(": ");
            out.push_str(value);
            out.push_str("\r\n");
        }
        out.push_str("\r\n");
        for line in mail.body.lines() {
            out.push_str(line);
            out.push_str("\r\n");
        }
        out
    }
}

/// Orders `<millis>-<counter>-...` names numerically; other names sort by name, oldest.
fn sort_key(name: &str) -> (u128, u64, String) {
    let mut parts = name.splitn(3, '-');
    let millis = parts.next().and_then(|p| p.parse().ok());
    let counter = parts.next().and_then(|p| p.parse().ok());
    match (millis, counter) {
        (Some(m), Some(c)) => (m, c, name.to_string()),
        _ => (0, 0, name.to_string()),
    }
}

/// A header value on one line: CR and LF (header injection) become spaces.
fn one_line(s: &str) -> String {
    s.trim().replace(['\r', '\n'], " ")
}

/// The recipient as a safe file-name part: letters, digits and `.@+_-`, at most 64 bytes.
fn sanitise_recipient(to: &str) -> String {
    let address = match (to.rfind('<'), to.rfind('>')) {
        (Some(start), Some(end)) if start < end => &to[start + 1..end],
        _ => to,
    };
    let mut out: String = address
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '@' | '+' | '_' | '-') {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    if out.is_empty() {
        out.push('_');
    }
    out
}

#[async_trait::async_trait]
impl Transport for FileTransport {
    fn name(&self) -> &'static str {
        "file"
    }

    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        parse_mailbox(&mail.to)?;
        // I/O failures are transient: the mail is fine, the directory needs fixing.
        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(|e| MailError::Transient(format!("cannot create {}: {e}", self.dir.display())))?;
        let recipient = sanitise_recipient(&mail.to);
        let millis = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        loop {
            let counter = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = self.dir.join(format!("{millis}-{counter}-{recipient}.eml"));
            let file = tokio::fs::OpenOptions::new().write(true).create_new(true).open(&path).await;
            let mut file = match file {
                Ok(file) => file,
                // Another process wrote the same name: take the next counter.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(MailError::Transient(format!("cannot create {}: {e}", path.display()))),
            };
            let text = self.render(mail, millis, counter);
            let written = async {
                file.write_all(text.as_bytes()).await?;
                file.flush().await
            };
            if let Err(e) = written.await {
                drop(file);
                let _ = tokio::fs::remove_file(&path).await;
                return Err(MailError::Transient(format!("cannot write {}: {e}", path.display())));
            }
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn writes_readable_files_into_a_new_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("outbox").join("mails");
        let t = FileTransport::new(&dir);
        assert_eq!(t.name(), "file");
        assert_eq!(FileTransport::list(&dir).unwrap(), Vec::<PathBuf>::new());

        let mail = Mail::new(
            "Ada Lovelace <Ada@Example.com>",
            "Your tickets for the final ✓",
            "Hello Ada,\n\nSeat 12, row F.\n",
        );
        t.send(&mail).await.unwrap();
        let files = FileTransport::list(&dir).unwrap();
        assert_eq!(files.len(), 1);
        let name = files[0].file_name().unwrap().to_str().unwrap().to_string();
        assert!(name.ends_with("-ada@example.com.eml"), "{name}");
        let text = std::fs::read_to_string(&files[0]).unwrap();
        assert!(text.contains("From: Tessera <no-reply@tessera.invalid>\r\n"), "{text}");
        assert!(text.contains("To: Ada Lovelace <Ada@Example.com>\r\n"), "{text}");
        assert!(text.contains("Subject: Your tickets for the final ✓\r\n"), "{text}");
        assert!(text.contains("Date: "), "{text}");
        assert!(text.contains("Content-Type: text/plain; charset=utf-8\r\n"), "{text}");
        assert!(text.ends_with("\r\n\r\nHello Ada,\r\n\r\nSeat 12, row F.\r\n"), "{text:?}");
    }

    #[tokio::test]
    async fn lists_newest_first_and_ignores_other_files() {
        let tmp = tempfile::tempdir().unwrap();
        let t = FileTransport::new(tmp.path()).with_from("Demo <demo@example.com>");
        for i in 0..12 {
            t.send(&Mail::new(format!("fan{i}@example.com"), "s", format!("mail {i}"))).await.unwrap();
        }
        std::fs::write(tmp.path().join("notes.txt"), "x").unwrap();
        std::fs::create_dir(tmp.path().join("sub.eml")).unwrap();
        let files = FileTransport::list(tmp.path()).unwrap();
        assert_eq!(files.len(), 12);
        let bodies: Vec<String> = files.iter().map(|p| std::fs::read_to_string(p).unwrap()).collect();
        assert!(bodies[0].ends_with("mail 11\r\n"), "{:?}", bodies[0]);
        assert!(bodies[11].ends_with("mail 0\r\n"), "{:?}", bodies[11]);
        assert!(bodies[0].starts_with("From: Demo <demo@example.com>\r\n"));
    }

    #[tokio::test]
    async fn headers_cannot_be_injected_and_names_are_safe() {
        let tmp = tempfile::tempdir().unwrap();
        let t = FileTransport::new(tmp.path());
        t.send(&Mail::new("fan@example.com", "Hi\r\nBcc: evil@example.com", "b")).await.unwrap();
        let files = FileTransport::list(tmp.path()).unwrap();
        let text = std::fs::read_to_string(&files[0]).unwrap();
        assert!(text.contains("Subject: Hi  Bcc: evil@example.com\r\n"), "{text}");
        assert!(!text.contains("\r\nBcc:"), "{text}");
        assert_eq!(sanitise_recipient("../../etc/passwd@x.y"), ".._.._etc_passwd@x.y");
        assert_eq!(sanitise_recipient("Fan <Fan+tix@Example.com>"), "fan+tix@example.com");
        assert_eq!(sanitise_recipient(&format!("{}@x.y", "a".repeat(100))).len(), 64);
    }

    #[tokio::test]
    async fn invalid_recipient_writes_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let t = FileTransport::new(tmp.path());
        let err = t.send(&Mail::new("not an address", "s", "b")).await.unwrap_err();
        assert!(matches!(err, MailError::InvalidAddress(_)), "{err:?}");
        assert!(FileTransport::list(tmp.path()).unwrap().is_empty());
    }

    #[tokio::test]
    async fn unwritable_directory_is_a_transient_error() {
        let tmp = tempfile::tempdir().unwrap();
        let blocker = tmp.path().join("file");
        std::fs::write(&blocker, "x").unwrap();
        let t = FileTransport::new(blocker.join("mails"));
        let err = t.send(&Mail::new("fan@example.com", "s", "b")).await.unwrap_err();
        assert!(matches!(err, MailError::Transient(_)), "{err:?}");
    }

    #[test]
    fn sort_key_is_numeric() {
        let mut names = ["1700000000000-9-a.eml", "1700000000000-10-a.eml", "999-0-a.eml"];
        names.sort_by_key(|n| std::cmp::Reverse(sort_key(n)));
        assert_eq!(names, ["1700000000000-10-a.eml", "1700000000000-9-a.eml", "999-0-a.eml"]);
    }
}
