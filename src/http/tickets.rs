//! The counsellors' endpoints: the queue, a ticket, and what staff do to it.

use std::collections::HashMap;

use actix_web::http::header::{self, ContentDisposition, DispositionParam, DispositionType};
use actix_web::{HttpResponse, get, patch, post, web};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ErrorBody};
use super::{blocking, local_time};
use crate::db::from_db;
use crate::db::queue::{AssigneeFilter, Cursor, QueueQuery, SlaFilter, StatusFilter, SummaryRow};
use crate::desk;
use crate::desk::auth::Session;
use crate::domain::clock;
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct StaffRef {
    id: i64,
    name: String,
}

#[derive(Serialize, ToSchema)]
pub struct TicketSummary {
    id: i64,
    reference: String,
    subject: String,
    /// `new`, `open`, `waiting` or `closed`.
    status: String,
    /// `web_form` or `email`.
    channel: String,
    urgent: bool,
    /// Why the ticket is urgent: `suicidal_ideation`, `self_harm`, `violence_at_home`,
    /// `emergency`. Categories only, never the text.
    urgent_reasons: Vec<String>,
    assignee: Option<StaffRef>,
    created_at: String,
    reply_due_at: Option<String>,
    /// `none`, `on_track`, `due_soon` or `overdue`, now.
    sla_state: String,
}

fn summary(state: &AppState, row: SummaryRow) -> TicketSummary {
    let due = row.reply_due_at.map(from_db);
    TicketSummary {
        id: row.id,
        reference: row.reference,
        subject: row.subject,
        status: row.status,
        channel: row.channel,
        urgent: row.urgent,
        urgent_reasons: row
            .urgent_reasons
            .as_deref()
            .unwrap_or("")
            .split(',')
            .filter(|r| !r.is_empty())
            .map(str::to_string)
            .collect(),
        assignee: row
            .assignee_id
            .zip(row.assignee_name)
            .map(|(id, name)| StaffRef { id, name }),
        created_at: local_time(state, from_db(row.created_at)),
        reply_due_at: due.map(|d| local_time(state, d)),
        sla_state: clock::sla_state(&state.rules, due, state.time.now())
            .as_str()
            .to_string(),
    }
}

#[derive(Serialize, ToSchema)]
pub struct QueuePage {
    items: Vec<TicketSummary>,
    next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
pub struct QueueParams {
    /// `open` (every status but closed) or one status.
    status: Option<String>,
    /// `me`, `none`, or a staff id.
    assignee: Option<String>,
    /// `overdue`, `due_soon`, `on_track` or `none`.
    sla: Option<String>,
    /// 1–200, default 50; larger is clamped to 200.
    limit: Option<i64>,
    cursor: Option<String>,
}

fn queue_query(state: &AppState, user: &Session, p: &QueueParams) -> Result<QueueQuery, ApiError> {
    let status = match p.status.as_deref() {
        None => StatusFilter::Any,
        Some("open") => StatusFilter::Open,
        Some(s) => StatusFilter::Is(
            desk::tickets::STATUSES
                .iter()
                .find(|k| **k == s)
                .ok_or(ApiError::field("status", "invalid"))?,
        ),
    };
    let assignee = match p.assignee.as_deref() {
        None => AssigneeFilter::Any,
        Some("me") => AssigneeFilter::Staff(user.actor.staff_id),
        Some("none") => AssigneeFilter::Nobody,
        Some(id) => AssigneeFilter::Staff(
            id.parse()
                .map_err(|_| ApiError::field("assignee", "invalid"))?,
        ),
    };
    let sla = match p.sla.as_deref() {
        None => None,
        Some("overdue") => Some(SlaFilter::Overdue),
        Some("due_soon") => Some(SlaFilter::DueSoon),
        Some("on_track") => Some(SlaFilter::OnTrack),
        Some("none") => Some(SlaFilter::NoClock),
        Some(_) => return Err(ApiError::field("sla", "invalid")),
    };
    let limit = match p.limit {
        None => 50,
        Some(l) if l < 1 => return Err(ApiError::field("limit", "invalid")),
        Some(l) => l.min(200),
    };
    let after = match p.cursor.as_deref() {
        None | Some("") => None,
        Some(c) => Some(Cursor::decode(c).ok_or(ApiError::field("cursor", "invalid"))?),
    };
    Ok(QueueQuery {
        status,
        assignee,
        sla,
        now: state.time.now(),
        due_soon: state.rules.due_soon,
        limit,
        after,
    })
}

#[utoipa::path(
    tag = "tickets",
    params(QueueParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "One page of the queue, urgent first, then by reply-by time", body = QueuePage),
        (status = 401, body = ErrorBody), (status = 422, body = ErrorBody),
    )
)]
#[get("/tickets")]
pub async fn list(
    state: web::Data<AppState>,
    user: Session,
    params: web::Query<QueueParams>,
) -> Result<HttpResponse, ApiError> {
    let query = queue_query(&state, &user, &params)?;
    let limit = query.limit as usize;
    let filters = format!(
        "status={} assignee={} sla={}",
        params.status.as_deref().unwrap_or("any"),
        params.assignee.as_deref().unwrap_or("any"),
        params.sla.as_deref().unwrap_or("any")
    );
    let mut rows = blocking(&state, move |st, conn| {
        desk::tickets::queue_page(st, conn, &user.actor, &query, &filters)
    })
    .await?;
    let next_cursor = if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(|r| Cursor::after(r).encode())
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(QueuePage {
        items: rows.into_iter().map(|r| summary(&state, r)).collect(),
        next_cursor,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct ConsulterOut {
    name: Option<String>,
    email: String,
    relationship: Option<String>,
    age_group: Option<String>,
    area: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryOut {
    /// `queued`, `sent` or `failed`.
    status: String,
    attempts: i32,
    last_error: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AttachmentOut {
    id: i64,
    filename: String,
    content_type: String,
    size_bytes: i64,
    /// Where staff download it.
    url: String,
}

#[derive(Serialize, ToSchema)]
pub struct MessageOut {
    id: i64,
    /// `inbound` (the consulter's), `outbound` (mail we sent) or `note` (internal).
    kind: String,
    author: Option<StaffRef>,
    body_text: String,
    created_at: String,
    /// True for mail the system sent by itself, such as the acknowledgement.
    automatic: bool,
    /// What the system noted, e.g. an attachment left out for its size.
    system_note: Option<String>,
    delivery: Option<DeliveryOut>,
    attachments: Vec<AttachmentOut>,
}

#[derive(Serialize, ToSchema)]
pub struct TicketDetail {
    #[serde(flatten)]
    summary: TicketSummary,
    consulter: ConsulterOut,
    messages: Vec<MessageOut>,
}

#[utoipa::path(
    tag = "tickets",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Ticket id")),
    responses(
        (status = 200, description = "The ticket with its whole thread, oldest first", body = TicketDetail),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
    )
)]
#[get("/tickets/{id}")]
pub async fn detail(
    state: web::Data<AppState>,
    user: Session,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let view = blocking(&state, move |st, conn| {
        desk::tickets::view(st, conn, &user.actor, id)
    })
    .await?;
    let mut deliveries: HashMap<i64, DeliveryOut> = view
        .deliveries
        .into_iter()
        .filter_map(|d| {
            d.message_id.map(|m| {
                (
                    m,
                    DeliveryOut {
                        status: d.status,
                        attempts: d.attempts,
                        last_error: d.last_error,
                    },
                )
            })
        })
        .collect();
    let mut attachments: HashMap<i64, Vec<AttachmentOut>> = HashMap::new();
    for a in view.attachments {
        attachments
            .entry(a.message_id)
            .or_default()
            .push(AttachmentOut {
                url: format!("/api/v1/tickets/{id}/attachments/{}", a.id),
                id: a.id,
                filename: a.filename,
                content_type: a.content_type,
                size_bytes: a.size_bytes,
            });
    }
    let messages = view
        .messages
        .into_iter()
        .map(|m| MessageOut {
            delivery: deliveries.remove(&m.id),
            attachments: attachments.remove(&m.id).unwrap_or_default(),
            author: m
                .author_id
                .zip(m.author_name)
                .map(|(id, name)| StaffRef { id, name }),
            created_at: local_time(&state, from_db(m.created_at)),
            id: m.id,
            kind: m.kind,
            body_text: m.body_text,
            automatic: m.automatic,
            system_note: m.system_note,
        })
        .collect();
    let c = view.consulter;
    Ok(HttpResponse::Ok().json(TicketDetail {
        summary: summary(&state, view.summary),
        consulter: ConsulterOut {
            name: c.name,
            email: c.email,
            relationship: c.relationship,
            age_group: c.age_group,
            area: c.area,
        },
        messages,
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct AssignRequest {
    /// A staff id, or null for nobody.
    assignee_id: Option<i64>,
}

#[utoipa::path(
    tag = "tickets",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Ticket id")),
    request_body = AssignRequest,
    responses(
        (status = 204, description = "Assigned"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
    )
)]
#[post("/tickets/{id}/assign")]
pub async fn assign(
    state: web::Data<AppState>,
    user: Session,
    id: web::Path<i64>,
    body: web::Json<AssignRequest>,
) -> Result<HttpResponse, ApiError> {
    let (id, assignee) = (id.into_inner(), body.assignee_id);
    blocking(&state, move |st, conn| {
        desk::tickets::assign(st, conn, &user.actor, id, assignee)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, ToSchema)]
pub struct ReplyRequest {
    /// What the counsellor writes; the greeting and signature are added from the template.
    body: String,
    /// Close the ticket with this reply.
    close: Option<bool>,
    /// The newest message the counsellor has seen; if the consulter wrote after it, 409.
    last_seen_message_id: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct ReplyAccepted {
    message_id: i64,
    delivery: DeliveryOut,
}

#[utoipa::path(
    tag = "tickets",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Ticket id")),
    request_body = ReplyRequest,
    responses(
        (status = 202, description = "The reply is queued for sending; the reply clock stopped", body = ReplyAccepted),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "The consulter wrote again after last_seen_message_id", body = ErrorBody),
        (status = 422, body = ErrorBody),
    )
)]
#[post("/tickets/{id}/replies")]
pub async fn reply(
    state: web::Data<AppState>,
    user: Session,
    id: web::Path<i64>,
    body: web::Json<ReplyRequest>,
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
        message_id: queued.message_id.0,
        delivery: DeliveryOut {
            status: "queued".into(),
            attempts: 0,
            last_error: None,
        },
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct NoteRequest {
    body: String,
}

#[utoipa::path(
    tag = "tickets",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Ticket id")),
    request_body = NoteRequest,
    responses(
        (status = 201, description = "The internal note; never mailed"),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
    )
)]
#[post("/tickets/{id}/notes")]
pub async fn note(
    state: web::Data<AppState>,
    user: Session,
    id: web::Path<i64>,
    body: web::Json<NoteRequest>,
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
    status: Option<String>,
    urgent: Option<bool>,
}

#[utoipa::path(
    tag = "tickets",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Ticket id")),
    request_body = PatchRequest,
    responses(
        (status = 204, description = "Changed; closing stops a running reply clock"),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
    )
)]
#[patch("/tickets/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    user: Session,
    id: web::Path<i64>,
    body: web::Json<PatchRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let PatchRequest { status, urgent } = body.into_inner();
    blocking(&state, move |st, conn| {
        desk::tickets::update(st, conn, &user.actor, id, status.as_deref(), urgent)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Serialize, ToSchema)]
pub struct AuditOut {
    id: i64,
    at: String,
    staff: Option<StaffRef>,
    action: String,
    target: Option<String>,
    client_addr: Option<String>,
    detail: Option<String>,
}

#[utoipa::path(
    tag = "tickets",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Ticket id")),
    responses(
        (status = 200, description = "Every read and change of the ticket by staff, oldest first", body = Vec<AuditOut>),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    )
)]
#[get("/tickets/{id}/audit")]
pub async fn audit(
    state: web::Data<AppState>,
    user: Session,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    user.actor.require_supervisor()?;
    let id = id.into_inner();
    let rows = blocking(&state, move |st, conn| {
        desk::tickets::audit_trail(st, conn, &user.actor, id)
    })
    .await?;
    let out: Vec<AuditOut> = rows
        .into_iter()
        .map(|r| AuditOut {
            id: r.id,
            at: local_time(&state, from_db(r.at)),
            staff: r
                .staff_id
                .zip(r.staff_name)
                .map(|(id, name)| StaffRef { id, name }),
            action: r.action,
            target: r.target,
            client_addr: r.client_addr,
            detail: r.detail,
        })
        .collect();
    Ok(HttpResponse::Ok().json(out))
}

#[utoipa::path(
    tag = "tickets",
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "Ticket id"),
        ("attachment_id" = i64, Path, description = "Attachment id"),
    ),
    responses(
        (status = 200, description = "The file, with its content type and name"),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
    )
)]
#[get("/tickets/{id}/attachments/{attachment_id}")]
pub async fn attachment(
    state: web::Data<AppState>,
    user: Session,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (id, attachment_id) = path.into_inner();
    let (filename, content_type, content) = blocking(&state, move |st, conn| {
        desk::tickets::attachment(st, conn, &user.actor, id, attachment_id)
    })
    .await?;
    let mime: actix_web::mime::Mime = content_type
        .parse()
        .unwrap_or(actix_web::mime::APPLICATION_OCTET_STREAM);
    // Always a download, never shown inline: a consulter's HTML must not run in staff browsers.
    let disposition = ContentDisposition {
        disposition: DispositionType::Attachment,
        parameters: vec![DispositionParam::FilenameExt(header::ExtendedValue {
            charset: header::Charset::Ext("UTF-8".into()),
            language_tag: None,
            value: filename.into_bytes(),
        })],
    };
    Ok(HttpResponse::Ok()
        .content_type(mime)
        .insert_header(disposition)
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(content))
}

#[derive(Deserialize, ToSchema)]
pub struct TriageDecision {
    /// `confirm` (the danger is real: keep it urgent) or `clear` (a false alarm).
    decision: String,
    /// Why; kept with the flag for supervisors.
    reason: String,
}

#[utoipa::path(
    tag = "tickets",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Ticket id")),
    request_body = TriageDecision,
    responses(
        (status = 204, description = "Recorded; clearing takes the urgency away and the same text will not flag again"),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
    )
)]
#[post("/tickets/{id}/triage")]
pub async fn triage(
    state: web::Data<AppState>,
    user: Session,
    id: web::Path<i64>,
    body: web::Json<TriageDecision>,
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
