//! A consultation from the form or `POST /api/v1/consultations`: one transaction stores the
//! ticket, the consulter's message, the reply clock and the acknowledgement mail.

use chrono::{DateTime, Utc};

use crate::db::tickets::{self, NewMessage, OpenTicket, TicketId};
use crate::db::{DbConn, to_db, write_tx};
use crate::desk::{DeskError, urgent};
use crate::domain::consultation::Consultation;
use crate::domain::{clock, reference};
use crate::mail::mailer::{Acknowledgement, OutgoingMail};
use crate::mail::outgoing;
use crate::state::AppState;

#[derive(Debug, Clone)]
pub struct Receipt {
    pub ticket_id: TicketId,
    pub reference: String,
    pub reply_due_at: DateTime<Utc>,
    pub acknowledged: bool,
}

pub fn submit(state: &AppState, conn: &mut DbConn, c: &Consultation) -> Result<Receipt, DeskError> {
    let now = state.time.now();
    let due = clock::reply_due_at(&state.rules, now);
    let flag = urgent::assess(state, &c.subject, &c.body);
    // A reference collision is rare (40 random bits) and shows as a unique violation: try anew.
    let mut tries = 0;
    loop {
        tries += 1;
        let reference = reference::from_entropy(crate::random::bytes());
        let ack = state.mailer.acknowledgement(
            &Acknowledgement {
                to: &c.email,
                name: c.name.as_deref(),
                reference: &reference,
                subject: &c.subject,
                reply_due_at: due,
                in_reply_to: None,
                urgent: flag.is_some(),
            },
            now,
        )?;
        let stored = write_tx(conn, |conn| {
            store(state, conn, c, &reference, now, due, &ack, flag.as_ref())
        });
        match stored {
            Ok((ticket_id, acknowledged)) => {
                state.metrics.intake("web_form", "opened");
                if acknowledged {
                    state.waker.wake();
                }
                return Ok(Receipt {
                    ticket_id,
                    reference,
                    reply_due_at: due,
                    acknowledged,
                });
            }
            Err(DeskError::Db(e)) if e.is_unique_violation() && tries < 5 => continue,
            Err(e) => return Err(e),
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn store(
    state: &AppState,
    conn: &mut DbConn,
    c: &Consultation,
    reference: &str,
    now: DateTime<Utc>,
    due: DateTime<Utc>,
    ack: &OutgoingMail,
    flag: Option<&urgent::Flag>,
) -> Result<(TicketId, bool), DeskError> {
    let opened = tickets::open(
        conn,
        &OpenTicket {
            reference,
            subject: &c.subject,
            channel: "web_form",
            consulter_email: &c.email,
            consulter_name: c.name.as_deref(),
            relationship: Some(c.relationship.as_str()),
            age_group: c.age_group.as_deref(),
            area: c.area.as_deref(),
            urgent: false,
            received_at: now,
        },
    )?;
    let ticket = opened.ticket_id;
    let inbound = tickets::add_message(
        conn,
        &NewMessage {
            ticket_id: ticket.0,
            kind: "inbound",
            author_id: None,
            subject: Some(&c.subject),
            body_text: &c.body,
            rfc_message_id: None,
            in_reply_to: None,
            references_header: None,
            from_address: Some(&c.email),
            automatic: false,
            raw_mime: None,
            system_note: None,
            created_at: to_db(now),
        },
    )?;
    tickets::start_clock(conn, ticket, now, due, inbound)?;
    if let Some(flag) = flag {
        urgent::raise(state, conn, ticket.0, reference, inbound.0, flag, now)?;
    }
    Ok((ticket, outgoing::acknowledge(conn, ticket, ack, now)?))
}
