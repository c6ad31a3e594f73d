//! What of a mail needs no database, made before its transaction: on SQLite the group
//! commit's committer is one thread for every door, so all it should do for a mail is decide
//! where it goes and insert it. Parsing, the urgent-risk check and, for a mail that can only
//! open a consultation, its acknowledgement are made on the caller's thread (the hand-off's
//! connection, the IMAP poller, bulk `ingest`'s reader), as the form does
//! (`consultation::prepare`).

use std::panic::AssertUnwindSafe;

use actix_web::web;
use chrono::{DateTime, Utc};

use super::TakeError;
use crate::db::attachments::NewAttachment;
use crate::db::messages::MailFacts;
use crate::db::tickets::TicketDetails;
use crate::desk::consultation::{self, Opening};
use crate::desk::urgent;
use crate::domain::automatic::Automatic;
use crate::domain::threading;
use crate::domain::vocabulary::Channel;
use crate::domain::{inbound, reference};
use crate::intake::parse::{self, InboundMail};
use crate::state::AppState;

/// A mail made ready to store, at the time it came in.
pub struct Prepared {
    pub(super) now: DateTime<Utc>,
    /// Or why it goes to quarantine (it cannot be parsed).
    pub(super) mail: Result<Ready, String>,
}

pub(super) struct Ready {
    pub(super) mail: InboundMail,
    pub(super) kind: Automatic,
    /// The urgent-risk check of its subject and text (none for automatic mail).
    pub(super) flag: Option<urgent::Flag>,
    /// Made only for a mail that can join no thread (no ids to look up, no reference in its
    /// subject). Taken when it opens one; otherwise made in the transaction.
    pub(super) opening: Option<consultation::Prepared>,
}

impl Prepared {
    /// The sender's address, lower-cased: a group commit orders its items by it, so that two
    /// PostgreSQL committers adding the same new consulters take their locks in one order.
    pub fn order_key(&self) -> String {
        self.mail
            .as_ref()
            .ok()
            .and_then(|r| r.mail.from_address.as_deref())
            .map(str::to_lowercase)
            .unwrap_or_default()
    }
}

/// Mail up to this size is prepared on the async thread that read it: a small mail takes
/// 0.1–0.3 ms, less than a hop to a blocking thread and back costs the whole machine.
const PREPARED_IN_PLACE: usize = 64 * 1024;

/// [`prepare`] for a caller on the async runtime: in place for a small mail, on a blocking
/// thread for a large one (it takes a while to parse and check). A check that panicked
/// stored nothing: the sender tries again.
pub async fn prepare_async(
    state: &web::Data<AppState>,
    raw: Vec<u8>,
) -> Result<(Vec<u8>, Prepared), TakeError> {
    if raw.len() <= PREPARED_IN_PLACE {
        // A panic here fails this mail alone, as it would on a blocking thread: it must not
        // end the task (the IMAP poller's, or the hand-off connection's).
        let prepared =
            std::panic::catch_unwind(AssertUnwindSafe(|| prepare(state, &raw, state.time.now())))
                .map_err(|_| stopped())?;
        return Ok((raw, prepared));
    }
    let state = state.clone();
    tokio::task::spawn_blocking(move || {
        let prepared = prepare(&state, &raw, state.time.now());
        (raw, prepared)
    })
    .await
    .map_err(|_| stopped())
}

fn stopped() -> TakeError {
    TakeError::Unavailable("the mail could not be read through (stopped)".into())
}

pub fn prepare(state: &AppState, raw: &[u8], now: DateTime<Utc>) -> Prepared {
    let mail = parse::parse(raw, state.settings.intake.max_attachment_bytes)
        .map_err(|e| e.to_string())
        .map(|mail| ready(state, raw, mail, now));
    Prepared { now, mail }
}

fn ready(state: &AppState, raw: &[u8], mail: InboundMail, now: DateTime<Utc>) -> Ready {
    let kind = mail.automatic(&state.settings.center.reply_address);
    let kept = Kept::of(&mail);
    // A delivery report is stored as a bounce: no consulter wrote it.
    let flag = (!kind.is_automatic() && mail.dsn.is_none())
        .then(|| urgent::assess(state, &kept.subject, &mail.body_text))
        .flatten();
    let can_only_open = mail.dsn.is_none()
        && inbound::ids_to_look_up(&mail.in_reply_to, &mail.references).is_empty()
        && reference::find_in_subject(&mail.subject).is_none();
    let opening = match (&mail.from_address, can_only_open) {
        (Some(from), true) => {
            let titled = Titled::of(&mail);
            let o = titled.opening(raw, &mail, &kept, from, kind);
            Some(consultation::prepare_assessed(state, &o, flag.clone(), now))
        }
        _ => None,
    };
    Ready {
        mail,
        kind,
        flag,
        opening,
    }
}

/// The new ticket's subject (without `Re:` and our tag) and the consulter's name, as stored.
pub(super) struct Titled {
    subject: String,
    name: Option<String>,
}

impl Titled {
    pub(super) fn of(mail: &InboundMail) -> Self {
        Self {
            subject: inbound::stored_subject(&threading::clean_subject(&mail.subject)),
            name: inbound::stored_name(mail.from_name.as_deref()),
        }
    }

    pub(super) fn opening<'a>(
        &'a self,
        raw: &'a [u8],
        mail: &'a InboundMail,
        kept: &'a Kept<'a>,
        from: &'a str,
        kind: Automatic,
    ) -> Opening<'a> {
        Opening {
            ticket: TicketDetails {
                subject: &self.subject,
                channel: Channel::Email,
                consulter_email: from,
                consulter_name: self.name.as_deref(),
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
        }
    }
}

/// What of a mail is kept with its message besides the text: headers as stored, a note on
/// attachments left out, and the attachments.
pub(super) struct Kept<'m> {
    /// One line and capped: a 30 MB subject stays in the raw mail, not in every queue page.
    pub(super) subject: String,
    references: Option<String>,
    note: Option<String>,
    pub(super) attachments: Vec<NewAttachment<'m>>,
}

impl<'m> Kept<'m> {
    pub(super) fn of(mail: &'m InboundMail) -> Self {
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

    pub(super) fn facts<'a>(
        &'a self,
        raw: &'a [u8],
        mail: &'a InboundMail,
        automatic: bool,
    ) -> MailFacts<'a> {
        MailFacts {
            rfc_message_id: &mail.message_id,
            in_reply_to: mail.in_reply_to.first().map(String::as_str),
            references: self.references.as_deref(),
            raw,
            system_note: self.note.as_deref(),
            automatic,
        }
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
