//! `POST /admin/customers/bulk`: the grid's ticked customers (`ids`) or all
//! customers matching its filters (`all_matching=1`), with an `action`. The
//! first post answers a confirmation page with the exact count; the same form
//! posted again with `confirm=1` starts the job.

use std::collections::HashMap;

use askama::Template;
use axum::body::Bytes;
use axum::response::Response;

use super::grid::GridParams;
use super::guard::SignedInAdmin;
use super::parse_id;
use crate::http::context::FlashKind;
use crate::http::errors::{AppError, AppResult};
use crate::http::page::{PageView, render, see_other};
use crate::jobs::{self, Action, Starter};
use crate::store::SelectionFilter;

/// The grid's filters as a bulk selection: every customer the grid would list.
/// The one place that turns grid parameters into a job's selection (the web
/// form and the CLI both come through here).
///
/// Short of the grid: "all matching" selects by the keyword as a prefix of
/// the email or a name and leaves the grid's other filters aside.
pub fn selection_from_grid_params(params: &HashMap<String, String>) -> SelectionFilter {
    SelectionFilter::Matching {
        keyword: GridParams::parse(params)
            .0
            .keyword
            .map(|k| k.to_lowercase()),
    }
}

/// The grid's parameters carried through the bulk form, so the selection and
/// the way back are the grid the administrator was looking at.
const GRID_FIELDS: [&str; 5] = ["q", "sort", "dir", "limit", "page"];

/// The bulk form as posted.
struct BulkForm {
    action: Option<Action>,
    ids: Vec<i64>,
    all_matching: bool,
    grid: HashMap<String, String>,
    confirmed: bool,
    /// The largest customer id when the confirmation page counted the selection.
    upto: Option<i64>,
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
            Some(selection_from_grid_params(&self.grid))
        } else if self.ids.is_empty() {
            None
        } else {
            Some(SelectionFilter::Ids(self.ids.clone()))
        }
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
            &[("count", &ids.len().to_string())],
        ),
        SelectionFilter::Matching { keyword: None } => admin.visitor.t("admin-bulk-selection-all"),
        SelectionFilter::Matching { keyword: Some(_) } => admin.visitor.t_with(
            "admin-bulk-selection-keyword",
            &[("keyword", grid.keyword.as_deref().unwrap_or(""))],
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
    let counted = jobs::count(state, &filter, form.upto).await?;
    if counted.count == 0 {
        admin
            .visitor
            .flash_key(FlashKind::Error, "admin-bulk-none-match")
            .await?;
        return Ok(see_other(&back));
    }
    let described = describe(&admin, &filter, &GridParams::parse(&form.grid).0);
    if form.confirmed && form.upto.is_some() {
        let client_ip = admin.visitor.client_ip.to_string();
        let job = jobs::start(
            state,
            action,
            &filter,
            counted.upto,
            &described,
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
    fields.push(("upto".into(), counted.upto.to_string()));
    let action_label = admin.visitor.t(action_label_key(action));
    render(&ConfirmPage {
        page: admin.page("admin-bulk-confirm-title").await?,
        question: admin.visitor.t_with(
            "admin-bulk-confirm-question",
            &[
                ("action", &action_label),
                ("count", &counted.count.to_string()),
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
    fn all_matching_takes_the_grid_keyword() {
        let form = BulkForm::parse(b"action=reset_password&ids=3&all_matching=1&q=+De+Vries");
        assert_eq!(
            form.selection(),
            Some(SelectionFilter::Matching {
                keyword: Some("de vries".into())
            })
        );
        assert!(form.grid_href().contains("q=De+Vries"));
        assert_eq!(BulkForm::parse(b"action=delete").action, None);
        assert_eq!(BulkForm::parse(b"action=unlock").selection(), None);
    }
}
