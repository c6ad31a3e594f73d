//! The scene the retention tests share: consultations of five years ago and one of last
//! year, and the reports whose figures must not move.

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use madoguchi::timesource::TimeSource;
use serde_json::{Value, json};

use super::{
    COUNSELLOR, FATHER, MOTHER, OTHER, SUPERVISOR, URGENT, file, get, outbox_empty, patch, reply,
    token,
};
use crate::support::TestApp;

/// The reports whose figures must not move, as JSON: SLA by month and by counsellor, overdue
/// now and at a time in the past (subjects set aside: they are personal and erased), urgent.
pub(super) fn figures(app: &TestApp, token: &str, long_ago: DateTime<Utc>) -> Vec<Value> {
    let from = (long_ago - ChronoDuration::days(40)).to_rfc3339();
    let to = (app.time.now() + ChronoDuration::days(1)).to_rfc3339();
    let q = |s: &str| s.replace('+', "%2B");
    let window = format!("from={}&to={}", q(&from), q(&to));
    let mut past = get(
        app,
        token,
        &format!(
            "/api/v1/reports/overdue?as_of={}",
            q(&(long_ago + ChronoDuration::days(13)).to_rfc3339())
        ),
    );
    for item in past["items"].as_array_mut().unwrap() {
        item.as_object_mut().unwrap().remove("subject");
    }
    vec![
        get(
            app,
            token,
            &format!("/api/v1/reports/sla?{window}&group_by=month"),
        ),
        get(
            app,
            token,
            &format!("/api/v1/reports/sla?{window}&group_by=counsellor"),
        ),
        get(app, token, "/api/v1/reports/overdue"),
        past,
        get(app, token, &format!("/api/v1/reports/urgent?{window}")),
        statistics(app, token, long_ago),
        statistics(app, token, app.time.now()),
    ]
}

/// A ward code of the built-in statistics file.
const WARD: &str = "chuo";

/// The city's figures for the fiscal year (April to March in Japan) that holds `at`.
fn statistics(app: &TestApp, token: &str, at: DateTime<Utc>) -> Value {
    use chrono::Datelike;
    let jst = at + ChronoDuration::hours(9);
    let year = if jst.month() >= 4 {
        jst.year()
    } else {
        jst.year() - 1
    };
    get(
        app,
        token,
        &format!("/api/v1/reports/statistics?fiscal_year={year}"),
    )
}

pub(super) struct Scene {
    /// Closed long ago: to erase.
    pub(super) answered: i64,
    pub(super) by_mail: i64,
    pub(super) urgent: i64,
    /// Closed long ago, but held.
    pub(super) held: i64,
    /// Never closed.
    pub(super) open: i64,
    /// Closed a year ago.
    pub(super) recent: i64,
    pub(super) long_ago: DateTime<Utc>,
}

/// Five years and two months ago: consultations by form and mail, answered, noted, flagged
/// urgent, left overdue, closed; one held; one closed only a year ago.
pub(super) fn scene(app: &TestApp) -> Scene {
    let now = Utc::now();
    let long_ago = now - ChronoDuration::days(5 * 365 + 60);
    app.time.set(long_ago);
    app.add_staff(SUPERVISOR, "supervisor");
    app.add_staff(COUNSELLOR, "counsellor");
    let s = token(app, SUPERVISOR);
    let c = token(app, COUNSELLOR);

    let answered = file(
        app,
        MOTHER,
        "息子のことで相談です",
        "息子が3年ほど部屋から出てきません。",
    );
    app.time.advance(ChronoDuration::days(2));
    reply(app, &c, answered, true);

    let raw = std::fs::read(format!(
        "{}/tests/data/mail/rfc2231-filename.eml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
    .iter()
    .map(|b| *b as char)
    .collect::<String>()
    .replace("kenji@example.org.invalid", FATHER)
    .into_bytes();
    let by_mail = {
        let mut conn = app.conn();
        madoguchi::intake::mail::take(&app.state, &mut conn, &raw, "test")
            .unwrap()
            .ticket_id()
            .unwrap()
            .0
    };
    let r = app.call(
        "POST",
        &format!("/api/v1/tickets/{by_mail}/notes"),
        Some(&c),
        Some(&json!({"body": "父親から。息子さんは部屋にこもりがち。"})),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    app.time.advance(ChronoDuration::days(12));
    // Answered late: a breached clock in the SLA report.
    reply(app, &c, by_mail, false);

    let urgent = file(
        app,
        URGENT,
        "もう限界です",
        "もう消えてしまいたい。死にたいです。息子のことも部屋のことも。",
    );
    app.time.advance(ChronoDuration::hours(1));
    reply(app, &c, urgent, false);

    let held = file(
        app,
        MOTHER,
        "続きの相談",
        "息子がまた部屋にこもっています。",
    );
    reply(app, &c, held, true);
    let open = file(app, OTHER, "はじめての相談", "息子が部屋から出ません。");
    outbox_empty(app);
    app.time.advance(ChronoDuration::days(3));
    for id in [by_mail, urgent] {
        assert_eq!(patch(app, &s, id, json!({"status": "closed"})), 204);
    }
    assert_eq!(patch(app, &s, held, json!({"legal_hold": true})), 204);
    // Case fields on a ticket to be erased: the city's figures keep them.
    let case = app.call(
        "PUT",
        &format!("/api/v1/tickets/{answered}/case"),
        Some(&s),
        Some(&json!({"writer": "mother", "ward": WARD})),
    );
    assert_eq!(case.status, 200, "{}", case.body);

    app.time.set(now - ChronoDuration::days(365));
    let recent = file(app, OTHER, "一年前の相談", "息子が部屋から出ません。");
    reply(app, &c, recent, true);
    outbox_empty(app);
    // Mail that could not be taken, long ago and lately.
    let mut conn = app.conn();
    for at in [long_ago, Utc::now() - ChronoDuration::days(30)] {
        madoguchi::db::quarantine::put(
            &mut conn,
            format!("From: {FATHER}\r\n\r\nbroken").as_bytes(),
            "test",
            "unparseable",
            at,
        )
        .unwrap();
    }
    drop(conn);
    app.time.set(Utc::now());
    Scene {
        answered,
        by_mail,
        urgent,
        held,
        open,
        recent,
        long_ago,
    }
}
