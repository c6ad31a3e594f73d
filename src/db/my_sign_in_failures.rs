//! The my_sign_in_failures table: failed sign-ins on the consulter's page, counted for
//! throttling as staff sign-ins are (db/login_failures.rs): a place is reserved before the
//! check and given back when it succeeds.
//!
//! Unlike staff accounts, a reference is counted from every address: a reference is short
//! and read out on the phone, and guesses from many addresses must not add up unchecked. Its
//! owner waits out a cooling-off at worst, and can always call.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::schema::my_sign_in_failures as failures;
use super::{DbConn, DbError, to_db};

/// Its own advisory key: counting and recording are one step on PostgreSQL.
pub const MY_SIGN_IN_LOCK: i64 = 7_171_011;

/// Takes a place for one attempt, counted as a failure until [`release`]d, unless the
/// reference or the address has used up its allowance since `since`. `None`: cool off.
pub fn reserve(
    conn: &mut DbConn,
    reference: &str,
    client_addr: &str,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
    allowed_for_reference: i64,
    allowed_for_address: i64,
) -> Result<Option<i64>, DbError> {
    super::write_tx(conn, |conn| {
        if let DbConn::Postgres(pg) = conn {
            diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
                .bind::<diesel::sql_types::BigInt, _>(MY_SIGN_IN_LOCK)
                .execute(pg)?;
        }
        let since = to_db(since);
        // Failures past the window count for nothing; keep no addresses longer than needed.
        diesel::delete(failures::table.filter(failures::at.le(since))).execute(conn)?;
        let by_reference: i64 = failures::table
            .filter(failures::reference.eq(reference))
            .filter(failures::at.gt(since))
            .count()
            .get_result(conn)?;
        let by_address: i64 = failures::table
            .filter(failures::client_addr.eq(client_addr))
            .filter(failures::at.gt(since))
            .count()
            .get_result(conn)?;
        if by_reference >= allowed_for_reference || by_address >= allowed_for_address {
            return Ok(None);
        }
        let id = diesel::insert_into(failures::table)
            .values((
                failures::reference.eq(reference),
                failures::client_addr.eq(client_addr),
                failures::at.eq(to_db(now)),
            ))
            .returning(failures::id)
            .get_result(conn)?;
        Ok(Some(id))
    })
}

/// Gives back a place: the attempt succeeded, or was never judged.
pub fn release(conn: &mut DbConn, place: i64) -> Result<(), DbError> {
    diesel::delete(failures::table.find(place)).execute(conn)?;
    Ok(())
}

/// Forgets the reference's failures, after its owner opened the page.
pub fn clear(conn: &mut DbConn, reference: &str) -> Result<(), DbError> {
    diesel::delete(failures::table.filter(failures::reference.eq(reference))).execute(conn)?;
    Ok(())
}
