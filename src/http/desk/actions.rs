//! The ticket page's forms: reply, note, assignment, status and the urgent decision. Each
//! checks the form's token, calls the desk function the API calls, and lands on the ticket
//! page again; what was typed is kept when something stops it.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, post, web};
use serde::Deserialize;

use super::ticket::{self, Again};
use super::{DeskUser, failed, refused, see_other};
use crate::desk::{self, DeskError};
use crate::domain::vocabulary::{MessageId, StaffId, Status, TicketId};
use crate::http::blocking;
use crate::http::error::ApiError;
use crate::state::AppState;

fn back(id: TicketId, done: &str) -> HttpResponse {
    see_other(&format!("/desk/tickets/{id}?done={done}"))
}

/// The words for a field the desk found wanting.
fn field_error(code: &str) -> &'static str {
    match code {
        "too_long" => "長すぎます。2万字までにしてください。",
        _ => "入力してください。",
    }
}

fn invalid_code(e: &ApiError) -> Option<&'static str> {
    match e {
        ApiError::Desk(DeskError::Invalid(fields)) => fields.first().map(|(_, c)| *c),
        _ => None,
    }
}

/// The sign-in ended while a reply or note was being written: nothing is sent, and what was
/// typed is shown to be copied, with the way to sign in again and come back.
fn signed_out_while_writing(state: &AppState, id: TicketId, typed: Option<&str>) -> HttpResponse {
    let next = format!("/desk/tickets/{id}");
    super::render(
        state,
        "desk/message.html",
        minijinja::context! {
            title => "ログインの有効期限が切れていました",
            text => "このため、まだ何も送っていません（保存もしていません）。書いた内容は下に残しています。コピーしてから、もう一度ログインして、相談のページで送り直してください。",
            kept => typed.map(str::trim).filter(|t| !t.is_empty()),
            back => format!("/desk?next={}", super::percent_encode(&next)),
            back_words => "もう一度ログインする",
            ..super::base(state, None)
        },
        StatusCode::UNAUTHORIZED,
    )
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ReplyForm {
    csrf: Option<String>,
    body: Option<String>,
    last_seen_message_id: Option<i64>,
    /// Which button: `send`, `close`, `draft` (keep it, send nothing), or `insert` (add the
    /// chosen text module, without script).
    action: Option<String>,
    text_module: Option<String>,
}

#[utoipa::path(
    tag = "desk",
    params(("id" = i64, Path, description = "Ticket id")),
    responses(
        (status = 303, description = "Sent as the API's reply; back to the ticket page"),
        (status = 403, description = "The form's token is missing or wrong", content_type = "text/html"),
        (status = 409, description = "The consulter wrote again: nothing sent, the new message shown, the text kept", content_type = "text/html"),
        (status = 422, description = "Empty or too long: the page again with the error beside the field", content_type = "text/html"),
    )
)]
#[post("/desk/tickets/{id}/reply")]
pub async fn reply(
    state: web::Data<AppState>,
    user: Option<DeskUser>,
    id: web::Path<TicketId>,
    form: web::Form<ReplyForm>,
) -> HttpResponse {
    let id = id.into_inner();
    let form = form.into_inner();
    let Some(user) = user else {
        return signed_out_while_writing(&state, id, form.body.as_deref());
    };
    if !user.form_is_ours(form.csrf.as_deref()) {
        return refused(&state, &user, &format!("/desk/tickets/{id}"));
    }
    let body = form.body.unwrap_or_default();
    if form.action.as_deref() == Some("draft") {
        return draft(&state, &user, id, body).await;
    }
    if form.action.as_deref() == Some("insert") {
        let module = form.text_module.as_deref().and_then(|m| m.parse().ok());
        return insert(&state, &user, id, body, module).await;
    }
    let close = form.action.as_deref() == Some("close");
    let seen = form.last_seen_message_id.map(MessageId);
    let actor = user.session.actor.clone();
    let text = body.clone();
    let result = blocking(&state, move |st, conn| {
        desk::tickets::reply(st, conn, &actor, id, &text, close, seen)
    })
    .await;
    match result {
        Ok(q) if q.held => back(id, "held"),
        Ok(_) => back(id, if close { "close" } else { "reply" }),
        Err(ApiError::Desk(DeskError::Collision { message_id, .. })) => {
            let again = Again {
                reply: Some(body),
                newer: Some(message_id),
                ..Again::default()
            };
            ticket::page(&state, &user, id, again, StatusCode::CONFLICT).await
        }
        Err(e) => match invalid_code(&e) {
            Some(code) => {
                let again = Again {
                    reply: Some(body),
                    reply_error: Some(field_error(code)),
                    ..Again::default()
                };
                ticket::page(&state, &user, id, again, StatusCode::UNPROCESSABLE_ENTITY).await
            }
            None => failed(&state, &user, &e, &format!("/desk/tickets/{id}")),
        },
    }
}

/// The reply form's 下書き保存: keeps the text on the server and shows the page again.
async fn draft(
    state: &web::Data<AppState>,
    user: &DeskUser,
    id: TicketId,
    body: String,
) -> HttpResponse {
    let actor = user.session.actor.clone();
    let text = body.clone();
    match blocking(state, move |st, conn| {
        desk::drafts::save(st, conn, &actor, id, &text)
    })
    .await
    {
        Ok(()) => back(id, "draft"),
        Err(e) => match invalid_code(&e) {
            Some(code) => {
                let again = Again {
                    reply: Some(body),
                    reply_error: Some(field_error(code)),
                    ..Again::default()
                };
                ticket::page(state, user, id, again, StatusCode::UNPROCESSABLE_ENTITY).await
            }
            None => failed(state, user, &e, &format!("/desk/tickets/{id}")),
        },
    }
}

/// The no-script 挿入 button: the chosen module is added to the reply, kept as the draft,
/// and the page shows the reply with it.
async fn insert(
    state: &web::Data<AppState>,
    user: &DeskUser,
    id: TicketId,
    body: String,
    module: Option<i64>,
) -> HttpResponse {
    let Some(module) = module else {
        let again = Again {
            reply: Some(body),
            module_error: Some("入れる定型文を選んでください。"),
            ..Again::default()
        };
        return ticket::page(state, user, id, again, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    let actor = user.session.actor.clone();
    match blocking(state, move |st, conn| {
        desk::text_modules::insert_into_reply(st, conn, &actor, id, &body, module)
    })
    .await
    {
        Ok(_) => see_other(&format!("/desk/tickets/{id}?done=insert#reply")),
        Err(e) => failed(state, user, &e, &format!("/desk/tickets/{id}")),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NoteForm {
    csrf: Option<String>,
    body: Option<String>,
}

#[utoipa::path(
    tag = "desk",
    params(("id" = i64, Path, description = "Ticket id")),
    responses(
        (status = 303, description = "The internal note is kept (never mailed); back to the ticket page"),
        (status = 403, description = "The form's token is missing or wrong", content_type = "text/html"),
        (status = 422, description = "Empty or too long: the page again with the error beside the field", content_type = "text/html"),
    )
)]
#[post("/desk/tickets/{id}/note")]
pub async fn note(
    state: web::Data<AppState>,
    user: Option<DeskUser>,
    id: web::Path<TicketId>,
    form: web::Form<NoteForm>,
) -> HttpResponse {
    let id = id.into_inner();
    let form = form.into_inner();
    let Some(user) = user else {
        return signed_out_while_writing(&state, id, form.body.as_deref());
    };
    if !user.form_is_ours(form.csrf.as_deref()) {
        return refused(&state, &user, &format!("/desk/tickets/{id}"));
    }
    let body = form.body.unwrap_or_default();
    let actor = user.session.actor.clone();
    let text = body.clone();
    match blocking(&state, move |st, conn| {
        desk::tickets::note(st, conn, &actor, id, &text)
    })
    .await
    {
        Ok(_) => back(id, "note"),
        Err(e) => match invalid_code(&e) {
            Some(code) => {
                let again = Again {
                    note: Some(body),
                    note_error: Some(field_error(code)),
                    ..Again::default()
                };
                ticket::page(&state, &user, id, again, StatusCode::UNPROCESSABLE_ENTITY).await
            }
            None => failed(&state, &user, &e, &format!("/desk/tickets/{id}")),
        },
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct AssignForm {
    csrf: Option<String>,
    /// A staff id, or empty for nobody.
    assignee: Option<String>,
}

#[utoipa::path(
    tag = "desk",
    params(("id" = i64, Path, description = "Ticket id")),
    responses(
        (status = 303, description = "Assigned as the API assigns; back to the ticket page"),
        (status = 403, description = "The form's token is missing or wrong, or a counsellor chose someone else", content_type = "text/html"),
    )
)]
#[post("/desk/tickets/{id}/assign")]
pub async fn assign(
    state: web::Data<AppState>,
    user: DeskUser,
    id: web::Path<TicketId>,
    form: web::Form<AssignForm>,
) -> HttpResponse {
    let id = id.into_inner();
    if !user.form_is_ours(form.csrf.as_deref()) {
        return refused(&state, &user, &format!("/desk/tickets/{id}"));
    }
    let assignee = match form.assignee.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(a) => match a.parse() {
            Ok(n) => Some(StaffId(n)),
            Err(_) => {
                let e = ApiError::field("assignee", "invalid");
                return failed(&state, &user, &e, &format!("/desk/tickets/{id}"));
            }
        },
    };
    let actor = user.session.actor.clone();
    match blocking(&state, move |st, conn| {
        desk::tickets::assign(st, conn, &actor, id, assignee)
    })
    .await
    {
        Ok(()) => back(id, "assign"),
        Err(e) => failed(&state, &user, &e, &format!("/desk/tickets/{id}")),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct StatusForm {
    csrf: Option<String>,
    status: Option<String>,
}

#[utoipa::path(
    tag = "desk",
    params(("id" = i64, Path, description = "Ticket id")),
    responses(
        (status = 303, description = "The status changed as the API's PATCH does; back to the ticket page"),
        (status = 403, description = "The form's token is missing or wrong", content_type = "text/html"),
    )
)]
#[post("/desk/tickets/{id}/status")]
pub async fn status(
    state: web::Data<AppState>,
    user: DeskUser,
    id: web::Path<TicketId>,
    form: web::Form<StatusForm>,
) -> HttpResponse {
    let id = id.into_inner();
    if !user.form_is_ours(form.csrf.as_deref()) {
        return refused(&state, &user, &format!("/desk/tickets/{id}"));
    }
    let Some(status) = form
        .status
        .as_deref()
        .and_then(|s| s.parse::<Status>().ok())
    else {
        let e = ApiError::field("status", "invalid");
        return failed(&state, &user, &e, &format!("/desk/tickets/{id}"));
    };
    let actor = user.session.actor.clone();
    match blocking(&state, move |st, conn| {
        desk::tickets::update(st, conn, &actor, id, Some(status), None)
    })
    .await
    {
        Ok(()) => back(id, "status"),
        Err(e) => failed(&state, &user, &e, &format!("/desk/tickets/{id}")),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct TriageForm {
    csrf: Option<String>,
    /// `confirm` or `clear`, from the button pressed.
    decision: Option<String>,
    reason: Option<String>,
}

#[utoipa::path(
    tag = "desk",
    params(("id" = i64, Path, description = "Ticket id")),
    responses(
        (status = 303, description = "The urgent flag confirmed or cleared with its reason; back to the ticket page"),
        (status = 403, description = "The form's token is missing or wrong", content_type = "text/html"),
        (status = 422, description = "No reason given: the page again with the error beside the field", content_type = "text/html"),
    )
)]
#[post("/desk/tickets/{id}/triage")]
pub async fn triage(
    state: web::Data<AppState>,
    user: DeskUser,
    id: web::Path<TicketId>,
    form: web::Form<TriageForm>,
) -> HttpResponse {
    let id = id.into_inner();
    let form = form.into_inner();
    if !user.form_is_ours(form.csrf.as_deref()) {
        return refused(&state, &user, &format!("/desk/tickets/{id}"));
    }
    let clear = match form.decision.as_deref() {
        Some("clear") => true,
        Some("confirm") => false,
        _ => {
            let e = ApiError::field("decision", "invalid");
            return failed(&state, &user, &e, &format!("/desk/tickets/{id}"));
        }
    };
    let reason = form.reason.unwrap_or_default();
    let actor = user.session.actor.clone();
    match blocking(&state, move |st, conn| {
        desk::tickets::decide_triage(st, conn, &actor, id, clear, &reason)
    })
    .await
    {
        Ok(()) => back(id, "triage"),
        Err(e) => match invalid_code(&e) {
            Some(code) => {
                let again = Again {
                    reason_error: Some(field_error(code)),
                    ..Again::default()
                };
                ticket::page(&state, &user, id, again, StatusCode::UNPROCESSABLE_ENTITY).await
            }
            None => failed(&state, &user, &e, &format!("/desk/tickets/{id}")),
        },
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct MyAccessForm {
    csrf: Option<String>,
}

#[utoipa::path(
    tag = "desk",
    params(("id" = i64, Path, description = "Ticket id")),
    responses(
        (status = 303, description = "Page access ended; back to the ticket page"),
        (status = 403, description = "Not a supervisor, or the form's token is missing or wrong", content_type = "text/html"),
        (status = 404, description = "No such ticket, or no page access", content_type = "text/html"),
    )
)]
#[post("/desk/tickets/{id}/my-access/end")]
pub async fn end_my_access(
    state: web::Data<AppState>,
    user: DeskUser,
    id: web::Path<TicketId>,
    form: web::Form<MyAccessForm>,
) -> HttpResponse {
    let id = id.into_inner();
    if !user.form_is_ours(form.csrf.as_deref()) {
        return refused(&state, &user, &format!("/desk/tickets/{id}"));
    }
    let actor = user.session.actor.clone();
    match blocking(&state, move |st, conn| {
        desk::my_page::end_access(st, conn, &actor, id)
    })
    .await
    {
        Ok(()) => back(id, "my_access"),
        Err(e) => failed(&state, &user, &e, &format!("/desk/tickets/{id}")),
    }
}
