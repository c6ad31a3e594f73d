//! The alerts_sent table: one-time keys, so that an alert that is not tied to a clock (the
//! daily digest) goes out once, also across restarts and several instances.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::schema::alerts_sent;
use super::{DbConn, DbError, to_db};

/// Takes a key such as `digest:2026-12-01`; false if it was taken before.
pub fn claim(conn: &mut DbConn, key: &str, now: DateTime<Utc>) -> Result<bool, DbError> {
    let inserted = conn.transaction(|c| {
        diesel::insert_into(alerts_sent::table)
            .values((
                alerts_sent::key.eq(key),
                alerts_sent::sent_at.eq(to_db(now)),
            ))
            .execute(c)
    });
    match inserted {
        Ok(_) => Ok(true),
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Whether the key was taken already (a daily job looks before it starts).
pub fn is_claimed(conn: &mut DbConn, key: &str) -> Result<bool, DbError> {
    Ok(diesel::select(diesel::dsl::exists(
        alerts_sent::table.filter(alerts_sent::key.eq(key)),
    ))
    .get_result(conn)?)
}
