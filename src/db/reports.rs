//! Reads for supervisors' reports; the arithmetic is in `domain::sla`.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use diesel::data_types::PgTimestamp;
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::pg::Pg;
use diesel::sql_types::Timestamp;
use diesel::sqlite::Sqlite;

use super::parallel::{self, split_read};
use super::schema::{reply_clocks, staff, tickets};
use super::{Backend, DbConn, DbError, Pool, to_db};
use crate::domain::sla;
use crate::domain::vocabulary::{ClockId, StaffId, Status, TicketId};

#[derive(Debug, Clone, Queryable)]
pub struct ClockRow {
    pub ticket_id: TicketId,
    pub reference: String,
    pub subject: String,
    pub status: Status,
    pub urgent: bool,
    pub assignee_id: Option<StaffId>,
    pub assignee_name: Option<String>,
    pub started_at: NaiveDateTime,
    pub due_at: NaiveDateTime,
    pub stopped_at: Option<NaiveDateTime>,
    pub stopped_by: Option<StaffId>,
}

#[diesel::dsl::auto_type(no_type_alias)]
fn clock_columns() -> _ {
    (
        tickets::id,
        tickets::reference,
        tickets::subject,
        tickets::status,
        tickets::urgent,
        tickets::assignee_id,
        staff::name.nullable(),
        reply_clocks::started_at,
        reply_clocks::due_at,
        reply_clocks::stopped_at,
        reply_clocks::stopped_by_staff_id,
    )
}

/// Clocks that ran at `at` and were past due then, most overdue first.
///
/// Read in two parts that cannot overlap, each on its own index: clocks still running
/// (`reply_clocks_running_due`, a few thousand at most) and clocks stopped after `at`
/// (`reply_clocks_stopped`: none for the present, more the further back `at` lies). One
/// query with the OR would walk every clock due before `at`, i.e. all of history.
/// The second part leaves `due_at < at` to Rust: with it in SQL, SQLite (no ANALYZE) seeks
/// on the covering `reply_clocks_due_cover` instead and walks every clock due before `at`
/// (3 M at 1M tickets, ~400 ms for no row). Without it the only index term is
/// `stopped_at > at`; the extra rows are clocks running at `at` not yet due, a few thousand.
pub fn overdue_at(conn: &mut DbConn, at: DateTime<Utc>) -> Result<Vec<ClockRow>, DbError> {
    let at = to_db(at);
    let base = || {
        reply_clocks::table
            .inner_join(tickets::table.left_join(staff::table))
            .filter(reply_clocks::started_at.le(at))
            .select((reply_clocks::id, clock_columns()))
            .into_boxed::<Backend>()
    };
    let mut rows: Vec<(ClockId, ClockRow)> = base()
        .filter(reply_clocks::due_at.lt(at))
        .filter(reply_clocks::stopped_at.is_null())
        .load(conn)?;
    rows.extend(
        base()
            .filter(reply_clocks::stopped_at.gt(at))
            .load::<(ClockId, ClockRow)>(conn)?
            .into_iter()
            .filter(|(_, r)| r.due_at < at),
    );
    rows.sort_by(|(a_id, a), (b_id, b)| a.due_at.cmp(&b.due_at).then(a_id.0.cmp(&b_id.0)));
    Ok(rows.into_iter().map(|(_, r)| r).collect())
}

/// Clocks running now that fall due by `by`, soonest first.
pub fn running_due_by(conn: &mut DbConn, by: DateTime<Utc>) -> Result<Vec<ClockRow>, DbError> {
    Ok(reply_clocks::table
        .inner_join(tickets::table.left_join(staff::table))
        .filter(reply_clocks::stopped_at.is_null())
        .filter(reply_clocks::due_at.le(to_db(by)))
        .order((reply_clocks::due_at, reply_clocks::id))
        .select(clock_columns())
        .load(conn)?)
}

/// What the SLA report by counsellor needs of one clock.
#[derive(Debug, Clone, Queryable)]
pub struct SlaClock {
    pub started_at: NaiveDateTime,
    pub due_at: NaiveDateTime,
    pub stopped_at: Option<NaiveDateTime>,
    pub stopped_by: Option<StaffId>,
    pub assignee_id: Option<StaffId>,
}

/// Every clock whose due time falls in `[from, to)`, stopped or not, with its ticket's
/// assignee, in no particular order (by month, [`sla_counts_due_between`] counts instead).
pub fn sla_clocks_due_between(
    conn: &mut DbConn,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<SlaClock>, DbError> {
    Ok(reply_clocks::table
        .inner_join(tickets::table)
        .filter(reply_clocks::due_at.ge(to_db(from)))
        .filter(reply_clocks::due_at.lt(to_db(to)))
        .select((
            reply_clocks::started_at,
            reply_clocks::due_at,
            reply_clocks::stopped_at,
            reply_clocks::stopped_by_staff_id,
            tickets::assignee_id,
        ))
        .load(conn)?)
}

/// An instant read as microseconds since 1970 (UTC), for reads of a million timestamps:
/// on SQLite the text diesel writes (`YYYY-MM-DD HH:MM:SS[.ffffff]`) is taken apart by hand,
/// where chrono's format parser costs most of a report's time; any other text goes through
/// chrono as before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, FromSqlRow)]
pub struct Micros(pub i64);

impl FromSql<Timestamp, Sqlite> for Micros {
    fn from_sql(
        mut value: <Sqlite as diesel::backend::Backend>::RawValue<'_>,
    ) -> deserialize::Result<Self> {
        if let Some(us) = sla::micros_of_text(value.read_text()) {
            return Ok(Self(us));
        }
        let t = <NaiveDateTime as FromSql<Timestamp, Sqlite>>::from_sql(value)?;
        Ok(Self(t.and_utc().timestamp_micros()))
    }
}

impl FromSql<Timestamp, Pg> for Micros {
    fn from_sql(
        value: <Pg as diesel::backend::Backend>::RawValue<'_>,
    ) -> deserialize::Result<Self> {
        // PostgreSQL sends microseconds since 2000-01-01.
        let PgTimestamp(us) = FromSql::<Timestamp, Pg>::from_sql(value)?;
        Ok(Self(us + 946_684_800_000_000))
    }
}

impl FromSql<Timestamp, Backend> for Micros {
    fn from_sql(
        value: <Backend as diesel::backend::Backend>::RawValue<'_>,
    ) -> deserialize::Result<Self> {
        value.from_sql::<Self, Timestamp>()
    }
}

/// The SLA counts of the clocks due in `[from, to)` as `domain::sla` decides them at `now`,
/// read from the covering `reply_clocks_due_cover` alone; the caller asks once a month.
///
/// Ordered as that index is, though the counts need no order: without it PostgreSQL walks
/// the narrower `reply_clocks_due` and visits the table for every clock (48 ms a month at
/// 1M tickets, against 12.5 ms reading the index alone). SQLite reads the same index either way.
pub fn sla_counts_due_between(
    conn: &mut DbConn,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
    key: String,
) -> Result<sla::Counts, DbError> {
    let clocks: Vec<(Micros, Micros, Option<Micros>)> = reply_clocks::table
        .filter(reply_clocks::due_at.ge(to_db(from)))
        .filter(reply_clocks::due_at.lt(to_db(to)))
        .order((
            reply_clocks::due_at,
            reply_clocks::started_at,
            reply_clocks::stopped_at,
        ))
        .select((
            reply_clocks::started_at,
            reply_clocks::due_at,
            reply_clocks::stopped_at,
        ))
        .load(conn)?;
    Ok(sla::count(
        key,
        clocks
            .into_iter()
            .map(|(a, d, s)| (a.0, d.0, s.map(|s| s.0))),
        now,
    ))
}

/// [`sla_counts_due_between`] for each `(key, from, to)` of `months`, in their order, read
/// over as many connections at once as the machine has cores.
pub fn sla_counts_by_month(
    pool: &Pool,
    conn: &mut DbConn,
    months: &[(String, DateTime<Utc>, DateTime<Utc>)],
    now: DateTime<Utc>,
) -> Result<Vec<sla::Counts>, DbError> {
    let parts = split_read(pool, conn, months, parallel::ways(), |c, months| {
        months
            .iter()
            .map(|(key, from, to)| sla_counts_due_between(c, *from, *to, now, key.clone()))
            .collect::<Result<Vec<_>, _>>()
    })?;
    Ok(parts.into_iter().flatten().collect())
}

#[derive(Debug, Clone, Queryable)]
pub struct StaffName {
    pub id: StaffId,
    pub name: String,
    pub active: bool,
}

/// Staff names by id, for grouping by the counsellor who answered.
pub fn staff_names(conn: &mut DbConn) -> Result<Vec<StaffName>, DbError> {
    Ok(staff::table
        .select((staff::id, staff::name, staff::active))
        .load(conn)?)
}

/// An open ticket for the workload view.
#[derive(Debug, Clone, Queryable)]
pub struct OpenTicket {
    pub id: TicketId,
    pub assignee_id: Option<StaffId>,
    /// Of the running clock.
    pub reply_due_at: Option<NaiveDateTime>,
}

pub fn open_tickets(conn: &mut DbConn) -> Result<Vec<OpenTicket>, DbError> {
    Ok(tickets::table
        .filter(tickets::status.ne(Status::Closed))
        .select((tickets::id, tickets::assignee_id, tickets::reply_due_at))
        .load(conn)?)
}

/// How many of something there are, by a label such as a status.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct Tally {
    pub label: String,
    pub count: i64,
}

/// Tickets by status, for metrics.
pub fn count_by_status(conn: &mut DbConn) -> Result<Vec<Tally>, DbError> {
    Ok(tickets::table
        .group_by(tickets::status)
        .select((tickets::status, diesel::dsl::count_star()))
        .load(conn)?)
}

/// Open tickets by reply-clock state at `now`: (state, count), four small counts on indexes.
pub fn count_by_sla_state(
    conn: &mut DbConn,
    now: DateTime<Utc>,
    soon_until: DateTime<Utc>,
) -> Result<Vec<Tally>, DbError> {
    let open = || tickets::table.filter(tickets::status.ne(Status::Closed));
    let (now, soon) = (to_db(now), to_db(soon_until));
    let tally = |label: &str, count: i64| Tally {
        label: label.into(),
        count,
    };
    Ok(vec![
        tally(
            "none",
            open()
                .filter(tickets::reply_due_at.is_null())
                .count()
                .get_result(conn)?,
        ),
        tally(
            "overdue",
            open()
                .filter(tickets::reply_due_at.lt(now))
                .count()
                .get_result(conn)?,
        ),
        tally(
            "due_soon",
            open()
                .filter(tickets::reply_due_at.ge(now))
                .filter(tickets::reply_due_at.lt(soon))
                .count()
                .get_result(conn)?,
        ),
        tally(
            "on_track",
            open()
                .filter(tickets::reply_due_at.ge(soon))
                .count()
                .get_result(conn)?,
        ),
    ])
}

/// The outbox by delivery status: depth (`queued`) and failures (`failed`).
pub fn outbox_by_status(conn: &mut DbConn) -> Result<Vec<Tally>, DbError> {
    use super::schema::outbound_mail;
    Ok(outbound_mail::table
        .group_by(outbound_mail::status)
        .select((outbound_mail::status, diesel::dsl::count_star()))
        .load(conn)?)
}
