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

/// The advisory lock that makes counting and recording a sign-in one step on PostgreSQL. Its
/// own key: it once shared the IMAP poller's ([`super::leader::IMAP_POLLER`]), which the
/// leading instance holds for as long as it runs, so with IMAP on no sign-in ever finished.
pub const SIGN_IN_LOCK: i64 = 7_171_003;

/// Takes a place for one sign-in attempt, counted as a failure until [`release`]d, unless
/// the account from this address or the address alone has used up its allowance since
/// `since`. Count and insert are one step (a transaction, serialised across instances), so
/// a burst of parallel attempts gets exactly the allowance and no more. Returns the place, or
/// `None` when the attempt must wait out the cooling-off.
pub fn reserve(
    conn: &mut DbConn,
    account: &str,
    client_addr: &str,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
    allowed_for_account: i64,
    allowed_for_address: i64,
) -> Result<Option<i64>, DbError> {
    super::write_tx(conn, |conn| {
        if let DbConn::Postgres(pg) = conn {
            // SQLite's write transaction already runs alone; PostgreSQL's do not.
            diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
                .bind::<diesel::sql_types::BigInt, _>(SIGN_IN_LOCK)
                .execute(pg)?;
        }
        // Failures past the window count for nothing; keep no addresses longer than needed.
        diesel::delete(login_failures::table.filter(login_failures::at.le(to_db(since))))
            .execute(conn)?;
        let failed = self::since(conn, account, client_addr, since)?;
        if failed.by_account >= allowed_for_account || failed.by_address >= allowed_for_address {
            return Ok(None);
        }
        let id = diesel::insert_into(login_failures::table)
            .values((
                login_failures::account.eq(account),
                login_failures::client_addr.eq(client_addr),
                login_failures::at.eq(to_db(now)),
            ))
            .returning(login_failures::id)
            .get_result(conn)?;
        Ok(Some(id))
    })
}

/// Gives back a place taken by [`reserve`]: the attempt succeeded, or was never judged.
pub fn release(conn: &mut DbConn, place: i64) -> Result<(), DbError> {
    diesel::delete(login_failures::table.find(place)).execute(conn)?;
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
