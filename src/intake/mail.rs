//! The one intake path for mail, used by `madoguchi ingest`, the hand-off and the IMAP
//! poller: prepare (parse, triage: [`prepared`]), then decide and store in one transaction,
//! with the acknowledgement queued in it.

mod prepared;

pub use prepared::{Prepared, prepare, prepare_async};

use chrono::{DateTime, Utc};
use diesel::Connection;

use crate::db::messages::{self, NewMessage};
use crate::db::{DbConn, DbError, outbox, quarantine, tickets, write_tx};
use crate::desk::consultation;
use crate::desk::{self, Actor, DeskError, urgent};
use crate::domain::automatic::Automatic;
use crate::domain::threading::{self, Thread, ThreadFacts};
use crate::domain::vocabulary::{MessageId, QuarantineId, TicketId};
use crate::domain::{inbound, reference};
use crate::intake::Outcome;
use crate::intake::parse::{self, InboundMail};
use crate::state::AppState;
use prepared::{Kept, Ready, Titled};

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

/// Takes one raw message, in a transaction of its own (or the caller's), and logs it.
/// Anything that is not a database failure ends stored: as a ticket, a follow-up, a bounce,
/// or in quarantine.
pub fn take(
    state: &AppState,
    conn: &mut DbConn,
    raw: &[u8],
    source: &str,
) -> Result<Outcome, TakeError> {
    let prepared = prepare(state, raw, state.time.now());
    let outcome = take_prepared(state, conn, raw, prepared, source)?;
    outcome.record(state, source);
    Ok(outcome)
}

/// [`take`] with its [`Prepared`] part made beforehand, and not logged: a caller in a group
/// commit logs the outcome ([`Outcome::record`]) once it is committed.
pub fn take_prepared(
    state: &AppState,
    conn: &mut DbConn,
    raw: &[u8],
    prepared: Prepared,
    source: &str,
) -> Result<Outcome, TakeError> {
    let now = prepared.now;
    match attempt(state, conn, raw, prepared)? {
        Ok(outcome) => Ok(outcome),
        Err(reason) => quarantine_now(conn, raw, source, &reason, now),
    }
}

/// Takes several messages in one transaction, so that one commit pays for many: the cost of
/// a commit bounds intake. A mail that fails alone is quarantined alone; a database failure
/// rolls the whole batch back, and nothing of it is stored (the caller says "try again", and
/// the redelivery is recognised mail by mail).
///
/// The batch is first stored without a savepoint per mail: on PostgreSQL each savepoint is two
/// more round trips per mail, on SQLite about 4 % of a mail's instructions. Should any mail
/// fail, that attempt is rolled back whole and the batch is stored again with a savepoint per
/// mail, so the failing one is quarantined alone; nothing is reported before the commit.
pub fn take_batch(
    state: &AppState,
    conn: &mut DbConn,
    raws: &[Vec<u8>],
    source: &str,
) -> Result<Vec<Outcome>, TakeError> {
    let now = state.time.now();
    let prepared = raws.iter().map(|raw| prepare(state, raw, now)).collect();
    take_batch_prepared(state, conn, raws, prepared, source, false)
}

/// [`take_batch`] with each mail's [`Prepared`] part made beforehand, in the order of `raws`;
/// each outcome logged at debug only when `quietly` ([`Outcome::record_quietly`]).
pub fn take_batch_prepared(
    state: &AppState,
    conn: &mut DbConn,
    raws: &[Vec<u8>],
    mut prepared: Vec<Prepared>,
    source: &str,
    quietly: bool,
) -> Result<Vec<Outcome>, TakeError> {
    let stored = match store_batch(state, conn, raws, &mut prepared, false) {
        Ok(stored) => stored,
        Err(Failure::Db(e)) if e.is_unavailable() => return Err(e.into()),
        // One mail failed: the batch again, carefully.
        Err(_) => store_batch(state, conn, raws, &mut prepared, true).map_err(|f| match f {
            Failure::Db(e) => TakeError::from(e),
            Failure::Quarantine(reason) => TakeError::Unavailable(reason),
        })?,
    };
    let (taken, acknowledged) = stored;
    if acknowledged {
        state.waker.wake();
    }
    let record = |outcome: &Outcome| match quietly {
        true => outcome.record_quietly(state, source),
        false => outcome.record(state, source),
    };
    // Committed: logged whatever befalls the quarantining below.
    taken.iter().flatten().for_each(record);
    let mut outcomes = Vec::with_capacity(taken.len());
    for ((raw, result), p) in raws.iter().zip(taken).zip(&prepared) {
        let outcome = match result {
            Ok(outcome) => outcome,
            Err(reason) => {
                let quarantined = quarantine_now(conn, raw, source, &reason, p.now)?;
                record(&quarantined);
                quarantined
            }
        };
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

/// Each mail's outcome, or why it goes to quarantine; and whether an acknowledgement was queued.
type Stored = (Vec<Result<Outcome, String>>, bool);

/// One write transaction over the batch. Without `savepoints`, any mail's failure fails the
/// whole attempt (rolled back); with them, a failing mail is rolled back alone and its reason
/// kept for quarantine.
fn store_batch(
    state: &AppState,
    conn: &mut DbConn,
    raws: &[Vec<u8>],
    prepared: &mut [Prepared],
    savepoints: bool,
) -> Result<Stored, Failure> {
    write_tx(conn, |conn| {
        let mut out = Vec::with_capacity(raws.len());
        let mut acknowledged = false;
        for (raw, p) in raws.iter().zip(prepared.iter_mut()) {
            let now = p.now;
            let ready = match &mut p.mail {
                Ok(ready) => ready,
                Err(reason) => {
                    out.push(Err(reason.clone()));
                    continue;
                }
            };
            let result = if savepoints {
                conn.transaction(|c| decide_and_store(state, c, raw, ready, now))
            } else {
                decide_and_store(state, conn, raw, ready, now)
            };
            match result {
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
                Err(failure) if !savepoints => return Err(failure),
                Err(Failure::Quarantine(reason)) => out.push(Err(reason)),
                Err(Failure::Db(e))
                    if e.is_unique_violation()
                        && messages::is_stored(conn, &ready.mail.message_id)? =>
                {
                    out.push(Ok(Outcome::Duplicate));
                }
                // The savepoint is gone; this mail alone goes to quarantine.
                Err(Failure::Db(e)) if !e.is_unavailable() => out.push(Err(unstorable(&e))),
                Err(failure) => return Err(failure),
            }
        }
        Ok((out, acknowledged))
    })
}

/// Tries a quarantined mail again (after a fix, or a changed setting). It leaves quarantine
/// only when it was taken this time; otherwise the reason is brought up to date.
pub fn retry(
    state: &AppState,
    conn: &mut DbConn,
    id: QuarantineId,
) -> Result<Option<Outcome>, TakeError> {
    let Some(raw) = quarantine::raw(conn, id)? else {
        return Ok(None);
    };
    let now = state.time.now();
    match attempt(state, conn, &raw, prepare(state, &raw, now))? {
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

/// A supervisor tries a quarantined mail again (see [`retry`]); audited with the outcome.
pub fn retry_by(
    state: &AppState,
    conn: &mut DbConn,
    actor: &Actor,
    id: QuarantineId,
) -> Result<Outcome, DeskError> {
    let outcome = retry(state, conn, id)
        .map_err(|e| DeskError::Db(DbError::Unavailable(e.to_string())))?
        .ok_or(DeskError::NotFound("quarantined mail"))?;
    let target = format!("quarantine:{id}");
    desk::audit(
        conn,
        actor,
        state.time.now(),
        "quarantine.retry",
        None,
        Some(&target),
        Some(outcome.as_str()),
    )?;
    Ok(outcome)
}

/// Stores, or says why the mail must be quarantined.
fn attempt(
    state: &AppState,
    conn: &mut DbConn,
    raw: &[u8],
    prepared: Prepared,
) -> Result<Result<Outcome, String>, TakeError> {
    let Prepared { now, mail } = prepared;
    let mut ready = match mail {
        Ok(ready) => ready,
        Err(reason) => return Ok(Err(reason)),
    };
    let mut stored_ack = false;
    let result = write_tx(conn, |conn| {
        let outcome = decide_and_store(state, conn, raw, &mut ready, now)?;
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
            if messages::is_stored(conn, &ready.mail.message_id)? {
                Ok(Ok(Outcome::Duplicate))
            } else {
                Ok(Err(unstorable(&e)))
            }
        }
        Err(Failure::Db(e)) if e.is_unavailable() => Err(e.into()),
        // Something in this very mail the database refuses: trying again would fail for
        // ever and hold back every later mail, so it is kept in quarantine instead.
        Err(Failure::Db(e)) => Ok(Err(unstorable(&e))),
        Err(Failure::Quarantine(reason)) => Ok(Err(reason)),
    }
}

/// Why a mail could not be stored, as kept with it in quarantine (no addresses: the reason
/// is logged too).
fn unstorable(e: &DbError) -> String {
    crate::domain::redact::addresses(&format!("the database refused this mail: {e}"))
}

/// A mail over `intake.max_message_bytes` that stays where it is (the IMAP mailbox): a
/// quarantine entry says where, so a person looks at it; none of its bytes are read. Not
/// logged: the caller logs it once committed.
pub fn too_large(
    state: &AppState,
    conn: &mut DbConn,
    source: &str,
    mailbox: &str,
    uid: u32,
    size: u64,
) -> Result<Outcome, TakeError> {
    let reason = format!(
        "{size} bytes, larger than intake.max_message_bytes ({}): left unread in mailbox \
         {mailbox} (UID {uid}); nothing of it is stored here",
        state.settings.intake.max_message_bytes
    );
    quarantine_now(conn, &[], source, &reason, state.time.now())
}

fn quarantine_now(
    conn: &mut DbConn,
    raw: &[u8],
    source: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Outcome, TakeError> {
    let id = quarantine::put(conn, raw, source, reason, now)?;
    tracing::warn!(quarantine_id = id.0, reason, "mail quarantined");
    Ok(Outcome::Quarantined { id })
}

fn decide_and_store(
    state: &AppState,
    conn: &mut DbConn,
    raw: &[u8],
    ready: &mut Ready,
    now: DateTime<Utc>,
) -> Result<Outcome, Failure> {
    let mail = &ready.mail;
    if let Some(dsn) = &mail.dsn {
        return bounce(conn, raw, mail, dsn, now);
    }
    let related = inbound::ids_to_look_up(&mail.in_reply_to, &mail.references);
    let header_match = messages::candidate_by_message_ids(conn, &related)?;
    let subject_match = match reference::find_in_subject(&mail.subject) {
        Some(r) => tickets::candidate_by_reference(conn, &r)?,
        None => None,
    };
    let facts = ThreadFacts {
        already_stored: messages::is_stored(conn, &mail.message_id)?,
        header_match,
        subject_match,
        sender: mail.from_address.as_deref(),
    };
    let Some(from) = mail.from_address.as_deref() else {
        return Err(Failure::Quarantine("no sender address".into()));
    };
    let kept = Kept::of(mail);
    match threading::decide(&facts) {
        Thread::Duplicate => Ok(Outcome::Duplicate),
        Thread::Join(ticket_id) => {
            let flag = ready.flag.as_ref();
            follow_up(
                state, conn, raw, mail, &kept, ticket_id, ready.kind, flag, now,
            )?;
            Ok(Outcome::Joined { ticket_id })
        }
        Thread::New => {
            let titled = Titled::of(mail);
            let opening = titled.opening(raw, mail, &kept, from, ready.kind);
            let prepared = match ready.opening.take() {
                Some(prepared) => prepared,
                None => consultation::prepare_assessed(state, &opening, ready.flag.clone(), now),
            };
            let opened = consultation::open_prepared(state, conn, &opening, prepared, now)?;
            Ok(Outcome::Opened {
                ticket_id: opened.ticket_id,
                acknowledged: opened.acknowledged,
            })
        }
    }
}

/// Stores the mail as a message on `ticket`, with its attachments.
fn store_kept(
    conn: &mut DbConn,
    raw: &[u8],
    mail: &InboundMail,
    kept: &Kept<'_>,
    ticket: TicketId,
    automatic: bool,
    now: DateTime<Utc>,
) -> Result<MessageId, DbError> {
    let message = NewMessage::inbound(
        ticket,
        Some(&kept.subject),
        &mail.body_text,
        mail.from_address.as_deref(),
        now,
    )
    .by_mail(&kept.facts(raw, mail, automatic));
    messages::add_with_attachments(conn, &message, &kept.attachments)
}

#[allow(clippy::too_many_arguments)]
fn follow_up(
    state: &AppState,
    conn: &mut DbConn,
    raw: &[u8],
    mail: &InboundMail,
    kept: &Kept<'_>,
    ticket: TicketId,
    kind: Automatic,
    flag: Option<&urgent::Flag>,
    now: DateTime<Utc>,
) -> Result<(), Failure> {
    let message = store_kept(conn, raw, mail, kept, ticket, kind.is_automatic(), now)?;
    if kind.is_automatic() {
        // An out-of-office answer to our mail reopens nothing and owes nobody a reply.
        return Ok(());
    }
    desk::followup::consulter_wrote(state, conn, ticket, message, flag, now)?;
    Ok(())
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
        .map(|id| outbox::by_message_id(conn, id))
        .transpose()?
        .flatten();
    let Some(original) = original else {
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
    outbox::mark_bounced(conn, original.id, &diagnostic)?;
    if let Some(ticket) = original.ticket_id {
        store_kept(conn, raw, mail, &Kept::of(mail), ticket, true, now)?;
    }
    Ok(Outcome::Bounce {
        ticket_id: original.ticket_id,
    })
}
