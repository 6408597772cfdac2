//! The audit log and the mail queue: newest first, paged backwards by id (no
//! OFFSET). Neither page can show a token, a link or a message body: the rows
//! they read do not hold one.

use askama::Template;
use axum::extract::RawQuery;
use axum::response::Response;

use super::guard::{Allowed, may};
use super::{audit, parse_id, query_params};
use crate::accounts::admins::Permission;
use crate::http::csv_export::{CsvDocument, attachment};
use crate::http::errors::AppResult;
use crate::http::page::{PageView, format_datetime, render};
use crate::store::AuditFilter;

const PAGE_SIZE: i64 = 50;

struct AuditRowView {
    at: String,
    admin_email: String,
    action: String,
    customer_id: Option<i64>,
    client_ip: String,
    detail: String,
}

struct ActionChoice {
    code: &'static str,
    label: String,
    selected: bool,
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    page: PageView,
    /// The filters as typed back into their boxes.
    admin: String,
    customer: String,
    from: String,
    to: String,
    actions: Vec<ActionChoice>,
    filtered: bool,
    /// A filter value that could not be read (it was ignored).
    filter_error: bool,
    export_href: Option<String>,
    rows: Vec<AuditRowView>,
    newest_href: Option<String>,
    older_href: Option<String>,
}

/// The audit filters of a query string: what was read, the query to repeat
/// them in links, and whether some value was unreadable (and so ignored).
struct AuditQuery {
    filter: AuditFilter,
    params: Vec<(&'static str, String)>,
    invalid: bool,
}

/// `YYYY-MM-DD` as the unix time its day starts (UTC).
fn parse_day(raw: &str) -> Option<i64> {
    let mut parts = raw.trim().splitn(3, '-');
    let year: i32 = parts.next()?.parse().ok()?;
    let month: u8 = parts.next()?.parse().ok()?;
    let day: u8 = parts.next()?.parse().ok()?;
    let date =
        time::Date::from_calendar_date(year, time::Month::try_from(month).ok()?, day).ok()?;
    Some(date.midnight().assume_utc().unix_timestamp())
}

fn audit_query(raw: Option<&str>) -> AuditQuery {
    let params = query_params(raw);
    let mut query = AuditQuery {
        filter: AuditFilter::default(),
        params: Vec::new(),
        invalid: false,
    };
    let value = |name: &str| {
        params
            .get(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    if let Some(admin) = value("admin") {
        if admin.chars().any(char::is_control) || admin.chars().count() > 254 {
            query.invalid = true;
        } else {
            query.filter.admin_email = Some(admin.clone());
            query.params.push(("admin", admin));
        }
    }
    if let Some(action) = value("action") {
        match crate::audit::ALL
            .iter()
            .chain(audit::ACTIONS.iter())
            .find(|a| **a == action)
        {
            Some(known) => {
                query.filter.action = Some(known.to_string());
                query.params.push(("action", action));
            }
            None => query.invalid = true,
        }
    }
    if let Some(customer) = value("customer") {
        match parse_id(&customer) {
            Some(id) => {
                query.filter.customer_id = Some(id);
                query.params.push(("customer", customer));
            }
            None => query.invalid = true,
        }
    }
    if let Some(from) = value("from") {
        match parse_day(&from) {
            Some(t) => {
                query.filter.from = Some(t);
                query.params.push(("from", from));
            }
            None => query.invalid = true,
        }
    }
    if let Some(to) = value("to") {
        match parse_day(&to) {
            // The whole day of `to` is included.
            Some(t) => {
                query.filter.to = Some(t + 86_400);
                query.params.push(("to", to));
            }
            None => query.invalid = true,
        }
    }
    query
}

/// `path` with the filters (and `before`, for the older page) in its query.
fn href_with(path: &str, params: &[(&'static str, String)], before: Option<i64>) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in params {
        query.append_pair(name, value);
    }
    if let Some(before) = before {
        query.append_pair("before", &before.to_string());
    }
    let query = query.finish();
    if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    }
}

/// The link to the page of entries older than `id`, keeping the filter.
fn older_href(path: &str, customer: Option<i64>, before: i64) -> String {
    let params: Vec<(&'static str, String)> = customer
        .map(|c| vec![("customer", c.to_string())])
        .unwrap_or_default();
    href_with(path, &params, Some(before))
}

fn action_label(visitor: &crate::http::context::Visitor, action: &str) -> String {
    audit::label_key(action)
        .map(|key| visitor.t(key))
        .unwrap_or_else(|| action.to_string())
}

pub async fn audit(
    admin: Allowed<may::ViewAudit>,
    RawQuery(query): RawQuery,
) -> AppResult<Response> {
    let AuditQuery {
        filter,
        params,
        invalid,
    } = audit_query(query.as_deref());
    let before = query_params(query.as_deref())
        .get("before")
        .and_then(|b| parse_id(b));
    // One row more than shown tells whether an older page exists.
    let mut rows = admin
        .state()
        .db
        .audit_search(&filter, before, PAGE_SIZE + 1)
        .await?;
    let has_older = rows.len() as i64 > PAGE_SIZE;
    rows.truncate(PAGE_SIZE as usize);
    let older = has_older
        .then(|| {
            rows.last()
                .map(|r| href_with("/admin/audit", &params, Some(r.id)))
        })
        .flatten();
    let newest = before.map(|_| href_with("/admin/audit", &params, None));
    let visitor = &admin.visitor;
    let rows = rows
        .into_iter()
        .map(|r| AuditRowView {
            at: format_datetime(r.created_at),
            action: action_label(visitor, &r.action),
            admin_email: r.admin_email,
            customer_id: r.customer_id,
            client_ip: r.client_ip,
            detail: r.detail,
        })
        .collect();
    let typed = |name: &str| {
        params
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let chosen = typed("action");
    let actions = audit::ACTIONS
        .iter()
        .chain(crate::audit::ALL.iter())
        .map(|code| ActionChoice {
            code,
            label: action_label(visitor, code),
            selected: chosen == *code,
        })
        .collect();
    render(&AuditPage {
        page: admin.page("admin-audit-title").await?,
        admin: typed("admin"),
        customer: typed("customer"),
        from: typed("from"),
        to: typed("to"),
        actions,
        filtered: !params.is_empty(),
        filter_error: invalid,
        export_href: admin
            .admin
            .can(Permission::ExportAudit)
            .then(|| href_with("/admin/audit/export.csv", &params, None)),
        rows,
        newest_href: newest,
        older_href: older,
    })
}

/// Rows read per query while exporting.
const EXPORT_BATCH: i64 = 1000;

/// `GET /admin/audit/export.csv`: every entry the filters match, newest
/// first, as CSV (see `csv_export`). The export itself is audited.
pub async fn export(
    admin: Allowed<may::ExportAudit>,
    RawQuery(query): RawQuery,
) -> AppResult<Response> {
    let AuditQuery { filter, params, .. } = audit_query(query.as_deref());
    let db = &admin.state().db;
    let mut doc = CsvDocument::new();
    doc.row([
        "id",
        "time_utc",
        "admin",
        "action",
        "customer_id",
        "ip",
        "detail",
    ])?;
    let mut before = None;
    let mut count = 0usize;
    loop {
        let rows = db.audit_search(&filter, before, EXPORT_BATCH).await?;
        let Some(last) = rows.last() else { break };
        before = Some(last.id);
        for r in &rows {
            doc.row([
                r.id.to_string(),
                format_datetime(r.created_at),
                r.admin_email.clone(),
                r.action.clone(),
                r.customer_id.map(|c| c.to_string()).unwrap_or_default(),
                r.client_ip.clone(),
                r.detail.clone(),
            ])?;
        }
        count += rows.len();
        if (rows.len() as i64) < EXPORT_BATCH {
            break;
        }
    }
    let described: Vec<String> = params.iter().map(|(n, v)| format!("{n}={v}")).collect();
    let entry = admin.audit_entry(
        crate::audit::AUDIT_EXPORT,
        None,
        format!("{count} rows; filters: {}", described.join("&")),
    );
    db.insert_audit(&entry).await?;
    Ok(attachment("audit-log.csv", doc.finish()?))
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
        "admin_activation" => Some("admin-mail-kind-admin-activation"),
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
