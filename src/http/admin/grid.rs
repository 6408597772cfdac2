//! The All Customers grid's query string: parsing it (an odd value falls back
//! to its default; a bad filter value is dropped with a notice), the links that
//! change one part of it, which slice of rows a page is, and counts written with
//! the language's digit grouping.

use std::collections::HashMap;

use crate::i18n::Locale;
use crate::store::{GridFilter, GridSort, TimeRange, WORD_SEPARATORS};

pub const PATH: &str = "/admin/customers";
pub const EXPORT_PATH: &str = "/admin/customers/export.csv";
pub const PAGE_SIZES: [i64; 4] = [20, 50, 100, 200];
const DEFAULT_PAGE_SIZE: i64 = 20;
/// Longer than any name or email prefix worth typing; keeps the query bounded.
const MAX_KEYWORD_CHARS: usize = 254;
/// More keyword words than this are no search a person types; each costs a check.
const MAX_KEYWORD_WORDS: usize = 8;
/// Matches are counted exactly up to this many; past it the grid says "more
/// than" unless the exact figure is asked for (`count=exact`).
pub const COUNT_BOUND: i64 = 10_000;

/// A yes/no filter's choices and their query values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YesNo {
    Yes,
    No,
}

/// A query parameter whose value was not understood and is ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadParam {
    pub name: &'static str,
    pub value: String,
}

/// Which page: a number from 1, or the last one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageNumber {
    Number(i64),
    Last,
}

/// The date filters' parameter names, each with a `YYYY-MM-DD` value.
pub const DATE_PARAMS: [&str; 4] = [
    "created_from",
    "created_to",
    "last_sign_in_from",
    "last_sign_in_to",
];

/// What the administrator asked the grid for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GridParams {
    /// The keyword as typed (trimmed), for the search box and the filter label.
    pub keyword: Option<String>,
    pub locked: Option<YesNo>,
    pub has_tokens: Option<YesNo>,
    /// `Yes` = has signed in at least once (`ever`), `No` = `never`.
    pub signed_in: Option<YesNo>,
    /// The date filters in `DATE_PARAMS` order, as given (`YYYY-MM-DD`).
    pub dates: [Option<String>; 4],
    pub sort: GridSort,
    pub descending: bool,
    pub page: PageNumber,
    pub limit: i64,
    /// Count every match instead of stopping at `COUNT_BOUND`.
    pub exact_count: bool,
    /// The pager's keyset: the page starts right after (or ends right before)
    /// this customer in the grid's order, so a page deep in a million matches
    /// costs what the first does. `page` still names its number.
    pub anchor: Option<Anchor>,
}

/// A pager link's keyset: the customer id the page continues from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    /// The rows after this customer (Next).
    After(i64),
    /// The rows before this customer (Previous).
    Before(i64),
}

impl Default for GridParams {
    /// Newest customers first, the first page of 20.
    fn default() -> Self {
        GridParams {
            keyword: None,
            locked: None,
            has_tokens: None,
            signed_in: None,
            dates: [None, None, None, None],
            sort: GridSort::Id,
            descending: true,
            page: PageNumber::Number(1),
            limit: DEFAULT_PAGE_SIZE,
            exact_count: false,
            anchor: None,
        }
    }
}

/// `YYYY-MM-DD` → the unix second its UTC day starts.
fn day_start(value: &str) -> Option<i64> {
    let mut parts = value.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if parts.next().is_some() || !digits(y, 4) || !digits(m, 2) || !digits(d, 2) {
        return None;
    }
    let month = time::Month::try_from(m.parse::<u8>().ok()?).ok()?;
    let date = time::Date::from_calendar_date(y.parse().ok()?, month, d.parse().ok()?).ok()?;
    Some(date.midnight().assume_utc().unix_timestamp())
}

const DAY: i64 = 24 * 3600;

impl GridParams {
    /// The parameters, and the values that were ignored because they are not
    /// understood (each gets a notice on the page).
    pub fn parse(params: &HashMap<String, String>) -> (GridParams, Vec<BadParam>) {
        let defaults = GridParams::default();
        let mut bad = Vec::new();
        let get = |name: &str| params.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
        let keyword = get("q").and_then(|q| {
            if q.chars().any(char::is_control) {
                bad.push(BadParam {
                    name: "q",
                    value: q.chars().filter(|c| !c.is_control()).collect(),
                });
                return None;
            }
            // Cut, then trimmed again: a cut that ends at a space would not
            // survive the page's own links (which trim).
            let cut: String = q.chars().take(MAX_KEYWORD_CHARS).collect();
            Some(cut.trim_end().to_string())
        });
        let mut choice = |name: &'static str, yes: &str, no: &str| match get(name) {
            None => None,
            Some(v) if v == yes => Some(YesNo::Yes),
            Some(v) if v == no => Some(YesNo::No),
            Some(v) => {
                bad.push(BadParam {
                    name,
                    value: v.to_string(),
                });
                None
            }
        };
        let locked = choice("locked", "yes", "no");
        let has_tokens = choice("has_tokens", "yes", "no");
        let signed_in = choice("signed_in", "ever", "never");
        let dates = DATE_PARAMS.map(|name| {
            let value = get(name)?;
            if day_start(value).is_some() {
                Some(value.to_string())
            } else {
                bad.push(BadParam {
                    name,
                    value: value.to_string(),
                });
                None
            }
        });
        let sort = get("sort").and_then(GridSort::from_code);
        let descending = match get("dir") {
            Some("asc") => false,
            Some("desc") => true,
            // A column picked without a direction starts ascending.
            _ if sort.is_some() => false,
            _ => defaults.descending,
        };
        let page = match get("page") {
            Some("last") => PageNumber::Last,
            other => PageNumber::Number(
                other
                    .and_then(|p| p.parse::<i64>().ok())
                    .filter(|p| *p >= 1)
                    .unwrap_or(1),
            ),
        };
        let limit = get("limit")
            .and_then(|l| l.parse::<i64>().ok())
            .filter(|l| PAGE_SIZES.contains(l))
            .unwrap_or(DEFAULT_PAGE_SIZE);
        let params = GridParams {
            keyword,
            locked,
            has_tokens,
            signed_in,
            dates,
            sort: sort.unwrap_or(defaults.sort),
            descending,
            page,
            limit,
            exact_count: get("count") == Some("exact"),
            // Only pager links carry one; a value not understood reads the page
            // by its number instead.
            anchor: {
                let id = |name: &str| get(name).and_then(|v| v.parse::<i64>().ok());
                id("after")
                    .map(Anchor::After)
                    .or_else(|| id("before").map(Anchor::Before))
            },
        };
        (params, bad)
    }

    /// The keyword's words as the store matches them: lower-cased like the
    /// stored keys, without separators in front (`@example.com` looks for
    /// `example.com`), at most `MAX_KEYWORD_WORDS`.
    pub fn keyword_words(&self) -> Vec<String> {
        let Some(keyword) = &self.keyword else {
            return Vec::new();
        };
        let mut words: Vec<String> = Vec::new();
        for word in keyword.to_lowercase().split_whitespace() {
            let word = word.trim_start_matches(WORD_SEPARATORS);
            if !word.is_empty() && !words.iter().any(|w| w == word) {
                words.push(word.to_string());
            }
        }
        words.truncate(MAX_KEYWORD_WORDS);
        words
    }

    /// The store's filter for these parameters.
    pub fn filter(&self) -> GridFilter {
        let day = |i: usize| self.dates[i].as_deref().and_then(day_start);
        GridFilter {
            words: self.keyword_words(),
            locked: self.locked.map(|c| c == YesNo::Yes),
            has_tokens: self.has_tokens.map(|c| c == YesNo::Yes),
            signed_in: self.signed_in.map(|c| c == YesNo::Yes),
            // "to" is inclusive: up to the end of that day.
            created: TimeRange {
                from: day(0),
                until: day(1).map(|d| d + DAY),
            },
            last_sign_in: TimeRange {
                from: day(2),
                until: day(3).map(|d| d + DAY),
            },
            ..GridFilter::default()
        }
    }

    pub fn has_filters(&self) -> bool {
        self.keyword.is_some()
            || self.locked.is_some()
            || self.has_tokens.is_some()
            || self.signed_in.is_some()
            || self.dates.iter().any(Option::is_some)
    }

    pub fn dir_code(&self) -> &'static str {
        if self.descending { "desc" } else { "asc" }
    }

    pub fn sort_code(&self) -> &'static str {
        self.sort.code()
    }

    /// The filters as query pairs, in a fixed order (shared by grid and export links).
    pub fn filter_pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        if let Some(keyword) = &self.keyword {
            pairs.push(("q", keyword.clone()));
        }
        let yes_no = |c: YesNo, yes: &str, no: &str| match c {
            YesNo::Yes => yes.to_string(),
            YesNo::No => no.to_string(),
        };
        if let Some(c) = self.locked {
            pairs.push(("locked", yes_no(c, "yes", "no")));
        }
        if let Some(c) = self.has_tokens {
            pairs.push(("has_tokens", yes_no(c, "yes", "no")));
        }
        if let Some(c) = self.signed_in {
            pairs.push(("signed_in", yes_no(c, "ever", "never")));
        }
        for (name, value) in DATE_PARAMS.iter().zip(&self.dates) {
            if let Some(value) = value {
                pairs.push((name, value.clone()));
            }
        }
        pairs
    }

    fn query(&self, with_page: bool) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in self.filter_pairs() {
            query.append_pair(name, &value);
        }
        query.append_pair("sort", self.sort_code());
        query.append_pair("dir", self.dir_code());
        if with_page {
            match self.anchor {
                Some(Anchor::After(id)) => {
                    query.append_pair("after", &id.to_string());
                }
                Some(Anchor::Before(id)) => {
                    query.append_pair("before", &id.to_string());
                }
                None => {}
            }
            match self.page {
                PageNumber::Number(1) => {}
                PageNumber::Number(n) => {
                    query.append_pair("page", &n.to_string());
                }
                PageNumber::Last => {
                    query.append_pair("page", "last");
                }
            }
        }
        if self.limit != DEFAULT_PAGE_SIZE {
            query.append_pair("limit", &self.limit.to_string());
        }
        if self.exact_count {
            query.append_pair("count", "exact");
        }
        query.finish()
    }

    /// The grid's URL for these parameters; defaults are left out.
    pub fn href(&self) -> String {
        format!("{PATH}?{}", self.query(true))
    }

    /// The export of every row this view matches, in its order.
    pub fn export_href(&self) -> String {
        format!("{EXPORT_PATH}?{}", self.query(false))
    }

    pub fn with_page(&self, page: PageNumber) -> GridParams {
        GridParams {
            page,
            anchor: None,
            ..self.clone()
        }
    }

    /// A page read by keyset from `anchor`.
    pub fn with_anchored_page(&self, page: i64, anchor: Anchor) -> GridParams {
        GridParams {
            page: PageNumber::Number(page),
            anchor: Some(anchor),
            ..self.clone()
        }
    }

    /// The same view, counted exactly.
    pub fn counted_exactly(&self) -> GridParams {
        GridParams {
            exact_count: true,
            ..self.clone()
        }
    }

    /// Sorting by a column: the active column flips direction, another starts
    /// ascending; either way back to page 1.
    pub fn sorted_by(&self, sort: GridSort) -> GridParams {
        let descending = sort == self.sort && !self.descending;
        GridParams {
            sort,
            descending,
            page: PageNumber::Number(1),
            anchor: None,
            ..self.clone()
        }
    }

    /// The same view without keyword and filters.
    pub fn without_filters(&self) -> GridParams {
        GridParams {
            sort: self.sort,
            descending: self.descending,
            limit: self.limit,
            ..GridParams::default()
        }
    }
}

/// How many matches deep a page is read by its number (OFFSET) from the end
/// it is read from. A deeper page would walk past that many matches, which for
/// a common word means checking many times as many rows. Pager links carry a
/// keyset instead (`Anchor`) and go anywhere; a deeper page typed by number is
/// moved back with a notice. The last page is always offered (it is read from
/// the other end).
pub const PAGE_DEPTH: i64 = 10_000;

/// How the pager reaches the pages around this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paging {
    /// By number only (a sort on a column with NULLs, whose order differs
    /// per store): within `PAGE_DEPTH`.
    Numbers,
    /// Next and Previous carry a keyset; this page was read by number.
    Keyset,
    /// Next and Previous carry a keyset, and this page was reached by one.
    Anchored,
}

/// Where a page sits among all pages; `last_page` is None when the count
/// stopped at its bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pager {
    pub page: PageNumber,
    pub last_page: Option<i64>,
    /// The page asked for lay deeper than `PAGE_DEPTH` and was moved back.
    pub too_deep: bool,
    limit: i64,
    /// The total, when counted exactly (then late pages are read from the end).
    exact_total: Option<i64>,
    paging: Paging,
}

impl Pager {
    /// The requested page, moved back onto the last page when it lies beyond
    /// it, and onto the deepest page within `PAGE_DEPTH` when it lies deeper.
    /// `exact`: `total` is an exact count (not an estimate).
    pub fn new(
        requested: PageNumber,
        limit: i64,
        total: Option<i64>,
        exact: bool,
        paging: Paging,
    ) -> Pager {
        let mut pager = Pager {
            page: requested,
            last_page: None,
            too_deep: false,
            limit,
            exact_total: total.filter(|_| exact),
            paging,
        };
        if let Some(total) = total {
            let last_page = ((total + limit - 1) / limit).max(1);
            pager.last_page = Some(last_page);
            pager.page = PageNumber::Number(match requested {
                PageNumber::Number(n) => n.clamp(1, last_page),
                PageNumber::Last => last_page,
            });
        }
        if let PageNumber::Number(n) = pager.page
            && paging != Paging::Anchored
            && !pager.within_depth(n)
        {
            pager.page = PageNumber::Number(((PAGE_DEPTH + limit - 1) / limit).max(1));
            pager.too_deep = true;
        }
        pager
    }

    /// Page `n` lies within `PAGE_DEPTH` matches of the end it is read from.
    fn reachable(&self, n: i64) -> bool {
        self.within_depth(n) || self.paging != Paging::Numbers
    }

    fn within_depth(&self, n: i64) -> bool {
        if (n - 1).saturating_mul(self.limit) < PAGE_DEPTH || Some(n) == self.last_page {
            return true;
        }
        // Counted exactly, a late page is read from the end (see `Slice`).
        self.exact_total
            .is_some_and(|total| total - n.saturating_mul(self.limit) < PAGE_DEPTH)
    }

    pub fn has_previous(&self) -> bool {
        matches!(self.page, PageNumber::Number(n) if n > 1 && self.reachable(n - 1))
    }

    /// Whether rows follow this page; `more_rows` says whether the store had
    /// rows past this page (what decides it when the count is bounded).
    pub fn has_more(&self, more_rows: bool) -> bool {
        match (self.page, self.last_page) {
            (PageNumber::Number(n), Some(last)) => n < last,
            (PageNumber::Number(_), None) => more_rows,
            (PageNumber::Last, _) => false,
        }
    }

    /// Whether the pager links the next page: rows follow, and it lies within
    /// `PAGE_DEPTH` (else only Last leads on).
    pub fn has_next(&self, more_rows: bool) -> bool {
        self.has_more(more_rows)
            && matches!(self.page, PageNumber::Number(n) if self.reachable(n.saturating_add(1)))
    }
}

/// The rows to ask the store for. A page past the middle is read from the other
/// end (order flipped, small offset, rows reversed afterwards), so the last page
/// of a million customers costs what the first does. Flipping `ORDER BY col, id`
/// reverses it exactly on both stores, NULLs included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slice {
    pub descending: bool,
    pub offset: i64,
    pub limit: i64,
    pub reversed: bool,
}

impl Slice {
    /// The slice of a page that does not hang on the count, read while the
    /// grid counts: the first page, or the last read from the other end (the
    /// count may then narrow it, see `covers`). None for any other page.
    pub fn before_count(page: PageNumber, limit: i64, descending: bool) -> Option<Slice> {
        match page {
            PageNumber::Number(1) | PageNumber::Last => {
                Some(Slice::of(page, limit, descending, 0, false))
            }
            PageNumber::Number(_) => None,
        }
    }

    /// Whether the rows read for this slice (one more than its limit, from its
    /// offset in its order) hold all that `wanted`'s read would: the last page
    /// read from the end before the count, narrowed to the rows past the last
    /// full page once the count is exact.
    pub fn covers(&self, wanted: &Slice) -> bool {
        self.descending == wanted.descending
            && self.offset == wanted.offset
            && self.reversed == wanted.reversed
            && wanted.limit <= self.limit
    }

    /// `total` must be exact for the flip. Without it (an estimate, or a count
    /// that stopped at its bound) pages are read plainly, except the last, which
    /// is the final `limit` rows read from the other end: so "Last" shows the
    /// real last customers however many there are.
    pub fn of(page: PageNumber, limit: i64, descending: bool, total: i64, exact: bool) -> Slice {
        let from_the_end = Slice {
            descending: !descending,
            offset: 0,
            limit,
            reversed: true,
        };
        let page = match page {
            PageNumber::Last => return from_the_end,
            PageNumber::Number(page) => page,
        };
        // Saturating: past a bounded count the page is the one asked for, and
        // `page=9223372036854775807` must not overflow.
        let offset = (page - 1).saturating_mul(limit);
        if !exact
            && page > 1
            && page
                == Pager::new(
                    PageNumber::Number(page),
                    limit,
                    Some(total),
                    false,
                    Paging::Numbers,
                )
                .last_page
                .unwrap_or(0)
        {
            return from_the_end;
        }
        if !exact || offset <= total / 2 {
            return Slice {
                descending,
                offset,
                limit,
                reversed: false,
            };
        }
        let end = offset.saturating_add(limit).min(total);
        Slice {
            descending: !descending,
            offset: total - end,
            limit: end - offset,
            reversed: true,
        }
    }
}

/// `1234567` → `1,234,567` (English) or `1.234.567` (Dutch).
pub fn group_digits(n: i64, locale: Locale) -> String {
    let separator = match locale {
        Locale::En => ',',
        Locale::Nl => '.',
    };
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    if n < 0 {
        out.push('-');
    }
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(separator);
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(query: &str) -> GridParams {
        GridParams::parse(&super::super::query_params(Some(query))).0
    }

    fn bad(query: &str) -> Vec<&'static str> {
        GridParams::parse(&super::super::query_params(Some(query)))
            .1
            .iter()
            .map(|b| b.name)
            .collect()
    }

    #[test]
    fn bad_values_fall_back_to_defaults() {
        let p = parse("sort=password_hash&dir=sideways&page=-4&limit=1000000");
        assert_eq!(p, GridParams::default());
        assert_eq!(parse("page=abc&limit=25").limit, 20);
        assert_eq!(parse("limit=200").limit, 200);
        assert_eq!(parse("q=%20%20").keyword, None);
    }

    #[test]
    fn bad_filter_values_are_reported_and_ignored() {
        let query = "q=a%00b&locked=maybe&has_tokens=yes&signed_in=sometimes\
                     &created_from=2024-02-30&created_to=2024-13-01&last_sign_in_from=yesterday\
                     &last_sign_in_to=2024-1-1";
        let p = parse(query);
        assert_eq!(p.keyword, None);
        assert_eq!(p.has_tokens, Some(YesNo::Yes));
        assert!(p.dates.iter().all(Option::is_none));
        assert_eq!(
            bad(query),
            [
                "q",
                "locked",
                "signed_in",
                "created_from",
                "created_to",
                "last_sign_in_from",
                "last_sign_in_to"
            ]
        );
        assert!(bad("locked=no&signed_in=never&created_from=2024-02-29").is_empty());
    }

    #[test]
    fn keyword_words_are_lower_cased_and_start_at_a_letter() {
        let p = parse("q=+Jane+Do+%40Example.com+jane+-");
        assert_eq!(p.keyword.as_deref(), Some("Jane Do @Example.com jane -"));
        assert_eq!(p.keyword_words(), ["jane", "do", "example.com"]);
        assert!(!parse("sort=name").descending);
    }

    #[test]
    fn dates_are_whole_utc_days() {
        let f = parse("created_from=2024-01-01&created_to=2024-01-01").filter();
        assert_eq!(f.created.from, Some(1_704_067_200));
        assert_eq!(f.created.until, Some(1_704_067_200 + DAY));
    }

    #[test]
    fn links_round_trip() {
        let p = parse(
            "q=J%C3%B6rg&locked=yes&has_tokens=no&signed_in=ever&created_from=2024-01-01\
             &last_sign_in_to=2025-06-30&sort=last_sign_in&dir=asc&page=3&limit=50&count=exact",
        );
        assert_eq!(parse(p.href().split_once('?').unwrap().1), p);
        assert_eq!(parse("page=last").page, PageNumber::Last);
        let resorted = p.sorted_by(GridSort::LastSignIn);
        assert!(resorted.descending && resorted.page == PageNumber::Number(1));
        assert!(!p.sorted_by(GridSort::Email).descending);
        assert!(!p.without_filters().has_filters());
        assert!(p.export_href().contains("locked=yes"));
        assert!(!p.export_href().contains("page="));
    }

    /// Found writing the grid_query fuzz target (seed `deep_page`): a page
    /// number near i64::MAX with a count past its bound overflowed the offset
    /// (a panic in debug builds, a wrapped, possibly negative OFFSET in release).
    #[test]
    fn a_huge_page_number_does_not_overflow() {
        let p = parse("page=9223372036854775807&limit=200");
        assert_eq!(p.page, PageNumber::Number(i64::MAX));
        // The pager moves it back within PAGE_DEPTH; the slice must not
        // overflow for it either.
        let pager = Pager::new(p.page, p.limit, None, false, Paging::Numbers);
        assert!(pager.too_deep);
        assert_eq!(pager.page, PageNumber::Number(PAGE_DEPTH / 200));
        let slice = Slice::of(p.page, p.limit, p.descending, 0, false);
        assert_eq!(slice.offset, i64::MAX);
        assert_eq!(slice.limit, 200);
        let exact = Slice::of(PageNumber::Number(i64::MAX), 200, true, i64::MAX, true);
        assert!(exact.offset >= 0 && exact.limit >= 0, "{exact:?}");
    }

    /// Found writing the grid_query fuzz target's round-trip invariant: a
    /// keyword cut at its limit just after a space kept the space, so the
    /// page's links (which trim) named another view.
    #[test]
    fn a_cut_keyword_round_trips() {
        let query = format!("q={}+b", "a".repeat(MAX_KEYWORD_CHARS - 1));
        let p = parse(&query);
        assert_eq!(
            p.keyword.as_deref(),
            Some("a".repeat(MAX_KEYWORD_CHARS - 1).as_str())
        );
        assert_eq!(parse(p.href().split_once('?').unwrap().1), p);
    }

    /// The grid reads the first and the last page while it counts; the count
    /// then decides whether those rows are the page's.
    #[test]
    fn pages_read_before_the_count_are_kept_only_when_they_hold_the_page() {
        let n = PageNumber::Number;
        assert_eq!(Slice::before_count(n(2), 20, false), None);
        let first = Slice::before_count(n(1), 20, false).unwrap();
        for total in [0, 7, 45, 1_000_000] {
            let pager = Pager::new(n(1), 20, Some(total), true, Paging::Numbers);
            assert!(first.covers(&Slice::of(pager.page, 20, false, total, true)));
        }
        assert!(first.covers(&Slice::of(n(1), 20, false, 0, false)));
        let last = Slice::before_count(PageNumber::Last, 20, false).unwrap();
        assert_eq!((last.descending, last.reversed), (true, true));
        // 45 counted exactly: the last page is the 5 rows past the second
        // page, the first 5 of the 21 read from the end.
        let pager = Pager::new(PageNumber::Last, 20, Some(45), true, Paging::Numbers);
        let wanted = Slice::of(pager.page, 20, false, 45, true);
        assert_eq!(wanted.limit, 5);
        assert!(last.covers(&wanted));
        // 20 in all: the one page reads forwards, not from the end.
        let pager = Pager::new(PageNumber::Last, 20, Some(20), true, Paging::Numbers);
        assert!(!last.covers(&Slice::of(pager.page, 20, false, 20, true)));
        // Past a bounded count, Last is read from the end as before.
        assert!(last.covers(&Slice::of(PageNumber::Last, 20, false, 0, false)));
    }

    #[test]
    fn pager_clamps_to_the_last_page() {
        let n = PageNumber::Number;
        assert_eq!(
            Pager::new(n(9), 20, Some(45), true, Paging::Numbers).page,
            n(3)
        );
        assert_eq!(
            Pager::new(n(1), 20, Some(0), true, Paging::Numbers).last_page,
            Some(1)
        );
        let middle = Pager::new(n(2), 20, Some(45), true, Paging::Numbers);
        assert!(middle.has_previous() && middle.has_next(false));
        let bounded = Pager::new(n(2), 20, None, false, Paging::Numbers);
        assert!(bounded.has_next(true) && !bounded.has_next(false));
    }

    #[test]
    fn pages_deeper_than_the_bound_are_not_offered() {
        let n = PageNumber::Number;
        let deepest = PAGE_DEPTH / 20;
        // A bounded count: pages up to PAGE_DEPTH matches, then only Last.
        let edge = Pager::new(n(deepest), 20, None, false, Paging::Numbers);
        assert!(!edge.too_deep && !edge.has_next(true) && edge.has_more(true));
        assert!(Pager::new(n(deepest - 1), 20, None, false, Paging::Numbers).has_next(true));
        let typed = Pager::new(n(deepest + 1), 20, None, false, Paging::Numbers);
        assert_eq!((typed.page, typed.too_deep), (n(deepest), true));
        // An exact count: the first and the last PAGE_DEPTH matches, either way.
        let total = 1_000_000;
        let last = total / 20;
        assert!(
            !Pager::new(
                n(last - deepest + 1),
                20,
                Some(total),
                true,
                Paging::Numbers
            )
            .too_deep
        );
        let middle = Pager::new(n(last / 2), 20, Some(total), true, Paging::Numbers);
        assert_eq!((middle.page, middle.too_deep), (n(deepest), true));
        let late = Pager::new(
            n(last - deepest + 1),
            20,
            Some(total),
            true,
            Paging::Numbers,
        );
        assert!(!late.has_previous() && late.has_next(false));
        // An estimate: its last page is read from the end, the middle is not.
        assert!(!Pager::new(PageNumber::Last, 20, Some(total), false, Paging::Numbers).too_deep);
        assert!(Pager::new(n(last - 1), 20, Some(total), false, Paging::Numbers).too_deep);
        // Keyset links go on past the bound; a page reached by one stays.
        assert!(Pager::new(n(deepest), 20, None, false, Paging::Keyset).has_next(true));
        let deep = Pager::new(n(40_000), 20, None, false, Paging::Anchored);
        assert!(!deep.too_deep && deep.has_previous() && deep.has_next(true));
        assert_eq!(deep.page, n(40_000));
    }

    #[test]
    fn late_pages_are_read_from_the_other_end() {
        let n = PageNumber::Number;
        // 45 rows, pages of 20: page 3 holds rows 40..45.
        let last = Slice::of(n(3), 20, false, 45, true);
        assert_eq!(
            last,
            Slice {
                descending: true,
                offset: 0,
                limit: 5,
                reversed: true
            }
        );
        let second = Slice::of(n(2), 20, false, 45, true);
        assert_eq!((second.offset, second.reversed), (20, false));
        // 100 rows: page 4 holds rows 60..80, which are rows 20..40 read backwards.
        let late = Slice::of(n(4), 20, true, 100, true);
        assert_eq!((late.descending, late.offset, late.limit), (false, 20, 20));
        assert!(!Slice::of(n(4), 20, true, 100, false).reversed);
    }

    #[test]
    fn without_an_exact_count_the_last_page_is_the_final_rows() {
        let n = PageNumber::Number;
        let last = Slice::of(n(5), 20, false, 100, false);
        assert_eq!(
            last,
            Slice {
                descending: true,
                offset: 0,
                limit: 20,
                reversed: true
            }
        );
        assert!(!Slice::of(n(1), 20, false, 10, false).reversed);
        assert_eq!(Slice::of(PageNumber::Last, 50, true, 0, false).limit, 50);
    }

    #[test]
    fn digits_are_grouped_per_language() {
        assert_eq!(group_digits(1_000_000, Locale::En), "1,000,000");
        assert_eq!(group_digits(1_000_000, Locale::Nl), "1.000.000");
        assert_eq!(group_digits(999, Locale::En), "999");
        assert_eq!(group_digits(10_000, Locale::Nl), "10.000");
        assert_eq!(group_digits(0, Locale::En), "0");
    }
}
