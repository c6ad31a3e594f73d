//! The counsellors' API: who may do what, the queue, a ticket, replies, and the audit trail.

use std::time::Duration;

use chrono::Duration as ChronoDuration;
use diesel::prelude::*;
use madoguchi::config::MailTransport;
use madoguchi::db::messages::{self, NewMessage};
use madoguchi::db::schema::{audit_events, outbound_mail, reply_clocks};
use madoguchi::db::to_db;
use madoguchi::domain::vocabulary::TicketId;
use madoguchi::timesource::TimeSource;
use mail_parser::MessageParser;
use serde_json::{Value, json};

use crate::both_backends;
use crate::support::smtp_server::TestSmtpServer;
use crate::support::{Backend, STAFF_PASSWORD, TestApp, spawn_app, spawn_app_with};

both_backends!(
    every_endpoint_answers_each_kind_of_caller_rightly,
    sign_in_is_throttled_per_account_and_per_address,
    a_sign_in_expires_when_idle_and_dies_at_logout,
    the_queue_filters_sorts_and_pages,
    paging_stays_correct_while_tickets_change,
    a_ticket_shows_its_whole_thread,
    a_reply_goes_out_threaded_and_stops_the_clock,
    a_reply_after_a_newer_consulter_message_is_refused,
    notes_assignment_and_status_changes,
    every_read_and_change_is_audited_without_text,
    a_method_a_path_does_not_have_is_405_with_allow,
);

fn ids(reply: &Value) -> Vec<i64> {
    reply["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect()
}

fn outbox_count(app: &TestApp) -> i64 {
    let mut conn = app.conn();
    outbound_mail::table.count().get_result(&mut *conn).unwrap()
}

/// A consulter's follow-up, as mail intake will store it.
fn consulter_writes(app: &TestApp, ticket: i64, text: &str) -> i64 {
    let mut conn = app.conn();
    let rfc_message_id = format!(
        "follow-up-{ticket}-{}@consulter.example",
        app.time.now().timestamp_micros()
    );
    messages::add(
        &mut conn,
        &NewMessage {
            rfc_message_id: Some(&rfc_message_id),
            ..NewMessage::inbound(TicketId(ticket), None, text, None, app.time.now())
        },
    )
    .unwrap()
    .0
}

fn every_endpoint_answers_each_kind_of_caller_rightly(backend: Backend) {
    let app = spawn_app(backend);
    let ticket = app.new_ticket("a@example.jp");
    let stale = app.staff("old@center.example", "counsellor");
    // The stale sign-in goes unused past the idle time; the others sign in after it.
    app.time.advance(ChronoDuration::hours(13));
    let counsellor = app.staff("c@center.example", "counsellor");
    let supervisor = app.staff("s@center.example", "supervisor");
    let t = format!("/api/v1/tickets/{ticket}");
    let target = app.add_staff("target@center.example", "counsellor");
    let supervisors_only = [401, 401, 403, 200];
    let mut new_staff = 0;
    let mut staff_body = || {
        new_staff += 1;
        json!({"email": format!("n{new_staff}@center.example"), "name": "新人",
               "role": "counsellor", "password": STAFF_PASSWORD})
    };
    // (method, path, body, [none, expired, counsellor, supervisor])
    let cases: Vec<(&str, String, Option<Value>, [u16; 4])> = vec![
        ("GET", "/api/v1/tickets".into(), None, [401, 401, 200, 200]),
        ("GET", t.clone(), None, [401, 401, 200, 200]),
        (
            "POST",
            format!("{t}/assign"),
            Some(json!({"assignee_id": null})),
            [401, 401, 204, 204],
        ),
        (
            "POST",
            format!("{t}/notes"),
            Some(json!({"body": "メモ"})),
            [401, 401, 201, 201],
        ),
        (
            "PATCH",
            t.clone(),
            Some(json!({"urgent": false})),
            [401, 401, 204, 204],
        ),
        (
            "POST",
            format!("{t}/replies"),
            Some(json!({"body": "お返事です"})),
            [401, 401, 202, 202],
        ),
        ("GET", format!("{t}/audit"), None, [401, 401, 403, 200]),
        (
            "GET",
            format!("{t}/attachments/999999"),
            None,
            [401, 401, 404, 404],
        ),
        ("POST", "/api/v1/staff".into(), None, [401, 401, 403, 201]),
        (
            "POST",
            format!("{t}/triage"),
            Some(json!({"decision": "confirm", "reason": "確認しました"})),
            [401, 401, 204, 204],
        ),
        (
            "GET",
            "/api/v1/reports/urgent".into(),
            None,
            supervisors_only,
        ),
        (
            "GET",
            "/api/v1/reports/overdue".into(),
            None,
            supervisors_only,
        ),
        ("GET", "/api/v1/reports/due".into(), None, supervisors_only),
        ("GET", "/api/v1/reports/sla".into(), None, supervisors_only),
        (
            "GET",
            "/api/v1/reports/workload".into(),
            None,
            supervisors_only,
        ),
        ("GET", "/api/v1/staff".into(), None, supervisors_only),
        ("GET", "/api/v1/quarantine".into(), None, supervisors_only),
        (
            "POST",
            "/api/v1/quarantine/999999/retry".into(),
            None,
            [401, 401, 403, 404],
        ),
        (
            "POST",
            format!("/api/v1/staff/{target}/password"),
            Some(json!({"password": STAFF_PASSWORD})),
            [401, 401, 403, 204],
        ),
        (
            "POST",
            format!("/api/v1/staff/{target}/deactivate"),
            None,
            [401, 401, 403, 204],
        ),
        (
            "POST",
            format!("/api/v1/staff/{target}/reactivate"),
            None,
            [401, 401, 403, 204],
        ),
        (
            "POST",
            "/api/v1/auth/logout".into(),
            None,
            [401, 401, 204, 204],
        ),
    ];
    for (method, path, body, expected) in cases {
        let tokens = [
            None,
            Some(stale.token.as_str()),
            Some(counsellor.token.as_str()),
            Some(supervisor.token.as_str()),
        ];
        for (who, (token, want)) in tokens.iter().zip(expected).enumerate() {
            let body = if path.ends_with("/staff") {
                Some(staff_body())
            } else {
                body.clone()
            };
            let r = app.call(method, &path, *token, body.as_ref());
            assert_eq!(
                r.status,
                want,
                "{method} {path} as {} → {}",
                ["nobody", "expired", "counsellor", "supervisor"][who],
                r.body
            );
            if want == 401 {
                assert!(r.json()["error"]["code"].is_string());
            }
        }
    }
    let expired = app.call("GET", "/api/v1/tickets", Some(&stale.token), None);
    assert_eq!(expired.json()["error"]["code"], "token_expired");
    let garbage = app.call("GET", "/api/v1/tickets", Some("not-a-token"), None);
    assert_eq!(garbage.json()["error"]["code"], "invalid_token");
}

fn sign_in_is_throttled_per_account_and_per_address(backend: Backend) {
    let app = spawn_app(backend);
    app.add_staff("c@center.example", "counsellor");
    let wrong = app.login("c@center.example", "not the password");
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.json()["error"]["code"], "invalid_credentials");
    assert_eq!(
        app.login("nobody@center.example", STAFF_PASSWORD).status,
        401,
        "same answer for an unknown account"
    );
    for _ in 0..4 {
        assert_eq!(app.login("c@center.example", "still wrong").status, 401);
    }
    let throttled = app.login("c@center.example", STAFF_PASSWORD);
    assert_eq!(
        throttled.status, 429,
        "even the right password waits out the cooling-off"
    );
    assert_eq!(throttled.json()["error"]["code"], "too_many_attempts");
    app.time.advance(ChronoDuration::minutes(16));
    assert_eq!(app.login("c@center.example", STAFF_PASSWORD).status, 200);

    // One address trying many accounts is cooled off too (four times an account's allowance).
    for i in 0..20 {
        assert_eq!(
            app.login(&format!("guess{i}@center.example"), "x").status,
            401
        );
    }
    assert_eq!(app.login("c@center.example", STAFF_PASSWORD).status, 429);
}

fn a_sign_in_expires_when_idle_and_dies_at_logout(backend: Backend) {
    // A lifetime longer than the test, so only idleness ends it here (the lifetime has its
    // own test in hardening.rs).
    let app = spawn_app_with(backend, |s| s.auth.session_max_hours = 48);
    let c = app.staff("c@center.example", "counsellor");
    let login = app.login("c@center.example", STAFF_PASSWORD).json();
    assert_eq!(login["staff"]["role"], "counsellor");
    assert_eq!(login["staff"]["id"], c.id);
    assert!(login["expires_at"].as_str().unwrap().ends_with("+09:00"));
    assert_eq!(login["token"].as_str().unwrap().len(), 64);
    for _ in 0..3 {
        app.time.advance(ChronoDuration::hours(11));
        assert_eq!(
            app.call("GET", "/api/v1/tickets", Some(&c.token), None)
                .status,
            200,
            "use keeps it alive"
        );
    }
    app.time.advance(ChronoDuration::hours(12));
    assert_eq!(
        app.call("GET", "/api/v1/tickets", Some(&c.token), None)
            .status,
        401
    );

    let other = app.login("c@center.example", STAFF_PASSWORD).json()["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        app.call("POST", "/api/v1/auth/logout", Some(&other), None)
            .status,
        204
    );
    assert_eq!(
        app.call("GET", "/api/v1/tickets", Some(&other), None)
            .status,
        401
    );
}

fn the_queue_filters_sorts_and_pages(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.intake.rate_limit_per_hour = 0;
        // The test moves the clock by days; the sign-in should outlast it.
        s.auth.session_idle_hours = 24 * 30;
        s.auth.session_max_hours = 24 * 30;
    });
    let c = app.staff("c@center.example", "counsellor");
    let mut made = Vec::new();
    for i in 0..5 {
        made.push(app.new_ticket(&format!("p{i}@example.jp")));
        app.time.advance(ChronoDuration::days(1));
    }
    // Now day 5: ticket 0 is due on day 10, ticket 4 on day 14.
    let call = |q: &str| {
        let r = app.call("GET", &format!("/api/v1/tickets{q}"), Some(&c.token), None);
        assert_eq!(r.status, 200, "{q}: {}", r.body);
        r.json()
    };
    assert_eq!(ids(&call("")), made, "oldest due first");
    app.call(
        "PATCH",
        &format!("/api/v1/tickets/{}", made[3]),
        Some(&c.token),
        Some(&json!({"urgent": true})),
    );
    app.call(
        "PATCH",
        &format!("/api/v1/tickets/{}", made[1]),
        Some(&c.token),
        Some(&json!({"status": "closed"})),
    );
    app.call(
        "POST",
        &format!("/api/v1/tickets/{}/assign", made[2]),
        Some(&c.token),
        Some(&json!({"assignee_id": c.id})),
    );
    assert_eq!(
        ids(&call("")),
        vec![made[3], made[0], made[2], made[4], made[1]],
        "urgent first, no clock last"
    );
    assert_eq!(
        ids(&call("?status=open")),
        vec![made[3], made[0], made[2], made[4]]
    );
    assert_eq!(ids(&call("?status=closed")), vec![made[1]]);
    assert_eq!(ids(&call("?assignee=me")), vec![made[2]]);
    assert_eq!(ids(&call(&format!("?assignee={}", c.id))), vec![made[2]]);
    assert_eq!(
        ids(&call("?assignee=none&status=open")),
        vec![made[3], made[0], made[4]]
    );
    assert_eq!(ids(&call("?sla=none")), vec![made[1]]);
    // Day 9.5: tickets 0 and 2 (due days 10 and 12) have less than 3 days left.
    app.time.advance(ChronoDuration::hours(108));
    assert_eq!(ids(&call("?sla=due_soon")), vec![made[0], made[2]]);
    assert_eq!(ids(&call("?sla=on_track")), vec![made[3], made[4]]);
    app.time.advance(ChronoDuration::days(2));
    let overdue = call("?sla=overdue");
    assert_eq!(ids(&overdue), vec![made[0]]);
    assert_eq!(overdue["items"][0]["sla_state"], "overdue");
    assert_eq!(overdue["items"][0]["channel"], "web_form");
    assert_eq!(overdue["items"][0]["assignee"], Value::Null);
    let assigned = &call("?assignee=me")["items"][0];
    assert_eq!(assigned["assignee"]["id"], c.id);
    assert_eq!(assigned["assignee"]["name"], "テスト 職員");

    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = call(&format!("?limit=2&cursor={cursor}"));
        assert!(page["items"].as_array().unwrap().len() <= 2);
        seen.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_string(),
            None => break,
        }
    }
    assert_eq!(
        seen,
        ids(&call("")),
        "pages add up to the whole queue, in order"
    );
    assert_eq!(
        call("?limit=5000")["items"].as_array().unwrap().len(),
        5,
        "clamped, not refused"
    );
    for bad in [
        "?limit=0",
        "?cursor=nonsense",
        "?status=pending",
        "?sla=late",
        "?assignee=bob",
    ] {
        let r = app.call(
            "GET",
            &format!("/api/v1/tickets{bad}"),
            Some(&c.token),
            None,
        );
        assert_eq!(r.status, 422, "{bad}");
    }
}

fn paging_stays_correct_while_tickets_change(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.intake.rate_limit_per_hour = 0);
    let c = app.staff("c@center.example", "counsellor");
    let made: Vec<i64> = (0..6)
        .map(|i| {
            app.time.advance(ChronoDuration::minutes(1));
            app.new_ticket(&format!("p{i}@example.jp"))
        })
        .collect();
    let first = app
        .call("GET", "/api/v1/tickets?limit=3", Some(&c.token), None)
        .json();
    assert_eq!(ids(&first), made[..3]);
    // Between pages: a new ticket sorts last, one already seen is answered, one not yet seen
    // becomes urgent and so moves up past the cursor.
    app.time.advance(ChronoDuration::minutes(1));
    let newest = app.new_ticket("late@example.jp");
    app.call(
        "POST",
        &format!("/api/v1/tickets/{}/replies", made[0]),
        Some(&c.token),
        Some(&json!({"body": "はい"})),
    );
    app.call(
        "PATCH",
        &format!("/api/v1/tickets/{}", made[4]),
        Some(&c.token),
        Some(&json!({"urgent": true})),
    );
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = app
        .call(
            "GET",
            &format!("/api/v1/tickets?limit=10&cursor={cursor}"),
            Some(&c.token),
            None,
        )
        .json();
    assert_eq!(
        ids(&second),
        vec![made[3], made[5], newest, made[0]],
        "untouched tickets are neither repeated nor skipped; moved ones show where they now sort"
    );
}

fn a_ticket_shows_its_whole_thread(backend: Backend) {
    let app = spawn_app(backend);
    let c = app.staff("c@center.example", "counsellor");
    let ticket = app.new_ticket("hanako@example.jp");
    app.call(
        "POST",
        &format!("/api/v1/tickets/{ticket}/notes"),
        Some(&c.token),
        Some(&json!({"body": "まず電話を勧める"})),
    );
    let r = app.call(
        "GET",
        &format!("/api/v1/tickets/{ticket}"),
        Some(&c.token),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let t = r.json();
    assert_eq!(t["id"], ticket);
    assert_eq!(t["status"], "new");
    assert_eq!(t["sla_state"], "on_track");
    assert_eq!(
        t["consulter"],
        json!({"name": "山田 花子", "email": "hanako@example.jp", "relationship": "family",
               "age_group": "20代", "area": "白石区"})
    );
    let kinds: Vec<&str> = t["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["inbound", "outbound", "note"]);
    let ack = &t["messages"][1];
    assert_eq!(ack["automatic"], true);
    assert_eq!(
        ack["delivery"]["status"]
            .as_str()
            .map(|s| s == "queued" || s == "sent"),
        Some(true)
    );
    assert_eq!(t["messages"][0]["delivery"], Value::Null);
    assert_eq!(t["messages"][2]["author"]["id"], c.id);
    assert_eq!(t["messages"][2]["body_text"], "まず電話を勧める");
    assert_eq!(
        app.call("GET", "/api/v1/tickets/987654", Some(&c.token), None)
            .status,
        404
    );
    assert_eq!(
        app.call("GET", "/api/v1/tickets/abc", Some(&c.token), None)
            .status,
        404
    );
}

fn a_reply_goes_out_threaded_and_stops_the_clock(backend: Backend) {
    let smtp = TestSmtpServer::start();
    let app = spawn_app_with(backend, |s| {
        s.smtp.transport = MailTransport::Smtp;
        s.smtp.port = smtp.port();
    });
    let c = app.staff("c@center.example", "counsellor");
    let form = app.post_consult(&[
        ("email", "taro@example.jp"),
        ("name", "太郎"),
        ("relationship", "self"),
        ("subject", "外に出られません"),
        ("body", "どうしたらいいですか。"),
        ("consent", "true"),
    ]);
    assert_eq!(form.status, 200);
    let ack = smtp.wait_for(1, Duration::from_secs(20));
    let ack = MessageParser::default().parse(&ack[0].data).unwrap();
    let ack_id = ack.message_id().unwrap().to_string();
    let queue = app
        .call("GET", "/api/v1/tickets", Some(&c.token), None)
        .json();
    let ticket = &queue["items"][0];
    let (id, reference) = (
        ticket["id"].as_i64().unwrap(),
        ticket["reference"].as_str().unwrap().to_string(),
    );

    let r = app.call(
        "POST",
        &format!("/api/v1/tickets/{id}/replies"),
        Some(&c.token),
        Some(&json!({"body": "ご相談ありがとうございます。\nゆっくりで大丈夫です。"})),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    let accepted = r.json();
    assert_eq!(accepted["delivery"]["status"], "queued");
    let mails = smtp.wait_for(2, Duration::from_secs(20));
    assert_eq!(mails[1].to, vec!["taro@example.jp".to_string()]);
    let mail = MessageParser::default().parse(&mails[1].data).unwrap();
    assert_eq!(
        mail.subject(),
        Some(format!("Re: 外に出られません [#{reference}]").as_str())
    );
    assert_eq!(mail.in_reply_to().as_text(), Some(ack_id.as_str()));
    assert_eq!(mail.references().as_text(), Some(ack_id.as_str()));
    assert!(
        mail.header_raw("Auto-Submitted").is_none(),
        "a person's reply is not automatic"
    );
    let body = mail.body_text(0).unwrap();
    assert!(body.starts_with("太郎 様"), "{body}");
    assert!(body.contains("ゆっくりで大丈夫です。"));
    assert!(body.contains("相談員 テスト 職員"));
    assert!(body.contains("011-863-8733"));

    let t = app
        .call(
            "GET",
            &format!("/api/v1/tickets/{id}"),
            Some(&c.token),
            None,
        )
        .json();
    assert_eq!(t["status"], "waiting");
    assert_eq!(t["sla_state"], "none");
    assert_eq!(t["reply_due_at"], Value::Null);
    let sent = t["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == accepted["message_id"])
        .unwrap();
    assert_eq!(sent["author"]["id"], c.id);
    let mut conn = app.conn();
    let clocks: Vec<(Option<chrono::NaiveDateTime>, Option<i64>, Option<i64>)> =
        reply_clocks::table
            .select((
                reply_clocks::stopped_at,
                reply_clocks::stopped_by_staff_id,
                reply_clocks::stopped_by_message_id,
            ))
            .load(&mut *conn)
            .unwrap();
    assert_eq!(
        clocks,
        vec![(
            Some(to_db(app.time.now())),
            Some(c.id),
            accepted["message_id"].as_i64()
        )]
    );
    drop(conn);

    let closing = app.call(
        "POST",
        &format!("/api/v1/tickets/{id}/replies"),
        Some(&c.token),
        Some(&json!({"body": "またいつでもどうぞ。", "close": true})),
    );
    assert_eq!(closing.status, 202);
    let t = app
        .call(
            "GET",
            &format!("/api/v1/tickets/{id}"),
            Some(&c.token),
            None,
        )
        .json();
    assert_eq!(t["status"], "closed");
    let empty = app.call(
        "POST",
        &format!("/api/v1/tickets/{id}/replies"),
        Some(&c.token),
        Some(&json!({"body": "  "})),
    );
    assert_eq!(empty.status, 422);
    assert_eq!(empty.json()["error"]["fields"]["body"], "required");
}

fn a_reply_after_a_newer_consulter_message_is_refused(backend: Backend) {
    let app = spawn_app(backend);
    let c = app.staff("c@center.example", "counsellor");
    let ticket = app.new_ticket("a@example.jp");
    let t = app
        .call(
            "GET",
            &format!("/api/v1/tickets/{ticket}"),
            Some(&c.token),
            None,
        )
        .json();
    let seen = t["messages"].as_array().unwrap().last().unwrap()["id"]
        .as_i64()
        .unwrap();
    app.time.advance(ChronoDuration::minutes(5));
    let newer = consulter_writes(&app, ticket, "やっぱり電話したいです");
    let before = outbox_count(&app);
    let r = app.call(
        "POST",
        &format!("/api/v1/tickets/{ticket}/replies"),
        Some(&c.token),
        Some(&json!({"body": "お返事です", "last_seen_message_id": seen})),
    );
    assert_eq!(r.status, 409, "{}", r.body);
    let e = r.json();
    assert_eq!(e["error"]["code"], "newer_message");
    assert_eq!(e["error"]["message_id"], newer);
    assert_eq!(e["error"]["body_text"], "やっぱり電話したいです");
    assert_eq!(outbox_count(&app), before, "nothing was sent");
    let t = app
        .call(
            "GET",
            &format!("/api/v1/tickets/{ticket}"),
            Some(&c.token),
            None,
        )
        .json();
    assert_eq!(t["sla_state"], "on_track", "the clock still runs");
    let r = app.call(
        "POST",
        &format!("/api/v1/tickets/{ticket}/replies"),
        Some(&c.token),
        Some(&json!({"body": "お返事です", "last_seen_message_id": newer})),
    );
    assert_eq!(r.status, 202);
}

fn notes_assignment_and_status_changes(backend: Backend) {
    let app = spawn_app(backend);
    let c = app.staff("c@center.example", "counsellor");
    let other = app.staff("o@center.example", "counsellor");
    let s = app.staff("s@center.example", "supervisor");
    let ticket = app.new_ticket("a@example.jp");
    let t = format!("/api/v1/tickets/{ticket}");
    let before = outbox_count(&app);
    assert_eq!(
        app.call(
            "POST",
            &format!("{t}/notes"),
            Some(&c.token),
            Some(&json!({"body": "内部メモ"}))
        )
        .status,
        201
    );
    assert_eq!(outbox_count(&app), before, "a note is never mailed");
    let view = app.call("GET", &t, Some(&c.token), None).json();
    assert_eq!(
        view["sla_state"], "on_track",
        "a note does not stop the clock"
    );

    let assign = |token: &str, who: Value| {
        app.call(
            "POST",
            &format!("{t}/assign"),
            Some(token),
            Some(&json!({"assignee_id": who})),
        )
        .status
    };
    assert_eq!(
        assign(&c.token, json!(other.id)),
        403,
        "counsellors assign only themselves"
    );
    assert_eq!(assign(&c.token, json!(c.id)), 204);
    assert_eq!(assign(&c.token, Value::Null), 204);
    assert_eq!(
        assign(&s.token, json!(other.id)),
        204,
        "supervisors assign anyone"
    );
    assert_eq!(
        app.call("GET", &t, Some(&c.token), None).json()["assignee"]["id"],
        other.id
    );
    assert_eq!(assign(&s.token, json!(424242)), 422);

    let patch = |body: Value| app.call("PATCH", &t, Some(&c.token), Some(&body));
    assert_eq!(patch(json!({"status": "pending"})).status, 422);
    assert_eq!(patch(json!({"urgent": true})).status, 204);
    assert_eq!(
        app.call("GET", &t, Some(&c.token), None).json()["urgent"],
        true
    );
    assert_eq!(patch(json!({"status": "closed"})).status, 204);
    let closed = app.call("GET", &t, Some(&c.token), None).json();
    assert_eq!(
        (closed["status"].as_str(), closed["sla_state"].as_str()),
        (Some("closed"), Some("none")),
        "closing stops the clock"
    );
    assert_eq!(
        app.call(
            "PATCH",
            "/api/v1/tickets/999999",
            Some(&c.token),
            Some(&json!({"urgent": true}))
        )
        .status,
        404
    );
}

fn every_read_and_change_is_audited_without_text(backend: Backend) {
    let app = spawn_app(backend);
    let c = app.staff("c@center.example", "counsellor");
    let s = app.staff("s@center.example", "supervisor");
    let ticket = app.new_ticket("a@example.jp");
    let t = format!("/api/v1/tickets/{ticket}");
    app.call("GET", &t, Some(&c.token), None);
    app.call(
        "POST",
        &format!("{t}/assign"),
        Some(&c.token),
        Some(&json!({"assignee_id": c.id})),
    );
    app.call(
        "POST",
        &format!("{t}/notes"),
        Some(&c.token),
        Some(&json!({"body": "秘密のメモ"})),
    );
    app.call(
        "POST",
        &format!("{t}/replies"),
        Some(&c.token),
        Some(&json!({"body": "秘密のお返事"})),
    );
    app.call("PATCH", &t, Some(&c.token), Some(&json!({"urgent": true})));
    let trail = app.call("GET", &format!("{t}/audit"), Some(&s.token), None);
    assert_eq!(trail.status, 200);
    let trail = trail.json();
    let actions: Vec<(&str, i64)> = trail
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["staff"]["id"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        vec![
            ("ticket.read", c.id),
            ("ticket.assign", c.id),
            ("ticket.note", c.id),
            ("ticket.reply", c.id),
            ("ticket.update", c.id),
            ("ticket.audit_read", s.id)
        ]
    );
    assert!(
        trail
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["client_addr"] == "127.0.0.1")
    );
    assert!(trail[0]["at"].as_str().unwrap().ends_with("+09:00"));
    assert!(
        !trail.to_string().contains("秘密"),
        "no message text in the audit"
    );
    let mut conn = app.conn();
    let details: Vec<Option<String>> = audit_events::table
        .select(audit_events::detail)
        .load(&mut *conn)
        .unwrap();
    assert!(
        details
            .iter()
            .flatten()
            .all(|d| !d.contains("秘密") && !d.contains("a@example.jp"))
    );
}

#[test]
fn the_openapi_document_covers_every_route() {
    let app = spawn_app(Backend::Sqlite);
    let r = app.get("/api/v1/openapi.json");
    assert_eq!(r.status, 200);
    let doc = r.json();
    let mut documented: Vec<String> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| format!("{} {path}", method.to_uppercase()))
        })
        .collect();
    documented.sort();
    let mut expected: Vec<String> = [
        "GET /",
        "GET /static/{name}",
        "GET /healthz",
        "GET /consult",
        "POST /consult",
        "POST /api/v1/consultations",
        "POST /api/v1/auth/login",
        "POST /api/v1/auth/logout",
        "GET /api/v1/tickets",
        "GET /api/v1/tickets/{id}",
        "PATCH /api/v1/tickets/{id}",
        "POST /api/v1/tickets/{id}/assign",
        "POST /api/v1/tickets/{id}/replies",
        "POST /api/v1/tickets/{id}/notes",
        "GET /api/v1/tickets/{id}/audit",
        "GET /api/v1/tickets/{id}/attachments/{attachment_id}",
        "POST /api/v1/staff",
        "POST /api/v1/tickets/{id}/triage",
        "GET /api/v1/reports/urgent",
        "GET /api/v1/reports/overdue",
        "GET /api/v1/reports/due",
        "GET /api/v1/reports/sla",
        "GET /api/v1/reports/workload",
        "GET /api/v1/staff",
        "POST /api/v1/staff/{id}/deactivate",
        "POST /api/v1/staff/{id}/reactivate",
        "POST /api/v1/staff/{id}/password",
        "GET /api/v1/quarantine",
        "POST /api/v1/quarantine/{id}/retry",
        "GET /metrics",
        "GET /api/v1/text-modules",
        "POST /api/v1/text-modules",
        "PATCH /api/v1/text-modules/{id}",
        "DELETE /api/v1/text-modules/{id}",
        "GET /desk/text-modules",
        "POST /desk/text-modules",
        "GET /desk/text-modules/{id}",
        "POST /desk/text-modules/{id}",
        "GET /desk",
        "POST /desk/login",
        "POST /desk/logout",
        "GET /desk/tickets/{id}",
        "GET /desk/tickets/{id}/attachments/{attachment_id}",
        "POST /desk/tickets/{id}/reply",
        "POST /desk/tickets/{id}/draft",
        "POST /desk/tickets/{id}/note",
        "POST /desk/tickets/{id}/assign",
        "POST /desk/tickets/{id}/status",
        "POST /desk/tickets/{id}/triage",
        "GET /desk/overdue",
        "GET /desk/overdue.csv",
        "GET /desk/sla",
        "GET /desk/sla.csv",
        "GET /desk/urgent",
        "GET /desk/workload",
        "POST /desk/workload/reassign",
        "GET /desk/staff",
        "POST /desk/staff",
        "GET /desk/staff/{id}",
        "POST /desk/staff/{id}",
        "GET /desk/quarantine",
        "GET /desk/quarantine/{id}",
        "GET /desk/quarantine/{id}/raw",
        "POST /desk/quarantine/{id}/retry",
        // Reply review (issue 13).
        "PATCH /api/v1/staff/{id}",
        "GET /api/v1/reviews",
        "POST /api/v1/reviews/{message_id}/approve",
        "POST /api/v1/reviews/{message_id}/return",
        "GET /desk/reviews",
        "POST /desk/reviews/policy",
        "GET /desk/reviews/{message_id}",
        "POST /desk/reviews/{message_id}/approve",
        "POST /desk/reviews/{message_id}/return",
        "PUT /api/v1/tickets/{id}/case",
        "GET /api/v1/case-fields",
        "GET /api/v1/reports/statistics",
        "POST /desk/tickets/{id}/case",
        "GET /desk/statistics",
        "GET /desk/statistics/download",
        "GET /my",
        "POST /my/open",
        "POST /my/write",
        "POST /my/close",
        "POST /desk/tickets/{id}/my-access/end",
        "POST /api/v1/my/session",
        "DELETE /api/v1/my/session",
        "GET /api/v1/my/consultation",
        "POST /api/v1/my/messages",
        "DELETE /api/v1/tickets/{id}/my-access",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    expected.sort();
    assert_eq!(documented, expected);
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    // Each documented route is really served: unknown routes answer the JSON 404 of the
    // fallback, documented ones answer something else for an anonymous caller.
    for entry in &expected {
        let (method, path) = entry.split_once(' ').unwrap();
        let path = path
            .replace("{id}", "1")
            .replace("{attachment_id}", "1")
            .replace("{message_id}", "1")
            .replace("{name}", "madoguchi.css");
        let r = app.call(method, &path, None, Some(&json!({})));
        assert_ne!(r.status, 404, "{entry} is not served");
    }
}

fn a_method_a_path_does_not_have_is_405_with_allow(backend: Backend) {
    let app = spawn_app(backend);
    let delete = |path: &str| {
        app.http
            .delete(app.url(path))
            .call()
            .expect("the request reached the server")
    };
    let mut r = delete("/api/v1/tickets");
    assert_eq!(r.status().as_u16(), 405);
    assert_eq!(r.headers()["allow"], "GET");
    let body: Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "method_not_allowed");
    let r = delete("/api/v1/tickets/7");
    assert_eq!(r.status().as_u16(), 405);
    let mut allow: Vec<&str> = r.headers()["allow"].to_str().unwrap().split(", ").collect();
    allow.sort_unstable();
    assert_eq!(allow, ["GET", "PATCH"]);
    let r = app
        .http
        .put(app.url("/healthz"))
        .send_empty()
        .expect("the request reached the server");
    assert_eq!(r.status().as_u16(), 405);
    assert_eq!(r.headers()["allow"], "GET");
    // A path nobody serves stays 404.
    assert_eq!(delete("/api/v1/nothing-here").status().as_u16(), 404);
    assert_eq!(app.get("/api/v1/tickets/7/nothing").status, 404);
}

#[test]
fn the_openapi_document_types_the_queue_filters_and_lists_bad_bodies() {
    let app = spawn_app(Backend::Sqlite);
    let doc = app.get("/api/v1/openapi.json").json();
    let params = doc["paths"]["/api/v1/tickets"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let schema = |name: &str| {
        let p = params.iter().find(|p| p["name"] == name).unwrap();
        assert!(p["required"] != true, "{name} is optional");
        assert_eq!(p["in"], "query", "{name}");
        let s = &p["schema"];
        match s["$ref"].as_str() {
            Some(r) => doc["components"]["schemas"][r.rsplit('/').next().unwrap()].clone(),
            None => s.clone(),
        }
    };
    assert_eq!(
        schema("status")["enum"],
        json!(["new", "open", "waiting", "closed"])
    );
    assert_eq!(
        schema("sla")["enum"],
        json!(["none", "on_track", "due_soon", "overdue"])
    );
    assert_eq!(schema("limit")["minimum"], 1);
    assert_eq!(schema("assignee")["pattern"], "^(me|none|[0-9]{1,18})$");
    // A body that does not parse is 400, and every operation that takes a body says so.
    for (path, method) in [
        ("/api/v1/consultations", "post"),
        ("/api/v1/tickets/{id}", "patch"),
        ("/api/v1/auth/login", "post"),
        ("/consult", "post"),
    ] {
        assert!(
            doc["paths"][path][method]["responses"]["400"].is_object(),
            "{method} {path}"
        );
    }
    let overdue = &doc["paths"]["/api/v1/reports/overdue"]["get"]["responses"]["200"]["content"];
    assert!(overdue["text/csv"].is_object(), "{overdue}");
    assert!(doc["paths"]["/api/v1/quarantine"]["get"]["responses"]["422"].is_object());
    let r = app.post_raw("/api/v1/consultations", "application/json", "{not json");
    assert_eq!(r.status, 400);
    // A patch is an object: an array (which serde would read as a struct) is refused too.
    let s = app.staff("s@center.example", "supervisor");
    let ticket = app.new_ticket("a@example.jp");
    let r = app.call(
        "PATCH",
        &format!("/api/v1/tickets/{ticket}"),
        Some(&s.token),
        Some(&json!([null, null])),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    let r = app.call(
        "PATCH",
        &format!("/api/v1/tickets/{ticket}"),
        Some(&s.token),
        Some(&json!({"urgent": true})),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    // JSON Schema's integer takes `7.0`; so does the server.
    let r = app.call(
        "POST",
        &format!("/api/v1/tickets/{ticket}/assign"),
        Some(&s.token),
        Some(&json!({"assignee_id": s.id as f64})),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let detail = app
        .call(
            "GET",
            &format!("/api/v1/tickets/{ticket}"),
            Some(&s.token),
            None,
        )
        .json();
    assert_eq!(detail["assignee"]["id"], s.id);
}
