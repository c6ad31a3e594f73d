//! How the outbox worker talks SMTP (mail::smtp_session): the message and its terminator in
//! one write, the very bytes composed, one connection a batch kept across a refusal, AUTH.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use diesel::prelude::*;
use madoguchi::config::{MailTransport, Settings, SmtpTls};
use madoguchi::db::schema::outbound_mail;
use madoguchi::db::write_tx;
use madoguchi::mail::Mailer;
use madoguchi::mail::mailer::{OutgoingMail, StaffReply};
use madoguchi::mail::outgoing::queue_staff_mail;
use madoguchi::templates::Templates;
use madoguchi::timesource::TimeSource;

use crate::both_backends;
use crate::support::smtp_server::{Stage, TestSmtpServer};
use crate::support::{Backend, TestApp, eventually, spawn_app_with};

both_backends!(
    the_mail_arrives_byte_for_byte_in_one_write,
    a_refused_mail_leaves_the_connection_to_the_next,
    the_worker_signs_in_when_given_credentials,
);

fn use_smtp(s: &mut Settings, smtp: &TestSmtpServer) {
    s.smtp.transport = MailTransport::Smtp;
    s.smtp.host = "127.0.0.1".into();
    s.smtp.port = smtp.port();
    s.smtp.tls = SmtpTls::None;
    s.smtp.timeout_seconds = 5;
}

fn queue(app: &TestApp, mails: &[OutgoingMail]) {
    let now = app.time.now();
    let mut conn = app.conn();
    write_tx(&mut conn, |c| {
        mails
            .iter()
            .try_for_each(|m| queue_staff_mail(c, None, "reply", m, now))
    })
    .unwrap();
    app.wake_mail();
}

/// Status and attempts of each outbox row, oldest first.
fn statuses(app: &TestApp) -> Vec<(String, i32)> {
    outbound_mail::table
        .order(outbound_mail::id)
        .select((outbound_mail::status, outbound_mail::attempts))
        .load(&mut *app.conn())
        .unwrap()
}

fn settled(app: &TestApp, want: &[(&str, i32)]) {
    let done = eventually(Duration::from_secs(20), || {
        let s = statuses(app);
        let same = s.len() == want.len()
            && s.iter()
                .zip(want)
                .all(|((st, n), (w, m))| st == w && n == m);
        same.then_some(())
    });
    assert!(done.is_some(), "{:?}, not {want:?}", statuses(app));
}

/// A reply whose text has lines that SMTP must dot-stuff; its template is the text alone, so
/// the body goes 7bit and those lines stand on the wire as written.
fn dotted_reply(app: &TestApp, to: &str) -> OutgoingMail {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("madoguchi_dotted_{}_{n}", std::process::id()));
    std::fs::create_dir_all(dir.join("reply")).unwrap();
    std::fs::write(dir.join("reply/body.txt"), "{{ body }}\n").unwrap();
    let templates = Arc::new(Templates::load(Some(&dir)).unwrap());
    let _ = std::fs::remove_dir_all(&dir);
    let mailer = Mailer::new(templates, &app.state.settings, chrono_tz::Asia::Tokyo);
    let reply = StaffReply {
        to,
        consulter_name: None,
        counsellor_name: "Sato",
        reference: "K7QM-4WXZ",
        ticket_subject: "dots",
        body: "Hello.\n.\n.hidden line\n..two dots\nend.\n.",
        threading: None,
        notice_only: false,
    };
    mailer.staff_reply(reply, app.time.now()).unwrap()
}

fn the_mail_arrives_byte_for_byte_in_one_write(backend: Backend) {
    let smtp = TestSmtpServer::start();
    let app = spawn_app_with(backend, |s| use_smtp(s, &smtp));
    let dotted = dotted_reply(&app, "hanako@example.jp");
    let text = String::from_utf8(dotted.raw.clone()).unwrap();
    assert!(
        text.contains("\r\n.\r\n.hidden line\r\n..two dots\r\n"),
        "the dotted lines are in the composed mail as written: {text}"
    );
    // The centre's own templates: Japanese, so quoted-printable or base64.
    let reply = StaffReply {
        to: "taro..yamada.@docomo.ne.jp",
        consulter_name: Some("花子"),
        counsellor_name: "佐藤",
        reference: "K7QM-4WXZ",
        ticket_subject: "息子のこと",
        body: "お返事です。\n.\n以上です。",
        threading: None,
        notice_only: false,
    };
    let japanese = app.state.mailer.staff_reply(reply, app.time.now()).unwrap();
    queue(&app, &[dotted.clone(), japanese.clone()]);

    let got = smtp.wait_for(2, Duration::from_secs(20));
    assert_eq!(got.len(), 2);
    for (sent, composed) in got.iter().zip([&dotted, &japanese]) {
        assert!(
            sent.data == composed.raw,
            "received:\n{}\ncomposed:\n{}",
            String::from_utf8_lossy(&sent.data),
            String::from_utf8_lossy(&composed.raw)
        );
        // lettre 0.11.23 writes `\r\n.\r\n` apart, which Nagle holds 40 ms: two reads here.
        assert_eq!(sent.data_reads, 1, "message and terminator in one write");
    }
    assert_eq!(
        got[1].to,
        vec!["\"taro..yamada.\"@docomo.ne.jp".to_string()]
    );
    assert_eq!(
        (got[0].connection, got[1].connection),
        (0, 0),
        "one connection"
    );
    settled(&app, &[("sent", 1), ("sent", 1)]);
}

fn a_refused_mail_leaves_the_connection_to_the_next(backend: Backend) {
    let smtp = TestSmtpServer::start();
    let app = spawn_app_with(backend, |s| use_smtp(s, &smtp));
    smtp.fail_next(1, Stage::Rcpt, 550, "5.1.1 no such user");
    smtp.fail_next(1, Stage::Data, 451, "4.3.0 try again later");
    let mails: Vec<OutgoingMail> = (0..4)
        .map(|i| dotted_reply(&app, &format!("r{i}@example.jp")))
        .collect();
    queue(&app, &mails);
    // 550 is for good; 451 is for later: queued again, one attempt made.
    settled(
        &app,
        &[("failed", 1), ("queued", 1), ("sent", 1), ("sent", 1)],
    );
    let got = smtp.received();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].data, mails[2].raw);
    assert_eq!(got[1].data, mails[3].raw);
    assert_eq!(
        smtp.connections(),
        1,
        "the refusals did not cost a reconnect"
    );
}

fn the_worker_signs_in_when_given_credentials(backend: Backend) {
    let smtp = TestSmtpServer::start();
    let app = spawn_app_with(backend, |s| {
        use_smtp(s, &smtp);
        s.smtp.username = "desk@example.org".into();
        s.smtp.password = "a relay password".into();
    });
    let mails = [
        dotted_reply(&app, "a@example.jp"),
        dotted_reply(&app, "b@example.jp"),
    ];
    queue(&app, &mails);
    let got = smtp.wait_for(2, Duration::from_secs(20));
    assert_eq!(got.len(), 2);
    for mail in &got {
        assert_eq!(mail.auth_user.as_deref(), Some("desk@example.org"));
        assert_eq!(mail.connection, 0, "signed in once for the batch");
    }
}
