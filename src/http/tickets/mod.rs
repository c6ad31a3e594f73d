//! The counsellors' endpoints: the queue, a ticket, and what staff do to it.

pub mod actions;
pub mod case;
pub mod detail;
pub mod my_access;
pub mod queue;

use serde::Serialize;
use utoipa::ToSchema;

use super::local_time;
use crate::db::from_db;
use crate::db::queue::SummaryRow;
use crate::domain::clock::{self, SlaState};
use crate::domain::vocabulary::{Channel, DeliveryStatus, StaffId, Status, TicketId};
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct StaffRef {
    #[schema(value_type = i64)]
    id: StaffId,
    name: String,
}

impl StaffRef {
    pub(crate) fn new(id: StaffId, name: String) -> Self {
        Self { id, name }
    }

    fn of(id: Option<StaffId>, name: Option<String>) -> Option<Self> {
        id.zip(name).map(|(id, name)| Self { id, name })
    }
}

#[derive(Serialize, ToSchema)]
pub struct TicketSummary {
    #[schema(value_type = i64)]
    id: TicketId,
    reference: String,
    subject: String,
    /// `new`, `open`, `waiting` or `closed`.
    status: Status,
    /// `web_form` or `email`.
    channel: Channel,
    urgent: bool,
    /// Why the ticket is urgent: `suicidal_ideation`, `self_harm`, `violence_at_home`,
    /// `emergency`. Categories only, never the text.
    urgent_reasons: Vec<String>,
    assignee: Option<StaffRef>,
    created_at: String,
    reply_due_at: Option<String>,
    /// Where the reply clock stands now.
    sla_state: SlaState,
    /// A reply on it waits for a supervisor's review (CONTRACT §8): written, not yet sent.
    awaiting_review: bool,
}

fn summary(state: &AppState, row: SummaryRow) -> TicketSummary {
    let due = row.reply_due_at.map(from_db);
    TicketSummary {
        id: row.id,
        reference: row.reference,
        subject: row.subject,
        status: row.status,
        channel: row.channel,
        urgent: row.urgent,
        urgent_reasons: row
            .urgent_reasons
            .as_deref()
            .unwrap_or("")
            .split(',')
            .filter(|r| !r.is_empty())
            .map(str::to_string)
            .collect(),
        assignee: StaffRef::of(row.assignee_id, row.assignee_name),
        created_at: local_time(state, from_db(row.created_at)),
        reply_due_at: due.map(|d| local_time(state, d)),
        sla_state: clock::sla_state(&state.rules, due, state.time.now()),
        awaiting_review: row.awaiting_review,
    }
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryOut {
    /// `queued`, `sent` or `failed`; `awaiting_review` for a reply held for review (not
    /// in the outbox yet).
    status: DeliveryStatus,
    attempts: i32,
    last_error: Option<String>,
}

impl DeliveryOut {
    /// A mail not tried yet (queued, or held for review).
    pub(crate) fn new(status: DeliveryStatus) -> Self {
        Self {
            status,
            attempts: 0,
            last_error: None,
        }
    }
}
