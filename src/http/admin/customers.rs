//! All Customers: the grid, and the customer view with its action buttons.

use askama::Template;
use axum::extract::{Path, RawQuery};
use axum::response::Response;

use super::grid::{
    Anchor, BadParam, COUNT_BOUND, DATE_PARAMS, GridParams, PAGE_DEPTH, PAGE_SIZES, PageNumber,
    Pager, Paging, Slice, YesNo, group_digits,
};
use super::guard::{Allowed, SignedInAdmin, may};
use super::{parse_id, query_params};
use crate::accounts::admins::Permission;
use crate::accounts::events::{self, TimelineEntry};
use crate::accounts::lockout;
use crate::http::errors::{AppError, AppResult};
use crate::http::page::{PageView, format_date, format_datetime, render};
use crate::state::AppState;
use crate::store::{
    CustomerGridQuery, CustomerGridRow, CustomerRow, Db, GridCount, GridFilter, GridSort,
};

/// The customer behind a path id, or 404.
pub async fn find(state: &AppState, raw_id: &str) -> AppResult<CustomerRow> {
    let id = parse_id(raw_id).ok_or(AppError::NotFound)?;
    state.db.customer_by_id(id).await?.ok_or(AppError::NotFound)
}

pub fn customer_path(id: i64) -> String {
    format!("/admin/customers/{id}")
}

/// A sortable column header: a link that sorts by it.
struct SortHeader {
    label: String,
    href: String,
    /// `aria-sort` value: "ascending", "descending" or "none".
    aria_sort: &'static str,
    arrow: &'static str,
}

struct GridRowView {
    id: i64,
    name: String,
    email: String,
    since: String,
    last_sign_in: String,
    locked: bool,
    api_tokens: i64,
}

struct PageSizeOption {
    size: i64,
    selected: bool,
}

/// One `<option>` of a filter's `<select>`.
struct ChoiceOption {
    value: &'static str,
    label: String,
    selected: bool,
}

/// A filter `<select>`: its parameter name, label and options ("any" first).
struct ChoiceFilter {
    name: &'static str,
    label: String,
    options: Vec<ChoiceOption>,
}

/// A date filter `<input type="date">`.
struct DateFilter {
    name: &'static str,
    label: String,
    value: String,
}

/// First, previous, next and last; `None` where there is nowhere to go.
struct PagerLinks {
    first: Option<String>,
    previous: Option<String>,
    next: Option<String>,
    last: Option<String>,
    position: String,
}

#[derive(Template)]
#[template(path = "admin/customers.html")]
struct GridPage {
    page: PageView,
    keyword: String,
    sort: &'static str,
    dir: &'static str,
    page_sizes: Vec<PageSizeOption>,
    choices: Vec<ChoiceFilter>,
    dates: Vec<DateFilter>,
    /// Values that were not understood and were ignored, one sentence each.
    notices: Vec<String>,
    /// The grid without keyword and filters, for "Clear all"; set only when filtered.
    clear_href: Option<String>,
    /// One label per active filter.
    filter_labels: Vec<String>,
    /// The keyword and filters as hidden fields of the bulk form, so "all
    /// matching" is the customers this grid shows.
    bulk_filters: Vec<(&'static str, String)>,
    total_label: String,
    /// "Count all" when the count stopped at its bound.
    count_exactly_href: Option<String>,
    /// The CSV of every matching row, for those allowed to export.
    export_href: Option<String>,
    headers: Vec<SortHeader>,
    rows: Vec<GridRowView>,
    /// Shown instead of the table when there are no rows.
    empty_message: Option<String>,
    pager: PagerLinks,
}

fn column_label_key(sort: GridSort) -> &'static str {
    match sort {
        GridSort::Id => "admin-col-id",
        GridSort::Name => "admin-col-name",
        GridSort::Email => "admin-col-email",
        GridSort::CreatedAt => "admin-col-since",
        GridSort::LastSignIn => "admin-col-last-sign-in",
        GridSort::Locked => "admin-col-locked",
        GridSort::ApiTokens => "admin-col-api-tokens",
    }
}

fn headers(admin: &SignedInAdmin, params: &GridParams) -> Vec<SortHeader> {
    GridSort::ALL
        .iter()
        .map(|sort| {
            let active = *sort == params.sort;
            SortHeader {
                label: admin.visitor.t(column_label_key(*sort)),
                href: params.sorted_by(*sort).href(),
                aria_sort: match (active, params.descending) {
                    (false, _) => "none",
                    (true, false) => "ascending",
                    (true, true) => "descending",
                },
                arrow: match (active, params.descending) {
                    (false, _) => "",
                    (true, false) => "▲",
                    (true, true) => "▼",
                },
            }
        })
        .collect()
}

fn pager_links(
    admin: &SignedInAdmin,
    params: &GridParams,
    pager: &Pager,
    more_rows: bool,
    // The page's first and last customer: Next and Previous continue from
    // them when the sort has a keyset.
    ends: Option<(i64, i64)>,
) -> PagerLinks {
    let link = |page: PageNumber| Some(params.with_page(page).href());
    let locale = admin.visitor.locale;
    let number = match pager.page {
        PageNumber::Number(n) => Some(n),
        PageNumber::Last => None,
    };
    let has_next = pager.has_next(more_rows);
    let keyset = params.sort.keyset();
    let position = match (number, pager.last_page) {
        (Some(page), Some(pages)) => admin.visitor.t_with(
            "admin-pager-position",
            &[
                ("page", &group_digits(page, locale)),
                ("pages", &group_digits(pages, locale)),
            ],
        ),
        (Some(page), None) => admin
            .visitor
            .t_with("admin-grid-page", &[("page", &group_digits(page, locale))]),
        (None, _) => admin.visitor.t("admin-grid-last-page"),
    };
    PagerLinks {
        // From the last page of an uncounted result the page number is unknown:
        // First leads back, and Previous is left out.
        first: (number != Some(1)).then(|| params.with_page(PageNumber::Number(1)).href()),
        // Page 1 is cheap by number; deeper ones continue from this page.
        previous: number.filter(|_| pager.has_previous()).map(|n| {
            match ends.filter(|_| keyset && n > 2) {
                Some((first, _)) => params.with_anchored_page(n - 1, Anchor::Before(first)),
                None => params.with_page(PageNumber::Number(n - 1)),
            }
            .href()
        }),
        next: number.filter(|_| has_next).map(|n| {
            match ends.filter(|_| keyset) {
                Some((_, last)) => params.with_anchored_page(n + 1, Anchor::After(last)),
                None => params.with_page(PageNumber::Number(n + 1)),
            }
            .href()
        }),
        last: pager
            .has_more(more_rows)
            .then(|| pager.last_page.map_or(PageNumber::Last, PageNumber::Number))
            .and_then(link),
        position,
    }
}

fn row_view(admin: &SignedInAdmin, row: CustomerGridRow, now: i64) -> GridRowView {
    GridRowView {
        id: row.id,
        name: format!("{} {}", row.firstname, row.lastname),
        email: row.email,
        since: format_date(row.created_at),
        last_sign_in: row
            .last_sign_in_at
            .map(format_datetime)
            .unwrap_or_else(|| admin.visitor.t("admin-never")),
        locked: lockout::is_locked(row.locked_until, now),
        api_tokens: row.active_api_tokens,
    }
}

/// The yes/no filters as `<select>`s: (parameter, label key, yes value and
/// label key, no value and label key, current choice).
fn choice_filters(admin: &SignedInAdmin, params: &GridParams) -> Vec<ChoiceFilter> {
    let t = |key: &str| admin.visitor.t(key);
    let specs = [
        (
            "locked",
            "admin-grid-filter-locked",
            ("yes", "admin-yes"),
            ("no", "admin-no"),
            params.locked,
        ),
        (
            "has_tokens",
            "admin-grid-filter-has-tokens",
            ("yes", "admin-yes"),
            ("no", "admin-no"),
            params.has_tokens,
        ),
        (
            "signed_in",
            "admin-grid-filter-signed-in",
            ("ever", "admin-grid-signed-in-ever"),
            ("never", "admin-grid-signed-in-never"),
            params.signed_in,
        ),
    ];
    specs
        .into_iter()
        .map(
            |(name, label, (yes, yes_label), (no, no_label), current)| ChoiceFilter {
                name,
                label: t(label),
                options: vec![
                    ChoiceOption {
                        value: "",
                        label: t("admin-grid-any"),
                        selected: current.is_none(),
                    },
                    ChoiceOption {
                        value: yes,
                        label: t(yes_label),
                        selected: current == Some(YesNo::Yes),
                    },
                    ChoiceOption {
                        value: no,
                        label: t(no_label),
                        selected: current == Some(YesNo::No),
                    },
                ],
            },
        )
        .collect()
}

fn date_label_key(name: &str) -> &'static str {
    match name {
        "created_from" => "admin-grid-created-from",
        "created_to" => "admin-grid-created-to",
        "last_sign_in_from" => "admin-grid-last-sign-in-from",
        _ => "admin-grid-last-sign-in-to",
    }
}

/// "Locked: Yes", "Customer since from: 2024-01-01", … for each active filter.
pub(super) fn filter_labels(admin: &SignedInAdmin, params: &GridParams) -> Vec<String> {
    let t = |key: &str| admin.visitor.t(key);
    let mut labels = Vec::new();
    if let Some(keyword) = &params.keyword {
        labels.push(
            admin
                .visitor
                .t_with("admin-grid-filter-keyword", &[("keyword", keyword)]),
        );
    }
    for filter in choice_filters(admin, params) {
        if let Some(option) = filter.options.iter().skip(1).find(|o| o.selected) {
            labels.push(format!("{}: {}", filter.label, option.label));
        }
    }
    for (name, value) in DATE_PARAMS.iter().zip(&params.dates) {
        if let Some(value) = value {
            labels.push(format!("{}: {value}", t(date_label_key(name))));
        }
    }
    labels
}

fn notice(admin: &SignedInAdmin, bad: &BadParam) -> String {
    if bad.name == "q" {
        return admin.visitor.t("admin-grid-bad-keyword");
    }
    admin.visitor.t_with(
        "admin-grid-bad-value",
        &[("name", bad.name), ("value", &bad.value)],
    )
}

pub async fn grid(
    admin: Allowed<may::ViewCustomers>,
    RawQuery(query): RawQuery,
) -> AppResult<Response> {
    let admin: &SignedInAdmin = &admin;
    let (params, bad) = GridParams::parse(&query_params(query.as_deref()));
    let state = admin.state();
    let now = state.now();
    let filter = params.filter();
    let bound = (!params.exact_count).then_some(COUNT_BOUND);
    let keyset = params.sort.keyset();
    // A pager link's keyset, on a numbered page of a sort that has one.
    let anchor = params
        .anchor
        .filter(|_| keyset && matches!(params.page, PageNumber::Number(_)));
    // A page that does not hang on the count is read while counting: the
    // two statements run side by side, and the match set of a keyword is read
    // once for both (`GridFilter::read`).
    let (count, early) = tokio::try_join!(
        async { AppResult::Ok(state.db.customer_count(&filter, now, bound).await?) },
        rows_before_count(&state.db, &filter, &params, anchor, now),
    )?;
    let (total, exact) = match count {
        GridCount::Exact(n) => (Some(n), true),
        GridCount::Estimate(n) => (Some(n), false),
        GridCount::MoreThan(_) | GridCount::AtLeast(_) => (None, false),
    };
    let paging = match (keyset, anchor) {
        (false, _) => Paging::Numbers,
        (true, None) => Paging::Keyset,
        (true, Some(_)) => Paging::Anchored,
    };
    let pager = Pager::new(params.page, params.limit, total, exact, paging);
    let params = params.with_page(pager.page);
    let slice = Slice::of(
        pager.page,
        params.limit,
        params.descending,
        total.unwrap_or(0),
        exact,
    );
    let (rows, more_rows) = match early {
        Some(EarlyRows::Anchored(found)) => found,
        Some(EarlyRows::Sliced(read, rows)) if read.covers(&slice) => page_of(rows, &slice),
        _ => page_of(
            grid_rows(&state.db, &filter, &params, &slice, now).await?,
            &slice,
        ),
    };
    let ends = rows.first().zip(rows.last()).map(|(f, l)| (f.id, l.id));
    let locale = admin.visitor.locale;
    let total_label = match count {
        GridCount::Exact(n) => admin
            .visitor
            .t_with("admin-grid-total", &[("count", &group_digits(n, locale))]),
        GridCount::Estimate(n) => admin.visitor.t_with(
            "admin-grid-total-estimate",
            &[("count", &group_digits(n, locale))],
        ),
        GridCount::MoreThan(n) => admin.visitor.t_with(
            "admin-grid-total-more",
            &[("count", &group_digits(n, locale))],
        ),
        GridCount::AtLeast(n) => admin.visitor.t_with(
            "admin-grid-total-at-least",
            &[("count", &group_digits(n, locale))],
        ),
    };
    let empty_message = rows.is_empty().then(|| match &params.keyword {
        Some(keyword) => admin
            .visitor
            .t_with("admin-grid-no-match", &[("keyword", keyword)]),
        None if params.has_filters() => admin.visitor.t("admin-grid-no-filter-match"),
        None => admin.visitor.t("admin-grid-empty"),
    });
    let page = GridPage {
        page: admin.page("admin-customers-title").await?,
        keyword: params.keyword.clone().unwrap_or_default(),
        sort: params.sort_code(),
        dir: params.dir_code(),
        page_sizes: PAGE_SIZES
            .iter()
            .map(|&size| PageSizeOption {
                size,
                selected: size == params.limit,
            })
            .collect(),
        choices: choice_filters(admin, &params),
        dates: DATE_PARAMS
            .iter()
            .zip(&params.dates)
            .map(|(name, value)| DateFilter {
                name,
                label: admin.visitor.t(date_label_key(name)),
                value: value.clone().unwrap_or_default(),
            })
            .collect(),
        notices: bad
            .iter()
            .map(|b| notice(admin, b))
            .chain(pager.too_deep.then(|| {
                admin.visitor.t_with(
                    "admin-grid-too-deep",
                    &[("count", &group_digits(PAGE_DEPTH, locale))],
                )
            }))
            .collect(),
        clear_href: params
            .has_filters()
            .then(|| params.without_filters().href()),
        filter_labels: filter_labels(admin, &params),
        bulk_filters: params.filter_pairs(),
        total_label,
        count_exactly_href: matches!(count, GridCount::MoreThan(_) | GridCount::AtLeast(_))
            .then(|| params.counted_exactly().href()),
        export_href: admin
            .admin
            .can(Permission::ExportCustomers)
            .then(|| params.export_href()),
        headers: headers(admin, &params),
        rows: rows
            .into_iter()
            .map(|row| row_view(admin, row, now))
            .collect(),
        empty_message,
        pager: pager_links(admin, &params, &pager, more_rows, ends),
    };
    render(&page)
}

/// Rows read before the count was known (`rows_before_count`).
enum EarlyRows {
    /// A pager link's page, and whether rows follow it.
    Anchored((Vec<CustomerGridRow>, bool)),
    /// A slice's rows as read (see `grid_rows`).
    Sliced(Slice, Vec<CustomerGridRow>),
}

/// The rows of a page that does not hang on the count: a pager link's page
/// (when its anchor still gives rows), the first page, or the last.
async fn rows_before_count(
    db: &Db,
    filter: &GridFilter,
    params: &GridParams,
    anchor: Option<Anchor>,
    now: i64,
) -> AppResult<Option<EarlyRows>> {
    if let Some(anchor) = anchor
        && let Some(found) = grid_rows_from(db, filter, params, anchor, now).await?
    {
        return Ok(Some(EarlyRows::Anchored(found)));
    }
    let Some(slice) = Slice::before_count(params.page, params.limit, params.descending) else {
        return Ok(None);
    };
    let rows = grid_rows(db, filter, params, &slice, now).await?;
    Ok(Some(EarlyRows::Sliced(slice, rows)))
}

/// The page's rows in display order out of a slice's rows as read, and whether
/// rows follow it. One row more than shown tells whether there is a next page
/// when the count stopped at its bound.
fn page_of(mut rows: Vec<CustomerGridRow>, slice: &Slice) -> (Vec<CustomerGridRow>, bool) {
    let more_rows = rows.len() as i64 > slice.limit;
    rows.truncate(slice.limit as usize);
    if slice.reversed {
        rows.reverse();
    }
    (rows, more_rows)
}

/// A slice's rows as the store reads them: one more than its limit.
async fn grid_rows(
    db: &Db,
    filter: &GridFilter,
    params: &GridParams,
    slice: &Slice,
    now: i64,
) -> AppResult<Vec<CustomerGridRow>> {
    Ok(db
        .customer_grid(&CustomerGridQuery {
            filter: filter.clone(),
            sort: params.sort,
            descending: slice.descending,
            limit: slice.limit + 1,
            offset: slice.offset,
            now,
            after: None,
        })
        .await?)
}

/// One page of rows by a pager link's keyset, and whether rows follow it; None
/// when the anchor gave no rows (the customer is gone, or the rows moved), and
/// the page is read by its number instead. Before an anchor is after it in the
/// flipped order, read backwards.
async fn grid_rows_from(
    db: &Db,
    filter: &GridFilter,
    params: &GridParams,
    anchor: Anchor,
    now: i64,
) -> AppResult<Option<(Vec<CustomerGridRow>, bool)>> {
    let (id, backwards) = match anchor {
        Anchor::After(id) => (id, false),
        Anchor::Before(id) => (id, true),
    };
    let mut rows = db
        .customer_grid(&CustomerGridQuery {
            filter: filter.clone(),
            sort: params.sort,
            descending: params.descending != backwards,
            limit: params.limit + 1,
            offset: 0,
            now,
            after: Some(id),
        })
        .await?;
    if rows.is_empty() {
        return Ok(None);
    }
    // Read backwards, the anchor itself follows the page.
    let more_rows = backwards || rows.len() as i64 > params.limit;
    rows.truncate(params.limit as usize);
    if backwards {
        rows.reverse();
    }
    Ok(Some((rows, more_rows)))
}

/// What the customer view shows: never a password hash, stamp or link.
struct CustomerCard {
    id: i64,
    name: String,
    email: String,
    since: String,
    last_sign_in: String,
    /// "Locked until …" while locked.
    locked_until: Option<String>,
    active_api_tokens: i64,
}

#[derive(Template)]
#[template(path = "admin/customer.html")]
struct CustomerPage {
    page: PageView,
    customer: CustomerCard,
    can_reset: bool,
    can_unlock: bool,
    can_force_sign_in: bool,
    can_view_audit: bool,
    force_confirm: String,
    activity: Vec<ActivityView>,
    newer_page: Option<i64>,
    older_page: Option<i64>,
}

/// One line of the security activity: what, when, from where, and for a
/// mail its delivery state and last SMTP reply. Never a token or a link.
struct ActivityView {
    at: String,
    what: String,
    detail: String,
    ip: String,
    state: String,
}

/// The one-word details events store (where from, how), shown translated;
/// any other detail (an administrator's address, a browser) as stored.
const DETAIL_CODES: [&str; 9] = [
    "storefront",
    "rest",
    "account_page",
    "reset_link",
    "security_page",
    "rest_all",
    "one",
    "all_others",
    "not_me",
];

/// Entries per page of the security activity.
const ACTIVITY_PAGE: i64 = 20;

fn activity_view(visitor: &crate::http::context::Visitor, entry: TimelineEntry) -> ActivityView {
    match entry {
        TimelineEntry::Event(e) => ActivityView {
            at: format_datetime(e.at),
            what: visitor.t(&format!("event-{}", e.kind.replace('_', "-"))),
            detail: if DETAIL_CODES.contains(&e.detail.as_str()) {
                visitor.t(&format!("event-detail-{}", e.detail.replace('_', "-")))
            } else {
                e.detail
            },
            ip: e.ip.unwrap_or_default(),
            state: String::new(),
        },
        TimelineEntry::Mail(m) => ActivityView {
            at: format_datetime(m.created_at),
            what: visitor.t(&format!("event-mail-{}", m.kind.replace('_', "-"))),
            detail: m.last_error.unwrap_or_default(),
            ip: String::new(),
            state: visitor.t(&format!("admin-mail-status-{}", m.status)),
        },
    }
}

pub async fn view(
    admin: Allowed<may::ViewCustomers>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> AppResult<Response> {
    let state = admin.state();
    let customer = find(state, &id).await?;
    let activity_page = query_params(query.as_deref())
        .into_iter()
        .find(|(k, _)| k == "activity")
        .and_then(|(_, v)| v.parse::<i64>().ok())
        .filter(|p| (1..=100_000).contains(p))
        .unwrap_or(1);
    let (entries, more) =
        events::timeline(&state.db, &customer, activity_page, ACTIVITY_PAGE).await?;
    let activity = entries
        .into_iter()
        .map(|e| activity_view(&admin.visitor, e))
        .collect();
    let now = state.now();
    let active_api_tokens = state.db.active_api_token_count(customer.id, now).await?;
    let locked_until = customer
        .locked_until
        .filter(|_| lockout::is_locked(customer.locked_until, now))
        .map(|until| {
            admin.visitor.t_with(
                "admin-customer-locked-until",
                &[("date", &format_datetime(until))],
            )
        });
    let name = format!("{} {}", customer.firstname, customer.lastname);
    let mut page = admin.page("admin-customer-title").await?;
    page.title = name.clone();
    let card = CustomerCard {
        id: customer.id,
        name,
        email: customer.email,
        since: format_date(customer.created_at),
        last_sign_in: customer
            .last_sign_in_at
            .map(format_datetime)
            .unwrap_or_else(|| admin.visitor.t("admin-never")),
        locked_until,
        active_api_tokens,
    };
    render(&CustomerPage {
        page,
        customer: card,
        can_reset: admin.admin.can(Permission::SendResetLink),
        can_unlock: admin.admin.can(Permission::Unlock),
        can_force_sign_in: admin.admin.can(Permission::ForceSignIn),
        can_view_audit: admin.admin.can(Permission::ViewAudit),
        force_confirm: admin.visitor.t("admin-force-confirm"),
        activity,
        newer_page: (activity_page > 1).then_some(activity_page - 1),
        older_page: more.then_some(activity_page + 1),
    })
}
