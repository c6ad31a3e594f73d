//! What a hostile or broken mail can do to intake (issue 10, points 11 and 17): nothing that
//! stops the next mail, nothing held without bound, nothing that bloats what staff read.

use std::process::{Command, Stdio};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use madoguchi::db::schema::{messages, outbound_mail, quarantine, tickets};
use madoguchi::intake::{Outcome, mail as intake};

use crate::both_backends;
use crate::support::dovecot::{self, Dovecot};
use crate::support::{
    Backend, TestApp, TestDb, base64, eventually, spawn_app, spawn_on, test_settings,
};

both_backends!(
    a_mail_naming_70000_references_is_threaded_and_intake_goes_on,
    a_mail_the_database_refuses_is_quarantined_and_intake_goes_on,
    a_poison_mail_late_in_a_batch_leaves_the_others_stored_once,
    the_imap_poller_goes_past_a_poison_mail,
    a_30_mb_subject_stays_in_the_raw_mail_not_in_the_queue,
    a_mail_over_the_size_limit_is_refused_by_ingest,
    the_imap_poller_leaves_a_mail_over_the_size_limit_unread,
);

/// A plain mail from `from` with `id`; `extra` headers and `body` as given.
fn mail(from: &str, id: &str, extra: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: soudan@example.org\r\nSubject: =?UTF-8?B?{}?=\r\n\
         Date: Wed, 25 Nov 2026 10:00:00 +0900\r\nMessage-ID: <{id}>\r\n{extra}\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n",
        base64("相談です".as_bytes())
    )
    .into_bytes()
}

/// `References` with `n` ids no ticket has, then `last`: more ids than SQLite (32,766) or
/// PostgreSQL (65,535) take as variables of one query.
fn references(n: usize, last: &str) -> String {
    let mut h = String::from("References:");
    for i in 0..n {
        h.push_str(&format!(" <r{i}@spam.example>\r\n"));
    }
    h.push_str(&format!(" <{last}>\r\n"));
    format!("In-Reply-To: <{last}>\r\n{h}")
}

fn ingest(url: &str, stdin: &[u8]) -> (Option<i32>, String, String) {
    ingest_with(url, &[], stdin, 25 << 20)
}

fn ingest_with(
    url: &str,
    files: &[&str],
    stdin: &[u8],
    max_message_bytes: usize,
) -> (Option<i32>, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_madoguchi"))
        .arg("ingest")
        .args(files)
        .env("MADOGUCHI_DATABASE__URL", url)
        .env(
            "MADOGUCHI_INTAKE__MAX_MESSAGE_BYTES",
            max_message_bytes.to_string(),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    // A child that stops reading early must not fail the test here: its answer tells.
    let _ = std::io::Write::write_all(&mut input, stdin);
    drop(input);
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn pool(db: &TestDb) -> madoguchi::db::Pool {
    madoguchi::db::connect(&test_settings(db).database).unwrap()
}

fn inbound(pool: &madoguchi::db::Pool) -> i64 {
    let mut conn = pool.get().unwrap();
    messages::table
        .filter(messages::kind.eq("inbound"))
        .count()
        .get_result(&mut *conn)
        .unwrap()
}

/// A database that refuses any message whose text says POISON, as it refuses a value it
/// cannot hold: a failure of this mail, not of the database.
fn refuse_poison(pool: &madoguchi::db::Pool, backend: Backend) {
    let sql = match backend {
        Backend::Sqlite => {
            "CREATE TRIGGER poison BEFORE INSERT ON messages \
             WHEN NEW.body_text LIKE '%POISON%' BEGIN SELECT RAISE(ABORT, 'poison'); END;"
        }
        Backend::Postgres => {
            "CREATE FUNCTION poison() RETURNS trigger AS $$ BEGIN \
             IF NEW.body_text LIKE '%POISON%' THEN RAISE EXCEPTION 'poison'; END IF; \
             RETURN NEW; END $$ LANGUAGE plpgsql; \
             CREATE TRIGGER poison BEFORE INSERT ON messages \
             FOR EACH ROW EXECUTE FUNCTION poison();"
        }
    };
    pool.get().unwrap().batch_execute(sql).unwrap();
}

fn a_mail_naming_70000_references_is_threaded_and_intake_goes_on(backend: Backend) {
    let db = TestDb::new(backend);
    let first = mail(
        "hanako@example.jp",
        "first@example.jp",
        "",
        "はじめまして。",
    );
    assert_eq!(ingest(&db.url, &first).1, "opened 1");
    let long = mail(
        "hanako@example.jp",
        "long@example.jp",
        &references(70_000, "first@example.jp"),
        "続きです。",
    );
    let (code, out, err) = ingest(&db.url, &long);
    assert_eq!(code, Some(0), "{out} {err}");
    assert_eq!(out, "joined 1", "the latest reference names the first mail");
    let next = mail("taro@example.jp", "next@example.jp", "", "別の相談です。");
    let (code, out, err) = ingest(&db.url, &next);
    assert_eq!((code, out.as_str()), (Some(0), "opened 1"), "{err}");
    let pool = pool(&db);
    assert_eq!(inbound(&pool), 3);
    let mut conn = pool.get().unwrap();
    let tickets_made: i64 = tickets::table.count().get_result(&mut *conn).unwrap();
    assert_eq!(tickets_made, 2);
}

fn a_mail_the_database_refuses_is_quarantined_and_intake_goes_on(backend: Backend) {
    let db = TestDb::new(backend);
    let pool = pool(&db);
    refuse_poison(&pool, backend);
    let poison = mail("x@example.jp", "poison@example.jp", "", "POISON");
    let (code, out, err) = ingest(&db.url, &poison);
    assert_eq!(
        code,
        Some(0),
        "not 75: trying again would fail for ever ({err})"
    );
    assert_eq!(out, "quarantined 1");
    let (raw, reason): (Vec<u8>, String) = {
        let mut conn = pool.get().unwrap();
        quarantine::table
            .select((quarantine::raw, quarantine::reason))
            .first(&mut *conn)
            .unwrap()
    };
    assert_eq!(raw, poison, "kept byte for byte");
    assert!(reason.contains("poison"), "{reason}");
    assert!(!reason.contains("x@example.jp"), "no address in the reason");
    let next = mail("taro@example.jp", "next@example.jp", "", "相談です。");
    assert_eq!(ingest(&db.url, &next).1, "opened 1");

    // In a batch of files, the poison goes to quarantine alone.
    let dir = db.dir.join("batch");
    std::fs::create_dir_all(&dir).unwrap();
    let files: Vec<String> = [
        mail("y@example.jp", "poison-2@example.jp", "", "POISON"),
        mail("z@example.jp", "after@example.jp", "", "相談です。"),
    ]
    .iter()
    .enumerate()
    .map(|(i, raw)| {
        let path = dir.join(format!("{i}.eml"));
        std::fs::write(&path, raw).unwrap();
        path.display().to_string()
    })
    .collect();
    let out = Command::new(env!("CARGO_BIN_EXE_madoguchi"))
        .arg("ingest")
        .args(&files)
        .env("MADOGUCHI_DATABASE__URL", &db.url)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "opened 1, quarantined 1"
    );
    assert_eq!(inbound(&pool), 2);
}

/// A batch is first stored without a savepoint per mail; a poison mail after others makes
/// it start over with savepoints, and what came before must then be there once, not twice.
fn a_poison_mail_late_in_a_batch_leaves_the_others_stored_once(backend: Backend) {
    let app = spawn_app(backend);
    refuse_poison(&app.state.pool, backend);
    let raws = vec![
        mail(
            "hanako@example.jp",
            "first@example.jp",
            "",
            "はじめまして。",
        ),
        mail(
            "hanako@example.jp",
            "reply@example.jp",
            "In-Reply-To: <first@example.jp>\r\n",
            "続きです。",
        ),
        mail("x@example.jp", "poison@example.jp", "", "POISON"),
        mail("taro@example.jp", "last@example.jp", "", "別の相談です。"),
    ];
    let mut conn = app.conn();
    let outcomes = intake::take_batch(&app.state, &mut conn, &raws, "test").unwrap();
    let names: Vec<&str> = outcomes.iter().map(Outcome::as_str).collect();
    assert_eq!(names, ["opened", "joined", "quarantined", "opened"]);
    let tickets_made: i64 = tickets::table.count().get_result(&mut *conn).unwrap();
    let queued: i64 = outbound_mail::table.count().get_result(&mut *conn).unwrap();
    let kept: i64 = quarantine::table.count().get_result(&mut *conn).unwrap();
    drop(conn);
    assert_eq!(inbound(&app.state.pool), 3, "each good mail once");
    assert_eq!(tickets_made, 2);
    assert_eq!(queued, 2, "one acknowledgement per new consultation");
    assert_eq!(kept, 1);
}

fn the_imap_poller_goes_past_a_poison_mail(backend: Backend) {
    let imap = Dovecot::start();
    let db = std::sync::Arc::new(TestDb::new(backend));
    let mut settings = test_settings(&db);
    settings.imap.enabled = true;
    settings.imap.port = imap.port;
    settings.imap.username = dovecot::USER.into();
    settings.imap.password = dovecot::PASSWORD.into();
    settings.imap.poll_seconds = 1;
    refuse_poison(&pool(&db), backend);
    imap.append(&mail("x@example.jp", "poison@example.jp", "", "POISON"));
    imap.append(&mail(
        "y@example.jp",
        "long@example.jp",
        &references(70_000, "nowhere@example.jp"),
        "長いヘッダーのメールです。",
    ));
    imap.append(&mail("z@example.jp", "after@example.jp", "", "相談です。"));
    let app: TestApp = spawn_on(db.clone(), settings);
    let count = |query: &str| -> i64 {
        let mut conn = app.conn();
        match query {
            "inbound" => messages::table
                .filter(messages::kind.eq("inbound"))
                .count()
                .get_result(&mut *conn)
                .unwrap(),
            _ => quarantine::table.count().get_result(&mut *conn).unwrap(),
        }
    };
    let taken = eventually(Duration::from_secs(60), || {
        (count("inbound") == 2).then_some(())
    });
    assert!(
        taken.is_some(),
        "the mail after the poison is taken (have {} messages, {} quarantined)",
        count("inbound"),
        count("quarantine")
    );
    assert_eq!(count("quarantine"), 1, "the poison is kept for a person");
    let seen = eventually(Duration::from_secs(10), || {
        (imap.seen_uids() == vec![1, 2, 3]).then_some(())
    });
    assert!(seen.is_some(), "seen: {:?}", imap.seen_uids());
}

fn a_30_mb_subject_stays_in_the_raw_mail_not_in_the_queue(backend: Backend) {
    let app = spawn_app(backend);
    let c = app.staff("c@center.example", "counsellor");
    let subject = "soudan ".repeat(30_000_000 / 7);
    let raw = format!(
        "From: Big <big@example.jp>\r\nTo: soudan@example.org\r\nSubject: {subject}\r\n\
         Message-ID: <big@example.jp>\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nhello\r\n"
    )
    .into_bytes();
    let (code, out, err) = ingest_with(&app.db_url(), &[], &raw, 40 << 20);
    assert_eq!((code, out.as_str()), (Some(0), "opened 1"), "{err}");
    let queue = app.call("GET", "/api/v1/tickets", Some(&c.token), None);
    assert_eq!(queue.status, 200);
    assert!(
        queue.body.len() < 5_000,
        "the queue page is {} bytes",
        queue.body.len()
    );
    let item = &queue.json()["items"][0];
    let shown = item["subject"].as_str().unwrap();
    assert_eq!(shown.chars().count(), 200);
    assert!(
        shown.starts_with("soudan soudan") && shown.ends_with('…'),
        "{shown}"
    );
    let id = item["id"].as_i64().unwrap();
    let detail = app.call(
        "GET",
        &format!("/api/v1/tickets/{id}"),
        Some(&c.token),
        None,
    );
    assert!(
        detail.body.len() < 10_000,
        "the ticket page is {} bytes",
        detail.body.len()
    );
    let mut conn = app.conn();
    let kept: Option<Vec<u8>> = messages::table
        .filter(messages::ticket_id.eq(id))
        .filter(messages::kind.eq("inbound"))
        .select(messages::raw_mime)
        .first(&mut *conn)
        .unwrap();
    assert_eq!(
        kept.map(|r| r.len()),
        Some(raw.len()),
        "the raw mail is kept whole"
    );
}

fn a_mail_over_the_size_limit_is_refused_by_ingest(backend: Backend) {
    let db = TestDb::new(backend);
    let big = mail(
        "big@example.jp",
        "big@example.jp",
        "",
        &"本文".repeat(1 << 19),
    );
    assert!(big.len() > 3 << 20);
    let (code, out, err) = ingest_with(&db.url, &[], &big, 1 << 20);
    assert_eq!(code, Some(65), "refused for good, not 'try again' ({out})");
    assert!(err.contains("intake.max_message_bytes"), "{err}");
    let path = db.dir.join("big.eml");
    std::fs::write(&path, &big).unwrap();
    let (code, _, err) = ingest_with(&db.url, &[path.to_str().unwrap()], &[], 1 << 20);
    assert_eq!(code, Some(65), "{err}");
    let pool = pool(&db);
    assert_eq!(inbound(&pool), 0);
    let mut conn = pool.get().unwrap();
    let kept: i64 = quarantine::table.count().get_result(&mut *conn).unwrap();
    assert_eq!(kept, 0, "nothing of it held");
    drop(conn);
    let small = mail("s@example.jp", "small@example.jp", "", &"本文".repeat(1000));
    assert_eq!(ingest_with(&db.url, &[], &small, 1 << 20).1, "opened 1");
}

fn the_imap_poller_leaves_a_mail_over_the_size_limit_unread(backend: Backend) {
    let imap = Dovecot::start();
    let db = std::sync::Arc::new(TestDb::new(backend));
    let mut settings = test_settings(&db);
    settings.imap.enabled = true;
    settings.imap.port = imap.port;
    settings.imap.username = dovecot::USER.into();
    settings.imap.password = dovecot::PASSWORD.into();
    settings.imap.poll_seconds = 1;
    settings.intake.max_message_bytes = 100 << 10;
    imap.append(&mail(
        "big@example.jp",
        "big@example.jp",
        "",
        &"本文".repeat(60_000),
    ));
    imap.append(&mail("s@example.jp", "small@example.jp", "", "相談です。"));
    let app: TestApp = spawn_on(db.clone(), settings);
    let taken = eventually(Duration::from_secs(60), || {
        (inbound(&app.state.pool) == 1).then_some(())
    });
    assert!(taken.is_some(), "the small mail after the big one is taken");
    let reasons: Vec<(String, Vec<u8>)> = {
        let mut conn = app.conn();
        quarantine::table
            .select((quarantine::reason, quarantine::raw))
            .load(&mut *conn)
            .unwrap()
    };
    assert_eq!(reasons.len(), 1, "a person is told of the big one");
    assert!(
        reasons[0].0.contains("max_message_bytes"),
        "{}",
        reasons[0].0
    );
    assert!(reasons[0].1.is_empty(), "none of its bytes read");
    let seen = eventually(Duration::from_secs(10), || {
        (imap.seen_uids() == vec![2]).then_some(())
    });
    assert!(seen.is_some(), "seen: {:?}", imap.seen_uids());
    assert_eq!(imap.unseen_uids(), vec![1], "left unread in the mailbox");
}
