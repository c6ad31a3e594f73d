//! What the soak finds at the end: every acknowledged consultation, mail and reply looked for
//! in the database and at the SMTP server, and serve's memory over the run.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use diesel::PgConnection;
use diesel::prelude::*;
use madoguchi::db::schema::{messages, outbound_mail, tickets};
use mail_parser::MessageParser;

use super::load::Ledger;
use super::smtp_server::ReceivedMail;

/// Acknowledged items of one kind, and what became of them.
#[derive(Default, Clone, Debug)]
pub struct Found {
    pub acknowledged: usize,
    pub found: usize,
    pub lost: usize,
    /// Extra copies stored (a retried request that had been taken before its answer was lost).
    pub doubled: usize,
    /// Follow-ups stored on another consultation than the one they answered.
    pub wrong_ticket: usize,
}

#[derive(Default, Debug)]
pub struct Outbox {
    pub rows: usize,
    pub sent: usize,
    /// Still queued or failed when the run ended.
    pub not_sent: usize,
    /// Rows marked sent of which the SMTP server has no copy.
    pub missing_at_server: usize,
    /// Extra copies of one mail (same Message-ID) the SMTP server accepted.
    pub sent_twice: usize,
}

#[derive(Default, Debug)]
pub struct Findings {
    pub kinds: BTreeMap<String, Found>,
    /// Replies answered 202, looked for at the SMTP server by the marker in their text.
    pub replies: Found,
    pub outbox: Outbox,
    /// Tickets that have no acknowledgement queued.
    pub unacknowledged_tickets: usize,
    /// A few lost or misplaced items, named.
    pub examples: Vec<String>,
}

impl Findings {
    fn note(&mut self, what: String) {
        if self.examples.len() < 10 {
            self.examples.push(what);
        }
    }
}

/// Waits until every mail appended to the mailbox is stored (serve polls it), or `within`.
pub fn wait_for_mailbox(conn: &mut PgConnection, ledger: &Ledger, within: Duration) {
    let wanted: Vec<&String> = ledger
        .mails
        .iter()
        .filter(|m| m.0 == "imap")
        .map(|m| &m.1)
        .collect();
    let start = Instant::now();
    while start.elapsed() < within {
        let stored = stored_message_ids(conn);
        if wanted.iter().all(|id| stored.contains_key(id.as_str())) {
            return;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Waits until nothing is left queued in the outbox, or `within`.
pub fn wait_for_outbox(conn: &mut PgConnection, within: Duration) {
    let start = Instant::now();
    while start.elapsed() < within {
        let queued: i64 = outbound_mail::table
            .filter(outbound_mail::status.eq("queued"))
            .count()
            .get_result(conn)
            .unwrap_or(1);
        if queued == 0 {
            return;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn stored_message_ids(conn: &mut PgConnection) -> HashMap<String, Vec<i64>> {
    let rows: Vec<(i64, Option<String>)> = messages::table
        .filter(messages::kind.eq("inbound"))
        .select((messages::ticket_id, messages::rfc_message_id))
        .load(conn)
        .expect("messages");
    let mut by_id: HashMap<String, Vec<i64>> = HashMap::new();
    for (ticket, id) in rows {
        if let Some(id) = id {
            by_id.entry(id).or_default().push(ticket);
        }
    }
    by_id
}

/// The `soak-KIND-NNNNNN` a text carries, each time it carries one.
fn markers(text: &str) -> Vec<&str> {
    text.match_indices("soak-")
        .filter_map(|(at, _)| {
            let rest = &text[at..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .unwrap_or(rest.len());
            let m = &rest[..end];
            m.rsplit('-')
                .next()
                .is_some_and(|n| n.len() == 6 && n.bytes().all(|b| b.is_ascii_digit()))
                .then_some(m)
        })
        .collect()
}

pub fn findings(conn: &mut PgConnection, ledger: &Ledger, mails: &[ReceivedMail]) -> Findings {
    let mut f = Findings::default();
    let tickets: Vec<(i64, String, String)> = tickets::table
        .select((tickets::id, tickets::reference, tickets::subject))
        .load(conn)
        .expect("tickets");
    let reference_of: HashMap<i64, &str> =
        tickets.iter().map(|(id, r, _)| (*id, r.as_str())).collect();
    let mut tickets_by_marker: HashMap<&str, Vec<&str>> = HashMap::new();
    for (_, reference, subject) in &tickets {
        if let Some(m) = markers(subject).first() {
            tickets_by_marker.entry(m).or_default().push(reference);
        }
    }
    for (kind, marker, reference, _) in &ledger.consultations {
        let found = f.kinds.entry(kind.to_string()).or_default();
        found.acknowledged += 1;
        let copies = tickets_by_marker
            .get(marker.as_str())
            .map_or(&[][..], |v| v);
        if copies.contains(&reference.as_str()) {
            found.found += 1;
            found.doubled += copies.len() - 1;
        } else {
            found.lost += 1;
            f.note(format!("{kind} {marker} ({reference}) not stored"));
        }
    }

    let stored = stored_message_ids(conn);
    for (kind, message_id, joins) in &ledger.mails {
        let label = match joins {
            Some(_) => format!("follow-up by {kind}"),
            None => kind.to_string(),
        };
        let found = f.kinds.entry(label.clone()).or_default();
        found.acknowledged += 1;
        let Some(on) = stored.get(message_id) else {
            found.lost += 1;
            f.note(format!("{label} <{message_id}> not stored"));
            continue;
        };
        found.found += 1;
        found.doubled += on.len() - 1;
        let marker = markers(message_id).first().copied().unwrap_or("");
        let right = on.iter().all(|t| match joins {
            Some(reference) => reference_of.get(t) == Some(&reference.as_str()),
            None => tickets_by_marker
                .get(marker)
                .is_some_and(|refs| reference_of.get(t).is_some_and(|r| refs.contains(r))),
        });
        if !right {
            found.wrong_ticket += 1;
            f.note(format!("{label} <{message_id}> on the wrong consultation"));
        }
    }

    // Mail out: each row of the outbox reached the SMTP server, once.
    let mut at_server: HashMap<String, usize> = HashMap::new();
    let mut replies_at_server: HashMap<String, std::collections::HashSet<String>> = HashMap::new();
    for mail in mails {
        let Some(parsed) = MessageParser::default().parse(&mail.data) else {
            continue;
        };
        let id = parsed.message_id().unwrap_or("").to_string();
        *at_server.entry(id.clone()).or_default() += 1;
        if let Some(text) = parsed.body_text(0) {
            for m in markers(&text)
                .into_iter()
                .filter(|m| m.starts_with("soak-reply-"))
            {
                replies_at_server
                    .entry(m.to_string())
                    .or_default()
                    .insert(id.clone());
            }
        }
    }
    let rows: Vec<(String, String, Option<i64>, String)> = outbound_mail::table
        .select((
            outbound_mail::rfc_message_id,
            outbound_mail::status,
            outbound_mail::ticket_id,
            outbound_mail::kind,
        ))
        .load(conn)
        .expect("outbox");
    f.outbox.rows = rows.len();
    let mut acknowledged: std::collections::HashSet<i64> = Default::default();
    for (id, status, ticket, kind) in &rows {
        if kind == "acknowledgement"
            && let Some(t) = ticket
        {
            acknowledged.insert(*t);
        }
        if status != "sent" {
            f.outbox.not_sent += 1;
            f.note(format!("outbox mail {kind} <{id}> {status}"));
            continue;
        }
        f.outbox.sent += 1;
        match at_server.get(id) {
            None => {
                f.outbox.missing_at_server += 1;
                f.note(format!("{kind} <{id}> marked sent, not at the SMTP server"));
            }
            Some(1) => {}
            Some(n) => {
                f.outbox.sent_twice += n - 1;
                f.note(format!(
                    "{kind} <{id}> accepted {n} times by the SMTP server"
                ));
            }
        }
    }
    f.unacknowledged_tickets = tickets
        .iter()
        .filter(|(id, ..)| !acknowledged.contains(id))
        .count();

    for marker in &ledger.replies {
        f.replies.acknowledged += 1;
        match replies_at_server.get(marker) {
            None => {
                f.replies.lost += 1;
                f.note(format!("reply {marker} never reached the SMTP server"));
            }
            Some(copies) => {
                f.replies.found += 1;
                // Two mails (two Message-IDs) with one reply's text: the reply was stored twice.
                f.replies.doubled += copies.len() - 1;
            }
        }
    }
    f
}

/// serve's resident memory over one process's life.
#[derive(Debug, Clone)]
pub struct Memory {
    pub process: u32,
    pub samples: usize,
    pub seconds: f64,
    pub min_kb: u64,
    pub median_kb: u64,
    pub max_kb: u64,
    /// Means of the first and the last tenth of the samples after warm-up.
    pub early_kb: u64,
    pub late_kb: u64,
    pub growth_pct: f64,
}

/// `samples` are (seconds since start, process number, VmRSS kB); the first `warm_up` of each
/// process's life are left out of early/late.
pub fn memory(samples: &[(f64, u32, u64)], warm_up: f64) -> Vec<Memory> {
    let mut by_process: BTreeMap<u32, Vec<(f64, u64)>> = BTreeMap::new();
    for (t, p, kb) in samples {
        by_process.entry(*p).or_default().push((*t, *kb));
    }
    by_process
        .into_iter()
        .map(|(process, s)| {
            let first = s[0].0;
            let mut sorted: Vec<u64> = s.iter().map(|x| x.1).collect();
            sorted.sort_unstable();
            let settled: Vec<u64> = s
                .iter()
                .filter(|x| x.0 - first >= warm_up)
                .map(|x| x.1)
                .collect();
            let tenth = (settled.len() / 10).max(1);
            let mean = |v: &[u64]| v.iter().sum::<u64>() / v.len().max(1) as u64;
            let early = mean(&settled[..tenth.min(settled.len())]);
            let late = mean(&settled[settled.len().saturating_sub(tenth)..]);
            Memory {
                process,
                samples: s.len(),
                seconds: s[s.len() - 1].0 - first,
                min_kb: sorted[0],
                median_kb: sorted[sorted.len() / 2],
                max_kb: sorted[sorted.len() - 1],
                early_kb: early,
                late_kb: late,
                growth_pct: if early == 0 {
                    0.0
                } else {
                    100.0 * (late as f64 - early as f64) / early as f64
                },
            }
        })
        .collect()
}

#[test]
fn markers_are_found_in_subjects_and_texts() {
    assert_eq!(markers("soak-api-000012 息子のこと"), ["soak-api-000012"]);
    assert_eq!(
        markers("Re: soak-imap-000003 x [#ABCD-EFGH] soak-reply-123456。"),
        ["soak-imap-000003", "soak-reply-123456"]
    );
    assert!(markers("soak-api-12 soak-").is_empty());
}
