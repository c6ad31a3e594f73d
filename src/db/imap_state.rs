//! The imap_state table: per mailbox, the UIDVALIDITY and the last UID taken, so the poller
//! resumes where it stopped.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::schema::imap_state;
use super::{DbConn, DbError, to_db};

/// (UIDVALIDITY, last UID taken) of a mailbox, if it was polled before.
pub fn imap_position(conn: &mut DbConn, mailbox: &str) -> Result<Option<(i64, i64)>, DbError> {
    Ok(imap_state::table
        .find(mailbox)
        .select((imap_state::uidvalidity, imap_state::last_uid))
        .first(conn)
        .optional()?)
}

pub fn set_imap_position(
    conn: &mut DbConn,
    mailbox: &str,
    uidvalidity: i64,
    last_uid: i64,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let updated = diesel::update(imap_state::table.find(mailbox))
        .set((
            imap_state::uidvalidity.eq(uidvalidity),
            imap_state::last_uid.eq(last_uid),
            imap_state::updated_at.eq(to_db(now)),
        ))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(imap_state::table)
            .values((
                imap_state::mailbox.eq(mailbox),
                imap_state::uidvalidity.eq(uidvalidity),
                imap_state::last_uid.eq(last_uid),
                imap_state::updated_at.eq(to_db(now)),
            ))
            .execute(conn)?;
    }
    Ok(())
}
