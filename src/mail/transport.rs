//! Where mail goes: an SMTP relay (TLS as the URL says) or, with no SMTP_URL,
//! `.eml` files for a developer to open.
//!
//! Every SMTP attempt — connecting, the greeting, STARTTLS, AUTH and the whole
//! MAIL/RCPT/DATA exchange — is bounded by SMTP_TIMEOUT_SECONDS, so a relay
//! that accepts the connection and then stalls cannot wedge the worker. (lettre
//! bounds only the TCP connect of its async transport, and its pool would put a
//! connection abandoned mid-command back into service.) One connection is kept
//! between messages; it is reused only after a delivery went through and a NOOP
//! answers, and dropped (closed) after any failure or timeout.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use lettre::Message;
use lettre::message::{Mailbox, MultiPart, header::ContentType};
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use tokio::time::Instant;

use crate::config::Config;
use crate::store::ClaimedMail;

pub enum Transport {
    Smtp(Box<Relay>),
    Files(PathBuf),
}

/// A failed delivery: permanent (the server refused with 5xx, or the address is
/// unusable) or worth retrying (unreachable, 4xx, a timeout, a dropped or
/// failed TLS connection).
#[derive(Debug)]
pub struct SendError {
    pub permanent: bool,
    pub message: String,
}

impl SendError {
    fn transient(message: impl Into<String>) -> SendError {
        SendError {
            permanent: false,
            message: message.into(),
        }
    }

    fn from_smtp(e: lettre::transport::smtp::Error) -> SendError {
        SendError {
            permanent: e.is_permanent(),
            message: e.to_string(),
        }
    }
}

/// A kept connection older than this is closed rather than reused.
const IDLE_REUSE: Duration = Duration::from_secs(30);

/// An SMTP relay as SMTP_URL names it.
pub struct Relay {
    host: String,
    port: u16,
    tls: RelayTls,
    credentials: Option<Credentials>,
    hello: ClientId,
    timeout: Duration,
    idle: Mutex<Option<(AsyncSmtpConnection, Instant)>>,
}

enum RelayTls {
    None,
    /// smtps://: TLS from the first byte.
    Wrapper(TlsParameters),
    /// ?tls=required (never falls back to clear text) or ?tls=opportunistic.
    StartTls {
        parameters: TlsParameters,
        required: bool,
    },
}

impl Relay {
    /// Reads an SMTP_URL the way lettre does: `smtp://host:25`,
    /// `smtp://host:587?tls=required|opportunistic`, `smtps://user:pass@host:465`,
    /// a path naming the EHLO name.
    pub fn from_url(url: &str, timeout: Duration) -> Result<Relay, String> {
        let parsed = url::Url::parse(url).map_err(|e| e.to_string())?;
        let host = parsed
            .host_str()
            .ok_or("the URL names no host")?
            .trim_matches(|c| c == '[' || c == ']')
            .to_string();
        let tls_mode = parsed
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.to_string());
        let parameters = || TlsParameters::new(host.clone()).map_err(|e| e.to_string());
        let (port, tls) = match (parsed.scheme(), tls_mode.as_deref()) {
            ("smtp", None) => (25, RelayTls::None),
            ("smtp", Some(mode @ ("required" | "opportunistic"))) => (
                587,
                RelayTls::StartTls {
                    parameters: parameters()?,
                    required: mode == "required",
                },
            ),
            ("smtps", _) => (465, RelayTls::Wrapper(parameters()?)),
            (scheme, tls) => {
                return Err(format!(
                    "unknown scheme {scheme:?} or tls parameter {tls:?}"
                ));
            }
        };
        let credentials = match parsed.password() {
            Some(password) => Some(Credentials::new(
                percent_decode(parsed.username())?,
                percent_decode(password)?,
            )),
            None => None,
        };
        let name = parsed.path().trim_matches('/');
        let hello = if name.is_empty() {
            ClientId::default()
        } else {
            ClientId::Domain(name.to_string())
        };
        Ok(Relay {
            port: parsed.port().unwrap_or(port),
            host,
            tls,
            credentials,
            hello,
            timeout,
            idle: Mutex::new(None),
        })
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    async fn open(&self) -> Result<AsyncSmtpConnection, SendError> {
        let wrapper = match &self.tls {
            RelayTls::Wrapper(parameters) => Some(parameters.clone()),
            _ => None,
        };
        let mut conn = AsyncSmtpConnection::connect_tokio1(
            (self.host.as_str(), self.port),
            Some(self.timeout),
            &self.hello,
            wrapper,
            None,
        )
        .await
        .map_err(SendError::from_smtp)?;
        if let RelayTls::StartTls {
            parameters,
            required,
        } = &self.tls
            && (*required || conn.can_starttls())
        {
            conn.starttls(parameters.clone(), &self.hello)
                .await
                .map_err(|e| SendError::transient(format!("STARTTLS failed: {e}")))?;
        }
        if let Some(credentials) = &self.credentials {
            conn.auth(DEFAULT_MECHANISMS, credentials)
                .await
                .map_err(SendError::from_smtp)?;
        }
        Ok(conn)
    }

    /// The kept connection, if it is fresh and still answers.
    async fn reuse(&self) -> Option<AsyncSmtpConnection> {
        let (mut conn, since) = self.idle.lock().unwrap().take()?;
        if conn.has_broken() || since.elapsed() > IDLE_REUSE || !conn.test_connected().await {
            return None; // dropped: the socket closes
        }
        Some(conn)
    }

    async fn send(&self, message: Message) -> Result<(), SendError> {
        let envelope = message.envelope().clone();
        let bytes = message.formatted();
        let attempt = async {
            let mut conn = match self.reuse().await {
                Some(conn) => conn,
                None => self.open().await?,
            };
            conn.send(&envelope, &bytes)
                .await
                .map_err(SendError::from_smtp)?;
            Ok::<_, SendError>(conn)
        };
        // Dropping the attempt closes its connection: nothing half-sent is reused.
        match tokio::time::timeout(self.timeout, attempt).await {
            Ok(Ok(conn)) => {
                *self.idle.lock().unwrap() = Some((conn, Instant::now()));
                Ok(())
            }
            Ok(Err(e)) => Err(e),
            Err(_) => Err(SendError::transient(format!(
                "the SMTP server did not finish within {} s (SMTP_TIMEOUT_SECONDS)",
                self.timeout.as_secs_f32()
            ))),
        }
    }
}

fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
            if let Ok(b) = u8::from_str_radix(hex, 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).map_err(|e| e.to_string())
}

impl Transport {
    pub fn from_config(config: &Config) -> anyhow::Result<Transport> {
        match &config.smtp_url {
            Some(url) => {
                let timeout = Duration::from_secs(config.smtp_timeout_seconds.into());
                let relay = Relay::from_url(url, timeout)
                    .map_err(|e| anyhow::anyhow!("SMTP_URL is not usable: {e}"))?;
                Ok(Transport::Smtp(Box::new(relay)))
            }
            None => {
                std::fs::create_dir_all(&config.mail_dir)?;
                Ok(Transport::Files(config.mail_dir.clone()))
            }
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Transport::Smtp(relay) => format!(
                "SMTP {}:{} (timeout {} s)",
                relay.host,
                relay.port,
                relay.timeout.as_secs()
            ),
            Transport::Files(dir) => format!(".eml files in {}", dir.display()),
        }
    }

    pub async fn send(&self, from: &Mailbox, mail: &ClaimedMail) -> Result<(), SendError> {
        let message = build(from, mail).map_err(|message| SendError {
            permanent: true,
            message,
        })?;
        match self {
            Transport::Smtp(relay) => relay.send(message).await,
            Transport::Files(dir) => {
                let path = dir.join(format!("{:08}-{}.eml", mail.id, mail.kind));
                let tmp = path.with_extension("eml.tmp");
                let written = tokio::fs::write(&tmp, message.formatted()).await;
                let result = match written {
                    Ok(()) => tokio::fs::rename(&tmp, &path).await,
                    Err(e) => Err(e),
                };
                result.map_err(|e| SendError {
                    permanent: false,
                    message: format!("{}: {e}", path.display()),
                })?;
                tracing::info!(path = %path.display(), kind = %mail.kind, "mail written");
                Ok(())
            }
        }
    }
}

fn build(from: &Mailbox, mail: &ClaimedMail) -> Result<Message, String> {
    let to: Mailbox = mail
        .recipient
        .parse()
        .map_err(|e| format!("unusable recipient address: {e}"))?;
    let text = mail.body_text.clone().unwrap_or_default();
    let html = mail.body_html.clone().unwrap_or_default();
    let host = from.email.domain().to_string();
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(mail.subject.clone())
        // A stable id: if a crash repeats a delivery, the copies are recognisably one message.
        .message_id(Some(format!("<outbox-{}@{}>", mail.id, host)))
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    lettre::message::SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(text),
                )
                .singlepart(
                    lettre::message::SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(html),
                ),
        )
        .map_err(|e| format!("cannot build the message: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_read_like_lettre_reads_them() {
        let t = Duration::from_secs(10);
        let plain = Relay::from_url("smtp://127.0.0.1:2525", t).unwrap();
        assert_eq!((plain.host.as_str(), plain.port), ("127.0.0.1", 2525));
        assert!(matches!(plain.tls, RelayTls::None) && plain.credentials.is_none());
        let starttls = Relay::from_url("smtp://mail.example.com?tls=required", t).unwrap();
        assert_eq!(starttls.port, 587);
        assert!(matches!(
            starttls.tls,
            RelayTls::StartTls { required: true, .. }
        ));
        let wrapped =
            Relay::from_url("smtps://us%40er:p%25ss@mail.example.com/shop.test", t).unwrap();
        assert_eq!(wrapped.port, 465);
        assert!(matches!(wrapped.tls, RelayTls::Wrapper(_)));
        assert!(wrapped.credentials == Some(Credentials::new("us@er".into(), "p%ss".into())));
        assert!(Relay::from_url("http://mail.example.com", t).is_err());
        assert!(Relay::from_url("smtp://mail.example.com?tls=maybe", t).is_err());
        assert_eq!(percent_decode("a%2").unwrap(), "a%2");
    }
}
