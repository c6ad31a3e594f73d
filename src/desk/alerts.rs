//! Warnings before a reply is late: due-soon to the assignee (or every counsellor when nobody
//! is assigned), overdue to the supervisors, and a daily digest. Each goes out once, also
//! across restarts and instances, because it is claimed in the database in the same
//! transaction that queues its mail. Alerts carry references and links, never text.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use minijinja::{Value, context};

use super::DeskError;
use crate::db::clocks::{self, ClockAlert, NotYet};
use crate::db::staff;
use crate::db::{DbConn, alerts_sent, from_db, reviews, tickets, write_tx};
use crate::domain::jpdate;
use crate::domain::vocabulary::Role;
use crate::signal::Shutdown;
use crate::state::AppState;

/// How many alerts one round queued, by kind.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub due_soon: usize,
    pub overdue: usize,
    pub digests: usize,
    /// Replies waiting for review long enough to remind the supervisors of.
    pub review_reminders: usize,
}

/// One pass at the state's current time. Safe to run from several places at once.
pub fn run_once(state: &AppState, conn: &mut DbConn) -> Result<Sent, DeskError> {
    let now = state.time.now();
    let mut sent = Sent::default();
    let soon = now + state.rules.due_soon;
    for clock in clocks::running_due(conn, Some(now), soon, NotYet::DueSoon)? {
        sent.due_soon += write_tx(conn, |c| due_soon(state, c, &clock, now))?;
    }
    for clock in clocks::running_due(conn, None, now, NotYet::Overdue)? {
        sent.overdue += write_tx(conn, |c| overdue(state, c, &clock, now))?;
    }
    sent.review_reminders += super::reviews::remind(state, conn, now)?;
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

fn due_soon(
    state: &AppState,
    conn: &mut DbConn,
    clock: &ClockAlert,
    now: DateTime<Utc>,
) -> Result<usize, DeskError> {
    if !clocks::claim_due_soon(conn, clock.clock_id, now)? {
        return Ok(0);
    }
    let assignee = match clock.assignee_id {
        Some(id) => staff::contact(conn, id)?.filter(|s| s.active),
        None => None,
    };
    let assigned = assignee.is_some();
    let mut recipients = match assignee {
        Some(one) => vec![one],
        None => staff::active_with_role(conn, Role::Counsellor)?,
    };
    // A reply written but waiting for review is no answer yet: the supervisors who must
    // read it are told too.
    let awaiting_review = reviews::awaiting_on(conn, clock.ticket_id)?;
    if awaiting_review {
        for s in staff::active_with_role(conn, Role::Supervisor)? {
            if !recipients.iter().any(|r| r.id == s.id) {
                recipients.push(s);
            }
        }
    }
    let ctx = context! {
        reference => &clock.reference,
        due => local(state, clock.due_at),
        assigned => assigned,
        awaiting_review => awaiting_review,
        link => state.mailer.ticket_link(clock.ticket_id),
    };
    super::notify::queue(
        state,
        conn,
        "due_soon",
        Some(clock.ticket_id),
        &recipients,
        ctx,
        now,
    )
}

fn overdue(
    state: &AppState,
    conn: &mut DbConn,
    clock: &ClockAlert,
    now: DateTime<Utc>,
) -> Result<usize, DeskError> {
    if !clocks::claim_overdue(conn, clock.clock_id, now)? {
        return Ok(0);
    }
    // A clock that went overdue unseen (the service was down) gets no late due-soon warning.
    clocks::claim_due_soon(conn, clock.clock_id, now)?;
    let supervisors = staff::active_with_role(conn, Role::Supervisor)?;
    let ctx = context! {
        reference => &clock.reference,
        due => local(state, clock.due_at),
        assignee => clock.assignee_name.as_deref().unwrap_or("未割り当て"),
        link => state.mailer.ticket_link(clock.ticket_id),
    };
    super::notify::queue(
        state,
        conn,
        "overdue",
        Some(clock.ticket_id),
        &supervisors,
        ctx,
        now,
    )
}

fn digest(
    state: &AppState,
    conn: &mut DbConn,
    key: &str,
    now: DateTime<Utc>,
) -> Result<usize, DeskError> {
    if !alerts_sent::claim(conn, key, now)? {
        return Ok(0);
    }
    let item = |c: &ClockAlert| {
        context! {
            reference => &c.reference,
            due => local(state, c.due_at),
            link => state.mailer.ticket_link(c.ticket_id),
        }
    };
    let overdue: Vec<Value> = clocks::running_due(conn, None, now, NotYet::Either)?
        .iter()
        .map(item)
        .collect();
    let soon: Vec<Value> =
        clocks::running_due(conn, Some(now), now + state.rules.due_soon, NotYet::Either)?
            .iter()
            .map(item)
            .collect();
    let urgent: Vec<Value> = tickets::urgent_open(conn)?
        .into_iter()
        .map(|t| context! { reference => t.reference, link => state.mailer.ticket_link(t.id) })
        .collect();
    let ctx = context! {
        date => jpdate::date_ja(&now.with_timezone(&state.rules.tz)),
        overdue => overdue,
        due_soon => soon,
        urgent => urgent,
        new_today => tickets::new_since(conn, now - Duration::hours(24))?,
    };
    let supervisors = staff::active_with_role(conn, Role::Supervisor)?;
    super::notify::queue(state, conn, "digest", None, &supervisors, ctx, now)
}

/// Runs [`run_once`] every `every` until `shutdown`, on its own thread.
pub fn spawn_worker(
    state: Arc<AppState>,
    shutdown: Shutdown,
    every: StdDuration,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("alerts".into())
        .spawn(move || {
            while !shutdown.is_triggered() {
                match state.pool.get() {
                    Ok(mut conn) => {
                        if let Err(e) = run_once(&state, &mut conn) {
                            tracing::warn!(error = %e, "alerts round failed; will try again");
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "alerts: no database connection"),
                }
                shutdown.sleep(every);
            }
        })
}
