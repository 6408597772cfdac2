//! The All Customers grid: the customers matching a keyword and filters, one
//! page of them or all of them in chunks (the export), and how many match.
//!
//! It must stay fast at a million customers on both stores (see benches/grid.rs).
//! Keyword words are found through `customer_search_words` (migration 0030: every
//! word-boundary suffix of the name and email, cut to 12 characters, kept by
//! triggers), and checked in full on the rows themselves. A word that matches
//! few customers drives the query from that table; one that matches many (`j`)
//! is cheaper checked row by row while the sort index is walked, since a page
//! then fills after a few hundred rows.

use std::sync::Arc;

use futures_util::future::try_join_all;
use tokio::sync::OnceCell;

use super::{Db, StoreResult, Tx, on_patient, on_pool, on_tx};

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

    /// The indexed column. The live token count is kept on the row by
    /// triggers and `sweep_expired_api_tokens` (migration 0075).
    fn column(self) -> &'static str {
        match self {
            GridSort::Id => "id",
            GridSort::Name => "name_key",
            GridSort::Email => "email_key",
            GridSort::CreatedAt => "created_at",
            GridSort::LastSignIn => "last_sign_in_at",
            GridSort::Locked => "locked_until",
            GridSort::ApiTokens => "live_api_tokens",
        }
    }

    /// Whether a page can continue from a customer's sort key (`after`): the
    /// column holds no NULLs, whose place in the order differs per store.
    pub fn keyset(self) -> bool {
        !self.nullable()
    }

    fn nullable(self) -> bool {
        matches!(self, GridSort::LastSignIn | GridSort::Locked)
    }
}

/// Unix seconds: `from` inclusive, `until` exclusive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeRange {
    pub from: Option<i64>,
    pub until: Option<i64>,
}

/// Which customers a grid view (or its export) shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GridFilter {
    /// Lower-cased keyword words; each must start the name or the email at a
    /// word boundary.
    pub words: Vec<String>,
    pub locked: Option<bool>,
    /// Holds at least one live API token.
    pub has_tokens: Option<bool>,
    /// Has signed in at least once.
    pub signed_in: Option<bool>,
    pub created: TimeRange,
    pub last_sign_in: TimeRange,
    /// What this request's count and page, read side by side, both need:
    /// found once and shared by the clones of one request's filter. Not part
    /// of what the filter is (equal whatever it holds).
    pub read: FilterRead,
}

/// See `GridFilter::read`.
#[derive(Debug, Clone, Default)]
pub struct FilterRead(Arc<FilterReadCells>);

#[derive(Debug, Default)]
struct FilterReadCells {
    /// The lookup, when it does not hang on the depth of the read (every
    /// filter but a lone keyword word, see `lookup_matches`).
    lookup: OnceCell<Lookup>,
    /// The keyword's match set (`keyword_matches`); the later reader waits
    /// for the first one's.
    matches: OnceCell<Arc<[i64]>>,
}

impl PartialEq for FilterRead {
    fn eq(&self, _: &FilterRead) -> bool {
        true
    }
}

impl Eq for FilterRead {}

impl GridFilter {
    pub fn is_empty(&self) -> bool {
        *self == GridFilter::default()
    }
}

#[derive(Debug, Clone)]
pub struct CustomerGridQuery {
    pub filter: GridFilter,
    pub sort: GridSort,
    pub descending: bool,
    pub limit: i64,
    pub offset: i64,
    pub now: i64,
    /// Keyset: only the rows after this customer in the query's order (a
    /// sort with `GridSort::keyset`). A deep page then costs what the first
    /// does; a customer no longer there gives no rows.
    pub after: Option<i64>,
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
    /// The row's kept live token count (what the token sort orders by).
    pub live_api_tokens: i64,
    pub name_key: String,
    pub email_key: String,
}

/// How many customers a view matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GridCount {
    Exact(i64),
    /// More than this many: counting stopped at the bound.
    MoreThan(i64),
    /// PostgreSQL's planner estimate of the whole table.
    Estimate(i64),
    /// At least this many: a bounded count read `COUNT_SCAN` candidate rows
    /// and stopped before finding out whether more than its bound match.
    AtLeast(i64),
}

impl GridCount {
    /// A number to page by: the count, or the bound it passed.
    pub fn value(self) -> i64 {
        match self {
            GridCount::Exact(n)
            | GridCount::MoreThan(n)
            | GridCount::Estimate(n)
            | GridCount::AtLeast(n) => n,
        }
    }
}

/// Characters of each stored search word (see migration 0030).
const WORD_KEY_CHARS: usize = 12;
/// Reading a word's range costs about this many entries per customer of the
/// match set so far when each of them is instead looked up in (customer_id,
/// word): a seek descends the index, a range read steps along it.
const SEEK_COST_IN_ENTRIES: usize = 12;
/// A keyword word matching at most this many stored words always drives the
/// query from the word table; up to `WORD_TABLE_MAX` when the page lies so deep
/// that walking the sort index would check more rows (see `lookup`); above it,
/// rows are checked along the sort index.
const WORD_TABLE_LIMIT: i64 = 20_000;
const WORD_TABLE_MAX: i64 = 200_000;
/// On PostgreSQL, stepping along a sort index (the match set hashed once)
/// costs about this many entries per customer row fetched by id: a page of a
/// match set walks at most that many entries per match before it fetches
/// them instead (see `matches_page`).
const PG_WALK_ENTRIES_PER_FETCH: i64 = 40;
/// A lone keyword word that starts at most this many names (or emails, by
/// the sort) is taken to be spread along that order (see `walk_for_a_word`).
const WORD_STARTS_SPREAD: i64 = 2_000;
/// The first limit `rarest_word_counted` counts each word's range up to.
const RAREST_FIRST_PROBE: i64 = 2_000;
/// Characters that end a word in a name or an email; a keyword word starts
/// right after one of them (or at the start).
pub const WORD_SEPARATORS: [char; 6] = [' ', '@', '.', '-', '_', '+'];
/// Candidate rows a bounded count reads at most (the rows of its lookup: the
/// whole table in id order, a word's or a filter's index range). A count that
/// reads them all is exact; one stopped here says how many it found so far.
const COUNT_SCAN: i64 = 20_000;
/// Rows per export statement.
const EXPORT_CHUNK: i64 = 2_000;

const ROW_COLUMNS: &str = "c.id, c.email, c.firstname, c.lastname, c.created_at, c.last_sign_in_at, \
     c.locked_until, c.live_api_tokens, c.name_key, c.email_key";

/// A bound value; placeholders are numbered in the order they are pushed.
#[derive(Debug, Clone)]
pub(super) enum Arg {
    Int(i64),
    Text(String),
}

/// SQL text and its arguments, built together so numbering cannot drift.
#[derive(Default)]
struct Sql {
    text: String,
    args: Vec<Arg>,
}

impl Sql {
    fn arg(&mut self, arg: Arg) -> String {
        self.args.push(arg);
        format!("${}", self.args.len())
    }
    fn int(&mut self, value: i64) -> String {
        self.arg(Arg::Int(value))
    }
    fn text(&mut self, value: &str) -> String {
        self.arg(Arg::Text(value.to_string()))
    }
}

macro_rules! bind_args {
    ($query:expr, $args:expr) => {{
        let mut query = $query;
        for arg in $args {
            query = match arg {
                Arg::Int(value) => query.bind(*value),
                Arg::Text(value) => query.bind(value.clone()),
            };
        }
        query
    }};
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

/// The stored-word range `[low, high)` that holds every customer a keyword word
/// can match.
fn word_range(word: &str) -> (String, String) {
    let key: String = word.chars().take(WORD_KEY_CHARS).collect();
    let high = prefix_upper_bound(&key);
    (key, high)
}

/// Where a walk along the sort index stops (`page_sql`).
enum WalkBound<'a> {
    None,
    /// After this many rows (PostgreSQL keeps the index order through the
    /// subquery that counts them; SQLite would sort its rows).
    Rows(i64),
    /// At this customer's sort key (name or email) and id, inclusive.
    UpTo(&'a str, i64),
}

/// How a lone keyword word's walk ended (`walk_for_a_word`).
enum WordWalk {
    /// The page's ids, found within the walk's bound.
    Page(Vec<i64>),
    /// Past the bound: the word's match set, to read the page from.
    Matches(Arc<[i64]>),
    /// Past the bound, and the word's range too large for a set: the walk
    /// goes on unbounded.
    Unbounded,
}

/// Where a query starts: from the word table by one of the keyword's words,
/// from the index of a selective filter, or by walking the sort index and
/// checking each row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lookup {
    WordTable(usize),
    /// The customers of a keyword's match set (`keyword_matches`), bound as a
    /// list by the statement that reads them (`page_sql`, `matched_count`).
    Matches,
    Locked,
    LiveTokens,
    Created,
    LastSignIn,
    Rows,
}

impl Lookup {
    /// The SQLite index that serves a filter lookup (named with INDEXED BY,
    /// since SQLite's planner would rather walk the sort index).
    fn sqlite_index(self) -> Option<&'static str> {
        match self {
            Lookup::Locked => Some("customers_locked_until"),
            Lookup::Created => Some("customers_created_at"),
            Lookup::LastSignIn => Some("customers_last_sign_in_at"),
            Lookup::LiveTokens => Some("customers_live_api_tokens"),
            _ => None,
        }
    }
}

// ---- Bulk selection (issue 11): "all N matching" is exactly the grid's rows ----

/// The ids of every customer a grid filter matches at `now`, with ids up to a
/// bound: a bulk job's "all matching" selection. Built from the grid's own
/// conditions (`filter_conditions`), so it is the same customers the grid shows.
/// `lead` values take the first placeholders (`$1`…), for the caller's statement.
pub(super) struct MatchingIds {
    /// `SELECT c.id FROM customers c WHERE c.id <= … AND <the grid's conditions>`
    pub text: String,
    pub args: Vec<Arg>,
}

/// Binds `MatchingIds::args` (and any lead values pushed before them).
pub(super) use bind_args;

impl Db {
    pub(super) async fn matching_ids(
        &self,
        filter: &GridFilter,
        now: i64,
        upto: i64,
        lead: &[i64],
    ) -> StoreResult<MatchingIds> {
        // Every match is read: the lookup a full read (the export) would take.
        let lookup = self.lookup(filter, now, 0).await?;
        let mut sql = Sql::default();
        for value in lead {
            sql.int(*value);
        }
        let bound = sql.int(upto);
        let now = sql.int(now);
        let mut conditions = vec![format!("c.id <= {bound}")];
        conditions.extend(self.filter_conditions(&mut sql, filter, lookup, &now));
        let text = format!(
            "SELECT c.id FROM {} {}",
            self.customers_from(lookup),
            where_clause(&conditions)
        );
        Ok(MatchingIds {
            text,
            args: sql.args,
        })
    }
}

impl Db {
    fn contains_fn(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "instr",
            Db::Postgres(_) => "strpos",
        }
    }

    /// The ORDER BY expression for a sort column. Driven by the word table, the
    /// matches are few: sort them rather than walk the sort index (SQLite's
    /// planner would otherwise walk it; the unary + keeps it off the index).
    fn sort_expr(&self, column: &str, lookup: Lookup) -> String {
        match (self, lookup) {
            (Db::Sqlite(_), Lookup::Rows) | (Db::Postgres(_), _) => format!("c.{column}"),
            (Db::Sqlite(_), _) => format!("+c.{column}"),
        }
    }

    /// `customers c`, on SQLite held to the index of a filter lookup.
    fn customers_from(&self, lookup: Lookup) -> String {
        match (self, lookup.sqlite_index()) {
            (Db::Sqlite(_), Some(index)) => format!("customers c INDEXED BY {index}"),
            _ => "customers c".to_string(),
        }
    }

    /// `customers c` for a query read in `column` order. Walking (no lookup),
    /// SQLite is held to the sort index: without histograms its planner may
    /// take a wide date range's index and sort a sixth of the table instead.
    /// With `has_tokens=yes`, the name and id orders walk the partial indexes
    /// of migration 0076, which hold only customers with live tokens.
    fn customers_in_order(&self, lookup: Lookup, column: &str, filter: &GridFilter) -> String {
        if !matches!((self, lookup), (Db::Sqlite(_), Lookup::Rows)) {
            return self.customers_from(lookup);
        }
        match (column, filter.has_tokens) {
            ("id", Some(true)) => return "customers c INDEXED BY customers_id_live_tokens".into(),
            ("name_key", Some(true)) => {
                return "customers c INDEXED BY customers_name_key_live_tokens".into();
            }
            _ => {}
        }
        match column {
            "id" => "customers c NOT INDEXED".to_string(),
            "name_key" => "customers c INDEXED BY customers_name_key".to_string(),
            "email_key" => "customers c INDEXED BY customers_email_key".to_string(),
            other => format!("customers c INDEXED BY customers_{other}"),
        }
    }

    /// True when `word` starts the customer's name or email at a word boundary:
    /// at the start, or right after a separator.
    fn word_condition(&self, sql: &mut Sql, word: &str) -> String {
        let w = sql.text(word);
        let contains = self.contains_fn();
        let mut alternatives = Vec::new();
        for key in ["c.name_key", "c.email_key"] {
            alternatives.push(format!("{contains}(' ' || {key}, ' ' || {w}) > 0"));
            for sep in WORD_SEPARATORS.iter().skip(1) {
                alternatives.push(format!("{contains}({key}, '{sep}' || {w}) > 0"));
            }
        }
        format!("({})", alternatives.join(" OR "))
    }

    /// The filter's conditions on `customers c`, joined with AND ("" when none).
    fn filter_conditions(
        &self,
        sql: &mut Sql,
        filter: &GridFilter,
        lookup: Lookup,
        now: &str,
    ) -> Vec<String> {
        let mut conditions = Vec::new();
        if let Lookup::WordTable(i) = lookup {
            conditions.push(word_table_condition(sql, &filter.words, i));
        }
        for word in &filter.words {
            conditions.push(self.word_condition(sql, word));
        }
        match filter.locked {
            Some(true) => conditions.push(format!("c.locked_until > {now}")),
            Some(false) => conditions.push(format!(
                "(c.locked_until IS NULL OR c.locked_until <= {now})"
            )),
            None => {}
        }
        // The row's live token count is current once `sweep_expired_api_tokens` ran.
        match filter.has_tokens {
            Some(true) => conditions.push("c.live_api_tokens > 0".to_string()),
            Some(false) => conditions.push("c.live_api_tokens = 0".to_string()),
            None => {}
        }
        match filter.signed_in {
            Some(true) => conditions.push("c.last_sign_in_at IS NOT NULL".to_string()),
            Some(false) => conditions.push("c.last_sign_in_at IS NULL".to_string()),
            None => {}
        }
        for (column, range) in [
            ("c.created_at", filter.created),
            ("c.last_sign_in_at", filter.last_sign_in),
        ] {
            if let Some(from) = range.from {
                let from = sql.int(from);
                conditions.push(format!("{column} >= {from}"));
            }
            if let Some(until) = range.until {
                let until = sql.int(until);
                conditions.push(format!("{column} < {until}"));
            }
        }
        conditions
    }

    /// How many rows (at most `limit`) a probe query counts.
    async fn probe(&self, sql: &str, args: &[Arg], limit: i64) -> StoreResult<i64> {
        let sql = format!("SELECT COUNT(*) FROM ({sql} LIMIT {limit}) p");
        Ok(on_pool!(self, |pool| bind_args!(
            sqlx::query_scalar(&sql),
            args
        )
        .fetch_one(pool)
        .await)?)
    }

    /// The filter lookups that apply, each with at most `WORD_TABLE_LIMIT + 1`
    /// of its index entries counted.
    async fn filter_lookups(
        &self,
        filter: &GridFilter,
        now: i64,
    ) -> StoreResult<Vec<(i64, Lookup)>> {
        let limit = WORD_TABLE_LIMIT + 1;
        let mut found = Vec::new();
        if filter.locked == Some(true) {
            let sql = "SELECT 1 FROM customers WHERE locked_until > $1";
            found.push((
                self.probe(sql, &[Arg::Int(now)], limit).await?,
                Lookup::Locked,
            ));
        }
        if filter.has_tokens == Some(true) {
            let sql = "SELECT 1 FROM customers WHERE live_api_tokens > $1";
            found.push((
                self.probe(sql, &[Arg::Int(0)], limit).await?,
                Lookup::LiveTokens,
            ));
        }
        for (range, column, lookup) in [
            (filter.created, "created_at", Lookup::Created),
            (filter.last_sign_in, "last_sign_in_at", Lookup::LastSignIn),
        ] {
            if range.from.is_some() || range.until.is_some() {
                let sql = format!("SELECT 1 FROM customers WHERE {column} >= $1 AND {column} < $2");
                let args = [
                    Arg::Int(range.from.unwrap_or(i64::MIN)),
                    Arg::Int(range.until.unwrap_or(i64::MAX)),
                ];
                found.push((self.probe(&sql, &args, limit).await?, lookup));
            }
        }
        Ok(found)
    }

    /// Picks the lookup for a query that needs the first `depth` matches in
    /// sort order (0: all of them, read in chunks). A filter or keyword word with
    /// few index entries always starts the query. Otherwise, walking the sort
    /// index and checking rows costs about `depth × customers / matches` rows,
    /// and starting from the word table about `matches` rows plus a sort; the
    /// word with the fewest stored words stands for the matches.
    async fn lookup(&self, filter: &GridFilter, now: i64, depth: i64) -> StoreResult<Lookup> {
        // First a cheap probe of each word, up to the small limit.
        let words = async {
            if filter.words.is_empty() {
                return Ok(None);
            }
            let counted = self
                .rarest_word_counted(&filter.words, 1, WORD_TABLE_LIMIT + 1)
                .await?;
            StoreResult::Ok(Some(counted))
        };
        // The filters' index ranges are probed meanwhile.
        let (best, mut small) = tokio::try_join!(words, self.filter_lookups(filter, now))?;
        if let Some((entries, i)) = best {
            small.push((entries, Lookup::WordTable(i)));
        }
        if let Some(&(n, lookup)) = small.iter().min_by_key(|(n, _)| *n)
            && n <= WORD_TABLE_LIMIT
        {
            return Ok(lookup);
        }
        // Several words: customers holding all of them can be far rarer than
        // any one word (`sophie van`: 400 of a million), so walking the sort
        // index may check most of the table. From the rarest word's range, the
        // others checked in the word table, the cost is bounded by that range.
        // Every word is past the small limit here: counting resumes past it.
        // With `has_tokens=yes` the set is also narrowed to the live-token
        // holders (`read_keyword_matches`): a walk would check every row of
        // the word's customers for a token (`q=jan`: 40,000 of them, 1,051
        // with tokens).
        if filter.words.len() > 1 || (filter.has_tokens == Some(true) && best.is_some()) {
            let past = 4 * (WORD_TABLE_LIMIT + 1);
            let (entries, i) = self
                .rarest_word_counted(&filter.words, past, WORD_TABLE_MAX + 1)
                .await?;
            if entries <= WORD_TABLE_MAX {
                return Ok(Lookup::WordTable(i));
            }
        }
        // Only a page deep enough that the walk would outgrow the small limit
        // makes reading a larger word range worth a look.
        if best.is_none() || depth == 0 {
            return Ok(Lookup::Rows);
        }
        let customers = self.customers_bound().await?;
        if depth.saturating_mul(customers) / WORD_TABLE_LIMIT <= WORD_TABLE_LIMIT {
            return Ok(Lookup::Rows);
        }
        // Every word passed the small limit: count each further to find the
        // rarest (they tie at the limit).
        let rarest = self
            .rarest_word_counted(&filter.words, WORD_TABLE_LIMIT + 1, WORD_TABLE_MAX + 1)
            .await?;
        let (entries, i) = rarest;
        if entries > WORD_TABLE_MAX {
            return Ok(Lookup::Rows);
        }
        // A customer usually holds a word twice (name and email): the walk
        // meets a match about every `customers / (entries / 2)` rows.
        let walk = depth.saturating_mul(customers) / (entries / 2).max(1);
        Ok(if walk > entries {
            Lookup::WordTable(i)
        } else {
            Lookup::Rows
        })
    }

    /// The page's ids from a keyword's match set: each match's row fetched and
    /// sorted (`Lookup::Matches`), or a walk in sort order keeping the set's
    /// ids, which reads index entries only. SQLite walks when the page's
    /// depth lies within fewer entries (`depth × customers / matches`) than
    /// fetching the matches costs (`SEEK_COST_IN_ENTRIES` each), but never
    /// along the name or email: a keyword is often a first name, whose
    /// customers sit together in those orders (`emma.de` by name lies past
    /// every name before "emma": 200 ms walked, 8 ms fetched; a walk held to
    /// 5 entries a match, then fetched, made `emma` by name 35 % slower and
    /// `jan` page 250 by name 75 % slower, measured). PostgreSQL, where a row
    /// fetched by id costs more, walks any order when only the keyword is
    /// asked for (the walk then reads the index alone), but stops after
    /// `PG_WALK_ENTRIES_PER_FETCH` entries per match, then fetches: a first
    /// name's cluster costs at most twice the fetch (`vries` by name, 200
    /// rows: 9 ms walked, 130 ms fetched; `jan` page 250: 90 ms, 600 ms).
    async fn matches_page(&self, q: &CustomerGridQuery, matches: &[i64]) -> StoreResult<Vec<i64>> {
        let n = matches.len() as i64;
        let depth = q.offset + q.limit;
        if n > 0 {
            let customers = self.customers_bound().await?;
            let walk = depth.saturating_mul(customers) / n;
            match self {
                Db::Sqlite(_)
                    if !matches!(q.sort, GridSort::Name | GridSort::Email)
                        && walk < SEEK_COST_IN_ENTRIES as i64 * n =>
                {
                    return self
                        .ids(&self.page_sql(q, Lookup::Rows, Some(matches), WalkBound::None))
                        .await;
                }
                // Only the keyword: the walk reads the index alone (another
                // filter would fetch each row walked).
                Db::Postgres(_) if left_after_words(&q.filter).is_empty() => {
                    let scan = n.saturating_mul(PG_WALK_ENTRIES_PER_FETCH);
                    if walk < scan {
                        let sql =
                            self.page_sql(q, Lookup::Rows, Some(matches), WalkBound::Rows(scan));
                        let ids = self.ids(&sql).await?;
                        // A short page is the true one when the walk read every row.
                        if ids.len() as i64 == q.limit || scan > customers {
                            return Ok(ids);
                        }
                    }
                }
                _ => {}
            }
        }
        self.ids(&self.page_sql(q, Lookup::Matches, Some(matches), WalkBound::None))
            .await
    }

    /// The highest customer id: the table's size, near enough, from one seek.
    async fn customers_bound(&self) -> StoreResult<i64> {
        Ok(on_pool!(self, |pool| sqlx::query_scalar(
            "SELECT COALESCE(MAX(id), 0) FROM customers"
        )
        .fetch_one(pool)
        .await)?)
    }

    /// `SELECT c.id FROM customers c WHERE … ORDER BY …` with the page's limit
    /// and offset.
    fn page_ids_sql(&self, q: &CustomerGridQuery, lookup: Lookup) -> Sql {
        self.page_sql(q, lookup, None, WalkBound::None)
    }

    /// `page_ids_sql`, with `matches`: only those customers, read from the
    /// list (`Lookup::Matches`) or checked against it along the sort index
    /// (`Lookup::Rows`). With a `bound`, held to the first rows of the sort
    /// order: the page's slice of the matches among them. A full page is then
    /// the true page (the first matches in order); a short one may only mean
    /// the walk stopped.
    fn page_sql(
        &self,
        q: &CustomerGridQuery,
        lookup: Lookup,
        matches: Option<&[i64]>,
        bound: WalkBound,
    ) -> Sql {
        self.page_select(q, lookup, matches, bound, "c.id")
    }

    /// `page_sql` answering `select` of each row (bounded by rows: the ids).
    fn page_select(
        &self,
        q: &CustomerGridQuery,
        lookup: Lookup,
        matches: Option<&[i64]>,
        bound: WalkBound,
        select: &str,
    ) -> Sql {
        let mut sql = Sql::default();
        let now = sql.int(q.now);
        let mut conditions = Vec::new();
        let left;
        let filter = match matches {
            Some(ids) => {
                // Walking the sort index, SQLite must not turn the list into
                // seeks on the index's id column (it would probe every name).
                let id = match (self, lookup) {
                    (Db::Sqlite(_), Lookup::Rows) => "+c.id",
                    _ => "c.id",
                };
                conditions.push(format!("{id} IN {}", self.id_list(&mut sql, ids)));
                left = left_after_words(&q.filter);
                &left
            }
            None => &q.filter,
        };
        conditions.extend(self.filter_conditions(&mut sql, filter, lookup, &now));
        let column = q.sort.column();
        let (dir, cmp) = if q.descending {
            ("DESC", "<")
        } else {
            ("ASC", ">")
        };
        // Where the read starts along the sort index (a pager link's keyset)
        // and where a bounded walk ends.
        let mut range = Vec::new();
        if let WalkBound::UpTo(key, id) = &bound {
            let (key, id) = (sql.text(key), sql.int(*id));
            let cmp = if q.descending { ">=" } else { "<=" };
            range.push(format!("(c.{column}, c.id) {cmp} ({key}, {id})"));
        }
        if let Some(after) = q.after {
            let after = sql.int(after);
            range.push(if column == "id" {
                format!("c.id {cmp} {after}")
            } else {
                format!(
                    "(c.{column}, c.id) {cmp} \
                     ((SELECT k.{column} FROM customers k WHERE k.id = {after}), {after})"
                )
            });
        }
        let sort_column = self.sort_expr(column, lookup);
        let from = self.customers_in_order(lookup, column, &q.filter);
        let (limit, offset) = (sql.int(q.limit), sql.int(q.offset));
        sql.text = match bound {
            WalkBound::None | WalkBound::UpTo(..) => format!(
                "SELECT {select} FROM {from} {} ORDER BY {sort_column} {dir}, c.id {dir} \
                 LIMIT {limit} OFFSET {offset}",
                where_clause(&[range, conditions].concat())
            ),
            // Inside the CASE, PostgreSQL tests a match set's list as a hashed
            // subplan (a condition of the WHERE would become a join that loses
            // the index order); with no other filter, the walk reads the sort
            // index alone.
            WalkBound::Rows(scan) => {
                let scan = sql.int(scan);
                let all = all_of(&conditions);
                format!(
                    "SELECT w.id FROM (SELECT c.id AS id, c.{column} AS k, \
                     CASE WHEN {all} THEN 1 ELSE 0 END AS m FROM {from} {} \
                     ORDER BY {sort_column} {dir}, c.id {dir} LIMIT {scan}) w \
                     WHERE w.m = 1 ORDER BY w.k {dir}, w.id {dir} LIMIT {limit} OFFSET {offset}",
                    where_clause(&range)
                )
            }
        };
        sql
    }

    /// One page of the All Customers grid, in the requested order.
    pub async fn customer_grid(&self, q: &CustomerGridQuery) -> StoreResult<Vec<CustomerGridRow>> {
        self.sweep_if_tokens_read(&q.filter, q.sort, q.now).await?;
        let (lookup, matches) = self
            .lookup_matches(&q.filter, q.now, q.offset + q.limit)
            .await?;
        let matches = match matches {
            None if lookup == Lookup::Rows && q.filter.words.len() == 1 => {
                match self.walk_for_a_word(q).await? {
                    WordWalk::Page(ids) => return self.rows_in_order(&ids, q.now).await,
                    WordWalk::Matches(matches) => Some(matches),
                    WordWalk::Unbounded => None,
                }
            }
            matches => matches,
        };
        let ids = match matches {
            Some(matches) => self.matches_page(q, &matches).await?,
            None => self.ids(&self.page_ids_sql(q, lookup)).await?,
        };
        self.rows_in_order(&ids, q.now).await
    }

    /// A lone keyword word's page walked along the sort index, each row
    /// checked: chosen when the word's customers are many enough that the page
    /// lies within `2 × depth × customers / WORD_TABLE_LIMIT` rows, were they
    /// spread evenly. They may sit together instead — a first name sorted by
    /// name, `emma` by name descending lies past every later name: 3 s on
    /// PostgreSQL. So the walk stops there, and the word's match set is read
    /// when its range is small enough; else the walk goes on to the page.
    async fn walk_for_a_word(&self, q: &CustomerGridQuery) -> StoreResult<WordWalk> {
        if !matches!(q.sort, GridSort::Name | GridSort::Email) {
            return Ok(WordWalk::Unbounded);
        }
        // A word that seldom starts a name (an email) is spread along that
        // order, thin or thick: the walk goes on (`smith` by name, last page:
        // 16 ms walked, 67 ms stopped and read from the set).
        let word = &q.filter.words[0];
        let column = q.sort.column();
        let sql = format!("SELECT 1 FROM customers WHERE {column} >= $1 AND {column} < $2");
        let range = [Arg::Text(word.clone()), Arg::Text(prefix_upper_bound(word))];
        let starting = self.probe(&sql, &range, WORD_STARTS_SPREAD + 1).await?;
        if starting <= WORD_STARTS_SPREAD {
            return Ok(WordWalk::Unbounded);
        }
        let customers = self.customers_bound().await?;
        let depth = q.offset + q.limit;
        let scan = (2 * depth).saturating_mul(customers) / WORD_TABLE_LIMIT;
        if scan >= customers {
            return Ok(WordWalk::Unbounded);
        }
        let ids = match self {
            Db::Postgres(_) => {
                self.ids(&self.page_sql(q, Lookup::Rows, None, WalkBound::Rows(scan)))
                    .await?
            }
            Db::Sqlite(_) => {
                let Some((key, id)) = self.sort_key_at(q, scan).await? else {
                    return Ok(WordWalk::Unbounded);
                };
                let bound = WalkBound::UpTo(&key, id);
                self.ids(&self.page_sql(q, Lookup::Rows, None, bound))
                    .await?
            }
        };
        if ids.len() as i64 == q.limit {
            return Ok(WordWalk::Page(ids));
        }
        let (entries, _) = self
            .rarest_word_counted(&q.filter.words, WORD_TABLE_LIMIT + 1, WORD_TABLE_MAX + 1)
            .await?;
        if entries <= WORD_TABLE_MAX
            && let Some(matches) = self
                .keyword_matches(&q.filter, Lookup::WordTable(0))
                .await?
        {
            return Ok(WordWalk::Matches(matches));
        }
        Ok(WordWalk::Unbounded)
    }

    /// The name or email key and id of the customer `n` rows along the
    /// query's order (from its pager keyset, if any), read from the sort
    /// index alone; None when fewer rows follow.
    async fn sort_key_at(
        &self,
        q: &CustomerGridQuery,
        n: i64,
    ) -> StoreResult<Option<(String, i64)>> {
        let all = CustomerGridQuery {
            filter: GridFilter::default(),
            limit: 1,
            offset: n,
            ..q.clone()
        };
        let select = format!("c.{}, c.id", q.sort.column());
        let sql = self.page_select(&all, Lookup::Rows, None, WalkBound::None, &select);
        Ok(on_pool!(self, |pool| bind_args!(
            sqlx::query_as(&sql.text),
            &sql.args
        )
        .fetch_optional(pool)
        .await)?)
    }

    /// The lookup for a query that needs the first `depth` matches, with the
    /// keyword's match set when the word table drives the keyword
    /// (`keyword_matches`). A set already read for this filter is used again
    /// without a lookup. A lookup that does not hang on the depth is found
    /// once per request (`lookup_is_shared`).
    async fn lookup_matches(
        &self,
        filter: &GridFilter,
        now: i64,
        depth: i64,
    ) -> StoreResult<(Lookup, Option<Arc<[i64]>>)> {
        let read = &filter.read.0;
        if let Some(matches) = read.matches.get() {
            return Ok((Lookup::Matches, Some(matches.clone())));
        }
        let lookup = if !lookup_is_shared(filter) {
            self.lookup(filter, now, depth).await?
        } else {
            *read
                .lookup
                .get_or_try_init(|| self.lookup(filter, now, depth))
                .await?
        };
        let matches = self.keyword_matches(filter, lookup).await?;
        Ok((lookup, matches))
    }

    /// A keyword driven by the word table: the customers holding a stored word
    /// in every word's range, in id order (None for any other lookup). Read
    /// once, it serves the page (`matches_page`) and, for several words, the
    /// count. The driving (rarest) word's range is read whole; each other
    /// word's range is read too while it is no longer than
    /// `SEEK_COST_IN_ENTRIES` entries per customer still in the set, else each
    /// of them is looked up in (customer_id, word). The ranges are
    /// intersected here (see `read_keyword_matches`): reading 40,000
    /// entries costs about what 3,000 seeks do, so `sophie van` (40,266 and
    /// 39,890 entries, 376 customers) reads two ranges instead of seeking once
    /// per entry of the first. A necessary condition only, like the word
    /// table: a word longer than the stored words is checked in full on the
    /// row.
    async fn keyword_matches(
        &self,
        filter: &GridFilter,
        lookup: Lookup,
    ) -> StoreResult<Option<Arc<[i64]>>> {
        let Lookup::WordTable(driver) = lookup else {
            return Ok(None);
        };
        let matches = filter
            .read
            .0
            .matches
            .get_or_try_init(|| self.read_keyword_matches(filter, driver))
            .await?;
        Ok(Some(matches.clone()))
    }

    /// `keyword_matches`'s set, read from the word table. With
    /// `has_tokens=yes`, narrowed to the customers holding live tokens when
    /// their own index (migration 0076) holds no more entries than the set
    /// would cost to fetch (`jan` with live tokens: 40,000 customers, 1,051
    /// of them holding tokens).
    async fn read_keyword_matches(
        &self,
        filter: &GridFilter,
        driver: usize,
    ) -> StoreResult<Arc<[i64]>> {
        let words = &filter.words;
        // Customers holding the words as typed, one after the other, hold
        // every word: only the others are checked word by word (`de vries`:
        // 19,937 customers hold the phrase, none left to check against the
        // 139,671 entries of `de`). Read beside the driving word's range.
        let phrase_holders = async {
            match phrase(words) {
                Some(phrase) => self
                    .word_holders(&phrase, None, WORD_TABLE_MAX + 1)
                    .await
                    .map(|(read, holders)| (read <= WORD_TABLE_MAX).then_some(holders)),
                None => Ok(None),
            }
        };
        let ((_, mut matches), phrase_holders) = tokio::try_join!(
            self.word_holders(&words[driver], None, WORD_TABLE_MAX + 1),
            phrase_holders
        )?;
        let mut sure = Vec::new();
        if let Some(holders) = phrase_holders {
            sure = intersection(&matches, &holders);
            matches = difference(&matches, &holders);
        }
        for (i, word) in words.iter().enumerate() {
            if i == driver || matches.is_empty() {
                continue;
            }
            let most = (matches.len() * SEEK_COST_IN_ENTRIES) as i64;
            let (read, holders) = self.word_holders(word, None, most + 1).await?;
            let holders = if read <= most {
                holders
            } else {
                self.word_holders(word, Some(&matches), i64::MAX).await?.1
            };
            matches = intersection(&matches, &holders);
        }
        let mut matches = union(&sure, &matches);
        if filter.has_tokens == Some(true) && !matches.is_empty() {
            let most = (matches.len() * SEEK_COST_IN_ENTRIES) as i64;
            let (read, holders) = self.live_token_holders(most + 1).await?;
            if read <= most {
                matches = intersection(&matches, &holders);
            }
        }
        Ok(matches.into())
    }

    /// The customers holding live API tokens (at most `limit` of them), in id
    /// order, and how many were read.
    async fn live_token_holders(&self, limit: i64) -> StoreResult<(i64, Vec<i64>)> {
        let mut sql = Sql::default();
        let limit = sql.int(limit);
        sql.text = format!(
            "SELECT {} FROM (SELECT c.id FROM {} WHERE c.live_api_tokens > 0 LIMIT {limit}) m",
            self.id_text_agg("m.id"),
            self.customers_in_order(
                Lookup::Rows,
                "id",
                &GridFilter {
                    has_tokens: Some(true),
                    ..GridFilter::default()
                }
            ),
        );
        self.id_text(&sql).await
    }

    /// The customers holding a stored word in `word`'s range, in id order, and
    /// how many entries were read for them: at most `limit` entries of the
    /// range, or with `among`, one seek for each of those customers.
    async fn word_holders(
        &self,
        word: &str,
        among: Option<&[i64]>,
        limit: i64,
    ) -> StoreResult<(i64, Vec<i64>)> {
        let mut sql = Sql::default();
        let (low, high) = word_range(word);
        let (low, high) = (sql.text(&low), sql.text(&high));
        let agg = self.id_text_agg("m.id");
        sql.text = match among {
            None => {
                let limit = sql.int(limit);
                format!(
                    "SELECT {agg} FROM (SELECT customer_id AS id FROM customer_search_words \
                     WHERE word >= {low} AND word < {high} LIMIT {limit}) m"
                )
            }
            Some(ids) => format!(
                "SELECT {agg} FROM {} m WHERE EXISTS (SELECT 1 FROM customer_search_words o \
                 WHERE o.customer_id = m.id AND o.word >= {low} AND o.word < {high})",
                self.id_list(&mut sql, ids)
            ),
        };
        self.id_text(&sql).await
    }

    /// Runs a statement answering ids as one comma-separated text
    /// (`id_text_agg`): the distinct ids in order, and how many it answered.
    async fn id_text(&self, sql: &Sql) -> StoreResult<(i64, Vec<i64>)> {
        let list: Option<String> = on_pool!(self, |pool| bind_args!(
            sqlx::query_scalar(&sql.text),
            &sql.args
        )
        .fetch_one(pool)
        .await)?;
        let mut ids: Vec<i64> = list
            .as_deref()
            .unwrap_or("")
            .split(',')
            .filter_map(|id| id.parse().ok())
            .collect();
        let read = ids.len() as i64;
        ids.sort_unstable();
        ids.dedup();
        Ok((read, ids))
    }

    /// `(SELECT … AS id …)`: the ids bound as one text value, as a one-column
    /// table (a list of a thousand placeholders would be a new statement each
    /// time, and SQLite takes at most 32,766).
    fn id_list(&self, sql: &mut Sql, ids: &[i64]) -> String {
        let joined = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        match self {
            Db::Sqlite(_) => {
                let list = sql.text(&format!("[{joined}]"));
                format!("(SELECT value AS id FROM json_each({list}))")
            }
            Db::Postgres(_) => {
                let list = sql.text(&format!("{{{joined}}}"));
                format!("(SELECT unnest({list}::bigint[]) AS id)")
            }
        }
    }

    /// An aggregate of integer `column` into one comma-separated text.
    fn id_text_agg(&self, column: &str) -> String {
        match self {
            Db::Sqlite(_) => format!("group_concat({column})"),
            Db::Postgres(_) => format!("string_agg({column}::text, ',')"),
        }
    }

    /// Before a view reads the live token count (its sort or filter), the
    /// tokens that expired since the last sweep are taken off it.
    async fn sweep_if_tokens_read(
        &self,
        filter: &GridFilter,
        sort: GridSort,
        now: i64,
    ) -> StoreResult<()> {
        if sort == GridSort::ApiTokens || filter.has_tokens.is_some() {
            self.sweep_expired_api_tokens(now).await?;
        }
        Ok(())
    }

    /// Takes the tokens that expired in (swept_at, now] off their customers'
    /// `live_api_tokens` and moves swept_at to `now` (migration 0075), so the
    /// column is the live count at `now`. A read-only probe first: most calls
    /// find nothing expired and write nothing. On PostgreSQL the sweep row is
    /// locked, so concurrent sweeps and the token triggers take turns.
    pub async fn sweep_expired_api_tokens(&self, now: i64) -> StoreResult<()> {
        let probe = "SELECT COUNT(*) FROM (SELECT 1 FROM api_tokens \
                     WHERE revoked_at IS NULL AND expires_at <= $1 \
                     AND expires_at > (SELECT swept_at FROM api_token_sweep WHERE id = 1) LIMIT 1) e";
        let expired: i64 = on_pool!(self, |pool| sqlx::query_scalar(probe)
            .bind(now)
            .fetch_one(pool)
            .await)?;
        if expired == 0 {
            return Ok(());
        }
        let mut tx = self.begin().await?;
        if let Tx::Postgres(_) = tx {
            // Tokens that expired together (an import's, a demo load's) can be a
            // million rows: cut at the serving timeout, the sweep would be
            // rolled back and tried again by every view, never getting done.
            on_tx!(&mut tx, |conn| sqlx::query(super::LIFT_STATEMENT_TIMEOUT)
                .execute(conn)
                .await
                .map(|r| r.rows_affected()))?;
            let lock = "SELECT swept_at FROM api_token_sweep WHERE id = 1 FOR UPDATE";
            on_tx!(&mut tx, |conn| sqlx::query(lock)
                .execute(conn)
                .await
                .map(|r| r.rows_affected()))?;
        }
        // The first statement writes, so SQLite takes its write lock at once.
        let expired = "api_tokens t WHERE t.revoked_at IS NULL AND t.expires_at <= $1 \
                       AND t.expires_at > (SELECT swept_at FROM api_token_sweep WHERE id = 1)";
        let sql = format!(
            "UPDATE customers SET live_api_tokens = live_api_tokens - (SELECT COUNT(*) FROM {expired} \
             AND t.customer_id = customers.id AND t.security_stamp = customers.security_stamp) \
             WHERE id IN (SELECT t.customer_id FROM {expired})"
        );
        on_tx!(&mut tx, |conn| sqlx::query(&sql)
            .bind(now)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))
        .map_err(|e| super::context(e, "sweep expired API tokens"))?;
        let sql = "UPDATE api_token_sweep SET swept_at = $1 WHERE id = 1 AND swept_at < $1";
        on_tx!(&mut tx, |conn| sqlx::query(sql)
            .bind(now)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        tx.commit().await
    }

    async fn ids(&self, sql: &Sql) -> StoreResult<Vec<i64>> {
        Ok(on_pool!(self, |pool| bind_args!(
            sqlx::query_scalar(&sql.text),
            &sql.args
        )
        .fetch_all(pool)
        .await)?)
    }

    /// The rows of `ids`, in that order, with their live token counts.
    async fn rows_in_order(&self, ids: &[i64], now: i64) -> StoreResult<Vec<CustomerGridRow>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = Sql::default();
        let now = sql.int(now);
        let list: Vec<String> = ids.iter().map(|id| sql.int(*id)).collect();
        let live = super::api_tokens::live_token(&now);
        sql.text = format!(
            "SELECT {ROW_COLUMNS}, \
             (SELECT COUNT(*) FROM api_tokens t WHERE t.customer_id = c.id AND {live}) AS active_api_tokens \
             FROM customers c WHERE c.id IN ({})",
            list.join(", ")
        );
        let mut rows: Vec<CustomerGridRow> = on_pool!(self, |pool| bind_args!(
            sqlx::query_as(&sql.text),
            &sql.args
        )
        .fetch_all(pool)
        .await)?;
        let position: std::collections::HashMap<i64, usize> =
            ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        rows.sort_by_key(|row| position.get(&row.id).copied());
        Ok(rows)
    }

    /// The exact count, asked for on purpose: it may read every match, so it
    /// is not cut by the serving statement timeout.
    async fn scalar(&self, sql: &Sql) -> StoreResult<i64> {
        Ok(on_patient!(self, |pool| bind_args!(
            sqlx::query_scalar(&sql.text),
            &sql.args
        )
        .fetch_one(pool)
        .await)?)
    }

    /// How many customers match. Without a filter: the whole table (on a large
    /// PostgreSQL table the planner's estimate instead of a scan). With one:
    /// counted up to `bound` (then `MoreThan`), or exactly when `bound` is None.
    pub async fn customer_count(
        &self,
        filter: &GridFilter,
        now: i64,
        bound: Option<i64>,
    ) -> StoreResult<GridCount> {
        self.sweep_if_tokens_read(filter, GridSort::Id, now).await?;
        if filter.is_empty() {
            return self.customers_total().await;
        }
        // The lookup shared with the page, and the keyword's match set when it
        // has one.
        let mut looked_up = None;
        if lookup_is_shared(filter) {
            let (lookup, matches) = self.lookup_matches(filter, now, count_depth(bound)).await?;
            if let Some(matches) = matches {
                return self.matched_count(filter, &matches, now, bound).await;
            }
            looked_up = Some(lookup);
        }
        if let Some(count) = self.word_table_count(filter, bound).await? {
            return Ok(count);
        }
        let lookup = match looked_up {
            Some(lookup) => lookup,
            None => self.lookup(filter, now, count_depth(bound)).await?,
        };
        let sql = self.count_sql(filter, lookup, now, bound);
        let Some(bound) = bound else {
            return Ok(GridCount::Exact(self.scalar(&sql).await?));
        };
        let (scanned, matched): (i64, i64) = on_pool!(self, |pool| bind_args!(
            sqlx::query_as(&sql.text),
            &sql.args
        )
        .fetch_one(pool)
        .await)?;
        Ok(if matched > bound {
            GridCount::MoreThan(bound)
        } else if scanned < COUNT_SCAN {
            GridCount::Exact(matched)
        } else {
            GridCount::AtLeast(matched)
        })
    }

    /// A keyword whose words are all no longer than the stored words, and no
    /// other filter: the word table alone answers (a word's range then holds
    /// exactly its customers), reading a bounded stretch of the rarest word's
    /// range, the others checked by seeks. A customer can hold several words in
    /// the range, so first `bound + 1` entries are read (all of different
    /// customers: more than the bound), then a stretch of twice that, and the
    /// distinct customers counted.
    async fn word_table_count(
        &self,
        filter: &GridFilter,
        bound: Option<i64>,
    ) -> StoreResult<Option<GridCount>> {
        let Some(bound) = bound else { return Ok(None) };
        if !word_table_is_exact(filter) {
            return Ok(None);
        }
        let stretch = 2 * (bound + 1);
        let driver = self.rarest_word(&filter.words, stretch).await?.1;
        for read_at_most in [bound + 1, stretch] {
            let mut sql = Sql::default();
            let ids = word_table_ids(&mut sql, &filter.words, driver);
            let limit = sql.int(read_at_most);
            sql.text = format!(
                "SELECT COUNT(*), COUNT(DISTINCT customer_id) FROM ({ids} LIMIT {limit}) m"
            );
            let (read, customers): (i64, i64) = on_pool!(self, |pool| bind_args!(
                sqlx::query_as(&sql.text),
                &sql.args
            )
            .fetch_one(pool)
            .await)?;
            if customers > bound {
                return Ok(Some(GridCount::MoreThan(bound)));
            }
            if read < read_at_most {
                return Ok(Some(GridCount::Exact(customers)));
            }
        }
        Ok(None)
    }

    /// How many customers of a keyword's match set (`keyword_matches`) match:
    /// its size when the word table answers exactly, else its rows checked
    /// against every condition. Bounded, at most `COUNT_SCAN` of them are read.
    async fn matched_count(
        &self,
        filter: &GridFilter,
        matches: &[i64],
        now: i64,
        bound: Option<i64>,
    ) -> StoreResult<GridCount> {
        let exact = |n: i64| match bound {
            Some(bound) if n > bound => GridCount::MoreThan(bound),
            _ => GridCount::Exact(n),
        };
        if word_table_is_exact(filter) {
            return Ok(exact(matches.len() as i64));
        }
        let read = match bound {
            Some(_) => &matches[..matches.len().min(COUNT_SCAN as usize)],
            None => matches,
        };
        let mut sql = Sql::default();
        let now = sql.int(now);
        let mut conditions = vec![format!("c.id IN {}", self.id_list(&mut sql, read))];
        let left = left_after_words(filter);
        conditions.extend(self.filter_conditions(&mut sql, &left, Lookup::Matches, &now));
        sql.text = format!(
            "SELECT COUNT(*) FROM customers c {}",
            where_clause(&conditions)
        );
        let n = match bound {
            Some(_) => on_pool!(self, |pool| bind_args!(
                sqlx::query_scalar(&sql.text),
                &sql.args
            )
            .fetch_one(pool)
            .await)?,
            None => self.scalar(&sql).await?,
        };
        Ok(match bound {
            Some(bound) if n <= bound && read.len() < matches.len() => GridCount::AtLeast(n),
            _ => exact(n),
        })
    }

    /// The keyword word with the fewest stored words (each range counted up
    /// to `limit`, so words past it tie), as (entries, index); a lone word is
    /// not counted.
    async fn rarest_word(&self, words: &[String], limit: i64) -> StoreResult<(i64, usize)> {
        if words.len() == 1 {
            return Ok((i64::MAX, 0));
        }
        self.rarest_word_counted(words, 1, limit).await
    }

    /// The keyword word with the fewest stored words, cheapest first: every
    /// word still tied is counted up to a limit that grows fourfold from
    /// `from` to `to`, so the cost is about the rarest word's entries per word,
    /// not the commonest's. As (entries, index); words past `to` tie at it.
    async fn rarest_word_counted(
        &self,
        words: &[String],
        from: i64,
        to: i64,
    ) -> StoreResult<(i64, usize)> {
        let mut limit = if words.len() == 1 {
            to
        } else {
            from.max(RAREST_FIRST_PROBE).min(to)
        };
        loop {
            // The words are counted side by side, each on a connection of its own.
            let counts = try_join_all(words.iter().map(|word| {
                let (low, high) = word_range(word);
                async move {
                    let sql = "SELECT 1 FROM customer_search_words WHERE word >= $1 AND word < $2";
                    self.probe(sql, &[Arg::Text(low), Arg::Text(high)], limit)
                        .await
                }
            }))
            .await?;
            let mut rarest = (limit, 0);
            for (i, n) in counts.into_iter().enumerate() {
                if n < rarest.0 {
                    rarest = (n, i);
                }
            }
            if rarest.0 < limit || limit >= to {
                return Ok(rarest);
            }
            limit = limit.saturating_mul(4).min(to);
        }
    }

    /// Counting every match (`bound` None): `SELECT COUNT(*)`. Bounded: at most
    /// `COUNT_SCAN` of the lookup's candidate rows are read, and the statement
    /// answers (rows read, matches among them).
    fn count_sql(&self, filter: &GridFilter, lookup: Lookup, now: i64, bound: Option<i64>) -> Sql {
        let mut sql = Sql::default();
        let now = sql.int(now);
        if let (Lookup::WordTable(driver), Some(_)) = (lookup, bound) {
            return self.word_table_count_sql(sql, filter, driver, &now);
        }
        let conditions = self.filter_conditions(&mut sql, filter, lookup, &now);
        if bound.is_none() {
            sql.text = format!(
                "SELECT COUNT(*) FROM {} {}",
                self.customers_from(lookup),
                where_clause(&conditions)
            );
            return sql;
        }
        let candidates = self.lookup_conditions(&mut sql, filter, lookup, &now);
        let all = all_of(&conditions);
        let scan = sql.int(COUNT_SCAN);
        sql.text = format!(
            "SELECT COUNT(*), COALESCE(SUM(m), 0) FROM (SELECT CASE WHEN {all} THEN 1 ELSE 0 END AS m \
             FROM {} {} LIMIT {scan}) s",
            // Rows: in id order (SQLite would rather read a small covering
            // index, whose first 20,000 rows may all hold no live token).
            self.customers_in_order(lookup, "id", filter),
            where_clause(&candidates)
        );
        sql
    }

    /// A bounded count driven by the word table: the first `COUNT_SCAN`
    /// entries of the driving word's range, each customer's row checked once
    /// (a customer can hold the word twice, in the name and the email). The
    /// entries are read as a stretch of the index, never the whole range
    /// first (`c.id IN (…)` made both stores read every entry of `jan`).
    fn word_table_count_sql(
        &self,
        mut sql: Sql,
        filter: &GridFilter,
        driver: usize,
        now: &str,
    ) -> Sql {
        let entries = word_table_ids(&mut sql, &filter.words, driver);
        let conditions = self.filter_conditions(&mut sql, filter, Lookup::Rows, now);
        let all = all_of(&conditions);
        let scan = sql.int(COUNT_SCAN);
        sql.text = format!(
            "SELECT COUNT(*), COUNT(DISTINCT CASE WHEN {all} THEN c.id END) \
             FROM ({entries} LIMIT {scan}) w JOIN customers c ON c.id = w.customer_id"
        );
        sql
    }

    /// The condition that picks a lookup's candidate rows (none: every row).
    fn lookup_conditions(
        &self,
        sql: &mut Sql,
        filter: &GridFilter,
        lookup: Lookup,
        now: &str,
    ) -> Vec<String> {
        let part = match lookup {
            // Customers with live tokens are in their own index (migration
            // 0076): reading only them, a count of `has_tokens=yes` sees 20,000
            // candidates that can match rather than a thousand among 20,000.
            Lookup::Rows if filter.has_tokens == Some(true) => {
                return vec!["c.live_api_tokens > 0".to_string()];
            }
            Lookup::Rows => return Vec::new(),
            Lookup::WordTable(i) => return vec![word_table_condition(sql, &filter.words, i)],
            // The statement reading a match set binds its list itself.
            Lookup::Matches => return Vec::new(),
            Lookup::Locked => GridFilter {
                locked: Some(true),
                ..GridFilter::default()
            },
            Lookup::LiveTokens => GridFilter {
                has_tokens: Some(true),
                ..GridFilter::default()
            },
            Lookup::Created => GridFilter {
                created: filter.created,
                ..GridFilter::default()
            },
            Lookup::LastSignIn => GridFilter {
                last_sign_in: filter.last_sign_in,
                ..GridFilter::default()
            },
        };
        self.filter_conditions(sql, &part, Lookup::Rows, now)
    }

    /// The whole table: on SQLite the row count the triggers of migration 0075
    /// keep (`customer_total`); on PostgreSQL, where one counter row would
    /// serialise every sign-up, the planner's estimate once the table is large,
    /// below that an exact count.
    async fn customers_total(&self) -> StoreResult<GridCount> {
        match self {
            Db::Sqlite(pool) => {
                let n: i64 = sqlx::query_scalar("SELECT n FROM customer_total WHERE id = 1")
                    .fetch_one(pool)
                    .await?;
                Ok(GridCount::Exact(n))
            }
            Db::Postgres(pool) => {
                let estimate: Option<f32> = sqlx::query_scalar(
                    "SELECT reltuples FROM pg_class WHERE oid = 'customers'::regclass",
                )
                .fetch_optional(pool)
                .await?;
                if let Some(estimate) = estimate.filter(|e| *e >= 100_000.0) {
                    return Ok(GridCount::Estimate(estimate as i64));
                }
                // Below the estimate's threshold an exact count stays cheap.
                let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM customers")
                    .fetch_one(pool)
                    .await?;
                Ok(GridCount::Exact(n))
            }
        }
    }

    /// Starts reading every matching customer in grid order, a chunk at a time.
    pub async fn customer_export(
        &self,
        filter: GridFilter,
        sort: GridSort,
        descending: bool,
        now: i64,
    ) -> StoreResult<GridExport> {
        self.sweep_if_tokens_read(&filter, sort, now).await?;
        let lookup = self.lookup(&filter, now, 0).await?;
        let phases = if sort.nullable() {
            // Each store's own NULL order: SQLite puts NULL first ascending,
            // PostgreSQL last.
            let nulls_first = matches!(self, Db::Sqlite(_)) != descending;
            if nulls_first {
                vec![Phase::Null, Phase::Values]
            } else {
                vec![Phase::Values, Phase::Null]
            }
        } else {
            vec![Phase::Values]
        };
        Ok(GridExport {
            db: self.clone(),
            filter,
            sort,
            descending,
            now,
            lookup,
            phases,
            after: None,
        })
    }

    /// The query plan of `customer_grid`, for the benchmark: SQLite's `EXPLAIN
    /// QUERY PLAN`, PostgreSQL's `EXPLAIN ANALYZE` (which runs the query). For
    /// a keyword's match set, the plan of reading the page from the set (the
    /// walks `matches_page` may try first are not shown).
    pub async fn explain_customer_grid(&self, q: &CustomerGridQuery) -> StoreResult<String> {
        self.sweep_if_tokens_read(&q.filter, q.sort, q.now).await?;
        let (lookup, matches) = self
            .lookup_matches(&q.filter, q.now, q.offset + q.limit)
            .await?;
        let sql = match matches {
            Some(matches) => self.page_sql(q, Lookup::Matches, Some(&matches), WalkBound::None),
            None => self.page_ids_sql(q, lookup),
        };
        self.explain(&sql, lookup).await
    }

    /// The query plan of a bounded `customer_count` (see `explain_customer_grid`).
    pub async fn explain_customer_count(
        &self,
        filter: &GridFilter,
        now: i64,
        bound: Option<i64>,
    ) -> StoreResult<String> {
        let lookup = self.lookup(filter, now, count_depth(bound)).await?;
        let sql = self.count_sql(filter, lookup, now, bound);
        self.explain(&sql, lookup).await
    }

    async fn explain(&self, sql: &Sql, lookup: Lookup) -> StoreResult<String> {
        let head = format!("lookup: {lookup:?}");
        let plan = match self {
            Db::Sqlite(pool) => {
                let explain = format!("EXPLAIN QUERY PLAN {}", sql.text);
                let rows: Vec<(i64, i64, i64, String)> =
                    bind_args!(sqlx::query_as(&explain), &sql.args)
                        .fetch_all(pool)
                        .await?;
                sqlite_plan(rows)
            }
            Db::Postgres(pool) => {
                let explain = format!("EXPLAIN ANALYZE {}", sql.text);
                let lines: Vec<String> = bind_args!(sqlx::query_scalar(&explain), &sql.args)
                    .fetch_all(pool)
                    .await?;
                lines.join("\n")
            }
        };
        Ok(format!("{head}\n{plan}"))
    }
}

/// How many matches a count needs to see: one past its bound, or every one.
fn count_depth(bound: Option<i64>) -> i64 {
    bound.map_or(i64::MAX, |bound| bound + 1)
}

/// The customers holding a stored word in the range of keyword word `driver`.
fn word_table_condition(sql: &mut Sql, words: &[String], driver: usize) -> String {
    format!("c.id IN ({})", word_table_ids(sql, words, driver))
}

/// `SELECT s.customer_id …`: the word table's entries in the range of keyword
/// word `driver` whose customer also holds a stored word in every other word's
/// range. Each other word costs one seek on (customer_id, word) (migration
/// 0076) rather than fetching the row: with several common words (`de vries`)
/// most of the driver's customers drop out here. A necessary condition only —
/// a word longer than the stored words is checked in full on the row.
fn word_table_ids(sql: &mut Sql, words: &[String], driver: usize) -> String {
    let (low, high) = word_range(&words[driver]);
    let (low, high) = (sql.text(&low), sql.text(&high));
    let range = format!("word >= {low} AND word < {high}");
    // Several words: each customer once (a word is often in both the name and
    // the email), so the seeks are one per customer and in id order.
    let mut text = if words.len() > 1 {
        format!(
            "SELECT s.customer_id FROM (SELECT DISTINCT customer_id FROM customer_search_words \
             WHERE {range}) s WHERE 1 = 1"
        )
    } else {
        format!("SELECT s.customer_id FROM customer_search_words s WHERE {range}")
    };
    for (i, word) in words.iter().enumerate() {
        if i == driver {
            continue;
        }
        let (low, high) = word_range(word);
        let (low, high) = (sql.text(&low), sql.text(&high));
        text.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM customer_search_words o \
             WHERE o.customer_id = s.customer_id AND o.word >= {low} AND o.word < {high})"
        ));
    }
    text
}

/// True when the word table alone counts a filter's matches exactly: the
/// keyword is the only filter and no word is longer than the stored words
/// (each word's range then holds exactly its customers).
fn word_table_is_exact(filter: &GridFilter) -> bool {
    !filter.words.is_empty() && left_after_words(filter).is_empty()
}

/// Whether the filter's lookup is the same whatever the depth of the read,
/// so a request's count and page share one (`lookup_matches`): only a lone
/// keyword word without `has_tokens=yes` is walked or read from the word
/// table by the depth (see `lookup`); several words and `has_tokens=yes` read
/// the word table whenever the rarest word's range is small enough, filters
/// take the smallest index.
fn lookup_is_shared(filter: &GridFilter) -> bool {
    filter.words.len() != 1 || filter.has_tokens == Some(true)
}

/// What is left to check on the rows of a keyword's match set (or a word's
/// range): the other filters, and the words only when one is longer than
/// the stored words.
fn left_after_words(filter: &GridFilter) -> GridFilter {
    // A filter of its own: what this one has read is not for it.
    let mut left = GridFilter {
        read: FilterRead::default(),
        ..filter.clone()
    };
    if filter
        .words
        .iter()
        .all(|w| w.chars().count() <= WORD_KEY_CHARS)
    {
        left.words.clear();
    }
    left
}

/// The ids in both sorted lists.
fn intersection(a: &[i64], b: &[i64]) -> Vec<i64> {
    let mut both = Vec::with_capacity(a.len().min(b.len()));
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                both.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    both
}

/// The ids of sorted `a` not in sorted `b`.
fn difference(a: &[i64], b: &[i64]) -> Vec<i64> {
    let mut only_a = Vec::with_capacity(a.len());
    let mut j = 0;
    for &id in a {
        while j < b.len() && b[j] < id {
            j += 1;
        }
        if b.get(j) != Some(&id) {
            only_a.push(id);
        }
    }
    only_a
}

/// The ids of sorted `a` and sorted `b`, sorted, each once.
fn union(a: &[i64], b: &[i64]) -> Vec<i64> {
    let mut all = [a, b].concat();
    all.sort_unstable();
    all.dedup();
    all
}

/// Several keyword words as one stored word, when it fits in one (see
/// `WORD_KEY_CHARS`): a customer holding a word that starts with it holds
/// each of the words, the later ones right after a space.
fn phrase(words: &[String]) -> Option<String> {
    let phrase = words.join(" ");
    (words.len() > 1 && phrase.chars().count() <= WORD_KEY_CHARS).then_some(phrase)
}

/// The conditions joined with AND, as one expression (true when none).
fn all_of(conditions: &[String]) -> String {
    if conditions.is_empty() {
        "1 = 1".to_string()
    } else {
        conditions.join(" AND ")
    }
}

fn where_clause(conditions: &[String]) -> String {
    if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    }
}

/// A part of the export order: rows with a value in the sort column, and rows
/// without one (NULL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Values,
    Null,
}

/// Where the export stopped: the last row's sort value and id.
#[derive(Debug, Clone)]
enum After {
    Value(Arg, i64),
    Id(i64),
}

/// Every matching customer in grid order, read in chunks by keyset (each chunk
/// starts after the last row of the one before), so nothing holds the table
/// and no statement skips rows by OFFSET.
pub struct GridExport {
    db: Db,
    filter: GridFilter,
    sort: GridSort,
    descending: bool,
    now: i64,
    lookup: Lookup,
    /// Phases still to read, the current one first.
    phases: Vec<Phase>,
    after: Option<After>,
}

impl GridExport {
    /// The next rows, or an empty Vec at the end.
    pub async fn next_chunk(&mut self) -> StoreResult<Vec<CustomerGridRow>> {
        while let Some(&phase) = self.phases.first() {
            let rows = self.read(phase).await?;
            if rows.is_empty() {
                self.phases.remove(0);
                self.after = None;
                continue;
            }
            return Ok(rows);
        }
        Ok(Vec::new())
    }

    async fn read(&mut self, phase: Phase) -> StoreResult<Vec<CustomerGridRow>> {
        let db = &self.db;
        let mut sql = Sql::default();
        let now = sql.int(self.now);
        let mut conditions = db.filter_conditions(&mut sql, &self.filter, self.lookup, &now);
        let (cmp, dir) = if self.descending {
            ("<", "DESC")
        } else {
            (">", "ASC")
        };
        let column = match phase {
            Phase::Values => self.sort.column(),
            Phase::Null => "id",
        };
        match phase {
            Phase::Null => {
                let col = self.sort.column();
                conditions.push(format!("c.{col} IS NULL"));
            }
            Phase::Values if self.sort.nullable() => {
                conditions.push(format!("c.{column} IS NOT NULL"));
            }
            Phase::Values => {}
        }
        match &self.after {
            Some(After::Value(value, id)) => {
                let (value, id) = (sql.arg(value.clone()), sql.int(*id));
                conditions.push(format!("(c.{column}, c.id) {cmp} ({value}, {id})"));
            }
            Some(After::Id(id)) => {
                let id = sql.int(*id);
                conditions.push(format!("c.id {cmp} {id}"));
            }
            _ => {}
        }
        let sort_column = db.sort_expr(column, self.lookup);
        let order = if column == "id" {
            format!("c.id {dir}")
        } else {
            format!("{sort_column} {dir}, c.id {dir}")
        };
        let limit = sql.int(EXPORT_CHUNK);
        let live = super::api_tokens::live_token(&now);
        sql.text = format!(
            "SELECT {ROW_COLUMNS}, \
             (SELECT COUNT(*) FROM api_tokens t WHERE t.customer_id = c.id AND {live}) AS active_api_tokens \
             FROM {} {} ORDER BY {order} LIMIT {limit}",
            db.customers_in_order(self.lookup, column, &self.filter),
            where_clause(&conditions)
        );
        // A chunk of a sparse filter may walk far along its index: not cut by
        // the serving statement timeout.
        let rows: Vec<CustomerGridRow> =
            on_patient!(db, |pool| bind_args!(sqlx::query_as(&sql.text), &sql.args)
                .fetch_all(pool)
                .await)?;
        if let Some(last) = rows.last() {
            self.after = Some(match (phase, self.sort) {
                (Phase::Values, GridSort::Name) => {
                    After::Value(Arg::Text(last.name_key.clone()), last.id)
                }
                (Phase::Values, GridSort::Email) => {
                    After::Value(Arg::Text(last.email_key.clone()), last.id)
                }
                (Phase::Values, GridSort::CreatedAt) => {
                    After::Value(Arg::Int(last.created_at), last.id)
                }
                (Phase::Values, GridSort::LastSignIn) => {
                    After::Value(Arg::Int(last.last_sign_in_at.unwrap_or_default()), last.id)
                }
                (Phase::Values, GridSort::Locked) => {
                    After::Value(Arg::Int(last.locked_until.unwrap_or_default()), last.id)
                }
                (Phase::Values, GridSort::ApiTokens) => {
                    After::Value(Arg::Int(last.live_api_tokens), last.id)
                }
                _ => After::Id(last.id),
            });
        }
        Ok(rows)
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
    use super::{difference, intersection, phrase, prefix_upper_bound, union, word_range};

    #[test]
    fn id_sets_merge_in_order() {
        assert_eq!(difference(&[1, 3, 5, 7], &[3, 4, 7]), vec![1, 5]);
        assert_eq!(difference(&[1, 2], &[]), vec![1, 2]);
        assert_eq!(union(&[1, 5], &[2, 5, 9]), vec![1, 2, 5, 9]);
        assert_eq!(intersection(&[1, 2, 5], &[2, 5, 9]), vec![2, 5]);
    }

    #[test]
    fn a_phrase_must_fit_in_one_stored_word() {
        let words = |w: &[&str]| w.iter().map(|w| w.to_string()).collect::<Vec<_>>();
        assert_eq!(
            phrase(&words(&["de", "vries"])).as_deref(),
            Some("de vries")
        );
        assert_eq!(phrase(&words(&["vries"])), None);
        // 13 characters: a stored word holds only the first 12.
        assert_eq!(phrase(&words(&["sophie", "van", "de"])), None);
        assert_eq!(
            phrase(&words(&["sophie", "van"])).as_deref(),
            Some("sophie van")
        );
    }

    #[test]
    fn prefix_bound_is_the_next_string() {
        assert_eq!(prefix_upper_bound("abc"), "abd");
        assert_eq!(prefix_upper_bound("a"), "b");
        assert!(prefix_upper_bound("jan").as_str() > "jan zzz");
        // Past the surrogate gap, and past the last code point.
        assert_eq!(prefix_upper_bound("a\u{D7FF}"), "a\u{E000}");
        assert_eq!(prefix_upper_bound("a\u{10FFFF}"), "b");
    }

    #[test]
    fn long_words_use_the_stored_length() {
        let (low, high) = word_range("jan.devries@example.com");
        assert_eq!(
            (low.as_str(), high.as_str()),
            ("jan.devries@", "jan.devriesA")
        );
    }
}
