//! The one intake path for mail, used by `madoguchi ingest` and the IMAP poller: parse,
//! decide, and store in one transaction, with the acknowledgement queued in it.

use chrono::{DateTime, Utc};
use diesel::Connection;

use crate::db::intake as db;
use crate::db::tickets::{self, MessageId, NewMessage, OpenTicket, TicketId};
use crate::db::{DbConn, DbError, quarantine, to_db, write_tx};
use crate::desk::{DeskError, urgent};
use crate::domain::automatic::{self, Automatic};
use crate::domain::threading::{self, Candidate, Thread, ThreadFacts};
use crate::domain::{clock, reference};
use crate::intake::Outcome;
use crate::intake::parse::{self, InboundMail};
use crate::mail::mailer::{Acknowledgement, ComposeError};
use crate::mail::outgoing;
use crate::state::AppState;

#[derive(Debug, thiserror::Error)]
pub enum TakeError {
    /// Nothing was stored; the sender should try again (exit 75 for an MTA).
    #[error("not stored, try again: {0}")]
    Unavailable(String),
}

impl From<DbError> for TakeError {
    fn from(e: DbError) -> Self {
        Self::Unavailable(e.to_string())
    }
}

/// Inside the transaction: either a database error (roll back, try again) or a reason to
/// quarantine (roll back, keep the raw bytes).
enum Failure {
    Db(DbError),
    Quarantine(String),
}

impl From<DbError> for Failure {
    fn from(e: DbError) -> Self {
        Self::Db(e)
    }
}

impl From<diesel::result::Error> for Failure {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(e.into())
    }
}

impl From<DeskError> for Failure {
    fn from(e: DeskError) -> Self {
        match e {
            DeskError::Db(e) => Self::Db(e),
            other => Self::Quarantine(other.to_string()),
        }
    }
}

impl From<ComposeError> for Failure {
    fn from(e: ComposeError) -> Self {
        Self::Quarantine(format!("acknowledgement could not be made: {e}"))
    }
}

/// Takes one raw message. Anything that is not a database failure ends stored: as a ticket,
/// a follow-up, a bounce, or in quarantine.
pub fn take(
    state: &AppState,
    conn: &mut DbConn,
    raw: &[u8],
    source: &str,
) -> Result<Outcome, TakeError> {
    let outcome = match attempt(state, conn, raw)? {
        Ok(outcome) => outcome,
        Err(reason) => quarantine_now(conn, raw, source, &reason, state.time.now())?,
    };
    state.metrics.intake(source, outcome.as_str());
    Ok(outcome)
}

/// Takes several messages in one transaction, each under its own savepoint, so that one
/// commit pays for many: the cost of a commit bounds intake. A mail that fails alone is
/// quarantined alone; a database failure rolls the whole batch back, and nothing of it is
/// stored (the caller says "try again", and the redelivery is recognised mail by mail).
pub fn take_batch(
    state: &AppState,
    conn: &mut DbConn,
    raws: &[Vec<u8>],
    source: &str,
) -> Result<Vec<Outcome>, TakeError> {
    let now = state.time.now();
    let max = state.settings.intake.max_attachment_bytes;
    let parsed: Vec<Result<InboundMail, String>> = raws
        .iter()
        .map(|raw| parse::parse(raw, max).map_err(|e| e.to_string()))
        .collect();
    let mut acknowledged = false;
    let taken = write_tx(conn, |conn| {
        let mut out = Vec::with_capacity(raws.len());
        for (raw, mail) in raws.iter().zip(&parsed) {
            let mail = match mail {
                Ok(mail) => mail,
                Err(reason) => {
                    out.push(Err(reason.clone()));
                    continue;
                }
            };
            match conn.transaction(|c| decide_and_store(state, c, raw, mail, now)) {
                Ok(outcome) => {
                    acknowledged |= matches!(
                        outcome,
                        Outcome::Opened {
                            acknowledged: true,
                            ..
                        }
                    );
                    out.push(Ok(outcome));
                }
                Err(Failure::Quarantine(reason)) => out.push(Err(reason)),
                Err(Failure::Db(e))
                    if e.is_unique_violation() && db::message_stored(conn, &mail.message_id)? =>
                {
                    out.push(Ok(Outcome::Duplicate));
                }
                Err(failure) => return Err(failure),
            }
        }
        Ok(out)
    })
    .map_err(|f| match f {
        Failure::Db(e) => TakeError::from(e),
        Failure::Quarantine(reason) => TakeError::Unavailable(reason),
    })?;
    if acknowledged {
        state.waker.wake();
    }
    let mut outcomes = Vec::with_capacity(taken.len());
    for (raw, result) in raws.iter().zip(taken) {
        let outcome = match result {
            Ok(outcome) => outcome,
            Err(reason) => quarantine_now(conn, raw, source, &reason, now)?,
        };
        state.metrics.intake(source, outcome.as_str());
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

/// Tries a quarantined mail again (after a fix, or a changed setting). It leaves quarantine
/// only when it was taken this time; otherwise the reason is brought up to date.
pub fn retry(state: &AppState, conn: &mut DbConn, id: i64) -> Result<Option<Outcome>, TakeError> {
    let Some(raw) = quarantine::raw(conn, id)? else {
        return Ok(None);
    };
    let now = state.time.now();
    match attempt(state, conn, &raw)? {
        Ok(outcome) => {
            quarantine::retried(conn, id, true, None, now)?;
            Ok(Some(outcome))
        }
        Err(reason) => {
            quarantine::retried(conn, id, false, Some(&reason), now)?;
            Ok(Some(Outcome::Quarantined { id }))
        }
    }
}

/// Parses and stores, or says why the mail must be quarantined.
fn attempt(
    state: &AppState,
    conn: &mut DbConn,
    raw: &[u8],
) -> Result<Result<Outcome, String>, TakeError> {
    let now = state.time.now();
    let mail = match parse::parse(raw, state.settings.intake.max_attachment_bytes) {
        Ok(mail) => mail,
        Err(e) => return Ok(Err(e.to_string())),
    };
    let mut stored_ack = false;
    let result = write_tx(conn, |conn| {
        let outcome = decide_and_store(state, conn, raw, &mail, now)?;
        if let Outcome::Opened { acknowledged, .. } = outcome {
            stored_ack = acknowledged;
        }
        Ok(outcome)
    });
    match result {
        Ok(outcome) => {
            if stored_ack {
                state.waker.wake();
            }
            Ok(Ok(outcome))
        }
        // Two deliveries of one mail at once: the other one stored it.
        Err(Failure::Db(e)) if e.is_unique_violation() => {
            if db::message_stored(conn, &mail.message_id)? {
                Ok(Ok(Outcome::Duplicate))
            } else {
                Err(e.into())
            }
        }
        Err(Failure::Db(e)) => Err(e.into()),
        Err(Failure::Quarantine(reason)) => Ok(Err(reason)),
    }
}

fn quarantine_now(
    conn: &mut DbConn,
    raw: &[u8],
    source: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Outcome, TakeError> {
    let id = quarantine::put(conn, raw, source, reason, now)?;
    tracing::warn!(quarantine_id = id, reason, "mail quarantined");
    Ok(Outcome::Quarantined { id })
}

fn decide_and_store(
    state: &AppState,
    conn: &mut DbConn,
    raw: &[u8],
    mail: &InboundMail,
    now: DateTime<Utc>,
) -> Result<Outcome, Failure> {
    let own = &state.settings.center.reply_address;
    let kind = automatic::classify(
        &mail.headers,
        mail.from_address.as_deref(),
        mail.return_path_null,
        own,
    );
    if let Some(dsn) = &mail.dsn {
        return bounce(conn, raw, mail, dsn, now);
    }
    let mut related: Vec<String> = mail.in_reply_to.clone();
    related.extend(mail.references.iter().cloned());
    let header_match = db::ticket_by_message_ids(conn, &related)?.map(candidate);
    let subject_match = match reference::find_in_subject(&mail.subject) {
        Some(r) => db::ticket_by_reference(conn, &r)?.map(candidate),
        None => None,
    };
    let facts = ThreadFacts {
        already_stored: db::message_stored(conn, &mail.message_id)?,
        header_match,
        subject_match,
        sender: mail.from_address.as_deref(),
    };
    let Some(from) = mail.from_address.as_deref() else {
        return Err(Failure::Quarantine("no sender address".into()));
    };
    match threading::decide(&facts) {
        Thread::Duplicate => Ok(Outcome::Duplicate),
        Thread::Join(ticket_id) => {
            follow_up(state, conn, raw, mail, ticket_id, kind, now)?;
            Ok(Outcome::Joined { ticket_id })
        }
        Thread::New => open(state, conn, raw, mail, from, kind, now),
    }
}

fn candidate((ticket_id, consulter_email): (i64, String)) -> Candidate {
    Candidate {
        ticket_id,
        consulter_email,
    }
}

fn store_message(
    conn: &mut DbConn,
    raw: &[u8],
    mail: &InboundMail,
    ticket_id: i64,
    automatic: bool,
    now: DateTime<Utc>,
) -> Result<MessageId, Failure> {
    let skipped = skipped_note(mail);
    let in_reply_to = mail.in_reply_to.first().map(String::as_str);
    let references = (!mail.references.is_empty()).then(|| mail.references.join(" "));
    let message = tickets::add_message(
        conn,
        &NewMessage {
            ticket_id,
            kind: "inbound",
            author_id: None,
            subject: Some(&mail.subject),
            body_text: &mail.body_text,
            rfc_message_id: Some(&mail.message_id),
            in_reply_to,
            references_header: references.as_deref(),
            from_address: mail.from_address.as_deref(),
            automatic,
            raw_mime: Some(raw),
            system_note: skipped.as_deref(),
            created_at: to_db(now),
        },
    )?;
    for a in &mail.attachments {
        db::add_attachment(
            conn,
            message.0,
            &a.filename,
            &a.content_type,
            &a.content,
            now,
        )?;
    }
    Ok(message)
}

/// Says which attachments were left out and why, so staff can ask for them another way.
fn skipped_note(mail: &InboundMail) -> Option<String> {
    if mail.skipped_attachments.is_empty() {
        return None;
    }
    let names: Vec<String> = mail
        .skipped_attachments
        .iter()
        .map(|s| format!("{} ({} bytes)", s.filename, s.size))
        .collect();
    Some(format!(
        "attachments left out for their size: {}",
        names.join(", ")
    ))
}

fn follow_up(
    state: &AppState,
    conn: &mut DbConn,
    raw: &[u8],
    mail: &InboundMail,
    ticket_id: i64,
    kind: Automatic,
    now: DateTime<Utc>,
) -> Result<(), Failure> {
    let message = store_message(conn, raw, mail, ticket_id, kind.is_automatic(), now)?;
    if kind.is_automatic() {
        // An out-of-office answer to our mail reopens nothing and owes nobody a reply.
        return Ok(());
    }
    let ticket = TicketId(ticket_id);
    let target = db::join_target(conn, ticket_id)?;
    if let Some(flag) = urgent::assess(state, &mail.subject, &mail.body_text) {
        urgent::raise(
            state,
            conn,
            ticket_id,
            &target.reference,
            message.0,
            &flag,
            now,
        )?;
    }
    if target.status == "waiting" || target.status == "closed" {
        tickets::update(conn, ticket, Some("open"), None, now)?;
    }
    if target.reply_due_at.is_none() {
        tickets::start_clock(
            conn,
            ticket,
            now,
            clock::reply_due_at(&state.rules, now),
            message,
        )?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn open(
    state: &AppState,
    conn: &mut DbConn,
    raw: &[u8],
    mail: &InboundMail,
    from: &str,
    kind: Automatic,
    now: DateTime<Utc>,
) -> Result<Outcome, Failure> {
    let subject = threading::clean_subject(&mail.subject);
    let reference = new_reference(conn)?;
    let opened = tickets::open(
        conn,
        &OpenTicket {
            reference: &reference,
            subject: &subject,
            channel: "email",
            consulter_email: from,
            consulter_name: mail.from_name.as_deref(),
            relationship: None,
            age_group: None,
            area: None,
            urgent: false,
            received_at: now,
        },
    )?;
    let ticket = opened.ticket_id;
    let message = store_message(conn, raw, mail, ticket.0, kind.is_automatic(), now)?;
    if kind.is_automatic() {
        // Stored for a person to see, but never answered: that is how mail loops start.
        return Ok(Outcome::Opened {
            ticket_id: ticket.0,
            acknowledged: false,
        });
    }
    let due = clock::reply_due_at(&state.rules, now);
    tickets::start_clock(conn, ticket, now, due, message)?;
    let flag = urgent::assess(state, &mail.subject, &mail.body_text);
    if let Some(flag) = &flag {
        urgent::raise(state, conn, ticket.0, &reference, message.0, flag, now)?;
    }
    let ack = state.mailer.acknowledgement(
        &Acknowledgement {
            to: from,
            name: mail.from_name.as_deref(),
            reference: &reference,
            subject: &subject,
            reply_due_at: due,
            in_reply_to: (!mail.synthetic_id).then_some(mail.message_id.as_str()),
            urgent: flag.is_some(),
        },
        now,
    )?;
    Ok(Outcome::Opened {
        ticket_id: ticket.0,
        acknowledged: outgoing::acknowledge(conn, ticket, &ack, now)?,
    })
}

/// A reference no ticket has yet (checked, since a unique violation would end the transaction).
fn new_reference(conn: &mut DbConn) -> Result<String, Failure> {
    for _ in 0..5 {
        let candidate = reference::from_entropy(crate::random::bytes());
        if !tickets::reference_exists(conn, &candidate)? {
            return Ok(candidate);
        }
    }
    Err(Failure::Db(DbError::Unavailable(
        "no free reference after five tries".into(),
    )))
}

/// A delivery report marks the mail it names as failed and is kept on that ticket, as an
/// automatic message staff can read; it opens no ticket.
fn bounce(
    conn: &mut DbConn,
    raw: &[u8],
    mail: &InboundMail,
    dsn: &parse::Dsn,
    now: DateTime<Utc>,
) -> Result<Outcome, Failure> {
    let original = dsn
        .original_message_id
        .as_deref()
        .map(|id| db::outbound_by_message_id(conn, id))
        .transpose()?
        .flatten();
    let Some((outbox_id, ticket_id)) = original else {
        return Err(Failure::Quarantine(
            "a delivery report about no mail we sent".into(),
        ));
    };
    let diagnostic = [
        dsn.status.as_deref(),
        dsn.diagnostic.as_deref(),
        dsn.action.as_deref(),
    ]
    .iter()
    .flatten()
    .copied()
    .collect::<Vec<_>>()
    .join(" ");
    let diagnostic = if diagnostic.is_empty() {
        "bounced".to_string()
    } else {
        format!("bounced: {diagnostic}")
    };
    db::mark_bounced(conn, outbox_id, &diagnostic)?;
    if let Some(ticket_id) = ticket_id {
        store_message(conn, raw, mail, ticket_id, true, now)?;
    }
    Ok(Outcome::Bounce { ticket_id })
}
