//! Retention (docs/CONTRACT.md §9): the personal data of consultations closed longer ago than
//! `retention.erase_after_years` is erased, and the figures stay. Each ticket is erased in one
//! transaction with its audit event, so a run killed at any point leaves every ticket either
//! whole or erased, and the next run goes on where it stopped. `serve` runs it once a day
//! across every instance; `madoguchi retention run` by hand.
//!
//! What is erased is the explicit list in [`erase_one`]; anything else (case fields, triage
//! categories, columns added later) is kept unless it is added there.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Months, Utc};

use super::DeskError;
use crate::config::MailTransport;
use crate::db::audit::{self, AuditEvent};
use crate::db::{
    DbConn, alerts_sent, attachments, consulters, drafts, leader, messages, outbox, quarantine,
    tickets, triage_flags, write_tx,
};
use crate::domain::vocabulary::{ConsulterId, OutboxId, TicketId};
use crate::signal::Shutdown;
use crate::state::AppState;

/// Tickets read per query while a run walks them.
const PAGE: i64 = 200;

/// What a run erased, or (dry run) would erase.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Tickets erased (or to erase).
    pub tickets: usize,
    /// Closed long enough ago, but kept by a legal hold.
    pub held: usize,
    /// Left for a later run: mail about them still waits to go out.
    pub deferred: usize,
    /// Consulters whose every ticket is erased: address and name taken, id kept.
    pub consulters: usize,
    /// Quarantined mail older than the cut-off, bytes and reason taken.
    pub quarantine: usize,
    /// Files the `file` transport had written of erased mail, removed.
    pub mail_files: usize,
    /// The run was asked to stop (the service shuts down) before it was through.
    pub stopped: bool,
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "tickets={} held={} deferred={} consulters={} quarantine={} mail_files={}{}",
            self.tickets,
            self.held,
            self.deferred,
            self.consulters,
            self.quarantine,
            self.mail_files,
            if self.stopped { " stopped" } else { "" }
        )
    }
}

/// Tickets closed before this instant are erased; `None` when retention is off.
pub fn cutoff(state: &AppState, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match state.settings.retention.erase_after_years {
        0 => None,
        years => now.checked_sub_months(Months::new(years.saturating_mul(12))),
    }
}

/// Every id `pick` gives, page by page.
fn all_ids(
    conn: &mut DbConn,
    mut pick: impl FnMut(&mut DbConn, TicketId) -> Result<Vec<TicketId>, DeskError>,
) -> Result<Vec<TicketId>, DeskError> {
    let mut ids = Vec::new();
    let mut after = TicketId(0);
    loop {
        let page = pick(conn, after)?;
        match page.last() {
            Some(last) => after = *last,
            None => return Ok(ids),
        }
        ids.extend(page);
    }
}

/// What a run would do now, changing nothing.
pub fn plan(state: &AppState, conn: &mut DbConn) -> Result<Option<Counts>, DeskError> {
    let Some(cut) = cutoff(state, state.time.now()) else {
        return Ok(None);
    };
    let due = all_ids(conn, |c, after| {
        Ok(tickets::closed_before(c, cut, false, after, PAGE)?)
    })?;
    let held = all_ids(conn, |c, after| {
        Ok(tickets::closed_before(c, cut, true, after, PAGE)?)
    })?;
    let mut counts = Counts {
        held: held.len(),
        quarantine: usize::try_from(quarantine::count_before(conn, cut)?).unwrap_or(usize::MAX),
        ..Counts::default()
    };
    // Tickets to erase by consulter: those whose every remaining ticket goes lose their address.
    let mut going: HashMap<ConsulterId, i64> = HashMap::new();
    for id in due {
        if outbox::queued_for_ticket(conn, id)? {
            counts.deferred += 1;
        } else {
            counts.tickets += 1;
            *going.entry(tickets::consulter_of(conn, id)?).or_default() += 1;
        }
    }
    for (consulter, n) in going {
        counts.consulters += usize::from(tickets::unerased_of_consulter(conn, consulter)? == n);
    }
    Ok(Some(counts))
}

enum Outcome {
    Erased {
        consulter: bool,
    },
    Deferred,
    /// Another run, or a change by staff, came first.
    Passed,
}

/// Erases one ticket in one transaction. THE LIST of what retention erases:
/// - the ticket's subject, consulter name and area (`tickets::erase`, which also marks it);
/// - every message's text, subject, sender address, raw mail, system remarks and the
///   In-Reply-To/References headers (`messages::erase_of_ticket`);
/// - every attachment, rows and bytes (`attachments::delete_of_messages`);
/// - the mail we sent about it: bytes, recipient, delivery error (`outbox::erase_of_ticket`);
/// - every draft of a reply on it (`drafts::discard_all`);
/// - staff's reasons on its triage flags and the flagged text's hash (`triage_flags`);
/// - the consulter's address and name, once every ticket of theirs is erased (`consulters`).
///
/// Everything else stays: reference, times, channel, status, urgency and its categories,
/// reply clocks, assignee, relationship, age group, case fields.
fn erase_one(
    conn: &mut DbConn,
    id: TicketId,
    cut: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Outcome, DeskError> {
    write_tx(conn, |c| {
        if outbox::queued_for_ticket(c, id)? {
            return Ok(Outcome::Deferred);
        }
        if !tickets::erase(c, id, cut, now)? {
            return Ok(Outcome::Passed);
        }
        let message_ids = messages::ids_of(c, id)?;
        let files = attachments::delete_of_messages(c, &message_ids)?;
        let texts = messages::erase_of_ticket(c, id)?;
        let sent = outbox::erase_of_ticket(c, id, &message_ids)?;
        let drafts = drafts::discard_all(c, id)?;
        let flags = triage_flags::erase_of_ticket(c, id)?;
        let comments = crate::db::reviews::erase_of_ticket(c, id)?;
        crate::db::my_access::erase_of_ticket(c, id)?;
        crate::db::my_sessions::revoke_all_of(c, id, now)?;
        let consulter = tickets::consulter_of(c, id)?;
        let consulter_erased = !tickets::consulter_has_unerased(c, consulter)?
            && consulters::erase(c, consulter, now)?;
        let detail = format!(
            "messages={texts} attachments={files} outbound={sent} drafts={drafts} \
             triage_flags={flags} review_comments={comments} consulter={}",
            if consulter_erased { "erased" } else { "kept" }
        );
        record(c, now, "ticket.erase", Some(id), None, &detail)?;
        Ok(Outcome::Erased {
            consulter: consulter_erased,
        })
    })
}

fn record(
    conn: &mut DbConn,
    now: DateTime<Utc>,
    action: &str,
    ticket: Option<TicketId>,
    target: Option<&str>,
    detail: &str,
) -> Result<(), DeskError> {
    Ok(audit::record(
        conn,
        &AuditEvent {
            at: now,
            staff_id: None,
            action,
            ticket_id: ticket,
            target,
            client_addr: None,
            detail: Some(detail),
        },
    )?)
}

/// Erases what is due now. `progress(done, total)` is told after each ticket. `None` when
/// retention is off.
pub fn run(
    state: &AppState,
    conn: &mut DbConn,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Option<Counts>, DeskError> {
    run_until(state, conn, progress, &|| false)
}

/// As [`run`], stopping between two tickets once `stop` says so (what was erased stays
/// erased; the next run goes on).
pub fn run_until(
    state: &AppState,
    conn: &mut DbConn,
    progress: &mut dyn FnMut(usize, usize),
    stop: &dyn Fn() -> bool,
) -> Result<Option<Counts>, DeskError> {
    let now = state.time.now();
    let Some(cut) = cutoff(state, now) else {
        return Ok(None);
    };
    let due = all_ids(conn, |c, after| {
        Ok(tickets::closed_before(c, cut, false, after, PAGE)?)
    })?;
    let held = all_ids(conn, |c, after| {
        Ok(tickets::closed_before(c, cut, true, after, PAGE)?)
    })?;
    let mut counts = Counts {
        held: held.len(),
        ..Counts::default()
    };
    let pause = StdDuration::from_millis(state.settings.retention.pause_ms);
    for (i, id) in due.iter().enumerate() {
        if stop() {
            counts.stopped = true;
            break;
        }
        match erase_one(conn, *id, cut, now)? {
            Outcome::Erased { consulter } => {
                counts.tickets += 1;
                counts.consulters += usize::from(consulter);
            }
            Outcome::Deferred => counts.deferred += 1,
            Outcome::Passed => {}
        }
        progress(i + 1, due.len());
        if !pause.is_zero() {
            std::thread::sleep(pause);
        }
    }
    for consulter in consulters::erased_everywhere_unmarked(conn)? {
        let erased = write_tx(conn, |c| {
            let erased = consulters::erase(c, consulter, now)?;
            if erased {
                let target = format!("consulter:{consulter}");
                record(
                    c,
                    now,
                    "consulter.erase",
                    None,
                    Some(&target),
                    "address=erased",
                )?;
            }
            Ok::<bool, DeskError>(erased)
        })?;
        counts.consulters += usize::from(erased);
    }
    counts.quarantine = write_tx(conn, |c| quarantine::erase_before(c, cut))?;
    counts.mail_files = remove_mail_files(state, conn)?;
    write_tx(conn, |c| {
        record(c, now, "retention.run", None, None, &counts.to_string())
    })?;
    tracing::info!(%counts, "retention run finished");
    Ok(Some(counts))
}

/// The `file` transport names each mail `TIME-OUTBOXID.eml`: the files of erased mail go too.
/// Looked for on every run, so a run killed after a commit leaves none behind for long.
fn remove_mail_files(state: &AppState, conn: &mut DbConn) -> Result<usize, DeskError> {
    if state.settings.smtp.transport != MailTransport::File {
        return Ok(0);
    }
    let dir = Path::new(&state.settings.smtp.file_dir);
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(0);
    };
    let mut by_id: HashMap<OutboxId, Vec<std::path::PathBuf>> = HashMap::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let id = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".eml"))
            .and_then(|n| n.rsplit('-').next())
            .and_then(|n| n.parse().ok());
        if let Some(id) = id {
            by_id.entry(OutboxId(id)).or_default().push(path);
        }
    }
    let ids: Vec<OutboxId> = by_id.keys().copied().collect();
    let mut removed = 0;
    for chunk in ids.chunks(500) {
        for id in outbox::erased_among(conn, chunk)? {
            for path in by_id.remove(&id).unwrap_or_default() {
                removed += usize::from(std::fs::remove_file(path).is_ok());
            }
        }
    }
    Ok(removed)
}

/// The day's run, on whichever instance comes first: it runs under the retention lock, and
/// the day's key is taken only when the run has finished, so a run cut short (a kill) is
/// taken up by the next round of any instance.
pub fn daily_round(state: &AppState, conn: &mut DbConn) -> Result<Option<Counts>, DeskError> {
    daily_round_until(state, conn, &|| false)
}

/// As [`daily_round`]; a run stopped by `stop` leaves the day's key untaken.
pub fn daily_round_until(
    state: &AppState,
    conn: &mut DbConn,
    stop: &dyn Fn() -> bool,
) -> Result<Option<Counts>, DeskError> {
    let now = state.time.now();
    if cutoff(state, now).is_none() {
        return Ok(None);
    }
    let local = now.with_timezone(&state.rules.tz);
    if local.time() < state.settings.retention.run_at()? {
        return Ok(None);
    }
    let key = format!("retention:{}", local.format("%Y-%m-%d"));
    if alerts_sent::is_claimed(conn, &key)? {
        return Ok(None);
    }
    let Some(_lease) = leader::try_lead(&state.settings.database.url, leader::RETENTION)? else {
        return Ok(None);
    };
    // Another instance may have finished the day's run while this one waited for the lock.
    if alerts_sent::is_claimed(conn, &key)? {
        return Ok(None);
    }
    let counts = run_until(state, conn, &mut |_, _| {}, stop)?;
    if counts.is_some_and(|c| !c.stopped) {
        alerts_sent::claim(conn, &key, now)?;
    }
    Ok(counts)
}

/// Runs [`daily_round`] every `every` until `shutdown`, on its own thread.
pub fn spawn_worker(
    state: Arc<AppState>,
    shutdown: Shutdown,
    every: StdDuration,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("retention".into())
        .spawn(move || {
            while !shutdown.is_triggered() {
                match state.pool.get() {
                    Ok(mut conn) => {
                        let stop = || shutdown.is_triggered();
                        if let Err(e) = daily_round_until(&state, &mut conn, &stop) {
                            tracing::warn!(error = %e, "retention round failed; will try again");
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "retention: no database connection"),
                }
                shutdown.sleep(every);
            }
        })
}
