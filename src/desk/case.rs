//! Case fields (CONTRACT §9): what staff record on a ticket for the city's yearly figures, and
//! the fiscal-year report made of them. Changes and reads are audited by field names and the
//! year, never by values.

use super::{Actor, DeskError, audit};
use crate::db::{DbConn, case_values, queue, statistics, write_tx};
use crate::domain::case_fields::CaseRecord;
use crate::domain::statistics::{FiscalYear, Report};
use crate::domain::vocabulary::TicketId;
use crate::state::AppState;

/// Records the fields `record` names on the ticket (an empty list clears one); codes not in
/// the centre's file are refused, naming the field.
pub fn set(
    state: &AppState,
    conn: &mut DbConn,
    actor: &Actor,
    id: TicketId,
    record: &CaseRecord,
) -> Result<(), DeskError> {
    state
        .case_fields
        .check(record)
        .map_err(DeskError::Invalid)?;
    let now = state.time.now();
    write_tx(conn, |conn| {
        queue::ticket(conn, id)?.ok_or(DeskError::NotFound("ticket"))?;
        case_values::replace(conn, id, record)?;
        let detail = format!("fields={}", record.names().join(","));
        audit(
            conn,
            actor,
            now,
            "ticket.case",
            Some(id),
            None,
            Some(&detail),
        )?;
        Ok::<(), DeskError>(())
    })
}

/// What the ticket has recorded (read with the ticket, whose read is audited).
pub fn of(conn: &mut DbConn, id: TicketId) -> Result<CaseRecord, DeskError> {
    Ok(case_values::for_ticket(conn, id)?)
}

/// The fiscal year's report, for supervisors; the read is audited with the year.
pub fn report(
    state: &AppState,
    conn: &mut DbConn,
    actor: &Actor,
    year: i32,
    suppress_below: Option<i64>,
) -> Result<Report, DeskError> {
    actor.require_supervisor()?;
    let fy = FiscalYear::new(year, state.rules.tz)
        .ok_or(DeskError::Invalid(vec![("fiscal_year", "out_of_range")]))?;
    let figures = statistics::figures(&state.pool, conn, &fy)?;
    let detail = format!("fiscal_year={year}");
    audit(
        conn,
        actor,
        state.time.now(),
        "report.statistics",
        None,
        None,
        Some(&detail),
    )?;
    Ok(Report::build(
        fy,
        &figures,
        &state.case_fields,
        suppress_below,
    ))
}
