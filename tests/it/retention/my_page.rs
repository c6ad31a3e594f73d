//! A consulter's page (/my) on a ticket that retention erases: the passphrase opens nothing
//! any more, and the page's sign-ins end.

use chrono::{Duration as ChronoDuration, Utc};
use madoguchi::desk::retention;
use serde_json::json;

use super::{SUPERVISOR, app, patch, token};
use crate::both_backends;
use crate::support::Backend;

both_backends!(an_erased_consultation_can_no_longer_be_opened_on_its_page);

const PASSPHRASE: &str = "しろいくもとあおいうみ";

fn an_erased_consultation_can_no_longer_be_opened_on_its_page(backend: Backend) {
    let app = app(backend, 5);
    app.time.set(Utc::now() - ChronoDuration::days(6 * 366));
    app.add_staff(SUPERVISOR, "supervisor");
    let s = token(&app, SUPERVISOR);
    let mut c = crate::support::consultation("haha.page@example.jp");
    c["passphrase"] = json!(PASSPHRASE);
    let r = app.post_json("/api/v1/consultations", &c);
    assert_eq!(r.status, 201, "{}", r.body);
    let reference = r.json()["reference"].as_str().unwrap().to_string();
    let open = || {
        app.post_json(
            "/api/v1/my/session",
            &json!({"reference": reference, "passphrase": PASSPHRASE}),
        )
    };
    let page = open();
    assert_eq!(page.status, 200, "{}", page.body);
    let page_token = page.json()["token"].as_str().unwrap().to_string();
    let id = {
        let mut conn = app.conn();
        madoguchi::db::tickets::by_reference(&mut conn, &reference)
            .unwrap()
            .unwrap()
            .id
            .0
    };
    assert_eq!(patch(&app, &s, id, json!({"status": "closed"})), 204);

    app.time.set(Utc::now());
    let counts = retention::run(&app.state, &mut app.conn(), &mut |_, _| {})
        .unwrap()
        .expect("retention is on");
    assert_eq!(counts.tickets, 1, "{counts:?}");

    // The passphrase opens nothing, and answers as a wrong one does.
    let again = open();
    assert_eq!(again.status, 401, "{}", again.body);
    // The page signed in before the erasure shows nothing any more.
    let read = app.call("GET", "/api/v1/my/consultation", Some(&page_token), None);
    assert_eq!(read.status, 401, "{}", read.body);
    assert!(!read.body.contains("example.jp"), "{}", read.body);
}
