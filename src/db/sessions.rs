//! The sessions table: staff sign-ins, found by the hash of their token.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::schema::{sessions, staff};
use super::staff::{StaffRow, staff_columns};
use super::{DbConn, DbError, to_db};
use crate::domain::vocabulary::{SessionId, StaffId};

pub fn create(
    conn: &mut DbConn,
    staff_id: StaffId,
    token_hash: &str,
    now: DateTime<Utc>,
    client_addr: &str,
) -> Result<(), DbError> {
    diesel::insert_into(sessions::table)
        .values((
            sessions::staff_id.eq(staff_id),
            sessions::token_hash.eq(token_hash),
            sessions::created_at.eq(to_db(now)),
            sessions::last_seen_at.eq(to_db(now)),
            sessions::client_addr.eq(Some(client_addr)),
        ))
        .execute(conn)?;
    Ok(())
}

#[derive(Debug, Clone, Queryable)]
pub struct SessionRow {
    pub id: SessionId,
    pub created_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
}

/// A session with the account it belongs to.
#[derive(Debug, Clone)]
pub struct SignIn {
    pub session: SessionRow,
    pub staff: StaffRow,
}

/// The session and its staff member for a token hash, revoked or not; the caller judges.
pub fn by_token(conn: &mut DbConn, token_hash: &str) -> Result<Option<SignIn>, DbError> {
    let found: Option<(SessionRow, StaffRow)> = sessions::table
        .inner_join(staff::table)
        .filter(sessions::token_hash.eq(token_hash))
        .select((
            (
                sessions::id,
                sessions::created_at,
                sessions::last_seen_at,
                sessions::revoked_at,
            ),
            staff_columns(),
        ))
        .first(conn)
        .optional()?;
    Ok(found.map(|(session, staff)| SignIn { session, staff }))
}

pub fn touch(conn: &mut DbConn, id: SessionId, now: DateTime<Utc>) -> Result<(), DbError> {
    diesel::update(sessions::table.find(id))
        .set(sessions::last_seen_at.eq(to_db(now)))
        .execute(conn)?;
    Ok(())
}

pub fn revoke(conn: &mut DbConn, id: SessionId, now: DateTime<Utc>) -> Result<(), DbError> {
    diesel::update(sessions::table.find(id))
        .set(sessions::revoked_at.eq(Some(to_db(now))))
        .execute(conn)?;
    Ok(())
}

/// Ends every sign-in of an account (deactivation, password reset).
pub fn revoke_all_of(
    conn: &mut DbConn,
    staff_id: StaffId,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    diesel::update(
        sessions::table
            .filter(sessions::staff_id.eq(staff_id))
            .filter(sessions::revoked_at.is_null()),
    )
    .set(sessions::revoked_at.eq(Some(to_db(now))))
    .execute(conn)?;
    Ok(())
}
