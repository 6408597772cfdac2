use askama::Template;

use crate::i18n::Locale;
use crate::state::AppState;
use crate::store::{CustomerRow, NewMail};

/// The words of one email; the two templates only lay them out.
struct Body {
    title: String,
    greeting: String,
    paragraphs: Vec<String>,
    action: Option<(String, String)>,
    footer: String,
}

#[derive(Template)]
#[template(path = "email/message.html")]
struct HtmlMail<'a> {
    lang: &'a str,
    body: &'a Body,
}

#[derive(Template)]
#[template(path = "email/message.txt")]
struct TextMail<'a> {
    body: &'a Body,
}

/// Renders both bodies and seals them (when this instance has a sealing key),
/// so the outbox never holds a link in clear; the mail worker opens them.
fn render(
    state: &AppState,
    recipient: &str,
    kind: &'static str,
    locale: Locale,
    body: Body,
) -> anyhow::Result<NewMail> {
    let text = TextMail { body: &body }.render()?;
    let html = HtmlMail {
        lang: locale.code(),
        body: &body,
    }
    .render()?;
    let seal = |clear: String| match state.sealing.mail() {
        Some(key) => key.seal_text(&clear),
        None => clear,
    };
    Ok(NewMail {
        recipient: recipient.to_string(),
        kind,
        subject: body.title.clone(),
        body_text: seal(text),
        body_html: seal(html),
    })
}

fn locale_of(customer: &CustomerRow) -> Locale {
    customer.locale.parse().unwrap_or_default()
}

fn greeting(l: Locale, customer: &CustomerRow) -> String {
    l.t_with(
        "email-greeting",
        &[(
            "name",
            &format!("{} {}", customer.firstname, customer.lastname),
        )],
    )
}

/// The reset link email; the link is built from BASE_URL only.
pub fn reset_link(
    state: &AppState,
    customer: &CustomerRow,
    token: &str,
    lifetime_hours: i64,
) -> anyhow::Result<NewMail> {
    let l = locale_of(customer);
    let link = format!(
        "{}/customer/account/createPassword?token={}",
        state.config.base(),
        token
    );
    let body = Body {
        title: l.t("email-reset-subject"),
        greeting: greeting(l, customer),
        paragraphs: vec![
            l.t("email-reset-intro"),
            l.t_with(
                "email-reset-expiry",
                &[("hours", &lifetime_hours.to_string())],
            ),
            l.t("email-reset-ignore"),
        ],
        action: Some((l.t("email-reset-button"), link)),
        footer: l.t_with("email-footer", &[("support", &state.config.support_email)]),
    };
    render(state, &customer.email, "reset_link", l, body)
}

/// The "your password was changed" notice. It holds no password and no link.
pub fn password_changed(state: &AppState, customer: &CustomerRow) -> anyhow::Result<NewMail> {
    let l = locale_of(customer);
    let body = Body {
        title: l.t("email-changed-subject"),
        greeting: greeting(l, customer),
        paragraphs: vec![
            l.t("email-changed-intro"),
            l.t_with(
                "email-changed-not-you",
                &[("support", &state.config.support_email)],
            ),
        ],
        action: None,
        footer: l.t_with("email-footer", &[("support", &state.config.support_email)]),
    };
    render(state, &customer.email, "password_changed", l, body)
}
