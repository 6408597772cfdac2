//! Mail faults (issue 14): a relay that is down, defers with 4xx, refuses with
//! 5xx, stalls past the timeout, drops the connection mid-DATA or fails
//! STARTTLS; a worker killed holding a message; a slow relay with two workers.
//! Each on both stores, against the loopback sink of `smtp_sink.rs`.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::helpers::*;
use crate::smtp_sink::{Fault, SmtpSink};
use crate::store_test;

const PASSWORD: &str = "correct-horse-9";
const ADMIN_EMAIL: &str = "ada@shop.test";
const ADMIN_PASSWORD: &str = "admin-horse-77";

use crate::store_test_with;

/// A customer who may ask for many resets in a row.
async fn shopper(app: &TestApp, email: &str) {
    app.register(email, PASSWORD).await;
    app.set_option("protection_type", "none").await;
}

async fn queue_resets(app: &TestApp, email: &str, n: usize) {
    for _ in 0..n {
        let response = app.client().request_reset(email).await;
        assert_eq!(location(&response), "/customer/account/login");
    }
}

/// Waits until the sink holds `n` messages, at most `limit`; how long it took.
async fn wait_received(sink: &SmtpSink, n: usize, limit: Duration) -> Duration {
    let start = Instant::now();
    while sink.received().len() < n {
        assert!(
            start.elapsed() < limit,
            "expected {n} mails within {limit:?}, got {}",
            sink.received().len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    start.elapsed()
}

/// Every message arrived once: `n` received, `n` distinct Message-IDs, all
/// marked sent.
async fn delivered_exactly_once(app: &TestApp, n: usize) {
    tokio::time::sleep(Duration::from_millis(1500)).await; // room for a repeat to show
    let ids = app.smtp.message_ids();
    let distinct: HashSet<&String> = ids.iter().collect();
    assert_eq!(distinct.len(), n, "{ids:?}");
    assert_eq!(ids.len(), n, "no message twice: {ids:?}");
    let counts = app.db().mail_status_counts().await.unwrap();
    assert_eq!(counts, vec![("sent".to_string(), n as i64)]);
}

/// Waits until the worker has met the relay's fault: some message's last error
/// contains `expect` (any error when empty) and `attempts` attempts have
/// finished, at most `limit`. Polled instead of sleeping a fixed span that had
/// to cover a loaded machine.
async fn wait_error(app: &TestApp, expect: &str, attempts: i64, limit: Duration) {
    let start = Instant::now();
    loop {
        let errors = last_errors(app).await;
        if errors.iter().any(|e| !e.is_empty() && e.contains(expect))
            && finished_attempts(app).await >= attempts
        {
            return;
        }
        assert!(
            start.elapsed() < limit,
            "no error with {expect:?} after {attempts} attempts within {limit:?}: {errors:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Attempts whose outcome is recorded: an attempt counts from its claim, so a
/// message still being sent has one in flight.
async fn finished_attempts(app: &TestApp) -> i64 {
    let queue = app.db().mail_queue(None, 1000).await.unwrap();
    queue
        .iter()
        .filter(|row| row.status != "sending")
        .map(|row| row.attempts)
        .sum()
}

async fn total_attempts(app: &TestApp) -> i64 {
    let queue = app.db().mail_queue(None, 1000).await.unwrap();
    queue.iter().map(|row| row.attempts).sum()
}

async fn last_errors(app: &TestApp) -> Vec<String> {
    let queue = app.db().mail_queue(None, 1000).await.unwrap();
    queue
        .iter()
        .map(|row| row.last_error.clone().unwrap_or_default())
        .collect()
}

store_test!(
    a_relay_that_was_down_gets_its_backlog_within_seconds_and_is_not_hammered,
    |app: TestApp| async move {
        let mut app = app;
        shopper(&app, "down@example.com").await;
        app.smtp.stop();
        queue_resets(&app, "down@example.com", 20).await;
        tokio::time::sleep(Duration::from_secs(6)).await;
        assert!(app.smtp.received().is_empty());
        // One message at a time probes the relay, at most 5 s apart: not 20
        // messages each on its own backoff (about 60 attempts in 6 s).
        let attempts = total_attempts(&app).await;
        assert!(
            (1..=8).contains(&attempts),
            "{attempts} attempts while down"
        );
        app.smtp.resume().await;
        // No clock moved: the backlog goes because the relay is back.
        let took = wait_received(&app.smtp, 20, Duration::from_secs(15)).await;
        eprintln!(
            "relay back: 20 mails delivered {:.1} s after ({attempts} attempts during the outage)",
            took.as_secs_f64()
        );
        delivered_exactly_once(&app, 20).await;
        assert!(
            app.smtp
                .received()
                .iter()
                .all(|m| m.to == vec!["down@example.com".to_string()])
        );
    }
);

async fn deferred_then_delivered(app: TestApp, fault: Fault, expect: &str) {
    shopper(&app, "deferred@example.com").await;
    app.smtp.set_fault(fault);
    queue_resets(&app, "deferred@example.com", 3).await;
    // Two failures in a row: the outage is confirmed, so the lifted fault
    // releases the waiting mail (the path a fixed 4 s sleep used to reach).
    wait_error(&app, expect, 2, Duration::from_secs(15)).await;
    assert!(app.smtp.received().is_empty());
    let counts = app.db().mail_status_counts().await.unwrap();
    assert!(
        counts
            .iter()
            .all(|(status, _)| status == "pending" || status == "sending"),
        "{counts:?}"
    );
    app.smtp.set_fault(Fault::None);
    let took = wait_received(&app.smtp, 3, Duration::from_secs(15)).await;
    eprintln!(
        "{fault:?} lifted: 3 mails {:.1} s after",
        took.as_secs_f64()
    );
    delivered_exactly_once(&app, 3).await;
}

store_test!(
    a_4xx_on_rcpt_is_retried_and_delivered_once,
    |app: TestApp| async move { deferred_then_delivered(app, Fault::DeferRcpt, "451").await }
);

store_test!(
    a_4xx_after_data_is_retried_and_delivered_once,
    |app: TestApp| async move { deferred_then_delivered(app, Fault::DeferData, "451").await }
);

store_test!(
    a_connection_dropped_mid_data_is_retried_and_delivered_once,
    |app: TestApp| async move { deferred_then_delivered(app, Fault::DropMidData, "").await }
);

store_test_with!(
    a_relay_that_stalls_times_out_without_wedging_the_worker,
    |c: &mut shop_accounts::Config| c.smtp_timeout_seconds = 2,
    |app: TestApp| async move {
        shopper(&app, "stall@example.com").await;
        app.smtp.set_fault(Fault::StallGreeting);
        queue_resets(&app, "stall@example.com", 2).await;
        wait_error(&app, "did not finish within 2", 1, Duration::from_secs(15)).await;
        assert!(app.smtp.received().is_empty());
        app.smtp.set_fault(Fault::None);
        let took = wait_received(&app.smtp, 2, Duration::from_secs(15)).await;
        eprintln!("stall lifted: 2 mails {:.1} s after", took.as_secs_f64());
        delivered_exactly_once(&app, 2).await;
    }
);

store_test_with!(
    starttls_required_but_failing_is_retried_and_never_sent_in_clear,
    |c: &mut shop_accounts::Config| {
        c.smtp_url = Some(format!("{}?tls=required", c.smtp_url.clone().unwrap()));
    },
    |app: TestApp| async move {
        shopper(&app, "tls@example.com").await;
        app.smtp.set_fault(Fault::BrokenStartTls);
        queue_resets(&app, "tls@example.com", 1).await;
        wait_error(&app, "STARTTLS", 1, Duration::from_secs(15)).await;
        // The relay stops offering STARTTLS: the message still never goes in
        // clear, however often it is tried against it.
        app.smtp.set_fault(Fault::None);
        let tried = total_attempts(&app).await;
        let started = Instant::now();
        while finished_attempts(&app).await < tried + 2 {
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "retried after STARTTLS went away"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(app.smtp.received().is_empty());
        assert_eq!(app.smtp.mail_commands(), 0, "not one MAIL FROM in clear");
        let queue = app.db().mail_queue(None, 10).await.unwrap();
        assert_eq!(queue[0].status, "pending", "retried, not given up");
        assert!(
            (2..=8).contains(&queue[0].attempts),
            "probed, not hammered: {}",
            queue[0].attempts
        );
    }
);

store_test!(
    permanent_refusals_are_failed_and_shown_in_the_admin_mail_queue,
    |app: TestApp| async move {
        shopper(&app, "refused@example.com").await;
        let admin = app
            .signed_in_administrator(ADMIN_EMAIL, ADMIN_PASSWORD)
            .await;
        app.smtp.set_fault(Fault::RefuseData);
        queue_resets(&app, "refused@example.com", 1).await;
        // Each step moves the clock past the backoff; stops once given up on.
        for _ in 0..25 {
            tokio::time::sleep(Duration::from_millis(400)).await;
            let counts = app.db().mail_status_counts().await.unwrap();
            if counts.iter().any(|(status, _)| status == "failed") {
                break;
            }
            app.advance_clock_and_wake(61);
        }
        let queue = app.db().mail_queue(None, 10).await.unwrap();
        assert_eq!(queue[0].status, "failed", "{queue:?}");
        assert_eq!(queue[0].attempts, 5);
        let page = admin.get_text("/admin/mail").await;
        assert!(page.contains("refused@example.com") && page.contains("Failed"));
        assert!(page.contains("554"), "the relay's answer is shown");
        // A refusal that stops before the fifth attempt: delivered, once.
        let tried = app.smtp.mail_commands();
        queue_resets(&app, "refused@example.com", 1).await;
        for _ in 0..40 {
            if app.smtp.mail_commands() >= tried + 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
            app.advance_clock_and_wake(61);
        }
        assert!(app.smtp.mail_commands() >= tried + 2, "refused twice");
        app.smtp.set_fault(Fault::None);
        app.advance_clock_and_wake(61);
        wait_received(&app.smtp, 1, Duration::from_secs(10)).await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(app.smtp.received().len(), 1);
        let mut counts = app.db().mail_status_counts().await.unwrap();
        counts.sort();
        assert_eq!(
            counts,
            vec![("failed".to_string(), 1), ("sent".to_string(), 1)]
        );
    }
);

store_test_with!(
    a_killed_workers_message_is_taken_over_within_the_short_lease,
    |c: &mut shop_accounts::Config| c.mail_lease_seconds = 3,
    |app: TestApp| async move {
        let mut app = app;
        app.register("killed@example.com", PASSWORD).await;
        app.smtp.stop();
        queue_resets(&app, "killed@example.com", 1).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        app.stop().await;
        // The "killed" worker: it claimed the message with the lease workers take, and died.
        let lease = i64::from(app.state.config.mail_lease_seconds);
        let now = app.state.now();
        let db = shop_accounts::store::Db::connect(&app.database_url)
            .await
            .unwrap();
        let claimed = db
            .claim_mail_due_by(now, i64::MAX, lease, true)
            .await
            .unwrap()
            .expect("the message to claim");
        app.smtp.resume().await;
        let started = Instant::now();
        let app = app
            .restart_with(|c: &mut shop_accounts::Config| c.mail_lease_seconds = 3)
            .await;
        let took = wait_received(&app.smtp, 1, Duration::from_secs(12)).await;
        eprintln!(
            "a dead worker's message delivered {:.1} s after the restart (lease {lease} s)",
            took.as_secs_f64()
        );
        assert!(
            started.elapsed() >= Duration::from_millis(1500),
            "not taken while the lease held"
        );
        let ids = app.smtp.message_ids();
        assert!(ids[0].contains(&format!("outbox-{}@", claimed.id)));
        delivered_exactly_once(&app, 1).await;
    }
);

store_test_with!(
    a_slow_relay_keeps_the_lease_so_two_workers_send_once,
    // Stalls 5 s before its 250: longer than the 3 s lease, shorter than the 10 s timeout.
    |c: &mut shop_accounts::Config| {
        c.mail_lease_seconds = 3;
        c.smtp_timeout_seconds = 10;
    },
    |app: TestApp| async move {
        let mut app = app;
        let mut other = app
            .second_instance_with(|c: &mut shop_accounts::Config| {
                c.mail_lease_seconds = 3;
                c.smtp_timeout_seconds = 10;
            })
            .await;
        app.register("slow@example.com", PASSWORD).await;
        app.smtp
            .set_fault(Fault::SlowAccept(Duration::from_secs(5)));
        queue_resets(&app, "slow@example.com", 1).await;
        wait_received(&app.smtp, 1, Duration::from_secs(5)).await;
        // Both workers look at the queue every second while the send hangs.
        tokio::time::sleep(Duration::from_secs(7)).await;
        let ids = app.smtp.message_ids();
        assert_eq!(ids.len(), 1, "sent once: {ids:?}");
        let queue = app.db().mail_queue(None, 10).await.unwrap();
        assert_eq!(queue[0].status, "sent");
        assert_eq!(queue[0].attempts, 1, "never claimed twice");
        other.stop().await;
        app.stop().await;
    }
);
