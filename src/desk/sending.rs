//! A staff reply on its way out, shared by a direct reply and an approved one: the text
//! checked, the ticket read, the collision guard, and the mail threaded, composed and
//! queued with the clock stopped. Below both `tickets` and `reviews`, so neither needs the
//! other to send.

use super::DeskError;
use crate::db::messages;
use crate::db::queue::{self, TicketHead};
use crate::db::{DbConn, clocks, tickets};
use crate::domain::consultation::clean_text;
use crate::domain::threading;
use crate::domain::vocabulary::{MessageId, MessageKind, StaffId, Status, TicketId};
use crate::mail::mailer::{StaffReply, Threading};
use crate::mail::outgoing::{self, Sender};
use crate::state::AppState;

const MAX_TEXT: usize = 20_000;

pub(crate) fn text_field(field: &'static str, raw: &str) -> Result<String, DeskError> {
    let text = clean_text(raw);
    if text.is_empty() {
        Err(DeskError::Invalid(vec![(field, "required")]))
    } else if text.chars().count() > MAX_TEXT {
        Err(DeskError::Invalid(vec![(field, "too_long")]))
    } else {
        Ok(text)
    }
}

/// An erased consultation takes no new text: there is no one to answer, and what was written
/// would never be erased.
pub(crate) fn not_erased(conn: &mut DbConn, id: TicketId) -> Result<(), DeskError> {
    if tickets::retention_marks(conn, id)?.erased_at.is_some() {
        return Err(DeskError::Forbidden(
            "this consultation's personal data was erased: it takes no new text",
        ));
    }
    Ok(())
}

/// The ticket, or `NotFound`.
pub(crate) fn head(conn: &mut DbConn, id: TicketId) -> Result<TicketHead, DeskError> {
    queue::ticket(conn, id)?.ok_or(DeskError::NotFound("ticket"))
}

/// What became of a reply: queued for the consulter, or held for a supervisor's review.
pub struct Queued {
    pub message_id: MessageId,
    /// Held for review (CONTRACT §8): nothing mailed, the reply clock still running.
    pub held: bool,
}

/// A reply as its author wrote it, and what it is to do to the ticket.
pub struct ReplyText<'a> {
    pub author: StaffId,
    pub author_name: &'a str,
    pub body: &'a str,
    /// 送信して終了: the ticket closes with it.
    pub close: bool,
}

/// The collision guard: a consulter message newer than the one the writer last saw stops it.
pub(crate) fn guard_collision(
    state: &AppState,
    conn: &mut DbConn,
    ticket: TicketId,
    last_seen: Option<MessageId>,
) -> Result<(), DeskError> {
    if let Some(seen) = last_seen
        && let Some(newer) = messages::inbound_after(conn, ticket, seen)?
    {
        return Err(DeskError::Collision {
            message_id: newer.id,
            body_text: newer.body_text,
            created_at: crate::db::from_db(newer.created_at)
                .with_timezone(&state.rules.tz)
                .fixed_offset(),
        });
    }
    Ok(())
}

/// A reply's mail, in the caller's transaction: threaded on the newest consulter message,
/// composed, queued, the clock stopped and the status set. A direct reply and an approved
/// one (`held`: the message that waited for review) both go out through here.
pub(crate) fn send(
    state: &AppState,
    conn: &mut DbConn,
    head: &TicketHead,
    text: &ReplyText<'_>,
    held: Option<MessageId>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(MessageId, Status), DeskError> {
    let TicketHead { summary, consulter } = head;
    let ticket = summary.id;
    let thread = queue::thread(conn, ticket)?;
    let ids: Vec<String> = thread
        .iter()
        .filter_map(|m| m.rfc_message_id.clone())
        .collect();
    let newest_inbound = thread
        .iter()
        .rev()
        .find(|m| m.kind == MessageKind::Inbound && !m.automatic)
        .and_then(|m| m.rfc_message_id.as_deref());
    let ack = thread
        .iter()
        .rev()
        .find(|m| m.kind == MessageKind::Outbound && m.automatic)
        .and_then(|m| m.rfc_message_id.as_deref());
    let threading =
        threading::reply_headers(&ids, newest_inbound, ack).map(|(in_reply_to, references)| {
            Threading {
                in_reply_to,
                references,
            }
        });
    let mail = state.mailer.staff_reply(
        StaffReply {
            to: &consulter.email,
            consulter_name: consulter.name.as_deref(),
            counsellor_name: text.author_name,
            reference: &summary.reference,
            ticket_subject: &summary.subject,
            body: text.body,
            threading,
            notice_only: crate::db::my_access::notice_only(conn, ticket)?,
        },
        now,
    )?;
    let message = outgoing::queue_on_ticket(
        conn,
        ticket,
        &mail,
        Sender::Staff {
            id: text.author,
            body: text.body,
            in_reply_to: newest_inbound.or(ack),
            held,
        },
        now,
    )?;
    clocks::stop(conn, ticket, now, text.author, Some(message))?;
    let status = if text.close {
        Status::Closed
    } else {
        Status::Waiting
    };
    tickets::update(conn, ticket, Some(status), None, now)?;
    Ok((message, status))
}
