//! The All Customers grid: one page of customers, and how many match.
//!
//! It must stay fast at a million customers on both stores (see benches/grid.rs),
//! so every query is served by an index: keyword search is a prefix range on
//! the lower-cased keys, each sort is an index ending in `id`, and the page is cut
//! before anything per row (the active token count) is computed.

use super::{Db, StoreResult, on_pool};

/// Sortable grid columns; each is served by an index ending in `id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GridSort {
    Id,
    Name,
    Email,
    CreatedAt,
    LastSignIn,
    Locked,
    ApiTokens,
}

impl GridSort {
    /// Every sortable column, in the order the grid shows them.
    pub const ALL: [GridSort; 7] = [
        GridSort::Id,
        GridSort::Name,
        GridSort::Email,
        GridSort::CreatedAt,
        GridSort::LastSignIn,
        GridSort::Locked,
        GridSort::ApiTokens,
    ];

    /// The column's name in the grid's `sort` query parameter.
    pub fn code(self) -> &'static str {
        match self {
            GridSort::Id => "id",
            GridSort::Name => "name",
            GridSort::Email => "email",
            GridSort::CreatedAt => "created_at",
            GridSort::LastSignIn => "last_sign_in",
            GridSort::Locked => "locked",
            GridSort::ApiTokens => "api_tokens",
        }
    }

    pub fn from_code(code: &str) -> Option<GridSort> {
        GridSort::ALL.into_iter().find(|s| s.code() == code)
    }

    fn column(self) -> &'static str {
        match self {
            GridSort::Id => "id",
            GridSort::Name => "name_key",
            GridSort::Email => "email_key",
            GridSort::CreatedAt => "created_at",
            GridSort::LastSignIn => "last_sign_in_at",
            GridSort::Locked => "locked_until",
            GridSort::ApiTokens => "api_token_count",
        }
    }
}

#[derive(Debug, Clone)]
pub struct CustomerGridQuery {
    /// Lower-cased keyword: a prefix of the email, the full name or the last name.
    pub keyword: Option<String>,
    pub sort: GridSort,
    pub descending: bool,
    pub limit: i64,
    pub offset: i64,
    pub now: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CustomerGridRow {
    pub id: i64,
    pub email: String,
    pub firstname: String,
    pub lastname: String,
    pub created_at: i64,
    pub last_sign_in_at: Option<i64>,
    pub locked_until: Option<i64>,
    pub active_api_tokens: i64,
}

/// The upper bound of a prefix range: "abc" → "abd", so `key >= 'abc' AND key < 'abd'`
/// uses the index on both backends without LIKE and its collation rules.
fn prefix_upper_bound(prefix: &str) -> String {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        // The code point after U+D7FF is U+E000: surrogates are no chars.
        let next = char::from_u32(last as u32 + 1).or((last == '\u{D7FF}').then_some('\u{E000}'));
        if let Some(next) = next {
            chars.push(next);
            return chars.into_iter().collect();
        }
    }
    // Only reachable for a prefix made of char::MAX; nothing sorts after it.
    String::from(char::MAX)
}

/// Customers whose email, full name, last name or surname (the last name's last
/// word) lies in the prefix range `$4`..`$5`.
const KEYWORD_FILTER: &str = "WHERE (email_key >= $4 AND email_key < $5) \
     OR (name_key >= $4 AND name_key < $5) \
     OR (lastname_key >= $4 AND lastname_key < $5) \
     OR (surname_key >= $4 AND surname_key < $5)";

/// `$1` now, `$2` limit, `$3` offset, `$4`/`$5` the keyword range.
///
/// The inner query picks the page's ids only, so the rows it skips (a deep page's
/// OFFSET) are read from the sort column's `(column, id)` index alone, without
/// touching the table; the outer query then reads just the page's rows. CROSS
/// JOIN keeps SQLite from turning this inside out (scanning every customer in
/// sort order and probing the page), which its planner otherwise prefers; for
/// PostgreSQL it is a plain join.
fn grid_sql(q: &CustomerGridQuery) -> String {
    let dir = if q.descending { "DESC" } else { "ASC" };
    let col = q.sort.column();
    let filter = if q.keyword.is_some() {
        KEYWORD_FILTER
    } else {
        ""
    };
    let live = super::api_tokens::live_token("$1");
    format!(
        "SELECT c.id, c.email, c.firstname, c.lastname, c.created_at, c.last_sign_in_at, c.locked_until, \
         (SELECT COUNT(*) FROM api_tokens t WHERE t.customer_id = c.id AND {live}) AS active_api_tokens \
         FROM (SELECT id FROM customers {filter} ORDER BY {col} {dir}, id {dir} LIMIT $2 OFFSET $3) page \
         CROSS JOIN customers c WHERE c.id = page.id \
         ORDER BY c.{col} {dir}, c.id {dir}"
    )
}

/// `$1`/`$2` the keyword range. With a keyword, the ids of the four prefix
/// ranges are merged: each range is read from its index alone (every key index
/// carries the id), where an OR would fetch each matching row from the table.
fn count_sql(keyword: Option<&str>) -> &'static str {
    if keyword.is_some() {
        "SELECT COUNT(*) FROM (\
         SELECT id FROM customers WHERE email_key >= $1 AND email_key < $2 \
         UNION SELECT id FROM customers WHERE name_key >= $1 AND name_key < $2 \
         UNION SELECT id FROM customers WHERE lastname_key >= $1 AND lastname_key < $2 \
         UNION SELECT id FROM customers WHERE surname_key >= $1 AND surname_key < $2) matches"
    } else {
        "SELECT COUNT(*) FROM customers"
    }
}

/// The ids of every customer matching the keyword, `from`/`to` the placeholders
/// of its range (`keyword_range`): a bulk job's "all matching" selection, the
/// same customers the grid counts.
pub(super) fn matching_ids_sql(keyword: Option<&str>, from: &str, to: &str) -> String {
    if keyword.is_some() {
        format!(
            "SELECT id FROM customers WHERE email_key >= {from} AND email_key < {to} \
             UNION SELECT id FROM customers WHERE name_key >= {from} AND name_key < {to} \
             UNION SELECT id FROM customers WHERE lastname_key >= {from} AND lastname_key < {to} \
             UNION SELECT id FROM customers WHERE surname_key >= {from} AND surname_key < {to}"
        )
    } else {
        "SELECT id FROM customers".to_string()
    }
}

/// The prefix range a lower-cased keyword matches.
pub(super) fn keyword_range(keyword: &str) -> (String, String) {
    (keyword.to_string(), prefix_upper_bound(keyword))
}

/// Binds the grid's parameters in the order `grid_sql` numbers them.
macro_rules! bind_grid {
    ($query:expr, $q:expr) => {{
        let q: &CustomerGridQuery = $q;
        let query = $query.bind(q.now).bind(q.limit).bind(q.offset);
        match &q.keyword {
            Some(keyword) => query
                .bind(keyword.clone())
                .bind(prefix_upper_bound(keyword)),
            None => query,
        }
    }};
}

/// Binds the count's parameters: the keyword range, if any.
macro_rules! bind_count {
    ($query:expr, $keyword:expr) => {{
        let keyword: Option<&str> = $keyword;
        match keyword {
            Some(keyword) => $query
                .bind(keyword.to_string())
                .bind(prefix_upper_bound(keyword)),
            None => $query,
        }
    }};
}

impl Db {
    /// One page of the All Customers grid, in the requested order.
    pub async fn customer_grid(&self, q: &CustomerGridQuery) -> StoreResult<Vec<CustomerGridRow>> {
        let sql = grid_sql(q);
        Ok(on_pool!(self, |pool| bind_grid!(sqlx::query_as(&sql), q)
            .fetch_all(pool)
            .await)?)
    }

    /// The number of customers matching the keyword; with no keyword on a large
    /// PostgreSQL table, the planner's estimate (flagged as such) instead of a scan.
    pub async fn customer_count(&self, keyword: Option<&str>) -> StoreResult<(i64, bool)> {
        if keyword.is_none()
            && let Db::Postgres(pool) = self
        {
            let estimate: Option<f32> = sqlx::query_scalar(
                "SELECT reltuples FROM pg_class WHERE oid = 'customers'::regclass",
            )
            .fetch_optional(pool)
            .await?;
            if let Some(estimate) = estimate.filter(|e| *e >= 100_000.0) {
                return Ok((estimate as i64, true));
            }
        }
        let sql = count_sql(keyword);
        let count: i64 = on_pool!(self, |pool| bind_count!(sqlx::query_scalar(sql), keyword)
            .fetch_one(pool)
            .await)?;
        Ok((count, false))
    }

    /// The query plan of `customer_grid`, for the benchmark: SQLite's `EXPLAIN
    /// QUERY PLAN`, PostgreSQL's `EXPLAIN ANALYZE` (which runs the query).
    pub async fn explain_customer_grid(&self, q: &CustomerGridQuery) -> StoreResult<String> {
        let sql = grid_sql(q);
        match self {
            Db::Sqlite(pool) => {
                let explain = format!("EXPLAIN QUERY PLAN {sql}");
                let rows: Vec<(i64, i64, i64, String)> = bind_grid!(sqlx::query_as(&explain), q)
                    .fetch_all(pool)
                    .await?;
                Ok(sqlite_plan(rows))
            }
            Db::Postgres(pool) => {
                let explain = format!("EXPLAIN ANALYZE {sql}");
                let lines: Vec<String> = bind_grid!(sqlx::query_scalar(&explain), q)
                    .fetch_all(pool)
                    .await?;
                Ok(lines.join("\n"))
            }
        }
    }

    /// The query plan of `customer_count` (see `explain_customer_grid`).
    pub async fn explain_customer_count(&self, keyword: Option<&str>) -> StoreResult<String> {
        let sql = count_sql(keyword);
        match self {
            Db::Sqlite(pool) => {
                let explain = format!("EXPLAIN QUERY PLAN {sql}");
                let rows: Vec<(i64, i64, i64, String)> =
                    bind_count!(sqlx::query_as(&explain), keyword)
                        .fetch_all(pool)
                        .await?;
                Ok(sqlite_plan(rows))
            }
            Db::Postgres(pool) => {
                let explain = format!("EXPLAIN ANALYZE {sql}");
                let lines: Vec<String> = bind_count!(sqlx::query_scalar(&explain), keyword)
                    .fetch_all(pool)
                    .await?;
                Ok(lines.join("\n"))
            }
        }
    }
}

/// SQLite's plan rows (id, parent, unused, detail) as an indented tree.
fn sqlite_plan(rows: Vec<(i64, i64, i64, String)>) -> String {
    let mut depth: Vec<(i64, usize)> = Vec::new();
    let mut out = Vec::new();
    for (id, parent, _, detail) in rows {
        let level = depth
            .iter()
            .find(|(node, _)| *node == parent)
            .map_or(0, |(_, level)| level + 1);
        depth.push((id, level));
        out.push(format!("{}{detail}", "  ".repeat(level)));
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::prefix_upper_bound;

    #[test]
    fn prefix_bound_is_the_next_string() {
        assert_eq!(prefix_upper_bound("abc"), "abd");
        assert_eq!(prefix_upper_bound("a"), "b");
        assert!(prefix_upper_bound("jan").as_str() > "jan zzz");
        // Past the surrogate gap, and past the last code point.
        assert_eq!(prefix_upper_bound("a\u{D7FF}"), "a\u{E000}");
        assert_eq!(prefix_upper_bound("a\u{10FFFF}"), "b");
    }
}
