//! The staff console (issue 12): signed in from an alert link, the queue, the ticket worked end
//! to end. In Chromium where what a person sees is the point, over HTTP where the answer is.

use std::time::Duration;

use chrono::Duration as ChronoDuration;
use madoguchi::timesource::TimeSource;
use mail_parser::MessageParser;
use serde_json::json;

use crate::both_backends;
use crate::support::browser::{Browser, browser};
use crate::support::smtp_server::TestSmtpServer;
use crate::support::{Backend, STAFF_PASSWORD, TestApp, spawn_app_with};

both_backends!(
    an_alert_link_leads_through_sign_in_to_its_ticket,
    the_queue_puts_urgent_first_in_words_and_finds_by_reference,
    a_counsellor_answers_the_urgent_consultation_and_leaves_a_note,
    the_same_without_script,
    a_reply_written_while_the_consulter_wrote_again_is_not_sent,
);

pub(crate) const SUPERVISOR: &str = "s@center.example";
pub(crate) const URGENT_TEXT: &str = "もう消えてしまいたい。死にたいです。";

pub(crate) fn app_with(backend: Backend, smtp: Option<&TestSmtpServer>) -> TestApp {
    let port = smtp.map(TestSmtpServer::port);
    spawn_app_with(backend, move |s| {
        s.intake.rate_limit_per_hour = 0;
        s.alerts.enabled = false;
        if let Some(port) = port {
            s.smtp.transport = madoguchi::config::MailTransport::Smtp;
            s.smtp.port = port;
        }
    })
}

pub(crate) fn ticket_with(app: &TestApp, email: &str, subject: &str, body: &str) -> (i64, String) {
    let mut c = crate::support::consultation(email);
    c["subject"] = json!(subject);
    c["body"] = json!(body);
    let r = app.post_json("/api/v1/consultations", &c);
    assert_eq!(r.status, 201, "{}", r.body);
    let reference = r.json()["reference"].as_str().unwrap().to_string();
    let mut conn = app.conn();
    let id = madoguchi::db::tickets::by_reference(&mut conn, &reference)
        .unwrap()
        .unwrap()
        .id
        .0;
    (id, reference)
}

pub(crate) fn sign_in(b: &Browser, email: &str) {
    b.fill("メールアドレス", email);
    b.fill("パスワード", STAFF_PASSWORD);
    b.press("ログイン");
}

/// Screenshots at both widths and axe-core at both, for a page that is open now.
pub(crate) fn look_at(b: &mut Browser, name: &str) {
    for width in [1280, 390] {
        b.set_width(width);
        b.screenshot(name);
        b.assert_accessible(name);
    }
    b.set_width(1280);
}

fn an_alert_link_leads_through_sign_in_to_its_ticket(backend: Backend) {
    let app = app_with(backend, None);
    app.add_staff(SUPERVISOR, "supervisor");
    let (id, reference) = ticket_with(&app, "a@example.jp", "つらいです", URGENT_TEXT);
    let link = app
        .state
        .mailer
        .ticket_link(madoguchi::domain::vocabulary::TicketId(id));
    assert!(link.ends_with(&format!("/desk/tickets/{id}")), "{link}");
    let mut b = browser();
    b.goto(&app.url(&format!("/desk/tickets/{id}")));
    assert!(b.path().starts_with("/desk?next="), "{}", b.path());
    assert!(b.text().contains("職員ログイン"));
    look_at(&mut b, "desk-sign-in");
    b.fill("メールアドレス", SUPERVISOR);
    b.fill("パスワード", "not the password");
    b.press("ログイン");
    assert!(
        b.text()
            .contains("メールアドレスまたはパスワードが違います")
    );
    look_at(&mut b, "desk-sign-in-error");
    sign_in(&b, SUPERVISOR);
    assert_eq!(
        b.path(),
        format!("/desk/tickets/{id}"),
        "back to the alert's page"
    );
    let text = b.text();
    assert!(
        text.contains(&reference) && text.contains(URGENT_TEXT),
        "{text}"
    );
    b.press("ログアウト");
    assert!(b.text().contains("ログアウトしました"));
    b.goto(&app.url(&format!("/desk/tickets/{id}")));
    assert!(
        b.path().starts_with("/desk?next="),
        "signed out: {}",
        b.path()
    );
}

/// The queue's lines as shown: reference, urgency, SLA state.
fn queue_lines(b: &Browser) -> Vec<Vec<String>> {
    let rows = b.js_value(
        "return [...document.querySelectorAll('table.queue tbody tr')]\
         .map(r => [...r.querySelectorAll('td')].map(td => td.innerText.trim()));",
    );
    serde_json::from_value(rows).unwrap()
}

fn the_queue_puts_urgent_first_in_words_and_finds_by_reference(backend: Backend) {
    let app = app_with(backend, None);
    app.add_staff(SUPERVISOR, "supervisor");
    let (_, early) = ticket_with(&app, "a@example.jp", "早い相談", "部屋から出られません。");
    app.time.advance(ChronoDuration::days(8));
    let (_, late) = ticket_with(
        &app,
        "b@example.jp",
        "遅い相談",
        "仕事のことで悩んでいます。",
    );
    let (_, urgent) = ticket_with(&app, "c@example.jp", "つらい", URGENT_TEXT);
    let mut b = browser();
    b.goto(&app.url("/desk"));
    sign_in(&b, SUPERVISOR);
    assert_eq!(b.path(), "/desk");
    let lines = queue_lines(&b);
    let refs: Vec<&str> = lines.iter().map(|l| l[0].as_str()).collect();
    assert_eq!(
        refs,
        vec![&urgent, &early, &late],
        "urgent first, then by reply-by"
    );
    assert_eq!(lines[0][2], "緊急");
    assert_eq!(lines[1][4], "期限間近", "two days left of ten");
    assert_eq!(lines[2][4], "期限内");
    look_at(&mut b, "desk-queue");
    b.select("返信の期限", "期限間近");
    b.press("絞り込む");
    let refs: Vec<String> = queue_lines(&b).into_iter().map(|l| l[0].clone()).collect();
    assert_eq!(refs, vec![early.clone()]);
    b.fill("受付番号", &late.to_lowercase().replace('-', ""));
    b.press("検索");
    let refs: Vec<String> = queue_lines(&b).into_iter().map(|l| l[0].clone()).collect();
    assert_eq!(
        refs,
        vec![late.clone()],
        "letter case and the hyphen do not matter"
    );
    b.fill("受付番号", "ZZZZ-ZZZZ");
    b.press("検索");
    assert!(b.text().contains("見つかりませんでした"));

    // The assignee filter, as the API's: mine, then nobody's.
    let token = app.login(SUPERVISOR, STAFF_PASSWORD).json()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let late_id = app
        .call("GET", "/api/v1/tickets", Some(&token), None)
        .json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["reference"] == late.as_str())
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let s_id = {
        let mut conn = app.conn();
        madoguchi::db::staff::by_email(&mut conn, SUPERVISOR)
            .unwrap()
            .unwrap()
            .id
    };
    let r = app.call(
        "POST",
        &format!("/api/v1/tickets/{late_id}/assign"),
        Some(&token),
        Some(&json!({"assignee_id": s_id.0})),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    b.goto(&app.url("/desk"));
    b.select("担当", "自分");
    b.press("絞り込む");
    let refs: Vec<String> = queue_lines(&b).into_iter().map(|l| l[0].clone()).collect();
    assert_eq!(refs, vec![late.clone()], "mine");
    assert_eq!(
        queue_lines(&b)[0][6],
        "テスト 職員",
        "the assignee is named"
    );
    b.select("担当", "担当なし");
    b.press("絞り込む");
    let refs: Vec<String> = queue_lines(&b).into_iter().map(|l| l[0].clone()).collect();
    assert_eq!(refs, vec![urgent.clone(), early.clone()], "nobody's");

    // A page holds fifty; the next page follows by cursor.
    for i in 0..49 {
        ticket_with(
            &app,
            &format!("m{i}@example.jp"),
            "相談",
            "話を聞いてください。",
        );
    }
    b.goto(&app.url("/desk"));
    assert_eq!(queue_lines(&b).len(), 50);
    b.follow("次のページへ");
    let rest = queue_lines(&b);
    assert_eq!(rest.len(), 2, "52 tickets in all");
    assert!(b.text().contains("最初のページへ"));
}

fn text_of(mail: &[u8]) -> String {
    MessageParser::default()
        .parse(mail)
        .and_then(|m| m.body_text(0).map(|t| t.to_string()))
        .expect("a readable mail")
}

fn a_counsellor_answers_the_urgent_consultation_and_leaves_a_note(backend: Backend) {
    answer_and_note(backend, true);
}

fn the_same_without_script(backend: Backend) {
    answer_and_note(backend, false);
}

/// Done when: signed in, the urgent consultation found first, read, answered (the reply
/// arrives at the SMTP server), a note left.
fn answer_and_note(backend: Backend, script: bool) {
    let smtp = TestSmtpServer::start();
    let app = app_with(backend, Some(&smtp));
    app.add_staff("c@center.example", "counsellor");
    ticket_with(&app, "quiet@example.jp", "相談", "部屋から出られません。");
    let (id, _) = ticket_with(&app, "help@example.jp", "つらい", URGENT_TEXT);
    smtp.wait_for(2, Duration::from_secs(10));
    let mut b = browser();
    if !script {
        b.without_script();
    }
    b.goto(&app.url("/desk"));
    sign_in(&b, "c@center.example");
    let first = queue_lines(&b)[0][0].clone();
    b.follow(&first);
    assert_eq!(
        b.path(),
        format!("/desk/tickets/{id}"),
        "the urgent one first"
    );
    assert!(b.text().contains(URGENT_TEXT));
    if script {
        look_at(&mut b, "desk-ticket");
    }
    b.type_into(
        "返信",
        "お便りありがとうございます。つらい気持ちを書いてくださって、ありがとうございます。",
    );
    b.press("送信");
    assert_eq!(b.path(), format!("/desk/tickets/{id}?done=reply"));
    assert!(b.text().contains("返信を送信しました"));
    let mails = smtp.wait_for(3, Duration::from_secs(10));
    let reply = mails
        .iter()
        .find(|m| {
            m.to == vec!["help@example.jp".to_string()]
                && text_of(&m.data).contains("つらい気持ちを書いて")
        })
        .expect("the reply arrives at the consulter's address");
    assert!(text_of(&reply.data).contains("つらい気持ちを書いてくださって"));
    b.type_into("メモ", "電話相談も案内した。");
    b.press("保存");
    assert!(b.text().contains("メモを保存しました"));
    assert!(b.text().contains("電話相談も案内した。"));
    let delivered = crate::support::eventually(Duration::from_secs(10), || {
        b.goto(&app.url(&format!("/desk/tickets/{id}")));
        b.text().contains("送信状況：送信済み").then_some(())
    });
    assert!(delivered.is_some(), "the page shows the mail as sent");
    assert_eq!(smtp.received().len(), 3, "the note was never mailed");
    if script {
        look_at(&mut b, "desk-ticket-answered");
    }
}

fn a_reply_written_while_the_consulter_wrote_again_is_not_sent(backend: Backend) {
    let app = app_with(backend, None);
    app.add_staff(SUPERVISOR, "supervisor");
    let (id, _) = ticket_with(&app, "a@example.jp", "相談", "部屋から出られません。");
    let mut b = browser();
    b.without_script();
    b.goto(&app.url(&format!("/desk/tickets/{id}")));
    sign_in(&b, SUPERVISOR);
    b.type_into("返信", "お返事です。");
    app.time.advance(ChronoDuration::minutes(5));
    {
        use madoguchi::db::messages::{self, NewMessage};
        use madoguchi::domain::vocabulary::TicketId;
        let mut conn = app.conn();
        messages::add(
            &mut conn,
            &NewMessage::inbound(
                TicketId(id),
                None,
                "やっぱり電話したいです",
                None,
                app.time.now(),
            ),
        )
        .unwrap();
    }
    b.press("送信");
    let text = b.text();
    assert!(text.contains("返信はまだ送っていません"), "{text}");
    assert!(
        text.contains("やっぱり電話したいです"),
        "the new message is shown"
    );
    assert_eq!(b.value_of("返信"), "お返事です。", "what was typed is kept");
    for width in [1280, 390] {
        b.set_width(width);
        b.screenshot("desk-ticket-collision-noscript");
    }
    b.set_width(1280);
    b.press("送信");
    assert!(
        b.text().contains("返信を送信しました"),
        "sent once the new message was seen"
    );
}
