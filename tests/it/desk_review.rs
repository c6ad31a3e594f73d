//! 承認待ち in the browser (issue 13, point 3, and its "done when"): a supervisor turns on
//! review for a counsellor, the counsellor's reply waits, the supervisor edits and approves it
//! and the consulter receives the edited text; a returned reply comes back to its author with
//! its comment, is rewritten and goes into review again. axe-core on every new page.

use std::time::Duration;

use serde_json::json;

use crate::both_backends;
use crate::desk::{SUPERVISOR, app_with, sign_in, ticket_with};
use crate::support::browser::{Browser, browser};
use crate::support::smtp_server::TestSmtpServer;
use crate::support::{Backend, TestApp};

both_backends!(
    a_supervisor_edits_and_approves_a_counsellors_reply_in_the_browser,
    a_returned_reply_comes_back_to_its_author_with_the_comment,
);

const COUNSELLOR: &str = "c@center.example";

/// Screenshots at both widths (under target/screenshots/review/) and axe-core at both.
fn look_at(b: &mut Browser, name: &str) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots/review");
    std::fs::create_dir_all(dir).expect("target/screenshots/review");
    crate::desk::look_at(b, &format!("review/{name}"));
}

fn reviewed_counsellor(app: &TestApp) -> (String, i64) {
    let s = app.staff(SUPERVISOR, "supervisor");
    let c = app.staff(COUNSELLOR, "counsellor");
    let r = app.call(
        "PATCH",
        &format!("/api/v1/staff/{}", c.id),
        Some(&s.token),
        Some(&json!({"review_replies": true})),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    (s.token, c.id)
}

fn sign_out_and_in_as(b: &Browser, app: &TestApp, email: &str, path: &str) {
    b.press("ログアウト");
    b.goto(&app.url(path));
    sign_in(b, email);
    assert_eq!(b.path(), path, "lands on the page asked for");
}

fn a_supervisor_edits_and_approves_a_counsellors_reply_in_the_browser(backend: Backend) {
    let smtp = TestSmtpServer::start();
    let app = app_with(backend, Some(&smtp));
    let token = app.staff(SUPERVISOR, "supervisor").token;
    app.staff(COUNSELLOR, "counsellor");
    let (id, reference) = ticket_with(
        &app,
        "hanako@example.jp",
        "息子のことで",
        "息子が3年ほど部屋から出てきません。",
    );
    smtp.wait_for(1, Duration::from_secs(30));

    // The supervisor turns review on for the counsellor, on the 承認待ち page.
    let mut b = browser();
    b.goto(&app.url("/desk/reviews"));
    sign_in(&b, SUPERVISOR);
    assert!(
        b.text().contains("テスト 職員：承認なしで送る"),
        "{}",
        b.text()
    );
    b.press("テスト 職員 さんの返信を承認制にする");
    assert_eq!(b.path(), "/desk/reviews?done=policy_on");
    assert!(b.text().contains("テスト 職員：承認制"), "{}", b.text());
    let staff = app.call("GET", "/api/v1/staff", Some(&token), None).json();
    assert_eq!(staff[1]["review_replies"], true, "{staff}");
    look_at(&mut b, "desk-reviews-policy");
    b.press("ログアウト");

    b.goto(&app.url(&format!("/desk/tickets/{id}")));
    sign_in(&b, COUNSELLOR);
    let written = "ご相談ありがとうございます。息子さんのこと、ご心配ですね。";
    b.type_into("返信", written);
    b.press("送信");
    assert_eq!(b.path(), format!("/desk/tickets/{id}?done=held"));
    let text = b.text();
    assert!(text.contains("返信は承認待ちになりました"), "{text}");
    assert!(text.contains("の返信（承認待ち）"), "{text}");
    assert!(text.contains("承認待ち（まだ送っていません）"), "{text}");
    assert_eq!(b.value_of("返信"), "", "the held reply left the form");
    look_at(&mut b, "desk-ticket-held");
    b.goto(&app.url("/desk"));
    let badge = b.js_value(
        "const t = document.querySelector('table.queue .tag-review'); return t ? t.textContent : null;",
    );
    assert_eq!(
        badge,
        json!("承認待ち"),
        "the queue shows the ticket waiting"
    );
    look_at(&mut b, "desk-queue-held");
    b.goto(&app.url("/desk/reviews"));
    let mine = b.text();
    assert!(
        mine.contains(written) && mine.contains(&reference),
        "{mine}"
    );
    look_at(&mut b, "desk-reviews-counsellor");
    b.goto(&app.url(&format!("/desk/reviews/{}", held_id(&app, &token))));
    assert!(
        b.text().contains("スーパーバイザーだけ"),
        "a counsellor cannot open the review page"
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(smtp.received().len(), 1, "nothing was mailed");

    b.goto(&app.url("/desk"));
    sign_out_and_in_as(&b, &app, SUPERVISOR, "/desk/reviews");
    let list = b.text();
    assert!(list.contains(written), "{list}");
    assert!(list.contains("テスト 職員"), "who wrote it");
    look_at(&mut b, "desk-reviews");
    b.follow(&format!("やりとりと並べて読み、承認する（{reference}）"));
    let page = b.text();
    assert!(
        page.contains("息子が3年ほど部屋から出てきません。"),
        "the thread beside it"
    );
    assert_eq!(b.value_of("承認する文面"), written);
    look_at(&mut b, "desk-review");
    let edited = "ご相談ありがとうございます。息子さんのことを、一緒に考えさせてください。";
    b.fill("承認する文面", edited);
    b.press("承認して送信");
    assert_eq!(b.path(), "/desk/reviews?done=approve");
    let done = b.text();
    assert!(done.contains("返信を承認しました"), "{done}");
    assert!(done.contains("承認を待っている返信はありません"), "{done}");
    look_at(&mut b, "desk-reviews-empty");

    let mails = smtp.wait_for(2, Duration::from_secs(30));
    assert_eq!(mails.len(), 2);
    let got = mail_parser::MessageParser::default()
        .parse(&mails[1].data)
        .unwrap()
        .body_text(0)
        .unwrap()
        .to_string();
    assert!(
        got.contains(edited),
        "the consulter receives the edited text: {got}"
    );
    assert!(!got.contains("ご心配ですね"), "{got}");
    assert_eq!(mails[1].to, vec!["hanako@example.jp".to_string()]);
    b.goto(&app.url(&format!("/desk/tickets/{id}")));
    let t = b.text();
    assert!(t.contains(edited) && t.contains("相談者の返事待ち"), "{t}");
}

fn held_id(app: &TestApp, supervisor_token: &str) -> i64 {
    let items = app
        .call("GET", "/api/v1/reviews", Some(supervisor_token), None)
        .json()["items"]
        .clone();
    items[0]["message_id"].as_i64().expect("a reply waiting")
}

fn a_returned_reply_comes_back_to_its_author_with_the_comment(backend: Backend) {
    let smtp = TestSmtpServer::start();
    let app = app_with(backend, Some(&smtp));
    let (token, _) = reviewed_counsellor(&app);
    let (id, reference) = ticket_with(&app, "taro@example.jp", "相談", "外に出るのがこわいです。");
    let c = app.login(COUNSELLOR, crate::support::STAFF_PASSWORD).json()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let first = "がんばって外に出てみましょう。";
    let r = app.call(
        "POST",
        &format!("/api/v1/tickets/{id}/replies"),
        Some(&c),
        Some(&json!({"body": first, "close": true})),
    );
    assert_eq!(r.json()["delivery"]["status"], "awaiting_review");
    let message = held_id(&app, &token);

    let mut b = browser();
    b.goto(&app.url(&format!("/desk/reviews/{message}")));
    sign_in(&b, SUPERVISOR);
    assert!(
        b.text().contains("相談を終了にします"),
        "the author's choice is kept"
    );
    b.press("差し戻す");
    assert!(
        b.text().contains("コメント：入力してください"),
        "a comment is needed"
    );
    look_at(&mut b, "desk-review-error");
    let comment = "「がんばって」は避けて、こわさを受け止める言葉から始めてください。";
    b.fill("コメント", comment);
    b.press("差し戻す");
    assert_eq!(b.path(), "/desk/reviews?done=return");
    assert!(b.text().contains("返信を差し戻しました"));

    sign_out_and_in_as(&b, &app, COUNSELLOR, "/desk/reviews");
    let mine = b.text();
    assert!(
        mine.contains(comment) && mine.contains("差し戻し"),
        "{mine}"
    );
    look_at(&mut b, "desk-reviews-returned");
    b.follow(&format!("相談のページで書き直す（{reference}）"));
    let page = b.text();
    assert!(
        page.contains(comment),
        "the comment on the ticket page: {page}"
    );
    assert!(page.contains("差し戻された返信が入っています"), "{page}");
    assert_eq!(
        b.value_of("返信"),
        first,
        "the returned text, to be rewritten"
    );
    look_at(&mut b, "desk-ticket-returned");
    let better =
        "外に出るのがこわいと感じていらっしゃるのですね。教えてくださってありがとうございます。";
    b.fill("返信", better);
    b.press("送信して終了");
    assert_eq!(b.path(), format!("/desk/tickets/{id}?done=held"));
    let items = app
        .call("GET", "/api/v1/reviews", Some(&token), None)
        .json()["items"]
        .clone();
    assert_eq!(items.as_array().unwrap().len(), 1, "{items}");
    assert_eq!(
        items[0]["message_id"], message,
        "the same reply, back in review"
    );
    assert_eq!(items[0]["body_text"], better);
    assert_eq!(items[0]["close"], true);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(smtp.received().len(), 1, "only the acknowledgement went");
}
