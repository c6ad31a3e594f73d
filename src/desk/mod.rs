//! The desk: what consulters, staff and the background workers do, one function per
//! use-case. HTTP handlers, the command line and the workers call these alike; each change is
//! one transaction that also writes its audit event and queues the mail it causes.

pub mod alerts;
pub mod auth;
pub mod case;
pub mod consultation;
pub mod drafts;
pub mod export;
pub mod followup;
pub mod holding;
pub mod my_page;
pub mod notify;
pub mod quarantine;
pub mod reports;
pub mod retention;
pub mod reviews;
pub mod sending;
pub mod staff;
pub mod text_modules;
pub mod tickets;
pub mod urgent;

use chrono::{DateTime, Utc};

use crate::config::ConfigError;
use crate::db::audit::{self, AuditEvent};
use crate::db::{DbConn, DbError};
use crate::domain::vocabulary::{MessageId, Role, StaffId, TicketId};
use crate::mail::mailer::ComposeError;

/// Who acts, and from where: every action is audited with both.
#[derive(Debug, Clone)]
pub struct Actor {
    pub staff_id: StaffId,
    pub name: String,
    pub role: Role,
    pub client_addr: String,
}

impl Actor {
    pub fn is_supervisor(&self) -> bool {
        self.role == Role::Supervisor
    }

    pub fn require_supervisor(&self) -> Result<(), DeskError> {
        if self.is_supervisor() {
            Ok(())
        } else {
            Err(DeskError::Forbidden("only supervisors may do this"))
        }
    }
}

/// Records what a staff member did, from where; every staff read and change goes through here.
pub fn audit(
    conn: &mut DbConn,
    actor: &Actor,
    now: DateTime<Utc>,
    action: &str,
    ticket: Option<TicketId>,
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

/// Why a use-case did not happen. The HTTP layer turns each into one status and code; the
/// command line into an exit code.
#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    /// No such ticket, staff account or quarantined mail.
    #[error("no such {0}")]
    NotFound(&'static str),
    #[error("{0}")]
    Forbidden(&'static str),
    /// Offending fields, each with a stable code such as `required` or `invalid`.
    #[error("invalid fields: {}", fields_text(.0))]
    Invalid(Vec<(&'static str, &'static str)>),
    /// The consulter wrote again after the message the counsellor last saw.
    #[error("the consulter wrote again (message {message_id})")]
    Collision {
        message_id: MessageId,
        body_text: String,
        /// In the centre's zone, as every time the API answers.
        created_at: DateTime<chrono::FixedOffset>,
    },
    /// The reply is not waiting for review (approved or returned already).
    #[error("this reply is not waiting for review")]
    ReviewDecided,
    #[error("a staff account with that email exists already")]
    AccountExists,
    #[error("you cannot deactivate your own account")]
    OwnAccount,
    #[error("the token is not valid")]
    InvalidToken,
    #[error("the sign-in has expired")]
    Expired,
    #[error("wrong email or password")]
    WrongCredentials,
    /// A consulter's page: a wrong passphrase, an unknown reference and one without a
    /// passphrase are all this one answer (CONTRACT §10).
    #[error("wrong reference or passphrase")]
    WrongPassphrase,
    #[error("too many failed sign-ins; wait {retry_after_seconds} seconds")]
    Throttled { retry_after_seconds: i64 },
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Mail(#[from] ComposeError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot hash the password: {0}")]
    Hashing(String),
    /// Every password check is taken; the caller may try again in a moment.
    #[error("the service is busy checking other sign-ins")]
    Busy,
}

impl From<diesel::result::Error> for DeskError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(e.into())
    }
}

fn fields_text(fields: &[(&str, &str)]) -> String {
    let text: Vec<String> = fields.iter().map(|(f, c)| format!("{f}: {c}")).collect();
    text.join(", ")
}
