//! Quarantined mail as supervisors look at it in the console: each look is audited (which
//! entry, never its contents). Trying one again is `intake::mail::retry_by`.

use super::{Actor, DeskError, audit};
use crate::db::DbConn;
use crate::db::quarantine::{self, QuarantineRow};
use crate::domain::vocabulary::QuarantineId;
use crate::state::AppState;

/// The entries, unresolved ones only unless `all`.
pub fn list(
    state: &AppState,
    conn: &mut DbConn,
    actor: &Actor,
    all: bool,
) -> Result<Vec<QuarantineRow>, DeskError> {
    actor.require_supervisor()?;
    let rows = quarantine::list(conn, true)?;
    let rows: Vec<QuarantineRow> = rows
        .into_iter()
        .filter(|r| all || r.resolved_at.is_none())
        .collect();
    let detail = format!("count={}", rows.len());
    audit(
        conn,
        actor,
        state.time.now(),
        "quarantine.list",
        None,
        None,
        Some(&detail),
    )?;
    Ok(rows)
}

/// One entry with its raw bytes; `action` says what the person does with them
/// (`quarantine.read` to look at the headers, `quarantine.download`).
pub fn raw(
    state: &AppState,
    conn: &mut DbConn,
    actor: &Actor,
    id: QuarantineId,
    action: &str,
) -> Result<(QuarantineRow, Vec<u8>), DeskError> {
    actor.require_supervisor()?;
    let row = quarantine::list(conn, true)?
        .into_iter()
        .find(|r| r.id == id)
        .ok_or(DeskError::NotFound("quarantined mail"))?;
    let bytes = quarantine::raw(conn, id)?.ok_or(DeskError::NotFound("quarantined mail"))?;
    let target = format!("quarantine:{id}");
    audit(
        conn,
        actor,
        state.time.now(),
        action,
        None,
        Some(&target),
        None,
    )?;
    Ok((row, bytes))
}
