//! Privacy, proven (issue 17, point 3): a real `madoguchi serve` process at the most verbose
//! log level, driven through the whole flow with known consulter data, and then every line it
//! wrote, every line `ingest` and `staff add` wrote, and the metrics searched for that data.

mod serve;

use std::time::Duration;

use mail_parser::MessageParser;
use serde_json::{Value, json};

use crate::both_backends;
use crate::support::dovecot::{self, Dovecot};
use crate::support::smtp_server::{Stage, TestSmtpServer};
use crate::support::{Backend, TestDb, base64, eventually, hidden_value};
use serve::{run_once, start_serve};

both_backends!(no_consulter_data_reaches_a_log_line_or_a_metric);

const NAME: &str = "秘密花子";
const ADDRESS: &str = "himitsu.hanako@example.jp";
const LOCAL_PART: &str = "himitsu.hanako";
const FORM_SUBJECT: &str = "木蓮相談の件名";
const FORM_BODY: &str = "息子が部屋から出ません。目印は紫陽花通信です。";
const FORM_MARKER: &str = "紫陽花通信";
const API_SUBJECT: &str = "向日葵窓口の件名";
const API_MARKER: &str = "蒲公英便り";
const MAIL_SUBJECT: &str = "秋桜メールの件名";
const MAIL_MARKER: &str = "金木犀日記";
const PASSPHRASE: &str = "くもりぞら-ほしのうみ-7731";
const IMAP_SUBJECT_MARKER: &str = "鈴蘭再送の件名";
const IMAP_MARKER: &str = "月下美人返事";
const REPLY_MARKER: &str = "菖蒲返信文";
const NOTE_MARKER: &str = "山茶花覚書";
const DESK_NOTE_MARKER: &str = "沈丁花記録";
const STAFF_EMAIL: &str = "shokuin.kato@center.example";
const STAFF_PASSWORD: &str = "tsukimi-dango-password-42";
const WRONG_PASSWORD: &str = "machigai-kasutera-password-99";

fn write_config(db: &TestDb, smtp: &TestSmtpServer, imap: &Dovecot) -> std::path::PathBuf {
    let path = db.dir.join("privacy.toml");
    let mail_dir = db.dir.join("sent-mail");
    std::fs::write(
        &path,
        format!(
            r#"
[server]
bind = "127.0.0.1:0"
workers = 2

[database]
url = "{url}"
pool_size = 8
sqlite_synchronous = "normal"

[center]
reply_address = "soudan@kokoro-recovery.org"

[smtp]
transport = "smtp"
host = "127.0.0.1"
port = {port}
tls = "none"
timeout_seconds = 5
retry_base_seconds = 1
file_dir = "{mail_dir}"

[imap]
enabled = true
host = "127.0.0.1"
port = {imap_port}
username = "{imap_user}"
password = "{imap_password}"
poll_seconds = 1

[alerts]
# The supervisors' digest goes out at once, before the flow, whatever the hour of the test.
digest_time = "00:00"

[log]
level = "trace"
"#,
            url = db.url,
            port = smtp.port(),
            imap_port = imap.port,
            imap_user = dovecot::USER,
            imap_password = dovecot::PASSWORD,
            mail_dir = mail_dir.display(),
        ),
    )
    .unwrap();
    path
}

fn mail_from_the_consulter() -> Vec<u8> {
    format!(
        "From: {NAME} <{ADDRESS}>\r\nTo: soudan@kokoro-recovery.org\r\n\
         Subject: =?UTF-8?B?{subject}?=\r\nDate: Wed, 25 Nov 2026 10:00:00 +0900\r\n\
         Message-ID: <privacy-first@example.jp>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
         はじめまして。{MAIL_MARKER}。合言葉は {PASSPHRASE} です。\r\n",
        subject = base64(MAIL_SUBJECT.as_bytes()),
    )
    .into_bytes()
}

/// The consulter's answer to the reply, as it arrives in the mailbox.
fn answer_by_imap(reference: &str) -> Vec<u8> {
    let subject = format!("Re: {IMAP_SUBJECT_MARKER} [#{reference}]");
    format!(
        "From: {NAME} <{ADDRESS}>\r\nTo: soudan@kokoro-recovery.org\r\n\
         Subject: =?UTF-8?B?{subject}?=\r\nDate: Wed, 25 Nov 2026 12:00:00 +0900\r\n\
         Message-ID: <privacy-answer@example.jp>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
         ありがとうございます。{IMAP_MARKER}。\r\n",
        subject = base64(subject.as_bytes()),
    )
    .into_bytes()
}

fn no_consulter_data_reaches_a_log_line_or_a_metric(backend: Backend) {
    let db = TestDb::new(backend);
    let smtp = TestSmtpServer::start();
    let imap = Dovecot::start();
    let config = write_config(&db, &smtp, &imap);
    let mut other_lines = run_once(
        &config,
        &[
            "staff",
            "add",
            "--email",
            STAFF_EMAIL,
            "--name",
            "加藤 職員",
            "--role",
            "supervisor",
        ],
        format!("{STAFF_PASSWORD}\n").as_bytes(),
        "staff add",
    );
    let serve = start_serve(&config);
    assert!(
        serve.lines_matching(Duration::from_secs(20), |l| l
            .contains("mail sent outbox_id=1")),
        "the digest went out first: {:#?}",
        serve.lines.all()
    );
    // Servers quote the recipient in their refusals; that must not reach the log either.
    smtp.fail_next(
        1,
        Stage::Rcpt,
        450,
        &format!("4.2.1 <{ADDRESS}>: Recipient address rejected: mailbox busy"),
    );

    // The consultation form, as a person sends it: served, then sent 3 real seconds later.
    let page = serve.get("/consult", None, None);
    assert_eq!(page.status, 200);
    let form_token = hidden_value(&page.body, "form_token").expect("the form's token");
    std::thread::sleep(Duration::from_millis(3200));
    let form = serve.post_form(
        "/consult",
        None,
        &[
            ("name", NAME),
            ("email", ADDRESS),
            ("relationship", "family"),
            ("subject", FORM_SUBJECT),
            ("body", FORM_BODY),
            ("consent", "true"),
            ("form_token", &form_token),
            ("homepage", ""),
        ],
    );
    assert_eq!(form.status, 200, "{}", form.body);

    let api = serve.post_json(
        "/api/v1/consultations",
        None,
        &json!({
            "name": NAME,
            "email": ADDRESS,
            "relationship": "self",
            "age_group": "20代",
            "area": "白石区",
            "subject": API_SUBJECT,
            "body": format!("{API_MARKER}。合言葉は {PASSPHRASE} です。"),
            "consent": true,
        }),
    );
    assert_eq!(api.status, 201, "{}", api.body);
    let reference = api.body.clone();
    let reference: Value = serde_json::from_str(&reference).unwrap();
    let reference = reference["reference"].as_str().unwrap().to_string();

    other_lines.extend(run_once(
        &config,
        &["ingest"],
        &mail_from_the_consulter(),
        "ingest",
    ));

    // Staff: a wrong password on both doors, then the right one on both.
    let wrong = serve.post_json(
        "/api/v1/auth/login",
        None,
        &json!({"email": STAFF_EMAIL, "password": WRONG_PASSWORD}),
    );
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    let (wrong_desk, no_cookie) = serve.desk_sign_in(STAFF_EMAIL, WRONG_PASSWORD);
    assert_ne!(wrong_desk, 303, "a wrong password opens nothing");
    assert!(no_cookie.is_empty() || !no_cookie.contains("madoguchi_desk="));
    let login = serve.post_json(
        "/api/v1/auth/login",
        None,
        &json!({"email": STAFF_EMAIL, "password": STAFF_PASSWORD}),
    );
    assert_eq!(login.status, 200, "{}", login.body);
    let login: Value = serde_json::from_str(&login.body).unwrap();
    let token = login["token"].as_str().unwrap().to_string();
    let (signed_in, cookie) = serve.desk_sign_in(STAFF_EMAIL, STAFF_PASSWORD);
    assert_eq!(signed_in, 303);
    let session = cookie.split_once('=').map(|(_, v)| v.to_string()).unwrap();
    assert!(session.len() >= 16, "a session value: {cookie}");

    let queue = serve.get("/api/v1/tickets", Some(&token), None);
    let queue: Value = serde_json::from_str(&queue.body).unwrap();
    let items = queue["items"].as_array().unwrap();
    assert_eq!(
        items.len(),
        3,
        "form, API and mail each opened one: {queue}"
    );
    let id = items
        .iter()
        .find(|t| t["reference"] == reference.as_str())
        .and_then(|t| t["id"].as_i64())
        .unwrap();

    let ticket = serve.get(&format!("/api/v1/tickets/{id}"), Some(&token), None);
    assert_eq!(ticket.status, 200);
    assert!(
        ticket.body.contains(API_MARKER),
        "the API shows the message"
    );
    let desk_page = serve.get(&format!("/desk/tickets/{id}"), None, Some(&cookie));
    assert_eq!(desk_page.status, 200);
    assert!(desk_page.body.contains(NAME), "the console shows the name");
    let csrf = hidden_value(&desk_page.body, "csrf").expect("the forms carry a token");

    let reply = serve.post_json(
        &format!("/api/v1/tickets/{id}/replies"),
        Some(&token),
        &json!({"body": format!("ご相談ありがとうございます。{REPLY_MARKER}")}),
    );
    assert_eq!(reply.status, 202, "{}", reply.body);
    let note = serve.post_json(
        &format!("/api/v1/tickets/{id}/notes"),
        Some(&token),
        &json!({"body": format!("{NOTE_MARKER}：{NAME}さん")}),
    );
    assert!(note.status == 201 || note.status == 200, "{}", note.body);
    let desk_note = serve.post_form(
        &format!("/desk/tickets/{id}/note"),
        Some(&cookie),
        &[("body", DESK_NOTE_MARKER), ("csrf", &csrf)],
    );
    assert_eq!(desk_note.status, 303);

    // The digest, three acknowledgements (the first after a retry) and the reply.
    let mails = smtp.wait_for(5, Duration::from_secs(30));
    assert_eq!(mails.len(), 5, "every mail was delivered");
    let reply_arrived = mails.iter().any(|m| {
        let parsed = MessageParser::default().parse(&m.data).unwrap();
        m.to == [ADDRESS.to_string()]
            && parsed
                .subject()
                .is_some_and(|s| s.starts_with("Re: ") && s.contains(&reference))
            && parsed
                .body_text(0)
                .is_some_and(|b| b.contains(REPLY_MARKER))
    });
    assert!(reply_arrived, "the reply reached the consulter");
    // The mail worker logs each delivery; wait until the fifth is in the log too.
    let sent_lines = eventually(Duration::from_secs(20), || {
        let n = serve
            .lines
            .all()
            .iter()
            .filter(|l| l.contains("mail sent"))
            .count();
        (n >= 5).then_some(n)
    });
    assert!(sent_lines.is_some(), "{:#?}", serve.lines.all());

    // The consulter answers; the answer comes in by IMAP and joins the consultation.
    imap.append(&answer_by_imap(&reference));
    let joined = serve.lines_matching(Duration::from_secs(30), |l| {
        l.contains("mail taken") && l.contains("imap") && l.contains("joined")
    });
    assert!(
        joined,
        "the IMAP answer was taken: {:#?}",
        serve.lines.all()
    );
    let thread = serve.get(&format!("/api/v1/tickets/{id}"), Some(&token), None);
    assert!(thread.body.contains(IMAP_MARKER), "it joined the ticket");

    for path in ["/api/v1/reports/overdue", "/api/v1/reports/sla"] {
        let r = serve.get(path, Some(&token), None);
        assert_eq!(r.status, 200, "{path}: {}", r.body);
    }
    let metrics = serve.get("/metrics", None, None);
    assert_eq!(metrics.status, 200);
    assert!(metrics.body.contains("madoguchi_"), "{}", metrics.body);

    let serve_lines = serve.lines.all();
    let verbose = serve_lines
        .iter()
        .filter(|l| l.contains("TRACE") || l.contains("DEBUG"))
        .count();
    assert!(
        verbose > 50,
        "the log must really be at trace level ({verbose} trace/debug lines): {serve_lines:#?}"
    );
    // What may be logged is: ids, so the search below reads a real log of this flow.
    assert!(
        serve_lines
            .iter()
            .any(|l| l.contains("consultation opened")
                && l.contains(&format!("reference={reference}"))),
        "the API consultation's reference is logged: {serve_lines:#?}"
    );
    assert!(
        serve_lines
            .iter()
            .any(|l| l.contains("will retry") && l.contains("outbox_id=2")),
        "the refused delivery is logged: {serve_lines:#?}"
    );
    // The piped mail is taken by `serve` when it offers the hand-off (SQLite, beside the
    // file), by `ingest` itself otherwise: one of the two logs the ticket it opened.
    let taken = |l: &String| l.contains("mail taken") && l.contains("ticket_id=");
    assert!(
        other_lines
            .iter()
            .any(|l| l.starts_with("ingest stderr") && taken(l))
            || serve_lines
                .iter()
                .any(|l| taken(l) && l.contains("source=\"ingest\"")),
        "the ticket the piped mail opened is logged: {other_lines:#?} {serve_lines:#?}"
    );

    let secrets: Vec<(&str, String)> = vec![
        ("name", NAME.to_string()),
        ("name's family part", "秘密".to_string()),
        ("address", ADDRESS.to_string()),
        ("address's local part", LOCAL_PART.to_string()),
        ("address, form-encoded", ADDRESS.replace('@', "%40")),
        ("form subject", FORM_SUBJECT.to_string()),
        ("form body", FORM_MARKER.to_string()),
        ("API subject", API_SUBJECT.to_string()),
        ("API body", API_MARKER.to_string()),
        ("mail subject", MAIL_SUBJECT.to_string()),
        ("mail subject, encoded", base64(MAIL_SUBJECT.as_bytes())),
        ("mail body", MAIL_MARKER.to_string()),
        ("passphrase", PASSPHRASE.to_string()),
        ("passphrase's core", "ほしのうみ".to_string()),
        ("IMAP subject", IMAP_SUBJECT_MARKER.to_string()),
        ("IMAP body", IMAP_MARKER.to_string()),
        ("IMAP password", dovecot::PASSWORD.to_string()),
        ("reply", REPLY_MARKER.to_string()),
        ("API note", NOTE_MARKER.to_string()),
        ("console note", DESK_NOTE_MARKER.to_string()),
        ("staff password", STAFF_PASSWORD.to_string()),
        ("wrong password", WRONG_PASSWORD.to_string()),
        ("bearer token", token.clone()),
        ("session cookie", session.clone()),
        ("console form token", csrf.clone()),
    ];
    let metric_lines: Vec<String> = metrics
        .body
        .lines()
        .map(|l| format!("metrics: {l}"))
        .collect();
    let searched: Vec<&String> = serve_lines
        .iter()
        .chain(&other_lines)
        .chain(&metric_lines)
        .collect();
    let leaks: Vec<String> = secrets
        .iter()
        .flat_map(|(what, secret)| {
            searched
                .iter()
                .filter(|l| l.contains(secret.as_str()))
                .map(move |l| format!("{what} ({secret}) in: {l}"))
        })
        .collect();
    assert!(
        leaks.is_empty(),
        "consulter data or secrets in {} lines searched:\n{}",
        searched.len(),
        leaks.join("\n")
    );
}
