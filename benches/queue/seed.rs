//! Seeding the queue benchmark: 100,000 tickets as the application would have left them,
//! made through the same persistence calls it uses, in transactions of 1,000.
#![allow(dead_code)]

use std::time::Instant;

use chrono::{DateTime, Utc};
use diesel::connection::SimpleConnection;
use madoguchi::db::messages::{self, NewMessage};
use madoguchi::db::tickets::{self, TicketDetails};
use madoguchi::db::{DbConn, DbError, clocks, outbox, to_db, write_tx};
use madoguchi::domain::vocabulary::{Channel, DeliveryStatus, StaffId, Status, TicketId};
use madoguchi::domain::{clock, reference};
use madoguchi::state::AppState;

use crate::common::{self, Rng};

const COUNSELLORS: usize = 20;
const BATCH: usize = 1_000;

/// What one ticket will look like.
struct Plan {
    received: DateTime<Utc>,
    status: Status,
    urgent: bool,
    assignee: Option<usize>,
}

fn days(d: f64) -> chrono::Duration {
    chrono::Duration::seconds((d * 86_400.0) as i64)
}

/// Statuses by age, as in a desk that keeps up: closed tickets are old, new ones recent.
fn plans(count: usize, now: DateTime<Utc>, rng: &mut Rng) -> Vec<Plan> {
    let mut plans: Vec<Plan> = (0..count)
        .map(|_| {
            let roll = rng.below(100);
            let (status, oldest, newest) = match roll {
                0..30 => (Status::Closed, 365.0, 7.0),
                30..45 => (Status::Waiting, 60.0, 1.0),
                45..65 => (Status::Open, 30.0, 0.0),
                _ => (Status::New, 14.0, 0.0),
            };
            let age = newest + (oldest - newest) * (rng.below(1_000_000) as f64 / 1e6);
            Plan {
                received: now - days(age),
                status,
                urgent: rng.chance(0.05),
                assignee: rng
                    .chance(0.7)
                    .then(|| rng.below(COUNSELLORS as u64) as usize),
            }
        })
        .collect();
    // Ids grow with arrival time, as in service.
    plans.sort_by_key(|p| p.received);
    plans
}

/// A distinct reference per ticket: an odd multiplier is a bijection on 40 bits.
pub fn reference_for(i: usize) -> String {
    let scrambled = (i as u64).wrapping_mul(0x009E_3779_B97F) & ((1u64 << 40) - 1);
    let b = scrambled.to_be_bytes();
    reference::from_entropy([b[3], b[4], b[5], b[6], b[7]])
}

fn counsellors(conn: &mut DbConn, now: DateTime<Utc>) -> Vec<StaffId> {
    (0..COUNSELLORS)
        .map(|k| {
            madoguchi::desk::staff::create(
                conn,
                &format!("counsellor{k}@example.org"),
                &format!("相談員 {k}"),
                "counsellor",
                "a long bench password",
                now,
            )
            .expect("a counsellor account")
        })
        .collect()
}

/// One ticket as the application would have left it after its history.
fn seed_one(
    conn: &mut DbConn,
    state: &AppState,
    staff: &[StaffId],
    rng: &mut Rng,
    i: usize,
    plan: &Plan,
) -> Result<TicketId, DbError> {
    // One consulter in ten wrote an earlier consultation too.
    let consulter = if i > 10 && rng.chance(0.1) {
        rng.below(i as u64) as usize
    } else {
        i
    };
    let email = format!("consulter{consulter}@example.jp");
    let subject = common::japanese_subject(rng);
    let reference = reference_for(i);
    let at = plan.received;
    let ticket = tickets::open(
        conn,
        &reference,
        &TicketDetails {
            subject,
            channel: if i.is_multiple_of(3) {
                Channel::Email
            } else {
                Channel::WebForm
            },
            consulter_email: &email,
            consulter_name: Some(&common::japanese_name(rng)),
            relationship: Some("family"),
            age_group: Some("20代"),
            area: Some("白石区"),
        },
        at,
    )?;
    if plan.urgent {
        tickets::update(conn, ticket, None, Some(true), at)?;
    }
    let assignee = plan.assignee.map(|k| staff[k]);
    if assignee.is_some() {
        tickets::assign(conn, ticket, assignee, at)?;
    }
    let body = common::japanese_body(rng, 1000, i);
    let inbound = |body, at| NewMessage::inbound(ticket, Some("相談"), body, Some(&email), at);
    let first = messages::add(conn, &inbound(&body, at))?;
    clocks::start(
        conn,
        ticket,
        at,
        clock::reply_due_at(&state.rules, at),
        first,
    )?;

    let ack_id = format!("ack-{i}@soudan.example.org");
    let ack_body = format!(
        "{reference} ご相談を受け付けました。{}",
        "返信までお待ちください。".repeat(20)
    );
    let ack = messages::add(
        conn,
        &NewMessage::outbound(
            ticket,
            None,
            Some("ご相談を受け付けました"),
            &ack_body,
            Some(&ack_id),
            at,
        ),
    )?;
    outbox::enqueue(
        conn,
        &outbox::NewOutboundMail {
            message_id: Some(ack),
            ticket_id: Some(ticket),
            kind: "acknowledgement",
            to_address: &email,
            rfc_message_id: &ack_id,
            raw: ack_body.as_bytes(),
            status: DeliveryStatus::Sent,
            next_attempt_at: to_db(at),
            created_at: to_db(at),
            last_error: None,
        },
    )?;

    let later = at + days(0.5 + rng.below(48) as f64 / 24.0);
    match plan.status {
        Status::Open => {
            let again = common::japanese_body(rng, 300, i);
            messages::add(conn, &inbound(&again, later))?;
            tickets::update(conn, ticket, Some(Status::Open), None, later)?;
        }
        Status::Waiting | Status::Closed => {
            let by = assignee.unwrap_or(staff[0]);
            let answer = common::japanese_body(rng, 600, i);
            let reply = messages::add(
                conn,
                &NewMessage::outbound(ticket, Some(by), Some("相談"), &answer, None, later),
            )?;
            clocks::stop(conn, ticket, later, by, Some(reply))?;
            tickets::update(conn, ticket, Some(plan.status), None, later)?;
        }
        Status::New => {}
    }
    Ok(ticket)
}

pub struct Seeded {
    pub staff: Vec<StaffId>,
    pub ticket_ids: Vec<TicketId>,
    pub secs: f64,
}

pub fn seed(state: &AppState, conn: &mut DbConn, count: usize, now: DateTime<Utc>) -> Seeded {
    let start = Instant::now();
    let mut rng = Rng::new(11);
    let staff = counsellors(conn, now);
    let plans = plans(count, now, &mut rng);
    let mut ticket_ids = Vec::with_capacity(count);
    for (b, batch) in plans.chunks(BATCH).enumerate() {
        let ids = write_tx(conn, |conn| {
            batch
                .iter()
                .enumerate()
                .map(|(k, plan)| seed_one(conn, state, &staff, &mut rng, b * BATCH + k, plan))
                .collect::<Result<Vec<TicketId>, DbError>>()
        })
        .expect("a batch of tickets");
        ticket_ids.extend(ids);
    }
    if let DbConn::Postgres(pg) = conn {
        // Autovacuum would do this shortly after a bulk load; the planner needs the statistics.
        pg.batch_execute("VACUUM ANALYZE").expect("analyze");
    }
    Seeded {
        staff,
        ticket_ids,
        secs: start.elapsed().as_secs_f64(),
    }
}

/// A million tickets in SQL (`bulk.rs`).
#[path = "bulk.rs"]
mod bulk;
// The desk bench includes this file for `seed` alone.
#[allow(unused_imports)]
pub use bulk::bulk;
