//! The drafts table: one reply being written per ticket and staff member.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::schema::drafts;
use super::{DbConn, DbError, to_db};
use crate::domain::vocabulary::{StaffId, TicketId};

/// Keeps the text as the draft of this person on this ticket, replacing an earlier one.
/// Called inside a transaction: an update, or an insert when there was none.
pub fn save(
    conn: &mut DbConn,
    ticket: TicketId,
    staff: StaffId,
    body: &str,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let changed = diesel::update(
        drafts::table
            .filter(drafts::ticket_id.eq(ticket))
            .filter(drafts::staff_id.eq(staff)),
    )
    .set((
        drafts::body_text.eq(body),
        drafts::updated_at.eq(to_db(now)),
    ))
    .execute(conn)?;
    if changed == 0 {
        diesel::insert_into(drafts::table)
            .values((
                drafts::ticket_id.eq(ticket),
                drafts::staff_id.eq(staff),
                drafts::body_text.eq(body),
                drafts::updated_at.eq(to_db(now)),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// This person's draft on the ticket: its text and when it was last kept.
pub fn of(
    conn: &mut DbConn,
    ticket: TicketId,
    staff: StaffId,
) -> Result<Option<(String, NaiveDateTime)>, DbError> {
    Ok(drafts::table
        .filter(drafts::ticket_id.eq(ticket))
        .filter(drafts::staff_id.eq(staff))
        .select((drafts::body_text, drafts::updated_at))
        .first(conn)
        .optional()?)
}

pub fn discard(conn: &mut DbConn, ticket: TicketId, staff: StaffId) -> Result<(), DbError> {
    diesel::delete(
        drafts::table
            .filter(drafts::ticket_id.eq(ticket))
            .filter(drafts::staff_id.eq(staff)),
    )
    .execute(conn)?;
    Ok(())
}

/// Retention: every draft of a reply on the ticket, whoever wrote it.
pub fn discard_all(conn: &mut DbConn, ticket: TicketId) -> Result<usize, DbError> {
    Ok(diesel::delete(drafts::table.filter(drafts::ticket_id.eq(ticket))).execute(conn)?)
}
