//! Mail intake end to end: `madoguchi ingest`, threading, loops, bounces, quarantine, IMAP.

use std::process::{Command, Stdio};
use std::time::Duration;

use chrono::Duration as ChronoDuration;
use diesel::prelude::*;
use madoguchi::config::MailTransport;
use madoguchi::db::schema::{attachments, messages, outbound_mail, quarantine, tickets};
use madoguchi::domain::vocabulary::{QuarantineId, TicketId};
use madoguchi::intake::Outcome;
use madoguchi::intake::mail;
use madoguchi::timesource::TimeSource;
use mail_parser::MessageParser;
use serde_json::json;

use crate::both_backends;
use crate::support::dovecot::{self, Dovecot};
use crate::support::smtp_server::TestSmtpServer;
use crate::support::{
    Backend, TestApp, TestDb, base64, eventually, spawn_app, spawn_app_with, spawn_on,
    test_settings,
};

both_backends!(
    a_first_mail_opens_a_ticket_and_is_acknowledged_in_its_thread,
    follow_ups_join_by_headers_or_by_reference_from_the_consulter_only,
    an_answered_consultation_reopens_with_a_new_clock,
    duplicates_are_stored_once_even_without_a_message_id,
    automatic_mail_is_stored_but_never_answered,
    a_bounce_fails_our_mail_and_opens_no_ticket,
    unreadable_mail_is_quarantined_and_can_be_retried,
    attachments_are_kept_and_downloadable_and_big_ones_noted,
    ingest_decodes_japanese_mail_from_files_and_stdin,
    the_full_flow_from_form_to_reply_to_the_consulters_answer,
    imap_mail_is_taken_once_across_restarts,
    ingest_killed_mid_batch_then_rerun_stores_each_mail_once,
    a_batch_keeps_each_mail_apart,
);

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/data/mail/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

struct Mail<'a> {
    from: &'a str,
    subject: &'a str,
    message_id: Option<&'a str>,
    in_reply_to: Option<&'a str>,
    extra: &'a str,
    body: &'a str,
}

impl Default for Mail<'_> {
    fn default() -> Self {
        Self {
            from: "Hanako <hanako@example.jp>",
            subject: "相談したいことがあります",
            message_id: Some("first@example.jp"),
            in_reply_to: None,
            extra: "",
            body: "はじめまして。家から出られない息子のことで相談です。",
        }
    }
}

impl Mail<'_> {
    fn raw(&self) -> Vec<u8> {
        let mut headers = format!(
            "From: {}\r\nTo: soudan@example.org\r\nSubject: =?UTF-8?B?{}?=\r\nDate: Wed, 25 Nov 2026 10:00:00 +0900\r\n",
            self.from,
            base64(self.subject.as_bytes())
        );
        if let Some(id) = self.message_id {
            headers.push_str(&format!("Message-ID: <{id}>\r\n"));
        }
        if let Some(id) = self.in_reply_to {
            headers.push_str(&format!("In-Reply-To: <{id}>\r\nReferences: <{id}>\r\n"));
        }
        headers.push_str(self.extra);
        format!(
            "{headers}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\
             Content-Transfer-Encoding: 8bit\r\n\r\n{}\r\n",
            self.body
        )
        .into_bytes()
    }
}

fn take(app: &TestApp, raw: &[u8]) -> Outcome {
    let mut conn = app.conn();
    mail::take(&app.state, &mut conn, raw, "test").expect("stored")
}

fn opened(o: Outcome) -> i64 {
    match o {
        Outcome::Opened { ticket_id, .. } => ticket_id.0,
        other => panic!("expected a new ticket, got {other:?}"),
    }
}

fn ticket_row(app: &TestApp, id: i64) -> (String, String, String, Option<chrono::NaiveDateTime>) {
    let mut conn = app.conn();
    tickets::table
        .find(id)
        .select((
            tickets::status,
            tickets::channel,
            tickets::subject,
            tickets::reply_due_at,
        ))
        .first(&mut *conn)
        .unwrap()
}

macro_rules! count {
    ($app:expr, $query:expr) => {{
        let mut conn = $app.conn();
        $query.count().get_result::<i64>(&mut *conn).unwrap()
    }};
}

fn outbox_rows(app: &TestApp) -> Vec<(String, String, Vec<u8>)> {
    let mut conn = app.conn();
    outbound_mail::table
        .order(outbound_mail::id)
        .select((
            outbound_mail::kind,
            outbound_mail::to_address,
            outbound_mail::raw,
        ))
        .load(&mut *conn)
        .unwrap()
}

fn a_first_mail_opens_a_ticket_and_is_acknowledged_in_its_thread(backend: Backend) {
    let app = spawn_app(backend);
    let id = opened(take(
        &app,
        &Mail {
            subject: "Re: 返信: 相談したいことがあります",
            ..Mail::default()
        }
        .raw(),
    ));
    let (status, channel, subject, due) = ticket_row(&app, id);
    assert_eq!((status.as_str(), channel.as_str()), ("new", "email"));
    assert_eq!(
        subject, "相談したいことがあります",
        "reply prefixes are stripped"
    );
    assert_eq!(
        due.unwrap().and_utc(),
        app.time.now() + ChronoDuration::days(10)
    );
    let out = outbox_rows(&app);
    assert_eq!(out.len(), 1);
    assert_eq!(
        (out[0].0.as_str(), out[0].1.as_str()),
        ("acknowledgement", "hanako@example.jp")
    );
    let ack = MessageParser::default().parse(&out[0].2).unwrap();
    assert_eq!(
        ack.in_reply_to().as_text(),
        Some("first@example.jp"),
        "the ack answers the consulter's mail"
    );
    assert!(ack.body_text(0).unwrap().starts_with("Hanako 様"));
}

fn follow_ups_join_by_headers_or_by_reference_from_the_consulter_only(backend: Backend) {
    let app = spawn_app(backend);
    let id = opened(take(&app, &Mail::default().raw()));
    let (reference, ack_id): (String, String) = {
        let mut conn = app.conn();
        let reference = tickets::table
            .find(id)
            .select(tickets::reference)
            .first(&mut *conn)
            .unwrap();
        let ack_id = outbound_mail::table
            .select(outbound_mail::rfc_message_id)
            .first(&mut *conn)
            .unwrap();
        (reference, ack_id)
    };
    let due_before = ticket_row(&app, id).3;
    app.time.advance(ChronoDuration::hours(1));
    let by_header = Mail {
        message_id: Some("second@example.jp"),
        in_reply_to: Some(&ack_id),
        from: "other-name <somewhere@else.example>",
        ..Mail::default()
    };
    assert_eq!(
        take(&app, &by_header.raw()),
        Outcome::Joined {
            ticket_id: TicketId(id)
        },
        "headers join whoever sends"
    );
    assert_eq!(
        ticket_row(&app, id).3,
        due_before,
        "a running clock is not restarted"
    );
    assert_eq!(ticket_row(&app, id).0, "new");

    let subject = format!("Re: 相談 [#{reference}]");
    let by_reference = Mail {
        message_id: Some("third@example.jp"),
        subject: &subject,
        from: "hanako@EXAMPLE.jp",
        ..Mail::default()
    };
    assert_eq!(
        take(&app, &by_reference.raw()),
        Outcome::Joined {
            ticket_id: TicketId(id)
        }
    );
    let stranger = Mail {
        message_id: Some("fourth@example.jp"),
        subject: &subject,
        from: "stranger@example.com",
        ..Mail::default()
    };
    let other = opened(take(&app, &stranger.raw()));
    assert_ne!(
        other, id,
        "a stranger quoting a reference never joins someone else's thread"
    );
    let mut conn = app.conn();
    let in_first: i64 = messages::table
        .filter(messages::ticket_id.eq(id))
        .filter(messages::kind.eq("inbound"))
        .count()
        .get_result(&mut *conn)
        .unwrap();
    assert_eq!(in_first, 3);
}

fn an_answered_consultation_reopens_with_a_new_clock(backend: Backend) {
    let app = spawn_app(backend);
    let c = app.staff("c@center.example", "counsellor");
    let id = opened(take(&app, &Mail::default().raw()));
    app.call(
        "POST",
        &format!("/api/v1/tickets/{id}/replies"),
        Some(&c.token),
        Some(&json!({"body": "お返事です", "close": true})),
    );
    assert_eq!(ticket_row(&app, id).0, "closed");
    assert_eq!(ticket_row(&app, id).3, None);
    app.time.advance(ChronoDuration::days(3));
    let reply_id: String = {
        let mut conn = app.conn();
        outbound_mail::table
            .filter(outbound_mail::kind.eq("reply"))
            .select(outbound_mail::rfc_message_id)
            .first(&mut *conn)
            .unwrap()
    };
    let answer = Mail {
        message_id: Some("answer@example.jp"),
        in_reply_to: Some(&reply_id),
        body: "ありがとうございます。もう少し聞きたいです。",
        ..Mail::default()
    };
    assert_eq!(
        take(&app, &answer.raw()),
        Outcome::Joined {
            ticket_id: TicketId(id)
        }
    );
    let (status, _, _, due) = ticket_row(&app, id);
    assert_eq!(status, "open");
    assert_eq!(
        due.unwrap().and_utc(),
        app.time.now() + ChronoDuration::days(10),
        "a new clock"
    );
    assert_eq!(
        outbox_rows(&app)
            .iter()
            .filter(|r| r.0 == "acknowledgement")
            .count(),
        1,
        "follow-ups get no new acknowledgement"
    );
}

fn duplicates_are_stored_once_even_without_a_message_id(backend: Backend) {
    let app = spawn_app(backend);
    let raw = Mail::default().raw();
    opened(take(&app, &raw));
    assert_eq!(take(&app, &raw), Outcome::Duplicate);
    let anonymous = fixture("no-message-id.eml");
    opened(take(&app, &anonymous));
    assert_eq!(
        take(&app, &anonymous),
        Outcome::Duplicate,
        "a redelivery is recognised by its synthetic id"
    );
    assert_eq!(count!(&app, tickets::table), 2);
    assert_eq!(
        count!(&app, messages::table.filter(messages::kind.eq("inbound"))),
        2
    );
}

fn automatic_mail_is_stored_but_never_answered(backend: Backend) {
    let app = spawn_app(backend);
    for name in ["auto-replied.eml", "list.eml", "bulk.eml"] {
        let id = opened(take(&app, &fixture(name)));
        assert_eq!(ticket_row(&app, id).3, None, "{name}: no clock");
    }
    let own = Mail {
        from: "soudan@example.org",
        message_id: Some("loop@example.org"),
        ..Mail::default()
    };
    opened(take(&app, &own.raw()));
    let null_path = Mail {
        message_id: Some("null@example.jp"),
        extra: "Return-Path: <>\r\n",
        ..Mail::default()
    };
    opened(take(&app, &null_path.raw()));
    assert!(
        outbox_rows(&app).is_empty(),
        "no acknowledgement to automatic mail"
    );

    // An out-of-office answer to our acknowledgement joins the thread but changes nothing.
    let id = opened(take(&app, &Mail::default().raw()));
    let c = app.staff("c@center.example", "counsellor");
    app.call(
        "POST",
        &format!("/api/v1/tickets/{id}/replies"),
        Some(&c.token),
        Some(&json!({"body": "お返事"})),
    );
    let ack_id: String = {
        let mut conn = app.conn();
        outbound_mail::table
            .filter(outbound_mail::kind.eq("reply"))
            .select(outbound_mail::rfc_message_id)
            .first(&mut *conn)
            .unwrap()
    };
    let away = Mail {
        message_id: Some("away@example.jp"),
        in_reply_to: Some(&ack_id),
        extra: "Auto-Submitted: auto-replied\r\n",
        ..Mail::default()
    };
    assert_eq!(
        take(&app, &away.raw()),
        Outcome::Joined {
            ticket_id: TicketId(id)
        }
    );
    let (status, _, _, due) = ticket_row(&app, id);
    assert_eq!(
        (status.as_str(), due),
        ("waiting", None),
        "not reopened, no clock"
    );
}

fn a_bounce_fails_our_mail_and_opens_no_ticket(backend: Backend) {
    let app = spawn_app(backend);
    let id = opened(take(&app, &Mail::default().raw()));
    let ack_id: String = {
        let mut conn = app.conn();
        outbound_mail::table
            .select(outbound_mail::rfc_message_id)
            .first(&mut *conn)
            .unwrap()
    };
    let dsn = String::from_utf8(fixture("dsn.eml")).unwrap();
    // The fixture's report names this mail of ours in its text/rfc822-headers part.
    let original = "reply-5f2e9c1a@soudan.example.org";
    assert!(dsn.contains(original));
    let dsn = dsn.replace(original, &ack_id);
    assert_eq!(
        take(&app, dsn.as_bytes()),
        Outcome::Bounce {
            ticket_id: Some(TicketId(id))
        }
    );
    assert_eq!(count!(&app, tickets::table), 1, "no ticket for a bounce");
    let mut conn = app.conn();
    let (status, error): (String, Option<String>) = outbound_mail::table
        .select((outbound_mail::status, outbound_mail::last_error))
        .first(&mut *conn)
        .unwrap();
    assert_eq!(status, "failed");
    assert!(error.unwrap().starts_with("bounced"));
    drop(conn);
    let unknown = String::from_utf8(fixture("dsn.eml")).unwrap();
    assert!(
        matches!(take(&app, unknown.as_bytes()), Outcome::Quarantined { .. }),
        "a report about no mail of ours is kept for a person"
    );
}

fn unreadable_mail_is_quarantined_and_can_be_retried(backend: Backend) {
    let app = spawn_app(backend);
    let garbage = fixture("garbage.bin");
    let Outcome::Quarantined { id } = take(&app, &garbage) else {
        panic!("not quarantined")
    };
    let mut conn = app.conn();
    let (raw, reason): (Vec<u8>, String) = quarantine::table
        .find(id)
        .select((quarantine::raw, quarantine::reason))
        .first(&mut *conn)
        .unwrap();
    assert_eq!(raw, garbage, "kept byte for byte");
    assert!(!reason.is_empty());
    assert_eq!(
        mail::retry(&app.state, &mut conn, id).unwrap(),
        Some(Outcome::Quarantined { id })
    );
    assert_eq!(
        mail::retry(&app.state, &mut conn, QuarantineId(999_999)).unwrap(),
        None
    );
    // A mail quarantined for a reason that has since gone is taken on retry.
    let good = Mail::default().raw();
    let qid = madoguchi::db::quarantine::put(
        &mut conn,
        &good,
        "test",
        "database was full",
        app.time.now(),
    )
    .unwrap();
    assert!(matches!(
        mail::retry(&app.state, &mut conn, qid).unwrap(),
        Some(Outcome::Opened { .. })
    ));
    let open = madoguchi::db::quarantine::list(&mut conn, false).unwrap();
    assert_eq!(open.iter().map(|q| q.id).collect::<Vec<_>>(), vec![id]);
}

fn attachments_are_kept_and_downloadable_and_big_ones_noted(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.intake.max_attachment_bytes = 1000);
    let c = app.staff("c@center.example", "counsellor");
    let id = opened(take(&app, &fixture("rfc2231-filename.eml")));
    let t = app
        .call(
            "GET",
            &format!("/api/v1/tickets/{id}"),
            Some(&c.token),
            None,
        )
        .json();
    let a = &t["messages"][0]["attachments"][0];
    assert!(a.is_object(), "{t}");
    assert_eq!(a["filename"], "相談メモ.txt");
    let download = app.call("GET", a["url"].as_str().unwrap(), Some(&c.token), None);
    assert_eq!(download.status, 200);
    // Served as opaque bytes whatever the sender claimed (issue 10, point 21).
    assert_eq!(download.content_type, "application/octet-stream");
    let mut conn = app.conn();
    let stored: Vec<u8> = attachments::table
        .select(attachments::content)
        .first(&mut *conn)
        .unwrap();
    assert_eq!(download.body.as_bytes(), stored.as_slice());
    drop(conn);
    let raw = app
        .http
        .get(app.url(a["url"].as_str().unwrap()))
        .header("authorization", format!("Bearer {}", c.token))
        .call()
        .unwrap();
    let disposition = raw
        .headers()
        .get("content-disposition")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(disposition.starts_with("attachment"), "{disposition}");
    assert!(disposition.contains("UTF-8''"), "{disposition}");
    assert_eq!(
        app.call(
            "GET",
            &format!("/api/v1/tickets/{}/attachments/1", id + 1000),
            Some(&c.token),
            None
        )
        .status,
        404
    );

    let big = opened(take(&app, &fixture("big-attachment.eml")));
    let t = app
        .call(
            "GET",
            &format!("/api/v1/tickets/{big}"),
            Some(&c.token),
            None,
        )
        .json();
    let note = t["messages"][0]["system_note"].as_str().unwrap();
    assert!(note.contains("left out"), "{note}");
}

fn run_ingest(db: &TestDb, args: &[&str], stdin: Option<&[u8]>) -> std::process::Output {
    run_ingest_url(&db.url, args, stdin)
}

fn run_ingest_url(url: &str, args: &[&str], stdin: Option<&[u8]>) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_madoguchi"))
        .arg("ingest")
        .args(args)
        .env("MADOGUCHI_DATABASE__URL", url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(bytes) = stdin {
        std::io::Write::write_all(&mut input, bytes).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn ingest_decodes_japanese_mail_from_files_and_stdin(backend: Backend) {
    let db = TestDb::new(backend);
    let dir = std::env::temp_dir().join(format!(
        "madoguchi_ingest_{}",
        madoguchi::desk::auth::tokens::new_token()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let names = [
        "iso2022jp-extensions.eml",
        "shift_jis-cp932.eml",
        "utf8-qp.eml",
        "html-only.eml",
        "garbage.bin",
    ];
    let paths: Vec<String> = names
        .iter()
        .map(|n| format!("{}/tests/data/mail/{n}", env!("CARGO_MANIFEST_DIR")))
        .collect();
    let args: Vec<&str> = paths.iter().map(String::as_str).collect();
    let out = run_ingest(&db, &args, None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "opened 4, quarantined 1"
    );
    let again = run_ingest(&db, &args[..4], None);
    assert_eq!(String::from_utf8_lossy(&again.stdout).trim(), "duplicate 4");
    let stdin = run_ingest(&db, &[], Some(&fixture("utf8-8bit.eml")));
    assert!(stdin.status.success());
    assert_eq!(String::from_utf8_lossy(&stdin.stdout).trim(), "opened 1");

    let _ = std::fs::remove_dir_all(dir);
}

fn the_full_flow_from_form_to_reply_to_the_consulters_answer(backend: Backend) {
    let smtp = TestSmtpServer::start();
    let app = spawn_app_with(backend, |s| {
        s.smtp.transport = MailTransport::Smtp;
        s.smtp.port = smtp.port();
        s.auth.session_idle_hours = 24 * 7;
        s.auth.session_max_hours = 24 * 7;
    });
    let c = app.staff("c@center.example", "counsellor");
    let form = [
        ("email", "taro@example.jp"),
        ("relationship", "self"),
        ("subject", "はじめての相談"),
        ("body", "話を聞いてほしいです。"),
        ("consent", "true"),
    ];
    assert_eq!(app.post_consult(&form).status, 200);
    let ack = MessageParser::default()
        .parse(&smtp.wait_for(1, Duration::from_secs(20))[0].data)
        .unwrap()
        .message_id()
        .unwrap()
        .to_string();
    let id = app
        .call("GET", "/api/v1/tickets", Some(&c.token), None)
        .json()["items"][0]["id"]
        .as_i64()
        .unwrap();
    let r = app.call(
        "POST",
        &format!("/api/v1/tickets/{id}/replies"),
        Some(&c.token),
        Some(&json!({"body": "お話を聞かせてください。"})),
    );
    assert_eq!(r.status, 202);
    let reply_raw = smtp.wait_for(2, Duration::from_secs(20))[1].data.clone();
    let reply = MessageParser::default().parse(&reply_raw).unwrap();
    assert_eq!(
        reply.in_reply_to().as_text(),
        Some(ack.as_str()),
        "In-Reply-To is the acknowledgement"
    );
    let reply_id = reply.message_id().unwrap().to_string();
    let subject = reply.subject().unwrap().to_string();

    app.time.advance(ChronoDuration::days(2));
    let answer = Mail {
        from: "taro@example.jp",
        subject: &format!("Re: {subject}"),
        message_id: Some("taro-answer@example.jp"),
        in_reply_to: Some(&reply_id),
        body: "ありがとうございます。少し気持ちが楽になりました。",
        ..Mail::default()
    };
    let out = run_ingest_url(&app.db_url(), &[], Some(&answer.raw()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "joined 1");
    let t = app
        .call(
            "GET",
            &format!("/api/v1/tickets/{id}"),
            Some(&c.token),
            None,
        )
        .json();
    assert_eq!(t["status"], "open");
    assert_eq!(t["sla_state"], "on_track", "a new clock runs");
    let kinds: Vec<&str> = t["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["inbound", "outbound", "outbound", "inbound"]);
    assert_eq!(
        t["messages"][3]["body_text"],
        "ありがとうございます。少し気持ちが楽になりました。"
    );
    let mut conn = app.conn();
    let clocks: i64 = madoguchi::db::schema::reply_clocks::table
        .filter(madoguchi::db::schema::reply_clocks::ticket_id.eq(id))
        .count()
        .get_result(&mut *conn)
        .unwrap();
    assert_eq!(clocks, 2, "the first clock kept, a second started");
}

fn imap_mail_is_taken_once_across_restarts(backend: Backend) {
    let mut imap = Dovecot::start();
    let db = std::sync::Arc::new(TestDb::new(backend));
    let mut settings = test_settings(&db);
    settings.imap.enabled = true;
    settings.imap.port = imap.port;
    settings.imap.username = dovecot::USER.into();
    settings.imap.password = dovecot::PASSWORD.into();
    settings.imap.poll_seconds = 1;
    let inbound = |app: &TestApp| count!(app, messages::table.filter(messages::kind.eq("inbound")));
    let mail = |i: usize| {
        Mail {
            message_id: Some(&format!("imap-{i}@example.jp")),
            ..Mail::default()
        }
        .raw()
    };
    let wait_for = |app: &TestApp, n: i64| {
        let got = eventually(Duration::from_secs(30), || {
            (inbound(app) == n).then_some(())
        });
        assert!(
            got.is_some(),
            "expected {n} messages, have {}",
            inbound(app)
        );
    };

    let app = spawn_on(db.clone(), settings.clone());
    for i in 0..3 {
        imap.append(&mail(i));
    }
    wait_for(&app, 3);
    assert_eq!(imap.seen_uids(), vec![1, 2, 3], "marked seen once stored");
    drop(app);

    // While madoguchi is down: more mail, one of it a second delivery of an earlier one.
    imap.append(&mail(3));
    imap.append(&mail(1));
    imap.restart();
    let app = spawn_on(db.clone(), settings.clone());
    wait_for(&app, 4);
    let seen = eventually(Duration::from_secs(10), || {
        (imap.seen_uids().len() == 5).then_some(())
    });
    assert!(seen.is_some(), "seen: {:?}", imap.seen_uids());

    // The server goes away under a running poller; it reconnects and goes on.
    imap.restart();
    imap.append(&mail(4));
    wait_for(&app, 5);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(inbound(&app), 5, "each mail once");
    assert_eq!(count!(&app, tickets::table), 5);
    let mut conn = app.conn();
    let position = madoguchi::db::imap_state::imap_position(&mut conn, "INBOX")
        .unwrap()
        .unwrap();
    assert_eq!(position.1, 6);
}

fn ingest_killed_mid_batch_then_rerun_stores_each_mail_once(backend: Backend) {
    let db = TestDb::new(backend);
    let dir = std::env::temp_dir().join(format!(
        "madoguchi_batch_{}",
        madoguchi::desk::auth::tokens::new_token()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    const N: usize = 2000;
    let paths: Vec<String> = (0..N)
        .map(|i| {
            let path = dir.join(format!("{i}.eml"));
            let from = format!("p{i}@example.jp");
            let id = format!("batch-{i}@example.jp");
            std::fs::write(
                &path,
                Mail {
                    from: &from,
                    message_id: Some(&id),
                    ..Mail::default()
                }
                .raw(),
            )
            .unwrap();
            path.display().to_string()
        })
        .collect();
    let mut child = Command::new(env!("CARGO_BIN_EXE_madoguchi"))
        .arg("ingest")
        .args(&paths)
        .env("MADOGUCHI_DATABASE__URL", &db.url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pool = madoguchi::db::connect(&test_settings(&db).database).unwrap();
    let stored = || -> i64 {
        let mut conn = pool.get().unwrap();
        messages::table
            .filter(messages::kind.eq("inbound"))
            .count()
            .get_result(&mut *conn)
            .unwrap()
    };
    let started = eventually(Duration::from_secs(60), || (stored() >= 20).then_some(()));
    assert!(started.is_some());
    child.kill().unwrap();
    child.wait().unwrap();
    let at_kill = stored();
    assert!(at_kill < N as i64, "killed part way ({at_kill} of {N})");
    let rerun = Command::new(env!("CARGO_BIN_EXE_madoguchi"))
        .arg("ingest")
        .args(&paths)
        .env("MADOGUCHI_DATABASE__URL", &db.url)
        .output()
        .unwrap();
    assert!(
        rerun.status.success(),
        "{}",
        String::from_utf8_lossy(&rerun.stderr)
    );
    let summary = String::from_utf8_lossy(&rerun.stdout).trim().to_string();
    assert!(
        summary.contains(&format!("duplicate {at_kill}")),
        "{summary}"
    );
    assert_eq!(stored(), N as i64, "every message exactly once");
    let mut conn = pool.get().unwrap();
    let tickets_made: i64 = tickets::table.count().get_result(&mut *conn).unwrap();
    assert_eq!(tickets_made, N as i64);
    let _ = std::fs::remove_dir_all(dir);
}

fn a_batch_keeps_each_mail_apart(backend: Backend) {
    let app = spawn_app(backend);
    let first = Mail::default().raw();
    let second = Mail {
        message_id: Some("second@example.jp"),
        from: "b@example.jp",
        ..Mail::default()
    }
    .raw();
    let raws = vec![first.clone(), fixture("garbage.bin"), first, second];
    let mut conn = app.conn();
    let outcomes = mail::take_batch(&app.state, &mut conn, &raws, "test").unwrap();
    drop(conn);
    assert!(matches!(
        outcomes[0],
        Outcome::Opened {
            acknowledged: true,
            ..
        }
    ));
    assert!(
        matches!(outcomes[1], Outcome::Quarantined { .. }),
        "one bad mail is quarantined alone"
    );
    assert_eq!(
        outcomes[2],
        Outcome::Duplicate,
        "a mail twice in one batch is stored once"
    );
    assert!(matches!(outcomes[3], Outcome::Opened { .. }));
    assert_eq!(count!(&app, tickets::table), 2);
    assert_eq!(count!(&app, quarantine::table), 1);
    assert_eq!(outbox_rows(&app).len(), 2);
}
