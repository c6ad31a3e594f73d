//! Reply review over the API (issue 13, points 1, 2 and 4; CONTRACT §8): a reviewed
//! counsellor's reply waits with nothing mailed and the clock running, a supervisor approves
//! it (edited) and the consulter gets exactly that, threaded; a returned reply carries its
//! comment to its author; the urgent-ticket policy; the reminder, once.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use madoguchi::config::MailTransport;
use madoguchi::db::schema::{audit_events, outbound_mail};
use madoguchi::desk::alerts;
use mail_parser::MessageParser;
use serde_json::{Value, json};

use crate::both_backends;
use crate::support::smtp_server::{ReceivedMail, TestSmtpServer};
use crate::support::{Backend, TestApp, consultation, spawn_app_with};

both_backends!(
    a_reviewed_reply_waits_unsent_and_goes_out_as_approved,
    a_returned_reply_comes_back_with_its_comment_and_goes_again,
    supervisors_replies_are_never_held_and_the_urgent_policy_holds_the_rest,
    a_waiting_reply_reminds_the_supervisors_once_and_counts_as_due_soon,
    in_business_mode_the_reminder_counts_opening_hours_and_a_held_reply_stays_held,
);

pub(crate) const URGENT_TEXT: &str = "もう消えてしまいたい。死にたいです。";

fn app(backend: Backend, smtp: Option<&TestSmtpServer>, urgent_tickets: bool) -> TestApp {
    let port = smtp.map(TestSmtpServer::port);
    spawn_app_with(backend, move |s| {
        s.intake.rate_limit_per_hour = 0;
        s.auth.session_idle_hours = 24 * 90;
        s.auth.session_max_hours = 24 * 90;
        s.alerts.digest_time = String::new();
        // The tests run alert rounds themselves, at the times they choose.
        s.alerts.enabled = false;
        s.review.urgent_tickets = urgent_tickets;
        if let Some(port) = port {
            s.smtp.transport = MailTransport::Smtp;
            s.smtp.port = port;
        }
    })
}

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .with_timezone(&Utc)
}

fn ticket_with(app: &TestApp, email: &str, body: &str) -> i64 {
    let mut c = consultation(email);
    c["body"] = json!(body);
    let r = app.post_json("/api/v1/consultations", &c);
    assert_eq!(r.status, 201, "{}", r.body);
    let reference = r.json()["reference"].as_str().unwrap().to_string();
    let mut conn = app.conn();
    madoguchi::db::tickets::by_reference(&mut conn, &reference)
        .unwrap()
        .unwrap()
        .id
        .0
}

fn review_on(app: &TestApp, supervisor: &str, staff: i64) {
    let r = app.call(
        "PATCH",
        &format!("/api/v1/staff/{staff}"),
        Some(supervisor),
        Some(&json!({"review_replies": true})),
    );
    assert_eq!(r.status, 204, "{}", r.body);
}

fn reply(app: &TestApp, token: &str, ticket: i64, body: &Value) -> Value {
    let r = app.call(
        "POST",
        &format!("/api/v1/tickets/{ticket}/replies"),
        Some(token),
        Some(body),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    r.json()
}

fn ticket(app: &TestApp, token: &str, id: i64) -> Value {
    let r = app.call("GET", &format!("/api/v1/tickets/{id}"), Some(token), None);
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

fn message(t: &Value, id: i64) -> Value {
    t["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("no message {id} in {t}"))
}

fn header(mail: &ReceivedMail, name: &str) -> Option<String> {
    let raw = String::from_utf8_lossy(&mail.data).into_owned();
    let head = raw.split("\r\n\r\n").next().unwrap_or_default().to_string();
    let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
    unfolded.split("\r\n").find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
    })
}

fn text(mail: &ReceivedMail) -> String {
    MessageParser::default()
        .parse(&mail.data)
        .unwrap()
        .body_text(0)
        .unwrap()
        .to_string()
}

/// The queued mails of one kind, each as (to, text).
fn queued(app: &TestApp, kind: &str) -> Vec<(String, String)> {
    let mut conn = app.conn();
    let rows: Vec<(String, Vec<u8>)> = outbound_mail::table
        .filter(outbound_mail::kind.eq(kind))
        .order(outbound_mail::id)
        .select((outbound_mail::to_address, outbound_mail::raw))
        .load(&mut *conn)
        .unwrap();
    rows.into_iter()
        .map(|(to, raw)| {
            let body = MessageParser::default()
                .parse(&raw)
                .unwrap()
                .body_text(0)
                .unwrap()
                .to_string();
            (to, body)
        })
        .collect()
}

fn audit_of(app: &TestApp, ticket: i64) -> Vec<(String, Option<String>)> {
    let mut conn = app.conn();
    audit_events::table
        .filter(audit_events::ticket_id.eq(ticket))
        .filter(audit_events::action.ne("ticket.read"))
        .order(audit_events::id)
        .select((audit_events::action, audit_events::detail))
        .load(&mut *conn)
        .unwrap()
}

fn a_reviewed_reply_waits_unsent_and_goes_out_as_approved(backend: Backend) {
    let smtp = TestSmtpServer::start();
    let app = app(backend, Some(&smtp), false);
    let s = app.staff("s@center.example", "supervisor");
    let c = app.staff("c@center.example", "counsellor");
    app.time.set(at("2026-12-01T10:00:00+09:00"));
    let id = ticket_with(&app, "hanako@example.jp", "息子が部屋から出てきません。");
    let ack = smtp.wait_for(1, Duration::from_secs(30)).remove(0);

    // Only a supervisor sets the flag, only for a counsellor, and the list shows it.
    let path = format!("/api/v1/staff/{}", c.id);
    let on = json!({"review_replies": true});
    assert_eq!(
        app.call("PATCH", &path, Some(&c.token), Some(&on)).status,
        403
    );
    let own = app.call(
        "PATCH",
        &format!("/api/v1/staff/{}", s.id),
        Some(&s.token),
        Some(&on),
    );
    assert_eq!(own.status, 422, "{}", own.body);
    assert_eq!(
        own.json()["error"]["fields"]["review_replies"],
        "supervisor_never_reviewed"
    );
    let none = app.call("PATCH", "/api/v1/staff/9999", Some(&s.token), Some(&on));
    assert_eq!(none.status, 404);
    review_on(&app, &s.token, c.id);
    let list = app
        .call("GET", "/api/v1/staff", Some(&s.token), None)
        .json();
    let flags: Vec<(i64, bool)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["id"].as_i64().unwrap(), m["review_replies"] == true))
        .collect();
    assert_eq!(flags, vec![(s.id, false), (c.id, true)]);

    // The counsellor replies and closes: held, nothing mailed, the clock running.
    app.time.set(at("2026-12-02T10:00:00+09:00"));
    let written = "ご相談ありがとうございます。一度お電話でお話ししませんか。";
    let held = reply(&app, &c.token, id, &json!({"body": written, "close": true}));
    assert_eq!(held["delivery"]["status"], "awaiting_review", "{held}");
    let held_id = held["message_id"].as_i64().unwrap();
    app.wake_mail();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        smtp.received().len(),
        1,
        "only the acknowledgement went out"
    );
    let t = ticket(&app, &c.token, id);
    assert_eq!(t["sla_state"], "on_track", "the clock keeps running");
    assert!(t["reply_due_at"].is_string());
    assert_eq!(t["status"], "new", "not answered yet");
    assert_eq!(t["awaiting_review"], true);
    let m = message(&t, held_id);
    assert_eq!(m["kind"], "outbound");
    assert_eq!(m["body_text"], written);
    assert_eq!(m["delivery"]["status"], "awaiting_review");
    assert_eq!(m["review"]["status"], "awaiting_review");
    let q = app
        .call("GET", "/api/v1/tickets", Some(&c.token), None)
        .json();
    assert_eq!(q["items"][0]["id"], id);
    assert_eq!(q["items"][0]["awaiting_review"], true, "the queue shows it");

    // Past the due time it is overdue and reported so: a held reply is no reply.
    app.time.set(at("2026-12-11T11:00:00+09:00"));
    let overdue = app
        .call("GET", "/api/v1/reports/overdue", Some(&s.token), None)
        .json();
    assert_eq!(overdue["count"], 1, "{overdue}");
    assert_eq!(overdue["items"][0]["id"], id);

    // Counsellors may not see or decide reviews.
    let approve = format!("/api/v1/reviews/{held_id}/approve");
    let give_back = format!("/api/v1/reviews/{held_id}/return");
    assert_eq!(
        app.call("GET", "/api/v1/reviews", Some(&c.token), None)
            .status,
        403
    );
    assert_eq!(
        app.call("POST", &approve, Some(&c.token), Some(&json!({})))
            .status,
        403
    );
    assert_eq!(
        app.call(
            "POST",
            &give_back,
            Some(&c.token),
            Some(&json!({"comment": "x"}))
        )
        .status,
        403
    );
    assert_eq!(app.call("GET", "/api/v1/reviews", None, None).status, 401);

    let waiting = app.call("GET", "/api/v1/reviews", Some(&s.token), None);
    assert_eq!(waiting.status, 200, "{}", waiting.body);
    let items = waiting.json()["items"].clone();
    assert_eq!(items.as_array().unwrap().len(), 1, "{items}");
    assert_eq!(items[0]["message_id"], held_id);
    assert_eq!(items[0]["ticket_id"], id);
    assert_eq!(items[0]["author"]["id"], c.id);
    assert_eq!(items[0]["body_text"], written);
    assert!(items[0]["reference"].is_string());
    assert!(
        items[0]["created_at"]
            .as_str()
            .unwrap()
            .starts_with("2026-12-02T10:00:00")
    );

    // The supervisor approves an edited text: it goes out exactly as a direct reply.
    let edited = "ご相談ありがとうございます。よろしければ、お電話でもお話を伺います。";
    let r = app.call(
        "POST",
        &approve,
        Some(&s.token),
        Some(&json!({"body": edited})),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.json()["delivery"]["status"], "queued");
    assert_eq!(r.json()["message_id"], held_id);
    let mails = smtp.wait_for(2, Duration::from_secs(30));
    assert_eq!(mails.len(), 2, "the approved reply arrived");
    let sent = &mails[1];
    assert_eq!(sent.to, vec!["hanako@example.jp".to_string()]);
    let body = text(sent);
    assert!(body.contains(edited), "{body}");
    assert!(!body.contains(written), "the written text is not what went");
    let ack_id = header(&ack, "Message-ID").unwrap();
    assert_eq!(header(sent, "In-Reply-To"), Some(ack_id.clone()));
    assert!(header(sent, "References").unwrap().contains(&ack_id));
    assert!(header(sent, "Subject").is_some());
    let t = ticket(&app, &c.token, id);
    assert_eq!(t["status"], "closed", "as its author chose (送信して終了)");
    assert_eq!(t["sla_state"], "none", "the clock stopped");
    assert_eq!(t["awaiting_review"], false);
    let m = message(&t, held_id);
    assert_eq!(m["kind"], "outbound");
    assert_eq!(m["body_text"], edited);
    assert_eq!(m["review"]["status"], "approved");
    assert_eq!(m["review"]["by"]["id"], s.id);
    assert_ne!(m["delivery"]["status"], "awaiting_review");
    let again = app.call("POST", &approve, Some(&s.token), Some(&json!({})));
    assert_eq!(again.status, 409);
    assert_eq!(again.json()["error"]["code"], "review_decided");
    assert_eq!(
        app.call("GET", "/api/v1/reviews", Some(&s.token), None)
            .json()["items"],
        json!([])
    );
    let overdue = app
        .call("GET", "/api/v1/reports/overdue", Some(&s.token), None)
        .json();
    assert_eq!(overdue["count"], 0);

    // Audited, with who and when, never the text.
    let trail = audit_of(&app, id);
    let actions: Vec<&str> = trail.iter().map(|(a, _)| a.as_str()).collect();
    assert!(actions.contains(&"ticket.reply_held"), "{actions:?}");
    assert!(actions.contains(&"review.approve"), "{actions:?}");
    assert!(!actions.contains(&"ticket.reply"), "{actions:?}");
    let approved = trail.iter().find(|(a, _)| a == "review.approve").unwrap();
    assert_eq!(approved.1.as_deref(), Some("edited=true status=closed"));
    for (_, detail) in &trail {
        let d = detail.as_deref().unwrap_or("");
        assert!(!d.contains("ご相談") && !d.contains("電話"), "{d}");
    }
}

fn a_returned_reply_comes_back_with_its_comment_and_goes_again(backend: Backend) {
    let smtp = TestSmtpServer::start();
    let app = app(backend, Some(&smtp), false);
    let s = app.staff("s@center.example", "supervisor");
    let c = app.staff("c@center.example", "counsellor");
    let other = app.staff("c2@center.example", "counsellor");
    review_on(&app, &s.token, c.id);
    let id = ticket_with(&app, "hanako@example.jp", "息子が部屋から出てきません。");
    smtp.wait_for(1, Duration::from_secs(30));
    let held = reply(&app, &c.token, id, &json!({"body": "がんばってください。"}));
    let held_id = held["message_id"].as_i64().unwrap();
    let give_back = format!("/api/v1/reviews/{held_id}/return");
    let empty = app.call(
        "POST",
        &give_back,
        Some(&s.token),
        Some(&json!({"comment": " "})),
    );
    assert_eq!(empty.status, 422);
    assert_eq!(empty.json()["error"]["fields"]["comment"], "required");
    let comment = "「がんばって」は避けて、まず気持ちを受け止める一文を。";
    let r = app.call(
        "POST",
        &give_back,
        Some(&s.token),
        Some(&json!({"comment": comment})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["review"]["status"], "returned");
    let twice = app.call(
        "POST",
        &give_back,
        Some(&s.token),
        Some(&json!({"comment": comment})),
    );
    assert_eq!(twice.status, 409);

    let m = message(&ticket(&app, &c.token, id), held_id);
    assert_eq!(
        m["review"],
        json!({"status": "returned", "comment": comment, "by": {"id": s.id, "name": "テスト 職員"}})
    );
    assert_eq!(m["delivery"]["status"], "awaiting_review", "still not sent");
    let seen_by_other = message(&ticket(&app, &other.token, id), held_id);
    assert!(
        seen_by_other.get("review").is_none(),
        "the comment is for its author"
    );
    assert_eq!(
        app.call("GET", "/api/v1/reviews", Some(&s.token), None)
            .json()["items"],
        json!([]),
        "a returned reply waits on its author, not on the supervisors"
    );
    let t = ticket(&app, &c.token, id);
    assert_eq!(t["awaiting_review"], false);

    // The author edits it and sends it again: the same reply, back in review.
    let better = "お気持ちを聞かせてくださって、ありがとうございます。";
    let again = reply(&app, &c.token, id, &json!({"body": better}));
    assert_eq!(again["delivery"]["status"], "awaiting_review");
    assert_eq!(again["message_id"], held_id, "one held reply per author");
    let items = app
        .call("GET", "/api/v1/reviews", Some(&s.token), None)
        .json()["items"]
        .clone();
    assert_eq!(items.as_array().unwrap().len(), 1);
    assert_eq!(items[0]["body_text"], better);
    let m = message(&ticket(&app, &c.token, id), held_id);
    assert_eq!(m["review"]["status"], "awaiting_review");
    let r = app.call(
        "POST",
        &format!("/api/v1/reviews/{held_id}/approve"),
        Some(&s.token),
        Some(&json!({})),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    let mails = smtp.wait_for(2, Duration::from_secs(30));
    assert!(text(&mails[1]).contains(better));
    let t = ticket(&app, &c.token, id);
    assert_eq!(t["status"], "waiting");
    let trail = audit_of(&app, id);
    let approved = trail.iter().find(|(a, _)| a == "review.approve").unwrap();
    assert_eq!(approved.1.as_deref(), Some("edited=false status=waiting"));
    assert!(
        trail
            .iter()
            .any(|(a, d)| a == "review.return" && d.is_none())
    );
    assert_eq!(
        trail
            .iter()
            .filter(|(a, _)| a == "ticket.reply_held")
            .count(),
        2
    );
    assert_eq!(
        app.call("GET", "/api/v1/reviews/1/approve", Some(&s.token), None)
            .status,
        405
    );
    assert_eq!(
        app.call(
            "POST",
            "/api/v1/reviews/999999/approve",
            Some(&s.token),
            Some(&json!({}))
        )
        .status,
        404
    );
}

fn supervisors_replies_are_never_held_and_the_urgent_policy_holds_the_rest(backend: Backend) {
    let smtp = TestSmtpServer::start();
    let app = app(backend, Some(&smtp), true);
    let s = app.staff("s@center.example", "supervisor");
    let c = app.staff("c@center.example", "counsellor");
    let urgent = ticket_with(&app, "a@example.jp", URGENT_TEXT);
    let calm = ticket_with(&app, "b@example.jp", "相談の仕方を教えてください。");
    let urgent_too = ticket_with(&app, "d@example.jp", URGENT_TEXT);
    assert_eq!(ticket(&app, &s.token, urgent)["urgent"], true);

    let r = reply(
        &app,
        &s.token,
        urgent,
        &json!({"body": "すぐにお電話ください。"}),
    );
    assert_eq!(
        r["delivery"]["status"], "queued",
        "a supervisor's reply is never held"
    );
    let r = reply(
        &app,
        &c.token,
        calm,
        &json!({"body": "フォームからどうぞ。"}),
    );
    assert_eq!(
        r["delivery"]["status"], "queued",
        "not urgent, not reviewed"
    );
    assert!(queued(&app, "alert_review_urgent").is_empty());

    let r = reply(
        &app,
        &c.token,
        urgent_too,
        &json!({"body": "お話を聞かせてください。"}),
    );
    assert_eq!(r["delivery"]["status"], "awaiting_review", "urgent: held");
    let alerts = queued(&app, "alert_review_urgent");
    assert_eq!(alerts.len(), 1, "every supervisor, at once");
    assert_eq!(alerts[0].0, "s@center.example");
    let link = app
        .state
        .mailer
        .ticket_link(madoguchi::domain::vocabulary::TicketId(urgent_too));
    assert!(
        alerts[0].1.lines().any(|l| l.trim() == link),
        "the ticket's link on a line of its own: {}",
        alerts[0].1
    );
    assert!(!alerts[0].1.contains("お話を聞かせて"), "never the text");
    let items = app
        .call("GET", "/api/v1/reviews", Some(&s.token), None)
        .json()["items"]
        .clone();
    assert_eq!(items.as_array().unwrap().len(), 1);
    assert_eq!(items[0]["ticket_id"], urgent_too);
    // acknowledgements (3), two urgent alerts, two direct replies, the review alert.
    let mails = smtp.wait_for(8, Duration::from_secs(30));
    assert_eq!(mails.len(), 8);
    assert!(
        !mails.iter().any(|m| text(m).contains("お話を聞かせて")),
        "the held reply was not mailed"
    );
}

fn a_waiting_reply_reminds_the_supervisors_once_and_counts_as_due_soon(backend: Backend) {
    let app = app(backend, None, false);
    let s = app.staff("s@center.example", "supervisor");
    app.staff("s2@center.example", "supervisor");
    let c = app.staff("c@center.example", "counsellor");
    review_on(&app, &s.token, c.id);
    app.time.set(at("2026-12-01T10:00:00+09:00"));
    let id = ticket_with(&app, "a@example.jp", "相談です。");
    let r = app.call(
        "POST",
        &format!("/api/v1/tickets/{id}/assign"),
        Some(&c.token),
        Some(&json!({"assignee_id": "me"})),
    );
    assert_eq!(r.status, 204);
    app.time.set(at("2026-12-04T12:00:00+09:00"));
    let held = reply(&app, &c.token, id, &json!({"body": "お返事です。"}));
    assert_eq!(held["delivery"]["status"], "awaiting_review");
    let run = |t: &str| {
        app.time.set(at(t));
        let mut conn = app.conn();
        alerts::run_once(&app.state, &mut conn).unwrap()
    };
    assert_eq!(run("2026-12-04T15:59:00+09:00").review_reminders, 0);
    assert_eq!(run("2026-12-04T16:00:00+09:00").review_reminders, 1);
    assert_eq!(run("2026-12-04T17:00:00+09:00").review_reminders, 0, "once");
    let reminders = queued(&app, "alert_review_reminder");
    let to: Vec<&str> = reminders.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(to, vec!["s@center.example", "s2@center.example"]);
    let link = app
        .state
        .mailer
        .ticket_link(madoguchi::domain::vocabulary::TicketId(id));
    assert!(
        reminders[0].1.lines().any(|l| l.trim() == link),
        "{}",
        reminders[0].1
    );
    assert!(!reminders[0].1.contains("お返事です"), "never the text");

    // Three days before the due time it is due soon: a held reply is no answer. Its
    // assignee and the supervisors are told.
    let sent = run("2026-12-08T10:01:00+09:00");
    assert_eq!(sent.due_soon, 3, "{sent:?}");
    let soon = queued(&app, "alert_due_soon");
    let to: Vec<&str> = soon.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        to,
        vec!["c@center.example", "s@center.example", "s2@center.example"]
    );
    assert!(soon[0].1.contains("承認待ち"), "{}", soon[0].1);
    let t = ticket(&app, &c.token, id);
    assert_eq!(t["sla_state"], "due_soon");
    let due_soon = app
        .call("GET", "/api/v1/tickets?sla=due_soon", Some(&c.token), None)
        .json();
    assert_eq!(due_soon["items"][0]["id"], id);

    // Sent again after a return, it waits anew and reminds anew.
    let r = app.call(
        "POST",
        &format!("/api/v1/reviews/{}/return", held["message_id"]),
        Some(&s.token),
        Some(&json!({"comment": "もう少しやわらかく。"})),
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        run("2026-12-09T10:00:00+09:00").review_reminders,
        0,
        "returned: no reminder"
    );
    reply(
        &app,
        &c.token,
        id,
        &json!({"body": "お返事をありがとうございます。"}),
    );
    assert_eq!(run("2026-12-09T13:59:00+09:00").review_reminders, 0);
    assert_eq!(run("2026-12-09T14:00:00+09:00").review_reminders, 1);
}

fn in_business_mode_the_reminder_counts_opening_hours_and_a_held_reply_stays_held(
    backend: Backend,
) {
    let app = spawn_app_with(backend, |s| {
        s.intake.rate_limit_per_hour = 0;
        s.auth.session_idle_hours = 24 * 90;
        s.auth.session_max_hours = 24 * 90;
        s.alerts.digest_time = String::new();
        s.alerts.enabled = false;
        s.sla.mode = madoguchi::config::SlaMode::Business;
    });
    let s = app.staff("s@center.example", "supervisor");
    let c = app.staff("c@center.example", "counsellor");
    review_on(&app, &s.token, c.id);
    app.time.set(at("2026-12-04T14:00:00+09:00"));
    let id = ticket_with(&app, "a@example.jp", "相談です。");
    // Held on Friday at 15:00: two opening hours that day, two on Monday.
    app.time.set(at("2026-12-04T15:00:00+09:00"));
    let held = reply(&app, &c.token, id, &json!({"body": "お返事です。"}));
    assert_eq!(held["delivery"]["status"], "awaiting_review");
    let run = |t: &str| {
        app.time.set(at(t));
        let mut conn = app.conn();
        alerts::run_once(&app.state, &mut conn).unwrap()
    };
    assert_eq!(run("2026-12-04T19:00:00+09:00").review_reminders, 0);
    assert_eq!(
        run("2026-12-06T12:00:00+09:00").review_reminders,
        0,
        "Sunday"
    );
    assert_eq!(run("2026-12-07T10:59:00+09:00").review_reminders, 0);
    assert_eq!(run("2026-12-07T11:00:00+09:00").review_reminders, 1);

    // Turning review off does not let a reply already in review skip it.
    let r = app.call(
        "PATCH",
        &format!("/api/v1/staff/{}", c.id),
        Some(&s.token),
        Some(&json!({"review_replies": false})),
    );
    assert_eq!(r.status, 204);
    let again = reply(
        &app,
        &c.token,
        id,
        &json!({"body": "書き直したお返事です。"}),
    );
    assert_eq!(again["delivery"]["status"], "awaiting_review");
    assert_eq!(again["message_id"], held["message_id"]);
    let other = ticket_with(&app, "b@example.jp", "別の相談です。");
    let direct = reply(&app, &c.token, other, &json!({"body": "お返事です。"}));
    assert_eq!(direct["delivery"]["status"], "queued", "review is off now");
    let list = app
        .call("GET", "/api/v1/staff", Some(&s.token), None)
        .json();
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|m| m["review_replies"] == false)
    );
}
