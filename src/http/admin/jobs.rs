//! Bulk jobs: the list, one job's progress (refreshing itself while it runs,
//! without JavaScript) and Cancel.

use askama::Template;
use axum::extract::Path;
use axum::http::HeaderValue;
use axum::http::header::REFRESH;
use axum::response::Response;

use super::grid::group_digits;
use super::guard::{Allowed, SignedInAdmin, may};
use super::parse_id;
use crate::http::context::FlashKind;
use crate::http::errors::{AppError, AppResult};
use crate::http::page::{PageView, format_datetime, render, see_other};
use crate::jobs::{self, Action};
use crate::state::AppState;
use crate::store::JobRow;

/// Jobs the list shows.
const LIST_LIMIT: i64 = 100;
/// Seconds between refreshes of a running job's page.
const REFRESH_SECONDS: &str = "3";

pub fn job_path(id: i64) -> String {
    format!("/admin/jobs/{id}")
}

async fn find(state: &AppState, raw_id: &str) -> AppResult<JobRow> {
    let id = parse_id(raw_id).ok_or(AppError::NotFound)?;
    state.db.job(id).await?.ok_or(AppError::NotFound)
}

fn is_active(job: &JobRow) -> bool {
    matches!(job.state.as_str(), "queued" | "running")
}

/// One job as the pages show it.
struct JobView {
    id: i64,
    href: String,
    action: String,
    by: String,
    created: String,
    state: String,
    selection: String,
    progress: String,
    /// Customers handled so far (done, skipped or failed), for the progress bar.
    handled: i64,
    total: i64,
    active: bool,
}

fn view(admin: &SignedInAdmin, job: &JobRow) -> JobView {
    let t = |key: &str| admin.visitor.t(key);
    // Counts in the admin language's digit grouping, as the grid writes them.
    let group = |n: i64| group_digits(n, admin.visitor.locale);
    let action = match Action::parse(&job.action) {
        Some(Action::ResetPassword) => t("admin-bulk-reset-password"),
        Some(Action::Unlock) => t("admin-bulk-unlock"),
        Some(Action::ForceSignIn) => t("admin-bulk-force-sign-in"),
        None => job.action.clone(),
    };
    let state = match job.state.as_str() {
        "queued" => t("admin-job-state-queued"),
        "running" => t("admin-job-state-running"),
        "done" => t("admin-job-state-done"),
        "cancelled" => t("admin-job-state-cancelled"),
        other => other.to_string(),
    };
    JobView {
        id: job.id,
        href: job_path(job.id),
        action,
        by: job.admin_email.clone(),
        created: format_datetime(job.created_at),
        state,
        selection: job.selection.clone(),
        progress: admin.visitor.t_with(
            "admin-job-progress",
            &[
                ("done", &group(job.done)),
                ("skipped", &group(job.skipped)),
                ("failed", &group(job.failed)),
                ("total", &group(job.total)),
            ],
        ),
        handled: job.done + job.skipped + job.failed,
        total: job.total.max(1),
        active: is_active(job),
    }
}

#[derive(Template)]
#[template(path = "admin/jobs.html")]
struct ListPage {
    page: PageView,
    jobs: Vec<JobView>,
}

pub async fn list(admin: Allowed<may::ViewCustomers>) -> AppResult<Response> {
    let rows = admin.state().db.jobs_page(LIST_LIMIT).await?;
    render(&ListPage {
        page: admin.page("admin-jobs-title").await?,
        jobs: rows.iter().map(|job| view(&admin, job)).collect(),
    })
}

#[derive(Template)]
#[template(path = "admin/job.html")]
struct JobPage {
    page: PageView,
    job: JobView,
    can_cancel: bool,
}

pub async fn show(
    admin: Allowed<may::ViewCustomers>,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let job = find(admin.state(), &id).await?;
    let can_cancel = is_active(&job)
        && Action::parse(&job.action).is_some_and(|a| admin.admin.can(a.permission()));
    let mut page = admin.page("admin-jobs-title").await?;
    page.title = admin
        .visitor
        .t_with("admin-job-title", &[("id", &job.id.to_string())]);
    let mut response = render(&JobPage {
        page,
        job: view(&admin, &job),
        can_cancel,
    })?;
    if is_active(&job) {
        // Works without JavaScript: the browser reloads the page by itself.
        response
            .headers_mut()
            .insert(REFRESH, HeaderValue::from_static(REFRESH_SECONDS));
    }
    Ok(response)
}

/// Stops the job at its next batch. The same permission as starting it.
pub async fn cancel(admin: SignedInAdmin, Path(id): Path<String>) -> AppResult<Response> {
    let state = admin.state();
    let job = find(state, &id).await?;
    let action = Action::parse(&job.action).ok_or(AppError::NotFound)?;
    if !admin.admin.can(action.permission()) {
        return Err(AppError::Forbidden);
    }
    let entry = admin.audit_entry(jobs::AUDIT_JOB_CANCELLED, None, format!("job {}", job.id));
    let key = if jobs::cancel(state, &job, entry).await? {
        "admin-job-cancelled"
    } else {
        "admin-job-already-ended"
    };
    admin.visitor.flash_key(FlashKind::Success, key).await?;
    Ok(see_other(&job_path(job.id)))
}
