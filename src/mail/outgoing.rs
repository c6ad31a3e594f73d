//! Putting a composed mail on the outbox in the caller's transaction: on a ticket (the
//! outbound message staff see in the thread, and its outbox row), or to staff.

use chrono::{DateTime, Duration, Utc};

use super::Mailer;
use super::mailer::{Acknowledgement, ComposeError, OutgoingMail};
use crate::db::messages::{self, NewMessage};
use crate::db::outbox::{self, NewOutboundMail};
use crate::db::{DbConn, DbError};
use crate::domain::vocabulary::{DeliveryStatus, MessageId, StaffId, TicketId};

/// At most this many acknowledgements go to one address a day (docs/CONTRACT.md §5).
pub const ACKS_PER_DAY: i64 = 3;

/// Who a mail on a ticket is from: the system itself, or a staff member answering.
pub enum Sender<'a> {
    Acknowledgement,
    Staff {
        id: StaffId,
        /// What the counsellor wrote, shown in the thread instead of the templated mail.
        body: &'a str,
        in_reply_to: Option<&'a str>,
        /// The reply held for review that this mail is (approved now), or none for a new one.
        held: Option<MessageId>,
    },
}

pub fn queue_on_ticket(
    conn: &mut DbConn,
    ticket: TicketId,
    mail: &OutgoingMail,
    sender: Sender<'_>,
    now: DateTime<Utc>,
) -> Result<MessageId, DbError> {
    let held = match &sender {
        Sender::Staff { held, .. } => *held,
        Sender::Acknowledgement => None,
    };
    let (kind, message) = match sender {
        Sender::Acknowledgement => (
            "acknowledgement",
            NewMessage::outbound(
                ticket,
                None,
                Some(&mail.subject),
                &mail.body,
                Some(&mail.rfc_message_id),
                now,
            ),
        ),
        Sender::Staff {
            id,
            body,
            in_reply_to,
            ..
        } => (
            "reply",
            NewMessage {
                in_reply_to,
                ..NewMessage::outbound(
                    ticket,
                    Some(id),
                    Some(&mail.subject),
                    body,
                    Some(&mail.rfc_message_id),
                    now,
                )
            },
        ),
    };
    let message = match held {
        Some(id) => {
            messages::release_held(conn, id, &message)?;
            id
        }
        None => messages::add(conn, &message)?,
    };
    outbox::enqueue(
        conn,
        &NewOutboundMail {
            message_id: Some(message),
            ticket_id: Some(ticket),
            ..queued(kind, mail, now)
        },
    )?;
    Ok(message)
}

/// Queues a mail to staff (an alert or digest), about a ticket or none; no thread message.
pub fn queue_staff_mail(
    conn: &mut DbConn,
    ticket: Option<TicketId>,
    kind: &str,
    mail: &OutgoingMail,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    outbox::enqueue(
        conn,
        &NewOutboundMail {
            ticket_id: ticket,
            ..queued(kind, mail, now)
        },
    )?;
    Ok(())
}

fn queued<'a>(kind: &'a str, mail: &'a OutgoingMail, now: DateTime<Utc>) -> NewOutboundMail<'a> {
    NewOutboundMail::queued(kind, &mail.to, &mail.rfc_message_id, &mail.raw, now)
}

/// What became of a ticket's acknowledgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acknowledged {
    Queued,
    /// The address had its daily share: nothing is sent.
    CapReached,
    /// It could not be made; kept on the ticket as a failed delivery, for staff to see.
    Failed,
}

/// Composes and queues a ticket's acknowledgement, unless its address had its daily share.
/// A mail that cannot be made never undoes the consultation: it stands in the thread as a
/// delivery that failed, with the reason.
pub fn acknowledge(
    conn: &mut DbConn,
    mailer: &Mailer,
    ticket: TicketId,
    ack: &Acknowledgement<'_>,
    now: DateTime<Utc>,
) -> Result<Acknowledged, DbError> {
    acknowledge_with(conn, mailer, ticket, ack.to, now, || {
        mailer.acknowledgement(ack, now)
    })
}

/// [`acknowledge`], the mail made by `compose` (only if under the cap): a caller may have
/// composed it before its transaction, so that the transaction only stores it.
pub fn acknowledge_with(
    conn: &mut DbConn,
    mailer: &Mailer,
    ticket: TicketId,
    to: &str,
    now: DateTime<Utc>,
    compose: impl FnOnce() -> Result<OutgoingMail, ComposeError>,
) -> Result<Acknowledged, DbError> {
    if outbox::acknowledgements_since(conn, to, now - Duration::hours(24))? >= ACKS_PER_DAY {
        return Ok(Acknowledged::CapReached);
    }
    let mail = match compose() {
        Ok(ack) => ack,
        Err(e) => {
            let why = format!("the acknowledgement could not be made: {e}");
            tracing::warn!(
                ticket_id = ticket.0,
                error = %crate::domain::redact::addresses(&why),
                "acknowledgement kept as a failed delivery"
            );
            let message = messages::add(
                conn,
                &NewMessage {
                    system_note: Some("the acknowledgement could not be made"),
                    ..NewMessage::outbound(ticket, None, None, "", None, now)
                },
            )?;
            outbox::enqueue(
                conn,
                &NewOutboundMail {
                    message_id: Some(message),
                    ticket_id: Some(ticket),
                    status: DeliveryStatus::Failed,
                    last_error: Some(&why),
                    ..NewOutboundMail::queued("acknowledgement", to, &mailer.message_id(), &[], now)
                },
            )?;
            return Ok(Acknowledged::Failed);
        }
    };
    queue_on_ticket(conn, ticket, &mail, Sender::Acknowledgement, now)?;
    Ok(Acknowledged::Queued)
}
