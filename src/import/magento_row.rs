//! One row of Magento 2's Customers Main File export, checked the way the
//! storefront checks a registration, into a customer ready to insert.

use std::fmt;

use csv::ByteRecord;
use time::PrimitiveDateTime;
use time::macros::format_description;

use crate::accounts::{Email, EmailError, HashFormatError, StoredHash, new_security_stamp};
use crate::accounts::{MAX_NAME_LENGTH, NameError, PersonName};
use crate::store::ImportedCustomer;

/// No Magento customer field comes near this; a longer cell is a damaged file.
pub const MAX_CELL_BYTES: usize = 64 * 1024;

/// Where the columns we read are; every other column is ignored.
pub struct Columns {
    names: Vec<String>,
    email: usize,
    firstname: Option<usize>,
    lastname: Option<usize>,
    password_hash: Option<usize>,
    created_at: Option<usize>,
}

impl Columns {
    /// From the header row, in any order; `None` without an `email` column.
    pub fn from_header(header: &ByteRecord) -> Option<Columns> {
        let names: Vec<String> = header
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let name = String::from_utf8_lossy(name);
                let name = if i == 0 {
                    name.trim_start_matches('\u{feff}')
                } else {
                    &name
                };
                name.trim().to_ascii_lowercase()
            })
            .collect();
        let find = |wanted: &str| names.iter().position(|n| n == wanted);
        Some(Columns {
            email: find("email")?,
            firstname: find("firstname"),
            lastname: find("lastname"),
            password_hash: find("password_hash"),
            created_at: find("created_at"),
            names,
        })
    }
}

/// Why a row is not imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    FieldCount { found: usize, expected: usize },
    NotUtf8 { column: String },
    CellTooLong { column: String, bytes: usize },
    Email(EmailError),
    NameMissing(&'static str),
    NameInvalid(&'static str),
    Hash(HashFormatError),
    CreatedAt,
    Duplicate { first_line: u64 },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::FieldCount { found, expected } => write!(
                f,
                "has {found} fields where the header has {expected} (a cut-off or broken line?)"
            ),
            Reason::NotUtf8 { column } => write!(f, "{column} is not valid UTF-8"),
            Reason::CellTooLong { column, bytes } => write!(
                f,
                "{column} holds {bytes} bytes; a cell may hold at most {MAX_CELL_BYTES}"
            ),
            Reason::Email(EmailError::Empty) => write!(f, "email is empty"),
            Reason::Email(EmailError::TooLong) => {
                write!(
                    f,
                    "email is longer than {} characters",
                    crate::accounts::MAX_EMAIL_LENGTH
                )
            }
            Reason::Email(EmailError::Invalid) => write!(f, "email is not a valid address"),
            Reason::NameMissing(column) => write!(f, "{column} is empty"),
            Reason::NameInvalid(column) => write!(
                f,
                "{column} is longer than {MAX_NAME_LENGTH} characters or holds control characters"
            ),
            Reason::Hash(e) => write!(f, "{e}"),
            Reason::CreatedAt => write!(f, "created_at is not a date YYYY-MM-DD HH:MM:SS"),
            Reason::Duplicate { first_line } => {
                write!(
                    f,
                    "the same email as line {first_line}, which is the one imported"
                )
            }
        }
    }
}

/// Reads one data row. `now` is Customer Since when `created_at` is empty or absent.
pub fn read(
    columns: &Columns,
    record: &ByteRecord,
    now: i64,
    locale: &'static str,
) -> Result<ImportedCustomer, Vec<Reason>> {
    if record.len() != columns.names.len() {
        return Err(vec![Reason::FieldCount {
            found: record.len(),
            expected: columns.names.len(),
        }]);
    }
    let mut cells = Vec::with_capacity(record.len());
    for (bytes, column) in record.iter().zip(&columns.names) {
        if bytes.len() > MAX_CELL_BYTES {
            return Err(vec![Reason::CellTooLong {
                column: column.clone(),
                bytes: bytes.len(),
            }]);
        }
        match std::str::from_utf8(bytes) {
            Ok(cell) => cells.push(cell),
            Err(_) => {
                return Err(vec![Reason::NotUtf8 {
                    column: column.clone(),
                }]);
            }
        }
    }
    let cell = |index: Option<usize>| index.map_or("", |i| cells[i]);

    let mut reasons = Vec::new();
    let email = Email::parse(cells[columns.email])
        .map_err(|e| reasons.push(Reason::Email(e)))
        .ok();
    let mut name = |column: &'static str, value: &str| match PersonName::parse(value) {
        Ok(name) => name.as_str().to_string(),
        Err(NameError::Empty) => {
            reasons.push(Reason::NameMissing(column));
            String::new()
        }
        Err(_) => {
            reasons.push(Reason::NameInvalid(column));
            String::new()
        }
    };
    let firstname = name("firstname", cell(columns.firstname));
    let lastname = name("lastname", cell(columns.lastname));
    let password_hash = cell(columns.password_hash);
    if let Err(e) = StoredHash::parse(password_hash) {
        reasons.push(Reason::Hash(e));
    }
    let created_at = match cell(columns.created_at).trim() {
        "" => Some(now),
        text => parse_created_at(text),
    };
    if created_at.is_none() {
        reasons.push(Reason::CreatedAt);
    }
    match (email, created_at) {
        (Some(email), Some(created_at)) if reasons.is_empty() => Ok(ImportedCustomer {
            email_key: email.key(),
            email: email.as_str().to_string(),
            firstname,
            lastname,
            password_hash: password_hash.to_string(),
            security_stamp: new_security_stamp(),
            locale,
            created_at,
        }),
        _ => Err(reasons),
    }
}

/// Magento's `YYYY-MM-DD HH:MM:SS`, in UTC.
fn parse_created_at(text: &str) -> Option<i64> {
    let format = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    PrimitiveDateTime::parse(text, &format)
        .ok()
        .map(|t| t.assume_utc().unix_timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "email,_website,_store,confirmation,created_at,created_in,disable_auto_group_change,dob,firstname,gender,group_id,lastname,middlename,password_hash,prefix,rp_token,rp_token_created_at,store_id,suffix,taxvat,updated_at,website_id,password";

    fn record(line: &str) -> ByteRecord {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(line.as_bytes());
        let mut record = ByteRecord::new();
        reader.read_byte_record(&mut record).unwrap();
        record
    }

    fn columns() -> Columns {
        Columns::from_header(&record(HEADER)).unwrap()
    }

    fn row(email: &str, created_at: &str, first: &str, last: &str, hash: &str) -> ByteRecord {
        record(&format!(
            "{email},base,default,,{created_at},Default Store View,0,,{first},,1,{last},,{hash},,,,1,,,{created_at},1,"
        ))
    }

    #[test]
    fn a_magento_row() {
        let c = read(
            &columns(),
            &row(
                "Jan.DeVries@Example.com",
                "2019-03-04 05:06:07",
                "Jan",
                "de Vries",
                "",
            ),
            0,
            "en",
        )
        .unwrap();
        assert_eq!(c.email, "Jan.DeVries@Example.com");
        assert_eq!(c.email_key, "jan.devries@example.com");
        assert_eq!(
            (c.firstname.as_str(), c.lastname.as_str()),
            ("Jan", "de Vries")
        );
        assert_eq!(c.created_at, 1_551_675_967);
        assert_eq!(c.password_hash, "");
    }

    #[test]
    fn columns_in_any_order_with_a_bom() {
        let columns = Columns::from_header(&record(
            "\u{feff}lastname,password_hash,email,extra,firstname",
        ))
        .unwrap();
        let c = read(&columns, &record("Doe,,jane@example.com,x,Jane"), 42, "nl").unwrap();
        assert_eq!(c.email, "jane@example.com");
        assert_eq!(c.created_at, 42);
        assert!(Columns::from_header(&record("mail,firstname")).is_none());
    }

    #[test]
    fn every_problem_of_a_row_is_told() {
        let reasons = read(
            &columns(),
            &row("not-an-email", "yesterday", " ", "Doe", "abc:def:9"),
            0,
            "en",
        )
        .err()
        .unwrap();
        assert_eq!(
            reasons,
            vec![
                Reason::Email(EmailError::Invalid),
                Reason::NameMissing("firstname"),
                Reason::Hash(HashFormatError::UnknownVersion),
                Reason::CreatedAt,
            ]
        );
        let cut = read(&columns(), &record("jane@example.com,base,def"), 0, "en")
            .err()
            .unwrap();
        assert_eq!(
            cut,
            vec![Reason::FieldCount {
                found: 3,
                expected: 23
            }]
        );
    }
}
