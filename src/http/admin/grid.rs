//! The All Customers grid's query string: parsing it (every odd value falls back
//! to its default), the links that change one part of it, and which slice of
//! rows a page is.

use std::collections::HashMap;

use crate::store::GridSort;

pub const PATH: &str = "/admin/customers";
pub const PAGE_SIZES: [i64; 4] = [20, 50, 100, 200];
const DEFAULT_PAGE_SIZE: i64 = 20;
/// Longer than any name or email prefix worth typing; keeps the query bounded.
const MAX_KEYWORD_CHARS: usize = 254;

/// What the administrator asked the grid for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GridParams {
    /// The keyword as typed (trimmed), for the search box and the filter label.
    pub keyword: Option<String>,
    pub sort: GridSort,
    pub descending: bool,
    /// From 1.
    pub page: i64,
    pub limit: i64,
}

impl Default for GridParams {
    /// Newest customers first, the first page of 20.
    fn default() -> Self {
        GridParams {
            keyword: None,
            sort: GridSort::Id,
            descending: true,
            page: 1,
            limit: DEFAULT_PAGE_SIZE,
        }
    }
}

impl GridParams {
    pub fn parse(params: &HashMap<String, String>) -> GridParams {
        let defaults = GridParams::default();
        let get = |name: &str| params.get(name).map(|v| v.trim());
        let keyword = get("q")
            .filter(|q| !q.is_empty())
            .map(|q| q.chars().take(MAX_KEYWORD_CHARS).collect::<String>());
        let sort = get("sort").and_then(GridSort::from_code);
        let descending = match get("dir") {
            Some("asc") => false,
            Some("desc") => true,
            // A column picked without a direction starts ascending.
            _ if sort.is_some() => false,
            _ => defaults.descending,
        };
        let page = get("page")
            .and_then(|p| p.parse::<i64>().ok())
            .filter(|p| *p >= 1)
            .unwrap_or(1);
        let limit = get("limit")
            .and_then(|l| l.parse::<i64>().ok())
            .filter(|l| PAGE_SIZES.contains(l))
            .unwrap_or(DEFAULT_PAGE_SIZE);
        GridParams {
            keyword,
            sort: sort.unwrap_or(defaults.sort),
            descending,
            page,
            limit,
        }
    }

    /// The keyword as the store matches it: lower-cased, like the stored keys.
    pub fn store_keyword(&self) -> Option<String> {
        self.keyword.as_deref().map(str::to_lowercase)
    }

    pub fn dir_code(&self) -> &'static str {
        if self.descending { "desc" } else { "asc" }
    }

    pub fn sort_code(&self) -> &'static str {
        self.sort.code()
    }

    /// The grid's URL for these parameters; defaults are left out.
    pub fn href(&self) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        if let Some(keyword) = &self.keyword {
            query.append_pair("q", keyword);
        }
        query.append_pair("sort", self.sort_code());
        query.append_pair("dir", self.dir_code());
        if self.page > 1 {
            query.append_pair("page", &self.page.to_string());
        }
        if self.limit != DEFAULT_PAGE_SIZE {
            query.append_pair("limit", &self.limit.to_string());
        }
        format!("{PATH}?{}", query.finish())
    }

    pub fn with_page(&self, page: i64) -> GridParams {
        GridParams {
            page,
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
            page: 1,
            ..self.clone()
        }
    }

    /// The same view without the keyword.
    pub fn without_keyword(&self) -> GridParams {
        GridParams {
            keyword: None,
            page: 1,
            ..self.clone()
        }
    }
}

/// Where a page sits among all pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pager {
    pub page: i64,
    pub last_page: i64,
}

impl Pager {
    /// The requested page, moved back onto the last page when it lies beyond it.
    pub fn new(requested: i64, limit: i64, total: i64) -> Pager {
        let last_page = ((total + limit - 1) / limit).max(1);
        Pager {
            page: requested.clamp(1, last_page),
            last_page,
        }
    }

    pub fn has_previous(&self) -> bool {
        self.page > 1
    }

    pub fn has_next(&self) -> bool {
        self.page < self.last_page
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
    /// `total` must be exact for the flip. With an estimate (a large PostgreSQL
    /// table) pages are read plainly, except the last, which is the final `limit`
    /// rows read from the other end: so "Last" shows the real last customers even
    /// when the estimate is off.
    pub fn of(page: i64, limit: i64, descending: bool, total: i64, exact: bool) -> Slice {
        let offset = (page - 1) * limit;
        if !exact && page > 1 && page == Pager::new(page, limit, total).last_page {
            return Slice {
                descending: !descending,
                offset: 0,
                limit,
                reversed: true,
            };
        }
        if !exact || offset <= total / 2 {
            return Slice {
                descending,
                offset,
                limit,
                reversed: false,
            };
        }
        let end = (offset + limit).min(total);
        Slice {
            descending: !descending,
            offset: total - end,
            limit: end - offset,
            reversed: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(query: &str) -> GridParams {
        GridParams::parse(&super::super::query_params(Some(query)))
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
    fn keyword_is_kept_as_typed_and_lower_cased_for_the_store() {
        let p = parse("q=+Jane+Do&sort=email&dir=desc");
        assert_eq!(p.keyword.as_deref(), Some("Jane Do"));
        assert_eq!(p.store_keyword().as_deref(), Some("jane do"));
        assert_eq!((p.sort, p.descending), (GridSort::Email, true));
        assert!(!parse("sort=name").descending);
    }

    #[test]
    fn links_round_trip() {
        let p = parse("q=J%C3%B6rg&sort=last_sign_in&dir=asc&page=3&limit=50");
        assert_eq!(parse(p.href().split_once('?').unwrap().1), p);
        let resorted = p.sorted_by(GridSort::LastSignIn);
        assert!(resorted.descending && resorted.page == 1);
        assert!(!p.sorted_by(GridSort::Email).descending);
        assert_eq!(p.without_keyword().keyword, None);
    }

    #[test]
    fn pager_clamps_to_the_last_page() {
        assert_eq!(Pager::new(9, 20, 45).page, 3);
        assert_eq!(Pager::new(1, 20, 0).last_page, 1);
        let middle = Pager::new(2, 20, 45);
        assert!(middle.has_previous() && middle.has_next());
    }

    #[test]
    fn late_pages_are_read_from_the_other_end() {
        // 45 rows, pages of 20: page 3 holds rows 40..45.
        let last = Slice::of(3, 20, false, 45, true);
        assert_eq!(
            last,
            Slice {
                descending: true,
                offset: 0,
                limit: 5,
                reversed: true
            }
        );
        let second = Slice::of(2, 20, false, 45, true);
        assert_eq!((second.offset, second.reversed), (20, false));
        // 100 rows: page 4 holds rows 60..80, which are rows 20..40 read backwards.
        let late = Slice::of(4, 20, true, 100, true);
        assert_eq!((late.descending, late.offset, late.limit), (false, 20, 20));
        assert!(!Slice::of(4, 20, true, 100, false).reversed);
    }

    #[test]
    fn with_an_estimate_the_last_page_is_the_final_rows() {
        let last = Slice::of(5, 20, false, 100, false);
        assert_eq!(
            last,
            Slice {
                descending: true,
                offset: 0,
                limit: 20,
                reversed: true
            }
        );
        assert!(!Slice::of(1, 20, false, 10, false).reversed);
    }
}
