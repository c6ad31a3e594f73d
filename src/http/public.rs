//! The public intake: the consultation form (`/consult`) and `POST /api/v1/consultations`.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::http::header::ContentType;
use actix_web::{HttpRequest, HttpResponse, ResponseError, get, post, web};
use minijinja::context;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::ApiError;
use super::form_guard::{self, Judgement};
use super::off_async;
use crate::desk::consultation::{Opened, hash_passphrase, submit};
use crate::domain::consultation::{self, Consultation, FieldError, Limits, RawConsultation};
use crate::domain::{form_token, jpdate};
use crate::state::AppState;

const RELATIONSHIPS: [(&str, &str); 3] = [
    ("self", "ご本人"),
    ("family", "ご家族"),
    ("other", "その他（支援者・知人など）"),
];
const AGE_GROUPS: [&str; 7] = [
    "10代",
    "20代",
    "30代",
    "40代",
    "50代",
    "60代以上",
    "わからない",
];

/// The form's fields as typed, kept so that an error page shows them again.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct ConsultForm {
    name: Option<String>,
    email: Option<String>,
    relationship: Option<String>,
    age_group: Option<String>,
    area: Option<String>,
    subject: Option<String>,
    body: Option<String>,
    consent: Option<String>,
    /// Never shown again on a page that sends the form back: typed anew.
    #[serde(skip_serializing)]
    passphrase: Option<String>,
    notice_only: Option<String>,
    /// Signed with the time the form was served (CONTRACT §6).
    #[serde(skip_serializing)]
    form_token: Option<String>,
    /// The hidden field a person leaves empty ([`form_guard::HONEYPOT`]).
    #[serde(skip_serializing)]
    homepage: Option<String>,
}

impl ConsultForm {
    fn to_raw(&self) -> RawConsultation {
        RawConsultation {
            name: self.name.clone(),
            email: self.email.clone(),
            relationship: self.relationship.clone(),
            age_group: self.age_group.clone(),
            area: self.area.clone(),
            subject: self.subject.clone(),
            body: self.body.clone(),
            consent: matches!(self.consent.as_deref(), Some("true" | "on" | "1")),
            // An empty field is a passphrase not chosen.
            passphrase: self.passphrase.clone().filter(|p| !p.is_empty()),
            notice_only: matches!(self.notice_only.as_deref(), Some("true" | "on" | "1")),
        }
    }

    /// What the person wrote, to be copied from a page that could not take it.
    fn kept_text(&self) -> String {
        let subject = self.subject.as_deref().unwrap_or("").trim();
        let body = self.body.as_deref().unwrap_or("").trim();
        match (subject.is_empty(), body.is_empty()) {
            (true, true) => String::new(),
            (false, true) => format!("件名：{subject}"),
            (true, false) => body.to_string(),
            (false, false) => format!("件名：{subject}\n\n{body}"),
        }
    }
}

fn limits(state: &AppState) -> Limits {
    Limits {
        max_body_chars: state.settings.intake.max_body_chars,
    }
}

/// Applies the per-address limit to a valid consultation and stores it in the next group
/// commit, waited for without holding a thread; only a passphrase is hashed on one.
async fn take(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    consultation: Consultation,
) -> Result<Opened, ApiError> {
    if !state
        .intake_limiter
        .try_acquire(super::client_ip(req), state.time.now())
    {
        return Err(ApiError::RateLimited);
    }
    let (consultation, hash) = if consultation.passphrase.is_some() {
        let st = state.clone();
        off_async(move || {
            let hash = hash_passphrase(&st, &consultation);
            (consultation, hash)
        })
        .await?
    } else {
        (consultation, Ok(None))
    };
    Ok(submit(state, consultation, hash?).await?)
}

/// The public API's consultation, as documented; the body is read leniently so that each
/// wrong field is reported by name.
#[derive(Deserialize, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ConsultationRequest {
    #[schema(max_length = 100)]
    name: Option<String>,
    #[schema(
        pattern = r"^\s*[!-;=?A-~]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+\s*$",
        max_length = 254
    )]
    email: String,
    /// `self`, `family` or `other`.
    #[schema(schema_with = crate::http::params::relationship)]
    relationship: String,
    #[schema(max_length = 100)]
    age_group: Option<String>,
    #[schema(max_length = 100)]
    area: Option<String>,
    #[schema(pattern = r"[^\s\x00-\x1f\x7f-\x9f]", max_length = 200)]
    subject: String,
    /// At most `intake.max_body_chars` characters.
    #[schema(pattern = r"[^\s\x00-\x1f\x7f-\x9f]")]
    body: String,
    /// Must be true.
    #[schema(schema_with = crate::http::params::must_be_true)]
    consent: bool,
    /// 合言葉 for the consulter's own page, /my (CONTRACT §10); stored only hashed.
    #[schema(min_length = 8, max_length = 128)]
    passphrase: Option<String>,
    /// Mail to the consulter says only that something is waiting on /my; needs `passphrase`.
    notice_only: Option<bool>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ConsultationReceipt {
    /// Matches `^[A-Z0-9-]{6,20}$`, e.g. `K7QM-4WXZ`.
    reference: String,
    /// RFC 3339, in the centre's time zone.
    reply_due_at: String,
}

#[utoipa::path(
    tag = "public",
    request_body = ConsultationRequest,
    responses(
        (status = 408, description = "The body did not arrive in time", body = super::error::ErrorBody),
        (status = 413, description = "The body is larger than accepted", body = super::error::ErrorBody),
        (status = 201, description = "Stored; an acknowledgement is queued", body = ConsultationReceipt),
        (status = 400, description = "Not JSON", body = super::error::ErrorBody),
        (status = 422, description = "Invalid fields, named in error.fields", body = super::error::ErrorBody),
        (status = 409, description = "The address cannot be written on a mail (`unmailable_address`)", body = super::error::ErrorBody),
        (status = 429, description = "Too many consultations from this address", body = super::error::ErrorBody),
    )
)]
#[post("/consultations")]
pub async fn create_consultation(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let consultation =
        consultation::validate_json(&body, &limits(&state)).map_err(|e| ApiError::fields(&e))?;
    let receipt = take(&state, &req, consultation).await?;
    let due = receipt.reply_due_at.with_timezone(&state.rules.tz);
    Ok(HttpResponse::Created().json(ConsultationReceipt {
        reference: receipt.reference,
        reply_due_at: due.to_rfc3339(),
    }))
}

#[utoipa::path(
    tag = "public",
    responses((status = 200, description = "The consultation form, in Japanese", content_type = "text/html"))
)]
#[get("/consult")]
pub async fn consult_form(state: web::Data<AppState>) -> HttpResponse {
    let token = form_token::issue(&state.form_secret, state.time.now());
    form_page(
        &state,
        &ConsultForm::default(),
        &[],
        &FormExtras::token(token),
        StatusCode::OK,
    )
}

/// Said above a form that was not taken for want of a good token or with the hidden field
/// filled in: nothing about why (a person did nothing wrong; a script learns nothing).
const SEND_AGAIN: &str = "確認のため、お手数ですが、もう一度「相談を送る」を押してください。\
                          書いていただいた内容は、そのまま残っています。";

/// What the form page shows besides the fields.
struct FormExtras<'a> {
    token: String,
    notice: Option<&'a str>,
}

impl FormExtras<'_> {
    fn token(token: String) -> Self {
        Self {
            token,
            notice: None,
        }
    }
}

#[utoipa::path(
    tag = "public",
    request_body(content = ConsultationRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The receipt page with the reference", content_type = "text/html"),
        (status = 422, description = "The form again, with errors beside the fields", content_type = "text/html"),
        (status = 429, description = "Too many consultations from this address", content_type = "text/html"),
    )
)]
#[post("/consult")]
pub async fn consult_submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<ConsultForm>,
) -> HttpResponse {
    if !form_guard::from_our_site(&req, &state.settings.server.public_base_url) {
        return message_page(
            &state,
            "このページからはお受けできませんでした",
            &[
                "ほかのサイトのページから送られたため、ご相談はまだ届いていません。",
                "お手数ですが、下の「相談フォームに戻る」から開いたフォームで、あらためてお送りください。",
            ],
            None,
            StatusCode::FORBIDDEN,
        );
    }
    let now = state.time.now();
    let validated = consultation::validate(&form.to_raw(), &limits(&state));
    let token = form.form_token.clone().unwrap_or_default();
    let guard = form_guard::judge(
        &state.form_secret,
        form.form_token.as_deref(),
        form.homepage.as_deref(),
        now,
    );
    if let Judgement::SendAgain { renew } = guard {
        let extras = FormExtras {
            token: if renew {
                form_token::issue(&state.form_secret, now)
            } else {
                token
            },
            notice: Some(SEND_AGAIN),
        };
        let errors = validated.err().unwrap_or_default();
        return form_page(
            &state,
            &form,
            &errors,
            &extras,
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let consultation = match validated {
        Ok(c) => c,
        // The token stays the one first served, so fixing a field and sending at once is fine.
        Err(errors) => {
            return form_page(
                &state,
                &form,
                &errors,
                &FormExtras::token(token),
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    match take(&state, &req, consultation).await {
        Ok(receipt) => {
            let due = receipt.reply_due_at.with_timezone(&state.rules.tz);
            page(
                &state,
                "pages/receipt.html",
                context! {
                    center => &state.settings.center,
                    reference => receipt.reference,
                    reply_days => state.settings.sla.reply_days,
                    reply_by => jpdate::date_ja(&due),
                    urgent => receipt.urgent,
                    my_page => receipt.my_page,
                    my_link => state.mailer.my_page_link(),
                    notice_only => receipt.my_page && form.to_raw().notice_only,
                },
                StatusCode::OK,
            )
        }
        Err(ApiError::RateLimited) => message_page(
            &state,
            "少し時間をおいて、もう一度お送りください",
            &[
                "申し訳ありません。いま、たくさんのご相談が続けて届いたため、このご相談はまだお受けできていません。",
                "お書きになった内容は、下にそのまま残しています。コピーして控えておき、1時間ほどたってから、もう一度お送りください。",
            ],
            Some(form.kept_text()),
            StatusCode::TOO_MANY_REQUESTS,
        ),
        Err(e) => {
            if e.status_code().is_server_error() {
                tracing::error!(
                    error = %crate::domain::redact::addresses(&e.to_string()),
                    "consultation form intake failed"
                );
            }
            message_page(
                &state,
                "ただいま受け付けできませんでした",
                &[
                    "申し訳ありません。システムの都合で、ご相談を受け付けることができませんでした。",
                    "お書きになった内容は、下にそのまま残しています。コピーして控えておき、少し時間をおいて、もう一度お送りください。",
                ],
                Some(form.kept_text()),
                e.status_code(),
            )
        }
    }
}

fn form_page(
    state: &AppState,
    form: &ConsultForm,
    errors: &[FieldError],
    extras: &FormExtras<'_>,
    status: StatusCode,
) -> HttpResponse {
    let errors: BTreeMap<&str, &str> = errors.iter().map(|e| (e.field, e.message_ja)).collect();
    page(
        state,
        "pages/consult.html",
        context! {
            center => &state.settings.center,
            reply_days => state.settings.sla.reply_days,
            action => "/consult",
            form => form,
            errors => errors,
            relationships => RELATIONSHIPS,
            age_groups => AGE_GROUPS,
            form_token => &extras.token,
            notice => extras.notice,
            honeypot => form_guard::HONEYPOT,
            my_link => state.mailer.my_page_link(),
        },
        status,
    )
}

/// A page in words only; `kept` is what the person wrote, shown to be copied when it could
/// not be taken.
fn message_page(
    state: &AppState,
    title: &str,
    paragraphs: &[&str],
    kept: Option<String>,
    status: StatusCode,
) -> HttpResponse {
    page(
        state,
        "pages/message.html",
        context! {
            center => &state.settings.center,
            title => title,
            paragraphs => paragraphs,
            kept => kept.filter(|k| !k.is_empty()),
            back => "/consult",
        },
        status,
    )
}

fn page(state: &AppState, name: &str, ctx: minijinja::Value, status: StatusCode) -> HttpResponse {
    match state.templates.render(name, ctx) {
        Ok(html) => HttpResponse::build(status)
            .content_type(ContentType::html())
            .body(html),
        Err(e) => {
            tracing::error!(error = %e, template = name, "page could not be rendered");
            HttpResponse::InternalServerError()
                .content_type(ContentType::plaintext())
                .body("申し訳ありません。ページを表示できませんでした。")
        }
    }
}

/// For a form post that could not even be read (not UTF-8, far too large).
pub fn bad_form_page(req: &HttpRequest) -> HttpResponse {
    match req.app_data::<web::Data<AppState>>() {
        Some(state) => message_page(
            state,
            "送信された内容を読み取れませんでした",
            &[
                "お手数ですが、フォームからもう一度お送りください。長すぎる場合は、いくつかに分けてお送りください。",
            ],
            None,
            StatusCode::BAD_REQUEST,
        ),
        None => HttpResponse::BadRequest().finish(),
    }
}
