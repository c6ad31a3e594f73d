//! The consulters table: one row per address that wrote to the centre. The name kept here is
//! the first one given; each ticket keeps the name given with it (`tickets.consulter_name`),
//! so a later submission from the same address never renames the person on earlier tickets.
//! Addresses are compared without letter case (`Hanako@…` and `hanako@…` are one person, as
//! the city's 実人数 counts them); the row keeps the address as first written.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::native::{insert_id_if_new, native};
use super::schema::consulters;
use super::{DbConn, DbError, to_db};
use crate::domain::vocabulary::ConsulterId;

#[derive(Insertable)]
#[diesel(table_name = consulters, treat_none_as_default_value = false)]
struct NewConsulter<'a> {
    email: &'a str,
    name: Option<&'a str>,
    created_at: NaiveDateTime,
}

diesel::define_sql_function! {
    /// Lower case as the backend has it (ASCII on SQLite), on the column and the address alike,
    /// matching the unique index `consulters_email_lower`.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// Finds the consulter by address (any letter case) or adds them. A known consulter's row is
/// never changed: anyone can write with anyone's address. The insert comes first and does
/// nothing when the address is known (either unique index: the address as written, or in any
/// letter case), so a new consulter costs one statement and a concurrent insert of the same
/// address waits for the other transaction instead of failing the caller's.
pub fn find_or_add(
    conn: &mut DbConn,
    email: &str,
    name: Option<&str>,
    now: DateTime<Utc>,
) -> Result<ConsulterId, DbError> {
    let insert = diesel::insert_into(consulters::table)
        .values(NewConsulter {
            email,
            name,
            created_at: to_db(now),
        })
        .on_conflict_do_nothing();
    let added: Option<ConsulterId> = insert_id_if_new!(conn, insert, consulters::id)?;
    if let Some(id) = added {
        return Ok(id);
    }
    let known = consulters::table
        .filter(lower(consulters::email).eq(lower(email)))
        .select(consulters::id);
    // No LIMIT: the address is unique, and SQLite prepares a statement with a bound LIMIT anew
    // each time it is bound.
    Ok(native!(conn, |c| known.get_result(c))?)
}

/// Takes the address and name of a consulter none of whose tickets holds personal data any
/// more; the row and its id stay, so distinct people are still counted. The address column
/// must stay unique and filled: it becomes `erased-ID`, which no mail address can be.
pub fn erase(conn: &mut DbConn, id: ConsulterId, now: DateTime<Utc>) -> Result<bool, DbError> {
    let changed = diesel::update(
        consulters::table
            .find(id)
            .filter(consulters::erased_at.is_null()),
    )
    .set((
        consulters::email.eq(format!("erased-{id}")),
        consulters::name.eq(None::<String>),
        consulters::erased_at.eq(Some(to_db(now))),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}

/// Consulters not marked erased although every ticket of theirs is: two tickets of one person
/// erased at once by two runs each saw the other still holding data.
pub fn erased_everywhere_unmarked(conn: &mut DbConn) -> Result<Vec<ConsulterId>, DbError> {
    use super::schema::tickets;
    use diesel::dsl::{exists, not};
    Ok(consulters::table
        .filter(consulters::erased_at.is_null())
        .filter(exists(
            tickets::table.filter(tickets::consulter_id.eq(consulters::id)),
        ))
        .filter(not(exists(
            tickets::table
                .filter(tickets::consulter_id.eq(consulters::id))
                .filter(tickets::erased_at.is_null()),
        )))
        .order(consulters::id)
        .select(consulters::id)
        .load(conn)?)
}
