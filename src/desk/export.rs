//! The export for the end of a contract: every ticket with its thread and attachments, written
//! into a folder for the operator who takes the commission over (README, "Export").
//!
//! ```text
//! DIR/index.json                                  the centre, the time, every ticket's folder
//! DIR/tickets/REFERENCE/ticket.json               the ticket, its consulter, its thread
//! DIR/tickets/REFERENCE/messages/NNN-ID.eml       each mail message, byte for byte where kept
//! DIR/tickets/REFERENCE/attachments/ID-NAME       each attachment as it came
//! ```
//!
//! Files are 0600 in folders of 0700 (`private_files`): they hold consultations.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::DeskError;
use crate::db::audit::{self, AuditEvent};
use crate::db::messages::FullMessage;
use crate::db::{DbConn, attachments, clocks, from_db, messages, outbox, queue, reports, tickets};
use crate::domain::vocabulary::{MessageKind, StaffId, TicketId};
use crate::private_files;
use crate::state::AppState;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{0} is not empty; choose an empty or new folder (or pass --force to write into it)")]
    NotEmpty(String),
    #[error("cannot write {0}: {1}")]
    Write(String, std::io::Error),
    #[error(transparent)]
    Desk(#[from] DeskError),
}

impl From<crate::db::DbError> for ExportError {
    fn from(e: crate::db::DbError) -> Self {
        Self::Desk(e.into())
    }
}

/// What was written.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    pub tickets: usize,
    pub messages: usize,
    pub eml: usize,
    pub attachments: usize,
}

const PAGE: i64 = 200;

fn write(path: &Path, bytes: &[u8]) -> Result<(), ExportError> {
    private_files::write(path, bytes).map_err(|e| ExportError::Write(path.display().to_string(), e))
}

fn mkdir(path: &Path) -> Result<(), ExportError> {
    private_files::create_dir_all(path)
        .map_err(|e| ExportError::Write(path.display().to_string(), e))
}

/// A file name safe in any folder: no separators, no control characters, no leading dot.
fn safe_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_control() || matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|') {
                '_'
            } else {
                c
            }
        })
        .take(100)
        .collect();
    let cleaned = cleaned.trim_start_matches('.').trim();
    if cleaned.is_empty() {
        "file".into()
    } else {
        cleaned.to_string()
    }
}

/// Writes every ticket into `out`, which must be empty or new unless `force`.
/// `progress(done, total)` is told after each ticket.
pub fn export(
    state: &AppState,
    conn: &mut DbConn,
    out: &Path,
    force: bool,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Written, ExportError> {
    if let Ok(mut entries) = std::fs::read_dir(out)
        && entries.next().is_some()
        && !force
    {
        return Err(ExportError::NotEmpty(out.display().to_string()));
    }
    mkdir(out)?;
    // A folder that was there already (empty) is made the owner's alone, too.
    std::fs::set_permissions(
        out,
        std::os::unix::fs::PermissionsExt::from_mode(private_files::DIR_MODE),
    )
    .map_err(|e| ExportError::Write(out.display().to_string(), e))?;
    let now = state.time.now();
    let names: HashMap<StaffId, String> = reports::staff_names(conn)?
        .into_iter()
        .map(|s| (s.id, s.name))
        .collect();
    let total = usize::try_from(tickets::count_all(conn)?).unwrap_or(0);
    let mut written = Written::default();
    let mut index = Vec::new();
    let mut after = TicketId(0);
    loop {
        let ids = tickets::ids_after(conn, after, PAGE)?;
        let Some(last) = ids.last() else { break };
        after = *last;
        for id in ids {
            index.push(one_ticket(state, conn, out, id, &names, &mut written)?);
            written.tickets += 1;
            progress(written.tickets, total.max(written.tickets));
        }
    }
    let doc = json!({
        "format": "madoguchi-export/1",
        "centre": state.settings.center.name,
        "exported_at": local(state, now),
        "tickets": index,
    });
    write(&out.join("index.json"), &pretty(&doc))?;
    audit::record(
        conn,
        &AuditEvent {
            at: now,
            staff_id: None,
            action: "export.run",
            ticket_id: None,
            target: None,
            client_addr: None,
            detail: Some(&format!(
                "tickets={} messages={} eml={} attachments={}",
                written.tickets, written.messages, written.eml, written.attachments
            )),
        },
    )?;
    Ok(written)
}

fn pretty(v: &Value) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(v).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

fn local(state: &AppState, t: DateTime<Utc>) -> String {
    t.with_timezone(&state.rules.tz).to_rfc3339()
}

fn local_db(state: &AppState, t: chrono::NaiveDateTime) -> String {
    local(state, from_db(t))
}

/// Writes one ticket's folder; answers its line of the index.
fn one_ticket(
    state: &AppState,
    conn: &mut DbConn,
    out: &Path,
    id: TicketId,
    names: &HashMap<StaffId, String>,
    written: &mut Written,
) -> Result<Value, ExportError> {
    let head = queue::ticket(conn, id)?.ok_or(DeskError::NotFound("ticket"))?;
    let marks = tickets::retention_marks(conn, id)?;
    let thread = messages::full_thread(conn, id)?;
    let ids: Vec<_> = thread.iter().map(|m| m.id).collect();
    let mut sent: HashMap<_, outbox::SentBytes> = outbox::sent_for_messages(conn, &ids)?
        .into_iter()
        .filter_map(|s| s.message_id.map(|m| (m, s)))
        .collect();
    let mut files: HashMap<_, Vec<attachments::AttachmentContent>> = HashMap::new();
    for a in attachments::contents_of(conn, &ids)? {
        files.entry(a.message_id).or_default().push(a);
    }
    let s = head.summary;
    let c = head.consulter;
    let folder = PathBuf::from("tickets").join(&s.reference);
    let dir = out.join(&folder);
    mkdir(&dir.join("messages"))?;
    let erased = marks.erased_at.is_some();
    let email = if erased { String::new() } else { c.email };
    let mut thread_out = Vec::new();
    for (n, m) in thread.into_iter().enumerate() {
        let delivery = sent.remove(&m.id);
        let eml = eml_bytes(
            state,
            &m,
            delivery.as_ref(),
            &email,
            c.name.as_deref(),
            &s.subject,
        )?;
        let eml_path = match eml {
            Some(bytes) => {
                let rel = format!("messages/{:03}-{}.eml", n + 1, m.id);
                write(&dir.join(&rel), &bytes)?;
                written.eml += 1;
                Some(rel)
            }
            None => None,
        };
        let mut attachments_out = Vec::new();
        for a in files.remove(&m.id).unwrap_or_default() {
            let rel = format!("attachments/{}-{}", a.id, safe_name(&a.filename));
            mkdir(&dir.join("attachments"))?;
            write(&dir.join(&rel), &a.content)?;
            written.attachments += 1;
            attachments_out.push(json!({
                "id": a.id.0,
                "filename": a.filename,
                "content_type": a.content_type,
                "size_bytes": a.size_bytes,
                "path": rel,
            }));
        }
        written.messages += 1;
        thread_out.push(json!({
            "id": m.id.0,
            "kind": m.kind.as_str(),
            "author": m.author_id.map(|a| json!({"id": a.0, "name": names.get(&a)})),
            "subject": m.subject,
            "from_address": m.from_address,
            "body_text": m.body_text,
            "created_at": local_db(state, m.created_at),
            "automatic": m.automatic,
            "system_note": m.system_note,
            "rfc_message_id": m.rfc_message_id,
            "in_reply_to": m.in_reply_to,
            "references": m.references_header,
            "delivery": delivery.map(|d| json!({
                "to": d.to_address,
                "status": d.status.as_str(),
                "attempts": d.attempts,
                "last_error": d.last_error,
                "sent_at": d.sent_at.map(|t| local_db(state, t)),
            })),
            "eml": eml_path,
            "attachments": attachments_out,
        }));
    }
    let doc = json!({
        "id": s.id.0,
        "reference": s.reference,
        "subject": s.subject,
        "status": s.status.as_str(),
        "channel": s.channel.as_str(),
        "urgent": s.urgent,
        "urgent_reasons": s.urgent_reasons.as_deref().unwrap_or("")
            .split(',').filter(|r| !r.is_empty()).collect::<Vec<_>>(),
        "assignee": s.assignee_id.map(|a| json!({"id": a.0, "name": s.assignee_name})),
        "created_at": local_db(state, s.created_at),
        "reply_due_at": s.reply_due_at.map(|t| local_db(state, t)),
        "closed_at": marks.closed_at.map(|t| local_db(state, t)),
        "legal_hold": marks.legal_hold,
        "erased_at": marks.erased_at.map(|t| local_db(state, t)),
        "consulter": {
            "name": c.name,
            "email": email,
            "relationship": c.relationship,
            "age_group": c.age_group,
            "area": c.area,
        },
        "messages": thread_out,
        "clocks": clocks::of_ticket(conn, id)?.into_iter().map(|k| json!({
            "started_at": local_db(state, k.started_at),
            "due_at": local_db(state, k.due_at),
            "stopped_at": k.stopped_at.map(|t| local_db(state, t)),
            "stopped_by": k.stopped_by_staff_id.map(|a| a.0),
        })).collect::<Vec<_>>(),
    });
    write(&dir.join("ticket.json"), &pretty(&doc))?;
    Ok(json!({
        "id": s.id.0,
        "reference": s.reference,
        "path": folder.join("ticket.json").display().to_string(),
    }))
}

/// The mail a message stands for: the consulter's mail as it came, ours as it was sent, a
/// form message composed from what the form kept. Notes, and erased messages, have none.
fn eml_bytes(
    state: &AppState,
    m: &FullMessage,
    sent: Option<&outbox::SentBytes>,
    consulter_email: &str,
    consulter_name: Option<&str>,
    ticket_subject: &str,
) -> Result<Option<Vec<u8>>, ExportError> {
    if let Some(raw) = m.raw_mime.as_ref().filter(|r| !r.is_empty()) {
        return Ok(Some(raw.clone()));
    }
    if let Some(s) = sent.filter(|s| !s.raw.is_empty()) {
        return Ok(Some(s.raw.clone()));
    }
    let from = m.from_address.as_deref().unwrap_or(consulter_email);
    if m.kind != MessageKind::Inbound || from.is_empty() {
        return Ok(None);
    }
    let subject = m.subject.as_deref().unwrap_or(ticket_subject);
    let bytes = state
        .mailer
        .form_message(
            from,
            consulter_name,
            subject,
            &m.body_text,
            from_db(m.created_at),
        )
        .map_err(DeskError::from)?;
    Ok(Some(bytes))
}

#[cfg(test)]
mod tests {
    use super::safe_name;

    #[test]
    fn attachment_names_cannot_leave_their_folder() {
        assert_eq!(safe_name("../../etc/passwd"), "_.._etc_passwd");
        assert_eq!(safe_name(".hidden"), "hidden");
        assert_eq!(safe_name(""), "file");
        assert_eq!(safe_name("写真 1.jpg"), "写真 1.jpg");
        assert_eq!(safe_name("a\u{0}b\nc"), "a_b_c");
    }
}
