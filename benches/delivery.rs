//! Delivery: the outbox worker (`mail::delivery::DeliveryWorker`) sending queued mail to an
//! SMTP server on 127.0.0.1 (the tests' in-process server, which keeps every mail), claims in
//! batches, one connection a batch (mail::smtp_session), each message written with its
//! terminator at once.
//!
//! Target: ≥ 500 mails/s. Every mail must reach the server and be marked sent.
//!
//! Run: `cargo bench --bench delivery`. Knobs: `BENCH_MAILS` (5000), `BENCH_BACKENDS`
//! (`sqlite-full,sqlite-normal,postgres`), `BENCH_TINY=1` (50 mails).

#[path = "common/mod.rs"]
mod common;
#[path = "../tests/it/support/smtp_server.rs"]
mod smtp_server;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use common::{Backend, BenchDb, LoadProbe, Table};
use madoguchi::config::{MailTransport, SmtpTls};
use madoguchi::db::{outbox, to_db, write_tx};
use madoguchi::domain::vocabulary::DeliveryStatus;
use madoguchi::mail::delivery::{DeliveryWorker, Transport};
use madoguchi::signal::Shutdown;
use madoguchi::startup::build_state;
use madoguchi::timesource::SystemTime;
use smtp_server::TestSmtpServer;

const TARGET: f64 = 500.0;

/// A reply as the outbox holds it: headers and a Japanese body of about 2 KB, base64.
fn raw_mail(i: usize) -> Vec<u8> {
    let mut rng = common::Rng::new(i as u64);
    let body = common::japanese_body(&mut rng, 2000, i);
    format!(
        "From: =?UTF-8?B?{}?= <soudan@example.org>\r\nTo: consulter{i}@example.jp\r\n\
         Subject: {}\r\nMessage-ID: <bench-{i}@soudan.example.org>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{}",
        common::base64("相談窓口".as_bytes()),
        common::encoded_word_utf8("ご相談について"),
        common::base64_lines(body.as_bytes())
    )
    .into_bytes()
}

fn bench(backend: Backend, mails: usize, table: &mut Table) -> Option<()> {
    let db = BenchDb::new(backend)?;
    let server = TestSmtpServer::start();
    let mut settings = db.settings();
    settings.smtp.transport = MailTransport::Smtp;
    settings.smtp.host = "127.0.0.1".into();
    settings.smtp.port = server.port();
    settings.smtp.tls = SmtpTls::None;
    let state = build_state(settings, Arc::new(SystemTime)).expect("state builds");
    let now = to_db(Utc::now());
    {
        let mut conn = state.pool.get().expect("a connection");
        write_tx(&mut conn, |conn| {
            for i in 0..mails {
                let raw = raw_mail(i);
                outbox::enqueue(
                    conn,
                    &outbox::NewOutboundMail {
                        message_id: None,
                        ticket_id: None,
                        kind: "reply",
                        to_address: &format!("consulter{i}@example.jp"),
                        rfc_message_id: &format!("bench-{i}@soudan.example.org"),
                        raw: &raw,
                        status: DeliveryStatus::Queued,
                        next_attempt_at: now,
                        created_at: now,
                        last_error: None,
                    },
                )?;
            }
            Ok::<_, madoguchi::db::DbError>(())
        })
        .expect("queue the mail");
    }
    let worker = DeliveryWorker {
        pool: state.pool.clone(),
        commits: state.commits.clone(),
        transport: Transport::from_settings(&state.settings.smtp).expect("smtp transport"),
        settings: state.settings.smtp.clone(),
        from: state.settings.center.reply_address.clone(),
        id: "bench".into(),
        time: state.time.clone(),
        waker: state.waker.clone(),
        shutdown: Shutdown::default(),
    };
    let probe = LoadProbe::start();
    let start = Instant::now();
    let mut sent = 0;
    while sent < mails {
        match worker.round().expect("a delivery round") {
            0 => break,
            n => sent += n,
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let load = probe.finish();
    let received = server.wait_for(mails, Duration::from_secs(10)).len();
    let mut conn = state.pool.get().expect("a connection");
    let queued = madoguchi::db::reports::outbox_by_status(&mut conn)
        .expect("outbox tally")
        .into_iter()
        .filter(|t| t.label != "sent")
        .map(|t| t.count)
        .sum::<i64>();
    assert_eq!(received, mails, "every mail reaches the server");
    assert_eq!(queued, 0, "every mail is marked sent");
    let rate = mails as f64 / secs;
    table.row(vec![
        backend.label(),
        mails.to_string(),
        format!("{secs:.2}"),
        format!("{rate:.0}"),
        load,
    ]);
    common::result(
        &format!("delivery to a local SMTP sink, {}", backend.label()),
        "≥ 500 mails/s",
        &format!("{rate:.0} mails/s ({mails} mails)"),
        rate >= TARGET,
    );
    server.stop();
    Some(())
}

fn main() {
    common::init_logging();
    common::print_machine_header("delivery: the outbox worker to an SMTP server on 127.0.0.1");
    let mails = common::env_size("BENCH_MAILS", 5_000, 50);
    let mut table = Table::new(&["backend", "mails", "seconds", "mails/s", "machine"]);
    for backend in common::backends_from_env() {
        bench(backend, mails, &mut table);
    }
    table.print();
    println!("\nloadavg at end: {}", common::loadavg());
}
