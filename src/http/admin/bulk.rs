//! `POST /admin/customers/bulk`: the grid's ticked customers (`ids`) or all
//! customers matching its filters (`all_matching=1`), with an `action`. The
//! first post answers a confirmation page with the exact count; the same form
//! posted again with `confirm=1` starts the job.

use std::collections::HashMap;

use askama::Template;
use axum::body::Bytes;
use axum::response::Response;

use super::customers::filter_labels;
use super::grid::{BadParam, GridParams, group_digits};
use super::guard::SignedInAdmin;
use super::parse_id;
use crate::http::context::FlashKind;
use crate::http::errors::{AppError, AppResult};
use crate::http::page::{PageView, render, see_other};
use crate::jobs::{self, Action, Pin, Starter};
use crate::store::SelectionFilter;

/// The grid's filters as a bulk selection: every customer the grid would list
/// (keyword and every filter, through the grid's own `GridFilter`). The one
/// place that turns grid parameters into a job's selection (the web form and
/// the CLI both come through here); also returns the parameters as parsed and
/// the values that were not understood (the grid ignores them with a notice).
pub fn selection_from_grid_params(
    params: &HashMap<String, String>,
) -> (SelectionFilter, GridParams, Vec<BadParam>) {
    let (grid, bad) = GridParams::parse(params);
    (SelectionFilter::Matching(grid.filter()), grid, bad)
}

/// The grid's filters as query parameters (`q=jan&locked=yes`), kept on the job.
pub fn grid_filter_query(grid: &GridParams) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in grid.filter_pairs() {
        query.append_pair(name, &value);
    }
    query.finish()
}

/// The grid's parameters carried through the bulk form, so the selection and
/// the way back are the grid the administrator was looking at.
const GRID_FIELDS: [&str; 12] = [
    "q",
    "locked",
    "has_tokens",
    "signed_in",
    "created_from",
    "created_to",
    "last_sign_in_from",
    "last_sign_in_to",
    "sort",
    "dir",
    "limit",
    "page",
];

/// The bulk form as posted.
struct BulkForm {
    action: Option<Action>,
    ids: Vec<i64>,
    all_matching: bool,
    grid: HashMap<String, String>,
    confirmed: bool,
    /// The largest customer id when the confirmation page counted the selection.
    upto: Option<i64>,
    /// When it counted (unix seconds).
    at: Option<i64>,
}

impl BulkForm {
    /// Never fails: odd values are left out, and the handler says what is missing.
    fn parse(body: &[u8]) -> BulkForm {
        let mut form = BulkForm {
            action: None,
            ids: Vec::new(),
            all_matching: false,
            grid: HashMap::new(),
            confirmed: false,
            upto: None,
            at: None,
        };
        for (name, value) in url::form_urlencoded::parse(body) {
            match name.as_ref() {
                "action" => form.action = Action::parse(&value),
                "ids" => {
                    if let Some(id) = parse_id(&value)
                        && form.ids.len() < jobs::MAX_IDS
                        && !form.ids.contains(&id)
                    {
                        form.ids.push(id);
                    }
                }
                "all_matching" => form.all_matching = value == "1",
                "confirm" => form.confirmed = value == "1",
                "upto" => form.upto = value.trim().parse::<i64>().ok().filter(|v| *v >= 0),
                "at" => form.at = value.trim().parse::<i64>().ok().filter(|v| *v >= 0),
                name if GRID_FIELDS.contains(&name) => {
                    form.grid.insert(name.to_string(), value.into_owned());
                }
                _ => {}
            }
        }
        form
    }

    /// All matching wins over ticked ids: it is the wider, explicit choice.
    fn selection(&self) -> Option<SelectionFilter> {
        if self.all_matching {
            Some(selection_from_grid_params(&self.grid).0)
        } else if self.ids.is_empty() {
            None
        } else {
            Some(SelectionFilter::Ids(self.ids.clone()))
        }
    }

    /// Where the confirmation page pinned the selection, once it was shown
    /// (`upto` decides: a form without `at` is read as of now).
    fn pin(&self) -> Option<Pin> {
        Some(Pin {
            upto: self.upto?,
            // Without the moment (an older form), the selection is read as of now.
            at: self.at.unwrap_or(i64::MAX),
        })
    }

    /// The grid this form came from.
    fn grid_href(&self) -> String {
        GridParams::parse(&self.grid).0.href()
    }
}

fn action_label_key(action: Action) -> &'static str {
    match action {
        Action::ResetPassword => "admin-bulk-reset-password",
        Action::Unlock => "admin-bulk-unlock",
        Action::ForceSignIn => "admin-bulk-force-sign-in",
    }
}

fn action_help_key(action: Action) -> &'static str {
    match action {
        Action::ResetPassword => "admin-bulk-help-reset-password",
        Action::Unlock => "admin-bulk-help-unlock",
        Action::ForceSignIn => "admin-bulk-help-force-sign-in",
    }
}

/// The selection in words, in the admin's language, for the page and the job row.
fn describe(admin: &SignedInAdmin, filter: &SelectionFilter, grid: &GridParams) -> String {
    match filter {
        SelectionFilter::Ids(ids) => admin.visitor.t_with(
            "admin-bulk-selection-ids",
            &[(
                "count",
                &group_digits(ids.len() as i64, admin.visitor.locale),
            )],
        ),
        SelectionFilter::Matching(_) if !grid.has_filters() => {
            admin.visitor.t("admin-bulk-selection-all")
        }
        SelectionFilter::Matching(_) => admin.visitor.t_with(
            "admin-bulk-selection-filtered",
            &[("filters", &filter_labels(admin, grid).join("; "))],
        ),
    }
}

#[derive(Template)]
#[template(path = "admin/bulk_confirm.html")]
struct ConfirmPage {
    page: PageView,
    question: String,
    help: String,
    selection: String,
    /// The form posted again with `confirm=1`: every field as it came.
    fields: Vec<(String, String)>,
    cancel_href: String,
}

pub async fn start(admin: SignedInAdmin, body: Bytes) -> AppResult<Response> {
    let form = BulkForm::parse(&body);
    let back = form.grid_href();
    let Some(action) = form.action else {
        admin
            .visitor
            .flash_key(FlashKind::Error, "admin-bulk-unknown-action")
            .await?;
        return Ok(see_other(&back));
    };
    if !admin.admin.can(action.permission()) {
        tracing::warn!(
            admin_id = admin.admin.id,
            action = action.code(),
            "bulk action refused: the role lacks the permission"
        );
        return Err(AppError::Forbidden);
    }
    let Some(filter) = form.selection() else {
        admin
            .visitor
            .flash_key(FlashKind::Error, "admin-bulk-nothing-selected")
            .await?;
        return Ok(see_other(&back));
    };
    let state = admin.state();
    let counted = jobs::count(state, &filter, form.pin()).await?;
    if counted.count == 0 {
        admin
            .visitor
            .flash_key(FlashKind::Error, "admin-bulk-none-match")
            .await?;
        return Ok(see_other(&back));
    }
    let grid = GridParams::parse(&form.grid).0;
    let described = describe(&admin, &filter, &grid);
    if form.confirmed
        && let Some(pin) = form.pin()
    {
        let grid_filter = match filter {
            SelectionFilter::Matching(_) => grid_filter_query(&grid),
            SelectionFilter::Ids(_) => String::new(),
        };
        let client_ip = admin.visitor.client_ip.to_string();
        let job = jobs::start(
            state,
            action,
            &filter,
            pin,
            &described,
            &grid_filter,
            &Starter {
                admin_id: Some(admin.admin.id),
                admin_email: &admin.admin.email,
                client_ip: &client_ip,
            },
        )
        .await?;
        return Ok(see_other(&super::jobs::job_path(job.id)));
    }
    let mut fields: Vec<(String, String)> = vec![("action".into(), action.code().into())];
    if form.all_matching {
        fields.push(("all_matching".into(), "1".into()));
    } else {
        fields.extend(form.ids.iter().map(|id| ("ids".into(), id.to_string())));
    }
    fields.extend(form.grid.iter().map(|(k, v)| (k.clone(), v.clone())));
    fields.push(("upto".into(), counted.pin.upto.to_string()));
    fields.push(("at".into(), counted.pin.at.to_string()));
    let action_label = admin.visitor.t(action_label_key(action));
    render(&ConfirmPage {
        page: admin.page("admin-bulk-confirm-title").await?,
        question: admin.visitor.t_with(
            "admin-bulk-confirm-question",
            &[
                ("action", &action_label),
                ("count", &group_digits(counted.count, admin.visitor.locale)),
            ],
        ),
        help: admin.visitor.t(action_help_key(action)),
        selection: admin
            .visitor
            .t_with("admin-bulk-confirm-selection", &[("selection", &described)]),
        fields,
        cancel_href: back,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_keeps_good_ids_once_and_drops_the_rest() {
        let form = BulkForm::parse(b"action=unlock&ids=3&ids=x&ids=-1&ids=3&ids=7&q=jan&evil=1");
        assert_eq!(form.action, Some(Action::Unlock));
        assert_eq!(form.ids, vec![3, 7]);
        assert_eq!(form.selection(), Some(SelectionFilter::Ids(vec![3, 7])));
        assert!(!form.confirmed && form.upto.is_none());
        assert!(!form.grid.contains_key("evil"));
    }

    #[test]
    fn all_matching_takes_the_grids_keyword_and_filters() {
        let form = BulkForm::parse(
            b"action=reset_password&ids=3&all_matching=1&q=+De+Vries&locked=yes&has_tokens=no\
              &signed_in=ever&created_from=2024-01-01&created_to=2024-01-31\
              &last_sign_in_from=2024-02-01&last_sign_in_to=2024-02-02&upto=9&at=100",
        );
        let Some(SelectionFilter::Matching(filter)) = form.selection() else {
            panic!("all matching");
        };
        let grid = GridParams::parse(&form.grid).0;
        assert_eq!(filter, grid.filter(), "exactly the grid's filter");
        assert_eq!(filter.words, vec!["de".to_string(), "vries".to_string()]);
        assert_eq!(
            (filter.locked, filter.has_tokens, filter.signed_in),
            (Some(true), Some(false), Some(true))
        );
        assert!(filter.created.from.is_some() && filter.last_sign_in.until.is_some());
        assert_eq!(form.pin(), Some(Pin { upto: 9, at: 100 }));
        assert_eq!(
            grid_filter_query(&grid),
            "q=De+Vries&locked=yes&has_tokens=no&signed_in=ever&created_from=2024-01-01\
             &created_to=2024-01-31&last_sign_in_from=2024-02-01&last_sign_in_to=2024-02-02"
        );
        assert!(form.grid_href().contains("locked=yes"));
        assert_eq!(BulkForm::parse(b"action=delete").action, None);
        assert_eq!(BulkForm::parse(b"action=unlock").selection(), None);
    }
}
