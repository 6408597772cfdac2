//! Delivers the outbox. Each message is claimed with a lease, so several
//! instances never send one message twice and a crashed worker's message is
//! picked up again when its lease runs out.

use std::time::Duration;

use lettre::message::Mailbox;
use tokio::sync::watch;

use super::Transport;
use crate::secrets::{SealingKeys, sealing};
use crate::state::AppState;
use crate::store::ClaimedMail;

/// How long one delivery attempt may hold a message.
const LEASE_SECONDS: i64 = 120;
/// Permanent (5xx) refusals tolerated before a message is marked failed.
const MAX_PERMANENT_FAILURES: i64 = 5;
/// How often the queue is looked at when nothing woke the worker.
const POLL: Duration = Duration::from_secs(1);

/// Exponential backoff after the n-th attempt, capped at one minute.
pub fn backoff_seconds(attempts: i64) -> i64 {
    let exponent = attempts.clamp(1, 7) - 1;
    (1_i64 << exponent).min(60)
}

pub struct MailWorker {
    state: AppState,
    transport: Transport,
    from: Mailbox,
}

impl MailWorker {
    pub fn new(state: AppState, transport: Transport) -> anyhow::Result<MailWorker> {
        let from: Mailbox = state.config.mail_from.parse().map_err(|e| {
            anyhow::anyhow!(
                "MAIL_FROM {:?} is not an address: {e}",
                state.config.mail_from
            )
        })?;
        Ok(MailWorker {
            state,
            transport,
            from,
        })
    }

    /// Runs until `shutdown` turns true; the message in hand is finished first.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        tracing::info!(transport = %self.transport.describe(), "mail worker started");
        while !*shutdown.borrow() {
            let now = self.state.now();
            match self.state.db.claim_mail(now, LEASE_SECONDS).await {
                Ok(Some(mail)) => self.deliver(mail).await,
                Ok(None) => {
                    tokio::select! {
                        _ = self.state.mail_queued.notified() => {}
                        _ = tokio::time::sleep(POLL) => {}
                        _ = shutdown.changed() => {}
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "mail worker cannot read the queue");
                    tokio::select! {
                        _ = tokio::time::sleep(POLL) => {}
                        _ = shutdown.changed() => {}
                    }
                }
            }
        }
        tracing::info!("mail worker stopped");
    }

    async fn deliver(&self, mut mail: ClaimedMail) {
        if let Err(reason) = open_bodies(&self.state.sealing, &mut mail) {
            metrics::counter!("shop_mail_failed_total", "kind" => mail.kind.clone()).increment(1);
            tracing::error!(mail_id = mail.id, kind = %mail.kind, error = %reason, "mail not sent; marked failed");
            if let Err(e) = self.state.db.mark_mail_failed(mail.id, &reason).await {
                tracing::error!(mail_id = mail.id, error = %e, "cannot record the delivery outcome");
            }
            return;
        }
        let result = self.transport.send(&self.from, &mail).await;
        let now = self.state.now();
        let db = &self.state.db;
        let stored = match result {
            Ok(()) => {
                metrics::counter!("shop_mail_sent_total", "kind" => mail.kind.clone()).increment(1);
                tracing::info!(mail_id = mail.id, kind = %mail.kind, attempts = mail.attempts, "mail delivered");
                db.mark_mail_sent(mail.id, now).await
            }
            Err(e) if e.permanent && mail.permanent_failures + 1 >= MAX_PERMANENT_FAILURES => {
                metrics::counter!("shop_mail_failed_total", "kind" => mail.kind.clone())
                    .increment(1);
                tracing::error!(mail_id = mail.id, error = %e.message, "mail refused permanently; giving up");
                db.mark_mail_failed(mail.id, &e.message).await
            }
            Err(e) => {
                let delay = backoff_seconds(mail.attempts);
                metrics::counter!("shop_mail_retried_total").increment(1);
                tracing::warn!(mail_id = mail.id, error = %e.message, retry_in = delay, "mail not delivered; will retry");
                db.mark_mail_retry(mail.id, now + delay, &e.message, e.permanent)
                    .await
            }
        };
        if let Err(e) = stored {
            // The lease runs out and the message is tried again: at worst a duplicate, never a loss.
            tracing::error!(mail_id = mail.id, error = %e, "cannot record the delivery outcome");
        }
    }
}

/// Opens the sealed bodies in place, for the transport. A body this instance
/// cannot open (SECRET_KEY or the key file changed, or altered) is never sent
/// garbled: the reason comes back instead.
fn open_bodies(keys: &SealingKeys, mail: &mut ClaimedMail) -> Result<(), String> {
    for body in [&mut mail.body_text, &mut mail.body_html] {
        if let Some(stored) = body.as_deref()
            && sealing::is_sealed(stored)
        {
            let Some(key) = keys.mail() else {
                return Err("the body is sealed, but this instance has no SECRET_KEY".into());
            };
            let clear = key.open_text(stored).map_err(|e| {
                format!("the body cannot be opened ({e}): SECRET_KEY or the key file changed since it was queued")
            })?;
            *body = Some(clear);
        }
        // Otherwise it was stored in clear (PostgreSQL without SECRET_KEY) and goes as it is.
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::SecretKey;

    fn mail(text: &str, html: &str) -> ClaimedMail {
        ClaimedMail {
            id: 1,
            recipient: "jane@example.com".into(),
            kind: "reset_link".into(),
            subject: "Reset your password".into(),
            body_text: Some(text.into()),
            body_html: Some(html.into()),
            attempts: 1,
            permanent_failures: 0,
        }
    }

    fn keys(secret: &str) -> SealingKeys {
        SealingKeys::from_secret(&secret.parse::<SecretKey>().unwrap())
    }

    #[test]
    fn sealed_bodies_are_opened_and_clear_ones_kept() {
        let keys = keys("0123456789abcdef0123456789abcdef");
        let key = keys.mail().unwrap();
        let mut sealed = mail(&key.seal_text("Hello Jane"), &key.seal_text("<p>Hello</p>"));
        open_bodies(&keys, &mut sealed).unwrap();
        assert_eq!(sealed.body_text.as_deref(), Some("Hello Jane"));
        assert_eq!(sealed.body_html.as_deref(), Some("<p>Hello</p>"));
        let mut clear = mail("Hello Jane", "<p>Hello</p>");
        open_bodies(&SealingKeys::none(), &mut clear).unwrap();
        assert_eq!(clear.body_text.as_deref(), Some("Hello Jane"));
    }

    #[test]
    fn a_body_sealed_under_another_key_is_refused_with_a_reason() {
        let old = keys("0123456789abcdef0123456789abcdef");
        let key = old.mail().unwrap();
        let mut sealed = mail(&key.seal_text("Hello Jane"), &key.seal_text("<p>Hello</p>"));
        let new = keys("fedcba9876543210fedcba9876543210");
        let reason = open_bodies(&new, &mut sealed).unwrap_err();
        assert!(reason.contains("changed"), "{reason}");
        let reason = open_bodies(&SealingKeys::none(), &mut sealed).unwrap_err();
        assert!(reason.contains("no SECRET_KEY"), "{reason}");
    }

    #[test]
    fn backoff_doubles_up_to_a_minute() {
        let delays: Vec<i64> = (1..=9).map(backoff_seconds).collect();
        assert_eq!(delays, vec![1, 2, 4, 8, 16, 32, 60, 60, 60]);
    }
}
