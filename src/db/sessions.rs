//! Sign-in: sessions (by token hash) and failed attempts for throttling.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::schema::{login_failures, sessions, staff};
use super::{DbConn, DbError, to_db};

#[derive(Debug, Clone, Queryable)]
pub struct StaffRow {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: String,
    pub password_hash: String,
    pub active: bool,
}

type StaffColumns = (
    staff::id,
    staff::email,
    staff::name,
    staff::role,
    staff::password_hash,
    staff::active,
);
const STAFF_COLUMNS: StaffColumns = (
    staff::id,
    staff::email,
    staff::name,
    staff::role,
    staff::password_hash,
    staff::active,
);

pub fn staff_by_email(conn: &mut DbConn, email: &str) -> Result<Option<StaffRow>, DbError> {
    Ok(staff::table
        .filter(staff::email.eq(email))
        .select(STAFF_COLUMNS)
        .first(conn)
        .optional()?)
}

/// Failed sign-ins since `since`, for the account and for the client address.
pub fn recent_failures(
    conn: &mut DbConn,
    account: &str,
    client_addr: &str,
    since: DateTime<Utc>,
) -> Result<(i64, i64), DbError> {
    let since = to_db(since);
    let by_account = login_failures::table
        .filter(login_failures::account.eq(account))
        .filter(login_failures::at.gt(since))
        .count()
        .get_result(conn)?;
    let by_addr = login_failures::table
        .filter(login_failures::client_addr.eq(client_addr))
        .filter(login_failures::at.gt(since))
        .count()
        .get_result(conn)?;
    Ok((by_account, by_addr))
}

pub fn record_failure(
    conn: &mut DbConn,
    account: &str,
    client_addr: &str,
    at: DateTime<Utc>,
) -> Result<(), DbError> {
    diesel::insert_into(login_failures::table)
        .values((
            login_failures::account.eq(account),
            login_failures::client_addr.eq(client_addr),
            login_failures::at.eq(to_db(at)),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn clear_failures(conn: &mut DbConn, account: &str) -> Result<(), DbError> {
    diesel::delete(login_failures::table.filter(login_failures::account.eq(account)))
        .execute(conn)?;
    Ok(())
}

pub fn create(
    conn: &mut DbConn,
    staff_id: i64,
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
    pub id: i64,
    pub last_seen_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
}

/// The session and its staff member for a token hash, revoked or not; the caller judges.
pub fn by_token(
    conn: &mut DbConn,
    token_hash: &str,
) -> Result<Option<(SessionRow, StaffRow)>, DbError> {
    Ok(sessions::table
        .inner_join(staff::table)
        .filter(sessions::token_hash.eq(token_hash))
        .select((
            (sessions::id, sessions::last_seen_at, sessions::revoked_at),
            STAFF_COLUMNS,
        ))
        .first(conn)
        .optional()?)
}

pub fn touch(conn: &mut DbConn, session_id: i64, now: DateTime<Utc>) -> Result<(), DbError> {
    diesel::update(sessions::table.find(session_id))
        .set(sessions::last_seen_at.eq(to_db(now)))
        .execute(conn)?;
    Ok(())
}

pub fn revoke(conn: &mut DbConn, session_id: i64, now: DateTime<Utc>) -> Result<(), DbError> {
    diesel::update(sessions::table.find(session_id))
        .set(sessions::revoked_at.eq(Some(to_db(now))))
        .execute(conn)?;
    Ok(())
}

pub fn staff_is_active(conn: &mut DbConn, staff_id: i64) -> Result<bool, DbError> {
    Ok(diesel::select(diesel::dsl::exists(
        staff::table
            .filter(staff::id.eq(staff_id))
            .filter(staff::active.eq(true)),
    ))
    .get_result(conn)?)
}
