//! An erased consultation in the staff console: the page says what was erased and when,
//! shows nothing personal, and offers no reply (there is no one to answer).

use chrono::{Duration as ChronoDuration, Utc};
use madoguchi::desk::retention;
use serde_json::json;

use super::{PERSONAL, SUPERVISOR, app, file, outbox_empty, patch, token};
use crate::both_backends;
use crate::desk::{look_at, sign_in};
use crate::support::Backend;
use crate::support::browser::browser;

both_backends!(an_erased_ticket_page_shows_nothing_personal);

fn an_erased_ticket_page_shows_nothing_personal(backend: Backend) {
    let app = app(backend, 5);
    app.add_staff(SUPERVISOR, "supervisor");
    app.time.set(Utc::now() - ChronoDuration::days(6 * 365));
    let s = token(&app, SUPERVISOR);
    let erased = file(
        &app,
        "Haha.Yamada@example.jp",
        "息子のことで相談です",
        "息子が部屋から出ません。",
    );
    let held = file(
        &app,
        "chichi@example.jp",
        "息子のこと",
        "息子が部屋から出ません。",
    );
    for id in [erased, held] {
        assert_eq!(patch(&app, &s, id, json!({"status": "closed"})), 204);
    }
    assert_eq!(patch(&app, &s, held, json!({"legal_hold": true})), 204);
    outbox_empty(&app);
    app.time.set(Utc::now());
    let mut conn = app.conn();
    retention::run(&app.state, &mut conn, &mut |_, _| {}).unwrap();
    drop(conn);

    std::fs::create_dir_all(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/target/screenshots/retention"
    ))
    .unwrap();
    let mut b = browser();
    b.goto(&app.url(&format!("/desk/tickets/{erased}")));
    sign_in(&b, SUPERVISOR);
    let shown = b.text();
    assert!(shown.contains("個人情報"), "{shown}");
    assert!(shown.contains("消去しました"), "{shown}");
    for word in PERSONAL {
        assert!(!shown.contains(word), "{word} is still shown: {shown}");
    }
    assert!(!shown.contains("返信を書く"), "no reply to no one: {shown}");
    assert!(!shown.contains("内部メモ"), "nothing new to keep: {shown}");
    assert!(shown.contains("本文は消去しました"), "{shown}");
    look_at(&mut b, "retention/desk-ticket-erased");

    b.goto(&app.url(&format!("/desk/tickets/{held}")));
    let shown = b.text();
    assert!(shown.contains("法的保存"), "{shown}");
    assert!(
        shown.contains("chichi@example.jp") && shown.contains("返信を書く"),
        "{shown}"
    );
    look_at(&mut b, "retention/desk-ticket-held");
}
