//! The admin grid's query string → `GridParams`, then the pager and the row
//! slice the handler asks the store for: no panic; bounded values; the links the
//! page writes parse back to the same view; the slice never asks for a negative
//! offset or more rows than a page.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shop_accounts::http::admin::grid::{GridParams, PAGE_SIZES, PageNumber, Pager, Paging, Slice};
use shop_accounts::http::admin::query_params;

fn parse(query: &str) -> (GridParams, usize) {
    let (params, bad) = GridParams::parse(&query_params(Some(query)));
    (params, bad.len())
}

// Line 1: the query string; line 2: the store's count of matches.
fuzz_target!(|text: &str| {
    let (query, count) = text.split_once('\n').unwrap_or((text, ""));
    let total: i64 = count.trim().parse::<u32>().map_or(0, i64::from);
    let (params, _) = parse(query);
    assert!(PAGE_SIZES.contains(&params.limit));
    if let PageNumber::Number(n) = params.page {
        assert!(n >= 1);
    }
    if let Some(keyword) = &params.keyword {
        assert!(!keyword.is_empty() && keyword.chars().count() <= 254);
        assert!(!keyword.chars().any(char::is_control));
    }
    assert!(params.keyword_words().len() <= 8);
    let filter = params.filter();
    for range in [&filter.created, &filter.last_sign_in] {
        if let Some(from) = range.from {
            assert!(from % 86_400 == 0);
        }
    }
    assert!(!params.without_filters().has_filters());

    // The page's own links parse back to the same view, without notices.
    let href = params.href();
    let (again, bad) = parse(href.split_once('?').expect("a query").1);
    assert_eq!(again, params, "{href}");
    assert_eq!(bad, 0, "{href}");
    let export = params.export_href();
    let (exported, _) = parse(export.split_once('?').expect("a query").1);
    assert_eq!(exported, params.with_page(PageNumber::Number(1)));

    // What the handler does with a count: exact, estimated, or past its bound.
    for (total, exact) in [(Some(total), true), (Some(total), false), (None, false)] {
        handle(&params, total, exact, query);
    }
});

fn handle(params: &GridParams, total: Option<i64>, exact: bool, query: &str) {
    let paging = if params.sort.keyset() && params.anchor.is_some() {
        Paging::Anchored
    } else if params.sort.keyset() {
        Paging::Keyset
    } else {
        Paging::Numbers
    };
    let pager = Pager::new(params.page, params.limit, total, exact, paging);
    let slice = Slice::of(
        pager.page,
        params.limit,
        params.descending,
        total.unwrap_or(0),
        exact,
    );
    assert!(slice.offset >= 0, "negative offset {slice:?} for {query:?}");
    assert!(slice.limit >= 0 && slice.limit <= params.limit, "{slice:?}");
    let _ = pager.has_next(true);
    let _ = pager.has_previous();
}
