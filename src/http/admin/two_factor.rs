//! The two-factor pages: the code after the password (`/admin/login/two-factor`)
//! and enrolment (`/admin/account/two-factor`: the `otpauth://` link, its QR
//! code as inline SVG, the secret as text; a code confirms; the ten recovery
//! codes are shown once, in the answer to that confirmation, and never again).

use askama::Template;
use axum::Form;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::auth::{self, LOGIN, START};
use super::pending::{self, PendingAdmin};
use crate::accounts::admins::Admin;
use crate::accounts::two_factor::{self, CodeCheck, EnrolError};
use crate::audit;
use crate::http::context::{FlashKind, Visitor};
use crate::http::errors::{AppError, AppResult};
use crate::http::page::{PageView, render, see_other};
use crate::state::AppState;
use crate::store::AuditEntry;

pub const LOGIN_CODE: &str = "/admin/login/two-factor";
pub const ENROL: &str = "/admin/account/two-factor";

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CodeForm {
    code: String,
}

#[derive(Template)]
#[template(path = "admin/two_factor_code.html")]
struct CodePage {
    page: PageView,
}

pub async fn code_page(pending: PendingAdmin) -> AppResult<Response> {
    if !pending.admin.two_factor {
        return Ok(see_other(ENROL));
    }
    render(&CodePage {
        page: pending
            .visitor
            .admin_page("admin-two-factor-title", None)
            .await?,
    })
}

pub async fn check_code(pending: PendingAdmin, Form(form): Form<CodeForm>) -> AppResult<Response> {
    let PendingAdmin { visitor, admin } = pending;
    if !admin.two_factor {
        return Ok(see_other(ENROL));
    }
    match two_factor::check_sign_in_code(&visitor.state, &admin, &form.code).await? {
        CodeCheck::Accepted => {
            auth::complete_sign_in(&visitor, &admin, "password + code").await?;
            Ok(see_other(START))
        }
        CodeCheck::RecoveryCodeUsed => {
            auth::complete_sign_in(&visitor, &admin, "password + recovery code").await?;
            let left = visitor.state.db.unused_recovery_codes(admin.id).await?;
            visitor
                .flash(
                    FlashKind::Notice,
                    visitor.t_with(
                        "admin-two-factor-recovery-used",
                        &[("count", &left.to_string())],
                    ),
                )
                .await?;
            Ok(see_other(START))
        }
        CodeCheck::Refused { locked } => {
            auth::audit_sign_in(
                &visitor,
                Some(admin.id),
                &admin.email,
                audit::ADMIN_SIGN_IN_FAILED,
                "two-factor code",
            )
            .await?;
            if locked {
                // Locked: the sign-in starts over (and is refused until the lock ends).
                pending::clear(&visitor).await?;
                visitor.flash_key(FlashKind::Error, "login-failed").await?;
                return Ok(see_other(LOGIN));
            }
            visitor
                .flash_key(FlashKind::Error, "admin-two-factor-wrong-code")
                .await?;
            Ok(see_other(LOGIN_CODE))
        }
    }
}

/// Who may open the enrolment page: a signed-in administrator (any time), or
/// a half-signed-in one who has no second factor yet.
pub struct EnrollingAdmin {
    visitor: Visitor,
    admin: Admin,
    /// Signed in with the password only, enrolment still to do.
    half_signed_in: bool,
}

impl FromRequestParts<AppState> for EnrollingAdmin {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let visitor = Visitor::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let signed_in = visitor.admin().await.map_err(IntoResponse::into_response)?;
        if let Some(admin) = signed_in {
            return Ok(EnrollingAdmin {
                visitor,
                admin,
                half_signed_in: false,
            });
        }
        match pending::current(&visitor).await {
            Ok(Some(admin)) if !admin.two_factor => Ok(EnrollingAdmin {
                visitor,
                admin,
                half_signed_in: true,
            }),
            // Enrolled already: the code page is their way in.
            Ok(Some(_)) => Err(see_other(LOGIN_CODE)),
            Ok(None) => Err(see_other(LOGIN)),
            Err(e) => Err(e.into_response()),
        }
    }
}

impl EnrollingAdmin {
    async fn page(&self, title_key: &str) -> AppResult<PageView> {
        let shown = (!self.half_signed_in).then_some(&self.admin);
        self.visitor.admin_page(title_key, shown).await
    }
}

#[derive(Template)]
#[template(path = "admin/two_factor_enrol.html")]
struct EnrolPage {
    page: PageView,
    enrolled: bool,
    half_signed_in: bool,
    otpauth_url: String,
    secret: String,
    qr_svg: String,
}

/// The QR code of `text` as an inline SVG element (no XML declaration).
fn qr_svg(text: &str) -> anyhow::Result<String> {
    let code = qrcode::QrCode::new(text.as_bytes())?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(220, 220)
        .quiet_zone(true)
        .build();
    let start = svg.find("<svg").unwrap_or(0);
    Ok(svg[start..].to_string())
}

/// The secret in groups of four, easier to type into an app.
fn grouped(secret: &str) -> String {
    secret
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

pub async fn enrol_page(enrolling: EnrollingAdmin) -> AppResult<Response> {
    let state = &enrolling.visitor.state;
    if enrolling.admin.two_factor {
        // Never the secret again once enrolled.
        return render(&EnrolPage {
            page: enrolling.page("admin-enrol-title").await?,
            enrolled: true,
            half_signed_in: false,
            otpauth_url: String::new(),
            secret: String::new(),
            qr_svg: String::new(),
        });
    }
    let secret = two_factor::pending_secret(state, enrolling.admin.id).await?;
    let issuer = state
        .config
        .base_url
        .host_str()
        .unwrap_or("shop-accounts")
        .to_string();
    let otpauth_url = secret.otpauth_url(&issuer, &enrolling.admin.email);
    render(&EnrolPage {
        page: enrolling.page("admin-enrol-title").await?,
        enrolled: false,
        half_signed_in: enrolling.half_signed_in,
        qr_svg: qr_svg(&otpauth_url)?,
        secret: grouped(&secret.to_base32()),
        otpauth_url,
    })
}

#[derive(Template)]
#[template(path = "admin/recovery_codes.html")]
struct RecoveryCodesPage {
    page: PageView,
    codes: Vec<String>,
}

pub async fn enrol(enrolling: EnrollingAdmin, Form(form): Form<CodeForm>) -> AppResult<Response> {
    let EnrollingAdmin {
        visitor,
        admin,
        half_signed_in,
    } = enrolling;
    let entry = AuditEntry {
        at: visitor.state.now(),
        admin_id: Some(admin.id),
        admin_email: admin.email.clone(),
        action: audit::TWO_FACTOR_ENROLLED,
        customer_id: None,
        client_ip: visitor.client_ip.to_string(),
        detail: String::new(),
    };
    match two_factor::confirm(&visitor.state, &admin, &form.code, entry).await {
        Ok(enrolled) => {
            let admin = Admin {
                security_stamp: enrolled.stamp,
                two_factor: true,
                ..admin
            };
            if half_signed_in {
                auth::complete_sign_in(&visitor, &admin, "password + enrolment").await?;
            } else {
                // The new stamp ended every other session; this one goes on.
                visitor.sign_in_admin(&admin).await?;
            }
            let page = visitor
                .admin_page("admin-recovery-codes-title", Some(&admin))
                .await?;
            render(&RecoveryCodesPage {
                page,
                codes: enrolled.recovery_codes,
            })
        }
        Err(EnrolError::WrongCode) => {
            visitor
                .flash_key(FlashKind::Error, "admin-two-factor-wrong-code")
                .await?;
            Ok(see_other(ENROL))
        }
        Err(EnrolError::AlreadyEnrolled) => Ok(see_other(ENROL)),
        Err(EnrolError::Internal(e)) => Err(AppError::Internal(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_qr_code_is_an_svg_element() {
        let svg = qr_svg("otpauth://totp/x?secret=ABC").unwrap();
        assert!(svg.starts_with("<svg"), "{svg:.60}");
        assert!(svg.ends_with("</svg>"));
        assert_eq!(grouped("ABCDEFGHIJ"), "ABCD EFGH IJ");
    }
}
