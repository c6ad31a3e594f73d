//! The reply_clocks table: one row per run of a reply clock, kept after it stops so that
//! compliance can be reported. The running clock is mirrored on its ticket for the queue.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::native::native;
use super::schema::{reply_clocks, staff, tickets};
use super::{Backend, DbConn, DbError, to_db};
use crate::domain::vocabulary::{ClockId, MessageId, StaffId, TicketId};

#[derive(Insertable)]
#[diesel(table_name = reply_clocks, treat_none_as_default_value = false)]
struct NewClock {
    ticket_id: TicketId,
    started_at: NaiveDateTime,
    due_at: NaiveDateTime,
    started_by_message_id: Option<MessageId>,
}

/// Starts a reply clock on a ticket that has none running.
pub fn start(
    conn: &mut DbConn,
    ticket: TicketId,
    started_at: DateTime<Utc>,
    due_at: DateTime<Utc>,
    by_message: MessageId,
) -> Result<(), DbError> {
    record_start(conn, ticket, started_at, due_at, by_message)?;
    diesel::update(tickets::table.find(ticket))
        .set((
            tickets::clock_started_at.eq(Some(to_db(started_at))),
            tickets::reply_due_at.eq(Some(to_db(due_at))),
            tickets::queue_due_at.eq(to_db(due_at)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Records the run of a clock whose ticket mirrors it already (a new ticket, inserted with
/// it: `tickets::insert_new`).
pub fn record_start(
    conn: &mut DbConn,
    ticket: TicketId,
    started_at: DateTime<Utc>,
    due_at: DateTime<Utc>,
    by_message: MessageId,
) -> Result<(), DbError> {
    let insert = diesel::insert_into(reply_clocks::table).values(NewClock {
        ticket_id: ticket,
        started_at: to_db(started_at),
        due_at: to_db(due_at),
        started_by_message_id: Some(by_message),
    });
    native!(conn, |c| insert.execute(c))?;
    Ok(())
}

/// The queue's sort key for a ticket with no running clock: after every real due time, and
/// still four digits of year, so SQLite's text comparison orders it right.
pub fn no_clock() -> NaiveDateTime {
    chrono::NaiveDate::from_ymd_opt(9999, 12, 31)
        .unwrap_or(chrono::NaiveDate::MAX)
        .and_time(chrono::NaiveTime::MIN)
}

/// Stops the running clock, if any, when staff answered (`by_message`) or closed the ticket.
pub fn stop(
    conn: &mut DbConn,
    ticket: TicketId,
    at: DateTime<Utc>,
    by_staff: StaffId,
    by_message: Option<MessageId>,
) -> Result<bool, DbError> {
    let stopped = diesel::update(
        reply_clocks::table
            .filter(reply_clocks::ticket_id.eq(ticket))
            .filter(reply_clocks::stopped_at.is_null()),
    )
    .set((
        reply_clocks::stopped_at.eq(Some(to_db(at))),
        reply_clocks::stopped_by_staff_id.eq(Some(by_staff)),
        reply_clocks::stopped_by_message_id.eq(by_message),
    ))
    .execute(conn)?;
    diesel::update(tickets::table.find(ticket))
        .set((
            tickets::clock_started_at.eq(None::<NaiveDateTime>),
            tickets::reply_due_at.eq(None::<NaiveDateTime>),
            tickets::queue_due_at.eq(no_clock()),
        ))
        .execute(conn)?;
    Ok(stopped > 0)
}

/// A running clock an alert may speak of.
#[derive(Debug, Clone, Queryable)]
pub struct ClockAlert {
    pub clock_id: ClockId,
    pub ticket_id: TicketId,
    pub reference: String,
    pub assignee_id: Option<StaffId>,
    pub assignee_name: Option<String>,
    pub due_at: NaiveDateTime,
}

#[diesel::dsl::auto_type(no_type_alias)]
fn alert_columns() -> _ {
    (
        reply_clocks::id,
        tickets::id,
        tickets::reference,
        tickets::assignee_id,
        staff::name.nullable(),
        reply_clocks::due_at,
    )
}

/// Which warning a clock must not have had yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotYet {
    DueSoon,
    Overdue,
    /// Any clock, warned or not (for the digest).
    Either,
}

/// Running clocks due in `(after, before)`, soonest first.
pub fn running_due(
    conn: &mut DbConn,
    after: Option<DateTime<Utc>>,
    before: DateTime<Utc>,
    not_yet: NotYet,
) -> Result<Vec<ClockAlert>, DbError> {
    let mut q = reply_clocks::table
        .inner_join(tickets::table.left_join(staff::table))
        .filter(reply_clocks::stopped_at.is_null())
        .filter(reply_clocks::due_at.lt(to_db(before)))
        .select(alert_columns())
        .into_boxed::<Backend>();
    if let Some(after) = after {
        q = q.filter(reply_clocks::due_at.gt(to_db(after)));
    }
    q = match not_yet {
        NotYet::DueSoon => q.filter(reply_clocks::due_soon_alerted_at.is_null()),
        NotYet::Overdue => q.filter(reply_clocks::overdue_alerted_at.is_null()),
        NotYet::Either => q,
    };
    Ok(q.order((reply_clocks::due_at, reply_clocks::id))
        .load(conn)?)
}

/// Takes the right to send a clock's due-soon warning; false if another took it first.
pub fn claim_due_soon(
    conn: &mut DbConn,
    clock: ClockId,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    Ok(diesel::update(
        reply_clocks::table
            .find(clock)
            .filter(reply_clocks::due_soon_alerted_at.is_null()),
    )
    .set(reply_clocks::due_soon_alerted_at.eq(Some(to_db(now))))
    .execute(conn)?
        == 1)
}

/// Takes the right to send a clock's overdue warning; false if another took it first.
pub fn claim_overdue(
    conn: &mut DbConn,
    clock: ClockId,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    Ok(diesel::update(
        reply_clocks::table
            .find(clock)
            .filter(reply_clocks::overdue_alerted_at.is_null()),
    )
    .set(reply_clocks::overdue_alerted_at.eq(Some(to_db(now))))
    .execute(conn)?
        == 1)
}

/// One run of a ticket's reply clock, for the export.
#[derive(Debug, Clone, Queryable)]
pub struct ClockRun {
    pub started_at: NaiveDateTime,
    pub due_at: NaiveDateTime,
    pub stopped_at: Option<NaiveDateTime>,
    pub stopped_by_staff_id: Option<StaffId>,
}

/// Every clock the ticket ran, oldest first.
pub fn of_ticket(conn: &mut DbConn, ticket: TicketId) -> Result<Vec<ClockRun>, DbError> {
    Ok(reply_clocks::table
        .filter(reply_clocks::ticket_id.eq(ticket))
        .order(reply_clocks::id)
        .select((
            reply_clocks::started_at,
            reply_clocks::due_at,
            reply_clocks::stopped_at,
            reply_clocks::stopped_by_staff_id,
        ))
        .load(conn)?)
}
