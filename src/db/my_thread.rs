//! Read view: the thread as the consulter sees it on their page. Their own messages (not
//! automatic mail from their side) and staff replies that were actually queued for sending:
//! no notes, no acknowledgements, nothing held back or never sent, no staff names or addresses.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{messages, outbound_mail};
use super::{DbConn, DbError};
use crate::domain::vocabulary::{DeliveryStatus, MessageId, MessageKind, TicketId};

/// Delivery states of a reply that has gone out or is on its way: chosen by what was sent,
/// so any other state (a reply waiting for review, say) stays off the page.
const SENT_OR_QUEUED: [DeliveryStatus; 3] = [
    DeliveryStatus::Queued,
    DeliveryStatus::Sent,
    DeliveryStatus::Failed,
];

#[derive(Debug, Clone, Queryable)]
pub struct MyMessage {
    pub id: MessageId,
    pub kind: MessageKind,
    pub body_text: String,
    pub created_at: NaiveDateTime,
}

/// Oldest first.
pub fn thread(conn: &mut DbConn, ticket: TicketId) -> Result<Vec<MyMessage>, DbError> {
    let mut own: Vec<MyMessage> = messages::table
        .filter(messages::ticket_id.eq(ticket))
        .filter(messages::kind.eq(MessageKind::Inbound))
        .filter(messages::automatic.eq(false))
        .select((
            messages::id,
            messages::kind,
            messages::body_text,
            messages::created_at,
        ))
        .load(conn)?;
    let replies: Vec<MyMessage> = outbound_mail::table
        .inner_join(messages::table)
        .filter(messages::ticket_id.eq(ticket))
        .filter(messages::kind.eq(MessageKind::Outbound))
        .filter(messages::author_id.is_not_null())
        .filter(outbound_mail::status.eq_any(SENT_OR_QUEUED))
        .select((
            messages::id,
            messages::kind,
            messages::body_text,
            messages::created_at,
        ))
        .load(conn)?;
    own.extend(replies);
    own.sort_by_key(|m| m.id);
    own.dedup_by_key(|m| m.id);
    Ok(own)
}
