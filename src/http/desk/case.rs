//! The ticket page's 統計の記録 form: the case fields for the city's yearly figures, set as
//! the API's `PUT /api/v1/tickets/{id}/case` sets them.

use actix_web::{HttpResponse, post, web};
use serde::Serialize;

use super::{DeskUser, failed, refused, see_other};
use crate::desk;
use crate::domain::case_fields::{CaseRecord, FIELD_NAMES};
use crate::domain::vocabulary::TicketId;
use crate::http::blocking;
use crate::state::AppState;

#[derive(Serialize)]
pub struct FormCode {
    code: String,
    label: String,
    chosen: bool,
}

#[derive(Serialize)]
pub struct FormField {
    name: &'static str,
    label: String,
    multiple: bool,
    codes: Vec<FormCode>,
}

/// Every field with its codes, those recorded marked, for the form.
pub fn form_fields(state: &AppState, recorded: &CaseRecord) -> Vec<FormField> {
    state
        .case_fields
        .fields
        .iter()
        .map(|f| FormField {
            name: f.name,
            label: f.label.clone(),
            multiple: f.multiple,
            codes: f
                .codes
                .iter()
                .map(|c| FormCode {
                    chosen: recorded.codes(f.name).contains(&c.code),
                    code: c.code.clone(),
                    label: c.label.clone(),
                })
                .collect(),
        })
        .collect()
}

/// The form's pairs as sent: a field with several codes comes once per ticked box.
pub struct Pairs(Vec<(String, String)>);

impl actix_web::FromRequest for Pairs {
    type Error = actix_web::Error;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(
        req: &actix_web::HttpRequest,
        payload: &mut actix_web::dev::Payload,
    ) -> Self::Future {
        let form = web::Form::<Vec<(String, String)>>::from_request(req, payload);
        Box::pin(async move { Ok(Self(form.await?.into_inner())) })
    }
}

/// What the form sends (for the document): the token and each field's codes.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct CaseForm {
    csrf: String,
    writer: Option<String>,
    person_sex: Option<String>,
    person_age_band: Option<String>,
    ward: Option<String>,
    withdrawal_years: Option<String>,
    /// Once per ticked box.
    purposes: Option<Vec<String>>,
    prior_agencies: Option<Vec<String>>,
    referred_to: Option<Vec<String>>,
}

#[utoipa::path(
    tag = "desk",
    params(("id" = i64, Path, description = "Ticket id")),
    request_body(content = CaseForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Recorded (every field as the form sent it); back to the ticket page"),
        (status = 403, description = "The form's token is missing or wrong", content_type = "text/html"),
        (status = 404, description = "No such ticket", content_type = "text/html"),
        (status = 422, description = "A code the field does not have", content_type = "text/html"),
    )
)]
#[post("/desk/tickets/{id}/case")]
pub async fn save(
    state: web::Data<AppState>,
    user: DeskUser,
    id: web::Path<TicketId>,
    form: Pairs,
) -> HttpResponse {
    let id = id.into_inner();
    let pairs = form.0;
    let csrf = pairs
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.as_str());
    if !user.form_is_ours(csrf) {
        return refused(&state, &user, &format!("/desk/tickets/{id}"));
    }
    // The form sends every field: a select left at 未記入 and boxes left empty clear theirs.
    let mut record = CaseRecord::default();
    for name in FIELD_NAMES {
        let codes = pairs
            .iter()
            .filter(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.clone())
            .collect();
        record.set(name, codes);
    }
    let actor = user.session.actor.clone();
    match blocking(&state, move |st, conn| {
        desk::case::set(st, conn, &actor, id, &record)
    })
    .await
    {
        Ok(()) => see_other(&format!("/desk/tickets/{id}?done=case")),
        Err(e) => failed(&state, &user, &e, &format!("/desk/tickets/{id}")),
    }
}
