//! Bulk Reset Password, Unlock and Force Sign In (issue 11, SPEC §7): the grid's
//! selection and its exact count, each action as the single action does it,
//! the role split, cancel, a restart in the middle of a job, two instances on one
//! job queue, and single requests' mail before bulk mail — on both stores.

use std::time::Duration;

use shop_accounts::accounts::admins::{self, Role};
use shop_accounts::api_tokens;
use shop_accounts::jobs::JobRunner;
use shop_accounts::jobs::runner::Batch;
use shop_accounts::store::{Db, DemoCustomer, JobRow, NewCustomer};

use crate::helpers::*;
use crate::store_test;

use crate::store_test_with;

/// An instance that serves pages but works on no job: the test plays the runners.
fn jobs_stopped(config: &mut shop_accounts::Config) {
    config.run_jobs = false;
}

const PASSWORD: &str = "correct-horse-9";
const ADMIN_EMAIL: &str = "ada@shop.test";
const SUPPORT_EMAIL: &str = "sam@shop.test";
const ADMIN_PASSWORD: &str = "admin-horse-77";

async fn admin_client(app: &TestApp, email: &str, role: Role) -> Client {
    admins::create(&app.state, email, "Ada Admin", role, ADMIN_PASSWORD, None)
        .await
        .expect("create administrator");
    let client = app.client();
    let response = client
        .post_form(
            "/admin/login",
            &[("email", email), ("password", ADMIN_PASSWORD)],
        )
        .await;
    assert_eq!(location(&response), "/admin/customers", "{email} signs in");
    client
}

/// A customer written straight to the store (no password hashing: fast).
async fn customer(app: &TestApp, first: &str, last: &str, email: &str) -> i64 {
    let keys = email.to_ascii_lowercase();
    app.db()
        .insert_customer(&NewCustomer {
            email,
            email_key: &keys,
            firstname: first,
            lastname: last,
            password_hash: "not-a-hash",
            security_stamp: "stamp",
            locale: "en",
            created_at: app.state.now(),
        })
        .await
        .unwrap()
}

async fn customers(app: &TestApp, n: usize, prefix: &str) -> Vec<i64> {
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(customer(app, "Bulk", "Shopper", &format!("{prefix}{i}@example.com")).await);
    }
    ids
}

async fn execute(app: &TestApp, sql: &str) {
    match app.db() {
        Db::Sqlite(pool) => sqlx::query(sql).execute(pool).await.map(|_| ()),
        Db::Postgres(pool) => sqlx::query(sql).execute(pool).await.map(|_| ()),
    }
    .unwrap();
}

async fn scalar(app: &TestApp, sql: &str) -> i64 {
    match app.db() {
        Db::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
        Db::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
    }
    .unwrap()
}

/// Posts the grid's bulk form; returns the response (a confirmation page or a redirect).
async fn bulk(client: &Client, fields: &[(&str, &str)]) -> reqwest::Response {
    client.post_form("/admin/customers/bulk", fields).await
}

/// Posts the form, then OK on its confirmation page; returns the job id.
async fn start_job(client: &Client, fields: &[(&str, &str)]) -> i64 {
    let page = bulk(client, fields).await;
    assert_eq!(page.status(), 200, "a confirmation page");
    let page = page.text().await.unwrap();
    let upto = hidden_value(&page, "upto").expect("the confirmation keeps the count's bound");
    let mut confirm: Vec<(&str, &str)> = fields.to_vec();
    confirm.push(("upto", &upto));
    confirm.push(("confirm", "1"));
    let started = bulk(client, &confirm).await;
    assert_eq!(started.status(), 303);
    let target = location(&started);
    target
        .strip_prefix("/admin/jobs/")
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("OK leads to the job's page, not {target}"))
}

fn hidden_value(page: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker)? + marker.len();
    let end = page[start..].find('"')? + start;
    Some(page[start..end].to_string())
}

/// "Unlock for 3 customers?" from a confirmation page.
fn confirmed_count(page: &str) -> i64 {
    let page = html_unescape(page);
    let question = page
        .split("<strong>")
        .nth(1)
        .and_then(|s| s.split("</strong>").next())
        .expect("the confirmation question");
    question
        .split(" for ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a count in {question:?}"))
}

/// The job lease of the instance (`JOB_LEASE_SECONDS`).
fn lease(app: &TestApp) -> i64 {
    i64::from(app.state.config.job_lease_seconds)
}

/// Jobs worked by the test's runners alone, on the shortest lease there is.
fn short_lease_jobs_stopped(config: &mut shop_accounts::Config) {
    config.run_jobs = false;
    config.job_lease_seconds = 3;
}

async fn wait_for_job(app: &TestApp, id: i64) -> JobRow {
    for _ in 0..600 {
        let job = app.db().job(id).await.unwrap().expect("the job");
        if matches!(job.state.as_str(), "done" | "cancelled") {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("job {id} did not finish in 30 s");
}

/// How many audit entries of `action` the customer has that are tagged with the job.
async fn tagged_entries(app: &TestApp, customer_id: i64, action: &str, job: i64) -> usize {
    let tag = format!("job {job}");
    app.db()
        .audit_page(Some(customer_id), None, 1000)
        .await
        .unwrap()
        .iter()
        .filter(|row| {
            row.action == action
                && (row.detail == tag || row.detail.starts_with(&format!("{tag};")))
        })
        .count()
}

store_test!(
    selection_counts_ticked_ids_and_all_matching_exactly,
    |app: TestApp| async move {
        let admin = admin_client(&app, ADMIN_EMAIL, Role::Administrator).await;
        let jan = customer(&app, "Jan", "de Vries", "jan@example.com").await;
        let janna = customer(&app, "Janna", "Bakker", "janna@example.com").await;
        customer(&app, "Piet", "Jansen", "piet@example.com").await;
        customer(&app, "Kees", "Smit", "kees@example.com").await;

        // The grid offers the checkboxes and "all matching".
        let grid = admin.get_text("/admin/customers?q=jan").await;
        assert!(grid.contains(&format!("name=\"ids\" value=\"{jan}\"")));
        assert!(grid.contains("name=\"all_matching\" value=\"1\""));
        assert!(grid.contains("value=\"force_sign_in\""));

        // Ticked: unknown ids are not counted.
        let ids = [jan.to_string(), janna.to_string(), "999999".to_string()];
        let page = bulk(
            &admin,
            &[
                ("action", "unlock"),
                ("ids", &ids[0]),
                ("ids", &ids[1]),
                ("ids", &ids[2]),
            ],
        )
        .await
        .text()
        .await
        .unwrap();
        assert_eq!(confirmed_count(&page), 2, "{page}");
        assert!(
            page.contains("name=\"confirm\" value=\"1\""),
            "OK posts the form again"
        );
        assert!(
            page.contains("href=\"/admin/customers?"),
            "Cancel goes back to the grid"
        );

        // All matching: the grid's keyword ("jan" finds Jan, Janna and Piet Jansen).
        let page = bulk(
            &admin,
            &[("action", "unlock"), ("all_matching", "1"), ("q", "jan")],
        )
        .await
        .text()
        .await
        .unwrap();
        assert_eq!(confirmed_count(&page), 3, "{page}");
        let page = bulk(&admin, &[("action", "unlock"), ("all_matching", "1")])
            .await
            .text()
            .await
            .unwrap();
        assert_eq!(confirmed_count(&page), 4);

        // The selection is fixed at confirmation: a customer created after the
        // count is not swept in.
        let fields = [("action", "unlock"), ("all_matching", "1"), ("q", "jan")];
        let page = bulk(&admin, &fields).await.text().await.unwrap();
        let upto = hidden_value(&page, "upto").unwrap();
        customer(&app, "Jan", "Later", "jan.later@example.com").await;
        let mut confirm = fields.to_vec();
        confirm.extend([("upto", upto.as_str()), ("confirm", "1")]);
        let started = bulk(&admin, &confirm).await;
        let id: i64 = location(&started)
            .trim_start_matches("/admin/jobs/")
            .parse()
            .unwrap();
        let job = wait_for_job(&app, id).await;
        assert_eq!((job.state.as_str(), job.total, job.done), ("done", 3, 3));

        // Nothing chosen, or an unknown action: a message, nothing started.
        let jobs_before = scalar(&app, "SELECT COUNT(*) FROM jobs").await;
        let none = bulk(&admin, &[("action", "unlock")]).await;
        assert_eq!(none.status(), 303);
        assert!(flashes(&admin.follow(&none).await)[0].contains("Tick at least one customer"));
        let odd = bulk(&admin, &[("action", "delete"), ("ids", &ids[0])]).await;
        assert_eq!(odd.status(), 303);
        assert!(flashes(&admin.follow(&odd).await)[0].contains("Choose Reset Password"));
        let empty = bulk(
            &admin,
            &[("action", "unlock"), ("all_matching", "1"), ("q", "zzz")],
        )
        .await;
        assert!(flashes(&admin.follow(&empty).await)[0].contains("No customers match"));
        assert_eq!(scalar(&app, "SELECT COUNT(*) FROM jobs").await, jobs_before);
    }
);

store_test!(
    unlock_and_force_sign_in_jobs_do_what_the_single_actions_do,
    |app: TestApp| async move {
        let admin = admin_client(&app, ADMIN_EMAIL, Role::Administrator).await;
        app.register("tok1@example.com", PASSWORD).await;
        app.register("tok2@example.com", PASSWORD).await;
        let first = api_tokens::issue(
            &app.state,
            "tok1@example.com",
            PASSWORD,
            [127, 0, 0, 1].into(),
        )
        .await
        .unwrap();
        let second = api_tokens::issue(
            &app.state,
            "tok2@example.com",
            PASSWORD,
            [127, 0, 0, 1].into(),
        )
        .await
        .unwrap();
        let mut ids = customers(&app, 12, "bulk").await;
        for email in ["tok1@example.com", "tok2@example.com"] {
            ids.push(
                app.db()
                    .customer_by_email_key(email)
                    .await
                    .unwrap()
                    .unwrap()
                    .id,
            );
        }
        let until = app.state.now() + 3600;
        execute(
            &app,
            &format!("UPDATE customers SET failed_sign_ins = 10, locked_until = {until}"),
        )
        .await;

        let unlock = start_job(&admin, &[("action", "unlock"), ("all_matching", "1")]).await;
        let job = wait_for_job(&app, unlock).await;
        assert_eq!(
            (job.done, job.skipped, job.failed, job.total),
            (14, 0, 0, 14)
        );
        assert_eq!(
            scalar(&app, "SELECT COUNT(*) FROM customers WHERE locked_until IS NOT NULL OR failed_sign_ins <> 0").await,
            0,
            "every lockout cleared"
        );
        for id in &ids {
            assert_eq!(
                tagged_entries(&app, *id, "unlock", unlock).await,
                1,
                "customer {id}"
            );
        }

        assert!(
            api_tokens::verify(&app.state, &first)
                .await
                .unwrap()
                .is_some()
        );
        let force = start_job(
            &admin,
            &[
                ("action", "force_sign_in"),
                ("all_matching", "1"),
                ("q", "tok"),
            ],
        )
        .await;
        let job = wait_for_job(&app, force).await;
        assert_eq!((job.done, job.total), (2, 2));
        assert!(
            api_tokens::verify(&app.state, &first)
                .await
                .unwrap()
                .is_none(),
            "tokens revoked"
        );
        assert!(
            api_tokens::verify(&app.state, &second)
                .await
                .unwrap()
                .is_none()
        );
        for id in &ids[12..] {
            assert_eq!(tagged_entries(&app, *id, "force_sign_in", force).await, 1);
        }
        assert_eq!(
            tagged_entries(&app, ids[0], "force_sign_in", force).await,
            0,
            "only the selection"
        );

        // The job's page and the list show it, in both languages.
        let page = admin.get_text(&format!("/admin/jobs/{force}")).await;
        assert!(page.contains("2 done, 0 skipped, 0 failed of 2"), "{page}");
        assert!(page.contains("Done"));
        let list = admin.get_text("/admin/jobs").await;
        assert!(
            list.find(&format!(">{force}<")).unwrap() < list.find(&format!(">{unlock}<")).unwrap(),
            "newest first"
        );
        let audit = admin.get_text("/admin/audit").await;
        assert!(audit.contains("Bulk job started"));
    }
);

/// The customers' security stamps, in the order of `ids`.
async fn stamps(app: &TestApp, ids: &[i64]) -> Vec<String> {
    let mut stamps = Vec::new();
    for id in ids {
        let row = app
            .db()
            .customer_by_id(*id)
            .await
            .unwrap()
            .expect("the customer");
        stamps.push(row.security_stamp);
    }
    stamps
}

store_test!(
    a_bulk_force_sign_in_gives_each_customer_a_new_stamp_and_ends_their_tokens_and_sessions,
    |app: TestApp| async move {
        let admin = admin_client(&app, ADMIN_EMAIL, Role::Administrator).await;
        let emails = [
            "set0@example.com",
            "set1@example.com",
            "set2@example.com",
            "bystander@example.com",
        ];
        let (mut ids, mut tokens, mut browsers) = (Vec::new(), Vec::new(), Vec::new());
        for email in emails {
            app.register(email, PASSWORD).await;
            ids.push(
                app.db()
                    .customer_by_email_key(email)
                    .await
                    .unwrap()
                    .unwrap()
                    .id,
            );
            let mut own = Vec::new();
            for _ in 0..2 {
                own.push(
                    api_tokens::issue(&app.state, email, PASSWORD, [127, 0, 0, 1].into())
                        .await
                        .unwrap(),
                );
            }
            tokens.push(own);
            let browser = app.client();
            let signed_in = browser.sign_in(email, PASSWORD).await;
            assert_eq!(location(&signed_in), "/customer/account", "{email}");
            browsers.push(browser);
        }
        // An outstanding reset link of one of them dies too.
        app.client().request_reset("set0@example.com").await;
        let links = format!(
            "SELECT COUNT(*) FROM password_reset_tokens WHERE customer_id = {}",
            ids[0]
        );
        assert_eq!(scalar(&app, &links).await, 1);
        let before = stamps(&app, &ids).await;

        let picked: Vec<String> = ids[..3].iter().map(|id| id.to_string()).collect();
        let mut fields = vec![("action", "force_sign_in")];
        fields.extend(picked.iter().map(|id| ("ids", id.as_str())));
        let job = start_job(&admin, &fields).await;
        let done = wait_for_job(&app, job).await;
        assert_eq!(
            (done.done, done.skipped, done.failed, done.total),
            (3, 0, 0, 3)
        );

        let after = stamps(&app, &ids).await;
        let distinct: std::collections::HashSet<&String> = after[..3].iter().collect();
        assert_eq!(distinct.len(), 3, "each customer gets a stamp of their own");
        assert_eq!(after[3], before[3], "the bystander keeps theirs");
        assert_eq!(scalar(&app, &links).await, 0, "reset links die");
        for (i, id) in ids.iter().enumerate() {
            let count = |sql: &str| format!("SELECT COUNT(*) FROM {sql} AND customer_id = {id}");
            let live = scalar(&app, &count("api_tokens WHERE revoked_at IS NULL")).await;
            let listed = scalar(&app, &count("customer_sessions WHERE 1 = 1")).await;
            let events = scalar(
                &app,
                &count(&format!(
                    "customer_events WHERE kind = 'force_sign_in' AND detail = '{ADMIN_EMAIL}'"
                )),
            )
            .await;
            let token_count = scalar(
                &app,
                &format!("SELECT api_token_count FROM customers WHERE id = {id}"),
            )
            .await;
            let audit = tagged_entries(&app, *id, "force_sign_in", job).await;
            let account = browsers[i].get("/customer/account").await;
            let mut verified = Vec::new();
            for token in &tokens[i] {
                verified.push(
                    api_tokens::verify(&app.state, token)
                        .await
                        .unwrap()
                        .is_some(),
                );
            }
            if i < 3 {
                assert_ne!(after[i], before[i], "customer {id}: a new stamp");
                assert_eq!(
                    (live, listed, token_count, events, audit),
                    (0, 0, 0, 1, 1),
                    "customer {id}: no live token or session, one event and one audit entry"
                );
                assert_eq!(verified, [false, false], "customer {id}");
                assert_eq!(
                    location(&account),
                    "/customer/account/login",
                    "customer {id}: signed out"
                );
            } else {
                assert_eq!((live, token_count, events, audit), (2, 2, 0, 0));
                assert!(listed > 0, "the bystander's session stays listed");
                assert_eq!(verified, [true, true]);
                assert_eq!(account.status(), 200, "the bystander stays signed in");
            }
        }
    }
);

store_test!(
    a_bulk_reset_sends_links_within_the_limits_and_counts_the_refused_as_skipped,
    |app: TestApp| async move {
        let admin = admin_client(&app, ADMIN_EMAIL, Role::Administrator).await;
        let ids = customers(&app, 4, "reset").await;
        // One of them asked for a link a moment ago: the 10-minute spacing refuses another.
        let shopper = app.client();
        shopper.request_reset("reset0@example.com").await;
        app.smtp.wait_for(1).await;

        let job = start_job(
            &admin,
            &[
                ("action", "reset_password"),
                ("all_matching", "1"),
                ("q", "reset"),
            ],
        )
        .await;
        let done = wait_for_job(&app, job).await;
        assert_eq!((done.done, done.skipped, done.failed), (3, 1, 0));
        assert_eq!(
            tagged_entries(&app, ids[0], "reset_password_refused", job).await,
            1
        );
        assert_eq!(tagged_entries(&app, ids[0], "reset_password", job).await, 0);
        for id in &ids[1..] {
            assert_eq!(tagged_entries(&app, *id, "reset_password", job).await, 1);
        }
        // Bulk mail waits behind single requests' mail in the outbox.
        assert_eq!(
            scalar(&app, "SELECT COUNT(*) FROM mail_outbox WHERE priority = 1").await,
            3
        );
        let mails = app.smtp.wait_for(4).await;
        for i in 1..4 {
            let to = format!("reset{i}@example.com");
            let mail = mails
                .iter()
                .find(|m| m.to.iter().any(|t| t.contains(&to)))
                .expect("a link");
            assert!(
                reset_link(mail).is_some(),
                "the same reset link as the single action"
            );
        }
        // Only the refused request is gone without a trace; the others count.
        assert_eq!(
            scalar(&app, "SELECT COUNT(*) FROM password_reset_requests").await,
            4
        );
    }
);

store_test!(
    support_may_reset_and_unlock_in_bulk_but_not_force_sign_in,
    |app: TestApp| async move {
        let support = admin_client(&app, SUPPORT_EMAIL, Role::Support).await;
        let ids = customers(&app, 3, "role").await;
        let id = ids[0].to_string();
        let grid = support.get_text("/admin/customers").await;
        assert!(grid.contains("value=\"unlock\"") && !grid.contains("value=\"force_sign_in\""));

        let refused = bulk(&support, &[("action", "force_sign_in"), ("ids", &id)]).await;
        assert_eq!(refused.status(), 403);
        let refused = bulk(
            &support,
            &[
                ("action", "force_sign_in"),
                ("ids", &id),
                ("upto", "999"),
                ("confirm", "1"),
            ],
        )
        .await;
        assert_eq!(refused.status(), 403);
        assert_eq!(
            scalar(&app, "SELECT COUNT(*) FROM jobs").await,
            0,
            "nothing started"
        );

        let unlock = start_job(&support, &[("action", "unlock"), ("ids", &id)]).await;
        assert_eq!(wait_for_job(&app, unlock).await.done, 1);
        let reset = start_job(&support, &[("action", "reset_password"), ("ids", &id)]).await;
        assert_eq!(wait_for_job(&app, reset).await.done, 1);

        // A force sign-in job an Administrator started cannot be cancelled by Support.
        let admin = admin_client(&app, ADMIN_EMAIL, Role::Administrator).await;
        let force = start_job(&admin, &[("action", "force_sign_in"), ("ids", &id)]).await;
        let cancel = support
            .post_form(&format!("/admin/jobs/{force}/cancel"), &[])
            .await;
        assert_eq!(cancel.status(), 403);
        assert!(
            support
                .get_text(&format!("/admin/jobs/{force}"))
                .await
                .contains("Bulk Job")
        );
    }
);

store_test_with!(
    cancel_stops_a_job_before_its_next_batch,
    jobs_stopped,
    |app: TestApp| async move {
        let admin = admin_client(&app, ADMIN_EMAIL, Role::Administrator).await;
        customers(&app, 5, "cancel").await;
        let id = start_job(&admin, &[("action", "unlock"), ("all_matching", "1")]).await;

        let running = admin.get(&format!("/admin/jobs/{id}")).await;
        assert!(
            running.headers().get("refresh").is_some(),
            "refreshes itself while queued"
        );
        let page = running.text().await.unwrap();
        assert!(page.contains("Queued") && page.contains("0 done, 0 skipped, 0 failed of 5"));
        assert!(page.contains(&format!("action=\"/admin/jobs/{id}/cancel\"")));

        // A runner holds it, then it is cancelled: the runner's next batch is refused.
        let runner = JobRunner::with_owner(app.state.clone(), "runner-a");
        let job = runner.claim().await.unwrap().expect("the queued job");
        let cancelled = admin
            .post_form(&format!("/admin/jobs/{id}/cancel"), &[])
            .await;
        assert_eq!(cancelled.status(), 303);
        let page = admin.follow(&cancelled).await;
        assert!(flashes(&page)[0].contains("The job was cancelled"));
        assert_eq!(
            runner.run_batch(&job, job.cursor_id).await.unwrap(),
            Batch::Stopped
        );
        let job = app.db().job(id).await.unwrap().unwrap();
        assert_eq!(
            (job.state.as_str(), job.done),
            ("cancelled", 0),
            "the batch was rolled back"
        );
        assert_eq!(
            scalar(
                &app,
                "SELECT COUNT(*) FROM audit_log WHERE action = 'unlock'"
            )
            .await,
            0
        );
        assert!(
            runner.claim().await.unwrap().is_none(),
            "a cancelled job is never claimed"
        );
        let after = admin.get(&format!("/admin/jobs/{id}")).await;
        assert!(after.headers().get("refresh").is_none());
        // Cancelling again says it had ended.
        let again = admin
            .post_form(&format!("/admin/jobs/{id}/cancel"), &[])
            .await;
        assert!(flashes(&admin.follow(&again).await)[0].contains("already ended"));
    }
);

store_test_with!(
    a_job_whose_instance_died_resumes_at_its_cursor_without_repeats_or_gaps,
    jobs_stopped,
    |app: TestApp| async move {
        let admin = admin_client(&app, ADMIN_EMAIL, Role::Administrator).await;
        let ids = customers(&app, 35, "restart").await;
        let id = start_job(
            &admin,
            &[("action", "force_sign_in"), ("all_matching", "1")],
        )
        .await;

        // Instance A works two batches of 10, then dies (kill -9: no hand-back).
        let a = JobRunner::with_batch_size(app.state.clone(), "instance-a", 10);
        let job = a.claim().await.unwrap().unwrap();
        let Batch::Advanced(cursor) = a.run_batch(&job, job.cursor_id).await.unwrap() else {
            panic!("a first batch")
        };
        let Batch::Advanced(cursor) = a.run_batch(&job, cursor).await.unwrap() else {
            panic!("a second batch")
        };
        assert_eq!(cursor, ids[19]);
        drop(a);

        // Instance B starts; the job is A's until A's lease runs out.
        let b = app.second_instance().await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let job = app.db().job(id).await.unwrap().unwrap();
        assert_eq!((job.state.as_str(), job.done), ("running", 20));
        app.advance_clock(lease(&app) + 1);
        let job = wait_for_job(&b, id).await;
        assert_eq!(
            (job.state.as_str(), job.done, job.skipped, job.failed),
            ("done", 35, 0, 0)
        );
        for customer in &ids {
            assert_eq!(
                tagged_entries(&app, *customer, "force_sign_in", id).await,
                1,
                "customer {customer} handled exactly once"
            );
        }
    }
);

store_test_with!(
    a_stopping_instance_hands_its_job_back_and_a_restart_finishes_it,
    jobs_stopped,
    |app: TestApp| async move {
        let admin = admin_client(&app, ADMIN_EMAIL, Role::Administrator).await;
        let ids = customers(&app, 200, "graceful").await;
        let id = start_job(&admin, &[("action", "unlock"), ("all_matching", "1")]).await;
        // A runner working one customer per batch is told to stop part-way.
        let runner = JobRunner::with_batch_size(app.state.clone(), "stopping", 1);
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let running = tokio::spawn(runner.run(stopped));
        while app.db().job(id).await.unwrap().unwrap().done < 3 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        stop.send(true).unwrap();
        running.await.unwrap();
        let job = app.db().job(id).await.unwrap().unwrap();
        assert_eq!(job.state, "queued", "handed back to the queue at once");
        assert!(job.done < 200, "stopped part-way ({} done)", job.done);
        // A restarted instance (jobs on) takes it over without waiting for a lease.
        let app = app.restart().await;
        let job = wait_for_job(&app, id).await;
        assert_eq!((job.done, job.total), (200, 200));
        for customer in ids.iter().step_by(20) {
            assert_eq!(tagged_entries(&app, *customer, "unlock", id).await, 1);
        }
    }
);

store_test_with!(
    two_instances_share_one_job_queue_and_never_double_handle,
    |config: &mut shop_accounts::Config| config.job_batch_size = 7,
    |app: TestApp| async move {
        let second = app.second_instance().await;
        let admin = admin_client(&app, ADMIN_EMAIL, Role::Administrator).await;
        let ids = customers(&app, 30, "pair").await;
        let mut jobs = Vec::new();
        for _ in 0..3 {
            jobs.push(start_job(&admin, &[("action", "unlock"), ("all_matching", "1")]).await);
        }
        for job in &jobs {
            let row = wait_for_job(&second, *job).await;
            assert_eq!((row.state.as_str(), row.done), ("done", 30));
        }
        for job in &jobs {
            for customer in &ids {
                assert_eq!(tagged_entries(&app, *customer, "unlock", *job).await, 1);
            }
        }
    }
);

store_test_with!(
    two_runners_claiming_one_job_at_once_never_both_get_it,
    jobs_stopped,
    |app: TestApp| async move {
        let admin = admin_client(&app, ADMIN_EMAIL, Role::Administrator).await;
        customers(&app, 3, "claim").await;
        let id = start_job(&admin, &[("action", "unlock"), ("all_matching", "1")]).await;
        let a = JobRunner::with_owner(app.state.clone(), "a");
        let b = JobRunner::with_owner(app.state.clone(), "b");
        let (x, y) = tokio::join!(a.claim(), b.claim());
        let claimed: Vec<i64> = [x.unwrap(), y.unwrap()]
            .into_iter()
            .flatten()
            .map(|j| j.id)
            .collect();
        assert_eq!(claimed, vec![id]);
    }
);

store_test_with!(
    a_single_reset_is_delivered_before_the_bulk_mail_queued_ahead_of_it,
    // One bulk message a second: 20 take 20 s; the single one must not wait for them.
    |config: &mut shop_accounts::Config| config.bulk_mail_per_minute = 60,
    |app: TestApp| async move {
        let admin = admin_client(&app, ADMIN_EMAIL, Role::Administrator).await;
        customers(&app, 20, "wave").await;
        customer(&app, "Single", "Shopper", "single@example.com").await;
        let job = start_job(
            &admin,
            &[
                ("action", "reset_password"),
                ("all_matching", "1"),
                ("q", "wave"),
            ],
        )
        .await;
        assert_eq!(wait_for_job(&app, job).await.done, 20);
        app.smtp.wait_for(1).await;

        let asked = std::time::Instant::now();
        app.client().request_reset("single@example.com").await;
        let single = loop {
            let got = app.smtp.received();
            if let Some(position) = got
                .iter()
                .position(|m| m.to.iter().any(|t| t.contains("single@")))
            {
                break position;
            }
            assert!(
                asked.elapsed() < Duration::from_secs(5),
                "the single reset arrives within 5 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert!(
            single < 10,
            "it overtook the bulk mail (arrived as message {single})"
        );
        assert!(
            scalar(
                &app,
                "SELECT COUNT(*) FROM mail_outbox WHERE priority = 1 AND status = 'pending'"
            )
            .await
                > 0,
            "bulk mail was still waiting"
        );
    }
);

// ---- bulkfix: "all matching" is the grid's rows, counts grouped per language ----

const DAY: i64 = 24 * 3600;

/// Unix seconds of noon (UTC) on a `YYYY-MM-DD` day.
fn noon(day: &str) -> i64 {
    let parts: Vec<u16> = day.split('-').map(|p| p.parse().unwrap()).collect();
    let month = time::Month::try_from(parts[1] as u8).unwrap();
    let date = time::Date::from_calendar_date(parts[0] as i32, month, parts[2] as u8).unwrap();
    date.midnight().assume_utc().unix_timestamp() + 12 * 3600
}

/// A customer as `demo-data` writes them, with the grid's filter columns set.
fn demo(
    email: &str,
    first: &str,
    last: &str,
    created: i64,
    last_sign_in: Option<i64>,
    locked_until: Option<i64>,
    tokens: usize,
) -> DemoCustomer {
    DemoCustomer {
        email: email.to_string(),
        email_key: email.to_ascii_lowercase(),
        firstname: first.to_string(),
        lastname: last.to_string(),
        security_stamp: "stamp".to_string(),
        locale: "en",
        created_at: created,
        last_sign_in_at: last_sign_in,
        locked_until,
        api_token_hashes: (0..tokens).map(|i| format!("hash-{email}-{i}")).collect(),
    }
}

async fn load(app: &TestApp, batch: &[DemoCustomer]) {
    let now = app.state.now();
    let mut loader = app.db().demo_loader().await.unwrap();
    loader.insert(batch, "x", now, now + DAY).await.unwrap();
    loader.finish().await.unwrap();
}

async fn id_of(app: &TestApp, email: &str) -> i64 {
    app.db()
        .customer_by_email_key(email)
        .await
        .unwrap()
        .unwrap()
        .id
}

/// "5 records found" on the grid.
fn grid_total(page: &str) -> i64 {
    let page = html_unescape(page);
    let status = page
        .split("class=\"grid-total\" role=\"status\">")
        .nth(1)
        .expect("the grid's total");
    status
        .split(' ')
        .next()
        .and_then(|n| n.replace([',', '.'], "").parse().ok())
        .unwrap_or_else(|| panic!("a total in {:?}", &status[..40.min(status.len())]))
}

/// The bulk form's fields from a grid query string, with "all matching".
fn all_matching(action: &'static str, query: &str) -> Vec<(String, String)> {
    let mut fields = vec![
        ("action".to_string(), action.to_string()),
        ("all_matching".to_string(), "1".to_string()),
    ];
    fields.extend(
        url::form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned())),
    );
    fields
}

fn borrowed(fields: &[(String, String)]) -> Vec<(&str, &str)> {
    fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

store_test!(
    all_matching_is_exactly_the_grid_with_each_filter,
    |app: TestApp| async move {
        let admin = admin_client(&app, ADMIN_EMAIL, Role::Administrator).await;
        let now = app.state.now();
        load(
            &app,
            &[
                // Locked, never signed in, created in January 2024.
                demo(
                    "anna@example.com",
                    "Anna",
                    "Slot",
                    noon("2024-01-10"),
                    None,
                    Some(now + 3600),
                    0,
                ),
                // A live API token, signed in during March.
                demo(
                    "bert@example.com",
                    "Bert",
                    "Token",
                    noon("2024-02-10"),
                    Some(noon("2024-03-05")),
                    None,
                    1,
                ),
                // A lockout that has run out; signed in during March.
                demo(
                    "cees@example.com",
                    "Cees",
                    "Oud",
                    noon("2023-06-01"),
                    Some(noon("2024-03-20")),
                    Some(now - 10),
                    0,
                ),
                // Anna again, not locked, created in January, signed in during April.
                demo(
                    "anna.vrij@example.com",
                    "Anna",
                    "Vrij",
                    noon("2024-01-20"),
                    Some(noon("2024-04-01")),
                    None,
                    0,
                ),
                // Nothing special; its token has expired.
                demo("dirk@example.com", "Dirk", "Gewoon", now, None, None, 1),
            ],
        )
        .await;
        execute(
            &app,
            &format!(
                "UPDATE api_tokens SET expires_at = {} WHERE token_hash LIKE 'hash-dirk%'",
                now - 1
            ),
        )
        .await;
        let mut id = std::collections::HashMap::new();
        for (name, email) in [
            ("anna", "anna@example.com"),
            ("bert", "bert@example.com"),
            ("cees", "cees@example.com"),
            ("vrij", "anna.vrij@example.com"),
            ("dirk", "dirk@example.com"),
        ] {
            id.insert(name, id_of(&app, email).await);
        }
        let cases: [(&str, &[&str]); 14] = [
            ("", &["anna", "bert", "cees", "vrij", "dirk"]),
            ("locked=yes", &["anna"]),
            ("locked=no", &["bert", "cees", "vrij", "dirk"]),
            ("has_tokens=yes", &["bert"]),
            ("has_tokens=no", &["anna", "cees", "vrij", "dirk"]),
            ("signed_in=ever", &["bert", "cees", "vrij"]),
            ("signed_in=never", &["anna", "dirk"]),
            (
                "created_from=2024-01-01&created_to=2024-01-31",
                &["anna", "vrij"],
            ),
            ("created_from=2024-01-15", &["bert", "vrij", "dirk"]),
            (
                "last_sign_in_from=2024-03-01&last_sign_in_to=2024-03-31",
                &["bert", "cees"],
            ),
            ("last_sign_in_to=2024-03-05", &["bert"]),
            // The keyword as the grid reads it: words from a word boundary on.
            ("q=anna", &["anna", "vrij"]),
            ("q=anna&signed_in=ever", &["vrij"]),
            // A value the grid does not understand is ignored there, and here.
            ("q=vrij+example&locked=maybe", &["vrij"]),
        ];
        for (query, expected) in cases {
            let mut expected: Vec<i64> = expected.iter().map(|name| id[name]).collect();
            expected.sort_unstable();
            let grid = admin.get_text(&format!("/admin/customers?{query}")).await;
            let fields = all_matching("unlock", query);
            let page = bulk(&admin, &borrowed(&fields)).await.text().await.unwrap();
            assert_eq!(
                grid_total(&grid),
                expected.len() as i64,
                "the grid with {query:?}"
            );
            assert_eq!(
                confirmed_count(&page),
                expected.len() as i64,
                "the confirmation with {query:?} counts what the grid shows"
            );
            // The grid's bulk form carries its filters, so "all matching" posts them.
            for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
                if name == "locked" && value == "maybe" {
                    continue;
                }
                let hidden = format!("name=\"{name}\" value=\"{value}\"");
                assert!(
                    html_unescape(&grid).contains(&hidden),
                    "{hidden} in the bulk form"
                );
            }

            let job = start_job(&admin, &borrowed(&fields)).await;
            let done = wait_for_job(&app, job).await;
            assert_eq!(
                (done.state.as_str(), done.total, done.done),
                ("done", expected.len() as i64, expected.len() as i64),
                "{query:?}"
            );
            let frozen: Vec<i64> = match app.db() {
                Db::Sqlite(pool) => sqlx::query_scalar(
                    "SELECT customer_id FROM job_customers WHERE job_id = $1 ORDER BY customer_id",
                )
                .bind(job)
                .fetch_all(pool)
                .await,
                Db::Postgres(pool) => sqlx::query_scalar(
                    "SELECT customer_id FROM job_customers WHERE job_id = $1 ORDER BY customer_id",
                )
                .bind(job)
                .fetch_all(pool)
                .await,
            }
            .unwrap();
            assert_eq!(frozen, expected, "the job's customers with {query:?}");
            for (name, customer) in &id {
                let touched = tagged_entries(&app, *customer, "unlock", job).await;
                let wanted = usize::from(expected.contains(customer));
                assert_eq!(touched, wanted, "{name} with {query:?}");
            }
            let filter = app.db().job(job).await.unwrap().unwrap().grid_filter;
            assert!(
                !filter.contains("locked=maybe"),
                "the job keeps the grid's filter as understood: {filter}"
            );
            if query.starts_with("q=anna&") {
                assert_eq!(filter, "q=anna&signed_in=ever");
            }
            // The unlock cleared Anna's lockout: lock her again for the next case.
            execute(
                &app,
                &format!(
                    "UPDATE customers SET locked_until = {} WHERE email_key = 'anna@example.com'",
                    now + 3600
                ),
            )
            .await;
        }

        // Pinned at confirmation: a customer created after the count is not
        // swept in, though they match.
        let fields = all_matching("unlock", "locked=yes");
        let page = bulk(&admin, &borrowed(&fields)).await.text().await.unwrap();
        assert_eq!(confirmed_count(&page), 1);
        let upto = hidden_value(&page, "upto").unwrap();
        let at = hidden_value(&page, "at").unwrap();
        load(
            &app,
            &[demo(
                "erik@example.com",
                "Erik",
                "Laat",
                now,
                None,
                Some(now + 3600),
                0,
            )],
        )
        .await;
        app.advance_clock(5);
        let mut confirm = borrowed(&fields);
        confirm.extend([
            ("upto", upto.as_str()),
            ("at", at.as_str()),
            ("confirm", "1"),
        ]);
        let started = bulk(&admin, &confirm).await;
        let job: i64 = location(&started)
            .trim_start_matches("/admin/jobs/")
            .parse()
            .unwrap();
        let done = wait_for_job(&app, job).await;
        assert_eq!((done.total, done.done), (1, 1), "only Anna, as confirmed");
        assert_eq!(tagged_entries(&app, id["anna"], "unlock", job).await, 1);
    }
);

/// The confirmation question's number as written ("1,000" / "1.000").
fn question_count(page: &str) -> String {
    let page = html_unescape(page);
    let question = page
        .split("<strong>")
        .nth(1)
        .unwrap()
        .split("</strong>")
        .next()
        .unwrap();
    question
        .split_whitespace()
        .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .unwrap_or_else(|| panic!("a number in {question:?}"))
        .to_string()
}

async fn page_in(client: &Client, path: &str, lang: &str) -> String {
    client
        .http
        .get(client.url(path))
        .header("Accept-Language", lang)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

store_test!(
    job_counts_are_grouped_in_the_admin_language,
    |app: TestApp| async move {
        let admin = admin_client(&app, ADMIN_EMAIL, Role::Administrator).await;
        let now = app.state.now();
        let batch: Vec<DemoCustomer> = (0..1234)
            .map(|i| {
                demo(
                    &format!("many{i}@grouping.example"),
                    "Many",
                    "Shopper",
                    now - i,
                    None,
                    None,
                    0,
                )
            })
            .collect();
        load(&app, &batch).await;
        let fields = all_matching("unlock", "q=grouping.example");
        let form_key = admin.form_key().await;
        for (lang, written) in [("en", "1,234"), ("nl", "1.234")] {
            let mut all = borrowed(&fields);
            all.push(("form_key", &form_key));
            let page = admin
                .http
                .post(admin.url("/admin/customers/bulk"))
                .header("Accept-Language", lang)
                .form(&all)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert_eq!(question_count(&page), written, "{lang}: {page}");
        }
        let job = start_job(&admin, &borrowed(&fields)).await;
        wait_for_job(&app, job).await;
        let en = page_in(&admin, &format!("/admin/jobs/{job}"), "en").await;
        assert!(
            en.contains("1,234 done, 0 skipped, 0 failed of 1,234"),
            "{en}"
        );
        let nl = page_in(&admin, &format!("/admin/jobs/{job}"), "nl").await;
        let progress = nl
            .split("class=\"job-progress\">")
            .nth(1)
            .and_then(|s| s.split('<').next())
            .expect("the progress line");
        assert!(
            progress.contains("1.234") && !progress.contains("1234"),
            "{progress}"
        );
        let list = page_in(&admin, "/admin/jobs", "nl").await;
        assert!(list.contains("1.234"), "{list}");
    }
);

store_test_with!(
    a_stretch_committed_before_a_crash_is_not_handled_again,
    jobs_stopped,
    |app: TestApp| async move {
        let admin = admin_client(&app, ADMIN_EMAIL, Role::Administrator).await;
        let ids = customers(&app, 20, "stretch").await;
        let id = start_job(&admin, &[("action", "unlock"), ("all_matching", "1")]).await;
        let a = JobRunner::with_batch_size(app.state.clone(), "instance-a", 10);
        let job = a.claim().await.unwrap().unwrap();
        let Batch::Advanced(cursor) = a.run_batch(&job, job.cursor_id).await.unwrap() else {
            panic!("a first batch")
        };
        assert_eq!(cursor, ids[9]);
        // The next batch's first stretch committed (its customers marked
        // handled), then the instance died before the cursor moved past the batch.
        execute(
            &app,
            &format!(
                "UPDATE job_customers SET handled = 1 WHERE job_id = {id} \
                 AND customer_id >= {} AND customer_id <= {}",
                ids[10], ids[12]
            ),
        )
        .await;
        drop(a);
        app.advance_clock(lease(&app) + 1);
        let b = JobRunner::with_batch_size(app.state.clone(), "instance-b", 10);
        let job = b.claim().await.unwrap().expect("taken over");
        assert_eq!(job.cursor_id, ids[9], "resumes at the cursor");
        let mut cursor = job.cursor_id;
        while let Batch::Advanced(next) = b.run_batch(&job, cursor).await.unwrap() {
            cursor = next;
        }
        let job = app.db().job(id).await.unwrap().unwrap();
        assert_eq!((job.state.as_str(), job.done), ("done", 17));
        for (i, customer) in ids.iter().enumerate() {
            let wanted = usize::from(!(10..=12).contains(&i));
            assert_eq!(
                tagged_entries(&app, *customer, "unlock", id).await,
                wanted,
                "customer {i}: handled stretches are never handled again"
            );
        }
        assert_eq!(
            scalar(
                &app,
                &format!("SELECT COUNT(*) FROM job_customers WHERE job_id = {id} AND handled = 0")
            )
            .await,
            0
        );
    }
);

store_test_with!(
    a_vanished_runners_job_is_taken_over_within_the_short_lease,
    short_lease_jobs_stopped,
    |app: TestApp| async move {
        let admin = admin_client(&app, ADMIN_EMAIL, Role::Administrator).await;
        let ids = customers(&app, 30, "vanish").await;
        let id = start_job(
            &admin,
            &[("action", "force_sign_in"), ("all_matching", "1")],
        )
        .await;
        // Runner A claims, works one batch under its heartbeat, and vanishes
        // (kill -9: no hand-back). The clock is not moved: real seconds pass.
        let a = JobRunner::with_batch_size(app.state.clone(), "instance-a", 10);
        let job = a.claim().await.unwrap().expect("A claims the job");
        let batch = a.holding_lease(&job, a.run_batch(&job, job.cursor_id));
        let Batch::Advanced(cursor) = batch.await.unwrap() else {
            panic!("A's first batch")
        };
        assert_eq!(cursor, ids[9]);
        let vanished = std::time::Instant::now();
        drop(a);

        let b = JobRunner::with_batch_size(app.state.clone(), "instance-b", 10);
        assert!(
            b.claim().await.unwrap().is_none(),
            "A's lease still holds the job"
        );
        let job = loop {
            if let Some(job) = b.claim().await.unwrap() {
                break job;
            }
            assert!(
                vanished.elapsed() < Duration::from_secs(lease(&app) as u64 + 3),
                "not taken over within the lease"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let took_over = vanished.elapsed();
        eprintln!(
            "taken over {:.2} s after the owner vanished (lease {} s)",
            took_over.as_secs_f64(),
            lease(&app)
        );
        assert!(
            took_over >= Duration::from_secs(2),
            "not before the lease ran out"
        );
        assert_eq!(
            (job.id, job.cursor_id),
            (id, ids[9]),
            "resumes at A's cursor"
        );
        let mut cursor = job.cursor_id;
        loop {
            match b
                .holding_lease(&job, b.run_batch(&job, cursor))
                .await
                .unwrap()
            {
                Batch::Advanced(next) => cursor = next,
                Batch::Finished => break,
                Batch::Stopped => panic!("B lost the job"),
            }
        }
        let job = app.db().job(id).await.unwrap().unwrap();
        assert_eq!(
            (job.state.as_str(), job.done, job.skipped, job.failed),
            ("done", 30, 0, 0)
        );
        for customer in &ids {
            assert_eq!(
                tagged_entries(&app, *customer, "force_sign_in", id).await,
                1,
                "customer {customer} handled exactly once"
            );
        }
    }
);

store_test_with!(
    a_batch_longer_than_the_lease_keeps_its_job_while_its_heartbeat_renews,
    short_lease_jobs_stopped,
    |app: TestApp| async move {
        let admin = admin_client(&app, ADMIN_EMAIL, Role::Administrator).await;
        let ids = customers(&app, 20, "slow").await;
        let id = start_job(&admin, &[("action", "unlock"), ("all_matching", "1")]).await;
        let seconds = lease(&app) as u64;
        let a = JobRunner::with_batch_size(app.state.clone(), "instance-a", 10);
        let b = JobRunner::with_batch_size(app.state.clone(), "instance-b", 10);
        let job = a.claim().await.unwrap().expect("A claims the job");
        // B tries to claim the job every 200 ms for a while; the job if it got it.
        let b = &b;
        let thief = |until: Duration| async move {
            let start = std::time::Instant::now();
            let mut stolen = Vec::new();
            while start.elapsed() < until {
                if let Some(job) = b.claim().await.unwrap() {
                    stolen.push(job);
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            stolen
        };

        // A batch that takes the lease and 3 s more, under A's heartbeat: B never gets the job.
        let slow = a.holding_lease(&job, async {
            tokio::time::sleep(Duration::from_secs(seconds + 3)).await;
            a.run_batch(&job, job.cursor_id).await
        });
        let (batch, stolen) = tokio::join!(slow, thief(Duration::from_secs(seconds + 2)));
        assert!(stolen.is_empty(), "a live runner's job was taken over");
        let Batch::Advanced(cursor) = batch.unwrap() else {
            panic!("the slow batch goes through")
        };
        assert_eq!(cursor, ids[9]);

        // The control: the same slow batch without the heartbeat loses the job
        // once the lease runs out, and then commits nothing.
        let unguarded = async {
            tokio::time::sleep(Duration::from_secs(seconds + 3)).await;
            a.run_batch(&job, cursor).await
        };
        let (batch, stolen) = tokio::join!(unguarded, thief(Duration::from_secs(seconds + 3)));
        let [taken] = stolen.as_slice() else {
            panic!("without a heartbeat the lease runs out and B takes the job")
        };
        assert_eq!(
            batch.unwrap(),
            Batch::Stopped,
            "A's late batch is rolled back"
        );
        assert_eq!(taken.cursor_id, ids[9]);
        let mut cursor = taken.cursor_id;
        while let Batch::Advanced(next) = b.run_batch(taken, cursor).await.unwrap() {
            cursor = next;
        }
        let job = app.db().job(id).await.unwrap().unwrap();
        assert_eq!((job.state.as_str(), job.done), ("done", 20));
        for customer in &ids {
            assert_eq!(
                tagged_entries(&app, *customer, "unlock", id).await,
                1,
                "customer {customer} handled exactly once"
            );
        }
    }
);

store_test_with!(
    a_job_cancelled_mid_batch_stops_its_runner_at_the_next_heartbeat,
    short_lease_jobs_stopped,
    |app: TestApp| async move {
        let admin = admin_client(&app, ADMIN_EMAIL, Role::Administrator).await;
        customers(&app, 5, "cancelled").await;
        let id = start_job(&admin, &[("action", "unlock"), ("all_matching", "1")]).await;
        let a = JobRunner::with_batch_size(app.state.clone(), "instance-a", 10);
        let job = a.claim().await.unwrap().expect("A claims the job");
        execute(
            &app,
            &format!("UPDATE jobs SET state = 'cancelled' WHERE id = {id}"),
        )
        .await;
        // A batch that never ends on its own: the heartbeat finds the job gone.
        let started = std::time::Instant::now();
        let batch = a
            .holding_lease(&job, std::future::pending::<anyhow::Result<Batch>>())
            .await;
        assert_eq!(batch.unwrap(), Batch::Stopped);
        assert!(
            started.elapsed() < Duration::from_secs(lease(&app) as u64),
            "stopped within the lease ({:?})",
            started.elapsed()
        );
    }
);
