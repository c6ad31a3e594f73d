//! What a consulter's further message does to its ticket, whichever way it came (a mail that
//! joins the thread, or a message written on their own page): it is triaged as a first
//! message is, an answered ticket opens again, and a reply clock starts when none runs.

use chrono::{DateTime, Utc};

use super::{DeskError, urgent};
use crate::db::{DbConn, clocks, tickets};
use crate::domain::clock;
use crate::domain::vocabulary::{MessageId, Status, TicketId};
use crate::state::AppState;

/// In the caller's transaction, after `message` was stored on `ticket`; `flag` is what
/// [`urgent::assess`] made of it, before the transaction (it needs no database).
pub fn consulter_wrote(
    state: &AppState,
    conn: &mut DbConn,
    ticket: TicketId,
    message: MessageId,
    flag: Option<&urgent::Flag>,
    now: DateTime<Utc>,
) -> Result<(), DeskError> {
    let target = tickets::join_target(conn, ticket)?;
    if let Some(flag) = flag {
        urgent::raise(state, conn, ticket, &target.reference, message, flag, now)?;
    }
    if matches!(target.status, Status::Waiting | Status::Closed) {
        tickets::update(conn, ticket, Some(Status::Open), None, now)?;
    }
    // A clock already running is not restarted (CONTRACT §3).
    if target.reply_due_at.is_none() {
        let due = clock::reply_due_at(&state.rules, now);
        clocks::start(conn, ticket, now, due, message)?;
    }
    Ok(())
}
