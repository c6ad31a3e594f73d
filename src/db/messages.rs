//! The messages table: every ticket's thread, the consulter's messages, mail we sent and
//! internal notes.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::attachments::{self, NewAttachment};
use super::native::{insert_id, native};
use super::schema::{consulters, messages, tickets};
use super::{DbConn, DbError, to_db};
use crate::domain::threading::Candidate;
use crate::domain::vocabulary::{MessageId, MessageKind, StaffId, TicketId};

#[derive(Debug, Clone, Copy, Insertable)]
// None is NULL, written as a bind: the statement's text is then the same for every message,
// so it is prepared once and found by its type.
#[diesel(table_name = messages, treat_none_as_default_value = false)]
pub struct NewMessage<'a> {
    pub ticket_id: TicketId,
    pub kind: MessageKind,
    pub author_id: Option<StaffId>,
    pub subject: Option<&'a str>,
    pub body_text: &'a str,
    pub rfc_message_id: Option<&'a str>,
    pub in_reply_to: Option<&'a str>,
    pub references_header: Option<&'a str>,
    pub from_address: Option<&'a str>,
    pub automatic: bool,
    pub raw_mime: Option<&'a [u8]>,
    pub system_note: Option<&'a str>,
    pub created_at: NaiveDateTime,
}

/// What a message that came by mail keeps besides its text.
#[derive(Debug, Clone, Copy)]
pub struct MailFacts<'a> {
    pub rfc_message_id: &'a str,
    pub in_reply_to: Option<&'a str>,
    /// The References header's ids, space-separated, oldest first.
    pub references: Option<&'a str>,
    /// The mail byte for byte.
    pub raw: &'a [u8],
    /// What the system noted, e.g. attachments left out for their size.
    pub system_note: Option<&'a str>,
    /// An auto-responder's or mailing list's mail: kept, never answered.
    pub automatic: bool,
}

impl<'a> NewMessage<'a> {
    /// A consulter's message, from the form or by mail (add the mail with [`Self::by_mail`]).
    pub fn inbound(
        ticket: TicketId,
        subject: Option<&'a str>,
        body: &'a str,
        from: Option<&'a str>,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            ticket_id: ticket,
            kind: MessageKind::Inbound,
            author_id: None,
            subject,
            body_text: body,
            rfc_message_id: None,
            in_reply_to: None,
            references_header: None,
            from_address: from,
            automatic: false,
            raw_mime: None,
            system_note: None,
            created_at: to_db(at),
        }
    }

    /// A staff member's internal note; never mailed.
    pub fn note(ticket: TicketId, author: StaffId, body: &'a str, at: DateTime<Utc>) -> Self {
        Self {
            kind: MessageKind::Note,
            author_id: Some(author),
            ..Self::inbound(ticket, None, body, None, at)
        }
    }

    /// A mail we send: a staff member's reply, or (with no author) one the system sends by
    /// itself, such as the acknowledgement.
    pub fn outbound(
        ticket: TicketId,
        author: Option<StaffId>,
        subject: Option<&'a str>,
        body: &'a str,
        rfc_message_id: Option<&'a str>,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            kind: MessageKind::Outbound,
            author_id: author,
            rfc_message_id,
            automatic: author.is_none(),
            ..Self::inbound(ticket, subject, body, None, at)
        }
    }

    /// The same message, as it came by mail.
    pub fn by_mail(self, mail: &MailFacts<'a>) -> Self {
        Self {
            rfc_message_id: Some(mail.rfc_message_id),
            in_reply_to: mail.in_reply_to,
            references_header: mail.references,
            raw_mime: Some(mail.raw),
            system_note: mail.system_note,
            automatic: mail.automatic,
            ..self
        }
    }
}

pub fn add(conn: &mut DbConn, m: &NewMessage<'_>) -> Result<MessageId, DbError> {
    let insert = diesel::insert_into(messages::table).values(m);
    Ok(insert_id!(conn, insert, messages::id)?)
}

/// A message and the files that came with it.
pub fn add_with_attachments(
    conn: &mut DbConn,
    m: &NewMessage<'_>,
    files: &[NewAttachment<'_>],
) -> Result<MessageId, DbError> {
    let id = add(conn, m)?;
    for file in files {
        attachments::add(conn, id, file, m.created_at.and_utc())?;
    }
    Ok(id)
}

/// A consulter's message newer than the one a counsellor last saw.
#[derive(Debug, Queryable)]
pub struct NewerMessage {
    pub id: MessageId,
    pub body_text: String,
    pub created_at: NaiveDateTime,
}

/// The consulter's newest message after `seen`, for the reply collision guard. Mail sent by a
/// machine on the consulter's side (an out-of-office answer) is not the consulter writing.
pub fn inbound_after(
    conn: &mut DbConn,
    ticket: TicketId,
    seen: MessageId,
) -> Result<Option<NewerMessage>, DbError> {
    Ok(messages::table
        .filter(messages::ticket_id.eq(ticket))
        .filter(messages::kind.eq(MessageKind::Inbound))
        .filter(messages::automatic.eq(false))
        .filter(messages::id.gt(seen))
        .order(messages::id.desc())
        .select((messages::id, messages::body_text, messages::created_at))
        .first(conn)
        .optional()?)
}

/// Whether a mail with this Message-ID is stored already.
pub fn is_stored(conn: &mut DbConn, rfc_message_id: &str) -> Result<bool, DbError> {
    let query = diesel::select(diesel::dsl::exists(
        messages::table.filter(messages::rfc_message_id.eq(rfc_message_id)),
    ));
    Ok(native!(conn, |c| query.get_result(c))?)
}

/// The ticket that holds one of `ids` (In-Reply-To and References), newest match first, with
/// its consulter's address.
pub fn candidate_by_message_ids(
    conn: &mut DbConn,
    ids: &[String],
) -> Result<Option<Candidate>, DbError> {
    let candidates = messages::table
        .inner_join(tickets::table.inner_join(consulters::table))
        // An erased consultation is joined by nothing: new mail opens a new one.
        .filter(tickets::erased_at.is_null())
        .order(messages::id.desc())
        .select((tickets::id, consulters::email));
    let found = match ids {
        [] => return Ok(None),
        // The usual reply names one mail (In-Reply-To and References alike): `=` is a statement
        // prepared once, where SQLite's `IN (…)` is prepared anew each time. One message at
        // most has the id, so no LIMIT either (SQLite prepares a statement with a bound LIMIT
        // anew each time it is bound).
        [id] => {
            let query = candidates.filter(messages::rfc_message_id.eq(id));
            native!(conn, |c| query.get_result(c).optional())?
        }
        _ => {
            let query = candidates.filter(messages::rfc_message_id.eq_any(ids));
            native!(conn, |c| query.first(c).optional())?
        }
    };
    Ok(found.map(super::tickets::candidate))
}

/// When a person (not the system) answered on a ticket.
#[derive(Debug, Clone, Queryable)]
pub struct StaffReplyAt {
    pub ticket_id: TicketId,
    pub at: NaiveDateTime,
}

/// Every reply by a person on these tickets, by ticket and then oldest first.
pub fn staff_replies_on(
    conn: &mut DbConn,
    tickets: &[TicketId],
) -> Result<Vec<StaffReplyAt>, DbError> {
    Ok(messages::table
        .filter(messages::ticket_id.eq_any(tickets))
        .filter(messages::kind.eq(MessageKind::Outbound))
        .filter(messages::author_id.is_not_null())
        .order((messages::ticket_id, messages::id))
        .select((messages::ticket_id, messages::created_at))
        .load(conn)?)
}

/// A held reply rewritten by its author before it is reviewed (again).
pub fn set_body(conn: &mut DbConn, id: MessageId, body: &str) -> Result<(), DbError> {
    diesel::update(messages::table.find(id))
        .set(messages::body_text.eq(body))
        .execute(conn)?;
    Ok(())
}

/// A reply held for review becomes the mail it was approved as: the same message, now
/// outbound, with the text, headers and time of the mail queued for it.
pub fn release_held(conn: &mut DbConn, id: MessageId, m: &NewMessage<'_>) -> Result<(), DbError> {
    diesel::update(messages::table.find(id))
        .set((
            messages::kind.eq(m.kind),
            messages::subject.eq(m.subject),
            messages::body_text.eq(m.body_text),
            messages::rfc_message_id.eq(m.rfc_message_id),
            messages::in_reply_to.eq(m.in_reply_to),
            messages::created_at.eq(m.created_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// A message's text.
pub fn body_of(conn: &mut DbConn, id: MessageId) -> Result<Option<String>, DbError> {
    Ok(messages::table
        .find(id)
        .select(messages::body_text)
        .first(conn)
        .optional()?)
}

/// The ids of a ticket's messages, oldest first.
pub fn ids_of(conn: &mut DbConn, ticket: TicketId) -> Result<Vec<MessageId>, DbError> {
    Ok(messages::table
        .filter(messages::ticket_id.eq(ticket))
        .order(messages::id)
        .select(messages::id)
        .load(conn)?)
}

/// Retention: every message of the ticket loses its text, subject, sender, raw mail, the
/// system's remarks (they may name files) and the headers that may quote addresses. The row,
/// its kind, author, time and own Message-ID stay (the reports time replies by them; the
/// Message-ID keeps a mail delivered again from being stored again).
pub fn erase_of_ticket(conn: &mut DbConn, ticket: TicketId) -> Result<usize, DbError> {
    Ok(
        diesel::update(messages::table.filter(messages::ticket_id.eq(ticket)))
            .set((
                messages::body_text.eq(""),
                messages::subject.eq(None::<String>),
                messages::from_address.eq(None::<String>),
                messages::raw_mime.eq(None::<Vec<u8>>),
                messages::system_note.eq(None::<String>),
                messages::in_reply_to.eq(None::<String>),
                messages::references_header.eq(None::<String>),
            ))
            .execute(conn)?,
    )
}

/// A message with all it keeps, for the export.
#[derive(Debug, Clone, Queryable)]
pub struct FullMessage {
    pub id: MessageId,
    pub kind: MessageKind,
    pub author_id: Option<StaffId>,
    pub subject: Option<String>,
    pub body_text: String,
    pub rfc_message_id: Option<String>,
    pub in_reply_to: Option<String>,
    pub references_header: Option<String>,
    pub from_address: Option<String>,
    pub automatic: bool,
    pub raw_mime: Option<Vec<u8>>,
    pub system_note: Option<String>,
    pub created_at: NaiveDateTime,
}

/// A ticket's whole thread with raw mail, oldest first.
pub fn full_thread(conn: &mut DbConn, ticket: TicketId) -> Result<Vec<FullMessage>, DbError> {
    Ok(messages::table
        .filter(messages::ticket_id.eq(ticket))
        .order(messages::id)
        .select((
            messages::id,
            messages::kind,
            messages::author_id,
            messages::subject,
            messages::body_text,
            messages::rfc_message_id,
            messages::in_reply_to,
            messages::references_header,
            messages::from_address,
            messages::automatic,
            messages::raw_mime,
            messages::system_note,
            messages::created_at,
        ))
        .load(conn)?)
}
