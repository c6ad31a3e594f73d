//! The triage_flags table: urgent-risk flags on tickets and what staff decided about them.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::schema::{tickets, triage_flags};
use super::{DbConn, DbError, to_db};
use crate::domain::vocabulary::{MessageId, StaffId, TicketId};

pub fn cleared_before(
    conn: &mut DbConn,
    ticket_id: TicketId,
    text_hash: &str,
) -> Result<bool, DbError> {
    Ok(diesel::select(diesel::dsl::exists(
        triage_flags::table
            .filter(triage_flags::ticket_id.eq(ticket_id))
            .filter(triage_flags::text_hash.eq(text_hash))
            .filter(triage_flags::state.eq("cleared")),
    ))
    .get_result(conn)?)
}

/// Records a flag and marks the ticket urgent, adding the categories to those it had.
pub fn flag(
    conn: &mut DbConn,
    ticket_id: TicketId,
    message_id: MessageId,
    categories: &[&str],
    text_hash: &str,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    record(conn, ticket_id, message_id, categories, text_hash, now)?;
    let (urgent, known): (bool, Option<String>) = tickets::table
        .find(ticket_id)
        .select((tickets::urgent, tickets::urgent_reasons))
        .first(conn)?;
    let reasons = reasons_with(known.as_deref(), categories);
    // A ticket opened urgent by this very message has them already: the row stays as it is.
    if urgent && known.as_deref() == Some(reasons.as_str()) {
        return Ok(());
    }
    diesel::update(tickets::table.find(ticket_id))
        .set((
            tickets::urgent.eq(true),
            tickets::urgent_reasons.eq(Some(reasons)),
            tickets::updated_at.eq(to_db(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Records a flag only: for a ticket inserted urgent with these categories as its reasons.
pub fn record(
    conn: &mut DbConn,
    ticket_id: TicketId,
    message_id: MessageId,
    categories: &[&str],
    text_hash: &str,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    diesel::insert_into(triage_flags::table)
        .values((
            triage_flags::ticket_id.eq(ticket_id),
            triage_flags::message_id.eq(message_id),
            triage_flags::categories.eq(categories.join(",")),
            triage_flags::text_hash.eq(text_hash),
            triage_flags::state.eq("flagged"),
            triage_flags::created_at.eq(to_db(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// A ticket's urgent reasons (comma-separated) with `categories` added, each once, in the
/// order they came.
pub fn reasons_with(known: Option<&str>, categories: &[&str]) -> String {
    let mut reasons: Vec<&str> = known
        .unwrap_or("")
        .split(',')
        .filter(|r| !r.is_empty())
        .collect();
    for c in categories {
        if !reasons.contains(c) {
            reasons.push(c);
        }
    }
    reasons.join(",")
}

/// Staff decide on the open flags of a ticket. Clearing also takes the urgency away.
pub fn decide(
    conn: &mut DbConn,
    ticket_id: TicketId,
    clear: bool,
    staff_id: StaffId,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<usize, DbError> {
    let state = if clear { "cleared" } else { "confirmed" };
    let changed = diesel::update(
        triage_flags::table
            .filter(triage_flags::ticket_id.eq(ticket_id))
            .filter(triage_flags::state.ne("cleared")),
    )
    .set((
        triage_flags::state.eq(state),
        triage_flags::decided_by.eq(Some(staff_id)),
        triage_flags::decision_reason.eq(Some(reason)),
        triage_flags::decided_at.eq(Some(to_db(now))),
    ))
    .execute(conn)?;
    if clear {
        diesel::update(tickets::table.find(ticket_id))
            .set((
                tickets::urgent.eq(false),
                tickets::urgent_reasons.eq(None::<String>),
                tickets::updated_at.eq(to_db(now)),
            ))
            .execute(conn)?;
    }
    Ok(changed)
}

#[derive(Debug, Clone, Queryable)]
pub struct FlagRow {
    pub ticket_id: TicketId,
    pub reference: String,
    pub categories: String,
    pub state: String,
    pub flagged_at: NaiveDateTime,
}

/// Flags raised in `[from, to)`, oldest first.
pub fn flags_between(
    conn: &mut DbConn,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<FlagRow>, DbError> {
    Ok(triage_flags::table
        .inner_join(tickets::table)
        .filter(triage_flags::created_at.ge(to_db(from)))
        .filter(triage_flags::created_at.lt(to_db(to)))
        .order(triage_flags::id)
        .select((
            triage_flags::ticket_id,
            tickets::reference,
            triage_flags::categories,
            triage_flags::state,
            triage_flags::created_at,
        ))
        .load(conn)?)
}

/// Retention: staff's reasons may quote the consulter, and the text's hash could confirm a
/// guess of it; the categories, state and times stay (the urgent report counts them).
pub fn erase_of_ticket(conn: &mut DbConn, ticket: TicketId) -> Result<usize, DbError> {
    Ok(
        diesel::update(triage_flags::table.filter(triage_flags::ticket_id.eq(ticket)))
            .set((
                triage_flags::decision_reason.eq(None::<String>),
                triage_flags::text_hash.eq(""),
            ))
            .execute(conn)?,
    )
}
