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
