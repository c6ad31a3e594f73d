//! 承認待ち (CONTRACT §7, §8): the replies waiting for a supervisor, oldest first; one reply
//! beside its thread, approved as written or edited, or returned with a comment. A counsellor
//! sees their own held replies here, and a returned one's comment.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::{DeskUser, base, failed, refused, render, see_other, words};
use crate::db::from_db;
use crate::db::reviews::WaitingRow;
use crate::desk::{self, DeskError};
use crate::domain::vocabulary::{MessageId, ReviewStatus};
use crate::http::blocking;
use crate::http::error::ApiError;
use crate::state::AppState;

#[derive(Serialize)]
struct Line {
    message_id: i64,
    ticket_id: i64,
    reference: String,
    subject: String,
    urgent: bool,
    author: String,
    since: String,
    reply_by: Option<String>,
    close: bool,
    body: String,
    returned: bool,
    comment: Option<String>,
}

fn line(state: &AppState, r: WaitingRow) -> Line {
    let returned = r.status == ReviewStatus::Returned;
    Line {
        message_id: r.message_id.0,
        ticket_id: r.ticket_id.0,
        reference: r.reference,
        subject: r.subject,
        urgent: r.urgent,
        author: r.author_name,
        since: words::when(state, from_db(r.submitted_at)),
        reply_by: r.reply_due_at.map(|d| words::when(state, from_db(d))),
        close: r.close_ticket,
        body: r.body_text,
        comment: r.comment.filter(|_| returned),
        returned,
    }
}

fn done_words(done: &str) -> Option<&'static str> {
    Some(match done {
        "approve" => "返信を承認しました。相談者への送信待ちに入りました。",
        "return" => "返信を差し戻しました。書いた人にコメントが表示されます。",
        "policy_on" => "この相談員の返信は、これから承認してから送られます。",
        "policy_off" => {
            "この相談員の返信は、これから承認なしで送られます（承認待ちのものは、承認か差し戻しまで残ります）。"
        }
        _ => return None,
    })
}

#[derive(Deserialize)]
pub struct Shown {
    done: Option<String>,
}

#[utoipa::path(
    tag = "desk",
    responses(
        (status = 200, description = "Supervisors: every reply waiting for review, oldest first. Counsellors: their own replies waiting or returned", content_type = "text/html"),
        (status = 303, description = "Not signed in: to the sign-in page, which returns here"),
    )
)]
#[get("/desk/reviews")]
pub async fn list(
    state: web::Data<AppState>,
    user: DeskUser,
    shown: web::Query<Shown>,
) -> HttpResponse {
    let actor = user.session.actor.clone();
    let supervisor = actor.is_supervisor();
    let rows = blocking(&state, move |st, conn| {
        if actor.is_supervisor() {
            let counsellors = desk::reviews::counsellors(conn, &actor)?;
            Ok::<_, DeskError>((desk::reviews::waiting(st, conn, &actor)?, counsellors))
        } else {
            Ok((desk::reviews::mine(st, conn, &actor)?, Vec::new()))
        }
    })
    .await;
    let (rows, counsellors) = match rows {
        Ok(r) => r,
        Err(e) => return failed(&state, &user, &e, "/desk"),
    };
    let counsellors: Vec<_> = counsellors
        .into_iter()
        .map(|(id, name, on)| context! { id => id.0, name, on })
        .collect();
    let lines: Vec<Line> = rows.into_iter().map(|r| line(&state, r)).collect();
    render(
        &state,
        "desk/reviews.html",
        context! {
            lines,
            supervisor,
            counsellors,
            notice => shown.done.as_deref().and_then(done_words),
            current => "reviews",
            ..base(&state, Some(&user))
        },
        StatusCode::OK,
    )
}

/// What a form sent back shows again.
#[derive(Default)]
struct Again {
    body: Option<String>,
    body_error: Option<&'static str>,
    comment: Option<String>,
    comment_error: Option<&'static str>,
    newer: Option<MessageId>,
    decided: bool,
}

#[utoipa::path(
    tag = "desk",
    params(("message_id" = i64, Path, description = "The held reply's message id")),
    responses(
        (status = 200, description = "The reply beside its thread, with the forms to approve or return it (supervisors)", content_type = "text/html"),
        (status = 303, description = "Not signed in: to the sign-in page, which returns here"),
        (status = 403, description = "Not a supervisor", content_type = "text/html"),
        (status = 404, description = "No such held reply", content_type = "text/html"),
    )
)]
#[get("/desk/reviews/{message_id}")]
pub async fn show(
    state: web::Data<AppState>,
    user: DeskUser,
    id: web::Path<MessageId>,
) -> HttpResponse {
    page(
        &state,
        &user,
        id.into_inner(),
        Again::default(),
        StatusCode::OK,
    )
    .await
}

async fn page(
    state: &web::Data<AppState>,
    user: &DeskUser,
    message: MessageId,
    again: Again,
    status: StatusCode,
) -> HttpResponse {
    let actor = user.session.actor.clone();
    let read = blocking(state, move |st, conn| {
        desk::reviews::open(st, conn, &actor, message)
    })
    .await;
    let (review, view) = match read {
        Ok(v) => v,
        Err(e) => return failed(state, user, &e, "/desk/reviews"),
    };
    let last_seen = view.messages.iter().map(|m| m.id.0).max().unwrap_or(0);
    let written = view
        .messages
        .iter()
        .find(|m| m.id == message)
        .map(|m| m.body_text.clone())
        .unwrap_or_default();
    let author = view
        .messages
        .iter()
        .find(|m| m.id == message)
        .and_then(|m| m.author_name.clone())
        .unwrap_or_default();
    let s = view.summary;
    let ticket_id = s.id;
    let entries = desk::tickets::TicketView::entries(
        view.messages,
        view.deliveries,
        view.attachments,
        view.reviews,
    );
    // The thread as the consulter and counsellor had it; the reply under review is the form.
    let entries = entries
        .into_iter()
        .filter(|e| e.message.id != message)
        .collect();
    let messages = super::ticket::thread(state, user, ticket_id, entries, again.newer);
    let due = s.reply_due_at.map(from_db);
    let sla = crate::domain::clock::sla_state(&state.rules, due, state.time.now());
    render(
        state,
        "desk/review.html",
        context! {
            review => context! {
                message_id => message.0,
                waiting => review.status == ReviewStatus::AwaitingReview && !again.decided,
                status => review.status.as_str(),
                author => author,
                since => words::when(state, from_db(review.submitted_at)),
                close => review.close_ticket,
                urgent_policy => review.reason == crate::domain::vocabulary::HoldReason::Urgent,
            },
            ticket => context! {
                id => ticket_id.0,
                reference => s.reference,
                subject => s.subject,
                urgent => s.urgent,
                sla => words::sla(sla),
                reply_by => due.map(|d| words::when(state, d)),
                status => words::status(s.status),
            },
            messages,
            last_seen,
            body => again.body.unwrap_or(written),
            body_error => again.body_error,
            comment => again.comment,
            comment_error => again.comment_error,
            collision => again.newer.map(|m| m.0),
            decided => again.decided,
            current => "reviews",
            ..base(state, Some(user))
        },
        status,
    )
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ApproveForm {
    csrf: Option<String>,
    body: Option<String>,
    last_seen_message_id: Option<i64>,
}

fn field_error(e: &ApiError) -> Option<&'static str> {
    match e {
        ApiError::Desk(DeskError::Invalid(fields)) => fields.first().map(|(_, c)| match *c {
            "too_long" => "長すぎます。2万字までにしてください。",
            _ => "入力してください。",
        }),
        _ => None,
    }
}

#[utoipa::path(
    tag = "desk",
    params(("message_id" = i64, Path, description = "The held reply's message id")),
    responses(
        (status = 303, description = "Approved as written or edited, and queued as the API's approval does; to the list"),
        (status = 403, description = "The form's token is missing or wrong, or not a supervisor", content_type = "text/html"),
        (status = 409, description = "The consulter wrote again, or another supervisor decided first: nothing sent, the page again with the text kept", content_type = "text/html"),
        (status = 422, description = "Empty or too long: the page again with the error beside the field", content_type = "text/html"),
    )
)]
#[post("/desk/reviews/{message_id}/approve")]
pub async fn approve(
    state: web::Data<AppState>,
    user: DeskUser,
    id: web::Path<MessageId>,
    form: web::Form<ApproveForm>,
) -> HttpResponse {
    let id = id.into_inner();
    let form = form.into_inner();
    let here = format!("/desk/reviews/{id}");
    if !user.form_is_ours(form.csrf.as_deref()) {
        return refused(&state, &user, &here);
    }
    let body = form.body.unwrap_or_default();
    let seen = form.last_seen_message_id.map(MessageId);
    let actor = user.session.actor.clone();
    let text = body.clone();
    let result = blocking(&state, move |st, conn| {
        desk::reviews::approve(st, conn, &actor, id, Some(&text), seen)
    })
    .await;
    let again = |a: Again| Again {
        body: Some(body.clone()),
        ..a
    };
    match result {
        Ok(_) => see_other("/desk/reviews?done=approve"),
        Err(ApiError::Desk(DeskError::Collision { message_id, .. })) => {
            let a = again(Again {
                newer: Some(message_id),
                ..Again::default()
            });
            page(&state, &user, id, a, StatusCode::CONFLICT).await
        }
        Err(ApiError::Desk(DeskError::ReviewDecided)) => {
            let a = again(Again {
                decided: true,
                ..Again::default()
            });
            page(&state, &user, id, a, StatusCode::CONFLICT).await
        }
        Err(e) => match field_error(&e) {
            Some(why) => {
                let a = again(Again {
                    body_error: Some(why),
                    ..Again::default()
                });
                page(&state, &user, id, a, StatusCode::UNPROCESSABLE_ENTITY).await
            }
            None => failed(&state, &user, &e, &here),
        },
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ReturnForm {
    csrf: Option<String>,
    comment: Option<String>,
}

#[utoipa::path(
    tag = "desk",
    params(("message_id" = i64, Path, description = "The held reply's message id")),
    responses(
        (status = 303, description = "Returned to its author with the comment; nothing sent; to the list"),
        (status = 403, description = "The form's token is missing or wrong, or not a supervisor", content_type = "text/html"),
        (status = 409, description = "Another supervisor decided first", content_type = "text/html"),
        (status = 422, description = "No comment: the page again with the error beside the field", content_type = "text/html"),
    )
)]
#[post("/desk/reviews/{message_id}/return")]
pub async fn send_back(
    state: web::Data<AppState>,
    user: DeskUser,
    id: web::Path<MessageId>,
    form: web::Form<ReturnForm>,
) -> HttpResponse {
    let id = id.into_inner();
    let form = form.into_inner();
    let here = format!("/desk/reviews/{id}");
    if !user.form_is_ours(form.csrf.as_deref()) {
        return refused(&state, &user, &here);
    }
    let comment = form.comment.unwrap_or_default();
    let actor = user.session.actor.clone();
    let text = comment.clone();
    let result = blocking(&state, move |st, conn| {
        desk::reviews::send_back(st, conn, &actor, id, &text)
    })
    .await;
    match result {
        Ok(_) => see_other("/desk/reviews?done=return"),
        Err(ApiError::Desk(DeskError::ReviewDecided)) => {
            let a = Again {
                decided: true,
                comment: Some(comment),
                ..Again::default()
            };
            page(&state, &user, id, a, StatusCode::CONFLICT).await
        }
        Err(e) => match field_error(&e) {
            Some(why) => {
                let a = Again {
                    comment: Some(comment),
                    comment_error: Some(why),
                    ..Again::default()
                };
                page(&state, &user, id, a, StatusCode::UNPROCESSABLE_ENTITY).await
            }
            None => failed(&state, &user, &e, &here),
        },
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct PolicyForm {
    csrf: Option<String>,
    staff_id: Option<i64>,
    /// `on` or `off`, from the button pressed.
    review_replies: Option<String>,
}

#[utoipa::path(
    tag = "desk",
    responses(
        (status = 303, description = "The counsellor's review flag set as the API's PATCH /api/v1/staff/{id} does; back to the list"),
        (status = 403, description = "The form's token is missing or wrong, or not a supervisor", content_type = "text/html"),
        (status = 404, description = "No such staff account", content_type = "text/html"),
        (status = 422, description = "The form does not say which account or which way", content_type = "text/html"),
    )
)]
#[post("/desk/reviews/policy")]
pub async fn policy(
    state: web::Data<AppState>,
    user: DeskUser,
    form: web::Form<PolicyForm>,
) -> HttpResponse {
    let form = form.into_inner();
    if !user.form_is_ours(form.csrf.as_deref()) {
        return refused(&state, &user, "/desk/reviews");
    }
    let on = match form.review_replies.as_deref() {
        Some("on") => true,
        Some("off") => false,
        _ => {
            let e = ApiError::field("review_replies", "invalid");
            return failed(&state, &user, &e, "/desk/reviews");
        }
    };
    let Some(id) = form.staff_id.map(crate::domain::vocabulary::StaffId) else {
        let e = ApiError::field("staff_id", "required");
        return failed(&state, &user, &e, "/desk/reviews");
    };
    let actor = user.session.actor.clone();
    match blocking(&state, move |st, conn| {
        desk::staff::set_review(st, conn, &actor, id, on)
    })
    .await
    {
        Ok(()) => see_other(if on {
            "/desk/reviews?done=policy_on"
        } else {
            "/desk/reviews?done=policy_off"
        }),
        Err(e) => failed(&state, &user, &e, "/desk/reviews"),
    }
}
