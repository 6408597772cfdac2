//! Pending reset links stay out of database dumps (issue 8, finding 9;
//! SECURITY-CHECKS 12): queued mail bodies are sealed under a key that is not
//! in the database, and opened by the mail worker at send time.

use std::time::Duration;

use shop_accounts::secrets::sealing::is_sealed;
use shop_accounts::store::Db;

use crate::helpers::*;
use crate::store_test;

const PASSWORD: &str = "correct-horse-9";
const CREATE: &str = "/customer/account/createPassword";

/// Waits until the worker has tried (and, with the relay down, failed) every queued mail.
async fn wait_until_tried(app: &TestApp) {
    for _ in 0..200 {
        let queue = app.db().mail_queue(None, 100).await.unwrap();
        if !queue.is_empty()
            && queue
                .iter()
                .all(|m| m.attempts >= 1 && m.status == "pending")
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the mail worker did not try the queued mail");
}

/// The bodies of every outbox row, as stored.
async fn stored_bodies(app: &TestApp) -> Vec<(Option<String>, Option<String>)> {
    let sql = "SELECT body_text, body_html FROM mail_outbox ORDER BY id";
    match app.db() {
        Db::Sqlite(pool) => sqlx::query_as(sql).fetch_all(pool).await.unwrap(),
        Db::Postgres(pool) => sqlx::query_as(sql).fetch_all(pool).await.unwrap(),
    }
}

/// What a dump of the database alone shows: every row of every table as text,
/// and on SQLite the database, -wal and -shm files byte for byte; on
/// PostgreSQL also `pg_dump` when it is installed.
async fn dump(app: &TestApp) -> Vec<u8> {
    use sqlx::Row;
    let mut out = Vec::new();
    match app.db() {
        Db::Sqlite(pool) => {
            let tables: Vec<String> =
                sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
                    .fetch_all(pool)
                    .await
                    .unwrap();
            for table in tables {
                let rows = sqlx::query(&format!("SELECT * FROM \"{table}\""))
                    .fetch_all(pool)
                    .await
                    .unwrap();
                for row in rows {
                    for i in 0..row.columns().len() {
                        if let Ok(Some(text)) = row.try_get::<Option<String>, _>(i) {
                            out.extend_from_slice(text.as_bytes());
                        } else if let Ok(Some(bytes)) = row.try_get::<Option<Vec<u8>>, _>(i) {
                            out.extend_from_slice(&bytes);
                        }
                        out.push(b'\t');
                    }
                }
            }
            let file = app.database_url.trim_start_matches("sqlite://");
            for suffix in ["", "-wal", "-shm"] {
                if let Ok(bytes) = std::fs::read(format!("{file}{suffix}")) {
                    out.extend_from_slice(&bytes);
                }
            }
        }
        Db::Postgres(pool) => {
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) FROM information_schema.tables \
                 WHERE table_schema NOT IN ('pg_catalog', 'information_schema')",
            )
            .fetch_all(pool)
            .await
            .unwrap();
            for table in tables {
                let rows: Vec<String> =
                    sqlx::query_scalar(&format!("SELECT t::text FROM {table} t"))
                        .fetch_all(pool)
                        .await
                        .unwrap();
                for row in rows {
                    out.extend_from_slice(row.as_bytes());
                    out.push(b'\n');
                }
            }
            match tokio::process::Command::new("pg_dump")
                .arg(&app.database_url)
                .output()
                .await
            {
                Ok(dumped) if dumped.status.success() => out.extend_from_slice(&dumped.stdout),
                Ok(dumped) => panic!(
                    "pg_dump failed: {}",
                    String::from_utf8_lossy(&dumped.stderr)
                ),
                Err(e) => eprintln!("pg_dump not run ({e}); the table texts are checked"),
            }
        }
    }
    out
}

fn holds(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// The token as PostgreSQL prints a bytea holding it.
fn hex(token: &str) -> String {
    token.bytes().map(|b| format!("{b:02x}")).collect()
}

store_test!(
    a_dump_taken_while_a_reset_mail_waits_holds_no_live_link,
    |app: TestApp| async move {
        let mut app = app;
        app.register("vault@example.com", PASSWORD).await;
        app.smtp.stop();
        let response = app.client().request_reset("vault@example.com").await;
        assert_eq!(location(&response), "/customer/account/login");
        wait_until_tried(&app).await;
        let dumped = dump(&app).await;
        assert!(
            holds(&dumped, "Reset your password"),
            "the dump holds the queued mail's row"
        );

        app.smtp.resume().await;
        app.advance_clock_and_wake(120);
        let mails = app.smtp.wait_for(1).await;
        let link = reset_link(&mails[0]).expect("the mail holds a reset link");
        let token = token_of(&link);
        assert!(!holds(&dumped, &token), "the dump holds the live token");
        assert!(
            !holds(&dumped, &hex(&token)),
            "the dump holds the token in hex"
        );
        let opened = app.client().get(&path_of(&link)).await;
        assert_eq!(location(&opened), CREATE, "the delivered link works");
    }
);

store_test!(
    queued_bodies_are_sealed_and_erased_after_delivery,
    |app: TestApp| async move {
        let mut app = app;
        app.register("sealed@example.com", PASSWORD).await;
        app.smtp.stop();
        app.client().request_reset("sealed@example.com").await;
        wait_until_tried(&app).await;
        let bodies = stored_bodies(&app).await;
        assert_eq!(bodies.len(), 1);
        for body in [&bodies[0].0, &bodies[0].1] {
            let body = body.as_deref().expect("a pending mail keeps its body");
            assert!(is_sealed(body), "stored in clear: {body}");
        }

        app.smtp.resume().await;
        app.advance_clock_and_wake(120);
        let mails = app.smtp.wait_for(1).await;
        assert!(mails[0].text().contains("Jane Doe"), "sent opened");
        assert!(reset_link(&mails[0]).is_some());
        for _ in 0..100 {
            if stored_bodies(&app).await == vec![(None, None)] {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the body was not erased after delivery");
    }
);

store_test!(
    two_instances_on_one_database_open_each_others_mail,
    |app: TestApp| async move {
        let mut app = app;
        app.register("pair@example.com", PASSWORD).await;
        app.smtp.stop();
        app.client().request_reset("pair@example.com").await;
        wait_until_tried(&app).await;
        // The first instance goes away; the second must open what the first sealed.
        let mut other = app.second_instance().await;
        app.stop().await;
        app.smtp.resume().await;
        other.advance_clock_and_wake(120);
        let mails = app.smtp.wait_for(1).await;
        let link = reset_link(&mails[0]).expect("a readable reset link");
        assert_eq!(location(&other.client().get(&path_of(&link)).await), CREATE);
        let counts = other.db().mail_status_counts().await.unwrap();
        assert_eq!(counts, vec![("sent".to_string(), 1)]);
        if app.backend == Backend::Sqlite {
            // Both used the one key file beside the database.
            let file = app.database_url.trim_start_matches("sqlite://");
            let key_file = std::path::Path::new(file).with_file_name("secret.key");
            assert_eq!(std::fs::read(&key_file).unwrap().len(), 32);
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
                assert_eq!(mode & 0o777, 0o600);
            }
        }
        other.stop().await;
    }
);

store_test!(
    without_secret_key_mail_still_goes_out,
    |app: TestApp| async move {
        let backend = app.backend;
        drop(app);
        let mut app = TestApp::spawn_with(backend, |c| c.secret_key = None).await;
        app.register("nokey@example.com", PASSWORD).await;
        app.smtp.stop();
        app.client().request_reset("nokey@example.com").await;
        wait_until_tried(&app).await;
        let (text, _) = stored_bodies(&app).await.remove(0);
        let text = text.unwrap();
        match backend {
            // SQLite seals under the key file beside the database.
            Backend::Sqlite => assert!(is_sealed(&text)),
            // PostgreSQL stores it in clear, as the start-up warning says.
            Backend::Postgres => assert!(text.contains("createPassword?token=")),
        }
        app.smtp.resume().await;
        app.advance_clock_and_wake(120);
        let mails = app.smtp.wait_for(1).await;
        let link = reset_link(&mails[0]).expect("a reset link");
        assert_eq!(location(&app.client().get(&path_of(&link)).await), CREATE);
    }
);

store_test!(
    mail_sealed_under_a_changed_key_fails_and_says_why,
    |app: TestApp| async move {
        let backend = app.backend;
        drop(app);
        let mut app = TestApp::spawn_with(backend, |c| {
            c.secret_key = Some("a-key-that-the-restart-will-not-have".parse().unwrap())
        })
        .await;
        app.register("rekey@example.com", PASSWORD).await;
        app.smtp.stop();
        app.client().request_reset("rekey@example.com").await;
        wait_until_tried(&app).await;
        // Restarted with another key (SQLite: the key file; PostgreSQL: the suite's SECRET_KEY).
        let mut app = app.restart().await;
        app.smtp.resume().await;
        app.advance_clock_and_wake(120);
        let mut queue = Vec::new();
        for _ in 0..100 {
            queue = app.db().mail_queue(None, 10).await.unwrap();
            if queue[0].status == "failed" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(queue[0].status, "failed", "{queue:?}");
        let reason = queue[0].last_error.clone().unwrap_or_default();
        assert!(reason.contains("changed"), "{reason}");
        assert!(app.smtp.received().is_empty(), "nothing garbled was sent");
        assert_eq!(stored_bodies(&app).await, vec![(None, None)]);

        // A new request works under the new key.
        app.set_option("min_minutes_between_requests", "0").await;
        app.client().request_reset("rekey@example.com").await;
        let mails = app.smtp.wait_for(1).await;
        let link = reset_link(&mails[0]).expect("a reset link");
        assert_eq!(location(&app.client().get(&path_of(&link)).await), CREATE);
        app.stop().await;
    }
);

#[test]
fn a_short_secret_key_is_refused_at_start() {
    use clap::Parser;
    use shop_accounts::config::Cli;
    let short = Cli::try_parse_from(["shop-accounts", "--secret-key", "too-short"]);
    let message = short.unwrap_err().to_string();
    assert!(message.contains("at least 32 characters"), "{message}");
    let fine = Cli::try_parse_from([
        "shop-accounts",
        "--secret-key",
        "0123456789abcdef0123456789abcdef",
    ]);
    assert!(fine.unwrap().config.secret_key.is_some());
}
