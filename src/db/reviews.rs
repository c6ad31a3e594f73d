//! The reviews table: replies held for a supervisor's review (CONTRACT §8), one row per held
//! message, kept after the decision with who decided and when.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::schema::{messages, reviews, staff, tickets};
use super::{DbConn, DbError, to_db};
use crate::domain::vocabulary::{HoldReason, MessageId, ReviewStatus, StaffId, TicketId};

#[derive(Insertable)]
#[diesel(table_name = reviews)]
pub struct NewReview {
    pub message_id: MessageId,
    pub ticket_id: TicketId,
    pub author_id: StaffId,
    pub status: ReviewStatus,
    pub reason: HoldReason,
    pub close_ticket: bool,
    pub submitted_at: NaiveDateTime,
}

pub fn add(conn: &mut DbConn, new: &NewReview) -> Result<(), DbError> {
    diesel::insert_into(reviews::table)
        .values(new)
        .execute(conn)?;
    Ok(())
}

/// A held reply's review, with the names that go with it.
#[derive(Debug, Clone, Queryable)]
pub struct ReviewRow {
    pub message_id: MessageId,
    pub ticket_id: TicketId,
    pub author_id: StaffId,
    pub status: ReviewStatus,
    pub reason: HoldReason,
    pub close_ticket: bool,
    pub submitted_at: NaiveDateTime,
    pub reminded_at: Option<NaiveDateTime>,
    pub comment: Option<String>,
    pub decided_by: Option<StaffId>,
    pub decided_at: Option<NaiveDateTime>,
    pub edited: bool,
    /// Who decided, by name.
    pub decided_by_name: Option<String>,
}

#[diesel::dsl::auto_type(no_type_alias)]
fn review_columns() -> _ {
    (
        reviews::message_id,
        reviews::ticket_id,
        reviews::author_id,
        reviews::status,
        reviews::reason,
        reviews::close_ticket,
        reviews::submitted_at,
        reviews::reminded_at,
        reviews::comment,
        reviews::decided_by,
        reviews::decided_at,
        reviews::edited,
        staff::name.nullable(),
    )
}

pub fn get(conn: &mut DbConn, message: MessageId) -> Result<Option<ReviewRow>, DbError> {
    Ok(reviews::table
        .left_join(staff::table.on(staff::id.nullable().eq(reviews::decided_by)))
        .filter(reviews::message_id.eq(message))
        .select(review_columns())
        .first(conn)
        .optional()?)
}

/// The reviews of these messages (a thread's), in no order.
pub fn for_messages(conn: &mut DbConn, ids: &[MessageId]) -> Result<Vec<ReviewRow>, DbError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(reviews::table
        .left_join(staff::table.on(staff::id.nullable().eq(reviews::decided_by)))
        .filter(reviews::message_id.eq_any(ids))
        .select(review_columns())
        .load(conn)?)
}

/// The author's reply on this ticket that is still held (waiting, or returned to them).
pub fn pending_of(
    conn: &mut DbConn,
    ticket: TicketId,
    author: StaffId,
) -> Result<Option<ReviewRow>, DbError> {
    Ok(reviews::table
        .left_join(staff::table.on(staff::id.nullable().eq(reviews::decided_by)))
        .filter(reviews::ticket_id.eq(ticket))
        .filter(reviews::author_id.eq(author))
        .filter(reviews::status.ne(ReviewStatus::Approved))
        .order(reviews::message_id.desc())
        .select(review_columns())
        .first(conn)
        .optional()?)
}

/// Sent into review again (after a return, or rewritten while waiting): a fresh reminder.
pub fn resubmit(
    conn: &mut DbConn,
    message: MessageId,
    close_ticket: bool,
    reason: HoldReason,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    diesel::update(reviews::table.find(message))
        .set((
            reviews::status.eq(ReviewStatus::AwaitingReview),
            reviews::close_ticket.eq(close_ticket),
            reviews::reason.eq(reason),
            reviews::submitted_at.eq(to_db(now)),
            reviews::reminded_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    Ok(())
}

/// Records a supervisor's decision on a reply that is waiting; false when it was not
/// waiting any more (another supervisor decided first).
pub fn decide(
    conn: &mut DbConn,
    message: MessageId,
    status: ReviewStatus,
    by: StaffId,
    comment: Option<&str>,
    edited: bool,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    Ok(diesel::update(
        reviews::table
            .find(message)
            .filter(reviews::status.eq(ReviewStatus::AwaitingReview)),
    )
    .set((
        reviews::status.eq(status),
        reviews::decided_by.eq(Some(by)),
        reviews::decided_at.eq(Some(to_db(now))),
        reviews::comment.eq(comment),
        reviews::edited.eq(edited),
    ))
    .execute(conn)?
        == 1)
}

/// A held reply as the review list shows it: the ticket, the author, the draft.
#[derive(Debug, Clone, Queryable)]
pub struct WaitingRow {
    pub message_id: MessageId,
    pub ticket_id: TicketId,
    pub reference: String,
    pub subject: String,
    pub urgent: bool,
    pub reply_due_at: Option<NaiveDateTime>,
    pub author_id: StaffId,
    pub author_name: String,
    pub status: ReviewStatus,
    pub reason: HoldReason,
    pub close_ticket: bool,
    pub submitted_at: NaiveDateTime,
    pub body_text: String,
    pub comment: Option<String>,
}

#[diesel::dsl::auto_type(no_type_alias)]
fn waiting_columns() -> _ {
    (
        reviews::message_id,
        reviews::ticket_id,
        tickets::reference,
        tickets::subject,
        tickets::urgent,
        tickets::reply_due_at,
        reviews::author_id,
        staff::name,
        reviews::status,
        reviews::reason,
        reviews::close_ticket,
        reviews::submitted_at,
        messages::body_text,
        reviews::comment,
    )
}

/// Every reply waiting for review, oldest first (the supervisors' list).
pub fn waiting(conn: &mut DbConn) -> Result<Vec<WaitingRow>, DbError> {
    Ok(reviews::table
        .inner_join(tickets::table)
        .inner_join(messages::table)
        .inner_join(staff::table.on(staff::id.eq(reviews::author_id)))
        .filter(reviews::status.eq(ReviewStatus::AwaitingReview))
        .order((reviews::submitted_at, reviews::message_id))
        .select(waiting_columns())
        .load(conn)?)
}

/// An author's own held replies, waiting or returned, oldest first.
pub fn held_of(conn: &mut DbConn, author: StaffId) -> Result<Vec<WaitingRow>, DbError> {
    Ok(reviews::table
        .inner_join(tickets::table)
        .inner_join(messages::table)
        .inner_join(staff::table.on(staff::id.eq(reviews::author_id)))
        .filter(reviews::author_id.eq(author))
        .filter(reviews::status.ne(ReviewStatus::Approved))
        .order((reviews::submitted_at, reviews::message_id))
        .select(waiting_columns())
        .load(conn)?)
}

/// Waiting replies whose supervisors have not been reminded yet, oldest first.
pub fn unreminded(conn: &mut DbConn) -> Result<Vec<WaitingRow>, DbError> {
    Ok(reviews::table
        .inner_join(tickets::table)
        .inner_join(messages::table)
        .inner_join(staff::table.on(staff::id.eq(reviews::author_id)))
        .filter(reviews::status.eq(ReviewStatus::AwaitingReview))
        .filter(reviews::reminded_at.is_null())
        .order((reviews::submitted_at, reviews::message_id))
        .select(waiting_columns())
        .load(conn)?)
}

/// Takes the right to send a waiting reply's reminder; false if it was taken (or decided).
pub fn claim_reminder(
    conn: &mut DbConn,
    message: MessageId,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    Ok(diesel::update(
        reviews::table
            .find(message)
            .filter(reviews::status.eq(ReviewStatus::AwaitingReview))
            .filter(reviews::reminded_at.is_null()),
    )
    .set(reviews::reminded_at.eq(Some(to_db(now))))
    .execute(conn)?
        == 1)
}

/// Whether a reply waits for review on this ticket.
pub fn awaiting_on(conn: &mut DbConn, ticket: TicketId) -> Result<bool, DbError> {
    Ok(diesel::select(diesel::dsl::exists(
        reviews::table
            .filter(reviews::ticket_id.eq(ticket))
            .filter(reviews::status.eq(ReviewStatus::AwaitingReview)),
    ))
    .get_result(conn)?)
}

/// The queue's "waiting for review" mark, as a column of a query over `tickets`: one
/// correlated lookup per line shown, on the `reviews_by_ticket` index.
pub fn awaiting_mark() -> diesel::expression::SqlLiteral<diesel::sql_types::Bool> {
    diesel::dsl::sql::<diesel::sql_types::Bool>(
        "EXISTS (SELECT 1 FROM reviews WHERE reviews.ticket_id = tickets.id \
         AND reviews.status = 'awaiting_review')",
    )
}

/// Retention: a supervisor's comments on the ticket's replies (they may quote the consulter)
/// are erased; who decided what, and when, stays.
pub fn erase_of_ticket(conn: &mut DbConn, ticket: TicketId) -> Result<usize, DbError> {
    Ok(
        diesel::update(reviews::table.filter(reviews::ticket_id.eq(ticket)))
            .set(reviews::comment.eq(None::<String>))
            .execute(conn)?,
    )
}
