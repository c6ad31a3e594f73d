//! The outbox against a real SMTP server over TCP: content, retries, refusals, several
//! instances, and crash safety of the `madoguchi serve` process.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Duration as ChronoDuration;
use diesel::prelude::*;
use madoguchi::config::{MailTransport, Settings, SmtpTls};
use madoguchi::db::schema::{outbound_mail, tickets};
use madoguchi::db::{self, outbox, to_db, write_tx};
use madoguchi::domain::vocabulary::DeliveryStatus;
use madoguchi::timesource::TimeSource;
use mail_parser::MessageParser;

use crate::both_backends;
use crate::support::smtp_server::{ReceivedMail, Stage, TestSmtpServer};
use crate::support::{
    Backend, TestApp, TestDb, consultation, eventually, spawn_app_with, spawn_on, test_settings,
};

both_backends!(
    the_acknowledgement_arrives_with_its_headers,
    a_server_down_then_up_gets_every_mail_once,
    a_permanent_refusal_fails_the_mail_at_once,
    delivery_gives_up_after_the_configured_hours,
    at_most_three_acknowledgements_a_day_to_one_address,
    a_killed_server_loses_no_mail,
    sigterm_finishes_the_mail_in_flight_and_releases_the_rest,
);

fn use_smtp(s: &mut Settings, smtp: &TestSmtpServer) {
    s.smtp.transport = MailTransport::Smtp;
    s.smtp.host = "127.0.0.1".into();
    s.smtp.port = smtp.port();
    s.smtp.tls = SmtpTls::None;
    s.smtp.timeout_seconds = 5;
}

fn statuses(app: &TestApp) -> Vec<(String, i32, Option<String>)> {
    let mut conn = app.conn();
    outbound_mail::table
        .order(outbound_mail::id)
        .select((
            outbound_mail::status,
            outbound_mail::attempts,
            outbound_mail::last_error,
        ))
        .load(&mut *conn)
        .unwrap()
}

fn wait_for_statuses(app: &TestApp, check: impl Fn(&[(String, i32, Option<String>)]) -> bool) {
    let seen = eventually(Duration::from_secs(20), || {
        let s = statuses(app);
        check(&s).then_some(())
    });
    assert!(
        seen.is_some(),
        "outbox never reached the state: {:?}",
        statuses(app)
    );
}

fn message_ids(mails: &[ReceivedMail]) -> Vec<String> {
    mails
        .iter()
        .map(|m| {
            MessageParser::default()
                .parse(&m.data)
                .and_then(|p| p.message_id().map(str::to_string))
                .expect("every mail has a Message-ID")
        })
        .collect()
}

fn the_acknowledgement_arrives_with_its_headers(backend: Backend) {
    let smtp = TestSmtpServer::start();
    let app = spawn_app_with(backend, |s| use_smtp(s, &smtp));
    let r = app.post_json("/api/v1/consultations", &consultation("hanako@example.jp"));
    assert_eq!(r.status, 201);
    let reference = r.json()["reference"].as_str().unwrap().to_string();
    let mails = smtp.wait_for(1, Duration::from_secs(20));
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].from, "soudan@example.org");
    assert_eq!(mails[0].to, vec!["hanako@example.jp".to_string()]);

    let mail = MessageParser::default().parse(&mails[0].data).unwrap();
    assert_eq!(
        mail.from()
            .and_then(|a| a.first())
            .and_then(|a| a.address()),
        Some("soudan@example.org")
    );
    assert_eq!(
        mail.subject(),
        Some(format!("ご相談を受け付けました [#{reference}]").as_str())
    );
    assert_eq!(
        mail.header_raw("Auto-Submitted").map(str::trim),
        Some("auto-replied")
    );
    let body = mail.body_text(0).unwrap();
    assert!(body.starts_with("山田 花子 様"), "{body}");
    assert!(body.contains(&format!("受付番号：{reference}")));
    assert!(body.contains("10日程度"));
    let due = app.time.now() + ChronoDuration::days(10);
    let due_ja = madoguchi::domain::jpdate::date_ja(&due.with_timezone(&chrono_tz::Asia::Tokyo));
    assert!(body.contains(&due_ja), "the reply-by date {due_ja}");
    assert!(body.contains("011-863-8733"));

    let mut conn = app.conn();
    let stored_id: String = outbound_mail::table
        .select(outbound_mail::rfc_message_id)
        .first(&mut *conn)
        .unwrap();
    assert_eq!(
        Some(stored_id.as_str()),
        mail.message_id(),
        "the stored Message-ID was sent"
    );
    assert!(stored_id.len() > 32, "long enough to be unguessable");
    wait_for_statuses(&app, |s| s == [("sent".to_string(), 1, None)]);
}

fn a_server_down_then_up_gets_every_mail_once(backend: Backend) {
    let smtp = TestSmtpServer::start();
    smtp.stop();
    let app = spawn_app_with(backend, |s| use_smtp(s, &smtp));
    for i in 0..3 {
        let r = app.post_json(
            "/api/v1/consultations",
            &consultation(&format!("p{i}@example.jp")),
        );
        assert_eq!(r.status, 201);
    }
    wait_for_statuses(&app, |s| {
        s.len() == 3
            && s.iter()
                .all(|(st, attempts, err)| st == "queued" && *attempts == 1 && err.is_some())
    });
    smtp.restart();
    // Not due before the first backoff has passed.
    app.time.advance(ChronoDuration::seconds(29));
    app.wake_mail();
    std::thread::sleep(Duration::from_millis(300));
    assert!(smtp.received().is_empty());
    app.time.advance(ChronoDuration::seconds(2));
    app.wake_mail();
    let mails = smtp.wait_for(3, Duration::from_secs(20));
    wait_for_statuses(&app, |s| {
        s.iter()
            .all(|(st, a, e)| st == "sent" && *a == 2 && e.is_none())
    });
    std::thread::sleep(Duration::from_millis(300));
    let mut ids = message_ids(&smtp.received());
    assert_eq!(mails.len(), 3);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3, "each mail arrived exactly once");
}

fn a_permanent_refusal_fails_the_mail_at_once(backend: Backend) {
    let smtp = TestSmtpServer::start();
    smtp.fail_next(1, Stage::Rcpt, 550, "5.1.1 no such mailbox here");
    let app = spawn_app_with(backend, |s| use_smtp(s, &smtp));
    assert_eq!(
        app.post_json("/api/v1/consultations", &consultation("gone@example.jp"))
            .status,
        201
    );
    wait_for_statuses(&app, |s| s.len() == 1 && s[0].0 == "failed");
    let s = statuses(&app);
    assert_eq!(s[0].1, 1);
    let err = s[0].2.as_deref().unwrap();
    assert!(
        err.contains("no such mailbox here"),
        "the server's answer is kept: {err}"
    );
    assert!(smtp.received().is_empty());
}

fn delivery_gives_up_after_the_configured_hours(backend: Backend) {
    let smtp = TestSmtpServer::start();
    smtp.fail_next(100, Stage::Data, 451, "4.3.0 try later");
    let app = spawn_app_with(backend, |s| {
        use_smtp(s, &smtp);
        s.smtp.give_up_after_hours = 1;
        s.smtp.retry_base_seconds = 600;
    });
    assert_eq!(
        app.post_json("/api/v1/consultations", &consultation("slow@example.jp"))
            .status,
        201
    );
    // Tries at 0, +10 min, +30 min; the next would be at +70 min, past the hour.
    for (advance, attempts) in [(0, 1), (601, 2), (1201, 3)] {
        app.time.advance(ChronoDuration::seconds(advance));
        app.wake_mail();
        wait_for_statuses(&app, |s| s[0].1 == attempts);
    }
    wait_for_statuses(&app, |s| s[0].0 == "failed");
    let s = statuses(&app);
    assert!(
        s[0].2.as_deref().unwrap().contains("gave up after 3 tries"),
        "{s:?}"
    );
}

fn at_most_three_acknowledgements_a_day_to_one_address(backend: Backend) {
    let smtp = TestSmtpServer::start();
    let app = spawn_app_with(backend, |s| use_smtp(s, &smtp));
    for _ in 0..4 {
        assert_eq!(
            app.post_json("/api/v1/consultations", &consultation("many@example.jp"))
                .status,
            201
        );
    }
    let mut conn = app.conn();
    let tickets_made: i64 = tickets::table.count().get_result(&mut *conn).unwrap();
    assert_eq!(tickets_made, 4, "every consultation is kept");
    assert_eq!(statuses(&app).len(), 3, "but only three acknowledgements");
    app.time
        .advance(ChronoDuration::hours(24) + ChronoDuration::seconds(1));
    assert_eq!(
        app.post_json("/api/v1/consultations", &consultation("many@example.jp"))
            .status,
        201
    );
    assert_eq!(statuses(&app).len(), 4, "a new day, a new acknowledgement");
    assert_eq!(smtp.wait_for(4, Duration::from_secs(20)).len(), 4);
}

/// Queues `n` mails straight into the outbox, as one transaction.
fn queue_mails(
    pool: &db::Pool,
    n: usize,
    tag: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<String> {
    let mut conn = pool.get().unwrap();
    let now = to_db(now);
    write_tx(&mut conn, |c| {
        (0..n)
            .map(|i| {
                let id = format!("{tag}-{i}@test.madoguchi");
                let raw = format!(
                    "From: soudan@example.org\r\nTo: r{i}@example.jp\r\nMessage-ID: <{id}>\r\n\
                     Subject: test {i}\r\n\r\nbody {i}\r\n"
                );
                outbox::enqueue(
                    c,
                    &outbox::NewOutboundMail {
                        message_id: None,
                        ticket_id: None,
                        kind: "test",
                        to_address: &format!("r{i}@example.jp"),
                        rfc_message_id: &id,
                        raw: raw.as_bytes(),
                        status: DeliveryStatus::Queued,
                        next_attempt_at: now,
                        created_at: now,
                        last_error: None,
                    },
                )
                .map(|_| id)
            })
            .collect::<Result<Vec<_>, db::DbError>>()
    })
    .unwrap()
}

fn arrivals(smtp: &TestSmtpServer) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for id in message_ids(&smtp.received()) {
        *seen.entry(id).or_insert(0) += 1;
    }
    seen
}

#[test]
fn two_instances_on_one_postgres_send_each_mail_once() {
    let smtp = TestSmtpServer::start();
    let db = Arc::new(TestDb::new(Backend::Postgres));
    let mut settings = test_settings(&db);
    use_smtp(&mut settings, &smtp);
    let a = spawn_on(db.clone(), settings.clone());
    let b = spawn_on(db.clone(), settings);
    let ids = queue_mails(&a.state.pool, 200, "two", a.time.now());
    a.wake_mail();
    b.wake_mail();
    let got = smtp.wait_for(200, Duration::from_secs(60)).len();
    assert_eq!(
        got,
        200,
        "{:?}",
        statuses(&a)
            .iter()
            .filter(|s| s.0 != "sent")
            .take(3)
            .collect::<Vec<_>>()
    );
    wait_for_statuses(&a, |s| s.iter().all(|(st, ..)| st == "sent"));
    std::thread::sleep(Duration::from_millis(500));
    let seen = arrivals(&smtp);
    assert_eq!(seen.len(), 200);
    assert!(
        ids.iter().all(|id| seen.get(id) == Some(&1)),
        "each mail exactly once"
    );
}

#[test]
fn sqlite_stays_correct_while_another_process_writes_the_same_file() {
    let smtp = TestSmtpServer::start();
    let app = spawn_app_with(Backend::Sqlite, |s| {
        use_smtp(s, &smtp);
        s.intake.rate_limit_per_hour = 0;
    });
    // A pool of its own on the same file is, to SQLite, another process such as `ingest`.
    let mut other = app.state.settings.database.clone();
    other.pool_size = 2;
    let other = db::connect(&other).unwrap();
    let now = app.time.now();
    let writer = std::thread::spawn(move || {
        (0..100)
            .flat_map(|i| queue_mails(&other, 1, &format!("other{i}"), now))
            .collect::<Vec<_>>()
    });
    for i in 0..30 {
        let r = app.post_json(
            "/api/v1/consultations",
            &consultation(&format!("c{i}@example.jp")),
        );
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let ids = writer.join().unwrap();
    app.wake_mail();
    assert_eq!(smtp.wait_for(130, Duration::from_secs(60)).len(), 130);
    wait_for_statuses(&app, |s| {
        s.len() == 130 && s.iter().all(|(st, ..)| st == "sent")
    });
    std::thread::sleep(Duration::from_millis(300));
    let seen = arrivals(&smtp);
    assert_eq!(seen.len(), 130);
    assert!(seen.values().all(|n| *n == 1), "each mail once");
    assert!(ids.iter().all(|id| seen.contains_key(id)));
}

/// A `madoguchi serve` process of its own, so it can be killed.
struct ServeProcess {
    child: std::process::Child,
}

impl ServeProcess {
    fn start(config: &std::path::Path) -> Self {
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_madoguchi"))
            .args(["serve", "--config"])
            .arg(config)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("madoguchi starts");
        Self { child }
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn process_config(db: &TestDb, smtp: &TestSmtpServer, dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("serve.toml");
    std::fs::write(
        &path,
        format!(
            "[server]\nbind = \"127.0.0.1:0\"\n[database]\nurl = \"{}\"\n\
             [smtp]\ntransport = \"smtp\"\nport = {}\ntimeout_seconds = 1\n",
            db.url,
            smtp.port()
        ),
    )
    .unwrap();
    path
}

fn a_killed_server_loses_no_mail(backend: Backend) {
    let smtp = TestSmtpServer::start();
    let db = TestDb::new(backend);
    // The database's own folder: the SQLite and PostgreSQL runs of this test go on at once,
    // and must not read each other's configuration.
    let config = process_config(&db, &smtp, &db.dir);
    let pool = db::connect(&test_settings(&db).database).unwrap();
    let ids = queue_mails(&pool, 20, "kill", chrono::Utc::now());
    // The first mail is taken in by the server but never confirmed: the kill lands in the
    // one window where a duplicate is allowed.
    smtp.set_delay_before_data_reply(Duration::from_secs(30));
    let mut first = ServeProcess::start(&config);
    assert_eq!(smtp.wait_for(1, Duration::from_secs(20)).len(), 1);
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    smtp.set_delay_before_data_reply(Duration::ZERO);
    let _second = ServeProcess::start(&config);
    // The dead process's lease (2 × timeout + 5 s) must run out before its mail is taken again.
    assert!(smtp.wait_for(21, Duration::from_secs(40)).len() >= 20);
    let seen = arrivals(&smtp);
    assert!(
        ids.iter().all(|id| seen.contains_key(id)),
        "every mail arrived: {seen:?}"
    );
    let duplicates: usize = seen.values().map(|n| n - 1).sum();
    assert!(
        duplicates <= 1,
        "only the mail in flight may come twice: {seen:?}"
    );
}

fn sigterm_finishes_the_mail_in_flight_and_releases_the_rest(backend: Backend) {
    let smtp = TestSmtpServer::start();
    let db = TestDb::new(backend);
    // The database's own folder: the SQLite and PostgreSQL runs of this test go on at once,
    // and must not read each other's configuration.
    let config = process_config(&db, &smtp, &db.dir);
    let pool = db::connect(&test_settings(&db).database).unwrap();
    queue_mails(&pool, 5, "term", chrono::Utc::now());
    smtp.set_delay_before_data_reply(Duration::from_millis(700));
    let mut serve = ServeProcess::start(&config);
    assert_eq!(smtp.wait_for(1, Duration::from_secs(20)).len(), 1);
    let pid = serve.child.id().to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = serve.child.wait().unwrap();
    assert!(exit.success(), "a clean exit: {exit:?}");
    let mut conn = pool.get().unwrap();
    let rows: Vec<(String, Option<String>)> = outbound_mail::table
        .order(outbound_mail::id)
        .select((outbound_mail::status, outbound_mail::locked_by))
        .load(&mut *conn)
        .unwrap();
    assert_eq!(
        rows[0],
        ("sent".to_string(), None),
        "the mail in flight was finished"
    );
    assert!(
        rows[1..]
            .iter()
            .all(|(st, lock)| st == "queued" && lock.is_none()),
        "the rest were released: {rows:?}"
    );
}
