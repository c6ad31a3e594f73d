//! What staff read: a ticket with its thread, its audit trail, and its attachments. Each read
//! is audited by the desk.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::{DeliveryOut, StaffRef, TicketSummary, summary};
use crate::db::from_db;
use crate::desk;
use crate::desk::auth::Session;
use crate::domain::vocabulary::{
    AttachmentId, DeliveryStatus, MessageId, MessageKind, ReviewStatus, TicketId,
};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::{blocking, local_time};
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct ConsulterOut {
    name: Option<String>,
    email: String,
    relationship: Option<String>,
    age_group: Option<String>,
    area: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AttachmentOut {
    #[schema(value_type = i64)]
    id: AttachmentId,
    filename: String,
    content_type: String,
    size_bytes: i64,
    /// Where staff download it.
    url: String,
}

#[derive(Serialize, ToSchema)]
pub struct MessageOut {
    #[schema(value_type = i64)]
    id: MessageId,
    /// `inbound` (the consulter's), `outbound` (mail we sent) or `note` (internal).
    kind: MessageKind,
    author: Option<StaffRef>,
    body_text: String,
    created_at: String,
    /// True for mail the system sent by itself, such as the acknowledgement.
    automatic: bool,
    /// What the system noted, e.g. an attachment left out for its size.
    system_note: Option<String>,
    delivery: Option<DeliveryOut>,
    attachments: Vec<AttachmentOut>,
    /// For a reply that was held for review, shown to its author and to supervisors: where
    /// the review stands, and a returned reply's comment.
    #[serde(skip_serializing_if = "Option::is_none")]
    review: Option<crate::http::reviews::ReviewOut>,
}

#[derive(Serialize, ToSchema)]
pub struct TicketDetail {
    #[serde(flatten)]
    summary: TicketSummary,
    consulter: ConsulterOut,
    messages: Vec<MessageOut>,
    /// The case fields recorded for the city's yearly figures.
    case: super::case::CaseOut,
    /// When the ticket was last closed; null while it is not closed.
    closed_at: Option<String>,
    /// Kept from erasure by retention (set by supervisors).
    legal_hold: bool,
    /// When retention erased its personal data (names, addresses, subject, texts,
    /// attachments, raw mail); null while it holds them.
    erased_at: Option<String>,
    /// The consulter's own page (/my), when the consultation was sent with a passphrase.
    my_page: Option<MyPageOut>,
}

/// What staff see of the consulter's page: never the passphrase.
#[derive(Serialize, ToSchema)]
pub struct MyPageOut {
    /// The consulter reads on the page (access not ended).
    reads_on_page: bool,
    /// Mail to the consulter says only that something is waiting.
    notice_only: bool,
    ended_at: Option<String>,
    /// How often the consulter read the thread on the page.
    reads: i64,
    last_read_at: Option<String>,
    /// Whether the newest reply was read on the page; null while there is no reply.
    latest_reply_read: Option<bool>,
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
    id: web::Path<TicketId>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let (me, supervisor) = (user.actor.staff_id, user.actor.is_supervisor());
    let (view, case) = blocking(&state, move |st, conn| {
        let view = desk::tickets::view(st, conn, &user.actor, id)?;
        Ok::<_, desk::DeskError>((view, desk::case::of(conn, id)?))
    })
    .await?;
    let messages = desk::tickets::TicketView::entries(
        view.messages,
        view.deliveries,
        view.attachments,
        view.reviews,
    )
    .into_iter()
    .map(|e| {
        let m = e.message;
        // A held reply is a staff reply not sent yet (kept as a note until approved).
        let held = e
            .review
            .as_ref()
            .is_some_and(|r| r.status != ReviewStatus::Approved);
        let shown_to = |r: &&crate::db::reviews::ReviewRow| r.author_id == me || supervisor;
        MessageOut {
            review: e
                .review
                .as_ref()
                .filter(shown_to)
                .map(crate::http::reviews::ReviewOut::of),
            delivery: if held {
                Some(DeliveryOut::new(DeliveryStatus::AwaitingReview))
            } else {
                e.delivery.map(|d| DeliveryOut {
                    status: d.status,
                    attempts: d.attempts,
                    last_error: d.last_error,
                })
            },
            attachments: e
                .attachments
                .into_iter()
                .map(|a| AttachmentOut {
                    url: format!("/api/v1/tickets/{id}/attachments/{}", a.id),
                    id: a.id,
                    filename: a.filename,
                    content_type: a.content_type,
                    size_bytes: a.size_bytes,
                })
                .collect(),
            author: StaffRef::of(m.author_id, m.author_name),
            created_at: local_time(&state, from_db(m.created_at)),
            id: m.id,
            kind: if held { MessageKind::Outbound } else { m.kind },
            body_text: m.body_text,
            automatic: m.automatic,
            system_note: m.system_note,
        }
    })
    .collect();
    let c = view.consulter;
    let marks = view.retention;
    let my_page = view.my_page.map(|p| MyPageOut {
        reads_on_page: p.active,
        notice_only: p.notice_only,
        ended_at: p.ended_at.map(|t| local_time(&state, from_db(t))),
        reads: p.reads,
        last_read_at: p.last_read_at.map(|t| local_time(&state, from_db(t))),
        latest_reply_read: p.latest_reply_read,
    });
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
        case: super::case::CaseOut::of(&case),
        closed_at: marks.closed_at.map(|t| local_time(&state, from_db(t))),
        legal_hold: marks.legal_hold,
        erased_at: marks.erased_at.map(|t| local_time(&state, from_db(t))),
        my_page,
    }))
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
    id: web::Path<TicketId>,
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
            staff: StaffRef::of(r.staff_id, r.staff_name),
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
        (status = 200, description = "The file as `application/octet-stream`, always a download (`Content-Disposition: attachment`) with its name", content_type = "application/octet-stream"),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
    )
)]
#[get("/tickets/{id}/attachments/{attachment_id}")]
pub async fn attachment(
    state: web::Data<AppState>,
    user: Session,
    path: web::Path<(TicketId, AttachmentId)>,
) -> Result<HttpResponse, ApiError> {
    let (id, attachment_id) = path.into_inner();
    let file = blocking(&state, move |st, conn| {
        desk::tickets::attachment(st, conn, &user.actor, id, attachment_id)
    })
    .await?;
    Ok(crate::http::headers::attachment_download(file))
}
