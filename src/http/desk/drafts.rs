//! `POST /desk/tickets/{id}/draft`: the console's script keeps the reply being written, every
//! few seconds. Without script the reply form's 下書き保存 button does the same.

use actix_web::http::header::ContentType;
use actix_web::{HttpResponse, post, web};
use serde::Deserialize;

use super::DeskUser;
use crate::desk;
use crate::domain::vocabulary::TicketId;
use crate::http::blocking;
use crate::state::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct DraftForm {
    csrf: Option<String>,
    body: Option<String>,
}

fn plain(status: actix_web::http::StatusCode, text: &'static str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type(ContentType::plaintext())
        .body(text)
}

#[utoipa::path(
    tag = "desk",
    params(("id" = i64, Path, description = "Ticket id")),
    responses(
        (status = 204, description = "The draft is kept (an empty one is removed)"),
        (status = 303, description = "Not signed in"),
        (status = 403, description = "The form's token is missing or wrong"),
        (status = 404, description = "No such ticket"),
        (status = 422, description = "Too long"),
    )
)]
#[post("/desk/tickets/{id}/draft")]
pub async fn autosave(
    state: web::Data<AppState>,
    user: DeskUser,
    id: web::Path<TicketId>,
    form: web::Form<DraftForm>,
) -> HttpResponse {
    use actix_web::ResponseError;
    use actix_web::http::StatusCode;
    let form = form.into_inner();
    if !user.form_is_ours(form.csrf.as_deref()) {
        return plain(
            StatusCode::FORBIDDEN,
            "the form's token is missing or wrong",
        );
    }
    let id = id.into_inner();
    let body = form.body.unwrap_or_default();
    let actor = user.session.actor.clone();
    match blocking(&state, move |st, conn| {
        desk::drafts::save(st, conn, &actor, id, &body)
    })
    .await
    {
        Ok(()) => HttpResponse::NoContent().finish(),
        Err(e) => plain(e.status_code(), "the draft was not kept"),
    }
}
