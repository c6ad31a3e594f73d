//! Drafts of replies, kept on the server per ticket and person: saved by a button or, where
//! script runs, every few seconds; shown again in the reply field; gone once the reply is sent.

use chrono::{DateTime, Utc};

use super::{Actor, DeskError, audit};
use crate::db::{DbConn, drafts, from_db, queue, write_tx};
use crate::domain::vocabulary::TicketId;
use crate::state::AppState;

const MAX_TEXT: usize = 20_000;

pub struct Draft {
    pub body: String,
    pub saved_at: DateTime<Utc>,
}

/// Keeps the reply being written; an empty one removes the draft. Audited without the text.
pub fn save(
    state: &AppState,
    conn: &mut DbConn,
    actor: &Actor,
    ticket: TicketId,
    body: &str,
) -> Result<(), DeskError> {
    if body.chars().count() > MAX_TEXT {
        return Err(DeskError::Invalid(vec![("body", "too_long")]));
    }
    let now = state.time.now();
    write_tx(conn, |conn| {
        queue::ticket(conn, ticket)?.ok_or(DeskError::NotFound("ticket"))?;
        if body.trim().is_empty() {
            drafts::discard(conn, ticket, actor.staff_id)?;
        } else {
            drafts::save(conn, ticket, actor.staff_id, body, now)?;
        }
        audit(conn, actor, now, "ticket.draft", Some(ticket), None, None)?;
        Ok(())
    })
}

/// The person's own draft on the ticket, if one is kept.
pub fn mine(
    conn: &mut DbConn,
    actor: &Actor,
    ticket: TicketId,
) -> Result<Option<Draft>, DeskError> {
    Ok(
        drafts::of(conn, ticket, actor.staff_id)?.map(|(body, at)| Draft {
            body,
            saved_at: from_db(at),
        }),
    )
}
