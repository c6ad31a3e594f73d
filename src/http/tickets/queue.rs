//! `GET /api/v1/tickets`: the queue, one page at a time.

use actix_web::{HttpResponse, get, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{TicketSummary, summary};
use crate::db::queue::{AssigneeFilter, Cursor, QueueQuery, SlaFilter, StatusFilter};
use crate::desk;
use crate::desk::auth::Session;
use crate::domain::clock::SlaState;
use crate::domain::vocabulary::{StaffId, Status};
use crate::http::blocking;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::gate::AfterAuth;
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct QueuePage {
    items: Vec<TicketSummary>,
    next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QueueParams {
    /// `open` (every status but closed) or one status.
    #[param(value_type = Status, required = false)]
    pub(crate) status: Option<String>,
    /// `me`, `none`, or a staff id.
    #[param(value_type = String, required = false, pattern = r"^(me|none|[0-9]{1,18})$")]
    pub(crate) assignee: Option<String>,
    /// `overdue`, `due_soon`, `on_track` or `none`.
    #[param(value_type = SlaState, required = false)]
    pub(crate) sla: Option<String>,
    /// 1–200, default 50; larger is clamped to 200.
    #[param(value_type = i64, required = false, minimum = 1)]
    pub(crate) limit: Option<i64>,
    /// The `next_cursor` of the page before.
    #[param(value_type = String, required = false, pattern = r"^([01]\.-?[0-9]{1,16}\.[0-9]{1,18})?$")]
    pub(crate) cursor: Option<String>,
    /// A ticket's reference, as read out on the phone: letter case, spaces and the hyphen do
    /// not matter. Returns that ticket alone, or no items; the other filters are ignored.
    pub(crate) reference: Option<String>,
}

pub(crate) fn queue_query(
    state: &AppState,
    user: &Session,
    p: &QueueParams,
) -> Result<QueueQuery, ApiError> {
    let status = match p.status.as_deref() {
        None => StatusFilter::Any,
        Some("open") => StatusFilter::Open,
        Some(s) => StatusFilter::Is(
            s.parse::<Status>()
                .map_err(|_| ApiError::not_one_of("status", Status::ALL, Status::as_str))?,
        ),
    };
    let assignee = match p.assignee.as_deref() {
        None => AssigneeFilter::Any,
        Some("me") => AssigneeFilter::Staff(user.actor.staff_id),
        Some("none") => AssigneeFilter::Nobody,
        Some(id) => AssigneeFilter::Staff(StaffId(
            id.parse()
                .map_err(|_| ApiError::field("assignee", "invalid"))?,
        )),
    };
    let sla = match p.sla.as_deref() {
        None => None,
        Some("overdue") => Some(SlaFilter::Overdue),
        Some("due_soon") => Some(SlaFilter::DueSoon),
        Some("on_track") => Some(SlaFilter::OnTrack),
        Some("none") => Some(SlaFilter::NoClock),
        Some(_) => {
            return Err(ApiError::not_one_of("sla", SlaState::ALL, SlaState::as_str));
        }
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
    params: AfterAuth<web::Query<QueueParams>>,
) -> Result<HttpResponse, ApiError> {
    // The filters are checked even when a reference makes them moot: a bad one is still 422.
    let query = queue_query(&state, &user, &params)?;
    if let Some(typed) = params.reference.clone() {
        let rows = blocking(&state, move |st, conn| {
            desk::tickets::find_by_reference(st, conn, &user.actor, &typed)
        })
        .await?;
        return Ok(HttpResponse::Ok().json(QueuePage {
            items: rows.into_iter().map(|r| summary(&state, r)).collect(),
            next_cursor: None,
        }));
    }
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
