//! The consulters table: one row per address that wrote to the centre. The name kept here is
//! the first one given; each ticket keeps the name given with it (`tickets.consulter_name`),
//! so a later submission from the same address never renames the person on earlier tickets.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::schema::consulters;
use super::{DbConn, DbError, to_db};
use crate::domain::vocabulary::ConsulterId;

#[derive(Insertable)]
#[diesel(table_name = consulters)]
struct NewConsulter<'a> {
    email: &'a str,
    name: Option<&'a str>,
    created_at: NaiveDateTime,
}

/// Finds the consulter by address or adds them. A savepoint keeps a concurrent insert of the
/// same address (a unique violation) from spoiling the caller's transaction. A known
/// consulter's row is never changed: anyone can write with anyone's address.
pub fn find_or_add(
    conn: &mut DbConn,
    email: &str,
    name: Option<&str>,
    now: DateTime<Utc>,
) -> Result<ConsulterId, DbError> {
    let found: Option<ConsulterId> = consulters::table
        .filter(consulters::email.eq(email))
        .select(consulters::id)
        .first(conn)
        .optional()?;
    if let Some(known) = found {
        return Ok(known);
    }
    let inserted = conn.transaction(|c| {
        diesel::insert_into(consulters::table)
            .values(NewConsulter {
                email,
                name,
                created_at: to_db(now),
            })
            .returning(consulters::id)
            .get_result(c)
    });
    match inserted {
        Ok(id) => Ok(id),
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Ok(consulters::table
            .filter(consulters::email.eq(email))
            .select(consulters::id)
            .first(conn)?),
        Err(e) => Err(e.into()),
    }
}
