//! The consulters table: one row per address that wrote to the centre.

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

#[derive(Queryable)]
struct Known {
    id: ConsulterId,
    name: Option<String>,
}

/// Finds the consulter by address or adds them. A savepoint keeps a concurrent insert of the
/// same address (a unique violation) from spoiling the caller's transaction.
pub fn find_or_add(
    conn: &mut DbConn,
    email: &str,
    name: Option<&str>,
    now: DateTime<Utc>,
) -> Result<ConsulterId, DbError> {
    let found: Option<Known> = consulters::table
        .filter(consulters::email.eq(email))
        .select((consulters::id, consulters::name))
        .first(conn)
        .optional()?;
    if let Some(known) = found {
        if name.is_some() && known.name.as_deref() != name {
            diesel::update(consulters::table.find(known.id))
                .set(consulters::name.eq(name))
                .execute(conn)?;
        }
        return Ok(known.id);
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
