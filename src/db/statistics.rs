//! Read view: the fiscal-year counts for the city (CONTRACT §9), in a fixed number of
//! aggregate queries whatever the number of tickets (twelve month counts on the index
//! `messages_contacts`, then one each for people, new people, replies and the case tables).
//!
//! A contact is a consulter's message (kind `inbound`, not automatic mail). A person is a
//! consulter row (`consulters.id`): one per address, letter case aside, and it stays when
//! the address itself is erased.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, Text, Timestamp};

use super::schema::{messages, tickets};
use super::{DbConn, DbError, to_db};
use crate::domain::statistics::{Figures, FiscalYear};
use crate::domain::vocabulary::{Channel, MessageKind};

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct FieldCode {
    #[diesel(sql_type = Text)]
    field: String,
    #[diesel(sql_type = Nullable<Text>)]
    code: Option<String>,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// `?` placeholders as the backend writes them (`$1`, `$2`, … on PostgreSQL).
fn placeholders(conn: &DbConn, sql: &str) -> String {
    match conn {
        DbConn::Sqlite(_) => sql.to_string(),
        DbConn::Postgres(_) => {
            let mut out = String::with_capacity(sql.len() + 8);
            let mut n = 0;
            for c in sql.chars() {
                if c == '?' {
                    n += 1;
                    out.push_str(&format!("${n}"));
                } else {
                    out.push(c);
                }
            }
            out
        }
    }
}

/// The year's contacts: consulter messages, automatic mail aside.
const CONTACTS_IN_YEAR: &str = "SELECT m.ticket_id FROM messages m \
     WHERE m.kind = 'inbound' AND m.automatic = ? AND m.created_at >= ? AND m.created_at < ?";

/// Everything the report counts, for one fiscal year.
pub fn figures(conn: &mut DbConn, year: &FiscalYear) -> Result<Figures, DbError> {
    let (from, to): (NaiveDateTime, NaiveDateTime) = (to_db(year.from), to_db(year.to));
    let contacts = |from: DateTime<Utc>, to: DateTime<Utc>| {
        messages::table
            .inner_join(tickets::table)
            .filter(messages::kind.eq(MessageKind::Inbound))
            .filter(messages::automatic.eq(false))
            .filter(messages::created_at.ge(to_db(from)))
            .filter(messages::created_at.lt(to_db(to)))
    };
    let mut f = Figures::default();
    let mut by_channel = [0i64; 2];
    for (_, start, end) in &year.months {
        let rows: Vec<(Channel, i64)> = contacts(*start, *end)
            .group_by(tickets::channel)
            .select((tickets::channel, diesel::dsl::count_star()))
            .load(conn)?;
        f.month_contacts.push(rows.iter().map(|(_, n)| n).sum());
        for (channel, n) in rows {
            by_channel[usize::from(channel == Channel::Email)] += n;
        }
    }
    f.channel_contacts = vec![
        ("web_form".into(), by_channel[0]),
        ("email".into(), by_channel[1]),
    ];
    f.people = contacts(year.from, year.to)
        .select(diesel::dsl::count(tickets::consulter_id).aggregate_distinct())
        .first(conn)?;

    // New: no contact of theirs before the year began, on any ticket. Asked once per person
    // of the year (not per contact), through the person's tickets and their messages:
    // `kind || ''` keeps SQLite from reading every earlier contact on `messages_contacts`
    // for each person instead (quadratic: seconds at two thousand tickets).
    let sql = placeholders(
        conn,
        "SELECT COUNT(*) AS n FROM (SELECT DISTINCT t.consulter_id AS c FROM messages m \
         JOIN tickets t ON t.id = m.ticket_id \
         WHERE m.kind = 'inbound' AND m.automatic = ? AND m.created_at >= ? AND m.created_at < ?) p \
         WHERE NOT EXISTS (SELECT 1 FROM tickets t2 JOIN messages m2 ON m2.ticket_id = t2.id \
             WHERE t2.consulter_id = p.c AND m2.kind || '' = 'inbound' \
             AND m2.automatic = ? AND m2.created_at < ?)",
    );
    f.new_people = diesel::sql_query(sql)
        .bind::<Bool, _>(false)
        .bind::<Timestamp, _>(from)
        .bind::<Timestamp, _>(to)
        .bind::<Bool, _>(false)
        .bind::<Timestamp, _>(from)
        .get_result::<Count>(conn)?
        .n;

    f.replies = messages::table
        .filter(messages::kind.eq(MessageKind::Outbound))
        .filter(messages::author_id.is_not_null())
        .filter(messages::created_at.ge(from))
        .filter(messages::created_at.lt(to))
        .count()
        .get_result(conn)?;

    // Each person once, by their latest ticket with a contact in the year.
    let latest = format!(
        "WITH latest AS (SELECT MAX(t.id) AS id FROM tickets t \
         WHERE t.id IN ({CONTACTS_IN_YEAR}) GROUP BY t.consulter_id) "
    );
    // One query for both, so the latest tickets are found once (a CTE used twice is
    // materialised by SQLite and PostgreSQL alike): codes by field, and under a NULL code the
    // people with anything recorded in the field.
    let sql = placeholders(
        conn,
        &format!(
            "{latest}SELECT v.field AS field, v.code AS code, COUNT(*) AS n FROM latest l \
             JOIN ticket_case_values v ON v.ticket_id = l.id GROUP BY v.field, v.code \
             UNION ALL SELECT v.field AS field, NULL AS code, COUNT(DISTINCT v.ticket_id) AS n \
             FROM latest l JOIN ticket_case_values v ON v.ticket_id = l.id GROUP BY v.field"
        ),
    );
    let rows = diesel::sql_query(sql)
        .bind::<Bool, _>(false)
        .bind::<Timestamp, _>(from)
        .bind::<Timestamp, _>(to)
        .load::<FieldCode>(conn)?;
    for r in rows {
        match r.code {
            Some(code) => f.case_values.push((r.field, code, r.n)),
            None => f.case_known.push((r.field, r.n)),
        }
    }
    Ok(f)
}
