//! Reply review (CONTRACT §8): a reply that a supervisor must read first is held (kept as
//! its message, nothing mailed, the reply clock running), then approved, as written or
//! edited, and sent exactly as a direct reply is, or returned to its author with a comment.
//! Every step is audited with who and when, never the text.

use chrono::{DateTime, Utc};
use minijinja::context;

use super::sending::{self, ReplyText, guard_collision, head, text_field};
use super::tickets::{self, TicketView};
use super::{Actor, DeskError, audit};
use crate::db::messages;
use crate::db::reviews::{self, ReviewRow, WaitingRow};
use crate::db::{DbConn, from_db, staff, write_tx};
use crate::domain::jpdate;
use crate::domain::review::remind_at;
use crate::domain::vocabulary::{MessageId, ReviewStatus, Role};
use crate::state::AppState;

/// Every reply waiting for review, oldest first (supervisors); the read is audited.
pub fn waiting(
    state: &AppState,
    conn: &mut DbConn,
    actor: &Actor,
) -> Result<Vec<WaitingRow>, DeskError> {
    actor.require_supervisor()?;
    let rows = reviews::waiting(conn)?;
    let detail = format!("count={}", rows.len());
    audit(
        conn,
        actor,
        state.time.now(),
        "reviews.read",
        None,
        None,
        Some(&detail),
    )?;
    Ok(rows)
}

/// The active counsellors, each with whether their replies are reviewed (supervisors; for
/// the 承認待ち page's policy control).
pub fn counsellors(
    conn: &mut DbConn,
    actor: &Actor,
) -> Result<Vec<(crate::domain::vocabulary::StaffId, String, bool)>, DeskError> {
    actor.require_supervisor()?;
    Ok(staff::list(conn)?
        .into_iter()
        .filter(|s| s.active && s.role == Role::Counsellor)
        .map(|s| (s.id, s.name, s.review_replies))
        .collect())
}

/// The actor's own replies that are held, waiting or returned to them; audited.
pub fn mine(
    state: &AppState,
    conn: &mut DbConn,
    actor: &Actor,
) -> Result<Vec<WaitingRow>, DeskError> {
    let rows = reviews::held_of(conn, actor.staff_id)?;
    let detail = format!("count={} own=true", rows.len());
    audit(
        conn,
        actor,
        state.time.now(),
        "reviews.read",
        None,
        None,
        Some(&detail),
    )?;
    Ok(rows)
}

/// One held reply with its whole ticket, for a supervisor to read beside the thread. The
/// ticket read is audited as every ticket read is, and the review's besides.
pub fn open(
    state: &AppState,
    conn: &mut DbConn,
    actor: &Actor,
    message: MessageId,
) -> Result<(ReviewRow, TicketView), DeskError> {
    actor.require_supervisor()?;
    let review = reviews::get(conn, message)?.ok_or(DeskError::NotFound("review"))?;
    let view = tickets::view(state, conn, actor, review.ticket_id)?;
    let target = format!("message:{message}");
    audit(
        conn,
        actor,
        state.time.now(),
        "review.read",
        Some(review.ticket_id),
        Some(&target),
        None,
    )?;
    Ok((review, view))
}

/// A supervisor approves a waiting reply, as written or with `body` instead; it goes out as
/// a direct reply does (threading, the clock stopped, the status its author chose).
pub fn approve(
    state: &AppState,
    conn: &mut DbConn,
    actor: &Actor,
    message: MessageId,
    body: Option<&str>,
    last_seen_message_id: Option<MessageId>,
) -> Result<MessageId, DeskError> {
    actor.require_supervisor()?;
    let edited_body = body.map(|b| text_field("body", b)).transpose()?;
    let now = state.time.now();
    write_tx(conn, |conn| {
        let review = awaiting(conn, message)?;
        let head = head(conn, review.ticket_id)?;
        guard_collision(state, conn, review.ticket_id, last_seen_message_id)?;
        let written = messages::body_of(conn, message)?.ok_or(DeskError::NotFound("review"))?;
        let body = edited_body.unwrap_or_else(|| written.clone());
        let edited = body != written;
        let author =
            staff::contact(conn, review.author_id)?.ok_or(DeskError::NotFound("staff account"))?;
        let text = ReplyText {
            author: review.author_id,
            author_name: &author.name,
            body: &body,
            close: review.close_ticket,
        };
        let (_, status) = sending::send(state, conn, &head, &text, Some(message), now)?;
        if !reviews::decide(
            conn,
            message,
            ReviewStatus::Approved,
            actor.staff_id,
            None,
            edited,
            now,
        )? {
            return Err(DeskError::ReviewDecided);
        }
        let target = format!("message:{message}");
        let detail = format!("edited={edited} status={status}");
        audit(
            conn,
            actor,
            now,
            "review.approve",
            Some(review.ticket_id),
            Some(&target),
            Some(&detail),
        )?;
        Ok::<(), DeskError>(())
    })?;
    state.waker.wake();
    Ok(message)
}

/// A supervisor returns a waiting reply to its author with a comment; nothing is sent.
pub fn send_back(
    state: &AppState,
    conn: &mut DbConn,
    actor: &Actor,
    message: MessageId,
    comment: &str,
) -> Result<ReviewRow, DeskError> {
    actor.require_supervisor()?;
    let comment = text_field("comment", comment)?;
    let now = state.time.now();
    write_tx(conn, |conn| {
        let review = awaiting(conn, message)?;
        if !reviews::decide(
            conn,
            message,
            ReviewStatus::Returned,
            actor.staff_id,
            Some(&comment),
            false,
            now,
        )? {
            return Err(DeskError::ReviewDecided);
        }
        let target = format!("message:{message}");
        audit(
            conn,
            actor,
            now,
            "review.return",
            Some(review.ticket_id),
            Some(&target),
            None,
        )?;
        reviews::get(conn, message)?.ok_or(DeskError::NotFound("review"))
    })
}

/// The review of `message`, which must be waiting.
fn awaiting(conn: &mut DbConn, message: MessageId) -> Result<ReviewRow, DeskError> {
    let review = reviews::get(conn, message)?.ok_or(DeskError::NotFound("review"))?;
    if review.status != ReviewStatus::AwaitingReview {
        return Err(DeskError::ReviewDecided);
    }
    Ok(review)
}

/// Reminds the supervisors, once, of each reply that has waited `review.remind_after_hours`
/// (business hours in business mode); each reminder is claimed in the database in the same
/// transaction that queues its mail. Says how many replies were reminded of.
pub fn remind(state: &AppState, conn: &mut DbConn, now: DateTime<Utc>) -> Result<usize, DeskError> {
    let hours = state.settings.review.remind_after_hours;
    let due: Vec<WaitingRow> = reviews::unreminded(conn)?
        .into_iter()
        .filter(|r| remind_at(&state.rules, from_db(r.submitted_at), hours) <= now)
        .collect();
    let mut reminded = 0;
    for r in &due {
        reminded += write_tx(conn, |conn| {
            if !reviews::claim_reminder(conn, r.message_id, now)? {
                return Ok::<usize, DeskError>(0);
            }
            let supervisors = staff::active_with_role(conn, Role::Supervisor)?;
            let ctx = context! {
                reference => &r.reference,
                author => &r.author_name,
                since => jpdate::datetime_ja(&from_db(r.submitted_at).with_timezone(&state.rules.tz)),
                due => r.reply_due_at.map(|d| jpdate::datetime_ja(&from_db(d).with_timezone(&state.rules.tz))),
                link => state.mailer.ticket_link(r.ticket_id),
                review_link => state.mailer.review_link(r.message_id),
            };
            super::notify::queue(
                state,
                conn,
                "review_reminder",
                Some(r.ticket_id),
                &supervisors,
                ctx,
                now,
            )?;
            Ok(1)
        })?;
    }
    Ok(reminded)
}
