//! Delivers the outbox. Each message is claimed with a short lease that the
//! worker renews while the send runs, so several instances never send one
//! message twice and a killed instance's message is taken over within
//! MAIL_LEASE_SECONDS.
//!
//! When a delivery fails for the relay's reasons (unreachable, 4xx, a timeout,
//! TLS), the worker stops walking the queue and probes the relay with one
//! message at a time, one to five seconds apart. Once a probe goes through
//! after a confirmed outage (two failures in a row), the messages that failed
//! for the relay's reasons are released at once, so a returning relay gets its
//! backlog within seconds instead of each message's own backoff.

use std::time::Duration;

use lettre::message::Mailbox;
use tokio::sync::watch;
use tokio::time::Instant;

use super::bulk_rate::BulkRate;
use super::{SendError, Transport};
use crate::secrets::{SealingKeys, sealing};
use crate::state::AppState;
use crate::store::{ClaimedMail, MailPriority};

/// Permanent (5xx) refusals tolerated before a message is marked failed.
const MAX_PERMANENT_FAILURES: i64 = 5;
/// How often the queue is looked at when nothing woke the worker.
const POLL: Duration = Duration::from_secs(1);
/// How often a send in progress checks its lease.
const LEASE_CHECK: Duration = Duration::from_millis(250);

/// Exponential backoff after the n-th attempt, capped at one minute.
pub fn backoff_seconds(attempts: i64) -> i64 {
    let exponent = attempts.clamp(1, 7) - 1;
    (1_i64 << exponent).min(60)
}

/// The pause between probes of an unavailable relay after `failures` failures in
/// a row: 1, 2, 4, then 5 seconds.
pub fn probe_delay(failures: u32) -> Duration {
    let exponent = failures.clamp(1, 4) - 1;
    Duration::from_secs((1_u64 << exponent).min(5))
}

/// What became of one claimed message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// The relay took it.
    Sent,
    /// The relay answered with a permanent refusal: it is there.
    Refused,
    /// Unreachable, 4xx, timed out, TLS failed: the relay's trouble.
    Deferred,
    /// Not the relay's doing (a body that cannot be opened, a lost lease).
    Other,
}

/// Whether the relay is taking mail, as this worker last saw it.
#[derive(Debug, Default)]
struct RelayHealth {
    /// Deliveries that failed for the relay's reasons in a row.
    failures: u32,
    /// When the next probe may go, while the relay is unavailable.
    next_probe: Option<Instant>,
}

impl RelayHealth {
    fn unavailable(&self) -> bool {
        self.failures > 0
    }
}

pub struct MailWorker {
    state: AppState,
    transport: Transport,
    from: Mailbox,
    lease: i64,
}

impl MailWorker {
    pub fn new(state: AppState, transport: Transport) -> anyhow::Result<MailWorker> {
        let from: Mailbox = state.config.mail_from.parse().map_err(|e| {
            anyhow::anyhow!(
                "MAIL_FROM {:?} is not an address: {e}",
                state.config.mail_from
            )
        })?;
        let lease = i64::from(state.config.mail_lease_seconds.max(3));
        Ok(MailWorker {
            state,
            transport,
            from,
            lease,
        })
    }

    /// Runs until `shutdown` turns true; the message in hand is finished first.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        tracing::info!(transport = %self.transport.describe(), lease_seconds = self.lease, "mail worker started");
        let mut bulk = BulkRate::per_minute(self.state.config.bulk_mail_per_minute);
        let mut relay = RelayHealth::default();
        metrics::gauge!("shop_mail_relay_available").set(1.0);
        while !*shutdown.borrow() {
            if let Some(at) = relay.next_probe
                && Instant::now() < at
            {
                // The relay is unavailable: new mail waits for the probe too.
                tokio::select! {
                    _ = tokio::time::sleep_until(at) => {}
                    _ = shutdown.changed() => {}
                }
                continue;
            }
            let now = self.state.now();
            // A probe takes the next waiting message even if it is backed off.
            let due_by = if relay.unavailable() { i64::MAX } else { now };
            match self
                .state
                .db
                .claim_mail_due_by(now, due_by, self.lease, bulk.allows())
                .await
            {
                Ok(Some(mail)) => {
                    if mail.priority == MailPriority::Bulk as i64 {
                        bulk.sent_one();
                    }
                    let outcome = self.deliver(mail).await;
                    self.observe(&mut relay, outcome).await;
                }
                Ok(None) => {
                    if relay.unavailable() {
                        // Nothing left to probe with: the next delivery tells.
                        relay = RelayHealth::default();
                        metrics::gauge!("shop_mail_relay_available").set(1.0);
                    }
                    // Bulk mail held back by the rate is looked at again once it may go.
                    let wait = if bulk.allows() {
                        POLL
                    } else {
                        bulk.wait().min(POLL)
                    };
                    tokio::select! {
                        _ = self.state.mail_queued.notified() => {}
                        _ = tokio::time::sleep(wait) => {}
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

    /// Follows the relay's health from one delivery's outcome.
    async fn observe(&self, relay: &mut RelayHealth, outcome: Outcome) {
        match outcome {
            Outcome::Deferred => {
                relay.failures += 1;
                let delay = probe_delay(relay.failures);
                relay.next_probe = Some(Instant::now() + delay);
                if relay.failures == 1 {
                    metrics::gauge!("shop_mail_relay_available").set(0.0);
                    tracing::warn!(
                        probe_every_max_seconds = probe_delay(u32::MAX).as_secs(),
                        "SMTP relay unavailable; probing it with one message at a time"
                    );
                }
            }
            Outcome::Sent | Outcome::Refused if relay.unavailable() => {
                // Two failures in a row were the relay's; one may have been the message's
                // (a greylisted recipient), whose own backoff then stands.
                if relay.failures >= 2 {
                    match self
                        .state
                        .db
                        .release_transient_retries(self.state.now())
                        .await
                    {
                        Ok(released) => {
                            metrics::counter!("shop_mail_released_total").increment(released);
                            tracing::info!(
                                released,
                                "SMTP relay answers again; waiting mail released"
                            );
                        }
                        Err(e) => tracing::warn!(error = %e, "cannot release the waiting mail"),
                    }
                }
                *relay = RelayHealth::default();
                metrics::gauge!("shop_mail_relay_available").set(1.0);
            }
            Outcome::Sent | Outcome::Refused | Outcome::Other => {}
        }
    }

    async fn deliver(&self, mut mail: ClaimedMail) -> Outcome {
        if let Err(reason) = open_bodies(&self.state.sealing, &mut mail) {
            metrics::counter!("shop_mail_failed_total", "kind" => mail.kind.clone()).increment(1);
            tracing::error!(mail_id = mail.id, kind = %mail.kind, error = %reason, "mail not sent; marked failed");
            if let Err(e) = self.state.db.mark_mail_failed(mail.id, &reason).await {
                tracing::error!(mail_id = mail.id, error = %e, "cannot record the delivery outcome");
            }
            return Outcome::Other;
        }
        let (result, held) = match self.send_holding_lease(&mail).await {
            Ok(sent) => sent,
            Err(reason) => {
                // Another worker has it (or will, once the lease runs out): not ours to record.
                metrics::counter!("shop_mail_lease_lost_total").increment(1);
                tracing::warn!(mail_id = mail.id, reason = %reason, "mail send abandoned");
                return Outcome::Other;
            }
        };
        let now = self.state.now();
        let db = &self.state.db;
        let (stored, outcome) = match result {
            Ok(()) => {
                metrics::counter!("shop_mail_sent_total", "kind" => mail.kind.clone()).increment(1);
                tracing::info!(mail_id = mail.id, kind = %mail.kind, attempts = mail.attempts, "mail delivered");
                (db.mark_mail_sent(mail.id, now).await, Outcome::Sent)
            }
            Err(e) if e.permanent && mail.permanent_failures + 1 >= MAX_PERMANENT_FAILURES => {
                metrics::counter!("shop_mail_failed_total", "kind" => mail.kind.clone())
                    .increment(1);
                tracing::error!(mail_id = mail.id, error = %e.message, "mail refused permanently; giving up");
                (
                    db.mark_mail_failed(mail.id, &e.message).await,
                    Outcome::Refused,
                )
            }
            Err(e) => {
                let delay = backoff_seconds(mail.attempts);
                metrics::counter!("shop_mail_retried_total").increment(1);
                tracing::warn!(mail_id = mail.id, error = %e.message, retry_in = delay, "mail not delivered; will retry");
                let outcome = if e.permanent {
                    Outcome::Refused
                } else {
                    Outcome::Deferred
                };
                (
                    db.mark_mail_retry(mail.id, held, now + delay, &e.message, e.permanent)
                        .await,
                    outcome,
                )
            }
        };
        if let Err(e) = stored {
            // The lease runs out and the message is tried again: at worst a duplicate, never a loss.
            tracing::error!(mail_id = mail.id, error = %e, "cannot record the delivery outcome");
        }
        outcome
    }

    /// Sends while keeping the lease: renewed every third of it, and the send is
    /// abandoned (its connection closed before the message is complete) rather than
    /// outlive a lease this worker could not renew. Returns the send's result and
    /// the lease held at its end.
    async fn send_holding_lease(
        &self,
        mail: &ClaimedMail,
    ) -> Result<(Result<(), SendError>, i64), String> {
        let mut held = mail.lease_until;
        let renew_every = (self.lease / 3).max(1);
        let mut renewed_at = self.state.now();
        let send = self.transport.send(&self.from, mail);
        tokio::pin!(send);
        loop {
            tokio::select! {
                result = &mut send => return Ok((result, held)),
                _ = tokio::time::sleep(LEASE_CHECK) => {}
            }
            let now = self.state.now();
            if now - renewed_at < renew_every && held - now > 1 {
                continue;
            }
            match self
                .state
                .db
                .renew_mail_lease(mail.id, held, now + self.lease)
                .await
            {
                Ok(true) => {
                    held = now + self.lease;
                    renewed_at = now;
                }
                Ok(false) => return Err("the lease was taken over".into()),
                Err(e) if held - self.state.now() <= 1 => {
                    return Err(format!("the lease cannot be renewed: {e}"));
                }
                Err(e) => {
                    tracing::warn!(mail_id = mail.id, error = %e, "cannot renew the mail lease yet")
                }
            }
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
            priority: 0,
            lease_until: 0,
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
    fn probes_of_an_unavailable_relay_are_at_most_five_seconds_apart() {
        let delays: Vec<u64> = (1..=6).map(|n| probe_delay(n).as_secs()).collect();
        assert_eq!(delays, vec![1, 2, 4, 5, 5, 5]);
    }

    #[test]
    fn the_default_lease_is_short_and_outlasts_the_smtp_timeout() {
        let config = crate::Config::with_database("sqlite::memory:");
        assert!(config.mail_lease_seconds <= 15);
        assert!(config.smtp_timeout_seconds < config.mail_lease_seconds);
    }

    #[test]
    fn backoff_doubles_up_to_a_minute() {
        let delays: Vec<i64> = (1..=9).map(backoff_seconds).collect();
        assert_eq!(delays, vec![1, 2, 4, 8, 16, 32, 60, 60, 60]);
    }
}
