//! Supervisors' reports.

use actix_web::http::header;
use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ErrorBody};
use super::{blocking, local_time};
use crate::db::reports::{self, ClockRow};
use crate::db::{from_db, messages, triage_flags};
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
    from: Option<String>,
    /// RFC 3339 or a plain date YYYY-MM-DD (00:00 in the centre's zone); default now.
    #[param(schema_with = crate::http::params::instant, required = false)]
    to: Option<String>,
}

/// RFC 3339, or a plain date read as 00:00 in the centre's zone (CONTRACT.md §6).
fn instant(
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

fn window(state: &AppState, p: &WindowParams) -> Result<(DateTime<Utc>, DateTime<Utc>), ApiError> {
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
    let (flags, replies) = blocking(&state, move |_, conn| {
        let flags = triage_flags::flags_between(conn, from, to)?;
        let ids: Vec<TicketId> = flags.iter().map(|f| f.ticket_id).collect();
        let replies = messages::staff_replies_on(conn, &ids)?;
        Ok::<_, crate::db::DbError>((flags, replies))
    })
    .await?;
    let items: Vec<UrgentItem> = flags
        .into_iter()
        .map(|f| {
            let flagged = from_db(f.flagged_at);
            let first_reply = replies
                .iter()
                .filter(|r| r.ticket_id == f.ticket_id && from_db(r.at) >= flagged)
                .map(|r| from_db(r.at))
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

fn overdue_item(state: &AppState, row: ClockRow, at: DateTime<Utc>) -> OverdueItem {
    let due = from_db(row.due_at);
    OverdueItem {
        id: row.ticket_id,
        reference: row.reference,
        subject: row.subject,
        assignee: row
            .assignee_id
            .zip(row.assignee_name)
            .map(|(id, name)| StaffName { id, name }),
        clock_started_at: local_time(state, from_db(row.started_at)),
        reply_due_at: local_time(state, due),
        overdue_hours: ((at - due).num_minutes() as f64 / 6.0).round() / 10.0,
        urgent: row.urgent,
        status: row.status,
    }
}

const OVERDUE_COLUMNS: [&str; 9] = [
    "id",
    "reference",
    "subject",
    "assignee",
    "clock_started_at",
    "reply_due_at",
    "overdue_hours",
    "urgent",
    "status",
];

fn overdue_csv(items: &[OverdueItem]) -> String {
    let rows = items.iter().map(|i| {
        vec![
            i.id.to_string(),
            i.reference.clone(),
            i.subject.clone(),
            i.assignee
                .as_ref()
                .map_or(String::new(), |a| a.name.clone()),
            i.clock_started_at.clone(),
            i.reply_due_at.clone(),
            i.overdue_hours.to_string(),
            i.urgent.to_string(),
            i.status.to_string(),
        ]
    });
    crate::domain::csv::document(&OVERDUE_COLUMNS, rows)
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
    let csv = match params.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => return Err(ApiError::field("format", "invalid")),
    };
    let at = instant(&state, "as_of", params.as_of.as_deref())?.unwrap_or_else(|| state.time.now());
    let rows = blocking(&state, move |_, conn| reports::overdue_at(conn, at)).await?;
    let items: Vec<OverdueItem> = rows
        .into_iter()
        .map(|r| overdue_item(&state, r, at))
        .collect();
    if csv {
        let name = format!(
            "overdue-{}.csv",
            at.with_timezone(&state.rules.tz).format("%Y%m%d-%H%M")
        );
        return Ok(HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ))
            .body(overdue_csv(&items)));
    }
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
        (status = 200, description = "Compliance for clocks whose due time falls in the window; every clock counts", body = SlaReport),
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
    let (from, to) = window(
        &state,
        &WindowParams {
            from: params.from.clone(),
            to: params.to.clone(),
        },
    )?;
    let (rows, names) = blocking(&state, move |_, conn| {
        Ok::<_, crate::db::DbError>((
            reports::due_between(conn, from, to)?,
            reports::staff_names(conn)?,
        ))
    })
    .await?;
    let name_of = |id: StaffId| names.iter().find(|n| n.id == id).map(|n| n.name.clone());
    let clocks: Vec<sla::Clock> = rows
        .into_iter()
        .map(|r| sla::Clock {
            started_at: from_db(r.started_at),
            due_at: from_db(r.due_at),
            stopped_at: r.stopped_at.map(from_db),
            counsellor: r.stopped_by.and_then(name_of).or(r.assignee_name),
        })
        .collect();
    let rows = sla::report(&clocks, group_by, state.rules.tz, state.time.now())
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

#[derive(Serialize, ToSchema, Default)]
pub struct Workload {
    on_track: usize,
    due_soon: usize,
    overdue: usize,
    /// Open tickets without a running clock (answered, waiting on the consulter).
    none: usize,
}

#[derive(Serialize, ToSchema)]
pub struct CounsellorWorkload {
    #[schema(value_type = i64)]
    id: StaffId,
    name: String,
    /// A deactivated account still holding tickets: they need reassigning.
    active: bool,
    open: usize,
    by_sla_state: Workload,
}

#[derive(Serialize, ToSchema)]
pub struct WorkloadReport {
    counsellors: Vec<CounsellorWorkload>,
    unassigned: Workload,
    unassigned_open: usize,
    /// Open tickets assigned to deactivated accounts.
    #[schema(value_type = Vec<i64>)]
    needs_reassignment: Vec<TicketId>,
}

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
    let (open, names) = blocking(&state, move |_, conn| {
        Ok::<_, crate::db::DbError>((reports::open_tickets(conn)?, reports::staff_names(conn)?))
    })
    .await?;
    let now = state.time.now();
    let mut counsellors: Vec<CounsellorWorkload> = Vec::new();
    let mut unassigned = Workload::default();
    let mut unassigned_open = 0;
    let mut needs_reassignment = Vec::new();
    for ticket in open {
        let state_now = clock::sla_state(&state.rules, ticket.reply_due_at.map(from_db), now);
        let bucket = match ticket.assignee_id {
            None => {
                unassigned_open += 1;
                &mut unassigned
            }
            Some(id) => {
                let (name, active) = names
                    .iter()
                    .find(|n| n.id == id)
                    .map_or((String::new(), false), |n| (n.name.clone(), n.active));
                if !active {
                    needs_reassignment.push(ticket.id);
                }
                let entry = match counsellors.iter().position(|c| c.id == id) {
                    Some(i) => &mut counsellors[i],
                    None => {
                        counsellors.push(CounsellorWorkload {
                            id,
                            name,
                            active,
                            open: 0,
                            by_sla_state: Workload::default(),
                        });
                        counsellors.last_mut().expect("just pushed")
                    }
                };
                entry.open += 1;
                &mut entry.by_sla_state
            }
        };
        match state_now {
            clock::SlaState::None => bucket.none += 1,
            clock::SlaState::OnTrack => bucket.on_track += 1,
            clock::SlaState::DueSoon => bucket.due_soon += 1,
            clock::SlaState::Overdue => bucket.overdue += 1,
        }
    }
    counsellors.sort_by(|a, b| a.name.cmp(&b.name));
    needs_reassignment.sort_unstable();
    Ok(HttpResponse::Ok().json(WorkloadReport {
        counsellors,
        unassigned,
        unassigned_open,
        needs_reassignment,
    }))
}
