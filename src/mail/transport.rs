//! Where mail goes: an SMTP server (pooled, TLS as the URL says) or, with no
//! SMTP_URL, `.eml` files for a developer to open.

use std::path::PathBuf;
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::Config;
use crate::store::ClaimedMail;

pub enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(PathBuf),
}

/// A failed delivery: permanent (the server refused with 5xx, or the address is
/// unusable) or worth retrying.
#[derive(Debug)]
pub struct SendError {
    pub permanent: bool,
    pub message: String,
}

impl Transport {
    pub fn from_config(config: &Config) -> anyhow::Result<Transport> {
        match &config.smtp_url {
            Some(url) => {
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| anyhow::anyhow!("SMTP_URL is not usable: {e}"))?
                    .timeout(Some(Duration::from_secs(15)))
                    .build();
                Ok(Transport::Smtp(transport))
            }
            None => {
                std::fs::create_dir_all(&config.mail_dir)?;
                Ok(Transport::Files(config.mail_dir.clone()))
            }
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Transport::Smtp(_) => "SMTP".to_string(),
            Transport::Files(dir) => format!(".eml files in {}", dir.display()),
        }
    }

    pub async fn send(&self, from: &Mailbox, mail: &ClaimedMail) -> Result<(), SendError> {
        let message = build(from, mail).map_err(|message| SendError {
            permanent: true,
            message,
        })?;
        match self {
            Transport::Smtp(smtp) => smtp.send(message).await.map(|_| ()).map_err(|e| SendError {
                permanent: e.is_permanent(),
                message: e.to_string(),
            }),
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
