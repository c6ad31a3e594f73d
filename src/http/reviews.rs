//! Reply review over the API (CONTRACT §8): the replies waiting for a supervisor, and the
//! supervisor's approval or return. Counsellors get 403 on all three.

use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::tickets::{DeliveryOut, StaffRef};
use super::{blocking, local_time};
use crate::db::from_db;
use crate::desk;
use crate::desk::auth::Session;
use crate::domain::vocabulary::{DeliveryStatus, MessageId, ReviewStatus, TicketId};
use crate::http::gate::AfterAuth;
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct WaitingReview {
    #[schema(value_type = i64)]
    message_id: MessageId,
    #[schema(value_type = i64)]
    ticket_id: TicketId,
    reference: String,
    subject: String,
    urgent: bool,
    author: StaffRef,
    /// When it went into review (written, or sent again after a return).
    created_at: String,
    /// The reply as its author wrote it.
    body_text: String,
    /// The author chose to close the ticket with this reply (送信して終了).
    close: bool,
    /// `counsellor` (the author's replies are reviewed) or `urgent` (`review.urgent_tickets`).
    #[schema(schema_with = hold_reason)]
    reason: String,
    reply_due_at: Option<String>,
}

fn hold_reason() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(["counsellor", "urgent"]))
        .into()
}

#[derive(Serialize, ToSchema)]
pub struct WaitingList {
    items: Vec<WaitingReview>,
}

#[utoipa::path(
    tag = "reviews",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every reply waiting for review, oldest first", body = WaitingList),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    )
)]
#[get("/reviews")]
pub async fn list(state: web::Data<AppState>, user: Session) -> Result<HttpResponse, ApiError> {
    user.actor.require_supervisor()?;
    let rows = blocking(&state, move |st, conn| {
        desk::reviews::waiting(st, conn, &user.actor)
    })
    .await?;
    let items = rows
        .into_iter()
        .map(|r| WaitingReview {
            message_id: r.message_id,
            ticket_id: r.ticket_id,
            reference: r.reference,
            subject: r.subject,
            urgent: r.urgent,
            author: StaffRef::new(r.author_id, r.author_name),
            created_at: local_time(&state, from_db(r.submitted_at)),
            body_text: r.body_text,
            close: r.close_ticket,
            reason: r.reason.as_str().to_string(),
            reply_due_at: r.reply_due_at.map(|d| local_time(&state, from_db(d))),
        })
        .collect();
    Ok(HttpResponse::Ok().json(WaitingList { items }))
}

fn message_id<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<MessageId>, D::Error> {
    Ok(crate::http::params::whole_number_opt(d)?.map(MessageId))
}

#[derive(Deserialize, ToSchema)]
pub struct ApproveRequest {
    /// The reply as the supervisor edited it; left out, it goes as its author wrote it.
    #[schema(pattern = r"[^\s\x00-\x1f\x7f-\x9f]", max_length = 20000)]
    body: Option<String>,
    /// The newest message the supervisor has seen; if the consulter wrote after it, 409.
    #[schema(value_type = Option<i64>)]
    #[serde(default, deserialize_with = "message_id")]
    last_seen_message_id: Option<MessageId>,
}

#[derive(Serialize, ToSchema)]
pub struct Approved {
    #[schema(value_type = i64)]
    message_id: MessageId,
    delivery: DeliveryOut,
}

#[utoipa::path(
    tag = "reviews",
    security(("bearer" = [])),
    params(("message_id" = i64, Path, description = "The held reply's message id")),
    request_body = ApproveRequest,
    responses(
        (status = 408, description = "The body did not arrive in time", body = ErrorBody),
        (status = 413, description = "The body is larger than accepted", body = ErrorBody),
        (status = 202, description = "Queued exactly as a direct reply: the reply clock stopped, the status changed as its author chose", body = Approved),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "Not waiting for review any more (`review_decided`), or the consulter wrote again after last_seen_message_id (`newer_message`)", body = ErrorBody),
        (status = 422, body = ErrorBody),
    )
)]
#[post("/reviews/{message_id}/approve")]
pub async fn approve(
    state: web::Data<AppState>,
    user: Session,
    id: web::Path<MessageId>,
    body: AfterAuth<web::Json<crate::http::params::Object<ApproveRequest>>>,
) -> Result<HttpResponse, ApiError> {
    user.actor.require_supervisor()?;
    let id = id.into_inner();
    let ApproveRequest {
        body,
        last_seen_message_id,
    } = body.into_inner().0;
    let message = blocking(&state, move |st, conn| {
        desk::reviews::approve(
            st,
            conn,
            &user.actor,
            id,
            body.as_deref(),
            last_seen_message_id,
        )
    })
    .await?;
    Ok(HttpResponse::Accepted().json(Approved {
        message_id: message,
        delivery: DeliveryOut::new(DeliveryStatus::Queued),
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct ReturnRequest {
    /// What the author should change; shown to them with the returned reply.
    #[schema(pattern = r"[^\s\x00-\x1f\x7f-\x9f]", max_length = 20000)]
    comment: String,
}

#[derive(Serialize, ToSchema)]
pub struct ReviewOut {
    /// `awaiting_review`, `returned` or `approved`.
    status: ReviewStatus,
    /// The supervisor's comment on a returned reply.
    comment: Option<String>,
    /// The supervisor who decided.
    by: Option<StaffRef>,
}

impl ReviewOut {
    pub fn of(r: &crate::db::reviews::ReviewRow) -> Self {
        Self {
            status: r.status,
            comment: r.comment.clone(),
            by: r
                .decided_by
                .zip(r.decided_by_name.clone())
                .map(|(id, name)| StaffRef::new(id, name)),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct Returned {
    #[schema(value_type = i64)]
    message_id: MessageId,
    review: ReviewOut,
}

#[utoipa::path(
    tag = "reviews",
    security(("bearer" = [])),
    params(("message_id" = i64, Path, description = "The held reply's message id")),
    request_body = ReturnRequest,
    responses(
        (status = 408, description = "The body did not arrive in time", body = ErrorBody),
        (status = 413, description = "The body is larger than accepted", body = ErrorBody),
        (status = 200, description = "Returned to its author with the comment; nothing was sent", body = Returned),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "Not waiting for review any more", body = ErrorBody),
        (status = 422, body = ErrorBody),
    )
)]
#[post("/reviews/{message_id}/return")]
pub async fn send_back(
    state: web::Data<AppState>,
    user: Session,
    id: web::Path<MessageId>,
    body: AfterAuth<web::Json<ReturnRequest>>,
) -> Result<HttpResponse, ApiError> {
    user.actor.require_supervisor()?;
    let id = id.into_inner();
    let comment = body.into_inner().comment;
    let review = blocking(&state, move |st, conn| {
        desk::reviews::send_back(st, conn, &user.actor, id, &comment)
    })
    .await?;
    Ok(HttpResponse::Ok().json(Returned {
        message_id: id,
        review: ReviewOut::of(&review),
    }))
}
