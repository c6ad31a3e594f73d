//! The console's help with writing (issue 12, points 4 and 5): drafts kept on the server, by
//! button without script and by themselves with it; text modules put into the reply.

use std::time::Duration;

use serde_json::json;

use crate::both_backends;
use crate::desk::{SUPERVISOR, app_with, look_at, sign_in, ticket_with};
use crate::support::Backend;
use crate::support::browser::browser;

both_backends!(
    a_draft_is_kept_by_its_button_without_script_and_gone_once_sent,
    with_script_the_draft_saves_itself_while_typing,
    supervisors_keep_text_modules_over_the_api,
    text_modules_go_into_a_reply_filled_in_with_and_without_script,
    the_console_works_by_keyboard_with_the_focus_shown,
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

fn supervisors_keep_text_modules_over_the_api(backend: Backend) {
    let app = app_with(backend, None);
    let s = app.staff(SUPERVISOR, "supervisor");
    let c = app.staff("c@center.example", "counsellor");
    let module = json!({"title": "あいさつ", "body": "{{consulter_name}}様"});
    let r = app.call(
        "POST",
        "/api/v1/text-modules",
        Some(&c.token),
        Some(&module),
    );
    assert_eq!(r.status, 403, "counsellors read, supervisors keep");
    let r = app.call(
        "POST",
        "/api/v1/text-modules",
        Some(&s.token),
        Some(&json!({"title": " ", "body": "x"})),
    );
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["error"]["fields"]["title"], "required");
    let r = app.call(
        "POST",
        "/api/v1/text-modules",
        Some(&s.token),
        Some(&module),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.json()["id"].as_i64().expect("its id");
    let path = format!("/api/v1/text-modules/{id}");
    let r = app.call("PATCH", &path, Some(&c.token), Some(&json!({"title": "x"})));
    assert_eq!(r.status, 403);
    let r = app.call(
        "PATCH",
        &path,
        Some(&s.token),
        Some(&json!({"title": "はじめのあいさつ"})),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let list = app
        .call("GET", "/api/v1/text-modules", Some(&c.token), None)
        .json();
    assert_eq!(
        list["items"],
        json!([{"id": id, "title": "はじめのあいさつ", "body": "{{consulter_name}}様"}])
    );
    let delete = |token: &str| {
        app.http
            .delete(app.url(&path))
            .header("authorization", &format!("Bearer {token}"))
            .call()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(delete(&c.token), 403);
    assert_eq!(delete(&s.token), 204);
    assert_eq!(delete(&s.token), 404);
    let list = app
        .call("GET", "/api/v1/text-modules", Some(&c.token), None)
        .json();
    assert_eq!(list["items"], json!([]));
    assert_eq!(
        app.call("GET", "/api/v1/text-modules", None, None).status,
        401
    );
}

fn text_modules_go_into_a_reply_filled_in_with_and_without_script(backend: Backend) {
    let app = app_with(backend, None);
    app.add_staff(SUPERVISOR, "supervisor");
    let (id, _) = ticket_with(&app, "a@example.jp", "相談", "部屋から出られません。");
    let centre = app.state.settings.center.name.clone();
    let mut b = browser();
    b.without_script();
    b.goto(&app.url("/desk/text-modules"));
    sign_in(&b, SUPERVISOR);
    assert_eq!(b.path(), "/desk/text-modules");
    b.press("追加");
    assert!(
        b.text().contains("タイトル：入力してください"),
        "errors summarised at the top"
    );
    b.fill("タイトル", "はじめのあいさつ");
    b.fill("本文", "{{consulter_name}}様\n{{center_name}}です。");
    b.press("追加");
    assert!(b.text().contains("定型文を追加しました"));
    b.fill("タイトル", "電話のご案内");
    b.fill("本文", "お電話でもどうぞ。{{center_phone}}");
    b.press("追加");
    for width in [1280, 390] {
        b.set_width(width);
        b.screenshot("desk-text-modules-noscript");
    }
    b.set_width(1280);

    b.goto(&app.url(&format!("/desk/tickets/{id}")));
    b.type_into("返信", "お便りありがとうございます。");
    b.select("定型文", "はじめのあいさつ");
    b.press("挿入");
    assert_eq!(
        b.value_of("返信"),
        format!("お便りありがとうございます。\n\n山田 花子様\n{centre}です。"),
        "the consulter's name and the centre's filled in, after what was written"
    );
    b.select("定型文", "電話のご案内");
    b.press("挿入");
    assert!(b.value_of("返信").ends_with(&format!(
        "です。\n\nお電話でもどうぞ。{}",
        app.state.settings.center.phone
    )));
    drop(b);

    let mut b = browser();
    b.goto(&app.url(&format!("/desk/tickets/{id}")));
    sign_in(&b, SUPERVISOR);
    b.fill("返信", "はい。");
    b.select("定型文", "はじめのあいさつ");
    b.js_value("document.querySelector('button[value=insert]').click(); return true;");
    assert_eq!(
        b.value_of("返信"),
        format!("はい。\n\n山田 花子様\n{centre}です。"),
        "put in without a round trip"
    );
    assert_eq!(
        b.path(),
        format!("/desk/tickets/{id}"),
        "no page was loaded"
    );
    look_at(&mut b, "desk-ticket-modules");
    b.goto(&app.url("/desk/text-modules"));
    look_at(&mut b, "desk-text-modules");
}

/// The focused control's outline as drawn: style and width.
fn focus_ring(b: &crate::support::browser::Browser) -> (String, String) {
    let v = b.js_value(
        "const s = getComputedStyle(document.activeElement); return [s.outlineStyle, s.outlineWidth];",
    );
    (
        v[0].as_str().unwrap_or("").into(),
        v[1].as_str().unwrap_or("").into(),
    )
}

fn the_console_works_by_keyboard_with_the_focus_shown(backend: Backend) {
    let app = app_with(backend, None);
    app.add_staff(SUPERVISOR, "supervisor");
    let (id, _) = ticket_with(&app, "a@example.jp", "相談", "部屋から出られません。");
    let mut b = browser();
    b.goto(&app.url(&format!("/desk/tickets/{id}")));
    b.press_tab_to("メールアドレス");
    assert_eq!(
        focus_ring(&b),
        ("solid".into(), "3px".into()),
        "the focus is shown"
    );
    b.type_into("メールアドレス", SUPERVISOR);
    b.press_tab_to("パスワード");
    // Enter in the password field sends the form, as a keyboard user signs in.
    b.type_into(
        "パスワード",
        &format!("{}\u{E007}", crate::support::STAFF_PASSWORD),
    );
    let there = crate::support::eventually(Duration::from_secs(10), || {
        (b.path() == format!("/desk/tickets/{id}")).then_some(())
    });
    assert!(there.is_some(), "signed in by keyboard: {}", b.path());
    for label in ["返信", "メモ", "担当者", "状態を選ぶ"] {
        b.press_tab_to(label);
        assert_eq!(focus_ring(&b).0, "solid", "focus shown on 「{label}」");
    }
    b.goto(&app.url("/desk/tickets/999999"));
    assert!(b.text().contains("見つかりませんでした"));
    b.follow("相談一覧に戻る");
    assert_eq!(b.path(), "/desk");
    b.goto(&app.url("/desk/tickets/999999"));
    look_at(&mut b, "desk-not-found");

    b.goto(&app.url(&format!("/desk/tickets/{id}")));
    app.time.advance(chrono::Duration::hours(13));
    b.type_into("返信", "長く考えて書いた返信です。");
    let warned = crate::support::eventually(Duration::from_secs(12), || {
        b.text()
            .contains("下書きを保存できませんでした")
            .then_some(())
    });
    assert!(
        warned.is_some(),
        "the script never claims a save the server refused"
    );
    b.press("送信");
    assert!(b.text().contains("まだ何も送っていません"));
    assert_eq!(b.value_of("書いた内容"), "長く考えて書いた返信です。");
    look_at(&mut b, "desk-signed-out-while-writing");
    b.follow("もう一度ログインする");
    sign_in(&b, SUPERVISOR);
    assert_eq!(
        b.path(),
        format!("/desk/tickets/{id}"),
        "back at the ticket"
    );
}
