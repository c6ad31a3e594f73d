//! The my_sessions table: consulters signed in on their own page, found by the hash of their
//! token. Apart from staff sessions, so a consulter's token can never stand for staff.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::schema::my_sessions;
use super::{DbConn, DbError, to_db};
use crate::domain::vocabulary::{MySessionId, TicketId};

pub fn create(
    conn: &mut DbConn,
    ticket: TicketId,
    token_hash: &str,
    now: DateTime<Utc>,
) -> Result<MySessionId, DbError> {
    Ok(diesel::insert_into(my_sessions::table)
        .values((
            my_sessions::ticket_id.eq(ticket),
            my_sessions::token_hash.eq(token_hash),
            my_sessions::created_at.eq(to_db(now)),
            my_sessions::last_seen_at.eq(to_db(now)),
        ))
        .returning(my_sessions::id)
        .get_result(conn)?)
}

#[derive(Debug, Clone, Queryable)]
pub struct MySessionRow {
    pub id: MySessionId,
    pub ticket_id: TicketId,
    pub created_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
}

/// The session for a token hash, revoked or not; the caller judges.
pub fn by_token(conn: &mut DbConn, token_hash: &str) -> Result<Option<MySessionRow>, DbError> {
    Ok(my_sessions::table
        .filter(my_sessions::token_hash.eq(token_hash))
        .select((
            my_sessions::id,
            my_sessions::ticket_id,
            my_sessions::created_at,
            my_sessions::last_seen_at,
            my_sessions::revoked_at,
        ))
        .first(conn)
        .optional()?)
}

pub fn touch(conn: &mut DbConn, id: MySessionId, now: DateTime<Utc>) -> Result<(), DbError> {
    diesel::update(my_sessions::table.find(id))
        .set(my_sessions::last_seen_at.eq(to_db(now)))
        .execute(conn)?;
    Ok(())
}

pub fn revoke(conn: &mut DbConn, id: MySessionId, now: DateTime<Utc>) -> Result<(), DbError> {
    diesel::update(my_sessions::table.find(id))
        .set(my_sessions::revoked_at.eq(Some(to_db(now))))
        .execute(conn)?;
    Ok(())
}

/// Ends every page sign-in of a ticket (page access ended by staff).
pub fn revoke_all_of(
    conn: &mut DbConn,
    ticket: TicketId,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    diesel::update(
        my_sessions::table
            .filter(my_sessions::ticket_id.eq(ticket))
            .filter(my_sessions::revoked_at.is_null()),
    )
    .set(my_sessions::revoked_at.eq(Some(to_db(now))))
    .execute(conn)?;
    Ok(())
}
