//! The tickets table: one row per consultation.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::native::{insert_id, insert_id_if_new, native};
use super::schema::{consulters, tickets};
use super::{DbConn, DbError, clocks, consulters as consulter_rows, to_db};
use crate::domain::threading::Candidate;
use crate::domain::vocabulary::{Channel, ConsulterId, StaffId, Status, TicketId};

#[derive(Insertable)]
#[diesel(table_name = tickets, treat_none_as_default_value = false)]
struct NewTicket<'a> {
    reference: &'a str,
    subject: &'a str,
    status: Status,
    channel: Channel,
    urgent: bool,
    consulter_id: ConsulterId,
    relationship: Option<&'a str>,
    age_group: Option<&'a str>,
    area: Option<&'a str>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    clock_started_at: Option<NaiveDateTime>,
    reply_due_at: Option<NaiveDateTime>,
    queue_due_at: NaiveDateTime,
    consulter_name: Option<&'a str>,
    urgent_reasons: Option<&'a str>,
}

impl<'a> NewTicket<'a> {
    fn of(
        reference: &'a str,
        t: &TicketDetails<'a>,
        consulter_id: ConsulterId,
        clock: Option<RunningClock>,
        received_at: DateTime<Utc>,
    ) -> Self {
        let now = to_db(received_at);
        Self {
            reference,
            subject: t.subject,
            status: Status::New,
            channel: t.channel,
            urgent: false,
            urgent_reasons: None,
            consulter_id,
            relationship: t.relationship,
            age_group: t.age_group,
            area: t.area,
            created_at: now,
            updated_at: now,
            clock_started_at: clock.map(|c| to_db(c.started_at)),
            reply_due_at: clock.map(|c| to_db(c.due_at)),
            queue_due_at: clock.map_or_else(clocks::no_clock, |c| to_db(c.due_at)),
            consulter_name: t.consulter_name,
        }
    }
}

/// What a new consultation says of itself and of who wrote it, from the form or a first mail.
/// The name, area and age group are the ticket's own, as given with it (docs/CONTRACT.md §6).
#[derive(Debug, Clone, Copy)]
pub struct TicketDetails<'a> {
    pub subject: &'a str,
    pub channel: Channel,
    pub consulter_email: &'a str,
    pub consulter_name: Option<&'a str>,
    pub relationship: Option<&'a str>,
    pub age_group: Option<&'a str>,
    pub area: Option<&'a str>,
}

/// The reply clock a new ticket starts with, mirrored on it for the queue (its run is
/// recorded with [`clocks::record_start`]).
#[derive(Debug, Clone, Copy)]
pub struct RunningClock {
    pub started_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
}

/// Inserts a ticket, `new` and not urgent, with its consulter and no clock. `desk::consultation`
/// opens tickets with [`insert_new`] instead.
pub fn open(
    conn: &mut DbConn,
    reference: &str,
    t: &TicketDetails<'_>,
    received_at: DateTime<Utc>,
) -> Result<TicketId, DbError> {
    let consulter_id =
        consulter_rows::find_or_add(conn, t.consulter_email, t.consulter_name, received_at)?;
    let insert = diesel::insert_into(tickets::table).values(NewTicket::of(
        reference,
        t,
        consulter_id,
        None,
        received_at,
    ));
    Ok(insert_id!(conn, insert, tickets::id)?)
}

/// Inserts a ticket, `new`, for a consulter found or added before, with its reply clock
/// already mirrored, and urgent for `urgent_reasons` if given (one statement, where inserting
/// and then updating it moved the row in the queue's indexes). `None` when another ticket has
/// the reference: nothing is written and the caller's transaction goes on, so it can try another.
pub fn insert_new(
    conn: &mut DbConn,
    reference: &str,
    t: &TicketDetails<'_>,
    consulter_id: ConsulterId,
    clock: Option<RunningClock>,
    urgent_reasons: Option<&str>,
    received_at: DateTime<Utc>,
) -> Result<Option<TicketId>, DbError> {
    let ticket = NewTicket {
        urgent: urgent_reasons.is_some(),
        urgent_reasons,
        ..NewTicket::of(reference, t, consulter_id, clock, received_at)
    };
    let insert = diesel::insert_into(tickets::table)
        .values(ticket)
        .on_conflict(tickets::reference)
        .do_nothing();
    Ok(insert_id_if_new!(conn, insert, tickets::id)?)
}

/// What the receipt and tests need to see of a stored ticket.
#[derive(Debug, Queryable)]
pub struct TicketRow {
    pub id: TicketId,
    pub reference: String,
    pub subject: String,
    pub status: Status,
    pub channel: Channel,
    pub urgent: bool,
    pub assignee_id: Option<StaffId>,
    pub created_at: NaiveDateTime,
    pub clock_started_at: Option<NaiveDateTime>,
    pub reply_due_at: Option<NaiveDateTime>,
}

pub fn by_reference(conn: &mut DbConn, reference: &str) -> Result<Option<TicketRow>, DbError> {
    Ok(tickets::table
        .filter(tickets::reference.eq(reference))
        .select((
            tickets::id,
            tickets::reference,
            tickets::subject,
            tickets::status,
            tickets::channel,
            tickets::urgent,
            tickets::assignee_id,
            tickets::created_at,
            tickets::clock_started_at,
            tickets::reply_due_at,
        ))
        .first(conn)
        .optional()?)
}

/// The ticket a subject's `[#REFERENCE]` names, with its consulter's address.
pub fn candidate_by_reference(
    conn: &mut DbConn,
    reference: &str,
) -> Result<Option<Candidate>, DbError> {
    let query = tickets::table
        .inner_join(consulters::table)
        .filter(tickets::reference.eq(reference))
        // An erased consultation is joined by nothing: new mail opens a new one.
        .filter(tickets::erased_at.is_null())
        .select((tickets::id, consulters::email));
    // No LIMIT (the reference is unique): see `consulters::find_or_add`.
    Ok(native!(conn, |c| query.get_result(c).optional())?.map(candidate))
}

/// A threading candidate from a row of (ticket, its consulter's address).
pub(super) fn candidate((ticket_id, consulter_email): (TicketId, String)) -> Candidate {
    Candidate {
        ticket_id,
        consulter_email,
    }
}

/// What a follow-up needs to know of the ticket it joins.
#[derive(Debug, Queryable)]
pub struct JoinTarget {
    pub reference: String,
    pub status: Status,
    pub reply_due_at: Option<NaiveDateTime>,
}

pub fn join_target(conn: &mut DbConn, ticket: TicketId) -> Result<JoinTarget, DbError> {
    let query = tickets::table.find(ticket).select((
        tickets::reference,
        tickets::status,
        tickets::reply_due_at,
    ));
    Ok(native!(conn, |c| query.get_result(c))?)
}

/// Changes made by staff or by a follow-up; `None` leaves a field as it is.
pub fn update(
    conn: &mut DbConn,
    ticket: TicketId,
    status: Option<Status>,
    urgent: Option<bool>,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let target = tickets::table.find(ticket);
    match (status, urgent) {
        (Some(s), Some(u)) => diesel::update(target)
            .set((
                tickets::status.eq(s),
                tickets::urgent.eq(u),
                tickets::updated_at.eq(to_db(now)),
            ))
            .execute(conn)?,
        (Some(s), None) => diesel::update(target)
            .set((tickets::status.eq(s), tickets::updated_at.eq(to_db(now))))
            .execute(conn)?,
        (None, Some(u)) => diesel::update(target)
            .set((tickets::urgent.eq(u), tickets::updated_at.eq(to_db(now))))
            .execute(conn)?,
        (None, None) => 0,
    };
    if let Some(s) = status {
        // For retention: the latest close counts, and a ticket taken up again is not closed.
        let closed_at = (s == Status::Closed).then(|| to_db(now));
        diesel::update(tickets::table.find(ticket))
            .set(tickets::closed_at.eq(closed_at))
            .execute(conn)?;
    }
    Ok(())
}

pub fn assign(
    conn: &mut DbConn,
    ticket: TicketId,
    assignee: Option<StaffId>,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    diesel::update(tickets::table.find(ticket))
        .set((
            tickets::assignee_id.eq(assignee),
            tickets::updated_at.eq(to_db(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// A ticket by its reference, for lists and links.
#[derive(Debug, Clone, Queryable)]
pub struct TicketRef {
    pub id: TicketId,
    pub reference: String,
}

/// Urgent tickets not closed, oldest first.
pub fn urgent_open(conn: &mut DbConn) -> Result<Vec<TicketRef>, DbError> {
    Ok(tickets::table
        .filter(tickets::urgent.eq(true))
        .filter(tickets::status.ne(Status::Closed))
        .order(tickets::id)
        .select((tickets::id, tickets::reference))
        .load(conn)?)
}

pub fn new_since(conn: &mut DbConn, since: DateTime<Utc>) -> Result<i64, DbError> {
    Ok(tickets::table
        .filter(tickets::created_at.ge(to_db(since)))
        .count()
        .get_result(conn)?)
}

/// The tickets not closed that a staff member holds, oldest first (to hand them over).
pub fn open_assigned_to(conn: &mut DbConn, staff: StaffId) -> Result<Vec<TicketId>, DbError> {
    Ok(tickets::table
        .filter(tickets::assignee_id.eq(staff))
        .filter(tickets::status.ne(Status::Closed))
        .order(tickets::id)
        .select(tickets::id)
        .load(conn)?)
}
/// A ticket's standing for retention: when it was closed, whether a supervisor keeps it, and
/// when its personal data was erased.
#[derive(Debug, Clone, Copy, Queryable)]
pub struct RetentionMarks {
    pub closed_at: Option<NaiveDateTime>,
    pub legal_hold: bool,
    pub erased_at: Option<NaiveDateTime>,
}

pub fn retention_marks(conn: &mut DbConn, ticket: TicketId) -> Result<RetentionMarks, DbError> {
    Ok(tickets::table
        .find(ticket)
        .select((tickets::closed_at, tickets::legal_hold, tickets::erased_at))
        .first(conn)?)
}

pub fn set_legal_hold(conn: &mut DbConn, ticket: TicketId, hold: bool) -> Result<(), DbError> {
    diesel::update(tickets::table.find(ticket))
        .set(tickets::legal_hold.eq(hold))
        .execute(conn)?;
    Ok(())
}

/// Tickets closed before `cutoff`, not erased yet, after `after` in id order: those held
/// (`held`) or those to erase (`!held`).
pub fn closed_before(
    conn: &mut DbConn,
    cutoff: DateTime<Utc>,
    held: bool,
    after: TicketId,
    limit: i64,
) -> Result<Vec<TicketId>, DbError> {
    Ok(tickets::table
        .filter(tickets::status.eq(Status::Closed))
        .filter(tickets::erased_at.is_null())
        .filter(tickets::closed_at.lt(to_db(cutoff)))
        .filter(tickets::legal_hold.eq(held))
        .filter(tickets::id.gt(after))
        .order(tickets::id)
        .select(tickets::id)
        .limit(limit)
        .load(conn)?)
}

/// Marks the ticket erased and takes its subject, name and area, only if it is still closed
/// before `cutoff`, unheld and not erased: false when another run (or a change by staff) came
/// first. The row's lock holds off a concurrent run until this transaction ends.
pub fn erase(
    conn: &mut DbConn,
    ticket: TicketId,
    cutoff: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let changed = diesel::update(
        tickets::table
            .find(ticket)
            .filter(tickets::status.eq(Status::Closed))
            .filter(tickets::erased_at.is_null())
            .filter(tickets::closed_at.lt(to_db(cutoff)))
            .filter(tickets::legal_hold.eq(false)),
    )
    .set((
        tickets::erased_at.eq(Some(to_db(now))),
        tickets::subject.eq(""),
        tickets::consulter_name.eq(None::<String>),
        tickets::area.eq(None::<String>),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}

/// The consulter who wrote the ticket.
pub fn consulter_of(conn: &mut DbConn, ticket: TicketId) -> Result<ConsulterId, DbError> {
    Ok(tickets::table
        .find(ticket)
        .select(tickets::consulter_id)
        .first(conn)?)
}

/// Whether any of the consulter's tickets still holds personal data.
pub fn consulter_has_unerased(conn: &mut DbConn, consulter: ConsulterId) -> Result<bool, DbError> {
    Ok(diesel::select(diesel::dsl::exists(
        tickets::table
            .filter(tickets::consulter_id.eq(consulter))
            .filter(tickets::erased_at.is_null()),
    ))
    .get_result(conn)?)
}

/// How many of the consulter's tickets still hold personal data.
pub fn unerased_of_consulter(conn: &mut DbConn, consulter: ConsulterId) -> Result<i64, DbError> {
    Ok(tickets::table
        .filter(tickets::consulter_id.eq(consulter))
        .filter(tickets::erased_at.is_null())
        .count()
        .get_result(conn)?)
}

/// Every ticket id after `after`, in order, for the export.
pub fn ids_after(conn: &mut DbConn, after: TicketId, limit: i64) -> Result<Vec<TicketId>, DbError> {
    Ok(tickets::table
        .filter(tickets::id.gt(after))
        .order(tickets::id)
        .select(tickets::id)
        .limit(limit)
        .load(conn)?)
}

pub fn count_all(conn: &mut DbConn) -> Result<i64, DbError> {
    Ok(tickets::table.count().get_result(conn)?)
}
