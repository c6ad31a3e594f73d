//! The desk: what consulters, staff and the background workers do, one function per
//! use-case. HTTP handlers, the command line and the workers call these alike; each change is
//! one transaction that also writes its audit event and queues the mail it causes.

pub mod alerts;
pub mod auth;
pub mod staff;
pub mod tickets;
pub mod urgent;

use chrono::{DateTime, Utc};

use crate::db::audit::{self, AuditEvent};
use crate::db::{DbConn, DbError};

/// Who acts, and from where: every action is audited with both.
#[derive(Debug, Clone)]
pub struct Actor {
    pub staff_id: i64,
    pub name: String,
    pub supervisor: bool,
    pub client_addr: String,
}

/// Records what a staff member did, from where; every staff read and change goes through here.
pub fn audit(
    conn: &mut DbConn,
    actor: &Actor,
    now: DateTime<Utc>,
    action: &str,
    ticket: Option<i64>,
    target: Option<&str>,
    detail: Option<&str>,
) -> Result<(), DbError> {
    audit::record(
        conn,
        &AuditEvent {
            at: now,
            staff_id: Some(actor.staff_id),
            action,
            ticket_id: ticket,
            target,
            client_addr: Some(&actor.client_addr),
            detail,
        },
    )
}
