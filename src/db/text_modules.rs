//! The text_modules table: 定型文 for replies.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::schema::text_modules;
use super::{DbConn, DbError, to_db};
use crate::domain::vocabulary::StaffId;

#[derive(Debug, Clone, Queryable)]
pub struct TextModuleRow {
    pub id: i64,
    pub title: String,
    pub body: String,
}

/// Every module, by title (as the 定型文 select lists them).
pub fn list(conn: &mut DbConn) -> Result<Vec<TextModuleRow>, DbError> {
    Ok(text_modules::table
        .order((text_modules::title, text_modules::id))
        .select((text_modules::id, text_modules::title, text_modules::body))
        .load(conn)?)
}

pub fn get(conn: &mut DbConn, id: i64) -> Result<Option<TextModuleRow>, DbError> {
    Ok(text_modules::table
        .find(id)
        .select((text_modules::id, text_modules::title, text_modules::body))
        .first(conn)
        .optional()?)
}

pub fn create(
    conn: &mut DbConn,
    title: &str,
    body: &str,
    by: StaffId,
    now: DateTime<Utc>,
) -> Result<i64, DbError> {
    Ok(diesel::insert_into(text_modules::table)
        .values((
            text_modules::title.eq(title),
            text_modules::body.eq(body),
            text_modules::created_by.eq(by),
            text_modules::created_at.eq(to_db(now)),
            text_modules::updated_at.eq(to_db(now)),
        ))
        .returning(text_modules::id)
        .get_result(conn)?)
}

/// Returns false when there is no such module.
pub fn update(
    conn: &mut DbConn,
    id: i64,
    title: &str,
    body: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let n = diesel::update(text_modules::table.find(id))
        .set((
            text_modules::title.eq(title),
            text_modules::body.eq(body),
            text_modules::updated_at.eq(to_db(now)),
        ))
        .execute(conn)?;
    Ok(n > 0)
}

/// Returns false when there is no such module.
pub fn delete(conn: &mut DbConn, id: i64) -> Result<bool, DbError> {
    Ok(diesel::delete(text_modules::table.find(id)).execute(conn)? > 0)
}
