//! The ticket page's other forms (issue 12, points 3 and 8): the urgent decision with its
//! reason, assignment, status; and every showing of a ticket is a read in the audit.

use crate::both_backends;
use crate::desk::{SUPERVISOR, URGENT_TEXT, app_with, look_at, sign_in, ticket_with};
use crate::support::Backend;
use crate::support::browser::{Browser, browser};

both_backends!(
    urgency_is_decided_with_a_reason_and_the_ticket_assigned_and_closed,
    every_page_that_shows_a_ticket_is_an_audited_read,
);

/// What the 相談の状況 panel says for one line, e.g. 「緊急度」.
fn fact(b: &Browser, term: &str) -> String {
    let v = b.js_value(&format!(
        "const dt = [...document.querySelectorAll('.facts dt')].find(d => d.innerText.trim() === '{term}');\
         return dt ? dt.nextElementSibling.innerText.trim() : null;"
    ));
    v.as_str()
        .unwrap_or_else(|| panic!("no 「{term}」 shown"))
        .to_string()
}

fn urgency_is_decided_with_a_reason_and_the_ticket_assigned_and_closed(backend: Backend) {
    let app = app_with(backend, None);
    app.add_staff(SUPERVISOR, "supervisor");
    let counsellor = app.add_staff("c@center.example", "counsellor");
    let (id, _) = ticket_with(&app, "a@example.jp", "つらい", URGENT_TEXT);
    let mut b = browser();
    b.without_script();
    b.goto(&app.url(&format!("/desk/tickets/{id}")));
    sign_in(&b, SUPERVISOR);
    assert_eq!(fact(&b, "緊急度"), "緊急");
    assert!(
        b.text().contains("（区分：希死念慮）"),
        "why, in words: {}",
        b.text()
    );
    b.press("緊急と確認する");
    assert!(
        b.text().contains("判断の理由：入力してください"),
        "no reason: summarised at the top"
    );
    assert!(b.text().contains("入力してください"));
    for width in [1280, 390] {
        b.set_width(width);
        b.screenshot("desk-ticket-triage-error-noscript");
    }
    b.set_width(1280);
    b.type_into("判断の理由", "本人に電話で確認し、安全を確かめた。");
    b.press("緊急を解除する");
    assert!(b.text().contains("緊急の判断を記録しました"));
    assert_eq!(fact(&b, "緊急度"), "通常", "cleared");

    b.select("担当者", "テスト 職員");
    b.press("担当を変更");
    assert!(b.text().contains("担当を変更しました"));
    let assignee: Option<i64> = {
        use diesel::prelude::*;
        use madoguchi::db::schema::tickets;
        let mut conn = app.conn();
        tickets::table
            .find(id)
            .select(tickets::assignee_id)
            .first::<Option<madoguchi::domain::vocabulary::StaffId>>(&mut *conn)
            .unwrap()
            .map(|s| s.0)
    };
    assert!(
        assignee.is_some_and(|a| a != counsellor),
        "the supervisor took it"
    );
    b.select("状態を選ぶ", "終了");
    b.press("状態を変更");
    assert!(b.text().contains("状態を変更しました"));
    assert_eq!(fact(&b, "状態"), "終了");
    assert_eq!(
        fact(&b, "期限"),
        "返信済み・期限なし",
        "closing stops the clock"
    );
    drop(b);

    // A counsellor is offered only themselves (or nobody), as the API allows.
    let mut b = browser();
    b.goto(&app.url(&format!("/desk/tickets/{id}")));
    sign_in(&b, "c@center.example");
    let offered =
        b.js_value("return [...document.getElementById('assignee').options].map(o => o.value);");
    assert_eq!(offered, serde_json::json!(["", counsellor.to_string()]));
    look_at(&mut b, "desk-ticket-closed");
}

fn reads_of(app: &crate::support::TestApp, id: i64, action: &str) -> usize {
    let mut conn = app.conn();
    madoguchi::db::audit::for_ticket(&mut conn, madoguchi::domain::vocabulary::TicketId(id))
        .unwrap()
        .iter()
        .filter(|r| r.action == action)
        .count()
}

fn every_page_that_shows_a_ticket_is_an_audited_read(backend: Backend) {
    let app = app_with(backend, None);
    app.add_staff(SUPERVISOR, "supervisor");
    let (id, reference) = ticket_with(&app, "a@example.jp", "相談", "部屋から出られません。");
    let b = browser();
    b.goto(&app.url(&format!("/desk/tickets/{id}")));
    sign_in(&b, SUPERVISOR);
    assert_eq!(
        reads_of(&app, id, "ticket.read"),
        1,
        "the page shown after sign-in"
    );
    b.press("下書き保存");
    assert_eq!(
        reads_of(&app, id, "ticket.read"),
        2,
        "shown again after a form"
    );
    b.press("送信");
    assert!(
        b.text().contains("入力してください"),
        "an empty reply is not sent"
    );
    assert_eq!(
        reads_of(&app, id, "ticket.read"),
        3,
        "the page with the error is a read too"
    );
    b.goto(&app.url(&format!("/desk?reference={}", reference.to_lowercase())));
    assert_eq!(
        reads_of(&app, id, "queue.search"),
        1,
        "a search that found it"
    );
    let queue_reads = || {
        use diesel::prelude::*;
        use madoguchi::db::schema::audit_events;
        let mut conn = app.conn();
        audit_events::table
            .filter(audit_events::action.eq("queue.read"))
            .count()
            .get_result::<i64>(&mut *conn)
            .unwrap()
    };
    assert_eq!(queue_reads(), 0, "no queue page was shown yet");
    b.goto(&app.url("/desk"));
    assert_eq!(queue_reads(), 1, "the queue page is a read of the queue");
}
