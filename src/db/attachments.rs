//! The attachments table: files that came with a consulter's mail. The ticket view reads
//! them through `queue`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::native::native;
use super::schema::attachments;
use super::{DbConn, DbError, to_db};
use crate::domain::vocabulary::MessageId;

/// A file to keep with a message.
#[derive(Debug, Clone, Copy)]
pub struct NewAttachment<'a> {
    pub filename: &'a str,
    pub content_type: &'a str,
    pub content: &'a [u8],
}

pub fn add(
    conn: &mut DbConn,
    message: MessageId,
    a: &NewAttachment<'_>,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let insert = diesel::insert_into(attachments::table).values((
        attachments::message_id.eq(message),
        attachments::filename.eq(a.filename),
        attachments::content_type.eq(a.content_type),
        attachments::size_bytes.eq(i64::try_from(a.content.len()).unwrap_or(i64::MAX)),
        attachments::content.eq(a.content),
        attachments::created_at.eq(to_db(now)),
    ));
    native!(conn, |c| insert.execute(c))?;
    Ok(())
}

/// Retention: the files of these messages go, rows and all.
pub fn delete_of_messages(conn: &mut DbConn, messages: &[MessageId]) -> Result<usize, DbError> {
    Ok(
        diesel::delete(attachments::table.filter(attachments::message_id.eq_any(messages)))
            .execute(conn)?,
    )
}

/// Every file of these messages with its bytes, for the export.
#[derive(Debug, Clone, Queryable)]
pub struct AttachmentContent {
    pub id: crate::domain::vocabulary::AttachmentId,
    pub message_id: MessageId,
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub content: Vec<u8>,
}

pub fn contents_of(
    conn: &mut DbConn,
    messages: &[MessageId],
) -> Result<Vec<AttachmentContent>, DbError> {
    Ok(attachments::table
        .filter(attachments::message_id.eq_any(messages))
        .order(attachments::id)
        .select((
            attachments::id,
            attachments::message_id,
            attachments::filename,
            attachments::content_type,
            attachments::size_bytes,
            attachments::content,
        ))
        .load(conn)?)
}
