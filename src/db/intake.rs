//! Look-ups and writes that only mail intake needs: threading candidates, duplicates, bounces,
//! and the IMAP position.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::schema::{attachments, consulters, imap_state, messages, outbound_mail, tickets};
use super::{DbConn, DbError, to_db};

pub fn message_stored(conn: &mut DbConn, rfc_message_id: &str) -> Result<bool, DbError> {
    Ok(diesel::select(diesel::dsl::exists(
        messages::table.filter(messages::rfc_message_id.eq(rfc_message_id)),
    ))
    .get_result(conn)?)
}

/// The ticket that holds one of `ids` (In-Reply-To and References), newest match first, with
/// its consulter's address.
pub fn ticket_by_message_ids(
    conn: &mut DbConn,
    ids: &[String],
) -> Result<Option<(i64, String)>, DbError> {
    if ids.is_empty() {
        return Ok(None);
    }
    Ok(messages::table
        .inner_join(tickets::table.inner_join(consulters::table))
        .filter(messages::rfc_message_id.eq_any(ids))
        .order(messages::id.desc())
        .select((tickets::id, consulters::email))
        .first(conn)
        .optional()?)
}

pub fn ticket_by_reference(
    conn: &mut DbConn,
    reference: &str,
) -> Result<Option<(i64, String)>, DbError> {
    Ok(tickets::table
        .inner_join(consulters::table)
        .filter(tickets::reference.eq(reference))
        .select((tickets::id, consulters::email))
        .first(conn)
        .optional()?)
}

/// What a follow-up needs to know of the ticket it joins.
#[derive(Debug, Queryable)]
pub struct JoinTarget {
    pub reference: String,
    pub status: String,
    pub reply_due_at: Option<NaiveDateTime>,
}

pub fn join_target(conn: &mut DbConn, ticket_id: i64) -> Result<JoinTarget, DbError> {
    Ok(tickets::table
        .find(ticket_id)
        .select((tickets::reference, tickets::status, tickets::reply_due_at))
        .first(conn)?)
}

pub fn add_attachment(
    conn: &mut DbConn,
    message_id: i64,
    filename: &str,
    content_type: &str,
    content: &[u8],
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    diesel::insert_into(attachments::table)
        .values((
            attachments::message_id.eq(message_id),
            attachments::filename.eq(filename),
            attachments::content_type.eq(content_type),
            attachments::size_bytes.eq(i64::try_from(content.len()).unwrap_or(i64::MAX)),
            attachments::content.eq(content),
            attachments::created_at.eq(to_db(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// The mail a delivery report speaks of: its outbox row and ticket.
pub fn outbound_by_message_id(
    conn: &mut DbConn,
    rfc_message_id: &str,
) -> Result<Option<(i64, Option<i64>)>, DbError> {
    Ok(outbound_mail::table
        .filter(outbound_mail::rfc_message_id.eq(rfc_message_id))
        .select((outbound_mail::id, outbound_mail::ticket_id))
        .first(conn)
        .optional()?)
}

/// A bounce: the mail did not reach the consulter, whatever our SMTP server said before.
pub fn mark_bounced(conn: &mut DbConn, outbox_id: i64, diagnostic: &str) -> Result<(), DbError> {
    diesel::update(outbound_mail::table.find(outbox_id))
        .set((
            outbound_mail::status.eq("failed"),
            outbound_mail::last_error.eq(Some(diagnostic)),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn imap_position(conn: &mut DbConn, mailbox: &str) -> Result<Option<(i64, i64)>, DbError> {
    Ok(imap_state::table
        .find(mailbox)
        .select((imap_state::uidvalidity, imap_state::last_uid))
        .first(conn)
        .optional()?)
}

pub fn set_imap_position(
    conn: &mut DbConn,
    mailbox: &str,
    uidvalidity: i64,
    last_uid: i64,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let updated = diesel::update(imap_state::table.find(mailbox))
        .set((
            imap_state::uidvalidity.eq(uidvalidity),
            imap_state::last_uid.eq(last_uid),
            imap_state::updated_at.eq(to_db(now)),
        ))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(imap_state::table)
            .values((
                imap_state::mailbox.eq(mailbox),
                imap_state::uidvalidity.eq(uidvalidity),
                imap_state::last_uid.eq(last_uid),
                imap_state::updated_at.eq(to_db(now)),
            ))
            .execute(conn)?;
    }
    Ok(())
}
