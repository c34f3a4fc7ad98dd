//! Tessera's mail transports: this crate owns sending one plain-text mail, over SMTP
//! ([`SmtpTransport`]), into a directory of `.eml` files for demos ([`FileTransport`]) or into
//! memory for tests ([`MemoryTransport`]). The outbox table, its drain loop, retries and the
//! mails' wording live elsewhere; a transport only says whether a failure is worth retrying
//! ([`MailError::Transient`]) or not ([`MailError::InvalidAddress`], [`MailError::Permanent`]).

mod file;
mod memory;
mod smtp;

pub use file::FileTransport;
pub use memory::MemoryTransport;
pub use smtp::{SmtpConfigError, SmtpSecurity, SmtpTransport, SmtpUrl};

/// One plain-text mail to one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// `fan@example.com` or `Name <fan@example.com>`.
    pub to: String,
    pub subject: String,
    /// Plain text.
    pub body: String,
}

impl Mail {
    pub fn new(to: impl Into<String>, subject: impl Into<String>, body: impl Into<String>) -> Self {
        Mail { to: to.into(), subject: subject.into(), body: body.into() }
    }
}

/// Sends one mail.
#[async_trait::async_trait]
pub trait Transport: Send + Sync + 'static {
    /// Short name for logs and metrics: `"smtp"`, `"file"` or `"memory"`.
    fn name(&self) -> &'static str;

    /// Sends `mail`. `Ok` means the mail was handed over (accepted by the SMTP server, written
    /// to disk, kept in memory).
    async fn send(&self, mail: &Mail) -> Result<(), MailError>;
}

/// Why a mail was not sent.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum MailError {
    /// The recipient (or sender) is not a valid address. Retrying will not help.
    #[error("invalid mail address: {0}")]
    InvalidAddress(String),
    /// A failure that may pass: connection refused, timeout, 4xx reply, a directory that
    /// cannot be written. Retry later.
    #[error("transient mail failure: {0}")]
    Transient(String),
    /// The server refused this mail for good (5xx reply). Do not retry.
    #[error("permanent mail failure: {0}")]
    Permanent(String),
}

impl MailError {
    /// Whether sending the same mail later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, MailError::Transient(_))
    }
}

/// Parses a recipient, `addr@host` or `Name <addr@host>`.
pub(crate) fn parse_mailbox(s: &str) -> Result<lettre::message::Mailbox, MailError> {
    s.trim().parse::<lettre::message::Mailbox>().map_err(|e| MailError::InvalidAddress(format!("{s:?}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailbox_parsing() {
        assert!(parse_mailbox("fan@example.com").is_ok());
        assert!(parse_mailbox(" Ada Lovelace <ada@example.com> ").is_ok());
        for bad in ["", "fan", "fan@", "@example.com", "a b@example.com", "x@y\r\nBcc: z@w"] {
            match parse_mailbox(bad) {
                Err(MailError::InvalidAddress(msg)) => {
                    assert!(msg.contains("invalid") || !msg.is_empty())
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn transient_is_the_only_retryable_error() {
        assert!(MailError::Transient("x".into()).is_transient());
        assert!(!MailError::Permanent("x".into()).is_transient());
        assert!(!MailError::InvalidAddress("x".into()).is_transient());
    }
}
