//! Leadership for work that must run on one instance only (the IMAP poller): a PostgreSQL
//! session advisory lock, held on a connection of its own for as long as the instance leads.
//! When the leader dies its connection closes and PostgreSQL frees the lock, so another
//! instance's next try takes it. SQLite has one instance per file: it always leads.

use diesel::sql_types::Bool;
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl};

use super::{DbError, DbTarget};

/// What each poller locks on; other advisory locks of ours use other keys (migrations: 7171001,
/// sign-in limits: [`super::login_failures::SIGN_IN_LOCK`]).
pub const IMAP_POLLER: i64 = 7_171_002;
/// Held while the daily retention run erases (one instance at a time).
pub const RETENTION: i64 = 7_171_004;

/// Held while leading: dropping it (or losing its connection) ends the leadership.
pub struct Lease {
    conn: Option<PgConnection>,
}

#[derive(QueryableByName)]
struct Locked {
    #[diesel(sql_type = Bool)]
    locked: bool,
}

/// Tries once, without waiting: `None` while another instance leads.
pub fn try_lead(url: &str, key: i64) -> Result<Option<Lease>, DbError> {
    match DbTarget::parse(url)? {
        DbTarget::Sqlite(_) => Ok(Some(Lease { conn: None })),
        DbTarget::Postgres(url) => {
            let mut conn =
                PgConnection::establish(&url).map_err(|e| DbError::Unavailable(e.to_string()))?;
            let got: Locked = diesel::sql_query("SELECT pg_try_advisory_lock($1) AS locked")
                .bind::<diesel::sql_types::BigInt, _>(key)
                .get_result(&mut conn)?;
            Ok(got.locked.then_some(Lease { conn: Some(conn) }))
        }
    }
}

impl Lease {
    /// Whether the lock is still ours: its connection still answers.
    pub fn still_held(&mut self) -> bool {
        match &mut self.conn {
            None => true,
            Some(conn) => {
                diesel::connection::SimpleConnection::batch_execute(conn, "SELECT 1").is_ok()
            }
        }
    }
}

impl Drop for Lease {
    /// Lets go at once: closing the connection frees the lock too, but only once the server
    /// has noticed, and a round that follows at once would still find it held.
    fn drop(&mut self) {
        if let Some(conn) = &mut self.conn {
            let _ = diesel::connection::SimpleConnection::batch_execute(
                conn,
                "SELECT pg_advisory_unlock_all()",
            );
        }
    }
}
