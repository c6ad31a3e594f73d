//! Text modules (定型文): supervisors keep them, everyone reads them, and a counsellor puts
//! one into a reply filled in for the ticket's consulter. Changes are audited.

use super::{Actor, DeskError, audit};
use crate::db::text_modules::{self, TextModuleRow};
use crate::db::{DbConn, queue, write_tx};
use crate::domain::text_module::{self, Fill};
use crate::domain::vocabulary::TicketId;
use crate::state::AppState;

pub fn list(conn: &mut DbConn) -> Result<Vec<TextModuleRow>, DeskError> {
    Ok(text_modules::list(conn)?)
}

pub fn create(
    state: &AppState,
    conn: &mut DbConn,
    actor: &Actor,
    title: &str,
    body: &str,
) -> Result<i64, DeskError> {
    actor.require_supervisor()?;
    let (title, body) = text_module::check(title, body).map_err(DeskError::Invalid)?;
    let now = state.time.now();
    write_tx(conn, |conn| {
        let id = text_modules::create(conn, &title, &body, actor.staff_id, now)?;
        let target = format!("text_module:{id}");
        audit(
            conn,
            actor,
            now,
            "text_module.create",
            None,
            Some(&target),
            None,
        )?;
        Ok(id)
    })
}

/// Changes the title or body (each kept as it was when not given).
pub fn update(
    state: &AppState,
    conn: &mut DbConn,
    actor: &Actor,
    id: i64,
    title: Option<&str>,
    body: Option<&str>,
) -> Result<(), DeskError> {
    actor.require_supervisor()?;
    let now = state.time.now();
    write_tx(conn, |conn| {
        let old = text_modules::get(conn, id)?.ok_or(DeskError::NotFound("text module"))?;
        let (title, body) =
            text_module::check(title.unwrap_or(&old.title), body.unwrap_or(&old.body))
                .map_err(DeskError::Invalid)?;
        text_modules::update(conn, id, &title, &body, now)?;
        let target = format!("text_module:{id}");
        audit(
            conn,
            actor,
            now,
            "text_module.update",
            None,
            Some(&target),
            None,
        )?;
        Ok(())
    })
}

pub fn delete(
    state: &AppState,
    conn: &mut DbConn,
    actor: &Actor,
    id: i64,
) -> Result<(), DeskError> {
    actor.require_supervisor()?;
    let now = state.time.now();
    write_tx(conn, |conn| {
        if !text_modules::delete(conn, id)? {
            return Err(DeskError::NotFound("text module"));
        }
        let target = format!("text_module:{id}");
        audit(
            conn,
            actor,
            now,
            "text_module.delete",
            None,
            Some(&target),
            None,
        )?;
        Ok(())
    })
}

/// The values a module is filled with on this ticket: its consulter's name, the centre's details.
pub fn fill_for(state: &AppState, consulter_name: Option<&str>, body: &str) -> String {
    let c = &state.settings.center;
    text_module::fill(
        body,
        &Fill {
            consulter_name,
            center_name: &c.name,
            center_phone: &c.phone,
            center_phone_hours: &c.phone_hours,
            center_address: &c.postal_address,
            center_website: &c.website,
            reply_address: &c.reply_address,
        },
    )
}

/// The reply with the module added, filled for the ticket's consulter, kept as the draft so the
/// page shows it again (the no-script 挿入 button).
pub fn insert_into_reply(
    state: &AppState,
    conn: &mut DbConn,
    actor: &Actor,
    ticket: TicketId,
    reply: &str,
    module: i64,
) -> Result<String, DeskError> {
    let head = queue::ticket(conn, ticket)?.ok_or(DeskError::NotFound("ticket"))?;
    let m = text_modules::get(conn, module)?
        .ok_or(DeskError::Invalid(vec![("text_module", "invalid")]))?;
    let text = fill_for(state, head.consulter.name.as_deref(), &m.body);
    let combined = text_module::append(reply, &text);
    super::drafts::save(state, conn, actor, ticket, &combined)?;
    Ok(combined)
}
