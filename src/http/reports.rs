//! Supervisors' reports.

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::StaffUser;
use super::error::ErrorBody;
use super::tickets::TicketError;
use super::{blocking, local_time};
use crate::db::{from_db, triage};
use crate::state::AppState;

#[derive(Deserialize, IntoParams)]
pub struct WindowParams {
    /// RFC 3339; default 30 days before `to`.
    from: Option<DateTime<chrono::FixedOffset>>,
    /// RFC 3339; default now.
    to: Option<DateTime<chrono::FixedOffset>>,
}

fn window(
    state: &AppState,
    p: &WindowParams,
) -> Result<(DateTime<Utc>, DateTime<Utc>), TicketError> {
    let to =
        p.to.map_or_else(|| state.time.now(), |t| t.with_timezone(&Utc));
    let from = p
        .from
        .map_or(to - Duration::days(30), |t| t.with_timezone(&Utc));
    if from >= to {
        return Err(TicketError::BadQuery("from", "must_be_before_to"));
    }
    Ok((from, to))
}

#[derive(Serialize, ToSchema)]
pub struct UrgentItem {
    ticket_id: i64,
    reference: String,
    categories: Vec<String>,
    /// `flagged` (nobody decided yet), `confirmed` or `cleared`.
    state: String,
    flagged_at: String,
    first_reply_at: Option<String>,
    minutes_to_first_reply: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct UrgentReport {
    from: String,
    to: String,
    count: usize,
    /// Not yet answered by a person.
    unanswered: usize,
    /// From the flag to the first reply by a person; the target is under one business hour.
    median_minutes_to_first_reply: Option<f64>,
    items: Vec<UrgentItem>,
}

#[utoipa::path(
    tag = "reports",
    security(("bearer" = [])),
    params(WindowParams),
    responses(
        (status = 200, description = "Urgent-risk flags raised in the window, with the time to the first reply by a person", body = UrgentReport),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody),
    )
)]
#[get("/reports/urgent")]
pub async fn urgent(
    state: web::Data<AppState>,
    user: StaffUser,
    params: web::Query<WindowParams>,
) -> Result<HttpResponse, TicketError> {
    user.require_supervisor()?;
    let (from, to) = window(&state, &params)?;
    let (flags, replies) = blocking(&state, move |conn| {
        let flags = triage::flags_between(conn, from, to)?;
        let ids: Vec<i64> = flags.iter().map(|f| f.ticket_id).collect();
        let replies = triage::first_staff_replies(conn, &ids)?;
        Ok::<_, TicketError>((flags, replies))
    })
    .await?;
    let items: Vec<UrgentItem> = flags
        .into_iter()
        .map(|f| {
            let flagged = from_db(f.flagged_at);
            let first_reply = replies
                .iter()
                .filter(|(t, at)| *t == f.ticket_id && from_db(*at) >= flagged)
                .map(|(_, at)| from_db(*at))
                .min();
            UrgentItem {
                ticket_id: f.ticket_id,
                reference: f.reference,
                categories: f.categories.split(',').map(str::to_string).collect(),
                state: f.state,
                flagged_at: local_time(&state, flagged),
                first_reply_at: first_reply.map(|r| local_time(&state, r)),
                minutes_to_first_reply: first_reply.map(|r| (r - flagged).num_minutes()),
            }
        })
        .collect();
    let mut minutes: Vec<i64> = items
        .iter()
        .filter_map(|i| i.minutes_to_first_reply)
        .collect();
    minutes.sort_unstable();
    Ok(HttpResponse::Ok().json(UrgentReport {
        from: local_time(&state, from),
        to: local_time(&state, to),
        count: items.len(),
        unanswered: items.iter().filter(|i| i.first_reply_at.is_none()).count(),
        median_minutes_to_first_reply: crate::domain::stats::median(&minutes),
        items,
    }))
}
