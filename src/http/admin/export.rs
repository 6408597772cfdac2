//! `GET /admin/customers/export.csv`: every customer the grid's parameters
//! match, in the grid's order, streamed a chunk at a time (SPEC §7). The first
//! bytes (byte-order mark and header) leave before any query runs; memory stays
//! at one chunk however many rows there are. Audited with the filters and the
//! row count once the last row is out (or with the rows sent so far when the
//! download is broken off).

use axum::body::{Body, Bytes};
use axum::extract::RawQuery;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures_util::stream;

use super::audit;
use super::grid::GridParams;
use super::guard::{Allowed, may};
use super::query_params;
use crate::accounts::lockout;
use crate::http::errors::AppResult;
use crate::http::page::{format_date, format_datetime};
use crate::store::{AuditEntry, CustomerGridRow, Db, GridExport, StoreError};

const HEADER: [&str; 7] = [
    "ID",
    "Name",
    "Email",
    "Customer Since",
    "Last Sign-in",
    "Locked",
    "Active API Tokens",
];
const BOM: &str = "\u{FEFF}";

/// A cell a spreadsheet would run as a formula gets a leading `'`.
fn neutralised(cell: String) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell
    }
}

fn record(row: &CustomerGridRow, now: i64) -> [String; 7] {
    [
        row.id.to_string(),
        format!("{} {}", row.firstname, row.lastname),
        row.email.clone(),
        format_date(row.created_at),
        row.last_sign_in_at.map(format_datetime).unwrap_or_default(),
        if lockout::is_locked(row.locked_until, now) {
            "Yes"
        } else {
            "No"
        }
        .to_string(),
        row.active_api_tokens.to_string(),
    ]
    .map(neutralised)
}

/// RFC 4180 lines (CRLF, quotes doubled) for some records.
fn csv_lines(records: impl IntoIterator<Item = [String; 7]>) -> Vec<u8> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    for record in records {
        // Writing to a Vec cannot fail.
        let _ = writer.write_record(&record);
    }
    writer.into_inner().unwrap_or_default()
}

/// Writes the export's audit entry once: with the full count when the stream
/// ends, or, when dropped before (the download was broken off), with what was
/// sent so far.
struct ExportAudit {
    db: Db,
    entry: Option<AuditEntry>,
    rows: u64,
}

impl ExportAudit {
    fn finished_entry(&mut self, complete: bool) -> Option<AuditEntry> {
        let mut entry = self.entry.take()?;
        let state = if complete { "complete" } else { "broken off" };
        entry.detail = format!("{}; rows={} ({state})", entry.detail, self.rows);
        Some(entry)
    }

    async fn finish(&mut self) {
        if let Some(entry) = self.finished_entry(true)
            && let Err(e) = self.db.insert_audit(&entry).await
        {
            tracing::error!(error = %e, "could not audit a customer export");
        }
    }
}

impl Drop for ExportAudit {
    fn drop(&mut self) {
        if let Some(entry) = self.finished_entry(false) {
            let db = self.db.clone();
            tokio::spawn(async move {
                if let Err(e) = db.insert_audit(&entry).await {
                    tracing::error!(error = %e, "could not audit a customer export");
                }
            });
        }
    }
}

enum Step {
    Start(GridExport),
    Rows(GridExport),
    Done,
}

struct ExportState {
    step: Step,
    audit: ExportAudit,
    now: i64,
}

async fn next(mut state: ExportState) -> Option<(Result<Bytes, StoreError>, ExportState)> {
    match std::mem::replace(&mut state.step, Step::Done) {
        Step::Start(export) => {
            let mut head = BOM.as_bytes().to_vec();
            head.extend(csv_lines([HEADER.map(str::to_string)]));
            state.step = Step::Rows(export);
            Some((Ok(Bytes::from(head)), state))
        }
        Step::Rows(mut export) => match export.next_chunk().await {
            Ok(rows) if rows.is_empty() => {
                state.audit.finish().await;
                None
            }
            Ok(rows) => {
                state.audit.rows += rows.len() as u64;
                let now = state.now;
                let bytes = csv_lines(rows.iter().map(|row| record(row, now)));
                state.step = Step::Rows(export);
                Some((Ok(Bytes::from(bytes)), state))
            }
            Err(e) => {
                tracing::error!(error = %e, "customer export failed part way");
                Some((Err(e), state))
            }
        },
        Step::Done => None,
    }
}

pub async fn csv(
    admin: Allowed<may::ExportCustomers>,
    RawQuery(query): RawQuery,
) -> AppResult<Response> {
    // Bad values are ignored here as on the grid; the grid showed the notices.
    let (params, _) = GridParams::parse(&query_params(query.as_deref()));
    let state = admin.state();
    let now = state.now();
    let export = state
        .db
        .customer_export(params.filter(), params.sort, params.descending, now)
        .await?;
    let mut detail = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in params.filter_pairs() {
        detail.append_pair(name, &value);
    }
    detail.append_pair("sort", params.sort_code());
    detail.append_pair("dir", params.dir_code());
    let entry = admin.audit_entry(audit::CUSTOMERS_EXPORT, None, detail.finish());
    let body = Body::from_stream(stream::unfold(
        ExportState {
            step: Step::Start(export),
            audit: ExportAudit {
                db: state.db.clone(),
                entry: Some(entry),
                rows: 0,
            },
            now,
        },
        next,
    ));
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"customers.csv\"",
            ),
        ],
        body,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised() {
        for cell in ["=1+2", "+31", "-5", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(neutralised(cell.to_string()), format!("'{cell}"));
        }
        assert_eq!(neutralised("Jan".to_string()), "Jan");
    }

    #[test]
    fn lines_are_rfc_4180() {
        let mut cells = HEADER.map(str::to_string);
        cells[1] = "de \"Vries\", Jan".to_string();
        let text = String::from_utf8(csv_lines([cells])).unwrap();
        assert!(text.ends_with("\r\n"));
        assert!(text.contains("\"de \"\"Vries\"\", Jan\""));
    }
}
