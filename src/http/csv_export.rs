//! CSV downloads of the admin (the audit log; the customer grid's export can
//! share it): a UTF-8 byte-order mark so spreadsheet programs read the
//! encoding, RFC 4180 quoting by the `csv` crate, and every cell that a
//! spreadsheet would take for a formula (`=`, `+`, `-`, `@`, tab, carriage
//! return) prefixed with `'` so it stays text.

use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// The byte-order mark that opens every export.
pub const BOM: &str = "\u{feff}";

/// A cell as written: a would-be formula gets a leading `'`.
pub fn safe_cell(value: &str) -> std::borrow::Cow<'_, str> {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}").into()
    } else {
        value.into()
    }
}

/// Builds one CSV document row by row.
pub struct CsvDocument {
    writer: csv::Writer<Vec<u8>>,
}

impl Default for CsvDocument {
    fn default() -> Self {
        Self::new()
    }
}

impl CsvDocument {
    pub fn new() -> CsvDocument {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(BOM.as_bytes());
        CsvDocument {
            writer: csv::WriterBuilder::new()
                .terminator(csv::Terminator::CRLF)
                .from_writer(bytes),
        }
    }

    pub fn row<I, S>(&mut self, cells: I) -> anyhow::Result<()>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let cells: Vec<String> = cells
            .into_iter()
            .map(|c| safe_cell(c.as_ref()).into_owned())
            .collect();
        self.writer.write_record(&cells)?;
        Ok(())
    }

    pub fn finish(self) -> anyhow::Result<Vec<u8>> {
        Ok(self.writer.into_inner().map_err(|e| e.into_error())?)
    }
}

/// The download response: `text/csv`, an attachment named `file_name`, never cached.
pub fn attachment(file_name: &str, body: Vec<u8>) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        headers.insert(CONTENT_DISPOSITION, value);
    }
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_become_text_and_quoting_follows_rfc_4180() {
        let mut doc = CsvDocument::new();
        doc.row([
            "=1+1",
            "plain",
            "a,b",
            "say \"hi\"",
            "-3",
            "@x",
            "line\nbreak",
        ])
        .unwrap();
        let text = String::from_utf8(doc.finish().unwrap()).unwrap();
        assert_eq!(
            text,
            "\u{feff}'=1+1,plain,\"a,b\",\"say \"\"hi\"\"\",'-3,'@x,\"line\nbreak\"\r\n"
        );
    }
}
