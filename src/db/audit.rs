//! The audit trail: who read or changed what, when, from where. Never any message text.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::schema::{audit_events, staff};
use super::{DbConn, DbError, to_db};
use crate::domain::vocabulary::{StaffId, TicketId};

pub struct AuditEvent<'a> {
    pub at: DateTime<Utc>,
    pub staff_id: Option<StaffId>,
    /// e.g. `ticket.read`, `ticket.reply`, `ticket.assign`.
    pub action: &'a str,
    pub ticket_id: Option<TicketId>,
    /// What else was touched, e.g. `message:42` or `staff:3`.
    pub target: Option<&'a str>,
    pub client_addr: Option<&'a str>,
    /// Facts without personal text, e.g. `status=closed`.
    pub detail: Option<&'a str>,
}

pub fn record(conn: &mut DbConn, e: &AuditEvent<'_>) -> Result<(), DbError> {
    diesel::insert_into(audit_events::table)
        .values((
            audit_events::at.eq(to_db(e.at)),
            audit_events::staff_id.eq(e.staff_id),
            audit_events::action.eq(e.action),
            audit_events::ticket_id.eq(e.ticket_id),
            audit_events::target.eq(e.target),
            audit_events::client_addr.eq(e.client_addr),
            audit_events::detail.eq(e.detail),
        ))
        .execute(conn)?;
    Ok(())
}

#[derive(Debug, Clone, Queryable)]
pub struct AuditRow {
    pub id: i64,
    pub at: NaiveDateTime,
    pub staff_id: Option<StaffId>,
    pub staff_name: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub client_addr: Option<String>,
    pub detail: Option<String>,
}

pub fn for_ticket(conn: &mut DbConn, ticket_id: TicketId) -> Result<Vec<AuditRow>, DbError> {
    Ok(audit_events::table
        .left_join(staff::table)
        .filter(audit_events::ticket_id.eq(ticket_id))
        .order(audit_events::id)
        .select((
            audit_events::id,
            audit_events::at,
            audit_events::staff_id,
            staff::name.nullable(),
            audit_events::action,
            audit_events::target,
            audit_events::client_addr,
            audit_events::detail,
        ))
        .load(conn)?)
}
