//! Supervisors' reports: the figures the API and the console both show, worked out once here
//! from the read views (`db::reports`) and the arithmetic in `domain::sla`. Each read is
//! audited with its size, never with what the tickets say.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{Actor, DeskError, audit};
use crate::db::reports::{self, ClockRow};
use crate::db::{DbConn, from_db, messages, triage_flags};
use crate::domain::clock::{self, SlaState};
use crate::domain::sla;
use crate::domain::vocabulary::{StaffId, Status, TicketId};
use crate::state::AppState;

fn audited(
    state: &AppState,
    conn: &mut DbConn,
    actor: &Actor,
    action: &str,
    count: usize,
) -> Result<(), DeskError> {
    let detail = format!("count={count}");
    Ok(audit(
        conn,
        actor,
        state.time.now(),
        action,
        None,
        None,
        Some(&detail),
    )?)
}

/// A ticket whose reply clock was past due at the report's instant.
#[derive(Debug, Clone)]
pub struct OverdueLine {
    pub id: TicketId,
    pub reference: String,
    pub subject: String,
    pub assignee: Option<(StaffId, String)>,
    pub clock_started_at: DateTime<Utc>,
    pub reply_due_at: DateTime<Utc>,
    /// Hours past the due time at the instant, to one decimal.
    pub overdue_hours: f64,
    pub urgent: bool,
    pub status: Status,
}

fn overdue_line(row: ClockRow, at: DateTime<Utc>) -> OverdueLine {
    let due = from_db(row.due_at);
    OverdueLine {
        id: row.ticket_id,
        reference: row.reference,
        subject: row.subject,
        assignee: row.assignee_id.zip(row.assignee_name),
        clock_started_at: from_db(row.started_at),
        reply_due_at: due,
        overdue_hours: ((at - due).num_minutes() as f64 / 6.0).round() / 10.0,
        urgent: row.urgent,
        status: row.status,
    }
}

/// Every ticket whose running clock is past due at `at`, most overdue first.
pub fn overdue(
    state: &AppState,
    conn: &mut DbConn,
    actor: &Actor,
    at: DateTime<Utc>,
) -> Result<Vec<OverdueLine>, DeskError> {
    actor.require_supervisor()?;
    let lines: Vec<OverdueLine> = reports::overdue_at(conn, at)?
        .into_iter()
        .map(|r| overdue_line(r, at))
        .collect();
    audited(state, conn, actor, "report.overdue", lines.len())?;
    Ok(lines)
}

/// Compliance for clocks whose due time falls in `[from, to)`, by month or by counsellor.
pub fn sla(
    state: &AppState,
    conn: &mut DbConn,
    actor: &Actor,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    group_by: sla::GroupBy,
) -> Result<Vec<sla::Row>, DeskError> {
    actor.require_supervisor()?;
    let now = state.time.now();
    if group_by == sla::GroupBy::Month {
        // A month at a time, each on its index range: a year is a million clocks at a large
        // centre, so no month key is made per clock and only instants are read.
        let months = sla::months(from, to, state.rules.tz);
        let rows: Vec<sla::Row> = reports::sla_counts_by_month(&state.pool, conn, &months, now)?
            .into_iter()
            .filter(|tally| tally.due > 0)
            .map(|tally| tally.row())
            .collect();
        audited(state, conn, actor, "report.sla", rows.len())?;
        return Ok(rows);
    }
    let rows = reports::sla_clocks_due_between(conn, from, to)?;
    let names = reports::staff_names(conn)?;
    let name_of = |id: StaffId| names.iter().find(|n| n.id == id).map(|n| n.name.clone());
    let clocks: Vec<sla::Clock> = rows
        .into_iter()
        .map(|r| sla::Clock {
            started_at: from_db(r.started_at),
            due_at: from_db(r.due_at),
            stopped_at: r.stopped_at.map(from_db),
            // Who answered, else the ticket's assignee.
            counsellor: r
                .stopped_by
                .and_then(name_of)
                .or_else(|| r.assignee_id.and_then(name_of)),
        })
        .collect();
    let rows = sla::report(&clocks, group_by, state.rules.tz, now);
    audited(state, conn, actor, "report.sla", rows.len())?;
    Ok(rows)
}

#[derive(Debug, Clone, Serialize, ToSchema, Default)]
pub struct Workload {
    pub on_track: usize,
    pub due_soon: usize,
    pub overdue: usize,
    /// Open tickets without a running clock (answered, waiting on the consulter).
    pub none: usize,
}

impl Workload {
    fn count(&mut self, s: SlaState) {
        match s {
            SlaState::None => self.none += 1,
            SlaState::OnTrack => self.on_track += 1,
            SlaState::DueSoon => self.due_soon += 1,
            SlaState::Overdue => self.overdue += 1,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CounsellorWorkload {
    #[schema(value_type = i64)]
    pub id: StaffId,
    pub name: String,
    /// A deactivated account still holding tickets: they need reassigning.
    pub active: bool,
    pub open: usize,
    pub by_sla_state: Workload,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WorkloadReport {
    pub counsellors: Vec<CounsellorWorkload>,
    pub unassigned: Workload,
    pub unassigned_open: usize,
    /// Open tickets assigned to deactivated accounts.
    #[schema(value_type = Vec<i64>)]
    pub needs_reassignment: Vec<TicketId>,
}

/// Open tickets per counsellor by reply-clock state now; unassigned apart.
pub fn workload(
    state: &AppState,
    conn: &mut DbConn,
    actor: &Actor,
) -> Result<WorkloadReport, DeskError> {
    actor.require_supervisor()?;
    let open = reports::open_tickets(conn)?;
    let names = reports::staff_names(conn)?;
    let now = state.time.now();
    let mut counsellors: Vec<CounsellorWorkload> = Vec::new();
    let mut unassigned = Workload::default();
    let mut unassigned_open = 0;
    let mut needs_reassignment = Vec::new();
    for ticket in open {
        let state_now = clock::sla_state(&state.rules, ticket.reply_due_at.map(from_db), now);
        let Some(id) = ticket.assignee_id else {
            unassigned_open += 1;
            unassigned.count(state_now);
            continue;
        };
        let (name, active) = names
            .iter()
            .find(|n| n.id == id)
            .map_or((String::new(), false), |n| (n.name.clone(), n.active));
        if !active {
            needs_reassignment.push(ticket.id);
        }
        let i = match counsellors.iter().position(|c| c.id == id) {
            Some(i) => i,
            None => {
                counsellors.push(CounsellorWorkload {
                    id,
                    name,
                    active,
                    open: 0,
                    by_sla_state: Workload::default(),
                });
                counsellors.len() - 1
            }
        };
        counsellors[i].open += 1;
        counsellors[i].by_sla_state.count(state_now);
    }
    counsellors.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.0.cmp(&b.id.0)));
    needs_reassignment.sort_unstable();
    audited(state, conn, actor, "report.workload", counsellors.len())?;
    Ok(WorkloadReport {
        counsellors,
        unassigned,
        unassigned_open,
        needs_reassignment,
    })
}

/// An urgent-risk flag with the time to the first reply by a person after it.
#[derive(Debug, Clone)]
pub struct UrgentLine {
    pub ticket_id: TicketId,
    pub reference: String,
    pub categories: Vec<String>,
    /// `flagged` (nobody decided yet), `confirmed` or `cleared`.
    pub state: String,
    pub flagged_at: DateTime<Utc>,
    pub first_reply_at: Option<DateTime<Utc>>,
    pub minutes_to_first_reply: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct UrgentFigures {
    pub lines: Vec<UrgentLine>,
    /// Not yet answered by a person.
    pub unanswered: usize,
    pub median_minutes_to_first_reply: Option<f64>,
}

/// Urgent-risk flags raised in `[from, to)`, oldest first.
pub fn urgent(
    state: &AppState,
    conn: &mut DbConn,
    actor: &Actor,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<UrgentFigures, DeskError> {
    actor.require_supervisor()?;
    let flags = triage_flags::flags_between(conn, from, to)?;
    let ids: Vec<TicketId> = flags.iter().map(|f| f.ticket_id).collect();
    let replies = messages::staff_replies_on(conn, &ids)?;
    let lines: Vec<UrgentLine> = flags
        .into_iter()
        .map(|f| {
            let flagged = from_db(f.flagged_at);
            let first_reply = replies
                .iter()
                .filter(|r| r.ticket_id == f.ticket_id && from_db(r.at) >= flagged)
                .map(|r| from_db(r.at))
                .min();
            UrgentLine {
                ticket_id: f.ticket_id,
                reference: f.reference,
                categories: f.categories.split(',').map(str::to_string).collect(),
                state: f.state,
                flagged_at: flagged,
                first_reply_at: first_reply,
                minutes_to_first_reply: first_reply.map(|r| (r - flagged).num_minutes()),
            }
        })
        .collect();
    let mut minutes: Vec<i64> = lines
        .iter()
        .filter_map(|l| l.minutes_to_first_reply)
        .collect();
    minutes.sort_unstable();
    audited(state, conn, actor, "report.urgent", lines.len())?;
    Ok(UrgentFigures {
        unanswered: lines.iter().filter(|l| l.first_reply_at.is_none()).count(),
        median_minutes_to_first_reply: crate::domain::stats::median(&minutes),
        lines,
    })
}
