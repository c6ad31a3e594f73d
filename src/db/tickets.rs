//! Tickets, their consulters, messages and reply clocks.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::schema::{consulters, messages, reply_clocks, tickets};
use super::{DbConn, DbError, to_db};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct TicketId(pub i64);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct MessageId(pub i64);

#[derive(Insertable)]
#[diesel(table_name = consulters)]
struct NewConsulter<'a> {
    email: &'a str,
    name: Option<&'a str>,
    created_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = tickets)]
struct NewTicket<'a> {
    reference: &'a str,
    subject: &'a str,
    status: &'a str,
    channel: &'a str,
    urgent: bool,
    consulter_id: i64,
    relationship: Option<&'a str>,
    age_group: Option<&'a str>,
    area: Option<&'a str>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    queue_due_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = messages)]
pub struct NewMessage<'a> {
    pub ticket_id: i64,
    pub kind: &'a str,
    pub author_id: Option<i64>,
    pub subject: Option<&'a str>,
    pub body_text: &'a str,
    pub rfc_message_id: Option<&'a str>,
    pub in_reply_to: Option<&'a str>,
    pub references_header: Option<&'a str>,
    pub from_address: Option<&'a str>,
    pub automatic: bool,
    pub raw_mime: Option<&'a [u8]>,
    pub system_note: Option<&'a str>,
    pub created_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = reply_clocks)]
struct NewClock {
    ticket_id: i64,
    started_at: NaiveDateTime,
    due_at: NaiveDateTime,
    started_by_message_id: Option<i64>,
}

/// A new consultation, from the form or a first mail.
pub struct OpenTicket<'a> {
    pub reference: &'a str,
    pub subject: &'a str,
    /// `web_form` or `email`.
    pub channel: &'a str,
    pub consulter_email: &'a str,
    pub consulter_name: Option<&'a str>,
    pub relationship: Option<&'a str>,
    pub age_group: Option<&'a str>,
    pub area: Option<&'a str>,
    pub urgent: bool,
    pub received_at: DateTime<Utc>,
}

pub struct OpenedTicket {
    pub ticket_id: TicketId,
    pub consulter_id: i64,
}

/// Finds the consulter by address or adds them. A savepoint keeps a concurrent insert of the
/// same address (a unique violation) from spoiling the caller's transaction.
pub fn consulter_for(
    conn: &mut DbConn,
    email: &str,
    name: Option<&str>,
    now: DateTime<Utc>,
) -> Result<i64, DbError> {
    let found = consulters::table
        .filter(consulters::email.eq(email))
        .select((consulters::id, consulters::name))
        .first::<(i64, Option<String>)>(conn)
        .optional()?;
    if let Some((id, known_name)) = found {
        if name.is_some() && known_name.as_deref() != name {
            diesel::update(consulters::table.find(id))
                .set(consulters::name.eq(name))
                .execute(conn)?;
        }
        return Ok(id);
    }
    let inserted = conn.transaction(|c| {
        diesel::insert_into(consulters::table)
            .values(NewConsulter {
                email,
                name,
                created_at: to_db(now),
            })
            .returning(consulters::id)
            .get_result::<i64>(c)
    });
    match inserted {
        Ok(id) => Ok(id),
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Ok(consulters::table
            .filter(consulters::email.eq(email))
            .select(consulters::id)
            .first(conn)?),
        Err(e) => Err(e.into()),
    }
}

/// Opens a ticket with its consulter. The caller adds the first message with [`add_message`]
/// and starts its clock with [`start_clock`], all in the caller's transaction.
pub fn open(conn: &mut DbConn, t: &OpenTicket<'_>) -> Result<OpenedTicket, DbError> {
    let consulter_id = consulter_for(conn, t.consulter_email, t.consulter_name, t.received_at)?;
    let now = to_db(t.received_at);
    let ticket_id = diesel::insert_into(tickets::table)
        .values(NewTicket {
            reference: t.reference,
            subject: t.subject,
            status: "new",
            channel: t.channel,
            urgent: t.urgent,
            consulter_id,
            relationship: t.relationship,
            age_group: t.age_group,
            area: t.area,
            created_at: now,
            updated_at: now,
            queue_due_at: no_clock(),
        })
        .returning(tickets::id)
        .get_result::<i64>(conn)?;
    Ok(OpenedTicket {
        ticket_id: TicketId(ticket_id),
        consulter_id,
    })
}

pub fn add_message(conn: &mut DbConn, m: &NewMessage<'_>) -> Result<MessageId, DbError> {
    Ok(MessageId(
        diesel::insert_into(messages::table)
            .values(m)
            .returning(messages::id)
            .get_result::<i64>(conn)?,
    ))
}

/// Starts a reply clock on a ticket that has none running.
pub fn start_clock(
    conn: &mut DbConn,
    ticket: TicketId,
    started_at: DateTime<Utc>,
    due_at: DateTime<Utc>,
    by_message: MessageId,
) -> Result<(), DbError> {
    diesel::insert_into(reply_clocks::table)
        .values(NewClock {
            ticket_id: ticket.0,
            started_at: to_db(started_at),
            due_at: to_db(due_at),
            started_by_message_id: Some(by_message.0),
        })
        .execute(conn)?;
    diesel::update(tickets::table.find(ticket.0))
        .set((
            tickets::clock_started_at.eq(Some(to_db(started_at))),
            tickets::reply_due_at.eq(Some(to_db(due_at))),
            tickets::queue_due_at.eq(to_db(due_at)),
        ))
        .execute(conn)?;
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
pub fn stop_clock(
    conn: &mut DbConn,
    ticket: TicketId,
    at: DateTime<Utc>,
    by_staff: i64,
    by_message: Option<MessageId>,
) -> Result<bool, DbError> {
    let stopped = diesel::update(
        reply_clocks::table
            .filter(reply_clocks::ticket_id.eq(ticket.0))
            .filter(reply_clocks::stopped_at.is_null()),
    )
    .set((
        reply_clocks::stopped_at.eq(Some(to_db(at))),
        reply_clocks::stopped_by_staff_id.eq(Some(by_staff)),
        reply_clocks::stopped_by_message_id.eq(by_message.map(|m| m.0)),
    ))
    .execute(conn)?;
    diesel::update(tickets::table.find(ticket.0))
        .set((
            tickets::clock_started_at.eq(None::<NaiveDateTime>),
            tickets::reply_due_at.eq(None::<NaiveDateTime>),
            tickets::queue_due_at.eq(no_clock()),
        ))
        .execute(conn)?;
    Ok(stopped > 0)
}

pub fn reference_exists(conn: &mut DbConn, reference: &str) -> Result<bool, DbError> {
    Ok(diesel::select(diesel::dsl::exists(
        tickets::table.filter(tickets::reference.eq(reference)),
    ))
    .get_result(conn)?)
}

/// What the receipt and tests need to see of a stored ticket.
#[derive(Debug, Queryable)]
pub struct TicketRow {
    pub id: i64,
    pub reference: String,
    pub subject: String,
    pub status: String,
    pub channel: String,
    pub urgent: bool,
    pub assignee_id: Option<i64>,
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

/// Changes made by staff; `None` leaves a field as it is.
pub fn update(
    conn: &mut DbConn,
    ticket: TicketId,
    status: Option<&str>,
    urgent: Option<bool>,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let target = tickets::table.find(ticket.0);
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
    Ok(())
}

pub fn assign(
    conn: &mut DbConn,
    ticket: TicketId,
    assignee: Option<i64>,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    diesel::update(tickets::table.find(ticket.0))
        .set((
            tickets::assignee_id.eq(assignee),
            tickets::updated_at.eq(to_db(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// The consulter's newest message after `seen`, for the reply collision guard.
pub fn inbound_after(
    conn: &mut DbConn,
    ticket: TicketId,
    seen: i64,
) -> Result<Option<(i64, String, NaiveDateTime)>, DbError> {
    Ok(messages::table
        .filter(messages::ticket_id.eq(ticket.0))
        .filter(messages::kind.eq("inbound"))
        .filter(messages::id.gt(seen))
        .order(messages::id.desc())
        .select((messages::id, messages::body_text, messages::created_at))
        .first(conn)
        .optional()?)
}
