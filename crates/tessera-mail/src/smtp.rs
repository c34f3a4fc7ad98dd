//! Real SMTP delivery with lettre.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};

use crate::{parse_mailbox, Mail, MailError, Transport};

/// How long one SMTP command may take before the send fails transiently.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// How the connection to the SMTP server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// `smtp://`: plain connection upgraded with STARTTLS, which is required (default port 587).
    StartTls,
    /// `smtps://`: TLS from the first byte (default port 465).
    ImplicitTls,
    /// `smtp+insecure://`: no encryption and no credentials, for local test servers such as
    /// MailHog or Mailpit (default port 1025).
    Plaintext,
}

impl SmtpSecurity {
    pub fn scheme(self) -> &'static str {
        match self {
            SmtpSecurity::StartTls => "smtp",
            SmtpSecurity::ImplicitTls => "smtps",
            SmtpSecurity::Plaintext => "smtp+insecure",
        }
    }

    pub fn default_port(self) -> u16 {
        match self {
            SmtpSecurity::StartTls => 587,
            SmtpSecurity::ImplicitTls => 465,
            SmtpSecurity::Plaintext => 1025,
        }
    }
}

/// Why an SMTP configuration was refused. Messages never contain the password.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum SmtpConfigError {
    #[error("invalid SMTP URL: {0}")]
    InvalidUrl(String),
    #[error("invalid From address: {0}")]
    InvalidFrom(String),
    #[error("cannot set up TLS for the SMTP server: {0}")]
    Tls(String),
}

/// A parsed SMTP URL:
///
/// - `smtp://user:pass@host[:587]`: STARTTLS, required;
/// - `smtps://user:pass@host[:465]`: implicit TLS;
/// - `smtp+insecure://host[:1025]`: plaintext, no credentials allowed, for local test servers.
///
/// User name and password are percent-decoded (write `%40` for `@`, `%3A` for `:`, `%2F` for
/// `/`). `Debug` and `Display` never show the password.
#[derive(Clone)]
pub struct SmtpUrl {
    security: SmtpSecurity,
    host: String,
    port: u16,
    credentials: Option<(String, SecretString)>,
}

impl SmtpUrl {
    pub fn parse(url: &str) -> Result<Self, SmtpConfigError> {
        let bad = |msg: String| Err(SmtpConfigError::InvalidUrl(msg));
        let url = url.trim();
        let Some((scheme, rest)) = url.split_once("://") else {
            return bad("expected smtp://user:pass@host:587, smtps://user:pass@host:465 \
                 or smtp+insecure://host:1025"
                .into());
        };
        let security = match scheme.to_ascii_lowercase().as_str() {
            "smtp" => SmtpSecurity::StartTls,
            "smtps" => SmtpSecurity::ImplicitTls,
            "smtp+insecure" => SmtpSecurity::Plaintext,
            other => {
                return bad(format!(
                    "unknown scheme {other:?}; use smtp (STARTTLS), smtps (implicit TLS) \
                     or smtp+insecure (plaintext, local test servers only)"
                ))
            }
        };
        // The last '@' ends the user info, so that a password may contain '@', '/', '?'...
        let (userinfo, hostport) = match rest.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, rest),
        };
        let hostport = hostport.strip_suffix('/').unwrap_or(hostport);
        if let Some(c) = hostport.chars().find(|c| matches!(c, '/' | '?' | '#')) {
            return bad(format!("unexpected {c:?} after the host; paths, queries and fragments are not supported"));
        }
        let (host, port) = split_host_port(hostport)?;
        let port = match port {
            None => security.default_port(),
            Some(p) => match p.parse::<u16>() {
                Ok(p) if p != 0 => p,
                _ => return bad(format!("port {p:?} is not a number from 1 to 65535")),
            },
        };
        let credentials = match userinfo {
            None => None,
            Some(userinfo) => {
                let Some((user, pass)) = userinfo.split_once(':') else {
                    return bad("a user name is given but no password (user:password@host)".into());
                };
                let user = percent_decode(user, "user name")?;
                let pass = percent_decode(pass, "password")?;
                if user.is_empty() {
                    return bad("the user name is empty".into());
                }
                if pass.is_empty() {
                    return bad("the password is empty".into());
                }
                Some((user, SecretString::from(pass)))
            }
        };
        if security == SmtpSecurity::Plaintext && credentials.is_some() {
            return bad("smtp+insecure:// would send the credentials in clear text; \
                 use smtp:// (STARTTLS) or smtps:// (implicit TLS)"
                .into());
        }
        Ok(SmtpUrl { security, host, port, credentials })
    }

    pub fn security(&self) -> SmtpSecurity {
        self.security
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn username(&self) -> Option<&str> {
        self.credentials.as_ref().map(|(u, _)| u.as_str())
    }

    pub fn has_password(&self) -> bool {
        self.credentials.is_some()
    }
}

impl FromStr for SmtpUrl {
    type Err = SmtpConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SmtpUrl::parse(s)
    }
}

/// `smtp://user:***@host:587`: safe to log.
impl fmt::Display for SmtpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", self.security.scheme())?;
        if let Some(user) = self.username() {
            write!(f, "{user}:***@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpUrl")
            .field("security", &self.security)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username())
            .field("password", &self.credentials.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

fn split_host_port(hostport: &str) -> Result<(String, Option<&str>), SmtpConfigError> {
    let bad = |msg: String| Err(SmtpConfigError::InvalidUrl(msg));
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let Some((host, after)) = v6.split_once(']') else {
            return bad("missing ']' after an IPv6 address".into());
        };
        if host.parse::<std::net::Ipv6Addr>().is_err() {
            return bad(format!("{host:?} is not an IPv6 address"));
        }
        match after {
            "" => (host, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => return bad(format!("unexpected {after:?} after the IPv6 address")),
            },
        }
    } else {
        match hostport.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (hostport, None),
        }
    };
    if host.is_empty() {
        return bad("the host is missing".into());
    }
    if !hostport.starts_with('[') {
        if let Some(c) = host.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))) {
            return bad(format!("host {host:?} contains {c:?}"));
        }
    }
    Ok((host.to_string(), port))
}

fn percent_decode(s: &str, what: &str) -> Result<String, SmtpConfigError> {
    let bad = || {
        SmtpConfigError::InvalidUrl(format!(
            "the {what} has a malformed percent escape (write %XX with two hex digits)"
        ))
    };
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or_else(bad)?;
            let hex = std::str::from_utf8(hex).map_err(|_| bad())?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map_err(|_| SmtpConfigError::InvalidUrl(format!("the {what} is not UTF-8 once percent-decoded")))
}

/// Sends mail through an SMTP server (lettre, tokio, rustls). Each send opens a connection; a
/// command that takes more than 30 s fails transiently. `Debug` never shows the password.
pub struct SmtpTransport {
    inner: AsyncSmtpTransport<Tokio1Executor>,
    url: SmtpUrl,
    from: Mailbox,
}

impl SmtpTransport {
    /// Configures (does not connect) a transport from a URL (see [`SmtpUrl`]) and the From
    /// address, `noreply@example.com` or `Tessera <noreply@example.com>`.
    pub fn new(url: &str, from: &str) -> Result<Self, SmtpConfigError> {
        SmtpTransport::from_url(SmtpUrl::parse(url)?, from)
    }

    pub fn from_url(url: SmtpUrl, from: &str) -> Result<Self, SmtpConfigError> {
        let from =
            from.trim().parse::<Mailbox>().map_err(|e| SmtpConfigError::InvalidFrom(format!("{from:?}: {e}")))?;
        let tls_err = |e: lettre::transport::smtp::Error| SmtpConfigError::Tls(e.to_string());
        let builder = match url.security {
            SmtpSecurity::StartTls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&url.host).map_err(tls_err)?
            }
            SmtpSecurity::ImplicitTls => AsyncSmtpTransport::<Tokio1Executor>::relay(&url.host).map_err(tls_err)?,
            SmtpSecurity::Plaintext => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(url.host.as_str()),
        };
        let mut builder = builder.port(url.port).timeout(Some(COMMAND_TIMEOUT));
        if let Some((user, pass)) = &url.credentials {
            builder = builder.credentials(Credentials::new(user.clone(), pass.expose_secret().to_string()));
        }
        Ok(SmtpTransport { inner: builder.build(), url, from })
    }

    pub fn url(&self) -> &SmtpUrl {
        &self.url
    }

    pub fn from_address(&self) -> &Mailbox {
        &self.from
    }

    /// Connects, greets and (if configured) authenticates, without sending anything: a
    /// start-up check for operators.
    pub async fn check_connection(&self) -> Result<(), MailError> {
        match self.inner.test_connection().await {
            Ok(true) => Ok(()),
            Ok(false) => {
                Err(MailError::Transient(format!("the SMTP server at {} did not answer as expected", self.url)))
            }
            Err(e) => Err(map_smtp_error(&e)),
        }
    }

    fn build_message(&self, mail: &Mail) -> Result<Message, MailError> {
        let to = parse_mailbox(&mail.to)?;
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.as_str())
            .header(ContentType::TEXT_PLAIN)
            .body(mail.body.clone())
            .map_err(|e| MailError::Permanent(format!("cannot build the message: {e}")))
    }
}

/// 5xx replies are permanent; everything else (4xx, connection, TLS, timeout) is transient.
fn map_smtp_error(e: &lettre::transport::smtp::Error) -> MailError {
    if e.is_permanent() {
        MailError::Permanent(e.to_string())
    } else {
        MailError::Transient(e.to_string())
    }
}

impl fmt::Debug for SmtpTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpTransport")
            .field("url", &self.url)
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl Transport for SmtpTransport {
    fn name(&self) -> &'static str {
        "smtp"
    }

    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        let message = self.build_message(mail)?;
        self.inner.send(message).await.map(|_| ()).map_err(|e| map_smtp_error(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FROM: &str = "Tessera <tickets@example.com>";

    #[test]
    fn accepts_the_three_schemes_with_default_ports() {
        let u = SmtpUrl::parse("smtp://user:s3cret@mail.example.com").unwrap();
        assert_eq!(u.security(), SmtpSecurity::StartTls);
        assert_eq!((u.host(), u.port()), ("mail.example.com", 587));
        assert_eq!(u.username(), Some("user"));
        assert!(u.has_password());

        let u = SmtpUrl::parse("smtps://user:s3cret@mail.example.com").unwrap();
        assert_eq!(u.security(), SmtpSecurity::ImplicitTls);
        assert_eq!(u.port(), 465);

        let u = SmtpUrl::parse("smtp+insecure://localhost").unwrap();
        assert_eq!(u.security(), SmtpSecurity::Plaintext);
        assert_eq!((u.host(), u.port()), ("localhost", 1025));
        assert_eq!(u.username(), None);
        assert!(!u.has_password());
    }

    #[test]
    fn accepts_explicit_ports_ipv6_trailing_slash_and_upper_case_schemes() {
        let u = SmtpUrl::parse("smtp://user:pass@smtp.example.com:2525/").unwrap();
        assert_eq!(u.port(), 2525);
        let u = SmtpUrl::parse("SMTPS://user:pass@smtp.example.com:465").unwrap();
        assert_eq!(u.security(), SmtpSecurity::ImplicitTls);
        let u = SmtpUrl::parse("smtp+insecure://[::1]:1025").unwrap();
        assert_eq!((u.host(), u.port()), ("::1", 1025));
        assert_eq!(u.to_string(), "smtp+insecure://[::1]:1025");
        let u = SmtpUrl::parse("smtp+insecure://127.0.0.1:1025").unwrap();
        assert_eq!(u.host(), "127.0.0.1");
        let u = SmtpUrl::parse("  smtp://mail.example.com  ").unwrap();
        assert_eq!(u.username(), None);
    }

    #[test]
    fn decodes_percent_escapes_and_raw_at_signs_in_credentials() {
        let u = SmtpUrl::parse("smtp://apikey%40tessera:p%40ss%3Aw%2Frd@mail.example.com").unwrap();
        assert_eq!(u.username(), Some("apikey@tessera"));
        let (_, pass) = u.credentials.as_ref().unwrap();
        assert_eq!(pass.expose_secret(), "p@ss:w/rd");
        // Unencoded '@' and '/' in the password are tolerated: the last '@' ends it.
        let u = SmtpUrl::parse("smtps://me:a@b/c@mail.example.com:465").unwrap();
        assert_eq!(u.credentials.as_ref().unwrap().1.expose_secret(), "a@b/c");
        assert_eq!(u.host(), "mail.example.com");
    }

    #[test]
    fn rejects_wrong_urls() {
        let cases = [
            ("mail.example.com:587", "expected smtp://"),
            ("http://mail.example.com", "unknown scheme"),
            ("smtp+tls://mail.example.com", "unknown scheme"),
            ("smtp://", "host is missing"),
            ("smtp://user:s3cr3t@", "host is missing"),
            ("smtp://user:s3cr3t@:587", "host is missing"),
            ("smtp://mail.example.com:0", "port"),
            ("smtp://mail.example.com:70000", "port"),
            ("smtp://mail.example.com:abc", "port"),
            ("smtp://mail.example.com:", "port"),
            ("smtp://mail.example.com/ehlo", "paths"),
            ("smtp://mail.example.com?tls=none", "queries"),
            ("smtp://user@mail.example.com", "no password"),
            ("smtp://:s3cr3t@mail.example.com", "user name is empty"),
            ("smtp://user:@mail.example.com", "password is empty"),
            ("smtp://user:s3cr3t%4@mail.example.com", "percent"),
            ("smtp://user:s3cr3t%zz@mail.example.com", "percent"),
            ("smtp://mail example.com", "contains"),
            ("smtp+insecure://user:s3cr3t@localhost:1025", "clear text"),
            ("smtp+insecure://[::1", "']'"),
            ("smtp+insecure://[nope]:25", "IPv6"),
        ];
        for (url, expected) in cases {
            match SmtpUrl::parse(url) {
                Err(SmtpConfigError::InvalidUrl(msg)) => {
                    assert!(msg.contains(expected), "{url}: {msg}");
                    assert!(!msg.contains("s3cr3t"), "{url}: {msg}");
                }
                other => panic!("{url}: expected InvalidUrl, got {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn debug_and_display_never_show_the_password() {
        let url = "smtps://tessera:hunter2-Sup3rSecret@mail.example.com:465";
        let parsed = SmtpUrl::parse(url).unwrap();
        let transport = SmtpTransport::new(url, FROM).unwrap();
        for shown in [
            format!("{parsed:?}"),
            format!("{parsed:#?}"),
            parsed.to_string(),
            format!("{transport:?}"),
            format!("{transport:#?}"),
        ] {
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(!shown.contains("Sup3rSecret"), "{shown}");
        }
        assert!(format!("{transport:?}").contains("[redacted]"));
        assert_eq!(parsed.to_string(), "smtps://tessera:***@mail.example.com:465");
        assert_eq!(transport.name(), "smtp");
    }

    #[tokio::test]
    async fn builds_transports_for_every_scheme_without_connecting() {
        for url in ["smtp://u:p@mail.example.com", "smtps://u:p@mail.example.com", "smtp+insecure://localhost:1025"] {
            let t = SmtpTransport::new(url, FROM).unwrap();
            assert_eq!(t.from_address().email.to_string(), "tickets@example.com");
        }
    }

    #[tokio::test]
    async fn rejects_a_bad_from_address() {
        let err = SmtpTransport::new("smtp+insecure://localhost", "not an address").unwrap_err();
        assert!(matches!(err, SmtpConfigError::InvalidFrom(_)), "{err:?}");
    }

    #[tokio::test]
    async fn bad_recipient_is_invalid_address_before_any_connection() {
        // Port 9 on loopback: nothing is contacted, because the address is checked first.
        let t = SmtpTransport::new("smtp+insecure://127.0.0.1:9", FROM).unwrap();
        let err = t.send(&Mail::new("not-an-address", "s", "b")).await.unwrap_err();
        assert!(matches!(err, MailError::InvalidAddress(_)), "{err:?}");
        let message = t.build_message(&Mail::new("Fan <fan@example.com>", "Your tickets ✓", "Hello\nBye")).unwrap();
        let raw = String::from_utf8(message.formatted()).unwrap();
        assert!(raw.contains("From: Tessera <tickets@example.com>"), "{raw}");
        assert!(raw.contains("To: Fan <fan@example.com>"), "{raw}");
        assert!(raw.contains("Content-Type: text/plain; charset=utf-8"), "{raw}");
    }
}
