//! Mail that could not be taken, tried again by a supervisor.

use super::{Actor, DeskError, audit};
use crate::db::{DbConn, DbError};
use crate::domain::vocabulary::QuarantineId;
use crate::intake::{Outcome, mail};
use crate::state::AppState;

/// Runs a quarantined mail through intake again; audited with the outcome.
pub fn retry(
    state: &AppState,
    conn: &mut DbConn,
    actor: &Actor,
    id: QuarantineId,
) -> Result<Outcome, DeskError> {
    let outcome = mail::retry(state, conn, id)
        .map_err(|e| DeskError::Db(DbError::Unavailable(e.to_string())))?
        .ok_or(DeskError::NotFound("quarantined mail"))?;
    let target = format!("quarantine:{id}");
    audit(
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
