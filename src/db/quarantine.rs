//! Mail that could not be taken, kept byte for byte with the reason, for a person to look at.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::schema::quarantine;
use super::{Backend, DbConn, DbError, to_db};
use crate::domain::vocabulary::QuarantineId;

pub fn put(
    conn: &mut DbConn,
    raw: &[u8],
    source: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<QuarantineId, DbError> {
    Ok(diesel::insert_into(quarantine::table)
        .values((
            quarantine::received_at.eq(to_db(now)),
            quarantine::source.eq(source),
            quarantine::reason.eq(reason),
            quarantine::raw.eq(raw),
        ))
        .returning(quarantine::id)
        .get_result(conn)?)
}

#[derive(Debug, Clone, Queryable)]
pub struct QuarantineRow {
    pub id: QuarantineId,
    pub received_at: NaiveDateTime,
    pub source: String,
    pub reason: String,
    pub retried_at: Option<NaiveDateTime>,
    pub resolved_at: Option<NaiveDateTime>,
}

/// Unresolved entries first, newest first.
pub fn list(conn: &mut DbConn, include_resolved: bool) -> Result<Vec<QuarantineRow>, DbError> {
    let mut q = quarantine::table
        .select((
            quarantine::id,
            quarantine::received_at,
            quarantine::source,
            quarantine::reason,
            quarantine::retried_at,
            quarantine::resolved_at,
        ))
        .order(quarantine::id.desc())
        .into_boxed::<Backend>();
    if !include_resolved {
        q = q.filter(quarantine::resolved_at.is_null());
    }
    Ok(q.load(conn)?)
}

pub fn raw(conn: &mut DbConn, id: QuarantineId) -> Result<Option<Vec<u8>>, DbError> {
    Ok(quarantine::table
        .find(id)
        .select(quarantine::raw)
        .first(conn)
        .optional()?)
}

/// Records a retry; `resolved` when the mail was taken this time.
pub fn retried(
    conn: &mut DbConn,
    id: QuarantineId,
    resolved: bool,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let target = quarantine::table.find(id);
    match (resolved, reason) {
        (true, _) => diesel::update(target)
            .set((
                quarantine::retried_at.eq(Some(to_db(now))),
                quarantine::resolved_at.eq(Some(to_db(now))),
            ))
            .execute(conn)?,
        (false, Some(reason)) => diesel::update(target)
            .set((
                quarantine::retried_at.eq(Some(to_db(now))),
                quarantine::reason.eq(reason),
            ))
            .execute(conn)?,
        (false, None) => diesel::update(target)
            .set(quarantine::retried_at.eq(Some(to_db(now))))
            .execute(conn)?,
    };
    Ok(())
}

/// What an erased quarantine entry says instead of its reason (which may quote an address).
pub const ERASED_REASON: &str = "erased by retention";

/// Retention: mail kept in quarantine that arrived before `cutoff` loses its bytes and reason;
/// the row (when, from where, whether it was taken) stays. Says how many.
pub fn erase_before(conn: &mut DbConn, cutoff: DateTime<Utc>) -> Result<usize, DbError> {
    Ok(diesel::update(
        quarantine::table
            .filter(quarantine::received_at.lt(to_db(cutoff)))
            .filter(quarantine::reason.ne(ERASED_REASON)),
    )
    .set((
        quarantine::raw.eq(Vec::<u8>::new()),
        quarantine::reason.eq(ERASED_REASON),
    ))
    .execute(conn)?)
}

pub fn count_before(conn: &mut DbConn, cutoff: DateTime<Utc>) -> Result<i64, DbError> {
    Ok(quarantine::table
        .filter(quarantine::received_at.lt(to_db(cutoff)))
        .filter(quarantine::reason.ne(ERASED_REASON))
        .count()
        .get_result(conn)?)
}
