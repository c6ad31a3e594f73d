//! Mail to staff: one alert composed for each recipient and queued. Used by the alerts
//! worker, urgent triage and reply review alike.

use chrono::{DateTime, Utc};
use minijinja::Value;

use super::DeskError;
use crate::db::DbConn;
use crate::db::staff::StaffContact;
use crate::domain::vocabulary::TicketId;
use crate::mail::outgoing;
use crate::state::AppState;

/// Composes one alert for each recipient and queues it, in the caller's transaction; says
/// how many went.
pub(crate) fn queue(
    state: &AppState,
    conn: &mut DbConn,
    kind: &str,
    ticket: Option<TicketId>,
    recipients: &[StaffContact],
    ctx: Value,
    now: DateTime<Utc>,
) -> Result<usize, DeskError> {
    for to in recipients {
        let mail = state
            .mailer
            .staff_alert(kind, (&to.email, &to.name), ctx.clone(), now)?;
        outgoing::queue_staff_mail(conn, ticket, &format!("alert_{kind}"), &mail, now)?;
    }
    Ok(recipients.len())
}
