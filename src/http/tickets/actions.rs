//! What staff do to a ticket: assign it, reply, note, change its status, decide on an
//! urgent-risk flag. Each handler reads the request, calls one desk function, and answers.

use actix_web::{HttpResponse, patch, post, web};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::DeliveryOut;
use crate::desk;
use crate::desk::auth::Session;
use crate::domain::vocabulary::{DeliveryStatus, MessageId, StaffId, Status, TicketId};
use crate::http::blocking;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::gate::AfterAuth;
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
pub struct AssignRequest {
    /// A staff id, `"me"` for the caller, or null for nobody.
    #[schema(schema_with = crate::http::params::assignee_ref)]
    assignee_id: Option<AssigneeRef>,
}

/// Who a ticket goes to, as a client names them.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
pub enum AssigneeRef {
    Id(#[serde(deserialize_with = "crate::http::params::whole_number")] i64),
    /// Only `"me"`.
    Word(String),
}

impl AssigneeRef {
    fn staff_id(&self, user: &Session) -> Result<StaffId, ApiError> {
        match self {
            Self::Id(id) => Ok(StaffId(*id)),
            Self::Word(w) if w == "me" => Ok(user.actor.staff_id),
            Self::Word(_) => Err(ApiError::field("assignee_id", "invalid")),
        }
    }
}

#[utoipa::path(
    tag = "tickets",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Ticket id")),
    request_body = AssignRequest,
    responses(
        (status = 408, description = "The body did not arrive in time", body = crate::http::error::ErrorBody),
        (status = 413, description = "The body is larger than accepted", body = crate::http::error::ErrorBody),
        (status = 204, description = "Assigned"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
    )
)]
#[post("/tickets/{id}/assign")]
pub async fn assign(
    state: web::Data<AppState>,
    user: Session,
    id: web::Path<TicketId>,
    body: AfterAuth<web::Json<AssignRequest>>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let assignee = body
        .assignee_id
        .as_ref()
        .map(|a| a.staff_id(&user))
        .transpose()?;
    blocking(&state, move |st, conn| {
        desk::tickets::assign(st, conn, &user.actor, id, assignee)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

fn message_id<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<MessageId>, D::Error> {
    Ok(crate::http::params::whole_number_opt(d)?.map(MessageId))
}

#[derive(Deserialize, ToSchema)]
pub struct ReplyRequest {
    /// What the counsellor writes; the greeting and signature are added from the template.
    #[schema(pattern = r"[^\s\x00-\x1f\x7f-\x9f]", max_length = 20000)]
    body: String,
    /// Close the ticket with this reply.
    close: Option<bool>,
    /// The newest message the counsellor has seen; if the consulter wrote after it, 409.
    #[schema(value_type = Option<i64>)]
    #[serde(default, deserialize_with = "message_id")]
    last_seen_message_id: Option<MessageId>,
}

#[derive(Serialize, ToSchema)]
pub struct ReplyAccepted {
    #[schema(value_type = i64)]
    message_id: MessageId,
    delivery: DeliveryOut,
}

#[utoipa::path(
    tag = "tickets",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Ticket id")),
    request_body = ReplyRequest,
    responses(
        (status = 408, description = "The body did not arrive in time", body = crate::http::error::ErrorBody),
        (status = 413, description = "The body is larger than accepted", body = crate::http::error::ErrorBody),
        (status = 202, description = "The reply is queued for sending and the reply clock stopped; or, for a counsellor whose replies are reviewed (CONTRACT §8), held with `delivery.status` `awaiting_review`: nothing mailed, the clock still running", body = ReplyAccepted),
        (status = 403, description = "The consultation's personal data was erased: there is no one to answer", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "The consulter wrote again after last_seen_message_id", body = ErrorBody),
        (status = 422, body = ErrorBody),
    )
)]
#[post("/tickets/{id}/replies")]
pub async fn reply(
    state: web::Data<AppState>,
    user: Session,
    id: web::Path<TicketId>,
    body: AfterAuth<web::Json<ReplyRequest>>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let ReplyRequest {
        body,
        close,
        last_seen_message_id,
    } = body.into_inner();
    let queued = blocking(&state, move |st, conn| {
        desk::tickets::reply(
            st,
            conn,
            &user.actor,
            id,
            &body,
            close.unwrap_or(false),
            last_seen_message_id,
        )
    })
    .await?;
    Ok(HttpResponse::Accepted().json(ReplyAccepted {
        message_id: queued.message_id,
        delivery: DeliveryOut::new(if queued.held {
            DeliveryStatus::AwaitingReview
        } else {
            DeliveryStatus::Queued
        }),
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct NoteRequest {
    #[schema(pattern = r"[^\s\x00-\x1f\x7f-\x9f]", max_length = 20000)]
    body: String,
}

#[utoipa::path(
    tag = "tickets",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Ticket id")),
    request_body = NoteRequest,
    responses(
        (status = 408, description = "The body did not arrive in time", body = crate::http::error::ErrorBody),
        (status = 413, description = "The body is larger than accepted", body = crate::http::error::ErrorBody),
        (status = 201, description = "The internal note; never mailed"),
        (status = 403, description = "The consultation's personal data was erased: it takes no new text", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
    )
)]
#[post("/tickets/{id}/notes")]
pub async fn note(
    state: web::Data<AppState>,
    user: Session,
    id: web::Path<TicketId>,
    body: AfterAuth<web::Json<NoteRequest>>,
) -> Result<HttpResponse, ApiError> {
    let (id, text) = (id.into_inner(), body.into_inner().body);
    let message = blocking(&state, move |st, conn| {
        desk::tickets::note(st, conn, &user.actor, id, &text)
    })
    .await?;
    Ok(HttpResponse::Created().json(json!({"message_id": message.0})))
}

#[derive(Deserialize, ToSchema)]
pub struct PatchRequest {
    #[schema(value_type = Option<Status>)]
    status: Option<String>,
    urgent: Option<bool>,
    /// Supervisors only: `true` keeps the ticket from erasure by retention.
    legal_hold: Option<bool>,
}

#[utoipa::path(
    tag = "tickets",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Ticket id")),
    request_body = PatchRequest,
    responses(
        (status = 408, description = "The body did not arrive in time", body = crate::http::error::ErrorBody),
        (status = 413, description = "The body is larger than accepted", body = crate::http::error::ErrorBody),
        (status = 204, description = "Changed; closing stops a running reply clock"),
        (status = 403, description = "`legal_hold` is for supervisors", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
    )
)]
#[patch("/tickets/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    user: Session,
    id: web::Path<TicketId>,
    body: AfterAuth<web::Json<crate::http::params::Object<PatchRequest>>>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let PatchRequest {
        status,
        urgent,
        legal_hold,
    } = body.into_inner().0;
    let status = status
        .map(|s| s.parse::<Status>())
        .transpose()
        .map_err(|_| ApiError::not_one_of("status", Status::ALL, Status::as_str))?;
    if legal_hold.is_some() {
        // Refused before anything of the request is changed.
        user.actor.require_supervisor()?;
    }
    blocking(&state, move |st, conn| {
        if let Some(hold) = legal_hold {
            desk::tickets::set_legal_hold(st, conn, &user.actor, id, hold)?;
        }
        if status.is_some() || urgent.is_some() {
            desk::tickets::update(st, conn, &user.actor, id, status, urgent)?;
        }
        Ok::<(), desk::DeskError>(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, ToSchema)]
pub struct TriageDecision {
    /// `confirm` (the danger is real: keep it urgent) or `clear` (a false alarm).
    #[schema(schema_with = crate::http::params::triage_decision)]
    decision: String,
    /// Why; kept with the flag for supervisors.
    #[schema(pattern = r"[^\s\x00-\x1f\x7f-\x9f]", max_length = 20000)]
    reason: String,
}

#[utoipa::path(
    tag = "tickets",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Ticket id")),
    request_body = TriageDecision,
    responses(
        (status = 408, description = "The body did not arrive in time", body = crate::http::error::ErrorBody),
        (status = 413, description = "The body is larger than accepted", body = crate::http::error::ErrorBody),
        (status = 204, description = "Recorded; clearing takes the urgency away and the same text will not flag again"),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
    )
)]
#[post("/tickets/{id}/triage")]
pub async fn triage(
    state: web::Data<AppState>,
    user: Session,
    id: web::Path<TicketId>,
    body: AfterAuth<web::Json<TriageDecision>>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let TriageDecision { decision, reason } = body.into_inner();
    let clear = match decision.as_str() {
        "clear" => true,
        "confirm" => false,
        _ => return Err(ApiError::field("decision", "invalid")),
    };
    blocking(&state, move |st, conn| {
        desk::tickets::decide_triage(st, conn, &user.actor, id, clear, &reason)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
