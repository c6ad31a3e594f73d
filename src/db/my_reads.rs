//! The my_reads table: each time a consulter read their thread on the page, kept for their
//! own history (and for staff to see whether the latest reply was read), not in the audit.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::schema::my_reads;
use super::{DbConn, DbError, to_db};
use crate::domain::vocabulary::{MessageId, MySessionId, TicketId};

pub fn record(
    conn: &mut DbConn,
    ticket: TicketId,
    session: MySessionId,
    last_message: Option<MessageId>,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    diesel::insert_into(my_reads::table)
        .values((
            my_reads::ticket_id.eq(ticket),
            my_reads::session_id.eq(session),
            my_reads::last_message_id.eq(last_message),
            my_reads::at.eq(to_db(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// What the reads of a ticket add up to.
#[derive(Debug, Clone, Default)]
pub struct ReadsSoFar {
    pub count: i64,
    pub last_at: Option<NaiveDateTime>,
    /// The newest message any read showed.
    pub newest_seen: Option<MessageId>,
}

pub fn so_far(conn: &mut DbConn, ticket: TicketId) -> Result<ReadsSoFar, DbError> {
    let (count, last_at, newest_seen): (i64, Option<NaiveDateTime>, Option<MessageId>) =
        my_reads::table
            .filter(my_reads::ticket_id.eq(ticket))
            .select((
                diesel::dsl::count_star(),
                diesel::dsl::max(my_reads::at),
                diesel::dsl::max(my_reads::last_message_id),
            ))
            .first(conn)?;
    Ok(ReadsSoFar {
        count,
        last_at,
        newest_seen,
    })
}
