//! The staff table: counsellors' and supervisors' accounts.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::schema::staff;
use super::{DbConn, DbError, to_db};
use crate::domain::vocabulary::{Role, StaffId};

#[derive(Insertable)]
#[diesel(table_name = staff)]
pub struct NewStaff<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub role: Role,
    pub password_hash: &'a str,
    pub active: bool,
    pub created_at: NaiveDateTime,
}

pub fn create(conn: &mut DbConn, new: &NewStaff<'_>) -> Result<StaffId, DbError> {
    Ok(diesel::insert_into(staff::table)
        .values(new)
        .returning(staff::id)
        .get_result(conn)?)
}

pub fn count_active(conn: &mut DbConn) -> Result<i64, DbError> {
    Ok(staff::table
        .filter(staff::active.eq(true))
        .count()
        .get_result(conn)?)
}

/// What signing in needs to know of an account.
#[derive(Debug, Clone, Queryable)]
pub struct StaffRow {
    pub id: StaffId,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub password_hash: String,
    pub active: bool,
}

#[diesel::dsl::auto_type(no_type_alias)]
pub(super) fn staff_columns() -> _ {
    (
        staff::id,
        staff::email,
        staff::name,
        staff::role,
        staff::password_hash,
        staff::active,
    )
}

pub fn by_email(conn: &mut DbConn, email: &str) -> Result<Option<StaffRow>, DbError> {
    Ok(staff::table
        .filter(staff::email.eq(email))
        .select(staff_columns())
        .first(conn)
        .optional()?)
}

pub fn is_active(conn: &mut DbConn, id: StaffId) -> Result<bool, DbError> {
    Ok(diesel::select(diesel::dsl::exists(
        staff::table
            .filter(staff::id.eq(id))
            .filter(staff::active.eq(true)),
    ))
    .get_result(conn)?)
}

/// Where to mail a staff member.
#[derive(Debug, Clone, Queryable)]
pub struct StaffContact {
    pub id: StaffId,
    pub email: String,
    pub name: String,
    pub active: bool,
}

#[diesel::dsl::auto_type(no_type_alias)]
fn contact_columns() -> _ {
    (staff::id, staff::email, staff::name, staff::active)
}

pub fn contact(conn: &mut DbConn, id: StaffId) -> Result<Option<StaffContact>, DbError> {
    Ok(staff::table
        .find(id)
        .select(contact_columns())
        .first(conn)
        .optional()?)
}

/// Active staff of one role, oldest account first, for alerts.
pub fn active_with_role(conn: &mut DbConn, role: Role) -> Result<Vec<StaffContact>, DbError> {
    Ok(staff::table
        .filter(staff::active.eq(true))
        .filter(staff::role.eq(role))
        .order(staff::id)
        .select(contact_columns())
        .load(conn)?)
}

#[derive(Debug, Clone, Queryable)]
pub struct StaffListRow {
    pub id: StaffId,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub active: bool,
    pub created_at: NaiveDateTime,
    /// Its replies wait for a supervisor's review before they go out.
    pub review_replies: bool,
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
            staff::review_replies,
        ))
        .load(conn)?)
}

/// Returns false when there is no such account.
pub fn set_active(
    conn: &mut DbConn,
    id: StaffId,
    active: bool,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let deactivated_at = (!active).then(|| to_db(now));
    Ok(diesel::update(staff::table.find(id))
        .set((
            staff::active.eq(active),
            staff::deactivated_at.eq(deactivated_at),
        ))
        .execute(conn)?
        > 0)
}

pub fn set_password(conn: &mut DbConn, id: StaffId, password_hash: &str) -> Result<bool, DbError> {
    Ok(diesel::update(staff::table.find(id))
        .set(staff::password_hash.eq(password_hash))
        .execute(conn)?
        > 0)
}

/// Whether a supervisor requires review of this account's replies (CONTRACT §8).
pub fn reviews_replies(conn: &mut DbConn, id: StaffId) -> Result<bool, DbError> {
    Ok(staff::table
        .find(id)
        .select(staff::review_replies)
        .first(conn)
        .optional()?
        .unwrap_or(false))
}

/// The account's role, if there is such an account.
pub fn role_of(conn: &mut DbConn, id: StaffId) -> Result<Option<Role>, DbError> {
    Ok(staff::table
        .find(id)
        .select(staff::role)
        .first(conn)
        .optional()?)
}

/// Returns false when there is no such account.
pub fn set_review_replies(conn: &mut DbConn, id: StaffId, on: bool) -> Result<bool, DbError> {
    Ok(diesel::update(staff::table.find(id))
        .set(staff::review_replies.eq(on))
        .execute(conn)?
        > 0)
}
