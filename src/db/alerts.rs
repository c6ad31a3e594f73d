//! What alerts need: clocks to warn about, and claims so each alert goes out once, also
//! across restarts and several instances.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::schema::{alerts_sent, reply_clocks, staff, tickets};
use super::{DbConn, DbError, to_db};

#[derive(Debug, Clone, Queryable)]
pub struct ClockAlert {
    pub clock_id: i64,
    pub ticket_id: i64,
    pub reference: String,
    pub assignee_id: Option<i64>,
    pub assignee_name: Option<String>,
    pub due_at: NaiveDateTime,
}

#[diesel::dsl::auto_type(no_type_alias)]
fn alert_columns() -> _ {
    (
        reply_clocks::id,
        tickets::id,
        tickets::reference,
        tickets::assignee_id,
        staff::name.nullable(),
        reply_clocks::due_at,
    )
}

/// Which warning a clock must not have had yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotYet {
    DueSoon,
    Overdue,
    /// Any clock, warned or not (for the digest).
    Either,
}

/// Running clocks due in `(after, before)`, soonest first.
pub fn running_due(
    conn: &mut DbConn,
    after: Option<DateTime<Utc>>,
    before: DateTime<Utc>,
    not_yet: NotYet,
) -> Result<Vec<ClockAlert>, DbError> {
    let mut q = reply_clocks::table
        .inner_join(tickets::table.left_join(staff::table))
        .filter(reply_clocks::stopped_at.is_null())
        .filter(reply_clocks::due_at.lt(to_db(before)))
        .select(alert_columns())
        .into_boxed::<super::queue::Backend>();
    if let Some(after) = after {
        q = q.filter(reply_clocks::due_at.gt(to_db(after)));
    }
    q = match not_yet {
        NotYet::DueSoon => q.filter(reply_clocks::due_soon_alerted_at.is_null()),
        NotYet::Overdue => q.filter(reply_clocks::overdue_alerted_at.is_null()),
        NotYet::Either => q,
    };
    Ok(q.order((reply_clocks::due_at, reply_clocks::id))
        .load(conn)?)
}

/// Takes the right to send a clock's due-soon warning; false if another took it first.
pub fn claim_due_soon(
    conn: &mut DbConn,
    clock_id: i64,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    Ok(diesel::update(
        reply_clocks::table
            .find(clock_id)
            .filter(reply_clocks::due_soon_alerted_at.is_null()),
    )
    .set(reply_clocks::due_soon_alerted_at.eq(Some(to_db(now))))
    .execute(conn)?
        == 1)
}

pub fn claim_overdue(
    conn: &mut DbConn,
    clock_id: i64,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    Ok(diesel::update(
        reply_clocks::table
            .find(clock_id)
            .filter(reply_clocks::overdue_alerted_at.is_null()),
    )
    .set(reply_clocks::overdue_alerted_at.eq(Some(to_db(now))))
    .execute(conn)?
        == 1)
}

/// Takes a one-time key such as `digest:2026-12-01`; false if it was taken before.
pub fn claim_key(conn: &mut DbConn, key: &str, now: DateTime<Utc>) -> Result<bool, DbError> {
    let inserted = conn.transaction(|c| {
        diesel::insert_into(alerts_sent::table)
            .values((
                alerts_sent::key.eq(key),
                alerts_sent::sent_at.eq(to_db(now)),
            ))
            .execute(c)
    });
    match inserted {
        Ok(_) => Ok(true),
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

pub fn staff_contact(
    conn: &mut DbConn,
    id: i64,
) -> Result<Option<(String, String, bool)>, DbError> {
    Ok(staff::table
        .find(id)
        .select((staff::email, staff::name, staff::active))
        .first(conn)
        .optional()?)
}

/// Urgent open tickets: (id, reference).
pub fn urgent_open(conn: &mut DbConn) -> Result<Vec<(i64, String)>, DbError> {
    Ok(tickets::table
        .filter(tickets::urgent.eq(true))
        .filter(tickets::status.ne("closed"))
        .order(tickets::id)
        .select((tickets::id, tickets::reference))
        .load(conn)?)
}

pub fn new_since(conn: &mut DbConn, since: DateTime<Utc>) -> Result<i64, DbError> {
    Ok(tickets::table
        .filter(tickets::created_at.ge(to_db(since)))
        .count()
        .get_result(conn)?)
}
