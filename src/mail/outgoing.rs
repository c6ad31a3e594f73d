//! Putting a composed mail on a ticket: the outbound message staff see in the thread and its
//! outbox row, written together in the caller's transaction.

use chrono::{DateTime, Duration, Utc};

use super::mailer::OutgoingMail;
use crate::db::tickets::{self, MessageId, NewMessage, TicketId};
use crate::db::{DbConn, DbError, outbox, to_db};

/// At most this many acknowledgements go to one address a day (CONTRACT §5).
pub const ACKS_PER_DAY: i64 = 3;

/// Who a mail on a ticket is from: the system itself, or a staff member answering.
pub enum Sender<'a> {
    Acknowledgement,
    Staff {
        id: i64,
        /// What the counsellor wrote, shown in the thread instead of the templated mail.
        body: &'a str,
        in_reply_to: Option<&'a str>,
    },
}

pub fn queue_on_ticket(
    conn: &mut DbConn,
    ticket: TicketId,
    mail: &OutgoingMail,
    sender: Sender<'_>,
    now: DateTime<Utc>,
) -> Result<MessageId, DbError> {
    let (kind, author_id, body, in_reply_to) = match sender {
        Sender::Acknowledgement => ("acknowledgement", None, mail.body.as_str(), None),
        Sender::Staff {
            id,
            body,
            in_reply_to,
        } => ("reply", Some(id), body, in_reply_to),
    };
    let message = tickets::add_message(
        conn,
        &NewMessage {
            ticket_id: ticket.0,
            kind: "outbound",
            author_id,
            subject: Some(&mail.subject),
            body_text: body,
            rfc_message_id: Some(&mail.rfc_message_id),
            in_reply_to,
            references_header: None,
            from_address: None,
            automatic: author_id.is_none(),
            raw_mime: None,
            system_note: None,
            created_at: to_db(now),
        },
    )?;
    outbox::enqueue(
        conn,
        &outbox::NewOutboundMail {
            message_id: Some(message.0),
            ticket_id: Some(ticket.0),
            kind,
            to_address: &mail.to,
            rfc_message_id: &mail.rfc_message_id,
            raw: &mail.raw,
            status: "queued",
            next_attempt_at: to_db(now),
            created_at: to_db(now),
        },
    )?;
    Ok(message)
}

/// Queues a mail to staff (an alert or digest), on a ticket or none; no thread message.
pub fn queue_staff_mail(
    conn: &mut DbConn,
    ticket: Option<i64>,
    kind: &str,
    mail: &OutgoingMail,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    outbox::enqueue(
        conn,
        &outbox::NewOutboundMail {
            message_id: None,
            ticket_id: ticket,
            kind,
            to_address: &mail.to,
            rfc_message_id: &mail.rfc_message_id,
            raw: &mail.raw,
            status: "queued",
            next_attempt_at: to_db(now),
            created_at: to_db(now),
        },
    )?;
    Ok(())
}

/// Queues an acknowledgement unless its address had its daily share; says whether it did.
pub fn acknowledge(
    conn: &mut DbConn,
    ticket: TicketId,
    ack: &OutgoingMail,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    if outbox::acknowledgements_since(conn, &ack.to, now - Duration::hours(24))? >= ACKS_PER_DAY {
        return Ok(false);
    }
    queue_on_ticket(conn, ticket, ack, Sender::Acknowledgement, now)?;
    Ok(true)
}
