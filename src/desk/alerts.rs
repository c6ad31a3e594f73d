//! Warnings before a reply is late: due-soon to the assignee (or every counsellor when nobody
//! is assigned), overdue to the supervisors, and a daily digest. Each goes out once, also
//! across restarts and instances, because it is claimed in the database in the same
//! transaction that queues its mail. Alerts carry references and links, never text.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use minijinja::{Value, context};

use super::DeskError;
use crate::db::alerts::{self as db, ClockAlert, NotYet};
use crate::db::{DbConn, from_db, staff, write_tx};
use crate::domain::jpdate;
use crate::mail::outgoing;
use crate::state::AppState;

/// How many alerts one round queued, by kind.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub due_soon: usize,
    pub overdue: usize,
    pub digests: usize,
}

/// One pass at the state's current time. Safe to run from several places at once.
pub fn run_once(state: &AppState, conn: &mut DbConn) -> Result<Sent, DeskError> {
    let now = state.time.now();
    let mut sent = Sent::default();
    let soon = now + state.rules.due_soon;
    for clock in db::running_due(conn, Some(now), soon, NotYet::DueSoon)? {
        sent.due_soon += write_tx(conn, |c| due_soon(state, c, &clock, now))?;
    }
    for clock in db::running_due(conn, None, now, NotYet::Overdue)? {
        sent.overdue += write_tx(conn, |c| overdue(state, c, &clock, now))?;
    }
    if let Some(at) = state.settings.alerts.digest_at()? {
        let local = now.with_timezone(&state.rules.tz);
        if local.time() >= at {
            let key = format!("digest:{}", local.format("%Y-%m-%d"));
            sent.digests += write_tx(conn, |c| digest(state, c, &key, now))?;
        }
    }
    if sent != Sent::default() {
        state.waker.wake();
        tracing::info!(?sent, "alerts queued");
    }
    Ok(sent)
}

fn local(state: &AppState, t: NaiveDateTime) -> String {
    jpdate::datetime_ja(&from_db(t).with_timezone(&state.rules.tz))
}

/// Composes one staff alert and queues it, in the caller's transaction.
pub(crate) fn queue(
    state: &AppState,
    conn: &mut DbConn,
    kind: &str,
    ticket_id: Option<i64>,
    recipient: (&str, &str),
    ctx: Value,
    now: DateTime<Utc>,
) -> Result<(), DeskError> {
    let mail = state.mailer.staff_alert(kind, recipient, ctx, now)?;
    outgoing::queue_staff_mail(conn, ticket_id, &format!("alert_{kind}"), &mail, now)?;
    Ok(())
}

fn due_soon(
    state: &AppState,
    conn: &mut DbConn,
    clock: &ClockAlert,
    now: DateTime<Utc>,
) -> Result<usize, DeskError> {
    if !db::claim_due_soon(conn, clock.clock_id, now)? {
        return Ok(0);
    }
    let assignee = match clock.assignee_id {
        Some(id) => db::staff_contact(conn, id)?.filter(|(_, _, active)| *active),
        None => None,
    };
    let recipients: Vec<(String, String)> = match &assignee {
        Some((email, name, _)) => vec![(email.clone(), name.clone())],
        None => staff::active_with_role(conn, "counsellor")?
            .into_iter()
            .map(|(_, e, n)| (e, n))
            .collect(),
    };
    let ctx = context! {
        reference => &clock.reference,
        due => local(state, clock.due_at),
        assigned => assignee.is_some(),
        link => state.mailer.ticket_link(clock.ticket_id),
    };
    for (email, name) in &recipients {
        queue(
            state,
            conn,
            "due_soon",
            Some(clock.ticket_id),
            (email, name),
            ctx.clone(),
            now,
        )?;
    }
    Ok(recipients.len())
}

fn overdue(
    state: &AppState,
    conn: &mut DbConn,
    clock: &ClockAlert,
    now: DateTime<Utc>,
) -> Result<usize, DeskError> {
    if !db::claim_overdue(conn, clock.clock_id, now)? {
        return Ok(0);
    }
    // A clock that went overdue unseen (the service was down) gets no late due-soon warning.
    db::claim_due_soon(conn, clock.clock_id, now)?;
    let supervisors = staff::active_with_role(conn, "supervisor")?;
    let ctx = context! {
        reference => &clock.reference,
        due => local(state, clock.due_at),
        assignee => clock.assignee_name.as_deref().unwrap_or("未割り当て"),
        link => state.mailer.ticket_link(clock.ticket_id),
    };
    for (_, email, name) in &supervisors {
        queue(
            state,
            conn,
            "overdue",
            Some(clock.ticket_id),
            (email, name),
            ctx.clone(),
            now,
        )?;
    }
    Ok(supervisors.len())
}

fn digest(
    state: &AppState,
    conn: &mut DbConn,
    key: &str,
    now: DateTime<Utc>,
) -> Result<usize, DeskError> {
    if !db::claim_key(conn, key, now)? {
        return Ok(0);
    }
    let item = |c: &ClockAlert| {
        context! {
            reference => &c.reference,
            due => local(state, c.due_at),
            link => state.mailer.ticket_link(c.ticket_id),
        }
    };
    let overdue: Vec<Value> = db::running_due(conn, None, now, NotYet::Either)?
        .iter()
        .map(item)
        .collect();
    let soon: Vec<Value> =
        db::running_due(conn, Some(now), now + state.rules.due_soon, NotYet::Either)?
            .iter()
            .map(item)
            .collect();
    let urgent: Vec<Value> = db::urgent_open(conn)?
        .into_iter()
        .map(|(id, reference)| context! { reference => reference, link => state.mailer.ticket_link(id) })
        .collect();
    let ctx = context! {
        date => jpdate::date_ja(&now.with_timezone(&state.rules.tz)),
        overdue => overdue,
        due_soon => soon,
        urgent => urgent,
        new_today => db::new_since(conn, now - Duration::hours(24))?,
    };
    let supervisors = staff::active_with_role(conn, "supervisor")?;
    for (_, email, name) in &supervisors {
        queue(state, conn, "digest", None, (email, name), ctx.clone(), now)?;
    }
    Ok(supervisors.len())
}

/// Runs [`run_once`] every `every` until `shutdown`, on its own thread.
pub fn spawn_worker(
    state: Arc<AppState>,
    shutdown: Arc<AtomicBool>,
    every: StdDuration,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("alerts".into())
        .spawn(move || {
            while !shutdown.load(Ordering::SeqCst) {
                match state.pool.get() {
                    Ok(mut conn) => {
                        if let Err(e) = run_once(&state, &mut conn) {
                            tracing::warn!(error = %e, "alerts round failed; will try again");
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "alerts: no database connection"),
                }
                // Sleep in short steps so shutdown is prompt.
                let mut slept = StdDuration::ZERO;
                while slept < every && !shutdown.load(Ordering::SeqCst) {
                    std::thread::sleep(StdDuration::from_millis(200));
                    slept += StdDuration::from_millis(200);
                }
            }
        })
}
