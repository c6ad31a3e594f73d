//! Holding a reply for review (CONTRACT §8): whether a reply must wait for a supervisor,
//! and keeping it, nothing mailed, until one decides. What the supervisor then does lives
//! in `reviews`.

use chrono::{DateTime, Utc};
use minijinja::context;

use super::sending::ReplyText;
use super::{Actor, DeskError, audit};
use crate::db::messages::{self, NewMessage};
use crate::db::queue::{SummaryRow, TicketHead};
use crate::db::reviews::{self, NewReview};
use crate::db::{DbConn, drafts, staff, to_db};
use crate::domain::vocabulary::{HoldReason, MessageId, ReviewStatus, Role};
use crate::state::AppState;

/// Why this actor's reply on this ticket must wait for a supervisor, if it must. A
/// supervisor's own reply never waits.
pub fn hold_reason(
    state: &AppState,
    conn: &mut DbConn,
    actor: &Actor,
    ticket: &SummaryRow,
) -> Result<Option<HoldReason>, DeskError> {
    if actor.is_supervisor() {
        return Ok(None);
    }
    // A reply that went into review finishes there, even if the policy changed meanwhile.
    if let Some(pending) = reviews::pending_of(conn, ticket.id, actor.staff_id)? {
        return Ok(Some(pending.reason));
    }
    if staff::reviews_replies(conn, actor.staff_id)? {
        return Ok(Some(HoldReason::Counsellor));
    }
    if state.settings.review.urgent_tickets && ticket.urgent {
        return Ok(Some(HoldReason::Urgent));
    }
    Ok(None)
}

/// Holds a reply for review, in the caller's transaction. The author's reply that is held
/// on this ticket already (returned to them, or still waiting) is rewritten and goes into
/// review again, so a ticket carries one held reply per author. On an urgent ticket held
/// by `review.urgent_tickets`, the supervisors are told at once.
pub(crate) fn hold(
    state: &AppState,
    conn: &mut DbConn,
    actor: &Actor,
    head: &TicketHead,
    text: &ReplyText<'_>,
    reason: HoldReason,
    now: DateTime<Utc>,
) -> Result<MessageId, DeskError> {
    let ticket = head.summary.id;
    let (message, again) = match reviews::pending_of(conn, ticket, actor.staff_id)? {
        Some(pending) => {
            messages::set_body(conn, pending.message_id, text.body)?;
            reviews::resubmit(conn, pending.message_id, text.close, reason, now)?;
            (pending.message_id, true)
        }
        None => {
            // Kept as an internal note until approved: whatever reads the thread for the
            // consulter, or counts replies sent, never takes it for a mail that went.
            let message = messages::add(
                conn,
                &NewMessage::note(ticket, actor.staff_id, text.body, now),
            )?;
            reviews::add(
                conn,
                &NewReview {
                    message_id: message,
                    ticket_id: ticket,
                    author_id: actor.staff_id,
                    status: ReviewStatus::AwaitingReview,
                    reason,
                    close_ticket: text.close,
                    submitted_at: to_db(now),
                },
            )?;
            (message, false)
        }
    };
    // The draft of this reply has done its work.
    drafts::discard(conn, ticket, actor.staff_id)?;
    let target = format!("message:{message}");
    let detail = format!("reason={reason} close={} again={again}", text.close);
    audit(
        conn,
        actor,
        now,
        "ticket.reply_held",
        Some(ticket),
        Some(&target),
        Some(&detail),
    )?;
    if reason == HoldReason::Urgent {
        let supervisors = staff::active_with_role(conn, Role::Supervisor)?;
        let ctx = context! {
            reference => &head.summary.reference,
            author => &actor.name,
            link => state.mailer.ticket_link(ticket),
            review_link => state.mailer.review_link(message),
        };
        super::notify::queue(
            state,
            conn,
            "review_urgent",
            Some(ticket),
            &supervisors,
            ctx,
            now,
        )?;
    }
    Ok(message)
}
