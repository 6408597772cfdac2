//! The audit log and the mail queue: newest first, paged backwards by id (no
//! OFFSET). Neither page can show a token, a link or a message body: the rows
//! they read do not hold one.

use askama::Template;
use axum::extract::RawQuery;
use axum::response::Response;

use super::guard::{Allowed, may};
use super::{audit, parse_id, query_params};
use crate::http::errors::AppResult;
use crate::http::page::{PageView, format_datetime, render};

const PAGE_SIZE: i64 = 50;

struct AuditRowView {
    at: String,
    admin_email: String,
    action: String,
    customer_id: Option<i64>,
    client_ip: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    page: PageView,
    /// The customer filter as typed back into its box.
    customer: String,
    filtered: bool,
    rows: Vec<AuditRowView>,
    newest_href: Option<String>,
    older_href: Option<String>,
}

/// The link to the page of entries older than `id`, keeping the filter.
fn older_href(path: &str, customer: Option<i64>, before: i64) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    if let Some(customer) = customer {
        query.append_pair("customer", &customer.to_string());
    }
    query.append_pair("before", &before.to_string());
    format!("{path}?{}", query.finish())
}

pub async fn audit(
    admin: Allowed<may::ViewAudit>,
    RawQuery(query): RawQuery,
) -> AppResult<Response> {
    let params = query_params(query.as_deref());
    let customer = params.get("customer").and_then(|c| parse_id(c));
    let before = params.get("before").and_then(|b| parse_id(b));
    // One row more than shown tells whether an older page exists.
    let mut rows = admin
        .state()
        .db
        .audit_page(customer, before, PAGE_SIZE + 1)
        .await?;
    let has_older = rows.len() as i64 > PAGE_SIZE;
    rows.truncate(PAGE_SIZE as usize);
    let older = has_older
        .then(|| {
            rows.last()
                .map(|r| older_href("/admin/audit", customer, r.id))
        })
        .flatten();
    let newest = before.map(|_| match customer {
        Some(id) => format!("/admin/audit?customer={id}"),
        None => "/admin/audit".to_string(),
    });
    let visitor = &admin.visitor;
    let rows = rows
        .into_iter()
        .map(|r| AuditRowView {
            at: format_datetime(r.created_at),
            action: audit::label_key(&r.action)
                .map(|key| visitor.t(key))
                .unwrap_or(r.action),
            admin_email: r.admin_email,
            customer_id: r.customer_id,
            client_ip: r.client_ip,
            detail: r.detail,
        })
        .collect();
    render(&AuditPage {
        page: admin.page("admin-audit-title").await?,
        customer: customer.map(|c| c.to_string()).unwrap_or_default(),
        filtered: customer.is_some(),
        rows,
        newest_href: newest,
        older_href: older,
    })
}

struct MailRowView {
    queued: String,
    recipient: String,
    kind: String,
    status: String,
    attempts: i64,
    last_error: String,
    sent: String,
}

#[derive(Template)]
#[template(path = "admin/mail.html")]
struct MailPage {
    page: PageView,
    rows: Vec<MailRowView>,
    newest_href: Option<String>,
    older_href: Option<String>,
}

fn mail_kind_key(kind: &str) -> Option<&'static str> {
    match kind {
        "reset_link" => Some("admin-mail-kind-reset-link"),
        "password_changed" => Some("admin-mail-kind-password-changed"),
        _ => None,
    }
}

fn mail_status_key(status: &str) -> Option<&'static str> {
    match status {
        "pending" => Some("admin-mail-status-pending"),
        "sending" => Some("admin-mail-status-sending"),
        "sent" => Some("admin-mail-status-sent"),
        "failed" => Some("admin-mail-status-failed"),
        _ => None,
    }
}

pub async fn mail(
    admin: Allowed<may::ViewMailQueue>,
    RawQuery(query): RawQuery,
) -> AppResult<Response> {
    let params = query_params(query.as_deref());
    let before = params.get("before").and_then(|b| parse_id(b));
    let mut rows = admin.state().db.mail_queue(before, PAGE_SIZE + 1).await?;
    let has_older = rows.len() as i64 > PAGE_SIZE;
    rows.truncate(PAGE_SIZE as usize);
    let older = has_older
        .then(|| rows.last().map(|r| older_href("/admin/mail", None, r.id)))
        .flatten();
    let visitor = &admin.visitor;
    let label = |key: Option<&'static str>, raw: String| key.map(|k| visitor.t(k)).unwrap_or(raw);
    let rows = rows
        .into_iter()
        .map(|r| MailRowView {
            queued: format_datetime(r.created_at),
            kind: label(mail_kind_key(&r.kind), r.kind.clone()),
            status: label(mail_status_key(&r.status), r.status.clone()),
            recipient: r.recipient,
            attempts: r.attempts,
            last_error: r.last_error.unwrap_or_default(),
            sent: r.sent_at.map(format_datetime).unwrap_or_default(),
        })
        .collect();
    render(&MailPage {
        page: admin.page("admin-mail-title").await?,
        rows,
        newest_href: before.map(|_| "/admin/mail".to_string()),
        older_href: older,
    })
}
