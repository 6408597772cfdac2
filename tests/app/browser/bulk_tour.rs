//! Bulk actions in a real browser (issue 11), in English and in Dutch, at
//! desktop and phone width: tick customers on the grid, choose Unlock, the
//! confirmation names the exact count, OK starts the job, and its progress page
//! refreshes itself (no JavaScript involved: a `Refresh` header) while the job
//! is queued and running, until it shows Done.
//!
//! The app runs no job runner of its own: the tour plays it, one batch at a
//! time, so the page is photographed queued, part-way and done.

use std::time::Duration;

use shop_accounts::accounts::admins::{self, Role};
use shop_accounts::i18n::Locale;
use shop_accounts::jobs::JobRunner;
use shop_accounts::jobs::runner::Batch;

use super::harness::{Browser, with_browser_on};
use crate::helpers::*;

const ADMIN_EMAIL: &str = "ada@shop.test";
const ADMIN_PASSWORD: &str = "Admin-lighthouse-31";

/// Waits until the browser loaded the page again by itself (the marker set on
/// the current document is gone), and returns the progress text.
async fn wait_for_refresh(b: &Browser) -> String {
    b.client
        .execute("window.__before_refresh = true; return true;", vec![])
        .await
        .expect("mark the document");
    for _ in 0..200 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let reloaded = b
            .client
            .execute(
                "return window.__before_refresh !== true && document.readyState === 'complete';",
                vec![],
            )
            .await
            .ok()
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        if reloaded {
            return b.find(".job-progress").await.text().await.unwrap();
        }
    }
    panic!("the job page did not refresh itself within 10 s");
}

async fn bulk_tour(app: TestApp, b: Browser) {
    admins::create(
        &app.state,
        ADMIN_EMAIL,
        "Ada Admin",
        Role::Administrator,
        ADMIN_PASSWORD,
        None,
    )
    .await
    .expect("create administrator");
    let names = [
        ("Jan", "de Vries"),
        ("Emma", "Bakker"),
        ("Sophie", "Jansen"),
        ("Lucas", "Visser"),
        ("Daan", "Smit"),
        ("Julia", "Meijer"),
    ];
    for (i, (first, last)) in names.iter().enumerate() {
        let email = format!("{}.{i}@example.com", first.to_lowercase());
        let registration = shop_accounts::accounts::customers::Registration {
            firstname: first,
            lastname: last,
            email: &email,
            password: super::PASSWORD,
            password_confirmation: super::PASSWORD,
        };
        shop_accounts::accounts::customers::register(&app.state, &registration, b.locale)
            .await
            .expect("register a customer");
    }

    b.goto("/admin/login").await;
    b.fill("#email", ADMIN_EMAIL).await;
    b.fill("#pass", ADMIN_PASSWORD).await;
    b.submit("/admin/login", &b.t("admin-login-button")).await;
    b.wait_path("/admin/customers").await;

    // Tick three customers and choose Unlock.
    let ticked: Vec<String> = {
        let boxes = b
            .client
            .find_all(fantoccini::Locator::Css("input[name=ids]"))
            .await
            .unwrap();
        assert_eq!(boxes.len(), names.len(), "a checkbox per row");
        let mut ticked = Vec::new();
        for checkbox in boxes.iter().take(3) {
            checkbox.click().await.unwrap();
            ticked.push(checkbox.attr("value").await.unwrap().unwrap());
        }
        ticked
    };
    b.find("#bulk-action option[value=unlock]")
        .await
        .click()
        .await
        .unwrap();
    b.page("bulk-01-grid-ticked").await;
    b.submit("/admin/customers/bulk", &b.t("admin-bulk-submit"))
        .await;

    // The confirmation names the action and the exact count.
    let question = b.find("#bulk-question").await.text().await.unwrap();
    let expected = b.locale.t_with(
        "admin-bulk-confirm-question",
        &[("action", &b.t("admin-bulk-unlock")), ("count", "3")],
    );
    assert_eq!(question.trim(), expected.trim());
    for id in &ticked {
        assert!(b.exists(&format!("input[name=ids][value=\"{id}\"]")).await);
    }
    b.page("bulk-02-confirm").await;
    b.submit("/admin/customers/bulk", &b.t("admin-ok")).await;
    b.wait_path_prefix("/admin/jobs/").await;
    let id: i64 = b
        .path()
        .await
        .trim_start_matches("/admin/jobs/")
        .parse()
        .expect("the job's page");
    let state = b.find(".job-state").await.text().await.unwrap();
    assert_eq!(state.trim(), b.t("admin-job-state-queued"));
    assert!(
        b.exists("form[action$=\"/cancel\"]").await,
        "a queued job can be cancelled"
    );
    b.page("bulk-03-progress-queued").await;

    // The tour plays the runner: two customers, then the third.
    let runner = JobRunner::with_batch_size(app.state.clone(), "browser-tour", 2);
    let job = runner.claim().await.unwrap().expect("the job is waiting");
    assert_eq!(job.id, id);
    let Batch::Advanced(cursor) = runner.run_batch(&job, job.cursor_id).await.unwrap() else {
        panic!("a first batch");
    };
    let progress = wait_for_refresh(&b).await;
    let part = b.locale.t_with(
        "admin-job-progress",
        &[
            ("done", "2"),
            ("skipped", "0"),
            ("failed", "0"),
            ("total", "3"),
        ],
    );
    assert_eq!(progress.trim(), part.trim(), "the page refreshed by itself");
    b.page("bulk-04-progress-running").await;

    let Batch::Advanced(cursor) = runner.run_batch(&job, cursor).await.unwrap() else {
        panic!("a second batch");
    };
    assert_eq!(
        runner.run_batch(&job, cursor).await.unwrap(),
        Batch::Finished
    );
    let progress = wait_for_refresh(&b).await;
    let all = b.locale.t_with(
        "admin-job-progress",
        &[
            ("done", "3"),
            ("skipped", "0"),
            ("failed", "0"),
            ("total", "3"),
        ],
    );
    assert_eq!(progress.trim(), all.trim());
    let state = b.find(".job-state").await.text().await.unwrap();
    assert_eq!(state.trim(), b.t("admin-job-state-done"));
    assert!(
        !b.exists("form[action$=\"/cancel\"]").await,
        "nothing left to cancel"
    );
    b.page("bulk-05-progress-done").await;
    // Done: the page no longer refreshes itself.
    b.client
        .execute("window.__still_here = true; return true;", vec![])
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let still: bool = b
        .client
        .execute("return window.__still_here === true;", vec![])
        .await
        .unwrap()
        .as_bool()
        .unwrap();
    assert!(still, "a finished job's page stays put");

    b.click_text(&b.t("admin-job-all-jobs")).await;
    b.wait_path("/admin/jobs").await;
    b.page("bulk-06-jobs").await;
}

fn jobs_stopped(config: &mut shop_accounts::Config) {
    config.run_jobs = false;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "browser test: needs chromium and chromedriver; run with --include-ignored"]
async fn bulk_unlock_from_ticked_rows_to_a_finished_job_in_english() {
    with_browser_on(
        "bulk_unlock_from_ticked_rows_to_a_finished_job_in_english",
        Locale::En,
        jobs_stopped,
        bulk_tour,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "browser test: needs chromium and chromedriver; run with --include-ignored"]
async fn bulk_unlock_from_ticked_rows_to_a_finished_job_in_dutch() {
    with_browser_on(
        "bulk_unlock_from_ticked_rows_to_a_finished_job_in_dutch",
        Locale::Nl,
        jobs_stopped,
        bulk_tour,
    )
    .await;
}
