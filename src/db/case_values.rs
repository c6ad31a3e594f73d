//! The ticket_case_values table: the case fields recorded on a ticket, one row per code. Kept
//! apart from the ticket's personal data: an erasure of names, addresses and texts leaves it.

use diesel::prelude::*;

use super::schema::ticket_case_values;
use super::{DbConn, DbError};
use crate::domain::case_fields::CaseRecord;
use crate::domain::vocabulary::TicketId;

/// What the ticket has recorded, by field.
pub fn for_ticket(conn: &mut DbConn, ticket: TicketId) -> Result<CaseRecord, DbError> {
    let rows: Vec<(String, String)> = ticket_case_values::table
        .filter(ticket_case_values::ticket_id.eq(ticket))
        .order((ticket_case_values::field, ticket_case_values::code))
        .select((ticket_case_values::field, ticket_case_values::code))
        .load(conn)?;
    let mut record = CaseRecord::default();
    for (field, code) in rows {
        let mut codes = record.codes(&field).to_vec();
        codes.push(code);
        record.set(&field, codes);
    }
    Ok(record)
}

/// Replaces each field the record names (an empty list clears it); others stay.
pub fn replace(conn: &mut DbConn, ticket: TicketId, record: &CaseRecord) -> Result<(), DbError> {
    for (field, codes) in &record.fields {
        diesel::delete(
            ticket_case_values::table
                .filter(ticket_case_values::ticket_id.eq(ticket))
                .filter(ticket_case_values::field.eq(*field)),
        )
        .execute(conn)?;
        // A row at a time: a handful of codes, and no batch insert over both backends.
        for code in codes {
            diesel::insert_into(ticket_case_values::table)
                .values((
                    ticket_case_values::ticket_id.eq(ticket),
                    ticket_case_values::field.eq(*field),
                    ticket_case_values::code.eq(code),
                ))
                .execute(conn)?;
        }
    }
    Ok(())
}
