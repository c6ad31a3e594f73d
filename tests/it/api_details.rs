//! The API's smaller promises (issue 10, points 6 and 9): finding a ticket by the reference a
//! person reads out on the phone, plain dates in reports, status words, `assign` to "me",
//! the collision guard, and one offset for every time.

use serde_json::Value;

use crate::both_backends;
use crate::support::{Backend, TestApp, spawn_app};

both_backends!(a_ticket_is_found_by_the_reference_read_out_on_the_phone,);

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
