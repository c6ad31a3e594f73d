//! Public intake: the JSON API and the HTML form, on both backends.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use madoguchi::db::schema::{consulters, messages, outbound_mail, reply_clocks, tickets};
use serde_json::json;

use madoguchi::domain::clock::SlaMode;
use madoguchi::timesource::TimeSource;

use crate::both_backends;
use crate::support::{Backend, consultation, eventually, spawn_app, spawn_app_with};

both_backends!(
    health_answers_when_the_database_does,
    a_consultation_is_stored_with_its_reply_clock,
    the_form_takes_a_consultation_and_shows_the_receipt,
    the_form_shows_errors_beside_the_fields_and_keeps_the_text,
    invalid_json_consultations_get_422_with_fields,
    the_intake_limit_counts_form_and_api_together,
    a_consulter_writing_twice_is_one_consulter,
    business_mode_counts_japanese_business_days,
    an_acknowledgement_that_cannot_be_made_loses_no_consultation,
);

fn health_answers_when_the_database_does(backend: Backend) {
    let app = spawn_app(backend);
    let r = app.get("/healthz");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["status"], "ok");
}

fn a_consultation_is_stored_with_its_reply_clock(backend: Backend) {
    let app = spawn_app(backend);
    let now = app.time.now();
    let r = app.post_json("/api/v1/consultations", &consultation("hanako@example.jp"));
    assert_eq!(r.status, 201, "{}", r.body);
    let body = r.json();
    let reference = body["reference"].as_str().unwrap();
    assert!(
        reference.len() >= 6
            && reference.len() <= 20
            && reference
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-'),
        "{reference}"
    );
    let due = DateTime::parse_from_rfc3339(body["reply_due_at"].as_str().unwrap()).unwrap();
    assert_eq!(
        due.offset().local_minus_utc(),
        9 * 3600,
        "times in the centre's zone"
    );
    assert_eq!(due.with_timezone(&Utc), now + Duration::days(10));

    let mut conn = app.conn();
    let (id, status, channel, urgent, ticket_due): (
        i64,
        String,
        String,
        bool,
        Option<chrono::NaiveDateTime>,
    ) = tickets::table
        .filter(tickets::reference.eq(reference))
        .select((
            tickets::id,
            tickets::status,
            tickets::channel,
            tickets::urgent,
            tickets::reply_due_at,
        ))
        .first(&mut *conn)
        .unwrap();
    assert_eq!(
        (status.as_str(), channel.as_str(), urgent),
        ("new", "web_form", false)
    );
    assert_eq!(ticket_due.unwrap().and_utc(), now + Duration::days(10));
    let clocks: Vec<(
        chrono::NaiveDateTime,
        chrono::NaiveDateTime,
        Option<chrono::NaiveDateTime>,
    )> = reply_clocks::table
        .filter(reply_clocks::ticket_id.eq(id))
        .select((
            reply_clocks::started_at,
            reply_clocks::due_at,
            reply_clocks::stopped_at,
        ))
        .load(&mut *conn)
        .unwrap();
    assert_eq!(
        clocks,
        vec![(
            now.naive_utc(),
            (now + Duration::days(10)).naive_utc(),
            None
        )]
    );
    let thread: Vec<(String, String)> = messages::table
        .filter(messages::ticket_id.eq(id))
        .order(messages::id)
        .select((messages::kind, messages::body_text))
        .load(&mut *conn)
        .unwrap();
    assert_eq!(
        thread.len(),
        2,
        "the consulter's message and the acknowledgement"
    );
    assert_eq!(thread[0].0, "inbound");
    assert!(thread[0].1.contains("部屋から出てきません"));
    assert_eq!(thread[1].0, "outbound");
    let queued: Vec<(String, String)> = outbound_mail::table
        .filter(outbound_mail::ticket_id.eq(id))
        .select((outbound_mail::kind, outbound_mail::to_address))
        .load(&mut *conn)
        .unwrap();
    assert_eq!(
        queued,
        vec![("acknowledgement".into(), "hanako@example.jp".into())]
    );
}

fn the_form_takes_a_consultation_and_shows_the_receipt(backend: Backend) {
    let app = spawn_app(backend);
    let page = app.get("/consult");
    assert_eq!(page.status, 200);
    assert!(page.content_type.starts_with("text/html"));
    for needle in [
        "<label for=\"email\">",
        "<label for=\"subject\">",
        "<label for=\"body\">",
        "10日程度",
        "011-863-8733",
        "method=\"post\"",
    ] {
        assert!(page.body.contains(needle), "form lacks {needle}");
    }
    assert!(
        !page.body.contains("<script"),
        "the form works without JavaScript"
    );

    let r = app.post_consult(&[
        ("email", "taro@example.jp"),
        ("relationship", "self"),
        ("subject", "はじめまして"),
        ("body", "外に出るのがこわいです。"),
        ("consent", "true"),
    ]);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("ご相談を受け付けました"));
    let mut conn = app.conn();
    let (reference, due): (String, Option<chrono::NaiveDateTime>) = tickets::table
        .select((tickets::reference, tickets::reply_due_at))
        .first(&mut *conn)
        .unwrap();
    assert!(
        r.body.contains(&reference),
        "the receipt shows the reference"
    );
    let due_local = due
        .unwrap()
        .and_utc()
        .with_timezone(&chrono_tz::Asia::Tokyo);
    let expected = madoguchi::domain::jpdate::date_ja(&due_local);
    assert!(r.body.contains(&expected), "receipt shows {expected}");
}

fn the_form_shows_errors_beside_the_fields_and_keeps_the_text(backend: Backend) {
    let app = spawn_app(backend);
    let r = app.post_consult(&[
        ("email", "not-an-address"),
        ("name", "<b>花子</b>"),
        ("subject", ""),
        ("body", "書きかけの相談 & <script>alert(1)</script>"),
    ]);
    assert_eq!(r.status, 422);
    assert!(r.body.contains("メールアドレスの形式をご確認ください"));
    assert!(r.body.contains("id=\"subject-error\""));
    assert!(r.body.contains("id=\"consent-error\""));
    assert!(r.body.contains("aria-invalid=\"true\""));
    assert!(
        r.body.contains("value=\"not-an-address\""),
        "typed values are kept"
    );
    assert!(
        r.body.contains("書きかけの相談 &amp; &lt;script&gt;"),
        "and escaped"
    );
    assert!(!r.body.contains("<script>alert"));
    assert!(!r.body.contains("<b>花子"));
    let mut conn = app.conn();
    let count: i64 = tickets::table.count().get_result(&mut *conn).unwrap();
    assert_eq!(count, 0);
}

fn invalid_json_consultations_get_422_with_fields(backend: Backend) {
    let app = spawn_app(backend);
    let r = app.post_json(
        "/api/v1/consultations",
        &json!({"email": "x", "relationship": "friend", "subject": "s", "body": "", "consent": false}),
    );
    assert_eq!(r.status, 422);
    let e = r.json();
    assert_eq!(e["error"]["code"], "validation_failed");
    assert_eq!(
        e["error"]["fields"],
        json!({"email": "invalid", "relationship": "invalid", "body": "required", "consent": "must_be_true"})
    );
    let r = app.post_raw("/api/v1/consultations", "application/json", "{not json");
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["code"], "invalid_json");
    let nul = app.post_json("/api/v1/consultations", &{
        let mut c = consultation("a@example.jp");
        c["body"] = json!("\u{0}\u{0}");
        c
    });
    assert_eq!(nul.status, 422, "text of control characters only is empty");
    let unknown = app.get("/api/v1/nothing-here");
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.json()["error"]["code"], "not_found");
}

fn the_intake_limit_counts_form_and_api_together(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.intake.rate_limit_per_hour = 2);
    assert_eq!(
        app.post_json("/api/v1/consultations", &consultation("a@example.jp"))
            .status,
        201
    );
    let form = [
        ("email", "b@example.jp"),
        ("relationship", "other"),
        ("subject", "件名"),
        ("body", "本文"),
        ("consent", "on"),
    ];
    assert_eq!(app.post_consult(&form).status, 200);
    let api = app.post_json("/api/v1/consultations", &consultation("c@example.jp"));
    assert_eq!(api.status, 429);
    assert_eq!(api.json()["error"]["code"], "rate_limited");
    let page = app.post_consult(&form);
    assert_eq!(page.status, 429);
    assert!(
        page.body.contains("011-863-8733"),
        "the page gives the phone line"
    );
    app.time.advance(Duration::minutes(61));
    assert_eq!(
        app.post_json("/api/v1/consultations", &consultation("c@example.jp"))
            .status,
        201
    );
}

fn a_consulter_writing_twice_is_one_consulter(backend: Backend) {
    let app = spawn_app(backend);
    for _ in 0..2 {
        assert_eq!(
            app.post_json("/api/v1/consultations", &consultation("Same@Example.JP"))
                .status,
            201
        );
    }
    let mut conn = app.conn();
    let emails: Vec<String> = consulters::table
        .select(consulters::email)
        .load(&mut *conn)
        .unwrap();
    assert_eq!(emails, vec!["Same@example.jp".to_string()]);
    let references: Vec<String> = tickets::table
        .select(tickets::reference)
        .load(&mut *conn)
        .unwrap();
    assert_eq!(references.len(), 2);
    assert_ne!(references[0], references[1]);
}

fn business_mode_counts_japanese_business_days(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.sla.mode = SlaMode::Business);
    // Fri 2026-12-25 15:00 JST, the contract's example.
    let start: DateTime<Utc> = "2026-12-25T06:00:00Z".parse().unwrap();
    app.time.set(start);
    let r = app.post_json("/api/v1/consultations", &consultation("a@example.jp"));
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["reply_due_at"], "2027-01-15T15:00:00+09:00");
}

/// A mail the acknowledgement template cannot make (here: it includes a file that is not
/// there) must not cost the consultation: it is stored, the thread shows the acknowledgement
/// as a failed delivery with the reason, and mail intake opens the ticket instead of
/// quarantining the mail.
fn an_acknowledgement_that_cannot_be_made_loses_no_consultation(backend: Backend) {
    let dir = std::env::temp_dir().join(format!(
        "madoguchi_tpl_{}",
        madoguchi::random::hex_string::<8>()
    ));
    std::fs::create_dir_all(dir.join("acknowledgement")).unwrap();
    std::fs::write(
        dir.join("acknowledgement/body.txt"),
        "{% include \"acknowledgement/missing.txt\" %}",
    )
    .unwrap();
    let templates = dir.display().to_string();
    let app = spawn_app_with(backend, move |s| s.templates.dir = templates);
    let staff = app.staff("c@center.example", "counsellor");

    let r = app.post_json("/api/v1/consultations", &consultation("hanako@example.jp"));
    assert_eq!(r.status, 201, "{}", r.body);
    let reference = r.json()["reference"].as_str().unwrap().to_string();
    let form = app.post_consult(&[
        ("email", "taro@example.jp"),
        ("relationship", "self"),
        ("subject", "相談です"),
        ("body", "外に出られません。"),
        ("consent", "on"),
    ]);
    assert_eq!(form.status, 200, "{}", form.body);

    let mut conn = app.conn();
    let id = madoguchi::db::tickets::by_reference(&mut conn, &reference)
        .unwrap()
        .expect("the consultation is stored")
        .id;
    drop(conn);
    let detail = app
        .call(
            "GET",
            &format!("/api/v1/tickets/{id}"),
            Some(&staff.token),
            None,
        )
        .json();
    let thread = detail["messages"].as_array().unwrap();
    assert_eq!(thread.len(), 2, "{detail}");
    assert_eq!(thread[0]["kind"], "inbound");
    assert_eq!(thread[1]["kind"], "outbound");
    assert_eq!(thread[1]["delivery"]["status"], "failed");
    let why = thread[1]["delivery"]["last_error"].as_str().unwrap();
    assert!(why.contains("acknowledgement could not be made"), "{why}");
    assert!(
        why.contains("missing.txt"),
        "the reason names the template: {why}"
    );
    assert!(detail["reply_due_at"].is_string(), "the reply clock runs");

    let raw = b"From: Hanako <hanako2@example.jp>\r\nTo: soudan@example.org\r\n\
        Subject: soudan\r\nMessage-ID: <first@example.jp>\r\n\
        Date: Wed, 25 Nov 2026 10:00:00 +0900\r\n\r\nhello\r\n";
    let mut conn = app.conn();
    let outcome = madoguchi::intake::mail::take(&app.state, &mut conn, raw, "test").unwrap();
    assert!(
        matches!(
            outcome,
            madoguchi::intake::Outcome::Opened {
                acknowledged: false,
                ..
            }
        ),
        "{outcome:?}"
    );
    let rows: Vec<(String, String)> = outbound_mail::table
        .select((outbound_mail::kind, outbound_mail::status))
        .load(&mut *conn)
        .unwrap();
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(
        rows.iter()
            .all(|(kind, status)| kind == "acknowledgement" && status == "failed"),
        "{rows:?}"
    );
    // The delivery worker leaves failed mail alone: nothing is ever written out.
    app.wake_mail();
    assert!(
        eventually(std::time::Duration::from_millis(300), || {
            let sent: i64 = outbound_mail::table
                .filter(outbound_mail::status.ne("failed"))
                .count()
                .get_result(&mut *conn)
                .unwrap();
            (sent > 0).then_some(())
        })
        .is_none()
    );
    drop(conn);
    let _ = std::fs::remove_dir_all(&dir);
}
