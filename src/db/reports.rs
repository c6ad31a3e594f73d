//! Reads for supervisors' reports; the arithmetic is in `domain::sla`.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::schema::{reply_clocks, staff, tickets};
use super::{Backend, DbConn, DbError, to_db};
use crate::domain::vocabulary::{ClockId, StaffId, Status, TicketId};

#[derive(Debug, Clone, Queryable)]
pub struct ClockRow {
    pub ticket_id: TicketId,
    pub reference: String,
    pub subject: String,
    pub status: Status,
    pub urgent: bool,
    pub assignee_id: Option<StaffId>,
    pub assignee_name: Option<String>,
    pub started_at: NaiveDateTime,
    pub due_at: NaiveDateTime,
    pub stopped_at: Option<NaiveDateTime>,
    pub stopped_by: Option<StaffId>,
}

#[diesel::dsl::auto_type(no_type_alias)]
fn clock_columns() -> _ {
    (
        tickets::id,
        tickets::reference,
        tickets::subject,
        tickets::status,
        tickets::urgent,
        tickets::assignee_id,
        staff::name.nullable(),
        reply_clocks::started_at,
        reply_clocks::due_at,
        reply_clocks::stopped_at,
        reply_clocks::stopped_by_staff_id,
    )
}

/// Clocks that ran at `at` and were past due then, most overdue first.
///
/// Read in two parts that cannot overlap, each on its own index: clocks still running
/// (`reply_clocks_running_due`, a few thousand at most) and clocks stopped after `at`
/// (`reply_clocks_stopped`: none for the present, more the further back `at` lies). One
/// query with the OR would walk every clock due before `at`, i.e. all of history.
/// The second part leaves `due_at < at` to Rust: with it in SQL, SQLite (no ANALYZE) seeks
/// on the covering `reply_clocks_due_cover` instead and walks every clock due before `at`
/// (3 M at 1M tickets, ~400 ms for no row). Without it the only index term is
/// `stopped_at > at`; the extra rows are clocks running at `at` not yet due, a few thousand.
pub fn overdue_at(conn: &mut DbConn, at: DateTime<Utc>) -> Result<Vec<ClockRow>, DbError> {
    let at = to_db(at);
    let base = || {
        reply_clocks::table
            .inner_join(tickets::table.left_join(staff::table))
            .filter(reply_clocks::started_at.le(at))
            .select((reply_clocks::id, clock_columns()))
            .into_boxed::<Backend>()
    };
    let mut rows: Vec<(ClockId, ClockRow)> = base()
        .filter(reply_clocks::due_at.lt(at))
        .filter(reply_clocks::stopped_at.is_null())
        .load(conn)?;
    rows.extend(
        base()
            .filter(reply_clocks::stopped_at.gt(at))
            .load::<(ClockId, ClockRow)>(conn)?
            .into_iter()
            .filter(|(_, r)| r.due_at < at),
    );
    rows.sort_by(|(a_id, a), (b_id, b)| a.due_at.cmp(&b.due_at).then(a_id.0.cmp(&b_id.0)));
    Ok(rows.into_iter().map(|(_, r)| r).collect())
}

/// Clocks running now that fall due by `by`, soonest first.
pub fn running_due_by(conn: &mut DbConn, by: DateTime<Utc>) -> Result<Vec<ClockRow>, DbError> {
    Ok(reply_clocks::table
        .inner_join(tickets::table.left_join(staff::table))
        .filter(reply_clocks::stopped_at.is_null())
        .filter(reply_clocks::due_at.le(to_db(by)))
        .order((reply_clocks::due_at, reply_clocks::id))
        .select(clock_columns())
        .load(conn)?)
}

/// What the SLA report needs of one clock.
#[derive(Debug, Clone, Queryable)]
pub struct SlaClock {
    pub started_at: NaiveDateTime,
    pub due_at: NaiveDateTime,
    pub stopped_at: Option<NaiveDateTime>,
    pub stopped_by: Option<StaffId>,
    /// The ticket's assignee, read only when asked for (`with_assignee`).
    pub assignee_id: Option<StaffId>,
}

/// Every clock whose due time falls in `[from, to)`, stopped or not, in no particular order.
/// Without the assignee the covering index `reply_clocks_due_cover` answers alone (a year
/// is a million clocks at a large centre); with it, each clock's ticket is read too.
pub fn sla_clocks_due_between(
    conn: &mut DbConn,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    with_assignee: bool,
) -> Result<Vec<SlaClock>, DbError> {
    let due = reply_clocks::due_at
        .ge(to_db(from))
        .and(reply_clocks::due_at.lt(to_db(to)));
    if with_assignee {
        return Ok(reply_clocks::table
            .inner_join(tickets::table)
            .filter(due)
            .select((
                reply_clocks::started_at,
                reply_clocks::due_at,
                reply_clocks::stopped_at,
                reply_clocks::stopped_by_staff_id,
                tickets::assignee_id,
            ))
            .load(conn)?);
    }
    // A constant NULL for the assignee keeps the read on the covering index alone.
    Ok(reply_clocks::table
        .filter(due)
        .select((
            reply_clocks::started_at,
            reply_clocks::due_at,
            reply_clocks::stopped_at,
            reply_clocks::stopped_by_staff_id,
            diesel::dsl::sql::<diesel::sql_types::Nullable<diesel::sql_types::BigInt>>("NULL"),
        ))
        .load(conn)?)
}

#[derive(Debug, Clone, Queryable)]
pub struct StaffName {
    pub id: StaffId,
    pub name: String,
    pub active: bool,
}

/// Staff names by id, for grouping by the counsellor who answered.
pub fn staff_names(conn: &mut DbConn) -> Result<Vec<StaffName>, DbError> {
    Ok(staff::table
        .select((staff::id, staff::name, staff::active))
        .load(conn)?)
}

/// An open ticket for the workload view.
#[derive(Debug, Clone, Queryable)]
pub struct OpenTicket {
    pub id: TicketId,
    pub assignee_id: Option<StaffId>,
    /// Of the running clock.
    pub reply_due_at: Option<NaiveDateTime>,
}

pub fn open_tickets(conn: &mut DbConn) -> Result<Vec<OpenTicket>, DbError> {
    Ok(tickets::table
        .filter(tickets::status.ne(Status::Closed))
        .select((tickets::id, tickets::assignee_id, tickets::reply_due_at))
        .load(conn)?)
}

/// How many of something there are, by a label such as a status.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct Tally {
    pub label: String,
    pub count: i64,
}

/// Tickets by status, for metrics.
pub fn count_by_status(conn: &mut DbConn) -> Result<Vec<Tally>, DbError> {
    Ok(tickets::table
        .group_by(tickets::status)
        .select((tickets::status, diesel::dsl::count_star()))
        .load(conn)?)
}

/// Open tickets by reply-clock state at `now`: (state, count), four small counts on indexes.
pub fn count_by_sla_state(
    conn: &mut DbConn,
    now: DateTime<Utc>,
    soon_until: DateTime<Utc>,
) -> Result<Vec<Tally>, DbError> {
    let open = || tickets::table.filter(tickets::status.ne(Status::Closed));
    let (now, soon) = (to_db(now), to_db(soon_until));
    let tally = |label: &str, count: i64| Tally {
        label: label.into(),
        count,
    };
    Ok(vec![
        tally(
            "none",
            open()
                .filter(tickets::reply_due_at.is_null())
                .count()
                .get_result(conn)?,
        ),
        tally(
            "overdue",
            open()
                .filter(tickets::reply_due_at.lt(now))
                .count()
                .get_result(conn)?,
        ),
        tally(
            "due_soon",
            open()
                .filter(tickets::reply_due_at.ge(now))
                .filter(tickets::reply_due_at.lt(soon))
                .count()
                .get_result(conn)?,
        ),
        tally(
            "on_track",
            open()
                .filter(tickets::reply_due_at.ge(soon))
                .count()
                .get_result(conn)?,
        ),
    ])
}

/// The outbox by delivery status: depth (`queued`) and failures (`failed`).
pub fn outbox_by_status(conn: &mut DbConn) -> Result<Vec<Tally>, DbError> {
    use super::schema::outbound_mail;
    Ok(outbound_mail::table
        .group_by(outbound_mail::status)
        .select((outbound_mail::status, diesel::dsl::count_star()))
        .load(conn)?)
}
