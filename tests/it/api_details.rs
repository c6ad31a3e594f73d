//! The API's smaller promises (issue 10, points 6 and 9): finding a ticket by the reference a
//! person reads out on the phone, plain dates in reports, status words, `assign` to "me",
//! the collision guard, and one offset for every time.

use chrono::{Duration, Utc};
use madoguchi::db::messages::{self, NewMessage};
use madoguchi::domain::vocabulary::TicketId;
use madoguchi::timesource::TimeSource;
use serde_json::{Value, json};

use crate::both_backends;
use crate::support::{Backend, TestApp, spawn_app};

both_backends!(
    a_ticket_is_found_by_the_reference_read_out_on_the_phone,
    report_parameters_take_plain_dates_in_the_centres_zone,
    status_words_are_listed_in_the_422_and_in_the_openapi_document,
    a_counsellor_assigns_a_ticket_to_me,
    the_collision_guard_names_the_consulters_newest_message,
);

fn reference_of(app: &TestApp, token: &str, ticket: i64) -> String {
    let r = app.call(
        "GET",
        &format!("/api/v1/tickets/{ticket}"),
        Some(token),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["reference"].as_str().unwrap().to_string()
}

fn found(app: &TestApp, token: &str, typed: &str) -> Vec<i64> {
    let query: String = url_encode(typed);
    let r = app.call(
        "GET",
        &format!("/api/v1/tickets?reference={query}"),
        Some(token),
        None,
    );
    assert_eq!(r.status, 200, "{typed:?}: {}", r.body);
    let page: Value = r.json();
    assert!(page["next_cursor"].is_null(), "{page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect()
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn a_ticket_is_found_by_the_reference_read_out_on_the_phone(backend: Backend) {
    let app = spawn_app(backend);
    let staff = app.staff("kato@center.example", "counsellor");
    let first = app.new_ticket("hanako@example.jp");
    let second = app.new_ticket("taro@example.jp");
    let reference = reference_of(&app, &staff.token, second);
    let (left, right) = reference.split_at(4);
    let right = &right[1..];

    let full_width: String = reference
        .chars()
        .map(|c| {
            if c == '-' {
                '－'
            } else {
                char::from_u32(c as u32 + 0xFEE0).unwrap()
            }
        })
        .collect();
    for typed in [
        reference.clone(),
        reference.to_lowercase(),
        format!("{left}{right}"),
        format!("{} {}", left.to_lowercase(), right),
        full_width,
    ] {
        assert_eq!(found(&app, &staff.token, &typed), vec![second], "{typed:?}");
    }
    // The other filters do not hide it: the search answers the one ticket.
    let r = app.call(
        "GET",
        &format!("/api/v1/tickets?reference={left}{right}&status=closed&limit=1"),
        Some(&staff.token),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["items"][0]["reference"], reference.as_str());
    // … but a filter the queue would refuse is refused here too, as the document says.
    for bad in ["sla=late", "assignee=someone", "limit=0", "cursor=x"] {
        let r = app.call(
            "GET",
            &format!("/api/v1/tickets?reference={reference}&{bad}"),
            Some(&staff.token),
            None,
        );
        assert_eq!(r.status, 422, "{bad}: {}", r.body);
    }

    // A reference of nobody's, or text that cannot be one, finds nothing (and is no error).
    let first_reference = reference_of(&app, &staff.token, first);
    let unknown = if first_reference.starts_with("ZZZZ") || reference.starts_with("ZZZZ") {
        "YYYY-YYYY"
    } else {
        "ZZZZ-ZZZZ"
    };
    for typed in [unknown, "", "not a reference", "K0QM-4WXZ"] {
        assert_eq!(
            found(&app, &staff.token, typed),
            Vec::<i64>::new(),
            "{typed:?}"
        );
    }
    // Without a token the search is refused like the queue.
    let r = app.call(
        "GET",
        &format!("/api/v1/tickets?reference={reference}"),
        None,
        None,
    );
    assert_eq!(r.status, 401, "{}", r.body);
}

/// The date in Sapporo `days` from the test's now, as a person types it.
fn jst_date(app: &TestApp, days: i64) -> String {
    let tz: chrono_tz::Tz = "Asia/Tokyo".parse().unwrap();
    (app.time.now() + Duration::days(days))
        .with_timezone(&tz)
        .format("%Y-%m-%d")
        .to_string()
}

fn report_parameters_take_plain_dates_in_the_centres_zone(backend: Backend) {
    let app = spawn_app(backend);
    let boss = app.staff("boss@center.example", "supervisor");
    let ticket = app.new_ticket("hanako@example.jp");
    let get = |path: &str| app.call("GET", path, Some(&boss.token), None);

    // Due in ten days: not overdue at the start of tomorrow, overdue at the start of day 12.
    let tomorrow = jst_date(&app, 1);
    let r = get(&format!("/api/v1/reports/overdue?as_of={tomorrow}"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["as_of"], format!("{tomorrow}T00:00:00+09:00"));
    assert_eq!(r.json()["count"], 0);
    let later = jst_date(&app, 12);
    let r = get(&format!("/api/v1/reports/overdue?as_of={later}"));
    assert_eq!(r.status, 200, "{}", r.body);
    let report = r.json();
    assert_eq!(report["as_of"], format!("{later}T00:00:00+09:00"));
    assert_eq!(report["count"], 1, "{report}");
    assert_eq!(report["items"][0]["id"], ticket);

    // The due-by report and the SLA window read plain dates the same way.
    let r = get(&format!("/api/v1/reports/due?by={later}"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()[0]["id"], ticket, "{}", r.body);
    let (from, to) = (jst_date(&app, -1), jst_date(&app, 30));
    let r = get(&format!("/api/v1/reports/sla?from={from}&to={to}"));
    assert_eq!(r.status, 200, "{}", r.body);
    let sla = r.json();
    assert_eq!(sla["from"], format!("{from}T00:00:00+09:00"), "{sla}");
    assert_eq!(sla["to"], format!("{to}T00:00:00+09:00"), "{sla}");
    let still_open: i64 = sla["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["still_open"].as_i64().unwrap())
        .sum();
    assert_eq!(still_open, 1, "{sla}");

    // Not a date: a 422 naming the parameter.
    for bad in ["2026-13-01", "2026-1-5", "tomorrow"] {
        let r = get(&format!("/api/v1/reports/overdue?as_of={bad}"));
        assert_eq!(r.status, 422, "{bad}: {}", r.body);
        assert_eq!(r.json()["error"]["fields"]["as_of"], "invalid_time");
    }
}

fn status_words_are_listed_in_the_422_and_in_the_openapi_document(backend: Backend) {
    let app = spawn_app(backend);
    let c = app.staff("kato@center.example", "counsellor");
    let ticket = app.new_ticket("hanako@example.jp");
    let words = json!(["new", "open", "waiting", "closed"]);

    let r = app.call(
        "PATCH",
        &format!("/api/v1/tickets/{ticket}"),
        Some(&c.token),
        Some(&json!({"status": "resolved"})),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    let e = r.json();
    assert_eq!(e["error"]["fields"]["status"], "invalid", "{e}");
    assert_eq!(e["error"]["allowed"]["status"], words, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("new, open, waiting, closed"),
        "{e}"
    );
    let r = app.call(
        "GET",
        "/api/v1/tickets?status=pending",
        Some(&c.token),
        None,
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.json()["error"]["allowed"]["status"], words, "{}", r.body);
    let r = app.call("GET", "/api/v1/tickets?sla=late", Some(&c.token), None);
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(
        r.json()["error"]["allowed"]["sla"],
        json!(["none", "on_track", "due_soon", "overdue"])
    );

    let doc = app.get("/api/v1/openapi.json").json();
    let schemas = &doc["components"]["schemas"];
    assert_eq!(schemas["Status"]["enum"], words, "{}", schemas["Status"]);
    assert_eq!(schemas["Role"]["enum"], json!(["counsellor", "supervisor"]));
    assert_eq!(schemas["Channel"]["enum"], json!(["web_form", "email"]));
    assert_eq!(
        schemas["TicketSummary"]["properties"]["status"]["$ref"],
        "#/components/schemas/Status"
    );
    assert_eq!(
        schemas["TicketSummary"]["properties"]["sla_state"]["$ref"],
        "#/components/schemas/SlaState"
    );
    let params = doc["paths"]["/api/v1/tickets"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let status = params.iter().find(|p| p["name"] == "status").unwrap();
    let schema = status["schema"].to_string();
    assert!(schema.contains("#/components/schemas/Status"), "{schema}");
    let notes = &doc["paths"]["/api/v1/tickets/{id}/notes"]["post"]["responses"];
    for status in ["401", "408", "413", "422"] {
        assert!(
            notes[status].is_object(),
            "notes documents {status}: {notes}"
        );
    }
    let patch = &schemas["PatchRequest"]["properties"]["status"].to_string();
    assert!(patch.contains("#/components/schemas/Status"), "{patch}");
}

fn a_counsellor_assigns_a_ticket_to_me(backend: Backend) {
    let app = spawn_app(backend);
    let c = app.staff("kato@center.example", "counsellor");
    let ticket = app.new_ticket("hanako@example.jp");
    let assign = |body: Value| {
        app.call(
            "POST",
            &format!("/api/v1/tickets/{ticket}/assign"),
            Some(&c.token),
            Some(&body),
        )
    };
    let r = assign(json!({"assignee_id": "me"}));
    assert_eq!(r.status, 204, "{}", r.body);
    let t = app.call(
        "GET",
        &format!("/api/v1/tickets/{ticket}"),
        Some(&c.token),
        None,
    );
    assert_eq!(t.json()["assignee"]["id"], c.id, "{}", t.body);
    let mine = app.call("GET", "/api/v1/tickets?assignee=me", Some(&c.token), None);
    assert_eq!(mine.json()["items"][0]["id"], ticket);

    let r = assign(json!({"assignee_id": "you"}));
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.json()["error"]["fields"]["assignee_id"], "invalid");
    let r = assign(json!({"assignee_id": null}));
    assert_eq!(r.status, 204, "{}", r.body);
    let t = app.call(
        "GET",
        &format!("/api/v1/tickets/{ticket}"),
        Some(&c.token),
        None,
    );
    assert!(t.json()["assignee"].is_null(), "{}", t.body);
}

/// A message from the consulter's side as mail intake stores it; `automatic` for an
/// out-of-office answer.
fn inbound(app: &TestApp, ticket: i64, text: &str, automatic: bool) -> i64 {
    let mut conn = app.conn();
    let id = format!(
        "m-{}-{automatic}@consulter.example",
        Utc::now().timestamp_micros()
    );
    let mut m = NewMessage::inbound(TicketId(ticket), None, text, None, app.time.now());
    m.rfc_message_id = Some(&id);
    m.automatic = automatic;
    messages::add(&mut conn, &m).unwrap().0
}

fn the_collision_guard_names_the_consulters_newest_message(backend: Backend) {
    let app = spawn_app(backend);
    let c = app.staff("kato@center.example", "counsellor");
    let ticket = app.new_ticket("hanako@example.jp");
    let t = app.call(
        "GET",
        &format!("/api/v1/tickets/{ticket}"),
        Some(&c.token),
        None,
    );
    let seen = t.json()["messages"].as_array().unwrap().last().unwrap()["id"]
        .as_i64()
        .unwrap();
    app.time.advance(Duration::minutes(5));
    let wrote = inbound(&app, ticket, "やっぱり電話したいです", false);
    app.time.advance(Duration::minutes(1));
    let _away = inbound(&app, ticket, "不在です（自動応答）", true);
    let reply = |last_seen: i64| {
        app.call(
            "POST",
            &format!("/api/v1/tickets/{ticket}/replies"),
            Some(&c.token),
            Some(&json!({"body": "お返事です", "last_seen_message_id": last_seen})),
        )
    };
    let r = reply(seen);
    assert_eq!(r.status, 409, "{}", r.body);
    let e = r.json();
    assert_eq!(
        e["error"]["message_id"], wrote,
        "the consulter's message, not the auto-reply"
    );
    assert_eq!(e["error"]["body_text"], "やっぱり電話したいです");
    let at = e["error"]["created_at"].as_str().unwrap();
    assert!(
        at.ends_with("+09:00"),
        "in the centre's offset like every time: {at}"
    );

    // Having read the consulter's message, the counsellor may answer: the auto-reply after
    // it is no reason to hold the reply back.
    let r = reply(wrote);
    assert_eq!(r.status, 202, "{}", r.body);
}
