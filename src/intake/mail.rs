//! The one intake path for mail, used by `madoguchi ingest` and the IMAP poller: parse,
//! decide, and store in one transaction, with the acknowledgement queued in it.

use chrono::{DateTime, Utc};
use diesel::Connection;

use crate::db::attachments::NewAttachment;
use crate::db::messages::{self, MailFacts, NewMessage};
use crate::db::tickets::TicketDetails;
use crate::db::{DbConn, DbError, outbox, quarantine, tickets, write_tx};
use crate::desk::consultation::{self, Opening};
use crate::desk::{self, Actor, DeskError};
use crate::domain::automatic::{self, Automatic};
use crate::domain::threading::{self, Thread, ThreadFacts};
use crate::domain::vocabulary::{Channel, MessageId, QuarantineId, TicketId};
use crate::domain::{inbound, reference};
use crate::intake::Outcome;
use crate::intake::parse::{self, InboundMail};
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
    outcome.record(state, source);
    Ok(outcome)
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
    let max = state.settings.intake.max_attachment_bytes;
    let parsed: Vec<Result<InboundMail, String>> = raws
        .iter()
        .map(|raw| parse::parse(raw, max).map_err(|e| e.to_string()))
        .collect();
    let stored = match store_batch(state, conn, raws, &parsed, now, false) {
        Ok(stored) => stored,
        Err(Failure::Db(e)) if e.is_unavailable() => return Err(e.into()),
        // One mail failed: the batch again, carefully.
        Err(_) => store_batch(state, conn, raws, &parsed, now, true).map_err(|f| match f {
            Failure::Db(e) => TakeError::from(e),
            Failure::Quarantine(reason) => TakeError::Unavailable(reason),
        })?,
    };
    let (taken, acknowledged) = stored;
    if acknowledged {
        state.waker.wake();
    }
    let mut outcomes = Vec::with_capacity(taken.len());
    for (raw, result) in raws.iter().zip(taken) {
        let outcome = match result {
            Ok(outcome) => outcome,
            Err(reason) => quarantine_now(conn, raw, source, &reason, now)?,
        };
        outcome.record(state, source);
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
    parsed: &[Result<InboundMail, String>],
    now: DateTime<Utc>,
    savepoints: bool,
) -> Result<Stored, Failure> {
    write_tx(conn, |conn| {
        let mut out = Vec::with_capacity(raws.len());
        let mut acknowledged = false;
        for (raw, mail) in raws.iter().zip(parsed) {
            let mail = match mail {
                Ok(mail) => mail,
                Err(reason) => {
                    out.push(Err(reason.clone()));
                    continue;
                }
            };
            let result = if savepoints {
                conn.transaction(|c| decide_and_store(state, c, raw, mail, now))
            } else {
                decide_and_store(state, conn, raw, mail, now)
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
                    if e.is_unique_violation() && messages::is_stored(conn, &mail.message_id)? =>
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
            if messages::is_stored(conn, &mail.message_id)? {
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
/// quarantine entry says where, so a person looks at it; none of its bytes are read.
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
    let outcome = quarantine_now(conn, &[], source, &reason, state.time.now())?;
    outcome.record(state, source);
    Ok(outcome)
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
            follow_up(state, conn, raw, mail, &kept, ticket_id, kind, now)?;
            Ok(Outcome::Joined { ticket_id })
        }
        Thread::New => {
            let subject = inbound::stored_subject(&threading::clean_subject(&mail.subject));
            let name = inbound::stored_name(mail.from_name.as_deref());
            let opened = consultation::open(
                state,
                conn,
                &Opening {
                    ticket: TicketDetails {
                        subject: &subject,
                        channel: Channel::Email,
                        consulter_email: from,
                        consulter_name: name.as_deref(),
                        relationship: None,
                        age_group: None,
                        area: None,
                    },
                    message_subject: &kept.subject,
                    body: &mail.body_text,
                    mail: Some(kept.facts(raw, mail, kind.is_automatic())),
                    attachments: &kept.attachments,
                    in_reply_to: (!mail.synthetic_id).then_some(mail.message_id.as_str()),
                    page: None,
                },
                now,
            )?;
            Ok(Outcome::Opened {
                ticket_id: opened.ticket_id,
                acknowledged: opened.acknowledged,
            })
        }
    }
}

/// What of a mail is kept with its message besides the text: headers as stored, a note on
/// attachments left out, and the attachments.
struct Kept<'m> {
    /// One line and capped: a 30 MB subject stays in the raw mail, not in every queue page.
    subject: String,
    references: Option<String>,
    note: Option<String>,
    attachments: Vec<NewAttachment<'m>>,
}

impl<'m> Kept<'m> {
    fn of(mail: &'m InboundMail) -> Self {
        Self {
            subject: inbound::stored_subject(&mail.subject),
            references: (!mail.references.is_empty()).then(|| mail.references.join(" ")),
            note: skipped_note(mail),
            attachments: mail
                .attachments
                .iter()
                .map(|a| NewAttachment {
                    filename: &a.filename,
                    content_type: &a.content_type,
                    content: &a.content,
                })
                .collect(),
        }
    }

    fn facts<'a>(&'a self, raw: &'a [u8], mail: &'a InboundMail, automatic: bool) -> MailFacts<'a> {
        MailFacts {
            rfc_message_id: &mail.message_id,
            in_reply_to: mail.in_reply_to.first().map(String::as_str),
            references: self.references.as_deref(),
            raw,
            system_note: self.note.as_deref(),
            automatic,
        }
    }

    /// Stores the mail as a message on `ticket`, with its attachments.
    fn store(
        &self,
        conn: &mut DbConn,
        raw: &[u8],
        mail: &InboundMail,
        ticket: TicketId,
        automatic: bool,
        now: DateTime<Utc>,
    ) -> Result<MessageId, DbError> {
        let message = NewMessage::inbound(
            ticket,
            Some(&self.subject),
            &mail.body_text,
            mail.from_address.as_deref(),
            now,
        )
        .by_mail(&self.facts(raw, mail, automatic));
        messages::add_with_attachments(conn, &message, &self.attachments)
    }
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

#[allow(clippy::too_many_arguments)]
fn follow_up(
    state: &AppState,
    conn: &mut DbConn,
    raw: &[u8],
    mail: &InboundMail,
    kept: &Kept<'_>,
    ticket: TicketId,
    kind: Automatic,
    now: DateTime<Utc>,
) -> Result<(), Failure> {
    let message = kept.store(conn, raw, mail, ticket, kind.is_automatic(), now)?;
    if kind.is_automatic() {
        // An out-of-office answer to our mail reopens nothing and owes nobody a reply.
        return Ok(());
    }
    desk::followup::consulter_wrote(
        state,
        conn,
        ticket,
        message,
        &kept.subject,
        &mail.body_text,
        now,
    )?;
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
        Kept::of(mail).store(conn, raw, mail, ticket, true, now)?;
    }
    Ok(Outcome::Bounce {
        ticket_id: original.ticket_id,
    })
}
