//! Staff accounts.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::staff;
use super::{DbConn, DbError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct StaffId(pub i64);

#[derive(Insertable)]
#[diesel(table_name = staff)]
pub struct NewStaff<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub role: &'a str,
    pub password_hash: &'a str,
    pub active: bool,
    pub created_at: NaiveDateTime,
}

pub fn create(conn: &mut DbConn, new: &NewStaff<'_>) -> Result<StaffId, DbError> {
    Ok(StaffId(
        diesel::insert_into(staff::table)
            .values(new)
            .returning(staff::id)
            .get_result(conn)?,
    ))
}

pub fn count_active(conn: &mut DbConn) -> Result<i64, DbError> {
    Ok(staff::table
        .filter(staff::active.eq(true))
        .count()
        .get_result(conn)?)
}

/// Active staff of one role, for alerts: (id, email, name).
pub fn active_with_role(
    conn: &mut DbConn,
    role: &str,
) -> Result<Vec<(i64, String, String)>, DbError> {
    Ok(staff::table
        .filter(staff::active.eq(true))
        .filter(staff::role.eq(role))
        .order(staff::id)
        .select((staff::id, staff::email, staff::name))
        .load(conn)?)
}

#[derive(Debug, Clone, Queryable)]
pub struct StaffListRow {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: String,
    pub active: bool,
    pub created_at: NaiveDateTime,
}

pub fn list(conn: &mut DbConn) -> Result<Vec<StaffListRow>, DbError> {
    Ok(staff::table
        .order(staff::id)
        .select((
            staff::id,
            staff::email,
            staff::name,
            staff::role,
            staff::active,
            staff::created_at,
        ))
        .load(conn)?)
}

/// Returns false when there is no such account.
pub fn set_active(
    conn: &mut DbConn,
    id: i64,
    active: bool,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<bool, DbError> {
    let deactivated_at = (!active).then(|| super::to_db(now));
    Ok(diesel::update(staff::table.find(id))
        .set((
            staff::active.eq(active),
            staff::deactivated_at.eq(deactivated_at),
        ))
        .execute(conn)?
        > 0)
}

pub fn set_password(conn: &mut DbConn, id: i64, password_hash: &str) -> Result<bool, DbError> {
    Ok(diesel::update(staff::table.find(id))
        .set(staff::password_hash.eq(password_hash))
        .execute(conn)?
        > 0)
}

/// Ends every sign-in of an account (deactivation, password reset).
pub fn revoke_sessions(
    conn: &mut DbConn,
    id: i64,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), DbError> {
    use super::schema::sessions;
    diesel::update(
        sessions::table
            .filter(sessions::staff_id.eq(id))
            .filter(sessions::revoked_at.is_null()),
    )
    .set(sessions::revoked_at.eq(Some(super::to_db(now))))
    .execute(conn)?;
    Ok(())
}
