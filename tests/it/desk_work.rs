//! The console's help with writing (issue 12, points 4 and 5): drafts kept on the server, by
//! button without script and by themselves with it; text modules put into the reply.

use std::time::Duration;

use crate::both_backends;
use crate::desk::{SUPERVISOR, app_with, look_at, sign_in, ticket_with};
use crate::support::Backend;
use crate::support::browser::browser;

both_backends!(
    a_draft_is_kept_by_its_button_without_script_and_gone_once_sent,
    with_script_the_draft_saves_itself_while_typing,
);

fn kept_draft(app: &crate::support::TestApp, ticket: i64) -> Option<String> {
    use diesel::prelude::*;
    use madoguchi::db::schema::drafts;
    let mut conn = app.conn();
    drafts::table
        .filter(drafts::ticket_id.eq(ticket))
        .select(drafts::body_text)
        .first(&mut *conn)
        .optional()
        .unwrap()
}

fn a_draft_is_kept_by_its_button_without_script_and_gone_once_sent(backend: Backend) {
    let app = app_with(backend, None);
    app.add_staff(SUPERVISOR, "supervisor");
    let (id, _) = ticket_with(&app, "a@example.jp", "相談", "部屋から出られません。");
    let mut b = browser();
    b.without_script();
    b.goto(&app.url(&format!("/desk/tickets/{id}")));
    sign_in(&b, SUPERVISOR);
    b.type_into("返信", "まだ書きかけです。");
    b.press("下書き保存");
    assert_eq!(b.path(), format!("/desk/tickets/{id}?done=draft"));
    assert!(b.text().contains("下書きを保存しました"));
    assert_eq!(b.value_of("返信"), "まだ書きかけです。", "shown pre-filled");
    b.goto(&app.url("/desk"));
    b.goto(&app.url(&format!("/desk/tickets/{id}")));
    assert_eq!(
        b.value_of("返信"),
        "まだ書きかけです。",
        "kept on the server"
    );
    assert!(
        b.text().contains("下書きは"),
        "the page says when it was kept"
    );
    for width in [1280, 390] {
        b.set_width(width);
        b.screenshot("desk-ticket-draft-noscript");
    }
    b.set_width(1280);
    b.type_into("返信", "書き終えました。");
    b.press("送信");
    assert!(b.text().contains("返信を送信しました"));
    assert_eq!(b.value_of("返信"), "", "the sent reply's draft is gone");
    assert_eq!(kept_draft(&app, id), None);
}

fn with_script_the_draft_saves_itself_while_typing(backend: Backend) {
    let app = app_with(backend, None);
    app.add_staff(SUPERVISOR, "supervisor");
    let (id, _) = ticket_with(&app, "a@example.jp", "相談", "部屋から出られません。");
    let mut b = browser();
    b.goto(&app.url(&format!("/desk/tickets/{id}")));
    sign_in(&b, SUPERVISOR);
    b.type_into("返信", "少しずつ書いています。");
    let saved = crate::support::eventually(Duration::from_secs(12), || {
        kept_draft(&app, id).filter(|d| d == "少しずつ書いています。")
    });
    assert!(
        saved.is_some(),
        "no button pressed, and the draft is on the server"
    );
    let said = crate::support::eventually(Duration::from_secs(5), || {
        b.text()
            .contains("下書きを自動で保存しました")
            .then_some(())
    });
    assert!(said.is_some(), "the page says so, politely");
    look_at(&mut b, "desk-ticket-draft");
    b.goto(&app.url(&format!("/desk/tickets/{id}")));
    assert_eq!(b.value_of("返信"), "少しずつ書いています。");
}
