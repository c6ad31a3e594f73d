//! The login_failures table: failed sign-ins, counted for throttling.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::schema::login_failures;
use super::{DbConn, DbError, to_db};

/// Failed sign-ins within a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failures {
    /// For this account from this address.
    pub by_account: i64,
    /// From this address, for any account.
    pub by_address: i64,
}

/// Failed sign-ins since `since`, for the account from this address and for the address.
/// Not for the account from everywhere: guesses from one address must never lock the
/// account's owner out at another (CONTRACT.md §6).
pub fn since(
    conn: &mut DbConn,
    account: &str,
    client_addr: &str,
    since: DateTime<Utc>,
) -> Result<Failures, DbError> {
    let since = to_db(since);
    let by_account = login_failures::table
        .filter(login_failures::account.eq(account))
        .filter(login_failures::client_addr.eq(client_addr))
        .filter(login_failures::at.gt(since))
        .count()
        .get_result(conn)?;
    let by_address = login_failures::table
        .filter(login_failures::client_addr.eq(client_addr))
        .filter(login_failures::at.gt(since))
        .count()
        .get_result(conn)?;
    Ok(Failures {
        by_account,
        by_address,
    })
}

pub fn record(
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

/// Forgets the account's failures from this address, after its owner signed in from it.
pub fn clear(conn: &mut DbConn, account: &str, client_addr: &str) -> Result<(), DbError> {
    diesel::delete(
        login_failures::table
            .filter(login_failures::account.eq(account))
            .filter(login_failures::client_addr.eq(client_addr)),
    )
    .execute(conn)?;
    Ok(())
}
