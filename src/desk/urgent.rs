//! What an urgent-risk flag does: the ticket becomes urgent with its reasons, and every
//! supervisor is told at once by mail, with the reference and a link but never the text.

use chrono::{DateTime, Utc};
use minijinja::context;
use sha2::{Digest, Sha256};

use super::DeskError;
use crate::db::{DbConn, staff, triage_flags};
use crate::domain::triage::{self as rules, Category};
use crate::domain::vocabulary::{MessageId, Role, TicketId};
use crate::domain::{jpdate, threading};
use crate::state::AppState;

/// A consulter's message that speaks of danger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    pub categories: Vec<Category>,
    /// Of the normalised text, so the same text, once cleared, is recognised.
    pub text_hash: String,
}

/// Judges a consulter's subject and text; quoted earlier mail (often our own words) is left
/// out. The body alone identifies "the same text", since a reply's subject changes.
pub fn assess(state: &AppState, subject: &str, body: &str) -> Option<Flag> {
    let own = threading::strip_quoted(body);
    let assessment = rules::assess(&format!("{subject}\n{own}"), &state.triage);
    assessment.is_urgent().then(|| Flag {
        categories: assessment.categories,
        text_hash: crate::random::hex(&Sha256::digest(rules::normalise(&own).as_bytes())),
    })
}

/// Records the flag in the caller's transaction and queues the supervisors' alerts.
/// Returns false when the same text was cleared on this ticket before.
pub fn raise(
    state: &AppState,
    conn: &mut DbConn,
    ticket_id: TicketId,
    reference: &str,
    message_id: MessageId,
    flag: &Flag,
    now: DateTime<Utc>,
) -> Result<bool, DeskError> {
    if triage_flags::cleared_before(conn, ticket_id, &flag.text_hash)? {
        return Ok(false);
    }
    let names: Vec<&str> = flag.categories.iter().map(|c| c.as_str()).collect();
    triage_flags::flag(conn, ticket_id, message_id, &names, &flag.text_hash, now)?;
    alert(state, conn, ticket_id, reference, flag, &names, now)?;
    Ok(true)
}

/// [`raise`] for the message that opened the ticket, inserted urgent with the flag's
/// categories as its reasons: nothing was cleared on a ticket this new, and its row needs no
/// change, so neither is read.
pub fn raise_on_opening(
    state: &AppState,
    conn: &mut DbConn,
    ticket_id: TicketId,
    reference: &str,
    message_id: MessageId,
    flag: &Flag,
    now: DateTime<Utc>,
) -> Result<(), DeskError> {
    let names: Vec<&str> = flag.categories.iter().map(|c| c.as_str()).collect();
    triage_flags::record(conn, ticket_id, message_id, &names, &flag.text_hash, now)?;
    alert(state, conn, ticket_id, reference, flag, &names, now)
}

/// Queues every active supervisor's alert for the flag (`names`: its categories' names).
fn alert(
    state: &AppState,
    conn: &mut DbConn,
    ticket_id: TicketId,
    reference: &str,
    flag: &Flag,
    names: &[&str],
    now: DateTime<Utc>,
) -> Result<(), DeskError> {
    let labels: Vec<&str> = flag.categories.iter().map(|c| c.label_ja()).collect();
    let received = jpdate::datetime_ja(&now.with_timezone(&state.rules.tz));
    let supervisors = staff::active_with_role(conn, Role::Supervisor)?;
    if supervisors.is_empty() {
        tracing::warn!(
            ticket_id = ticket_id.0,
            "urgent consultation, but no active supervisor to alert"
        );
    }
    let ctx = context! {
        reference => reference,
        categories => labels.join("・"),
        received => received,
        link => state.mailer.ticket_link(ticket_id),
    };
    super::notify::queue(
        state,
        conn,
        "urgent",
        Some(ticket_id),
        &supervisors,
        ctx,
        now,
    )?;
    tracing::warn!(ticket_id = ticket_id.0, categories = ?names, "urgent consultation flagged");
    Ok(())
}
