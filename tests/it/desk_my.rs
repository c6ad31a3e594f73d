//! The staff side of the consulter's page (issue 15, point 5): the ticket shows that the
//! consulter reads on the page and whether the latest reply was read, never the passphrase;
//! a supervisor ends page access, after which the passphrase opens nothing and replies go by
//! mail again (a notice still, for one who asked for notices only).

use serde_json::json;

use crate::both_backends;
use crate::desk::{SUPERVISOR, look_at, sign_in};
use crate::my::{
    MOTHER, PASSPHRASE, REPLY, app, assert_notice_only, consult, mails_to, open_page, page_token,
    shown,
};
use crate::support::Backend;
use crate::support::browser::browser;
use crate::support::smtp_server::TestSmtpServer;

both_backends!(
    the_ticket_shows_page_reading_and_a_supervisor_ends_it,
    after_the_end_a_notice_only_consulter_still_gets_notices,
);

/// What the ご本人用ページ panel says for one line.
fn fact(b: &crate::support::browser::Browser, term: &str) -> String {
    b.js_value(&format!(
        "const dt = [...document.querySelectorAll('.facts dt')].find(d => d.innerText.trim() === '{term}');\
         return dt ? dt.nextElementSibling.innerText.trim() : null;"
    ))
    .as_str()
    .unwrap_or_else(|| panic!("no 「{term}」 shown"))
    .to_string()
}

fn the_ticket_shows_page_reading_and_a_supervisor_ends_it(backend: Backend) {
    let smtp = TestSmtpServer::start();
    let app = app(backend, Some(&smtp));
    app.add_staff(SUPERVISOR, "supervisor");
    let s = app.login(SUPERVISOR, crate::support::STAFF_PASSWORD).json()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let c = app.staff("c@center.example", "counsellor");
    let (reference, id) = consult(&app, MOTHER, json!({"passphrase": PASSPHRASE}));
    let ticket = format!("/api/v1/tickets/{id}");
    let detail = || app.call("GET", &ticket, Some(&c.token), None).json();
    let t = detail();
    assert_eq!(t["my_page"]["reads_on_page"], true);
    assert_eq!(t["my_page"]["notice_only"], false);
    assert_eq!(t["my_page"]["reads"], 0);
    assert_eq!(
        t["my_page"]["latest_reply_read"],
        serde_json::Value::Null,
        "no reply yet"
    );

    let r = app.call(
        "POST",
        &format!("{ticket}/replies"),
        Some(&c.token),
        Some(&json!({"body": REPLY})),
    );
    assert_eq!(r.status, 202);
    // Not notice-only: the reply mail carries its text, as it always did.
    let (subject, text) = shown(&mails_to(&smtp, MOTHER, 2)[1]);
    assert!(subject.starts_with("Re: "), "{subject}");
    assert!(text.contains(REPLY));
    assert_eq!(
        detail()["my_page"]["latest_reply_read"],
        false,
        "not read yet"
    );
    let token = page_token(&app, &reference);
    assert_eq!(
        app.call("GET", "/api/v1/my/consultation", Some(&token), None)
            .status,
        200
    );
    let t = detail();
    assert_eq!(t["my_page"]["latest_reply_read"], true);
    assert_eq!(t["my_page"]["reads"], 1);
    assert!(t["my_page"]["last_read_at"].is_string());
    assert!(!t.to_string().contains(PASSPHRASE) && !t.to_string().contains("argon2"));

    // Counsellors may not end it.
    let r = app.call(
        "DELETE",
        &format!("{ticket}/my-access"),
        Some(&c.token),
        None,
    );
    assert_eq!(r.status, 403, "{}", r.body);
    let b = browser();
    b.goto(&app.url(&format!("/desk/tickets/{id}")));
    sign_in(&b, "c@center.example");
    assert_eq!(
        fact(&b, "受け取りかた"),
        "ページで読んでいます（合言葉あり）"
    );
    assert_eq!(fact(&b, "最新の返信"), "ページで読みました");
    assert!(
        !b.text().contains("ページの利用を終了する"),
        "no button for counsellors"
    );
    drop(b);

    let mut b = browser();
    b.goto(&app.url(&format!("/desk/tickets/{id}")));
    sign_in(&b, SUPERVISOR);
    assert_eq!(fact(&b, "メール"), "本文も送ります");
    assert!(fact(&b, "最後に読んだ日時").contains("（1回）"));
    std::fs::create_dir_all(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/target/screenshots/mypage"
    ))
    .unwrap();
    look_at(&mut b, "mypage/desk-ticket");
    b.press("ページの利用を終了する");
    assert!(
        b.text().contains("ご本人用ページの利用を終了しました"),
        "{}",
        b.text()
    );
    assert!(fact(&b, "受け取りかた").starts_with("ページの利用は終了"));
    look_at(&mut b, "mypage/desk-ticket-ended");

    // The passphrase opens nothing now, and her page's sign-in is gone.
    assert_eq!(
        app.call("GET", "/api/v1/my/consultation", Some(&token), None)
            .status,
        401
    );
    assert_eq!(open_page(&app, &reference, PASSPHRASE).status, 401);
    let t = detail();
    assert_eq!(t["my_page"]["reads_on_page"], false);
    assert!(t["my_page"]["ended_at"].is_string());
    let r = app.call("DELETE", &format!("{ticket}/my-access"), Some(&s), None);
    assert_eq!(r.status, 204, "ending again changes nothing");
    let ends = {
        let mut conn = app.conn();
        madoguchi::db::audit::for_ticket(&mut conn, madoguchi::domain::vocabulary::TicketId(id))
            .unwrap()
            .into_iter()
            .filter(|a| a.action == "ticket.my_access.end")
            .count()
    };
    assert_eq!(ends, 2, "each end is audited");
    let (plain, plain_id) = consult(&app, "other@example.jp", json!({}));
    let r = app.call(
        "DELETE",
        &format!("/api/v1/tickets/{plain_id}/my-access"),
        Some(&s),
        None,
    );
    assert_eq!(r.status, 404, "{plain} never had page access");

    // Replies go by mail, with their text.
    let r = app.call(
        "POST",
        &format!("{ticket}/replies"),
        Some(&c.token),
        Some(&json!({"body": "二度目のお返事です。"})),
    );
    assert_eq!(r.status, 202);
    assert!(
        shown(&mails_to(&smtp, MOTHER, 3)[2])
            .1
            .contains("二度目のお返事です。")
    );
}

fn after_the_end_a_notice_only_consulter_still_gets_notices(backend: Backend) {
    let smtp = TestSmtpServer::start();
    let app = app(backend, Some(&smtp));
    let s = app.staff(SUPERVISOR, "supervisor");
    let (reference, id) = consult(
        &app,
        MOTHER,
        json!({"passphrase": PASSPHRASE, "notice_only": true}),
    );
    let r = app.call(
        "DELETE",
        &format!("/api/v1/tickets/{id}/my-access"),
        Some(&s.token),
        None,
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let r = app.call(
        "POST",
        &format!("/api/v1/tickets/{id}/replies"),
        Some(&s.token),
        Some(&json!({"body": REPLY})),
    );
    assert_eq!(r.status, 202);
    let mails = mails_to(&smtp, MOTHER, 2);
    assert_notice_only(&mails[1], &reference, "a reply after the end");
    assert!(
        shown(&mails[1]).1.contains("お電話ください"),
        "a way to reach the centre"
    );
}
