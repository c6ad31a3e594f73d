//! Read view: the fiscal-year counts for the city (CONTRACT §9). One pass over the year's
//! contacts (ticket ids only, from the index `messages_contacts`), grouped here; then the
//! tickets, people, earlier contacts and case values of just those, read by ranges of ids on
//! covering indexes. At a million tickets the year is a million contacts: joining each to its
//! ticket in SQL, five times over, took seconds. Each read is cut into parts read at once on
//! connections of their own (`parallel`).
//!
//! A contact is a consulter's message (kind `inbound`, not automatic mail). A person is a
//! consulter row (`consulters.id`): one per address, letter case aside, and it stays when
//! the address itself is erased.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamp};

use super::parallel::{self, split_read};
use super::schema::{messages, tickets};
use super::{DbConn, DbError, Pool, to_db};
use crate::domain::statistics::{Figures, FiscalYear};
use crate::domain::stats::id_ranges;
use crate::domain::vocabulary::{Channel, MessageKind, TicketId};

/// Ids this close together are read as one range (a range read is far cheaper per row than
/// a lookup; the ids between that are not wanted are dropped here).
pub const GAP: i64 = 512;

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// `?` placeholders as the backend writes them (`$1`, `$2`, … on PostgreSQL).
pub(super) fn placeholders(conn: &DbConn, sql: &str) -> String {
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

/// Everything the report counts, for one fiscal year, read over as many connections at once
/// as the machine has cores ([`parallel::ways`]).
pub fn figures(pool: &Pool, conn: &mut DbConn, year: &FiscalYear) -> Result<Figures, DbError> {
    figures_in(pool, conn, year, parallel::ways(), GAP)
}

/// [`figures`] with each read cut into `ways` parts, and ids `gap` apart read as one range; the
/// figures depend on neither.
pub fn figures_in(
    pool: &Pool,
    conn: &mut DbConn,
    year: &FiscalYear,
    ways: usize,
    gap: i64,
) -> Result<Figures, DbError> {
    let mut f = Figures::default();
    // The year's contacts, a month at a time: their tickets' ids, from the index alone.
    let months = split_read(pool, conn, &year.months, ways, |c, months| {
        let mut out: Vec<Vec<i64>> = Vec::with_capacity(months.len());
        for (_, start, end) in months {
            let ids: Vec<TicketId> = messages::table
                .filter(messages::kind.eq(MessageKind::Inbound))
                .filter(messages::automatic.eq(false))
                .filter(messages::created_at.ge(to_db(*start)))
                .filter(messages::created_at.lt(to_db(*end)))
                .select(messages::ticket_id)
                .load(c)?;
            out.push(ids.into_iter().map(|t| t.0).collect());
        }
        Ok(out)
    })?;
    let mut contacts: Vec<i64> = Vec::new();
    for ids in months.into_iter().flatten() {
        f.month_contacts.push(ids.len() as i64);
        contacts.extend(ids);
    }
    contacts.sort_unstable();
    // (ticket, its contacts in the year)
    let mut per_ticket: Vec<(i64, i64)> = Vec::new();
    for id in contacts {
        match per_ticket.last_mut() {
            Some((t, n)) if *t == id => *n += 1,
            _ => per_ticket.push((id, 1)),
        }
    }
    let ticket_ids: Vec<i64> = per_ticket.iter().map(|(t, _)| *t).collect();

    // Each ticket's person and channel, with its contacts: (person, by email, contacts).
    // Cut by the wanted ids, not by ranges: a year's tickets may be one range of a million.
    let found = split_read(pool, conn, &ticket_ids, ways, |c, ids| {
        let mut out: Vec<(i64, i64, bool, i64)> = Vec::new();
        let (Some(first), Some(last)) = (ids.first(), ids.last()) else {
            return Ok(out);
        };
        let from = per_ticket.partition_point(|(t, _)| t < first);
        let to = per_ticket.partition_point(|(t, _)| t <= last);
        let mut wanted = per_ticket[from..to].iter().peekable();
        for (first, last) in id_ranges(ids, gap) {
            let rows: Vec<(TicketId, i64, bool)> = tickets::table
                .filter(tickets::id.between(TicketId(first), TicketId(last)))
                .select((
                    tickets::id,
                    tickets::consulter_id,
                    tickets::channel.eq(Channel::Email),
                ))
                .order(tickets::id)
                .load(c)?;
            for (id, person, email) in rows {
                while wanted.next_if(|(t, _)| *t < id.0).is_some() {}
                if let Some((_, n)) = wanted.next_if(|(t, _)| *t == id.0) {
                    out.push((id.0, person, email, *n));
                }
            }
        }
        Ok(out)
    })?;
    // A person's latest ticket of the year.
    let mut by_channel = [0i64; 2];
    let mut latest: HashMap<i64, i64> = HashMap::new();
    for (id, person, email, n) in found.into_iter().flatten() {
        by_channel[usize::from(email)] += n;
        let l = latest.entry(person).or_insert(id);
        *l = (*l).max(id);
    }
    f.channel_contacts = vec![
        ("web_form".into(), by_channel[0]),
        ("email".into(), by_channel[1]),
    ];
    let mut people: Vec<i64> = latest.keys().copied().collect();
    people.sort_unstable();
    f.people = people.len() as i64;
    f.new_people = f.people - continuing(pool, conn, year, &people, ways, gap)?;
    // One count a part, over its run of months.
    f.replies = split_read(pool, conn, &year.months, ways, |c, months| {
        match (months.first(), months.last()) {
            (Some((_, from, _)), Some((_, _, to))) => replies(c, *from, *to),
            _ => Ok(0),
        }
    })?
    .into_iter()
    .sum();
    let mut latest: Vec<i64> = latest.into_values().collect();
    latest.sort_unstable();
    case_values(pool, conn, &latest, ways, gap, &mut f)?;
    Ok(f)
}

/// How many of `people` (sorted) had a contact before the year, on any ticket of theirs.
fn continuing(
    pool: &Pool,
    conn: &mut DbConn,
    year: &FiscalYear,
    people: &[i64],
    ways: usize,
    gap: i64,
) -> Result<i64, DbError> {
    // Every ticket of theirs, from `tickets_consulter` alone.
    let parts = split_read(pool, conn, people, ways, |c, part| {
        let mut theirs: Vec<(i64, i64)> = Vec::new();
        for (first, last) in id_ranges(part, gap) {
            let rows: Vec<(i64, TicketId)> = tickets::table
                .filter(tickets::consulter_id.between(first, last))
                .select((tickets::consulter_id, tickets::id))
                .load(c)?;
            theirs.extend(
                rows.into_iter()
                    .filter(|(p, _)| people.binary_search(p).is_ok())
                    .map(|(p, t)| (t.0, p)),
            );
        }
        Ok(theirs)
    })?;
    let mut theirs: Vec<(i64, i64)> = parts.into_iter().flatten().collect();
    theirs.sort_unstable();
    let ids: Vec<i64> = theirs.iter().map(|(t, _)| *t).collect();
    // Their tickets' contacts before the year, on the partial `messages_contacts_by_ticket`
    // alone (a few entries a ticket). SQLite, without statistics, would rather walk every
    // earlier contact of everyone on `messages_contacts`, hence INDEXED BY.
    let indexed = match conn {
        DbConn::Sqlite(_) => " INDEXED BY messages_contacts_by_ticket",
        DbConn::Postgres(_) => "",
    };
    let sql = placeholders(
        conn,
        &format!(
            "SELECT ticket_id AS id FROM messages{indexed} WHERE ticket_id >= ? AND ticket_id <= ? \
             AND kind = 'inbound' AND automatic = FALSE AND created_at < ?"
        ),
    );
    let parts = split_read(pool, conn, &ids, ways, |c, part| {
        let mut earlier: Vec<i64> = Vec::new();
        for (first, last) in id_ranges(part, gap) {
            let rows = diesel::sql_query(&sql)
                .bind::<BigInt, _>(first)
                .bind::<BigInt, _>(last)
                .bind::<Timestamp, _>(to_db(year.from))
                .load::<Id>(c)?;
            earlier.extend(rows.into_iter().map(|r| r.id));
        }
        Ok(earlier)
    })?;
    let mut who: Vec<i64> = parts
        .iter()
        .flatten()
        .filter_map(|t| ids.binary_search(t).ok().map(|i| theirs[i].1))
        .collect();
    who.sort_unstable();
    who.dedup();
    Ok(who.len() as i64)
}

/// Staff replies in `[from, to)`, counted on `messages_contacts` (which carries the author).
fn replies(conn: &mut DbConn, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<i64, DbError> {
    Ok(messages::table
        .filter(messages::kind.eq(MessageKind::Outbound))
        .filter(messages::author_id.is_not_null())
        .filter(messages::created_at.ge(to_db(from)))
        .filter(messages::created_at.lt(to_db(to)))
        .count()
        .get_result(conn)?)
}

/// Case values of each person's latest ticket (`tickets`, sorted): people by (field, code),
/// and by field the people with anything recorded in it. At a million tickets this is 2.5
/// million values: each ticket's come as one string (`field`, a unit separator, `code`, a
/// record separator between pairs), and a pair seen before is counted without allocating its
/// key again (two strings a value and their keys' copies were 1.5 s of the report's 2.8 s).
fn case_values(
    pool: &Pool,
    conn: &mut DbConn,
    tickets: &[i64],
    ways: usize,
    gap: i64,
    f: &mut Figures,
) -> Result<(), DbError> {
    let parts = split_read(pool, conn, tickets, ways, |c, part| {
        case_values_in(c, part, &id_ranges(part, gap))
    })?;
    let mut codes: HashMap<String, i64> = HashMap::new();
    let mut known: Vec<(String, i64)> = Vec::new();
    for (part_codes, part_known) in parts {
        for (pair, n) in part_codes {
            *codes.entry(pair).or_insert(0) += n;
        }
        for (field, n) in part_known {
            match known.iter_mut().find(|(k, _)| *k == field) {
                Some((_, m)) => *m += n,
                None => known.push((field, n)),
            }
        }
    }
    f.case_values = codes
        .into_iter()
        .map(|(pair, n)| {
            let (field, code) = pair.split_once(SEP).unwrap_or((pair.as_str(), ""));
            (field.to_string(), code.to_string(), n)
        })
        .collect();
    f.case_values.sort();
    f.case_known = known;
    f.case_known.sort();
    Ok(())
}

/// Between `field` and `code` in the one string a case value is read as.
const SEP: char = '\u{1f}';

/// Between one ticket's pairs in the one string they are read as.
const RS: char = '\u{1e}';

#[derive(QueryableByName)]
struct Pairs {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    pairs: String,
}

/// Case-value counts of the wanted `tickets` in `ranges`: by `field`+SEP+`code`, and by field
/// the tickets with anything in it. One row a ticket, its pairs joined by the database (a
/// million rows at a million tickets, not 2.5 million).
#[allow(clippy::type_complexity)]
fn case_values_in(
    conn: &mut DbConn,
    tickets: &[i64],
    ranges: &[(i64, i64)],
) -> Result<(HashMap<String, i64>, Vec<(String, i64)>), DbError> {
    let joined = match conn {
        DbConn::Sqlite(_) => "group_concat(field || char(31) || code, char(30))",
        DbConn::Postgres(_) => "string_agg(field || chr(31) || code, chr(30))",
    };
    let sql = placeholders(
        conn,
        &format!(
            "SELECT ticket_id AS id, {joined} AS pairs FROM ticket_case_values \
             WHERE ticket_id >= ? AND ticket_id <= ? GROUP BY ticket_id"
        ),
    );
    let mut codes: HashMap<String, i64> = HashMap::new();
    // (field, people with anything in it); a handful of fields, so looked up in order.
    let mut known: Vec<(String, i64)> = Vec::new();
    // The fields of the ticket at hand, as places in `known`.
    let mut fields: Vec<usize> = Vec::new();
    for &(first, last) in ranges {
        let rows = diesel::sql_query(&sql)
            .bind::<BigInt, _>(first)
            .bind::<BigInt, _>(last)
            .load::<Pairs>(conn)?;
        for row in rows {
            if tickets.binary_search(&row.id).is_err() {
                continue;
            }
            fields.clear();
            for pair in row.pairs.split(RS) {
                let field = pair.split(SEP).next().unwrap_or_default();
                let at = match known.iter().position(|(k, _)| k == field) {
                    Some(at) => at,
                    None => {
                        known.push((field.to_string(), 0));
                        known.len() - 1
                    }
                };
                if !fields.contains(&at) {
                    fields.push(at);
                    known[at].1 += 1;
                }
                match codes.get_mut(pair) {
                    Some(n) => *n += 1,
                    None => {
                        codes.insert(pair.to_string(), 1);
                    }
                }
            }
        }
    }
    Ok((codes, known))
}
