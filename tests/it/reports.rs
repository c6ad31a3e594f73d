//! Supervisors: reports, staff management, alerts before a reply is late, metrics.

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use diesel::prelude::*;
use madoguchi::db::schema::outbound_mail;
use madoguchi::desk::alerts::{self, Sent};
use madoguchi::timesource::TimeSource;
use mail_parser::MessageParser;
use serde_json::{Value, json};

use crate::both_backends;
use crate::support::{Backend, STAFF_PASSWORD, TestApp, spawn_app_with, spawn_on};

both_backends!(
    the_overdue_report_turns_at_the_due_time_and_exports_csv,
    the_sla_report_cuts_months_in_japan_and_groups_by_counsellor,
    deactivation_ends_sign_ins_and_shows_tickets_needing_reassignment,
    alerts_go_out_once_before_and_after_the_due_time,
    quarantine_is_listed_and_retried_over_the_api,
    metrics_count_tickets_outbox_intake_and_latency,
);

fn app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |s| {
        s.intake.rate_limit_per_hour = 0;
        s.auth.session_idle_hours = 24 * 90;
        s.auth.session_max_hours = 24 * 90;
        s.alerts.digest_time = "08:30".into();
        // The tests run alert rounds themselves, at the times they choose.
        s.alerts.enabled = false;
    })
}

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .with_timezone(&Utc)
}

fn get(app: &TestApp, token: &str, path: &str) -> Value {
    let r = app.call("GET", path, Some(token), None);
    assert_eq!(r.status, 200, "{path}: {}", r.body);
    r.json()
}

fn the_overdue_report_turns_at_the_due_time_and_exports_csv(backend: Backend) {
    let app = app(backend);
    let s = app.staff("s@center.example", "supervisor");
    let c = app.staff("c@center.example", "counsellor");
    app.time.set(at("2026-11-20T10:00:00+09:00"));
    let ticket = app.new_ticket("a@example.jp");
    app.call(
        "POST",
        &format!("/api/v1/tickets/{ticket}/assign"),
        Some(&c.token),
        Some(&json!({"assignee_id": c.id})),
    );
    app.time.advance(ChronoDuration::hours(1));
    app.new_ticket("b@example.jp");
    // Due 2026-11-30 10:00 JST.
    let before = get(
        &app,
        &s.token,
        "/api/v1/reports/overdue?as_of=2026-11-30T09:59:59%2B09:00",
    );
    assert_eq!(before["count"], 0);
    let after = get(
        &app,
        &s.token,
        "/api/v1/reports/overdue?as_of=2026-11-30T10:00:01+09:00",
    );
    assert_eq!(after["count"], 1, "a '+' sent unencoded is forgiven");
    let item = &after["items"][0];
    assert_eq!(item["id"], ticket);
    assert_eq!(item["reply_due_at"], "2026-11-30T10:00:00+09:00");
    assert_eq!(item["overdue_hours"], 0.0);
    assert_eq!(item["assignee"]["id"], c.id);
    let later = get(
        &app,
        &s.token,
        "/api/v1/reports/overdue?as_of=2026-12-01T12:00:00Z",
    );
    assert_eq!(later["count"], 2);
    assert_eq!(later["items"][0]["id"], ticket, "most overdue first");
    assert_eq!(later["items"][0]["overdue_hours"], 35.0);

    let csv = app.call(
        "GET",
        "/api/v1/reports/overdue?as_of=2026-12-01T12:00:00Z&format=csv",
        Some(&s.token),
        None,
    );
    assert_eq!(csv.status, 200);
    assert!(csv.content_type.starts_with("text/csv"));
    assert!(csv.body.starts_with('\u{feff}'), "a BOM for Excel");
    let lines: Vec<&str> = csv
        .body
        .trim_start_matches('\u{feff}')
        .split("\r\n")
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(
        lines[0], "相談ID,受付番号,件名,担当,返信待ちの開始,返信期限,超過時間,緊急,状態",
        "the JSON's columns in its order, with Japanese headings"
    );
    let cells: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(cells.len(), 9);
    assert_eq!(cells[0], ticket.to_string());
    assert_eq!(cells[1], later["items"][0]["reference"]);
    assert_eq!(cells[3], "テスト 職員");
    assert_eq!(cells[6], "35");
    assert_eq!(cells[4], "2026-11-20 10:00", "a time Excel reads as a date");
    assert_eq!(cells[5], "2026-11-30 10:00");
    assert_eq!(cells[7], "", "not urgent: an empty flag");
    assert_eq!(lines.len(), 3);

    let due = get(
        &app,
        &s.token,
        "/api/v1/reports/due?by=2026-11-30T10:30:00%2B09:00",
    );
    assert_eq!(due.as_array().unwrap().len(), 1);

    // Answered later: the report for a moment before the answer still lists it while it was
    // overdue then, and not before its due time (the clock stopped after `as_of`).
    app.time.set(at("2026-12-02T12:00:00Z"));
    let r = app.call(
        "POST",
        &format!("/api/v1/tickets/{ticket}/replies"),
        Some(&c.token),
        Some(&json!({"body": "お返事です"})),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    let now = get(&app, &s.token, "/api/v1/reports/overdue");
    assert_eq!(
        now["count"], 1,
        "answered: only the other one is overdue now"
    );
    assert_ne!(now["items"][0]["id"], ticket);
    let then = get(
        &app,
        &s.token,
        "/api/v1/reports/overdue?as_of=2026-12-01T12:00:00Z",
    );
    assert_eq!(then["count"], 2, "overdue at as_of, answered after it");
    assert_eq!(then["items"][0]["id"], ticket);
    assert_eq!(then["items"][0]["overdue_hours"], 35.0);
    let not_yet = get(
        &app,
        &s.token,
        "/api/v1/reports/overdue?as_of=2026-11-30T09:59:59%2B09:00",
    );
    assert_eq!(
        not_yet["count"], 0,
        "answered later, but not yet due at as_of"
    );
    assert_eq!(
        app.call("GET", "/api/v1/reports/overdue", Some(&c.token), None)
            .status,
        403
    );
    assert_eq!(
        app.call(
            "GET",
            "/api/v1/reports/overdue?as_of=yesterday",
            Some(&s.token),
            None
        )
        .status,
        422
    );
    assert_eq!(
        app.call(
            "GET",
            "/api/v1/reports/overdue?format=xml",
            Some(&s.token),
            None
        )
        .status,
        422
    );
}

fn the_sla_report_cuts_months_in_japan_and_groups_by_counsellor(backend: Backend) {
    let app = app(backend);
    let s = app.staff("s@center.example", "supervisor");
    let sato = app.staff("sato@center.example", "counsellor");
    // Three clocks: due Nov 30 23:00 JST (met), due Dec 1 00:30 JST (= Nov 30 UTC; breached),
    // due Dec 1 09:00 JST (still open when the report is read).
    let starts = [
        "2026-11-20T23:00:00+09:00",
        "2026-11-21T00:30:00+09:00",
        "2026-11-21T09:00:00+09:00",
    ];
    let mut tickets = Vec::new();
    for (i, start) in starts.iter().enumerate() {
        app.time.set(at(start));
        tickets.push(app.new_ticket(&format!("p{i}@example.jp")));
    }
    app.time.set(at("2026-11-25T11:00:00+09:00"));
    app.call(
        "POST",
        &format!("/api/v1/tickets/{}/replies", tickets[0]),
        Some(&sato.token),
        Some(&json!({"body": "お返事"})),
    );
    app.time.set(at("2026-12-01T08:00:00+09:00"));
    app.call(
        "POST",
        &format!("/api/v1/tickets/{}/replies", tickets[1]),
        Some(&sato.token),
        Some(&json!({"body": "遅れてすみません"})),
    );

    let window = "from=2026-11-01T00:00:00%2B09:00&to=2027-01-01T00:00:00%2B09:00";
    let by_month = get(
        &app,
        &s.token,
        &format!("/api/v1/reports/sla?{window}&group_by=month"),
    );
    assert_eq!(
        by_month["rows"],
        json!([
            {"key": "2026-11", "due": 1, "met": 1, "breached": 0, "still_open": 0, "compliance_pct": 100.0,
             "median_reply_hours": 108.0, "p90_reply_hours": 108.0},
            {"key": "2026-12", "due": 2, "met": 0, "breached": 1, "still_open": 1, "compliance_pct": 0.0,
             "median_reply_hours": 247.5, "p90_reply_hours": 247.5},
        ])
    );
    let by_counsellor = get(
        &app,
        &s.token,
        &format!("/api/v1/reports/sla?{window}&group_by=counsellor"),
    );
    let keys: Vec<(&str, u64)> = by_counsellor["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["key"].as_str().unwrap(), r["due"].as_u64().unwrap()))
        .collect();
    assert_eq!(keys, vec![("unassigned", 1), ("テスト 職員", 2)]);
    assert_eq!(
        app.call(
            "GET",
            "/api/v1/reports/sla?group_by=year",
            Some(&s.token),
            None
        )
        .status,
        422
    );
}

fn deactivation_ends_sign_ins_and_shows_tickets_needing_reassignment(backend: Backend) {
    let app = app(backend);
    let s = app.staff("s@center.example", "supervisor");
    let c = app.staff("c@center.example", "counsellor");
    let mine = app.new_ticket("a@example.jp");
    app.new_ticket("b@example.jp");
    app.call(
        "POST",
        &format!("/api/v1/tickets/{mine}/assign"),
        Some(&c.token),
        Some(&json!({"assignee_id": c.id})),
    );
    let w = get(&app, &s.token, "/api/v1/reports/workload");
    assert_eq!(w["counsellors"][0]["id"], c.id);
    assert_eq!(w["counsellors"][0]["open"], 1);
    assert_eq!(w["counsellors"][0]["by_sla_state"]["on_track"], 1);
    assert_eq!(w["unassigned_open"], 1);
    assert_eq!(w["needs_reassignment"], json!([]));

    assert_eq!(
        app.call(
            "POST",
            &format!("/api/v1/staff/{}/deactivate", s.id),
            Some(&s.token),
            None
        )
        .status,
        409,
        "not yourself"
    );
    assert_eq!(
        app.call(
            "POST",
            &format!("/api/v1/staff/{}/deactivate", c.id),
            Some(&c.token),
            None
        )
        .status,
        403
    );
    assert_eq!(
        app.call(
            "POST",
            &format!("/api/v1/staff/{}/deactivate", c.id),
            Some(&s.token),
            None
        )
        .status,
        204
    );
    assert_eq!(
        app.call("GET", "/api/v1/tickets", Some(&c.token), None)
            .status,
        401,
        "its token died"
    );
    assert_eq!(
        app.login("c@center.example", STAFF_PASSWORD).status,
        401,
        "it cannot sign in"
    );
    let w = get(&app, &s.token, "/api/v1/reports/workload");
    assert_eq!(w["needs_reassignment"], json!([mine]));
    assert_eq!(w["counsellors"][0]["active"], false);
    let list = get(&app, &s.token, "/api/v1/staff");
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == c.id && m["active"] == false)
    );

    assert_eq!(
        app.call(
            "POST",
            &format!("/api/v1/staff/{}/reactivate", c.id),
            Some(&s.token),
            None
        )
        .status,
        204
    );
    assert_eq!(app.login("c@center.example", STAFF_PASSWORD).status, 200);
    let reset = |pw: &str| {
        app.call(
            "POST",
            &format!("/api/v1/staff/{}/password", c.id),
            Some(&s.token),
            Some(&json!({"password": pw})),
        )
        .status
    };
    assert_eq!(reset("short"), 422);
    assert_eq!(reset("a brand new passphrase"), 204);
    assert_eq!(app.login("c@center.example", STAFF_PASSWORD).status, 401);
    assert_eq!(
        app.login("c@center.example", "a brand new passphrase")
            .status,
        200
    );
    assert_eq!(
        app.call(
            "POST",
            "/api/v1/staff/99999/deactivate",
            Some(&s.token),
            None
        )
        .status,
        404
    );

    let trail: Vec<String> = {
        let mut conn = app.conn();
        use madoguchi::db::schema::audit_events;
        audit_events::table
            .filter(audit_events::action.like("staff.%"))
            .order(audit_events::id)
            .select(audit_events::action)
            .load(&mut *conn)
            .unwrap()
    };
    assert_eq!(
        trail,
        vec![
            "staff.deactivate",
            "staff.reactivate",
            "staff.password_reset"
        ]
    );
}

fn alert_mails(app: &TestApp, kind: &str) -> Vec<(String, String)> {
    let mut conn = app.conn();
    let rows: Vec<(String, Vec<u8>)> = outbound_mail::table
        .filter(outbound_mail::kind.eq(kind))
        .order(outbound_mail::id)
        .select((outbound_mail::to_address, outbound_mail::raw))
        .load(&mut *conn)
        .unwrap();
    rows.into_iter()
        .map(|(to, raw)| {
            (
                to,
                MessageParser::default()
                    .parse(&raw)
                    .unwrap()
                    .body_text(0)
                    .unwrap()
                    .to_string(),
            )
        })
        .collect()
}

fn alerts_go_out_once_before_and_after_the_due_time(backend: Backend) {
    let app = app(backend);
    let s = app.staff("s@center.example", "supervisor");
    let c1 = app.staff("c1@center.example", "counsellor");
    app.staff("c2@center.example", "counsellor");
    app.time.set(at("2026-11-20T07:00:00+09:00"));
    let unassigned = app.new_ticket("a@example.jp");
    let assigned = app.new_ticket("b@example.jp");
    app.call(
        "POST",
        &format!("/api/v1/tickets/{assigned}/assign"),
        Some(&c1.token),
        Some(&json!({"assignee_id": c1.id})),
    );
    let run = |app: &TestApp| {
        let mut conn = app.conn();
        alerts::run_once(&app.state, &mut conn).unwrap()
    };
    assert_eq!(
        run(&app),
        Sent::default(),
        "nothing is due yet and the digest time has not come"
    );

    // Due 2026-11-30 07:00 JST; three days before it is due soon.
    app.time.set(at("2026-11-27T06:59:00+09:00"));
    assert_eq!(run(&app).due_soon, 0);
    app.time.set(at("2026-11-27T07:01:00+09:00"));
    assert_eq!(
        run(&app).due_soon,
        3,
        "every counsellor for the unassigned one, the assignee for the other"
    );
    assert_eq!(run(&app).due_soon, 0, "once");
    let other = spawn_on(app.db_arc(), {
        let mut settings = test_settings_for(&app);
        settings.alerts.digest_time = "08:30".into();
        settings
    });
    other.time.set(app.time.now());
    assert_eq!(run(&other), Sent::default(), "once across instances too");
    let soon = alert_mails(&app, "alert_due_soon");
    let to: Vec<&str> = soon.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        to,
        vec![
            "c1@center.example",
            "c2@center.example",
            "c1@center.example"
        ]
    );
    assert!(
        link_on_own_line(&soon[0].1, &app, unassigned),
        "the console's page, on a line of its own: {}",
        soon[0].1
    );
    assert!(
        !soon.iter().any(|(_, body)| body.contains("息子")),
        "never the consultation's text"
    );

    app.time.set(at("2026-11-27T08:31:00+09:00"));
    assert_eq!(run(&app).digests, 1);
    assert_eq!(
        run(&other).digests,
        0,
        "one digest a day, whichever instance"
    );
    let digest = &alert_mails(&app, "alert_digest")[0];
    assert_eq!(digest.0, "s@center.example");
    assert!(digest.1.contains("期限間近：2件"), "{}", digest.1);
    assert!(
        link_on_own_line(&digest.1, &app, unassigned),
        "{}",
        digest.1
    );

    app.time.set(at("2026-11-30T07:00:01+09:00"));
    app.call(
        "POST",
        &format!("/api/v1/tickets/{assigned}/replies"),
        Some(&c1.token),
        Some(&json!({"body": "お返事"})),
    );
    let sent = run(&app);
    assert_eq!(
        (sent.overdue, sent.digests),
        (1, 0),
        "only the unanswered one goes to the supervisor"
    );
    assert_eq!(run(&app).overdue, 0);
    let overdue = alert_mails(&app, "alert_overdue");
    assert_eq!(overdue[0].0, "s@center.example");
    assert!(link_on_own_line(&overdue[0].1, &app, unassigned));
    app.time.set(at("2026-12-01T09:00:00+09:00"));
    assert_eq!(run(&app).digests, 1, "the next day's digest");
    let _ = s;
}

/// Alert links open the console's ticket page (CONTRACT §7), alone on their line so that a
/// mail program makes the whole line a link.
fn link_on_own_line(body: &str, app: &TestApp, ticket: i64) -> bool {
    let link = format!(
        "{}/desk/tickets/{ticket}",
        app.state.settings.server.public_base_url
    );
    body.lines().any(|l| l.trim() == link)
}

fn test_settings_for(app: &TestApp) -> madoguchi::config::Settings {
    let mut s = app.state.settings.clone();
    s.server.bind = "127.0.0.1:0".into();
    s
}

fn quarantine_is_listed_and_retried_over_the_api(backend: Backend) {
    let app = app(backend);
    let s = app.staff("s@center.example", "supervisor");
    let c = app.staff("c@center.example", "counsellor");
    let mut conn = app.conn();
    let id = madoguchi::db::quarantine::put(
        &mut conn,
        b"not a mail at all",
        "ingest",
        "no header section",
        app.time.now(),
    )
    .unwrap();
    drop(conn);
    assert_eq!(
        app.call("GET", "/api/v1/quarantine", Some(&c.token), None)
            .status,
        403
    );
    let list = get(&app, &s.token, "/api/v1/quarantine");
    assert_eq!(list[0]["id"], id.0);
    assert_eq!(list[0]["reason"], "no header section");
    let r = app.call(
        "POST",
        &format!("/api/v1/quarantine/{id}/retry"),
        Some(&s.token),
        None,
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["outcome"], "quarantined");
    assert_eq!(
        app.call(
            "POST",
            "/api/v1/quarantine/424242/retry",
            Some(&s.token),
            None
        )
        .status,
        404
    );
}

fn metrics_count_tickets_outbox_intake_and_latency(backend: Backend) {
    let app = app(backend);
    let c = app.staff("c@center.example", "counsellor");
    app.new_ticket("private.person@example.jp");
    app.new_ticket("other.person@example.jp");
    app.call("GET", "/api/v1/tickets/1", Some(&c.token), None);
    let m = app.get("/metrics");
    assert_eq!(m.status, 200);
    assert!(m.content_type.starts_with("text/plain"));
    for line in [
        "madoguchi_tickets{status=\"new\"} 2",
        "madoguchi_open_tickets_by_sla_state{sla_state=\"on_track\"} 2",
        "madoguchi_intake_total{source=\"web_form\",outcome=\"opened\"} 2",
        "madoguchi_http_request_duration_seconds_count{method=\"POST\",route=\"/api/v1/consultations\",status=\"201\"} 2",
        "madoguchi_http_request_duration_seconds_count{method=\"GET\",route=\"/api/v1/tickets/{id}\",status=\"200\"} 1",
    ] {
        assert!(m.body.contains(line), "missing {line} in\n{}", m.body);
    }
    assert!(m.body.contains("madoguchi_outbox_mail{status="));
    assert!(!m.body.contains("person@example.jp"), "no personal data");
}
