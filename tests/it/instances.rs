//! Several instances on one PostgreSQL (issue 17, point 5): the IMAP poller runs on exactly
//! one, another takes over when it dies, and alerts and the digest go out once whichever
//! instance runs them. Outbox delivery has its own test in `outbox.rs`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use madoguchi::db::schema::{messages, outbound_mail};

use crate::support::dovecot::{self, Dovecot};
use crate::support::{Backend, TestDb, eventually, spawn_on, test_settings};

/// A `madoguchi serve` process polling `imap`, its stderr kept in `log`; killed when dropped.
struct Instance {
    child: Child,
    log: PathBuf,
}

impl Instance {
    fn start(db: &TestDb, imap: &Dovecot, name: &str) -> Self {
        let log = db.dir.join(format!("{name}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_madoguchi"))
            .arg("serve")
            .env("MADOGUCHI_DATABASE__URL", &db.url)
            .env("MADOGUCHI_SERVER__BIND", "127.0.0.1:0")
            .env("MADOGUCHI_SMTP__TRANSPORT", "file")
            .env(
                "MADOGUCHI_SMTP__FILE_DIR",
                db.dir.join(format!("{name}-mail")),
            )
            .env("MADOGUCHI_IMAP__ENABLED", "true")
            .env("MADOGUCHI_IMAP__PORT", imap.port.to_string())
            .env("MADOGUCHI_IMAP__USERNAME", dovecot::USER)
            .env("MADOGUCHI_IMAP__PASSWORD", dovecot::PASSWORD)
            .env("MADOGUCHI_IMAP__POLL_SECONDS", "1")
            .env("MADOGUCHI_INTAKE__RATE_LIMIT_PER_HOUR", "0")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("madoguchi serve starts");
        Self { child, log }
    }

    fn said(&self, words: &str) -> bool {
        std::fs::read_to_string(&self.log).is_ok_and(|l| l.contains(words))
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const LEADS: &str = "this instance polls the IMAP mailbox";
const STANDS_BY: &str = "another instance polls the IMAP mailbox; standing by";

fn mail(i: usize) -> Vec<u8> {
    format!(
        "From: <m{i}@example.jp>\r\nTo: soudan@example.org\r\nSubject: imap {i}\r\n\
         Message-ID: <leader-{i}@example.jp>\r\nDate: Wed, 02 Dec 2026 10:00:00 +0900\r\n\r\n\
         mail {i}\r\n"
    )
    .into_bytes()
}

/// The Message-IDs of the mail taken, each as often as it is stored.
fn taken(pool: &madoguchi::db::Pool) -> Vec<String> {
    let mut conn = pool.get().unwrap();
    let mut ids: Vec<String> = messages::table
        .filter(messages::kind.eq("inbound"))
        .select(messages::rfc_message_id)
        .load::<Option<String>>(&mut *conn)
        .unwrap()
        .into_iter()
        .flatten()
        .collect();
    ids.sort();
    ids
}

fn expected(n: usize) -> Vec<String> {
    let mut ids: Vec<String> = (0..n).map(|i| format!("leader-{i}@example.jp")).collect();
    ids.sort();
    ids
}

fn wait_for_mail(pool: &madoguchi::db::Pool, n: usize, within: Duration) {
    let got = eventually(within, || (taken(pool).len() >= n).then_some(()));
    assert!(got.is_some(), "expected {n} mails, have {:?}", taken(pool));
}

#[test]
fn the_imap_poller_runs_on_one_instance_and_another_takes_over_when_it_dies() {
    let imap = Dovecot::start();
    let db = TestDb::new(Backend::Postgres);
    let pool = madoguchi::db::connect(&test_settings(&db).database).unwrap();
    let a = Instance::start(&db, &imap, "a");
    let b = Instance::start(&db, &imap, "b");
    let one_leads = eventually(Duration::from_secs(30), || {
        ((a.said(LEADS) || b.said(LEADS)) && (a.said(STANDS_BY) || b.said(STANDS_BY))).then_some(())
    });
    assert!(one_leads.is_some(), "one leads, one stands by");
    // The mailbox itself saw one reader: before the test appends anything, one sign-in.
    std::thread::sleep(Duration::from_secs(3));
    let sign_ins = |log: &str| log.matches("Login: user=").count();
    assert_eq!(sign_ins(&imap.log()), 1, "{}", imap.log());
    for i in 0..10 {
        imap.append(&mail(i));
    }
    wait_for_mail(&pool, 10, Duration::from_secs(30));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(taken(&pool), expected(10), "each mail taken once");
    assert_eq!(imap.seen_uids(), (1..=10).collect::<Vec<u32>>());
    assert!(
        a.said(LEADS) != b.said(LEADS),
        "exactly one instance polled: a {}, b {}",
        a.said(LEADS),
        b.said(LEADS)
    );

    let (mut leader, standby) = if a.said(LEADS) { (a, b) } else { (b, a) };
    leader.child.kill().unwrap(); // SIGKILL: no goodbye, the lock goes with its connection.
    leader.child.wait().unwrap();
    let killed = Instant::now();
    for i in 10..15 {
        imap.append(&mail(i));
    }
    wait_for_mail(&pool, 15, Duration::from_secs(60));
    eprintln!(
        "the standby took the new mail {:?} after the kill",
        killed.elapsed()
    );
    assert!(
        killed.elapsed() < Duration::from_secs(60),
        "taken over within a minute"
    );
    assert!(standby.said(LEADS), "the standby instance took over");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(taken(&pool), expected(15), "each mail taken once");
}

#[test]
fn two_instances_running_alert_rounds_at_once_send_each_alert_and_digest_once() {
    use madoguchi::desk::alerts;
    let at = |t: &str| chrono::DateTime::parse_from_rfc3339(t).unwrap().to_utc();
    let db = std::sync::Arc::new(TestDb::new(Backend::Postgres));
    let mut settings = test_settings(&db);
    settings.intake.rate_limit_per_hour = 0;
    settings.alerts.digest_time = "08:30".into();
    // The test runs the rounds itself, at the times it chooses.
    settings.alerts.enabled = false;
    let a = spawn_on(db.clone(), settings.clone());
    let b = spawn_on(db.clone(), settings);
    a.staff("s@center.example", "supervisor");
    a.staff("c1@center.example", "counsellor");
    a.staff("c2@center.example", "counsellor");
    a.time.set(at("2026-11-20T07:00:00+09:00"));
    for i in 0..5 {
        a.new_ticket(&format!("t{i}@example.jp"));
    }
    let round = |app: &crate::support::TestApp, t| {
        app.time.set(t);
        let mut conn = app.conn();
        alerts::run_once(&app.state, &mut conn).unwrap()
    };
    // Due soon (every counsellor, nobody assigned), the digest, then overdue: each time both
    // instances run their rounds at the same moment, several times over.
    for t in [
        at("2026-11-27T07:01:00+09:00"),
        at("2026-11-27T08:31:00+09:00"),
        at("2026-11-30T07:01:00+09:00"),
    ] {
        std::thread::scope(|s| {
            for app in [&a, &b, &a, &b] {
                s.spawn(move || round(app, t));
            }
        });
    }
    let mut conn = a.conn();
    let kinds: Vec<String> = outbound_mail::table
        .filter(outbound_mail::kind.like("alert_%"))
        .select(outbound_mail::kind)
        .load(&mut *conn)
        .unwrap();
    let count = |k: &str| kinds.iter().filter(|x| *x == k).count();
    assert_eq!(
        count("alert_due_soon"),
        5 * 2,
        "each consultation to each counsellor once"
    );
    assert_eq!(count("alert_digest"), 1, "one digest for the day");
    assert_eq!(
        count("alert_overdue"),
        5,
        "each overdue consultation to the supervisor once"
    );
}

#[test]
fn a_leader_that_loses_its_lock_stops_polling_and_one_instance_goes_on() {
    use diesel::connection::SimpleConnection;
    let imap = Dovecot::start();
    let db = TestDb::new(Backend::Postgres);
    let pool = madoguchi::db::connect(&test_settings(&db).database).unwrap();
    let a = Instance::start(&db, &imap, "a");
    let b = Instance::start(&db, &imap, "b");
    let one_leads = eventually(Duration::from_secs(30), || {
        (a.said(LEADS) || b.said(LEADS)).then_some(())
    });
    assert!(one_leads.is_some(), "one leads");
    imap.append(&mail(0));
    wait_for_mail(&pool, 1, Duration::from_secs(30));
    // As a PostgreSQL restart or a dropped network does to the lock's connection.
    let mut conn = pool.get().unwrap();
    conn.batch_execute(
        "SELECT pg_terminate_backend(pid) FROM pg_locks \
         WHERE locktype = 'advisory' AND objid = 7171002 AND granted",
    )
    .unwrap();
    drop(conn);
    let stopped = eventually(Duration::from_secs(30), || {
        (a.said("lock was lost") || b.said("lock was lost")).then_some(())
    });
    assert!(stopped.is_some(), "the leader noticed and stopped polling");
    for i in 1..4 {
        imap.append(&mail(i));
    }
    wait_for_mail(&pool, 4, Duration::from_secs(60));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(taken(&pool), expected(4), "each mail taken once");
}
