//! The consulter's own page (/my, CONTRACT §10): signing in with the reference and the
//! passphrase, reading the thread (each read recorded for the consulter's own history, not in
//! the staff audit), writing again, signing out; and, for staff, what the ticket shows of it
//! and ending it. A consulter's session opens this page's use-cases and nothing else.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};

use super::{Actor, DeskError, audit, followup, urgent};
use crate::db::messages::{self, NewMessage};
use crate::db::my_thread::{self, MyMessage};
use crate::db::{
    DbConn, DbError, from_db, my_access, my_reads, my_sessions, my_sign_in_failures, tickets,
    write_tx,
};
use crate::domain::consultation::clean_text;
use crate::domain::reference;
use crate::domain::vocabulary::{MessageId, MessageKind, MySessionId, Status, TicketId};
use crate::state::AppState;

use super::auth::{CHECK_WAIT, DUMMY_HASH, tokens};

/// An address (a household, an office) gets this many times a reference's allowance.
const ADDRESS_FACTOR: i64 = 4;
/// A page in use is noted at most this often.
const TOUCH_EVERY: i64 = 60;
/// What the staff thread notes on a message written on the page.
pub const WRITTEN_ON_PAGE: &str = "written by the consulter on their page (/my)";

/// A consulter signed in on their page: their ticket, and nothing else.
#[derive(Debug, Clone, Copy)]
pub struct Consulter {
    pub session_id: MySessionId,
    pub ticket_id: TicketId,
}

pub struct Opened {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

pub fn idle(state: &AppState) -> Duration {
    Duration::minutes(i64::from(state.settings.my_page.idle_minutes))
}

/// Checks the passphrase. An unknown reference, one without a passphrase and a wrong
/// passphrase take the same argon2 check and give the same answer; failures cool off a
/// reference and an address. No connection is held while the passphrase is checked.
pub fn sign_in(
    state: &AppState,
    typed_reference: &str,
    passphrase: &str,
    addr: &str,
) -> Result<Opened, DeskError> {
    let normalised = reference::normalise(typed_reference);
    // What cannot be a reference is still counted, under what was typed (bounded).
    let key = normalised.clone().unwrap_or_else(|| {
        typed_reference
            .trim()
            .to_uppercase()
            .chars()
            .take(40)
            .collect()
    });
    let now = state.time.now();
    let settings = &state.settings.my_page;
    let cooling = Duration::minutes(i64::from(settings.cooling_off_minutes));
    let allowed = i64::from(settings.max_failed_sign_ins);
    let (place, found) = {
        let mut conn = state.pool.get().map_err(DbError::from)?;
        let place = my_sign_in_failures::reserve(
            &mut conn,
            &key,
            addr,
            now - cooling,
            now,
            allowed,
            allowed * ADDRESS_FACTOR,
        )?
        .ok_or(DeskError::Throttled {
            retry_after_seconds: cooling.num_seconds(),
        })?;
        let found = match &normalised {
            Some(r) => my_access::for_reference(&mut conn, r)?,
            None => None,
        };
        (place, found)
    };
    let (ticket, hash) = match found {
        Some((ticket, Some(hash))) => (Some(ticket), hash),
        _ => (None, DUMMY_HASH.to_string()),
    };
    let checked = state.password_checker.verify(passphrase, &hash, CHECK_WAIT);
    let mut conn = state.pool.get().map_err(DbError::from)?;
    let ticket = match (checked, ticket) {
        (None, _) => {
            my_sign_in_failures::release(&mut conn, place)?;
            return Err(DeskError::Busy);
        }
        (Some(true), Some(ticket)) => ticket,
        _ => return Err(DeskError::WrongPassphrase),
    };
    let conn = &mut *conn;
    my_sign_in_failures::release(conn, place)?;
    my_sign_in_failures::clear(conn, &key)?;
    let token = tokens::new_token();
    my_sessions::create(conn, ticket, &tokens::hash(&token), now)?;
    tracing::info!(ticket_id = ticket.0, "consulter opened their page");
    Ok(Opened {
        token,
        expires_at: now + idle(state),
    })
}

/// The consulter a page token stands for, while it is unused less than the idle time and
/// the page access has not been ended.
pub fn authenticate(
    state: &AppState,
    conn: &mut DbConn,
    token: &str,
) -> Result<Consulter, DeskError> {
    let session =
        my_sessions::by_token(conn, &tokens::hash(token))?.ok_or(DeskError::InvalidToken)?;
    let now = state.time.now();
    let last_seen = from_db(session.last_seen_at);
    if session.revoked_at.is_some() || !my_access::is_open(conn, session.ticket_id)? {
        return Err(DeskError::InvalidToken);
    }
    if last_seen + idle(state) <= now {
        return Err(DeskError::Expired);
    }
    if now - last_seen > Duration::seconds(TOUCH_EVERY) {
        my_sessions::touch(conn, session.id, now)?;
    }
    Ok(Consulter {
        session_id: session.id,
        ticket_id: session.ticket_id,
    })
}

/// The consultation as its consulter sees it.
pub struct MyView {
    pub reference: String,
    pub status: Status,
    pub messages: Vec<MyMessage>,
}

/// The thread, and the read recorded with the newest message it showed.
pub fn read(state: &AppState, conn: &mut DbConn, who: &Consulter) -> Result<MyView, DeskError> {
    let now = state.time.now();
    write_tx(conn, |conn| {
        let target = tickets::join_target(conn, who.ticket_id)?;
        let messages = my_thread::thread(conn, who.ticket_id)?;
        let newest = messages.last().map(|m| m.id);
        my_reads::record(conn, who.ticket_id, who.session_id, newest, now)?;
        Ok(MyView {
            reference: target.reference,
            status: target.status,
            messages,
        })
    })
}

/// A message written on the page: an inbound message of the same ticket, triaged and
/// starting a clock as a mail that joins the thread does.
pub fn write(
    state: &AppState,
    conn: &mut DbConn,
    who: &Consulter,
    body: &str,
) -> Result<(MessageId, DateTime<Utc>), DeskError> {
    let body = clean_text(body);
    if body.is_empty() {
        return Err(DeskError::Invalid(vec![("body", "required")]));
    }
    if body.chars().count() > state.settings.intake.max_body_chars {
        return Err(DeskError::Invalid(vec![("body", "too_long")]));
    }
    let now = state.time.now();
    let flag = urgent::assess(state, "", &body);
    let id = write_tx(conn, |conn| {
        let message = messages::add(
            conn,
            &NewMessage {
                system_note: Some(WRITTEN_ON_PAGE),
                ..NewMessage::inbound(who.ticket_id, None, &body, None, now)
            },
        )?;
        followup::consulter_wrote(state, conn, who.ticket_id, message, flag.as_ref(), now)?;
        Ok::<_, DeskError>(message)
    })?;
    // Ids only: never what was written.
    tracing::info!(
        ticket_id = who.ticket_id.0,
        message_id = id.0,
        "consulter wrote on their page"
    );
    state.waker.wake();
    Ok((id, now))
}

pub fn sign_out(state: &AppState, conn: &mut DbConn, who: &Consulter) -> Result<(), DeskError> {
    my_sessions::revoke(conn, who.session_id, state.time.now())?;
    Ok(())
}

/// What the ticket shows staff of the page: never the passphrase.
#[derive(Debug, Clone)]
pub struct PageState {
    /// The consulter reads on the page (access not ended).
    pub active: bool,
    pub notice_only: bool,
    pub ended_at: Option<NaiveDateTime>,
    pub reads: i64,
    pub last_read_at: Option<NaiveDateTime>,
    /// Whether the newest staff reply shown on the page was read there; `None`: no reply yet.
    pub latest_reply_read: Option<bool>,
}

pub fn state_of(conn: &mut DbConn, ticket: TicketId) -> Result<Option<PageState>, DbError> {
    let Some(access) = my_access::of_ticket(conn, ticket)? else {
        return Ok(None);
    };
    let reads = my_reads::so_far(conn, ticket)?;
    let latest_reply = my_thread::thread(conn, ticket)?
        .into_iter()
        .rev()
        .find(|m| m.kind == MessageKind::Outbound)
        .map(|m| m.id);
    Ok(Some(PageState {
        active: access.ended_at.is_none(),
        notice_only: access.notice_only,
        ended_at: access.ended_at,
        reads: reads.count,
        last_read_at: reads.last_at,
        latest_reply_read: latest_reply.map(|r| reads.newest_seen.is_some_and(|seen| seen >= r)),
    }))
}

/// A supervisor ends page access: the passphrase is forgotten and every page sign-in ends;
/// the consulter gets replies by mail again (a notice only, when they asked for that).
/// Audited; ending an ended access changes nothing and is not an error.
pub fn end_access(
    state: &AppState,
    conn: &mut DbConn,
    actor: &Actor,
    ticket: TicketId,
) -> Result<(), DeskError> {
    actor.require_supervisor()?;
    let now = state.time.now();
    write_tx(conn, |conn| {
        if my_access::of_ticket(conn, ticket)?.is_none() {
            return Err(DeskError::NotFound("page access"));
        }
        let ended = my_access::end(conn, ticket, actor.staff_id, now)?;
        my_sessions::revoke_all_of(conn, ticket, now)?;
        audit(
            conn,
            actor,
            now,
            "ticket.my_access.end",
            Some(ticket),
            None,
            Some(if ended { "ended" } else { "already_ended" }),
        )?;
        Ok(())
    })
}
