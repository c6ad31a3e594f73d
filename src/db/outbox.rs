//! The outbox: mail waiting to go out, claimed by delivery workers under a lease.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::native::{insert_id, native};
use super::schema::outbound_mail;
use super::{DbConn, DbError, from_db, to_db, write_tx};
use crate::domain::address;
use crate::domain::vocabulary::{DeliveryStatus, MessageId, OutboxId, TicketId};

#[derive(Insertable)]
#[diesel(table_name = outbound_mail, treat_none_as_default_value = false)]
pub struct NewOutboundMail<'a> {
    pub message_id: Option<MessageId>,
    pub ticket_id: Option<TicketId>,
    /// `acknowledgement`, `reply`, `alert_overdue`, …
    pub kind: &'a str,
    pub to_address: &'a str,
    pub rfc_message_id: &'a str,
    pub raw: &'a [u8],
    pub status: DeliveryStatus,
    pub next_attempt_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
    /// Why it is `failed` from the start (it could not be made).
    pub last_error: Option<&'a str>,
}

impl<'a> NewOutboundMail<'a> {
    /// A mail ready to go out now, about no ticket and standing for no thread message (set
    /// those where it has them).
    pub fn queued(
        kind: &'a str,
        to_address: &'a str,
        rfc_message_id: &'a str,
        raw: &'a [u8],
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            message_id: None,
            ticket_id: None,
            kind,
            to_address,
            rfc_message_id,
            raw,
            status: DeliveryStatus::Queued,
            next_attempt_at: to_db(now),
            created_at: to_db(now),
            last_error: None,
        }
    }
}

pub fn enqueue(conn: &mut DbConn, mail: &NewOutboundMail<'_>) -> Result<OutboxId, DbError> {
    let insert = diesel::insert_into(outbound_mail::table).values(mail);
    Ok(insert_id!(conn, insert, outbound_mail::id)?)
}

/// Acknowledgements queued to one address since `since`, for the daily cap that keeps us from
/// flooding an inbox or feeding a loop.
pub fn acknowledgements_since(
    conn: &mut DbConn,
    to: &str,
    since: DateTime<Utc>,
) -> Result<i64, DbError> {
    // `Victim@` and `vIctim@` share one cap (docs/CONTRACT.md §5); the index
    // outbound_mail_ack_cap is on the same expression.
    let query = outbound_mail::table
        .filter(lower(outbound_mail::to_address).eq(address::cap_key(to)))
        .filter(outbound_mail::kind.eq(AcknowledgementKind))
        .filter(outbound_mail::created_at.gt(to_db(since)))
        .count();
    Ok(native!(conn, |c| query.get_result(c))?)
}

/// `'acknowledgement'` written into the statement, not bound: SQLite proves the partial index
/// `outbound_mail_ack_cap` usable only from a value it sees, and a statement whose plan rests
/// on a bound value is prepared anew whenever that value is bound again.
#[derive(Debug, Clone, Copy, diesel::query_builder::QueryId, diesel::expression::ValidGrouping)]
struct AcknowledgementKind;

impl diesel::expression::Expression for AcknowledgementKind {
    type SqlType = diesel::sql_types::Text;
}

impl<DB: diesel::backend::Backend> diesel::query_builder::QueryFragment<DB>
    for AcknowledgementKind
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> QueryResult<()> {
        out.push_sql("'acknowledgement'");
        Ok(())
    }
}

impl<QS> diesel::expression::AppearsOnTable<QS> for AcknowledgementKind {}
impl<QS> diesel::expression::SelectableExpression<QS> for AcknowledgementKind {}

diesel::define_sql_function! {
    /// ASCII letters in lower case on both backends, for addresses (SQLite's `lower`).
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// A mail claimed for one delivery attempt.
#[derive(Debug, Queryable)]
pub struct ClaimedMail {
    pub id: OutboxId,
    pub to_address: String,
    pub raw: Vec<u8>,
    pub attempts: i32,
    pub created_at: NaiveDateTime,
}

/// Claims up to `limit` due mails for `worker` until `lease_until`. On PostgreSQL, rows another
/// instance holds are skipped (`FOR UPDATE SKIP LOCKED`); on SQLite the write lock taken at
/// BEGIN makes the claim exclusive.
pub fn claim_due(
    conn: &mut DbConn,
    worker: &str,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<ClaimedMail>, DbError> {
    let now = to_db(now);
    write_tx(conn, |conn| {
        let due = outbound_mail::table
            .filter(outbound_mail::status.eq(DeliveryStatus::Queued))
            .filter(outbound_mail::next_attempt_at.le(now))
            .filter(
                outbound_mail::locked_until
                    .is_null()
                    .or(outbound_mail::locked_until.lt(now)),
            )
            .order((outbound_mail::next_attempt_at, outbound_mail::id))
            .select(outbound_mail::id)
            .limit(limit);
        let ids: Vec<OutboxId> = match conn {
            DbConn::Postgres(pg) => due.for_update().skip_locked().load(pg)?,
            DbConn::Sqlite(sqlite) => due.load(sqlite)?,
        };
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        diesel::update(outbound_mail::table.filter(outbound_mail::id.eq_any(&ids)))
            .set((
                outbound_mail::locked_until.eq(Some(to_db(lease_until))),
                outbound_mail::locked_by.eq(Some(worker)),
            ))
            .execute(conn)?;
        Ok(outbound_mail::table
            .filter(outbound_mail::id.eq_any(&ids))
            .order((outbound_mail::next_attempt_at, outbound_mail::id))
            .select((
                outbound_mail::id,
                outbound_mail::to_address,
                outbound_mail::raw,
                outbound_mail::attempts,
                outbound_mail::created_at,
            ))
            .load(conn)?)
    })
}

/// Only the worker that holds the lease may settle a mail; a worker whose lease ran out
/// (it hung past its time) must not overwrite the outcome of the one that took over, and a
/// bounce that arrived meanwhile (status failed) is final.
#[diesel::dsl::auto_type(no_type_alias)]
fn held_by<'a>(id: OutboxId, worker: &'a str) -> _ {
    let queued: DeliveryStatus = DeliveryStatus::Queued;
    outbound_mail::table
        .filter(outbound_mail::id.eq(id))
        .filter(outbound_mail::locked_by.eq(worker))
        .filter(outbound_mail::status.eq(queued))
}

pub fn mark_sent(
    conn: &mut DbConn,
    id: OutboxId,
    worker: &str,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    diesel::update(held_by(id, worker))
        .set((
            outbound_mail::status.eq(DeliveryStatus::Sent),
            outbound_mail::attempts.eq(outbound_mail::attempts + 1),
            outbound_mail::sent_at.eq(Some(to_db(now))),
            outbound_mail::last_error.eq(None::<String>),
            outbound_mail::locked_until.eq(None::<NaiveDateTime>),
            outbound_mail::locked_by.eq(None::<String>),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn mark_retry(
    conn: &mut DbConn,
    id: OutboxId,
    worker: &str,
    next_attempt_at: DateTime<Utc>,
    error: &str,
) -> Result<(), DbError> {
    diesel::update(held_by(id, worker))
        .set((
            outbound_mail::attempts.eq(outbound_mail::attempts + 1),
            outbound_mail::next_attempt_at.eq(to_db(next_attempt_at)),
            outbound_mail::last_error.eq(Some(error)),
            outbound_mail::locked_until.eq(None::<NaiveDateTime>),
            outbound_mail::locked_by.eq(None::<String>),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn mark_failed(
    conn: &mut DbConn,
    id: OutboxId,
    worker: &str,
    error: &str,
) -> Result<(), DbError> {
    diesel::update(held_by(id, worker))
        .set((
            outbound_mail::status.eq(DeliveryStatus::Failed),
            outbound_mail::attempts.eq(outbound_mail::attempts + 1),
            outbound_mail::last_error.eq(Some(error)),
            outbound_mail::locked_until.eq(None::<NaiveDateTime>),
            outbound_mail::locked_by.eq(None::<String>),
        ))
        .execute(conn)?;
    Ok(())
}

/// Gives claimed but untried mail back at shutdown, so another worker need not wait for the lease.
pub fn release(conn: &mut DbConn, ids: &[OutboxId], worker: &str) -> Result<(), DbError> {
    diesel::update(
        outbound_mail::table
            .filter(outbound_mail::id.eq_any(ids))
            .filter(outbound_mail::locked_by.eq(worker)),
    )
    .set((
        outbound_mail::locked_until.eq(None::<NaiveDateTime>),
        outbound_mail::locked_by.eq(None::<String>),
    ))
    .execute(conn)?;
    Ok(())
}

/// When the next queued mail falls due, so an idle worker sleeps exactly that long.
pub fn next_due(conn: &mut DbConn) -> Result<Option<DateTime<Utc>>, DbError> {
    let next: Option<NaiveDateTime> = outbound_mail::table
        .filter(outbound_mail::status.eq(DeliveryStatus::Queued))
        .select(diesel::dsl::min(outbound_mail::next_attempt_at))
        .first(conn)?;
    Ok(next.map(from_db))
}

/// Delivery state per message, for the API.
#[derive(Debug, Clone, Queryable, serde::Serialize)]
pub struct DeliveryRow {
    #[serde(skip)]
    pub message_id: Option<MessageId>,
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub last_error: Option<String>,
}

pub fn delivery_for_messages(
    conn: &mut DbConn,
    message_ids: &[MessageId],
) -> Result<Vec<DeliveryRow>, DbError> {
    Ok(outbound_mail::table
        .filter(outbound_mail::message_id.eq_any(message_ids))
        .select((
            outbound_mail::message_id,
            outbound_mail::status,
            outbound_mail::attempts,
            outbound_mail::last_error,
        ))
        .load(conn)?)
}

/// A mail of ours that a delivery report speaks of.
#[derive(Debug, Clone, Copy, Queryable)]
pub struct SentMail {
    pub id: OutboxId,
    pub ticket_id: Option<TicketId>,
}

pub fn by_message_id(conn: &mut DbConn, rfc_message_id: &str) -> Result<Option<SentMail>, DbError> {
    Ok(outbound_mail::table
        .filter(outbound_mail::rfc_message_id.eq(rfc_message_id))
        .select((outbound_mail::id, outbound_mail::ticket_id))
        .first(conn)
        .optional()?)
}

/// A bounce: the mail did not reach the consulter, whatever our SMTP server said before.
pub fn mark_bounced(conn: &mut DbConn, id: OutboxId, diagnostic: &str) -> Result<(), DbError> {
    diesel::update(outbound_mail::table.find(id))
        .set((
            outbound_mail::status.eq(DeliveryStatus::Failed),
            outbound_mail::last_error.eq(Some(diagnostic)),
        ))
        .execute(conn)?;
    Ok(())
}

/// The lease a worker takes: long enough for one slow SMTP exchange, short enough that mail
/// held by a killed process is soon picked up again.
pub fn lease(smtp_timeout_seconds: u64) -> Duration {
    Duration::seconds(i64::try_from(smtp_timeout_seconds).unwrap_or(60) * 2 + 5)
}

/// Whether mail about the ticket still waits to go out (retention leaves such a ticket for a
/// later run rather than empty a mail about to be sent).
pub fn queued_for_ticket(conn: &mut DbConn, ticket: TicketId) -> Result<bool, DbError> {
    Ok(diesel::select(diesel::dsl::exists(
        outbound_mail::table
            .filter(outbound_mail::ticket_id.eq(ticket))
            .filter(outbound_mail::status.eq(DeliveryStatus::Queued)),
    ))
    .get_result(conn)?)
}

/// Retention: the mail we sent about the ticket loses its bytes, its recipient and its
/// delivery error (SMTP servers quote addresses); kind, status, attempts and times stay.
pub fn erase_of_ticket(
    conn: &mut DbConn,
    ticket: TicketId,
    messages: &[MessageId],
) -> Result<usize, DbError> {
    Ok(diesel::update(
        outbound_mail::table.filter(
            outbound_mail::ticket_id
                .eq(ticket)
                .or(outbound_mail::message_id.eq_any(messages)),
        ),
    )
    .set((
        outbound_mail::raw.eq(Vec::<u8>::new()),
        outbound_mail::to_address.eq(""),
        outbound_mail::last_error.eq(None::<String>),
    ))
    .execute(conn)?)
}

/// The mail we sent for these thread messages, byte for byte, for the export.
#[derive(Debug, Clone, Queryable)]
pub struct SentBytes {
    pub message_id: Option<MessageId>,
    pub to_address: String,
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub sent_at: Option<NaiveDateTime>,
    pub raw: Vec<u8>,
}

pub fn sent_for_messages(
    conn: &mut DbConn,
    messages: &[MessageId],
) -> Result<Vec<SentBytes>, DbError> {
    Ok(outbound_mail::table
        .filter(outbound_mail::message_id.eq_any(messages))
        .order(outbound_mail::id)
        .select((
            outbound_mail::message_id,
            outbound_mail::to_address,
            outbound_mail::status,
            outbound_mail::attempts,
            outbound_mail::last_error,
            outbound_mail::sent_at,
            outbound_mail::raw,
        ))
        .load(conn)?)
}

/// Which of these mails were erased (their recipient taken), for removing the files the
/// `file` transport wrote of them.
pub fn erased_among(conn: &mut DbConn, ids: &[OutboxId]) -> Result<Vec<OutboxId>, DbError> {
    Ok(outbound_mail::table
        .filter(outbound_mail::id.eq_any(ids))
        .filter(outbound_mail::to_address.eq(""))
        .select(outbound_mail::id)
        .load(conn)?)
}
