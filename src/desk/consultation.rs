//! The one way a consultation opens, whether it came through the form, the public API or a
//! first mail: a reference no ticket has, the ticket with its consulter and first message,
//! the reply clock, the urgent-risk check and its alert, and the acknowledgement, all in the
//! caller's transaction. The urgent check and the acknowledgement need no database: `submit`
//! makes them before its group commit ([`prepare`]), mail intake within `open`. If the
//! acknowledgement cannot be made, the consultation is kept all the same and the failure
//! shows as its delivery.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{DeskError, urgent};
use crate::db::attachments::NewAttachment;
use crate::db::group_commit::Pending;
use crate::db::messages::{self, MailFacts, NewMessage};
use crate::db::tickets::{self, RunningClock, TicketDetails};
use crate::db::{DbConn, DbError, clocks, consulters, my_access, triage_flags};
use crate::domain::consultation::Consultation;
use crate::domain::vocabulary::{Channel, ConsulterId, TicketId};
use crate::domain::{clock, reference};
use crate::mail::mailer::{Acknowledgement, ComposeError, OutgoingMail};
use crate::mail::outgoing::{self, Acknowledged};
use crate::state::AppState;

/// A new consultation as it came in, from whichever door.
pub struct Opening<'a> {
    /// The ticket's subject is, for mail, without `Re:` and our reference tag.
    pub ticket: TicketDetails<'a>,
    /// The first message's subject and text, as written.
    pub message_subject: &'a str,
    pub body: &'a str,
    /// When it came by mail: its headers and raw bytes, and whether it was automatic.
    pub mail: Option<MailFacts<'a>>,
    pub attachments: &'a [NewAttachment<'a>],
    /// The consulter's own Message-ID, which the acknowledgement answers (not one we made up
    /// for a mail that had none).
    pub in_reply_to: Option<&'a str>,
    /// Given a passphrase (form or API only): readable on the consulter's page.
    pub page: Option<PageAccess<'a>>,
}

/// A consultation the consulter will read on their own page (/my).
#[derive(Debug, Clone, Copy)]
pub struct PageAccess<'a> {
    /// argon2id, made before the transaction (it takes a while and 19 MiB).
    pub passphrase_hash: &'a str,
    pub notice_only: bool,
}

impl<'a> Opening<'a> {
    /// A consultation from the form or `POST /api/v1/consultations`.
    pub fn from_form(c: &'a Consultation, page: Option<PageAccess<'a>>) -> Self {
        Self {
            ticket: TicketDetails {
                subject: &c.subject,
                channel: Channel::WebForm,
                consulter_email: &c.email,
                consulter_name: c.name.as_deref(),
                relationship: Some(c.relationship.as_str()),
                age_group: c.age_group.as_deref(),
                area: c.area.as_deref(),
            },
            message_subject: &c.subject,
            body: &c.body,
            mail: None,
            attachments: &[],
            in_reply_to: None,
            page,
        }
    }

    /// Automatic mail (an out-of-office answer, a list) is kept for a person to see, but is
    /// never answered and runs no clock: that is how mail loops start.
    fn automatic(&self) -> bool {
        self.mail.is_some_and(|m| m.automatic)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    pub ticket_id: TicketId,
    pub reference: String,
    /// The reply promised; for automatic mail no clock runs and nobody is held to it.
    pub reply_due_at: DateTime<Utc>,
    /// An acknowledgement is queued (not automatic mail, not over the daily cap, and made).
    pub acknowledged: bool,
    /// The urgent-risk check flagged it: the receipt page names the lines that answer now.
    pub urgent: bool,
    /// It can be read on the consulter's own page (/my).
    pub my_page: bool,
}

/// Opens the ticket, in the caller's transaction.
pub fn open(
    state: &AppState,
    conn: &mut DbConn,
    o: &Opening<'_>,
    now: DateTime<Utc>,
) -> Result<Opened, DeskError> {
    open_prepared(state, conn, o, prepare(state, o, now), now)
}

/// What of an opening needs no database: the urgent-risk check, and the acknowledgement
/// composed under a reference drawn now. Made before the transaction (a group commit's
/// committer is one thread on SQLite: all it does for an item is insert).
pub struct Prepared {
    reference: String,
    flag: Option<urgent::Flag>,
    /// None for automatic mail, which is never answered.
    ack: Option<Result<OutgoingMail, ComposeError>>,
}

pub fn prepare(state: &AppState, o: &Opening<'_>, now: DateTime<Utc>) -> Prepared {
    let flag = if o.automatic() {
        None
    } else {
        urgent::assess(state, o.message_subject, o.body)
    };
    prepare_assessed(state, o, flag, now)
}

/// [`prepare`] with the urgent-risk check made beforehand: mail intake makes it before it
/// knows whether the mail opens a consultation or joins one.
pub fn prepare_assessed(
    state: &AppState,
    o: &Opening<'_>,
    flag: Option<urgent::Flag>,
    now: DateTime<Utc>,
) -> Prepared {
    let reference = reference::from_entropy(crate::random::bytes());
    if o.automatic() {
        return Prepared {
            reference,
            flag: None,
            ack: None,
        };
    }
    let due = clock::reply_due_at(&state.rules, now);
    // A failure is kept, to be stored as the acknowledgement's failed delivery.
    let ack = state
        .mailer
        .acknowledgement(&acknowledgement(o, &reference, due, flag.is_some()), now);
    Prepared {
        reference,
        flag,
        ack: Some(ack),
    }
}

fn acknowledgement<'a>(
    o: &'a Opening<'_>,
    reference: &'a str,
    due: DateTime<Utc>,
    urgent: bool,
) -> Acknowledgement<'a> {
    Acknowledgement {
        to: o.ticket.consulter_email,
        name: o.ticket.consulter_name,
        reference,
        subject: o.ticket.subject,
        reply_due_at: due,
        in_reply_to: o.in_reply_to,
        urgent,
        notice_only: o.page.is_some_and(|p| p.notice_only),
    }
}

/// [`open`] with its [`Prepared`] part made beforehand (with the same `now`).
pub fn open_prepared(
    state: &AppState,
    conn: &mut DbConn,
    o: &Opening<'_>,
    prepared: Prepared,
    now: DateTime<Utc>,
) -> Result<Opened, DeskError> {
    let due = clock::reply_due_at(&state.rules, now);
    // The ticket is inserted with its clock mirrored (none for automatic mail).
    let clock = (!o.automatic()).then_some(RunningClock {
        started_at: now,
        due_at: due,
    });
    let email = o.ticket.consulter_email;
    let consulter = consulters::find_or_add(conn, email, o.ticket.consulter_name, now)?;
    // Opened urgent at once (`urgent::raise_on_opening` then records the flag only):
    // marking it afterwards moved the row in every index of the queue.
    let reasons = prepared.flag.as_ref().filter(|_| clock.is_some()).map(|f| {
        let names: Vec<&str> = f.categories.iter().map(|c| c.as_str()).collect();
        triage_flags::reasons_with(None, &names)
    });
    let (ticket, reference, drawn_kept) = insert_ticket(
        conn,
        &o.ticket,
        consulter,
        clock,
        reasons.as_deref(),
        prepared.reference,
        now,
    )?;
    let mut message =
        NewMessage::inbound(ticket, Some(o.message_subject), o.body, Some(email), now);
    if let Some(mail) = &o.mail {
        message = message.by_mail(mail);
    }
    let message = messages::add_with_attachments(conn, &message, o.attachments)?;
    if let Some(page) = &o.page {
        my_access::create(conn, ticket, page.passphrase_hash, page.notice_only, now)?;
    }
    let mut opened = Opened {
        ticket_id: ticket,
        reference,
        reply_due_at: due,
        acknowledged: false,
        urgent: false,
        my_page: o.page.is_some(),
    };
    let Some(clock) = clock else {
        return Ok(opened);
    };
    clocks::record_start(conn, ticket, clock.started_at, clock.due_at, message)?;
    let flag = prepared.flag;
    if let Some(flag) = &flag {
        debug_assert!(reasons.is_some(), "the ticket was inserted urgent");
        urgent::raise_on_opening(state, conn, ticket, &opened.reference, message, flag, now)?;
        opened.urgent = true;
    }
    // Made under a reference that was taken meanwhile: made again, under the ticket's.
    let composed = prepared.ack.filter(|_| drawn_kept);
    let ack = acknowledgement(o, &opened.reference, due, flag.is_some());
    opened.acknowledged =
        outgoing::acknowledge_with(conn, &state.mailer, ticket, email, now, || {
            composed.unwrap_or_else(|| state.mailer.acknowledgement(&ack, now))
        })? == Acknowledged::Queued;
    Ok(opened)
}

/// The consulter's passphrase, if one was chosen, hashed for their page. Blocking (argon2id
/// on the bounded password threads): to be called off the async threads, before any
/// transaction is open.
pub fn hash_passphrase(state: &AppState, c: &Consultation) -> Result<Option<String>, DeskError> {
    c.passphrase
        .as_ref()
        .map(|p| {
            state
                .password_checker
                .hash(p.expose(), super::auth::CHECK_WAIT)
                .ok_or(DeskError::Busy)
        })
        .transpose()
}

/// A consultation from the form or `POST /api/v1/consultations`, with its passphrase hashed
/// ([`hash_passphrase`]). It is opened in a group commit shared with concurrent intake, under
/// a savepoint of its own (unless alone in its group), and answered only once that commit is
/// done.
pub async fn submit(
    state: &Arc<AppState>,
    c: Consultation,
    passphrase_hash: Option<String>,
) -> Result<Opened, DeskError> {
    let opened = enqueue(state, c, passphrase_hash).wait().await?;
    state.metrics.intake(Channel::WebForm.as_str(), "opened");
    // Ids only: never who wrote, nor what.
    tracing::info!(
        ticket_id = opened.ticket_id.0,
        reference = %opened.reference,
        urgent = opened.urgent,
        "consultation opened"
    );
    if opened.acknowledged {
        state.waker.wake();
    }
    Ok(opened)
}

/// Queues a consultation for the next group commit, its [`Prepared`] part made first on the
/// caller's thread. Its group is ordered by consulter address: on PostgreSQL two committers
/// inserting the same two new consulters in opposite order would deadlock.
pub fn enqueue(
    state: &Arc<AppState>,
    c: Consultation,
    passphrase_hash: Option<String>,
) -> Pending<Opened, DeskError> {
    let now = state.time.now();
    let prepared = prepare(
        state,
        &Opening::from_form(&c, page(&passphrase_hash, &c)),
        now,
    );
    let st = state.clone();
    state
        .commits
        .enqueue_ordered(c.email.to_lowercase(), move |conn| {
            let opening = Opening::from_form(&c, page(&passphrase_hash, &c));
            open_prepared(&st, conn, &opening, prepared, now)
        })
}

fn page<'a>(hash: &'a Option<String>, c: &Consultation) -> Option<PageAccess<'a>> {
    hash.as_deref().map(|h| PageAccess {
        passphrase_hash: h,
        notice_only: c.notice_only,
    })
}

/// The ticket under a reference no ticket has yet: `drawn` first, and whether it was kept.
/// A taken one is skipped by the insert itself (it writes nothing then) rather than left to
/// fail on the unique index: a violation would end the caller's transaction, which may hold
/// other mail of a batch.
fn insert_ticket(
    conn: &mut DbConn,
    details: &TicketDetails<'_>,
    consulter: ConsulterId,
    clock: Option<RunningClock>,
    urgent_reasons: Option<&str>,
    drawn: String,
    now: DateTime<Utc>,
) -> Result<(TicketId, String, bool), DeskError> {
    let mut candidate = drawn;
    for attempt in 0..5 {
        if attempt > 0 {
            candidate = reference::from_entropy(crate::random::bytes());
        }
        if let Some(id) = tickets::insert_new(
            conn,
            &candidate,
            details,
            consulter,
            clock,
            urgent_reasons,
            now,
        )? {
            return Ok((id, candidate, attempt == 0));
        }
    }
    // Five collisions in 40 random bits: something is wrong with the randomness; try later.
    Err(DeskError::Db(DbError::Unavailable(
        "no free reference after five tries".into(),
    )))
}
