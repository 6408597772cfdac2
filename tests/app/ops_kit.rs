//! The operator's kit: `check`, `backup`, and the OpenAPI document served at
//! /rest/openapi.json.

use shop_accounts::Config;
use shop_accounts::cli::check::{self, Outcome};
use shop_accounts::config::MetricsListen;
use shop_accounts::store::{Db, MigrationState};

use crate::helpers::{Backend, TestApp};
use crate::store_test;

/// The configuration an operator would check before starting this app's twin.
fn config_of(app: &TestApp) -> Config {
    let mut config = (*app.state.config).clone();
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.metrics_listen = MetricsListen(Some("127.0.0.1:0".parse().unwrap()));
    config
}

fn problems(findings: &[check::Finding]) -> Vec<String> {
    findings
        .iter()
        .filter(|f| f.outcome == Outcome::Problem)
        .map(|f| f.line.clone())
        .collect()
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

store_test!(
    check_passes_on_a_migrated_store_and_an_answering_relay,
    |app: TestApp| async move {
        let findings = check::before_start(&config_of(&app)).await;
        assert_eq!(problems(&findings), Vec::<String>::new(), "{findings:?}");
        assert!(
            findings[0].line.contains("schema up to date"),
            "{findings:?}"
        );
        assert!(findings[1].line.contains("answers"), "{findings:?}");
        assert!(app.smtp.received().is_empty(), "a check sends no mail");
    }
);

store_test!(
    check_names_a_stopped_relay_and_busy_listeners,
    |mut app: TestApp| async move {
        let mut config = config_of(&app);
        app.smtp.stop();
        let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        config.metrics_listen = MetricsListen(Some(busy.local_addr().unwrap()));
        config.listen = app.address.trim_start_matches("http://").parse().unwrap();
        let found = problems(&check::before_start(&config).await);
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(
            found[0].starts_with("mail: the SMTP server at 127.0.0.1:"),
            "{found:?}"
        );
        assert!(found[1].starts_with("LISTEN 127.0.0.1:"), "{found:?}");
        assert!(
            found[2].starts_with("METRICS_LISTEN 127.0.0.1:"),
            "{found:?}"
        );
    }
);

store_test!(
    check_ready_asks_the_running_server,
    |mut app: TestApp| async move {
        let mut config = config_of(&app);
        config.listen = app.address.trim_start_matches("http://").parse().unwrap();
        let ready = check::server_ready(&config).await;
        assert_eq!(ready.outcome, Outcome::Ok, "{ready:?}");
        app.stop().await;
        let stopped = check::server_ready(&config).await;
        assert_eq!(stopped.outcome, Outcome::Problem, "{stopped:?}");
        assert!(
            stopped.line.starts_with("nothing answers on 127.0.0.1:"),
            "{stopped:?}"
        );
    }
);

#[tokio::test]
async fn check_names_a_stopped_database() {
    let port = closed_port();
    let config = Config::with_database(&format!("postgres://postgres@127.0.0.1:{port}/shop"));
    let finding = check::database(&config).await;
    assert_eq!(finding.outcome, Outcome::Problem, "{finding:?}");
    assert!(
        finding.line.starts_with("database: cannot connect: ")
            && finding.line.to_lowercase().contains("refused"),
        "{finding:?}"
    );

    let missing = std::env::temp_dir().join(format!("shop-accounts-missing-{port}.db"));
    let config = Config::with_database(&format!("sqlite://{}", missing.display()));
    let finding = check::database(&config).await;
    assert!(finding.line.contains("does not exist"), "{finding:?}");
    assert!(!missing.exists(), "a check creates no database");
}

#[tokio::test]
async fn check_names_an_unmigrated_database() {
    let dir = std::env::temp_dir().join("shop-accounts-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!(
        "unmigrated_{}_{}.db",
        std::process::id(),
        closed_port()
    ));
    let url = format!("sqlite://{}", file.display());
    Db::connect(&url).await.unwrap().close().await;
    let finding = check::database(&Config::with_database(&url)).await;
    assert_eq!(finding.outcome, Outcome::Problem, "{finding:?}");
    assert!(
        finding.line.contains("lacks") && finding.line.contains("shop-accounts migrate"),
        "{finding:?}"
    );
}

#[test]
fn check_refuses_a_base_url_links_cannot_start_with() {
    let mut config = Config::with_database("sqlite://var/shop.db");
    for (base, expected) in [
        ("ftp://shop.example", Outcome::Problem),
        ("https://user:pw@shop.example", Outcome::Problem),
        ("https://shop.example/?x=1", Outcome::Problem),
        ("http://shop.example", Outcome::Warning),
        ("https://shop.example", Outcome::Ok),
        ("http://localhost:3000", Outcome::Ok),
    ] {
        config.base_url = base.parse().unwrap();
        let findings = check::base_url(&config);
        assert_eq!(findings[0].outcome, expected, "{base}: {findings:?}");
    }
}

store_test!(
    backup_copies_sqlite_while_serving,
    |app: TestApp| async move {
        let target = std::env::temp_dir()
            .join("shop-accounts-tests")
            .join(format!(
                "backup_{}_{}.db",
                std::process::id(),
                closed_port()
            ));
        let config = (*app.state.config).clone();
        if app.backend == Backend::Postgres {
            let refused = shop_accounts::cli::backup::run(&config, &target)
                .await
                .unwrap_err();
            assert!(refused.to_string().contains("pg_dump"), "{refused}");
            return;
        }
        app.register("kept@example.com", "kept-password-1").await;
        // Sign-ups go on while the copy is taken.
        let signing_up = async {
            for i in 0..10 {
                app.register(&format!("during{i}@example.com"), "during-password-1")
                    .await;
            }
        };
        let (copied, ()) = tokio::join!(
            shop_accounts::cli::backup::run(&config, &target),
            signing_up
        );
        copied.unwrap();
        let again = shop_accounts::cli::backup::run(&config, &target)
            .await
            .unwrap_err();
        assert!(again.to_string().contains("already exists"), "{again}");

        let copy = Db::connect(&format!("sqlite://{}", target.display()))
            .await
            .unwrap();
        assert_eq!(
            copy.migration_state().await.unwrap(),
            MigrationState {
                pending: 0,
                unknown: 0
            }
        );
        let found = copy
            .customer_by_email_key("kept@example.com")
            .await
            .unwrap();
        assert!(found.is_some(), "the copy holds the customer");
        copy.close().await;
        let _ = std::fs::remove_file(&target);
    }
);

store_test!(
    openapi_document_is_served_and_matches_the_routes,
    |app: TestApp| async move {
        let client = reqwest::Client::new();
        let response = client
            .get(format!("{}/rest/openapi.json", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/json");
        let document: serde_json::Value = response.json().await.unwrap();
        assert!(document["openapi"].as_str().unwrap().starts_with("3."));
        let paths = document["paths"].as_object().unwrap();
        assert!(paths.len() >= 5);
        // Every documented operation is served: none falls through to the REST 404/405.
        for (path, operations) in paths {
            for method in operations.as_object().unwrap().keys() {
                let url = format!("{}/rest{path}", app.address);
                let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                let status = client
                    .request(method.clone(), &url)
                    .header("content-type", "application/json")
                    .body("{}")
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16();
                assert!(
                    status != 404 && status != 405,
                    "{method} {path} is documented but answers {status}"
                );
            }
        }
    }
);

store_test!(
    the_janitors_purges_go_through_an_index,
    |app: TestApp| async move {
        // The statements of src/store (outbox.rs, recovery.rs, token_failures.rs).
        let purges = [
            (
                "DELETE FROM mail_outbox WHERE status IN ('sent', 'failed') AND created_at < 1",
                "mail_outbox_done",
            ),
            (
                "DELETE FROM password_reset_tokens WHERE expires_at <= 1",
                "password_reset_tokens_expiry",
            ),
            (
                "DELETE FROM reset_token_failures WHERE created_at < 1",
                "reset_token_failures_created",
            ),
        ];
        for (purge, index) in purges {
            let plan: Vec<String> = match app.db() {
                Db::Sqlite(pool) => {
                    let rows: Vec<(i64, i64, i64, String)> =
                        sqlx::query_as(&format!("EXPLAIN QUERY PLAN {purge}"))
                            .fetch_all(pool)
                            .await
                            .unwrap();
                    rows.into_iter().map(|r| r.3).collect()
                }
                Db::Postgres(pool) => {
                    // An empty test table is read whole anyway: ask whether an
                    // index can serve the statement at all.
                    let mut tx = pool.begin().await.unwrap();
                    sqlx::query("SET LOCAL enable_seqscan = off")
                        .execute(&mut *tx)
                        .await
                        .unwrap();
                    sqlx::query_scalar(&format!("EXPLAIN {purge}"))
                        .fetch_all(&mut *tx)
                        .await
                        .unwrap()
                }
            };
            assert!(
                plan.iter().any(|line| line.contains(index))
                    && !plan.iter().any(|line| line.contains("SCAN mail_outbox")
                        || line.contains("SCAN password_reset_tokens")
                        || line.contains("SCAN reset_token_failures")),
                "{purge}: {plan:?}"
            );
        }
    }
);
