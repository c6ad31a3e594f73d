//! The my_access table: which consultations can be read on the consulter's own page (/my),
//! with the passphrase's hash, and whether mail to them carries only a notice.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::schema::{my_access, tickets};
use super::{DbConn, DbError, to_db};
use crate::domain::vocabulary::{StaffId, TicketId};

/// What a consultation opened with a passphrase keeps.
pub fn create(
    conn: &mut DbConn,
    ticket: TicketId,
    passphrase_hash: &str,
    notice_only: bool,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    diesel::insert_into(my_access::table)
        .values((
            my_access::ticket_id.eq(ticket),
            my_access::passphrase_hash.eq(Some(passphrase_hash)),
            my_access::notice_only.eq(notice_only),
            my_access::created_at.eq(to_db(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// A ticket's page access as staff may see it: never the hash, only whether one is kept.
#[derive(Debug, Clone, Queryable)]
pub struct AccessRow {
    pub notice_only: bool,
    pub created_at: NaiveDateTime,
    pub ended_at: Option<NaiveDateTime>,
    pub ended_by: Option<StaffId>,
}

pub fn of_ticket(conn: &mut DbConn, ticket: TicketId) -> Result<Option<AccessRow>, DbError> {
    Ok(my_access::table
        .find(ticket)
        .select((
            my_access::notice_only,
            my_access::created_at,
            my_access::ended_at,
            my_access::ended_by,
        ))
        .first(conn)
        .optional()?)
}

/// Whether mail to this ticket's consulter must carry only a notice.
pub fn notice_only(conn: &mut DbConn, ticket: TicketId) -> Result<bool, DbError> {
    Ok(of_ticket(conn, ticket)?.is_some_and(|a| a.notice_only))
}

/// The ticket a reference names and the hash its page opens with; `None` for an unknown
/// reference, a hash of `None` when the consultation has no (or no longer a) passphrase.
pub fn for_reference(
    conn: &mut DbConn,
    reference: &str,
) -> Result<Option<(TicketId, Option<String>)>, DbError> {
    Ok(tickets::table
        .left_join(my_access::table)
        .filter(tickets::reference.eq(reference))
        .select((tickets::id, my_access::passphrase_hash.nullable()))
        .first::<(TicketId, Option<String>)>(conn)
        .optional()?)
}

/// Whether the page can still be opened for this ticket.
pub fn is_open(conn: &mut DbConn, ticket: TicketId) -> Result<bool, DbError> {
    Ok(diesel::select(diesel::dsl::exists(
        my_access::table
            .filter(my_access::ticket_id.eq(ticket))
            .filter(my_access::ended_at.is_null()),
    ))
    .get_result(conn)?)
}

/// Ends page access: the hash is forgotten, so the passphrase can never open it again.
/// Returns false when it had ended already (or never was).
pub fn end(
    conn: &mut DbConn,
    ticket: TicketId,
    by: StaffId,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let changed = diesel::update(
        my_access::table
            .filter(my_access::ticket_id.eq(ticket))
            .filter(my_access::ended_at.is_null()),
    )
    .set((
        my_access::passphrase_hash.eq(None::<String>),
        my_access::ended_at.eq(Some(to_db(now))),
        my_access::ended_by.eq(Some(by)),
    ))
    .execute(conn)?;
    Ok(changed > 0)
}

/// Retention: the page's passphrase hash is forgotten (the page can never open again); the row
/// stays, with its times and the notice-only choice, which name nobody.
pub fn erase_of_ticket(conn: &mut DbConn, ticket: TicketId) -> Result<usize, DbError> {
    Ok(
        diesel::update(my_access::table.filter(my_access::ticket_id.eq(ticket)))
            .set(my_access::passphrase_hash.eq(None::<String>))
            .execute(conn)?,
    )
}
