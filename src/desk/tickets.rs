//! What staff do to a ticket. Each action is one transaction that also writes its audit
//! event and queues any mail it causes.

use std::collections::HashMap;

use super::sending::{Queued, ReplyText, guard_collision, head, not_erased, send, text_field};
use super::{Actor, DeskError, audit};
use crate::db::audit::{self as audit_trail_db, AuditRow};
use crate::db::messages::{self, NewMessage};
use crate::db::queue::{self, AttachmentFile, ConsulterRow, SummaryRow, ThreadMessage, TicketHead};
use crate::db::reviews::{self, ReviewRow};
use crate::db::{DbConn, clocks, outbox, staff, tickets, triage_flags, write_tx};
use crate::domain::vocabulary::{AttachmentId, MessageId, StaffId, Status, TicketId};
use crate::state::AppState;

pub struct TicketView {
    pub summary: SummaryRow,
    pub consulter: ConsulterRow,
    pub messages: Vec<ThreadMessage>,
    pub deliveries: Vec<outbox::DeliveryRow>,
    pub attachments: Vec<queue::AttachmentMeta>,
    /// Of the thread's replies that were held for review.
    pub reviews: Vec<ReviewRow>,
    /// Closed when, kept by a legal hold, erased when.
    pub retention: tickets::RetentionMarks,
    /// The consulter's own page, when the consultation has one.
    pub my_page: Option<super::my_page::PageState>,
}

/// One message of a thread with what belongs to it: the delivery of an outbound mail, and the
/// attachments that came with it.
pub struct ThreadEntry {
    pub message: ThreadMessage,
    pub delivery: Option<outbox::DeliveryRow>,
    pub attachments: Vec<queue::AttachmentMeta>,
    /// A reply that was held for review: where that stands.
    pub review: Option<ReviewRow>,
}

impl TicketView {
    /// The thread in its order, each message with its own delivery and attachments (the API
    /// and the console both show it so).
    pub fn entries(
        messages: Vec<ThreadMessage>,
        deliveries: Vec<outbox::DeliveryRow>,
        attachments: Vec<queue::AttachmentMeta>,
        reviews: Vec<ReviewRow>,
    ) -> Vec<ThreadEntry> {
        let mut reviews: HashMap<MessageId, ReviewRow> =
            reviews.into_iter().map(|r| (r.message_id, r)).collect();
        let mut deliveries: HashMap<MessageId, outbox::DeliveryRow> = deliveries
            .into_iter()
            .filter_map(|d| d.message_id.map(|m| (m, d)))
            .collect();
        let mut by_message: HashMap<MessageId, Vec<queue::AttachmentMeta>> = HashMap::new();
        for a in attachments {
            by_message.entry(a.message_id).or_default().push(a);
        }
        messages
            .into_iter()
            .map(|message| ThreadEntry {
                delivery: deliveries.remove(&message.id),
                attachments: by_message.remove(&message.id).unwrap_or_default(),
                review: reviews.remove(&message.id),
                message,
            })
            .collect()
    }
}

/// The whole ticket, read in five queries, and the read audited.
pub fn view(
    state: &AppState,
    conn: &mut DbConn,
    actor: &Actor,
    id: TicketId,
) -> Result<TicketView, DeskError> {
    let now = state.time.now();
    let TicketHead {
        summary,
        mut consulter,
    } = head(conn, id)?;
    let messages = queue::thread(conn, id)?;
    let ids: Vec<MessageId> = messages.iter().map(|m| m.id).collect();
    let deliveries = outbox::delivery_for_messages(conn, &ids)?;
    let attachments = queue::attachments_of(conn, &ids)?;
    let reviews = reviews::for_messages(conn, &ids)?;
    let retention = tickets::retention_marks(conn, id)?;
    if retention.erased_at.is_some() {
        // The person's address stays on their other tickets until those are erased too; an
        // erased ticket shows it no more.
        consulter.email = String::new();
    }
    let my_page = super::my_page::state_of(conn, id)?;
    audit(conn, actor, now, "ticket.read", Some(id), None, None)?;
    Ok(TicketView {
        summary,
        consulter,
        messages,
        deliveries,
        attachments,
        reviews,
        retention,
        my_page,
    })
}

/// One page of the queue; the read is audited with its filters.
pub fn queue_page(
    state: &AppState,
    conn: &mut DbConn,
    actor: &Actor,
    query: &queue::QueueQuery,
    filters: &str,
) -> Result<Vec<SummaryRow>, DeskError> {
    let rows = queue::page(conn, query)?;
    audit(
        conn,
        actor,
        state.time.now(),
        "queue.read",
        None,
        None,
        Some(filters),
    )?;
    Ok(rows)
}

/// The ticket a person asked for by its reference, read out on the phone: none when the text
/// cannot be a reference or names no ticket. The search is audited (`queue.search`, with the
/// ticket it found), never with what was typed.
pub fn find_by_reference(
    state: &AppState,
    conn: &mut DbConn,
    actor: &Actor,
    typed: &str,
) -> Result<Vec<SummaryRow>, DeskError> {
    let found = match crate::domain::reference::normalise(typed) {
        Some(reference) => queue::by_reference(conn, &reference)?,
        None => None,
    };
    audit(
        conn,
        actor,
        state.time.now(),
        "queue.search",
        found.as_ref().map(|r| r.id),
        None,
        Some(if found.is_some() { "found" } else { "none" }),
    )?;
    Ok(found.into_iter().collect())
}

/// A counsellor's reply: stops the clock, queues the mail, and sets the status; or, when the
/// reply must be reviewed first, holds it (nothing mailed, the clock keeps running).
pub fn reply(
    state: &AppState,
    conn: &mut DbConn,
    actor: &Actor,
    ticket: TicketId,
    body: &str,
    close: bool,
    last_seen_message_id: Option<MessageId>,
) -> Result<Queued, DeskError> {
    let body = text_field("body", body)?;
    let now = state.time.now();
    let text = ReplyText {
        author: actor.staff_id,
        author_name: &actor.name,
        body: &body,
        close,
    };
    let queued = write_tx(conn, |conn| {
        let head = head(conn, ticket)?;
        not_erased(conn, ticket)?;
        guard_collision(state, conn, ticket, last_seen_message_id)?;
        if let Some(reason) = super::holding::hold_reason(state, conn, actor, &head.summary)? {
            let message_id = super::holding::hold(state, conn, actor, &head, &text, reason, now)?;
            return Ok(Queued {
                message_id,
                held: true,
            });
        }
        let (message, status) = send(state, conn, &head, &text, None, now)?;
        // The draft of this reply has done its work.
        crate::db::drafts::discard(conn, ticket, actor.staff_id)?;
        let target = format!("message:{}", message.0);
        audit(
            conn,
            actor,
            now,
            "ticket.reply",
            Some(ticket),
            Some(&target),
            Some(&format!("status={status}")),
        )?;
        Ok::<_, DeskError>(Queued {
            message_id: message,
            held: false,
        })
    })?;
    // Also for a held reply: the supervisors' alert of an urgent ticket may be queued.
    state.waker.wake();
    Ok(queued)
}

pub fn note(
    state: &AppState,
    conn: &mut DbConn,
    actor: &Actor,
    id: TicketId,
    body: &str,
) -> Result<MessageId, DeskError> {
    let body = text_field("body", body)?;
    let now = state.time.now();
    write_tx(conn, |conn| {
        head(conn, id)?;
        not_erased(conn, id)?;
        let message = messages::add(conn, &NewMessage::note(id, actor.staff_id, &body, now))?;
        let target = format!("message:{}", message.0);
        audit(
            conn,
            actor,
            now,
            "ticket.note",
            Some(id),
            Some(&target),
            None,
        )?;
        Ok(message)
    })
}

/// Counsellors may take a ticket or let it go; supervisors may give it to anyone active.
pub fn assign(
    state: &AppState,
    conn: &mut DbConn,
    actor: &Actor,
    id: TicketId,
    assignee: Option<StaffId>,
) -> Result<(), DeskError> {
    if !actor.is_supervisor() && assignee.is_some_and(|a| a != actor.staff_id) {
        return Err(DeskError::Forbidden(
            "counsellors may assign a ticket only to themselves or to nobody",
        ));
    }
    let now = state.time.now();
    write_tx(conn, |conn| {
        head(conn, id)?;
        if let Some(staff_id) = assignee
            && !staff::is_active(conn, staff_id)?
        {
            return Err(DeskError::Invalid(vec![(
                "assignee_id",
                "not_active_staff",
            )]));
        }
        tickets::assign(conn, id, assignee, now)?;
        let detail = assignee.map_or("assignee=none".to_string(), |a| format!("assignee={a}"));
        audit(
            conn,
            actor,
            now,
            "ticket.assign",
            Some(id),
            None,
            Some(&detail),
        )?;
        Ok::<(), DeskError>(())
    })?;
    Ok(())
}

/// Status and urgency by hand. Closing stops a running clock: nobody owes a reply then.
pub fn update(
    state: &AppState,
    conn: &mut DbConn,
    actor: &Actor,
    id: TicketId,
    status: Option<Status>,
    urgent: Option<bool>,
) -> Result<(), DeskError> {
    let now = state.time.now();
    write_tx(conn, |conn| {
        head(conn, id)?;
        tickets::update(conn, id, status, urgent, now)?;
        if status == Some(Status::Closed) {
            clocks::stop(conn, id, now, actor.staff_id, None)?;
        }
        let mut detail = Vec::new();
        if let Some(s) = status {
            detail.push(format!("status={s}"));
        }
        if let Some(u) = urgent {
            detail.push(format!("urgent={u}"));
        }
        audit(
            conn,
            actor,
            now,
            "ticket.update",
            Some(id),
            None,
            Some(&detail.join(" ")),
        )?;
        Ok::<(), DeskError>(())
    })?;
    Ok(())
}

pub fn audit_trail(
    state: &AppState,
    conn: &mut DbConn,
    actor: &Actor,
    id: TicketId,
) -> Result<Vec<AuditRow>, DeskError> {
    head(conn, id)?;
    audit(
        conn,
        actor,
        state.time.now(),
        "ticket.audit_read",
        Some(id),
        None,
        None,
    )?;
    Ok(audit_trail_db::for_ticket(conn, id)?)
}

pub fn attachment(
    state: &AppState,
    conn: &mut DbConn,
    actor: &Actor,
    ticket_id: TicketId,
    attachment_id: AttachmentId,
) -> Result<AttachmentFile, DeskError> {
    let found = queue::attachment(conn, ticket_id, attachment_id)?
        .ok_or(DeskError::NotFound("attachment"))?;
    let target = format!("attachment:{attachment_id}");
    audit(
        conn,
        actor,
        state.time.now(),
        "attachment.download",
        Some(ticket_id),
        Some(&target),
        None,
    )?;
    Ok(found)
}

/// Staff confirm or clear an urgent-risk flag, with a reason; audited without the reason's text.
pub fn decide_triage(
    state: &AppState,
    conn: &mut DbConn,
    actor: &Actor,
    id: TicketId,
    clear: bool,
    reason: &str,
) -> Result<(), DeskError> {
    let reason = text_field("reason", reason)?;
    let now = state.time.now();
    write_tx(conn, |conn| {
        head(conn, id)?;
        let changed = triage_flags::decide(conn, id, clear, actor.staff_id, &reason, now)?;
        let detail = format!(
            "decision={} flags={changed}",
            if clear { "clear" } else { "confirm" }
        );
        audit(
            conn,
            actor,
            now,
            "ticket.triage",
            Some(id),
            None,
            Some(&detail),
        )?;
        Ok::<(), DeskError>(())
    })
}

/// A supervisor keeps a ticket from erasure by retention (CONTRACT §9), or lets it go.
pub fn set_legal_hold(
    state: &AppState,
    conn: &mut DbConn,
    actor: &Actor,
    id: TicketId,
    hold: bool,
) -> Result<(), DeskError> {
    actor.require_supervisor()?;
    let now = state.time.now();
    write_tx(conn, |conn| {
        head(conn, id)?;
        tickets::set_legal_hold(conn, id, hold)?;
        let detail = format!("legal_hold={hold}");
        audit(
            conn,
            actor,
            now,
            "ticket.legal_hold",
            Some(id),
            None,
            Some(&detail),
        )?;
        Ok::<(), DeskError>(())
    })
}
