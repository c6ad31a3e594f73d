//! Supervisors' reports.

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ErrorBody};
use super::{blocking, local_time, report_csv};
use crate::db::from_db;
use crate::db::reports;
use crate::desk;
use crate::desk::auth::Session;
use crate::domain::clock::SlaState;
use crate::domain::vocabulary::{StaffId, Status, TicketId};
use crate::domain::{clock, sla};
use crate::http::gate::AfterAuth;
use crate::state::AppState;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WindowParams {
    /// RFC 3339 or a plain date YYYY-MM-DD (00:00 in the centre's zone); default 30 days before `to`.
    #[param(schema_with = crate::http::params::instant, required = false)]
    pub from: Option<String>,
    /// RFC 3339 or a plain date YYYY-MM-DD (00:00 in the centre's zone); default now.
    #[param(schema_with = crate::http::params::instant, required = false)]
    pub to: Option<String>,
}

/// RFC 3339, or a plain date read as 00:00 in the centre's zone (CONTRACT.md §6).
pub fn instant(
    state: &AppState,
    field: &'static str,
    raw: Option<&str>,
) -> Result<Option<DateTime<Utc>>, ApiError> {
    raw.map(|r| {
        crate::domain::instant::parse(r, state.rules.tz)
            .ok_or_else(|| ApiError::field(field, "invalid_time"))
    })
    .transpose()
}

pub fn window(
    state: &AppState,
    p: &WindowParams,
) -> Result<(DateTime<Utc>, DateTime<Utc>), ApiError> {
    let to = instant(state, "to", p.to.as_deref())?.unwrap_or_else(|| state.time.now());
    let from = instant(state, "from", p.from.as_deref())?.unwrap_or(to - Duration::days(30));
    if from >= to {
        return Err(ApiError::field("from", "must_be_before_to"));
    }
    Ok((from, to))
}

#[derive(Serialize, ToSchema)]
pub struct UrgentItem {
    #[schema(value_type = i64)]
    ticket_id: TicketId,
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
    user: Session,
    params: AfterAuth<web::Query<WindowParams>>,
) -> Result<HttpResponse, ApiError> {
    user.actor.require_supervisor()?;
    let (from, to) = window(&state, &params)?;
    let figures = blocking(&state, move |st, conn| {
        desk::reports::urgent(st, conn, &user.actor, from, to)
    })
    .await?;
    let items: Vec<UrgentItem> = figures
        .lines
        .into_iter()
        .map(|l| UrgentItem {
            ticket_id: l.ticket_id,
            reference: l.reference,
            categories: l.categories,
            state: l.state,
            flagged_at: local_time(&state, l.flagged_at),
            first_reply_at: l.first_reply_at.map(|r| local_time(&state, r)),
            minutes_to_first_reply: l.minutes_to_first_reply,
        })
        .collect();
    Ok(HttpResponse::Ok().json(UrgentReport {
        from: local_time(&state, from),
        to: local_time(&state, to),
        count: items.len(),
        unanswered: figures.unanswered,
        median_minutes_to_first_reply: figures.median_minutes_to_first_reply,
        items,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct StaffName {
    #[schema(value_type = i64)]
    id: StaffId,
    name: String,
}

#[derive(Serialize, ToSchema)]
pub struct OverdueItem {
    #[schema(value_type = i64)]
    id: TicketId,
    reference: String,
    subject: String,
    assignee: Option<StaffName>,
    clock_started_at: String,
    reply_due_at: String,
    /// Hours past the due time at `as_of`, to one decimal.
    overdue_hours: f64,
    urgent: bool,
    status: Status,
}

#[derive(Serialize, ToSchema)]
pub struct OverdueReport {
    as_of: String,
    count: usize,
    items: Vec<OverdueItem>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OverdueParams {
    /// RFC 3339 or a plain date YYYY-MM-DD (00:00 in the centre's zone); default now.
    #[param(schema_with = crate::http::params::instant, required = false)]
    as_of: Option<String>,
    /// `json` (default) or `csv` (UTF-8 with a BOM, for Excel).
    #[param(schema_with = crate::http::params::report_format, required = false)]
    format: Option<String>,
}

fn overdue_item(state: &AppState, l: desk::reports::OverdueLine) -> OverdueItem {
    OverdueItem {
        id: l.id,
        reference: l.reference,
        subject: l.subject,
        assignee: l.assignee.map(|(id, name)| StaffName { id, name }),
        clock_started_at: local_time(state, l.clock_started_at),
        reply_due_at: local_time(state, l.reply_due_at),
        overdue_hours: l.overdue_hours,
        urgent: l.urgent,
        status: l.status,
    }
}

#[utoipa::path(
    tag = "reports",
    security(("bearer" = [])),
    params(OverdueParams),
    responses(
        (status = 200, description = "Every ticket whose running reply clock is past due at as_of, most overdue first; CSV has the same columns",
            content((OverdueReport = "application/json"), (String = "text/csv"))),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody),
    )
)]
#[get("/reports/overdue")]
pub async fn overdue(
    state: web::Data<AppState>,
    user: Session,
    params: AfterAuth<web::Query<OverdueParams>>,
) -> Result<HttpResponse, ApiError> {
    user.actor.require_supervisor()?;
    let csv = report_csv::wants_csv(params.format.as_deref())?;
    let at = instant(&state, "as_of", params.as_of.as_deref())?.unwrap_or_else(|| state.time.now());
    let lines = blocking(&state, move |st, conn| {
        desk::reports::overdue(st, conn, &user.actor, at)
    })
    .await?;
    if csv {
        return Ok(report_csv::download(
            &report_csv::overdue_name(&state, at),
            report_csv::overdue(&state, &lines),
        ));
    }
    let items: Vec<OverdueItem> = lines.into_iter().map(|l| overdue_item(&state, l)).collect();
    Ok(HttpResponse::Ok().json(OverdueReport {
        as_of: local_time(&state, at),
        count: items.len(),
        items,
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DueByParams {
    /// RFC 3339 or a plain date YYYY-MM-DD (00:00 in the centre's zone); default three days from now.
    #[param(schema_with = crate::http::params::instant, required = false)]
    by: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct DueByItem {
    #[schema(value_type = i64)]
    id: TicketId,
    reference: String,
    subject: String,
    assignee: Option<StaffName>,
    reply_due_at: String,
    /// `on_track`, `due_soon` or `overdue`, now.
    sla_state: SlaState,
    urgent: bool,
    status: Status,
}

#[utoipa::path(
    tag = "reports",
    security(("bearer" = [])),
    params(DueByParams),
    responses(
        (status = 200, description = "Running clocks that will be overdue by `by` unless answered, soonest first", body = Vec<DueByItem>),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody),
    )
)]
#[get("/reports/due")]
pub async fn due_by(
    state: web::Data<AppState>,
    user: Session,
    params: AfterAuth<web::Query<DueByParams>>,
) -> Result<HttpResponse, ApiError> {
    user.actor.require_supervisor()?;
    let now = state.time.now();
    let by = instant(&state, "by", params.by.as_deref())?.unwrap_or(now + state.rules.due_soon);
    let rows = blocking(&state, move |_, conn| reports::running_due_by(conn, by)).await?;
    let items: Vec<DueByItem> = rows
        .into_iter()
        .map(|r| {
            let due = from_db(r.due_at);
            DueByItem {
                id: r.ticket_id,
                reference: r.reference,
                subject: r.subject,
                assignee: r
                    .assignee_id
                    .zip(r.assignee_name)
                    .map(|(id, name)| StaffName { id, name }),
                reply_due_at: local_time(&state, due),
                sla_state: clock::sla_state(&state.rules, Some(due), now),
                urgent: r.urgent,
                status: r.status,
            }
        })
        .collect();
    Ok(HttpResponse::Ok().json(items))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SlaParams {
    /// RFC 3339 or a plain date YYYY-MM-DD (00:00 in the centre's zone); default 30 days before `to`.
    #[param(schema_with = crate::http::params::instant, required = false)]
    from: Option<String>,
    /// RFC 3339 or a plain date YYYY-MM-DD (00:00 in the centre's zone); default now.
    #[param(schema_with = crate::http::params::instant, required = false)]
    to: Option<String>,
    /// `month` (in the centre's time zone, default) or `counsellor`.
    #[param(schema_with = crate::http::params::sla_group, required = false)]
    group_by: Option<String>,
    /// `json` (default) or `csv` (UTF-8 with a BOM and Japanese headings, for Excel).
    #[param(schema_with = crate::http::params::report_format, required = false)]
    format: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SlaRow {
    key: String,
    due: usize,
    met: usize,
    breached: usize,
    still_open: usize,
    compliance_pct: Option<f64>,
    median_reply_hours: Option<f64>,
    p90_reply_hours: Option<f64>,
}

#[derive(Serialize, ToSchema)]
pub struct SlaReport {
    /// The window as read, with the centre's offset.
    from: String,
    to: String,
    rows: Vec<SlaRow>,
}

#[utoipa::path(
    tag = "reports",
    security(("bearer" = [])),
    params(SlaParams),
    responses(
        (status = 200, description = "Compliance for clocks whose due time falls in the window; every clock counts; CSV has the same columns with Japanese headings",
            content((SlaReport = "application/json"), (String = "text/csv"))),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody),
    )
)]
#[get("/reports/sla")]
pub async fn sla_report(
    state: web::Data<AppState>,
    user: Session,
    params: AfterAuth<web::Query<SlaParams>>,
) -> Result<HttpResponse, ApiError> {
    user.actor.require_supervisor()?;
    let group_by = match params.group_by.as_deref() {
        None | Some("month") => sla::GroupBy::Month,
        Some("counsellor") => sla::GroupBy::Counsellor,
        Some(_) => return Err(ApiError::field("group_by", "invalid")),
    };
    let csv = report_csv::wants_csv(params.format.as_deref())?;
    let (from, to) = window(
        &state,
        &WindowParams {
            from: params.from.clone(),
            to: params.to.clone(),
        },
    )?;
    let rows = blocking(&state, move |st, conn| {
        desk::reports::sla(st, conn, &user.actor, from, to, group_by)
    })
    .await?;
    if csv {
        return Ok(report_csv::download(
            &report_csv::sla_name(&state, from, to, group_by),
            report_csv::sla(group_by, &rows),
        ));
    }
    let rows = rows
        .into_iter()
        .map(|r| SlaRow {
            key: r.key,
            due: r.due,
            met: r.met,
            breached: r.breached,
            still_open: r.still_open,
            compliance_pct: r.compliance_pct,
            median_reply_hours: r.median_reply_hours,
            p90_reply_hours: r.p90_reply_hours,
        })
        .collect();
    Ok(HttpResponse::Ok().json(SlaReport {
        from: local_time(&state, from),
        to: local_time(&state, to),
        rows,
    }))
}

pub use crate::desk::reports::{CounsellorWorkload, Workload, WorkloadReport};

#[utoipa::path(
    tag = "reports",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Open tickets per counsellor by reply-clock state; unassigned apart", body = WorkloadReport),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    )
)]
#[get("/reports/workload")]
pub async fn workload(state: web::Data<AppState>, user: Session) -> Result<HttpResponse, ApiError> {
    user.actor.require_supervisor()?;
    let report = blocking(&state, move |st, conn| {
        desk::reports::workload(st, conn, &user.actor)
    })
    .await?;
    Ok(HttpResponse::Ok().json(report))
}
